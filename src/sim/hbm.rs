//! One HBM pseudo-channel as a FIFO server with sub-cycle time.
//!
//! A request of `bursts` bursts carrying `bytes` occupies the channel for its data beats at
//! the channel's peak rate plus a fixed overhead per burst (what makes short bursts slow). With
//! `O` requests in flight and access latency `L`, a port cannot issue faster than one burst per
//! `(L + burst time) / O`: latency that is not hidden stretches the occupancy. Every
//! `refresh_interval` the channel is taken away for `refresh`. Data returns `L` after service.

use crate::config::design::{AxiPorts, Design};
use crate::config::platform::Platform;

/// Fractions of a fabric cycle the channel clock counts in, so per-burst times stay exact.
pub const TICKS_PER_CYCLE: u64 = 1024;

/// Channel timing in ticks, derived once from the platform and design.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelTiming {
    /// Ticks per byte at the channel's peak, in 1/65536ths (fixed point keeps requests exact
    /// and cheap).
    pub ticks_per_byte_q16: u64,
    pub overhead_ticks_per_burst: u64,
    pub latency_ticks: u64,
    pub outstanding: u64,
    pub refresh_interval_ticks: u64,
    pub refresh_ticks: u64,
    pub channels_per_switch: u64,
    /// Mini-switches of the HBM.
    pub switches: u64,
    /// Data ticks per byte of traffic that crosses mini-switches, in 1/65536ths.
    pub crossing_ticks_per_byte_q16: u64,
    pub hop_latency_ticks: u64,
    /// Whether requests enter at their requester's mini-switch (else at their channel's).
    pub per_unit_ports: bool,
}

impl ChannelTiming {
    pub fn new(platform: &Platform, design: &Design) -> Self {
        let hbm = &platform.hbm;
        let ticks_per_s = design.clock_hz() * TICKS_PER_CYCLE as f64;
        ChannelTiming {
            ticks_per_byte_q16: (ticks_per_s / hbm.channel_bandwidth_bytes_per_s * 65536.0).round()
                as u64,
            overhead_ticks_per_burst: (hbm.request_overhead_s * ticks_per_s).round() as u64,
            latency_ticks: (hbm.access_latency_s * ticks_per_s).round() as u64,
            outstanding: design.placement().outstanding_requests,
            refresh_interval_ticks: (hbm.refresh_interval_s * ticks_per_s).round() as u64,
            refresh_ticks: (hbm.refresh_s * ticks_per_s).round() as u64,
            channels_per_switch: hbm.channels_per_switch,
            switches: (hbm.channels / hbm.channels_per_switch).max(1),
            crossing_ticks_per_byte_q16: (ticks_per_s
                / (hbm.channel_bandwidth_bytes_per_s * hbm.crossing_bandwidth_share)
                * 65536.0)
                .round() as u64,
            hop_latency_ticks: (hbm.switch_hop_latency_s * ticks_per_s).round() as u64,
            per_unit_ports: design.placement().axi_ports == AxiPorts::PerUnit,
        }
    }

    /// Mini-switches a request from `unit` to `channel` crosses.
    pub fn hops(&self, unit: u64, channel: u64) -> u64 {
        if !self.per_unit_ports {
            return 0;
        }
        (channel / self.channels_per_switch).abs_diff(unit % self.switches)
    }
}

/// Where the ticks of a channel went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelStats {
    pub bytes: u64,
    pub bursts: u64,
    /// Data beats at peak rate.
    pub data_ticks: u64,
    /// Per-burst overhead (short bursts).
    pub overhead_ticks: u64,
    /// Occupancy added because the outstanding requests could not cover the latency.
    pub latency_ticks: u64,
    pub refresh_ticks: u64,
    /// Data ticks beyond the peak rate spent on traffic crossing mini-switches.
    pub crossing_ticks: u64,
}

impl ChannelStats {
    pub fn busy_ticks(&self) -> u64 {
        self.data_ticks
            + self.overhead_ticks
            + self.latency_ticks
            + self.refresh_ticks
            + self.crossing_ticks
    }

    pub fn add(&mut self, other: &ChannelStats) {
        self.bytes += other.bytes;
        self.bursts += other.bursts;
        self.data_ticks += other.data_ticks;
        self.overhead_ticks += other.overhead_ticks;
        self.latency_ticks += other.latency_ticks;
        self.refresh_ticks += other.refresh_ticks;
        self.crossing_ticks += other.crossing_ticks;
    }
}

/// One pseudo-channel: free again at `free_tick`.
#[derive(Debug, Clone, Default)]
pub struct Channel {
    free_tick: u64,
    /// The first refresh not yet charged.
    next_refresh_tick: u64,
    pub stats: ChannelStats,
}

