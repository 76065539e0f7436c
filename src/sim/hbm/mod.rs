//! One HBM pseudo-channel as a FIFO server with sub-cycle time: the fast model, whose
//! constants are re-derived from the bank-level model ([`crate::sim::probe::fit_fast_model`]).
//! Here the channel's timing in ticks and its statistics; the server itself in `channel`,
//! its port's window of bursts in flight in `window`.
//!
//! A request of `bursts` bursts carrying `bytes` occupies the channel, burst after burst, for
//! its data beats at the channel's peak rate plus a fixed overhead per burst, and at least
//! the controller's request interval per burst (what makes short bursts slow). The channel's
//! port keeps at most `O` bursts in flight: a window of the release times of the bursts it
//! has issued. A burst that finds all `O` slots taken waits for the oldest to be released. A burst's data is back `L` (the access latency, plus the
//! switch hops it crosses) after the channel has served it, and only then is its slot free.
//! So one burst alone takes `service + L`; `O` bursts keep the channel busy when
//! `(O − 1) · service ≥ L`; otherwise a port moves `O` bursts per `service + L`: the
//! `B / (B / BW + L)` of HBM Connect (Choi et al., FPGA 2021) at `O = 1`. Every
//! `refresh_interval` the channel is taken away for `refresh`. With the switch enabled, data
//! then crosses the switch's laterals and its port ([`super::switch`], [`super::memory::Hbm`]).

use super::switch::Routing;
use crate::config::design::Design;
use crate::config::platform::Platform;

mod channel;
mod window;

pub use channel::Channel;

/// Fractions of a fabric cycle the channel clock counts in, so per-burst times stay exact.
pub const TICKS_PER_CYCLE: u64 = 1024;

/// Channel timing in ticks, derived once from the platform and design.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelTiming {
    /// Ticks per byte at the channel's peak, in 1/65536ths (fixed point keeps requests exact
    /// and cheap).
    pub ticks_per_byte_q16: u64,
    /// Channel time per burst besides its data.
    pub overhead_ticks_per_burst: u64,
    /// The controller takes at most one request per this many ticks.
    pub interval_ticks_per_burst: u64,
    /// Idle read latency.
    pub latency_ticks: u64,
    /// Requests a port keeps in flight.
    pub outstanding: u64,
    /// Time between refreshes.
    pub refresh_interval_ticks: u64,
    /// Time a refresh takes.
    pub refresh_ticks: u64,
    /// Pseudo-channels.
    pub channels: u64,
    /// Channels per mini-switch.
    pub channels_per_switch: u64,
    /// Lateral links between neighbouring mini-switches.
    pub lateral_links: u64,
    /// Latency per mini-switch crossed.
    pub hop_latency_ticks: u64,
    /// Which port each requester's traffic enters at.
    pub routing: Routing,
}

impl ChannelTiming {
    /// The timing of `platform`'s HBM for `design`, its ports as the design places them.
    pub fn new(platform: &Platform, design: &Design) -> Self {
        Self::with_routing(platform, design, Routing::of(design.placement().axi_ports))
    }

    /// The timing with requests entering at the ports `routing` gives.
    pub fn with_routing(platform: &Platform, design: &Design, routing: Routing) -> Self {
        let hbm = &platform.hbm;
        let ticks_per_s = design.clock_hz() * TICKS_PER_CYCLE as f64;
        // With the switch enabled every access pays about 7 cycles at 450 MHz, as a hop
        // does, before any crossing (Shuhai, FCCM 2020).
        let switch_enable_s = if routing.switched() {
            hbm.switch_hop_latency_s
        } else {
            0.0
        };
        ChannelTiming {
            ticks_per_byte_q16: (ticks_per_s / hbm.channel_bandwidth_bytes_per_s * 65536.0).round()
                as u64,
            overhead_ticks_per_burst: (hbm.request_overhead_s * ticks_per_s).round() as u64,
            interval_ticks_per_burst: (hbm.request_interval_s * ticks_per_s).round() as u64,
            latency_ticks: ((hbm.access_latency_s + switch_enable_s) * ticks_per_s).round() as u64,
            outstanding: design.placement().outstanding_requests,
            refresh_interval_ticks: (hbm.refresh_interval_s * ticks_per_s).round() as u64,
            refresh_ticks: (hbm.refresh_s * ticks_per_s).round() as u64,
            channels: hbm.channels,
            channels_per_switch: hbm.channels_per_switch,
            lateral_links: hbm.lateral_links,
            hop_latency_ticks: (hbm.switch_hop_latency_s * ticks_per_s).round() as u64,
            routing,
        }
    }

