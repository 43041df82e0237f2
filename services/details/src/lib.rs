//! details: the book's data. v1 answers from local
//! data; v2 (`ENABLE_EXTERNAL_BOOK_SERVICE=true`) looks the book up in an
//! external book API with a bounded timeout.

mod books_api;
mod config;
mod ruby_integer;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use bookinfo_api::details::BookDetails;
use bookinfo_support::config::ListenArgs;
use bookinfo_support::http::{Service, json_error};
use bookinfo_support::launch::Program;
use bookinfo_support::telemetry::TelemetryArgs;

pub use books_api::{BOOKS_API_TIMEOUT, BooksApi};
pub use config::Config;

/// Methods upstream's WEBrick mounts answer (OPTIONS lists them).
const ALLOW: &str = "GET,HEAD,OPTIONS,POST,PUT";

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    service: Service,
    books_api: Option<BooksApi>,
}

impl AppState {
    /// `books_api`: `None` for v1 (local data).
    pub fn new(version: &str, books_api: Option<BooksApi>) -> Self {
        Self {
            inner: Arc::new(Inner {
                service: Service::new(&format!("details-{version}"), Default::default()),
                books_api,
            }),
        }
    }

    pub fn from_config(config: &Config) -> Result<Self, String> {
        let books_api = config
            .external()
            .then(|| BooksApi::new(&config.books_api_url(), BOOKS_API_TIMEOUT))
            .transpose()
            .map_err(|e| e.to_string())?;
        Ok(Self::new(&config.version(), books_api))
    }
}

impl Program for AppState {
    const NAME: &'static str = "details";
    type Config = Config;

    fn listen(config: &Config) -> &ListenArgs {
        &config.listen
    }

    fn version(config: &Config) -> String {
        config.version()
    }

    fn telemetry(config: &Config) -> &TelemetryArgs {
        &config.telemetry
    }

    fn from_config(config: &Config) -> Result<Self, String> {
        Self::from_config(config)
    }

    fn service(&self) -> &Service {
        &self.inner.service
    }

    // WEBrick mounts match whole leading segments: `/health/x` is health,
    // `/healthz` is not. `{*rest}` needs a character, hence the `/` routes.
    fn routes(self) -> Router {
        Router::new()
            .route("/health", any(health))
            .route("/health/", any(health))
            .route("/health/{*rest}", any(health))
            .route("/details", any(details))
            .route("/details/", any(details))
            .route("/details/{*rest}", any(details))
            .with_state(self)
    }
}

/// Answers OPTIONS and unsupported methods as upstream's mounts do;
/// `None` means the handler should run.
fn method_answer(method: &Method) -> Option<Response> {
    let allow = [(header::ALLOW, HeaderValue::from_static(ALLOW))];
    match *method {
        Method::GET | Method::HEAD | Method::POST | Method::PUT => None,
        Method::OPTIONS => Some((StatusCode::OK, allow).into_response()),
        _ => Some(
            (
                allow,
                json_error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
            )
                .into_response(),
        ),
    }
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn health(request: Request) -> Response {
    method_answer(request.method()).unwrap_or_else(|| {
        json(
            StatusCode::OK,
            r#"{"status":"Details is healthy"}"#.to_owned(),
        )
    })
}

/// v1's book, with the requested id.
pub fn local_book(id: i64) -> BookDetails {
    BookDetails {
        id,
        author: "William Shakespeare".into(),
        year: 1595.into(),
        kind: "paperback".into(),
        pages: 200.into(),
        publisher: "PublisherA".into(),
        language: "English".into(),
        isbn_10: "1234567890".into(),
        isbn_13: "123-1234567890".into(),
    }
}

async fn details(State(state): State<AppState>, request: Request) -> Response {
    if let Some(answer) = method_answer(request.method()) {
        return answer;
    }
    // Upstream takes the last segment of the path, whatever comes before,
    // after WEBrick has percent-decoded the whole path (`%2F` included).
    let path = percent_decoded(request.uri().path());
    let last = path
        .as_deref()
        .and_then(|p| p.rsplit('/').next())
        .unwrap_or("");
    let Some(id) = ruby_integer::parse(last) else {
        return json_error(StatusCode::BAD_REQUEST, "please provide numeric product id");
    };
    let book = match &state.inner.books_api {
        None => local_book(id),
        Some(api) => match api.lookup(id, request.headers()).await {
            Ok(book) => book,
            Err(error) => return error.into_response(),
        },
    };
    json(
        StatusCode::OK,
        serde_json::to_string(&book).unwrap_or_default(),
    )
}

/// The path with every `%XX` decoded, as WEBrick's `HTTPRequest#path`;
/// `None` when the bytes are not UTF-8 (Ruby's `Integer` refuses them too).
fn percent_decoded(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = path.get(i + 1..i + 3).filter(|_| bytes[i] == b'%');
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}
