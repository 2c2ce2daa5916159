//! The client's models against the API description: every field a model reads (its
//! JSON name, after serde's renaming) must be a property of the description's DTO(s)
//! that model decodes. A model is our reading of the API; the fake was written from the
//! same reading, so only the description can catch a misread field name (`layer` where
//! `TestCaseDto` says `testLayer`). What the test reads is the generated extract
//! `tests/data/allure-openapi-26.1.1.json` (`scripts/allure-openapi-extract.py`).

use std::collections::{BTreeMap, BTreeSet};

use allure_mcp::allure::model::*;
use serde::de::DeserializeOwned;
use serde_aux::serde_introspection::serde_introspect;
use serde_json::{Value, json};

/// A model, the JSON names of its fields, and the DTOs whose answers it decodes.
struct Entry {
    model: &'static str,
    fields: &'static [&'static str],
    dtos: &'static [&'static str],
    /// Decodes a JSON value as the model (for the `null` test).
    decode: fn(Value) -> Result<(), String>,
}

fn decode_as<T: DeserializeOwned>(v: Value) -> Result<(), String> {
    serde_json::from_value::<T>(v)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

macro_rules! entry {
    ($model:ty, [$($dto:literal),+ $(,)?]) => {
        Entry {
            model: stringify!($model),
            fields: serde_introspect::<$model>(),
            dtos: &[$($dto),+],
            decode: decode_as::<$model>,
        }
    };
}

/// Which answers each model reads. Where a model serves several DTOs, `GAPS` names each
/// field one of them lacks and why that is harmless.
fn contract() -> Vec<Entry> {
    vec![
        entry!(
            Page<Value>,
            [
                "PageProjectDto",
                "PageLaunchDto",
                "PageLaunchPreviewDto",
                "PageTestResultDto",
                "PageTestResultRowDto",
                "PageTestResultHistoryDto",
                "PageTestResultAttachmentRowDto",
                "PageDefectCountRowDto",
                "PageJobDto",
                "PageTestCaseRowDto",
                "PageTestCaseDto",
                "PageTestPlanDto",
                "PageUserSuggestDto",
                "PageTestCaseTreeLeafDto",
                "PageDefectMatcherDto",
                "PageProjectIntegrationDto",
                "PageCustomFieldProjectDto",
                "PageCustomFieldValueWithTcCountDto",
                "PageTestLayerDto"
            ]
        ),
        entry!(Project, ["ProjectDto"]),
        entry!(ProjectStats, ["ProjectStatsDto"]),
        entry!(StatusCount, ["TestStatusCount"]),
        entry!(
            IdName,
            [
                "LaunchTagDto",
                "JobInfoDto",
                "TestTagDto",
                "IdAndNameOnlyDto",
                "StatusDto",
                "WorkflowRowDto",
                "TestLayerDto"
            ]
        ),
        entry!(ExternalLink, ["ExternalLinkDto"]),
        entry!(JobRun, ["JobRunDto"]),
        entry!(Launch, ["LaunchDto", "LaunchPreviewDto"]),
        entry!(LaunchProgress, ["LaunchProgressDto"]),
        entry!(TestResult, ["TestResultDto"]),
        entry!(TestResultRow, ["TestResultRowDto"]),
        entry!(HistoryEntry, ["TestResultHistoryDto"]),
        entry!(
            AttachmentRow,
            [
                "TestResultAttachmentRowDto",
                "TestCaseAttachmentRowDto",
                "TestFixtureResultAttachmentRowDto"
            ]
        ),
        entry!(
            ExecutionStep,
            [
                "TestResultAttachmentStepDto",
                "TestResultBodyStepDto",
                "TestResultExpectedBodyStepDto"
            ]
        ),
        entry!(Execution, ["TestResultScenarioV2Dto"]),
        entry!(TestCase, ["TestCaseDto", "TestCaseRowDto"]),
        entry!(ScenarioStep, ["NormalizedScenarioStepDto"]),
        entry!(Scenario, ["NormalizedScenarioDto"]),
        entry!(StepCreated, ["ScenarioStepCreatedResponseDto"]),
        entry!(TestPlan, ["TestPlanDto"]),
        entry!(TreeSelection, ["TreeSelectionDto"]),
        entry!(PlanLeaf, ["TestCaseTreeLeafDto"]),
        entry!(Defect, ["DefectOverviewDto", "DefectCountRowDto"]),
        entry!(Issue, ["IssueDto"]),
        entry!(DefectMatcher, ["DefectMatcherDto"]),
        entry!(ProjectIntegration, ["ProjectIntegrationDto"]),
        entry!(IntegrationInfo, ["IntegrationInfoDto"]),
        entry!(Job, ["JobDto"]),
        entry!(JobParameter, ["JobParameterDto"]),
        entry!(EnvVar, ["EnvVarDto"]),
        entry!(EnvVarValue, ["EnvVarValueDto"]),
        entry!(ProjectField, ["CustomFieldProjectDto"]),
        entry!(CustomField, ["CustomFieldDto"]),
        entry!(
            CustomFieldValue,
            ["CustomFieldValueDto", "CustomFieldValueWithTcCountDto"]
        ),
        entry!(CaseFieldValues, ["CustomFieldProjectWithValuesDto"]),
        entry!(Account, ["UserAccount"]),
        entry!(User, ["UserSuggestDto"]),
        entry!(AnalyticPoint, ["AnalyticDto"]),
        entry!(DurationBucket, ["AnalyticLaunchDurationHistogramDto"]),
        entry!(AqlValidation, ["AqlValidateResponseDto"]),
    ]
}

/// (model, field, DTO that lacks it): where a model reads several DTOs, a field only some
/// of them have. Each is read only on the routes whose DTO has it, or is a per-variant
/// field of a union. Anything not here fails the test; so does an entry that is no
/// longer a gap.
const GAPS: &[(&str, &str, &str, &str)] = &[
    (
        "Launch",
        "createdBy",
        "LaunchDto",
        "only the list (LaunchPreviewDto) has it; get_launch_details does not show it",
    ),
    (
        "Launch",
        "statistic",
        "LaunchDto",
        "read from the list only; one launch's comes from /launch/{id}/statistic",
    ),
    (
        "Launch",
        "jobs",
        "LaunchDto",
        "read from the list only (previous_launch); one launch's come from /launch/{id}/job",
    ),
    (
        "TestCase",
        "projectId",
        "TestCaseRowDto",
        "not read from the list (the query names the project)",
    ),
    (
        "TestCase",
        "description",
        "TestCaseRowDto",
        "read from TestCaseDto only (get_test_case)",
    ),
    (
        "TestCase",
        "precondition",
        "TestCaseRowDto",
        "read from TestCaseDto only (get_test_case)",
    ),
    (
        "TestCase",
        "expectedResult",
        "TestCaseRowDto",
        "read from TestCaseDto only (get_test_case)",
    ),
    (
        "TestCase",
        "deleted",
        "TestCaseRowDto",
        "read from TestCaseDto only",
    ),
    (
        "TestCase",
        "workflow",
        "TestCaseRowDto",
        "read from TestCaseDto only (get_test_case, status updates)",
    ),
    (
        "TestCase",
        "tags",
        "TestCaseRowDto",
        "shown from search_test_cases (TestCaseDto); list_test_cases rows have none and show none",
    ),
    (
        "TestCase",
        "createdDate",
        "TestCaseRowDto",
        "read from TestCaseDto only",
    ),
    (
        "TestCase",
        "lastModifiedDate",
        "TestCaseRowDto",
        "read from TestCaseDto only",
    ),
    (
        "Defect",
        "description",
        "DefectCountRowDto",
        "read from DefectOverviewDto only (get_defect)",
    ),
    (
        "Defect",
        "projectId",
        "DefectCountRowDto",
        "the list's query names the project",
    ),
    (
        "Defect",
        "createdDate",
        "DefectCountRowDto",
        "read from DefectOverviewDto only",
    ),
    (
        "Defect",
        "count",
        "DefectOverviewDto",
        "read from the list only; get_defect counts /defect/{id}/testresult",
    ),
    (
        "ExecutionStep",
        "body",
        "TestResultAttachmentStepDto",
        "per-variant field of the step union",
    ),
    (
        "ExecutionStep",
        "message",
        "TestResultAttachmentStepDto",
        "per-variant field of the step union",
    ),
    (
        "ExecutionStep",
        "attachmentId",
        "TestResultBodyStepDto",
        "per-variant field of the step union",
    ),
    (
        "ExecutionStep",
        "attachmentId",
        "TestResultExpectedBodyStepDto",
        "per-variant field of the step union",
    ),
    (
        "ExecutionStep",
        "attachment",
        "TestResultBodyStepDto",
        "per-variant field of the step union",
    ),
    (
        "ExecutionStep",
        "attachment",
        "TestResultExpectedBodyStepDto",
        "per-variant field of the step union",
    ),
    (
        "ExecutionStep",
        "steps",
        "TestResultAttachmentStepDto",
        "not described (26.1.1 steps are a flat list); nested steps are read when an instance sends them",
    ),
    (
        "ExecutionStep",
        "steps",
        "TestResultBodyStepDto",
        "as above",
    ),
    (
        "ExecutionStep",
        "steps",
        "TestResultExpectedBodyStepDto",
        "as above",
    ),
];

fn description() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/allure-openapi-26.1.1.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A schema's property names, with what it inherits through `allOf` and `$ref`.
fn properties(doc: &Value, schema: &Value, out: &mut BTreeSet<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        properties(doc, &doc["components"]["schemas"][name], out);
    }
    if let Some(p) = schema.get("properties").and_then(Value::as_object) {
        out.extend(p.keys().cloned());
    }
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        properties(doc, part, out);
    }
}

