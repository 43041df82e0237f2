//! Ratings kept in process memory: the defaults for every product, and
//! whatever POST stored (per process, lost on restart, as upstream).
//!
//! A product's ratings are kept as their compact JSON text, not as parsed
//! values: a parsed object costs about twenty times its text (a 64 KiB body
//! of small integers took 1.4 MB), so only the text bounds memory by input.
//! Both the number of products and the bytes kept are capped.

use std::collections::HashMap;
use std::sync::Mutex;

/// Products POST may create, so the map of products stays small.
pub(crate) const MAX_STORED_PRODUCTS: usize = 10_000;
/// Bytes of ratings text kept in all. The contract's bodies are tens of
/// bytes (10,000 of those fit many times over); 16 MiB still holds 256
/// bodies of the 64 KiB limit, and keeps a client from growing the process
/// beyond a few tens of MB.
pub(crate) const MAX_STORED_BYTES: usize = 16 << 20;

/// The ratings of a product nobody POSTed, as JSON text.
pub(crate) const DEFAULT_RATINGS: &str = r#"{"Reviewer1":5,"Reviewer2":4}"#;

/// Why a POST was not stored.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Full {
    Products,
    Bytes,
}

#[derive(Default)]
pub(crate) struct Store {
    posted: Mutex<Posted>,
}

#[derive(Default)]
struct Posted {
    ratings: HashMap<Box<str>, Box<str>>,
    bytes: usize,
}

impl Store {
    /// The ratings of `id` as JSON text.
    pub(crate) fn get(&self, id: &str) -> Box<str> {
        self.lock()
            .ratings
            .get(id)
            .cloned()
            .unwrap_or_else(|| DEFAULT_RATINGS.into())
    }

    /// Stores `ratings` (compact JSON text) for `id`, replacing what it had,
    /// unless that would pass a cap. An entry's bytes are its id's and its
    /// text's (ids are as long as a request line allows).
    pub(crate) fn put(&self, id: &str, ratings: Box<str>) -> Result<(), Full> {
        let mut posted = self.lock();
        let replaced = posted.ratings.get(id).map(|old| id.len() + old.len());
        if replaced.is_none() && posted.ratings.len() >= MAX_STORED_PRODUCTS {
            return Err(Full::Products);
        }
        let bytes = posted.bytes - replaced.unwrap_or(0) + id.len() + ratings.len();
        if bytes > MAX_STORED_BYTES {
            return Err(Full::Bytes);
        }
        posted.bytes = bytes;
        posted.ratings.insert(id.into(), ratings);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Posted> {
        // A panic while holding the lock cannot leave the map half-written
        // (insert is atomic from our side), so a poisoned lock is still usable.
        self.posted.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caps_count_products_and_bytes_and_a_replacement_frees_its_old_bytes() {
        let store = Store::default();
        // An entry is its id's byte and its text's.
        let big: Box<str> = "x".repeat(MAX_STORED_BYTES / 2 - 1).into();
        assert_eq!(store.put("1", big.clone()), Ok(()));
        assert_eq!(store.put("2", big.clone()), Ok(()));
        assert_eq!(store.put("3", "{}".into()), Err(Full::Bytes));
        assert_eq!(
            store.put("2", "{}".into()),
            Ok(()),
            "replacing frees the old text"
        );
        assert_eq!(store.put("3", "{}".into()), Ok(()));
        assert_eq!(&*store.get("2"), "{}");
        assert_eq!(&*store.get("9"), DEFAULT_RATINGS);
    }

    #[test]
    fn long_ids_count_against_the_byte_cap() {
        let store = Store::default();
        let id = "9".repeat(MAX_STORED_BYTES);
        assert_eq!(store.put(&id, "{}".into()), Err(Full::Bytes));
    }
}
