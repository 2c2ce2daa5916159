//! Bulk edits of test cases' people and links, and bulk clone, move and run: the Go
//! server's bulk test case tools, off by default (toolset testcase_bulk). Adds go
//! through the v2 bulk API; removals, which that API takes by the ids of member or issue
//! links rather than by name, go through each test case's own list.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::defect_links::integration;
use super::testcase_admin::{checked_url, member_list, overview, put_members, role, usernames};
use super::testcase_bulk::selection;
use super::{Access, Ctx, Done, Meta, Subject, ToolDef, ToolError, Toolset, bulk_ids, tool};
use crate::allure::model::Launch;

/// Removals read and write each test case: fewer at once than the bulk API takes.
const MAX_PER_CASE: usize = 20;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BulkMembersArgs {
    /// Project of the test cases.
    pub project_id: Option<i64>,
    /// Test case ids (1-100 to add, 1-20 to remove).
    pub test_case_ids: Vec<i64>,
    /// Usernames (find_users shows them).
    pub usernames: Vec<String>,
    /// Their role by name (add only; default Owner).
    pub role: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BulkLinksArgs {
    /// Project of the test cases.
    pub project_id: Option<i64>,
    /// Test case ids (1-100).
    pub test_case_ids: Vec<i64>,
    /// Links to add, http(s).
    pub urls: Vec<String>,
    /// Their kind, e.g. "issue", "tms", "link" (default link).
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BulkIssuesArgs {
    /// Project of the test cases.
    pub project_id: Option<i64>,
    /// Test case ids (1-100 to add, 1-20 to remove).
    pub test_case_ids: Vec<i64>,
    /// Issue keys, e.g. ["SHOP-12"].
    pub issue_keys: Vec<String>,
    /// Issue tracker integration id, when the project has several (add only).
    pub integration_id: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BulkCopyArgs {
    /// Project of the test cases.
    pub project_id: Option<i64>,
    /// Test case ids (1-100).
    pub test_case_ids: Vec<i64>,
    /// Project to clone or move into (move: required; clone: default the same).
    pub to_project_id: Option<i64>,
    /// Appended to the copies' names (clone only; default " (copy)").
    pub name_suffix: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BulkRunArgs {
    /// Project of the test cases.
    pub project_id: Option<i64>,
    /// Test case ids (1-100).
    pub test_case_ids: Vec<i64>,
    /// Name of the new launch.
    pub launch_name: String,
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(BULK_ADD_TEST_CASE_MEMBERS, bulk_add_test_case_members),
        tool(BULK_REMOVE_TEST_CASE_MEMBERS, bulk_remove_test_case_members),
        tool(
            BULK_ADD_TEST_CASE_EXTERNAL_LINKS,
            bulk_add_test_case_external_links,
        ),
        tool(BULK_ADD_TEST_CASE_ISSUES, bulk_add_test_case_issues),
        tool(BULK_REMOVE_TEST_CASE_ISSUES, bulk_remove_test_case_issues),
        tool(BULK_CLONE_TEST_CASES, bulk_clone_test_cases),
        tool(BULK_MOVE_TEST_CASES, bulk_move_test_cases),
        tool(
            BULK_RUN_TEST_CASES_NEW_LAUNCH,
            bulk_run_test_cases_new_launch,
        ),
    ]
}

fn done(summary: String, ids: Vec<i64>, ctx: &Ctx, pid: i64) -> Done {
    Done {
        summary,
        ids,
        url: Some(ctx.link(&format!("/project/{pid}/test-cases"))),
    }
}

/// POSTs a v2 bulk write; a 404 is the project's (or a test case's) to explain.
async fn bulk_post(ctx: &Ctx, path: &str, pid: i64, body: Value) -> Result<(), ToolError> {
    let answer = ctx.client.post::<Value>(path, body).await;
    ctx.explain(Subject::Project(pid), answer).await?;
    Ok(())
}

fn few(ids: Vec<i64>) -> Result<Vec<i64>, ToolError> {
    if ids.len() > MAX_PER_CASE {
        return Err(ToolError::InvalidArgs(format!(
            "removing takes at most {MAX_PER_CASE} test cases a call (each is read and written); split the list"
        )));
    }
    Ok(ids)
}

const BULK_ADD_TEST_CASE_MEMBERS: Meta = Meta {
    name: "bulk_add_test_case_members",
    toolset: Toolset::TestcaseBulk,
    title: "Add members to many test cases",
    description: "Give users a role (default Owner) on up to 100 test cases.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn bulk_add_test_case_members(ctx: Ctx, a: BulkMembersArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let ids = bulk_ids("test_case_ids", &a.test_case_ids)?;
    let names = usernames(&a.usernames)?;
    let (role, role_name) = role(&ctx, a.role.as_deref()).await?;
    let members: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "role": {"id": role}}))
        .collect();
    let body = json!({"selection": selection(pid, &ids), "members": members});
    bulk_post(&ctx, "/v2/test-case/bulk/member/add", pid, body).await?;
    let summary = format!(
        "{} now {role_name} on {} test case(s).",
        names.join(", "),
        ids.len()
    );
    Ok(done(summary, ids, &ctx, pid))
}

