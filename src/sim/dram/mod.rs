//! The bank-level HBM (`memory = "dram"`): every burst of every transfer goes from its
//! engine's AXI port, through the switch, into its pseudo-channel controller's queues, to the
//! banks and back, in DRAM clock cycles.
//!
//! A port issues one request (burst) per AXI cycle, its transfers' bursts in order, and keeps
//! at most `outstanding_requests` in flight (a slot frees when the oldest is done, as AXI
//! returns one ID in order). A request reaches its channel's controller after the switch's
//! latency (a write after its data has crossed the port and the switch); the controller
//! accepts one request per `request_interval` into a read or a write queue when it has room
//! (else the request waits, as AXI back-pressure holds it) and serves their columns
//! first-ready, bank after bank, with writes drained in batches ([`controller`]), at bank
//! level ([`channel`]).
//! Read data crosses the switch's laterals back ([`super::switch`]) and the port, which moves
//! one 32 B beat per AXI cycle; the read is done `controller_latency` after its last beat
//! (an idle page-hit read: the 48 cycles of 450 MHz Shuhai measured), plus, for an HLS
//! requester, its adapter's share of HBM Connect's round trip. A write is acknowledged once
//! queued (a posted write, as DRAMsim3 and Ramulator acknowledge it; the IP's write
//! response timing is not published: an assumption, at most the write's own service later).
//!
//! The controller decides at cycles of its own, after the transfers that start by then are
//! known: a transfer's end is reported later than its start ([`Memory::decide`]), so requests
//! of concurrent engines compete in one queue as they do on the device.

mod agenda;
pub mod channel;
mod clocks;
pub mod controller;
mod service;

use super::hbm::{ChannelStats, TICKS_PER_CYCLE};
use super::memory::{Memory, MemoryStats};
use super::switch::{Routing, Switch};
use crate::config::design::Design;
use crate::config::dram::DramTiming;
use crate::config::platform::Platform;
use crate::lower::ChannelRequest;
use agenda::{Actor, Agenda};
use channel::{BusCycles, DramChannel};
use clocks::Clocks;
use controller::{Controller, QueuePolicy, Queued};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// How the memory is wired and who requests: built from a design, or by `probe`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DramSetup {
    /// Pseudo-channels.
    pub channels: u64,
    /// Channels per mini-switch.
    pub channels_per_switch: u64,
    /// How the AXI ports reach the channels.
    pub routing: Routing,
    /// The largest request, bytes.
    pub burst_bytes: u64,
    /// Requests a port keeps in flight.
    pub outstanding: u64,
    /// Latency per mini-switch crossed, s.
    pub hop_latency_s: f64,
    /// Lateral links between neighbouring mini-switches.
    pub lateral_links: u64,
    /// Whether requests come from HLS `m_axi` adapters (adds their share of the round trip).
    pub hls: bool,
    /// The fabric clock, Hz.
    pub fabric_clock_hz: f64,
}

impl DramSetup {
    /// A design's engines on a platform's HBM.
    pub fn new(platform: &Platform, design: &Design) -> Self {
        let placement = design.placement();
        DramSetup {
            channels: platform.hbm.channels,
            channels_per_switch: platform.hbm.channels_per_switch,
            routing: Routing::of(placement.axi_ports),
            burst_bytes: placement.burst_bytes,
            outstanding: placement.outstanding_requests,
            hop_latency_s: platform.hbm.switch_hop_latency_s,
            lateral_links: platform.hbm.lateral_links,
            hls: false,
            fabric_clock_hz: design.clock_hz(),
        }
    }
}

/// One AXI request (burst) on its way from its port to its channel and back.
#[derive(Debug, Clone, Copy)]
struct Burst {
    transfer: u32,
    port: u32,
    channel: u32,
    kernel: u32,
    write: bool,
    address: u64,
    bytes: u64,
    /// Earliest cycle its port may issue it (its transfer's start).
    ready: u64,
    /// Cycles its port held it for a window slot.
    waited: u64,
    /// Its column accesses not yet served.
    columns_left: u32,
    /// When it is done at its port (read data back, write acknowledged), once known.
    done: Option<u64>,
    /// Whether the controller has served it, and whether its port has retired it: its slot
    /// is free for another burst when both are.
    served: bool,
    retired: bool,
}

