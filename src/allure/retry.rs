//! When and how long to wait before trying an idempotent Allure call again.
//!
//! Only GET and HEAD are ever retried: a second POST could start a second CI run
//! or create a second launch, which no user asked for.

use std::time::Duration;

/// Bounded exponential backoff with full jitter.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Upper bound on the time spent waiting between attempts of one call.
    pub max_total_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_total_wait: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// Never retry (used by tests that want the first answer).
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Statuses worth another try: the upstream said "later" or a proxy in front of it failed.
    pub fn is_retryable_status(status: u16) -> bool {
        matches!(status, 429 | 502 | 503 | 504)
    }

    /// The wait before attempt `attempt + 1` (attempt counts from 1), or `None` when the
    /// budget is spent. `retry_after` from the server wins over our own backoff, but only
    /// while it fits in what is left of the budget: waiting longer than the caller's
    /// patience only turns a clear error into a timeout.
    pub fn next_delay(
        &self,
        attempt: u32,
        waited: Duration,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let left = self.max_total_wait.checked_sub(waited)?;
        let delay = match retry_after {
            Some(d) => d,
            None => {
                let exp = self
                    .base_delay
                    .saturating_mul(1u32 << (attempt - 1).min(16))
                    .min(self.max_delay);
                // Full jitter: spreads the retries of many callers hit by the same outage.
                let millis = exp.as_millis() as u64;
                Duration::from_millis(fastrand::u64(millis / 2..=millis.max(1)))
            }
        };
        (delay <= left).then_some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_after_max_attempts() {
        let p = RetryPolicy::default();
        assert!(p.next_delay(1, Duration::ZERO, None).is_some());
        assert!(p.next_delay(2, Duration::ZERO, None).is_some());
        assert!(p.next_delay(3, Duration::ZERO, None).is_none());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 20,
            max_total_wait: Duration::from_secs(100),
            ..RetryPolicy::default()
        };
        for attempt in 1..19 {
            let d = p.next_delay(attempt, Duration::ZERO, None).unwrap();
            assert!(d <= p.max_delay, "attempt {attempt}: {d:?}");
        }
        let first = p.next_delay(1, Duration::ZERO, None).unwrap();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
    }

    #[test]
    fn retry_after_is_honoured_only_within_budget() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.next_delay(1, Duration::ZERO, Some(Duration::from_secs(1))),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            p.next_delay(1, Duration::ZERO, Some(Duration::from_secs(60))),
            None
        );
        assert_eq!(p.next_delay(1, Duration::from_secs(5), None), None);
    }

    #[test]
    fn only_transient_statuses_are_retryable() {
        for s in [429, 502, 503, 504] {
            assert!(RetryPolicy::is_retryable_status(s));
        }
        for s in [400, 401, 403, 404, 409, 500] {
            assert!(!RetryPolicy::is_retryable_status(s));
        }
    }
}
