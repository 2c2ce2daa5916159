//! The parts of Allure TestOps' JSON we read. Every field is optional or defaulted:
//! instances differ by version, and a missing field must not fail a whole call.

use serde::{Deserialize, Serialize};

/// A Spring Data page, as every Allure list endpoint returns it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub content: Vec<T>,
    #[serde(default)]
    pub total_elements: i64,
    #[serde(default)]
    pub total_pages: i64,
    /// 0-based page number.
    #[serde(default)]
    pub number: i64,
    #[serde(default)]
    pub size: i64,
}

impl<T> Page<T> {
    /// Whether a page after this one exists.
    pub fn has_more(&self) -> bool {
        self.number + 1 < self.total_pages
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: i64,
    #[serde(default)]
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
    pub status: Option<String>,
    #[serde(default)]
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
pub struct EnvVarValue {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub variable: Option<IdName>,
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
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub project_id: Option<i64>,
    #[serde(default)]
    pub closed: bool,
    #[serde(default)]
    pub created_date: Option<i64>,
    #[serde(default)]
    pub last_modified_date: Option<i64>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub tags: Vec<IdName>,
    #[serde(default)]
    pub links: Vec<ExternalLink>,
    #[serde(default)]
    pub statistic: Option<Vec<StatusCount>>,
    #[serde(default)]
    pub environment: Option<Vec<EnvVarValue>>,
    #[serde(default)]
    pub jobs: Option<Vec<JobRun>>,
    #[serde(default)]
    pub known_defects_count: Option<i64>,
    #[serde(default)]
    pub new_defects_count: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LaunchProgress {
    #[serde(default)]
    pub ready: Option<bool>,
}
