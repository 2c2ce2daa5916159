//! Helpers shared by the integration tests: the fake upstream, clients pointed at it,
//! the real `allure-mcp` binary driven over stdio by rmcp's client, and the same server
//! in this process for tests of tool behaviour.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use allure_mcp::allure::{AllureClient, ClientOptions};
use fake_testops::{DEMO_TOKEN, FakeTestOps};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use secrecy::SecretString;
use serde_json::Value;

use tokio::io::AsyncReadExt;

pub fn options(fake: &FakeTestOps) -> ClientOptions {
    let mut o = ClientOptions::new(
        url::Url::parse(&fake.base_url()).unwrap(),
        SecretString::from(DEMO_TOKEN.to_owned()),
    );
    o.timeout = Duration::from_secs(5);
    o
}

pub fn client(fake: &FakeTestOps) -> AllureClient {
    AllureClient::new(options(fake)).unwrap()
}

/// The `allure-mcp` binary, with a clean environment (no stray ALLURE_* or .env).
pub fn command(envs: &[(&str, &str)], args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_allure-mcp"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir())
        .args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

/// A live stdio session with the real binary, its stderr collected.
pub struct Session {
    pub client: RunningService<RoleClient, ()>,
    pub stderr: Arc<Mutex<String>>,
    /// Reads stderr until the process closes it: `stop` awaits it, so assertions on the
    /// logs see all of them.
    reader: Option<tokio::task::JoinHandle<()>>,
}

impl Session {
    pub async fn start(envs: &[(&str, &str)], args: &[&str]) -> Session {
        let (transport, stderr) = TokioChildProcess::builder(command(envs, args))
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn allure-mcp");
        let collected = Arc::new(Mutex::new(String::new()));
        let mut reader = None;
        if let Some(mut err) = stderr {
            let sink = collected.clone();
            reader = Some(tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }));
        }
        let client = ().serve(transport).await.expect("initialize");
        Session {
            client,
            stderr: collected,
            reader,
        }
    }

    /// A session against `fake` with its default token.
    pub async fn against(fake: &FakeTestOps, extra: &[(&str, &str)]) -> Session {
        let base = fake.base_url();
        Session::start(&settings_against(&base, extra), &[]).await
    }

    pub async fn call(&self, name: &str, args: Value) -> CallToolResult {
        call_tool(&self.client, name, args).await
    }

    /// Ends the session (the server exits when stdin closes) and returns all it logged.
    pub async fn stop(self) -> String {
        let _ = self.client.cancel().await;
        if let Some(reader) = self.reader {
            tokio::time::timeout(Duration::from_secs(20), reader)
                .await
                .expect("the server closes stderr when it exits")
                .unwrap();
        }
        self.stderr.lock().unwrap().clone()
    }
}

/// The settings of a session against the fake at `base` with its default token, and
/// `extra` over them.
pub fn settings_against<'a>(
    base: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut settings = vec![
        ("ALLURE_BASE_URL", base),
        ("ALLURE_TOKEN", DEMO_TOKEN),
        ("REQUEST_TIMEOUT", "5"),
    ];
    for (name, value) in extra {
        settings.retain(|(s, _)| s != name);
        settings.push((name, value));
    }
    settings
}

/// `tools/call` of `name` with `args` (a JSON object), answered; its structured content,
/// if any, checked against the tool's output schema (every behaviour test checks it so).
async fn call_tool(
    client: &RunningService<RoleClient, ()>,
    name: &str,
    args: Value,
) -> CallToolResult {
    let r = try_call_tool(client, name, args)
        .await
        .expect("tools/call answered");
    if let Some(content) = &r.structured_content {
        let schema = output_schema(client, name).await;
        let errors = fits(&schema, content);
        assert!(
            errors.is_empty(),
            "{name}'s answer breaks its output schema: {errors:?}\n{content}"
        );
    }
    r
}

