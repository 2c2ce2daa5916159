//! MCP over stdin/stdout, as desktop clients start us. stdout carries only the protocol:
//! every log line goes to stderr.

use rmcp::ServiceExt;

use crate::server::AllureMcp;

/// Errors of the stdio transport.
#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    #[error("MCP session failed to start: {0}")]
    Start(String),
    #[error("MCP session ended abnormally: {0}")]
    Run(String),
}

/// Serves one session on stdin/stdout until the client closes it.
pub async fn serve(server: AllureMcp) -> Result<(), StdioError> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| StdioError::Start(e.to_string()))?;
    let reason = running
        .waiting()
        .await
        .map_err(|e| StdioError::Run(e.to_string()))?;
    tracing::info!(reason = ?reason, "stdio session ended");
    Ok(())
}
