//! The real binary over stdio, driven by rmcp's client, against the fake upstream.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::{Session, is_error, text};
use fake_testops::{FakeTestOps, Fault, FaultKind};
use serde_json::json;

#[tokio::test]
async fn initialize_list_and_call_the_first_tools() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = Session::against(&fake, &[]).await;
    let info = s.client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("allure-mcp")
    );
    let tools = s.client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for n in [
        "list_projects",
        "get_project",
        "find_project",
        "list_launches",
        "get_launch_details",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }

    let r = s.call("list_projects", json!({})).await;
    assert!(!is_error(&r), "{}", text(&r));
    let sc = r.structured_content.clone().unwrap();
    assert_eq!(sc["page"]["total"], 4);
    assert_eq!(sc["projects"].as_array().unwrap().len(), 4);
    assert!(text(&r).contains("Web Shop [WEB]"));
    let q = fake.requests_to("GET", "/project").pop().unwrap();
    assert_eq!(q.query_param("size").as_deref(), Some("20"));
    assert_eq!(q.query_param("page").as_deref(), Some("0"));

    let r = s.call("get_project", json!({"project_id": 3})).await;
    assert_eq!(r.structured_content.as_ref().unwrap()["abbr"], "PAY");
    assert!(
        r.structured_content.as_ref().unwrap()["url"]
            .as_str()
            .unwrap()
            .ends_with("/project/3/dashboards")
    );

    for (query, id) in [("pay", 3), ("MOB", 2), ("data platform", 4), ("web", 1)] {
        let r = s.call("find_project", json!({"query": query})).await;
        assert_eq!(
            r.structured_content.as_ref().unwrap()["matches"][0]["id"],
            id,
            "{query}: {}",
            text(&r)
        );
    }
    let r = s
        .call("find_project", json!({"query": "nothing like this"}))
        .await;
    assert!(!is_error(&r));
    assert!(text(&r).contains("No project matches"));

    let r = s
        .call("list_launches", json!({"project_id": 1, "size": 5}))
        .await;
    let sc = r.structured_content.clone().unwrap();
    assert_eq!(sc["launches"].as_array().unwrap().len(), 5);
    assert_eq!(sc["page"]["has_more"], true);
    assert_eq!(sc["page"]["next_page"], 1);
    let q = fake.requests_to("GET", "/launch").pop().unwrap();
    assert_eq!(q.query_param("projectId").as_deref(), Some("1"));
    // Snake case: the description's own default for this route is `created_date,DESC`.
    assert_eq!(q.query_param("sort").as_deref(), Some("created_date,desc"));
    assert_eq!(q.query_param("size").as_deref(), Some("5"));

    // The newest launch is the open one; its detail carries statistic, job runs and a link.
    let newest = sc["launches"][0]["id"].as_i64().unwrap();
    let r = s
        .call("get_launch_details", json!({"launch_id": newest}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let d = r.structured_content.clone().unwrap();
    let expected_total = fake.with_data(|data| {
        data.results
            .iter()
            .filter(|x| x.launch_id == newest)
            .count()
    });
    assert_eq!(d["statistic"]["total"], expected_total as i64);
    assert_eq!(d["state"], "open");
    assert!(
        d["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/launch/{newest}"))
    );
    assert_eq!(d["job_runs"].as_array().unwrap().len(), 1);
    assert!(text(&r).contains("% passed"));
    s.stop().await;
}

#[tokio::test]
async fn upstream_errors_are_tool_errors_that_say_what_to_do() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = Session::against(&fake, &[]).await;

    let r = s
        .call("get_launch_details", json!({"launch_id": 987654}))
        .await;
    assert!(is_error(&r));
    assert!(
        text(&r).contains("Launch 987654 not found") && text(&r).contains("list_launches"),
        "{}",
        text(&r)
    );

    fake.inject(
        Fault::on(
            "/project/*",
            FaultKind::Status {
                status: 403,
                retry_after: None,
            },
        )
        .times(1),
    );
    let r = s.call("get_project", json!({"project_id": 2})).await;
    assert!(is_error(&r));
    assert!(
        text(&r).contains("403") && text(&r).contains("rights"),
        "{}",
        text(&r)
    );

    fake.inject(
        Fault::on(
            "/project",
            FaultKind::Status {
                status: 500,
                retry_after: None,
            },
        )
        .times(1),
    );
    let r = s.call("list_projects", json!({})).await;
    assert!(is_error(&r));
    assert!(
        text(&r).contains("500") && text(&r).contains("retry"),
        "{}",
        text(&r)
    );

    // The server keeps serving after errors.
    let r = s.call("list_projects", json!({})).await;
    assert!(!is_error(&r));
    s.stop().await;
}

