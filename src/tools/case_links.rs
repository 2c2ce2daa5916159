//! A test case's test keys, relations to other test cases, examples (parameter sets)
//! and audit log, off by default (toolset testcase_extras; the Go server's names).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::defect_links::integration;
use super::render::time;
use super::testcase_admin::overview;
use super::testcases::case_url;
use super::{
    Access, Ctx, Done, Meta, PageInfo, Render, Subject, ToolDef, ToolError, Toolset, paging,
    positive_id, tool,
};
use crate::allure::Page;
use crate::allure::model::IdName;

/// What a relation may be (`TestCaseRelationTypeDto` in the API description).
const RELATIONS: [&str; 7] = [
    "related to",
    "clones",
    "is cloned by",
    "duplicates",
    "is duplicated by",
    "automates",
    "is automated by",
];

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CaseArgs {
    /// Test case id (list_test_cases shows ids).
    pub test_case_id: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct KeysArgs {
    /// Test case id.
    pub test_case_id: i64,
    /// Test keys (its ids in another test management system), e.g. ["TMS-101"]; replaces them ([] removes all).
    pub keys: Vec<String>,
    /// Integration id, when the project has several.
    pub integration_id: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Relation {
    /// The other test case.
    pub test_case_id: i64,
    /// related to, clones, is cloned by, duplicates, is duplicated by, automates, is automated by.
    pub kind: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RelationsArgs {
    /// Test case id.
    pub test_case_id: i64,
    /// Its relations from now on ([] removes all).
    pub relations: Vec<Relation>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ExamplesArgs {
    /// Test case id.
    pub test_case_id: i64,
    /// One parameter set per example, e.g. [{"browser": "chrome"}, {"browser": "firefox"}]; replaces them.
    pub examples: Vec<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AuditArgs {
    /// Test case id.
    pub test_case_id: i64,
    /// 0-based page number (default 0).
    pub page: Option<u32>,
    /// Entries per page, 1-100 (default 25).
    pub size: Option<u32>,
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(SET_TEST_CASE_KEYS, set_test_case_keys),
        tool(GET_TEST_CASE_RELATIONS, get_test_case_relations),
        tool(SET_TEST_CASE_RELATIONS, set_test_case_relations),
        tool(GET_TEST_CASE_EXAMPLES, get_test_case_examples),
        tool(SET_TEST_CASE_EXAMPLES, set_test_case_examples),
        tool(GET_TEST_CASE_AUDIT, get_test_case_audit),
        tool(CREATE_TEST_TAG, create_test_tag),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TagArgs {
    /// The tag, e.g. "smoke".
    pub name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Tag {
    pub id: i64,
    pub name: String,
}

impl Render for Tag {
    fn text(&self) -> String {
        format!("Test tag #{} {}", self.id, self.name)
    }
}

const CREATE_TEST_TAG: Meta = Meta {
    name: "create_test_tag",
    toolset: Toolset::TestcaseExtras,
    title: "Create a test tag",
    description: "Create a test case tag in the instance (update_test_case also creates tags it is given).",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn create_test_tag(ctx: Ctx, a: TagArgs) -> Result<Tag, ToolError> {
    let name = a.name.trim();
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(ToolError::InvalidArgs(
            "name must be 1-255 characters on one line".into(),
        ));
    }
    let t = ctx
        .client
        .post::<IdName>("/tag", json!({"name": name}))
        .await?;
    Ok(Tag {
        id: t.id,
        name: t.name.unwrap_or_else(|| name.to_owned()),
    })
}

const SET_TEST_CASE_KEYS: Meta = Meta {
    name: "set_test_case_keys",
    toolset: Toolset::TestcaseExtras,
    title: "Set a test case's test keys",
    description: "Replace the test keys (ids in another test management system) of a test case; get_test_case_overview shows them.",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn set_test_case_keys(ctx: Ctx, a: KeysArgs) -> Result<Done, ToolError> {
    let keys = super::distinct_keys(&a.keys, "a test key")?;
    let o = overview(&ctx, a.test_case_id).await?;
    let body = if keys.is_empty() {
        json!([])
    } else {
        let i = integration(&ctx, o.project_id.unwrap_or(0), a.integration_id).await?;
        json!(
            keys.iter()
                .map(|k| json!({"name": k, "integrationId": i}))
                .collect::<Vec<_>>()
        )
    };
    let answer = ctx
        .client
        .post::<Value>(&format!("/testcase/{}/testkey", o.id), body)
        .await;
    ctx.explain(Subject::TestCase(o.id), answer).await?;
    Ok(Done {
        summary: format!("Test case #{} has test keys [{}].", o.id, keys.join(", ")),
        ids: vec![o.id],
        url: Some(case_url(&ctx, o.project_id, o.id)),
    })
}

#[derive(Debug, Deserialize)]
struct RelationDto {
    #[serde(default)]
    target: Option<IdName>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RelationLine {
    pub kind: String,
    pub test_case_id: i64,
    pub name: String,
    pub url: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Relations {
    pub test_case_id: i64,
    pub relations: Vec<RelationLine>,
}

impl Render for Relations {
    fn text(&self) -> String {
        let mut s = format!("Relations of test case #{}:\n", self.test_case_id);
        if self.relations.is_empty() {
            s.push_str("none\n");
        }
        for r in &self.relations {
            s.push_str(&format!(
                "- {} #{} {} {}\n",
                r.kind, r.test_case_id, r.name, r.url
            ));
        }
        s
    }
}

async fn relations_of(ctx: &Ctx, id: i64, list: Vec<RelationDto>) -> Relations {
    Relations {
        test_case_id: id,
        relations: list
            .into_iter()
            .filter_map(|r| {
                let t = r.target?;
                Some(RelationLine {
                    kind: r.kind.unwrap_or_default(),
                    url: case_url(ctx, None, t.id),
                    test_case_id: t.id,
                    name: t.name.unwrap_or_default(),
                })
            })
            .collect(),
    }
}

const GET_TEST_CASE_RELATIONS: Meta = Meta {
    name: "get_test_case_relations",
    toolset: Toolset::TestcaseExtras,
    title: "A test case's relations",
    description: "How a test case relates to others: duplicates, clones, automates, related to.",
    access: Access::Read,
};

async fn get_test_case_relations(ctx: Ctx, a: CaseArgs) -> Result<Relations, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let answer = ctx
        .client
        .get::<Vec<RelationDto>>(&format!("/testcase/{id}/relation"), &[])
        .await;
    let list = ctx.explain(Subject::TestCase(id), answer).await?;
    Ok(relations_of(&ctx, id, list).await)
}

const SET_TEST_CASE_RELATIONS: Meta = Meta {
    name: "set_test_case_relations",
    toolset: Toolset::TestcaseExtras,
    title: "Set a test case's relations",
    description: "Replace how a test case relates to others (duplicates, clones, automates, related to).",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn set_test_case_relations(ctx: Ctx, a: RelationsArgs) -> Result<Relations, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let mut body = Vec::new();
    for r in &a.relations {
        let kind = r.kind.trim().to_ascii_lowercase();
        if !RELATIONS.contains(&kind.as_str()) {
            return Err(ToolError::InvalidArgs(format!(
                "relation '{}' is not one of: {}",
                r.kind,
                RELATIONS.join(", ")
            )));
        }
        if r.test_case_id == id {
            return Err(ToolError::InvalidArgs(
                "a test case cannot relate to itself".into(),
            ));
        }
        let target = positive_id("test_case_id", r.test_case_id, "list_test_cases shows ids")?;
        body.push(json!({"target": {"id": target}, "type": kind}));
    }
    let answer = ctx
        .client
        .post::<Vec<RelationDto>>(&format!("/testcase/{id}/relation"), json!(body))
        .await;
    let list = ctx.explain(Subject::TestCase(id), answer).await?;
    Ok(relations_of(&ctx, id, list).await)
}

#[derive(Debug, Deserialize)]
struct ExampleDto {
    #[serde(default)]
    parameters: Option<Vec<Param>>,
}

#[derive(Debug, Deserialize)]
struct Param {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Examples {
    pub test_case_id: i64,
    /// One parameter set per example.
    pub examples: Vec<std::collections::BTreeMap<String, String>>,
}

impl Render for Examples {
    fn text(&self) -> String {
        let mut s = format!("Examples of test case #{}:\n", self.test_case_id);
        if self.examples.is_empty() {
            s.push_str("none\n");
        }
        for e in &self.examples {
            let pairs: Vec<String> = e.iter().map(|(k, v)| format!("{k}={v}")).collect();
            s.push_str(&format!("- {}\n", pairs.join(", ")));
        }
        s
    }
}

fn examples_of(id: i64, list: Vec<ExampleDto>) -> Examples {
    Examples {
        test_case_id: id,
        examples: list
            .into_iter()
            .map(|e| {
                e.parameters
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|p| Some((p.name?, p.value.unwrap_or_default())))
                    .collect()
            })
            .collect(),
    }
}

const GET_TEST_CASE_EXAMPLES: Meta = Meta {
    name: "get_test_case_examples",
    toolset: Toolset::TestcaseExtras,
    title: "A test case's examples",
    description: "The parameter sets a test case runs with (its examples).",
    access: Access::Read,
};

async fn get_test_case_examples(ctx: Ctx, a: CaseArgs) -> Result<Examples, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let q = paging(Some(0), Some(100), 100)?;
    let answer = ctx
        .client
        .get::<Page<ExampleDto>>(&format!("/testcase/{id}/example"), &q)
        .await;
    let p = ctx.explain(Subject::TestCase(id), answer).await?;
    Ok(examples_of(id, p.content))
}

const SET_TEST_CASE_EXAMPLES: Meta = Meta {
    name: "set_test_case_examples",
    toolset: Toolset::TestcaseExtras,
    title: "Set a test case's examples",
    description: "Replace the parameter sets a test case runs with, e.g. one per browser.",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn set_test_case_examples(ctx: Ctx, a: ExamplesArgs) -> Result<Examples, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    if a.examples.len() > 100 {
        return Err(ToolError::InvalidArgs("at most 100 examples".into()));
    }
    let body: Vec<Vec<Value>> = a
        .examples
        .iter()
        .map(|e| {
            e.iter()
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect()
        })
        .collect();
    let answer = ctx
        .client
        .post::<Vec<ExampleDto>>(&format!("/testcase/{id}/example"), json!(body))
        .await;
    let list = ctx.explain(Subject::TestCase(id), answer).await?;
    Ok(examples_of(id, list))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuditDto {
    #[serde(default)]
    action_type: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    timestamp: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditLine {
    /// insert, update or delete.
    pub action: String,
    pub username: String,
    pub at: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Audit {
    pub test_case_id: i64,
    pub entries: Vec<AuditLine>,
    pub page: PageInfo,
}

impl Render for Audit {
    fn text(&self) -> String {
        let mut s = format!(
            "Changes to test case #{} ({}):\n",
            self.test_case_id,
            self.page.text()
        );
        for e in &self.entries {
            s.push_str(&format!(
                "- {} {} by {}\n",
                e.at.as_deref().unwrap_or("?"),
                e.action,
                e.username
            ));
        }
        s
    }
}

const GET_TEST_CASE_AUDIT: Meta = Meta {
    name: "get_test_case_audit",
    toolset: Toolset::TestcaseExtras,
    title: "Who changed a test case",
    description: "A test case's audit log: who changed it, when, how. Paged, newest first.",
    access: Access::Read,
};

async fn get_test_case_audit(ctx: Ctx, a: AuditArgs) -> Result<Audit, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let mut q = paging(a.page, a.size, 25)?;
    q.push(("testCaseId", id.to_string()));
    let answer = ctx
        .client
        .get::<Page<AuditDto>>("/testcase/audit", &q)
        .await;
    let p = ctx.explain(Subject::TestCase(id), answer).await?;
    Ok(Audit {
        test_case_id: id,
        page: PageInfo::of(&p),
        entries: p
            .content
            .into_iter()
            .map(|e| AuditLine {
                action: e.action_type.unwrap_or_default(),
                username: e.username.unwrap_or_default(),
                at: time(e.timestamp),
            })
            .collect(),
    })
}
