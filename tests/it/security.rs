//! The attacks of the second security review, each as a test that must fail against the
//! code before the fix: planted links for the root-run credential refresh, a session
//! flood past MAX_SESSIONS, a `.env` that redirects the token through a proxy, dot
//! segments out of the API prefix, redirects that re-post the token, slow and idle
//! connections, calls that outlive the concurrency limit, huge upstream bodies, an open
//! CORS policy without a token, `/readyz` as an amplifier, credentials echoed by
//! upstream, and the smaller items of the review. SECURITY.md lists each control with
//! the test that holds it.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{HttpServer, SseClient, eventually, exit_of, http, is_error, text};
use allure_mcp::allure::{AllureClient, AllureError};
use allure_mcp::tools::{CallLimits, CallScope, Registry, Toolset};
use fake_testops::{DEMO_TOKEN, FakeTestOps, Fault, FaultKind, Gate};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "alice-token-0123456789";

/// A loopback listener that counts the connections it accepts (a proxy or a second
/// host an attacker controls).
async fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                .await;
        }
    });
    (format!("http://{addr}"), hits)
}

async fn http_server(fake: &FakeTestOps, extra: &[(&str, &str)]) -> HttpServer {
    HttpServer::against(fake, &format!("alice:{TOKEN}"), extra).await
}

fn initialize(version: &str) -> Value {
    json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":version,"capabilities":{},"clientInfo":{"name":"attack","version":"1"}}})
}

/// POST /mcp with the token; `session` adds the session id and protocol header.
async fn post(s: &HttpServer, session: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = http()
        .post(s.url("/mcp"))
        .bearer_auth(TOKEN)
        .header("accept", "application/json, text/event-stream")
        .json(body);
    if let Some(sid) = session {
        req = req
            .header("mcp-session-id", sid)
            .header("mcp-protocol-version", "2025-06-18");
    }
    req.send().await.unwrap()
}

/// A Streamable HTTP session, initialized.
async fn open_session(s: &HttpServer) -> String {
    let resp = post(s, None, &initialize("2025-06-18")).await;
    assert_eq!(resp.status(), 200);
    let sid = resp.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = resp.text().await;
    let note = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    assert_eq!(post(s, Some(&sid), &note).await.status(), 202);
    sid
}

/// A legacy SSE session of alice's: its event stream and the endpoint to post to.
async fn legacy_session(s: &HttpServer) -> (SseClient, String) {
    let mut sse = SseClient::open(&s.url("/sse"), Some(TOKEN))
        .await
        .ok()
        .unwrap();
    let (_, endpoint) = sse.next().await.unwrap();
    (sse, endpoint)
}

/// One message posted into a legacy session.
fn legacy_post(
    s: &HttpServer,
    endpoint: &str,
    body: Value,
) -> impl Future<Output = reqwest::Result<reqwest::Response>> + use<> {
    http()
        .post(s.url(endpoint))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
}

fn call(id: i64, tool: &str, args: Value) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":args}})
}

// 1. refresh-credentials runs as root over a directory the service user owns.

