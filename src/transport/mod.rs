//! Transports that carry MCP to clients: stdio (the default), and with `--http`
//! Streamable HTTP plus the legacy HTTP+SSE pair.

pub mod http;
pub mod sse;
pub mod stdio;
