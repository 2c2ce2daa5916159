//! Transports that carry MCP to clients. stdio is the default; HTTP arrives with `--http`.

pub mod stdio;
