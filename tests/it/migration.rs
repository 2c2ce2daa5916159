//! README's migration table from the Go server's later tools: every name it added after
//! v1.0 (tests/data/go-server-later-tools.txt, written by scripts/go-later-tools.py from
//! its docs) has a row, a name we offer maps to itself, and every tool a row names exists.
//! The counts in the paragraph above the table are the table's.

use std::collections::BTreeSet;

fn later_names() -> Vec<String> {
    include_str!("../data/go-server-later-tools.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The table's rows: Go name → the tools named in the second column.
fn rows() -> Vec<(String, Vec<String>, String)> {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("<!-- migration:start -->")
        .expect("the start marker");
    let end = readme
        .find("<!-- migration:end -->")
        .expect("the end marker");
    readme[start..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split(" | ").collect();
            let go = cells[0]
                .trim_start_matches("| ")
                .trim_matches('`')
                .to_owned();
            let ours = cells[1]
                .split(", ")
                .filter(|c| c.starts_with('`'))
                .map(|c| c.trim_matches('`').to_owned())
                .collect();
            (go, ours, cells[2].trim_end_matches(" |").to_owned())
        })
        .collect()
}

#[test]
fn every_later_go_tool_name_has_a_row_naming_real_tools() {
    let ours: BTreeSet<String> = allure_mcp::tools::all_tools()
        .iter()
        .map(|t| t.name.to_owned())
        .collect();
    let names = later_names();
    let rows = rows();
    assert_eq!(names.len(), 116, "the list from the Go server's docs");
    let in_table: Vec<&str> = rows.iter().map(|(g, _, _)| g.as_str()).collect();
    assert_eq!(
        in_table,
        names.iter().map(String::as_str).collect::<Vec<_>>(),
        "one row per name, in the list's order"
    );
    for (go, tools, how) in &rows {
        if ours.contains(go) {
            assert_eq!(
                tools,
                std::slice::from_ref(go),
                "{go} is ours: it maps to itself"
            );
        }
        for t in tools {
            assert!(ours.contains(t), "{go}: no tool {t}");
        }
        assert!(
            !tools.is_empty()
                || how.contains("not yet")
                || how.contains("cancel")
                || how.contains("not a tool"),
            "{go}: a row without a tool says so"
        );
    }
    let same = rows
        .iter()
        .filter(|(g, t, _)| t == std::slice::from_ref(g))
        .count();
    let other = rows
        .iter()
        .filter(|(g, t, _)| !t.is_empty() && t != std::slice::from_ref(g))
        .count();
    let missing = rows
        .iter()
        .filter(|(_, t, h)| t.is_empty() && h.contains("not yet"))
        .count();
    let readme = include_str!("../../README.md");
    let said =
        format!("{same} are here under the same name and {other} more are done by another tool");
    assert!(readme.contains(&said), "README should say: {said}");
    assert!(
        readme.contains(&format!("{missing} are not here yet")),
        "README should say {missing} are not here yet"
    );
}
