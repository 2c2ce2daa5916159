//! Transports that carry MCP to clients: stdio (the default), and with `--http`
//! Streamable HTTP plus the legacy HTTP+SSE pair.

pub mod http;
pub mod listener;
pub mod sse;
pub mod stdio;

/// The JSON body of every refusal the HTTP transports make: a code and a sentence.
pub(crate) fn json_error(
    status: axum::http::StatusCode,
    error: &str,
    message: &str,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        status,
        axum::Json(serde_json::json!({"error": error, "message": message})),
    )
        .into_response()
}
