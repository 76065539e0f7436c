//! A pseudo-channel controller's queues and its choice of the next request (FR-FCFS).
//!
//! Reads and writes wait in queues of their own, each request one AXI burst, shared by every
//! transfer that reaches the channel; a burst waits as one entry per bank its columns land in
//! (the default address map alternates bank groups column by column), each entry's columns
//! served one by one, in order
//! (the HBM IP's reordering controller, PG276; its queue depths are not published, so they
//! are assumptions in the platform file). The controller serves one queue at a time: reads,
//! until the writes waiting reach the high watermark (or no read waits), then writes until
//! they are down to the low watermark while reads wait (Ramulator 2's
//! `GenericDRAMController`, with its 0.8 / 0.2 of a 32-deep write buffer).
//!
//! Within the queue served it picks **first ready** (Rixner et al., ISCA 2000), bank after
//! bank: of the eligible requests whose next column command could issue now, the oldest of
//! the first bank in turn after the bank served last (so the columns of requests to different
//! bank groups interleave); when none can, it waits for the first that can. This is
//! DRAMsim3's scheduler (`CommandQueue::GetCommandToIssue`: per-bank queues taken round
//! robin, the first ready command of each); an oldest-first choice across banks instead
//! serves small random working sets 5-10 % faster than DRAMsim3 does. A row miss is eligible
//! only as the oldest request to its bank, and only once no waiting request hits the bank's
//! open row or that row has served `row_hit_cap` column accesses since it opened: its
//! precharge would close the row under them (DRAMsim3's `ArbitratePrecharge`, whose cap is
//! 4). The cap is what keeps a miss from starving behind a stream of hits.

use super::channel::Location;
use std::collections::VecDeque;

/// One request waiting in a controller queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    /// The burst it serves (the caller's index).
    pub burst: u32,
    /// Its next column access: where it lands (and its bank's index in the channel), its
    /// byte address, the columns left in this bank and the bytes from one to the next.
    pub at: Location,
    /// Its bank's index in the channel.
    pub bank: u16,
    /// Its next column's byte address.
    pub address: u64,
    /// Columns left in this bank.
    pub columns: u32,
    /// Bytes from one of its columns to the next.
    pub stride: u32,
    /// When it entered the queue (its ACTIVATE may issue from then).
    pub accepted: u64,
}

/// How deep the queues are, when the controller turns to writes, and how long a row's hits
/// may hold back a miss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePolicy {
    /// Read requests the queue holds.
    pub read_depth: usize,
    /// Write requests the queue holds.
    pub write_depth: usize,
    /// Writes waiting that turn the controller to writes, and that it drains them down to.
    pub write_high: usize,
    /// Writes it drains down to.
    pub write_low: usize,
    /// Column accesses an open row serves before a waiting miss may close it.
    pub row_hit_cap: u32,
    /// Banks of the channel.
    pub banks: usize,
}

/// A bank's open row as the controller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenRow {
    /// Whether the location asked about is in the open row.
    pub hit: bool,
    /// Column accesses the open row has served since it opened.
    pub served: u32,
}

/// Where a request waits: its bank's list, and its place there (oldest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// The bank's list.
    pub bank: usize,
    /// Its place there.
    pub position: usize,
}

/// What the controller does at a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Serve the next column of this request (a write when `write`, at `slot`) now, then
    /// tell the controller what is left of it ([`Controller::served`]).
    Serve {
        /// Where it waits.
        slot: Slot,
        /// The request.
        request: Queued,
        /// Whether it is a write.
        write: bool,
    },
    /// Nothing can issue before this cycle.
    Wait(u64),
    /// Both queues are empty.
    Idle,
}

/// A set of a channel's banks (at most 256: 16 bank groups of 16).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct BankSet([u64; 4]);

impl BankSet {
    fn insert(&mut self, bank: usize) {
        self.0[bank / 64] |= 1 << (bank % 64);
    }

    fn remove(&mut self, bank: usize) {
        self.0[bank / 64] &= !(1 << (bank % 64));
    }

