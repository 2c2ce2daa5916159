//! A client for the Allure TestOps REST API. It knows nothing of MCP: tools call it,
//! and so do `allure-mcp check` and the benchmarks.
//!
//! One pooled reqwest client (rustls), a total deadline per call, the JWT dance of
//! [`auth`], and retries for idempotent calls only ([`retry`]).

pub mod auth;
pub mod error;
pub mod model;
pub mod retry;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
}

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
        }
    }
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    Json(Value),
}

/// The answer to a successful call: the status (200, 201, 202 or 204) and the raw body,
/// which may be empty.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
    /// The `Content-Type` Allure sent, if any (attachments are not JSON).
    pub content_type: Option<String>,
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
}

struct Inner {
    http: reqwest::Client,
    base: String,
    api_base: String,
    token_url: String,
    auth: auth::Auth,
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
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl AllureClient {
    /// Builds the client. Fails only on a broken CA file or TLS setup.
    pub fn new(opts: ClientOptions) -> Result<Self, AllureError> {
        // reqwest is built without a default crypto provider; ring is ours. A second
        // install (several clients in one process) is harmless, so its error is ignored.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("allure-mcp/", env!("CARGO_PKG_VERSION")))
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true);
        if let Some(path) = &opts.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                AllureError::Auth(format!(
                    "cannot read ALLURE_CA_FILE {}: {e}",
                    path.display()
                ))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                AllureError::Auth(format!("ALLURE_CA_FILE {} is not PEM: {e}", path.display()))
            })?;
            builder = builder.tls_certs_merge(certs);
        }
        if opts.tls_insecure {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let http = builder
            .build()
            .map_err(|e| AllureError::Auth(format!("cannot build the HTTP client: {e}")))?;
        let base = opts.base_url.as_str().trim_end_matches('/').to_owned();
        let prefix = normalize_prefix(&opts.api_prefix);
        Ok(AllureClient {
            inner: Arc::new(Inner {
                http,
                api_base: format!("{base}{prefix}"),
                token_url: format!("{base}/api/uaa/oauth/token"),
                base,
                auth: auth::Auth::new(opts.auth_mode, opts.token),
                timeout: opts.timeout,
                retry: opts.retry,
                last_answer_ms: AtomicU64::new(0),
                observer: std::sync::OnceLock::new(),
            }),
        })
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
        self.inner.auth.set_api_token(token);
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

    /// Sends one API call (`path` is below the API prefix, e.g. `/launch/1`) within the
    /// configured deadline. 200/201/202/204 are success whatever the body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Body>,
    ) -> Result<Answer, AllureError> {
        let deadline = self.inner.timeout;
        match tokio::time::timeout(
            deadline,
            self.send_inner(&method, path, query, body.as_ref()),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(AllureError::Timeout {
                method: method.to_string(),
                path: path.to_owned(),
                timeout: deadline,
            }),
        }
    }

    async fn send_inner(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Body>,
    ) -> Result<Answer, AllureError> {
        let idempotent = matches!(*method, Method::GET | Method::HEAD);
        let started = Instant::now();
        let mut waited = Duration::ZERO;
        let mut attempt = 0u32;
        let mut reauthenticated = false;
        loop {
            attempt += 1;
            let credential = self.credential().await?;
            let url = format!("{}{}", self.inner.api_base, path);
            let mut request = self
                .inner
                .http
                .request(method.clone(), &url)
                .header(reqwest::header::ACCEPT, "application/json")
                .header(reqwest::header::AUTHORIZATION, credential.header.clone());
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(Body::Json(v)) = body {
                request = request.json(v);
            }
            let outcome = request.send().await;
            let (status, retry_after, result) = match outcome {
                Err(e) => {
                    // No answer arrived: a refused connect, or a pooled connection the other
                    // side had closed. Safe to repeat for GET/HEAD; a timeout is not retried,
                    // the deadline is the caller's patience.
                    let retryable = e.is_connect() || (e.is_request() && !e.is_timeout());
                    tracing::debug!(
                        target: "allure_mcp::allure",
                        %method, path, attempt, error = %describe_transport_error(&e), "upstream call failed"
                    );
                    if idempotent && retryable && self.back_off(attempt, &mut waited, None).await {
                        continue;
                    }
                    return Err(self.transport_error(method, path, &e, ""));
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    self.mark_answer(status);
                    let content_type = response
                        .headers()
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    let body = response.bytes().await.map_err(|e| {
                        self.transport_error(method, path, &e, "the answer broke off: ")
                    });
                    (status, retry_after, body.map(|b| (b, content_type)))
                }
            };
            tracing::debug!(
                target: "allure_mcp::allure",
                %method, path, status, attempt,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "upstream answered"
            );
            if status == 401
                && !reauthenticated
                && let Some(jwt) = &credential.jwt
            {
                // The JWT may have been revoked or expired early: one fresh exchange, one retry.
                self.inner.auth.invalidate(jwt);
                reauthenticated = true;
                attempt -= 1;
                continue;
            }
            let (body, content_type) = match result {
                Ok(body) => body,
                Err(e) => {
                    if idempotent && self.back_off(attempt, &mut waited, None).await {
                        continue;
                    }
                    return Err(e);
                }
            };
            if (200..300).contains(&status) {
                return Ok(Answer {
                    status,
                    body,
                    content_type,
                });
            }
            if idempotent
                && RetryPolicy::is_retryable_status(status)
                && self
                    .back_off(attempt, &mut waited, retry_after.map(Duration::from_secs))
                    .await
            {
                continue;
            }
            return Err(AllureError::Status {
                method: method.to_string(),
                path: path.to_owned(),
                status,
                message: error::extract_message(&body),
                retry_after,
            });
        }
    }

    /// Waits before the next attempt when the retry policy allows one; false when the
    /// retries (count or total time) are used up.
    async fn back_off(&self, attempt: u32, waited: &mut Duration, hint: Option<Duration>) -> bool {
        match self.inner.retry.next_delay(attempt, *waited, hint) {
            Some(delay) => {
                tokio::time::sleep(delay).await;
                *waited += delay;
                true
            }
            None => false,
        }
    }

    /// A failure with no complete answer: our deadline, or the connection's fault.
    fn transport_error(
        &self,
        method: &Method,
        path: &str,
        e: &reqwest::Error,
        context: &str,
    ) -> AllureError {
        if e.is_timeout() {
            AllureError::Timeout {
                method: method.to_string(),
                path: path.to_owned(),
                timeout: self.inner.timeout,
            }
        } else {
            AllureError::Transport {
                method: method.to_string(),
                path: path.to_owned(),
                detail: format!("{context}{}", describe_transport_error(e)),
            }
        }
    }

    async fn credential(&self) -> Result<auth::Credential, AllureError> {
        self.inner
            .auth
            .credential(&self.inner.http, &self.inner.token_url)
            .await
    }

    /// Registers the one function told each upstream status (later calls are ignored).
    pub fn observe_statuses(&self, f: impl Fn(u16) + Send + Sync + 'static) {
        let _ = self.inner.observer.set(Arc::new(f));
    }

    fn mark_answer(&self, status: u16) {
        if let Some(f) = self.inner.observer.get() {
            f(status);
        }
        self.inner
            .last_answer_ms
            .store(unix_ms(), Ordering::Relaxed);
    }

    /// How many token exchanges this client made (for tests and benchmarks).
    pub fn token_exchanges(&self) -> u64 {
        self.inner.auth.exchanges()
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

/// A short, URL-free description of a transport failure.
fn describe_transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect (is ALLURE_BASE_URL right and the instance up?)".into()
    } else {
        // Walk to the root cause: reqwest's own text is generic ("error sending request").
        let mut source: &dyn std::error::Error = e;
        while let Some(next) = source.source() {
            source = next;
        }
        format!("connection error: {source}")
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
        };
        let v: Option<Value> = a.json(&Method::POST, "/x").unwrap();
        assert!(v.is_none());
        let e = a
            .json::<model::Project>(&Method::GET, "/project/1")
            .unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }
}
