//! Login, logout and the session cookie (as upstream, with the project's fixes).

use bookinfo_productpage::SessionKey;

use crate::helpers::*;

#[tokio::test]
async fn login_sets_an_http_only_same_site_cookie_and_redirects_to_the_local_referer() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let host = app.base.trim_start_matches("http://").to_owned();
    let response = app
        .client
        .post(app.url("/login"))
        .header("referer", format!("http://{host}/productpage?u=test"))
        .form_body("username=jason&passwd=password")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/productpage?u=test");
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("session=eyJ1c2VyIjoiamFzb24ifQ."),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(cookie.contains("Path=/"));
    // No JavaScript can read it and no backend needed to be asked.
    assert_eq!(world.details.calls() + world.reviews.calls(), 0);
    // It is signed with the configured secret.
    let value = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("session=");
    let key = SessionKey::new(SECRET.as_bytes());
    assert_eq!(
        key.verify(value, std::time::SystemTime::now()).as_deref(),
        Some("jason")
    );
}

#[tokio::test]
async fn after_login_every_backend_call_carries_end_user_jason() {
    let world = World::start(reviews_v2()).await;
    let app = TestApp::spawn(world.ports()).await;
    app.page(None).await;
    assert_eq!(world.reviews.last_header("end-user"), None);
    let cookie = app.login("jason").await;
    let (_, body) = app.page(Some(&cookie)).await;
    assert!(body.contains("jason"));
    assert_eq!(
        world.reviews.last_header("end-user").as_deref(),
        Some("jason")
    );
    assert_eq!(
        world.details.last_header("end-user").as_deref(),
        Some("jason")
    );
    // The session cookie itself is forwarded, as upstream does.
    assert!(
        world
            .reviews
            .last_header("cookie")
            .unwrap()
            .contains("session=")
    );
    app.client
        .get(app.url("/api/v1/products/0/ratings"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        world.ratings.last_header("end-user").as_deref(),
        Some("jason")
    );
}

#[tokio::test]
async fn logout_clears_the_cookie_and_the_end_user() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let cookie = app.login("jason").await;
    let response = app
        .client
        .get(app.url("/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/productpage");
    let cleared = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.starts_with("session=;"));
    assert!(cleared.contains("Max-Age=0"));
    // Without a session there is nothing to clear.
    let response = app.get("/logout").await;
    assert_eq!(response.status(), 302);
    assert!(response.headers().get("set-cookie").is_none());
    // The browser drops the cookie: the next page is anonymous.
    app.page(None).await;
    assert_eq!(world.reviews.last_header("end-user"), None);
}

#[tokio::test]
async fn redirects_never_leave_the_site() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let host = app.base.trim_start_matches("http://").to_owned();
    let cases = [
        (None, "/productpage"),
        (
            Some("http://evil.example/productpage".to_owned()),
            "/productpage",
        ),
        (Some("//evil.example/".to_owned()), "/productpage"),
        (Some(format!("http://{host}@evil.example/")), "/productpage"),
        (Some(format!("http://{host}/")), "/"),
        (
            Some("/productpage?u=normal".to_owned()),
            "/productpage?u=normal",
        ),
    ];
    for (referer, expected) in cases {
        for path in ["/login", "/logout"] {
            let method = if path == "/login" {
                reqwest::Method::POST
            } else {
                reqwest::Method::GET
            };
            let mut request = app.client.request(method, app.url(path));
            if let Some(referer) = &referer {
                request = request.header("referer", referer);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 302);
            assert_eq!(
                response.headers()["location"],
                expected,
                "{path} {referer:?}"
            );
        }
    }
}

#[tokio::test]
async fn forged_or_foreign_cookies_are_ignored() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let foreign = SessionKey::new(b"another secret").sign("jason", std::time::SystemTime::now());
    for cookie in [
        format!("session={foreign}"),
        "session=eyJ1c2VyIjoiamFzb24ifQ.Zk.garbage".to_owned(),
        "session=eyJ1c2VyIjoiamFzb24ifQ".to_owned(),
        "session=".to_owned(),
    ] {
        let (status, body) = app.page(Some(&cookie)).await;
        assert_eq!(status, 200);
        assert!(!body.contains("Sign out"), "{cookie}");
        assert_eq!(world.reviews.last_header("end-user"), None, "{cookie}");
    }
}

#[tokio::test]
async fn login_without_a_user_name_leaves_the_visitor_anonymous() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    for body in ["passwd=password", "username=&passwd=x", ""] {
        let response = app
            .client
            .post(app.url("/login"))
            .form_body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302, "{body}");
        let cookie = response.headers()["set-cookie"].to_str().unwrap();
        assert!(cookie.starts_with("session=;"), "{body}: {cookie}");
    }
}

#[tokio::test]
async fn the_user_name_may_come_from_the_query_string() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let response = app
        .client
        .post(app.url("/login?username=jason"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("session=eyJ1c2VyIjoiamFzb24ifQ."));
}

