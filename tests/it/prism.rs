//! Stoplight Prism (pinned in `scripts/prism/`, installed by `scripts/install-prism.sh`)
//! against the API description extract `tests/data/allure-openapi-26.1.1.json`: as a
//! validating proxy in front of the fake, so every request the server sends and every
//! answer the fake gives is checked against the description; and as a mock that serves
//! random answers the description allows.
//!
//! With `PRISM=<path of prism>` every tool behaviour test runs through the proxy
//! ([`crate::common::InProcess::against`]), and a violation fails the test that caused
//! it. Without it those tests talk to the fake directly, and the tests here are skipped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fake_testops::{FakeTestOps, Fault, FaultKind};
use serde_json::{Value, json};

use crate::common::{InProcess, eventually, is_error, text};

/// The description extract Prism validates against.
/// `PRISM_SPEC` overrides it, to try a variant (`--keep-oneof`, say) by hand.
fn spec() -> PathBuf {
    std::env::var_os("PRISM_SPEC").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/allure-openapi-26.1.1.json"),
        PathBuf::from,
    )
}

/// A running Prism; stopped when dropped. Dropping one that logged a violation fails the
/// test, unless [`Prism::take_violations`] took it.
pub struct Prism {
    child: tokio::process::Child,
    pub url: String,
    log: tempfile::NamedTempFile,
    /// How many violations `take_violations` has handed out.
    taken: usize,
}

impl Prism {
    /// The `prism` binary named by `PRISM`, if any.
    pub fn binary() -> Option<PathBuf> {
        std::env::var_os("PRISM").map(PathBuf::from)
    }

    async fn start(args: &[&str]) -> Prism {
        let bin = Prism::binary().expect("PRISM names the prism binary");
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = tokio::process::Command::new(&bin)
            .args(args)
            .args(["-h", "127.0.0.1", "--port", "0"])
            .env("SCARF_ANALYTICS", "false")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.reopen().unwrap())
            .stderr(log.reopen().unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut prism = Prism {
            child,
            url: String::new(),
            log,
            taken: 0,
        };
        let marker = "Prism is listening on ";
        let log_path = prism.log.path().to_owned();
        eventually(Duration::from_secs(60), "Prism listens", async || {
            std::fs::read_to_string(&log_path).is_ok_and(|l| l.contains(marker))
        })
        .await;
        let text = std::fs::read_to_string(&log_path).unwrap();
        let at = text.find(marker).unwrap() + marker.len();
        prism.url = text[at..]
            .split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        prism
    }

    /// A validating proxy in front of `upstream`. It forwards everything (so a test sees
    /// the fake's own answers) and logs each violation, which [`Prism::violations`] reads.
    pub async fn proxy(upstream: &str) -> Prism {
        let spec = spec();
        Prism::start(&["proxy", spec.to_str().unwrap(), upstream]).await
    }

    /// A mock answering every described operation with random, schema-valid data.
    pub async fn mock(seed: u32) -> Prism {
        let spec = spec();
        let seed = seed.to_string();
        Prism::start(&[
            "mock",
            "-d",
            "--seed",
            &seed,
            "--json-schema-faker-fillProperties=false",
            spec.to_str().unwrap(),
        ])
        .await
    }

