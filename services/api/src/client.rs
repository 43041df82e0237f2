//! The client every service calls its Bookinfo backends with: HTTP/1.1
//! over hyper, plain HTTP (in a mesh the sidecar does TLS), with a small
//! pool of kept-alive connections per backend. Written on hyper's
//! connection API because a call is then a URI parse and a pooled
//! exchange: a general-purpose client parsed a URL and ran redirect and
//! retry layers per call, and hyper-util's pool hashes its key twice per
//! call.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_LENGTH, HOST};
use http::{HeaderMap, HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::contract::VERSION_HEADER;

/// One backend service reached at `base_url` (e.g. `http://ratings:9080`).
/// Clones share the pool.
#[derive(Clone)]
pub struct Backend(Arc<Inner>);

struct Inner {
    base_url: String,
    /// What the connections dial, and the `Host` header.
    host: String,
    port: u16,
    host_header: HeaderValue,
    timeout: Duration,
    /// Kept-alive connections, the most recently used last.
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    sender: SendRequest<Empty<Bytes>>,
    since: Instant,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("base_url", &self.0.base_url)
            .field("timeout", &self.0.timeout)
            .finish_non_exhaustive()
    }
}

/// The most idle connections kept per backend; one returned beyond it is
/// closed. A caller has at most as many calls to one backend in flight as
/// requests of its own (32 under the benchmarks' load), so this keeps
/// every connection a steady load uses, and bounds the descriptors a burst
/// leaves open.
const MAX_IDLE: usize = 64;

/// A response that arrived, whatever its status.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
    /// The `x-bookinfo-version` the backend answered with, if any.
    pub version: Option<String>,
}

/// How long a client of the project keeps an idle pooled connection: well
/// below the 30 s after which Bookinfo servers close an idle one, so a
/// request never goes out on a connection the server is closing.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(15);

/// The most of a response body read. The contract's bodies are a few
/// hundred bytes and a Books API answer a few kB; anything near this is not
/// a Bookinfo answer, and reading it unbounded let one backend take a caller
/// to gigabytes (a degraded page is the answer, as for any failure).
pub const MAX_BODY: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot reach the backend: {0}")]
    Connect(String),
    #[error("the answer is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("request failed: {0}")]
    Other(String),
}

/// The HTTP client could not be set up (the process cannot call anything).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the HTTP client: {0}")]
pub struct BuildError(String);

impl Backend {
    /// `timeout` bounds the whole exchange (connect, head and body), which is
    /// at least as strict as the upstream connect + read timeouts.
    pub fn new(base_url: impl Into<String>, timeout: Duration) -> Result<Self, BuildError> {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        let refused = || BuildError(format!("`{base_url}` is not an http://host[:port] URL"));
        let uri: Uri = base_url.parse().map_err(|_| refused())?;
        let authority = match (uri.scheme_str(), uri.authority(), uri.path()) {
            (Some("http"), Some(authority), "" | "/") if uri.query().is_none() => authority,
            _ => return Err(refused()),
        };
        let host_header = HeaderValue::from_str(authority.as_str()).map_err(|_| refused())?;
        // An IPv6 literal is dialled without its brackets.
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        Ok(Self(Arc::new(Inner {
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(80),
            host_header,
            base_url,
            timeout,
            idle: Mutex::new(Vec::new()),
        })))
    }

    pub fn base_url(&self) -> &str {
        &self.0.base_url
    }

    pub fn timeout(&self) -> Duration {
        self.0.timeout
    }

    /// GET `{base_url}{path}` with `headers` (the forwarded set).
    pub async fn get(&self, path: &str, headers: HeaderMap) -> Result<Reply, CallError> {
        let uri: Uri = path
            .parse()
            .ok()
            .filter(|uri: &Uri| uri.scheme().is_none() && path.starts_with('/'))
            .ok_or_else(|| CallError::Other(format!("`{path}` is not a request path")))?;
        let mut request = Request::new(Empty::new());
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        let sent = request.headers_mut();
        sent.insert(HOST, self.0.host_header.clone());
        // What general-purpose clients (and upstream's) send when the
        // caller names nothing.
        sent.entry(ACCEPT)
            .or_insert(HeaderValue::from_static("*/*"));
        tokio::time::timeout(self.0.timeout, self.exchange(request))
            .await
            .unwrap_or(Err(CallError::Timeout(self.0.timeout)))
    }

