//! The tool registry: every tool with its toolset and annotations, filtered in one
//! place by toolset and read-only mode. Tools are transport-agnostic: they take JSON
//! arguments and a [`Ctx`], and answer structured content plus a compact text.

pub mod analysis;
pub mod analytics;
pub mod api_search;
pub mod aql;
pub mod case_files;
pub mod case_links;
pub mod cf_admin;
pub mod compare;
pub mod custom_fields;
pub mod dashboard;
pub mod defect_links;
pub mod defects;
pub mod flaky;
pub mod grant;
pub mod history;
pub mod launch_admin;
pub mod launches;
pub mod people;
pub mod plans;
pub mod projects;
pub mod raw;
pub mod render;
pub mod reruns;
pub mod results;
pub mod runs;
pub mod scenario;
pub mod steps;
pub mod testcase_admin;
pub mod testcase_bulk;
pub mod testcase_bulk_links;
pub mod testcase_history;
pub mod testcases;
pub mod toolsets;
pub mod trees;
pub mod triage;

mod args;
mod confirm;
mod errors;
mod lookups;
mod registry;
mod schema;
mod selection;

pub use args::*;
pub use confirm::{ANSWER_TIMEOUT, Answer, AskSink, SampleRequest, SampleSink, Sampled};
pub use errors::{Subject, ToolError};
pub use registry::*;
pub use schema::drop_nulls;

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::allure::{AllureClient, AllureError};

/// A group of tools, selectable with `ALLURE_TOOLSETS` and, with dynamic toolsets, turned
/// on by a model through `enable_toolset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Toolset {
    Projects,
    Launches,
    /// Launch housekeeping: rename, copy, merge, delete; environment and defects.
    LaunchAdmin,
    Results,
    Triage,
    Runs,
    Testcases,
    /// A test case's people, links, issues and defects.
    TestcaseAdmin,
    /// A test case's life: clone, restore, versions, detach; deleted and muted ones.
    TestcaseHistory,
    /// Bulk edits of test cases' people and links; bulk clone, move, run.
    TestcaseBulk,
    /// A test case's attachments (local files over stdio), keys, relations, examples, audit.
    TestcaseExtras,
    /// Test case trees and folders.
    TestcaseFolders,
    Plans,
    Defects,
    /// Custom field administration: fields, their projects and values.
    CustomFieldAdmin,
    Analytics,
    /// The generic API escape hatch: off unless asked for.
    Raw,
    /// `list_toolsets` and `enable_toolset`: present whenever there is something to turn
    /// on, never selectable itself.
    Discovery,
}

