//! The sweep's Pareto plot: latency against DSPs, the front highlighted.

use super::SweepEntry;
use crate::report::svg::{Frame, tick_step};
use std::fmt::Write as _;

/// Simulated entries on the Pareto front of (DSPs, latency): no other point is at least as
/// good on both and better on one. Sorted by DSPs.
pub fn pareto_front(entries: &[SweepEntry]) -> Vec<&SweepEntry> {
    let mut simulated: Vec<&SweepEntry> = entries.iter().filter(|e| e.reason.is_none()).collect();
    simulated.sort_by(|a, b| {
        a.dsps
            .cmp(&b.dsps)
            .then(a.total_ms.total_cmp(&b.total_ms))
            .then(a.point.cmp(&b.point))
    });
    let mut front: Vec<&SweepEntry> = Vec::new();
    for entry in simulated {
        if front
            .last()
            .is_none_or(|best| entry.total_ms < best.total_ms)
        {
            front.push(entry);
        }
    }
    front
}

/// Colours of the precisions a sweep varies, in order of first appearance.
const PRECISION_COLOURS: [&str; 5] = ["#1f78b4", "#33a02c", "#6a3d9a", "#e31a1c", "#b15928"];

/// Latency against DSPs, every simulated point small (coloured by precision when the sweep
/// varies it, grey otherwise), the Pareto front highlighted.
pub fn pareto_svg(title: &str, entries: &[SweepEntry]) -> String {
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
    let simulated: Vec<&SweepEntry> = entries.iter().filter(|e| e.reason.is_none()).collect();
    let front = pareto_front(entries);
    let max_dsps = simulated.iter().map(|e| e.dsps).max().unwrap_or(1).max(1) as f64 * 1.05;
    let max_ms = simulated
        .iter()
        .map(|e| e.total_ms)
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.05;
    let x = |dsps: u64| left + dsps as f64 / max_dsps * (right - left);
    let y = |ms: f64| bottom - ms / max_ms * (bottom - top);
    let mut svg = frame.open(title);
    frame.border(&mut svg);
    let dsp_step = tick_step(max_dsps);
    for tick in 0..=(max_dsps / dsp_step) as u64 {
        let dsps = (tick as f64 * dsp_step) as u64;
        let _ = writeln!(
            svg,
            r##"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{bottom}" stroke="#eee"/><text x="{0:.1}" y="{1}" text-anchor="middle">{dsps}</text>"##,
            x(dsps),
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
            x(entry.dsps),
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
        .map(|e| format!("{:.1},{:.1}", x(e.dsps), y(e.total_ms)))
        .collect();
    let _ = writeln!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="#d95f02" stroke-width="1.5"/>"##,
        path.join(" ")
    );
    for entry in &front {
        // Labels near the right edge end at their point instead of centring on it.
        let anchor = if x(entry.dsps) > right - 80.0 {
            "end"
        } else {
            "middle"
        };
        let _ = writeln!(
            svg,
            r##"<circle cx="{0:.1}" cy="{1:.1}" r="4" fill="#d95f02"/><text x="{0:.1}" y="{2:.1}" fill="#d95f02" text-anchor="{anchor}">#{3} {4:.1} ms</text>"##,
            x(entry.dsps),
            y(entry.total_ms),
            y(entry.total_ms) + 18.0,
            entry.point,
            entry.total_ms
        );
    }
    frame.axis_titles(&mut svg, "DSPs used", "Latency per step (ms)");
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
            values: vec![("precision".into(), precision.into())],
        }
    }

    /// Points of two precisions are told apart, with a legend; one precision stays grey.
    #[test]
    fn precisions_get_their_own_colours() {
        let two = [entry(0, 100, 5.0, "int8"), entry(1, 100, 4.0, "int4")];
        let svg = pareto_svg("t", &two);
        assert!(svg.contains(&format!(r#"r="2.5" fill="{}""#, PRECISION_COLOURS[0])));
        assert!(svg.contains(&format!(r#"r="2.5" fill="{}""#, PRECISION_COLOURS[1])));
        assert!(svg.contains(">int8</text>") && svg.contains(">int4</text>"));
        let one = [entry(0, 100, 5.0, "int8"), entry(1, 200, 4.0, "int8")];
        let svg = pareto_svg("t", &one);
        assert!(svg.contains(r##"r="2.5" fill="#9aa""##) && !svg.contains(">int8</text>"));
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
        let front: Vec<u64> = pareto_front(&entries).iter().map(|e| e.point).collect();
        assert_eq!(front, [0, 2, 4]);
    }
}
