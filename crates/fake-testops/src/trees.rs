//! The fake's test case trees (v2): each project has one tree, "Folders", whose groups
//! are folders and whose leaves are test cases; folders are made, renamed and deleted,
//! and test cases dragged into one. Shapes from the 26.1.1 description (`PageTreeDtoV2`,
//! `TestCaseFullTreeNodeDto` with `TestCaseLightTreeNodeDto` groups and
//! `TestCaseTreeLeafDtoV2` leaves, `TestCaseBulkDragAndDropDtoV2`).

#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use super::data::Dataset;
use super::http::{Q, Resp, empty, json_body, not_found, ok, page, selected, to_value};
use super::{State, error_response};

type St = AxState<Arc<State>>;

/// The folders of every project's tree, and where each test case sits.
#[derive(Debug, Clone, Default)]
pub struct Trees {
    /// `(id, project, parent folder, name)`.
    pub folders: Vec<(i64, i64, Option<i64>, String)>,
    /// Test case id → folder id (absent: at the root).
    pub placed: HashMap<i64, i64>,
}

/// A project's one tree has this id: its project id times 10.
fn tree_of(pid: i64) -> i64 {
    pid * 10
}

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/v2/tree", get(trees))
        .route("/api/v2/project/{id}/test-case/tree/tree-node", get(node))
        .route("/api/v2/project/{id}/test-case/tree/group", post(add_group))
        .route(
            "/api/v2/project/{id}/test-case/tree/group/{group}",
            axum::routing::delete(delete_group),
        )
        .route(
            "/api/v2/project/{id}/test-case/tree/group/{group}/name",
            put(rename_group),
        )
        .route("/api/v2/test-case/tree/bulk/drag-and-drop", post(drop_into))
}

async fn trees(AxState(s): St, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let pid = match q.required_i64("projectId", "/api/v2/tree") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let d = s.data();
    if !d.projects.iter().any(|p| p.id == pid) {
        return not_found("Project", pid, "/api/v2/tree");
    }
    ok(page(
        vec![
            json!({"id": tree_of(pid), "name": "Folders", "projectId": pid, "customFieldsProject": []}),
        ],
        &q,
        false,
    ))
}

fn project_and_tree(d: &Dataset, pid: i64, q: &Q, path: &str) -> Result<i64, Resp> {
    if !d.projects.iter().any(|p| p.id == pid) {
        return Err(not_found("Project", pid, path));
    }
    let tree = q.required_i64("treeId", path)?;
    if tree != tree_of(pid) {
        return Err(not_found("Tree", tree, path));
    }
    Ok(tree)
}

fn folder_count(d: &Dataset, folder: i64) -> usize {
    d.trees.placed.values().filter(|f| **f == folder).count()
}

async fn node(AxState(s): St, Path(pid): Path<i64>, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let path = format!("/api/v2/project/{pid}/test-case/tree/tree-node");
    let d = s.data();
    if let Err(r) = project_and_tree(&d, pid, &q, &path) {
        return r;
    }
    let parent = q.get("parentNodeId").and_then(|v| v.parse::<i64>().ok());
    let name = match parent {
        None => "Folders".to_owned(),
        Some(p) => match d.trees.folders.iter().find(|f| f.0 == p && f.1 == pid) {
            Some(f) => f.3.clone(),
            None => return not_found("Tree node", p, &path),
        },
    };
    let mut children: Vec<Value> = d
        .trees
        .folders
        .iter()
        .filter(|f| f.1 == pid && f.2 == parent)
        .map(|f| json!({"id": f.0, "name": f.3, "type": "GROUP", "count": folder_count(&d, f.0), "parentNodeId": parent}))
        .collect();
    children.extend(
        d.test_cases
            .iter()
            .filter(|t| t.project_id == pid && !t.deleted && d.trees.placed.get(&t.id).copied() == parent)
            .map(|t| json!({"id": t.id, "testCaseId": t.id, "name": t.name, "type": "LEAF", "automated": t.automated, "status": to_value(&t.status)})),
    );
    let mut v = json!({"name": name, "children": page(children, &q, false)});
    if let Some(p) = parent {
        v["id"] = json!(p);
    }
    ok(v)
}

