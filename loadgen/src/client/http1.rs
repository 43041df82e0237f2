//! The HTTP/1.1 client of the run's GET requests: a precomputed request, a LIFO pool of
//! keep-alive connections, and a response reader (httparse for the head; Content-Length,
//! chunked or close-delimited bodies).
//!
//! The load generator must cost the target far more than itself: a general client
//! (reqwest over hyper's pooled client) spends most of its time on what one fixed GET
//! never needs: URL parsing per request, header maps, a connection task separate from the
//! request task (three task wake-ups per request), pool bookkeeping. Here a request is
//! one `write` of ready bytes and usually one `read`, in the task that sent it.

use std::io;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::Url;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Longest response head (status line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;
/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;
/// Pooled connections idle for longer are not reused: Bookinfo's servers
/// close idle connections after 30 s, and other servers sooner or later.
const IDLE_TIMEOUT: Duration = bookinfo_api::POOL_IDLE_TIMEOUT;
const READ_RESERVE: usize = 8 * 1024;

/// What a GET produced.
#[derive(Debug)]
pub(super) struct Response {
    pub status: u16,
    /// The value of the header asked for in [`Endpoint::new`].
    pub header: Option<String>,
    /// At most the body limit; anything beyond is dropped.
    pub body: Vec<u8>,
}

/// One URL to GET over and over.
#[derive(Debug)]
pub(super) struct Endpoint {
    /// For connecting: the host without IPv6 brackets, and the port.
    host: String,
    port: u16,
    request: Vec<u8>,
    keep_alive: bool,
    header: &'static str,
    body_limit: usize,
    idle: Mutex<Vec<(Conn, Instant)>>,
}

#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// An exchange that failed; `retry` when nothing of a response arrived on a reused
/// connection (the server closed it while it was idle), so a GET may be resent.
struct Failed {
    error: io::Error,
    retry: bool,
}

impl From<io::Error> for Failed {
    fn from(error: io::Error) -> Self {
        Self {
            error,
            retry: false,
        }
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

fn eof(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, message.to_owned())
}

/// How the body is delimited.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// The parts of a response head that matter here.
struct Head {
    len: usize,
    status: u16,
    header: Option<String>,
    framing: Framing,
    /// The server keeps the connection open after this response.
    persistent: bool,
}

impl Endpoint {
    /// `extra_headers` are complete lines without the CRLF (e.g. `Cookie: a=b`).
    /// `keep_alive: false` sends `Connection: close` and never reuses a connection.
    pub(super) fn new(
        url: &Url,
        user_agent: &str,
        extra_headers: &[String],
        keep_alive: bool,
        header: &'static str,
        body_limit: usize,
    ) -> io::Result<Self> {
        let host_str = url
            .host_str()
            .ok_or_else(|| invalid(format!("{url} has no host")))?;
        let port = url.port_or_known_default().unwrap_or(80);
        let authority = match url.port() {
            Some(port) => format!("{host_str}:{port}"),
            None => host_str.to_owned(),
        };
        let mut target = url.path().to_owned();
        if let Some(query) = url.query() {
            target.push('?');
            target.push_str(query);
        }
        let mut text = format!(
            "GET {target} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {user_agent}\r\nAccept: */*\r\n"
        );
        for line in extra_headers {
            if line.contains(['\r', '\n']) {
                return Err(invalid("a request header contains a line break"));
            }
            text.push_str(line);
            text.push_str("\r\n");
        }
        if !keep_alive {
            text.push_str("Connection: close\r\n");
        }
        text.push_str("\r\n");
        Ok(Self {
            host: host_str
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            request: text.into_bytes(),
            keep_alive,
            header,
            body_limit,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// One GET. A reused connection that turns out closed is replaced once.
    pub(super) async fn get(&self) -> io::Result<Response> {
        if let Some(conn) = self.checkout() {
            match self.exchange(conn).await {
                Err(Failed { retry: true, .. }) => {}
                other => return other.map_err(|f| f.error),
            }
        }
        let conn = self.connect().await?;
        self.exchange(conn).await.map_err(|f| f.error)
    }

    fn checkout(&self) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let (conn, since) = idle.pop()?;
        if since.elapsed() < IDLE_TIMEOUT {
            return Some(conn);
        }
        // LIFO: everything below is older still.
        idle.clear();
        None
    }

    fn checkin(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.push((conn, Instant::now()));
    }

    async fn connect(&self) -> io::Result<Conn> {
        let stream = TcpStream::connect((self.host.as_str(), self.port)).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(READ_RESERVE),
        })
    }

    async fn exchange(&self, mut conn: Conn) -> Result<Response, Failed> {
        conn.buf.clear();
        if let Err(error) = conn.stream.write_all(&self.request).await {
            return Err(Failed { error, retry: true });
        }
        let head = loop {
            match self.parse_head(&conn.buf)? {
                Some(head) if (100..200).contains(&head.status) && head.status != 101 => {
                    // An interim answer (103 Early Hints); the real one follows.
                    conn.buf.drain(..head.len);
                }
                Some(head) => break head,
                None => {
                    if conn.buf.len() > MAX_HEAD {
                        return Err(invalid("response head too large").into());
                    }
                    // Nothing at all back (closed or reset) may mean the server had
                    // closed the idle connection before the request reached it.
                    let nothing_yet = conn.buf.is_empty();
                    match conn.read_more().await {
                        Ok(0) if nothing_yet => {
                            return Err(Failed {
                                error: eof("connection closed before the response"),
                                retry: true,
                            });
                        }
                        Ok(0) => return Err(eof("connection closed in the response head").into()),
                        Ok(_) => {}
                        Err(error) => {
                            return Err(Failed {
                                error,
                                retry: nothing_yet,
                            });
                        }
                    }
                }
            }
        };
        conn.buf.drain(..head.len);
        let (body, complete) = match head.framing {
            Framing::Length(len) => conn.read_length(len, self.body_limit).await?,
            Framing::Chunked => conn.read_chunked(self.body_limit).await?,
            Framing::UntilClose => (conn.read_to_close(self.body_limit).await?, false),
        };
        if complete && self.keep_alive && head.persistent && conn.buf.is_empty() {
            self.checkin(conn);
        }
        Ok(Response {
            status: head.status,
            header: head.header,
            body,
        })
    }

    /// `None` until the whole head is in `buf`.
    fn parse_head(&self, buf: &[u8]) -> io::Result<Option<Head>> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let len = match response.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(invalid(format!("invalid HTTP response: {e}"))),
        };
        let status = response.code.unwrap_or(0);
        let http11 = response.version == Some(1);
        let mut wanted = None;
        let mut length: Option<u64> = None;
        let mut transfer_encoding: Option<bool> = None;
        let (mut close, mut keep_alive) = (false, false);
        for h in response.headers.iter() {
            let value = std::str::from_utf8(h.value).unwrap_or("");
            if h.name.eq_ignore_ascii_case(self.header) {
                if wanted.is_none() {
                    wanted = Some(value.to_owned());
                }
            } else if h.name.eq_ignore_ascii_case("content-length") {
                let n: u64 = value
                    .trim()
                    .parse()
                    .map_err(|_| invalid(format!("invalid Content-Length {value:?}")))?;
                if length.is_some_and(|m| m != n) {
                    return Err(invalid("conflicting Content-Length headers"));
                }
                length = Some(n);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                // Chunked only if it is the last coding applied.
                let last = value.rsplit(',').next().unwrap_or("").trim();
                transfer_encoding = Some(last.eq_ignore_ascii_case("chunked"));
            } else if h.name.eq_ignore_ascii_case("connection") {
                for token in value.split(',').map(str::trim) {
                    close |= token.eq_ignore_ascii_case("close");
                    keep_alive |= token.eq_ignore_ascii_case("keep-alive");
                }
            }
        }
        let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
            Framing::Length(0)
        } else {
            match (transfer_encoding, length) {
                (Some(true), _) => Framing::Chunked,
                (Some(false), _) | (None, None) => Framing::UntilClose,
                (None, Some(n)) => Framing::Length(n),
            }
        };
        Ok(Some(Head {
            len,
            status,
            header: wanted,
            framing,
            persistent: !close && (http11 || keep_alive),
        }))
    }
}

