//! Test case trees and folders against the fake: browse a level, make, rename and
//! delete folders (a delete only with the user's agreement), and move test cases in.

use fake_testops::FakeTestOps;
use serde_json::json;

use crate::common::{InProcess, is_error, text};

#[tokio::test]
async fn folders_are_made_filled_browsed_renamed_and_deleted() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[("ALLURE_TOOLSETS", "testcase_folders")]).await;
    let ok = |r: &rmcp::model::CallToolResult| assert!(!is_error(r), "{}", text(r));

    let r = s
        .call("list_test_case_trees", json!({"project_id": 1}))
        .await;
    ok(&r);
    let tree = r.structured_content.unwrap()["trees"][0]["id"]
        .as_i64()
        .unwrap();

    let r = s
        .call(
            "create_test_case_folder",
            json!({"project_id": 1, "tree_id": tree, "name": "Checkout"}),
        )
        .await;
    ok(&r);
    let checkout = r.structured_content.unwrap()["ids"][0].as_i64().unwrap();
    let r = s
        .call("create_test_case_folder", json!({"project_id": 1, "tree_id": tree, "parent_folder_id": checkout, "name": "Payment"}))
        .await;
    ok(&r);
    let payment = r.structured_content.unwrap()["ids"][0].as_i64().unwrap();
    assert_eq!(
        fake.requests_to("POST", "/v2/project/1/test-case/tree/group")
            .last()
            .unwrap()
            .query,
        format!("treeId={tree}&parentNodeId={checkout}")
    );

    let ids: Vec<i64> = fake.with_data(|d| {
        d.test_cases
            .iter()
            .filter(|t| t.project_id == 1 && !t.deleted)
            .take(2)
            .map(|t| t.id)
            .collect()
    });
    ok(&s
        .call(
            "move_test_cases_to_folder",
            json!({"project_id": 1, "tree_id": tree, "folder_id": payment, "test_case_ids": ids}),
        )
        .await);
    let body: serde_json::Value = serde_json::from_str(
        &fake.requests_to("POST", "/v2/test-case/tree/bulk/drag-and-drop")[0].body,
    )
    .unwrap();
    assert_eq!(
        body,
        json!({"nodeId": payment, "selection": {"projectId": 1, "treeId": tree, "leavesInclude": ids, "inverted": false}})
    );

    // The top level shows the folder; inside it, the sub-folder; inside that, the cases.
    let r = s
        .call(
            "browse_test_case_tree",
            json!({"project_id": 1, "tree_id": tree}),
        )
        .await;
    let top = r.structured_content.unwrap();
    assert!(
        top["folders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == checkout)
    );
    assert!(
        top["test_cases"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| !ids.contains(&t["id"].as_i64().unwrap()))
    );
    let r = s
        .call(
            "browse_test_case_tree",
            json!({"project_id": 1, "tree_id": tree, "folder_id": payment}),
        )
        .await;
    let inside = r.structured_content.clone().unwrap();
    let listed: Vec<i64> = inside["test_cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, ids);
    assert!(text(&r).contains("Payment"), "{}", text(&r));

    ok(&s
        .call(
            "rename_test_case_folder",
            json!({"project_id": 1, "folder_id": checkout, "name": "Checkout flow"}),
        )
        .await);
    assert!(fake.with_data(|d| {
        d.trees
            .folders
            .iter()
            .any(|f| f.0 == checkout && f.3 == "Checkout flow")
    }));

    let r = s
        .call(
            "delete_test_case_folder",
            json!({"project_id": 1, "folder_id": checkout}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("confirm: true"),
        "{}",
        text(&r)
    );
    assert_eq!(fake.with_data(|d| d.trees.folders.len()), 2);
    ok(&s
        .call(
            "delete_test_case_folder",
            json!({"project_id": 1, "folder_id": checkout, "confirm": true}),
        )
        .await);
    // Sub-folders go with it; the test cases stay, at the top.
    assert!(fake.with_data(|d| d.trees.folders.is_empty() && d.trees.placed.is_empty()));
    assert!(fake.with_data(|d| {
        ids.iter()
            .all(|id| d.test_cases.iter().any(|t| t.id == *id && !t.deleted))
    }));

    let r = s
        .call(
            "browse_test_case_tree",
            json!({"project_id": 1, "tree_id": 999}),
        )
        .await;
    assert!(is_error(&r), "{}", text(&r));
    s.stop().await;
}
