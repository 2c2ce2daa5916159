//! The Nix side, as far as this machine can check it without a binary cache: every
//! `.nix` file parses; the NixOS module evaluates (with nixpkgs' lib from `NIXPKGS_LIB`)
//! over a stub of the options it sets, its assertions fire, and the units it produces
//! from the package's own pass `systemd-analyze verify` and the security threshold;
//! the flake exposes the module. What needs the network (`nix build`, `nix flake check`,
//! the VM test) is listed in the README.

use crate::common::{require, run_ok};

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_allure-mcp");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// nixpkgs' lib, from a checkout named by NIXPKGS_LIB (nix-community/nixpkgs.lib). No
/// package registry this project's machines reach carries it, so the tests that need it
/// are `#[ignore]`d, and fail when run without it.
fn nixpkgs_lib() -> PathBuf {
    let lib = std::env::var_os("NIXPKGS_LIB").map(PathBuf::from);
    match lib {
        Some(p) if p.join("lib/default.nix").exists() => p,
        _ => panic!("set NIXPKGS_LIB to a nixpkgs.lib checkout to evaluate the NixOS module"),
    }
}

fn nix_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_dir() && !["target", ".git", "node_modules"].contains(&name.as_str()) {
            nix_files(&p, out);
        } else if name.ends_with(".nix") {
            out.push(p);
        }
    }
}

#[test]
#[ignore = "needs nix-instantiate: cargo test --test it -- --ignored nix::every_nix_file_parses (.ci/run does)"]
fn every_nix_file_parses() {
    require("nix-instantiate");
    let mut files = Vec::new();
    nix_files(&root(), &mut files);
    assert!(files.len() >= 6, "{files:?}");
    for f in files {
        run_ok(Command::new("nix-instantiate").arg("--parse").arg(&f));
    }
}

#[test]
fn flake_lock_pins_every_input() {
    let lock: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("flake.lock")).unwrap()).unwrap();
    assert_eq!(lock["version"], 7);
    // The branch flake.nix asks for is the one locked: a supported stable release.
    let nixpkgs = &lock["nodes"]["nixpkgs"]["original"];
    assert_eq!(nixpkgs["ref"], "nixos-26.05", "{nixpkgs}");
    assert_eq!(lock["nodes"]["root"]["inputs"]["nixpkgs"], "nixpkgs");
    for input in ["nixpkgs", "crane", "advisory-db"] {
        let l = &lock["nodes"][input]["locked"];
        assert_eq!(
            l["rev"].as_str().unwrap().len(),
            40,
            "{input}: a full revision"
        );
        assert!(
            l["narHash"].as_str().unwrap().starts_with("sha256-"),
            "{input}"
        );
        assert!(
            l["lastModified"].as_u64().unwrap() > 1_700_000_000,
            "{input}"
        );
    }
}

