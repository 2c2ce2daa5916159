//! OAuth 2.1 resource server against a real authorization server process on loopback
//! (oauth2-mock-server, pinned in scripts/oauth; `OAUTH_MOCK` names its launcher):
//! discovery from a 401 to a token, a valid token, and the tokens that must be refused
//! (another audience, expired, early, another issuer, a key nobody published, `none` and
//! HMAC algorithms, a missing scope); key rotation fetched once, made-up key ids not
//! fetched at all; roles by scope; the identity in the audit line.
//!
//! `OAUTH_MOCK=$(bash scripts/install-oauth-mock.sh) cargo test --test it -- --ignored oauth::`

use std::process::Stdio;

use base64::Engine;
use fake_testops::FakeTestOps;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

use crate::common::{HttpServer, http};

const RESOURCE: &str = "http://localhost/mcp";
const SCRIPT: &str = "script-token-0123456789";

/// The authorization server, stopped when dropped (its stdin closes).
struct Idp {
    _child: tokio::process::Child,
    issuer: String,
}

impl Idp {
    async fn start() -> Idp {
        let launcher = std::env::var("OAUTH_MOCK")
            .expect("OAUTH_MOCK: the launcher scripts/install-oauth-mock.sh prints");
        let mut child = tokio::process::Command::new(launcher)
            .arg("--exit-on-stdin-eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the OAuth mock");
        let stdout = child.stdout.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let first = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("the mock says where it listens")
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_str(&first).unwrap();
        Idp {
            _child: child,
            issuer: v["issuer"].as_str().unwrap().to_owned(),
        }
    }

    /// A JSON answer of the mock: GET without a form, POST with one.
    async fn ask(&self, path: &str, form: Option<&[(&str, &str)]>) -> Value {
        let url = format!("{}{path}", self.issuer);
        let req = match form {
            None => http().get(url),
            Some(f) => http()
                .post(url)
                .basic_auth("allure-mcp-test", Some("secret"))
                .form(f),
        };
        req.send().await.unwrap().json().await.unwrap()
    }

    /// An access token from the token endpoint, shaped by `fields`.
    async fn token(&self, fields: &[(&str, &str)]) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(fields);
        let v = self.ask("/token", Some(&form)).await;
        v["access_token"].as_str().expect("a token").to_owned()
    }

    async fn rotate(&self) -> String {
        let v = self.ask("/rotate", Some(&[("x", "1")])).await;
        v["kid"].as_str().unwrap().to_owned()
    }

    async fn jwks_fetches(&self) -> u64 {
        self.ask("/requests", None).await["jwks_fetches"]
            .as_u64()
            .unwrap()
    }
}

async fn server(idp: &Idp, fake: &FakeTestOps) -> HttpServer {
    HttpServer::against(
        fake,
        &format!("script:{SCRIPT}"),
        &[
            ("OAUTH_ISSUER", &idp.issuer),
            ("OAUTH_RESOURCE", RESOURCE),
            ("OAUTH_SCOPES", "allure:read allure:write"),
            (
                "MCP_PERMISSIONS",
                "script write\nscope:allure:read read\nscope:allure:write write",
            ),
        ],
    )
    .await
}

/// A token good for this server, for subject `sub` with `scope`.
fn good<'a>(sub: &'a str, scope: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("aud", RESOURCE), ("scope", scope), ("sub", sub)]
}

/// POSTs an `initialize` with `token`: the response.
async fn initialize(s: &HttpServer, token: Option<&str>) -> reqwest::Response {
    let mut req = http()
        .post(s.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"oauth-test","version":"1"}}}));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

