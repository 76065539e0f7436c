//! The memory the engine moves tiles through. A transfer (a load into an engine's buffer or a
//! store from it) is a list of per-channel requests entering the memory at its engine's AXI
//! port; the memory says when the last of them is done and keeps per-channel statistics.
//! Two memories: the platform's HBM pseudo-channels behind its switch ([`Hbm`], timed in
//! [`super::hbm`]), and unlimited bandwidth with zero latency ([`IdealMemory`], the
//! `memory = "ideal"` of a design). The bank-level HBM ([`super::dram::Dram`],
//! `memory = "dram"`) is the third.

use super::hbm::{Channel, ChannelStats, ChannelTiming, TICKS_PER_CYCLE};
use super::switch::Switch;
use crate::lower::ChannelRequest;

/// A memory system as the engine sees it.
pub trait Memory {
    /// Starts the `requests` of a transfer (a store when `write`) that requester `unit`
    /// issues at `arrival_cycle`; `kernel` indexes per-kernel statistics. Returns the cycle
    /// its last data is back (or written) when the memory knows it at once; otherwise the
    /// memory reports it later from [`Memory::decide`], as `(tag, cycle)`.
    fn transfer(
        &mut self,
        requests: &[ChannelRequest],
        unit: u64,
        arrival_cycle: u64,
        kernel: usize,
        write: bool,
        tag: u32,
    ) -> Option<u64>;

    /// The cycle of the memory's next decision, if it has one pending: the caller starts
    /// every transfer that starts at or before it first, then calls [`Memory::decide`].
    fn next_event_cycle(&self) -> Option<u64> {
        None
    }

    /// Makes the memory's next decision; transfers it finishes are added to `done` as
    /// `(tag, cycle)`, each no earlier than the decision's cycle.
    fn decide(&mut self, _done: &mut Vec<(u32, u64)>) {}

    /// The access latency a transfer's time on the critical path is split at: latency up to
    /// it, bandwidth beyond.
    fn latency_cycles(&self) -> u64;

    /// Per channel, the statistics of the whole run, and of each kernel when kept.
    fn into_stats(self) -> MemoryStats;
}

/// What a memory measured, per channel.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MemoryStats {
    /// Per channel.
    pub channels: Vec<ChannelStats>,
    /// Per kernel, per channel; kept only for graphs of several kernels.
    pub per_kernel: Option<Vec<Vec<ChannelStats>>>,
}

/// The platform's HBM pseudo-channels, each a server with its port's outstanding window,
/// behind the AXI switch: with the switch enabled a request's data crosses the laterals
/// between its channel's and its port's mini-switches, then its port, each carrying one
/// port's bandwidth at a time (so a port never moves more than its own bandwidth).
#[derive(Debug)]
#[cfg_attr(test, derive(Clone))]
pub struct Hbm {
    timing: ChannelTiming,
    channels: Vec<Channel>,
    /// Per kernel of a graph of several (else one row for the whole run), per channel: what
    /// its requests took of the channel, their refreshes and waits included. A channel's
    /// figures are its rows' sum; each request adds to its own kernel's row as it is served,
    /// so nothing is handed from kernel to kernel (copying a channel's figures around each
    /// request stalled on wide reads of just-written fields, and handing them over when a
    /// channel turned to another kernel took 3.6 % of the spatial design's run).
    stats: Vec<ChannelStats>,
    per_kernel: bool,
    switch: Switch,
    /// Per port, the tick its data path is free.
    port_free: Vec<u64>,
    /// Whether no port's window can bind under the timing (worked out once): then no
    /// channel keeps one.
    window_never_binds: bool,
}

impl Hbm {
    /// `channels` idle channels of `timing`, for a graph of `kernels` kernels.
    pub fn new(timing: ChannelTiming, channels: usize, kernels: usize) -> Hbm {
        let switches = super::switch::switch_count(timing.channels, timing.channels_per_switch);
        let per_kernel = kernels > 1;
        let rows = if per_kernel { kernels } else { 1 };
        Hbm {
            timing,
            channels: vec![Channel::default(); channels],
            stats: vec![ChannelStats::default(); rows * channels],
            per_kernel,
            // Latency is the channel's to add (it frees the window); the switch carries data.
            switch: Switch::new(switches, timing.lateral_links, 0, false, TICKS_PER_CYCLE),
            port_free: vec![0; channels],
            window_never_binds: timing.window_never_binds(),
        }
    }
}

