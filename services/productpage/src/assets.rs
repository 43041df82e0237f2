//! The files under `/static/`: our stylesheet and icon, compiled into the
//! binary, served with their content type, an ETag and a cache lifetime.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::Error;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    etag: &'static str,
}

const CACHE_CONTROL: &str = "public, max-age=3600";

const ASSETS: [Asset; 2] = [
    Asset {
        name: "bookinfo.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../static/bookinfo.css"),
        etag: ETAGS[0],
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../static/favicon.svg"),
        etag: ETAGS[1],
    },
];

/// FNV-1a of each file, computed at compile time, formatted as an ETag.
const ETAGS: [&str; 2] = [etag_str(&ETAG_BYTES[0]), etag_str(&ETAG_BYTES[1])];
const ETAG_BYTES: [[u8; 18]; 2] = [
    etag_bytes(include_bytes!("../static/bookinfo.css")),
    etag_bytes(include_bytes!("../static/favicon.svg")),
];

const fn etag_bytes(body: &[u8]) -> [u8; 18] {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < body.len() {
        hash ^= body[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    let digits = b"0123456789abcdef";
    let mut out = [b'"'; 18];
    let mut j = 0;
    while j < 16 {
        out[16 - j] = digits[((hash >> (4 * j)) & 0xf) as usize];
        j += 1;
    }
    out
}

const fn etag_str(bytes: &'static [u8; 18]) -> &'static str {
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => "\"0\"",
    }
}

pub(crate) async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Result<Response, Error> {
    let asset = ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .ok_or(Error::NotFound)?;
    let fresh = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == asset.etag || tag.trim() == "*");
    let common = [
        (header::ETAG, HeaderValue::from_static(asset.etag)),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        ),
    ];
    if fresh {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    Ok((
        common,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        )],
        asset.body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_quoted_hex_and_differ_per_file() {
        for asset in &ASSETS {
            assert_eq!(asset.etag.len(), 18);
            assert!(asset.etag.starts_with('"') && asset.etag.ends_with('"'));
        }
        assert_ne!(ASSETS[0].etag, ASSETS[1].etag);
    }
}
