//! The analytical yardstick of a dataflow design: the pipeline model of Chen et al.,
//! "Understanding the Potential of FPGA-Based Spatial Acceleration for LLM Inference"
//! (TRETS 2024, arXiv 2312.15159, §3). Each stage (kernel) takes its work over the peak rate
//! of the engines it runs on: MACs over their MACs per cycle, or elements over their elements
//! per cycle for a vector kernel. A stage starts once its engines are free and each
//! producer it reads has made the share of its output the stage's first tile needs for its
//! first reduction step (the lowering's dependency rule, [`first_tile_needs`]: a head-major
//! context lets an `o_proj` that reduces every head in one step start only near its end, one
//! that reduces a head per step after the first head, a row-major producer after its first
//! row block), and ends no
//! earlier than those producers: where every stage streams, a layer takes its slowest stage;
//! where each needs its producer's whole output, the sum of its stages (Chen's segments).
//! Stages sharing engines follow each other; layers follow each other.
//!
//! It ignores what the simulation charges: fold fill and drain, HBM latency and bandwidth,
//! buffer and FIFO waits, and the fill of each segment's pipeline. The roofline is the
//! wrong yardstick for a pipeline (it assumes every engine works on every kernel); this
//! model is the right one, and the simulation says how far the design falls short of it.

use super::workload::units;
use crate::config::design::Design;
use crate::lower::first_tile_needs;
use crate::workload::{Kernel, Workload};
use std::collections::BTreeMap;

/// The pipeline model's cycles of each kernel (its stage) and of each unit.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineModel {
    /// Per kernel of the workload: its work over its engines' peak rate.
    pub stage_cycles: Vec<u64>,
    /// Per kernel: the cycles from its stage's start to its end, the span the model gives
    /// the kernel in a pipeline.
    pub span_cycles: Vec<u64>,
    /// Per unit, as the simulation runs them (a layer, or an encoder with `overlap_layers`).
    pub unit_cycles: Vec<u64>,
}

/// The engines a kernel's work runs on and the cycles it takes at their peak rate.
fn stage(kernel: &Kernel, design: &Design) -> (Vec<usize>, u64) {
    let engines = design.engines_for(kernel.label_parts(), kernel.class);
    let all = design.engines();
    if kernel.op.uses_arrays() {
        let rate: u64 = engines.gemm.iter().map(|&e| all[e].macs_per_cycle()).sum();
        (engines.gemm, kernel.macs.div_ceil(rate.max(1)))
    } else {
        let rate: f64 = engines
            .vector
            .iter()
            .map(|&e| all[e].elements_per_cycle())
            .sum();
        let elements = kernel.batch * kernel.m * kernel.n;
        (engines.vector, (elements as f64 / rate).ceil() as u64)
    }
}

