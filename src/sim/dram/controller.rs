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

/// One request waiting in a controller queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    /// The burst it serves (the caller's index).
    pub burst: u32,
    /// Its next column access: where it lands (and its bank's index in the channel), its
    /// byte address, the columns left in this bank and the bytes from one to the next.
    pub at: Location,
    pub bank: u16,
    pub address: u64,
    pub columns: u32,
    pub stride: u32,
    /// When it entered the queue (its ACTIVATE may issue from then).
    pub accepted: u64,
}

/// How deep the queues are, when the controller turns to writes, and how long a row's hits
/// may hold back a miss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePolicy {
    pub read_depth: usize,
    pub write_depth: usize,
    /// Writes waiting that turn the controller to writes, and that it drains them down to.
    pub write_high: usize,
    pub write_low: usize,
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

/// What the controller does at a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Serve the next column of this request (a write when `write`, at `index` in its
    /// queue) now, then tell the controller what is left of it ([`Controller::served`]).
    Serve {
        index: usize,
        request: Queued,
        write: bool,
    },
    /// Nothing can issue before this cycle.
    Wait(u64),
    /// Both queues are empty.
    Idle,
}

/// A channel's read and write queues, oldest first.
#[derive(Debug, Clone)]
pub struct Controller {
    policy: QueuePolicy,
    reads: Vec<Queued>,
    writes: Vec<Queued>,
    /// Bursts in the read and the write queue (each one or more entries).
    held: [usize; 2],
    draining: bool,
    /// Scratch, per bank: the index of its oldest request in the queue served, and whether
    /// a request there hits its open row.
    oldest: Vec<usize>,
    hit_waits: Vec<bool>,
    /// Scratch: the open row of each request's bank.
    rows: Vec<OpenRow>,
    /// The bank served last: the turn starts after it.
    last_bank: usize,
}

impl Controller {
    pub fn new(policy: QueuePolicy) -> Self {
        Controller {
            policy,
            reads: Vec::with_capacity(policy.read_depth),
            writes: Vec::with_capacity(policy.write_depth),
            held: [0; 2],
            draining: false,
            oldest: vec![usize::MAX; policy.banks],
            hit_waits: vec![false; policy.banks],
            rows: Vec::new(),
            last_bank: 0,
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
        let queue = if write {
            &mut self.writes
        } else {
            &mut self.reads
        };
        queue.extend_from_slice(entries);
    }

    /// A burst's last column was served: its place in the queue is free.
    pub fn release(&mut self, write: bool) {
        self.held[usize::from(write)] -= 1;
    }

    /// When the oldest request waiting entered its queue.
    pub fn waiting_since(&self) -> Option<u64> {
        let first = |queue: &[Queued]| queue.first().map(|request| request.accepted);
        match (first(&self.reads), first(&self.writes)) {
            (Some(read), Some(write)) => Some(read.min(write)),
            (read, write) => read.or(write),
        }
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
        let Controller {
            reads,
            writes,
            oldest,
            hit_waits,
            rows,
            last_bank,
            ..
        } = self;
        let queue = if write { writes } else { reads };
        if queue.is_empty() {
            return Choice::Idle;
        }
        // One pass for each bank's oldest request and whether a request hits its open row.
        rows.clear();
        rows.extend(queue.iter().map(&open));
        for (index, (request, row)) in queue.iter().zip(rows.iter()).enumerate() {
            let bank = usize::from(request.bank);
            if oldest[bank] == usize::MAX {
                oldest[bank] = index;
            }
            hit_waits[bank] |= row.hit;
        }
        // A hit may always go; a miss as its bank's oldest request, once no request hits
        // the bank's open row or that row has served the cap.
        let eligible = |index: usize, request: &Queued, row: &OpenRow| {
            let bank = usize::from(request.bank);
            row.hit
                || (oldest[bank] == index && (!hit_waits[bank] || row.served >= policy.row_hit_cap))
        };
        // Banks in turn after the last served; within a bank the oldest ready (met first).
        let turn = |request: &Queued| {
            (usize::from(request.bank) + policy.banks - *last_bank - 1) % policy.banks
        };
        let mut pick: Option<(usize, usize)> = None;
        let mut first_ready = u64::MAX;
        for (index, (request, row)) in queue.iter().zip(rows.iter()).enumerate() {
            if !eligible(index, request, row) {
                continue;
            }
            let ready = earliest(request, write);
            if ready > now {
                first_ready = first_ready.min(ready);
            } else if pick.is_none_or(|(best, _)| turn(request) < best) {
                pick = Some((turn(request), index));
            }
        }
        for request in queue.iter() {
            oldest[usize::from(request.bank)] = usize::MAX;
            hit_waits[usize::from(request.bank)] = false;
        }
        match pick {
            Some((_, index)) => {
                *last_bank = usize::from(queue[index].bank);
                Choice::Serve {
                    index,
                    request: queue[index],
                    write,
                }
            }
            None => Choice::Wait(first_ready),
        }
    }

    /// The request served at `index` of its queue has `left` of it (its next column), or is
    /// done.
    pub fn served(&mut self, write: bool, index: usize, left: Option<Queued>) {
        let queue = if write {
            &mut self.writes
        } else {
            &mut self.reads
        };
        match left {
            Some(request) => queue[index] = request,
            None => {
                queue.remove(index);
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
        if let Choice::Serve { index, write, .. } = choice {
            controller.served(write, index, None);
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
            let mut banks: Banks = [(None, 0); 4];
            let mut waiting = arrivals.iter().enumerate().peekable();
            let mut served = vec![0u32; arrivals.len()];
            let mut last_bank = 0;
            let mut now = 0;
            while waiting.peek().is_some() || !controller.reads.is_empty() || !controller.writes.is_empty() {
                while let Some(&(index, &(bank, row, columns, write))) = waiting.peek() {
                    if !controller.has_room(write) {
                        break;
                    }
                    let request = Queued { accepted: now, columns, ..request(index as u32, bank, row) };
                    controller.accept(&[request], write);
                    waiting.next();
                }
                let (reads, writes) = (controller.reads.clone(), controller.writes.clone());
                let state = (controller.draining, last_bank);
                let (want_drain, want) = reference((&reads, &writes), state, now, &banks, &cost);
                let choice = controller.choose(now, open(&banks), earliest(&banks, &cost));
                prop_assert_eq!(controller.draining, want_drain);
                match choice {
                    Choice::Serve { index, request, write } => {
                        prop_assert_eq!(write, want_drain);
                        let queue = if write { &writes } else { &reads };
                        prop_assert_eq!(Some(index), want);
                        prop_assert_eq!(queue[index], request);
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
                        controller.served(write, index, left);
                        if left.is_none() {
                            controller.release(write);
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
