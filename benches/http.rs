//! Tool calls over `--http` with auth against the fake: latency at concurrency 1,
//! throughput at 16 and 64 (target ≥ 5,000 calls/s on 2 cores), each next to direct
//! requests to the fake in the same run, and memory with 1,000 idle SSE sessions.
//! Every timed call's answer is checked. Besides the throughput target, ceilings guard
//! against regressions (far above today's figures, so a loaded machine passes): a call's
//! p50 at concurrency 1 ≤ 2 ms, RSS after the load ≤ 64 MiB, ≤ 64 KiB per idle SSE
//! session. Run with `cargo bench --bench http`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fake_testops::{DEMO_TOKEN, FakeTestOps};
use serde_json::{Value, json};

const TOKEN: &str = "bench-token-0123456789abcdef";

struct Server {
    child: tokio::process::Child,
    base: String,
}

async fn start(upstream: &str, stateless: bool) -> Server {
    let (child, base) = common::spawn_http(&[
        ("ALLURE_BASE_URL", upstream),
        ("ALLURE_TOKEN", DEMO_TOKEN),
        ("MCP_AUTH_TOKEN", TOKEN),
        ("RATE_LIMIT_PER_SECOND", "1000000"),
        ("RATE_LIMIT_BURST", "1000000"),
        ("MAX_SESSIONS", "5000"),
        // Thousands of sessions from this one address: allowed by saying so.
        ("MAX_CONNECTIONS_PER_IP", "10000"),
        ("MAX_CONCURRENT_REQUESTS", "5000"),
        ("MCP_STATELESS", if stateless { "true" } else { "false" }),
    ])
    .await;
    Server { child, base }
}

impl Server {
    fn rss_kib(&self) -> u64 {
        common::rss_kib(self.child.id().unwrap())
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(256)
        .build()
        .unwrap()
}

fn body_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .find_map(|d| serde_json::from_str(d).ok())
            .unwrap_or(Value::Null)
    })
}

/// One MCP "caller": a session (or none, stateless) and a way to make one tool call.
#[derive(Clone)]
struct Caller {
    http: reqwest::Client,
    url: String,
    session: Option<String>,
}

impl Caller {
    async fn new(http: &reqwest::Client, base: &str, stateless: bool) -> Caller {
        let url = format!("{base}/mcp");
        let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}});
        let resp = http
            .post(&url)
            .bearer_auth(TOKEN)
            .header("accept", "application/json, text/event-stream")
            .json(&init)
            .send()
            .await
            .unwrap();
        let session = resp
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned());
        resp.text().await.unwrap();
        let c = Caller {
            http: http.clone(),
            url,
            session,
        };
        if !stateless {
            c.post(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
                .await;
        }
        c
    }

    async fn post(&self, body: Value) -> String {
        let mut req = self
            .http
            .post(&self.url)
            .bearer_auth(TOKEN)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&body);
        if let Some(s) = &self.session {
            req = req.header("mcp-session-id", s);
        }
        req.send().await.unwrap().text().await.unwrap()
    }

    async fn call(&self, id: usize) {
        let text = self.post(json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"get_project","arguments":{"project_id":1}}})).await;
        let v = body_json(&text);
        assert_eq!(v["result"]["isError"], false, "{text}");
    }
}

fn pct(v: &mut [Duration], q: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0
}

