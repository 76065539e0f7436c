//! Log-log roofline plots as standalone SVG, written by hand so the output is byte-stable.

use super::svg::{Frame, escape};
use crate::config::platform::Platform;
use crate::config::precision::Precision;
use crate::roofline::{RooflineAnalysis, Roofs};
use crate::workload::Encoder;
use std::fmt::Write;

pub(super) const WIDTH: f64 = 980.0;
pub(super) const HEIGHT: f64 = 650.0;
pub(super) const LEFT: f64 = 80.0;
pub(super) const RIGHT: f64 = 760.0;
pub(super) const TOP: f64 = 50.0;
pub(super) const BOTTOM: f64 = 580.0;
pub(super) const FRAME: Frame = Frame {
    width: WIDTH,
    height: HEIGHT,
    left: LEFT,
    right: RIGHT,
    top: TOP,
    bottom: BOTTOM,
};
const FONT_PX: f64 = 11.0;
/// Width of one character of the label font, a conservative estimate for sans-serif.
const CHAR_PX: f64 = 6.4;
pub(super) const MARKER_PX: f64 = 4.0;

/// Colours of the compute ceilings, by precision (fp16 and bf16 share a ceiling).
fn ceiling_colour(precision: Precision) -> &'static str {
    match precision {
        Precision::Int4 => "#1b9e77",
        Precision::Int8 => "#d95f02",
        Precision::Fp16 | Precision::Bf16 => "#7570b3",
        Precision::Fp32 => "#e7298a",
    }
}

/// An axis-aligned box in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rect {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl Rect {
    pub(super) fn overlaps(&self, other: &Rect) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }

    fn inside(&self, other: &Rect) -> bool {
        self.x0 >= other.x0 && self.x1 <= other.x1 && self.y0 >= other.y0 && self.y1 <= other.y1
    }
}

/// Log-scale mapping of data to pixels.
pub(super) struct Axes {
    pub x_decades: (i32, i32),
    pub y_decades: (i32, i32),
}

impl Axes {
    pub(super) fn x(&self, oi: f64) -> f64 {
        let (lo, hi) = self.x_decades;
        LEFT + (oi.log10() - lo as f64) / (hi - lo) as f64 * (RIGHT - LEFT)
    }

    pub(super) fn y(&self, ops_per_s: f64) -> f64 {
        let (lo, hi) = self.y_decades;
        BOTTOM - (ops_per_s.log10() - lo as f64) / (hi - lo) as f64 * (BOTTOM - TOP)
    }

    pub(super) fn x_inverse(&self, pixel: f64) -> f64 {
        let (lo, hi) = self.x_decades;
        10f64.powf(lo as f64 + (pixel - LEFT) / (RIGHT - LEFT) * (hi - lo) as f64)
    }
}

/// A plotted kernel: distinct kernels at the same spot share one marker and label.
struct Point {
    x: f64,
    y: f64,
    label: String,
    on_arrays: bool,
}

fn y_tick_label(exponent: i32) -> String {
    let (scale, unit) = match exponent {
        e if e >= 12 => (e - 12, "T"),
        e if e >= 9 => (e - 9, "G"),
        e if e >= 6 => (e - 6, "M"),
        e => (e, ""),
    };
    format!("{}{unit}", 10u64.pow(scale.max(0) as u32))
}

fn x_tick_label(exponent: i32) -> String {
    if exponent >= 0 {
        format!("{}", 10u64.pow(exponent as u32))
    } else {
        format!("{:.*}", (-exponent) as usize, 10f64.powi(exponent))
    }
}

