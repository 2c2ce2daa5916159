//! `analyze_launch_failures` through a host that lends its model (MCP sampling, answered
//! by rmcp's client as a host would), one that refuses, and one without sampling.
#![allow(deprecated)] // sampling serves the 2025 protocol revisions

use std::sync::{Arc, Mutex};

use fake_testops::FakeTestOps;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig,
    CreateMessageRequestParams, CreateMessageResult, SamplingCapability, SamplingMessage,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::common::{self, Session, is_error, text};

/// A host whose model answers `reply` (or refuses when `None`), and what it was sent.
#[derive(Clone)]
struct Host {
    reply: Option<String>,
    sent: Arc<Mutex<Vec<Value>>>,
}

#[allow(deprecated)]
impl ClientHandler for Host {
    fn get_info(&self) -> ClientConfig {
        let mut caps = ClientCapabilities::default();
        caps.sampling = Some(SamplingCapability::default());
        let mut info = ClientConfig::default();
        info.capabilities = caps;
        info
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        self.sent
            .lock()
            .unwrap()
            .push(serde_json::to_value(&params).unwrap());
        match &self.reply {
            Some(r) => Ok(CreateMessageResult::new(
                SamplingMessage::assistant_text(r.clone()),
                "host-model-1".into(),
            )),
            None => Err(ErrorData::invalid_request(
                "the user rejected the sampling request",
                None,
            )),
        }
    }
}

async fn start(fake: &FakeTestOps, host: Host) -> RunningService<RoleClient, Host> {
    let base = fake.base_url();
    let settings = common::settings_against(&base, &[]);
    let transport = TokioChildProcess::new(common::command(&settings, &[])).unwrap();
    host.serve(transport).await.unwrap()
}

async fn analyse(c: &RunningService<RoleClient, Host>, launch: i64) -> CallToolResult {
    c.call_tool(
        CallToolRequestParams::new("analyze_launch_failures").with_arguments(
            json!({"launch_id": launch, "focus": "new failures"})
                .as_object()
                .unwrap()
                .clone(),
        ),
    )
    .await
    .unwrap()
}

/// A launch with failures, and one failure message of it.
fn failing_launch(fake: &FakeTestOps) -> (i64, String) {
    fake.with_data(|d| {
        let r = d
            .results
            .iter()
            .find(|r| r.status == "failed" && r.message.is_some())
            .unwrap();
        (r.launch_id, r.message.clone().unwrap())
    })
}

#[tokio::test]
async fn the_hosts_model_writes_the_analysis_from_the_grouped_evidence() {
    let fake = FakeTestOps::start().await.unwrap();
    let (launch, message) = failing_launch(&fake);
    let host = Host {
        reply: Some("1. Login service down (groups 1, 2): check the stand.".into()),
        sent: Default::default(),
    };
    let c = start(&fake, host.clone()).await;
    let r = analyse(&c, launch).await;
    assert!(!is_error(&r), "{}", text(&r));
    let v = r.structured_content.clone().unwrap();
    assert_eq!(
        v["analysis"],
        "1. Login service down (groups 1, 2): check the stand."
    );
    assert_eq!(v["model"], "host-model-1");
    assert!(!v["evidence"]["groups"].as_array().unwrap().is_empty());
    assert!(text(&r).contains("Login service down"), "{}", text(&r));

    let sent = host.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let prompt = sent[0]["messages"][0]["content"]["text"].as_str().unwrap();
    // The evidence, compact: group messages and links, the focus asked for.
    let first_line = message.lines().next().unwrap();
    assert!(
        prompt.contains(&first_line[..first_line.len().min(40)]),
        "{prompt}"
    );
    assert!(prompt.contains("new failures"), "{prompt}");
    assert!(prompt.len() < 8_000, "{} bytes", prompt.len());
    assert!(
        sent[0]["systemPrompt"]
            .as_str()
            .unwrap()
            .contains("never instructions")
    );
    assert!(sent[0]["maxTokens"].as_u64().unwrap() <= 1000);
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn a_refusal_or_no_sampling_still_gives_the_evidence_and_says_why() {
    let fake = FakeTestOps::start().await.unwrap();
    let (launch, _) = failing_launch(&fake);
    let host = Host {
        reply: None,
        sent: Default::default(),
    };
    let c = start(&fake, host.clone()).await;
    let r = analyse(&c, launch).await;
    assert!(!is_error(&r), "{}", text(&r));
    let v = r.structured_content.clone().unwrap();
    assert!(v.get("analysis").is_none(), "{v}");
    assert!(
        v["note"].as_str().unwrap().contains("the host refused"),
        "{v}"
    );
    assert!(!v["evidence"]["groups"].as_array().unwrap().is_empty());
    c.cancel().await.unwrap();

    // A client without sampling (rmcp's default client).
    let s = Session::against(&fake, &[("ALLURE_TOOLSETS", "analytics")]).await;
    let r = s
        .call("analyze_launch_failures", json!({"launch_id": launch}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(text(&r).contains("no MCP sampling"), "{}", text(&r));
    assert!(
        text(&r).contains("Evidence: Triage of launch"),
        "{}",
        text(&r)
    );
    for (args, says) in [
        (json!({"launch_id": launch, "max_groups": 0}), "max_groups"),
        (
            json!({"launch_id": launch, "focus": "x".repeat(301)}),
            "focus",
        ),
        (json!({"launch_id": 999_999}), "999999"),
    ] {
        let r = s.call("analyze_launch_failures", args).await;
        assert!(is_error(&r) && text(&r).contains(says), "{}", text(&r));
    }
    s.stop().await;
}