impl Toolset {
    /// Every selectable toolset (`Discovery` is not one).
    pub const ALL: [Toolset; 17] = [
        Toolset::Projects,
        Toolset::Launches,
        Toolset::LaunchAdmin,
        Toolset::Results,
        Toolset::Triage,
        Toolset::Runs,
        Toolset::Testcases,
        Toolset::TestcaseAdmin,
        Toolset::TestcaseHistory,
        Toolset::TestcaseBulk,
        Toolset::TestcaseExtras,
        Toolset::TestcaseFolders,
        Toolset::Plans,
        Toolset::Defects,
        Toolset::CustomFieldAdmin,
        Toolset::Analytics,
        Toolset::Raw,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Toolset::Projects => "projects",
            Toolset::Launches => "launches",
            Toolset::LaunchAdmin => "launch_admin",
            Toolset::Results => "results",
            Toolset::Triage => "triage",
            Toolset::Runs => "runs",
            Toolset::Testcases => "testcases",
            Toolset::TestcaseAdmin => "testcase_admin",
            Toolset::TestcaseHistory => "testcase_history",
            Toolset::TestcaseBulk => "testcase_bulk",
            Toolset::TestcaseExtras => "testcase_extras",
            Toolset::TestcaseFolders => "testcase_folders",
            Toolset::Plans => "plans",
            Toolset::Defects => "defects",
            Toolset::CustomFieldAdmin => "custom_field_admin",
            Toolset::Analytics => "analytics",
            Toolset::Raw => "raw",
            Toolset::Discovery => "discovery",
        }
    }

    /// What the toolset is for, as `list_toolsets` tells a model.
    pub fn description(self) -> &'static str {
        match self {
            Toolset::Projects => "find projects, who the token is, users",
            Toolset::Launches => {
                "find and read launches (test runs), compare, close or reopen them"
            }
            Toolset::LaunchAdmin => {
                "launch housekeeping and views: rename, retag, copy, merge, delete; a launch's environment, defects and dashboard"
            }
            Toolset::Results => {
                "read test results, failures, steps, attachments, a test's history; triage a launch; flaky tests"
            }
            Toolset::Triage => "act on results: mute, unmute, assign, resolve (one or many)",
            Toolset::Runs => {
                "CI jobs: start launches, rerun failed tests, wait for a launch to finish"
            }
            Toolset::Testcases => {
                "read, create, update, delete and bulk-edit test cases: scenarios, custom fields"
            }
            Toolset::TestcaseAdmin => {
                "a test case's people and links: overview, members, external links, issue keys, defects"
            }
            Toolset::TestcaseHistory => {
                "a test case's life: clone, restore, versions (save, read, restore, delete), detach automation, delete steps; deleted and muted test cases"
            }
            Toolset::TestcaseBulk => {
                "bulk test case edits: members, external links, issue keys; clone, move to another project, run in a new launch"
            }
            Toolset::TestcaseExtras => {
                "a test case's attachments (upload and save local files over stdio), test keys, relations, examples, audit log"
            }
            Toolset::TestcaseFolders => {
                "test case trees and folders: list trees, browse, create, rename and delete folders, move test cases into one"
            }
            Toolset::Plans => {
                "test plans: list, read, create from test cases or AQL, change, delete"
            }
            Toolset::Defects => {
                "defects: list, read, file, update, link to results and issue keys, matchers"
            }
            Toolset::CustomFieldAdmin => {
                "custom field administration: create, change, archive, delete fields; add them to projects or take them out; values"
            }
            Toolset::Analytics => {
                "project statistics, pass-rate trend, durations, success rates; a root-cause analysis of a launch's failures"
            }
            Toolset::Raw => {
                "any Allure TestOps API call, and a search over all 756 operations (GET only in read-only mode)"
            }
            Toolset::Discovery => "list and enable toolsets",
        }
    }

    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|t| t.name()).collect()
    }

    /// What a session starts with when toolsets are dynamic: the daily read-and-triage
    /// path. The rest is a call to `enable_toolset` away.
    pub fn defaults() -> Vec<Toolset> {
        vec![
            Toolset::Projects,
            Toolset::Launches,
            Toolset::Results,
            Toolset::Triage,
        ]
    }

    /// Everything but `raw`: what a model may turn on when `ALLURE_TOOLSETS` is not set.
    pub fn discoverable() -> Vec<Toolset> {
        Self::ALL
            .into_iter()
            .filter(|t| *t != Toolset::Raw)
            .collect()
    }

    /// Parses `ALLURE_TOOLSETS`: a comma list, `all`, or empty (or `default`) for the
    /// defaults.
    pub fn parse_list(raw: Option<&str>) -> Result<Vec<Toolset>, String> {
        let raw = raw.unwrap_or("").trim();
        if raw.is_empty() || raw.eq_ignore_ascii_case("default") {
            return Ok(Self::defaults());
        }
        let mut out = BTreeSet::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part.eq_ignore_ascii_case("all") {
                out.extend(Self::ALL);
                continue;
            }
            let t = Self::ALL
                .into_iter()
                .find(|t| t.name().eq_ignore_ascii_case(part))
                .ok_or_else(|| format!("unknown toolset '{part}'"))?;
            out.insert(t);
        }
        Ok(out.into_iter().collect())
    }
}