/// The model of `workload` on `design`, unit by unit as the simulation runs them.
pub fn pipeline_model(workload: &Workload, design: &Design) -> PipelineModel {
    let stages: Vec<(Vec<usize>, u64)> =
        workload.kernels.iter().map(|k| stage(k, design)).collect();
    let mut span_cycles = vec![0; workload.kernels.len()];
    // A unit doing the same work as an earlier one takes its spans (as the simulation
    // takes its results): a model's 32 identical layers are worked out once.
    let units = units(workload, design);
    let mut unit_cycles: Vec<u64> = Vec::with_capacity(units.len());
    for unit in &units {
        let range = unit.kernels.clone();
        if let Some(first) = unit.same_as {
            let from = units[first].kernels.start;
            span_cycles.copy_within(from..from + range.len(), range.start);
            unit_cycles.push(unit_cycles[first]);
            continue;
        }
        let kernels = &workload.kernels[range.clone()];
        // Per kernel of the unit, when its stage starts and ends; per engine group, when
        // it is next free.
        let mut spans: Vec<(u64, u64)> = Vec::with_capacity(kernels.len());
        let mut free: BTreeMap<&[usize], u64> = BTreeMap::new();
        for index in 0..kernels.len() {
            let (engines, cycles) = &stages[range.start + index];
            let mut start = free.get(engines.as_slice()).copied().unwrap_or(0);
            let mut end_after = 0u64;
            for (producer, (needed, tiles)) in first_tile_needs(kernels, index, design) {
                let (from, to) = spans[producer];
                let made = ((to - from) as u128 * needed as u128).div_ceil(tiles as u128);
                start = start.max(from.saturating_add(made as u64));
                end_after = end_after.max(to);
            }
            let end = start.saturating_add(*cycles).max(end_after);
            spans.push((start, end));
            free.insert(engines, end);
            span_cycles[range.start + index] = end - start;
        }
        unit_cycles.push(spans.iter().map(|&(_, end)| end).max().unwrap_or(0));
    }
    PipelineModel {
        stage_cycles: stages.into_iter().map(|(_, cycles)| cycles).collect(),
        span_cycles,
        unit_cycles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Source;
    use crate::config::design::load_design;
    use crate::config::model::{default_model, default_policy};
    use crate::config::platform::default_platform;
    use crate::workload::WorkloadChoices;

    const SPATIAL: &str = include_str!("../../configs/designs/u280-int8-spatial.toml");

    /// One vision layer of one camera on the spatial design. How far each producer must
    /// have got follows from the tiles, by hand: QKV's first tile (192 rows) needs LN1's
    /// chunks of those rows (5 of 25 chunks of 42 rows); context's first tile reads V of
    /// head 0 over every key, which QKV makes in its last row block (its tile 52 of 54:
    /// row block 5, column tile 6 of 9 in `mnk` order); O's first tile reads every head of
    /// its 128 rows, and context runs head-major, so head 11's first block (tile 23 of 24).
    /// QKV waits for LN1's share, then runs its stage; O waits for context's 23/24.
    #[test]
    fn a_stage_starts_when_its_producers_made_what_its_first_tile_reads() {
        let design = load_design(
            &Source::built_in("spatial.toml", SPATIAL),
            &default_platform(),
        )
        .unwrap();
        let choices = WorkloadChoices {
            cameras: Some(1),
            vision_layers: Some(1),
            batch: 1,
            fusion: design.fusion(),
            kernels: [
                "ln1",
                "qkv_proj",
                "scores",
                "softmax",
                "context",
                "o_proj",
                "residual1",
                "ln2",
                "fc1_gelu",
                "fc2",
                "residual2",
            ]
            .map(|name| format!("vision/{name}"))
            .to_vec(),
            ..WorkloadChoices::default()
        };
        let model = default_model();
        let workload = choices
            .build(&model, Some(&default_policy()), design.precision())
            .unwrap();
        let index = |name: &str| {
            let found = workload.kernels.iter().position(|k| k.name == name);
            found.expect(name)
        };
        let needs = |name: &str| first_tile_needs(&workload.kernels, index(name), &design);
        assert_eq!(needs("qkv_proj"), vec![(index("ln1"), (5, 25))]);
        assert!(needs("context").contains(&(index("qkv_proj"), (52, 54))));
        assert_eq!(needs("o_proj"), vec![(index("context"), (23, 24))]);
        // The residual reads the layer input (outside the unit) and O's output.
        assert_eq!(needs("residual1"), vec![(index("o_proj"), (1, 8))]);

        let result = pipeline_model(&workload, &design);
        let (tokens, hidden) = (1024u64, 768);
        let cycles = |macs: u64, rate: u64| macs.div_ceil(rate);
        let ln1 = cycles(tokens * hidden, 64);
        let qkv = cycles(tokens * hidden * 3 * hidden, 48 * 56);
        assert_eq!(result.stage_cycles[index("qkv_proj")], qkv);
        assert_eq!(result.span_cycles[index("ln1")], ln1);
        // QKV starts after 5/25 of LN1 and, LN1 long done, spans its own stage.
        assert_eq!(result.span_cycles[index("qkv_proj")], qkv);
        let stages: Vec<u64> = result.stage_cycles.clone();
        let slowest = *stages.iter().max().unwrap();
        let unit = result.unit_cycles[0];
        assert!(
            unit > slowest + ln1 / 5,
            "{unit}: the layer overlaps less than all"
        );
        assert!(
            unit < stages.iter().sum::<u64>(),
            "{unit}: the layer streams somewhere"
        );
    }

    /// A layer repeated (units on the default design, where layers do not overlap) takes
    /// the model of its first instance, span for span: three text layers' spans are one
    /// layer's three times over, and so are their units' cycles (checked to fail when a
    /// repeat copies its spans from one kernel off).
    #[test]
    fn repeated_layers_take_the_spans_of_the_first() {
        let design = load_design(
            &Source::built_in("default.toml", crate::config::design::DEFAULT_DESIGN),
            &default_platform(),
        )
        .unwrap();
        let model = default_model();
        let text = |layers: u64| {
            let choices = WorkloadChoices {
                text_layers: Some(layers),
                vision_layers: Some(1),
                batch: 1,
                fusion: design.fusion(),
                ..WorkloadChoices::default()
            };
            let workload = choices
                .build(&model, Some(&default_policy()), design.precision())
                .unwrap();
            let result = pipeline_model(&workload, &design);
            let spans: Vec<u64> = workload
                .kernels
                .iter()
                .zip(&result.span_cycles)
                .filter(|(kernel, _)| kernel.encoder.to_string() == "text")
                .map(|(_, &span)| span)
                .collect();
            (spans, result.unit_cycles)
        };
        let (one, one_units) = text(1);
        let (three, three_units) = text(3);
        assert!(one.len() > 5 && one.iter().any(|&span| span > 0));
        assert_eq!(three, [one.as_slice(); 3].concat());
        let last = one_units[one_units.len() - 1];
        assert!(three_units.ends_with(&[last, last, last]));
    }
}
