//! The MCP face of the server: capabilities, instructions, and tool routing through the
//! [`Registry`]. The same handler serves every transport.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};

use crate::tools::{Ctx, Registry};

/// What the model reads once, at `initialize`.
pub const INSTRUCTIONS: &str = "Allure TestOps tools: projects, launches (test runs), test results, test cases and CI jobs. \
Ids are integers. Start with find_project or list_projects to get a project id (a default may be configured), then \
list_launches for recent runs and get_launch_details for one launch's statistic. Answers carry links into the TestOps UI; \
give them to the user.";

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

impl ServerHandler for AllureMcp {
    fn get_info(&self) -> ServerConfig {
        let mut implementation = Implementation::new("allure-mcp", env!("CARGO_PKG_VERSION"));
        implementation.title = Some("Allure TestOps".into());
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
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

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.registry.get(name).map(|t| t.to_mcp())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        Ok(self
            .registry
            .call(self.ctx.clone(), &request.name, request.arguments)
            .await
            .into())
    }
}
