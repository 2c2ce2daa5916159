//! Why a tool call failed, phrased for the model: what happened and what to do next.

use crate::allure::{AllureClient, AllureError};

/// Why a tool call failed, phrased for the model: what happened and what to do next.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("Invalid arguments: {0}")]
    InvalidArgs(String),
    #[error("{what} not found. {hint}")]
    NotFound { what: String, hint: String },
    #[error("{}", describe_upstream(.0))]
    Upstream(#[from] AllureError),
    /// The entity exists, but a route below it answered 404: the instance has no such
    /// endpoint (another version), which no other id or retry will change.
    #[error(
        "{what} exists, but {source}: this Allure TestOps instance has no such endpoint. allure-mcp follows the Allure TestOps 26.1.1 API; the instance may run an older or newer version. Retrying will not help; tell the operator which call failed."
    )]
    NoEndpoint { what: String, source: AllureError },
    /// A call that needs the user's agreement did not get it: nothing was changed.
    #[error("{0}")]
    NotConfirmed(String),
    #[error("{0}")]
    Other(String),
}

/// The Allure TestOps things tools name by id, and where each one is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Project(i64),
    Launch(i64),
    TestResult(i64),
    TestCase(i64),
    TestPlan(i64),
    Defect(i64),
    Job(i64),
    JobRun(i64),
}

impl Subject {
    /// The entity's own route (`GET` reads it).
    pub fn path(self) -> String {
        match self {
            Subject::Project(id) => format!("/project/{id}"),
            Subject::Launch(id) => format!("/launch/{id}"),
            Subject::TestResult(id) => format!("/testresult/{id}"),
            Subject::TestCase(id) => format!("/testcase/{id}"),
            Subject::TestPlan(id) => format!("/testplan/{id}"),
            Subject::Defect(id) => format!("/defect/{id}"),
            Subject::Job(id) => format!("/job/{id}"),
            Subject::JobRun(id) => format!("/jobrun/{id}"),
        }
    }

    fn label(self) -> String {
        match self {
            Subject::Project(id) => format!("Project {id}"),
            Subject::Launch(id) => format!("Launch {id}"),
            Subject::TestResult(id) => format!("Test result {id}"),
            Subject::TestCase(id) => format!("Test case {id}"),
            Subject::TestPlan(id) => format!("Test plan {id}"),
            Subject::Defect(id) => format!("Defect {id}"),
            Subject::Job(id) => format!("CI job {id}"),
            Subject::JobRun(id) => format!("Job run {id}"),
        }
    }

    /// An error of the entity's own route: a 404 (for launches also a 403) says it is
    /// not there; anything else is passed on as the upstream said it.
    pub fn missing(self, err: AllureError) -> ToolError {
        let hint = match self {
            Subject::Project(id) => return ToolError::project_not_found(err, id),
            Subject::Launch(id) => return ToolError::launch_not_found(err, id),
            Subject::TestResult(id) => return ToolError::result_not_found(err, id),
            Subject::TestCase(id) => return ToolError::case_not_found(err, id),
            Subject::TestPlan(id) => return ToolError::plan_not_found(err, id),
            Subject::Defect(_) => "list_defects shows a project's defects.",
            Subject::Job(_) => "list_jobs shows the project's jobs.",
            Subject::JobRun(_) => "get_launch_job_runs shows a launch's job runs.",
        };
        ToolError::not_found(err, self.label(), hint)
    }
}

/// Why a call to a route below `entity` (`/testresult/5/mute`, `/analytic/3/…`) failed.
/// A 404 there does not prove the entity is missing: the instance may lack that endpoint;
/// nor does a 403 prove missing rights: Allure answers 403 for an unknown launch. One
/// read of the entity's own route tells which. Other errors are passed on as they are.
pub async fn below(client: &AllureClient, err: AllureError, entity: Subject) -> ToolError {
    let own = entity.path();
    let own_route = matches!(&err, AllureError::Status { path, .. } if *path == own);
    if own_route {
        return entity.missing(err);
    }
    if !matches!(err.status(), Some(403 | 404)) {
        return ToolError::Upstream(err);
    }
    match client.get::<serde::de::IgnoredAny>(&own, &[]).await {
        // It is there: the route below it is what is missing, or what is refused.
        Ok(_) if err.is_not_found() => ToolError::NoEndpoint {
            what: entity.label(),
            source: err,
        },
        Ok(_) => ToolError::Upstream(err),
        // Its own route says it is not there (or, for a launch, not readable).
        Err(again) if matches!(again.status(), Some(403 | 404)) => entity.missing(again),
        // The second read failed for its own reasons: the first answer stands.
        Err(_) => ToolError::Upstream(err),
    }
}

impl ToolError {
    /// An upstream 404 for a project id, with where to find the right one.
    pub fn project_not_found(err: AllureError, id: i64) -> ToolError {
        ToolError::not_found(
            err,
            format!("Project {id}"),
            "list_projects or find_project show existing projects.",
        )
    }

