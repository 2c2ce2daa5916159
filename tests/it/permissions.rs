//! Permissions per identity (MCP_PERMISSIONS), as attacks that must fail: a read
//! identity neither sees nor calls a write tool, a toolset left out is neither listed,
//! called by name nor turned on, an identity without a role gets nothing, on every
//! HTTP transport (sessions, stateless, legacy SSE); and the audit line says who did what.

use crate::common::{self, HttpServer, SseClient, http};
use fake_testops::FakeTestOps;
use serde_json::{Value, json};

const READER: &str = "reader-token-0123456789";
const WRITER: &str = "writer-token-0123456789";
const BOT: &str = "bot-token-0123456789abcd";
const STRANGER: &str = "stranger-token-0123456789";

const TABLE: &str = "reader read\nwriter write\nbot read launches # a CI bot";

async fn server(fake: &FakeTestOps, extra: &[(&str, &str)]) -> HttpServer {
    let tokens = format!("reader:{READER},writer:{WRITER},bot:{BOT},stranger:{STRANGER}");
    let mut settings = vec![("MCP_PERMISSIONS", TABLE)];
    settings.extend_from_slice(extra);
    HttpServer::against(fake, &tokens, &settings).await
}

#[derive(Clone, Copy, Debug)]
enum Wire {
    Sessions,
    Stateless,
    Sse,
}

/// One client of one identity over one transport, speaking raw JSON-RPC.
struct Client {
    wire: Wire,
    base: String,
    token: &'static str,
    session: Option<String>,
    sse: Option<(SseClient, String)>,
    next_id: i64,
}

fn initialize(id: i64) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"perm-test","version":"1"}}})
}

/// The JSON-RPC message in a JSON or SSE body.
fn message(text: &str) -> Value {
    serde_json::from_str::<Value>(text).unwrap_or_else(|_| {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|v| v.get("id").is_some())
            .unwrap_or(Value::Null)
    })
}

impl Client {
    async fn connect(s: &HttpServer, wire: Wire, token: &'static str) -> Client {
        let mut c = Client {
            wire,
            base: s.base.clone(),
            token,
            session: None,
            sse: None,
            next_id: 1,
        };
        if let Wire::Sse = wire {
            let Ok(mut sse) = SseClient::open(&s.url("/sse"), Some(token)).await else {
                panic!("GET /sse refused");
            };
            let (_, endpoint) = sse.next().await.expect("endpoint event");
            c.sse = Some((sse, endpoint));
        }
        let init = c.request_raw(initialize(0)).await;
        assert_eq!(init["result"]["serverInfo"]["name"], "allure-mcp", "{init}");
        c.notify(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .await;
        c
    }

    async fn post(&self, body: &Value) -> reqwest::Response {
        let url = match &self.sse {
            Some((_, endpoint)) => format!("{}{endpoint}", self.base),
            None => format!("{}/mcp", self.base),
        };
        let mut req = http()
            .post(url)
            .bearer_auth(self.token)
            .header("accept", "application/json, text/event-stream")
            .json(body);
        if let Some(sid) = &self.session {
            req = req.header("mcp-session-id", sid);
        }
        if !matches!(self.wire, Wire::Sse) && body["method"] != "initialize" {
            req = req.header("mcp-protocol-version", "2025-06-18");
        }
        req.send().await.unwrap()
    }

    async fn notify(&mut self, body: Value) {
        let status = self.post(&body).await.status();
        assert!(status.is_success(), "{status}");
    }

    async fn request_raw(&mut self, body: Value) -> Value {
        let id = body["id"].as_i64().unwrap();
        let resp = self.post(&body).await;
        assert!(resp.status().is_success(), "{}", resp.status());
        if let Some(sid) = resp.headers().get("mcp-session-id") {
            self.session = Some(sid.to_str().unwrap().to_owned());
        }
        match &mut self.sse {
            Some((sse, _)) => sse.response(id).await,
            None => message(&resp.text().await.unwrap()),
        }
    }

    async fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let body = json!({"jsonrpc":"2.0","id":self.next_id,"method":method,"params":params});
        self.request_raw(body).await
    }

    async fn tool_names(&mut self) -> Vec<String> {
        let r = self.request("tools/list", json!({})).await;
        r["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"))
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn call(&mut self, name: &str, args: Value) -> Value {
        self.request("tools/call", json!({"name": name, "arguments": args}))
            .await
    }
}

/// A call refused as a tool not offered (-32602), with `says` in its message.
fn refused(answer: &Value, says: &str) {
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains(says), "{message}");
}

