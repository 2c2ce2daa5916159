//! The command line: every setting as a typed flag with its environment variable and
//! default, checked by the value parsers below as clap reads it.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser, Subcommand};

use super::parse::{
    Cidrs, MaybeProject, Toolsets, api_prefix, auth_mode, boolean, cidrs, ip_addr, log_format,
    log_level, number, project_id, seconds, token_source, toolsets,
};
use crate::allure::AuthMode;
use crate::logging::{LogFormat, LogLevel};

/// Command line. Every setting has a flag and an environment variable; the flag wins.
#[derive(Debug, Parser)]
#[command(
    name = "allure-mcp",
    version,
    about = "MCP server for Allure TestOps: launches, test results, AQL search, test cases and CI runs.",
    long_about = None,
    after_help = "Secrets also come from files: ALLURE_TOKEN_FILE, MCP_AUTH_TOKEN_FILE, or the systemd credentials \
                  `allure-token` and `mcp-auth-token` in $CREDENTIALS_DIRECTORY. A .env file in the working \
                  directory is read; the real environment wins."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Allure TestOps root URL (http or https), e.g. https://testops.example.com
    #[arg(long, env = "ALLURE_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,

    /// Allure API token (a service account's token; it has that user's rights)
    #[arg(
        long,
        env = "ALLURE_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,

    /// File holding the Allure API token
    #[arg(long, env = "ALLURE_TOKEN_FILE", value_name = "PATH")]
    pub token_file: Option<PathBuf>,

    /// Over HTTP, whose Allure token a call uses: service (ALLURE_TOKEN), caller (each
    /// caller's own, in the X-Allure-Token header) or either
    #[arg(long, env = "ALLURE_TOKEN_SOURCE", default_value = "service", value_name = "SOURCE", value_parser = token_source)]
    pub token_source: super::http::TokenSource,

    /// Seconds one Allure call may take, retries included (1..=600)
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "30", value_name = "SECONDS", value_parser = seconds(1, 600))]
    pub request_timeout: Duration,

    /// error | warn | info | debug | trace
    #[arg(long, env = "LOG_LEVEL", default_value = "info", value_parser = log_level)]
    pub log_level: LogLevel,

    /// json | journald | text | auto (journald when stderr is the journal, else json)
    #[arg(long, env = "LOG_FORMAT", default_value = "auto", value_parser = log_format)]
    pub log_format: LogFormat,

    /// HTTP port (with --http); 0 picks a free one
    #[arg(long, env = "PORT", default_value = "3000", value_parser = number(0u16, u16::MAX))]
    pub port: u16,

    /// Bearer token MCP HTTP clients must send (with --http)
    #[arg(
        long,
        env = "MCP_AUTH_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub mcp_auth_token: Option<String>,

    /// File holding the MCP bearer token
    #[arg(long, env = "MCP_AUTH_TOKEN_FILE", value_name = "PATH")]
    pub mcp_auth_token_file: Option<PathBuf>,

    /// Browser origins allowed by CORS, comma-separated; none by default (with --http)
    #[arg(long, env = "CORS_ALLOWED_ORIGIN", value_name = "ORIGINS")]
    pub cors_allowed_origin: Option<String>,

    /// API path prefix: /api (current) or /api/rs (old instances)
    #[arg(long, env = "ALLURE_API_PREFIX", default_value = "/api", value_parser = api_prefix)]
    pub api_prefix: String,

    /// jwt (exchange the token, documented) or api-token (send `Api-Token <token>`)
    #[arg(long, env = "ALLURE_AUTH_MODE", default_value = "jwt", value_parser = auth_mode)]
    pub auth_mode: AuthMode,

    /// Project used when a tool call names none
    #[arg(long, env = "ALLURE_PROJECT_ID", value_name = "ID", value_parser = project_id)]
    pub project_id: Option<MaybeProject>,

    /// PEM file with extra CA certificates to trust
    #[arg(long, env = "ALLURE_CA_FILE", value_name = "PATH")]
    pub ca_file: Option<PathBuf>,

    /// Accept any TLS certificate from Allure (lab use only)
    #[arg(long, env = "ALLURE_TLS_INSECURE", default_value = "false", value_name = "BOOL", action = ArgAction::Set, value_parser = boolean)]
    pub tls_insecure: bool,

    /// Toolsets to offer, comma-separated, or `all`; all of them listed from the start
    /// (default: all but raw, sessions starting with projects, launches, results, triage)
    #[arg(long, env = "ALLURE_TOOLSETS", value_name = "LIST", value_parser = toolsets)]
    pub toolsets: Option<Toolsets>,

    /// Without ALLURE_TOOLSETS: start sessions with the daily toolsets and let the model
    /// turn on the rest (enable_toolset); false lists every tool from the start
    #[arg(long, env = "ALLURE_DYNAMIC_TOOLSETS", default_value = "true", value_name = "BOOL", action = ArgAction::Set, value_parser = boolean)]
    pub dynamic_toolsets: bool,

    /// Offer only tools that change nothing
    #[arg(long, env = "ALLURE_READ_ONLY", default_value = "false", value_name = "BOOL", action = ArgAction::Set, value_parser = boolean)]
    pub read_only: bool,

    /// Serve MCP over HTTP instead of stdio
    #[arg(long)]
    pub http: bool,

    /// Address to listen on (with --http)
    #[arg(long, env = "BIND", default_value = "127.0.0.1", value_parser = ip_addr)]
    pub bind: IpAddr,

    /// Named bearer tokens `name:token,…` (with --http); the name is logged, never the token
    #[arg(
        long,
        env = "MCP_AUTH_TOKENS",
        hide_env_values = true,
        value_name = "LIST"
    )]
    pub mcp_auth_tokens: Option<String>,

    /// File with one `name:token` per line
    #[arg(long, env = "MCP_AUTH_TOKENS_FILE", value_name = "PATH")]
    pub mcp_auth_tokens_file: Option<PathBuf>,

    /// Host names clients may use (DNS-rebinding guard), comma-separated; default: loopback names and the bind address
    #[arg(long, env = "ALLOWED_HOSTS", value_name = "HOSTS")]
    pub allowed_hosts: Option<String>,

    /// Requests per second allowed per identity (per IP before auth): a flood guard, set
    /// far above what a working client sends (SECURITY.md says why)
    #[arg(long, env = "RATE_LIMIT_PER_SECOND", default_value = "100", value_parser = number(1u32, 1_000_000))]
    pub rate_limit_per_second: u32,

    /// Burst allowed above the rate
    #[arg(long, env = "RATE_LIMIT_BURST", default_value = "500", value_parser = number(1u32, 1_000_000))]
    pub rate_limit_burst: u32,

    /// Client networks allowed, CIDR comma list (default: all)
    #[arg(long, env = "ALLOWED_CIDRS", value_name = "CIDRS", value_parser = cidrs)]
    pub allowed_cidrs: Option<Cidrs>,

    /// Reverse proxies whose X-Forwarded-For is believed, CIDR comma list
    #[arg(long, env = "TRUSTED_PROXIES", value_name = "CIDRS", value_parser = cidrs)]
    pub trusted_proxies: Option<Cidrs>,

    /// Largest request body in bytes
    #[arg(long, env = "MAX_BODY_BYTES", default_value = "4194304", value_parser = number(1024usize, 1 << 30))]
    pub max_body_bytes: usize,

    /// Seconds an HTTP request may take until its response starts
    #[arg(long, env = "HTTP_REQUEST_TIMEOUT", default_value = "120", value_parser = seconds(1, 3600))]
    pub http_request_timeout: Duration,

    /// Requests served at once; more get 503
    #[arg(long, env = "MAX_CONCURRENT_REQUESTS", default_value = "512", value_parser = number(1usize, 1_000_000))]
    pub max_concurrent_requests: usize,

    /// Open MCP sessions (Streamable HTTP and SSE together); more get 503
    #[arg(long, env = "MAX_SESSIONS", default_value = "1000", value_parser = number(1usize, 1_000_000))]
    pub max_sessions: usize,

    /// Seconds an idle session lives
    #[arg(long, env = "SESSION_IDLE_TIMEOUT", default_value = "1800", value_parser = seconds(1, 86_400))]
    pub session_idle_timeout: Duration,

    /// Seconds in-flight calls get to finish on SIGTERM/SIGINT
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "10", value_parser = seconds(0, 600))]
    pub shutdown_timeout: Duration,

    /// Serve Streamable HTTP without sessions (for round-robin balancers)
    #[arg(long, env = "MCP_STATELESS", default_value = "false", value_name = "BOOL", action = ArgAction::Set, value_parser = boolean)]
    pub mcp_stateless: bool,

    /// Seconds a client may take to send a request's headers; also how long an idle
    /// keep-alive connection stays open (with --http)
    #[arg(long, env = "HTTP_HEADER_TIMEOUT", default_value = "10", value_name = "SECONDS", value_parser = seconds(1, 600))]
    pub http_header_timeout: Duration,

    /// Seconds a connection may move no bytes while no request on it is being handled
    /// (a client that stopped reading its answer); with --http
    #[arg(long, env = "HTTP_IDLE_TIMEOUT", default_value = "60", value_name = "SECONDS", value_parser = seconds(1, 3600))]
    pub http_idle_timeout: Duration,

    /// Open HTTP connections at once; more are closed at once (with --http; never more
    /// than the open-file limit allows)
    #[arg(long, env = "MAX_CONNECTIONS", default_value = "4096", value_parser = number(8usize, 1_000_000))]
    pub max_connections: usize,

    /// Open HTTP connections one client address may hold (trusted proxies excepted)
    #[arg(long, env = "MAX_CONNECTIONS_PER_IP", default_value = "256", value_parser = number(1usize, 1_000_000))]
    pub max_connections_per_ip: usize,

    /// Largest answer read from Allure TestOps, in bytes; larger ones are refused unread
    #[arg(long, env = "ALLURE_MAX_BODY_BYTES", default_value = "33554432", value_name = "BYTES", value_parser = number(64usize * 1024, 1 << 30))]
    pub allure_max_body_bytes: usize,

    /// Directory whose files attachment tools may read and write, over stdio only
    #[arg(long, env = "ALLURE_FILES_DIR", value_name = "DIR")]
    pub files_dir: Option<PathBuf>,

    /// Seconds wait_for_launch waits at least between two checks of Allure TestOps
    #[arg(long, env = "MIN_POLL_INTERVAL", default_value = "5", value_name = "SECONDS", value_parser = seconds(1, 60))]
    pub min_poll_interval: Duration,

    /// wait_for_launch calls one client (identity) may run at once
    #[arg(long, env = "MAX_WAITS_PER_IDENTITY", default_value = "4", value_parser = number(1usize, 1000))]
    pub max_waits_per_identity: usize,

    /// PEM certificate chain: serve HTTPS (with --http; also the `tls-cert` credential);
    /// re-read on SIGHUP
    #[arg(long, env = "TLS_CERT_FILE", value_name = "PATH")]
    pub tls_cert_file: Option<PathBuf>,

    /// PEM private key of TLS_CERT_FILE (also the `tls-key` credential)
    #[arg(long, env = "TLS_KEY_FILE", value_name = "PATH")]
    pub tls_key_file: Option<PathBuf>,

    /// OAuth: issuer(s) whose access tokens are accepted, comma-separated, exactly as
    /// they write `iss` (turns on the MCP authorization flow for remote clients)
    #[arg(long, env = "OAUTH_ISSUER", value_name = "URLS")]
    pub oauth_issuer: Option<String>,

    /// OAuth: this server's canonical URL, e.g. https://mcp.example.com/mcp; tokens
    /// must name it in `aud`
    #[arg(long, env = "OAUTH_RESOURCE", value_name = "URL")]
    pub oauth_resource: Option<String>,

    /// OAuth: other `aud` values accepted for this server (a provider that cannot use
    /// the URL), comma-separated
    #[arg(long, env = "OAUTH_AUDIENCE", value_name = "LIST")]
    pub oauth_audience: Option<String>,

    /// OAuth: scopes this server knows (space- or comma-separated); a token needs one
    #[arg(long, env = "OAUTH_SCOPES", value_name = "LIST")]
    pub oauth_scopes: Option<String>,

    /// OAuth: the claim shown as the caller's name beside its subject
    #[arg(
        long,
        env = "OAUTH_NAME_CLAIM",
        default_value = "preferred_username",
        value_name = "CLAIM"
    )]
    pub oauth_name_claim: String,

    /// OAuth: this server's client id at the provider, for introspecting opaque tokens
    /// (RFC 7662); JWTs need none
    #[arg(long, env = "OAUTH_CLIENT_ID", value_name = "ID")]
    pub oauth_client_id: Option<String>,

    /// OAuth: the secret of OAUTH_CLIENT_ID (or OAUTH_CLIENT_SECRET_FILE, or the
    /// `oauth-client-secret` credential)
    #[arg(
        long,
        env = "OAUTH_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub oauth_client_secret: Option<String>,

    /// File holding OAUTH_CLIENT_SECRET
    #[arg(long, env = "OAUTH_CLIENT_SECRET_FILE", value_name = "PATH")]
    pub oauth_client_secret_file: Option<PathBuf>,

    /// Role and toolsets per identity: `<who> <role> [toolsets]` per line or `;`-separated
    /// (who: a token name, sub:<subject>, scope:<scope> or *; role: read or write)
    #[arg(long, env = "MCP_PERMISSIONS", value_name = "TABLE")]
    pub mcp_permissions: Option<String>,

    /// File with the MCP_PERMISSIONS table (also the `mcp-permissions` credential)
    #[arg(long, env = "MCP_PERMISSIONS_FILE", value_name = "PATH")]
    pub mcp_permissions_file: Option<PathBuf>,

    /// Allow --http on a non-loopback address without any MCP token, or with
    /// CORS_ALLOWED_ORIGIN=* and no token
    #[arg(long)]
    pub allow_unauthenticated: bool,

    /// Serve against a built-in fake Allure TestOps with sample data (no account needed)
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Subcommand, Clone, PartialEq, Eq)]
pub enum Command {
    /// Check the configuration and the connection to Allure TestOps, then exit
    Check,
    /// Serve against the built-in fake Allure TestOps with sample data
    Demo,
    /// For `ExecReload=+`: copy rotated token files to a running service and signal it
    RefreshCredentials {
        /// The service's main process ($MAINPID)
        #[arg(long)]
        pid: u32,
        /// Where the token files are kept (as allure-token, mcp-auth-token, mcp-auth-tokens)
        #[arg(long, default_value = "/etc/allure-mcp")]
        from: PathBuf,
        /// A credential kept elsewhere: `name=/path` (repeatable; wins over --from)
        #[arg(long = "credential", value_name = "NAME=PATH")]
        credentials: Vec<String>,
        /// The service's RuntimeDirectory
        #[arg(long, default_value = "/run/allure-mcp")]
        runtime_dir: PathBuf,
    },
}
