//! systemd integration with the real tools: unit verification and the security score,
//! socket activation, the notify protocol (ready, watchdog, reload, stop), journald
//! records, and token rotation through `refresh-credentials` + SIGHUP.
//!
//! These tests need root and the tools, so they are `#[ignore]`d in a plain `cargo
//! test` (listed as ignored, never counted as passed); `.ci/run` installs the tools and
//! runs them with `--ignored`, where a missing tool fails the test.

use crate::common::{self, require, require_root, run_ok};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{HttpServer, SseClient, http};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_allure-mcp");

/// The shipped units, with ExecStart pointing at the built binary.
fn units_in(dir: &Path) -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    let service = std::fs::read_to_string(root.join("allure-mcp.service"))
        .unwrap()
        .replace("/usr/bin/allure-mcp", BIN);
    let socket = std::fs::read_to_string(root.join("allure-mcp.socket")).unwrap();
    let (s, k) = (
        dir.join("allure-mcp.service"),
        dir.join("allure-mcp.socket"),
    );
    std::fs::write(&s, service).unwrap();
    std::fs::write(&k, socket).unwrap();
    (s, k)
}

#[test]
#[ignore = "needs systemd-analyze: cargo test --test it -- --ignored systemd:: (.ci/run does)"]
fn units_verify_and_score_at_most_1_1() {
    require("systemd-analyze");
    let dir = tempfile::tempdir().unwrap();
    let (service, socket) = units_in(dir.path());
    let out = run_ok(
        std::process::Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&socket)
            .arg(&service),
    );
    let noise = String::from_utf8_lossy(&out.stderr);
    assert!(!noise.contains("allure-mcp"), "verify complained: {noise}");
    // --threshold is on a 0-100 scale: 11 = exposure 1.1.
    let out = run_ok(
        std::process::Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--threshold=11"])
            .arg(&service),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("a score");
    assert!(score <= 1.1, "exposure {score}");
}

#[tokio::test]
#[ignore = "needs systemd-socket-activate: cargo test --test it -- --ignored systemd:: (.ci/run does)"]
async fn socket_activation_serves_the_first_connection() {
    socket_activated(&[], http(), "http").await;
}

#[tokio::test]
#[ignore = "needs systemd-socket-activate: cargo test --test it -- --ignored systemd:: (.ci/run does)"]
async fn socket_activation_serves_https_on_the_socket_passed_in() {
    let ca = crate::https::Ca::new("socket activation CA");
    let dir = tempfile::tempdir().unwrap();
    crate::https::install(dir.path(), &ca.server_cert("first"));
    let cert = format!("TLS_CERT_FILE={}", dir.path().join("cert.pem").display());
    let key = format!("TLS_KEY_FILE={}", dir.path().join("key.pem").display());
    socket_activated(&[&cert, &key], ca.client(), "https").await;
}

/// A stateless call to a server systemd-socket-activate starts on the first connection
/// (which waits in the backlog and is answered), with `env` and over `scheme` (an answer
/// over `https` to a client that trusts only the test's CA is the proof of TLS; the
/// "listening on" line may come after it, so it is not looked for).
async fn socket_activated(env: &[&str], client: reqwest::Client, scheme: &str) {
    require("systemd-socket-activate");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = tokio::process::Command::new("systemd-socket-activate");
    cmd.args([
        "-l",
        &format!("127.0.0.1:{port}"),
        "--fdname=http",
        "-E",
        "LOG_FORMAT=json",
        "-E",
        "MCP_STATELESS=true",
    ]);
    for e in env {
        cmd.args(["-E", e]);
    }
    let mut child = cmd
        .arg(BIN)
        .arg("--demo")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let resp = loop {
        match client
            .post(format!("{scheme}://127.0.0.1:{port}/mcp"))
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_project","arguments":{"project_id":2}}}))
            .send()
            .await
        {
            Ok(r) => break r,
            // systemd-socket-activate may not be listening yet right after spawn.
            Err(_) if started.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("no answer: {e}"),
        }
    };
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["result"]["structuredContent"]["abbr"], "MOB");
    let _ = child.start_kill();
    let out = child.wait_with_output().await.unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(
        logs.contains("using the socket passed by systemd"),
        "{logs}"
    );
}

/// Collects sd_notify datagrams with their arrival times.
struct NotifySocket {
    rx: tokio::sync::mpsc::UnboundedReceiver<(Instant, String)>,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl NotifySocket {
    fn bind() -> NotifySocket {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = tokio::net::UnixDatagram::bind(&path).unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = sock.recv(&mut buf).await {
                if tx
                    .send((
                        Instant::now(),
                        String::from_utf8_lossy(&buf[..n]).into_owned(),
                    ))
                    .is_err()
                {
                    break;
                }
            }
        });
        NotifySocket {
            rx,
            path,
            _dir: dir,
        }
    }

    /// The next datagram containing `needle`, within `within`.
    async fn expect(&mut self, needle: &str, within: Duration) -> (Instant, String) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((t, m))) if m.lines().any(|l| l == needle || l.starts_with(needle)) => {
                    return (t, m);
                }
                Ok(Some(_)) => continue,
                _ => panic!("no {needle} within {within:?}"),
            }
        }
    }
}

