//! `utilization.svg`: the engines and the HBM over the run, so the idle gaps a schedule leaves
//! are visible. One row per engine and one for the HBM (any transfer in flight); the run is
//! cut into equal bins, each drawn as dark as the row was busy in it.

use super::fixed::Fixed;
use super::svg::{Frame, escape};
use crate::config::design::Design;
use crate::sim::WorkloadSim;
use rustc_hash::FxHashMap;
use std::fmt::Write;
use std::sync::Arc;

const WIDTH: f64 = 980.0;
const LEFT: f64 = 120.0;
const RIGHT: f64 = 940.0;
const TOP: f64 = 50.0;
const ROW_PX: f64 = 16.0;
const BINS: usize = 200;

/// Per row (each engine, then the HBM), the busy share of each of [`BINS`] equal bins of the
/// run, the units laid one after another. Units that repeat a layer share its timeline, so
/// each distinct timeline's running busy time is worked out once per row (a Llama-2-7B
/// prefill's 32 layers share one of 24 k intervals per row).
fn busy_shares(sim: &WorkloadSim, rows: usize) -> Vec<[f64; BINS]> {
    // The distinct timelines (the first unit with each), and per unit its start and its
    // timeline's place among them.
    let mut slot_of: FxHashMap<*const Vec<Vec<(u64, u64)>>, usize> = FxHashMap::default();
    let mut distinct: Vec<usize> = Vec::new();
    let mut start = 0;
    let mut placed: Vec<(u64, usize)> = Vec::with_capacity(sim.units.len());
    for (index, unit) in sim.units.iter().enumerate() {
        let slot = *slot_of
            .entry(Arc::as_ptr(&unit.timeline))
            .or_insert_with(|| {
                distinct.push(index);
                distinct.len() - 1
            });
        placed.push((start, slot));
        start += unit.cycles;
    }
    let run = sim.cycles().max(1);
    (0..rows)
        .map(|row| {
            let sums: Vec<RunningBusy> = distinct
                .iter()
                .map(|&unit| {
                    let busy = sim.units[unit].timeline.get(row);
                    RunningBusy::new(busy.map_or(&[], Vec::as_slice))
                })
                .collect();
            binned(
                run,
                placed.iter().map(|&(start, slot)| (start, &sums[slot])),
            )
        })
        .collect()
}

/// A row's busy intervals (disjoint and in order, [`crate::sim::GraphSim::timeline`]) with
/// the busy cycles before each: how busy the row was up to any point, in one binary search.
struct RunningBusy<'a> {
    intervals: &'a [(u64, u64)],
    /// Busy cycles before each interval, and in all (one more than the intervals).
    before: Vec<u64>,
}

impl<'a> RunningBusy<'a> {
    fn new(intervals: &'a [(u64, u64)]) -> Self {
        let mut before = Vec::with_capacity(intervals.len() + 1);
        before.push(0);
        for &(from, to) in intervals {
            before.push(before[before.len() - 1] + (to - from));
        }
        RunningBusy { intervals, before }
    }

    /// Busy time before `point`, both in `1 / BINS` cycles.
    fn before(&self, point: u128) -> u128 {
        let scaled = |cycle: u64| u128::from(cycle) * BINS as u128;
        let whole = self
            .intervals
            .partition_point(|&(_, to)| scaled(to) <= point);
        let inside = self
            .intervals
            .get(whole)
            .map_or(0, |&(from, _)| point.saturating_sub(scaled(from)));
        scaled(self.before[whole]) + inside
    }
}

/// The busy share of each of [`BINS`] equal bins of a run of `run` cycles made of units,
/// each its start cycle and its row's running busy time: a unit adds to each bin it reaches
/// its busy time between the bin's ends, counted in `1 / BINS` cycles (in which a bin is
/// exactly `run` long).
fn binned<'a>(
    run: u64,
    units: impl IntoIterator<Item = (u64, &'a RunningBusy<'a>)>,
) -> [f64; BINS] {
    let run = u128::from(run);
    let mut busy = [0u128; BINS];
    for (start, unit) in units {
        let Some(&(_, last_end)) = unit.intervals.last() else {
            continue;
        };
        let (from, to) = (u128::from(start), u128::from(start + last_end));
        let first_bin = (from * BINS as u128 / run).min(BINS as u128 - 1) as usize;
        let last_bin = (to * BINS as u128 / run).min(BINS as u128 - 1) as usize;
        // The unit's own clock, in `1 / BINS` cycles: the bin's ends less its start.
        let local = |point: u128| point.saturating_sub(from * BINS as u128);
        for (bin, share) in busy
            .iter_mut()
            .enumerate()
            .take(last_bin + 1)
            .skip(first_bin)
        {
            let (low, high) = (local(bin as u128 * run), local((bin as u128 + 1) * run));
            *share += unit.before(high) - unit.before(low);
        }
    }
    busy.map(|cycles| cycles as f64 / run as f64)
}

/// The scale of "how busy", below the plot at its right end (clear of the centred axis
/// title): a bin's shade at 0, 25, 50, 75 and 100 % busy.
fn busy_scale(svg: &mut String, bottom: f64) {
    let (top, x0) = (bottom + 28.0, RIGHT - 5.0 * 30.0);
    let _ = writeln!(
        svg,
        r#"<g class="busy-scale"><text x="{}" y="{}" text-anchor="end">busy</text>"#,
        x0 - 4.0,
        top + 9.0
    );
    for step in 0..=4 {
        let x = x0 + f64::from(step) * 30.0;
        let _ = writeln!(
            svg,
            r##"<rect x="{x}" y="{top}" width="28" height="10" fill="#d95f02" fill-opacity="{:.2}" stroke="#bbb"/><text x="{}" y="{}" text-anchor="middle" font-size="9">{}%</text>"##,
            f64::from(step) / 4.0,
            x + 14.0,
            top + 22.0,
            step * 25
        );
    }
    svg.push_str("</g>\n");
}