#[tokio::test]
async fn bad_arguments_are_tool_errors_and_send_nothing() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = Session::against(&fake, &[]).await;
    let before = fake.requests().len();
    for (tool, args, needle) in [
        ("get_launch_details", json!({}), "launch_id"),
        (
            "get_launch_details",
            json!({"launch_id": "abc"}),
            "Invalid arguments",
        ),
        (
            "get_launch_details",
            json!({"launch_id": -3}),
            "not a launch id",
        ),
        (
            "list_launches",
            json!({"project_id": 1, "size": 1000}),
            "size must be",
        ),
        ("list_launches", json!({}), "project_id is required"),
        ("find_project", json!({"query": "  "}), "must not be empty"),
    ] {
        let r = s.call(tool, args.clone()).await;
        assert!(is_error(&r), "{tool} {args}");
        assert!(text(&r).contains(needle), "{tool} {args}: {}", text(&r));
    }
    // A tool the server does not offer is a protocol error (-32602), not a tool result.
    let (code, message) = common::try_call_tool(&s.client, "no_such_tool", json!({}))
        .await
        .unwrap_err();
    assert_eq!(code, -32602, "{message}");
    assert!(message.contains("Unknown tool 'no_such_tool'"), "{message}");
    assert_eq!(fake.requests().len(), before, "no request reached Allure");
    s.stop().await;
}

#[tokio::test]
async fn the_default_project_applies_when_omitted() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = Session::against(&fake, &[("ALLURE_PROJECT_ID", "2")]).await;
    let r = s.call("list_launches", json!({"size": 1})).await;
    assert_eq!(r.structured_content.unwrap()["project_id"], 2);
    s.stop().await;
}

#[tokio::test]
async fn a_hung_upstream_is_a_tool_error_within_the_timeout() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = Session::against(&fake, &[("REQUEST_TIMEOUT", "2")]).await;
    fake.inject(Fault::on("/launch/*", FaultKind::Hang));
    let started = Instant::now();
    let r = s.call("get_launch_details", json!({"launch_id": 1})).await;
    let took = started.elapsed();
    assert!(is_error(&r), "{}", text(&r));
    // It never answers: ending at the deadline proves there is one (the margin is for a
    // loaded machine).
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(7),
        "took {took:?}"
    );
    assert!(text(&r).contains("did not answer in time"), "{}", text(&r));
    s.stop().await;
}

