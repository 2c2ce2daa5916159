//! Which launches an analysis looks at: a project's newest, narrowed by CI job, name,
//! tag or age. One reading for the trend and for flaky tests, so both mean the same by
//! "the nightly's last 10 launches".

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Ctx, ToolError};
use crate::allure::Page;
use crate::allure::model::Launch;

/// Narrows the launches an analysis reads. Every filter is optional; together they all apply.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
pub struct LaunchFilter {
    /// Only launches fed by this CI job (list_jobs shows ids).
    pub job_id: Option<i64>,
    /// Only launches whose name contains this, case-insensitive, e.g. "nightly".
    pub launch_name: Option<String>,
    /// Only launches with this tag.
    pub tag: Option<String>,
    /// Only launches created in the last this many days (1-365).
    pub days: Option<u32>,
}

/// Launches read per page, and pages read at most: a filter that matches rarely stops
/// after the newest 500 launches rather than paging through years.
const PAGE: u32 = 100;
const MAX_PAGES: u32 = 5;

impl LaunchFilter {
    /// What the filter says, for answers: `job #7, name ~ "nightly", last 14 days`.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(j) = self.job_id {
            parts.push(format!("job #{j}"));
        }
        if let Some(n) = &self.launch_name {
            parts.push(format!("name ~ \"{n}\""));
        }
        if let Some(t) = &self.tag {
            parts.push(format!("tag {t}"));
        }
        if let Some(d) = self.days {
            parts.push(format!("last {d} days"));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    fn check(&self) -> Result<(), ToolError> {
        if let Some(d) = self.days
            && !(1..=365).contains(&d)
        {
            return Err(ToolError::InvalidArgs(format!(
                "days must be 1..=365, got {d}"
            )));
        }
        if let Some(j) = self.job_id {
            super::positive_id("job_id", j, "list_jobs shows job ids")?;
        }
        Ok(())
    }

    fn keeps(&self, l: &Launch) -> bool {
        let job = self.job_id.is_none_or(|j| {
            l.jobs
                .iter()
                .flatten()
                .any(|r| r.job.as_ref().is_some_and(|x| x.id == j))
        });
        let name = self
            .launch_name
            .as_deref()
            .is_none_or(|n| l.name.to_lowercase().contains(&n.trim().to_lowercase()));
        let tag = self.tag.as_deref().is_none_or(|t| {
            l.tags.iter().any(|x| {
                x.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(t.trim()))
            })
        });
        job && name && tag
    }
}

/// The newest `n` launches of a project the filter keeps, newest first, each with its
/// statistic and job runs (`LaunchPreviewDto`).
pub(super) async fn launches(
    ctx: &Ctx,
    project_id: i64,
    filter: &LaunchFilter,
    n: usize,
) -> Result<Vec<Launch>, ToolError> {
    filter.check()?;
    let since = filter.days.map(|d| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|t| t.as_millis() as i64)
            .unwrap_or(0);
        now - i64::from(d) * 86_400_000
    });
    // Without a filter the newest `n` are the answer: one page of exactly those.
    let size = if filter.describe().is_none() {
        (n as u32).clamp(1, PAGE)
    } else {
        PAGE
    };
    let mut kept = Vec::new();
    for page in 0..MAX_PAGES {
        let p: Page<Launch> = ctx
            .project_get(
                "/launch",
                project_id,
                &[
                    ("projectId", project_id.to_string()),
                    ("sort", "created_date,desc".into()),
                    ("page", page.to_string()),
                    ("size", size.to_string()),
                ],
            )
            .await?;
        let more = p.claims_more() && !p.content.is_empty();
        // A launch list without job runs (`PageLaunchDto` rather than previews) cannot be
        // filtered by job: say so, rather than that no launch matched.
        if filter.job_id.is_some() && p.content.iter().any(|l| l.jobs.is_none()) {
            return Err(ToolError::InvalidArgs(
                "this Allure TestOps instance lists launches without their job runs, so they cannot be filtered by job_id; filter by launch_name or tag instead".into(),
            ));
        }
        for l in p.content {
            if since.is_some_and(|s| l.created_date.is_some_and(|c| c < s)) {
                return Ok(kept);
            }
            if filter.keeps(&l) {
                kept.push(l);
                if kept.len() >= n {
                    return Ok(kept);
                }
            }
        }
        if !more {
            break;
        }
    }
    Ok(kept)
}
