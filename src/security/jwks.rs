//! An authorization server's signing keys: its metadata discovered (RFC 8414, then
//! OpenID Connect discovery), its JWKS fetched, cached, and fetched again for a key id
//! it has not seen (key rotation), never more often than a cool-down allows, so tokens
//! with made-up key ids cannot make this server hammer the identity provider.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

/// Keys are fetched again after this long even when every key id is known, so a key
/// the provider withdrew stops being accepted.
const MAX_AGE: Duration = Duration::from_secs(3600);
/// No two fetches closer than this (an unknown key id waits for the next one).
const COOL_DOWN: Duration = Duration::from_secs(10);
/// While the provider cannot be reached, cached keys verify tokens this long after they
/// were fetched, no longer: a key the provider withdrew must not live on because this
/// server was cut off from it.
const STALE_AT_MOST: Duration = Duration::from_secs(24 * 3600);
/// The largest metadata or JWKS document read.
const MAX_DOCUMENT: usize = 256 * 1024;

/// Why keys could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("the authorization server {issuer} could not be reached or answered badly: {reason}")]
    Unreachable { issuer: String, reason: String },
    #[error("the metadata at {url} names issuer {found}, not {issuer}")]
    IssuerMismatch {
        url: String,
        found: String,
        issuer: String,
    },
}

/// One verification key and the algorithms it may verify.
#[derive(Clone)]
pub struct Key {
    pub decoding: DecodingKey,
    pub algorithms: Vec<Algorithm>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Key>,
    fetched: Option<Instant>,
    /// From the metadata, once discovered.
    endpoints: Option<Endpoints>,
}

/// What this server uses of an issuer's metadata.
#[derive(Clone, Debug, Deserialize)]
pub struct Endpoints {
    pub jwks_uri: String,
    /// RFC 7662, for opaque tokens (not every provider has one).
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
}

/// One issuer's keys.
pub struct Issuer {
    pub issuer: String,
    http: reqwest::Client,
    cache: RwLock<Cache>,
    /// Held while fetching: one fetch at a time, the last attempt's time inside.
    fetching: tokio::sync::Mutex<Option<Instant>>,
}

