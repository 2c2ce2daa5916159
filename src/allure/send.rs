//! Sending one API call: its URL checked, its attempts, retries and re-authentication
//! within the deadline, its answer read within the size cap, and upstream's errors
//! turned into [`AllureError`]s.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::Method;
use url::Url;

use super::error::{self, AllureError};
use super::retry::RetryPolicy;
use super::{AllureClient, Answer, Body, UpstreamEvent, auth, unix_ms};

impl AllureClient {
    /// Sends one API call (`path` is below the API prefix, e.g. `/launch/1`) within the
    /// configured deadline. 200/201/202/204 are success whatever the body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Body>,
    ) -> Result<Answer, AllureError> {
        self.send_within(method, path, query, body, Read::Whole)
            .await
    }

    /// A `GET` that reads at most the first `keep` bytes of the body (the answer says
    /// whether it was cut, and the announced length): for attachments, whose size may
    /// be anything and of which a model needs only the start.
    pub async fn send_head(
        &self,
        path: &str,
        query: &[(&str, String)],
        keep: usize,
    ) -> Result<Answer, AllureError> {
        self.send_within(Method::GET, path, query, None, Read::Head(keep))
            .await
    }

    async fn send_within(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Body>,
        read: Read,
    ) -> Result<Answer, AllureError> {
        let deadline = self.inner.timeout;
        match tokio::time::timeout(
            deadline,
            self.send_inner(&method, path, query, body.as_ref(), read),
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

    /// The attempts of one call: retried (GET and HEAD only) while the policy and the
    /// deadline allow, re-authenticated once on a 401.
    async fn send_inner(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Body>,
        read: Read,
    ) -> Result<Answer, AllureError> {
        let url = self.api_url(method, path)?;
        let idempotent = matches!(*method, Method::GET | Method::HEAD);
        let started = Instant::now();
        let mut waited = Duration::ZERO;
        let mut attempt = 0u32;
        let mut reauthenticated = false;
        loop {
            attempt += 1;
            let credential = self.credential().await?;
            let attempt_started = Instant::now();
            let answered = match self.attempt(method, &url, query, body, &credential).await {
                Ok(response) => response,
                Err(e) => {
                    // No answer arrived: a refused connect, or a pooled connection the other
                    // side had closed. Safe to repeat for GET/HEAD; a timeout is not retried,
                    // the deadline is the caller's patience.
                    let retryable = e.is_connect() || (e.is_request() && !e.is_timeout());
                    tracing::debug!(
                        target: "allure_mcp::allure",
                        %method, path, attempt, error = %describe_transport_error(&e), "upstream call failed"
                    );
                    let why = || describe_transport_error(&e);
                    if idempotent
                        && retryable
                        && self
                            .back_off((method, path, why), attempt, &mut waited, None, started)
                            .await
                    {
                        continue;
                    }
                    return Err(self.transport_error(method, path, &e, ""));
                }
            };
            let status = answered.status().as_u16();
            self.mark_answer(status);
            let (retry_after, location) = (retry_after(&answered), location(&answered));
            // An error answer is read only for its message.
            let read = if (200..300).contains(&status) {
                read
            } else {
                Read::Head(ERROR_BODY_KEEP)
            };
            let result = self.read_body(method, path, answered, read).await;
            let took = attempt_started.elapsed();
            if took >= super::SLOW_ANSWER {
                self.tell(|| UpstreamEvent::Slow {
                    method: method.to_string(),
                    path: path.to_owned(),
                    took,
                });
            }
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
                self.auth.invalidate(jwt);
                reauthenticated = true;
                self.tell(|| UpstreamEvent::Reauthenticated {
                    method: method.to_string(),
                    path: path.to_owned(),
                });
                attempt -= 1;
                continue;
            }
            let answer = match result {
                Ok(answer) => answer,
                Err(e) => {
                    // An answer that broke off may come whole next time; one too large won't.
                    let broke_off = matches!(e, AllureError::Transport { .. });
                    let why = || "the answer broke off".to_owned();
                    if idempotent
                        && broke_off
                        && self
                            .back_off((method, path, why), attempt, &mut waited, None, started)
                            .await
                    {
                        continue;
                    }
                    return Err(e);
                }
            };
            if (200..300).contains(&status) {
                return Ok(answer);
            }
            let hint = retry_after.map(Duration::from_secs);
            let why = || format!("HTTP {status}");
            if idempotent
                && RetryPolicy::is_retryable_status(status)
                && self
                    .back_off((method, path, why), attempt, &mut waited, hint, started)
                    .await
            {
                continue;
            }
            return Err(self.status_error(
                method,
                path,
                &answer,
                retry_after,
                location,
                &credential,
            ));
        }
    }

    /// One request with the credential; the response with its headers, body unread.
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        query: &[(&str, String)],
        body: Option<&Body>,
        credential: &auth::Credential,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut request = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::AUTHORIZATION, credential.header.clone());
        if !query.is_empty() {
            request = request.query(query);
        }
        match body {
            Some(Body::Json(v)) => request = request.json(v),
            Some(Body::File {
                field,
                name,
                content_type,
                bytes,
            }) => {
                let (boundary, form) = Body::multipart(field, name, content_type, bytes);
                request = request
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        format!("multipart/form-data; boundary={boundary}"),
                    )
                    .body(form);
            }
            None => {}
        }
        request.send().await
    }

    /// The error of a call answered with a non-2xx status, its message taken from the
    /// answer: redacted before it is cut, since a cut could split a secret past
    /// recognition.
    fn status_error(
        &self,
        method: &Method,
        path: &str,
        answer: &Answer,
        retry_after: Option<u64>,
        location: Option<String>,
        credential: &auth::Credential,
    ) -> AllureError {
        let message = if (300..400).contains(&answer.status) {
            redirect_message(location.as_deref())
        } else {
            let text = String::from_utf8_lossy(&answer.body);
            let text = self.auth.redact_sent(&text, credential.jwt.as_deref());
            error::extract_message(text.as_bytes())
        };
        AllureError::Status {
            method: method.to_string(),
            path: path.to_owned(),
            status: answer.status,
            message,
            retry_after,
        }
    }

    /// The URL of an API call, checked after the URL parser has resolved every dot
    /// segment (`/./`, `/%2e%2e/`): it must stay on the configured origin and below the
    /// API prefix, whatever a caller put into `path`.
    fn api_url(&self, method: &Method, path: &str) -> Result<Url, AllureError> {
        let url = Url::parse(&format!("{}{}", self.inner.api_base, path));
        match url {
            Ok(u)
                if u.origin() == self.inner.origin
                    && u.path().starts_with(&self.inner.api_path) =>
            {
                Ok(u)
            }
            _ => Err(AllureError::OutsideApi {
                method: method.to_string(),
                path: error::truncate(path, 120),
            }),
        }
    }

    /// Reads an answer (status, type, length and body) with its body within
    /// `ALLURE_MAX_BODY_BYTES`: refused up front when its
    /// announced length is over, cut off while streaming when it grows over; or, for
    /// [`Read::Head`], only its first bytes.
    async fn read_body(
        &self,
        method: &Method,
        path: &str,
        mut response: reqwest::Response,
        read: Read,
    ) -> Result<Answer, AllureError> {
        let too_large = || AllureError::TooLarge {
            method: method.to_string(),
            path: path.to_owned(),
            limit: self.inner.max_body,
        };
        let keep = match read {
            Read::Whole => {
                if response
                    .content_length()
                    .is_some_and(|n| n > self.inner.max_body as u64)
                {
                    return Err(too_large());
                }
                None
            }
            Read::Head(n) => Some(n.min(self.inner.max_body)),
        };
        // Taken before the body is read: reqwest's content_length() shrinks as it is.
        let (status, content_length) = (response.status().as_u16(), response.content_length());
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let done = |buf: bytes::BytesMut, cut: bool| Answer {
            status,
            body: buf.freeze(),
            content_type,
            content_length,
            cut,
        };
        let mut buf = bytes::BytesMut::new();
        loop {
            let chunk = response
                .chunk()
                .await
                .map_err(|e| self.transport_error(method, path, &e, "the answer broke off: "))?;
            let Some(chunk) = chunk else {
                return Ok(done(buf, false));
            };
            buf.extend_from_slice(&chunk);
            match keep {
                Some(n) if buf.len() >= n => {
                    buf.truncate(n);
                    // Dropping the response closes the connection: the rest is never read.
                    return Ok(done(buf, true));
                }
                None if buf.len() > self.inner.max_body => return Err(too_large()),
                _ => {}
            }
        }
    }

    /// Waits before another attempt, if the policy allows one and the wait ends before
    /// the call's deadline: a retry the deadline would cut off is not started, so the
    /// caller reports what upstream said (a 429, a 503), not a timeout it did not cause.
    /// `call` (method, path, why it failed) is for the [`UpstreamEvent::Retry`] told
    /// before the wait.
    async fn back_off(
        &self,
        (method, path, why): (&Method, &str, impl FnOnce() -> String),
        attempt: u32,
        waited: &mut Duration,
        hint: Option<Duration>,
        started: Instant,
    ) -> bool {
        let left = self.inner.timeout.saturating_sub(started.elapsed());
        match self.inner.retry.next_delay(attempt, *waited, hint) {
            Some(delay) if delay < left => {
                self.tell(|| UpstreamEvent::Retry {
                    method: method.to_string(),
                    path: path.to_owned(),
                    why: self.redact(&why()).into_owned(),
                    attempt,
                    delay,
                });
                tokio::time::sleep(delay).await;
                *waited += delay;
                true
            }
            _ => false,
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

    fn mark_answer(&self, status: u16) {
        if let Some(f) = self.inner.observer.get() {
            f(status);
        }
        self.inner
            .last_answer_ms
            .store(unix_ms(), Ordering::Relaxed);
    }
}

/// A `Retry-After` in seconds, if the answer has one.
fn retry_after(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Where a redirect points, if the answer is one.
fn location(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// How much of an answer to read.
#[derive(Debug, Clone, Copy)]
pub(super) enum Read {
    /// All of it, within `ALLURE_MAX_BODY_BYTES`.
    Whole,
    /// The first bytes only.
    Head(usize),
}

/// How much of an error answer is read: its message is cut to a few hundred bytes anyway.
const ERROR_BODY_KEEP: usize = 64 * 1024;

/// What a model is told about a redirect that was not followed.
fn redirect_message(location: Option<&str>) -> String {
    let to = location
        .and_then(|l| Url::parse(l).ok())
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|| "another place".into());
    format!(
        "a redirect to {to} was not followed (redirects may not leave ALLURE_BASE_URL); check ALLURE_BASE_URL (scheme, host and path)"
    )
}

/// A short, URL-free description of a transport failure.
pub(super) fn describe_transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        // The chain says why: refused, no such host, or a TLS handshake that failed (an
        // untrusted certificate is a connect error too, and must not read as "down").
        let why = std::error::Error::source(e)
            .map(|s| format!(": {}", crate::error_chain(s)))
            .unwrap_or_default();
        format!("could not connect{why} (is ALLURE_BASE_URL right and the instance up?)")
    } else {
        // reqwest's own text is generic ("error sending request"): the whole chain says why.
        // Its own line names the URL; the sources below it do not.
        match std::error::Error::source(e) {
            Some(source) => format!("connection error: {}", crate::error_chain(source)),
            None => "connection error".into(),
        }
    }
}
