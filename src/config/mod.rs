//! Configuration: flags, environment (the Go server's names kept), `.env`, secret
//! files and systemd credentials, validated into one [`Config`].
//!
//! A bad setting is one line naming the variable, what is wrong and how to fix it,
//! and exit code 2: never a panic or a backtrace. Values are typed by clap's value
//! parsers ([`parse`]); what needs several settings or a file is checked here.

mod access;
mod cli;
mod dotenv;
mod http;
mod parse;
mod secrets;

pub use cli::{Cli, Command};
pub use dotenv::{CliError, load_cli, load_cli_from};
pub use http::{HttpConfig, MIN_EXPOSED_TOKEN_LEN, NamedToken, TokenSource};
pub use secrets::SecretSources;

use std::borrow::Cow;
use std::time::Duration;

use url::Url;

use crate::allure::{ClientOptions, RetryPolicy};
use crate::logging::{LogFormat, LogLevel};
use crate::tools::Toolset;
use secrets::secret;

/// A configuration problem, shown as one line: `VARIABLE: problem; fix`.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}; {fix}")]
pub struct ConfigError {
    pub var: Cow<'static, str>,
    pub problem: String,
    pub fix: String,
}

fn bad(
    var: impl Into<Cow<'static, str>>,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> ConfigError {
    ConfigError {
        var: var.into(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// Which Allure TestOps the server talks to.
#[derive(Debug, Clone)]
// Made once per process: the size of the real instance's options costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Upstream {
    /// A real instance.
    Allure(ClientOptions),
    /// The built-in fake with sample data (`--demo`), started by the application.
    Demo,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub upstream: Upstream,
    pub log_level: LogLevel,
    pub log_format: LogFormat,
    pub default_project: Option<i64>,
    /// The toolsets a client may use.
    pub toolsets: Vec<Toolset>,
    /// The toolsets a session lists when it starts; the rest of `toolsets` is turned on
    /// by `enable_toolset` (or by calling one of its tools).
    pub initial_toolsets: Vec<Toolset>,
    pub read_only: bool,
    pub http: bool,
    pub http_config: HttpConfig,
    pub check: bool,
    pub min_poll_interval: Duration,
    pub max_waits_per_identity: usize,
    /// The directory local file tools may use (stdio only), canonical.
    pub files_dir: Option<std::path::PathBuf>,
}

impl Config {
    /// Validates the command line (which already holds the environment's values, typed).
    pub fn from_cli(cli: &Cli, sources: &SecretSources) -> Result<Config, ConfigError> {
        let demo = cli.demo || cli.command == Some(Command::Demo);
        let upstream = if demo {
            Upstream::Demo
        } else {
            Upstream::Allure(allure(cli, sources)?)
        };
        let mcp_auth_token = secret(
            "MCP_AUTH_TOKEN",
            "MCP_AUTH_TOKEN_FILE",
            "mcp-auth-token",
            cli.mcp_auth_token.as_deref(),
            cli.mcp_auth_token_file.as_deref(),
            sources,
        )?;
        let cors = cors_origins(cli.cors_allowed_origin.as_deref())?;
        let explicit = cli.toolsets.as_ref().filter(|t| !t.0.is_empty());
        Ok(Config {
            upstream,
            log_level: cli.log_level,
            log_format: cli.log_format,
            default_project: cli.project_id.and_then(|p| p.0),
            toolsets: explicit
                .map(|t| t.0.clone())
                .unwrap_or_else(Toolset::discoverable),
            // An explicit ALLURE_TOOLSETS is the list; without it (or with `default`) a
            // session starts with the daily path unless dynamic toolsets are off.
            initial_toolsets: match explicit {
                Some(t) => t.0.clone(),
                None if cli.dynamic_toolsets => Toolset::defaults(),
                None => Toolset::discoverable(),
            },
            read_only: cli.read_only,
            http: cli.http,
            http_config: http::http_config(cli, mcp_auth_token, &cors, sources)?,
            check: cli.command == Some(Command::Check),
            min_poll_interval: cli.min_poll_interval,
            max_waits_per_identity: cli.max_waits_per_identity,
            files_dir: files_dir(cli.files_dir.as_deref())?,
        })
    }
}

/// `ALLURE_FILES_DIR`: an existing directory, kept canonical so every path a tool is
/// given can be checked to lie inside it.
fn files_dir(dir: Option<&std::path::Path>) -> Result<Option<std::path::PathBuf>, ConfigError> {
    let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(None);
    };
    match std::fs::canonicalize(dir) {
        Ok(c) if c.is_dir() => Ok(Some(c)),
        _ => Err(bad(
            "ALLURE_FILES_DIR",
            format!("{} is not a directory", dir.display()),
            "name an existing directory, e.g. ~/allure-files",
        )),
    }
}

/// The real upstream: its URL, the token, and how to reach it.
fn allure(cli: &Cli, sources: &SecretSources) -> Result<ClientOptions, ConfigError> {
    if let Some(ca) = &cli.ca_file
        && !ca.is_file()
    {
        return Err(bad(
            "ALLURE_CA_FILE",
            format!("{} is not a readable file", ca.display()),
            "point it at a PEM file",
        ));
    }
    let raw = cli
        .base_url
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            bad(
                "ALLURE_BASE_URL",
                "not set",
                "set it to your TestOps root, e.g. ALLURE_BASE_URL=https://testops.example.com (or try --demo)",
            )
        })?;
    let base_url = parse_base_url(raw)?;
    let token = secret(
        "ALLURE_TOKEN",
        "ALLURE_TOKEN_FILE",
        "allure-token",
        cli.token.as_deref(),
        cli.token_file.as_deref(),
        sources,
    )?;
    // With callers' own tokens only, the server needs none of its own.
    let token = match token {
        Some(t) => t,
        None if cli.token_source == TokenSource::Caller => secrecy::SecretString::from(""),
        None => {
            return Err(bad(
                "ALLURE_TOKEN",
                "not set",
                "create an API token in Allure TestOps (profile → API tokens) and set ALLURE_TOKEN or ALLURE_TOKEN_FILE",
            ));
        }
    };
    Ok(ClientOptions {
        base_url,
        api_prefix: cli.api_prefix.clone(),
        auth_mode: cli.auth_mode,
        token,
        timeout: cli.request_timeout,
        retry: RetryPolicy {
            max_total_wait: cli.request_timeout.min(Duration::from_secs(10)),
            ..RetryPolicy::default()
        },
        ca_file: cli.ca_file.clone(),
        tls_insecure: cli.tls_insecure,
        max_body_bytes: cli.allure_max_body_bytes,
    })
}

