//! The fake's test-case and test-plan endpoints: create, patch, delete, scenario, bulk
//! operations (v2 that work, v1 that answer success and change nothing, as reported
//! against the real server), runs of selected cases and of plans.

#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::data::{IdName, LaunchRec, TestCaseRec};
use super::http::{
    Q, Resp, create_body, empty, json_body, not_found, now_ms, ok, selected, to_value,
    unknown_launch,
};
use super::scenario::{Place, ScenarioRec};
use super::{State, error_response};

type St = AxState<Arc<State>>;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/testcase", post(create))
        .route(
            "/api/testcase/{id}",
            axum::routing::patch(patch).delete(delete),
        )
        .route("/api/testcase/{id}/step", get(steps))
        .route("/api/testcase/step", post(create_step))
        .route(
            "/api/testcase/{id}/scenario",
            axum::routing::delete(delete_scenario),
        )
        .route("/api/testcase/{id}/workflow", get(workflow))
        .route("/api/testlayer", get(layers))
        .route("/api/testcase/bulk/status/set", post(v1_noop))
        .route("/api/testcase/bulk/tag/add", post(v1_noop))
        .route("/api/testcase/bulk/tag/remove", post(v1_noop))
        .route("/api/v2/test-case/bulk/status/set", post(bulk_status))
        .route("/api/v2/test-case/bulk/tag/add", post(bulk_tag_add))
        .route("/api/v2/test-case/bulk/tag/remove", post(bulk_tag_remove))
        .route("/api/v2/test-case/bulk/run/existing", post(run_existing))
        .route("/api/v2/test-case/bulk/run/new", post(run_new))
}

const STATUSES: [(i64, &str); 3] = [(-1, "Draft"), (-2, "Active"), (-3, "Outdated")];

/// The built-in test layers (negative ids, as built-ins have).
const LAYERS: [(i64, &str); 3] = [(-1, "UI"), (-2, "API"), (-3, "Unit")];

fn layer(id: Option<i64>) -> Option<IdName> {
    let id = id?;
    LAYERS.iter().find(|(i, _)| *i == id).map(|(i, n)| IdName {
        id: *i,
        name: (*n).into(),
    })
}

/// `GET /api/testlayer` (`PageTestLayerDto`).
async fn layers(RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let items = LAYERS
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name}))
        .collect();
    ok(super::http::page(items, &q, false))
}

