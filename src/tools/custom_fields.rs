//! Custom fields (Feature, Epic, Owner, Priority…): a project's fields and their values,
//! and setting a test case's values by name. Values are set through the v2 bulk routes
//! for the one case (remove the field's old values, add the new): the single-case
//! `PATCH /testcase/{id}/cfv` of the description is reported to answer 500 on real
//! instances (the Go server's changelog; docs/allure-api.md).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Access, Ctx, Done, Meta, Render, ToolDef, ToolError, Toolset, positive_id, tool};
use crate::allure::Page;
use crate::allure::model::{CaseFieldValues, CustomFieldValue, ProjectField, TestCase};

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(LIST_PROJECT_CUSTOM_FIELDS, list_project_custom_fields),
        tool(
            UPDATE_TEST_CASE_CUSTOM_FIELDS,
            update_test_case_custom_fields,
        ),
    ]
}

/// Fields listed at most, and values shown per field.
const MAX_FIELDS: usize = 50;
const VALUES_SHOWN: usize = 25;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FieldsArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SetFieldsArgs {
    /// Test case id.
    pub test_case_id: i64,
    /// Field name to value names, e.g. {"Feature": ["Login"], "Priority": ["High"]}; an empty list clears the field.
    pub fields: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FieldLine {
    pub id: i64,
    pub name: String,
    pub required: bool,
    /// Its values (the first 25).
    pub values: Vec<String>,
    /// How many values it has in all.
    pub values_total: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FieldList {
    pub project_id: i64,
    pub fields: Vec<FieldLine>,
    /// How many fields the project has (the first 50 are listed).
    pub fields_total: i64,
}

impl Render for FieldList {
    fn text(&self) -> String {
        let mut s = format!(
            "Custom fields of project {} (update_test_case_custom_fields sets them by name):\n",
            self.project_id
        );
        if self.fields_total > self.fields.len() as i64 {
            s.push_str(&format!(
                "(the first {} of {}; update_test_case_custom_fields finds any by name)\n",
                self.fields.len(),
                self.fields_total
            ));
        }
        for f in &self.fields {
            let more = f.values_total - f.values.len() as i64;
            s.push_str(&format!(
                "- {} (field {}{}): {}{}\n",
                f.name,
                f.id,
                if f.required { ", required" } else { "" },
                f.values.join(", "),
                if more > 0 {
                    format!(" … and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        s
    }
}

/// A project's fields (those whose name contains `query`, when given): the first
/// [`MAX_FIELDS`], and how many there are.
async fn project_fields(
    ctx: &Ctx,
    pid: i64,
    query: Option<&str>,
) -> Result<(Vec<ProjectField>, i64), ToolError> {
    let mut q = vec![("page", "0".to_owned()), ("size", MAX_FIELDS.to_string())];
    if let Some(name) = query {
        q.push(("query", name.to_owned()));
    }
    let page: Page<ProjectField> = ctx
        .project_get(&format!("/project/{pid}/cf"), pid, &q)
        .await?;
    Ok((page.content, page.total_elements))
}

/// A field's values whose name contains `query` (all when empty).
async fn field_values(
    ctx: &Ctx,
    pid: i64,
    field: i64,
    query: &str,
    size: usize,
) -> Result<Page<CustomFieldValue>, ToolError> {
    let mut q = vec![
        ("customFieldId", field.to_string()),
        ("page", "0".into()),
        ("size", size.to_string()),
    ];
    if !query.is_empty() {
        q.push(("query", query.to_owned()));
    }
    Ok(ctx.client.get(&format!("/project/{pid}/cfv"), &q).await?)
}

const LIST_PROJECT_CUSTOM_FIELDS: Meta = Meta {
    name: "list_project_custom_fields",
    toolset: Toolset::Testcases,
    title: "List a project's custom fields",
    description: "A project's custom fields (Feature, Epic, Owner, Priority…) with their values, for update_test_case_custom_fields.",
    access: Access::Read,
};

async fn list_project_custom_fields(ctx: Ctx, a: FieldsArgs) -> Result<FieldList, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let mut fields = Vec::new();
    let (all, total) = project_fields(&ctx, pid, None).await?;
    for f in all {
        let Some(id) = f.field_id() else { continue };
        let values = field_values(&ctx, pid, id, "", VALUES_SHOWN).await?;
        fields.push(FieldLine {
            id,
            name: f.display_name(),
            required: f.required.unwrap_or(false),
            values_total: values.total_elements,
            values: values.content.into_iter().map(|v| v.name).collect(),
        });
    }
    Ok(FieldList {
        project_id: pid,
        fields_total: total,
        fields,
    })
}

const UPDATE_TEST_CASE_CUSTOM_FIELDS: Meta = Meta {
    name: "update_test_case_custom_fields",
    toolset: Toolset::Testcases,
    title: "Set a test case's custom fields",
    description: "Set a test case's custom field values by name (Feature, Epic, Owner, Priority…): each field named gets exactly the values given; others stay.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn update_test_case_custom_fields(ctx: Ctx, a: SetFieldsArgs) -> Result<Done, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    if a.fields.is_empty() {
        return Err(ToolError::InvalidArgs(
            "fields is empty; name at least one field, e.g. {\"Priority\": [\"High\"]}".into(),
        ));
    }
    let (tc, pid) = case_project(&ctx, id).await?;
    // Every name is resolved before anything changes.
    let wanted = resolve(&ctx, pid, &a.fields).await?;
    apply(&ctx, pid, id, &wanted).await?;
    let said: Vec<String> = a
        .fields
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                format!("{k} cleared")
            } else {
                format!("{k} = {}", v.join(", "))
            }
        })
        .collect();
    Ok(Done {
        summary: format!("Test case #{id} {}: {}.", tc.name, said.join("; ")),
        ids: vec![id],
        url: Some(super::testcases::case_url(&ctx, Some(pid), id)),
    })
}

/// Field names to the field's id and the ids of the values named, or a refusal naming
/// what the project has. Nothing is written.
/// Test case `id` and its project (custom fields are a project's): the case's own, or the
/// default project when the case does not say.
pub(super) async fn case_project(ctx: &Ctx, id: i64) -> Result<(TestCase, i64), ToolError> {
    let tc: TestCase = ctx
        .client
        .get(&format!("/testcase/{id}"), &[])
        .await
        .map_err(|e| ToolError::case_not_found(e, id))?;
    let pid = match tc.project_id {
        Some(p) => p,
        None => ctx.project(None)?,
    };
    Ok((tc, pid))
}

pub(super) async fn resolve(
    ctx: &Ctx,
    pid: i64,
    asked: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<(i64, Vec<i64>)>, ToolError> {
    let mut wanted: Vec<(i64, Vec<i64>)> = Vec::new();
    for (name, values) in asked {
        // Looked up by name, so a project with many fields finds any of them.
        let (found, _) = project_fields(ctx, pid, Some(name.trim())).await?;
        let field = found
            .iter()
            .find(|f| f.display_name().eq_ignore_ascii_case(name.trim()))
            .and_then(ProjectField::field_id);
        let Some(field) = field else {
            let (all, total) = project_fields(ctx, pid, None).await?;
            let names: Vec<String> = all.iter().map(ProjectField::display_name).collect();
            let more = if total > all.len() as i64 {
                format!(" (the first {} of {total})", all.len())
            } else {
                String::new()
            };
            return Err(ToolError::InvalidArgs(format!(
                "project {pid} has no custom field '{name}'; it has: {}{more}",
                names.join(", ")
            )));
        };
        let mut ids = Vec::new();
        for v in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
            ids.push(value_id(ctx, pid, field, name, v).await?);
        }
        wanted.push((field, ids));
    }
    Ok(wanted)
}

/// Gives test case `case` exactly the values `wanted` of each field named there: the
/// field's old values are removed, the new added; other fields stay.
pub(super) async fn apply(
    ctx: &Ctx,
    pid: i64,
    case: i64,
    wanted: &[(i64, Vec<i64>)],
) -> Result<(), ToolError> {
    let selection = json!({"projectId": pid, "testCasesInclude": [case], "inverted": false});
    let held: Vec<CaseFieldValues> = ctx
        .client
        .post("/v2/test-case/bulk/cfv", json!({"selection": selection}))
        .await?;
    let keep: Vec<i64> = wanted
        .iter()
        .flat_map(|(_, ids)| ids.iter().copied())
        .collect();
    let old: Vec<i64> = held
        .iter()
        .filter(|h| {
            let f = h.custom_field.as_ref().and_then(ProjectField::field_id);
            wanted.iter().any(|(w, _)| Some(*w) == f)
        })
        .flat_map(|h| h.values.iter().map(|v| v.id))
        .filter(|v| !keep.contains(v))
        .collect();
    // The new values first: a failure then leaves the old ones in place too, never none.
    let new: Vec<serde_json::Value> = wanted
        .iter()
        .flat_map(|(field, ids)| {
            ids.iter()
                .map(move |v| json!({"id": v, "customField": {"id": field}}))
        })
        .collect();
    if !new.is_empty() {
        let _: Option<serde_json::Value> = ctx
            .client
            .post(
                "/v2/test-case/bulk/cfv/add",
                json!({"selection": selection, "cfv": new}),
            )
            .await?;
    }
    if !old.is_empty() {
        let _: Option<serde_json::Value> = ctx
            .client
            .post(
                "/v2/test-case/bulk/cfv/remove",
                json!({"selection": selection, "ids": old}),
            )
            .await
            .map_err(|e| {
                ToolError::Other(format!(
                    "the new values were added, but removing the old ones ({old:?}) failed: {}",
                    ToolError::from(e)
                ))
            })?;
    }
    Ok(())
}

/// The id of the test layer named `name` (UI, API, Unit…), or a refusal naming them.
pub(super) async fn layer_id(ctx: &Ctx, name: &str) -> Result<i64, ToolError> {
    let page: Page<crate::allure::model::IdName> = ctx
        .client
        .get(
            "/testlayer",
            &[("page", "0".into()), ("size", "100".into())],
        )
        .await?;
    if let Some(l) = page.content.iter().find(|l| {
        l.name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(name.trim()))
    }) {
        return Ok(l.id);
    }
    let names: Vec<&str> = page
        .content
        .iter()
        .filter_map(|l| l.name.as_deref())
        .collect();
    Err(ToolError::InvalidArgs(format!(
        "no test layer '{name}'; the layers are: {}",
        names.join(", ")
    )))
}

/// The id of the value named `value` of a field, or a refusal naming the values the
/// field has: a new value is an administrator's choice, not a side effect of a typo.
async fn value_id(
    ctx: &Ctx,
    pid: i64,
    field: i64,
    field_name: &str,
    value: &str,
) -> Result<i64, ToolError> {
    let found = field_values(ctx, pid, field, value, 50).await?;
    if let Some(v) = found
        .content
        .iter()
        .find(|v| v.name.eq_ignore_ascii_case(value))
    {
        return Ok(v.id);
    }
    let all = field_values(ctx, pid, field, "", VALUES_SHOWN).await?;
    let names: Vec<String> = all.content.into_iter().map(|v| v.name).collect();
    Err(ToolError::InvalidArgs(format!(
        "custom field '{field_name}' has no value '{value}'; it has: {} (list_project_custom_fields lists them)",
        names.join(", ")
    )))
}
