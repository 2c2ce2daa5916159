//! The fake's endpoints: the real paths, parameters, field names and status codes of
//! Allure TestOps 26.x (see the OpenAPI description), over the state in [`super::data`].

// Handlers answer early with a ready error response; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State as AxState};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::aql::{self, AqlError};
use super::data::{Dataset, LaunchRec};
use super::http::{Q, Resp, empty, not_found, now_ms, ok, page, to_value, unknown_launch};
use super::{State, error_response};

pub(crate) type St = AxState<Arc<State>>;

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/api/project", get(list_projects))
        .route("/api/project/{id}", get(get_project))
        .route("/api/project/{id}/stats", get(project_stats))
        .route("/api/permission", get(project_permissions))
        .route("/api/launch", get(list_launches).post(create_launch))
        .route(
            "/api/launch/{id}",
            get(get_launch)
                .delete(delete_launch)
                .patch(super::launch_admin::patch_launch),
        )
        .route("/api/launch/{id}/statistic", get(launch_statistic))
        .route("/api/launch/{id}/progress", get(launch_progress))
        .route("/api/launch/{id}/job", get(launch_jobs))
        .route("/api/launch/{id}/close", post(close_launch))
        .route("/api/launch/{id}/reopen", post(reopen_launch))
        .route("/api/testresult", get(list_results))
        .route(
            "/api/testresult/{id}",
            get(get_result).delete(delete_result),
        )
        .route("/api/testcase", get(list_test_cases))
        .route("/api/testcase/{id}", get(get_test_case))
        .merge(super::launch_admin::routes())
        .merge(super::results::routes())
        .merge(super::testcases::routes())
        .merge(super::testcase_extras::routes())
        .merge(super::bulk_extras::routes())
        .merge(super::cf_admin::routes())
        .merge(super::case_files::routes())
        .merge(super::trees::routes())
        .merge(super::defects::routes())
        .merge(super::people::routes())
        .merge(super::jobs::routes())
        .merge(super::plans::routes())
        .merge(super::defect_links::routes())
        .merge(super::custom_fields::routes())
        .merge(aql_routes())
        .fallback(|req: axum::extract::Request| async move {
            error_response(404, "No static resource", req.uri().path())
        })
        .with_state(state)
}

/// `__search` and `query/validate` of each entity AQL reaches.
fn aql_routes() -> Router<Arc<State>> {
    let mut r = Router::new();
    for what in [
        Searchable::TestResults,
        Searchable::TestCases,
        Searchable::Launches,
    ] {
        r = r
            .route(
                &format!("{}/__search", what.base()),
                get(move |AxState(s): St, RawQuery(q): RawQuery| search(s, what, q)),
            )
            .route(
                &format!("{}/query/validate", what.base()),
                get(move |AxState(s): St, RawQuery(q): RawQuery| validate(s, what, q)),
            );
    }
    r
}

// ---- projects ----------------------------------------------------------------

async fn list_projects(AxState(s): St, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let needle = q.get("query").unwrap_or("").to_lowercase();
    let d = s.data();
    let items = d
        .projects
        .iter()
        .filter(|p| {
            needle.is_empty()
                || p.name.to_lowercase().contains(&needle)
                || p.abbr.to_lowercase().contains(&needle)
        })
        .map(to_value)
        .collect();
    ok(page(items, &q, false))
}

async fn get_project(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    match d.projects.iter().find(|p| p.id == id) {
        Some(p) => ok(to_value(p)),
        None => not_found("Project", id, &format!("/api/project/{id}")),
    }
}

async fn project_stats(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    if !d.projects.iter().any(|p| p.id == id) {
        return not_found("Project", id, &format!("/api/project/{id}/stats"));
    }
    let cases: Vec<_> = d
        .test_cases
        .iter()
        .filter(|t| t.project_id == id && !t.deleted)
        .collect();
    let automated = cases.iter().filter(|t| t.automated).count() as f64;
    let total = cases.len() as f64;
    ok(json!({
        "automatedTestCases": automated as i64,
        "manualTestCases": (total - automated) as i64,
        "automationPercent": if total > 0.0 { (automated / total * 1000.0).round() / 10.0 } else { 0.0 },
        "launches": d.launches.iter().filter(|l| l.project_id == id).count(),
    }))
}

