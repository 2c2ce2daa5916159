//! Configuration: flags, environment (the Go server's names kept), `.env`, secret
//! files and systemd credentials, validated into one [`Config`].
//!
//! A bad setting is one line naming the variable, what is wrong and how to fix it,
//! and exit code 2: never a panic or a backtrace.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand};
use secrecy::SecretString;
use url::Url;

use crate::allure::{AuthMode, ClientOptions, RetryPolicy};
use crate::tools::Toolset;

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

    /// Seconds one Allure call may take, retries included (1..=600)
    #[arg(
        long,
        env = "REQUEST_TIMEOUT",
        default_value = "30",
        value_name = "SECONDS"
    )]
    pub request_timeout: String,

    /// error | warn | info | debug | trace
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// json | journald | text | auto (journald when stderr is the journal, else json)
    #[arg(long, env = "LOG_FORMAT", default_value = "auto")]
    pub log_format: String,

    /// HTTP port (with --http); 0 picks a free one
    #[arg(long, env = "PORT", default_value = "3000")]
    pub port: String,

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
    #[arg(long, env = "ALLURE_API_PREFIX", default_value = "/api")]
    pub api_prefix: String,

    /// jwt (exchange the token, documented) or api-token (send `Api-Token <token>`)
    #[arg(long, env = "ALLURE_AUTH_MODE", default_value = "jwt")]
    pub auth_mode: String,

    /// Project used when a tool call names none
    #[arg(long, env = "ALLURE_PROJECT_ID", value_name = "ID")]
    pub project_id: Option<String>,

    /// PEM file with extra CA certificates to trust
    #[arg(long, env = "ALLURE_CA_FILE", value_name = "PATH")]
    pub ca_file: Option<PathBuf>,

    /// Accept any TLS certificate from Allure (lab use only)
    #[arg(
        long,
        env = "ALLURE_TLS_INSECURE",
        default_value = "false",
        value_name = "BOOL"
    )]
    pub tls_insecure: String,

    /// Toolsets to offer, comma-separated, or `all` (default: all but raw)
    #[arg(long, env = "ALLURE_TOOLSETS", value_name = "LIST")]
    pub toolsets: Option<String>,

    /// Offer only tools that change nothing
    #[arg(
        long,
        env = "ALLURE_READ_ONLY",
        default_value = "false",
        value_name = "BOOL"
    )]
    pub read_only: String,

    /// Serve MCP over HTTP instead of stdio
    #[arg(long)]
    pub http: bool,

    /// Address to listen on (with --http)
    #[arg(long, env = "BIND", default_value = "127.0.0.1")]
    pub bind: String,

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

    /// Requests per second allowed per identity (per IP before auth)
    #[arg(long, env = "RATE_LIMIT_PER_SECOND", default_value = "10")]
    pub rate_limit_per_second: String,

    /// Burst allowed above the rate
    #[arg(long, env = "RATE_LIMIT_BURST", default_value = "20")]
    pub rate_limit_burst: String,

    /// Client networks allowed, CIDR comma list (default: all)
    #[arg(long, env = "ALLOWED_CIDRS", value_name = "CIDRS")]
    pub allowed_cidrs: Option<String>,

    /// Reverse proxies whose X-Forwarded-For is believed, CIDR comma list
    #[arg(long, env = "TRUSTED_PROXIES", value_name = "CIDRS")]
    pub trusted_proxies: Option<String>,

    /// Largest request body in bytes
    #[arg(long, env = "MAX_BODY_BYTES", default_value = "4194304")]
    pub max_body_bytes: String,

    /// Seconds an HTTP request may take until its response starts
    #[arg(long, env = "HTTP_REQUEST_TIMEOUT", default_value = "120")]
    pub http_request_timeout: String,

    /// Requests served at once; more get 503
    #[arg(long, env = "MAX_CONCURRENT_REQUESTS", default_value = "512")]
    pub max_concurrent_requests: String,

    /// Open MCP sessions (Streamable HTTP and SSE together); more get 503
    #[arg(long, env = "MAX_SESSIONS", default_value = "1000")]
    pub max_sessions: String,

    /// Seconds an idle session lives
    #[arg(long, env = "SESSION_IDLE_TIMEOUT", default_value = "1800")]
    pub session_idle_timeout: String,

    /// Seconds in-flight calls get to finish on SIGTERM/SIGINT
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "10")]
    pub shutdown_timeout: String,

    /// Serve Streamable HTTP without sessions (for round-robin balancers)
    #[arg(
        long,
        env = "MCP_STATELESS",
        default_value = "false",
        value_name = "BOOL"
    )]
    pub mcp_stateless: String,

    /// Seconds a client may take to send a request's headers; also how long an idle
    /// keep-alive connection stays open (with --http)
    #[arg(
        long,
        env = "HTTP_HEADER_TIMEOUT",
        default_value = "10",
        value_name = "SECONDS"
    )]
    pub http_header_timeout: String,

    /// Seconds a connection may move no bytes while no request on it is being handled
    /// (a client that stopped reading its answer); with --http
    #[arg(
        long,
        env = "HTTP_IDLE_TIMEOUT",
        default_value = "60",
        value_name = "SECONDS"
    )]
    pub http_idle_timeout: String,

    /// Open HTTP connections at once; more are closed at once (with --http; never more
    /// than the open-file limit allows)
    #[arg(long, env = "MAX_CONNECTIONS", default_value = "4096")]
    pub max_connections: String,

    /// Open HTTP connections one client address may hold (trusted proxies excepted)
    #[arg(long, env = "MAX_CONNECTIONS_PER_IP", default_value = "256")]
    pub max_connections_per_ip: String,

    /// Largest answer read from Allure TestOps, in bytes; larger ones are refused unread
    #[arg(
        long,
        env = "ALLURE_MAX_BODY_BYTES",
        default_value = "33554432",
        value_name = "BYTES"
    )]
    pub allure_max_body_bytes: String,

    /// Seconds wait_for_launch waits at least between two checks of Allure TestOps
    #[arg(
        long,
        env = "MIN_POLL_INTERVAL",
        default_value = "5",
        value_name = "SECONDS"
    )]
    pub min_poll_interval: String,

    /// wait_for_launch calls one client (identity) may run at once
    #[arg(long, env = "MAX_WAITS_PER_IDENTITY", default_value = "4")]
    pub max_waits_per_identity: String,

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