/// Roofline plot of the given encoders' distinct kernels at the analysis' precision.
pub fn roofline_svg(
    title: &str,
    analysis: &RooflineAnalysis,
    encoders: &[Encoder],
    platform: &Platform,
) -> String {
    let precisions = [
        Precision::Int4,
        Precision::Int8,
        Precision::Fp16,
        Precision::Fp32,
    ];
    let roofs: Vec<Roofs> = precisions
        .iter()
        .map(|&precision| Roofs::new(platform, precision))
        .collect();

    let mut raw_points: Vec<(f64, f64, String, bool)> = Vec::new();
    let mut seen = Vec::new();
    for (kernel, point) in analysis.iter() {
        if !encoders.contains(&kernel.encoder) || point.ops == 0.0 {
            continue;
        }
        let key = kernel.shape_key();
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let label = if encoders.len() > 1 && kernel.encoder != encoders[0] {
            kernel.label()
        } else {
            kernel.name.to_string()
        };
        raw_points.push((
            point.oi_ops_per_byte,
            point.attainable_ops_per_s,
            label,
            kernel.op.uses_arrays(),
        ));
    }

    let min_oi = raw_points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let max_oi = raw_points.iter().map(|p| p.0).fold(0.0, f64::max);
    let max_ridge = roofs
        .iter()
        .map(|r| r.measured.ridge_ops_per_byte())
        .fold(0.0, f64::max);
    let min_ops = raw_points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let max_compute = roofs
        .iter()
        .map(|r| r.peak.compute_ops_per_s)
        .fold(0.0, f64::max);
    let axes = Axes {
        x_decades: (
            (min_oi.min(1.0) / 2.0).log10().floor() as i32,
            (max_oi.max(max_ridge) * 4.0).log10().ceil() as i32,
        ),
        y_decades: (
            (min_ops / 3.0).log10().floor() as i32,
            (max_compute * 3.0).log10().ceil() as i32,
        ),
    };

    // Merge kernels that land on the same pixel, each name once (decode repeats a kernel at
    // every cache length).
    let mut points: Vec<Point> = Vec::new();
    for (oi, ops, label, on_arrays) in raw_points {
        let (x, y) = (axes.x(oi), axes.y(ops));
        match points
            .iter_mut()
            .find(|p| (p.x - x).abs() < 1.0 && (p.y - y).abs() < 1.0)
        {
            Some(existing) => {
                if !existing.label.split(", ").any(|name| name == label) {
                    existing.label.push_str(", ");
                    existing.label.push_str(&label);
                }
            }
            None => points.push(Point {
                x,
                y,
                label,
                on_arrays,
            }),
        }
    }
    points.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));

    let mut svg = FRAME.open(title);
    draw_grid(&mut svg, &axes);

    // Memory roofs: one slope per bandwidth, from the left edge to the highest ceiling.
    let bandwidths = [
        (roofs[0].peak.bandwidth_bytes_per_s, "", "HBM peak"),
        (
            roofs[0].measured.bandwidth_bytes_per_s,
            r#" stroke-dasharray="6 4""#,
            "HBM measured",
        ),
    ];
    for (bandwidth, dash, _) in bandwidths {
        draw_slope(&mut svg, &axes, bandwidth, max_compute, dash);
    }
    // Compute ceilings, from the peak ridge to the right edge.
    for roof in &roofs {
        let colour = ceiling_colour(roof.precision);
        let y = axes.y(roof.peak.compute_ops_per_s);
        let name = match roof.precision {
            Precision::Fp16 => "FP16/BF16".to_string(),
            other => other.name().to_uppercase(),
        };
        let _ = writeln!(
            svg,
            r#"<line x1="{:.1}" y1="{y:.1}" x2="{RIGHT}" y2="{y:.1}" stroke="{colour}" stroke-width="1.6"/>"#,
            axes.x(roof.peak.ridge_ops_per_byte()),
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{:.1}" fill="{colour}">{name} {:.2} TOPS, ridge {:.1}</text>"#,
            RIGHT + 6.0,
            y + 4.0,
            roof.peak.compute_ops_per_s / 1e12,
            roof.peak.ridge_ops_per_byte()
        );
    }

    let ceilings: Vec<Rect> = roofs
        .iter()
        .map(|roof| {
            let y = axes.y(roof.peak.compute_ops_per_s);
            Rect {
                x0: axes.x(roof.peak.ridge_ops_per_byte()),
                y0: y - 1.5,
                x1: RIGHT,
                y1: y + 1.5,
            }
        })
        .collect();
    let colour = ceiling_colour(analysis.workload.options.precision.compute());
    let precision = analysis.workload.options.precision.to_string();
    draw_points(&mut svg, &points, &ceilings, colour);
    draw_legend(&mut svg, &bandwidths, &precision, colour);
    let _ = writeln!(
        svg,
        r##"<text x="{LEFT}" y="{}" fill="#555">Kernels without arithmetic (pixel shuffle) have no place on a log axis and are not drawn.</text>"##,
        HEIGHT - 8.0
    );
    FRAME.axis_titles(
        &mut svg,
        "Operational intensity (ops/byte of compulsory HBM traffic)",
        "Attainable performance (ops/s)",
    );
    svg.push_str("</svg>\n");
    svg
}