    /// An upstream 404 for a launch id, with where to find the right one. Allure TestOps
    /// answers 403, not 404, for a launch id that does not exist (its access check runs
    /// first): that is said as "may not exist" before "may not be yours to read".
    pub fn launch_not_found(err: AllureError, id: i64) -> ToolError {
        if matches!(err, AllureError::Status { status: 403, .. }) {
            return ToolError::Other(format!(
                "Launch {id} not found, or not readable with this token (Allure TestOps answers 403 for both). list_launches shows the launches of a project you can read; if the launch does exist, ask a TestOps admin for access to its project."
            ));
        }
        ToolError::not_found(
            err,
            format!("Launch {id}"),
            "list_launches shows a project's recent launches.",
        )
    }

    /// An upstream 404 for a test result id.
    pub fn result_not_found(err: AllureError, id: i64) -> ToolError {
        ToolError::not_found(
            err,
            format!("Test result {id}"),
            "list_test_results shows the results of a launch.",
        )
    }

    /// An upstream 404 for a test case id.
    pub fn case_not_found(err: AllureError, id: i64) -> ToolError {
        ToolError::not_found(
            err,
            format!("Test case {id}"),
            "list_test_cases or search_test_cases show a project's test cases.",
        )
    }

    /// An upstream 404 for a test plan id.
    pub fn plan_not_found(err: AllureError, id: i64) -> ToolError {
        ToolError::not_found(
            err,
            format!("Test plan {id}"),
            "list_test_plans shows the project's plans.",
        )
    }

    /// Turns an upstream 404 into a `NotFound` that names the thing and where to look.
    pub fn not_found(
        err: AllureError,
        what: impl Into<String>,
        hint: impl Into<String>,
    ) -> ToolError {
        if err.is_not_found() {
            ToolError::NotFound {
                what: what.into(),
                hint: hint.into(),
            }
        } else {
            ToolError::Upstream(err)
        }
    }
}

impl ToolError {
    /// The advice when the call spoke with the caller's own Allure token: a refused
    /// credential or a missing right is then the caller's to fix, not the operator's.
    pub fn for_callers_token(&self) -> Option<String> {
        let ToolError::Upstream(e) = self else {
            return None;
        };
        match e {
            AllureError::Status { status: 401, .. } => Some(format!(
                "Allure TestOps rejected your own Allure token, the one your client sends in X-Allure-Token ({e}). It may be revoked or expired: make a new one in TestOps (profile → API tokens) and configure your client with it. Retrying will not help."
            )),
            AllureError::Auth(_) => Some(format!(
                "Could not sign in to Allure TestOps with your own Allure token, the one your client sends in X-Allure-Token: {e}. Make a new one in TestOps (profile → API tokens) and configure your client with it. Retrying will not help."
            )),
            AllureError::Status { status: 403, .. } => Some(format!(
                "Allure TestOps refused access ({e}). The TestOps user whose token your client sends lacks the rights for this project or action; ask a TestOps admin, or work in another project."
            )),
            _ => None,
        }
    }
}

/// Maps `AllureError`s to advice a model can act on.
fn describe_upstream(e: &AllureError) -> String {
    match e {
        AllureError::Status { status: 401, .. } => format!(
            "Allure TestOps rejected the credentials ({e}). The API token may be revoked or expired; the operator must configure a new ALLURE_TOKEN. Retrying will not help."
        ),
        AllureError::Status { status: 403, .. } => format!(
            "Allure TestOps refused access ({e}). The API token's user lacks the rights for this project or action; ask a TestOps admin, or work in another project."
        ),
        AllureError::Status { status: 404, .. } => format!(
            "Not found ({e}). Check the id: the list_* and find_* tools show existing ones."
        ),
        AllureError::Status {
            status: 400 | 409 | 422,
            ..
        } => format!(
            "Allure TestOps rejected the request ({e}). Check the arguments and call again."
        ),
        AllureError::Status {
            status: 429,
            retry_after,
            ..
        } => format!(
            "Allure TestOps is rate limiting ({e}). Wait {} seconds, then retry.",
            retry_after.unwrap_or(30)
        ),
        AllureError::Status { status, .. } if *status >= 500 => format!(
            "Allure TestOps failed ({e}). This is usually temporary: retry in a minute; if it persists, the instance needs attention."
        ),
        AllureError::Status { .. } => format!("Allure TestOps answered unexpectedly ({e})."),
        AllureError::Timeout { .. } => format!(
            "Allure TestOps did not answer in time ({e}). Retry later, or ask for less (a smaller page size)."
        ),
        AllureError::Transport { .. } => format!(
            "Could not reach Allure TestOps ({e}). Check that the instance is up and reachable; retry later."
        ),
        AllureError::Decode { .. } => format!(
            "Allure TestOps answered in a shape this server does not understand ({e}). The instance may run an unsupported version; retrying will not help."
        ),
        AllureError::Auth(_) => format!(
            "Could not authenticate to Allure TestOps: {e}. The operator must fix what this names; retrying will not help."
        ),
        AllureError::Setup(_) => format!(
            "The server cannot reach Allure TestOps as configured: {e}. The operator must fix the configuration."
        ),
        AllureError::TooLarge { .. } => format!(
            "The answer of Allure TestOps was too large to read ({e}). Ask for less: a smaller page size or a narrower filter."
        ),
        AllureError::OutsideApi { .. } => format!(
            "Refused: {e}. Give a plain API path such as /launch/1 (no '.' or '..' segments)."
        ),
    }
}