impl Issuer {
    pub fn new(issuer: String, http: reqwest::Client) -> Issuer {
        Issuer {
            issuer,
            http,
            cache: RwLock::default(),
            fetching: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached key for `kid`, and whether the cache is fresh (younger than
    /// [`MAX_AGE`]). Keys older than [`STALE_AT_MOST`] are not returned at all.
    fn cached(&self, kid: Option<&str>) -> (Option<Key>, bool) {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        let fresh = cache.fetched.is_some_and(|t| t.elapsed() < MAX_AGE);
        if cache.fetched.is_none_or(|t| t.elapsed() >= STALE_AT_MOST) {
            return (None, false);
        }
        let key = match kid {
            Some(kid) => cache.keys.get(kid).cloned(),
            // A token without a key id can only mean the provider's one key.
            None if cache.keys.len() == 1 => cache.keys.values().next().cloned(),
            None => None,
        };
        (key, fresh)
    }

    /// The key for `kid`: from the cache, or from a new fetch when it is unknown (or the
    /// cache is old) and the cool-down has passed. `Ok(None)`: the provider has no such key.
    pub async fn key(&self, kid: Option<&str>) -> Result<Option<Key>, KeysError> {
        let (key, fresh) = self.cached(kid);
        if key.is_some() && fresh {
            return Ok(key);
        }
        let mut last = self.fetching.lock().await;
        // Another request may have fetched while this one waited.
        let (key, fresh) = self.cached(kid);
        if key.is_some() && fresh {
            return Ok(key);
        }
        if last.is_some_and(|t| t.elapsed() < COOL_DOWN) {
            return Ok(key);
        }
        *last = Some(Instant::now());
        match self.refresh().await {
            Ok(()) => Ok(self.cached(kid).0),
            // Keys that are merely old still verify while the provider is away.
            Err(e) if key.is_some() => {
                tracing::warn!(error = %e, "could not refresh the authorization server's keys; using the cached ones");
                Ok(key)
            }
            Err(e) => Err(e),
        }
    }

    /// Fetches the JWKS (discovering where it is first) and replaces the cache.
    pub async fn refresh(&self) -> Result<(), KeysError> {
        let jwks_uri = self.endpoints().await?.jwks_uri;
        // Key by key: one the library cannot read (an encryption key of a newer type)
        // must not hide the signing keys beside it.
        #[derive(Deserialize)]
        struct Set {
            keys: Vec<serde_json::Value>,
        }
        let set: Set = self.get_json(&jwks_uri).await?;
        let keys: HashMap<String, Key> = set
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
            // A key without an id is stored under "": used only when it is the only key.
            .filter_map(|jwk| Some((jwk.common.key_id.clone().unwrap_or_default(), key_of(&jwk)?)))
            .collect();
        tracing::info!(issuer = %self.issuer, keys = keys.len(), "fetched the authorization server's signing keys");
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        cache.keys = keys;
        cache.fetched = Some(Instant::now());
        Ok(())
    }

    /// The issuer's endpoints, discovered once (a failed discovery is tried again next time).
    pub async fn endpoints(&self) -> Result<Endpoints, KeysError> {
        let known = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .endpoints
            .clone();
        if let Some(e) = known {
            return Ok(e);
        }
        let found = self.discover().await?;
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .endpoints = Some(found.clone());
        Ok(found)
    }

    /// A form POST with HTTP Basic client authentication, answered with JSON (token
    /// introspection). `Ok(None)`: the provider refused this server's client (401/403).
    pub async fn post_form<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        client: (&str, &str),
        form: &[(&str, &str)],
    ) -> Result<Option<T>, KeysError> {
        let resp = self
            .http
            .post(url)
            .basic_auth(client.0, Some(client.1))
            .header("accept", "application/json")
            .form(form)
            .send()
            .await
            .map_err(|e| self.unreachable(&format!("{url}: {}", crate::error_chain(&e))))?;
        if matches!(resp.status().as_u16(), 401 | 403) {
            return Ok(None);
        }
        self.read_json(url, resp).await.map(Some)
    }

    /// Key ids known now (for `check`).
    pub fn key_ids(&self) -> Vec<String> {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<String> = cache.keys.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The endpoints from the issuer's metadata, whose `issuer` must be this one.
    async fn discover(&self) -> Result<Endpoints, KeysError> {
        #[derive(Deserialize)]
        struct Metadata {
            issuer: String,
            #[serde(flatten)]
            endpoints: Endpoints,
        }
        let mut last_error = None;
        for url in metadata_urls(&self.issuer) {
            match self.get_json::<Metadata>(&url).await {
                Ok(m) if m.issuer == self.issuer => {
                    let e = &m.endpoints;
                    if let Some(bad) = std::iter::once(&e.jwks_uri)
                        .chain(e.introspection_endpoint.as_ref())
                        .find(|u| !trusted_url(u))
                    {
                        return Err(self.unreachable(&format!(
                            "{url} names {bad}, which is not https (plain http only on loopback)"
                        )));
                    }
                    return Ok(m.endpoints);
                }
                Ok(m) => {
                    return Err(KeysError::IssuerMismatch {
                        url,
                        found: m.issuer,
                        issuer: self.issuer.clone(),
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| self.unreachable("no metadata URL")))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, KeysError> {
        let resp = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| self.unreachable(&format!("{url}: {}", crate::error_chain(&e))))?;
        self.read_json(url, resp).await
    }

    /// A successful answer's JSON body, read within [`MAX_DOCUMENT`].
    async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        resp: reqwest::Response,
    ) -> Result<T, KeysError> {
        if !resp.status().is_success() {
            return Err(self.unreachable(&format!("{url}: HTTP {}", resp.status().as_u16())));
        }
        if resp.content_length().unwrap_or(0) > MAX_DOCUMENT as u64 {
            return Err(self.unreachable(&format!("{url}: the document is too large")));
        }
        // Read piece by piece: a chunked answer has no length to refuse up front.
        let mut resp = resp;
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.unreachable(&format!("{url}: {e}")))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err(self.unreachable(&format!("{url}: the document is too large")));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body)
            .map_err(|e| self.unreachable(&format!("{url}: not the expected JSON ({e})")))
    }

    fn unreachable(&self, reason: &str) -> KeysError {
        KeysError::Unreachable {
            issuer: self.issuer.clone(),
            reason: reason.to_owned(),
        }
    }
}

/// Keys and introspection only over TLS, unless the provider is on this machine.
pub fn trusted_url(raw: &str) -> bool {
    let Ok(u) = url::Url::parse(raw) else {
        return false;
    };
    let loopback = match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    };
    u.scheme() == "https" || (u.scheme() == "http" && loopback)
}

/// Where an issuer's metadata may be: RFC 8414's well-known path inserted before the
/// issuer's path, OpenID Connect's appended to it, and OpenID Connect's inserted (what
/// the MCP authorization specification has clients try, in that order).
pub fn metadata_urls(issuer: &str) -> Vec<String> {
    let Ok(url) = url::Url::parse(issuer) else {
        return vec![];
    };
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    vec![
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{origin}{path}/.well-known/openid-configuration"),
        format!("{origin}/.well-known/openid-configuration{path}"),
    ]
}

/// A JWK as a verification key, with the algorithms it may verify: the one it names, or
/// those of its type. Symmetric keys and encryption keys are never used.
fn key_of(jwk: &Jwk) -> Option<Key> {
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != jsonwebtoken::jwk::PublicKeyUse::Signature)
    {
        return None;
    }
    let by_type: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(_) => vec![Algorithm::EdDSA],
        AlgorithmParameters::OctetKey(_) => return None,
    };
    let algorithms = match &jwk.common.key_algorithm {
        Some(named) => {
            let name = serde_json::to_value(named).ok()?;
            let alg = Algorithm::from_str(name.as_str()?).ok()?;
            by_type.contains(&alg).then(|| vec![alg])?
        }
        None => by_type,
    };
    Some(Key {
        decoding: DecodingKey::from_jwk(jwk).ok()?,
        algorithms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_introspection_come_over_tls_unless_on_loopback() {
        assert!(trusted_url("https://idp.example.com/jwks"));
        assert!(trusted_url("http://127.0.0.1:9000/jwks"));
        assert!(trusted_url("http://localhost/jwks"));
        assert!(!trusted_url("http://idp.example.com/jwks"));
        assert!(!trusted_url("file:///etc/passwd"));
    }

    #[test]
    fn metadata_is_looked_for_where_rfc_8414_and_oidc_put_it() {
        assert_eq!(
            metadata_urls("https://idp.example.com/realms/qa"),
            [
                "https://idp.example.com/.well-known/oauth-authorization-server/realms/qa",
                "https://idp.example.com/realms/qa/.well-known/openid-configuration",
                "https://idp.example.com/.well-known/openid-configuration/realms/qa",
            ]
        );
        assert_eq!(
            metadata_urls("http://127.0.0.1:9000")[0],
            "http://127.0.0.1:9000/.well-known/oauth-authorization-server"
        );
    }
}
