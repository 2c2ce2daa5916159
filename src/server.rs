//! The MCP face of the server: capabilities, instructions, and tool routing through the
//! [`Registry`]. The same handler serves every transport.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult, CompletionInfo,
    GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Reference,
    ServerCapabilities, ServerConfig, SubscribeRequestParams, Tool, UnsubscribeRequestParams,
};
use rmcp::model::{
    CancelTaskParams, CreateTaskResult, GetTaskParams, GetTaskResult, UpdateTaskParams,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use rmcp::model::ProgressNotificationParam;

use crate::security::{CallSlot, CallerToken, ClientIp, DisplayName, Identity};
use crate::tools::grant::Grant;
use crate::tools::toolsets::SessionToolsets;
use crate::tools::{
    AuditInfo, CallScope, Ctx, LogSink, ProgressSink, Registry, RemoteCancel, Severity,
};

/// What the model reads once, at `initialize`.
pub const INSTRUCTIONS: &str = "Allure TestOps tools: projects, launches (test runs), test results, test cases and CI jobs. \
Ids are integers. Start with find_project or list_projects to get a project id (a default may be configured), then \
list_launches for recent runs and get_launch_details for one launch's statistic. Answers carry links into the TestOps UI; \
give them to the user. For \"why did this launch fail\", call triage_launch. The search_* tools take AQL: read the resource \
allure://aql-guide first. Write tools (run, mute, assign, close, delete) change TestOps for everyone: confirm with the user first.";

/// One MCP server instance. Cheap to clone; every session gets its own by
/// [`AllureMcp::for_session`].
#[derive(Clone, Debug)]
pub struct AllureMcp {
    registry: Registry,
    ctx: Ctx,
    /// The least severe event this session wants told (`logging/setLevel`), as a rank of
    /// [`log_rank`]. Until the client says, warnings and worse: what it should not miss,
    /// and nothing that turns a plain JSON answer into a stream.
    log_level: Arc<AtomicU8>,
    /// The toolsets this session lists (all allowed ones unless toolsets are dynamic).
    toolsets: SessionToolsets,
    /// This session, as the launch watcher knows it.
    session: u64,
    /// Every subscription of the server (shared by all sessions).
    watcher: crate::watch::Watcher,
    /// Whether sessions may subscribe (not on a stateless server: no stream to tell).
    subscriptions: bool,
    /// Long calls run as MCP tasks (shared by every session and stateless request).
    tasks: crate::tasks::Tasks,
}

/// A fresh number for each session.
fn next_session() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `warning` in [`log_rank`]'s order.
const DEFAULT_LOG_RANK: u8 = 3;

impl AllureMcp {
    pub fn new(registry: Registry, ctx: Ctx) -> Self {
        AllureMcp {
            toolsets: registry.session(),
            registry,
            ctx,
            log_level: Arc::new(AtomicU8::new(DEFAULT_LOG_RANK)),
            session: next_session(),
            watcher: Default::default(),
            subscriptions: true,
            tasks: Default::default(),
        }
    }

    /// The instance for a new session: shares everything but the session's own settings.
    pub fn for_session(&self) -> Self {
        AllureMcp {
            log_level: Arc::new(AtomicU8::new(DEFAULT_LOG_RANK)),
            toolsets: self.registry.session(),
            session: next_session(),
            ..self.clone()
        }
    }

    /// The instance for a server that cannot tell a client its tool list changed (the
    /// stateless HTTP transport): every allowed tool listed, no discovery tools.
    pub fn with_fixed_toolsets(&self) -> Self {
        AllureMcp {
            subscriptions: false,
            ..AllureMcp::new(self.registry.fixed(), self.ctx.clone())
        }
    }

    /// The context of a request: the caller's own Allure token's when it brought one.
    fn ctx_of(&self, context: &RequestContext<RoleServer>) -> Ctx {
        self.ctx.speaking_for(callers_token(context))
    }

    /// A call the client asked to run as a task, started as one: only a tool that may
    /// run long (`Tasks::eligible`), for a caller who may call it, from a client that
    /// declares the tasks extension. Everything else runs as a plain call.
    fn as_task(
        &self,
        request: &CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<Option<CallToolResponse>, McpError> {
        let grant = grant_of(context);
        let wants = context
            .client_capabilities()
            .is_some_and(|c| c.supports_tasks());
        let offered = self
            .registry
            .get(&request.name)
            .is_some_and(|t| grant.allows(t));
        if !wants || !offered || !crate::tasks::Tasks::eligible(&request.name) {
            return Ok(None);
        }
        // The task outlives the request: its own cancellation, no progress or log
        // stream, no question to the user (nobody may be there to answer).
        let cancel = tokio_util::sync::CancellationToken::new();
        let scope = CallScope {
            cancel: cancel.clone(),
            audit: audit_of(context),
            toolsets: Some(self.toolsets.clone()),
            grant,
            local: context.extensions.get::<http::request::Parts>().is_none(),
            ..CallScope::default()
        };
        let ctx = self.ctx_of(context).for_call(scope);
        let (registry, name, args) = (
            self.registry.clone(),
            request.name.to_string(),
            request.arguments.clone(),
        );
        let run = async move {
            registry
                .call(ctx, &name, args)
                .await
                .map_err(|e| McpError::invalid_params(e.0, None))
        };
        let task = self.tasks.start(task_owner(context), cancel, run)?;
        Ok(Some(CallToolResponse::Task(CreateTaskResult::new(task))))
    }

    /// The launch a resource URI names, for a caller who may read launches.
    fn launch_resource(
        &self,
        uri: &str,
        context: &RequestContext<RoleServer>,
    ) -> Result<i64, McpError> {
        let id = crate::watch::launch_id(uri).ok_or_else(|| {
            McpError::resource_not_found(
                format!("no resource {uri}; resources/list and resources/templates/list show them (allure://launch/<id>)"),
                None,
            )
        })?;
        if !grant_of(context).has_toolset(crate::tools::Toolset::Launches) {
            return Err(McpError::invalid_request(
                "your role does not include the launches toolset".to_owned(),
                None,
            ));
        }
        Ok(id)
    }
}

/// Whose a task is: the identity and, when it brought one, its own Allure token (as for
/// sessions), or the one user of stdio.
fn task_owner(context: &RequestContext<RoleServer>) -> String {
    let Some(parts) = context.extensions.get::<http::request::Parts>() else {
        return "stdio".to_owned();
    };
    match parts.extensions.get::<Identity>() {
        Some(id) => crate::security::session_owner(id, parts.extensions.get())
            .0
            .to_string(),
        // Unreachable over HTTP (every route needs an identity); never shared with stdio.
        None => "nobody".to_owned(),
    }
}

/// The caller's own Allure token, when the HTTP transport took one.
fn callers_token(context: &RequestContext<RoleServer>) -> Option<&secrecy::SecretString> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<CallerToken>())
        .map(|t| &t.0)
}

