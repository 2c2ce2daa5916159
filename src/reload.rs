//! What a running HTTP server re-reads on SIGHUP (`systemctl reload`): the Allure token,
//! the MCP tokens, the permissions, the TLS certificate and the log level, without
//! dropping a connection or a session.
//!
//! Each part is applied on its own: a certificate renewal caught half-way must not hold
//! back a token revocation. What would expose the server (no token left on a socket
//! reachable beyond loopback) is refused as a whole. OAuth settings are not reloaded:
//! the keys and caches behind them belong to the issuers the server started with.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use crate::allure::AllureClient;
use crate::config::{Config, HttpConfig, SecretSources, Upstream};
use crate::security::auth::TokenSet;
use crate::security::oauth::{OAuth, OAuthSettings};
use crate::security::permissions::Permissions;
use crate::security::tls::Certificate;

/// What decides who may use the HTTP transport beyond the static tokens: the TLS
/// certificate, the OAuth resource server and the permissions table.
#[derive(Clone)]
pub struct Access {
    pub tls: Option<Arc<Certificate>>,
    pub oauth: Option<Arc<OAuth>>,
    pub permissions: Arc<RwLock<Permissions>>,
}

impl Access {
    /// The certificate loaded, the OAuth resource server started; or why not (a
    /// configuration error).
    pub fn new(cfg: &HttpConfig) -> Result<Access, String> {
        let tls = match &cfg.tls {
            Some(files) => Some(Certificate::load(files.clone()).map_err(|e| e.to_string())?),
            None => None,
        };
        let oauth = match &cfg.oauth {
            Some(settings) => Some(start_oauth(settings, &cfg.permissions)?),
            None => None,
        };
        Ok(Access {
            tls,
            oauth,
            permissions: Arc::new(RwLock::new(cfg.permissions.clone())),
        })
    }
}

/// The resource server, its keys fetched in the background so the first client does not
/// wait (a provider that is away now is asked again when a token comes).
fn start_oauth(settings: &OAuthSettings, table: &Permissions) -> Result<Arc<OAuth>, String> {
    let oauth = OAuth::new(settings.clone())?;
    let warm = oauth.clone();
    tokio::spawn(async move {
        for r in warm.warm().await {
            if let Err(e) = r {
                tracing::warn!(error = %e, "OAuth: no signing keys yet");
            }
        }
    });
    if !table.is_configured() {
        tracing::warn!(
            "OAuth is on and MCP_PERMISSIONS is not set: OAuth callers may only read; name them (sub:, scope:, claim:) to let them write"
        );
    }
    Ok(oauth)
}

/// What identifies the OAuth settings, the client secret left out.
fn oauth_fingerprint(o: &Option<OAuthSettings>) -> Option<String> {
    o.as_ref().map(|s| {
        format!(
            "{:?} {} {:?} {:?} {} {:?}",
            s.issuers,
            s.resource,
            s.audiences,
            s.scopes,
            s.name_claim,
            s.introspection.as_ref().map(|c| &c.client_id)
        )
    })
}

/// The running server's parts a reload changes.
pub struct Running {
    pub client: AllureClient,
    pub tokens: Arc<TokenSet>,
    pub access: Access,
    /// Where it listens: a reload must not leave it exposed there.
    pub addr: SocketAddr,
    pub oauth: Option<OAuthSettings>,
}

/// Forever: on each SIGHUP, read the configuration again and apply it.
pub async fn on_hangup(running: Running) {
    let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        return;
    };
    while hangups.recv().await.is_some() {
        crate::systemd::reloading();
        let fresh = crate::config::load_cli()
            .map_err(|e| e.to_string())
            .and_then(|(cli, _)| {
                Config::from_cli(&cli, &SecretSources::from_env()).map_err(|e| e.to_string())
            });
        let outcome = fresh.and_then(|c| apply(&running, c));
        match outcome {
            Ok(status) => crate::systemd::ready(&status),
            Err(e) => {
                tracing::error!(error = %e, "reload failed; keeping the running configuration");
                crate::systemd::ready(&format!("serving; reload failed: {e}"));
            }
        }
    }
}

/// Applies a configuration read again; the systemd status to show, or why nothing was.
fn apply(running: &Running, c: Config) -> Result<String, String> {
    let cfg = &c.http_config;
    let addr = running.addr;
    if let Some(problem) = cfg.exposure_problem(addr.ip().is_loopback(), &format!("{addr}")) {
        return Err(problem.to_string());
    }
    if let Upstream::Allure(a) = c.upstream {
        running.client.set_token(a.token);
    }
    running.tokens.replace(&cfg.tokens);
    *running
        .access
        .permissions
        .write()
        .unwrap_or_else(|e| e.into_inner()) = cfg.permissions.clone();
    crate::logging::set_level(c.log_level);
    if oauth_fingerprint(&cfg.oauth) != oauth_fingerprint(&running.oauth) {
        tracing::warn!("OAUTH_* settings changed: they take effect at the next restart");
    }
    let tls = match (&running.access.tls, &cfg.tls) {
        (Some(cert), Some(files)) => cert.reload(files.clone()).map_err(|e| e.to_string()),
        _ => Ok(()),
    };
    match tls {
        Ok(()) => {
            tracing::info!(tokens = cfg.tokens.len(), tls = cfg.tls.is_some(), log_level = %c.log_level, "reloaded credentials and log level (and the certificate and permissions)");
            Ok("serving; credentials and log level reloaded".into())
        }
        Err(e) => {
            tracing::error!(error = %e, "reloaded credentials and log level; TLS certificate not reloaded, the running one stays");
            Ok(format!(
                "serving; credentials reloaded, TLS certificate not: {e}"
            ))
        }
    }
}
