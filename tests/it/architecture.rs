//! The shape of the house, kept by tests: no two modules import each other, no source
//! file is much over 700 lines, and no function outside tests and data tables is over
//! 120 lines. Read from the sources as text, like a reviewer would.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file below `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The text of a file before its unit tests (they may import anything).
fn without_tests(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// A file's module path below its crate root (`tools::results`; the root is "").
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The modules a file's `use crate::…` and `use super::…` lines name (the longest
/// prefix of each path that is a module of the crate).
fn imported(text: &str, me: &[String], modules: &BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    for stmt in text.split("use ").skip(1) {
        let stmt = &stmt[..stmt.find(';').unwrap_or(stmt.len())];
        let (mut base, rest) = if let Some(r) = stmt.strip_prefix("crate::") {
            (Vec::new(), r)
        } else if stmt.starts_with("super::") {
            let mut base = me.to_vec();
            let mut r = stmt;
            while let Some(next) = r.strip_prefix("super::") {
                base.pop();
                r = next;
            }
            (base, r)
        } else {
            continue;
        };
        // `a::b::{c, d::e}` names a::b::c and a::b::d::e.
        let (prefix, items) = match rest.find('{') {
            Some(i) => (
                &rest[..i],
                rest[i + 1..].trim_end_matches('}').split(',').collect(),
            ),
            None => (rest, vec![""]),
        };
        base.extend(
            prefix
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
        for item in items {
            let mut path = base.clone();
            path.extend(
                item.split("::")
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
            while !path.is_empty() && !modules.contains(&path) {
                path.pop();
            }
            if !path.is_empty() && path != me {
                out.insert(path);
            }
        }
    }
    out
}

fn crates() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    vec![root.join("src"), root.join("crates/fake-testops/src")]
}

#[test]
fn no_two_modules_import_each_other() {
    for root in crates() {
        let files = sources(&root);
        let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&root, f)).collect();
        let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
        for f in &files {
            let me = module_of(&root, f);
            edges.insert(me.clone(), imported(&without_tests(f), &me, &modules));
        }
        assert!(
            edges.values().map(BTreeSet::len).sum::<usize>() > 5,
            "too few imports found in {}: the reader is broken",
            root.display()
        );
        let mut circles = Vec::new();
        for (a, targets) in &edges {
            for b in targets {
                if a < b && edges.get(b).is_some_and(|t| t.contains(a)) {
                    circles.push(format!("{} <-> {}", a.join("::"), b.join("::")));
                }
            }
        }
        assert!(
            circles.is_empty(),
            "modules that import each other: {circles:?}"
        );
    }
}

#[test]
fn the_reader_sees_a_circle_where_there_is_one() {
    let modules: BTreeSet<Vec<String>> = [vec!["a".to_owned()], vec!["b".to_owned()]].into();
    let a = imported(
        "use crate::b::{Thing, other};\n",
        &["a".to_owned()],
        &modules,
    );
    let b = imported("use super::a::Other;\n", &["b".to_owned()], &modules);
    assert!(a.contains(&vec!["b".to_owned()]) && b.contains(&vec!["a".to_owned()]));
}

/// Functions that are data, not logic: the fake's sample data set.
const DATA_TABLES: [&str; 1] = ["seed"];

#[test]
fn no_source_file_or_function_is_too_long_to_hold_in_your_head() {
    let mut problems = Vec::new();
    for root in crates() {
        for f in sources(&root) {
            let text = without_tests(&f);
            let lines: Vec<&str> = text.lines().collect();
            if lines.len() > 750 {
                problems.push(format!("{}: {} lines", f.display(), lines.len()));
            }
            for (i, line) in lines.iter().enumerate() {
                let Some(name) = fn_name(line) else { continue };
                let indent = &line[..line.len() - line.trim_start().len()];
                let end = lines[i + 1..]
                    .iter()
                    .position(|l| *l == format!("{indent}}}"))
                    .map(|n| n + 2);
                if let Some(n) = end
                    && n > 120
                    && !DATA_TABLES.contains(&name)
                {
                    problems.push(format!("{}: fn {name} has {n} lines", f.display()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The name of the function a line starts, if it starts one.
fn fn_name(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let t = t
        .strip_prefix("pub ")
        .or_else(|| t.strip_prefix("pub(crate) "))
        .or_else(|| t.strip_prefix("pub(super) "))
        .unwrap_or(t);
    let t = t.strip_prefix("async ").unwrap_or(t);
    let t = t.strip_prefix("const ").unwrap_or(t);
    let rest = t.strip_prefix("fn ")?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    Some(&rest[..end])
}
