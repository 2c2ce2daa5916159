//! Analytics: pass-rate trend over recent launches, launch durations, and success rate.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::render::{Statistic, time};
use super::{Access, Ctx, Meta, Render, ToolDef, ToolError, Toolset, tool};
use crate::allure::model::{AnalyticPoint, DurationBucket};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TrendArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// How many recent launches to include, 2-100 (default 20).
    pub launches: Option<u32>,
    #[serde(flatten)]
    pub filter: super::selection::LaunchFilter,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TrendPoint {
    pub launch_id: i64,
    pub name: String,
    pub date: Option<String>,
    pub total: i64,
    pub pass_rate: Option<f64>,
    pub failed: i64,
    pub broken: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Trend {
    pub project_id: i64,
    /// The filter the launches were chosen by, if any.
    pub filter: Option<String>,
    /// Oldest first.
    pub points: Vec<TrendPoint>,
    /// Average pass rate of the older half and of the newer half of the launches.
    pub older_pass_rate: Option<f64>,
    pub newer_pass_rate: Option<f64>,
    pub direction: Direction,
}

/// Where the pass rate goes: `improving`, `declining`, `stable` (within 2 points), or
/// `not_enough_data` (too few launches with results).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
// Inline, so that the field's schema stays a string and only gains its `enum` list.
#[schemars(inline)]
pub enum Direction {
    Improving,
    Declining,
    Stable,
    NotEnoughData,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Improving => "improving",
            Direction::Declining => "declining",
            Direction::Stable => "stable",
            Direction::NotEnoughData => "not_enough_data",
        })
    }
}