const BULK_REMOVE_TEST_CASE_MEMBERS: Meta = Meta {
    name: "bulk_remove_test_case_members",
    toolset: Toolset::TestcaseBulk,
    title: "Remove members from many test cases",
    description: "Take users off the members of up to 20 test cases.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn bulk_remove_test_case_members(ctx: Ctx, a: BulkMembersArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let ids = few(bulk_ids("test_case_ids", &a.test_case_ids)?)?;
    let names = usernames(&a.usernames)?;
    let mut changed = Vec::new();
    for id in &ids {
        let members = member_list(&ctx, *id).await?;
        let kept: Vec<(String, i64)> = members
            .iter()
            .filter(|(m, _)| !names.contains(m))
            .cloned()
            .collect();
        if kept.len() != members.len() {
            put_members(&ctx, *id, &kept).await?;
            changed.push(*id);
        }
    }
    let summary = format!(
        "Removed {} from {} of {} test case(s) (the others did not have them).",
        names.join(", "),
        changed.len(),
        ids.len()
    );
    Ok(done(summary, changed, &ctx, pid))
}

const BULK_ADD_TEST_CASE_EXTERNAL_LINKS: Meta = Meta {
    name: "bulk_add_test_case_external_links",
    toolset: Toolset::TestcaseBulk,
    title: "Link many test cases to URLs",
    description: "Add external links (spec, ticket, doc) to up to 100 test cases.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn bulk_add_test_case_external_links(ctx: Ctx, a: BulkLinksArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let ids = bulk_ids("test_case_ids", &a.test_case_ids)?;
    if a.urls.is_empty() || a.urls.len() > 20 {
        return Err(ToolError::InvalidArgs("urls must hold 1-20 links".into()));
    }
    let kind = a.kind.unwrap_or_else(|| "link".into());
    let mut links = Vec::new();
    for u in &a.urls {
        let url = checked_url(u)?;
        links.push(json!({"name": url, "url": url, "type": kind}));
    }
    let body = json!({"selection": selection(pid, &ids), "links": links});
    bulk_post(&ctx, "/v2/test-case/bulk/external-link/add", pid, body).await?;
    let summary = format!(
        "Linked {} test case(s) to {} URL(s).",
        ids.len(),
        links.len()
    );
    Ok(done(summary, ids, &ctx, pid))
}

fn issue_keys(keys: &[String]) -> Result<Vec<String>, ToolError> {
    let out = super::distinct_keys(keys, "an issue key")?;
    if out.is_empty() || out.len() > 20 {
        return Err(ToolError::InvalidArgs(
            "issue_keys must hold 1-20 keys".into(),
        ));
    }
    Ok(out)
}

const BULK_ADD_TEST_CASE_ISSUES: Meta = Meta {
    name: "bulk_add_test_case_issues",
    toolset: Toolset::TestcaseBulk,
    title: "Link many test cases to issue keys",
    description: "Link issue tracker keys (e.g. SHOP-12) to up to 100 test cases.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn bulk_add_test_case_issues(ctx: Ctx, a: BulkIssuesArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let ids = bulk_ids("test_case_ids", &a.test_case_ids)?;
    let keys = issue_keys(&a.issue_keys)?;
    // Without an integration id, the Go server's changelog reports every issue of the
    // instance linked: one is always sent.
    let integration = integration(&ctx, pid, a.integration_id).await?;
    let issues: Vec<Value> = keys
        .iter()
        .map(|k| json!({"name": k, "integrationId": integration}))
        .collect();
    let body = json!({"selection": selection(pid, &ids), "issues": issues});
    bulk_post(&ctx, "/v2/test-case/bulk/issue/add", pid, body).await?;
    let summary = format!("Linked {} to {} test case(s).", keys.join(", "), ids.len());
    Ok(done(summary, ids, &ctx, pid))
}

