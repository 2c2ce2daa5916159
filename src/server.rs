//! The MCP face of the server: capabilities, instructions, and tool routing through the
//! [`Registry`]. The same handler serves every transport.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult, CompletionInfo,
    GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Reference, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};

use std::sync::Arc;

use rmcp::model::ProgressNotificationParam;

use crate::security::{CallSlot, ClientIp, Identity};
use crate::tools::{AuditInfo, CallScope, Ctx, ProgressSink, Registry};

/// What the model reads once, at `initialize`.
pub const INSTRUCTIONS: &str = "Allure TestOps tools: projects, launches (test runs), test results, test cases and CI jobs. \
Ids are integers. Start with find_project or list_projects to get a project id (a default may be configured), then \
list_launches for recent runs and get_launch_details for one launch's statistic. Answers carry links into the TestOps UI; \
give them to the user. For \"why did this launch fail\", call triage_launch. The search_* tools take AQL: read the resource \
allure://aql-guide first. Write tools (run, mute, assign, close, delete) change TestOps for everyone: confirm with the user first.";

/// One MCP server instance. Cheap to clone: every session gets a clone.
#[derive(Clone, Debug)]
pub struct AllureMcp {
    registry: Registry,
    ctx: Ctx,
}

impl AllureMcp {
    pub fn new(registry: Registry, ctx: Ctx) -> Self {
        AllureMcp { registry, ctx }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// Who is calling, from the HTTP request the transport attached (none over stdio).
fn audit_of(context: &RequestContext<RoleServer>) -> AuditInfo {
    let Some(parts) = context.extensions.get::<http::request::Parts>() else {
        return AuditInfo::default();
    };
    AuditInfo {
        identity: parts.extensions.get::<Identity>().map(|i| i.0.to_string()),
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
    fn get_info(&self) -> ServerConfig {
        let mut implementation = Implementation::new("allure-mcp", env!("CARGO_PKG_VERSION"));
        implementation.title = Some("Allure TestOps".into());
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .enable_completions()
                .build(),
        )
        .with_server_info(implementation)
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.registry.list()))
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
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        crate::prompts::read(&request.uri)
            .map(|c| ReadResourceResult::new(vec![c]).into())
            .ok_or_else(|| {
                McpError::resource_not_found(
                    format!("no resource {}; resources/list shows them", request.uri),
                    None,
                )
            })
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let values = match &request.r#ref {
            Reference::Prompt(_) if request.argument.name == "project_id" => {
                crate::prompts::complete_project(&self.ctx, &request.argument.value).await
            }
            Reference::Prompt(_) if request.argument.name == "launch_id" => {
                let project = request
                    .context
                    .as_ref()
                    .and_then(|c| c.get_argument("project_id"))
                    .map(String::as_str);
                crate::prompts::complete_launch(&self.ctx, &request.argument.value, project).await
            }
            _ => vec![],
        };
        let info = CompletionInfo::new(values).map_err(|e| McpError::internal_error(e, None))?;
        Ok(CompleteResult::new(info))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.registry.get(name).map(|t| t.to_mcp())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
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
        let ctx = self.ctx.for_call(CallScope {
            cancel: context.ct.clone(),
            progress,
            audit: audit_of(&context),
        });
        // A tool this server does not offer is a protocol error (-32602), as the
        // specification lists it; a failure of a tool it offers is a tool result.
        self.registry
            .call(ctx, &request.name, request.arguments)
            .await
            .map(Into::into)
            .map_err(|e| McpError::invalid_params(e.0, None))
    }
}
