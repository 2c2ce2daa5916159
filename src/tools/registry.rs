//! The registry: each tool's definition (toolset, annotations, schemas, handler), and
//! the one place where tools are filtered by toolset and read-only mode and called.

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

use super::grant::Grant;
use super::schema::schema_of;
use super::toolsets::{Catalogue, SessionToolsets};
use super::{Ctx, ToolError, Toolset, all_tools};

/// A tool's answer, renderable for text-only clients.
pub trait Render {
    fn text(&self) -> String;

    /// Whether the structured answer keeps its `null` fields. Ours leave out what they do
    /// not know (`schema::drop_nulls`); an answer that passes upstream's JSON on as it came
    /// keeps them.
    fn keeps_nulls() -> bool {
        false
    }
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
    /// The MCP App (`ui://` resource) hosts render beside this tool's result.
    pub ui: Option<&'static str>,
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

/// The static facts of a tool, given by each area module as a `const` beside its handler.
#[derive(Debug, Clone, Copy)]
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
            let mut structured = serde_json::to_value(&out).map_err(|e| {
                ToolError::Other(format!("internal error rendering the answer: {e}"))
            })?;
            if !O::keeps_nulls() {
                super::schema::drop_nulls(&mut structured);
            }
            Ok(Output {
                text: out.text(),
                structured,
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
        ui: None,
        handler: erased,
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
        if let Some(uri) = self.ui {
            // MCP Apps: the host fetches this resource and renders it with the result.
            let mut meta = rmcp::model::MetaObject::new();
            meta.insert("ui".into(), serde_json::json!({"resourceUri": uri}));
            tool = tool.with_meta(meta);
        }
        tool
    }
}

/// The tools offered to clients: the toolsets the operator allows, and only read-only
/// tools in read-only mode. With dynamic toolsets a session lists only those it has
/// turned on ([`SessionToolsets`]), and may call any tool it is allowed.
#[derive(Clone, Debug)]
pub struct Registry {
    /// Every tool a client may call, the discovery tools included when dynamic.
    tools: Arc<Vec<ToolDef>>,
    /// Tools that exist but are filtered out, to explain a call to one.
    hidden: Arc<Vec<(&'static str, Hidden)>>,
    /// What a session lists when it starts.
    initial: Arc<BTreeSet<Toolset>>,
    catalogue: Arc<Catalogue>,
}

/// Why a tool that exists is not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    /// It writes, and the server runs in read-only mode.
    ReadOnly,
    /// Its toolset is not enabled.
    Toolset(Toolset),
    /// A discovery tool, on a server whose tool list is fixed.
    Fixed,
}

impl Hidden {
    /// Why a call to `name` is refused, and what would make the tool available.
    fn refusal(self, name: &str) -> String {
        match self {
            Hidden::ReadOnly => format!(
                "Tool '{name}' is not available: the server runs in read-only mode (ALLURE_READ_ONLY)."
            ),
            Hidden::Toolset(set) => format!(
                "Tool '{name}' is not available: its toolset '{}' is not enabled (ALLURE_TOOLSETS).",
                set.name()
            ),
            Hidden::Fixed => format!(
                "Tool '{name}' is not available: this server lists every tool it offers from the start (ALLURE_TOOLSETS, ALLURE_DYNAMIC_TOOLSETS=false, or stateless HTTP)."
            ),
        }
    }
}

impl Registry {
    /// Fixed toolsets: every allowed tool is listed from the start.
    pub fn new(toolsets: &[Toolset], read_only: bool) -> Registry {
        Registry::dynamic(toolsets, toolsets, read_only)
    }

