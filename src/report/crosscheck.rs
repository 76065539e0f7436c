//! `crosscheck.svg`: the two answers roofsim gives held against each other on one roofline.
//! For every distinct kernel the roofline's prediction (compulsory operational intensity,
//! attainable throughput under the roof of the engines it runs on) and the simulation's
//! result (tiled intensity, achieved throughput), joined by a line and coloured by the
//! simulated bottleneck: how far and why each kernel falls short of its roof. For a design
//! whose kernels overlap, the pipeline model's prediction too (the kernel's work over the
//! span of the segment it streams in), joined to the simulated point by a dashed line.

use super::plot::{
    Axes, BOTTOM, FRAME, HEIGHT, LEFT, MARKER_PX, RIGHT, Rect, TOP, draw_grid, draw_slope,
    place_labels,
};
use super::svg::escape;
use crate::config::design::{Design, MemoryModel};
use crate::config::platform::Platform;
use crate::roofline::{RooflineAnalysis, Roofs};
use crate::sim::{Bottleneck, PipelineModel, WorkloadSim, cross_check, kernel_roof};
use crate::workload::Encoder;
use std::collections::HashMap;
use std::fmt::Write;

/// A colour for each cause, as a kernel's simulated point is drawn.
pub(super) fn cause_colour(cause: Bottleneck) -> &'static str {
    match cause {
        Bottleneck::Compute => "#d95f02",
        Bottleneck::HbmBandwidth => "#1f78b4",
        Bottleneck::HbmLatency => "#6baed6",
        Bottleneck::BufferCapacity => "#6a3d9a",
        Bottleneck::VectorUnit => "#33a02c",
        Bottleneck::Dependency => "#888888",
        Bottleneck::Starved => "#e31a1c",
        Bottleneck::Backpressure => "#fb9a99",
        Bottleneck::Sync => "#b15928",
        Bottleneck::Control => "#ffd92f",
    }
}

/// A legend entry of a cause: its colour's square at `square_x` and its name at `text_x`,
/// both centred on `y`.
pub(super) fn cause_swatch(
    svg: &mut String,
    cause: Bottleneck,
    (square_x, text_x): (f64, f64),
    y: f64,
) {
    let _ = writeln!(
        svg,
        r#"<rect x="{square_x}" y="{}" width="10" height="10" fill="{}"/><text x="{text_x}" y="{}">{}</text>"#,
        y - 5.0,
        cause_colour(cause),
        y + 4.0,
        cause.name()
    );
}

/// One distinct kernel: its label, predicted, pipelined (at the tiled OI) and simulated
/// (OI, ops/s), bottleneck, the compute roof of its engines, and the time all its instances
/// took (what decides which kernels get a label).
struct Pair {
    label: String,
    roof: f64,
    seconds: f64,
    predicted: (f64, f64),
    pipelined: Option<(f64, f64)>,
    simulated: (f64, f64),
    bottleneck: Bottleneck,
}