    /// Every violation logged so far: errors of the request or the answer against the
    /// description, requests to a route the description does not have, and success
    /// answers with a status the description does not declare (an error status the tests
    /// provoke on purpose is not one). Each comes with the request it was logged for.
    pub fn violations(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.log.path()).unwrap_or_default();
        let mut request = String::new();
        let mut status = 0u16;
        let mut found = Vec::new();
        for line in log.lines() {
            // `[HTTP SERVER] get /api/launch/5 ℹ  info      Request received`
            if let Some(rest) = line.split("[HTTP SERVER]").nth(1) {
                request = rest.split('ℹ').next().unwrap_or("").trim().to_owned();
                status = 0;
                continue;
            }
            // `The upstream call to /api/launch/5 has returned 200`
            if let Some(code) = line.split("has returned ").nth(1) {
                status = code.trim().parse().unwrap_or(0);
                continue;
            }
            let violation = line.contains("error     Violation")
                || line.contains("Selected route not found")
                || line.contains("Request terminated with error")
                || line.contains("NO_PATH_MATCHED")
                || (line.contains("Unable to match the returned status code")
                    && (200..300).contains(&status));
            if violation {
                let what = line.split("Violation:").nth(1).unwrap_or(line).trim();
                let answered = if status == 0 {
                    String::new()
                } else {
                    format!(", answered {status}")
                };
                found.push(format!("{what} ({request}{answered})"));
            }
        }
        found
    }

    /// The violations logged since the last call, which this Prism then no longer fails
    /// the test for.
    pub fn take_violations(&mut self) -> Vec<String> {
        let all = self.violations();
        let new = all[self.taken.min(all.len())..].to_vec();
        self.taken = all.len();
        new
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            return;
        }
        let v = self.take_violations();
        assert!(
            v.is_empty(),
            "Prism found {} violation(s) of the API description:\n{}",
            v.len(),
            v.join("\n")
        );
    }
}

const NEEDS_PRISM: &str =
    "needs Prism: PRISM=$(bash scripts/install-prism.sh) cargo test --test it -- --ignored prism::";

