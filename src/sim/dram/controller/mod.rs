//! A pseudo-channel controller's queues and its choice of the next request (FR-FCFS).
//!
//! Reads and writes wait in queues of their own, each request one AXI burst, shared by every
//! transfer that reaches the channel; a burst waits as one entry per bank its columns land in
//! (the default address map alternates bank groups column by column), each entry's columns
//! served one by one, in order
//! (the HBM IP's reordering controller, PG276, which holds 64 AXI commands of both kinds
//! ahead of a 12-entry command queue; roofsim's two queues and their depths are assumptions
//! in the platform file). The controller serves one queue at a time: reads,
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
//! 4). The cap is what keeps a miss from starving behind a stream of hits. Such a miss's
//! precharge is a command of its own, issued as soon as the bank allows it
//! ([`Controller::closings`]), not with the miss's column command: a request to the closed
//! row that arrives after it misses, as on DRAMsim3.

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
    /// The row open, if any.
    pub row: Option<u64>,
    /// Column accesses the open row has served since it opened.
    pub served: u32,
}

impl OpenRow {
    /// Whether `request`'s next column is in the open row.
    fn hit(&self, request: &Queued) -> bool {
        self.row == Some(request.at.row)
    }
}

/// Where a bank's first request to its open row waits, as last found: still right while
/// the bank's list and its open row are as they were (requests queued behind it change
/// it only when the position is none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FirstHit {
    row: Option<u64>,
    position: Option<usize>,
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

    fn contains(&self, bank: usize) -> bool {
        self.0[bank / 64] & (1 << (bank % 64)) != 0
    }

    /// The banks in both sets.
    fn and(self, other: BankSet) -> BankSet {
        let mut both = self;
        for (bits, other) in both.0.iter_mut().zip(other.0) {
            *bits &= other;
        }
        both
    }

    /// The banks of this set not in `other`.
    fn without(self, other: BankSet) -> BankSet {
        let mut rest = self;
        for (bits, other) in rest.0.iter_mut().zip(other.0) {
            *bits &= !other;
        }
        rest
    }

    /// The set split at `bank`: the banks below it, and those from it on.
    fn split(self, bank: usize) -> (BankSet, BankSet) {
        let mut below = self;
        for (word, bits) in below.0.iter_mut().enumerate() {
            let kept = bank.saturating_sub(word * 64);
            if kept < 64 {
                *bits &= !(u64::MAX << kept);
            }
        }
        (below, self.without(below))
    }
}

impl Iterator for BankSet {
    type Item = usize;

    /// Takes the lowest bank out of the set.
    fn next(&mut self) -> Option<usize> {
        let word = self.0.iter().position(|&bits| bits != 0)?;
        let bits = &mut self.0[word];
        let bank = word * 64 + bits.trailing_zeros() as usize;
        *bits &= *bits - 1;
        Some(bank)
    }
}

/// A bank's candidates as last weighed: its oldest request when it may go as a miss, and
/// its first hit, each with where it waits and the earliest cycle its column could issue.
type Candidates = [Option<(usize, u64)>; 2];

/// A channel's read and write queues, each as one list per bank, oldest first.
#[derive(Debug, Clone)]
pub struct Controller {
    policy: QueuePolicy,
    /// Reads, then writes: per bank, its entries.
    queues: [Vec<Vec<Queued>>; 2],
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
    /// Per queue and bank, its first hit as last found (`None` once its list changed):
    /// each decision weighs every bank, and most banks' lists and rows are as they were
    /// at the last.
    first_hits: [Vec<Option<FirstHit>>; 2],
    /// Per queue, the banks whose oldest request may close their open row, or whose list,
    /// row or row's count of served columns changed since they were last weighed
    /// ([`Controller::closings`]).
    unsettled: [BankSet; 2],
    /// Per queue and bank, its candidates as last weighed, current for the banks in
    /// `current` while the channel has served `weighed_at` columns: between two column
    /// commands only the banks that gained requests or closed their row are weighed again.
    candidates: [Vec<Candidates>; 2],
    current: [BankSet; 2],
    weighed_at: u64,
}

