//! MCP logging over Streamable HTTP, on the wire: `logging/setLevel` per session, and a
//! call's events (upstream retries, re-authentication) sent as `notifications/message`,
//! without a secret in them. With sessions, rmcp sends them on the session's standalone
//! GET stream; without, on the call's own stream, before its answer.

use crate::common::{HttpServer, http};

use fake_testops::{DEMO_TOKEN, FakeTestOps, Fault, FaultKind};
use serde_json::{Value, json};

const TOKEN: &str = "alice-token-0123456789";

/// One Streamable HTTP session, spoken by hand so the order of messages can be checked.
struct Raw<'a> {
    server: &'a HttpServer,
    sid: Option<String>,
}

impl<'a> Raw<'a> {
    /// A session at protocol 2025-06-18 (or, with `stateless`, none).
    async fn open(server: &'a HttpServer) -> Raw<'a> {
        let mut raw = Raw { server, sid: None };
        let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"log-test","version":"1"}}});
        let (sid, messages) = raw.post(&init).await;
        assert_eq!(
            messages.last().unwrap()["result"]["capabilities"]["logging"],
            json!({}),
            "the logging capability is advertised"
        );
        raw.sid = sid;
        raw.post(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .await;
        raw
    }

    /// Posts one message; the session id answered, and every JSON-RPC message of the
    /// answer in the order sent (an SSE stream's events, or one JSON body).
    async fn post(&self, body: &Value) -> (Option<String>, Vec<Value>) {
        let mut req = http()
            .post(self.server.url("/mcp"))
            .bearer_auth(TOKEN)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(body);
        if let Some(sid) = &self.sid {
            req = req.header("mcp-session-id", sid);
        }
        let resp = req.send().await.unwrap();
        assert!(resp.status().is_success(), "{body}: {}", resp.status());
        let sid = resp
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = resp.text().await.unwrap();
        let messages = match serde_json::from_str::<Value>(&text) {
            Ok(v) => vec![v],
            Err(_) => text
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(|d| serde_json::from_str(d).unwrap())
                .collect(),
        };
        (sid, messages)
    }

    async fn set_level(&self, level: &str) {
        let (_, m) = self
            .post(&json!({"jsonrpc":"2.0","id":5,"method":"logging/setLevel","params":{"level":level}}))
            .await;
        assert_eq!(m, vec![json!({"jsonrpc":"2.0","id":5,"result":{}})]);
    }

    /// A tool call (of a project tool: project 1 where it needs one): the log messages
    /// sent before its answer on the same stream, and the answer. Nothing may follow it.
    async fn call_told(&self, id: i64, tool: &str) -> (Vec<Value>, Value) {
        let (_, mut m) = self
            .post(&json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":{"project_id":1}}}))
            .await;
        let answer = m.pop().expect("an answer");
        assert_eq!(answer["id"], id, "the answer comes last: {m:?} {answer}");
        assert!(
            m.iter().all(|n| n["method"] == "notifications/message"),
            "{m:?}"
        );
        (m.into_iter().map(|n| n["params"].clone()).collect(), answer)
    }

    /// A tool call's answer, where its log messages go elsewhere (sessions: the
    /// standalone stream).
    async fn call(&self, id: i64, tool: &str) -> Value {
        self.call_told(id, tool).await.1
    }
}

/// The standalone GET stream of a session, where rmcp's sessions send notifications that
/// no progress token ties to a request: its JSON-RPC messages, as they come.
async fn standalone(raw: &Raw<'_>) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
    use futures::StreamExt;
    let resp = http()
        .get(raw.server.url("/mcp"))
        .bearer_auth(TOKEN)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", raw.sid.as_deref().unwrap())
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut body = resp.bytes_stream();
        let mut buf = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(i) = buf.find('\n') {
                let line = buf[..i].trim().to_owned();
                buf.drain(..=i);
                if let Some(Ok(v)) = line
                    .strip_prefix("data:")
                    .map(|d| serde_json::from_str::<Value>(d.trim()))
                {
                    let _ = tx.send(v);
                }
            }
        }
    });
    rx
}

