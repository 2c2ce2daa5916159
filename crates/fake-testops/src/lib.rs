//! A faithful fake of Allure TestOps, for tests, benchmarks and `--demo`.
//!
//! It serves the real API's paths under `/api` and `/api/rs`, exchanges API tokens for
//! expiring JWTs, pages and sorts like Spring, answers 202/204 with empty bodies where
//! the real server does, evaluates AQL, records every request, and injects faults per
//! route on demand. It listens on loopback only.

pub mod aql;
mod bulk_extras;
mod case_files;
mod cf_admin;
mod custom_fields;
pub mod data;
mod defect_links;
mod defects;
mod faults;
mod http;
mod jobs;
mod launch_admin;
mod people;
mod plans;
mod results;
mod routes;
mod runs;
pub mod scenario;
pub mod testcase_extras;
mod testcases;
mod texts;
pub mod trees;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

pub use data::Dataset;
pub use faults::{Fault, FaultKind, Gate};

/// How the fake is started.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// API tokens it accepts (for the exchange and for `Api-Token` auth).
    pub api_tokens: Vec<String>,
    /// The `expires_in` it answers, and how long its JWTs are honoured.
    pub jwt_lifetime: Duration,
    /// The address to bind; loopback by default.
    pub bind: SocketAddr,
    pub dataset: Dataset,
    /// How long a CI job run the fake starts takes to finish.
    pub job_duration: Duration,
    /// What `GET /api/permission?projectId=` answers for a project that exists: the
    /// rights of the token's user there (every right by default).
    pub permissions: Vec<String>,
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            api_tokens: vec![DEMO_TOKEN.to_owned()],
            jwt_lifetime: Duration::from_secs(3600),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            dataset: Dataset::seed(),
            job_duration: Duration::from_secs(3),
            permissions: [
                "project:read",
                "project:comment",
                "project:write",
                "project:configure",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// The API token the demo and the standalone fake accept by default.
pub const DEMO_TOKEN: &str = "demo-api-token";

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The full path, prefix included (`/api/launch/5`).
    /// (`status` is 0 while the answer is still being prepared.)
    pub path: String,
    /// The path below the prefix (`/launch/5`), the same for `/api` and `/api/rs`.
    pub api_path: String,
    pub query: String,
    pub body: String,
    pub authorization: Option<String>,
    pub status: u16,
}

impl Recorded {
    /// Decoded query pairs.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }
    /// The first value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

pub(crate) struct State {
    pub(crate) data: Mutex<Dataset>,
    api_tokens: Mutex<Vec<String>>,
    /// API tokens of named users (each person's own), and the JWTs made from them.
    users_by_token: Mutex<HashMap<String, String>>,
    users_by_jwt: Mutex<HashMap<String, String>>,
    jwts: Mutex<HashMap<String, Instant>>,
    jwt_lifetime: Mutex<Duration>,
    log: Mutex<Vec<Recorded>>,
    #[cfg(feature = "control")]
    faults: Mutex<Vec<Fault>>,
    pub(crate) job_duration: Mutex<Duration>,
    pub(crate) permissions: Vec<String>,
    /// The wall clock for AQL functions; the seed's own "now" keeps answers stable.
    pub(crate) now_ms: i64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    pub(crate) fn data(&self) -> MutexGuard<'_, Dataset> {
        lock(&self.data)
    }
}

/// A running fake. Dropping it stops the server.
pub struct FakeTestOps {
    addr: SocketAddr,
    state: Arc<State>,
    stop: watch::Sender<bool>,
}