#[tokio::test]
async fn a_read_identity_sees_and_calls_only_read_tools_and_a_write_identity_writes() {
    let fake = FakeTestOps::start().await.unwrap();
    for wire in [Wire::Sessions, Wire::Stateless, Wire::Sse] {
        let stateless = if let Wire::Stateless = wire {
            "true"
        } else {
            "false"
        };
        let s = server(&fake, &[("MCP_STATELESS", stateless)]).await;
        let mut reader = Client::connect(&s, wire, READER).await;
        let listed = reader.tool_names().await;
        assert!(listed.contains(&"list_projects".to_owned()), "{wire:?}");
        for write in ["mute_test_result", "assign_test_result", "create_defect"] {
            assert!(
                !listed.contains(&write.to_owned()),
                "{wire:?}: {write} listed"
            );
        }
        // The attack: call the hidden write tool by its name anyway.
        let answer = reader
            .call(
                "create_defect",
                json!({"project_id": 1, "name": "by reader"}),
            )
            .await;
        refused(&answer, "is read (MCP_PERMISSIONS)");
        let ok = reader.call("list_projects", json!({})).await;
        assert_eq!(ok["result"]["isError"], false, "{wire:?}: {ok}");

        let mut writer = Client::connect(&s, wire, WRITER).await;
        let made = writer
            .call(
                "create_defect",
                json!({"project_id": 1, "name": "by writer"}),
            )
            .await;
        assert_eq!(made["result"]["isError"], false, "{wire:?}: {made}");
        let metrics = s.metrics(WRITER).await.text().await.unwrap();
        assert!(
            metrics.contains("allure_mcp_identity_tool_calls_total{identity=\"writer\"} 1"),
            "{wire:?}: {metrics}"
        );
        let (_, logs) = s.stop().await;
        let audit = |tool: &str, who: &str, outcome: &str| {
            logs.lines().any(|l| {
                l.contains("\"tool call\"")
                    && l.contains(&format!("\"tool\":\"{tool}\""))
                    && l.contains(&format!("\"identity\":\"{who}\""))
                    && l.contains(&format!("\"outcome\":\"{outcome}\""))
            })
        };
        assert!(
            audit("create_defect", "reader", "refused"),
            "{wire:?}: {logs}"
        );
        assert!(audit("create_defect", "writer", "ok"), "{wire:?}: {logs}");
        assert!(audit("list_projects", "reader", "ok"), "{wire:?}");
    }
    let defects = fake.with_data(|d| {
        d.defects
            .iter()
            .filter(|x| x.name.starts_with("by "))
            .map(|x| x.name.clone())
            .collect::<Vec<_>>()
    });
    assert_eq!(defects, ["by writer"; 3], "the reader wrote nothing");
}

#[tokio::test]
async fn toolsets_left_out_of_a_grant_are_not_listed_called_or_turned_on() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = server(&fake, &[]).await;
    let mut bot = Client::connect(&s, Wire::Sessions, BOT).await;
    let listed = bot.tool_names().await;
    assert!(listed.contains(&"list_launches".to_owned()), "{listed:?}");
    assert!(!listed.contains(&"list_projects".to_owned()), "{listed:?}");
    refused(
        &bot.call("list_projects", json!({})).await,
        "leave out its toolset 'projects'",
    );
    let on = bot
        .call("enable_toolset", json!({"toolsets": ["runs"]}))
        .await;
    assert_eq!(on["result"]["isError"], true, "{on}");
    assert!(on.to_string().contains("not offered to you"), "{on}");
    let sets = bot.call("list_toolsets", json!({})).await;
    let names: Vec<&str> = sets["result"]["structuredContent"]["toolsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["launches"], "{sets}");
    // Calling an unlisted tool by name (which turns its toolset on for others) does not.
    refused(&bot.call("run_allure_launch", json!({})).await, "toolset");
    assert!(!bot.tool_names().await.contains(&"list_jobs".to_owned()));
    s.stop().await;
}

#[tokio::test]
async fn an_identity_the_table_does_not_name_is_refused_and_mistakes_stop_the_start() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = server(&fake, &[]).await;
    let resp = http()
        .post(s.url("/mcp"))
        .bearer_auth(STRANGER)
        .header("accept", "application/json, text/event-stream")
        .json(&initialize(1))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert!(body.to_string().contains("MCP_PERMISSIONS"), "{body}");
    let (_, logs) = s.stop().await;
    assert!(logs.contains("\"reason\":\"no_role\""), "{logs}");
    assert!(!logs.contains(STRANGER), "the token is never logged");

    // A table naming a token that does not exist is a configuration error (exit 2).
    let out = common::exit_of(common::command(
        &[
            ("ALLURE_BASE_URL", &fake.base_url()),
            ("ALLURE_TOKEN", fake_testops::DEMO_TOKEN),
            ("MCP_AUTH_TOKENS", &format!("reader:{READER}")),
            ("MCP_PERMISSIONS", "raeder read"),
        ],
        &["--http", "--port", "0"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no MCP token is named 'raeder'"), "{err}");
}

#[tokio::test]
async fn check_shows_who_gets_which_role() {
    let out = common::exit_of(common::command(
        &[
            ("MCP_AUTH_TOKENS", &format!("reader:{READER},bot:{BOT}")),
            ("MCP_PERMISSIONS", "reader read; bot write launches,runs"),
        ],
        &["--demo", "check"],
    ))
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("permissions: token reader -> read"), "{text}");
    assert!(
        text.contains("permissions: token bot -> write (launches, runs)"),
        "{text}"
    );
    assert!(text.contains("anyone else is refused"), "{text}");
}
