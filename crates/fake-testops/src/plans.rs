//! The fake's test plans: a plan is a base AQL over the project's test cases and a
//! tree selection within it (`TestPlanCreateDto`, `TestPlanPatchDto`); its test cases are
//! resolved when it is written. Listing, reading, creating, patching, deleting, its
//! leaves, running it and adding it to a launch.

#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::aql;
use super::data::{Dataset, LaunchRec, TestPlanRec};
use super::http::{
    Q, Resp, empty, json_body, not_found, now_ms, ok, page, to_value, unknown_launch, with_status,
};
use super::routes::{CASE_FIELDS, aql_lookup};
use super::{State, error_response};

type St = AxState<Arc<State>>;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/testplan", get(list_plans).post(create_plan))
        .route(
            "/api/testplan/{id}",
            get(get_plan).patch(patch_plan).delete(delete_plan),
        )
        .route("/api/testplan/{id}/tree/leaf", get(plan_leaves))
        .route("/api/testplan/{id}/run", post(run_plan))
        .route("/api/launch/{id}/testplan/add", post(add_plan_to_launch))
}

/// The test cases a plan holds: the project's (those `base_rql` matches, when set),
/// then the tree selection: `leafsInclude` unless `inverted`, else all but `leafsExclude`.
fn resolve(
    s: &State,
    d: &Dataset,
    pid: i64,
    base_rql: Option<&str>,
    selection: &Value,
) -> Result<Vec<i64>, String> {
    let expr = match base_rql.filter(|r| !r.trim().is_empty()) {
        Some(r) => Some(aql::parse(r, s.now_ms).map_err(|e| format!("Invalid query: {e}"))?),
        None => None,
    };
    let ids = |key: &str| -> Vec<i64> {
        selection[key]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default()
    };
    let (inverted, include, exclude) = (
        selection["inverted"].as_bool().unwrap_or(false),
        ids("leafsInclude"),
        ids("leafsExclude"),
    );
    let mut out = Vec::new();
    for t in d
        .test_cases
        .iter()
        .filter(|t| t.project_id == pid && !t.deleted)
    {
        if let Some(e) = &expr {
            let v = to_value(t);
            if !aql::eval(e, &aql_lookup(&v, CASE_FIELDS))
                .map_err(|e| format!("Invalid query: {e}"))?
            {
                continue;
            }
        }
        let chosen = if inverted {
            !exclude.contains(&t.id)
        } else {
            include.contains(&t.id)
        };
        if chosen {
            out.push(t.id);
        }
    }
    Ok(out)
}