impl Memory for Hbm {
    fn transfer(
        &mut self,
        requests: &[ChannelRequest],
        unit: u64,
        arrival_cycle: u64,
        kernel: usize,
        write: bool,
        _: u32,
    ) -> Option<u64> {
        let arrival_tick = arrival_cycle * TICKS_PER_CYCLE;
        let mut done_tick = arrival_tick;
        let timing = &self.timing;
        let count = self.channels.len();
        let row = if self.per_kernel { kernel * count } else { 0 };
        let stats = &mut self.stats[row..row + count];
        let tracks_window = !self.window_never_binds;
        // Each channel on its own port: nothing but the channels to serve.
        if !timing.routing.switched() {
            for request in requests {
                let index = request.channel as usize;
                let request = (request.bytes, request.bursts, 0);
                let channel = &mut self.channels[index];
                let done = channel.serve(
                    timing,
                    tracks_window,
                    arrival_tick,
                    request,
                    &mut stats[index],
                );
                done_tick = done_tick.max(done);
            }
            return Some(done_tick.div_ceil(TICKS_PER_CYCLE));
        }
        for request in requests {
            let channel_index = u64::from(request.channel);
            let port = timing.port(unit, channel_index);
            let hops = timing.hops(port, channel_index);
            let index = request.channel as usize;
            let stats = &mut stats[index];
            let served = (request.bytes, request.bursts, hops);
            let channel = &mut self.channels[index];
            let mut done = channel.serve(timing, tracks_window, arrival_tick, served, stats);
            if request.bytes > 0 {
                // The data, ending `latency` before `done`, crosses the laterals and the port.
                let latency = timing.latency_ticks_after(hops);
                let data = timing.data_ticks(request.bytes);
                let data_end = done - latency;
                let switch_of = |index: u64| index / timing.channels_per_switch;
                let (from, to) = if write {
                    (switch_of(port), switch_of(channel_index))
                } else {
                    (switch_of(channel_index), switch_of(port))
                };
                let crossed = self.switch.carry((from, to), data_end, data, write, port);
                let free = &mut self.port_free[port as usize];
                let port_end = crossed.max(*free + data);
                *free = port_end;
                stats.crossing_ticks += port_end - data_end;
                done = port_end + latency;
            }
            done_tick = done_tick.max(done);
        }
        Some(done_tick.div_ceil(TICKS_PER_CYCLE))
    }

    fn latency_cycles(&self) -> u64 {
        self.timing.latency_ticks.div_ceil(TICKS_PER_CYCLE)
    }

    fn into_stats(self) -> MemoryStats {
        let count = self.channels.len();
        let mut channels = vec![ChannelStats::default(); count];
        for row in self.stats.chunks(count) {
            for (channel, share) in channels.iter_mut().zip(row) {
                channel.add(share);
            }
        }
        MemoryStats {
            channels,
            per_kernel: self.per_kernel.then(|| {
                self.stats
                    .chunks(count)
                    .map(<[ChannelStats]>::to_vec)
                    .collect()
            }),
        }
    }
}

/// Unlimited bandwidth and zero latency: every transfer is done the cycle it starts.
#[derive(Debug)]
pub struct IdealMemory {
    /// Channels the statistics list (all idle).
    pub channels: usize,
}

impl Memory for IdealMemory {
    fn transfer(
        &mut self,
        _: &[ChannelRequest],
        _: u64,
        arrival_cycle: u64,
        _: usize,
        _: bool,
        _: u32,
    ) -> Option<u64> {
        Some(arrival_cycle)
    }

    fn latency_cycles(&self) -> u64 {
        0
    }

