//! `allure-mcp check`: contacts Allure TestOps step by step and says, line by line, what
//! was actually verified. A line is printed only after its step has run, so `ok` is
//! never a guess; a failed step stops the steps that depend on it.

use crate::allure::{AllureClient, AllureError, AuthMode, ClientOptions, Page, model::Project};
use crate::app::AppError;
use crate::config::{Config, HttpConfig, Upstream};
use crate::security::oauth::OAuth;
use crate::security::permissions::Who;
use crate::security::tls::Certificate;
use crate::tools::{Registry, ToolError};

/// The rights `GET /api/permission` names (`PermissionDto`).
const READ: &str = "project:read";
const WRITE: &str = "project:write";

/// Prints the report; `Ok(false)` when any step failed (the binary then exits 1).
pub async fn run(config: &Config) -> Result<bool, AppError> {
    let mut report = Report::default();
    access(&mut report, &config.http_config).await;
    let Upstream::Allure(opts) = config.upstream.clone() else {
        println!("ok   demo mode: the built-in fake answers; nothing to check");
        return Ok(!report.failed);
    };
    // The client is built first: a CA file that is not PEM is a configuration error too.
    let client = AllureClient::new(opts.clone())?;
    report.ok("configuration is valid");
    if opts.tls_insecure {
        report.warn(
            "ALLURE_TLS_INSECURE is on: certificates of Allure TestOps are NOT checked; anyone on the path can read the token",
        );
    }
    let reached =
        contact(&mut report, &client, &opts).await && api(&mut report, &client, &opts).await;
    match config.default_project {
        None => report.skip(
            "default project: ALLURE_PROJECT_ID is not set, so every tool call must name its project",
        ),
        Some(pid) if !reached => report.skip(&format!(
            "default project {pid} and its rights: the API did not answer"
        )),
        Some(pid) => {
            if project(&mut report, &client, pid).await {
                rights(&mut report, &client, pid, config.read_only).await;
            }
        }
    }
    let registry = Registry::dynamic(&config.toolsets, &config.initial_toolsets, config.read_only);
    let mode = if config.read_only {
        " (read-only mode)"
    } else {
        ""
    };
    println!(
        "info {} tools offered{mode}, {} listed when a session starts",
        registry.tools().len(),
        registry.list().len()
    );
    Ok(!report.failed)
}

/// The HTTP transport's access settings: the certificate loads, the OAuth issuers
/// publish keys, and who gets which role.
async fn access(report: &mut Report, cfg: &HttpConfig) {
    if let Some(files) = &cfg.tls {
        match Certificate::load(files.clone()) {
            Ok(_) => report.ok(&format!(
                "HTTPS: certificate {} and key {} load and belong together",
                files.cert.display(),
                files.key.display()
            )),
            Err(e) => report.fail(&format!("HTTPS: {e}")),
        }
    }
    if let Some(settings) = &cfg.oauth {
        match OAuth::new(settings.clone()) {
            Ok(oauth) => {
                for r in oauth.warm().await {
                    match r {
                        Ok((issuer, kids)) => report.ok(&format!(
                            "OAuth: {issuer} publishes {} signing key(s); tokens must name {} in aud{}",
                            kids.len(),
                            settings.audiences.join(" or "),
                            match settings.scopes.is_empty() {
                                true => String::new(),
                                false => format!(" and carry one of the scopes {}", settings.scopes.join(", ")),
                            }
                        )),
                        Err(e) => report.fail(&format!("OAuth: {e}")),
                    }
                }
            }
            Err(e) => report.fail(&format!("OAuth: {e}")),
        }
    }
    let permissions = &cfg.permissions;
    if permissions.is_configured() {
        for (who, grant) in permissions.entries() {
            println!("info permissions: {who} -> {}", grant.describe());
        }
        if !permissions.entries().iter().any(|(w, _)| *w == Who::Anyone) {
            println!("info permissions: anyone else is refused (no `*` entry)");
        }
    } else if cfg.oauth.is_some() {
        println!(
            "info permissions: MCP_PERMISSIONS is not set; static tokens may use every tool offered, OAuth callers may only read"
        );
    } else if !cfg.tokens.is_empty() {
        println!(
            "info permissions: MCP_PERMISSIONS is not set; every token may use every tool offered"
        );
    }
}

/// What the lines say; remembers whether any failed.
#[derive(Default)]
struct Report {
    failed: bool,
}

impl Report {
    fn ok(&mut self, line: &str) {
        println!("ok   {line}");
    }
    fn warn(&mut self, line: &str) {
        println!("WARN {line}");
    }
    fn skip(&mut self, line: &str) {
        println!("skip {line}");
    }
    fn fail(&mut self, line: &str) {
        self.failed = true;
        println!("FAIL {line}");
    }
}

/// How the connection was protected, as far as a finished TLS handshake proves it.
fn transport_security(opts: &ClientOptions) -> &'static str {
    match (opts.base_url.scheme(), opts.tls_insecure) {
        ("https", false) => "TLS, certificate verified",
        ("https", true) => "TLS, certificate NOT verified",
        _ => "plain HTTP, not encrypted",
    }
}

