//! The fake's defect upkeep: editing a defect, linking it to an issue tracker key,
//! its matchers (message/trace regexes), applying them to a launch, and the issue
//! tracker integrations a project has.

#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::defects::overview;
use super::http::{Q, Resp, empty, json_body, not_found, ok, page, unknown_launch};
use super::{State, error_response};

type St = AxState<Arc<State>>;

/// A defect matcher (`DefectMatcherDto`): results whose message or trace match its
/// regexes are linked to its defect when matchers are applied to a launch.
#[derive(Debug, Clone)]
pub struct MatcherRec {
    pub id: i64,
    pub defect_id: i64,
    pub name: String,
    pub message_regex: Option<String>,
    pub trace_regex: Option<String>,
}

/// An issue tracker integration and the projects it is connected to.
#[derive(Debug, Clone)]
pub struct IntegrationRec {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub project_ids: Vec<i64>,
}

/// Project 1 has one issue tracker and a CI server, project 2 two trackers, the others
/// none.
pub(crate) fn seed() -> Vec<IntegrationRec> {
    [
        (1, "Jira", "jira", vec![1, 2]),
        (2, "YouTrack", "youtrack", vec![2]),
        (3, "Jenkins", "jenkins", vec![1]),
    ]
    .into_iter()
    .map(|(id, name, kind, projects)| IntegrationRec {
        id,
        name: name.into(),
        kind: kind.into(),
        project_ids: projects,
    })
    .collect()
}

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route(
            "/api/defect/{id}/issue",
            post(link_issue).delete(unlink_issue),
        )
        .route("/api/defect/{id}/matcher", get(matchers))
        .route("/api/defect/matcher", post(create_matcher))
        .route("/api/launch/{id}/defect/apply", post(apply))
        .route("/api/integration/project/{id}", get(integrations))
}

/// `PATCH /api/defect/{id}` with `DefectPatchDto {name, description, closed}`.
pub(crate) async fn patch(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/defect/{id}");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut d = s.data();
    let Some(x) = d.defects.iter_mut().find(|x| x.id == id) else {
        return not_found("Defect", id, &path);
    };
    if let Some(n) = b.get("name") {
        match n.as_str().map(str::trim) {
            Some(n) if !n.is_empty() && n.chars().count() <= 255 => x.name = n.to_owned(),
            _ => return error_response(400, "name: size must be between 1 and 255", &path),
        }
    }
    if let Some(v) = b.get("description") {
        x.description = v.as_str().map(str::to_owned);
    }
    if let Some(c) = b.get("closed").and_then(Value::as_bool) {
        x.closed = c;
    }
    ok(overview(x))
}

async fn link_issue(AxState(s): St, Path(id): Path<i64>, body: Bytes) -> Resp {
    let path = format!("/api/defect/{id}/issue");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (Some(integration), Some(key)) = (
        b["integrationId"].as_i64(),
        b["name"].as_str().map(str::trim).filter(|k| !k.is_empty()),
    ) else {
        return error_response(400, "integrationId and name: must not be null", &path);
    };
    let mut d = s.data();
    let Some(pid) = d.defects.iter().find(|x| x.id == id).map(|x| x.project_id) else {
        return not_found("Defect", id, &path);
    };
    if !d
        .integrations
        .iter()
        .any(|i| i.id == integration && i.project_ids.contains(&pid) && i.kind != "jenkins")
    {
        return not_found("Integration", integration, &path);
    }
    let Some(x) = d.defects.iter_mut().find(|x| x.id == id) else {
        return not_found("Defect", id, &path);
    };
    if x.issue.is_some() {
        return error_response(409, "Defect already has a linked issue", &path);
    }
    x.issue = Some((integration, key.to_owned()));
    ok(overview(x))
}

async fn unlink_issue(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let path = format!("/api/defect/{id}/issue");
    let mut d = s.data();
    let Some(x) = d.defects.iter_mut().find(|x| x.id == id) else {
        return not_found("Defect", id, &path);
    };
    x.issue = None;
    ok(overview(x))
}