impl Controller {
    /// Empty queues under `policy`.
    pub fn new(policy: QueuePolicy) -> Self {
        let lists = vec![Vec::new(); policy.banks];
        Controller {
            policy,
            queues: [lists.clone(), lists],
            held: [0; 2],
            draining: false,
            last_bank: 0,
            accepted: VecDeque::new(),
            nonempty: [BankSet::default(); 2],
            first_hits: [vec![None; policy.banks], vec![None; policy.banks]],
            unsettled: [BankSet::default(); 2],
            candidates: [vec![[None; 2]; policy.banks], vec![[None; 2]; policy.banks]],
            current: [BankSet::default(); 2],
            weighed_at: 0,
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
            let bank = usize::from(entry.bank);
            let list = &mut self.queues[usize::from(write)][bank];
            list.push(*entry);
            // A request queued last is the first hit only when none was before it.
            if let Some(first) = &mut self.first_hits[usize::from(write)][bank]
                && first.position.is_none()
                && first.row == Some(entry.at.row)
            {
                first.position = Some(list.len() - 1);
            }
            self.nonempty[usize::from(write)].insert(bank);
            self.unsettled[usize::from(write)].insert(bank);
            self.current[usize::from(write)].remove(bank);
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

    /// Whether the queue served now is the write queue (draining between the watermarks),
    /// as [`Controller::choose`] picks it.
    pub fn serves_writes(&mut self) -> bool {
        let policy = self.policy;
        let [reads, writes] = self.held;
        self.draining = if self.draining {
            writes > 0 && (writes > policy.write_low || reads == 0)
        } else {
            writes >= policy.write_high || (reads == 0 && writes > 0)
        };
        self.draining
    }

    /// Lists in `closing`, as (bank, cycle its request was accepted), the banks of the read
    /// (or write) queue whose oldest request misses their open row and may close it (no
    /// waiting request hits the row, or the row has served the cap): the requests whose
    /// precharge the controller issues as soon as the bank allows it, as DRAMsim3's
    /// scheduler does (a precharge is a command of its own, issued when ready), rather than
    /// with their column command. `open(bank)`: the bank's open row.
    ///
    /// Only banks that changed since they were last weighed, or were listed then, are
    /// weighed again: a bank's answer changes only with its list (requests accepted or
    /// served), its row opening or serving a column (a column served, which the
    /// controller is told of) and its row closing (after which it closes nothing).
    pub fn closings(
        &mut self,
        write: bool,
        open: impl Fn(usize) -> OpenRow,
        closing: &mut Vec<(usize, u64)>,
    ) {
        closing.clear();
        let queue = usize::from(write);
        let weighed = self.unsettled[queue].and(self.nonempty[queue]);
        self.unsettled[queue] = weighed;
        for bank in weighed {
            match self
                .closing(write, bank, open(bank))
                .map(|request| request.accepted)
            {
                Some(accepted) => closing.push((bank, accepted)),
                None => self.unsettled[queue].remove(bank),
            }
        }
        if cfg!(debug_assertions) {
            for bank in self.nonempty[queue].without(self.unsettled[queue]) {
                debug_assert!(
                    self.closing(write, bank, open(bank)).is_none(),
                    "bank {bank} left out of the closings"
                );
            }
        }
    }

    /// The oldest request for `bank` in the read (or write) queue, if the bank has a row
    /// `open` and the request misses it and may close it.
    fn closing(&mut self, write: bool, bank: usize, open: OpenRow) -> Option<&Queued> {
        open.row?;
        let first_hit = self.first_hit(write, bank, open);
        let closes =
            first_hit != Some(0) && (first_hit.is_none() || open.served >= self.policy.row_hit_cap);
        self.queues[usize::from(write)][bank]
            .first()
            .filter(|_| closes)
    }

    /// Where the first request of `bank`'s list (in the read or write queue) that hits
    /// its `open` row waits.
    fn first_hit(&mut self, write: bool, bank: usize, open: OpenRow) -> Option<usize> {
        let cached = &mut self.first_hits[usize::from(write)][bank];
        let list = &self.queues[usize::from(write)][bank];
        if let Some(first) = *cached
            && first.row == open.row
        {
            debug_assert_eq!(
                first.position,
                list.iter().position(|request| open.hit(request))
            );
            return first.position;
        }
        let position = list.iter().position(|request| open.hit(request));
        *cached = Some(FirstHit {
            row: open.row,
            position,
        });
        position
    }

    /// Picks what to do at `now`, the channel having served `columns` column accesses so
    /// far (what the earliest cycles of every bank depend on, with each bank's own row).
    /// `open(bank)`: the bank's open row; `earliest(request, write)`: the earliest cycle
    /// its next column command could issue (asked in one direction per call).
    pub fn choose(
        &mut self,
        now: u64,
        columns: u64,
        open: impl Fn(usize) -> OpenRow,
        mut earliest: impl FnMut(&Queued, bool) -> u64,
    ) -> Choice {
        let write = self.serves_writes();
        let queue = usize::from(write);
        if self.held[queue] == 0 {
            return Choice::Idle;
        }
        if columns != self.weighed_at {
            self.current = [BankSet::default(); 2];
            self.weighed_at = columns;
        }
        let mut first_ready = u64::MAX;
        // Banks with entries in turn after the last served; within a bank the oldest ready.
        let (before, after) = self.nonempty[queue].split(self.last_bank + 1);
        for bank in after.chain(before) {
            let candidates = if self.current[queue].contains(bank) {
                let candidates = self.candidates[queue][bank];
                debug_assert_eq!(
                    candidates,
                    self.weigh(write, bank, open(bank), &mut earliest)
                );
                candidates
            } else {
                let candidates = self.weigh(write, bank, open(bank), &mut earliest);
                self.candidates[queue][bank] = candidates;
                self.current[queue].insert(bank);
                candidates
            };
            for (position, ready) in candidates.into_iter().flatten() {
                if ready <= now {
                    self.last_bank = bank;
                    return Choice::Serve {
                        slot: Slot { bank, position },
                        request: self.queues[queue][bank][position],
                        write,
                    };
                }
                first_ready = first_ready.min(ready);
            }
        }
        Choice::Wait(first_ready)
    }

    /// A bank's candidates in the read (or write) queue, its row being `open`. A bank's hits
    /// differ only in when they were queued, so its oldest hit is the first of them ready:
    /// each bank has at most two candidates, its oldest request (a miss, when it may go)
    /// and its oldest hit.
    fn weigh(
        &mut self,
        write: bool,
        bank: usize,
        open: OpenRow,
        earliest: &mut impl FnMut(&Queued, bool) -> u64,
    ) -> Candidates {
        let first_hit = self.first_hit(write, bank, open);
        // A miss may go once no request hits the bank's open row or the row has served
        // the cap.
        let miss = (first_hit != Some(0)
            && (first_hit.is_none() || open.served >= self.policy.row_hit_cap))
            .then_some(0);
        let list = &self.queues[usize::from(write)][bank];
        [miss, first_hit]
            .map(|position| position.map(|position| (position, earliest(&list[position], write))))
    }

    /// Bank `bank` closed its row ahead of a column command: its candidates in both queues
    /// are weighed again.
    pub fn row_closed(&mut self, bank: usize) {
        for current in &mut self.current {
            current.remove(bank);
        }
    }

    /// The request served at `slot` has `left` of it (its next column, in the same bank),
    /// or is done.
    pub fn served(&mut self, write: bool, slot: Slot, left: Option<Queued>) {
        self.first_hits[usize::from(write)][slot.bank] = None;
        self.current[usize::from(write)].remove(slot.bank);
        // The bank's row opened or served a column: both queues weigh it again.
        for unsettled in &mut self.unsettled {
            unsettled.insert(slot.bank);
        }
        let list = &mut self.queues[usize::from(write)][slot.bank];
        match left {
            Some(request) => {
                debug_assert_eq!(usize::from(request.bank), slot.bank);
                list[slot.position] = request;
            }
            None => {
                let removed = list.remove(slot.position);
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
mod tests;