    /// The single place where toolsets and read-only mode filter: read-only wins.
    /// `allowed` may be called and turned on; `initial` is listed from the start. When
    /// `allowed` holds more than `initial`, the discovery tools are added.
    pub fn dynamic(allowed: &[Toolset], initial: &[Toolset], read_only: bool) -> Registry {
        let mut tools = Vec::new();
        let mut hidden = Vec::new();
        let mut discovery = Vec::new();
        for t in all_tools() {
            if t.toolset == Toolset::Discovery {
                discovery.push(t);
            } else if read_only && !t.read_only && !t.guards_read_only {
                hidden.push((t.name, Hidden::ReadOnly));
            } else if !allowed.contains(&t.toolset) {
                hidden.push((t.name, Hidden::Toolset(t.toolset)));
            } else {
                tools.push(t);
            }
        }
        let initial: BTreeSet<Toolset> = initial
            .iter()
            .copied()
            .filter(|s| allowed.contains(s))
            .collect();
        // Every allowed toolset, with the tools it offers here: one whose tools all write
        // is listed empty in read-only mode, so a model is told why it has nothing.
        let mut catalogue: Vec<(Toolset, Vec<&'static str>)> = allowed
            .iter()
            .filter(|s| **s != Toolset::Discovery)
            .map(|s| (*s, Vec::new()))
            .collect();
        catalogue.sort_by_key(|(s, _)| *s);
        catalogue.dedup_by_key(|(s, _)| *s);
        for t in &tools {
            if let Some((_, names)) = catalogue.iter_mut().find(|(s, _)| *s == t.toolset) {
                names.push(t.name);
            }
        }
        if catalogue
            .iter()
            .any(|(s, names)| !initial.contains(s) && !names.is_empty())
        {
            tools.extend(discovery);
        } else {
            hidden.extend(discovery.iter().map(|t| (t.name, Hidden::Fixed)));
        }
        let writes = tools
            .iter()
            .filter(|t| !t.read_only && !t.guards_read_only)
            .map(|t| t.name)
            .collect();
        Registry {
            tools: Arc::new(tools),
            hidden: Arc::new(hidden),
            initial: Arc::new(initial),
            catalogue: Arc::new(Catalogue {
                sets: catalogue,
                writes,
            }),
        }
    }

    /// The same tools with every allowed toolset listed and no discovery: for a server
    /// that cannot tell a client its tool list changed (stateless HTTP).
    pub fn fixed(&self) -> Registry {
        let allowed: Vec<Toolset> = self.catalogue.sets.iter().map(|(s, _)| *s).collect();
        Registry {
            tools: Arc::new(
                self.tools
                    .iter()
                    .filter(|t| t.toolset != Toolset::Discovery)
                    .cloned()
                    .collect(),
            ),
            hidden: Arc::new(
                self.hidden
                    .iter()
                    .copied()
                    .chain(
                        self.tools
                            .iter()
                            .filter(|t| t.toolset == Toolset::Discovery)
                            .map(|t| (t.name, Hidden::Fixed)),
                    )
                    .collect(),
            ),
            initial: Arc::new(allowed.into_iter().collect()),
            catalogue: self.catalogue.clone(),
        }
    }

    /// Whether sessions start with part of the allowed tools and may turn on the rest.
    pub fn is_dynamic(&self) -> bool {
        self.tools.iter().any(|t| t.toolset == Toolset::Discovery)
    }

    /// A new session's toolsets.
    pub fn session(&self) -> SessionToolsets {
        SessionToolsets::new(&self.initial, self.catalogue.clone())
    }

    /// Every tool a client may call (listed or not yet).
    pub fn tools(&self) -> &[ToolDef] {
        &self.tools
    }

    /// What a new session lists (for a caller who may use everything).
    pub fn list(&self) -> Vec<Tool> {
        self.list_for(&self.session(), &Grant::default())
    }

    /// What a session lists to a caller: the discovery tools and its enabled toolsets,
    /// of what the caller's grant allows.
    pub fn list_for(&self, session: &SessionToolsets, grant: &Grant) -> Vec<Tool> {
        self.tools
            .iter()
            .filter(|t| session.is_enabled(t.toolset) && grant.allows(t))
            .map(ToolDef::to_mcp)
            .collect()
    }

    pub fn get(&self, name: &str) -> Option<&ToolDef> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// Calls a tool and turns every failure of the call into an `isError` result the model
    /// can read and correct. A tool this server does not offer is not such a failure but
    /// a protocol error (the specification's -32602), returned as [`NotOffered`]. Every
    /// call leaves one audit line (and metrics) whatever its outcome.
    pub async fn call(
        &self,
        ctx: Ctx,
        name: &str,
        args: Option<JsonObject>,
    ) -> Result<CallToolResult, NotOffered> {
        let args = args.unwrap_or_default();
        // Only ids go to the audit line: other argument values may be anything, secrets included.
        let id_of = |k: &str| args.get(k).and_then(Value::as_i64);
        let (project_id, launch_id) = (
            id_of("project_id").or(ctx.default_project),
            id_of("launch_id"),
        );
        let audit = ctx.scope.audit.clone();
        // Whose Allure token the call spoke with: the server's or the caller's own.
        let credential = if ctx.client.is_callers() {
            "caller"
        } else {
            "service"
        };
        let log = |outcome: &str, upstream_status: Option<u16>, duration_ms: u64| {
            tracing::info!(
                target: "allure_mcp::audit",
                tool = name,
                project_id,
                launch_id,
                identity = audit.identity.as_deref(),
                identity_name = audit.identity_name.as_deref(),
                client_ip = audit.client_ip.as_deref(),
                session = audit.session.as_deref(),
                credential,
                outcome,
                upstream_status,
                duration_ms,
                "tool call"
            );
        };
        let Some(tool) = self.get(name) else {
            log("refused", None, 0);
            let why = match self.hidden.iter().find(|(n, _)| *n == name) {
                Some((_, hidden)) => hidden.refusal(name),
                None => {
                    format!("Unknown tool '{name}'. Call tools/list to see the available tools.")
                }
            };
            return Err(NotOffered(why));
        };
        // The same rule as in tools/list: a tool the caller does not see is not called.
        if !ctx.scope.grant.allows(tool) {
            log("refused", None, 0);
            return Err(NotOffered(ctx.scope.grant.refusal(tool)));
        }
        // A caller with the read role on this toolset gets what read-only mode gives: the
        // tools that stay visible (raw) refuse writes themselves.
        let mut ctx = ctx;
        ctx.read_only |= ctx.scope.grant.read_only_in(tool.toolset);
        // A model may call an allowed tool it has not turned on (a name from a prompt or
        // from the Go server's docs): the call works, and its toolset is listed from now on.
        if let Some(session) = &ctx.scope.toolsets
            && !session.is_enabled(tool.toolset)
        {
            session.enable(&[tool.toolset]);
        }
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
        if let Some(who) = &audit.identity {
            metrics.record_identity(who);
        }
        // Whatever came from upstream may echo a credential: nothing leaves with one.
        Ok(match result {
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
                let said = match client.is_callers() {
                    true => e.for_callers_token().unwrap_or_else(|| e.to_string()),
                    false => e.to_string(),
                };
                let text = client.redact(&said).into_owned();
                CallToolResult::error(vec![Content::text(text)])
            }
        })
    }
}

/// A `tools/call` of a tool this server does not offer (unknown, or hidden by read-only
/// mode or the toolsets), with the reason: a protocol error, not a tool's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotOffered(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hidden_tool_is_refused_with_its_reason() {
        // Read-only mode wins over the toolset filter: the write is refused for that.
        let registry = Registry::new(&[Toolset::Projects], true);
        let reason = |name: &str| {
            registry
                .hidden
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, h)| *h)
        };
        assert_eq!(reason("close_launch"), Some(Hidden::ReadOnly));
        assert_eq!(
            reason("list_launches"),
            Some(Hidden::Toolset(Toolset::Launches))
        );
        assert_eq!(reason("list_projects"), None);
        assert_eq!(
            Hidden::ReadOnly.refusal("close_launch"),
            "Tool 'close_launch' is not available: the server runs in read-only mode (ALLURE_READ_ONLY)."
        );
        assert_eq!(
            Hidden::Toolset(Toolset::Raw).refusal("allure_api_request"),
            "Tool 'allure_api_request' is not available: its toolset 'raw' is not enabled (ALLURE_TOOLSETS)."
        );
    }
}
