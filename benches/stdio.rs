//! Start-up, memory and per-call overhead of the stdio server (issue targets: spawn →
//! initialize → tools/list ≤ 15 ms median; RSS ≤ 10 MiB; a tool call ≤ 0.3 ms over a
//! direct HTTP GET of the same endpoint). Run with `cargo bench --bench stdio`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use fake_testops::{DEMO_TOKEN, FakeTestOps};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

const STARTS: usize = 30;
const CALLS: usize = 2000;

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
    next_id: u64,
}

impl Server {
    fn spawn(base: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_allure-mcp"))
            .env_clear()
            .env("ALLURE_BASE_URL", base)
            .env("ALLURE_TOKEN", DEMO_TOKEN)
            .env("LOG_LEVEL", "warn")
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn allure-mcp");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Server {
            child,
            stdin,
            stdout,
            next_id: 0,
        }
    }

    async fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.stdin
            .write_all(format!("{msg}\n").as_bytes())
            .await
            .unwrap();
        loop {
            let line = self
                .stdout
                .next_line()
                .await
                .unwrap()
                .expect("server closed stdout");
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["id"] == id {
                return v;
            }
        }
    }

    async fn notify(&mut self, method: &str) {
        let msg = json!({"jsonrpc": "2.0", "method": method});
        self.stdin
            .write_all(format!("{msg}\n").as_bytes())
            .await
            .unwrap();
    }

    async fn handshake(&mut self) -> Value {
        self.request("initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}})).await;
        self.notify("notifications/initialized").await;
        self.request("tools/list", json!({})).await
    }

    fn rss_kib(&self) -> u64 {
        common::rss_kib(self.child.id().unwrap())
    }
}

/// 200 calls to warm up, then `CALLS` timed ones.
async fn timed(mut call: impl AsyncFnMut()) -> Vec<Duration> {
    for _ in 0..200 {
        call().await;
    }
    let mut times = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        call().await;
        times.push(t.elapsed());
    }
    times
}

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| ms(v[((v.len() as f64 - 1.0) * q).round() as usize]);
    (p(0.5), p(0.0), p(0.99), p(1.0))
}

#[tokio::main]
async fn main() {
    let fake = FakeTestOps::start().await.unwrap();
    let base = fake.base_url();

    // 1. spawn → initialize → tools/list
    let mut starts = Vec::new();
    let mut tools_list_bytes = 0;
    let mut rss = Vec::new();
    for _ in 0..STARTS {
        let t = Instant::now();
        let mut s = Server::spawn(&base);
        let list = s.handshake().await;
        starts.push(t.elapsed());
        // A timed start counts only if it ends in the real tool list.
        let tools = list["result"]["tools"].as_array().map_or(0, Vec::len);
        assert!(tools > 40, "tools/list answered {tools} tools: {list}");
        tools_list_bytes = list["result"].to_string().len();
        rss.push(s.rss_kib());
        drop(s);
    }
    let (med, min, p99, max) = stats(starts);
    rss.sort();
    println!(
        "spawn→initialize→tools/list over stdio ({STARTS} runs): median {med:.2} ms (min {min:.2}, p99 {p99:.2}, max {max:.2})   target ≤ 15 ms"
    );
    println!(
        "RSS after tools/list: median {:.2} MiB (max {:.2})   target ≤ 10 MiB",
        rss[rss.len() / 2] as f64 / 1024.0,
        rss[rss.len() - 1] as f64 / 1024.0
    );
    println!("tools/list result: {tools_list_bytes} bytes");

    // 2. per-call overhead: get_project over MCP vs a direct GET /api/project/1.
    let mut s = Server::spawn(&base);
    s.handshake().await;
    let mcp = timed(async || {
        let r = s
            .request(
                "tools/call",
                json!({"name": "get_project", "arguments": {"project_id": 1}}),
            )
            .await;
        assert_eq!(r["result"]["isError"], false);
    })
    .await;
    let rss_after = s.rss_kib();

    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let bearer = format!("Bearer {}", fake.issue_jwt());
    let url = format!("{base}/api/project/1");
    let direct = timed(async || common::direct_get(&http, &url, &bearer).await).await;
    let (m_med, _, m_p99, _) = stats(mcp);
    let (d_med, _, d_p99, _) = stats(direct);
    println!("get_project over MCP stdio ({CALLS} calls): median {m_med:.3} ms, p99 {m_p99:.3} ms");
    println!(
        "direct GET /api/project/1   ({CALLS} calls): median {d_med:.3} ms, p99 {d_p99:.3} ms"
    );
    println!(
        "overhead of one tool call: {:.3} ms (median)   target ≤ 0.3 ms",
        m_med - d_med
    );
    println!(
        "RSS after {} calls: {:.2} MiB",
        CALLS + 200,
        rss_after as f64 / 1024.0
    );
    // The targets, checked after every figure is printed: a miss fails the bench.
    let rss_med = rss[rss.len() / 2] as f64 / 1024.0;
    let misses: Vec<String> = [
        (med > 15.0, format!("start-up median {med:.2} ms > 15 ms")),
        (
            rss_med > 10.0,
            format!("RSS median {rss_med:.2} MiB > 10 MiB"),
        ),
        (
            m_med - d_med > 0.3,
            format!("tool call overhead {:.3} ms > 0.3 ms", m_med - d_med),
        ),
    ]
    .into_iter()
    .filter_map(|(missed, what)| missed.then_some(what))
    .collect();
    assert!(misses.is_empty(), "targets missed: {}", misses.join("; "));
}