#[tokio::test]
async fn no_secret_reaches_the_logs_even_at_trace() {
    let secret = "very-secret-api-token-4711";
    let fake = FakeTestOps::start_with(fake_testops::FakeOptions {
        api_tokens: vec![secret.into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let base = fake.base_url();
    let s = Session::start(
        &[
            ("ALLURE_BASE_URL", &base),
            ("ALLURE_TOKEN", secret),
            ("LOG_LEVEL", "trace"),
        ],
        &[],
    )
    .await;
    let r = s.call("list_projects", json!({})).await;
    assert!(!is_error(&r));
    fake.revoke_jwts();
    s.call("get_launch_details", json!({"launch_id": 123456}))
        .await;
    fake.set_api_tokens(vec!["rotated".into()]);
    fake.revoke_jwts();
    let failed = s.call("list_projects", json!({})).await;
    assert!(is_error(&failed));
    assert!(!text(&failed).contains(secret));
    let logs = s.stop().await;
    assert!(
        logs.contains("\"level\":\"DEBUG\"") || logs.contains("\"level\":\"TRACE\""),
        "trace logging was on: {logs}"
    );
    assert!(!logs.contains(secret), "the API token leaked into the logs");
    let jwts: Vec<String> = fake
        .requests()
        .iter()
        .filter_map(|r| r.authorization.clone())
        .filter_map(|a| a.strip_prefix("Bearer ").map(str::to_owned))
        .collect();
    assert!(!jwts.is_empty());
    for jwt in jwts {
        assert!(!logs.contains(&jwt), "a JWT leaked into the logs");
        assert!(
            !logs.contains(jwt.rsplit('.').next().unwrap()),
            "part of a JWT leaked into the logs"
        );
    }
}

#[tokio::test]
async fn demo_mode_serves_sample_data_and_says_so() {
    let s = Session::start(&[], &["--demo"]).await;
    let r = s.call("list_projects", json!({})).await;
    assert_eq!(r.structured_content.unwrap()["page"]["total"], 4);
    let logs = s.stop().await;
    assert!(logs.contains("DEMO MODE"), "{logs}");
}

#[tokio::test]
async fn bad_configuration_is_one_line_and_exit_code_2() {
    for (envs, var) in [
        (vec![("ALLURE_TOKEN", "x")], "ALLURE_BASE_URL"),
        (
            vec![("ALLURE_BASE_URL", "ftp://x"), ("ALLURE_TOKEN", "x")],
            "ALLURE_BASE_URL",
        ),
        (
            vec![("ALLURE_BASE_URL", "http://127.0.0.1:9")],
            "ALLURE_TOKEN",
        ),
        (
            vec![
                ("ALLURE_BASE_URL", "http://127.0.0.1:9"),
                ("ALLURE_TOKEN", "x"),
                ("REQUEST_TIMEOUT", "0"),
            ],
            "REQUEST_TIMEOUT",
        ),
        (
            vec![
                ("ALLURE_BASE_URL", "http://127.0.0.1:9"),
                ("ALLURE_TOKEN", "x"),
                ("LOG_LEVEL", "chatty"),
            ],
            "LOG_LEVEL",
        ),
    ] {
        let out = common::exit_of(common::command(&envs, &[])).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{envs:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(var), "{stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
        assert!(out.stdout.is_empty(), "nothing on stdout");
    }
}

#[tokio::test]
async fn help_shows_environment_names_but_no_secret_values() {
    let out = common::exit_of(common::command(
        &[
            ("ALLURE_TOKEN", "hidden-token-value"),
            ("MCP_AUTH_TOKEN", "hidden-mcp-value"),
        ],
        &["--help"],
    ))
    .await;
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "ALLURE_BASE_URL",
        "ALLURE_TOKEN",
        "REQUEST_TIMEOUT",
        "LOG_LEVEL",
        "PORT",
        "MCP_AUTH_TOKEN",
        "CORS_ALLOWED_ORIGIN",
        "ALLURE_API_PREFIX",
        "ALLURE_AUTH_MODE",
        "ALLURE_PROJECT_ID",
        "ALLURE_CA_FILE",
        "ALLURE_TLS_INSECURE",
        "ALLURE_TOOLSETS",
        "ALLURE_READ_ONLY",
        "--http",
        "--demo",
    ] {
        assert!(help.contains(var), "--help lacks {var}");
    }
    assert!(help.contains("[default: 30]"));
    assert!(!help.contains("hidden-token-value") && !help.contains("hidden-mcp-value"));
}

#[tokio::test]
async fn stdout_carries_only_protocol_messages() {
    let fake = FakeTestOps::start().await.unwrap();
    let base = fake.base_url();
    let mut child = common::command(
        &[
            ("ALLURE_BASE_URL", &base),
            ("ALLURE_TOKEN", fake_testops::DEMO_TOKEN),
            ("LOG_LEVEL", "trace"),
        ],
        &[],
    )
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    let msgs = [
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_projects","arguments":{}}}),
    ];
    for m in msgs {
        stdin.write_all(format!("{m}\n").as_bytes()).await.unwrap();
    }
    // Wait for the answer to id 2, then close stdin: the server exits.
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout);
    let mut seen = Vec::new();
    use tokio::io::AsyncBufReadExt;
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(10), lines.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "stdout closed early");
        let v: serde_json::Value =
            serde_json::from_str(&line).expect("every stdout line is JSON-RPC");
        assert_eq!(v["jsonrpc"], "2.0");
        seen.push(v.clone());
        if v["id"] == 2 {
            break;
        }
    }
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    assert_eq!(seen.len(), 2);
}

#[tokio::test]
async fn http_proxy_from_the_environment_is_honoured() {
    // The fake serves absolute-form requests too, so it can stand in for a forward proxy:
    // the `.invalid` host can only be reached through it.
    let fake = FakeTestOps::start().await.unwrap();
    let proxy = fake.base_url();
    let s = Session::start(
        &[
            ("ALLURE_BASE_URL", "http://testops.invalid"),
            ("ALLURE_TOKEN", fake_testops::DEMO_TOKEN),
            ("HTTP_PROXY", &proxy),
            ("REQUEST_TIMEOUT", "5"),
        ],
        &[],
    )
    .await;
    let r = s.call("list_projects", json!({})).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(fake.token_exchanges(), 1);
    s.stop().await;
}
