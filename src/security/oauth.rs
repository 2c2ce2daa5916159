//! The OAuth 2.1 resource server of the MCP authorization specification: access tokens
//! issued by an existing identity provider, checked here and nowhere else.
//!
//! A token is a JWT signed by a key of a configured issuer's JWKS ([`super::jwks`]), with
//! that issuer as `iss`, not expired nor early (30 s of leeway), an `aud` naming this
//! server (OAUTH_RESOURCE, or an OAUTH_AUDIENCE alias), and one of OAUTH_SCOPES when
//! they are set. The token is never passed on: Allure TestOps sees only the server's own
//! API token. What a caller may do then comes from MCP_PERMISSIONS, by subject or scope.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use super::claims::caller_of;
pub use super::claims::{LEEWAY_SECONDS, OAuthCaller, Rejection};
use super::introspection::{Introspection, IntrospectionClient, Rules};
use super::jwks::{Issuer, KeysError};

/// Larger bearer values are refused unread.
const MAX_TOKEN: usize = 16 * 1024;

/// The settings (OAUTH_*), checked by the configuration.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// Issuer identifiers, exactly as the providers write them in `iss`.
    pub issuers: Vec<String>,
    /// This server's canonical URL (the MCP endpoint), e.g. `https://mcp.example.com/mcp`.
    pub resource: String,
    /// Accepted `aud` values: the resource, and any alias the provider must use instead.
    pub audiences: Vec<String>,
    /// Scopes this server knows; a token needs one of them (none set: no scope needed).
    pub scopes: Vec<String>,
    /// The claim shown as the caller's name beside its subject.
    pub name_claim: String,
    /// For opaque tokens: this server's client at the provider (RFC 7662).
    pub introspection: Option<IntrospectionClient>,
}

impl OAuthSettings {
    /// Where this server's Protected Resource Metadata is (RFC 9728 §3.1: the well-known
    /// path inserted before the resource's path).
    pub fn metadata_url(&self) -> String {
        match url::Url::parse(&self.resource) {
            Ok(u) => format!(
                "{}{}",
                u.origin().ascii_serialization(),
                self.metadata_path()
            ),
            Err(_) => String::new(),
        }
    }

    /// The path part of [`Self::metadata_url`].
    pub fn metadata_path(&self) -> String {
        let path = url::Url::parse(&self.resource)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        format!("/.well-known/oauth-protected-resource{path}")
    }

    /// The Protected Resource Metadata document (RFC 9728 §2).
    pub fn metadata(&self) -> Value {
        let mut doc = serde_json::json!({
            "resource": self.resource,
            "authorization_servers": self.issuers,
            "bearer_methods_supported": ["header"],
            "resource_name": "allure-mcp (Allure TestOps)",
            "resource_documentation": "https://github.com/allure-mcp/allure-mcp#remote-clients-and-oauth",
        });
        if !self.scopes.is_empty() {
            doc["scopes_supported"] = serde_json::json!(self.scopes);
        }
        doc
    }
}