fn signal(pid: u32, sig: &str) {
    common::signal(pid, sig);
}

/// Waits until the kernel reports `pid` stopped (state `T` in /proc/PID/stat).
async fn wait_until_stopped(pid: u32) {
    common::eventually(Duration::from_secs(10), "the process to stop", async || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('T')))
            .unwrap_or(false)
    })
    .await;
}

#[tokio::test]
async fn notify_protocol_ready_watchdog_reload_stop() {
    let mut notify = NotifySocket::bind();
    let sock = notify.path.to_string_lossy().into_owned();
    let s = HttpServer::start(
        &[("NOTIFY_SOCKET", &sock), ("WATCHDOG_USEC", "300000")],
        &["--demo"],
    )
    .await;
    let pid = s.child.id().unwrap();
    let (_, ready) = notify.expect("READY=1", Duration::from_secs(10)).await;
    assert!(ready.contains("STATUS=serving MCP on http://"), "{ready}");
    notify
        .expect("STATUS=serving MCP on http://", Duration::from_secs(10))
        .await;

    // Pings every WATCHDOG_USEC/2 = 150 ms: about 20 in 3 s. Counted over a long
    // window, so one late wake-up of a loaded machine does not decide; pinging at the
    // full interval (10) or twice as often (40) would not pass.
    let window = tokio::time::Instant::now() + Duration::from_secs(3);
    let mut pings = 0;
    while let Ok(Some((_, m))) = tokio::time::timeout_at(window, notify.rx.recv()).await {
        pings += m.lines().filter(|l| *l == "WATCHDOG=1").count();
    }
    assert!((14..=26).contains(&pings), "{pings} watchdog pings in 3 s");

    signal(pid, "HUP");
    let (t_reload, m) = notify.expect("RELOADING=1", Duration::from_secs(5)).await;
    assert!(m.contains("MONOTONIC_USEC="), "{m}");
    let (t_ready, _) = notify.expect("READY=1", Duration::from_secs(5)).await;
    assert!(t_ready >= t_reload);

    // Frozen: no pings. Thawed: pings again.
    signal(pid, "STOP");
    wait_until_stopped(pid).await;
    // A ping sent just before the stop may still be on its way to the receiver: let
    // it arrive, then forget it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while notify.rx.try_recv().is_ok() {}
    let silent = tokio::time::timeout(Duration::from_millis(700), notify.rx.recv()).await;
    assert!(silent.is_err(), "a frozen process sent {silent:?}");
    signal(pid, "CONT");
    notify.expect("WATCHDOG=1", Duration::from_secs(2)).await;

    signal(pid, "TERM");
    notify.expect("STOPPING=1", Duration::from_secs(5)).await;
    let (status, _) = s.stop().await;
    assert!(status.success());
}

#[tokio::test]
async fn reload_rotates_tokens_without_dropping_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let (creds, etc, run) = (
        dir.path().join("creds"),
        dir.path().join("etc"),
        dir.path().join("run"),
    );
    for d in [&creds, &etc, &run] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(creds.join("mcp-auth-tokens"), "alice:old-token-0000\n").unwrap();
    let s = HttpServer::start(
        &[
            ("CREDENTIALS_DIRECTORY", creds.to_str().unwrap()),
            ("RUNTIME_DIRECTORY", run.to_str().unwrap()),
            ("RATE_LIMIT_PER_SECOND", "1000"),
            ("RATE_LIMIT_BURST", "1000"),
        ],
        &["--demo"],
    )
    .await;
    let status = |token: &'static str| {
        let url = s.url("/metrics");
        async move {
            http()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status("old-token-0000").await, 200);
    let mut sse = SseClient::open(&s.url("/sse"), Some("old-token-0000"))
        .await
        .ok()
        .unwrap();
    let (_, endpoint) = sse.next().await.unwrap();

    // What ExecReload=+ does: copy the new files, then SIGHUP.
    std::fs::write(etc.join("mcp-auth-tokens"), "alice:new-token-1111\n").unwrap();
    run_ok(
        std::process::Command::new(BIN)
            .args([
                "refresh-credentials",
                "--pid",
                &s.child.id().unwrap().to_string(),
                "--from",
                "/nonexistent",
                "--credential",
            ])
            .arg(format!(
                "mcp-auth-tokens={}",
                etc.join("mcp-auth-tokens").display()
            ))
            .arg("--runtime-dir")
            .arg(&run),
    );
    let copied = run.join("credentials/mcp-auth-tokens");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&copied).unwrap().permissions().mode() & 0o777,
        0o400
    );

    let started = Instant::now();
    while status("new-token-1111").await != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the new token was not accepted"
        );
        // Slowly: every refused try counts against this address's rate limit, and the
        // old token's 401 below must not become a 429.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        status("old-token-0000").await,
        401,
        "the old token is revoked"
    );
    // The session opened before the reload still works (same identity, new token).
    let post = http().post(s.url(&endpoint)).bearer_auth("new-token-1111").json(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"c","version":"1"}}})).send().await.unwrap();
    assert_eq!(post.status(), 202);
    assert_eq!(
        sse.response(1).await["result"]["serverInfo"]["name"],
        "allure-mcp"
    );
    let (code, logs) = s.stop().await;
    assert!(code.success());
    assert!(logs.contains("reloaded credentials and log level"));
    assert!(!logs.contains("new-token-1111") && !logs.contains("old-token-0000"));
}

