//! `search_api_operations`: finds Allure TestOps API operations in a compact index of
//! the published description (26.1.1, 756 operations, written by
//! `scripts/api-operations-index.py`), so that `allure_api_request` reaches what the
//! curated tools do not cover without guessing paths and bodies.

use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Access, Ctx, Meta, Render, ToolDef, ToolError, Toolset, tool};

/// The index: one tab-separated line per operation (see the script for the columns).
const INDEX: &str = include_str!("data/api-operations.tsv");

const DEFAULT_LIMIT: usize = 8;
const MAX_QUERY: usize = 200;
const MAX_WORDS: usize = 12;
const MAX_LIMIT: usize = 25;

/// One operation of the index.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Operation {
    pub method: String,
    /// Below the API prefix, as allure_api_request takes it; `{id}` and the like are
    /// path parameters.
    pub path: String,
    pub summary: String,
    /// `name:where` (p path, q query), `!` required; `paged` takes page, size, sort.
    pub parameters: String,
    /// The JSON body: its schema and top-level fields (`*` required).
    pub body: Option<String>,
    /// The success status and the schema answered.
    pub answer: String,
    /// Its words, split once: path and area, summary, parameters and body fields.
    #[serde(skip)]
    words: [Vec<String>; 3],
}

/// The parsed index, once per process.
pub fn operations() -> &'static [Operation] {
    static OPS: OnceLock<Vec<Operation>> = OnceLock::new();
    OPS.get_or_init(|| {
        INDEX
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let c: Vec<&str> = l.split('\t').collect();
                let [method, path, area, summary, parameters, body, answer] = c[..] else {
                    return None;
                };
                let words = [
                    words(&path.replace("{", " {"))
                        .into_iter()
                        .chain(words(area))
                        .collect(),
                    words(summary),
                    words(parameters).into_iter().chain(words(body)).collect(),
                ];
                Some(Operation {
                    words,
                    method: method.to_owned(),
                    path: path.to_owned(),
                    summary: summary.to_owned(),
                    parameters: parameters.to_owned(),
                    body: (!body.is_empty()).then(|| body.to_owned()),
                    answer: answer.to_owned(),
                })
            })
            .collect()
    })
}

