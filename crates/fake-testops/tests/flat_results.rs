//! The fake's own behaviour (not the product's): the flat launch-results endpoint
//! other clients read launches with, served as they expect it.
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

/// 100 per page by default, by name, `search` on the name, 404 for an unknown launch.
#[tokio::test]
async fn the_flat_launch_results_page_by_name_search_and_404() {
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
    assert_eq!(missing.status(), 404);
}