/// A transfer's bursts not yet done, and the last done so far.
#[derive(Debug, Clone, Copy)]
struct Transfer {
    tag: u32,
    bursts_left: u32,
    done: u64,
}

/// One AXI port: bursts waiting to issue, bursts in flight (oldest first), and when it next
/// takes a request, a read data beat and a write data beat (AXI's read and write data
/// channels are separate).
#[derive(Debug, Clone, Default)]
struct Port {
    pending: VecDeque<u32>,
    window: VecDeque<u32>,
    next_issue: u64,
    read_free: u64,
    write_free: u64,
}

/// One pseudo-channel: its banks, its controller, requests on their way to its queues (reads
/// and writes, by arrival), and when it takes its next request.
#[derive(Debug, Clone)]
struct Channel {
    dram: DramChannel,
    controller: Controller,
    arriving: [BinaryHeap<Reverse<(u64, u32)>>; 2],
    next_accept: u64,
}

impl Channel {
    /// When the controller takes a request that reaches it at `arrival` (one per request
    /// interval), room in its queue aside.
    fn accepts_at(&self, arrival: u64) -> u64 {
        arrival.max(self.next_accept)
    }
}

/// Per channel, in DRAM cycles.
#[derive(Debug, Clone, Copy, Default)]
struct DramStats {
    bytes: u64,
    bursts: u64,
    bus: BusCycles,
    /// Channel idle while its requests waited for a port's window slot.
    latency: u64,
    /// Beats held up crossing the switch or at a shared port.
    crossing: u64,
}

impl DramStats {
    fn add(&mut self, other: &DramStats) {
        self.bytes += other.bytes;
        self.bursts += other.bursts;
        self.bus.data += other.bus.data;
        self.bus.overhead += other.bus.overhead;
        self.bus.refresh += other.bus.refresh;
        self.latency += other.latency;
        self.crossing += other.crossing;
    }
}

/// The bank-level HBM: channels, ports and switch, and the events they wait on.
#[derive(Debug)]
pub struct Dram {
    timing: DramTiming,
    setup: DramSetup,
    channels: Vec<Channel>,
    ports: Vec<Port>,
    switch: Switch,
    stats: Vec<DramStats>,
    per_kernel: Option<Vec<Vec<DramStats>>>,
    bursts: Vec<Burst>,
    free_bursts: Vec<u32>,
    transfers: Vec<Transfer>,
    free_transfers: Vec<u32>,
    /// When each port and each channel acts next, in DRAM cycles.
    agenda: Agenda,
    /// DRAM cycles of one AXI cycle: one request or one 32 B beat at a port.
    axi_cycles: u64,
    /// Cycles an HLS adapter adds to a read and a write (0 for an RTL requester).
    adapter_cycles: (u64, u64),
    /// Clocks in kHz, to convert fabric cycles and DRAM cycles exactly.
    clocks: Clocks,
    /// Scratch: one request's bursts, one burst's queue entries, and a decision's banks
    /// that may close their row (with their closing request's acceptance).
    pieces: Vec<(u64, u64)>,
    entries: Vec<Queued>,
    closing: Vec<(usize, u64)>,
}

/// Bytes one AXI beat carries (256-bit ports, PG276).
const AXI_BEAT_BYTES: u64 = 32;

