//! The controller's choices against hand-worked cases and a plain reference scheduler.

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

fn open(banks: &Banks) -> impl Fn(usize) -> OpenRow + '_ {
    move |bank| {
        let (row, served) = banks[bank];
        OpenRow { row, served }
    }
}

/// The banks' state as a hash that changes whenever a bank's row or count does (what the
/// controller keeps its weighing for; on the channel, its count of columns served).
fn state(banks: &Banks) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    banks.hash(&mut hasher);
    hasher.finish()
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
    let choice = controller.choose(now, state(banks), open(banks), earliest(banks, cost));
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

/// The bank set walks its banks in order across its 64-bank words, and splits at any
/// bank into those below and those from it on.
#[test]
fn the_bank_set_walks_and_splits_across_words() {
    let mut set = BankSet::default();
    for bank in [3, 63, 64, 200, 255] {
        set.insert(bank);
    }
    assert_eq!(set.collect::<Vec<_>>(), vec![3, 63, 64, 200, 255]);
    let (below, from) = set.split(65);
    assert_eq!(below.collect::<Vec<_>>(), vec![3, 63, 64]);
    assert_eq!(from.collect::<Vec<_>>(), vec![200, 255]);
    assert_eq!(set.split(64).1.collect::<Vec<_>>(), vec![64, 200, 255]);
    assert_eq!(set.split(0), (BankSet::default(), set));
    assert_eq!(set.split(256), (set, BankSet::default()));
    set.remove(200);
    assert_eq!(set.split(65).1.collect::<Vec<_>>(), vec![255]);
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
        controller.choose(5, state(&below), open(&below), earliest),
        Choice::Wait(20)
    );
    let at_cap = [
        (Some(0), POLICY.row_hit_cap),
        (None, 0),
        (None, 0),
        (None, 0),
    ];
    assert_eq!(
        served(controller.choose(5, state(&at_cap), open(&at_cap), earliest)),
        0
    );
}

/// The requests whose precharge may issue ahead of their column: the oldest of its
/// bank, missing its open row, once no waiting request hits that row or the row has
/// served the cap; never a younger request of the bank, nor one of the queue not served,
/// nor one whose bank has no row open. A bank is weighed again once a column of it is
/// served (its row's count moved), and listed again while its precharge waits.
#[test]
fn a_bank_closes_for_its_oldest_miss_once_no_hit_waits() {
    let mut controller = Controller::new(POLICY);
    for (burst, bank, row, columns) in [(0, 0, 1, 1), (1, 0, 0, 4), (2, 1, 7, 1), (3, 1, 8, 1)] {
        let entry = Queued {
            accepted: u64::from(burst) * 10,
            columns,
            ..request(burst, bank, row)
        };
        controller.accept(&[entry], false);
    }
    let mut listed = Vec::new();
    let mut closings = |controller: &mut Controller, banks: &Banks, write: bool| {
        controller.closings(write, open(banks), &mut listed);
        listed.clone()
    };
    let mut banks = [(Some(0), 0), (Some(5), 0), (None, 0), (None, 0)];
    assert_eq!(closings(&mut controller, &banks, false), vec![(1, 20)]);
    assert_eq!(closings(&mut controller, &banks, true), vec![]);
    assert_eq!(closings(&mut controller, &banks, false), vec![(1, 20)]);
    // A column of bank 0's hit is served and its row reaches the cap: its miss may close
    // the row under the hit still waiting.
    let slot = Slot {
        bank: 0,
        position: 1,
    };
    let hit = controller.queues[0][0][1];
    let left = Queued { columns: 3, ..hit };
    controller.served(false, slot, Some(left));
    banks[0].1 = POLICY.row_hit_cap;
    assert_eq!(
        closings(&mut controller, &banks, false),
        vec![(0, 0), (1, 20)]
    );
    // Bank 1's row closed: nothing left to close there.
    banks[1] = (None, 0);
    assert_eq!(closings(&mut controller, &banks, false), vec![(0, 0)]);
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
        controller.choose(5, state(&banks), open(&banks), earliest),
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

/// The plain reference for the early precharges: every bank, in order, whose row is open
/// and whose oldest request in `queue` misses it while no request of the bank hits it or
/// the row has served the cap.
fn reference_closings(queue: &[Queued], banks: &Banks) -> Vec<(usize, u64)> {
    (0..banks.len())
        .filter_map(|bank| {
            let (row, served) = banks[bank];
            let mine = || queue.iter().filter(|r| r.at.bank as usize == bank);
            let oldest = mine().next()?;
            let hit = |r: &Queued| row == Some(r.at.row);
            let closes =
                row.is_some() && !hit(oldest) && (!mine().any(hit) || served >= POLICY.row_hit_cap);
            closes.then_some((bank, oldest.accepted))
        })
        .collect()
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
            let queued: usize = controller.queues.iter().flatten().map(Vec::len).sum();
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
                let in_set: Vec<usize> = controller.nonempty[usize::from(write)].collect();
                prop_assert_eq!(in_set, with_entries);
            }
        }
    }

    /// Against the reference, choice by choice over random arrivals of one to three
    /// columns, spread in time, and random bank costs: the same choice every time, the same
    /// early precharges in both queues, and every column served exactly once. No hit streak
    /// passes the cap while a miss to its bank is next in line: a miss waits for at most
    /// `row_hit_cap` hits of the row it closes.
    #[test]
    fn agrees_with_the_reference_scheduler(
        // (bank, row, columns, write, gap after the previous arrival)
        arrivals in prop::collection::vec(
            (0u64..4, 0u64..3, 1u32..4, any::<bool>(), 0u64..8),
            1..60,
        ),
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
        let mut closing = Vec::new();
        // Each request arrives its gap after the one before.
        let arrival: Vec<u64> = arrivals
            .iter()
            .scan(0, |time, a| {
                *time += a.4;
                Some(*time)
            })
            .collect();
        while waiting.peek().is_some() || shadow.iter().any(|queue| !queue.is_empty()) {
            while let Some(&(index, &(bank, row, columns, write, _))) = waiting.peek() {
                if arrival[index] > now || !controller.has_room(write) {
                    break;
                }
                let request = Queued { accepted: now, columns, ..request(index as u32, bank, row) };
                controller.accept(&[request], write);
                shadow[usize::from(write)].push(request);
                waiting.next();
            }
            for write in [false, true] {
                controller.closings(write, open(&banks), &mut closing);
                prop_assert_eq!(&closing, &reference_closings(&shadow[usize::from(write)], &banks));
            }
            let [reads, writes] = &shadow;
            let (want_drain, want) = reference((reads, writes), (draining, last_bank), now, &banks, &cost);
            draining = want_drain;
            match controller.choose(now, state(&banks), open(&banks), earliest(&banks, &cost)) {
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
                    let next = waiting.peek().map(|&(index, _)| arrival[index]);
                    now = next.filter(|&next| next > now).map_or(at, |next| next.min(at));
                }
                Choice::Idle => {
                    prop_assert!(reads.is_empty() && writes.is_empty());
                    now = arrival[waiting.peek().expect("a request still to arrive").0];
                }
            }
        }
        let columns: Vec<u32> = arrivals.iter().map(|a| a.2).collect();
        prop_assert_eq!(served, columns);
    }
}
