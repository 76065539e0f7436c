//! The HBM's AXI switch between ports and pseudo-channels, shared by both HBM models.
//!
//! Ports and pseudo-channels sit in mini-switches of four (PG276). A request from a port to a
//! channel of another mini-switch pays a hop latency per mini-switch crossed (about 7 cycles
//! of 450 MHz, Shuhai, FCCM 2020), and its data crosses every boundary between the two on one
//! of that boundary's lateral links in its direction. A lateral carries one port's bandwidth
//! and serves one burst at a time (a stalled master holds it), so the four ports of a
//! mini-switch get at most `lateral_links / 4` of their bandwidth out of it: 50 % with two
//! links (PG276 "Lateral AXI Switch Access Throughput Loss"), while one stream alone loses
//! only the hop latency. On writes a lateral that changes master loses one AXI cycle (PG276).

use crate::config::design::AxiPorts;

/// Which port a requester's traffic to a channel enters at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// Each channel's own port: nothing crosses the switch.
    PerChannel,
    /// Requester (engine) `u` at port `u / switches mod 4` of mini-switch `u mod switches`.
    PerUnit,
    /// Each channel's traffic from a port `distance` mini-switches away (`probe`), towards
    /// the far end when that side is too short.
    Distance(u64),
}

impl Routing {
    /// How a design's AXI ports route: one per channel, or one per engine.
    pub fn of(ports: AxiPorts) -> Self {
        match ports {
            AxiPorts::PerChannel => Routing::PerChannel,
            AxiPorts::PerUnit => Routing::PerUnit,
        }
    }

    /// The port `unit`'s traffic to `channel` enters at, of `channels` ports in mini-switches
    /// of `per_switch` (the last one holding the rest when `per_switch` does not divide
    /// `channels`).
    pub fn port(self, unit: u64, channel: u64, channels: u64, per_switch: u64) -> u64 {
        let switches = switch_count(channels, per_switch);
        // Ports of mini-switch `switch`: `per_switch`, fewer in a last partial one.
        let ports = |switch: u64| per_switch.min(channels - switch * per_switch);
        match self {
            Routing::PerChannel => channel,
            Routing::PerUnit => {
                let switch = unit % switches;
                switch * per_switch + (unit / switches) % ports(switch)
            }
            Routing::Distance(distance) => {
                let home = channel / per_switch;
                let far = if home + distance < switches {
                    home + distance
                } else {
                    home.saturating_sub(distance)
                };
                far * per_switch + channel % per_switch % ports(far)
            }
        }
    }

    /// Whether the switch is enabled (any port may reach any channel).
    pub fn switched(self) -> bool {
        self != Routing::PerChannel
    }
}

/// Mini-switches of `per_switch` channels (the last one partial if it must) that hold
/// `channels` channels.
pub fn switch_count(channels: u64, per_switch: u64) -> u64 {
    channels.div_ceil(per_switch.max(1)).max(1)
}

/// One lateral link: free from `free`, last used by `master`.

#[derive(Debug, Clone, Copy, Default)]
struct Lateral {
    free: u64,
    master: Option<u64>,
}

/// The lateral links of every boundary between neighbouring mini-switches, both ways.
#[derive(Debug, Clone)]
pub struct Switch {
    /// Index `((boundary · 2 + direction) · links + link)`.
    laterals: Vec<Lateral>,
    links: usize,
    hop_cycles: u64,
    /// Latency every access pays when the switch is enabled.
    enable_cycles: u64,
    /// Cycles a write loses when a lateral changes master.
    dead_cycles: u64,
}

impl Switch {
    /// `switches` mini-switches joined by `links` laterals each way, in the caller's time
    /// unit.
    pub fn new(
        switches: u64,
        links: u64,
        hop_cycles: u64,
        enabled: bool,
        dead_cycles: u64,
    ) -> Self {
        Switch {
            laterals: vec![Lateral::default(); (switches.saturating_sub(1) * 2 * links) as usize],
            links: links as usize,
            hop_cycles,
            enable_cycles: if enabled { hop_cycles } else { 0 },
            dead_cycles,
        }
    }

