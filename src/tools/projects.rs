//! Projects: list, get, find by name or short code, and their test-case statistics.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Access, Ctx, Meta, PageInfo, Render, ToolDef, ToolError, Toolset, paging, tool};
use crate::allure::Page;
use crate::allure::model::{Project, ProjectStats};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListProjectsArgs {
    /// 0-based page number (default 0).
    pub page: Option<u32>,
    /// Projects per page, 1-100 (default 20).
    pub size: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ProjectIdArgs {
    /// Project id (list_projects or find_project show ids). Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FindProjectArgs {
    /// Project name (or part of it) or short code (`abbr`, e.g. "WEB"); case-insensitive.
    pub query: String,
}

/// A project, trimmed to what helps.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProjectSummary {
    pub id: i64,
    pub name: String,
    /// Short code shown in the UI.
    pub abbr: Option<String>,
    pub description: Option<String>,
    /// Link to the project in the TestOps UI.
    pub url: String,
}

impl ProjectSummary {
    fn from(ctx: &Ctx, p: Project) -> Self {
        ProjectSummary {
            url: ctx.link(&format!("/project/{}/dashboards", p.id)),
            id: p.id,
            name: p.name,
            abbr: p.abbr.filter(|a| !a.is_empty()),
            description: p.description.filter(|d| !d.is_empty()),
        }
    }
    fn line(&self) -> String {
        match &self.abbr {
            Some(a) => format!("- {} [{}] (id {}) {}", self.name, a, self.id, self.url),
            None => format!("- {} (id {}) {}", self.name, self.id, self.url),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProjectList {
    pub projects: Vec<ProjectSummary>,
    pub page: PageInfo,
}

impl Render for ProjectList {
    fn text(&self) -> String {
        let mut s = format!("Projects ({}):\n", self.page.text());
        for p in &self.projects {
            s.push_str(&p.line());
            s.push('\n');
        }
        s
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProjectDetails {
    #[serde(flatten)]
    pub project: ProjectSummary,
    pub created: Option<String>,
    pub public: Option<bool>,
}

impl Render for ProjectDetails {
    fn text(&self) -> String {
        let mut s = self.project.line().trim_start_matches("- ").to_owned();
        if let Some(d) = &self.project.description {
            s.push_str(&format!("\n{d}"));
        }
        if let Some(c) = &self.created {
            s.push_str(&format!("\ncreated {c}"));
        }
        s
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FoundProjects {
    pub query: String,
    /// Best first: exact short code or name, then names containing the query.
    pub matches: Vec<ProjectSummary>,
}

impl Render for FoundProjects {
    fn text(&self) -> String {
        if self.matches.is_empty() {
            return format!(
                "No project matches '{}'. list_projects shows all projects.",
                self.query
            );
        }
        let mut s = format!("Projects matching '{}':\n", self.query);
        for p in &self.matches {
            s.push_str(&p.line());
            s.push('\n');
        }
        s
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProjectStatsOut {
    pub project_id: i64,
    pub automated_test_cases: Option<i64>,
    pub manual_test_cases: Option<i64>,
    /// Share of automated test cases, percent.
    pub automation_percent: Option<f64>,
    pub launches: Option<i64>,
}

impl Render for ProjectStatsOut {
    fn text(&self) -> String {
        format!(
            "Project {}: {} automated and {} manual test cases ({}% automated), {} launches",
            self.project_id,
            self.automated_test_cases.unwrap_or(0),
            self.manual_test_cases.unwrap_or(0),
            self.automation_percent.unwrap_or(0.0),
            self.launches.unwrap_or(0)
        )
    }
}

/// How many projects `find_project` reads at most (10 pages of 100).
const FIND_SCAN_PAGES: u32 = 10;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(LIST_PROJECTS, list_projects),
        tool(GET_PROJECT, get_project),
        tool(FIND_PROJECT, find_project),
        tool(GET_PROJECT_STATS, get_project_stats),
    ]
}

const LIST_PROJECTS: Meta = Meta {
    name: "list_projects",
    toolset: Toolset::Projects,
    title: "List projects",
    description: "List the Allure TestOps projects the token can see, with ids, short codes and links. Paged.",
    access: Access::Read,
};

async fn list_projects(ctx: Ctx, a: ListProjectsArgs) -> Result<ProjectList, ToolError> {
    let mut q = paging(a.page, a.size, 20)?;
    q.push(("sort", "name,asc".into()));
    let page: Page<Project> = ctx.client.get("/project", &q).await?;
    Ok(ProjectList {
        page: PageInfo::of(&page),
        projects: page
            .content
            .into_iter()
            .map(|p| ProjectSummary::from(&ctx, p))
            .collect(),
    })
}

const GET_PROJECT: Meta = Meta {
    name: "get_project",
    toolset: Toolset::Projects,
    title: "Get a project",
    description: "Get one project by id: name, short code, description and link.",
    access: Access::Read,
};

async fn get_project(ctx: Ctx, a: ProjectIdArgs) -> Result<ProjectDetails, ToolError> {
    let id = ctx.project(a.project_id)?;
    let p: Project = ctx.project_get(&format!("/project/{id}"), id, &[]).await?;
    Ok(ProjectDetails {
        created: super::render::time(p.created_date),
        public: p.is_public,
        project: ProjectSummary::from(&ctx, p),
    })
}

const FIND_PROJECT: Meta = Meta {
    name: "find_project",
    toolset: Toolset::Projects,
    title: "Find a project",
    description: "Find projects by name or short code (abbr), case-insensitive. Use it to turn \"the web shop project\" or \"WEB\" into a project id.",
    access: Access::Read,
};

async fn find_project(ctx: Ctx, a: FindProjectArgs) -> Result<FoundProjects, ToolError> {
    let needle = a.query.trim().to_lowercase();
    if needle.is_empty() {
        return Err(ToolError::InvalidArgs("query must not be empty".into()));
    }
    // The API's own `query` matches names only; short codes need the list.
    let mut all = Vec::new();
    for page in 0..FIND_SCAN_PAGES {
        let p: Page<Project> = ctx
            .client
            .get(
                "/project",
                &[("page", page.to_string()), ("size", "100".into())],
            )
            .await?;
        let more = p.has_more();
        all.extend(p.content);
        if !more {
            break;
        }
    }
    let rank = |p: &Project| -> Option<u8> {
        let name = p.name.to_lowercase();
        let abbr = p.abbr.as_deref().unwrap_or("").to_lowercase();
        if abbr == needle || name == needle {
            Some(0)
        } else if name.starts_with(&needle) {
            Some(1)
        } else if name.contains(&needle) || (!abbr.is_empty() && abbr.contains(&needle)) {
            Some(2)
        } else {
            None
        }
    };
    let mut ranked: Vec<(u8, Project)> = all
        .into_iter()
        .filter_map(|p| rank(&p).map(|r| (r, p)))
        .collect();
    ranked.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    Ok(FoundProjects {
        query: a.query,
        matches: ranked
            .into_iter()
            .take(20)
            .map(|(_, p)| ProjectSummary::from(&ctx, p))
            .collect(),
    })
}

const GET_PROJECT_STATS: Meta = Meta {
    name: "get_project_stats",
    toolset: Toolset::Analytics,
    title: "Project statistics",
    description: "Test-case counts of a project: automated, manual, automation percent, and number of launches.",
    access: Access::Read,
};

async fn get_project_stats(ctx: Ctx, a: ProjectIdArgs) -> Result<ProjectStatsOut, ToolError> {
    let id = ctx.project(a.project_id)?;
    let s: ProjectStats = ctx
        .project_get(&format!("/project/{id}/stats"), id, &[])
        .await?;
    Ok(ProjectStatsOut {
        project_id: id,
        automated_test_cases: s.automated_test_cases,
        manual_test_cases: s.manual_test_cases,
        automation_percent: s.automation_percent,
        launches: s.launches,
    })
}