/// `.env` entries that are never taken, whatever they say: they would change how the
/// process reaches the network (proxies, trust roots) without being settings of this
/// server, and a `.env` may come with any repository a desktop client starts us in.
const DOTENV_REFUSED: [&str; 6] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Settings that decide where the Allure token goes, how it is protected, or what the
/// model may do: taken from a `.env`, they are announced on stderr at every start.
const DOTENV_ANNOUNCED: [&str; 6] = [
    "ALLURE_BASE_URL",
    "ALLURE_CA_FILE",
    "ALLURE_TLS_INSECURE",
    "ALLURE_API_PREFIX",
    "ALLURE_TOOLSETS",
    "ALLURE_READ_ONLY",
];

/// Parses the command line, the environment, and `./.env` (only the working directory's,
/// never a parent's). A `.env` entry fills one of this server's own settings when the
/// real environment does not set it; it never changes the process environment, so no
/// library (HTTP proxies, TLS roots) ever reads it. Returns what should be announced.
pub fn load_cli() -> Result<(Cli, Vec<String>), clap::Error> {
    load_cli_from(std::env::args_os(), Path::new(".env"), |k| {
        std::env::var_os(k).is_some()
    })
}

/// [`load_cli`] with its inputs named, for tests.
pub fn load_cli_from(
    args: impl IntoIterator<Item = std::ffi::OsString>,
    dotenv: &Path,
    in_env: impl Fn(&str) -> bool,
) -> Result<(Cli, Vec<String>), clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let mut cmd = Cli::command();
    let mut notices = Vec::new();
    let entries = read_dotenv(dotenv, &mut notices);
    // dotenvy expands `$VAR` from the real environment: a planted `.env` could copy the
    // real token into a URL (ALLURE_API_PREFIX=/$ALLURE_TOKEN). Entries whose line
    // mentions `$` are not taken.
    let substituted = lines_with_dollar(dotenv);
    let settable: std::collections::HashMap<String, clap::Id> = cmd
        .get_arguments()
        .filter_map(|a| Some((a.get_env()?.to_str()?.to_owned(), a.get_id().clone())))
        .collect();
    let mut refused = Vec::new();
    for (key, value) in entries {
        if DOTENV_REFUSED.iter().any(|r| r.eq_ignore_ascii_case(&key)) {
            refused.push(key);
            continue;
        }
        let Some(id) = settable.get(&key) else {
            continue;
        };
        if in_env(&key) {
            continue;
        }
        if substituted.contains(&key) {
            refused.push(key);
            continue;
        }
        if DOTENV_ANNOUNCED.contains(&key.as_str()) {
            notices.push(format!(
                ".env in the working directory sets {key}={}",
                without_userinfo(&value)
            ));
        }
        // A default, so the real environment and the command line still win; hidden,
        // so `--help` never prints a secret from the file.
        cmd = cmd.mut_arg(id, |a| a.default_value(value).hide_default_value(true));
    }
    if !refused.is_empty() {
        notices.push(format!(
            ".env entries ignored: {} (a .env only fills allure-mcp's own settings, without $ substitution; set proxies and trust roots in the real environment)",
            refused.join(", ")
        ));
    }
    let matches = cmd.try_get_matches_from(args)?;
    Ok((Cli::from_arg_matches(&matches)?, notices))
}