/// Runs `total` operations with `concurrency` workers; returns ops/s.
async fn throughput<F, Fut>(concurrency: usize, total: usize, op: F) -> f64
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let next = next.clone();
            let op = op.clone();
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    op(w, i).await;
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let fake = FakeTestOps::start().await.unwrap();
    let http = client();
    let mut misses: Vec<String> = Vec::new();

    // Direct: the physical floor, the same GET the tool makes.
    let bearer = format!("Bearer {}", fake.issue_jwt());
    let direct_url = format!("{}/api/project/1", fake.base_url());
    let direct = {
        let http = http.clone();
        let bearer = bearer.clone();
        let url = direct_url.clone();
        move |_w: usize, _i: usize| {
            let http = http.clone();
            let bearer = bearer.clone();
            let url = url.clone();
            async move { common::direct_get(&http, &url, &bearer).await }
        }
    };

    for stateless in [false, true] {
        let mode = if stateless { "stateless" } else { "sessions" };
        let server = start(&fake.base_url(), stateless).await;
        let one = Caller::new(&http, &server.base, stateless).await;
        for i in 0..300 {
            one.call(i).await;
        }
        let mut lat = Vec::new();
        for i in 0..2000 {
            let t = Instant::now();
            one.call(i).await;
            lat.push(t.elapsed());
        }
        let mut dlat = Vec::new();
        for _ in 0..2000 {
            let t = Instant::now();
            direct(0, 0).await;
            dlat.push(t.elapsed());
        }
        let p50 = pct(&mut lat, 0.5);
        println!(
            "[{mode}] concurrency 1: tool call over /mcp p50 {p50:.3} ms p99 {:.3} ms; direct GET p50 {:.3} ms p99 {:.3} ms   ceiling p50 ≤ 2 ms",
            pct(&mut lat, 0.99),
            pct(&mut dlat, 0.5),
            pct(&mut dlat, 0.99)
        );
        misses.extend((p50 > 2.0).then(|| format!("[{mode}] p50 {p50:.3} ms > 2 ms")));
        for c in [16usize, 64] {
            let mut callers = Vec::new();
            for _ in 0..c {
                callers.push(Caller::new(&http, &server.base, stateless).await);
            }
            let callers = Arc::new(callers);
            let mcp = {
                let callers = callers.clone();
                move |w: usize, i: usize| {
                    let caller = callers[w].clone();
                    async move { caller.call(i).await }
                }
            };
            let total = 20_000;
            let mcp_rate = throughput(c, total, mcp).await;
            let direct_rate = throughput(c, total, direct.clone()).await;
            println!(
                "[{mode}] concurrency {c}: {mcp_rate:.0} tool calls/s over /mcp with auth; direct GET {direct_rate:.0} req/s (ratio {:.2})   target ≥ 5000",
                mcp_rate / direct_rate
            );
            misses.extend(
                (mcp_rate < 5000.0)
                    .then(|| format!("[{mode}] concurrency {c}: {mcp_rate:.0} calls/s < 5,000")),
            );
        }
        let rss_mib = server.rss_kib() as f64 / 1024.0;
        println!("[{mode}] server RSS after the load: {rss_mib:.1} MiB   ceiling ≤ 64 MiB");
        misses.extend((rss_mib > 64.0).then(|| format!("[{mode}] RSS {rss_mib:.1} MiB > 64 MiB")));
        drop(server);
    }

    // Memory with 1,000 idle legacy SSE sessions.
    let server = start(&fake.base_url(), false).await;
    let before = server.rss_kib();
    let mut streams = Vec::new();
    for _ in 0..1000 {
        let resp = http
            .get(format!("{}/sse", server.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
        let mut s = resp.bytes_stream();
        use futures::StreamExt;
        // Read the `endpoint` event so the session is fully open.
        let first = s.next().await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&first).contains("endpoint"));
        streams.push(s);
    }
    let after = server.rss_kib();
    let per_session = (after.saturating_sub(before)) as f64 / 1000.0;
    println!(
        "1000 idle SSE sessions: server RSS {:.1} MiB → {:.1} MiB ({per_session:.1} KiB per session)   ceiling ≤ 64 KiB",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
    );
    misses
        .extend((per_session > 64.0).then(|| format!("{per_session:.1} KiB per SSE session > 64")));
    drop(streams);
    // Checked after every figure is printed: a miss fails the bench.
    assert!(misses.is_empty(), "targets missed: {}", misses.join("; "));
}
