//! The shipped units under real systemd: a minimal Debian booted with systemd-nspawn
//! (root filesystem made once with mmdebstrap and cached), with the binary, the units,
//! a token credential, and the fake TestOps on the host's loopback. Checks socket activation on first
//! connection (over HTTPS, the certificate a credential), the dynamic uid, LoadCredential
//! reaching upstream, certificate renewal by reload, Type=notify,
//! journald's structured fields, token rotation by `systemctl reload`, a frozen process
//! killed by the watchdog and restarted, and a configuration error not restarted. With
//! NIXPKGS_LIB set, the units are the ones the NixOS module makes (its drop-ins as NixOS
//! installs them), and a request by the module's host name is served.

use crate::common::{require, require_root};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{SseClient, run_ok};
use serde_json::{Value, json};

const ROOTFS_CACHE: &str = "/var/cache/allure-mcp-tests";

/// How the root filesystem is made. On purpose without `ca-certificates`: the service
/// must start and serve an `http://` upstream on a machine with no CA store.
const MMDEBSTRAP_ARGS: [&str; 3] = [
    "--variant=minbase",
    "--include=systemd,systemd-sysv,dbus,procps",
    "bookworm",
];

/// The cached Debian root filesystem, made on first use. The cache's name carries a
/// hash of the mmdebstrap arguments, so a changed package list never finds an old tree.
fn rootfs() -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    MMDEBSTRAP_ARGS.hash(&mut h);
    let base =
        PathBuf::from(std::env::var("ALLURE_MCP_ROOTFS").unwrap_or_else(|_| ROOTFS_CACHE.into()));
    let cache = base.join(format!("rootfs-{:016x}", h.finish()));
    if !cache.join("usr/lib/systemd/systemd").exists() {
        let tmp = cache.with_extension("tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&base).unwrap();
        run_ok(Command::new("mmdebstrap").args(MMDEBSTRAP_ARGS).arg(&tmp));
        let _ = std::fs::remove_dir_all(&cache);
        std::fs::rename(&tmp, &cache).unwrap();
    }
    assert!(
        !cache.join("etc/ssl/certs/ca-certificates.crt").exists(),
        "the root filesystem must have no CA store (it proves the http:// case)"
    );
    cache
}

/// Processes whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit(')')
                        .next()
                        .and_then(|r| r.split_whitespace().nth(1))
                        .and_then(|pp| pp.parse::<u32>().ok())
                })
                == Some(pid)
        })
        .collect()
}

struct Container {
    nspawn: std::process::Child,
    init: u32,
    root: tempfile::TempDir,
}

impl Container {
    /// A command inside the container (all its namespaces).
    fn exec(&self, args: &[&str]) -> std::process::Output {
        Command::new("nsenter")
            .args([
                "-t",
                &self.init.to_string(),
                "-m",
                "-u",
                "-i",
                "-p",
                "-n",
                "--",
            ])
            .args(args)
            .output()
            .unwrap()
    }
    fn out(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.exec(args).stdout)
            .trim()
            .to_owned()
    }
    fn prop(&self, unit: &str, p: &str) -> String {
        self.out(&["systemctl", "show", unit, "-p", p, "--value"])
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.nspawn.kill();
        let _ = self.nspawn.wait();
    }
}

