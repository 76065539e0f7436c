//! What `probe hbm` writes: one row per configuration (`probe.csv`), the table it prints,
//! and bandwidth against burst size, one curve per pattern and channel count (`probe.svg`).

use super::ReportError;
use super::svg::{Frame, escape};
use crate::sim::probe::{Probe, ProbeMemory, ProbeResult};
use std::fmt::Write;

const HEADER: [&str; 13] = [
    "memory",
    "pattern",
    "burst_bytes",
    "stride_bytes",
    "working_set_bytes",
    "channels",
    "outstanding",
    "write_share",
    "switch_distance",
    "stripe_bytes",
    "hls",
    "achieved_gb_per_s",
    "mean_latency_ns",
];

fn memory_name(memory: ProbeMemory) -> &'static str {
    match memory {
        ProbeMemory::Fast => "fast",
        ProbeMemory::Dram => "dram",
    }
}

fn fields(probe: &Probe, result: &ProbeResult) -> [String; 13] {
    [
        memory_name(probe.memory).to_string(),
        probe.pattern.name().to_string(),
        probe.burst_bytes.to_string(),
        probe.stride_bytes.to_string(),
        probe.working_set_bytes.to_string(),
        probe.channels.to_string(),
        probe.outstanding.to_string(),
        probe.write_share.to_string(),
        probe.switch_distance.to_string(),
        probe.stripe_bytes.to_string(),
        probe.hls.to_string(),
        format!("{:.3}", result.achieved_bytes_per_s / 1e9),
        format!("{:.1}", result.mean_latency_s * 1e9),
    ]
}

/// `probe.csv`: the configuration and what it measured, one row per probe.
pub fn probe_csv(rows: &[(Probe, ProbeResult)]) -> Result<Vec<u8>, ReportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(HEADER)?;
    for (probe, result) in rows {
        writer.write_record(fields(probe, result))?;
    }
    writer
        .into_inner()
        .map_err(|error| ReportError::Csv(error.into_error().into()))
}

/// The printed table: the same columns, aligned.
pub fn probe_table(rows: &[(Probe, ProbeResult)]) -> String {
    let cells: Vec<[String; 13]> = rows.iter().map(|(p, r)| fields(p, r)).collect();
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|i| {
            cells
                .iter()
                .map(|row| row[i].len())
                .chain([HEADER[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    let line = |text: &mut String, row: &[String]| {
        let joined: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:>width$}"))
            .collect();
        let _ = writeln!(text, "{}", joined.join("  "));
    };
    line(&mut text, &HEADER.map(String::from));
    for row in &cells {
        line(&mut text, row);
    }
    text
}

const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

/// A rate on the log axis: `0.5`, `2`, `100`.
fn format_rate(gb_per_s: f64) -> String {
    if gb_per_s >= 1.0 {
        format!("{gb_per_s:.0}")
    } else {
        format!("{gb_per_s}")
    }
}

/// `probe.svg`: achieved bandwidth (log axis) against burst size (log scale), one curve per
/// pattern and channel count (and memory model, when both ran), bursts joined in size order.
pub fn probe_svg(rows: &[(Probe, ProbeResult)]) -> String {
    let frame = Frame {
        width: 720.0,
        height: 440.0,
        left: 80.0,
        right: 560.0,
        top: 50.0,
        bottom: 380.0,
    };
    let mut series: Vec<(String, Vec<(u64, f64)>)> = Vec::new();
    for (probe, result) in rows {
        let name = format!(
            "{} {}, {} ch",
            memory_name(probe.memory),
            probe.pattern.name(),
            probe.channels
        );
        let point = (probe.burst_bytes, result.achieved_bytes_per_s / 1e9);
        match series.iter_mut().find(|(n, _)| *n == name) {
            Some((_, points)) => points.push(point),
            None => series.push((name, vec![point])),
        }
    }
    // A log axis over whole decades: one channel's ~13 GB/s and 32 channels' ~425 GB/s
    // both readable.
    let rates = rows.iter().map(|(_, r)| r.achieved_bytes_per_s / 1e9);
    let (lowest, highest) = rates
        .filter(|gb| *gb > 0.0)
        .fold((f64::MAX, f64::MIN), |(lo, hi), gb| {
            (lo.min(gb), hi.max(gb))
        });
    let (low_decade, high_decade) = if lowest <= highest {
        (lowest.log10().floor(), (highest * 1.1).log10().ceil())
    } else {
        (0.0, 1.0)
    };
    let (min_burst, max_burst) = (32.0f64, 512.0f64);
    let x = |burst: u64| {
        frame.left
            + (frame.right - frame.left) * ((burst as f64).log2() - min_burst.log2())
                / (max_burst.log2() - min_burst.log2())
    };
    let y = |gb_per_s: f64| {
        let share = (gb_per_s.max(1e-9).log10() - low_decade) / (high_decade - low_decade);
        frame.bottom - (frame.bottom - frame.top) * share.clamp(0.0, 1.0)
    };
    let mut svg = frame.open("HBM probe: bandwidth by burst size");
    frame.border(&mut svg);
    for burst in [32, 64, 128, 256, 512] {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{burst}</text>"#,
            x(burst),
            frame.bottom + 16.0
        );
    }
    for decade in low_decade as i32..high_decade as i32 {
        for step in [1.0, 2.0, 5.0] {
            let value = step * 10f64.powi(decade);
            let _ = writeln!(
                svg,
                r##"<line x1="{}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                frame.left,
                frame.right,
                frame.left - 6.0,
                y(value) + 4.0,
                format_rate(value),
                y = y(value),
            );
        }
    }
    let top = 10f64.powi(high_decade as i32);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
        frame.left - 6.0,
        y(top) + 4.0,
        format_rate(top)
    );
    frame.axis_titles(&mut svg, "burst bytes", "achieved GB/s (log)");
    for (index, (name, points)) in series.iter_mut().enumerate() {
        points.sort_by_key(|&(burst, _)| burst);
        let colour = COLOURS[index % COLOURS.len()];
        let path: Vec<String> = points
            .iter()
            .map(|&(burst, gb)| format!("{:.1},{:.1}", x(burst), y(gb)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            path.join(" ")
        );
        for &(burst, gb) in points.iter() {
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{colour}"><title>{}: {burst} B, {gb:.2} GB/s</title></circle>"#,
                x(burst),
                y(gb),
                escape(name)
            );
        }
        let legend_y = frame.top + 14.0 + 18.0 * index as f64;
        let _ = writeln!(
            svg,
            r#"<rect x="{}" y="{:.1}" width="12" height="12" fill="{colour}"/><text x="{}" y="{:.1}">{}</text>"#,
            frame.right + 14.0,
            legend_y - 10.0,
            frame.right + 32.0,
            legend_y,
            escape(name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}
