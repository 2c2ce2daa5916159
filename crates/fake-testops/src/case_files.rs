//! The fake's test case attachments (multipart upload, list, content, delete), test
//! keys, relations, examples and audit log. Shapes from the 26.1.1 description
//! (`TestCaseAttachmentRowDto`, `TestKeyDto[]`, `TestCaseRelationDto[]`,
//! `ParameterValueDto[][]`, `PageTestCaseAuditLogEntryDto`).

#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::data::Dataset;
use super::http::{Q, Resp, json_body, not_found, now_ms, ok, page};
use super::{State, error_response};

type St = AxState<Arc<State>>;

/// What a relation may be, as the description enumerates `TestCaseRelationTypeDto`.
const RELATIONS: [&str; 7] = [
    "related to",
    "clones",
    "is cloned by",
    "duplicates",
    "is duplicated by",
    "automates",
    "is automated by",
];

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/testcase/attachment", get(list).post(upload))
        .route(
            "/api/testcase/attachment/{id}",
            axum::routing::delete(remove),
        )
        .route("/api/testcase/attachment/{id}/content", get(content))
        .route("/api/testcase/{id}/testkey", get(keys).post(set_keys))
        .route(
            "/api/testcase/{id}/relation",
            get(relations).post(set_relations),
        )
        .route(
            "/api/testcase/{id}/example",
            get(examples).post(set_examples),
        )
        .route("/api/testcase/audit", get(audit))
}

fn live(d: &Dataset, id: i64, path: &str) -> Result<(), Resp> {
    if d.test_cases.iter().any(|t| t.id == id && !t.deleted) {
        Ok(())
    } else {
        Err(not_found("Test case", id, path))
    }
}

/// Records a change in the test case's audit log, as the real server does on writes.
fn log(d: &mut Dataset, id: i64, action: &'static str) {
    let aid = d.next_id();
    d.extras
        .entry(id)
        .or_default()
        .audit
        .push((aid, action, "api-token-user".into(), now_ms()));
}

fn row(id: i64, name: &str, ct: &str, len: usize) -> Value {
    json!({"id": id, "name": name, "contentType": ct, "contentLength": len, "entity": "test_case", "missed": false})
}

async fn list(AxState(s): St, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let path = "/api/testcase/attachment";
    let id = match q.required_i64("testCaseId", path) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let d = s.data();
    if let Err(r) = live(&d, id, path) {
        return r;
    }
    let rows = d
        .extras
        .get(&id)
        .map(|x| {
            x.attachments
                .iter()
                .map(|(aid, n, ct, b)| row(*aid, n, ct, b.len()))
                .collect()
        })
        .unwrap_or_default();
    ok(page(rows, &q, false))
}

/// The parts of a `multipart/form-data` body: (field name, file name, content type,
/// bytes). Enough of RFC 7578 for what clients send.
/// One part of a multipart body: field name, file name, content type, bytes.
type Part = (String, String, String, Vec<u8>);

