//! Test results: list (filtered on the server with AQL), read with steps, attachments
//! and history, assign, mute, resolve, the bulk operations, AQL search, and triage.

use std::collections::{BTreeMap, HashSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::aql::{self, Entity, quote};
use super::render::{cut, time};
use super::{
    Access, Ctx, Done, Meta, PageInfo, Render, ToolDef, ToolError, Toolset, bulk_ids, paging,
    positive_id, required_text, tool,
};
use crate::allure::model::{
    AttachmentRow, Execution, ExecutionStep, HistoryEntry, Launch, TestResult, TestResultRow,
};
use crate::allure::{AllureError, Page};

pub const STATUSES: [&str; 5] = ["failed", "broken", "passed", "skipped", "unknown"];

/// Parses a status filter: one status, or a comma list (`failed,broken`).
pub fn parse_statuses(raw: &str) -> Result<Vec<String>, ToolError> {
    let mut out = Vec::new();
    for s in raw
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
    {
        if !STATUSES.contains(&s.as_str()) {
            return Err(ToolError::InvalidArgs(format!(
                "status '{s}' is not one of {}",
                STATUSES.join(", ")
            )));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    if out.is_empty() {
        return Err(ToolError::InvalidArgs("status is empty".into()));
    }
    Ok(out)
}

pub fn result_url(ctx: &Ctx, launch_id: Option<i64>, id: i64) -> String {
    match launch_id {
        Some(l) => ctx.link(&format!("/launch/{l}/tree/{id}")),
        None => ctx.link(&format!("/testresult/{id}")),
    }
}

/// Reads a launch, or says plainly that it does not exist.
pub async fn launch(ctx: &Ctx, id: i64) -> Result<Launch, ToolError> {
    positive_id("launch_id", id, "list_launches shows launch ids")?;
    ctx.client
        .get::<Launch>(&format!("/launch/{id}"), &[])
        .await
        .map_err(|e| ToolError::launch_not_found(e, id))
}

/// Every visible result of a launch (full DTOs, with messages), up to `max` of them.
pub async fn all_results(
    ctx: &Ctx,
    launch_id: i64,
    max: usize,
) -> Result<(Vec<TestResult>, bool), AllureError> {
    let mut out = Vec::new();
    let mut page = 0;
    loop {
        let p: Page<TestResult> = ctx
            .client
            .get(
                "/testresult",
                &[
                    ("launchId", launch_id.to_string()),
                    ("page", page.to_string()),
                    ("size", "100".into()),
                ],
            )
            .await?;
        let more = p.has_more();
        out.extend(p.content);
        if out.len() >= max {
            out.truncate(max);
            return Ok((out, true));
        }
        if !more {
            return Ok((out, false));
        }
        page += 1;
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListArgs {
    /// Launch id (list_launches shows ids).
    pub launch_id: i64,
    /// Only results with this status: failed, broken, passed, skipped or unknown; a comma list such as "failed,broken" is fine. Filtered on the server, across all pages.
    pub status: Option<String>,
    /// 0-based page number (default 0).
    pub page: Option<u32>,
    /// Results per page, 1-100 (default 25).
    pub size: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ResultLine {
    pub id: i64,
    pub name: String,
    pub status: Option<String>,
    pub assignee: Option<String>,
    pub duration_ms: Option<i64>,
    pub test_case_id: Option<i64>,
    /// First line of the failure message, when the list endpoint gives it.
    pub message: Option<String>,
    pub url: String,
}

impl ResultLine {
    fn from_row(ctx: &Ctx, launch_id: Option<i64>, r: TestResultRow) -> Self {
        ResultLine {
            url: result_url(ctx, launch_id, r.id),
            id: r.id,
            name: r.name,
            status: r.status,
            assignee: r.assignee,
            duration_ms: r.duration,
            test_case_id: r.test_case_id,
            message: None,
        }
    }
    fn from_full(ctx: &Ctx, r: TestResult) -> Self {
        ResultLine {
            url: result_url(ctx, r.launch_id, r.id),
            id: r.id,
            name: r.name,
            status: r.status,
            assignee: r.assignee,
            duration_ms: r.duration,
            test_case_id: r.test_case_id,
            message: r
                .message
                .as_deref()
                .and_then(|m| m.lines().next())
                .map(|m| cut(m, 200, "get_test_result has the whole message")),
        }
    }
    fn line(&self) -> String {
        let mut s = format!(
            "- #{} [{}] {}",
            self.id,
            self.status.as_deref().unwrap_or("?"),
            self.name
        );
        if let Some(a) = &self.assignee {
            s.push_str(&format!(" (assignee {a})"));
        }
        if let Some(m) = &self.message {
            s.push_str(&format!(" — {m}"));
        }
        s
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ResultList {
    pub launch_id: Option<i64>,
    /// The AQL the server ran, when filtered.
    pub aql: Option<String>,
    pub results: Vec<ResultLine>,
    pub page: PageInfo,
}

impl Render for ResultList {
    fn text(&self) -> String {
        let mut s = match (&self.aql, self.launch_id) {
            (Some(q), _) => format!("Test results for `{q}` ({}):\n", self.page.text()),
            (None, Some(l)) => format!("Test results of launch {l} ({}):\n", self.page.text()),
            (None, None) => format!("Test results ({}):\n", self.page.text()),
        };
        for r in &self.results {
            s.push_str(&r.line());
            s.push('\n');
        }
        s
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ResultIdArgs {
    /// Test result id (list_test_results shows ids).
    pub test_result_id: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetResultArgs {
    /// Test result id (list_test_results shows ids).
    pub test_result_id: i64,
    /// Return the whole message and trace (up to 20,000 characters) instead of the first 1,500.
    pub full: Option<bool>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ResultDetails {
    pub id: i64,
    pub name: String,
    pub full_name: Option<String>,
    pub status: Option<String>,
    pub message: Option<String>,
    /// The stack trace, cut unless full=true.
    pub trace: Option<String>,
    pub launch_id: Option<i64>,
    pub project_id: Option<i64>,
    pub test_case_id: Option<i64>,
    pub assignee: Option<String>,
    pub muted: bool,
    /// A known defect is linked to this failure.
    pub known: bool,
    pub flaky: bool,
    pub duration_ms: Option<i64>,
    pub started: Option<String>,
    pub tags: Vec<String>,
    pub url: String,
}

impl Render for ResultDetails {
    fn text(&self) -> String {
        let mut s = format!(
            "Test result #{} [{}] {}\n",
            self.id,
            self.status.as_deref().unwrap_or("?"),
            self.name
        );
        let flags: Vec<&str> = [
            (self.muted, "muted"),
            (self.known, "known defect"),
            (self.flaky, "flaky"),
        ]
        .iter()
        .filter(|(b, _)| *b)
        .map(|(_, n)| *n)
        .collect();
        if !flags.is_empty() {
            s.push_str(&format!("flags: {}\n", flags.join(", ")));
        }
        if let Some(a) = &self.assignee {
            s.push_str(&format!("assignee: {a}\n"));
        }
        if let Some(m) = &self.message {
            s.push_str(&format!("message: {m}\n"));
        }
        if let Some(t) = &self.trace {
            s.push_str(&format!("trace:\n{t}\n"));
        }
        s.push_str(&self.url);
        s
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StepLine {
    /// Nesting depth, 0 for top-level steps.
    pub depth: usize,
    pub name: String,
    pub status: Option<String>,
    pub duration_ms: Option<i64>,
    pub message: Option<String>,
    /// For attachment steps: the attachment id (read_attachment reads it).
    pub attachment_id: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Attachment {
    pub id: i64,
    pub name: Option<String>,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
}

impl From<AttachmentRow> for Attachment {
    fn from(a: AttachmentRow) -> Self {
        Attachment {
            id: a.id,
            name: a.name,
            content_type: a.content_type,
            size_bytes: a.content_length,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Steps {
    pub test_result_id: i64,
    pub steps: Vec<StepLine>,
    pub attachments: Vec<Attachment>,
}

impl Render for Steps {
    fn text(&self) -> String {
        let mut s = format!("Steps of test result #{}:\n", self.test_result_id);
        for st in &self.steps {
            s.push_str(&format!(
                "{}- [{}] {}",
                "  ".repeat(st.depth),
                st.status.as_deref().unwrap_or("?"),
                st.name
            ));
            if let Some(m) = &st.message {
                s.push_str(&format!(" — {m}"));
            }
            s.push('\n');
        }
        if !self.attachments.is_empty() {
            s.push_str("Attachments (read_attachment reads text ones):\n");
            for a in &self.attachments {
                s.push_str(&format!(
                    "- #{} {} ({}, {} bytes)\n",
                    a.id,
                    a.name.as_deref().unwrap_or(""),
                    a.content_type.as_deref().unwrap_or("?"),
                    a.size_bytes.unwrap_or(0)
                ));
            }
        }
        s
    }
}

fn flatten(steps: Vec<ExecutionStep>, depth: usize, out: &mut Vec<StepLine>) {
    for st in steps {
        if out.len() >= 200 {
            return;
        }
        let name = match (&st.body, &st.attachment) {
            (Some(b), _) => b.clone(),
            (None, Some(a)) => format!("attachment: {}", a.name.as_deref().unwrap_or("")),
            _ => st.kind.clone().unwrap_or_else(|| "step".into()),
        };
        out.push(StepLine {
            depth,
            name: cut(&name, 300, "the step text is long"),
            status: st.status,
            duration_ms: st.duration,
            message: st
                .message
                .as_deref()
                .map(|m| cut(m, 300, "get_test_result has the whole message")),
            attachment_id: st.attachment_id.or(st.attachment.as_ref().map(|a| a.id)),
        });
        flatten(st.steps, depth + 1, out);
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AttachmentArgs {
    /// Attachment id (get_test_result_steps lists them).
    pub attachment_id: i64,
    /// Most characters of a text attachment to return, 1-65536 (default 16384).
    pub max_chars: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AttachmentContent {
    pub id: i64,
    pub content_type: Option<String>,
    pub size_bytes: usize,
    /// The text, for text attachments (cut to max_chars).
    pub text: Option<String>,
    /// Why no text is given, for binary attachments.
    pub note: Option<String>,
}

impl Render for AttachmentContent {
    fn text(&self) -> String {
        match (&self.text, &self.note) {
            (Some(t), _) => format!(
                "Attachment #{} ({}, {} bytes):\n{t}",
                self.id,
                self.content_type.as_deref().unwrap_or("text"),
                self.size_bytes
            ),
            (None, Some(n)) => format!("Attachment #{}: {n}", self.id),
            _ => format!("Attachment #{} is empty", self.id),
        }
    }
}

fn is_text(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    ct.starts_with("text/")
        || ["json", "xml", "yaml", "csv", "javascript", "x-log"]
            .iter()
            .any(|t| ct.contains(t))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct HistoryArgs {
    /// Test result id; its earlier runs (same test, earlier launches) are returned.
    pub test_result_id: i64,
    /// How many earlier runs to read, 1-100 (default 20).
    pub size: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HistoryLine {
    pub test_result_id: i64,
    pub status: Option<String>,
    pub date: Option<String>,
    pub launch_id: Option<i64>,
    pub launch_name: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct History {
    pub test_result_id: i64,
    /// Newest first.
    pub runs: Vec<HistoryLine>,
    /// passed / (passed + failed + broken) over these runs, percent.
    pub pass_rate: Option<f64>,
    /// How often the outcome flipped between pass and fail in consecutive runs.
    pub flips: usize,
    /// stable_pass, stable_fail, flaky, or not_enough_data.
    pub verdict: String,
}

impl Render for History {
    fn text(&self) -> String {
        let mut s = format!(
            "History of test result #{}: {} earlier runs, verdict {}, {} flips, pass rate {}\n",
            self.test_result_id,
            self.runs.len(),
            self.verdict,
            self.flips,
            self.pass_rate
                .map(|p| format!("{p}%"))
                .unwrap_or_else(|| "n/a".into())
        );
        for r in &self.runs {
            s.push_str(&format!(
                "- {} [{}] launch {} {}\n",
                r.date.as_deref().unwrap_or(""),
                r.status.as_deref().unwrap_or("?"),
                r.launch_id.map(|l| l.to_string()).unwrap_or_default(),
                r.launch_name.as_deref().unwrap_or("")
            ));
        }
        s
    }
}

/// pass/fail outcome of a status, `None` for skipped/unknown.
fn outcome(status: Option<&str>) -> Option<bool> {
    match status {
        Some("passed") => Some(true),
        Some("failed") | Some("broken") => Some(false),
        _ => None,
    }
}

/// Flakiness from a newest-first list of statuses.
pub fn flakiness(statuses: &[Option<&str>]) -> (Option<f64>, usize, &'static str) {
    let outcomes: Vec<bool> = statuses.iter().filter_map(|s| outcome(*s)).collect();
    if outcomes.len() < 3 {
        return (None, 0, "not_enough_data");
    }
    let passed = outcomes.iter().filter(|o| **o).count();
    let rate = (passed as f64 * 1000.0 / outcomes.len() as f64).round() / 10.0;
    let flips = outcomes.windows(2).filter(|w| w[0] != w[1]).count();
    let verdict = if passed == outcomes.len() {
        "stable_pass"
    } else if passed == 0 {
        "stable_fail"
    } else if flips >= 2 {
        "flaky"
    } else {
        "changed"
    };
    (Some(rate), flips, verdict)
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AssignArgs {
    /// Test result id.
    pub test_result_id: i64,
    /// TestOps user name (login) to assign.
    pub username: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MuteArgs {
    /// Test result id.
    pub test_result_id: i64,
    /// Why it is muted (shown in TestOps).
    pub reason: String,
    /// Short name of the mute (default "Muted via MCP").
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BulkArgs {
    /// Launch the results belong to.
    pub launch_id: i64,
    /// Test result ids (1-100).
    pub test_result_ids: Vec<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BulkAssignArgs {
    /// Launch the results belong to.
    pub launch_id: i64,
    /// Test result ids (1-100).
    pub test_result_ids: Vec<i64>,
    /// User names to assign (TestOps takes the first as the assignee).
    pub assignees: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BulkMuteArgs {
    /// Launch the results belong to.
    pub launch_id: i64,
    /// Test result ids (1-100).
    pub test_result_ids: Vec<i64>,
    /// Why they are muted.
    pub reason: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BulkResolveArgs {
    /// Launch the results belong to.
    pub launch_id: i64,
    /// Test result ids (1-100).
    pub test_result_ids: Vec<i64>,
    /// The status to set: passed (default), failed, broken, skipped or unknown.
    pub status: Option<String>,
    /// A note stored as the results' message.
    pub message: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// AQL over test results, e.g. `status in ["failed","broken"] and launch = 123`. Guide: resource allure://aql-guide.
    pub aql: String,
    /// 0-based page number (default 0).
    pub page: Option<u32>,
    /// Results per page, 1-100 (default 25).
    pub size: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TriageArgs {
    /// Launch to triage.
    pub launch_id: i64,
    /// Most groups to return, 1-50 (default 10); the biggest come first.
    pub max_groups: Option<u32>,
    /// Example results per group, 1-10 (default 3).
    pub examples: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Example {
    pub id: i64,
    pub name: String,
    pub status: Option<String>,
    pub url: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FailureGroup {
    /// The normalised message the group shares (numbers and ids replaced).
    pub signature: String,
    /// One real message of the group.
    pub sample_message: String,
    pub count: usize,
    pub failed: usize,
    pub broken: usize,
    pub muted: usize,
    /// Results already linked to a known defect.
    pub known: usize,
    /// True when the previous launch of the same job or name had no failure like this.
    pub new: Option<bool>,
    pub examples: Vec<Example>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Triage {
    pub launch_id: i64,
    pub launch_name: String,
    pub failures: usize,
    pub groups_total: usize,
    pub groups: Vec<FailureGroup>,
    /// The launch compared against for `new`.
    pub previous_launch: Option<Example>,
    /// True when the launch had more results than were read.
    pub truncated: bool,
    pub url: String,
}

impl Render for Triage {
    fn text(&self) -> String {
        let mut s = format!(
            "Triage of launch #{} {}: {} failed/broken results in {} groups",
            self.launch_id, self.launch_name, self.failures, self.groups_total
        );
        if let Some(p) = &self.previous_launch {
            s.push_str(&format!(", compared with launch #{} {}", p.id, p.name));
        }
        s.push('\n');
        for g in &self.groups {
            let mut flags = Vec::new();
            if g.new == Some(true) {
                flags.push("NEW".to_string());
            }
            if g.known > 0 {
                flags.push(format!("{} known defect", g.known));
            }
            if g.muted > 0 {
                flags.push(format!("{} muted", g.muted));
            }
            s.push_str(&format!(
                "\n{}× {}{}\n",
                g.count,
                g.sample_message,
                if flags.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", flags.join(", "))
                }
            ));
            for e in &g.examples {
                s.push_str(&format!("   - #{} {} {}\n", e.id, e.name, e.url));
            }
        }
        if self.groups.len() < self.groups_total {
            s.push_str(&format!(
                "\n({} smaller groups not shown; raise max_groups)\n",
                self.groups_total - self.groups.len()
            ));
        }
        s.push_str(&self.url);
        s
    }
}

/// A failure message with what varies between runs taken out: numbers, hex ids, quoted
/// values, addresses. Two failures with the same signature have the same cause more
/// often than not.
pub fn signature(message: &str) -> String {
    static RULES: std::sync::OnceLock<Vec<(regex_lite::Regex, &'static str)>> =
        std::sync::OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [
            (
                r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
                "<uuid>",
            ),
            (r"0x[0-9a-fA-F]+", "<hex>"),
            (r"'[^']{0,80}'", "'…'"),
            (r"\d+(\.\d+)?", "N"),
            (r"\s+", " "),
        ]
        .into_iter()
        .filter_map(|(re, to)| regex_lite::Regex::new(re).ok().map(|r| (r, to)))
        .collect()
    });
    let first = message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let mut s: String = first.chars().take(400).collect();
    for (re, to) in rules {
        s = re.replace_all(&s, *to).into_owned();
    }
    let s = s.trim().to_owned();
    if s.is_empty() {
        "(no message)".into()
    } else {
        s.chars().take(200).collect()
    }
}

/// The name with run numbers taken out: "Nightly regression #110" ~ "Nightly regression #111".
fn name_family(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect::<String>()
        .split('#')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("#")
}

/// The launch before `l` from the same CI job or with the same name family.
pub async fn previous_launch(ctx: &Ctx, l: &Launch) -> Result<Option<Launch>, ToolError> {
    let Some(pid) = l.project_id else {
        return Ok(None);
    };
    let page: Page<Launch> = ctx
        .client
        .get(
            "/launch",
            &[
                ("projectId", pid.to_string()),
                ("sort", "createdDate,desc".into()),
                ("size", "100".into()),
            ],
        )
        .await?;
    let me = page.content.iter().find(|x| x.id == l.id);
    let my_jobs: HashSet<i64> = me
        .and_then(|m| m.jobs.as_ref())
        .map(|j| {
            j.iter()
                .filter_map(|r| r.job.as_ref().map(|x| x.id))
                .collect()
        })
        .unwrap_or_default();
    let family = name_family(&l.name);
    let created = l.created_date.unwrap_or(i64::MAX);
    Ok(page
        .content
        .into_iter()
        .filter(|x| x.id != l.id && x.created_date.unwrap_or(0) < created)
        .find(|x| {
            let same_job = x.jobs.as_ref().is_some_and(|j| {
                j.iter()
                    .any(|r| r.job.as_ref().is_some_and(|job| my_jobs.contains(&job.id)))
            });
            same_job || name_family(&x.name) == family
        }))
}

/// A status that counts as a failure (failed or broken).
pub fn failing(status: Option<&str>) -> bool {
    matches!(status, Some("failed") | Some("broken"))
}

fn ack(summary: String, ids: Vec<i64>, url: Option<String>) -> Done {
    Done { summary, ids, url }
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(LIST_TEST_RESULTS, list_test_results),
        tool(GET_TEST_RESULT, get_test_result),
        tool(GET_TEST_RESULT_STEPS, get_test_result_steps),
        tool(READ_ATTACHMENT, read_attachment),
        tool(GET_TEST_RESULT_HISTORY, get_test_result_history),
        tool(ASSIGN_TEST_RESULT, assign_test_result),
        tool(MUTE_TEST_RESULT, mute_test_result),
        tool(BULK_ASSIGN_TEST_RESULTS, bulk_assign_test_results),
        tool(BULK_MUTE_TEST_RESULTS, bulk_mute_test_results),
        tool(BULK_UNMUTE_TEST_RESULTS, bulk_unmute_test_results),
        tool(BULK_RESOLVE_TEST_RESULTS, bulk_resolve_test_results),
        tool(SEARCH_TEST_RESULTS, search_test_results),
        tool(TRIAGE_LAUNCH, triage_launch),
    ]
}

const LIST_TEST_RESULTS: Meta = Meta {
    name: "list_test_results",
    toolset: Toolset::Results,
    title: "List test results of a launch",
    description: "List a launch's test results, optionally only those with a status (e.g. \"failed,broken\"). The status filter runs on the server as AQL across all pages, so no matching result is missed. Paged.",
    access: Access::Read,
};

async fn list_test_results(ctx: Ctx, a: ListArgs) -> Result<ResultList, ToolError> {
    let q = paging(a.page, a.size, 25)?;
    let l = launch(&ctx, a.launch_id).await?;
    match a.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => {
            let mut q = q;
            q.push(("launchId", l.id.to_string()));
            let p: Page<TestResult> = ctx.client.get("/testresult", &q).await?;
            Ok(ResultList {
                launch_id: Some(l.id),
                aql: None,
                page: PageInfo::of(&p),
                results: p
                    .content
                    .into_iter()
                    .map(|r| ResultLine::from_full(&ctx, r))
                    .collect(),
            })
        }
        Some(raw) => {
            let statuses = parse_statuses(raw)?;
            let pid = l
                .project_id
                .ok_or_else(|| ToolError::Other(format!("launch {} has no project id", l.id)))?;
            let list = statuses
                .iter()
                .map(|s| quote(s))
                .collect::<Vec<_>>()
                .join(", ");
            let aql = format!("launch = {} and status in [{list}]", l.id);
            let mut q = q;
            q.push(("projectId", pid.to_string()));
            q.push(("rql", aql.clone()));
            let p: Page<TestResultRow> = ctx.client.get("/testresult/__search", &q).await?;
            Ok(ResultList {
                launch_id: Some(l.id),
                aql: Some(aql),
                page: PageInfo::of(&p),
                results: p
                    .content
                    .into_iter()
                    .map(|r| ResultLine::from_row(&ctx, Some(l.id), r))
                    .collect(),
            })
        }
    }
}

const GET_TEST_RESULT: Meta = Meta {
    name: "get_test_result",
    toolset: Toolset::Results,
    title: "Get a test result",
    description: "One test result: status, failure message, stack trace (cut to 1,500 characters unless full=true), flags (muted, known defect, flaky), assignee and a link.",
    access: Access::Read,
};

async fn get_test_result(ctx: Ctx, a: GetResultArgs) -> Result<ResultDetails, ToolError> {
    let id = positive_id(
        "test_result_id",
        a.test_result_id,
        "list_test_results shows ids",
    )?;
    let r: TestResult = ctx
        .client
        .get(&format!("/testresult/{id}"), &[])
        .await
        .map_err(|e| ToolError::result_not_found(e, id))?;
    let max = if a.full.unwrap_or(false) {
        20_000
    } else {
        1_500
    };
    let how = "call get_test_result with full=true for more";
    Ok(ResultDetails {
        url: result_url(&ctx, r.launch_id, r.id),
        id: r.id,
        full_name: r.full_name,
        status: r.status,
        message: r.message.as_deref().map(|m| cut(m, max, how)),
        trace: r.trace.as_deref().map(|t| cut(t, max, how)),
        launch_id: r.launch_id,
        project_id: r.project_id,
        test_case_id: r.test_case_id,
        assignee: r.assignee,
        muted: r.muted.unwrap_or(false),
        known: r.known.unwrap_or(false),
        flaky: r.flaky.unwrap_or(false),
        duration_ms: r.duration,
        started: time(r.start),
        tags: r.tags.into_iter().filter_map(|t| t.name).collect(),
        name: r.name,
    })
}

const GET_TEST_RESULT_STEPS: Meta = Meta {
    name: "get_test_result_steps",
    toolset: Toolset::Results,
    title: "Steps and attachments of a test result",
    description: "The executed steps of a test result (nested, with status and messages) and its attachments (id, name, type, size). read_attachment reads a text attachment.",
    access: Access::Read,
};

async fn get_test_result_steps(ctx: Ctx, a: ResultIdArgs) -> Result<Steps, ToolError> {
    let id = positive_id(
        "test_result_id",
        a.test_result_id,
        "list_test_results shows ids",
    )?;
    let nf = |e| ToolError::result_not_found(e, id);
    let exec_path = format!("/testresult/{id}/execution");
    let att_q = [("testResultId", id.to_string()), ("size", "100".to_owned())];
    let (exec, atts) = tokio::join!(
        ctx.client.get::<Option<Execution>>(&exec_path, &[]),
        ctx.client
            .get::<Page<AttachmentRow>>("/testresult/attachment", &att_q),
    );
    let mut steps = Vec::new();
    flatten(exec.map_err(nf)?.unwrap_or_default().steps, 0, &mut steps);
    Ok(Steps {
        test_result_id: id,
        steps,
        attachments: atts
            .map_err(nf)?
            .content
            .into_iter()
            .map(Attachment::from)
            .collect(),
    })
}

const READ_ATTACHMENT: Meta = Meta {
    name: "read_attachment",
    toolset: Toolset::Results,
    title: "Read a test result attachment",
    description: "Read a test result attachment: text ones (logs, JSON, XML) inline up to max_chars; binary ones (images, videos) as type and size only.",
    access: Access::Read,
};

async fn read_attachment(ctx: Ctx, a: AttachmentArgs) -> Result<AttachmentContent, ToolError> {
    let id = positive_id(
        "attachment_id",
        a.attachment_id,
        "get_test_result_steps lists attachment ids",
    )?;
    let max = a.max_chars.unwrap_or(16_384);
    if max == 0 || max > 65_536 {
        return Err(ToolError::InvalidArgs(format!(
            "max_chars must be 1..=65536, got {max}"
        )));
    }
    // Only the start is read: a model never needs more than max_chars of it,
    // and an attachment may be hundreds of megabytes. The size comes from
    // Content-Length.
    let keep = max as usize * 4 + 4;
    let answer = ctx
        .client
        .send_head(
            &format!("/testresult/attachment/{id}/content"),
            &[("inline", "true".into())],
            keep,
        )
        .await
        .map_err(|e| {
            ToolError::not_found(
                e,
                format!("Attachment {id}"),
                "get_test_result_steps lists a result's attachments.",
            )
        })?;
    Ok(attachment_content(id, &answer, max as usize))
}

const GET_TEST_RESULT_HISTORY: Meta = Meta {
    name: "get_test_result_history",
    toolset: Toolset::Results,
    title: "Test result history and flakiness",
    description: "Earlier runs of the same test (newest first) with status, launch and date, and a flakiness verdict: stable_pass, stable_fail, flaky (outcome flipped twice or more), changed, or not_enough_data.",
    access: Access::Read,
};

async fn get_test_result_history(ctx: Ctx, a: HistoryArgs) -> Result<History, ToolError> {
    let id = positive_id(
        "test_result_id",
        a.test_result_id,
        "list_test_results shows ids",
    )?;
    let q = paging(Some(0), a.size, 20)?;
    let p: Page<HistoryEntry> = ctx
        .client
        .get(&format!("/testresult/{id}/history"), &q)
        .await
        .map_err(|e| ToolError::result_not_found(e, id))?;
    let statuses: Vec<Option<&str>> = p.content.iter().map(|h| h.status.as_deref()).collect();
    let (pass_rate, flips, verdict) = flakiness(&statuses);
    let runs = p
        .content
        .iter()
        .map(|h| HistoryLine {
            test_result_id: h.id,
            status: h.status.clone(),
            date: time(h.created_date),
            launch_id: h.launch.as_ref().map(|l| l.id),
            launch_name: h.launch.as_ref().and_then(|l| l.name.clone()),
            message: h
                .message
                .as_deref()
                .and_then(|m| m.lines().next())
                .map(|m| cut(m, 160, "get_test_result has the whole message")),
        })
        .collect();
    Ok(History {
        test_result_id: id,
        runs,
        pass_rate,
        flips,
        verdict: verdict.into(),
    })
}

const ASSIGN_TEST_RESULT: Meta = Meta {
    name: "assign_test_result",
    toolset: Toolset::Results,
    title: "Assign a test result",
    description: "Assign a test result to a TestOps user, e.g. to own the investigation of a failure.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn assign_test_result(ctx: Ctx, a: AssignArgs) -> Result<Done, ToolError> {
    let id = positive_id(
        "test_result_id",
        a.test_result_id,
        "list_test_results shows ids",
    )?;
    let user = required_text("username", &a.username, 200)?;
    let row: Option<TestResultRow> = ctx
        .client
        .post(
            &format!("/testresult/{id}/assign"),
            json!({"username": user}),
        )
        .await
        .map_err(|e| ToolError::result_not_found(e, id))?;
    let name = row.map(|r| format!(" ({})", r.name)).unwrap_or_default();
    Ok(ack(
        format!("Test result #{id}{name} is assigned to {user}."),
        vec![id],
        None,
    ))
}

const MUTE_TEST_RESULT: Meta = Meta {
    name: "mute_test_result",
    toolset: Toolset::Results,
    title: "Mute a test result",
    description: "Mute a test result so its failure no longer fails the launch, with a reason. TestOps needs a mute name; \"Muted via MCP\" is used when none is given.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn mute_test_result(ctx: Ctx, a: MuteArgs) -> Result<Done, ToolError> {
    let id = positive_id(
        "test_result_id",
        a.test_result_id,
        "list_test_results shows ids",
    )?;
    let reason = required_text("reason", &a.reason, 1000)?;
    // The API does not mark `name` required, but the database does (500 without it).
    let name = a
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("Muted via MCP")
        .to_owned();
    let _: Option<serde_json::Value> = ctx
        .client
        .post(
            &format!("/testresult/{id}/mute"),
            json!({"name": name, "reason": reason}),
        )
        .await
        .map_err(|e| ToolError::result_not_found(e, id))?;
    Ok(ack(
        format!("Test result #{id} is muted: {reason}"),
        vec![id],
        None,
    ))
}

const BULK_ASSIGN_TEST_RESULTS: Meta = Meta {
    name: "bulk_assign_test_results",
    toolset: Toolset::Results,
    title: "Assign many test results",
    description: "Assign up to 100 test results of one launch to a user.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn bulk_assign_test_results(ctx: Ctx, a: BulkAssignArgs) -> Result<Done, ToolError> {
    let ids = bulk_ids("test_result_ids", &a.test_result_ids)?;
    let users: Vec<String> = a
        .assignees
        .iter()
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .collect();
    if users.is_empty() {
        return Err(ToolError::InvalidArgs(
            "assignees is empty; name at least one user".into(),
        ));
    }
    let l = launch(&ctx, a.launch_id).await?;
    let _: Option<serde_json::Value> = ctx
        .client
        .post(
            "/testresult/bulk/assign",
            json!({"selection": selection(l.id, &ids), "assignees": users}),
        )
        .await?;
    Ok(ack(
        format!(
            "{} test result(s) of launch #{} are assigned to {}.",
            ids.len(),
            l.id,
            users.join(", ")
        ),
        ids,
        Some(ctx.link(&format!("/launch/{}", l.id))),
    ))
}

const BULK_MUTE_TEST_RESULTS: Meta = Meta {
    name: "bulk_mute_test_results",
    toolset: Toolset::Results,
    title: "Mute many test results",
    description: "Mute up to 100 test results of one launch, with a reason.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn bulk_mute_test_results(ctx: Ctx, a: BulkMuteArgs) -> Result<Done, ToolError> {
    let ids = bulk_ids("test_result_ids", &a.test_result_ids)?;
    let reason = required_text("reason", &a.reason, 1000)?;
    let l = launch(&ctx, a.launch_id).await?;
    let _: Option<serde_json::Value> = ctx
        .client
        .post(
            "/testresult/bulk/mute",
            json!({"selection": selection(l.id, &ids), "name": "Muted via MCP", "reason": reason}),
        )
        .await?;
    Ok(ack(
        format!(
            "{} test result(s) of launch #{} are muted: {reason}",
            ids.len(),
            l.id
        ),
        ids,
        Some(ctx.link(&format!("/launch/{}", l.id))),
    ))
}

const BULK_UNMUTE_TEST_RESULTS: Meta = Meta {
    name: "bulk_unmute_test_results",
    toolset: Toolset::Results,
    title: "Unmute many test results",
    description: "Unmute up to 100 test results of one launch.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn bulk_unmute_test_results(ctx: Ctx, a: BulkArgs) -> Result<Done, ToolError> {
    let ids = bulk_ids("test_result_ids", &a.test_result_ids)?;
    let l = launch(&ctx, a.launch_id).await?;
    let _: Option<serde_json::Value> = ctx
        .client
        .post(
            "/testresult/bulk/unmute",
            json!({"selection": selection(l.id, &ids)}),
        )
        .await?;
    Ok(ack(
        format!(
            "{} test result(s) of launch #{} are unmuted.",
            ids.len(),
            l.id
        ),
        ids,
        Some(ctx.link(&format!("/launch/{}", l.id))),
    ))
}

const BULK_RESOLVE_TEST_RESULTS: Meta = Meta {
    name: "bulk_resolve_test_results",
    toolset: Toolset::Results,
    title: "Resolve many test results",
    description: "Set the status of up to 100 test results of one launch by hand (default passed), e.g. after a manual re-check, with an optional note.",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn bulk_resolve_test_results(ctx: Ctx, a: BulkResolveArgs) -> Result<Done, ToolError> {
    let ids = bulk_ids("test_result_ids", &a.test_result_ids)?;
    let status = match a.status.as_deref() {
        None => "passed".to_owned(),
        Some(s) => {
            let v = parse_statuses(s)?;
            if v.len() != 1 {
                return Err(ToolError::InvalidArgs("status takes one status".into()));
            }
            v[0].clone()
        }
    };
    let l = launch(&ctx, a.launch_id).await?;
    let mut body = json!({"selection": selection(l.id, &ids), "status": status});
    if let Some(m) = a
        .message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        body["message"] = json!(m);
    }
    let _: Option<serde_json::Value> = ctx.client.post("/testresult/bulk/resolve", body).await?;
    Ok(ack(
        format!(
            "{} test result(s) of launch #{} are resolved as {status}.",
            ids.len(),
            l.id
        ),
        ids,
        Some(ctx.link(&format!("/launch/{}", l.id))),
    ))
}

const SEARCH_TEST_RESULTS: Meta = Meta {
    name: "search_test_results",
    toolset: Toolset::Results,
    title: "Search test results with AQL",
    description: "Search a project's test results with AQL (e.g. `status = \"failed\" and tag = \"smoke\" and createdDate > weekAgo()`). Syntax and attributes: resource allure://aql-guide. Paged.",
    access: Access::Read,
};

async fn search_test_results(ctx: Ctx, a: SearchArgs) -> Result<ResultList, ToolError> {
    let found = aql::search::<TestResultRow>(
        &ctx,
        Entity::TestResult,
        a.project_id,
        &a.aql,
        (a.page, a.size, 25),
    )
    .await?;
    Ok(ResultList {
        launch_id: None,
        aql: Some(found.aql),
        page: PageInfo::of(&found.page),
        results: found
            .page
            .content
            .into_iter()
            .map(|r| ResultLine::from_row(&ctx, None, r))
            .collect(),
    })
}

const TRIAGE_LAUNCH: Meta = Meta {
    name: "triage_launch",
    toolset: Toolset::Results,
    title: "Triage a launch's failures",
    description: "Group a launch's failed and broken results by normalised error message: count, examples with links, muted and known-defect counts, and whether each group is new compared with the previous launch of the same job or name. The fastest way to see why a launch failed.",
    access: Access::Read,
};

async fn triage_launch(ctx: Ctx, a: TriageArgs) -> Result<Triage, ToolError> {
    let max_groups = a.max_groups.unwrap_or(10);
    let examples = a.examples.unwrap_or(3);
    if !(1..=50).contains(&max_groups) || !(1..=10).contains(&examples) {
        return Err(ToolError::InvalidArgs(
            "max_groups must be 1..=50 and examples 1..=10".into(),
        ));
    }
    let l = launch(&ctx, a.launch_id).await?;
    let (results, truncated) = all_results(&ctx, l.id, 5000).await?;
    let prev = previous_launch(&ctx, &l).await?;
    let prev_sigs: Option<HashSet<String>> = match &prev {
        Some(p) => Some(
            all_results(&ctx, p.id, 5000)
                .await?
                .0
                .iter()
                .filter(|r| failing(r.status.as_deref()))
                .map(|r| signature(r.message.as_deref().unwrap_or("")))
                .collect(),
        ),
        None => None,
    };
    let mut groups: BTreeMap<String, FailureGroup> = BTreeMap::new();
    let mut failures = 0;
    for r in results.iter().filter(|r| failing(r.status.as_deref())) {
        failures += 1;
        let sig = signature(r.message.as_deref().unwrap_or(""));
        let g = groups.entry(sig.clone()).or_insert_with(|| FailureGroup {
            new: prev_sigs.as_ref().map(|p| !p.contains(&sig)),
            sample_message: cut(
                r.message
                    .as_deref()
                    .and_then(|m| m.lines().next())
                    .unwrap_or("(no message)"),
                300,
                "get_test_result has the whole message",
            ),
            signature: sig,
            count: 0,
            failed: 0,
            broken: 0,
            muted: 0,
            known: 0,
            examples: vec![],
        });
        g.count += 1;
        if r.status.as_deref() == Some("failed") {
            g.failed += 1
        } else {
            g.broken += 1
        }
        g.muted += usize::from(r.muted.unwrap_or(false));
        g.known += usize::from(r.known.unwrap_or(false));
        if g.examples.len() < examples as usize {
            g.examples.push(Example {
                id: r.id,
                name: r.name.clone(),
                status: r.status.clone(),
                url: result_url(&ctx, Some(l.id), r.id),
            });
        }
    }
    let mut groups: Vec<FailureGroup> = groups.into_values().collect();
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.signature.cmp(&b.signature))
    });
    let total = groups.len();
    groups.truncate(max_groups as usize);
    Ok(Triage {
        url: ctx.link(&format!("/launch/{}", l.id)),
        launch_id: l.id,
        launch_name: l.name,
        failures,
        groups_total: total,
        groups,
        previous_launch: prev.map(|p| Example {
            url: ctx.link(&format!("/launch/{}", p.id)),
            id: p.id,
            name: p.name,
            status: None,
        }),
        truncated,
    })
}

/// A test-result selection of the bulk endpoints: these leaves of this launch.
pub fn selection(launch_id: i64, ids: &[i64]) -> serde_json::Value {
    json!({"launchId": launch_id, "leafsInclude": ids, "inverted": false})
}

/// What read_attachment says of the first bytes of an attachment.
fn attachment_content(id: i64, answer: &crate::allure::Answer, max: usize) -> AttachmentContent {
    let ct = answer.content_type.clone();
    let size = answer
        .content_length
        .map(|n| n as usize)
        .unwrap_or(answer.body.len());
    // A cut may split a character: only an error before the end means "not text".
    let utf8 = match std::str::from_utf8(&answer.body) {
        Ok(_) => true,
        Err(e) => answer.cut && e.error_len().is_none(),
    };
    let texty = ct.as_deref().map(is_text).unwrap_or(false) || (ct.is_none() && utf8);
    let unknown_rest = answer.cut && answer.content_length.is_none();
    if texty {
        let text = String::from_utf8_lossy(&answer.body);
        let shown = if answer.cut {
            // Only the start was read, so the rest cannot be counted in characters.
            let head: String = text.chars().take(max).collect();
            format!(
                "{head}\n… [cut after {max} characters of {}{size} bytes; call read_attachment with a larger max_chars]",
                if unknown_rest { "more than " } else { "" }
            )
        } else {
            cut(&text, max, "call read_attachment with a larger max_chars")
        };
        AttachmentContent {
            id,
            content_type: ct,
            size_bytes: size,
            text: Some(shown),
            note: unknown_rest.then(|| format!("larger than {size} bytes")),
        }
    } else {
        AttachmentContent {
            id,
            note: Some(format!(
                "binary attachment ({}, {}{size} bytes); open it in TestOps to view it",
                ct.as_deref().unwrap_or("unknown type"),
                if unknown_rest { "more than " } else { "" },
            )),
            content_type: ct,
            size_bytes: size,
            text: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_ignore_what_varies() {
        assert_eq!(
            signature("expected: <200> but was: <500>"),
            signature("expected: <200> but was: <503>")
        );
        assert_eq!(
            signature(
                "AssertionError: expected 'Order #48213 confirmed' to equal 'Order confirmed'"
            ),
            signature(
                "AssertionError: expected 'Order #48999 confirmed' to equal 'Order confirmed'"
            )
        );
        assert_ne!(
            signature("Connection refused"),
            signature("NullPointerException")
        );
        assert_eq!(signature(""), "(no message)");
        assert_eq!(signature("first line\nsecond"), "first line");
    }

    #[test]
    fn flakiness_verdicts() {
        let f = |v: &[&str]| flakiness(&v.iter().map(|s| Some(*s)).collect::<Vec<_>>());
        assert_eq!(f(&["passed", "passed", "passed"]).2, "stable_pass");
        assert_eq!(f(&["failed", "broken", "failed"]).2, "stable_fail");
        assert_eq!(
            f(&["passed", "failed", "passed", "failed"]),
            (Some(50.0), 3, "flaky")
        );
        assert_eq!(f(&["failed", "passed", "passed"]).2, "changed");
        assert_eq!(f(&["passed", "skipped"]).2, "not_enough_data");
    }

    #[test]
    fn statuses_parse() {
        assert_eq!(
            parse_statuses("Failed, broken,failed").unwrap(),
            vec!["failed", "broken"]
        );
        assert!(parse_statuses("red").is_err());
        assert!(parse_statuses(" , ").is_err());
    }

    #[test]
    fn launch_name_families() {
        assert_eq!(
            name_family("Nightly regression #110"),
            name_family("Nightly regression #97")
        );
        assert_ne!(
            name_family("Nightly regression #110"),
            name_family("PR-4577 smoke")
        );
    }
}