#[test]
#[ignore = "needs root (it plays root and the service user): cargo test --test it -- --ignored security:: (.ci/run does)"]
fn refresh_credentials_never_follows_links_the_service_user_planted() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    common::require_root();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // What a compromised service would like root to touch.
    let victim_dir = root.join("victim-dir");
    std::fs::create_dir(&victim_dir).unwrap();
    std::fs::set_permissions(&victim_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let victim_file = root.join("victim-file");
    std::fs::write(&victim_file, "root's data\n").unwrap();
    std::fs::set_permissions(&victim_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The token files root keeps, and the service's runtime directory (its user's).
    let etc = root.join("etc");
    std::fs::create_dir(&etc).unwrap();
    std::fs::write(etc.join("allure-token"), "rotated-token-value\n").unwrap();
    let run = root.join("run");
    std::fs::create_dir(&run).unwrap();
    std::os::unix::fs::chown(&run, Some(65534), Some(65534)).unwrap();
    let mut service = std::process::Command::new("sleep")
        .arg("60")
        .uid(65534)
        .gid(65534)
        .spawn()
        .unwrap();
    let pid = service.id();
    let untouched = || {
        let d = std::fs::metadata(&victim_dir).unwrap();
        assert_eq!((d.uid(), d.mode() & 0o7777), (0, 0o755), "victim dir");
        let f = std::fs::metadata(&victim_file).unwrap();
        assert_eq!((f.uid(), f.mode() & 0o7777), (0, 0o600), "victim file");
        assert_eq!(
            std::fs::read_to_string(&victim_file).unwrap(),
            "root's data\n"
        );
    };

    // Plant 1: the credentials directory is a link to a root-owned directory.
    std::os::unix::fs::symlink(&victim_dir, run.join("credentials")).unwrap();
    let err = allure_mcp::systemd::refresh_credentials(pid, &etc, &[], &run).unwrap_err();
    assert!(err.to_string().contains("refusing"), "{err}");
    untouched();
    assert!(std::fs::read_dir(&victim_dir).unwrap().next().is_none());

    // Plant 2: links inside a real credentials directory, at the names root writes.
    std::fs::remove_file(run.join("credentials")).unwrap();
    let creds = run.join("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::os::unix::fs::chown(&creds, Some(65534), Some(65534)).unwrap();
    std::os::unix::fs::symlink(&victim_file, creds.join(".allure-token.new")).unwrap();
    std::os::unix::fs::symlink(&victim_file, creds.join("allure-token")).unwrap();
    let copied = allure_mcp::systemd::refresh_credentials(pid, &etc, &[], &run).unwrap();
    assert_eq!(copied, 1);
    untouched();
    // The link was replaced by the service's own private copy.
    let placed = std::fs::symlink_metadata(creds.join("allure-token")).unwrap();
    assert!(placed.file_type().is_file());
    assert_eq!((placed.uid(), placed.mode() & 0o7777), (65534, 0o400));
    assert_eq!(
        std::fs::read_to_string(creds.join("allure-token")).unwrap(),
        "rotated-token-value\n"
    );
    let _ = service.kill();
    let _ = service.wait();
}

// 2. MAX_SESSIONS holds on every path that creates a session.

#[tokio::test]
async fn max_sessions_holds_whatever_protocol_header_an_initialize_carries() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = http_server(
        &fake,
        // Long enough that no session of the flood expires before the cap is counted,
        // even on a loaded machine.
        &[("MAX_SESSIONS", "5"), ("SESSION_IDLE_TIMEOUT", "10")],
    )
    .await;
    let client = http();
    let flood: Vec<_> = (0..40)
        .map(|i| {
            let url = s.url("/mcp");
            let client = client.clone();
            tokio::spawn(async move {
                let mut req = client
                    .post(url)
                    .bearer_auth(TOKEN)
                    .header("accept", "application/json, text/event-stream")
                    .json(&initialize("2025-06-18"));
                // Three in four carry the header that used to skip the cap.
                if i % 4 != 0 {
                    req = req.header("mcp-protocol-version", "2025-06-18");
                }
                let resp = req.send().await.unwrap();
                let status = resp.status().as_u16();
                let opened = resp.headers().contains_key("mcp-session-id");
                let _ = resp.text().await;
                (status, opened)
            })
        })
        .collect();
    let mut opened = 0;
    for t in flood {
        let (status, got) = t.await.unwrap();
        if got {
            opened += 1;
        } else {
            assert_eq!(status, 503, "a refusal is a 503");
        }
    }
    assert_eq!(opened, 5, "exactly MAX_SESSIONS sessions were opened");
    // Legacy SSE shares the cap.
    let refused = SseClient::open(&s.url("/sse"), Some(TOKEN)).await.err();
    assert_eq!(refused.map(|r| r.status().as_u16()), Some(503));
    // Expired sessions give their places back.
    eventually(
        Duration::from_secs(40),
        "a session after expiry",
        async || {
            let resp = post(&s, None, &initialize("2025-06-18")).await;
            resp.headers().contains_key("mcp-session-id")
        },
    )
    .await;
}

// 3. A .env in the working directory never redirects the token.

