//! The fake's custom field administration: create, read, change, archive and delete a
//! field; add it to projects or take it out of one; a field's settings in a project; and
//! a project's values (create, rename, delete). Shapes from the 26.1.1 description
//! (`CustomFieldCreateDto`, `CustomFieldPatchDto`, `CustomFieldBulkAddToProjectsDto`,
//! `CustomFieldProjectPatchDto`, `CustomFieldValueProjectCreateDto`, …).

#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::routing::{delete, get, patch, post};
use serde_json::{Value, json};

use super::custom_fields::{FieldRec, ValueRec, field_dto};
use super::http::{Q, Resp, empty, json_body, not_found, ok};
use super::{State, error_response};

type St = AxState<Arc<State>>;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/cf", post(create))
        .route("/api/cf/{id}", get(read).patch(change).delete(remove))
        .route("/api/cf/{id}/archived", post(archive))
        .route("/api/cfbulk/add-to-projects", post(add_to_projects))
        .route("/api/cfproject/remove", delete(remove_from_project))
        .route("/api/project/{id}/cf/{cf}", patch(project_settings))
        .route("/api/project/{id}/cfv", post(create_value))
        .route(
            "/api/project/{id}/cfv/{cfv}",
            patch(change_value).delete(remove_value),
        )
}

fn body_of(body: &Bytes, path: &str) -> Result<Value, Resp> {
    json_body(body, path)
}

async fn create(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/cf";
    let b = match body_of(&body, path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (Some(name), Some(required)) = (
        b["name"].as_str().map(str::trim).filter(|n| !n.is_empty()),
        b["required"].as_bool(),
    ) else {
        return error_response(400, "name, required: must not be null", path);
    };
    let mut d = s.data();
    if d.custom_fields
        .iter()
        .any(|f| f.name.eq_ignore_ascii_case(name))
    {
        return error_response(
            409,
            &format!("Custom field with name {name} already exists"),
            path,
        );
    }
    let id = d.next_id();
    let mut f = FieldRec::new(id, name, required, false);
    f.single_select = b["singleSelect"].as_bool().unwrap_or(true);
    let v = field_dto(&f);
    d.custom_fields.push(f);
    ok(v)
}

async fn read(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    match d.custom_fields.iter().find(|f| f.id == id) {
        Some(f) => ok(field_dto(f)),
        None => not_found("Custom field", id, &format!("/api/cf/{id}")),
    }
}

async fn change(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/cf/{id}");
    let b = match body_of(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut d = s.data();
    let Some(f) = d.custom_fields.iter_mut().find(|f| f.id == id) else {
        return not_found("Custom field", id, &path);
    };
    if let Some(n) = b.get("name") {
        match n.as_str().map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => f.name = n.to_owned(),
            None => return error_response(400, "name: must not be blank", &path),
        }
    }
    if let Some(v) = b["required"].as_bool() {
        f.required = v;
    }
    if let Some(v) = b["singleSelect"].as_bool() {
        f.single_select = v;
    }
    if let Some(v) = b["locked"].as_bool() {
        f.locked = v;
    }
    ok(field_dto(f))
}

async fn remove(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let mut d = s.data();
    let before = d.custom_fields.len();
    d.custom_fields.retain(|f| f.id != id);
    if d.custom_fields.len() == before {
        return not_found("Custom field", id, &format!("/api/cf/{id}"));
    }
    let gone: Vec<i64> = d
        .cf_values
        .iter()
        .filter(|v| v.field_id == id)
        .map(|v| v.id)
        .collect();
    d.cf_values.retain(|v| v.field_id != id);
    for t in d.test_cases.iter_mut() {
        t.cfv.retain(|v| !gone.contains(v));
    }
    empty(204)
}

async fn archive(AxState(s): St, Path(id): Path<i64>, RawQuery(raw): RawQuery) -> Resp {
    let path = format!("/api/cf/{id}/archived");
    let archived = Q::new(raw)
        .get("archived")
        .map(|v| v == "true")
        .unwrap_or(true);
    let mut d = s.data();
    let Some(f) = d.custom_fields.iter_mut().find(|f| f.id == id) else {
        return not_found("Custom field", id, &path);
    };
    f.archived = archived;
    ok(field_dto(f))
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_i64)
        .collect()
}

