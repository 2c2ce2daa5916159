//! Triage of a launch's failures: messages reduced to signatures, grouped, and compared
//! with the previous launch of the same job or name. The tool is in the results toolset.

use std::collections::{BTreeMap, HashSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::lookups::{all_results, failing, launch, previous_launch, result_url};
use super::render::{Example, cut};
use super::{Access, Ctx, Meta, Render, ToolError, Toolset};
use crate::allure::model::{Launch, TestResult, TestStatus};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TriageArgs {
    /// Launch to triage.
    pub launch_id: i64,
    /// Most groups to return, 1-50 (default 10); the biggest come first.
    pub max_groups: Option<u32>,
    /// Example results per group, 1-10 (default 3).
    pub examples: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FailureGroup {
    /// The normalised message the group shares (numbers and ids replaced).
    pub signature: String,
    /// One real message of the group.
    pub sample_message: String,
    pub count: usize,
    pub failed: usize,
    pub broken: usize,
    pub muted: usize,
    /// Results already linked to a known defect.
    pub known: usize,
    /// True when the previous launch of the same job or name had no failure like this.
    pub new: Option<bool>,
    pub examples: Vec<Example>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Triage {
    pub launch_id: i64,
    pub launch_name: String,
    pub failures: usize,
    pub groups_total: usize,
    pub groups: Vec<FailureGroup>,
    /// The launch compared against for `new`.
    pub previous_launch: Option<LaunchLink>,
    /// True when the launch had more results than were read.
    pub truncated: bool,
    /// What the triage could not do (results not read, the previous launch unread).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub url: String,
}

/// A launch named by id, name and link.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LaunchLink {
    pub id: i64,
    pub name: String,
    pub url: String,
}

impl Render for Triage {
    fn text(&self) -> String {
        let mut s = format!(
            "Triage of launch #{} {}: {} failed/broken results in {} groups",
            self.launch_id, self.launch_name, self.failures, self.groups_total
        );
        if let Some(p) = &self.previous_launch {
            s.push_str(&format!(
                ", compared with launch #{} {} {}",
                p.id, p.name, p.url
            ));
        }
        s.push('\n');
        for g in &self.groups {
            let mut flags = Vec::new();
            if g.new == Some(true) {
                flags.push("NEW".to_string());
            }
            if g.known > 0 {
                flags.push(format!("{} known defect", g.known));
            }
            if g.muted > 0 {
                flags.push(format!("{} muted", g.muted));
            }
            s.push_str(&format!(
                "\n{}× {}{}\n",
                g.count,
                g.sample_message,
                if flags.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", flags.join(", "))
                }
            ));
            for e in &g.examples {
                s.push_str(&format!("   - #{} {} {}\n", e.id, e.name, e.url));
            }
            if g.count > g.examples.len() {
                s.push_str(&format!(
                    "   - … and {} more (list_test_results with status failed,broken lists them)\n",
                    g.count - g.examples.len()
                ));
            }
        }
        if self.groups.len() < self.groups_total {
            s.push_str(&format!(
                "\n({} smaller groups not shown; raise max_groups)\n",
                self.groups_total - self.groups.len()
            ));
        }
        for note in &self.notes {
            s.push_str(&format!("\nNote: {note}.\n"));
        }
        s.push_str(&self.url);
        s
    }
}

pub(super) const TRIAGE_LAUNCH: Meta = Meta {
    name: "triage_launch",
    toolset: Toolset::Results,
    title: "Triage a launch's failures",
    description: "Why did a launch fail? Groups its failed and broken results by normalised error message: count, examples with links, muted and known-defect counts, and whether each group is new since the previous launch of the same job or name. Start here.",
    access: Access::Read,
};

pub(super) async fn triage_launch(ctx: Ctx, a: TriageArgs) -> Result<Triage, ToolError> {
    let max_groups = a.max_groups.unwrap_or(10);
    let examples = a.examples.unwrap_or(3);
    if !(1..=50).contains(&max_groups) || !(1..=10).contains(&examples) {
        return Err(ToolError::InvalidArgs(
            "max_groups must be 1..=50 and examples 1..=10".into(),
        ));
    }
    // The whole call, every page of both launches included, within REQUEST_TIMEOUT.
    let deadline = tokio::time::Instant::now() + ctx.client.timeout();
    let l = launch(&ctx, a.launch_id).await?;
    let read = all_results(&ctx, l.id, 5000, deadline).await?;
    let (results, truncated) = (read.items, read.cut.is_some());
    let mut notes: Vec<String> = read.cut.into_iter().collect();
    let (prev, prev_sigs) = previous_signatures(&ctx, &l, deadline, &mut notes).await;
    let (failures, mut groups) =
        group_failures(&results, prev_sigs.as_ref(), examples as usize, |id| {
            result_url(&ctx, Some(l.id), id)
        });
    let total = groups.len();
    groups.truncate(max_groups as usize);
    Ok(Triage {
        url: ctx.link(&format!("/launch/{}", l.id)),
        launch_id: l.id,
        launch_name: l.name,
        failures,
        groups_total: total,
        groups,
        previous_launch: prev.map(|p| LaunchLink {
            url: ctx.link(&format!("/launch/{}", p.id)),
            id: p.id,
            name: p.name,
        }),
        truncated,
        notes,
    })
}

/// The launch before `l` and the signatures of its failures, within `deadline`. It only
/// marks groups as new: failing to find or read it costs that mark, said in `notes`, not
/// the triage.
async fn previous_signatures(
    ctx: &Ctx,
    l: &Launch,
    deadline: tokio::time::Instant,
    notes: &mut Vec<String>,
) -> (Option<Launch>, Option<HashSet<String>>) {
    let found = tokio::time::timeout_at(deadline, previous_launch(ctx, l)).await;
    let prev = match found {
        Ok(Ok(Some(p))) => p,
        Ok(Ok(None)) => return (None, None),
        Ok(Err(e)) => {
            notes.push(format!(
                "the previous launch could not be looked up ({e}), so no group is marked NEW"
            ));
            return (None, None);
        }
        Err(_) => {
            notes.push(
                "REQUEST_TIMEOUT was used up before the previous launch was found, so no group is marked NEW".into(),
            );
            return (None, None);
        }
    };
    match all_results(ctx, prev.id, 5000, deadline).await {
        Ok(r) => {
            if r.cut.is_some() {
                notes.push(format!(
                    "the previous launch #{} was read only in part, so a group marked NEW may have failed there too",
                    prev.id
                ));
            }
            let sigs = r
                .items
                .iter()
                .filter(|r| failing(r.status))
                .map(|r| signature(r.message.as_deref().unwrap_or("")))
                .collect();
            (Some(prev), Some(sigs))
        }
        Err(e) => {
            notes.push(format!(
                "the previous launch #{} could not be read ({e}), so no group is marked NEW",
                prev.id
            ));
            (Some(prev), None)
        }
    }
}

/// The failing results grouped by signature, biggest group first (ties by signature),
/// with how many results failed in all. `previous`: the signatures of the launch
/// compared with, to mark the groups it did not have as new. `url` links a result.
fn group_failures(
    results: &[TestResult],
    previous: Option<&HashSet<String>>,
    examples: usize,
    url: impl Fn(i64) -> String,
) -> (usize, Vec<FailureGroup>) {
    let mut groups: BTreeMap<String, FailureGroup> = BTreeMap::new();
    let mut failures = 0;
    for r in results.iter().filter(|r| failing(r.status)) {
        failures += 1;
        let sig = signature(r.message.as_deref().unwrap_or(""));
        let g = groups.entry(sig.clone()).or_insert_with(|| FailureGroup {
            new: previous.map(|p| !p.contains(&sig)),
            sample_message: cut(
                r.message
                    .as_deref()
                    .and_then(|m| m.lines().next())
                    .unwrap_or("(no message)"),
                300,
                "get_test_result has the whole message",
            ),
            signature: sig,
            count: 0,
            failed: 0,
            broken: 0,
            muted: 0,
            known: 0,
            examples: vec![],
        });
        g.count += 1;
        if r.status == Some(TestStatus::Failed) {
            g.failed += 1
        } else {
            g.broken += 1
        }
        g.muted += usize::from(r.muted.unwrap_or(false));
        g.known += usize::from(r.known.unwrap_or(false));
        if g.examples.len() < examples {
            g.examples.push(Example {
                id: r.id,
                name: r.name.clone(),
                status: r.status,
                url: url(r.id),
            });
        }
    }
    let mut groups: Vec<FailureGroup> = groups.into_values().collect();
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.signature.cmp(&b.signature))
    });
    (failures, groups)
}

