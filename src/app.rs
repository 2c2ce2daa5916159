//! Wiring: from a validated [`Config`] to a running server (or a `check` report).

use std::time::Duration;

use secrecy::SecretString;

use crate::allure::{AllureClient, AllureError, ClientOptions};
use std::sync::Arc;

use crate::config::{Config, Upstream};
use crate::reload::Access;
use crate::security::auth::TokenSet;
use crate::server::AllureMcp;
use crate::tools::{Ctx, Registry};

/// Errors while starting or running the app.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Allure(#[from] AllureError),
    #[error("{0}")]
    Stdio(#[from] crate::transport::stdio::StdioError),
    #[error("cannot start the demo upstream: {0}")]
    Demo(std::io::Error),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Http(#[from] crate::transport::http::HttpError),
    /// A socket handed in by systemd is reachable beyond loopback and no token is set.
    #[error("{0}")]
    Exposed(String),
    #[error("the socket from systemd is unusable: {0}")]
    Socket(std::io::Error),
    /// The certificate, its key or the OAuth client could not be set up.
    #[error("{0}")]
    Tls(String),
}

impl AppError {
    /// A problem the operator must fix in the configuration (exit code 2), as opposed
    /// to one a restart may cure.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            AppError::Exposed(_) | AppError::Tls(_) | AppError::Allure(AllureError::Setup(_))
        )
    }
}

/// Builds the MCP server for a configuration. In demo mode it also starts the fake,
/// which must live as long as the server: the caller keeps the returned handle.
pub async fn build(config: &Config) -> Result<Built, AppError> {
    let (opts, fake) = match &config.upstream {
        Upstream::Allure(opts) => (opts.clone(), None),
        Upstream::Demo => demo_upstream().await?,
    };
    if opts.tls_insecure {
        tracing::warn!(
            "ALLURE_TLS_INSECURE is on: TLS certificates of Allure TestOps are NOT checked; anyone on the path can read the token"
        );
        eprintln!(
            "allure-mcp: WARNING: ALLURE_TLS_INSECURE is on; TLS certificates are not checked"
        );
    }
    let client = AllureClient::new(opts)?;
    let client_for_http = client.clone();
    let metrics = crate::metrics::Metrics::new();
    let observed = metrics.clone();
    client.observe_statuses(move |status| observed.record_upstream(status));
    let registry = Registry::dynamic(&config.toolsets, &config.initial_toolsets, config.read_only);
    let ctx = Ctx {
        client,
        default_project: config.default_project,
        read_only: config.read_only,
        scope: Default::default(),
        metrics: metrics.clone(),
        limits: Arc::new(crate::tools::CallLimits::new(
            config.min_poll_interval,
            config.max_waits_per_identity,
        )),
        files_dir: config.files_dir.clone().map(Arc::new),
        // A cache of callers' credentials only where callers may bring tokens.
        callers: (config.http_config.token_source != crate::config::TokenSource::Service).then(
            || {
                Arc::new(crate::allure::callers::CallerClients::new(
                    client_for_http.clone(),
                ))
            },
        ),
    };
    Ok(Built {
        server: AllureMcp::new(registry, ctx),
        client: client_for_http,
        metrics,
        fake,
    })
}

/// The built-in fake Allure TestOps (`--demo`) and options pointing at it.
#[cfg(feature = "demo")]
async fn demo_upstream() -> Result<(ClientOptions, Option<Demo>), AppError> {
    let fake = fake_testops::FakeTestOps::start()
        .await
        .map_err(AppError::Demo)?;
    let url =
        url::Url::parse(&fake.base_url()).map_err(|e| AppError::Unsupported(e.to_string()))?;
    let mut opts = ClientOptions::new(url, SecretString::from(fake_testops::DEMO_TOKEN.to_owned()));
    opts.timeout = Duration::from_secs(30);
    eprintln!(
        "allure-mcp: DEMO MODE: serving sample data from a built-in fake Allure TestOps at {} (no real instance is used)",
        fake.base_url()
    );
    Ok((opts, Some(fake)))
}

#[cfg(not(feature = "demo"))]
async fn demo_upstream() -> Result<(ClientOptions, Option<Demo>), AppError> {
    Err(AppError::Unsupported(
        "--demo: this build has no demo upstream (built without the `demo` feature); set ALLURE_BASE_URL".into(),
    ))
}

/// The demo upstream, when there is one: it must live as long as the server.
#[cfg(feature = "demo")]
pub type Demo = fake_testops::FakeTestOps;
/// No demo upstream in this build.
#[cfg(not(feature = "demo"))]
pub type Demo = std::convert::Infallible;

/// What [`build`] makes: the MCP server and what the HTTP transport also needs.
pub struct Built {
    pub server: AllureMcp,
    pub client: AllureClient,
    pub metrics: crate::metrics::Metrics,
    /// The demo upstream, kept alive as long as the server.
    pub fake: Option<Demo>,
}

/// Runs the configured mode to completion.
pub async fn run(config: Config, activated: Option<std::net::TcpListener>) -> Result<(), AppError> {
    let built = build(&config).await?;
    let _watchdog = crate::systemd::spawn_watchdog();
    if config.http {
        let cfg = config.http_config.clone();
        let listener = match activated {
            Some(std) => {
                tracing::info!("using the socket passed by systemd");
                tokio::net::TcpListener::from_std(std).map_err(AppError::Socket)?
            }
            None => crate::transport::http::bind(&cfg).await?,
        };
        let addr = listener.local_addr().map_err(AppError::Socket)?;
        // The same rule as for BIND, for a socket systemd made from ListenStream=.
        if let Some(problem) =
            cfg.exposure_problem(addr.ip().is_loopback(), &format!("the socket {addr}"))
        {
            return Err(AppError::Exposed(problem.to_string()));
        }
        if !addr.ip().is_loopback() && cfg.tls.is_none() && cfg.trusted_proxies.is_empty() {
            tracing::warn!(%addr, "serving plain HTTP beyond loopback: bearer tokens cross the network in clear; set TLS_CERT_FILE and TLS_KEY_FILE, or put a TLS proxy in front (TRUSTED_PROXIES)");
        }
        let tokens = Arc::new(TokenSet::new(&cfg.tokens));
        let access = Access::new(&cfg).map_err(AppError::Tls)?;
        tokio::spawn(crate::reload::on_hangup(crate::reload::Running {
            client: built.client.clone(),
            tokens: tokens.clone(),
            access: access.clone(),
            addr,
            oauth: cfg.oauth.clone(),
        }));
        let services = crate::transport::http::Services {
            server: built.server,
            metrics: built.metrics,
            tokens,
            upstream: Arc::new(built.client),
            tls: access.tls,
            oauth: access.oauth,
            permissions: access.permissions,
        };
        crate::transport::http::serve(
            listener,
            services,
            cfg,
            crate::transport::http::shutdown_signal(),
        )
        .await?;
        return Ok(());
    }
    tracing::info!(
        tools = built.server.registry().tools().len(),
        read_only = config.read_only,
        "serving MCP on stdio"
    );
    crate::transport::stdio::serve(built.server).await?;
    Ok(())
}
