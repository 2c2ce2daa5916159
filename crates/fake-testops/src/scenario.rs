//! A test case's scenario as Allure TestOps keeps it (`NormalizedScenarioDto`): steps by
//! id, the root's children in order, each step's own children. An expected result is
//! not a field of its step: `expectedResultId` names a container node (its body a
//! placeholder) whose children are the expected result's text, as public clients read
//! and write real instances (lucius-mcp, allure-testops-utils; docs/allure-api.md).

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// What the UI shows in an expected-result container; the text is in its children.
pub const CONTAINER_BODY: &str = "Expected Result";

#[derive(Debug, Clone, Default)]
pub struct ScenarioRec {
    pub root: Vec<i64>,
    pub nodes: BTreeMap<i64, NodeRec>,
    /// The case's id, the base of its node ids (`case * 1000 + n`).
    pub base: i64,
}

#[derive(Debug, Clone)]
pub struct NodeRec {
    pub body: String,
    pub children: Vec<i64>,
    pub expected_result_id: Option<i64>,
    /// Whether this node is an expected-result container.
    pub container: bool,
}

/// Where a new step goes among its siblings.
pub enum Place {
    End,
    After(i64),
    Before(i64),
}

impl ScenarioRec {
    pub fn new(case: i64) -> Self {
        ScenarioRec {
            base: case * 1000,
            ..ScenarioRec::default()
        }
    }

    /// Top-level steps, each with an optional expected result.
    pub fn seeded(case: i64, steps: &[(String, Option<&str>)]) -> Self {
        let mut s = ScenarioRec::new(case);
        for (body, expected) in steps {
            let Ok(id) = s.add(None, body, Place::End, expected.is_some()) else {
                continue;
            };
            if let (Some(e), Some(c)) = (expected, s.nodes[&id].expected_result_id) {
                let _ = s.add(Some(c), e, Place::End, false);
            }
        }
        s
    }

    fn next_id(&self) -> i64 {
        self.nodes.keys().max().map_or(self.base + 1, |m| m + 1)
    }

    /// Adds a step under `parent` (the root when `None`; an expected-result container
    /// makes it part of that expected result); `Err` says what is wrong.
    pub fn add(
        &mut self,
        parent: Option<i64>,
        body: &str,
        place: Place,
        with_expected: bool,
    ) -> Result<i64, String> {
        let id = self.next_id();
        let siblings = match parent {
            None => &mut self.root,
            Some(p) => match self.nodes.get_mut(&p) {
                Some(n) => &mut n.children,
                None => return Err(format!("Scenario step with id {p} not found")),
            },
        };
        let at = match place {
            Place::End => siblings.len(),
            Place::After(a) => match siblings.iter().position(|x| *x == a) {
                Some(i) => i + 1,
                None => return Err(format!("Step {a} is not a sibling of the new step")),
            },
            Place::Before(b) => match siblings.iter().position(|x| *x == b) {
                Some(i) => i,
                None => return Err(format!("Step {b} is not a sibling of the new step")),
            },
        };
        siblings.insert(at, id);
        let mut node = NodeRec {
            body: body.to_owned(),
            children: vec![],
            expected_result_id: None,
            container: false,
        };
        if with_expected {
            let c = id + 1;
            node.expected_result_id = Some(c);
            self.nodes.insert(id, node);
            self.nodes.insert(
                c,
                NodeRec {
                    body: CONTAINER_BODY.into(),
                    children: vec![],
                    expected_result_id: None,
                    container: true,
                },
            );
        } else {
            self.nodes.insert(id, node);
        }
        Ok(id)
    }

    /// `NormalizedScenarioDto`, keys as strings.
    pub fn normalized(&self, case: i64) -> Value {
        let mut steps = serde_json::Map::new();
        for (id, n) in &self.nodes {
            let mut v =
                json!({"id": id, "body": n.body, "children": n.children, "testCaseId": case});
            if let Some(e) = n.expected_result_id {
                v["expectedResultId"] = json!(e);
            }
            steps.insert(id.to_string(), v);
        }
        json!({"root": {"children": self.root}, "scenarioSteps": steps, "attachments": {}, "sharedSteps": {}})
    }

    /// The top-level step bodies with their expected results' text, for tests.
    pub fn outline(&self) -> Vec<(String, Option<String>)> {
        self.root
            .iter()
            .filter_map(|id| self.nodes.get(id))
            .map(|n| {
                let expected = n
                    .expected_result_id
                    .and_then(|c| self.nodes.get(&c))
                    .map(|c| {
                        c.children
                            .iter()
                            .filter_map(|x| self.nodes.get(x))
                            .map(|x| x.body.clone())
                            .collect::<Vec<_>>()
                            .join("\n")
                    });
                (n.body.clone(), expected)
            })
            .collect()
    }
}