/// The journal listener: binds the native journal socket inside a private mount
/// namespace, runs the server with stderr "connected to the journal", makes one tool
/// call, and prints every record it received as a JSON line.
const LISTENER: &str = r#"
import json, os, re, signal, socket, struct, subprocess, sys, urllib.request
os.makedirs("/run/systemd/journal", exist_ok=True)
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind("/run/systemd/journal/socket")
r, w = os.pipe()
st = os.fstat(w)
env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}", PORT="0", MCP_STATELESS="true", MCP_AUTH_TOKEN="journal-token-123")
env.pop("LOG_FORMAT", None)
p = subprocess.Popen([sys.argv[1], "--demo", "--http"], env=env, stderr=w, stdout=subprocess.DEVNULL)
os.close(w)
buf = b""
while b"listening on" not in buf or not buf.split(b"listening on")[1].strip(b" ").split(b" ")[0].endswith(b"") or b"\n" not in buf.split(b"listening on")[1]:
    chunk = os.read(r, 4096)
    if not chunk:
        break
    buf += chunk
base = re.search(rb"listening on (http://\S+)", buf).group(1).decode()
req = urllib.request.Request(base + "/mcp", data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "get_project", "arguments": {"project_id": 1}}}).encode(),
    headers={"Authorization": "Bearer journal-token-123", "Content-Type": "application/json", "Accept": "application/json, text/event-stream", "Mcp-Protocol-Version": "2025-06-18"})
urllib.request.urlopen(req).read()
p.send_signal(signal.SIGTERM)
p.wait(timeout=20)
sock.setblocking(False)
while True:
    try:
        data = sock.recv(1 << 20)
    except BlockingIOError:
        break
    rec, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            rec[k.decode()] = v.decode("utf-8", "replace")
            i = nl + 1
        else:
            n = struct.unpack("<Q", data[nl + 1:nl + 9])[0]
            rec[line.decode()] = data[nl + 9:nl + 9 + n].decode("utf-8", "replace")
            i = nl + 9 + n + 1
    print(json.dumps(rec), flush=True)
print(json.dumps({"EXIT": p.returncode}), flush=True)
"#;

#[test]
#[ignore = "needs root, unshare and python3: cargo test --test it -- --ignored systemd:: (.ci/run does)"]
fn journald_records_carry_structured_fields() {
    require("unshare");
    require("python3");
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("listener.py");
    std::fs::write(&script, LISTENER).unwrap();
    let shell = format!(
        "mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd && exec python3 {} {}",
        script.display(),
        BIN
    );
    let out = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &shell])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "listener failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(
        records.last().unwrap()["EXIT"],
        0,
        "the server stopped cleanly"
    );
    assert!(records.len() > 3, "{stdout}");
    assert!(
        records
            .iter()
            .filter(|r| r.get("MESSAGE").is_some())
            .all(|r| r["SYSLOG_IDENTIFIER"] == "allure-mcp")
    );
    let audit = records
        .iter()
        .find(|r| r["MESSAGE"] == "tool call")
        .unwrap_or_else(|| panic!("no audit record in {stdout}"));
    assert_eq!(audit["TOOL"], "get_project");
    assert_eq!(audit["PROJECT_ID"], "1");
    assert_eq!(audit["IDENTITY"], "default");
    assert_eq!(audit["CLIENT_IP"], "127.0.0.1");
    assert_eq!(audit["OUTCOME"], "ok");
    // tracing-journald's mapping: error 3, warn 4, info 5 (notice), debug 6, trace 7.
    assert_eq!(audit["PRIORITY"], "5");
    assert!(
        audit["DURATION_MS"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    assert!(records.iter().any(|r| {
        r["MESSAGE"]
            .as_str()
            .is_some_and(|m| m.starts_with("stopping"))
    }));
    assert!(
        !stdout.contains("journal-token-123"),
        "no token in the journal"
    );
}
