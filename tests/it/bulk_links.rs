//! The bulk test case tools beyond status and tags, against the fake: the v2 bodies they
//! send, and what changes; removals go test case by test case and leave the others.

use fake_testops::FakeTestOps;
use serde_json::{Value, json};

use crate::common::{InProcess, is_error, text};

const SETS: &[(&str, &str)] = &[("ALLURE_TOOLSETS", "testcase_bulk")];

fn cases(fake: &FakeTestOps, n: usize) -> Vec<i64> {
    fake.with_data(|d| {
        d.test_cases
            .iter()
            .filter(|t| t.project_id == 1 && !t.deleted)
            .take(n)
            .map(|t| t.id)
            .collect()
    })
}

fn last_body(fake: &FakeTestOps, path: &str) -> Value {
    let sent = fake.requests_to("POST", path);
    serde_json::from_str(&sent.last().expect("a request").body).unwrap()
}

#[tokio::test]
async fn members_links_and_issues_are_added_in_bulk_and_removed_case_by_case() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, SETS).await;
    let ids = cases(&fake, 3);
    let ok = |r: &rmcp::model::CallToolResult| assert!(!is_error(r), "{}", text(r));

    ok(&s.call("bulk_add_test_case_members", json!({"project_id": 1, "test_case_ids": ids, "usernames": ["alice"], "role": "Reviewer"})).await);
    assert_eq!(
        last_body(&fake, "/v2/test-case/bulk/member/add"),
        json!({"selection": {"projectId": 1, "testCasesInclude": ids, "inverted": false}, "members": [{"name": "alice", "role": {"id": -2}}]})
    );
    ok(&s
        .call(
            "bulk_add_test_case_external_links",
            json!({"project_id": 1, "test_case_ids": ids, "urls": ["https://wiki.example.com/a"]}),
        )
        .await);
    ok(&s
        .call(
            "bulk_add_test_case_issues",
            json!({"project_id": 1, "test_case_ids": ids, "issue_keys": ["SHOP-1", "SHOP-2"]}),
        )
        .await);
    assert_eq!(
        last_body(&fake, "/v2/test-case/bulk/issue/add")["issues"],
        json!([{"name": "SHOP-1", "integrationId": 1}, {"name": "SHOP-2", "integrationId": 1}])
    );
    fake.with_data(|d| {
        for id in &ids {
            let x = &d.extras[id];
            assert_eq!(x.members, vec![("alice".to_owned(), -2)]);
            assert_eq!(x.links.len(), 1);
            assert_eq!(x.issues.len(), 2);
        }
    });

    // Remove from the first two only.
    ok(&s
        .call(
            "bulk_remove_test_case_members",
            json!({"project_id": 1, "test_case_ids": &ids[..2], "usernames": ["alice"]}),
        )
        .await);
    ok(&s
        .call(
            "bulk_remove_test_case_issues",
            json!({"project_id": 1, "test_case_ids": &ids[..2], "issue_keys": ["SHOP-1"]}),
        )
        .await);
    fake.with_data(|d| {
        for id in &ids[..2] {
            assert!(d.extras[id].members.is_empty());
            assert_eq!(d.extras[id].issues, vec![(1, "SHOP-2".to_owned())]);
        }
        assert_eq!(
            d.extras[&ids[2]].members.len(),
            1,
            "the third keeps its member"
        );
        assert_eq!(d.extras[&ids[2]].issues.len(), 2);
    });

    for (tool, args, says) in [
        (
            "bulk_add_test_case_external_links",
            json!({"project_id": 1, "test_case_ids": ids, "urls": ["ftp://x"]}),
            "http(s)",
        ),
        (
            "bulk_add_test_case_issues",
            json!({"project_id": 1, "test_case_ids": ids, "issue_keys": ["two words"]}),
            "not an issue key",
        ),
        (
            "bulk_remove_test_case_members",
            json!({"project_id": 1, "test_case_ids": (1..=21).collect::<Vec<i64>>(), "usernames": ["alice"]}),
            "at most 20",
        ),
        (
            "bulk_add_test_case_members",
            json!({"project_id": 1, "test_case_ids": [], "usernames": ["alice"]}),
            "test_case_ids",
        ),
    ] {
        let r = s.call(tool, args).await;
        assert!(
            is_error(&r) && text(&r).contains(says),
            "{tool}: {}",
            text(&r)
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn clone_move_and_run_in_a_new_launch() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, SETS).await;
    let ids = cases(&fake, 2);
    let before = fake.with_data(|d| d.test_cases.len());
    let r = s
        .call(
            "bulk_clone_test_cases",
            json!({"project_id": 1, "test_case_ids": ids, "name_suffix": " v2"}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(fake.with_data(|d| d.test_cases.len()), before + 2);

    let r = s
        .call(
            "bulk_run_test_cases_new_launch",
            json!({"project_id": 1, "test_case_ids": ids, "launch_name": "Manual regression"}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let launch = r.structured_content.unwrap()["ids"][0].as_i64().unwrap();
    assert!(fake.with_data(|d| {
        d.launches
            .iter()
            .any(|l| l.id == launch && l.name == "Manual regression")
    }));
    let r = s
        .call(
            "bulk_run_test_cases_new_launch",
            json!({"project_id": 1, "test_case_ids": ids, "launch_name": " "}),
        )
        .await;
    assert!(is_error(&r));

    let r = s
        .call(
            "bulk_move_test_cases",
            json!({"project_id": 1, "test_case_ids": ids}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("to_project_id is required"),
        "{}",
        text(&r)
    );
    let r = s
        .call(
            "bulk_move_test_cases",
            json!({"project_id": 1, "test_case_ids": ids, "to_project_id": 3}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(fake.with_data(|d| {
        d.test_cases
            .iter()
            .filter(|t| ids.contains(&t.id))
            .all(|t| t.project_id == 3)
    }));
    s.stop().await;
}
