//! The HTTP transport's accept loop: what a slow or hostile client can hold is bounded.
//!
//! - a cap on open connections (more are closed at once), never above what the open-file
//!   limit allows, so accepting can never starve the process of descriptors;
//! - a header-read timeout: a client must send a request's headers within it, and an idle
//!   keep-alive connection is closed after it (hyper starts that timer whenever it waits
//!   for a request head);
//! - an idle timeout: a connection that moves no bytes while no request on it is being
//!   handled (a client that stopped reading its answer) is closed;
//! - a graceful stop: no new connections, open ones finish what they serve.
//!
//! With TLS_CERT_FILE the same loop serves HTTPS: the handshake must finish within the
//! header timeout, and HTTP/2 is offered by ALPN beside HTTP/1.1.
//!
//! axum's own `serve` offers none of the three limits, hence this loop over hyper.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// The limits of [`serve`].
#[derive(Clone)]
pub struct ConnLimits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// Open connections one address may hold (a trusted proxy's are not counted), so a
    /// single client cannot take every slot. (`ALLOWED_CIDRS` is applied per request,
    /// with a 403 that says why; this bounds what an outside address can hold meanwhile.)
    pub max_per_ip: usize,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// HTTPS when set: every connection is a TLS one.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

/// Open connections per address, and the slot one connection holds in it.
#[derive(Default)]
struct PerIp(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

struct IpSlot(Arc<PerIp>, std::net::IpAddr);

impl PerIp {
    fn enter(self: &Arc<Self>, ip: std::net::IpAddr, max: usize) -> Option<IpSlot> {
        let mut open = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot(self.clone(), ip))
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = (self.0).0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.1);
            }
        }
    }
}

/// Descriptors kept free for everything but client connections: upstream connections,
/// the journal, files read on reload.
const RESERVED_FDS: u64 = 128;

/// The connection cap actually used: `wanted`, but no more than the open-file limit
/// leaves room for. The soft limit is raised to the hard one first (Debian's default
/// soft limit is 1024; the unit's LimitNOFILE sets both).
pub fn effective_max_connections(wanted: usize) -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.maximum != limit.current {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            limit = raised;
        }
    }
    match limit.current {
        Some(n) => wanted.min(n.saturating_sub(RESERVED_FDS).max(8) as usize),
        None => wanted,
    }
}

/// Serves `app` on `listener` until `stop` is cancelled, then lets open connections
/// finish (each is told to close after its current request) and returns when all have.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    stop: CancellationToken,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip = Arc::new(PerIp::default());
    let epoch = Instant::now();
    let mut last_refusal_log: Option<Instant> = None;
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: pause, go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        let ip = peer.ip();
        let proxy = limits.trusted_proxies.iter().any(|n| n.contains(&ip));
        let ip_slot = if proxy {
            None
        } else {
            match per_ip.enter(ip, limits.max_per_ip) {
                Some(s) => Some(s),
                None => continue,
            }
        };
        let Ok(slot) = open.clone().try_acquire_owned() else {
            drop(tcp);
            if last_refusal_log.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                last_refusal_log = Some(Instant::now());
                tracing::warn!(
                    max = limits.max_connections,
                    "refusing connections: MAX_CONNECTIONS are open"
                );
            }
            continue;
        };
        // Streamed (SSE) answers go out in several small writes: without TCP_NODELAY,
        // Nagle's algorithm and the client's delayed ACK add ~40 ms to every call.
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let stop = stop.clone();
        let timeouts = Timeouts {
            header: limits.header_timeout,
            idle: limits.idle_timeout,
        };
        let tls = limits.tls.clone();
        tokio::spawn(async move {
            connection(tcp, peer, app, timeouts, tls, stop, epoch).await;
            drop((slot, ip_slot));
        });
    }
    // Every slot back means every connection has ended.
    let _all = open.acquire_many(limits.max_connections as u32).await;
}

/// What the idle check needs to know of a connection.
struct Activity {
    epoch: Instant,
    /// Milliseconds since `epoch` when a byte last moved either way.
    last_ms: AtomicU64,
    /// Requests whose handler has not yet produced a response head.
    handling: AtomicUsize,
    /// Response bodies still being sent (a stream counts until it ends).
    answering: AtomicUsize,
    /// Milliseconds since `epoch` when a request last started or an answer last ended.
    last_request_ms: AtomicU64,
}

