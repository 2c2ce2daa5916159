//! Native HTTPS (TLS_CERT_FILE / TLS_KEY_FILE): MCP over `https://` with a certificate
//! authority made here, HTTP/2 by ALPN, a client trusting another CA refused, and a
//! renewed certificate served after SIGHUP to new connections while an open one goes on
//! with the old, a broken renewal that keeps the running certificate (and still applies
//! the tokens), an unused HTTP/2 connection closed whatever PINGs it sends, and a reload
//! that would expose the socket refused.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{HttpServer, eventually, signal};
use fake_testops::FakeTestOps;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "alice-token-0123456789";

/// A certificate authority made for one test.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        Ca {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for localhost and 127.0.0.1: (certificate PEM, key PEM).
    pub fn server_cert(&self, name: &str) -> (String, String) {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A reqwest client that trusts this CA only.
    pub fn client(&self) -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(self.pem().as_bytes()).unwrap()])
            .build()
            .unwrap()
    }

    fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.issuer.der().clone()).unwrap();
        roots
    }
}

/// Writes a certificate and key where the server reads them: each to a new file renamed
/// into place, as ACME clients do, so the server never reads half a file.
pub fn install(dir: &std::path::Path, (cert, key): &(String, String)) {
    for (name, text) in [("cert.pem", cert), ("key.pem", key)] {
        let tmp = dir.join(format!("{name}.new"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    }
}

/// The server with the certificate and key in `dir`, and its MCP tokens in a file there
/// (`tokens`, `alice` to start with), so a reload can change both.
pub async fn https_server(dir: &std::path::Path, fake: &FakeTestOps) -> HttpServer {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let tokens = dir.join("tokens");
    if !tokens.exists() {
        std::fs::write(&tokens, format!("alice:{TOKEN}\n")).unwrap();
    }
    HttpServer::against(
        fake,
        "",
        &[
            ("MCP_AUTH_TOKENS_FILE", tokens.to_str().unwrap()),
            ("TLS_CERT_FILE", cert.to_str().unwrap()),
            ("TLS_KEY_FILE", key.to_str().unwrap()),
        ],
    )
    .await
}

#[tokio::test]
async fn mcp_over_https_with_a_ca_made_here_and_http2_by_alpn() {
    let ca = Ca::new("allure-mcp test CA");
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), &ca.server_cert("first"));
    let fake = FakeTestOps::start().await.unwrap();
    let s = https_server(dir.path(), &fake).await;
    assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.base);

    let health = ca.client().get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.version(),
        reqwest::Version::HTTP_2,
        "h2 offered by ALPN"
    );

    // rmcp's own client over HTTPS: a whole session.
    let client = crate::common::mcp_session(s.url("/mcp"), TOKEN, Some(ca.client()))
        .await
        .expect("initialize over https");
    crate::common::project_4_reads(&client).await;
    let _ = client.cancel().await;

    // A client that trusts another authority refuses the server.
    let other = Ca::new("someone else's CA");
    let refused = other.client().get(s.url("/healthz")).send().await;
    let e = refused.expect_err("a certificate from an unknown CA was accepted");
    let chain = allure_mcp::error_chain(&e);
    assert!(chain.to_lowercase().contains("certificate"), "{chain}");

    // Plain HTTP on the TLS port gets no answer from the MCP server.
    let plain = crate::common::http()
        .get(s.url("/healthz").replace("https://", "http://"))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    s.stop().await;
}

/// A TLS connection trusting `ca`, speaking HTTP/1.1 only.
async fn connect(
    s: &HttpServer,
    ca: &Ca,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    connect_alpn(s, ca, b"http/1.1").await
}

async fn connect_alpn(
    s: &HttpServer,
    ca: &Ca,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    tls_connect(s.base.trim_start_matches("https://"), ca, alpn).await
}

/// A TLS connection to `addr` (`host:port`) for `localhost`, trusting `ca`, offering `alpn`.
pub async fn tls_connect(
    addr: &str,
    ca: &Ca,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(ca.roots())
    .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// The common name of the certificate a connection was made with.
pub fn served_name(tls: &tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> String {
    let der: &CertificateDer = &tls.get_ref().1.peer_certificates().unwrap()[0];
    // The test's names are unique ASCII words: find them in the DER.
    ["first", "second", "third"]
        .into_iter()
        .find(|n| der.windows(n.len()).any(|w| w == n.as_bytes()))
        .unwrap_or("unknown")
        .to_owned()
}

/// `GET /healthz` on an open keep-alive connection; the status code.
async fn health_on(tls: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> u16 {
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "the connection was closed");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length: usize = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if got.len() >= head_end + 4 + length {
                return text[9..12].parse().unwrap();
            }
        }
    }
}

