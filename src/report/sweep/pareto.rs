//! The sweep's Pareto plots: latency against a cost (DSPs, or board power where the
//! platform gives a power model), the front highlighted.

use super::SweepEntry;
use crate::report::svg::{Frame, tick_step};
use std::fmt::Write as _;

/// What a design costs on a Pareto plot's horizontal axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// DSP slices.
    Dsps,
    /// The high end of the board's power range.
    Watts,
}

impl Cost {
    /// The entry's cost, if it has one (a point without a power model has no watts).
    pub fn of(self, entry: &SweepEntry) -> Option<f64> {
        match self {
            Cost::Dsps => Some(entry.dsps as f64),
            Cost::Watts => entry.power_w_max,
        }
    }

    fn axis_title(self) -> &'static str {
        match self {
            Cost::Dsps => "DSPs used",
            Cost::Watts => "Board power, high end of its range (W)",
        }
    }
}

/// Simulated entries on the Pareto front of (cost, latency): no other point is at least as
/// good on both and better on one. Sorted by cost.
pub fn pareto_front(entries: &[SweepEntry], cost: Cost) -> Vec<&SweepEntry> {
    let mut simulated: Vec<(&SweepEntry, f64)> = entries
        .iter()
        .filter(|e| e.reason.is_none())
        .filter_map(|e| cost.of(e).map(|c| (e, c)))
        .collect();
    simulated.sort_by(|(a, a_cost), (b, b_cost)| {
        a_cost
            .total_cmp(b_cost)
            .then(a.total_ms.total_cmp(&b.total_ms))
            .then(a.point.cmp(&b.point))
    });
    let mut front: Vec<&SweepEntry> = Vec::new();
    for (entry, _) in simulated {
        if front
            .last()
            .is_none_or(|best| entry.total_ms < best.total_ms)
        {
            front.push(entry);
        }
    }
    front
}

/// A label's width in pixels at the charts' 11 px Helvetica: at most 6.5 px per character
/// (Helvetica's digits are 556/1000 em, Adobe's Helvetica font metrics: 6.1 px; `#`, `.`
/// and the space are narrower), so labels judged apart are apart; the browser test checks
/// the drawn boxes.
fn label_width(text: &str) -> f64 {
    6.5 * text.chars().count() as f64
}

/// Colours of the precisions a sweep varies, in order of first appearance.
const PRECISION_COLOURS: [&str; 5] = ["#1f78b4", "#33a02c", "#6a3d9a", "#e31a1c", "#b15928"];

