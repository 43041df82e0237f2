use bookinfo_details::AppState;

pub(crate) use bookinfo_support::testing::{Running, serve as serve_router};

pub(crate) async fn details(state: AppState) -> Running {
    bookinfo_support::testing::start(state).await
}

pub(crate) async fn send(
    method: reqwest::Method,
    url: &str,
) -> (u16, String, reqwest::header::HeaderMap) {
    let response = reqwest::Client::new()
        .request(method, url)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.text().await.unwrap(), headers)
}

pub(crate) async fn get(url: &str) -> (u16, String, reqwest::header::HeaderMap) {
    send(reqwest::Method::GET, url).await
}
