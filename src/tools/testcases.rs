//! Test cases and test plans: list, read with steps, create, update, delete, AQL search.
//! The testcases toolset's list also names the verified bulk status and tag writes,
//! kept in testcase_bulk.rs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::aql::{self, Entity};
use super::custom_fields;
use super::render::{cut, link_pattern, time};
use super::scenario::{self, StepInput};
use super::testcase_bulk::{
    BULK_ADD_TEST_CASE_TAGS, BULK_REMOVE_TEST_CASE_TAGS, BULK_SET_TEST_CASE_STATUS,
    bulk_add_test_case_tags, bulk_remove_test_case_tags, bulk_set_test_case_status,
};
use super::{
    Access, Ctx, Done, Meta, PageInfo, Render, Subject, ToolDef, ToolError, Toolset, created_body,
    positive_id, required_text, tool,
};
use crate::allure::Page;
use crate::allure::model::TestCase;

pub fn case_url(ctx: &Ctx, project: Option<i64>, id: i64) -> String {
    match project {
        Some(p) => ctx.link(&format!("/project/{p}/test-cases/{id}")),
        None => ctx.link(&format!("/testcase/{id}")),
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// 0-based page number (default 0).
    pub page: Option<u32>,
    /// Test cases per page, 1-100 (default 25).
    pub size: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// AQL over test cases, e.g. `automated = false and tag = "smoke"`. Guide: resource allure://aql-guide.
    pub aql: String,
    /// 0-based page number (default 0).
    pub page: Option<u32>,
    /// Test cases per page, 1-100 (default 25).
    pub size: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CaseLine {
    pub id: i64,
    pub name: String,
    pub automated: Option<bool>,
    /// Workflow status, e.g. Draft, Active, Outdated.
    pub status: Option<String>,
    /// From search_test_cases only: the plain list's rows (`TestCaseRowDto`) have none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub url: String,
}

impl CaseLine {
    fn from(ctx: &Ctx, pid: i64, t: TestCase) -> Self {
        CaseLine {
            url: case_url(ctx, Some(pid), t.id),
            id: t.id,
            name: t.name,
            automated: t.automated,
            status: t.status.and_then(|s| s.name),
            tags: t.tags.into_iter().filter_map(|t| t.name).collect(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CaseList {
    pub project_id: i64,
    pub aql: Option<String>,
    pub test_cases: Vec<CaseLine>,
    pub page: PageInfo,
}

impl Render for CaseList {
    fn text(&self) -> String {
        let mut s = format!(
            "Test cases of project {} ({}):\n",
            self.project_id,
            self.page.text()
        );
        for t in &self.test_cases {
            let kind = match t.automated {
                Some(true) => "automated",
                Some(false) => "manual",
                None => "?",
            };
            s.push_str(&format!(
                "- #{} {} [{}; {}]{}\n",
                t.id,
                t.name,
                t.status.as_deref().unwrap_or("?"),
                kind,
                if t.tags.is_empty() {
                    String::new()
                } else {
                    format!(" tags: {}", t.tags.join(", "))
                }
            ));
        }
        let rows = || self.test_cases.iter().map(|t| (t.id, t.url.as_str()));
        match link_pattern(rows()) {
            Some(line) => s.push_str(&line),
            None => rows().for_each(|(id, url)| s.push_str(&format!("#{id}: {url}\n"))),
        }
        s
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CaseIdArgs {
    /// Test case id (list_test_cases shows ids).
    pub test_case_id: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteCaseArgs {
    /// Test case id (list_test_cases shows ids).
    pub test_case_id: i64,
    /// true only after the user agreed to delete it. Clients that can ask the user
    /// (elicitation) are asked instead.
    pub confirm: Option<bool>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CaseStep {
    /// `2` or, for a sub-step, `2.1`.
    pub number: String,
    pub action: String,
    pub expected: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CaseDetails {
    pub id: i64,
    pub name: String,
    pub project_id: Option<i64>,
    pub description: Option<String>,
    pub precondition: Option<String>,
    pub expected_result: Option<String>,
    pub automated: Option<bool>,
    pub status: Option<String>,
    pub status_id: Option<i64>,
    pub workflow_id: Option<i64>,
    pub layer: Option<String>,
    pub tags: Vec<String>,
    pub steps: Vec<CaseStep>,
    pub last_modified: Option<String>,
    pub url: String,
}

impl Render for CaseDetails {
    fn text(&self) -> String {
        let mut s = format!(
            "Test case #{} {} [{}]\n",
            self.id,
            self.name,
            self.status.as_deref().unwrap_or("?")
        );
        // The ids update_test_case takes (status_id) and the workflow they belong to.
        if let Some(id) = self.status_id {
            s.push_str(&format!("status id {id}"));
            if let Some(w) = self.workflow_id {
                s.push_str(&format!(" (workflow {w})"));
            }
            s.push('\n');
        }
        for (label, v) in [
            ("description", &self.description),
            ("precondition", &self.precondition),
            ("expected", &self.expected_result),
        ] {
            if let Some(v) = v {
                s.push_str(&format!("{label}: {v}\n"));
            }
        }
        for st in &self.steps {
            s.push_str(&format!(
                "{}. {}{}\n",
                st.number,
                st.action,
                st.expected
                    .as_ref()
                    .map(|e| format!(" → {e}"))
                    .unwrap_or_default()
            ));
        }
        s.push_str(&self.url);
        s
    }
}

/// The steps of a normalised scenario, in order, depth-first.
fn scenario_steps(tree: &[scenario::StepView]) -> Vec<CaseStep> {
    scenario::flattened(tree)
        .into_iter()
        .map(|(number, st)| CaseStep {
            number,
            action: st.action.clone(),
            expected: st.expected.clone(),
        })
        .collect()
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// Test case name.
    pub name: String,
    /// What the test checks (markdown).
    pub description: Option<String>,
    /// What must hold before the steps.
    pub precondition: Option<String>,
    /// The expected result of the whole test.
    pub expected_result: Option<String>,
    /// Tags, e.g. ["smoke", "checkout"].
    pub tags: Option<Vec<String>>,
    /// Test layer by name, e.g. "UI", "API".
    pub layer: Option<String>,
    /// Custom field values by field name, e.g. {"Feature": ["Login"], "Priority": ["High"]}.
    pub custom_fields: Option<std::collections::BTreeMap<String, Vec<String>>>,
    /// The steps, in order, each with an optional expected result and sub-steps.
    pub steps: Option<Vec<StepInput>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdateArgs {
    /// Test case id.
    pub test_case_id: i64,
    /// New name.
    pub name: Option<String>,
    /// New description (markdown); an empty string clears it.
    pub description: Option<String>,
    /// Mark as automated (true) or manual (false).
    pub automated: Option<bool>,
    /// New workflow status id (get_test_case shows the current one; built-in statuses have negative ids).
    pub status_id: Option<i64>,
    /// New precondition; an empty string clears it.
    pub precondition: Option<String>,
    /// New expected result of the whole test; an empty string clears it.
    pub expected_result: Option<String>,
    /// Replaces all tags.
    pub tags: Option<Vec<String>>,
    /// New test layer by name, e.g. "UI", "API".
    pub layer: Option<String>,
    /// Custom field values by field name; each field named gets exactly these values (an empty list clears it).
    pub custom_fields: Option<std::collections::BTreeMap<String, Vec<String>>>,
    /// Replaces all steps (an empty list removes them).
    pub manual_scenario: Option<Vec<StepInput>>,
}

/// `[{name}]` (`TestTagDto`) from tag names: trimmed, empty ones and repeats left out.
fn tag_body(tags: &[String]) -> Result<serde_json::Value, ToolError> {
    let mut names: Vec<&str> = Vec::new();
    for t in tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        if t.len() > 255 {
            return Err(ToolError::InvalidArgs(format!(
                "tag '{t}' is over 255 characters"
            )));
        }
        if !names.contains(&t) {
            names.push(t);
        }
    }
    Ok(json!(
        names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()
    ))
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(LIST_TEST_CASES, list_test_cases),
        tool(SEARCH_TEST_CASES, search_test_cases),
        tool(GET_TEST_CASE, get_test_case),
        tool(CREATE_TEST_CASE, create_test_case),
        tool(UPDATE_TEST_CASE, update_test_case),
        tool(DELETE_TEST_CASE, delete_test_case),
        tool(BULK_SET_TEST_CASE_STATUS, bulk_set_test_case_status),
        tool(BULK_ADD_TEST_CASE_TAGS, bulk_add_test_case_tags),
        tool(BULK_REMOVE_TEST_CASE_TAGS, bulk_remove_test_case_tags),
    ]
}

const LIST_TEST_CASES: Meta = Meta {
    name: "list_test_cases",
    toolset: Toolset::Testcases,
    title: "List test cases",
    description: "List a project's test cases with status, automated/manual and links. Paged; search_test_cases filters with AQL and also shows tags.",
    access: Access::Read,
};

async fn list_test_cases(ctx: Ctx, a: ListArgs) -> Result<CaseList, ToolError> {
    let (pid, q) = ctx.project_query(a.project_id, a.page, a.size, 25)?;
    let p: Page<TestCase> = ctx.project_get("/testcase", pid, &q).await?;
    Ok(CaseList {
        project_id: pid,
        aql: None,
        page: PageInfo::of(&p),
        test_cases: p
            .content
            .into_iter()
            .map(|t| CaseLine::from(&ctx, pid, t))
            .collect(),
    })
}

const SEARCH_TEST_CASES: Meta = Meta {
    name: "search_test_cases",
    toolset: Toolset::Testcases,
    title: "Search test cases with AQL",
    description: "Search a project's test cases with AQL (e.g. `automated = false and tag = \"smoke\"`). Guide: resource allure://aql-guide. Paged.",
    access: Access::Read,
};

async fn search_test_cases(ctx: Ctx, a: SearchArgs) -> Result<CaseList, ToolError> {
    let found = aql::search::<TestCase>(
        &ctx,
        Entity::TestCase,
        a.project_id,
        &a.aql,
        (a.page, a.size, 25),
    )
    .await?;
    let pid = found.project_id;
    Ok(CaseList {
        project_id: pid,
        aql: Some(found.aql),
        page: PageInfo::of(&found.page),
        test_cases: found
            .page
            .content
            .into_iter()
            .map(|t| CaseLine::from(&ctx, pid, t))
            .collect(),
    })
}

const GET_TEST_CASE: Meta = Meta {
    name: "get_test_case",
    toolset: Toolset::Testcases,
    title: "Get a test case",
    description: "One test case with description, precondition, expected result, numbered steps with expected results, status (with ids for updates), tags and link.",
    access: Access::Read,
};

async fn get_test_case(ctx: Ctx, a: CaseIdArgs) -> Result<CaseDetails, ToolError> {
    let (tc, tree) = scenario::read_case(&ctx, a.test_case_id).await?;
    let steps = scenario_steps(&tree);
    Ok(CaseDetails {
        url: case_url(&ctx, tc.project_id, tc.id),
        id: tc.id,
        name: tc.name,
        project_id: tc.project_id,
        description: tc
            .description
            .filter(|d| !d.is_empty())
            .map(|d| cut(&d, 2000, "open the link for the rest")),
        precondition: tc.precondition.filter(|d| !d.is_empty()),
        expected_result: tc.expected_result.filter(|d| !d.is_empty()),
        automated: tc.automated,
        status_id: tc.status.as_ref().map(|s| s.id),
        status: tc.status.and_then(|s| s.name),
        workflow_id: tc.workflow.map(|w| w.id),
        layer: tc.layer.and_then(|l| l.name),
        tags: tc.tags.into_iter().filter_map(|t| t.name).collect(),
        steps,
        last_modified: time(tc.last_modified_date),
    })
}

const CREATE_TEST_CASE: Meta = Meta {
    name: "create_test_case",
    toolset: Toolset::Testcases,
    title: "Create a test case",
    description: "Create a (manual, draft) test case: name, and optionally description, precondition, expected result, tags, layer, custom fields and steps (nested, with expected results).",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn create_test_case(ctx: Ctx, a: CreateArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let mut body = created_body(pid, &a.name, a.description.as_deref())?;
    for (key, value) in [
        ("precondition", &a.precondition),
        ("expectedResult", &a.expected_result),
    ] {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            body[key] = json!(v);
        }
    }
    if let Some(tags) = &a.tags {
        body["tags"] = tag_body(tags)?;
    }
    let steps = a.steps.unwrap_or_default();
    let total = scenario::check_steps(&steps)?;
    // Names are resolved before anything is created.
    if let Some(layer) = a.layer.as_deref() {
        body["testLayerId"] = json!(custom_fields::layer_id(&ctx, layer).await?);
    }
    let fields = match &a.custom_fields {
        Some(f) if !f.is_empty() => custom_fields::resolve(&ctx, pid, f).await?,
        _ => vec![],
    };
    let answer = ctx.client.post::<TestCase>("/testcase", body).await;
    let tc = ctx.explain(Subject::Project(pid), answer).await?;
    if !fields.is_empty() {
        custom_fields::apply(&ctx, pid, tc.id, &fields).await.map_err(|e| {
            let steps = if total > 0 {
                format!(" and without its {total} step(s) (update_test_case with manual_scenario writes them)")
            } else {
                String::new()
            };
            ToolError::Other(format!(
                "{e}. Test case #{} was created without its custom fields (update_test_case_custom_fields sets them){steps}",
                tc.id
            ))
        })?;
    }
    // The steps are written one by one after the case exists (see scenario.rs).
    scenario::replace_steps(&ctx, tc.id, &steps, total, false).await?;
    let with = if total > 0 {
        format!(" with {total} step(s)")
    } else {
        String::new()
    };
    Ok(Done {
        summary: format!("Created test case #{} {}{with}.", tc.id, tc.name),
        ids: vec![tc.id],
        url: Some(case_url(&ctx, Some(pid), tc.id)),
    })
}

const UPDATE_TEST_CASE: Meta = Meta {
    name: "update_test_case",
    toolset: Toolset::Testcases,
    title: "Update a test case",
    description: "Change a test case's name, description, precondition, expected result, tags (replaced), layer, custom fields, automated flag, workflow status, or all its steps (manual_scenario). Only the fields given change.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn update_test_case(ctx: Ctx, a: UpdateArgs) -> Result<Done, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let mut body = serde_json::Map::new();
    if let Some(n) = &a.name {
        body.insert("name".into(), json!(required_text("name", n, 255)?));
    }
    if let Some(d) = &a.description {
        body.insert("description".into(), json!(d.trim()));
    }
    if let Some(x) = a.automated {
        body.insert("automated".into(), json!(x));
    }
    if let Some(sid) = a.status_id {
        if sid == 0 {
            return Err(ToolError::InvalidArgs(
                "status_id 0 is not a status id".into(),
            ));
        }
        body.insert("statusId".into(), json!(sid));
    }
    for (key, value) in [
        ("precondition", &a.precondition),
        ("expectedResult", &a.expected_result),
    ] {
        if let Some(v) = value {
            body.insert(key.into(), json!(v.trim()));
        }
    }
    if let Some(tags) = &a.tags {
        body.insert("tags".into(), tag_body(tags)?);
    }
    let steps = a.manual_scenario.as_deref();
    let total = steps.map(scenario::check_steps).transpose()?;
    let fields_asked = a.custom_fields.as_ref().filter(|f| !f.is_empty());
    if body.is_empty() && steps.is_none() && a.layer.is_none() && fields_asked.is_none() {
        return Err(ToolError::InvalidArgs(
            "nothing to change: give name, description, automated, status_id, precondition, expected_result, tags, layer, custom_fields or manual_scenario".into(),
        ));
    }
    if let Some(layer) = a.layer.as_deref() {
        body.insert(
            "testLayerId".into(),
            json!(custom_fields::layer_id(&ctx, layer).await?),
        );
    }
    // Custom field names are resolved before anything is written: that needs the case's
    // project, read first.
    let wanted = match fields_asked {
        Some(asked) => {
            let (_, pid) = custom_fields::case_project(&ctx, id).await?;
            Some((pid, custom_fields::resolve(&ctx, pid, asked).await?))
        }
        None => None,
    };
    let mut fields = body.keys().cloned().collect::<Vec<_>>();
    let tc: TestCase = if body.is_empty() {
        ctx.client.get(&format!("/testcase/{id}"), &[]).await
    } else {
        ctx.client
            .patch(&format!("/testcase/{id}"), serde_json::Value::Object(body))
            .await
    }
    .map_err(|e| ToolError::case_not_found(e, id))?;
    if let Some((pid, wanted)) = &wanted {
        custom_fields::apply(&ctx, *pid, id, wanted).await?;
        fields.push("custom fields".into());
    }
    if let (Some(steps), Some(total)) = (steps, total) {
        scenario::replace_steps(&ctx, id, steps, total, true).await?;
        fields.push(format!("{total} step(s)"));
    }
    let fields = fields.join(", ");
    Ok(Done {
        summary: format!("Updated test case #{} {} ({fields}).", tc.id, tc.name),
        ids: vec![tc.id],
        url: Some(case_url(&ctx, tc.project_id, tc.id)),
    })
}

const DELETE_TEST_CASE: Meta = Meta {
    name: "delete_test_case",
    toolset: Toolset::Testcases,
    title: "Delete a test case",
    description: "Delete a test case (it moves to the project's deleted test cases, where TestOps can restore it). Asks the user first.",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn delete_test_case(ctx: Ctx, a: DeleteCaseArgs) -> Result<Done, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let tc: TestCase = ctx
        .client
        .get(&format!("/testcase/{id}"), &[])
        .await
        .map_err(|e| ToolError::case_not_found(e, id))?;
    let what = format!("Delete test case #{id} {}", tc.name);
    ctx.confirm(DELETE_TEST_CASE.name, a.confirm, &what).await?;
    ctx.client
        .delete(&format!("/testcase/{id}"))
        .await
        .map_err(|e| ToolError::case_not_found(e, id))?;
    Ok(Done {
        summary: format!("Deleted test case #{id} {}.", tc.name),
        ids: vec![id],
        url: None,
    })
}
