//! The escape hatch: one tool that calls any Allure TestOps API path, for what the
//! curated tools do not cover. Off unless the `raw` toolset is enabled; in read-only
//! mode it stays available but refuses everything but GET.

use reqwest::Method;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::render::cut;
use super::{Access, Ctx, Meta, Render, ToolDef, ToolError, Toolset, tool};

/// The most of an answer passed on: the rest would only fill the model's context.
const MAX_ANSWER: usize = 20_000;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RawArgs {
    /// HTTP method: GET, POST, PATCH, PUT or DELETE.
    pub method: String,
    /// API path below the API prefix, e.g. "/launch/123/statistic" (no host, no query string).
    pub path: String,
    /// Query parameters as an object of strings, e.g. {"projectId": "1", "page": "0"}.
    pub query: Option<std::collections::BTreeMap<String, String>>,
    /// JSON body for POST, PATCH and PUT.
    pub body: Option<serde_json::Value>,
    /// For anything but GET: true only after the user agreed to the call. Clients that
    /// can ask the user (elicitation) are asked instead.
    pub confirm: Option<bool>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RawAnswer {
    pub status: u16,
    /// The answer body (JSON when it parses, else text), cut to 20,000 characters.
    pub body: serde_json::Value,
    pub truncated: bool,
}

impl Render for RawAnswer {
    fn keeps_nulls() -> bool {
        true
    }

    fn text(&self) -> String {
        let body = match &self.body {
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        format!(
            "HTTP {}{}\n{}",
            self.status,
            if self.truncated { " (cut)" } else { "" },
            body
        )
    }
}

/// Accepts only plain API paths: no scheme or host, no query, not the token endpoint,
/// and no segment that a URL parser would resolve (`.` and `..`, raw or percent-encoded)
/// or that hides a separator (`%2f`, `%5c`). Checked on the decoded text; the client
/// checks the final URL once more before anything is sent.
pub fn check_path(path: &str) -> Result<String, ToolError> {
    let p = path.trim();
    if !p.starts_with('/') || p.starts_with("//") {
        return Err(ToolError::InvalidArgs(
            "path must start with a single '/', e.g. /launch/123".into(),
        ));
    }
    let refused = || {
        ToolError::InvalidArgs(
            "path may not contain '.' or '..' segments (raw or %-encoded), encoded '/', '\\' or '%', ';', '?', '#' or spaces; give a plain path such as /launch/123/statistic and put query parameters in `query`"
                .into(),
        )
    };
    // `;` starts path parameters that servlet containers strip before resolving `..;`,
    // and `%25` is an escaped escape that a second decoding would turn into a dot.
    if p.contains(['?', '#', '\\', ';'])
        || p.to_ascii_lowercase().contains("%25")
        || p.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(refused());
    }
    let decoded = percent_decode(p).ok_or_else(refused)?;
    if decoded.contains(['\\', '?', '#', ';']) || decoded.chars().any(|c| c.is_control()) {
        return Err(refused());
    }
    // Every segment as written must decode to itself plus nothing that separates.
    let segments: Vec<&str> = p.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let d = percent_decode(segment).ok_or_else(refused)?;
        let last = i + 1 == segments.len();
        if d == "." || d == ".." || d.contains('/') || (d.is_empty() && !last) {
            return Err(refused());
        }
    }
    let lower = decoded.to_ascii_lowercase();
    if lower.starts_with("/uaa") || lower.starts_with("/api/") || lower == "/api" {
        return Err(ToolError::InvalidArgs("give the path below the API prefix (e.g. /launch/1, not /api/launch/1); the token endpoint is not reachable".into()));
    }
    Ok(p.to_owned())
}

/// `%XX` decoding; `None` for a broken escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub fn tools() -> Vec<ToolDef> {
    let mut t = tool(ALLURE_API_REQUEST, allure_api_request);
    // Listed in read-only mode too: the handler itself refuses every method but GET there.
    t.guards_read_only = true;
    vec![t]
}

const ALLURE_API_REQUEST: Meta = Meta {
    name: "allure_api_request",
    toolset: Toolset::Raw,
    title: "Call the Allure TestOps API",
    description: "Call any Allure TestOps REST API path (below /api) for what the other tools do not cover; search_api_operations finds the path and body. Prefer the curated tools: their answers are smaller and safer. Anything but GET asks the user first; in read-only mode only GET is allowed.",
    access: Access::Write {
        destructive: true,
        idempotent: false,
    },
};

async fn allure_api_request(ctx: Ctx, a: RawArgs) -> Result<RawAnswer, ToolError> {
    let method = match a.method.trim().to_ascii_uppercase().as_str() {
        "GET" => Method::GET,
        "POST" => Method::POST,
        "PATCH" => Method::PATCH,
        "PUT" => Method::PUT,
        "DELETE" => Method::DELETE,
        other => {
            return Err(ToolError::InvalidArgs(format!(
                "method '{other}' is not GET, POST, PATCH, PUT or DELETE"
            )));
        }
    };
    if ctx.read_only && method != Method::GET {
        return Err(ToolError::InvalidArgs(format!(
            "the server is in read-only mode: only GET is allowed, not {method}"
        )));
    }
    let path = check_path(&a.path)?;
    if method == Method::GET && a.body.is_some() {
        return Err(ToolError::InvalidArgs("a GET takes no body".into()));
    }
    // A write the curated tools do not know: what it changes is not known here either,
    // so the user decides.
    if method != Method::GET {
        let mut what = format!("Send {method} {path}");
        if let Some(q) = a.query.as_ref().filter(|q| !q.is_empty()) {
            let pairs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
            what.push_str(&format!("?{}", pairs.join("&")));
        }
        if let Some(b) = &a.body {
            what.push_str(&format!(" with the body {}", cut(&b.to_string(), 300, "")));
        }
        what.push_str(" to Allure TestOps (as the model wrote it)");
        ctx.confirm(ALLURE_API_REQUEST.name, a.confirm, &what)
            .await?;
    }
    let query: Vec<(String, String)> = a.query.unwrap_or_default().into_iter().collect();
    let q: Vec<(&str, String)> = query.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let answer = ctx
        .client
        .send(method, &path, &q, a.body.map(crate::allure::Body::Json))
        .await?;
    let text = String::from_utf8_lossy(&answer.body);
    let truncated = text.len() > MAX_ANSWER;
    let body = if truncated {
        serde_json::Value::String(cut(
            &text,
            MAX_ANSWER,
            "narrow the request with query parameters (page, size)",
        ))
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| serde_json::Value::String(text.into_owned()))
    };
    Ok(RawAnswer {
        status: answer.status,
        body,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_api_paths_pass() {
        assert_eq!(
            check_path(" /launch/1/statistic ").unwrap(),
            "/launch/1/statistic"
        );
        assert_eq!(check_path("/launch/1/").unwrap(), "/launch/1/");
        for bad in [
            "/./uaa/oauth/token",
            "/%2e/uaa/oauth/token",
            "/%2E%2E/%2e%2e/uaa/oauth/token",
            "/launch/%2e%2e/%2e%2e/uaa",
            "/launch/.%2e/x",
            "/launch%2f..%2fuaa",
            "/launch/1%5c..%5cuaa",
            "/launch//1",
            "/launch/%zz",
            "/%2fevil.example/x",
            "/x/..;/..;/actuator/heapdump",
            "/launch;jsessionid=1/x",
            "/%252e%252e/uaa",
            "launch/1",
            "//evil.example/x",
            "/launch/../uaa",
            "/launch?x=1",
            "/uaa/oauth/token",
            "/api/launch/1",
            "/a b",
            "http://x/y",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
