//! Argument checks and paging shared by the tools: ids, bulk selections, texts, pages.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::ToolError;
use crate::allure::model::TestStatus;

/// Paging arguments shared by list tools.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Where a page is in a list, for the model to ask for the next one.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PageInfo {
    /// 0-based page number of this answer.
    pub page: i64,
    pub size: i64,
    /// Items in all pages.
    pub total: i64,
    pub has_more: bool,
    /// The page to ask for next, when there is one.
    pub next_page: Option<i64>,
}

impl PageInfo {
    pub fn of<T>(p: &crate::allure::Page<T>) -> PageInfo {
        PageInfo {
            page: p.number,
            size: p.size,
            total: p.total_elements,
            has_more: p.has_more(),
            next_page: p.has_more().then_some(p.number + 1),
        }
    }

    pub fn text(&self) -> String {
        if self.has_more {
            format!(
                "page {} of {} items; next_page={}",
                self.page,
                self.total,
                self.page + 1
            )
        } else {
            format!("{} items in all", self.total)
        }
    }
}

/// Query pairs of an upstream call.
pub type Query = Vec<(&'static str, String)>;

/// Checks `page`/`size` and gives them as query pairs.
pub fn paging(page: Option<u32>, size: Option<u32>, default_size: u32) -> Result<Query, ToolError> {
    let size = size.unwrap_or(default_size);
    if size == 0 || size > MAX_PAGE_SIZE {
        return Err(ToolError::InvalidArgs(format!(
            "size must be 1..={MAX_PAGE_SIZE}, got {size}"
        )));
    }
    Ok(vec![
        ("page", page.unwrap_or(0).to_string()),
        ("size", size.to_string()),
    ])
}

/// Checks an entity id argument: Allure ids of user-made entities are positive.
pub fn positive_id(name: &str, id: i64, hint: &str) -> Result<i64, ToolError> {
    if id <= 0 {
        return Err(ToolError::InvalidArgs(format!(
            "{name} {id} is not a valid id; {hint}"
        )));
    }
    Ok(id)
}

/// The most ids one bulk call may touch: bigger selections are a mistake more often than not.
pub const MAX_BULK: usize = 100;

/// Checks a bulk selection: not empty, not too big, valid ids; duplicates are dropped.
pub fn bulk_ids(name: &str, ids: &[i64]) -> Result<Vec<i64>, ToolError> {
    if ids.is_empty() {
        return Err(ToolError::InvalidArgs(format!(
            "{name} is empty; name at least one id"
        )));
    }
    if ids.len() > MAX_BULK {
        return Err(ToolError::InvalidArgs(format!(
            "{name} has {} ids; at most {MAX_BULK} per call, split the selection",
            ids.len()
        )));
    }
    if let Some(bad) = ids.iter().find(|i| **i <= 0) {
        return Err(ToolError::InvalidArgs(format!(
            "{name} contains {bad}, which is not a valid id"
        )));
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(id) {
            out.push(*id);
        }
    }
    Ok(out)
}

/// A non-empty, trimmed text argument.
pub fn required_text(name: &str, value: &str, max: usize) -> Result<String, ToolError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ToolError::InvalidArgs(format!("{name} must not be empty")));
    }
    if v.chars().count() > max {
        return Err(ToolError::InvalidArgs(format!(
            "{name} is longer than {max} characters"
        )));
    }
    Ok(v.to_owned())
}

/// The body that creates a named thing in a project (a test case, a defect): the name
/// required and trimmed, the description only when it says something.
pub fn created_body(
    project_id: i64,
    name: &str,
    description: Option<&str>,
) -> Result<Value, ToolError> {
    let name = required_text("name", name, 255)?;
    let mut body = serde_json::json!({"projectId": project_id, "name": name});
    if let Some(d) = description.map(str::trim).filter(|d| !d.is_empty()) {
        body["description"] = Value::from(d);
    }
    Ok(body)
}

/// Parses a status filter: one status, or a comma list (`failed,broken`), in any case.
/// The argument stays a string (a list is one), so the check is here, not in serde.
pub fn parse_statuses(raw: &str) -> Result<Vec<TestStatus>, ToolError> {
    let mut out = Vec::new();
    for s in raw
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
    {
        let Some(status) = TestStatus::from_name(&s) else {
            let names: Vec<&str> = TestStatus::ALL.iter().map(|s| s.as_str()).collect();
            return Err(ToolError::InvalidArgs(format!(
                "status '{s}' is not one of {}",
                names.join(", ")
            )));
        };
        if !out.contains(&status) {
            out.push(status);
        }
    }
    if out.is_empty() {
        return Err(ToolError::InvalidArgs("status is empty".into()));
    }
    Ok(out)
}

/// Keys of another system (issue keys, test keys) as a tool takes them: trimmed, empty
/// ones and repeats left out, each one word of at most 255 characters.
pub fn distinct_keys(keys: &[String], what: &str) -> Result<Vec<String>, ToolError> {
    let mut out: Vec<String> = Vec::new();
    for k in keys.iter().map(|k| k.trim()).filter(|k| !k.is_empty()) {
        if k.len() > 255 || k.chars().any(char::is_whitespace) {
            return Err(ToolError::InvalidArgs(format!("'{k}' is not {what}")));
        }
        if !out.iter().any(|x| x == k) {
            out.push(k.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse() {
        assert_eq!(
            parse_statuses("Failed, broken,failed").unwrap(),
            vec![TestStatus::Failed, TestStatus::Broken]
        );
        assert_eq!(
            parse_statuses("red").unwrap_err().to_string(),
            "Invalid arguments: status 'red' is not one of failed, broken, passed, skipped, unknown"
        );
        assert!(parse_statuses(" , ").is_err());
    }
}