/// Where `value` breaks `schema` (JSON Schema 2020-12), if anywhere.
pub fn fits(schema: &Value, value: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).expect("a valid output schema");
    validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path))
        .collect()
}

/// A tool's output schema. Every server built from this code has the same schemas, so
/// they are asked for once per test binary.
async fn output_schema(client: &RunningService<RoleClient, ()>, name: &str) -> Value {
    static SCHEMAS: Mutex<Option<std::collections::HashMap<String, Value>>> = Mutex::new(None);
    if let Some(s) = SCHEMAS.lock().unwrap().as_ref().and_then(|m| m.get(name)) {
        return s.clone();
    }
    let tools = client.list_all_tools().await.expect("tools/list");
    let mut cache = SCHEMAS.lock().unwrap();
    let map = cache.get_or_insert_with(Default::default);
    for t in tools {
        if let Some(schema) = &t.output_schema {
            map.insert(t.name.to_string(), Value::Object((**schema).clone()));
        }
    }
    map.get(name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} answered structured content without an output schema"))
}

/// `tools/call`, with a JSON-RPC error answer as `Err` (its code and message).
pub async fn try_call_tool(
    client: &RunningService<RoleClient, ()>,
    name: &str,
    args: Value,
) -> Result<CallToolResult, (i32, String)> {
    let mut p = CallToolRequestParams::new(name.to_owned());
    if let Value::Object(m) = args {
        p = p.with_arguments(m);
    }
    match client.call_tool(p).await {
        Ok(r) => Ok(r),
        Err(rmcp::ServiceError::McpError(e)) => Err((e.code.0, e.message.into_owned())),
        Err(other) => panic!("tools/call failed: {other}"),
    }
}

/// The MCP server in this process, driven by rmcp's client over an in-memory pipe: built
/// from its settings as the binary builds it (`load_cli_from`, `Config::from_cli`,
/// `app::build`), with no process, stdio or logs of its own. For tool behaviour; what
/// needs the process (its stderr, logs, exit, signals) uses [`Session`], which has the
/// same `client`, `call` and `stop`.
pub struct InProcess {
    pub client: RunningService<RoleClient, ()>,
    /// The server's side of the session, until the client closes it.
    server: tokio::task::JoinHandle<Result<rmcp::service::QuitReason, String>>,
    /// The validating proxy between the server and the fake, with `PRISM` set: dropped
    /// with the session, it fails the test if it saw a violation.
    prism: Option<crate::prism::Prism>,
}

impl InProcess {
    /// Serves with `settings`, named as their environment variables (as [`Session::start`]
    /// takes them) but passed as command-line flags: nothing here reads or sets the
    /// process environment, which the tests' threads share.
    pub async fn start(settings: &[(&str, &str)]) -> InProcess {
        let (cli, _notices) = allure_mcp::config::load_cli_from(
            flags(settings),
            Path::new("/nonexistent/.env"),
            |_| false,
        )
        .expect("the settings parse");
        let config = allure_mcp::config::Config::from_cli(
            &cli,
            &allure_mcp::config::SecretSources::default(),
        )
        .expect("the settings are valid");
        let built = allure_mcp::app::build(&config)
            .await
            .expect("the server builds");
        let (server_end, client_end) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(async move {
            let running = built
                .server
                .serve(server_end)
                .await
                .map_err(|e| e.to_string())?;
            running.waiting().await.map_err(|e| e.to_string())
        });
        let client = ().serve(client_end).await.expect("initialize");
        InProcess {
            client,
            server,
            prism: None,
        }
    }

    /// A session against `fake` with its default token, `extra` settings over those.
    /// With `PRISM` set, through a validating proxy (see `prism.rs`).
    pub async fn against(fake: &FakeTestOps, extra: &[(&str, &str)]) -> InProcess {
        if crate::prism::Prism::binary().is_none() {
            return InProcess::against_url(&fake.base_url(), extra).await;
        }
        let prism = crate::prism::Prism::proxy(&fake.base_url()).await;
        let mut s = InProcess::against_url(&prism.url, extra).await;
        s.prism = Some(prism);
        s
    }

