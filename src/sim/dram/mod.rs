//! The bank-level HBM (`memory = "dram"`): every burst of every transfer goes from its
//! engine's AXI port, through the switch, to its pseudo-channel's banks and back, in DRAM
//! clock cycles.
//!
//! A port issues one request per AXI cycle and keeps at most `outstanding_requests` in flight
//! (a window of release times, in issue order). A request reaches its channel's controller
//! after the switch's latency; the controller takes one request per `request_interval` and
//! serves its column accesses at bank level ([`channel`]). Read data crosses the switch's
//! laterals back ([`super::switch`]) and the port, which moves one 32 B beat per AXI cycle, so a
//! port never carries more than its own bandwidth. The request is done `controller_latency`
//! after its last beat (an idle page-hit read: the 48 cycles of 450 MHz Shuhai measured),
//! plus, for an HLS requester, its adapter's share of HBM Connect's round trip.
//!
//! Requests to one channel within a transfer are all known at once; when they are not one
//! contiguous run (tile rows landing on the channel apart) the controller serves row hits
//! first among the oldest `queue_depth` (first-ready, first-come). Transfers that arrive
//! later are served after those before them.

pub mod channel;

use super::hbm::{ChannelStats, TICKS_PER_CYCLE};
use super::memory::{Memory, MemoryStats};
use super::switch::{Routing, Switch};
use crate::config::design::Design;
use crate::config::dram::DramTiming;
use crate::config::platform::Platform;
use crate::lower::ChannelRequest;
use channel::{BusCycles, DramChannel};
use std::collections::VecDeque;

/// How the memory is wired and who requests: built from a design, or by `probe`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DramSetup {
    pub channels: u64,
    pub channels_per_switch: u64,
    pub routing: Routing,
    pub burst_bytes: u64,
    pub outstanding: u64,
    pub hop_latency_s: f64,
    pub lateral_links: u64,
    /// Whether requests come from HLS `m_axi` adapters (adds their share of the round trip).
    pub hls: bool,
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

/// One AXI port: its requests in flight and when it next takes a request or a beat.
#[derive(Debug, Clone, Default)]
struct Port {
    /// Release cycles of the requests in flight, in issue order.
    window: VecDeque<u64>,
    next_issue: u64,
    data_free: u64,
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

/// The bank-level HBM: channels, ports and switch.
#[derive(Debug)]
pub struct Dram {
    timing: DramTiming,
    setup: DramSetup,
    channels: Vec<DramChannel>,
    ports: Vec<Port>,
    switch: Switch,
    stats: Vec<DramStats>,
    per_kernel: Option<Vec<Vec<DramStats>>>,
    /// DRAM cycles of one AXI cycle: one request or one 32 B beat at a port.
    axi_cycles: u64,
    /// Cycles an HLS adapter adds to a read and a write (0 for an RTL requester).
    adapter_cycles: (u64, u64),
    /// Clocks in kHz, to convert fabric cycles and DRAM cycles exactly.
    fabric_khz: u64,
    dram_khz: u64,
    /// Scratch: one channel's bursts of a transfer, and whether each is served.
    bursts: Vec<(u64, u64)>,
    served: Vec<bool>,
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
        Dram {
            timing,
            setup,
            channels: vec![DramChannel::new(&timing); channels],
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
            axi_cycles,
            adapter_cycles: if setup.hls {
                (timing.hls_read_adapter, timing.hls_write_adapter)
            } else {
                (0, 0)
            },
            fabric_khz: (setup.fabric_clock_hz / 1e3).round() as u64,
            dram_khz: (timing.clock_hz / 1e3).round() as u64,
            bursts: Vec::new(),
            served: Vec::new(),
        }
    }

    /// An idle page-hit access of one beat at its own channel's port, in DRAM cycles.
    pub fn idle_latency_cycles(&self, write: bool) -> u64 {
        let t = &self.timing;
        let data = if write { t.cwl } else { t.cl };
        self.switch.latency(0) + data + t.burst_cycles + t.controller_latency
    }

    /// Serves one read burst issued at DRAM cycle `at` from its channel's port; returns
    /// how long it took, in DRAM cycles.
    pub fn read_latency_cycles(&mut self, request: &ChannelRequest, at: u64) -> u64 {
        let channel = u64::from(request.channel);
        let port = self.port(0, channel);
        let done = self.burst(
            (port, channel, false, 0),
            at,
            u64::from(request.address),
            request.bytes,
        );
        done - at
    }

    fn to_dram(&self, fabric_cycle: u64) -> u64 {
        (fabric_cycle as u128 * self.dram_khz as u128).div_ceil(self.fabric_khz as u128) as u64
    }

    fn to_fabric(&self, dram_cycle: u64) -> u64 {
        (dram_cycle as u128 * self.fabric_khz as u128).div_ceil(self.dram_khz as u128) as u64
    }

