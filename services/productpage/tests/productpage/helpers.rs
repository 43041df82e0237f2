//! Stub backends (small axum servers on 127.0.0.1:0 that record what they
//! receive and answer canned replies) and a productpage wired to them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bookinfo_productpage::{AppState, Config, Settings};
use bookinfo_support::testing::{self, Running};
use clap::Parser;

pub(crate) const SECRET: &str = "test-secret";

pub(crate) const DETAILS_V1: &str = r#"{"id":0,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}"#;
pub(crate) const RATINGS: &str = r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#;

/// A reviews body as upstream reviews concatenates it.
pub(crate) fn reviews_body(pod: &str, cluster: &str, r1: &str, r2: &str) -> String {
    format!(
        r#"{{"id": "0","podname": "{pod}","clustername": "{cluster}","reviews": [{{  "reviewer": "Reviewer1",  "text": "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!"{r1}}},{{  "reviewer": "Reviewer2",  "text": "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare."{r2}}}]}}"#
    )
}

pub(crate) fn stars(n: u8, color: &str) -> String {
    format!(r#", "rating": {{"stars": {n}, "color": "{color}"}}"#)
}

pub(crate) const RATING_ERROR: &str =
    r#", "rating": {"error": "Ratings service is currently unavailable"}"#;

pub(crate) fn reviews_v1() -> Canned {
    Canned::ok(reviews_body("reviews-v1-5b4f8d7c9-x2x7k", "null", "", "")).version("reviews-v1")
}

pub(crate) fn reviews_v2() -> Canned {
    Canned::ok(reviews_body(
        "reviews-v2-6c5d9f8b7-k8s9p",
        "null",
        &stars(5, "black"),
        &stars(4, "black"),
    ))
    .version("reviews-v2")
}

pub(crate) fn reviews_v3() -> Canned {
    Canned::ok(reviews_body(
        "reviews-v3-7d6e0a9c8-m4n5q",
        "null",
        &stars(5, "red"),
        &stars(4, "red"),
    ))
    .version("reviews-v3")
}

pub(crate) fn reviews_ratings_down() -> Canned {
    Canned::ok(reviews_body(
        "reviews-v2-6c5d9f8b7-k8s9p",
        "null",
        RATING_ERROR,
        RATING_ERROR,
    ))
    .version("reviews-v2")
}

/// What a stub answers.
#[derive(Clone, Debug)]
pub(crate) struct Canned {
    pub status: u16,
    pub body: String,
    pub version: Option<String>,
    pub delay: Duration,
}

impl Canned {
    pub(crate) fn ok(body: impl Into<String>) -> Self {
        Self::status(200, body)
    }

    pub(crate) fn status(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            body: body.into(),
            version: None,
            delay: Duration::ZERO,
        }
    }

    pub(crate) fn version(mut self, version: &str) -> Self {
        self.version = Some(version.to_owned());
        self
    }

    pub(crate) fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// One request a stub received.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    /// Path and query exactly as they arrived.
    pub target: String,
    pub headers: HeaderMap,
    pub at: Instant,
}

/// What a stub records and answers, shared with its handler.
#[derive(Clone)]
struct Shared {
    seen: Arc<Mutex<Vec<Seen>>>,
    canned: Arc<Mutex<Canned>>,
}

/// A stub backend; its server stops when the stub is dropped.
pub(crate) struct Stub {
    pub port: u16,
    shared: Shared,
    _server: Running,
}

impl Stub {
    pub(crate) async fn start(canned: Canned) -> Self {
        let shared = Shared {
            seen: Arc::default(),
            canned: Arc::new(Mutex::new(canned)),
        };
        // The handler holds the shared state, not the stub: the stub owns
        // the server, and the server must not keep itself alive.
        let handler = shared.clone();
        let router = Router::new().fallback(move |request: Request| {
            let shared = handler.clone();
            async move { shared.answer(request).await }
        });
        let server = testing::serve(router).await;
        Self {
            port: server.addr.port(),
            shared,
            _server: server,
        }
    }

