//! Defects: list, read, create, and link to test results.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::lookups::result_url;
use super::render::{Example, time};
use super::{
    Access, Ctx, Done, Meta, PageInfo, Render, Subject, ToolDef, ToolError, Toolset, bulk_ids,
    created_body, positive_id, tool,
};
use crate::allure::Page;
use crate::allure::model::{Defect, TestResult, TestResultRow, TestStatus};

/// Linking is one call per result: keep a selection small enough to stay quick.
const MAX_LINKS: usize = 20;

pub(super) fn defect_not_found(e: crate::allure::AllureError, id: i64) -> ToolError {
    ToolError::not_found(
        e,
        format!("Defect {id}"),
        "list_defects shows a project's defects.",
    )
}

pub(super) fn defect_url(ctx: &Ctx, project: Option<i64>, id: i64) -> String {
    ctx.link(&format!("/project/{}/defects/{id}", project.unwrap_or(0)))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// open (default), closed, or all.
    pub status: Option<String>,
    /// 0-based page number (default 0).
    pub page: Option<u32>,
    /// Defects per page, 1-100 (default 25).
    pub size: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DefectLine {
    pub id: i64,
    pub name: String,
    pub closed: bool,
    /// Test results linked to it.
    pub results: Option<i64>,
    pub url: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DefectList {
    pub project_id: i64,
    pub defects: Vec<DefectLine>,
    pub page: PageInfo,
}

impl Render for DefectList {
    fn text(&self) -> String {
        let mut s = format!(
            "Defects of project {} ({}):\n",
            self.project_id,
            self.page.text()
        );
        for d in &self.defects {
            s.push_str(&format!(
                "- #{} {} [{}] {} results {}\n",
                d.id,
                d.name,
                if d.closed { "closed" } else { "open" },
                d.results.unwrap_or(0),
                d.url
            ));
        }
        s
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DefectIdArgs {
    /// Defect id (list_defects shows ids).
    pub defect_id: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DefectDetails {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub closed: bool,
    pub created: Option<String>,
    pub results_total: i64,
    /// The first linked test results.
    pub results: Vec<Example>,
    pub url: String,
}

impl Render for DefectDetails {
    fn text(&self) -> String {
        let mut s = format!(
            "Defect #{} {} [{}], {} linked results\n",
            self.id,
            self.name,
            if self.closed { "closed" } else { "open" },
            self.results_total
        );
        if let Some(d) = &self.description {
            s.push_str(&format!("{d}\n"));
        }
        for r in &self.results {
            s.push_str(&format!(
                "- #{} [{}] {} {}\n",
                r.id,
                r.status.map_or("?", TestStatus::as_str),
                r.name,
                r.url
            ));
        }
        s.push_str(&self.url);
        s
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteArgs {
    /// Defect id (list_defects shows ids).
    pub defect_id: i64,
    /// true only after the user agreed to delete it. Clients that can ask the user
    /// (elicitation) are asked instead.
    pub confirm: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// Short name of the defect.
    pub name: String,
    /// What is wrong (markdown).
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LinkArgs {
    /// Defect id.
    pub defect_id: i64,
    /// Test result ids to link (1-20).
    pub test_result_ids: Vec<i64>,
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(LIST_DEFECTS, list_defects),
        tool(GET_DEFECT, get_defect),
        tool(CREATE_DEFECT, create_defect),
        tool(LINK_DEFECT_TO_TEST_RESULTS, link_defect_to_test_results),
        tool(DELETE_DEFECT, delete_defect),
    ]
}

const LIST_DEFECTS: Meta = Meta {
    name: "list_defects",
    toolset: Toolset::Defects,
    title: "List defects",
    description: "List a project's defects (open by default) with the number of linked results.",
    access: Access::Read,
};

async fn list_defects(ctx: Ctx, a: ListArgs) -> Result<DefectList, ToolError> {
    let (pid, mut q) = ctx.project_query(a.project_id, a.page, a.size, 25)?;
    match a
        .status
        .as_deref()
        .map(|s| s.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("open") | Some("") => q.push(("status", "open".into())),
        Some("closed") => q.push(("status", "closed".into())),
        Some("all") => {}
        Some(other) => {
            return Err(ToolError::InvalidArgs(format!(
                "status '{other}' is not open, closed or all"
            )));
        }
    }
    let p: Page<Defect> = ctx.project_get("/defect", pid, &q).await?;
    Ok(DefectList {
        project_id: pid,
        page: PageInfo::of(&p),
        defects: p
            .content
            .into_iter()
            .map(|d| DefectLine {
                url: defect_url(&ctx, Some(pid), d.id),
                id: d.id,
                name: d.name,
                closed: d.closed.unwrap_or(false),
                results: d.count,
            })
            .collect(),
    })
}

const GET_DEFECT: Meta = Meta {
    name: "get_defect",
    toolset: Toolset::Defects,
    title: "Get a defect",
    description: "One defect: description, state, and the test results linked to it (first 10).",
    access: Access::Read,
};

async fn get_defect(ctx: Ctx, a: DefectIdArgs) -> Result<DefectDetails, ToolError> {
    let id = positive_id("defect_id", a.defect_id, "list_defects shows ids")?;
    let nf = |e| defect_not_found(e, id);
    let (dp, rp) = (format!("/defect/{id}"), format!("/defect/{id}/testresult"));
    let rq = [("size", "10".to_owned())];
    let (d, rs) = tokio::join!(
        ctx.client.get::<Defect>(&dp, &[]),
        ctx.client.get::<Page<TestResultRow>>(&rp, &rq)
    );
    let d = d.map_err(nf)?;
    let rs = ctx.explain(Subject::Defect(id), rs).await?;
    Ok(DefectDetails {
        url: defect_url(&ctx, d.project_id, d.id),
        id: d.id,
        name: d.name,
        description: d.description.filter(|x| !x.is_empty()),
        closed: d.closed.unwrap_or(false),
        created: time(d.created_date),
        results_total: rs.total_elements,
        results: rs
            .content
            .into_iter()
            .map(|r| Example {
                url: result_url(&ctx, None, r.id),
                id: r.id,
                name: r.name,
                status: r.status,
            })
            .collect(),
    })
}

const DELETE_DEFECT: Meta = Meta {
    name: "delete_defect",
    toolset: Toolset::Defects,
    title: "Delete a defect",
    description: "Delete a defect for good; its links to test results and its matchers go too. Asks the user first.",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn delete_defect(ctx: Ctx, a: DeleteArgs) -> Result<Done, ToolError> {
    let id = positive_id("defect_id", a.defect_id, "list_defects shows ids")?;
    let (dp, rp) = (format!("/defect/{id}"), format!("/defect/{id}/testresult"));
    let rq = [("size", "1".to_owned())];
    let (d, rs) = tokio::join!(
        ctx.client.get::<Defect>(&dp, &[]),
        ctx.client.get::<Page<TestResultRow>>(&rp, &rq)
    );
    let d = d.map_err(|e| defect_not_found(e, id))?;
    // The overview has no count of linked results; the user should know what goes.
    let linked = ctx.explain(Subject::Defect(id), rs).await?.total_elements;
    let what = format!("Delete defect #{id} {} ({linked} linked results)", d.name);
    ctx.confirm(DELETE_DEFECT.name, a.confirm, &what).await?;
    let answer = ctx.client.delete(&format!("/defect/{id}")).await;
    ctx.explain(Subject::Defect(id), answer).await?;
    Ok(Done {
        summary: format!("Deleted defect #{id} {}.", d.name),
        ids: vec![id],
        url: None,
    })
}

const CREATE_DEFECT: Meta = Meta {
    name: "create_defect",
    toolset: Toolset::Defects,
    title: "Create a defect",
    description: "File a new defect in a project (name, description); link_defect_to_test_results then attaches failing results to it.",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn create_defect(ctx: Ctx, a: CreateArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let body = created_body(pid, &a.name, a.description.as_deref())?;
    let answer = ctx.client.post::<Defect>("/defect", body).await;
    let d = ctx.explain(Subject::Project(pid), answer).await?;
    Ok(Done {
        summary: format!("Created defect #{} {}.", d.id, d.name),
        ids: vec![d.id],
        url: Some(defect_url(&ctx, Some(pid), d.id)),
    })
}

const LINK_DEFECT_TO_TEST_RESULTS: Meta = Meta {
    name: "link_defect_to_test_results",
    toolset: Toolset::Defects,
    title: "Link a defect to test results",
    description: "Link a defect to up to 20 test results (marking their failures as known); reports per result: linked, already linked, not found, other project or failed.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

/// What happened to one result of a link call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum LinkOutcome {
    Linked,
    AlreadyLinked,
    NotFound,
    OtherProject,
    Failed,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LinkedResult {
    pub test_result_id: i64,
    pub outcome: LinkOutcome,
    /// Why, when it was not linked.
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LinkReport {
    pub defect_id: i64,
    pub name: String,
    /// Results newly linked by this call.
    pub linked: usize,
    pub results: Vec<LinkedResult>,
    pub url: String,
}

impl Render for LinkReport {
    fn text(&self) -> String {
        let mut s = format!(
            "Defect #{} {}: {} of {} result(s) linked now. {}\n",
            self.defect_id,
            self.name,
            self.linked,
            self.results.len(),
            self.url
        );
        for r in &self.results {
            let what = match r.outcome {
                LinkOutcome::Linked => "linked",
                LinkOutcome::AlreadyLinked => "already linked",
                LinkOutcome::NotFound => "not found",
                LinkOutcome::OtherProject => "in another project",
                LinkOutcome::Failed => "failed",
            };
            s.push_str(&format!("- result #{}: {what}", r.test_result_id));
            if let Some(d) = &r.detail {
                s.push_str(&format!(" ({d})"));
            }
            s.push('\n');
        }
        s
    }
}

/// The results a defect is linked to already (first 1000).
async fn linked_already(ctx: &Ctx, defect: i64) -> Result<Vec<i64>, ToolError> {
    let page: Page<TestResultRow> = ctx
        .client
        .get(
            &format!("/defect/{defect}/testresult"),
            &[("page", "0".into()), ("size", "1000".into())],
        )
        .await
        .map_err(|e| defect_not_found(e, defect))?;
    Ok(page.content.into_iter().map(|r| r.id).collect())
}

async fn link_defect_to_test_results(ctx: Ctx, a: LinkArgs) -> Result<LinkReport, ToolError> {
    let defect = positive_id("defect_id", a.defect_id, "list_defects shows ids")?;
    let ids = bulk_ids("test_result_ids", &a.test_result_ids)?;
    if ids.len() > MAX_LINKS {
        return Err(ToolError::InvalidArgs(format!(
            "at most {MAX_LINKS} test results per call; split the selection"
        )));
    }
    let d: Defect = ctx
        .client
        .get(&format!("/defect/{defect}"), &[])
        .await
        .map_err(|e| defect_not_found(e, defect))?;
    let already = linked_already(&ctx, defect).await?;
    let mut results = Vec::with_capacity(ids.len());
    for id in ids {
        let (outcome, detail) = link_one(&ctx, &d, id, &already).await;
        results.push(LinkedResult {
            test_result_id: id,
            outcome,
            detail,
        });
    }
    let linked = results
        .iter()
        .filter(|r| r.outcome == LinkOutcome::Linked)
        .count();
    let report = LinkReport {
        defect_id: defect,
        url: defect_url(&ctx, d.project_id, defect),
        name: d.name,
        linked,
        results,
    };
    // Nothing linked and nothing was linked before: the call failed, and says why per result.
    if report
        .results
        .iter()
        .all(|r| !matches!(r.outcome, LinkOutcome::Linked | LinkOutcome::AlreadyLinked))
    {
        // The caller's ids are to blame only when every result was wrong; a failure of
        // the server is not fixed by other arguments.
        let wrong_ids = report
            .results
            .iter()
            .all(|r| matches!(r.outcome, LinkOutcome::NotFound | LinkOutcome::OtherProject));
        let what = format!("no result was linked. {}", report.text());
        return Err(if wrong_ids {
            ToolError::InvalidArgs(what)
        } else {
            ToolError::Other(format!(
                "{what}Allure TestOps refused or failed; the reasons are above"
            ))
        });
    }
    Ok(report)
}

/// Links one result, after checking it exists, is in the defect's project and is not
/// linked yet; answers what happened.
async fn link_one(
    ctx: &Ctx,
    d: &Defect,
    id: i64,
    already: &[i64],
) -> (LinkOutcome, Option<String>) {
    if already.contains(&id) {
        return (LinkOutcome::AlreadyLinked, None);
    }
    let r = match ctx
        .client
        .get::<TestResult>(&format!("/testresult/{id}"), &[])
        .await
    {
        Ok(r) => r,
        Err(e) if e.is_not_found() => {
            return (
                LinkOutcome::NotFound,
                Some("list_test_results shows a launch's results".into()),
            );
        }
        Err(e) => return (LinkOutcome::Failed, Some(ToolError::from(e).to_string())),
    };
    if let (Some(rp), Some(dp)) = (r.project_id, d.project_id)
        && rp != dp
    {
        return (
            LinkOutcome::OtherProject,
            Some(format!("project {rp}; the defect is in project {dp}")),
        );
    }
    let answer = ctx
        .client
        .post::<Option<serde_json::Value>>(&format!("/testresult/{id}/defect/{}", d.id), json!({}))
        .await;
    match ctx.explain(Subject::TestResult(id), answer).await {
        Ok(_) => (LinkOutcome::Linked, None),
        Err(e) => (LinkOutcome::Failed, Some(e.to_string())),
    }
}
