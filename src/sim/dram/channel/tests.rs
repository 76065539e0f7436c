//! The bank timing rules, one access pattern each.

use super::*;
use crate::config::platform::default_platform;

/// Serves a request's columns in order, each picked as soon as it arrives at `at`;
/// returns the end of its last data.
fn request(
    channel: &mut DramChannel,
    t: &DramTiming,
    at: u64,
    address: u64,
    bytes: u64,
    write: bool,
) -> u64 {
    let columns = address / t.column_bytes..=(address + bytes - 1) / t.column_bytes;
    columns
        .map(|column| {
            let location = Location::decode(t, column * t.column_bytes);
            channel.column(t, (at, at, at), location, write).1
        })
        .last()
        .expect("at least one column")
}

fn timing() -> DramTiming {
    default_platform()
        .hbm
        .dram
        .expect("the U280 has a bank-level model")
}

/// The byte address of column `column` of `row` in bank group `group`, bank `bank`
/// under the default mapping (inverse of `Location::decode`).
fn address(group: u64, bank: u64, row: u64, column: u64) -> u64 {
    let t = timing();
    let columns = t.row_bytes / t.column_bytes;
    let index =
        (((row * 2 + group / 2) * t.banks_per_group + bank) * columns + column) * 2 + group % 2;
    index * t.column_bytes
}

#[test]
fn the_default_mapping_alternates_bank_groups_then_walks_columns_banks_and_rows() {
    let t = timing();
    let at = |address| Location::decode(&t, address);
    assert_eq!(
        at(0),
        Location {
            bank_group: 0,
            bank: 0,
            row: 0
        }
    );
    assert_eq!(
        at(32),
        Location {
            bank_group: 1,
            bank: 0,
            row: 0
        }
    );
    assert_eq!(
        at(64),
        Location {
            bank_group: 0,
            bank: 0,
            row: 0
        }
    );
    assert_eq!(
        at(2048),
        Location {
            bank_group: 0,
            bank: 1,
            row: 0
        }
    );
    assert_eq!(
        at(8192),
        Location {
            bank_group: 2,
            bank: 0,
            row: 0
        }
    );
    assert_eq!(
        at(16384),
        Location {
            bank_group: 0,
            bank: 0,
            row: 1
        }
    );
    for (g, b, r, c) in [(3, 2, 77, 31), (1, 3, 16383, 0), (2, 1, 5, 9)] {
        assert_eq!(
            at(address(g, b, r, c)),
            Location {
                bank_group: g,
                bank: b,
                row: r
            }
        );
    }
    let rbc = DramTiming {
        mapping: AddressMapping::RowBankColumn,
        ..t
    };
    assert_eq!(
        Location::decode(&rbc, 32),
        Location {
            bank_group: 0,
            bank: 0,
            row: 0
        }
    );
    assert_eq!(
        Location::decode(&rbc, 1024),
        Location {
            bank_group: 1,
            bank: 0,
            row: 0
        }
    );
    assert_eq!(
        Location::decode(&rbc, 16384),
        Location {
            bank_group: 0,
            bank: 0,
            row: 1
        }
    );
}

/// Two reads of one open row in one bank group are `tCCD_L` apart. A 512 B read of
/// open rows under the default mapping alternates bank groups, so its 16 columns keep
/// the bus full; under row-bank-column they stay in one group, `tCCD_L` apart.
#[test]
fn column_commands_in_one_bank_group_keep_tccd_l_apart() {
    let t = timing();
    let mut channel = DramChannel::new(&t);
    let first = request(&mut channel, &t, 0, address(0, 0, 0, 0), 32, false);
    let same_group = request(&mut channel, &t, 0, address(0, 0, 0, 1), 32, false);
    assert_eq!(same_group - first, t.tccd_l);

    let columns = 512 / t.column_bytes;
    for (mapping, spacing) in [
        (
            AddressMapping::RowBankgroupBankColumnBankgroup,
            t.burst_cycles,
        ),
        (AddressMapping::RowBankColumn, t.tccd_l),
    ] {
        let t = DramTiming { mapping, ..t };
        let mut channel = DramChannel::new(&t);
        request(&mut channel, &t, 0, 0, 512, false);
        let idle = 1000;
        let end = request(&mut channel, &t, idle, 0, 512, false);
        assert_eq!(
            end - idle,
            t.cl + (columns - 1) * spacing + t.burst_cycles,
            "{mapping:?}"
        );
    }
}

