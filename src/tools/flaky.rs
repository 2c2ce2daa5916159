//! Flaky tests: across a project's (or a job's) newest launches, which tests flip
//! between passing and failing, and which passed and then fail every time since a
//! launch (a regression, not flakiness). Per-result history labels both the same.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::lookups::all_results;
use super::selection::{self, LaunchFilter};
use super::{Access, Ctx, Meta, Render, ToolDef, ToolError, Toolset, tool};
use crate::allure::model::{Launch, TestResult, TestStatus};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FlakyArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// How many of the newest launches to compare, 3-30 (default 10).
    pub launches: Option<u32>,
    #[serde(flatten)]
    pub filter: LaunchFilter,
    /// Most tests listed per group, 1-100 (default 20).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FlakyTest {
    pub test_case_id: Option<i64>,
    pub name: String,
    /// Changes between passed and failed, oldest to newest.
    pub flips: u32,
    /// Passed or failed runs compared (skipped ones do not count).
    pub runs: u32,
    pub failures: u32,
    /// TestOps itself marks its newest result flaky.
    pub flagged_by_testops: bool,
    pub last_failed_result_id: Option<i64>,
    pub last_failure: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RegressedTest {
    pub test_case_id: Option<i64>,
    pub name: String,
    /// The first launch it failed in, having passed before; it failed in every one since.
    pub since_launch_id: i64,
    pub failing_runs: u32,
    pub last_failed_result_id: Option<i64>,
    pub last_failure: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Flakiness {
    pub project_id: i64,
    /// The launches compared, oldest first.
    pub launch_ids: Vec<i64>,
    /// The filter the launches were chosen by, if any.
    pub filter: Option<String>,
    /// Most flips first.
    pub flaky: Vec<FlakyTest>,
    pub regressed: Vec<RegressedTest>,
    /// Tests that failed in every launch compared (neither flaky nor a new regression).
    pub always_failing: u32,
    /// Flaky and regressed tests found, before `limit`.
    pub flaky_total: u32,
    pub regressed_total: u32,
    /// Why not every result was read, if so.
    pub cut: Option<String>,
}

impl Render for Flakiness {
    fn text(&self) -> String {
        let of = self
            .filter
            .as_ref()
            .map(|f| format!(", {f}"))
            .unwrap_or_default();
        let mut s = format!(
            "Project {} over {} launches (#{}{of}): {} flaky, {} regressed, {} failing every time.\n",
            self.project_id,
            self.launch_ids.len(),
            ids(&self.launch_ids),
            self.flaky_total,
            self.regressed_total,
            self.always_failing
        );
        if !self.flaky.is_empty() {
            s.push_str("Flaky (pass and fail alternate):\n");
        }
        for t in &self.flaky {
            s.push_str(&format!(
                "- {}{}: {} flips, {} of {} runs failed{}{}{}\n",
                t.name,
                case(t.test_case_id),
                t.flips,
                t.failures,
                t.runs,
                if t.flagged_by_testops {
                    ", flagged flaky by TestOps"
                } else {
                    ""
                },
                last(t.last_failed_result_id, t.last_failure.as_deref()),
                link(t.url.as_deref())
            ));
        }
        if !self.regressed.is_empty() {
            s.push_str("Regressed (passed, then failed every time since):\n");
        }
        for t in &self.regressed {
            s.push_str(&format!(
                "- {}{}: failing since launch #{} ({} runs){}{}\n",
                t.name,
                case(t.test_case_id),
                t.since_launch_id,
                t.failing_runs,
                last(t.last_failed_result_id, t.last_failure.as_deref()),
                link(t.url.as_deref())
            ));
        }
        if let Some(c) = &self.cut {
            s.push_str(&format!("Note: {c}\n"));
        }
        s
    }
}

fn ids(v: &[i64]) -> String {
    match (v.first(), v.last()) {
        (Some(a), Some(b)) if a != b => format!("{a}…#{b}"),
        (Some(a), _) => a.to_string(),
        _ => String::new(),
    }
}

fn case(id: Option<i64>) -> String {
    id.map(|i| format!(" (test case #{i})")).unwrap_or_default()
}

fn last(result: Option<i64>, message: Option<&str>) -> String {
    match (result, message) {
        (Some(r), Some(m)) => format!("; last failure: result #{r}: {m}"),
        (Some(r), None) => format!("; last failure: result #{r}"),
        _ => String::new(),
    }
}

fn link(url: Option<&str>) -> String {
    url.map(|u| format!(" {u}")).unwrap_or_default()
}

pub fn tools() -> Vec<ToolDef> {
    vec![tool(FIND_FLAKY_TESTS, find_flaky_tests)]
}

const FIND_FLAKY_TESTS: Meta = Meta {
    name: "find_flaky_tests",
    toolset: Toolset::Results,
    title: "Find flaky tests",
    description: "Flaky tests over a project's newest launches (optionally one CI job's, name, tag or days), ranked by how often they flip between passed and failed; separates tests that regressed (passed, then fail every time since a launch).",
    access: Access::Read,
};

/// One run of a test in the launches compared: passed or failed (skipped ones say
/// nothing about flakiness).
struct Run {
    launch_id: i64,
    failed: bool,
    result_id: i64,
    message: Option<String>,
    flagged: bool,
}

/// A test's runs, oldest launch first, with its name and case.
struct Runs {
    name: String,
    case: Option<i64>,
    runs: Vec<Run>,
}

/// Results read per launch at most, and the whole read's time budget: REQUEST_TIMEOUT.
const MAX_PER_LAUNCH: usize = 5000;

async fn find_flaky_tests(ctx: Ctx, a: FlakyArgs) -> Result<Flakiness, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let n = a.launches.unwrap_or(10);
    let limit = a.limit.unwrap_or(20);
    if !(3..=30).contains(&n) || !(1..=100).contains(&limit) {
        return Err(ToolError::InvalidArgs(format!(
            "launches must be 3..=30 and limit 1..=100, got {n} and {limit}"
        )));
    }
    let mut chosen: Vec<Launch> = selection::launches(&ctx, pid, &a.filter, n as usize).await?;
    chosen.reverse();
    if chosen.len() < 2 {
        return Err(ToolError::InvalidArgs(format!(
            "only {} launch(es) of project {pid} match{}; flakiness needs at least 2: widen the filter",
            chosen.len(),
            a.filter
                .describe()
                .map(|f| format!(" {f}"))
                .unwrap_or_default()
        )));
    }
    let deadline = tokio::time::Instant::now() + ctx.client.timeout();
    let mut tests: BTreeMap<String, Runs> = BTreeMap::new();
    let mut cuts = Vec::new();
    for l in &chosen {
        let read = match all_results(&ctx, l.id, MAX_PER_LAUNCH, deadline).await {
            Ok(r) => r,
            Err(e) => {
                cuts.push(format!("launch #{} could not be read ({e})", l.id));
                continue;
            }
        };
        if let Some(c) = read.cut {
            cuts.push(format!("launch #{}: {c}", l.id));
        }
        for r in read.items {
            add(&mut tests, l.id, r);
        }
    }
    Ok(classify(
        &ctx,
        pid,
        &chosen,
        tests,
        limit as usize,
        &a.filter,
        cuts,
    ))
}

