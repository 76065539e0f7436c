//! `roofsim probe hbm`: a traffic generator like Shuhai's (Wang et al., FCCM 2020) run on
//! either HBM model, measuring the bandwidth and latency a requester sees.
//!
//! One requester per pseudo-channel, at the port the design gives it (or `switch_distance`
//! mini-switches away), issues requests of `burst_bytes` in order, keeping at most
//! `outstanding` in flight: request `i` goes to address `i × stride mod working_set` of its
//! channel (sequential: stride = burst), or to a uniformly drawn burst-aligned address of the
//! working set (random, a fixed-seed generator, so runs repeat exactly). `striped` reads one
//! tensor as the design lays tensors out: a single requester issues its bursts in address
//! order, `stripe_bytes` on one channel before the next (each channel's port still keeps
//! `outstanding` in flight), so a stripe much longer than the window starves the others. A
//! share of the requests are writes, spread evenly. Bandwidth is all bytes over the time
//! from the first issue to the last completion; latency is each request's completion less
//! its issue.

use super::dram::{Dram, DramSetup};
use super::hbm::{ChannelTiming, TICKS_PER_CYCLE};
use super::memory::{Hbm, Memory};
use super::switch::Routing;
use crate::config::design::{AxiPorts, Design};
use crate::config::platform::Platform;
use crate::lower::ChannelRequest;
use std::collections::VecDeque;

/// Which HBM model a probe runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeMemory {
    /// Per-channel servers with fitted constants (the default for simulations).
    Fast,
    /// The bank-level model (`memory = "dram"`).
    Dram,
}

/// Where request `i` of a requester goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pattern {
    /// Consecutive addresses.
    Sequential,
    /// Addresses a stride apart (`--stride-bytes`).
    Strided,
    /// Uniformly random addresses in the working set.
    Random,
    /// One tensor striped over the channels as the design places it.
    Striped,
}

impl Pattern {
    /// The name the command line uses.
    pub fn name(self) -> &'static str {
        match self {
            Pattern::Sequential => "sequential",
            Pattern::Strided => "strided",
            Pattern::Random => "random",
            Pattern::Striped => "striped",
        }
    }
}

/// One probe configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    /// The HBM model probed.
    pub memory: ProbeMemory,
    /// The access pattern.
    pub pattern: Pattern,
    /// Bytes per request.
    pub burst_bytes: u64,
    /// Distance between strided requests.
    pub stride_bytes: u64,
    /// Bytes the addresses fall in.
    pub working_set_bytes: u64,
    /// Channels probed at once.
    pub channels: u64,
    /// Requests each requester keeps in flight.
    pub outstanding: u64,
    /// Share of requests that are writes, in [0, 1].
    pub write_share: f64,
    /// Mini-switches between each requester and its channel.
    pub switch_distance: u64,
    /// Bytes on one channel before the next (`striped`).
    pub stripe_bytes: u64,
    /// Requesters are HLS `m_axi` adapters (their round trip, HBM Connect) rather than RTL.
    pub hls: bool,
    /// Bytes each requester moves.
    pub bytes_per_channel: u64,
}

/// What a probe measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeResult {
    /// Bandwidth achieved, bytes/s.
    pub achieved_bytes_per_s: f64,
    /// Mean latency of a request, s.
    pub mean_latency_s: f64,
    /// Share of the channels' time lost to refresh.
    pub refresh_share: f64,
}

/// A deterministic xorshift64* stream for random addresses.
struct Draws(u64);

impl Draws {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Runs `probe` on the design's HBM on `platform`. The caller has checked the probe's
/// numbers (see the command line), and that the platform has bank-level timing for `dram`.
pub fn run_probe(platform: &Platform, design: &Design, probe: &Probe) -> ProbeResult {
    let switched = probe.switch_distance > 0 || design.placement().axi_ports == AxiPorts::PerUnit;
    let routing = if switched {
        Routing::Distance(probe.switch_distance)
    } else {
        Routing::PerChannel
    };
    match probe.memory {
        ProbeMemory::Fast => {
            let mut timing = ChannelTiming::with_routing(platform, design, routing);
            timing.outstanding = probe.outstanding;
            let memory = Hbm::new(timing, platform.hbm.channels as usize, 1);
            drive(memory, probe, design.clock_hz())
        }
        ProbeMemory::Dram => {
            let mut setup = DramSetup::new(platform, design);
            setup.outstanding = probe.outstanding;
            setup.burst_bytes = probe.burst_bytes;
            setup.hls = probe.hls;
            setup.routing = routing;
            let timing = platform.hbm.dram.expect("checked by the caller");
            // Counted in DRAM cycles, so latencies are exact to the DRAM clock.
            setup.fabric_clock_hz = timing.clock_hz;
            drive(Dram::new(timing, setup, 1), probe, timing.clock_hz)
        }
    }
}

/// A request in flight: when it issued and, once known, when it was done.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    issue: u64,
    done: Option<u64>,
}