/// A memory roof: the slope of `bandwidth` from the plot's left edge up to `ceiling` ops/s.
pub(super) fn draw_slope(svg: &mut String, axes: &Axes, bandwidth: f64, ceiling: f64, dash: &str) {
    let x0 = axes.x_inverse(LEFT);
    let x1 = ceiling / bandwidth;
    let _ = writeln!(
        svg,
        r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333" stroke-width="1.6"{dash}/>"##,
        axes.x(x0),
        axes.y(x0 * bandwidth),
        axes.x(x1),
        axes.y(ceiling)
    );
}

pub(super) fn draw_grid(svg: &mut String, axes: &Axes) {
    FRAME.border(svg);
    for exponent in axes.x_decades.0..=axes.x_decades.1 {
        let x = axes.x(10f64.powi(exponent));
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{BOTTOM}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
            BOTTOM + 16.0,
            x_tick_label(exponent)
        );
    }
    for exponent in axes.y_decades.0..=axes.y_decades.1 {
        let y = axes.y(10f64.powi(exponent));
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{RIGHT}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT - 6.0,
            y + 4.0,
            y_tick_label(exponent)
        );
    }
}

/// Legend box in the lower right of the plot area, where the slope never reaches.
fn legend_rect() -> Rect {
    Rect {
        x0: RIGHT - 200.0,
        y0: BOTTOM - 92.0,
        x1: RIGHT - 8.0,
        y1: BOTTOM - 8.0,
    }
}

fn draw_legend(
    svg: &mut String,
    bandwidths: &[(f64, &str, &str); 2],
    precision: &str,
    colour: &str,
) {
    let r = legend_rect();
    let _ = writeln!(
        svg,
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="white" stroke="#999"/>"##,
        r.x0,
        r.y0,
        r.x1 - r.x0,
        r.y1 - r.y0
    );
    let mut y = r.y0 + 16.0;
    for (bandwidth, dash, name) in bandwidths {
        let _ = writeln!(
            svg,
            r##"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="#333" stroke-width="1.6"{dash}/><text x="{}" y="{}">{name} {:.0} GB/s</text>"##,
            r.x0 + 8.0,
            r.x0 + 32.0,
            r.x0 + 38.0,
            y + 4.0,
            bandwidth / 1e9
        );
        y += 18.0;
    }
    let _ = writeln!(
        svg,
        r##"<circle cx="{}" cy="{y}" r="{MARKER_PX}" fill="{colour}"/><text x="{}" y="{}">GEMM kernel at {precision}</text>"##,
        r.x0 + 20.0,
        r.x0 + 38.0,
        y + 4.0
    );
    y += 18.0;
    let _ = writeln!(
        svg,
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="white" stroke="{colour}" stroke-width="1.5"/><text x="{}" y="{}">vector kernel at {precision}</text>"##,
        r.x0 + 20.0 - MARKER_PX,
        y - MARKER_PX,
        2.0 * MARKER_PX,
        2.0 * MARKER_PX,
        r.x0 + 38.0,
        y + 4.0
    );
}

/// The plot area labels must stay inside.
fn plot_area() -> Rect {
    Rect {
        x0: LEFT + 2.0,
        y0: TOP + 2.0,
        x1: RIGHT - 2.0,
        y1: BOTTOM - 2.0,
    }
}

