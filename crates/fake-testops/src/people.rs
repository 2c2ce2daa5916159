//! The fake's people: the token's own account and the user suggest.

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State as AxState};
use axum::routing::get;
use serde_json::{Value, json};

use super::State;
use super::http::{Q, Resp, ok, page};

type St = AxState<Arc<State>>;

/// A TestOps user (`UserSuggestDto`).
#[derive(Debug, Clone)]
pub struct UserRec {
    pub id: i64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
}

/// The instance's users: an admin, the token's user, and the people who own results.
pub(crate) fn seed() -> Vec<UserRec> {
    [
        ("admin", "Ada", "Admin"),
        ("alice", "Alice", "Smith"),
        (TOKEN_USER, "Quinn", "Bot"),
        ("bob", "Bob", "Jones"),
        ("carol", "Carol", "White"),
        ("dmitry", "Dmitry", "Ivanov"),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (username, first, last))| UserRec {
        id: n as i64 + 1,
        username: username.into(),
        first_name: first.into(),
        last_name: last.into(),
    })
    .collect()
}

/// The token's user, as everything the fake creates says (`createdBy`).
pub const TOKEN_USER: &str = "api-token-user";

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/account/me", get(me))
        .route("/api/user/suggest", get(suggest))
}

/// `GET /api/account/me` (whoAmI) as `UserAccount`. The description's `csrfToken` query
/// parameter is Spring's CSRF argument, which a bearer-token call does not send.
async fn me(AxState(s): St, headers: axum::http::HeaderMap) -> Resp {
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let name = s.user_of(auth).unwrap_or_else(|| TOKEN_USER.to_owned());
    let d = s.data();
    let Some(u) = d.users.iter().find(|u| u.username == name) else {
        return ok(json!({"username": name}));
    };
    ok(json!({
        "id": u.id, "username": u.username, "firstName": u.first_name, "lastName": u.last_name,
        "email": format!("{}@example.com", u.username), "enabled": true, "approved": true,
        "emailVerified": true, "authorities": ["ROLE_USER"], "userRef": format!("user-{}", u.id),
    }))
}

/// `GET /api/user/suggest?query=&username=` as `PageUserSuggestDto`: users whose
/// username or name contains the query, case-insensitive, and whose username is one of
/// `username` when given; sorted by username.
async fn suggest(AxState(s): St, RawQuery(raw): RawQuery) -> Resp {
    let q = Q::new(raw);
    let query = q.get("query").unwrap_or("").to_lowercase();
    // `username` filters by exact usernames (repeatable).
    let exact = q.all("username");
    let d = s.data();
    let mut users: Vec<_> = d
        .users
        .iter()
        .filter(|u| exact.is_empty() || exact.iter().any(|x| *x == u.username))
        .filter(|u| {
            [&u.username, &u.first_name, &u.last_name]
                .iter()
                .any(|f| f.to_lowercase().contains(&query))
                || format!("{} {}", u.first_name, u.last_name)
                    .to_lowercase()
                    .contains(&query)
        })
        .collect();
    users.sort_by(|a, b| a.username.cmp(&b.username));
    let items: Vec<Value> = users
        .into_iter()
        .map(|u| json!({"id": u.id, "username": u.username, "firstName": u.first_name, "lastName": u.last_name}))
        .collect();
    ok(page(items, &q, false))
}
