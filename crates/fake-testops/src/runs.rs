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
                finished.push((run.id, run.launch_id));
            }
        } else if run.stage == "scheduled" && now >= finish_at - job_duration_ms * 2 / 3 {
            run.stage = "in_progress".into();
        }
    }
    for (run_id, launch_id) in finished {
        let Some(project_id) = d
            .launches
            .iter()
            .find(|l| l.id == launch_id)
            .map(|l| l.project_id)
        else {
            continue;
        };
        // A rerun replaces what the launch had: the old results become hidden retries.
        for r in d.results.iter_mut().filter(|r| r.launch_id == launch_id) {
            r.hidden = true;
        }
        let cases: Vec<i64> = d
            .test_cases
            .iter()
            .filter(|t| t.project_id == project_id && t.automated && !t.deleted)
            .map(|t| t.id)
            .collect();
        d.add_results(launch_id, &cases, None, now);
        let failed = d.results.iter().any(|r| {
            r.launch_id == launch_id && !r.hidden && (r.status == "failed" || r.status == "broken")
        });
        if let Some(run) = d.job_runs.iter_mut().find(|r| r.id == run_id) {
            run.status = if failed { "failed" } else { "passed" }.into();
        }
    }
}
