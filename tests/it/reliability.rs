//! Reliability: upstream faults on every kind of route, hostile MCP input over stdio and
//! HTTP, property tests of our parsers and projections, load with 200 clients, 1,000
//! idle SSE sessions and the session cap. Bounded in count and time.

use crate::common;

use std::io::Write;
use std::time::{Duration, Instant};

use crate::common::{HttpServer, InProcess, SseClient, http, is_error, text};
use fake_testops::{DEMO_TOKEN, FakeTestOps, Fault, FaultKind};
use serde_json::{Value, json};

/// Faults an upstream can have, each on the route a tool uses.
fn faults() -> Vec<(&'static str, FaultKind)> {
    vec![
        (
            "500",
            FaultKind::Status {
                status: 500,
                retry_after: None,
            },
        ),
        (
            "502",
            FaultKind::Status {
                status: 502,
                retry_after: None,
            },
        ),
        (
            "503",
            FaultKind::Status {
                status: 503,
                retry_after: None,
            },
        ),
        (
            "504",
            FaultKind::Status {
                status: 504,
                retry_after: None,
            },
        ),
        (
            "429",
            FaultKind::Status {
                status: 429,
                retry_after: Some(1),
            },
        ),
        ("reset", FaultKind::Reset),
        ("hang", FaultKind::Hang),
        ("slow body", FaultKind::SlowBody(Duration::from_millis(400))),
        (
            "malformed JSON",
            FaultKind::Body {
                status: 200,
                body: "{\"content\": [{\"id\": 1,".into(),
            },
        ),
        (
            "unexpected shape",
            FaultKind::Body {
                status: 200,
                body: "{\"unexpected\": true}".into(),
            },
        ),
    ]
}

/// What the error of a call on a route that stays broken says, by fault; `None` for
/// faults a call may survive (a slow body still arrives; a write answered with an odd
/// body did happen upstream).
fn expected_phrase(label: &str) -> Option<&'static str> {
    Some(match label {
        "500" | "502" | "503" | "504" => "Allure TestOps failed",
        "429" => "rate limiting",
        "reset" => "Could not reach Allure TestOps",
        "hang" => "did not answer in time",
        _ => return None,
    })
}

#[tokio::test]
async fn every_upstream_fault_is_a_clear_tool_error_in_time_and_writes_are_never_repeated() {
    let fake = FakeTestOps::start().await.unwrap();
    let timeout = 2u64;
    let s = InProcess::against(&fake, &[("REQUEST_TIMEOUT", "2")]).await;
    let (open_launch, job) = fake.with_data(|d| {
        (
            d.launches
                .iter()
                .find(|l| !l.closed && l.project_id == 1)
                .unwrap()
                .id,
            d.jobs.iter().find(|j| j.project_id == 1).unwrap().id,
        )
    });
    // (tool, arguments, route to break, method): reads and writes.
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("list_projects", json!({}), "/project", "GET"),
        (
            "get_launch_details",
            json!({"launch_id": open_launch}),
            "/launch/*",
            "GET",
        ),
        (
            "list_test_results",
            json!({"launch_id": open_launch, "status": "failed"}),
            "/testresult/__search",
            "GET",
        ),
        (
            "close_launch",
            json!({"launch_id": open_launch}),
            "/launch/*/close",
            "POST",
        ),
        (
            "run_allure_launch",
            json!({"project_id": 1, "launch_name": "x", "job_id": job}),
            "/job/*/run",
            "POST",
        ),
        (
            "create_test_case",
            json!({"project_id": 1, "name": "x"}),
            "/testcase",
            "POST",
        ),
    ];
    for (tool, args, route, method) in &cases {
        for (label, fault) in faults() {
            // Each case finds the launch open, so close_launch does reach its route.
            fake.with_data(|d| {
                if let Some(l) = d.launches.iter_mut().find(|l| l.id == open_launch) {
                    l.closed = false;
                }
            });
            fake.clear_requests();
            fake.inject(Fault::on(route, fault).method(method));
            let started = Instant::now();
            let r = s.call(tool, args.clone()).await;
            let took = started.elapsed();
            fake.clear_faults();
            // A generous margin: the point is that a hang ends at the deadline, not at
            // whatever a loaded machine adds to it.
            assert!(
                took < Duration::from_secs(timeout + 5),
                "{tool} / {label}: took {took:?}"
            );
            let hits = fake.requests_to(method, route).len();
            if *method == "GET" {
                assert!(
                    hits >= 1,
                    "{tool} / {label}: {method} {route} was never asked"
                );
            } else {
                assert_eq!(
                    hits, 1,
                    "{tool} / {label}: {method} {route} sent {hits} times"
                );
            }
            // The fault stays until cleared, so a broken route fails the call, and the
            // error says which way it broke.
            if let Some(phrase) = expected_phrase(label) {
                assert!(
                    is_error(&r),
                    "{tool} / {label}: succeeded on a broken route: {}",
                    text(&r)
                );
                let t = text(&r);
                assert!(
                    t.contains(phrase),
                    "{tool} / {label}: expected '{phrase}' in: {t}"
                );
            } else if is_error(&r) {
                let t = text(&r);
                assert!(
                    t.contains("Allure TestOps") && !t.contains("panicked"),
                    "{tool} / {label}: unclear error {t}"
                );
            }
            // The server keeps serving.
            let next = s.call("list_projects", json!({"size": 1})).await;
            assert!(
                !is_error(&next),
                "{tool} / {label}: the next call failed: {}",
                text(&next)
            );
        }
    }
    s.stop().await;
}

