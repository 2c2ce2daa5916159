//! AQL (Allure Query Language): a guide the model can read, quoting for values we put
//! into queries, and the validation tool.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Access, Ctx, Meta, Render, ToolDef, ToolError, Toolset, paging, required_text, tool};
use crate::allure::AllureError;
use crate::allure::model::Page;

/// The AQL guide: served as the resource `allure://aql-guide` and pointed to by the
/// search tools. Short on purpose: it is read into a model's context.
pub const GUIDE: &str = r#"# AQL (Allure Query Language) quick guide

A query is one or more conditions joined with `and` / `or`, negated with `not`, grouped with ( ).

Operators: `=`  `!=`  `<`  `<=`  `>`  `>=`  `~=` (contains, case-insensitive)
           `in ["a", "b"]`   `is null`   `is not null`
Values:    strings in double quotes ("failed"), numbers (42), true/false.
Dates:     13-digit epoch milliseconds, or now(), dayStartUtc(), weekAgo(), monthAgo().
Custom fields: cf["Epic"] = "Checkout".

Test results (search_test_results): id, name, fullName, status, launch (launch id),
  testCase (test case id), assignee, muted, flaky, known, tag, message, duration, createdDate.
Test cases (search_test_cases): id, name, fullName, status (workflow status name), automated,
  tag, layer, createdBy, createdDate.
Launches (search_launches): id, name, closed, tag, createdBy, createdDate.

Statuses of results: failed, broken, passed, skipped, unknown (lowercase).

Examples:
  status in ["failed", "broken"] and launch = 1234
  name ~= "checkout" and not muted = true
  tag = "smoke" and createdDate > weekAgo()
  automated = false and status = "Active"
  closed = false and name ~= "nightly"

Check a query with validate_aql before a large search: it answers valid/invalid and the count.
"#;

/// `s` as an AQL string literal.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The search endpoints an entity has.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    TestResult,
    TestCase,
    Launch,
}

impl Entity {
    pub fn api(self) -> &'static str {
        match self {
            Entity::TestResult => "/testresult",
            Entity::TestCase => "/testcase",
            Entity::Launch => "/launch",
        }
    }
}

/// Rejects empty and absurd queries before they reach Allure.
pub fn check_query(aql: &str) -> Result<String, ToolError> {
    required_text("aql", aql, 4000)
}

/// A 400 from a `__search` is the query's fault: say so and point to the guide.
pub fn aql_error(e: AllureError) -> ToolError {
    if e.status() == Some(400) {
        ToolError::InvalidArgs(format!(
            "the AQL query was rejected: {e}. Read the resource allure://aql-guide, or check the query with validate_aql"
        ))
    } else {
        ToolError::Upstream(e)
    }
}

/// One page of a search tool's answer, with what was searched.
pub struct Found<T> {
    pub project_id: i64,
    /// The query as sent (trimmed).
    pub aql: String,
    pub page: Page<T>,
}

/// The model's AQL search of one project (`search_*` tools): checks the query and the
/// paging before anything is sent, and answers a rejected query as the caller's error.
pub async fn search<T: DeserializeOwned>(
    ctx: &Ctx,
    entity: Entity,
    project_id: Option<i64>,
    aql: &str,
    (page, size, default_size): (Option<u32>, Option<u32>, u32),
) -> Result<Found<T>, ToolError> {
    let project_id = ctx.project(project_id)?;
    let aql = check_query(aql)?;
    let mut q = paging(page, size, default_size)?;
    q.push(("projectId", project_id.to_string()));
    q.push(("rql", aql.clone()));
    let page = ctx
        .client
        .get(&format!("{}/__search", entity.api()), &q)
        .await
        .map_err(aql_error)?;
    Ok(Found {
        project_id,
        aql,
        page,
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ValidateArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// What the query searches: test_result, test_case or launch.
    pub entity: Entity,
    /// The AQL query, e.g. `status = "failed" and tag = "smoke"`. See the resource allure://aql-guide.
    pub aql: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Validation {
    pub valid: bool,
    /// How many items match, when valid.
    pub count: Option<i64>,
    pub aql: String,
}

impl Render for Validation {
    fn text(&self) -> String {
        if self.valid {
            format!(
                "Valid AQL; {} match(es): {}",
                self.count.unwrap_or(0),
                self.aql
            )
        } else {
            format!(
                "Invalid AQL: {}\nRead the resource allure://aql-guide for the syntax and attributes.",
                self.aql
            )
        }
    }
}

pub fn tools() -> Vec<ToolDef> {
    vec![tool(VALIDATE_AQL, validate_aql)]
}

const VALIDATE_AQL: Meta = Meta {
    name: "validate_aql",
    toolset: Toolset::Results,
    title: "Validate an AQL query",
    description: "Check an AQL query for test results, test cases or launches without running the search: answers whether it is valid and how many items match. Syntax: resource allure://aql-guide.",
    access: Access::Read,
};

async fn validate_aql(ctx: Ctx, a: ValidateArgs) -> Result<Validation, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let aql = check_query(&a.aql)?;
    let r: crate::allure::model::AqlValidation = ctx
        .client
        .get(
            &format!("{}/query/validate", a.entity.api()),
            &[("projectId", pid.to_string()), ("rql", aql.clone())],
        )
        .await?;
    Ok(Validation {
        valid: r.valid,
        count: r.valid.then_some(r.count.unwrap_or(0)),
        aql,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes() {
        assert_eq!(quote(r#"say "hi" \ bye"#), r#""say \"hi\" \\ bye""#);
    }
}