/// The proxy must catch what the description forbids, or its silence proves nothing.
#[tokio::test]
#[ignore = "needs Prism: PRISM=$(bash scripts/install-prism.sh) cargo test --test it -- --ignored prism::"]
async fn the_proxy_catches_a_wrong_answer_and_a_wrong_request() {
    assert!(Prism::binary().is_some(), "{NEEDS_PRISM}");
    let fake = FakeTestOps::start().await.unwrap();
    let mut prism = Prism::proxy(&fake.base_url()).await;
    let s = InProcess::against_url(&prism.url, &[]).await;
    let launch = fake.with_data(|d| d.launches[0].id);

    // Clean traffic first: no violation.
    let r = s
        .call("get_launch_details", json!({"launch_id": launch}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(prism.violations().is_empty(), "{:?}", prism.violations());

    // An answer whose field has the wrong type (`closed` is a boolean in LaunchDto).
    fake.inject(Fault::on(
        "/launch/*",
        FaultKind::Body {
            status: 200,
            body: json!({"id": launch, "name": "x", "closed": "no"}).to_string(),
        },
    ));
    let _ = s
        .call("get_launch_details", json!({"launch_id": launch}))
        .await;
    fake.clear_faults();
    let found = prism.take_violations();
    assert!(
        found.iter().any(|v| v.contains("closed")),
        "Prism missed a wrong answer: {found:?}"
    );

    // A request that breaks the description: a query value of the wrong type.
    let bad = reqwest::get(format!("{}/api/testresult?launchId=abc", prism.url))
        .await
        .unwrap();
    let _ = bad.bytes().await;
    let found = prism.take_violations();
    assert!(
        found.iter().any(|v| v.to_lowercase().contains("launchid")),
        "Prism missed a wrong request: {found:?}"
    );

    // A success status the operation does not declare (close declares 204).
    let open = fake.with_data(|d| d.launches.iter().find(|l| !l.closed).unwrap().id);
    fake.inject(Fault::on(
        "/launch/*/close",
        FaultKind::Body {
            status: 200,
            body: "{}".into(),
        },
    ));
    let _ = s.call("close_launch", json!({"launch_id": open})).await;
    fake.clear_faults();
    let found = prism.take_violations();
    assert!(
        found
            .iter()
            .any(|v| v.contains("Unable to match the returned status code")),
        "Prism missed an undeclared success status: {found:?}"
    );

    // A request to a route the description lacks.
    let raw = reqwest::get(format!("{}/api/no-such-route", prism.url))
        .await
        .unwrap();
    let _ = raw.bytes().await;
    let found = prism.take_violations();
    assert!(
        found.iter().any(|v| v.contains("route not found")),
        "Prism missed an undescribed route: {found:?}"
    );
    s.stop().await;
}

/// Tool arguments for a read tool, from its input schema: ids 1, the other required
/// fields with values valid for the tool.
pub fn arguments(tool: &rmcp::model::Tool) -> Value {
    let schema = tool.input_schema.as_ref();
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let props = schema.get("properties").and_then(Value::as_object);
    let mut args = serde_json::Map::new();
    for name in required {
        let prop = props.and_then(|p| p.get(name)).map(|p| {
            // `{"$ref": "#/$defs/X"}`: the definition it names.
            p.get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
                .and_then(|d| schema.get("$defs")?.get(d))
                .unwrap_or(p)
        });
        let kind = prop
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("string");
        let first_choice = prop
            .and_then(|p| p.get("enum"))
            .and_then(|e| e.get(0))
            .cloned();
        let value = match (name, kind) {
            _ if first_choice.is_some() => first_choice.unwrap_or_default(),
            // Two different launches, or there is nothing to compare.
            ("to_launch_id", _) => json!(2),
            ("aql", _) => json!("status = \"failed\""),
            ("path", _) => json!("/launch/1"),
            (_, "integer") => json!(1),
            (_, "array") => json!([1]),
            (_, "boolean") => json!(false),
            _ => json!("web"),
        };
        args.insert(name.to_owned(), value);
    }
    Value::Object(args)
}

/// Every read tool against answers the description allows but nobody would expect
/// (random and negative ids, huge or negative `totalPages`, empty pages): each one
/// decodes them or says clearly why not, and none outlasts REQUEST_TIMEOUT by much.
#[tokio::test]
#[ignore = "needs Prism: PRISM=$(bash scripts/install-prism.sh) cargo test --test it -- --ignored prism::"]
async fn every_read_tool_copes_with_any_answer_the_description_allows() {
    assert!(Prism::binary().is_some(), "{NEEDS_PRISM}");
    let timeout_s = 5;
    let timeout = timeout_s.to_string();
    for seed in [1, 2] {
        let mut mock = Prism::mock(seed).await;
        let s = InProcess::against_url(
            &mock.url,
            &[
                ("REQUEST_TIMEOUT", &timeout),
                ("ALLURE_PROJECT_ID", "1"),
                ("ALLURE_DYNAMIC_TOOLSETS", "false"),
            ],
        )
        .await;
        let tools = s.client.list_all_tools().await.unwrap();
        let reads: Vec<_> = tools
            .iter()
            .filter(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true))
            .collect();
        assert!(reads.len() >= 25, "{} read tools", reads.len());
        let mut failures = Vec::new();
        for tool in reads {
            let mut args = arguments(tool);
            if tool.name == "wait_for_launch" {
                // It waits on purpose: for as long as it is told.
                args["timeout_s"] = json!(1);
            }
            let started = std::time::Instant::now();
            let r = tokio::time::timeout(
                Duration::from_secs(timeout_s + 5),
                s.call(&tool.name, args.clone()),
            )
            .await;
            let took = started.elapsed();
            let Ok(r) = r else {
                failures.push(format!(
                    "{} {args}: no answer within REQUEST_TIMEOUT + 5 s",
                    tool.name
                ));
                continue;
            };
            let t = text(&r);
            eprintln!(
                "{} ({took:?}): {}",
                tool.name,
                t.lines().next().unwrap_or("")
            );
            // A schema-valid answer must decode; refusing a nonsense value (a negative
            // id) with a clear message is fine, failing to read the shape is not.
            if t.contains("unexpected body") || t.contains("does not understand") || t.is_empty() {
                failures.push(format!("{} {args} (seed {seed}, {took:?}): {t}", tool.name));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        // The mock answers from the description, so what the server sent must fit it.
        let sent = mock.take_violations();
        let requests: Vec<_> = sent
            .iter()
            .filter(|v| v.to_lowercase().contains("request") || v.contains("NO_PATH_MATCHED"))
            .collect();
        assert!(
            requests.is_empty(),
            "requests outside the description: {requests:?}"
        );
        s.stop().await;
    }
}
