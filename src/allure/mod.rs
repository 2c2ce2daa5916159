//! A client for the Allure TestOps REST API. It knows nothing of MCP: tools call it,
//! and so do `allure-mcp check` and the benchmarks.
//!
//! One pooled reqwest client (rustls), a total deadline per call, the JWT dance of
//! [`auth`], and retries for idempotent calls only ([`retry`]).

pub mod auth;
pub mod callers;
pub mod error;
pub mod model;
pub mod retry;
mod send;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

pub use auth::AuthMode;
pub use error::AllureError;
pub use model::Page;

pub use retry::RetryPolicy;

/// Everything needed to reach one Allure TestOps instance.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The TestOps root, e.g. `https://testops.example.com` (no trailing slash needed).
    pub base_url: Url,
    /// `/api` on current instances, `/api/rs` on old ones.
    pub api_prefix: String,
    pub auth_mode: AuthMode,
    pub token: SecretString,
    /// Deadline for one call, retries and token exchange included.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Extra PEM roots to trust (a company CA in front of TestOps).
    pub ca_file: Option<PathBuf>,
    /// Skip certificate checks. Only for a lab; it is announced loudly at start.
    pub tls_insecure: bool,
    /// The largest answer read from Allure (`ALLURE_MAX_BODY_BYTES`); a larger one is
    /// refused before it is read, so a huge attachment or page cannot fill memory.
    pub max_body_bytes: usize,
}

/// Default for [`ClientOptions::max_body_bytes`]: far above any page of JSON the tools
/// ask for, far below what would hurt a 1 GiB `MemoryMax`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

impl ClientOptions {
    /// Options with defaults for everything but where and who.
    pub fn new(base_url: Url, token: SecretString) -> Self {
        ClientOptions {
            base_url,
            api_prefix: "/api".into(),
            auth_mode: AuthMode::Jwt,
            token,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            ca_file: None,
            tls_insecure: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    Json(Value),
    /// One file as `multipart/form-data` under the field name `field`.
    File {
        field: &'static str,
        name: String,
        content_type: String,
        bytes: Bytes,
    },
}

impl Body {
    /// The multipart form of a [`Body::File`]: the boundary, and the body bytes.
    fn multipart(field: &str, name: &str, content_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
        // Random, so no file can hold it; names are quoted with quotes escaped.
        let boundary = format!("allure-mcp-{:032x}", fastrand_u128());
        let name = name.replace(['"', '\\', '\r', '\n'], "_");
        // `type/subtype` of token characters only: nothing that could start a header.
        let token = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
        };
        let content_type = match content_type.split_once('/') {
            Some((t, s)) if token(t) && token(s) => content_type,
            _ => "application/octet-stream",
        };
        let mut out = Vec::with_capacity(bytes.len() + 256);
        out.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        out.extend_from_slice(bytes);
        out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        (boundary, out)
    }
}

/// 128 random bits from the OS, for a multipart boundary.
fn fastrand_u128() -> u128 {
    let mut b = [0u8; 16];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    u128::from_le_bytes(b)
}

/// The answer to a successful call: the status (200, 201, 202 or 204) and the raw body,
/// which may be empty.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
    /// The `Content-Type` Allure sent, if any (attachments are not JSON).
    pub content_type: Option<String>,
    /// The `Content-Length` Allure announced, if any.
    pub content_length: Option<u64>,
    /// True when only the first part of the body was read ([`AllureClient::send_head`]).
    pub cut: bool,
}

impl Answer {
    /// Decodes the body; an empty body decodes as JSON `null` (so `Option<T>` and `()`
    /// accept it), since Allure answers many writes with 202/204 and nothing else.
    pub fn json<T: DeserializeOwned>(&self, method: &Method, path: &str) -> Result<T, AllureError> {
        let bytes: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            &self.body
        };
        serde_json::from_slice(bytes).map_err(|e| AllureError::Decode {
            method: method.to_string(),
            path: path.to_owned(),
            detail: if bytes == b"null" {
                "the body was empty".into()
            } else {
                error::truncate(&e.to_string(), 200)
            },
        })
    }
}

