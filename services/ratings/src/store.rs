//! Ratings kept in process memory: the defaults for every product, and
//! whatever POST stored (per process, lost on restart, as upstream).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

#[derive(Default)]
pub(crate) struct Store {
    posted: Mutex<HashMap<i64, Map<String, Value>>>,
}

pub(crate) fn default_ratings() -> Map<String, Value> {
    let mut ratings = Map::new();
    ratings.insert("Reviewer1".into(), json!(5));
    ratings.insert("Reviewer2".into(), json!(4));
    ratings
}

impl Store {
    pub(crate) fn get(&self, id: i64) -> Map<String, Value> {
        self.lock()
            .get(&id)
            .cloned()
            .unwrap_or_else(default_ratings)
    }

    pub(crate) fn put(&self, id: i64, ratings: Map<String, Value>) {
        self.lock().insert(id, ratings);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Map<String, Value>>> {
        // A panic while holding the lock cannot leave the map half-written
        // (insert is atomic from our side), so a poisoned lock is still usable.
        self.posted.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store {
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    pub(crate) fn contains(&self, id: i64) -> bool {
        self.lock().contains_key(&id)
    }
}
