//! A test's history: its earlier runs and the flakiness verdict drawn from their
//! outcomes. The tool is in the results toolset.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::render::{cut, time};
use super::{Access, Ctx, Meta, Render, Subject, ToolError, Toolset, paging, positive_id};
use crate::allure::Page;
use crate::allure::model::{HistoryEntry, TestStatus};

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
    pub status: Option<TestStatus>,
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
    pub verdict: Verdict,
}

/// What the outcomes of a test's runs say of it: always passed (`stable_pass`), always
/// failed (`stable_fail`), flipped between the two twice or more (`flaky`), flipped once
/// (`changed`), or fewer than three runs passed or failed (`not_enough_data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
// Inline, so that the field's schema stays a string and only gains its `enum` list.
#[schemars(inline)]
pub enum Verdict {
    StablePass,
    StableFail,
    Flaky,
    Changed,
    NotEnoughData,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::StablePass => "stable_pass",
            Verdict::StableFail => "stable_fail",
            Verdict::Flaky => "flaky",
            Verdict::Changed => "changed",
            Verdict::NotEnoughData => "not_enough_data",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Render for History {
    fn text(&self) -> String {
        let mut s = format!(
            "History of test result #{}: {} earlier runs, {}\n",
            self.test_result_id,
            self.runs.len(),
            verdict(self.verdict, self.flips, self.pass_rate)
        );
        for r in &self.runs {
            s.push_str(&format!(
                "- result #{} {} [{}] launch {} {}\n",
                r.test_result_id,
                r.date.as_deref().unwrap_or(""),
                r.status.map_or("?", TestStatus::as_str),
                r.launch_id.map(|l| l.to_string()).unwrap_or_default(),
                r.launch_name.as_deref().unwrap_or("")
            ));
        }
        s
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CaseHistoryArgs {
    /// Test case id (list_test_cases or search_test_cases show ids).
    pub test_case_id: i64,
    /// How many runs to read, newest first, 1-100 (default 20).
    pub size: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CaseHistory {
    pub test_case_id: i64,
    /// Newest first.
    pub runs: Vec<HistoryLine>,
    /// passed / (passed + failed + broken) over these runs, percent.
    pub pass_rate: Option<f64>,
    pub flips: usize,
    pub verdict: Verdict,
}

/// `verdict flaky, 3 flips, pass rate 50%`.
fn verdict(verdict: Verdict, flips: usize, pass_rate: Option<f64>) -> String {
    let rate = pass_rate.map_or_else(|| "n/a".to_owned(), |p| format!("{p}%"));
    format!("verdict {verdict}, {flips} flips, pass rate {rate}")
}

impl Render for CaseHistory {
    fn text(&self) -> String {
        let mut s = format!(
            "Runs of test case #{}: {} read, {}\n",
            self.test_case_id,
            self.runs.len(),
            verdict(self.verdict, self.flips, self.pass_rate)
        );
        for r in &self.runs {
            s.push_str(&r.line());
        }
        s
    }
}

impl HistoryLine {
    /// `- result #5 2026-11-01 10:00 [failed] launch 7 Nightly: message`.
    fn line(&self) -> String {
        let mut s = format!(
            "- result #{} {} [{}] launch {} {}",
            self.test_result_id,
            self.date.as_deref().unwrap_or(""),
            self.status.map_or("?", TestStatus::as_str),
            self.launch_id.map(|l| l.to_string()).unwrap_or_default(),
            self.launch_name.as_deref().unwrap_or("")
        );
        if let Some(m) = &self.message {
            s.push_str(&format!(": {m}"));
        }
        s.push('\n');
        s
    }

    fn from(h: &HistoryEntry) -> Self {
        HistoryLine {
            test_result_id: h.id,
            status: h.status,
            date: time(h.created_date),
            launch_id: h.launch.as_ref().map(|l| l.id),
            launch_name: h.launch.as_ref().and_then(|l| l.name.clone()),
            message: h
                .message
                .as_deref()
                .and_then(|m| m.lines().next())
                .map(|m| cut(m, 160, "get_test_result has the whole message")),
        }
    }
}

pub(super) const GET_TEST_CASE_HISTORY: Meta = Meta {
    name: "get_test_case_history",
    toolset: Toolset::Results,
    title: "Test case history",
    description: "A test case's results across launches (newest first) with status, launch and first line of the failure, and a flakiness verdict.",
    access: Access::Read,
};

pub(super) async fn get_test_case_history(
    ctx: Ctx,
    a: CaseHistoryArgs,
) -> Result<CaseHistory, ToolError> {
    let id = positive_id("test_case_id", a.test_case_id, "list_test_cases shows ids")?;
    let q = paging(Some(0), a.size, 20)?;
    let answer = ctx
        .client
        .get::<Page<HistoryEntry>>(&format!("/testcase/{id}/history"), &q)
        .await;
    let p = ctx.explain(Subject::TestCase(id), answer).await?;
    let statuses: Vec<Option<TestStatus>> = p.content.iter().map(|h| h.status).collect();
    let (pass_rate, flips, verdict) = flakiness(&statuses);
    Ok(CaseHistory {
        test_case_id: id,
        runs: p.content.iter().map(HistoryLine::from).collect(),
        pass_rate,
        flips,
        verdict,
    })
}

pub(super) const GET_TEST_RESULT_HISTORY: Meta = Meta {
    name: "get_test_result_history",
    toolset: Toolset::Results,
    title: "Test result history and flakiness",
    description: "Earlier runs of the test behind one result (newest first) with status, launch and date, and a flakiness verdict (stable_pass, stable_fail, flaky, changed, not_enough_data). For a project's flakiest tests, find_flaky_tests.",
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
    let answer = ctx
        .client
        .get::<Page<HistoryEntry>>(&format!("/testresult/{id}/history"), &q)
        .await;
    let p = ctx.explain(Subject::TestResult(id), answer).await?;
    let statuses: Vec<Option<TestStatus>> = p.content.iter().map(|h| h.status).collect();
    let (pass_rate, flips, verdict) = flakiness(&statuses);
    let runs = p.content.iter().map(HistoryLine::from).collect();
    Ok(History {
        test_result_id: id,
        runs,
        pass_rate,
        flips,
        verdict,
    })
}

/// pass/fail outcome of a status, `None` for skipped/unknown.
fn outcome(status: Option<TestStatus>) -> Option<bool> {
    match status? {
        TestStatus::Passed => Some(true),
        TestStatus::Failed | TestStatus::Broken => Some(false),
        TestStatus::Skipped | TestStatus::Unknown => None,
    }
}

/// Flakiness from a newest-first list of statuses.
pub fn flakiness(statuses: &[Option<TestStatus>]) -> (Option<f64>, usize, Verdict) {
    let outcomes: Vec<bool> = statuses.iter().filter_map(|s| outcome(*s)).collect();
    if outcomes.len() < 3 {
        return (None, 0, Verdict::NotEnoughData);
    }
    let passed = outcomes.iter().filter(|o| **o).count();
    let rate = (passed as f64 * 1000.0 / outcomes.len() as f64).round() / 10.0;
    let flips = outcomes.windows(2).filter(|w| w[0] != w[1]).count();
    let verdict = if passed == outcomes.len() {
        Verdict::StablePass
    } else if passed == 0 {
        Verdict::StableFail
    } else if flips >= 2 {
        Verdict::Flaky
    } else {
        Verdict::Changed
    };
    (Some(rate), flips, verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flakiness_verdicts() {
        use TestStatus::*;
        let f = |v: &[TestStatus]| flakiness(&v.iter().map(|s| Some(*s)).collect::<Vec<_>>());
        assert_eq!(f(&[Passed, Passed, Passed]).2, Verdict::StablePass);
        assert_eq!(f(&[Failed, Broken, Failed]).2, Verdict::StableFail);
        assert_eq!(
            f(&[Passed, Failed, Passed, Failed]),
            (Some(50.0), 3, Verdict::Flaky)
        );
        assert_eq!(f(&[Failed, Passed, Passed]).2, Verdict::Changed);
        assert_eq!(f(&[Passed, Skipped]).2, Verdict::NotEnoughData);
        // Runs that neither passed nor failed do not count, nor do unread statuses.
        assert_eq!(
            flakiness(&[
                Some(Passed),
                None,
                Some(Unknown),
                Some(Passed),
                Some(Skipped)
            ])
            .2,
            Verdict::NotEnoughData
        );
        // The text and the JSON say the same name.
        for v in [
            Verdict::StablePass,
            Verdict::StableFail,
            Verdict::Flaky,
            Verdict::Changed,
            Verdict::NotEnoughData,
        ] {
            assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
        }
    }
}
