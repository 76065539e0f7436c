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
//! activate), which hides row switches of a sequential stream behind the data of others;
//! a precharge the controller decides on issues as soon as the bank allows it
//! ([`DramChannel::precharge_by`]).
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
    /// The bank group.
    pub bank_group: u64,
    /// Bank within its group.
    pub bank: u64,
    /// The row.
    pub row: u64,
}

impl Location {
    /// The bank's index in its channel: bank groups in order, banks within.
    pub fn bank_index(&self, timing: &DramTiming) -> usize {
        (self.bank_group * timing.banks_per_group + self.bank) as usize
    }

    /// Decodes a byte address of the pseudo-channel under the timing's address mapping.
    /// Every field's size is a power of two (the platform's validation), so fields are
    /// masks and shifts.
    pub fn decode(timing: &DramTiming, address: u64) -> Location {
        let columns_per_row = timing.row_bytes / timing.column_bytes;
        let mut rest = address >> timing.column_bytes.trailing_zeros();
        let mut take = |count: u64| {
            debug_assert!(count.is_power_of_two());
            let field = rest & (count - 1);
            rest >>= count.trailing_zeros();
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
    /// The earliest next ACTIVATE, tRRD_S after the last one, and tFAW after the fourth
    /// last (0 before any).
    activate_from: u64,
    faw_from: u64,
    /// The last four ACTIVATEs, oldest first.
    recent_activates: [Option<u64>; 4],
    /// The earliest next column command, tCCD_S after the last one.
    column_from: u64,
    /// The earliest write command, tRTW after the last read command.
    write_from: u64,
    /// The earliest read command, tWTR_S after the end of the last write data.
    read_from: u64,
    /// The same rules within each bank group (tRRD_L, tCCD_L, tWTR_L).
    groups: Vec<GroupHistory>,
    /// The data bus is free from this cycle.
    bus_free: u64,
    /// The next refresh falls due at this cycle; none may start before `blocked_until`.
    next_refresh: u64,
    blocked_until: u64,
    /// What its data bus did.
    pub bus: BusCycles,
    /// Column accesses served so far.
    columns_served: u64,
}

/// The earliest ACTIVATE, column command and read command a bank group's own history
/// allows (tRRD_L after its last ACTIVATE, tCCD_L after its last column command, tWTR_L
/// after the end of its last write data; 0 before any): kept as cycles, not as the last
/// commands, so a decision weighs them without working them out again.
#[derive(Debug, Clone, Copy, Default)]
struct GroupHistory {
    activate_from: u64,
    column_from: u64,
    read_from: u64,
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
            activate_from: 0,
            faw_from: 0,
            recent_activates: [None; 4],
            column_from: 0,
            write_from: 0,
            read_from: 0,
            groups: vec![GroupHistory::default(); groups],
            bus_free: 0,
            next_refresh: timing.trefi,
            blocked_until: 0,
            bus: BusCycles::default(),
            columns_served: 0,
        }
    }

    /// Column accesses served so far: every other change of the channel's history (a
    /// refresh, an early precharge) is to one bank's row or comes with a column access.
    pub fn columns_served(&self) -> u64 {
        self.columns_served
    }

    /// The data bus is free from this cycle.
    pub fn bus_free(&self) -> u64 {
        self.bus_free
    }

    /// The open row of bank `bank` (numbered as [`Location::bank_index`]) as the
    /// controller weighs it.
    pub fn open_row(&self, bank: usize) -> OpenRow {
        let bank = &self.banks[bank];
        OpenRow {
            row: bank.open_row,
            served: bank.served,
        }
    }

    /// What the channel's history imposes on any access of `write`'s direction in bank
    /// group `group`, apart from its own bank: the earliest ACTIVATE and column command.
    pub fn group_bounds(&self, timing: &DramTiming, group: usize, write: bool) -> GroupBounds {
        let history = &self.groups[group];
        let activate = self
            .blocked_until
            .max(self.activate_from)
            .max(history.activate_from)
            .max(self.faw_from);
        let mut column = self
            .blocked_until
            .max(self.column_from)
            .max(history.column_from);
        let latency = if write {
            column = column.max(self.write_from);
            timing.cwl
        } else {
            column = column.max(self.read_from).max(history.read_from);
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

    /// Precharges the bank of an access at `at` (in bank `bank`, waiting since `ready`) whose
    /// row is not open, if the bank allows it by `now` (and no refresh falls due first):
    /// later requests to the row it closes then miss, as they do on a controller that
    /// precharges as soon as it may. Returns whether it closed the row.
    pub fn precharge_by(
        &mut self,
        timing: &DramTiming,
        (ready, bank): (u64, usize),
        now: u64,
    ) -> bool {
        let bank = &mut self.banks[bank];
        if bank.open_row.is_none() {
            return false;
        }
        let precharge = ready.max(bank.precharge_ready).max(self.blocked_until);
        let closes = precharge <= now && precharge < self.next_refresh;
        if closes {
            bank.open_row = None;
            bank.served = 0;
            bank.activate_ready = bank.activate_ready.max(precharge + timing.trp);
        }
        closes
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
        self.columns_served += 1;
        let index = at.bank_index(timing);
        let group = at.bank_group as usize;
        let bank = &mut self.banks[index];
        if let Some(activate) = plan.activate {
            bank.open_row = Some(at.row);
            bank.served = 0;
            bank.column_ready = activate + timing.trcd;
            bank.precharge_ready = activate + timing.tras;
            bank.activate_ready = activate + timing.trc;
            self.activate_from = activate + timing.trrd_s;
            self.groups[group].activate_from = activate + timing.trrd_l;
            self.recent_activates.rotate_left(1);
            self.recent_activates[3] = Some(activate);
            self.faw_from = self.recent_activates[0].map_or(0, |oldest| oldest + timing.tfaw);
        }
        if write {
            bank.precharge_ready = bank.precharge_ready.max(data_end + timing.twr);
            self.read_from = data_end + timing.twtr_s;
            self.groups[group].read_from = data_end + timing.twtr_l;
        } else {
            bank.precharge_ready = bank.precharge_ready.max(plan.column + timing.trtp);
            self.write_from = plan.column + timing.trtw;
        }
        bank.served += 1;
        self.column_from = plan.column + timing.tccd_s;
        self.groups[group].column_from = plan.column + timing.tccd_l;
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
mod tests;
