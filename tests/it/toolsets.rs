//! Dynamic toolsets through the real binary over stdio: a session starts with the daily
//! toolsets, `enable_toolset` (or a call to an unlisted tool) turns more on and the
//! client hears `notifications/tools/list_changed`; explicit ALLURE_TOOLSETS, read-only
//! mode and the stateless HTTP server keep the list fixed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rmcp::model::CallToolRequestParams;
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::common::{self, eventually};
use fake_testops::{DEMO_TOKEN, FakeTestOps};

/// A client that counts `notifications/tools/list_changed`.
#[derive(Clone, Default)]
struct Watcher(Arc<AtomicUsize>);

impl ClientHandler for Watcher {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct Watched {
    client: RunningService<RoleClient, Watcher>,
    changes: Arc<AtomicUsize>,
}

impl Watched {
    async fn start(fake: &FakeTestOps, extra: &[(&str, &str)]) -> Watched {
        let base = fake.base_url();
        let mut envs = vec![
            ("ALLURE_BASE_URL", base.as_str()),
            ("ALLURE_TOKEN", DEMO_TOKEN),
        ];
        envs.extend_from_slice(extra);
        let transport = TokioChildProcess::new(common::command(&envs, &[])).unwrap();
        let watcher = Watcher::default();
        let changes = watcher.0.clone();
        let client = watcher.serve(transport).await.expect("initialize");
        Watched { client, changes }
    }

    async fn names(&self) -> Vec<String> {
        let tools = self.client.list_all_tools().await.unwrap();
        tools.into_iter().map(|t| t.name.to_string()).collect()
    }

    async fn call(&self, name: &str, args: Value) -> rmcp::model::CallToolResult {
        let Value::Object(args) = args else { panic!() };
        self.client
            .call_tool(CallToolRequestParams::new(name.to_owned()).with_arguments(args))
            .await
            .unwrap()
    }

    fn list_changed(&self) -> bool {
        self.client
            .peer_info()
            .and_then(|i| i.capabilities.tools.as_ref().and_then(|t| t.list_changed))
            .unwrap_or(false)
    }
}

#[tokio::test]
async fn a_session_starts_with_the_daily_toolsets_and_turns_on_more() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = Watched::start(&fake, &[]).await;
    assert!(s.list_changed(), "the server announces tools.listChanged");
    let names = s.names().await;
    for n in [
        "list_launches",
        "triage_launch",
        "mute_test_result",
        "list_toolsets",
        "enable_toolset",
    ] {
        assert!(names.contains(&n.to_owned()), "{n} missing from {names:?}");
    }
    for n in [
        "run_allure_launch",
        "create_test_case",
        "create_defect",
        "allure_api_request",
    ] {
        assert!(!names.contains(&n.to_owned()), "{n} listed at the start");
    }

    let r = s.call("list_toolsets", json!({})).await;
    let sets = r.structured_content.unwrap()["toolsets"].clone();
    let runs = sets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "runs")
        .expect("runs is offered");
    assert_eq!(runs["enabled"], false);
    assert!(
        runs["tools"]
            .as_array()
            .unwrap()
            .contains(&json!("run_allure_launch"))
    );
    assert!(
        !sets.as_array().unwrap().iter().any(|t| t["name"] == "raw"),
        "raw is not offered unless ALLURE_TOOLSETS names it: {sets}"
    );

    let r = s
        .call("enable_toolset", json!({"toolsets": ["runs"]}))
        .await;
    assert_ne!(r.is_error, Some(true), "{r:?}");
    assert_eq!(
        r.structured_content.as_ref().unwrap()["enabled"],
        json!(["runs"])
    );
    eventually(
        Duration::from_secs(5),
        "list_changed after enable_toolset",
        async || s.changes.load(Ordering::SeqCst) == 1,
    )
    .await;
    let names = s.names().await;
    assert!(names.contains(&"run_allure_launch".to_owned()), "{names:?}");

    // Turning on what is on changes nothing, and says so.
    let r = s
        .call("enable_toolset", json!({"toolsets": ["runs", "launches"]}))
        .await;
    assert_eq!(r.structured_content.as_ref().unwrap()["enabled"], json!([]));
    assert_eq!(
        r.structured_content.as_ref().unwrap()["already_on"],
        json!(["runs", "launches"])
    );

    // Unknown and not offered: an error that lists what is, and nothing changes.
    for (name, says) in [("nope", "no toolset 'nope'"), ("raw", "ALLURE_TOOLSETS")] {
        let r = s.call("enable_toolset", json!({"toolsets": [name]})).await;
        assert_eq!(r.is_error, Some(true));
        let text = common::text(&r);
        assert!(text.contains(says) && text.contains("defects"), "{text}");
    }

    // A tool from a toolset that is off still works when called by name (a prompt
    // written for the Go server names it), and its toolset is listed from then on.
    let r = s.call("list_defects", json!({"project_id": 1})).await;
    assert_ne!(r.is_error, Some(true), "{r:?}");
    eventually(
        Duration::from_secs(5),
        "list_changed after the call",
        async || s.changes.load(Ordering::SeqCst) == 2,
    )
    .await;
    assert!(s.names().await.contains(&"create_defect".to_owned()));
    assert_eq!(
        s.changes.load(Ordering::SeqCst),
        2,
        "no change, no notification"
    );
    s.client.cancel().await.unwrap();
}

