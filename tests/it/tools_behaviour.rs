//! Every tool through the MCP server against the fake: the exact request it sends (path,
//! query, body), its answer, and its error paths. The server runs in this process
//! ([`InProcess`], built as the binary builds it); `stdio.rs` and `http.rs` drive the
//! real binary.

use std::time::Duration;

use crate::common::{self, InProcess, is_error, text};
use fake_testops::{FakeOptions, FakeTestOps, Fault, FaultKind, Recorded};
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

fn sc(r: &CallToolResult) -> Value {
    r.structured_content.clone().unwrap_or(Value::Null)
}

fn body(r: &Recorded) -> Value {
    serde_json::from_str(&r.body).unwrap_or(Value::Null)
}

fn writes(fake: &FakeTestOps) -> Vec<Recorded> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method != "GET" && r.path != "/api/uaa/oauth/token")
        .collect()
}

/// Project 1's launches, oldest first: (id, closed).
fn launches(fake: &FakeTestOps, project: i64) -> Vec<(i64, bool)> {
    fake.with_data(|d| {
        d.launches
            .iter()
            .filter(|l| l.project_id == project)
            .map(|l| (l.id, l.closed))
            .collect()
    })
}

/// How many of a launch's results failed or broke, by the fake's own data.
fn failed_or_broken(fake: &FakeTestOps, launch: i64) -> usize {
    fake.with_data(|d| {
        d.results
            .iter()
            .filter(|r| r.launch_id == launch && (r.status == "failed" || r.status == "broken"))
            .count()
    })
}

/// A closed launch of project 1 that has failures.
fn failing_launch(fake: &FakeTestOps) -> i64 {
    fake.with_data(|d| {
        d.launches
            .iter()
            .filter(|l| l.project_id == 1 && l.closed)
            .rev()
            .find(|l| {
                d.results
                    .iter()
                    .filter(|r| r.launch_id == l.id && r.status == "failed")
                    .count()
                    >= 3
            })
            .unwrap()
            .id
    })
}

#[tokio::test]
async fn list_test_results_filters_by_status_on_the_server_across_pages() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let launch = failing_launch(&fake);
    let expected = failed_or_broken(&fake, launch);
    let r = s
        .call(
            "list_test_results",
            json!({"launch_id": launch, "status": "failed,broken", "size": 2}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let v = sc(&r);
    assert_eq!(
        v["page"]["total"], expected as i64,
        "the total counts every page"
    );
    assert_eq!(v["results"].as_array().unwrap().len(), 2);
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["status"] == "failed" || x["status"] == "broken")
    );
    let q = fake
        .requests_to("GET", "/testresult/__search")
        .pop()
        .unwrap();
    assert_eq!(
        q.query_param("rql").unwrap(),
        format!("launch = {launch} and status in [\"failed\", \"broken\"]")
    );
    assert_eq!(q.query_param("projectId").as_deref(), Some("1"));
    assert!(
        v["results"][0]["url"]
            .as_str()
            .unwrap()
            .contains(&format!("/launch/{launch}/tree/"))
    );

    // Without a status: the plain list, with first lines of messages.
    let r = s
        .call("list_test_results", json!({"launch_id": launch}))
        .await;
    assert_eq!(
        fake.requests_to("GET", "/testresult")
            .pop()
            .unwrap()
            .query_param("launchId"),
        Some(launch.to_string())
    );
    assert!(
        sc(&r)["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["message"].is_string())
    );

    let r = s
        .call(
            "list_test_results",
            json!({"launch_id": launch, "status": "red"}),
        )
        .await;
    assert!(is_error(&r) && text(&r).contains("not one of"));
    s.stop().await;
}

#[tokio::test]
async fn get_test_result_cuts_traces_and_says_how_to_get_the_rest() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let (id, trace_len) = fake.with_data(|d| {
        d.results
            .iter()
            .find(|r| r.status == "failed")
            .map(|r| (r.id, r.trace.as_ref().unwrap().chars().count()))
            .unwrap()
    });
    assert!(trace_len > 1500, "the seed has long traces");
    let r = s
        .call("get_test_result", json!({"test_result_id": id}))
        .await;
    let v = sc(&r);
    assert_eq!(v["status"], "failed");
    let t = v["trace"].as_str().unwrap();
    assert!(
        t.contains("more characters cut") && t.contains("full=true"),
        "{t}"
    );
    let full = s
        .call(
            "get_test_result",
            json!({"test_result_id": id, "full": true}),
        )
        .await;
    assert_eq!(
        sc(&full)["trace"].as_str().unwrap().chars().count(),
        trace_len
    );
    let nf = s
        .call("get_test_result", json!({"test_result_id": 999_999}))
        .await;
    assert!(is_error(&nf) && text(&nf).contains("Test result 999999 not found"));
    s.stop().await;
}

/// The newest result in project 1: a test with many earlier runs.
fn newest_result(fake: &FakeTestOps) -> i64 {
    fake.with_data(|d| {
        d.results
            .iter()
            .filter(|r| r.project_id == 1)
            .max_by_key(|r| (r.created_date, r.id))
            .unwrap()
            .id
    })
}

/// The id of the attachment of `content_type` that a result has, by the fake's data.
fn attachment(fake: &FakeTestOps, result: i64, content_type: &str) -> i64 {
    fake.with_data(|d| {
        d.results
            .iter()
            .find(|r| r.id == result)
            .unwrap()
            .attachments
            .iter()
            .find(|a| a["contentType"] == content_type)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    })
}

