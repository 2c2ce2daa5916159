//! The fake's own behaviour (not the product's), where it follows the real server
//! rather than the product: the flat launch-results endpoint other clients read, the
//! launch list's encoded filters, and the 403 for an unknown launch.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic

use fake_testops::{DEMO_TOKEN, FakeTestOps};
use serde_json::Value;

async fn get(fake: &FakeTestOps, path: &str, query: &[(&str, &str)]) -> reqwest::Response {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
        .get(format!("{}/api{path}", fake.base_url()))
        .header("authorization", format!("Api-Token {DEMO_TOKEN}"))
        .query(query)
        .send()
        .await
        .unwrap()
}

/// 100 per page by default, by name, `search` on the name, 403 for an unknown launch
/// (the real server checks access first).
#[tokio::test]
async fn the_flat_launch_results_page_by_name_search_and_403() {
    let fake = FakeTestOps::start().await.unwrap();
    let (launch, expected, first_name) = fake.with_data(|d| {
        let l = d.launches[0].id;
        let mut names: Vec<&str> = d
            .results
            .iter()
            .filter(|r| r.launch_id == l && !r.hidden)
            .map(|r| r.name.as_str())
            .collect();
        names.sort();
        (l, names.len(), names[0].to_owned())
    });
    let path = format!("/v2/launch/{launch}/test-result/flat");
    let p: Value = get(&fake, &path, &[]).await.json().await.unwrap();
    assert_eq!(p["totalElements"], expected as i64);
    assert_eq!(p["size"], 100);
    assert_eq!(p["content"][0]["name"], first_name.as_str());
    assert!(p["content"][0].get("message").is_none());
    assert!(p["content"][0]["manual"].is_boolean());

    let needle = first_name.to_uppercase();
    let p: Value = get(&fake, &path, &[("search", &needle), ("size", "5")])
        .await
        .json()
        .await
        .unwrap();
    assert!(p["totalElements"].as_i64().unwrap() >= 1);
    assert!(p["content"].as_array().unwrap().iter().all(|r| {
        r["name"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains(&first_name.to_lowercase())
    }));

    let missing = get(&fake, "/v2/launch/987654321/test-result/flat", &[]).await;
    assert_eq!(missing.status(), 403);
}

/// `GET /api/launch?search=` reads base64-encoded JSON filters, as the real server does:
/// free text is refused, `close` selects open or closed launches.
#[tokio::test]
async fn the_launch_list_reads_encoded_filters_and_refuses_free_text() {
    use base64::Engine;
    let fake = FakeTestOps::start().await.unwrap();
    let free_text = get(
        &fake,
        "/launch",
        &[("projectId", "1"), ("search", "nightly")],
    )
    .await;
    assert_eq!(free_text.status(), 400);
    let open = serde_json::json!([{"id": "close", "type": "boolean", "value": false}]);
    let encoded = base64::engine::general_purpose::STANDARD.encode(open.to_string());
    let p: Value = get(
        &fake,
        "/launch",
        &[("projectId", "1"), ("search", &encoded), ("size", "100")],
    )
    .await
    .json()
    .await
    .unwrap();
    let expected = fake.with_data(|d| {
        d.launches
            .iter()
            .filter(|l| l.project_id == 1 && !l.closed)
            .count()
    });
    assert!(expected > 0);
    assert_eq!(p["totalElements"], expected as i64);
}
