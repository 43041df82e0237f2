//! The HTTP side: one client for the whole run, an optional login, and one request
//! turned into a [`Classification`].
//!
//! The per-request timeout is applied around the whole exchange (connect, headers and
//! body) with `tokio::time::timeout`, so that a slow body counts as a timeout too and the
//! timed-out request's latency is the timeout (censored), not a lost sample.
//!
//! The GETs of the run go through the lean keep-alive client of [`http1`]; the one-off
//! login POST through reqwest.

mod http1;

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, COOKIE, HeaderValue, SET_COOKIE};
use reqwest::{Client, Url};

use bookinfo_api::contract::REVIEWS_VERSION_HEADER;

use crate::classify::{Classification, ResponseClass, classify};
use crate::config::SetupError;
use crate::format::one_line;

/// Bodies are read up to this size; a product page is a few kB. Anything beyond is
/// dropped (the markers are near the top) so that a huge answer cannot exhaust memory.
const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// What one request produced, before any timing is attached.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    pub status: Option<u16>,
    pub classification: Classification,
    /// For connection errors: a one-line reason.
    pub error: Option<String>,
}

const USER_AGENT: &str = concat!("bookinfo-loadgen/", env!("CARGO_PKG_VERSION"));

/// The target product page and how to reach it.
#[derive(Debug)]
pub(crate) struct Target {
    /// For the login only.
    client: Client,
    /// The page's GET, with the session cookie once logged in.
    endpoint: http1::Endpoint,
    url: Url,
    timeout: Duration,
    new_connection: bool,
}

impl Target {
    pub(crate) fn new(
        url: Url,
        timeout: Duration,
        new_connection: bool,
    ) -> Result<Self, SetupError> {
        let mut builder = Client::builder()
            .connect_timeout(timeout)
            .tcp_nodelay(true)
            // productpage forwards the user agent, so backend logs show who is testing.
            .user_agent(USER_AGENT)
            // A redirect is not a product page; report it as such instead of following.
            .redirect(reqwest::redirect::Policy::none());
        if new_connection {
            // No idle connection is kept, so every request opens its own (docs/split-verification.md, "Independence":
            // connection-level routing makes consecutive responses dependent).
            builder = builder.pool_max_idle_per_host(0);
        }
        let client = builder
            .build()
            .map_err(|e| SetupError::Client(one_line(&e)))?;
        let endpoint = Self::endpoint(&url, new_connection, &[])?;
        Ok(Self {
            client,
            endpoint,
            url,
            timeout,
            new_connection,
        })
    }

    fn endpoint(
        url: &Url,
        new_connection: bool,
        extra_headers: &[String],
    ) -> Result<http1::Endpoint, SetupError> {
        // Without keep-alive no idle connection is kept, so every request opens its own
        // (docs/split-verification.md, "Independence": connection-level routing makes consecutive responses dependent).
        http1::Endpoint::new(
            url,
            USER_AGENT,
            extra_headers,
            !new_connection,
            REVIEWS_VERSION_HEADER,
            BODY_LIMIT,
        )
        .map_err(|e| SetupError::Client(one_line(&e)))
    }

    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// `POST login` (relative to the page URL, as the page's own form does) with
    /// `username=NAME&passwd=x`, keeping the session cookie for every later request.
    pub(crate) async fn login(&mut self, user: &str) -> Result<(), SetupError> {
        let login = self
            .url
            .join("login")
            .map_err(|e| SetupError::Login(format!("cannot build the login URL: {e}")))?;
        let body = format!("username={}&passwd=x", form_encode(user));
        let request = self
            .client
            .post(login.clone())
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .body(body)
            .send();
        let response = match tokio::time::timeout(self.timeout, request).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                return Err(SetupError::Unreachable(format!(
                    "cannot reach {login}: {}",
                    one_line(&e)
                )));
            }
            Err(_) => {
                return Err(SetupError::Unreachable(format!(
                    "no answer from {login} within {}",
                    crate::format::format_duration(self.timeout)
                )));
            }
        };
        let status = response.status();
        if !(status.is_success() || status.is_redirection()) {
            return Err(SetupError::Login(format!(
                "login as {user:?} at {login} answered HTTP {}",
                status.as_u16()
            )));
        }
        let cookies: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .map(|pair| pair.trim().to_owned())
            .filter(|pair| pair.contains('='))
            .collect();
        if cookies.is_empty() {
            return Err(SetupError::Login(format!(
                "login as {user:?} at {login} set no session cookie"
            )));
        }
        let cookie = cookies.join("; ");
        if HeaderValue::from_str(&cookie).is_err() {
            return Err(SetupError::Login(format!(
                "login at {login} set an unusable cookie"
            )));
        }
        self.endpoint = Self::endpoint(
            &self.url,
            self.new_connection,
            &[format!("{COOKIE}: {cookie}")],
        )?;
        Ok(())
    }

    /// One GET of the page, classified. Never fails: errors are outcomes.
    pub(crate) async fn fetch(&self) -> Fetched {
        match tokio::time::timeout(self.timeout, self.endpoint.get()).await {
            Ok(Ok(response)) => Fetched {
                status: Some(response.status),
                classification: classify(
                    response.status,
                    response.header.as_deref(),
                    &response.body,
                ),
                error: None,
            },
            Ok(Err(e)) => Fetched {
                status: None,
                classification: Classification::without_response(ResponseClass::ConnectError),
                error: Some(one_line(&e)),
            },
            Err(_) => Fetched {
                status: None,
                classification: Classification::without_response(ResponseClass::TimedOut),
                error: None,
            },
        }
    }
}

/// `application/x-www-form-urlencoded` for one value.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_encoded() {
        assert_eq!(form_encode("jason"), "jason");
        assert_eq!(form_encode("a b&c=d"), "a+b%26c%3Dd");
        assert_eq!(form_encode("é"), "%C3%A9");
    }
}
