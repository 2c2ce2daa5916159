//! The launch-status resource `allure://launch/{id}` and its subscriptions: a client
//! that subscribes hears `notifications/resources/updated` when the launch's state,
//! statistic or CI runs change. One poll per launch (and credential) serves every
//! subscriber, at most once per `MIN_POLL_INTERVAL`, so subscribers cannot multiply the
//! load on Allure TestOps; the watched launches and each session's subscriptions are
//! capped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::model::{ResourceContents, ResourceTemplate, ResourceUpdatedNotificationParam};
use rmcp::{Peer, RoleServer};
use serde_json::Value;

use crate::tools::Ctx;
use crate::tools::launches::launch_status;

pub const TEMPLATE: &str = "allure://launch/{id}";
const PREFIX: &str = "allure://launch/";

/// The most launches watched at once, across every session.
pub const MAX_WATCHED: usize = 100;
/// The most subscriptions one session holds.
pub const MAX_PER_SESSION: usize = 20;

pub fn template() -> ResourceTemplate {
    ResourceTemplate::new(TEMPLATE, "launch-status")
        .with_title("Launch status")
        .with_description(
            "A launch's state (running, finished, closed), statistic and CI runs, as JSON; subscribe to hear when it changes",
        )
        .with_mime_type("application/json")
}

/// The launch a URI names: exactly `allure://launch/<positive id>`.
pub fn launch_id(uri: &str) -> Option<i64> {
    let id = uri.strip_prefix(PREFIX)?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok().filter(|id| *id > 0)
}

/// The resource's content now: what get_launch_status answers, as JSON.
pub async fn read(ctx: &Ctx, id: i64) -> Result<ResourceContents, String> {
    let v = snapshot(ctx, id).await?;
    Ok(
        ResourceContents::text(v.to_string(), format!("{PREFIX}{id}"))
            .with_mime_type("application/json"),
    )
}

async fn snapshot(ctx: &Ctx, id: i64) -> Result<Value, String> {
    let status = launch_status(ctx, id).await.map_err(|e| {
        let said = e.to_string();
        ctx.client.redact(&said).into_owned()
    })?;
    let mut v = serde_json::to_value(&status).map_err(|e| e.to_string())?;
    crate::tools::drop_nulls(&mut v);
    Ok(v)
}

/// Who watches one launch, and the task that polls it.
struct Watch {
    subscribers: HashMap<u64, Peer<RoleServer>>,
    task: tokio::task::AbortHandle,
}

/// A launch, and whose credential polls it (callers with their own token see what
/// their TestOps rights show; they share a poll only with the same credential).
type Key = (i64, usize);

/// Every subscription of this server.
#[derive(Clone, Default)]
pub struct Watcher {
    watches: Arc<Mutex<HashMap<Key, Watch>>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

impl Watcher {
    /// Subscribes `session` (reached through `peer`) to launch `id`, polled with `ctx`.
    pub fn subscribe(
        &self,
        session: u64,
        peer: Peer<RoleServer>,
        ctx: Ctx,
        id: i64,
    ) -> Result<(), String> {
        let key = (id, ctx.client.credential_key());
        let mut watches = self.watches.lock().unwrap_or_else(|e| e.into_inner());
        let held = watches
            .values()
            .filter(|w| w.subscribers.contains_key(&session))
            .count();
        if let Some(w) = watches.get_mut(&key) {
            if !w.subscribers.contains_key(&session) && held >= MAX_PER_SESSION {
                return Err(format!(
                    "a session may watch at most {MAX_PER_SESSION} launches; unsubscribe from one first"
                ));
            }
            w.subscribers.insert(session, peer);
            return Ok(());
        }
        if held >= MAX_PER_SESSION {
            return Err(format!(
                "a session may watch at most {MAX_PER_SESSION} launches; unsubscribe from one first"
            ));
        }
        if watches.len() >= MAX_WATCHED {
            return Err(format!(
                "this server already watches {MAX_WATCHED} launches; try again later"
            ));
        }
        let task = tokio::spawn(poll(self.watches.clone(), key, ctx)).abort_handle();
        watches.insert(
            key,
            Watch {
                subscribers: HashMap::from([(session, peer)]),
                task,
            },
        );
        Ok(())
    }

    /// Ends `session`'s subscription to launch `id`; the poll stops with its last one.
    pub fn unsubscribe(&self, session: u64, id: i64) {
        let mut watches = self.watches.lock().unwrap_or_else(|e| e.into_inner());
        watches.retain(|(launch, _), w| {
            if *launch == id {
                w.subscribers.remove(&session);
            }
            let keep = !w.subscribers.is_empty();
            if !keep {
                w.task.abort();
            }
            keep
        });
    }
}

/// Polls one launch while anyone watches it, and tells them when it changed.
async fn poll(watches: Arc<Mutex<HashMap<Key, Watch>>>, key: Key, ctx: Ctx) {
    let uri = format!("{PREFIX}{}", key.0);
    let interval = ctx.limits.min_poll_interval;
    let mut last = snapshot(&ctx, key.0).await.ok();
    loop {
        tokio::time::sleep(interval).await;
        // Sessions that ended are forgotten; with nobody left, the poll ends.
        let peers: Vec<(u64, Peer<RoleServer>)> = {
            let mut all = watches.lock().unwrap_or_else(|e| e.into_inner());
            let Some(w) = all.get_mut(&key) else { return };
            w.subscribers.retain(|_, p| !p.is_transport_closed());
            if w.subscribers.is_empty() {
                all.remove(&key);
                return;
            }
            w.subscribers.iter().map(|(s, p)| (*s, p.clone())).collect()
        };
        // An unreadable launch (gone, no longer visible) is a change too: a read tells why.
        let now = snapshot(&ctx, key.0).await.ok();
        if now == last {
            continue;
        }
        last = now;
        for (session, peer) in peers {
            let sent = peer
                .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri.clone()))
                .await;
            if sent.is_err() {
                let mut all = watches.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(w) = all.get_mut(&key) {
                    w.subscribers.remove(&session);
                }
            }
        }
    }
}
