//! When each of the bank model's actors (ports and channels) acts next, and which acts
//! first: a tournament tree over the actors, so the earliest is at the root and moving one
//! actor's cycle walks one path up the tree. A heap of events held every superseded event
//! until it was popped (an actor is rescheduled earlier whenever a request reaches it
//! sooner than it planned to look again), and its sifting branches on every comparison.

/// What acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Actor {
    /// A port issues its next burst (before any channel's decision of the same cycle, so
    /// the decision sees it).
    Port(u32),
    /// A channel admits arrivals and picks its next request.
    Channel(u32),
}

impl Actor {
    /// Its order among actors of one cycle (ports first, then by index), below the cycle
    /// in a key: `kind << 31 | index`.
    fn rank(self) -> u128 {
        match self {
            Actor::Port(index) => u128::from(index),
            Actor::Channel(index) => 1 << 31 | u128::from(index),
        }
    }

    /// Its leaf: port `i` and channel `i` side by side, so a run that uses few channels
    /// keeps a small tree.
    fn leaf(self) -> usize {
        match self {
            Actor::Port(index) => 2 * index as usize,
            Actor::Channel(index) => 2 * index as usize + 1,
        }
    }

    /// The actor of a key's rank bits.
    fn of_rank(rank: u32) -> Actor {
        let index = rank & !(1 << 31);
        if rank >> 31 == 0 {
            Actor::Port(index)
        } else {
            Actor::Channel(index)
        }
    }
}

/// A leaf with no action.
const NONE: u128 = u128::MAX;

/// Per actor, the cycle it acts at next, and the earliest of all (ties go to ports, then to
/// the lower index).
#[derive(Debug, Clone)]
pub(super) struct Agenda {
    /// Leaves in the tree's bottom row (the highest actor's leaf scheduled so far, rounded
    /// up to a power of two).
    leaves: usize,
    /// Node `n`'s earliest action in its subtree as one integer, its cycle above its
    /// actor's rank (so that the earliest of two is one comparison; `NONE` when none): the
    /// root at 1, node `n`'s children at `2n` and `2n + 1`, leaf `l` at `leaves + l`.
    nodes: Vec<u128>,
}

impl Agenda {
    /// No actor scheduled.
    pub(super) fn new() -> Self {
        Agenda::over(1)
    }

    /// No actor scheduled, room for `leaves` leaves (a power of two).
    fn over(leaves: usize) -> Self {
        Agenda {
            leaves,
            nodes: vec![NONE; 2 * leaves],
        }
    }

    /// Has `actor` act at `cycle` unless it already acts earlier. The tree grows to the
    /// highest leaf scheduled.
    pub(super) fn schedule(&mut self, actor: Actor, cycle: u64) {
        let leaf = actor.leaf();
        if leaf >= self.leaves {
            self.grow(leaf + 1);
        }
        let mut node = self.leaves + leaf;
        let entry = u128::from(cycle) << 32 | actor.rank();
        if entry >= self.nodes[node] {
            return;
        }
        self.nodes[node] = entry;
        // Only a path whose earliest this entry now beats changes.
        while node > 1 {
            node /= 2;
            if entry >= self.nodes[node] {
                break;
            }
            self.nodes[node] = entry;
        }
    }

    /// The cycle of the next action, if any.
    pub(super) fn next_cycle(&self) -> Option<u64> {
        (self.nodes[1] != NONE).then_some((self.nodes[1] >> 32) as u64)
    }

    /// Takes the next action off the agenda.
    pub(super) fn pop(&mut self) -> Option<(u64, Actor)> {
        let root = self.nodes[1];
        if root == NONE {
            return None;
        }
        let actor = Actor::of_rank(root as u32);
        let mut node = self.leaves + actor.leaf();
        self.nodes[node] = NONE;
        while node > 1 {
            node /= 2;
            self.nodes[node] = self.nodes[2 * node].min(self.nodes[2 * node + 1]);
        }
        Some(((root >> 32) as u64, actor))
    }

    /// Room for `leaves` leaves, the actions scheduled kept.
    fn grow(&mut self, leaves: usize) {
        let mut grown = Agenda::over(leaves.next_power_of_two());
        for &entry in &self.nodes[self.leaves..] {
            if entry != NONE {
                grown.schedule(Actor::of_rank(entry as u32), (entry >> 32) as u64);
            }
        }
        *self = grown;
    }
}

