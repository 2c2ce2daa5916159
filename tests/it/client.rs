//! The Allure client against the fake over real sockets: token exchange, refresh,
//! re-authentication, retries of idempotent calls only, deadlines.

use crate::common;

use std::time::{Duration, Instant};

use allure_mcp::allure::model::Project;
use allure_mcp::allure::{AllureClient, AllureError, AuthMode, Page};
use fake_testops::{FakeOptions, FakeTestOps, Fault, FaultKind};
use serde_json::{Value, json};

async fn list(client: &AllureClient) -> Result<Page<Project>, AllureError> {
    client.get("/project", &[]).await
}

#[tokio::test]
async fn many_concurrent_calls_on_a_cold_cache_exchange_once() {
    let fake = FakeTestOps::start().await.unwrap();
    let client = common::client(&fake);
    let calls = (0..100).map(|_| {
        let c = client.clone();
        tokio::spawn(async move { list(&c).await.map(|p| p.total_elements) })
    });
    for call in futures::future::join_all(calls).await {
        assert_eq!(call.unwrap().unwrap(), 4);
    }
    assert_eq!(fake.token_exchanges(), 1);
    assert_eq!(fake.requests_to("GET", "/project").len(), 100);
    // Every call carried the JWT, never the API token.
    assert!(fake.requests_to("GET", "/project").iter().all(|r| {
        r.authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Bearer eyJ"))
    }));
}

#[tokio::test]
async fn the_exchange_sends_the_documented_form() {
    let fake = FakeTestOps::start().await.unwrap();
    list(&common::client(&fake)).await.unwrap();
    let ex = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/uaa/oauth/token")
        .unwrap();
    assert_eq!(ex.method, "POST");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(ex.body.as_bytes())
        .into_owned()
        .collect();
    assert!(form.contains(&("grant_type".into(), "apitoken".into())));
    assert!(form.contains(&("scope".into(), "openid".into())));
    assert!(form.contains(&("token".into(), fake_testops::DEMO_TOKEN.into())));
}

#[tokio::test]
async fn jwt_is_refreshed_before_it_expires() {
    let fake = FakeTestOps::start_with(FakeOptions {
        jwt_lifetime: Duration::from_secs(2),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let client = common::client(&fake);
    list(&client).await.unwrap();
    // A 2 s JWT is used for half its life; past that the next call must exchange anew.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    list(&client).await.unwrap();
    assert_eq!(fake.token_exchanges(), 2);
    assert!(
        fake.requests().iter().all(|r| r.status != 401),
        "the refresh was proactive"
    );
}

#[tokio::test]
async fn a_401_causes_one_reexchange_and_one_retry() {
    let fake = FakeTestOps::start().await.unwrap();
    let client = common::client(&fake);
    list(&client).await.unwrap();
    fake.revoke_jwts();
    list(&client).await.unwrap();
    assert_eq!(fake.token_exchanges(), 2);
    let statuses: Vec<u16> = fake
        .requests_to("GET", "/project")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![200, 401, 200]);
}

#[tokio::test]
async fn a_revoked_api_token_fails_cleanly_without_looping() {
    let fake = FakeTestOps::start().await.unwrap();
    let client = common::client(&fake);
    list(&client).await.unwrap();
    fake.set_api_tokens(vec!["another".into()]);
    fake.revoke_jwts();
    let err = list(&client).await.unwrap_err();
    assert!(matches!(err, AllureError::Auth(_)), "{err}");
    assert!(
        err.to_string().contains("answered 401") && err.to_string().contains("API token"),
        "{err}"
    );
    assert!(!err.to_string().contains(fake_testops::DEMO_TOKEN));
    assert_eq!(fake.token_exchanges(), 2);
}

#[tokio::test]
async fn a_get_is_retried_after_a_503() {
    let fake = FakeTestOps::start().await.unwrap();
    fake.inject(
        Fault::on(
            "/project",
            FaultKind::Status {
                status: 503,
                retry_after: None,
            },
        )
        .method("GET")
        .times(1),
    );
    let page = list(&common::client(&fake)).await.unwrap();
    assert_eq!(page.total_elements, 4);
    let statuses: Vec<u16> = fake
        .requests_to("GET", "/project")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![503, 200]);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let fake = FakeTestOps::start().await.unwrap();
    fake.inject(
        Fault::on(
            "/project",
            FaultKind::Status {
                status: 429,
                retry_after: Some(1),
            },
        )
        .times(1),
    );
    let started = Instant::now();
    list(&common::client(&fake)).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(fake.requests_to("GET", "/project").len(), 2);
}

#[tokio::test]
async fn retries_are_bounded() {
    let fake = FakeTestOps::start().await.unwrap();
    fake.inject(Fault::on(
        "/project",
        FaultKind::Status {
            status: 502,
            retry_after: None,
        },
    ));
    let err = list(&common::client(&fake)).await.unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert_eq!(fake.requests_to("GET", "/project").len(), 3);
}

