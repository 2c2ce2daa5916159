//! The bulk status and tag writes on test cases, each verified by reading the test
//! cases back: the v1 bulk endpoints were reported to answer success and change
//! nothing, so we use v2 and check. The tools are in the testcases toolset.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Access, Ctx, Meta, Render, ToolError, Toolset, bulk_ids};
use crate::allure::Page;
use crate::allure::model::TestCase;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BulkStatusArgs {
    /// Project of the test cases.
    pub project_id: Option<i64>,
    /// Test case ids (1-100).
    pub test_case_ids: Vec<i64>,
    /// Status id to set (built-in statuses have negative ids, e.g. -2 Active).
    pub status_id: i64,
    /// Workflow id the status belongs to (the default workflow is -1).
    pub workflow_id: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BulkTagArgs {
    /// Project of the test cases.
    pub project_id: Option<i64>,
    /// Test case ids (1-100).
    pub test_case_ids: Vec<i64>,
    /// Tag names.
    pub tags: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Verified {
    pub summary: String,
    /// Test cases that now have the change.
    pub changed: Vec<i64>,
    /// Test cases Allure accepted but did not change (should be empty).
    pub unchanged: Vec<i64>,
}

impl Render for Verified {
    fn text(&self) -> String {
        self.summary.clone()
    }
}

pub(super) const BULK_SET_TEST_CASE_STATUS: Meta = Meta {
    name: "bulk_set_test_case_status",
    toolset: Toolset::Testcases,
    title: "Set the status of many test cases",
    description: "Set the workflow status of up to 100 test cases, then read them back and report which changed (the v1 bulk API was reported to answer success without changing anything).",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

pub(super) async fn bulk_set_test_case_status(
    ctx: Ctx,
    a: BulkStatusArgs,
) -> Result<Verified, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let ids = bulk_ids("test_case_ids", &a.test_case_ids)?;
    if a.status_id == 0 || a.workflow_id == 0 {
        return Err(ToolError::InvalidArgs(
            "status_id and workflow_id must not be 0 (built-in ones are negative)".into(),
        ));
    }
    let _: Option<serde_json::Value> = ctx
        .client
        .post("/v2/test-case/bulk/status/set", json!({"selection": selection(pid, &ids), "statusId": a.status_id, "workflowId": a.workflow_id}))
        .await?;
    let after = read_back(&ctx, pid, &ids).await?;
    let (changed, unchanged): (Vec<i64>, Vec<i64>) = ids.iter().partition(|id| {
        after
            .iter()
            .any(|t| t.id == **id && t.status.as_ref().is_some_and(|s| s.id == a.status_id))
    });
    verified(&format!("status {}", a.status_id), changed, unchanged)
}

pub(super) const BULK_ADD_TEST_CASE_TAGS: Meta = Meta {
    name: "bulk_add_test_case_tags",
    toolset: Toolset::Testcases,
    title: "Tag many test cases",
    description: "Add tags to up to 100 test cases, then read them back and report which have them.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

pub(super) async fn bulk_add_test_case_tags(
    ctx: Ctx,
    a: BulkTagArgs,
) -> Result<Verified, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let ids = bulk_ids("test_case_ids", &a.test_case_ids)?;
    let tags = tag_names(&a.tags)?;
    let body = json!({"selection": selection(pid, &ids), "tags": tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>()});
    let _: Option<serde_json::Value> = ctx.client.post("/v2/test-case/bulk/tag/add", body).await?;
    let after = read_back(&ctx, pid, &ids).await?;
    let has_all = |t: &TestCase| {
        tags.iter()
            .all(|n| t.tags.iter().any(|x| x.name.as_deref() == Some(n)))
    };
    let (changed, unchanged): (Vec<i64>, Vec<i64>) = ids
        .iter()
        .partition(|id| after.iter().any(|t| t.id == **id && has_all(t)));
    verified(&format!("add tags {}", tags.join(", ")), changed, unchanged)
}

pub(super) const BULK_REMOVE_TEST_CASE_TAGS: Meta = Meta {
    name: "bulk_remove_test_case_tags",
    toolset: Toolset::Testcases,
    title: "Untag many test cases",
    description: "Remove tags (by name) from up to 100 test cases, then read them back and report which no longer have them.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

pub(super) async fn bulk_remove_test_case_tags(
    ctx: Ctx,
    a: BulkTagArgs,
) -> Result<Verified, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let ids = bulk_ids("test_case_ids", &a.test_case_ids)?;
    let tags = tag_names(&a.tags)?;
    // The API removes tags by id: find the ids of the named tags on these test cases.
    let before = read_back(&ctx, pid, &ids).await?;
    let mut tag_ids: Vec<i64> = before
        .iter()
        .flat_map(|t| t.tags.iter())
        .filter(|x| {
            x.name
                .as_deref()
                .is_some_and(|n| tags.iter().any(|t| t == n))
        })
        .map(|x| x.id)
        .collect();
    tag_ids.sort_unstable();
    tag_ids.dedup();
    if tag_ids.is_empty() {
        return Ok(Verified {
            summary: format!(
                "None of the test cases has the tag(s) {}; nothing to remove.",
                tags.join(", ")
            ),
            changed: vec![],
            unchanged: vec![],
        });
    }
    let _: Option<serde_json::Value> = ctx
        .client
        .post(
            "/v2/test-case/bulk/tag/remove",
            json!({"selection": selection(pid, &ids), "ids": tag_ids}),
        )
        .await?;
    let after = read_back(&ctx, pid, &ids).await?;
    let has_any = |t: &TestCase| {
        tags.iter()
            .any(|n| t.tags.iter().any(|x| x.name.as_deref() == Some(n)))
    };
    let (unchanged, changed): (Vec<i64>, Vec<i64>) = ids
        .iter()
        .partition(|id| after.iter().any(|t| t.id == **id && has_any(t)));
    verified(
        &format!("remove tags {}", tags.join(", ")),
        changed,
        unchanged,
    )
}

/// Reads the named test cases back (one AQL search), to check what a write did.
async fn read_back(ctx: &Ctx, pid: i64, ids: &[i64]) -> Result<Vec<TestCase>, ToolError> {
    let list = ids
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let p: Page<TestCase> = ctx
        .client
        .get(
            "/testcase/__search",
            &[
                ("projectId", pid.to_string()),
                ("rql", format!("id in [{list}]")),
                ("size", ids.len().to_string()),
            ],
        )
        .await?;
    Ok(p.content)
}

pub(super) fn selection(pid: i64, ids: &[i64]) -> serde_json::Value {
    json!({"projectId": pid, "testCasesInclude": ids, "inverted": false})
}

fn tag_names(tags: &[String]) -> Result<Vec<String>, ToolError> {
    let mut out: Vec<String> = Vec::new();
    for t in tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        if t.len() > 255 {
            return Err(ToolError::InvalidArgs(
                "a tag is longer than 255 characters".into(),
            ));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    if out.is_empty() {
        return Err(ToolError::InvalidArgs(
            "tags is empty; name at least one tag".into(),
        ));
    }
    Ok(out)
}

fn verified(what: &str, changed: Vec<i64>, unchanged: Vec<i64>) -> Result<Verified, ToolError> {
    if changed.is_empty() {
        return Err(ToolError::Other(format!(
            "Allure TestOps answered success, but none of the test cases changed ({what}). Check the ids with list_test_cases and the status or workflow with get_test_case."
        )));
    }
    let summary = if unchanged.is_empty() {
        format!(
            "{what}: done for all {} test case(s) (checked).",
            changed.len()
        )
    } else {
        format!(
            "{what}: done for {} test case(s); {} did NOT change: {:?}.",
            changed.len(),
            unchanged.len(),
            unchanged
        )
    };
    Ok(Verified {
        summary,
        changed,
        unchanged,
    })
}
