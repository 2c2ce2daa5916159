//! Test case trees and folders (the v2 tree API), off by default: list a project's
//! trees, browse one level of a tree, create, rename and delete folders (a delete asks
//! the user), and move test cases into a folder.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::testcases::case_url;
use super::{
    Access, Ctx, Done, Meta, PageInfo, Render, Subject, ToolDef, ToolError, Toolset, bulk_ids,
    paging, positive_id, tool,
};
use crate::allure::Page;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ProjectArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BrowseArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// Tree id (list_test_case_trees shows them).
    pub tree_id: i64,
    /// Folder to look into (default: the tree's top level).
    pub folder_id: Option<i64>,
    /// 0-based page number (default 0).
    pub page: Option<u32>,
    /// Entries per page, 1-100 (default 50).
    pub size: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateFolderArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// Tree id.
    pub tree_id: i64,
    /// Folder to create it in (default: the top level).
    pub parent_folder_id: Option<i64>,
    /// The folder's name.
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FolderArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// Folder id (browse_test_case_tree shows them).
    pub folder_id: i64,
    /// (rename) The new name.
    pub name: Option<String>,
    /// (delete) true only after the user agreed; clients that can ask are asked instead.
    pub confirm: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MoveArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// Tree id.
    pub tree_id: i64,
    /// Folder to move them into.
    pub folder_id: i64,
    /// Test case ids (1-100).
    pub test_case_ids: Vec<i64>,
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(LIST_TEST_CASE_TREES, list_test_case_trees),
        tool(BROWSE_TEST_CASE_TREE, browse_test_case_tree),
        tool(CREATE_TEST_CASE_FOLDER, create_test_case_folder),
        tool(RENAME_TEST_CASE_FOLDER, rename_test_case_folder),
        tool(DELETE_TEST_CASE_FOLDER, delete_test_case_folder),
        tool(MOVE_TEST_CASES_TO_FOLDER, move_test_cases_to_folder),
    ]
}

