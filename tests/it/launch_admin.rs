//! Launch housekeeping against the fake: what each tool sends (the bodies the API
//! description names) and what changes, and that wrong arguments change nothing.

use fake_testops::FakeTestOps;
use serde_json::json;

use crate::common::{InProcess, is_error, text};

fn launches_of_1(fake: &FakeTestOps) -> Vec<(i64, String, usize)> {
    fake.with_data(|d| {
        d.launches
            .iter()
            .filter(|l| l.project_id == 1)
            .map(|l| {
                let n = d.results.iter().filter(|r| r.launch_id == l.id).count();
                (l.id, l.name.clone(), n)
            })
            .collect()
    })
}

#[tokio::test]
async fn update_renames_and_retags_keeping_known_tag_ids() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let (id, ..) = launches_of_1(&fake)[0];
    let old_tag =
        fake.with_data(|d| d.launches.iter().find(|l| l.id == id).unwrap().tags[0].clone());
    let r = s
        .call(
            "update_launch",
            json!({"launch_id": id, "name": " Release 2.1 ", "tags": [old_tag.name, "release"]}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let sent = fake.requests_to("PATCH", &format!("/launch/{id}"));
    assert_eq!(sent.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(body["name"], "Release 2.1");
    assert_eq!(body["tags"][0]["id"], old_tag.id, "{body}");
    assert_eq!(body["tags"][1], json!({"name": "release"}));
    let (name, tags) = fake.with_data(|d| {
        let l = d.launches.iter().find(|l| l.id == id).unwrap();
        (
            l.name.clone(),
            l.tags.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        )
    });
    assert_eq!(name, "Release 2.1");
    assert_eq!(tags, vec![old_tag.name.clone(), "release".to_owned()]);

    for (args, says) in [
        (json!({"launch_id": id}), "nothing to change"),
        (json!({"launch_id": id, "name": "  "}), "name must be"),
        (
            json!({"launch_id": id, "name": "x".repeat(256)}),
            "name must be",
        ),
        (json!({"launch_id": 999_999, "name": "x"}), "999999"),
    ] {
        let r = s.call("update_launch", args).await;
        assert!(is_error(&r) && text(&r).contains(says), "{}", text(&r));
    }
    assert_eq!(fake.requests_to("PATCH", "/launch/*").len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn copy_sends_a_name_and_the_copy_holds_the_results() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let (id, name, n) = launches_of_1(&fake)[0].clone();
    let r = s.call("copy_launch", json!({"launch_id": id})).await;
    assert!(!is_error(&r), "{}", text(&r));
    let sent = fake.requests_to("POST", &format!("/launch/{id}/copy"));
    let body: serde_json::Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(body, json!({"launchName": format!("Copy of {name}")}));
    let copy = launches_of_1(&fake)
        .into_iter()
        .find(|(_, l, _)| *l == format!("Copy of {name}"))
        .expect("the copy");
    assert_eq!(copy.2, n);
    assert!(text(&r).contains("list_launches"), "{}", text(&r));
    s.stop().await;
}

#[tokio::test]
async fn merge_moves_the_results_and_removes_the_source() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let ls = launches_of_1(&fake);
    let ((from, _, nf), (to, _, nt)) = (ls[0].clone(), ls[1].clone());
    let r = s
        .call(
            "merge_launches",
            json!({"source_launch_id": from, "target_launch_id": from, "confirm": true}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("must differ"),
        "{}",
        text(&r)
    );
    let other = fake.with_data(|d| d.launches.iter().find(|l| l.project_id != 1).unwrap().id);
    let r = s
        .call(
            "merge_launches",
            json!({"source_launch_id": from, "target_launch_id": other, "confirm": true}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("one project"),
        "{}",
        text(&r)
    );
    assert!(fake.requests_to("POST", "/launch/merge").is_empty());

    let r = s
        .call(
            "merge_launches",
            json!({"source_launch_id": from, "target_launch_id": to, "confirm": true}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let sent = fake.requests_to("POST", "/launch/merge");
    let body: serde_json::Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(body, json!({"from": from, "to": to}));
    let after = launches_of_1(&fake);
    assert!(after.iter().all(|(id, ..)| *id != from));
    assert_eq!(after.iter().find(|(id, ..)| *id == to).unwrap().2, nf + nt);
    s.stop().await;
}

#[tokio::test]
async fn environment_and_defects_of_a_launch_are_read() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let (id, ..) = launches_of_1(&fake)[0];
    let r = s
        .call("get_launch_environment", json!({"launch_id": id}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let vars = r.structured_content.unwrap()["variables"].clone();
    let want = fake.with_data(|d| d.launches.iter().find(|l| l.id == id).unwrap().env.clone());
    assert!(!want.is_empty());
    for (k, v) in &want {
        assert!(
            vars.as_array()
                .unwrap()
                .contains(&json!({"name": k, "value": v})),
            "{vars}"
        );
    }

    // A launch with a result linked to a defect.
    let (launch, defect, linked) = fake.with_data(|d| {
        let x = d
            .defects
            .iter()
            .find(|x| !x.test_result_ids.is_empty())
            .unwrap();
        let r = d
            .results
            .iter()
            .find(|r| r.id == x.test_result_ids[0])
            .unwrap();
        let linked = d
            .results
            .iter()
            .filter(|q| q.launch_id == r.launch_id && x.test_result_ids.contains(&q.id))
            .count();
        (r.launch_id, x.id, linked)
    });
    let r = s
        .call("get_launch_defects", json!({"launch_id": launch}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let v = r.structured_content.unwrap();
    let row = v["defects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == defect)
        .unwrap_or_else(|| panic!("{v}"))
        .clone();
    assert_eq!(row["results"], linked as i64);
    assert!(
        row["url"]
            .as_str()
            .unwrap()
            .contains(&format!("/defects/{defect}"))
    );

    let r = s
        .call("get_launch_defects", json!({"launch_id": 999_999}))
        .await;
    assert!(is_error(&r), "{}", text(&r));
    s.stop().await;
}

#[tokio::test]
async fn delete_with_confirm_removes_the_launch_and_a_second_delete_says_it_is_gone() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let (id, ..) = launches_of_1(&fake)[0];
    let r = s
        .call("delete_launch", json!({"launch_id": id, "confirm": false}))
        .await;
    assert!(
        is_error(&r) && text(&r).contains("Nothing was changed"),
        "{}",
        text(&r)
    );
    let r = s
        .call("delete_launch", json!({"launch_id": id, "confirm": true}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(launches_of_1(&fake).iter().all(|(l, ..)| *l != id));
    let r = s
        .call("delete_launch", json!({"launch_id": id, "confirm": true}))
        .await;
    assert!(is_error(&r), "{}", text(&r));
    assert_eq!(fake.requests_to("DELETE", "/launch/*").len(), 1);
    // The defect of the same kind.
    let d = fake.with_data(|d| d.defects[0].id);
    let r = s
        .call("delete_defect", json!({"defect_id": d, "confirm": true}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(fake.with_data(|x| x.defects.iter().all(|y| y.id != d)));
    s.stop().await;
}

#[tokio::test]
async fn results_are_hidden_or_deleted_only_with_the_users_agreement() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let (launch, ids) = fake.with_data(|d| {
        let l = d.launches.iter().find(|l| l.project_id == 1).unwrap().id;
        let ids: Vec<i64> = d
            .results
            .iter()
            .filter(|r| r.launch_id == l)
            .map(|r| r.id)
            .take(4)
            .collect();
        (l, ids)
    });
    let r = s
        .call(
            "remove_test_cases_from_launch",
            json!({"launch_id": launch, "test_result_ids": &ids[..2]}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("confirm: true"),
        "{}",
        text(&r)
    );
    assert!(fake.with_data(|d| {
        d.results
            .iter()
            .filter(|r| ids.contains(&r.id))
            .all(|r| !r.hidden)
    }));
    let r = s
        .call(
            "remove_test_cases_from_launch",
            json!({"launch_id": launch, "test_result_ids": &ids[..2], "confirm": true}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let body: serde_json::Value =
        serde_json::from_str(&fake.requests_to("POST", "/testresult/bulk/hide")[0].body).unwrap();
    assert_eq!(
        body,
        json!({"selection": {"launchId": launch, "leafsInclude": &ids[..2], "inverted": false}})
    );
    assert!(fake.with_data(|d| {
        d.results
            .iter()
            .filter(|r| ids[..2].contains(&r.id))
            .all(|r| r.hidden)
    }));
    // A result of another launch is not deleted through this one.
    let foreign = fake.with_data(|d| d.results.iter().find(|r| r.launch_id != launch).unwrap().id);
    let r = s
        .call("remove_test_cases_from_launch", json!({"launch_id": launch, "test_result_ids": [foreign], "mode": "delete", "confirm": true}))
        .await;
    assert!(
        is_error(&r) && text(&r).contains("is not in launch"),
        "{}",
        text(&r)
    );
    assert!(fake.with_data(|d| d.results.iter().any(|r| r.id == foreign)));
    let r = s
        .call("remove_test_cases_from_launch", json!({"launch_id": launch, "test_result_ids": &ids[2..], "mode": "delete", "confirm": true}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(fake.with_data(|d| d.results.iter().all(|r| !ids[2..].contains(&r.id))));
    let r = s
        .call(
            "remove_test_cases_from_launch",
            json!({"launch_id": launch, "test_result_ids": [1], "mode": "purge", "confirm": true}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("not hide or delete"),
        "{}",
        text(&r)
    );
    s.stop().await;
}
