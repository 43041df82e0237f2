use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::faults::{self, FAULT_PROBABILITY, Mode};
use crate::js_number::{self, ProductId};
use crate::{AppState, RatingsError};

pub(crate) fn routes(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        // Upstream matches the prefix `/ratings/` and takes the last path
        // segment; `{*rest}` needs one character, so `/ratings/` is its own route.
        .route("/ratings/", get(get_ratings).post(post_ratings))
        .route("/ratings/{*rest}", get(get_ratings).post(post_ratings))
        .with_state(state)
}

fn json(status: StatusCode, body: Value) -> Response {
    json_text(status, body.to_string())
}

fn json_text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `{"id":ID,"ratings":RATINGS}` with `ratings` already JSON text; the
/// bytes `JSON.stringify` writes.
fn ratings_body(id: &ProductId, ratings: &str) -> Response {
    json_text(
        StatusCode::OK,
        format!(r#"{{"id":{},"ratings":{ratings}}}"#, id.json),
    )
}

async fn health(State(state): State<AppState>) -> Response {
    if state.inner.mode == Mode::Unhealthy && unhealthy_now(&state) {
        return json(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"status": "Ratings is not healthy"}),
        );
    }
    json(StatusCode::OK, json!({"status": "Ratings is healthy"}))
}

fn unhealthy_now(state: &AppState) -> bool {
    faults::in_off_period(state.inner.clock.elapsed(), faults::UNHEALTHY_PERIOD)
}

/// The product id of a request as upstream reads it: `parseInt` of the
/// last segment of the raw path (not percent-decoded: Node's `req.url`).
fn product_id(uri: &Uri) -> Result<ProductId, RatingsError> {
    js_number::product_id(uri.path()).ok_or(RatingsError::BadId)
}

async fn get_ratings(State(state): State<AppState>, uri: Uri) -> Result<Response, RatingsError> {
    let id = product_id(&uri)?;
    let inner = &state.inner;
    match inner.mode {
        Mode::Faulty if inner.chance.roll() <= FAULT_PROBABILITY => {
            return Err(RatingsError::Unavailable);
        }
        Mode::Delayed if inner.chance.roll() <= FAULT_PROBABILITY => {
            tokio::time::sleep(inner.delay).await;
        }
        Mode::Unavailable
            if faults::in_off_period(inner.clock.elapsed(), faults::UNAVAILABLE_PERIOD) =>
        {
            return Err(RatingsError::Unavailable);
        }
        Mode::Unhealthy if unhealthy_now(&state) => return Err(RatingsError::Unavailable),
        _ => {}
    }
    let ratings = match &inner.database {
        Some(database) => Value::Object(database.ratings().await?).to_string().into(),
        None => inner.store.get(&id.key),
    };
    Ok(ratings_body(&id, &ratings))
}

async fn post_ratings(
    State(state): State<AppState>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, RatingsError> {
    let id = product_id(&uri)?;
    if state.inner.database.is_some() {
        return Err(RatingsError::PostNotImplemented);
    }
    let ratings: Box<str> = Value::Object(parse_ratings(&body)?).to_string().into();
    state
        .inner
        .store
        .put(&id.key, ratings.clone())
        .map_err(|_| RatingsError::StoreFull)?;
    Ok(ratings_body(&id, &ratings))
}

/// A ratings body is a JSON object of reviewer name to integer stars.
/// Upstream stores any JSON; anything else here would later break reviews.
fn parse_ratings(body: &[u8]) -> Result<Map<String, Value>, RatingsError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) if map.values().all(|v| v.is_i64()) => Ok(map),
        _ => Err(RatingsError::BadBody),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_bodies_must_be_objects_of_integers() {
        assert!(parse_ratings(br#"{"Reviewer1":1,"Reviewer2":2}"#).is_ok());
        assert!(parse_ratings(b"{}").is_ok());
        for bad in [
            &b"[1,2]"[..],
            b"3",
            b"{",
            b"",
            br#"{"a":"x"}"#,
            br#"{"a":1.5}"#,
        ] {
            assert!(parse_ratings(bad).is_err());
        }
    }
}
