//! The tool registry: every tool with its toolset and annotations, filtered in one
//! place by toolset and read-only mode. Tools are transport-agnostic: they take JSON
//! arguments and a [`Ctx`], and answer structured content plus a compact text.

pub mod analytics;
pub mod aql;
pub mod defects;
pub mod launches;
pub mod projects;
pub mod raw;
pub mod render;
pub mod results;
pub mod runs;
pub mod testcases;

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use rmcp::model::{CallToolResult, ContentBlock as Content, JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::allure::{AllureClient, AllureError};

/// A group of tools, selectable with `ALLURE_TOOLSETS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Toolset {
    Projects,
    Launches,
    Runs,
    Results,
    Testcases,
    Defects,
    Analytics,
    /// The generic API escape hatch: off unless asked for.
    Raw,
}

impl Toolset {
    pub const ALL: [Toolset; 8] = [
        Toolset::Projects,
        Toolset::Launches,
        Toolset::Runs,
        Toolset::Results,
        Toolset::Testcases,
        Toolset::Defects,
        Toolset::Analytics,
        Toolset::Raw,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Toolset::Projects => "projects",
            Toolset::Launches => "launches",
            Toolset::Runs => "runs",
            Toolset::Results => "results",
            Toolset::Testcases => "testcases",
            Toolset::Defects => "defects",
            Toolset::Analytics => "analytics",
            Toolset::Raw => "raw",
        }
    }

    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|t| t.name()).collect()
    }

    /// The default selection: everything but `raw`.
    pub fn defaults() -> Vec<Toolset> {
        Self::ALL
            .into_iter()
            .filter(|t| *t != Toolset::Raw)
            .collect()
    }

    /// Parses `ALLURE_TOOLSETS`: a comma list, `all`, or empty for the defaults.
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

/// Who made a call, for the audit line (HTTP transports fill it; stdio has none).
#[derive(Clone, Debug, Default)]
pub struct AuditInfo {
    pub identity: Option<String>,
    pub client_ip: Option<String>,
    pub session: Option<String>,
}

/// Per-call plumbing from the transport: cancellation, progress, and who is calling.
#[derive(Clone, Default)]
pub struct CallScope {
    /// Cancelled when the client cancels the request (or the session ends).
    pub cancel: tokio_util::sync::CancellationToken,
    /// Present when the client asked for progress (sent a progress token).
    pub progress: Option<ProgressSink>,
    pub audit: AuditInfo,
}

impl std::fmt::Debug for CallScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallScope")
            .field("progress", &self.progress.is_some())
            .finish_non_exhaustive()
    }
}

impl CallScope {
    pub async fn progress(&self, done: f64, total: Option<f64>, message: String) {
        if let Some(p) = &self.progress {
            p(done, total, message).await;
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
        self.client
            .get(path, query)
            .await
            .map_err(|e| ToolError::project_not_found(e, pid))
    }

    /// A fresh context for one call, sharing the client.
    pub fn for_call(&self, scope: CallScope) -> Ctx {
        Ctx {
            scope,
            ..self.clone()
        }
    }

    /// A deep link into the TestOps UI.
    pub fn link(&self, path: &str) -> String {
        format!("{}{}", self.client.ui_base(), path)
    }
}

/// Why a tool call failed, phrased for the model: what happened and what to do next.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("Invalid arguments: {0}")]
    InvalidArgs(String),
    #[error("{what} not found. {hint}")]
    NotFound { what: String, hint: String },
    #[error("{}", describe_upstream(.0))]
    Upstream(#[from] AllureError),
    #[error("{0}")]
    Other(String),
}

impl ToolError {
    /// An upstream 404 for a project id, with where to find the right one.
    pub fn project_not_found(err: AllureError, id: i64) -> ToolError {
        ToolError::not_found(
            err,
            format!("Project {id}"),
            "list_projects or find_project show existing projects.",
        )
    }

    /// An upstream 404 for a launch id, with where to find the right one.
    pub fn launch_not_found(err: AllureError, id: i64) -> ToolError {
        ToolError::not_found(
            err,
            format!("Launch {id}"),
            "list_launches shows a project's recent launches.",
        )
    }

    /// An upstream 404 for a test result id.
    pub fn result_not_found(err: AllureError, id: i64) -> ToolError {
        ToolError::not_found(
            err,
            format!("Test result {id}"),
            "list_test_results shows the results of a launch.",
        )
    }

    /// An upstream 404 for a test case id.
    pub fn case_not_found(err: AllureError, id: i64) -> ToolError {
        ToolError::not_found(
            err,
            format!("Test case {id}"),
            "list_test_cases or search_test_cases show a project's test cases.",
        )
    }

