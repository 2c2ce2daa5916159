//! Helpers shared by the benchmarks: reading a process's memory, starting the server
//! over HTTP, and the direct request to the fake that a tool call is compared with.
#![allow(dead_code)]

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

/// A `kB` (or count) field of `/proc/PID/status`, such as `VmRSS:` or `Threads:`.
pub fn proc_status(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Resident memory of a process, KiB.
pub fn rss_kib(pid: u32) -> u64 {
    proc_status(pid, "VmRSS:")
}

/// `allure-mcp --http` on a free port with a clean environment plus `envs`; answers the
/// child and its base URL once it says where it listens. Its stderr is drained for good
/// so it never blocks on a full pipe.
pub async fn spawn_http(envs: &[(&str, &str)]) -> (tokio::process::Child, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_allure-mcp"));
    cmd.env_clear().env("PORT", "0");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .arg("--http")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn allure-mcp --http");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines.next_line().await.unwrap().expect("server output");
        if let Some(i) = line.find("listening on http://") {
            break line[i + "listening on ".len()..]
                .split_whitespace()
                .next()
                .unwrap()
                .to_owned();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, base)
}

/// One GET straight to the fake with a JWT: the floor a tool call is compared with.
pub async fn direct_get(http: &reqwest::Client, url: &str, bearer: &str) {
    let b = http
        .get(url)
        .header("authorization", bearer)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .expect("the floor's GET succeeds")
        .bytes()
        .await
        .unwrap();
    assert!(b.starts_with(b"{"), "the floor's GET answered JSON");
}
