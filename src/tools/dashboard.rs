//! `get_launch_dashboard`: a launch at a glance (counts by status, pass rate, failure
//! groups with links), and the MCP App that shows it to people
//! (`ui://allure-mcp/launch-dashboard`): hosts that render MCP Apps draw it beside the
//! result, others read the same answer as text.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::launches::{Progress, launch_status};
use super::render::{Example, Statistic};
use super::triage::{TriageArgs, triage_launch};
use super::{Access, Ctx, Meta, Render, ToolDef, ToolError, Toolset, tool};

/// The dashboard's resource, and its MIME type as MCP Apps names HTML for hosts to render.
pub const DASHBOARD_URI: &str = "ui://allure-mcp/launch-dashboard";
pub const DASHBOARD_MIME: &str = "text/html;profile=mcp-app";
/// The page: self-contained HTML, CSS and script; its policy allows no fetch at all.
pub const DASHBOARD_HTML: &str = include_str!("data/launch-dashboard.html");

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DashboardArgs {
    /// Launch id (list_launches shows ids).
    pub launch_id: i64,
    /// Failure groups to show, 1-20 (default 10); the biggest come first.
    pub max_groups: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DashboardGroup {
    /// One real message of the group.
    pub message: String,
    pub count: usize,
    /// Not in the previous launch of the same job or name.
    pub new: Option<bool>,
    /// Results already linked to a known defect.
    pub known: usize,
    pub examples: Vec<Example>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Dashboard {
    pub launch_id: i64,
    pub name: String,
    pub status: Progress,
    pub statistic: Statistic,
    /// passed / total in percent; absent for an empty launch.
    pub pass_rate: Option<f64>,
    pub groups: Vec<DashboardGroup>,
    pub groups_total: usize,
    pub url: String,
}

impl Render for Dashboard {
    fn text(&self) -> String {
        let mut s = format!(
            "Launch #{} {} ({}): {}\n",
            self.launch_id,
            self.name,
            self.status,
            self.statistic.text()
        );
        for g in &self.groups {
            s.push_str(&format!(
                "- {}× {}{}\n",
                g.count,
                g.message,
                if g.new == Some(true) { " [NEW]" } else { "" }
            ));
            for e in &g.examples {
                s.push_str(&format!("   #{} {} {}\n", e.id, e.name, e.url));
            }
        }
        if self.groups.len() < self.groups_total {
            s.push_str(&format!(
                "({} smaller groups not shown)\n",
                self.groups_total - self.groups.len()
            ));
        }
        s.push_str(&self.url);
        s
    }
}

pub fn tools() -> Vec<ToolDef> {
    let mut t = tool(GET_LAUNCH_DASHBOARD, get_launch_dashboard);
    t.ui = Some(DASHBOARD_URI);
    vec![t]
}

const GET_LAUNCH_DASHBOARD: Meta = Meta {
    name: "get_launch_dashboard",
    toolset: Toolset::LaunchAdmin,
    title: "Launch dashboard",
    description: "A launch at a glance for people: counts by status, pass rate, failure groups with links; hosts that render MCP Apps show it as a dashboard.",
    access: Access::Read,
};

async fn get_launch_dashboard(ctx: Ctx, a: DashboardArgs) -> Result<Dashboard, ToolError> {
    let max_groups = a.max_groups.unwrap_or(10);
    if !(1..=20).contains(&max_groups) {
        return Err(ToolError::InvalidArgs("max_groups must be 1..=20".into()));
    }
    let args = TriageArgs {
        launch_id: a.launch_id,
        max_groups: Some(max_groups),
        examples: Some(3),
    };
    let (status, triage) = tokio::join!(
        launch_status(&ctx, a.launch_id),
        triage_launch(ctx.clone(), args)
    );
    let (status, triage) = (status?, triage?);
    Ok(Dashboard {
        launch_id: status.launch_id,
        name: status.name,
        status: status.status,
        pass_rate: status.statistic.pass_rate,
        statistic: status.statistic,
        groups_total: triage.groups_total,
        groups: triage
            .groups
            .into_iter()
            .map(|g| DashboardGroup {
                message: g.sample_message,
                count: g.count,
                new: g.new,
                known: g.known,
                examples: g.examples,
            })
            .collect(),
        url: status.url,
    })
}
