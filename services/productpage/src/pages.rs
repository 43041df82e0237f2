//! Our HTML: the product page and the index (askama templates under
//! `templates/`), the error and redirect pages, and what the page shows
//! built from the backends' bodies. Every value that reaches HTML is
//! escaped by askama except the product's own `descriptionHtml`.

use askama::Template;
use bookinfo_api::reviews::{ProductReviews, Rating};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
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

/// The rows of the details table: label and key in the details body.
const DETAILS_FIELDS: [(&str, &str); 8] = [
    ("Author", "author"),
    ("Year", "year"),
    ("Type", "type"),
    ("Pages", "pages"),
    ("Publisher", "publisher"),
    ("Language", "language"),
    ("ISBN-10", "ISBN-10"),
    ("ISBN-13", "ISBN-13"),
];

/// The rows of the details table, from a details body; `None` if the body is
/// not a JSON object. A field is shown when it is a string or a number (in
/// JSON's spelling); of a repeated key the last value counts.
pub(crate) fn details_rows(body: &[u8]) -> Option<Vec<(&'static str, String)>> {
    let DetailsCells(cells) = serde_json::from_slice(body).ok()?;
    Some(
        DETAILS_FIELDS
            .iter()
            .zip(cells)
            .filter_map(|((label, _), cell)| Some((*label, cell?)))
            .collect(),
    )
}

/// The shown fields of a details object, read straight from its text: the
/// page's hot path, so no JSON tree of the whole body is built.
struct DetailsCells([Option<String>; DETAILS_FIELDS.len()]);

impl<'de> Deserialize<'de> for DetailsCells {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = DetailsCells;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a details object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DetailsCells, A::Error> {
                let mut cells: [Option<String>; DETAILS_FIELDS.len()] = Default::default();
                while let Some(FieldIndex(index)) = map.next_key()? {
                    match index {
                        Some(index) => cells[index] = map.next_value::<Cell>()?.0,
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(DetailsCells(cells))
            }
        }
        deserializer.deserialize_map(Object)
    }
}

/// Which of [`DETAILS_FIELDS`] a key names, if any.
struct FieldIndex(Option<usize>);

impl<'de> Deserialize<'de> for FieldIndex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Key;
        impl Visitor<'_> for Key {
            type Value = FieldIndex;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<FieldIndex, E> {
                Ok(FieldIndex(
                    DETAILS_FIELDS.iter().position(|(_, name)| *name == key),
                ))
            }
        }
        deserializer.deserialize_str(Key)
    }
}

/// A field's value as shown: a string as is, a number as JSON wrote it
/// (serde_json keeps a number's text), anything else nothing.
struct Cell(Option<String>);

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Cell(match Value::deserialize(deserializer)? {
            Value::String(text) => Some(text),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }))
    }
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
    fn details_rows_read_like_a_json_tree_would() {
        // The rows a parse of the whole body into serde_json's Value shows
        // (as the page did before reading the text directly).
        let body = br#"{"type":[1,{"a":2}],"pages":1.5e3,"year":-7,"language":true,
            "author":"first","author":"last","ISBN-10":{"x":"y"},"extra":[null],
            "publisher":"P\u00e9 \"q\"","ISBN-13":18446744073709551615}"#;
        let rows = details_rows(body).unwrap();
        assert_eq!(
            rows,
            vec![
                ("Author", "last".to_owned()),
                ("Year", "-7".to_owned()),
                ("Pages", "1.5e+3".to_owned()),
                ("Publisher", "P\u{e9} \"q\"".to_owned()),
                ("ISBN-13", "18446744073709551615".to_owned()),
            ]
        );
        assert!(details_rows(br#"{"author":"a"} trailing"#).is_none());
        assert!(details_rows(br#"{"author":"a""#).is_none());
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
