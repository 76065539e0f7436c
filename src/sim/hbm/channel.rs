//! The pseudo-channel server of the fast HBM model (timing in the parent module's doc): its
//! requests' bursts back to back, its port's window of bursts in flight (kept only when it
//! can bind), refreshes, and what each request adds to the statistics it is counted in (the
//! channel's, or its kernel's share of them).

use super::window::{Run, Window};
use super::{ChannelStats, ChannelTiming};

/// One pseudo-channel: free again at `free_tick`.
#[derive(Debug, Clone, Default)]
pub struct Channel {
    free_tick: u64,
    /// The first refresh not yet charged.
    next_refresh_tick: u64,
    /// The bursts in flight on this channel's port.
    window: Window,
    /// The shortest burst service and the longest latency seen so far: while
    /// `latency ≤ (outstanding − 1) · service` holds for them, no burst can wait for a slot
    /// (the burst `outstanding` places earlier ended at least `outstanding − 1` services
    /// before this one can start, and was released one latency after it ended).
    shortest_service: Option<u64>,
    longest_latency: u64,
}

impl Channel {
    /// Serves a request arriving at `arrival_tick` after crossing `hops` mini-switches, adding
    /// what it took of the channel (its refreshes and waits included) to `stats`; returns the
    /// tick its data is back. The port's window is kept (`tracks_window`) unless the timing
    /// says it can never bind (`!timing.window_never_binds()`, which the memory works out
    /// once for all its channels).
    #[inline(always)]
    pub fn serve(
        &mut self,
        timing: &ChannelTiming,
        tracks_window: bool,
        arrival_tick: u64,
        (bytes, bursts, hops): (u64, u64, u64),
        stats: &mut ChannelStats,
    ) -> u64 {
        debug_assert_eq!(tracks_window, !timing.window_never_binds());
        debug_assert!(
            tracks_window
                || timing.latency_ticks_after(hops)
                    <= timing.latency_ticks_after(timing.farthest_hops())
        );
        // An untracked window: the bursts run back to back, and a refresh due when one ends
        // delays the rest, so the request as a whole ends after as many refreshes as its
        // end reaches (what serving burst by burst gives, in a few operations).
        if !tracks_window && bursts > 0 {
            let (data, overhead) = timing.service_ticks(bytes, bursts);
            let start = arrival_tick.max(self.free_tick);
            self.skip_idle_refreshes(timing, start);
            let end = self.refreshed_end(timing, start + data + overhead, stats);
            count(stats, bytes, bursts, data, overhead);
            self.free_tick = end;
            return end + timing.latency_ticks_after(hops);
        }
        self.serve_any(timing, arrival_tick, (bytes, bursts, hops), stats)
    }

    /// Work that would end at `end` delayed by every refresh due by then (each one pushing
    /// the end, and so perhaps reaching the next), the refreshes charged to `stats`.
    fn refreshed_end(
        &mut self,
        timing: &ChannelTiming,
        mut end: u64,
        stats: &mut ChannelStats,
    ) -> u64 {
        while end >= self.next_refresh_tick {
            self.next_refresh_tick += timing.refresh_interval_ticks;
            end += timing.refresh_ticks;
            stats.refresh_ticks += timing.refresh_ticks;
        }
        end
    }

    /// [`Channel::serve`] with its window kept (or of no bursts).
    #[inline(never)]
    fn serve_any(
        &mut self,
        timing: &ChannelTiming,
        arrival_tick: u64,
        (bytes, bursts, hops): (u64, u64, u64),
        stats: &mut ChannelStats,
    ) -> u64 {
        let (data, overhead) = timing.service_ticks(bytes, bursts);
        let latency = timing.latency_ticks_after(hops);
        let service = data + overhead;
        count(stats, bytes, bursts, data, overhead);
        if bursts == 0 {
            return arrival_tick;
        }
        // Bursts split the request's service evenly; the first `longer` take one tick more.
        // (One burst, the common case, needs no division.)
        let (base, longer) = if bursts == 1 {
            (service, 0)
        } else {
            (service / bursts, service % bursts)
        };
        let start = arrival_tick.max(self.free_tick);
        self.skip_idle_refreshes(timing, start);
        let shortest = self.shortest_service.map_or(base, |s| s.min(base));
        self.shortest_service = Some(shortest);
        self.longest_latency = self.longest_latency.max(latency);
        // Slots released by the time the request arrives bind nothing.
        self.window.release_all_by(arrival_tick);
        let window_may_bind = self.longest_latency > (timing.outstanding - 1) * shortest;
        if let Some(done) = self.serve_back_to_back(
            timing,
            start,
            bursts,
            (base, longer),
            (service, latency),
            window_may_bind,
        ) {
            return done;
        }
        let mut done_tick = arrival_tick;
        for burst in 0..bursts {
            let burst_service = base + u64::from(burst < longer);
            let mut issue = arrival_tick;
            if self.window.len() >= timing.outstanding {
                let freed = self.window.pop_oldest().expect("a full window has bursts");
                issue = issue.max(freed);
            }
            let ready = arrival_tick.max(self.free_tick);
            let start = issue.max(self.free_tick);
            stats.latency_ticks += start - ready;
            self.skip_idle_refreshes(timing, start);
            let end = self.refreshed_end(timing, start + burst_service, stats);
            self.free_tick = end;
            done_tick = end + latency;
            self.window
                .push(Run::single(end, latency), timing.outstanding);
        }
        done_tick
    }

