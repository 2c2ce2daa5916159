//! The fake's custom fields: a project's fields and their values, and the v2 bulk
//! endpoints that read, add and remove a test case's values (the v1 single-case
//! `PATCH /api/testcase/{id}/cfv` is reported to answer 500 on real instances, and is
//! not served here).

#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::http::{Q, Resp, empty, json_body, not_found, ok, page};
use super::testcases::selection;
use super::{State, error_response};

type St = AxState<Arc<State>>;

/// A custom field (`CustomFieldDto`), used in every project.
#[derive(Debug, Clone)]
pub struct FieldRec {
    pub id: i64,
    pub name: String,
    pub required: bool,
    pub single_select: bool,
    pub locked: bool,
    pub archived: bool,
    /// Used in every project unless removed from it (the seeded ones), or only where
    /// added (a new one).
    pub everywhere: bool,
    pub added_to: Vec<i64>,
    pub removed_from: Vec<i64>,
}

impl FieldRec {
    pub fn new(id: i64, name: &str, required: bool, everywhere: bool) -> FieldRec {
        FieldRec {
            id,
            name: name.into(),
            required,
            single_select: true,
            locked: false,
            archived: false,
            everywhere,
            added_to: vec![],
            removed_from: vec![],
        }
    }

    /// Whether project `pid` uses this field.
    pub fn in_project(&self, pid: i64) -> bool {
        (self.everywhere && !self.removed_from.contains(&pid)) || self.added_to.contains(&pid)
    }
}

/// One of a field's values (`CustomFieldValueDto`).
#[derive(Debug, Clone)]
pub struct ValueRec {
    pub id: i64,
    pub field_id: i64,
    pub name: String,
}

/// Feature, Epic and Priority with their values (Feature's 100-103, Epic's 200-201,
/// Priority's 300-302); built-in ids are negative, as the Go server's changelog
/// reports of real instances.
pub(crate) fn seed() -> (Vec<FieldRec>, Vec<ValueRec>) {
    let fields = vec![
        FieldRec::new(-1, "Feature", false, true),
        FieldRec::new(-2, "Epic", false, true),
        FieldRec::new(-3, "Priority", true, true),
    ];
    let mut values = Vec::new();
    for (field, names) in [
        (-1, &["Login", "Checkout", "Search", "Cart"][..]),
        (-2, &["Storefront", "Payments"][..]),
        (-3, &["High", "Medium", "Low"][..]),
    ] {
        for (i, n) in names.iter().enumerate() {
            values.push(ValueRec {
                id: 100 * -field + i as i64,
                field_id: field,
                name: (*n).into(),
            });
        }
    }
    (fields, values)
}

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/project/{id}/cf", get(fields))
        .route("/api/project/{id}/cfv", get(values))
        .route("/api/v2/test-case/bulk/cfv", post(case_values))
        .route("/api/v2/test-case/bulk/cfv/add", post(add))
        .route("/api/v2/test-case/bulk/cfv/remove", post(remove))
}

pub(crate) fn field_dto(f: &FieldRec) -> Value {
    json!({"id": f.id, "name": f.name, "required": f.required, "archived": f.archived,
           "singleSelect": f.single_select, "locked": f.locked})
}

/// `CustomFieldProjectDto`: the field as bound to a project.
fn project_field(pid: i64, f: &FieldRec) -> Value {
    json!({"id": pid * 100 - f.id, "projectId": pid, "name": f.name, "required": f.required,
           "locked": f.locked, "customField": field_dto(f)})
}

async fn fields(AxState(s): St, Path(pid): Path<i64>, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let d = s.data();
    if !d.projects.iter().any(|p| p.id == pid) {
        return not_found("Project", pid, &format!("/api/project/{pid}/cf"));
    }
    let query = q.get("query").unwrap_or("").to_lowercase();
    let items = d
        .custom_fields
        .iter()
        .filter(|f| f.in_project(pid) && f.name.to_lowercase().contains(&query))
        .map(|f| project_field(pid, f))
        .collect();
    ok(page(items, &q, false))
}

async fn values(AxState(s): St, Path(pid): Path<i64>, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let path = format!("/api/project/{pid}/cfv");
    let field = match q.required_i64("customFieldId", &path) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let d = s.data();
    if !d.projects.iter().any(|p| p.id == pid) {
        return not_found("Project", pid, &path);
    }
    let Some(f) = d.custom_fields.iter().find(|f| f.id == field) else {
        return not_found("Custom field", field, &path);
    };
    let query = q.get("query").unwrap_or("").to_lowercase();
    let items = d
        .cf_values
        .iter()
        .filter(|v| v.field_id == field && v.name.to_lowercase().contains(&query))
        .map(|v| {
            let count = d
                .test_cases
                .iter()
                .filter(|t| t.project_id == pid && t.cfv.contains(&v.id))
                .count();
            json!({"id": v.id, "name": v.name, "global": true, "testCasesCount": count, "customField": field_dto(f)})
        })
        .collect();
    ok(page(items, &q, false))
}

async fn case_values(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/v2/test-case/bulk/cfv";
    let b = match json_body(&body, path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let d = s.data();
    let ids = match selection(&d, &b, path) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let pid = b["selection"]["projectId"].as_i64().unwrap_or(0);
    let held: Vec<i64> = d
        .test_cases
        .iter()
        .filter(|t| ids.contains(&t.id))
        .flat_map(|t| t.cfv.iter().copied())
        .collect();
    let out: Vec<Value> = d
        .custom_fields
        .iter()
        .filter_map(|f| {
            let vals: Vec<Value> = d
                .cf_values
                .iter()
                .filter(|v| v.field_id == f.id && held.contains(&v.id))
                .map(|v| json!({"id": v.id, "name": v.name}))
                .collect();
            (!vals.is_empty())
                .then(|| json!({"customField": project_field(pid, f), "values": vals}))
        })
        .collect();
    ok(Value::Array(out))
}

async fn add(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/v2/test-case/bulk/cfv/add";
    let b = match json_body(&body, path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut d = s.data();
    let ids = match selection(&d, &b, path) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(cfv) = b["cfv"].as_array().filter(|a| !a.is_empty()) else {
        return error_response(400, "cfv: must not be empty", path);
    };
    let mut add = Vec::new();
    for v in cfv {
        let (Some(id), Some(field)) = (v["id"].as_i64(), v["customField"]["id"].as_i64()) else {
            return error_response(400, "cfv: id and customField.id must not be null", path);
        };
        if !d
            .cf_values
            .iter()
            .any(|x| x.id == id && x.field_id == field)
        {
            return not_found("Custom field value", id, path);
        }
        add.push(id);
    }
    for t in d.test_cases.iter_mut().filter(|t| ids.contains(&t.id)) {
        for id in &add {
            if !t.cfv.contains(id) {
                t.cfv.push(*id);
            }
        }
    }
    empty(200)
}

async fn remove(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/v2/test-case/bulk/cfv/remove";
    let b = match json_body(&body, path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut d = s.data();
    let ids = match selection(&d, &b, path) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(gone) = b["ids"]
        .as_array()
        .filter(|a| !a.is_empty())
        .map(|a| a.iter().filter_map(Value::as_i64).collect::<Vec<_>>())
    else {
        return error_response(400, "ids: must not be empty", path);
    };
    for t in d.test_cases.iter_mut().filter(|t| ids.contains(&t.id)) {
        t.cfv.retain(|v| !gone.contains(v));
    }
    empty(204)
}