    /// The port a requester's traffic to `channel` enters at.
    fn port(&self, unit: u64, channel: u64) -> u64 {
        let setup = &self.setup;
        setup
            .routing
            .port(unit, channel, setup.channels, setup.channels_per_switch)
    }

    /// Serves one burst of `bytes` at `address` that `(port, channel, write, kernel)` issues
    /// no earlier than `ready`; returns when it is done (DRAM cycles).
    fn burst(
        &mut self,
        (port, channel, write, kernel): (u64, u64, bool, usize),
        ready: u64,
        address: u64,
        bytes: u64,
    ) -> u64 {
        let per_switch = self.setup.channels_per_switch;
        let (port_switch, channel_switch) = (port / per_switch, channel / per_switch);
        let hops = port_switch.abs_diff(channel_switch);
        let timing = self.timing;
        let outstanding = self.setup.outstanding as usize;
        let slot = &mut self.ports[port as usize];
        let unconstrained = ready.max(slot.next_issue);
        let mut issue = unconstrained;
        if slot.window.len() >= outstanding {
            issue = issue.max(
                slot.window
                    .pop_front()
                    .expect("a full window holds requests"),
            );
        }
        slot.next_issue = issue + self.axi_cycles;
        let arrival = issue + self.switch.latency(hops);
        let dram = &mut self.channels[channel as usize];
        let bus_before = dram.bus;
        let idle_from = dram.bus_free();
        let dram_end = dram.request(&timing, arrival, address, bytes, write);
        let beats = bytes.div_ceil(AXI_BEAT_BYTES) * self.axi_cycles;
        let crossed = if hops > 0 {
            let (from, to) = if write {
                (port_switch, channel_switch)
            } else {
                (channel_switch, port_switch)
            };
            self.switch.carry((from, to), dram_end, beats, write, port)
        } else {
            dram_end
        };
        let slot = &mut self.ports[port as usize];
        let port_end = crossed.max(slot.data_free + beats);
        slot.data_free = port_end;
        let adapter = if write {
            self.adapter_cycles.1
        } else {
            self.adapter_cycles.0
        };
        let done = port_end + timing.controller_latency + adapter;
        slot.window.push_back(done);

        let bus = self.channels[channel as usize].bus;
        let latency = if issue > unconstrained {
            let waiting = (arrival + timing.cl).saturating_sub(idle_from);
            (issue - unconstrained).min(waiting)
        } else {
            0
        };
        let added = DramStats {
            bytes,
            bursts: 1,
            bus: BusCycles {
                data: bus.data - bus_before.data,
                overhead: bus.overhead - bus_before.overhead,
                refresh: bus.refresh - bus_before.refresh,
            },
            latency,
            crossing: port_end - dram_end,
        };
        self.stats[channel as usize].add(&added);
        if let Some(per_kernel) = &mut self.per_kernel {
            per_kernel[kernel][channel as usize].add(&added);
        }
        done
    }

    /// Fills the scratch list with one request's bursts: each piece cut at the burst size.
    fn collect_bursts(&mut self, request: &ChannelRequest) {
        self.bursts.clear();
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
                self.bursts.push((start + offset, length));
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
    ) -> u64 {
        let ready = self.to_dram(arrival_cycle);
        let mut done = ready;
        for request in requests {
            if request.bytes == 0 {
                continue;
            }
            let channel_index = u64::from(request.channel);
            let port = self.port(unit, channel_index);
            self.collect_bursts(request);
            let count = self.bursts.len();
            self.served.clear();
            self.served.resize(count, false);
            // A contiguous run is served in order (no later burst can hit a row the earlier
            // ones leave open); rows of a tile apart are served row hits first among the
            // oldest `queue_depth` bursts still waiting.
            let reorder = request.pieces > 1;
            let depth = self.timing.queue_depth as usize;
            let mut oldest = 0;
            while oldest < count {
                let channel = &self.channels[request.channel as usize];
                let pick = if reorder {
                    (oldest..count)
                        .filter(|&i| !self.served[i])
                        .take(depth)
                        .find(|&i| channel.row_is_open(&self.timing, self.bursts[i].0))
                        .unwrap_or(oldest)
                } else {
                    oldest
                };
                self.served[pick] = true;
                let (address, bytes) = self.bursts[pick];
                let requester = (port, channel_index, write, kernel);
                done = done.max(self.burst(requester, ready, address, bytes));
                while oldest < count && self.served[oldest] {
                    oldest += 1;
                }
            }
        }
        self.to_fabric(done)
    }

    fn latency_cycles(&self) -> u64 {
        self.to_fabric(self.idle_latency_cycles(false))
    }

    fn into_stats(self) -> MemoryStats {
        let ticks = |cycles: u64| {
            (cycles as f64 * TICKS_PER_CYCLE as f64 * self.fabric_khz as f64 / self.dram_khz as f64)
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
