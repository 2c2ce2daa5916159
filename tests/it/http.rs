//! `--http`: all three transports driven by real clients over loopback, and every
//! security control: auth failures, CORS, Origin and Host, rate limits, body size,
//! session isolation and cap, the IP allow-list, graceful stop, no tokens in logs,
//! and the stateless mode behind a round-robin of two processes.

use crate::common;

use std::time::Duration;

use crate::common::{HttpServer, SseClient, eventually, http};
use fake_testops::{DEMO_TOKEN, FakeTestOps, Fault, FaultKind, Gate};
use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

const TOKEN: &str = "alice-token-0123456789";
const OTHER: &str = "bob-token-9876543210";

async fn server(fake: &FakeTestOps, extra: &[(&str, &str)]) -> HttpServer {
    HttpServer::against(fake, &format!("alice:{TOKEN},bob:{OTHER}"), extra).await
}

fn init_body() -> Value {
    json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}})
}

async fn post_mcp(
    s: &HttpServer,
    token: Option<&str>,
    session: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut req = http()
        .post(s.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(sid) = session {
        req = req
            .header("mcp-session-id", sid)
            .header("mcp-protocol-version", "2025-06-18");
    }
    req.send().await.unwrap()
}

/// The JSON-RPC message in an SSE or JSON answer body.
async fn rpc(resp: reqwest::Response) -> Value {
    let text = resp.text().await.unwrap();
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        return v;
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .find_map(|d| serde_json::from_str(d).ok())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn streamable_http_with_rmcps_client_and_auth() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = server(&fake, &[]).await;
    let client = common::mcp_session(s.url("/mcp"), TOKEN, None)
        .await
        .expect("initialize over /mcp");
    let tools = client.list_all_tools().await.unwrap();
    // A session starts with the daily toolsets and the discovery tools.
    assert!(tools.len() > 20 && tools.iter().any(|t| t.name == "enable_toolset"));
    common::project_4_reads(&client).await;
    let _ = client.cancel().await;

    // Without the token the same client cannot even initialize.
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(s.url("/mcp")).auth_header("wrong"),
    );
    let Err(refused) = ().serve(transport).await else {
        panic!("a wrong token was accepted");
    };
    // rmcp reports a 401 as "authorization required"; any other failure is not this.
    use rmcp::transport::streamable_http_client::StreamableHttpError;
    let auth_required = match &refused {
        rmcp::service::ClientInitializeError::TransportError { error, .. } => matches!(
            error
                .error
                .downcast_ref::<StreamableHttpError<reqwest::Error>>(),
            Some(StreamableHttpError::AuthRequired(_))
        ),
        _ => false,
    };
    assert!(auth_required, "not a 401: {refused:?}");

    let metrics = s.metrics(TOKEN).await.text().await.unwrap();
    assert!(
        metrics.contains("allure_mcp_tool_calls_total{tool=\"get_project\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("allure_mcp_upstream_responses_total{status=\"200\"}"));
    assert!(metrics.contains("allure_mcp_tool_call_duration_seconds_bucket"));
    let (status, logs) = s.stop().await;
    assert!(status.success());
    let audit = logs
        .lines()
        .find(|l| l.contains("\"tool call\"") && l.contains("get_project"))
        .expect("an audit line");
    for field in [
        "\"identity\":\"alice\"",
        "\"client_ip\":\"127.0.0.1\"",
        "\"project_id\":4",
        "\"outcome\":\"ok\"",
        "\"session\":",
        "\"duration_ms\"",
    ] {
        assert!(audit.contains(field), "{field} missing from {audit}");
    }
}

#[tokio::test]
async fn legacy_sse_transport_end_to_end() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = server(&fake, &[]).await;
    let mut sse = SseClient::open(&s.url("/sse"), Some(TOKEN))
        .await
        .ok()
        .unwrap();
    let (event, endpoint) = sse.next().await.unwrap();
    assert_eq!(event, "endpoint");
    assert!(
        endpoint.starts_with("/messages?sessionId="),
        "relative URL: {endpoint}"
    );
    let post = |body: Value| {
        let url = s.url(&endpoint);
        async move {
            http()
                .post(url)
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(post(json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"legacy","version":"1"}}})).await.status(), 202);
    assert_eq!(
        sse.response(1).await["result"]["serverInfo"]["name"],
        "allure-mcp"
    );
    assert_eq!(
        post(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .await
            .status(),
        202
    );
    assert_eq!(
        post(json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}))
            .await
            .status(),
        202
    );
    assert!(
        sse.response(2).await["result"]["tools"]
            .as_array()
            .unwrap()
            .len()
            > 20
    );
    post(json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"find_project","arguments":{"query":"mob"}}})).await;
    assert_eq!(
        sse.response(3).await["result"]["structuredContent"]["matches"][0]["id"],
        2
    );
    // Broken JSON: 400 with a JSON-RPC parse error, and the session lives on.
    let bad = http()
        .post(s.url(&endpoint))
        .bearer_auth(TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().await.unwrap()["error"]["code"], -32700);
    // Unknown session: 404.
    let unknown = http()
        .post(s.url("/messages?sessionId=00000000000000000000000000000000"))
        .bearer_auth(TOKEN)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    post(json!({"jsonrpc":"2.0","id":4,"method":"ping"})).await;
    assert!(sse.response(4).await["result"].is_object());
    s.stop().await;
}