/// Reports progress of a long call to the client (MCP progress notifications).
pub type ProgressSink =
    Arc<dyn Fn(f64, Option<f64>, String) -> BoxFuture<'static, ()> + Send + Sync>;

/// How much a call's event matters to the client (MCP logging levels, the five we use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
}

/// Tells the client what a call went through: upstream retries, cut answers, slow calls
/// (MCP `notifications/message`). Synchronous, so the Allure client can use it too; the
/// transport keeps the order and delivers everything before the call's answer.
pub type LogSink = Arc<dyn Fn(Severity, String) + Send + Sync>;

/// Who made a call, for the audit line (HTTP transports fill it; stdio has none).
#[derive(Clone, Debug, Default)]
pub struct AuditInfo {
    pub identity: Option<String>,
    /// The display name of an OAuth caller (its name claim), beside its subject.
    pub identity_name: Option<String>,
    pub client_ip: Option<String>,
    pub session: Option<String>,
}

/// A cancellation that reaches a call from outside its own request: on a stateless HTTP
/// server, a `notifications/cancelled` sent in another POST. The transport puts it in
/// the request; the call is cancelled by it as by its own request's cancellation.
#[derive(Clone, Debug)]
pub struct RemoteCancel(pub tokio_util::sync::CancellationToken);

/// Per-call plumbing from the transport: cancellation, progress, and who is calling.
#[derive(Clone, Default)]
pub struct CallScope {
    /// Cancelled when the client cancels the request (or the session ends).
    pub cancel: tokio_util::sync::CancellationToken,
    /// Present when the client asked for progress (sent a progress token).
    pub progress: Option<ProgressSink>,
    /// Present when the client can be told about events (any MCP session).
    pub log: Option<LogSink>,
    pub audit: AuditInfo,
    /// The session's toolsets, when a model may turn more on (see [`toolsets`]).
    pub toolsets: Option<toolsets::SessionToolsets>,
    /// What the caller may use (everything over stdio; per identity over HTTP).
    pub grant: grant::Grant,
    /// Present when the client can ask its user a question (MCP elicitation).
    pub ask: Option<AskSink>,
    /// Present when the client's host lends its model (MCP sampling).
    pub sample: Option<SampleSink>,
    /// Whether the call may touch local files: only over stdio, where the caller is the
    /// user who started the server on this machine.
    pub local: bool,
}

impl std::fmt::Debug for CallScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallScope")
            .field("progress", &self.progress.is_some())
            .field("log", &self.log.is_some())
            .field("ask", &self.ask.is_some())
            .field("sample", &self.sample.is_some())
            .finish_non_exhaustive()
    }
}

impl CallScope {
    pub async fn progress(&self, done: f64, total: Option<f64>, message: String) {
        if let Some(p) = &self.progress {
            p(done, total, message).await;
        }
    }

    /// Tells the client about an event of this call, if it can be told.
    pub fn note(&self, severity: Severity, message: impl Into<String>) {
        if let Some(log) = &self.log {
            log(severity, message.into());
        }
    }
}

/// What every tool gets: the Allure client, the defaults, and the call's scope.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub client: AllureClient,
    pub default_project: Option<i64>,
    /// Read-only mode: the few tools that stay visible in it must refuse writes themselves.
    pub read_only: bool,
    pub scope: CallScope,
    pub metrics: crate::metrics::Metrics,
    /// Bounds on long-running calls, shared by every call of this server.
    pub limits: Arc<CallLimits>,
    /// The clients of callers who bring their own Allure token (`ALLURE_TOKEN_SOURCE`).
    pub callers: Option<Arc<crate::allure::callers::CallerClients>>,
    /// `ALLURE_FILES_DIR`, canonical: the only place local file tools touch.
    pub files_dir: Option<Arc<std::path::PathBuf>>,
}