#[derive(Debug, Deserialize)]
struct TreeDto {
    id: i64,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TreeLine {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Trees {
    pub project_id: i64,
    pub trees: Vec<TreeLine>,
}

impl Render for Trees {
    fn text(&self) -> String {
        let mut s = format!("Test case trees of project {}:\n", self.project_id);
        for t in &self.trees {
            s.push_str(&format!("- #{} {}\n", t.id, t.name));
        }
        s.push_str("browse_test_case_tree shows a tree's folders and test cases.");
        s
    }
}

const LIST_TEST_CASE_TREES: Meta = Meta {
    name: "list_test_case_trees",
    toolset: Toolset::TestcaseFolders,
    title: "A project's test case trees",
    description: "The trees (folder structures) a project's test cases are arranged in.",
    access: Access::Read,
};

async fn list_test_case_trees(ctx: Ctx, a: ProjectArgs) -> Result<Trees, ToolError> {
    let (pid, q) = ctx.project_query(a.project_id, Some(0), Some(100), 100)?;
    let p: Page<TreeDto> = ctx.project_get("/v2/tree", pid, &q).await?;
    Ok(Trees {
        project_id: pid,
        trees: p
            .content
            .into_iter()
            .map(|t| TreeLine {
                id: t.id,
                name: t.name.unwrap_or_default(),
            })
            .collect(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeDto {
    id: i64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    count: Option<i64>,
    #[serde(default)]
    test_case_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct FullNode {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    children: Option<Page<NodeDto>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FolderLine {
    pub id: i64,
    pub name: String,
    /// Test cases in it.
    pub count: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CaseLine {
    pub id: i64,
    pub name: String,
    pub url: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Level {
    pub tree_id: i64,
    /// The folder looked into (absent: the top level).
    pub folder_id: Option<i64>,
    pub name: String,
    pub folders: Vec<FolderLine>,
    pub test_cases: Vec<CaseLine>,
    pub page: PageInfo,
}

impl Render for Level {
    fn text(&self) -> String {
        let mut s = format!(
            "{} (tree #{}, {}):\n",
            self.name,
            self.tree_id,
            self.page.text()
        );
        for f in &self.folders {
            s.push_str(&format!(
                "- folder #{} {} ({} test cases)\n",
                f.id,
                f.name,
                f.count.unwrap_or(0)
            ));
        }
        for t in &self.test_cases {
            s.push_str(&format!("- #{} {} {}\n", t.id, t.name, t.url));
        }
        s
    }
}

const BROWSE_TEST_CASE_TREE: Meta = Meta {
    name: "browse_test_case_tree",
    toolset: Toolset::TestcaseFolders,
    title: "Browse a test case tree",
    description: "One level of a test case tree: its folders (with counts) and test cases; give folder_id to go down. Paged.",
    access: Access::Read,
};

async fn browse_test_case_tree(ctx: Ctx, a: BrowseArgs) -> Result<Level, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let tree = positive_id("tree_id", a.tree_id, "list_test_case_trees shows ids")?;
    let mut q = paging(a.page, a.size, 50)?;
    q.push(("treeId", tree.to_string()));
    if let Some(f) = a.folder_id {
        q.push((
            "parentNodeId",
            positive_id("folder_id", f, "browse_test_case_tree shows ids")?.to_string(),
        ));
    }
    let answer = ctx
        .client
        .get::<FullNode>(&format!("/v2/project/{pid}/test-case/tree/tree-node"), &q)
        .await;
    let node = ctx.explain(Subject::Project(pid), answer).await?;
    let children = node.children.unwrap_or(Page {
        content: vec![],
        total_elements: 0,
        total_pages: 0,
        number: 0,
        size: 0,
    });
    let page = PageInfo::of(&children);
    let (mut folders, mut test_cases) = (Vec::new(), Vec::new());
    for c in children.content {
        if c.kind.as_deref() == Some("GROUP") {
            folders.push(FolderLine {
                id: c.id,
                name: c.name.unwrap_or_default(),
                count: c.count,
            });
        } else {
            let id = c.test_case_id.unwrap_or(c.id);
            test_cases.push(CaseLine {
                url: case_url(&ctx, Some(pid), id),
                id,
                name: c.name.unwrap_or_default(),
            });
        }
    }
    Ok(Level {
        tree_id: tree,
        folder_id: a.folder_id,
        name: node.name.unwrap_or_default(),
        folders,
        test_cases,
        page,
    })
}

fn folder_name(name: &str) -> Result<String, ToolError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 255 || n.chars().any(char::is_control) {
        return Err(ToolError::InvalidArgs(
            "name must be 1-255 characters on one line".into(),
        ));
    }
    Ok(n.to_owned())
}

const CREATE_TEST_CASE_FOLDER: Meta = Meta {
    name: "create_test_case_folder",
    toolset: Toolset::TestcaseFolders,
    title: "Create a test case folder",
    description: "Create a folder in a test case tree, at the top or inside another folder.",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn create_test_case_folder(ctx: Ctx, a: CreateFolderArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let tree = positive_id("tree_id", a.tree_id, "list_test_case_trees shows ids")?;
    let name = folder_name(&a.name)?;
    let mut q = vec![("treeId", tree.to_string())];
    if let Some(p) = a.parent_folder_id {
        q.push((
            "parentNodeId",
            positive_id("parent_folder_id", p, "browse_test_case_tree shows ids")?.to_string(),
        ));
    }
    let answer = ctx
        .client
        .post_query::<NodeDto>(
            &format!("/v2/project/{pid}/test-case/tree/group"),
            &q,
            json!({"name": name}),
        )
        .await;
    let f = ctx.explain(Subject::Project(pid), answer).await?;
    Ok(Done {
        summary: format!("Created folder #{} {name} in tree #{tree}.", f.id),
        ids: vec![f.id],
        url: None,
    })
}

const RENAME_TEST_CASE_FOLDER: Meta = Meta {
    name: "rename_test_case_folder",
    toolset: Toolset::TestcaseFolders,
    title: "Rename a test case folder",
    description: "Rename a folder of a test case tree.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn rename_test_case_folder(ctx: Ctx, a: FolderArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let id = positive_id("folder_id", a.folder_id, "browse_test_case_tree shows ids")?;
    let name = folder_name(a.name.as_deref().unwrap_or(""))?;
    let answer = ctx
        .client
        .send(
            reqwest::Method::PUT,
            &format!("/v2/project/{pid}/test-case/tree/group/{id}/name"),
            &[],
            Some(crate::allure::Body::Json(json!({"name": name}))),
        )
        .await;
    answer.map_err(|e| folder_missing(e, id))?;
    Ok(Done {
        summary: format!("Folder #{id} is '{name}' now."),
        ids: vec![id],
        url: None,
    })
}

fn folder_missing(e: crate::allure::AllureError, id: i64) -> ToolError {
    ToolError::not_found(
        e,
        format!("Folder {id}"),
        "browse_test_case_tree shows a tree's folders.",
    )
}

const DELETE_TEST_CASE_FOLDER: Meta = Meta {
    name: "delete_test_case_folder",
    toolset: Toolset::TestcaseFolders,
    title: "Delete a test case folder",
    description: "Delete a folder of a test case tree with its sub-folders (the test cases stay). Asks the user first.",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn delete_test_case_folder(ctx: Ctx, a: FolderArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let id = positive_id("folder_id", a.folder_id, "browse_test_case_tree shows ids")?;
    let what =
        format!("Delete folder #{id} of project {pid} with its sub-folders (the test cases stay)");
    ctx.confirm(DELETE_TEST_CASE_FOLDER.name, a.confirm, &what)
        .await?;
    ctx.client
        .delete(&format!("/v2/project/{pid}/test-case/tree/group/{id}"))
        .await
        .map_err(|e| folder_missing(e, id))?;
    Ok(Done {
        summary: format!("Deleted folder #{id}."),
        ids: vec![id],
        url: None,
    })
}

const MOVE_TEST_CASES_TO_FOLDER: Meta = Meta {
    name: "move_test_cases_to_folder",
    toolset: Toolset::TestcaseFolders,
    title: "Move test cases into a folder",
    description: "Move up to 100 test cases into a folder of a tree.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn move_test_cases_to_folder(ctx: Ctx, a: MoveArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let tree = positive_id("tree_id", a.tree_id, "list_test_case_trees shows ids")?;
    let folder = positive_id("folder_id", a.folder_id, "browse_test_case_tree shows ids")?;
    let ids = bulk_ids("test_case_ids", &a.test_case_ids)?;
    let body = json!({"nodeId": folder, "selection": {"projectId": pid, "treeId": tree, "leavesInclude": ids, "inverted": false}});
    let answer = ctx
        .client
        .post::<Value>("/v2/test-case/tree/bulk/drag-and-drop", body)
        .await;
    answer.map_err(|e| folder_missing(e, folder))?;
    Ok(Done {
        summary: format!("Moving {} test case(s) into folder #{folder}.", ids.len()),
        ids,
        url: None,
    })
}
