//! Simulation reports: per-kernel CSV, per-channel CSV and a summary for the terminal.

use super::fixed::{Fixed, Sci};
use super::html::Table;
use super::pipeline::{pipeline_checks, pipeline_text};
use super::step::{DecodeRun, RobotStep};
use super::{ROOFLINE_CSV_HEADER, ReportError, Row, roofline_fields};
use crate::config::design::clock::expected_clock;
use crate::config::design::{Design, KernelLabel};
use crate::config::platform::Platform;
use crate::lower::Bill;
use crate::roofline::RooflineAnalysis;
use crate::sim::hbm::{ChannelStats, TICKS_PER_CYCLE};
use crate::sim::power::{kernel_energy_j, run_power};
use crate::sim::{Bottleneck, CrossCheck, SimTotals, WorkloadSim, cross_check, encoder_totals};
use crate::workload::Encoder;
use std::fmt::Write;

/// Columns `kernels.csv` adds to the roofline columns, before one `<cause>_cycles` column per
/// [`Bottleneck`].
pub const SIM_CSV_COLUMNS: [&str; 11] = [
    "bytes_tiled",
    "oi_tiled",
    "cycles",
    "start_cycle",
    "achieved_ops_per_s",
    "roofline_ops_per_s",
    "efficiency",
    "bottleneck",
    "array_utilization",
    "max_channel_utilization",
    "pipeline_stage_cycles",
];

/// One row per kernel instance: the roofline columns, then what the simulation measured.
pub fn kernels_csv(
    analysis: &RooflineAnalysis,
    sim: &WorkloadSim,
    design: &Design,
    platform: &Platform,
) -> Result<Vec<u8>, ReportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let cause_columns = Bottleneck::ALL.map(|cause| format!("{}_cycles", cause.name()));
    let energy = platform.power.as_ref();
    let energy_columns = energy
        .map(|_| ["dynamic_energy_uj_min", "dynamic_energy_uj_max"].map(String::from))
        .into_iter()
        .flatten();
    writer.write_record(
        ROOFLINE_CSV_HEADER
            .iter()
            .chain(&SIM_CSV_COLUMNS)
            .map(|c| c.to_string())
            .chain(cause_columns)
            .chain(energy_columns),
    )?;
    let precision = analysis.workload.options.precision.to_string();
    let mut row = Row::new(&mut writer);
    for (((kernel, point), result), stage) in analysis
        .iter()
        .zip(&sim.kernels)
        .zip(&sim.pipeline.stage_cycles)
    {
        let check = cross_check(kernel, result, design, platform);
        roofline_fields(&mut row, kernel, point, &precision)?;
        row.field(result.bytes_tiled)?;
        row.field(Fixed(check.oi_tiled, 6))?;
        row.field(result.cycles)?;
        row.field(result.start_cycle)?;
        row.field(Sci(check.achieved_ops_per_s, 6))?;
        row.field(Sci(check.roofline_ops_per_s, 6))?;
        row.field(Fixed(check.efficiency, 4))?;
        row.field(result.bottleneck().name())?;
        row.field(Fixed(check.array_utilization, 4))?;
        row.field(Fixed(check.max_channel_utilization, 4))?;
        row.field(stage)?;
        for cycles in result.attribution {
            row.field(cycles)?;
        }
        if let Some(inputs) = energy {
            let (low, high) = kernel_energy_j(inputs, design, result);
            row.field(Sci(low * 1e6, 6))?;
            row.field(Sci(high * 1e6, 6))?;
        }
        row.end()?;
    }
    writer
        .into_inner()
        .map_err(|error| ReportError::Csv(error.into_error().into()))
}

/// Channel statistics summed over the forward pass (each kernel instance counted).
pub fn channel_totals(sim: &WorkloadSim) -> Vec<ChannelStats> {
    let mut totals =
        vec![ChannelStats::default(); sim.kernels.first().map_or(0, |k| k.channels.len())];
    for kernel in &sim.kernels {
        for (total, stats) in totals.iter_mut().zip(&kernel.channels) {
            total.add(stats);
        }
    }
    totals
}

