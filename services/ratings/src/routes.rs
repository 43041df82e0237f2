use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::faults::{self, FAULT_PROBABILITY, Mode};
use crate::{AppState, RatingsError};

pub(crate) fn routes(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        // Upstream matches the prefix `/ratings/` and takes the last path
        // segment; `{*rest}` needs one character, so `/ratings/` is its own route.
        .route("/ratings/", get(get_empty).post(post_empty))
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
/// same bytes `json!` would write.
fn ratings_body(id: i64, ratings: &str) -> Response {
    json_text(
        StatusCode::OK,
        format!(r#"{{"id":{id},"ratings":{ratings}}}"#),
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

/// Upstream's `parseInt` of the last path segment: optional sign, then the
/// leading digits; nothing numeric, or more than fits an i64, is an error.
pub(crate) fn product_id(rest: &str) -> Result<i64, RatingsError> {
    let last = rest.rsplit('/').next().unwrap_or("").trim_start();
    let (sign, digits) = match last.as_bytes().first() {
        Some(b'-') => (-1, &last[1..]),
        Some(b'+') => (1, &last[1..]),
        _ => (1, last),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    // Through i128, so that i64::MIN (whose magnitude is no i64) is read.
    let magnitude: u64 = digits[..end].parse().map_err(|_| RatingsError::BadId)?;
    i64::try_from(sign * i128::from(magnitude)).map_err(|_| RatingsError::BadId)
}

async fn get_empty(state: State<AppState>) -> Result<Response, RatingsError> {
    get_ratings(state, Path(String::new())).await
}

async fn post_empty(state: State<AppState>, body: Bytes) -> Result<Response, RatingsError> {
    post_ratings(state, Path(String::new()), body).await
}

async fn get_ratings(
    State(state): State<AppState>,
    Path(rest): Path<String>,
) -> Result<Response, RatingsError> {
    let id = product_id(&rest)?;
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
        None => inner.store.get(id),
    };
    Ok(ratings_body(id, &ratings))
}

async fn post_ratings(
    State(state): State<AppState>,
    Path(rest): Path<String>,
    body: Bytes,
) -> Result<Response, RatingsError> {
    let id = product_id(&rest)?;
    if state.inner.database.is_some() {
        return Err(RatingsError::PostNotImplemented);
    }
    let ratings: Box<str> = Value::Object(parse_ratings(&body)?).to_string().into();
    state
        .inner
        .store
        .put(id, ratings.clone())
        .map_err(|_| RatingsError::StoreFull)?;
    Ok(ratings_body(id, &ratings))
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
    fn ids_follow_parse_int_on_the_last_segment() {
        assert_eq!(product_id("7").ok(), Some(7));
        assert_eq!(product_id("12abc").ok(), Some(12));
        assert_eq!(product_id("-3").ok(), Some(-3));
        assert_eq!(product_id("abc/7").ok(), Some(7));
        assert_eq!(product_id(" 5").ok(), Some(5));
        assert_eq!(product_id("-9223372036854775808").ok(), Some(i64::MIN));
        assert!(product_id("9223372036854775808").is_err());
        for bad in ["", "abc", "0/extra", "-", "+", "99999999999999999999", "１"] {
            assert!(product_id(bad).is_err(), "{bad:?} should be rejected");
        }
    }

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
