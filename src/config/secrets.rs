//! Where secrets come from: the value, a `*_FILE`, or a systemd credential (a rotated
//! copy first), each read once and never echoed.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::{ConfigError, bad};

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
pub(super) fn read_secret(var: &'static str, path: &Path) -> Result<SecretString, ConfigError> {
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
pub(super) fn secret(
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

/// Where systemd put credential `name`, if it did (a rotated copy first): for files that
/// are read again on reload, such as the TLS certificate.
pub(super) fn credential_path(name: &str, sources: &SecretSources) -> Option<PathBuf> {
    [&sources.rotated_directory, &sources.credentials_directory]
        .into_iter()
        .flatten()
        .map(|dir| dir.join(name))
        .find(|p| p.exists())
}