/// One row per engine (the pool's arrays and vector units, then the named engines): what it
/// is, its busy cycles over the forward pass, its utilisation (busy over the run's cycles),
/// the kernel instances that used it, and the run's cycles by cause on it: busy (compute or
/// vector unit) and why it sat idle. `engines.csv`, and the report's engines table.
pub fn engine_table(sim: &WorkloadSim, design: &Design) -> Table {
    let total_cycles = sim.cycles();
    let columns = [
        "engine",
        "kind",
        "shape",
        "busy_cycles",
        "utilization",
        "kernels",
    ]
    .map(String::from)
    .into_iter()
    .chain(Bottleneck::ALL.map(|cause| format!("{}_cycles", cause.name())))
    .collect();
    let rows = design
        .engines()
        .iter()
        .enumerate()
        .map(|(index, engine)| {
            let busy: u64 = sim
                .kernels
                .iter()
                .map(|k| k.engine_busy_cycles[index])
                .sum();
            let kernels = sim
                .kernels
                .iter()
                .filter(|k| k.engine_busy_cycles[index] > 0)
                .count();
            let mut causes = [0; Bottleneck::COUNT];
            for unit in &sim.units {
                for (sum, cycles) in causes.iter_mut().zip(&unit.engines[index]) {
                    *sum += cycles;
                }
            }
            let (kind, shape) = engine.describe();
            [
                engine.name.clone(),
                kind.to_string(),
                shape,
                busy.to_string(),
                Fixed(busy as f64 / total_cycles.max(1) as f64, 4).to_string(),
                kernels.to_string(),
            ]
            .into_iter()
            .chain(causes.iter().map(u64::to_string))
            .collect()
        })
        .collect();
    Table {
        heading: "Engines: busy time and why each sat idle".to_string(),
        columns,
        rows,
    }
}

/// One row per HBM pseudo-channel: bytes and where its time went. `channels.csv`, and the
/// report's channels table.
pub fn channel_table(sim: &WorkloadSim, design: &Design) -> Table {
    let total_cycles = sim.cycles();
    let ticks = (total_cycles * TICKS_PER_CYCLE).max(1) as f64;
    let columns = [
        "channel",
        "bytes",
        "bursts",
        "busy_fraction",
        "data_fraction",
        "burst_overhead_fraction",
        "latency_fraction",
        "refresh_fraction",
        "switch_crossing_fraction",
        "achieved_gb_per_s",
    ];
    let seconds = total_cycles as f64 / design.clock_hz();
    let rows = channel_totals(sim)
        .iter()
        .enumerate()
        .map(|(channel, stats)| {
            vec![
                channel.to_string(),
                stats.bytes.to_string(),
                stats.bursts.to_string(),
                Fixed(stats.busy_ticks() as f64 / ticks, 4).to_string(),
                Fixed(stats.data_ticks as f64 / ticks, 4).to_string(),
                Fixed(stats.overhead_ticks as f64 / ticks, 4).to_string(),
                Fixed(stats.latency_ticks as f64 / ticks, 4).to_string(),
                Fixed(stats.refresh_ticks as f64 / ticks, 4).to_string(),
                Fixed(stats.crossing_ticks as f64 / ticks, 4).to_string(),
                Fixed(stats.bytes as f64 / seconds / 1e9, 3).to_string(),
            ]
        })
        .collect();
    Table::new("HBM pseudo-channels", &columns, rows)
}

