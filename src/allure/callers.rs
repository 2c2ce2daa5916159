//! Tokens callers bring: each caller's own Allure TestOps API token, so TestOps
//! attributes every action to that person and applies their rights. One credential
//! state (and so one cached JWT) per token, in a bounded cache: the least recently used
//! goes first when it is full, and one unused for [`IDLE`] goes at the next look.
//! Tokens are kept only as SHA-256 digests for the keys; the token itself lives in its
//! credential state, never in a log or an error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ring::digest::{SHA256, digest};
use secrecy::{ExposeSecret, SecretString};

use super::AllureClient;
use super::auth::Auth;

/// How many callers' credentials are kept at once.
pub const CAPACITY: usize = 1000;

/// A caller unseen this long starts again with an exchange.
pub const IDLE: Duration = Duration::from_secs(3600);

/// A token's digest → its credential state and when it was last used.
type Cache = HashMap<[u8; 32], (Arc<Auth>, Instant)>;

/// The clients of callers who brought a token, made from the service's client.
#[derive(Debug)]
pub struct CallerClients {
    base: AllureClient,
    capacity: usize,
    idle: Duration,
    cache: Mutex<Cache>,
}

impl CallerClients {
    pub fn new(base: AllureClient) -> CallerClients {
        CallerClients::with_limits(base, CAPACITY, IDLE)
    }

    pub fn with_limits(base: AllureClient, capacity: usize, idle: Duration) -> CallerClients {
        CallerClients {
            base,
            capacity: capacity.max(1),
            idle,
            cache: Mutex::default(),
        }
    }

    /// The client that speaks with `token`: its cached credential state (and JWT) when
    /// this token was seen within `idle`, else a fresh one.
    pub fn client(&self, token: &SecretString) -> AllureClient {
        let key: [u8; 32] = digest(&SHA256, token.expose_secret().as_bytes())
            .as_ref()
            .try_into()
            .unwrap_or([0; 32]);
        let now = Instant::now();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|_, (_, seen)| now.duration_since(*seen) < self.idle);
        let auth = match cache.get_mut(&key) {
            Some((auth, seen)) => {
                *seen = now;
                auth.clone()
            }
            None => {
                if cache.len() >= self.capacity
                    && let Some(oldest) = cache
                        .iter()
                        .min_by_key(|(_, (_, seen))| *seen)
                        .map(|(k, _)| *k)
                {
                    cache.remove(&oldest);
                }
                let auth = Arc::new(Auth::for_caller(self.base.auth.mode, token.clone()));
                cache.insert(key, (auth.clone(), now));
                auth
            }
        };
        drop(cache);
        self.base.with_auth(auth)
    }

    /// How many callers' credentials are kept now.
    pub fn len(&self) -> usize {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allure::ClientOptions;

    fn base() -> AllureClient {
        let opts = ClientOptions::new(
            "http://127.0.0.1:9".parse().unwrap(),
            SecretString::from("service"),
        );
        AllureClient::new(opts).unwrap()
    }

    #[test]
    fn one_state_per_token_bounded_and_least_recent_first_out() {
        let c = CallerClients::with_limits(base(), 2, Duration::from_secs(60));
        let (a, b, d) = (
            SecretString::from("token-a"),
            SecretString::from("token-b"),
            SecretString::from("token-d"),
        );
        let a1 = c.client(&a);
        assert!(a1.is_callers());
        assert!(
            Arc::ptr_eq(&a1.auth, &c.client(&a).auth),
            "same token, same JWT cache"
        );
        let b1 = c.client(&b);
        assert!(!Arc::ptr_eq(&a1.auth, &b1.auth));
        // a was used after b was made? No: b is newer. Touch a so b is the oldest.
        c.client(&a);
        c.client(&d);
        assert_eq!(c.len(), 2);
        assert!(Arc::ptr_eq(&a1.auth, &c.client(&a).auth), "a stayed");
        assert!(!Arc::ptr_eq(&b1.auth, &c.client(&b).auth), "b was evicted");
        // The service client is not a caller's, and redacts only what it holds.
        assert!(!base().is_callers());
        assert_eq!(a1.redact("x token-a y"), "x [REDACTED] y");
    }

    #[test]
    fn an_idle_token_starts_again() {
        let c = CallerClients::with_limits(base(), 10, Duration::ZERO);
        let t = SecretString::from("token-a");
        let first = c.client(&t);
        assert!(!Arc::ptr_eq(&first.auth, &c.client(&t).auth));
    }
}
