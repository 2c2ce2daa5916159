//! allure-mcp: an MCP server for Allure TestOps.
//!
//! The map, one room per concern:
//! - [`allure`]: the REST client (JWT exchange, retries, typed errors). Knows nothing of MCP.
//! - [`tools`]: the tool registry and one module per Allure area; transport-agnostic.
//! - `server`: the MCP handler that routes requests to the registry.
//! - `prompts`: prompts, the AQL guide resource, and argument completion.
//! - `transport`: how MCP reaches clients: stdio, Streamable HTTP, legacy HTTP+SSE.
//! - `security`: HTTP-mode authentication, client addresses, Host and Origin checks.
//! - `metrics`: Prometheus metrics of tool calls, upstream answers and sessions.
//! - [`config`]: flags, environment, secret files, validation.
//! - [`systemd`]: socket activation, the notify protocol, credential refresh for reloads.
//! - [`app`]: wiring a configuration into a running server; `reload`: what SIGHUP re-reads.
//! - [`check`]: `allure-mcp check`, which verifies each link to Allure TestOps.
//! - [`logging`]: JSON lines on stderr.
//!
//! The fake Allure TestOps that tests, benchmarks and `--demo` use is its own crate,
//! `crates/fake-testops`.

pub mod allure;
pub mod app;
mod ask;
pub mod check;
pub mod config;
pub mod logging;
mod metrics;
mod prompts;
mod reload;
mod security;
mod server;
pub mod systemd;
mod tasks;
pub mod tools;
mod transport;
mod watch;

/// An error and every source below it, `top: cause: root cause`, for the places errors
/// reach a person (start-up failures, `check`, tool errors): the top line alone is often
/// generic ("builder error", "error sending request"). A source whose text the one above
/// already contains is left out, so nothing is said twice.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
