//! The fake's test-result endpoints beyond plain reads: assign, mute, resolve, the bulk
//! operations, history, execution steps, attachments and defect links.

#![allow(clippy::result_large_err)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;

use super::http::{
    Q, Resp, empty, json_body, not_found, ok, page, page_sized, selected, to_value, unknown_launch,
    with_status,
};
use super::{State, error_response};

type St = AxState<Arc<State>>;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/testresult/{id}/assign", post(assign))
        .route("/api/testresult/{id}/mute", post(mute))
        .route("/api/testresult/{id}/unmute", post(unmute))
        .route("/api/testresult/{id}/resolve", post(resolve))
        .route("/api/testresult/{id}/history", get(history))
        .route("/api/testcase/{id}/history", get(case_history))
        .route("/api/testresult/{id}/execution", get(execution))
        .route("/api/testresult/{id}/defect", get(result_defects))
        .route("/api/testresult/{tr}/defect/{defect}", post(link_defect))
        .route("/api/testresult/attachment", get(attachments))
        .route(
            "/api/testresult/attachment/{id}/content",
            get(attachment_content),
        )
        .route("/api/testresult/bulk/assign", post(bulk_assign))
        .route("/api/testresult/bulk/mute", post(bulk_mute))
        .route("/api/testresult/bulk/unmute", post(bulk_unmute))
        .route("/api/testresult/bulk/hide", post(bulk_hide))
        .route("/api/testresult/bulk/resolve", post(bulk_resolve_v1))
        .route("/api/v2/test-result/bulk/resolve", post(bulk_resolve))
        .route(
            "/api/v2/launch/{id}/test-result/flat",
            get(launch_results_flat),
        )
}

/// `GET /api/v2/launch/{launchId}/test-result/flat`: a launch's results as
/// `TestResultFlatDto` (no message or trace), `search` on the name, 100 per page and
/// sorted by name unless told otherwise. Other clients (lucius-mcp) read launches this way.
async fn launch_results_flat(AxState(s): St, Path(id): Path<i64>, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let path = format!("/api/v2/launch/{id}/test-result/flat");
    let d = s.data();
    if !d.launches.iter().any(|l| l.id == id) {
        return unknown_launch(id, &path);
    }
    let needle = q.get("search").map(str::to_lowercase).unwrap_or_default();
    let mut items: Vec<&super::data::ResultRec> = d
        .results
        .iter()
        .filter(|r| r.launch_id == id && !r.hidden)
        .filter(|r| r.name.to_lowercase().contains(&needle))
        .collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    let items = items
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id, "name": r.name, "status": r.status, "assignee": r.assignee,
                "duration": r.duration, "start": r.start, "stop": r.stop,
                "createdDate": r.created_date, "lastModifiedDate": r.created_date,
                "testCaseId": r.test_case_id, "flaky": r.flaky, "hidden": r.hidden,
                "manual": r.manual, "layerName": null, "testedBy": r.assignee,
            })
        })
        .collect();
    ok(page_sized(items, &q, false, 100))
}

/// `TestResultRowDto`: a result as lists and `__search` give it (no message or trace).
pub(crate) fn result_row(v: &Value) -> Value {
    json!({"id": v["id"], "name": v["name"], "status": v["status"], "assignee": v["assignee"], "duration": v["duration"], "testCaseId": v["testCaseId"]})
}

fn row(r: &super::data::ResultRec) -> Value {
    result_row(&to_value(r))
}

async fn assign(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/testresult/{id}/assign");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(user) = b["username"].as_str().filter(|u| !u.trim().is_empty()) else {
        return error_response(400, "username: must not be blank", &path);
    };
    let mut d = s.data();
    match d.results.iter_mut().find(|r| r.id == id) {
        Some(r) => {
            r.assignee = Some(user.to_owned());
            with_status(202, row(r))
        }
        None => not_found("Test result", id, &path),
    }
}

async fn mute(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/testresult/{id}/mute");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut d = s.data();
    let Some(r) = d.results.iter_mut().find(|r| r.id == id) else {
        return not_found("Test result", id, &path);
    };
    // The description does not mark `name` required, but the database does: the real
    // server answers 500 with a constraint violation when it is missing.
    if b["name"].as_str().is_none_or(|n| n.trim().is_empty()) {
        return error_response(
            500,
            "could not execute statement; SQL [n/a]; constraint [null value in column \"name\" violates not-null constraint]",
            &path,
        );
    }
    // Nor does it say the column holds 255 characters (the Go server's changelog).
    if b["name"].as_str().is_some_and(|n| n.chars().count() > 255) {
        return error_response(
            500,
            "could not execute statement; value too long for type character varying(255)",
            &path,
        );
    }
    r.muted = true;
    empty(202)
}

async fn unmute(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let path = format!("/api/testresult/{id}/unmute");
    let mut d = s.data();
    match d.results.iter_mut().find(|r| r.id == id) {
        Some(r) => {
            r.muted = false;
            empty(202)
        }
        None => not_found("Test result", id, &path),
    }
}