/// `CORS_ALLOWED_ORIGIN`: origins (`scheme://host[:port]`) or `*`.
fn cors_origins(raw: Option<&str>) -> Result<Vec<String>, ConfigError> {
    let origins: Vec<String> = raw
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    for origin in &origins {
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
    Ok(origins)
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
    // The API prefix is added to every call (`/api/uaa/oauth/token`…): a root that
    // already ends in it would send the token to `/api/api/…` and read the 401 as a
    // wrong token.
    let path = url.path().trim_end_matches('/');
    if let Some(prefix) = ["/api", "/api/rs"].into_iter().find(|p| path.ends_with(p)) {
        let root = format!(
            "{}{}",
            url.origin().ascii_serialization(),
            &path[..path.len() - prefix.len()]
        );
        return Err(bad(
            var,
            format!(
                "the URL ends in {prefix}, which is the API prefix, not part of the TestOps root"
            ),
            format!(
                "set ALLURE_BASE_URL={root} (the prefix is ALLURE_API_PREFIX, /api by default)"
            ),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use secrecy::ExposeSecret;

    /// The command line as `main` reads it (no `.env`), then validated.
    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let all = std::iter::once("allure-mcp")
            .chain(args.iter().copied())
            .map(std::ffi::OsString::from);
        let cli = match load_cli_from(all, std::path::Path::new("/nonexistent/.env"), |_| false) {
            Ok((cli, _)) => cli,
            Err(CliError::Config(e)) => return Err(e),
            Err(CliError::Usage(e)) => panic!("clap refused the flags: {e}"),
        };
        Config::from_cli(&cli, &SecretSources::default())
    }

    fn allure(c: Config) -> ClientOptions {
        match c.upstream {
            Upstream::Allure(a) => a,
            Upstream::Demo => panic!("expected a real upstream"),
        }
    }

    #[test]
    fn toolsets_default_to_dynamic_and_an_explicit_list_is_fixed() {
        let base = ["--base-url", "https://t.example.com/", "--token", "abc"];
        let with = |extra: &[&str]| {
            let mut args = base.to_vec();
            args.extend_from_slice(extra);
            let c = parse(&args).unwrap();
            (c.toolsets, c.initial_toolsets)
        };
        let dynamic = (Toolset::discoverable(), Toolset::defaults());
        // Unset, empty and `default` all mean the same: everything but raw, starting small.
        assert_eq!(with(&[]), dynamic);
        assert_eq!(with(&["--toolsets", "default"]), dynamic);
        assert_eq!(with(&["--toolsets", ""]), dynamic);
        assert_eq!(
            with(&["--dynamic-toolsets", "false"]),
            (Toolset::discoverable(), Toolset::discoverable())
        );
        let fixed = vec![Toolset::Projects, Toolset::Runs];
        assert_eq!(
            with(&["--toolsets", "runs,projects"]),
            (fixed.clone(), fixed)
        );
    }

    #[test]
    fn minimal_configuration() {
        let c = parse(&["--base-url", "https://t.example.com/", "--token", "abc"]).unwrap();
        assert_eq!(c.http_config.port, 3000);
        assert_eq!(c.log_level, LogLevel::Info);
        assert!(!c.read_only);
        let a = allure(c);
        assert_eq!(a.base_url.as_str(), "https://t.example.com/");
        assert_eq!(a.token.expose_secret(), "abc");
        assert_eq!(a.timeout, Duration::from_secs(30));
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
            (
                &["--base-url", "https://t.example.com/api/", "--token", "a"],
                "ALLURE_BASE_URL",
            ),
            (
                &[
                    "--base-url",
                    "https://t.example.com/testops/api/rs",
                    "--token",
                    "a",
                ],
                "ALLURE_BASE_URL",
            ),
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
        assert_eq!(c.http_config.tokens[0].token.expose_secret(), "mcp-secret");
        assert_eq!(allure(c).token.expose_secret(), "from-credential");

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
        assert_eq!(allure(c).token.expose_secret(), "from-file");
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
    fn a_base_url_ending_in_the_api_prefix_is_refused_with_the_root_to_use() {
        let err = parse(&[
            "--base-url",
            "https://t.example.com/testops/api/",
            "--token",
            "a",
        ])
        .unwrap_err();
        assert_eq!(err.var, "ALLURE_BASE_URL");
        assert!(
            err.fix
                .contains("ALLURE_BASE_URL=https://t.example.com/testops "),
            "{err}"
        );
        // A root whose own path merely contains "api" is fine.
        assert!(
            parse(&[
                "--base-url",
                "https://api.example.com/rapid",
                "--token",
                "a"
            ])
            .is_ok()
        );
    }

    #[test]
    fn demo_needs_no_upstream() {
        let c = parse(&["--demo"]).unwrap();
        assert!(matches!(c.upstream, Upstream::Demo));
    }
}