/// The utilisation chart of a simulated workload on `design`.
pub fn utilization_svg(title: &str, sim: &WorkloadSim, design: &Design) -> String {
    let mut names: Vec<String> = design.engines().iter().map(|e| e.name.clone()).collect();
    names.push("HBM (any transfer)".to_string());
    let shares = busy_shares(sim, names.len());
    let bottom = TOP + ROW_PX * names.len() as f64;
    let frame = Frame {
        width: WIDTH,
        height: bottom + 60.0,
        left: LEFT,
        right: RIGHT,
        top: TOP,
        bottom,
    };
    let mut svg = frame.open(title);
    busy_scale(&mut svg, bottom);
    let width = (RIGHT - LEFT) / BINS as f64;
    for (row, (name, bins)) in names.iter().zip(&shares).enumerate() {
        let y = TOP + ROW_PX * row as f64;
        let colour = if row + 1 == names.len() {
            "#1f78b4"
        } else {
            "#d95f02"
        };
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            y + ROW_PX - 4.0,
            escape(name)
        );
        for (index, share) in bins.iter().enumerate() {
            if *share <= 0.0 {
                continue;
            }
            let _ = writeln!(
                svg,
                r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{colour}" fill-opacity="{}"/>"#,
                Fixed(LEFT + index as f64 * width, 2),
                Fixed(y, 1),
                Fixed(width, 2),
                ROW_PX - 2.0,
                Fixed(share.min(1.0), 3)
            );
        }
    }
    frame.border(&mut svg);
    let run_ms = sim.cycles() as f64 / design.clock_hz() * 1e3;
    frame.time_axis(&mut svg, run_ms);
    frame.axis_titles(
        &mut svg,
        &format!("Time (ms); each of {BINS} bins as dark as the row was busy in it"),
        "",
    );
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The binned busy time of each engine adds up to its busy cycles in `engines.csv`'s
    /// sense (the sum over its kernels), and no bin is more than full.
    #[test]
    fn bins_hold_each_engines_busy_time() {
        let (output, design, _) = crate::report::default_run();
        let sim = output.sim;
        let engines = design.engines().len();
        let shares = busy_shares(&sim, engines + 1);
        let bin = sim.cycles() as f64 / BINS as f64;
        for (engine, bins) in shares.iter().take(engines).enumerate() {
            let busy: u64 = sim
                .kernels
                .iter()
                .map(|k| k.engine_busy_cycles[engine])
                .sum();
            let binned: f64 = bins.iter().sum::<f64>() * bin;
            assert!(
                (binned - busy as f64).abs() <= 1e-6 * busy as f64 + 1.0,
                "{engine}"
            );
            assert!(bins.iter().all(|&s| s <= 1.0 + 1e-9));
        }
        // The HBM row holds transfers: some time, never more than the run.
        let hbm: f64 = shares[engines].iter().sum();
        assert!(hbm > 0.0 && hbm <= BINS as f64);
    }

    proptest::proptest! {
        /// Binned from each unit's running busy time, any run's intervals (laid out as up to
        /// three units) fill the bins they overlap as a plain overlap of each interval with
        /// each bin, in fractions of a bin, says.
        #[test]
        fn bins_hold_what_each_interval_overlaps(
            pieces in proptest::collection::vec((0u64..5_000, 0u64..5_000), 0..60),
            tail in 0u64..5_000,
        ) {
            let mut intervals = Vec::new();
            let mut cycle = 0;
            for (gap, length) in pieces {
                intervals.push((cycle + gap, cycle + gap + length));
                cycle += gap + length;
            }
            let run = (cycle + tail).max(1);
            let bin = run as f64 / BINS as f64;
            let mut plain = [0.0f64; BINS];
            for &(from, to) in &intervals {
                for (index, share) in plain.iter_mut().enumerate() {
                    let (lo, hi) = (index as f64 * bin, (index + 1) as f64 * bin);
                    *share += (hi.min(to as f64) - lo.max(from as f64)).max(0.0) / bin;
                }
            }
            // The intervals as up to three units, split at interval boundaries.
            let cuts = [0, intervals.len() / 3, intervals.len() * 2 / 3, intervals.len()];
            let starts: Vec<u64> = cuts[..3]
                .iter()
                .map(|&cut| if cut == 0 { 0 } else { intervals[cut - 1].1 })
                .collect();
            let locals: Vec<Vec<(u64, u64)>> = (0..3)
                .map(|unit| {
                    let own = &intervals[cuts[unit]..cuts[unit + 1]];
                    own.iter().map(|&(a, b)| (a - starts[unit], b - starts[unit])).collect()
                })
                .collect();
            let sums: Vec<RunningBusy> = locals.iter().map(|l| RunningBusy::new(l)).collect();
            let shares = binned(run, starts.iter().copied().zip(&sums));
            for (index, (share, plain)) in shares.iter().zip(plain).enumerate() {
                proptest::prop_assert!(
                    (share - plain).abs() <= 1e-9,
                    "bin {}: {} {}",
                    index,
                    share,
                    plain
                );
            }
        }
    }
}