impl AllureMcp {
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// What the caller may use: everything over stdio (the operator is the caller); over
/// HTTP what the transport found for its identity, and nothing if it found none.
fn grant_of(context: &RequestContext<RoleServer>) -> Grant {
    match context.extensions.get::<http::request::Parts>() {
        None => Grant::default(),
        Some(parts) => parts
            .extensions
            .get::<Grant>()
            .cloned()
            .unwrap_or_else(Grant::nothing),
    }
}

/// Who is calling, from the HTTP request the transport attached (none over stdio).
fn audit_of(context: &RequestContext<RoleServer>) -> AuditInfo {
    let Some(parts) = context.extensions.get::<http::request::Parts>() else {
        return AuditInfo::default();
    };
    AuditInfo {
        identity: parts.extensions.get::<Identity>().map(|i| i.0.to_string()),
        identity_name: parts
            .extensions
            .get::<DisplayName>()
            .map(|n| n.0.to_string()),
        client_ip: parts.extensions.get::<ClientIp>().map(|c| c.0.to_string()),
        // Streamable HTTP sends it; the legacy SSE transport puts its own there.
        session: parts
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

impl ServerHandler for AllureMcp {
    #[expect(deprecated, reason = "logging serves the 2025 protocol revisions")]
    fn get_info(&self) -> ServerConfig {
        let mut implementation = Implementation::new("allure-mcp", env!("CARGO_PKG_VERSION"));
        implementation.title = Some("Allure TestOps".into());
        let mut capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_prompts()
            .enable_resources()
            .enable_completions()
            .enable_logging()
            .enable_tasks()
            .build();
        if self.registry.is_dynamic()
            && let Some(tools) = capabilities.tools.as_mut()
        {
            tools.list_changed = Some(true);
        }
        if self.subscriptions
            && let Some(resources) = capabilities.resources.as_mut()
        {
            resources.subscribe = Some(true);
        }
        ServerConfig::new(capabilities)
            .with_server_info(implementation)
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(
            self.registry.list_for(&self.toolsets, &grant_of(&context)),
        ))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(crate::prompts::list()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        crate::prompts::get(&request.name, &request.arguments.unwrap_or_default())
            .map(Into::into)
            .map_err(|m| McpError::invalid_params(m, None))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(
            crate::prompts::resources(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        if let Some(c) = crate::prompts::read(&request.uri) {
            return Ok(ReadResourceResult::new(vec![c]).into());
        }
        let id = self.launch_resource(&request.uri, &context)?;
        crate::watch::read(&self.ctx_of(&context), id)
            .await
            .map(|c| ReadResourceResult::new(vec![c]).into())
            .map_err(|why| McpError::resource_not_found(why, None))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            crate::watch::template(),
        ]))
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if !self.subscriptions {
            return Err(McpError::invalid_request(
                "a stateless server has no stream to tell of changes; poll get_launch_status or resources/read instead".to_owned(),
                None,
            ));
        }
        let id = self.launch_resource(&request.uri, &context)?;
        let ctx = self.ctx_of(&context);
        // Subscribing to what the caller cannot read would only poll for nothing.
        crate::watch::read(&ctx, id)
            .await
            .map_err(|why| McpError::resource_not_found(why, None))?;
        self.watcher
            .subscribe(self.session, context.peer.clone(), ctx, id)
            .map_err(|why| McpError::invalid_request(why, None))
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if let Some(id) = crate::watch::launch_id(&request.uri) {
            self.watcher.unsubscribe(self.session, id);
        }
        Ok(())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        // Completion reads projects and launches: only for a caller who may read them.
        let grant = grant_of(&context);
        let values = match &request.r#ref {
            Reference::Prompt(_)
                if request.argument.name == "project_id"
                    && !grant.has_toolset(crate::tools::Toolset::Projects) =>
            {
                vec![]
            }
            Reference::Prompt(_)
                if request.argument.name == "launch_id"
                    && !grant.has_toolset(crate::tools::Toolset::Launches) =>
            {
                vec![]
            }
            Reference::Prompt(_) if request.argument.name == "project_id" => {
                crate::prompts::complete_project(&self.ctx_of(&context), &request.argument.value)
                    .await
            }
            Reference::Prompt(_) if request.argument.name == "launch_id" => {
                let project = request
                    .context
                    .as_ref()
                    .and_then(|c| c.get_argument("project_id"))
                    .map(String::as_str);
                crate::prompts::complete_launch(
                    &self.ctx_of(&context),
                    &request.argument.value,
                    project,
                )
                .await
            }
            _ => vec![],
        };
        let info = CompletionInfo::new(values).map_err(|e| McpError::internal_error(e, None))?;
        Ok(CompleteResult::new(info))
    }

    // Logging is deprecated from protocol 2026-07-28 on (SEP-2577), and rmcp marks its
    // types so; clients of the 2025 revisions use it, and its notifications are how they
    // hear of retries, cut answers and a slow upstream.
    #[expect(deprecated, reason = "logging serves the 2025 protocol revisions")]
    async fn set_level(
        &self,
        request: rmcp::model::SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.log_level
            .store(log_rank(request.level), Ordering::Relaxed);
        Ok(())
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.registry.get(name).map(|t| t.to_mcp())
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        let task = self.tasks.get(&request.task_id, &task_owner(&context))?;
        Ok(GetTaskResult::new(task))
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.tasks.update(
            &request.task_id,
            &task_owner(&context),
            request.input_responses,
        )
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.tasks.cancel(&request.task_id, &task_owner(&context))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if let Some(task) = self.as_task(&request, &context)? {
            return Ok(task);
        }
        let progress: Option<ProgressSink> = context.meta.get_progress_token().map(|token| {
            let peer = context.peer.clone();
            let sink: ProgressSink = Arc::new(move |done, total, message| {
                let peer = peer.clone();
                let mut p = ProgressNotificationParam::new(token.clone(), done);
                p.total = total;
                p.message = Some(message);
                Box::pin(async move {
                    // A client that went away cannot be told; the call goes on regardless.
                    let _ = peer.notify_progress(p).await;
                })
            });
            sink
        });
        // The HTTP transports' concurrency slot, held until the call itself is done
        // (whether or not anyone still reads its answer).
        let _slot = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<CallSlot>().cloned());
        let (log, told) = session_log(context.peer.clone(), self.log_level.clone());
        let scope = CallScope {
            cancel: cancellation(&context),
            progress,
            log: Some(log),
            audit: audit_of(&context),
            toolsets: Some(self.toolsets.clone()),
            grant: grant_of(&context),
            ask: crate::ask::ask_of(&context),
            sample: crate::ask::sample_of(&context),
            // Local files only over stdio: an HTTP caller is someone else, elsewhere.
            local: context.extensions.get::<http::request::Parts>().is_none(),
        };
        let ctx = self.ctx_of(&context).for_call(scope);
        let generation = self.toolsets.generation();
        let result = self
            .registry
            .call(ctx, &request.name, request.arguments)
            .await;
        if self.toolsets.generation() != generation {
            // Before the answer, so a client that refreshes on it sees the new tools
            // by the time the model reads that they are there.
            let _ = context.peer.notify_tool_list_changed().await;
        }
        // Every event of the call is handed to rmcp before its answer: over stdio, legacy
        // SSE and stateless HTTP that puts it first on the wire; with Streamable HTTP
        // sessions rmcp sends it on the session's standalone stream instead.
        told.flush().await;
        // A tool this server does not offer is a protocol error (-32602), as the
        // specification lists it; a failure of a tool it offers is a tool result.
        result
            .map(Into::into)
            .map_err(|e| McpError::invalid_params(e.0, None))
    }
}

