//! Deletes ask the user first: through the client when it can ask (MCP elicitation,
//! answered here by rmcp's client as a host would), else only with `confirm: true`. Each
//! test is the attack or slip that must change nothing: a model passing `confirm` on its
//! own, a user saying no, dismissing, or accepting without ticking.

use std::sync::{Arc, Mutex};

use fake_testops::FakeTestOps;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ElicitRequestParams,
    ElicitResult, ElicitationAction, ElicitationCapability, FormElicitationCapability,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::common::{self, HttpServer, is_error, text};

/// A host whose user answers every question the same way, and what it was asked.
#[derive(Clone)]
struct User {
    action: ElicitationAction,
    tick: bool,
    asked: Arc<Mutex<Vec<(String, Value)>>>,
}

impl User {
    fn new(action: ElicitationAction, tick: bool) -> User {
        User {
            action,
            tick,
            asked: Default::default(),
        }
    }

    fn questions(&self) -> Vec<(String, Value)> {
        self.asked.lock().unwrap().clone()
    }
}

impl ClientHandler for User {
    fn get_info(&self) -> ClientConfig {
        let mut caps = ClientCapabilities::default();
        let mut e = ElicitationCapability::new();
        e.form = Some(FormElicitationCapability::new());
        caps.elicitation = Some(e);
        let mut info = ClientConfig::default();
        info.capabilities = caps;
        info
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams {
            message,
            requested_schema,
            ..
        } = request
        {
            self.asked
                .lock()
                .unwrap()
                .push((message, serde_json::to_value(requested_schema).unwrap()));
        }
        let mut r = ElicitResult::new(self.action.clone());
        if self.action == ElicitationAction::Accept {
            r.content = Some(json!({"confirm": self.tick}));
        }
        Ok(r)
    }
}

async fn stdio(fake: &FakeTestOps, user: User) -> RunningService<RoleClient, User> {
    let base = fake.base_url();
    let settings = common::settings_against(&base, &[]);
    let transport = TokioChildProcess::new(common::command(&settings, &[])).unwrap();
    user.serve(transport).await.unwrap()
}

/// A session of `user`'s host over Streamable HTTP.
async fn http(server: &HttpServer, user: User) -> RunningService<RoleClient, User> {
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = StreamableHttpClientTransportConfig::with_uri(server.url("/mcp"))
        .auth_header("secret-token-1234567890".to_owned());
    user.serve(StreamableHttpClientTransport::from_config(config))
        .await
        .unwrap()
}

async fn call(c: &RunningService<RoleClient, User>, name: &str, args: Value) -> CallToolResult {
    c.call_tool(
        CallToolRequestParams::new(name.to_owned())
            .with_arguments(args.as_object().unwrap().clone()),
    )
    .await
    .unwrap()
}

/// A launch of project 1 from the seed data, and how many results it has.
fn a_launch(fake: &FakeTestOps) -> (i64, String) {
    fake.with_data(|d| {
        let l = d.launches.iter().find(|l| l.project_id == 1).unwrap();
        (l.id, l.name.clone())
    })
}

fn exists(fake: &FakeTestOps, id: i64) -> bool {
    fake.with_data(|d| d.launches.iter().any(|l| l.id == id))
}