/// One line naming the design: arrays, named engines, clock, peak, resources, memory model
/// and schedule.
fn design_line(design: &Design, bill: &Bill) -> String {
    let pool = design.array_count() as usize + design.vector_units() as usize;
    let named: Vec<String> = design.engines()[pool..]
        .iter()
        .map(|e| format!("{} ({})", e.name, e.describe().1))
        .collect();
    let named = if named.is_empty() {
        String::new()
    } else {
        format!(" + engines {}", named.join(", "))
    };
    let schedule = if design.overlap_kernels() {
        "; kernels of a layer overlap"
    } else {
        ""
    };
    format!(
        "design {}: {} arrays {}x{} {}{named} at {:.0} MHz ({:.2} TOPS), {} DSPs, {} BRAM, {} URAM; memory {}{schedule}",
        design.name(),
        design.array_count(),
        design.array().rows,
        design.array().cols,
        design.array().dataflow.name(),
        design.clock_hz() / 1e6,
        2.0 * design.macs_per_cycle() as f64 * design.clock_hz() / 1e12,
        bill.total.dsps,
        bill.total.bram_blocks,
        bill.total.uram_blocks,
        design.memory().name()
    )
}

/// Summary of a lone GEMM's simulation: its cycles, throughput against its roof, and where
/// its cycles went.
pub fn gemm_text(
    analysis: &RooflineAnalysis,
    sim: &WorkloadSim,
    design: &Design,
    platform: &Platform,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", design_line(design, &sim.bill));
    for ((kernel, _), result) in analysis.iter().zip(&sim.kernels) {
        let check = cross_check(kernel, result, design, platform);
        let _ = writeln!(
            out,
            "GEMM {}x{}x{} (M x N x K) at {}: {} cycles = {:.3} us, {:.3} TOPS = {:.1}% of its \
             roof at the tiled OI {:.1}; array utilisation {:.1}%; bottleneck {}",
            kernel.m,
            kernel.n,
            kernel.k,
            analysis.workload.options.precision,
            result.cycles,
            result.cycles as f64 / design.clock_hz() * 1e6,
            check.achieved_ops_per_s / 1e12,
            100.0 * check.efficiency,
            check.oi_tiled,
            100.0 * check.array_utilization,
            result.bottleneck().name()
        );
        let causes: Vec<String> = Bottleneck::ALL
            .iter()
            .zip(&result.attribution)
            .filter(|(_, cycles)| **cycles > 0)
            .map(|(cause, cycles)| format!("{} {cycles}", cause.name()))
            .collect();
        let _ = writeln!(out, "cycles by cause: {}", causes.join(", "));
    }
    out
}

/// The columns of the per-kernel table (the first is the kernel).
pub const KERNEL_COLUMNS: [&str; 8] = [
    "kernel",
    "count",
    "total us",
    "OI tiled",
    "TOPS",
    "efficiency",
    "array util",
    "bottleneck",
];

/// One row per kernel name of each encoder, in order of first appearance: its instances,
/// total microseconds, tiled OI, TOPS, efficiency, array utilisation and bottleneck.
pub fn kernel_rows(
    analysis: &RooflineAnalysis,
    sim: &WorkloadSim,
    design: &Design,
    platform: &Platform,
) -> Vec<Vec<String>> {
    let mut groups: Vec<(KernelLabel, SimTotals, CrossCheck)> = Vec::new();
    for ((kernel, _), result) in analysis.iter().zip(&sim.kernels) {
        let key = kernel.label_parts();
        let index = match groups.iter().position(|(seen, _, _)| *seen == key) {
            Some(index) => index,
            None => {
                let example = cross_check(kernel, result, design, platform);
                groups.push((key, SimTotals::default(), example));
                groups.len() - 1
            }
        };
        groups[index].1.add(kernel, result, design, platform);
    }
    groups
        .iter()
        .map(|(label, totals, example)| {
            vec![
                label.to_string(),
                format!("x{}", totals.instances),
                Fixed(totals.seconds(design) * 1e6, 1).to_string(),
                Fixed(example.oi_tiled, 1).to_string(),
                Fixed(example.achieved_ops_per_s / 1e12, 3).to_string(),
                format!("{}%", Fixed(100.0 * totals.efficiency(design), 1)),
                format!("{}%", Fixed(100.0 * example.array_utilization, 1)),
                totals.bottleneck().name().to_string(),
            ]
        })
        .collect()
}

