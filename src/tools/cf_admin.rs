//! Custom field administration, off by default: create, read, change, archive and
//! delete fields; add them to a project or take one out; a field's settings in a
//! project; and a project's values (the Go server's custom field tools). Deletes ask the
//! user first.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Access, Ctx, Done, Meta, Render, Subject, ToolDef, ToolError, Toolset, tool};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateArgs {
    /// The field's name, e.g. "Component".
    pub name: String,
    /// Whether every test case must have a value (default false).
    pub required: Option<bool>,
    /// One value per test case (default true); false allows several.
    pub single_select: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FieldArgs {
    /// Custom field id (list_project_custom_fields shows ids; built-in ones are negative).
    pub custom_field_id: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdateArgs {
    /// Custom field id.
    pub custom_field_id: i64,
    /// New name.
    pub name: Option<String>,
    /// Whether every test case must have a value.
    pub required: Option<bool>,
    /// One value per test case (true) or several (false).
    pub single_select: Option<bool>,
    /// Locked fields cannot be changed in test cases.
    pub locked: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteArgs {
    /// Custom field id.
    pub custom_field_id: i64,
    /// true only after the user agreed. Clients that can ask the user are asked instead.
    pub confirm: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ArchiveArgs {
    /// Custom field id.
    pub custom_field_id: i64,
    /// true archives (hides it from new use), false restores it.
    pub archived: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ProjectFieldsArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// Custom field ids to add (1-20).
    pub custom_field_ids: Vec<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ProjectFieldArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// Custom field id.
    pub custom_field_id: i64,
    /// (update) Whether test cases of this project need a value.
    pub required: Option<bool>,
    /// (update) Whether its values are locked in this project.
    pub locked: Option<bool>,
    /// (remove) true only after the user agreed; clients that can ask are asked instead.
    pub confirm: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ValueArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// (create) The field the value belongs to.
    pub custom_field_id: Option<i64>,
    /// (update, delete) The value's id (list_project_custom_fields shows them).
    pub value_id: Option<i64>,
    /// (create, update) The value's name, e.g. "Checkout".
    pub name: Option<String>,
    /// (delete) true only after the user agreed; clients that can ask are asked instead.
    pub confirm: Option<bool>,
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(CREATE_CUSTOM_FIELD, create_custom_field),
        tool(GET_CUSTOM_FIELD, get_custom_field),
        tool(UPDATE_CUSTOM_FIELD, update_custom_field),
        tool(DELETE_CUSTOM_FIELD, delete_custom_field),
        tool(SET_CUSTOM_FIELD_ARCHIVED, set_custom_field_archived),
        tool(ADD_CUSTOM_FIELDS_TO_PROJECT, add_custom_fields_to_project),
        tool(
            REMOVE_CUSTOM_FIELD_FROM_PROJECT,
            remove_custom_field_from_project,
        ),
        tool(UPDATE_PROJECT_CUSTOM_FIELD, update_project_custom_field),
        tool(CREATE_CUSTOM_FIELD_VALUE, create_custom_field_value),
        tool(UPDATE_CUSTOM_FIELD_VALUE, update_custom_field_value),
        tool(DELETE_CUSTOM_FIELD_VALUE, delete_custom_field_value),
    ]
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub required: Option<bool>,
    #[serde(default)]
    pub single_select: Option<bool>,
    #[serde(default)]
    pub locked: Option<bool>,
    #[serde(default)]
    pub archived: Option<bool>,
}

impl Render for Field {
    fn text(&self) -> String {
        let flag = |b: Option<bool>, yes: &str, no: &str| {
            if b.unwrap_or(false) { yes } else { no }.to_owned()
        };
        format!(
            "Custom field #{} {}: {}, {}{}{}",
            self.id,
            self.name.as_deref().unwrap_or(""),
            flag(self.required, "required", "optional"),
            flag(self.single_select, "one value", "several values"),
            flag(self.locked, ", locked", ""),
            flag(self.archived, ", archived", ""),
        )
    }
}

/// The field's name checked: 1-255 characters, one line.
fn field_name(name: &str) -> Result<String, ToolError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 255 || n.chars().any(char::is_control) {
        return Err(ToolError::InvalidArgs(
            "name must be 1-255 characters on one line".into(),
        ));
    }
    Ok(n.to_owned())
}

/// Built-in fields have negative ids: any id but 0.
fn field_id(id: i64) -> Result<i64, ToolError> {
    if id == 0 {
        return Err(ToolError::InvalidArgs(
            "custom_field_id 0 is not a field (built-in ones are negative; list_project_custom_fields shows them)".into(),
        ));
    }
    Ok(id)
}

fn field_missing(e: crate::allure::AllureError, id: i64) -> ToolError {
    ToolError::not_found(
        e,
        format!("Custom field {id}"),
        "list_project_custom_fields shows a project's fields.",
    )
}

async fn read_field(ctx: &Ctx, id: i64) -> Result<Field, ToolError> {
    ctx.client
        .get::<Field>(&format!("/cf/{}", field_id(id)?), &[])
        .await
        .map_err(|e| field_missing(e, id))
}

const CREATE_CUSTOM_FIELD: Meta = Meta {
    name: "create_custom_field",
    toolset: Toolset::CustomFieldAdmin,
    title: "Create a custom field",
    description: "Create a custom field for the instance; add_custom_fields_to_project then puts it into projects.",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn create_custom_field(ctx: Ctx, a: CreateArgs) -> Result<Field, ToolError> {
    let name = field_name(&a.name)?;
    let body = json!({"name": name, "required": a.required.unwrap_or(false), "singleSelect": a.single_select.unwrap_or(true)});
    Ok(ctx.client.post::<Field>("/cf", body).await?)
}

const GET_CUSTOM_FIELD: Meta = Meta {
    name: "get_custom_field",
    toolset: Toolset::CustomFieldAdmin,
    title: "Get a custom field",
    description: "One custom field: name, required, single or multiple values, locked, archived.",
    access: Access::Read,
};

async fn get_custom_field(ctx: Ctx, a: FieldArgs) -> Result<Field, ToolError> {
    read_field(&ctx, a.custom_field_id).await
}

const UPDATE_CUSTOM_FIELD: Meta = Meta {
    name: "update_custom_field",
    toolset: Toolset::CustomFieldAdmin,
    title: "Change a custom field",
    description: "Rename a custom field or change whether it is required, single-value or locked.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn update_custom_field(ctx: Ctx, a: UpdateArgs) -> Result<Field, ToolError> {
    let id = field_id(a.custom_field_id)?;
    let mut body = json!({});
    if let Some(n) = &a.name {
        body["name"] = json!(field_name(n)?);
    }
    for (k, v) in [
        ("required", a.required),
        ("singleSelect", a.single_select),
        ("locked", a.locked),
    ] {
        if let Some(v) = v {
            body[k] = json!(v);
        }
    }
    if body.as_object().is_some_and(|o| o.is_empty()) {
        return Err(ToolError::InvalidArgs(
            "nothing to change: give name, required, single_select or locked".into(),
        ));
    }
    ctx.client
        .patch::<Field>(&format!("/cf/{id}"), body)
        .await
        .map_err(|e| field_missing(e, id))
}

const DELETE_CUSTOM_FIELD: Meta = Meta {
    name: "delete_custom_field",
    toolset: Toolset::CustomFieldAdmin,
    title: "Delete a custom field",
    description: "Delete a custom field from the instance, with its values in every test case. Asks the user first; set_custom_field_archived only hides it.",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn delete_custom_field(ctx: Ctx, a: DeleteArgs) -> Result<Done, ToolError> {
    let f = read_field(&ctx, a.custom_field_id).await?;
    let name = f.name.unwrap_or_default();
    let what = format!(
        "Delete custom field #{} {name} and its values in every test case of every project",
        f.id
    );
    ctx.confirm(DELETE_CUSTOM_FIELD.name, a.confirm, &what)
        .await?;
    ctx.client
        .delete(&format!("/cf/{}", f.id))
        .await
        .map_err(|e| field_missing(e, f.id))?;
    Ok(Done {
        summary: format!("Deleted custom field #{} {name}.", f.id),
        ids: vec![f.id],
        url: None,
    })
}

const SET_CUSTOM_FIELD_ARCHIVED: Meta = Meta {
    name: "set_custom_field_archived",
    toolset: Toolset::CustomFieldAdmin,
    title: "Archive or restore a custom field",
    description: "Archive a custom field (hidden from new use, values kept) or restore it.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn set_custom_field_archived(ctx: Ctx, a: ArchiveArgs) -> Result<Field, ToolError> {
    let id = field_id(a.custom_field_id)?;
    // The operation takes `archived` as a query parameter and declares no body.
    let path = format!("/cf/{id}/archived");
    let answer = ctx
        .client
        .send(
            reqwest::Method::POST,
            &path,
            &[("archived", a.archived.to_string())],
            None,
        )
        .await
        .map_err(|e| field_missing(e, id))?;
    Ok(answer.json(&reqwest::Method::POST, &path)?)
}

const ADD_CUSTOM_FIELDS_TO_PROJECT: Meta = Meta {
    name: "add_custom_fields_to_project",
    toolset: Toolset::CustomFieldAdmin,
    title: "Add custom fields to a project",
    description: "Make custom fields of the instance available in a project.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn add_custom_fields_to_project(ctx: Ctx, a: ProjectFieldsArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    if a.custom_field_ids.is_empty() || a.custom_field_ids.len() > 20 {
        return Err(ToolError::InvalidArgs(
            "custom_field_ids must hold 1-20 ids".into(),
        ));
    }
    let ids = a
        .custom_field_ids
        .iter()
        .map(|i| field_id(*i))
        .collect::<Result<Vec<_>, _>>()?;
    let body = json!({"customFieldsIds": ids, "projectsIds": [pid]});
    let answer = ctx
        .client
        .post::<Value>("/cfbulk/add-to-projects", body)
        .await;
    ctx.explain(Subject::Project(pid), answer).await?;
    Ok(Done {
        summary: format!("Project {pid} now has custom fields {ids:?}."),
        ids,
        url: None,
    })
}

const REMOVE_CUSTOM_FIELD_FROM_PROJECT: Meta = Meta {
    name: "remove_custom_field_from_project",
    toolset: Toolset::CustomFieldAdmin,
    title: "Take a custom field out of a project",
    description: "Remove a custom field from a project (its test cases lose their values of it). Asks the user first.",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn remove_custom_field_from_project(
    ctx: Ctx,
    a: ProjectFieldArgs,
) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let f = read_field(&ctx, a.custom_field_id).await?;
    let name = f.name.unwrap_or_default();
    let what = format!(
        "Remove custom field #{} {name} from project {pid}; its test cases lose their values of it",
        f.id
    );
    ctx.confirm(REMOVE_CUSTOM_FIELD_FROM_PROJECT.name, a.confirm, &what)
        .await?;
    let answer = ctx
        .client
        .send(
            reqwest::Method::DELETE,
            "/cfproject/remove",
            &[
                ("customFieldId", f.id.to_string()),
                ("projectId", pid.to_string()),
            ],
            None,
        )
        .await;
    ctx.explain(Subject::Project(pid), answer).await?;
    Ok(Done {
        summary: format!("Project {pid} no longer has custom field #{} {name}.", f.id),
        ids: vec![f.id],
        url: None,
    })
}

const UPDATE_PROJECT_CUSTOM_FIELD: Meta = Meta {
    name: "update_project_custom_field",
    toolset: Toolset::CustomFieldAdmin,
    title: "Change a custom field in a project",
    description: "Whether a custom field is required or locked in one project.",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn update_project_custom_field(ctx: Ctx, a: ProjectFieldArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let id = field_id(a.custom_field_id)?;
    let mut body = json!({});
    for (k, v) in [("required", a.required), ("locked", a.locked)] {
        if let Some(v) = v {
            body[k] = json!(v);
        }
    }
    if body.as_object().is_some_and(|o| o.is_empty()) {
        return Err(ToolError::InvalidArgs(
            "nothing to change: give required or locked".into(),
        ));
    }
    let answer = ctx
        .client
        .patch::<Value>(&format!("/project/{pid}/cf/{id}"), body)
        .await;
    answer.map_err(|e| field_missing(e, id))?;
    Ok(Done {
        summary: format!("Custom field #{id} in project {pid} changed."),
        ids: vec![id],
        url: None,
    })
}

fn value_name(name: Option<&str>) -> Result<String, ToolError> {
    field_name(name.unwrap_or(""))
        .map_err(|_| ToolError::InvalidArgs("name must be 1-255 characters on one line".into()))
}

fn value_missing(e: crate::allure::AllureError, id: i64) -> ToolError {
    ToolError::not_found(
        e,
        format!("Custom field value {id}"),
        "list_project_custom_fields shows a project's fields with their values.",
    )
}

const CREATE_CUSTOM_FIELD_VALUE: Meta = Meta {
    name: "create_custom_field_value",
    toolset: Toolset::CustomFieldAdmin,
    title: "Add a value to a custom field",
    description: "Add a value (e.g. a new component) to a custom field in a project.",
    access: Access::Write {
        destructive: false,
        idempotent: false,
    },
};

async fn create_custom_field_value(ctx: Ctx, a: ValueArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let Some(field) = a.custom_field_id else {
        return Err(ToolError::InvalidArgs(
            "custom_field_id is required: the field the value belongs to".into(),
        ));
    };
    let field = field_id(field)?;
    let name = value_name(a.name.as_deref())?;
    let body = json!({"customField": {"id": field}, "name": name});
    let answer = ctx
        .client
        .post::<Value>(&format!("/project/{pid}/cfv"), body)
        .await;
    let v = answer.map_err(|e| field_missing(e, field))?;
    let id = v.get("id").and_then(Value::as_i64).unwrap_or(0);
    Ok(Done {
        summary: format!("Custom field #{field} has the value #{id} {name} in project {pid}."),
        ids: vec![id],
        url: None,
    })
}

fn value_id(a: &ValueArgs) -> Result<i64, ToolError> {
    match a.value_id {
        Some(id) if id != 0 => Ok(id),
        _ => Err(ToolError::InvalidArgs(
            "value_id is required (list_project_custom_fields shows value ids)".into(),
        )),
    }
}

const UPDATE_CUSTOM_FIELD_VALUE: Meta = Meta {
    name: "update_custom_field_value",
    toolset: Toolset::CustomFieldAdmin,
    title: "Rename a custom field value",
    description: "Rename a custom field's value in a project (test cases keep it, under the new name).",
    access: Access::Write {
        destructive: false,
        idempotent: true,
    },
};

async fn update_custom_field_value(ctx: Ctx, a: ValueArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let id = value_id(&a)?;
    let name = value_name(a.name.as_deref())?;
    let answer = ctx
        .client
        .patch::<Value>(&format!("/project/{pid}/cfv/{id}"), json!({"name": name}))
        .await;
    answer.map_err(|e| value_missing(e, id))?;
    Ok(Done {
        summary: format!("Custom field value #{id} is '{name}' now."),
        ids: vec![id],
        url: None,
    })
}

const DELETE_CUSTOM_FIELD_VALUE: Meta = Meta {
    name: "delete_custom_field_value",
    toolset: Toolset::CustomFieldAdmin,
    title: "Delete a custom field value",
    description: "Delete a custom field's value in a project; its test cases lose it. Asks the user first.",
    access: Access::Write {
        destructive: true,
        idempotent: true,
    },
};

async fn delete_custom_field_value(ctx: Ctx, a: ValueArgs) -> Result<Done, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let id = value_id(&a)?;
    let what = format!("Delete custom field value #{id} in project {pid}; its test cases lose it");
    ctx.confirm(DELETE_CUSTOM_FIELD_VALUE.name, a.confirm, &what)
        .await?;
    ctx.client
        .delete(&format!("/project/{pid}/cfv/{id}"))
        .await
        .map_err(|e| value_missing(e, id))?;
    Ok(Done {
        summary: format!("Deleted custom field value #{id} in project {pid}."),
        ids: vec![id],
        url: None,
    })
}
