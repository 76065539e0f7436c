//! The pipeline model next to the simulation, per encoder: how far a dataflow design falls
//! short of its stages' peak rates, and why.

use crate::config::design::Design;
use crate::roofline::RooflineAnalysis;
use crate::sim::WorkloadSim;
use crate::workload::Encoder;
use std::fmt::Write;

/// One encoder's pipeline model against its simulation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct PipelineCheck {
    pub encoder: Encoder,
    /// What the pipeline model says.
    pub model_cycles: u64,
    pub simulated_cycles: u64,
    /// The model's engine-cycles of the encoder's kernels over the engines' simulated busy
    /// cycles: below 1 when fold fill and drain (or a pipeline depth) cost time the model
    /// does not count.
    pub busy_efficiency: f64,
}

/// Per encoder, in order.
pub(super) fn pipeline_checks(
    analysis: &RooflineAnalysis,
    sim: &WorkloadSim,
    design: &Design,
) -> Vec<PipelineCheck> {
    let workload = &analysis.workload;
    let model = &sim.pipeline;
    let mut checks: Vec<PipelineCheck> = Vec::new();
    let mut engine_cycles: Vec<(f64, f64)> = Vec::new();
    for (unit, &model_cycles) in sim.units.iter().zip(&model.unit_cycles) {
        // An encoder may come back (the vision tower once per camera): one check each.
        let encoder = workload.kernels[unit.kernels.start].encoder;
        let at = match checks.iter().position(|c| c.encoder == encoder) {
            Some(at) => at,
            None => {
                checks.push(PipelineCheck {
                    encoder,
                    model_cycles: 0,
                    simulated_cycles: 0,
                    busy_efficiency: 0.0,
                });
                engine_cycles.push((0.0, 0.0));
                checks.len() - 1
            }
        };
        let check = &mut checks[at];
        check.model_cycles += model_cycles;
        check.simulated_cycles += unit.cycles;
        let (ideal, busy) = &mut engine_cycles[at];
        for index in unit.kernels.clone() {
            let kernel = &workload.kernels[index];
            let engines = design.engines_for(kernel.label_parts(), kernel.class);
            let used = if kernel.op.uses_arrays() {
                engines.gemm.len()
            } else {
                engines.vector.len()
            };
            *ideal += (model.stage_cycles[index] * used as u64) as f64;
            *busy += sim.kernels[index].engine_busy_cycles.iter().sum::<u64>() as f64;
        }
    }
    for (check, (ideal, busy)) in checks.iter_mut().zip(engine_cycles) {
        check.busy_efficiency = if busy > 0.0 { ideal / busy } else { 1.0 };
    }
    checks
}

/// Lines for the terminal: model, simulation and what separates them.
pub(super) fn pipeline_text(checks: &[PipelineCheck], design: &Design) -> String {
    let mut out = String::from(
        "\npipeline model (Chen et al., TRETS 2024: stages at their engines' peak, streaming \
         between sync points):\n",
    );
    let ms = |cycles: u64| cycles as f64 / design.clock_hz() * 1e3;
    for check in checks {
        let _ = writeln!(
            out,
            "  {:<9} model {:>9.3} ms, simulated {:>9.3} ms ({:.2}x): engines busy at {:.0}% \
             of their peak rate (fold fill and drain), the rest of the gap is waiting (HBM, \
             sync, starved, backpressure)",
            check.encoder.name(),
            ms(check.model_cycles),
            ms(check.simulated_cycles),
            check.simulated_cycles as f64 / check.model_cycles.max(1) as f64,
            100.0 * check.busy_efficiency
        );
    }
    out
}
