//! The reviews body, concatenated as upstream does (its spacing is not any
//! serializer's), with every interpolated string JSON-escaped.

use std::fmt::Write;

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

const UNAVAILABLE: &str = r#", "rating": {"error": "Ratings service is currently unavailable"}"#;

fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// `ratings`: `None` when ratings are disabled (v1), `Some(None)` when they
/// could not be fetched, `Some(Some(r))` otherwise.
pub fn render(
    id: i32,
    podname: &str,
    clustername: &str,
    star_color: &str,
    ratings: Option<Option<&ProductRatings>>,
) -> String {
    let mut body = format!(
        r#"{{"id": "{id}","podname": {},"clustername": {},"reviews": ["#,
        quoted(podname),
        quoted(clustername)
    );
    for (index, (reviewer, text)) in REVIEWERS.iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        let _ = write!(body, r#"{{  "reviewer": "{reviewer}",  "text": "{text}""#);
        match ratings {
            None => {}
            Some(Some(found)) => match found.stars(reviewer) {
                Some(stars) => {
                    let _ = write!(
                        body,
                        r#", "rating": {{"stars": {stars}, "color": {}}}"#,
                        quoted(star_color)
                    );
                }
                None => body.push_str(UNAVAILABLE),
            },
            Some(None) => body.push_str(UNAVAILABLE),
        }
        body.push('}');
    }
    body.push_str("]}");
    body
}
