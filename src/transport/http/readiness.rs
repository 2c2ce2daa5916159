//! `/readyz`: whether Allure TestOps answers, asked of a [`Probe`] at most once per
//! [`READINESS_TTL`] however many callers ask.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::allure::AllureClient;

/// How long a readiness answer is reused: a flood of `/readyz` costs at most one
/// upstream call (carrying the JWT) per interval.
pub const READINESS_TTL: Duration = Duration::from_secs(5);

/// How long one probe may take before it counts as "not answering".
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// What readiness asks of the upstream.
pub trait Probe: Send + Sync {
    /// Whether the upstream answered a call recently (then no probe is needed).
    fn answered_lately(&self) -> bool;
    /// One cheap call; `true` when it succeeded.
    fn probe(&self) -> BoxFuture<'_, bool>;
}

impl Probe for AllureClient {
    fn answered_lately(&self) -> bool {
        self.answered_within(Duration::from_secs(60))
    }

    fn probe(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            // Serving callers' own tokens only, the server has none to ask with: that
            // TestOps answers at all is what readiness can know.
            if !self.has_token() {
                return self.reachable().await;
            }
            let q = [("size", "1".to_owned())];
            self.get::<serde_json::Value>("/project", &q).await.is_ok()
        })
    }
}

/// Whether the upstream answers, probed at most once per [`READINESS_TTL`] (callers
/// share the probe in flight and its answer).
pub struct Readiness {
    upstream: Arc<dyn Probe>,
    last: tokio::sync::Mutex<Option<(tokio::time::Instant, bool)>>,
}

impl Readiness {
    pub fn new(upstream: Arc<dyn Probe>) -> Self {
        Readiness {
            upstream,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// Ready if the upstream answered anything lately; otherwise one probe, shared.
    pub async fn ready(&self) -> bool {
        if self.upstream.answered_lately() {
            return true;
        }
        // Held across the probe: concurrent callers wait for it and take its answer.
        let mut last = self.last.lock().await;
        if let Some((at, ok)) = *last
            && at.elapsed() < READINESS_TTL
        {
            return ok;
        }
        let ok = tokio::time::timeout(PROBE_TIMEOUT, self.upstream.probe())
            .await
            .unwrap_or(false);
        *last = Some((tokio::time::Instant::now(), ok));
        ok
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Answers `answer` after `delay`, counting the probes it was asked for.
    struct Counting {
        probes: AtomicUsize,
        answer: bool,
        delay: Duration,
    }

    impl Probe for Counting {
        fn answered_lately(&self) -> bool {
            false
        }
        fn probe(&self) -> BoxFuture<'_, bool> {
            self.probes.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                tokio::time::sleep(self.delay).await;
                self.answer
            })
        }
    }

    fn counting(answer: bool, delay: Duration) -> (Arc<Counting>, Readiness) {
        let probe = Arc::new(Counting {
            probes: AtomicUsize::new(0),
            answer,
            delay,
        });
        (probe.clone(), Readiness::new(probe))
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_callers_shares_one_probe_per_interval() {
        let (probe, readiness) = counting(true, Duration::from_millis(100));
        let readiness = Arc::new(readiness);
        let callers: Vec<_> = (0..50)
            .map(|_| {
                let r = readiness.clone();
                tokio::spawn(async move { r.ready().await })
            })
            .collect();
        for c in callers {
            assert!(c.await.expect("caller panicked"));
        }
        assert_eq!(probe.probes.load(Ordering::SeqCst), 1);
        tokio::time::advance(READINESS_TTL).await;
        assert!(readiness.ready().await);
        assert_eq!(
            probe.probes.load(Ordering::SeqCst),
            2,
            "a stale answer is probed again"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_that_hangs_is_not_ready_and_is_remembered() {
        let (probe, readiness) = counting(true, Duration::from_secs(3600));
        assert!(
            !readiness.ready().await,
            "a hung probe times out as not ready"
        );
        assert!(!readiness.ready().await);
        assert_eq!(probe.probes.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_is_not_ready() {
        let (_, readiness) = counting(false, Duration::ZERO);
        assert!(!readiness.ready().await);
    }
}