impl Activity {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn touch(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn requested(&self) {
        self.last_request_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// How long the connection has had neither a request nor an answer in progress. Bytes
    /// do not count: an HTTP/2 client's PINGs must not keep an unused connection open.
    fn unused_for(&self) -> Option<Duration> {
        if self.handling.load(Ordering::Relaxed) > 0 || self.answering.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let last = self.last_request_ms.load(Ordering::Relaxed);
        Some(Duration::from_millis(self.now_ms().saturating_sub(last)))
    }

    fn idle_for(&self) -> Duration {
        let last = self.last_ms.load(Ordering::Relaxed);
        Duration::from_millis((self.epoch.elapsed().as_millis() as u64).saturating_sub(last))
    }
}

/// Counts a request as being handled until its response head exists.
struct Handling(Arc<Activity>);

impl Handling {
    fn enter(activity: &Arc<Activity>) -> Handling {
        activity.handling.fetch_add(1, Ordering::Relaxed);
        activity.requested();
        Handling(activity.clone())
    }
}

/// A response body that counts as an answer in progress until it ends or is dropped.
struct Answer {
    inner: axum::body::Body,
    activity: Arc<Activity>,
}

impl Answer {
    fn wrap(inner: axum::body::Body, activity: &Arc<Activity>) -> axum::body::Body {
        activity.answering.fetch_add(1, Ordering::Relaxed);
        axum::body::Body::new(Answer {
            inner,
            activity: activity.clone(),
        })
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        self.activity.answering.fetch_sub(1, Ordering::Relaxed);
        self.activity.requested();
    }
}

impl http_body::Body for Answer {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.handling.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

#[derive(Clone, Copy)]
struct Timeouts {
    header: Duration,
    idle: Duration,
}

/// One connection: the TLS handshake first when HTTPS is on, then HTTP until the client
/// closes, the connection idles out, or the server stops.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    timeouts: Timeouts,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: CancellationToken,
    epoch: Instant,
) {
    let now = epoch.elapsed().as_millis() as u64;
    let activity = Arc::new(Activity {
        epoch,
        last_ms: AtomicU64::new(now),
        handling: AtomicUsize::new(0),
        answering: AtomicUsize::new(0),
        last_request_ms: AtomicU64::new(now),
    });
    let tracked = Tracked {
        inner: tcp,
        activity: activity.clone(),
    };
    let seen = activity.clone();
    let counts_answers = tls.is_some();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let handling = Handling::enter(&seen);
        let app = app.clone();
        let seen = seen.clone();
        async move {
            let resp = app.oneshot(req).await;
            drop(handling);
            // Only an HTTPS connection (which may be HTTP/2) asks whether answers are in
            // progress; a plain one leaves its bodies as they are.
            match counts_answers {
                true => resp.map(|r| r.map(|body| Answer::wrap(body, &seen))),
                false => resp,
            }
        }
    });
    let Some(tls) = tls else {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(timeouts.header);
        let conn = builder.serve_connection(TokioIo::new(tracked), service);
        return drive(conn, &activity, peer, timeouts, false, stop).await;
    };
    // A client that opens a connection and never finishes the handshake holds a slot no
    // longer than one that never sends its headers.
    let stream = match tokio::time::timeout(timeouts.header, tls.accept(tracked)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::debug!(client_ip = %peer.ip(), error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(client_ip = %peer.ip(), "TLS handshake not finished within HTTP_HEADER_TIMEOUT");
            return;
        }
    };
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header);
    // One connection carries at most this many requests at once (MAX_CONCURRENT_REQUESTS
    // still bounds them all); an unused HTTP/2 connection closes as an HTTP/1 one does.
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(64);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    drive(conn, &activity, peer, timeouts, true, stop).await;
}

/// A connection hyper can be asked to finish gracefully (HTTP/1 and HTTP/1-or-2 alike).
trait Graceful: Future {
    fn graceful(self: Pin<&mut Self>);
}

impl<I, S> Graceful for hyper::server::conn::http1::Connection<I, S>
where
    Self: Future,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    S: hyper::service::HttpService<Incoming>,
    S::ResBody: http_body::Body + 'static,
    <S::ResBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, E> Graceful for hyper_util::server::conn::auto::Connection<'_, I, S, E>
where
    Self: Future,
    S: hyper::service::Service<
            http::Request<Incoming>,
            Response = http::Response<axum::body::Body>,
        >,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: 'static,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, axum::body::Body>,
{
    fn graceful(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Runs a connection to its end: closes it when idle past the timeout, asks it to finish
/// when the server stops.
async fn drive<C, T, E>(
    conn: C,
    activity: &Activity,
    peer: SocketAddr,
    timeouts: Timeouts,
    close_unused: bool,
    stop: CancellationToken,
) where
    C: Graceful<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    tokio::pin!(conn);
    let idle_timeout = timeouts.idle;
    let mut check = tokio::time::interval(
        (idle_timeout.min(timeouts.header) / 4)
            .clamp(Duration::from_millis(250), Duration::from_secs(15)),
    );
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(client_ip = %peer.ip(), error = %e, "connection ended with an error");
                }
                return;
            }
            _ = stop.cancelled(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful();
            }
            _ = check.tick() => {
                if activity.handling.load(Ordering::Relaxed) == 0
                    && activity.idle_for() >= idle_timeout
                {
                    tracing::debug!(client_ip = %peer.ip(), "closing a connection idle past HTTP_IDLE_TIMEOUT");
                    return;
                }
                // HTTP/1 keep-alive connections close after the header timeout by hyper;
                // HTTP/2 ones here, whatever PINGs the client sends.
                if close_unused && activity.unused_for().is_some_and(|d| d >= timeouts.header) {
                    tracing::debug!(client_ip = %peer.ip(), "closing an unused HTTP/2 connection after HTTP_HEADER_TIMEOUT");
                    return;
                }
            }
        }
    }
}

/// A TCP stream that notes when bytes move.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