    /// The lowest bank in the set at or after `from`.
    fn first_from(&self, from: usize) -> Option<usize> {
        let mut word = from / 64;
        let mut bits = *self.0.get(word)? & (u64::MAX << (from % 64));
        loop {
            if bits != 0 {
                return Some(word * 64 + bits.trailing_zeros() as usize);
            }
            word += 1;
            bits = *self.0.get(word)?;
        }
    }
}

/// A channel's read and write queues, each as one list per bank, oldest first.
#[derive(Debug, Clone)]
pub struct Controller {
    policy: QueuePolicy,
    /// Reads, then writes: per bank, its entries.
    queues: [Vec<VecDeque<Queued>>; 2],
    /// Bursts in the read and the write queue (each one or more entries).
    held: [usize; 2],
    draining: bool,
    /// The bank served last: the turn starts after it.
    last_bank: usize,
    /// Entries waiting (both queues) by the cycle they were accepted, earliest first: the
    /// oldest at the front without a walk over every bank's list.
    accepted: VecDeque<(u64, usize)>,
    /// Banks with entries waiting, per queue.
    nonempty: [BankSet; 2],
}

impl Controller {
    /// Empty queues under `policy`.
    pub fn new(policy: QueuePolicy) -> Self {
        let lists = vec![VecDeque::new(); policy.banks];
        Controller {
            policy,
            queues: [lists.clone(), lists],
            held: [0; 2],
            draining: false,
            last_bank: 0,
            accepted: VecDeque::new(),
            nonempty: [BankSet::default(); 2],
        }
    }

    /// Whether a read (or a write) burst can enter its queue now.
    pub fn has_room(&self, write: bool) -> bool {
        let depth = if write {
            self.policy.write_depth
        } else {
            self.policy.read_depth
        };
        self.held[usize::from(write)] < depth
    }

    /// Queues a burst as its entries, one per bank; the caller checked
    /// [`Controller::has_room`].
    pub fn accept(&mut self, entries: &[Queued], write: bool) {
        debug_assert!(self.has_room(write));
        self.held[usize::from(write)] += 1;
        for entry in entries {
            self.queues[usize::from(write)][usize::from(entry.bank)].push_back(*entry);
            self.nonempty[usize::from(write)].insert(usize::from(entry.bank));
            // Requests arrive in order of acceptance (a channel accepts one at a time), so
            // this is a push at the back but for callers that interleave cycles.
            let at = self
                .accepted
                .partition_point(|&(cycle, _)| cycle < entry.accepted);
            match self.accepted.get_mut(at) {
                Some((cycle, count)) if *cycle == entry.accepted => *count += 1,
                _ => self.accepted.insert(at, (entry.accepted, 1)),
            }
        }
    }

    /// A burst's last column was served: its place in the queue is free.
    pub fn release(&mut self, write: bool) {
        self.held[usize::from(write)] -= 1;
    }

    /// When the oldest request waiting entered its queue.
    pub fn waiting_since(&self) -> Option<u64> {
        self.accepted.front().map(|&(cycle, _)| cycle)
    }