impl Conn {
    /// Reads once more into `buf`; 0 at the end of the stream.
    async fn read_more(&mut self) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < READ_RESERVE / 2 {
            self.buf.reserve(READ_RESERVE);
        }
        self.stream.read_buf(&mut self.buf).await
    }

    /// Moves up to `n` buffered bytes into `body` (within `limit`), returns how many.
    fn take(&mut self, n: usize, body: &mut Vec<u8>, limit: usize) -> usize {
        let n = n.min(self.buf.len());
        let room = limit.saturating_sub(body.len()).min(n);
        body.extend_from_slice(self.buf.get(..room).unwrap_or(&[]));
        if n == self.buf.len() {
            self.buf.clear();
        } else {
            self.buf.drain(..n);
        }
        n
    }

    /// The body and whether it was read completely (else the connection is not reused).
    async fn read_length(&mut self, len: u64, limit: usize) -> io::Result<(Vec<u8>, bool)> {
        let mut body = Vec::with_capacity(usize::try_from(len).unwrap_or(limit).min(limit));
        let mut remaining = len;
        loop {
            let want = usize::try_from(remaining).unwrap_or(usize::MAX);
            remaining -= self.take(want, &mut body, limit) as u64;
            if remaining == 0 {
                return Ok((body, true));
            }
            if body.len() >= limit {
                return Ok((body, false));
            }
            if self.read_more().await? == 0 {
                return Err(eof("connection closed in the response body"));
            }
        }
    }

    async fn read_to_close(&mut self, limit: usize) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            self.take(usize::MAX, &mut body, limit);
            if body.len() >= limit || self.read_more().await? == 0 {
                return Ok(body);
            }
        }
    }

    /// One CRLF-terminated line from `buf` (without the CRLF), reading as needed.
    async fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(self.buf.get(..end).unwrap_or(&[])).into_owned();
                self.buf.drain(..end + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE {
                return Err(invalid("chunk line too long"));
            }
            if self.read_more().await? == 0 {
                return Err(eof("connection closed in a chunked body"));
            }
        }
    }

    async fn read_chunked(&mut self, limit: usize) -> io::Result<(Vec<u8>, bool)> {
        let mut body = Vec::new();
        loop {
            let line = self.line().await?;
            let size = line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size, 16)
                .map_err(|_| invalid(format!("invalid chunk size {size:?}")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.line().await?.is_empty() {}
                return Ok((body, true));
            }
            let mut remaining = size;
            while remaining > 0 {
                if self.buf.is_empty() && self.read_more().await? == 0 {
                    return Err(eof("connection closed in a chunked body"));
                }
                let want = usize::try_from(remaining).unwrap_or(usize::MAX);
                remaining -= self.take(want, &mut body, limit) as u64;
            }
            if !self.line().await?.is_empty() {
                return Err(invalid("chunk data longer than its size"));
            }
            if body.len() >= limit {
                return Ok((body, false));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A server that answers each request on a connection with the next canned reply,
    /// and closes after the last one. Returns the URL.
    async fn canned(replies: Vec<Vec<&'static [u8]>>) -> Url {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for connection in replies {
                let (mut stream, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    for reply in connection {
                        let mut seen = Vec::new();
                        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                            let n = stream.read(&mut buf).await.unwrap();
                            if n == 0 {
                                return;
                            }
                            seen.extend_from_slice(&buf[..n]);
                        }
                        // Written in two parts, to exercise partial reads.
                        let (a, b) = reply.split_at(reply.len() / 2);
                        let _ = stream.write_all(a).await;
                        let _ = stream.flush().await;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        let _ = stream.write_all(b).await;
                    }
                });
            }
        });
        Url::parse(&format!("http://{addr}/p?q=1")).unwrap()
    }

    fn endpoint(url: &Url, keep_alive: bool) -> Endpoint {
        Endpoint::new(
            url,
            "test",
            &["Cookie: a=b".into()],
            keep_alive,
            "x-v",
            1000,
        )
        .unwrap()
    }

    #[test]
    fn the_request_is_built_once() {
        let url = Url::parse("http://h:9080/productpage?u=1").unwrap();
        let e = endpoint(&url, false);
        let text = String::from_utf8(e.request.clone()).unwrap();
        assert_eq!(
            text,
            "GET /productpage?u=1 HTTP/1.1\r\nHost: h:9080\r\nUser-Agent: test\r\nAccept: */*\r\n\
             Cookie: a=b\r\nConnection: close\r\n\r\n"
        );
        let url = Url::parse("http://[::1]/").unwrap();
        let e = endpoint(&url, true);
        assert_eq!((e.host.as_str(), e.port), ("::1", 80));
        assert!(
            String::from_utf8(e.request)
                .unwrap()
                .contains("Host: [::1]\r\n")
        );
    }

    #[tokio::test]
    async fn bodies_by_length_chunks_and_close_and_reuse() {
        let url = canned(vec![
            vec![
                b"HTTP/1.1 200 OK\r\nX-V: reviews-v2\r\nContent-Length: 5\r\n\r\nhello",
                b"HTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\nHTTP/1.1 503 Busy\r\n\
                  Transfer-Encoding: chunked\r\n\r\n4;x=y\r\nwiki\r\n5\r\npedia\r\n0\r\nT: 1\r\n\r\n",
                b"HTTP/1.1 204 No Content\r\n\r\n",
                b"HTTP/1.0 200 OK\r\n\r\nuntil close",
            ],
            // The pooled connection was closed: the next GET goes to a new one.
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n"],
        ])
        .await;
        let e = endpoint(&url, true);
        let r = e.get().await.unwrap();
        assert_eq!((r.status, r.header.as_deref()), (200, Some("reviews-v2")));
        assert_eq!(r.body, b"hello");
        let r = e.get().await.unwrap();
        assert_eq!((r.status, r.body.as_slice()), (503, &b"wikipedia"[..]));
        let r = e.get().await.unwrap();
        assert_eq!((r.status, r.body.len()), (204, 0));
        let r = e.get().await.unwrap();
        assert_eq!(r.body, b"until close");
        assert!(e.idle.lock().unwrap().is_empty(), "HTTP/1.0 is not reused");
        // Cut short: closed before the 2000 bytes came.
        let err = e.get().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
    }

    #[tokio::test]
    async fn a_stale_pooled_connection_is_replaced_once() {
        let url = canned(vec![
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"],
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"],
        ])
        .await;
        let e = endpoint(&url, true);
        assert_eq!(e.get().await.unwrap().body, b"a");
        // The server closed the first connection after its one reply.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(e.get().await.unwrap().body, b"b");
    }

    #[tokio::test]
    async fn bodies_are_cut_at_the_limit_and_garbage_is_an_error() {
        let big: &'static [u8] = Box::leak(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n{}",
                "x".repeat(3000)
            )
            .into_bytes()
            .into_boxed_slice(),
        );
        let url = canned(vec![vec![big], vec![b"SSH-2.0-OpenSSH\r\n\r\n"]]).await;
        let e = endpoint(&url, true);
        assert_eq!(e.get().await.unwrap().body.len(), 1000);
        assert!(e.idle.lock().unwrap().is_empty(), "not reused after a cut");
        let err = e.get().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    }
}
