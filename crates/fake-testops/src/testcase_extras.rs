//! The fake's test case extras: overview, members, issues, external links, defects of a
//! test case, versions, clone, restore, detach automation, and the deleted and muted
//! lists. Shapes from the 26.1.1 description (`TestCaseOverviewDto`, `MemberDto[]`,
//! `IssueDto[]`, `PageDefectRowDto`, `TestCaseVersionDto`, `TestCaseRowDto`, `RoleDto[]`).

#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::data::{Dataset, TestCaseRec};
use super::http::{Q, Resp, json_body, not_found, now_ms, ok, page, to_value};
use super::{State, error_response};

type St = AxState<Arc<State>>;

/// What a test case has beside its own fields.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// `(username, role id)`.
    pub members: Vec<(String, i64)>,
    /// `(name, url, type)`.
    pub links: Vec<(String, String, String)>,
    /// `(integration id, key)`.
    pub issues: Vec<(i64, String)>,
    pub defects: Vec<i64>,
    /// `(id, title, description, created)`.
    pub versions: Vec<(i64, String, Option<String>, i64)>,
    /// `(id, name, content type, bytes)`.
    pub attachments: Vec<(i64, String, String, Vec<u8>)>,
    /// `(integration id, key)`.
    pub keys: Vec<(i64, String)>,
    /// `(target test case id, type)`.
    pub relations: Vec<(i64, String)>,
    /// Each example's parameters, `(name, value)`.
    pub examples: Vec<Vec<(String, String)>>,
    /// `(id, action, username, timestamp)`, oldest first.
    pub audit: Vec<(i64, &'static str, String, i64)>,
}

/// The instance's roles (built-ins have negative ids).
pub const ROLES: [(i64, &str); 3] = [(-1, "Owner"), (-2, "Reviewer"), (-3, "Automation engineer")];

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/role", get(roles))
        .route("/api/testcase/{id}/overview", get(overview))
        .route("/api/testcase/{id}/members", get(members).post(set_members))
        .route("/api/testcase/{id}/issue", get(issues).post(set_issues))
        .route("/api/testcase/{id}/defect", get(defects))
        .route(
            "/api/testcase/{id}/defect/{defect}",
            post(link_defect).delete(unlink_defect),
        )
        .route(
            "/api/testcase/{id}/version",
            get(versions).post(add_version),
        )
        .route(
            "/api/testcase/version/{id}",
            axum::routing::delete(delete_version),
        )
        .route("/api/testcase/version/{id}/data", get(version_data))
        .route("/api/testcase/version/{id}/restore", post(restore_version))
        .route("/api/tag", post(create_tag))
        .route("/api/testcase/{id}/clone", post(clone))
        .route("/api/testcase/{id}/restore", post(restore))
        .route("/api/testcase/{id}/detachautomation", post(detach))
        .route("/api/testcase/deleted", get(deleted))
        .route("/api/testcase/muted", get(muted))
}

/// A live (not deleted) test case, or the real API's 404.
fn live<'a>(d: &'a Dataset, id: i64, path: &str) -> Result<&'a TestCaseRec, Resp> {
    d.test_cases
        .iter()
        .find(|t| t.id == id && !t.deleted)
        .ok_or_else(|| not_found("Test case", id, path))
}

fn role_name(id: i64) -> &'static str {
    ROLES
        .iter()
        .find(|(i, _)| *i == id)
        .map_or("Role", |(_, n)| n)
}

fn member_dtos(x: &Extras) -> Vec<Value> {
    x.members
        .iter()
        .enumerate()
        .map(|(i, (name, role))| json!({"id": 9000 + i as i64, "name": name, "role": {"id": role, "name": role_name(*role)}}))
        .collect()
}

fn issue_dtos(x: &Extras) -> Vec<Value> {
    x.issues
        .iter()
        .map(|(integration, key)| json!({"integrationId": integration, "name": key, "url": format!("https://tracker.example.com/browse/{key}")}))
        .collect()
}

