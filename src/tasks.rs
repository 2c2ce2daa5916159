//! Long calls as MCP tasks (SEP-2663, the `io.modelcontextprotocol/tasks` extension): a
//! client that declares the extension and calls `wait_for_launch` gets a task at once,
//! polls `tasks/get` for the answer, and may `tasks/cancel` it. A task belongs to the
//! identity that made it: to anyone else its id is unknown. Running tasks, and tasks
//! kept for their answer, are bounded.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use rmcp::ErrorData as McpError;
use rmcp::model::{CallToolResult, DetailedTask, Task};
use rmcp::task_manager::{TaskExit, TaskManager, TaskOptions};
use tokio_util::sync::CancellationToken;

/// The tools that run as a task for a client that asks for tasks.
const TASK_TOOLS: [&str; 1] = ["wait_for_launch"];

/// How long a task and its answer are kept: a wait may take an hour.
const TTL_MS: u64 = 2 * 60 * 60 * 1000;

/// How often a client is told to look (a launch changes at the pace of CI).
const POLL_MS: u64 = 5_000;

/// The most tasks running at once, and kept at once (running or answered).
const MAX_RUNNING: usize = 100;
const MAX_KEPT: usize = 1_000;
/// The most tasks one owner has kept at once, so no one fills the store for everyone.
const MAX_PER_OWNER: usize = 20;

/// Every task of this server, and whose each one is.
#[derive(Clone, Default)]
pub struct Tasks {
    manager: TaskManager,
    owners: Arc<Mutex<HashMap<String, String>>>,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks").finish_non_exhaustive()
    }
}

/// The answer to a task id that is not the caller's, or not there: the same, so that
/// ids cannot be probed.
fn unknown(id: &str) -> McpError {
    McpError::invalid_params(format!("no task {id}"), None)
}

impl Tasks {
    /// Whether `tool` runs as a task when the client asks for tasks.
    pub fn eligible(tool: &str) -> bool {
        TASK_TOOLS.contains(&tool)
    }

    /// Starts `run` as a task of `owner`; `cancel` is cancelled with the task.
    pub fn start(
        &self,
        owner: String,
        cancel: CancellationToken,
        run: impl Future<Output = Result<CallToolResult, McpError>> + Send + 'static,
    ) -> Result<Task, McpError> {
        let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
        let mine = |o: &HashMap<String, String>| o.values().filter(|x| **x == owner).count();
        if owners.len() >= MAX_KEPT || mine(&owners) >= MAX_PER_OWNER {
            // Forget tasks the manager no longer keeps (expired), then count again.
            owners.retain(|id, _| self.manager.get_task(id).is_ok());
        }
        if mine(&owners) >= MAX_PER_OWNER {
            return Err(McpError::invalid_request(
                format!(
                    "you have {MAX_PER_OWNER} tasks kept already; they expire two hours after they end, or call without tasks"
                ),
                None,
            ));
        }
        if self.manager.running_task_count() >= MAX_RUNNING || owners.len() >= MAX_KEPT {
            return Err(McpError::invalid_request(
                "too many tasks on this server; call again later, or without tasks".to_owned(),
                None,
            ));
        }
        let options = TaskOptions::new()
            .with_ttl_ms(TTL_MS)
            .with_poll_interval_ms(POLL_MS);
        let task = self.manager.spawn(options, move |ctx| {
            Box::pin(async move {
                tokio::select! {
                    answer = run => answer.map_err(TaskExit::Error),
                    _ = ctx.cancelled() => {
                        cancel.cancel();
                        Err(TaskExit::Cancelled)
                    }
                }
            })
        });
        owners.insert(task.task_id.clone(), owner);
        Ok(task)
    }

    fn check(&self, id: &str, owner: &str) -> Result<(), McpError> {
        let owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
        match owners.get(id) {
            Some(o) if o == owner => Ok(()),
            _ => Err(unknown(id)),
        }
    }

    pub fn get(&self, id: &str, owner: &str) -> Result<DetailedTask, McpError> {
        self.check(id, owner)?;
        self.manager.get_task(id).map_err(|_| unknown(id))
    }

    pub fn update(
        &self,
        id: &str,
        owner: &str,
        responses: impl IntoIterator<Item = (String, serde_json::Value)>,
    ) -> Result<(), McpError> {
        self.check(id, owner)?;
        self.manager.update_task(id, responses)
    }

    pub fn cancel(&self, id: &str, owner: &str) -> Result<(), McpError> {
        self.check(id, owner)?;
        self.manager.cancel_task(id)
    }
}