    async fn exchange(&self, request: Request<Empty<Bytes>>) -> Result<Reply, CallError> {
        let (mut sender, reused) = match self.checkout().await {
            Some(sender) => (sender, true),
            None => (self.connect().await?, false),
        };
        let response = match sender.try_send_request(request).await {
            Ok(response) => response,
            Err(mut failed) => match failed.take_message() {
                // A kept-alive connection the server closed as the request
                // went out: it was never written, so it goes once more on a
                // new connection (as hyper's pooled client does).
                Some(unsent) if reused => {
                    sender = self.connect().await?;
                    sender.send_request(unsent).await.map_err(request_failed)?
                }
                _ => return Err(request_failed(failed.into_error())),
            },
        };
        let (head, body) = response.into_parts();
        // A declared length above the bound is refused before reading.
        let declared = head
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY as u64) {
            return Err(CallError::TooLarge);
        }
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|error| {
                if error.downcast_ref::<LengthLimitError>().is_some() {
                    CallError::TooLarge
                } else {
                    CallError::Other(with_causes(error.as_ref()))
                }
            })?
            .to_bytes();
        // Only a connection whose answer was read whole is kept.
        self.checkin(sender);
        let version = head
            .headers
            .get(VERSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Reply {
            status: head.status,
            body,
            version,
        })
    }

    /// The most recently used idle connection that is still open, younger
    /// than [`POOL_IDLE_TIMEOUT`] and ready for a request.
    async fn checkout(&self) -> Option<SendRequest<Empty<Bytes>>> {
        loop {
            let Idle { mut sender, since } = self
                .0
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()?;
            if since.elapsed() >= POOL_IDLE_TIMEOUT || sender.is_closed() {
                continue;
            }
            // Right after an answer the connection may not have taken up
            // its next request yet; it does at once, or it is closing.
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    fn checkin(&self, sender: SendRequest<Empty<Bytes>>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.0.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    async fn connect(&self) -> Result<SendRequest<Empty<Bytes>>, CallError> {
        let stream = TcpStream::connect((self.0.host.as_str(), self.0.port))
            .await
            .map_err(|e| CallError::Connect(format!("tcp connect error: {e}")))?;
        // Small request/response pairs: do not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| CallError::Connect(with_causes(&e)))?;
        // The connection runs until the server closes it or its last
        // sender (pooled or in use) is dropped.
        tokio::spawn(connection);
        Ok(sender)
    }
}

fn request_failed(error: hyper::Error) -> CallError {
    CallError::Other(with_causes(&error))
}

/// An error with its causes (`client error (Connect): tcp connect error:
/// Connection refused`): the outer messages alone say little.
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashSet;
    use std::net::SocketAddr;

    use axum::Router;
    use axum::extract::{ConnectInfo, State};
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    type Peers = Arc<Mutex<HashSet<SocketAddr>>>;

    /// A server on 127.0.0.1:0 that records each connection's peer and
    /// answers `/close` with `Connection: close`.
    async fn server() -> (String, Peers) {
        let peers = Peers::default();
        let seen = |State(peers): State<Peers>, ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
            peers.lock().unwrap().insert(peer);
            "ok"
        };
        let router = Router::new()
            .route("/", get(seen))
            .route(
                "/close",
                get(move |state, peer| async move {
                    let _ = seen(state, peer).await;
                    ([(http::header::CONNECTION, "close")], "ok")
                }),
            )
            .with_state(peers.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await });
        (format!("http://{addr}"), peers)
    }

    #[tokio::test]
    async fn sequential_calls_share_one_connection() {
        let (url, peers) = server().await;
        let backend = Backend::new(&url, Duration::from_secs(5)).unwrap();
        for _ in 0..20 {
            let reply = backend.get("/", HeaderMap::new()).await.unwrap();
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(reply.body, "ok");
        }
        assert_eq!(peers.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn concurrent_calls_open_connections_and_keep_them() {
        let (url, peers) = server().await;
        let backend = Backend::new(&url, Duration::from_secs(5)).unwrap();
        for _ in 0..3 {
            let calls = (0..8).map(|_| backend.get("/", HeaderMap::new()));
            for reply in futures_util::future::join_all(calls).await {
                assert_eq!(reply.unwrap().status, StatusCode::OK);
            }
        }
        let opened = peers.lock().unwrap().len();
        assert!(
            (1..=8).contains(&opened),
            "{opened} connections for 8 at a time"
        );
    }

    #[tokio::test]
    async fn a_connection_the_server_closes_is_not_reused() {
        let (url, peers) = server().await;
        let backend = Backend::new(&url, Duration::from_secs(5)).unwrap();
        for _ in 0..5 {
            let reply = backend.get("/close", HeaderMap::new()).await.unwrap();
            assert_eq!(reply.status, StatusCode::OK);
        }
        assert_eq!(peers.lock().unwrap().len(), 5);
    }

    /// A server that answers one request per connection with keep-alive,
    /// then closes it: the idle connection dies in the pool.
    #[tokio::test]
    async fn a_call_after_the_server_dropped_an_idle_connection_succeeds() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut head = [0u8; 1024];
                let _ = stream.read(&mut head).await.unwrap();
                let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                stream.write_all(answer.as_bytes()).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
                drop(stream);
            }
        });
        let backend = Backend::new(format!("http://{addr}"), Duration::from_secs(5)).unwrap();
        for _ in 0..3 {
            let reply = backend.get("/", HeaderMap::new()).await.unwrap();
            assert_eq!(reply.body, "ok");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    #[test]
    fn only_plain_http_base_urls_are_taken() {
        for bad in [
            "https://ratings:9080",
            "http://ratings:9080/prefix",
            "http://ratings:9080?q",
            "ratings:9080",
            "http://",
            "not a url",
        ] {
            assert!(Backend::new(bad, Duration::from_secs(1)).is_err(), "{bad}");
        }
        let backend = Backend::new("http://[::1]:9080/", Duration::from_secs(1)).unwrap();
        assert_eq!(backend.0.host, "::1");
        assert_eq!(backend.0.port, 9080);
        assert_eq!(backend.base_url(), "http://[::1]:9080");
        assert_eq!(
            Backend::new("http://details", Duration::ZERO)
                .unwrap()
                .0
                .port,
            80
        );
    }
}