fn evaluate(lib: &Path) -> Value {
    let out = run_ok(
        Command::new("nix-instantiate")
            .args(["--eval", "--strict", "--json"])
            .arg(root().join("nix/tests/eval-module.nix"))
            .args(["--arg", "lib"])
            .arg(format!("import {}/lib", lib.display())),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
#[ignore = "needs nixpkgs' lib: NIXPKGS_LIB=<nixpkgs.lib checkout> cargo test --test it -- --ignored nix:: (no registry here carries it; CI cannot run it)"]
fn the_module_evaluates_and_its_assertions_fire() {
    require("nix-instantiate");
    let lib = nixpkgs_lib();
    let v = evaluate(&lib);
    for ok in [
        "good",
        "exposedWithTokens",
        "exposedBehindProxy",
        "lanAddresses",
        "withTlsAndPermissions",
        "exposedWithOAuth",
    ] {
        assert_eq!(
            v[ok]["failed"],
            Value::Array(vec![]),
            "{ok}: {}",
            v[ok]["failed"]
        );
    }
    let fails = |case: &str, needle: &str| {
        let f = v[case]["failed"].as_array().unwrap();
        assert_eq!(f.len(), 1, "{case}: {f:?}");
        assert!(f[0].as_str().unwrap().contains(needle), "{case}: {f:?}");
    };
    fails("noUrl", "ALLURE_BASE_URL must be set");
    fails("tokenInStore", "allureTokenFile is in the Nix store");
    fails("authInStore", "authTokensFile is in the Nix store");
    fails("exposed", "beyond loopback without");
    fails("wildcardWithoutNames", "set services.allure-mcp.hostNames");
    fails("secretInSettings", "settings has ALLURE_TOKEN");
    fails("twoAddresses", "must name exactly one address");
    fails("hostsTwice", "either hostNames or settings.ALLOWED_HOSTS");
    fails("tlsHalf", "set both certFile and keyFile");
    fails("clientSecretInSettings", "settings has OAUTH_CLIENT_SECRET");
    fails("tlsKeyInStore", "tls.keyFile is in the Nix store");
    // The certificate, its key and the permissions are credentials, refreshed on reload.
    let tls = v["withTlsAndPermissions"]["service"].as_str().unwrap();
    for want in [
        "LoadCredential=mcp-permissions:/etc/allure-mcp/permissions",
        "LoadCredential=tls-cert:/var/lib/acme/mcp.example.com/fullchain.pem",
        "LoadCredential=tls-key:/var/lib/acme/mcp.example.com/key.pem",
        "\"--credential\" \"tls-cert=/var/lib/acme/mcp.example.com/fullchain.pem\"",
        "\"--credential\" \"tls-key=/var/lib/acme/mcp.example.com/key.pem\"",
        "\"--credential\" \"mcp-permissions=/etc/allure-mcp/permissions\"",
    ] {
        assert!(tls.contains(want), "{want} missing: {tls}");
    }
    let oauth = v["exposedWithOAuth"]["service"].as_str().unwrap();
    assert!(
        oauth.contains("Environment=\"OAUTH_ISSUER=https://sso.example.com/realms/qa\""),
        "{oauth}"
    );
    assert!(
        oauth.contains("LoadCredential=oauth-client-secret:/run/secrets/oauth-client-secret"),
        "{oauth}"
    );
    // The firewall opens only what listens beyond loopback.
    assert_eq!(v["loopbackFirewall"]["firewall"], serde_json::json!([]));
    assert_eq!(v["lanAddresses"]["firewall"], serde_json::json!([3001]));
    // What systemd or the server cannot use is refused by the option's type; the forms
    // they can are taken.
    assert_eq!(
        v["refused"],
        serde_json::json!([true, true, true, true, true, true])
    );
    assert_eq!(v["accepted"], serde_json::json!([true, true, true]));
    // Beyond loopback, the Host values clients use are accepted: named ones, and the
    // addresses listened on.
    let env_line = |case: &str| v[case]["service"].as_str().unwrap().to_owned();
    assert!(
        env_line("exposedWithTokens")
            .contains("Environment=\"ALLOWED_HOSTS=mcp.example.com,localhost,127.0.0.1,::1\""),
        "{}",
        env_line("exposedWithTokens")
    );
    assert!(
        env_line("lanAddresses").contains("ALLOWED_HOSTS=fd00::5,localhost,127.0.0.1,::1"),
        "{}",
        env_line("lanAddresses")
    );
    assert!(
        !env_line("good").contains("ALLOWED_HOSTS"),
        "loopback keeps the default"
    );
    // systemd's quoting, not the shell's: `%` doubled, every argument in double quotes.
    assert!(
        env_line("exposedBehindProxy")
            .contains("\"--allow-unauthenticated\" \"--log-level=debug %%h\""),
        "{}",
        env_line("exposedBehindProxy")
    );
    assert_eq!(
        v["exposedWithTokens"]["firewall"],
        serde_json::json!([3000])
    );
    assert_eq!(v["good"]["firewall"], serde_json::json!([]));
    assert_eq!(
        v["good"]["socketWantedBy"],
        serde_json::json!(["sockets.target"])
    );
    assert_eq!(
        v["good"]["packages"],
        serde_json::json!(["/nix/store/00000000000000000000000000000000-allure-mcp"])
    );
    let service = v["good"]["service"].as_str().unwrap();
    assert!(service.contains("LoadCredential=\nLoadCredential=allure-token:/run/secrets/allure-token\nLoadCredential=mcp-auth-tokens:/run/secrets/mcp-tokens"), "{service}");
    assert!(service.contains("Environment=\"ALLURE_READ_ONLY=true\""));
    assert!(
        service.contains("--pid $MAINPID"),
        "systemd substitutes MAINPID: {service}"
    );
    // Only the credentials the module names are refreshed, not /etc/allure-mcp's.
    assert!(service.contains("\"--from\" \"/var/empty\""), "{service}");
    assert!(
        !service.contains("/run/secrets/allure-token\n") || !service.contains("ALLURE_TOKEN="),
        "no secret in the environment"
    );
}

#[test]
#[ignore = "needs nixpkgs' lib: NIXPKGS_LIB=<nixpkgs.lib checkout> cargo test --test it -- --ignored nix:: (no registry here carries it; CI cannot run it)"]
fn the_units_the_module_makes_verify_and_score() {
    require("nix-instantiate");
    require("systemd-analyze");
    let lib = nixpkgs_lib();
    let v = evaluate(&lib);
    let fake_exe = "/nix/store/00000000000000000000000000000000-allure-mcp/bin/allure-mcp";
    let dir = tempfile::tempdir().unwrap();
    // The package's units (as the Nix package installs them), then the module's drop-in
    // sections appended: systemd reads repeated sections in one file like a drop-in.
    for (unit, extra) in [
        ("allure-mcp.service", &v["good"]["service"]),
        ("allure-mcp.socket", &v["good"]["socket"]),
    ] {
        let base = std::fs::read_to_string(root().join("systemd").join(unit))
            .unwrap()
            .replace("/usr/bin/allure-mcp", BIN);
        let text = format!("{base}\n{}", extra.as_str().unwrap().replace(fake_exe, BIN));
        std::fs::write(dir.path().join(unit), text).unwrap();
    }
    run_ok(
        Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(dir.path().join("allure-mcp.socket"))
            .arg(dir.path().join("allure-mcp.service")),
    );
    run_ok(
        Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--threshold=11"])
            .arg(dir.path().join("allure-mcp.service")),
    );
}

#[test]
#[ignore = "needs nixpkgs' lib: NIXPKGS_LIB=<nixpkgs.lib checkout> cargo test --test it -- --ignored nix:: (no registry here carries it; CI cannot run it)"]
fn the_flake_exposes_the_module() {
    require("nix");
    let lib = nixpkgs_lib();
    // A copy of the flake's own files (not target/), with every input overridden by a
    // local path: nothing is fetched. nixpkgs.lib stands in for all three; only
    // `nixpkgs.lib` is needed to evaluate the module.
    let dir = tempfile::tempdir().unwrap();
    for f in ["flake.nix", "flake.lock"] {
        std::fs::copy(root().join(f), dir.path().join(f)).unwrap();
    }
    let status = Command::new("cp")
        .arg("-r")
        .arg(root().join("nix"))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    // A stand-in for nixpkgs: its real lib, and just enough `legacyPackages` for `nix eval`'s
    // search through `packages.<system>.` to fall through to `nixosModules.default`.
    let stub = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .arg("-r")
        .arg(lib.join("lib"))
        .arg(stub.path())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(
        stub.path().join("flake.nix"),
        r#"{ outputs = _: let lib = import ./lib; in { inherit lib; legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ] (system: { stdenv = { isLinux = false; hostPlatform = { inherit system; }; }; }); }; }"#,
    )
    .unwrap();
    let lib_flake = format!("path:{}", stub.path().display());
    let out = run_ok(
        Command::new("nix")
            .args([
                "--extra-experimental-features",
                "nix-command flakes",
                "eval",
                "--no-write-lock-file",
            ])
            .args([
                "--override-input",
                "nixpkgs",
                &lib_flake,
                "--override-input",
                "crane",
                &lib_flake,
                "--override-input",
                "advisory-db",
                &lib_flake,
            ])
            .arg(format!(
                "path:{}#nixosModules.default",
                dir.path().display()
            ))
            .args(["--apply", "m: builtins.typeOf m"]),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "\"lambda\"");
}

/// The NixOS VM test's MCP session (`nix/tests/mcp-smoke.sh`), run here as the VM test
/// runs it, against the binary with the VM's settings (read-only, a named token); and the
/// same script refused with a wrong token, so it can fail.
#[tokio::test]
#[ignore = "needs curl: cargo test --test it -- --ignored nix::the_vm_test (.ci/run does)"]
async fn the_vm_tests_mcp_session_works_against_the_binary() {
    require("curl");
    let fake = fake_testops::FakeTestOps::start().await.unwrap();
    let server = crate::common::HttpServer::against(
        &fake,
        "vm:vm-mcp-token",
        &[("ALLURE_READ_ONLY", "true")],
    )
    .await;
    // Async: the fake answers from this test's runtime, which a blocking wait would stop.
    let smoke = async |token: &str| {
        tokio::process::Command::new("sh")
            .arg(root().join("nix/tests/mcp-smoke.sh"))
            .args([&server.url(""), token, "read-only"])
            .output()
            .await
            .unwrap()
    };
    let out = smoke("vm-mcp-token").await;
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}\nserver: {}",
        String::from_utf8_lossy(&out.stderr),
        server.logs()
    );
    for step in [
        "initialize: session opened",
        "notifications/initialized: accepted",
        "tools/call get_project: Web Shop",
        "tools/list: read-only (no close_launch)",
        "DELETE: session closed",
    ] {
        assert!(said.contains(step), "{step}: {said}");
    }
    let wrong = smoke("not-the-token").await;
    assert!(
        !wrong.status.success(),
        "a refused session fails the script"
    );
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("initialize: HTTP 401"));
    server.stop().await;
}

