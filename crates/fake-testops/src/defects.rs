//! The fake's defects and analytics endpoints.

#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::routing::get;
use serde_json::{Value, json};

use super::State;
use super::data::DefectRec;
use super::http::{Q, Resp, create_body, not_found, now_ms, ok, page};

type St = AxState<Arc<State>>;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/defect", get(list).post(create))
        .route(
            "/api/defect/{id}",
            get(get_one)
                .patch(super::defect_links::patch)
                .delete(delete_one),
        )
        .route("/api/defect/{id}/testresult", get(results))
        .route("/api/analytic/{id}/tc_success_rate", get(success_rate))
        .route(
            "/api/analytic/{id}/launch_duration_histogram",
            get(duration_histogram),
        )
}

pub(crate) fn overview(d: &DefectRec) -> Value {
    let mut v = json!({"id": d.id, "projectId": d.project_id, "name": d.name, "description": d.description, "closed": d.closed, "createdDate": d.created_date, "lastModifiedDate": d.created_date});
    if let Some((integration, key)) = &d.issue {
        v["issue"] = json!({"integrationId": integration, "name": key, "url": format!("https://tracker.example.com/browse/{key}")});
    }
    v
}

/// `DELETE /api/defect/{id}`: 204; its links to test results go with it.
async fn delete_one(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let mut d = s.data();
    let before = d.defects.len();
    d.defects.retain(|x| x.id != id);
    if d.defects.len() == before {
        return not_found("Defect", id, &format!("/api/defect/{id}"));
    }
    d.matchers.retain(|m| m.defect_id != id);
    super::http::empty(204)
}

async fn list(AxState(s): St, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let pid = match q.required_i64("projectId", "/api/defect") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let status = q.get("status").map(str::to_ascii_lowercase);
    let d = s.data();
    let rows = d
        .defects
        .iter()
        .filter(|x| x.project_id == pid)
        .filter(|x| match status.as_deref() {
            Some("open") => !x.closed,
            Some("closed") => x.closed,
            _ => true,
        })
        .map(|x| json!({"id": x.id, "name": x.name, "closed": x.closed, "count": x.test_result_ids.len()}))
        .collect();
    ok(page(rows, &q, false))
}

async fn create(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/defect";
    let (b, pid, name) = match create_body(&body, path) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut d = s.data();
    if !d.projects.iter().any(|p| p.id == pid) {
        return not_found("Project", pid, path);
    }
    let id = d.next_id();
    let rec = DefectRec {
        id,
        project_id: pid,
        name,
        description: b["description"].as_str().map(str::to_owned),
        closed: false,
        created_date: now_ms(),
        created_by: "api-token-user".into(),
        test_result_ids: vec![],
        issue: None,
    };
    let v = overview(&rec);
    d.defects.push(rec);
    ok(v)
}

async fn get_one(AxState(s): St, Path(id): Path<i64>) -> Resp {
    let d = s.data();
    match d.defects.iter().find(|x| x.id == id) {
        Some(x) => ok(overview(x)),
        None => not_found("Defect", id, &format!("/api/defect/{id}")),
    }
}

async fn results(AxState(s): St, Path(id): Path<i64>, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let d = s.data();
    let Some(x) = d.defects.iter().find(|x| x.id == id) else {
        return not_found("Defect", id, &format!("/api/defect/{id}/testresult"));
    };
    let rows = d
        .results
        .iter()
        .filter(|r| x.test_result_ids.contains(&r.id))
        .map(|r| json!({"id": r.id, "name": r.name, "status": r.status, "assignee": r.assignee, "duration": r.duration, "testCaseId": r.test_case_id}))
        .collect();
    ok(page(rows, &q, false))
}

/// `AnalyticDto` per day: average success rate and counts of the project's results.
async fn success_rate(AxState(s): St, Path(id): Path<i64>, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let path = format!("/api/analytic/{id}/tc_success_rate");
    let d = s.data();
    if !d.projects.iter().any(|p| p.id == id) {
        return not_found("Project", id, &path);
    }
    let launches = match super::routes::analytic_launches(&s, &d, id, &q, &path) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let mut days: std::collections::BTreeMap<String, (i64, i64, i64)> = Default::default();
    for r in d
        .results
        .iter()
        .filter(|r| r.project_id == id && !r.hidden && launches.contains(&r.launch_id))
    {
        let day = chrono::DateTime::from_timestamp_millis(r.created_date)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        let e = days.entry(day).or_default();
        e.0 += 1;
        e.1 += i64::from(r.status == "passed");
        e.2 += r.duration;
    }
    let rows: Vec<Value> = days
        .into_iter()
        .map(|(day, (n, passed, dur))| json!({"date": day, "testResultsCount": n, "avgSuccessRate": passed as f64 / n as f64, "avgDuration": dur as f64 / n as f64, "sumDuration": dur}))
        .collect();
    ok(Value::Array(rows))
}

/// `AnalyticLaunchDurationHistogramDto` buckets over the project's launch durations.
async fn duration_histogram(AxState(s): St, Path(id): Path<i64>, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let buckets = q
        .get("buckets")
        .and_then(|b| b.parse::<i64>().ok())
        .unwrap_or(5)
        .clamp(1, 50);
    let path = format!("/api/analytic/{id}/launch_duration_histogram");
    let d = s.data();
    if !d.projects.iter().any(|p| p.id == id) {
        return not_found("Project", id, &path);
    }
    let chosen = match super::routes::analytic_launches(&s, &d, id, &q, &path) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let mut launches = Vec::new();
    for l in d
        .launches
        .iter()
        .filter(|l| l.project_id == id && chosen.contains(&l.id))
    {
        let rs: Vec<_> = d
            .results
            .iter()
            .filter(|r| r.launch_id == l.id && !r.hidden)
            .collect();
        let (Some(start), Some(stop)) = (
            rs.iter().map(|r| r.start).min(),
            rs.iter().map(|r| r.stop).max(),
        ) else {
            continue;
        };
        let failed = rs.iter().any(|r| r.status == "failed");
        let broken = rs.iter().any(|r| r.status == "broken");
        launches.push((stop - start, failed, broken));
    }
    let (Some(lo), Some(hi)) = (
        launches.iter().map(|l| l.0).min(),
        launches.iter().map(|l| l.0).max(),
    ) else {
        return ok(json!([]));
    };
    let width = ((hi - lo) / buckets).max(1);
    let rows: Vec<Value> = (0..buckets)
        .map(|b| {
            let min = lo + b * width;
            let max = if b == buckets - 1 {
                hi
            } else {
                min + width - 1
            };
            let inb: Vec<_> = launches
                .iter()
                .filter(|l| l.0 >= min && l.0 <= max)
                .collect();
            json!({"bucket": b, "min": min, "max": max,
                   "failedCount": inb.iter().filter(|l| l.1).count(),
                   "brokenCount": inb.iter().filter(|l| !l.1 && l.2).count(),
                   "passedCount": inb.iter().filter(|l| !l.1 && !l.2).count()})
        })
        .collect();
    ok(Value::Array(rows))
}