impl Dram {
    /// An idle memory of `timing` for a graph of `kernels` kernels.
    pub fn new(timing: DramTiming, setup: DramSetup, kernels: usize) -> Self {
        let channels = setup.channels as usize;
        let switches = crate::sim::switch::switch_count(setup.channels, setup.channels_per_switch);
        let cycles = |seconds: f64| (seconds * timing.clock_hz).round() as u64;
        // An AXI beat moves 32 B in the time the channel moves one 32 B column access.
        let axi_cycles = timing.burst_cycles * AXI_BEAT_BYTES / timing.column_bytes;
        let policy = QueuePolicy {
            read_depth: timing.queue_depth as usize,
            write_depth: timing.write_queue_depth as usize,
            write_high: timing.write_high_watermark as usize,
            write_low: timing.write_low_watermark as usize,
            row_hit_cap: timing.row_hit_cap as u32,
            banks: timing.banks() as usize,
        };
        let channel = Channel {
            dram: DramChannel::new(&timing),
            controller: Controller::new(policy),
            arriving: [BinaryHeap::new(), BinaryHeap::new()],
            next_accept: 0,
        };
        Dram {
            timing,
            setup,
            channels: vec![channel; channels],
            ports: vec![Port::default(); channels],
            switch: Switch::new(
                switches,
                setup.lateral_links,
                cycles(setup.hop_latency_s),
                setup.routing.switched(),
                axi_cycles,
            ),
            stats: vec![DramStats::default(); channels],
            per_kernel: (kernels > 1).then(|| vec![vec![DramStats::default(); channels]; kernels]),
            bursts: Vec::new(),
            free_bursts: Vec::new(),
            transfers: Vec::new(),
            free_transfers: Vec::new(),
            agenda: Agenda::new(),
            axi_cycles,
            adapter_cycles: if setup.hls {
                (timing.hls_read_adapter, timing.hls_write_adapter)
            } else {
                (0, 0)
            },
            clocks: Clocks::new(setup.fabric_clock_hz, timing.clock_hz),
            pieces: Vec::new(),
            entries: Vec::new(),
            closing: Vec::new(),
        }
    }

    /// An idle page-hit read of one beat at its own channel's port, in DRAM cycles.
    pub fn idle_read_latency_cycles(&self) -> u64 {
        let t = &self.timing;
        self.switch.latency(0) + t.cl + t.burst_cycles + t.controller_latency
    }

    /// The port a requester's traffic to `channel` enters at.
    fn port(&self, unit: u64, channel: u64) -> u64 {
        let setup = &self.setup;
        setup
            .routing
            .port(unit, channel, setup.channels, setup.channels_per_switch)
    }

    /// Queues a transfer's bursts at their ports from DRAM cycle `ready`; returns its index,
    /// or `None` when it moves no data.
    fn submit(
        &mut self,
        requests: &[ChannelRequest],
        unit: u64,
        ready: u64,
        kernel: usize,
        write: bool,
        tag: u32,
    ) -> Option<u32> {
        let transfer = match self.free_transfers.pop() {
            Some(index) => index,
            None => {
                self.transfers.push(Transfer {
                    tag,
                    bursts_left: 0,
                    done: 0,
                });
                self.transfers.len() as u32 - 1
            }
        };
        self.transfers[transfer as usize] = Transfer {
            tag,
            bursts_left: 0,
            done: ready,
        };
        for request in requests.iter().filter(|r| r.bytes > 0) {
            let channel = u64::from(request.channel);
            let port = self.port(unit, channel);
            self.collect_bursts(request);
            for index in 0..self.pieces.len() {
                let (address, bytes) = self.pieces[index];
                let burst = Burst {
                    transfer,
                    port: port as u32,
                    channel: channel as u32,
                    kernel: kernel as u32,
                    write,
                    address,
                    bytes,
                    ready,
                    waited: 0,
                    columns_left: 0,
                    done: None,
                    served: false,
                    retired: false,
                };
                let id = match self.free_bursts.pop() {
                    Some(id) => {
                        self.bursts[id as usize] = burst;
                        id
                    }
                    None => {
                        self.bursts.push(burst);
                        self.bursts.len() as u32 - 1
                    }
                };
                self.ports[port as usize].pending.push_back(id);
                self.transfers[transfer as usize].bursts_left += 1;
            }
            let at = ready.max(self.ports[port as usize].next_issue);
            self.agenda.schedule(Actor::Port(port as u32), at);
        }
        if self.transfers[transfer as usize].bursts_left == 0 {
            self.free_transfers.push(transfer);
            return None;
        }
        Some(transfer)
    }

