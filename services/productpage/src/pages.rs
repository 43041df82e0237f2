//! Our HTML: the product page and the index (askama templates under
//! `templates/`), the error and redirect pages, and what the page shows
//! built from the backends' bodies. Every value that reaches HTML is
//! escaped by askama except the product's own `descriptionHtml`.

use askama::Template;
use bookinfo_api::reviews::{ProductReviews, Rating};
use serde_json::Value;

use crate::config::Markers;

/// The only product upstream knows; the page always asks for id 0.
pub(crate) struct Product {
    pub id: u32,
    pub title: &'static str,
    /// Our own constant, so it is trusted HTML.
    pub description_html: &'static str,
}

pub(crate) const PRODUCT: Product = Product {
    id: 0,
    title: "The Comedy of Errors",
    description_html: "<a href=\"https://en.wikipedia.org/wiki/The_Comedy_of_Errors\">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare's</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.",
};

/// The page's id as the backends see it.
pub(crate) const PRODUCT_ID: &str = "0";

/// Most stars drawn for one review: a rating is out of five, and a backend
/// must not make us render an unbounded number of elements.
pub(crate) const MAX_STARS: usize = 5;

#[derive(Template)]
#[template(path = "productpage.html")]
pub(crate) struct ProductPage<'a> {
    pub legacy: bool,
    pub user: Option<&'a str>,
    pub title: &'static str,
    pub description_html: &'static str,
    /// `None` when details failed.
    pub details: Option<Vec<(&'static str, String)>>,
    /// `None` when reviews failed.
    pub reviews: Option<ReviewsView>,
}

impl<'a> ProductPage<'a> {
    pub(crate) fn new(markers: Markers, user: Option<&'a str>) -> Self {
        Self {
            legacy: markers == Markers::Legacy,
            user,
            title: PRODUCT.title,
            description_html: PRODUCT.description_html,
            details: None,
            reviews: None,
        }
    }
}

pub(crate) struct ReviewsView {
    pub podname: String,
    /// Shown unless absent or the literal `null` reviews sends when unset.
    pub cluster: Option<String>,
    pub items: Vec<ReviewView>,
}

pub(crate) struct ReviewView {
    pub reviewer: String,
    pub text: String,
    pub stars: Option<StarsView>,
    pub rating_error: Option<String>,
}

pub(crate) struct StarsView {
    pub full: usize,
    pub empty: usize,
    pub color: String,
}

#[derive(Template)]
#[template(path = "index.html")]
pub(crate) struct IndexPage<'a> {
    pub details_url: &'a str,
    pub reviews_url: &'a str,
    pub ratings_url: &'a str,
}

/// The rows of the details table, from a details body; `None` if the body is
/// not a JSON object.
pub(crate) fn details_rows(body: &[u8]) -> Option<Vec<(&'static str, String)>> {
    const FIELDS: [(&str, &str); 8] = [
        ("Author", "author"),
        ("Year", "year"),
        ("Type", "type"),
        ("Pages", "pages"),
        ("Publisher", "publisher"),
        ("Language", "language"),
        ("ISBN-10", "ISBN-10"),
        ("ISBN-13", "ISBN-13"),
    ];
    let Value::Object(book) = serde_json::from_slice::<Value>(body).ok()? else {
        return None;
    };
    Some(
        FIELDS
            .iter()
            .filter_map(|(label, key)| {
                let text = match book.get(*key)? {
                    Value::String(text) => text.clone(),
                    Value::Number(number) => number.to_string(),
                    _ => return None,
                };
                Some((*label, text))
            })
            .collect(),
    )
}

