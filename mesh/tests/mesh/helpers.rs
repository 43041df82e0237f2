use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use bookinfo_mesh::plane::{Instance, Plane, host_router};
use bookinfo_routing::load::load_str;
pub(crate) use bookinfo_support::testing::{Running, serve};

/// What a stub upstream saw.
#[derive(Default)]
pub(crate) struct Seen {
    pub count: AtomicUsize,
    pub hosts: Mutex<Vec<String>>,
}

/// A stub instance answering its version; the first `fail_first` requests
/// get 503, and each answer waits `delay`. It stops when the `Running` is
/// dropped.
pub(crate) async fn stub(
    version: &'static str,
    fail_first: usize,
    delay: Duration,
) -> (Running, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let record = seen.clone();
    let router = Router::new().fallback(move |headers: HeaderMap| {
        let record = record.clone();
        async move {
            let n = record.count.fetch_add(1, Ordering::SeqCst);
            let host = headers
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .to_owned();
            record.hosts.lock().unwrap().push(host);
            tokio::time::sleep(delay).await;
            let status = if n < fail_first { 503 } else { 200 };
            (axum::http::StatusCode::from_u16(status).unwrap(), version).into_response()
        }
    });
    (serve(router).await, seen)
}

pub(crate) fn instance(app: &str, version: &str, addr: SocketAddr) -> Instance {
    Instance {
        app: app.to_owned(),
        labels: BTreeMap::from([("version".to_owned(), version.to_owned())]),
        authority: addr.to_string(),
    }
}

pub(crate) const REVIEWS_SUBSETS: &str = "
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
  - name: v3
    labels: {version: v3}
";

/// A plane over `instances` with `yaml` (plus the reviews subsets) applied,
/// and its reviews proxy listening until the `Running` is dropped.
pub(crate) async fn plane_with(instances: Vec<Instance>, yaml: &str) -> (Arc<Plane>, Running) {
    let plane = Plane::new(instances);
    let mut objects = load_str("subsets", REVIEWS_SUBSETS).unwrap().objects;
    objects.extend(load_str("test", yaml).unwrap().objects);
    plane.replace(objects).unwrap();
    let proxy = serve(host_router(plane.clone(), "reviews", None)).await;
    (plane, proxy)
}

pub(crate) async fn get(addr: SocketAddr, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = reqwest::Client::new().get(format!("http://{addr}/reviews/0"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}
