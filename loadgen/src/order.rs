//! Answers fed to the verdict engine in the order their requests were
//! scheduled, not the order they completed. A sequential test stops at its
//! first decision: fed in completion order, it would see a fast version's
//! answers before a slow one's (those still in flight), and a slow canary
//! would look under-weighted, a fast one over-weighted. In schedule order
//! every prefix is an unbiased sample, whatever the latencies.

use std::collections::BTreeMap;

/// Items by slot index, released in index order.
#[derive(Debug)]
pub(crate) struct InOrder<T> {
    next: u64,
    /// Completed ahead of an earlier slot; at most the requests in flight.
    waiting: BTreeMap<u64, Option<T>>,
}

impl<T> Default for InOrder<T> {
    fn default() -> Self {
        Self {
            next: 0,
            waiting: BTreeMap::new(),
        }
    }
}

impl<T> InOrder<T> {
    /// Slot `index` is done: with `item` to observe, or with nothing (not
    /// sent, or discarded); the items now in order, oldest first.
    pub(crate) fn done(&mut self, index: u64, item: Option<T>) -> Vec<T> {
        if index < self.next {
            return Vec::new();
        }
        self.waiting.insert(index, item);
        let mut released = Vec::new();
        while let Some(item) = self.waiting.remove(&self.next) {
            released.extend(item);
            self.next += 1;
        }
        released
    }

    /// Drops the items waiting for an earlier slot (answers from before a
    /// restart): their slots count as done with nothing.
    pub(crate) fn forget(&mut self) {
        for item in self.waiting.values_mut() {
            *item = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_out_in_slot_order_and_skipped_slots_hold_nothing_back() {
        let mut order = InOrder::default();
        assert_eq!(order.done(1, Some("b")), Vec::<&str>::new());
        assert_eq!(order.done(3, Some("d")), Vec::<&str>::new());
        assert_eq!(order.done(0, Some("a")), vec!["a", "b"]);
        assert_eq!(order.done(2, None), vec!["d"]);
        assert_eq!(order.done(4, Some("e")), vec!["e"]);
        // A slot already passed is not taken twice.
        assert_eq!(order.done(4, Some("again")), Vec::<&str>::new());
        assert!(order.waiting.is_empty());
        assert_eq!(order.done(6, Some("g")), Vec::<&str>::new());
        order.forget();
        assert_eq!(order.done(5, Some("f")), vec!["f"], "g was forgotten");
    }
}