/// The cross-check plot of a simulated workload on `design`, with the pipeline model's
/// prediction of each kernel when given.
pub fn crosscheck_svg(
    title: &str,
    analysis: &RooflineAnalysis,
    sim: &WorkloadSim,
    pipeline: Option<&PipelineModel>,
    design: &Design,
    platform: &Platform,
) -> String {
    let roofs = Roofs::new(platform, analysis.workload.options.precision.compute());
    let bandwidth = match design.memory() {
        MemoryModel::Hbm | MemoryModel::Dram => roofs.peak.bandwidth_bytes_per_s,
        MemoryModel::Ideal => f64::INFINITY,
    };
    let mut pairs: Vec<Pair> = Vec::new();
    let mut seen = Vec::new();
    // Each distinct kernel's time over all its instances.
    let mut seconds: HashMap<(Encoder, &str), f64> = HashMap::new();
    for ((kernel, _), result) in analysis.iter().zip(&sim.kernels) {
        let time = result.cycles as f64 / design.clock_hz();
        *seconds.entry((kernel.encoder, kernel.name)).or_default() += time;
    }
    for (index, ((kernel, point), result)) in analysis.iter().zip(&sim.kernels).enumerate() {
        let key = (kernel.encoder, kernel.name);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let check = cross_check(kernel, result, design, platform);
        let (_, roof) = kernel_roof(kernel, design);
        if point.ops == 0.0 || check.achieved_ops_per_s <= 0.0 || check.oi_tiled <= 0.0 {
            continue;
        }
        pairs.push(Pair {
            label: kernel.label(),
            roof,
            seconds: seconds[&key],
            predicted: (
                point.oi_ops_per_byte,
                roof.min(point.oi_ops_per_byte * bandwidth),
            ),
            pipelined: pipeline.map(|model| {
                let seconds = model.span_cycles[index].max(1) as f64 / design.clock_hz();
                (check.oi_tiled, point.ops / seconds)
            }),
            simulated: (check.oi_tiled, check.achieved_ops_per_s),
            bottleneck: result.bottleneck(),
        });
    }
    let gemm_roof = 2.0 * design.macs_per_cycle() as f64 * design.clock_hz();
    let all = pairs
        .iter()
        .flat_map(|p| [p.predicted, p.simulated].into_iter().chain(p.pipelined));
    let (mut min_oi, mut max_oi, mut min_ops) = (1.0f64, 1.0f64, gemm_roof);
    for (oi, ops) in all {
        min_oi = min_oi.min(oi);
        max_oi = max_oi.max(oi);
        min_ops = min_ops.min(ops);
    }
    // The roofs of the engines kernels run on, below the design's GEMM roof.
    let mut engine_roofs: Vec<(f64, Vec<&str>)> = Vec::new();
    for pair in pairs.iter().filter(|p| p.roof < gemm_roof * 0.999) {
        match engine_roofs
            .iter_mut()
            .find(|(roof, _)| (roof / pair.roof - 1.0).abs() < 1e-9)
        {
            Some((_, labels)) => labels.push(&pair.label),
            None => engine_roofs.push((pair.roof, vec![&pair.label])),
        }
    }
    for (roof, _) in &engine_roofs {
        min_ops = min_ops.min(*roof);
    }
    let ridge = gemm_roof / roofs.peak.bandwidth_bytes_per_s;
    let axes = Axes {
        x_decades: (
            (min_oi / 2.0).log10().floor() as i32,
            (max_oi.max(ridge) * 4.0).log10().ceil() as i32,
        ),
        y_decades: (
            (min_ops / 3.0).log10().floor() as i32,
            (gemm_roof * 3.0).log10().ceil() as i32,
        ),
    };

    let mut svg = FRAME.open(title);
    draw_grid(&mut svg, &axes);
    // The roofs: HBM peak and measured slopes up to the design's GEMM roof, then the roof.
    for (slope, dash) in [
        (roofs.peak.bandwidth_bytes_per_s, ""),
        (
            roofs.measured.bandwidth_bytes_per_s,
            r#" stroke-dasharray="6 4""#,
        ),
    ] {
        draw_slope(&mut svg, &axes, slope, gemm_roof, dash);
    }
    let roof_y = axes.y(gemm_roof);
    let _ = writeln!(
        svg,
        r##"<line x1="{:.1}" y1="{roof_y:.1}" x2="{RIGHT}" y2="{roof_y:.1}" stroke="#333" stroke-width="1.6"/>"##,
        axes.x(ridge)
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{:.1}">GEMM roof {:.2} TOPS</text>"#,
        RIGHT + 6.0,
        roof_y + 4.0,
        gemm_roof / 1e12
    );

    // Each engine roof: a thin line from its ridge, its value on the line at the right
    // (when no other roof's label is there), the kernels under it on hover.
    let mut taken: Vec<Rect> = Vec::new();
    for (roof, labels) in &engine_roofs {
        let (x, y) = (axes.x(roof / bandwidth), axes.y(*roof));
        let _ = writeln!(
            svg,
            r##"<line x1="{:.1}" y1="{y:.1}" x2="{RIGHT}" y2="{y:.1}" stroke="#777" stroke-width="1" stroke-dasharray="2 3"><title>roof of the engines of {}: {:.3} TOPS</title></line>"##,
            x.max(LEFT),
            escape(&labels.join(", ")),
            roof / 1e12
        );
        let text = format!("{:.2} TOPS", roof / 1e12);
        let width = text.len() as f64 * 6.4;
        let rect = Rect {
            x0: RIGHT - width - 4.0,
            y0: y - 13.0,
            x1: RIGHT - 4.0,
            y1: y - 1.0,
        };
        if !taken.iter().any(|other| other.overlaps(&rect)) {
            let _ = writeln!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" fill="#555">{text}</text>"##,
                rect.x0,
                y - 3.0
            );
            taken.push(rect);
        }
    }

    // Predicted (hollow) joined to simulated (filled, coloured by bottleneck), each with its
    // figures on hover; the kernels that took longest are labelled first.
    pairs.sort_by(|a, b| b.seconds.total_cmp(&a.seconds).then(a.label.cmp(&b.label)));
    let marker = |x: f64, y: f64| Rect {
        x0: x - MARKER_PX - 1.0,
        y0: y - MARKER_PX - 1.0,
        x1: x + MARKER_PX + 1.0,
        y1: y + MARKER_PX + 1.0,
    };
    let mut label_at = Vec::new();
    for pair in &pairs {
        let (px, py) = (axes.x(pair.predicted.0), axes.y(pair.predicted.1));
        let (sx, sy) = (axes.x(pair.simulated.0), axes.y(pair.simulated.1));
        let colour = cause_colour(pair.bottleneck);
        let _ = writeln!(
            svg,
            r#"<line x1="{px:.1}" y1="{py:.1}" x2="{sx:.1}" y2="{sy:.1}" stroke="{colour}" stroke-width="1"/>"#
        );
        let _ = writeln!(
            svg,
            r#"<circle cx="{px:.1}" cy="{py:.1}" r="{MARKER_PX}" fill="white" stroke="{colour}" stroke-width="1.5"/>"#
        );
        let _ = writeln!(
            svg,
            r#"<circle cx="{sx:.1}" cy="{sy:.1}" r="{MARKER_PX}" fill="{colour}"><title>{}: {:.3} ms in all, {:.3} of {:.3} TOPS, bound by {}</title></circle>"#,
            escape(&pair.label),
            pair.seconds * 1e3,
            pair.simulated.1 / 1e12,
            pair.roof / 1e12,
            pair.bottleneck.name()
        );
        taken.push(marker(px, py));
        taken.push(marker(sx, sy));
        if let Some((oi, ops)) = pair.pipelined {
            let (qx, qy) = (axes.x(oi), axes.y(ops));
            let _ = writeln!(
                svg,
                r#"<line x1="{qx:.1}" y1="{qy:.1}" x2="{sx:.1}" y2="{sy:.1}" stroke="{colour}" stroke-width="1" stroke-dasharray="3 2"/>"#
            );
            let _ = writeln!(svg, "{}", diamond(qx, qy, colour));
            taken.push(marker(qx, qy));
        }
        label_at.push((sx, sy, pair.label.chars().count()));
    }
    for (pair, placement) in pairs.iter().zip(place_labels(&label_at, &taken)) {
        let Some((rect, ring)) = placement else {
            continue;
        };
        let (sx, sy) = (axes.x(pair.simulated.0), axes.y(pair.simulated.1));
        if ring > 0 {
            let _ = writeln!(
                svg,
                r##"<line x1="{sx:.1}" y1="{sy:.1}" x2="{:.1}" y2="{:.1}" stroke="#888" stroke-width="0.7"/>"##,
                sx.clamp(rect.x0, rect.x1),
                sy.clamp(rect.y0, rect.y1)
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            rect.x0,
            rect.y1 - 3.0,
            escape(&pair.label)
        );
    }
    legend(&mut svg, &pairs, &roofs, roof_y);
    let footnote = match pipeline {
        None => {
            "Hollow: the roofline's prediction at the compulsory OI, under the roof of the kernel's engines. Filled: the simulation at the tiled OI."
        }
        Some(_) => {
            "Hollow: the roofline's prediction at the compulsory OI. Diamond: the pipeline model at the tiled OI. Filled: the simulation."
        }
    };
    let _ = writeln!(
        svg,
        r##"<text x="{LEFT}" y="{}" fill="#555">{}</text>"##,
        HEIGHT - 8.0,
        escape(footnote)
    );
    FRAME.axis_titles(
        &mut svg,
        "Operational intensity (ops/byte of HBM traffic)",
        "Throughput (ops/s)",
    );
    svg.push_str("</svg>\n");
    svg
}

