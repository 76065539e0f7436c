//! `utilization.svg`: the engines and the HBM over the run, so the idle gaps a schedule leaves
//! are visible. One row per engine and one for the HBM (any transfer in flight); the run is
//! cut into equal bins, each drawn as dark as the row was busy in it.

use super::fixed::Fixed;
use super::svg::{Frame, escape};
use crate::config::design::Design;
use crate::sim::WorkloadSim;
use std::fmt::Write;

const WIDTH: f64 = 980.0;
const LEFT: f64 = 120.0;
const RIGHT: f64 = 940.0;
const TOP: f64 = 50.0;
const ROW_PX: f64 = 16.0;
const BINS: usize = 200;

/// Per row (each engine, then the HBM), the busy share of each of [`BINS`] equal bins of the
/// run, the units laid one after another.
fn busy_shares(sim: &WorkloadSim, rows: usize) -> Vec<[f64; BINS]> {
    let starts: Vec<u64> = sim
        .units
        .iter()
        .scan(0, |offset, unit| {
            let start = *offset;
            *offset += unit.cycles;
            Some(start)
        })
        .collect();
    let run = sim.cycles().max(1);
    (0..rows)
        .map(|row| {
            let intervals = sim.units.iter().zip(&starts).flat_map(|(unit, &start)| {
                let busy = unit.timeline.get(row).into_iter().flatten();
                busy.map(move |&(from, to)| (start + from, start + to))
            });
            binned(run, intervals)
        })
        .collect()
}

/// The busy share of each of [`BINS`] equal bins of a run of `run` cycles, given its busy
/// `intervals`, disjoint and in order ([`crate::sim::GraphSim::timeline`]): one pass walks
/// them and the bins together (a Llama-2-7B prefill draws 0.8 M intervals), counting cycles
/// in `1 / BINS` units, in which a bin is exactly `run` long.
fn binned(run: u64, intervals: impl IntoIterator<Item = (u64, u64)>) -> [f64; BINS] {
    let run = u128::from(run);
    let mut busy = [0u128; BINS];
    // The bin the walk is in, and where it ends.
    let (mut bin, mut end) = (0, run);
    for (from, to) in intervals {
        let scaled = |cycle: u64| u128::from(cycle) * BINS as u128;
        let (mut from, to) = (scaled(from), scaled(to));
        while bin + 1 < BINS && from >= end {
            (bin, end) = (bin + 1, end + run);
        }
        loop {
            busy[bin] += to.min(end).saturating_sub(from);
            if to <= end || bin + 1 == BINS {
                break;
            }
            (from, bin, end) = (end, bin + 1, end + run);
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
        /// Binned in one pass, any run's intervals fill the bins they overlap as a plain
        /// overlap of each interval with each bin, in fractions of a bin, says.
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
            let shares = binned(run, intervals);
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