fn challenge(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
#[ignore = "needs the OAuth mock: OAUTH_MOCK=$(bash scripts/install-oauth-mock.sh) cargo test --test it -- --ignored oauth:: (.ci/run does)"]
async fn a_client_finds_the_authorization_server_from_a_401_and_its_token_works() {
    let idp = Idp::start().await;
    let fake = FakeTestOps::start().await.unwrap();
    let s = server(&idp, &fake).await;

    // 1. Unauthenticated: 401 pointing at the Protected Resource Metadata, no error code.
    let r = initialize(&s, None).await;
    assert_eq!(r.status(), 401);
    let c = challenge(&r);
    assert!(
        c.contains(
            "resource_metadata=\"http://localhost/.well-known/oauth-protected-resource/mcp\""
        ),
        "{c}"
    );
    assert!(c.contains("scope=\"allure:read allure:write\""), "{c}");
    assert!(
        !c.contains("error="),
        "no error code without credentials: {c}"
    );

    // 2. The metadata (RFC 9728), at the path-inserted and the bare well-known path.
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let prm: Value = http()
            .get(s.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(prm["resource"], RESOURCE, "{prm}");
        assert_eq!(prm["authorization_servers"], json!([idp.issuer]));
        assert_eq!(
            prm["scopes_supported"],
            json!(["allure:read", "allure:write"])
        );
    }

    // 3. The authorization server's own metadata (RFC 8414) names its token endpoint.
    let asm: Value = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            idp.issuer
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(asm["issuer"], idp.issuer.as_str());
    assert!(asm["token_endpoint"].as_str().is_some(), "{asm}");

    // 4. A token for this resource: a session with rmcp's client, read role by scope.
    let token = idp
        .token(&[good("alice-sub", "allure:read"), vec![("name", "Alice")]].concat())
        .await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = crate::common::mcp_session(s.url("/mcp"), &token, None)
        .await
        .expect("initialize with the token");
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "list_projects"));
    assert!(
        !tools.iter().any(|t| t.name == "mute_test_result"),
        "read role"
    );
    crate::common::project_4_reads(&client).await;
    let _ = client.cancel().await;

    // 5. The write scope writes; the static token still works beside OAuth.
    let writer = idp.token(&good("bob-sub", "allure:write")).await;
    assert_eq!(initialize(&s, Some(&writer)).await.status(), 200);
    assert_eq!(initialize(&s, Some(SCRIPT)).await.status(), 200);

    // Metrics name every caller: not for OAuth callers, who are any user of the provider.
    assert_eq!(s.metrics(&token).await.status(), 403);
    // Metrics count calls by identity, the OAuth caller as `oauth:<sub>`.
    let metrics = s.metrics(SCRIPT).await.text().await.unwrap();
    assert!(
        metrics.contains("allure_mcp_identity_tool_calls_total{identity=\"oauth:alice-sub\"} 1"),
        "{metrics}"
    );
    let (_, logs) = s.stop().await;
    let audit = logs
        .lines()
        .find(|l| l.contains("\"tool call\"") && l.contains("get_project"))
        .expect("an audit line");
    assert!(
        audit.contains("\"identity\":\"oauth:alice-sub\""),
        "{audit}"
    );
    assert!(audit.contains("\"identity_name\":\"Alice\""), "{audit}");
    for t in [&token, &writer] {
        assert!(!logs.contains(t.as_str()), "a token in the log");
    }
}

/// A JWT signed with a key this test made (kid `kid`, ES256), claims otherwise valid.
fn forged(issuer: &str, kid: &str) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        &claims(issuer),
        &jsonwebtoken::EncodingKey::from_ec_der(&key.serialize_der()),
    )
    .unwrap()
}

fn claims(issuer: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": issuer, "sub": "mallory", "aud": RESOURCE, "scope": "allure:write", "exp": now + 600, "iat": now})
}

/// The provider's own key id, from its JWKS.
async fn real_kid(idp: &Idp) -> String {
    idp.ask("/jwks", None).await["keys"][0]["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
#[ignore = "needs the OAuth mock: OAUTH_MOCK=$(bash scripts/install-oauth-mock.sh) cargo test --test it -- --ignored oauth:: (.ci/run does)"]
async fn tokens_for_another_audience_expired_early_foreign_forged_or_without_scope_are_refused() {
    let idp = Idp::start().await;
    let fake = FakeTestOps::start().await.unwrap();
    let s = server(&idp, &fake).await;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let kid = real_kid(&idp).await;
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "kid": kid})),
        b64(claims(&idp.issuer))
    );
    let mut hmac = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hmac.kid = Some(kid);
    let hmac = jsonwebtoken::encode(
        &hmac,
        &claims(&idp.issuer),
        &jsonwebtoken::EncodingKey::from_secret(b"the public key, maybe"),
    )
    .unwrap();
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "another audience",
            idp.token(&[
                ("aud", "https://other.example.com/mcp"),
                ("scope", "allure:read"),
            ])
            .await,
            401,
            "another resource",
        ),
        (
            "no audience",
            idp.token(&[("scope", "allure:read")]).await,
            401,
            "required claim",
        ),
        (
            "expired",
            idp.token(&[good("a", "allure:read"), vec![("exp_in", "-120")]].concat())
                .await,
            401,
            "expired",
        ),
        (
            "not yet valid",
            idp.token(&[good("a", "allure:read"), vec![("nbf_in", "600")]].concat())
                .await,
            401,
            "not valid yet",
        ),
        (
            "another issuer",
            idp.token(
                &[
                    good("a", "allure:read"),
                    vec![("iss", "https://evil.example.com")],
                ]
                .concat(),
            )
            .await,
            401,
            "issuer",
        ),
        (
            "a key its issuer never published",
            forged(&idp.issuer, "made-up-key"),
            401,
            "does not publish",
        ),
        ("alg none", unsigned, 401, "not a signed JWT"),
        ("HMAC with the provider's key id", hmac, 401, "signature"),
        (
            "no scope this server knows",
            idp.token(&good("a", "openid profile")).await,
            403,
            "insufficient_scope",
        ),
        (
            "an ID token (Keycloak's typ claim)",
            idp.token(&[good("a", "allure:read"), vec![("typ", "ID")]].concat())
                .await,
            401,
            "not an access token",
        ),
        (
            "a subject that would forge log lines",
            idp.token(&good("a\n{\"identity\":\"admin\"}", "allure:read"))
                .await,
            401,
            "control characters",
        ),
    ];
    for (what, token, status, says) in &cases {
        let r = initialize(&s, Some(token)).await;
        assert_eq!(r.status().as_u16(), *status, "{what}");
        let c = challenge(&r);
        assert!(c.contains("resource_metadata="), "{what}: {c}");
        assert!(c.contains(says), "{what}: {c}");
    }
    // Within the 30 s leeway, a token just expired is still good (clock skew).
    let skewed = idp
        .token(&[good("a", "allure:read"), vec![("exp_in", "-5")]].concat())
        .await;
    assert_eq!(initialize(&s, Some(&skewed)).await.status(), 200);
    let (_, logs) = s.stop().await;
    for (what, token, ..) in &cases {
        assert!(
            !logs.contains(token.as_str()),
            "{what}: the token in the log"
        );
    }
}