    /// Refreshes while the channel was idle cost no request anything: the next one to charge
    /// is the first after `start`.
    fn skip_idle_refreshes(&mut self, timing: &ChannelTiming, start: u64) {
        if start >= self.next_refresh_tick {
            self.next_refresh_tick =
                (start / timing.refresh_interval_ticks + 1) * timing.refresh_interval_ticks;
        }
    }

    /// The request's bursts from `start` one after another, when no burst waits for a slot of
    /// the window and no refresh falls inside: the common case, in a few operations. Unless
    /// `window_may_bind`, no burst can wait (see `shortest_service`). `None` when
    /// burst-by-burst service is needed.
    fn serve_back_to_back(
        &mut self,
        timing: &ChannelTiming,
        start: u64,
        bursts: u64,
        (base, longer): (u64, u64),
        (service, latency): (u64, u64),
        window_may_bind: bool,
    ) -> Option<u64> {
        let end = start + service;
        if end >= self.next_refresh_tick {
            return None;
        }
        let capacity = timing.outstanding;
        if window_may_bind {
            // The window may bind: check this request's bursts against the slots they take.
            let free = capacity - self.window.len();
            let popped = bursts.saturating_sub(free).min(self.window.len());
            // Bursts beyond the window's capacity wait for this request's own earlier
            // bursts, released `latency` after they end, `capacity - 1` bursts earlier.
            let own_released = bursts <= capacity || latency <= (capacity - 1) * base;
            if !own_released || !self.window.releases_by(free, popped, start, base, longer) {
                return None;
            }
        }
        // Pushing frees the oldest slots beyond capacity: the `popped` ones, run by run.
        self.window.push(
            Run {
                origin: start,
                base,
                longer,
                first: 0,
                count: bursts,
                latency,
            },
            capacity,
        );
        self.free_tick = end;
        Some(end + latency)
    }
}

/// Adds a request's bytes, bursts and service to `stats`.
fn count(stats: &mut ChannelStats, bytes: u64, bursts: u64, data: u64, overhead: u64) {
    stats.bytes += bytes;
    stats.bursts += bursts;
    stats.data_ticks += data;
    stats.overhead_ticks += overhead;
}

#[cfg(test)]
mod tests {
    use super::super::TICKS_PER_CYCLE;
    use super::*;
    use crate::config::Source;
    use crate::config::design::AxiPorts;
    use crate::config::design::{DEFAULT_DESIGN, load_design};
    use crate::config::platform::default_platform;
    use crate::sim::switch::Routing;

    /// Streams `total_bytes` of reads in `burst_bytes` requests spread over `channels` channels
    /// and returns the achieved bandwidth; compares the channel model with boards' measurements.
    fn probe_bandwidth_bytes_per_s(
        timing: &ChannelTiming,
        clock_hz: f64,
        channels: u64,
        burst_bytes: u64,
        total_bytes: u64,
    ) -> f64 {
        let mut servers = vec![Channel::default(); channels as usize];
        let tracks = !timing.window_never_binds();
        let requests = total_bytes / burst_bytes;
        let mut last_tick = 0;
        for request in 0..requests {
            let channel = &mut servers[(request % channels) as usize];
            let served = channel.serve(
                timing,
                tracks,
                0,
                (burst_bytes, 1, 0),
                &mut ChannelStats::default(),
            );
            last_tick = last_tick.max(served);
        }
        let seconds = last_tick as f64 / (clock_hz * TICKS_PER_CYCLE as f64);
        (requests * burst_bytes) as f64 / seconds
    }