async fn add_to_projects(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/cfbulk/add-to-projects";
    let b = match body_of(&body, path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (fields, projects) = (ids(&b["customFieldsIds"]), ids(&b["projectsIds"]));
    if fields.is_empty() || projects.is_empty() {
        return error_response(400, "customFieldsIds, projectsIds: must not be empty", path);
    }
    let mut d = s.data();
    if let Some(p) = projects
        .iter()
        .find(|p| !d.projects.iter().any(|x| x.id == **p))
    {
        return not_found("Project", *p, path);
    }
    if let Some(f) = fields
        .iter()
        .find(|f| !d.custom_fields.iter().any(|x| x.id == **f))
    {
        return not_found("Custom field", *f, path);
    }
    for f in d
        .custom_fields
        .iter_mut()
        .filter(|f| fields.contains(&f.id))
    {
        for p in &projects {
            f.removed_from.retain(|x| x != p);
            if !f.in_project(*p) {
                f.added_to.push(*p);
            }
        }
    }
    empty(202)
}

async fn remove_from_project(AxState(s): St, RawQuery(raw): RawQuery) -> Resp {
    let path = "/api/cfproject/remove";
    let q = Q::new(raw);
    let (field, pid) = match (
        q.required_i64("customFieldId", path),
        q.required_i64("projectId", path),
    ) {
        (Ok(f), Ok(p)) => (f, p),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let mut d = s.data();
    let Some(f) = d.custom_fields.iter_mut().find(|f| f.id == field) else {
        return not_found("Custom field", field, path);
    };
    f.added_to.retain(|p| *p != pid);
    if f.everywhere && !f.removed_from.contains(&pid) {
        f.removed_from.push(pid);
    }
    empty(204)
}

async fn project_settings(AxState(s): St, Path((pid, cf)): Path<(i64, i64)>, body: Bytes) -> Resp {
    let path = format!("/api/project/{pid}/cf/{cf}");
    let b = match body_of(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut d = s.data();
    let Some(f) = d
        .custom_fields
        .iter_mut()
        .find(|f| f.id == cf && f.in_project(pid))
    else {
        return not_found("Custom field", cf, &path);
    };
    if let Some(v) = b["required"].as_bool() {
        f.required = v;
    }
    if let Some(v) = b["locked"].as_bool() {
        f.locked = v;
    }
    empty(204)
}

fn value_dto(v: &ValueRec, f: &FieldRec) -> Value {
    json!({"id": v.id, "name": v.name, "global": false, "customField": field_dto(f)})
}

async fn create_value(AxState(s): St, Path(pid): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/project/{pid}/cfv");
    let b = match body_of(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (Some(field), Some(name)) = (
        b["customField"]["id"].as_i64(),
        b["name"].as_str().map(str::trim).filter(|n| !n.is_empty()),
    ) else {
        return error_response(400, "customField.id, name: must not be null", &path);
    };
    let mut d = s.data();
    let Some(f) = d
        .custom_fields
        .iter()
        .find(|f| f.id == field && f.in_project(pid))
        .cloned()
    else {
        return not_found("Custom field", field, &path);
    };
    if d.cf_values
        .iter()
        .any(|v| v.field_id == field && v.name == name)
    {
        return error_response(409, &format!("Value {name} already exists"), &path);
    }
    let id = d.next_id();
    let v = ValueRec {
        id,
        field_id: field,
        name: name.to_owned(),
    };
    let dto = value_dto(&v, &f);
    d.cf_values.push(v);
    ok(dto)
}

async fn change_value(AxState(s): St, Path((pid, cfv)): Path<(i64, i64)>, body: Bytes) -> Resp {
    let path = format!("/api/project/{pid}/cfv/{cfv}");
    let b = match body_of(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut d = s.data();
    let Some(v) = d.cf_values.iter_mut().find(|v| v.id == cfv) else {
        return not_found("Custom field value", cfv, &path);
    };
    if let Some(n) = b.get("name") {
        match n.as_str().map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => v.name = n.to_owned(),
            None => return error_response(400, "name: must not be blank", &path),
        }
    }
    empty(204)
}

async fn remove_value(AxState(s): St, Path((pid, cfv)): Path<(i64, i64)>) -> Resp {
    let mut d = s.data();
    let before = d.cf_values.len();
    d.cf_values.retain(|v| v.id != cfv);
    if d.cf_values.len() == before {
        return not_found(
            "Custom field value",
            cfv,
            &format!("/api/project/{pid}/cfv/{cfv}"),
        );
    }
    for t in d.test_cases.iter_mut().filter(|t| t.project_id == pid) {
        t.cfv.retain(|v| *v != cfv);
    }
    empty(204)
}