#[tokio::test]
async fn every_auth_failure_is_a_401_without_the_value_in_logs() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = server(&fake, &[("LOG_LEVEL", "trace")]).await;
    let attempts: Vec<(Option<&str>, &str)> = vec![
        (None, "missing_token"),
        (Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l"), "invalid_request"),
        (Some("Bearer wrong-presented-value-XYZ"), "invalid_token"),
        (
            Some(&*Box::leak(
                format!("Bearer {}", TOKEN.to_uppercase()).into_boxed_str(),
            )),
            "invalid_token",
        ),
        (Some(TOKEN), "invalid_request"),
    ];
    for (path, method) in [
        ("/mcp", "POST"),
        ("/sse", "GET"),
        ("/messages?sessionId=abc", "POST"),
        ("/metrics", "GET"),
    ] {
        for (header, code) in &attempts {
            let mut req = http()
                .request(method.parse().unwrap(), s.url(path))
                .header("content-type", "application/json")
                .body("{}");
            if let Some(h) = header {
                req = req.header("authorization", *h);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 401, "{method} {path} with {header:?}");
            let challenge = resp
                .headers()
                .get("www-authenticate")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                challenge.starts_with("Bearer") && challenge.contains(code),
                "{challenge}"
            );
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"], "unauthorized");
        }
    }
    // The scheme is case-insensitive.
    let ok = http()
        .get(s.url("/metrics"))
        .header("authorization", format!("bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // Liveness needs no token and says nothing.
    let h = http().get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(h.status(), 200);
    assert_eq!(h.text().await.unwrap(), "ok");
    assert_eq!(
        http().head(s.url("/health")).send().await.unwrap().status(),
        200
    );
    let ready = http().get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    // Use the tokens for real too, then look for them in every log line.
    let r = post_mcp(&s, Some(OTHER), None, &init_body()).await;
    assert_eq!(r.status(), 200);
    let (_, logs) = s.stop().await;
    assert!(logs.contains("authentication failed"));
    for secret in [
        TOKEN,
        OTHER,
        "wrong-presented-value-XYZ",
        "YWxhZGRpbjpvcGVuc2VzYW1l",
        DEMO_TOKEN,
    ] {
        assert!(!logs.contains(secret), "{secret} appears in the logs");
    }
    let jwt = fake
        .requests()
        .iter()
        .filter_map(|r| r.authorization.clone())
        .find(|a| a.starts_with("Bearer "))
        .unwrap();
    assert!(
        !logs.contains(jwt.trim_start_matches("Bearer ")),
        "the JWT appears in the logs"
    );
}

#[tokio::test]
async fn cors_origin_and_host() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = server(&fake, &[("CORS_ALLOWED_ORIGIN", "https://app.example.com")]).await;
    let preflight = |origin: &'static str| {
        let url = s.url("/mcp");
        async move {
            http()
                .request(reqwest::Method::OPTIONS, url)
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization, content-type, mcp-session-id",
                )
                .send()
                .await
                .unwrap()
        }
    };
    let ok = preflight("https://app.example.com").await;
    assert_eq!(
        ok.headers().get("access-control-allow-origin").unwrap(),
        "https://app.example.com"
    );
    let allowed_headers = ok
        .headers()
        .get("access-control-allow-headers")
        .unwrap()
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed_headers.contains("mcp-session-id") && allowed_headers.contains("authorization")
    );
    let refused = preflight("https://evil.example").await;
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let r = http()
        .post(s.url("/mcp"))
        .bearer_auth(TOKEN)
        .header("origin", "https://app.example.com")
        .header("accept", "application/json, text/event-stream")
        .json(&init_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()
            .get("access-control-expose-headers")
            .unwrap()
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("mcp-session-id")
    );
    let r = http()
        .post(s.url("/mcp"))
        .bearer_auth(TOKEN)
        .header("origin", "https://evil.example")
        .json(&init_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http()
        .get(s.url("/sse"))
        .bearer_auth(TOKEN)
        .header("origin", "null")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // DNS rebinding: a foreign Host is refused even with a valid token.
    let r = http()
        .post(s.url("/mcp"))
        .bearer_auth(TOKEN)
        .header("host", "attacker.example:3000")
        .json(&init_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "forbidden_host");
    s.stop().await;

    // No CORS configured: no browser origin gets in.
    let s = server(&fake, &[]).await;
    assert!(preflight_no_cors(&s).await);
    // Except the server's own: its Origin is the Host it already accepts.
    let own = s.base.trim_end_matches('/').to_owned();
    let host = own.trim_start_matches("http://").to_owned();
    let r = http()
        .post(s.url("/mcp"))
        .bearer_auth(TOKEN)
        .header("origin", &own)
        .header("host", &host)
        .header("accept", "application/json, text/event-stream")
        .json(&init_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "own origin {own} refused");
    // Same host, another port: another origin, still refused.
    let r = http()
        .post(s.url("/mcp"))
        .bearer_auth(TOKEN)
        .header("origin", "http://127.0.0.1:1")
        .header("host", &host)
        .json(&init_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    s.stop().await;
}

async fn preflight_no_cors(s: &HttpServer) -> bool {
    let r = http()
        .request(reqwest::Method::OPTIONS, s.url("/mcp"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    r.headers().get("access-control-allow-origin").is_none()
}

/// GET /metrics with `token`, and an X-Forwarded-For header when one is given.
async fn get_metrics(
    s: &HttpServer,
    token: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut req = http().get(s.url("/metrics")).bearer_auth(token);
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    req.send().await.unwrap()
}

/// A server allowing one request a second after a burst of three.
async fn rate_limited_server(fake: &FakeTestOps) -> HttpServer {
    server(
        fake,
        &[("RATE_LIMIT_PER_SECOND", "1"), ("RATE_LIMIT_BURST", "3")],
    )
    .await
}

#[tokio::test]
async fn requests_past_the_burst_get_429_with_retry_after_and_each_identity_has_its_own_budget() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = rate_limited_server(&fake).await;
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(get_metrics(&s, TOKEN, None).await);
    }
    let codes: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(&codes[..3], &[200, 200, 200], "{codes:?}");
    let limited = answers
        .iter()
        .find(|r| r.status() == 429)
        .expect("429 after the burst");
    assert!(
        limited
            .headers()
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // Another identity has its own budget.
    assert_eq!(get_metrics(&s, OTHER, None).await.status(), 200);
    s.stop().await;
}

/// With the default limits, 30 clients starting sessions back to back (what the official
/// conformance suite does: about 300 requests in a few seconds) are never refused, and a
/// flood from one token still meets 429.
#[tokio::test]
async fn default_limits_let_ordinary_bursts_through_and_stop_a_flood() {
    let fake = FakeTestOps::start().await.unwrap();
    // Not `server()`, which moves the limits out of the way: the defaults are the point.
    let tokens = format!("alice:{TOKEN}");
    let base = fake.base_url();
    let s = HttpServer::start(
        &[
            ("ALLURE_BASE_URL", base.as_str()),
            ("ALLURE_TOKEN", DEMO_TOKEN),
            ("MCP_AUTH_TOKENS", tokens.as_str()),
        ],
        &[],
    )
    .await;
    let mut codes = Vec::new();
    for _ in 0..30 {
        let init = post_mcp(&s, Some(TOKEN), None, &init_body()).await;
        codes.push(init.status().as_u16());
        let sid = init
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let _ = init.bytes().await;
        let sid = sid.as_deref();
        let initialized = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
        codes.push(
            post_mcp(&s, Some(TOKEN), sid, &initialized)
                .await
                .status()
                .as_u16(),
        );
        for (id, method) in [
            (2, "tools/list"),
            (3, "prompts/list"),
            (4, "resources/list"),
            (5, "ping"),
        ] {
            let r = post_mcp(
                &s,
                Some(TOKEN),
                sid,
                &json!({"jsonrpc":"2.0","id":id,"method":method}),
            )
            .await;
            codes.push(r.status().as_u16());
            let _ = r.bytes().await;
        }
        let mut del = http().delete(s.url("/mcp")).bearer_auth(TOKEN);
        if let Some(sid) = sid {
            del = del.header("mcp-session-id", sid);
        }
        codes.push(del.send().await.unwrap().status().as_u16());
    }
    assert!(codes.len() >= 200, "{} requests", codes.len());
    assert!(
        !codes.contains(&429),
        "an ordinary burst was refused: {codes:?}"
    );

    // A flood from one token: what gets through stays within the burst plus the rate for
    // the time the flood took, however fast or slow this machine is.
    use futures::StreamExt;
    let started = std::time::Instant::now();
    let client = reqwest::Client::new();
    let url = s.url("/metrics");
    let statuses: Vec<u16> = futures::stream::iter(0..3000)
        .map(|_| {
            let req = client.get(&url).bearer_auth(TOKEN);
            async move { req.send().await.unwrap().status().as_u16() }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let took = started.elapsed().as_secs_f64();
    let served = statuses.iter().filter(|c| **c == 200).count() as f64;
    let bound = 500.0 + 100.0 * (took + 1.0);
    assert!(
        served <= bound,
        "{served} of 3,000 served in {took:.1} s: more than the burst and the rate allow ({bound:.0})"
    );
    assert!(
        served < 3000.0,
        "3,000 requests in {took:.1} s were all served"
    );
    assert!(
        statuses.iter().all(|c| *c == 200 || *c == 429),
        "{statuses:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_address_and_a_valid_token_still_gets_in() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = rate_limited_server(&fake).await;
    let mut bad = Vec::new();
    for _ in 0..6 {
        bad.push(get_metrics(&s, "guess", None).await.status().as_u16());
    }
    assert_eq!(&bad[..3], &[401, 401, 401], "{bad:?}");
    assert!(bad.contains(&429), "{bad:?}");
    // The failures are counted against the address, not against the identities that
    // authenticate from it.
    assert_eq!(get_metrics(&s, TOKEN, None).await.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn a_request_body_over_max_body_bytes_is_413() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = server(&fake, &[("MAX_BODY_BYTES", "2048")]).await;
    let big = json!({"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"x".repeat(5000)}});
    let r = http()
        .post(s.url("/mcp"))
        .bearer_auth(TOKEN)
        .header("accept", "application/json, text/event-stream")
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    s.stop().await;
}

#[tokio::test]
async fn an_address_outside_allowed_cidrs_is_403_even_with_a_valid_token() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = server(&fake, &[("ALLOWED_CIDRS", "10.0.0.0/8")]).await;
    assert_eq!(get_metrics(&s, TOKEN, None).await.status(), 403);
    s.stop().await;
}

#[tokio::test]
async fn x_forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let fake = FakeTestOps::start().await.unwrap();
    // From a peer that is no trusted proxy, the header changes nothing.
    let s = server(&fake, &[("ALLOWED_CIDRS", "10.0.0.0/8")]).await;
    assert_eq!(get_metrics(&s, TOKEN, Some("10.1.1.1")).await.status(), 403);
    s.stop().await;
    // From a trusted proxy, the forwarded address is the client's; the proxy's own
    // address is still outside the list.
    let s = server(
        &fake,
        &[
            ("ALLOWED_CIDRS", "10.0.0.0/8"),
            ("TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await;
    assert_eq!(get_metrics(&s, TOKEN, Some("10.1.1.1")).await.status(), 200);
    assert_eq!(get_metrics(&s, TOKEN, None).await.status(), 403);
    s.stop().await;
}

#[tokio::test]
async fn sessions_belong_to_their_identity_and_are_capped() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = server(&fake, &[("MAX_SESSIONS", "2")]).await;
    let r = post_mcp(&s, Some(TOKEN), None, &init_body()).await;
    let sid = r
        .headers()
        .get("mcp-session-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    rpc(r).await;
    post_mcp(
        &s,
        Some(TOKEN),
        Some(&sid),
        &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
    )
    .await;
    let list = json!({"jsonrpc":"2.0","id":2,"method":"tools/list"});
    let mine = post_mcp(&s, Some(TOKEN), Some(&sid), &list).await;
    assert_eq!(mine.status(), 200);
    assert!(rpc(mine).await["result"]["tools"].is_array());
    let theirs = post_mcp(&s, Some(OTHER), Some(&sid), &list).await;
    assert_eq!(theirs.status(), 404, "bob cannot use alice's session");
    let unknown = post_mcp(&s, Some(TOKEN), Some("no-such-session"), &list).await;
    assert_eq!(unknown.status(), 404);

    // Legacy SSE sessions too.
    let mut sse = SseClient::open(&s.url("/sse"), Some(TOKEN))
        .await
        .ok()
        .unwrap();
    let (_, endpoint) = sse.next().await.unwrap();
    let r = http()
        .post(s.url(&endpoint))
        .bearer_auth(OTHER)
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Two sessions are open: the cap refuses a third, cleanly.
    let third = post_mcp(&s, Some(OTHER), None, &init_body()).await;
    assert_eq!(third.status(), 503);
    assert_eq!(
        third.json::<Value>().await.unwrap()["error"],
        "too_many_sessions"
    );
    let refused = SseClient::open(&s.url("/sse"), Some(OTHER))
        .await
        .err()
        .expect("refused");
    assert_eq!(refused.status(), 503);
    // Closing one frees a place.
    let del = http()
        .delete(s.url("/mcp"))
        .bearer_auth(TOKEN)
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap();
    assert!(del.status().is_success(), "{}", del.status());
    let r = post_mcp(&s, Some(OTHER), None, &init_body()).await;
    assert_eq!(r.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn graceful_stop_finishes_the_slow_call_and_ends_the_stream() {
    let fake = FakeTestOps::start().await.unwrap();
    let gate = Gate::new();
    fake.inject(Fault::on("/project/*", FaultKind::Held(gate.clone())));
    let s = server(&fake, &[("SHUTDOWN_TIMEOUT", "30")]).await;
    let mut sse = SseClient::open(&s.url("/sse"), Some(TOKEN))
        .await
        .ok()
        .unwrap();
    let (_, endpoint) = sse.next().await.unwrap();
    let post = |body: Value| {
        let url = s.url(&endpoint);
        async move {
            http()
                .post(url)
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    post(json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"legacy","version":"1"}}})).await;
    sse.response(1).await;
    post(json!({"jsonrpc":"2.0","method":"notifications/initialized"})).await;
    post(json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_project","arguments":{"project_id":1}}})).await;
    // Stop once the slow call has reached the upstream; let it finish once the server
    // is surely stopping.
    eventually(Duration::from_secs(10), "the call upstream", async || {
        !fake.requests_to("GET", "/project/*").is_empty()
    })
    .await;
    s.terminate();
    eventually(Duration::from_secs(10), "the server stopping", async || {
        s.logs().contains("waiting for in-flight calls")
    })
    .await;
    gate.open();
    let answer = loop {
        match sse.next().await {
            Some((e, d)) if e == "message" && d.contains("\"id\":2") => {
                break serde_json::from_str::<Value>(&d).unwrap();
            }
            Some(_) => continue,
            None => panic!("stream ended first; server log:\n{}", s.logs()),
        }
    };
    assert_eq!(
        answer["result"]["isError"], false,
        "the in-flight call finished: {answer}"
    );
    // Then the stream ends and the process exits 0.
    let end = tokio::time::timeout(Duration::from_secs(15), async {
        while sse.events.recv().await.is_some() {}
    })
    .await;
    assert!(end.is_ok(), "the SSE stream was closed");
    let (status, logs) = s.stop().await;
    assert!(status.success(), "exit {status:?}: {logs}");
    assert!(logs.contains("stopping: no new connections"));
}

#[tokio::test]
async fn stateless_mode_two_processes_serve_one_client_alternately() {
    let fake = FakeTestOps::start().await.unwrap();
    let a = server(&fake, &[("MCP_STATELESS", "true")]).await;
    let b = server(&fake, &[("MCP_STATELESS", "true")]).await;
    let servers = [&a, &b];
    let r = post_mcp(&a, Some(TOKEN), None, &init_body()).await;
    assert!(
        r.headers().get("mcp-session-id").is_none(),
        "no sessions in stateless mode"
    );
    assert_eq!(rpc(r).await["result"]["serverInfo"]["name"], "allure-mcp");
    for i in 0..6i64 {
        let s = servers[(i % 2) as usize];
        let body = json!({"jsonrpc":"2.0","id": 10 + i,"method":"tools/call","params":{"name":"get_project","arguments":{"project_id": 1 + i % 4}}});
        let resp = http()
            .post(s.url("/mcp"))
            .bearer_auth(TOKEN)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let v = rpc(resp).await;
        assert_eq!(v["id"], 10 + i);
        assert_eq!(v["result"]["structuredContent"]["id"], 1 + i % 4, "{v}");
    }
    // The 2026-07-28 stateless form works too.
    let resp = http()
        .post(b.url("/mcp"))
        .bearer_auth(TOKEN)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "list_projects")
        .json(&json!({"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"list_projects","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        rpc(resp).await["result"]["structuredContent"]["page"]["total"],
        4
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn exposure_without_a_token_is_refused_at_start() {
    let out = common::exit_of(common::command(
        &[
            ("ALLURE_BASE_URL", "http://127.0.0.1:9"),
            ("ALLURE_TOKEN", "x"),
        ],
        &["--http", "--bind", "0.0.0.0"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("MCP_AUTH_TOKEN") && err.contains("--allow-unauthenticated"),
        "{err}"
    );
}

#[tokio::test]
async fn readiness_follows_the_upstream() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = server(&fake, &[]).await;
    assert_eq!(
        http().get(s.url("/readyz")).send().await.unwrap().status(),
        200
    );
    drop(fake);
    let r = http().get(s.url("/readyz")).send().await.unwrap();
    // The last answer was just now: still "recently answered".
    assert_eq!(r.status(), 200);
    s.stop().await;
    let (_reserved, port) = common::refused_port();
    let base = format!("http://127.0.0.1:{port}");
    let s = HttpServer::start(
        &[
            ("ALLURE_BASE_URL", &base),
            ("ALLURE_TOKEN", "x"),
            ("MCP_AUTH_TOKEN", TOKEN),
        ],
        &[],
    )
    .await;
    let r = http().get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.json::<Value>().await.unwrap()["ready"], false);
    s.stop().await;
}

#[tokio::test]
async fn an_idle_legacy_session_expires_and_its_endpoint_is_then_unknown() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = server(&fake, &[("SESSION_IDLE_TIMEOUT", "1")]).await;
    let mut sse = SseClient::open(&s.url("/sse"), Some(TOKEN))
        .await
        .ok()
        .unwrap();
    let (_, endpoint) = sse.next().await.unwrap();
    // Nothing is posted: the reaper closes the session and its stream ends.
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while sse.events.recv().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the idle session was closed");
    let r = http()
        .post(s.url(&endpoint))
        .bearer_auth(TOKEN)
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    s.stop().await;
}

#[tokio::test]
async fn a_call_past_max_concurrent_requests_is_503_busy_while_another_runs() {
    let fake = FakeTestOps::start().await.unwrap();
    let gate = Gate::new();
    fake.inject(Fault::on("/project/*", FaultKind::Held(gate.clone())));
    let s = server(
        &fake,
        &[("MAX_CONCURRENT_REQUESTS", "1"), ("MCP_STATELESS", "true")],
    )
    .await;
    let call = json!({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"get_project","arguments":{"project_id":1}}});
    let slow = {
        let url = s.url("/mcp");
        let call = call.clone();
        tokio::spawn(async move {
            http()
                .post(url)
                .bearer_auth(TOKEN)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-06-18")
                .json(&call)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    eventually(
        Duration::from_secs(10),
        "the slow call upstream",
        async || !fake.requests_to("GET", "/project/*").is_empty(),
    )
    .await;
    let second = http()
        .post(s.url("/mcp"))
        .bearer_auth(TOKEN)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&call)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 503);
    assert_eq!(second.json::<Value>().await.unwrap()["error"], "busy");
    gate.open();
    assert_eq!(slow.await.unwrap(), 200);
    s.stop().await;
}

/// The events of an SSE body: each as its lines, without comments (keep-alives).
fn sse_events(text: &str) -> Vec<Vec<String>> {
    text.split("\n\n")
        .map(|e| {
            e.lines()
                .filter(|l| !l.is_empty() && !l.starts_with(':'))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|e| !e.is_empty())
        .collect()
}

/// A priming event: an event id and a retry hint, and no data.
fn is_priming(event: &[String]) -> bool {
    event.iter().any(|l| l.starts_with("retry:"))
        && !event.iter().any(|l| {
            l.strip_prefix("data:")
                .is_some_and(|d| !d.trim().is_empty())
        })
}

/// The standalone GET stream of a session, read until its first keep-alive comment (the
/// server's proof that it has nothing more to say for now).
async fn standalone_stream_head(s: &HttpServer, sid: &str, version: &str) -> String {
    use futures::StreamExt;
    let resp = http()
        .get(s.url("/mcp"))
        .bearer_auth(TOKEN)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", sid)
        .header("mcp-protocol-version", version)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "GET /mcp");
    let mut body = resp.bytes_stream();
    let mut text = String::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = body.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if text.lines().any(|l| l.starts_with(':')) {
                return;
            }
        }
    });
    read.await
        .expect("a keep-alive comment on the standalone stream");
    text
}

#[tokio::test]
async fn sse_priming_events_go_only_to_sessions_at_2025_11_25_or_later() {
    let fake = FakeTestOps::start().await.unwrap();
    // A short idle timeout makes keep-alive comments frequent (half of it).
    let s = server(&fake, &[("HTTP_IDLE_TIMEOUT", "1")]).await;
    for (version, primed) in [
        ("2024-11-05", false),
        ("2025-03-26", false),
        ("2025-06-18", false),
        ("2025-11-25", true),
    ] {
        let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":version,"capabilities":{},"clientInfo":{"name":"old-or-new","version":"1"}}});
        let r = post_mcp(&s, Some(TOKEN), None, &init).await;
        let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
        let text = r.text().await.unwrap();
        let answer = sse_events(&text);
        assert!(
            text.contains(&format!("\"protocolVersion\":\"{version}\"")),
            "{version} negotiated: {text}"
        );
        assert!(
            !answer.iter().any(|e| is_priming(e)),
            "the initialize answer is never primed: {text}"
        );
        let mut streams = Vec::new();
        for (id, method) in [(2, "ping"), (3, "tools/list")] {
            let resp = http()
                .post(s.url("/mcp"))
                .bearer_auth(TOKEN)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-session-id", &sid)
                .header("mcp-protocol-version", version)
                .json(&json!({"jsonrpc":"2.0","id":id,"method":method}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{version} {method}");
            streams.push(resp.text().await.unwrap());
        }
        streams.push(standalone_stream_head(&s, &sid, version).await);
        for text in &streams {
            let events = sse_events(text);
            let priming = events.iter().filter(|e| is_priming(e)).count();
            assert_eq!(
                priming,
                usize::from(primed),
                "{version}: {priming} priming event(s) in {text:?}"
            );
            if primed {
                assert!(is_priming(&events[0]), "priming comes first: {text:?}");
            }
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn a_stateless_server_cancels_the_call_a_cancellation_names_for_its_identity() {
    let fake = common::fake_with_long_jobs().await;
    let launch = common::running_launch(&fake);
    // One slot, which the wait takes: a cancellation must get through all the same.
    let s = server(
        &fake,
        &[("MCP_STATELESS", "true"), ("MAX_CONCURRENT_REQUESTS", "1")],
    )
    .await;
    let post = |token: &'static str, body: Value| {
        http()
            .post(s.url("/mcp"))
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&body)
            .send()
    };
    fake.clear_requests();
    let wait = post(
        TOKEN,
        json!({"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"wait_for_launch","arguments":{"launch_id":launch,"timeout_s":300}}}),
    );
    let waiting = tokio::spawn(async move { rpc(wait.await.unwrap()).await });
    // The call is running once it has asked upstream about the launch.
    eventually(
        Duration::from_secs(20),
        "the wait asks upstream",
        async || {
            !fake
                .requests_to("GET", &format!("/launch/{launch}"))
                .is_empty()
        },
    )
    .await;
    let cancel = |token| {
        post(
            token,
            json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":41,"reason":"user"}}),
        )
    };
    // Another identity's cancellation of the same id is accepted and reaches nothing: the
    // wait goes on asking upstream…
    assert_eq!(cancel(OTHER).await.unwrap().status(), 202);
    let asked = fake.requests_to("GET", &format!("/launch/{launch}")).len();
    eventually(Duration::from_secs(30), "the wait asks again", async || {
        fake.requests_to("GET", &format!("/launch/{launch}")).len() > asked
    })
    .await;
    assert!(!waiting.is_finished());
    // …the caller's own ends the call, long before its 300 s.
    assert_eq!(cancel(TOKEN).await.unwrap().status(), 202);
    let answer = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the cancelled call answers at once")
        .unwrap();
    assert_eq!(answer["id"], 41);
    assert_eq!(
        answer["result"]["structuredContent"]["outcome"], "cancelled",
        "{answer}"
    );
    s.stop().await;
}
