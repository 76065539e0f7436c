//! The shipped designs written from papers, held against the pipeline model on their own
//! engines: where every stage streams at row-block grain, the simulation may exceed the
//! model only by what the model leaves out (the engines' fold fill and drain, and one row
//! block of each stage draining behind its producer's last).

use roofsim::config::Source;
use roofsim::config::design::{Design, load_design};
use roofsim::config::model::load_model;
use roofsim::config::platform::default_platform;
use roofsim::sim::{WorkloadSim, simulate_workload};
use roofsim::workload::WorkloadChoices;

fn design(path: &str, text: &str) -> Design {
    load_design(&Source::built_in(path, text), &default_platform()).unwrap()
}

/// The BERT-base spatial design (Chen et al., TRETS 2024) at 512 tokens, every stage an
/// engine of its own streaming 16-row blocks. Bound: model × the worst ratio of an engine's
/// busy cycles to its peak-rate cycles (fold fill and drain) + per layer one row block of
/// every GEMM stage at its busy rate (the drain the model does not charge: a stage ends a
/// row block after its producer's last). A whole-tensor wait between two stages of a layer
/// (context into the output projection, say) adds a whole stage per layer and breaks it.
#[test]
fn the_bert_design_runs_within_a_row_block_per_stage_of_its_pipeline_model() {
    let design = design(
        "u280-w4a8-bert-spatial.toml",
        include_str!("../../configs/designs/u280-w4a8-bert-spatial.toml"),
    );
    let model = load_model(&Source::built_in(
        "bert-base-uncased.config.json",
        include_str!("../../configs/models/bert-base-uncased.config.json"),
    ))
    .unwrap();
    let choices = WorkloadChoices {
        language_tokens: Some(512),
        batch: 1,
        fusion: design.fusion(),
        ..WorkloadChoices::default()
    };
    let work = choices.build(&model, None, design.precision()).unwrap();
    let sim =
        simulate_workload(&work, &design, &default_platform(), u64::MAX, None, &|| {}).unwrap();
    let pipeline = &sim.pipeline;
    let model_cycles = above_the_model_within(&sim, 1.15);

    let mut worst_ratio = 1f64;
    let mut drain_cycles = 0u64;
    for (index, kernel) in work.kernels.iter().enumerate() {
        if !kernel.op.uses_arrays() {
            continue;
        }
        let busy: u64 = sim.kernels[index].engine_busy_cycles.iter().sum();
        worst_ratio = worst_ratio.max(busy as f64 / pipeline.stage_cycles[index] as f64);
        let tiling = design.tiling_of(kernel.label_parts(), kernel.class);
        drain_cycles += busy / kernel.m.div_ceil(tiling.tm);
    }
    let bound = (model_cycles as f64 * worst_ratio) as u64 + drain_cycles;
    assert!(
        sim.cycles() <= bound,
        "{} > {model_cycles} × {worst_ratio:.3} + {drain_cycles}",
        sim.cycles()
    );
}

/// The attention dataflow design (the Cornell-Allogators structure: an engine per loop nest,
/// every one walking the heads in turn) on one vision layer's attention: scores start once
/// the first head is projected, not after the projections; the output projection, reducing
/// one head per step, ends one head step after the last context head, not a whole stage
/// after it; and the simulation stays within 15 % above the pipeline model, which starts each
/// stage when its first tile's first reduction step has its inputs (a model that waited for
/// the first tile's whole reduction would start the output projection only after the last
/// context head, 1.5 times the simulated time, and fail the first assertion).
#[test]
fn the_attention_dataflow_design_overlaps_head_by_head() {
    let design = design(
        "u280-int8-attention-dataflow.toml",
        include_str!("../../configs/designs/u280-int8-attention-dataflow.toml"),
    );
    let names = [
        "q_proj", "k_proj", "v_proj", "scores", "softmax", "context", "o_proj",
    ];
    let choices = WorkloadChoices {
        cameras: Some(1),
        vision_layers: Some(1),
        batch: 1,
        kernels: names.iter().map(|n| format!("vision/{n}")).collect(),
        fusion: design.fusion(),
        ..WorkloadChoices::default()
    };
    let policy = roofsim::config::model::default_policy();
    let work = choices
        .build(
            &roofsim::config::model::default_model(),
            Some(&policy),
            design.precision(),
        )
        .unwrap();
    let sim =
        simulate_workload(&work, &design, &default_platform(), u64::MAX, None, &|| {}).unwrap();
    above_the_model_within(&sim, 1.15);
    let kernel = |name: &str| {
        let index = work.kernels.iter().position(|k| k.name == name).unwrap();
        &sim.kernels[index]
    };
    let end = |name: &str| kernel(name).start_cycle + kernel(name).cycles;
    let heads = 12;
    // The projections make a head every twelfth of their time; scores wait for Q and K of
    // the first (and a tile's latency), far less than the projections' whole.
    let q_head = kernel("q_proj").cycles / heads;
    assert!(kernel("scores").start_cycle < kernel("q_proj").start_cycle + 3 * q_head);
    // One head step of the output projection: its busy cycles over the heads.
    let o_step = kernel("o_proj").engine_busy_cycles.iter().sum::<u64>() / heads;
    assert!(
        end("o_proj") - end("context") <= 2 * o_step,
        "output projection ends {} after context, a head step is {o_step}",
        end("o_proj") - end("context")
    );
}

/// Asserts that a run takes no less than the pipeline model on the same engines and at most
/// `factor` times it (the yardstick for the shipped designs: 15 %); returns the
/// model's cycles.
fn above_the_model_within(sim: &WorkloadSim, factor: f64) -> u64 {
    let model_cycles: u64 = sim.pipeline.unit_cycles.iter().sum();
    assert!(
        sim.cycles() >= model_cycles,
        "{} < {model_cycles}",
        sim.cycles()
    );
    assert!(
        (sim.cycles() as f64) <= factor * model_cycles as f64,
        "{} vs {model_cycles}",
        sim.cycles()
    );
    model_cycles
}