#[tokio::test]
async fn a_renewed_certificate_is_served_after_sighup_while_open_connections_go_on() {
    let ca = Ca::new("allure-mcp test CA");
    let dir = tempfile::tempdir().unwrap();
    let first = ca.server_cert("first");
    install(dir.path(), &first);
    let fake = FakeTestOps::start().await.unwrap();
    let s = https_server(dir.path(), &fake).await;
    let mut open = connect(&s, &ca).await;
    assert_eq!(served_name(&open), "first");
    // TLS 1.3 when the client offers it (both do here); rustls never speaks below 1.2.
    assert_eq!(
        open.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    assert_eq!(health_on(&mut open).await, 200);

    install(dir.path(), &ca.server_cert("second"));
    signal(s.child.id().unwrap(), "HUP");
    eventually(
        Duration::from_secs(10),
        "new connections get the renewed certificate",
        async || served_name(&connect(&s, &ca).await) == "second",
    )
    .await;
    // The connection made before the reload still serves requests, on its certificate.
    assert_eq!(health_on(&mut open).await, 200);
    assert_eq!(served_name(&open), "first");

    // A renewal half done (the new certificate, the old key) is not served: the running
    // certificate stays, and the log says why. A token revoked in the same reload is
    // revoked all the same.
    let third = ca.server_cert("third");
    install(dir.path(), &(third.0.clone(), first.1.clone()));
    let bob = "bob-token-0123456789abcdef";
    std::fs::write(dir.path().join("tokens"), format!("bob:{bob}\n")).unwrap();
    signal(s.child.id().unwrap(), "HUP");
    eventually(
        Duration::from_secs(10),
        "the failed reload is logged",
        async || s.logs().contains("TLS certificate not reloaded"),
    )
    .await;
    assert_eq!(served_name(&connect(&s, &ca).await), "second");
    let status = |token: &'static str| {
        let url = s.url("/metrics");
        let client = ca.client();
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(status(TOKEN).await, 401, "alice's token was revoked");
    assert_eq!(status(bob).await, 200);
    let (_, logs) = s.stop().await;
    assert!(!logs.contains("PRIVATE KEY"), "no key material in the log");
}

#[tokio::test]
async fn an_unused_http2_connection_is_closed_whatever_pings_it_sends() {
    let ca = Ca::new("allure-mcp test CA");
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), &ca.server_cert("first"));
    let fake = FakeTestOps::start().await.unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let s = HttpServer::against(
        &fake,
        &format!("alice:{TOKEN}"),
        &[
            ("TLS_CERT_FILE", cert.to_str().unwrap()),
            ("TLS_KEY_FILE", key.to_str().unwrap()),
            ("HTTP_HEADER_TIMEOUT", "1"),
        ],
    )
    .await;
    let tls = connect_alpn(&s, &ca, b"h2").await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, mut conn) = h2::client::handshake(tls).await.unwrap();
    let mut pings = conn.ping_pong().expect("a ping handle");
    let closed = tokio::spawn(conn);
    // One request, answered: the connection works.
    let req = http::Request::get(s.url("/healthz")).body(()).unwrap();
    let (resp, _) = send.send_request(req, true).unwrap();
    assert_eq!(resp.await.unwrap().status(), 200);
    // Then only PINGs, answered as they come: the server still closes it.
    let started = std::time::Instant::now();
    let pinging = tokio::spawn(async move {
        while pings.ping(h2::Ping::opaque()).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("the server closes an unused HTTP/2 connection")
        .unwrap()
        .ok();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before the timeout"
    );
    pinging.abort();
    s.stop().await;
}

#[tokio::test]
async fn a_reload_that_would_leave_an_exposed_socket_without_tokens_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("alice:{TOKEN}\n")).unwrap();
    let fake = FakeTestOps::start().await.unwrap();
    let s = HttpServer::against(
        &fake,
        "",
        &[
            ("MCP_AUTH_TOKENS_FILE", tokens.to_str().unwrap()),
            ("BIND", "0.0.0.0"),
        ],
    )
    .await;
    std::fs::write(&tokens, "# everyone gone\n").unwrap();
    signal(s.child.id().unwrap(), "HUP");
    eventually(
        Duration::from_secs(10),
        "the refused reload is logged",
        async || s.logs().contains("reload failed"),
    )
    .await;
    let url = s.url("/metrics").replace("0.0.0.0", "127.0.0.1");
    let without = crate::common::http().get(&url).send().await.unwrap();
    assert_eq!(without.status(), 401, "still no way in without a token");
    let with = crate::common::http()
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status(), 200, "the running tokens stay");
    let (_, logs) = s.stop().await;
    assert!(logs.contains("reachable beyond loopback"), "{logs}");
}