fn parts(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let delim = format!("--{boundary}");
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let at = find(rest, delim.as_bytes())?;
        rest = &rest[at + delim.len()..];
        if rest.starts_with(b"--") {
            return Some(out);
        }
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let data = &rest[head_end + 4..];
        let end = find(data, format!("\r\n{delim}").as_bytes())?;
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .unwrap_or("");
        let attr = |k: &str| {
            disposition
                .split(';')
                .find_map(|p| p.trim().strip_prefix(&format!("{k}=\"")))
                .map(|v| v.trim_end_matches('"').to_owned())
        };
        let ct = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Type: "))
            .unwrap_or("application/octet-stream")
            .to_owned();
        out.push((
            attr("name")?,
            attr("filename").unwrap_or_default(),
            ct,
            data[..end].to_vec(),
        ));
        rest = &data[end + 2..];
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn upload(AxState(s): St, RawQuery(raw): RawQuery, headers: HeaderMap, body: Bytes) -> Resp {
    let q = Q::new(raw);
    let path = "/api/testcase/attachment";
    let id = match q.required_i64("testCaseId", path) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("multipart/form-data") {
        return error_response(415, &format!("Content-Type '{ct}' is not supported"), path);
    }
    let Some(files) = parts(ct, &body).filter(|p| p.iter().any(|f| f.0 == "file")) else {
        return error_response(400, "Required part 'file' is not present.", path);
    };
    let mut d = s.data();
    if let Err(r) = live(&d, id, path) {
        return r;
    }
    let mut rows = Vec::new();
    for (_, name, ct, bytes) in files.into_iter().filter(|f| f.0 == "file") {
        let aid = d.next_id();
        rows.push(row(aid, &name, &ct, bytes.len()));
        d.extras
            .entry(id)
            .or_default()
            .attachments
            .push((aid, name, ct, bytes));
    }
    log(&mut d, id, "insert");
    ok(Value::Array(rows))
}

fn owner(d: &Dataset, aid: i64) -> Option<i64> {
    d.extras
        .iter()
        .find(|(_, x)| x.attachments.iter().any(|a| a.0 == aid))
        .map(|(id, _)| *id)
}

async fn remove(AxState(s): St, Path(aid): Path<i64>) -> Resp {
    let mut d = s.data();
    let Some(id) = owner(&d, aid) else {
        return not_found(
            "Attachment",
            aid,
            &format!("/api/testcase/attachment/{aid}"),
        );
    };
    d.extras
        .entry(id)
        .or_default()
        .attachments
        .retain(|a| a.0 != aid);
    log(&mut d, id, "delete");
    super::http::empty(200)
}

async fn content(AxState(s): St, Path(aid): Path<i64>) -> Resp {
    let d = s.data();
    let found = d
        .extras
        .values()
        .flat_map(|x| x.attachments.iter())
        .find(|a| a.0 == aid)
        .cloned();
    let Some((_, _, ct, bytes)) = found else {
        return not_found(
            "Attachment",
            aid,
            &format!("/api/testcase/attachment/{aid}/content"),
        );
    };
    Response::builder()
        .status(200)
        .header("content-type", ct)
        .body(Body::from(bytes))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn key_dtos(d: &Dataset, id: i64) -> Value {
    let x = d.extras.get(&id).cloned().unwrap_or_default();
    json!(x.keys.iter().map(|(i, k)| json!({"integrationId": i, "name": k, "url": format!("https://tms.example.com/{k}")})).collect::<Vec<_>>())
}

async fn keys(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    if let Err(r) = live(&d, id, &format!("/api/testcase/{id}/testkey")) {
        return r;
    }
    ok(key_dtos(&d, id))
}

async fn set_keys(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/testcase/{id}/testkey");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut out = Vec::new();
    for k in b.as_array().into_iter().flatten() {
        let (Some(i), Some(n)) = (k["integrationId"].as_i64(), k["name"].as_str()) else {
            return error_response(400, "integrationId, name: must not be null", &path);
        };
        out.push((i, n.to_owned()));
    }
    let mut d = s.data();
    if let Err(r) = live(&d, id, &path) {
        return r;
    }
    d.extras.entry(id).or_default().keys = out;
    log(&mut d, id, "update");
    ok(key_dtos(&d, id))
}

fn relation_dtos(d: &Dataset, id: i64) -> Vec<Value> {
    let x = d.extras.get(&id).cloned().unwrap_or_default();
    x.relations
        .iter()
        .enumerate()
        .map(|(i, (target, kind))| {
            let name = d.test_cases.iter().find(|t| t.id == *target).map(|t| t.name.clone());
            json!({"id": id * 1000 + i as i64, "target": {"id": target, "name": name}, "type": kind})
        })
        .collect()
}

async fn relations(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    if let Err(r) = live(&d, id, &format!("/api/testcase/{id}/relation")) {
        return r;
    }
    ok(Value::Array(relation_dtos(&d, id)))
}

async fn set_relations(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/testcase/{id}/relation");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut d = s.data();
    if let Err(r) = live(&d, id, &path) {
        return r;
    }
    let mut out = Vec::new();
    for r in b.as_array().into_iter().flatten() {
        let (Some(target), Some(kind)) = (r["target"]["id"].as_i64(), r["type"].as_str()) else {
            return error_response(400, "target, type: must not be null", &path);
        };
        if !RELATIONS.contains(&kind) {
            return error_response(
                400,
                &format!("JSON parse error: unknown relation type {kind}"),
                &path,
            );
        }
        if let Err(r) = live(&d, target, &path) {
            return r;
        }
        out.push((target, kind.to_owned()));
    }
    d.extras.entry(id).or_default().relations = out;
    log(&mut d, id, "update");
    ok(Value::Array(relation_dtos(&d, id)))
}

fn example_dtos(d: &Dataset, id: i64) -> Vec<Value> {
    let x = d.extras.get(&id).cloned().unwrap_or_default();
    x.examples
        .iter()
        .enumerate()
        .map(|(i, params)| {
            json!({"id": id * 100 + i as i64, "parameters": params.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>()})
        })
        .collect()
}

async fn examples(AxState(s): St, Path(id): Path<i64>, RawQuery(raw): RawQuery) -> Resp {
    let d = s.data();
    if let Err(r) = live(&d, id, &format!("/api/testcase/{id}/example")) {
        return r;
    }
    ok(page(example_dtos(&d, id), &Q::new(raw), false))
}

async fn set_examples(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/testcase/{id}/example");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut out = Vec::new();
    for row in b.as_array().into_iter().flatten() {
        let mut params = Vec::new();
        for p in row.as_array().into_iter().flatten() {
            let (Some(n), Some(v)) = (p["name"].as_str(), p["value"].as_str()) else {
                return error_response(400, "name, value: must not be null", &path);
            };
            params.push((n.to_owned(), v.to_owned()));
        }
        out.push(params);
    }
    let mut d = s.data();
    if let Err(r) = live(&d, id, &path) {
        return r;
    }
    d.extras.entry(id).or_default().examples = out;
    log(&mut d, id, "update");
    ok(Value::Array(example_dtos(&d, id)))
}

async fn audit(AxState(s): St, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let path = "/api/testcase/audit";
    let id = match q.required_i64("testCaseId", path) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let d = s.data();
    if let Err(r) = live(&d, id, path) {
        return r;
    }
    let x = d.extras.get(&id).cloned().unwrap_or_default();
    // Newest first, as a log is read.
    let rows = x
        .audit
        .iter()
        .rev()
        .map(|(aid, action, who, at)| json!({"id": aid, "actionType": action, "username": who, "timestamp": at, "data": []}))
        .collect();
    ok(page(rows, &q, false))
}