/// `GET /api/permission?projectId=` (getPermissionsOnProject): the caller's rights in
/// a project, as `PermissionDto` strings. `projectId` is required.
async fn project_permissions(AxState(s): St, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let Some(id) = q.get("projectId").and_then(|v| v.parse::<i64>().ok()) else {
        return error_response(
            400,
            "Required parameter 'projectId' is not present",
            "/api/permission",
        );
    };
    if !s.data().projects.iter().any(|p| p.id == id) {
        return not_found("Project", id, "/api/permission");
    }
    ok(json!(s.permissions))
}

// ---- launches ----------------------------------------------------------------

pub(crate) fn launch_dto(l: &LaunchRec) -> Value {
    to_value(l)
}

fn launch_preview(d: &Dataset, l: &LaunchRec) -> Value {
    let mut v = launch_dto(l);
    let jobs: Vec<Value> = d
        .job_runs
        .iter()
        .filter(|j| j.launch_id == l.id)
        .map(to_value)
        .collect();
    let known = d
        .results
        .iter()
        .filter(|r| r.launch_id == l.id && r.known && r.status != "passed")
        .count();
    let fails = d
        .results
        .iter()
        .filter(|r| {
            r.launch_id == l.id && !r.known && (r.status == "failed" || r.status == "broken")
        })
        .count();
    if let Value::Object(m) = &mut v {
        // `LaunchPreviewDto` has no `autoclose`, and has these that `LaunchDto` has not.
        m.remove("autoclose");
        m.insert("createdBy".into(), json!(l.created_by));
        m.insert("statistic".into(), Value::Array(d.statistic(l.id)));
        m.insert("jobs".into(), Value::Array(jobs));
        m.insert(
            "environment".into(),
            json!([{"name": "staging", "variable": {"id": -1, "name": "ENV"}}]),
        );
        m.insert("knownDefectsCount".into(), json!(known));
        m.insert("newDefectsCount".into(), json!(fails));
    }
    v
}

/// One filter of `GET /api/launch?search=`.
enum LaunchFilter {
    /// `{"id":"name","type":"string","value":…}`: the name contains the text (any case).
    Name(String),
    /// `{"id":"close","type":"boolean","value":…}`: closed or open launches.
    Closed(bool),
}

impl LaunchFilter {
    fn matches(&self, l: &LaunchRec) -> bool {
        match self {
            LaunchFilter::Name(text) => l.name.to_lowercase().contains(text),
            LaunchFilter::Closed(closed) => l.closed == *closed,
        }
    }
}

/// `search` is base64-encoded JSON, a list of `{id, type, value}` filters, as the real
/// server reads it: free text is refused (400), filters on other fields are ignored.
fn launch_filters(search: Option<&str>) -> Result<Vec<LaunchFilter>, String> {
    use base64::Engine;
    let Some(raw) = search.filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    let refused = || "search must be a base64-encoded JSON list of filters".to_owned();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map_err(|_| refused())?;
    let list: Vec<Value> = serde_json::from_slice(&bytes).map_err(|_| refused())?;
    Ok(list
        .iter()
        .filter_map(|f| match (f["id"].as_str(), &f["value"]) {
            (Some("name"), Value::String(v)) => Some(LaunchFilter::Name(v.to_lowercase())),
            (Some("close"), Value::Bool(b)) => Some(LaunchFilter::Closed(*b)),
            _ => None,
        })
        .collect())
}

async fn list_launches(AxState(s): St, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let pid = match q.required_i64("projectId", "/api/launch") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let filters = match launch_filters(q.get("search")) {
        Ok(f) => f,
        Err(problem) => return error_response(400, &problem, "/api/launch"),
    };
    let d = s.data();
    let mut items: Vec<Value> = d
        .launches
        .iter()
        .filter(|l| l.project_id == pid && filters.iter().all(|f| f.matches(l)))
        .map(|l| launch_preview(&d, l))
        .collect();
    // Allure lists newest first unless asked otherwise; it sorts by the snake-case names
    // (the description's default here is `created_date,DESC`).
    items.reverse();
    ok(page(items, &q, true))
}

