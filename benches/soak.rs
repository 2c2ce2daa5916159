//! Soak: mixed tool calls over HTTP for SOAK_SECONDS (default 600) with periodic upstream
//! faults and short-lived JWTs (they expire every 20 s), sampling the server's memory,
//! open file descriptors and threads every 30 s. Flat means: the last samples are not
//! above the first ones by more than a small margin. Run with `cargo bench --bench soak`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fake_testops::{DEMO_TOKEN, FakeOptions, FakeTestOps, Fault, FaultKind};
use serde_json::json;

const TOKEN: &str = "soak-token-0123456789abcdef";

fn sample(pid: u32) -> (u64, usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    (
        common::rss_kib(pid),
        fds,
        common::proc_status(pid, "Threads:"),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let fake = Arc::new(
        FakeTestOps::start_with(FakeOptions {
            jwt_lifetime: Duration::from_secs(20),
            ..FakeOptions::default()
        })
        .await
        .unwrap(),
    );
    let upstream = fake.base_url();
    let (child, base) = common::spawn_http(&[
        ("ALLURE_BASE_URL", &upstream),
        ("ALLURE_TOKEN", DEMO_TOKEN),
        ("MCP_AUTH_TOKEN", TOKEN),
        ("REQUEST_TIMEOUT", "3"),
        ("RATE_LIMIT_PER_SECOND", "1000000"),
        ("RATE_LIMIT_BURST", "1000000"),
        ("LOG_LEVEL", "warn"),
        // Each call stands alone (no session), as behind a load balancer.
        ("MCP_STATELESS", "true"),
    ])
    .await;
    let pid = child.id().unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let tool_errors = Arc::new(AtomicU64::new(0));
    let launch = fake.with_data(|d| d.launches.iter().find(|l| l.project_id == 1).unwrap().id);
    let calls = [
        json!({"name": "list_projects", "arguments": {}}),
        json!({"name": "list_launches", "arguments": {"project_id": 1, "size": 5}}),
        json!({"name": "get_launch_details", "arguments": {"launch_id": launch}}),
        json!({"name": "triage_launch", "arguments": {"launch_id": launch}}),
        json!({"name": "list_test_results", "arguments": {"launch_id": launch, "status": "failed"}}),
    ];
    let mut workers = Vec::new();
    for w in 0..8usize {
        let (client, url, stop, ok, failed, calls) = (
            client.clone(),
            format!("{base}/mcp"),
            stop.clone(),
            ok.clone(),
            failed.clone(),
            calls.clone(),
        );
        let tool_errors = tool_errors.clone();
        workers.push(tokio::spawn(async move {
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let body = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": calls[i % calls.len()]});
                let r = client.post(&url).bearer_auth(TOKEN).header("accept", "application/json, text/event-stream").header("mcp-protocol-version", "2025-06-18").json(&body).send().await;
                // An answer is read: a tool result is a success, a tool error (during an
                // injected fault) is counted apart, anything else is a failure.
                let answer = match r {
                    Ok(resp) if resp.status().is_success() => resp.json::<serde_json::Value>().await.ok(),
                    _ => None,
                };
                match answer.as_ref().map(|a| &a["result"]["isError"]) {
                    Some(serde_json::Value::Bool(false)) => ok.fetch_add(1, Ordering::Relaxed),
                    Some(serde_json::Value::Bool(true)) => tool_errors.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
                i += 8;
            }
        }));
    }
    // Faults: every 10 s, a burst of one kind on one route.
    let faulter = {
        let (fake, stop) = (fake.clone(), stop.clone());
        tokio::spawn(async move {
            let kinds = [
                FaultKind::Status {
                    status: 503,
                    retry_after: None,
                },
                FaultKind::Reset,
                FaultKind::Status {
                    status: 500,
                    retry_after: None,
                },
                FaultKind::Hang,
                FaultKind::Body {
                    status: 200,
                    body: "{broken".into(),
                },
            ];
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(10)).await;
                fake.inject(
                    Fault::on(
                        ["/project", "/launch/*", "/testresult/__search"][n % 3],
                        kinds[n % kinds.len()].clone(),
                    )
                    .times(20),
                );
                n += 1;
            }
        })
    };
    let started = Instant::now();
    let mut samples = vec![(0u64, sample(pid))];
    println!(
        "{:>6} {:>9} {:>5} {:>8} {:>9} {:>7}",
        "t (s)", "RSS KiB", "fds", "threads", "calls ok", "failed"
    );
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(30).min(Duration::from_secs(seconds))).await;
        let s = sample(pid);
        let t = started.elapsed().as_secs();
        println!(
            "{:>6} {:>9} {:>5} {:>8} {:>9} {:>7}",
            t,
            s.0,
            s.1,
            s.2,
            ok.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed)
        );
        samples.push((t, s));
    }
    stop.store(true, Ordering::Relaxed);
    faulter.abort();
    for w in workers {
        let _ = w.await;
    }
    // A sample of 0 means /proc had no such process: the server died.
    assert!(
        samples.iter().all(|(_, s)| s.0 > 0),
        "the server died during the soak: {samples:?}"
    );
    // Injected faults come back as tool errors inside HTTP 200 answers: any HTTP-level
    // failure or unreadable answer is the server's. Faults touch 20 upstream requests
    // every 10 s, so nearly every call succeeds.
    let (ok_n, errors_n) = (
        ok.load(Ordering::Relaxed),
        tool_errors.load(Ordering::Relaxed),
    );
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "calls failed at the HTTP level or answered what is not a tool result"
    );
    assert!(
        ok_n >= 9 * (ok_n + errors_n) / 10 && ok_n > 0,
        "too few calls succeeded: {ok_n} ok, {errors_n} tool errors"
    );
    // Compare the middle of the run (warm) with the end: no growth beyond noise.
    let warm = samples[samples.len() / 3].1;
    let end = samples.last().unwrap().1;
    println!(
        "soak {seconds} s: {} calls ok, {} tool errors (faults injected), {} failed; RSS {} -> {} KiB, fds {} -> {}, threads {} -> {}",
        ok_n,
        errors_n,
        failed.load(Ordering::Relaxed),
        warm.0,
        end.0,
        warm.1,
        end.1,
        warm.2,
        end.2
    );
    let flat = end.0 <= warm.0 + warm.0 / 5 + 2048 && end.1 <= warm.1 + 16 && end.2 <= warm.2 + 4;
    println!(
        "{}",
        if flat {
            "FLAT: no growth in memory, sockets or threads"
        } else {
            "GROWTH: see the samples above"
        }
    );
    assert!(flat);
}