/// `checks.module-eval` as the Nix build sandbox runs it: `nix/tests/verify-units.sh` as an
/// unprivileged user, over read-only copies of the package's units (as in the store),
/// with no /etc/systemd and systemd's own units only where named (Debian's stand in for
/// nixpkgs' `$out/example/systemd/system`). The drop-ins are the module's rendering when
/// NIXPKGS_LIB is set, else a small one of the same shape.
#[test]
#[ignore = "needs root and systemd-analyze: cargo test --test it -- --ignored nix::the_module_check (.ci/run does)"]
fn the_module_check_passes_as_the_nix_sandbox_runs_it() {
    use std::os::unix::fs::{PermissionsExt, chown};
    crate::common::require_root();
    require("systemd-analyze");
    require("setpriv");
    let nobody = 65534;
    let build = tempfile::tempdir().unwrap();
    chown(build.path(), Some(nobody), Some(nobody)).unwrap();
    // A "store": the package as nix/package.nix installs it, read-only.
    let store = build.path().join("store");
    let units = store.join("lib/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::create_dir_all(store.join("bin")).unwrap();
    let exe = store.join("bin/allure-mcp");
    std::fs::copy(BIN, &exe).unwrap();
    for unit in ["allure-mcp.service", "allure-mcp.socket"] {
        let text = std::fs::read_to_string(root().join("systemd").join(unit))
            .unwrap()
            .replace("/usr/bin/allure-mcp", exe.to_str().unwrap());
        std::fs::write(units.join(unit), text).unwrap();
    }
    let (service, socket) = match std::env::var_os("NIXPKGS_LIB") {
        Some(_) => {
            let v = evaluate(&nixpkgs_lib());
            let fake_exe = "/nix/store/00000000000000000000000000000000-allure-mcp/bin/allure-mcp";
            let own = |k: &str| v["good"][k].as_str().unwrap().replace(fake_exe, exe.to_str().unwrap());
            (own("service"), own("socket"))
        }
        None => (
            "[Service]\nEnvironment=\"ALLURE_READ_ONLY=true\"\nLoadCredential=\nLoadCredential=allure-token:/run/secrets/allure-token\n".to_owned(),
            "[Socket]\nListenStream=\nListenStream=127.0.0.1:3000\n".to_owned(),
        ),
    };
    std::fs::write(store.join("service.conf"), service).unwrap();
    std::fs::write(store.join("socket.conf"), socket).unwrap();
    let mode =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    for f in [
        "service.conf",
        "socket.conf",
        "lib/systemd/system/allure-mcp.service",
        "lib/systemd/system/allure-mcp.socket",
    ] {
        mode(&store.join(f), 0o444);
    }
    mode(&exe, 0o555);
    for d in ["lib/systemd/system", "lib/systemd", "lib", "bin", ""] {
        mode(&store.join(d), 0o555);
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg("sh")
        .arg(root().join("nix/tests/verify-units.sh"))
        .arg(&units)
        .arg("/lib/systemd/system")
        .arg(store.join("service.conf"))
        .arg(store.join("socket.conf"))
        .current_dir(build.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/homeless-shelter")
        .env("TMPDIR", build.path())
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("Overall exposure level for allure-mcp.service"),
        "{said}"
    );
    // Both drop-ins were read where NixOS puts them.
    for dropin in [
        "allure-mcp.service.d/overrides.conf",
        "allure-mcp.socket.d/overrides.conf",
    ] {
        let copy = std::fs::read_dir(build.path())
            .unwrap()
            .flatten()
            .map(|e| e.path().join("units").join(dropin))
            .find(|p| p.exists());
        assert!(copy.is_some(), "{dropin} was not installed");
    }
}
