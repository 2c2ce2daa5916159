//! Logging: JSON lines on stderr by default, the systemd journal (native protocol,
//! structured fields) when stderr is connected to it, or plain text; the level can be
//! changed at run time (SIGHUP). stdout is never written: it carries the stdio protocol.

use std::sync::OnceLock;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Registry, reload};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Journald,
    Text,
}

impl LogFormat {
    /// `LOG_FORMAT`, or the journal when systemd connected stderr to it, else JSON.
    pub fn choose(explicit: Option<&str>) -> Result<LogFormat, String> {
        match explicit.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("auto") => Ok(if stderr_is_journal() {
                LogFormat::Journald
            } else {
                LogFormat::Json
            }),
            Some("json") => Ok(LogFormat::Json),
            Some("journald") | Some("journal") => Ok(LogFormat::Journald),
            Some("text") => Ok(LogFormat::Text),
            Some(other) => Err(format!("'{other}' is not a log format")),
        }
    }
}

/// How much is logged (`LOG_LEVEL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// A level's name, in any case.
    pub fn parse(raw: &str) -> Option<LogLevel> {
        Some(match raw.trim().to_ascii_lowercase().as_str() {
            "error" => LogLevel::Error,
            "warn" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "trace" => LogLevel::Trace,
            _ => return None,
        })
    }

    fn filter(self) -> LevelFilter {
        match self {
            LogLevel::Error => LevelFilter::ERROR,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Trace => LevelFilter::TRACE,
        }
    }
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        })
    }
}

static RELOAD: OnceLock<reload::Handle<Targets, Registry>> = OnceLock::new();

/// Our crate at `level`; libraries at `warn` (their trace output is noise, and an HTTP
/// library at trace is the classic place a header, and so a token, ends up in a log).
/// Plain per-target levels (`Targets`), not `EnvFilter`: nothing here needs its
/// regex-driven directives, and leaving the regex engine out of the binary keeps a
/// fresh process smaller.
fn filter(level: LogLevel) -> Targets {
    let ours = level.filter();
    // Libraries never log more than we do: LOG_LEVEL=error means errors only, theirs too.
    let quiet = ours.min(LevelFilter::WARN);
    let lib = if ours >= LevelFilter::DEBUG {
        LevelFilter::INFO
    } else {
        quiet
    };
    Targets::new()
        .with_default(quiet)
        .with_target("allure_mcp", ours)
        .with_target("rmcp", lib)
}

/// Starts the global subscriber. Falls back to JSON if the journal cannot be opened.
pub fn init(level: LogLevel, format: LogFormat) {
    let (filter_layer, handle) = reload::Layer::new(filter(level));
    let _ = RELOAD.set(handle);
    let registry = tracing_subscriber::registry().with(filter_layer);
    // Each event's fields become journal fields (`TOOL=`, `PROJECT_ID=`…), unprefixed:
    // they are the names operators filter on.
    let journal = (format == LogFormat::Journald)
        .then(|| tracing_journald::layer().ok())
        .flatten()
        .map(|j| {
            j.with_field_prefix(None)
                .with_syslog_identifier("allure-mcp".into())
        });
    let result = match (format, journal) {
        (LogFormat::Journald, Some(layer)) => registry.with(layer).try_init(),
        (LogFormat::Text, _) => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(false),
            )
            .try_init(),
        _ => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    let _ = result;
}

/// Changes the level of a running subscriber (SIGHUP).
pub fn set_level(level: LogLevel) {
    if let Some(h) = RELOAD.get() {
        let _ = h.reload(filter(level));
    }
}

/// Whether systemd connected stderr to the journal: `$JOURNAL_STREAM` names the device
/// and inode of the stream it gave us, and stderr must still be that stream (a child
/// whose stderr was redirected inherits the variable, not the connection).
fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Some((dev, ino)) = std::env::var("JOURNAL_STREAM").ok().and_then(|v| {
        let (dev, ino) = v.split_once(':')?;
        Some((dev.parse::<u64>().ok()?, ino.parse::<u64>().ok()?))
    }) else {
        return false;
    };
    // fstat of our stderr, through a duplicate of its descriptor (no unsafe code).
    std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata())
        .is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn our_level_is_taken_and_libraries_stay_quiet() {
        let warn = filter(LogLevel::Warn);
        assert!(warn.would_enable("allure_mcp::app", &Level::WARN));
        assert!(!warn.would_enable("allure_mcp::app", &Level::INFO));
        assert!(!warn.would_enable("allure_mcp::audit", &Level::INFO));

        let trace = filter(LogLevel::Trace);
        assert!(trace.would_enable("allure_mcp::allure", &Level::TRACE));
        assert!(trace.would_enable("rmcp::service", &Level::INFO));
        assert!(!trace.would_enable("rmcp::service", &Level::DEBUG));
        // HTTP and TLS libraries never go below warn: their debug output carries headers.
        for lib in [
            "hyper::proto::h1",
            "reqwest::connect",
            "h2::codec",
            "rustls::client",
        ] {
            assert!(trace.would_enable(lib, &Level::WARN));
            assert!(!trace.would_enable(lib, &Level::INFO), "{lib}");
        }

        let info = filter(LogLevel::Info);
        assert!(info.would_enable("allure_mcp::audit", &Level::INFO));
        assert!(!info.would_enable("allure_mcp::audit", &Level::DEBUG));
        assert!(!info.would_enable("rmcp::service", &Level::INFO));
    }

    #[test]
    fn error_level_silences_library_warnings() {
        let error = filter(LogLevel::Error);
        for target in ["rmcp::service", "hyper::proto::h1", "allure_mcp::app"] {
            assert!(error.would_enable(target, &Level::ERROR), "{target}");
            assert!(!error.would_enable(target, &Level::WARN), "{target}");
        }
    }
}
