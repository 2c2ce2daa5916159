//! Comparison of two launches test by test: what broke, what was fixed, what still
//! fails. The tool is in the launches toolset.

use std::collections::{HashMap, HashSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::lookups::{all_results, failing, launch, result_url, statistic};
use super::render::{Example, Statistic};
use super::{Access, Ctx, Meta, Render, ToolError, Toolset};
use crate::allure::model::{TestResult, TestStatus};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CompareArgs {
    /// The earlier launch (the baseline).
    pub from_launch_id: i64,
    /// The later launch.
    pub to_launch_id: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Comparison {
    pub from_launch_id: i64,
    pub to_launch_id: i64,
    pub from_statistic: Statistic,
    pub to_statistic: Statistic,
    /// Failing in `to`, passing (or absent) in `from`.
    pub new_failures: Vec<Example>,
    /// Failing in `from`, passing in `to`.
    pub fixed: Vec<Example>,
    /// Failing in both.
    pub still_failing: Vec<Example>,
    pub new_failures_total: usize,
    pub fixed_total: usize,
    pub still_failing_total: usize,
    /// Why not every result of both launches was read (then the lists may miss tests).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Render for Comparison {
    fn text(&self) -> String {
        let mut s = format!(
            "Launch #{} → #{}: {} new failures, {} fixed, {} still failing\nbefore: {}\nafter:  {}\n",
            self.from_launch_id,
            self.to_launch_id,
            self.new_failures_total,
            self.fixed_total,
            self.still_failing_total,
            self.from_statistic.text(),
            self.to_statistic.text()
        );
        for (title, list) in [
            ("New failures", &self.new_failures),
            ("Fixed", &self.fixed),
            ("Still failing", &self.still_failing),
        ] {
            if !list.is_empty() {
                s.push_str(&format!("{title}:\n"));
                for e in list {
                    s.push_str(&format!("- #{} {} {}\n", e.id, e.name, e.url));
                }
            }
        }
        for note in &self.notes {
            s.push_str(&format!("Note: {note}.\n"));
        }
        s
    }
}

/// The most examples per comparison list: the totals say how many there are.
const COMPARE_LIST: usize = 30;

pub(super) const COMPARE_LAUNCHES: Meta = Meta {
    name: "compare_launches",
    toolset: Toolset::Launches,
    title: "Compare two launches",
    description: "Compare two launches test by test: new failures, fixed tests and tests still failing, with both statistics. Use it to see what a change broke or fixed.",
    access: Access::Read,
};

pub(super) async fn compare_launches(ctx: Ctx, a: CompareArgs) -> Result<Comparison, ToolError> {
    if a.from_launch_id == a.to_launch_id {
        return Err(ToolError::InvalidArgs(
            "from_launch_id and to_launch_id are the same launch".into(),
        ));
    }
    // Every page of both launches within REQUEST_TIMEOUT of the call's start; the
    // statistics are read meanwhile.
    let deadline = tokio::time::Instant::now() + ctx.client.timeout();
    let (from, to) = tokio::join!(launch(&ctx, a.from_launch_id), launch(&ctx, a.to_launch_id));
    let (from, to) = (from?, to?);
    let (fr, tr, fs, ts) = tokio::join!(
        all_results(&ctx, from.id, 5000, deadline),
        all_results(&ctx, to.id, 5000, deadline),
        statistic(&ctx, from.id),
        statistic(&ctx, to.id)
    );
    let (fr, tr) = (fr?, tr?);
    let notes: Vec<String> = [(from.id, fr.cut), (to.id, tr.cut)]
        .into_iter()
        .filter_map(|(id, cut)| Some(format!("launch #{id}: {}", cut?)))
        .collect();
    let (fr, tr) = (fr.items, tr.items);
    let (mut new_f, mut fixed, mut still) =
        changes(&fr, &tr, |id| result_url(&ctx, Some(to.id), id));
    let totals = (new_f.len(), fixed.len(), still.len());
    for v in [&mut new_f, &mut fixed, &mut still] {
        v.truncate(COMPARE_LIST);
    }
    Ok(Comparison {
        from_launch_id: from.id,
        to_launch_id: to.id,
        from_statistic: fs?,
        to_statistic: ts?,
        new_failures: new_f,
        fixed,
        still_failing: still,
        new_failures_total: totals.0,
        fixed_total: totals.1,
        still_failing_total: totals.2,
        notes,
    })
}

/// The tests of `after` that newly fail, were fixed (failing before, passed now) and
/// still fail, compared with `before`. A test is its test case, else its name; when it
/// ran more than once in `after`, its first result counts. `url` links a result.
fn changes(
    before: &[TestResult],
    after: &[TestResult],
    url: impl Fn(i64) -> String,
) -> (Vec<Example>, Vec<Example>, Vec<Example>) {
    let key = |r: &TestResult| {
        r.test_case_id
            .map(|t| t.to_string())
            .unwrap_or_else(|| r.name.clone())
    };
    let was: HashMap<String, Option<TestStatus>> =
        before.iter().map(|r| (key(r), r.status)).collect();
    let (mut new_f, mut fixed, mut still) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen = HashSet::new();
    for r in after {
        let k = key(r);
        if !seen.insert(k.clone()) {
            continue;
        }
        let ex = || Example {
            id: r.id,
            name: r.name.clone(),
            status: r.status,
            url: url(r.id),
        };
        match (failing(was.get(&k).copied().flatten()), failing(r.status)) {
            (false, true) => new_f.push(ex()),
            (true, true) => still.push(ex()),
            (true, false) if r.status == Some(TestStatus::Passed) => fixed.push(ex()),
            _ => {}
        }
    }
    (new_f, fixed, still)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_between_two_launches() {
        let results =
            |v: serde_json::Value| -> Vec<TestResult> { serde_json::from_value(v).unwrap() };
        let before = results(serde_json::json!([
            {"id": 1, "name": "login", "testCaseId": 10, "status": "passed"},
            {"id": 2, "name": "cart", "testCaseId": 11, "status": "failed"},
            {"id": 3, "name": "pay", "status": "broken"},
            {"id": 4, "name": "search", "status": "failed"},
        ]));
        let after = results(serde_json::json!([
            {"id": 21, "name": "login renamed", "testCaseId": 10, "status": "failed"},
            {"id": 22, "name": "cart", "testCaseId": 11, "status": "passed"},
            {"id": 23, "name": "pay", "status": "failed"},
            {"id": 24, "name": "search", "status": "skipped"},
            {"id": 25, "name": "new test", "status": "broken"},
            {"id": 26, "name": "new test", "status": "passed"},
        ]));
        let ids = |v: &[Example]| v.iter().map(|e| e.id).collect::<Vec<_>>();
        let (new_f, fixed, still) = changes(&before, &after, |id| format!("u{id}"));
        // A test case keeps its identity across a rename; skipped is not "fixed".
        assert_eq!(ids(&new_f), [21, 25]);
        assert_eq!(ids(&fixed), [22]);
        assert_eq!(ids(&still), [23]);
        assert_eq!(new_f[0].url, "u21");
    }
}
