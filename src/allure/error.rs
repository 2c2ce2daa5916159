//! Errors of the Allure TestOps client: what was asked, what came back, and nothing secret.

use std::time::Duration;

/// How long an upstream message may be before we cut it: Allure sometimes answers
/// with whole stack traces, and every byte we pass on ends in a model's context.
const MAX_MESSAGE: usize = 300;

/// A failed call to Allure TestOps. Each variant names the method and path (never the
/// query values of secrets: tokens travel in headers and form bodies only).
#[derive(Debug, thiserror::Error)]
pub enum AllureError {
    /// Allure answered with a non-success status.
    #[error("{method} {path} answered {status}{}", fmt_message(.message))]
    Status {
        method: String,
        path: String,
        status: u16,
        message: String,
        /// Seconds from `Retry-After`, when Allure sent one with a 429/503.
        retry_after: Option<u64>,
    },
    /// The whole call, retries included, took longer than `REQUEST_TIMEOUT`.
    #[error("{method} {path} got no answer within {}s", .timeout.as_secs())]
    Timeout {
        method: String,
        path: String,
        timeout: Duration,
    },
    /// No connection could be made, or it broke before an answer arrived.
    #[error("{method} {path} failed: {detail}")]
    Transport {
        method: String,
        path: String,
        detail: String,
    },
    /// Allure answered 2xx but the body was not what its API describes.
    #[error("{method} {path} answered with an unexpected body: {detail}")]
    Decode {
        method: String,
        path: String,
        detail: String,
    },
    /// The API token could not be exchanged for a JWT.
    #[error("token exchange failed: {0}")]
    Auth(String),
    /// The client could not be set up (TLS roots, CA file): a configuration problem,
    /// already phrased as `VARIABLE: problem; fix`.
    #[error("{0}")]
    Setup(String),
    /// The answer is larger than `ALLURE_MAX_BODY_BYTES`; it was not read.
    #[error("{method} {path} answered with more than {limit} bytes (ALLURE_MAX_BODY_BYTES)")]
    TooLarge {
        method: String,
        path: String,
        limit: usize,
    },
    /// The path would leave the API prefix once its dot segments are resolved; nothing
    /// was sent.
    #[error("{method} {path} would leave the Allure TestOps API prefix; nothing was sent")]
    OutsideApi { method: String, path: String },
}

fn fmt_message(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

impl AllureError {
    /// The HTTP status, where Allure answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            AllureError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for a 404 from Allure.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// Pulls a human message out of an Allure error body. There is no error schema:
/// Spring's default (`message`, `error`) is common, some endpoints send plain text.
pub(crate) fn extract_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let from_json = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let pick = |k: &str| {
                v.get(k)
                    .and_then(|m| m.as_str())
                    .filter(|m| !m.trim().is_empty())
                    .map(str::to_owned)
            };
            pick("message")
                .or_else(|| pick("error_description"))
                .or_else(|| pick("error"))
                .or_else(|| {
                    // Validation errors: {"errors":[{"message": ...}]}
                    v.get("errors")?
                        .as_array()?
                        .iter()
                        .find_map(|e| e.get("message").and_then(|m| m.as_str()).map(str::to_owned))
                })
        });
    let raw = from_json.unwrap_or_else(|| text.trim().to_owned());
    truncate(
        &raw.split_whitespace().collect::<Vec<_>>().join(" "),
        MAX_MESSAGE,
    )
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spring_error_body_gives_its_message() {
        let body = br#"{"timestamp":1,"status":404,"error":"Not Found","message":"Launch not found","path":"/api/launch/9"}"#;
        assert_eq!(extract_message(body), "Launch not found");
    }

    #[test]
    fn plain_text_and_long_bodies_are_cut() {
        let long = "x".repeat(1000);
        let m = extract_message(long.as_bytes());
        assert!(m.len() <= MAX_MESSAGE + "…".len());
        assert!(m.ends_with('…'));
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("ééé", 3), "é…");
    }
}