#[tokio::test]
async fn get_test_result_steps_lists_the_steps_and_the_attachments() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let id = newest_result(&fake);
    let r = s
        .call("get_test_result_steps", json!({"test_result_id": id}))
        .await;
    let v = sc(&r);
    assert!(v["steps"].as_array().unwrap().len() >= 2, "{v}");
    let atts = v["attachments"].as_array().unwrap();
    for content_type in ["text/plain", "image/png"] {
        let listed = atts
            .iter()
            .find(|a| a["content_type"] == content_type)
            .unwrap_or_else(|| panic!("no {content_type} attachment: {v}"));
        assert_eq!(
            listed["id"].as_i64(),
            Some(attachment(&fake, id, content_type))
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn read_attachment_shows_text_describes_binaries_and_reads_only_what_it_shows() {
    let fake = FakeTestOps::start().await.unwrap();
    // Directly, even with PRISM set: Prism re-frames a binary answer (no Content-Length,
    // which is where the size comes from) and stops reading none of it.
    let s = InProcess::against_url(&fake.base_url(), &[]).await;
    let id = newest_result(&fake);
    let (text_att, png) = (
        attachment(&fake, id, "text/plain"),
        attachment(&fake, id, "image/png"),
    );
    let r = s
        .call("read_attachment", json!({"attachment_id": text_att}))
        .await;
    assert!(sc(&r)["text"].as_str().unwrap().contains("[INFO] starting"));
    let r = s
        .call("read_attachment", json!({"attachment_id": png}))
        .await;
    assert!(sc(&r)["text"].is_null());
    assert!(
        sc(&r)["note"]
            .as_str()
            .unwrap_or_else(|| panic!("{}", text(&r)))
            .contains("binary attachment (image/png, 48213 bytes)")
    );
    let r = s
        .call(
            "read_attachment",
            json!({"attachment_id": text_att, "max_chars": 10}),
        )
        .await;
    // Only the start of the attachment is read (4 bytes a character, and 4 more). The
    // content is streamed without a Content-Length (a StreamingResponseBody in the API
    // description), so the rest is not sized: the answer says "more than".
    assert_eq!(sc(&r)["size_bytes"], 44);
    assert_eq!(sc(&r)["note"], "larger than 44 bytes");
    assert!(
        sc(&r)["text"]
            .as_str()
            .unwrap()
            .contains("cut after 10 characters of more than 44 bytes")
    );
    s.stop().await;
}

#[tokio::test]
async fn the_history_verdict_follows_the_earlier_runs_whatever_their_order() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let id = newest_result(&fake);
    // All passed is stable_pass, all failed is stable_fail.
    for (status, verdict) in [("passed", "stable_pass"), ("failed", "stable_fail")] {
        let expected = fake.with_data(|d| {
            let key = d
                .results
                .iter()
                .find(|r| r.id == id)
                .unwrap()
                .history_key
                .clone();
            let mut n = 0;
            for r in d
                .results
                .iter_mut()
                .filter(|r| r.history_key == key && r.id != id)
            {
                r.status = status.into();
                n += 1;
            }
            n
        });
        assert!(
            expected >= 3,
            "the sample history is too short for a verdict: {expected}"
        );
        let r = s
            .call(
                "get_test_result_history",
                json!({"test_result_id": id, "size": 50}),
            )
            .await;
        let v = sc(&r);
        assert_eq!(v["runs"].as_array().unwrap().len(), expected);
        assert_eq!(v["verdict"], verdict, "{v}");
    }
    s.stop().await;
}

#[tokio::test]
async fn assign_and_mute_send_the_documented_bodies() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let id = fake.with_data(|d| {
        d.results
            .iter()
            .find(|r| r.status == "failed" && !r.muted)
            .unwrap()
            .id
    });
    let r = s
        .call(
            "assign_test_result",
            json!({"test_result_id": id, "username": "alice"}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(
        body(&fake.requests_to("POST", "/testresult/*/assign")[0]),
        json!({"username": "alice"})
    );
    assert_eq!(
        fake.with_data(|d| d
            .results
            .iter()
            .find(|r| r.id == id)
            .unwrap()
            .assignee
            .clone())
            .as_deref(),
        Some("alice")
    );

    let r = s
        .call(
            "mute_test_result",
            json!({"test_result_id": id, "reason": "flaky on CI"}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    // `name` must be sent: the real server fails with 500 without it.
    assert_eq!(
        body(&fake.requests_to("POST", "/testresult/*/mute")[0]),
        json!({"name": "Muted via MCP", "reason": "flaky on CI"})
    );
    assert!(fake.with_data(|d| d.results.iter().find(|r| r.id == id).unwrap().muted));

    // Accepted, but the row Allure answers still names the old assignee: said, not hidden.
    fake.inject(Fault::on(
        "/testresult/*/assign",
        FaultKind::Body {
            status: 202,
            body: json!({"id": id, "name": "x", "assignee": "alice"}).to_string(),
        },
    ));
    let r = s
        .call(
            "assign_test_result",
            json!({"test_result_id": id, "username": "bob"}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("still assigned to alice"),
        "{}",
        text(&r)
    );
    fake.clear_faults();
    let before = writes(&fake).len();
    let r = s
        .call(
            "mute_test_result",
            json!({"test_result_id": id, "reason": "  "}),
        )
        .await;
    assert!(is_error(&r) && text(&r).contains("reason must not be empty"));
    // A name the database cannot hold (255 characters) is refused before it is sent.
    let r = s
        .call(
            "mute_test_result",
            json!({"test_result_id": id, "reason": "x", "name": "n".repeat(256)}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("name is longer than 255"),
        "{}",
        text(&r)
    );
    let r = s
        .call(
            "assign_test_result",
            json!({"test_result_id": 0, "username": "bob"}),
        )
        .await;
    assert!(is_error(&r));
    assert_eq!(writes(&fake).len(), before, "invalid calls send nothing");
    s.stop().await;
}

#[tokio::test]
async fn bulk_result_operations_select_exactly_the_named_results() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let launch = failing_launch(&fake);
    let ids: Vec<i64> = fake.with_data(|d| {
        d.results
            .iter()
            .filter(|r| r.launch_id == launch && !r.muted)
            .take(3)
            .map(|r| r.id)
            .collect()
    });
    let untouched: Vec<i64> = fake.with_data(|d| {
        d.results
            .iter()
            .filter(|r| r.launch_id == launch && !ids.contains(&r.id) && !r.muted)
            .map(|r| r.id)
            .collect()
    });

    let r = s
        .call(
            "bulk_mute_test_results",
            json!({"launch_id": launch, "test_result_ids": ids, "reason": "infra outage"}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let b = body(&fake.requests_to("POST", "/testresult/bulk/mute")[0]);
    assert_eq!(
        b["selection"],
        json!({"launchId": launch, "leafsInclude": ids, "inverted": false})
    );
    assert_eq!(b["reason"], "infra outage");
    fake.with_data(|d| {
        assert!(
            ids.iter()
                .all(|i| d.results.iter().find(|r| r.id == *i).unwrap().muted)
        );
        assert!(
            untouched
                .iter()
                .all(|i| !d.results.iter().find(|r| r.id == *i).unwrap().muted)
        );
    });

    let r = s
        .call(
            "bulk_unmute_test_results",
            json!({"launch_id": launch, "test_result_ids": ids}),
        )
        .await;
    assert!(!is_error(&r));
    assert!(fake.with_data(|d| {
        ids.iter()
            .all(|i| !d.results.iter().find(|r| r.id == *i).unwrap().muted)
    }));

    let r = s
        .call(
            "bulk_assign_test_results",
            json!({"launch_id": launch, "test_result_ids": ids, "assignees": ["carol"]}),
        )
        .await;
    assert!(!is_error(&r));
    assert_eq!(
        body(&fake.requests_to("POST", "/testresult/bulk/assign")[0])["assignees"],
        json!(["carol"])
    );
    // Two users: shared out in turn, and said so (not "assigned to carol, dmitry").
    let r = s
        .call(
            "bulk_assign_test_results",
            json!({"launch_id": launch, "test_result_ids": ids, "assignees": ["carol", "dmitry"]}),
        )
        .await;
    assert!(
        text(&r).contains("shared out in turn among carol, dmitry"),
        "{}",
        text(&r)
    );
    let owners: std::collections::BTreeSet<String> = fake.with_data(|d| {
        ids.iter()
            .filter_map(|i| {
                d.results
                    .iter()
                    .find(|r| r.id == *i)
                    .unwrap()
                    .assignee
                    .clone()
            })
            .collect()
    });
    assert!(ids.len() < 2 || owners.len() == 2, "{owners:?}");

    let r = s
        .call(
            "bulk_resolve_test_results",
            json!({"launch_id": launch, "test_result_ids": ids, "message": "re-checked by hand"}),
        )
        .await;
    assert!(!is_error(&r));
    assert_eq!(
        body(&fake.requests_to("POST", "/v2/test-result/bulk/resolve")[0])["status"],
        "passed"
    );
    // The message survives: the v1 route would drop it, as real instances do.
    assert!(fake.with_data(|d| {
        ids.iter().all(|i| {
            let r = d.results.iter().find(|r| r.id == *i).unwrap();
            r.status == "passed" && r.message.as_deref() == Some("re-checked by hand")
        })
    }));

    let before = writes(&fake).len();
    let r = s
        .call(
            "bulk_mute_test_results",
            json!({"launch_id": launch, "test_result_ids": [], "reason": "x"}),
        )
        .await;
    assert!(is_error(&r) && text(&r).contains("empty"));
    let many: Vec<i64> = (1..=101).collect();
    let r = s
        .call(
            "bulk_unmute_test_results",
            json!({"launch_id": launch, "test_result_ids": many}),
        )
        .await;
    assert!(is_error(&r) && text(&r).contains("at most 100"));
    let r = s
        .call(
            "bulk_unmute_test_results",
            json!({"launch_id": 987654, "test_result_ids": [1]}),
        )
        .await;
    assert!(is_error(&r) && text(&r).contains("Launch 987654 not found"));
    assert_eq!(writes(&fake).len(), before);
    s.stop().await;
}

#[tokio::test]
async fn aql_search_validation_and_bad_queries() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let expected = fake.with_data(|d| {
        d.results
            .iter()
            .filter(|r| {
                r.project_id == 2
                    && r.status == "broken"
                    && r.tags.iter().any(|t| t.name == "smoke")
            })
            .count()
    });
    let aql = r#"status = "broken" and tag = "smoke""#;
    let r = s
        .call("search_test_results", json!({"project_id": 2, "aql": aql}))
        .await;
    assert_eq!(sc(&r)["page"]["total"], expected as i64);
    // Rows come without launch or message: each line still names its launch, its
    // failure and its link in the launch tree, as every other tool links a result.
    let first = &sc(&r)["results"][0];
    let (id, launch, message) = fake.with_data(|d| {
        let x = d
            .results
            .iter()
            .find(|x| x.id == first["id"].as_i64().unwrap())
            .unwrap();
        (x.id, x.launch_id, x.message.clone())
    });
    assert_eq!(first["launch_id"], launch, "{first}");
    assert!(
        first["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/launch/{launch}/tree/{id}")),
        "{first}"
    );
    let line = text(&r)
        .lines()
        .find(|l| l.starts_with(&format!("- #{id} ")))
        .unwrap()
        .to_owned();
    assert!(
        line.contains(&format!("in launch #{launch}")) && line.contains("/tree/"),
        "{line}"
    );
    if let Some(m) = message {
        assert!(line.contains(m.lines().next().unwrap()), "{line}");
    }
    assert_eq!(
        fake.requests_to("GET", "/testresult/__search")
            .pop()
            .unwrap()
            .query_param("rql")
            .as_deref(),
        Some(aql)
    );

    let r = s
        .call(
            "validate_aql",
            json!({"project_id": 2, "entity": "test_result", "aql": aql}),
        )
        .await;
    assert_eq!(sc(&r)["valid"], true);
    assert_eq!(sc(&r)["count"], expected as i64);
    let r = s
        .call(
            "validate_aql",
            json!({"project_id": 2, "entity": "launch", "aql": "status ="}),
        )
        .await;
    assert_eq!(sc(&r)["valid"], false);
    assert!(text(&r).contains("allure://aql-guide"));

    let r = s
        .call(
            "search_test_results",
            json!({"project_id": 2, "aql": "status == failed"}),
        )
        .await;
    assert!(
        is_error(&r)
            && text(&r).contains("AQL query was rejected")
            && text(&r).contains("aql-guide"),
        "{}",
        text(&r)
    );
    let r = s
        .call(
            "search_test_cases",
            json!({"project_id": 1, "aql": "automated = false"}),
        )
        .await;
    let manual = fake.with_data(|d| {
        d.test_cases
            .iter()
            .filter(|t| t.project_id == 1 && !t.automated)
            .count()
    });
    assert_eq!(sc(&r)["page"]["total"], manual as i64);
    let r = s
        .call(
            "search_launches",
            json!({"project_id": 1, "aql": "closed = false"}),
        )
        .await;
    assert_eq!(sc(&r)["page"]["total"], 2);
    // `__search` answers LaunchDtos without a statistic: each row still has its own,
    // the launch's real counts, and no row of the text ends in a dangling dash.
    for row in sc(&r)["launches"].as_array().unwrap() {
        let id = row["id"].as_i64().unwrap();
        let results = fake.with_data(|d| {
            d.results
                .iter()
                .filter(|x| x.launch_id == id && !x.hidden)
                .count()
        });
        assert_eq!(row["statistic"]["total"], results as i64, "{row}");
    }
    assert!(
        text(&r).lines().skip(1).all(|l| !l.contains("—  ")),
        "{}",
        text(&r)
    );
    s.stop().await;
}

/// triage_launch on a closed launch of project 1 with failures: its answer, and how
/// many failures that launch has by the fake's data.
async fn triage_of_a_failing_launch(fake: &FakeTestOps, s: &InProcess) -> (CallToolResult, usize) {
    let launch = failing_launch(fake);
    let r = s
        .call(
            "triage_launch",
            json!({"launch_id": launch, "max_groups": 50}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    (r, failed_or_broken(fake, launch))
}

#[tokio::test]
async fn triage_puts_every_failure_in_a_group_by_message_biggest_first() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let (r, failures) = triage_of_a_failing_launch(&fake, &s).await;
    let v = sc(&r);
    assert_eq!(v["failures"], failures as i64);
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(
        groups
            .iter()
            .map(|g| g["count"].as_i64().unwrap())
            .sum::<i64>(),
        failures as i64
    );
    assert!(
        groups.len() < failures,
        "messages that differ only in numbers share a group"
    );
    assert!(
        groups
            .windows(2)
            .all(|w| w[0]["count"].as_i64() >= w[1]["count"].as_i64()),
        "biggest first"
    );
    // A group with more results than examples says how many more there are.
    let r = s
        .call(
            "triage_launch",
            json!({"launch_id": failing_launch(&fake), "examples": 1}),
        )
        .await;
    let v = sc(&r);
    let big = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["count"].as_u64() > Some(g["examples"].as_array().unwrap().len() as u64))
        .expect("a group bigger than its examples");
    let more = big["count"].as_u64().unwrap() - big["examples"].as_array().unwrap().len() as u64;
    assert!(
        text(&r).contains(&format!("{}× ", big["count"]))
            && text(&r).contains(&format!("… and {more} more")),
        "{}",
        text(&r)
    );
    s.stop().await;
}

#[tokio::test]
async fn triage_marks_failures_the_previous_launch_also_had_as_not_new() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let (r, _) = triage_of_a_failing_launch(&fake, &s).await;
    let v = sc(&r);
    let groups = v["groups"].as_array().unwrap();
    assert!(
        groups.iter().all(|g| g["new"].is_boolean()),
        "a previous launch was found: {}",
        v["previous_launch"]
    );
    // The launch compared against is named and linked, with nothing left empty.
    let prev = &v["previous_launch"];
    assert!(
        prev["id"].is_i64() && prev["name"].is_string() && prev["url"].is_string(),
        "{prev}"
    );
    assert!(prev.get("status").is_none(), "{prev}");
    // The stable failures of the seed recur in every launch: not new.
    assert!(groups.iter().any(|g| g["new"] == false));
    assert!(groups.iter().any(|g| g["known"].as_i64().unwrap() > 0));
    s.stop().await;
}

#[tokio::test]
async fn get_launch_status_says_running_while_its_ci_runs_and_closed_once_closed() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let all = launches(&fake, 1);
    let newest = all.last().unwrap().0;
    let r = s
        .call("get_launch_status", json!({"launch_id": newest}))
        .await;
    assert_eq!(
        sc(&r)["status"],
        "running",
        "its CI run is in progress: {}",
        text(&r)
    );
    let closed = all[0].0;
    let r = s
        .call("get_launch_status", json!({"launch_id": closed}))
        .await;
    assert_eq!(sc(&r)["status"], "closed");
    s.stop().await;
}

#[tokio::test]
async fn get_launch_report_counts_every_failure_and_gives_a_pass_rate() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let launch = failing_launch(&fake);
    let r = s
        .call("get_launch_report", json!({"launch_id": launch}))
        .await;
    let v = sc(&r);
    let fails = failed_or_broken(&fake, launch);
    assert_eq!(v["failures_total"], fails as i64);
    assert!(v["statistic"]["pass_rate"].is_number());
    s.stop().await;
}

#[tokio::test]
async fn close_launch_is_sent_once_and_reopen_launch_opens_it_again() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let open = launches(&fake, 1).iter().rev().find(|l| !l.1).unwrap().0;
    let r = s.call("close_launch", json!({"launch_id": open})).await;
    assert!(!is_error(&r), "{}", text(&r));
    let sent = fake.requests_to("POST", "/launch/*/close");
    assert_eq!(sent.len(), 1);
    // The operation declares no body; a validating server refuses one with 415.
    assert_eq!((sent[0].body.as_str(), sent[0].status), ("", 204));
    assert!(fake.with_data(|d| d.launches.iter().find(|l| l.id == open).unwrap().closed));
    let again = s.call("close_launch", json!({"launch_id": open})).await;
    assert!(text(&again).contains("already closed"));
    assert_eq!(
        fake.requests_to("POST", "/launch/*/close").len(),
        1,
        "no second close sent"
    );
    let r = s.call("reopen_launch", json!({"launch_id": open})).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(fake.requests_to("POST", "/launch/*/reopen")[0].body, "");
    assert!(!fake.with_data(|d| d.launches.iter().find(|l| l.id == open).unwrap().closed));
    s.stop().await;
}

#[tokio::test]
async fn add_cases_and_plans_to_a_launch() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let open = launches(&fake, 1).iter().rev().find(|l| !l.1).unwrap().0;
    let cases: Vec<i64> = fake.with_data(|d| {
        d.test_cases
            .iter()
            .filter(|t| t.project_id == 1)
            .take(2)
            .map(|t| t.id)
            .collect()
    });
    let before = fake.with_data(|d| d.results.iter().filter(|r| r.launch_id == open).count());
    let r = s.call("add_test_cases_to_launch", json!({"launch_id": open, "project_id": 1, "test_case_ids": cases, "assignees": ["dmitry"]})).await;
    assert!(!is_error(&r), "{}", text(&r));
    let b = body(&fake.requests_to("POST", "/v2/test-case/bulk/run/existing")[0]);
    assert_eq!(
        b,
        json!({"launchId": open, "selection": {"projectId": 1, "testCasesInclude": cases, "inverted": false}, "assignees": ["dmitry"]})
    );
    assert_eq!(
        fake.with_data(|d| d.results.iter().filter(|r| r.launch_id == open).count()),
        before + 2
    );

    let r = s
        .call(
            "add_test_cases_to_launch",
            json!({"launch_id": open, "project_id": 2, "test_case_ids": cases}),
        )
        .await;
    assert!(is_error(&r) && text(&r).contains("belongs to project 1"));

    let (plan, plan_size) = fake.with_data(|d| {
        d.test_plans
            .iter()
            .find(|p| p.project_id == 1)
            .map(|p| (p.id, p.test_case_ids.len()))
            .unwrap()
    });
    let r = s
        .call(
            "add_test_plan_to_launch",
            json!({"launch_id": open, "test_plan_id": plan}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(
        body(&fake.requests_to("POST", "/launch/*/testplan/add")[0]),
        json!({"testPlanId": plan})
    );
    assert_eq!(
        fake.with_data(|d| d.results.iter().filter(|r| r.launch_id == open).count()),
        before + 2 + plan_size
    );

    let tc = cases[0];
    let r = s
        .call(
            "run_test_case",
            json!({"test_case_id": tc, "launch_id": open}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(
        fake.requests_to("POST", "/v2/test-case/bulk/run/existing")
            .len(),
        2
    );
    s.stop().await;
}

#[tokio::test]
async fn compare_two_launches() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let all = launches(&fake, 1);
    let (a, b) = (all[0].0, all[1].0);
    let r = s
        .call(
            "compare_launches",
            json!({"from_launch_id": a, "to_launch_id": b}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let v = sc(&r);
    let (new_f, still) = fake.with_data(|d| {
        let st = |l: i64, tc: i64| {
            d.results
                .iter()
                .find(|r| r.launch_id == l && r.test_case_id == tc)
                .map(|r| r.status.clone())
        };
        let fail = |s: Option<String>| matches!(s.as_deref(), Some("failed") | Some("broken"));
        let tcs: Vec<i64> = d
            .results
            .iter()
            .filter(|r| r.launch_id == b)
            .map(|r| r.test_case_id)
            .collect();
        let new_f = tcs
            .iter()
            .filter(|tc| fail(st(b, **tc)) && !fail(st(a, **tc)))
            .count();
        let still = tcs
            .iter()
            .filter(|tc| fail(st(b, **tc)) && fail(st(a, **tc)))
            .count();
        (new_f, still)
    });
    assert_eq!(v["new_failures_total"], new_f as i64);
    assert_eq!(v["still_failing_total"], still as i64);
    let r = s
        .call(
            "compare_launches",
            json!({"from_launch_id": a, "to_launch_id": a}),
        )
        .await;
    assert!(is_error(&r));
    s.stop().await;
}

#[tokio::test]
async fn run_allure_launch_really_runs_a_job_and_wait_for_launch_sees_it_finish() {
    let fake = FakeTestOps::start_with(FakeOptions {
        job_duration: Duration::from_millis(1500),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    // Checks as often as the call asks (every second, not the default floor of five), so
    // the wait ends soon after the run.
    let s = InProcess::against(&fake, &[("MIN_POLL_INTERVAL", "1")]).await;
    let job = fake.with_data(|d| d.jobs.iter().find(|j| j.project_id == 1).unwrap().id);
    let r = s
        .call(
            "run_allure_launch",
            json!({"project_id": 1, "launch_name": "MCP run", "job_id": job}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let v = sc(&r);
    assert_eq!(v["started_by"], "job");
    assert_eq!(v["running"], true);
    assert_eq!(fake.requests_to("POST", "/job/*/run").len(), 1);
    assert_eq!(
        body(&fake.requests_to("POST", "/job/*/run")[0]),
        json!({"launchName": "MCP run"})
    );
    // The fake moves a run from scheduled to in_progress after a while; either is a
    // run that has not finished.
    let stage = v["job_runs"][0]["stage"].as_str().unwrap_or("");
    assert!(matches!(stage, "scheduled" | "in_progress"), "{stage}");
    let launch = v["launch_id"].as_i64().unwrap();

    let r = s
        .call(
            "wait_for_launch",
            json!({"launch_id": launch, "timeout_s": 30, "poll_interval_s": 1}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let v = sc(&r);
    assert_eq!(v["outcome"], "finished");
    assert!(
        v["statistic"]["total"].as_i64().unwrap() > 0,
        "the finished run brought results"
    );
    assert_eq!(v["job_runs"][0]["stage"], "finished");
    assert_eq!(
        fake.requests_to("POST", "/job/*/run").len(),
        1,
        "waiting never starts another run"
    );

    s.stop().await;
}

#[tokio::test]
async fn rerun_job_run_reruns_a_finished_run_once_and_refuses_while_it_runs() {
    // Reruns last ten minutes, so the second call finds the run going however slow the
    // machine.
    let fake = common::fake_with_long_jobs().await;
    let s = InProcess::against(&fake, &[]).await;
    let (run_id, launch) = fake.with_data(|d| {
        d.job_runs
            .iter()
            .find(|j| j.stage == "finished")
            .map(|j| (j.id, j.launch_id))
            .unwrap()
    });
    let r = s.call("rerun_job_run", json!({"job_run_id": run_id})).await;
    assert!(!is_error(&r), "{}", text(&r));
    let reruns = fake.requests_to("POST", "/jobrun/*/rerun");
    assert_eq!(reruns.len(), 1);
    assert_eq!(reruns[0].api_path, format!("/jobrun/{run_id}/rerun"));
    // The rerun answers 202 with no body; the run that will go is read back, and here it
    // is a new job run, which the answer names.
    let new_run = fake.with_data(|d| {
        d.job_runs
            .iter()
            .filter(|j| j.launch_id == launch && j.stage != "finished")
            .map(|j| j.id)
            .max()
            .unwrap()
    });
    assert_ne!(new_run, run_id);
    assert_eq!(sc(&r)["ids"], json!([new_run]), "{}", text(&r));
    assert!(
        text(&r).contains(&format!("job run #{new_run}")),
        "{}",
        text(&r)
    );
    let r = s.call("rerun_job_run", json!({"job_run_id": run_id})).await;
    assert!(is_error(&r) && text(&r).contains("still"), "{}", text(&r));
    assert_eq!(fake.requests_to("POST", "/jobrun/*/rerun").len(), 1);
    let r = s
        .call("get_launch_job_runs", json!({"launch_id": launch}))
        .await;
    assert_eq!(sc(&r)["running"], true);
    s.stop().await;
}

#[tokio::test]
async fn run_allure_launch_is_honest_and_careful() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let r = s
        .call(
            "run_allure_launch",
            json!({"project_id": 1, "launch_name": "empty"}),
        )
        .await;
    let v = sc(&r);
    assert_eq!(v["started_by"], "none");
    assert_eq!(v["running"], false);
    assert!(text(&r).contains("NOTHING WAS STARTED"));
    assert_eq!(
        body(&fake.requests_to("POST", "/launch")[0]),
        json!({"name": "empty", "projectId": 1})
    );

    let plan = fake.with_data(|d| d.test_plans.iter().find(|p| p.project_id == 1).unwrap().id);
    let r = s
        .call(
            "run_allure_launch",
            json!({"project_id": 1, "launch_name": "plan run", "test_plan_id": plan}),
        )
        .await;
    assert_eq!(sc(&r)["started_by"], "test_plan");
    assert_eq!(fake.requests_to("POST", "/testplan/*/run").len(), 1);

    // Another project's job: refused before anything runs.
    let other = fake.with_data(|d| d.jobs.iter().find(|j| j.project_id == 2).unwrap().id);
    let r = s
        .call(
            "run_allure_launch",
            json!({"project_id": 1, "launch_name": "x", "job_id": other}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("not found"),
        "{}",
        text(&r)
    );
    let r = s
        .call(
            "run_allure_launch",
            json!({"project_id": 1, "launch_name": "x", "job_id": other, "test_plan_id": plan}),
        )
        .await;
    assert!(is_error(&r));
    assert!(fake.requests_to("POST", "/job/*/run").is_empty());

    // A 503 on the run is reported, and the run is never sent twice.
    let job = fake.with_data(|d| d.jobs.iter().find(|j| j.project_id == 1).unwrap().id);
    fake.inject(Fault::on(
        "/job/*/run",
        FaultKind::Status {
            status: 503,
            retry_after: None,
        },
    ));
    let r = s
        .call(
            "run_allure_launch",
            json!({"project_id": 1, "launch_name": "x", "job_id": job}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("answered 503"),
        "{}",
        text(&r)
    );
    assert_eq!(fake.requests_to("POST", "/job/*/run").len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn test_case_lifecycle() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let r = s
        .call("list_test_cases", json!({"project_id": 1, "size": 5}))
        .await;
    assert_eq!(sc(&r)["page"]["total"], 40);

    let (tc, layer) = fake.with_data(|d| {
        let t = d.test_cases.iter().find(|t| t.project_id == 1).unwrap();
        (t.id, t.layer.as_ref().unwrap().name.clone())
    });
    let r = s.call("get_test_case", json!({"test_case_id": tc})).await;
    let v = sc(&r);
    // The layer comes as `testLayer` (TestCaseDto); a reading of `layer` shows none.
    assert_eq!(v["layer"], layer.as_str(), "{v}");
    assert_eq!(v["steps"].as_array().unwrap().len(), 3);
    assert_eq!(v["steps"][2]["expected"], "Result is shown");
    assert!(text(&r).contains("3. Step 3"), "{}", text(&r));

    let r = s.call("create_test_case", json!({"project_id": 1, "name": "Pay with voucher", "description": "Voucher covers the total"})).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(
        body(&fake.requests_to("POST", "/testcase")[0]),
        json!({"projectId": 1, "name": "Pay with voucher", "description": "Voucher covers the total"})
    );
    let new_id = sc(&r)["ids"][0].as_i64().unwrap();

    let r = s
        .call(
            "update_test_case",
            json!({"test_case_id": new_id, "name": "Pay with a voucher", "status_id": -2}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(
        body(&fake.requests_to("PATCH", "/testcase/*")[0]),
        json!({"name": "Pay with a voucher", "statusId": -2})
    );
    assert_eq!(
        fake.with_data(|d| d
            .test_cases
            .iter()
            .find(|t| t.id == new_id)
            .unwrap()
            .status
            .name
            .clone()),
        "Active"
    );
    let r = s
        .call("update_test_case", json!({"test_case_id": new_id}))
        .await;
    assert!(is_error(&r) && text(&r).contains("nothing to change"));
    let r = s
        .call(
            "update_test_case",
            json!({"test_case_id": new_id, "status_id": -99}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("answered 409"),
        "{}",
        text(&r)
    );

    // A client that cannot ask its user: without confirm nothing is deleted, and the
    // model is told to ask and call again.
    let r = s
        .call("delete_test_case", json!({"test_case_id": new_id}))
        .await;
    assert!(
        is_error(&r) && text(&r).contains("with confirm: true"),
        "{}",
        text(&r)
    );
    assert!(fake.requests_to("DELETE", "/testcase/*").is_empty());
    let r = s
        .call(
            "delete_test_case",
            json!({"test_case_id": new_id, "confirm": true}),
        )
        .await;
    assert!(!is_error(&r));
    assert_eq!(fake.requests_to("DELETE", "/testcase/*").len(), 1);
    assert!(fake.with_data(|d| {
        d.test_cases
            .iter()
            .find(|t| t.id == new_id)
            .unwrap()
            .deleted
    }));
    let r = s
        .call("get_test_case", json!({"test_case_id": new_id}))
        .await;
    assert!(is_error(&r) && text(&r).contains("not found"));
    s.stop().await;
}

#[tokio::test]
async fn bulk_test_case_writes_use_v2_and_are_verified() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let ids: Vec<i64> = fake.with_data(|d| {
        d.test_cases
            .iter()
            .filter(|t| t.project_id == 1)
            .take(3)
            .map(|t| t.id)
            .collect()
    });
    let r = s
        .call(
            "bulk_set_test_case_status",
            json!({"project_id": 1, "test_case_ids": ids, "status_id": -3, "workflow_id": -1}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(sc(&r)["changed"], json!(ids));
    assert_eq!(
        body(&fake.requests_to("POST", "/v2/test-case/bulk/status/set")[0]),
        json!({"selection": {"projectId": 1, "testCasesInclude": ids, "inverted": false}, "statusId": -3, "workflowId": -1})
    );
    assert!(
        fake.requests()
            .iter()
            .all(|r| !r.api_path.starts_with("/testcase/bulk")),
        "never the v1 bulk endpoints"
    );

    let r = s
        .call(
            "bulk_add_test_case_tags",
            json!({"project_id": 1, "test_case_ids": ids, "tags": ["release-1.2", "release-1.2"]}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(
        body(&fake.requests_to("POST", "/v2/test-case/bulk/tag/add")[0])["tags"],
        json!([{"name": "release-1.2"}])
    );
    let r = s
        .call(
            "bulk_remove_test_case_tags",
            json!({"project_id": 1, "test_case_ids": ids, "tags": ["release-1.2"]}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(sc(&r)["changed"], json!(ids));
    assert!(fake.with_data(|d| ids.iter().all(|i| {
        d.test_cases
            .iter()
            .find(|t| t.id == *i)
            .unwrap()
            .tags
            .iter()
            .all(|t| t.name != "release-1.2")
    })));

    // When Allure answers success but changes nothing (as v1 did), the tool says so.
    fake.inject(Fault::on(
        "/v2/test-case/bulk/status/set",
        FaultKind::Body {
            status: 204,
            body: String::new(),
        },
    ));
    let r = s
        .call(
            "bulk_set_test_case_status",
            json!({"project_id": 1, "test_case_ids": ids, "status_id": -2, "workflow_id": -1}),
        )
        .await;
    assert!(is_error(&r), "{}", text(&r));
    assert!(
        text(&r).contains("answered success, but none of the test cases changed"),
        "{}",
        text(&r)
    );
    s.stop().await;
}

#[tokio::test]
async fn test_plans_are_listed_and_a_plan_says_how_many_cases_it_has() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let r = s.call("list_test_plans", json!({"project_id": 1})).await;
    assert_eq!(sc(&r)["test_plans"].as_array().unwrap().len(), 2);
    let plan = sc(&r)["test_plans"][0]["id"].as_i64().unwrap();
    let r = s.call("get_test_plan", json!({"test_plan_id": plan})).await;
    assert!(sc(&r)["test_cases"].as_i64().unwrap() > 0);
    s.stop().await;
}

#[tokio::test]
async fn list_defects_asks_for_the_open_defects_by_default() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let r = s.call("list_defects", json!({"project_id": 1})).await;
    assert_eq!(
        fake.requests_to("GET", "/defect")
            .pop()
            .unwrap()
            .query_param("status")
            .as_deref(),
        Some("open")
    );
    assert_eq!(sc(&r)["defects"].as_array().unwrap().len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn a_new_defect_links_to_results_of_its_own_project_only() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let r = s
        .call(
            "create_defect",
            json!({"project_id": 1, "name": "Cart total wrong after coupon"}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let defect = sc(&r)["ids"][0].as_i64().unwrap();
    let results: Vec<i64> = fake.with_data(|d| {
        d.results
            .iter()
            .filter(|r| r.project_id == 1 && r.status == "failed")
            .take(2)
            .map(|r| r.id)
            .collect()
    });
    let r = s
        .call(
            "link_defect_to_test_results",
            json!({"defect_id": defect, "test_result_ids": results}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(fake.requests_to("POST", "/testresult/*/defect/*").len(), 2);
    let r = s.call("get_defect", json!({"defect_id": defect})).await;
    assert_eq!(sc(&r)["results_total"], 2);
    let other = fake.with_data(|d| d.results.iter().find(|r| r.project_id == 2).unwrap().id);
    let r = s
        .call(
            "link_defect_to_test_results",
            json!({"defect_id": defect, "test_result_ids": [other]}),
        )
        .await;
    assert!(is_error(&r) && text(&r).contains("project"));
    assert_eq!(fake.requests_to("POST", "/testresult/*/defect/*").len(), 2);
    s.stop().await;
}

/// The `key` of every point of an analytics answer that has one.
fn rates(v: &Value, key: &str) -> Vec<f64> {
    v["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p[key].as_f64())
        .collect()
}

#[tokio::test]
async fn the_launch_trend_direction_follows_the_documented_rule() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let r = s
        .call(
            "get_launch_trend_analytics",
            json!({"project_id": 1, "launches": 12}),
        )
        .await;
    let v = sc(&r);
    assert_eq!(v["points"].as_array().unwrap().len(), 12);
    // The direction is the documented rule applied to the points it reports: the newer
    // half's mean pass rate against the older half's, 2 points either way.
    let rates = rates(&v, "pass_rate");
    let (older, newer) = rates.split_at(rates.len() / 2);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let delta = mean(newer) - mean(older);
    let expected = if delta > 2.0 {
        "improving"
    } else if delta < -2.0 {
        "declining"
    } else {
        "stable"
    };
    assert_eq!(v["direction"], expected, "{v}");
    s.stop().await;
}

#[tokio::test]
async fn launch_duration_buckets_count_every_launch() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let r = s
        .call("get_launch_duration_analytics", json!({"project_id": 1}))
        .await;
    let total: i64 = sc(&r)["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["launches"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 12);
    s.stop().await;
}

#[tokio::test]
async fn the_test_success_rate_average_is_the_mean_of_its_points() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let r = s
        .call("get_test_success_rate", json!({"project_id": 1}))
        .await;
    let v = sc(&r);
    let rates = rates(&v, "success_rate");
    assert!(!rates.is_empty(), "{v}");
    let average = rates.iter().sum::<f64>() / rates.len() as f64;
    assert!(
        (v["average"].as_f64().unwrap() - average).abs() < 0.05,
        "{v}"
    );
    s.stop().await;
}

#[tokio::test]
async fn raw_tool_is_off_by_default_and_read_only_when_asked() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    // Not offered: a protocol error (-32602) that names the setting that would offer it.
    let (code, message) = common::try_call_tool(
        &s.client,
        "allure_api_request",
        json!({"method": "GET", "path": "/project"}),
    )
    .await
    .unwrap_err();
    assert!(
        code == -32602 && message.contains("toolset 'raw' is not enabled"),
        "{code} {message}"
    );
    s.stop().await;

    let s = InProcess::against(
        &fake,
        &[
            ("ALLURE_TOOLSETS", "raw,projects"),
            ("ALLURE_READ_ONLY", "true"),
        ],
    )
    .await;
    let names: Vec<String> = s
        .client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(
        names.contains(&"allure_api_request".to_string())
            && names.contains(&"list_projects".to_string())
    );
    let r = s.call("allure_api_request", json!({"method": "GET", "path": "/launch/__search", "query": {"projectId": "1", "rql": "closed = false"}})).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(sc(&r)["body"]["totalElements"], 2);
    let before = writes(&fake).len();
    let open = launches(&fake, 1).iter().rev().find(|l| !l.1).unwrap().0;
    let r = s
        .call(
            "allure_api_request",
            json!({"method": "POST", "path": format!("/launch/{open}/close")}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("read-only mode"),
        "{}",
        text(&r)
    );
    let r = s
        .call(
            "allure_api_request",
            json!({"method": "GET", "path": "/../uaa/oauth/token"}),
        )
        .await;
    assert!(is_error(&r));
    assert_eq!(writes(&fake).len(), before);
    s.stop().await;
}

#[tokio::test]
async fn read_only_mode_hides_and_refuses_every_write() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[("ALLURE_READ_ONLY", "true")]).await;
    let tools = s.client.list_all_tools().await.unwrap();
    assert!(
        tools
            .iter()
            .all(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true))
    );
    for name in [
        "close_launch",
        "run_allure_launch",
        "mute_test_result",
        "delete_test_case",
        "bulk_set_test_case_status",
    ] {
        assert!(!tools.iter().any(|t| t.name == name), "{name} listed");
        // Not offered here: a protocol error (-32602) that says why.
        let args = json!({"launch_id": 1, "test_result_id": 1, "test_case_id": 1, "project_id": 1, "launch_name": "x", "reason": "x", "test_case_ids": [1], "status_id": -1, "workflow_id": -1});
        let (code, message) = common::try_call_tool(&s.client, name, args)
            .await
            .unwrap_err();
        assert!(
            code == -32602 && message.contains("read-only mode"),
            "{name}: {code} {message}"
        );
    }
    assert!(writes(&fake).is_empty());
    s.stop().await;
}

#[tokio::test]
async fn prompts_are_listed_and_rendered_and_a_missing_argument_is_invalid_params() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let prompts = s.client.list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert!(names.contains(&"triage_launch") && names.contains(&"release_readiness"));
    let mut args = serde_json::Map::new();
    args.insert("launch_id".into(), json!("42"));
    let p = s
        .client
        .peer()
        .get_prompt(rmcp::model::GetPromptRequestParams::new("triage_launch").with_arguments(args))
        .await
        .unwrap();
    let first = serde_json::to_value(&p.messages[0]).unwrap();
    assert!(
        first.to_string().contains("triage_launch for launch 42"),
        "{first}"
    );
    let bad = s
        .client
        .peer()
        .get_prompt(rmcp::model::GetPromptRequestParams::new("triage_launch"))
        .await;
    // The missing launch_id is an invalid-params error that names it.
    match bad {
        Err(rmcp::ServiceError::McpError(e)) => {
            assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS, "{e:?}");
            assert!(e.message.contains("launch_id"), "{e:?}");
        }
        other => panic!("expected an invalid-params error: {other:?}"),
    }
    s.stop().await;
}

#[tokio::test]
async fn the_aql_guide_is_listed_and_readable_as_a_resource() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let res = s.client.list_all_resources().await.unwrap();
    assert_eq!(res[0].uri, "allure://aql-guide");
    let read = s
        .client
        .peer()
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "allure://aql-guide",
        ))
        .await
        .unwrap();
    assert!(
        serde_json::to_value(&read)
            .unwrap()
            .to_string()
            .contains("Operators")
    );
    s.stop().await;
}

#[tokio::test]
async fn project_id_completion_offers_the_projects_that_match_what_was_typed() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let values = s
        .client
        .complete_prompt_simple("release_readiness", "project_id", "pay")
        .await
        .unwrap();
    assert_eq!(values, vec!["3".to_string()]);
    let values = s
        .client
        .complete_prompt_simple("release_readiness", "project_id", "")
        .await
        .unwrap();
    assert_eq!(values.len(), 4);
    s.stop().await;

    // Launch ids: the recent launches of the default project, newest first, by prefix.
    let s = InProcess::against(&fake, &[("ALLURE_PROJECT_ID", "1")]).await;
    let mut newest_first: Vec<(i64, i64)> = fake.with_data(|d| {
        d.launches
            .iter()
            .filter(|l| l.project_id == 1)
            .map(|l| (l.created_date, l.id))
            .collect()
    });
    newest_first.sort_by(|a, b| b.cmp(a));
    let values = s
        .client
        .complete_prompt_simple("triage_launch", "launch_id", "")
        .await
        .unwrap();
    let expected: Vec<String> = newest_first.iter().map(|(_, id)| id.to_string()).collect();
    assert_eq!(values, expected);
    let one = expected[0].clone();
    let values = s
        .client
        .complete_prompt_simple("triage_launch", "launch_id", &one)
        .await
        .unwrap();
    assert_eq!(values, vec![one]);
    s.stop().await;

    // No project to look in: no suggestion rather than a guess.
    let s = InProcess::against(&fake, &[]).await;
    let values = s
        .client
        .complete_prompt_simple("triage_launch", "launch_id", "")
        .await
        .unwrap();
    assert!(values.is_empty(), "{values:?}");
    s.stop().await;
}

/// `search` of `GET /api/launch` is a base64-encoded JSON list of filters, not free text:
/// the tool sends a name filter, and gets exactly the launches whose name has the text.
#[tokio::test]
async fn list_launches_searches_by_name_with_the_encoded_filter_the_api_reads() {
    use base64::Engine;
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let expected = fake.with_data(|d| {
        d.launches
            .iter()
            .filter(|l| l.project_id == 1 && l.name.to_lowercase().contains("smoke"))
            .count()
    });
    assert!(expected > 0, "the sample data has smoke launches");
    let r = s
        .call(
            "list_launches",
            json!({"project_id": 1, "search": "Smoke", "size": 100}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let v = sc(&r);
    assert_eq!(v["page"]["total"], expected as i64, "{v}");
    let sent = fake.requests_to("GET", "/launch").pop().unwrap();
    let filter = base64::engine::general_purpose::STANDARD
        .decode(sent.query_param("search").unwrap())
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&filter).unwrap(),
        json!([{"id": "name", "type": "string", "value": "Smoke"}])
    );
    s.stop().await;
}

/// A job run the CI server could not run is not a finished launch "with no results
/// yet": wait_for_launch says it failed to run, with the CI's error, in the text.
#[tokio::test]
async fn wait_for_launch_says_when_a_ci_job_run_failed_to_run() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[("MIN_POLL_INTERVAL", "1")]).await;
    let (launch, run) = fake.with_data(|d| {
        let launch = d.job_runs[0].launch_id;
        if let Some(l) = d.launches.iter_mut().find(|l| l.id == launch) {
            l.closed = false;
        }
        for j in d.job_runs.iter_mut().filter(|j| j.launch_id == launch) {
            j.stage = "run_failure".into();
            j.status = "failed".into();
            j.error_message = Some("No executor available on agent linux-2".into());
            j.finish_at = None;
        }
        (launch, d.job_runs[0].id)
    });
    let r = s
        .call(
            "wait_for_launch",
            json!({"launch_id": launch, "timeout_s": 30, "poll_interval_s": 1}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(sc(&r)["outcome"], "ci_failed", "{}", text(&r));
    let t = text(&r);
    assert!(
        t.contains("FAILED TO RUN")
            && t.contains(&format!("job run #{run}"))
            && t.contains("No executor available on agent linux-2"),
        "{t}"
    );
    s.stop().await;
}

#[tokio::test]
async fn rerun_failed_tests_reruns_only_what_failed_and_wait_for_launch_follows_it() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[("MIN_POLL_INTERVAL", "1")]).await;
    // A launch whose CI run has finished, with failures among its results.
    let (launch, failed_cases, passed_results) = fake.with_data(|d| {
        let launch = d
            .job_runs
            .iter()
            .filter(|j| j.stage == "finished")
            .map(|j| j.launch_id)
            .find(|l| {
                d.results.iter().any(|r| {
                    r.launch_id == *l
                        && !r.hidden
                        && matches!(r.status.as_str(), "failed" | "broken")
                })
            })
            .unwrap();
        let visible = || {
            d.results
                .iter()
                .filter(move |r| r.launch_id == launch && !r.hidden)
        };
        let mut failed: Vec<i64> = visible()
            .filter(|r| matches!(r.status.as_str(), "failed" | "broken"))
            .map(|r| r.test_case_id)
            .collect();
        let selected = failed.len();
        // CI reruns automated tests only.
        failed.retain(|c| d.test_cases.iter().any(|t| t.id == *c && t.automated));
        failed.sort();
        let kept: Vec<i64> = visible()
            .filter(|r| !matches!(r.status.as_str(), "failed" | "broken"))
            .map(|r| r.id)
            .collect();
        (launch, (selected, failed), kept)
    });
    let (selected, failed_cases) = failed_cases;
    assert!(!passed_results.is_empty());

    // A selection that matches nothing reruns nothing.
    let r = s
        .call(
            "rerun_failed_tests",
            json!({"launch_id": launch, "aql": "name ~= \"no such test anywhere\""}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(sc(&r)["selected"], 0);
    assert!(text(&r).contains("nothing was rerun"), "{}", text(&r));
    // A bad query is the caller's to fix, and nothing runs either.
    let r = s
        .call(
            "rerun_failed_tests",
            json!({"launch_id": launch, "aql": "status = = 1"}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("aql-guide"),
        "{}",
        text(&r)
    );
    assert!(fake.requests_to("POST", "/jobrun/*/rerun").is_empty());

    let r = s
        .call("rerun_failed_tests", json!({"launch_id": launch}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(sc(&r)["selected"], selected);
    let started = sc(&r)["job_runs"].as_array().unwrap().clone();
    assert!(!started.is_empty(), "{}", text(&r));
    assert!(text(&r).contains("wait_for_launch"), "{}", text(&r));
    let reruns = fake.requests_to("POST", "/jobrun/*/rerun");
    assert!(!reruns.is_empty());
    for q in &reruns {
        let body: Value = serde_json::from_str(&q.body).unwrap();
        assert_eq!(body, json!({"rql": "status in [\"failed\", \"broken\"]"}));
    }
    // While it runs, a second rerun is refused.
    let r = s
        .call("rerun_failed_tests", json!({"launch_id": launch}))
        .await;
    assert!(is_error(&r) && text(&r).contains("still"), "{}", text(&r));

    let r = s
        .call(
            "wait_for_launch",
            json!({"launch_id": launch, "timeout_s": 60, "poll_interval_s": 1}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(sc(&r)["outcome"], "finished", "{}", text(&r));
    // What did not fail stays; the failed tests, and only they, have new results.
    fake.with_data(|d| {
        let old_failed = d.results.iter().filter(|r| {
            r.launch_id == launch
                && r.id < started[0]["id"].as_i64().unwrap()
                && matches!(r.status.as_str(), "failed" | "broken")
        });
        for r in old_failed {
            assert!(r.hidden, "the failed result {} is still shown", r.id);
        }
        let visible: Vec<_> = d
            .results
            .iter()
            .filter(|r| r.launch_id == launch && !r.hidden)
            .collect();
        for id in &passed_results {
            assert!(visible.iter().any(|r| r.id == *id), "result {id} was rerun");
        }
        let mut rerun: Vec<i64> = visible
            .iter()
            .filter(|r| !passed_results.contains(&r.id))
            .map(|r| r.test_case_id)
            .collect();
        rerun.sort();
        assert_eq!(rerun, failed_cases);
    });
    s.stop().await;
}

#[tokio::test]
async fn whoami_and_find_users_name_people_and_an_unknown_assignee_is_refused() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[("ALLURE_PROJECT_ID", "1")]).await;
    let r = s.call("whoami", json!({})).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(sc(&r)["username"], "api-token-user");
    assert_eq!(sc(&r)["name"], "Quinn Bot");
    assert_eq!(sc(&r)["project_id"], 1);
    assert!(
        sc(&r)["rights"]
            .as_array()
            .unwrap()
            .contains(&json!("project:write"))
    );
    assert!(
        text(&r).contains("username \"api-token-user\""),
        "{}",
        text(&r)
    );
    // No query parameter but the project's: the description's csrfToken is not one.
    let me = fake.requests_to("GET", "/account/me").pop().unwrap();
    assert!(me.query_pairs().is_empty(), "{:?}", me.query_pairs());

    let r = s.call("find_users", json!({"query": "smi"})).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(sc(&r)["users"][0]["username"], "alice");
    assert!(text(&r).contains("alice (Alice Smith)"), "{}", text(&r));
    let r = s.call("find_users", json!({"query": "  "})).await;
    assert!(is_error(&r));

    // An assignee that does not exist is refused with the closest users, and nothing is
    // assigned; an existing one in another case is assigned as TestOps spells it.
    let (launch, result) = fake.with_data(|d| {
        let r = d
            .results
            .iter()
            .find(|r| !r.hidden && r.project_id == 1)
            .unwrap();
        (r.launch_id, r.id)
    });
    let r = s
        .call(
            "assign_test_result",
            json!({"test_result_id": result, "username": "alic"}),
        )
        .await;
    assert!(is_error(&r), "{}", text(&r));
    assert!(
        text(&r).contains("Closest: alice (Alice Smith)"),
        "{}",
        text(&r)
    );
    assert!(fake.requests_to("POST", "/testresult/*/assign").is_empty());
    let r = s
        .call(
            "bulk_assign_test_results",
            json!({"launch_id": launch, "test_result_ids": [result], "assignees": ["bob", "nobody-at-all"]}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("find_users"),
        "{}",
        text(&r)
    );
    assert!(
        fake.requests_to("POST", "/testresult/bulk/assign")
            .is_empty()
    );
    let r = s
        .call(
            "assign_test_result",
            json!({"test_result_id": result, "username": "Alice"}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    // A short username among many that contain it is still found (the exact filter).
    fake.with_data(|d| {
        // (They sort before it, so a substring search's first page would not show it.)
        for n in [
            "qa", "aqa1", "aqa2", "aqa3", "aqa4", "aqa5", "aqa6", "aqa7", "aqa8", "aqa9", "aqa10",
            "aqa11",
        ] {
            let mut u = d.users[0].clone();
            u.username = n.into();
            u.id = 100 + d.users.len() as i64;
            d.users.push(u);
        }
    });
    let r = s
        .call(
            "assign_test_result",
            json!({"test_result_id": result, "username": "qa"}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let sent: Value =
        serde_json::from_str(&fake.requests_to("POST", "/testresult/*/assign")[0].body).unwrap();
    assert_eq!(sent, json!({"username": "alice"}));
    let sent: Value =
        serde_json::from_str(&fake.requests_to("POST", "/testresult/*/assign")[1].body).unwrap();
    assert_eq!(sent, json!({"username": "qa"}));
    s.stop().await;
}

#[tokio::test]
async fn find_flaky_tests_separates_flaky_from_regressed_over_a_jobs_launches() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[("ALLURE_PROJECT_ID", "1")]).await;
    // The nightly job's launches (each runs every automated case), oldest first, and three
    // of their tests given a history: one alternating, one that passed and then fails,
    // one failing throughout. Every other test passes.
    let (job, launches, [flaky, regressed, broken]) = fake.with_data(|d| {
        let job = d
            .jobs
            .iter()
            .find(|j| j.project_id == 1 && j.name == "nightly-regression")
            .unwrap()
            .id;
        let mut launches: Vec<i64> = d
            .launches
            .iter()
            .filter(|l| l.project_id == 1 && l.job_id == Some(job))
            .map(|l| l.id)
            .collect();
        launches.sort();
        let cases: Vec<i64> = d
            .test_cases
            .iter()
            .filter(|t| t.project_id == 1 && t.automated)
            .map(|t| t.id)
            .take(3)
            .collect();
        for (i, l) in launches.iter().enumerate() {
            for r in d
                .results
                .iter_mut()
                .filter(|r| r.launch_id == *l && !r.hidden)
            {
                r.status = if r.test_case_id == cases[0] {
                    if i % 2 == 0 { "passed" } else { "failed" }
                } else if r.test_case_id == cases[1] {
                    if i < 5 { "passed" } else { "broken" }
                } else if r.test_case_id == cases[2] {
                    "failed"
                } else {
                    "passed"
                }
                .into();
                r.flaky = false;
            }
        }
        (job, launches, [cases[0], cases[1], cases[2]])
    });
    assert!(launches.len() >= 8, "{launches:?}");
    let r = s
        .call("find_flaky_tests", json!({"job_id": job, "launches": 8}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let v = sc(&r);
    assert_eq!(
        v["launch_ids"],
        json!(launches[launches.len() - 8..]),
        "{}",
        text(&r)
    );
    assert_eq!(v["flaky_total"], 1, "{}", text(&r));
    assert_eq!(v["flaky"][0]["test_case_id"], flaky);
    assert_eq!(v["flaky"][0]["flips"], 7);
    assert_eq!(v["regressed_total"], 1, "{}", text(&r));
    assert_eq!(v["regressed"][0]["test_case_id"], regressed);
    assert_eq!(v["regressed"][0]["since_launch_id"], launches[5]);
    assert_eq!(v["always_failing"], 1);
    let t = text(&r);
    assert!(!t.contains(&format!("test case #{broken}")), "{t}");
    assert!(t.contains(&format!("/project/1/test-cases/{flaky}")), "{t}");
    assert!(
        t.contains(&format!("failing since launch #{}", launches[5])),
        "{t}"
    );

    // The same launches by name pattern; none in the last day; a bad window is refused.
    let r = s
        .call(
            "find_flaky_tests",
            json!({"launch_name": "NIGHTLY", "launches": 8}),
        )
        .await;
    assert_eq!(sc(&r)["launch_ids"], v["launch_ids"], "{}", text(&r));
    let r = s.call("find_flaky_tests", json!({"days": 1})).await;
    assert!(
        is_error(&r) && text(&r).contains("widen the filter"),
        "{}",
        text(&r)
    );
    let r = s.call("find_flaky_tests", json!({"launches": 2})).await;
    assert!(is_error(&r) && text(&r).contains("3..=30"), "{}", text(&r));

    // The analytics take the same filters: the trend reads the job's launches, and the
    // analytic endpoints get exactly the chosen launches as `launchRql`.
    let r = s
        .call(
            "get_launch_trend_analytics",
            json!({"job_id": job, "launches": 5}),
        )
        .await;
    let points: Vec<i64> = sc(&r)["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["launch_id"].as_i64().unwrap())
        .collect();
    assert_eq!(points, launches[launches.len() - 5..], "{}", text(&r));
    assert!(text(&r).contains(&format!("job #{job}")), "{}", text(&r));
    let pr: Vec<i64> = fake.with_data(|d| {
        let mut v: Vec<i64> = d
            .launches
            .iter()
            .filter(|l| l.project_id == 1 && l.tags.iter().any(|t| t.name == "pr"))
            .map(|l| l.id)
            .collect();
        v.sort_by(|a, b| b.cmp(a));
        v
    });
    for (tool, route) in [
        ("get_test_success_rate", "/analytic/1/tc_success_rate"),
        (
            "get_launch_duration_analytics",
            "/analytic/1/launch_duration_histogram",
        ),
    ] {
        fake.clear_requests();
        let r = s.call(tool, json!({"tag": "PR"})).await;
        assert!(!is_error(&r), "{}", text(&r));
        assert!(
            text(&r).contains("launches matching tag PR"),
            "{}",
            text(&r)
        );
        let q = fake.requests_to("GET", route).pop().unwrap();
        let ids: Vec<String> = pr.iter().map(i64::to_string).collect();
        assert_eq!(
            q.query_param("launchRql"),
            Some(format!("id in [{}]", ids.join(", "))),
            "{tool}"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn a_test_case_is_created_with_nested_steps_and_expected_results_and_read_back() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[("ALLURE_PROJECT_ID", "1")]).await;
    let steps = json!([
        {"action": "Open the cart", "expected": "The cart lists 2 items"},
        {"action": "Pay", "steps": [
            {"action": "Enter the card", "expected": "The card is accepted"},
            {"action": "Confirm"}
        ]},
        {"action": "Open the orders", "expected": "The order is there"}
    ]);
    let r = s
        .call(
            "create_test_case",
            json!({"name": "Checkout pays", "precondition": "A signed-in customer",
                   "tags": ["smoke", " checkout ", "smoke"], "steps": steps,
                   "layer": "api", "custom_fields": {"Priority": ["High"], "Feature": ["Checkout"]}}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(text(&r).contains("with 5 step(s)"), "{}", text(&r));
    let id = sc(&r)["ids"][0].as_i64().unwrap();
    // Stored as TestOps stores it: an expected result is the child of a container.
    let (outline, tags, pre) = fake.with_data(|d| {
        let tc = d.test_cases.iter().find(|t| t.id == id).unwrap();
        let tags: Vec<String> = tc.tags.iter().map(|t| t.name.clone()).collect();
        (tc.scenario.outline(), tags, tc.precondition.clone())
    });
    assert_eq!(
        outline,
        vec![
            (
                "Open the cart".to_owned(),
                Some("The cart lists 2 items".to_owned())
            ),
            ("Pay".to_owned(), None),
            (
                "Open the orders".to_owned(),
                Some("The order is there".to_owned())
            ),
        ]
    );
    assert_eq!(tags, ["smoke", "checkout"]);
    assert_eq!(pre.as_deref(), Some("A signed-in customer"));
    let (layer, mut cfv) = fake.with_data(|d| {
        let tc = d.test_cases.iter().find(|t| t.id == id).unwrap();
        (tc.layer.as_ref().map(|l| l.name.clone()), tc.cfv.clone())
    });
    cfv.sort();
    assert_eq!(layer.as_deref(), Some("API"));
    assert_eq!(cfv, [101, 300], "Checkout, High");
    // A layer or a field value that does not exist stops the creation before it starts.
    let before = fake.requests_to("POST", "/testcase").len();
    for bad in [
        json!({"layer": "E2E"}),
        json!({"custom_fields": {"Priority": ["Urgent"]}}),
    ] {
        let mut args = json!({"name": "Never created"});
        args.as_object_mut()
            .unwrap()
            .extend(bad.as_object().unwrap().clone());
        let r = s.call("create_test_case", args).await;
        let t = text(&r);
        assert!(
            is_error(&r) && (t.contains("it has") || t.contains("layers are")),
            "{t}"
        );
    }
    assert_eq!(fake.requests_to("POST", "/testcase").len(), before);
    // Each step was created with the flag its expected result needs, in order.
    let creates = fake.requests_to("POST", "/testcase/step");
    assert_eq!(creates.len(), 8, "5 steps and 3 expected results");
    assert_eq!(
        creates[0].query_param("withExpectedResult").as_deref(),
        Some("true")
    );
    assert_eq!(
        creates[2].query_param("withExpectedResult").as_deref(),
        Some("false")
    );

    let r = s
        .call("get_test_case_scenario", json!({"test_case_id": id}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let v = sc(&r);
    assert_eq!(v["steps"][0]["expected"], "The cart lists 2 items");
    assert_eq!(v["steps"][1]["steps"][0]["action"], "Enter the card");
    assert_eq!(
        v["steps"][1]["steps"][0]["expected"],
        "The card is accepted"
    );
    assert!(v["steps"][1].get("expected").is_none(), "{v}");
    let t = text(&r);
    assert!(t.contains("2.1. Enter the card [step "), "{t}");
    assert!(
        !t.contains("Expected Result"),
        "the container's placeholder is not an expected result: {t}"
    );
    let r = s.call("get_test_case", json!({"test_case_id": id})).await;
    assert_eq!(sc(&r)["steps"][2]["number"], "2.1");
    assert_eq!(sc(&r)["steps"][4]["expected"], "The order is there");

    // manual_scenario replaces every step; tags and precondition change with it.
    let r = s
        .call(
            "update_test_case",
            json!({"test_case_id": id, "precondition": "", "tags": ["regression"], "layer": "UI",
                   "custom_fields": {"Priority": ["Low"]},
                   "manual_scenario": [{"action": "Only step", "expected": "Done"}]}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let outline = fake.with_data(|d| {
        d.test_cases
            .iter()
            .find(|t| t.id == id)
            .unwrap()
            .scenario
            .outline()
    });
    assert_eq!(
        outline,
        vec![("Only step".to_owned(), Some("Done".to_owned()))]
    );
    assert_eq!(
        fake.requests_to("DELETE", &format!("/testcase/{id}/scenario"))
            .len(),
        1
    );

    // An unknown custom field stops the whole update before anything is written.
    let patches = fake.requests_to("PATCH", "/testcase/*").len();
    let r = s
        .call(
            "update_test_case",
            json!({"test_case_id": id, "name": "Renamed", "custom_fields": {"Owner": ["x"]}}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("no custom field 'Owner'"),
        "{}",
        text(&r)
    );
    assert_eq!(fake.requests_to("PATCH", "/testcase/*").len(), patches);
    // Bad steps are refused before anything is written.
    let before = fake.requests().len();
    for bad in [
        json!([{"action": " "}]),
        json!([{"action": "x", "expected": "e".repeat(10_001)}]),
    ] {
        let r = s
            .call(
                "update_test_case",
                json!({"test_case_id": id, "manual_scenario": bad}),
            )
            .await;
        assert!(is_error(&r), "{}", text(&r));
    }
    assert_eq!(fake.requests().len(), before);
    s.stop().await;
}

#[tokio::test]
async fn test_plans_are_created_changed_listed_and_deleted() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[("ALLURE_PROJECT_ID", "1")]).await;
    let (cases, smoke) = fake.with_data(|d| {
        let cases: Vec<i64> = d
            .test_cases
            .iter()
            .filter(|t| t.project_id == 1)
            .map(|t| t.id)
            .take(4)
            .collect();
        let smoke = d
            .test_cases
            .iter()
            .filter(|t| t.project_id == 1 && !t.deleted && t.tags.iter().any(|g| g.name == "smoke"))
            .count();
        (cases, smoke)
    });
    // From ids.
    let r = s
        .call(
            "bulk_create_test_plan",
            json!({"name": "Hotfix", "test_case_ids": &cases[..3]}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(sc(&r)["test_cases"], 3);
    let plan = sc(&r)["id"].as_i64().unwrap();
    let sent: Value = serde_json::from_str(&fake.requests_to("POST", "/testplan")[0].body).unwrap();
    assert_eq!(
        sent,
        json!({"projectId": 1, "name": "Hotfix", "treeSelection": {"inverted": false, "leafsInclude": &cases[..3]}})
    );
    // From AQL: everything it matches.
    let r = s
        .call(
            "bulk_create_test_plan",
            json!({"name": "Smoke", "aql": "tag = \"smoke\""}),
        )
        .await;
    assert_eq!(sc(&r)["test_cases"], smoke, "{}", text(&r));
    let by_aql = sc(&r)["id"].as_i64().unwrap();

    // Add one, remove one; rename. The answer counts after the change.
    let r = s
        .call(
            "update_test_plan",
            json!({"test_plan_id": plan, "name": "Hotfix 2", "add_test_case_ids": [cases[3]], "remove_test_case_ids": [cases[0]]}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(sc(&r)["test_cases"], 3);
    assert_eq!(sc(&r)["before"], 3);
    assert!(
        text(&r).contains("Test plan #") && text(&r).contains("Hotfix 2"),
        "{}",
        text(&r)
    );
    let r = s
        .call("list_test_plan_test_cases", json!({"test_plan_id": plan}))
        .await;
    let mut listed: Vec<i64> = sc(&r)["test_cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    listed.sort();
    let mut want = cases[1..].to_vec();
    want.sort();
    assert_eq!(listed, want, "{}", text(&r));
    // Adding and removing by AQL.
    let regression = fake.with_data(|d| {
        d.test_cases
            .iter()
            .filter(|t| {
                t.project_id == 1 && !t.deleted && t.tags.iter().any(|g| g.name == "regression")
            })
            .count()
    });
    let r = s
        .call(
            "update_test_plan",
            json!({"test_plan_id": plan, "add_aql": "tag = \"regression\""}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let with = sc(&r)["test_cases"].as_i64().unwrap();
    assert!(
        with >= regression as i64 && with <= regression as i64 + 3,
        "{}",
        text(&r)
    );
    let r = s
        .call(
            "update_test_plan",
            json!({"test_plan_id": plan, "remove_aql": "tag = \"regression\""}),
        )
        .await;
    assert!(sc(&r)["test_cases"].as_i64().unwrap() <= 3, "{}", text(&r));
    // Removing from an AQL plan excludes the case.
    let one = fake.with_data(|d| {
        d.test_plans
            .iter()
            .find(|p| p.id == by_aql)
            .unwrap()
            .test_case_ids[0]
    });
    let r = s
        .call(
            "update_test_plan",
            json!({"test_plan_id": by_aql, "remove_test_case_ids": [one]}),
        )
        .await;
    assert_eq!(sc(&r)["test_cases"], smoke - 1, "{}", text(&r));

    // Refusals change nothing.
    let before = fake.requests().len();
    for (tool, args) in [
        ("bulk_create_test_plan", json!({"name": "Empty"})),
        (
            "bulk_create_test_plan",
            json!({"name": " ", "test_case_ids": [1]}),
        ),
        ("update_test_plan", json!({"test_plan_id": plan})),
        (
            "update_test_plan",
            json!({"test_plan_id": plan, "add_test_case_ids": []}),
        ),
    ] {
        let r = s.call(tool, args.clone()).await;
        assert!(is_error(&r), "{tool} {args}: {}", text(&r));
    }
    assert_eq!(fake.requests().len(), before);
    let r = s
        .call(
            "bulk_create_test_plan",
            json!({"name": "Bad", "aql": "tag = = 1"}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("aql-guide"),
        "{}",
        text(&r)
    );

    let r = s
        .call(
            "delete_test_plan",
            json!({"test_plan_id": plan, "confirm": true}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(fake.with_data(|d| d.test_plans.iter().all(|p| p.id != plan)));
    let r = s
        .call(
            "delete_test_plan",
            json!({"test_plan_id": plan, "confirm": true}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("not found"),
        "{}",
        text(&r)
    );
    s.stop().await;
}

#[tokio::test]
async fn defects_are_kept_up_linked_to_issues_and_matched_to_failures() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[("ALLURE_PROJECT_ID", "1")]).await;
    let r = s
        .call("create_defect", json!({"name": "Payment times out"}))
        .await;
    let defect = sc(&r)["ids"][0].as_i64().unwrap();

    // Close, reopen, rename.
    let r = s
        .call(
            "update_defect",
            json!({"defect_id": defect, "closed": true, "name": "Payment gateway times out"}),
        )
        .await;
    assert!(
        !is_error(&r) && text(&r).contains("is closed"),
        "{}",
        text(&r)
    );
    let r = s
        .call(
            "update_defect",
            json!({"defect_id": defect, "closed": false}),
        )
        .await;
    assert!(
        text(&r).contains("Payment gateway times out is open"),
        "{}",
        text(&r)
    );
    let r = s.call("update_defect", json!({"defect_id": defect})).await;
    assert!(is_error(&r), "{}", text(&r));

    // Project 1 has one tracker: no integration id needed. Once linked, a second key is
    // refused before anything is sent.
    let r = s
        .call(
            "link_defect_issue",
            json!({"defect_id": defect, "issue_key": "SHOP-123"}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let sent: Value =
        serde_json::from_str(&fake.requests_to("POST", "/defect/*/issue")[0].body).unwrap();
    assert_eq!(sent, json!({"integrationId": 1, "name": "SHOP-123"}));
    let r = s
        .call(
            "link_defect_issue",
            json!({"defect_id": defect, "issue_key": "SHOP-124"}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("already linked to SHOP-123"),
        "{}",
        text(&r)
    );
    assert_eq!(fake.requests_to("POST", "/defect/*/issue").len(), 1);
    let r = s
        .call("unlink_defect_issue", json!({"defect_id": defect}))
        .await;
    assert!(
        text(&r).contains("no longer linked to SHOP-123"),
        "{}",
        text(&r)
    );
    // Project 2 has two trackers: the choice is the caller's, and is listed.
    let r = s
        .call(
            "create_defect",
            json!({"project_id": 2, "name": "Crash on start"}),
        )
        .await;
    let mobile = sc(&r)["ids"][0].as_i64().unwrap();
    let r = s
        .call(
            "link_defect_issue",
            json!({"defect_id": mobile, "issue_key": "MOB-1"}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("1 (Jira, jira), 2 (YouTrack, youtrack)"),
        "{}",
        text(&r)
    );
    let r = s
        .call(
            "link_defect_issue",
            json!({"defect_id": mobile, "issue_key": "MOB-1", "integration_id": 2}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));

    // A matcher over failure messages, applied to a launch, links its matching failures.
    let (launch, word, matching) = fake.with_data(|d| {
        let r = d
            .results
            .iter()
            .find(|r| r.project_id == 1 && !r.hidden && r.status == "failed" && r.message.is_some())
            .unwrap();
        let word = r
            .message
            .clone()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        let matching: Vec<i64> = d
            .results
            .iter()
            .filter(|x| {
                x.launch_id == r.launch_id
                    && !x.hidden
                    && matches!(x.status.as_str(), "failed" | "broken")
                    && x.message.as_deref().is_some_and(|m| m.contains(&word))
            })
            .map(|x| x.id)
            .collect();
        (r.launch_id, word, matching)
    });
    let r = s
        .call(
            "add_defect_matcher",
            json!({"defect_id": defect, "name": "gateway", "message_regex": word}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let r = s
        .call(
            "add_defect_matcher",
            json!({"defect_id": defect, "name": "none"}),
        )
        .await;
    assert!(is_error(&r), "{}", text(&r));
    let r = s
        .call(
            "add_defect_matcher",
            json!({"defect_id": defect, "name": "bad", "message_regex": "(unclosed"}),
        )
        .await;
    assert!(is_error(&r) && text(&r).contains("regexes"), "{}", text(&r));
    let r = s
        .call("list_defect_matchers", json!({"defect_id": defect}))
        .await;
    assert_eq!(
        sc(&r)["matchers"].as_array().unwrap().len(),
        1,
        "{}",
        text(&r)
    );
    let r = s
        .call("apply_defect_matchers", json!({"launch_id": launch}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let linked = fake.with_data(|d| {
        d.defects
            .iter()
            .find(|x| x.id == defect)
            .unwrap()
            .test_result_ids
            .clone()
    });
    assert_eq!(linked, matching);

    // Linking reports per result: already linked, linked, not found, other project.
    let (fresh, other) = fake.with_data(|d| {
        let fresh = d
            .results
            .iter()
            .find(|r| r.project_id == 1 && !linked.contains(&r.id))
            .unwrap()
            .id;
        let other = d.results.iter().find(|r| r.project_id == 3).unwrap().id;
        (fresh, other)
    });
    let r = s
        .call(
            "link_defect_to_test_results",
            json!({"defect_id": defect, "test_result_ids": [matching[0], fresh, 999_999, other]}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let outcomes: Vec<String> = sc(&r)["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        outcomes,
        ["already_linked", "linked", "not_found", "other_project"]
    );
    assert_eq!(sc(&r)["linked"], 1);
    assert_eq!(fake.requests_to("POST", "/testresult/*/defect/*").len(), 1);
    // Nothing linkable: an error that still says why per result.
    let r = s
        .call(
            "link_defect_to_test_results",
            json!({"defect_id": defect, "test_result_ids": [999_999]}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("result #999999: not found"),
        "{}",
        text(&r)
    );
    s.stop().await;
}

#[tokio::test]
async fn a_job_runs_with_parameters_by_id_and_the_rest_keep_their_defaults() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[("ALLURE_PROJECT_ID", "1")]).await;
    let r = s.call("list_jobs", json!({})).await;
    let job = sc(&r)["jobs"][0].clone();
    let (job_id, param) = (
        job["id"].as_i64().unwrap(),
        job["parameters"][0]["id"].as_i64().unwrap(),
    );
    assert_eq!(job["parameters"][0]["default"], "main", "{}", text(&r));
    assert!(
        text(&r).contains(&format!("parameters: #{param} = main")),
        "{}",
        text(&r)
    );

    let r = s
        .call(
            "run_allure_launch",
            json!({"launch_name": "RC", "job_id": job_id, "parameters": {param.to_string(): "release-2.4"}}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let sent: Value =
        serde_json::from_str(&fake.requests_to("POST", "/job/*/run")[0].body).unwrap();
    assert_eq!(
        sent,
        json!({"launchName": "RC", "parameters": [{"id": param, "value": "release-2.4"}]})
    );
    // A parameter the job does not have, or parameters without a job, start nothing.
    for args in [
        json!({"launch_name": "RC", "job_id": job_id, "parameters": {"77": "x"}}),
        json!({"launch_name": "RC", "test_plan_id": 1, "parameters": {"1": "x"}}),
    ] {
        let r = s.call("run_allure_launch", args).await;
        assert!(
            is_error(&r) && text(&r).contains("parameter"),
            "{}",
            text(&r)
        );
    }
    assert_eq!(fake.requests_to("POST", "/job/*/run").len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn custom_fields_are_listed_and_set_by_name_through_the_v2_bulk_routes() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[("ALLURE_PROJECT_ID", "1")]).await;
    let r = s.call("list_project_custom_fields", json!({})).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(
        text(&r).contains("- Priority (field -3, required): High, Medium, Low"),
        "{}",
        text(&r)
    );
    let case = fake.with_data(|d| d.test_cases.iter().find(|t| t.project_id == 1).unwrap().id);
    let held = |fake: &FakeTestOps| {
        fake.with_data(|d| {
            let mut v = d
                .test_cases
                .iter()
                .find(|t| t.id == case)
                .unwrap()
                .cfv
                .clone();
            v.sort();
            v
        })
    };
    assert_eq!(held(&fake), [100, 300], "Login, High");

    // Priority replaced, Epic added, Feature untouched; names in any case.
    let r = s
        .call(
            "update_test_case_custom_fields",
            json!({"test_case_id": case, "fields": {"priority": ["low"], "Epic": ["Payments"]}}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(held(&fake), [100, 201, 302]);
    // The single-case v1 route that answers 500 on real instances is never called.
    assert!(fake.requests_to("PATCH", "/testcase/*/cfv").is_empty());
    // Clearing a field.
    let r = s
        .call(
            "update_test_case_custom_fields",
            json!({"test_case_id": case, "fields": {"Epic": []}}),
        )
        .await;
    assert!(
        !is_error(&r) && text(&r).contains("Epic cleared"),
        "{}",
        text(&r)
    );
    assert_eq!(held(&fake), [100, 302]);

    // Unknown fields and values are refused with what exists, and nothing changes.
    let writes = fake.requests_to("POST", "/v2/test-case/bulk/cfv/*").len();
    assert_eq!(writes, 3, "a remove and an add, then a remove");
    for (fields, says) in [
        (
            json!({"Owner": ["alice"]}),
            "it has: Feature, Epic, Priority",
        ),
        (json!({"Priority": ["Urgent"]}), "it has: High, Medium, Low"),
    ] {
        let r = s
            .call(
                "update_test_case_custom_fields",
                json!({"test_case_id": case, "fields": fields}),
            )
            .await;
        assert!(is_error(&r) && text(&r).contains(says), "{}", text(&r));
    }
    assert_eq!(
        fake.requests_to("POST", "/v2/test-case/bulk/cfv/*").len(),
        writes
    );
    assert_eq!(held(&fake), [100, 302]);
    s.stop().await;
}

#[tokio::test]
async fn a_test_cases_history_spans_launches_newest_first() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let (case, mut runs) = fake.with_data(|d| {
        let case = d
            .test_cases
            .iter()
            .find(|t| t.project_id == 1 && t.automated)
            .unwrap()
            .id;
        let mut runs: Vec<(i64, i64)> = d
            .results
            .iter()
            .filter(|r| r.test_case_id == case)
            .map(|r| (r.created_date, r.id))
            .collect();
        runs.sort();
        (case, runs)
    });
    runs.reverse();
    let r = s
        .call(
            "get_test_case_history",
            json!({"test_case_id": case, "size": 5}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let ids: Vec<i64> = sc(&r)["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["test_result_id"].as_i64().unwrap())
        .collect();
    let want: Vec<i64> = runs.iter().take(5).map(|(_, id)| *id).collect();
    assert_eq!(ids, want);
    assert!(
        text(&r).contains(&format!("Runs of test case #{case}")),
        "{}",
        text(&r)
    );
    let r = s
        .call("get_test_case_history", json!({"test_case_id": 999_999}))
        .await;
    assert!(
        is_error(&r) && text(&r).contains("not found"),
        "{}",
        text(&r)
    );
    s.stop().await;
}
