//! The event queue: pending "node finished" events, earliest cycle first, and events of the
//! same cycle in the order they were scheduled, so every run is deterministic.
//!
//! A run rarely has more than a few dozen events pending (the engine benchmark's GEMM at
//! most 11, the shipped designs' layers at most 191), so most live in a short sorted array,
//! whose insertion costs a few compares and a small move; events beyond it go to a binary
//! heap, so a graph with thousands of events pending at once stays `O(log n)` per event.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Events keyed by (cycle, insertion sequence), packed into one `u128`: the cycle in the
/// high 64 bits, the sequence in the next 32, the node in the low 32. One integer compares
/// and moves faster than a tuple (a graph has far fewer than 2^32 nodes, each scheduled
/// once).
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    /// Up to [`SORTED_EVENTS`] keys, latest first.
    sorted: Vec<u128>,
    /// The rest.
    heap: BinaryHeap<Reverse<u128>>,
    sequence: u32,
}

/// Events kept in the sorted array before the heap takes the rest.
const SORTED_EVENTS: usize = 32;

impl EventQueue {
    /// Schedules `node` to finish at `cycle`.
    pub(crate) fn push(&mut self, cycle: u64, node: u32) {
        let key = (u128::from(cycle) << 64) | (u128::from(self.sequence) << 32) | u128::from(node);
        self.sequence += 1;
        if self.sorted.len() == SORTED_EVENTS {
            self.heap.push(Reverse(key));
            return;
        }
        // New events are mostly among the latest: look from the earliest end up.
        // Shifted up one by one as found (a few places; a library move costs more here).
        let mut at = self.sorted.len();
        self.sorted.push(key);
        while at > 0 && self.sorted[at - 1] < key {
            self.sorted[at] = self.sorted[at - 1];
            at -= 1;
        }
        self.sorted[at] = key;
    }

    /// Empties the queue, keeping its memory.
    pub(crate) fn clear(&mut self) {
        self.sorted.clear();
        self.heap.clear();
        self.sequence = 0;
    }

    /// The cycle of the earliest event.
    pub(crate) fn peek_cycle(&self) -> Option<u64> {
        let earliest = match (self.sorted.last(), self.heap.peek()) {
            (sorted, None) => sorted.copied(),
            (None, Some(&Reverse(heaped))) => Some(heaped),
            (Some(&sorted), Some(&Reverse(heaped))) => Some(sorted.min(heaped)),
        };
        earliest.map(|key| (key >> 64) as u64)
    }

    /// The earliest event, first scheduled among equals.
    pub(crate) fn pop(&mut self) -> Option<(u64, u32)> {
        let from_heap = match (self.sorted.last(), self.heap.peek()) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(&sorted), Some(&Reverse(heaped))) => heaped < sorted,
        };
        let key = if from_heap {
            self.heap.pop().map(|Reverse(key)| key)
        } else {
            self.sorted.pop()
        };
        key.map(|key| ((key >> 64) as u64, key as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// Against a BTreeMap shadow keyed the same way, for any interleaving of operations;
        /// two pushes in three, so the queue outgrows its sorted array into the heap.
        #[test]
        fn pops_like_an_ordered_map(operations in prop::collection::vec(prop::option::weighted(0.67, (0u64..50, 0u32..1000)), 0..400)) {
            let mut queue = EventQueue::default();
            let mut shadow = BTreeMap::new();
            let mut sequence = 0u64;
            for operation in operations {
                match operation {
                    Some((cycle, node)) => {
                        queue.push(cycle, node);
                        shadow.insert((cycle, sequence), node);
                        sequence += 1;
                    }
                    None => {
                        prop_assert_eq!(queue.peek_cycle(), shadow.first_key_value().map(|((cycle, _), _)| *cycle));
                        let expected = shadow.pop_first().map(|((cycle, _), node)| (cycle, node));
                        prop_assert_eq!(queue.pop(), expected);
                    }
                }
            }
            while let Some(((cycle, _), node)) = shadow.pop_first() {
                prop_assert_eq!(queue.pop(), Some((cycle, node)));
            }
            prop_assert_eq!(queue.pop(), None);
        }
    }

    #[test]
    fn same_cycle_events_run_in_insertion_order() {
        let mut queue = EventQueue::default();
        for node in [7, 3, 9] {
            queue.push(5, node);
        }
        queue.push(4, 1);
        let order: Vec<u32> = std::iter::from_fn(|| queue.pop().map(|(_, n)| n)).collect();
        assert_eq!(order, [1, 7, 3, 9]);
    }
}
