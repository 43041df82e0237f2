//! Clients that once held a server: slow request heads, idle connections
//! beyond the fd budget, and a half-sent request at shutdown. Each test
//! uses short limits and fails if the defence it checks is gone.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use bookinfo_server::{Limits, serve_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

const HEADER_READ: Duration = Duration::from_millis(300);

struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(limits: Limits) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let router = Router::new().route("/", get(|| async { "ok" }));
    let done = tokio::spawn(serve_with(
        listener,
        router,
        async {
            let _ = stopped.await;
        },
        limits,
    ));
    Server { addr, stop, done }
}

fn limits(connections: usize) -> Limits {
    Limits {
        connections,
        header_read_timeout: HEADER_READ,
        shutdown_deadline: Duration::from_millis(300),
    }
}

/// Reads until the server closes the connection; the time it took.
async fn time_to_close(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("the server kept the connection open for 5 s"),
        }
    }
}

async fn get_ok(addr: SocketAddr) -> bool {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer)).await;
    answer.starts_with("HTTP/1.1 200")
}

#[tokio::test]
async fn a_request_head_sent_a_byte_at_a_time_is_cut_at_the_header_read_timeout() {
    let server = start(limits(64)).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET / HT").await.unwrap();
    let took = time_to_close(&mut slow).await;
    assert!(took < HEADER_READ * 4, "{took:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_same_timeout() {
    let server = start(limits(64)).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 256];
    let n = idle.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
    let took = time_to_close(&mut idle).await;
    assert!(took < HEADER_READ * 4, "{took:?}");
}

#[tokio::test]
async fn idle_connections_beyond_the_limit_wait_and_a_normal_client_is_served_once_they_time_out() {
    let server = start(limits(4)).await;
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    let started = Instant::now();
    assert!(get_ok(server.addr).await, "a normal client is answered");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn shutdown_ends_at_its_deadline_even_with_a_half_sent_request() {
    let mut patient = limits(64);
    patient.header_read_timeout = Duration::from_secs(60);
    let server = start(patient).await;
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    server.stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server.done)
        .await
        .expect("the server did not stop within 5 s")
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_http_1_1_request_without_a_host_or_with_two_gets_400() {
    let server = start(limits(64)).await;
    for head in [
        &b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
    ] {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(head).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    }
    assert!(get_ok(server.addr).await);
}