/// An idle read: closed page tRCD + CL + burst; open row CL + burst; another row open
/// tRP more than closed.
#[test]
fn idle_reads_pay_activate_and_precharge_by_page_state() {
    let t = timing();
    let mut channel = DramChannel::new(&t);
    let closed = request(&mut channel, &t, 0, address(0, 0, 5, 0), 32, false);
    assert_eq!(closed, t.trcd + t.cl + t.burst_cycles);
    let idle = 1000;
    let hit = request(&mut channel, &t, idle, address(0, 0, 5, 3), 32, false) - idle;
    assert_eq!(hit, t.cl + t.burst_cycles);
    let miss = request(&mut channel, &t, 2 * idle, address(0, 0, 6, 0), 32, false) - 2 * idle;
    assert_eq!(miss, t.trp + t.trcd + t.cl + t.burst_cycles);
}

/// Two rows of one bank back to back: the second ACTIVATE waits for tRC after the
/// first (tRAS + tRP is shorter), so the second read ends tRC after the first's data
/// would have been at the earliest.
#[test]
fn a_row_miss_in_the_same_bank_waits_for_trc() {
    let t = timing();
    let t = DramTiming {
        trc: t.tras + t.trp + 10,
        ..t
    };
    let mut channel = DramChannel::new(&t);
    let first = request(&mut channel, &t, 0, address(0, 0, 0, 0), 32, false);
    let second = request(&mut channel, &t, 0, address(0, 0, 1, 0), 32, false);
    assert_eq!(first, t.trcd + t.cl + t.burst_cycles);
    assert_eq!(second, t.trc + t.trcd + t.cl + t.burst_cycles);
}

/// Five ACTIVATEs to five banks at once: the first four keep tRRD apart, the fifth waits
/// for tFAW after the first.
#[test]
fn the_fifth_activate_waits_for_tfaw() {
    let t = timing();
    let mut channel = DramChannel::new(&t);
    // Banks in distinct bank groups, then a fifth in group 0 again.
    let banks = [(0, 0), (1, 0), (2, 0), (3, 0), (0, 1)];
    for &(group, bank) in &banks {
        request(&mut channel, &t, 0, address(group, bank, 0, 0), 32, false);
    }
    let activates = channel.recent_activates.map(Option::unwrap);
    assert_eq!(activates[1] - activates[0], t.trrd_s);
    assert!(activates[3] >= t.tfaw, "{activates:?}");
    assert_eq!(activates[3], t.tfaw.max(activates[2] + t.trrd_s));
}

/// Two ACTIVATEs in one bank group keep tRRD_L apart, in two groups tRRD_S (made far
/// apart here, so neither hides a dropped rule).
#[test]
fn activates_in_one_bank_group_keep_trrd_l_apart() {
    let t = DramTiming {
        trrd_s: 7,
        trrd_l: 23,
        ..timing()
    };
    for (second, spacing) in [((0, 1), t.trrd_l), ((1, 0), t.trrd_s)] {
        let mut channel = DramChannel::new(&t);
        request(&mut channel, &t, 0, address(0, 0, 0, 0), 32, false);
        request(
            &mut channel,
            &t,
            0,
            address(second.0, second.1, 0, 0),
            32,
            false,
        );
        // The window keeps the latest four, newest last.
        let activates = channel.recent_activates;
        assert_eq!(
            activates[3].unwrap() - activates[2].unwrap(),
            spacing,
            "second ACTIVATE in group {}",
            second.0
        );
    }
}

/// A request arriving when a refresh is due waits for it: all rows close and the channel
/// is blocked tRFC; the access then activates its row again.
#[test]
fn a_refresh_blocks_the_channel_and_closes_rows() {
    let t = timing();
    let mut channel = DramChannel::new(&t);
    request(&mut channel, &t, 0, address(0, 0, 0, 0), 32, false);
    let at = t.trefi;
    let end = request(&mut channel, &t, at, address(0, 0, 0, 1), 32, false);
    // Row 0 was open: refresh precharges it (tRP), refreshes (tRFC), then tRCD + CL.
    assert_eq!(end, at + t.trp + t.trfc + t.trcd + t.cl + t.burst_cycles);
    assert_eq!(channel.bus.refresh, end - t.burst_cycles - (at + t.cl));
    // Nine refresh intervals of idling later, the one refresh due blocks nothing it
    // cannot (it fell before the request), and the row is closed.
    let later = 10 * t.trefi + t.trfc + t.trp + 1;
    let end = request(&mut channel, &t, later, address(0, 0, 0, 1), 32, false);
    assert_eq!(end - later, t.trcd + t.cl + t.burst_cycles);
}

