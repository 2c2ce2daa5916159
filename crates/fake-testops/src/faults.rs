//! Faults a test injects per route (statuses, resets, hangs, slow or huge bodies,
//! redirects, echoed credentials, gates) and what each does to an answer.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Response;
use tokio::sync::watch;

use crate::{Recorded, Reset, State, error_response, serve};
#[cfg(feature = "control")]
use crate::{lock, path_matches};

/// What a fault does to a matching request.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Answer this status with a Spring-style error body (and `Retry-After` if given).
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    /// Answer this status and exact body (malformed JSON, unexpected shapes).
    Body { status: u16, body: String },
    /// Wait, then serve normally.
    Delay(Duration),
    /// Wait until the test opens the gate, then serve normally: for tests that must
    /// act while a call is surely still upstream, whatever the machine's speed.
    Held(Gate),
    /// Never answer.
    Hang,
    /// Close the connection without an answer.
    Reset,
    /// Send headers, then the body one byte chunk every `Duration`.
    SlowBody(Duration),
    /// Answer this status with a message that quotes the credential the request carried
    /// (as servers that echo a rejected token do), after `prefix_len` characters of text.
    EchoCredential { status: u16, prefix_len: usize },
    /// Answer a redirect (301/302/303/307/308) to `location`.
    Redirect { status: u16, location: String },
    /// Answer 200 with `bytes` bytes of `content_type`, made while streaming (nothing
    /// that size is held in memory), with or without a `Content-Length`.
    Large {
        bytes: u64,
        content_type: String,
        announce_length: bool,
    },
}

/// A gate that holds [`FaultKind::Held`] requests until it is opened (and every later
/// one too: an open gate stays open).
#[derive(Debug, Clone)]
pub struct Gate(Arc<watch::Sender<bool>>);

impl Default for Gate {
    fn default() -> Self {
        Gate(Arc::new(watch::Sender::new(false)))
    }
}

impl Gate {
    pub fn new() -> Gate {
        Gate::default()
    }

    /// Lets every held request, and every later one, through.
    pub fn open(&self) {
        self.0.send_replace(true);
    }

    async fn passed(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|open| *open).await;
    }
}

/// A fault for requests whose method and API path match.
#[derive(Debug, Clone)]
pub struct Fault {
    /// `None` matches every method.
    pub method: Option<String>,
    /// API path below the prefix; `*` matches one segment (`/launch/*/statistic`).
    pub path: String,
    pub kind: FaultKind,
    /// How many requests it hits; `None` = until cleared.
    pub times: Option<usize>,
}

impl Fault {
    /// A fault on every method of `path`, until cleared.
    pub fn on(path: &str, kind: FaultKind) -> Self {
        Fault {
            method: None,
            path: path.to_owned(),
            kind,
            times: None,
        }
    }
    /// Only for `method`.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }
    /// Only the next `n` matching requests.
    pub fn times(mut self, n: usize) -> Self {
        self.times = Some(n);
        self
    }
}

#[cfg(feature = "control")]
pub(crate) fn take(state: &State, rec: &Recorded) -> Option<FaultKind> {
    let mut faults = lock(&state.faults);
    let i = faults.iter().position(|f| {
        f.method.as_deref().is_none_or(|m| m == rec.method) && path_matches(&f.path, &rec.api_path)
    })?;
    let kind = faults[i].kind.clone();
    if let Some(n) = faults[i].times.as_mut() {
        *n -= 1;
        if *n == 0 {
            faults.remove(i);
        }
    }
    Some(kind)
}

/// The answer to a request a fault hit: made here, or the real one altered or delayed.
pub(crate) async fn answer(
    fault: FaultKind,
    state: &Arc<State>,
    router: axum::Router,
    parts: hyper::http::request::Parts,
    body: Bytes,
    rec: &Recorded,
) -> Result<Response<Body>, Reset> {
    let path = &rec.path;
    Ok(match fault {
        FaultKind::Reset => return Err(Reset),
        FaultKind::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        FaultKind::Status {
            status,
            retry_after,
        } => {
            let mut r = error_response(status, "injected fault", path);
            if let Some(s) = retry_after
                && let Ok(v) = s.to_string().parse()
            {
                r.headers_mut().insert("retry-after", v);
            }
            r
        }
        FaultKind::Body { status, body } => Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap_or_else(|_| Response::new(Body::empty())),
        FaultKind::Delay(d) => {
            tokio::time::sleep(d).await;
            serve(state, router, parts, body, rec).await
        }
        FaultKind::Held(gate) => {
            gate.passed().await;
            serve(state, router, parts, body, rec).await
        }
        FaultKind::EchoCredential { status, prefix_len } => {
            // The bearer or API token of a call, or the `token` of an exchange form.
            let credential = rec
                .authorization
                .as_deref()
                .and_then(|a| a.split_once(' ').map(|(_, t)| t.to_owned()))
                .or_else(|| {
                    url::form_urlencoded::parse(rec.body.as_bytes())
                        .find(|(k, _)| k == "token")
                        .map(|(_, v)| v.into_owned())
                })
                .unwrap_or_default();
            let prefix = "x".repeat(prefix_len);
            error_response(
                status,
                &format!("{prefix}Invalid access token: {credential}"),
                path,
            )
        }
        FaultKind::Redirect { status, location } => Response::builder()
            .status(status)
            .header("location", location)
            .body(Body::empty())
            .unwrap_or_else(|_| Response::new(Body::empty())),
        FaultKind::Large {
            bytes,
            content_type,
            announce_length,
        } => large_response(bytes, &content_type, announce_length),
        FaultKind::SlowBody(every) => {
            let full = serve(state, router, parts, body, rec).await;
            let (p, b) = full.into_parts();
            let bytes = b.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let stream = futures::stream::unfold(0usize, move |i| {
                let bytes = bytes.clone();
                async move {
                    if i >= bytes.len() {
                        return None;
                    }
                    tokio::time::sleep(every).await;
                    Some((Ok::<Bytes, Infallible>(bytes.slice(i..i + 1)), i + 1))
                }
            });
            Response::from_parts(p, Body::from_stream(stream))
        }
    })
}

/// A body of `bytes` bytes ('x' lines), produced 64 KiB at a time.
fn large_response(bytes: u64, content_type: &str, announce_length: bool) -> Response<Body> {
    const CHUNK: u64 = 64 * 1024;
    let line = Bytes::from("x".repeat(CHUNK as usize - 1) + "\n");
    let stream = futures::stream::unfold(0u64, move |sent| {
        let line = line.clone();
        async move {
            if sent >= bytes {
                return None;
            }
            let n = CHUNK.min(bytes - sent);
            Some((Ok::<Bytes, Infallible>(line.slice(..n as usize)), sent + n))
        }
    });
    let mut builder = Response::builder()
        .status(200)
        .header("content-type", content_type);
    if announce_length {
        builder = builder.header("content-length", bytes);
    }
    builder
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