/// What cancels a call: its request's own cancellation (a cancelled request, a closed
/// connection, the server stopping), and on a stateless server also a cancellation that
/// came in another request ([`RemoteCancel`]). The linking task ends with either.
fn cancellation(context: &RequestContext<RoleServer>) -> tokio_util::sync::CancellationToken {
    let remote = context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<RemoteCancel>().cloned());
    let Some(RemoteCancel(remote)) = remote else {
        return context.ct.clone();
    };
    let both = context.ct.child_token();
    let linked = both.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = remote.cancelled() => linked.cancel(),
            _ = linked.cancelled() => {}
        }
    });
    both
}

/// The order of MCP's logging levels, least severe first.
#[expect(deprecated, reason = "logging serves the 2025 protocol revisions")]
fn log_rank(level: rmcp::model::LoggingLevel) -> u8 {
    use rmcp::model::LoggingLevel as L;
    match level {
        L::Debug => 0,
        L::Info => 1,
        L::Notice => 2,
        L::Warning => 3,
        L::Error => 4,
        L::Critical => 5,
        L::Alert => 6,
        L::Emergency => 7,
    }
}

#[expect(deprecated, reason = "logging serves the 2025 protocol revisions")]
fn mcp_level(severity: Severity) -> rmcp::model::LoggingLevel {
    use rmcp::model::LoggingLevel as L;
    match severity {
        Severity::Debug => L::Debug,
        Severity::Info => L::Info,
        Severity::Notice => L::Notice,
        Severity::Warning => L::Warning,
        Severity::Error => L::Error,
    }
}

