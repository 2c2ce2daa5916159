//! Test case scenarios: reading `NormalizedScenarioDto` into nested steps with their
//! expected results, and writing steps one by one as public clients do against real
//! instances. An expected result is the children of a container step the step's
//! `expectedResultId` names (its own body a placeholder), and steps are created with
//! `POST /testcase/step?withExpectedResult=true`, then the expected text as a child of
//! the container (docs/allure-api.md, "Scenarios").

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::render::cut;
use super::{Access, Ctx, Meta, Render, Subject, ToolDef, ToolError, Toolset, positive_id, tool};
use crate::allure::model::{Scenario, ScenarioStep, StepCreated, TestCase};

/// The body TestOps gives an expected-result container; the text is in its children.
const CONTAINER_PLACEHOLDER: &str = "Expected Result";

/// Most steps read or written at once.
pub const MAX_STEPS: usize = 200;

/// A step of a test case, with the steps nested in it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StepView {
    pub id: i64,
    pub action: String,
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepView>,
}

/// A step to write: an action, its expected result, and steps nested in it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct StepInput {
    /// What to do.
    pub action: String,
    /// What should happen.
    pub expected: Option<String>,
    /// Sub-steps of this step.
    pub steps: Option<Vec<StepInput>>,
}

/// The expected result of `step`: its inline `expectedResult`, else the text of its
/// container's children, else the container's own body unless that is the placeholder.
fn expected_of(sc: &Scenario, step: &ScenarioStep) -> Option<String> {
    if let Some(e) = step
        .expected_result
        .as_deref()
        .filter(|e| !e.trim().is_empty())
    {
        return Some(e.to_owned());
    }
    let container = sc
        .scenario_steps
        .get(&step.expected_result_id?.to_string())?;
    let texts: Vec<&str> = container
        .children
        .iter()
        .filter_map(|c| sc.scenario_steps.get(&c.to_string()))
        .filter_map(|c| c.body.as_deref())
        .filter(|b| !b.trim().is_empty())
        .collect();
    if !texts.is_empty() {
        return Some(texts.join("\n"));
    }
    container
        .body
        .as_deref()
        .filter(|b| !b.trim().is_empty() && !b.eq_ignore_ascii_case(CONTAINER_PLACEHOLDER))
        .map(str::to_owned)
}

/// The scenario as nested steps, in order; at most [`MAX_STEPS`] of them, and nothing
/// visited twice (a malformed scenario that loops cannot hang a call).
pub fn nested(sc: &Scenario) -> Vec<StepView> {
    let mut seen = std::collections::HashSet::new();
    let root = sc
        .root
        .as_ref()
        .map(|r| r.children.clone())
        .unwrap_or_default();
    level(sc, &root, &mut seen)
}

fn level(sc: &Scenario, ids: &[i64], seen: &mut std::collections::HashSet<i64>) -> Vec<StepView> {
    let mut out = Vec::new();
    for id in ids {
        if seen.len() >= MAX_STEPS || !seen.insert(*id) {
            continue;
        }
        let Some(st) = sc.scenario_steps.get(&id.to_string()) else {
            continue;
        };
        out.push(StepView {
            id: *id,
            action: cut(st.body.as_deref().unwrap_or(""), 500, "the step is long"),
            expected: expected_of(sc, st),
            steps: level(sc, &st.children, seen),
        });
    }
    out
}

/// Steps flattened in reading order, for the compact view of `get_test_case`.
pub fn flattened(steps: &[StepView]) -> Vec<(String, &StepView)> {
    fn walk<'a>(steps: &'a [StepView], prefix: &str, out: &mut Vec<(String, &'a StepView)>) {
        for (i, s) in steps.iter().enumerate() {
            let number = format!("{prefix}{}", i + 1);
            out.push((number.clone(), s));
            walk(&s.steps, &format!("{number}."), out);
        }
    }
    let mut out = Vec::new();
    walk(steps, "", &mut out);
    out
}