/// One requester: the next of its `count` requests, when it issued its last, and (random)
/// its own address stream.
struct Requester {
    next: u64,
    count: u64,
    last_issue: u64,
    draws: Draws,
}

/// The probe's requests on `memory`, as their requesters issue them: each keeps at most
/// `outstanding` in flight per channel (a slot frees when its oldest is done) and issues in
/// order; a memory that answers later decides when the requests that reach it by then are
/// known to it.
fn drive<M: Memory>(mut memory: M, probe: &Probe, clock_hz: f64) -> ProbeResult {
    let requests = probe.bytes_per_channel.div_ceil(probe.burst_bytes).max(1);
    let slots = probe.working_set_bytes / probe.burst_bytes;
    let striped = probe.pattern == Pattern::Striped;
    // One requester per channel, or (striped) one for all; each a seed of its own.
    let mut requesters: Vec<Requester> = (0..if striped { 1 } else { probe.channels })
        .map(|index| Requester {
            next: 0,
            count: if striped {
                requests * probe.channels
            } else {
                requests
            },
            last_issue: 0,
            draws: Draws(0x9E37_79B9_7F4A_7C15 ^ index),
        })
        .collect();
    let mut windows: Vec<VecDeque<u32>> = vec![VecDeque::new(); probe.channels as usize];
    let mut flights: Vec<InFlight> = Vec::new();
    let mut free: Vec<u32> = Vec::new();
    let (mut last_done, mut latency_sum) = (0u64, 0u128);
    let mut finished = Vec::new();
    loop {
        // The requester that can issue first (the lowest index among equals): its channel's
        // window has room, or its oldest is done.
        let mut first: Option<(u64, usize, u64)> = None;
        for (index, requester) in requesters.iter().enumerate() {
            if requester.next == requester.count {
                continue;
            }
            let channel = if striped {
                let address = requester.next * probe.burst_bytes;
                address / probe.stripe_bytes % probe.channels
            } else {
                index as u64
            };
            let window = &windows[channel as usize];
            let ready = if window.len() as u64 >= probe.outstanding {
                match flights[window[0] as usize].done {
                    Some(done) => done.max(requester.last_issue),
                    None => continue,
                }
            } else {
                requester.last_issue
            };
            if first.is_none_or(|(at, _, _)| ready < at) {
                first = Some((ready, index, channel));
            }
        }
        let decision = memory.next_event_cycle();
        let Some((issue, index, channel)) =
            first.filter(|&(at, _, _)| decision.is_none_or(|d| at <= d))
        else {
            if decision.is_none() {
                break;
            }
            memory.decide(&mut finished);
            for (tag, done) in finished.drain(..) {
                let flight = &mut flights[tag as usize];
                flight.done = Some(done);
                last_done = last_done.max(done);
                latency_sum += u128::from(done - flight.issue);
            }
            continue;
        };
        let window = &mut windows[channel as usize];
        if window.len() as u64 >= probe.outstanding {
            free.extend(window.pop_front());
        }
        let requester = &mut requesters[index];
        let i = requester.next;
        requester.next += 1;
        requester.last_issue = issue;
        let address = match probe.pattern {
            Pattern::Striped => {
                let address = i * probe.burst_bytes;
                let stripe = address / probe.stripe_bytes;
                stripe / probe.channels * probe.stripe_bytes + address % probe.stripe_bytes
            }
            Pattern::Sequential => i * probe.burst_bytes % probe.working_set_bytes,
            Pattern::Strided => i * probe.stride_bytes % probe.working_set_bytes,
            Pattern::Random => requester.draws.next() % slots * probe.burst_bytes,
        };
        let write =
            ((i + 1) as f64 * probe.write_share).floor() > (i as f64 * probe.write_share).floor();
        let flight = InFlight { issue, done: None };
        let tag = match free.pop() {
            Some(tag) => {
                flights[tag as usize] = flight;
                tag
            }
            None => {
                flights.push(flight);
                flights.len() as u32 - 1
            }
        };
        window.push_back(tag);
        let request = ChannelRequest::contiguous(channel, address, probe.burst_bytes, 1);
        if let Some(done) = memory.transfer(&[request], 0, issue, 0, write, tag) {
            flights[tag as usize].done = Some(done);
            last_done = last_done.max(done);
            latency_sum += u128::from(done - issue);
        }
    }
    let count = (requests * probe.channels) as f64;
    let stats = memory.into_stats();
    let refresh_ticks: u64 = stats.channels.iter().map(|c| c.refresh_ticks).sum();
    let elapsed_ticks = (last_done * TICKS_PER_CYCLE * probe.channels) as f64;
    ProbeResult {
        achieved_bytes_per_s: (requests * probe.burst_bytes * probe.channels) as f64
            / (last_done as f64 / clock_hz),
        mean_latency_s: latency_sum as f64 / count / clock_hz,
        refresh_share: refresh_ticks as f64 / elapsed_ticks,
    }
}