impl FakeTestOps {
    /// Starts with defaults: the seed data, [`DEMO_TOKEN`], one-hour JWTs, 127.0.0.1:0.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(FakeOptions::default()).await
    }

    pub async fn start_with(opts: FakeOptions) -> std::io::Result<Self> {
        let listener = TcpListener::bind(opts.bind).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            data: Mutex::new(opts.dataset),
            api_tokens: Mutex::new(opts.api_tokens),
            users_by_token: Mutex::new(HashMap::new()),
            users_by_jwt: Mutex::new(HashMap::new()),
            jwts: Mutex::new(HashMap::new()),
            jwt_lifetime: Mutex::new(opts.jwt_lifetime),
            log: Mutex::new(Vec::new()),
            #[cfg(feature = "control")]
            faults: Mutex::new(Vec::new()),
            job_duration: Mutex::new(opts.job_duration),
            permissions: opts.permissions,
            now_ms: data::SEED_NOW_MS,
        });
        let (stop, mut stopped) = watch::channel(false);
        let router = routes::router(state.clone());
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stopped.changed() => break,
                };
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let st = st.clone();
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        handle(st.clone(), router.clone(), req)
                    });
                    let builder = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    );
                    let conn =
                        builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                    tokio::select! {
                        _ = conn => {}
                        _ = stopped.changed() => {}
                    }
                });
            }
        });
        Ok(FakeTestOps { addr, state, stop })
    }

    /// `http://127.0.0.1:PORT`: what `ALLURE_BASE_URL` should be.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state.log).clone()
    }

    /// Requests with this method and API path (`*` matches a segment).
    pub fn requests_to(&self, method: &str, api_path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| {
                r.method.eq_ignore_ascii_case(method) && path_matches(api_path, &r.api_path)
            })
            .collect()
    }

    /// How many token exchanges happened.
    pub fn token_exchanges(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path == "/api/uaa/oauth/token")
            .count()
    }

    pub fn clear_requests(&self) {
        lock(&self.state.log).clear();
    }

    /// Injects a fault (the `control` feature: tests only, never in a shipped binary).
    #[cfg(feature = "control")]
    pub fn inject(&self, fault: Fault) {
        lock(&self.state.faults).push(fault);
    }

    #[cfg(feature = "control")]
    pub fn clear_faults(&self) {
        lock(&self.state.faults).clear();
    }

    /// A valid JWT without a token exchange (not counted in `token_exchanges`): for
    /// benchmarks that call the fake directly, as the floor a tool call is compared with.
    pub fn issue_jwt(&self) -> String {
        mint_jwt(&self.state).0
    }

    /// Makes every JWT issued so far invalid (as a restart of TestOps would).
    pub fn revoke_jwts(&self) {
        lock(&self.state.jwts).clear();
    }

    /// How long job runs started from now take.
    pub fn set_job_duration(&self, d: Duration) {
        *lock(&self.state.job_duration) = d;
    }

    pub fn set_jwt_lifetime(&self, lifetime: Duration) {
        *lock(&self.state.jwt_lifetime) = lifetime;
    }

    /// Accepts `token` as the API token of `username`: calls made with it (or a JWT
    /// exchanged for it) are that user's (`GET /api/account/me` says so).
    pub fn add_user_token(&self, token: &str, username: &str) {
        lock(&self.state.users_by_token).insert(token.to_owned(), username.to_owned());
    }

    /// Replaces the accepted API tokens (token rotation).
    pub fn set_api_tokens(&self, tokens: Vec<String>) {
        *lock(&self.state.api_tokens) = tokens;
    }

    /// Reads or changes the data directly (test setup and assertions).
    pub fn with_data<R>(&self, f: impl FnOnce(&mut Dataset) -> R) -> R {
        f(&mut self.state.data())
    }
}

impl Drop for FakeTestOps {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The error that makes hyper drop a connection without answering.
#[derive(Debug)]
struct Reset;
impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}
impl std::error::Error for Reset {}

pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    let a: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    p.len() == a.len() && p.iter().zip(&a).all(|(p, a)| *p == "*" || p == a)
}

fn api_path(path: &str) -> String {
    for prefix in ["/api/rs", "/api"] {
        if let Some(rest) = path.strip_prefix(prefix)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return rest.to_owned();
        }
    }
    path.to_owned()
}