/// Names whose `.env` line contains a `$` (an expansion dotenvy would perform).
fn lines_with_dollar(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| l.contains('$'))
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("export ").unwrap_or(l);
            l.split_once('=').map(|(k, _)| k.trim().to_owned())
        })
        .collect()
}

/// The entries of a `.env` file; a missing file is none, a broken line is announced.
fn read_dotenv(path: &Path, notices: &mut Vec<String>) -> Vec<(String, String)> {
    let iter = match dotenvy::from_path_iter(path) {
        Ok(iter) => iter,
        Err(e) if e.not_found() => return Vec::new(),
        Err(e) => {
            notices.push(format!(".env is not read: {}", crate::error_chain(&e)));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for item in iter {
        match item {
            Ok(pair) => out.push(pair),
            Err(_) => {
                // dotenvy's error quotes the line, which may hold a token: not shown.
                notices.push(
                    ".env is read only up to a line it cannot parse (not shown: it may hold a secret)"
                        .into(),
                );
                break;
            }
        }
    }
    out
}

/// A configuration problem, shown as one line: `VARIABLE: problem; fix`.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}; {fix}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
    pub fix: String,
}

fn bad(var: &'static str, problem: impl Into<String>, fix: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// One MCP bearer token and the name it is known by in logs and metrics.
#[derive(Debug, Clone)]
pub struct NamedToken {
    pub name: String,
    pub token: SecretString,
}

/// HTTP-mode settings (parsed and checked even in stdio mode, so mistakes surface early).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub bind: std::net::IpAddr,
    pub port: u16,
    pub tokens: Vec<NamedToken>,
    /// `None` = no CORS; `Some([])` never happens; `*` is `any_origin`.
    pub cors_origins: Vec<String>,
    pub any_origin: bool,
    pub allowed_hosts: Vec<String>,
    pub rate_per_second: u32,
    pub rate_burst: u32,
    pub allowed_cidrs: Vec<ipnet::IpNet>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub max_concurrent_requests: usize,
    pub max_sessions: usize,
    pub session_idle_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub stateless: bool,
    pub allow_unauthenticated: bool,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
}

/// The shortest MCP token accepted on a socket reachable beyond loopback: a guessable
/// token there is no better than none.
pub const MIN_EXPOSED_TOKEN_LEN: usize = 16;

impl HttpConfig {
    /// Why serving on a socket would expose the Allure token to whoever reaches it: any
    /// web page (`CORS_ALLOWED_ORIGIN=*` without a token), or anyone on the network (no
    /// MCP token beyond loopback, or a short one). Checked for `--http` on `BIND` and
    /// again for a socket systemd passes in; stdio serves no socket and is not checked.
    pub fn exposure_problem(&self, loopback: bool, addr: &str) -> Option<ConfigError> {
        use secrecy::ExposeSecret;
        if self.allow_unauthenticated {
            return None;
        }
        if self.any_origin && self.tokens.is_empty() {
            return Some(bad(
                "CORS_ALLOWED_ORIGIN",
                "* with no MCP token lets any web page a user opens call every tool, writes included",
                "set MCP_AUTH_TOKEN or MCP_AUTH_TOKENS, name the allowed origins, or pass --allow-unauthenticated",
            ));
        }
        if loopback {
            return None;
        }
        if self.tokens.is_empty() {
            return Some(bad(
                "MCP_AUTH_TOKEN",
                format!(
                    "{addr} is reachable beyond loopback and no token is set: anyone on the network could use your Allure token"
                ),
                "set MCP_AUTH_TOKEN or MCP_AUTH_TOKENS (or the mcp-auth-tokens credential), listen on 127.0.0.1, or pass --allow-unauthenticated if a proxy in front authenticates",
            ));
        }
        if let Some(short) = self
            .tokens
            .iter()
            .find(|t| t.token.expose_secret().chars().count() < MIN_EXPOSED_TOKEN_LEN)
        {
            return Some(bad(
                "MCP_AUTH_TOKEN",
                format!(
                    "the token named '{}' is shorter than {MIN_EXPOSED_TOKEN_LEN} characters, and {addr} is reachable beyond loopback",
                    short.name
                ),
                "use long random tokens, e.g. `openssl rand -hex 32`",
            ));
        }
        None
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `None` in demo mode until the fake has started.
    pub allure: Option<ClientOptions>,
    pub log_level: String,
    pub log_format: crate::logging::LogFormat,
    pub port: u16,
    pub mcp_auth_token: Option<SecretString>,
    pub cors_allowed_origins: Vec<String>,
    pub default_project: Option<i64>,
    pub toolsets: Vec<Toolset>,
    pub read_only: bool,
    pub http: bool,
    pub http_config: HttpConfig,
    pub demo: bool,
    pub check: bool,
    pub min_poll_interval: Duration,
    pub max_waits_per_identity: usize,
}

/// Where secrets may come from besides the environment (for tests: a fake credentials dir).
#[derive(Debug, Clone, Default)]
pub struct SecretSources {
    pub credentials_directory: Option<PathBuf>,
    /// Rotated copies written by `refresh-credentials` (`$RUNTIME_DIRECTORY/credentials`);
    /// they win over `LoadCredential=` copies, which systemd does not refresh on reload.
    pub rotated_directory: Option<PathBuf>,
}

impl SecretSources {
    /// `$CREDENTIALS_DIRECTORY`, set by systemd's `LoadCredential=`.
    pub fn from_env() -> Self {
        SecretSources {
            credentials_directory: std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from),
            // systemd may list several directories, colon-separated; ours is the first.
            rotated_directory: std::env::var("RUNTIME_DIRECTORY")
                .ok()
                .and_then(|d| {
                    d.split(':')
                        .next()
                        .map(|d| crate::systemd::rotated_dir(Path::new(d)))
                })
                .filter(|d| d.is_dir()),
        }
    }
}

/// A secret file's content, trailing newline (and whitespace) trimmed. A file that others
/// may read is used, with a warning: refusing it would break running setups.
fn read_secret(var: &'static str, path: &Path) -> Result<SecretString, ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "allure-mcp: WARNING: {var}: {} is readable by group or others (mode {:o}); make it private: chmod 600 {}",
            path.display(),
            meta.permissions().mode() & 0o777,
            path.display()
        );
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        bad(
            var,
            format!("cannot read {}: {e}", path.display()),
            "check the path and that this user may read it",
        )
    })?;
    let trimmed = text.trim_end_matches(['\n', '\r', ' ', '\t']);
    if trimmed.is_empty() {
        return Err(bad(
            var,
            format!("{} is empty", path.display()),
            "put the token in the file",
        ));
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

/// Value, then `*_FILE`, then the systemd credential (a rotated copy first).
fn secret(
    var: &'static str,
    file_var: &'static str,
    credential: &str,
    value: Option<&str>,
    file: Option<&Path>,
    sources: &SecretSources,
) -> Result<Option<SecretString>, ConfigError> {
    if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
        return Ok(Some(SecretString::from(v.trim().to_owned())));
    }
    if let Some(path) = file {
        return read_secret(file_var, path).map(Some);
    }
    if let Some(dir) = &sources.rotated_directory {
        let path = dir.join(credential);
        if path.exists() {
            return read_secret(var, &path).map(Some);
        }
    }
    if let Some(dir) = &sources.credentials_directory {
        let path = dir.join(credential);
        if path.exists() {
            return read_secret(var, &path).map(Some);
        }
    }
    Ok(None)
}