#[tokio::test]
async fn read_only_mode_wins_over_enabling() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = Watched::start(&fake, &[("ALLURE_READ_ONLY", "true")]).await;
    let names = s.names().await;
    assert!(!names.contains(&"mute_test_result".to_owned()), "{names:?}");
    let r = s
        .call("enable_toolset", json!({"toolsets": ["testcases"]}))
        .await;
    let tools = r.structured_content.unwrap()["tools"].clone();
    assert!(
        tools.as_array().unwrap().contains(&json!("get_test_case")),
        "{tools}"
    );
    assert!(
        !tools
            .as_array()
            .unwrap()
            .contains(&json!("delete_test_case")),
        "{tools}"
    );
    let names = s.names().await;
    assert!(names.contains(&"get_test_case".to_owned()));
    assert!(!names.contains(&"delete_test_case".to_owned()));
    // A toolset whose tools all write says so, rather than blaming ALLURE_TOOLSETS.
    let r = s
        .call("enable_toolset", json!({"toolsets": ["triage"]}))
        .await;
    assert_eq!(r.is_error, Some(true));
    assert!(
        common::text(&r).contains("read-only (ALLURE_READ_ONLY)"),
        "{}",
        common::text(&r)
    );
    // Called by name, a write is still refused (a protocol error, as for any hidden tool).
    let mut p = CallToolRequestParams::new("delete_test_case");
    p = p.with_arguments(json!({"test_case_id": 1}).as_object().unwrap().clone());
    let err = s.client.call_tool(p).await.unwrap_err();
    assert!(err.to_string().contains("read-only mode"), "{err}");
    assert_eq!(fake.requests_to("DELETE", "/testcase/1").len(), 0);
    s.client.cancel().await.unwrap();
}

#[tokio::test]
async fn explicit_toolsets_or_dynamic_off_list_everything_at_once() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = Watched::start(&fake, &[("ALLURE_TOOLSETS", "projects,runs")]).await;
    assert!(!s.list_changed());
    let names = s.names().await;
    assert!(names.contains(&"run_allure_launch".to_owned()));
    assert!(!names.contains(&"enable_toolset".to_owned()), "{names:?}");
    assert!(!names.contains(&"list_launches".to_owned()));
    s.client.cancel().await.unwrap();

    let s = Watched::start(&fake, &[("ALLURE_DYNAMIC_TOOLSETS", "false")]).await;
    let names = s.names().await;
    let all = allure_mcp::tools::Registry::new(&allure_mcp::tools::Toolset::discoverable(), false);
    assert_eq!(names.len(), all.tools().len(), "{names:?}");
    assert!(!names.contains(&"enable_toolset".to_owned()));
    s.client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_stateless_http_server_lists_every_allowed_tool() {
    let fake = FakeTestOps::start().await.unwrap();
    let server = common::HttpServer::against(
        &fake,
        "alice:t0ken-for-tests-0123456789",
        &[("MCP_STATELESS", "true")],
    )
    .await;
    let list = common::http()
        .post(server.url("/mcp"))
        .bearer_auth("t0ken-for-tests-0123456789")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    let body: Value = list.json().await.unwrap();
    let names: Vec<&str> = body["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"run_allure_launch") && names.contains(&"create_defect"),
        "{names:?}"
    );
    assert!(!names.contains(&"enable_toolset"), "{names:?}");
    server.stop().await;
}
