//! Bearer tokens: parsing the header and checking it in constant time.
//!
//! Tokens are kept as SHA-256 digests and every configured digest is compared, without
//! early exit, so neither the position of the matching token nor the length of a
//! presented one shows in the timing.

use std::sync::{Arc, RwLock};

use ring::digest::{SHA256, digest};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::claims::Rejection;
use crate::config::NamedToken;

/// Why a request is not authenticated (or not allowed). The text never contains the
/// presented value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    NotBearer,
    Invalid,
    /// An OAuth access token, refused for this reason.
    OAuth(Rejection),
    /// Authenticated, but MCP_PERMISSIONS gives this identity no role.
    NoRole,
}

impl AuthFailure {
    pub fn message(self) -> String {
        match self {
            AuthFailure::Missing => {
                "missing Authorization header; send `Authorization: Bearer <token>`".into()
            }
            AuthFailure::NotBearer => "the Authorization header is not a Bearer token".into(),
            AuthFailure::Invalid => "the bearer token is not valid".into(),
            AuthFailure::OAuth(r) => r.to_string(),
            AuthFailure::NoRole => {
                "this identity has no role on this server; ask the operator to add it to MCP_PERMISSIONS".into()
            }
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing_token",
            AuthFailure::NotBearer => "invalid_request",
            AuthFailure::Invalid => "invalid_token",
            AuthFailure::OAuth(Rejection::InsufficientScope) => "insufficient_scope",
            AuthFailure::OAuth(Rejection::Unavailable) => "temporarily_unavailable",
            AuthFailure::OAuth(_) => "invalid_token",
            AuthFailure::NoRole => "no_role",
        }
    }
    /// 401 for who-are-you failures, 403 for known callers without the right, 503 when
    /// the identity provider could not be asked.
    pub fn status(self) -> http::StatusCode {
        match self {
            AuthFailure::OAuth(Rejection::InsufficientScope) | AuthFailure::NoRole => {
                http::StatusCode::FORBIDDEN
            }
            AuthFailure::OAuth(Rejection::Unavailable) => http::StatusCode::SERVICE_UNAVAILABLE,
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }
}

/// The token of an `Authorization: Bearer` value (scheme case-insensitive).
pub fn bearer(header: Option<&str>) -> Result<&str, AuthFailure> {
    let value = header
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(AuthFailure::Missing)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthFailure::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthFailure::NotBearer);
    }
    let token = token.trim_start();
    if token.is_empty() {
        return Err(AuthFailure::Invalid);
    }
    Ok(token)
}

struct Entry {
    name: Arc<str>,
    digest: [u8; 32],
}

/// The accepted tokens; replaceable at run time (token rotation on reload).
pub struct TokenSet {
    entries: RwLock<Vec<Entry>>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|e| e.name.to_string())
            .collect();
        f.debug_struct("TokenSet").field("names", &names).finish()
    }
}

/// A secret's SHA-256 digest: what is kept and compared instead of the secret (static
/// tokens here, introspected tokens in the introspection cache).
pub(crate) fn hash(token: &[u8]) -> [u8; 32] {
    let d = digest(&SHA256, token);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl TokenSet {
    pub fn new(tokens: &[NamedToken]) -> TokenSet {
        let set = TokenSet {
            entries: RwLock::new(Vec::new()),
        };
        set.replace(tokens);
        set
    }

    /// Swaps in a new set of tokens; requests already authenticated are unaffected.
    pub fn replace(&self, tokens: &[NamedToken]) {
        let entries = tokens
            .iter()
            .map(|t| Entry {
                name: Arc::from(t.name.as_str()),
                digest: hash(t.token.expose_secret().as_bytes()),
            })
            .collect();
        *self.entries.write().unwrap_or_else(|e| e.into_inner()) = entries;
    }

    pub fn is_empty(&self) -> bool {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// The name of the token matching `presented`, if any.
    pub fn check(&self, presented: &str) -> Option<Arc<str>> {
        let h = hash(presented.as_bytes());
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let mut found: Option<Arc<str>> = None;
        for e in entries.iter() {
            // Compare every entry; remember a match without leaving the loop.
            let eq: bool = e.digest.ct_eq(&h).into();
            if eq && found.is_none() {
                found = Some(e.name.clone());
            }
        }
        found
    }

    /// Authenticates an `Authorization` header value: scheme case-insensitive, token exact.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Arc<str>, AuthFailure> {
        self.check(bearer(header)?).ok_or(AuthFailure::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn set() -> TokenSet {
        TokenSet::new(&[
            NamedToken {
                name: "alice".into(),
                token: SecretString::from("token-alice-123".to_owned()),
            },
            NamedToken {
                name: "bob".into(),
                token: SecretString::from("token-bob-456".to_owned()),
            },
        ])
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_token_exact() {
        let s = set();
        assert_eq!(
            s.authenticate(Some("Bearer token-alice-123"))
                .unwrap()
                .as_ref(),
            "alice"
        );
        assert_eq!(
            s.authenticate(Some("bEaReR token-bob-456"))
                .unwrap()
                .as_ref(),
            "bob"
        );
        assert_eq!(
            s.authenticate(Some("Bearer TOKEN-ALICE-123")),
            Err(AuthFailure::Invalid)
        );
        assert_eq!(
            s.authenticate(Some("Bearer token-alice-12")),
            Err(AuthFailure::Invalid)
        );
        assert_eq!(s.authenticate(Some("Bearer ")), Err(AuthFailure::NotBearer));
        assert_eq!(
            s.authenticate(Some("Basic dXNlcjpwYXNz")),
            Err(AuthFailure::NotBearer)
        );
        assert_eq!(
            s.authenticate(Some("token-alice-123")),
            Err(AuthFailure::NotBearer)
        );
        assert_eq!(s.authenticate(None), Err(AuthFailure::Missing));
    }

    #[test]
    fn rotation_replaces_tokens() {
        let s = set();
        s.replace(&[NamedToken {
            name: "carol".into(),
            token: SecretString::from("new".to_owned()),
        }]);
        assert!(s.check("token-alice-123").is_none());
        assert_eq!(s.check("new").unwrap().as_ref(), "carol");
        assert!(!format!("{s:?}").contains("new\""), "names only");
    }
}
