//! One HBM2 pseudo-channel at bank level, in DRAM clock cycles (nCK).
//!
//! Banks keep their row open after an access (open-page policy). A column access (32 B on
//! the U280) to bank (g, b), row r:
//! - row open: a read or write command at once;
//! - bank closed: ACTIVATE, then the column command `tRCD` later;
//! - another row open: PRECHARGE (not before `tRAS` after its ACTIVATE, `tRTP` after its last
//!   read, `tWR` after its last write data), ACTIVATE `tRP` later, then the column.
//!
//! ACTIVATEs keep `tRRD_S` apart (`tRRD_L` in one bank group), at most four in any `tFAW`,
//! and one bank's `tRC` apart. Column commands keep `tCCD_S` apart (`tCCD_L` in one bank
//! group); read data occupies the bus `CL` after its command, write data `CWL` after, for
//! `burst_cycles`, and the bus carries one access at a time; a read waits `tWTR_S`/`tWTR_L`
//! after write data, a write `tRTW` after a read command. Every `tREFI` an all-bank refresh
//! closes every row and blocks the channel for `tRFC` (after the precharges it needs). Row
//! and column commands have separate buses in HBM, so commands never wait for a command
//! slot. ACTIVATEs are issued as soon as their request has arrived (the IP's look-ahead
//! activate), which hides row switches of a sequential stream behind the data of others.
//!
//! Timing: JEDEC HBM2 as public simulators give it (DRAMsim3, gem5, Ramulator), values and
//! choices in the platform file (`[hbm.dram]`).

use super::controller::OpenRow;
use crate::config::dram::{AddressMapping, DramTiming};

/// A bank's row buffer and the earliest cycles it takes each command.
#[derive(Debug, Clone, Copy)]
struct Bank {
    open_row: Option<u64>,
    /// Column accesses the open row has served since its ACTIVATE.
    served: u32,
    activate_ready: u64,
    column_ready: u64,
    precharge_ready: u64,
}

/// Where a column access lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub bank_group: u64,
    /// Bank within its group.
    pub bank: u64,
    pub row: u64,
}

impl Location {
    /// The bank's index in its channel: bank groups in order, banks within.
    pub fn bank_index(&self, timing: &DramTiming) -> usize {
        (self.bank_group * timing.banks_per_group + self.bank) as usize
    }

    /// Decodes a byte address of the pseudo-channel under the timing's address mapping.
    pub fn decode(timing: &DramTiming, address: u64) -> Location {
        let columns_per_row = timing.row_bytes / timing.column_bytes;
        let mut rest = address / timing.column_bytes;
        let mut take = |count: u64| {
            let field = rest % count;
            rest /= count;
            field
        };
        match timing.mapping {
            AddressMapping::RowBankgroupBankColumnBankgroup => {
                let low_groups = timing.bank_groups.min(2);
                let bank_group_low = take(low_groups);
                take(columns_per_row);
                let bank = take(timing.banks_per_group);
                let bank_group_high = take(timing.bank_groups / low_groups);
                Location {
                    bank_group: bank_group_high * low_groups + bank_group_low,
                    bank,
                    row: take(timing.rows),
                }
            }
            AddressMapping::RowBankColumn => {
                take(columns_per_row);
                let bank_group = take(timing.bank_groups);
                let bank = take(timing.banks_per_group);
                Location {
                    bank_group,
                    bank,
                    row: take(timing.rows),
                }
            }
        }
    }
}

/// What the channel's data bus did, in DRAM cycles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BusCycles {
    /// Carrying data.
    pub data: u64,
    /// Idle with an access waiting on bank timing (activate, precharge, tCCD_L, turnaround)
    /// or on the controller's request rate.
    pub overhead: u64,
    /// Idle with an access waiting for a refresh.
    pub refresh: u64,
}

/// One pseudo-channel's banks and the history its timing rules look back on.
#[derive(Debug, Clone)]
pub struct DramChannel {
    banks: Vec<Bank>,
    /// Last column command on the channel and per bank group.
    last_column: Option<u64>,
    last_column_in_group: Vec<Option<u64>>,
    /// Last ACTIVATE on the channel and per bank group, and the last four (oldest first).
    last_activate: Option<u64>,
    last_activate_in_group: Vec<Option<u64>>,
    recent_activates: [Option<u64>; 4],
    last_read_command: Option<u64>,
    /// End of the last write data on the channel and per bank group.
    last_write_end: Option<u64>,
    last_write_end_in_group: Vec<Option<u64>>,
    /// The data bus is free from this cycle.
    bus_free: u64,
    /// The next refresh falls due at this cycle; none may start before `blocked_until`.
    next_refresh: u64,
    blocked_until: u64,
    pub bus: BusCycles,
}