    /// A session against the Allure TestOps at `base` (the fake's token), directly.
    pub async fn against_url(base: &str, extra: &[(&str, &str)]) -> InProcess {
        InProcess::start(&settings_against(base, extra)).await
    }

    pub async fn call(&self, name: &str, args: Value) -> CallToolResult {
        call_tool(&self.client, name, args).await
    }

    /// Ends the session: the client closes its end, and the server's side ends cleanly.
    pub async fn stop(self) {
        drop(self.prism);
        let _ = self.client.cancel().await;
        tokio::time::timeout(Duration::from_secs(20), self.server)
            .await
            .expect("the server ends when the client closes the session")
            .unwrap()
            .expect("the server's side of the session ends cleanly");
    }
}

/// The command line for settings named as their environment variables, each as its
/// flag. clap still reads the environment for settings not on the command line, so a
/// setting the test process happens to have is pinned to its default (and one without a
/// default fails the test): an in-process server gets only the settings it is given.
fn flags(settings: &[(&str, &str)]) -> Vec<OsString> {
    use clap::CommandFactory;
    let cmd = allure_mcp::config::Cli::command();
    let long = |arg: &clap::Arg| arg.get_long().expect("every setting has a flag").to_owned();
    let mut args = vec![OsString::from("allure-mcp")];
    for (name, value) in settings {
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_env() == Some(OsStr::new(name)))
            .unwrap_or_else(|| panic!("no setting is named {name}"));
        args.push(format!("--{}={value}", long(arg)).into());
    }
    for arg in cmd.get_arguments() {
        let Some(name) = arg.get_env() else { continue };
        if std::env::var_os(name).is_none() || settings.iter().any(|(n, _)| OsStr::new(n) == name) {
            continue;
        }
        let default = arg.get_default_values().first().unwrap_or_else(|| {
            panic!(
                "{} is set in the environment of the tests, and an in-process server would take it: unset it",
                name.to_string_lossy()
            )
        });
        let mut flag = OsString::from(format!("--{}=", long(arg)));
        flag.push(default);
        args.push(flag);
    }
    args
}

/// The text of a tool result's first content block.
pub fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn is_error(r: &CallToolResult) -> bool {
    r.is_error == Some(true)
}

/// The real binary serving `--http` on a free loopback port.
pub struct HttpServer {
    pub child: tokio::process::Child,
    pub base: String,
    pub stderr: Arc<Mutex<String>>,
    /// Reads stderr until the process closes it (see [`HttpServer::stop`]).
    reader: tokio::task::JoinHandle<()>,
}