fn dto_properties(doc: &Value, dto: &str) -> BTreeSet<String> {
    let schema = &doc["components"]["schemas"][dto];
    assert!(
        schema.is_object(),
        "{dto} is not in the extract: is a route that answers it missing from scripts/allure-openapi-extract.py?"
    );
    let mut out = BTreeSet::new();
    properties(doc, schema, &mut out);
    out
}

/// What in `entries` the description does not have, and the `GAPS` entries that are no
/// longer gaps.
fn check_contract(doc: &Value, entries: &[Entry]) -> (Vec<String>, Vec<String>) {
    let mut missing = Vec::new();
    let mut gaps_seen = BTreeSet::new();
    for e in entries {
        assert!(!e.fields.is_empty(), "{}: no fields found", e.model);
        let props: BTreeMap<&str, BTreeSet<String>> = e
            .dtos
            .iter()
            .map(|d| (*d, dto_properties(doc, d)))
            .collect();
        for field in e.fields {
            let gap = |dto: &str| {
                GAPS.iter()
                    .any(|(m, f, d, _)| *m == e.model && f == field && *d == dto)
            };
            // A field no DTO has is a misreading, unless each DTO's entry says why not.
            if !props.values().any(|p| p.contains(*field)) && !e.dtos.iter().all(|d| gap(d)) {
                missing.push(format!("{}.{field}: in none of {:?}", e.model, e.dtos));
                continue;
            }
            for (dto, p) in &props {
                if p.contains(*field) {
                    continue;
                }
                if gap(dto) {
                    gaps_seen.insert((e.model, *field, *dto));
                } else {
                    missing.push(format!("{}.{field}: not in {dto}", e.model));
                }
            }
        }
    }
    let stale = GAPS
        .iter()
        .filter(|(m, f, d, _)| !gaps_seen.contains(&(*m, *f, *d)))
        .map(|g| format!("{g:?}"))
        .collect();
    (missing, stale)
}

