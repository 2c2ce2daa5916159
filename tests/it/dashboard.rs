//! The launch dashboard as people see it: `get_launch_dashboard` against the fake, its
//! MCP App (`ui://allure-mcp/launch-dashboard`) read over MCP, and the page rendered in
//! headless Chromium inside a sandboxed iframe by a host page that speaks the MCP Apps
//! bridge (ui/initialize, ui/notifications/tool-result) with the tool's real answer.
//! The DOM is checked (counts by status, one row per failure group, links), a screenshot
//! is taken, and every request the page could make goes to a proxy that must see none.
//!
//! Needs Chromium: `CHROMIUM=<path>` or `chromium` on PATH (Debian's package); `.ci/run`
//! installs it and runs these with `--ignored dashboard::`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use fake_testops::FakeTestOps;
use rmcp::model::{ReadResourceRequestParams, ResourceContents};
use serde_json::{Value, json};

use crate::common::{InProcess, is_error, text};

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(p);
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        for name in ["chromium", "chromium-browser"] {
            let p = PathBuf::from(dir).join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!("no Chromium: install Debian's chromium package or set CHROMIUM");
}

/// A host page: the App in a sandboxed iframe, answered as an MCP Apps host answers,
/// its rendered body copied out once it reports its size (so the DOM dump holds it).
fn host_page(app_html: &str, result: &Value) -> String {
    let srcdoc = app_html.replace('&', "&amp;").replace('"', "&quot;");
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>host</title></head><body>
<iframe id="app" sandbox="allow-scripts allow-same-origin" style="width:960px;height:640px;border:1px solid #999" srcdoc="{srcdoc}"></iframe>
<div id="copied"></div><div id="bridge"></div>
<script>
const result = {result};
const frame = document.getElementById("app");
const seen = [];
window.addEventListener("message", (ev) => {{
  const m = ev.data;
  if (!m || m.jsonrpc !== "2.0" || ev.source !== frame.contentWindow) return;
  seen.push(m.method || ("response " + m.id));
  if (m.method === "ui/initialize") {{
    frame.contentWindow.postMessage({{jsonrpc: "2.0", id: m.id, result: {{protocolVersion: "2025-11-21", hostInfo: {{name: "test-host", version: "1"}}, hostCapabilities: {{}}, hostContext: {{}}}}}}, "*");
  }}
  if (m.method === "ui/notifications/initialized") {{
    frame.contentWindow.postMessage({{jsonrpc: "2.0", method: "ui/notifications/tool-result", params: {{content: [], structuredContent: result}}}}, "*");
  }}
  if (m.method === "ui/notifications/size-changed") {{
    const body = frame.contentDocument.body;
    document.getElementById("copied").innerHTML = '<section data-rendered="' + body.dataset.rendered + '">' + body.innerHTML + '</section>';
  }}
  document.getElementById("bridge").textContent = seen.join(",");
}});
</script></body></html>"#,
        result = result
    )
}

/// A proxy that answers nothing and keeps the first line of every request made to it:
/// everything Chromium would fetch goes here, and the page must fetch nothing.
async fn recording_proxy() -> (u16, Arc<Mutex<Vec<String>>>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut buf = [0u8; 512];
            let n = conn.read(&mut buf).await.unwrap_or(0);
            let line = String::from_utf8_lossy(&buf[..n]);
            s.lock()
                .unwrap()
                .push(line.lines().next().unwrap_or("").to_owned());
        }
    });
    (port, seen)
}

/// Chromium's own background calls (update and time checks, sign-in), which a browser
/// makes whatever page it shows; anything else came from the page.
fn from_the_page(line: &str) -> bool {
    let host = line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    !["google.com", "googleapis.com", "gstatic.com", "gvt1.com"]
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

async fn chromium_run(page: &std::path::Path, proxy: u16, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(chromium())
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--metrics-recording-only",
            "--virtual-time-budget=10000",
            "--window-size=1000,700",
            &format!("--user-data-dir={}", profile.path().display()),
            &format!("--proxy-server=http://127.0.0.1:{proxy}"),
            "--proxy-bypass-list=<-loopback>",
            // file:// pages are opaque origins; the host page reads its frame as a
            // same-origin host would.
            "--allow-file-access-from-files",
        ])
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(90), out)
        .await
        .expect("chromium finished")
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text of the first element after `marker` in `html`, up to the next `<`.
fn text_after<'a>(html: &'a str, marker: &str) -> &'a str {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in the DOM"));
    let rest = &html[at + marker.len()..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap();
    &rest[start..start + end]
}

