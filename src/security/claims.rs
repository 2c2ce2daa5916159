//! What an access token's verified claims say (a JWT's, or an introspection answer's):
//! the caller, its scopes, and why a token is refused. Shared by the two ways a token is
//! checked ([`super::oauth`] and [`super::introspection`]).

use std::sync::Arc;

use serde_json::{Map, Value};

/// Clock skew allowed on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 30;
/// A caller proven by an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthCaller {
    /// Which configured issuer (0 for the first).
    pub issuer: usize,
    pub sub: String,
    pub name: Option<String>,
    pub scopes: Vec<String>,
    /// `exp`, when an introspection answer gave one (how long it may be cached).
    pub expires: Option<i64>,
    /// The verified claims, for permissions by claim (`claim:groups=qa`).
    pub claims: Arc<Map<String, Value>>,
}

/// Why a token is refused. The text names the rule, never the token or its claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the token is not a signed JWT")]
    Malformed,
    #[error("the token's issuer is not one this server trusts")]
    WrongIssuer,
    #[error("the token is signed with a key its issuer does not publish")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is for another resource (aud); ask for one for this server")]
    WrongAudience,
    #[error("the token lacks a required claim (exp, iss, aud, sub)")]
    MissingClaim,
    #[error("the token has none of the scopes this server needs")]
    InsufficientScope,
    #[error("the token is not an access token (an ID or refresh token?)")]
    NotAccessToken,
    #[error("the token's subject (sub) is too long or has control characters")]
    BadSubject,
    #[error("the authorization server's keys could not be fetched; retry shortly")]
    Unavailable,
    #[error("the token is not active (revoked, expired, or unknown to the authorization server)")]
    Inactive,
}

/// The caller of verified claims (a JWT's, or an active introspection answer's), if it
/// has one of the scopes this server needs (`needed`; none set: no scope needed).
pub fn caller_of(
    issuer: usize,
    claims: Map<String, Value>,
    needed: &[String],
    name_claim: &str,
) -> Result<OAuthCaller, Rejection> {
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(Rejection::MissingClaim)?
        .to_owned();
    // The subject names the caller in logs, metrics and session ownership.
    if sub.len() > 255 || sub.chars().any(char::is_control) {
        return Err(Rejection::BadSubject);
    }
    // Keycloak marks its tokens in a `typ` claim: an ID or refresh token is not an access
    // token, whatever its audience.
    if claims
        .get("typ")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("id") || t.eq_ignore_ascii_case("refresh"))
    {
        return Err(Rejection::NotAccessToken);
    }
    let scopes = scopes(&claims);
    if !needed.is_empty() && !scopes.iter().any(|s| needed.contains(s)) {
        return Err(Rejection::InsufficientScope);
    }
    // RFC 7662 answers name the user `username`.
    let name = [name_claim, "name", "email", "username"]
        .iter()
        .find_map(|c| claims.get(*c).and_then(Value::as_str))
        .map(|n| {
            n.chars()
                .filter(|c| !c.is_control())
                .take(128)
                .collect::<String>()
        });
    Ok(OAuthCaller {
        issuer,
        sub,
        name,
        scopes,
        expires: None,
        claims: Arc::new(claims),
    })
}

/// `scope` (RFC 9068: space-separated) or `scp` (Entra ID: a string; Okta: an array).
fn scopes(claims: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for claim in ["scope", "scp"] {
        match claims.get(claim) {
            Some(Value::String(s)) => out.extend(s.split_whitespace().map(str::to_owned)),
            Some(Value::Array(a)) => {
                out.extend(a.iter().filter_map(Value::as_str).map(str::to_owned))
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_read_from_scope_and_scp() {
        let claims: Map<String, Value> =
            serde_json::from_str(r#"{"scope":"a b","scp":["c"]}"#).unwrap();
        assert_eq!(scopes(&claims), ["a", "b", "c"]);
    }
}
