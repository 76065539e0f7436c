//! A pseudo-channel at work: its controller admits the requests that have arrived, picks
//! the next column access ([`super::controller`]), the banks serve it ([`super::channel`]),
//! and a read's data beat goes back to its port.

use super::channel::{BusCycles, Location};
use super::controller::{Choice, Queued};
use super::{AXI_BEAT_BYTES, Actor, Burst, Dram, DramStats};
use crate::config::dram::MAX_BANK_GROUPS;
use std::cmp::Reverse;

impl Dram {
    /// Channel `index` at `now`: closes the rows its controller's misses may close, admits
    /// the requests that have arrived while its queues have room, then serves the one its
    /// controller picks.
    pub(super) fn decide_channel(&mut self, index: usize, now: u64, done: &mut Vec<(u32, u64)>) {
        // Precharges that became due since the last decision, before the requests that
        // arrived since see the banks.
        let channel = &mut self.channels[index];
        let write = channel.controller.serves_writes();
        let dram = &channel.dram;
        channel
            .controller
            .closings(write, |bank| dram.open_row(bank), &mut self.closing);
        for &(bank, accepted) in &self.closing {
            if channel
                .dram
                .precharge_by(&self.timing, (accepted, bank), now)
            {
                channel.controller.row_closed(bank);
            }
        }
        for write in [false, true] {
            while self.admit(index, write, now, done) {}
        }
        let channel = &mut self.channels[index];
        let (dram, timing) = (&channel.dram, &self.timing);
        // Each group's bounds (for the one direction a decision serves), worked out once
        // per decision when first needed.
        let mut bounds = [None; MAX_BANK_GROUPS as usize];
        let choice = channel.controller.choose(
            now,
            dram.columns_served(),
            |bank| dram.open_row(bank),
            |request, write| {
                let group = request.at.bank_group as usize;
                let bound =
                    *bounds[group].get_or_insert_with(|| dram.group_bounds(timing, group, write));
                let bank = usize::from(request.bank);
                dram.earliest_column(timing, bound, (request.accepted, bank), &request.at)
            },
        );
        // When the next request could enter a queue with room (not before the controller
        // takes one).
        let next_arrival = [false, true]
            .into_iter()
            .filter(|&write| channel.controller.has_room(write))
            .filter_map(|write| {
                let arriving = channel.arriving[usize::from(write)].peek();
                arriving.map(|&Reverse((arrival, _))| channel.accepts_at(arrival).max(now + 1))
            })
            .min();
        let actor = Actor::Channel(index as u32);
        match choice {
            Choice::Serve {
                slot,
                request,
                write,
            } => {
                let column = self.serve(index, request, write, now, done);
                let left = (request.columns > 1).then(|| {
                    let address = request.address + u64::from(request.stride);
                    let at = Location::decode(&self.timing, address);
                    Queued {
                        at,
                        bank: at.bank_index(&self.timing) as u16,
                        address,
                        columns: request.columns - 1,
                        ..request
                    }
                });
                self.channels[index].controller.served(write, slot, left);
                // No column command can follow sooner.
                self.agenda.schedule(actor, column + self.timing.tccd_s);
            }
            Choice::Wait(cycle) => self
                .agenda
                .schedule(actor, next_arrival.map_or(cycle, |a| a.min(cycle))),
            Choice::Idle => {
                if let Some(arrival) = next_arrival {
                    self.agenda.schedule(actor, arrival);
                }
            }
        }
    }

    /// A burst's entries as its controller queues them, one per bank its columns land in
    /// (in the order of their first columns), into `self.entries`; returns its columns.
    fn entries(&mut self, burst: u32, accepted: u64) -> u32 {
        let timing = &self.timing;
        let Burst { address, bytes, .. } = self.bursts[burst as usize];
        let columns = address / timing.column_bytes..=(address + bytes - 1) / timing.column_bytes;
        let count = columns.clone().count() as u32;
        self.entries.clear();
        for column in columns {
            let address = column * timing.column_bytes;
            let at = Location::decode(timing, address);
            let bank = at.bank_index(timing) as u16;
            match self.entries.iter_mut().find(|entry| entry.bank == bank) {
                Some(entry) => {
                    if entry.columns == 1 {
                        entry.stride = (address - entry.address) as u32;
                    }
                    // A bank's columns of one burst are evenly spaced under both maps (the
                    // entry steps through them by its stride).
                    debug_assert_eq!(
                        address,
                        entry.address + u64::from(entry.columns * entry.stride),
                        "uneven columns in bank {bank}"
                    );
                    entry.columns += 1;
                }
                None => self.entries.push(Queued {
                    burst,
                    at,
                    bank,
                    address,
                    columns: 1,
                    stride: 0,
                    accepted,
                }),
            }
        }
        count
    }

