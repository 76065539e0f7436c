//! `attribution.svg`: where the time went, kernel by kernel. One horizontal bar per kernel
//! (all its instances), split into the cycles of each cause, longest first; the axis is the
//! share of the whole run. In a design whose kernels overlap, a kernel's bar is its span, so
//! the bars may add up to more than the run.

use super::crosscheck::{cause_colour, cause_swatch};
use super::fixed::Fixed;
use super::svg::{Frame, escape};
use crate::config::design::Design;
use crate::roofline::RooflineAnalysis;
use crate::sim::{Attribution, Bottleneck, WorkloadSim};
use std::fmt::Write;

const WIDTH: f64 = 980.0;
const LEFT: f64 = 190.0;
const RIGHT: f64 = 800.0;
const TOP: f64 = 50.0;
const ROW_PX: f64 = 16.0;
const BAR_PX: f64 = 11.0;

/// The attribution chart of a simulated workload.
pub fn attribution_svg(
    title: &str,
    analysis: &RooflineAnalysis,
    sim: &WorkloadSim,
    design: &Design,
) -> String {
    // Kernels by encoder and name, in order of first appearance, with summed causes.
    let mut rows: Vec<(String, Attribution)> = Vec::new();
    for ((kernel, _), result) in analysis.iter().zip(&sim.kernels) {
        let label = kernel.label();
        let index = match rows.iter().position(|(l, _)| *l == label) {
            Some(index) => index,
            None => {
                rows.push((label, [0; Bottleneck::COUNT]));
                rows.len() - 1
            }
        };
        for (sum, cycles) in rows[index].1.iter_mut().zip(&result.attribution) {
            *sum += cycles;
        }
    }
    let cycles = |row: &(String, Attribution)| row.1.iter().sum::<u64>();
    rows.sort_by(|a, b| cycles(b).cmp(&cycles(a)).then(a.0.cmp(&b.0)));
    let run = sim.cycles().max(1) as f64;
    let longest = rows.first().map_or(0.0, |row| cycles(row) as f64 / run);
    // Axis to the next 10 % above the longest bar.
    let axis_share = ((longest * 10.0).ceil() / 10.0).max(0.1);
    let bottom = TOP + ROW_PX * rows.len() as f64 + 6.0;
    let frame = Frame {
        width: WIDTH,
        height: bottom + 60.0,
        left: LEFT,
        right: RIGHT,
        top: TOP,
        bottom,
    };
    let x = |share: f64| LEFT + share / axis_share * (RIGHT - LEFT);
    let mut svg = frame.open(title);
    frame.border(&mut svg);
    let ticks = (axis_share * 10.0).round() as u32;
    for tick in 0..=ticks {
        let share = f64::from(tick) / 10.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{bottom}" stroke="#ddd"/><text x="{0:.1}" y="{1}" text-anchor="middle">{2}%</text>"##,
            x(share),
            bottom + 16.0,
            tick * 10
        );
    }
    for (row, (label, causes)) in rows.iter().enumerate() {
        let y = TOP + 4.0 + ROW_PX * row as f64;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            y + BAR_PX - 2.0,
            escape(label)
        );
        let mut from = 0u64;
        for cause in Bottleneck::ALL {
            let cycles = causes[cause as usize];
            if cycles == 0 {
                continue;
            }
            let (x0, x1) = (x(from as f64 / run), x((from + cycles) as f64 / run));
            let _ = writeln!(
                svg,
                r#"<rect x="{}" y="{}" width="{}" height="{BAR_PX}" fill="{}"><title>{label}: {} {cycles} cycles</title></rect>"#,
                Fixed(x0, 2),
                Fixed(y, 1),
                Fixed(x1 - x0, 2),
                cause_colour(cause),
                cause.name()
            );
            from += cycles;
        }
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{:.1}%</text>"#,
            x(from as f64 / run) + 4.0,
            y + BAR_PX - 2.0,
            100.0 * from as f64 / run
        );
    }
    // The legend: the causes that appear, in the right margin.
    let mut y = TOP + 10.0;
    for cause in Bottleneck::ALL {
        if !rows.iter().any(|(_, causes)| causes[cause as usize] > 0) {
            continue;
        }
        cause_swatch(&mut svg, cause, (RIGHT + 50.0, RIGHT + 66.0), y);
        y += 16.0;
    }
    let overlap = if design.overlap_kernels() {
        " (kernels overlap: a bar is the kernel's span)"
    } else {
        ""
    };
    frame.axis_titles(&mut svg, &format!("Share of the run's cycles{overlap}"), "");
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default run: a bar per kernel, longest first, whose segments end where the run's
    /// share of that kernel ends (a kernel's causes sum to its cycles), and all bars of a
    /// sequential design sum to the run.
    #[test]
    fn bars_add_up_to_the_run() {
        let (output, design, _) = crate::report::default_run();
        let svg = attribution_svg("t", &output.analysis, &output.sim, &design);
        let shares: Vec<f64> = svg
            .lines()
            .filter_map(|line| line.strip_suffix("%</text>"))
            .filter(|line| !line.contains("text-anchor"))
            .map(|line| line.rsplit('>').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(shares.len(), 29, "one bar per kernel");
        assert!(shares.windows(2).all(|w| w[0] >= w[1]), "longest first");
        let total: f64 = shares.iter().sum();
        assert!((total - 100.0).abs() < 0.1 * 29.0, "{total}");
        assert!(svg.contains("vision/fc1_gelu") && svg.contains(">compute<"));
    }
}
