//! Lookups that several areas share: a launch, its statistic, CI job runs and results,
//! the launch before it, links to results, and the bulk selection of results. Only
//! reads and pure helpers live here, so every area may use it and it uses no area.

use std::collections::HashSet;

use serde_json::json;

use super::render::Statistic;
use super::{Ctx, ToolError, positive_id};
use crate::allure::model::{JobRun, Launch, StatusCount, TestResult, TestStatus};
use crate::allure::{AllureError, Page};

/// Reads a launch, or says plainly that it does not exist.
pub(super) async fn launch(ctx: &Ctx, id: i64) -> Result<Launch, ToolError> {
    positive_id("launch_id", id, "list_launches shows launch ids")?;
    ctx.client
        .get::<Launch>(&format!("/launch/{id}"), &[])
        .await
        .map_err(|e| ToolError::launch_not_found(e, id))
}

/// A launch's counts by status.
pub(super) async fn statistic(ctx: &Ctx, id: i64) -> Result<Statistic, ToolError> {
    let s: Vec<StatusCount> = ctx
        .client
        .get(&format!("/launch/{id}/statistic"), &[])
        .await?;
    Ok(Statistic::from_counts(&s))
}

/// The CI job runs feeding a launch.
pub(super) async fn job_runs(ctx: &Ctx, launch_id: i64) -> Result<Vec<JobRun>, ToolError> {
    ctx.client
        .get::<Vec<JobRun>>(&format!("/launch/{launch_id}/job"), &[])
        .await
        .map_err(|e| ToolError::launch_not_found(e, launch_id))
}

/// A job run's stage says it will not change any more.
pub(super) fn done_stage(stage: Option<&str>) -> bool {
    matches!(stage, Some("finished") | Some("run_failure"))
}

/// Every visible result of a launch (full DTOs, with messages), up to `max` of them.
pub(super) async fn all_results(
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

/// A status that counts as a failure (failed or broken).
pub(super) fn failing(status: Option<TestStatus>) -> bool {
    status.is_some_and(TestStatus::is_failing)
}

/// The link to a result in the TestOps UI: in its launch's tree when the launch is known.
pub(super) fn result_url(ctx: &Ctx, launch_id: Option<i64>, id: i64) -> String {
    match launch_id {
        Some(l) => ctx.link(&format!("/launch/{l}/tree/{id}")),
        None => ctx.link(&format!("/testresult/{id}")),
    }
}

/// A test-result selection of the bulk endpoints: these leaves of this launch.
pub(super) fn selection(launch_id: i64, ids: &[i64]) -> serde_json::Value {
    json!({"launchId": launch_id, "leafsInclude": ids, "inverted": false})
}

/// The launch before `l` from the same CI job or with the same name family.
pub(super) async fn previous_launch(ctx: &Ctx, l: &Launch) -> Result<Option<Launch>, ToolError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
