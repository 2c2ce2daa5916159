//! Helpers shared by the integration tests: the fake upstream, clients pointed at it,
//! and the real `allure-mcp` binary driven over stdio by rmcp's client.
#![allow(dead_code)]

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use allure_mcp::allure::{AllureClient, ClientOptions};
use allure_mcp::fake::{DEMO_TOKEN, FakeTestOps};
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
}

impl Session {
    pub async fn start(envs: &[(&str, &str)], args: &[&str]) -> Session {
        let (transport, stderr) = TokioChildProcess::builder(command(envs, args))
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn allure-mcp");
        let collected = Arc::new(Mutex::new(String::new()));
        if let Some(mut err) = stderr {
            let sink = collected.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let client = ().serve(transport).await.expect("initialize");
        Session {
            client,
            stderr: collected,
        }
    }

    /// A session against `fake` with its default token.
    pub async fn against(fake: &FakeTestOps, extra: &[(&str, &str)]) -> Session {
        let base = fake.base_url();
        let mut envs = vec![
            ("ALLURE_BASE_URL", base.as_str()),
            ("ALLURE_TOKEN", DEMO_TOKEN),
            ("REQUEST_TIMEOUT", "5"),
        ];
        envs.extend_from_slice(extra);
        Session::start(&envs, &[]).await
    }

    pub async fn call(&self, name: &str, args: Value) -> CallToolResult {
        let mut p = CallToolRequestParams::new(name.to_owned());
        if let Value::Object(m) = args {
            p = p.with_arguments(m);
        }
        self.client.call_tool(p).await.expect("tools/call answered")
    }

    pub async fn stop(self) -> String {
        let _ = self.client.cancel().await;
        self.stderr.lock().unwrap().clone()
    }
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