/// Lower-case words of `s`, camelCase and snake_case split (`testCase` → test, case).
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in s.chars() {
        if ch.is_alphanumeric() {
            if ch.is_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
            cur.extend(ch.to_lowercase());
        } else {
            prev_lower = false;
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Whether a query word names an index word: equal, a plural, or (from 4 letters) a
/// prefix of it ("env" finds "environment" only when written "envi…").
fn names(q: &str, w: &str) -> bool {
    q == w
        || w.strip_suffix('s') == Some(q)
        || q.strip_suffix('s') == Some(w)
        || (q.len() >= 4 && w.starts_with(q))
}

/// How well `op` answers the query words: a word in the path or area counts most,
/// then the summary, then a parameter or body field.
fn score(op: &Operation, query: &[String]) -> u32 {
    let [path, summary, rest] = &op.words;
    let mut total = 0;
    for q in query {
        let hit = |ws: &[String]| ws.iter().any(|w| names(q, w));
        total += if hit(path) {
            6
        } else if hit(summary) {
            4
        } else if hit(rest) {
            1
        } else {
            0
        };
    }
    total
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// What to do, in a few words (at most 200 characters), e.g. "launch environment", "test case members".
    pub query: String,
    /// Only this HTTP method (GET, POST, PATCH, PUT, DELETE).
    pub method: Option<String>,
    /// Operations to return, 1-25 (default 8).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchAnswer {
    pub operations: Vec<Operation>,
    /// Operations in the index (the whole published API).
    pub indexed: usize,
}

impl Render for SearchAnswer {
    fn text(&self) -> String {
        if self.operations.is_empty() {
            return format!(
                "No operation of the {} matches; try other words (an entity such as launch, testcase, defect, and an action).",
                self.indexed
            );
        }
        let mut s = String::new();
        for o in &self.operations {
            s.push_str(&format!("{} {} - {}", o.method, o.path, o.summary));
            if !o.parameters.is_empty() {
                s.push_str(&format!(" [{}]", o.parameters));
            }
            if let Some(b) = &o.body {
                s.push_str(&format!(" body {b}"));
            }
            if !o.answer.is_empty() {
                s.push_str(&format!(" -> {}", o.answer));
            }
            s.push('\n');
        }
        s.push_str("Call one with allure_api_request; anything but GET asks the user first.");
        s
    }
}

pub fn tools() -> Vec<ToolDef> {
    vec![tool(SEARCH_API_OPERATIONS, search_api_operations)]
}

const SEARCH_API_OPERATIONS: Meta = Meta {
    name: "search_api_operations",
    toolset: Toolset::Raw,
    title: "Find an Allure TestOps API operation",
    description: "Search the whole Allure TestOps API (756 operations) by words: method, path, parameters and body fields, for allure_api_request. Use only when no other tool does the job.",
    access: Access::Read,
};

async fn search_api_operations(_ctx: Ctx, a: SearchArgs) -> Result<SearchAnswer, ToolError> {
    // A search is synchronous work over every operation: its size is bounded here.
    if a.query.chars().count() > MAX_QUERY {
        return Err(ToolError::InvalidArgs(format!(
            "query must be at most {MAX_QUERY} characters: a few words such as \"launch environment\""
        )));
    }
    let mut query = words(&a.query);
    query.sort();
    query.dedup();
    query.truncate(MAX_WORDS);
    if query.is_empty() {
        return Err(ToolError::InvalidArgs(
            "query must hold a word, e.g. \"launch environment\"".into(),
        ));
    }
    let limit = match a.limit {
        None => DEFAULT_LIMIT,
        Some(n @ 1..=25) => n as usize,
        Some(n) => {
            return Err(ToolError::InvalidArgs(format!(
                "limit must be 1..={MAX_LIMIT}, got {n}"
            )));
        }
    };
    let method = a.method.map(|m| m.trim().to_ascii_uppercase());
    if let Some(m) = &method
        && !["GET", "POST", "PATCH", "PUT", "DELETE"].contains(&m.as_str())
    {
        return Err(ToolError::InvalidArgs(format!(
            "method '{m}' is not GET, POST, PATCH, PUT or DELETE"
        )));
    }
    let ops = operations();
    let mut found: Vec<(u32, &Operation)> = ops
        .iter()
        .filter(|o| method.as_ref().is_none_or(|m| *m == o.method))
        .map(|o| (score(o, &query), o))
        .filter(|(s, _)| *s > 0)
        .collect();
    // Best first; among equals the shorter path (the entity before its sub-resources).
    found.sort_by(|(sa, a), (sb, b)| {
        sb.cmp(sa)
            .then(a.path.len().cmp(&b.path.len()))
            .then(a.path.cmp(&b.path))
    });
    Ok(SearchAnswer {
        operations: found
            .into_iter()
            .take(limit)
            .map(|(_, o)| o.clone())
            .collect(),
        indexed: ops.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_holds_every_operation_of_the_description() {
        let ops = operations();
        assert_eq!(ops.len(), 756);
        assert_eq!(
            INDEX.lines().filter(|l| !l.starts_with('#')).count(),
            756,
            "a line the parser dropped"
        );
        assert!(ops.iter().any(|o| o.method == "POST"
            && o.path == "/launch/{id}/copy"
            && o.body.as_deref().is_some_and(|b| b.contains("launchName"))));
    }

    #[test]
    fn words_split_camel_and_snake_case() {
        assert_eq!(words("testCase_tree/{id}"), ["test", "case", "tree", "id"]);
        assert_eq!(words("LaunchPatchDto"), ["launch", "patch", "dto"]);
    }
}