const BULK_REMOVE_TEST_CASE_ISSUES: Meta = Meta {
    name: "bulk_remove_test_case_issues",
    toolset: Toolset::TestcaseBulk,
    title: "Unlink issue keys from many test cases",
    description: "Remove issue tracker keys from up to 20 test cases.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn bulk_remove_test_case_issues(ctx: Ctx, a: BulkIssuesArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let ids = few(bulk_ids("test_case_ids", &a.test_case_ids)?)?;
    let keys = issue_keys(&a.issue_keys)?;
    let mut changed = Vec::new();
    for id in &ids {
        let o = overview(&ctx, *id).await?;
        let issues = o.issues.unwrap_or_default();
        let kept: Vec<Value> = issues
            .iter()
            .filter(|i| {
                !i.name
                    .as_deref()
                    .is_some_and(|n| keys.iter().any(|k| k == n))
            })
            .map(|i| json!({"name": i.name, "integrationId": i.integration_id}))
            .collect();
        if kept.len() != issues.len() {
            let answer = ctx
                .client
                .post::<Value>(&format!("/testcase/{id}/issue"), json!(kept))
                .await;
            ctx.explain(Subject::TestCase(*id), answer).await?;
            changed.push(*id);
        }
    }
    let summary = format!(
        "Unlinked {} from {} of {} test case(s) (the others did not have them).",
        keys.join(", "),
        changed.len(),
        ids.len()
    );
    Ok(done(summary, changed, &ctx, pid))
}

const BULK_CLONE_TEST_CASES: Meta = Meta {
    name: "bulk_clone_test_cases",
    toolset: Toolset::TestcaseBulk,
    title: "Clone many test cases",
    description: "Copy up to 100 test cases, in their project or into another; TestOps makes the copies in the background.",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn bulk_clone_test_cases(ctx: Ctx, a: BulkCopyArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let ids = bulk_ids("test_case_ids", &a.test_case_ids)?;
    let mut body = json!({"selection": selection(pid, &ids), "nameSuffix": a.name_suffix.as_deref().unwrap_or(" (copy)")});
    if let Some(to) = a.to_project_id {
        body["toProjectId"] = json!(to);
    }
    bulk_post(&ctx, "/v2/test-case/bulk/clone", pid, body).await?;
    let target = a.to_project_id.unwrap_or(pid);
    let summary = format!(
        "Cloning {} test case(s) into project {target}; TestOps makes the copies in the background (list_test_cases shows them).",
        ids.len()
    );
    Ok(done(summary, ids, &ctx, target))
}

const BULK_MOVE_TEST_CASES: Meta = Meta {
    name: "bulk_move_test_cases",
    toolset: Toolset::TestcaseBulk,
    title: "Move test cases to another project",
    description: "Move up to 100 test cases into another project (they leave this one).",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn bulk_move_test_cases(ctx: Ctx, a: BulkCopyArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let ids = bulk_ids("test_case_ids", &a.test_case_ids)?;
    let Some(to) = a.to_project_id.filter(|to| *to > 0) else {
        return Err(ToolError::InvalidArgs(
            "to_project_id is required: the project to move them into (list_projects shows ids)"
                .into(),
        ));
    };
    if to == pid {
        return Err(ToolError::InvalidArgs(format!(
            "the test cases are already in project {pid}"
        )));
    }
    let body = json!({"selection": selection(pid, &ids), "toProjectId": to});
    bulk_post(&ctx, "/v2/test-case/bulk/move", pid, body).await?;
    let summary = format!(
        "Moving {} test case(s) from project {pid} to {to}; TestOps does it in the background.",
        ids.len()
    );
    Ok(done(summary, ids, &ctx, to))
}

const BULK_RUN_TEST_CASES_NEW_LAUNCH: Meta = Meta {
    name: "bulk_run_test_cases_new_launch",
    toolset: Toolset::TestcaseBulk,
    title: "Run test cases in a new launch",
    description: "Start a new launch holding up to 100 test cases for execution (manual runs, or jobs that pick them up).",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn bulk_run_test_cases_new_launch(ctx: Ctx, a: BulkRunArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let ids = bulk_ids("test_case_ids", &a.test_case_ids)?;
    let name = a.launch_name.trim();
    // NOT NULL in the database although the description allows anything (the Go
    // server's changelog): a name is required here.
    if name.is_empty() || name.chars().count() > 255 {
        return Err(ToolError::InvalidArgs(
            "launch_name must be 1-255 characters".into(),
        ));
    }
    let body = json!({"selection": selection(pid, &ids), "launchName": name});
    let answer = ctx
        .client
        .post::<Launch>("/v2/test-case/bulk/run/new", body)
        .await;
    let l = ctx.explain(Subject::Project(pid), answer).await?;
    Ok(Done {
        summary: format!(
            "Launch #{} {} holds {} test case(s) to run.",
            l.id,
            l.name,
            ids.len()
        ),
        ids: vec![l.id],
        url: Some(ctx.link(&format!("/launch/{}", l.id))),
    })
}