/// Malformed and hostile JSON-RPC, as lines on stdin.
fn hostile_lines() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = Vec::new();
    let mut rng = fastrand::Rng::with_seed(7);
    for i in 0..2000u64 {
        let id = 1000 + i;
        let line = match i % 14 {
            0 => b"{not json".to_vec(),
            1 => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"no/such/method"}}"#).into_bytes(),
            2 => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":42}}}}"#).into_bytes(),
            3 => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":"a string"}}"#).into_bytes(),
            4 => r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"list_projects"}}"#.as_bytes().to_vec(),
            5 => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"find_project","arguments":{{"query":"{}"}}}}}}"#, "x".repeat(200_000)).into_bytes(),
            6 => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"bulk_mute_test_results","arguments":{{"launch_id":1,"test_result_ids":[{}],"reason":"x"}}}}}}"#, vec!["1"; 50_000].join(",")).into_bytes(),
            7 => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping","params":{}{}}}"#, "[".repeat(5000), "]".repeat(5000)).into_bytes(),
            8 => {
                let mut b = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"find_project","arguments":{{"query":""#).into_bytes();
                b.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
                b.extend_from_slice(br#""}}}"#);
                b
            }
            9 => format!(r#"[{{"jsonrpc":"2.0","id":{id},"method":"ping"}},{{"jsonrpc":"2.0","id":{},"method":"ping"}}]"#, id + 100_000).into_bytes(),
            10 => format!(r#"{{"jsonrpc":"1.0","id":{id},"method":"ping"}}"#).into_bytes(),
            11 => r#"{"jsonrpc":"2.0","id":{"nested":true},"method":"ping"}"#.to_string().into_bytes(),
            12 => (0..rng.usize(1..200)).map(|_| rng.u8(..)).filter(|b| *b != b'\n').collect(),
            _ => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"get_launch_details","arguments":{{"launch_id":"{}"}}}}}}"#, i).into_bytes(),
        };
        v.push(line);
    }
    v
}

/// The ids of [`hostile_lines`] that are well-formed requests and must be answered,
/// and the final ping's.
fn expected_answers() -> impl Iterator<Item = u64> {
    (0..2000u64)
        .filter(|i| i % 14 == 1 || i % 14 == 13)
        .map(|i| 1000 + i)
        .chain([99])
}

