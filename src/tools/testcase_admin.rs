//! A test case's people and links, off by default: its overview (members, external
//! links, issues, tags in one call), members, external links, issue keys and defects
//! (the Go server's single-item test case tools).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::defect_links::integration;
use super::defects::defect_url;
use super::testcases::case_url;
use super::{
    Access, Ctx, Done, Meta, PageInfo, Render, Subject, ToolDef, ToolError, Toolset, paging,
    positive_id, tool,
};
use crate::allure::Page;
use crate::allure::model::{ExternalLink, IdName, TestCase};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CaseArgs {
    /// Test case id (list_test_cases shows ids).
    pub test_case_id: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MembersArgs {
    /// Test case id.
    pub test_case_id: i64,
    /// Usernames (find_users shows them).
    pub usernames: Vec<String>,
    /// Their role by name, e.g. "Owner" (add only; default Owner).
    pub role: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LinkArgs {
    /// Test case id.
    pub test_case_id: i64,
    /// The link, http(s).
    pub url: String,
    /// Its text (default: the URL).
    pub name: Option<String>,
    /// Its kind, e.g. "issue", "tms", "link" (default link).
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct IssuesArgs {
    /// Test case id.
    pub test_case_id: i64,
    /// Issue keys, e.g. ["SHOP-12"]; replaces the test case's issues ([] removes all).
    pub issue_keys: Vec<String>,
    /// Issue tracker integration id, when the project has several.
    pub integration_id: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CaseDefectArgs {
    /// Test case id.
    pub test_case_id: i64,
    /// Defect id (list_defects shows ids).
    pub defect_id: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CaseDefectsArgs {
    /// Test case id.
    pub test_case_id: i64,
    /// 0-based page number (default 0).
    pub page: Option<u32>,
    /// Defects per page, 1-100 (default 25).
    pub size: Option<u32>,
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(GET_TEST_CASE_OVERVIEW, get_test_case_overview),
        tool(ADD_TEST_CASE_MEMBERS, add_test_case_members),
        tool(REMOVE_TEST_CASE_MEMBERS, remove_test_case_members),
        tool(ADD_TEST_CASE_EXTERNAL_LINK, add_test_case_external_link),
        tool(
            DELETE_TEST_CASE_EXTERNAL_LINK,
            delete_test_case_external_link,
        ),
        tool(SET_TEST_CASE_ISSUES, set_test_case_issues),
        tool(GET_TEST_CASE_DEFECTS, get_test_case_defects),
        tool(ADD_TEST_CASE_DEFECT, add_test_case_defect),
        tool(REMOVE_TEST_CASE_DEFECT, remove_test_case_defect),
    ]
}

#[derive(Debug, Deserialize)]
pub(super) struct Member {
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) role: Option<IdName>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Issue {
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) integration_id: Option<i64>,
    #[serde(default)]
    pub(super) url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Overview {
    pub(super) id: i64,
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default, rename = "projectId")]
    pub(super) project_id: Option<i64>,
    #[serde(default)]
    pub(super) members: Option<Vec<Member>>,
    #[serde(default)]
    pub(super) links: Option<Vec<ExternalLink>>,
    #[serde(default)]
    pub(super) issues: Option<Vec<Issue>>,
    #[serde(default)]
    pub(super) tags: Option<Vec<IdName>>,
    #[serde(default, rename = "customFields")]
    pub(super) custom_fields: Option<Vec<FieldValue>>,
    #[serde(default, rename = "testKeys")]
    pub(super) test_keys: Option<Vec<Named>>,
}

/// Something known by its name (a test key: its id is not needed).
#[derive(Debug, Deserialize)]
pub(super) struct Named {
    #[serde(default)]
    pub(super) name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct FieldValue {
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default, rename = "customField")]
    pub(super) custom_field: Option<IdName>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PersonRole {
    pub username: String,
    pub role: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LinkLine {
    pub name: String,
    pub url: String,
    pub kind: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CaseOverview {
    pub id: i64,
    pub name: String,
    pub members: Vec<PersonRole>,
    pub links: Vec<LinkLine>,
    /// Issue keys with their links.
    pub issues: Vec<LinkLine>,
    pub tags: Vec<String>,
    /// Custom field values by field name.
    pub custom_fields: std::collections::BTreeMap<String, Vec<String>>,
    /// Its ids in other test management systems.
    pub test_keys: Vec<String>,
    pub url: String,
}

impl Render for CaseOverview {
    fn text(&self) -> String {
        let mut s = format!("Test case #{} {}\n", self.id, self.name);
        let people: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("{} ({})", m.username, m.role))
            .collect();
        s.push_str(&format!("Members: {}\n", list_or_none(&people)));
        let links: Vec<String> = self
            .links
            .iter()
            .map(|l| format!("{} {}", l.name, l.url))
            .collect();
        s.push_str(&format!("Links: {}\n", list_or_none(&links)));
        let issues: Vec<String> = self
            .issues
            .iter()
            .map(|l| format!("{} {}", l.name, l.url))
            .collect();
        s.push_str(&format!("Issues: {}\n", list_or_none(&issues)));
        s.push_str(&format!("Tags: {}\n", list_or_none(&self.tags)));
        let fields: Vec<String> = self
            .custom_fields
            .iter()
            .map(|(f, v)| format!("{f}: {}", v.join(" / ")))
            .collect();
        s.push_str(&format!("Custom fields: {}\n", list_or_none(&fields)));
        s.push_str(&format!("Test keys: {}\n", list_or_none(&self.test_keys)));
        s.push_str(&self.url);
        s
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

pub(super) async fn overview(ctx: &Ctx, id: i64) -> Result<Overview, ToolError> {
    positive_id("test_case_id", id, "list_test_cases shows ids")?;
    ctx.client
        .get::<Overview>(&format!("/testcase/{id}/overview"), &[])
        .await
        .map_err(|e| ToolError::case_not_found(e, id))
}

const GET_TEST_CASE_OVERVIEW: Meta = Meta {
    name: "get_test_case_overview",
    toolset: Toolset::TestcaseAdmin,
    title: "A test case's people and links",
    description: "A test case's members with roles, external links, issue keys, tags, custom field values and test keys, in one call. Steps and fields: get_test_case.",
    access: Access::Read,
};

async fn get_test_case_overview(ctx: Ctx, a: CaseArgs) -> Result<CaseOverview, ToolError> {
    let o = overview(&ctx, a.test_case_id).await?;
    Ok(projected(&ctx, o))
}

/// The compact overview of a test case's `TestCaseOverviewDto` (now, or of a version).
pub(super) fn projected(ctx: &Ctx, o: Overview) -> CaseOverview {
    CaseOverview {
        url: case_url(ctx, o.project_id, o.id),
        id: o.id,
        name: o.name.unwrap_or_default(),
        members: o
            .members
            .unwrap_or_default()
            .into_iter()
            .map(|m| PersonRole {
                username: m.name.unwrap_or_default(),
                role: m.role.and_then(|r| r.name).unwrap_or_default(),
            })
            .collect(),
        links: o
            .links
            .unwrap_or_default()
            .into_iter()
            .map(|l| LinkLine {
                name: l.name.clone().or(l.url.clone()).unwrap_or_default(),
                url: l.url.unwrap_or_default(),
                kind: l.kind,
            })
            .collect(),
        issues: o
            .issues
            .unwrap_or_default()
            .into_iter()
            .map(|i| LinkLine {
                name: i.name.unwrap_or_default(),
                url: i.url.unwrap_or_default(),
                kind: None,
            })
            .collect(),
        tags: o
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| t.name)
            .collect(),
        custom_fields: {
            let mut m = std::collections::BTreeMap::<String, Vec<String>>::new();
            for v in o.custom_fields.unwrap_or_default() {
                if let (Some(field), Some(value)) = (v.custom_field.and_then(|f| f.name), v.name) {
                    m.entry(field).or_default().push(value);
                }
            }
            m
        },
        test_keys: o
            .test_keys
            .unwrap_or_default()
            .into_iter()
            .filter_map(|k| k.name)
            .collect(),
    }
}

/// The test case's members as the API takes them back: `[{name, role: {id}}]`.
pub(super) async fn member_list(ctx: &Ctx, id: i64) -> Result<Vec<(String, i64)>, ToolError> {
    let answer = ctx
        .client
        .get::<Vec<Member>>(&format!("/testcase/{id}/members"), &[])
        .await;
    Ok(ctx
        .explain(Subject::TestCase(id), answer)
        .await?
        .into_iter()
        .filter_map(|m| Some((m.name?, m.role?.id)))
        .collect())
}

pub(super) async fn put_members(
    ctx: &Ctx,
    id: i64,
    members: &[(String, i64)],
) -> Result<(), ToolError> {
    let body: Vec<Value> = members
        .iter()
        .map(|(name, role)| json!({"name": name, "role": {"id": role}}))
        .collect();
    let answer = ctx
        .client
        .post::<Value>(&format!("/testcase/{id}/members"), json!(body))
        .await;
    ctx.explain(Subject::TestCase(id), answer).await?;
    Ok(())
}

pub(super) fn usernames(names: &[String]) -> Result<Vec<String>, ToolError> {
    let out: Vec<String> = names
        .iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect();
    if out.is_empty() || out.len() > 50 {
        return Err(ToolError::InvalidArgs(
            "usernames must name 1-50 users (find_users shows them)".into(),
        ));
    }
    Ok(out)
}

const ADD_TEST_CASE_MEMBERS: Meta = Meta {
    name: "add_test_case_members",
    toolset: Toolset::TestcaseAdmin,
    title: "Add members to a test case",
    description: "Give users a role on a test case (default Owner); members it has stay.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn add_test_case_members(ctx: Ctx, a: MembersArgs) -> Result<Done, ToolError> {
    let names = usernames(&a.usernames)?;
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let (role, role_name) = role(&ctx, a.role.as_deref()).await?;
    let mut members = member_list(&ctx, id).await?;
    for n in &names {
        members.retain(|(m, _)| m != n);
        members.push((n.clone(), role));
    }
    put_members(&ctx, id, &members).await?;
    Ok(Done {
        summary: format!("Test case #{id}: {} now {role_name}.", names.join(", ")),
        ids: vec![id],
        url: Some(case_url(&ctx, None, id)),
    })
}

/// A role by name (default Owner), as `GET /role` lists them: its id and name.
pub(super) async fn role(ctx: &Ctx, wanted: Option<&str>) -> Result<(i64, String), ToolError> {
    let wanted = wanted.map(str::trim).unwrap_or("Owner");
    let roles = ctx.client.get::<Vec<IdName>>("/role", &[]).await?;
    match roles.iter().find(|r| {
        r.name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(wanted))
    }) {
        Some(r) => Ok((r.id, r.name.clone().unwrap_or_default())),
        None => {
            let known: Vec<&str> = roles.iter().filter_map(|r| r.name.as_deref()).collect();
            Err(ToolError::InvalidArgs(format!(
                "no role '{wanted}'; roles are: {}",
                known.join(", ")
            )))
        }
    }
}

const REMOVE_TEST_CASE_MEMBERS: Meta = Meta {
    name: "remove_test_case_members",
    toolset: Toolset::TestcaseAdmin,
    title: "Remove members from a test case",
    description: "Take users off a test case's members; the others stay.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn remove_test_case_members(ctx: Ctx, a: MembersArgs) -> Result<Done, ToolError> {
    let names = usernames(&a.usernames)?;
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let members = member_list(&ctx, id).await?;
    let kept: Vec<(String, i64)> = members
        .iter()
        .filter(|(m, _)| !names.contains(m))
        .cloned()
        .collect();
    if kept.len() == members.len() {
        return Ok(Done {
            summary: format!("Test case #{id} has none of them as members; nothing changed."),
            ids: vec![id],
            url: Some(case_url(&ctx, None, id)),
        });
    }
    put_members(&ctx, id, &kept).await?;
    Ok(Done {
        summary: format!("Test case #{id}: removed {}.", names.join(", ")),
        ids: vec![id],
        url: Some(case_url(&ctx, None, id)),
    })
}

/// Writes a test case's whole link list (`PATCH /testcase/{id}` with `links`).
async fn put_links(ctx: &Ctx, id: i64, links: &[ExternalLink]) -> Result<(), ToolError> {
    let answer = ctx
        .client
        .patch::<TestCase>(&format!("/testcase/{id}"), json!({"links": links}))
        .await;
    ctx.explain(Subject::TestCase(id), answer).await?;
    Ok(())
}

pub(super) fn checked_url(url: &str) -> Result<String, ToolError> {
    let u = url.trim();
    let ok = url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https"));
    if !ok || u.len() > 2000 {
        return Err(ToolError::InvalidArgs(format!(
            "url '{u}' is not an http(s) URL of at most 2000 characters"
        )));
    }
    Ok(u.to_owned())
}

const ADD_TEST_CASE_EXTERNAL_LINK: Meta = Meta {
    name: "add_test_case_external_link",
    toolset: Toolset::TestcaseAdmin,
    title: "Link a test case to a URL",
    description: "Add an external link (spec, ticket, doc) to a test case; a link to the same URL is replaced.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn add_test_case_external_link(ctx: Ctx, a: LinkArgs) -> Result<Done, ToolError> {
    let url = checked_url(&a.url)?;
    let o = overview(&ctx, a.test_case_id).await?;
    let mut links = o.links.unwrap_or_default();
    links.retain(|l| l.url.as_deref() != Some(url.as_str()));
    links.push(ExternalLink {
        name: Some(
            a.name
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .unwrap_or(url.clone()),
        ),
        url: Some(url.clone()),
        kind: Some(a.kind.unwrap_or_else(|| "link".into())),
    });
    put_links(&ctx, o.id, &links).await?;
    Ok(Done {
        summary: format!("Test case #{} now links to {url}.", o.id),
        ids: vec![o.id],
        url: Some(case_url(&ctx, o.project_id, o.id)),
    })
}

const DELETE_TEST_CASE_EXTERNAL_LINK: Meta = Meta {
    name: "delete_test_case_external_link",
    toolset: Toolset::TestcaseAdmin,
    title: "Remove a test case's link",
    description: "Remove the external link with this URL from a test case.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn delete_test_case_external_link(ctx: Ctx, a: LinkArgs) -> Result<Done, ToolError> {
    let url = a.url.trim().to_owned();
    let o = overview(&ctx, a.test_case_id).await?;
    let links = o.links.unwrap_or_default();
    let kept: Vec<ExternalLink> = links
        .iter()
        .filter(|l| l.url.as_deref() != Some(url.as_str()))
        .cloned()
        .collect();
    if kept.len() == links.len() {
        return Err(ToolError::InvalidArgs(format!(
            "test case #{} has no link to {url}; get_test_case_overview lists its links",
            o.id
        )));
    }
    put_links(&ctx, o.id, &kept).await?;
    Ok(Done {
        summary: format!("Test case #{} no longer links to {url}.", o.id),
        ids: vec![o.id],
        url: Some(case_url(&ctx, o.project_id, o.id)),
    })
}

const SET_TEST_CASE_ISSUES: Meta = Meta {
    name: "set_test_case_issues",
    toolset: Toolset::TestcaseAdmin,
    title: "Set a test case's issue keys",
    description: "Replace the issue tracker keys linked to a test case, e.g. [\"SHOP-12\"] ([] removes them).",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn set_test_case_issues(ctx: Ctx, a: IssuesArgs) -> Result<Done, ToolError> {
    let keys = super::distinct_keys(&a.issue_keys, "an issue key")?;
    let o = overview(&ctx, a.test_case_id).await?;
    let project = o.project_id.unwrap_or(0);
    // Without an integration id the real server links the key to nothing sensible
    // (the Go server's changelog): one is always sent.
    let body = if keys.is_empty() {
        json!([])
    } else {
        let integration = integration(&ctx, project, a.integration_id).await?;
        json!(
            keys.iter()
                .map(|k| json!({"name": k, "integrationId": integration}))
                .collect::<Vec<_>>()
        )
    };
    let answer = ctx
        .client
        .post::<Value>(&format!("/testcase/{}/issue", o.id), body)
        .await;
    ctx.explain(Subject::TestCase(o.id), answer).await?;
    Ok(Done {
        summary: if keys.is_empty() {
            format!("Test case #{} has no issue keys now.", o.id)
        } else {
            format!("Test case #{} is linked to {}.", o.id, keys.join(", "))
        },
        ids: vec![o.id],
        url: Some(case_url(&ctx, o.project_id, o.id)),
    })
}

#[derive(Debug, Deserialize)]
struct DefectRow {
    id: i64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    closed: Option<bool>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CaseDefect {
    pub id: i64,
    pub name: String,
    pub closed: bool,
    pub url: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CaseDefects {
    pub test_case_id: i64,
    pub defects: Vec<CaseDefect>,
    pub page: PageInfo,
}

impl Render for CaseDefects {
    fn text(&self) -> String {
        let mut s = format!(
            "Defects of test case #{} ({}):\n",
            self.test_case_id,
            self.page.text()
        );
        for d in &self.defects {
            let state = if d.closed { "closed" } else { "open" };
            s.push_str(&format!("- #{} {} [{state}] {}\n", d.id, d.name, d.url));
        }
        s
    }
}

const GET_TEST_CASE_DEFECTS: Meta = Meta {
    name: "get_test_case_defects",
    toolset: Toolset::TestcaseAdmin,
    title: "A test case's defects",
    description: "The defects linked to a test case. Paged.",
    access: Access::Read,
};

async fn get_test_case_defects(ctx: Ctx, a: CaseDefectsArgs) -> Result<CaseDefects, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let q = paging(a.page, a.size, 25)?;
    let answer = ctx
        .client
        .get::<Page<DefectRow>>(&format!("/testcase/{id}/defect"), &q)
        .await;
    let p = ctx.explain(Subject::TestCase(id), answer).await?;
    Ok(CaseDefects {
        test_case_id: id,
        page: PageInfo::of(&p),
        defects: p
            .content
            .into_iter()
            .map(|d| CaseDefect {
                url: defect_url(&ctx, None, d.id),
                id: d.id,
                name: d.name.unwrap_or_default(),
                closed: d.closed.unwrap_or(false),
            })
            .collect(),
    })
}

const ADD_TEST_CASE_DEFECT: Meta = Meta {
    name: "add_test_case_defect",
    toolset: Toolset::TestcaseAdmin,
    title: "Link a defect to a test case",
    description: "Link an existing defect to a test case.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn add_test_case_defect(ctx: Ctx, a: CaseDefectArgs) -> Result<Done, ToolError> {
    case_defect(ctx, a, true).await
}

const REMOVE_TEST_CASE_DEFECT: Meta = Meta {
    name: "remove_test_case_defect",
    toolset: Toolset::TestcaseAdmin,
    title: "Unlink a defect from a test case",
    description: "Remove the link between a defect and a test case; both stay.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn remove_test_case_defect(ctx: Ctx, a: CaseDefectArgs) -> Result<Done, ToolError> {
    case_defect(ctx, a, false).await
}

async fn case_defect(ctx: Ctx, a: CaseDefectArgs, link: bool) -> Result<Done, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let defect = positive_id("defect_id", a.defect_id, "list_defects shows ids")?;
    let path = format!("/testcase/{id}/defect/{defect}");
    let answer = if link {
        // The operation declares no body: none is sent.
        ctx.client.post_empty(&path).await.map(|_| ())
    } else {
        ctx.client.delete(&path).await.map(|_| ())
    };
    if let Err(e) = answer {
        // Which of the two is missing is the model's next step: ask the test case.
        return Err(super::errors::below(&ctx.client, e, Subject::TestCase(id)).await);
    }
    Ok(Done {
        summary: if link {
            format!("Defect #{defect} is linked to test case #{id}.")
        } else {
            format!("Defect #{defect} is no longer linked to test case #{id}.")
        },
        ids: vec![id, defect],
        url: Some(case_url(&ctx, None, id)),
    })
}