/// Latency against `cost`, every simulated point with a cost small (coloured by precision
/// when the sweep varies it, grey otherwise), the Pareto front highlighted.
pub fn pareto_svg(title: &str, entries: &[SweepEntry], cost: Cost) -> String {
    let frame = Frame {
        width: 820.0,
        height: 560.0,
        left: 80.0,
        right: 790.0,
        top: 50.0,
        bottom: 490.0,
    };
    let Frame {
        left,
        right,
        top,
        bottom,
        ..
    } = frame;
    let simulated: Vec<&SweepEntry> = entries
        .iter()
        .filter(|e| e.reason.is_none() && cost.of(e).is_some())
        .collect();
    let front = pareto_front(entries, cost);
    let cost_of = |entry: &SweepEntry| cost.of(entry).unwrap_or(0.0);
    let max_cost = simulated.iter().map(|e| cost_of(e)).fold(1.0, f64::max) * 1.05;
    let max_ms = simulated
        .iter()
        .map(|e| e.total_ms)
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.05;
    let x = |value: f64| left + value / max_cost * (right - left);
    let y = |ms: f64| bottom - ms / max_ms * (bottom - top);
    let mut svg = frame.open(title);
    frame.border(&mut svg);
    let cost_step = tick_step(max_cost);
    for tick in 0..=(max_cost / cost_step) as u64 {
        let value = tick as f64 * cost_step;
        let _ = writeln!(
            svg,
            r##"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{bottom}" stroke="#eee"/><text x="{0:.1}" y="{1}" text-anchor="middle">{value}</text>"##,
            x(value),
            bottom + 16.0
        );
    }
    let ms_step = tick_step(max_ms);
    let decimals = (-ms_step.log10().floor()).max(0.0) as usize;
    for tick in 0..=(max_ms / ms_step) as u64 {
        let ms = tick as f64 * ms_step;
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{0:.1}" x2="{right}" y2="{0:.1}" stroke="#eee"/><text x="{1}" y="{2:.1}" text-anchor="end">{ms:.decimals$}</text>"##,
            y(ms),
            left - 6.0,
            y(ms) + 4.0
        );
    }
    let precision_of = |entry: &SweepEntry| {
        entry
            .values
            .iter()
            .find(|(axis, _)| axis == "precision")
            .map(|(_, value)| value.clone())
    };
    let mut precisions: Vec<String> = Vec::new();
    for precision in simulated.iter().filter_map(|e| precision_of(e)) {
        if !precisions.contains(&precision) {
            precisions.push(precision);
        }
    }
    let colour_of = |entry: &SweepEntry| match precision_of(entry) {
        Some(precision) if precisions.len() > 1 => {
            let index = precisions.iter().position(|p| *p == precision).unwrap_or(0);
            PRECISION_COLOURS[index % PRECISION_COLOURS.len()]
        }
        _ => "#9aa",
    };
    for entry in &simulated {
        let _ = writeln!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{}"/>"##,
            x(cost_of(entry)),
            y(entry.total_ms),
            colour_of(entry)
        );
    }
    if precisions.len() > 1 {
        for (index, precision) in precisions.iter().enumerate() {
            let row = top + 18.0 + 16.0 * index as f64;
            let _ = writeln!(
                svg,
                r##"<circle cx="{}" cy="{row:.1}" r="4" fill="{}"/><text x="{}" y="{:.1}">{}</text>"##,
                left + 14.0,
                PRECISION_COLOURS[index % PRECISION_COLOURS.len()],
                left + 24.0,
                row + 4.0,
                crate::report::svg::escape(precision)
            );
        }
    }
    let path: Vec<String> = front
        .iter()
        .map(|e| format!("{:.1},{:.1}", x(cost_of(e)), y(e.total_ms)))
        .collect();
    let _ = writeln!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="#d95f02" stroke-width="1.5"/>"##,
        path.join(" ")
    );
    // Each front point has a hover title; its label is drawn unless it would lie on one
    // already drawn (a front whose points crowd together, as watts near the static power).
    let mut labelled: Vec<(f64, f64, f64)> = Vec::new();
    for entry in &front {
        let (px, py) = (x(cost_of(entry)), y(entry.total_ms));
        let label = format!("#{} {:.1} ms", entry.point, entry.total_ms);
        // Labels near the right edge end at their point instead of centring on it.
        let (anchor, centre) = if px > right - 80.0 {
            ("end", px - label_width(&label) / 2.0)
        } else {
            ("middle", px)
        };
        let _ = writeln!(
            svg,
            r##"<circle cx="{px:.1}" cy="{py:.1}" r="4" fill="#d95f02"><title>{}</title></circle>"##,
            crate::report::svg::escape(&label)
        );
        let free = labelled.iter().all(|&(x0, y0, width)| {
            (centre - x0).abs() > (width + label_width(&label)) / 2.0 || (py - y0).abs() > 14.0
        });
        if free {
            labelled.push((centre, py, label_width(&label)));
            let _ = writeln!(
                svg,
                r##"<text x="{px:.1}" y="{:.1}" fill="#d95f02" text-anchor="{anchor}">{}</text>"##,
                py + 18.0,
                crate::report::svg::escape(&label)
            );
        }
    }
    frame.axis_titles(&mut svg, cost.axis_title(), "Latency per step (ms)");
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="{}" text-anchor="end" fill="#d95f02">Pareto front ({} of {} simulated points)</text>"##,
        right - 8.0,
        top + 18.0,
        front.len(),
        simulated.len()
    );
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(point: u64, dsps: u64, total_ms: f64, precision: &str) -> SweepEntry {
        SweepEntry {
            point,
            reason: None,
            dsps,
            total_ms,
            ms_per_camera: None,
            frames_per_s: 1.0,
            efficiency: 0.5,
            bottleneck: "compute".into(),
            predicted_ms: None,
            power_w_max: Some(40.0 + dsps as f64 / 100.0),
            values: vec![("precision".into(), precision.into())],
        }
    }

    /// Points of two precisions are told apart, with a legend; one precision stays grey.
    #[test]
    fn precisions_get_their_own_colours() {
        let two = [entry(0, 100, 5.0, "int8"), entry(1, 100, 4.0, "int4")];
        let svg = pareto_svg("t", &two, Cost::Dsps);
        assert!(svg.contains(&format!(r#"r="2.5" fill="{}""#, PRECISION_COLOURS[0])));
        assert!(svg.contains(&format!(r#"r="2.5" fill="{}""#, PRECISION_COLOURS[1])));
        assert!(svg.contains(">int8</text>") && svg.contains(">int4</text>"));
        let one = [entry(0, 100, 5.0, "int8"), entry(1, 200, 4.0, "int8")];
        let svg = pareto_svg("t", &one, Cost::Dsps);
        assert!(svg.contains(r##"r="2.5" fill="#9aa""##) && !svg.contains(">int8</text>"));
    }

    /// Front points crowded together keep their hover titles, but only labels that do not
    /// lie on one another are drawn: catches a chart whose labels pile up (the watts of
    /// designs near the board's static power).
    #[test]
    fn crowded_front_labels_are_not_drawn_on_each_other() {
        let crowded: Vec<SweepEntry> = (0..5)
            .map(|i| entry(i, 1000 + i, 10.0 - i as f64 * 0.01, "int8"))
            .collect();
        let svg = pareto_svg("t", &crowded, Cost::Dsps);
        assert_eq!(svg.matches("<title>").count(), 5);
        assert_eq!(svg.matches(r##"fill="#d95f02" text-anchor"##).count(), 1);
        let apart = [entry(0, 100, 5.0, "int8"), entry(1, 900, 1.0, "int8")];
        let svg = pareto_svg("t", &apart, Cost::Dsps);
        assert_eq!(svg.matches(r##"fill="#d95f02" text-anchor"##).count(), 2);
    }

    /// The front keeps a point only if no other is as fast with no more DSPs: of two equally
    /// fast points the one with fewer DSPs, of two with equal DSPs the faster; a slower point
    /// with more DSPs is dominated. Skipped points never count.
    #[test]
    fn the_front_keeps_only_undominated_points() {
        let mut skipped = entry(9, 10, 0.5, "int8");
        skipped.reason = Some("does not fit".into());
        let entries = [
            entry(0, 100, 5.0, "int8"),
            entry(1, 200, 5.0, "int8"),
            entry(2, 200, 3.0, "int8"),
            entry(3, 300, 4.0, "int8"),
            entry(4, 400, 1.0, "int8"),
            entry(5, 100, 6.0, "int8"),
            skipped,
        ];
        let front: Vec<u64> = pareto_front(&entries, Cost::Dsps)
            .iter()
            .map(|e| e.point)
            .collect();
        assert_eq!(front, [0, 2, 4]);
        // In watts (here 40 W + 1 W per 100 DSPs), the same front; a point without a power
        // model is left out.
        let mut entries = entries.to_vec();
        entries[2].power_w_max = None;
        let front: Vec<u64> = pareto_front(&entries, Cost::Watts)
            .iter()
            .map(|e| e.point)
            .collect();
        assert_eq!(front, [0, 3, 4]);
    }
}
