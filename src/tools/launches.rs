//! Launches: list a project's launches and read one launch with its statistic and CI runs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::render::{Statistic, time};
use super::{Ctx, Meta, PageInfo, Render, ToolDef, ToolError, Toolset, paging, tool};
use crate::allure::Page;
use crate::allure::model::{JobRun, Launch, StatusCount};

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

/// A launch in a list.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LaunchSummary {
    pub id: i64,
    pub name: String,
    /// "open" (results may still arrive) or "closed".
    pub state: &'static str,
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
            state: if l.closed { "closed" } else { "open" },
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
                .map(Statistic::text)
                .unwrap_or_default();
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

/// A CI job run that feeds a launch.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JobRunSummary {
    pub id: i64,
    pub name: Option<String>,
    pub job_id: Option<i64>,
    /// scheduled, in_progress, finished or run_failure.
    pub stage: Option<String>,
    /// passed, failed, cancelled or unknown.
    pub status: Option<String>,
    /// Link to the run on the CI server.
    pub ci_url: Option<String>,
    pub error: Option<String>,
}

impl From<JobRun> for JobRunSummary {
    fn from(j: JobRun) -> Self {
        JobRunSummary {
            id: j.id,
            name: j.name,
            job_id: j.job.map(|x| x.id),
            stage: j.stage,
            status: j.status,
            ci_url: j.url,
            error: j.error_message,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LaunchDetails {
    pub id: i64,
    pub name: String,
    pub project_id: Option<i64>,
    pub state: &'static str,
    pub created: Option<String>,
    pub last_modified: Option<String>,
    pub created_by: Option<String>,
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
            s.push_str(&format!(
                "created {c}{}\n",
                self.created_by
                    .as_ref()
                    .map(|b| format!(" by {b}"))
                    .unwrap_or_default()
            ));
        }
        if !self.tags.is_empty() {
            s.push_str(&format!("tags: {}\n", self.tags.join(", ")));
        }
        for j in &self.job_runs {
            s.push_str(&format!(
                "job run #{} {}: {} / {}{}\n",
                j.id,
                j.name.as_deref().unwrap_or(""),
                j.stage.as_deref().unwrap_or("?"),
                j.status.as_deref().unwrap_or("?"),
                j.ci_url
                    .as_ref()
                    .map(|u| format!(" {u}"))
                    .unwrap_or_default()
            ));
        }
        s.push_str(&self.url);
        s
    }
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(
            Meta {
                name: "list_launches",
                toolset: Toolset::Launches,
                title: "List launches",
                description: "List a project's launches, newest first, each with its pass/fail statistic, open/closed state and link. Paged.",
                read_only: true,
                destructive: false,
                idempotent: true,
            },
            |ctx: Ctx, a: ListLaunchesArgs| async move {
                let pid = ctx.project(a.project_id)?;
                let mut q = paging(a.page, a.size, 20)?;
                q.push(("projectId", pid.to_string()));
                q.push(("sort", "createdDate,desc".into()));
                if let Some(s) = a.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                    q.push(("search", s.to_owned()));
                }
                let page: Page<Launch> = ctx.client.get("/launch", &q).await.map_err(|e| {
                    ToolError::not_found(
                        e,
                        format!("Project {pid}"),
                        "list_projects or find_project show existing projects.",
                    )
                })?;
                Ok(LaunchList {
                    project_id: pid,
                    page: PageInfo::of(&page),
                    launches: page
                        .content
                        .into_iter()
                        .map(|l| LaunchSummary::from(&ctx, l))
                        .collect(),
                })
            },
        ),
        tool(
            Meta {
                name: "get_launch_details",
                toolset: Toolset::Launches,
                title: "Launch details",
                description: "Everything about one launch: state, statistic by status with pass rate, tags, links, the CI job runs feeding it, and a link to it in TestOps.",
                read_only: true,
                destructive: false,
                idempotent: true,
            },
            |ctx: Ctx, a: LaunchIdArgs| async move {
                let id = a.launch_id;
                if id <= 0 {
                    return Err(ToolError::InvalidArgs(format!(
                        "launch_id {id} is not a launch id; list_launches shows ids"
                    )));
                }
                let nf = |e| {
                    ToolError::not_found(
                        e,
                        format!("Launch {id}"),
                        "list_launches shows a project's recent launches.",
                    )
                };
                let path = format!("/launch/{id}");
                let stat_path = format!("/launch/{id}/statistic");
                let jobs_path = format!("/launch/{id}/job");
                // Three independent reads, in parallel: the call costs one round trip, not three.
                let (launch, stat, jobs) = tokio::join!(
                    ctx.client.get::<Launch>(&path, &[]),
                    ctx.client.get::<Vec<StatusCount>>(&stat_path, &[]),
                    ctx.client.get::<Vec<JobRun>>(&jobs_path, &[]),
                );
                let l = launch.map_err(nf)?;
                let stat = stat.map_err(nf)?;
                let jobs = jobs.map_err(nf)?;
                Ok(LaunchDetails {
                    url: ctx.link(&format!("/launch/{}", l.id)),
                    id: l.id,
                    name: l.name,
                    project_id: l.project_id,
                    state: if l.closed { "closed" } else { "open" },
                    created: time(l.created_date),
                    last_modified: time(l.last_modified_date),
                    created_by: l.created_by,
                    tags: l.tags.into_iter().filter_map(|t| t.name).collect(),
                    links: l.links.into_iter().filter_map(|k| k.url).collect(),
                    statistic: Statistic::from_counts(&stat),
                    job_runs: jobs.into_iter().map(JobRunSummary::from).collect(),
                })
            },
        ),
    ]
}
