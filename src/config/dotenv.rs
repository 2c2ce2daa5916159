//! The command line, the environment and `./.env`, read into a [`Cli`]: a `.env` only
//! fills this server's own settings, never the process environment.

use std::path::Path;

use super::cli::Cli;
use super::{ConfigError, parse};

/// Why the command line was not read: clap's own stop (help, version, an unknown flag),
/// which clap prints, or a refused value, one line naming its variable.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(clap::Error),
    #[error("{0}")]
    Config(ConfigError),
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
pub fn load_cli() -> Result<(Cli, Vec<String>), CliError> {
    load_cli_from(std::env::args_os(), Path::new(".env"), |k| {
        std::env::var_os(k).is_some()
    })
}

/// [`load_cli`] with its inputs named, for tests.
pub fn load_cli_from(
    args: impl IntoIterator<Item = std::ffi::OsString>,
    dotenv: &Path,
    in_env: impl Fn(&str) -> bool,
) -> Result<(Cli, Vec<String>), CliError> {
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
    let refusal = |e: clap::Error, cmd: &clap::Command| match parse::from_clap(&e, cmd) {
        Some(bad) => CliError::Config(bad),
        None => CliError::Usage(e),
    };
    // Parsed in place: the command stays at hand to name the variable of a refused value.
    let matches = cmd
        .try_get_matches_from_mut(args)
        .map_err(|e| refusal(e, &cmd))?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| refusal(e, &cmd))?;
    Ok((cli, notices))
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
