//! Prometheus metrics: tool calls by tool and outcome and by identity, their latency,
//! upstream status codes, open sessions, in-flight calls and rate-limit rejections.

use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio_util::task::TaskTracker;

// Labels borrow static names and keep numbers as numbers: recording a call allocates
// nothing once its series exists.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolOutcome {
    tool: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolName {
    tool: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Status {
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Caller {
    identity: String,
}

/// Distinct identities counted by name; calls of any more are counted as `other`, so a
/// stream of OAuth subjects cannot grow the metrics without bound.
const MAX_IDENTITIES: usize = 1000;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Transport {
    transport: &'static str,
}

/// The server's metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    calls: Family<ToolOutcome, Counter>,
    latency: Family<ToolName, Histogram>,
    upstream: Family<Status, Counter>,
    sessions: Family<Transport, Gauge>,
    rate_limited: Counter,
    by_identity: Family<Caller, Counter>,
    identities: Arc<std::sync::atomic::AtomicUsize>,
    /// Tool calls running now; shutdown waits for none to be left.
    in_flight: TaskTracker,
    in_flight_gauge: Gauge<i64, AtomicI64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Something running that shutdown waits for (a tool call, an answer on its way): held
/// until it ends. tokio-util's task tracker counts them and wakes the waiter.
pub type CallGuard = tokio_util::task::task_tracker::TaskTrackerToken;

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("allure_mcp");
        let calls = Family::<ToolOutcome, Counter>::default();
        registry.register(
            "tool_calls",
            "Tool calls by tool and outcome (ok, error)",
            calls.clone(),
        );
        let latency = Family::<ToolName, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        registry.register(
            "tool_call_duration_seconds",
            "Tool call latency",
            latency.clone(),
        );
        let upstream = Family::<Status, Counter>::default();
        registry.register(
            "upstream_responses",
            "Answers from Allure TestOps by HTTP status",
            upstream.clone(),
        );
        let sessions = Family::<Transport, Gauge>::default();
        registry.register(
            "sessions",
            "Open MCP sessions by transport",
            sessions.clone(),
        );
        let rate_limited = Counter::default();
        registry.register(
            "rate_limited",
            "Requests refused by the rate limit",
            rate_limited.clone(),
        );
        let by_identity = Family::<Caller, Counter>::default();
        registry.register(
            "identity_tool_calls",
            "Tool calls by identity (a static token's name, or oauth:<subject>)",
            by_identity.clone(),
        );
        let in_flight_gauge: Gauge<i64, AtomicI64> = Gauge::default();
        registry.register(
            "tool_calls_in_flight",
            "Tool calls running now",
            in_flight_gauge.clone(),
        );
        Metrics {
            registry: Arc::new(Mutex::new(registry)),
            calls,
            latency,
            upstream,
            sessions,
            rate_limited,
            by_identity,
            identities: Arc::default(),
            in_flight: TaskTracker::new(),
            in_flight_gauge,
        }
    }

    /// Marks a call as running until the guard drops.
    pub fn start_call(&self) -> CallGuard {
        self.in_flight.token()
    }

    /// The running tool calls (a cheap handle to the shared tracker).
    pub fn in_flight(&self) -> TaskTracker {
        self.in_flight.clone()
    }

    pub fn record_call(&self, tool: &'static str, ok: bool, seconds: f64) {
        let outcome = if ok { "ok" } else { "error" };
        self.calls
            .get_or_create(&ToolOutcome { tool, outcome })
            .inc();
        self.latency
            .get_or_create(&ToolName { tool })
            .observe(seconds);
    }

    /// One tool call by `identity` (HTTP callers; stdio has none).
    pub fn record_identity(&self, identity: &str) {
        use std::sync::atomic::Ordering;
        // An OAuth subject is whatever the provider says: nothing in it may break out of
        // the label (prometheus-client writes label values as they are).
        let safe: String = identity
            .chars()
            .take(128)
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._@:+/=-|".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut label = Caller { identity: safe };
        if self.by_identity.get(&label).is_none()
            && self.identities.fetch_add(1, Ordering::Relaxed) >= MAX_IDENTITIES
        {
            label.identity = "other".to_owned();
        }
        self.by_identity.get_or_create(&label).inc();
    }

    pub fn record_upstream(&self, status: u16) {
        self.upstream.get_or_create(&Status { status }).inc();
    }

    pub fn set_sessions(&self, transport: &'static str, n: usize) {
        self.sessions
            .get_or_create(&Transport { transport })
            .set(n as i64);
    }

    pub fn rate_limited(&self) {
        self.rate_limited.inc();
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        // The gauge mirrors the guard count at scrape time.
        self.in_flight_gauge.set(self.in_flight.len() as i64);
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}