    /// Admits channel `index`'s next read (or write) if it has arrived by `now` and its
    /// queue has room; a write is acknowledged as it enters. Returns whether it admitted one.
    fn admit(&mut self, index: usize, write: bool, now: u64, done: &mut Vec<(u32, u64)>) -> bool {
        let channel = &self.channels[index];
        let Some(&Reverse((arrival, id))) = channel.arriving[usize::from(write)].peek() else {
            return false;
        };
        if arrival > now || !channel.controller.has_room(write) {
            return false;
        }
        let accepted = channel.accepts_at(arrival);
        if accepted > now {
            self.agenda.schedule(Actor::Channel(index as u32), accepted);
            return false;
        }
        self.bursts[id as usize].columns_left = self.entries(id, accepted);
        let channel = &mut self.channels[index];
        channel.next_accept = accepted + self.timing.request_interval;
        channel.arriving[usize::from(write)].pop();
        channel.controller.accept(&self.entries, write);
        if write {
            let acknowledged = accepted + self.timing.controller_latency + self.adapter_cycles.1;
            self.complete(id, acknowledged, done);
        }
        true
    }

    /// Serves the next column of a queued request on its channel's banks at `now`; a read's
    /// data beat crosses back to its port as it leaves the DRAM. Returns its column
    /// command's cycle.
    fn serve(
        &mut self,
        index: usize,
        request: Queued,
        write: bool,
        now: u64,
        done: &mut Vec<(u32, u64)>,
    ) -> u64 {
        let timing = &self.timing;
        let id = request.burst;
        let burst = self.bursts[id as usize];
        let channel = &mut self.channels[index];
        let demand = channel.controller.waiting_since().unwrap_or(now);
        let dram = &mut channel.dram;
        let (bus_before, idle_from) = (dram.bus, dram.bus_free());
        let ready = (request.accepted, now, demand);
        let (column, dram_end) = dram.column(timing, ready, request.at, write);
        let bus = dram.bus;
        let mut added = DramStats {
            bus: BusCycles {
                data: bus.data - bus_before.data,
                overhead: bus.overhead - bus_before.overhead,
                refresh: bus.refresh - bus_before.refresh,
            },
            ..DramStats::default()
        };
        let burst_state = &mut self.bursts[id as usize];
        burst_state.columns_left -= 1;
        let last = burst_state.columns_left == 0;
        if last {
            self.channels[index].controller.release(write);
            let waiting = (request.accepted + timing.cl).saturating_sub(idle_from);
            added.bytes = burst.bytes;
            added.bursts = 1;
            added.latency = burst.waited.min(waiting);
            self.bursts[id as usize].served = true;
        }
        if !write {
            let port_end = self.return_beat(&burst, dram_end);
            added.crossing = port_end - dram_end;
            if last {
                let finished = port_end + self.timing.controller_latency + self.adapter_cycles.0;
                self.complete(id, finished, done);
            }
        } else if last && burst.retired {
            self.free_bursts.push(id);
        }
        self.record(index, burst.kernel as usize, &added);
        column
    }

    /// Carries one column of a read's data, leaving the DRAM at `dram_end`, across the
    /// switch's laterals to its port and through it; returns when its beat has left the
    /// port.
    fn return_beat(&mut self, burst: &Burst, dram_end: u64) -> u64 {
        let per_switch = self.setup.channels_per_switch;
        let (port_switch, channel_switch) = (
            u64::from(burst.port) / per_switch,
            u64::from(burst.channel) / per_switch,
        );
        let beat = self.timing.column_bytes.div_ceil(AXI_BEAT_BYTES) * self.axi_cycles;
        let crossed = if port_switch != channel_switch {
            let port = u64::from(burst.port);
            self.switch
                .carry((channel_switch, port_switch), dram_end, beat, false, port)
        } else {
            dram_end
        };
        let port = &mut self.ports[burst.port as usize];
        let port_end = crossed.max(port.read_free + beat);
        port.read_free = port_end;
        port_end
    }
}
