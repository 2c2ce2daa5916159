//! `search_api_operations` finds the operation a task needs in the bundled index of the
//! published API, and `allure_api_request` then calls it: writes only with the user's
//! agreement, reads freely, read-only mode first.

use fake_testops::FakeTestOps;
use serde_json::{Value, json};

use crate::common::{InProcess, is_error, text};

async fn first(s: &InProcess, query: &str, method: Option<&str>) -> (String, String) {
    let mut args = json!({"query": query});
    if let Some(m) = method {
        args["method"] = json!(m);
    }
    let r = s.call("search_api_operations", args).await;
    assert!(!is_error(&r), "{}", text(&r));
    let v = r.structured_content.unwrap();
    assert_eq!(v["indexed"], 756);
    let op = &v["operations"][0];
    (
        op["method"].as_str().unwrap_or_default().to_owned(),
        op["path"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn a_task_in_words_finds_its_operation() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[("ALLURE_TOOLSETS", "raw")]).await;
    for (query, method, want) in [
        ("launch environment", None, ("GET", "/launch/{id}/env")),
        ("merge launches", None, ("POST", "/launch/merge")),
        ("copy launch", Some("POST"), ("POST", "/launch/{id}/copy")),
        ("delete defect", Some("DELETE"), ("DELETE", "/defect/{id}")),
        (
            "launch statistic",
            Some("get"),
            ("GET", "/launch/{id}/statistic"),
        ),
    ] {
        let got = first(&s, query, method).await;
        assert_eq!((got.0.as_str(), got.1.as_str()), want, "{query}");
    }
    // The answer carries what a call needs: parameters and body fields.
    let r = s
        .call(
            "search_api_operations",
            json!({"query": "copy launch", "limit": 1}),
        )
        .await;
    let v = r.structured_content.clone().unwrap();
    assert_eq!(v["operations"].as_array().unwrap().len(), 1);
    assert!(
        v["operations"][0]["body"]
            .as_str()
            .unwrap()
            .contains("launchName")
    );
    assert!(text(&r).contains("allure_api_request"), "{}", text(&r));

    for (args, says) in [
        (json!({"query": " ;; "}), "query must hold a word"),
        (
            json!({"query": "launch ".repeat(40)}),
            "at most 200 characters",
        ),
        (json!({"query": "launch", "limit": 0}), "limit must be"),
        (json!({"query": "launch", "limit": 26}), "limit must be"),
        (json!({"query": "launch", "method": "TRACE"}), "not GET"),
    ] {
        let r = s.call("search_api_operations", args).await;
        assert!(is_error(&r) && text(&r).contains(says), "{}", text(&r));
    }
    // Nothing was asked of upstream.
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.api_path.starts_with("/uaa/"))
    );
    s.stop().await;
}

#[tokio::test]
async fn a_raw_write_needs_the_users_agreement_and_a_read_does_not() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[("ALLURE_TOOLSETS", "raw")]).await;
    let open = fake.with_data(|d| d.launches.iter().find(|l| !l.closed).unwrap().id);
    let close = |confirm: Value| {
        let mut a = json!({"method": "POST", "path": format!("/launch/{open}/close")});
        if !confirm.is_null() {
            a["confirm"] = confirm;
        }
        a
    };
    for c in [Value::Null, json!(false)] {
        let r = s.call("allure_api_request", close(c)).await;
        assert!(
            is_error(&r) && text(&r).contains("with confirm: true"),
            "{}",
            text(&r)
        );
    }
    assert!(fake.requests_to("POST", "/launch/*/close").is_empty());
    let r = s.call("allure_api_request", close(json!(true))).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(fake.requests_to("POST", "/launch/*/close").len(), 1);
    let r = s
        .call(
            "allure_api_request",
            json!({"method": "GET", "path": format!("/launch/{open}")}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    s.stop().await;

    // Read-only mode wins over confirm.
    let s = InProcess::against(
        &fake,
        &[("ALLURE_TOOLSETS", "raw"), ("ALLURE_READ_ONLY", "true")],
    )
    .await;
    let r = s.call("allure_api_request", close(json!(true))).await;
    assert!(
        is_error(&r) && text(&r).contains("read-only"),
        "{}",
        text(&r)
    );
    assert_eq!(fake.requests_to("POST", "/launch/*/close").len(), 1);
    s.stop().await;
}