/// The Allure TestOps client. Cheap to clone; clones share the pool and the JWT cache.
#[derive(Clone, Debug)]
pub struct AllureClient {
    inner: Arc<Inner>,
    /// Whose token: the service's, or one a caller brought ([`callers`]). Clones share it.
    auth: Arc<auth::Auth>,
    /// Told what this clone's calls went through (one tool call's clone tells its client).
    events: Option<EventSink>,
}

/// Something a call went through on its way to an answer, worth telling whoever made it.
/// Never carries a credential or a query string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamEvent {
    /// A transient failure (`why`), and another attempt after `delay`.
    Retry {
        method: String,
        path: String,
        why: String,
        attempt: u32,
        delay: Duration,
    },
    /// A 401 with a session token: it was exchanged afresh and the call repeated.
    Reauthenticated { method: String, path: String },
    /// One answer took [`SLOW_ANSWER`] or longer.
    Slow {
        method: String,
        path: String,
        took: Duration,
    },
}

/// An answer this slow is worth telling the caller about: Allure TestOps is struggling,
/// and what the tool does next will be slow too.
pub const SLOW_ANSWER: Duration = Duration::from_secs(5);

/// Where a clone's [`UpstreamEvent`]s go.
#[derive(Clone)]
pub struct EventSink(pub Arc<dyn Fn(UpstreamEvent) + Send + Sync>);

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSink")
    }
}

struct Inner {
    http: reqwest::Client,
    base: String,
    api_base: String,
    /// Where every API call must stay: this origin, below this path (`…/api/`).
    origin: url::Origin,
    api_path: String,
    token_url: String,
    max_body: usize,
    timeout: Duration,
    retry: RetryPolicy,
    /// Unix milliseconds of the last answer from upstream, any status: for readiness.
    last_answer_ms: AtomicU64,
    /// Told every upstream status (metrics).
    observer: std::sync::OnceLock<StatusObserver>,
}

type StatusObserver = Arc<dyn Fn(u16) + Send + Sync>;

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AllureClient")
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

impl AllureClient {
    /// Builds the client. Fails only on a broken CA file or TLS setup, with an
    /// [`AllureError::Setup`] that says what to fix.
    pub fn new(opts: ClientOptions) -> Result<Self, AllureError> {
        // reqwest is built without a default crypto provider; ring is ours. A second
        // install (several clients in one process) is harmless, so its error is ignored.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = opts.base_url.as_str().trim_end_matches('/').to_owned();
        let prefix = normalize_prefix(&opts.api_prefix);
        let token_url = format!("{base}/api/uaa/oauth/token");
        let origin = opts.base_url.origin();
        let base_path = format!("{}/", opts.base_url.path().trim_end_matches('/'));
        let builder = reqwest::Client::builder()
            .user_agent(concat!("allure-mcp/", env!("CARGO_PKG_VERSION")))
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .redirect(redirect_policy(
                origin.clone(),
                base_path,
                token_url.clone(),
            ));
        let http = tls(builder, &opts)?
            .build()
            .map_err(|e| tls_setup_error(&opts, &e))?;
        let api_base = format!("{base}{prefix}");
        Ok(AllureClient {
            inner: Arc::new(Inner {
                http,
                // The base URL's own path, then the prefix: what every call's path starts with.
                api_path: format!(
                    "{}/",
                    opts.base_url.path().trim_end_matches('/').to_owned() + &prefix
                ),
                api_base,
                origin,
                token_url,
                max_body: opts.max_body_bytes,
                base,
                timeout: opts.timeout,
                retry: opts.retry,
                last_answer_ms: AtomicU64::new(0),
                observer: std::sync::OnceLock::new(),
            }),
            auth: Arc::new(auth::Auth::new(opts.auth_mode, opts.token)),
            events: None,
        })
    }

    /// A clone whose calls tell `sink` about their retries and re-authentications.
    pub fn with_events(&self, sink: EventSink) -> AllureClient {
        AllureClient {
            inner: self.inner.clone(),
            auth: self.auth.clone(),
            events: Some(sink),
        }
    }