/// Summary for the terminal: per kernel class and per encoder.
pub fn simulation_text(
    analysis: &RooflineAnalysis,
    sim: &WorkloadSim,
    design: &Design,
    platform: &Platform,
) -> String {
    let mut out = String::new();
    let options = &analysis.workload.options;
    let _ = writeln!(out, "{}", design_line(design, &sim.bill));
    out.push_str(&super::resources::slr_text(design, &sim.bill));
    out.push_str(&expected_clock(design, platform, &sim.bill.slrs).text());
    let ops: f64 = analysis.iter().map(|(_, point)| point.ops).sum();
    if let Some(power) = run_power(sim, design, platform, ops, options.batch) {
        out.push_str(&power.text(analysis.workload.unit_noun()));
    }
    let _ = writeln!(out, "{}", super::table::workload_line(&analysis.workload));
    let _ = writeln!(
        out,
        "{} kernels, {} distinct layers simulated (identical layers share their results), {} events\n",
        analysis.workload.kernels.len(),
        sim.units_simulated,
        sim.events
    );
    let rows = kernel_rows(analysis, sim, design, platform);
    let kernel_header = format!("kernel (fusion {})", options.fusion);
    out.push_str(&super::table::aligned(
        &[&[kernel_header.as_str()][..], &KERNEL_COLUMNS[1..]].concat(),
        &rows,
    ));
    out.push('\n');
    let mut rows = Vec::new();
    let (encoders, all) = encoder_totals(&analysis.workload, sim, design, platform);
    for (encoder, totals) in &encoders {
        let seconds = totals.seconds(design);
        let per_camera = match encoder {
            Encoder::Vision | Encoder::Connector => format!(
                "{:.3}",
                seconds * 1e3 / (options.cameras * options.batch) as f64
            ),
            Encoder::Text | Encoder::Expert | Encoder::Decode => "-".to_string(),
        };
        rows.push(vec![
            encoder.name().to_string(),
            Fixed(seconds * 1e3, 3).to_string(),
            per_camera,
        ]);
    }
    let total_s = all.seconds(design);
    let step = RobotStep::new(&analysis.workload, &encoders, design);
    rows.push(vec![
        if step.is_some() {
            "whole step"
        } else {
            "all encoders"
        }
        .into(),
        Fixed(total_s * 1e3, 3).to_string(),
        "-".into(),
    ]);
    // Per camera only where there are cameras.
    let columns = if analysis.workload.reads_images() {
        3
    } else {
        2
    };
    for row in &mut rows {
        row.truncate(columns);
    }
    out.push_str(&super::table::aligned(
        &["encoder", "ms per step", "ms per camera"][..columns],
        &rows,
    ));
    if design.overlap_kernels() {
        out.push_str(&pipeline_text(
            &pipeline_checks(analysis, sim, design),
            design,
        ));
    }
    if let Some(step) = &step {
        out.push_str(&step.text());
    }
    if let Some(decode) = DecodeRun::new(&analysis.workload, sim, design) {
        out.push_str(&decode.text());
    }
    let bytes = all.bytes_tiled;
    // An observation of the robot's cameras, or one input of a model that reads no images.
    let rate = if analysis.workload.reads_images() {
        format!(
            "{:.1} observations/s (batch {}, {} cameras each)",
            options.batch as f64 / total_s,
            options.batch,
            options.cameras
        )
    } else {
        format!(
            "{:.1} inferences/s (batch {})",
            options.batch as f64 / total_s,
            options.batch
        )
    };
    let _ = writeln!(
        out,
        "\n{rate}; HBM {:.1} GB/s on average = {:.1}% of the {:.0} GB/s peak",
        bytes as f64 / total_s / 1e9,
        100.0 * bytes as f64 / total_s / platform.hbm.peak_bandwidth_bytes_per_s(),
        platform.hbm.peak_bandwidth_bytes_per_s() / 1e9
    );
    out
}
