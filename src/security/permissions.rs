//! Permissions per identity (MCP_PERMISSIONS): which role and toolsets each caller gets.
//!
//! One entry per line (or `;`-separated): `<who> <role> [toolset,toolset…]`, where who is
//! a static token's name, `sub:<subject>` or `scope:<scope>` of an OAuth access token, or
//! `*` for any caller no other entry names. An OAuth caller matched by several entries
//! gets their union. Without the setting every caller may use everything the server
//! offers (as before it existed); with it, a caller no entry names is refused.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::tools::Toolset;
use crate::tools::grant::{Grant, Role};

/// Who an entry is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Token(String),
    Subject(String),
    Scope(String),
    Anyone,
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Who::Token(n) => write!(f, "token {n}"),
            Who::Subject(s) => write!(f, "sub:{s}"),
            Who::Scope(s) => write!(f, "scope:{s}"),
            Who::Anyone => f.write_str("*"),
        }
    }
}

/// A caller as the permissions see it.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// A static MCP token, by its name (or `anonymous` without tokens).
    Token(&'a str),
    /// An OAuth access token's subject and scopes.
    OAuth { sub: &'a str, scopes: &'a [String] },
}

/// The parsed table; empty when MCP_PERMISSIONS is not set.
#[derive(Debug, Clone, Default)]
pub struct Permissions {
    entries: Arc<Vec<(Who, Grant)>>,
}

impl Permissions {
    /// Parses the table; the error says which entry is wrong and how.
    pub fn parse(text: &str) -> Result<Permissions, String> {
        let mut entries: Vec<(Who, Grant)> = Vec::new();
        for line in text
            .split(['\n', ';'])
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
        {
            let entry = entry(line)?;
            if entries.iter().any(|(w, _)| *w == entry.0) {
                return Err(format!("'{}' has two entries; keep one", entry.0));
            }
            entries.push(entry);
        }
        Ok(Permissions {
            entries: Arc::new(entries),
        })
    }

    pub fn is_configured(&self) -> bool {
        !self.entries.is_empty()
    }

    pub fn entries(&self) -> &[(Who, Grant)] {
        &self.entries
    }

    /// The grant of a caller: everything when no table is set; else the union of the
    /// entries naming it, or the `*` entry; `None` when nothing names it.
    pub fn grant_for(&self, caller: Caller<'_>) -> Option<Grant> {
        if !self.is_configured() {
            return Some(Grant::default());
        }
        let names = |who: &Who| match (who, caller) {
            (Who::Token(n), Caller::Token(t)) => n == t,
            (Who::Subject(s), Caller::OAuth { sub, .. }) => s == sub,
            (Who::Scope(s), Caller::OAuth { scopes, .. }) => scopes.iter().any(|x| x == s),
            _ => false,
        };
        let named = self
            .entries
            .iter()
            .filter(|(who, _)| names(who))
            .map(|(_, g)| g.clone())
            .reduce(|a, b| a.union(&b));
        named.or_else(|| {
            self.entries
                .iter()
                .find(|(who, _)| *who == Who::Anyone)
                .map(|(_, g)| g.clone())
        })
    }
}

/// One `<who> <role> [toolsets]` entry.
fn entry(line: &str) -> Result<(Who, Grant), String> {
    let mut words = line.split_whitespace();
    let (Some(who), Some(role)) = (words.next(), words.next()) else {
        return Err(format!(
            "'{line}' is not `<who> <role> [toolsets]`; e.g. `alice write` or `scope:mcp.read read launches,results`"
        ));
    };
    let who = match who {
        "*" => Who::Anyone,
        w => match w.split_once(':') {
            Some(("sub", s)) if !s.is_empty() => Who::Subject(s.to_owned()),
            Some(("scope", s)) if !s.is_empty() => Who::Scope(s.to_owned()),
            Some(_) => {
                return Err(format!(
                    "'{w}': name a token, sub:<subject>, scope:<scope> or *"
                ));
            }
            None => Who::Token(w.to_owned()),
        },
    };
    let role = match role.to_ascii_lowercase().as_str() {
        "read" => Role::Read,
        "write" => Role::Write,
        other => return Err(format!("'{other}' is not a role; use read or write")),
    };
    let toolsets = match words.collect::<Vec<_>>().join(",") {
        list if list.is_empty() => None,
        list => Some(Arc::new(
            Toolset::parse_list(Some(&list))?
                .into_iter()
                .collect::<BTreeSet<_>>(),
        )),
    };
    Ok((who, Grant { role, toolsets }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_name_tokens_subjects_scopes_and_anyone() {
        let p = Permissions::parse(
            "alice write\n ci-bot read launches,results # a bot\n scope:mcp.write write; sub:42 read projects\n* read analytics",
        )
        .unwrap();
        assert_eq!(p.grant_for(Caller::Token("alice")), Some(Grant::default()));
        let bot = p.grant_for(Caller::Token("ci-bot")).unwrap();
        assert_eq!(bot.describe(), "read (launches, results)");
        let scopes = vec!["mcp.write".to_owned()];
        let oauth = p
            .grant_for(Caller::OAuth {
                sub: "42",
                scopes: &scopes,
            })
            .unwrap();
        assert_eq!(
            oauth.describe(),
            "write",
            "the union of sub:42 and the scope"
        );
        assert_eq!(
            p.grant_for(Caller::Token("mallory")).unwrap().describe(),
            "read (analytics)"
        );
    }

    #[test]
    fn without_a_catch_all_an_unnamed_caller_gets_nothing() {
        let p = Permissions::parse("alice read").unwrap();
        assert!(p.grant_for(Caller::Token("bob")).is_none());
        assert!(
            Permissions::default()
                .grant_for(Caller::Token("bob"))
                .is_some(),
            "no table: everything, as before"
        );
    }

    #[test]
    fn mistakes_are_refused_with_the_fix() {
        for (bad, says) in [
            ("alice", "is not `<who> <role>"),
            ("alice admin", "not a role"),
            ("alice read nosuch", "nosuch"),
            ("group:x read", "name a token"),
            ("alice read\nalice write", "two entries"),
        ] {
            let e = Permissions::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