const STATUSES: [&str; 5] = ["failed", "broken", "passed", "skipped", "unknown"];

async fn resolve(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/testresult/{id}/resolve");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(status) = b["status"].as_str().filter(|s| STATUSES.contains(s)) else {
        return error_response(
            400,
            "status: must be one of failed, broken, passed, skipped, unknown",
            &path,
        );
    };
    let mut d = s.data();
    match d.results.iter_mut().find(|r| r.id == id) {
        Some(r) => {
            r.status = status.into();
            if let Some(m) = b["message"].as_str() {
                r.message = Some(m.into());
            }
            with_status(202, row(r))
        }
        None => not_found("Test result", id, &path),
    }
}

async fn history(AxState(s): St, Path(id): Path<i64>, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let d = s.data();
    let Some(me) = d.results.iter().find(|r| r.id == id) else {
        return not_found("Test result", id, &format!("/api/testresult/{id}/history"));
    };
    let mut items: Vec<&super::data::ResultRec> = d
        .results
        .iter()
        .filter(|r| {
            r.history_key == me.history_key && r.id != me.id && r.created_date <= me.created_date
        })
        .collect();
    items.sort_by_key(|r| std::cmp::Reverse(r.created_date));
    let values = items.into_iter().map(|r| history_row(&d, r)).collect();
    ok(page(values, &q, false))
}

/// `TestResultHistoryDto` of one result.
fn history_row(d: &super::data::Dataset, r: &super::data::ResultRec) -> Value {
    let launch = d.launches.iter().find(|l| l.id == r.launch_id);
    json!({"id": r.id, "status": r.status, "message": r.message, "createdDate": r.created_date, "start": r.start, "stop": r.stop, "duration": r.duration,
           "launch": launch.map(|l| json!({"id": l.id, "name": l.name}))})
}

/// `GET /api/testcase/{id}/history`: the case's results across launches, newest first
/// (retries hidden by a rerun included, as they are runs of it too).
async fn case_history(AxState(s): St, Path(id): Path<i64>, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let d = s.data();
    if !d.test_cases.iter().any(|t| t.id == id) {
        return not_found("Test case", id, &format!("/api/testcase/{id}/history"));
    }
    let mut items: Vec<&super::data::ResultRec> =
        d.results.iter().filter(|r| r.test_case_id == id).collect();
    items.sort_by_key(|r| std::cmp::Reverse((r.created_date, r.id)));
    let values = items.into_iter().map(|r| history_row(&d, r)).collect();
    ok(page(values, &q, false))
}

async fn execution(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    match d.results.iter().find(|r| r.id == id) {
        Some(r) => {
            let mut steps: Vec<Value> = r
                .steps
                .iter()
                .map(|st| json!({"type": "body", "body": st["name"], "status": st["status"], "duration": st["duration"], "message": st.get("message").cloned().unwrap_or(Value::Null)}))
                .collect();
            for a in &r.attachments {
                // `entity` is required in every `AttachmentRow` (it picks the oneOf
                // branch), embedded in a step as well as in the attachment list.
                let mut a = a.clone();
                a["entity"] = json!("test_result");
                steps.push(json!({"type": "attachment", "attachmentId": a["id"], "attachment": a}));
            }
            ok(json!({"steps": steps}))
        }
        None => not_found(
            "Test result",
            id,
            &format!("/api/testresult/{id}/execution"),
        ),
    }
}

async fn attachments(AxState(s): St, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let id = match q.required_i64("testResultId", "/api/testresult/attachment") {
        Ok(i) => i,
        Err(r) => return r,
    };
    let d = s.data();
    match d.results.iter().find(|r| r.id == id) {
        Some(r) => ok(page(
            r.attachments
                .iter()
                .map(|a| {
                    let mut a = a.clone();
                    a["entity"] = json!("test_result");
                    a
                })
                .collect(),
            &q,
            false,
        )),
        None => not_found("Test result", id, "/api/testresult/attachment"),
    }
}

async fn attachment_content(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    let found = d.results.iter().find_map(|r| {
        r.attachments
            .iter()
            .find(|a| a["id"] == id)
            .map(|a| (r, a.clone()))
    });
    let Some((r, a)) = found else {
        return not_found(
            "Attachment",
            id,
            &format!("/api/testresult/attachment/{id}/content"),
        );
    };
    let ct = a["contentType"]
        .as_str()
        .unwrap_or("application/octet-stream")
        .to_owned();
    let bytes: Vec<u8> = if ct.starts_with("text/") {
        let mut log = format!("[INFO] starting {}\n[INFO] status {}\n", r.name, r.status);
        if let Some(m) = &r.message {
            log.push_str(&format!("[ERROR] {m}\n"));
        }
        log.into_bytes()
    } else {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.resize(a["contentLength"].as_u64().unwrap_or(64) as usize, 0);
        png
    };
    // The API declares a StreamingResponseBody: the real server streams the content,
    // chunked, with no Content-Length. So does the fake.
    let stream =
        futures::stream::once(
            async move { Ok::<Bytes, std::convert::Infallible>(Bytes::from(bytes)) },
        );
    axum::http::Response::builder()
        .status(200)
        .header("content-type", ct)
        .body(axum::body::Body::from_stream(stream))
        .unwrap_or_else(|_| empty(500))
}

