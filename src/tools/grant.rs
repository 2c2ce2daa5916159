//! What one caller may use: a role (read or write) per toolset. The HTTP transport finds a
//! caller's grant (static token name, OAuth subject, scope or claim; see
//! `security::permissions`); the registry applies it where tools are listed and where they
//! are called, so a tool hidden from a caller cannot be reached by its name either.

use std::collections::BTreeMap;
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

/// A caller's rights: a role on every toolset (`all`), and roles on named toolsets. The
/// role on a toolset is the higher of the two. Kept per toolset so that a union of two
/// grants never gives a role on a toolset that neither gave it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    all: Option<Role>,
    sets: Arc<BTreeMap<Toolset, Role>>,
}

/// The default (stdio, or static tokens without MCP_PERMISSIONS): everything the
/// operator's own settings offer.
impl Default for Grant {
    fn default() -> Self {
        Grant::everywhere(Role::Write)
    }
}

impl Grant {
    /// `role` on every toolset.
    pub fn everywhere(role: Role) -> Grant {
        Grant {
            all: Some(role),
            sets: Arc::default(),
        }
    }

    /// `role` on the named toolsets only.
    pub fn on(role: Role, toolsets: impl IntoIterator<Item = Toolset>) -> Grant {
        Grant {
            all: None,
            sets: Arc::new(toolsets.into_iter().map(|t| (t, role)).collect()),
        }
    }

    /// Nothing at all: what a request gets when the transport could not say who it is.
    pub fn nothing() -> Grant {
        Grant {
            all: None,
            sets: Arc::default(),
        }
    }

    /// The role on a toolset, if any. The discovery tools are everyone's.
    pub fn role_on(&self, set: Toolset) -> Option<Role> {
        if set == Toolset::Discovery {
            return Some(Role::Read);
        }
        self.all.max(self.sets.get(&set).copied())
    }

    pub fn has_toolset(&self, set: Toolset) -> bool {
        self.role_on(set).is_some()
    }

    /// Whether this caller may see and call `tool`.
    pub fn allows(&self, tool: &ToolDef) -> bool {
        match self.role_on(tool.toolset) {
            Some(Role::Write) => true,
            Some(Role::Read) => tool.read_only || tool.guards_read_only,
            None => false,
        }
    }

    /// Whether a call of `tool` must change nothing (what `raw` checks for itself).
    pub fn read_only_in(&self, set: Toolset) -> bool {
        self.role_on(set) != Some(Role::Write)
    }

    /// The union of two grants, toolset by toolset: an OAuth caller matched by several
    /// entries (a subject and a scope) gets on each toolset the higher role either gives.
    pub fn union(&self, other: &Grant) -> Grant {
        let mut sets = (*self.sets).clone();
        for (set, role) in other.sets.iter() {
            let entry = sets.entry(*set).or_insert(*role);
            *entry = (*entry).max(*role);
        }
        Grant {
            all: self.all.max(other.all),
            sets: Arc::new(sets),
        }
    }

    /// How the grant reads in `check`, logs and refusals: `write`, `read (launches,
    /// results)`, `read; write (runs)`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(all) = self.all {
            parts.push(all.name().to_owned());
        }
        for role in [Role::Read, Role::Write] {
            let names: Vec<&str> = self
                .sets
                .iter()
                .filter(|(_, r)| **r == role && self.all.is_none_or(|a| a < role))
                .map(|(s, _)| s.name())
                .collect();
            if !names.is_empty() {
                parts.push(format!("{} ({})", role.name(), names.join(", ")));
            }
        }
        if parts.is_empty() {
            "nothing".to_owned()
        } else {
            parts.join("; ")
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
                "Tool '{}' is not available to you: it changes Allure TestOps, and your role on toolset '{}' is read (MCP_PERMISSIONS). Ask the operator for the write role.",
                tool.name,
                tool.toolset.name()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_union_gives_no_role_on_a_toolset_that_no_grant_gave_it_on() {
        // read on raw and projects, write on runs: raw stays read.
        let a = Grant::on(Role::Read, [Toolset::Raw, Toolset::Projects]);
        let b = Grant::on(Role::Write, [Toolset::Runs]);
        let u = a.union(&b);
        assert_eq!(u.role_on(Toolset::Raw), Some(Role::Read));
        assert_eq!(u.role_on(Toolset::Runs), Some(Role::Write));
        assert_eq!(u.role_on(Toolset::Launches), None);
        // read everywhere and write on one toolset: write there only.
        let u = Grant::everywhere(Role::Read).union(&b);
        assert_eq!(u.role_on(Toolset::Runs), Some(Role::Write));
        assert_eq!(u.role_on(Toolset::Testcases), Some(Role::Read));
        assert_eq!(u.describe(), "read; write (runs)");
        assert_eq!(Grant::nothing().describe(), "nothing");
    }
}