#[tokio::test]
#[ignore = "needs Chromium; .ci/run installs it and runs `--ignored dashboard::`"]
async fn the_dashboard_renders_counts_groups_and_links_without_any_request() {
    let fake = FakeTestOps::start().await.unwrap();
    // A result whose name is markup: the page must show it as text, not load it.
    let launch = fake.with_data(|d| {
        let r = d
            .results
            .iter_mut()
            .find(|r| r.status == "failed" && r.message.is_some())
            .unwrap();
        r.name = "<img src=http://example.invalid/x.png> login".into();
        r.launch_id
    });
    let s = InProcess::against(&fake, &[("ALLURE_TOOLSETS", "launch_admin")]).await;

    // The tool names its App, and the App is served as MCP Apps says.
    let tools = s.client.list_all_tools().await.unwrap();
    let t = tools
        .iter()
        .find(|t| t.name == "get_launch_dashboard")
        .unwrap();
    let meta = serde_json::to_value(t).unwrap()["_meta"].clone();
    assert_eq!(
        meta["ui"]["resourceUri"],
        "ui://allure-mcp/launch-dashboard"
    );
    let r = s
        .client
        .read_resource(ReadResourceRequestParams::new(
            "ui://allure-mcp/launch-dashboard".to_owned(),
        ))
        .await
        .unwrap();
    let ResourceContents::TextResourceContents {
        text: html,
        mime_type,
        ..
    } = &r.contents[0]
    else {
        panic!("{r:?}")
    };
    assert_eq!(mime_type.as_deref(), Some("text/html;profile=mcp-app"));
    assert!(
        html.contains("default-src 'none'"),
        "the page forbids every fetch"
    );

    let answer = s
        .call("get_launch_dashboard", json!({"launch_id": launch}))
        .await;
    assert!(!is_error(&answer), "{}", text(&answer));
    let data = answer.structured_content.clone().unwrap();
    let groups = data["groups"].as_array().unwrap().clone();
    assert!(!groups.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("host.html");
    std::fs::write(&page, host_page(html, &data)).unwrap();
    let (proxy, requests) = recording_proxy().await;
    let dom = chromium_run(&page, proxy, &["--dump-dom"]).await;
    let copied = &dom[dom.find("id=\"copied\"").expect("the host page")..];
    assert!(
        copied.contains("data-rendered=\"true\""),
        "not rendered: {dom}"
    );

    // Counts by status, as the statistic says.
    for status in ["passed", "failed", "broken", "skipped", "unknown"] {
        let shown = text_after(
            copied,
            &format!(
                "data-status=\"{status}\"><span class=\"label\">{status}</span><span class=\"count\""
            ),
        );
        assert_eq!(shown, data["statistic"][status].to_string(), "{status}");
    }
    // One row per failure group, with its count, and every example linked.
    assert_eq!(copied.matches("<tr class=\"group\">").count(), groups.len());
    for g in &groups {
        for e in g["examples"].as_array().unwrap() {
            let href = format!("href=\"{}\"", e["url"].as_str().unwrap());
            assert!(copied.contains(&href), "{href} missing");
        }
    }
    let title_link = format!("href=\"{}\"", data["url"].as_str().unwrap());
    assert!(copied.contains(&title_link));
    // Markup from TestOps is text.
    assert!(copied.contains("&lt;img src=http://example.invalid/x.png&gt; login"));
    assert!(!copied.contains("<img src=\"http://example.invalid"));
    // The bridge ran in order.
    let bridge = text_after(&dom, "id=\"bridge\"");
    assert!(
        bridge.starts_with("ui/initialize,ui/notifications/initialized"),
        "{bridge}"
    );

    // A screenshot, as a person would see it.
    let shot = dir.path().join("dashboard.png");
    chromium_run(&page, proxy, &[&format!("--screenshot={}", shot.display())]).await;
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 10_000, "a blank page? {} bytes", png.len());
    if let Some(keep) = std::env::var_os("DASHBOARD_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }

    let made: Vec<String> = requests
        .lock()
        .unwrap()
        .iter()
        .filter(|l| from_the_page(l))
        .cloned()
        .collect();
    assert!(made.is_empty(), "the page made requests: {made:?}");
    // The proxy does see what a page fetches: the check can fail.
    assert!(from_the_page("GET http://example.invalid/x.png HTTP/1.1"));
    s.stop().await;
}
