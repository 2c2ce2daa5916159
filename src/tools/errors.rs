//! Why a tool call failed, phrased for the model: what happened and what to do next.

use crate::allure::AllureError;

/// Why a tool call failed, phrased for the model: what happened and what to do next.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("Invalid arguments: {0}")]
    InvalidArgs(String),
    #[error("{what} not found. {hint}")]
    NotFound { what: String, hint: String },
    #[error("{}", describe_upstream(.0))]
    Upstream(#[from] AllureError),
    #[error("{0}")]
    Other(String),
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
            "Could not authenticate to Allure TestOps: {e}. Retrying will not help until the token is fixed."
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
