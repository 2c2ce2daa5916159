//! Prompts (ready-made tasks a user can pick in the client), the AQL guide and the
//! launch dashboard (an MCP App) resources, and argument completion for project ids.

use rmcp::model::{
    GetPromptResult, Prompt, PromptArgument, PromptMessage, Resource, ResourceContents, Role,
};

use crate::allure::Page;
use crate::allure::model::{Launch, Project};
use crate::tools::Ctx;
use crate::tools::aql::GUIDE;

pub const AQL_GUIDE_URI: &str = "allure://aql-guide";

pub fn list() -> Vec<Prompt> {
    vec![
        Prompt::new(
            "triage_launch",
            Some("Find out why a launch failed: failures grouped by cause, what is new, what is known, and what to do next."),
            Some(vec![PromptArgument::new("launch_id").with_description("Launch id (list_launches shows them)").with_required(true)]),
        )
        .with_title("Triage a launch"),
        Prompt::new(
            "release_readiness",
            Some("Summarise whether a project is ready to release: recent launches, pass-rate trend, open failures and defects."),
            Some(vec![PromptArgument::new("project_id").with_description("Project id (list_projects shows them)").with_required(true)]),
        )
        .with_title("Release readiness"),
    ]
}

/// The prompt's messages, or a message saying what argument is missing or wrong.
pub fn get(
    name: &str,
    args: &serde_json::Map<String, serde_json::Value>,
) -> Result<GetPromptResult, String> {
    let id = |key: &str| -> Result<i64, String> {
        let v = args
            .get(key)
            .ok_or_else(|| format!("argument {key} is required"))?;
        let parsed = match v {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed
            .filter(|i| *i > 0)
            .ok_or_else(|| format!("argument {key} must be a positive integer id"))
    };
    match name {
        "triage_launch" => {
            let l = id("launch_id")?;
            Ok(GetPromptResult::new(vec![PromptMessage::new_text(
                Role::User,
                format!(
                    "Triage Allure TestOps launch {l}.\n\
                     1. Call get_launch_details for launch {l} to see its state and statistic.\n\
                     2. Call triage_launch for launch {l} to group its failures by cause.\n\
                     3. For the two biggest NEW groups, call get_test_result on one example each and read the message and trace.\n\
                     4. For a suspicious test, call get_test_result_history to tell a flaky test from a real regression.\n\
                     Then answer: what failed, the likely cause of each group, which failures are new, which are known defects or muted, \
                     and concrete next steps (who should look, what to rerun, which defect to create or link). Include the TestOps links."
                ),
            )])
            .with_description(format!("Triage of launch {l}")))
        }
        "release_readiness" => {
            let p = id("project_id")?;
            Ok(GetPromptResult::new(vec![PromptMessage::new_text(
                Role::User,
                format!(
                    "Assess whether Allure TestOps project {p} is ready to release.\n\
                     1. get_project and get_project_stats for project {p}.\n\
                     2. get_launch_trend_analytics for project {p} (the last 20 launches).\n\
                     3. list_launches for project {p}; for the newest closed launch of the main regression job, call triage_launch.\n\
                     4. list_defects for project {p} (open ones).\n\
                     Then give a verdict (ready / ready with risks / not ready), the evidence (pass rate and its direction, \
                     open failure groups, open defects, automation share), and the blockers to clear first, with links."
                ),
            )])
            .with_description(format!("Release readiness of project {p}")))
        }
        other => Err(format!(
            "unknown prompt '{other}'; prompts/list shows the prompts"
        )),
    }
}

pub fn resources() -> Vec<Resource> {
    use crate::tools::dashboard::{DASHBOARD_MIME, DASHBOARD_URI};
    vec![
        Resource::new(AQL_GUIDE_URI, "aql-guide")
            .with_title("AQL quick guide")
            .with_description(
                "Syntax, attributes and examples of Allure Query Language for the search tools",
            ),
        Resource::new(DASHBOARD_URI, "launch-dashboard")
            .with_title("Launch dashboard")
            .with_description("The MCP App that shows get_launch_dashboard's answer")
            .with_mime_type(DASHBOARD_MIME)
            .with_meta(app_meta()),
    ]
}

/// MCP Apps' resource metadata: the page reaches no domain, and likes a border.
fn app_meta() -> rmcp::model::MetaObject {
    let mut meta = rmcp::model::MetaObject::new();
    meta.insert(
        "ui".into(),
        serde_json::json!({"csp": {"connectDomains": [], "resourceDomains": []}, "prefersBorder": true}),
    );
    meta
}

pub fn read(uri: &str) -> Option<ResourceContents> {
    use crate::tools::dashboard::{DASHBOARD_HTML, DASHBOARD_MIME, DASHBOARD_URI};
    match uri {
        AQL_GUIDE_URI => {
            Some(ResourceContents::text(GUIDE, AQL_GUIDE_URI).with_mime_type("text/markdown"))
        }
        DASHBOARD_URI => Some(
            ResourceContents::text(DASHBOARD_HTML, DASHBOARD_URI)
                .with_mime_type(DASHBOARD_MIME)
                .with_meta(app_meta()),
        ),
        _ => None,
    }
}

/// The ids of a project's 50 most recent launches that start with what the user typed,
/// newest first. The project is the one the completion context names, else the default
/// (ALLURE_PROJECT_ID); without either there is no project to look in, so no suggestion.
pub async fn complete_launch(ctx: &Ctx, typed: &str, project: Option<&str>) -> Vec<String> {
    let Some(pid) = project
        .and_then(|p| p.trim().parse::<i64>().ok())
        .or(ctx.default_project)
    else {
        return vec![];
    };
    let query = [
        ("projectId", pid.to_string()),
        ("size", "50".into()),
        ("sort", "created_date,desc".into()),
    ];
    let Ok(page) = ctx.client.get::<Page<Launch>>("/launch", &query).await else {
        return vec![];
    };
    let t = typed.trim();
    page.content
        .into_iter()
        .map(|l| l.id.to_string())
        .filter(|id| id.starts_with(t))
        .collect()
}

/// Project ids whose id or name starts with (or name contains) what the user typed.
pub async fn complete_project(ctx: &Ctx, typed: &str) -> Vec<String> {
    let Ok(page) = ctx
        .client
        .get::<Page<Project>>(
            "/project",
            &[("size", "100".into()), ("sort", "name,asc".into())],
        )
        .await
    else {
        return vec![];
    };
    let t = typed.trim().to_lowercase();
    page.content
        .into_iter()
        .filter(|p| {
            t.is_empty()
                || p.id.to_string().starts_with(&t)
                || p.name.to_lowercase().contains(&t)
                || p.abbr
                    .as_deref()
                    .is_some_and(|a| a.to_lowercase().starts_with(&t))
        })
        .map(|p| p.id.to_string())
        .take(100)
        .collect()
}
