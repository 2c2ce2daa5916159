//! Launches: list and search a project's launches; read one with its statistic, status,
//! report and CI runs; close and reopen it; add test cases or a plan to it. The
//! launches toolset's list also names compare_launches, kept in compare.rs.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::aql::{self, Entity};
use super::compare::{COMPARE_LAUNCHES, compare_launches};
use super::lookups::{done_stage, job_runs, launch, result_url, statistic};
use super::render::{Example, JobRunSummary, Statistic, time};
use super::{
    Access, Ctx, Done, Meta, PageInfo, Render, Subject, ToolDef, ToolError, Toolset, bulk_ids,
    positive_id, tool,
};
use crate::allure::Page;
use crate::allure::model::{Launch, LaunchProgress, StatusCount, TestResultRow, TestStatus};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListLaunchesArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// 0-based page number (default 0). Newest launches come first.
    pub page: Option<u32>,
    /// Launches per page, 1-100 (default 20).
    pub size: Option<u32>,
    /// Only launches whose name contains this text.
    pub search: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LaunchIdArgs {
    /// Launch id (list_launches shows ids).
    pub launch_id: i64,
}

/// Whether a launch still takes results: upstream has no such field, only `closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
// Inline, so that the field's schema stays a string and only gains its `enum` list.
#[schemars(inline)]
pub enum LaunchState {
    Open,
    Closed,
}

impl LaunchState {
    pub fn of(closed: bool) -> LaunchState {
        if closed {
            LaunchState::Closed
        } else {
            LaunchState::Open
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LaunchState::Open => "open",
            LaunchState::Closed => "closed",
        }
    }
}

impl fmt::Display for LaunchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A launch in a list.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LaunchSummary {
    pub id: i64,
    pub name: String,
    /// "open" (results may still arrive) or "closed".
    pub state: LaunchState,
    pub created: Option<String>,
    pub statistic: Option<Statistic>,
    pub tags: Vec<String>,
    /// Link to the launch in the TestOps UI.
    pub url: String,
}