    pub(crate) fn set(&self, canned: Canned) {
        *self.shared.canned.lock().unwrap() = canned;
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    pub(crate) fn calls(&self) -> usize {
        self.shared.seen.lock().unwrap().len()
    }

    pub(crate) fn last_header(&self, name: &str) -> Option<String> {
        self.seen().last().and_then(|seen| {
            seen.headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        })
    }
}

impl Shared {
    async fn answer(&self, request: Request) -> Response {
        let target = request
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_default();
        self.seen.lock().unwrap().push(Seen {
            target,
            headers: request.headers().clone(),
            at: Instant::now(),
        });
        let canned = self.canned.lock().unwrap().clone();
        tokio::time::sleep(canned.delay).await;
        let mut response = (
            StatusCode::from_u16(canned.status).unwrap(),
            [("content-type", "application/json")],
            canned.body,
        )
            .into_response();
        if let Some(version) = canned.version {
            response
                .headers_mut()
                .insert("x-bookinfo-version", version.parse().unwrap());
        }
        response
    }
}

/// A port on which nothing listens.
pub(crate) async fn dead_port() -> u16 {
    testing::closed_port().port()
}

/// Where productpage's three backends are.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ports {
    pub details: u16,
    pub reviews: u16,
    pub ratings: u16,
}

/// Healthy stubs for all three backends, reviews answering as `reviews`.
pub(crate) struct World {
    pub details: Stub,
    pub reviews: Stub,
    pub ratings: Stub,
}

impl World {
    pub(crate) async fn start(reviews: Canned) -> Self {
        Self {
            details: Stub::start(Canned::ok(DETAILS_V1)).await,
            reviews: Stub::start(reviews).await,
            ratings: Stub::start(Canned::ok(RATINGS)).await,
        }
    }

    pub(crate) fn ports(&self) -> Ports {
        Ports {
            details: self.details.port,
            reviews: self.reviews.port,
            ratings: self.ratings.port,
        }
    }
}

/// productpage under test; its server stops when this is dropped.
pub(crate) struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    _server: Running,
}

impl TestApp {
    /// productpage on 127.0.0.1:0 against `ports`, with `extra` command-line
    /// arguments and `tweak` applied to the settings.
    pub(crate) async fn spawn_with(
        ports: Ports,
        extra: &[&str],
        tweak: impl FnOnce(&mut Settings),
    ) -> Self {
        let details = ports.details.to_string();
        let reviews = ports.reviews.to_string();
        let ratings = ports.ratings.to_string();
        let mut args = vec![
            "productpage",
            "--details-hostname",
            "127.0.0.1",
            "--details-service-port",
            &details,
            "--reviews-hostname",
            "127.0.0.1",
            "--reviews-service-port",
            &reviews,
            "--ratings-hostname",
            "127.0.0.1",
            "--ratings-service-port",
            &ratings,
            "--session-secret",
            SECRET,
        ];
        args.extend_from_slice(extra);
        let config = Config::try_parse_from(args).unwrap();
        let mut settings = Settings::from_config(&config);
        tweak(&mut settings);
        let server = testing::start(AppState::new(settings).unwrap()).await;
        let base = format!("http://{}", server.addr);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base,
            client,
            _server: server,
        }
    }

    pub(crate) async fn spawn(ports: Ports) -> Self {
        Self::spawn_with(ports, &[], |_| {}).await
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// `(status, body)` of the product page, with `cookie` if given.
    pub(crate) async fn page(&self, cookie: Option<&str>) -> (u16, String) {
        let mut request = self.client.get(self.url("/productpage"));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Logs in as `user` and returns the `name=value` of the session cookie.
    pub(crate) async fn login(&self, user: &str) -> String {
        let response = self
            .client
            .post(self.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("username={user}&passwd=password"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 302);
        let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
        set_cookie.split(';').next().unwrap().to_owned()
    }
}

pub(crate) fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// Sends `GET {target}` exactly as written (no client-side path
/// normalisation) and returns the status and the raw response.
pub(crate) async fn raw_get(base: &str, target: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, response)
}