async fn create_plan(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/testplan";
    let b = match json_body(&body, path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(pid) = b["projectId"].as_i64() else {
        return error_response(400, "projectId: must not be null", path);
    };
    let name = b["name"].as_str().unwrap_or("").trim().to_owned();
    if name.is_empty() || name.chars().count() > 255 {
        return error_response(400, "name: size must be between 1 and 255", path);
    }
    let mut d = s.data();
    if !d.projects.iter().any(|p| p.id == pid) {
        return not_found("Project", pid, path);
    }
    let base_rql = b["baseRql"].as_str().map(str::to_owned);
    let selection = b.get("treeSelection").cloned().unwrap_or(json!({}));
    let cases = match resolve(&s, &d, pid, base_rql.as_deref(), &selection) {
        Ok(c) => c,
        Err(e) => return error_response(400, &e, path),
    };
    let id = d.next_id();
    let plan = TestPlanRec {
        id,
        project_id: pid,
        name,
        created_date: now_ms(),
        created_by: super::people::TOKEN_USER.into(),
        base_rql,
        tree_selection: selection,
        test_case_ids: cases,
    };
    let v = plan_dto(&plan);
    d.test_plans.push(plan);
    ok(v)
}

async fn patch_plan(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/testplan/{id}");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut d = s.data();
    let Some(mut plan) = d.test_plans.iter().find(|p| p.id == id).cloned() else {
        return not_found("Test plan", id, &path);
    };
    if let Some(n) = b.get("name") {
        match n.as_str().map(str::trim) {
            Some(n) if !n.is_empty() && n.chars().count() <= 255 => plan.name = n.to_owned(),
            _ => return error_response(400, "name: size must be between 1 and 255", &path),
        }
    }
    if let Some(r) = b.get("baseRql") {
        plan.base_rql = r.as_str().map(str::to_owned);
    }
    if let Some(sel) = b.get("treeSelection") {
        plan.tree_selection = sel.clone();
    }
    plan.test_case_ids = match resolve(
        &s,
        &d,
        plan.project_id,
        plan.base_rql.as_deref(),
        &plan.tree_selection,
    ) {
        Ok(c) => c,
        Err(e) => return error_response(400, &e, &path),
    };
    let v = plan_dto(&plan);
    if let Some(p) = d.test_plans.iter_mut().find(|p| p.id == id) {
        *p = plan;
    }
    ok(v)
}

async fn delete_plan(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let mut d = s.data();
    let before = d.test_plans.len();
    d.test_plans.retain(|p| p.id != id);
    if d.test_plans.len() == before {
        return not_found("Test plan", id, &format!("/api/testplan/{id}"));
    }
    empty(204)
}

/// `GET /api/testplan/{id}/tree/leaf`: the plan's test cases as `TestCaseTreeLeafDto`
/// (a plan without a tree has all its cases at the root).
async fn plan_leaves(AxState(s): St, Path(id): Path<i64>, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let d = s.data();
    let Some(plan) = d.test_plans.iter().find(|p| p.id == id) else {
        return not_found("Test plan", id, &format!("/api/testplan/{id}/tree/leaf"));
    };
    let items = d
        .test_cases
        .iter()
        .filter(|t| plan.test_case_ids.contains(&t.id) && !t.deleted)
        .map(|t| {
            let mut v = json!({"id": t.id, "name": t.name, "automated": t.automated, "external": t.external,
                   "statusName": t.status.name, "createdDate": t.created_date, "lastModifiedDate": t.last_modified_date});
            if let Some(l) = &t.layer {
                v["layerName"] = json!(l.name);
            }
            v
        })
        .collect();
    ok(page(items, &q, false))
}

fn plan_dto(p: &TestPlanRec) -> Value {
    let mut v = to_value(p);
    v["testCasesCount"] = json!(p.test_case_ids.len());
    v
}

async fn list_plans(AxState(s): St, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let pid = match q.required_i64("projectId", "/api/testplan") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let d = s.data();
    ok(page(
        d.test_plans
            .iter()
            .filter(|p| p.project_id == pid)
            .map(plan_dto)
            .collect(),
        &q,
        false,
    ))
}

async fn get_plan(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    match d.test_plans.iter().find(|p| p.id == id) {
        Some(p) => ok(plan_dto(p)),
        None => not_found("Test plan", id, &format!("/api/testplan/{id}")),
    }
}

async fn run_plan(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/testplan/{id}/run");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let name = b["launchName"].as_str().unwrap_or("").trim().to_owned();
    if name.is_empty() {
        return error_response(400, "launchName: must not be blank", &path);
    }
    let mut d = s.data();
    let Some(plan) = d.test_plans.iter().find(|p| p.id == id).cloned() else {
        return not_found("Test plan", id, &path);
    };
    let lid = d.next_id();
    let launch = LaunchRec::new(lid, plan.project_id, name, None, false, now_ms());
    let v = to_value(&launch);
    d.launches.push(launch);
    d.add_results(lid, &plan.test_case_ids, Some("unknown"), now_ms());
    ok(v)
}

async fn add_plan_to_launch(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/launch/{id}/testplan/add");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(plan_id) = b["testPlanId"].as_i64() else {
        return error_response(400, "testPlanId: must not be null", &path);
    };
    let mut d = s.data();
    if !d.launches.iter().any(|l| l.id == id) {
        return unknown_launch(id, &path);
    }
    let Some(plan) = d.test_plans.iter().find(|p| p.id == plan_id).cloned() else {
        return not_found("Test plan", plan_id, &path);
    };
    d.add_results(id, &plan.test_case_ids, Some("unknown"), now_ms());
    with_status(202, Value::Null)
}