/// A write then a read: the read waits tWTR_L after the write's data in its bank group;
/// a read then a write: the write waits tRTW after the read command.
#[test]
fn reads_and_writes_turn_the_bus_around() {
    let t = timing();
    let mut channel = DramChannel::new(&t);
    let write_end = request(&mut channel, &t, 0, address(0, 0, 0, 0), 32, true);
    let read_end = request(&mut channel, &t, 0, address(0, 0, 0, 1), 32, false);
    assert_eq!(read_end, write_end + t.twtr_l + t.cl + t.burst_cycles);
    let mut channel = DramChannel::new(&t);
    let read_end = request(&mut channel, &t, 0, address(0, 0, 0, 0), 32, false);
    let read_command = read_end - t.cl - t.burst_cycles;
    let write_end = request(&mut channel, &t, 0, address(0, 0, 0, 1), 32, true);
    assert_eq!(write_end, read_command + t.trtw + t.cwl + t.burst_cycles);
}

/// A read waits tWTR_L after write data in its own bank group, tWTR_S after write data in
/// another (made far apart here, so neither hides a dropped rule).
#[test]
fn a_read_waits_twtr_l_after_writes_in_its_bank_group_and_twtr_s_in_another() {
    let t = DramTiming {
        twtr_s: 7,
        twtr_l: 23,
        ..timing()
    };
    for (group, turnaround) in [(0, t.twtr_l), (1, t.twtr_s)] {
        let mut channel = DramChannel::new(&t);
        // Both rows opened long before.
        request(&mut channel, &t, 0, address(0, 0, 0, 0), 32, false);
        request(&mut channel, &t, 0, address(1, 0, 0, 0), 32, false);
        let idle = 1000;
        let write_end = request(&mut channel, &t, idle, address(0, 0, 0, 1), 32, true);
        let read_end = request(&mut channel, &t, idle, address(group, 0, 0, 1), 32, false);
        assert_eq!(
            read_end,
            write_end + turnaround + t.cl + t.burst_cycles,
            "read in bank group {group}"
        );
    }
}

/// A precharge issued ahead of its miss's column command: not before the bank allows it
/// (tRTP after the open row's last read), nor past the decision's cycle; once issued, the
/// closed row's next access pays an ACTIVATE (not a hit), and the miss's ACTIVATE waits tRP.
#[test]
fn an_early_precharge_closes_the_row_once_the_bank_allows_it() {
    let t = timing();
    let mut channel = DramChannel::new(&t);
    let open = address(0, 0, 0, 0);
    let read_end = request(&mut channel, &t, 0, open, 32, false);
    let read_command = read_end - t.cl - t.burst_cycles;
    let bank = Location::decode(&t, open).bank_index(&t);
    let row_zero = Location::decode(&t, address(0, 0, 0, 1));
    let allowed = (read_command + t.trtp).max(t.tras);
    assert!(!channel.precharge_by(&t, (0, bank), allowed - 1));
    assert!(
        channel.open_row(bank).row == Some(row_zero.row),
        "precharged before the bank allows it"
    );
    assert!(!channel.precharge_by(&t, (allowed + 5, bank), allowed + 4));
    assert!(
        channel.open_row(bank).row == Some(row_zero.row),
        "precharged before its miss arrived"
    );
    assert!(channel.precharge_by(&t, (0, bank), allowed));
    assert_ne!(channel.open_row(bank).row, Some(row_zero.row));
    assert!(
        !channel.precharge_by(&t, (0, bank), allowed),
        "no row left to close"
    );
    let late = allowed + 100;
    let end = request(&mut channel, &t, late, address(0, 0, 0, 1), 32, false);
    assert_eq!(end, late + t.trcd + t.cl + t.burst_cycles);
    let mut channel = DramChannel::new(&t);
    request(&mut channel, &t, 0, open, 32, false);
    assert!(channel.precharge_by(&t, (0, bank), allowed));
    let miss = Location::decode(&t, address(0, 0, 1, 0));
    let bounds = channel.group_bounds(&t, 0, false);
    let column = channel.earliest_column(&t, bounds, (allowed, bank), &miss);
    assert_eq!(column, allowed + t.trp + t.trcd);
}