    /// Picks what to do at `now`. `open(request)`: the open row of its bank;
    /// `earliest(request, write)`: the earliest cycle its next column command could issue.
    pub fn choose(
        &mut self,
        now: u64,
        open: impl Fn(&Queued) -> OpenRow,
        earliest: impl Fn(&Queued, bool) -> u64,
    ) -> Choice {
        let policy = self.policy;
        let [reads, writes] = self.held;
        self.draining = if self.draining {
            writes > 0 && (writes > policy.write_low || reads == 0)
        } else {
            writes >= policy.write_high || (reads == 0 && writes > 0)
        };
        let write = self.draining;
        if self.held[usize::from(write)] == 0 {
            return Choice::Idle;
        }
        let lists = &self.queues[usize::from(write)];
        let mut first_ready = u64::MAX;
        // Banks with entries in turn after the last served; within a bank the oldest ready.
        // A bank's hits differ only in when they were queued, so its oldest hit is the
        // first of them ready: each bank has at most two candidates, its oldest request (a
        // miss, when it may go) and its oldest hit.
        let nonempty = self.nonempty[usize::from(write)];
        let start = (self.last_bank + 1) % policy.banks;
        let (mut from, mut wrapped) = (start, false);
        loop {
            let bank = match nonempty.first_from(from) {
                Some(bank) if !wrapped || bank < start => bank,
                _ if !wrapped && start > 0 => {
                    (from, wrapped) = (0, true);
                    continue;
                }
                _ => break,
            };
            from = bank + 1;
            let list = &lists[bank];
            let oldest = list.front().expect("a bank in the set has entries");
            let front = open(oldest);
            let first_hit = if front.hit {
                Some(0)
            } else {
                list.iter().position(|request| open(request).hit)
            };
            // A miss may go once no request hits the bank's open row or the row has served
            // the cap.
            let miss = (!front.hit && (first_hit.is_none() || front.served >= policy.row_hit_cap))
                .then_some(0);
            for position in [miss, first_hit].into_iter().flatten() {
                let request = &list[position];
                let ready = earliest(request, write);
                if ready <= now {
                    self.last_bank = bank;
                    return Choice::Serve {
                        slot: Slot { bank, position },
                        request: *request,
                        write,
                    };
                }
                first_ready = first_ready.min(ready);
            }
        }
        Choice::Wait(first_ready)
    }

