//! `summary.json`: a run's results in one document, for scripts (the tables' figures, not
//! new ones).

use super::pipeline::pipeline_checks;
use super::step::{DecodeRun, RobotStep};
use crate::config::design::Design;
use crate::config::design::clock::expected_clock;
use crate::config::platform::Platform;
use crate::roofline::RooflineAnalysis;
use crate::sim::power::run_power;
use crate::sim::{Bottleneck, SimTotals, WorkloadSim, encoder_totals};
use crate::workload::Encoder;

/// The cycles of each cause, by name.
fn attribution_json(totals: &SimTotals) -> serde_json::Value {
    Bottleneck::ALL
        .iter()
        .map(|cause| {
            let cycles = totals.attribution[*cause as usize];
            (format!("{}_cycles", cause.name()), cycles.into())
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// `summary.json`'s bytes: [`summary_value`], pretty-printed.
pub fn summary_json(summary: &serde_json::Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(summary).expect("a summary serialises");
    bytes.push(b'\n');
    bytes
}

/// `summary.json`: the design and its resources, the workload, and per encoder and in total
/// the cycles, milliseconds, efficiency, bottleneck and cycles by cause, the observations per
/// second: what a script needs without parsing tables, and what the report's headline shows.
pub fn summary_value(
    analysis: &RooflineAnalysis,
    sim: &WorkloadSim,
    design: &Design,
    platform: &Platform,
) -> serde_json::Value {
    let options = &analysis.workload.options;
    let images = (options.cameras * options.batch) as f64;
    let (encoders, all) = encoder_totals(&analysis.workload, sim, design, platform);
    let totals_json = |totals: &SimTotals| {
        let seconds = totals.seconds(design);
        serde_json::json!({
            "kernels": totals.instances,
            "cycles": totals.cycles,
            "ms": seconds * 1e3,
            "ops_per_s": totals.ops / seconds,
            "efficiency": totals.efficiency(design),
            "bottleneck": totals.bottleneck().name(),
            "hbm_bytes_tiled": totals.bytes_tiled,
            "attribution": attribution_json(totals),
        })
    };
    let checks = pipeline_checks(analysis, sim, design);
    let step = RobotStep::new(&analysis.workload, &encoders, design);
    let encoders: Vec<serde_json::Value> = encoders
        .iter()
        .zip(&checks)
        .map(|((encoder, totals), check)| {
            let mut value = totals_json(totals);
            value["encoder"] = encoder.name().into();
            value["pipeline_model_cycles"] = check.model_cycles.into();
            value["pipeline_busy_efficiency"] = check.busy_efficiency.into();
            if matches!(encoder, Encoder::Vision | Encoder::Connector) {
                value["ms_per_camera"] = (totals.seconds(design) * 1e3 / images).into();
            }
            value
        })
        .collect();
    let total_s = all.seconds(design);
    let mut total = totals_json(&all);
    total["observations_per_s"] = (options.batch as f64 / total_s).into();
    total["hbm_gb_per_s"] = (all.bytes_tiled as f64 / total_s / 1e9).into();
    let resources = sim.bill.total;
    let share = |used: u64, available: u64| used as f64 / available.max(1) as f64;
    let array = design.array();
    let clock = expected_clock(design, platform, &sim.bill.slrs);
    let clock_json = serde_json::json!({
        "design_mhz": clock.design_mhz,
        "expected_mhz": clock.expected_mhz,
        "range_mhz": [clock.range_mhz.0, clock.range_mhz.1],
        "optimistic": clock.is_optimistic(),
        "reasons": clock.reasons,
    });
    let mut summary = serde_json::json!({
        "roofsim_version": env!("CARGO_PKG_VERSION"),
        "design": {
            "name": design.name(),
            "source": design.source(),
            "clock_mhz": design.clock_hz() / 1e6,
            "precision": design.precision().to_string(),
            "fusion": design.fusion().to_string(),
            "memory": design.memory().name(),
            "arrays": {
                "count": design.array_count(),
                "rows": array.rows,
                "cols": array.cols,
                "dataflow": array.dataflow.name(),
                "overlap_folds": array.overlap_folds,
            },
            "peak_ops_per_s": 2.0 * design.macs_per_cycle() as f64 * design.clock_hz(),
            "overlap_kernels": design.overlap_kernels(),
            "overlap_layers": design.overlap_layers(),
            "engines": design.engines().iter().map(|engine| {
                let (kind, shape) = engine.describe();
                serde_json::json!({
                    "name": engine.name,
                    "kind": kind,
                    "shape": shape,
                    "precision": engine.precision.name(),
                    "slr": engine.slr,
                })
            }).collect::<Vec<_>>(),
        },
        "resources": {
            "dsps": resources.dsps,
            "bram_blocks": resources.bram_blocks,
            "uram_blocks": resources.uram_blocks,
            "dsp_share": share(resources.dsps, platform.dsp_slices),
            "bram_share": share(resources.bram_blocks, platform.sram.bram_blocks),
            "uram_share": share(resources.uram_blocks, platform.sram.uram_blocks),
            "clock": clock_json,
            "slrs": sim.bill.slrs.iter().map(|slr| serde_json::json!({
                "dsps": slr.used.dsps,
                "bram_blocks": slr.used.bram_blocks,
                "uram_blocks": slr.used.uram_blocks,
                "dsp_share": share(slr.used.dsps, slr.available.dsp_slices),
                "bram_share": share(slr.used.bram_blocks, slr.available.bram_blocks),
                "uram_share": share(slr.used.uram_blocks, slr.available.uram_blocks),
                "lut_share": share(
                    slr.used.luts + slr.used.logic_luts + slr.used.memory_luts,
                    slr.available.luts,
                ),
                "luts": slr.used.luts,
                "logic_luts": slr.used.logic_luts,
                "memory_luts": slr.used.memory_luts,
                "ffs": slr.used.ffs,
                "slls_below": slr.slls_below,
                "slls_available": slr.slls_available,
                "engines": slr.engines.iter().map(|e| design.engines()[e.engine].name.clone()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "links": sim.bill.links.iter().map(|link| serde_json::json!({
                "link": link.link,
                "via": link.via.name(),
                "bytes": link.bytes,
                "storage": link.parts.iter().map(|part| serde_json::json!({
                    "engine": design.engines()[part.engine].name,
                    "slr": part.slr,
                    "memory": part.storage.kind.name(),
                    "bram_blocks": part.storage.bram_blocks,
                    "uram_blocks": part.storage.uram_blocks,
                    "luts": part.storage.luts,
                })).collect::<Vec<_>>(),
                "slls": link.slls,
            })).collect::<Vec<_>>(),
        },
        "platform": platform.name,
        "workload": {
            "policy": options.policy,
            "cameras": options.cameras,
            "batch": options.batch,
            "text_tokens": analysis.workload.text_tokens,
            "image_tokens": analysis.workload.image_tokens,
            "language_tokens": options.language_tokens,
            "state_tokens": options.state_tokens,
            "text_layers": options.text_layers,
            "prefill": options.prefill,
        },
        "simulation": {
            "distinct_layers": sim.units_simulated,
            "events": sim.events,
        },
        "encoders": encoders,
        "total": total,
    });
    let ops: f64 = analysis.iter().map(|(_, point)| point.ops).sum();
    if let Some(power) = run_power(sim, design, platform, ops, options.batch) {
        let pair = |(low, high): (f64, f64)| serde_json::json!([low, high]);
        summary["power"] = serde_json::json!({
            "power_w_min": power.total_w.0,
            "power_w_max": power.total_w.1,
            "static_w": pair(power.static_w),
            "hbm_w": pair(power.hbm_w),
            "compute_w": pair(power.compute_w),
            "energy_j_per_observation": pair(power.energy_j),
            "gops_per_w": pair(power.gops_per_w),
            "assumed_dsp_w_at_300_mhz": pair(power.dsp_w_at_300_mhz),
        });
    }
    if let Some(step) = &step {
        summary["workload"]["pipeline"] = "full".into();
        summary["workload"]["switches"] = serde_json::json!(options.switches);
        summary["robot_step"] = step.json();
    }
    if let Some(decode) = DecodeRun::new(&analysis.workload, sim, design) {
        summary["workload"]["decode_tokens"] = options.decode_tokens.into();
        summary["decode"] = decode.json();
    }
    summary
}
