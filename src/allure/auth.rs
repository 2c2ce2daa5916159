//! Authentication against Allure TestOps: the API token, and the JWT it is exchanged for.
//!
//! The JWT is cached until shortly before it expires. A cold or expired cache is
//! refreshed single-flight: however many calls arrive at once, one exchange happens
//! and the others wait for its result. A 401 invalidates only the token it was
//! answered to, so a burst of 401s on one stale token still causes one exchange.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::error::AllureError;

/// Refresh this long before Allure says the JWT expires, so a call started just
/// before expiry does not carry a token that dies on the way.
const EARLY_REFRESH: Duration = Duration::from_secs(60);

/// How the client proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Exchange the API token for a JWT at `/api/uaa/oauth/token` (documented; default).
    Jwt,
    /// Send `Authorization: Api-Token <token>` on every call (undocumented, but
    /// works on many instances and needs no exchange).
    ApiToken,
}

/// One JWT and the instant after which we no longer use it.
pub(crate) struct CachedJwt {
    header: HeaderValue,
    /// The bare token, to redact it from texts that come back from upstream.
    token: SecretString,
    use_until: Instant,
}

impl std::fmt::Debug for CachedJwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedJwt")
            .field("header", &"[REDACTED]")
            .field("use_until", &self.use_until)
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// The credential state of one client.
pub(crate) struct Auth {
    pub(crate) mode: AuthMode,
    /// Behind a lock so a reload (SIGHUP) can rotate it without a restart.
    api_token: RwLock<SecretString>,
    cache: RwLock<Option<Arc<CachedJwt>>>,
    /// Held while an exchange is in flight: the single-flight gate.
    refresh: tokio::sync::Mutex<()>,
    exchanges: AtomicU64,
    /// A token a caller brought (`X-Allure-Token`), not the service's own.
    pub(crate) caller: bool,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("mode", &self.mode)
            .field("api_token", &"[REDACTED]")
            .field("caller", &self.caller)
            .finish_non_exhaustive()
    }
}

/// What a request carries, and which cached JWT (if any) it came from, so a 401
/// can invalidate exactly that one.
pub(crate) struct Credential {
    pub(crate) header: HeaderValue,
    pub(crate) jwt: Option<Arc<CachedJwt>>,
}

impl Auth {
    pub(crate) fn new(mode: AuthMode, api_token: SecretString) -> Self {
        Auth {
            mode,
            api_token: RwLock::new(api_token),
            cache: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            exchanges: AtomicU64::new(0),
            caller: false,
        }
    }

    /// Whether there is a token to exchange.
    pub(crate) fn has_token(&self) -> bool {
        !self
            .api_token
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .expose_secret()
            .is_empty()
    }

    /// The state of a token a caller brought.
    pub(crate) fn for_caller(mode: AuthMode, api_token: SecretString) -> Self {
        Auth {
            caller: true,
            ..Auth::new(mode, api_token)
        }
    }