async fn add_group(
    AxState(s): St,
    Path(pid): Path<i64>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Resp {
    let q = Q::new(raw);
    let path = format!("/api/v2/project/{pid}/test-case/tree/group");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(name) = b["name"].as_str().map(str::trim).filter(|n| !n.is_empty()) else {
        return error_response(400, "name: must not be blank", &path);
    };
    let mut d = s.data();
    if let Err(r) = project_and_tree(&d, pid, &q, &path) {
        return r;
    }
    let parent = q.get("parentNodeId").and_then(|v| v.parse::<i64>().ok());
    if let Some(p) = parent
        && !d.trees.folders.iter().any(|f| f.0 == p && f.1 == pid)
    {
        return not_found("Tree node", p, &path);
    }
    if d.trees
        .folders
        .iter()
        .any(|f| f.1 == pid && f.2 == parent && f.3 == name)
    {
        return error_response(409, &format!("Group {name} already exists"), &path);
    }
    let id = d.next_id();
    d.trees.folders.push((id, pid, parent, name.to_owned()));
    ok(json!({"id": id, "name": name, "type": "GROUP", "count": 0, "parentNodeId": parent}))
}

async fn rename_group(AxState(s): St, Path((pid, group)): Path<(i64, i64)>, body: Bytes) -> Resp {
    let path = format!("/api/v2/project/{pid}/test-case/tree/group/{group}/name");
    let b = match json_body(&body, &path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(name) = b["name"].as_str().map(str::trim).filter(|n| !n.is_empty()) else {
        return error_response(400, "name: must not be blank", &path);
    };
    let mut d = s.data();
    {
        let Some(f) = d
            .trees
            .folders
            .iter_mut()
            .find(|f| f.0 == group && f.1 == pid)
        else {
            return not_found("Tree node", group, &path);
        };
        f.3 = name.to_owned();
    }
    let count = folder_count(&d, group);
    let parent = d
        .trees
        .folders
        .iter()
        .find(|f| f.0 == group)
        .and_then(|f| f.2);
    ok(json!({"id": group, "name": name, "type": "GROUP", "count": count, "parentNodeId": parent}))
}

/// Deleting a folder takes its sub-folders with it; its test cases go to the root.
async fn delete_group(AxState(s): St, Path((pid, group)): Path<(i64, i64)>) -> Resp {
    let mut d = s.data();
    if !d.trees.folders.iter().any(|f| f.0 == group && f.1 == pid) {
        return not_found(
            "Tree node",
            group,
            &format!("/api/v2/project/{pid}/test-case/tree/group/{group}"),
        );
    }
    let mut gone = vec![group];
    let mut i = 0;
    while i < gone.len() {
        let g = gone[i];
        gone.extend(
            d.trees
                .folders
                .iter()
                .filter(|f| f.2 == Some(g))
                .map(|f| f.0),
        );
        i += 1;
    }
    d.trees.folders.retain(|f| !gone.contains(&f.0));
    d.trees.placed.retain(|_, f| !gone.contains(f));
    empty(200)
}

async fn drop_into(AxState(s): St, body: Bytes) -> Resp {
    let path = "/api/v2/test-case/tree/bulk/drag-and-drop";
    let b = match json_body(&body, path) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let sel = &b["selection"];
    let Some(pid) = sel["projectId"].as_i64() else {
        return error_response(400, "selection.projectId: must not be null", path);
    };
    let mut d = s.data();
    let target = b["nodeId"].as_i64();
    if let Some(t) = target
        && !d.trees.folders.iter().any(|f| f.0 == t && f.1 == pid)
    {
        return not_found("Tree node", t, path);
    }
    let all: Vec<i64> = d
        .test_cases
        .iter()
        .filter(|t| t.project_id == pid && !t.deleted)
        .map(|t| t.id)
        .collect();
    for id in selected(sel, "leavesInclude", &all) {
        match target {
            Some(t) => d.trees.placed.insert(id, t),
            None => d.trees.placed.remove(&id),
        };
    }
    empty(202)
}
