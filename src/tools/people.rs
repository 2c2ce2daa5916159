//! People: who the token acts as and what it may do (`whoami`), finding users
//! (`find_users`), and the check that an assignee exists before anything is assigned.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Access, Ctx, Meta, PageInfo, Render, Severity, ToolDef, ToolError, Toolset, paging,
    required_text, tool,
};
use crate::allure::Page;
use crate::allure::model::{Account, User, full_name};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WhoamiArgs {
    /// Project whose rights to show. Defaults to ALLURE_PROJECT_ID; without either, no rights are shown.
    pub project_id: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Whoami {
    pub username: String,
    pub name: Option<String>,
    pub user_id: Option<i64>,
    /// Instance-wide roles, e.g. ROLE_ADMIN.
    pub roles: Vec<String>,
    pub project_id: Option<i64>,
    /// Rights in project_id, e.g. project:read, project:write.
    pub rights: Option<Vec<String>>,
}

impl Render for Whoami {
    fn text(&self) -> String {
        let mut s = format!("The token acts as {}", self.username);
        if let Some(n) = &self.name {
            s.push_str(&format!(" ({n})"));
        }
        if let Some(id) = self.user_id {
            s.push_str(&format!(", user #{id}"));
        }
        s.push('.');
        if !self.roles.is_empty() {
            s.push_str(&format!(" Roles: {}.", self.roles.join(", ")));
        }
        if let (Some(p), Some(r)) = (self.project_id, &self.rights) {
            let listed = if r.is_empty() {
                "none".to_owned()
            } else {
                r.join(", ")
            };
            s.push_str(&format!(" Rights in project {p}: {listed}."));
        }
        s.push_str(&format!(
            " To assign something to this user, use username \"{}\".",
            self.username
        ));
        s
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FindUsersArgs {
    /// Part of a username or a person's name, case-insensitive.
    pub query: String,
    /// 0-based page number (default 0).
    pub page: Option<u32>,
    /// Users per page, 1-100 (default 20).
    pub size: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UserLine {
    pub username: String,
    pub name: Option<String>,
    pub id: Option<i64>,
}

impl From<User> for UserLine {
    fn from(u: User) -> Self {
        UserLine {
            name: full_name(u.first_name.as_deref(), u.last_name.as_deref()),
            username: u.username,
            id: u.id,
        }
    }
}

impl UserLine {
    fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("{} ({n})", self.username),
            None => self.username.clone(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UserList {
    pub users: Vec<UserLine>,
    pub page: PageInfo,
}

impl Render for UserList {
    fn text(&self) -> String {
        let mut s = format!("Users ({}); assign by username:\n", self.page.text());
        for u in &self.users {
            s.push_str(&format!("- {}\n", u.label()));
        }
        s
    }
}

pub fn tools() -> Vec<ToolDef> {
    vec![tool(WHOAMI, whoami), tool(FIND_USERS, find_users)]
}

const WHOAMI: Meta = Meta {
    name: "whoami",
    toolset: Toolset::Projects,
    title: "Who am I",
    description: "The TestOps user the server's token acts as (username to assign things \"to me\"), its roles, and its rights in a project.",
    access: Access::Read,
};

async fn whoami(ctx: Ctx, a: WhoamiArgs) -> Result<Whoami, ToolError> {
    // The description lists a `csrfToken` query parameter here: Spring's CSRF token
    // argument leaking into it, not something a bearer-token client sends (n8n's Allure
    // node calls plain `GET /api/account/me`; docs/allure-api.md).
    let me: Account = ctx.client.get("/account/me", &[]).await?;
    let project_id = a.project_id.or(ctx.default_project);
    let rights = match project_id {
        Some(p) => Some(
            ctx.client
                .get::<Vec<String>>("/permission", &[("projectId", p.to_string())])
                .await
                .map_err(|e| ToolError::project_not_found(e, p))?,
        ),
        None => None,
    };
    Ok(Whoami {
        name: full_name(me.first_name.as_deref(), me.last_name.as_deref()),
        username: me.username,
        user_id: me.id,
        roles: me.authorities,
        project_id,
        rights,
    })
}

const FIND_USERS: Meta = Meta {
    name: "find_users",
    toolset: Toolset::Projects,
    title: "Find users",
    description: "Find TestOps users by part of their username or name, to get the username an assignment needs.",
    access: Access::Read,
};

async fn find_users(ctx: Ctx, a: FindUsersArgs) -> Result<UserList, ToolError> {
    let query = required_text("query", &a.query, 200)?;
    let mut q = paging(a.page, a.size, 20)?;
    q.push(("query", query));
    let page: Page<User> = ctx.client.get("/user/suggest", &q).await?;
    Ok(UserList {
        page: PageInfo::of(&page),
        users: page.content.into_iter().map(UserLine::from).collect(),
    })
}

/// The username as TestOps spells it, when such a user exists; a refusal naming the
/// closest users when none does. TestOps stores any assignee it is given, so a typo
/// would silently assign a result to nobody. When users cannot be searched (no right
/// to, an old instance) the name goes through unchecked, and the client is told.
pub(super) async fn existing_user(ctx: &Ctx, username: &str) -> Result<String, ToolError> {
    // The exact filter first (`username=`); a substring search would miss `qa` among
    // `qa1`…`qa20`. The search then only finds what to suggest.
    let exact = [
        ("username", username.to_owned()),
        ("page", "0".to_owned()),
        ("size", "10".to_owned()),
    ];
    let found = match ctx.client.get::<Page<User>>("/user/suggest", &exact).await {
        Ok(page) => page.content,
        Err(e) => {
            ctx.scope.note(
                Severity::Notice,
                format!("could not check that user '{username}' exists ({e}); assigning as given"),
            );
            return Ok(username.to_owned());
        }
    };
    if let Some(u) = found.iter().find(|u| u.username == username) {
        return Ok(u.username.clone());
    }
    let q = [
        ("query", username.to_owned()),
        ("page", "0".to_owned()),
        ("size", "10".to_owned()),
    ];
    let similar = ctx
        .client
        .get::<Page<User>>("/user/suggest", &q)
        .await
        .map(|p| p.content)
        .unwrap_or_default();
    if let Some(u) = similar
        .iter()
        .find(|u| u.username.eq_ignore_ascii_case(username))
    {
        return Ok(u.username.clone());
    }
    let closest: Vec<String> = similar
        .into_iter()
        .take(5)
        .map(|u| UserLine::from(u).label())
        .collect();
    Err(ToolError::InvalidArgs(if closest.is_empty() {
        format!(
            "no TestOps user '{username}'; find_users searches by name, whoami gives your own username"
        )
    } else {
        format!(
            "no TestOps user '{username}'. Closest: {}. Call again with one of these usernames",
            closest.join(", ")
        )
    }))
}