fn parse_bool(var: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        other => Err(bad(
            var,
            format!("'{other}' is not a boolean"),
            "use true or false",
        )),
    }
}

/// Parses and checks `ALLURE_BASE_URL`.
pub fn parse_base_url(raw: &str) -> Result<Url, ConfigError> {
    let var = "ALLURE_BASE_URL";
    let url = Url::parse(raw.trim()).map_err(|e| {
        bad(
            var,
            // Not echoed: a value that does not parse may still carry a password.
            format!("the value is not a URL ({e})"),
            "use the TestOps root, e.g. https://testops.example.com",
        )
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(bad(
            var,
            format!("scheme '{}' is not supported", url.scheme()),
            "use http:// or https://",
        ));
    }
    if url.host_str().is_none() {
        return Err(bad(
            var,
            "the URL has no host",
            "use the TestOps root, e.g. https://testops.example.com",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            var,
            "the URL has a query or fragment",
            "use the TestOps root only",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            var,
            "the URL carries credentials",
            "remove them; use ALLURE_TOKEN",
        ));
    }
    Ok(url)
}

/// `raw` with anything between `scheme://` and its last `@` hidden, for announcing a
/// base URL taken from a `.env` (it may carry a password).
fn without_userinfo(raw: &str) -> String {
    let Some(start) = raw.find("://").map(|i| i + 3) else {
        return raw.to_owned();
    };
    // The last `@` anywhere: a password may hold `/`, `?` or `#` unencoded.
    match raw[start..].rfind('@') {
        Some(at) => format!("{}***@{}", &raw[..start], &raw[start + at + 1..]),
        None => raw.to_owned(),
    }
}

impl Config {
    /// Validates the command line (which already holds the environment's values).
    pub fn from_cli(cli: &Cli, sources: &SecretSources) -> Result<Config, ConfigError> {
        let demo = cli.demo || cli.command == Some(Command::Demo);
        let check = cli.command == Some(Command::Check);

        let timeout: u64 = cli.request_timeout.trim().parse().map_err(|_| {
            bad(
                "REQUEST_TIMEOUT",
                format!("'{}' is not a whole number of seconds", cli.request_timeout),
                "use a value from 1 to 600",
            )
        })?;
        if !(1..=600).contains(&timeout) {
            return Err(bad(
                "REQUEST_TIMEOUT",
                format!("{timeout} is out of range"),
                "use a value from 1 to 600",
            ));
        }
        let log_level = cli.log_level.trim().to_ascii_lowercase();
        if !["error", "warn", "info", "debug", "trace"].contains(&log_level.as_str()) {
            return Err(bad(
                "LOG_LEVEL",
                format!("'{}' is not a level", cli.log_level),
                "use error, warn, info, debug or trace",
            ));
        }
        let port: u16 = cli.port.trim().parse().map_err(|_| {
            bad(
                "PORT",
                format!("'{}' is not a port number", cli.port),
                "use a number from 1 to 65535",
            )
        })?;
        let auth_mode = match cli.auth_mode.trim().to_ascii_lowercase().as_str() {
            "jwt" => AuthMode::Jwt,
            "api-token" | "apitoken" | "api_token" => AuthMode::ApiToken,
            other => {
                return Err(bad(
                    "ALLURE_AUTH_MODE",
                    format!("'{other}' is not a mode"),
                    "use jwt or api-token",
                ));
            }
        };
        let prefix = cli.api_prefix.trim();
        if !prefix.starts_with('/') || prefix.contains(['?', '#', ' ']) {
            return Err(bad(
                "ALLURE_API_PREFIX",
                format!("'{prefix}' is not a path"),
                "use /api or /api/rs",
            ));
        }
        let default_project = match cli
            .project_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(v) => {
                let id: i64 = v.parse().map_err(|_| {
                    bad(
                        "ALLURE_PROJECT_ID",
                        format!("'{v}' is not a project id"),
                        "use the numeric id (list_projects shows them)",
                    )
                })?;
                if id <= 0 {
                    return Err(bad(
                        "ALLURE_PROJECT_ID",
                        format!("{id} is not a project id"),
                        "project ids are positive",
                    ));
                }
                Some(id)
            }
        };
        let tls_insecure = parse_bool("ALLURE_TLS_INSECURE", &cli.tls_insecure)?;
        let read_only = parse_bool("ALLURE_READ_ONLY", &cli.read_only)?;
        if let Some(ca) = &cli.ca_file
            && !ca.is_file()
        {
            return Err(bad(
                "ALLURE_CA_FILE",
                format!("{} is not a readable file", ca.display()),
                "point it at a PEM file",
            ));
        }
        let toolsets = Toolset::parse_list(cli.toolsets.as_deref()).map_err(|e| {
            bad(
                "ALLURE_TOOLSETS",
                e,
                format!("use a comma list of {} or all", Toolset::names().join(", ")),
            )
        })?;

        let mcp_auth_token = secret(
            "MCP_AUTH_TOKEN",
            "MCP_AUTH_TOKEN_FILE",
            "mcp-auth-token",
            cli.mcp_auth_token.as_deref(),
            cli.mcp_auth_token_file.as_deref(),
            sources,
        )?;
        let cors_allowed_origins = cli
            .cors_allowed_origin
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>();
        for origin in &cors_allowed_origins {
            if origin != "*"
                && Url::parse(origin)
                    .map(|u| u.host_str().is_none())
                    .unwrap_or(true)
            {
                return Err(bad(
                    "CORS_ALLOWED_ORIGIN",
                    format!("'{origin}' is not an origin"),
                    "use scheme://host[:port], comma-separated, or *",
                ));
            }
        }

        let allure = if demo {
            None
        } else {
            let raw = cli.base_url.as_deref().map(str::trim).filter(|s| !s.is_empty()).ok_or_else(|| {
                bad("ALLURE_BASE_URL", "not set", "set it to your TestOps root, e.g. ALLURE_BASE_URL=https://testops.example.com (or try --demo)")
            })?;
            let base_url = parse_base_url(raw)?;
            let token = secret("ALLURE_TOKEN", "ALLURE_TOKEN_FILE", "allure-token", cli.token.as_deref(), cli.token_file.as_deref(), sources)?
                .ok_or_else(|| bad("ALLURE_TOKEN", "not set", "create an API token in Allure TestOps (profile → API tokens) and set ALLURE_TOKEN or ALLURE_TOKEN_FILE"))?;
            Some(ClientOptions {
                base_url,
                api_prefix: prefix.to_owned(),
                auth_mode,
                token,
                timeout: Duration::from_secs(timeout),
                retry: RetryPolicy {
                    max_total_wait: Duration::from_secs(timeout.min(10)),
                    ..RetryPolicy::default()
                },
                ca_file: cli.ca_file.clone(),
                tls_insecure,
                max_body_bytes: number(
                    "ALLURE_MAX_BODY_BYTES",
                    &cli.allure_max_body_bytes,
                    64 * 1024,
                    1 << 30,
                )?,
            })
        };

        let http_config = http_config(
            cli,
            port,
            mcp_auth_token.clone(),
            &cors_allowed_origins,
            sources,
        )?;

        let log_format = crate::logging::LogFormat::choose(Some(&cli.log_format))
            .map_err(|e| bad("LOG_FORMAT", e, "use json, journald, text or auto"))?;

        Ok(Config {
            allure,
            log_level,
            log_format,
            port,
            mcp_auth_token,
            cors_allowed_origins,
            default_project,
            toolsets,
            read_only,
            http: cli.http,
            http_config,
            demo,
            check,
            min_poll_interval: Duration::from_secs(number(
                "MIN_POLL_INTERVAL",
                &cli.min_poll_interval,
                1,
                60,
            )?),
            max_waits_per_identity: number(
                "MAX_WAITS_PER_IDENTITY",
                &cli.max_waits_per_identity,
                1,
                1000,
            )?,
        })
    }
}

fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    var: &'static str,
    raw: &str,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    let v: T = raw.trim().parse().map_err(|_| {
        bad(
            var,
            format!("'{raw}' is not a number"),
            format!("use a number from {min} to {max}"),
        )
    })?;
    if v < min || v > max {
        return Err(bad(
            var,
            format!("{v} is out of range"),
            format!("use a number from {min} to {max}"),
        ));
    }
    Ok(v)
}

fn cidrs(var: &'static str, raw: Option<&str>) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    let mut out = Vec::new();
    for part in raw
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        // A bare address is a /32 (or /128).
        let net = part
            .parse::<ipnet::IpNet>()
            .or_else(|_| part.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| {
                bad(
                    var,
                    format!("'{part}' is not a CIDR or address"),
                    "use e.g. 10.0.0.0/8,192.168.1.5",
                )
            })?;
        out.push(net);
    }
    Ok(out)
}

/// `name:token` lines or comma items.
fn parse_named_tokens(var: &'static str, text: &str) -> Result<Vec<NamedToken>, ConfigError> {
    let mut out: Vec<NamedToken> = Vec::new();
    for item in text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (name, token) = item.split_once(':').ok_or_else(|| {
            bad(
                var,
                "an entry is not `name:token`",
                "write one `name:token` per entry",
            )
        })?;
        let (name, token) = (name.trim(), token.trim());
        if name.is_empty() || token.is_empty() {
            return Err(bad(
                var,
                "an entry has an empty name or token",
                "write one `name:token` per entry",
            ));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
        {
            return Err(bad(
                var,
                format!("name '{name}' has characters other than letters, digits, - _ . @"),
                "rename it",
            ));
        }
        if out.iter().any(|t| t.name == name) {
            return Err(bad(
                var,
                format!("name '{name}' appears twice"),
                "give each token its own name",
            ));
        }
        out.push(NamedToken {
            name: name.to_owned(),
            token: SecretString::from(token.to_owned()),
        });
    }
    Ok(out)
}

