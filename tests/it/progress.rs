//! wait_for_launch: MCP progress notifications over stdio, cancellation and its timeout.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use allure_mcp::tools::{CallScope, Registry, Toolset};
use fake_testops::{FakeOptions, FakeTestOps};
use rmcp::model::{
    CallToolRequestParams, NumberOrString, ProgressNotificationParam, ProgressToken,
    RequestMetaObject,
};
use rmcp::service::NotificationContext;
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::json;

#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl ClientHandler for Counter {
    async fn on_progress(&self, p: ProgressNotificationParam, _: NotificationContext<RoleClient>) {
        // rmcp's client assigns its own token to requests it tracks, so only the content is checked.
        assert!(
            p.message
                .as_deref()
                .is_some_and(|m| m.contains("job runs finished"))
        );
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn wait_for_launch_sends_progress_notifications() {
    let fake = FakeTestOps::start_with(FakeOptions {
        job_duration: Duration::from_millis(2500),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let base = fake.base_url();
    let counter = Counter::default();
    let cmd = common::command(
        &[
            ("ALLURE_BASE_URL", &base),
            ("ALLURE_TOKEN", fake_testops::DEMO_TOKEN),
        ],
        &[],
    );
    let client = counter
        .clone()
        .serve(TokioChildProcess::new(cmd).unwrap())
        .await
        .unwrap();

    let job = fake.with_data(|d| d.jobs.iter().find(|j| j.project_id == 1).unwrap().id);
    let started = client
        .call_tool(
            CallToolRequestParams::new("run_allure_launch").with_arguments(
                json!({"project_id": 1, "launch_name": "p", "job_id": job})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    let launch = started.structured_content.unwrap()["launch_id"]
        .as_i64()
        .unwrap();

    let mut meta = RequestMetaObject::default();
    meta.set_progress_token(ProgressToken(NumberOrString::Number(7)));
    let mut params = CallToolRequestParams::new("wait_for_launch").with_arguments(
        json!({"launch_id": launch, "timeout_s": 60, "poll_interval_s": 1})
            .as_object()
            .unwrap()
            .clone(),
    );
    params.meta = Some(meta);
    let r = client.call_tool(params).await.unwrap();
    assert_eq!(r.structured_content.unwrap()["outcome"], "finished");
    assert!(
        counter.0.load(Ordering::SeqCst) >= 1,
        "progress was reported while waiting"
    );
    let _ = client.cancel().await;
}

/// In-process calls of the default tools against a fake whose newest launch has a CI
/// run that lasts ten minutes: the registry, a context, and that launch.
async fn a_launch_that_keeps_running() -> (FakeTestOps, Registry, allure_mcp::tools::Ctx, i64) {
    let fake = common::fake_with_long_jobs().await;
    let registry = Registry::new(&Toolset::discoverable(), false);
    let ctx = common::ctx(common::client(&fake), Default::default());
    let launch = common::running_launch(&fake);
    (fake, registry, ctx, launch)
}

#[tokio::test]
async fn wait_for_launch_stops_at_once_when_cancelled() {
    let (fake, registry, ctx, launch) = a_launch_that_keeps_running().await;
    let args = json!({"launch_id": launch, "timeout_s": 600, "poll_interval_s": 60})
        .as_object()
        .unwrap()
        .clone();

    let scope = CallScope::default();
    let cancel = scope.cancel.clone();
    let call = registry.call(ctx.for_call(scope), "wait_for_launch", Some(args));
    let started = Instant::now();
    let canceller = async {
        // Cancel once the first check has reached the fake.
        common::eventually(
            Duration::from_secs(10),
            "the first check upstream",
            async || !fake.requests_to("GET", "/launch/*/job").is_empty(),
        )
        .await;
        cancel.cancel();
    };
    let (r, ()) = tokio::join!(call, canceller);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "cancellation ends the wait at once"
    );
    assert_eq!(
        r.unwrap().structured_content.unwrap()["outcome"],
        "cancelled"
    );
}

#[tokio::test]
async fn wait_for_launch_ends_at_its_timeout_and_says_how_to_go_on() {
    let (_fake, registry, ctx, launch) = a_launch_that_keeps_running().await;
    let args = json!({"launch_id": launch, "timeout_s": 1, "poll_interval_s": 1})
        .as_object()
        .unwrap()
        .clone();
    let r = registry
        .call(ctx, "wait_for_launch", Some(args))
        .await
        .unwrap();
    let v = r.structured_content.unwrap();
    assert_eq!(v["outcome"], "timeout");
    assert!(
        r.content[0]
            .as_text()
            .unwrap()
            .text
            .contains("call wait_for_launch again")
    );
}
