//! Small shared pieces of tool answers: times, statistics, results and CI job runs
//! named in an answer, cut text.

use schemars::JsonSchema;
use serde::Serialize;

use crate::allure::model::{JobRun, StatusCount, TestStatus};

/// Epoch milliseconds as `2026-11-01 12:00 UTC` (compact, unambiguous for a model).
pub fn time(ms: Option<i64>) -> Option<String> {
    let ms = ms?;
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// Counts by status, with the total and pass rate.
#[derive(Debug, Clone, Default, Serialize, JsonSchema, PartialEq)]
pub struct Statistic {
    pub total: i64,
    pub passed: i64,
    pub failed: i64,
    pub broken: i64,
    pub skipped: i64,
    pub unknown: i64,
    /// passed / total, in percent with one decimal; null for an empty launch.
    pub pass_rate: Option<f64>,
}

impl Statistic {
    pub fn from_counts(counts: &[StatusCount]) -> Statistic {
        let mut s = Statistic::default();
        for c in counts {
            match c.status.unwrap_or(TestStatus::Unknown) {
                TestStatus::Passed => s.passed += c.count,
                TestStatus::Failed => s.failed += c.count,
                TestStatus::Broken => s.broken += c.count,
                TestStatus::Skipped => s.skipped += c.count,
                TestStatus::Unknown => s.unknown += c.count,
            }
        }
        s.total = s.passed + s.failed + s.broken + s.skipped + s.unknown;
        s.pass_rate =
            (s.total > 0).then(|| (s.passed as f64 * 1000.0 / s.total as f64).round() / 10.0);
        s
    }

    /// `41 tests: 35 passed, 4 failed, 2 broken (85.4% passed)`.
    pub fn text(&self) -> String {
        if self.total == 0 {
            return "no results yet".into();
        }
        let mut parts = vec![format!("{} passed", self.passed)];
        for (n, label) in [
            (self.failed, "failed"),
            (self.broken, "broken"),
            (self.skipped, "skipped"),
            (self.unknown, "unknown"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {label}"));
            }
        }
        format!(
            "{} tests: {} ({}% passed)",
            self.total,
            parts.join(", "),
            self.pass_rate.unwrap_or(0.0)
        )
    }
}

/// A test result named in an answer (a failure, a change, a linked result), with its link.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Example {
    pub id: i64,
    pub name: String,
    pub status: Option<TestStatus>,
    pub url: String,
}

/// `Links: <url with {id}>`: one line for a list whose rows' links differ only in their
/// id, instead of a link on every row. `rows` are (id, link); `None` when a link does not
/// follow the pattern of the first (then each row must show its own).
pub fn link_pattern<'a>(mut rows: impl Iterator<Item = (i64, &'a str)>) -> Option<String> {
    let (id, first) = rows.next()?;
    let pattern = format!("{}{{id}}", first.strip_suffix(&id.to_string())?);
    rows.all(|(id, url)| pattern.replace("{id}", &id.to_string()) == url)
        .then(|| format!("Links: {pattern}\n"))
}

/// A CI job run that feeds a launch.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JobRunSummary {
    pub id: i64,
    pub name: Option<String>,
    pub job_id: Option<i64>,
    /// scheduled, in_progress, finished or run_failure.
    pub stage: Option<String>,
    /// passed, failed, cancelled or unknown.
    pub status: Option<String>,
    /// Link to the run on the CI server.
    pub ci_url: Option<String>,
    pub error: Option<String>,
}

impl JobRunSummary {
    /// `job run #id name (job #j): stage / status ci-link error: …`, every id and link a
    /// model needs to rerun it or send the user to CI.
    pub fn line(&self) -> String {
        let mut s = format!("job run #{}", self.id);
        if let Some(n) = &self.name {
            s.push_str(&format!(" {n}"));
        }
        if let Some(j) = self.job_id {
            s.push_str(&format!(" (job #{j})"));
        }
        s.push_str(&format!(
            ": {} / {}",
            self.stage.as_deref().unwrap_or("?"),
            self.status.as_deref().unwrap_or("?")
        ));
        if let Some(u) = &self.ci_url {
            s.push_str(&format!(" {u}"));
        }
        if let Some(e) = &self.error {
            s.push_str(&format!(" error: {e}"));
        }
        s
    }
}

impl From<JobRun> for JobRunSummary {
    fn from(j: JobRun) -> Self {
        JobRunSummary {
            id: j.id,
            name: j.name,
            job_id: j.job.map(|x| x.id),
            stage: j.stage,
            status: j.status,
            ci_url: j.url,
            error: j.error_message,
        }
    }
}

/// Cuts text to `max` characters, saying how much was left out and how to get it.
pub fn cut(text: &str, max: usize, how_to_get_rest: &str) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let head: String = text.chars().take(max).collect();
    format!(
        "{head}\n… [{} more characters cut; {how_to_get_rest}]",
        count - max
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistic_counts_and_rate() {
        let s = Statistic::from_counts(&[
            StatusCount {
                status: Some(TestStatus::Passed),
                count: 7,
            },
            StatusCount {
                status: Some(TestStatus::Failed),
                count: 2,
            },
            StatusCount {
                status: Some(TestStatus::Broken),
                count: 1,
            },
        ]);
        assert_eq!((s.total, s.passed, s.failed, s.broken), (10, 7, 2, 1));
        assert_eq!(s.pass_rate, Some(70.0));
        assert_eq!(
            s.text(),
            "10 tests: 7 passed, 2 failed, 1 broken (70% passed)"
        );
        assert_eq!(Statistic::from_counts(&[]).pass_rate, None);
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(
            time(Some(1_793_491_200_000)).as_deref(),
            Some("2026-11-01 00:00 UTC")
        );
        assert_eq!(time(None), None);
    }

    #[test]
    fn cut_marks_what_is_missing() {
        assert_eq!(cut("short", 10, "x"), "short");
        let c = cut(&"a".repeat(50), 10, "call get_test_result with full=true");
        assert!(
            c.starts_with("aaaaaaaaaa\n…")
                && c.contains("40 more characters")
                && c.contains("full=true")
        );
    }
}
