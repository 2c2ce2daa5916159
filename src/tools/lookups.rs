//! Lookups that several areas share: a launch, its statistic, CI job runs and results,
//! the launch before it, links to results, and the bulk selection of results. Only
//! reads and pure helpers live here, so every area may use it and it uses no area.

use std::collections::HashSet;

use serde_json::json;

use super::render::Statistic;
use super::{Ctx, Subject, ToolError, positive_id};
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
    let answer = ctx
        .client
        .get::<Vec<StatusCount>>(&format!("/launch/{id}/statistic"), &[])
        .await;
    let s = ctx.explain(Subject::Launch(id), answer).await?;
    Ok(Statistic::from_counts(&s))
}

/// The CI job runs feeding a launch.
pub(super) async fn job_runs(ctx: &Ctx, launch_id: i64) -> Result<Vec<JobRun>, ToolError> {
    let answer = ctx
        .client
        .get::<Vec<JobRun>>(&format!("/launch/{launch_id}/job"), &[])
        .await;
    ctx.explain(Subject::Launch(launch_id), answer).await
}

/// A job run's stage says it will not change any more.
pub(super) fn done_stage(stage: Option<&str>) -> bool {
    matches!(stage, Some("finished") | Some("run_failure"))
}

/// The results of a launch as far as they were read, and why reading stopped early.
pub(super) struct LaunchResults {
    pub(super) items: Vec<TestResult>,
    /// Why not every result was read (`None`: all were), phrased for the model.
    pub(super) cut: Option<String>,
}

/// Results per page when reading a whole launch.
const RESULTS_PAGE: usize = 100;

/// Every visible result of a launch (full DTOs, with messages), up to `max` of them, and
/// only until `deadline`. Pages are read by id so none is skipped or read twice while
/// the launch grows. Reading stops after `max` results or `max` / 100 pages, at the first
/// empty page whatever `totalPages` says, at the deadline (a page it cuts off is dropped),
/// and at a page that fails; each early stop is said in `cut`. Only a first page that
/// fails is an error: without it there is nothing to report.
/// A cut is also told to the client as it happens (`Info`), for clients that show logs.
pub(super) async fn all_results(
    ctx: &Ctx,
    launch_id: i64,
    max: usize,
    deadline: tokio::time::Instant,
) -> Result<LaunchResults, AllureError> {
    let read = read_results(ctx, launch_id, max, deadline).await?;
    if let Some(cut) = &read.cut {
        ctx.scope
            .note(super::Severity::Info, format!("launch #{launch_id}: {cut}"));
    }
    Ok(read)
}

async fn read_results(
    ctx: &Ctx,
    launch_id: i64,
    max: usize,
    deadline: tokio::time::Instant,
) -> Result<LaunchResults, AllureError> {
    let mut items = Vec::new();
    let max_pages = max.div_ceil(RESULTS_PAGE);
    for page in 0..max_pages {
        let query = [
            ("launchId", launch_id.to_string()),
            ("page", page.to_string()),
            ("size", RESULTS_PAGE.to_string()),
            ("sort", "id,asc".to_owned()),
        ];
        let read = ctx.client.get::<Page<TestResult>>("/testresult", &query);
        let answer = match tokio::time::timeout_at(deadline, read).await {
            Ok(answer) => answer,
            Err(_) => Err(AllureError::Timeout {
                method: "GET".into(),
                path: "/testresult".into(),
                timeout: ctx.client.timeout(),
            }),
        };
        let p = match answer {
            Ok(p) => p,
            Err(e) if page == 0 => return Err(e),
            Err(e) => {
                let cut = match e {
                    AllureError::Timeout { .. } => format!(
                        "only the first {} results were read: Allure TestOps did not give the rest within REQUEST_TIMEOUT ({} s)",
                        items.len(),
                        ctx.client.timeout().as_secs()
                    ),
                    other => format!(
                        "only the first {} results were read: page {page} failed ({other})",
                        items.len()
                    ),
                };
                return Ok(LaunchResults {
                    items,
                    cut: Some(cut),
                });
            }
        };
        let claimed_more = p.claims_more();
        let empty = p.content.is_empty();
        items.extend(p.content);
        if items.len() >= max {
            break;
        }
        if empty && claimed_more {
            let cut = format!(
                "only the first {} results were read: Allure TestOps answered page {page} empty while it counts {} pages",
                items.len(),
                p.total_pages
            );
            return Ok(LaunchResults {
                items,
                cut: Some(cut),
            });
        }
        if !claimed_more || empty {
            return Ok(LaunchResults { items, cut: None });
        }
    }
    items.truncate(max);
    let cut = format!(
        "only the first {} results ({max_pages} pages at most) were read; the launch has more",
        items.len()
    );
    Ok(LaunchResults {
        items,
        cut: Some(cut),
    })
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
                ("sort", "created_date,desc".into()),
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