    fn tell(&self, event: impl FnOnce() -> UpstreamEvent) {
        if let Some(sink) = &self.events {
            (sink.0)(event());
        }
    }

    /// `text` with every secret this client holds (the API token, the current JWT)
    /// replaced: an upstream that echoes a credential in an error must not put it into
    /// a model's context or a log.
    pub fn redact<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        self.auth.redact(text)
    }

    /// [`AllureClient::redact`] over every string in a JSON value.
    pub fn redact_value(&self, value: &mut Value) {
        fn walk(value: &mut Value, secrets: &[&str]) {
            match value {
                Value::String(s) => {
                    if let std::borrow::Cow::Owned(r) = auth::redact_with(s, secrets) {
                        *s = r;
                    }
                }
                Value::Array(items) => items.iter_mut().for_each(|v| walk(v, secrets)),
                Value::Object(map) => map.values_mut().for_each(|v| walk(v, secrets)),
                _ => {}
            }
        }
        self.auth.with_secrets(None, |secrets| walk(value, secrets));
    }

    /// The TestOps root without a trailing slash, for deep links into the UI.
    pub fn ui_base(&self) -> &str {
        &self.inner.base
    }

    /// The per-call deadline.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Whether Allure answered (any status) within `window`.
    pub fn answered_within(&self, window: Duration) -> bool {
        let last = self.inner.last_answer_ms.load(Ordering::Relaxed);
        last > 0 && unix_ms().saturating_sub(last) < window.as_millis() as u64
    }

    /// Rotates the API token (used on reload); the cached JWT is dropped.
    pub fn set_token(&self, token: SecretString) {
        self.auth.set_api_token(token);
    }

    /// `GET` and decode.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, AllureError> {
        let answer = self.send(Method::GET, path, query, None).await?;
        answer.json(&Method::GET, path)
    }

    /// `POST` a JSON body and decode the answer (empty answers decode as `null`).
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Value,
    ) -> Result<T, AllureError> {
        let answer = self
            .send(Method::POST, path, &[], Some(Body::Json(body)))
            .await?;
        answer.json(&Method::POST, path)
    }

    /// `POST` a JSON body with query parameters and decode the answer.
    pub async fn post_query<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: Value,
    ) -> Result<T, AllureError> {
        let answer = self
            .send(Method::POST, path, query, Some(Body::Json(body)))
            .await?;
        answer.json(&Method::POST, path)
    }

    /// `PATCH` a JSON body and decode the answer.
    pub async fn patch<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Value,
    ) -> Result<T, AllureError> {
        let answer = self
            .send(Method::PATCH, path, &[], Some(Body::Json(body)))
            .await?;
        answer.json(&Method::PATCH, path)
    }

    /// `DELETE`; success is any 2xx.
    pub async fn delete(&self, path: &str) -> Result<Answer, AllureError> {
        self.send(Method::DELETE, path, &[], None).await
    }

    /// `POST` without a body, for operations that declare none (closing a launch):
    /// a server that validates requests refuses one it did not ask for.
    pub async fn post_empty(&self, path: &str) -> Result<Answer, AllureError> {
        self.send(Method::POST, path, &[], None).await
    }

    pub(crate) async fn credential(&self) -> Result<auth::Credential, AllureError> {
        self.auth
            .credential(&self.inner.http, &self.inner.token_url)
            .await
    }

    /// Registers the one function told each upstream status (later calls are ignored).
    pub fn observe_statuses(&self, f: impl Fn(u16) + Send + Sync + 'static) {
        let _ = self.inner.observer.set(Arc::new(f));
    }

    /// How many token exchanges this client made (for tests and benchmarks).
    pub fn token_exchanges(&self) -> u64 {
        self.auth.exchanges()
    }

    /// Which credential this client speaks with: equal for clients that share one (the
    /// service's, or one caller's token while it is cached).
    pub fn credential_key(&self) -> usize {
        Arc::as_ptr(&self.auth) as usize
    }

    /// Whether this client holds a token to speak with (the service has none when only
    /// callers' own tokens are used).
    pub fn has_token(&self) -> bool {
        self.auth.has_token()
    }

    /// Whether Allure TestOps answers at all, asked without any credential (`GET` of
    /// the token endpoint, which answers 405): for readiness when there is no token.
    pub async fn reachable(&self) -> bool {
        let answered = self
            .inner
            .http
            .get(&self.inner.token_url)
            .send()
            .await
            .is_ok();
        if answered {
            self.inner
                .last_answer_ms
                .store(unix_ms(), Ordering::Relaxed);
        }
        answered
    }

    /// Whether this client speaks with a token a caller brought (not the service's).
    pub fn is_callers(&self) -> bool {
        self.auth.caller
    }

    /// This client with another credential state: the pool, limits and observers stay.
    fn with_auth(&self, auth: Arc<auth::Auth>) -> AllureClient {
        AllureClient {
            inner: self.inner.clone(),
            auth,
            events: self.events.clone(),
        }
    }
}