pub(crate) fn link_dtos(x: &Extras) -> Vec<Value> {
    x.links
        .iter()
        .map(|(name, url, kind)| json!({"name": name, "url": url, "type": kind}))
        .collect()
}

async fn roles(AxState(_s): St) -> Resp {
    ok(Value::Array(
        ROLES
            .iter()
            .map(|(id, name)| json!({"id": id, "name": name}))
            .collect(),
    ))
}

async fn overview(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let path = format!("/api/testcase/{id}/overview");
    let d = s.data();
    let tc = match live(&d, id, &path) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let x = d.extras.get(&id).cloned().unwrap_or_default();
    let custom_fields: Vec<Value> = tc
        .cfv
        .iter()
        .filter_map(|v| d.cf_values.iter().find(|c| c.id == *v))
        .filter_map(|v| {
            let f = d.custom_fields.iter().find(|f| f.id == v.field_id)?;
            Some(json!({"id": v.id, "name": v.name, "customField": {"id": f.id, "name": f.name}}))
        })
        .collect();
    ok(json!({
        "customFields": custom_fields,
        "id": tc.id, "projectId": tc.project_id, "name": tc.name, "fullName": tc.full_name,
        "automated": tc.automated, "deleted": tc.deleted, "external": tc.external,
        "description": tc.description, "status": {"id": tc.status.id, "name": tc.status.name},
        "layer": tc.layer.as_ref().map(to_value), "tags": tc.tags.iter().map(to_value).collect::<Vec<_>>(),
        "members": member_dtos(&x), "links": link_dtos(&x), "issues": issue_dtos(&x),
        "testKeys": x.keys.iter().map(|(i, k)| json!({"integrationId": i, "name": k})).collect::<Vec<_>>(),
        "createdBy": tc.created_by, "createdDate": tc.created_date, "lastModifiedDate": tc.last_modified_date,
    }))
}

async fn members(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    if let Err(r) = live(&d, id, &format!("/api/testcase/{id}/members")) {
        return r;
    }
    ok(Value::Array(member_dtos(
        &d.extras.get(&id).cloned().unwrap_or_default(),
    )))
}

/// `POST …/members`: the list replaces the test case's members. A role must exist.
async fn set_members(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/testcase/{id}/members");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(list) = b.as_array() else {
        return error_response(400, "JSON parse error: expected an array", &path);
    };
    let mut out = Vec::new();
    for m in list {
        let (Some(name), Some(role)) = (m["name"].as_str(), m["role"]["id"].as_i64()) else {
            return error_response(400, "name, role.id: must not be null", &path);
        };
        if !ROLES.iter().any(|(i, _)| *i == role) {
            return not_found("Role", role, &path);
        }
        out.push((name.to_owned(), role));
    }
    let mut d = s.data();
    if let Err(r) = live(&d, id, &path) {
        return r;
    }
    let x = d.extras.entry(id).or_default();
    x.members = out;
    ok(Value::Array(member_dtos(x)))
}

async fn issues(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    if let Err(r) = live(&d, id, &format!("/api/testcase/{id}/issue")) {
        return r;
    }
    ok(Value::Array(issue_dtos(
        &d.extras.get(&id).cloned().unwrap_or_default(),
    )))
}

/// `POST …/issue`: the list replaces the test case's issue links. Without an
/// integration id the real server links nothing sensible (the Go server's changelog):
/// refused here.
async fn set_issues(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/testcase/{id}/issue");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(list) = b.as_array() else {
        return error_response(400, "JSON parse error: expected an array", &path);
    };
    let mut out = Vec::new();
    for i in list {
        let (Some(integration), Some(key)) = (i["integrationId"].as_i64(), i["name"].as_str())
        else {
            return error_response(400, "integrationId, name: must not be null", &path);
        };
        out.push((integration, key.to_owned()));
    }
    let mut d = s.data();
    if let Err(r) = live(&d, id, &path) {
        return r;
    }
    if let Some((bad, _)) = out
        .iter()
        .find(|(i, _)| !d.integrations.iter().any(|x| x.id == *i))
    {
        return not_found("Integration", *bad, &path);
    }
    let x = d.extras.entry(id).or_default();
    x.issues = out;
    ok(Value::Array(issue_dtos(x)))
}