fn write(root: &Path, p: &str, content: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let path = root.join(p.trim_start_matches('/'));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, content).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_for(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The module's drop-ins for this test's fake and port (`nspawn` in
/// nix/tests/eval-module.nix), with the binary where the container has it; `None` without
/// NIXPKGS_LIB, and then the test boots the package's units with its own drop-ins.
fn module_dropins(base_url: &str, port: u16) -> Option<(String, String)> {
    let lib = std::env::var("NIXPKGS_LIB").ok()?;
    let out = run_ok(
        Command::new("nix-instantiate")
            .args(["--eval", "--strict", "--json"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("nix/tests/eval-module.nix"))
            .args(["--arg", "lib", &format!("import {lib}/lib")])
            .args([
                "--argstr",
                "baseUrl",
                base_url,
                "--argstr",
                "port",
                &port.to_string(),
            ]),
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["nspawn"]["failed"],
        json!([]),
        "the module refused the test's configuration"
    );
    let exe = "/nix/store/00000000000000000000000000000000-allure-mcp/bin/allure-mcp";
    let text = |k: &str| {
        v["nspawn"][k]
            .as_str()
            .unwrap()
            .replace(exe, "/usr/bin/allure-mcp")
    };
    Some((text("service"), text("socket")))
}

#[tokio::test]
#[ignore = "needs root, systemd-nspawn, mmdebstrap and network access to Debian's mirror: cargo test --test it -- --ignored nspawn:: (.ci/run does)"]
async fn the_units_under_real_systemd() {
    require("systemd-nspawn");
    require("mmdebstrap");
    require("nsenter");
    require_root();
    let started = Instant::now();
    let cache = rootfs();
    let root = tempfile::Builder::new()
        .prefix("allure-mcp-nspawn")
        .tempdir_in(cache.parent().unwrap())
        .unwrap();
    run_ok(
        Command::new("cp")
            .args(["-a", "--reflink=auto"])
            .arg(format!("{}/.", cache.display()))
            .arg(root.path()),
    );
    let r = root.path();
    // The socket's port must be named in a unit before systemd binds it; the fake's
    // is whatever the kernel gives.
    let port = free_port();
    let (allure_token, tok1, tok2) = (
        "allure-token-from-credential",
        "first-mcp-token-0123456789",
        "second-mcp-token-9876543210",
    );

    // The fake TestOps runs in this process: the container shares the host's network, so
    // the service reaches it on loopback, as it would reach a real instance.
    let fake = fake_testops::FakeTestOps::start_with(fake_testops::FakeOptions {
        api_tokens: vec![allure_token.to_owned()],
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Default::default()
    })
    .await
    .unwrap();
    // The binary, the shipped units (unchanged) and two test drop-ins.
    std::fs::copy(
        env!("CARGO_BIN_EXE_allure-mcp"),
        r.join("usr/bin/allure-mcp"),
    )
    .unwrap();
    let units = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    for u in ["allure-mcp.service", "allure-mcp.socket"] {
        std::fs::copy(units.join(u), r.join("etc/systemd/system").join(u)).unwrap();
    }
    // With nixpkgs' lib at hand, the units as the NixOS module makes them: its settings as
    // the `overrides.conf` drop-ins NixOS writes for a unit a package provides.
    let module = module_dropins(&fake.base_url(), port);
    if let Some((service, socket)) = &module {
        write(
            r,
            "etc/systemd/system/allure-mcp.service.d/overrides.conf",
            service,
            0o644,
        );
        write(
            r,
            "etc/systemd/system/allure-mcp.socket.d/overrides.conf",
            socket,
            0o644,
        );
    } else {
        write(
            r,
            "etc/systemd/system/allure-mcp.socket.d/test.conf",
            &format!("[Socket]\nListenStream=\nListenStream=127.0.0.1:{port}\n"),
            0o644,
        );
    }
    // HTTPS on the socket, the certificate and key handed over as credentials: by the
    // module's `tls` options, or by the drop-in an administrator would write.
    let tls_credentials = if module.is_some() {
        ""
    } else {
        "LoadCredential=tls-cert:/etc/allure-mcp/tls-cert\nLoadCredential=tls-key:/etc/allure-mcp/tls-key\n"
    };
    write(
        r,
        "etc/systemd/system/allure-mcp.service.d/test.conf",
        &format!("[Service]\nWatchdogSec=3s\nRestartSec=1s\nTimeoutStopSec=5s\n{tls_credentials}"),
        0o644,
    );
    let ca = crate::https::Ca::new("nspawn test CA");
    let install_cert = |root: &Path, name: &str| {
        let (cert, key) = ca.server_cert(name);
        write(root, "etc/allure-mcp/tls-cert", &cert, 0o600);
        write(root, "etc/allure-mcp/tls-key", &key, 0o600);
    };
    install_cert(r, "first");
    std::fs::create_dir_all(r.join("etc/systemd/system/sockets.target.wants")).unwrap();
    std::fs::create_dir_all(r.join("etc/systemd/system/multi-user.target.wants")).unwrap();
    std::os::unix::fs::symlink(
        "/etc/systemd/system/allure-mcp.socket",
        r.join("etc/systemd/system/sockets.target.wants/allure-mcp.socket"),
    )
    .unwrap();
    write(
        r,
        "etc/allure-mcp/env",
        &format!(
            "ALLURE_BASE_URL={}\nLOG_LEVEL=info\nRATE_LIMIT_PER_SECOND=1000\nRATE_LIMIT_BURST=1000\n",
            fake.base_url()
        ),
        0o644,
    );
    write(
        r,
        "etc/allure-mcp/allure-token",
        &format!("{allure_token}\n"),
        0o600,
    );
    write(
        r,
        "etc/allure-mcp/mcp-auth-tokens",
        &format!("ops:{tok1}\n"),
        0o600,
    );

    let log = std::fs::File::create(r.join("nspawn.log")).unwrap();
    let nspawn = Command::new("systemd-nspawn")
        .env("SYSTEMD_NSPAWN_UNIFIED_HIERARCHY", "1")
        .args([
            "--boot",
            "--register=no",
            "--keep-unit",
            "--system-call-filter=bpf",
            "--quiet",
            "-D",
        ])
        .arg(r)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let nspawn_pid = nspawn.id();
    let mut init = 0;
    wait_for("the container's systemd", Duration::from_secs(30), || {
        // PID 1 of the container is nspawn's child (or grandchild, depending on options).
        let kids = children(nspawn_pid);
        let grandkids: Vec<u32> = kids.iter().flat_map(|k| children(*k)).collect();
        init = kids
            .into_iter()
            .chain(grandkids)
            .find(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "systemd")
            })
            .unwrap_or(0);
        init != 0
    })
    .await;
    let c = Container { nspawn, init, root };
    // PID 1 exists before its bus does: ask until it can answer, then wait for the boot.
    let mut booted = String::new();
    wait_for("the container's boot", Duration::from_secs(60), || {
        booted = c.out(&["systemctl", "is-system-running", "--wait"]);
        !booted.is_empty()
            && booted != "offline"
            && booted != "initializing"
            && booted != "starting"
    })
    .await;
    assert!(
        booted == "running" || booted == "degraded",
        "boot: {booted}; failed: {}",
        c.out(&["systemctl", "--failed", "--no-legend"])
    );

    // Inactive until the first connection.
    assert_eq!(c.prop("allure-mcp.socket", "ActiveState"), "active");
    assert_eq!(c.prop("allure-mcp.service", "ActiveState"), "inactive");
    let base = format!("https://127.0.0.1:{port}");
    let client = ca.client();
    let call = |token: &'static str, id: i64| {
        let url = format!("{base}/mcp");
        let client = client.clone();
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .header("accept", "application/json, text/event-stream")
                .json(&json!({"jsonrpc":"2.0","id":id,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"nspawn","version":"1"}}}))
                .send()
                .await
                .unwrap()
        }
    };
    let first = call(tok1, 1).await;
    assert_eq!(
        first.status(),
        200,
        "the first connection activated the service and was answered"
    );
    assert_eq!(c.prop("allure-mcp.service", "ActiveState"), "active");
    assert_eq!(c.prop("allure-mcp.service", "SubState"), "running");
    assert_eq!(c.prop("allure-mcp.service", "Type"), "notify");
    let main_pid = c.prop("allure-mcp.service", "MainPID");
    let uid: u32 = c
        .out(&["stat", "-c", "%u", &format!("/proc/{main_pid}")])
        .parse()
        .unwrap();
    assert!((61184..=65519).contains(&uid), "a dynamic uid, got {uid}");

    // The module's units: a request with the host name it was given (as a proxy on the
    // host would pass it on) is served; any other name is refused.
    if module.is_some() {
        for (host, status) in [("mcp.example.com", 200), ("evil.example.com", 403)] {
            let resp = client
                .post(format!("{base}/mcp"))
                .header("host", format!("{host}:{port}"))
                .bearer_auth(tok1)
                .header("accept", "application/json, text/event-stream")
                .json(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"proxy","version":"1"}}}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), status, "Host: {host}");
        }
    }

    // A tool call through the Allure token that arrived by LoadCredential (the fake
    // accepts no other token).
    let mut sse = SseClient::open_with(&client, &format!("{base}/sse"), Some(tok1))
        .await
        .ok()
        .unwrap();
    let (_, endpoint) = sse.next().await.unwrap();
    let post = |token: &'static str, body: Value| {
        let url = format!("{base}{endpoint}");
        let client = client.clone();
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    post(tok1, json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"c","version":"1"}}})).await;
    sse.response(1).await;
    post(
        tok1,
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
    )
    .await;
    post(tok1, json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_project","arguments":{"project_id":3}}})).await;
    let answer = sse.response(2).await;
    assert_eq!(
        answer["result"]["structuredContent"]["abbr"], "PAY",
        "{answer}"
    );

    // journald holds the audit record with its fields (it stores what it receives a
    // moment later: asked until it has it).
    let mut journal = String::new();
    wait_for(
        "the audit record in the journal",
        Duration::from_secs(30),
        || {
            journal = c.out(&[
                "journalctl",
                "-u",
                "allure-mcp.service",
                "-o",
                "json",
                "--no-pager",
            ]);
            journal.contains("\"TOOL\":\"get_project\"")
        },
    )
    .await;
    let audit: Value = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|r| r["TOOL"] == "get_project")
        .unwrap_or_else(|| panic!("no audit record in the journal:\n{journal}"));
    assert_eq!(audit["IDENTITY"], "ops");
    assert_eq!(audit["PROJECT_ID"], "3");
    assert_eq!(audit["SYSLOG_IDENTIFIER"], "allure-mcp");
    assert!(
        !journal.contains(tok1) && !journal.contains(allure_token),
        "a secret in the journal"
    );

    // Token rotation: edit the file, reload; the open session lives on.
    write(
        c.root.path(),
        "etc/allure-mcp/mcp-auth-tokens",
        &format!("ops:{tok2}\n"),
        0o600,
    );
    let reload = c.exec(&["systemctl", "reload", "allure-mcp.service"]);
    assert!(
        reload.status.success(),
        "reload: {}",
        String::from_utf8_lossy(&reload.stderr)
    );
    // The reload may return before the service has read the new file: asked until it
    // has, then the old token must be gone.
    let deadline = Instant::now() + Duration::from_secs(30);
    while call(tok2, 3).await.status() != 200 {
        assert!(Instant::now() < deadline, "the new token was not accepted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(call(tok1, 4).await.status(), 401);
    assert_eq!(
        c.prop("allure-mcp.service", "MainPID"),
        main_pid,
        "reloaded, not restarted"
    );
    assert_eq!(
        post(tok2, json!({"jsonrpc":"2.0","id":5,"method":"ping"})).await,
        202
    );
    assert!(
        sse.response(5).await["result"].is_object(),
        "the SSE session survived the reload"
    );

    // Certificate renewal: replace the files, reload; new connections get the renewed
    // certificate (copied in by ExecReload's refresh-credentials), the session lives on.
    let addr = format!("127.0.0.1:{port}");
    let first = crate::https::tls_connect(&addr, &ca, b"http/1.1").await;
    assert_eq!(crate::https::served_name(&first), "first");
    install_cert(c.root.path(), "second");
    let reload = c.exec(&["systemctl", "reload", "allure-mcp.service"]);
    assert!(reload.status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while crate::https::served_name(&crate::https::tls_connect(&addr, &ca, b"http/1.1").await)
        != "second"
    {
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was not served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(c.prop("allure-mcp.service", "MainPID"), main_pid);
    assert_eq!(
        post(tok2, json!({"jsonrpc":"2.0","id":7,"method":"ping"})).await,
        202
    );
    assert!(
        sse.response(7).await["result"].is_object(),
        "the SSE session survived the renewal"
    );

    // A frozen process stops pinging; the watchdog kills it and systemd restarts it.
    let frozen = c.exec(&["systemctl", "kill", "-s", "SIGSTOP", "allure-mcp.service"]);
    assert!(frozen.status.success());
    let mut result = String::new();
    wait_for("Result=watchdog", Duration::from_secs(30), || {
        result = c.prop("allure-mcp.service", "Result");
        result == "watchdog" || c.prop("allure-mcp.service", "NRestarts") != "0"
    })
    .await;
    wait_for("the restart", Duration::from_secs(30), || {
        c.prop("allure-mcp.service", "SubState") == "running"
            && c.prop("allure-mcp.service", "MainPID") != main_pid
    })
    .await;
    assert!(
        c.prop("allure-mcp.service", "NRestarts")
            .parse::<u32>()
            .unwrap()
            >= 1
    );
    let journal = c.out(&["journalctl", "-u", "allure-mcp.service", "--no-pager"]);
    assert!(journal.contains("Watchdog timeout"), "{journal}");
    assert_eq!(
        call(tok2, 6).await.status(),
        200,
        "serving again after the restart"
    );

    // A configuration error (exit 2) is not restarted: the unit fails once, for good.
    write(
        c.root.path(),
        "etc/systemd/system/allure-mcp.service.d/zz-broken.conf",
        "[Service]\nEnvironmentFile=/etc/allure-mcp/broken.env\n",
        0o644,
    );
    // A later EnvironmentFile= wins over the earlier one (the drop-in sorts last, after
    // the module's `overrides.conf`, which resets the list). (In /etc: the container's /run
    // is its own.)
    write(
        c.root.path(),
        "etc/allure-mcp/broken.env",
        "ALLURE_BASE_URL=not-a-url\n",
        0o644,
    );
    assert!(c.exec(&["systemctl", "daemon-reload"]).status.success());
    let _ = c.exec(&["systemctl", "restart", "allure-mcp.service"]);
    let mut state = String::new();
    wait_for("the failed state", Duration::from_secs(30), || {
        let now = c.out(&[
            "systemctl",
            "show",
            "allure-mcp.service",
            "-p",
            "ActiveState,Result,NRestarts,ExecMainStatus",
        ]);
        if now != state {
            eprintln!("{now}");
            state = now;
        }
        state.contains("ActiveState=failed")
    })
    .await;
    eprintln!("{state}");
    assert_eq!(c.prop("allure-mcp.service", "ExecMainStatus"), "2");
    assert_eq!(c.prop("allure-mcp.service", "Result"), "exit-code");
    assert_eq!(
        c.prop("allure-mcp.service", "NRestarts"),
        "0",
        "a configuration error is not restarted"
    );
    let _ = c.exec(&["systemctl", "poweroff"]);
    eprintln!("real systemd test took {:?}", started.elapsed());
}