    fn timing() -> (ChannelTiming, f64) {
        let platform = default_platform();
        let design = load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform).unwrap();
        (ChannelTiming::new(&platform, &design), design.clock_hz())
    }

    /// With the switch enabled (`per_unit` ports) a lone read waits one hop longer even to
    /// its own mini-switch's channel: 107 + 15.6 ns.
    #[test]
    fn an_enabled_switch_adds_its_latency_to_every_access() {
        let platform = default_platform();
        let design = load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform).unwrap();
        let switched = design
            .modified(&platform, "test", |raw| {
                raw.hbm.axi_ports = AxiPorts::PerUnit
            })
            .unwrap();
        let (direct, through) = (
            ChannelTiming::new(&platform, &design),
            ChannelTiming::new(&platform, &switched),
        );
        assert_eq!(through.hops(0, 0), 0);
        let ns = |ticks: u64| ticks as f64 / (design.clock_hz() * TICKS_PER_CYCLE as f64) * 1e9;
        assert!((ns(direct.latency_ticks) - 107.0).abs() < 0.1);
        assert!((ns(through.latency_ticks) - 122.6).abs() < 0.1);
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

    /// Seconds one burst of `bytes` holds the channel: data at peak plus the burst overhead,
    /// at least the request interval.
    fn burst_s(bytes: u64) -> f64 {
        let hbm = default_platform().hbm;
        (bytes as f64 / hbm.channel_bandwidth_bytes_per_s + hbm.request_overhead_s)
            .max(hbm.request_interval_s)
    }

    #[test]
    fn one_outstanding_request_exposes_the_latency() {
        // With one request in flight a burst of B bytes takes B / BW + latency (+ our burst
        // overhead): the HLS view of HBM Connect (Choi et al.). A refresh costs only where it
        // falls in a burst's service, not in the idle latency between bursts, so the result
        // lies between that figure and that figure less the whole refresh share.
        let (mut timing, clock) = timing();
        timing.outstanding = 1;
        let hbm = default_platform().hbm;
        let refresh_share = hbm.refresh_s / hbm.refresh_interval_s;
        for burst in [64u64, 512, 4096] {
            let expected = burst as f64 / (burst_s(burst) + hbm.access_latency_s);
            let got = probe_bandwidth_bytes_per_s(&timing, clock, 1, burst, 8 << 20);
            assert!(
                got <= expected * 1.001 && got >= expected * (1.0 - refresh_share) * 0.999,
                "{burst} B: {got} vs {expected}"
            );
        }
    }

    /// Regression: the latency was once counted twice when the window could not hide it
    /// (220 ns for a lone 64 B read instead of 111 ns: 4.5 ns of data and 107 of latency).
    #[test]
    fn a_lone_request_returns_after_its_service_and_one_latency() {
        let (mut timing, clock) = timing();
        let ticks_per_s = clock * TICKS_PER_CYCLE as f64;
        let latency_s = default_platform().hbm.access_latency_s;
        for outstanding in [1, 32] {
            timing.outstanding = outstanding;
            let tracks = !timing.window_never_binds();
            let done = Channel::default().serve(
                &timing,
                tracks,
                0,
                (64, 1, 0),
                &mut ChannelStats::default(),
            );
            let done_s = done as f64 / ticks_per_s;
            let expected = burst_s(64) + latency_s;
            assert!((done_s - expected).abs() < 1e-9, "{done_s} vs {expected}");
            assert!((done_s * 1e9 - 111.5).abs() < 0.5, "{} ns", done_s * 1e9);
        }
    }

    /// The window is dropped only when it provably cannot bind: 31 further requests at
    /// 4.4 ns each (136 ns) cover the 107 ns latency of a channel on its own port, not 7
    /// outstanding (31 ns), nor the 216 ns of a channel seven mini-switches away.
    #[test]
    fn a_window_is_kept_unless_it_can_never_bind() {
        let (mut timing, _) = timing();
        assert_eq!(timing.outstanding, 32);
        assert!(timing.window_never_binds());
        timing.outstanding = 8;
        assert!(!timing.window_never_binds());
        timing.outstanding = 32;
        timing.routing = Routing::PerUnit;
        assert_eq!(timing.farthest_hops(), 7);
        assert!(!timing.window_never_binds());
    }

    /// A port moves `O` bursts per `service + latency` until the channel itself is the limit.
    #[test]
    fn bandwidth_grows_with_outstanding_requests_up_to_the_channel() {
        let (mut timing, clock) = timing();
        let hbm = default_platform().hbm;
        let refresh_share = hbm.refresh_s / hbm.refresh_interval_s;
        let burst = 64;
        let mut previous = 0.0;
        for outstanding in [1u64, 2, 4, 8, 16, 32, 64] {
            timing.outstanding = outstanding;
            let got = probe_bandwidth_bytes_per_s(&timing, clock, 1, burst, 8 << 20);
            let window =
                outstanding as f64 * burst as f64 / (burst_s(burst) + hbm.access_latency_s);
            let channel = burst as f64 / burst_s(burst) * (1.0 - refresh_share);
            // A refresh that falls in a window-bound run stretches it by up to its share.
            let expected = window.min(channel);
            assert!(
                got <= expected * 1.03 && got >= expected * (1.0 - refresh_share) * 0.99,
                "{outstanding} outstanding: {got} vs {expected}"
            );
            assert!(
                got >= previous,
                "more outstanding requests never slow a port"
            );
            previous = got;
        }
    }

    /// The channel served burst by burst with a plain ring of release ticks: the definition
    /// the run-length window and the back-to-back shortcut must reproduce exactly.
    #[derive(Default)]
    struct Reference {
        free_tick: u64,
        next_refresh_tick: u64,
        in_flight: std::collections::VecDeque<u64>,
        stats: ChannelStats,
    }

    impl Reference {
        fn serve(
            &mut self,
            timing: &ChannelTiming,
            arrival: u64,
            bytes: u64,
            bursts: u64,
            hops: u64,
        ) -> u64 {
            let data = timing.data_ticks(bytes);
            let latency = timing.latency_ticks_after(hops);
            let overhead = (bursts * timing.overhead_ticks_per_burst)
                .max((bursts * timing.interval_ticks_per_burst).saturating_sub(data));
            let service = data + overhead;
            let mut done = arrival;
            for burst in 0..bursts {
                let burst_service = service / bursts + u64::from(burst < service % bursts);
                let mut issue = arrival;
                if self.in_flight.len() as u64 >= timing.outstanding {
                    issue = issue.max(self.in_flight.pop_front().unwrap());
                }
                let ready = arrival.max(self.free_tick);
                let start = issue.max(self.free_tick);
                self.stats.latency_ticks += start - ready;
                if start >= self.next_refresh_tick {
                    self.next_refresh_tick =
                        (start / timing.refresh_interval_ticks + 1) * timing.refresh_interval_ticks;
                }
                let mut end = start + burst_service;
                while end >= self.next_refresh_tick {
                    self.next_refresh_tick += timing.refresh_interval_ticks;
                    end += timing.refresh_ticks;
                    self.stats.refresh_ticks += timing.refresh_ticks;
                }
                self.free_tick = end;
                done = end + latency;
                self.in_flight.push_back(done);
            }
            self.stats.bytes += bytes;
            self.stats.bursts += bursts;
            self.stats.data_ticks += data;
            self.stats.overhead_ticks += overhead;
            done
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Any sequence of requests, on any window size, latency and switch distance (each
        /// channel on its own port, or through the switch): the same return ticks and
        /// statistics as serving burst by burst, whether the window is kept or provably
        /// never binds.
        #[test]
        fn runs_and_the_shortcut_serve_exactly_as_burst_by_burst(
            outstanding in 1u64..40,
            latency_ns in 0.0f64..400.0,
            switched in proptest::bool::ANY,
            requests in proptest::collection::vec(
                (0u64..20_000, 1u64..40_000, 1u64..100, 0u64..4), 1..120,
            ),
        ) {
            let (mut timing, _) = timing();
            timing.outstanding = outstanding;
            timing.latency_ticks = (latency_ns * 0.3 * TICKS_PER_CYCLE as f64) as u64;
            if switched {
                timing.routing = Routing::PerUnit;
            }
            let requests = requests
                .into_iter()
                .map(|(gap, bytes, bursts, hops)| (gap, bytes, bursts, hops * u64::from(switched)));
            let (mut fast, mut reference) = (Channel::default(), Reference::default());
            let mut fast_stats = ChannelStats::default();
            let mut arrival = 0;
            for (gap, bytes, bursts, hops) in requests {
                arrival += gap;
                let bursts = bursts.min(bytes);
                let tracks = !timing.window_never_binds();
                let served = (bytes, bursts, hops);
                let got = fast.serve(&timing, tracks, arrival, served, &mut fast_stats);
                let want = reference.serve(&timing, arrival, bytes, bursts, hops);
                proptest::prop_assert_eq!(got, want);
            }
            proptest::prop_assert_eq!(fast_stats, reference.stats);
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