fn http_config(
    cli: &Cli,
    port: u16,
    single: Option<SecretString>,
    cors: &[String],
    sources: &SecretSources,
) -> Result<HttpConfig, ConfigError> {
    use secrecy::ExposeSecret;
    let bind: std::net::IpAddr =
        cli.bind
            .trim()
            .trim_matches(['[', ']'])
            .parse()
            .map_err(|_| {
                bad(
                    "BIND",
                    format!("'{}' is not an IP address", cli.bind),
                    "use 127.0.0.1 (default), 0.0.0.0 or ::",
                )
            })?;
    let mut tokens = Vec::new();
    if let Some(t) = single {
        tokens.push(NamedToken {
            name: "default".into(),
            token: t,
        });
    }
    let list = secret(
        "MCP_AUTH_TOKENS",
        "MCP_AUTH_TOKENS_FILE",
        "mcp-auth-tokens",
        cli.mcp_auth_tokens.as_deref(),
        cli.mcp_auth_tokens_file.as_deref(),
        sources,
    )?;
    if let Some(text) = list {
        for t in parse_named_tokens("MCP_AUTH_TOKENS", text.expose_secret())? {
            if tokens.iter().any(|x: &NamedToken| x.name == t.name) {
                return Err(bad(
                    "MCP_AUTH_TOKENS",
                    format!("name '{}' is also used by MCP_AUTH_TOKEN", t.name),
                    "rename it",
                ));
            }
            tokens.push(t);
        }
    }
    let allow_unauthenticated = cli.allow_unauthenticated;
    let any_origin = cors.iter().any(|o| o == "*");
    let mut allowed_hosts: Vec<String> = cli
        .allowed_hosts
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    if allowed_hosts.is_empty() {
        allowed_hosts = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
        if !bind.is_unspecified() && !allowed_hosts.contains(&bind.to_string()) {
            allowed_hosts.push(bind.to_string());
        }
    }
    let config = HttpConfig {
        bind,
        port,
        tokens,
        cors_origins: cors.iter().filter(|o| *o != "*").cloned().collect(),
        any_origin,
        allowed_hosts,
        rate_per_second: number(
            "RATE_LIMIT_PER_SECOND",
            &cli.rate_limit_per_second,
            1,
            1_000_000,
        )?,
        rate_burst: number("RATE_LIMIT_BURST", &cli.rate_limit_burst, 1, 1_000_000)?,
        allowed_cidrs: cidrs("ALLOWED_CIDRS", cli.allowed_cidrs.as_deref())?,
        trusted_proxies: cidrs("TRUSTED_PROXIES", cli.trusted_proxies.as_deref())?,
        max_body_bytes: number("MAX_BODY_BYTES", &cli.max_body_bytes, 1024, 1 << 30)?,
        request_timeout: Duration::from_secs(number(
            "HTTP_REQUEST_TIMEOUT",
            &cli.http_request_timeout,
            1,
            3600,
        )?),
        max_concurrent_requests: number(
            "MAX_CONCURRENT_REQUESTS",
            &cli.max_concurrent_requests,
            1,
            1_000_000,
        )?,
        max_sessions: number("MAX_SESSIONS", &cli.max_sessions, 1, 1_000_000)?,
        session_idle_timeout: Duration::from_secs(number(
            "SESSION_IDLE_TIMEOUT",
            &cli.session_idle_timeout,
            1,
            86_400,
        )?),
        shutdown_timeout: Duration::from_secs(number(
            "SHUTDOWN_TIMEOUT",
            &cli.shutdown_timeout,
            0,
            600,
        )?),
        stateless: parse_bool("MCP_STATELESS", &cli.mcp_stateless)?,
        allow_unauthenticated,
        header_timeout: Duration::from_secs(number(
            "HTTP_HEADER_TIMEOUT",
            &cli.http_header_timeout,
            1,
            600,
        )?),
        idle_timeout: Duration::from_secs(number(
            "HTTP_IDLE_TIMEOUT",
            &cli.http_idle_timeout,
            1,
            3600,
        )?),
        max_connections: number("MAX_CONNECTIONS", &cli.max_connections, 8, 1_000_000)?,
        max_connections_per_ip: number(
            "MAX_CONNECTIONS_PER_IP",
            &cli.max_connections_per_ip,
            1,
            1_000_000,
        )?,
    };
    if cli.http
        && let Some(problem) =
            config.exposure_problem(bind.is_loopback(), &format!("--http on {bind}"))
    {
        return Err(problem);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let mut all = vec!["allure-mcp"];
        all.extend_from_slice(args);
        let cli = Cli::try_parse_from(all).expect("clap accepts the flags");
        Config::from_cli(&cli, &SecretSources::default())
    }

    #[test]
    fn minimal_configuration() {
        let c = parse(&["--base-url", "https://t.example.com/", "--token", "abc"]).unwrap();
        let a = c.allure.unwrap();
        assert_eq!(a.base_url.as_str(), "https://t.example.com/");
        assert_eq!(a.token.expose_secret(), "abc");
        assert_eq!(a.timeout, Duration::from_secs(30));
        assert_eq!(c.port, 3000);
        assert_eq!(c.log_level, "info");
        assert!(!c.read_only);
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let base = ["--base-url", "https://t.example.com", "--token", "abc"];
        let cases: &[(&[&str], &str)] = &[
            (&["--token", "abc"], "ALLURE_BASE_URL"),
            (
                &["--base-url", "ftp://x", "--token", "a"],
                "ALLURE_BASE_URL",
            ),
            (
                &["--base-url", "not a url", "--token", "a"],
                "ALLURE_BASE_URL",
            ),
            (&["--base-url", "https://t.example.com"], "ALLURE_TOKEN"),
            (&["--request-timeout", "0"], "REQUEST_TIMEOUT"),
            (&["--request-timeout", "601"], "REQUEST_TIMEOUT"),
            (&["--request-timeout", "ten"], "REQUEST_TIMEOUT"),
            (&["--log-level", "loud"], "LOG_LEVEL"),
            (&["--port", "70000"], "PORT"),
            (&["--auth-mode", "basic"], "ALLURE_AUTH_MODE"),
            (&["--project-id", "x"], "ALLURE_PROJECT_ID"),
            (&["--tls-insecure", "maybe"], "ALLURE_TLS_INSECURE"),
            (&["--cors-allowed-origin", "nope"], "CORS_ALLOWED_ORIGIN"),
            (&["--toolsets", "projects,bogus"], "ALLURE_TOOLSETS"),
            (&["--ca-file", "/nonexistent/ca.pem"], "ALLURE_CA_FILE"),
        ];
        for (args, var) in cases {
            let mut all: Vec<&str> =
                if args.contains(&"--base-url") || args.first() == Some(&"--token") {
                    vec![]
                } else {
                    base.to_vec()
                };
            all.extend_from_slice(args);
            let err = parse(&all).expect_err(&format!("{args:?} should fail"));
            assert_eq!(err.var, *var, "{args:?}: {err}");
            assert!(!err.to_string().contains("abc"), "a secret leaked: {err}");
        }
    }

    #[test]
    fn secrets_come_from_files_and_credentials() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("allure-token"), "from-credential\n").unwrap();
        std::fs::write(dir.path().join("mcp-auth-token"), "mcp-secret\n").unwrap();
        let cli = Cli::try_parse_from(["allure-mcp", "--base-url", "http://127.0.0.1:1"]).unwrap();
        let sources = SecretSources {
            credentials_directory: Some(dir.path().to_owned()),
            rotated_directory: None,
        };
        let c = Config::from_cli(&cli, &sources).unwrap();
        assert_eq!(c.allure.unwrap().token.expose_secret(), "from-credential");
        assert_eq!(c.mcp_auth_token.unwrap().expose_secret(), "mcp-secret");

        let file = dir.path().join("tok");
        std::fs::write(&file, "from-file\r\n").unwrap();
        let cli = Cli::try_parse_from([
            "allure-mcp",
            "--base-url",
            "http://h",
            "--token-file",
            file.to_str().unwrap(),
        ])
        .unwrap();
        let c = Config::from_cli(&cli, &sources).unwrap();
        assert_eq!(c.allure.unwrap().token.expose_secret(), "from-file");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = parse(&[
            "--base-url",
            "https://t.example.com",
            "--token",
            "super-secret-token",
            "--mcp-auth-token",
            "mcp-secret-value",
        ])
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("super-secret-token") && !dbg.contains("mcp-secret-value"),
            "{dbg}"
        );
    }

    #[test]
    fn http_settings_parse_and_refuse_exposure_without_tokens() {
        let c = parse(&[
            "--demo",
            "--mcp-auth-tokens",
            "alice:tok-a, bob:tok-b",
            "--mcp-auth-token",
            "single",
            "--allowed-cidrs",
            "10.0.0.0/8,192.168.1.7",
            "--rate-limit-per-second",
            "50",
        ])
        .unwrap();
        let h = c.http_config;
        assert_eq!(
            h.tokens.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            vec!["default", "alice", "bob"]
        );
        assert_eq!(h.allowed_cidrs.len(), 2);
        assert_eq!(h.rate_per_second, 50);
        assert_eq!(h.allowed_hosts, vec!["localhost", "127.0.0.1", "::1"]);
        let err = parse(&["--demo", "--http", "--bind", "0.0.0.0"]).unwrap_err();
        assert_eq!(err.var, "MCP_AUTH_TOKEN");
        assert!(
            parse(&[
                "--demo",
                "--http",
                "--bind",
                "0.0.0.0",
                "--allow-unauthenticated"
            ])
            .is_ok()
        );
        assert!(
            parse(&[
                "--demo",
                "--http",
                "--bind",
                "0.0.0.0",
                "--mcp-auth-token",
                "a-long-enough-token-1234"
            ])
            .is_ok()
        );
        // Beyond loopback, a short token is refused like none.
        let err = parse(&[
            "--demo",
            "--http",
            "--bind",
            "0.0.0.0",
            "--mcp-auth-token",
            "short",
        ])
        .unwrap_err();
        assert_eq!(err.var, "MCP_AUTH_TOKEN");
        assert!(err.problem.contains("shorter than 16"), "{err}");
        assert!(!err.to_string().contains("short\""), "{err}");
        // On loopback a short token is the operator's business.
        assert!(parse(&["--demo", "--http", "--mcp-auth-token", "short"]).is_ok());
        for (args, var) in [
            (vec!["--demo", "--bind", "nope"], "BIND"),
            (
                vec!["--demo", "--mcp-auth-tokens", "novalue"],
                "MCP_AUTH_TOKENS",
            ),
            (
                vec!["--demo", "--mcp-auth-tokens", "a:x,a:y"],
                "MCP_AUTH_TOKENS",
            ),
            (
                vec!["--demo", "--allowed-cidrs", "10.0.0.0/99"],
                "ALLOWED_CIDRS",
            ),
            (
                vec!["--demo", "--rate-limit-burst", "0"],
                "RATE_LIMIT_BURST",
            ),
            (vec!["--demo", "--max-body-bytes", "x"], "MAX_BODY_BYTES"),
        ] {
            assert_eq!(parse(&args).unwrap_err().var, var, "{args:?}");
        }
        let dbg = format!(
            "{:?}",
            parse(&["--demo", "--mcp-auth-tokens", "alice:very-secret-token"]).unwrap()
        );
        assert!(!dbg.contains("very-secret-token"));
    }

    #[test]
    fn demo_needs_no_upstream() {
        let c = parse(&["--demo"]).unwrap();
        assert!(c.demo && c.allure.is_none());
    }
}