impl Channel {
    /// Serves a request arriving at `arrival_tick` after crossing `hops` mini-switches; returns
    /// the tick its data is back.
    pub fn serve(
        &mut self,
        timing: &ChannelTiming,
        arrival_tick: u64,
        bytes: u64,
        bursts: u64,
        hops: u64,
    ) -> u64 {
        let data = (bytes * timing.ticks_per_byte_q16).div_ceil(65536);
        let crossing = if hops > 0 {
            (bytes * timing.crossing_ticks_per_byte_q16).div_ceil(65536) - data
        } else {
            0
        };
        let latency = timing.latency_ticks + hops * timing.hop_latency_ticks;
        let overhead = bursts * timing.overhead_ticks_per_burst;
        let service = data + crossing + overhead;
        // Each burst holds one of the `outstanding` request slots for latency + its service.
        let slot_ticks = bursts * latency + service;
        let occupancy = if service * timing.outstanding >= slot_ticks {
            service
        } else {
            slot_ticks.div_ceil(timing.outstanding)
        };
        let start = arrival_tick.max(self.free_tick);
        let mut end = start + occupancy;
        if start >= self.next_refresh_tick {
            // Refreshes while the channel was idle cost no request anything.
            self.next_refresh_tick =
                (start / timing.refresh_interval_ticks + 1) * timing.refresh_interval_ticks;
        }
        let mut refreshes = 0;
        while end >= self.next_refresh_tick {
            self.next_refresh_tick += timing.refresh_interval_ticks;
            refreshes += 1;
        }
        end += refreshes * timing.refresh_ticks;
        self.free_tick = end;
        self.stats.bytes += bytes;
        self.stats.bursts += bursts;
        self.stats.data_ticks += data;
        self.stats.overhead_ticks += overhead;
        self.stats.latency_ticks += occupancy - service;
        self.stats.refresh_ticks += refreshes * timing.refresh_ticks;
        self.stats.crossing_ticks += crossing;
        end + latency
    }
}

/// Streams `total_bytes` of reads in `burst_bytes` requests spread over `channels` channels
/// and returns the achieved bandwidth; compares the channel model with boards' measurements.
pub fn probe_bandwidth_bytes_per_s(
    timing: &ChannelTiming,
    clock_hz: f64,
    channels: u64,
    burst_bytes: u64,
    total_bytes: u64,
) -> f64 {
    let mut servers = vec![Channel::default(); channels as usize];
    let requests = total_bytes / burst_bytes;
    let mut last_tick = 0;
    for request in 0..requests {
        let channel = &mut servers[(request % channels) as usize];
        last_tick = last_tick.max(channel.serve(timing, 0, burst_bytes, 1, 0));
    }
    let seconds = last_tick as f64 / (clock_hz * TICKS_PER_CYCLE as f64);
    (requests * burst_bytes) as f64 / seconds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Source;
    use crate::config::design::{DEFAULT_DESIGN, load_design};
    use crate::config::platform::default_platform;

    fn timing() -> (ChannelTiming, f64) {
        let platform = default_platform();
        let design = load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform).unwrap();
        (ChannelTiming::new(&platform, &design), design.clock_hz())
    }

    #[test]
    fn long_bursts_reach_the_measured_bandwidth() {
        let (timing, clock) = timing();
        let gb_per_s = probe_bandwidth_bytes_per_s(&timing, clock, 1, 512, 64 << 20) / 1e9;
        assert!((gb_per_s - 13.27).abs() < 0.3, "{gb_per_s}");
    }

    #[test]
    fn short_bursts_are_slow() {
        let (timing, clock) = timing();
        let gb_per_s = probe_bandwidth_bytes_per_s(&timing, clock, 1, 32, 8 << 20) / 1e9;
        assert!((5.0..8.0).contains(&gb_per_s), "{gb_per_s}");
    }

    #[test]
    fn one_outstanding_request_exposes_the_latency() {
        // With one request in flight a burst of B bytes takes B / BW + latency (+ our burst
        // overhead and refresh): the HLS view of HBM Connect (Choi et al.).
        let (mut timing, clock) = timing();
        timing.outstanding = 1;
        let platform = default_platform();
        let hbm = &platform.hbm;
        for burst in [64u64, 512, 4096] {
            let seconds = burst as f64 / hbm.channel_bandwidth_bytes_per_s
                + hbm.access_latency_s
                + hbm.request_overhead_s;
            let expected = burst as f64 / seconds * (1.0 - hbm.refresh_s / hbm.refresh_interval_s);
            let got = probe_bandwidth_bytes_per_s(&timing, clock, 1, burst, 8 << 20);
            assert!(
                (got / expected - 1.0).abs() < 0.01,
                "{burst} B: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn channels_add_up() {
        let (timing, clock) = timing();
        let one = probe_bandwidth_bytes_per_s(&timing, clock, 1, 512, 32 << 20);
        let all = probe_bandwidth_bytes_per_s(&timing, clock, 32, 512, 32 << 20);
        assert!((all / one - 32.0).abs() < 0.5, "{}", all / one);
    }
}
