//! The reviews body, concatenated as upstream does (its spacing is not any
//! serializer's), with every interpolated string JSON-escaped.

use std::io::Write;

use bookinfo_api::ratings::ProductRatings;

pub const REVIEWERS: [(&str, &str); 2] = [
    (
        "Reviewer1",
        "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!",
    ),
    (
        "Reviewer2",
        "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.",
    ),
];

/// What a rendered body takes with two reviews and their ratings (about
/// 560 bytes with a short pod name), so that it is written without growing.
const RENDERED_CAPACITY: usize = 768;

const UNAVAILABLE: &str = r#", "rating": {"error": "Ratings service is currently unavailable"}"#;

/// `text` as a JSON string (serde_json's escaping), appended to `body`.
fn push_quoted(body: &mut Vec<u8>, text: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *body, text);
}

/// `ratings`: `None` when ratings are disabled (v1), `Some(None)` when they
/// could not be fetched, `Some(Some(r))` otherwise. Written into one buffer,
/// without a string per field.
pub fn render(
    id: i32,
    podname: &str,
    clustername: &str,
    star_color: &str,
    ratings: Option<Option<&ProductRatings>>,
) -> String {
    let mut body = Vec::with_capacity(RENDERED_CAPACITY);
    let _ = write!(body, r#"{{"id": "{id}","podname": "#);
    push_quoted(&mut body, podname);
    body.extend_from_slice(br#","clustername": "#);
    push_quoted(&mut body, clustername);
    body.extend_from_slice(br#","reviews": ["#);
    for (index, (reviewer, text)) in REVIEWERS.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        let _ = write!(body, r#"{{  "reviewer": "{reviewer}",  "text": "{text}""#);
        match ratings {
            None => {}
            Some(Some(found)) => match found.stars(reviewer) {
                Some(stars) => {
                    let _ = write!(body, r#", "rating": {{"stars": {stars}, "color": "#);
                    push_quoted(&mut body, star_color);
                    body.push(b'}');
                }
                None => body.extend_from_slice(UNAVAILABLE.as_bytes()),
            },
            Some(None) => body.extend_from_slice(UNAVAILABLE.as_bytes()),
        }
        body.push(b'}');
    }
    body.extend_from_slice(b"]}");
    // Only UTF-8 went in: the fixed text, and serde_json's output.
    String::from_utf8(body).unwrap_or_default()
}
