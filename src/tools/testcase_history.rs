//! A test case's life, off by default: clone, restore from the deleted ones, versions,
//! detach from automation, delete its scenario; the project's deleted and muted test
//! cases (the Go server's test case housekeeping tools).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::render::time;
use super::testcases::case_url;
use super::{
    Access, Ctx, Done, Meta, PageInfo, Render, Subject, ToolDef, ToolError, Toolset, positive_id,
    tool,
};
use crate::allure::Page;
use crate::allure::model::{IdName, TestCase};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CaseArgs {
    /// Test case id (list_test_cases shows ids).
    pub test_case_id: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CloneArgs {
    /// Test case to clone.
    pub test_case_id: i64,
    /// Appended to the copy's name (default " (copy)").
    pub name_suffix: Option<String>,
    /// Project to clone into (default: the same).
    pub to_project_id: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct VersionArgs {
    /// Test case id.
    pub test_case_id: i64,
    /// The version's title, e.g. "Before the checkout redesign".
    pub title: String,
    /// What it records.
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ScenarioArgs {
    /// Test case id.
    pub test_case_id: i64,
    /// true only after the user agreed. Clients that can ask the user are asked instead.
    pub confirm: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ProjectPageArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// 0-based page number (default 0).
    pub page: Option<u32>,
    /// Test cases per page, 1-100 (default 25).
    pub size: Option<u32>,
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(CLONE_TEST_CASE, clone_test_case),
        tool(RESTORE_TEST_CASE, restore_test_case),
        tool(LIST_DELETED_TEST_CASES, list_deleted_test_cases),
        tool(LIST_MUTED_TEST_CASES, list_muted_test_cases),
        tool(LIST_TEST_CASE_VERSIONS, list_test_case_versions),
        tool(CREATE_TEST_CASE_VERSION, create_test_case_version),
        tool(DETACH_TEST_CASE_AUTOMATION, detach_test_case_automation),
        tool(DELETE_TEST_CASE_SCENARIO, delete_test_case_scenario),
        tool(GET_TEST_CASE_VERSION_DATA, get_test_case_version_data),
        tool(RESTORE_TEST_CASE_VERSION, restore_test_case_version),
        tool(DELETE_TEST_CASE_VERSION, delete_test_case_version),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct VersionIdArgs {
    /// Version id (list_test_case_versions shows them).
    pub version_id: i64,
    /// (restore, delete) true only after the user agreed; clients that can ask are asked instead.
    pub confirm: Option<bool>,
}

fn version_missing(e: crate::allure::AllureError, id: i64) -> ToolError {
    ToolError::not_found(
        e,
        format!("Version {id}"),
        "list_test_case_versions shows a test case's versions.",
    )
}

const GET_TEST_CASE_VERSION_DATA: Meta = Meta {
    name: "get_test_case_version_data",
    toolset: Toolset::TestcaseHistory,
    title: "A test case as a version saved it",
    description: "What a test case looked like in a saved version: members, links, issues, tags, custom fields, test keys.",
    access: Access::Read,
};

async fn get_test_case_version_data(
    ctx: Ctx,
    a: VersionIdArgs,
) -> Result<super::testcase_admin::CaseOverview, ToolError> {
    let id = positive_id(
        "version_id",
        a.version_id,
        "list_test_case_versions shows ids",
    )?;
    let o = ctx
        .client
        .get::<super::testcase_admin::Overview>(&format!("/testcase/version/{id}/data"), &[])
        .await
        .map_err(|e| version_missing(e, id))?;
    Ok(super::testcase_admin::projected(&ctx, o))
}

const RESTORE_TEST_CASE_VERSION: Meta = Meta {
    name: "restore_test_case_version",
    toolset: Toolset::TestcaseHistory,
    title: "Restore a test case version",
    description: "Make a test case what a saved version recorded (its current state is replaced). Asks the user first.",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn restore_test_case_version(ctx: Ctx, a: VersionIdArgs) -> Result<Done, ToolError> {
    let id = positive_id(
        "version_id",
        a.version_id,
        "list_test_case_versions shows ids",
    )?;
    let what = format!("Restore version #{id} over its test case's current state");
    ctx.confirm(RESTORE_TEST_CASE_VERSION.name, a.confirm, &what)
        .await?;
    ctx.client
        .post_empty(&format!("/testcase/version/{id}/restore"))
        .await
        .map_err(|e| version_missing(e, id))?;
    Ok(Done {
        summary: format!("Restoring version #{id}; TestOps applies it in the background."),
        ids: vec![id],
        url: None,
    })
}

const DELETE_TEST_CASE_VERSION: Meta = Meta {
    name: "delete_test_case_version",
    toolset: Toolset::TestcaseHistory,
    title: "Delete a test case version",
    description: "Delete a saved version of a test case (the test case stays). Asks the user first.",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn delete_test_case_version(ctx: Ctx, a: VersionIdArgs) -> Result<Done, ToolError> {
    let id = positive_id(
        "version_id",
        a.version_id,
        "list_test_case_versions shows ids",
    )?;
    let what = format!("Delete saved version #{id}");
    ctx.confirm(DELETE_TEST_CASE_VERSION.name, a.confirm, &what)
        .await?;
    ctx.client
        .delete(&format!("/testcase/version/{id}"))
        .await
        .map_err(|e| version_missing(e, id))?;
    Ok(Done {
        summary: format!("Deleted version #{id}."),
        ids: vec![id],
        url: None,
    })
}

const CLONE_TEST_CASE: Meta = Meta {
    name: "clone_test_case",
    toolset: Toolset::TestcaseHistory,
    title: "Clone a test case",
    description: "Copy a test case (steps, fields, links, members) in its project or into another.",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn clone_test_case(ctx: Ctx, a: CloneArgs) -> Result<Done, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let mut body = json!({"nameSuffix": a.name_suffix.as_deref().unwrap_or(" (copy)")});
    if let Some(p) = a.to_project_id {
        body["toProjectId"] = json!(positive_id("to_project_id", p, "list_projects shows ids")?);
    }
    let answer = ctx
        .client
        .post::<IdName>(&format!("/testcase/{id}/clone"), body)
        .await;
    let copy = ctx.explain(Subject::TestCase(id), answer).await?;
    Ok(Done {
        summary: format!(
            "Cloned test case #{id} as #{} {}.",
            copy.id,
            copy.name.as_deref().unwrap_or("")
        ),
        ids: vec![copy.id],
        url: Some(case_url(&ctx, a.to_project_id, copy.id)),
    })
}

const RESTORE_TEST_CASE: Meta = Meta {
    name: "restore_test_case",
    toolset: Toolset::TestcaseHistory,
    title: "Restore a deleted test case",
    description: "Bring back a deleted test case (list_deleted_test_cases shows them).",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn restore_test_case(ctx: Ctx, a: CaseArgs) -> Result<Done, ToolError> {
    let id = positive_id(
        "test_case_id",
        a.test_case_id,
        "list_deleted_test_cases shows ids",
    )?;
    // The operation declares no body: none is sent.
    let answer = ctx
        .client
        .post_empty(&format!("/testcase/{id}/restore"))
        .await;
    let tc: TestCase = match answer {
        Ok(a) => a.json(&reqwest::Method::POST, "/testcase/{id}/restore")?,
        Err(e) if e.is_not_found() => {
            return Err(ToolError::NotFound {
                what: format!("Deleted test case {id}"),
                hint: "list_deleted_test_cases shows the project's deleted test cases.".into(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Done {
        summary: format!("Restored test case #{id} {}.", tc.name),
        ids: vec![id],
        url: Some(case_url(&ctx, tc.project_id, id)),
    })
}

#[derive(Debug, Deserialize)]
struct Row {
    id: i64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    automated: Option<bool>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CaseLine {
    pub id: i64,
    pub name: String,
    pub automated: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CaseList {
    pub project_id: i64,
    /// deleted or muted.
    pub which: String,
    pub test_cases: Vec<CaseLine>,
    pub page: PageInfo,
    /// Link pattern of a test case (`{id}`).
    pub links: String,
}

impl Render for CaseList {
    fn text(&self) -> String {
        let mut s = format!(
            "{} test cases of project {} ({}):\n",
            self.which,
            self.project_id,
            self.page.text()
        );
        for t in &self.test_cases {
            let kind = if t.automated { "automated" } else { "manual" };
            s.push_str(&format!("- #{} {} [{kind}]\n", t.id, t.name));
        }
        s.push_str(&format!("Links: {}", self.links));
        s
    }
}

async fn case_list(ctx: Ctx, a: ProjectPageArgs, which: &str) -> Result<CaseList, ToolError> {
    let (pid, q) = ctx.project_query(a.project_id, a.page, a.size, 25)?;
    let p: Page<Row> = ctx
        .project_get(&format!("/testcase/{which}"), pid, &q)
        .await?;
    Ok(CaseList {
        project_id: pid,
        which: which.to_owned(),
        page: PageInfo::of(&p),
        test_cases: p
            .content
            .into_iter()
            .map(|r| CaseLine {
                id: r.id,
                name: r.name.unwrap_or_default(),
                automated: r.automated.unwrap_or(false),
            })
            .collect(),
        links: {
            let one = case_url(&ctx, Some(pid), 0);
            format!("{}/{{id}}", one.strip_suffix("/0").unwrap_or(&one))
        },
    })
}

const LIST_DELETED_TEST_CASES: Meta = Meta {
    name: "list_deleted_test_cases",
    toolset: Toolset::TestcaseHistory,
    title: "Deleted test cases",
    description: "A project's deleted test cases, which restore_test_case can bring back. Paged.",
    access: Access::Read,
};

async fn list_deleted_test_cases(ctx: Ctx, a: ProjectPageArgs) -> Result<CaseList, ToolError> {
    case_list(ctx, a, "deleted").await
}

const LIST_MUTED_TEST_CASES: Meta = Meta {
    name: "list_muted_test_cases",
    toolset: Toolset::TestcaseHistory,
    title: "Muted test cases",
    description: "A project's test cases that are muted (their failures do not count). Paged.",
    access: Access::Read,
};

async fn list_muted_test_cases(ctx: Ctx, a: ProjectPageArgs) -> Result<CaseList, ToolError> {
    case_list(ctx, a, "muted").await
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Version {
    id: i64,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    created_date: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct VersionLine {
    pub id: i64,
    pub title: String,
    pub description: Option<String>,
    pub created_by: Option<String>,
    pub created: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Versions {
    pub test_case_id: i64,
    pub versions: Vec<VersionLine>,
}

impl Render for Versions {
    fn text(&self) -> String {
        let mut s = format!("Versions of test case #{}:\n", self.test_case_id);
        if self.versions.is_empty() {
            s.push_str("none (create_test_case_version records one)\n");
        }
        for v in &self.versions {
            s.push_str(&format!(
                "- #{} {} ({}, {})\n",
                v.id,
                v.title,
                v.created.as_deref().unwrap_or("?"),
                v.created_by.as_deref().unwrap_or("?")
            ));
        }
        s
    }
}

const LIST_TEST_CASE_VERSIONS: Meta = Meta {
    name: "list_test_case_versions",
    toolset: Toolset::TestcaseHistory,
    title: "A test case's versions",
    description: "The saved versions of a test case, newest last.",
    access: Access::Read,
};

async fn list_test_case_versions(ctx: Ctx, a: CaseArgs) -> Result<Versions, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let answer = ctx
        .client
        .get::<Vec<Version>>(&format!("/testcase/{id}/version"), &[])
        .await;
    let vs = ctx.explain(Subject::TestCase(id), answer).await?;
    Ok(Versions {
        test_case_id: id,
        versions: vs
            .into_iter()
            .map(|v| VersionLine {
                id: v.id,
                title: v.title.unwrap_or_default(),
                description: v.description.filter(|d| !d.is_empty()),
                created_by: v.created_by,
                created: time(v.created_date),
            })
            .collect(),
    })
}

const CREATE_TEST_CASE_VERSION: Meta = Meta {
    name: "create_test_case_version",
    toolset: Toolset::TestcaseHistory,
    title: "Save a test case version",
    description: "Record the test case as it is now as a named version.",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn create_test_case_version(ctx: Ctx, a: VersionArgs) -> Result<Done, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let title = a.title.trim();
    if title.is_empty() || title.chars().count() > 255 {
        return Err(ToolError::InvalidArgs(
            "title must be 1-255 characters".into(),
        ));
    }
    let mut body = json!({"title": title});
    if let Some(d) = a
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        body["description"] = json!(d);
    }
    let answer = ctx
        .client
        .post::<Value>(&format!("/testcase/{id}/version"), body)
        .await;
    let v = ctx.explain(Subject::TestCase(id), answer).await?;
    let vid = v.get("id").and_then(Value::as_i64);
    Ok(Done {
        summary: format!("Saved version '{title}' of test case #{id}."),
        ids: vid.into_iter().collect(),
        url: Some(case_url(&ctx, None, id)),
    })
}

const DETACH_TEST_CASE_AUTOMATION: Meta = Meta {
    name: "detach_test_case_automation",
    toolset: Toolset::TestcaseHistory,
    title: "Detach a test case from automation",
    description: "Make an automated test case manual: results of its automated test no longer update it.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn detach_test_case_automation(ctx: Ctx, a: CaseArgs) -> Result<Done, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let answer = ctx
        .client
        .post::<TestCase>(&format!("/testcase/{id}/detachautomation"), json!({}))
        .await;
    let tc = ctx.explain(Subject::TestCase(id), answer).await?;
    Ok(Done {
        summary: format!("Test case #{id} {} is manual now.", tc.name),
        ids: vec![id],
        url: Some(case_url(&ctx, tc.project_id, id)),
    })
}

const DELETE_TEST_CASE_SCENARIO: Meta = Meta {
    name: "delete_test_case_scenario",
    toolset: Toolset::TestcaseHistory,
    title: "Delete a test case's steps",
    description: "Remove every step of a test case's scenario (the test case stays). Asks the user first.",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn delete_test_case_scenario(ctx: Ctx, a: ScenarioArgs) -> Result<Done, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let tc = ctx
        .client
        .get::<TestCase>(&format!("/testcase/{id}"), &[])
        .await
        .map_err(|e| ToolError::case_not_found(e, id))?;
    let what = format!("Delete every step of test case #{id} {}", tc.name);
    ctx.confirm(DELETE_TEST_CASE_SCENARIO.name, a.confirm, &what)
        .await?;
    let answer = ctx.client.delete(&format!("/testcase/{id}/scenario")).await;
    ctx.explain(Subject::TestCase(id), answer).await?;
    Ok(Done {
        summary: format!("Test case #{id} {} has no steps now.", tc.name),
        ids: vec![id],
        url: Some(case_url(&ctx, tc.project_id, id)),
    })
}