pub(crate) fn error_response(status: u16, message: &str, path: &str) -> Response<Body> {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({
        "timestamp": data::SEED_NOW_MS,
        "status": status,
        "error": code.canonical_reason().unwrap_or("Error"),
        "message": message,
        "path": path,
    });
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

async fn handle(
    state: Arc<State>,
    router: axum::Router,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, Reset> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let mut rec = Recorded {
        method: parts.method.to_string(),
        api_path: api_path(&path),
        path: path.clone(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        body: String::from_utf8_lossy(&body).into_owned(),
        authorization: parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        status: 0,
    };

    // Without the `control` feature nothing can add a fault, so none is ever looked up.
    #[cfg(feature = "control")]
    let fault = faults::take(&state, &rec);
    #[cfg(not(feature = "control"))]
    let fault: Option<FaultKind> = None;
    // Recorded on arrival, so a test can wait for "the upstream got the call" while the
    // answer is still delayed; the status is filled in when it is sent.
    let index = record(&state, rec.clone());
    let response = match fault {
        Some(fault) => faults::answer(fault, &state, router, parts, body, &rec).await?,
        None => serve(&state, router, parts, body, &rec).await,
    };
    rec.status = response.status().as_u16();
    let mut log = lock(&state.log);
    if let Some(entry) = log
        .get_mut(index)
        .filter(|e| e.path == rec.path && e.status == 0)
    {
        entry.status = rec.status;
    }
    Ok(response)
}

fn record(state: &State, rec: Recorded) -> usize {
    let mut log = lock(&state.log);
    log.push(rec);
    log.len() - 1
}

/// `/__fake/*`: the request log for benchmarks of other servers, which cannot read it
/// in-process (the `control` feature: the standalone fake and tests, never `--demo`).
#[cfg(feature = "control")]
fn control(state: &Arc<State>, rec: &Recorded) -> Option<Response<Body>> {
    if rec.path == "/__fake/stats" {
        let log = lock(&state.log);
        let exchanges = log
            .iter()
            .filter(|r| r.path == "/api/uaa/oauth/token")
            .count();
        let api = log
            .iter()
            .filter(|r| r.path.starts_with("/api/") && r.path != "/api/uaa/oauth/token")
            .count();
        let body = serde_json::json!({"requests": api, "token_exchanges": exchanges});
        return Some(
            Response::builder()
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap_or_else(|_| Response::new(Body::empty())),
        );
    }
    if rec.path == "/__fake/reset" {
        lock(&state.log).clear();
        return Some(Response::new(Body::empty()));
    }
    None
}

/// Authenticates, then hands the request to the router.
async fn serve(
    state: &Arc<State>,
    router: axum::Router,
    parts: hyper::http::request::Parts,
    body: Bytes,
    rec: &Recorded,
) -> Response<Body> {
    if rec.path == "/api/uaa/oauth/token" {
        return token_exchange(state, rec);
    }
    #[cfg(feature = "control")]
    if let Some(answer) = control(state, rec) {
        return answer;
    }
    if !(rec.path.starts_with("/api/") || rec.path == "/api") {
        return error_response(404, "No static resource", &rec.path);
    }
    if !authorized(state, rec.authorization.as_deref()) {
        let mut r = error_response(
            401,
            "Full authentication is required to access this resource",
            &rec.path,
        );
        r.headers_mut().insert(
            "www-authenticate",
            hyper::header::HeaderValue::from_static("Bearer"),
        );
        return r;
    }
    {
        let job_ms = lock(&state.job_duration).as_millis() as i64;
        runs::advance(&mut state.data(), http::now_ms(), job_ms);
    }
    // Route both prefixes through one router: `/api/rs/x` is served as `/api/x`.
    let mut parts = parts;
    if rec.path.starts_with("/api/rs/") {
        let q = parts
            .uri
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        if let Ok(uri) = format!("/api{}{q}", rec.api_path).parse() {
            parts.uri = uri;
        }
    }
    let req = Request::from_parts(parts, Body::from(body));
    match router.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

fn authorized(state: &State, header: Option<&str>) -> bool {
    let Some(header) = header else { return false };
    let (scheme, value) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        let jwts = lock(&state.jwts);
        return jwts
            .get(value.trim())
            .is_some_and(|exp| Instant::now() < *exp);
    }
    if scheme.eq_ignore_ascii_case("api-token") {
        return lock(&state.api_tokens).iter().any(|t| t == value.trim())
            || lock(&state.users_by_token).contains_key(value.trim());
    }
    false
}

impl State {
    /// The user an `Authorization` header speaks for: a named user's token or JWT, else
    /// the user of the service token.
    pub(crate) fn user_of(&self, authorization: Option<&str>) -> Option<String> {
        let (_, value) = authorization?.split_once(' ')?;
        let value = value.trim();
        lock(&self.users_by_jwt)
            .get(value)
            .or(lock(&self.users_by_token).get(value))
            .cloned()
    }
}

/// A fresh JWT, valid for the configured lifetime.
fn mint_jwt(state: &State) -> (String, Duration) {
    let lifetime = *lock(&state.jwt_lifetime);
    let jwt = format!(
        "eyJhbGciOiJIUzI1NiJ9.fake.{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    );
    lock(&state.jwts).insert(jwt.clone(), Instant::now() + lifetime);
    (jwt, lifetime)
}

fn token_exchange(state: &State, rec: &Recorded) -> Response<Body> {
    if rec.method != "POST" {
        return error_response(405, "Request method not supported", &rec.path);
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(rec.body.as_bytes())
        .into_owned()
        .collect();
    if form.get("grant_type").map(String::as_str) != Some("apitoken") {
        return oauth_error(400, "unsupported_grant_type", "Unsupported grant type");
    }
    let token = form.get("token").cloned().unwrap_or_default();
    let user = lock(&state.users_by_token).get(&token).cloned();
    if user.is_none() && !lock(&state.api_tokens).contains(&token) {
        return oauth_error(401, "invalid_token", "Invalid api token");
    }
    let (jwt, lifetime) = mint_jwt(state);
    if let Some(user) = user {
        lock(&state.users_by_jwt).insert(jwt.clone(), user);
    }
    let body = serde_json::json!({
        "access_token": jwt,
        "token_type": "bearer",
        "expires_in": lifetime.as_secs(),
        "scope": "openid",
        "jti": format!("{:x}", fastrand::u64(..)),
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn oauth_error(status: u16, error: &str, description: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(
            serde_json::json!({"error": error, "error_description": description}).to_string(),
        ))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
