//! wait_for_launch as an MCP task (the tasks extension) for a client that declares it:
//! the call answers at once with a task, tasks/get gives its answer when the launch is
//! done, tasks/cancel ends it, and a task is unknown to every other identity.

use std::time::Duration;

use fake_testops::{FakeOptions, FakeTestOps};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, ClientCapabilities, ClientConfig,
    GetTaskParams, Implementation, TaskPayload, TaskStatus,
};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::json;

use crate::common::{self, HttpServer, eventually};

fn tasks_client() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::builder().enable_tasks().build(),
        Implementation::new("tasks-test", "1"),
    )
}

fn wait(launch: i64) -> CallToolRequestParams {
    CallToolRequestParams::new("wait_for_launch").with_arguments(
        json!({"launch_id": launch, "timeout_s": 120, "poll_interval_s": 1})
            .as_object()
            .unwrap()
            .clone(),
    )
}

async fn stdio(fake: &FakeTestOps) -> RunningService<RoleClient, ClientConfig> {
    let base = fake.base_url();
    let settings = common::settings_against(&base, &[("MIN_POLL_INTERVAL", "1")]);
    let transport = TokioChildProcess::new(common::command(&settings, &[])).unwrap();
    tasks_client().serve(transport).await.unwrap()
}

async fn status(
    c: &RunningService<RoleClient, ClientConfig>,
    id: &str,
) -> rmcp::model::DetailedTask {
    c.peer()
        .get_task(GetTaskParams::new(id.to_owned()))
        .await
        .unwrap()
        .task
}

#[tokio::test]
async fn a_wait_is_a_task_whose_answer_comes_when_the_launch_is_done() {
    let fake = FakeTestOps::start_with(FakeOptions {
        job_duration: Duration::from_millis(2500),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let c = stdio(&fake).await;
    // A fresh CI run, which the fake finishes after 2.5 s.
    let job = fake.with_data(|d| d.jobs.iter().find(|j| j.project_id == 1).unwrap().id);
    let started = c
        .call_tool_once(
            CallToolRequestParams::new("run_allure_launch").with_arguments(
                json!({"project_id": 1, "launch_name": "t", "job_id": job})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    let CallToolResponse::Complete(started) = started else {
        panic!("a run is not a task");
    };
    let launch = started.structured_content.unwrap()["launch_id"]
        .as_i64()
        .unwrap();
    let CallToolResponse::Task(created) = c.call_tool_once(wait(launch)).await.unwrap() else {
        panic!("not a task");
    };
    let id = created.task.task_id.clone();
    assert_eq!(created.task.status, TaskStatus::Working);
    let mut done = None;
    eventually(Duration::from_secs(30), "the task finishes", async || {
        let t = status(&c, &id).await;
        let terminal = t.status().is_terminal();
        done = Some(t);
        terminal
    })
    .await;
    match done.unwrap().payload {
        TaskPayload::Completed { result } => {
            assert_eq!(
                result["structuredContent"]["outcome"], "finished",
                "{result:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn a_cancelled_task_ends_and_frees_its_wait() {
    let fake = common::fake_with_long_jobs().await;
    let launch = common::running_launch(&fake);
    let c = stdio(&fake).await;
    let CallToolResponse::Task(created) = c.call_tool_once(wait(launch)).await.unwrap() else {
        panic!("not a task");
    };
    let id = created.task.task_id.clone();
    c.peer()
        .cancel_task(CancelTaskParams::new(id.clone()))
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "cancelled", async || {
        status(&c, &id).await.status() == TaskStatus::Cancelled
    })
    .await;
    // Its polling stopped: no more progress reads of the launch.
    let reads = || {
        fake.requests_to("GET", &format!("/launch/{launch}/progress"))
            .len()
    };
    let mut last = (reads(), std::time::Instant::now());
    eventually(Duration::from_secs(10), "no poll for 3 s", async || {
        if reads() != last.0 {
            last = (reads(), std::time::Instant::now());
        }
        last.1.elapsed() > Duration::from_secs(3)
    })
    .await;
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn a_task_is_unknown_to_every_other_identity() {
    let fake = common::fake_with_long_jobs().await;
    let launch = common::running_launch(&fake);
    let (alice, bob) = (
        "alice-token-0123456789abcdef",
        "bob-token-0123456789abcdefgh",
    );
    let server = HttpServer::against(&fake, &format!("alice:{alice},bob:{bob}"), &[]).await;
    let session = async |token: &str| {
        use rmcp::transport::StreamableHttpClientTransport;
        use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = StreamableHttpClientTransportConfig::with_uri(server.url("/mcp"))
            .auth_header(token.to_owned());
        tasks_client()
            .serve(StreamableHttpClientTransport::from_config(config))
            .await
            .unwrap()
    };
    let (a, b) = (session(alice).await, session(bob).await);
    let CallToolResponse::Task(created) = a.call_tool_once(wait(launch)).await.unwrap() else {
        panic!("not a task");
    };
    let id = created.task.task_id.clone();
    assert_eq!(status(&a, &id).await.status(), TaskStatus::Working);
    let e = b
        .peer()
        .get_task(GetTaskParams::new(id.clone()))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no task"), "{e}");
    let e = b
        .peer()
        .cancel_task(CancelTaskParams::new(id.clone()))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no task"), "{e}");
    assert_eq!(
        status(&a, &id).await.status(),
        TaskStatus::Working,
        "bob cancelled nothing"
    );
    a.peer()
        .cancel_task(CancelTaskParams::new(id))
        .await
        .unwrap();
    a.cancel().await.unwrap();
    b.cancel().await.unwrap();
    server.stop().await;
}
