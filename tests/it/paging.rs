//! Tools that read a whole launch (triage, compare) stop at the first empty page whatever
//! `totalPages` says, and at REQUEST_TIMEOUT, and say when they stopped early.

use std::time::Duration;

use fake_testops::{FakeTestOps, Fault, FaultKind};
use serde_json::json;

use crate::common::{InProcess, is_error, text};

/// The launch with the most results, and how many it has.
fn biggest_launch(fake: &FakeTestOps) -> (i64, usize) {
    fake.with_data(|d| {
        d.launches
            .iter()
            .map(|l| {
                (
                    l.id,
                    d.results.iter().filter(|r| r.launch_id == l.id).count(),
                )
            })
            .max_by_key(|(_, n)| *n)
            .unwrap()
    })
}

#[tokio::test]
async fn an_empty_page_ends_the_read_whatever_total_pages_says() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(&fake, &[]).await;
    let (launch, _) = biggest_launch(&fake);
    fake.inject(Fault::on(
        "/testresult",
        FaultKind::Body {
            status: 200,
            body: json!({"content": [], "totalPages": 1_000_000, "totalElements": 100_000_000, "number": 0, "size": 100})
                .to_string(),
        },
    ));
    let r = s.call("triage_launch", json!({"launch_id": launch})).await;
    assert!(!is_error(&r), "{}", text(&r));
    // One page of this launch, one of the launch before it: no more.
    let reads = fake.requests_to("GET", "/testresult").len();
    assert!(reads <= 2, "{reads} pages read");
    // And the count that did not add up is said, not swallowed.
    let t = text(&r);
    assert!(
        t.contains("answered page 0 empty while it counts 1000000 pages"),
        "{t}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_slow_upstream_cuts_the_read_at_request_timeout_and_says_so() {
    let fake = FakeTestOps::start().await.unwrap();
    let (launch, _) = biggest_launch(&fake);
    // Three pages' worth: copies of its results under new ids.
    fake.with_data(|d| {
        let mine: Vec<_> = d
            .results
            .iter()
            .filter(|r| r.launch_id == launch)
            .cloned()
            .collect();
        let first = d.results.iter().map(|r| r.id).max().unwrap() + 1;
        for (id, r) in (first..).zip(mine.iter().cycle().take(250)) {
            let mut copy = r.clone();
            copy.id = id;
            d.results.push(copy);
        }
    });
    let s = InProcess::against(&fake, &[("REQUEST_TIMEOUT", "3")]).await;
    // Each page takes 2 s: the first fits in the 3 s, the second cannot.
    fake.inject(Fault::on(
        "/testresult",
        FaultKind::Delay(Duration::from_secs(2)),
    ));
    let started = std::time::Instant::now();
    let r = s.call("triage_launch", json!({"launch_id": launch})).await;
    let took = started.elapsed();
    let t = text(&r);
    assert!(!is_error(&r), "{t}");
    assert!(
        t.contains("Note: only the first 100 results were read")
            && t.contains("REQUEST_TIMEOUT (3 s)"),
        "{t}"
    );
    let sc = r.structured_content.unwrap();
    assert_eq!(sc["truncated"], json!(true), "{sc}");
    // The bound holds: nothing waited for the page that would have overrun it.
    assert!(took < Duration::from_secs(6), "{took:?}");
    s.stop().await;
}