#[tokio::test]
async fn a_dotenv_proxy_never_sees_a_connection() {
    let fake = FakeTestOps::start().await.unwrap();
    let (proxy, hits) = counting_listener().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("evil-ca.pem");
    std::fs::write(&ca, "not a certificate").unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "ALLURE_BASE_URL={}\nALLURE_TOKEN={DEMO_TOKEN}\nHTTPS_PROXY={proxy}\nHTTP_PROXY={proxy}\nall_proxy={proxy}\nSSL_CERT_FILE={}\nALLURE_API_PREFIX=/api/$ALLURE_TOKEN\nCORS_ALLOWED_ORIGIN=*\n",
            fake.base_url(),
            ca.display()
        ),
    )
    .unwrap();
    let cmd = {
        let mut c = common::command(&[], &[]);
        c.current_dir(dir.path());
        c
    };
    let (transport, stderr) = rmcp::transport::TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let client = rmcp::ServiceExt::serve((), transport).await.unwrap();
    let r = client
        .call_tool(rmcp::model::CallToolRequestParams::new("list_projects"))
        .await
        .unwrap();
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the proxy got a connection");
    // No `$` expansion reached a URL: every request went to the plain prefix.
    assert!(fake.requests().iter().all(|r| !r.path.contains(DEMO_TOKEN)));
    let _ = client.cancel().await;
    let mut err = String::new();
    stderr.unwrap().read_to_string(&mut err).await.unwrap();
    assert!(
        err.contains(
            ".env entries ignored: HTTPS_PROXY, HTTP_PROXY, all_proxy, SSL_CERT_FILE, ALLURE_API_PREFIX"
        ),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            ".env in the working directory sets ALLURE_BASE_URL={}",
            fake.base_url()
        )),
        "{err}"
    );
    assert!(!err.contains(DEMO_TOKEN), "{err}");
}

// 4. The raw tool cannot leave the API prefix.

#[tokio::test]
async fn allure_api_request_cannot_leave_the_api_prefix() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = common::InProcess::against(&fake, &[("ALLURE_TOOLSETS", "all")]).await;
    assert!(!is_error(&s.call("list_projects", json!({})).await));
    fake.clear_requests();
    for path in [
        "/./uaa/oauth/token",
        "/%2e/uaa/oauth/token",
        "/%2E%2E/%2e%2e/uaa/oauth/token",
        "/launch/%2e%2e/%2e%2e/%2e%2e/other-app",
        "/launch/.%2e/x",
        "/launch%2f..%2f..%2fuaa",
        "/%2fevil.example/x",
    ] {
        let r = s
            .call("allure_api_request", json!({"method": "GET", "path": path}))
            .await;
        assert!(is_error(&r), "{path}: {}", text(&r));
        assert!(text(&r).contains("segments"), "{path}: {}", text(&r));
    }
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
    s.stop().await;

    // Under the tool, the client itself refuses any path whose resolved URL leaves the
    // prefix: here below a base URL with a path of its own, where `..` would reach
    // another application on the same host.
    let mut opts = common::options(&fake);
    opts.base_url = url::Url::parse(&format!("{}/testops", fake.base_url())).unwrap();
    let client = AllureClient::new(opts).unwrap();
    for path in [
        "/../../other-app",
        "/%2e%2e/%2e%2e/uaa/oauth/token",
        "/./../x",
    ] {
        let e = client.get::<Value>(path, &[]).await.expect_err(path);
        assert!(matches!(e, AllureError::OutsideApi { .. }), "{path}: {e}");
    }
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

// 5. No redirect re-posts the token; none leaves the configured origin.

#[tokio::test]
async fn redirects_never_carry_credentials_elsewhere() {
    let fake = FakeTestOps::start().await.unwrap();
    let (evil, hits) = counting_listener().await;
    let client = common::client(&fake);
    for status in [307, 308, 302] {
        fake.inject(
            Fault::on(
                "/uaa/oauth/token",
                FaultKind::Redirect {
                    status,
                    location: format!("{evil}/steal"),
                },
            )
            .times(1),
        );
        let e = client.get::<Value>("/project", &[]).await.unwrap_err();
        assert!(matches!(e, AllureError::Auth(_)), "{e}");
        assert!(e.to_string().contains("redirect"), "{e}");
    }
    fake.inject(
        Fault::on(
            "/project",
            FaultKind::Redirect {
                status: 302,
                location: format!("{evil}/api/project"),
            },
        )
        .times(1),
    );
    let e = client.get::<Value>("/project", &[]).await.unwrap_err();
    assert_eq!(e.status(), Some(302), "{e}");
    assert!(e.to_string().contains("not followed"), "{e}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the other host got a connection"
    );
    // A redirect within the API is still followed.
    fake.inject(
        Fault::on(
            "/project",
            FaultKind::Redirect {
                status: 302,
                location: format!("{}/api/project?size=1", fake.base_url()),
            },
        )
        .times(1),
    );
    client.get::<Value>("/project", &[]).await.unwrap();
}

// 6. Slow and idle connections are bounded.

/// Connects and sends the start of a request, never its end.
async fn slow_client(addr: &str) -> tokio::net::TcpStream {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    tcp
}