/// Checks steps to write before anything is sent: texts present and not absurd, and
/// not more than [`MAX_STEPS`] in all.
pub fn check_steps(steps: &[StepInput]) -> Result<usize, ToolError> {
    fn count(steps: &[StepInput], depth: usize) -> Result<usize, ToolError> {
        if depth > 5 {
            return Err(ToolError::InvalidArgs(
                "steps nest more than 5 levels deep".into(),
            ));
        }
        let mut n = 0;
        for s in steps {
            if s.action.trim().is_empty() {
                return Err(ToolError::InvalidArgs("every step needs an action".into()));
            }
            if s.action.len() > 10_000 || s.expected.as_deref().is_some_and(|e| e.len() > 10_000) {
                return Err(ToolError::InvalidArgs(
                    "a step's action or expected result is over 10000 characters".into(),
                ));
            }
            n += 1 + count(s.steps.as_deref().unwrap_or(&[]), depth + 1)?;
        }
        Ok(n)
    }
    let n = count(steps, 0)?;
    if n > MAX_STEPS {
        return Err(ToolError::InvalidArgs(format!(
            "{n} steps; at most {MAX_STEPS} at once"
        )));
    }
    Ok(n)
}

/// Writes `steps` under `parent` (the top level when `None`) after the existing steps,
/// counting each written step in `written`. The first failure ends it; what was written
/// stays, and the caller says how far it got.
pub fn write_steps<'a>(
    ctx: &'a Ctx,
    case: i64,
    parent: Option<i64>,
    steps: &'a [StepInput],
    written: &'a mut usize,
) -> futures::future::BoxFuture<'a, Result<(), ToolError>> {
    Box::pin(async move {
        let mut previous: Option<i64> = None;
        for s in steps {
            let expected = s
                .expected
                .as_deref()
                .map(str::trim)
                .filter(|e| !e.is_empty());
            let mut query = vec![("withExpectedResult", expected.is_some().to_string())];
            if let Some(p) = previous {
                query.push(("afterId", p.to_string()));
            }
            let mut body = json!({"testCaseId": case, "body": s.action.trim()});
            if let Some(p) = parent {
                body["parentId"] = json!(p);
            }
            let created: StepCreated = ctx
                .client
                .post_query("/testcase/step", &query, body)
                .await?;
            *written += 1;
            let id = created.created_step_id.ok_or_else(|| {
                ToolError::Other(
                    "Allure TestOps answered the step's creation without its id".into(),
                )
            })?;
            if let Some(e) = expected {
                let container = created
                    .scenario
                    .as_ref()
                    .and_then(|sc| sc.scenario_steps.get(&id.to_string()))
                    .and_then(|st| st.expected_result_id)
                    .ok_or_else(|| {
                        ToolError::Other(format!(
                            "Allure TestOps created step {id} but gave it no expected-result container, so its expected result was not written"
                        ))
                    })?;
                let _: StepCreated = ctx
                    .client
                    .post_query(
                        "/testcase/step",
                        &[],
                        json!({"testCaseId": case, "parentId": container, "body": e}),
                    )
                    .await?;
            }
            if let Some(children) = s.steps.as_deref().filter(|c| !c.is_empty()) {
                write_steps(ctx, case, Some(id), children, written).await?;
            }
            previous = Some(id);
        }
        Ok(())
    })
}