/// Bounds on calls that hold upstream capacity for long: `wait_for_launch` may run an
/// hour, checking upstream all the while, so one identity may run only a few at once
/// and none may check more often than `min_poll_interval`.
#[derive(Debug)]
pub struct CallLimits {
    pub min_poll_interval: std::time::Duration,
    pub max_waits_per_identity: usize,
    waits: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

impl Default for CallLimits {
    fn default() -> Self {
        CallLimits::new(std::time::Duration::from_secs(5), 4)
    }
}

impl CallLimits {
    pub fn new(min_poll_interval: std::time::Duration, max_waits_per_identity: usize) -> Self {
        CallLimits {
            min_poll_interval,
            max_waits_per_identity,
            waits: Default::default(),
        }
    }

    /// A slot for one long wait of `identity`, or `None` when it holds all its slots.
    pub fn start_wait(self: &Arc<Self>, identity: &str) -> Option<WaitSlot> {
        let mut waits = self.waits.lock().unwrap_or_else(|e| e.into_inner());
        let held = waits.entry(identity.to_owned()).or_default();
        if *held >= self.max_waits_per_identity {
            return None;
        }
        *held += 1;
        Some(WaitSlot {
            limits: self.clone(),
            identity: identity.to_owned(),
        })
    }
}

/// One running wait; its slot frees when it is dropped (the call ended or was dropped).
pub struct WaitSlot {
    limits: Arc<CallLimits>,
    identity: String,
}

impl Drop for WaitSlot {
    fn drop(&mut self) {
        let mut waits = self.limits.waits.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = waits.get_mut(&self.identity) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                waits.remove(&self.identity);
            }
        }
    }
}

impl Ctx {
    /// The project to use: the argument, else `ALLURE_PROJECT_ID`, else a clear error.
    pub fn project(&self, arg: Option<i64>) -> Result<i64, ToolError> {
        match arg.or(self.default_project) {
            Some(id) if id > 0 => Ok(id),
            Some(id) => Err(ToolError::InvalidArgs(format!("project_id {id} is not a project id; project ids are positive (list_projects shows them)"))),
            None => Err(ToolError::InvalidArgs(
                "project_id is required (no ALLURE_PROJECT_ID default is set); call list_projects or find_project to get one".into(),
            )),
        }
    }

    /// The query of one page of a project's list: the project (default applied) and the
    /// paging checked, `projectId` set; the caller adds its own filters.
    pub fn project_query(
        &self,
        project_id: Option<i64>,
        page: Option<u32>,
        size: Option<u32>,
        default_size: u32,
    ) -> Result<(i64, Query), ToolError> {
        let pid = self.project(project_id)?;
        let mut q = paging(page, size, default_size)?;
        q.push(("projectId", pid.to_string()));
        Ok((pid, q))
    }

    /// `GET` of a project's list endpoint; a 404 means the project does not exist.
    pub async fn project_get<T: DeserializeOwned>(
        &self,
        path: &str,
        pid: i64,
        query: &[(&str, String)],
    ) -> Result<T, ToolError> {
        let answer = self.client.get(path, query).await;
        self.explain(Subject::Project(pid), answer).await
    }

    /// `answer` of a call about `entity`, its error said for the model: a 404 below the
    /// entity is told apart from the entity missing (see `errors::below`).
    pub async fn explain<T>(
        &self,
        entity: Subject,
        answer: Result<T, AllureError>,
    ) -> Result<T, ToolError> {
        match answer {
            Ok(v) => Ok(v),
            Err(e) => Err(errors::below(&self.client, e, entity).await),
        }
    }

    /// This context speaking to TestOps with the caller's own token, when it brought one
    /// and the server takes them; else as it is.
    pub fn speaking_for(&self, token: Option<&secrecy::SecretString>) -> Ctx {
        match (token, &self.callers) {
            (Some(t), Some(callers)) => Ctx {
                client: callers.client(t),
                ..self.clone()
            },
            _ => self.clone(),
        }
    }