/// Opens `n` slow connections, then checks that one more is closed at once (the
/// connections the server has not accepted yet may hold a slot for a moment, so the
/// extra one is tried until it is refused).
async fn fill_until_refused(addr: &str, n: usize) -> Vec<tokio::net::TcpStream> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(slow_client(addr).await);
    }
    eventually(
        Duration::from_secs(10),
        "a connection over the cap is closed",
        async || {
            let mut extra = slow_client(addr).await;
            closed_within(&mut extra, Duration::from_millis(300)).await
        },
    )
    .await;
    held
}

/// Whether the server closes `tcp` within `within` (EOF or reset, without an answer).
async fn closed_within(tcp: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(within, tcp.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn slow_headers_are_cut_off_after_the_header_timeout() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = http_server(&fake, &[("HTTP_HEADER_TIMEOUT", "1")]).await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    // Slowloris: unfinished headers are cut off after HTTP_HEADER_TIMEOUT (1 s; the
    // margin is for a loaded machine: without the timeout they would stay open).
    let mut slow = Vec::new();
    for _ in 0..3 {
        slow.push(slow_client(&addr).await);
    }
    for tcp in &mut slow {
        assert!(
            closed_within(tcp, Duration::from_secs(10)).await,
            "a slow client outlived HTTP_HEADER_TIMEOUT"
        );
    }
    let (status, _) = s.stop().await;
    assert!(status.success());
}

#[tokio::test]
async fn a_connection_over_max_connections_is_closed_at_once() {
    let fake = FakeTestOps::start().await.unwrap();
    // Slow clients that the header timeout does not cut off during the test hold
    // every slot; a new connection is then closed at once.
    let s = http_server(
        &fake,
        &[
            ("HTTP_HEADER_TIMEOUT", "60"),
            ("MAX_CONNECTIONS", "8"),
            ("MAX_CONNECTIONS_PER_IP", "100"),
        ],
    )
    .await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let held = fill_until_refused(&addr, 8).await;
    // The slots come back when the connections end: the server answers again.
    drop(held);
    eventually(
        Duration::from_secs(10),
        "/healthz after the slow clients left",
        async || {
            http()
                .get(s.url("/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        },
    )
    .await;
    let (status, _) = s.stop().await;
    assert!(status.success());
}

#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = http_server(
        &fake,
        &[
            ("HTTP_HEADER_TIMEOUT", "60"),
            ("MAX_CONNECTIONS_PER_IP", "4"),
        ],
    )
    .await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let _held = fill_until_refused(&addr, 4).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let fake = FakeTestOps::start().await.unwrap();
    // Closed after HTTP_IDLE_TIMEOUT even when the header timeout is long.
    let s = http_server(
        &fake,
        &[("HTTP_HEADER_TIMEOUT", "60"), ("HTTP_IDLE_TIMEOUT", "1")],
    )
    .await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(
        closed_within(&mut tcp, Duration::from_secs(10)).await,
        "an idle connection outlived HTTP_IDLE_TIMEOUT"
    );
}

// 7. A call holds its concurrency slot until its answer is complete; long waits are
// bounded per identity and in how often they check upstream.

#[tokio::test]
async fn max_concurrent_requests_counts_calls_until_their_answer_is_complete() {
    let fake = FakeTestOps::start().await.unwrap();
    let gate = Gate::new();
    fake.inject(Fault::on("/project/*", FaultKind::Held(gate.clone())).method("GET"));
    let s = http_server(&fake, &[("MAX_CONCURRENT_REQUESTS", "2")]).await;
    let sid = open_session(&s).await;
    let first: Vec<_> = (0..2)
        .map(|i| {
            let (url, sid) = (s.url("/mcp"), sid.clone());
            tokio::spawn(async move {
                let resp = http()
                    .post(url)
                    .bearer_auth(TOKEN)
                    .header("accept", "application/json, text/event-stream")
                    .header("mcp-session-id", sid)
                    .header("mcp-protocol-version", "2025-06-18")
                    .json(&call(10 + i, "get_project", json!({"project_id": 1})))
                    .send()
                    .await
                    .unwrap();
                (resp.status().as_u16(), resp.text().await.unwrap())
            })
        })
        .collect();
    eventually(Duration::from_secs(10), "two calls upstream", async || {
        fake.requests_to("GET", "/project/*").len() >= 2
    })
    .await;
    for i in 0..6 {
        let resp = post(
            &s,
            Some(&sid),
            &call(20 + i, "get_project", json!({"project_id": 1})),
        )
        .await;
        assert_eq!(
            resp.status(),
            503,
            "a call over MAX_CONCURRENT_REQUESTS ran"
        );
    }
    gate.open();
    for t in first {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200);
        assert!(body.contains("\"result\""), "{body}");
    }
    assert_eq!(fake.requests_to("GET", "/project/*").len(), 2);
}

#[tokio::test]
async fn long_waits_are_bounded_per_identity_and_in_poll_rate() {
    let fake = common::fake_with_long_jobs().await;
    let registry = Registry::new(&Toolset::discoverable(), false);
    let ctx = common::ctx(
        common::client(&fake),
        CallLimits::new(Duration::from_secs(3), 1),
    );
    let launch = common::running_launch(&fake);
    let args = json!({"launch_id": launch, "timeout_s": 6, "poll_interval_s": 1})
        .as_object()
        .unwrap()
        .clone();
    let first = registry.call(
        ctx.for_call(CallScope::default()),
        "wait_for_launch",
        Some(args.clone()),
    );
    let second = async {
        eventually(
            Duration::from_secs(10),
            "the first wait upstream",
            async || !fake.requests_to("GET", "/launch/*/job").is_empty(),
        )
        .await;
        registry
            .call(
                ctx.for_call(CallScope::default()),
                "wait_for_launch",
                Some(args.clone()),
            )
            .await
    };
    let (first, second) = tokio::join!(first, second);
    let (first, second) = (first.unwrap(), second.unwrap());
    assert!(is_error(&second), "a second wait of the same identity ran");
    assert!(
        text(&second).contains("waits are already running"),
        "{}",
        text(&second)
    );
    assert_eq!(first.structured_content.unwrap()["outcome"], "timeout");
    // Checks at 0, 3 and 6 s (not every second as asked), plus the final read.
    let checks = fake.requests_to("GET", "/launch/*/job").len();
    assert!((3..=4).contains(&checks), "{checks} job-run reads in 6 s");
    // The slot came back when the wait ended.
    let again = registry
        .call(
            ctx.for_call(CallScope::default()),
            "wait_for_launch",
            Some(
                json!({"launch_id": launch, "timeout_s": 1})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    assert!(!is_error(&again), "{}", text(&again));
}

#[tokio::test]
async fn a_dropped_connection_does_not_free_the_slot_of_a_running_call() {
    let fake = FakeTestOps::start().await.unwrap();
    let gate = Gate::new();
    fake.inject(Fault::on("/project/*", FaultKind::Held(gate.clone())).method("GET"));
    let s = http_server(&fake, &[("MAX_CONCURRENT_REQUESTS", "1")]).await;
    let sid = open_session(&s).await;
    // The call starts, and its client goes away at once.
    let resp = post(
        &s,
        Some(&sid),
        &call(10, "get_project", json!({"project_id": 1})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    drop(resp);
    eventually(
        Duration::from_secs(10),
        "the call reached upstream",
        async || !fake.requests_to("GET", "/project/*").is_empty(),
    )
    .await;
    // It still runs, so it still holds the only slot.
    let resp = post(
        &s,
        Some(&sid),
        &call(11, "get_project", json!({"project_id": 1})),
    )
    .await;
    assert_eq!(resp.status(), 503, "the slot was freed with the connection");
    // Once it ends, the slot is back.
    gate.open();
    eventually(
        Duration::from_secs(10),
        "a call after the first ended",
        async || {
            post(
                &s,
                Some(&sid),
                &json!({"jsonrpc":"2.0","id":12,"method":"tools/list"}),
            )
            .await
            .status()
                == 200
        },
    )
    .await;
}

#[tokio::test]
async fn legacy_calls_take_one_slot_each_and_ids_cannot_be_reused_while_running() {
    let fake = FakeTestOps::start().await.unwrap();
    let gate = Gate::new();
    fake.inject(Fault::on("/project/*", FaultKind::Held(gate.clone())).method("GET"));
    let s = http_server(&fake, &[("MAX_CONCURRENT_REQUESTS", "1")]).await;
    let (mut sse, endpoint) = legacy_session(&s).await;
    let post = |body: Value| legacy_post(&s, &endpoint, body);
    // With a single slot, a legacy call still runs (it used to need two).
    assert_eq!(post(initialize("2024-11-05")).await.unwrap().status(), 202);
    assert!(sse.response(1).await.get("result").is_some());
    post(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
        .await
        .unwrap();
    let first = post(call(5, "get_project", json!({"project_id": 1})))
        .await
        .unwrap();
    assert_eq!(first.status(), 202);
    // The same id again while it runs would replace its entry and free its slot.
    let again = post(call(5, "get_project", json!({"project_id": 1})))
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let other = post(call(6, "get_project", json!({"project_id": 1})))
        .await
        .unwrap();
    assert_eq!(other.status(), 503);
    gate.open();
    assert!(sse.response(5).await.get("result").is_some());
    assert_eq!(fake.requests_to("GET", "/project/*").len(), 1);
}

#[tokio::test]
async fn stateless_calls_neither_wait_for_nor_count_against_session_creation() {
    let fake = FakeTestOps::start().await.unwrap();
    let gate = Gate::new();
    fake.inject(Fault::on("/project/*", FaultKind::Held(gate.clone())).method("GET"));
    let s = http_server(&fake, &[("MAX_SESSIONS", "1")]).await;
    let _held = open_session(&s).await;
    let meta = json!({"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}});
    let stateless = |id: i64, name: &str, args: Value| {
        http()
            .post(s.url("/mcp"))
            .bearer_auth(TOKEN)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", name)
            .json(&json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":name,"arguments":args,"_meta":meta.clone()}}))
            .send()
    };
    // A long stateless call runs while the session cap is reached...
    let slow = tokio::spawn(stateless(1, "get_project", json!({"project_id": 1})));
    eventually(
        Duration::from_secs(10),
        "the slow call upstream",
        async || !fake.requests_to("GET", "/project/*").is_empty(),
    )
    .await;
    // ...and neither it nor the cap holds up another stateless call: it is answered
    // while the slow call surely still runs (its gate is closed).
    let quick = stateless(2, "list_projects", json!({})).await.unwrap();
    assert_eq!(quick.status(), 200);
    assert!(quick.text().await.unwrap().contains("Web Shop"));
    assert!(
        !slow.is_finished(),
        "the slow call ended before its gate opened"
    );
    // The cap still holds for sessions.
    assert_eq!(
        post(&s, None, &initialize("2025-06-18")).await.status(),
        503
    );
    gate.open();
    assert_eq!(slow.await.unwrap().unwrap().status(), 200);
}

// 8. Upstream bodies are bounded.

#[tokio::test]
async fn upstream_answers_are_read_within_a_cap() {
    let fake = FakeTestOps::start().await.unwrap();
    let mut opts = common::options(&fake);
    opts.max_body_bytes = 1 << 20;
    let client = AllureClient::new(opts).unwrap();
    for announce_length in [true, false] {
        fake.inject(
            Fault::on(
                "/project",
                FaultKind::Large {
                    bytes: 8 << 20,
                    content_type: "application/json".into(),
                    announce_length,
                },
            )
            .times(1),
        );
        let e = client.get::<Value>("/project", &[]).await.unwrap_err();
        assert!(matches!(e, AllureError::TooLarge { .. }), "{e}");
    }
    // An attachment of 1 TiB (made as it streams): its start and its size, without
    // reading the rest, which would take minutes even over loopback.
    const HUGE: u64 = 1 << 40;
    fake.inject(Fault::on(
        "/testresult/attachment/*/content",
        FaultKind::Large {
            bytes: HUGE,
            content_type: "text/plain".into(),
            announce_length: true,
        },
    ));
    let started = Instant::now();
    let head = client
        .send_head("/testresult/attachment/1/content", &[], 4096)
        .await
        .unwrap();
    assert!(head.cut && head.body.len() == 4096);
    assert_eq!(head.content_length, Some(HUGE));
    assert!(started.elapsed() < Duration::from_secs(30));
    // The tool says so too.
    let s = common::InProcess::against(&fake, &[]).await;
    let r = s
        .call(
            "read_attachment",
            json!({"attachment_id": 1, "max_chars": 100}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let out = r.structured_content.unwrap();
    assert_eq!(out["size_bytes"], HUGE);
    assert!(
        out["text"]
            .as_str()
            .unwrap()
            .contains("cut after 100 characters")
    );
    s.stop().await;
}

// 9. An open CORS policy needs a token.

#[tokio::test]
async fn cors_any_origin_without_a_token_is_refused_at_start() {
    let out = exit_of(common::command(
        &[("CORS_ALLOWED_ORIGIN", "*"), ("PORT", "0")],
        &["--demo", "--http"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CORS_ALLOWED_ORIGIN"), "{err}");
    // Said on purpose, it starts.
    let s = HttpServer::start(
        &[("CORS_ALLOWED_ORIGIN", "*")],
        &["--demo", "--allow-unauthenticated"],
    )
    .await;
    assert_eq!(
        http().get(s.url("/healthz")).send().await.unwrap().status(),
        200
    );
}

// 10. /readyz is no amplifier.

/// The fake with its `/project` (the readiness probe's route) hanging.
async fn fake_with_a_hanging_probe_route() -> FakeTestOps {
    let fake = FakeTestOps::start().await.unwrap();
    fake.inject(Fault::on("/project", FaultKind::Hang));
    fake
}

#[tokio::test]
async fn readyz_obeys_allowed_cidrs_and_a_refused_probe_never_reaches_upstream() {
    let fake = fake_with_a_hanging_probe_route().await;
    let s = http_server(&fake, &[("ALLOWED_CIDRS", "10.0.0.0/8")]).await;
    for _ in 0..40 {
        let r = http().get(s.url("/readyz")).send().await.unwrap();
        assert_eq!(r.status(), 403);
    }
    // At most the start-up probe reached upstream.
    assert!(fake.requests_to("GET", "/project").len() <= 1);
}

#[tokio::test]
async fn a_readyz_flood_probes_upstream_at_most_once_per_interval() {
    let fake = fake_with_a_hanging_probe_route().await;
    let s = http_server(&fake, &[]).await;
    let flood: Vec<_> = (0..40)
        .map(|_| {
            let url = s.url("/readyz");
            tokio::spawn(async move { http().get(url).send().await.unwrap().status() })
        })
        .collect();
    for t in flood {
        assert_eq!(t.await.unwrap(), 503);
    }
    let probes = fake.requests_to("GET", "/project").len();
    assert!(probes <= 2, "{probes} upstream probes for 40 /readyz");
}

// 11. Credentials echoed by upstream never reach the model.

#[tokio::test]
async fn credentials_echoed_by_upstream_are_redacted() {
    let fake = FakeTestOps::start().await.unwrap();
    // The JWT: the upstream quotes the bearer token it was sent.
    let s = common::Session::against(&fake, &[]).await;
    fake.inject(Fault::on(
        "/project",
        FaultKind::EchoCredential {
            status: 400,
            prefix_len: 0,
        },
    ));
    let r = s.call("list_projects", json!({})).await;
    let jwt = fake.requests_to("GET", "/project")[0]
        .authorization
        .clone()
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_owned();
    assert!(is_error(&r));
    assert!(text(&r).contains("[REDACTED]"), "{}", text(&r));
    assert!(
        !text(&r).contains(&jwt),
        "the JWT reached the model: {}",
        text(&r)
    );
    // Also when the upstream's message is long and the JWT straddles the cut of
    // upstream messages (300 bytes): no part of it may survive.
    fake.clear_faults();
    fake.inject(Fault::on(
        "/project",
        FaultKind::EchoCredential {
            status: 400,
            prefix_len: 300 - "Invalid access token: ".len() - 20,
        },
    ));
    let r = s.call("list_projects", json!({})).await;
    assert!(
        is_error(&r) && text(&r).contains("answered 400"),
        "{}",
        text(&r)
    );
    assert!(
        !text(&r).contains(&jwt[..20]),
        "a prefix of the JWT reached the model: {}",
        text(&r)
    );
    let logs = s.stop().await;
    assert!(!logs.contains(&jwt));

    // The API token itself, in api-token mode.
    fake.clear_faults();
    let s = common::Session::against(&fake, &[("ALLURE_AUTH_MODE", "api-token")]).await;
    fake.inject(Fault::on(
        "/project",
        FaultKind::EchoCredential {
            status: 400,
            prefix_len: 0,
        },
    ));
    let r = s.call("list_projects", json!({})).await;
    assert!(is_error(&r));
    // The echo arrived (and was cut out), not some other failure.
    assert!(
        text(&r).contains("answered 400") && text(&r).contains("[REDACTED]"),
        "{}",
        text(&r)
    );
    assert!(!text(&r).contains(DEMO_TOKEN), "{}", text(&r));
    // And in the token exchange's own error.
    fake.clear_faults();
    fake.inject(Fault::on(
        "/uaa/oauth/token",
        FaultKind::EchoCredential {
            status: 400,
            prefix_len: 0,
        },
    ));
    let mut opts = common::options(&fake);
    opts.token = secrecy::SecretString::from("a-token-the-upstream-echoes".to_owned());
    let e = AllureClient::new(opts)
        .unwrap()
        .get::<Value>("/project", &[])
        .await
        .unwrap_err();
    assert!(matches!(e, AllureError::Auth(_)), "{e}");
    assert!(
        e.to_string().contains("answered 400") && e.to_string().contains("[REDACTED]"),
        "{e}"
    );
    assert!(
        !e.to_string().contains("a-token-the-upstream-echoes"),
        "{e}"
    );
    s.stop().await;
}

// 12. The smaller items.

#[tokio::test]
async fn check_warns_of_tls_insecure_and_a_token_file_others_can_read_without_printing_the_token() {
    let fake = FakeTestOps::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, DEMO_TOKEN).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let base = fake.base_url();
    let out = exit_of(common::command(
        &[
            ("ALLURE_BASE_URL", &base),
            ("ALLURE_TOKEN_FILE", token_file.to_str().unwrap()),
            ("ALLURE_TLS_INSECURE", "true"),
        ],
        &["check"],
    ))
    .await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("ALLURE_TLS_INSECURE is on"), "{stdout}");
    assert!(stderr.contains("readable by group or others"), "{stderr}");
    assert!(!stdout.contains(DEMO_TOKEN) && !stderr.contains(DEMO_TOKEN));
}

#[tokio::test]
async fn a_base_url_that_does_not_parse_is_refused_without_echoing_its_password() {
    let out = exit_of(common::command(
        &[
            (
                "ALLURE_BASE_URL",
                "https://admin:hunter2-secret@exa mple.com",
            ),
            ("ALLURE_TOKEN", "x"),
        ],
        &["check"],
    ))
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("hunter2-secret"), "{stderr}");
}

#[tokio::test]
async fn a_listener_beyond_loopback_with_a_short_token_does_not_start() {
    let out = exit_of(common::command(
        &[("MCP_AUTH_TOKEN", "short"), ("PORT", "0")],
        &["--demo", "--http", "--bind", "0.0.0.0"],
    ))
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("shorter than 16"), "{stderr}");
}

#[tokio::test]
async fn an_https_upstream_without_a_ca_store_is_one_clear_line_and_exit_2() {
    // An empty directory as the only place certificates are looked for.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("none.pem");
    std::fs::write(&empty, "").unwrap();
    let out = exit_of(common::command(
        &[
            ("ALLURE_BASE_URL", "https://testops.invalid"),
            ("ALLURE_TOKEN", "x"),
            ("SSL_CERT_FILE", empty.to_str().unwrap()),
            ("SSL_CERT_DIR", dir.path().to_str().unwrap()),
        ],
        &["check"],
    ))
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("ALLURE_BASE_URL: cannot check https certificates"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ca-certificates") && stderr.contains("ALLURE_CA_FILE"),
        "{stderr}"
    );
    assert!(!stderr.contains("token exchange failed"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[tokio::test]
async fn an_over_limit_chunked_body_is_413() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = http_server(&fake, &[("MAX_BODY_BYTES", "2048")]).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b' '; 1024])).collect();
    let resp = http()
        .post(s.url("/mcp"))
        .bearer_auth(TOKEN)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}

#[tokio::test]
async fn a_cancelled_legacy_call_is_audited_as_cancelled_and_does_not_hold_up_shutdown() {
    let fake = common::fake_with_long_jobs().await;
    let s = http_server(&fake, &[("SHUTDOWN_TIMEOUT", "30")]).await;
    let (mut sse, endpoint) = legacy_session(&s).await;
    let post = |body: Value| legacy_post(&s, &endpoint, body);
    assert_eq!(post(initialize("2024-11-05")).await.unwrap().status(), 202);
    sse.response(1).await;
    post(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
        .await
        .unwrap();
    let launch = common::running_launch(&fake);
    post(call(
        7,
        "wait_for_launch",
        json!({"launch_id": launch, "timeout_s": 600}),
    ))
    .await
    .unwrap();
    eventually(
        Duration::from_secs(10),
        "the wait reached upstream",
        async || !fake.requests_to("GET", "/launch/*/job").is_empty(),
    )
    .await;
    post(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"user"}}))
        .await
        .unwrap();
    eventually(
        Duration::from_secs(10),
        "an audit line for the cancelled call",
        async || {
            s.logs()
                .lines()
                .any(|l| l.contains("wait_for_launch") && l.contains("\"outcome\":\"cancelled\""))
        },
    )
    .await;
    let started = Instant::now();
    let (status, logs) = s.stop().await;
    assert!(status.success(), "{logs}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown waited for an answer that never comes ({:?})",
        started.elapsed()
    );
}