#[cfg(test)]
mod tests {
    use super::{Actor, Agenda};
    use proptest::prelude::*;
    use std::cmp::Reverse;
    use std::collections::{BinaryHeap, HashMap};

    /// The heap the agenda replaced, ordered as it was: by cycle, then ports before
    /// channels, then by index. Every schedule that moves an actor earlier is an event, and
    /// a popped event counts only if it is its actor's current one.
    #[derive(Default)]
    struct LazyHeap {
        events: BinaryHeap<Reverse<(u64, bool, u32)>>,
        scheduled: HashMap<(bool, u32), u64>,
    }

    fn parts(actor: Actor) -> (bool, u32) {
        match actor {
            Actor::Port(index) => (false, index),
            Actor::Channel(index) => (true, index),
        }
    }

    impl LazyHeap {
        fn schedule(&mut self, actor: Actor, cycle: u64) {
            let (channel, index) = parts(actor);
            let slot = self.scheduled.entry((channel, index)).or_insert(u64::MAX);
            if cycle < *slot {
                *slot = cycle;
                self.events.push(Reverse((cycle, channel, index)));
            }
        }

        fn pop(&mut self) -> Option<(u64, Actor)> {
            while let Some(Reverse((cycle, channel, index))) = self.events.pop() {
                let slot = self.scheduled.get_mut(&(channel, index))?;
                if *slot == cycle {
                    *slot = u64::MAX;
                    let actor = if channel {
                        Actor::Channel(index)
                    } else {
                        Actor::Port(index)
                    };
                    return Some((cycle, actor));
                }
            }
            None
        }

        fn next_cycle(&self) -> Option<u64> {
            self.scheduled
                .values()
                .copied()
                .filter(|&c| c != u64::MAX)
                .min()
        }
    }

    #[test]
    fn the_earliest_acts_first_and_ties_go_to_ports_then_the_lower_index() {
        let mut agenda = Agenda::new();
        assert_eq!(agenda.pop(), None);
        agenda.schedule(Actor::Channel(0), 40);
        agenda.schedule(Actor::Port(7), 40);
        agenda.schedule(Actor::Port(3), 40);
        agenda.schedule(Actor::Channel(5), 10);
        // Later than its own plan: kept as it was.
        agenda.schedule(Actor::Channel(5), 30);
        agenda.schedule(Actor::Port(9), 20);
        assert_eq!(agenda.next_cycle(), Some(10));
        assert_eq!(agenda.pop(), Some((10, Actor::Channel(5))));
        assert_eq!(agenda.pop(), Some((20, Actor::Port(9))));
        // A cycle beyond 32 bits keeps its place.
        agenda.schedule(Actor::Port(0), 1 << 40);
        assert_eq!(agenda.pop(), Some((40, Actor::Port(3))));
        assert_eq!(agenda.pop(), Some((40, Actor::Port(7))));
        assert_eq!(agenda.pop(), Some((40, Actor::Channel(0))));
        assert_eq!(agenda.pop(), Some((1 << 40, Actor::Port(0))));
        assert_eq!(agenda.pop(), None);
        assert_eq!(agenda.next_cycle(), None);
    }

    proptest! {
        /// Any interleaving of schedules and pops gives the lazy heap's actions in its
        /// order, while the tree grows (a wrong tie-break, a path not settled after a pop,
        /// an action lost as the tree grows, or a later cycle taken over an earlier one
        /// would differ).
        #[test]
        fn acts_as_the_lazy_heap_does(
            steps in prop::collection::vec(
                (any::<bool>(), any::<bool>(), 0u32..40, 0u64..50),
                1..300,
            ),
        ) {
            let mut agenda = Agenda::new();
            let mut heap = LazyHeap::default();
            for (pop, channel, index, cycle) in steps {
                if pop {
                    prop_assert_eq!(agenda.pop(), heap.pop());
                } else {
                    let actor = if channel { Actor::Channel(index) } else { Actor::Port(index) };
                    agenda.schedule(actor, cycle);
                    heap.schedule(actor, cycle);
                }
                prop_assert_eq!(agenda.next_cycle(), heap.next_cycle());
            }
            while let Some(action) = heap.pop() {
                prop_assert_eq!(agenda.pop(), Some(action));
            }
            prop_assert_eq!(agenda.pop(), None);
        }
    }
}