async fn create(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/testcase";
    let (b, pid, name) = match create_body(&body, path) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut d = s.data();
    if !d.projects.iter().any(|p| p.id == pid) {
        return not_found("Project", pid, path);
    }
    let id = d.next_id();
    let now = now_ms();
    let tc = TestCaseRec {
        id,
        project_id: pid,
        full_name: String::new(),
        name,
        description: b["description"].as_str().map(str::to_owned),
        automated: b["automated"].as_bool().unwrap_or(false),
        deleted: false,
        external: false,
        status: IdName {
            id: -1,
            name: "Draft".into(),
        },
        workflow: IdName {
            id: -1,
            name: "Default".into(),
        },
        layer: layer(b["testLayerId"].as_i64()),
        tags: b["tags"]
            .as_array()
            .map(|tags| {
                tags.iter()
                    .filter_map(|t| t["name"].as_str())
                    .enumerate()
                    .map(|(i, n)| IdName {
                        id: 5000 + i as i64,
                        name: n.into(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        created_date: now,
        last_modified_date: now,
        created_by: "api-token-user".into(),
        precondition: b["precondition"].as_str().map(str::to_owned),
        expected_result: b["expectedResult"].as_str().map(str::to_owned),
        scenario: ScenarioRec::new(id),
        cfv: vec![],
    };
    let v = to_value(&tc);
    d.test_cases.push(tc);
    ok(v)
}

async fn patch(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/testcase/{id}");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut d = s.data();
    if !d.test_cases.iter().any(|t| t.id == id && !t.deleted) {
        return not_found("Test case", id, &path);
    }
    if let Some(links) = b.get("links").and_then(Value::as_array) {
        super::testcase_extras::patch_links(&mut d, id, links);
    }
    let Some(tc) = d.test_cases.iter_mut().find(|t| t.id == id && !t.deleted) else {
        return not_found("Test case", id, &path);
    };
    if let Some(n) = b.get("name") {
        match n.as_str().map(str::trim) {
            Some(n) if !n.is_empty() => tc.name = n.to_owned(),
            _ => return error_response(400, "name: must not be blank", &path),
        }
    }
    if let Some(v) = b.get("description") {
        tc.description = v.as_str().map(str::to_owned);
    }
    if let Some(v) = b.get("automated").and_then(Value::as_bool) {
        tc.automated = v;
    }
    if let Some(v) = b.get("precondition") {
        tc.precondition = v.as_str().map(str::to_owned);
    }
    if let Some(v) = b.get("testLayerId") {
        match layer(v.as_i64()) {
            Some(l) => tc.layer = Some(l),
            None => return not_found("Test layer", v.as_i64().unwrap_or(0), &path),
        }
    }
    if let Some(v) = b.get("expectedResult") {
        tc.expected_result = v.as_str().map(str::to_owned);
    }
    if let Some(sid) = b.get("statusId").and_then(Value::as_i64) {
        match STATUSES.iter().find(|(i, _)| *i == sid) {
            Some((i, n)) => {
                tc.status = IdName {
                    id: *i,
                    name: (*n).into(),
                }
            }
            None => {
                return error_response(
                    409,
                    &format!("Status with id {sid} is not in the workflow of the test case"),
                    &path,
                );
            }
        }
    }
    if let Some(tags) = b.get("tags").and_then(Value::as_array) {
        tc.tags = tags
            .iter()
            .filter_map(|t| t["name"].as_str())
            .enumerate()
            .map(|(i, n)| IdName {
                id: 5000 + i as i64,
                name: n.into(),
            })
            .collect();
    }
    tc.last_modified_date = now_ms();
    ok(to_value(tc))
}

async fn delete(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let mut d = s.data();
    match d.test_cases.iter_mut().find(|t| t.id == id && !t.deleted) {
        Some(t) => {
            t.deleted = true;
            empty(202)
        }
        None => not_found("Test case", id, &format!("/api/testcase/{id}")),
    }
}

/// `NormalizedScenarioDto`: a root listing child ids, and the steps by id.
async fn steps(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    let Some(tc) = d.test_cases.iter().find(|t| t.id == id && !t.deleted) else {
        return not_found("Test case", id, &format!("/api/testcase/{id}/step"));
    };
    ok(tc.scenario.normalized(id))
}

/// `POST /api/testcase/step?afterId=&beforeId=&withExpectedResult=` with
/// `ScenarioStepCreateDto`: one step, under `parentId` or at the top; with
/// `withExpectedResult=true` it gets an (empty) expected-result container. Answers
/// `ScenarioStepCreatedResponseDto`.
async fn create_step(AxState(s): St, RawQuery(raw): RawQuery, body: Bytes) -> Resp {
    let path = "/api/testcase/step";
    let q = Q::new(raw);
    let b = match json_body(&body, path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(case) = b["testCaseId"].as_i64() else {
        return error_response(400, "testCaseId: must not be null", path);
    };
    let with_expected = q.get("withExpectedResult") == Some("true");
    let place = match (
        q.get("afterId").and_then(|v| v.parse::<i64>().ok()),
        q.get("beforeId").and_then(|v| v.parse::<i64>().ok()),
    ) {
        (Some(a), _) => Place::After(a),
        (None, Some(b)) => Place::Before(b),
        (None, None) => Place::End,
    };
    let mut d = s.data();
    let Some(tc) = d.test_cases.iter_mut().find(|t| t.id == case && !t.deleted) else {
        return not_found("Test case", case, path);
    };
    let text = b["body"].as_str().unwrap_or("");
    match tc
        .scenario
        .add(b["parentId"].as_i64(), text, place, with_expected)
    {
        Ok(created) => {
            tc.last_modified_date = now_ms();
            ok(json!({"createdStepId": created, "scenario": tc.scenario.normalized(case)}))
        }
        Err(e) => error_response(404, &e, path),
    }
}

/// `DELETE /api/testcase/{id}/scenario`: every step goes; answered 200 with no body.
async fn delete_scenario(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let mut d = s.data();
    let Some(tc) = d.test_cases.iter_mut().find(|t| t.id == id && !t.deleted) else {
        return not_found("Test case", id, &format!("/api/testcase/{id}/scenario"));
    };
    tc.scenario = ScenarioRec::new(id);
    empty(200)
}

async fn workflow(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    if !d.test_cases.iter().any(|t| t.id == id) {
        return not_found("Test case", id, &format!("/api/testcase/{id}/workflow"));
    }
    ok(
        json!({"id": -1, "name": "Default", "statuses": STATUSES.iter().map(|(i, n)| json!({"id": i, "name": n})).collect::<Vec<_>>()}),
    )
}

/// The v1 bulk endpoints: reported to answer success and change nothing.
async fn v1_noop() -> Resp {
    empty(204)
}

/// Test cases the `selection` (`TestCaseSelectionDtoV2`) of a bulk body selects; `Err`
/// is the 400/404 answer.
pub(crate) fn selection(d: &super::data::Dataset, b: &Value, path: &str) -> Result<Vec<i64>, Resp> {
    let sel = &b["selection"];
    let Some(pid) = sel["projectId"].as_i64() else {
        return Err(error_response(
            400,
            "selection.projectId: must not be null",
            path,
        ));
    };
    if !d.projects.iter().any(|p| p.id == pid) {
        return Err(not_found("Project", pid, path));
    }
    let all: Vec<i64> = d
        .test_cases
        .iter()
        .filter(|t| t.project_id == pid && !t.deleted)
        .map(|t| t.id)
        .collect();
    Ok(selected(sel, "testCasesInclude", &all))
}

async fn bulk_status(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/v2/test-case/bulk/status/set";
    let b = match json_body(&body, path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (Some(sid), Some(_wid)) = (b["statusId"].as_i64(), b["workflowId"].as_i64()) else {
        return error_response(400, "statusId and workflowId: must not be null", path);
    };
    let Some((_, name)) = STATUSES.iter().find(|(i, _)| *i == sid) else {
        return error_response(
            409,
            &format!("Status with id {sid} not found in workflow"),
            path,
        );
    };
    let ids = match selection(&s.data(), &b, path) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let mut d = s.data();
    for t in d.test_cases.iter_mut().filter(|t| ids.contains(&t.id)) {
        t.status = IdName {
            id: sid,
            name: (*name).into(),
        };
    }
    empty(204)
}

async fn bulk_tag_add(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/v2/test-case/bulk/tag/add";
    let b = match json_body(&body, path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let names: Vec<String> = b["tags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        return error_response(400, "tags: must not be empty", path);
    }
    let ids = match selection(&s.data(), &b, path) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let mut d = s.data();
    for t in d.test_cases.iter_mut().filter(|t| ids.contains(&t.id)) {
        for n in &names {
            if !t.tags.iter().any(|x| &x.name == n) {
                let tid = 9000 + n.bytes().map(i64::from).sum::<i64>();
                t.tags.push(IdName {
                    id: tid,
                    name: n.clone(),
                });
            }
        }
    }
    ok(Value::Null)
}

async fn bulk_tag_remove(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/v2/test-case/bulk/tag/remove";
    let b = match json_body(&body, path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let tag_ids: Vec<i64> = b["ids"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    if tag_ids.is_empty() {
        return error_response(400, "ids: must not be empty", path);
    }
    let ids = match selection(&s.data(), &b, path) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let mut d = s.data();
    for t in d.test_cases.iter_mut().filter(|t| ids.contains(&t.id)) {
        t.tags.retain(|x| !tag_ids.contains(&x.id));
    }
    empty(204)
}

async fn run_existing(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/v2/test-case/bulk/run/existing";
    let b = match json_body(&body, path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(lid) = b["launchId"].as_i64() else {
        return error_response(400, "launchId: must not be null", path);
    };
    let ids = match selection(&s.data(), &b, path) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let mut d = s.data();
    let Some(launch) = d.launches.iter().find(|l| l.id == lid).cloned() else {
        return unknown_launch(lid, path);
    };
    if Some(launch.project_id) != b["selection"]["projectId"].as_i64() {
        return error_response(
            409,
            "Launch and test cases belong to different projects",
            path,
        );
    }
    d.add_results(lid, &ids, Some("unknown"), now_ms());
    let assignee = b["assignees"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .map(str::to_owned);
    for r in d
        .results
        .iter_mut()
        .filter(|r| r.launch_id == lid && ids.contains(&r.test_case_id) && r.status == "unknown")
    {
        r.assignee = assignee.clone();
    }
    ok(to_value(&launch))
}

async fn run_new(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/v2/test-case/bulk/run/new";
    let b = match json_body(&body, path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let name = b["launchName"].as_str().unwrap_or("").trim().to_owned();
    if name.is_empty() {
        return error_response(400, "launchName: must not be blank", path);
    }
    let ids = match selection(&s.data(), &b, path) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let pid = b["selection"]["projectId"].as_i64().unwrap_or(0);
    let mut d = s.data();
    let lid = d.next_id();
    let launch = LaunchRec::new(lid, pid, name, None, false, now_ms());
    let v = to_value(&launch);
    d.launches.push(launch);
    d.add_results(lid, &ids, Some("unknown"), now_ms());
    ok(v)
}
