//! The fake's launch housekeeping: patch (rename, tags), copy, merge, a launch's
//! environment and its defects. Shapes from the 26.1.1 description: `LaunchPatchDto`,
//! `LaunchCopyRqDto` (202, no body), `LaunchMergeDto` → `IdAndNameOnlyDto`,
//! `EnvVarValueDto[]`, `PageDefectCountRowDto`.

#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::data::{IdName, LaunchRec};
use super::http::{Q, Resp, empty, json_body, now_ms, ok, page, unknown_launch};
use super::routes::launch_dto;
use super::{State, error_response};

type St = AxState<Arc<State>>;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/launch/{id}/copy", post(copy))
        .route("/api/launch/merge", post(merge))
        .route("/api/launch/{id}/env", get(env))
        .route("/api/launch/{id}/defect", get(defects))
}

/// `PATCH /api/launch/{id}`: only the fields sent change. Tags are given by name; a tag
/// the instance does not know yet gets an id.
pub(crate) async fn patch_launch(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/launch/{id}");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut d = s.data();
    if !d.launches.iter().any(|l| l.id == id) {
        return unknown_launch(id, &path);
    }
    let mut tags = None;
    if let Some(list) = b.get("tags").and_then(Value::as_array) {
        let mut out = Vec::new();
        for t in list {
            let Some(name) = t["name"].as_str().filter(|n| !n.trim().is_empty()) else {
                return error_response(400, "tags[].name: must not be blank", &path);
            };
            let id = t["id"].as_i64().unwrap_or_else(|| d.next_id());
            out.push(IdName {
                id,
                name: name.to_owned(),
            });
        }
        tags = Some(out);
    }
    let name = match b.get("name").and_then(Value::as_str) {
        Some(n) if n.trim().is_empty() => {
            return error_response(400, "name: must not be blank", &path);
        }
        Some(n) if n.len() > 255 => {
            return error_response(409, "name: size must be between 0 and 255", &path);
        }
        n => n.map(str::to_owned),
    };
    let Some(l) = d.launches.iter_mut().find(|l| l.id == id) else {
        return unknown_launch(id, &path);
    };
    if let Some(n) = name {
        l.name = n;
    }
    if let Some(t) = tags {
        l.tags = t;
    }
    l.last_modified_date = now_ms();
    ok(launch_dto(l))
}

/// `POST /api/launch/{id}/copy`: a new launch with the results of the old one. The
/// description marks nothing required, but the new launch's name is NOT NULL in the
/// database: the real server answers 500 without `launchName` (the Go server's
/// changelog reports it).
async fn copy(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/launch/{id}/copy");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut d = s.data();
    let Some(from) = d.launches.iter().find(|l| l.id == id).cloned() else {
        return unknown_launch(id, &path);
    };
    let Some(name) = b["launchName"].as_str().filter(|n| !n.trim().is_empty()) else {
        return error_response(
            500,
            "could not execute statement; constraint [null value in column \"name\" violates not-null constraint]",
            &path,
        );
    };
    let new_id = d.next_id();
    let mut copy = LaunchRec::new(
        new_id,
        from.project_id,
        name.to_owned(),
        None,
        false,
        now_ms(),
    );
    copy.tags = from.tags.clone();
    copy.env = from.env.clone();
    let results: Vec<_> = d
        .results
        .iter()
        .filter(|r| r.launch_id == id)
        .cloned()
        .collect();
    for mut r in results {
        r.id = d.next_id();
        r.launch_id = new_id;
        d.results.push(r);
    }
    d.launches.push(copy);
    empty(202)
}

/// `POST /api/launch/merge {from, to}`: the results of `from` move into `to`, and `from`
/// is gone.
async fn merge(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/launch/merge";
    let b = match json_body(&body, path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (Some(from), Some(to)) = (b["from"].as_i64(), b["to"].as_i64()) else {
        return error_response(400, "from, to: must not be null", path);
    };
    let mut d = s.data();
    let (Some(f), Some(t)) = (
        d.launches.iter().find(|l| l.id == from).cloned(),
        d.launches.iter().find(|l| l.id == to).cloned(),
    ) else {
        return unknown_launch(from, path);
    };
    if from == to || f.project_id != t.project_id {
        return error_response(409, "Launches must differ and belong to one project", path);
    }
    for r in d.results.iter_mut().filter(|r| r.launch_id == from) {
        r.launch_id = to;
    }
    d.launches.retain(|l| l.id != from);
    ok(json!({"id": t.id, "name": t.name}))
}

async fn env(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    let Some(l) = d.launches.iter().find(|l| l.id == id) else {
        return unknown_launch(id, &format!("/api/launch/{id}/env"));
    };
    let vars: Vec<Value> = l
        .env
        .iter()
        .enumerate()
        .map(|(i, (var, value))| {
            json!({"id": id * 100 + i as i64, "name": value, "variable": {"id": -(i as i64) - 1, "name": var}})
        })
        .collect();
    ok(Value::Array(vars))
}

/// The defects linked to the launch's results, with how many of them each has.
async fn defects(AxState(s): St, Path(id): Path<i64>, RawQuery(raw): RawQuery) -> Resp {
    let d = s.data();
    if !d.launches.iter().any(|l| l.id == id) {
        return unknown_launch(id, &format!("/api/launch/{id}/defect"));
    }
    let in_launch: Vec<i64> = d
        .results
        .iter()
        .filter(|r| r.launch_id == id)
        .map(|r| r.id)
        .collect();
    let rows = d
        .defects
        .iter()
        .filter_map(|x| {
            let count = x
                .test_result_ids
                .iter()
                .filter(|r| in_launch.contains(r))
                .count();
            let mut row = json!({"id": x.id, "name": x.name, "closed": x.closed, "count": count});
            if let Some((integration, key)) = &x.issue {
                row["issue"] = json!({"integrationId": integration, "name": key, "url": format!("https://tracker.example.com/browse/{key}")});
            }
            (count > 0).then_some(row)
        })
        .collect();
    ok(page(rows, &Q::new(raw), false))
}