    /// The request served at `slot` has `left` of it (its next column, in the same bank),
    /// or is done.
    pub fn served(&mut self, write: bool, slot: Slot, left: Option<Queued>) {
        let list = &mut self.queues[usize::from(write)][slot.bank];
        match left {
            Some(request) => {
                debug_assert_eq!(usize::from(request.bank), slot.bank);
                list[slot.position] = request;
            }
            None => {
                let removed = list.remove(slot.position).expect("a queued request");
                if list.is_empty() {
                    self.nonempty[usize::from(write)].remove(slot.bank);
                }
                let at = self
                    .accepted
                    .partition_point(|&(cycle, _)| cycle < removed.accepted);
                let (_, count) = &mut self.accepted[at];
                *count -= 1;
                if *count == 0 {
                    self.accepted.remove(at);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const POLICY: QueuePolicy = QueuePolicy {
        read_depth: 8,
        write_depth: 8,
        write_high: 6,
        write_low: 2,
        row_hit_cap: 3,
        banks: 4,
    };

    /// Four banks (bank group 0): each its open row and the columns it served since.
    type Banks = [(Option<u64>, u32); 4];

    fn request(burst: u32, bank: u64, row: u64) -> Queued {
        Queued {
            burst,
            at: Location {
                bank_group: 0,
                bank,
                row,
            },
            bank: bank as u16,
            address: 0,
            columns: 1,
            stride: 0,
            accepted: 0,
        }
    }

    fn open(banks: &Banks) -> impl Fn(&Queued) -> OpenRow + '_ {
        move |request: &Queued| {
            let (row, served) = banks[request.at.bank as usize];
            OpenRow {
                hit: row == Some(request.at.row),
                served,
            }
        }
    }

    /// A toy bank: a hit may issue once queued, a miss `cost[bank]` later.
    fn earliest<'a>(banks: &'a Banks, cost: &'a [u64; 4]) -> impl Fn(&Queued, bool) -> u64 + 'a {
        move |request: &Queued, _| {
            let bank = request.at.bank as usize;
            if banks[bank].0 == Some(request.at.row) {
                request.accepted
            } else {
                request.accepted + cost[bank]
            }
        }
    }

    /// Chooses at `now` and, when it serves, serves the request's last column.
    fn choose(controller: &mut Controller, now: u64, banks: &Banks, cost: &[u64; 4]) -> Choice {
        let choice = controller.choose(now, open(banks), earliest(banks, cost));
        if let Choice::Serve { slot, write, .. } = choice {
            controller.served(write, slot, None);
            controller.release(write);
        }
        choice
    }

    fn served(choice: Choice) -> u32 {
        match choice {
            Choice::Serve { request, .. } => request.burst,
            other => panic!("{other:?}"),
        }
    }

    /// The bank set finds the next bank across its 64-bank words, and none past the last.
    #[test]
    fn the_bank_set_walks_across_words() {
        let mut set = BankSet::default();
        for bank in [3, 63, 64, 200, 255] {
            set.insert(bank);
        }
        let walk: Vec<usize> =
            std::iter::successors(set.first_from(0), |&b| set.first_from(b + 1)).collect();
        assert_eq!(walk, vec![3, 63, 64, 200, 255]);
        assert_eq!(set.first_from(65), Some(200));
        set.remove(200);
        assert_eq!(set.first_from(65), Some(255));
        assert_eq!(set.first_from(256), None);
    }

    /// A row hit behind a miss to another bank is served first; the miss once nothing else
    /// is ready.
    #[test]
    fn row_hits_go_first_then_the_oldest() {
        let mut controller = Controller::new(POLICY);
        controller.accept(&[request(0, 0, 1)], false);
        controller.accept(&[request(1, 1, 5)], false);
        let banks = [(Some(0), 1), (Some(5), 1), (None, 0), (None, 0)];
        let cost = [10; 4];
        assert_eq!(served(choose(&mut controller, 0, &banks, &cost)), 1);
        assert_eq!(choose(&mut controller, 0, &banks, &cost), Choice::Wait(10));
        assert_eq!(served(choose(&mut controller, 10, &banks, &cost)), 0);
        assert_eq!(choose(&mut controller, 10, &banks, &cost), Choice::Idle);
    }

    /// A miss to a bank whose open row a waiting request hits waits for that hit, even when
    /// its own time has come; once the row has served the cap, it goes first.
    #[test]
    fn a_miss_closes_a_row_others_hit_only_past_the_cap() {
        let mut controller = Controller::new(POLICY);
        controller.accept(&[request(0, 0, 1)], false);
        controller.accept(&[request(1, 0, 0)], false);
        // The hit is not ready before 20 (say, tCCD); the miss claims it could go at 5.
        let earliest = |request: &Queued, _: bool| if request.at.row == 0 { 20 } else { 5 };
        let below = [
            (Some(0), POLICY.row_hit_cap - 1),
            (None, 0),
            (None, 0),
            (None, 0),
        ];
        assert_eq!(
            controller.choose(5, open(&below), earliest),
            Choice::Wait(20)
        );
        let at_cap = [
            (Some(0), POLICY.row_hit_cap),
            (None, 0),
            (None, 0),
            (None, 0),
        ];
        assert_eq!(served(controller.choose(5, open(&at_cap), earliest)), 0);
    }

    /// Ready requests are served bank after bank from the one after the last served (bank
    /// 0 at the start), the oldest first within a bank.
    #[test]
    fn ready_requests_are_served_bank_after_bank() {
        let mut controller = Controller::new(POLICY);
        for (burst, bank) in [(0, 0), (1, 3), (2, 0), (3, 1), (4, 3)] {
            controller.accept(&[request(burst, bank, 0)], false);
        }
        let banks = [(Some(0), 1); 4];
        let order: Vec<u32> = (0..5)
            .map(|_| served(choose(&mut controller, 0, &banks, &[0; 4])))
            .collect();
        assert_eq!(order, [3, 1, 0, 4, 2]);
    }

    /// Of two misses to one bank, the younger waits for the older even when it is ready
    /// first.
    #[test]
    fn misses_to_one_bank_go_in_order() {
        let mut controller = Controller::new(POLICY);
        controller.accept(&[request(0, 0, 1)], false);
        controller.accept(&[request(1, 0, 2)], false);
        let banks = [(Some(0), 9), (None, 0), (None, 0), (None, 0)];
        let earliest = |request: &Queued, _: bool| if request.at.row == 1 { 30 } else { 5 };
        assert_eq!(
            controller.choose(5, open(&banks), earliest),
            Choice::Wait(30)
        );
    }

    /// Writes wait until the high watermark, then drain to the low one while reads wait.
    #[test]
    fn writes_drain_between_the_watermarks() {
        let mut controller = Controller::new(POLICY);
        let banks = [(Some(0), 0); 4];
        controller.accept(&[request(100, 0, 0)], false);
        for burst in 0..POLICY.write_high as u32 - 1 {
            controller.accept(&[request(burst, 0, 0)], true);
        }
        assert!(matches!(
            choose(&mut controller, 0, &banks, &[0; 4]),
            Choice::Serve { write: false, .. }
        ));
        controller.accept(&[request(200, 0, 0)], false);
        controller.accept(&[request(99, 0, 0)], true);
        let mut writes = 0;
        while let Choice::Serve { write: true, .. } = choose(&mut controller, 0, &banks, &[0; 4]) {
            writes += 1;
        }
        assert_eq!(writes, POLICY.write_high - POLICY.write_low);
    }

    /// The plain scheduler the controller must agree with, each rule written out directly:
    /// whether it serves writes, and the index it serves in that queue (if one is ready),
    /// the bank served last being `last_bank`.
    fn reference(
        (reads, writes): (&[Queued], &[Queued]),
        (draining, last_bank): (bool, u64),
        now: u64,
        banks: &Banks,
        cost: &[u64; 4],
    ) -> (bool, Option<usize>) {
        let draining = if draining {
            !writes.is_empty() && (writes.len() > POLICY.write_low || reads.is_empty())
        } else {
            writes.len() >= POLICY.write_high || (reads.is_empty() && !writes.is_empty())
        };
        let queue = if draining { writes } else { reads };
        let hit = |r: &Queued| banks[r.at.bank as usize].0 == Some(r.at.row);
        let ready = |r: &Queued| r.accepted + if hit(r) { 0 } else { cost[r.at.bank as usize] };
        let allowed = |i: usize| {
            let r = &queue[i];
            if hit(r) {
                return true;
            }
            let oldest_to_bank = queue.iter().position(|o| o.at.bank == r.at.bank) == Some(i);
            let waiting_hits = queue.iter().any(|o| o.at.bank == r.at.bank && hit(o));
            oldest_to_bank && (!waiting_hits || banks[r.at.bank as usize].1 >= POLICY.row_hit_cap)
        };
        // Banks in turn: last_bank + 1, + 2, ... and last_bank itself at the end.
        let first = (1..=4).map(|step| (last_bank + step) % 4).find_map(|bank| {
            (0..queue.len())
                .find(|&i| queue[i].at.bank == bank && allowed(i) && ready(&queue[i]) <= now)
        });
        (draining, first)
    }

    proptest! {
        /// The oldest request waiting, kept as requests come and go, is the oldest of every
        /// bank's list of both queues (a walk over them all), and the set of banks with
        /// requests is the banks whose lists are not empty, whatever the order requests are
        /// accepted in (callers other than the channel need not accept in order) and served
        /// in.
        #[test]
        fn the_oldest_waiting_is_the_oldest_queued(
            steps in proptest::collection::vec((any::<bool>(), 0u64..4, 0u64..20, 0usize..8), 1..60),
        ) {
            let policy = QueuePolicy { read_depth: 64, write_depth: 64, ..POLICY };
            let mut controller = Controller::new(policy);
            for (index, &(write, bank, accepted, pick)) in steps.iter().enumerate() {
                let queued: usize = controller.queues.iter().flatten().map(VecDeque::len).sum();
                if pick < 5 || queued == 0 {
                    let entry = Queued { accepted, ..request(index as u32, bank, 0) };
                    controller.accept(&[entry], write);
                } else {
                    // Serve (and remove) the `pick`-th waiting entry, counting across lists.
                    let slots: Vec<(bool, Slot)> = [false, true]
                        .into_iter()
                        .flat_map(|write| {
                            let lists = &controller.queues[usize::from(write)];
                            lists.iter().enumerate().flat_map(move |(bank, list)| {
                                (0..list.len()).map(move |position| (write, Slot { bank, position }))
                            })
                        })
                        .collect();
                    let (write, slot) = slots[pick % slots.len()];
                    controller.served(write, slot, None);
                    controller.release(write);
                }
                let walked = controller
                    .queues
                    .iter()
                    .flatten()
                    .flatten()
                    .map(|request| request.accepted)
                    .min();
                prop_assert_eq!(controller.waiting_since(), walked);
                for write in [false, true] {
                    let lists = &controller.queues[usize::from(write)];
                    let with_entries: Vec<usize> =
                        (0..lists.len()).filter(|&bank| !lists[bank].is_empty()).collect();
                    let in_set: Vec<usize> = std::iter::successors(
                        controller.nonempty[usize::from(write)].first_from(0),
                        |&bank| controller.nonempty[usize::from(write)].first_from(bank + 1),
                    )
                    .collect();
                    prop_assert_eq!(in_set, with_entries);
                }
            }
        }

        /// Against the reference, choice by choice over random arrivals of one to three
        /// columns and random bank costs: the same choice every time, and every column
        /// served exactly once. No hit streak passes the cap while a miss to its bank is
        /// next in line: a miss waits for at most `row_hit_cap` hits of the row it closes.
        #[test]
        fn agrees_with_the_reference_scheduler(
            arrivals in prop::collection::vec((0u64..4, 0u64..3, 1u32..4, any::<bool>()), 1..60),
            cost in prop::array::uniform4(0u64..20),
        ) {
            let mut controller = Controller::new(POLICY);
            // The queues as the reference sees them: reads and writes in arrival order.
            let mut shadow: [Vec<Queued>; 2] = [Vec::new(), Vec::new()];
            let mut banks: Banks = [(None, 0); 4];
            let mut waiting = arrivals.iter().enumerate().peekable();
            let mut served = vec![0u32; arrivals.len()];
            let (mut last_bank, mut draining) = (0, false);
            let mut now = 0;
            while waiting.peek().is_some() || shadow.iter().any(|queue| !queue.is_empty()) {
                while let Some(&(index, &(bank, row, columns, write))) = waiting.peek() {
                    if !controller.has_room(write) {
                        break;
                    }
                    let request = Queued { accepted: now, columns, ..request(index as u32, bank, row) };
                    controller.accept(&[request], write);
                    shadow[usize::from(write)].push(request);
                    waiting.next();
                }
                let [reads, writes] = &shadow;
                let (want_drain, want) = reference((reads, writes), (draining, last_bank), now, &banks, &cost);
                draining = want_drain;
                match controller.choose(now, open(&banks), earliest(&banks, &cost)) {
                    Choice::Serve { slot, request, write } => {
                        prop_assert_eq!(write, want_drain);
                        let queue = &mut shadow[usize::from(write)];
                        let position = queue.iter().position(|q| q.burst == request.burst);
                        prop_assert_eq!(position, want);
                        let position = position.unwrap();
                        served[request.burst as usize] += 1;
                        last_bank = request.at.bank;
                        let bank = &mut banks[request.at.bank as usize];
                        if bank.0 == Some(request.at.row) {
                            bank.1 += 1;
                        } else {
                            let hits_waiting = queue.iter().any(|q| q.at.bank == request.at.bank && Some(q.at.row) == bank.0);
                            prop_assert!(!hits_waiting || bank.1 >= POLICY.row_hit_cap);
                            *bank = (Some(request.at.row), 1);
                        }
                        let left = (request.columns > 1).then_some(Queued { columns: request.columns - 1, ..request });
                        controller.served(write, slot, left);
                        match left {
                            Some(left) => queue[position] = left,
                            None => {
                                queue.remove(position);
                                controller.release(write);
                            }
                        }
                    }
                    Choice::Wait(at) => {
                        prop_assert_eq!(want, None);
                        prop_assert!(at > now);
                        now = at;
                    }
                    Choice::Idle => prop_assert!(reads.is_empty() && writes.is_empty()),
                }
            }
            let columns: Vec<u32> = arrivals.iter().map(|a| a.2).collect();
            prop_assert_eq!(served, columns);
        }
    }
}