    /// Latency a request pays on its way through `hops` mini-switch boundaries.
    pub fn latency(&self, hops: u64) -> u64 {
        self.enable_cycles + hops * self.hop_cycles
    }

    /// Carries a burst's `cycles` of data, whose last beat is ready at `ready_end`, from
    /// mini-switch `from` to `to` for port `master`; returns when its last beat has crossed
    /// the last boundary (cut-through: each lateral passes it on as it arrives).
    pub fn carry(
        &mut self,
        (from, to): (u64, u64),
        ready_end: u64,
        cycles: u64,
        write: bool,
        master: u64,
    ) -> u64 {
        let direction = usize::from(to < from);
        let mut end = ready_end;
        let (low, high) = (from.min(to), from.max(to));
        for step in 0..high - low {
            let boundary = if direction == 0 {
                low + step
            } else {
                high - 1 - step
            } as usize;
            let first = (boundary * 2 + direction) * self.links;
            let lateral = self.laterals[first..first + self.links]
                .iter_mut()
                .min_by_key(|lateral| lateral.free)
                .expect("a boundary has at least one lateral");
            let dead = if write && lateral.master.is_some_and(|m| m != master) {
                self.dead_cycles
            } else {
                0
            };
            let start = (end - cycles).max(lateral.free + dead);
            end = start + cycles;
            *lateral = Lateral {
                free: end,
                master: Some(master),
            };
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mini-switches of any size, dividing the channels or not (the last one then partial):
    /// every port a routing gives is a channel's, in a mini-switch that exists, and a burst
    /// crosses between any two of them. A regression: 3, 5, 7, 12 or 20 per switch put
    /// ports past the last mini-switch (a slice out of range).
    #[test]
    fn every_port_of_any_switch_geometry_exists() {
        let channels = 32;
        for per_switch in 1..=channels {
            let switches = switch_count(channels, per_switch);
            assert_eq!(switches, channels.div_ceil(per_switch));
            let mut switch = Switch::new(switches, 2, 14, false, 2);
            let routings = [Routing::PerChannel, Routing::PerUnit]
                .into_iter()
                .chain((0..switches).map(Routing::Distance));
            for routing in routings {
                for unit in 0..64 {
                    for channel in 0..channels {
                        let port = routing.port(unit, channel, channels, per_switch);
                        assert!(
                            port < channels,
                            "{per_switch}/switch {routing:?}: port {port}"
                        );
                        let ends = (port / per_switch, channel / per_switch);
                        assert!(ends.0 < switches && ends.1 < switches);
                        switch.carry(ends, 64, 32, unit % 2 == 0, unit);
                    }
                }
            }
        }
    }

    /// One stream across a boundary keeps its rate; four streams from one mini-switch share
    /// two laterals and get half of it; writes from two masters lose a cycle per switch.
    #[test]
    fn laterals_halve_a_mini_switch_but_not_one_stream() {
        let burst = 32;
        let run = |masters: u64, write: bool| {
            let mut switch = Switch::new(8, 2, 14, false, 2);
            let mut end = 0;
            for i in 0..100 * masters {
                let ready = (i / masters + 1) * burst;
                end = end.max(switch.carry((0, 1), ready, burst, write, i % masters));
            }
            end
        };
        assert_eq!(run(1, false), 100 * burst);
        assert_eq!(run(4, false), 200 * burst);
        assert_eq!(run(2, false), 100 * burst);
        // Two masters alternating on two laterals never switch a lateral's master.
        assert_eq!(run(2, true), 100 * burst);
        assert!(run(3, true) > run(3, false));
        // Traffic the other way uses the other direction's laterals.
        let mut switch = Switch::new(8, 2, 14, true, 2);
        switch.carry((0, 1), 32, 32, false, 0);
        switch.carry((0, 1), 32, 32, false, 1);
        assert_eq!(switch.carry((1, 0), 32, 32, false, 2), 32);
        assert_eq!(switch.carry((0, 1), 32, 32, false, 3), 64);
        assert_eq!(switch.latency(3), 14 + 3 * 14);
    }
}