#[tokio::test]
async fn hostile_stdio_input_neither_crashes_nor_hangs_the_server() {
    let fake = FakeTestOps::start().await.unwrap();
    let base = fake.base_url();
    let mut child = common::command(
        &[
            ("ALLURE_BASE_URL", &base),
            ("ALLURE_TOKEN", DEMO_TOKEN),
            ("LOG_LEVEL", "error"),
        ],
        &[],
    )
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null())
    .kill_on_drop(true)
    .spawn()
    .unwrap();
    let pid = child.id().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let mut answered = std::collections::HashMap::new();
        // Requests are handled concurrently, so answers come in any order: read until
        // every request that must be answered was, not just the last one sent.
        let mut missing: std::collections::HashSet<u64> = expected_answers().collect();
        while let Ok(Some(line)) = lines.next_line().await {
            let v: Value = serde_json::from_str(&line).expect("every stdout line is JSON");
            if let Some(id) = v["id"].as_u64() {
                missing.remove(&id);
                answered.insert(id, v.clone());
            }
            if missing.is_empty() {
                break;
            }
        }
        answered
    });
    use tokio::io::AsyncWriteExt;
    stdin.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"fuzz\",\"version\":\"1\"}}}\n{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n").await.unwrap();
    let lines = hostile_lines();
    let sent = lines.len();
    for l in lines {
        stdin.write_all(&l).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
    }
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"ping\"}\n")
        .await
        .unwrap();
    stdin.flush().await.unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the final ping is answered")
        .unwrap();
    assert!(answered.contains_key(&99));
    // Well-formed requests with an id got an answer: an unknown method the JSON-RPC
    // error for it, a bad argument an error the model can read.
    for id in expected_answers().filter(|id| *id != 99) {
        let v = answered
            .get(&id)
            .unwrap_or_else(|| panic!("request {id} unanswered"));
        if (id - 1000) % 14 == 1 {
            assert_eq!(v["error"]["code"], -32601, "{v}");
        } else {
            assert!(
                v.get("error").is_some() || v["result"]["isError"] == true,
                "{v}"
            );
        }
    }
    let rss: u64 = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap();
    assert!(
        rss < 200 * 1024,
        "RSS {rss} KiB after {sent} hostile messages"
    );
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "clean exit after the flood: {status:?}");
}

#[tokio::test]
async fn hostile_http_input_gets_4xx_and_the_server_stays_up() {
    let fake = FakeTestOps::start().await.unwrap();
    let base = fake.base_url();
    let s = HttpServer::start(
        &[
            ("ALLURE_BASE_URL", &base),
            ("ALLURE_TOKEN", DEMO_TOKEN),
            ("MCP_AUTH_TOKEN", "fuzz-token-0123456789"),
            ("RATE_LIMIT_PER_SECOND", "100000"),
            ("RATE_LIMIT_BURST", "100000"),
            ("MAX_BODY_BYTES", "1048576"),
        ],
        &[],
    )
    .await;
    let client = http();
    let mut seen = std::collections::BTreeMap::new();
    for (i, line) in hostile_lines().into_iter().enumerate().take(700) {
        let resp = client
            .post(s.url("/mcp"))
            .bearer_auth("fuzz-token-0123456789")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .body(line)
            .send()
            .await
            .unwrap();
        let code = resp.status().as_u16();
        let _ = resp.bytes().await;
        // Without a session (and none of these is an `initialize`) every message is
        // refused as the client's mistake, never as the server's failure.
        assert!((400..500).contains(&code), "message {i}: {code}");
        *seen.entry(code).or_insert(0) += 1;
    }
    let sse_post = client
        .post(s.url("/messages?sessionId=nope"))
        .bearer_auth("fuzz-token-0123456789")
        .body(vec![0xffu8, 0x00, 0x01])
        .send()
        .await
        .unwrap();
    assert_eq!(sse_post.status(), 404);
    let ok = client.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(ok.status(), 200, "alive after {seen:?}");
    let (status, _) = s.stop().await;
    assert!(status.success());
}