    /// An upstream 404 for a test plan id.
    pub fn plan_not_found(err: AllureError, id: i64) -> ToolError {
        ToolError::not_found(
            err,
            format!("Test plan {id}"),
            "list_test_plans shows the project's plans.",
        )
    }

    /// Turns an upstream 404 into a `NotFound` that names the thing and where to look.
    pub fn not_found(
        err: AllureError,
        what: impl Into<String>,
        hint: impl Into<String>,
    ) -> ToolError {
        if err.is_not_found() {
            ToolError::NotFound {
                what: what.into(),
                hint: hint.into(),
            }
        } else {
            ToolError::Upstream(err)
        }
    }
}

/// Maps `AllureError`s to advice a model can act on.
fn describe_upstream(e: &AllureError) -> String {
    match e {
        AllureError::Status { status: 401, .. } => format!(
            "Allure TestOps rejected the credentials ({e}). The API token may be revoked or expired; the operator must configure a new ALLURE_TOKEN. Retrying will not help."
        ),
        AllureError::Status { status: 403, .. } => format!(
            "Allure TestOps refused access ({e}). The API token's user lacks the rights for this project or action; ask a TestOps admin, or work in another project."
        ),
        AllureError::Status { status: 404, .. } => format!(
            "Not found ({e}). Check the id: the list_* and find_* tools show existing ones."
        ),
        AllureError::Status {
            status: 400 | 409 | 422,
            ..
        } => format!(
            "Allure TestOps rejected the request ({e}). Check the arguments and call again."
        ),
        AllureError::Status {
            status: 429,
            retry_after,
            ..
        } => format!(
            "Allure TestOps is rate limiting ({e}). Wait {} seconds, then retry.",
            retry_after.unwrap_or(30)
        ),
        AllureError::Status { status, .. } if *status >= 500 => format!(
            "Allure TestOps failed ({e}). This is usually temporary: retry in a minute; if it persists, the instance needs attention."
        ),
        AllureError::Status { .. } => format!("Allure TestOps answered unexpectedly ({e})."),
        AllureError::Timeout { .. } => format!(
            "Allure TestOps did not answer in time ({e}). Retry later, or ask for less (a smaller page size)."
        ),
        AllureError::Transport { .. } => format!(
            "Could not reach Allure TestOps ({e}). Check that the instance is up and reachable; retry later."
        ),
        AllureError::Decode { .. } => format!(
            "Allure TestOps answered in a shape this server does not understand ({e}). The instance may run an unsupported version; retrying will not help."
        ),
        AllureError::Auth(_) => format!(
            "Could not authenticate to Allure TestOps: {e}. Retrying will not help until the token is fixed."
        ),
        AllureError::Setup(_) => format!(
            "The server cannot reach Allure TestOps as configured: {e}. The operator must fix the configuration."
        ),
        AllureError::TooLarge { .. } => format!(
            "The answer of Allure TestOps was too large to read ({e}). Ask for less: a smaller page size or a narrower filter."
        ),
        AllureError::OutsideApi { .. } => format!(
            "Refused: {e}. Give a plain API path such as /launch/1 (no '.' or '..' segments)."
        ),
    }
}

/// A tool's answer, renderable for text-only clients.
pub trait Render {
    fn text(&self) -> String;
}

/// What a handler returns: structured content and its text rendering.
pub struct Output {
    pub structured: Value,
    pub text: String,
}

type Handler =
    Arc<dyn Fn(Ctx, JsonObject) -> BoxFuture<'static, Result<Output, ToolError>> + Send + Sync>;

/// One tool: its MCP description and its handler.
#[derive(Clone)]
pub struct ToolDef {
    pub name: &'static str,
    pub toolset: Toolset,
    pub title: &'static str,
    pub description: &'static str,
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub input_schema: Arc<JsonObject>,
    pub output_schema: Option<Arc<JsonObject>>,
    /// Stays listed in read-only mode because it enforces read-only itself (`raw`).
    pub guards_read_only: bool,
    handler: Handler,
}

impl std::fmt::Debug for ToolDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolDef")
            .field("name", &self.name)
            .field("toolset", &self.toolset)
            .finish_non_exhaustive()
    }
}

/// The static facts of a tool, given by each area module.
pub struct Meta {
    pub name: &'static str,
    pub toolset: Toolset,
    pub title: &'static str,
    pub description: &'static str,
    /// What the tool does to Allure TestOps: the source of its annotations and of the
    /// read-only filter.
    pub access: Access,
}

