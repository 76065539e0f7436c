//! A timeline of several boards and their links: one row per board or port, a bar for each
//! observation it worked on (alternating shades, so neighbours stay apart), hover titles.

use super::svg::{Frame, escape};
use std::fmt::Write;

const WIDTH: f64 = 900.0;
const LEFT: f64 = 170.0;
const RIGHT: f64 = 870.0;
const TOP: f64 = 48.0;
const ROW_PX: f64 = 26.0;

/// The timeline of `lanes` (names, top to bottom) given `spans`: `(lane, observation,
/// start_s, end_s)`.
pub fn timeline_svg(title: &str, lanes: &[String], spans: &[(usize, u64, f64, f64)]) -> String {
    let end_ms = spans.iter().map(|s| s.3 * 1e3).fold(0.0, f64::max);
    let bottom = TOP + ROW_PX * lanes.len() as f64;
    let frame = Frame {
        width: WIDTH,
        height: bottom + 60.0,
        left: LEFT,
        right: RIGHT,
        top: TOP,
        bottom,
    };
    let x = |ms: f64| LEFT + (RIGHT - LEFT) * ms / end_ms.max(f64::MIN_POSITIVE);
    let mut svg = frame.open(title);
    for (row, name) in lanes.iter().enumerate() {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            TOP + ROW_PX * row as f64 + ROW_PX - 9.0,
            escape(name)
        );
    }
    for &(lane, observation, start_s, end_s) in spans {
        let (start_ms, end_ms) = (start_s * 1e3, end_s * 1e3);
        let colour = if observation % 2 == 0 {
            "#1f78b4"
        } else {
            "#a6cee3"
        };
        // A bar too short to see (a fast link's transfer) is drawn one pixel wide.
        let _ = writeln!(
            svg,
            r#"<rect x="{:.2}" y="{:.1}" width="{:.2}" height="{}" fill="{colour}"><title>{}: observation {observation}, {start_ms:.3}-{end_ms:.3} ms</title></rect>"#,
            x(start_ms),
            TOP + ROW_PX * lane as f64 + 3.0,
            (x(end_ms) - x(start_ms)).max(1.0),
            ROW_PX - 6.0,
            escape(&lanes[lane])
        );
    }
    frame.border(&mut svg);
    frame.time_axis(&mut svg, end_ms);
    frame.axis_titles(
        &mut svg,
        "Time (ms); each bar one observation, shades alternating",
        "",
    );
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each span is one bar where its times put it: a bar from 0 to half the run spans half
    /// the plot; the last span ends at the plot's right edge.
    #[test]
    fn bars_sit_at_their_times() {
        let lanes = ["a".to_string(), "link a -> b".to_string()];
        let svg = timeline_svg("t", &lanes, &[(0, 0, 0.0, 0.005), (1, 0, 0.005, 0.010)]);
        assert_eq!(svg.matches("<rect x=").count(), 2 + 1);
        assert!(
            svg.contains(r#"<rect x="170.00" y="51.0" width="350.00""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"<rect x="520.00" y="77.0" width="350.00""#),
            "{svg}"
        );
        assert!(svg.contains("observation 0, 5.000-10.000 ms"));
    }
}
