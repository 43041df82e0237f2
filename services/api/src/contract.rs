//! What clients of Bookinfo match on, beside the JSON bodies: the response
//! headers our services add, and the sentences of the product page that
//! tutorials and tools look for (Istio's doc tests grep them). Productpage
//! writes them and the loadgen's classifier reads them, from here.

/// Every response of our services: the workload that answered, e.g. `reviews-v2`.
pub const VERSION_HEADER: &str = "x-bookinfo-version";
/// Productpage's responses: the `x-bookinfo-version` of the reviews reply,
/// so a tool can classify a page without parsing HTML.
pub const REVIEWS_VERSION_HEADER: &str = "x-bookinfo-reviews-version";

/// A full star of the rating (reviews v2 and v3): nine per page.
pub const STAR: &str = "glyphicon glyphicon-star";
/// Before the pod name of the reviews instance, once per review.
pub const SERVED_BY: &str = "Reviews served by:";
/// The page's sentence when the details call failed.
pub const DETAILS_UNAVAILABLE: &str =
    "Sorry, product details are currently unavailable for this book.";
/// The page's sentence when the reviews call failed (after its retry).
pub const REVIEWS_UNAVAILABLE: &str =
    "Sorry, product reviews are currently unavailable for this book.";
/// The JSON API's sentence when the ratings call failed.
pub const RATINGS_API_UNAVAILABLE: &str =
    "Sorry, product ratings are currently unavailable for this book.";
/// What reviews v2/v3 put in place of the stars when ratings failed, once per review.
pub const RATINGS_UNAVAILABLE: &str = "Ratings service is currently unavailable";

/// What a service prints on stdout, followed by the address it bound, once
/// it accepts connections (a launcher given port 0 learns the port from it).
pub const LISTENING: &str = "listening on";