async fn result_defects(AxState(s): St, Path(id): Path<i64>, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let d = s.data();
    if !d.results.iter().any(|r| r.id == id) {
        return not_found("Test result", id, &format!("/api/testresult/{id}/defect"));
    }
    let rows = d
        .defects
        .iter()
        .filter(|x| x.test_result_ids.contains(&id))
        .map(|x| json!({"id": x.id, "name": x.name, "closed": x.closed}))
        .collect();
    ok(page(rows, &q, false))
}

async fn link_defect(AxState(s): St, Path((tr, defect)): Path<(i64, i64)>) -> Resp {
    let path = format!("/api/testresult/{tr}/defect/{defect}");
    let mut d = s.data();
    if !d.results.iter().any(|r| r.id == tr) {
        return not_found("Test result", tr, &path);
    }
    match d.defects.iter_mut().find(|x| x.id == defect) {
        Some(x) => {
            if !x.test_result_ids.contains(&tr) {
                x.test_result_ids.push(tr);
            }
            ok(to_value(x))
        }
        None => not_found("Defect", defect, &path),
    }
}

/// Applies `f` to the results a bulk selection names; 404 for an unknown launch.
fn bulk(
    s: &State,
    body: &[u8],
    path: &str,
    f: impl Fn(&Value, &mut super::data::ResultRec),
) -> Resp {
    let b = match json_body(body, path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let sel = &b["selection"];
    let Some(launch) = sel["launchId"].as_i64() else {
        return error_response(400, "selection.launchId: must not be null", path);
    };
    let mut d = s.data();
    if !d.launches.iter().any(|l| l.id == launch) {
        return unknown_launch(launch, path);
    }
    let all: Vec<i64> = d
        .results
        .iter()
        .filter(|r| r.launch_id == launch && !r.hidden)
        .map(|r| r.id)
        .collect();
    let ids = selected(sel, "leafsInclude", &all);
    for r in d.results.iter_mut().filter(|r| ids.contains(&r.id)) {
        f(&b, r);
    }
    empty(204)
}

/// Several assignees share the results out in turn, one result each, as real instances
/// do (the Go server's changelog, MimoJanra/TestOpsMCP); none gets them all.
async fn bulk_assign(AxState(s): St, body: Bytes) -> Resp {
    let turn = std::cell::Cell::new(0usize);
    bulk(&s, &body, "/api/testresult/bulk/assign", |b, r| {
        let users = b["assignees"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        r.assignee = users
            .get(turn.get() % users.len().max(1))
            .and_then(Value::as_str)
            .map(str::to_owned);
        turn.set(turn.get() + 1);
    })
}

async fn bulk_mute(AxState(s): St, body: Bytes) -> Resp {
    bulk(&s, &body, "/api/testresult/bulk/mute", |_, r| {
        r.muted = true
    })
}

/// Hidden results leave the launch's lists and statistic (they stay in the database).
async fn bulk_hide(AxState(s): St, body: Bytes) -> Resp {
    bulk(&s, &body, "/api/testresult/bulk/hide", |_, r| {
        r.hidden = true
    })
}

async fn bulk_unmute(AxState(s): St, body: Bytes) -> Resp {
    bulk(&s, &body, "/api/testresult/bulk/unmute", |_, r| {
        r.muted = false
    })
}

/// `POST /api/v2/test-result/bulk/resolve` (`resolve`): sets status and message.
async fn bulk_resolve(AxState(s): St, body: Bytes) -> Resp {
    resolve_bulk(&s, &body, "/api/v2/test-result/bulk/resolve", true)
}

/// `POST /api/testresult/bulk/resolve` (`resolve_2`): as real instances do, it answers
/// success but drops the message (the Go server's changelog, MimoJanra/TestOpsMCP).
async fn bulk_resolve_v1(AxState(s): St, body: Bytes) -> Resp {
    resolve_bulk(&s, &body, "/api/testresult/bulk/resolve", false)
}

fn resolve_bulk(s: &State, body: &[u8], path: &str, keep_message: bool) -> Resp {
    let b = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    if !b["status"].as_str().is_some_and(|s| STATUSES.contains(&s)) {
        return error_response(400, "status: must not be null", path);
    }
    bulk(s, body, path, |b, r| {
        if let Some(st) = b["status"].as_str() {
            r.status = st.into();
        }
        if let Some(m) = b["message"].as_str().filter(|_| keep_message) {
            r.message = Some(m.into());
        }
    })
}
