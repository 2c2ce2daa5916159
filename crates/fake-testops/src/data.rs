//! The fake's state: Allure TestOps entities with the real API's field names, and a
//! deterministic, realistic seed (several projects, CI jobs, open and closed launches,
//! hundreds of results with real-looking failures, test cases with steps, plans,
//! defects and mutes).

use super::texts::{CASES, STEP_TEXT, failure};
use serde::Serialize;
use serde_json::{Value, json};

/// 2026-11-01T00:00:00Z: the seed's "now", so every run sees the same data.
pub const SEED_NOW_MS: i64 = 1_793_491_200_000;
const HOUR: i64 = 3_600_000;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRec {
    pub id: i64,
    pub name: String,
    pub abbr: String,
    pub description: String,
    pub is_public: bool,
    pub favorite: bool,
    pub created_date: i64,
    pub created_by: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct IdName {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchRec {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    pub closed: bool,
    pub autoclose: bool,
    pub external: bool,
    pub created_date: i64,
    pub last_modified_date: i64,
    /// Only in `LaunchPreviewDto` (the list), not in `LaunchDto`.
    #[serde(skip)]
    pub created_by: String,
    pub tags: Vec<IdName>,
    pub links: Vec<Value>,
    /// Set when the launch was started by a job run (not part of `LaunchDto`).
    #[serde(skip)]
    pub job_id: Option<i64>,
    /// Its environment, `(variable, value)` (`GET /api/launch/{id}/env`).
    #[serde(skip)]
    pub env: Vec<(String, String)>,
}

impl LaunchRec {
    /// A launch as the API creates it: open unless said, made by the token's user now.
    pub fn new(
        id: i64,
        project_id: i64,
        name: String,
        job_id: Option<i64>,
        closed: bool,
        now: i64,
    ) -> LaunchRec {
        LaunchRec {
            id,
            project_id,
            name,
            closed,
            autoclose: false,
            external: false,
            created_date: now,
            last_modified_date: now,
            created_by: "api-token-user".into(),
            tags: vec![],
            links: vec![],
            job_id,
            env: vec![],
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultRec {
    pub id: i64,
    pub launch_id: i64,
    pub project_id: i64,
    pub test_case_id: i64,
    pub name: String,
    pub full_name: String,
    pub status: String,
    pub message: Option<String>,
    pub trace: Option<String>,
    pub start: i64,
    pub stop: i64,
    pub duration: i64,
    pub assignee: Option<String>,
    pub muted: bool,
    pub known: bool,
    pub flaky: bool,
    pub hidden: bool,
    pub manual: bool,
    pub external: bool,
    pub history_key: String,
    pub created_date: i64,
    pub tags: Vec<IdName>,
    pub steps: Vec<Value>,
    pub attachments: Vec<Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestCaseRec {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    pub full_name: String,
    pub description: Option<String>,
    pub automated: bool,
    pub deleted: bool,
    pub external: bool,
    pub status: IdName,
    pub workflow: IdName,
    /// `testLayer` in `TestCaseDto` and `TestCaseRowDto` (only the overview and test
    /// results call it `layer`).
    #[serde(rename = "testLayer")]
    pub layer: Option<IdName>,
    pub tags: Vec<IdName>,
    pub created_date: i64,
    pub last_modified_date: i64,
    pub created_by: String,
    pub precondition: Option<String>,
    pub expected_result: Option<String>,
    /// The scenario (steps), served by `GET /api/testcase/{id}/step`.
    #[serde(skip)]
    pub scenario: super::scenario::ScenarioRec,
    /// Its custom field values, by value id.
    #[serde(skip)]
    pub cfv: Vec<i64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRec {
    pub id: i64,
    /// Not part of `JobDto`.
    #[serde(skip)]
    pub project_id: i64,
    pub name: String,
    /// An `IntegrationTypeDto` value (lowercase: `jenkins`, `github`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Not part of `JobDto`.
    #[serde(skip)]
    pub external_id: String,
    pub url: String,
    pub parameters: Vec<Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRunRec {
    pub id: i64,
    pub launch_id: i64,
    pub name: String,
    pub stage: String,
    pub status: String,
    pub url: String,
    pub external_id: String,
    pub created_date: i64,
    pub created_by: String,
    pub job: IdName,
    pub error_message: Option<String>,
    /// When a run the fake started will finish (epoch ms); seeded runs have none.
    #[serde(skip)]
    pub finish_at: Option<i64>,
    /// The test cases a rerun with `rql` runs again; `None`: all of the project's.
    #[serde(skip)]
    pub only: Option<Vec<i64>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestPlanRec {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    pub created_date: i64,
    pub created_by: String,
    pub base_rql: Option<String>,
    /// `TreeSelectionDto` as written.
    pub tree_selection: Value,
    /// What the selection held when the plan was last written.
    #[serde(skip)]
    pub test_case_ids: Vec<i64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DefectRec {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    pub description: Option<String>,
    pub closed: bool,
    pub created_date: i64,
    /// Not part of `DefectDto` or `DefectOverviewDto`.
    #[serde(skip)]
    pub created_by: String,
    #[serde(skip)]
    pub test_result_ids: Vec<i64>,
    /// The issue tracker key linked to it: (integration id, key).
    #[serde(skip)]
    pub issue: Option<(i64, String)>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MuteRec {
    pub id: i64,
    pub test_case_id: i64,
    pub name: String,
    pub reason: Option<String>,
    pub created_date: i64,
    pub created_by: String,
}

/// Everything the fake knows.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub projects: Vec<ProjectRec>,
    pub launches: Vec<LaunchRec>,
    pub results: Vec<ResultRec>,
    pub test_cases: Vec<TestCaseRec>,
    pub jobs: Vec<JobRec>,
    pub job_runs: Vec<JobRunRec>,
    pub test_plans: Vec<TestPlanRec>,
    pub defects: Vec<DefectRec>,
    pub mutes: Vec<MuteRec>,
    pub users: Vec<super::people::UserRec>,
    pub matchers: Vec<super::defect_links::MatcherRec>,
    pub integrations: Vec<super::defect_links::IntegrationRec>,
    pub custom_fields: Vec<super::custom_fields::FieldRec>,
    pub cf_values: Vec<super::custom_fields::ValueRec>,
    pub extras: super::testcase_extras::ExtrasMap,
    pub trees: super::trees::Trees,
    pub next_id: i64,
}

impl Dataset {
    /// A fresh id, unique across every entity (as Allure's are unique per table).
    pub fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// `[{status, count}]` of a launch, in Allure's order, zero counts left out.
    pub fn statistic(&self, launch_id: i64) -> Vec<Value> {
        let order = ["failed", "broken", "passed", "skipped", "unknown"];
        let mut counts = [0i64; 5];
        for r in self
            .results
            .iter()
            .filter(|r| r.launch_id == launch_id && !r.hidden)
        {
            if let Some(i) = order.iter().position(|s| *s == r.status) {
                counts[i] += 1;
            }
        }
        order
            .iter()
            .zip(counts)
            .filter(|(_, c)| *c > 0)
            .map(|(s, c)| json!({"status": s, "count": c}))
            .collect()
    }

    /// The small, deterministic dataset every test, benchmark and demo starts from.
    pub fn seed() -> Dataset {
        let mut rng = fastrand::Rng::with_seed(20261101);
        let mut d = Dataset {
            next_id: 1000,
            ..Dataset::default()
        };
        let projects = [
            (
                1,
                "Web Shop",
                "WEB",
                "Storefront, cart and checkout (Selenium + JUnit 5)",
            ),
            (2, "Mobile App", "MOB", "iOS and Android apps (Appium)"),
            (
                3,
                "Payments API",
                "PAY",
                "Payment gateway REST API (REST Assured)",
            ),
            (
                4,
                "Data Platform",
                "DATA",
                "Ingestion pipelines and reports (pytest)",
            ),
        ];
        for (id, name, abbr, desc) in projects {
            d.projects.push(ProjectRec {
                id,
                name: name.into(),
                abbr: abbr.into(),
                description: desc.into(),
                is_public: id != 3,
                favorite: id == 1,
                created_date: SEED_NOW_MS - 400 * 24 * HOUR + id * HOUR,
                created_by: "admin".into(),
            });
        }
        let people = ["alice", "bob", "carol", "dmitry"];
        d.integrations = super::defect_links::seed();
        d.users = super::people::seed();
        (d.custom_fields, d.cf_values) = super::custom_fields::seed();
        for p in 1..=4i64 {
            let abbr = d.projects[(p - 1) as usize].abbr.clone();
            // Test cases with steps.
            let mut tcs = Vec::new();
            for n in 0..40usize {
                let (area, title) = CASES[n % CASES.len()];
                let id = d.next_id();
                let steps: Vec<(String, Option<&str>)> = (1..=3)
                    .map(|i| {
                        (
                            format!("Step {i}: {}", STEP_TEXT[(n + i) % STEP_TEXT.len()]),
                            (i == 3).then_some("Result is shown"),
                        )
                    })
                    .collect();
                tcs.push(id);
                d.test_cases.push(TestCaseRec {
                    id,
                    project_id: p,
                    name: format!(
                        "{title}{}",
                        if n >= CASES.len() {
                            format!(" ({})", n / CASES.len() + 1)
                        } else {
                            String::new()
                        }
                    ),
                    full_name: format!("com.example.{}.{}Test.case{n}", abbr.to_lowercase(), area),
                    description: Some(format!(
                        "Checks {} in the {area} area.",
                        title.to_lowercase()
                    )),
                    automated: n % 7 != 0,
                    deleted: false,
                    external: n % 7 != 0,
                    status: if n % 9 == 0 {
                        IdName {
                            id: -1,
                            name: "Draft".into(),
                        }
                    } else {
                        IdName {
                            id: -2,
                            name: "Active".into(),
                        }
                    },
                    workflow: IdName {
                        id: -1,
                        name: "Default".into(),
                    },
                    layer: Some(IdName {
                        id: -(1 + (n % 3) as i64),
                        name: ["UI", "API", "Unit"][n % 3].into(),
                    }),
                    tags: vec![
                        IdName {
                            id: -1,
                            name: area.into(),
                        },
                        IdName {
                            id: -2,
                            name: if n % 2 == 0 { "regression" } else { "smoke" }.into(),
                        },
                    ],
                    created_date: SEED_NOW_MS - 200 * 24 * HOUR + n as i64 * HOUR,
                    last_modified_date: SEED_NOW_MS - 20 * 24 * HOUR + n as i64 * HOUR,
                    created_by: people[n % people.len()].into(),
                    precondition: (n % 4 == 0).then(|| "A signed-in customer".to_owned()),
                    expected_result: None,
                    scenario: super::scenario::ScenarioRec::seeded(id, &steps),
                    // Feature by area, Priority in turn.
                    cfv: vec![100 + (n % 4) as i64, 300 + (n % 3) as i64],
                });
            }
            // CI jobs.
            let mut jobs = Vec::new();
            for (j, (jname, kind)) in [("nightly-regression", "jenkins"), ("pr-smoke", "github")]
                .iter()
                .enumerate()
            {
                let id = d.next_id();
                jobs.push((id, jname.to_string()));
                d.jobs.push(JobRec {
                    id,
                    project_id: p,
                    name: jname.to_string(),
                    kind: kind.to_string(),
                    external_id: format!("{}/{}", abbr.to_lowercase(), jname),
                    url: format!(
                        "https://ci.example.com/job/{}-{}/",
                        abbr.to_lowercase(),
                        jname
                    ),
                    parameters: vec![
                        // `JobParameterDto`: the parameter's id and its value.
                        json!({"id": j + 1, "value": if j == 0 { "main" } else { "feature" }}),
                    ],
                });
            }
            // Launches, oldest first, the last two still open.
            for l in 0..12i64 {
                let id = d.next_id();
                let nightly = l % 3 != 2;
                let created = SEED_NOW_MS - (12 - l) * 12 * HOUR + p * 60_000;
                let (job_id, job_name) = &jobs[if nightly { 0 } else { 1 }];
                let name = if nightly {
                    format!("Nightly regression #{}", 100 + l)
                } else {
                    format!("PR-{} smoke", 4500 + l * 7)
                };
                let closed = l < 10;
                d.launches.push(LaunchRec {
                    id,
                    project_id: p,
                    name: name.clone(),
                    closed,
                    autoclose: false,
                    external: false,
                    created_date: created,
                    last_modified_date: created + HOUR,
                    created_by: "ci-bot".into(),
                    tags: vec![IdName { id: -10, name: if nightly { "nightly" } else { "pr" }.into() }],
                    links: vec![json!({"name": "Build", "url": format!("https://ci.example.com/job/{job_name}/{}", 300 + l), "type": "build"})],
                    job_id: Some(*job_id),
                    env: vec![("browser".into(), if nightly { "chrome" } else { "firefox" }.into()), ("os".into(), "linux".into())],
                });
                let run_id = d.next_id();
                d.job_runs.push(JobRunRec {
                    id: run_id,
                    launch_id: id,
                    name: format!("{job_name} #{}", 300 + l),
                    // The newest launch's CI run is still going; the one before has finished.
                    stage: if closed || l == 10 {
                        "finished"
                    } else {
                        "in_progress"
                    }
                    .into(),
                    status: if closed || l == 10 {
                        "passed"
                    } else {
                        "unknown"
                    }
                    .into(),
                    url: format!("https://ci.example.com/job/{job_name}/{}", 300 + l),
                    external_id: format!("{}", 300 + l),
                    created_date: created,
                    created_by: "ci-bot".into(),
                    job: IdName {
                        id: *job_id,
                        name: job_name.clone(),
                    },
                    error_message: None,
                    finish_at: None,
                    only: None,
                });
                // A smoke launch runs a third of the cases; a nightly runs all.
                for (n, tc_id) in tcs.iter().enumerate() {
                    if !nightly && n % 3 != 0 {
                        continue;
                    }
                    // A few cases fail in every launch (stable failures), some flip (flaky).
                    let stable_fail = n % 13 == 5;
                    let flaky = n % 11 == 3;
                    let roll = rng.u32(0..100);
                    let status = if stable_fail {
                        "failed"
                    } else if flaky && roll < 50 {
                        "broken"
                    } else if roll < 4 {
                        "failed"
                    } else if roll < 7 {
                        "broken"
                    } else if roll < 11 {
                        "skipped"
                    } else if roll < 12 {
                        "unknown"
                    } else {
                        "passed"
                    };
                    let tc = d
                        .test_cases
                        .iter()
                        .find(|t| t.id == *tc_id)
                        .cloned()
                        .unwrap_or_else(|| unreachable!());
                    let (message, trace) = failure(status, n, l, &mut rng);
                    let start = created + 60_000 + n as i64 * 7_000;
                    let duration = 300 + rng.i64(0..9_000);
                    let rid = d.next_id();
                    d.results.push(ResultRec {
                        id: rid,
                        launch_id: id,
                        project_id: p,
                        test_case_id: *tc_id,
                        name: tc.name.clone(),
                        full_name: tc.full_name.clone(),
                        status: status.into(),
                        message,
                        trace,
                        start,
                        stop: start + duration,
                        duration,
                        assignee: (status == "failed" && n % 2 == 0).then(|| people[n % people.len()].to_string()),
                        muted: stable_fail && n % 2 == 1,
                        known: stable_fail,
                        flaky,
                        hidden: false,
                        manual: !tc.automated,
                        external: tc.automated,
                        history_key: format!("hk-{p}-{tc_id}"),
                        created_date: start,
                        tags: tc.tags.clone(),
                        steps: vec![
                            json!({"name": "Open the page", "status": "passed", "duration": 120}),
                            json!({"name": "Do the action", "status": status, "duration": duration - 200, "message": if status == "passed" { Value::Null } else { Value::from("see trace") }}),
                        ],
                        attachments: vec![
                            json!({"id": rid * 10 + 1, "name": "log.txt", "contentType": "text/plain", "contentLength": 180}),
                            json!({"id": rid * 10 + 2, "name": "screenshot.png", "contentType": "image/png", "contentLength": 48213}),
                        ],
                    });
                }
            }
            // Test plans, defects, mutes.
            let plan = d.next_id();
            d.test_plans.push(TestPlanRec {
                id: plan,
                project_id: p,
                name: "Release candidate checklist".into(),
                created_date: SEED_NOW_MS - 30 * 24 * HOUR,
                created_by: "carol".into(),
                base_rql: None,
                tree_selection: json!({"inverted": false, "leafsInclude": tcs.iter().step_by(4).collect::<Vec<_>>()}),
                test_case_ids: tcs.iter().step_by(4).copied().collect(),
            });
            let plan2 = d.next_id();
            d.test_plans.push(TestPlanRec {
                id: plan2,
                project_id: p,
                name: "Smoke".into(),
                created_date: SEED_NOW_MS - 25 * 24 * HOUR,
                created_by: "bob".into(),
                base_rql: None,
                tree_selection: json!({"inverted": false, "leafsInclude": tcs.iter().step_by(10).collect::<Vec<_>>()}),
                test_case_ids: tcs.iter().step_by(10).copied().collect(),
            });
            let defect = d.next_id();
            let known: Vec<i64> = d
                .results
                .iter()
                .filter(|r| r.project_id == p && r.known)
                .map(|r| r.id)
                .collect();
            d.defects.push(DefectRec {
                id: defect,
                project_id: p,
                name: format!("{abbr}-101: checkout button hidden behind cookie banner"),
                description: Some("Known since the banner redesign.".into()),
                closed: false,
                created_date: SEED_NOW_MS - 10 * 24 * HOUR,
                created_by: "alice".into(),
                test_result_ids: known,
                issue: None,
            });
            for tc in d
                .test_cases
                .iter()
                .filter(|t| t.project_id == p)
                .enumerate()
                .filter(|(n, _)| n % 13 == 5 && n % 2 == 1)
                .map(|(_, t)| t.id)
                .collect::<Vec<_>>()
            {
                let id = d.next_id();
                d.mutes.push(MuteRec {
                    id,
                    test_case_id: tc,
                    name: "Known defect".into(),
                    reason: Some("Fails until the banner fix ships".into()),
                    created_date: SEED_NOW_MS - 9 * 24 * HOUR,
                    created_by: "alice".into(),
                });
            }
        }
        d
    }
}

impl Dataset {
    /// Adds a result per test case to a launch, as a finished run would. `status` forces
    /// one status (e.g. "unknown" for manual runs not executed yet); otherwise statuses
    /// are drawn like a real run's, seeded by the launch id so reruns are reproducible.
    pub fn add_results(
        &mut self,
        launch_id: i64,
        test_case_ids: &[i64],
        status: Option<&str>,
        now: i64,
    ) {
        let mut rng = fastrand::Rng::with_seed(launch_id as u64);
        let Some(project_id) = self
            .launches
            .iter()
            .find(|l| l.id == launch_id)
            .map(|l| l.project_id)
        else {
            return;
        };
        for (n, tc_id) in test_case_ids.iter().enumerate() {
            let Some(tc) = self.test_cases.iter().find(|t| t.id == *tc_id).cloned() else {
                continue;
            };
            let st = match status {
                Some(s) => s,
                None => match rng.u32(0..100) {
                    0..=9 => "failed",
                    10..=14 => "broken",
                    15..=19 => "skipped",
                    _ => "passed",
                },
            };
            let (message, trace) = failure(st, n, launch_id, &mut rng);
            let id = self.next_id();
            let duration = 200 + rng.i64(0..5_000);
            self.results.push(ResultRec {
                id,
                launch_id,
                project_id,
                test_case_id: tc.id,
                name: tc.name.clone(),
                full_name: tc.full_name.clone(),
                status: st.into(),
                message,
                trace,
                start: now,
                stop: now + duration,
                duration,
                assignee: None,
                muted: false,
                known: false,
                flaky: false,
                hidden: false,
                manual: !tc.automated,
                external: tc.automated,
                history_key: format!("hk-{project_id}-{}", tc.id),
                created_date: now,
                tags: tc.tags.clone(),
                steps: vec![
                    json!({"name": "Run the scenario", "status": st, "duration": duration}),
                ],
                attachments: vec![],
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_deterministic_and_realistic() {
        let a = Dataset::seed();
        let b = Dataset::seed();
        assert_eq!(a.results.len(), b.results.len());
        assert!(
            a.results
                .iter()
                .zip(&b.results)
                .all(|(x, y)| x.status == y.status && x.message == y.message)
        );
        assert_eq!(a.projects.len(), 4);
        assert!(a.results.len() > 500, "{} results", a.results.len());
        for s in ["failed", "broken", "passed", "skipped", "unknown"] {
            assert!(a.results.iter().any(|r| r.status == s), "no {s} result");
        }
        assert!(a.launches.iter().any(|l| !l.closed) && a.launches.iter().any(|l| l.closed));
        assert!(
            a.test_cases.iter().any(|t| t.status.id < 0),
            "built-ins have negative ids"
        );
        assert!(!a.mutes.is_empty() && !a.defects.is_empty() && !a.test_plans.is_empty());
    }
}
