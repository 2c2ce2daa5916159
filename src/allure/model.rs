//! The parts of Allure TestOps' JSON we read. Every field is optional or defaulted:
//! instances differ by version, and a missing field must not fail a whole call.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
// A field Allure sends as `null` reads as its default, like a missing one: the
// description allows `null` nowhere, but Jackson writes it unless told otherwise.
use serde_aux::field_attributes::deserialize_default_from_null as null_as_default;

/// A test result's status (`TestStatus` upstream, sent in lowercase). Upstream is read
/// leniently: in any case, and a status this server does not know is `unknown` rather
/// than a failed call. Answers say it in lowercase, as upstream does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
// Inline, so that a field's schema stays a string and only gains its `enum` list.
#[schemars(inline)]
pub enum TestStatus {
    Failed,
    Broken,
    Passed,
    Skipped,
    Unknown,
}

impl TestStatus {
    /// Every status, in the order the API lists them.
    pub const ALL: [TestStatus; 5] = [
        TestStatus::Failed,
        TestStatus::Broken,
        TestStatus::Passed,
        TestStatus::Skipped,
        TestStatus::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Failed => "failed",
            TestStatus::Broken => "broken",
            TestStatus::Passed => "passed",
            TestStatus::Skipped => "skipped",
            TestStatus::Unknown => "unknown",
        }
    }

    /// The status of exactly this (lowercase) name.
    pub fn from_name(name: &str) -> Option<TestStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Failed or broken: the statuses that count as a failure.
    pub fn is_failing(self) -> bool {
        matches!(self, TestStatus::Failed | TestStatus::Broken)
    }
}

impl fmt::Display for TestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TestStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(TestStatus::from_name(&name.to_ascii_lowercase()).unwrap_or(TestStatus::Unknown))
    }
}

/// What `GET /api/job` answers: the description declares `oneOf JobDto | PageJobDto`
/// (two handlers share the route: by `externalId`, one job; by project, a page).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum JobsAnswer {
    Page(Page<Job>),
    One(Job),
}

impl JobsAnswer {
    /// The answer as a page: a single job is a page of one.
    pub fn into_page(self) -> Page<Job> {
        match self {
            JobsAnswer::Page(p) => p,
            JobsAnswer::One(j) => Page {
                content: vec![j],
                total_elements: 1,
                total_pages: 1,
                number: 0,
                size: 1,
            },
        }
    }
}

/// A Spring Data page, as every Allure list endpoint returns it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// Required: an answer without it is not a page (a proxy's error page, another API).
    pub content: Vec<T>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub total_elements: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub total_pages: i64,
    /// 0-based page number.
    #[serde(default, deserialize_with = "null_as_default")]
    pub number: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub size: i64,
}

impl<T> Page<T> {
    /// Whether the server says a page after this one exists (`number`, `totalPages`).
    pub fn claims_more(&self) -> bool {
        self.number + 1 < self.total_pages
    }