    /// This server's context for one call: its scope, and a client whose retries and
    /// re-authentications are told to the caller.
    pub fn for_call(&self, scope: CallScope) -> Ctx {
        let base = self.client.clone();
        let client = match scope.log.clone() {
            Some(log) => base.with_events(crate::allure::EventSink(Arc::new(move |event| {
                let (severity, message) = describe_upstream(&event);
                log(severity, message);
            }))),
            None => base,
        };
        Ctx {
            scope,
            client,
            ..self.clone()
        }
    }

    /// A deep link into the TestOps UI.
    pub fn link(&self, path: &str) -> String {
        format!("{}{}", self.client.ui_base(), path)
    }
}

/// What the client is told about something a call went through upstream.
fn describe_upstream(event: &crate::allure::UpstreamEvent) -> (Severity, String) {
    use crate::allure::UpstreamEvent;
    match event {
        UpstreamEvent::Retry {
            method,
            path,
            why,
            attempt,
            delay,
        } => (
            Severity::Warning,
            format!(
                "Allure TestOps: {method} {path} failed ({why}); retry {attempt} in {:.1} s",
                delay.as_secs_f64()
            ),
        ),
        UpstreamEvent::Reauthenticated { method, path } => (
            Severity::Notice,
            format!(
                "Allure TestOps refused the session token on {method} {path} (401); \
                 exchanged the API token for a new session and repeated the call"
            ),
        ),
        UpstreamEvent::Slow { method, path, took } => (
            Severity::Notice,
            format!(
                "Allure TestOps took {:.1} s to answer {method} {path}; it may be under load",
                took.as_secs_f64()
            ),
        ),
    }
}

/// The answer of a write: what was done, in one sentence, and where to look.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Done {
    /// What happened, for the user.
    pub summary: String,
    /// Ids the write touched or created.
    pub ids: Vec<i64>,
    /// Link to the result in the TestOps UI.
    pub url: Option<String>,
}

impl Render for Done {
    fn text(&self) -> String {
        match &self.url {
            Some(u) => format!("{} {u}", self.summary),
            None => self.summary.clone(),
        }
    }
}

/// Every tool this server knows, before any filtering.
pub fn all_tools() -> Vec<ToolDef> {
    let mut tools = Vec::new();
    tools.extend(projects::tools());
    tools.extend(people::tools());
    tools.extend(launches::tools());
    tools.extend(launch_admin::tools());
    tools.extend(dashboard::tools());
    tools.extend(runs::tools());
    tools.extend(reruns::tools());
    tools.extend(results::tools());
    tools.extend(flaky::tools());
    tools.extend(testcases::tools());
    tools.extend(scenario::tools());
    tools.extend(testcase_admin::tools());
    tools.extend(testcase_history::tools());
    tools.extend(testcase_bulk_links::tools());
    tools.extend(case_files::tools());
    tools.extend(case_links::tools());
    tools.extend(trees::tools());
    tools.extend(custom_fields::tools());
    tools.extend(cf_admin::tools());
    tools.extend(plans::tools());
    tools.extend(defects::tools());
    tools.extend(defect_links::tools());
    tools.extend(analytics::tools());
    tools.extend(analysis::tools());
    tools.extend(aql::tools());
    tools.extend(raw::tools());
    tools.extend(api_search::tools());
    tools.extend(toolsets::tools());
    tools
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_body_trims_and_leaves_out_an_empty_description() {
        assert_eq!(
            created_body(3, "  Login fails  ", Some("  ")).unwrap(),
            serde_json::json!({"projectId": 3, "name": "Login fails"})
        );
        assert_eq!(
            created_body(3, "Login fails", Some(" on Safari ")).unwrap(),
            serde_json::json!({"projectId": 3, "name": "Login fails", "description": "on Safari"})
        );
        let err = created_body(3, " \n ", None).unwrap_err();
        assert!(err.to_string().contains("name must not be empty"), "{err}");
        assert!(created_body(3, &"x".repeat(256), None).is_err());
    }
}
