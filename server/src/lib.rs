//! The one HTTP server loop every Bookinfo listener runs (the services, the
//! routers of the local data plane, its admin endpoint), so that no client
//! can hold a process: a connection limit below the file-descriptor limit,
//! a header-read timeout that also closes idle keep-alive connections, and
//! a graceful shutdown that ends at a deadline.
//!
//! `axum::serve` sets no timer, which leaves hyper's header-read timeout
//! off: a client sending its request head a byte a second, or a thousand
//! idle connections, were held forever. It speaks HTTP/1.1 only, as every
//! Bookinfo service does: the version detection of an HTTP/1-or-2 server
//! waits for a first byte with no timeout at all.

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::header::HOST;
use axum::http::{StatusCode, Version};
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::util::Oneshot;
use tower::{Service, ServiceExt};

/// Time a client has to send a request head, counted from the connection's
/// start or the end of its previous response, so it is the idle timeout of
/// keep-alive connections too. hyper's own default; the project's clients
/// keep idle connections for less (`bookinfo_api::POOL_IDLE_TIMEOUT`), so
/// they never reuse one the server is closing.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// After shutdown starts and the listener closes, in-flight requests get
/// this long to finish: the Kubernetes grace period (30 s) less the 5 s
/// drain of the manifests, less a margin. A client holding a half-sent
/// request can no longer keep a pod from terminating.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(20);
/// File descriptors kept free of connections: logs, backend connections
/// in flight, the listener itself.
const RESERVED_FDS: u64 = 64;
/// The most connections a server holds at once, whatever the fd limit.
const MAX_CONNECTIONS: u64 = 16_384;
/// The fewest, on a tiny fd limit.
const MIN_CONNECTIONS: u64 = 16;
/// Pause after a failed accept (fd exhaustion) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Connections held at once: half the descriptors the process may open
/// (each proxied or backend-calling request needs a second one), less a
/// reserve. Beyond it new connections wait in the listen backlog, and the
/// header-read timeout frees the slots that idle clients hold.
pub fn connection_limit() -> usize {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(MAX_CONNECTIONS * 2);
    let limit = (soft.saturating_sub(RESERVED_FDS) / 2).clamp(MIN_CONNECTIONS, MAX_CONNECTIONS);
    usize::try_from(limit).unwrap_or(usize::MAX)
}

/// RFC 9112, section 3.2: an HTTP/1.1 request without a Host header, or
/// with more than one, gets 400 (hyper alone accepts both).
fn host_is_missing_or_repeated(request: &Request<Incoming>) -> bool {
    request.version() == Version::HTTP_11 && request.headers().get_all(HOST).iter().count() != 1
}

/// What hyper calls for each request of one connection: the Host check,
/// the peer's address as axum's `ConnectInfo` (for handlers that read it),
/// then the server's service. Written out rather than made of tower
/// layers so that the check costs no allocation per request.
struct Connection<S> {
    service: S,
    peer: SocketAddr,
}

impl<S> hyper::service::Service<Request<Incoming>> for Connection<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, Oneshot<S, Request>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        if host_is_missing_or_repeated(&request) {
            let refused = (
                StatusCode::BAD_REQUEST,
                "exactly one Host header is required\n",
            )
                .into_response();
            return Either::Left(ready(Ok(refused)));
        }
        request.extensions_mut().insert(ConnectInfo(self.peer));
        Either::Right(self.service.clone().oneshot(request.map(Body::new)))
    }
}

/// What a server holds a client to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub connections: usize,
    pub header_read_timeout: Duration,
    pub shutdown_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connections: connection_limit(),
            header_read_timeout: HEADER_READ_TIMEOUT,
            shutdown_deadline: SHUTDOWN_DEADLINE,
        }
    }
}

/// What a server serves: an axum `Router`, or a service wrapping one.
pub trait App:
    Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static
{
}

impl<S> App for S where
    S: Service<Request, Response = Response, Error = Infallible, Future: Send>
        + Clone
        + Send
        + 'static
{
}

/// Serves `app` on `listener` with the default [`Limits`] until
/// `shutdown` resolves, then closes the listener and lets in-flight
/// requests finish for up to [`SHUTDOWN_DEADLINE`].
pub async fn serve(
    listener: TcpListener,
    app: impl App,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_with(listener, app, shutdown, Limits::default()).await
}

/// [`serve`] with other limits (tests use short ones).
pub async fn serve_with(
    listener: TcpListener,
    app: impl App,
    shutdown: impl Future<Output = ()> + Send,
    limits: Limits,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.connections));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed; retrying");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        // Small request/response pairs: do not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let service = Connection {
            service: app.clone(),
            peer,
        };
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_deadline, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            deadline = ?limits.shutdown_deadline,
            "connections still open at the shutdown deadline were closed"
        );
    }
    Ok(())
}
