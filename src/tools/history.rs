//! A test's history: its earlier runs and the flakiness verdict drawn from their
//! outcomes. The tool is in the results toolset.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::render::{cut, time};
use super::{Access, Ctx, Meta, Render, ToolError, Toolset, paging, positive_id};
use crate::allure::Page;
use crate::allure::model::HistoryEntry;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct HistoryArgs {
    /// Test result id; its earlier runs (same test, earlier launches) are returned.
    pub test_result_id: i64,
    /// How many earlier runs to read, 1-100 (default 20).
    pub size: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HistoryLine {
    pub test_result_id: i64,
    pub status: Option<String>,
    pub date: Option<String>,
    pub launch_id: Option<i64>,
    pub launch_name: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct History {
    pub test_result_id: i64,
    /// Newest first.
    pub runs: Vec<HistoryLine>,
    /// passed / (passed + failed + broken) over these runs, percent.
    pub pass_rate: Option<f64>,
    /// How often the outcome flipped between pass and fail in consecutive runs.
    pub flips: usize,
    /// stable_pass, stable_fail, flaky, or not_enough_data.
    pub verdict: String,
}

impl Render for History {
    fn text(&self) -> String {
        let mut s = format!(
            "History of test result #{}: {} earlier runs, verdict {}, {} flips, pass rate {}\n",
            self.test_result_id,
            self.runs.len(),
            self.verdict,
            self.flips,
            self.pass_rate
                .map(|p| format!("{p}%"))
                .unwrap_or_else(|| "n/a".into())
        );
        for r in &self.runs {
            s.push_str(&format!(
                "- {} [{}] launch {} {}\n",
                r.date.as_deref().unwrap_or(""),
                r.status.as_deref().unwrap_or("?"),
                r.launch_id.map(|l| l.to_string()).unwrap_or_default(),
                r.launch_name.as_deref().unwrap_or("")
            ));
        }
        s
    }
}

pub(super) const GET_TEST_RESULT_HISTORY: Meta = Meta {
    name: "get_test_result_history",
    toolset: Toolset::Results,
    title: "Test result history and flakiness",
    description: "Earlier runs of the same test (newest first) with status, launch and date, and a flakiness verdict: stable_pass, stable_fail, flaky (outcome flipped twice or more), changed, or not_enough_data.",
    access: Access::Read,
};

pub(super) async fn get_test_result_history(
    ctx: Ctx,
    a: HistoryArgs,
) -> Result<History, ToolError> {
    let id = positive_id(
        "test_result_id",
        a.test_result_id,
        "list_test_results shows ids",
    )?;
    let q = paging(Some(0), a.size, 20)?;
    let p: Page<HistoryEntry> = ctx
        .client
        .get(&format!("/testresult/{id}/history"), &q)
        .await
        .map_err(|e| ToolError::result_not_found(e, id))?;
    let statuses: Vec<Option<&str>> = p.content.iter().map(|h| h.status.as_deref()).collect();
    let (pass_rate, flips, verdict) = flakiness(&statuses);
    let runs = p
        .content
        .iter()
        .map(|h| HistoryLine {
            test_result_id: h.id,
            status: h.status.clone(),
            date: time(h.created_date),
            launch_id: h.launch.as_ref().map(|l| l.id),
            launch_name: h.launch.as_ref().and_then(|l| l.name.clone()),
            message: h
                .message
                .as_deref()
                .and_then(|m| m.lines().next())
                .map(|m| cut(m, 160, "get_test_result has the whole message")),
        })
        .collect();
    Ok(History {
        test_result_id: id,
        runs,
        pass_rate,
        flips,
        verdict: verdict.into(),
    })
}

/// pass/fail outcome of a status, `None` for skipped/unknown.
fn outcome(status: Option<&str>) -> Option<bool> {
    match status {
        Some("passed") => Some(true),
        Some("failed") | Some("broken") => Some(false),
        _ => None,
    }
}

/// Flakiness from a newest-first list of statuses.
pub fn flakiness(statuses: &[Option<&str>]) -> (Option<f64>, usize, &'static str) {
    let outcomes: Vec<bool> = statuses.iter().filter_map(|s| outcome(*s)).collect();
    if outcomes.len() < 3 {
        return (None, 0, "not_enough_data");
    }
    let passed = outcomes.iter().filter(|o| **o).count();
    let rate = (passed as f64 * 1000.0 / outcomes.len() as f64).round() / 10.0;
    let flips = outcomes.windows(2).filter(|w| w[0] != w[1]).count();
    let verdict = if passed == outcomes.len() {
        "stable_pass"
    } else if passed == 0 {
        "stable_fail"
    } else if flips >= 2 {
        "flaky"
    } else {
        "changed"
    };
    (Some(rate), flips, verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flakiness_verdicts() {
        let f = |v: &[&str]| flakiness(&v.iter().map(|s| Some(*s)).collect::<Vec<_>>());
        assert_eq!(f(&["passed", "passed", "passed"]).2, "stable_pass");
        assert_eq!(f(&["failed", "broken", "failed"]).2, "stable_fail");
        assert_eq!(
            f(&["passed", "failed", "passed", "failed"]),
            (Some(50.0), 3, "flaky")
        );
        assert_eq!(f(&["failed", "passed", "passed"]).2, "changed");
        assert_eq!(f(&["passed", "skipped"]).2, "not_enough_data");
    }
}
