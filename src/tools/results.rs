//! Test results: list (filtered on the server with AQL), read, assign, mute, resolve,
//! the bulk operations and AQL search. The results toolset's list also names the tools
//! kept in their own modules: steps and attachments, history, triage.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::aql::{self, Entity, quote};
use super::history::{
    GET_TEST_CASE_HISTORY, GET_TEST_RESULT_HISTORY, get_test_case_history, get_test_result_history,
};
use super::lookups::{launch, result_url, selection};
use super::render::{cut, time};
use super::steps::{
    GET_TEST_RESULT_STEPS, READ_ATTACHMENT, get_test_result_steps, read_attachment,
};
use super::triage::{TRIAGE_LAUNCH, triage_launch};
use super::{
    Access, Ctx, Done, Meta, PageInfo, Render, Subject, ToolDef, ToolError, Toolset, bulk_ids,
    paging, parse_statuses, positive_id, required_text, tool,
};
use crate::allure::Page;
use crate::allure::model::{TestResult, TestResultRow, TestStatus};

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
    pub status: Option<TestStatus>,
    pub assignee: Option<String>,
    pub duration_ms: Option<i64>,
    pub test_case_id: Option<i64>,
    /// First line of the failure message, when the list endpoint gives it.
    pub message: Option<String>,
    /// The launch the result belongs to, when known.
    pub launch_id: Option<i64>,
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
            launch_id,
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
            launch_id: r.launch_id,
        }
    }
    fn line(&self) -> String {
        let mut s = format!(
            "- #{} [{}] {}",
            self.id,
            self.status.map_or("?", TestStatus::as_str),
            self.name
        );
        if let Some(a) = &self.assignee {
            s.push_str(&format!(" (assignee {a})"));
        }
        if let Some(c) = self.test_case_id {
            s.push_str(&format!(" case #{c}"));
        }
        if let Some(l) = self.launch_id {
            s.push_str(&format!(" in launch #{l}"));
        }
        if let Some(m) = &self.message {
            s.push_str(&format!(" — {m}"));
        }
        s.push(' ');
        s.push_str(&self.url);
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
    pub status: Option<TestStatus>,
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
            self.status.map_or("?", TestStatus::as_str),
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
        if let Some(c) = self.test_case_id {
            s.push_str(&format!("test case #{c}\n"));
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
    /// Short name of the mute, up to 255 characters (default "Muted via MCP").
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
        tool(GET_TEST_CASE_HISTORY, get_test_case_history),
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
                .map(|s| quote(s.as_str()))
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

const ASSIGN_TEST_RESULT: Meta = Meta {
    name: "assign_test_result",
    toolset: Toolset::Triage,
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
    let user = super::people::existing_user(&ctx, &user).await?;
    let answer = ctx
        .client
        .post::<Option<TestResultRow>>(
            &format!("/testresult/{id}/assign"),
            json!({"username": user}),
        )
        .await;
    let row = ctx.explain(Subject::TestResult(id), answer).await?;
    // The answer is the row after the change: an instance may accept the call and keep
    // the old assignee (the Go server's changelog saw it on resolved results).
    if let Some(kept) = row
        .as_ref()
        .and_then(|r| r.assignee.as_deref())
        .filter(|a| *a != user)
    {
        return Err(ToolError::Other(format!(
            "Allure TestOps accepted the call, but test result #{id} is still assigned to {kept}. A resolved result may keep its assignee; get_test_result shows its state."
        )));
    }
    let name = row.map(|r| format!(" ({})", r.name)).unwrap_or_default();
    Ok(ack(
        format!("Test result #{id}{name} is assigned to {user}."),
        vec![id],
        None,
    ))
}

const MUTE_TEST_RESULT: Meta = Meta {
    name: "mute_test_result",
    toolset: Toolset::Triage,
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
    // Its column holds 255 characters: a longer name is a 500 (the Go server's changelog).
    let name = match a.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => required_text("name", n, 255)?,
        None => "Muted via MCP".to_owned(),
    };
    let answer = ctx
        .client
        .post::<Option<serde_json::Value>>(
            &format!("/testresult/{id}/mute"),
            json!({"name": name, "reason": reason}),
        )
        .await;
    ctx.explain(Subject::TestResult(id), answer).await?;
    Ok(ack(
        format!("Test result #{id} is muted: {reason}"),
        vec![id],
        None,
    ))
}

const BULK_ASSIGN_TEST_RESULTS: Meta = Meta {
    name: "bulk_assign_test_results",
    toolset: Toolset::Triage,
    title: "Assign many test results",
    description: "Assign up to 100 test results of one launch to a user (several users: Allure shares the results out among them in turn).",
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
    let mut checked = Vec::with_capacity(users.len());
    for u in &users {
        checked.push(super::people::existing_user(&ctx, u).await?);
    }
    let users = checked;
    let l = launch(&ctx, a.launch_id).await?;
    let _: Option<serde_json::Value> = ctx
        .client
        .post(
            "/testresult/bulk/assign",
            json!({"selection": selection(l.id, &ids), "assignees": users}),
        )
        .await?;
    // With several users Allure shares the results out among them in turn (the Go
    // server's changelog): none is assigned to all of them.
    let to = match users.as_slice() {
        [one] => format!("assigned to {one}"),
        many => format!("shared out in turn among {}", many.join(", ")),
    };
    Ok(ack(
        format!("{} test result(s) of launch #{} are {to}.", ids.len(), l.id),
        ids,
        Some(ctx.link(&format!("/launch/{}", l.id))),
    ))
}

const BULK_MUTE_TEST_RESULTS: Meta = Meta {
    name: "bulk_mute_test_results",
    toolset: Toolset::Triage,
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
    toolset: Toolset::Triage,
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
    toolset: Toolset::Triage,
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
        None => TestStatus::Passed,
        Some(s) => {
            let v = parse_statuses(s)?;
            if v.len() != 1 {
                return Err(ToolError::InvalidArgs("status takes one status".into()));
            }
            v[0]
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
    // v2: the v1 route (`/testresult/bulk/resolve`) answers success but drops the
    // message (the Go server's changelog); both take `TestResultBulkResolveDto`.
    let _: Option<serde_json::Value> = ctx
        .client
        .post("/v2/test-result/bulk/resolve", body)
        .await?;
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
    let page = PageInfo::of(&found.page);
    let results = whole_rows(&ctx, found.page.content).await;
    Ok(ResultList {
        launch_id: None,
        aql: Some(found.aql),
        page,
        results,
    })
}

/// `__search` answers rows without a launch or a message: each result is read whole
/// (a few at a time), so its line names its launch, its failure and its link in the
/// launch tree. A result that cannot be read keeps its row.
async fn whole_rows(ctx: &Ctx, rows: Vec<TestResultRow>) -> Vec<ResultLine> {
    use futures::StreamExt;
    futures::stream::iter(rows)
        .map(|row| async move {
            match ctx
                .client
                .get::<TestResult>(&format!("/testresult/{}", row.id), &[])
                .await
            {
                Ok(full) => ResultLine::from_full(ctx, full),
                Err(_) => ResultLine::from_row(ctx, None, row),
            }
        })
        .buffered(8)
        .collect()
        .await
}
