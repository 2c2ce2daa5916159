//! Running tests for real: CI jobs, test plans, selected test cases; the job runs that
//! feed a launch; rerunning one; and waiting for a launch to finish.

use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::lookups::{done_stage, job_runs, launch, statistic};
use super::render::{JobRunSummary, Statistic};
use super::{
    Access, Ctx, Done, Meta, PageInfo, Render, Subject, ToolDef, ToolError, Toolset, positive_id,
    required_text, tool,
};
use crate::allure::model::{JobRun, JobsAnswer, Launch, TestCase};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RunLaunchArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// Name of the new launch.
    pub launch_name: String,
    /// CI job to run (list_jobs shows them). Starts a real CI run feeding the new launch.
    pub job_id: Option<i64>,
    /// Test plan to run (list_test_plans shows them). Use instead of job_id.
    pub test_plan_id: Option<i64>,
    /// With job_id: parameter values by parameter id (list_jobs shows ids and defaults), e.g. {"1": "release-2.4"}. Unnamed parameters keep their defaults.
    pub parameters: Option<std::collections::BTreeMap<String, String>>,
    /// With job_id: environment sets to run in, one run each, as variable name to value, e.g. [{"Browser": "chrome"}, {"Browser": "firefox"}].
    pub environments: Option<Vec<std::collections::BTreeMap<String, String>>>,
}

