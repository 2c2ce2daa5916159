//! Callers' own Allure tokens (`ALLURE_TOKEN_SOURCE`, header `X-Allure-Token`): each call
//! speaks to TestOps as the person whose token it carries, with one exchange per token;
//! a server that takes none refuses the header; one that needs them refuses calls
//! without; a bad token is blamed on its owner; no token is ever logged or echoed.

use std::collections::HashMap;

use fake_testops::FakeTestOps;
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::json;

use crate::common::{HttpServer, is_error, text};

const MCP: &str = "mcp-token-0123456789abcdef";
const ALICE: &str = "alice-own-allure-token-1111";
const BOB: &str = "bob-own-allure-token-2222";

async fn session(server: &HttpServer, allure: Option<&str>) -> RunningService<RoleClient, ()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut headers = HashMap::new();
    if let Some(t) = allure {
        headers.insert(
            http::HeaderName::from_static("x-allure-token"),
            http::HeaderValue::from_str(t).unwrap(),
        );
    }
    let config = StreamableHttpClientTransportConfig::with_uri(server.url("/mcp"))
        .auth_header(MCP.to_owned())
        .custom_headers(headers);
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
        .unwrap()
}

async fn whoami(c: &RunningService<RoleClient, ()>) -> (bool, String, serde_json::Value) {
    let r = c
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    (
        is_error(&r),
        text(&r),
        r.structured_content.unwrap_or_default(),
    )
}

fn exchanges_with(fake: &FakeTestOps, token: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.api_path == "/uaa/oauth/token" && r.body.contains(token))
        .count()
}

async fn post_raw(server: &HttpServer, allure: Option<&str>) -> reqwest::Response {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut req = reqwest::Client::new()
        .post(server.url("/mcp"))
        .bearer_auth(MCP)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}));
    if let Some(t) = allure {
        req = req.header("x-allure-token", t);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn each_caller_acts_as_itself_with_one_exchange_per_token() {
    let fake = FakeTestOps::start().await.unwrap();
    fake.add_user_token(ALICE, "alice");
    fake.add_user_token(BOB, "bob");
    let server = HttpServer::against(
        &fake,
        &format!("team:{MCP}"),
        &[("ALLURE_TOKEN_SOURCE", "either")],
    )
    .await;
    let alice = session(&server, Some(ALICE)).await;
    let bob = session(&server, Some(BOB)).await;
    let service = session(&server, None).await;
    for _ in 0..3 {
        assert_eq!(whoami(&alice).await.2["username"], "alice");
        assert_eq!(whoami(&bob).await.2["username"], "bob");
    }
    // Without a token of its own, the caller speaks with the server's.
    assert_eq!(whoami(&service).await.2["username"], "api-token-user");
    assert_eq!(
        exchanges_with(&fake, ALICE),
        1,
        "the JWT is cached per token"
    );
    assert_eq!(exchanges_with(&fake, BOB), 1);
    for c in [alice, bob, service] {
        c.cancel().await.unwrap();
    }
    let (_, logs) = server.stop().await;
    for secret in [ALICE, BOB] {
        assert!(!logs.contains(secret), "a caller's token reached the log");
    }
    // The audit line says whose token each call spoke with.
    let audit: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("allure_mcp::audit"))
        .collect();
    assert_eq!(
        audit
            .iter()
            .filter(|l| l.contains(r#""credential":"caller""#))
            .count(),
        6
    );
    assert_eq!(
        audit
            .iter()
            .filter(|l| l.contains(r#""credential":"service""#))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_bad_token_is_blamed_on_its_owner_and_never_echoed() {
    let fake = FakeTestOps::start().await.unwrap();
    let server = HttpServer::against(
        &fake,
        &format!("team:{MCP}"),
        &[("ALLURE_TOKEN_SOURCE", "either")],
    )
    .await;
    let wrong = "revoked-allure-token-3333";
    let c = session(&server, Some(wrong)).await;
    let (err, said, _) = whoami(&c).await;
    assert!(err, "{said}");
    assert!(
        said.contains("your own Allure token") && said.contains("X-Allure-Token"),
        "{said}"
    );
    assert!(
        !said.contains("ALLURE_TOKEN"),
        "the operator is not to blame: {said}"
    );
    assert!(!said.contains(wrong), "{said}");
    c.cancel().await.unwrap();
    // Malformed headers are refused before anything happens.
    for bad in ["two words", "short-token", &"x".repeat(513)] {
        let r = post_raw(&server, Some(bad)).await;
        assert_eq!(r.status(), 400, "{bad}");
        assert!(r.text().await.unwrap().contains("allure_token_malformed"));
    }
    let (_, logs) = server.stop().await;
    assert!(!logs.contains(wrong));
}

#[tokio::test]
async fn the_operator_chooses_service_only_or_callers_only() {
    let fake = FakeTestOps::start().await.unwrap();
    fake.add_user_token(ALICE, "alice");
    // Service only (the default): a caller's token is refused, not silently ignored.
    let server = HttpServer::against(&fake, &format!("team:{MCP}"), &[]).await;
    let r = post_raw(&server, Some(ALICE)).await;
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("ALLURE_TOKEN_SOURCE=service")
    );
    assert_eq!(exchanges_with(&fake, ALICE), 0);
    server.stop().await;

    // Callers only: no service token is needed, and a call without one is refused.
    let base = fake.base_url();
    let server = HttpServer::start(
        &[
            ("ALLURE_BASE_URL", base.as_str()),
            ("MCP_AUTH_TOKENS", &format!("team:{MCP}")),
            ("ALLURE_TOKEN_SOURCE", "caller"),
        ],
        &[],
    )
    .await;
    let r = post_raw(&server, None).await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("X-Allure-Token"));
    let alice = session(&server, Some(ALICE)).await;
    assert_eq!(whoami(&alice).await.2["username"], "alice");
    alice.cancel().await.unwrap();
    // Ready without a token of its own: TestOps answers, which is what it can know.
    let ready = reqwest::get(server.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn a_session_belongs_to_the_allure_token_that_opened_it_too() {
    let fake = FakeTestOps::start().await.unwrap();
    fake.add_user_token(ALICE, "alice");
    fake.add_user_token(BOB, "bob");
    let server = HttpServer::against(
        &fake,
        &format!("team:{MCP}"),
        &[("ALLURE_TOKEN_SOURCE", "either")],
    )
    .await;
    // Alice's session, under the team's shared MCP token.
    let r = post_raw(&server, Some(ALICE)).await;
    assert_eq!(r.status(), 200);
    let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    // Bob, with the same MCP token but his own Allure token, cannot use it; nor can a
    // caller without one.
    for token in [Some(BOB), None] {
        let mut req = reqwest::Client::new()
            .post(server.url("/mcp"))
            .bearer_auth(MCP)
            .header("mcp-session-id", &sid)
            .header("mcp-protocol-version", "2025-06-18")
            .header("accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}}));
        if let Some(t) = token {
            req = req.header("x-allure-token", t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 404, "{token:?}");
    }
    let (_, logs) = server.stop().await;
    assert!(!logs.contains(ALICE) && !logs.contains(BOB));
}