/// Replaces a test case's steps: the old scenario is deleted, then `steps` written.
/// A failure part way says how many of `total` were written.
pub async fn replace_steps(
    ctx: &Ctx,
    case: i64,
    steps: &[StepInput],
    total: usize,
    clear_first: bool,
) -> Result<(), ToolError> {
    if clear_first {
        let answer = ctx
            .client
            .delete(&format!("/testcase/{case}/scenario"))
            .await;
        ctx.explain(Subject::TestCase(case), answer).await?;
    }
    let mut written = 0;
    write_steps(ctx, case, None, steps, &mut written)
        .await
        .map_err(|e| {
            ToolError::Other(format!(
                "{e}. Test case #{case} has {written} of its {total} new steps; call update_test_case with manual_scenario to write them all again"
            ))
        })
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ScenarioArgs {
    /// Test case id (list_test_cases or search_test_cases show ids).
    pub test_case_id: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ScenarioView {
    pub test_case_id: i64,
    pub name: String,
    pub precondition: Option<String>,
    pub expected_result: Option<String>,
    pub steps: Vec<StepView>,
    pub url: String,
}

impl Render for ScenarioView {
    fn text(&self) -> String {
        let mut s = format!(
            "Scenario of test case #{} {}\n",
            self.test_case_id, self.name
        );
        if let Some(p) = &self.precondition {
            s.push_str(&format!("precondition: {p}\n"));
        }
        for (number, st) in flattened(&self.steps) {
            s.push_str(&format!("{number}. {} [step {}]", st.action, st.id));
            if let Some(e) = &st.expected {
                s.push_str(&format!(" → {e}"));
            }
            s.push('\n');
        }
        if self.steps.is_empty() {
            s.push_str("(no steps)\n");
        }
        if let Some(e) = &self.expected_result {
            s.push_str(&format!("expected result: {e}\n"));
        }
        s.push_str(&self.url);
        s
    }
}

pub fn tools() -> Vec<ToolDef> {
    vec![tool(GET_TEST_CASE_SCENARIO, get_test_case_scenario)]
}

const GET_TEST_CASE_SCENARIO: Meta = Meta {
    name: "get_test_case_scenario",
    toolset: Toolset::Testcases,
    title: "Get a test case's scenario",
    description: "A test case's steps as a tree (step ids, actions, expected results, sub-steps), with its precondition. update_test_case(manual_scenario) replaces them.",
    access: Access::Read,
};

/// A test case and its steps as a tree, read together.
pub async fn read_case(ctx: &Ctx, id: i64) -> Result<(TestCase, Vec<StepView>), ToolError> {
    let id = positive_id("test_case_id", id, "list_test_cases shows ids")?;
    let (tp, sp) = (format!("/testcase/{id}"), format!("/testcase/{id}/step"));
    let (tc, sc) = tokio::join!(
        ctx.client.get::<TestCase>(&tp, &[]),
        ctx.client.get::<Option<Scenario>>(&sp, &[])
    );
    let tc = tc.map_err(|e| ToolError::case_not_found(e, id))?;
    let steps = ctx
        .explain(Subject::TestCase(id), sc)
        .await?
        .map(|s| nested(&s))
        .unwrap_or_default();
    Ok((tc, steps))
}

async fn get_test_case_scenario(ctx: Ctx, a: ScenarioArgs) -> Result<ScenarioView, ToolError> {
    let (tc, steps) = read_case(&ctx, a.test_case_id).await?;
    Ok(ScenarioView {
        url: super::testcases::case_url(&ctx, tc.project_id, tc.id),
        test_case_id: tc.id,
        name: tc.name,
        precondition: tc.precondition.filter(|p| !p.is_empty()),
        expected_result: tc.expected_result.filter(|e| !e.is_empty()),
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(v: serde_json::Value) -> Scenario {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn an_expected_result_is_read_from_wherever_the_instance_put_it() {
        let sc = scenario(
            json!({"root": {"children": [1, 2, 3, 4]}, "scenarioSteps": {
                // As real instances write it: the text in the container's children.
                "1": {"id": 1, "body": "a", "expectedResultId": 10},
                "10": {"id": 10, "body": "Expected Result", "children": [11, 12]},
                "11": {"id": 11, "body": "shown"}, "12": {"id": 12, "body": "saved"},
                // Inline.
                "2": {"id": 2, "body": "b", "expectedResult": "inline"},
                // In the container's own body (no children).
                "3": {"id": 3, "body": "c", "expectedResultId": 30},
                "30": {"id": 30, "body": "own body"},
                // An empty container: no expected result, not its placeholder.
                "4": {"id": 4, "body": "d", "expectedResultId": 40},
                "40": {"id": 40, "body": "Expected Result", "children": []}
            }}),
        );
        let steps = nested(&sc);
        let expected: Vec<Option<&str>> = steps.iter().map(|s| s.expected.as_deref()).collect();
        assert_eq!(
            expected,
            [Some("shown\nsaved"), Some("inline"), Some("own body"), None]
        );
        // Containers are not steps.
        assert_eq!(steps.len(), 4);
        assert!(steps.iter().all(|s| s.steps.is_empty()));
    }

    #[test]
    fn a_scenario_that_loops_is_read_once() {
        let sc = scenario(json!({"root": {"children": [1]}, "scenarioSteps": {
            "1": {"id": 1, "body": "a", "children": [2]},
            "2": {"id": 2, "body": "b", "children": [1]}
        }}));
        let steps = nested(&sc);
        assert_eq!(flattened(&steps).len(), 2);
    }
}