/// What started the tests of a new launch: a CI `job`, a `test_plan`, or `none` (an
/// empty launch was created; nothing runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
// Inline, so that the field's schema stays a string and only gains its `enum` list.
#[schemars(inline)]
pub enum StartedBy {
    Job,
    TestPlan,
    #[serde(rename = "none")]
    Nothing,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RunStarted {
    pub launch_id: i64,
    pub launch_name: String,
    pub started_by: StartedBy,
    /// True when tests were really started.
    pub running: bool,
    pub job_runs: Vec<JobRunSummary>,
    pub summary: String,
    pub url: String,
}

impl Render for RunStarted {
    fn text(&self) -> String {
        let mut s = format!(
            "{}\nLaunch #{} {} {}\n",
            self.summary, self.launch_id, self.launch_name, self.url
        );
        for j in &self.job_runs {
            s.push_str(&format!(
                "job run #{} {}: {}\n",
                j.id,
                j.name.as_deref().unwrap_or(""),
                j.stage.as_deref().unwrap_or("?")
            ));
        }
        s
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ProjectPageArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// 0-based page number (default 0).
    pub page: Option<u32>,
    /// Items per page, 1-100 (default 25).
    pub size: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct JobLine {
    pub id: i64,
    pub name: String,
    /// CI system: jenkins, github, gitlab…
    pub kind: Option<String>,
    pub ci_url: Option<String>,
    /// Parameters by id with their default values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<JobParam>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct JobParam {
    pub id: i64,
    pub default: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct JobList {
    pub project_id: i64,
    pub jobs: Vec<JobLine>,
    pub page: PageInfo,
}

impl Render for JobList {
    fn text(&self) -> String {
        let mut s = format!(
            "CI jobs of project {} ({}); run one with run_allure_launch(job_id=…):\n",
            self.project_id,
            self.page.text()
        );
        for j in &self.jobs {
            s.push_str(&format!(
                "- #{} {} ({}) {}\n",
                j.id,
                j.name,
                j.kind.as_deref().unwrap_or("?"),
                j.ci_url.as_deref().unwrap_or("")
            ));
            if !j.parameters.is_empty() {
                let ps: Vec<String> = j
                    .parameters
                    .iter()
                    .map(|p| format!("#{} = {}", p.id, p.default.as_deref().unwrap_or("(empty)")))
                    .collect();
                s.push_str(&format!("  parameters: {}\n", ps.join(", ")));
            }
        }
        s
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LaunchIdArgs {
    /// Launch id.
    pub launch_id: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct JobRuns {
    pub launch_id: i64,
    pub job_runs: Vec<JobRunSummary>,
    /// True while any run is scheduled or in progress.
    pub running: bool,
}

impl Render for JobRuns {
    fn text(&self) -> String {
        if self.job_runs.is_empty() {
            return format!(
                "Launch #{} has no CI job runs (it was not started by a job).",
                self.launch_id
            );
        }
        let mut s = format!(
            "Job runs of launch #{}{}:\n",
            self.launch_id,
            if self.running { " (still running)" } else { "" }
        );
        for j in &self.job_runs {
            s.push_str(&format!("- {}\n", j.line()));
        }
        s
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WaitArgs {
    /// Launch to wait for.
    pub launch_id: i64,
    /// Most seconds to wait, 1-3600 (default 600). On timeout the current state is returned; call again to keep waiting.
    pub timeout_s: Option<u32>,
    /// Seconds between checks, 1-60 (default 5; the server may enforce a larger minimum).
    pub poll_interval_s: Option<u32>,
}

/// Why a wait ended: `finished` (all job runs done), `closed` (launch closed),
/// `timeout`, or `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
// Inline, so that the field's schema stays a string and only gains its `enum` list.
#[schemars(inline)]
pub enum WaitEnd {
    Finished,
    // Every job run ended, and at least one could not run on the CI server. (A plain
    // comment: a doc comment would make the schema a oneOf instead of one enum.)
    #[serde(rename = "ci_failed")]
    CiFailed,
    Closed,
    Timeout,
    Cancelled,
}

/// The stage of a job run the CI server could not run (`JobRunStageDto`).
const RUN_FAILURE: &str = "run_failure";

#[derive(Debug, Serialize, JsonSchema)]
pub struct WaitOutcome {
    pub launch_id: i64,
    pub outcome: WaitEnd,
    pub waited_s: u64,
    pub statistic: Statistic,
    pub job_runs: Vec<JobRunSummary>,
    pub url: String,
}

impl Render for WaitOutcome {
    fn text(&self) -> String {
        let head = match self.outcome {
            WaitEnd::Timeout => format!(
                "Launch #{} is still running after {} s; call wait_for_launch again to keep waiting.",
                self.launch_id, self.waited_s
            ),
            WaitEnd::Cancelled => format!(
                "Stopped waiting for launch #{} after {} s (cancelled).",
                self.launch_id, self.waited_s
            ),
            WaitEnd::Finished => {
                format!(
                    "Launch #{} finished after {} s.",
                    self.launch_id, self.waited_s
                )
            }
            WaitEnd::Closed => format!(
                "Launch #{} closed after {} s.",
                self.launch_id, self.waited_s
            ),
            WaitEnd::CiFailed => format!(
                "Launch #{}: its CI job runs ended after {} s, and some FAILED TO RUN on the CI server \
                 (stage {RUN_FAILURE}: their tests did not run). Fix the CI job, then rerun_job_run.",
                self.launch_id, self.waited_s
            ),
        };
        format!(
            "{head}\n{}\n{}{}",
            self.statistic.text(),
            super::launches::job_run_lines(&self.job_runs),
            self.url
        )
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RunTestCaseArgs {
    /// Test case to run.
    pub test_case_id: i64,
    /// Launch to add it to (it gets a result to execute, as in TestOps' "Run" on a test case).
    pub launch_id: i64,
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(RUN_ALLURE_LAUNCH, run_allure_launch),
        tool(LIST_JOBS, list_jobs),
        tool(GET_LAUNCH_JOB_RUNS, get_launch_job_runs),
        tool(WAIT_FOR_LAUNCH, wait_for_launch),
        tool(RUN_TEST_CASE, run_test_case),
    ]
}

const RUN_ALLURE_LAUNCH: Meta = Meta {
    name: "run_allure_launch",
    toolset: Toolset::Runs,
    title: "Run tests in a new launch",
    description: "Start tests in a new launch: with job_id a real CI job run (job parameters by id), with test_plan_id the plan's tests. With neither, only an empty launch is created, and it says so. Never retried: one call, at most one run.",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn run_allure_launch(ctx: Ctx, a: RunLaunchArgs) -> Result<RunStarted, ToolError> {
    let name = required_text("launch_name", &a.launch_name, 255)?;
    let pid = ctx.project(a.project_id)?;
    if (a.parameters.is_some() || a.environments.is_some()) && a.job_id.is_none() {
        return Err(ToolError::InvalidArgs(
            "parameters and environments are a CI job's: give them with job_id".into(),
        ));
    }
    match (a.job_id, a.test_plan_id) {
        (Some(_), Some(_)) => Err(ToolError::InvalidArgs(
            "give job_id or test_plan_id, not both".into(),
        )),
        (Some(job), None) => {
            positive_id("job_id", job, "list_jobs shows the project's CI jobs")?;
            // The job must belong to the project named: running another project's job by a typo would be costly.
            let jobs = ctx
                .client
                .get::<JobsAnswer>(
                    "/job",
                    &[("projectId", pid.to_string()), ("size", "1000".into())],
                )
                .await?
                .into_page();
            let Some(found) = jobs.content.iter().find(|j| j.id == job) else {
                return Err(ToolError::NotFound {
                    what: format!("CI job {job} in project {pid}"),
                    hint: "list_jobs shows the project's jobs.".into(),
                });
            };
            let mut body = json!({"launchName": name});
            if let Some(values) = &a.parameters {
                body["parameters"] = json!(job_parameters(found, values)?);
            }
            if let Some(sets) = a.environments.as_deref().filter(|s| !s.is_empty()) {
                body["envVarValueSets"] = env_sets(&ctx, sets).await?;
            }
            let answer = ctx
                .client
                .post::<Launch>(&format!("/job/{job}/run"), body)
                .await;
            let l = ctx.explain(Subject::Job(job), answer).await?;
            let runs = job_runs(&ctx, l.id).await.unwrap_or_default();
            Ok(RunStarted {
                url: ctx.link(&format!("/launch/{}", l.id)),
                summary: format!(
                    "Started CI job {job}: launch #{} collects its results. wait_for_launch waits for it.",
                    l.id
                ),
                launch_id: l.id,
                launch_name: l.name,
                started_by: StartedBy::Job,
                running: true,
                job_runs: runs.into_iter().map(JobRunSummary::from).collect(),
            })
        }
        (None, Some(plan)) => {
            positive_id(
                "test_plan_id",
                plan,
                "list_test_plans shows the project's plans",
            )?;
            let answer = ctx
                .client
                .post::<Launch>(
                    &format!("/testplan/{plan}/run"),
                    json!({"launchName": name}),
                )
                .await;
            let l = ctx.explain(Subject::TestPlan(plan), answer).await?;
            let runs = job_runs(&ctx, l.id).await.unwrap_or_default();
            Ok(RunStarted {
                url: ctx.link(&format!("/launch/{}", l.id)),
                summary: format!("Started test plan {plan} in launch #{}.", l.id),
                launch_id: l.id,
                launch_name: l.name,
                started_by: StartedBy::TestPlan,
                running: true,
                job_runs: runs.into_iter().map(JobRunSummary::from).collect(),
            })
        }
        (None, None) => {
            let answer = ctx
                .client
                .post::<Launch>("/launch", json!({"name": name, "projectId": pid}))
                .await;
            let l = ctx.explain(Subject::Project(pid), answer).await?;
            Ok(RunStarted {
                url: ctx.link(&format!("/launch/{}", l.id)),
                summary: format!(
                    "Created an empty launch #{}; NOTHING WAS STARTED. To run tests, call again with job_id (list_jobs) or test_plan_id (list_test_plans).",
                    l.id
                ),
                launch_id: l.id,
                launch_name: l.name,
                started_by: StartedBy::Nothing,
                running: false,
                job_runs: vec![],
            })
        }
    }
}

const LIST_JOBS: Meta = Meta {
    name: "list_jobs",
    toolset: Toolset::Runs,
    title: "List CI jobs",
    description: "List the CI jobs (Jenkins, GitHub Actions, GitLab…) connected to a project, with parameter ids and defaults for run_allure_launch.",
    access: Access::Read,
};

async fn list_jobs(ctx: Ctx, a: ProjectPageArgs) -> Result<JobList, ToolError> {
    let (pid, q) = ctx.project_query(a.project_id, a.page, a.size, 25)?;
    let answer: JobsAnswer = ctx.project_get("/job", pid, &q).await?;
    let p = answer.into_page();
    Ok(JobList {
        project_id: pid,
        page: PageInfo::of(&p),
        jobs: p
            .content
            .into_iter()
            .map(|j| JobLine {
                id: j.id,
                name: j.name,
                kind: j.kind.map(|k| k.to_lowercase()),
                ci_url: j.url,
                parameters: j
                    .parameters
                    .into_iter()
                    .map(|p| JobParam {
                        id: p.id,
                        default: p.value,
                    })
                    .collect(),
            })
            .collect(),
    })
}

const GET_LAUNCH_JOB_RUNS: Meta = Meta {
    name: "get_launch_job_runs",
    toolset: Toolset::Runs,
    title: "CI job runs of a launch",
    description: "Only the CI job runs feeding a launch: stage (scheduled, in_progress, finished, run_failure), status, CI link and error, with the ids rerun_job_run takes.",
    access: Access::Read,
};

async fn get_launch_job_runs(ctx: Ctx, a: LaunchIdArgs) -> Result<JobRuns, ToolError> {
    let id = positive_id("launch_id", a.launch_id, "list_launches shows launch ids")?;
    let runs = job_runs(&ctx, id).await?;
    let running = runs.iter().any(|r| !done_stage(r.stage.as_deref()));
    Ok(JobRuns {
        launch_id: id,
        running,
        job_runs: runs.into_iter().map(JobRunSummary::from).collect(),
    })
}

/// The job's own parameters with the values asked for: a run sends the whole list back
/// (`JobRunRequestDto.parameters`), so the parameters not named keep their defaults.
/// A parameter id the job does not have is refused with the ones it has.
fn job_parameters(
    job: &crate::allure::model::Job,
    values: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<crate::allure::model::JobParameter>, ToolError> {
    let mut out = job.parameters.clone();
    for (key, value) in values {
        let slot = key
            .trim()
            .trim_start_matches('#')
            .parse::<i64>()
            .ok()
            .and_then(|id| out.iter_mut().find(|p| p.id == id));
        let Some(slot) = slot else {
            let has: Vec<String> = job.parameters.iter().map(|p| p.id.to_string()).collect();
            return Err(ToolError::InvalidArgs(format!(
                "job {} has no parameter '{key}'; its parameter ids are: {} (list_jobs shows them with their defaults)",
                job.id,
                if has.is_empty() {
                    "none".to_owned()
                } else {
                    has.join(", ")
                }
            )));
        };
        slot.value = Some(value.clone());
    }
    Ok(out)
}

/// `envVarValueSets` from sets of variable name to value name, each value looked up
/// (`GET /ev`, `GET /evv?envVarId=`); an unknown variable or value is refused with
/// what exists, before anything runs.
async fn env_sets(
    ctx: &Ctx,
    sets: &[std::collections::BTreeMap<String, String>],
) -> Result<serde_json::Value, ToolError> {
    use crate::allure::model::{EnvVar, EnvVarValue};
    if sets.len() > 20 {
        return Err(ToolError::InvalidArgs(
            "at most 20 environment sets (each is a CI run)".into(),
        ));
    }
    let vars: Vec<EnvVar> = ctx.client.get("/ev", &[]).await?;
    let mut out = Vec::new();
    for set in sets {
        let mut values = Vec::new();
        for (var, value) in set {
            let Some(v) = vars
                .iter()
                .find(|v| v.name.eq_ignore_ascii_case(var.trim()))
            else {
                let names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
                return Err(ToolError::InvalidArgs(format!(
                    "no environment variable '{var}'; they are: {}",
                    names.join(", ")
                )));
            };
            let known: Vec<EnvVarValue> = ctx
                .client
                .get("/evv", &[("envVarId", v.id.to_string())])
                .await?;
            let Some(found) = known
                .iter()
                .find(|x| x.name.eq_ignore_ascii_case(value.trim()))
            else {
                let names: Vec<&str> = known.iter().map(|x| x.name.as_str()).collect();
                return Err(ToolError::InvalidArgs(format!(
                    "environment variable '{}' has no value '{value}'; it has: {}",
                    v.name,
                    names.join(", ")
                )));
            };
            values.push(json!({"id": found.id, "name": found.name, "variable": {"id": v.id, "name": v.name}}));
        }
        out.push(json!({"values": values}));
    }
    Ok(json!(out))
}

/// What a wait reports while it waits: where each job run is, and what the launch holds
/// so far. `2/3 job runs finished (1 in_progress); 120 results so far, 7 failed or broken; 45 s`.
fn progress_line(runs: &[JobRun], stat: Option<&Statistic>, elapsed: Duration) -> String {
    let finished = runs
        .iter()
        .filter(|r| done_stage(r.stage.as_deref()))
        .count();
    let mut stages: Vec<(&str, usize)> = Vec::new();
    for r in runs.iter().filter(|r| !done_stage(r.stage.as_deref())) {
        let stage = r.stage.as_deref().unwrap_or("unknown");
        match stages.iter_mut().find(|(s, _)| *s == stage) {
            Some((_, n)) => *n += 1,
            None => stages.push((stage, 1)),
        }
    }
    let mut line = format!("{finished}/{} job runs finished", runs.len());
    if !stages.is_empty() {
        let going: Vec<String> = stages.iter().map(|(s, n)| format!("{n} {s}")).collect();
        line.push_str(&format!(" ({})", going.join(", ")));
    }
    if let Some(st) = stat {
        line.push_str(&format!(
            "; {} results so far, {} failed or broken",
            st.total,
            st.failed + st.broken
        ));
    }
    line.push_str(&format!("; {} s", elapsed.as_secs()));
    line
}

const WAIT_FOR_LAUNCH: Meta = Meta {
    name: "wait_for_launch",
    toolset: Toolset::Runs,
    title: "Wait for a launch to finish",
    description: "Wait until a launch's CI job runs have all finished or the launch is closed, checking every poll_interval_s and sending progress notifications; returns the final statistic. Cancellable. On timeout it returns the current state (call again to keep waiting).",
    access: Access::Read,
};

async fn wait_for_launch(ctx: Ctx, a: WaitArgs) -> Result<WaitOutcome, ToolError> {
    let timeout = a.timeout_s.unwrap_or(600);
    let every = a.poll_interval_s.unwrap_or(5);
    if !(1..=3600).contains(&timeout) || !(1..=60).contains(&every) {
        return Err(ToolError::InvalidArgs(
            "timeout_s must be 1..=3600 and poll_interval_s 1..=60".into(),
        ));
    }
    let who = ctx
        .scope
        .audit
        .identity
        .clone()
        .unwrap_or_else(|| "local".into());
    let Some(_slot) = ctx.limits.start_wait(&who) else {
        return Err(ToolError::Other(format!(
            "{} waits are already running for this client (the most at once); let one finish or cancel it, or check get_launch_status instead",
            ctx.limits.max_waits_per_identity
        )));
    };
    // However small the interval asked for, upstream is not checked more often.
    let every = Duration::from_secs(every.into()).max(ctx.limits.min_poll_interval);
    let l = launch(&ctx, a.launch_id).await?;
    let started = Instant::now();
    let deadline = Duration::from_secs(timeout.into());
    let mut checks = 0u32;
    let outcome = loop {
        checks += 1;
        let lp = format!("/launch/{}", l.id);
        let (launch_now, runs, stat) = tokio::join!(
            ctx.client.get::<Launch>(&lp, &[]),
            job_runs(&ctx, l.id),
            statistic(&ctx, l.id)
        );
        let (launch_now, runs) = (launch_now?, runs?);
        let finished = runs
            .iter()
            .filter(|r| done_stage(r.stage.as_deref()))
            .count();
        // A job run still going is waited for even in a closed launch: a rerun of
        // failed tests runs in the launch it reruns, which may have been closed.
        if !runs.is_empty() && finished == runs.len() {
            let failed_to_run = runs.iter().any(|r| r.stage.as_deref() == Some(RUN_FAILURE));
            break if failed_to_run {
                WaitEnd::CiFailed
            } else {
                WaitEnd::Finished
            };
        }
        if launch_now.closed && finished == runs.len() {
            break WaitEnd::Closed;
        }
        let elapsed = started.elapsed();
        ctx.scope
            .progress(
                checks as f64,
                None,
                progress_line(&runs, stat.ok().as_ref(), elapsed),
            )
            .await;
        if elapsed >= deadline {
            break WaitEnd::Timeout;
        }
        let nap = every.min(deadline - elapsed);
        tokio::select! {
            _ = tokio::time::sleep(nap) => {}
            _ = ctx.scope.cancel.cancelled() => break WaitEnd::Cancelled,
        }
    };
    let (stat, runs) = tokio::join!(statistic(&ctx, l.id), job_runs(&ctx, l.id));
    Ok(WaitOutcome {
        launch_id: l.id,
        outcome,
        waited_s: started.elapsed().as_secs(),
        statistic: stat?,
        job_runs: runs?.into_iter().map(JobRunSummary::from).collect(),
        url: ctx.link(&format!("/launch/{}", l.id)),
    })
}

const RUN_TEST_CASE: Meta = Meta {
    name: "run_test_case",
    toolset: Toolset::Runs,
    title: "Run a test case in a launch",
    description: "Add one test case to an existing launch for execution, as TestOps' Run on a test case does. For several at once, with assignees, add_test_cases_to_launch.",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn run_test_case(ctx: Ctx, a: RunTestCaseArgs) -> Result<Done, ToolError> {
    let tc_id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let l = launch(&ctx, a.launch_id).await?;
    let tc: TestCase = ctx
        .client
        .get(&format!("/testcase/{tc_id}"), &[])
        .await
        .map_err(|e| ToolError::case_not_found(e, tc_id))?;
    let pid = tc.project_id.or(l.project_id).unwrap_or(0);
    if l.project_id.is_some_and(|lp| lp != pid) {
        return Err(ToolError::InvalidArgs(format!(
            "test case {tc_id} is in project {pid} but launch {} is in project {}",
            l.id,
            l.project_id.unwrap_or(0)
        )));
    }
    let _: Option<serde_json::Value> = ctx
        .client
        .post("/v2/test-case/bulk/run/existing", json!({"launchId": l.id, "selection": {"projectId": pid, "testCasesInclude": [tc_id], "inverted": false}}))
        .await?;
    Ok(Done {
        summary: format!(
            "Test case #{tc_id} {} is added to launch #{} for execution.",
            tc.name, l.id
        ),
        ids: vec![tc_id],
        url: Some(ctx.link(&format!("/launch/{}", l.id))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names<T: Serialize>(v: &[T]) -> Vec<serde_json::Value> {
        v.iter().map(|x| serde_json::to_value(x).unwrap()).collect()
    }

    #[test]
    fn answers_name_their_values_as_before() {
        assert_eq!(
            names(&[StartedBy::Job, StartedBy::TestPlan, StartedBy::Nothing]),
            ["job", "test_plan", "none"]
        );
        assert_eq!(
            names(&[
                WaitEnd::Finished,
                WaitEnd::CiFailed,
                WaitEnd::Closed,
                WaitEnd::Timeout,
                WaitEnd::Cancelled
            ]),
            ["finished", "ci_failed", "closed", "timeout", "cancelled"]
        );
    }
}