/// Places a label of `chars` characters beside each `(x, y)` point, greedily in order: the
/// first spot, ring by ring outwards, that stays inside the plot and overlaps no `taken` box
/// and no label placed before. Returns each label's box and ring (ring > 0 wants a leader
/// line), or `None` if no spot is free within 30 rings.
pub(super) fn place_labels(
    points: &[(f64, f64, usize)],
    taken: &[Rect],
) -> Vec<Option<(Rect, u32)>> {
    let plot = plot_area();
    let mut taken = taken.to_vec();
    let height = FONT_PX + 2.0;
    points
        .iter()
        .map(|&(x, y, chars)| {
            let width = chars as f64 * CHAR_PX;
            let placement = (0..30).find_map(|ring| {
                let distance = 7.0 + 12.0 * ring as f64;
                // Right, left, above, below, then the diagonals.
                let candidates = [
                    (distance, -height / 2.0),
                    (-distance - width, -height / 2.0),
                    (-width / 2.0, -distance - height),
                    (-width / 2.0, distance),
                    (distance * 0.7, -distance * 0.7 - height),
                    (-distance * 0.7 - width, -distance * 0.7 - height),
                    (distance * 0.7, distance * 0.7),
                    (-distance * 0.7 - width, distance * 0.7),
                ];
                candidates.into_iter().find_map(|(dx, dy)| {
                    let rect = Rect {
                        x0: x + dx,
                        y0: y + dy,
                        x1: x + dx + width,
                        y1: y + dy + height,
                    };
                    (rect.inside(&plot) && !taken.iter().any(|t| t.overlaps(&rect)))
                        .then_some((rect, ring))
                })
            });
            if let Some((rect, _)) = placement {
                taken.push(rect);
            }
            placement
        })
        .collect()
}

/// Markers, then labels placed greedily where they overlap no other label, marker or the legend.
fn draw_points(svg: &mut String, points: &[Point], obstacles: &[Rect], colour: &str) {
    let mut taken: Vec<Rect> = vec![legend_rect()];
    taken.extend_from_slice(obstacles);
    for point in points {
        taken.push(Rect {
            x0: point.x - MARKER_PX - 1.0,
            y0: point.y - MARKER_PX - 1.0,
            x1: point.x + MARKER_PX + 1.0,
            y1: point.y + MARKER_PX + 1.0,
        });
        if point.on_arrays {
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="{MARKER_PX}" fill="{colour}"/>"#,
                point.x, point.y
            );
        } else {
            let _ = writeln!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="{}" height="{}" fill="white" stroke="{colour}" stroke-width="1.5"/>"#,
                point.x - MARKER_PX,
                point.y - MARKER_PX,
                2.0 * MARKER_PX,
                2.0 * MARKER_PX
            );
        }
    }
    let labels: Vec<(f64, f64, usize)> = points
        .iter()
        .map(|p| (p.x, p.y, p.label.chars().count()))
        .collect();
    let placements = place_labels(&labels, &taken);
    for (point, placement) in points.iter().zip(placements) {
        let Some((rect, ring)) = placement else {
            continue;
        };
        if ring > 0 {
            // A leader line from the marker to the nearest corner region of the label.
            let lx = point.x.clamp(rect.x0, rect.x1);
            let ly = point.y.clamp(rect.y0, rect.y1);
            let _ = writeln!(
                svg,
                r##"<line x1="{:.1}" y1="{:.1}" x2="{lx:.1}" y2="{ly:.1}" stroke="#888" stroke-width="0.7"/>"##,
                point.x, point.y
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            rect.x0,
            rect.y1 - 3.0,
            escape(&point.label)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Up to 16 points anywhere in the plot, labels of up to 30 characters: every label is
        /// placed, inside the plot, over no marker and no other label.
        #[test]
        fn labels_never_overlap(points in prop::collection::vec(
            (LEFT + 10.0..RIGHT - 10.0, TOP + 10.0..BOTTOM - 10.0, 3usize..30), 1..16)) {
            let markers: Vec<Rect> = points
                .iter()
                .map(|&(x, y, _)| Rect {
                    x0: x - MARKER_PX - 1.0,
                    y0: y - MARKER_PX - 1.0,
                    x1: x + MARKER_PX + 1.0,
                    y1: y + MARKER_PX + 1.0,
                })
                .collect();
            let placed = place_labels(&points, &markers);
            let boxes: Vec<Rect> = placed.iter().map(|p| p.expect("every label is placed").0).collect();
            for (i, a) in boxes.iter().enumerate() {
                prop_assert!(a.inside(&plot_area()));
                prop_assert!(!markers.iter().any(|m| m.overlaps(a)));
                prop_assert!(!boxes[i + 1..].iter().any(|b| b.overlaps(a)));
            }
        }
    }
}
