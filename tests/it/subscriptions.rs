//! The launch-status resource `allure://launch/{id}`: read, subscribed to by real rmcp
//! client sessions, told of changes; one poll per launch serves every subscriber; the
//! poll ends with the last subscriber; nothing to subscribe on a stateless server.
#![allow(deprecated)] // resources/subscribe is the 2025 revisions' way (2026-07-28 listens instead)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fake_testops::FakeTestOps;
use rmcp::model::{
    ReadResourceRequestParams, ResourceContents, ResourceUpdatedNotificationParam,
    SubscribeRequestParams, UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::Value;

use crate::common::{self, HttpServer, eventually};

/// A client that counts `notifications/resources/updated`.
#[derive(Clone, Default)]
struct Listener {
    updates: Arc<AtomicUsize>,
}

impl ClientHandler for Listener {
    async fn on_resource_updated(
        &self,
        _params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.updates.fetch_add(1, Ordering::SeqCst);
    }
}

async fn start(fake: &FakeTestOps, l: Listener) -> RunningService<RoleClient, Listener> {
    let base = fake.base_url();
    let settings = common::settings_against(&base, &[("MIN_POLL_INTERVAL", "1")]);
    let transport = TokioChildProcess::new(common::command(&settings, &[])).unwrap();
    l.serve(transport).await.unwrap()
}

async fn read(c: &RunningService<RoleClient, Listener>, id: i64) -> Value {
    let r = c
        .read_resource(ReadResourceRequestParams::new(format!(
            "allure://launch/{id}"
        )))
        .await
        .unwrap();
    match &r.contents[0] {
        ResourceContents::TextResourceContents {
            text, mime_type, ..
        } => {
            assert_eq!(mime_type.as_deref(), Some("application/json"));
            serde_json::from_str(text).unwrap()
        }
        other => panic!("{other:?}"),
    }
}

fn open_launch(fake: &FakeTestOps) -> i64 {
    fake.with_data(|d| d.launches.iter().rev().find(|l| !l.closed).unwrap().id)
}

fn polls(fake: &FakeTestOps, id: i64) -> usize {
    fake.requests_to("GET", &format!("/launch/{id}/progress"))
        .len()
}

#[tokio::test]
async fn subscribers_hear_of_a_change_and_share_one_poll() {
    let fake = FakeTestOps::start().await.unwrap();
    let id = open_launch(&fake);
    let (a, b) = (Listener::default(), Listener::default());
    let ca = start(&fake, a.clone()).await;
    let cb = start(&fake, b.clone()).await;
    let caps = ca
        .peer_info()
        .unwrap()
        .capabilities
        .resources
        .clone()
        .unwrap();
    assert_eq!(caps.subscribe, Some(true));
    let templates = ca.list_all_resource_templates().await.unwrap();
    assert!(
        templates
            .iter()
            .any(|t| t.uri_template == "allure://launch/{id}")
    );
    let before = read(&ca, id).await;
    assert_eq!(before["launch_id"], id);
    assert_ne!(before["status"], "closed");

    let uri = format!("allure://launch/{id}");
    for c in [&ca, &cb] {
        c.subscribe(SubscribeRequestParams::new(uri.clone()))
            .await
            .unwrap();
    }
    // Both sessions poll through one task: over a few intervals, at most one poll each.
    let (start_polls, started) = (polls(&fake, id), Instant::now());
    eventually(Duration::from_secs(10), "three polls", async || {
        polls(&fake, id) >= start_polls + 3
    })
    .await;
    let allowed = started.elapsed().as_secs() as usize + 2;
    assert!(
        polls(&fake, id) - start_polls <= allowed,
        "{} polls in {:?}",
        polls(&fake, id) - start_polls,
        started.elapsed()
    );
    assert_eq!(a.updates.load(Ordering::SeqCst), 0, "nothing changed yet");

    fake.with_data(|d| d.launches.iter_mut().find(|l| l.id == id).unwrap().closed = true);
    eventually(Duration::from_secs(10), "both told", async || {
        a.updates.load(Ordering::SeqCst) == 1 && b.updates.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_eq!(read(&ca, id).await["status"], "closed");

    // The last one out ends the poll.
    ca.unsubscribe(UnsubscribeRequestParams::new(uri.clone()))
        .await
        .unwrap();
    cb.cancel().await.unwrap();
    let mut last = (polls(&fake, id), Instant::now());
    eventually(
        Duration::from_secs(15),
        "no poll for three intervals",
        async || {
            let now = polls(&fake, id);
            if now != last.0 {
                last = (now, Instant::now());
            }
            last.1.elapsed() > Duration::from_secs(3)
        },
    )
    .await;
    ca.cancel().await.unwrap();
}

#[tokio::test]
async fn only_launches_that_exist_can_be_subscribed_to() {
    let fake = FakeTestOps::start().await.unwrap();
    let c = start(&fake, Listener::default()).await;
    for uri in [
        "allure://launch/999999",
        "allure://launch/abc",
        "allure://launch/-1",
        "allure://aql-guide/x",
    ] {
        let e = c
            .subscribe(SubscribeRequestParams::new(uri.to_owned()))
            .await;
        assert!(e.is_err(), "{uri}");
    }
    let e = c
        .read_resource(ReadResourceRequestParams::new(
            "allure://launch/999999".to_owned(),
        ))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("999999"), "{e}");
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn a_stateless_server_offers_no_subscriptions() {
    let fake = FakeTestOps::start().await.unwrap();
    let id = open_launch(&fake);
    let token = "subscriber-token-0123456789";
    let server =
        HttpServer::against(&fake, &format!("t:{token}"), &[("MCP_STATELESS", "true")]).await;
    let c = common::mcp_session(server.url("/mcp"), token, None)
        .await
        .unwrap();
    let caps = c
        .peer_info()
        .unwrap()
        .capabilities
        .resources
        .clone()
        .unwrap();
    assert_ne!(caps.subscribe, Some(true));
    let e = c
        .subscribe(SubscribeRequestParams::new(format!("allure://launch/{id}")))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("stateless"), "{e}");
    // Reading works without a session.
    let r = c
        .read_resource(ReadResourceRequestParams::new(format!(
            "allure://launch/{id}"
        )))
        .await
        .unwrap();
    assert_eq!(r.contents.len(), 1);
    c.cancel().await.unwrap();
    server.stop().await;
}
