//! What a client that reads only a result's text gets: the text is a summary for people,
//! not the structured content serialised, and it must still carry every id and link a
//! model needs to go on (README, "Results: text and structured content").

use crate::common::{InProcess, is_error, text};

use fake_testops::FakeTestOps;
use serde_json::{Value, json};

/// Ids (under `id` or `…_id`) and links (under `url` or `…_url`, or `link`) anywhere in a
/// structured answer, with where they were found.
fn ids_and_links(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let here = format!("{at}.{k}");
                let is_id = k == "id" || k.ends_with("_id");
                let is_link = k == "url" || k == "link" || k.ends_with("_url");
                match x {
                    Value::Number(n) if is_id => out.push((here, n.to_string())),
                    Value::String(s) if is_link => out.push((here, s.clone())),
                    _ => ids_and_links(x, &here, out),
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                ids_and_links(x, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Whether `text` has `value` as a whole: not inside a longer number or word (id 1 is
/// not mentioned by "12" or "v1").
fn mentions(text: &str, value: &str) -> bool {
    let part = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    text.match_indices(value).any(|(i, _)| {
        !part(text[..i].chars().next_back()) && !part(text[i + value.len()..].chars().next())
    })
}

/// Real ids of the demo data, by argument name: each read tool is called with ones that
/// exist, so it answers with content rather than a refusal.
fn real_ids(fake: &FakeTestOps) -> serde_json::Map<String, Value> {
    fake.with_data(|d| {
        let launch = d
            .launches
            .iter()
            .filter(|l| l.project_id == 1)
            .map(|l| l.id)
            .max()
            .unwrap();
        let earlier = d
            .launches
            .iter()
            .filter(|l| l.project_id == 1 && l.id < launch)
            .map(|l| l.id)
            .max()
            .unwrap();
        let result = d
            .results
            .iter()
            .find(|r| r.launch_id == launch && r.status == "failed")
            .or_else(|| d.results.iter().find(|r| r.launch_id == launch))
            .unwrap();
        let job = d.jobs.iter().find(|j| j.project_id == 1).unwrap().id;
        let mut ids = json!({
            "project_id": 1,
            "launch_id": launch,
            "from_launch_id": earlier,
            "to_launch_id": launch,
            "test_result_id": result.id,
            "test_case_id": result.test_case_id,
            "job_id": job,
        });
        if let Some(run) = d.job_runs.first() {
            ids["job_run_id"] = json!(run.id);
        }
        if let Some(plan) = d.test_plans.iter().find(|p| p.project_id == 1) {
            ids["test_plan_id"] = json!(plan.id);
        }
        if let Some(defect) = d.defects.iter().find(|x| x.project_id == 1) {
            ids["defect_id"] = json!(defect.id);
        }
        ids.as_object().unwrap().clone()
    })
}

#[tokio::test]
async fn a_client_that_reads_only_text_gets_every_id_and_link() {
    let fake = FakeTestOps::start().await.unwrap();
    let s = InProcess::against(
        &fake,
        &[
            ("ALLURE_PROJECT_ID", "1"),
            ("ALLURE_DYNAMIC_TOOLSETS", "false"),
        ],
    )
    .await;
    let ids = real_ids(&fake);
    let tools = s.client.list_all_tools().await.unwrap();
    let mut missing = Vec::new();
    let mut checked = 0;
    for tool in tools
        .iter()
        .filter(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true))
    {
        let mut args = crate::prism::arguments(tool);
        for (k, v) in args.as_object_mut().unwrap() {
            if let Some(real) = ids.get(k) {
                *v = real.clone();
            }
        }
        if tool.name == "wait_for_launch" {
            args["timeout_s"] = json!(1);
        }
        let r = s.call(&tool.name, args.clone()).await;
        if is_error(&r) {
            continue;
        }
        checked += 1;
        let t = text(&r);
        let mut found = Vec::new();
        ids_and_links(r.structured_content.as_ref().unwrap(), "", &mut found);
        // `Links: …/{id}` stands for the links of a list's rows.
        let patterns: Vec<(&str, &str)> = t
            .lines()
            .filter_map(|l| l.strip_prefix("Links: ")?.split_once("{id}"))
            .collect();
        let by_pattern = |link: &str| {
            patterns.iter().any(|(head, tail)| {
                link.strip_prefix(head)
                    .and_then(|rest| rest.strip_suffix(tail))
                    .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
            })
        };
        for (at, value) in found {
            if !mentions(&t, &value) && !by_pattern(&value) {
                missing.push(format!("{} {args}: {at} = {value}", tool.name));
            }
        }
    }
    assert!(checked >= 25, "only {checked} read tools answered");
    // Every answer above was also checked against its output schema (`common::call_tool`);
    // that check finds a null where the schema has none.
    let get_project = tools.iter().find(|t| t.name == "get_project").unwrap();
    let schema = Value::Object((**get_project.output_schema.as_ref().unwrap()).clone());
    assert!(!crate::common::fits(&schema, &json!({"id": 1, "name": null})).is_empty());
    assert!(
        missing.is_empty(),
        "{} ids or links only in structured content:\n{}",
        missing.len(),
        missing.join("\n")
    );
    s.stop().await;
}