#[tokio::test]
async fn a_post_answered_503_is_sent_exactly_once() {
    let fake = FakeTestOps::start().await.unwrap();
    fake.inject(
        Fault::on(
            "/launch",
            FaultKind::Status {
                status: 503,
                retry_after: Some(0),
            },
        )
        .method("POST"),
    );
    let err = common::client(&fake)
        .post::<Value>("/launch", json!({"name": "x", "projectId": 1}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(fake.requests_to("POST", "/launch").len(), 1);
}

#[tokio::test]
async fn a_connection_reset_is_retried_for_get_but_not_for_post() {
    let fake = FakeTestOps::start().await.unwrap();
    let client = common::client(&fake);
    list(&client).await.unwrap();
    fake.inject(Fault::on("/project", FaultKind::Reset).times(1));
    list(&client).await.unwrap();
    assert_eq!(fake.requests_to("GET", "/project").len(), 3);

    fake.inject(Fault::on("/launch/*/close", FaultKind::Reset));
    let launch = fake.with_data(|d| d.launches[0].id);
    let err = client
        .post::<Option<Value>>(&format!("/launch/{launch}/close"), json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, AllureError::Transport { .. }), "{err}");
    assert_eq!(fake.requests_to("POST", "/launch/*/close").len(), 1);
}

#[tokio::test]
async fn a_hung_upstream_fails_within_the_deadline() {
    let fake = FakeTestOps::start().await.unwrap();
    fake.inject(Fault::on("/project", FaultKind::Hang));
    ends_at_a_one_second_deadline(&fake).await;
}

/// Lists projects with a 1 s deadline against a fake that never finishes answering:
/// a timeout, near the deadline. Ending near it proves there is one; the margin is for
/// a loaded machine, not for the server.
async fn ends_at_a_one_second_deadline(fake: &FakeTestOps) {
    let mut opts = common::options(fake);
    opts.timeout = Duration::from_secs(1);
    let client = AllureClient::new(opts).unwrap();
    let started = Instant::now();
    let err = list(&client).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(6),
        "took {took:?}"
    );
    assert!(matches!(err, AllureError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn a_slow_body_counts_against_the_deadline() {
    let fake = FakeTestOps::start().await.unwrap();
    fake.inject(Fault::on(
        "/project",
        FaultKind::SlowBody(Duration::from_millis(50)),
    ));
    ends_at_a_one_second_deadline(&fake).await;
}

#[tokio::test]
async fn empty_202_and_204_answers_are_success() {
    let fake = FakeTestOps::start().await.unwrap();
    let client = common::client(&fake);
    let (launch, job_run) = fake.with_data(|d| {
        let open = d.launches.iter().find(|l| !l.closed).unwrap().id;
        (open, d.job_runs[0].id)
    });
    // Closing declares no body: none is sent, and the empty 204 is success.
    let closed = client
        .post_empty(&format!("/launch/{launch}/close"))
        .await
        .unwrap();
    assert_eq!((closed.status, closed.body.len()), (204, 0));
    let sent = &fake.requests_to("POST", "/launch/*/close")[0];
    assert_eq!((sent.status, sent.body.as_str()), (204, ""));
    let run: Option<Value> = client
        .post(&format!("/jobrun/{job_run}/rerun"), json!({}))
        .await
        .unwrap();
    assert!(run.is_none());
    assert_eq!(fake.requests_to("POST", "/jobrun/*/rerun")[0].status, 202);
    assert!(fake.with_data(|d| d.launches.iter().find(|l| l.id == launch).unwrap().closed));
}

#[tokio::test]
async fn malformed_json_is_a_decode_error() {
    let fake = FakeTestOps::start().await.unwrap();
    fake.inject(Fault::on(
        "/project",
        FaultKind::Body {
            status: 200,
            body: "{\"content\": [".into(),
        },
    ));
    let err = list(&common::client(&fake)).await.unwrap_err();
    assert!(matches!(err, AllureError::Decode { .. }), "{err}");
}

#[tokio::test]
async fn errors_carry_method_path_status_and_allures_message() {
    let fake = FakeTestOps::start().await.unwrap();
    let err = common::client(&fake)
        .get::<Value>("/project/424242", &[])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    let s = err.to_string();
    assert!(
        s.contains("GET /project/424242 answered 404")
            && s.contains("Project with id 424242 not found"),
        "{s}"
    );
}

/// Allure TestOps checks access before existence: an unknown launch id is a 403, and
/// the tools say it may not exist before they say it may not be readable.
#[tokio::test]
async fn an_unknown_launch_is_403_and_said_to_be_missing_or_unreadable() {
    let fake = FakeTestOps::start().await.unwrap();
    let err = common::client(&fake)
        .get::<Value>("/launch/424242", &[])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    let told = allure_mcp::tools::ToolError::launch_not_found(err, 424242).to_string();
    assert!(
        told.starts_with("Launch 424242 not found, or not readable")
            && told.contains("list_launches"),
        "{told}"
    );
}

#[tokio::test]
async fn api_token_mode_sends_the_token_without_exchange() {
    let fake = FakeTestOps::start().await.unwrap();
    let mut opts = common::options(&fake);
    opts.auth_mode = AuthMode::ApiToken;
    list(&AllureClient::new(opts).unwrap()).await.unwrap();
    assert_eq!(fake.token_exchanges(), 0);
    let auth = fake.requests_to("GET", "/project")[0]
        .authorization
        .clone()
        .unwrap();
    assert_eq!(auth, format!("Api-Token {}", fake_testops::DEMO_TOKEN));
}

#[tokio::test]
async fn the_legacy_api_rs_prefix_works() {
    let fake = FakeTestOps::start().await.unwrap();
    let mut opts = common::options(&fake);
    opts.api_prefix = "/api/rs".into();
    let page = list(&AllureClient::new(opts).unwrap()).await.unwrap();
    assert_eq!(page.total_elements, 4);
    assert_eq!(
        fake.requests_to("GET", "/project")[0].path,
        "/api/rs/project"
    );
}

#[tokio::test]
async fn an_unreachable_instance_is_a_transport_error() {
    let (_reserved, port) = common::refused_port();
    let mut opts = common::options(&FakeTestOps::start().await.unwrap());
    opts.base_url = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    opts.auth_mode = AuthMode::ApiToken;
    let err = list(&AllureClient::new(opts).unwrap()).await.unwrap_err();
    assert!(matches!(err, AllureError::Transport { .. }), "{err}");
}

#[tokio::test]
async fn a_ca_file_that_is_not_pem_is_refused() {
    let fake = FakeTestOps::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(
        &path,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let mut opts = common::options(&fake);
    opts.ca_file = Some(path);
    let err = AllureClient::new(opts).unwrap_err();
    assert!(err.to_string().contains("ALLURE_CA_FILE"), "{err}");
}

/// A 429 that lasts longer than the caller's deadline is reported as the rate limit it
/// is: the retry that the deadline would cut off is not started.
#[tokio::test]
async fn a_rate_limit_outlasting_the_deadline_is_reported_as_a_rate_limit() {
    let fake = FakeTestOps::start().await.unwrap();
    fake.inject(Fault::on(
        "/project",
        FaultKind::Status {
            status: 429,
            retry_after: Some(1),
        },
    ));
    let mut opts = common::options(&fake);
    opts.timeout = Duration::from_secs(2);
    let err = list(&AllureClient::new(opts).unwrap()).await.unwrap_err();
    assert!(
        matches!(err, AllureError::Status { status: 429, .. }),
        "{err}"
    );
    assert!(
        fake.requests_to("GET", "/project").len() >= 2,
        "it was retried once at least"
    );
}

/// An instance that cannot be reached is the network's fault, said so with the URL to
/// check, even when the first thing tried is the token exchange: not "the token is wrong".
#[tokio::test]
async fn an_unreachable_instance_blames_the_network_not_the_token() {
    let (_reserved, port) = common::refused_port();
    let mut opts = common::options(&FakeTestOps::start().await.unwrap());
    opts.base_url = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    opts.auth_mode = AuthMode::Jwt;
    let err = list(&AllureClient::new(opts).unwrap()).await.unwrap_err();
    assert!(matches!(err, AllureError::Transport { .. }), "{err}");
    let told = allure_mcp::tools::ToolError::from(err).to_string();
    assert!(
        told.contains("Could not reach Allure TestOps")
            && told.contains(&format!("127.0.0.1:{port}/api/uaa/oauth/token")),
        "{told}"
    );
    assert!(!told.contains("token is fixed"), "{told}");
}

/// A token endpoint that fails (5xx) is the server's trouble, usually passing: not a
/// reason to make a new token.
#[tokio::test]
async fn a_failing_token_endpoint_is_a_server_error_not_a_bad_token() {
    let fake = FakeTestOps::start().await.unwrap();
    fake.inject(Fault::on(
        "/uaa/oauth/token",
        FaultKind::Status {
            status: 503,
            retry_after: None,
        },
    ));
    let err = list(&common::client(&fake)).await.unwrap_err();
    assert!(
        matches!(err, AllureError::Status { status: 503, .. }),
        "{err}"
    );
    let told = allure_mcp::tools::ToolError::from(err).to_string();
    assert!(
        told.contains("usually temporary") && !told.contains("API token is wrong"),
        "{told}"
    );
}