/// A hollow diamond, the pipeline model's marker.
fn diamond(x: f64, y: f64, colour: &str) -> String {
    let r = MARKER_PX + 1.0;
    format!(
        r#"<path d="M{x:.1} {:.1}L{:.1} {y:.1}L{x:.1} {:.1}L{:.1} {y:.1}Z" fill="white" stroke="{colour}" stroke-width="1.5"/>"#,
        y - r,
        x + r,
        y + r,
        x - r
    )
}

/// The legend in the right margin, below the roof's label: the slopes, the two markers and
/// the colour of each bottleneck drawn.
fn legend(svg: &mut String, pairs: &[Pair], roofs: &Roofs, roof_y: f64) {
    let x = RIGHT + 10.0;
    let mut y = (roof_y + 30.0).max(TOP + 20.0);
    for (name, bandwidth, dash) in [
        ("HBM peak", roofs.peak.bandwidth_bytes_per_s, ""),
        (
            "HBM measured",
            roofs.measured.bandwidth_bytes_per_s,
            r#" stroke-dasharray="6 4""#,
        ),
    ] {
        let _ = writeln!(
            svg,
            r##"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="#333" stroke-width="1.6"{dash}/><text x="{}" y="{}">{name} {:.0} GB/s</text>"##,
            x + 24.0,
            x + 30.0,
            y + 4.0,
            bandwidth / 1e9
        );
        y += 18.0;
    }
    let _ = writeln!(
        svg,
        r##"<circle cx="{}" cy="{y}" r="{MARKER_PX}" fill="white" stroke="#333" stroke-width="1.5"/><text x="{}" y="{}">roofline prediction</text>"##,
        x + 12.0,
        x + 30.0,
        y + 4.0
    );
    y += 18.0;
    if pairs.iter().any(|p| p.pipelined.is_some()) {
        let _ = writeln!(
            svg,
            r##"{}<text x="{}" y="{}">pipeline model</text><text x="{}" y="{}" fill="#555">work over its segment's span</text>"##,
            diamond(x + 12.0, y, "#333"),
            x + 30.0,
            y + 4.0,
            x + 30.0,
            y + 18.0
        );
        y += 32.0;
    }
    let _ = writeln!(
        svg,
        r##"<circle cx="{}" cy="{y}" r="{MARKER_PX}" fill="#333"/><text x="{}" y="{}">simulated; bottleneck:</text>"##,
        x + 12.0,
        x + 30.0,
        y + 4.0
    );
    for cause in Bottleneck::ALL {
        if !pairs.iter().any(|p| p.bottleneck == cause) {
            continue;
        }
        y += 16.0;
        cause_swatch(svg, cause, (x + 7.0, x + 30.0), y);
    }
    debug_assert!(y < BOTTOM + 40.0, "the legend fits the margin");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default run: one hollow and one filled marker per distinct kernel with arithmetic,
    /// and no simulated point above the design's roof or the HBM slope (pixel y grows
    /// downwards).
    #[test]
    fn every_kernel_is_a_pair_under_the_roof() {
        let (output, design, platform) = crate::report::default_run();
        let svg = crosscheck_svg("t", &output.analysis, &output.sim, None, &design, &platform);
        let hollow = svg.matches(r##"fill="white" stroke="#"##).count();
        let filled = svg.matches("<circle").count() - hollow;
        // 29 distinct kernels, of which the pixel shuffle has no arithmetic; one legend
        // marker of each kind.
        assert_eq!(hollow - 1, 28, "{svg}");
        assert_eq!(filled - 1, 28);
        let roof = 2.0 * design.macs_per_cycle() as f64 * design.clock_hz();
        // A dotted line for each distinct roof of the engines kernels run on below the GEMM
        // roof (the vector units' at each op's flops per element), at its value: catches a
        // roof dropped, drawn twice or at the design's peak.
        let mut roofs: Vec<String> = output
            .analysis
            .iter()
            .filter(|(_, point)| point.ops > 0.0)
            .map(|(kernel, _)| kernel_roof(kernel, &design).1)
            .filter(|&engines| engines < roof * 0.999)
            .map(|engines| format!(": {:.3} TOPS</title>", engines / 1e12))
            .collect();
        roofs.sort();
        roofs.dedup();
        assert_eq!(
            svg.matches("<title>roof of the engines of").count(),
            roofs.len()
        );
        assert!(roofs.len() >= 4, "{roofs:?}");
        for value in &roofs {
            assert_eq!(svg.matches(value.as_str()).count(), 1, "{value}");
        }
        for ((kernel, _), result) in output.analysis.iter().zip(&output.sim.kernels) {
            let check = cross_check(kernel, result, &design, &platform);
            assert!(
                check.achieved_ops_per_s <= roof * 1.0001,
                "{}",
                kernel.label()
            );
        }
    }
}
