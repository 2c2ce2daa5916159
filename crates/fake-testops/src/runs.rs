//! The fake's CI simulation: job runs it starts move scheduled → in_progress → finished
//! over `job_duration`, and a finished run fills its launch with results.

use super::data::Dataset;

/// Moves every job run the fake started along its timeline. Called before each request,
/// so what a client reads depends only on the clock, never on how often it polls.
pub(crate) fn advance(d: &mut Dataset, now: i64, job_duration_ms: i64) {
    let mut finished = Vec::new();
    for run in d.job_runs.iter_mut() {
        let Some(finish_at) = run.finish_at else {
            continue;
        };
        if now >= finish_at {
            if run.stage != "finished" {
                run.stage = "finished".into();
                finished.push((run.id, run.launch_id, run.only.clone()));
            }
        } else if run.stage == "scheduled" && now >= finish_at - job_duration_ms * 2 / 3 {
            run.stage = "in_progress".into();
        }
    }
    for (run_id, launch_id, only) in finished {
        let Some(project_id) = d
            .launches
            .iter()
            .find(|l| l.id == launch_id)
            .map(|l| l.project_id)
        else {
            continue;
        };
        let cases: Vec<i64> = d
            .test_cases
            .iter()
            .filter(|t| t.project_id == project_id && t.automated && !t.deleted)
            .filter(|t| only.as_ref().is_none_or(|o| o.contains(&t.id)))
            .map(|t| t.id)
            .collect();
        // A rerun replaces what the launch had of the tests it ran: their old results
        // become hidden retries.
        for r in d.results.iter_mut().filter(|r| {
            r.launch_id == launch_id && only.as_ref().is_none_or(|o| o.contains(&r.test_case_id))
        }) {
            r.hidden = true;
        }
        d.add_results(launch_id, &cases, None, now);
        let failed = d.results.iter().any(|r| {
            r.launch_id == launch_id && !r.hidden && (r.status == "failed" || r.status == "broken")
        });
        if let Some(run) = d.job_runs.iter_mut().find(|r| r.id == run_id) {
            run.status = if failed { "failed" } else { "passed" }.into();
        }
    }
}
