//! Which reviews version answered a product page request.
//!
//! Evidence, strongest first (docs/split-verification.md, "What is counted"; the markers are `bookinfo_api::contract`'s):
//!
//! 1. the `x-bookinfo-reviews-version` response header of our productpage
//!    (`reviews-v2` → `v2`);
//! 2. the page markers: no star on a real product page (`Book Reviews`) is v1; stars in a
//!    `text-black-500` (or legacy `<font color="black">`) container are v2, in a
//!    `text-red-500` (`<font color="red">`) container v3;
//! 3. the pod name after `Reviews served by:` (`reviews-v2-abc` → `v2`).
//!
//! Anything else is an outcome of its own and never folded into a version: HTTP errors,
//! timeouts, connection errors, pages whose reviews failed (`reviews-unavailable`), and
//! pages that carry no usable evidence or contradictory evidence (`unclassifiable`).

use serde::Serialize;

use bookinfo_verdict::Outcome;

use bookinfo_api::contract::{RATINGS_UNAVAILABLE, REVIEWS_UNAVAILABLE, SERVED_BY, STAR};

/// What one request turned into.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResponseClass {
    /// A product page served with this reviews version (`v1`, `v2`, …).
    Version(String),
    /// An HTTP status other than 2xx.
    Failed(u16),
    /// No complete response within the timeout.
    TimedOut,
    /// No HTTP response at all: refused, reset, closed early.
    ConnectError,
    /// A product page whose reviews call failed.
    ReviewsUnavailable,
    /// A 2xx response without usable evidence: not Bookinfo, or ambiguous.
    Unclassifiable,
}

impl ResponseClass {
    /// The name used in reports: the version, or `failed`, `timed-out`, `connect-error`,
    /// `reviews-unavailable`, `unclassifiable`.
    pub fn label(&self) -> &str {
        match self {
            Self::Version(v) => v,
            Self::Failed(_) => "failed",
            Self::TimedOut => "timed-out",
            Self::ConnectError => "connect-error",
            Self::ReviewsUnavailable => "reviews-unavailable",
            Self::Unclassifiable => "unclassifiable",
        }
    }

    pub fn version(&self) -> Option<&str> {
        match self {
            Self::Version(v) => Some(v),
            _ => None,
        }
    }

    /// What the verdict engine sees. Everything without a version counts against the
    /// unclassified budget; a failed reviews call is not evidence for any version.
    pub fn to_outcome(&self) -> Outcome {
        match self {
            Self::Version(v) => Outcome::Version(v.clone()),
            Self::Failed(_) | Self::ConnectError => Outcome::Failed,
            Self::TimedOut => Outcome::TimedOut,
            Self::ReviewsUnavailable | Self::Unclassifiable => Outcome::Unclassifiable,
        }
    }
}

/// Which evidence decided the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Evidence {
    Header,
    Markers,
    PodName,
    /// No version was found (the outcome is not a version).
    None,
}

/// The classification of one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub class: ResponseClass,
    pub evidence: Evidence,
    /// For an error page or a failed reviews call: the version the header or pod name
    /// names, so error rates can be shown per version. Never used as the outcome.
    pub attributed: Option<String>,
    /// Whether the body looks like a Bookinfo product page at all.
    pub product_page: bool,
}

impl Classification {
    pub fn without_response(class: ResponseClass) -> Self {
        Self {
            class,
            evidence: Evidence::None,
            attributed: None,
            product_page: false,
        }
    }
}

/// Classify a response from its status, its version header and its body.
pub fn classify(status: u16, version_header: Option<&str>, body: &[u8]) -> Classification {
    let text = String::from_utf8_lossy(body);
    let product_page = is_product_page(&text);
    let header = version_header.and_then(version_from_header);
    let fail = |class: ResponseClass| Classification {
        class,
        evidence: Evidence::None,
        attributed: header.clone().or_else(|| version_from_pod(&text)),
        product_page,
    };
    if !(200..300).contains(&status) {
        return fail(ResponseClass::Failed(status));
    }
    if text.contains(REVIEWS_UNAVAILABLE) {
        return fail(ResponseClass::ReviewsUnavailable);
    }
    let found = header
        .clone()
        .map(|v| (v, Evidence::Header))
        .or_else(|| version_from_markers(&text).map(|v| (v, Evidence::Markers)))
        .or_else(|| version_from_pod(&text).map(|v| (v, Evidence::PodName)));
    match found {
        Some((version, evidence)) => Classification {
            class: ResponseClass::Version(version),
            evidence,
            attributed: None,
            product_page,
        },
        None => fail(ResponseClass::Unclassifiable),
    }
}

