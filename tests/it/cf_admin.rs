//! Custom field administration against the fake: each tool's request as the API
//! description names it, what changes, and that deletes change nothing without the
//! user's agreement.

use fake_testops::FakeTestOps;
use serde_json::{Value, json};

use crate::common::{InProcess, is_error, text};

const SETS: &[(&str, &str)] = &[("ALLURE_TOOLSETS", "custom_field_admin,testcases")];

fn field(fake: &FakeTestOps, name: &str) -> Option<(i64, bool, bool)> {
    fake.with_data(|d| {
        d.custom_fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| (f.id, f.required, f.archived))
    })
}

fn sent(fake: &FakeTestOps, method: &str, path: &str) -> Value {
    let r = fake.requests_to(method, path);
    serde_json::from_str(&r.last().expect("a request").body).unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_field_is_created_changed_put_in_a_project_and_given_values() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, SETS).await;
    let ok = |r: &rmcp::model::CallToolResult| assert!(!is_error(r), "{}", text(r));

    let r = s
        .call(
            "create_custom_field",
            json!({"name": " Component ", "required": true}),
        )
        .await;
    ok(&r);
    assert_eq!(
        sent(&fake, "POST", "/cf"),
        json!({"name": "Component", "required": true, "singleSelect": true})
    );
    let (id, required, _) = field(&fake, "Component").unwrap();
    assert!(required);
    assert!(text(&r).contains("Component: required"), "{}", text(&r));
    let r = s
        .call("create_custom_field", json!({"name": "Component"}))
        .await;
    assert!(is_error(&r) && text(&r).contains("409"), "{}", text(&r));

    ok(&s
        .call(
            "update_custom_field",
            json!({"custom_field_id": id, "required": false, "name": "Module"}),
        )
        .await);
    assert_eq!(field(&fake, "Module").map(|f| f.1), Some(false));
    let r = s
        .call("update_custom_field", json!({"custom_field_id": id}))
        .await;
    assert!(
        is_error(&r) && text(&r).contains("nothing to change"),
        "{}",
        text(&r)
    );
    let r = s
        .call("get_custom_field", json!({"custom_field_id": 999_999}))
        .await;
    assert!(
        is_error(&r) && text(&r).contains("Custom field 999999 not found"),
        "{}",
        text(&r)
    );

    ok(&s
        .call(
            "set_custom_field_archived",
            json!({"custom_field_id": id, "archived": true}),
        )
        .await);
    assert_eq!(
        fake.requests_to("POST", "/cf/*/archived")[0].query,
        "archived=true"
    );
    assert_eq!(field(&fake, "Module").map(|f| f.2), Some(true));

    // Not in project 2 until added; then listed there with a new value.
    let listed = async |s: &InProcess| {
        let r = s
            .call("list_project_custom_fields", json!({"project_id": 2}))
            .await;
        text(&r)
    };
    assert!(!listed(&s).await.contains("Module"));
    ok(&s
        .call(
            "add_custom_fields_to_project",
            json!({"project_id": 2, "custom_field_ids": [id]}),
        )
        .await);
    assert_eq!(
        sent(&fake, "POST", "/cfbulk/add-to-projects"),
        json!({"customFieldsIds": [id], "projectsIds": [2]})
    );
    ok(&s
        .call(
            "update_project_custom_field",
            json!({"project_id": 2, "custom_field_id": id, "locked": true}),
        )
        .await);
    let r = s
        .call(
            "create_custom_field_value",
            json!({"project_id": 2, "custom_field_id": id, "name": "Payments"}),
        )
        .await;
    ok(&r);
    let value = r.structured_content.unwrap()["ids"][0].as_i64().unwrap();
    assert!(listed(&s).await.contains("Payments"));
    ok(&s
        .call(
            "update_custom_field_value",
            json!({"project_id": 2, "value_id": value, "name": "Billing"}),
        )
        .await);
    assert!(listed(&s).await.contains("Billing"));
    let r = s
        .call(
            "create_custom_field_value",
            json!({"project_id": 2, "name": "x"}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("custom_field_id is required"),
        "{}",
        text(&r)
    );
    s.stop().await;
}

#[tokio::test]
async fn deletes_and_removals_need_the_users_agreement() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, SETS).await;
    let (epic, _, _) = field(&fake, "Epic").unwrap();
    let value = fake.with_data(|d| d.cf_values.iter().find(|v| v.field_id == epic).unwrap().id);
    for (tool, args) in [
        (
            "delete_custom_field_value",
            json!({"project_id": 1, "value_id": value}),
        ),
        (
            "remove_custom_field_from_project",
            json!({"project_id": 1, "custom_field_id": epic}),
        ),
        ("delete_custom_field", json!({"custom_field_id": epic})),
    ] {
        let r = s.call(tool, args.clone()).await;
        assert!(
            is_error(&r) && text(&r).contains("confirm: true"),
            "{tool}: {}",
            text(&r)
        );
        assert!(
            fake.requests().iter().all(|r| r.method != "DELETE"),
            "{tool} sent a DELETE"
        );
    }
    let r = s
        .call(
            "delete_custom_field_value",
            json!({"project_id": 1, "value_id": value, "confirm": true}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(fake.with_data(|d| d.cf_values.iter().all(|v| v.id != value)));
    let r = s
        .call(
            "remove_custom_field_from_project",
            json!({"project_id": 1, "custom_field_id": epic, "confirm": true}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let q = &fake.requests_to("DELETE", "/cfproject/remove")[0].query;
    assert!(
        q.contains(&format!("customFieldId={epic}")) && q.contains("projectId=1"),
        "{q}"
    );
    assert!(fake.with_data(|d| {
        !d.custom_fields
            .iter()
            .find(|f| f.id == epic)
            .unwrap()
            .in_project(1)
    }));
    let r = s
        .call(
            "delete_custom_field",
            json!({"custom_field_id": epic, "confirm": true}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(field(&fake, "Epic").is_none());
    s.stop().await;
}