/// Follows only redirects that stay on the configured origin and below the TestOps
/// root, and none at all from the token endpoint: a 307/308 would post the API token
/// again, to wherever the redirect points.
fn redirect_policy(
    origin: url::Origin,
    base_path: String,
    token_url: String,
) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let from_token_endpoint = attempt.previous().iter().any(|u| u.as_str() == token_url);
        let stays =
            attempt.url().origin() == origin && attempt.url().path().starts_with(&base_path);
        if from_token_endpoint || !stays || attempt.previous().len() > 5 {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// Roots of trust: none are needed for an `http://` upstream (so a machine without a CA
/// store still serves it); `ALLURE_CA_FILE` adds to the system's; insecure trusts any.
fn tls(
    builder: reqwest::ClientBuilder,
    opts: &ClientOptions,
) -> Result<reqwest::ClientBuilder, AllureError> {
    let extra = match &opts.ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                AllureError::Setup(format!(
                    "ALLURE_CA_FILE: cannot read {}: {e}; point it at a readable PEM file",
                    path.display()
                ))
            })?;
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                AllureError::Setup(format!(
                    "ALLURE_CA_FILE: {} is not a PEM bundle ({e}); point it at PEM certificates",
                    path.display()
                ))
            })?
        }
        None => Vec::new(),
    };
    Ok(if opts.tls_insecure {
        builder.tls_danger_accept_invalid_certs(true)
    } else if opts.base_url.scheme() == "http" && extra.is_empty() {
        // Same-origin redirects only, so this client never speaks TLS: do not load
        // (or require) the system's roots.
        builder.tls_certs_only(Vec::new())
    } else {
        builder.tls_certs_merge(extra)
    })
}

/// A client that could not be built: almost always a missing CA store for `https://`.
fn tls_setup_error(opts: &ClientOptions, e: &reqwest::Error) -> AllureError {
    let chain = crate::error_chain(e);
    if opts.base_url.scheme() == "https" && opts.ca_file.is_none() {
        AllureError::Setup(format!(
            "ALLURE_BASE_URL: cannot check https certificates: {chain}; install the ca-certificates package, or set ALLURE_CA_FILE to a PEM bundle that signs the TestOps certificate"
        ))
    } else {
        AllureError::Setup(format!("cannot set up TLS for Allure TestOps: {chain}"))
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn normalize_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim().trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_normalized() {
        assert_eq!(normalize_prefix("/api"), "/api");
        assert_eq!(normalize_prefix("api/rs/"), "/api/rs");
        assert_eq!(normalize_prefix("/"), "");
    }

    #[test]
    fn empty_answers_decode_as_null() {
        let a = Answer {
            status: 204,
            body: Bytes::new(),
            content_type: None,
            content_length: None,
            cut: false,
        };
        let v: Option<Value> = a.json(&Method::POST, "/x").unwrap();
        assert!(v.is_none());
        let e = a
            .json::<model::Project>(&Method::GET, "/project/1")
            .unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }
}