impl HttpServer {
    /// Starts it and waits until it says where it listens.
    pub async fn start(envs: &[(&str, &str)], args: &[&str]) -> HttpServer {
        let mut all_args = vec!["--http"];
        all_args.extend_from_slice(args);
        let mut envs = envs.to_vec();
        if !envs.iter().any(|(k, _)| *k == "PORT") {
            envs.push(("PORT", "0"));
        }
        let mut child = command(&envs, &all_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn allure-mcp --http");
        let collected = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = tokio::sync::oneshot::channel::<String>();
        let mut err = child.stderr.take().unwrap();
        let sink = collected.clone();
        let reader = tokio::spawn(async move {
            let mut tx = Some(tx);
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut all = sink.lock().unwrap();
                all.push_str(&String::from_utf8_lossy(&buf[..n]));
                if let Some(i) = all.find("listening on ") {
                    let rest = &all[i + "listening on ".len()..];
                    // Only a whole line: a read may stop in the middle of the address.
                    if let Some(end) = rest.find(char::is_whitespace)
                        && let Some(t) = tx.take()
                    {
                        let _ = t.send(rest[..end].to_owned());
                    }
                }
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(20), rx)
            .await
            .expect("server started")
            .expect("listening line");
        HttpServer {
            child,
            // `http://…` or `https://…`, as the server said.
            base: addr,
            stderr: collected,
            reader,
        }
    }

    /// `--http` against `fake` with the named MCP `tokens` (`name:token,…`), rate limits
    /// out of the way, and `extra` settings over those.
    pub async fn against(fake: &FakeTestOps, tokens: &str, extra: &[(&str, &str)]) -> HttpServer {
        let base = fake.base_url();
        let mut envs = vec![
            ("ALLURE_BASE_URL", base.as_str()),
            ("ALLURE_TOKEN", DEMO_TOKEN),
            ("MCP_AUTH_TOKENS", tokens),
            ("RATE_LIMIT_PER_SECOND", "10000"),
            ("RATE_LIMIT_BURST", "10000"),
        ];
        for (k, v) in extra {
            envs.retain(|(e, _)| e != k);
            envs.push((k, v));
        }
        HttpServer::start(&envs, &[]).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// `GET /metrics` with `token`.
    pub async fn metrics(&self, token: &str) -> reqwest::Response {
        http()
            .get(self.url("/metrics"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        signal(self.child.id().expect("running"), "TERM");
    }

    /// SIGTERM, then the exit status and everything it logged.
    pub async fn stop(mut self) -> (std::process::ExitStatus, String) {
        self.terminate();
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exits")
            .expect("status");
        // Everything it wrote, up to its end of stderr.
        tokio::time::timeout(Duration::from_secs(10), &mut self.reader)
            .await
            .expect("stderr reaches its end once the process has exited")
            .unwrap();
        (status, self.logs())
    }
}

/// The fake with CI job runs that take ten minutes: waits on them see a running launch.
pub async fn fake_with_long_jobs() -> FakeTestOps {
    FakeTestOps::start_with(fake_testops::FakeOptions {
        job_duration: Duration::from_secs(600),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// A launch of the seed data whose CI job run is still in progress.
pub fn running_launch(fake: &FakeTestOps) -> i64 {
    fake.with_data(|d| {
        d.job_runs
            .iter()
            .find(|j| j.stage == "in_progress")
            .unwrap()
            .launch_id
    })
}

/// A tool context for in-process calls through a [`allure_mcp::tools::Registry`].
pub fn ctx(client: AllureClient, limits: allure_mcp::tools::CallLimits) -> allure_mcp::tools::Ctx {
    allure_mcp::tools::Ctx {
        client,
        default_project: None,
        read_only: false,
        scope: allure_mcp::tools::CallScope::default(),
        metrics: Default::default(),
        limits: Arc::new(limits),
        callers: None,
        files_dir: None,
    }
}

/// A reqwest client for tests (rustls needs its provider chosen once per process).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().unwrap()
}

/// A minimal legacy SSE client: events as (event, data) pairs.
pub struct SseClient {
    pub events: tokio::sync::mpsc::UnboundedReceiver<(String, String)>,
    pub task: tokio::task::JoinHandle<()>,
}

impl SseClient {
    pub async fn open(url: &str, token: Option<&str>) -> Result<SseClient, reqwest::Response> {
        SseClient::open_with(&http(), url, token).await
    }

    /// [`SseClient::open`] with a client of the caller's (one that trusts a test CA).
    pub async fn open_with(
        client: &reqwest::Client,
        url: &str,
        token: Option<&str>,
    ) -> Result<SseClient, reqwest::Response> {
        let mut req = client.get(url).header("accept", "text/event-stream");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("GET /sse");
        if !resp.status().is_success() {
            return Err(resp);
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            use futures::StreamExt;
            let mut stream = resp.bytes_stream();
            let mut buf = String::new();
            let (mut event, mut data) = (String::new(), String::new());
            while let Some(Ok(chunk)) = stream.next().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(i) = buf.find('\n') {
                    let line = buf[..i].trim_end_matches('\r').to_owned();
                    buf.drain(..=i);
                    if line.is_empty() {
                        if !data.is_empty() || !event.is_empty() {
                            let _ =
                                tx.send((std::mem::take(&mut event), std::mem::take(&mut data)));
                        }
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
            }
        });
        Ok(SseClient { events: rx, task })
    }

    /// The next event (failing the test after 20 s).
    pub async fn next(&mut self) -> Option<(String, String)> {
        tokio::time::timeout(Duration::from_secs(20), self.events.recv())
            .await
            .expect("an SSE event in time")
    }

    /// The next `message` whose JSON-RPC id is `id`.
    pub async fn response(&mut self, id: i64) -> Value {
        loop {
            let (event, data) = self.next().await.expect("stream open");
            if event == "message" {
                let v: Value = serde_json::from_str(&data).unwrap();
                if v["id"] == id {
                    return v;
                }
            }
        }
    }
}

/// Runs a command to completion; the test fails, showing the command and all it printed,
/// unless it succeeded.
pub fn run_ok(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Fails the test unless `tool` is on PATH. Tests that need system tools are
/// `#[ignore]`d with the reason, so a plain `cargo test` shows them as not run; run
/// with `--ignored` (as `.ci/run` does) they must not pass without their tools.
pub fn require(tool: &str) {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{tool} is required by this test (.ci/run installs it)"
    );
}

/// Sends signal `name` (TERM, HUP, STOP, CONT) to `pid`, by the system call: the Nix
/// build sandbox has no `kill` command to run.
pub fn signal(pid: u32, name: &str) {
    use rustix::process::{Pid, Signal, kill_process};
    let sig = match name {
        "TERM" => Signal::TERM,
        "HUP" => Signal::HUP,
        "STOP" => Signal::STOP,
        "CONT" => Signal::CONT,
        other => panic!("no signal {other} here"),
    };
    let pid = Pid::from_raw(pid as i32).expect("a process id");
    kill_process(pid, sig).unwrap_or_else(|e| panic!("SIG{name} to {pid:?}: {e}"));
}

/// Fails the test unless it runs as root (for tests that are `#[ignore]`d for that).
pub fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test needs root (a container, a mount namespace or chown)"
    );
}

/// Polls `cond` every 50 ms until it holds; fails the test after `within`.
pub async fn eventually(within: Duration, what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + within;
    while !cond().await {
        assert!(
            std::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the binary to its exit; a server that starts instead of refusing fails the
/// test (and is killed) rather than hanging it.
pub async fn exit_of(mut cmd: tokio::process::Command) -> std::process::Output {
    cmd.kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("the process exits by itself (it must refuse to start, or finish its check)")
        .unwrap()
}

/// A loopback port that is bound but not listening, held as long as the socket lives:
/// connections to it are refused, and no other test can take it meanwhile (a port
/// found by binding and dropping a listener could be anyone's a moment later).
pub fn refused_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    (socket, port)
}

/// An rmcp client session over Streamable HTTP at `url` with `token`, through `client` (one
/// that trusts a test's CA) or a default one.
pub async fn mcp_session(
    url: String,
    token: &str,
    client: Option<reqwest::Client>,
) -> Result<RunningService<RoleClient, ()>, rmcp::service::ClientInitializeError> {
    use rmcp::ServiceExt;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(token.to_owned());
    match client {
        Some(c) => ().serve(StreamableHttpClientTransport::with_client(c, config)).await,
        None => ().serve(StreamableHttpClientTransport::from_config(config)).await,
    }
}

/// One real tool call through a session: `get_project` of project 4, whose abbreviation
/// the fake's seed data makes DATA.
pub async fn project_4_reads(client: &RunningService<RoleClient, ()>) {
    let r = client
        .call_tool(
            CallToolRequestParams::new("get_project").with_arguments(
                serde_json::json!({"project_id": 4})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(r.structured_content.unwrap()["abbr"], "DATA");
}