/// A failure message with what varies between runs taken out: numbers, hex ids, quoted
/// values, addresses. Two failures with the same signature have the same cause more
/// often than not.
pub fn signature(message: &str) -> String {
    static RULES: std::sync::OnceLock<Vec<(regex_lite::Regex, &'static str)>> =
        std::sync::OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [
            (
                r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
                "<uuid>",
            ),
            (r"0x[0-9a-fA-F]+", "<hex>"),
            (r"'[^']{0,80}'", "'…'"),
            (r"\d+(\.\d+)?", "N"),
            (r"\s+", " "),
        ]
        .into_iter()
        .filter_map(|(re, to)| regex_lite::Regex::new(re).ok().map(|r| (r, to)))
        .collect()
    });
    let first = message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let mut s: String = first.chars().take(400).collect();
    for (re, to) in rules {
        s = re.replace_all(&s, *to).into_owned();
    }
    let s = s.trim().to_owned();
    if s.is_empty() {
        "(no message)".into()
    } else {
        s.chars().take(200).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_ignore_what_varies() {
        assert_eq!(
            signature("expected: <200> but was: <500>"),
            signature("expected: <200> but was: <503>")
        );
        assert_eq!(
            signature(
                "AssertionError: expected 'Order #48213 confirmed' to equal 'Order confirmed'"
            ),
            signature(
                "AssertionError: expected 'Order #48999 confirmed' to equal 'Order confirmed'"
            )
        );
        assert_ne!(
            signature("Connection refused"),
            signature("NullPointerException")
        );
        assert_eq!(signature(""), "(no message)");
        assert_eq!(signature("first line\nsecond"), "first line");
    }

    #[test]
    fn failures_group_by_signature_biggest_first_and_new_against_the_previous_launch() {
        let results: Vec<TestResult> = serde_json::from_value(serde_json::json!([
            {"id": 1, "name": "a", "status": "failed", "message": "expected 200 but was 500", "muted": true},
            {"id": 2, "name": "b", "status": "broken", "message": "expected 200 but was 503", "known": true},
            {"id": 3, "name": "c", "status": "failed", "message": "Connection refused"},
            {"id": 4, "name": "d", "status": "passed", "message": "expected 200 but was 500"},
            {"id": 5, "name": "e", "status": "failed", "message": "expected 200 but was 502"},
        ]))
        .unwrap();
        let previous: HashSet<String> = [signature("Connection refused")].into();
        let (failures, groups) =
            group_failures(&results, Some(&previous), 2, |id| format!("u{id}"));
        assert_eq!(failures, 4);
        assert_eq!(groups.len(), 2);
        let g = &groups[0];
        assert_eq!(g.signature, "expected N but was N");
        assert_eq!(
            (g.count, g.failed, g.broken, g.muted, g.known),
            (3, 2, 1, 1, 1)
        );
        assert_eq!(g.new, Some(true));
        let ids: Vec<(i64, &str)> = g.examples.iter().map(|e| (e.id, e.url.as_str())).collect();
        assert_eq!(ids, [(1, "u1"), (2, "u2")]);
        assert_eq!(groups[1].new, Some(false));
        // Without a previous launch, nothing is said about newness.
        let (_, groups) = group_failures(&results, None, 1, |id| id.to_string());
        assert!(
            groups
                .iter()
                .all(|g| g.new.is_none() && g.examples.len() == 1)
        );
    }
}
