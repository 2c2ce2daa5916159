//! Who may reach the HTTP transport and how: HTTPS (TLS_CERT_FILE / TLS_KEY_FILE or the
//! `tls-cert` / `tls-key` credentials), OAuth access tokens (OAUTH_*, introspection's
//! client secret from the `oauth-client-secret` credential too), and the role and
//! toolsets of each identity (MCP_PERMISSIONS).

use secrecy::ExposeSecret;

use super::cli::Cli;
use super::secrets::{SecretSources, credential_path, secret};
use super::{ConfigError, bad};
use crate::security::introspection::IntrospectionClient;
use crate::security::oauth::OAuthSettings;
use crate::security::permissions::{Permissions, Who};
use crate::security::tls::TlsFiles;

/// The certificate and key: both flags, or both credentials, or neither.
pub(super) fn tls_files(
    cli: &Cli,
    sources: &SecretSources,
) -> Result<Option<TlsFiles>, ConfigError> {
    let cert = cli
        .tls_cert_file
        .clone()
        .or_else(|| credential_path("tls-cert", sources));
    let key = cli
        .tls_key_file
        .clone()
        .or_else(|| credential_path("tls-key", sources));
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => Ok(Some(TlsFiles { cert, key })),
        (Some(_), None) => Err(bad(
            "TLS_KEY_FILE",
            "a certificate is set but no key",
            "set TLS_KEY_FILE (or the tls-key credential) beside TLS_CERT_FILE",
        )),
        (None, Some(_)) => Err(bad(
            "TLS_CERT_FILE",
            "a key is set but no certificate",
            "set TLS_CERT_FILE (or the tls-cert credential) beside TLS_KEY_FILE",
        )),
    }
}

fn list(raw: Option<&str>) -> Vec<String> {
    raw.unwrap_or("")
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An absolute URL; plain `http` only for a loopback host (a local provider, tests): keys
/// fetched in the clear could be anyone's.
fn url_setting(var: &'static str, raw: &str) -> Result<url::Url, ConfigError> {
    let u = url::Url::parse(raw).map_err(|_| {
        bad(
            var,
            format!("'{raw}' is not a URL"),
            "write it in full, e.g. https://idp.example.com/realms/qa",
        )
    })?;
    if crate::security::jwks::trusted_url(raw) {
        Ok(u)
    } else {
        Err(bad(
            var,
            format!("'{raw}' is not https"),
            "use https:// (plain http only on loopback)",
        ))
    }
}

/// OAUTH_*: `None` unless OAUTH_ISSUER is set; then OAUTH_RESOURCE is required.
pub(super) fn oauth_settings(
    cli: &Cli,
    sources: &SecretSources,
) -> Result<Option<OAuthSettings>, ConfigError> {
    let issuers = list(cli.oauth_issuer.as_deref());
    if issuers.is_empty() {
        if cli.oauth_resource.is_some()
            || cli.oauth_scopes.is_some()
            || cli.oauth_client_id.is_some()
        {
            return Err(bad(
                "OAUTH_ISSUER",
                "OAuth settings are given but no issuer",
                "set OAUTH_ISSUER to your identity provider's issuer URL",
            ));
        }
        return Ok(None);
    }
    for i in &issuers {
        url_setting("OAUTH_ISSUER", i)?;
    }
    let resource = cli
        .oauth_resource
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            bad(
                "OAUTH_RESOURCE",
                "not set, and tokens must name this server in `aud`",
                "set it to the URL clients use, e.g. https://mcp.example.com/mcp",
            )
        })?;
    url_setting("OAUTH_RESOURCE", resource)?;
    let mut audiences = vec![resource.to_owned()];
    audiences.extend(list(cli.oauth_audience.as_deref()));
    Ok(Some(OAuthSettings {
        issuers,
        resource: resource.to_owned(),
        audiences,
        scopes: list(cli.oauth_scopes.as_deref()),
        name_claim: cli.oauth_name_claim.trim().to_owned(),
        introspection: introspection_client(cli, sources)?,
    }))
}

/// OAUTH_CLIENT_ID and its secret: both or neither.
fn introspection_client(
    cli: &Cli,
    sources: &SecretSources,
) -> Result<Option<IntrospectionClient>, ConfigError> {
    let secret = secret(
        "OAUTH_CLIENT_SECRET",
        "OAUTH_CLIENT_SECRET_FILE",
        "oauth-client-secret",
        cli.oauth_client_secret.as_deref(),
        cli.oauth_client_secret_file.as_deref(),
        sources,
    )?;
    let id = cli
        .oauth_client_id
        .as_deref()
        .map(str::trim)
        .filter(|i| !i.is_empty());
    match (id, secret) {
        (None, None) => Ok(None),
        (Some(id), Some(secret)) => Ok(Some(IntrospectionClient {
            client_id: id.to_owned(),
            client_secret: secret,
        })),
        (Some(_), None) => Err(bad(
            "OAUTH_CLIENT_SECRET",
            "OAUTH_CLIENT_ID is set but no secret",
            "set OAUTH_CLIENT_SECRET_FILE (or the oauth-client-secret credential)",
        )),
        (None, Some(_)) => Err(bad(
            "OAUTH_CLIENT_ID",
            "a client secret is set but no client id",
            "set OAUTH_CLIENT_ID to this server's client at the provider",
        )),
    }
}

/// MCP_PERMISSIONS (the value, the file, or the `mcp-permissions` credential); an entry
/// naming a token that does not exist is a mistake worth stopping for.
pub(super) fn permissions(
    cli: &Cli,
    sources: &SecretSources,
    token_names: &[&str],
    oauth_issuers: usize,
) -> Result<Permissions, ConfigError> {
    let text = secret(
        "MCP_PERMISSIONS",
        "MCP_PERMISSIONS_FILE",
        "mcp-permissions",
        cli.mcp_permissions.as_deref(),
        cli.mcp_permissions_file.as_deref(),
        sources,
    )?;
    let Some(text) = text else {
        return Ok(Permissions::default());
    };
    let table = Permissions::parse(text.expose_secret())
        .map_err(|e| bad("MCP_PERMISSIONS", e, "see README, Permissions per identity"))?;
    for (who, _) in table.entries() {
        match who {
            Who::Token(name) if !token_names.contains(&name.as_str()) => {
                return Err(bad(
                    "MCP_PERMISSIONS",
                    format!("no MCP token is named '{name}'"),
                    "use a name from MCP_AUTH_TOKENS (or `default` for MCP_AUTH_TOKEN)",
                ));
            }
            Who::Subject(i, _) | Who::Scope(i, _) | Who::Claim(i, _, _) if *i >= oauth_issuers => {
                return Err(bad(
                    "MCP_PERMISSIONS",
                    match oauth_issuers {
                        0 => format!("'{who}' names an OAuth caller, and OAUTH_ISSUER is not set"),
                        n => format!("'{who}' names issuer {} of the {n} in OAUTH_ISSUER", i + 1),
                    },
                    "set the OAUTH_* settings, or remove the entry",
                ));
            }
            _ => {}
        }
    }
    Ok(table)
}