async fn defects(AxState(s): St, Path(id): Path<i64>, RawQuery(raw): RawQuery) -> Resp {
    let d = s.data();
    if let Err(r) = live(&d, id, &format!("/api/testcase/{id}/defect")) {
        return r;
    }
    let linked = d
        .extras
        .get(&id)
        .map(|x| x.defects.clone())
        .unwrap_or_default();
    let rows = d
        .defects
        .iter()
        .filter(|x| linked.contains(&x.id))
        .map(|x| json!({"id": x.id, "name": x.name, "closed": x.closed}))
        .collect();
    ok(page(rows, &Q::new(raw), false))
}

async fn link_defect(AxState(s): St, Path((id, defect)): Path<(i64, i64)>) -> Resp {
    let path = format!("/api/testcase/{id}/defect/{defect}");
    let mut d = s.data();
    if let Err(r) = live(&d, id, &path) {
        return r;
    }
    if !d.defects.iter().any(|x| x.id == defect) {
        return not_found("Defect", defect, &path);
    }
    let x = d.extras.entry(id).or_default();
    if !x.defects.contains(&defect) {
        x.defects.push(defect);
    }
    super::http::empty(200)
}

async fn unlink_defect(AxState(s): St, Path((id, defect)): Path<(i64, i64)>) -> Resp {
    let path = format!("/api/testcase/{id}/defect/{defect}");
    let mut d = s.data();
    if let Err(r) = live(&d, id, &path) {
        return r;
    }
    d.extras
        .entry(id)
        .or_default()
        .defects
        .retain(|x| *x != defect);
    super::http::empty(200)
}

fn version_dtos(x: &Extras) -> Vec<Value> {
    x.versions
        .iter()
        .map(|(id, title, description, at)| json!({"id": id, "title": title, "description": description, "createdDate": at, "createdBy": "api-token-user"}))
        .collect()
}

async fn versions(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    if let Err(r) = live(&d, id, &format!("/api/testcase/{id}/version")) {
        return r;
    }
    ok(Value::Array(version_dtos(
        &d.extras.get(&id).cloned().unwrap_or_default(),
    )))
}

async fn add_version(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/testcase/{id}/version");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(title) = b["title"].as_str().filter(|t| !t.trim().is_empty()) else {
        return error_response(400, "title: must not be blank", &path);
    };
    let mut d = s.data();
    if let Err(r) = live(&d, id, &path) {
        return r;
    }
    let vid = d.next_id();
    let v = (
        vid,
        title.to_owned(),
        b["description"].as_str().map(str::to_owned),
        now_ms(),
    );
    let x = d.extras.entry(id).or_default();
    x.versions.push(v);
    ok(version_dtos(x).pop().unwrap_or(Value::Null))
}

/// The test case a version belongs to.
fn version_owner(d: &Dataset, vid: i64) -> Option<i64> {
    d.extras
        .iter()
        .find(|(_, x)| x.versions.iter().any(|v| v.0 == vid))
        .map(|(id, _)| *id)
}

async fn delete_version(AxState(s): St, Path(vid): Path<i64>) -> Resp {
    let mut d = s.data();
    let Some(id) = version_owner(&d, vid) else {
        return not_found("Version", vid, &format!("/api/testcase/version/{vid}"));
    };
    d.extras
        .entry(id)
        .or_default()
        .versions
        .retain(|v| v.0 != vid);
    super::http::empty(202)
}

/// What the test case looked like: here its current overview under the version's id
/// (the fake keeps no snapshots).
async fn version_data(AxState(s): St, Path(vid): Path<i64>) -> Resp {
    let owner = version_owner(&s.data(), vid);
    let Some(id) = owner else {
        return not_found("Version", vid, &format!("/api/testcase/version/{vid}/data"));
    };
    overview(AxState(s), Path(id)).await
}