/// The earliest ACTIVATE and column command the channel's history allows in one bank
/// group, for one direction, whatever the bank.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupBounds {
    activate: u64,
    column: u64,
}

/// The commands one column access needs, at the cycles they issue.
struct Plan {
    precharge: Option<u64>,
    activate: Option<u64>,
    column: u64,
}

impl Plan {
    fn first_command(&self) -> u64 {
        self.precharge.or(self.activate).unwrap_or(self.column)
    }
}

fn after(last: Option<u64>, gap: u64) -> u64 {
    last.map_or(0, |cycle| cycle + gap)
}

impl DramChannel {
    /// A channel with every bank closed; the first refresh falls due at `tREFI`.
    pub fn new(timing: &DramTiming) -> Self {
        let groups = timing.bank_groups as usize;
        DramChannel {
            banks: vec![
                Bank {
                    open_row: None,
                    served: 0,
                    activate_ready: 0,
                    column_ready: 0,
                    precharge_ready: 0,
                };
                timing.banks() as usize
            ],
            last_column: None,
            last_column_in_group: vec![None; groups],
            last_activate: None,
            last_activate_in_group: vec![None; groups],
            recent_activates: [None; 4],
            last_read_command: None,
            last_write_end: None,
            last_write_end_in_group: vec![None; groups],
            bus_free: 0,
            next_refresh: timing.trefi,
            blocked_until: 0,
            bus: BusCycles::default(),
        }
    }

    /// The data bus is free from this cycle.
    pub fn bus_free(&self) -> u64 {
        self.bus_free
    }

    /// The open row of bank `bank` (numbered as [`Location::bank_index`]) as the
    /// controller weighs it for an access at `at`.
    pub fn open_row(&self, bank: usize, at: &Location) -> OpenRow {
        let bank = &self.banks[bank];
        OpenRow {
            hit: bank.open_row == Some(at.row),
            served: bank.served,
        }
    }

    /// What the channel's history imposes on any access of `write`'s direction in bank
    /// group `group`, apart from its own bank: the earliest ACTIVATE and column command.
    pub fn group_bounds(&self, timing: &DramTiming, group: usize, write: bool) -> GroupBounds {
        let activate = self
            .blocked_until
            .max(after(self.last_activate, timing.trrd_s))
            .max(after(self.last_activate_in_group[group], timing.trrd_l))
            .max(after(self.recent_activates[0], timing.tfaw));
        let mut column = self
            .blocked_until
            .max(after(self.last_column, timing.tccd_s))
            .max(after(self.last_column_in_group[group], timing.tccd_l));
        let latency = if write {
            column = column.max(after(self.last_read_command, timing.trtw));
            timing.cwl
        } else {
            column = column
                .max(after(self.last_write_end, timing.twtr_s))
                .max(after(self.last_write_end_in_group[group], timing.twtr_l));
            timing.cl
        };
        // Its data must find the bus free.
        GroupBounds {
            activate,
            column: column.max(self.bus_free.saturating_sub(latency)),
        }
    }

    /// The earliest cycle an access at `at` (in bank `bank`), waiting since `ready`, could
    /// issue its column command (refresh aside), given its group's `bounds`: what the
    /// controller's first-ready choice compares.
    pub fn earliest_column(
        &self,
        timing: &DramTiming,
        bounds: GroupBounds,
        (ready, bank): (u64, usize),
        at: &Location,
    ) -> u64 {
        self.plan_within(timing, bounds, (ready, 0), (bank, at))
            .column
    }