    /// Handles the earliest pending event; transfers it completes are added to `done` as
    /// (tag, DRAM cycle).
    fn step(&mut self, done: &mut Vec<(u32, u64)>) {
        match self.agenda.pop() {
            Some((cycle, Actor::Port(index))) => self.issue(index as usize, cycle),
            Some((cycle, Actor::Channel(index))) => {
                self.decide_channel(index as usize, cycle, done)
            }
            None => {}
        }
    }

    /// Port `index` issues its next burst at `now` if a window slot is free.
    fn issue(&mut self, index: usize, now: u64) {
        let outstanding = self.setup.outstanding as usize;
        let port = &self.ports[index];
        let Some(&head) = port.pending.front() else {
            return;
        };
        let unconstrained = port.next_issue.max(self.bursts[head as usize].ready);
        let mut at = unconstrained;
        let full = port.window.len() >= outstanding;
        if full {
            let oldest = port.window[0];
            match self.bursts[oldest as usize].done {
                // Scheduled again when the oldest is done.
                None => return,
                Some(done) => at = at.max(done),
            }
        }
        if at > now {
            self.agenda.schedule(Actor::Port(index as u32), at);
            return;
        }
        let port = &mut self.ports[index];
        if full {
            let oldest = port.window.pop_front().expect("a full window");
            self.retire(oldest);
        }
        let port = &mut self.ports[index];
        port.pending.pop_front();
        port.window.push_back(head);
        port.next_issue = now + self.axi_cycles;
        if !port.pending.is_empty() {
            let next = port.next_issue;
            self.agenda.schedule(Actor::Port(index as u32), next);
        }
        let burst = &mut self.bursts[head as usize];
        burst.waited = now - unconstrained;
        let Burst {
            channel,
            write,
            bytes,
            kernel,
            ..
        } = *burst;
        let per_switch = self.setup.channels_per_switch;
        let (port_switch, channel_switch) =
            (index as u64 / per_switch, u64::from(channel) / per_switch);
        let hops = port_switch.abs_diff(channel_switch);
        let mut arrival = now + self.switch.latency(hops);
        if write {
            // The data crosses the port, then the laterals, before the request is queued.
            let beats = bytes.div_ceil(AXI_BEAT_BYTES) * self.axi_cycles;
            let port = &mut self.ports[index];
            let port_end = now.max(port.write_free) + beats;
            port.write_free = port_end;
            let crossed = if hops > 0 {
                self.switch.carry(
                    (port_switch, channel_switch),
                    port_end,
                    beats,
                    true,
                    index as u64,
                )
            } else {
                port_end
            };
            arrival = crossed + self.switch.latency(hops);
            // Held up behind other channels' writes at a shared port, or in the laterals (a
            // port of its own only paces its own channel's writes).
            let shared = self.setup.routing.switched();
            let held = DramStats {
                crossing: if shared { crossed - (now + beats) } else { 0 },
                ..DramStats::default()
            };
            self.record(channel as usize, kernel as usize, &held);
        }
        self.channels[channel as usize].arriving[usize::from(write)].push(Reverse((arrival, head)));
        self.agenda.schedule(Actor::Channel(channel), arrival);
    }

    /// Frees a burst's slot once its port has retired it and its controller served it.
    fn retire(&mut self, id: u32) {
        let burst = &mut self.bursts[id as usize];
        burst.retired = true;
        if burst.served {
            self.free_bursts.push(id);
        }
    }

    /// Adds to a channel's statistics, and its kernel's when kept.
    fn record(&mut self, channel: usize, kernel: usize, added: &DramStats) {
        self.stats[channel].add(added);
        if let Some(per_kernel) = &mut self.per_kernel {
            per_kernel[kernel][channel].add(added);
        }
    }

