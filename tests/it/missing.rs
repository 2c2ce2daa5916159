//! A 404 below a thing (`/testresult/5/mute`) is told apart from the thing missing: the
//! instance may lack that endpoint (another version), and then "not found" would send a
//! model looking for another id that does not exist either.

use fake_testops::{FakeTestOps, Fault, FaultKind};
use serde_json::json;

use crate::common::{InProcess, is_error, text};

fn no_endpoint(path: &str) -> Fault {
    Fault::on(
        path,
        FaultKind::Status {
            status: 404,
            retry_after: None,
        },
    )
}

/// A result of project 1 and a defect of the same project.
fn result_and_defect(fake: &FakeTestOps) -> (i64, i64) {
    fake.with_data(|d| {
        let defect = d.defects.iter().find(|x| x.project_id == 1).unwrap().id;
        let result = d.results.iter().find(|r| r.project_id == 1).unwrap().id;
        (result, defect)
    })
}

#[tokio::test]
async fn a_missing_endpoint_below_an_existing_result_is_not_called_a_missing_result() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let (result, defect) = result_and_defect(&fake);

    fake.inject(no_endpoint("/testresult/*/mute"));
    let r = s
        .call(
            "mute_test_result",
            json!({"test_result_id": result, "reason": "flaky"}),
        )
        .await;
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    assert!(
        t.contains(&format!("Test result {result} exists"))
            && t.contains("no such endpoint")
            && !t.contains("not found"),
        "{t}"
    );
    assert!(!fake.with_data(|d| d.results.iter().any(|x| x.id == result && x.muted)));

    fake.inject(no_endpoint("/testresult/*/defect/*"));
    let r = s
        .call(
            "link_defect_to_test_results",
            json!({"defect_id": defect, "test_result_ids": [result]}),
        )
        .await;
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    assert!(
        t.contains("0 of 1 result(s) linked now") && t.contains("no such endpoint"),
        "{t}"
    );
}

#[tokio::test]
async fn a_result_that_does_not_exist_is_still_called_missing() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    // The fake answers 404 on the mute route itself for an unknown result, as the
    // real server does for an unknown id; the tool reads the result to tell which.
    let r = s
        .call(
            "mute_test_result",
            json!({"test_result_id": 987654321, "reason": "x"}),
        )
        .await;
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    assert!(
        t.contains("Test result 987654321 not found") && t.contains("list_test_results"),
        "{t}"
    );
    assert!(!t.contains("no such endpoint"), "{t}");
}

#[tokio::test]
async fn launch_and_project_sub_routes_name_the_endpoint_not_the_id() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let launch = fake.with_data(|d| d.launches.iter().find(|l| l.project_id == 1).unwrap().id);

    fake.inject(no_endpoint("/launch/*/statistic"));
    let r = s
        .call("get_launch_details", json!({"launch_id": launch}))
        .await;
    let t = text(&r);
    assert!(
        is_error(&r)
            && t.contains(&format!("Launch {launch} exists"))
            && t.contains("/statistic answered 404"),
        "{t}"
    );

    fake.inject(no_endpoint("/analytic/*/tc_success_rate"));
    let r = s
        .call("get_test_success_rate", json!({"project_id": 1}))
        .await;
    let t = text(&r);
    assert!(
        is_error(&r) && t.contains("Project 1 exists") && t.contains("no such endpoint"),
        "{t}"
    );

    // An unknown project on the same route is a missing project.
    let r = s
        .call("get_test_success_rate", json!({"project_id": 4242}))
        .await;
    let t = text(&r);
    assert!(is_error(&r) && t.contains("Project 4242 not found"), "{t}");
}

#[tokio::test]
async fn a_403_below_a_launch_is_refused_rights_when_it_exists_and_missing_when_not() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let open = fake.with_data(|d| d.launches.iter().find(|l| !l.closed).unwrap().id);

    // The launch is there and readable; closing it is refused: a matter of rights.
    fake.inject(Fault::on(
        "/launch/*/close",
        FaultKind::Status {
            status: 403,
            retry_after: None,
        },
    ));
    let r = s.call("close_launch", json!({"launch_id": open})).await;
    let t = text(&r);
    assert!(
        is_error(&r) && t.contains("refused access") && !t.contains("not found"),
        "{t}"
    );
    fake.clear_faults();

    // An unknown launch: Allure answers 403 on its routes too, and the tool says so.
    let r = s
        .call("get_launch_job_runs", json!({"launch_id": 987654321}))
        .await;
    let t = text(&r);
    assert!(
        is_error(&r) && t.contains("Launch 987654321 not found, or not readable"),
        "{t}"
    );
}