    /// Serves one column access at `at`, waiting in the controller since `ready` (its
    /// ACTIVATE may issue from then: the IP's look-ahead activate) and picked at `now` (its
    /// column command no earlier), while requests have waited since `demand` (the bus idle
    /// after that counts as overhead). Returns the cycle of its column command and the cycle
    /// its data leaves (read) or enters (write) the DRAM.
    pub fn column(
        &mut self,
        timing: &DramTiming,
        (ready, now, demand): (u64, u64, u64),
        at: Location,
        write: bool,
    ) -> (u64, u64) {
        let latency = if write { timing.cwl } else { timing.cl };
        let earliest_data = (demand + latency).max(self.bus_free);
        let mut refreshed = false;
        let plan = loop {
            let plan = self.plan(timing, (ready, now), at, write);
            if plan.first_command() < self.next_refresh {
                break plan;
            }
            self.refresh(timing, plan.first_command());
            refreshed = true;
        };
        let data_start = plan.column + latency;
        let data_end = data_start + timing.burst_cycles;
        let gap = data_start - earliest_data.min(data_start);
        if refreshed {
            self.bus.refresh += gap;
        } else {
            self.bus.overhead += gap;
        }
        self.bus.data += timing.burst_cycles;
        self.commit(timing, at, &plan, write, data_end);
        (plan.column, data_end)
    }

    /// The cycles the access's commands would issue at, given the history so far.
    /// `ready`: when its row commands may start; `now`: when its column command may.
    fn plan(
        &self,
        timing: &DramTiming,
        (ready, now): (u64, u64),
        at: Location,
        write: bool,
    ) -> Plan {
        let bounds = self.group_bounds(timing, at.bank_group as usize, write);
        self.plan_within(timing, bounds, (ready, now), (at.bank_index(timing), &at))
    }

    /// [`DramChannel::plan`] given the group's bounds.
    fn plan_within(
        &self,
        timing: &DramTiming,
        bounds: GroupBounds,
        (ready, now): (u64, u64),
        (bank, at): (usize, &Location),
    ) -> Plan {
        let bank = &self.banks[bank];
        let ready = ready.max(self.blocked_until);
        let (precharge, activate, column_ready) = match bank.open_row {
            Some(row) if row == at.row => (None, None, bank.column_ready),
            open => {
                let precharge = open.map(|_| ready.max(bank.precharge_ready));
                let activate = ready
                    .max(bank.activate_ready)
                    .max(precharge.map_or(0, |p| p + timing.trp))
                    .max(bounds.activate);
                (precharge, Some(activate), activate + timing.trcd)
            }
        };
        Plan {
            precharge,
            activate,
            column: ready.max(now).max(column_ready).max(bounds.column),
        }
    }

    /// Records the access's commands.
    fn commit(
        &mut self,
        timing: &DramTiming,
        at: Location,
        plan: &Plan,
        write: bool,
        data_end: u64,
    ) {
        let index = at.bank_index(timing);
        let group = at.bank_group as usize;
        let bank = &mut self.banks[index];
        if let Some(activate) = plan.activate {
            bank.open_row = Some(at.row);
            bank.served = 0;
            bank.column_ready = activate + timing.trcd;
            bank.precharge_ready = activate + timing.tras;
            bank.activate_ready = activate + timing.trc;
            self.last_activate = Some(activate);
            self.last_activate_in_group[group] = Some(activate);
            self.recent_activates.rotate_left(1);
            self.recent_activates[3] = Some(activate);
        }
        if write {
            bank.precharge_ready = bank.precharge_ready.max(data_end + timing.twr);
            self.last_write_end = Some(data_end);
            self.last_write_end_in_group[group] = Some(data_end);
        } else {
            bank.precharge_ready = bank.precharge_ready.max(plan.column + timing.trtp);
            self.last_read_command = Some(plan.column);
        }
        bank.served += 1;
        self.last_column = Some(plan.column);
        self.last_column_in_group[group] = Some(plan.column);
        self.bus_free = data_end;
    }

    /// Performs the refreshes due by `cycle`: those that fell in idle time cost nothing but
    /// close the rows; the last one starts when every bank may precharge and the bus is free,
    /// and blocks the channel for `tRP + tRFC`.
    fn refresh(&mut self, timing: &DramTiming, cycle: u64) {
        let due = self.next_refresh + (cycle - self.next_refresh) / timing.trefi * timing.trefi;
        let open_ready = self
            .banks
            .iter()
            .filter(|bank| bank.open_row.is_some())
            .map(|bank| bank.precharge_ready)
            .max();
        let precharged = match open_ready {
            Some(ready) => due.max(ready) + timing.trp,
            None => due,
        };
        let start = precharged.max(self.bus_free);
        let end = start + timing.trfc;
        for bank in &mut self.banks {
            bank.open_row = None;
            bank.activate_ready = bank.activate_ready.max(end);
        }
        self.blocked_until = end;
        self.next_refresh = due + timing.trefi;
    }
}

#[cfg(test)]
mod tests {
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
}