/// What the page shows of a reviews body; `None` if it is not reviews JSON.
pub(crate) fn reviews_view(body: &[u8]) -> Option<ReviewsView> {
    let reviews: ProductReviews = serde_json::from_slice(body).ok()?;
    let items = reviews
        .reviews
        .into_iter()
        .map(|review| {
            let (stars, rating_error) = match review.rating {
                None => (None, None),
                Some(Rating::Error { error }) => (None, Some(error)),
                // Upstream draws nothing for 0 stars (0 is falsy in Jinja).
                Some(Rating::Stars { stars, .. }) if stars < 1 => (None, None),
                Some(Rating::Stars { stars, color }) => {
                    let full = usize::try_from(stars).unwrap_or(MAX_STARS).min(MAX_STARS);
                    let stars = StarsView {
                        full,
                        empty: MAX_STARS - full,
                        color: star_color(&color),
                    };
                    (Some(stars), None)
                }
            };
            ReviewView {
                reviewer: review.reviewer,
                text: review.text,
                stars,
                rating_error,
            }
        })
        .collect();
    Some(ReviewsView {
        podname: reviews.podname.unwrap_or_default(),
        cluster: reviews.clustername.filter(|c| c != "null" && !c.is_empty()),
        items,
    })
}

/// The colour becomes part of a class name (`text-red-500`) and of a
/// legacy `<font color>`: keep it to a plain word.
fn star_color(color: &str) -> String {
    let plain =
        !color.is_empty() && color.len() <= 20 && color.bytes().all(|b| b.is_ascii_alphabetic());
    if plain {
        color.to_ascii_lowercase()
    } else {
        "black".to_owned()
    }
}

pub(crate) const NOT_FOUND: &str = "<!doctype html>
<html lang=\"en\">
<meta charset=\"utf-8\">
<title>404 Not Found</title>
<h1>Not Found</h1>
<p>Nothing lives at this address. The book is at <a href=\"/productpage\">/productpage</a>.</p>
";

pub(crate) const METHOD_NOT_ALLOWED: &str = "<!doctype html>
<html lang=\"en\">
<meta charset=\"utf-8\">
<title>405 Method Not Allowed</title>
<h1>Method Not Allowed</h1>
<p>This address does not answer that method; the <code>Allow</code> header lists the ones it does.</p>
";

/// The body of a redirect, for clients that do not follow `Location`.
pub(crate) fn redirect_body(location: &str) -> String {
    let location = askama::filters::escape(location, askama::filters::Html)
        .map(|escaped| escaped.to_string())
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<meta charset=\"utf-8\">\n<title>Redirecting</title>\n<p>Continue to <a href=\"{location}\">{location}</a>.</p>\n"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn details_rows_keep_numbers_and_strings_and_skip_the_rest() {
        let rows = details_rows(
            br#"{"id":0,"author":"A <b>","year":"2002-09-19","pages":53,"publisher":null}"#,
        )
        .unwrap();
        assert_eq!(
            rows,
            vec![
                ("Author", "A <b>".to_owned()),
                ("Year", "2002-09-19".to_owned()),
                ("Pages", "53".to_owned())
            ]
        );
        assert!(details_rows(b"[1,2]").is_none());
        assert!(details_rows(b"not json").is_none());
    }

    #[test]
    fn stars_are_bounded_and_zero_draws_nothing() {
        let body = br#"{"id":"0","reviews":[
            {"reviewer":"a","text":"t","rating":{"stars":1000000,"color":"red"}},
            {"reviewer":"b","text":"t","rating":{"stars":0,"color":"red"}},
            {"reviewer":"c","text":"t","rating":{"stars":-3,"color":"red"}},
            {"reviewer":"d","text":"t","rating":{"stars":4,"color":"red\" onmouseover=\"x"}}]}"#;
        let view = reviews_view(body).unwrap();
        let stars: Vec<_> = view
            .items
            .iter()
            .map(|r| r.stars.as_ref().map(|s| (s.full, s.empty, s.color.clone())))
            .collect();
        assert_eq!(
            stars,
            vec![
                Some((5, 0, "red".to_owned())),
                None,
                None,
                Some((4, 1, "black".to_owned()))
            ]
        );
        assert_eq!(view.podname, "");
        assert_eq!(view.cluster, None);
    }

    #[test]
    fn redirect_bodies_escape_the_location() {
        assert!(redirect_body("/a\"<b>").contains("/a&#34;&#60;b&#62;"));
    }
}
