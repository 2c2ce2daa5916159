//! What one caller may use: a role (read or write) and optionally a set of toolsets.
//! The HTTP transport finds a caller's grant (static token name, OAuth subject or scope;
//! see `security::permissions`); the registry applies it where tools are listed and where
//! they are called, so a tool hidden from a caller cannot be reached by its name either.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{ToolDef, Toolset};

/// `read`: only tools that change nothing (and `raw` limited to GET). `write`: every tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Read,
    Write,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
        }
    }
}

/// A caller's rights. The default (stdio, or an HTTP server without MCP_PERMISSIONS) is
/// everything the operator's own settings offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    /// `None`: every toolset the server offers.
    pub toolsets: Option<Arc<BTreeSet<Toolset>>>,
}

impl Default for Grant {
    fn default() -> Self {
        Grant {
            role: Role::Write,
            toolsets: None,
        }
    }
}

impl Grant {
    /// Nothing at all: what a request gets when the transport could not say who it is.
    pub fn nothing() -> Grant {
        Grant {
            role: Role::Read,
            toolsets: Some(Arc::default()),
        }
    }

    pub fn has_toolset(&self, set: Toolset) -> bool {
        set == Toolset::Discovery || self.toolsets.as_ref().is_none_or(|s| s.contains(&set))
    }

    /// Whether this caller may see and call `tool`.
    pub fn allows(&self, tool: &ToolDef) -> bool {
        self.has_toolset(tool.toolset)
            && (self.role == Role::Write || tool.read_only || tool.guards_read_only)
    }

    /// Whether calls of this caller must change nothing (what `raw` checks for itself).
    pub fn read_only(&self) -> bool {
        self.role == Role::Read
    }

    /// The union of two grants: an OAuth caller matched by several entries (a subject and
    /// a scope) gets what either gives.
    pub fn union(&self, other: &Grant) -> Grant {
        let toolsets = match (&self.toolsets, &other.toolsets) {
            (Some(a), Some(b)) => Some(Arc::new(a.union(b).copied().collect())),
            _ => None,
        };
        Grant {
            role: self.role.max(other.role),
            toolsets,
        }
    }

    /// How the grant reads in `check`, logs and refusals: `write`, `read: launches, results`.
    pub fn describe(&self) -> String {
        match &self.toolsets {
            None => self.role.name().to_owned(),
            Some(sets) => format!(
                "{} ({})",
                self.role.name(),
                if sets.is_empty() {
                    "no toolsets".to_owned()
                } else {
                    sets.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
                }
            ),
        }
    }

    /// Why a tool this caller may not use is refused (the tool exists and is offered).
    pub fn refusal(&self, tool: &ToolDef) -> String {
        if !self.has_toolset(tool.toolset) {
            format!(
                "Tool '{}' is not available to you: your permissions ({}) leave out its toolset '{}'. Ask the operator (MCP_PERMISSIONS).",
                tool.name,
                self.describe(),
                tool.toolset.name()
            )
        } else {
            format!(
                "Tool '{}' is not available to you: it changes Allure TestOps, and your role is read (MCP_PERMISSIONS). Ask the operator for the write role.",
                tool.name
            )
        }
    }
}
