//! Reruns: a finished CI job run again, or only a launch's failed and broken tests
//! through its job runs' own rerun. Neither is ever retried automatically: a retry
//! would start another CI run.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::lookups::{done_stage, job_runs, launch};
use super::render::JobRunSummary;
use super::{
    Access, Ctx, Done, Meta, Render, Subject, ToolDef, ToolError, Toolset, positive_id, tool,
};
use crate::allure::model::JobRun;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(RERUN_JOB_RUN, rerun_job_run),
        tool(RERUN_FAILED_TESTS, rerun_failed_tests),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct JobRunIdArgs {
    /// Job run id (get_launch_job_runs shows them).
    pub job_run_id: i64,
}

const RERUN_JOB_RUN: Meta = Meta {
    name: "rerun_job_run",
    toolset: Toolset::Runs,
    title: "Rerun a CI job run",
    description: "Run a launch's CI job run again (same job, same launch), e.g. after fixing infrastructure. Never retried automatically.",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn rerun_job_run(ctx: Ctx, a: JobRunIdArgs) -> Result<Done, ToolError> {
    let id = positive_id(
        "job_run_id",
        a.job_run_id,
        "get_launch_job_runs shows job run ids",
    )?;
    let run: JobRun = ctx
        .client
        .get(&format!("/jobrun/{id}"), &[])
        .await
        .map_err(|e| {
            ToolError::not_found(
                e,
                format!("Job run {id}"),
                "get_launch_job_runs shows a launch's job runs.",
            )
        })?;
    if !done_stage(run.stage.as_deref()) {
        return Err(ToolError::InvalidArgs(format!(
            "job run {id} is still {}; wait for it to finish (wait_for_launch) before rerunning",
            run.stage.as_deref().unwrap_or("running")
        )));
    }
    let job = run.job.as_ref().map(|j| j.id);
    // A rerun may start a new job run: one already going for this launch and job (an
    // earlier rerun) is the run to wait for, not a reason to start another.
    if let Some(l) = run.launch_id
        && let Some(going) = running_of(&job_runs(&ctx, l).await?, job)
    {
        return Err(ToolError::InvalidArgs(format!(
            "job run #{} of launch #{l} (this job's rerun) is still {}; wait for it (wait_for_launch) before rerunning",
            going.id,
            going.stage.as_deref().unwrap_or("running")
        )));
    }
    // Answered 202 with no body: what will run is read back, not assumed.
    let answer = ctx
        .client
        .post::<Option<serde_json::Value>>(&format!("/jobrun/{id}/rerun"), json!({}))
        .await;
    ctx.explain(Subject::JobRun(id), answer).await?;
    let Some(l) = run.launch_id else {
        return Ok(Done {
            summary: format!(
                "Allure TestOps accepted the rerun of job run #{id} (it names no launch to follow)."
            ),
            ids: vec![id],
            url: None,
        });
    };
    let after = job_runs(&ctx, l).await?;
    let going = running_of(&after, job);
    let summary = match going {
        Some(r) if r.id == id => format!(
            "Job run #{id} is {} again for launch #{l}.",
            r.stage.as_deref().unwrap_or("scheduled")
        ),
        Some(r) => format!(
            "Rerun of job run #{id} accepted: job run #{} ({}) runs it for launch #{l}; wait_for_launch follows it.",
            r.id,
            r.stage.as_deref().unwrap_or("scheduled")
        ),
        None => format!(
            "Allure TestOps accepted the rerun of job run #{id} (202), but launch #{l} shows no job run going yet; call get_launch_job_runs shortly to see whether it started."
        ),
    };
    Ok(Done {
        summary,
        ids: vec![going.map_or(id, |r| r.id)],
        url: Some(ctx.link(&format!("/launch/{l}"))),
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RerunFailedArgs {
    /// Launch whose failed and broken tests to rerun (list_launches shows ids).
    pub launch_id: i64,
    /// Narrows the selection with AQL over the launch's results, e.g. `message ~= "timeout"` (see allure://aql-guide).
    pub aql: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RerunStarted {
    pub launch_id: i64,
    /// How many results the selection matched.
    pub selected: i64,
    /// The AQL each job run reruns.
    pub aql: String,
    /// The job runs now rerunning them; follow with wait_for_launch.
    pub job_runs: Vec<JobRunSummary>,
    /// The launch was closed and was reopened for the rerun's results.
    pub reopened: bool,
    pub url: String,
}

impl Render for RerunStarted {
    fn text(&self) -> String {
        if self.job_runs.is_empty() {
            return format!(
                "No result of launch #{} matches {}: nothing was rerun. {}",
                self.launch_id, self.aql, self.url
            );
        }
        let mut s = format!(
            "Rerunning {} result(s) of launch #{} ({}){} {}\n",
            self.selected,
            self.launch_id,
            self.aql,
            if self.reopened {
                "; the launch was closed and is reopened"
            } else {
                ""
            },
            self.url
        );
        for j in &self.job_runs {
            s.push_str(&j.line());
            s.push('\n');
        }
        s.push_str(&format!(
            "Next: wait_for_launch(launch_id={}).",
            self.launch_id
        ));
        s
    }
}

const RERUN_FAILED_TESTS: Meta = Meta {
    name: "rerun_failed_tests",
    toolset: Toolset::Runs,
    title: "Rerun a launch's failed tests",
    description: "Rerun only the failed and broken tests of a launch (optionally narrowed by AQL) through its CI jobs, in the same launch. Answers the job runs started; then wait_for_launch.",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

/// What a rerun selects by default: what did not pass for a reason a rerun may change.
const FAILED: &str = r#"status in ["failed", "broken"]"#;

async fn rerun_failed_tests(ctx: Ctx, a: RerunFailedArgs) -> Result<RerunStarted, ToolError> {
    let l = launch(&ctx, a.launch_id).await?;
    let id = l.id;
    let project = match l.project_id {
        Some(p) => p,
        None => ctx.project(None)?,
    };
    let aql = match a.aql.as_deref().map(super::aql::check_query).transpose()? {
        Some(extra) => format!("{FAILED} and ({extra})"),
        None => FAILED.to_owned(),
    };
    let runs = job_runs(&ctx, id).await?;
    if runs.is_empty() {
        return Err(ToolError::InvalidArgs(format!(
            "launch #{id} has no CI job runs (its results were uploaded, not run by a job), so there is nothing to rerun them with; start a new run with run_allure_launch"
        )));
    }
    if let Some(going) = runs.iter().find(|r| !done_stage(r.stage.as_deref())) {
        return Err(ToolError::InvalidArgs(format!(
            "job run #{} of launch #{id} is still {}; wait for it (wait_for_launch) before rerunning",
            going.id,
            going.stage.as_deref().unwrap_or("running")
        )));
    }
    let count: crate::allure::model::AqlValidation = ctx
        .client
        .get(
            "/testresult/query/validate",
            &[
                ("projectId", project.to_string()),
                ("rql", format!("launch = {id} and {aql}")),
            ],
        )
        .await
        .map_err(super::aql::aql_error)?;
    if !count.valid {
        return Err(ToolError::InvalidArgs(format!(
            "the AQL `{aql}` is not valid; read the resource allure://aql-guide, or check it with validate_aql"
        )));
    }
    let selected = count.count.unwrap_or(0);
    let url = ctx.link(&format!("/launch/{id}"));
    if selected == 0 {
        return Ok(RerunStarted {
            launch_id: id,
            selected,
            aql,
            job_runs: vec![],
            reopened: false,
            url,
        });
    }
    // A closed launch takes no new results: it is reopened first, as the one public
    // client of this route does (docs/allure-api.md, "CI jobs and job runs").
    if l.closed {
        let answer = ctx.client.post_empty(&format!("/launch/{id}/reopen")).await;
        ctx.explain(Subject::Launch(id), answer).await?;
    }
    let mut started = Vec::new();
    for r in latest_batch(&runs) {
        // Answered 202 with no body: what runs is read back below.
        let answer = ctx
            .client
            .post::<Option<serde_json::Value>>(
                &format!("/jobrun/{}/rerun", r.id),
                json!({ "rql": aql }),
            )
            .await;
        if let Err(e) = ctx.explain(Subject::JobRun(r.id), answer).await {
            // Say what already happened, so a second call does not start it twice.
            let mut done = Vec::new();
            if l.closed {
                done.push(format!("launch #{id} was reopened"));
            }
            if !started.is_empty() {
                done.push(format!("reruns of job runs {started:?} were started"));
            }
            let done = if done.is_empty() {
                "nothing was started".to_owned()
            } else {
                done.join(" and ")
            };
            return Err(ToolError::Other(format!(
                "rerunning job run #{} failed: {e}. Before that, {done}; get_launch_job_runs shows what is going",
                r.id
            )));
        }
        started.push(r.id);
    }
    let after = job_runs(&ctx, id).await?;
    Ok(RerunStarted {
        launch_id: id,
        selected,
        aql,
        job_runs: after
            .into_iter()
            .filter(|r| !done_stage(r.stage.as_deref()))
            .map(JobRunSummary::from)
            .collect(),
        reopened: l.closed,
        url,
    })
}

/// The job runs whose results a launch shows: for each job, its newest run and the runs
/// started with it (a run with several environment sets starts one job run per set, all
/// at once). Older runs of a job were superseded by a later rerun and are left alone.
/// "With it" is within a minute: a rerun can only start after its run has finished.
fn latest_batch(runs: &[JobRun]) -> Vec<&JobRun> {
    const BATCH_MS: i64 = 60_000;
    let mut out: Vec<&JobRun> = Vec::new();
    for r in runs {
        let job = r.job.as_ref().map(|j| j.id);
        let newest = runs
            .iter()
            .filter(|x| x.job.as_ref().map(|j| j.id) == job)
            .max_by_key(|x| (x.created_date, x.id));
        let Some(newest) = newest else { continue };
        let with_newest = match (r.created_date, newest.created_date) {
            (Some(a), Some(b)) => b - a <= BATCH_MS,
            _ => r.id == newest.id,
        };
        if with_newest {
            out.push(r);
        }
    }
    out
}

/// The newest job run of `job` that has not finished, if any.
fn running_of(runs: &[JobRun], job: Option<i64>) -> Option<&JobRun> {
    runs.iter()
        .filter(|r| !done_stage(r.stage.as_deref()) && r.job.as_ref().map(|j| j.id) == job)
        .max_by_key(|r| r.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: i64, job: i64, created: i64) -> JobRun {
        serde_json::from_value(
            json!({"id": id, "job": {"id": job}, "createdDate": created, "stage": "finished"}),
        )
        .unwrap()
    }

    #[test]
    fn the_latest_batch_is_each_jobs_newest_run_and_those_started_with_it() {
        let hour = 3_600_000;
        let runs = [
            run(1, 7, 0),          // superseded by the rerun below
            run(2, 7, hour),       // a rerun, with two environment sets
            run(3, 7, hour + 500), // the other environment set
            run(4, 8, 10),         // another job's only run
        ];
        let ids: Vec<i64> = latest_batch(&runs).iter().map(|r| r.id).collect();
        assert_eq!(ids, [2, 3, 4]);
        // Without dates, the newest run of each job alone.
        let undated: Vec<JobRun> = [(5, 7), (6, 7)]
            .iter()
            .map(|(id, job)| serde_json::from_value(json!({"id": id, "job": {"id": job}})).unwrap())
            .collect();
        let ids: Vec<i64> = latest_batch(&undated).iter().map(|r| r.id).collect();
        assert_eq!(ids, [6]);
    }
}