    /// The port `unit`'s traffic to `channel` enters at.
    pub fn port(&self, unit: u64, channel: u64) -> u64 {
        self.routing
            .port(unit, channel, self.channels, self.channels_per_switch)
    }

    /// Ticks from the end of a burst's service to its data back, `hops` mini-switches away.
    pub fn latency_ticks_after(&self, hops: u64) -> u64 {
        self.latency_ticks + hops * self.hop_latency_ticks
    }

    /// Mini-switches between `port` and `channel`.
    pub fn hops(&self, port: u64, channel: u64) -> u64 {
        (port / self.channels_per_switch).abs_diff(channel / self.channels_per_switch)
    }

    /// The most mini-switches a request may cross: to the far end of the switch when it is
    /// enabled, none when each channel has its own port.
    pub fn farthest_hops(&self) -> u64 {
        if self.routing.switched() {
            crate::sim::switch::switch_count(self.channels, self.channels_per_switch) - 1
        } else {
            0
        }
    }

    /// Whether no burst can ever wait for a slot of its port's window, so the window need
    /// not be kept: even the farthest channel's latency is covered by `outstanding − 1` of
    /// the shortest services a burst can take (a request's service is at least its bursts ×
    /// the request interval and × the overhead, so no burst's share is shorter than either;
    /// see `Channel::shortest_service` for why that suffices).
    pub fn window_never_binds(&self) -> bool {
        let shortest = self
            .interval_ticks_per_burst
            .max(self.overhead_ticks_per_burst);
        self.latency_ticks_after(self.farthest_hops()) <= (self.outstanding - 1) * shortest
    }

    /// A request's data ticks and its overhead beyond them: at least the per-burst overhead,
    /// and enough to space its bursts the request interval apart.
    pub fn service_ticks(&self, bytes: u64, bursts: u64) -> (u64, u64) {
        let data = self.data_ticks(bytes);
        let overhead = (bursts * self.overhead_ticks_per_burst)
            .max((bursts * self.interval_ticks_per_burst).saturating_sub(data));
        (data, overhead)
    }

    /// Data ticks of `bytes` at the channel's (and a port's) peak rate.
    pub fn data_ticks(&self, bytes: u64) -> u64 {
        (bytes * self.ticks_per_byte_q16).div_ceil(65536)
    }
}

/// Where the ticks of a channel went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelStats {
    /// Bytes served.
    pub bytes: u64,
    /// Bursts served.
    pub bursts: u64,
    /// Data beats at peak rate.
    pub data_ticks: u64,
    /// Per-burst overhead (short bursts).
    pub overhead_ticks: u64,
    /// Ticks the channel sat idle with a burst waiting because all of its port's outstanding
    /// slots were still waiting for their data: latency the window could not hide.
    pub latency_ticks: u64,
    /// Time refreshes took the channel.
    pub refresh_ticks: u64,
    /// Ticks data waited for a lateral link of the switch or a port shared with other
    /// channels.
    pub crossing_ticks: u64,
}

impl ChannelStats {
    /// Time the channel was held: data, overhead, latency its window could not hide, refresh
    /// and waits for a lateral link or port.
    pub fn busy_ticks(&self) -> u64 {
        self.data_ticks
            + self.overhead_ticks
            + self.latency_ticks
            + self.refresh_ticks
            + self.crossing_ticks
    }

    /// What was added to these stats since they were `before`.
    pub fn since(&self, before: &ChannelStats) -> ChannelStats {
        ChannelStats {
            bytes: self.bytes - before.bytes,
            bursts: self.bursts - before.bursts,
            data_ticks: self.data_ticks - before.data_ticks,
            overhead_ticks: self.overhead_ticks - before.overhead_ticks,
            latency_ticks: self.latency_ticks - before.latency_ticks,
            refresh_ticks: self.refresh_ticks - before.refresh_ticks,
            crossing_ticks: self.crossing_ticks - before.crossing_ticks,
        }
    }

    /// Adds another channel's (or kernel's) figures.
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
