//! `allure-mcp check` against the fake: each line says what was verified, a failed step
//! fails the exit status, and nothing is claimed before it was tried.

use fake_testops::{DEMO_TOKEN, FakeOptions, FakeTestOps};

use crate::common::{self, exit_of, refused_port};

/// Runs `allure-mcp check` with these settings; (success, stdout, stderr).
async fn check(envs: &[(&str, &str)]) -> (bool, String, String) {
    let out = exit_of(common::command(envs, &["check"])).await;
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn lines_starting(out: &str, tag: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.starts_with(tag))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_working_setup_is_verified_line_by_line() {
    let fake = FakeTestOps::start().await.unwrap();
    let base = fake.base_url();
    let (ok, out, err) = check(&[
        ("ALLURE_BASE_URL", &base),
        ("ALLURE_TOKEN", DEMO_TOKEN),
        ("ALLURE_PROJECT_ID", "1"),
    ])
    .await;
    assert!(ok, "{out}{err}");
    assert!(lines_starting(&out, "FAIL").is_empty(), "{out}");
    for expected in [
        format!("ok   reachable: {base} (plain HTTP, not encrypted)"),
        "ok   API token exchanged for a session".to_owned(),
        "ok   API answers at /api: 4 project(s) visible".to_owned(),
        "ok   default project 1 (".to_owned(),
        "ok   rights in project 1: project:read, project:comment, project:write".to_owned(),
    ] {
        assert!(out.contains(&expected), "missing {expected:?} in:\n{out}");
    }
    // Each step did reach the fake: the exchange, the list, the project, the rights.
    assert_eq!(fake.requests_to("POST", "/uaa/oauth/token").len(), 1);
    assert_eq!(fake.requests_to("GET", "/project/1").len(), 1);
    assert_eq!(fake.requests_to("GET", "/permission").len(), 1);
}

#[tokio::test]
async fn a_project_that_does_not_exist_fails_the_check() {
    let fake = FakeTestOps::start().await.unwrap();
    let (ok, out, _) = check(&[
        ("ALLURE_BASE_URL", &fake.base_url()),
        ("ALLURE_TOKEN", DEMO_TOKEN),
        ("ALLURE_PROJECT_ID", "999"),
    ])
    .await;
    assert!(!ok, "{out}");
    let fails = lines_starting(&out, "FAIL");
    assert_eq!(fails.len(), 1, "{out}");
    assert!(
        fails[0].contains("ALLURE_PROJECT_ID=999") && fails[0].contains("list_projects"),
        "{out}"
    );
    // Rights of a project that is not there are not asked for.
    assert!(fake.requests_to("GET", "/permission").is_empty(), "{out}");
}

#[tokio::test]
async fn an_unreachable_host_is_blamed_on_the_network_not_the_token() {
    let (_held, port) = refused_port();
    let base = format!("http://127.0.0.1:{port}");
    let (ok, out, err) = check(&[("ALLURE_BASE_URL", &base), ("ALLURE_TOKEN", DEMO_TOKEN)]).await;
    assert!(!ok, "{out}");
    assert!(!out.contains("ok   reachable"), "{out}");
    let fails = lines_starting(&out, "FAIL");
    assert_eq!(fails.len(), 1, "{out}");
    assert!(
        fails[0].contains(&format!("cannot reach {base}")) && fails[0].contains("ALLURE_BASE_URL"),
        "{out}"
    );
    assert!(
        !out.contains("token is") && !out.contains("Retrying will not help"),
        "{out}"
    );
    assert!(!out.contains(DEMO_TOKEN) && !err.contains(DEMO_TOKEN));
}

#[tokio::test]
async fn a_wrong_token_is_reached_then_refused_without_being_echoed() {
    let fake = FakeTestOps::start().await.unwrap();
    let (ok, out, err) = check(&[
        ("ALLURE_BASE_URL", &fake.base_url()),
        ("ALLURE_TOKEN", "wrong-token-123"),
        ("ALLURE_PROJECT_ID", "1"),
    ])
    .await;
    assert!(!ok, "{out}");
    assert!(out.contains("ok   reachable"), "{out}");
    let fails = lines_starting(&out, "FAIL");
    assert_eq!(fails.len(), 1, "{out}");
    assert!(
        fails[0].starts_with("FAIL token exchange") && fails[0].contains("answered 401"),
        "{out}"
    );
    assert!(!out.contains("API answers"), "{out}");
    assert!(!out.contains("wrong-token-123") && !err.contains("wrong-token-123"));
}

/// Starts a fake whose token has only these rights in every project.
async fn fake_with_rights(rights: &[&str]) -> FakeTestOps {
    FakeTestOps::start_with(FakeOptions {
        permissions: rights.iter().map(|r| (*r).to_owned()).collect(),
        ..FakeOptions::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn rights_are_weighed_against_what_the_server_offers() {
    let fake = fake_with_rights(&["project:read"]).await;
    let base = fake.base_url();
    let envs = [
        ("ALLURE_BASE_URL", base.as_str()),
        ("ALLURE_TOKEN", DEMO_TOKEN),
        ("ALLURE_PROJECT_ID", "2"),
    ];
    // Write tools offered, but the token may only read: a warning that names the fix.
    let (ok, out, _) = check(&envs).await;
    assert!(ok, "{out}");
    let warns = lines_starting(&out, "WARN");
    assert_eq!(warns.len(), 1, "{out}");
    assert!(
        warns[0].contains("without project:write") && warns[0].contains("ALLURE_READ_ONLY=true"),
        "{out}"
    );
    // Read-only mode needs nothing more.
    let mut read_only = envs.to_vec();
    read_only.push(("ALLURE_READ_ONLY", "true"));
    let (ok, out, _) = check(&read_only).await;
    assert!(ok && lines_starting(&out, "WARN").is_empty(), "{out}");
    assert!(
        out.contains("ok   rights in project 2: project:read"),
        "{out}"
    );

    // No read right at all: nothing would work.
    let none = fake_with_rights(&[]).await;
    let base = none.base_url();
    let (ok, out, _) = check(&[
        ("ALLURE_BASE_URL", &base),
        ("ALLURE_TOKEN", DEMO_TOKEN),
        ("ALLURE_PROJECT_ID", "2"),
    ])
    .await;
    assert!(!ok, "{out}");
    assert!(out.contains("FAIL rights in project 2: none"), "{out}");
}

#[tokio::test]
async fn a_failed_tls_handshake_is_reported_with_its_cause() {
    // https to a plain-HTTP server: the handshake itself fails (no CA store needed).
    let fake = FakeTestOps::start().await.unwrap();
    let base = fake.base_url().replace("http://", "https://");
    let (ok, out, _) = check(&[
        ("ALLURE_BASE_URL", &base),
        ("ALLURE_TOKEN", DEMO_TOKEN),
        ("ALLURE_TLS_INSECURE", "true"),
    ])
    .await;
    assert!(!ok, "{out}");
    assert!(!out.contains("ok   reachable"), "{out}");
    let fails = lines_starting(&out, "FAIL");
    assert_eq!(fails.len(), 1, "{out}");
    assert!(
        fails[0].contains(&format!("cannot reach {base}"))
            && fails[0].contains("InvalidContentType")
            && fails[0].contains("ALLURE_CA_FILE"),
        "{out}"
    );
}

#[tokio::test]
async fn a_base_url_without_the_token_route_is_not_blamed_on_the_token() {
    let fake = FakeTestOps::start().await.unwrap();
    let base = format!("{}/testops", fake.base_url());
    let (ok, out, _) = check(&[("ALLURE_BASE_URL", &base), ("ALLURE_TOKEN", DEMO_TOKEN)]).await;
    assert!(!ok, "{out}");
    let fails = lines_starting(&out, "FAIL");
    assert_eq!(fails.len(), 1, "{out}");
    assert!(
        fails[0].contains("answered 404") && fails[0].contains("check ALLURE_BASE_URL"),
        "{out}"
    );
    assert!(
        !out.contains("token is wrong") && !out.contains("token is fixed"),
        "{out}"
    );
}

#[tokio::test]
async fn api_token_mode_names_the_unreachable_url_and_skips_what_depends_on_it() {
    let (_held, port) = refused_port();
    let base = format!("http://127.0.0.1:{port}");
    let (ok, out, _) = check(&[
        ("ALLURE_BASE_URL", &base),
        ("ALLURE_TOKEN", DEMO_TOKEN),
        ("ALLURE_AUTH_MODE", "api-token"),
        ("ALLURE_PROJECT_ID", "1"),
    ])
    .await;
    assert!(!ok, "{out}");
    let fails = lines_starting(&out, "FAIL");
    assert_eq!(fails.len(), 1, "{out}");
    assert!(fails[0].contains(&format!("cannot reach {base}")), "{out}");
    assert!(
        out.contains("skip default project 1 and its rights"),
        "{out}"
    );
}

#[tokio::test]
async fn an_instance_without_the_rights_route_warns_that_rights_were_not_verified() {
    let fake = FakeTestOps::start().await.unwrap();
    fake.inject(fake_testops::Fault::on(
        "/permission",
        fake_testops::FaultKind::Status {
            status: 404,
            retry_after: None,
        },
    ));
    let (ok, out, _) = check(&[
        ("ALLURE_BASE_URL", &fake.base_url()),
        ("ALLURE_TOKEN", DEMO_TOKEN),
        ("ALLURE_PROJECT_ID", "1"),
    ])
    .await;
    assert!(ok, "{out}");
    assert!(
        out.contains("WARN rights: this server has no GET /permission"),
        "{out}"
    );
}