impl Render for Trend {
    fn text(&self) -> String {
        let of = match &self.filter {
            Some(f) => format!(" ({f})"),
            None => String::new(),
        };
        let mut s = format!(
            "Pass-rate trend of project {} over {} launches{of}: {} ({} → {})\n",
            self.project_id,
            self.points.len(),
            self.direction,
            self.older_pass_rate
                .map(|p| format!("{p:.1}%"))
                .unwrap_or_else(|| "n/a".into()),
            self.newer_pass_rate
                .map(|p| format!("{p:.1}%"))
                .unwrap_or_else(|| "n/a".into())
        );
        for p in &self.points {
            s.push_str(&format!(
                "- {} #{} {}: {} ({} tests)\n",
                p.date.as_deref().unwrap_or(""),
                p.launch_id,
                p.name,
                p.pass_rate
                    .map(|r| format!("{r}%"))
                    .unwrap_or_else(|| "no results".into()),
                p.total
            ));
        }
        s
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| (v.iter().sum::<f64>() / v.len() as f64 * 10.0).round() / 10.0)
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ScopedArgs {
    /// Project id. Defaults to ALLURE_PROJECT_ID when omitted.
    pub project_id: Option<i64>,
    /// Only the newest this many launches (1-100) the filters keep. Default: all launches when no filter is given, else 100.
    pub launches: Option<u32>,
    #[serde(flatten)]
    pub filter: super::selection::LaunchFilter,
}

/// Which launches an analytics call covers, as the `launchRql` the analytic endpoints
/// take: `id in [...]` of the launches chosen, or nothing for the whole project.
struct Scope {
    query: Vec<(&'static str, String)>,
    /// What was chosen, for the answer: `newest 10 launches (job #7)`.
    said: Option<String>,
    /// A filter was given and no launch passed it.
    empty: bool,
}

async fn scope(ctx: &Ctx, pid: i64, a: &ScopedArgs) -> Result<Scope, ToolError> {
    let filtered = a.filter.describe();
    if a.launches.is_none() && filtered.is_none() {
        return Ok(Scope {
            query: vec![],
            said: None,
            empty: false,
        });
    }
    let n = a.launches.unwrap_or(100);
    if !(1..=100).contains(&n) {
        return Err(ToolError::InvalidArgs(format!(
            "launches must be 1..=100, got {n}"
        )));
    }
    let chosen = super::selection::launches(ctx, pid, &a.filter, n as usize).await?;
    let ids: Vec<String> = chosen.iter().map(|l| l.id.to_string()).collect();
    let said = match filtered {
        Some(f) => format!("newest {} launches matching {f}", ids.len()),
        None => format!("newest {} launches", ids.len()),
    };
    Ok(Scope {
        empty: ids.is_empty(),
        query: vec![("launchRql", format!("id in [{}]", ids.join(", ")))],
        said: Some(said),
    })
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Bucket {
    /// Launch duration range, minutes.
    pub from_min: f64,
    pub to_min: f64,
    pub launches: i64,
    pub passed: i64,
    pub failed: i64,
    pub broken: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Durations {
    pub project_id: i64,
    /// The launches covered, when not all of the project's.
    pub scope: Option<String>,
    pub buckets: Vec<Bucket>,
}

impl Render for Durations {
    fn text(&self) -> String {
        let mut s = format!(
            "Launch durations of project {}{} (launches per duration range; passed = no failed or broken test):\n",
            self.project_id,
            of(&self.scope)
        );
        for b in &self.buckets {
            s.push_str(&format!(
                "- {:.1}–{:.1} min: {} launches ({} passed, {} failed, {} broken)\n",
                b.from_min, b.to_min, b.launches, b.passed, b.failed, b.broken
            ));
        }
        s
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RatePoint {
    pub date: Option<String>,
    /// Percent of passed results that day.
    pub success_rate: Option<f64>,
    pub results: Option<i64>,
}

/// ` (newest 10 launches)`, or nothing for a whole project.
fn of(scope: &Option<String>) -> String {
    scope
        .as_ref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default()
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SuccessRate {
    pub project_id: i64,
    /// The launches covered, when not all of the project's.
    pub scope: Option<String>,
    pub points: Vec<RatePoint>,
    pub average: Option<f64>,
}

impl Render for SuccessRate {
    fn text(&self) -> String {
        let mut s = format!(
            "Test success rate of project {}{}: average {}\n",
            self.project_id,
            of(&self.scope),
            self.average
                .map(|a| format!("{a:.1}%"))
                .unwrap_or_else(|| "n/a".into())
        );
        for p in &self.points {
            s.push_str(&format!(
                "- {}: {} of {} results\n",
                p.date.as_deref().unwrap_or("?"),
                p.success_rate
                    .map(|r| format!("{r:.1}%"))
                    .unwrap_or_else(|| "n/a".into()),
                p.results.unwrap_or(0)
            ));
        }
        s
    }
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(GET_LAUNCH_TREND_ANALYTICS, get_launch_trend_analytics),
        tool(GET_LAUNCH_DURATION_ANALYTICS, get_launch_duration_analytics),
        tool(GET_TEST_SUCCESS_RATE, get_test_success_rate),
    ]
}

const GET_LAUNCH_TREND_ANALYTICS: Meta = Meta {
    name: "get_launch_trend_analytics",
    toolset: Toolset::Analytics,
    title: "Pass-rate trend",
    description: "Pass rate per launch over a project's recent launches (optionally of one CI job, name, tag or last N days), oldest first, and whether it is improving or declining. For per-day rates over all results, get_test_success_rate.",
    access: Access::Read,
};

async fn get_launch_trend_analytics(ctx: Ctx, a: TrendArgs) -> Result<Trend, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let n = a.launches.unwrap_or(20);
    if !(2..=100).contains(&n) {
        return Err(ToolError::InvalidArgs(format!(
            "launches must be 2..=100, got {n}"
        )));
    }
    let chosen = super::selection::launches(&ctx, pid, &a.filter, n as usize).await?;
    let mut points: Vec<TrendPoint> = chosen
        .into_iter()
        .map(|l| {
            let s = Statistic::from_counts(l.statistic.as_deref().unwrap_or(&[]));
            TrendPoint {
                launch_id: l.id,
                name: l.name,
                date: time(l.created_date),
                total: s.total,
                pass_rate: s.pass_rate,
                failed: s.failed,
                broken: s.broken,
            }
        })
        .collect();
    points.reverse();
    let rates: Vec<f64> = points.iter().filter_map(|p| p.pass_rate).collect();
    let (older, newer) = rates.split_at(rates.len() / 2);
    let (o, nw) = (mean(older), mean(newer));
    let direction = match (o, nw) {
        (Some(o), Some(n)) if n - o > 2.0 => Direction::Improving,
        (Some(o), Some(n)) if o - n > 2.0 => Direction::Declining,
        (Some(_), Some(_)) => Direction::Stable,
        _ => Direction::NotEnoughData,
    };
    Ok(Trend {
        project_id: pid,
        filter: a.filter.describe(),
        points,
        older_pass_rate: o,
        newer_pass_rate: nw,
        direction,
    })
}

const GET_LAUNCH_DURATION_ANALYTICS: Meta = Meta {
    name: "get_launch_duration_analytics",
    toolset: Toolset::Analytics,
    title: "Launch duration histogram",
    description: "How long a project's launches take: a histogram of launch durations with pass/fail counts per range; optionally of one CI job, name, tag, last N launches or days.",
    access: Access::Read,
};

async fn get_launch_duration_analytics(ctx: Ctx, a: ScopedArgs) -> Result<Durations, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let scope = scope(&ctx, pid, &a).await?;
    let mut q = scope.query;
    q.push(("buckets", "6".into()));
    let b: Vec<DurationBucket> = if scope.empty {
        vec![]
    } else {
        ctx.project_get(
            &format!("/analytic/{pid}/launch_duration_histogram"),
            pid,
            &q,
        )
        .await?
    };
    let min = |ms: Option<i64>| (ms.unwrap_or(0) as f64 / 6000.0).round() / 10.0;
    Ok(Durations {
        project_id: pid,
        scope: scope.said,
        buckets: b
            .into_iter()
            .map(|x| {
                let (p, f, br) = (
                    x.passed_count.unwrap_or(0),
                    x.failed_count.unwrap_or(0),
                    x.broken_count.unwrap_or(0),
                );
                Bucket {
                    from_min: min(x.min),
                    to_min: min(x.max),
                    launches: p + f + br,
                    passed: p,
                    failed: f,
                    broken: br,
                }
            })
            .collect(),
    })
}

const GET_TEST_SUCCESS_RATE: Meta = Meta {
    name: "get_test_success_rate",
    toolset: Toolset::Analytics,
    title: "Test success rate",
    description: "Share of passed test results per day, with the average: a whole project's, or of one CI job, name, tag, last N launches or days. For pass rate per launch use get_launch_trend_analytics.",
    access: Access::Read,
};

async fn get_test_success_rate(ctx: Ctx, a: ScopedArgs) -> Result<SuccessRate, ToolError> {
    let pid = ctx.project(a.project_id)?;
    let scope = scope(&ctx, pid, &a).await?;
    let pts: Vec<AnalyticPoint> = if scope.empty {
        vec![]
    } else {
        ctx.project_get(
            &format!("/analytic/{pid}/tc_success_rate"),
            pid,
            &scope.query,
        )
        .await?
    };
    let points: Vec<RatePoint> = pts
        .into_iter()
        .map(|p| RatePoint {
            date: p.date,
            success_rate: p.avg_success_rate.map(|r| (r * 1000.0).round() / 10.0),
            results: p.test_results_count,
        })
        .collect();
    let average = mean(
        &points
            .iter()
            .filter_map(|p| p.success_rate)
            .collect::<Vec<_>>(),
    );
    Ok(SuccessRate {
        project_id: pid,
        scope: scope.said,
        points,
        average,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_read_the_same_in_text_and_json() {
        for (d, name) in [
            (Direction::Improving, "improving"),
            (Direction::Declining, "declining"),
            (Direction::Stable, "stable"),
            (Direction::NotEnoughData, "not_enough_data"),
        ] {
            assert_eq!(serde_json::to_value(d).unwrap(), name);
            assert_eq!(d.to_string(), name);
        }
    }
}