fn matcher_dto(m: &MatcherRec) -> Value {
    json!({"id": m.id, "defectId": m.defect_id, "name": m.name, "messageRegex": m.message_regex, "traceRegex": m.trace_regex})
}

async fn matchers(AxState(s): St, Path(id): Path<i64>, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let d = s.data();
    if !d.defects.iter().any(|x| x.id == id) {
        return not_found("Defect", id, &format!("/api/defect/{id}/matcher"));
    }
    let items = d
        .matchers
        .iter()
        .filter(|m| m.defect_id == id)
        .map(matcher_dto)
        .collect();
    ok(page(items, &q, false))
}

async fn create_matcher(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/defect/matcher";
    let b = match json_body(&body, path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (Some(defect), Some(name)) = (
        b["defectId"].as_i64(),
        b["name"].as_str().map(str::trim).filter(|n| !n.is_empty()),
    ) else {
        return error_response(400, "defectId and name: must not be null", path);
    };
    let regex = |k: &str| b[k].as_str().filter(|r| !r.is_empty()).map(str::to_owned);
    let (message_regex, trace_regex) = (regex("messageRegex"), regex("traceRegex"));
    for r in [&message_regex, &trace_regex].into_iter().flatten() {
        if regex_lite::Regex::new(r).is_err() {
            return error_response(400, &format!("Invalid regular expression: {r}"), path);
        }
    }
    let mut d = s.data();
    if !d.defects.iter().any(|x| x.id == defect) {
        return not_found("Defect", defect, path);
    }
    let id = d.next_id();
    let m = MatcherRec {
        id,
        defect_id: defect,
        name: name.to_owned(),
        message_regex,
        trace_regex,
    };
    let v = matcher_dto(&m);
    d.matchers.push(m);
    ok(v)
}

/// `POST /api/launch/{id}/defect/apply`: every failed or broken result of the launch
/// whose message or trace a matcher of an open defect of its project matches is linked
/// to that defect. Answered 202 with no body.
async fn apply(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let path = format!("/api/launch/{id}/defect/apply");
    let mut d = s.data();
    let Some(pid) = d.launches.iter().find(|l| l.id == id).map(|l| l.project_id) else {
        return unknown_launch(id, &path);
    };
    let mut links = Vec::new();
    for m in &d.matchers {
        let Some(defect) = d
            .defects
            .iter()
            .find(|x| x.id == m.defect_id && x.project_id == pid && !x.closed)
        else {
            continue;
        };
        let re = |r: &Option<String>| r.as_deref().and_then(|r| regex_lite::Regex::new(r).ok());
        let (msg, trace) = (re(&m.message_regex), re(&m.trace_regex));
        for r in d.results.iter().filter(|r| {
            r.launch_id == id && !r.hidden && (r.status == "failed" || r.status == "broken")
        }) {
            let hits = |re: &Option<regex_lite::Regex>, text: &Option<String>| {
                re.as_ref()
                    .is_some_and(|re| re.is_match(text.as_deref().unwrap_or("")))
            };
            if hits(&msg, &r.message) || hits(&trace, &r.trace) {
                links.push((defect.id, r.id));
            }
        }
    }
    for (defect, result) in links {
        if let Some(x) = d.defects.iter_mut().find(|x| x.id == defect)
            && !x.test_result_ids.contains(&result)
        {
            x.test_result_ids.push(result);
        }
    }
    empty(202)
}

async fn integrations(AxState(s): St, Path(pid): Path<i64>, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let d = s.data();
    if !d.projects.iter().any(|p| p.id == pid) {
        return not_found("Project", pid, &format!("/api/integration/project/{pid}"));
    }
    let items = d
        .integrations
        .iter()
        .filter(|i| i.project_ids.contains(&pid))
        .map(|i| {
            let operations = if i.kind == "jenkins" {
                json!(["job_run", "job_sync"])
            } else {
                json!(["issue_create", "issue_suggest", "issue_sync"])
            };
            json!({"id": i.id, "name": i.name, "projectId": pid, "disabled": false,
                   "info": {"name": i.name, "type": i.kind, "operations": operations}})
        })
        .collect();
    ok(page(items, &q, false))
}
