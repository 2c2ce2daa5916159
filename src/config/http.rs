//! The HTTP transport's settings: tokens, origins, hosts, limits, and the rule that
//! nothing is served beyond loopback without a token worth the name.

use std::time::Duration;

use secrecy::SecretString;

use super::access;
use super::cli::Cli;
use super::secrets::{SecretSources, secret};
use super::{ConfigError, bad};
use crate::security::oauth::OAuthSettings;
use crate::security::permissions::Permissions;
use crate::security::tls::TlsFiles;

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
    /// HTTPS: the certificate and key files (read again on SIGHUP).
    pub tls: Option<TlsFiles>,
    /// OAuth access tokens from these issuers are accepted beside the static tokens.
    pub oauth: Option<OAuthSettings>,
    /// The role and toolsets of each identity (empty: everyone may use everything).
    pub permissions: Permissions,
    /// Whose Allure TestOps token an HTTP call uses.
    pub token_source: TokenSource,
}

/// Whose Allure TestOps token a call over HTTP speaks with (`ALLURE_TOKEN_SOURCE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenSource {
    /// The server's own (`ALLURE_TOKEN`); a caller's `X-Allure-Token` is refused.
    #[default]
    Service,
    /// Each caller's own, in `X-Allure-Token`; a call without one is refused.
    Caller,
    /// The caller's when it sends one, else the server's.
    Either,
}

impl TokenSource {
    pub fn name(self) -> &'static str {
        match self {
            TokenSource::Service => "service",
            TokenSource::Caller => "caller",
            TokenSource::Either => "either",
        }
    }
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
        let unauthenticated = self.tokens.is_empty() && self.oauth.is_none();
        if self.any_origin && unauthenticated {
            return Some(bad(
                "CORS_ALLOWED_ORIGIN",
                "* with no MCP token lets any web page a user opens call every tool, writes included",
                "set MCP_AUTH_TOKEN or MCP_AUTH_TOKENS, name the allowed origins, or pass --allow-unauthenticated",
            ));
        }
        if loopback {
            return None;
        }
        if unauthenticated {
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

/// `name:token` lines or comma items.
pub(super) fn parse_named_tokens(
    var: &'static str,
    text: &str,
) -> Result<Vec<NamedToken>, ConfigError> {
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

/// The HTTP settings from the command line (already typed by clap) and the token sources.
pub(super) fn http_config(
    cli: &Cli,
    single: Option<SecretString>,
    cors: &[String],
    sources: &SecretSources,
) -> Result<HttpConfig, ConfigError> {
    let bind = cli.bind;
    let tokens = tokens(cli, single, sources)?;
    let oauth = access::oauth_settings(cli, sources)?;
    let names: Vec<&str> = tokens.iter().map(|t| t.name.as_str()).collect();
    let issuers = oauth.as_ref().map_or(0, |o| o.issuers.len());
    let permissions = access::permissions(cli, sources, &names, issuers)?;
    let config = HttpConfig {
        bind,
        port: cli.port,
        tokens,
        cors_origins: cors.iter().filter(|o| *o != "*").cloned().collect(),
        any_origin: cors.iter().any(|o| o == "*"),
        allowed_hosts: allowed_hosts(cli.allowed_hosts.as_deref(), bind),
        rate_per_second: cli.rate_limit_per_second,
        rate_burst: cli.rate_limit_burst,
        allowed_cidrs: cli.allowed_cidrs.clone().unwrap_or_default().0,
        trusted_proxies: cli.trusted_proxies.clone().unwrap_or_default().0,
        max_body_bytes: cli.max_body_bytes,
        request_timeout: cli.http_request_timeout,
        max_concurrent_requests: cli.max_concurrent_requests,
        max_sessions: cli.max_sessions,
        session_idle_timeout: cli.session_idle_timeout,
        shutdown_timeout: cli.shutdown_timeout,
        stateless: cli.mcp_stateless,
        allow_unauthenticated: cli.allow_unauthenticated,
        header_timeout: cli.http_header_timeout,
        idle_timeout: cli.http_idle_timeout,
        max_connections: cli.max_connections,
        max_connections_per_ip: cli.max_connections_per_ip,
        tls: access::tls_files(cli, sources)?,
        oauth,
        permissions,
        token_source: cli.token_source,
    };
    if cli.http
        && let Some(problem) =
            config.exposure_problem(bind.is_loopback(), &format!("--http on {bind}"))
    {
        return Err(problem);
    }
    Ok(config)
}

/// `MCP_AUTH_TOKEN` (named `default`) and the named `MCP_AUTH_TOKENS`; names are unique.
fn tokens(
    cli: &Cli,
    single: Option<SecretString>,
    sources: &SecretSources,
) -> Result<Vec<NamedToken>, ConfigError> {
    use secrecy::ExposeSecret;
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
    Ok(tokens)
}

/// `ALLOWED_HOSTS`, or the loopback names and the bind address.
fn allowed_hosts(raw: Option<&str>, bind: std::net::IpAddr) -> Vec<String> {
    let mut hosts: Vec<String> = raw
        .unwrap_or("")
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    if hosts.is_empty() {
        hosts = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
        if !bind.is_unspecified() && !hosts.contains(&bind.to_string()) {
            hosts.push(bind.to_string());
        }
    }
    hosts
}
