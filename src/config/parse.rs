//! The value parsers of the command line: each turns one setting's text into its type
//! or says what is wrong and how to fix it, and [`from_clap`] makes clap's refusal the
//! one line `VARIABLE: problem; fix`.

use std::net::IpAddr;
use std::time::Duration;

use super::{ConfigError, bad};
use crate::allure::AuthMode;
use crate::logging::{LogFormat, LogLevel};
use crate::tools::Toolset;

/// Why a value was refused, and how to fix it (the variable is added by [`from_clap`]).
#[derive(Debug, thiserror::Error)]
#[error("{problem}; {fix}")]
pub struct Invalid {
    problem: String,
    fix: String,
}

fn invalid(problem: impl Into<String>, fix: impl Into<String>) -> Invalid {
    Invalid {
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// A whole number within `min..=max`.
pub fn number<T>(min: T, max: T) -> impl Fn(&str) -> Result<T, Invalid> + Clone + Send + Sync
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy + Send + Sync + 'static,
{
    move |raw| {
        let fix = || format!("use a number from {min} to {max}");
        let v: T = raw
            .trim()
            .parse()
            .map_err(|_| invalid(format!("'{raw}' is not a number"), fix()))?;
        if v < min || v > max {
            return Err(invalid(format!("{v} is out of range"), fix()));
        }
        Ok(v)
    }
}

/// Whole seconds within `min..=max`.
pub fn seconds(
    min: u64,
    max: u64,
) -> impl Fn(&str) -> Result<Duration, Invalid> + Clone + Send + Sync {
    let n = number(min, max);
    move |raw| n(raw).map(Duration::from_secs)
}

pub fn boolean(raw: &str) -> Result<bool, Invalid> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        other => Err(invalid(
            format!("'{other}' is not a boolean"),
            "use true or false",
        )),
    }
}

pub fn log_level(raw: &str) -> Result<LogLevel, Invalid> {
    LogLevel::parse(raw).ok_or_else(|| {
        invalid(
            format!("'{raw}' is not a level"),
            "use error, warn, info, debug or trace",
        )
    })
}

pub fn log_format(raw: &str) -> Result<LogFormat, Invalid> {
    LogFormat::choose(Some(raw)).map_err(|e| invalid(e, "use json, journald, text or auto"))
}

pub fn auth_mode(raw: &str) -> Result<AuthMode, Invalid> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "jwt" => Ok(AuthMode::Jwt),
        "api-token" | "apitoken" | "api_token" => Ok(AuthMode::ApiToken),
        other => Err(invalid(
            format!("'{other}' is not a mode"),
            "use jwt or api-token",
        )),
    }
}

pub fn token_source(raw: &str) -> Result<super::http::TokenSource, Invalid> {
    use super::http::TokenSource;
    match raw.trim().to_ascii_lowercase().as_str() {
        "service" | "" => Ok(TokenSource::Service),
        "caller" => Ok(TokenSource::Caller),
        "either" => Ok(TokenSource::Either),
        other => Err(invalid(
            format!("'{other}' is not a token source"),
            "use service, caller or either",
        )),
    }
}

pub fn api_prefix(raw: &str) -> Result<String, Invalid> {
    let prefix = raw.trim();
    if !prefix.starts_with('/') || prefix.contains(['?', '#', ' ']) {
        return Err(invalid(
            format!("'{prefix}' is not a path"),
            "use /api or /api/rs",
        ));
    }
    Ok(prefix.to_owned())
}

/// `ALLURE_PROJECT_ID`: a project id, or none when set empty (as templates often do).
#[derive(Debug, Clone, Copy)]
pub struct MaybeProject(pub Option<i64>);

pub fn project_id(raw: &str) -> Result<MaybeProject, Invalid> {
    if raw.trim().is_empty() {
        return Ok(MaybeProject(None));
    }
    let id: i64 = raw.trim().parse().map_err(|_| {
        invalid(
            format!("'{raw}' is not a project id"),
            "use the numeric id (list_projects shows them)",
        )
    })?;
    if id <= 0 {
        return Err(invalid(
            format!("{id} is not a project id"),
            "project ids are positive",
        ));
    }
    Ok(MaybeProject(Some(id)))
}

pub fn ip_addr(raw: &str) -> Result<IpAddr, Invalid> {
    raw.trim().trim_matches(['[', ']']).parse().map_err(|_| {
        invalid(
            format!("'{raw}' is not an IP address"),
            "use 127.0.0.1 (default), 0.0.0.0 or ::",
        )
    })
}

/// The toolsets asked for (`ALLURE_TOOLSETS`); empty for `default` (or an empty value),
/// which means the same as not setting it.
#[derive(Debug, Clone)]
pub struct Toolsets(pub Vec<Toolset>);

pub fn toolsets(raw: &str) -> Result<Toolsets, Invalid> {
    if raw.trim().is_empty() || raw.trim().eq_ignore_ascii_case("default") {
        return Ok(Toolsets(vec![]));
    }
    Toolset::parse_list(Some(raw)).map(Toolsets).map_err(|e| {
        invalid(
            e,
            format!("use a comma list of {} or all", Toolset::names().join(", ")),
        )
    })
}

/// Networks, from a comma list of CIDRs or bare addresses.
#[derive(Debug, Clone, Default)]
pub struct Cidrs(pub Vec<ipnet::IpNet>);

pub fn cidrs(raw: &str) -> Result<Cidrs, Invalid> {
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        // A bare address is a /32 (or /128).
        let net = part
            .parse::<ipnet::IpNet>()
            .or_else(|_| part.parse::<IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| {
                invalid(
                    format!("'{part}' is not a CIDR or address"),
                    "use e.g. 10.0.0.0/8,192.168.1.5",
                )
            })?;
        out.push(net);
    }
    Ok(Cidrs(out))
}

/// clap's refusal of a value, as the one line `VARIABLE: problem; fix` naming the
/// environment variable (the flag for settings that have none). `None` for everything
/// else clap stops at (help, version, unknown flags), which clap prints itself.
pub fn from_clap(e: &clap::Error, cmd: &clap::Command) -> Option<ConfigError> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        e.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) {
        return None;
    }
    let Some(ContextValue::String(flag)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = flag.split_whitespace().next()?.trim_start_matches('-');
    let arg = cmd.get_arguments().find(|a| a.get_long() == Some(long))?;
    let var = match arg.get_env().and_then(|v| v.to_str()) {
        Some(env) => env.to_owned(),
        None => format!("--{long}"),
    };
    let reason = std::error::Error::source(e).and_then(|s| s.downcast_ref::<Invalid>());
    Some(match reason {
        Some(r) => bad(var, r.problem.clone(), r.fix.clone()),
        None => bad(var, "the value is not valid", "see --help"),
    })
}