async fn create_launch(AxState(s): St, Json(body): Json<Value>) -> Resp {
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_owned();
    let pid = body.get("projectId").and_then(Value::as_i64);
    let Some(pid) = pid else {
        return error_response(400, "projectId: must not be null", "/api/launch");
    };
    if name.is_empty() {
        return error_response(400, "name: must not be blank", "/api/launch");
    }
    let mut d = s.data();
    if !d.projects.iter().any(|p| p.id == pid) {
        return error_response(
            404,
            &format!("Project with id {pid} not found"),
            "/api/launch",
        );
    }
    let id = d.next_id();
    let l = LaunchRec::new(
        id,
        pid,
        name,
        None,
        body.get("closed").and_then(Value::as_bool).unwrap_or(false),
        now_ms(),
    );
    let v = launch_dto(&l);
    d.launches.push(l);
    ok(v)
}

async fn get_launch(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    match d.launches.iter().find(|l| l.id == id) {
        Some(l) => ok(launch_dto(l)),
        None => unknown_launch(id, &format!("/api/launch/{id}")),
    }
}

async fn delete_launch(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let mut d = s.data();
    let before = d.launches.len();
    d.launches.retain(|l| l.id != id);
    if d.launches.len() == before {
        return unknown_launch(id, &format!("/api/launch/{id}"));
    }
    d.results.retain(|r| r.launch_id != id);
    empty(204)
}

async fn launch_statistic(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    if !d.launches.iter().any(|l| l.id == id) {
        return unknown_launch(id, &format!("/api/launch/{id}/statistic"));
    }
    ok(Value::Array(d.statistic(id)))
}

async fn launch_progress(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    match d.launches.iter().find(|l| l.id == id) {
        Some(l) => {
            let running = d
                .job_runs
                .iter()
                .any(|j| j.launch_id == id && (j.stage == "scheduled" || j.stage == "in_progress"));
            ok(json!({"ready": l.closed || !running}))
        }
        None => unknown_launch(id, &format!("/api/launch/{id}/progress")),
    }
}

async fn launch_jobs(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    if !d.launches.iter().any(|l| l.id == id) {
        return unknown_launch(id, &format!("/api/launch/{id}/job"));
    }
    ok(Value::Array(
        d.job_runs
            .iter()
            .filter(|j| j.launch_id == id)
            .map(to_value)
            .collect(),
    ))
}

fn set_closed(s: &State, id: i64, closed: bool, path: &str) -> Resp {
    let mut d = s.data();
    match d.launches.iter_mut().find(|l| l.id == id) {
        Some(l) => {
            l.closed = closed;
            l.last_modified_date = now_ms();
            empty(204)
        }
        None => unknown_launch(id, path),
    }
}

async fn close_launch(AxState(s): St, Path(id): Path<i64>, body: axum::body::Bytes) -> Resp {
    let path = format!("/api/launch/{id}/close");
    no_body(&body, &path).unwrap_or_else(|| set_closed(&s, id, true, &path))
}

async fn reopen_launch(AxState(s): St, Path(id): Path<i64>, body: axum::body::Bytes) -> Resp {
    let path = format!("/api/launch/{id}/reopen");
    no_body(&body, &path).unwrap_or_else(|| set_closed(&s, id, false, &path))
}

/// The refusal of a body sent to an operation that declares none, as a server that
/// validates requests against the API description answers it (415).
fn no_body(body: &[u8], path: &str) -> Option<Resp> {
    (!body.is_empty()).then(|| error_response(415, "this operation takes no request body", path))
}

// ---- AQL search ----------------------------------------------------------------

/// Values of an AQL attribute in an entity's JSON; unknown attributes are errors.
pub(crate) fn aql_lookup<'a>(
    v: &'a Value,
    fields: &'a [(&'a str, &'a str)],
) -> impl Fn(&str) -> Result<Vec<Value>, AqlError> + 'a {
    move |attr: &str| {
        if attr.starts_with("cf[") {
            return Ok(vec![Value::Null]);
        }
        let field = fields
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(attr))
            .map(|(_, f)| *f)
            .ok_or_else(|| AqlError(format!("Unknown attribute '{attr}'")))?;
        Ok(match field.split_once('.') {
            // `tags.name`: every element's name.
            Some((arr, key)) => v[arr]
                .as_array()
                .map(|a| a.iter().map(|e| e[key].clone()).collect())
                .unwrap_or_default(),
            None => vec![v[field].clone()],
        })
    }
}

