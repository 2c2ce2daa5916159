//! `X-Allure-Token`: a caller's own Allure TestOps API token, taken by
//! `ALLURE_TOKEN_SOURCE`. The header is taken off the request here, so nothing after
//! this layer (the transports, the audit line, a log of headers) ever sees it; the token
//! goes on only as a [`CallerToken`] the tool call speaks to TestOps with.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::state::AppState;
use crate::config::TokenSource;
use crate::security::CallerToken;
use crate::transport::json_error;

pub(super) const HEADER: &str = "x-allure-token";

/// The longest token accepted: Allure's are UUIDs; this leaves room and no more.
const MAX_LEN: usize = 512;
/// The shortest: Allure's tokens are 36 characters, and a short one would escape the
/// redaction of echoed secrets.
const MIN_LEN: usize = 16;

pub(super) async fn caller_token(
    State(st): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    // The scraper's endpoint speaks to nobody upstream.
    if req.uri().path() == "/metrics" {
        return next.run(req).await;
    }
    let sent = req.headers_mut().remove(HEADER);
    match (st.cfg.token_source, sent) {
        (TokenSource::Service, Some(_)) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "caller_token_refused",
                "this server speaks to Allure TestOps with its own token (ALLURE_TOKEN_SOURCE=service); remove the X-Allure-Token header",
            );
        }
        (TokenSource::Caller, None) => {
            return json_error(
                StatusCode::UNAUTHORIZED,
                "allure_token_missing",
                "send your Allure TestOps API token in the X-Allure-Token header (make one in TestOps: profile → API tokens)",
            );
        }
        (_, Some(v)) => {
            let token = v
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|t| (MIN_LEN..=MAX_LEN).contains(&t.len()))
                .filter(|t| t.bytes().all(|b| b.is_ascii_graphic()));
            let Some(token) = token else {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "allure_token_malformed",
                    "the X-Allure-Token header must hold one Allure TestOps API token (printable ASCII, 16 to 512 characters)",
                );
            };
            req.extensions_mut()
                .insert(CallerToken(secrecy::SecretString::from(token.to_owned())));
        }
        (_, None) => {}
    }
    next.run(req).await
}