    fn into_stats(self) -> MemoryStats {
        MemoryStats {
            channels: vec![ChannelStats::default(); self.channels],
            per_kernel: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Source;
    use crate::config::design::{AxiPorts, DEFAULT_DESIGN, load_design};
    use crate::config::platform::default_platform;

    /// Each kernel's share of each channel is exactly what the channel added while serving
    /// that kernel's requests (worked out here from a memory that keeps only whole channels,
    /// before and after every transfer), with kernels interleaved on shared channels, through
    /// per-channel ports and across the switch, and the channels' figures are the whole
    /// run's. Catches a share counted in another kernel's row.
    #[test]
    fn each_kernel_gets_what_its_requests_added() {
        let platform = default_platform();
        let design = load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform).unwrap();
        let switched = design
            .modified(&platform, "switched", |raw| {
                raw.hbm.axi_ports = AxiPorts::PerUnit
            })
            .unwrap();
        for design in [&design, &switched] {
            let timing = ChannelTiming::new(&platform, design);
            let kernels = 3;
            let channels = platform.hbm.channels as usize;
            let mut hbm = Hbm::new(timing, channels, kernels);
            let mut whole = Hbm::new(timing, channels, 1);
            let mut expected = vec![vec![ChannelStats::default(); channels]; kernels];
            // (kernel, first channel, channels, arrival cycle): turns on shared channels,
            // a kernel coming back to a channel, and requests that wait behind others.
            let transfers = [
                (0, 0, 4, 0),
                (1, 2, 4, 0),
                (0, 4, 2, 10),
                (2, 0, 8, 10),
                (1, 0, 2, 400),
                (1, 6, 2, 400),
                (0, 1, 3, 5_000),
            ];
            for (write, &(kernel, first, count, arrival)) in transfers.iter().enumerate() {
                let requests: Vec<ChannelRequest> = (first..first + count)
                    .map(|channel| ChannelRequest::contiguous(channel, 0, 4096, 8))
                    .collect();
                let before = whole.clone().into_stats().channels;
                let unit = kernel as u64 + 1;
                let write = write % 2 == 1;
                let done = hbm.transfer(&requests, unit, arrival, kernel, write, 0);
                assert_eq!(done, whole.transfer(&requests, unit, arrival, 0, write, 0));
                let after = whole.clone().into_stats().channels;
                for (channel, (after, before)) in after.iter().zip(&before).enumerate() {
                    expected[kernel][channel].add(&after.since(before));
                }
            }
            assert_eq!(
                hbm.clone().into_stats().channels,
                whole.into_stats().channels
            );
            let stats = hbm.into_stats();
            assert_eq!(stats.per_kernel.unwrap(), expected);
            let bytes: Vec<u64> = expected[2].iter().map(|stats| stats.bytes).collect();
            assert_eq!(bytes[..8], [4096; 8]);
            assert!(bytes[8..].iter().all(|&b| b == 0));
        }
    }

    /// Through per-channel ports under a timing whose windows never bind, a transfer ends
    /// when the slowest of its requests, each served on its own channel through
    /// [`Channel::serve`], is back (a request of no bursts adds nothing to the end), and each
    /// channel's statistics are its own. Catches an end taken from the last request rather
    /// than the slowest, a request served or counted on another channel, and the window
    /// decision taken other than the channel's timing gives (a debug assertion in `serve`);
    /// the channel's own timing is held to burst-by-burst service in `hbm::channel`.
    #[test]
    fn a_transfer_ends_as_its_requests_served_one_by_one() {
        let platform = default_platform();
        let design = load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform).unwrap();
        let timing = ChannelTiming::new(&platform, &design);
        assert!(!timing.routing.switched() && timing.window_never_binds());
        let mut hbm = Hbm::new(timing, 4, 1);
        let mut channels = vec![Channel::default(); 4];
        let mut stats = vec![ChannelStats::default(); 4];
        // (channels in request order, bytes per channel, bursts, arrival cycle): a wider
        // transfer after a narrow one on its channels, one arriving while they are busy, one
        // of no bursts, and one whose last request lands on an idle channel while its first
        // waits behind a long one.
        for (listed, bytes, bursts, arrival) in [
            (&[0, 1, 2, 3][..], 4096, 8, 0),
            (&[1, 2, 3], 512, 1, 2),
            (&[0, 1, 2, 3], 64, 1, 3),
            (&[2, 3], 0, 0, 4),
            (&[3], 1 << 20, 2048, 100_000),
            (&[3, 2], 64, 1, 100_001),
        ] {
            let requests: Vec<ChannelRequest> = listed
                .iter()
                .map(|&channel| ChannelRequest::contiguous(channel, 0, bytes, bursts))
                .collect();
            let arrival_tick = arrival * TICKS_PER_CYCLE;
            let expected = requests
                .iter()
                .map(|request| {
                    let index = request.channel as usize;
                    let served = (request.bytes, request.bursts, 0);
                    let tracks = !timing.window_never_binds();
                    channels[index].serve(&timing, tracks, arrival_tick, served, &mut stats[index])
                })
                .fold(arrival_tick, u64::max)
                .div_ceil(TICKS_PER_CYCLE);
            let done = hbm.transfer(&requests, 0, arrival, 0, false, 0);
            assert_eq!(
                done,
                Some(expected),
                "transfer to channels {listed:?} at {arrival}"
            );
        }
        assert_eq!(hbm.into_stats().channels, stats);
    }
}
