//! Permissions per identity (MCP_PERMISSIONS): which role on which toolsets each caller gets.
//!
//! One entry per line (or `;`-separated): `<who> <role> [toolset,toolset…]`, where who is
//! a static token's name; `sub:<subject>`, `scope:<scope>` or `claim:<path>=<value>` of
//! an OAuth access token (`iss2:` before them for the second OAUTH_ISSUER, and so on); or
//! `*` for any caller no other entry names. An OAuth caller matched by several entries
//! gets their union, toolset by toolset. Without the setting, static tokens may use
//! everything the server offers (as before it existed) and OAuth callers may read; with
//! it, a caller no entry names is refused.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::tools::Toolset;
use crate::tools::grant::{Grant, Role};

/// Who an entry is for; OAuth entries name the issuer they apply to (0: the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Token(String),
    Subject(usize, String),
    Scope(usize, String),
    /// A claim (a dotted path into the token's claims) holding a value, or a list with it:
    /// `claim:realm_access.roles=allure-writer`, `claim:groups=qa`.
    Claim(usize, String, String),
    Anyone,
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let iss = |i: &usize| match i {
            0 => String::new(),
            n => format!("iss{}:", n + 1),
        };
        match self {
            Who::Token(n) => write!(f, "token {n}"),
            Who::Subject(i, s) => write!(f, "{}sub:{s}", iss(i)),
            Who::Scope(i, s) => write!(f, "{}scope:{s}", iss(i)),
            Who::Claim(i, p, v) => write!(f, "{}claim:{p}={v}", iss(i)),
            Who::Anyone => f.write_str("*"),
        }
    }
}

/// A caller as the permissions see it.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// A static MCP token, by its name (or `anonymous` without tokens).
    Token(&'a str),
    /// An OAuth access token: which issuer, its subject, scopes and verified claims.
    OAuth {
        issuer: usize,
        sub: &'a str,
        scopes: &'a [String],
        claims: &'a Map<String, Value>,
    },
}

/// Whether the claim at the dotted `path` is `value`, or a list holding it.
fn claim_holds(claims: &Map<String, Value>, path: &str, value: &str) -> bool {
    let mut parts = path.split('.');
    let Some(first) = parts.next() else {
        return false;
    };
    let mut at = claims.get(first);
    for part in parts {
        at = at.and_then(|v| v.get(part));
    }
    match at {
        Some(Value::String(s)) => s == value,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(value)),
        _ => false,
    }
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

    /// The grant of a caller. Without a table: everything for a static token, reading
    /// for an OAuth caller (an identity provider may hand tokens for this server to every
    /// user it has). With one: the union of the entries naming it, or the `*` entry;
    /// `None` when nothing names it.
    pub fn grant_for(&self, caller: Caller<'_>) -> Option<Grant> {
        if !self.is_configured() {
            return Some(match caller {
                Caller::Token(_) => Grant::default(),
                Caller::OAuth { .. } => Grant::everywhere(Role::Read),
            });
        }
        let names = |who: &Who| match (who, caller) {
            (Who::Token(n), Caller::Token(t)) => n == t,
            (Who::Subject(i, s), Caller::OAuth { issuer, sub, .. }) => *i == issuer && s == sub,
            (Who::Scope(i, s), Caller::OAuth { issuer, scopes, .. }) => {
                *i == issuer && scopes.iter().any(|x| x == s)
            }
            (Who::Claim(i, p, v), Caller::OAuth { issuer, claims, .. }) => {
                *i == issuer && claim_holds(claims, p, v)
            }
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
    let who = who_of(who)?;
    let role = match role.to_ascii_lowercase().as_str() {
        "read" => Role::Read,
        "write" => Role::Write,
        other => return Err(format!("'{other}' is not a role; use read or write")),
    };
    let grant = match words.collect::<Vec<_>>().join(",") {
        list if list.is_empty() => Grant::everywhere(role),
        list => Grant::on(role, Toolset::parse_list(Some(&list))?),
    };
    Ok((who, grant))
}

/// `alice`, `*`, `[issN:]sub:<subject>`, `[issN:]scope:<scope>`, `[issN:]claim:<path>=<value>`.
fn who_of(word: &str) -> Result<Who, String> {
    if word == "*" {
        return Ok(Who::Anyone);
    }
    let Some((kind, rest)) = word.split_once(':') else {
        return Ok(Who::Token(word.to_owned()));
    };
    // `iss2:` names the second OAUTH_ISSUER: a subject of one provider is not another's.
    let (issuer, kind, rest) = match kind.strip_prefix("iss").map(str::parse::<usize>) {
        Some(Ok(n)) if n >= 1 => {
            let (k, r) = rest
                .split_once(':')
                .ok_or_else(|| format!("'{word}': after iss{n}: name sub:, scope: or claim:"))?;
            (n - 1, k, r)
        }
        _ => (0, kind, rest),
    };
    let bad = || {
        format!("'{word}': name a token, sub:<subject>, scope:<scope>, claim:<path>=<value> or *")
    };
    if rest.is_empty() {
        return Err(bad());
    }
    match kind {
        "sub" => Ok(Who::Subject(issuer, rest.to_owned())),
        "scope" => Ok(Who::Scope(issuer, rest.to_owned())),
        "claim" => match rest.split_once('=') {
            Some((path, value)) if !path.is_empty() && !value.is_empty() => {
                Ok(Who::Claim(issuer, path.to_owned(), value.to_owned()))
            }
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
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
        let claims = Map::new();
        let oauth = p
            .grant_for(Caller::OAuth {
                issuer: 0,
                sub: "42",
                scopes: &scopes,
                claims: &claims,
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
    fn oauth_entries_hold_for_their_issuer_only_and_claims_match_lists() {
        let p = Permissions::parse(
            "sub:admin write\niss2:scope:qa read launches\nclaim:realm_access.roles=allure-writer write runs",
        )
        .unwrap();
        let claims: Map<String, Value> =
            serde_json::from_str(r#"{"realm_access":{"roles":["offline","allure-writer"]}}"#)
                .unwrap();
        let none = Map::new();
        let caller = |issuer, sub, scopes: &'static [String], claims| Caller::OAuth {
            issuer,
            sub,
            scopes,
            claims,
        };
        // The first issuer's admin is not the second issuer's `admin`.
        assert_eq!(
            p.grant_for(caller(0, "admin", &[], &none))
                .unwrap()
                .describe(),
            "write"
        );
        assert!(p.grant_for(caller(1, "admin", &[], &none)).is_none());
        let by_claim = p.grant_for(caller(0, "x", &[], &claims)).unwrap();
        assert_eq!(by_claim.describe(), "write (runs)");
        // Without a table an OAuth caller reads; a static token may do everything.
        let open = Permissions::default();
        assert_eq!(
            open.grant_for(caller(0, "x", &[], &none))
                .unwrap()
                .describe(),
            "read"
        );
        assert_eq!(
            open.grant_for(Caller::Token("t")).unwrap().describe(),
            "write"
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
            ("claim:roles read", "name a token"),
            ("iss2:bob read", "after iss2:"),
            ("alice read\nalice write", "two entries"),
        ] {
            let e = Permissions::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