pub(crate) const RESULT_FIELDS: &[(&str, &str)] = &[
    ("id", "id"),
    ("name", "name"),
    ("status", "status"),
    ("launch", "launchId"),
    ("testCase", "testCaseId"),
    ("assignee", "assignee"),
    ("muted", "muted"),
    ("flaky", "flaky"),
    ("known", "known"),
    ("tag", "tags.name"),
    ("createdDate", "createdDate"),
    ("duration", "duration"),
    ("message", "message"),
    ("fullName", "fullName"),
    ("manual", "manual"),
];
pub(crate) const CASE_FIELDS: &[(&str, &str)] = &[
    ("id", "id"),
    ("name", "name"),
    ("status", "status.name"),
    ("automated", "automated"),
    ("tag", "tags.name"),
    ("createdDate", "createdDate"),
    ("createdBy", "createdBy"),
    ("layer", "layer.name"),
    ("fullName", "fullName"),
];
/// The launches of a project an analytics call's `launchRql`, `from` and `to` keep
/// (`None`: no `launchRql`, all of them as far as the dates go); `Err` is the 400.
pub(crate) fn analytic_launches(
    s: &State,
    d: &Dataset,
    pid: i64,
    q: &Q,
    path: &str,
) -> Result<Vec<i64>, Resp> {
    let from = q.get("from").and_then(|v| v.parse::<i64>().ok());
    let to = q.get("to").and_then(|v| v.parse::<i64>().ok());
    let expr = match q.get("launchRql").filter(|r| !r.trim().is_empty()) {
        Some(rql) => Some(
            aql::parse(rql, s.now_ms)
                .map_err(|e| error_response(400, &format!("Invalid query: {e}"), path))?,
        ),
        None => None,
    };
    let mut kept = Vec::new();
    for l in d.launches.iter().filter(|l| l.project_id == pid) {
        if from.is_some_and(|f| l.created_date < f) || to.is_some_and(|t| l.created_date > t) {
            continue;
        }
        if let Some(e) = &expr {
            let v = launch_dto(l);
            match aql::eval(e, &aql_lookup(&v, LAUNCH_FIELDS)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => return Err(error_response(400, &format!("Invalid query: {e}"), path)),
            }
        }
        kept.push(l.id);
    }
    Ok(kept)
}

const LAUNCH_FIELDS: &[(&str, &str)] = &[
    ("id", "id"),
    ("name", "name"),
    ("closed", "closed"),
    ("tag", "tags.name"),
    ("createdDate", "createdDate"),
    ("createdBy", "createdBy"),
];

/// The entities with AQL endpoints (`__search` and `query/validate`).
#[derive(Clone, Copy)]
enum Searchable {
    TestResults,
    TestCases,
    Launches,
}

impl Searchable {
    fn base(self) -> &'static str {
        match self {
            Searchable::TestResults => "/api/testresult",
            Searchable::TestCases => "/api/testcase",
            Searchable::Launches => "/api/launch",
        }
    }

    fn fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Searchable::TestResults => RESULT_FIELDS,
            Searchable::TestCases => CASE_FIELDS,
            Searchable::Launches => LAUNCH_FIELDS,
        }
    }

    /// Everything of this kind in a project that a search can see.
    fn items(self, d: &Dataset, pid: i64) -> Vec<Value> {
        match self {
            Searchable::TestResults => d
                .results
                .iter()
                .filter(|r| r.project_id == pid && !r.hidden)
                .map(to_value)
                .collect(),
            Searchable::TestCases => d
                .test_cases
                .iter()
                .filter(|t| t.project_id == pid && !t.deleted)
                .map(to_value)
                .collect(),
            Searchable::Launches => d
                .launches
                .iter()
                .filter(|l| l.project_id == pid)
                .map(launch_dto)
                .collect(),
        }
    }

    /// One item as `__search` answers it: results as rows; the others whole.
    fn row(self, v: &Value) -> Value {
        match self {
            Searchable::TestResults => super::results::result_row(v),
            Searchable::TestCases | Searchable::Launches => v.clone(),
        }
    }
}