#[test]
fn every_field_a_model_reads_is_in_the_api_description() {
    let doc = description();
    assert_eq!(doc["info"]["x-source-version"], "26.1.1");
    let (missing, stale) = check_contract(&doc, &contract());
    assert!(
        missing.is_empty(),
        "fields the description does not have:\n{}",
        missing.join("\n")
    );
    assert!(
        stale.is_empty(),
        "GAPS entries that are no longer gaps: {stale:?}"
    );
}

/// The test above must be able to fail: a misread field is caught.
#[test]
fn a_misread_field_would_be_caught() {
    let doc = description();
    // Inherited through allOf: AttachmentRow's id and contentType.
    let att = dto_properties(&doc, "TestResultAttachmentRowDto");
    assert!(att.contains("id") && att.contains("contentType") && att.contains("missed"));
    // The layer of a test case read as `layer`, where TestCaseDto says `testLayer`.
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Misread {
        id: i64,
        layer: Option<String>,
    }
    let entries = [entry!(Misread, ["TestCaseDto"])];
    let (missing, _) = check_contract(&doc, &entries);
    assert_eq!(missing, ["Misread.layer: in none of [\"TestCaseDto\"]"]);
}

/// The description allows `null` for no field, and the fake leaves such fields out; a
/// real server may still send `"field": null` (Jackson's default). Every model decodes an
/// answer whose fields are all `null`, except the few it cannot do without.
#[test]
fn every_model_decodes_nulls_wherever_it_does_not_need_a_value() {
    let mut failures = Vec::new();
    for e in contract() {
        let mut object = serde_json::Map::new();
        for f in e.fields {
            let needed = match *f {
                "id" => json!(1),
                "content" => json!([]),
                _ => Value::Null,
            };
            object.insert((*f).to_owned(), needed);
        }
        if let Err(err) = (e.decode)(Value::Object(object)) {
            failures.push(format!("{}: {err}", e.model));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A model added to `src/allure/model.rs` without a place in the contract would escape it.
#[test]
fn every_model_is_in_the_contract() {
    let source = include_str!("../../src/allure/model.rs");
    let listed: BTreeSet<String> = contract()
        .iter()
        .map(|e| e.model.split('<').next().unwrap_or("").trim().to_owned())
        .collect();
    let missing: Vec<&str> = source
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("pub struct "))
        .map(|rest| {
            rest.split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or("")
        })
        .filter(|name| !listed.contains(*name))
        .collect();
    assert!(missing.is_empty(), "models not in contract(): {missing:?}");
}