#[tokio::test]
async fn the_user_is_asked_and_only_a_ticked_yes_deletes() {
    let fake = FakeTestOps::start().await.unwrap();
    let (id, name) = a_launch(&fake);
    for (action, tick, says) in [
        (ElicitationAction::Decline, false, "The user declined"),
        (ElicitationAction::Cancel, false, "dismissed"),
        (ElicitationAction::Accept, false, "The user declined"),
    ] {
        let user = User::new(action.clone(), tick);
        let c = stdio(&fake, user.clone()).await;
        // confirm: true from the model does not overrule the user's answer.
        let r = call(
            &c,
            "delete_launch",
            json!({"launch_id": id, "confirm": true}),
        )
        .await;
        assert!(is_error(&r), "{action:?}: {}", text(&r));
        assert!(text(&r).contains(says), "{action:?}: {}", text(&r));
        assert!(text(&r).contains("Nothing was changed"), "{}", text(&r));
        assert!(exists(&fake, id), "{action:?} deleted the launch");
        let asked = user.questions();
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert!(asked[0].0.contains(&format!("#{id} {name}")), "{asked:?}");
        assert_eq!(asked[0].1["required"], json!(["confirm"]));
        assert_eq!(asked[0].1["properties"]["confirm"]["type"], "boolean");
        c.cancel().await.unwrap();
    }
    assert!(fake.requests_to("DELETE", "/launch/*").is_empty());

    let user = User::new(ElicitationAction::Accept, true);
    let c = stdio(&fake, user.clone()).await;
    let r = call(&c, "delete_launch", json!({"launch_id": id})).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(!exists(&fake, id));
    assert_eq!(fake.requests_to("DELETE", "/launch/*").len(), 1);
    assert_eq!(user.questions().len(), 1);
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn every_delete_asks_before_it_changes_anything() {
    let fake = FakeTestOps::start().await.unwrap();
    let user = User::new(ElicitationAction::Decline, false);
    let c = stdio(&fake, user.clone()).await;
    let (case, plan, defect) = fake.with_data(|d| {
        (
            d.test_cases.iter().find(|t| t.project_id == 1).unwrap().id,
            d.test_plans[0].id,
            d.defects[0].id,
        )
    });
    let (a, b) = fake.with_data(|d| {
        let mut ls = d.launches.iter().filter(|l| l.project_id == 1);
        (ls.next().unwrap().id, ls.next().unwrap().id)
    });
    for (tool, args) in [
        ("delete_test_case", json!({"test_case_id": case})),
        ("delete_test_plan", json!({"test_plan_id": plan})),
        ("delete_defect", json!({"defect_id": defect})),
        (
            "merge_launches",
            json!({"source_launch_id": a, "target_launch_id": b}),
        ),
    ] {
        let r = call(&c, tool, args).await;
        assert!(
            is_error(&r) && text(&r).contains("The user declined"),
            "{tool}: {}",
            text(&r)
        );
    }
    assert_eq!(user.questions().len(), 4);
    // Only reads reached upstream.
    let writes: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET" && !r.api_path.starts_with("/uaa/"))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn over_streamable_http_the_question_reaches_the_user_in_the_session() {
    let fake = FakeTestOps::start().await.unwrap();
    let (id, _) = a_launch(&fake);
    let server = HttpServer::against(&fake, "alice:secret-token-1234567890", &[]).await;
    let user = User::new(ElicitationAction::Accept, true);
    let c = http(&server, user.clone()).await;
    let r = c
        .call_tool(
            CallToolRequestParams::new("delete_launch")
                .with_arguments(json!({"launch_id": id}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(user.questions().len(), 1);
    assert!(!exists(&fake, id));
    c.cancel().await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn a_stateless_call_cannot_be_asked_and_needs_confirm() {
    let fake = FakeTestOps::start().await.unwrap();
    let (id, _) = a_launch(&fake);
    let server = HttpServer::against(
        &fake,
        "alice:secret-token-1234567890",
        &[("MCP_STATELESS", "true")],
    )
    .await;
    let user = User::new(ElicitationAction::Accept, true);
    let c = http(&server, user.clone()).await;
    let args = |confirm: Option<bool>| {
        let mut a = json!({"launch_id": id});
        if let Some(c) = confirm {
            a["confirm"] = json!(c);
        }
        CallToolRequestParams::new("delete_launch").with_arguments(a.as_object().unwrap().clone())
    };
    let r = c.call_tool(args(None)).await.unwrap();
    assert!(
        is_error(&r) && text(&r).contains("with confirm: true"),
        "{}",
        text(&r)
    );
    assert!(exists(&fake, id));
    let r = c.call_tool(args(Some(true))).await.unwrap();
    assert!(!is_error(&r), "{}", text(&r));
    assert!(!exists(&fake, id));
    assert!(user.questions().is_empty());
    c.cancel().await.unwrap();
    server.stop().await;
}
