//! Opaque access tokens (RFC 7662 token introspection): a bearer value that is not a JWT
//! is sent, with this server's own client credentials (OAUTH_CLIENT_ID/SECRET), to the
//! issuer's `introspection_endpoint`, and accepted only when the provider says it is
//! active, for this server (`aud`), in time, and with a known scope.
//!
//! Answers are cached by the token's SHA-256 digest (never the token) until the token
//! expires, at most a minute, so a client's calls cost the provider one request a minute.
//! At most a few introspections run at once: a flood of made-up tokens (already limited
//! per address) cannot become a flood at the provider.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::auth::hash;
use super::claims::{LEEWAY_SECONDS, OAuthCaller, Rejection, caller_of};
use super::jwks::Issuer;

/// How long an active answer is trusted without asking again.
const CACHE_FOR: Duration = Duration::from_secs(60);
/// Cached answers kept at most; the cache is emptied when full.
const CACHE_MAX: usize = 10_000;
/// Introspection requests in flight at once.
const AT_ONCE: usize = 8;

/// This server's own client at the provider, used for introspection only.
#[derive(Debug, Clone)]
pub struct IntrospectionClient {
    pub client_id: String,
    pub client_secret: SecretString,
}

/// What the rest of the check needs from the OAuth settings.
pub struct Rules<'a> {
    pub audiences: &'a [String],
    pub scopes: &'a [String],
    pub name_claim: &'a str,
}

pub struct Introspection {
    client: IntrospectionClient,
    cache: Mutex<HashMap<[u8; 32], (OAuthCaller, Instant)>>,
    at_once: tokio::sync::Semaphore,
}

impl Introspection {
    pub fn new(client: IntrospectionClient) -> Introspection {
        Introspection {
            client,
            cache: Mutex::default(),
            at_once: tokio::sync::Semaphore::new(AT_ONCE),
        }
    }

    /// The caller of an opaque token, asking each issuer that has an introspection
    /// endpoint until one knows it as active.
    pub async fn check(
        &self,
        token: &str,
        issuers: &[Issuer],
        rules: &Rules<'_>,
    ) -> Result<OAuthCaller, Rejection> {
        let key = hash(token.as_bytes());
        if let Some(caller) = self.cached(&key) {
            return Ok(caller);
        }
        let _turn = tokio::time::timeout(Duration::from_secs(10), self.at_once.acquire())
            .await
            .map_err(|_| Rejection::Unavailable)?
            .map_err(|_| Rejection::Unavailable)?;
        let mut outcome = Err(Rejection::Inactive);
        for (index, issuer) in issuers.iter().enumerate() {
            let Some(answer) = self.ask(issuer, token).await? else {
                continue;
            };
            if answer.get("active").and_then(Value::as_bool) != Some(true) {
                continue;
            }
            outcome = judge(index, &issuer.issuer, answer, rules);
            break;
        }
        if let Ok(caller) = &outcome {
            let until = expiry(caller.expires).unwrap_or(CACHE_FOR);
            self.remember(key, caller.clone(), until);
        }
        outcome
    }

    fn cached(&self, key: &[u8; 32]) -> Option<OAuthCaller> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(key)
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(c, _)| c.clone())
    }

    fn remember(&self, key: [u8; 32], caller: OAuthCaller, for_: Duration) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, (caller, Instant::now() + for_.min(CACHE_FOR)));
    }

    /// One issuer's answer; `None` when it has no introspection endpoint.
    async fn ask(&self, issuer: &Issuer, token: &str) -> Result<Option<Value>, Rejection> {
        let unavailable = |e: &dyn std::fmt::Display| {
            tracing::warn!(issuer = %issuer.issuer, error = %e, "cannot introspect an OAuth token");
            Rejection::Unavailable
        };
        let endpoints = issuer.endpoints().await.map_err(|e| unavailable(&e))?;
        let Some(url) = endpoints.introspection_endpoint else {
            return Ok(None);
        };
        let client = (
            self.client.client_id.as_str(),
            self.client.client_secret.expose_secret(),
        );
        let form = [("token", token), ("token_type_hint", "access_token")];
        match issuer.post_form::<Value>(&url, client, &form).await {
            Ok(Some(v)) => Ok(Some(v)),
            Ok(None) => Err(unavailable(
                &"the provider refused this server's client (401/403): check OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET",
            )),
            Err(e) => Err(unavailable(&e)),
        }
    }
}

/// How long an answer may be cached: until its `exp`, when it has one.
fn expiry(exp: Option<i64>) -> Option<Duration> {
    let exp = exp?;
    let now = chrono::Utc::now().timestamp();
    Some(Duration::from_secs(u64::try_from(exp - now).unwrap_or(0)))
}

/// The same rules as for a JWT, applied to an active introspection answer.
fn judge(
    index: usize,
    issuer: &str,
    answer: Value,
    rules: &Rules<'_>,
) -> Result<OAuthCaller, Rejection> {
    let Value::Object(claims) = answer else {
        return Err(Rejection::Malformed);
    };
    if claims
        .get("iss")
        .and_then(Value::as_str)
        .is_some_and(|i| i != issuer)
    {
        return Err(Rejection::WrongIssuer);
    }
    let now = chrono::Utc::now().timestamp();
    let leeway = LEEWAY_SECONDS as i64;
    let exp = claims.get("exp").and_then(Value::as_i64);
    if exp.is_some_and(|e| e + leeway < now) {
        return Err(Rejection::Expired);
    }
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|n| n - leeway > now)
    {
        return Err(Rejection::NotYetValid);
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => return Err(Rejection::MissingClaim),
    };
    if !audiences
        .iter()
        .any(|a| rules.audiences.iter().any(|ok| ok == a))
    {
        return Err(Rejection::WrongAudience);
    }
    let mut caller = caller_of(index, claims, rules.scopes, rules.name_claim)?;
    caller.expires = exp;
    Ok(caller)
}
