//! Invariants of the tool registry, committed schema snapshots, read-only filtering,
//! the `tools/list` size budget, and the README's generated tool table.

use allure_mcp::tools::{Registry, ToolDef, Toolset, all_tools};
use serde_json::Value;

fn is_snake_case(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.starts_with('_')
        && !s.ends_with('_')
        && !s.contains("__")
}

/// Every property of an object schema (and of the schemas it defines) has a description.
fn undescribed(schema: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, p) in props {
            let has = p
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| !d.trim().is_empty());
            if !has {
                out.push(format!("{at}.{name}"));
            }
        }
    }
    if let Some(defs) = schema.get("$defs").and_then(Value::as_object) {
        for (name, d) in defs {
            undescribed(d, &format!("{at}/$defs/{name}"), out);
        }
    }
}

#[test]
fn names_are_unique_snake_case_and_everything_is_described() {
    let tools = all_tools();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name).collect();
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "duplicate tool names");
    let mut problems = Vec::new();
    for t in &tools {
        if !is_snake_case(t.name) {
            problems.push(format!("{}: not snake_case", t.name));
        }
        if t.description.trim().len() < 20 {
            problems.push(format!("{}: description too short", t.name));
        }
        if t.title.trim().is_empty() {
            problems.push(format!("{}: no title", t.name));
        }
        let schema = Value::Object((*t.input_schema).clone());
        if schema["type"] != "object" {
            problems.push(format!("{}: input schema is not an object", t.name));
        }
        for k in ["anyOf", "oneOf", "allOf"] {
            if schema.get(k).is_some() {
                problems.push(format!("{}: top-level {k}", t.name));
            }
        }
        let mut missing = Vec::new();
        undescribed(&schema, t.name, &mut missing);
        problems.extend(
            missing
                .into_iter()
                .map(|m| format!("{m}: parameter without description")),
        );
        if t.read_only && t.destructive {
            problems.push(format!("{}: read-only and destructive", t.name));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_tool_schema_matches_its_committed_snapshot() {
    for t in all_tools() {
        let mcp = serde_json::to_value(t.to_mcp()).unwrap();
        insta::with_settings!({snapshot_path => "../snapshots/tools", prepend_module_to_snapshot => false}, {
            insta::assert_json_snapshot!(t.name, mcp);
        });
    }
}

#[test]
fn annotations_are_explicit() {
    for t in all_tools() {
        let mcp = serde_json::to_value(t.to_mcp()).unwrap();
        let a = &mcp["annotations"];
        for k in [
            "title",
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        ] {
            assert!(a.get(k).is_some(), "{}: annotation {k} missing", t.name);
        }
        assert_eq!(a["readOnlyHint"], t.read_only, "{}", t.name);
    }
}

#[test]
fn read_only_mode_leaves_only_read_only_tools_even_when_named() {
    let registry = Registry::new(&Toolset::ALL, true);
    assert!(!registry.tools().is_empty());
    // Only the raw escape hatch stays, because it refuses every method but GET itself
    // (tested in tests/it/tools_behaviour.rs).
    for t in registry.tools() {
        assert!(
            t.read_only || (t.guards_read_only && t.name == "allure_api_request"),
            "{} offered in read-only mode",
            t.name
        );
    }
    let writes: Vec<_> = all_tools().into_iter().filter(|t| !t.read_only).collect();
    assert!(writes.len() > 20);
    for w in writes.iter().filter(|w| !w.guards_read_only) {
        assert!(
            registry.get(w.name).is_none(),
            "{} offered in read-only mode",
            w.name
        );
    }
    // With the default toolsets (no raw), read-only leaves read-only tools only.
    assert!(
        Registry::new(&Toolset::defaults(), true)
            .tools()
            .iter()
            .all(|t| t.read_only)
    );
}

#[test]
fn toolsets_select_tools() {
    let registry = Registry::new(&[Toolset::Projects], false);
    assert!(
        registry
            .tools()
            .iter()
            .all(|t| t.toolset == Toolset::Projects)
    );
    assert!(registry.get("list_projects").is_some());
    assert!(registry.get("list_launches").is_none());
    assert_eq!(Toolset::parse_list(None).unwrap(), Toolset::defaults());
    assert!(!Toolset::defaults().contains(&Toolset::Raw));
    assert_eq!(
        Toolset::parse_list(Some("all")).unwrap(),
        Toolset::ALL.to_vec()
    );
    let err = Toolset::parse_list(Some("projects, nope")).unwrap_err();
    assert!(err.contains("'nope'"), "{err}");
}

/// The registry a server builds with no ALLURE_TOOLSETS: sessions start with the
/// defaults and may turn on everything but raw.
fn dynamic() -> Registry {
    Registry::dynamic(&Toolset::discoverable(), &Toolset::defaults(), false)
}

fn bytes(tools: &[rmcp::model::Tool]) -> usize {
    serde_json::to_vec(tools).unwrap().len()
}

#[test]
fn tools_list_fits_the_size_budget() {
    // What every conversation pays for at the start.
    let default = bytes(&dynamic().list());
    assert!(
        default <= 40_000,
        "the default tools/list is {default} bytes"
    );
    // What turning on one toolset adds.
    for set in Toolset::ALL {
        let size = bytes(&Registry::new(&[set], false).list());
        assert!(size <= 15_000, "toolset {} is {size} bytes", set.name());
    }
    // And nothing is out of reach: every tool but raw's can be called by a default
    // session, and the discovery tools are listed to find them.
    let registry = dynamic();
    for t in all_tools().iter().filter(|t| t.toolset != Toolset::Raw) {
        assert!(registry.get(t.name).is_some(), "{} out of reach", t.name);
    }
    let listed: Vec<String> = registry.list().iter().map(|t| t.name.to_string()).collect();
    for n in ["list_toolsets", "enable_toolset"] {
        assert!(listed.contains(&n.to_owned()), "{n} not listed");
    }
    // With every toolset fixed, there is nothing to discover.
    assert!(!Registry::new(&Toolset::ALL, false).is_dynamic());
    assert!(!dynamic().fixed().is_dynamic());
    assert_eq!(dynamic().fixed().list().len(), dynamic().tools().len() - 2);
}

/// Places where a schema uses a form that clients which translate schemas (to OpenAPI
/// 3.0, to Gemini's declarations) cannot read: a list of types, or a `null` type.
fn unportable(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            match m.get("type") {
                Some(Value::Array(_)) => out.push(format!("{at}: a list of types")),
                Some(Value::String(t)) if t == "null" => out.push(format!("{at}: type null")),
                _ => {}
            }
            if let Some(Value::Array(values)) = m.get("enum")
                && values.iter().any(Value::is_null)
            {
                out.push(format!("{at}: null in an enum"));
            }
            for (k, x) in m {
                unportable(x, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                unportable(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn schemas_use_the_most_portable_form() {
    let mut found = Vec::new();
    for t in Registry::dynamic(&Toolset::ALL, &Toolset::defaults(), false)
        .tools()
        .iter()
        .map(|t| t.to_mcp())
    {
        let input = Value::Object((*t.input_schema).clone());
        unportable(&input, &format!("{} input", t.name), &mut found);
        if let Some(o) = &t.output_schema {
            let output = Value::Object((**o).clone());
            unportable(&output, &format!("{} output", t.name), &mut found);
        }
    }
    assert!(found.is_empty(), "{found:#?}");
    // And the check itself finds them.
    let mut probe = Vec::new();
    unportable(
        &serde_json::json!({"properties": {"a": {"type": ["string", "null"]}, "b": {"anyOf": [{"type": "null"}]}, "c": {"enum": ["x", null]}}}),
        "probe",
        &mut probe,
    );
    assert_eq!(probe.len(), 3, "{probe:?}");
}

/// The README's tool table, generated from the registry.
fn tool_table() -> String {
    let mut s = String::from("| Tool | Toolset | Read-only | What it does |\n|---|---|---|---|\n");
    let mut tools = all_tools();
    tools.sort_by_key(|t| (t.toolset, t.name));
    for t in tools {
        s.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            t.name,
            t.toolset.name(),
            if t.read_only { "yes" } else { "no" },
            t.description.replace('|', "\\|")
        ));
    }
    s
}

#[test]
fn readme_tool_table_matches_the_registry() {
    const START: &str = "<!-- tools:start (generated by tests/it/tools.rs; UPDATE_README=1 cargo test --test it tools::) -->\n";
    const END: &str = "<!-- tools:end -->";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme
        .find(START)
        .expect("README has the tools:start marker")
        + START.len();
    let end = readme.find(END).expect("README has the tools:end marker");
    let want = tool_table();
    if readme[start..end] != want {
        if std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{}{}", &readme[..start], want, &readme[end..]);
            std::fs::write(path, updated).unwrap();
        } else {
            panic!(
                "README tool table is out of date; run UPDATE_README=1 cargo test --test it tools::"
            );
        }
    }
}

/// The Go server's first release: these names and parameters must keep working.
const GO_TOOLS: &[(&str, &[&str])] = &[
    ("run_allure_launch", &["project_id", "launch_name"]),
    ("get_launch_status", &["launch_id"]),
    ("get_launch_report", &["launch_id"]),
    ("close_launch", &["launch_id"]),
    ("reopen_launch", &["launch_id"]),
    ("list_launches", &["project_id", "page", "size"]),
    ("get_launch_details", &["launch_id"]),
    (
        "list_test_results",
        &["launch_id", "status", "page", "size"],
    ),
    ("get_test_result", &["test_result_id"]),
    ("assign_test_result", &["test_result_id", "username"]),
    ("mute_test_result", &["test_result_id", "reason"]),
    ("list_test_cases", &["project_id", "page", "size"]),
    ("get_test_case", &["test_case_id"]),
    ("run_test_case", &["test_case_id", "launch_id"]),
    ("create_test_case", &["project_id", "name", "description"]),
    ("update_test_case", &["test_case_id"]),
    ("delete_test_case", &["test_case_id"]),
    ("list_projects", &["page", "size"]),
    ("get_project", &["project_id"]),
    ("get_project_stats", &["project_id"]),
    ("get_launch_trend_analytics", &["project_id"]),
    ("get_launch_duration_analytics", &["project_id"]),
    ("get_test_success_rate", &["project_id"]),
    (
        "bulk_set_test_case_status",
        &["project_id", "test_case_ids", "status_id", "workflow_id"],
    ),
    (
        "bulk_add_test_case_tags",
        &["project_id", "test_case_ids", "tags"],
    ),
    (
        "bulk_remove_test_case_tags",
        &["project_id", "test_case_ids", "tags"],
    ),
    (
        "bulk_assign_test_results",
        &["launch_id", "test_result_ids", "assignees"],
    ),
    (
        "bulk_mute_test_results",
        &["launch_id", "test_result_ids", "reason"],
    ),
    (
        "bulk_unmute_test_results",
        &["launch_id", "test_result_ids"],
    ),
    (
        "bulk_resolve_test_results",
        &["launch_id", "test_result_ids"],
    ),
    (
        "add_test_cases_to_launch",
        &["launch_id", "project_id", "test_case_ids", "assignees"],
    ),
    ("add_test_plan_to_launch", &["launch_id", "test_plan_id"]),
];

#[test]
fn the_go_servers_32_tools_keep_their_names_and_parameters() {
    assert_eq!(GO_TOOLS.len(), 32);
    // Callable by a default session, listed or not (tests/it/toolsets.rs calls one that
    // is not listed yet).
    let registry = dynamic();
    for (name, params) in GO_TOOLS {
        let t = registry
            .get(name)
            .unwrap_or_else(|| panic!("{name} is missing from the default tools"));
        let props = t
            .input_schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap();
        for p in *params {
            assert!(props.contains_key(*p), "{name} lacks parameter {p}");
        }
        // No parameter the Go server did not have may be required.
        let required: Vec<&str> = t
            .input_schema
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for r in required {
            assert!(
                params.contains(&r),
                "{name} requires {r}, which Go clients do not send"
            );
        }
    }
}

/// Words of a text, lowercased, with common endings cut so "tests", "tested" and
/// "testing" meet, and words that say nothing left out.
fn words(text: &str) -> Vec<String> {
    const STOP: &[&str] = &[
        "a", "an", "the", "of", "to", "in", "on", "for", "and", "or", "with", "by", "is", "it",
        "its", "as", "at", "be", "from", "that", "this", "which", "what", "when", "how", "all",
        "one", "use", "e", "g", "do", "did", "are", "my", "me", "i", "if", "not", "only",
    ];
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| !w.is_empty() && !STOP.contains(&w.as_str()))
        .map(|w| {
            for end in ["ing", "ed", "es", "s"] {
                if w.len() > end.len() + 3
                    && let Some(stem) = w.strip_suffix(end)
                {
                    return stem.to_owned();
                }
            }
            w
        })
        .collect()
}

/// The tools a task's words point to, best first: TF-IDF over each tool's name, title
/// and description, as a plain search over tools/list would rank them.
fn ranked(task: &str, tools: &[ToolDef]) -> Vec<&'static str> {
    let docs: Vec<Vec<String>> = tools
        .iter()
        .map(|t| {
            words(&format!(
                "{} {} {}",
                t.name.replace('_', " "),
                t.title,
                t.description
            ))
        })
        .collect();
    let n = docs.len() as f64;
    let idf = |w: &str| {
        let df = docs.iter().filter(|d| d.iter().any(|x| x == w)).count() as f64;
        if df == 0.0 { 0.0 } else { (n / df).ln() }
    };
    let query = words(task);
    let mut scored: Vec<(f64, &'static str)> = tools
        .iter()
        .zip(&docs)
        .map(|(t, d)| {
            let score: f64 = query
                .iter()
                .map(|w| {
                    let tf = d.iter().filter(|x| *x == w).count() as f64;
                    (tf / (1.0 + tf)) * idf(w)
                })
                .sum();
            (score, t.name)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().map(|(_, n)| n).collect()
}

/// The daily tasks of a test team (issue 16), each with the tool that does it: that
/// tool's description must be what a search of the task's words finds first. A vague or
/// overlapping description fails here before a model trips on it.
const TASKS: &[(&str, &str)] = &[
    ("why did last night's nightly launch fail", "triage_launch"),
    (
        "which tests are flaky over the last 10 launches",
        "find_flaky_tests",
    ),
    (
        "rerun only the failed tests of a launch",
        "rerun_failed_tests",
    ),
    ("wait until the launch finishes", "wait_for_launch"),
    (
        "search test results with AQL whose error message mentions timeout",
        "search_test_results",
    ),
    ("file a new defect", "create_defect"),
    (
        "link a defect to test results",
        "link_defect_to_test_results",
    ),
    (
        "create a test case with steps, expected results and tags",
        "create_test_case",
    ),
    ("add test cases to a test plan", "update_test_plan"),
    ("mute a test result with a reason", "mute_test_result"),
    ("who am I: the token's username", "whoami"),
    (
        "pass rate trend per launch of the nightly job",
        "get_launch_trend_analytics",
    ),
    (
        "the steps of a test case as a tree",
        "get_test_case_scenario",
    ),
    (
        "set the Priority custom field of a test case",
        "update_test_case_custom_fields",
    ),
    ("is the launch still running", "get_launch_status"),
    (
        "compare two launches: new failures and fixed tests",
        "compare_launches",
    ),
    ("start a CI job with parameters", "run_allure_launch"),
    (
        "a test case's results across launches",
        "get_test_case_history",
    ),
];

#[test]
fn descriptions_lead_to_the_right_tool_for_each_daily_task() {
    let tools: Vec<ToolDef> = all_tools()
        .into_iter()
        .filter(|t| t.toolset != Toolset::Discovery)
        .collect();
    let mut wrong = Vec::new();
    for (task, tool) in TASKS {
        assert!(
            tools.iter().any(|t| t.name == *tool),
            "{tool} does not exist"
        );
        let top = ranked(task, &tools);
        if top[0] != *tool {
            wrong.push(format!(
                "\"{task}\": {tool} expected, ranked {:?}",
                &top[..3]
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // The ranking itself can tell tools apart: a task worded as another tool's finds
    // that one instead.
    assert_eq!(
        ranked("list the CI jobs of a project", &tools)[0],
        "list_jobs"
    );
}