fn add(tests: &mut BTreeMap<String, Runs>, launch_id: i64, r: TestResult) {
    let failed = match r.status {
        Some(TestStatus::Failed | TestStatus::Broken) => true,
        Some(TestStatus::Passed) => false,
        _ => return,
    };
    // A result without a test case is known by its full name.
    let key = match r.test_case_id {
        Some(c) => format!("#{c}"),
        None => r.full_name.clone().unwrap_or_else(|| r.name.clone()),
    };
    let entry = tests.entry(key).or_insert_with(|| Runs {
        name: r.name.clone(),
        case: r.test_case_id,
        runs: vec![],
    });
    // Retries within one launch: the newest result of the launch speaks for it.
    entry
        .runs
        .retain(|x| x.launch_id != launch_id || x.result_id > r.id);
    if entry.runs.iter().any(|x| x.launch_id == launch_id) {
        return;
    }
    entry.runs.push(Run {
        launch_id,
        failed,
        result_id: r.id,
        message: r.message.as_deref().map(|m| {
            super::render::cut(
                m.lines().next().unwrap_or(""),
                200,
                "get_test_result shows it all",
            )
        }),
        flagged: r.flaky.unwrap_or(false),
    });
}

fn classify(
    ctx: &Ctx,
    pid: i64,
    chosen: &[Launch],
    tests: BTreeMap<String, Runs>,
    limit: usize,
    filter: &LaunchFilter,
    cuts: Vec<String>,
) -> Flakiness {
    let order: Vec<i64> = chosen.iter().map(|l| l.id).collect();
    let mut flaky = Vec::new();
    let mut regressed = Vec::new();
    let mut always_failing = 0;
    for (_, mut t) in tests {
        t.runs
            .sort_by_key(|r| order.iter().position(|l| *l == r.launch_id));
        let failures = t.runs.iter().filter(|r| r.failed).count() as u32;
        if failures == 0 {
            continue;
        }
        let flips = t
            .runs
            .windows(2)
            .filter(|w| w[0].failed != w[1].failed)
            .count() as u32;
        let last_failed = t.runs.iter().rev().find(|r| r.failed);
        let url = t
            .case
            .map(|c| ctx.link(&format!("/project/{pid}/test-cases/{c}")));
        let newest_flagged = t.runs.last().is_some_and(|r| r.flagged);
        let ends_failing = t.runs.last().is_some_and(|r| r.failed);
        if flips == 0 {
            always_failing += 1;
        } else if flips == 1 && ends_failing && !newest_flagged {
            let since = t.runs.iter().find(|r| r.failed).map_or(0, |r| r.launch_id);
            regressed.push(RegressedTest {
                test_case_id: t.case,
                name: t.name,
                since_launch_id: since,
                failing_runs: failures,
                last_failed_result_id: last_failed.map(|r| r.result_id),
                last_failure: last_failed.and_then(|r| r.message.clone()),
                url,
            });
        } else if flips >= 2 || newest_flagged {
            flaky.push(FlakyTest {
                test_case_id: t.case,
                name: t.name,
                flips,
                runs: t.runs.len() as u32,
                failures,
                flagged_by_testops: newest_flagged,
                last_failed_result_id: last_failed.map(|r| r.result_id),
                last_failure: last_failed.and_then(|r| r.message.clone()),
                url,
            });
        }
    }
    flaky.sort_by(|a, b| b.flips.cmp(&a.flips).then(b.failures.cmp(&a.failures)));
    regressed.sort_by_key(|r| std::cmp::Reverse(r.since_launch_id));
    let (flaky_total, regressed_total) = (flaky.len() as u32, regressed.len() as u32);
    flaky.truncate(limit);
    regressed.truncate(limit);
    Flakiness {
        project_id: pid,
        launch_ids: order,
        filter: filter.describe(),
        flaky,
        regressed,
        always_failing,
        flaky_total,
        regressed_total,
        cut: (!cuts.is_empty()).then(|| cuts.join("; ")),
    }
}