#[tokio::test]
async fn two_hundred_clients_times_fifty_calls_without_an_error() {
    let fake = FakeTestOps::start().await.unwrap();
    let base = fake.base_url();
    let s = HttpServer::start(
        &[
            ("ALLURE_BASE_URL", &base),
            ("ALLURE_TOKEN", DEMO_TOKEN),
            ("MCP_AUTH_TOKEN", "load-token-0123456789"),
            ("RATE_LIMIT_PER_SECOND", "100000"),
            ("RATE_LIMIT_BURST", "100000"),
            ("MCP_STATELESS", "true"),
            ("LOG_LEVEL", "warn"),
        ],
        &[],
    )
    .await;
    let url = s.url("/mcp");
    // Each client is built before the clock starts: building one loads the system's CA
    // roots (milliseconds in a debug build), and 200 of them built inside the timed tasks
    // on this one-threaded runtime showed up as 2.4 s first calls that the server never saw.
    let https: Vec<_> = (0..200).map(|_| http()).collect();
    let started = Instant::now();
    let clients: Vec<_> = https
        .into_iter()
        .enumerate()
        .map(|(c, client)| {
            let url = url.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0;
                for i in 0..50 {
                    let body = json!({"jsonrpc":"2.0","id": i,"method":"tools/call","params":{"name":"get_project","arguments":{"project_id": 1 + (c + i) % 4}}});
                    let t = Instant::now();
                    let resp = client.post(&url).bearer_auth("load-token-0123456789").header("accept", "application/json, text/event-stream").header("mcp-protocol-version", "2025-06-18").json(&body).send().await;
                    match resp {
                        Ok(r) if r.status() == 200 => {
                            let v: Value = r.json().await.unwrap_or(Value::Null);
                            if v["result"]["isError"] != false {
                                errors += 1;
                            }
                        }
                        _ => errors += 1,
                    }
                    lat.push(t.elapsed());
                }
                (lat, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for c in clients {
        let (lat, e) = c.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    let elapsed = started.elapsed();
    all.sort();
    let p = |q: f64| all[((all.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    eprintln!(
        "load: 200 clients × 50 calls = {} calls in {elapsed:?} ({:.0}/s); latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
        all.len(),
        all.len() as f64 / elapsed.as_secs_f64(),
        p(0.5),
        p(0.95),
        p(0.99)
    );
    assert_eq!(errors, 0);
    assert_eq!(all.len(), 10_000);
    s.stop().await;
}

#[tokio::test]
async fn a_thousand_idle_sse_sessions_and_the_cap() {
    let fake = FakeTestOps::start().await.unwrap();
    let base = fake.base_url();
    let s = HttpServer::start(
        &[
            ("ALLURE_BASE_URL", &base),
            ("ALLURE_TOKEN", DEMO_TOKEN),
            ("MCP_AUTH_TOKEN", "sse-token-0123456789"),
            ("RATE_LIMIT_PER_SECOND", "100000"),
            ("RATE_LIMIT_BURST", "100000"),
            ("MAX_SESSIONS", "1000"),
            // One address holding a thousand streams: allowed by saying so.
            ("MAX_CONNECTIONS_PER_IP", "2000"),
            ("LOG_LEVEL", "warn"),
        ],
        &[],
    )
    .await;
    let pid = s.child.id().unwrap();
    let rss = || -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap()
    };
    let before = rss();
    let mut sessions = Vec::new();
    for _ in 0..1000 {
        let mut c = SseClient::open(&s.url("/sse"), Some("sse-token-0123456789"))
            .await
            .expect("a session");
        let (event, _) = c.next().await.unwrap();
        assert_eq!(event, "endpoint");
        sessions.push(c);
    }
    let after = rss();
    eprintln!("1000 idle SSE sessions: RSS {before} KiB -> {after} KiB");
    assert!(
        after - before < 150 * 1024,
        "{} KiB for 1000 sessions",
        after - before
    );
    let refused = SseClient::open(&s.url("/sse"), Some("sse-token-0123456789"))
        .await
        .err()
        .expect("the 1001st is refused");
    assert_eq!(refused.status(), 503);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "too_many_sessions"
    );
    drop(sessions);
    s.stop().await;
}

mod properties {
    use allure_mcp::tools::aql::quote;
    use allure_mcp::tools::triage::signature;
    use fake_testops::aql;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// The product's AQL quoting, read back by the fake's parser (the fake's own
        /// parser is tested in its crate).
        #[test]
        fn quoted_values_round_trip_through_aql(s in ".{0,80}") {
            let e = aql::parse(&format!("name = {}", quote(&s)), 0).unwrap();
            match e {
                aql::Expr::Cmp { value: aql::Lit::Str(v), .. } => prop_assert_eq!(v, s),
                other => prop_assert!(false, "{other:?}"),
            }
        }

        #[test]
        fn signatures_never_panic_and_stay_short(s in "(?s).{0,2000}") {
            let sig = signature(&s);
            prop_assert!(!sig.is_empty() && sig.chars().count() <= 200);
        }

        #[test]
        fn decoding_any_json_as_allure_models_never_panics(v in arb_json()) {
            let text = v.to_string();
            let _ = serde_json::from_str::<allure_mcp::allure::Page<allure_mcp::allure::model::Launch>>(&text);
            let _ = serde_json::from_str::<allure_mcp::allure::model::TestResult>(&text);
            let _ = serde_json::from_str::<allure_mcp::allure::model::Scenario>(&text);
        }
    }

    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            ".{0,20}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("content".to_string()),
                        Just("id".to_string()),
                        Just("status".to_string()),
                        ".{0,8}".prop_map(|s| s)
                    ],
                    inner,
                    0..8
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }
}

#[tokio::test]
async fn any_arguments_to_any_tool_are_answered_without_a_panic() {
    // Arbitrary argument objects against every tool, in process: each call returns a
    // result (usually isError) and nothing panics.
    let fake = FakeTestOps::start().await.unwrap();
    let client = common::client(&fake);
    let registry = allure_mcp::tools::Registry::new(&allure_mcp::tools::Toolset::ALL, false);
    let ctx = common::ctx(client, Default::default());
    let mut rng = fastrand::Rng::with_seed(11);
    let values = [
        json!(null),
        json!(0),
        json!(-1),
        json!(1),
        json!(i64::MAX),
        json!("x"),
        json!(""),
        json!([]),
        json!([0, -5]),
        json!({}),
        json!(true),
        json!(1.5),
    ];
    let keys = [
        "project_id",
        "launch_id",
        "test_result_id",
        "test_case_id",
        "size",
        "page",
        "status",
        "aql",
        "query",
        "name",
        "tags",
        "test_result_ids",
        "method",
        "path",
        "timeout_s",
    ];
    let names: Vec<&str> = registry.tools().iter().map(|t| t.name).collect();
    let mut n = 0;
    for _ in 0..6 {
        for name in &names {
            if *name == "wait_for_launch" {
                continue; // waits by design; covered by its own tests
            }
            let mut args = serde_json::Map::new();
            for _ in 0..rng.usize(0..4) {
                args.insert(
                    keys[rng.usize(..keys.len())].to_string(),
                    values[rng.usize(..values.len())].clone(),
                );
            }
            let r = tokio::time::timeout(
                Duration::from_secs(10),
                registry.call(ctx.clone(), name, Some(args.clone())),
            )
            .await
            .unwrap_or_else(|_| panic!("{name} {args:?} hung"))
            .unwrap_or_else(|e| panic!("{name} is offered: {e}"));
            assert!(!r.content.is_empty(), "{name} {args:?}");
            n += 1;
        }
    }
    assert!(n > 250);
    let _ = std::io::stderr().flush();
}
