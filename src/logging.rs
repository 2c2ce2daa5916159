//! Logging: JSON lines on stderr (stdout belongs to the protocol in stdio mode).

use tracing_subscriber::EnvFilter;

/// Starts the global subscriber at `level` for our crate. Libraries are held at `info`
/// at most: their trace output is noise, and an HTTP library at trace is the classic
/// place a header (and so a token) ends up in a log.
pub fn init(level: &str) {
    let filter = EnvFilter::new(format!(
        "warn,allure_mcp={level},rmcp={lib},hyper=warn,reqwest=warn,h2=warn,rustls=warn",
        lib = if level == "trace" || level == "debug" {
            "info"
        } else {
            "warn"
        }
    ));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