/// What a call tells its client, in order: a [`LogSink`] that queues (the Allure client
/// calls it synchronously), and the task that sends the queue as `notifications/message`.
/// Most calls tell nothing, so the queue and its task are made at the first event.
enum Told {
    Event(Severity, String),
    Flush(tokio::sync::oneshot::Sender<()>),
}

type Queue = Arc<std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedSender<Told>>>>;

struct Teller(Queue);

impl Teller {
    /// Waits until everything queued so far has been sent (at once when nothing was).
    async fn flush(self) {
        let queue = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(queue) = queue else { return };
        let (done, sent) = tokio::sync::oneshot::channel();
        if queue.send(Told::Flush(done)).is_ok() {
            let _ = sent.await;
        }
    }
}

/// The session's level is read when an event happens, so a `logging/setLevel` during a
/// long call applies to the rest of it.
fn session_log(peer: rmcp::Peer<RoleServer>, level: Arc<AtomicU8>) -> (LogSink, Teller) {
    let queue: Queue = Arc::default();
    let sink_queue = queue.clone();
    let sink: LogSink = Arc::new(move |severity, message| {
        if log_rank(mcp_level(severity)) < level.load(Ordering::Relaxed) {
            return;
        }
        let mut q = sink_queue.lock().unwrap_or_else(|e| e.into_inner());
        let tx = q.get_or_insert_with(|| tell_in_order(peer.clone()));
        let _ = tx.send(Told::Event(severity, message));
    });
    (sink, Teller(queue))
}

/// The task that sends one call's events, in the order they were queued.
#[expect(deprecated, reason = "logging serves the 2025 protocol revisions")]
fn tell_in_order(peer: rmcp::Peer<RoleServer>) -> tokio::sync::mpsc::UnboundedSender<Told> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Told>();
    tokio::spawn(async move {
        while let Some(told) = rx.recv().await {
            match told {
                Told::Event(severity, message) => {
                    let param = rmcp::model::LoggingMessageNotificationParam::new(
                        mcp_level(severity),
                        serde_json::Value::String(message),
                    )
                    .with_logger("allure-mcp");
                    // A client that went away cannot be told; the call goes on regardless.
                    let _ = peer.notify_logging_message(param).await;
                }
                Told::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    });
    tx
}
