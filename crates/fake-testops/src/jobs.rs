//! The fake's CI jobs: the jobs of a project, running one into a new launch, job runs
//! and their reruns (all of a run's tests, or those its `rql` selects).

#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State as AxState};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::aql;
use super::data::{IdName, JobRunRec, LaunchRec};
use super::http::{Q, Resp, empty, not_found, now_ms, ok, page, to_value};
use super::routes::{RESULT_FIELDS, St, aql_lookup, launch_dto};
use super::{State, error_response};

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/job", get(list_jobs))
        .route("/api/job/{id}/run", post(run_job))
        .route("/api/jobrun/{id}", get(get_job_run))
        .route("/api/jobrun/{id}/rerun", post(rerun_job_run))
        .route("/api/ev", get(env_vars))
        .route("/api/evv", get(env_values))
}

/// An environment variable's id, name, and values (id, name).
type EnvVarSeed = (i64, &'static str, &'static [(i64, &'static str)]);

/// Environment variables (`EnvVarDto`) and their values: what a job can run against.
const ENV: &[EnvVarSeed] = &[
    (
        1,
        "Browser",
        &[(11, "chrome"), (12, "firefox"), (13, "safari")],
    ),
    (2, "OS", &[(21, "linux"), (22, "windows")]),
];

/// `GET /api/ev`: every environment variable.
async fn env_vars() -> Resp {
    ok(Value::Array(
        ENV.iter()
            .map(|(id, name, _)| serde_json::json!({"id": id, "name": name}))
            .collect(),
    ))
}

/// `GET /api/evv?envVarId=`: a variable's values (`EnvVarValueDto`).
async fn env_values(RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let var = match q.required_i64("envVarId", "/api/evv") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some((id, name, values)) = ENV.iter().find(|(id, _, _)| *id == var) else {
        return ok(Value::Array(vec![]));
    };
    ok(Value::Array(
        values
            .iter()
            .map(|(vid, v)| serde_json::json!({"id": vid, "name": v, "variable": {"id": id, "name": name}}))
            .collect(),
    ))
}

async fn list_jobs(AxState(s): St, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let pid = match q.required_i64("projectId", "/api/job") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let d = s.data();
    let items = d
        .jobs
        .iter()
        .filter(|j| j.project_id == pid)
        .map(to_value)
        .collect();
    ok(page(items, &q, false))
}

async fn run_job(AxState(s): St, Path(id): Path<i64>, Json(body): Json<Value>) -> Resp {
    let path = format!("/api/job/{id}/run");
    let name = body
        .get("launchName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_owned();
    if name.is_empty() {
        return error_response(400, "launchName: must not be blank", &path);
    }
    let job_ms = s
        .job_duration
        .lock()
        .map(|d| d.as_millis() as i64)
        .unwrap_or(3000);
    let mut d = s.data();
    let Some(job) = d.jobs.iter().find(|j| j.id == id).cloned() else {
        return not_found("Job", id, &path);
    };
    // `JobParameterDto` needs its `id`, one of the job's; an environment value must be one
    // of its variable's.
    for p in body
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(pid) = p.get("id").and_then(Value::as_i64) else {
            return error_response(400, "parameters[].id: must not be null", &path);
        };
        if !job.parameters.iter().any(|x| x["id"].as_i64() == Some(pid)) {
            return not_found("Job parameter", pid, &path);
        }
    }
    for set in body
        .get("envVarValueSets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for v in set["values"].as_array().into_iter().flatten() {
            let (Some(vid), Some(var)) = (v["id"].as_i64(), v["variable"]["id"].as_i64()) else {
                return error_response(
                    400,
                    "envVarValueSets[].values[]: id and variable.id must not be null",
                    &path,
                );
            };
            let known = ENV
                .iter()
                .any(|(id, _, values)| *id == var && values.iter().any(|(x, _)| *x == vid));
            if !known {
                return not_found("Environment variable value", vid, &path);
            }
        }
    }
    let lid = d.next_id();
    let launch = LaunchRec::new(
        lid,
        job.project_id,
        name.clone(),
        Some(job.id),
        false,
        now_ms(),
    );
    let v = launch_dto(&launch);
    d.launches.push(launch);
    // One job run per environment set (at least one).
    let sets = body
        .get("envVarValueSets")
        .and_then(Value::as_array)
        .map_or(1, |a| a.len().max(1));
    for _ in 0..sets {
        let rid = d.next_id();
        d.job_runs.push(JobRunRec {
            id: rid,
            launch_id: lid,
            name: format!("{} #{}", job.name, rid),
            stage: "scheduled".into(),
            status: "unknown".into(),
            url: format!("{}{}", job.url, rid),
            external_id: rid.to_string(),
            created_date: now_ms(),
            created_by: "api-token-user".into(),
            job: IdName {
                id: job.id,
                name: job.name.clone(),
            },
            error_message: None,
            finish_at: Some(now_ms() + job_ms),
            only: None,
        });
    }
    let mut r = ok(v);
    *r.status_mut() = axum::http::StatusCode::ACCEPTED;
    r
}

async fn get_job_run(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    match d.job_runs.iter().find(|j| j.id == id) {
        Some(j) => ok(to_value(j)),
        None => not_found("Job run", id, &format!("/api/jobrun/{id}")),
    }
}

async fn rerun_job_run(AxState(s): St, Path(id): Path<i64>, Json(body): Json<Value>) -> Resp {
    let job_ms = s
        .job_duration
        .lock()
        .map(|d| d.as_millis() as i64)
        .unwrap_or(3000);
    let path = format!("/api/jobrun/{id}/rerun");
    let mut d = s.data();
    let Some(old) = d.job_runs.iter().find(|j| j.id == id).cloned() else {
        return not_found("Job run", id, &path);
    };
    // JobRerunRequestDto's `rql` selects which of the run's results run again (by
    // their test cases); without it, all of them do.
    let only = match body.get("rql").and_then(Value::as_str) {
        Some(rql) => {
            let expr = match aql::parse(rql, s.now_ms) {
                Ok(e) => e,
                Err(e) => return error_response(400, &format!("Invalid query: {e}"), &path),
            };
            let mut cases = Vec::new();
            for r in d
                .results
                .iter()
                .filter(|r| r.launch_id == old.launch_id && !r.hidden)
            {
                let v = to_value(r);
                match aql::eval(&expr, &aql_lookup(&v, RESULT_FIELDS)) {
                    Ok(true) => cases.push(r.test_case_id),
                    Ok(false) => {}
                    Err(e) => return error_response(400, &format!("Invalid query: {e}"), &path),
                }
            }
            Some(cases)
        }
        None => None,
    };
    // A rerun is a new job run of the same job and launch (the old one stays as it
    // was), answered 202 with no body: a client must read back what runs.
    let new_id = d.job_runs.iter().map(|j| j.id).max().unwrap_or(0) + 1;
    let now = now_ms();
    d.job_runs.push(JobRunRec {
        id: new_id,
        stage: "scheduled".into(),
        status: "unknown".into(),
        error_message: None,
        created_date: now,
        finish_at: Some(now + job_ms),
        only,
        ..old
    });
    empty(202)
}