    /// Replaces the API token and forgets the JWT made from the old one.
    pub(crate) fn set_api_token(&self, token: SecretString) {
        *self.api_token.write().unwrap_or_else(|e| e.into_inner()) = token;
        *self.cache.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn cached(&self) -> Option<Arc<CachedJwt>> {
        let guard = self.cache.read().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .filter(|jwt| Instant::now() < jwt.use_until)
            .cloned()
    }

    /// Token exchanges attempted so far.
    pub(crate) fn exchanges(&self) -> u64 {
        self.exchanges.load(Ordering::Relaxed)
    }

    /// Forgets `used` if it is still the cached JWT (a newer one is kept).
    pub(crate) fn invalidate(&self, used: &Arc<CachedJwt>) {
        let mut guard = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if guard.as_ref().is_some_and(|c| Arc::ptr_eq(c, used)) {
            *guard = None;
        }
    }

    /// The `Authorization` header for the next call, exchanging the token if needed.
    pub(crate) async fn credential(
        &self,
        http: &reqwest::Client,
        token_url: &str,
    ) -> Result<Credential, AllureError> {
        if self.mode == AuthMode::ApiToken {
            let token = self.api_token.read().unwrap_or_else(|e| e.into_inner());
            return Ok(Credential {
                header: sensitive(&format!("Api-Token {}", token.expose_secret()))?,
                jwt: None,
            });
        }
        if let Some(jwt) = self.cached() {
            return Ok(Credential {
                header: jwt.header.clone(),
                jwt: Some(jwt),
            });
        }
        let _gate = self.refresh.lock().await;
        // Someone else may have refreshed while we waited for the gate.
        if let Some(jwt) = self.cached() {
            return Ok(Credential {
                header: jwt.header.clone(),
                jwt: Some(jwt),
            });
        }
        let jwt = Arc::new(self.exchange(http, token_url).await?);
        *self.cache.write().unwrap_or_else(|e| e.into_inner()) = Some(jwt.clone());
        Ok(Credential {
            header: jwt.header.clone(),
            jwt: Some(jwt),
        })
    }

    async fn exchange(
        &self,
        http: &reqwest::Client,
        token_url: &str,
    ) -> Result<CachedJwt, AllureError> {
        let token = self
            .api_token
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .expose_secret()
            .to_owned();
        if token.is_empty() {
            return Err(AllureError::Auth(
                "no API token configured; set ALLURE_TOKEN (or ALLURE_TOKEN_FILE)".into(),
            ));
        }
        tracing::debug!(target: "allure_mcp::allure", "exchanging API token for a JWT");
        self.exchanges.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let answer = http
            .post(token_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[
                ("grant_type", "apitoken"),
                ("scope", "openid"),
                ("token", token.as_str()),
            ])
            .send()
            .await
            // The network's fault, not the token's: said so, with the URL to check.
            .map_err(|e| AllureError::Transport {
                method: "POST".into(),
                path: token_url.to_owned(),
                detail: super::send::describe_transport_error(&e),
            })?;
        let status = answer.status().as_u16();
        let body = read_limited(answer)
            .await
            .map_err(|e| AllureError::Transport {
                method: "POST".into(),
                path: token_url.to_owned(),
                detail: format!(
                    "the answer broke off: {}",
                    super::send::describe_transport_error(&e)
                ),
            })?;
        if (300..400).contains(&status) {
            // Never followed (see the client's redirect policy): the token would go along.
            return Err(AllureError::Auth(format!(
                "{token_url} answered a redirect ({status}), which is not followed so the API token cannot be sent elsewhere; check ALLURE_BASE_URL (https and the exact host)"
            )));
        }
        if status == 429 || status >= 500 {
            // The server's trouble, usually passing: reported as such, not as a bad token.
            let text = String::from_utf8_lossy(&body);
            return Err(AllureError::Status {
                method: "POST".into(),
                path: token_url.to_owned(),
                status,
                message: super::error::extract_message(
                    redact_with(&text, &[token.as_str()]).as_bytes(),
                ),
                retry_after: None,
            });
        }
        if status != 200 {
            let hint = match status {
                400 | 401 | 403 => {
                    "; the API token is wrong, revoked, or its user is disabled: make a new one in Allure TestOps (profile → API tokens)"
                }
                404 => "; check ALLURE_BASE_URL (it must be the TestOps root, without /api)",
                _ => "",
            };
            // Redacted before extract_message cuts it, so no part of the token survives.
            let text = String::from_utf8_lossy(&body);
            let message =
                super::error::extract_message(redact_with(&text, &[token.as_str()]).as_bytes());
            return Err(AllureError::Auth(format!(
                "{token_url} answered {status}: {message}{hint}"
            )));
        }
        let parsed: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
            AllureError::Auth(format!("{token_url} answered 200 without an access_token"))
        })?;
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(3600));
        let margin = if lifetime > EARLY_REFRESH * 2 {
            EARLY_REFRESH
        } else {
            lifetime / 2
        };
        tracing::debug!(
            target: "allure_mcp::allure",
            lifetime_s = lifetime.as_secs(),
            took_ms = started.elapsed().as_millis() as u64,
            "JWT obtained"
        );
        Ok(CachedJwt {
            header: sensitive(&format!("Bearer {}", parsed.access_token))?,
            token: SecretString::from(parsed.access_token),
            use_until: Instant::now() + lifetime - margin,
        })
    }

    /// `text` without the API token or the cached JWT in it.
    pub(crate) fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.redact_sent(text, None)
    }

    /// [`Auth::redact`], and also without `sent`: the JWT a request carried, which a 401
    /// may already have dropped from the cache.
    pub(crate) fn redact_sent<'a>(&self, text: &'a str, sent: Option<&CachedJwt>) -> Cow<'a, str> {
        self.with_secrets(sent, |secrets| redact_with(text, secrets))
    }

    /// Runs `f` over the secrets to redact (read once, however many texts `f` scrubs).
    pub(crate) fn with_secrets<R>(
        &self,
        sent: Option<&CachedJwt>,
        f: impl FnOnce(&[&str]) -> R,
    ) -> R {
        let api = self.api_token.read().unwrap_or_else(|e| e.into_inner());
        let jwt = self.cache.read().unwrap_or_else(|e| e.into_inner()).clone();
        let mut secrets = vec![api.expose_secret()];
        if let Some(j) = &jwt {
            secrets.push(j.token.expose_secret());
        }
        if let Some(j) = sent {
            secrets.push(j.token.expose_secret());
        }
        f(&secrets)
    }
}

/// Shorter strings are not redacted: a one-letter "token" would blank every text.
const MIN_REDACTED: usize = 6;

/// `text` with each of `secrets` replaced by `[REDACTED]`.
pub(crate) fn redact_with<'a>(text: &'a str, secrets: &[&str]) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(text);
    for secret in secrets.iter().filter(|s| s.len() >= MIN_REDACTED) {
        if out.contains(secret) {
            out = Cow::Owned(out.replace(secret, "[REDACTED]"));
        }
    }
    out
}

/// The token endpoint's answer, read up to a size no token answer comes near.
async fn read_limited(mut answer: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    const MAX: usize = 256 * 1024;
    let mut body = Vec::new();
    while let Some(chunk) = answer.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX {
            body.truncate(MAX);
            break;
        }
    }
    Ok(body)
}

/// A header value marked sensitive, so hyper and reqwest never print it.
fn sensitive(value: &str) -> Result<HeaderValue, AllureError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        AllureError::Auth("the token contains characters not allowed in an HTTP header".into())
    })?;
    header.set_sensitive(true);
    Ok(header)
}
