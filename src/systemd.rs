//! systemd integration: the socket handed in by socket activation, the notify protocol
//! (readiness, status, watchdog, reload, stop), and the credential refresh that makes
//! token rotation a `systemctl reload`.
//!
//! Everything here is a no-op outside systemd: without `LISTEN_FDS` we bind ourselves,
//! without `NOTIFY_SOCKET` nothing is sent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sd_notify::NotifyState;

/// Errors of the systemd glue.
#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    #[error("socket activation: {0}")]
    Activation(String),
    #[error("refresh-credentials: {0}")]
    Refresh(String),
}

/// The listening TCP socket systemd passed, if any: the one named `http`
/// (`FileDescriptorName=http`), else the first. Must run first thing in `main`, before
/// any thread exists, because it consumes the `LISTEN_*` environment.
pub fn take_activated_listener() -> Result<Option<std::net::TcpListener>, SystemdError> {
    let names: Vec<String> = std::env::var("LISTEN_FDNAMES")
        .map(|n| n.split(':').map(str::to_owned).collect())
        .unwrap_or_default();
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() == 0 {
        return Ok(None);
    }
    let index = names.iter().position(|n| n == "http").unwrap_or(0);
    let listener = fds
        .take_tcp_listener(index)
        .map_err(|e| SystemdError::Activation(format!("fd {index} is not a TCP listener: {e}")))?
        .ok_or_else(|| {
            SystemdError::Activation(format!(
                "no socket at index {index} (LISTEN_FDS={})",
                fds.len()
            ))
        })?;
    // tokio needs a non-blocking socket; systemd hands it over blocking.
    listener
        .set_nonblocking(true)
        .map_err(|e| SystemdError::Activation(e.to_string()))?;
    Ok(Some(listener))
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// `READY=1` with a status line.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A `STATUS=` line: what the service is doing.
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// `RELOADING=1` (with the monotonic time systemd ≥ 253 asks for).
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[
            NotifyState::Reloading,
            now,
            NotifyState::Status("reloading credentials and log level"),
        ]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// `STOPPING=1`.
pub fn stopping(status: &str) {
    send(&[NotifyState::Stopping, NotifyState::Status(status)]);
}

/// Pings the watchdog every half period while the runtime makes progress. Each ping
/// first waits for a fresh task to run on the runtime: a wedged runtime (every worker
/// stuck) cannot run it, so the pings stop and systemd restarts us.
pub fn spawn_watchdog() -> Option<tokio::task::JoinHandle<()>> {
    let period = sd_notify::watchdog_enabled()?;
    let every = period / 2;
    tracing::info!(
        period_ms = period.as_millis() as u64,
        "systemd watchdog enabled"
    );
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let probe = tokio::spawn(async {});
            if tokio::time::timeout(every.max(Duration::from_millis(10)), probe)
                .await
                .is_ok()
            {
                send(&[NotifyState::Watchdog]);
            } else {
                tracing::error!(
                    "runtime did not run a probe task in time; withholding the watchdog ping"
                );
            }
        }
    }))
}

/// The secret files `refresh-credentials` copies.
pub const CREDENTIALS: [&str; 3] = ["allure-token", "mcp-auth-token", "mcp-auth-tokens"];

/// Where a service's refreshed credentials live: `$RUNTIME_DIRECTORY/credentials`.
pub fn rotated_dir(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("credentials")
}

/// `allure-mcp refresh-credentials`: run by `ExecReload=+` (as root, outside the
/// sandbox). Copies the token files from `from` into the service's runtime directory,
/// owned by the service's (dynamic) user, then sends it SIGHUP.
///
/// Needed because systemd before ~v259 never refreshes `LoadCredential=` files while a
/// service runs; without this, rotating a token would take a restart.
pub fn refresh_credentials(
    pid: u32,
    from: &Path,
    explicit: &[String],
    runtime_dir: &Path,
) -> Result<usize, SystemdError> {
    let mut sources: Vec<(String, PathBuf)> = CREDENTIALS
        .iter()
        .map(|n| (n.to_string(), from.join(n)))
        .collect();
    for item in explicit {
        let (name, path) = item.split_once('=').ok_or_else(|| {
            SystemdError::Refresh(format!("--credential {item}: expected name=/path"))
        })?;
        if !CREDENTIALS.contains(&name) {
            return Err(SystemdError::Refresh(format!(
                "--credential {name}: not one of {}",
                CREDENTIALS.join(", ")
            )));
        }
        sources.retain(|(n, _)| n != name);
        sources.push((name.to_owned(), PathBuf::from(path)));
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let meta = std::fs::metadata(&proc_dir)
        .map_err(|e| SystemdError::Refresh(format!("process {pid}: {e}")))?;
    let (uid, gid) = (meta.uid(), meta.gid());
    let dir = rotated_dir(runtime_dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| SystemdError::Refresh(format!("{}: {e}", dir.display())))?;
    std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
        .map_err(|e| SystemdError::Refresh(format!("chown {}: {e}", dir.display())))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| SystemdError::Refresh(e.to_string()))?;
    let mut copied = 0;
    for (name, src) in &sources {
        if !src.is_file() {
            continue;
        }
        let tmp = dir.join(format!(".{name}.new"));
        let dst = dir.join(name);
        std::fs::copy(src, &tmp)
            .map_err(|e| SystemdError::Refresh(format!("{}: {e}", src.display())))?;
        std::os::unix::fs::chown(&tmp, Some(uid), Some(gid))
            .map_err(|e| SystemdError::Refresh(format!("chown: {e}")))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o400))
            .map_err(|e| SystemdError::Refresh(e.to_string()))?;
        // Atomic: the service never reads a half-written token.
        std::fs::rename(&tmp, &dst).map_err(|e| SystemdError::Refresh(e.to_string()))?;
        copied += 1;
    }
    let target = rustix::process::Pid::from_raw(pid as i32)
        .ok_or_else(|| SystemdError::Refresh(format!("bad pid {pid}")))?;
    rustix::process::kill_process(target, rustix::process::Signal::HUP)
        .map_err(|e| SystemdError::Refresh(format!("SIGHUP to {pid}: {e}")))?;
    Ok(copied)
}