#[tokio::test]
#[ignore = "needs the OAuth mock: OAUTH_MOCK=$(bash scripts/install-oauth-mock.sh) cargo test --test it -- --ignored oauth:: (.ci/run does)"]
async fn a_rotated_key_is_fetched_once_and_made_up_key_ids_fetch_nothing() {
    let idp = Idp::start().await;
    let fake = FakeTestOps::start().await.unwrap();
    let s = server(&idp, &fake).await;
    let first = idp.token(&good("a", "allure:read")).await;
    assert_eq!(initialize(&s, Some(&first)).await.status(), 200);
    let fetched = idp.jwks_fetches().await;
    assert!(fetched >= 1);
    assert_eq!(initialize(&s, Some(&first)).await.status(), 200);
    assert_eq!(idp.jwks_fetches().await, fetched, "the keys are cached");

    // The provider rotates: a token signed by the new key makes the server fetch once.
    let kid = idp.rotate().await;
    let second = idp.token(&good("a", "allure:read")).await;
    let header = jsonwebtoken::decode_header(&second).unwrap();
    assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
    assert_eq!(initialize(&s, Some(&second)).await.status(), 200);
    assert_eq!(
        idp.jwks_fetches().await,
        fetched + 1,
        "one fetch for the new key"
    );

    // Tokens with made-up key ids right after: refused without asking the provider.
    for i in 0..5 {
        let r = initialize(&s, Some(&forged(&idp.issuer, &format!("made-up-{i}")))).await;
        assert_eq!(r.status(), 401);
    }
    assert_eq!(idp.jwks_fetches().await, fetched + 1, "the cool-down held");
    // The old key is still published (rotation keeps it), so old tokens still work.
    assert_eq!(initialize(&s, Some(&first)).await.status(), 200);
    s.stop().await;
}

impl Idp {
    /// An opaque access token the provider will vouch for by introspection.
    async fn opaque(&self, fields: &[(&str, &str)]) -> String {
        let v = self.ask("/opaque", Some(fields)).await;
        v["access_token"].as_str().unwrap().to_owned()
    }

    async fn introspections(&self) -> u64 {
        self.ask("/requests", None).await["introspections"]
            .as_u64()
            .unwrap()
    }
}

