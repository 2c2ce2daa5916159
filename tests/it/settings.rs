//! The settings' documentation is checked against the code: every variable the server
//! reads is in the README with the default the code has, and the NixOS module's
//! defaults and ranges are the server's own. Defaults are written in three places;
//! these tests make the code the one that decides.

use std::collections::BTreeMap;

use allure_mcp::config::{Cli, CliError, load_cli_from};
use clap::CommandFactory;

/// Every setting with an environment variable: variable → (flag, default).
fn settings() -> BTreeMap<String, (String, Option<String>)> {
    Cli::command()
        .get_arguments()
        .filter_map(|a| {
            let env = a.get_env()?.to_str()?.to_owned();
            let flag = format!("--{}", a.get_long()?);
            let default = a
                .get_default_values()
                .first()
                .map(|d| d.to_string_lossy().into_owned());
            Some((env, (flag, default)))
        })
        .collect()
}

/// Whether the server takes `value` for the setting behind `flag`.
fn accepts(flag: &str, value: &str) -> bool {
    let args = ["allure-mcp", "--demo", flag, value].map(std::ffi::OsString::from);
    match load_cli_from(args, std::path::Path::new("/nonexistent/.env"), |_| false) {
        Ok(_) => true,
        Err(CliError::Config(_)) => false,
        Err(CliError::Usage(e)) => panic!("{flag} {value}: clap refused the command line: {e}"),
    }
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The README's table rows naming variables: each variable with its Default and Meaning
/// cells (a row like `` `A`, `B` | `1`, `2` `` gives A the 1 and B the 2).
fn readme_rows() -> BTreeMap<String, (String, String)> {
    let mut rows = BTreeMap::new();
    for line in readme().lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 5 || !cells[1].starts_with('`') {
            continue;
        }
        let names: Vec<&str> = cells[1].split(", ").map(|n| n.trim_matches('`')).collect();
        let defaults: Vec<&str> = cells[2].split(", ").collect();
        for (i, name) in names.iter().enumerate() {
            let default = if names.len() == defaults.len() {
                defaults[i]
            } else {
                cells[2]
            };
            rows.entry(name.to_string())
                .or_insert((default.to_owned(), cells[3].to_owned()));
        }
    }
    rows
}

#[test]
fn every_setting_is_in_the_readme_with_the_default_the_code_has() {
    let readme = readme();
    let rows = readme_rows();
    let mut problems = Vec::new();
    for (var, (_, default)) in settings() {
        if !readme.contains(&format!("`{var}`")) {
            problems.push(format!("{var} is not in the README"));
            continue;
        }
        let Some(default) = default else { continue };
        match rows.get(&var) {
            None => problems.push(format!(
                "{var} (default {default}) has no row in a settings table"
            )),
            Some((cell, _)) if *cell != format!("`{default}`") => problems.push(format!(
                "{var}: the README says the default is {cell}, the code says `{default}`"
            )),
            Some(_) => {}
        }
    }
    assert!(
        problems.is_empty(),
        "README settings tables:\n{}",
        problems.join("\n")
    );
}

/// A range written in a README row, `(1–600)`, is the one the server enforces.
#[test]
fn ranges_in_the_readme_are_the_ones_enforced() {
    let settings = settings();
    let mut checked = 0;
    for (var, (_, meaning)) in readme_rows() {
        let Some((lo, hi)) = range_in(&meaning) else {
            continue;
        };
        let (flag, _) = &settings[&var];
        assert!(accepts(flag, &lo.to_string()), "{var} refuses {lo}");
        assert!(accepts(flag, &hi.to_string()), "{var} refuses {hi}");
        assert!(
            !accepts(flag, &(hi + 1).to_string()),
            "{var} takes {}",
            hi + 1
        );
        if lo > 0 {
            assert!(
                !accepts(flag, &(lo - 1).to_string()),
                "{var} takes {}",
                lo - 1
            );
        }
        checked += 1;
    }
    assert!(checked >= 2, "no ranges found in the README ({checked})");
}

fn range_in(text: &str) -> Option<(u64, u64)> {
    let start = text.find('(')?;
    let inner = &text[start + 1..start + text[start..].find(')')?];
    let (lo, hi) = inner.split_once('–')?;
    Some((lo.trim().parse().ok()?, hi.trim().parse().ok()?))
}

/// One option of the module's `settings`: its name, type and default, as written.
struct NixOption {
    name: String,
    ty: String,
    default: String,
}

fn module_options() -> Vec<NixOption> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/nix/module.nix")).unwrap();
    let settings = &text[text.find("settings = mkOption").expect("settings option")..];
    let mut out = Vec::new();
    for block in settings.split(" = mkOption {").skip(1) {
        let name_line = out_name(settings, block);
        let field = |key: &str| {
            block
                .lines()
                .map(str::trim)
                .find_map(|l| l.strip_prefix(&format!("{key} = ")))
                .map(|v| v.trim_end_matches(';').trim().to_owned())
        };
        let (Some(ty), Some(default)) = (field("type"), field("default")) else {
            continue;
        };
        if let Some(name) = name_line {
            out.push(NixOption { name, ty, default });
        }
    }
    out
}

/// The option name written just before `block` (`NAME = mkOption {`).
fn out_name(settings: &str, block: &str) -> Option<String> {
    let at = settings.find(block)?;
    let before = settings[..at.checked_sub(" = mkOption {".len())?].trim_end();
    let name = before.rsplit(|c: char| c.is_whitespace()).next()?;
    name.chars()
        .all(|c| c.is_ascii_uppercase() || c == '_')
        .then(|| name.to_owned())
}

#[test]
fn the_nixos_module_defaults_and_ranges_are_the_servers() {
    let settings = settings();
    let options = module_options();
    assert!(
        options.len() >= 5,
        "found only {} options in nix/module.nix",
        options.len()
    );
    for o in &options {
        let (flag, default) = settings
            .get(&o.name)
            .unwrap_or_else(|| panic!("module option {} is not a setting of the server", o.name));
        let nix_default = o.default.trim_matches('"');
        if o.default != "null" && !nix_default.is_empty() {
            assert_eq!(
                Some(nix_default),
                default.as_deref(),
                "{}: the module's default is {}, the server's {default:?}",
                o.name,
                o.default
            );
        }
        if let Some(range) = o.ty.strip_prefix("types.ints.between ") {
            let (lo, hi) = range.split_once(' ').unwrap();
            let (lo, hi): (u64, u64) = (lo.parse().unwrap(), hi.parse().unwrap());
            assert!(
                accepts(flag, &lo.to_string()) && accepts(flag, &hi.to_string()),
                "{}: {range}",
                o.name
            );
            assert!(
                !accepts(flag, &(hi + 1).to_string()),
                "{} takes more than the module allows",
                o.name
            );
            if lo > 0 {
                assert!(
                    !accepts(flag, &(lo - 1).to_string()),
                    "{} takes less than the module allows",
                    o.name
                );
            }
        }
        if o.ty == "types.ints.positive" {
            assert!(
                accepts(flag, "1") && !accepts(flag, "0"),
                "{}: positive",
                o.name
            );
        }
        if let Some(list) = o.ty.strip_prefix("types.enum [") {
            for v in list.trim_end_matches(']').split_whitespace() {
                assert!(accepts(flag, v.trim_matches('"')), "{} refuses {v}", o.name);
            }
        }
        if o.ty == "types.bool" {
            assert!(
                accepts(flag, "true") && accepts(flag, "false"),
                "{}: bool",
                o.name
            );
        }
    }
}
