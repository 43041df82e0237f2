//! For tests (feature `testing`): servers on 127.0.0.1:0 that stop when
//! dropped, for a service under test or for a stub backend.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::launch::{Program, run};

/// A server on a free loopback port; dropping it shuts the server down.
pub struct Running {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

async fn bind() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("no local address: {e}"));
    (listener, addr)
}

/// Serves a service with its standard layers, as its binary does.
pub async fn start<P: Program>(state: P) -> Running {
    let (listener, addr) = bind().await;
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async {
        let _ = stopped.await;
    };
    tokio::spawn(run(listener, state, shutdown, Duration::ZERO));
    Running { addr, _stop: stop }
}

/// Serves a bare router (a stub backend). Handlers may extract the
/// client's address (`ConnectInfo<SocketAddr>`), e.g. to count connections.
pub async fn serve(router: Router) -> Running {
    let (listener, addr) = bind().await;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Running { addr, _stop: stop }
}

/// A loopback address where nothing listens (bound, then released), for
/// tests of refused connections.
pub fn closed_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"))
}