#[tokio::test]
#[ignore = "needs the OAuth mock: OAUTH_MOCK=$(bash scripts/install-oauth-mock.sh) cargo test --test it -- --ignored oauth:: (.ci/run does)"]
async fn opaque_tokens_are_introspected_with_the_servers_own_client_once_a_minute() {
    let idp = Idp::start().await;
    let fake = FakeTestOps::start().await.unwrap();
    let client = [
        ("OAUTH_CLIENT_ID", "allure-mcp"),
        ("OAUTH_CLIENT_SECRET", "introspection-secret"),
    ];
    let s = HttpServer::against(
        &fake,
        &format!("script:{SCRIPT}"),
        &[
            [
                ("OAUTH_ISSUER", idp.issuer.as_str()),
                ("OAUTH_RESOURCE", RESOURCE),
                ("OAUTH_SCOPES", "allure:read allure:write"),
            ]
            .as_slice(),
            &client,
        ]
        .concat(),
    )
    .await;
    let valid = idp
        .opaque(&[good("opaque-sub", "allure:read"), vec![("name", "Opa")]].concat())
        .await;
    assert_eq!(initialize(&s, Some(&valid)).await.status(), 200);
    assert_eq!(initialize(&s, Some(&valid)).await.status(), 200);
    assert_eq!(idp.introspections().await, 1, "the answer is cached");
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "unknown to the provider",
            "an-opaque-token-nobody-issued".to_owned(),
            401,
            "not active",
        ),
        (
            "revoked (inactive)",
            idp.opaque(&[good("a", "allure:read"), vec![("active", "false")]].concat())
                .await,
            401,
            "not active",
        ),
        (
            "another audience",
            idp.opaque(&[
                ("aud", "https://other.example.com/mcp"),
                ("scope", "allure:read"),
            ])
            .await,
            401,
            "another resource",
        ),
        (
            "expired",
            idp.opaque(&[good("a", "allure:read"), vec![("exp_in", "-120")]].concat())
                .await,
            401,
            "expired",
        ),
        (
            "no scope this server knows",
            idp.opaque(&good("a", "email")).await,
            403,
            "insufficient_scope",
        ),
    ];
    for (what, token, status, says) in &cases {
        let r = initialize(&s, Some(token)).await;
        assert_eq!(r.status().as_u16(), *status, "{what}");
        let c = challenge(&r);
        assert!(c.contains(says), "{what}: {c}");
    }
    let (_, logs) = s.stop().await;
    assert!(!logs.contains(&valid), "the token in the log");
    assert!(
        !logs.contains("introspection-secret"),
        "the client secret in the log"
    );

    // A server whose client the provider refuses says so, and blames no caller's token.
    let wrong = HttpServer::against(
        &fake,
        &format!("script:{SCRIPT}"),
        &[
            ("OAUTH_ISSUER", idp.issuer.as_str()),
            ("OAUTH_RESOURCE", RESOURCE),
            ("OAUTH_CLIENT_ID", "allure-mcp"),
            ("OAUTH_CLIENT_SECRET", "not-the-secret"),
        ],
    )
    .await;
    let fresh = idp.opaque(&good("b", "allure:read")).await;
    assert_eq!(initialize(&wrong, Some(&fresh)).await.status(), 503);
    let (_, logs) = wrong.stop().await;
    assert!(
        logs.contains("check OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET"),
        "{logs}"
    );
    assert!(!logs.contains("not-the-secret"));
}

#[tokio::test]
#[ignore = "needs the OAuth mock: OAUTH_MOCK=$(bash scripts/install-oauth-mock.sh) cargo test --test it -- --ignored oauth:: (.ci/run does)"]
async fn roles_come_from_claims_and_without_a_table_oauth_callers_only_read() {
    let idp = Idp::start().await;
    let fake = FakeTestOps::start().await.unwrap();
    let oauth = [
        ("OAUTH_ISSUER", idp.issuer.as_str()),
        ("OAUTH_RESOURCE", RESOURCE),
    ];
    let names = |tools: Vec<rmcp::model::Tool>| -> Vec<String> {
        tools.into_iter().map(|t| t.name.to_string()).collect()
    };
    let listed = |s: &HttpServer, token: String| {
        let url = s.url("/mcp");
        async move {
            let client = crate::common::mcp_session(url, &token, None)
                .await
                .expect("initialize");
            let tools = client.list_all_tools().await.unwrap();
            let _ = client.cancel().await;
            tools
        }
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    // No MCP_PERMISSIONS: an OAuth caller reads, and nothing more.
    let open = HttpServer::against(&fake, &format!("script:{SCRIPT}"), &oauth).await;
    let any = idp.token(&good("anyone", "x")).await;
    let tools = names(listed(&open, any).await);
    assert!(tools.contains(&"list_projects".to_owned()), "{tools:?}");
    assert!(!tools.contains(&"mute_test_result".to_owned()), "{tools:?}");
    let (_, logs) = open.stop().await;
    assert!(logs.contains("OAuth callers may only read"), "{logs}");

    // Roles by a list claim (Keycloak's groups or roles): only the named group writes.
    let table = "claim:groups=allure-writers write";
    let s = HttpServer::against(
        &fake,
        &format!("script:{SCRIPT}"),
        &[oauth.as_slice(), &[("MCP_PERMISSIONS", table)]].concat(),
    )
    .await;
    let writer = idp
        .token(
            &[
                good("w", "x"),
                vec![("groups", "qa"), ("groups", "allure-writers")],
            ]
            .concat(),
        )
        .await;
    assert!(names(listed(&s, writer).await).contains(&"mute_test_result".to_owned()));
    let outsider = idp
        .token(&[good("o", "x"), vec![("groups", "qa")]].concat())
        .await;
    assert_eq!(initialize(&s, Some(&outsider)).await.status(), 403);
    s.stop().await;
}