/// Starts `requests` together at `at` and runs `memory` until it is quiet; returns when the
/// last was done.
fn serve_together(memory: &mut impl Memory, requests: &[ChannelRequest], at: u64) -> u64 {
    let mut last = at;
    for (tag, request) in requests.iter().enumerate() {
        if let Some(done) = memory.transfer(&[*request], 0, at, 0, false, tag as u32) {
            last = last.max(done);
        }
    }
    let mut finished = Vec::new();
    while memory.next_event_cycle().is_some() {
        memory.decide(&mut finished);
    }
    finished.iter().map(|&(_, done)| done).fold(last, u64::max)
}

/// The fast model's fitted constants, re-derived from the bank model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FastFit {
    /// Channel time per request besides its data, s.
    pub request_overhead_s: f64,
    /// Shortest channel time per request, s.
    pub request_interval_s: f64,
    /// Time a refresh takes, s.
    pub refresh_s: f64,
}

/// Re-derives the fast model's constants from the bank model run on sequential reads of one
/// channel with the design's outstanding requests. The fast model serves a burst of B bytes
/// in `max(B / peak + overhead, interval)` and loses `refresh / refresh_interval` of its
/// time. So: `refresh` is the share of time the bank model lost to refresh on 512 B bursts
/// (times the interval); `overhead` what is left of its time per 512 B burst beyond the
/// data, `y(512) · (1 − share) − 512 B / peak`; `interval` its time per 32 B burst,
/// `y(32) · (1 − share)` (the controller's request rate binds there).
pub fn fit_fast_model(platform: &Platform, design: &Design) -> FastFit {
    let run = |burst_bytes: u64| {
        let probe = Probe {
            memory: ProbeMemory::Dram,
            pattern: Pattern::Sequential,
            burst_bytes,
            stride_bytes: burst_bytes,
            working_set_bytes: 256 << 20,
            channels: 1,
            outstanding: design.placement().outstanding_requests,
            write_share: 0.0,
            switch_distance: 0,
            stripe_bytes: design.placement().stripe_bytes,
            hls: false,
            bytes_per_channel: 4 << 20,
        };
        let result = run_probe(platform, design, &probe);
        (
            burst_bytes as f64 / result.achieved_bytes_per_s,
            result.refresh_share,
        )
    };
    let peak = platform.hbm.channel_bandwidth_bytes_per_s;
    let (long_s, share) = run(512);
    let (short_s, _) = run(32);
    FastFit {
        request_overhead_s: (long_s * (1.0 - share) - 512.0 / peak).max(0.0),
        request_interval_s: short_s * (1.0 - share),
        refresh_s: share * platform.hbm.refresh_interval_s,
    }
}

/// Idle read latency at the port for a page hit, a closed page and a page miss, in DRAM
/// cycles, on the bank-level model (switch latency included when the design enables it).
pub fn idle_read_latencies(platform: &Platform, design: &Design) -> [u64; 3] {
    let timing = platform.hbm.dram.expect("checked by the caller");
    let mut setup = DramSetup::new(platform, design);
    // Counted in DRAM cycles.
    setup.fabric_clock_hz = timing.clock_hz;
    let mut memory = Dram::new(timing, setup, 1);
    let extra = |row: u64| timing.row_bytes * timing.banks() * row;
    // Empty: the first read finds its bank closed; the next one to the same row hits; then
    // another row of the same bank misses.
    let mut measure = |address: u64, at: u64| {
        let request = ChannelRequest::contiguous(0, address, 32, 1);
        serve_together(&mut memory, &[request], at) - at
    };
    let closed = measure(0, 0);
    let hit = measure(32 * 2, 1000);
    let miss = measure(extra(1), 2000);
    [hit, closed, miss]
}

#[cfg(test)]
mod tests;