/// The next log message on a standalone stream.
async fn next_told(stream: &mut tokio::sync::mpsc::UnboundedReceiver<Value>) -> Value {
    let m = tokio::time::timeout(std::time::Duration::from_secs(20), stream.recv())
        .await
        .expect("a notification in time")
        .expect("the stream is open");
    assert_eq!(m["method"], "notifications/message", "{m}");
    m["params"].clone()
}

fn one_503_on(path: &str) -> Fault {
    Fault::on(
        path,
        FaultKind::Status {
            status: 503,
            retry_after: None,
        },
    )
    .method("GET")
    .times(1)
}

#[tokio::test]
async fn each_session_hears_of_what_its_calls_went_through_at_its_own_level() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = HttpServer::against(&fake, &format!("alice:{TOKEN}"), &[]).await;
    let a = Raw::open(&s).await;
    let b = Raw::open(&s).await;
    let (mut a_told, mut b_told) = (standalone(&a).await, standalone(&b).await);
    let ok = |answer: &Value| assert_eq!(answer["result"]["isError"], false, "{answer}");

    // By default, warnings: an upstream retry is told.
    fake.inject(one_503_on("/project"));
    ok(&a.call(10, "list_projects").await);
    let told = next_told(&mut a_told).await;
    assert_eq!(told["level"], "warning");
    assert_eq!(told["logger"], "allure-mcp");
    let message = told["data"].as_str().unwrap();
    assert!(
        message.contains("GET /project ")
            && message.contains("HTTP 503")
            && message.contains("retry 1"),
        "{message}"
    );

    // A re-authentication is a notice: not told at the default level (the next thing B
    // hears is a later warning)…
    fake.revoke_jwts();
    ok(&b.call(11, "list_projects").await);
    fake.inject(one_503_on("/project/*"));
    ok(&b.call(12, "get_project").await);
    let told = next_told(&mut b_told).await;
    assert!(
        told["data"].as_str().unwrap().contains("GET /project/1 "),
        "{told}"
    );
    // …but told to the session that asked for notices.
    a.set_level("notice").await;
    fake.revoke_jwts();
    ok(&a.call(13, "list_projects").await);
    let told = next_told(&mut a_told).await;
    assert_eq!(told["level"], "notice");
    assert!(told["data"].as_str().unwrap().contains("(401)"), "{told}");

    // At `error`, not even a retry (the next thing A hears, back at warnings, is later).
    a.set_level("error").await;
    fake.inject(one_503_on("/project"));
    ok(&a.call(14, "list_projects").await);
    a.set_level("warning").await;
    fake.inject(one_503_on("/project/*"));
    ok(&a.call(15, "get_project").await);
    let told = next_told(&mut a_told).await;
    assert!(
        told["data"].as_str().unwrap().contains("GET /project/1 "),
        "{told}"
    );

    // Never a credential, in what the clients were told or in the logs: not the API
    // token, not ours, not a session token the fake issued.
    let mut told_all = String::new();
    for stream in [&mut a_told, &mut b_told] {
        while let Ok(m) = stream.try_recv() {
            told_all.push_str(&m.to_string());
        }
    }
    let logs = s.logs();
    let jwt = fake.issue_jwt();
    let jwt_head = jwt.split('.').next().unwrap();
    for secret in [DEMO_TOKEN, TOKEN, jwt_head] {
        assert!(!logs.contains(secret), "a secret in the server's logs");
        assert!(!told_all.contains(secret), "a secret told to a client");
    }
    s.stop().await;
}

#[tokio::test]
async fn stateless_servers_accept_set_level_and_still_tell_warnings() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = HttpServer::against(
        &fake,
        &format!("alice:{TOKEN}"),
        &[("MCP_STATELESS", "true")],
    )
    .await;
    let raw = Raw::open(&s).await;
    assert!(raw.sid.is_none(), "no session in stateless mode");
    raw.set_level("debug").await;
    fake.inject(one_503_on("/project"));
    let (told, answer) = raw.call_told(20, "list_projects").await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["level"], "warning");
    s.stop().await;
}
