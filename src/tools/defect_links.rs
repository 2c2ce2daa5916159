//! Defect upkeep: renaming, describing, closing and reopening a defect; linking it to an
//! issue tracker key; its matchers (message and trace regexes) and applying them to a
//! launch, so known failures are linked to their defect without anyone reading them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    Access, Ctx, Done, Meta, Render, Subject, ToolDef, ToolError, Toolset, positive_id,
    required_text, tool,
};
use crate::allure::Page;
use crate::allure::model::{Defect, DefectMatcher, ProjectIntegration};

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(UPDATE_DEFECT, update_defect),
        tool(LINK_DEFECT_ISSUE, link_defect_issue),
        tool(UNLINK_DEFECT_ISSUE, unlink_defect_issue),
        tool(LIST_DEFECT_MATCHERS, list_defect_matchers),
        tool(ADD_DEFECT_MATCHER, add_defect_matcher),
        tool(APPLY_DEFECT_MATCHERS, apply_defect_matchers),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdateDefectArgs {
    /// Defect id (list_defects shows ids).
    pub defect_id: i64,
    /// New name.
    pub name: Option<String>,
    /// New description (markdown); an empty string clears it.
    pub description: Option<String>,
    /// true closes the defect, false reopens it.
    pub closed: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct IssueArgs {
    /// Defect id (list_defects shows ids).
    pub defect_id: i64,
    /// The issue's key in the tracker, e.g. "SHOP-123".
    pub issue_key: String,
    /// The issue tracker integration; needed only when the project has several.
    pub integration_id: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DefectIdArgs {
    /// Defect id (list_defects shows ids).
    pub defect_id: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MatcherArgs {
    /// Defect the matched results are linked to.
    pub defect_id: i64,
    /// Name of the matcher.
    pub name: String,
    /// Regex (Java syntax) a failure message must contain a match of.
    pub message_regex: Option<String>,
    /// Regex (Java syntax) a stack trace must contain a match of.
    pub trace_regex: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ApplyArgs {
    /// Launch whose failed and broken results the matchers are applied to.
    pub launch_id: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MatcherLine {
    pub id: i64,
    pub name: String,
    pub message_regex: Option<String>,
    pub trace_regex: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Matchers {
    pub defect_id: i64,
    pub matchers: Vec<MatcherLine>,
}

impl Render for Matchers {
    fn text(&self) -> String {
        if self.matchers.is_empty() {
            return format!(
                "Defect #{} has no matchers; add_defect_matcher adds one.",
                self.defect_id
            );
        }
        let mut s = format!("Matchers of defect #{}:\n", self.defect_id);
        for m in &self.matchers {
            s.push_str(&format!("- #{} {}", m.id, m.name));
            if let Some(r) = &m.message_regex {
                s.push_str(&format!(" message ~ /{r}/"));
            }
            if let Some(r) = &m.trace_regex {
                s.push_str(&format!(" trace ~ /{r}/"));
            }
            s.push('\n');
        }
        s
    }
}

async fn defect(ctx: &Ctx, id: i64) -> Result<Defect, ToolError> {
    positive_id("defect_id", id, "list_defects shows ids")?;
    ctx.client
        .get(&format!("/defect/{id}"), &[])
        .await
        .map_err(|e| super::defects::defect_not_found(e, id))
}

const UPDATE_DEFECT: Meta = Meta {
    name: "update_defect",
    toolset: Toolset::Defects,
    title: "Update a defect",
    description: "Rename a defect, change its description, or close (closed=true) or reopen (closed=false) it.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn update_defect(ctx: Ctx, a: UpdateDefectArgs) -> Result<Done, ToolError> {
    let id = positive_id("defect_id", a.defect_id, "list_defects shows ids")?;
    let mut body = serde_json::Map::new();
    if let Some(n) = &a.name {
        body.insert("name".into(), json!(required_text("name", n, 255)?));
    }
    if let Some(d) = &a.description {
        body.insert("description".into(), json!(d.trim()));
    }
    if let Some(c) = a.closed {
        body.insert("closed".into(), json!(c));
    }
    if body.is_empty() {
        return Err(ToolError::InvalidArgs(
            "nothing to change: give name, description or closed".into(),
        ));
    }
    let answer = ctx
        .client
        .patch::<Defect>(&format!("/defect/{id}"), serde_json::Value::Object(body))
        .await;
    let d = answer.map_err(|e| super::defects::defect_not_found(e, id))?;
    let state = if d.closed.unwrap_or(false) {
        "closed"
    } else {
        "open"
    };
    Ok(Done {
        summary: format!("Defect #{id} {} is {state}.", d.name),
        ids: vec![id],
        url: Some(super::defects::defect_url(&ctx, d.project_id, id)),
    })
}

const LINK_DEFECT_ISSUE: Meta = Meta {
    name: "link_defect_issue",
    toolset: Toolset::Defects,
    title: "Link a defect to an issue",
    description: "Link a defect to an issue tracker key (e.g. SHOP-123) through the project's issue tracker integration.",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

/// The issue tracker integration to link through: the one asked for, or the project's
/// only one. Several without a choice, or none, is the caller's to settle.
pub(super) async fn integration(
    ctx: &Ctx,
    project: i64,
    asked: Option<i64>,
) -> Result<i64, ToolError> {
    let page: Page<ProjectIntegration> = ctx
        .client
        .get(
            &format!("/integration/project/{project}"),
            &[("page", "0".into()), ("size", "100".into())],
        )
        .await?;
    // Issue trackers only: a project's CI integration (Jenkins, GitLab CI…) cannot hold
    // an issue key. An instance that does not say what an integration can do is trusted.
    let tracks_issues = |i: &ProjectIntegration| {
        i.info.as_ref().is_none_or(|x| {
            x.operations.is_empty()
                || x.operations
                    .iter()
                    .any(|o| matches!(o.as_str(), "issue_sync" | "issue_suggest" | "issue_create"))
        })
    };
    let usable: Vec<&ProjectIntegration> = page
        .content
        .iter()
        .filter(|i| !i.disabled.unwrap_or(false) && tracks_issues(i))
        .collect();
    let listed = || {
        usable
            .iter()
            .map(|i| {
                let kind = i
                    .info
                    .as_ref()
                    .and_then(|x| x.kind.as_deref())
                    .unwrap_or("?");
                format!("{} ({}, {kind})", i.id, i.name)
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (asked, usable.as_slice()) {
        (Some(id), _) if usable.iter().any(|i| i.id == id) => Ok(id),
        (_, []) => Err(ToolError::InvalidArgs(format!(
            "project {project} has no issue tracker integration; an administrator connects one in the project's settings"
        ))),
        (Some(id), _) => Err(ToolError::InvalidArgs(format!(
            "integration {id} is not connected to project {project}; these are: {}",
            listed()
        ))),
        (None, [one]) => Ok(one.id),
        (None, _) => Err(ToolError::InvalidArgs(format!(
            "project {project} has several integrations; pass integration_id: {}",
            listed()
        ))),
    }
}

async fn link_defect_issue(ctx: Ctx, a: IssueArgs) -> Result<Done, ToolError> {
    let key = required_text("issue_key", &a.issue_key, 255)?;
    let d = defect(&ctx, a.defect_id).await?;
    if let Some(i) = d.issue.as_ref().filter(|i| !i.name.is_empty()) {
        return Err(ToolError::InvalidArgs(format!(
            "defect #{} is already linked to {}; unlink_defect_issue first to link another",
            d.id, i.name
        )));
    }
    let project = match d.project_id {
        Some(p) => p,
        None => ctx.project(None)?,
    };
    let integration = integration(&ctx, project, a.integration_id).await?;
    let answer = ctx
        .client
        .post::<Defect>(
            &format!("/defect/{}/issue", d.id),
            json!({"integrationId": integration, "name": key}),
        )
        .await;
    let after = ctx.explain(Subject::Defect(d.id), answer).await?;
    let link = after
        .issue
        .as_ref()
        .and_then(|i| i.url.clone())
        .map(|u| format!(" ({u})"))
        .unwrap_or_default();
    Ok(Done {
        summary: format!("Defect #{} {} is linked to {key}{link}.", d.id, d.name),
        ids: vec![d.id],
        url: Some(super::defects::defect_url(&ctx, d.project_id, d.id)),
    })
}

const UNLINK_DEFECT_ISSUE: Meta = Meta {
    name: "unlink_defect_issue",
    toolset: Toolset::Defects,
    title: "Unlink a defect's issue",
    description: "Remove the issue tracker key linked to a defect (the issue itself stays in the tracker).",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn unlink_defect_issue(ctx: Ctx, a: DefectIdArgs) -> Result<Done, ToolError> {
    let d = defect(&ctx, a.defect_id).await?;
    let Some(issue) = d.issue.as_ref().filter(|i| !i.name.is_empty()) else {
        return Ok(Done {
            summary: format!(
                "Defect #{} {} has no linked issue; nothing changed.",
                d.id, d.name
            ),
            ids: vec![d.id],
            url: Some(super::defects::defect_url(&ctx, d.project_id, d.id)),
        });
    };
    let answer = ctx.client.delete(&format!("/defect/{}/issue", d.id)).await;
    ctx.explain(Subject::Defect(d.id), answer).await?;
    Ok(Done {
        summary: format!(
            "Defect #{} {} is no longer linked to {}.",
            d.id, d.name, issue.name
        ),
        ids: vec![d.id],
        url: Some(super::defects::defect_url(&ctx, d.project_id, d.id)),
    })
}

const LIST_DEFECT_MATCHERS: Meta = Meta {
    name: "list_defect_matchers",
    toolset: Toolset::Defects,
    title: "List a defect's matchers",
    description: "The matchers of a defect: regexes over failure messages and traces that link matching results to it.",
    access: Access::Read,
};

async fn list_defect_matchers(ctx: Ctx, a: DefectIdArgs) -> Result<Matchers, ToolError> {
    let id = positive_id("defect_id", a.defect_id, "list_defects shows ids")?;
    let page: Page<DefectMatcher> = ctx
        .client
        .get(
            &format!("/defect/{id}/matcher"),
            &[("page", "0".into()), ("size", "100".into())],
        )
        .await
        .map_err(|e| super::defects::defect_not_found(e, id))?;
    Ok(Matchers {
        defect_id: id,
        matchers: page
            .content
            .into_iter()
            .map(|m| MatcherLine {
                id: m.id,
                name: m.name,
                message_regex: m.message_regex.filter(|r| !r.is_empty()),
                trace_regex: m.trace_regex.filter(|r| !r.is_empty()),
            })
            .collect(),
    })
}

const ADD_DEFECT_MATCHER: Meta = Meta {
    name: "add_defect_matcher",
    toolset: Toolset::Defects,
    title: "Add a defect matcher",
    description: "Add a matcher to a defect: failed results whose message or trace matches its regex get linked to the defect when matchers are applied (apply_defect_matchers).",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn add_defect_matcher(ctx: Ctx, a: MatcherArgs) -> Result<Done, ToolError> {
    let id = positive_id("defect_id", a.defect_id, "list_defects shows ids")?;
    let name = required_text("name", &a.name, 255)?;
    let regex = |r: &Option<String>| {
        r.as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| required_text("regex", r, 1000))
            .transpose()
    };
    let (message, trace) = (regex(&a.message_regex)?, regex(&a.trace_regex)?);
    if message.is_none() && trace.is_none() {
        return Err(ToolError::InvalidArgs(
            "give message_regex, trace_regex or both: a matcher without one matches nothing".into(),
        ));
    }
    let mut body = json!({"defectId": id, "name": name});
    if let Some(m) = &message {
        body["messageRegex"] = json!(m);
    }
    if let Some(t) = &trace {
        body["traceRegex"] = json!(t);
    }
    let answer = ctx
        .client
        .post::<DefectMatcher>("/defect/matcher", body)
        .await;
    let m = match answer {
        Err(e) if e.status() == Some(400) => {
            return Err(ToolError::InvalidArgs(format!(
                "Allure TestOps refused the matcher ({e}); check the regexes (Java syntax)"
            )));
        }
        other => ctx.explain(Subject::Defect(id), other).await?,
    };
    Ok(Done {
        summary: format!(
            "Matcher #{} {} added to defect #{id}; apply_defect_matchers(launch_id) links a launch's matching failures.",
            m.id, m.name
        ),
        ids: vec![m.id],
        url: None,
    })
}

const APPLY_DEFECT_MATCHERS: Meta = Meta {
    name: "apply_defect_matchers",
    toolset: Toolset::Defects,
    title: "Apply defect matchers to a launch",
    description: "Run the project's defect matchers over a launch's failed and broken results, linking each match to its defect.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn apply_defect_matchers(ctx: Ctx, a: ApplyArgs) -> Result<Done, ToolError> {
    let l = super::lookups::launch(&ctx, a.launch_id).await?;
    // Answered 202 with no body: TestOps links in the background.
    let answer = ctx
        .client
        .post_empty(&format!("/launch/{}/defect/apply", l.id))
        .await;
    ctx.explain(Subject::Launch(l.id), answer).await?;
    Ok(Done {
        summary: format!(
            "Defect matchers are being applied to launch #{} {}; triage_launch shows which failures are now known.",
            l.id, l.name
        ),
        ids: vec![l.id],
        url: Some(ctx.link(&format!("/launch/{}", l.id))),
    })
}
