//! The fake's v2 bulk test case writes beyond status and tags: members, external links
//! and issues added to a selection, clone (202) and move to another project (202).

#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::routing::post;
use serde_json::Value;

use super::http::{Resp, empty, json_body, not_found, now_ms, ok};
use super::testcase_extras::ROLES;
use super::testcases::selection;
use super::{State, error_response};

type St = AxState<Arc<State>>;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/v2/test-case/bulk/member/add", post(members))
        .route("/api/v2/test-case/bulk/external-link/add", post(links))
        .route("/api/v2/test-case/bulk/issue/add", post(issues))
        .route("/api/v2/test-case/bulk/clone", post(clone))
        .route("/api/v2/test-case/bulk/move", post(move_to))
}

/// The body and the test cases its selection names, or the real API's refusal.
fn parsed(s: &State, body: &Bytes, path: &str) -> Result<(Value, Vec<i64>), Resp> {
    let b = json_body(body, path)?;
    let ids = selection(&s.data(), &b, path)?;
    Ok((b, ids))
}

async fn members(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/v2/test-case/bulk/member/add";
    let (b, ids) = match parsed(&s, &body, path) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut add = Vec::new();
    for m in b["members"].as_array().into_iter().flatten() {
        let (Some(name), Some(role)) = (m["name"].as_str(), m["role"]["id"].as_i64()) else {
            return error_response(400, "members[].name, role.id: must not be null", path);
        };
        if !ROLES.iter().any(|(i, _)| *i == role) {
            return not_found("Role", role, path);
        }
        add.push((name.to_owned(), role));
    }
    let mut d = s.data();
    for id in ids {
        let x = d.extras.entry(id).or_default();
        for (name, role) in &add {
            x.members.retain(|(n, _)| n != name);
            x.members.push((name.clone(), *role));
        }
    }
    ok(Value::Null)
}

async fn links(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/v2/test-case/bulk/external-link/add";
    let (b, ids) = match parsed(&s, &body, path) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut add = Vec::new();
    for l in b["links"].as_array().into_iter().flatten() {
        let Some(url) = l["url"].as_str() else {
            return error_response(400, "links[].url: must not be null", path);
        };
        add.push((
            l["name"].as_str().unwrap_or(url).to_owned(),
            url.to_owned(),
            l["type"].as_str().unwrap_or("link").to_owned(),
        ));
    }
    let mut d = s.data();
    for id in ids {
        let x = d.extras.entry(id).or_default();
        for l in &add {
            x.links.retain(|(_, u, _)| *u != l.1);
            x.links.push(l.clone());
        }
    }
    ok(Value::Null)
}

async fn issues(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/v2/test-case/bulk/issue/add";
    let (b, ids) = match parsed(&s, &body, path) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut add = Vec::new();
    for i in b["issues"].as_array().into_iter().flatten() {
        // Without an integration id the real server linked every issue of the instance
        // (the Go server's changelog): refused here, so a client that forgets it fails.
        let (Some(integration), Some(key)) = (i["integrationId"].as_i64(), i["name"].as_str())
        else {
            return error_response(400, "issues[].integrationId, name: must not be null", path);
        };
        add.push((integration, key.to_owned()));
    }
    let mut d = s.data();
    for id in ids {
        let x = d.extras.entry(id).or_default();
        for i in &add {
            if !x.issues.contains(i) {
                x.issues.push(i.clone());
            }
        }
    }
    ok(Value::Null)
}

async fn clone(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/v2/test-case/bulk/clone";
    let (b, ids) = match parsed(&s, &body, path) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let suffix = b["nameSuffix"].as_str().unwrap_or(" (copy)").to_owned();
    let mut d = s.data();
    if let Some(p) = b["toProjectId"].as_i64()
        && !d.projects.iter().any(|x| x.id == p)
    {
        return not_found("Project", p, path);
    }
    for id in ids {
        let Some(mut tc) = d.test_cases.iter().find(|t| t.id == id).cloned() else {
            continue;
        };
        tc.id = d.next_id();
        tc.name = format!("{}{suffix}", tc.name);
        if let Some(p) = b["toProjectId"].as_i64() {
            tc.project_id = p;
        }
        tc.created_date = now_ms();
        d.test_cases.push(tc);
    }
    empty(202)
}

async fn move_to(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/v2/test-case/bulk/move";
    let (b, ids) = match parsed(&s, &body, path) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(to) = b["toProjectId"].as_i64() else {
        return error_response(400, "toProjectId: must not be null", path);
    };
    let mut d = s.data();
    if !d.projects.iter().any(|x| x.id == to) {
        return not_found("Project", to, path);
    }
    for t in d.test_cases.iter_mut().filter(|t| ids.contains(&t.id)) {
        t.project_id = to;
    }
    empty(202)
}