/// The resource server: settings and each issuer's keys.
pub struct OAuth {
    pub settings: OAuthSettings,
    issuers: Vec<Issuer>,
    introspection: Option<Introspection>,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl OAuth {
    pub fn new(settings: OAuthSettings) -> Result<Arc<OAuth>, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let plain = settings.issuers.iter().all(|i| i.starts_with("http://"));
        let builder = reqwest::Client::builder()
            .user_agent(concat!("allure-mcp/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            // Metadata and keys come from the issuer's own URLs, not from where a
            // redirect might lead.
            .redirect(reqwest::redirect::Policy::none());
        // Loopback issuers (tests, a local provider) speak plain HTTP: no CA store needed.
        let builder = if plain {
            builder.tls_certs_only(Vec::new())
        } else {
            builder
        };
        let http = builder
            .build()
            .map_err(|e| format!("cannot build the OAuth HTTP client: {e}"))?;
        let issuers = settings
            .issuers
            .iter()
            .map(|i| Issuer::new(i.clone(), http.clone()))
            .collect();
        let introspection = settings.introspection.clone().map(Introspection::new);
        Ok(Arc::new(OAuth {
            settings,
            issuers,
            introspection,
        }))
    }

    /// Fetches every issuer's keys (at start, and by `check`).
    pub async fn warm(&self) -> Vec<Result<(String, Vec<String>), KeysError>> {
        let mut out = Vec::new();
        for i in &self.issuers {
            out.push(i.refresh().await.map(|()| (i.issuer.clone(), i.key_ids())));
        }
        out
    }

    /// Checks a bearer token; the caller it proves, or why not.
    pub async fn validate(&self, token: &str) -> Result<OAuthCaller, Rejection> {
        if token.len() > MAX_TOKEN {
            return Err(Rejection::Malformed);
        }
        let Ok(header) = jsonwebtoken::decode_header(token) else {
            // Not a JWT: an opaque token, which only the provider can vouch for.
            return match &self.introspection {
                Some(i) => i.check(token, &self.issuers, &self.rules()).await,
                None => Err(Rejection::Malformed),
            };
        };
        let (index, issuer) = self.issuer_of(token)?;
        let key = issuer
            .key(header.kid.as_deref())
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "cannot check an OAuth token");
                Rejection::Unavailable
            })?
            .ok_or(Rejection::UnknownKey)?;
        // The algorithm is the key's, never merely the token's say-so (no `none`, no
        // HMAC with a public key as the secret).
        if !key.algorithms.contains(&header.alg) {
            return Err(Rejection::BadSignature);
        }
        // RFC 9068 access tokens say `at+jwt`; most providers say `JWT`. Anything else (an
        // ID token of a provider that marks them) is not for a resource server.
        if header.typ.as_deref().is_some_and(|t| {
            !["jwt", "at+jwt", "application/at+jwt"].contains(&t.to_ascii_lowercase().as_str())
        }) {
            return Err(Rejection::NotAccessToken);
        }
        let claims = jsonwebtoken::decode::<Map<String, Value>>(
            token,
            &key.decoding,
            &self.validation(header.alg, &issuer.issuer),
        )
        .map_err(|e| rejection(e.kind()))?
        .claims;
        caller_of(
            index,
            claims,
            &self.settings.scopes,
            &self.settings.name_claim,
        )
    }

    /// Whose keys verify `token`: the one issuer, or (with several) the one its `iss`
    /// names. Either way the signature check verifies `iss` after.
    fn issuer_of(&self, token: &str) -> Result<(usize, &Issuer), Rejection> {
        if let [only] = self.issuers.as_slice() {
            return Ok((0, only));
        }
        let iss = unverified_issuer(token).ok_or(Rejection::Malformed)?;
        self.issuers
            .iter()
            .enumerate()
            .find(|(_, i)| i.issuer == iss)
            .ok_or(Rejection::WrongIssuer)
    }

    fn validation(&self, alg: Algorithm, issuer: &str) -> Validation {
        let mut v = Validation::new(alg);
        v.leeway = LEEWAY_SECONDS;
        v.validate_nbf = true;
        v.set_issuer(&[issuer]);
        v.set_audience(&self.settings.audiences);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v
    }

    fn rules(&self) -> Rules<'_> {
        Rules {
            audiences: &self.settings.audiences,
            scopes: &self.settings.scopes,
            name_claim: &self.settings.name_claim,
        }
    }
}

/// The `iss` of a token not yet verified: only to pick whose keys verify it.
fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

fn rejection(kind: &ErrorKind) -> Rejection {
    match kind {
        ErrorKind::ExpiredSignature => Rejection::Expired,
        ErrorKind::ImmatureSignature => Rejection::NotYetValid,
        ErrorKind::InvalidAudience => Rejection::WrongAudience,
        ErrorKind::InvalidIssuer => Rejection::WrongIssuer,
        ErrorKind::MissingRequiredClaim(_) => Rejection::MissingClaim,
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => Rejection::Malformed,
        _ => Rejection::BadSignature,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(resource: &str) -> OAuthSettings {
        OAuthSettings {
            issuers: vec!["https://idp.example.com/realms/qa".into()],
            resource: resource.into(),
            audiences: vec![resource.into()],
            scopes: vec!["allure:read".into()],
            name_claim: "preferred_username".into(),
            introspection: None,
        }
    }

    #[test]
    fn metadata_sits_at_the_well_known_path_of_the_resource() {
        let s = settings("https://mcp.example.com/mcp");
        assert_eq!(
            s.metadata_url(),
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
        let doc = s.metadata();
        assert_eq!(doc["resource"], "https://mcp.example.com/mcp");
        assert_eq!(
            doc["authorization_servers"][0],
            "https://idp.example.com/realms/qa"
        );
        assert_eq!(doc["scopes_supported"][0], "allure:read");
        assert_eq!(
            settings("https://mcp.example.com").metadata_path(),
            "/.well-known/oauth-protected-resource"
        );
    }
}
