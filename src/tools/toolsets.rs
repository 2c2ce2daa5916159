//! Dynamic toolsets: what a session has turned on, and the two tools (`list_toolsets`,
//! `enable_toolset`) a model uses to see and turn on the rest. A session starts with the
//! daily read-and-triage path so `tools/list` stays small; everything the operator allows
//! is one call away, and the client hears of it by `notifications/tools/list_changed`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::grant::Grant;
use super::{Access, Ctx, Meta, Render, ToolDef, ToolError, Toolset, tool};

/// The toolsets an operator allows, with their tools as this server offers them (after
/// read-only mode): what `list_toolsets` shows and `enable_toolset` may turn on.
#[derive(Debug, Default)]
pub struct Catalogue {
    pub sets: Vec<(Toolset, Vec<&'static str>)>,
    /// The tools a caller with the read role may not use.
    pub writes: BTreeSet<&'static str>,
}

impl Catalogue {
    fn tools_of(&self, set: Toolset) -> Option<&[&'static str]> {
        self.sets
            .iter()
            .find(|(s, _)| *s == set)
            .map(|(_, t)| t.as_slice())
    }

    /// What one caller sees of it: the toolsets of its grant, with the tools its role may use.
    fn granted(&self, grant: &Grant) -> Catalogue {
        let sets = self
            .sets
            .iter()
            .filter(|(set, _)| grant.has_toolset(*set))
            .map(|(set, tools)| {
                let usable = tools
                    .iter()
                    .copied()
                    .filter(|t| !grant.read_only_in(*set) || !self.writes.contains(t))
                    .collect();
                (*set, usable)
            })
            .collect();
        Catalogue {
            sets,
            writes: self.writes.clone(),
        }
    }
}

/// One session's enabled toolsets. Cloned handles share the state; a new session gets
/// a new one from `Registry::session`.
#[derive(Clone, Debug)]
pub struct SessionToolsets {
    enabled: Arc<Mutex<BTreeSet<Toolset>>>,
    /// Bumped on every change, so the server knows to send `list_changed`.
    generation: Arc<AtomicU64>,
    catalogue: Arc<Catalogue>,
}

impl SessionToolsets {
    pub fn new(initial: &BTreeSet<Toolset>, catalogue: Arc<Catalogue>) -> Self {
        SessionToolsets {
            enabled: Arc::new(Mutex::new(initial.clone())),
            generation: Arc::default(),
            catalogue,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<Toolset>> {
        // A panic while holding the lock cannot leave the set half-changed.
        self.enabled.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_enabled(&self, set: Toolset) -> bool {
        set == Toolset::Discovery || self.lock().contains(&set)
    }

    /// Turns the toolsets on; answers those that were off.
    pub fn enable(&self, sets: &[Toolset]) -> Vec<Toolset> {
        let mut enabled = self.lock();
        let newly: Vec<Toolset> = sets
            .iter()
            .copied()
            .filter(|s| enabled.insert(*s))
            .collect();
        if !newly.is_empty() {
            self.generation.fetch_add(1, Ordering::Relaxed);
        }
        newly
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoArgs {}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct EnableToolsetArgs {
    /// Toolset names from list_toolsets, e.g. ["runs"] or ["testcases", "plans"].
    pub toolsets: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ToolsetInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub enabled: bool,
    pub tools: Vec<&'static str>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ToolsetList {
    pub toolsets: Vec<ToolsetInfo>,
}

impl Render for ToolsetList {
    fn text(&self) -> String {
        let mut s = String::from("Toolsets (enable_toolset turns one on):\n");
        for t in &self.toolsets {
            let tools = if t.tools.is_empty() {
                "none here (they all change TestOps; the server is read-only)".to_owned()
            } else {
                t.tools.join(", ")
            };
            s.push_str(&format!(
                "- {} [{}]: {}. Tools: {tools}\n",
                t.name,
                if t.enabled { "on" } else { "off" },
                t.description,
            ));
        }
        s
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Enabled {
    /// Toolsets this call turned on.
    pub enabled: Vec<&'static str>,
    /// Toolsets asked for that were already on.
    pub already_on: Vec<&'static str>,
    /// The tools the asked-for toolsets offer.
    pub tools: Vec<&'static str>,
}

impl Render for Enabled {
    fn text(&self) -> String {
        let mut s = String::new();
        if !self.enabled.is_empty() {
            s.push_str(&format!("Enabled {}.", self.enabled.join(", ")));
        }
        if !self.already_on.is_empty() {
            s.push_str(&format!(" Already on: {}.", self.already_on.join(", ")));
        }
        s.push_str(&format!(
            " Tools you can call now: {}.",
            self.tools.join(", ")
        ));
        s.trim_start().to_owned()
    }
}

fn session(ctx: &Ctx) -> Result<&SessionToolsets, ToolError> {
    ctx.scope.toolsets.as_ref().ok_or_else(|| {
        ToolError::InvalidArgs(
            "this server's toolsets are fixed (ALLURE_TOOLSETS, or a stateless server): every tool it offers is in tools/list already".into(),
        )
    })
}

async fn list_toolsets(ctx: Ctx, _args: NoArgs) -> Result<ToolsetList, ToolError> {
    let session = session(&ctx)?;
    let catalogue = session.catalogue.granted(&ctx.scope.grant);
    let toolsets = catalogue
        .sets
        .iter()
        .map(|(set, tools)| ToolsetInfo {
            name: set.name(),
            description: set.description(),
            enabled: session.is_enabled(*set),
            tools: tools.clone(),
        })
        .collect();
    Ok(ToolsetList { toolsets })
}

async fn enable_toolset(ctx: Ctx, args: EnableToolsetArgs) -> Result<Enabled, ToolError> {
    let session = session(&ctx)?;
    let catalogue = session.catalogue.granted(&ctx.scope.grant);
    let offered: Vec<&str> = catalogue.sets.iter().map(|(s, _)| s.name()).collect();
    if args.toolsets.is_empty() {
        return Err(ToolError::InvalidArgs(format!(
            "name at least one toolset: {}",
            offered.join(", ")
        )));
    }
    let mut asked = Vec::new();
    for name in &args.toolsets {
        let empty = Toolset::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name.trim()))
            .filter(|t| catalogue.tools_of(*t).is_some_and(<[_]>::is_empty));
        if let Some(set) = empty {
            return Err(ToolError::InvalidArgs(format!(
                "every tool of toolset '{name}' changes TestOps, and {}",
                if ctx.scope.grant.read_only_in(set) {
                    "your role is read (MCP_PERMISSIONS)"
                } else {
                    "this server is read-only (ALLURE_READ_ONLY)"
                }
            )));
        }
        let set = Toolset::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name.trim()))
            .filter(|t| catalogue.tools_of(*t).is_some());
        match set {
            Some(set) => asked.push(set),
            None if Toolset::ALL
                .iter()
                .any(|t| t.name().eq_ignore_ascii_case(name.trim())) =>
            {
                return Err(ToolError::InvalidArgs(format!(
                    "toolset '{name}' is not offered to you (the operator's ALLURE_TOOLSETS or MCP_PERMISSIONS leave it out); these are: {}",
                    offered.join(", ")
                )));
            }
            None => {
                return Err(ToolError::InvalidArgs(format!(
                    "no toolset '{name}'; these are: {}",
                    offered.join(", ")
                )));
            }
        }
    }
    let newly = session.enable(&asked);
    let tools = asked
        .iter()
        .filter_map(|s| catalogue.tools_of(*s))
        .flatten()
        .copied()
        .collect();
    Ok(Enabled {
        enabled: newly.iter().map(|s| s.name()).collect(),
        already_on: asked
            .iter()
            .filter(|s| !newly.contains(s))
            .map(|s| s.name())
            .collect(),
        tools,
    })
}

/// The discovery tools; the registry adds them only when there is something to turn on.
pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(LIST_TOOLSETS, list_toolsets),
        tool(ENABLE_TOOLSET, enable_toolset),
    ]
}

const LIST_TOOLSETS: Meta = Meta {
    name: "list_toolsets",
    toolset: Toolset::Discovery,
    title: "List toolsets",
    description: "The groups of tools this server offers, which are on, and the tools in each. Call it when no listed tool fits the task (e.g. running CI jobs, editing test cases, plans, defects, analytics).",
    access: Access::Read,
};

const ENABLE_TOOLSET: Meta = Meta {
    name: "enable_toolset",
    toolset: Toolset::Discovery,
    title: "Enable toolsets",
    description: "Turns on toolsets named by list_toolsets for this session; their tools can be called at once and appear in tools/list.",
    // It changes this session's tool list, nothing in Allure TestOps: read-only mode keeps
    // it, and the tools it turns on are still filtered by that mode.
    access: Access::Read,
};
