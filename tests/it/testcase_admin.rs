//! Test case housekeeping against the fake: what each tool sends (the bodies the API
//! description names) and what changes, and that wrong arguments change nothing.

use fake_testops::FakeTestOps;
use serde_json::{Value, json};

use crate::common::{InProcess, is_error, text};

const SETS: &[(&str, &str)] = &[("ALLURE_TOOLSETS", "testcase_admin,testcase_history")];

/// A live test case of project 1.
fn a_case(fake: &FakeTestOps) -> i64 {
    fake.with_data(|d| {
        d.test_cases
            .iter()
            .find(|t| t.project_id == 1 && !t.deleted)
            .unwrap()
            .id
    })
}

fn body(fake: &FakeTestOps, method: &str, path: &str) -> Value {
    let sent = fake.requests_to(method, path);
    serde_json::from_str(&sent.last().expect("a request").body).unwrap()
}

#[tokio::test]
async fn members_links_and_issues_are_kept_and_shown_in_one_overview() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, SETS).await;
    let id = a_case(&fake);
    let ok = |r: &rmcp::model::CallToolResult| assert!(!is_error(r), "{}", text(r));

    ok(&s
        .call(
            "add_test_case_members",
            json!({"test_case_id": id, "usernames": ["alice", "bob"]}),
        )
        .await);
    ok(&s
        .call(
            "add_test_case_members",
            json!({"test_case_id": id, "usernames": ["carol"], "role": "reviewer"}),
        )
        .await);
    assert_eq!(
        body(&fake, "POST", &format!("/testcase/{id}/members")),
        json!([{"name": "alice", "role": {"id": -1}}, {"name": "bob", "role": {"id": -1}}, {"name": "carol", "role": {"id": -2}}])
    );
    ok(&s
        .call(
            "remove_test_case_members",
            json!({"test_case_id": id, "usernames": ["bob"]}),
        )
        .await);
    let r = s
        .call(
            "add_test_case_members",
            json!({"test_case_id": id, "usernames": ["dmitry"], "role": "Boss"}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("Owner, Reviewer"),
        "{}",
        text(&r)
    );

    ok(&s
        .call(
            "add_test_case_external_link",
            json!({"test_case_id": id, "url": "https://wiki.example.com/checkout", "name": "Spec"}),
        )
        .await);
    ok(&s
        .call(
            "add_test_case_external_link",
            json!({"test_case_id": id, "url": "https://ci.example.com/job/1"}),
        )
        .await);
    ok(&s
        .call(
            "delete_test_case_external_link",
            json!({"test_case_id": id, "url": "https://ci.example.com/job/1"}),
        )
        .await);
    let r = s
        .call(
            "add_test_case_external_link",
            json!({"test_case_id": id, "url": "javascript:alert(1)"}),
        )
        .await;
    assert!(is_error(&r) && text(&r).contains("http(s)"), "{}", text(&r));
    let r = s
        .call(
            "delete_test_case_external_link",
            json!({"test_case_id": id, "url": "https://nowhere.example.com"}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("has no link"),
        "{}",
        text(&r)
    );

    ok(&s
        .call(
            "set_test_case_issues",
            json!({"test_case_id": id, "issue_keys": ["SHOP-12", "SHOP-12", " SHOP-13 "]}),
        )
        .await);
    // One integration id on every key: without it the real server links nothing sensible.
    assert_eq!(
        body(&fake, "POST", &format!("/testcase/{id}/issue")),
        json!([{"name": "SHOP-12", "integrationId": 1}, {"name": "SHOP-13", "integrationId": 1}])
    );

    let r = s
        .call("get_test_case_overview", json!({"test_case_id": id}))
        .await;
    ok(&r);
    let v = r.structured_content.clone().unwrap();
    assert_eq!(
        v["members"],
        json!([{"username": "alice", "role": "Owner"}, {"username": "carol", "role": "Reviewer"}])
    );
    assert_eq!(
        v["links"],
        json!([{"name": "Spec", "url": "https://wiki.example.com/checkout", "kind": "link"}])
    );
    assert_eq!(v["issues"].as_array().unwrap().len(), 2);
    assert!(text(&r).contains("alice (Owner)"), "{}", text(&r));
    // Custom field values by field name, as the fake holds them.
    let want: Vec<(String, String)> = fake.with_data(|d| {
        let tc = d.test_cases.iter().find(|t| t.id == id).unwrap();
        tc.cfv
            .iter()
            .map(|v| {
                let v = d.cf_values.iter().find(|c| c.id == *v).unwrap();
                let f = d.custom_fields.iter().find(|f| f.id == v.field_id).unwrap();
                (f.name.clone(), v.name.clone())
            })
            .collect()
    });
    assert!(!want.is_empty());
    for (field, value) in want {
        assert!(
            v["custom_fields"][&field]
                .as_array()
                .unwrap()
                .contains(&json!(value)),
            "{v}"
        );
    }

    let r = s
        .call("get_test_case_overview", json!({"test_case_id": 999_999}))
        .await;
    assert!(is_error(&r) && text(&r).contains("999999"), "{}", text(&r));
    s.stop().await;
}

#[tokio::test]
async fn defects_link_to_a_test_case_and_unlink() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, SETS).await;
    let id = a_case(&fake);
    let defect = fake.with_data(|d| d.defects[0].id);
    let r = s
        .call(
            "add_test_case_defect",
            json!({"test_case_id": id, "defect_id": defect}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let r = s
        .call("get_test_case_defects", json!({"test_case_id": id}))
        .await;
    let v = r.structured_content.clone().unwrap();
    assert_eq!(v["defects"][0]["id"], defect);
    assert!(
        v["defects"][0]["url"]
            .as_str()
            .unwrap()
            .contains(&format!("/defects/{defect}"))
    );
    let r = s
        .call(
            "remove_test_case_defect",
            json!({"test_case_id": id, "defect_id": defect}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let r = s
        .call("get_test_case_defects", json!({"test_case_id": id}))
        .await;
    assert_eq!(r.structured_content.unwrap()["defects"], json!([]));
    let r = s
        .call(
            "add_test_case_defect",
            json!({"test_case_id": id, "defect_id": 999_999}),
        )
        .await;
    assert!(is_error(&r), "{}", text(&r));
    s.stop().await;
}

#[tokio::test]
async fn clone_restore_versions_and_detach() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, SETS).await;
    let id = a_case(&fake);
    let name = fake.with_data(|d| {
        d.test_cases
            .iter()
            .find(|t| t.id == id)
            .unwrap()
            .name
            .clone()
    });

    let r = s
        .call(
            "clone_test_case",
            json!({"test_case_id": id, "to_project_id": 2}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let copy = r.structured_content.unwrap()["ids"][0].as_i64().unwrap();
    assert!(fake.with_data(|d| {
        d.test_cases
            .iter()
            .any(|t| t.id == copy && t.project_id == 2 && t.name == format!("{name} (copy)"))
    }));

    // Deleted (with the user's agreement), listed, restored.
    let r = s
        .call("list_deleted_test_cases", json!({"project_id": 1}))
        .await;
    let before = r.structured_content.unwrap()["page"]["total"]
        .as_i64()
        .unwrap();
    fake.with_data(|d| {
        d.test_cases
            .iter_mut()
            .find(|t| t.id == id)
            .unwrap()
            .deleted = true
    });
    let r = s
        .call("list_deleted_test_cases", json!({"project_id": 1}))
        .await;
    let v = r.structured_content.unwrap();
    assert_eq!(v["page"]["total"].as_i64().unwrap(), before + 1);
    assert!(
        v["test_cases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == id)
    );
    let r = s
        .call("restore_test_case", json!({"test_case_id": id}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(fake.with_data(|d| !d.test_cases.iter().find(|t| t.id == id).unwrap().deleted));
    let r = s
        .call("restore_test_case", json!({"test_case_id": id}))
        .await;
    assert!(
        is_error(&r) && text(&r).contains("list_deleted_test_cases"),
        "{}",
        text(&r)
    );

    let r = s
        .call("list_muted_test_cases", json!({"project_id": 1}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let muted: Vec<i64> = fake.with_data(|d| d.mutes.iter().map(|m| m.test_case_id).collect());
    for t in r.structured_content.unwrap()["test_cases"]
        .as_array()
        .unwrap()
    {
        assert!(muted.contains(&t["id"].as_i64().unwrap()));
    }

    let r = s
        .call(
            "create_test_case_version",
            json!({"test_case_id": id, "title": "Before redesign"}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(
        body(&fake, "POST", &format!("/testcase/{id}/version")),
        json!({"title": "Before redesign"})
    );
    let r = s
        .call("list_test_case_versions", json!({"test_case_id": id}))
        .await;
    assert_eq!(
        r.structured_content.unwrap()["versions"][0]["title"],
        "Before redesign"
    );
    let r = s
        .call(
            "create_test_case_version",
            json!({"test_case_id": id, "title": " "}),
        )
        .await;
    assert!(is_error(&r));

    fake.with_data(|d| {
        d.test_cases
            .iter_mut()
            .find(|t| t.id == id)
            .unwrap()
            .automated = true
    });
    let r = s
        .call("detach_test_case_automation", json!({"test_case_id": id}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(fake.with_data(|d| !d.test_cases.iter().find(|t| t.id == id).unwrap().automated));

    // Steps go only with the user's agreement.
    let r = s
        .call("delete_test_case_scenario", json!({"test_case_id": id}))
        .await;
    assert!(
        is_error(&r) && text(&r).contains("confirm: true"),
        "{}",
        text(&r)
    );
    assert!(
        fake.requests_to("DELETE", "/testcase/*/scenario")
            .is_empty()
    );
    let r = s
        .call(
            "delete_test_case_scenario",
            json!({"test_case_id": id, "confirm": true}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(fake.requests_to("DELETE", "/testcase/*/scenario").len(), 1);
    s.stop().await;
}