    /// A burst is done at its port at `cycle`: its transfer may be done, and its port may
    /// take the slot it held.
    fn complete(&mut self, id: u32, cycle: u64, done: &mut Vec<(u32, u64)>) {
        let burst = &mut self.bursts[id as usize];
        burst.done = Some(cycle);
        let (port, transfer) = (burst.port as usize, burst.transfer as usize);
        let transfer_state = &mut self.transfers[transfer];
        transfer_state.done = transfer_state.done.max(cycle);
        transfer_state.bursts_left -= 1;
        if transfer_state.bursts_left == 0 {
            done.push((transfer_state.tag, transfer_state.done));
            self.free_transfers.push(transfer as u32);
        }
        let port_state = &self.ports[port];
        if port_state.window.front() == Some(&id)
            && port_state.window.len() >= self.setup.outstanding as usize
            && !port_state.pending.is_empty()
        {
            let at = cycle.max(port_state.next_issue);
            self.agenda.schedule(Actor::Port(port as u32), at);
        }
    }

    /// Fills the scratch list with one request's bursts: each piece cut at the burst size.
    fn collect_bursts(&mut self, request: &ChannelRequest) {
        self.pieces.clear();
        let pieces = u64::from(request.pieces.max(1));
        let per_piece = request.bytes / pieces;
        for piece in 0..pieces {
            let bytes = if piece + 1 == pieces {
                request.bytes - per_piece * (pieces - 1)
            } else {
                per_piece
            };
            let start = u64::from(request.address) + piece * u64::from(request.pitch_bytes);
            let mut offset = 0;
            while offset < bytes {
                let length = (bytes - offset).min(self.setup.burst_bytes);
                self.pieces.push((start + offset, length));
                offset += length;
            }
        }
    }
}

impl Memory for Dram {
    fn transfer(
        &mut self,
        requests: &[ChannelRequest],
        unit: u64,
        arrival_cycle: u64,
        kernel: usize,
        write: bool,
        tag: u32,
    ) -> Option<u64> {
        let ready = self.clocks.to_dram(arrival_cycle);
        match self.submit(requests, unit, ready, kernel, write, tag) {
            Some(_) => None,
            None => Some(arrival_cycle),
        }
    }

    /// The fabric cycle of the next event: transfers that start by it (at or before) are
    /// queued before it acts, as their DRAM start is at or before its DRAM cycle.
    fn next_event_cycle(&self) -> Option<u64> {
        self.agenda
            .next_cycle()
            .map(|cycle| self.clocks.to_fabric_floor(cycle))
    }

    fn decide(&mut self, done: &mut Vec<(u32, u64)>) {
        let before = done.len();
        self.step(done);
        for entry in &mut done[before..] {
            entry.1 = self.clocks.to_fabric(entry.1);
        }
    }

    fn latency_cycles(&self) -> u64 {
        self.clocks.to_fabric(self.idle_read_latency_cycles())
    }

    fn into_stats(self) -> MemoryStats {
        let ticks = |cycles: u64| {
            (cycles as f64 * TICKS_PER_CYCLE as f64 * self.clocks.fabric_khz as f64
                / self.clocks.dram_khz as f64)
                .round() as u64
        };
        let convert = |stats: &DramStats| ChannelStats {
            bytes: stats.bytes,
            bursts: stats.bursts,
            data_ticks: ticks(stats.bus.data),
            overhead_ticks: ticks(stats.bus.overhead),
            latency_ticks: ticks(stats.latency),
            refresh_ticks: ticks(stats.bus.refresh),
            crossing_ticks: ticks(stats.crossing),
        };
        MemoryStats {
            channels: self.stats.iter().map(convert).collect(),
            per_kernel: self.per_kernel.as_ref().map(|kernels| {
                kernels
                    .iter()
                    .map(|k| k.iter().map(convert).collect())
                    .collect()
            }),
        }
    }
}