async fn restore_version(AxState(s): St, Path(vid): Path<i64>) -> Resp {
    let mut d = s.data();
    let Some(id) = version_owner(&d, vid) else {
        return not_found(
            "Version",
            vid,
            &format!("/api/testcase/version/{vid}/restore"),
        );
    };
    if let Some(t) = d.test_cases.iter_mut().find(|t| t.id == id) {
        t.last_modified_date = now_ms();
    }
    super::http::empty(202)
}

async fn create_tag(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/tag";
    let b = match json_body(&body, path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(name) = b["name"].as_str().map(str::trim).filter(|n| !n.is_empty()) else {
        return error_response(400, "name: must not be blank", path);
    };
    let mut d = s.data();
    let id = d.next_id();
    ok(json!({"id": id, "name": name}))
}

/// `POST …/clone`: a copy (name + suffix) in the same or another project.
async fn clone(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/testcase/{id}/clone");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut d = s.data();
    let mut tc = match live(&d, id, &path) {
        Ok(t) => t.clone(),
        Err(r) => return r,
    };
    if let Some(p) = b["toProjectId"].as_i64() {
        if !d.projects.iter().any(|x| x.id == p) {
            return not_found("Project", p, &path);
        }
        tc.project_id = p;
    }
    tc.id = d.next_id();
    tc.name = format!(
        "{}{}",
        tc.name,
        b["nameSuffix"].as_str().unwrap_or(" (copy)")
    );
    tc.created_date = now_ms();
    tc.last_modified_date = tc.created_date;
    let extras = d.extras.get(&id).cloned().unwrap_or_default();
    d.extras.insert(
        tc.id,
        Extras {
            versions: vec![],
            ..extras
        },
    );
    let row = json!({"id": tc.id, "name": tc.name, "automated": tc.automated, "status": to_value(&tc.status)});
    d.test_cases.push(tc);
    ok(row)
}

async fn restore(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let path = format!("/api/testcase/{id}/restore");
    let mut d = s.data();
    let Some(tc) = d.test_cases.iter_mut().find(|t| t.id == id && t.deleted) else {
        return not_found("Deleted test case", id, &path);
    };
    tc.deleted = false;
    ok(to_value(tc))
}

async fn detach(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/testcase/{id}/detachautomation");
    if let Err(r) = json_body(&body, &path) {
        return r;
    }
    let mut d = s.data();
    let Some(tc) = d.test_cases.iter_mut().find(|t| t.id == id && !t.deleted) else {
        return not_found("Test case", id, &path);
    };
    tc.automated = false;
    tc.last_modified_date = now_ms();
    ok(to_value(tc))
}

fn rows_of(d: &Dataset, pid: i64, keep: impl Fn(&TestCaseRec) -> bool) -> Vec<Value> {
    d.test_cases
        .iter()
        .filter(|t| t.project_id == pid && keep(t))
        .map(|t| json!({"id": t.id, "name": t.name, "automated": t.automated, "status": to_value(&t.status)}))
        .collect()
}

async fn deleted(AxState(s): St, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let pid = match q.required_i64("projectId", "/api/testcase/deleted") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let d = s.data();
    ok(page(rows_of(&d, pid, |t| t.deleted), &q, false))
}

async fn muted(AxState(s): St, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let pid = match q.required_i64("projectId", "/api/testcase/muted") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let d = s.data();
    let muted: Vec<i64> = d.mutes.iter().map(|m| m.test_case_id).collect();
    ok(page(
        rows_of(&d, pid, |t| !t.deleted && muted.contains(&t.id)),
        &q,
        false,
    ))
}

/// `links` in a test case PATCH: the list replaces its external links.
pub(crate) fn patch_links(d: &mut Dataset, id: i64, links: &[Value]) {
    d.extras.entry(id).or_default().links = links
        .iter()
        .filter_map(|l| {
            Some((
                l["name"].as_str().unwrap_or("").to_owned(),
                l["url"].as_str()?.to_owned(),
                l["type"].as_str().unwrap_or("link").to_owned(),
            ))
        })
        .collect();
}

/// Each test case's extras, by test case id.
pub type ExtrasMap = HashMap<i64, Extras>;