    /// Whether asking for the next page makes sense: the server says there is one, this
    /// page is a real (non-negative) page, and it is not empty. An empty page ends a read
    /// whatever `totalPages` says, so a wrong count cannot make a reader loop.
    pub fn has_more(&self) -> bool {
        self.number >= 0 && self.claims_more() && !self.content.is_empty()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub abbr: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub is_public: Option<bool>,
    #[serde(default)]
    pub favorite: Option<bool>,
    #[serde(default)]
    pub created_date: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectStats {
    #[serde(default)]
    pub automated_test_cases: Option<i64>,
    #[serde(default)]
    pub manual_test_cases: Option<i64>,
    #[serde(default)]
    pub automation_percent: Option<f64>,
    #[serde(default)]
    pub launches: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct StatusCount {
    #[serde(default)]
    pub status: Option<TestStatus>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub count: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct IdName {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ExternalLink {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRun {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub launch_id: Option<i64>,
    #[serde(default)]
    pub job: Option<IdName>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub created_date: Option<i64>,
}

/// A launch as `GET /api/launch` (preview, with statistic) or `GET /api/launch/{id}` gives it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Launch {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub project_id: Option<i64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub closed: bool,
    #[serde(default)]
    pub created_date: Option<i64>,
    #[serde(default)]
    pub last_modified_date: Option<i64>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<IdName>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub links: Vec<ExternalLink>,
    #[serde(default)]
    pub statistic: Option<Vec<StatusCount>>,
    #[serde(default)]
    pub jobs: Option<Vec<JobRun>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LaunchProgress {
    #[serde(default)]
    pub ready: Option<bool>,
}

/// `TestResultDto` (from `GET /testresult/{id}` and `GET /testresult?launchId=`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub status: Option<TestStatus>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub trace: Option<String>,
    #[serde(default)]
    pub launch_id: Option<i64>,
    #[serde(default)]
    pub project_id: Option<i64>,
    #[serde(default)]
    pub test_case_id: Option<i64>,
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub muted: Option<bool>,
    #[serde(default)]
    pub known: Option<bool>,
    #[serde(default)]
    pub flaky: Option<bool>,
    #[serde(default)]
    pub duration: Option<i64>,
    #[serde(default)]
    pub start: Option<i64>,
    #[serde(default)]
    pub created_date: Option<i64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<IdName>,
}

/// `TestResultRowDto` (from `__search`, bulk answers and defect links).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResultRow {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub status: Option<TestStatus>,
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub duration: Option<i64>,
    #[serde(default)]
    pub test_case_id: Option<i64>,
}

/// `TestResultHistoryDto`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub id: i64,
    #[serde(default)]
    pub status: Option<TestStatus>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub created_date: Option<i64>,
    #[serde(default)]
    pub duration: Option<i64>,
    #[serde(default)]
    pub launch: Option<IdName>,
}

/// `AttachmentRow`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentRow {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub content_length: Option<i64>,
}

/// One step of `TestResultScenarioV2Dto` (body, expected-body or attachment step).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionStep {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub status: Option<TestStatus>,
    #[serde(default)]
    pub duration: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub attachment_id: Option<i64>,
    #[serde(default)]
    pub attachment: Option<AttachmentRow>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub steps: Vec<ExecutionStep>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
pub struct Execution {
    #[serde(default, deserialize_with = "null_as_default")]
    pub steps: Vec<ExecutionStep>,
}

/// `TestCaseDto` / `TestCaseRowDto` (the row has fewer fields; all are optional here).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestCase {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub project_id: Option<i64>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub precondition: Option<String>,
    #[serde(default)]
    pub expected_result: Option<String>,
    #[serde(default)]
    pub automated: Option<bool>,
    #[serde(default)]
    pub deleted: Option<bool>,
    #[serde(default)]
    pub status: Option<IdName>,
    #[serde(default)]
    pub workflow: Option<IdName>,
    /// `testLayer` in `TestCaseDto` and `TestCaseRowDto` (API description 26.1.1).
    #[serde(default, rename = "testLayer")]
    pub layer: Option<IdName>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<IdName>,
    #[serde(default)]
    pub created_date: Option<i64>,
    #[serde(default)]
    pub last_modified_date: Option<i64>,
}

/// `NormalizedScenarioStepDto`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioStep {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub expected_result_id: Option<i64>,
    /// The expected result inline, where an instance sends it so; usually it is the
    /// children of the container `expected_result_id` names.
    #[serde(default)]
    pub expected_result: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub children: Vec<i64>,
}

/// `NormalizedScenarioDto`: the root's children are step ids, steps are keyed by id.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Scenario {
    #[serde(default)]
    pub root: Option<ScenarioStep>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub scenario_steps: std::collections::HashMap<String, ScenarioStep>,
}

/// `ScenarioStepCreatedResponseDto`: the new step's id and the scenario after it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepCreated {
    #[serde(default)]
    pub created_step_id: Option<i64>,
    #[serde(default)]
    pub scenario: Option<Scenario>,
}

/// `TestPlanDto`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestPlan {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub project_id: Option<i64>,
    #[serde(default)]
    pub test_cases_count: Option<i64>,
    #[serde(default)]
    pub created_date: Option<i64>,
    #[serde(default)]
    pub created_by: Option<String>,
    /// The AQL the plan's test cases are chosen from.
    #[serde(default)]
    pub base_rql: Option<String>,
    #[serde(default)]
    pub tree_selection: Option<TreeSelection>,
}

/// `TreeSelectionDto`: which test cases of a tree (here, a plan's base AQL) are chosen:
/// `leafs_include` unless `inverted`, else all but `leafs_exclude`. Groups and path are
/// kept as read, so a change of leaves leaves them as they were.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeSelection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inverted: Option<bool>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub leafs_include: Vec<i64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub leafs_exclude: Vec<i64>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub groups_include: Vec<Vec<i64>>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub groups_exclude: Vec<Vec<i64>>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub path: Vec<i64>,
}

/// `TestCaseTreeLeafDto`: a test case as a tree (a plan's) lists it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanLeaf {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub automated: Option<bool>,
    #[serde(default)]
    pub status_name: Option<String>,
    #[serde(default)]
    pub layer_name: Option<String>,
}

