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
pub const CREDENTIALS: [&str; 7] = [
    "allure-token",
    "mcp-auth-token",
    "mcp-auth-tokens",
    "mcp-permissions",
    "oauth-client-secret",
    "tls-cert",
    "tls-key",
];

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
///
/// The runtime directory belongs to the service user, so a compromised service could
/// plant links there to make root write or chown elsewhere. So nothing below it is
/// reached by a path: each step opens relative to a directory fd that refuses symbolic
/// links (`openat2` with `RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH`, `O_NOFOLLOW`), changes
/// owner and mode on fds, and writes a fresh `O_EXCL` file that `renameat` moves into
/// place (a rename replaces a planted link; it never writes through it).
pub fn refresh_credentials(
    pid: u32,
    from: &Path,
    explicit: &[String],
    runtime_dir: &Path,
) -> Result<usize, SystemdError> {
    let sources = credential_sources(from, explicit)?;
    use std::os::unix::fs::MetadataExt;
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let meta = std::fs::metadata(&proc_dir)
        .map_err(|e| SystemdError::Refresh(format!("process {pid}: {e}")))?;
    let owner = (
        rustix::fs::Uid::from_raw(meta.uid()),
        rustix::fs::Gid::from_raw(meta.gid()),
    );
    let dir = open_rotated_dir(runtime_dir, owner)?;
    let mut copied = 0;
    for (name, src) in &sources {
        if !src.is_file() {
            continue;
        }
        // The sources are root's own files (/etc/allure-mcp, or paths root named).
        let content = std::fs::read(src)
            .map_err(|e| SystemdError::Refresh(format!("{}: {e}", src.display())))?;
        place_file(&dir, name, &content, owner)?;
        copied += 1;
    }
    let target = rustix::process::Pid::from_raw(pid as i32)
        .ok_or_else(|| SystemdError::Refresh(format!("bad pid {pid}")))?;
    rustix::process::kill_process(target, rustix::process::Signal::HUP)
        .map_err(|e| SystemdError::Refresh(format!("SIGHUP to {pid}: {e}")))?;
    Ok(copied)
}

/// The credential names and files to copy: the defaults below `from`, replaced by any
/// `--credential name=/path`.
fn credential_sources(
    from: &Path,
    explicit: &[String],
) -> Result<Vec<(String, PathBuf)>, SystemdError> {
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
    Ok(sources)
}

type Owner = (rustix::fs::Uid, rustix::fs::Gid);

fn refused(what: &str, e: impl std::fmt::Display) -> SystemdError {
    SystemdError::Refresh(format!("{what}: {e}; refusing to touch it"))
}

/// Opens (making it if needed) `<runtime_dir>/credentials` without following a link,
/// checks it is a directory of root or the service user, and gives it to the user, 0700.
fn open_rotated_dir(
    runtime_dir: &Path,
    owner: Owner,
) -> Result<std::os::fd::OwnedFd, SystemdError> {
    use rustix::fs::{Mode, OFlags};
    let dir_flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY;
    // The runtime directory itself is made by systemd in root's /run; only its last
    // component could be a link, and O_NOFOLLOW refuses that.
    let runtime = rustix::fs::open(runtime_dir, dir_flags, Mode::empty())
        .map_err(|e| refused(&runtime_dir.display().to_string(), e))?;
    check_owned_dir(&runtime, owner, &runtime_dir.display().to_string())?;
    match rustix::fs::mkdirat(&runtime, "credentials", Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(refused("credentials", e)),
    }
    let dir = open_beneath(&runtime, "credentials", dir_flags, Mode::empty())
        .map_err(|e| refused(&format!("{}/credentials", runtime_dir.display()), e))?;
    check_owned_dir(&dir, owner, "credentials")?;
    rustix::fs::fchown(&dir, Some(owner.0), Some(owner.1))
        .map_err(|e| refused("credentials", e))?;
    rustix::fs::fchmod(&dir, Mode::from_raw_mode(0o700)).map_err(|e| refused("credentials", e))?;
    Ok(dir)
}

/// A directory owned by root or by the service user; anything else is not ours.
fn check_owned_dir(
    fd: &std::os::fd::OwnedFd,
    owner: Owner,
    what: &str,
) -> Result<(), SystemdError> {
    let st = rustix::fs::fstat(fd).map_err(|e| refused(what, e))?;
    let is_dir = rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory;
    if !is_dir || (st.st_uid != 0 && st.st_uid != owner.0.as_raw()) {
        return Err(refused(
            what,
            "not a directory of root or of the service's user",
        ));
    }
    Ok(())
}

/// `openat2` confined below `dir` with no symbolic link anywhere on the way; on kernels
/// before 5.6 (no `openat2`), `openat` with `O_NOFOLLOW` on a single component.
fn open_beneath(
    dir: &std::os::fd::OwnedFd,
    name: &str,
    flags: rustix::fs::OFlags,
    mode: rustix::fs::Mode,
) -> rustix::io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{OFlags, ResolveFlags};
    let resolve = ResolveFlags::NO_SYMLINKS | ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    match rustix::fs::openat2(dir, name, flags, mode, resolve) {
        Err(rustix::io::Errno::NOSYS) if !name.contains('/') => {
            rustix::fs::openat(dir, name, flags | OFlags::NOFOLLOW, mode)
        }
        other => other,
    }
}

/// Writes `content` to a fresh file in `dir` (never an existing one), gives it to the
/// service user with mode 0400, and renames it over `name`: the service never reads a
/// half-written token, and a link planted at `name` is replaced, not written through.
fn place_file(
    dir: &std::os::fd::OwnedFd,
    name: &str,
    content: &[u8],
    owner: Owner,
) -> Result<(), SystemdError> {
    use rustix::fs::{Mode, OFlags};
    use std::io::Write;
    let tmp = format!(".{name}.{:016x}.new", fastrand::u64(..));
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd =
        open_beneath(dir, &tmp, flags, Mode::from_raw_mode(0o400)).map_err(|e| refused(&tmp, e))?;
    let write = || -> rustix::io::Result<()> {
        rustix::fs::fchown(&fd, Some(owner.0), Some(owner.1))?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o400))?;
        let mut file =
            std::fs::File::from(fd.try_clone().map_err(|e| {
                rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::IO)
            })?);
        file.write_all(content)
            .map_err(|e| rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::IO))?;
        rustix::fs::fsync(&fd)?;
        rustix::fs::renameat(dir, &tmp, dir, name)
    };
    write().map_err(|e| {
        let _ = rustix::fs::unlinkat(dir, &tmp, rustix::fs::AtFlags::empty());
        refused(name, e)
    })
}
