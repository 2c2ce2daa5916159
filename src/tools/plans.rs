//! Test plans: list, read, create from test case ids or AQL, rename and change their
//! test cases, list their test cases, delete. A plan is a base AQL over the project's
//! test cases and a selection within it (`TestPlanCreateDto`); running one stays
//! `run_allure_launch(test_plan_id)`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::render::{link_pattern, time};
use super::testcases::ListArgs;
use super::{
    Access, Ctx, Done, Meta, PageInfo, Render, Subject, ToolDef, ToolError, Toolset, bulk_ids,
    positive_id, required_text, tool,
};
use crate::allure::Page;
use crate::allure::model::{PlanLeaf, TestPlan, TreeSelection};

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(LIST_TEST_PLANS, list_test_plans),
        tool(GET_TEST_PLAN, get_test_plan),
        tool(LIST_TEST_PLAN_TEST_CASES, list_test_plan_test_cases),
        tool(BULK_CREATE_TEST_PLAN, bulk_create_test_plan),
        tool(UPDATE_TEST_PLAN, update_test_plan),
        tool(DELETE_TEST_PLAN, delete_test_plan),
    ]
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanLine {
    pub id: i64,
    pub name: String,
    pub test_cases: Option<i64>,
    /// After a change: how many test cases the plan had before it.
    pub before: Option<i64>,
    pub created: Option<String>,
    pub url: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanList {
    pub project_id: i64,
    pub test_plans: Vec<PlanLine>,
    pub page: PageInfo,
}

impl Render for PlanList {
    fn text(&self) -> String {
        let mut s = format!(
            "Test plans of project {} ({}); run one with run_allure_launch(test_plan_id=…):\n",
            self.project_id,
            self.page.text()
        );
        for p in &self.test_plans {
            s.push_str(&format!(
                "- #{} {} ({} test cases)\n",
                p.id,
                p.name,
                p.test_cases.unwrap_or(0)
            ));
        }
        let rows = || self.test_plans.iter().map(|p| (p.id, p.url.as_str()));
        match link_pattern(rows()) {
            Some(line) => s.push_str(&line),
            None => rows().for_each(|(id, url)| s.push_str(&format!("#{id}: {url}\n"))),
        }
        s
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PlanIdArgs {
    /// Test plan id (list_test_plans shows ids).
    pub test_plan_id: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeletePlanArgs {
    /// Test plan id (list_test_plans shows ids).
    pub test_plan_id: i64,
    /// true only after the user agreed to delete it. Clients that can ask the user
    /// (elicitation) are asked instead.
    pub confirm: Option<bool>,
}

impl Render for PlanLine {
    fn text(&self) -> String {
        let was = self
            .before
            .map(|b| format!(" (was {b})"))
            .unwrap_or_default();
        format!(
            "Test plan #{} {}: {} test cases{was}, created {} {}",
            self.id,
            self.name,
            self.test_cases.unwrap_or(0),
            self.created.as_deref().unwrap_or("?"),
            self.url
        )
    }
}

fn plan_line(ctx: &Ctx, p: TestPlan) -> PlanLine {
    PlanLine {
        url: ctx.link(&format!(
            "/project/{}/testplans/{}",
            p.project_id.unwrap_or(0),
            p.id
        )),
        id: p.id,
        name: p.name,
        test_cases: p.test_cases_count,
        before: None,
        created: time(p.created_date),
    }
}

const LIST_TEST_PLANS: Meta = Meta {
    name: "list_test_plans",
    toolset: Toolset::Plans,
    title: "List test plans",
    description: "List a project's test plans with their number of test cases; run_allure_launch(test_plan_id=…) runs one.",
    access: Access::Read,
};

async fn list_test_plans(ctx: Ctx, a: ListArgs) -> Result<PlanList, ToolError> {
    let (pid, q) = ctx.project_query(a.project_id, a.page, a.size, 25)?;
    let p: Page<TestPlan> = ctx.project_get("/testplan", pid, &q).await?;
    Ok(PlanList {
        project_id: pid,
        page: PageInfo::of(&p),
        test_plans: p.content.into_iter().map(|t| plan_line(&ctx, t)).collect(),
    })
}

const GET_TEST_PLAN: Meta = Meta {
    name: "get_test_plan",
    toolset: Toolset::Plans,
    title: "Get a test plan",
    description: "One test plan: name, number of test cases, creation date and link.",
    access: Access::Read,
};

async fn get_test_plan(ctx: Ctx, a: PlanIdArgs) -> Result<PlanLine, ToolError> {
    let id = positive_id("test_plan_id", a.test_plan_id, "list_test_plans shows ids")?;
    let p: TestPlan = ctx
        .client
        .get(&format!("/testplan/{id}"), &[])
        .await
        .map_err(|e| ToolError::plan_not_found(e, id))?;
    Ok(plan_line(&ctx, p))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreatePlanArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// Name of the plan.
    pub name: String,
    /// Test cases to put in the plan.
    pub test_case_ids: Option<Vec<i64>>,
    /// AQL over test cases, e.g. `tag = "smoke"`; with test_case_ids, only those of them it matches.
    pub aql: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdatePlanArgs {
    /// Test plan id (list_test_plans shows ids).
    pub test_plan_id: i64,
    /// New name.
    pub name: Option<String>,
    /// Test cases to add.
    pub add_test_case_ids: Option<Vec<i64>>,
    /// Test cases to remove.
    pub remove_test_case_ids: Option<Vec<i64>>,
    /// Adds the test cases this AQL matches, e.g. `tag = "smoke"` (up to 1000).
    pub add_aql: Option<String>,
    /// Removes the test cases this AQL matches (up to 1000).
    pub remove_aql: Option<String>,
    /// New base AQL (replaces the plan's); an empty string removes it.
    pub aql: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PlanPageArgs {
    /// Test plan id (list_test_plans shows ids).
    pub test_plan_id: i64,
    /// 0-based page number (default 0).
    pub page: Option<u32>,
    /// Test cases per page, 1-100 (default 50).
    pub size: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanCase {
    pub id: i64,
    pub name: String,
    pub automated: Option<bool>,
    pub status: Option<String>,
    pub layer: Option<String>,
    pub url: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanCases {
    pub test_plan_id: i64,
    pub test_cases: Vec<PlanCase>,
    pub page: PageInfo,
}

impl Render for PlanCases {
    fn text(&self) -> String {
        let mut s = format!(
            "Test cases of test plan #{} ({}):\n",
            self.test_plan_id,
            self.page.text()
        );
        for c in &self.test_cases {
            s.push_str(&format!(
                "- #{} {} [{}; {}]\n",
                c.id,
                c.name,
                c.status.as_deref().unwrap_or("?"),
                match c.automated {
                    Some(true) => "automated",
                    Some(false) => "manual",
                    None => "?",
                }
            ));
        }
        let rows = || self.test_cases.iter().map(|c| (c.id, c.url.as_str()));
        match link_pattern(rows()) {
            Some(line) => s.push_str(&line),
            None => rows().for_each(|(id, url)| s.push_str(&format!("#{id}: {url}\n"))),
        }
        s
    }
}

const LIST_TEST_PLAN_TEST_CASES: Meta = Meta {
    name: "list_test_plan_test_cases",
    toolset: Toolset::Plans,
    title: "List a test plan's test cases",
    description: "The test cases in a test plan, with status, automated/manual and links. Paged.",
    access: Access::Read,
};

async fn list_test_plan_test_cases(ctx: Ctx, a: PlanPageArgs) -> Result<PlanCases, ToolError> {
    let id = positive_id("test_plan_id", a.test_plan_id, "list_test_plans shows ids")?;
    let mut q = super::paging(a.page, a.size, 50)?;
    q.push(("sort", "name,asc".into()));
    let plan = read_plan(&ctx, id).await?;
    let page: Page<PlanLeaf> = ctx
        .client
        .get(&format!("/testplan/{id}/tree/leaf"), &q)
        .await
        .map_err(|e| ToolError::plan_not_found(e, id))?;
    let project = plan.project_id;
    Ok(PlanCases {
        test_plan_id: id,
        page: PageInfo::of(&page),
        test_cases: page
            .content
            .into_iter()
            .map(|l| PlanCase {
                url: super::testcases::case_url(&ctx, project, l.id),
                id: l.id,
                name: l.name,
                automated: l.automated,
                status: l.status_name,
                layer: l.layer_name,
            })
            .collect(),
    })
}

async fn read_plan(ctx: &Ctx, id: i64) -> Result<TestPlan, ToolError> {
    ctx.client
        .get(&format!("/testplan/{id}"), &[])
        .await
        .map_err(|e| ToolError::plan_not_found(e, id))
}

/// An AQL argument: trimmed, checked like any query; `Some("")` stays empty (removes).
fn plan_aql(aql: Option<&str>) -> Result<Option<String>, ToolError> {
    match aql.map(str::trim) {
        None => Ok(None),
        Some("") => Ok(Some(String::new())),
        Some(q) => super::aql::check_query(q).map(Some),
    }
}

/// A write a plan refused over its AQL is the caller's to fix.
fn plan_error(e: crate::allure::AllureError, id: Option<i64>) -> ToolError {
    match (e.status(), id) {
        (Some(400), _) => super::aql::aql_error(e),
        (_, Some(id)) => ToolError::plan_not_found(e, id),
        _ => ToolError::Upstream(e),
    }
}

const BULK_CREATE_TEST_PLAN: Meta = Meta {
    name: "bulk_create_test_plan",
    toolset: Toolset::Plans,
    title: "Create a test plan",
    description: "Create a test plan from test case ids, an AQL selection, or both (the ids the AQL matches). run_allure_launch(test_plan_id) runs it.",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn bulk_create_test_plan(ctx: Ctx, a: CreatePlanArgs) -> Result<PlanLine, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let name = required_text("name", &a.name, 255)?;
    let ids = a
        .test_case_ids
        .as_deref()
        .map(|ids| bulk_ids("test_case_ids", ids))
        .transpose()?;
    let aql = plan_aql(a.aql.as_deref())?.filter(|q| !q.is_empty());
    if ids.is_none() && aql.is_none() {
        return Err(ToolError::InvalidArgs(
            "give test_case_ids, aql, or both: a plan with nothing selected would be empty".into(),
        ));
    }
    let mut body = json!({"projectId": pid, "name": name, "treeSelection": match &ids {
        Some(ids) => json!({"inverted": false, "leafsInclude": ids}),
        None => json!({"inverted": true, "leafsExclude": []}),
    }});
    if let Some(q) = &aql {
        body["baseRql"] = json!(q);
    }
    let answer = ctx.client.post::<TestPlan>("/testplan", body).await;
    let plan = match answer {
        Err(e) if e.status() == Some(400) => return Err(plan_error(e, None)),
        other => ctx.explain(Subject::Project(pid), other).await?,
    };
    Ok(plan_line(&ctx, plan))
}

const UPDATE_TEST_PLAN: Meta = Meta {
    name: "update_test_plan",
    toolset: Toolset::Plans,
    title: "Change a test plan or its test cases",
    description: "Add test cases to a test plan or remove them (by id or AQL), rename it, or replace its base AQL. Answers the plan with its new number of test cases.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn update_test_plan(ctx: Ctx, a: UpdatePlanArgs) -> Result<PlanLine, ToolError> {
    let id = positive_id("test_plan_id", a.test_plan_id, "list_test_plans shows ids")?;
    let add = a
        .add_test_case_ids
        .as_deref()
        .map(|v| bulk_ids("add_test_case_ids", v))
        .transpose()?
        .unwrap_or_default();
    let remove = a
        .remove_test_case_ids
        .as_deref()
        .map(|v| bulk_ids("remove_test_case_ids", v))
        .transpose()?
        .unwrap_or_default();
    let aql = plan_aql(a.aql.as_deref())?;
    let name = a
        .name
        .as_deref()
        .map(|n| required_text("name", n, 255))
        .transpose()?;
    let by_aql = |q: &Option<String>| q.as_deref().map(super::aql::check_query).transpose();
    let (add_aql, remove_aql) = (by_aql(&a.add_aql)?, by_aql(&a.remove_aql)?);
    if name.is_none()
        && aql.is_none()
        && add.is_empty()
        && remove.is_empty()
        && add_aql.is_none()
        && remove_aql.is_none()
    {
        return Err(ToolError::InvalidArgs(
            "nothing to change: give name, add_test_case_ids, remove_test_case_ids, add_aql, remove_aql or aql".into(),
        ));
    }
    let plan = read_plan(&ctx, id).await?;
    let (mut add, mut remove) = (add, remove);
    if let Some(q) = &add_aql {
        add.extend(matching_cases(&ctx, plan.project_id, q).await?);
    }
    if let Some(q) = &remove_aql {
        remove.extend(matching_cases(&ctx, plan.project_id, q).await?);
    }
    let mut body = serde_json::Map::new();
    if let Some(n) = name {
        body.insert("name".into(), json!(n));
    }
    if let Some(q) = aql {
        body.insert("baseRql".into(), json!(q));
    }
    if !add.is_empty() || !remove.is_empty() {
        let sel = changed(plan.tree_selection.unwrap_or_default(), &add, &remove);
        body.insert("treeSelection".into(), json!(sel));
    }
    let answer = ctx
        .client
        .patch::<Option<TestPlan>>(&format!("/testplan/{id}"), serde_json::Value::Object(body))
        .await;
    answer.map_err(|e| plan_error(e, Some(id)))?;
    // The patch's own answer may predate the recount (lucius-mcp reads the plan again).
    let after = read_plan(&ctx, id).await?;
    let mut line = plan_line(&ctx, after);
    line.before = plan.test_cases_count;
    Ok(line)
}

/// The ids of the test cases an AQL matches in a project, up to 1000.
async fn matching_cases(ctx: &Ctx, project: Option<i64>, aql: &str) -> Result<Vec<i64>, ToolError> {
    let mut ids = Vec::new();
    for page in 0..10 {
        let found = super::aql::search::<crate::allure::model::TestCase>(
            ctx,
            super::aql::Entity::TestCase,
            project,
            aql,
            (Some(page), Some(100), 100),
        )
        .await?;
        let more = found.page.claims_more() && !found.page.content.is_empty();
        ids.extend(found.page.content.into_iter().map(|t| t.id));
        if !more {
            break;
        }
    }
    Ok(ids)
}

/// The selection with `add` in and `remove` out: an explicit list gains and loses ids;
/// an inverted one (everything its AQL matches but the excluded) loses and regains them.
fn changed(mut sel: TreeSelection, add: &[i64], remove: &[i64]) -> TreeSelection {
    let (grow, shrink) = if sel.inverted.unwrap_or(false) {
        (&mut sel.leafs_exclude, (remove, add))
    } else {
        (&mut sel.leafs_include, (add, remove))
    };
    let (put, take) = shrink;
    for id in put {
        if !grow.contains(id) {
            grow.push(*id);
        }
    }
    grow.retain(|id| !take.contains(id));
    sel
}

const DELETE_TEST_PLAN: Meta = Meta {
    name: "delete_test_plan",
    toolset: Toolset::Plans,
    title: "Delete a test plan",
    description: "Delete a test plan (its test cases and launches stay). Asks the user first.",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn delete_test_plan(ctx: Ctx, a: DeletePlanArgs) -> Result<Done, ToolError> {
    let id = positive_id("test_plan_id", a.test_plan_id, "list_test_plans shows ids")?;
    let plan = read_plan(&ctx, id).await?;
    let what = format!("Delete test plan #{id} {}", plan.name);
    ctx.confirm(DELETE_TEST_PLAN.name, a.confirm, &what).await?;
    let answer = ctx.client.delete(&format!("/testplan/{id}")).await;
    ctx.explain(Subject::TestPlan(id), answer).await?;
    Ok(Done {
        summary: format!("Deleted test plan #{id} {}.", plan.name),
        ids: vec![id],
        url: None,
    })
}