/// A page that productpage rendered (with or without working reviews). The title alone
/// is not enough: Bookinfo's index page `/` has the same one.
pub(crate) fn is_product_page(text: &str) -> bool {
    text.contains("Book Reviews")
        || text.contains("Error fetching product reviews")
        || text.contains(SERVED_BY)
}

/// `reviews-v2` or `v2` → `v2`; anything else is ignored (then the body decides).
pub(crate) fn version_from_header(value: &str) -> Option<String> {
    let value = value.trim();
    let version = value.strip_prefix("reviews-").unwrap_or(value);
    is_version_name(version).then(|| version.to_owned())
}

/// `v` followed by 1–3 digits.
fn is_version_name(s: &str) -> bool {
    let digits = s.strip_prefix('v').unwrap_or("");
    (1..=3).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Colour {
    Black,
    Red,
}

const COLOUR_MARKERS: [(&str, Colour); 4] = [
    ("text-black-500", Colour::Black),
    ("text-red-500", Colour::Red),
    ("color=\"black\"", Colour::Black),
    ("color=\"red\"", Colour::Red),
];

/// The version the page markers show, if they are unambiguous.
pub(crate) fn version_from_markers(text: &str) -> Option<String> {
    // Without the reviews heading the absence of stars proves nothing.
    if !text.contains("Book Reviews") {
        return None;
    }
    // One pass over the markers in page order (each found once, so the work
    // is linear in the body): the colour class sits on the element that
    // contains the stars, so the last colour marker before a star is that
    // star's colour. A `text-red-500` error paragraph of another review
    // comes earlier and is overridden.
    let mut marks: Vec<(usize, Option<Colour>)> = text
        .match_indices(STAR)
        .map(|(pos, _)| (pos, None))
        .collect();
    for (marker, colour) in COLOUR_MARKERS {
        marks.extend(
            text.match_indices(marker)
                .map(|(pos, _)| (pos, Some(colour))),
        );
    }
    marks.sort_unstable_by_key(|(pos, _)| *pos);
    let mut last_marker: Option<Colour> = None;
    let mut colour: Option<Colour> = None;
    let mut stars = 0usize;
    for (_, mark) in marks {
        match mark {
            Some(marker) => last_marker = Some(marker),
            None => {
                stars += 1;
                let this = last_marker?;
                if colour.is_some_and(|c| c != this) {
                    return None;
                }
                colour = Some(this);
            }
        }
    }
    if stars == 0 {
        // v2 and v3 without ratings show no stars either: that is not v1.
        if text.contains(RATINGS_UNAVAILABLE) {
            return None;
        }
        return Some("v1".to_owned());
    }
    colour.map(|c| match c {
        Colour::Black => "v2".to_owned(),
        Colour::Red => "v3".to_owned(),
    })
}

/// The version in the pod names after `Reviews served by:`, if they all agree.
pub(crate) fn version_from_pod(text: &str) -> Option<String> {
    let mut version: Option<String> = None;
    for (pos, _) in text.match_indices(SERVED_BY) {
        let rest = text.get(pos + SERVED_BY.len()..).unwrap_or("");
        let this = pod_version(first_token(rest))?;
        if version.as_ref().is_some_and(|v| *v != this) {
            return None;
        }
        version = Some(this);
    }
    version
}

/// The first word after optional whitespace and tags (`<span class="pod">reviews-v2-x`).
fn first_token(mut rest: &str) -> &str {
    loop {
        rest = rest.trim_start();
        match rest.strip_prefix('<') {
            Some(tag) => rest = tag.split_once('>').map_or("", |(_, after)| after),
            None => break,
        }
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_'))
        .unwrap_or(rest.len());
    rest.get(..end).unwrap_or("")
}

/// `reviews-v2-5d8f7c-abcde` → `v2`.
fn pod_version(pod: &str) -> Option<String> {
    let rest = pod.strip_prefix("reviews-")?;
    let version = rest.split('-').next()?;
    is_version_name(version).then(|| version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(reviews: &str) -> String {
        format!(
            "<title>Simple Bookstore App</title>\n<h1>The Comedy of Errors</h1>\n\
             <h4>Book Details</h4>\n{reviews}"
        )
    }

    fn modern(colour: &str, pod: &str) -> String {
        let stars = |n: usize| {
            "<svg id=\"glyphicon glyphicon-star\" class=\"h-5\"></svg>".repeat(n)
                + &"<svg class=\"h-5\"></svg>".repeat(5 - n)
        };
        page(&format!(
            "<h4>Book Reviews</h4>\
             <section><div class=\"flex gap-x-1 text-{colour}-500\">{}</div>\
             <div class=\"font-mono\">Reviews served by: \n{pod}</div></section>\
             <section><div class=\"flex gap-x-1 text-{colour}-500\">{}</div>\
             <div class=\"font-mono\">Reviews served by: \n{pod}</div></section>",
            stars(5),
            stars(4)
        ))
    }

    fn legacy(colour: &str) -> String {
        page(&format!(
            "<h4>Book Reviews</h4><blockquote><font color=\"{colour}\">\
             <span class=\"glyphicon glyphicon-star\"></span>\
             <span class=\"glyphicon glyphicon-star-empty\"></span></font></blockquote>"
        ))
    }

    fn v1_page(pod: &str) -> String {
        page(&format!(
            "<h2>Book Reviews</h2><article><blockquote>Great</blockquote>\
             <p class=\"served\">Reviews served by: <span class=\"pod\">{pod}</span></p></article>"
        ))
    }

    fn class(status: u16, header: Option<&str>, body: &str) -> (ResponseClass, Evidence) {
        let c = classify(status, header, body.as_bytes());
        (c.class, c.evidence)
    }

    fn v(name: &str) -> ResponseClass {
        ResponseClass::Version(name.to_owned())
    }

    #[test]
    fn header_wins() {
        assert_eq!(
            class(200, Some("reviews-v2"), &v1_page("reviews-v1-x")),
            (v("v2"), Evidence::Header)
        );
        assert_eq!(
            class(200, Some("v3"), "anything"),
            (v("v3"), Evidence::Header)
        );
        // A garbled header is ignored and the body decides.
        assert_eq!(
            class(200, Some("reviews-latest"), &modern("red", "reviews-v3-a")),
            (v("v3"), Evidence::Markers)
        );
    }

    #[test]
    fn modern_markers() {
        assert_eq!(
            class(200, None, &modern("black", "x")),
            (v("v2"), Evidence::Markers)
        );
        assert_eq!(
            class(200, None, &modern("red", "x")),
            (v("v3"), Evidence::Markers)
        );
        assert_eq!(
            class(200, None, &v1_page("somepod")),
            (v("v1"), Evidence::Markers)
        );
    }

    #[test]
    fn our_productpage_markup() {
        let body = page(
            "<h2>Book Reviews</h2><article class=\"review\">\
             <div class=\"stars text-black-500\" role=\"img\">\
             <span class=\"glyphicon glyphicon-star\"></span><span class=\"star-empty\"></span></div>\
             <p class=\"served\">Reviews served by: <span class=\"pod\">reviews-v2-abc</span></p></article>",
        );
        assert_eq!(class(200, None, &body), (v("v2"), Evidence::Markers));
    }

    #[test]
    fn legacy_markers() {
        assert_eq!(
            class(200, None, &legacy("black")),
            (v("v2"), Evidence::Markers)
        );
        assert_eq!(
            class(200, None, &legacy("red")),
            (v("v3"), Evidence::Markers)
        );
    }

    #[test]
    fn red_error_paragraph_does_not_make_black_stars_red() {
        let body = page(
            "<h4>Book Reviews</h4><p class=\"text-red-500\">Ratings service is currently unavailable</p>\
             <div class=\"text-black-500\"><svg id=\"glyphicon glyphicon-star\"></svg></div>",
        );
        assert_eq!(class(200, None, &body), (v("v2"), Evidence::Markers));
    }

    #[test]
    fn a_huge_page_of_stars_is_classified_in_one_pass() {
        // 60,000 stars in 2 MB: looking back from every star for its colour
        // took minutes; one pass over the markers takes milliseconds.
        let stars = "<span class=\"glyphicon glyphicon-star\"></span>".repeat(60_000);
        let body = page(&format!(
            "<h4>Book Reviews</h4><div class=\"text-red-500\">{stars}</div>"
        ));
        assert_eq!(class(200, None, &body), (v("v3"), Evidence::Markers));
    }

    #[test]
    fn ratings_unavailable_falls_back_to_the_pod_name() {
        let body = page(
            "<h4>Book Reviews</h4><p class=\"text-red-500\">Ratings service is currently unavailable</p>\
             <div>Reviews served by: \nreviews-v3-7dd8-x2</div>",
        );
        assert_eq!(class(200, None, &body), (v("v3"), Evidence::PodName));
        let no_pod = page(
            "<h4>Book Reviews</h4><p class=\"text-red-500\">Ratings service is currently unavailable</p>",
        );
        assert_eq!(
            class(200, None, &no_pod),
            (ResponseClass::Unclassifiable, Evidence::None)
        );
    }

    #[test]
    fn mixed_colours_are_ambiguous() {
        let body = page(
            "<h4>Book Reviews</h4><div class=\"text-black-500\"><span class=\"glyphicon glyphicon-star\">\
             </span></div><div class=\"text-red-500\"><span class=\"glyphicon glyphicon-star\"></span></div>",
        );
        assert_eq!(class(200, None, &body).0, ResponseClass::Unclassifiable);
        // Stars without any colour marker cannot be told apart either.
        let plain = page("<h4>Book Reviews</h4><span class=\"glyphicon glyphicon-star\"></span>");
        assert_eq!(class(200, None, &plain).0, ResponseClass::Unclassifiable);
    }

    #[test]
    fn pod_names() {
        assert_eq!(
            version_from_pod("Reviews served by: reviews-v2-abc"),
            Some("v2".into())
        );
        assert_eq!(
            version_from_pod("Reviews served by: \n<b>reviews-v1-6b-xyz</b>"),
            Some("v1".into())
        );
        assert_eq!(
            version_from_pod("Reviews served by: reviews-v1-a … Reviews served by: reviews-v2-b"),
            None
        );
        assert_eq!(version_from_pod("Reviews served by: reviews-abc"), None);
        assert_eq!(version_from_pod("Reviews served by: <unterminated"), None);
        assert_eq!(version_from_pod("nothing"), None);
    }

    #[test]
    fn no_stars_without_book_reviews_is_not_v1() {
        assert_eq!(
            class(200, None, "<html>hello</html>"),
            (ResponseClass::Unclassifiable, Evidence::None)
        );
        let c = classify(200, None, b"<html>hello</html>");
        assert!(!c.product_page);
        let index = "<title>Simple Bookstore App</title><h1>Simple Bookstore App</h1>";
        let c = classify(200, None, index.as_bytes());
        assert!(!c.product_page && c.class == ResponseClass::Unclassifiable);
        // A product page whose reviews failed is its own category, even with a header.
        let failed = page(&format!(
            "<h4>Error fetching product reviews</h4><p>{REVIEWS_UNAVAILABLE}</p>"
        ));
        let c = classify(200, Some("reviews-v2"), failed.as_bytes());
        assert_eq!(c.class, ResponseClass::ReviewsUnavailable);
        assert_eq!(c.attributed.as_deref(), Some("v2"));
        assert!(c.product_page);
    }

    #[test]
    fn http_errors_are_failures_not_versions() {
        let c = classify(503, Some("reviews-v3"), b"upstream connect error");
        assert_eq!(c.class, ResponseClass::Failed(503));
        assert_eq!(c.attributed.as_deref(), Some("v3"));
        assert_eq!(c.class.to_outcome(), Outcome::Failed);
        assert_eq!(class(302, None, "").0, ResponseClass::Failed(302));
    }

    #[test]
    fn odd_bytes_do_not_panic() {
        let body = [0xff, 0xfe, b'<', 0x80];
        assert_eq!(
            classify(200, None, &body).class,
            ResponseClass::Unclassifiable
        );
        assert_eq!(version_from_header("reviews-v"), None);
        assert_eq!(version_from_header("reviews-v1234"), None);
        assert_eq!(version_from_header(" reviews-v1 "), Some("v1".into()));
    }

    #[test]
    fn outcomes_map_to_the_engine() {
        assert_eq!(v("v1").to_outcome(), Outcome::Version("v1".into()));
        assert_eq!(ResponseClass::TimedOut.to_outcome(), Outcome::TimedOut);
        assert_eq!(ResponseClass::ConnectError.to_outcome(), Outcome::Failed);
        assert_eq!(
            ResponseClass::ReviewsUnavailable.to_outcome(),
            Outcome::Unclassifiable
        );
        assert_eq!(
            ResponseClass::ReviewsUnavailable.label(),
            "reviews-unavailable"
        );
    }
}