/// Steps 1 and 2: the host answers, and the API token is exchanged for a session. With
/// `ALLURE_AUTH_MODE=api-token` there is no exchange; the API step then proves both.
async fn contact(report: &mut Report, client: &AllureClient, opts: &ClientOptions) -> bool {
    let base = opts.base_url.as_str().trim_end_matches('/');
    if opts.auth_mode == AuthMode::ApiToken {
        report.skip("token exchange: ALLURE_AUTH_MODE=api-token sends the API token on every call");
        return true;
    }
    match client.credential().await {
        Ok(_) => {
            report.ok(&format!("reachable: {base} ({})", transport_security(opts)));
            report.ok("API token exchanged for a session (POST /api/uaa/oauth/token)");
            true
        }
        Err(e) if unreached(&e) => {
            unreachable(report, opts, &e);
            false
        }
        Err(e) => {
            report.ok(&format!("reachable: {base} ({})", transport_security(opts)));
            report.fail(&format!("token exchange: {}", ToolError::from(e)));
            false
        }
    }
}

/// The line for a host that did not answer, with what to check.
fn unreachable(report: &mut Report, opts: &ClientOptions, e: &AllureError) {
    let base = opts.base_url.as_str().trim_end_matches('/');
    report.fail(&format!(
        "cannot reach {base}: {e}. Check the host name and port in ALLURE_BASE_URL, DNS, proxies and firewalls{}",
        tls_hint(opts)
    ));
    report.skip("token exchange and API: Allure TestOps was not reached");
}

/// No answer at all: no connection, a broken TLS handshake, or silence until the deadline.
fn unreached(e: &AllureError) -> bool {
    matches!(
        e,
        AllureError::Transport { .. } | AllureError::Timeout { .. }
    )
}

fn tls_hint(opts: &ClientOptions) -> &'static str {
    if opts.base_url.scheme() == "https" {
        "; for a certificate problem, ALLURE_CA_FILE names the CA that signed it"
    } else {
        ""
    }
}

/// Step 3: an API call with the session answers, and says how many projects it sees.
async fn api(report: &mut Report, client: &AllureClient, opts: &ClientOptions) -> bool {
    let listed = client
        .get::<Page<Project>>("/project", &[("size", "1".into())])
        .await;
    match listed {
        Ok(p) => {
            if opts.auth_mode == AuthMode::ApiToken {
                let base = opts.base_url.as_str().trim_end_matches('/');
                report.ok(&format!("reachable: {base} ({})", transport_security(opts)));
            }
            report.ok(&format!(
                "API answers at {}: {} project(s) visible to this token",
                opts.api_prefix, p.total_elements
            ));
            true
        }
        Err(e) if unreached(&e) => {
            unreachable(report, opts, &e);
            false
        }
        Err(e) if e.is_not_found() => {
            report.fail(&format!(
                "API: {e}. The API is not at {}{}; check ALLURE_API_PREFIX (/api on current instances, /api/rs on old ones)",
                opts.base_url.as_str().trim_end_matches('/'),
                opts.api_prefix
            ));
            false
        }
        Err(e) => {
            report.fail(&format!("API: {}", ToolError::from(e)));
            false
        }
    }
}

/// Step 4: the default project exists and this token can read it.
async fn project(report: &mut Report, client: &AllureClient, pid: i64) -> bool {
    match client.get::<Project>(&format!("/project/{pid}"), &[]).await {
        Ok(p) => {
            report.ok(&format!(
                "default project {pid} ({}) exists and is readable",
                p.name
            ));
            true
        }
        Err(AllureError::Status {
            status: 403 | 404, ..
        }) => {
            report.fail(&format!(
                "ALLURE_PROJECT_ID={pid}: no such project, or this token cannot read it. `list_projects` shows the projects it can read; set ALLURE_PROJECT_ID to one of them"
            ));
            false
        }
        Err(e) => {
            report.fail(&format!("default project {pid}: {}", ToolError::from(e)));
            false
        }
    }
}

/// Step 5: the token's rights in the default project, against what the server offers.
/// Missing write rights fail only the write tools, so they warn unless read-only.
async fn rights(report: &mut Report, client: &AllureClient, pid: i64, read_only: bool) {
    let answer = client
        .get::<Vec<String>>("/permission", &[("projectId", pid.to_string())])
        .await;
    let granted = match answer {
        Ok(g) => g,
        Err(e) if e.is_not_found() => {
            report.warn(&format!(
                "rights: this server has no GET /permission ({e}); rights were not verified"
            ));
            return;
        }
        Err(e) => {
            report.fail(&format!("rights in project {pid}: {}", ToolError::from(e)));
            return;
        }
    };
    let has = |right: &str| granted.iter().any(|g| g == right);
    let listed = if granted.is_empty() {
        "none".to_owned()
    } else {
        granted.join(", ")
    };
    if !has(READ) {
        report.fail(&format!(
            "rights in project {pid}: {listed}; without {READ} no tool can read it. Give the token's user read access"
        ));
    } else if !has(WRITE) && !read_only {
        report.warn(&format!(
            "rights in project {pid}: {listed}; without {WRITE} every write tool will be refused. Set ALLURE_READ_ONLY=true, or give the token's user write access"
        ));
    } else {
        report.ok(&format!("rights in project {pid}: {listed}"));
    }
}
