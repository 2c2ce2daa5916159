//! Launch housekeeping, off by default: rename and tag, copy, merge and delete launches,
//! and read a launch's environment and defects (the Go server's launch tools).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::defects::defect_url;
use super::lookups::launch;
use super::{
    Access, Ctx, Done, Meta, PageInfo, Render, Subject, ToolDef, ToolError, Toolset, paging, tool,
};
use crate::allure::Page;
use crate::allure::model::IdName;

/// The API's limit on a launch's name (a longer one is refused with 409).
const MAX_NAME: usize = 255;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdateArgs {
    /// Launch id (list_launches shows ids).
    pub launch_id: i64,
    /// New name.
    pub name: Option<String>,
    /// The launch's tags from now on, by name (replaces the list; [] removes all).
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteArgs {
    /// Launch id (list_launches shows ids).
    pub launch_id: i64,
    /// true only after the user agreed to delete it. Clients that can ask the user
    /// (elicitation) are asked instead.
    pub confirm: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CopyArgs {
    /// Launch to copy.
    pub launch_id: i64,
    /// Name of the copy (default "Copy of <name>").
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MergeArgs {
    /// Launch merged (`from`).
    pub source_launch_id: i64,
    /// Launch merged into (`to`).
    pub target_launch_id: i64,
    /// true only after the user agreed. Clients that can ask the user are asked instead.
    pub confirm: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LaunchArgs {
    /// Launch id (list_launches shows ids).
    pub launch_id: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DefectsArgs {
    /// Launch id (list_launches shows ids).
    pub launch_id: i64,
    /// 0-based page number (default 0).
    pub page: Option<u32>,
    /// Defects per page, 1-100 (default 25).
    pub size: Option<u32>,
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(UPDATE_LAUNCH, update_launch),
        tool(COPY_LAUNCH, copy_launch),
        tool(MERGE_LAUNCHES, merge_launches),
        tool(DELETE_LAUNCH, delete_launch),
        tool(GET_LAUNCH_ENVIRONMENT, get_launch_environment),
        tool(GET_LAUNCH_DEFECTS, get_launch_defects),
        tool(REMOVE_TEST_CASES_FROM_LAUNCH, remove_test_cases_from_launch),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RemoveArgs {
    /// Launch id.
    pub launch_id: i64,
    /// Test result ids of the launch to take out (1-100; list_test_results shows them).
    pub test_result_ids: Vec<i64>,
    /// hide (default: out of the launch's lists and statistic, kept in TestOps) or
    /// delete (gone for good, at most 20).
    pub mode: Option<String>,
    /// true only after the user agreed. Clients that can ask the user are asked instead.
    pub confirm: Option<bool>,
}

const REMOVE_TEST_CASES_FROM_LAUNCH: Meta = Meta {
    name: "remove_test_cases_from_launch",
    toolset: Toolset::LaunchAdmin,
    title: "Take results out of a launch",
    description: "Hide results of a launch (out of its lists and statistic) or delete them for good. Asks the user first.",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn remove_test_cases_from_launch(ctx: Ctx, a: RemoveArgs) -> Result<Done, ToolError> {
    let ids = super::bulk_ids("test_result_ids", &a.test_result_ids)?;
    let delete = match a.mode.as_deref().map(str::trim) {
        None | Some("hide") => false,
        Some("delete") => true,
        Some(other) => {
            return Err(ToolError::InvalidArgs(format!(
                "mode '{other}' is not hide or delete"
            )));
        }
    };
    if delete && ids.len() > 20 {
        return Err(ToolError::InvalidArgs(
            "delete takes at most 20 results a call (one request each); hide takes 100".into(),
        ));
    }
    let l = launch(&ctx, a.launch_id).await?;
    if delete {
        // A delete goes by result id alone: each must be this launch's, or the user would
        // agree to one launch and lose results of another.
        for id in &ids {
            let answer = ctx
                .client
                .get::<crate::allure::model::TestResult>(&format!("/testresult/{id}"), &[])
                .await;
            let r = ctx.explain(Subject::TestResult(*id), answer).await?;
            if r.launch_id != Some(l.id) {
                return Err(ToolError::InvalidArgs(format!(
                    "test result #{id} is not in launch #{}; list_test_results shows its results. Nothing was changed.",
                    l.id
                )));
            }
        }
    }
    let verb = if delete { "Delete for good" } else { "Hide" };
    let what = format!(
        "{verb} {} test result(s) of launch #{} {}",
        ids.len(),
        l.id,
        l.name
    );
    ctx.confirm(REMOVE_TEST_CASES_FROM_LAUNCH.name, a.confirm, &what)
        .await?;
    if delete {
        for id in &ids {
            let answer = ctx.client.delete(&format!("/testresult/{id}")).await;
            ctx.explain(Subject::TestResult(*id), answer).await?;
        }
    } else {
        let body = json!({"selection": super::lookups::selection(l.id, &ids)});
        let answer = ctx
            .client
            .post::<serde_json::Value>("/testresult/bulk/hide", body)
            .await;
        ctx.explain(Subject::Launch(l.id), answer).await?;
    }
    Ok(Done {
        summary: format!(
            "{} {} test result(s) of launch #{} {}.",
            if delete { "Deleted" } else { "Hid" },
            ids.len(),
            l.id,
            l.name
        ),
        ids,
        url: launch_link(&ctx, l.id),
    })
}

fn launch_link(ctx: &Ctx, id: i64) -> Option<String> {
    Some(ctx.link(&format!("/launch/{id}")))
}

fn checked_name(name: &str) -> Result<String, ToolError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(ToolError::InvalidArgs(format!(
            "name must be 1-{MAX_NAME} characters"
        )));
    }
    Ok(name.to_owned())
}

const UPDATE_LAUNCH: Meta = Meta {
    name: "update_launch",
    toolset: Toolset::LaunchAdmin,
    title: "Rename or retag a launch",
    description: "Change a launch's name and/or replace its tags. Closing: close_launch.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn update_launch(ctx: Ctx, a: UpdateArgs) -> Result<Done, ToolError> {
    if a.name.is_none() && a.tags.is_none() {
        return Err(ToolError::InvalidArgs(
            "nothing to change: give name and/or tags".into(),
        ));
    }
    let name = a.name.as_deref().map(checked_name).transpose()?;
    let l = launch(&ctx, a.launch_id).await?;
    let mut body = json!({});
    if let Some(n) = &name {
        body["name"] = json!(n);
    }
    if let Some(tags) = &a.tags {
        // A tag the launch has keeps its id; a new one is named, and TestOps finds or
        // makes it.
        let mut out = Vec::new();
        for t in tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            match l.tags.iter().find(|k| k.name.as_deref() == Some(t)) {
                Some(k) => out.push(json!({"id": k.id, "name": t})),
                None => out.push(json!({"name": t})),
            }
        }
        body["tags"] = json!(out);
    }
    let answer = ctx
        .client
        .patch::<serde_json::Value>(&format!("/launch/{}", l.id), body)
        .await;
    ctx.explain(Subject::Launch(l.id), answer).await?;
    let mut changed = Vec::new();
    if let Some(n) = &name {
        changed.push(format!("renamed to '{n}'"));
    }
    if let Some(t) = &a.tags {
        changed.push(format!("tags now [{}]", t.join(", ")));
    }
    Ok(Done {
        summary: format!("Launch #{} {}: {}.", l.id, l.name, changed.join(", ")),
        ids: vec![l.id],
        url: launch_link(&ctx, l.id),
    })
}

const COPY_LAUNCH: Meta = Meta {
    name: "copy_launch",
    toolset: Toolset::LaunchAdmin,
    title: "Copy a launch",
    description: "Copy a launch with its test results into a new launch (e.g. to re-run it by hand).",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn copy_launch(ctx: Ctx, a: CopyArgs) -> Result<Done, ToolError> {
    let l = launch(&ctx, a.launch_id).await?;
    // The description marks launchName optional, but the copy's name is NOT NULL in the
    // database (the Go server's changelog): it is always sent.
    let name = match &a.name {
        Some(n) => checked_name(n)?,
        None => checked_name(&format!("Copy of {}", l.name))?,
    };
    let answer = ctx
        .client
        .post::<serde_json::Value>(
            &format!("/launch/{}/copy", l.id),
            json!({"launchName": name}),
        )
        .await;
    ctx.explain(Subject::Launch(l.id), answer).await?;
    // 202 without a body: the copy's id is not told; it is made in the background.
    Ok(Done {
        summary: format!(
            "Copying launch #{} {} as '{name}'; TestOps fills it in the background, and list_launches shows it.",
            l.id, l.name
        ),
        ids: vec![l.id],
        url: l
            .project_id
            .map(|p| ctx.link(&format!("/project/{p}/launches"))),
    })
}

const MERGE_LAUNCHES: Meta = Meta {
    name: "merge_launches",
    toolset: Toolset::LaunchAdmin,
    title: "Merge two launches",
    description: "Merge the source launch into the target launch (one project); the answer names the launch that holds both. Asks the user first.",
    access: Access::Write {
        destructive: true,
        idempotent: false,
    },
};

async fn merge_launches(ctx: Ctx, a: MergeArgs) -> Result<Done, ToolError> {
    if a.source_launch_id == a.target_launch_id {
        return Err(ToolError::InvalidArgs(
            "source_launch_id and target_launch_id must differ".into(),
        ));
    }
    let from = launch(&ctx, a.source_launch_id).await?;
    let to = launch(&ctx, a.target_launch_id).await?;
    if from.project_id != to.project_id {
        return Err(ToolError::InvalidArgs(format!(
            "launch #{} is in project {} and #{} in project {}: only launches of one project merge",
            from.id,
            from.project_id.unwrap_or(0),
            to.id,
            to.project_id.unwrap_or(0)
        )));
    }
    let what = format!(
        "Merge launch #{} {} into launch #{} {} (the source launch does not stay on its own)",
        from.id, from.name, to.id, to.name
    );
    ctx.confirm(MERGE_LAUNCHES.name, a.confirm, &what).await?;
    // The description says only `{from, to}` and an `IdAndNameOnlyDto` answer; which
    // launch holds the merge is the answer's to say (docs/allure-api.md).
    let answer = ctx
        .client
        .post::<IdName>("/launch/merge", json!({"from": from.id, "to": to.id}))
        .await;
    let merged = ctx.explain(Subject::Launch(to.id), answer).await?;
    Ok(Done {
        summary: format!(
            "Merged launch #{} {} into #{} {}; the merged launch is #{} {}.",
            from.id,
            from.name,
            to.id,
            to.name,
            merged.id,
            merged.name.as_deref().unwrap_or("")
        ),
        ids: vec![merged.id],
        url: launch_link(&ctx, merged.id),
    })
}

const DELETE_LAUNCH: Meta = Meta {
    name: "delete_launch",
    toolset: Toolset::LaunchAdmin,
    title: "Delete a launch",
    description: "Delete a launch and its test results for good. Asks the user first.",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn delete_launch(ctx: Ctx, a: DeleteArgs) -> Result<Done, ToolError> {
    let l = launch(&ctx, a.launch_id).await?;
    let what = format!("Delete launch #{} {} and its test results", l.id, l.name);
    ctx.confirm(DELETE_LAUNCH.name, a.confirm, &what).await?;
    let answer = ctx.client.delete(&format!("/launch/{}", l.id)).await;
    ctx.explain(Subject::Launch(l.id), answer).await?;
    Ok(Done {
        summary: format!("Deleted launch #{} {}.", l.id, l.name),
        ids: vec![l.id],
        url: None,
    })
}

#[derive(Debug, Deserialize)]
struct EnvValue {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    variable: Option<IdName>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LaunchEnvironment {
    pub launch_id: i64,
    pub variables: Vec<EnvVar>,
    pub url: String,
}

impl Render for LaunchEnvironment {
    fn text(&self) -> String {
        if self.variables.is_empty() {
            return format!(
                "Launch #{} has no environment variables. {}",
                self.launch_id, self.url
            );
        }
        let vars: Vec<String> = self
            .variables
            .iter()
            .map(|v| format!("{}={}", v.name, v.value))
            .collect();
        format!(
            "Environment of launch #{}: {} {}",
            self.launch_id,
            vars.join(", "),
            self.url
        )
    }
}

const GET_LAUNCH_ENVIRONMENT: Meta = Meta {
    name: "get_launch_environment",
    toolset: Toolset::LaunchAdmin,
    title: "Get a launch's environment",
    description: "The environment variables a launch ran with (browser, OS, stand...).",
    access: Access::Read,
};

async fn get_launch_environment(ctx: Ctx, a: LaunchArgs) -> Result<LaunchEnvironment, ToolError> {
    let l = launch(&ctx, a.launch_id).await?;
    let answer = ctx
        .client
        .get::<Vec<EnvValue>>(&format!("/launch/{}/env", l.id), &[])
        .await;
    let values = ctx.explain(Subject::Launch(l.id), answer).await?;
    Ok(LaunchEnvironment {
        launch_id: l.id,
        variables: values
            .into_iter()
            .map(|v| EnvVar {
                name: v.variable.and_then(|k| k.name).unwrap_or_default(),
                value: v.name.unwrap_or_default(),
            })
            .collect(),
        url: ctx.link(&format!("/launch/{}", l.id)),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DefectCountRow {
    id: i64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    closed: Option<bool>,
    #[serde(default)]
    count: Option<i64>,
    #[serde(default)]
    issue: Option<IssueKey>,
}

#[derive(Debug, Deserialize)]
struct IssueKey {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LaunchDefect {
    pub id: i64,
    pub name: String,
    pub closed: bool,
    /// Results of this launch linked to it.
    pub results: i64,
    /// Its issue tracker key, if linked.
    pub issue: Option<String>,
    pub url: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LaunchDefects {
    pub launch_id: i64,
    pub defects: Vec<LaunchDefect>,
    pub page: PageInfo,
}

impl Render for LaunchDefects {
    fn text(&self) -> String {
        let mut s = format!(
            "Defects in launch #{} ({}):\n",
            self.launch_id,
            self.page.text()
        );
        for d in &self.defects {
            s.push_str(&format!(
                "- #{} {} [{}] {} results{} {}\n",
                d.id,
                d.name,
                if d.closed { "closed" } else { "open" },
                d.results,
                d.issue
                    .as_deref()
                    .map(|k| format!(", issue {k}"))
                    .unwrap_or_default(),
                d.url
            ));
        }
        s
    }
}

const GET_LAUNCH_DEFECTS: Meta = Meta {
    name: "get_launch_defects",
    toolset: Toolset::LaunchAdmin,
    title: "Get a launch's defects",
    description: "The defects linked to a launch's results, with how many results each has. Paged.",
    access: Access::Read,
};

async fn get_launch_defects(ctx: Ctx, a: DefectsArgs) -> Result<LaunchDefects, ToolError> {
    let l = launch(&ctx, a.launch_id).await?;
    let q = paging(a.page, a.size, 25)?;
    let answer = ctx
        .client
        .get::<Page<DefectCountRow>>(&format!("/launch/{}/defect", l.id), &q)
        .await;
    let p = ctx.explain(Subject::Launch(l.id), answer).await?;
    Ok(LaunchDefects {
        launch_id: l.id,
        page: PageInfo::of(&p),
        defects: p
            .content
            .into_iter()
            .map(|d| LaunchDefect {
                url: defect_url(&ctx, l.project_id, d.id),
                id: d.id,
                name: d.name.unwrap_or_default(),
                closed: d.closed.unwrap_or(false),
                results: d.count.unwrap_or(0),
                issue: d.issue.and_then(|i| i.name),
            })
            .collect(),
    })
}