/// Whether a tool changes Allure TestOps, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Changes nothing (so it is also idempotent and never destructive).
    Read,
    /// Changes something.
    Write {
        /// May delete or overwrite.
        destructive: bool,
        /// Calling twice with the same arguments has no further effect.
        idempotent: bool,
    },
}

/// Builds a tool from typed arguments `A` and a typed answer `O`.
pub fn tool<A, O, F, Fut>(meta: Meta, handler: F) -> ToolDef
where
    A: DeserializeOwned + JsonSchema + 'static,
    O: Serialize + JsonSchema + Render + 'static,
    F: Fn(Ctx, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, ToolError>> + Send + 'static,
{
    let handler = Arc::new(handler);
    let erased: Handler = Arc::new(move |ctx, args| {
        let handler = handler.clone();
        Box::pin(async move {
            let args: A = serde_json::from_value(Value::Object(args)).map_err(|e| {
                ToolError::InvalidArgs(format!("{e}; check the tool's input schema and call again"))
            })?;
            let out = handler(ctx, args).await?;
            Ok(Output {
                text: out.text(),
                structured: serde_json::to_value(&out).map_err(|e| {
                    ToolError::Other(format!("internal error rendering the answer: {e}"))
                })?,
            })
        })
    });
    ToolDef {
        name: meta.name,
        toolset: meta.toolset,
        title: meta.title,
        description: meta.description,
        read_only: meta.access == Access::Read,
        destructive: matches!(
            meta.access,
            Access::Write {
                destructive: true,
                ..
            }
        ),
        idempotent: matches!(
            meta.access,
            Access::Read
                | Access::Write {
                    idempotent: true,
                    ..
                }
        ),
        input_schema: schema_of::<A>(SchemaSettings::draft2020_12(), false),
        output_schema: Some(schema_of::<O>(
            SchemaSettings::draft2020_12().for_serialize(),
            true,
        )),
        guards_read_only: false,
        handler: erased,
    }
}

/// Schemas travel in every `tools/list`, so they carry no bytes that change nothing for
/// the client: no `$schema` URI, no titles, no integer formats. Optional inputs are
/// plain types (absence, not `null`, is how they are left out), and "minimum: 0" of
/// unsigned ones goes (descriptions state the real ranges). Output schemas are read by
/// machines only: they lose descriptions and `required` (every answer carries every
/// field anyway; the types are still checked). Input descriptions stay.
///
/// The schema is generated here rather than by rmcp's `schema_for_*` helpers: those keep
/// every schema they make in thread-local caches for the life of the thread, and
/// our compacted copies came on top: about 1.5 MiB of heap for 53 tools, the largest
/// single part of a fresh process's memory. Settings are rmcp's (JSON Schema 2020-12;
/// the serialize contract for outputs).
fn schema_of<T: JsonSchema>(settings: SchemaSettings, output: bool) -> Arc<JsonObject> {
    fn strip(v: &mut Value, output: bool) {
        match v {
            Value::Object(m) => {
                m.remove("$schema");
                m.remove("title");
                if output {
                    m.remove("description");
                    m.remove("required");
                } else if m.get("minimum").and_then(Value::as_i64) == Some(0) {
                    m.remove("minimum");
                }
                if m.get("format")
                    .and_then(Value::as_str)
                    .is_some_and(|f| f.starts_with("int") || f.starts_with("uint") || f == "double")
                {
                    m.remove("format");
                }
                if !output && let Some(Value::Array(types)) = m.get("type") {
                    let kept: Vec<Value> = types
                        .iter()
                        .filter(|t| t.as_str() != Some("null"))
                        .cloned()
                        .collect();
                    if kept.len() == 1 {
                        m.insert("type".into(), kept[0].clone());
                    }
                }
                for (k, child) in m.iter_mut() {
                    if k == "properties" || k == "$defs" {
                        // Keys here are names, not keywords: only their values are schemas.
                        if let Value::Object(props) = child {
                            props.values_mut().for_each(|p| strip(p, output));
                        }
                    } else {
                        strip(child, output);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| strip(x, output)),
            _ => {}
        }
    }
    let mut v = settings
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    strip(&mut v, output);
    match v {
        Value::Object(m) => Arc::new(m),
        // Only a unit-like type gives a boolean root; the invariants test holds every
        // tool's root to `type: object`, so this never reaches a client.
        _ => Arc::new(JsonObject::new()),
    }
}

impl ToolDef {
    /// The MCP description of this tool.
    pub fn to_mcp(&self) -> Tool {
        let annotations = ToolAnnotations::with_title(self.title)
            .read_only(self.read_only)
            .destructive(self.destructive)
            .idempotent(self.idempotent)
            // Allure TestOps is one closed system, not the open web.
            .open_world(false);
        let mut tool = Tool::new(self.name, self.description, self.input_schema.clone())
            .with_title(self.title)
            .with_annotations(annotations);
        if let Some(schema) = &self.output_schema {
            tool = tool.with_raw_output_schema(schema.clone());
        }
        tool
    }
}

/// Every tool this server knows, before any filtering.
pub fn all_tools() -> Vec<ToolDef> {
    let mut tools = Vec::new();
    tools.extend(projects::tools());
    tools.extend(launches::tools());
    tools.extend(runs::tools());
    tools.extend(results::tools());
    tools.extend(testcases::tools());
    tools.extend(defects::tools());
    tools.extend(analytics::tools());
    tools.extend(aql::tools());
    tools.extend(raw::tools());
    tools
}

/// The tools offered to clients: selected toolsets, and only read-only ones in read-only mode.
#[derive(Clone, Debug)]
pub struct Registry {
    tools: Arc<Vec<ToolDef>>,
    /// Tools that exist but are filtered out, to explain a call to one.
    hidden: Arc<Vec<(&'static str, &'static str)>>,
}

impl Registry {
    /// The single place where toolsets and read-only mode filter: read-only wins.
    pub fn new(toolsets: &[Toolset], read_only: bool) -> Registry {
        let mut tools = Vec::new();
        let mut hidden = Vec::new();
        for t in all_tools() {
            if read_only && !t.read_only && !t.guards_read_only {
                hidden.push((
                    t.name,
                    "the server runs in read-only mode (ALLURE_READ_ONLY)",
                ));
            } else if !toolsets.contains(&t.toolset) {
                hidden.push((t.name, t.toolset.name()));
            } else {
                tools.push(t);
            }
        }
        Registry {
            tools: Arc::new(tools),
            hidden: Arc::new(hidden),
        }
    }

    pub fn tools(&self) -> &[ToolDef] {
        &self.tools
    }

    pub fn list(&self) -> Vec<Tool> {
        self.tools.iter().map(ToolDef::to_mcp).collect()
    }

    pub fn get(&self, name: &str) -> Option<&ToolDef> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// Calls a tool and turns every failure into an `isError` result the model can read.
    /// Every call leaves one audit line (and metrics) whatever its outcome.
    pub async fn call(&self, ctx: Ctx, name: &str, args: Option<JsonObject>) -> CallToolResult {
        let args = args.unwrap_or_default();
        // Only ids go to the audit line: other argument values may be anything, secrets included.
        let id_of = |k: &str| args.get(k).and_then(Value::as_i64);
        let (project_id, launch_id) = (
            id_of("project_id").or(ctx.default_project),
            id_of("launch_id"),
        );
        let audit = ctx.scope.audit.clone();
        let log = |outcome: &str, upstream_status: Option<u16>, duration_ms: u64| {
            tracing::info!(
                target: "allure_mcp::audit",
                tool = name,
                project_id,
                launch_id,
                identity = audit.identity.as_deref(),
                client_ip = audit.client_ip.as_deref(),
                session = audit.session.as_deref(),
                outcome,
                upstream_status,
                duration_ms,
                "tool call"
            );
        };
        let Some(tool) = self.get(name) else {
            log("refused", None, 0);
            let why = match self.hidden.iter().find(|(n, _)| *n == name) {
                Some((_, reason)) if reason.starts_with("the server") => {
                    format!("Tool '{name}' is not available: {reason}.")
                }
                Some((_, set)) => format!(
                    "Tool '{name}' is not available: its toolset '{set}' is not enabled (ALLURE_TOOLSETS)."
                ),
                None => {
                    format!("Unknown tool '{name}'. Call tools/list to see the available tools.")
                }
            };
            return CallToolResult::error(vec![Content::text(why)]);
        };
        let metrics = ctx.metrics.clone();
        let _running = metrics.start_call();
        let started = std::time::Instant::now();
        let client = ctx.client.clone();
        let cancel = ctx.scope.cancel.clone();
        let result = (tool.handler)(ctx, args).await;
        let elapsed = started.elapsed();
        let elapsed_ms = elapsed.as_millis() as u64;
        // A tool that noticed the cancellation answers with what it has; the audit line
        // says the call was cancelled, not that it succeeded.
        let outcome = match (&result, cancel.is_cancelled()) {
            (_, true) => "cancelled",
            (Ok(_), false) => "ok",
            (Err(_), false) => "error",
        };
        metrics.record_call(tool.name, result.is_ok(), elapsed.as_secs_f64());
        // Whatever came from upstream may echo a credential: nothing leaves with one.
        match result {
            Ok(mut out) => {
                log(outcome, None, elapsed_ms);
                let text = client.redact(&out.text).into_owned();
                client.redact_value(&mut out.structured);
                let mut r = CallToolResult::success(vec![Content::text(text)]);
                r.structured_content = Some(out.structured);
                r
            }
            Err(e) => {
                let status = match &e {
                    ToolError::Upstream(u) => u.status(),
                    _ => None,
                };
                log(outcome, status, elapsed_ms);
                let text = client.redact(&e.to_string()).into_owned();
                CallToolResult::error(vec![Content::text(text)])
            }
        }
    }
}

/// Paging arguments shared by list tools.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Where a page is in a list, for the model to ask for the next one.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PageInfo {
    /// 0-based page number of this answer.
    pub page: i64,
    pub size: i64,
    /// Items in all pages.
    pub total: i64,
    pub has_more: bool,
    /// The page to ask for next, when there is one.
    pub next_page: Option<i64>,
}

impl PageInfo {
    pub fn of<T>(p: &crate::allure::Page<T>) -> PageInfo {
        PageInfo {
            page: p.number,
            size: p.size,
            total: p.total_elements,
            has_more: p.has_more(),
            next_page: p.has_more().then_some(p.number + 1),
        }
    }

    pub fn text(&self) -> String {
        if self.has_more {
            format!(
                "page {} of {} items; next_page={}",
                self.page,
                self.total,
                self.page + 1
            )
        } else {
            format!("{} items in all", self.total)
        }
    }
}

/// Query pairs of an upstream call.
pub type Query = Vec<(&'static str, String)>;

/// Checks `page`/`size` and gives them as query pairs.
pub fn paging(page: Option<u32>, size: Option<u32>, default_size: u32) -> Result<Query, ToolError> {
    let size = size.unwrap_or(default_size);
    if size == 0 || size > MAX_PAGE_SIZE {
        return Err(ToolError::InvalidArgs(format!(
            "size must be 1..={MAX_PAGE_SIZE}, got {size}"
        )));
    }
    Ok(vec![
        ("page", page.unwrap_or(0).to_string()),
        ("size", size.to_string()),
    ])
}

/// Checks an entity id argument: Allure ids of user-made entities are positive.
pub fn positive_id(name: &str, id: i64, hint: &str) -> Result<i64, ToolError> {
    if id <= 0 {
        return Err(ToolError::InvalidArgs(format!(
            "{name} {id} is not a valid id; {hint}"
        )));
    }
    Ok(id)
}

/// The most ids one bulk call may touch: bigger selections are a mistake more often than not.
pub const MAX_BULK: usize = 100;

/// Checks a bulk selection: not empty, not too big, valid ids; duplicates are dropped.
pub fn bulk_ids(name: &str, ids: &[i64]) -> Result<Vec<i64>, ToolError> {
    if ids.is_empty() {
        return Err(ToolError::InvalidArgs(format!(
            "{name} is empty; name at least one id"
        )));
    }
    if ids.len() > MAX_BULK {
        return Err(ToolError::InvalidArgs(format!(
            "{name} has {} ids; at most {MAX_BULK} per call, split the selection",
            ids.len()
        )));
    }
    if let Some(bad) = ids.iter().find(|i| **i <= 0) {
        return Err(ToolError::InvalidArgs(format!(
            "{name} contains {bad}, which is not a valid id"
        )));
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(id) {
            out.push(*id);
        }
    }
    Ok(out)
}

/// A non-empty, trimmed text argument.
pub fn required_text(name: &str, value: &str, max: usize) -> Result<String, ToolError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ToolError::InvalidArgs(format!("{name} must not be empty")));
    }
    if v.chars().count() > max {
        return Err(ToolError::InvalidArgs(format!(
            "{name} is longer than {max} characters"
        )));
    }
    Ok(v.to_owned())
}

/// The body that creates a named thing in a project (a test case, a defect): the name
/// required and trimmed, the description only when it says something.
pub fn created_body(
    project_id: i64,
    name: &str,
    description: Option<&str>,
) -> Result<Value, ToolError> {
    let name = required_text("name", name, 255)?;
    let mut body = serde_json::json!({"projectId": project_id, "name": name});
    if let Some(d) = description.map(str::trim).filter(|d| !d.is_empty()) {
        body["description"] = Value::from(d);
    }
    Ok(body)
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