impl LaunchSummary {
    fn from(ctx: &Ctx, l: Launch) -> Self {
        LaunchSummary {
            url: ctx.link(&format!("/launch/{}", l.id)),
            id: l.id,
            state: LaunchState::of(l.closed),
            created: time(l.created_date),
            statistic: l.statistic.as_deref().map(Statistic::from_counts),
            tags: l.tags.into_iter().filter_map(|t| t.name).collect(),
            name: l.name,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LaunchList {
    pub project_id: i64,
    pub launches: Vec<LaunchSummary>,
    pub page: PageInfo,
}

impl Render for LaunchList {
    fn text(&self) -> String {
        let mut s = format!(
            "Launches of project {} ({}):\n",
            self.project_id,
            self.page.text()
        );
        for l in &self.launches {
            let stat = l
                .statistic
                .as_ref()
                .map_or_else(|| "statistic not available".to_owned(), Statistic::text);
            s.push_str(&format!(
                "- #{} {} [{}] {} — {} {}\n",
                l.id,
                l.name,
                l.state,
                l.created.as_deref().unwrap_or(""),
                stat,
                l.url
            ));
        }
        s
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LaunchDetails {
    pub id: i64,
    pub name: String,
    pub project_id: Option<i64>,
    pub state: LaunchState,
    pub created: Option<String>,
    pub last_modified: Option<String>,
    pub tags: Vec<String>,
    /// Links attached to the launch (build, commit…).
    pub links: Vec<String>,
    pub statistic: Statistic,
    pub job_runs: Vec<JobRunSummary>,
    pub url: String,
}

impl Render for LaunchDetails {
    fn text(&self) -> String {
        let mut s = format!(
            "Launch #{} {} [{}] in project {}\n",
            self.id,
            self.name,
            self.state,
            self.project_id
                .map(|p| p.to_string())
                .unwrap_or_else(|| "?".into())
        );
        s.push_str(&format!("{}\n", self.statistic.text()));
        if let Some(c) = &self.created {
            // Not "by whom": `LaunchDto` (this route's answer) has no `createdBy`.
            s.push_str(&format!("created {c}\n"));
        }
        if !self.tags.is_empty() {
            s.push_str(&format!("tags: {}\n", self.tags.join(", ")));
        }
        s.push_str(&job_run_lines(&self.job_runs));
        s.push_str(&self.url);
        s
    }
}

/// Where a launch is: `running` (job runs going or results still processed), `finished`
/// (open, nothing running) or `closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
// Inline, so that the field's schema stays a string and only gains its `enum` list.
#[schemars(inline)]
pub enum Progress {
    Running,
    Finished,
    Closed,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Progress::Running => "running",
            Progress::Finished => "finished",
            Progress::Closed => "closed",
        })
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LaunchStatus {
    pub launch_id: i64,
    pub name: String,
    pub status: Progress,
    pub statistic: Statistic,
    pub job_runs: Vec<JobRunSummary>,
    pub url: String,
}

impl Render for LaunchStatus {
    fn text(&self) -> String {
        format!(
            "Launch #{} {}: {}\n{}\n{}{}",
            self.launch_id,
            self.name,
            self.status,
            self.statistic.text(),
            job_run_lines(&self.job_runs),
            self.url
        )
    }
}

/// One line per job run, each ending in a newline.
pub(super) fn job_run_lines(runs: &[JobRunSummary]) -> String {
    runs.iter().map(|j| format!("{}\n", j.line())).collect()
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LaunchReport {
    pub launch_id: i64,
    pub name: String,
    pub state: LaunchState,
    pub created: Option<String>,
    pub statistic: Statistic,
    /// The failed and broken results (first 20).
    pub failures: Vec<Example>,
    pub failures_total: i64,
    pub job_runs: Vec<JobRunSummary>,
    pub url: String,
}

impl Render for LaunchReport {
    fn text(&self) -> String {
        let mut s = format!(
            "Report of launch #{} {} [{}], {}\n{}\n",
            self.launch_id,
            self.name,
            self.state,
            self.created.as_deref().unwrap_or(""),
            self.statistic.text()
        );
        if self.failures_total > 0 {
            s.push_str(&format!(
                "Failed/broken ({}; triage_launch groups them by cause):\n",
                self.failures_total
            ));
            for f in &self.failures {
                s.push_str(&format!(
                    "- #{} [{}] {} {}\n",
                    f.id,
                    f.status.map_or("?", TestStatus::as_str),
                    f.name,
                    f.url
                ));
            }
        }
        s.push_str(&job_run_lines(&self.job_runs));
        s.push_str(&self.url);
        s
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchLaunchesArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// AQL over launches, e.g. `closed = false and name ~= "nightly"`. Guide: resource allure://aql-guide.
    pub aql: String,
    /// 0-based page number (default 0).
    pub page: Option<u32>,
    /// Launches per page, 1-100 (default 20).
    pub size: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AddCasesArgs {
    /// Launch to add the test cases to.
    pub launch_id: i64,
    /// Project of the launch and the test cases. Defaults to the launch's project.
    pub project_id: Option<i64>,
    /// Test case ids (1-100).
    pub test_case_ids: Vec<i64>,
    /// User names to assign the new results to.
    pub assignees: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AddPlanArgs {
    /// Launch to add the plan's test cases to.
    pub launch_id: i64,
    /// Test plan id (list_test_plans shows them).
    pub test_plan_id: i64,
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(LIST_LAUNCHES, list_launches),
        tool(GET_LAUNCH_DETAILS, get_launch_details),
        tool(GET_LAUNCH_STATUS, get_launch_status),
        tool(GET_LAUNCH_REPORT, get_launch_report),
        tool(CLOSE_LAUNCH, close_launch),
        tool(REOPEN_LAUNCH, reopen_launch),
        tool(SEARCH_LAUNCHES, search_launches),
        tool(ADD_TEST_CASES_TO_LAUNCH, add_test_cases_to_launch),
        tool(ADD_TEST_PLAN_TO_LAUNCH, add_test_plan_to_launch),
        tool(COMPARE_LAUNCHES, compare_launches),
    ]
}

const LIST_LAUNCHES: Meta = Meta {
    name: "list_launches",
    toolset: Toolset::Launches,
    title: "List launches",
    description: "A project's newest launches (paged), each with its pass/fail statistic, open/closed state and link. To filter by name, tag, state or date, use search_launches.",
    access: Access::Read,
};

/// `GET /api/launch?search=` takes a list of filters, base64-encoded JSON, not free text
/// (as the TestOps UI and public clients send it; the API description only says
/// "string"): here one filter on the launch name.
fn name_filter(text: &str) -> String {
    use base64::Engine;
    let filters = json!([{"id": "name", "type": "string", "value": text}]);
    base64::engine::general_purpose::STANDARD.encode(filters.to_string())
}

async fn list_launches(ctx: Ctx, a: ListLaunchesArgs) -> Result<LaunchList, ToolError> {
    let (pid, mut q) = ctx.project_query(a.project_id, a.page, a.size, 20)?;
    q.push(("sort", "created_date,desc".into()));
    if let Some(s) = a.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        q.push(("search", name_filter(s)));
    }
    let page: Page<Launch> = ctx.project_get("/launch", pid, &q).await?;
    Ok(LaunchList {
        project_id: pid,
        page: PageInfo::of(&page),
        launches: page
            .content
            .into_iter()
            .map(|l| LaunchSummary::from(&ctx, l))
            .collect(),
    })
}

const GET_LAUNCH_DETAILS: Meta = Meta {
    name: "get_launch_details",
    toolset: Toolset::Launches,
    title: "Launch details",
    description: "One launch's overview: state, statistic by status with pass rate, tags, links and CI job runs. Grouped by cause: triage_launch; the result list: get_launch_report.",
    access: Access::Read,
};

async fn get_launch_details(ctx: Ctx, a: LaunchIdArgs) -> Result<LaunchDetails, ToolError> {
    let id = a.launch_id;
    if id <= 0 {
        return Err(ToolError::InvalidArgs(format!(
            "launch_id {id} is not a launch id; list_launches shows ids"
        )));
    }
    let nf = |e| ToolError::launch_not_found(e, id);
    let path = format!("/launch/{id}");
    let stat_path = format!("/launch/{id}/statistic");
    // Three independent reads, in parallel: the call costs one round trip, not three.
    let (launch, stat, jobs) = tokio::join!(
        ctx.client.get::<Launch>(&path, &[]),
        ctx.client.get::<Vec<StatusCount>>(&stat_path, &[]),
        job_runs(&ctx, id),
    );
    let l = launch.map_err(nf)?;
    let stat = ctx.explain(Subject::Launch(id), stat).await?;
    let jobs = jobs?;
    Ok(LaunchDetails {
        url: ctx.link(&format!("/launch/{}", l.id)),
        id: l.id,
        name: l.name,
        project_id: l.project_id,
        state: LaunchState::of(l.closed),
        created: time(l.created_date),
        last_modified: time(l.last_modified_date),
        tags: l.tags.into_iter().filter_map(|t| t.name).collect(),
        links: l.links.into_iter().filter_map(|k| k.url).collect(),
        statistic: Statistic::from_counts(&stat),
        job_runs: jobs.into_iter().map(JobRunSummary::from).collect(),
    })
}

const GET_LAUNCH_STATUS: Meta = Meta {
    name: "get_launch_status",
    toolset: Toolset::Launches,
    title: "Launch status",
    description: "Is a launch still running? Its state (running, finished, closed), statistic and CI job runs; cheap to poll. To block until it finishes, wait_for_launch.",
    access: Access::Read,
};

/// A launch's status as get_launch_status answers it (the launch-status resource).
pub async fn launch_status(ctx: &Ctx, launch_id: i64) -> Result<LaunchStatus, ToolError> {
    get_launch_status(ctx.clone(), LaunchIdArgs { launch_id }).await
}

async fn get_launch_status(ctx: Ctx, a: LaunchIdArgs) -> Result<LaunchStatus, ToolError> {
    let l = launch(&ctx, a.launch_id).await?;
    let pp = format!("/launch/{}/progress", l.id);
    let (progress, jobs, stat) = tokio::join!(
        ctx.client.get::<Option<LaunchProgress>>(&pp, &[]),
        job_runs(&ctx, l.id),
        statistic(&ctx, l.id)
    );
    let jobs = jobs?;
    let progress = ctx.explain(Subject::Launch(l.id), progress).await?;
    let ready = progress.and_then(|p| p.ready).unwrap_or(true);
    let running = !ready || jobs.iter().any(|j| !done_stage(j.stage.as_deref()));
    Ok(LaunchStatus {
        url: ctx.link(&format!("/launch/{}", l.id)),
        launch_id: l.id,
        name: l.name,
        status: if l.closed {
            Progress::Closed
        } else if running {
            Progress::Running
        } else {
            Progress::Finished
        },
        statistic: stat?,
        job_runs: jobs.into_iter().map(JobRunSummary::from).collect(),
    })
}

const GET_LAUNCH_REPORT: Meta = Meta {
    name: "get_launch_report",
    toolset: Toolset::Launches,
    title: "Launch report",
    description: "A launch's failed and broken results as a list (first 20, with links), with its statistic and CI job runs: a report for a person. For failures grouped by cause use triage_launch.",
    access: Access::Read,
};

async fn get_launch_report(ctx: Ctx, a: LaunchIdArgs) -> Result<LaunchReport, ToolError> {
    let l = launch(&ctx, a.launch_id).await?;
    let pid = l.project_id.unwrap_or(0);
    let aql = format!("launch = {} and status in [\"failed\", \"broken\"]", l.id);
    let q = [
        ("projectId", pid.to_string()),
        ("rql", aql),
        ("size", "20".into()),
    ];
    let (fails, jobs, stat) = tokio::join!(
        ctx.client
            .get::<Page<TestResultRow>>("/testresult/__search", &q),
        job_runs(&ctx, l.id),
        statistic(&ctx, l.id)
    );
    let fails = fails?;
    Ok(LaunchReport {
        url: ctx.link(&format!("/launch/{}", l.id)),
        launch_id: l.id,
        state: LaunchState::of(l.closed),
        created: time(l.created_date),
        name: l.name,
        statistic: stat?,
        failures_total: fails.total_elements,
        failures: fails
            .content
            .into_iter()
            .map(|r| Example {
                url: result_url(&ctx, Some(l.id), r.id),
                id: r.id,
                name: r.name,
                status: r.status,
            })
            .collect(),
        job_runs: jobs?.into_iter().map(JobRunSummary::from).collect(),
    })
}

const CLOSE_LAUNCH: Meta = Meta {
    name: "close_launch",
    toolset: Toolset::Launches,
    title: "Close a launch",
    description: "Close a launch: no more results are accepted and it counts as done. Closing a closed launch changes nothing.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn close_launch(ctx: Ctx, a: LaunchIdArgs) -> Result<Done, ToolError> {
    set_closed(ctx, a.launch_id, true).await
}

const REOPEN_LAUNCH: Meta = Meta {
    name: "reopen_launch",
    toolset: Toolset::Launches,
    title: "Reopen a launch",
    description: "Reopen a closed launch so results can be added again.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn reopen_launch(ctx: Ctx, a: LaunchIdArgs) -> Result<Done, ToolError> {
    set_closed(ctx, a.launch_id, false).await
}

/// Closes or reopens a launch; one that is already so is left alone, so both tools
/// are idempotent.
async fn set_closed(ctx: Ctx, launch_id: i64, close: bool) -> Result<Done, ToolError> {
    let l = launch(&ctx, launch_id).await?;
    let (verb, path) = if close {
        ("closed", "close")
    } else {
        ("reopened", "reopen")
    };
    if l.closed == close {
        return Ok(Done {
            summary: format!(
                "Launch #{} {} was already {verb}; nothing changed.",
                l.id, l.name
            ),
            ids: vec![l.id],
            url: Some(ctx.link(&format!("/launch/{}", l.id))),
        });
    }
    // The operation declares no request body (API description 26.1.1): none is sent.
    let answer = ctx
        .client
        .post_empty(&format!("/launch/{}/{path}", l.id))
        .await;
    ctx.explain(Subject::Launch(l.id), answer).await?;
    Ok(Done {
        summary: format!("Launch #{} {} is {verb}.", l.id, l.name),
        ids: vec![l.id],
        url: Some(ctx.link(&format!("/launch/{}", l.id))),
    })
}

const SEARCH_LAUNCHES: Meta = Meta {
    name: "search_launches",
    toolset: Toolset::Launches,
    title: "Search launches with AQL",
    description: "Find launches with AQL over name, tag, closed, createdDate, createdBy (e.g. `closed = false and tag = \"nightly\"`; guide: allure://aql-guide). Paged. For just the newest, list_launches.",
    access: Access::Read,
};

async fn search_launches(ctx: Ctx, a: SearchLaunchesArgs) -> Result<LaunchList, ToolError> {
    let found = aql::search::<Launch>(
        &ctx,
        Entity::Launch,
        a.project_id,
        &a.aql,
        (a.page, a.size, 20),
    )
    .await?;
    let page = PageInfo::of(&found.page);
    let mut launches: Vec<LaunchSummary> = found
        .page
        .content
        .into_iter()
        .map(|l| LaunchSummary::from(&ctx, l))
        .collect();
    with_statistics(&ctx, &mut launches).await;
    Ok(LaunchList {
        project_id: found.project_id,
        page,
        launches,
    })
}

/// `__search` answers `LaunchDto`s, which carry no statistic: each row gets its own
/// (a few at a time), so a row says how the launch went without another call. A row
/// whose statistic cannot be read within REQUEST_TIMEOUT keeps none, and says so.
async fn with_statistics(ctx: &Ctx, launches: &mut [LaunchSummary]) {
    use futures::StreamExt;
    let deadline = tokio::time::Instant::now() + ctx.client.timeout();
    let missing: Vec<(usize, i64)> = launches
        .iter()
        .enumerate()
        .filter(|(_, l)| l.statistic.is_none())
        .map(|(i, l)| (i, l.id))
        .collect();
    let one = |id: i64| async move {
        let path = format!("/launch/{id}/statistic");
        let read = ctx.client.get::<Vec<StatusCount>>(&path, &[]);
        match tokio::time::timeout_at(deadline, read).await {
            Ok(Ok(counts)) => Some(Statistic::from_counts(&counts)),
            _ => None,
        }
    };
    let found: Vec<(usize, Option<Statistic>)> = futures::stream::iter(missing)
        .map(|(i, id)| async move { (i, one(id).await) })
        .buffer_unordered(8)
        .collect()
        .await;
    for (i, stat) in found {
        launches[i].statistic = stat;
    }
}

const ADD_TEST_CASES_TO_LAUNCH: Meta = Meta {
    name: "add_test_cases_to_launch",
    toolset: Toolset::Runs,
    title: "Add test cases to a launch",
    description: "Add up to 100 test cases to an existing launch for execution, optionally assigned to users.",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn add_test_cases_to_launch(ctx: Ctx, a: AddCasesArgs) -> Result<Done, ToolError> {
    let ids = bulk_ids("test_case_ids", &a.test_case_ids)?;
    let l = launch(&ctx, a.launch_id).await?;
    let pid = match (a.project_id, l.project_id) {
        (Some(p), Some(lp)) if p != lp => {
            return Err(ToolError::InvalidArgs(format!(
                "launch {} belongs to project {lp}, not {p}",
                l.id
            )));
        }
        (Some(p), _) | (None, Some(p)) => p,
        (None, None) => ctx.project(None)?,
    };
    let mut body = json!({"launchId": l.id, "selection": {"projectId": pid, "testCasesInclude": ids, "inverted": false}});
    if let Some(users) = a.assignees.filter(|u| !u.is_empty()) {
        let mut checked = Vec::with_capacity(users.len());
        for u in &users {
            checked.push(super::people::existing_user(&ctx, u.trim()).await?);
        }
        body["assignees"] = json!(checked);
    }
    let _: Option<serde_json::Value> = ctx
        .client
        .post("/v2/test-case/bulk/run/existing", body)
        .await?;
    Ok(Done {
        summary: format!(
            "{} test case(s) are added to launch #{} {}.",
            ids.len(),
            l.id,
            l.name
        ),
        ids,
        url: Some(ctx.link(&format!("/launch/{}", l.id))),
    })
}

const ADD_TEST_PLAN_TO_LAUNCH: Meta = Meta {
    name: "add_test_plan_to_launch",
    toolset: Toolset::Runs,
    title: "Run a test plan in an existing launch",
    description: "Put all of a plan's test cases into an existing launch for execution.",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn add_test_plan_to_launch(ctx: Ctx, a: AddPlanArgs) -> Result<Done, ToolError> {
    let plan = positive_id(
        "test_plan_id",
        a.test_plan_id,
        "list_test_plans shows plan ids",
    )?;
    let l = launch(&ctx, a.launch_id).await?;
    let answer = ctx
        .client
        .post::<Option<serde_json::Value>>(
            &format!("/launch/{}/testplan/add", l.id),
            json!({"testPlanId": plan}),
        )
        .await;
    ctx.explain(Subject::TestPlan(plan), answer).await?;
    Ok(Done {
        summary: format!("Test plan #{plan} is added to launch #{} {}.", l.id, l.name),
        ids: vec![plan],
        url: Some(ctx.link(&format!("/launch/{}", l.id))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_the_same_in_text_and_json() {
        for (s, name) in [(LaunchState::Open, "open"), (LaunchState::Closed, "closed")] {
            assert_eq!(serde_json::to_value(s).unwrap(), name);
            assert_eq!(s.to_string(), name);
        }
        assert_eq!(LaunchState::of(true), LaunchState::Closed);
        for (p, name) in [
            (Progress::Running, "running"),
            (Progress::Finished, "finished"),
            (Progress::Closed, "closed"),
        ] {
            assert_eq!(serde_json::to_value(p).unwrap(), name);
            assert_eq!(p.to_string(), name);
        }
    }
}