#[tokio::test]
async fn hostile_user_names_are_escaped_or_refused() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let cookie = app
        .login("%3Cscript%3Ealert(%22x%22)%3C%2Fscript%3E%26'")
        .await;
    let (_, body) = app.page(Some(&cookie)).await;
    assert!(!body.contains("<script>"));
    assert!(
        body.contains("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#38;&#39;"),
        "{body}"
    );
    assert_eq!(
        world.reviews.last_header("end-user").as_deref(),
        Some("<script>alert(\"x\")</script>&'")
    );

    let cookie = app.login("Jos%C3%A9").await;
    let (_, body) = app.page(Some(&cookie)).await;
    assert!(body.contains(r#"title="Signed in">José<"#));
    let seen = world.reviews.seen();
    assert_eq!(
        seen.last().unwrap().headers["end-user"].as_bytes(),
        "José".as_bytes()
    );

    for (form, status) in [
        ("username=a%0D%0ASet-Cookie:%20x=y", 400),
        ("username=a%00b", 400),
        (&*format!("username={}", "x".repeat(101)), 400),
        ("username=%zz", 400),
        ("username=%C3%28", 400),
    ] {
        let response = app
            .client
            .post(app.url("/login"))
            .form_body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{form}");
        assert_eq!(response.headers()["content-type"], "application/json");
        assert!(response.headers().get("set-cookie").is_none());
        assert!(response.text().await.unwrap().starts_with(r#"{"error": ""#));
    }
}

#[tokio::test]
async fn huge_or_foreign_login_bodies_are_refused() {
    let world = World::start(reviews_v1()).await;
    let app = TestApp::spawn(world.ports()).await;
    let huge = format!("username=jason&passwd={}", "x".repeat(100 * 1024));
    let response = app
        .client
        .post(app.url("/login"))
        .form_body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(response.headers()["content-type"], "application/json");
    let response = app
        .client
        .post(app.url("/login"))
        .header("content-type", "application/json")
        .body(r#"{"username":"jason"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert!(response.headers().get("set-cookie").is_none());
}

trait FormBody {
    fn form_body(self, body: impl Into<String>) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body(self, body: impl Into<String>) -> Self {
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body.into())
    }
}

/// Flask itself (the upstream productpage's framework, `pip install flask`;
/// the test setup installs it) signing or reading a session cookie with
/// upstream's key: `sign USER` prints a cookie value, `read VALUE` the user.
fn flask(args: &[&str]) -> String {
    const SCRIPT: &str = r#"
import sys, flask
from flask.sessions import SecureCookieSessionInterface
app = flask.Flask("productpage")
app.secret_key = b'_5#y2L"F4Q8z\n\xec]/'
serializer = SecureCookieSessionInterface().get_signing_serializer(app)
if sys.argv[1] == "sign":
    print(serializer.dumps({"user": sys.argv[2]}))
else:
    print(serializer.loads(sys.argv[2], max_age=31 * 24 * 3600)["user"])
"#;
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .args(args)
        .output()
        .expect("python3");
    assert!(
        output.status.success(),
        "Flask (pip install flask; tests/setup.sh does): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[test]
fn sessions_cross_with_flask_in_both_directions_under_upstreams_key() {
    let key = SessionKey::default();
    // A long repetitive name makes Flask compress the payload.
    let long = "j".repeat(100);
    for user in ["jason", "José <b>", long.as_str()] {
        let upstream = flask(&["sign", user]);
        // After Flask signed it: a cookie from the future is refused.
        let now = std::time::SystemTime::now();
        assert_eq!(
            key.verify(&upstream, now).as_deref(),
            Some(user),
            "Flask's cookie {upstream}"
        );
        let ours = key.sign(user, now);
        assert_eq!(flask(&["read", &ours]), user, "our cookie {ours}");
    }
    assert!(flask(&["sign", &long]).starts_with('.'), "compressed");
    // A cookie signed under another secret is refused.
    let now = std::time::SystemTime::now();
    let foreign = SessionKey::new(b"another secret").sign("jason", now);
    assert_eq!(key.verify(&foreign, now), None);
}

/// A productpage process with no configuration, its backends unreachable.
struct Process {
    child: std::process::Child,
    addr: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn productpage() -> Process {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_productpage"))
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "error")
        .env_remove("SESSION_SECRET")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = BufReader::new(stdout).lines().next().unwrap().unwrap();
    let addr = line
        .rsplit(' ')
        .next()
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    Process { child, addr }
}

#[tokio::test]
async fn two_productpage_processes_share_sessions_with_no_configuration() {
    let (a, b) = (productpage(), productpage());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = client
        .post(format!("http://{}/login", a.addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=jason&passwd=password")
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 302);
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let page = client
        .get(format!("http://{}/productpage", b.addr))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("jason"), "signed in on the other process");
    // And Flask reads it: an upstream pod would too.
    assert_eq!(
        flask(&["read", cookie.trim_start_matches("session=")]),
        "jason"
    );
}