/// `DefectOverviewDto` / `DefectCountRowDto`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Defect {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub closed: Option<bool>,
    #[serde(default)]
    pub project_id: Option<i64>,
    #[serde(default)]
    pub count: Option<i64>,
    #[serde(default)]
    pub created_date: Option<i64>,
    /// The issue tracker key it is linked to.
    #[serde(default)]
    pub issue: Option<Issue>,
}

/// `IssueDto`: an issue tracker key linked to a defect.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub integration_id: Option<i64>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// `DefectMatcherDto`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DefectMatcher {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub defect_id: Option<i64>,
    #[serde(default)]
    pub message_regex: Option<String>,
    #[serde(default)]
    pub trace_regex: Option<String>,
}

/// `ProjectIntegrationDto`: an integration (issue tracker, CI) connected to a project.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectIntegration {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default)]
    pub info: Option<IntegrationInfo>,
}

/// `IntegrationInfoDto`, as far as it is read: what kind of system it is and what it
/// can do (`issue_sync`, `job_run`…).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct IntegrationInfo {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub operations: Vec<String>,
}

/// `UserAccount` (`GET /api/account/me`): the token's own user.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub username: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// Instance-wide roles, e.g. `ROLE_ADMIN`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub authorities: Vec<String>,
}

/// `UserSuggestDto` (`GET /api/user/suggest`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub username: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

/// A person's name as the UI shows it, when the account has one.
pub fn full_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let name = [first, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty()).then_some(name)
}

/// `CustomFieldProjectDto`: a custom field as a project uses it. Its own `id` is the
/// binding's; the field's id, which values name, is `customField.id`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectField {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub required: Option<bool>,
    #[serde(default)]
    pub custom_field: Option<CustomField>,
}

impl ProjectField {
    /// The field's own id (what values and bulk writes name).
    pub fn field_id(&self) -> Option<i64> {
        self.custom_field.as_ref().map(|f| f.id)
    }

    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| self.custom_field.as_ref().and_then(|f| f.name.clone()))
            .unwrap_or_default()
    }
}

/// `CustomFieldDto`, as far as it is read.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CustomField {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
}

/// `CustomFieldValueDto` / `CustomFieldValueWithTcCountDto`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CustomFieldValue {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
}

/// `CustomFieldProjectWithValuesDto`: a field and the values the selected cases hold.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseFieldValues {
    #[serde(default)]
    pub custom_field: Option<ProjectField>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub values: Vec<CustomFieldValue>,
}

/// `EnvVarDto`: an environment variable a job can run against (Browser, OS…).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EnvVar {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
}

/// `EnvVarValueDto`: one value of an environment variable.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EnvVarValue {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub variable: Option<EnvVar>,
}

/// `JobDto`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// Its parameters with their default values.
    #[serde(default, deserialize_with = "null_as_default")]
    pub parameters: Vec<JobParameter>,
}

/// `JobParameterDto`: a job parameter by id, and its value. The description gives it no
/// name; a run sends the job's own list back with values changed.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct JobParameter {
    pub id: i64,
    #[serde(default)]
    pub value: Option<String>,
}

/// `AnalyticDto` (success rate per interval).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticPoint {
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub avg_success_rate: Option<f64>,
    #[serde(default)]
    pub test_results_count: Option<i64>,
    #[serde(default)]
    pub avg_duration: Option<f64>,
}

/// `AnalyticLaunchDurationHistogramDto`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DurationBucket {
    #[serde(default)]
    pub bucket: Option<i64>,
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
    #[serde(default)]
    pub passed_count: Option<i64>,
    #[serde(default)]
    pub failed_count: Option<i64>,
    #[serde(default)]
    pub broken_count: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_statuses_are_read_leniently_and_written_as_upstream_does() {
        let rows: Vec<TestResultRow> = serde_json::from_value(serde_json::json!([
            {"id": 1, "status": "failed"},
            {"id": 2, "status": "BROKEN"},
            {"id": 3, "status": "in_progress"},
            {"id": 4, "status": null},
            {"id": 5},
        ]))
        .unwrap();
        let statuses: Vec<Option<TestStatus>> = rows.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [
                Some(TestStatus::Failed),
                Some(TestStatus::Broken),
                Some(TestStatus::Unknown),
                None,
                None
            ]
        );
        for s in TestStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(TestStatus::from_name(s.as_str()), Some(s));
        }
        assert_eq!(TestStatus::from_name("Passed"), None);
    }
}

/// `AqlValidateResponseDto` (`GET /api/{testresult,testcase,launch}/query/validate`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AqlValidation {
    #[serde(default, deserialize_with = "null_as_default")]
    pub valid: bool,
    #[serde(default)]
    pub count: Option<i64>,
}