/// `GET …/__search?projectId=&rql=`: a page of what matches; 400 for bad AQL.
async fn search(s: Arc<State>, what: Searchable, raw: Option<String>) -> Resp {
    let q = Q::new(raw);
    let path = format!("{}/__search", what.base());
    let pid = match q.required_i64("projectId", &path) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let items = what.items(&s.data(), pid);
    match aql_filter(&s, &q, items, what.fields(), &path) {
        Ok(found) => {
            let mut p = page(found, &q, true);
            if let Some(c) = p["content"].as_array_mut() {
                for v in c.iter_mut() {
                    *v = what.row(v);
                }
            }
            ok(p)
        }
        Err(r) => r,
    }
}

/// `GET …/query/validate?projectId=&rql=`: valid and how many match.
async fn validate(s: Arc<State>, what: Searchable, raw: Option<String>) -> Resp {
    let q = Q::new(raw);
    let path = format!("{}/query/validate", what.base());
    let pid = match q.required_i64("projectId", &path) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let items = what.items(&s.data(), pid);
    match aql_filter(&s, &q, items, what.fields(), &path) {
        Ok(found) => ok(json!({"valid": true, "count": found.len()})),
        // The real endpoint answers 200 with valid=false for a bad query.
        Err(_) => ok(json!({"valid": false, "count": 0})),
    }
}

/// Runs AQL over `items`; `Err` is the 400 answer.
fn aql_filter(
    s: &State,
    q: &Q,
    items: Vec<Value>,
    fields: &[(&str, &str)],
    path: &str,
) -> Result<Vec<Value>, Resp> {
    let rql = q.get("rql").unwrap_or("").to_owned();
    if rql.trim().is_empty() {
        return Err(error_response(
            400,
            "Required request parameter 'rql' for method parameter type String is not present",
            path,
        ));
    }
    let expr = aql::parse(&rql, s.now_ms)
        .map_err(|e| error_response(400, &format!("Invalid query: {e}"), path))?;
    let mut out = Vec::new();
    for item in items {
        let matched = aql::eval(&expr, &aql_lookup(&item, fields));
        match matched {
            Ok(true) => out.push(item),
            Ok(false) => {}
            Err(e) => return Err(error_response(400, &format!("Invalid query: {e}"), path)),
        }
    }
    Ok(out)
}

async fn list_results(AxState(s): St, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let lid = match q.required_i64("launchId", "/api/testresult") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let d = s.data();
    let items = d
        .results
        .iter()
        .filter(|r| r.launch_id == lid && !r.hidden)
        .map(result_dto)
        .collect();
    ok(page(items, &q, false))
}

/// A result as `TestResultDto`: its steps and attachments have routes of their own.
fn result_dto(r: &super::data::ResultRec) -> Value {
    let mut v = to_value(r);
    if let Value::Object(m) = &mut v {
        m.remove("steps");
        m.remove("attachments");
    }
    v
}

async fn delete_result(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let mut d = s.data();
    let before = d.results.len();
    d.results.retain(|r| r.id != id);
    if d.results.len() == before {
        return not_found("Test result", id, &format!("/api/testresult/{id}"));
    }
    empty(204)
}

async fn get_result(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    match d.results.iter().find(|r| r.id == id) {
        Some(r) => ok(result_dto(r)),
        None => not_found("Test result", id, &format!("/api/testresult/{id}")),
    }
}

// ---- test cases ----------------------------------------------------------------

async fn list_test_cases(AxState(s): St, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let pid = match q.required_i64("projectId", "/api/testcase") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let d = s.data();
    // TestCaseRowDto
    let items = d
        .test_cases
        .iter()
        .filter(|t| t.project_id == pid && !t.deleted)
        .map(|t| json!({"id": t.id, "name": t.name, "automated": t.automated, "status": t.status, "testLayer": t.layer}))
        .collect();
    ok(page(items, &q, false))
}

async fn get_test_case(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    match d.test_cases.iter().find(|t| t.id == id && !t.deleted) {
        Some(t) => ok(to_value(t)),
        None => not_found("Test case", id, &format!("/api/testcase/{id}")),
    }
}
