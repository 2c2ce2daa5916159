//! HTTP-mode security: who is calling (bearer tokens), from where (client IP behind
//! trusted proxies, CIDR allow-list), for which site (Host and Origin checks).
//! Rate limits and request limits are layered in [`crate::transport::http`].

pub mod auth;
pub mod claims;
pub mod introspection;
pub mod jwks;
pub mod net;
pub mod oauth;
pub mod permissions;
pub mod tls;

use std::net::IpAddr;
use std::sync::Arc;

/// The authenticated caller: the name of the token it presented ("anonymous" when the
/// operator chose to run without tokens). Never the token itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity(pub Arc<str>);

/// The caller's own Allure TestOps API token (`X-Allure-Token`, by
/// `ALLURE_TOKEN_SOURCE`): its calls speak to TestOps as that person. Never logged.
#[derive(Clone)]
pub struct CallerToken(pub secrecy::SecretString);

impl std::fmt::Debug for CallerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallerToken([REDACTED])")
    }
}

/// Who owns a session: the identity, and with it the caller's own Allure token when it
/// brought one, so that callers sharing one MCP identity (a team token) but speaking to
/// TestOps as different people cannot use each other's sessions. Only its digest is in
/// the key.
pub fn session_owner(identity: &Identity, token: Option<&CallerToken>) -> Identity {
    use secrecy::ExposeSecret;
    match token {
        None => identity.clone(),
        Some(t) => {
            let d = ring::digest::digest(&ring::digest::SHA256, t.0.expose_secret().as_bytes());
            let hex: String = d.as_ref()[..12]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            Identity(Arc::from(format!("{}\u{1f}{hex}", identity.0)))
        }
    }
}

/// The display name of an OAuth caller (its name claim), shown beside its [`Identity`]
/// in audit lines. Static tokens have none: their name is the identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(pub Arc<str>);

/// A MAX_CONCURRENT_REQUESTS slot, shared by everything that must finish before it is
/// free again: the answer's body, and the tool call the request started (which the
/// transport hands the request parts to). It frees when the last of them is done, so a
/// client that drops its connection does not free the slot of a call still running.
#[derive(Clone, Debug)]
pub struct CallSlot {
    /// Held only to be dropped: the slot frees with the last clone.
    _permit: Arc<tokio::sync::OwnedSemaphorePermit>,
}

impl CallSlot {
    pub fn new(permit: tokio::sync::OwnedSemaphorePermit) -> CallSlot {
        CallSlot {
            _permit: Arc::new(permit),
        }
    }
}

/// The client's address, after trusted-proxy resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

/// The rate-limit key of a request: its identity once authenticated, else its address,
/// so failed logins are limited per IP and a valid token is limited per token.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Caller {
    Known(Identity),
    Unknown(IpAddr),
}
