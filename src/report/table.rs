//! Plain-text tables for the terminal.

use super::fixed::Fixed;
use crate::config::platform::Platform;
use crate::config::precision::Precision;
use crate::roofline::{Bound, MemorySummary, RooflineAnalysis, Roofs};
use crate::workload::{Encoder, Kernel, Pipeline, Prefill, Workload};
use std::fmt::Write;

/// One line saying what ran: the policy that set the prefix, cameras, batch, the text
/// prefix's tokens by origin, the text layers, the action expert and its switches in the
/// full pipeline, and the fusion.
pub(crate) fn workload_line(workload: &Workload) -> String {
    let options = &workload.options;
    let policy = options.policy.as_deref().unwrap_or("none (bare model)");
    let vision = workload.encoder_kernels(Encoder::Vision).next().is_some();
    // Cameras only where there are images to take.
    let cameras = if workload.reads_images() {
        format!("{} camera(s), ", options.cameras)
    } else {
        String::new()
    };
    let mut line = format!(
        "workload: policy {policy}; {cameras}batch {}",
        options.batch
    );
    if vision {
        let _ = write!(line, "; {} vision layers", options.vision_layers);
        let _ = write!(
            line,
            "{}",
            if options.per_camera_vision {
                " once per camera (as the reference)"
            } else {
                " on all cameras as one batch"
            }
        );
    }
    if workload.encoder_kernels(Encoder::Text).next().is_some() {
        let images = if workload.image_tokens > 0 {
            let per_camera = workload.image_tokens / options.cameras;
            format!(
                "{} image ({} x {per_camera}) + ",
                workload.image_tokens, options.cameras
            )
        } else {
            String::new()
        };
        let _ = write!(
            line,
            "; {} text tokens = {images}{} language + {} state; {} text layers",
            workload.text_tokens,
            options.language_tokens,
            options.state_tokens,
            options.text_layers
        );
        if options.prefill == Prefill::TokenSerial {
            line.push_str(", the prompt one token at a time");
        }
    }
    if let (Pipeline::Full, Some(expert)) = (options.pipeline, &options.expert) {
        let switches = &options.switches;
        let _ = write!(
            line,
            "; action expert: {} flow-matching steps over {} action tokens, cross-attention \
             K/V {}{}",
            expert.num_steps,
            expert.chunk_size,
            if switches.cross_kv_once {
                "once per observation"
            } else {
                "at every step (as the reference)"
            },
            if switches.trim_last_text_layer {
                ", last text layer trimmed to K/V"
            } else {
                ""
            }
        );
    }
    let _ = write!(line, "; fusion {}", options.fusion);
    if !options.kernels.is_empty() {
        let _ = write!(line, "; only {}", options.kernels.join(", "));
    }
    line
}

/// Columns padded to their widest cell; the first column left-aligned, the rest right-aligned.
pub(crate) fn aligned(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        for (index, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if index == 0 {
                let _ = write!(out, "{cell:<width$}");
            } else {
                let _ = write!(out, "  {cell:>width$}");
            }
        }
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(rule.iter().map(String::as_str).collect(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

fn shape(kernel: &Kernel) -> String {
    if kernel.op.uses_arrays() {
        format!("{}x{}x{}", kernel.m, kernel.n, kernel.k)
    } else {
        format!("{}x{}", kernel.m, kernel.n)
    }
}

fn mb(bytes: f64) -> String {
    Fixed(bytes / 1e6, 2).to_string()
}

/// The roofline report: roofs, per-encoder kernel tables, totals and the memory summary.
/// `analyses[0]` is the precision the kernel tables show.
pub fn roofline_text(
    analyses: &[RooflineAnalysis],
    memory: &MemorySummary,
    platform: &Platform,
) -> String {
    let mut out = String::new();
    let primary = &analyses[0];
    let _ = writeln!(
        out,
        "{} at {:.0} MHz, {} DSPs, HBM {:.1} GB/s peak / {:.1} GB/s measured",
        platform.name,
        platform.clock_hz / 1e6,
        platform.dsp_slices,
        platform.hbm.peak_bandwidth_bytes_per_s() / 1e9,
        platform.hbm.measured_bandwidth_bytes_per_s() / 1e9
    );
    let _ = writeln!(out, "{}\n", workload_line(&primary.workload));
    let rows: Vec<Vec<String>> = Precision::ALL
        .iter()
        .map(|&precision| {
            let roofs = Roofs::new(platform, precision);
            vec![
                precision.to_string(),
                format!("{}", platform.macs_per_dsp(precision)),
                Fixed(roofs.peak.compute_ops_per_s / 1e12, 2).to_string(),
                Fixed(roofs.peak.ridge_ops_per_byte(), 1).to_string(),
                Fixed(roofs.measured.ridge_ops_per_byte(), 1).to_string(),
            ]
        })
        .collect();
    let _ = writeln!(out, "Compute roofs and ridge points");
    out.push_str(&aligned(
        &[
            "precision",
            "MACs/DSP",
            "TOPS",
            "ridge@peak",
            "ridge@measured",
        ],
        &rows,
    ));
    out.push('\n');

    for encoder in Encoder::ALL {
        encoder_table(&mut out, primary, encoder);
    }

    let _ = writeln!(out, "Encoder totals per forward pass");
    let mut rows = Vec::new();
    for analysis in analyses {
        for encoder in Encoder::ALL {
            let totals = analysis.totals(encoder);
            if totals.kernels == 0 {
                continue;
            }
            rows.push(vec![
                encoder.name().to_string(),
                analysis.workload.options.precision.to_string(),
                Fixed(totals.macs as f64 / 1e9, 2).to_string(),
                mb(totals.bytes as f64),
                Fixed(totals.oi_ops_per_byte(), 1).to_string(),
                Fixed(totals.time_s * 1e3, 3).to_string(),
                Fixed(totals.time_measured_s * 1e3, 3).to_string(),
                Fixed(totals.attainable_ops_per_s() / 1e12, 2).to_string(),
                format!(
                    "{}%",
                    Fixed(100.0 * totals.memory_bound_time_s / totals.time_s, 0)
                ),
            ]);
        }
    }
    out.push_str(&aligned(
        &[
            "encoder",
            "precision",
            "GMACs",
            "MB",
            "OI",
            "ms@peak",
            "ms@measured",
            "TOPS",
            "mem-bound time",
        ],
        &rows,
    ));
    out.push('\n');

    let _ = writeln!(
        out,
        "Parameters (HBM {:.1} GB, on-chip SRAM {:.1} MB)",
        memory.hbm_capacity_bytes as f64 / 1e9,
        memory.sram_bytes as f64 / 1e6
    );
    let mut rows = Vec::new();
    let total = memory.total();
    for group in memory.groups.iter().chain([&total]).chain(&memory.layers) {
        let mut row = vec![
            group.name.clone(),
            Fixed(group.parameters as f64 / 1e6, 3).to_string(),
        ];
        for precision in [
            Precision::Fp32,
            Precision::Fp16,
            Precision::Int8,
            Precision::Int4,
        ] {
            row.push(mb(group.bytes(precision) as f64));
        }
        row.push(format!(
            "{:.1}%",
            100.0 * memory.sram_share(group, Precision::Int8)
        ));
        rows.push(row);
    }
    out.push_str(&aligned(
        &[
            "component",
            "Mparams",
            "MB fp32",
            "MB fp16",
            "MB int8",
            "MB int4",
            "SRAM share at int8",
        ],
        &rows,
    ));
    let fits = |precision: Precision| {
        if memory.fits_hbm(precision) {
            "fits"
        } else {
            "does not fit"
        }
    };
    let _ = writeln!(
        out,
        "all parameters at fp32 {} HBM; at int8 {} HBM\n",
        fits(Precision::Fp32),
        fits(Precision::Int8)
    );
    out
}

/// Distinct kernels of one encoder, with how often each runs.
fn encoder_table(out: &mut String, analysis: &RooflineAnalysis, encoder: Encoder) {
    let mut distinct: Vec<(&Kernel, &crate::roofline::KernelPoint, u64)> = Vec::new();
    for (kernel, point) in analysis.iter().filter(|(k, _)| k.encoder == encoder) {
        match distinct
            .iter_mut()
            .find(|(seen, _, _)| seen.shape_key() == kernel.shape_key())
        {
            Some((_, _, count)) => *count += 1,
            None => distinct.push((kernel, point, 1)),
        }
    }
    if distinct.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{encoder} encoder at {}, fusion {} (per instance; x = instances per forward pass)",
        analysis.workload.options.precision, analysis.workload.options.fusion
    );
    let rows: Vec<Vec<String>> = distinct
        .iter()
        .map(|(kernel, point, count)| {
            vec![
                kernel.name.to_string(),
                kernel.op.name().to_string(),
                shape(kernel),
                kernel.batch.to_string(),
                format!("x{count}"),
                Fixed(kernel.macs as f64 / 1e9, 3).to_string(),
                mb(point.bytes),
                Fixed(point.oi_ops_per_byte, 1).to_string(),
                Fixed(point.attainable_ops_per_s / 1e12, 3).to_string(),
                if point.bound == Bound::Memory {
                    "memory"
                } else {
                    "compute"
                }
                .to_string(),
                Fixed(point.time_s * 1e6 * *count as f64, 1).to_string(),
            ]
        })
        .collect();
    out.push_str(&aligned(
        &[
            "kernel", "op", "MxNxK", "batch", "count", "GMACs", "MB", "OI", "TOPS", "bound",
            "total us",
        ],
        &rows,
    ));
    out.push('\n');
}
