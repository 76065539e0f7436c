//! The analytical yardstick of a dataflow design: the pipeline model of Chen et al.,
//! "Understanding the Potential of FPGA-Based Spatial Acceleration for LLM Inference"
//! (TRETS 2024, arXiv 2312.15159, §3). Each stage (kernel) takes its work over the peak rate
//! of the engines it runs on: MACs over their MACs per cycle, or elements over their elements
//! per cycle for a vector kernel. Stages between two synchronisation points (a kernel that
//! needs its producer's whole output, such as attention's K/V) stream, so such a segment
//! takes as long as its slowest engine group (stages sharing engines add up); a layer takes
//! the sum of its segments, and layers follow each other.
//!
//! It ignores what the simulation charges: fold fill and drain, HBM latency and bandwidth,
//! buffer and FIFO waits, and the fill of each segment's pipeline. The roofline is the
//! wrong yardstick for a pipeline (it assumes every engine works on every kernel); this
//! model is the right one, and the simulation says how far the design falls short of it.

use super::workload::unit_ranges;
use crate::config::design::Design;
use crate::lower::needs_whole_input;
use crate::workload::{Kernel, Workload};
use std::collections::BTreeMap;
use std::ops::Range;

/// The pipeline model's cycles of each kernel (its stage) and of each unit.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineModel {
    /// Per kernel of the workload: its work over its engines' peak rate.
    pub stage_cycles: Vec<u64>,
    /// Per kernel: the cycles of the segment it streams in (its slowest engine group), the
    /// span the model gives the kernel in a pipeline.
    pub segment_cycles: Vec<u64>,
    /// Per unit, as the simulation runs them (a layer, or an encoder with `overlap_layers`).
    pub unit_cycles: Vec<u64>,
}

/// The engines a kernel's work runs on and the cycles it takes at their peak rate.
fn stage(kernel: &Kernel, design: &Design) -> (Vec<usize>, u64) {
    let engines = design.engines_for(&kernel.label(), kernel.class);
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
    let mut segment_cycles = vec![0; workload.kernels.len()];
    let unit_cycles = unit_ranges(workload, design)
        .into_iter()
        .map(|unit| {
            let mut total = 0u64;
            // Busy cycles of each engine group in the current segment, which starts at
            // kernel `first`.
            let mut segment: BTreeMap<&[usize], u64> = BTreeMap::new();
            let mut first = unit.start;
            let mut close = |segment: &mut BTreeMap<&[usize], u64>, kernels: Range<usize>| {
                let cycles = segment.values().max().copied().unwrap_or(0);
                segment_cycles[kernels].fill(cycles);
                segment.clear();
                cycles
            };
            for index in unit.clone() {
                let starts_segment = index > unit.start
                    && needs_whole_input(&workload.kernels[index - 1], &workload.kernels[index]);
                if starts_segment {
                    total = total.saturating_add(close(&mut segment, first..index));
                    first = index;
                }
                let (engines, cycles) = &stages[index];
                let sum = segment.entry(engines).or_default();
                *sum = sum.saturating_add(*cycles);
            }
            total.saturating_add(close(&mut segment, first..unit.end))
        })
        .collect();
    PipelineModel {
        stage_cycles: stages.into_iter().map(|(_, cycles)| cycles).collect(),
        segment_cycles,
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
    use crate::workload::{Encoder, WorkloadChoices, build_workload};

    const SPATIAL: &str = include_str!("../../configs/designs/u280-int8-spatial.toml");

    /// One vision layer of one camera on the spatial design, by hand: QKV alone (its output
    /// is synchronised on), then scores, softmax and context (context's output is
    /// synchronised on by O, which reads the heads side by side), then O to the second
    /// residual streaming: the slowest of those engines sets that segment.
    #[test]
    fn a_layer_is_its_segments_each_at_its_slowest_engine_group() {
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
            ..WorkloadChoices::default()
        };
        let model = default_model();
        let options = choices.options(&model, Some(&default_policy()), design.precision());
        let mut workload = build_workload(&model, &options).unwrap();
        workload
            .kernels
            .retain(|k| k.layer == Some(0) && k.encoder == Encoder::Vision);
        let result = pipeline_model(&workload, &design);
        let (tokens, hidden, ffn, heads, head_dim) = (1024u64, 768, 3072, 12, 64);
        let cycles = |macs: u64, rate: u64| macs.div_ceil(rate);
        let ln1 = cycles(tokens * hidden, 64);
        let qkv = cycles(tokens * hidden * 3 * hidden, 48 * 56);
        let scores = cycles(heads * tokens * tokens * head_dim, 48 * 48);
        let softmax = cycles(heads * tokens * tokens, 128);
        let o = cycles(tokens * hidden * hidden, 32 * 28);
        let fc = cycles(tokens * hidden * ffn, 60 * 60);
        let norm = cycles(tokens * hidden, 64);
        let segments = [ln1.max(qkv), (2 * scores).max(softmax), o.max(fc).max(norm)];
        assert_eq!(result.unit_cycles, vec![segments.iter().sum::<u64>()]);
        // Each kernel spans its segment: LN1 and QKV the first, scores to context the
        // second, O to the second residual the third.
        let names: Vec<&str> = workload.kernels.iter().map(|k| k.name).collect();
        let segment_of = |name: &str| {
            let index = names.iter().position(|n| *n == name).expect(name);
            result.segment_cycles[index]
        };
        assert_eq!(segment_of("ln1"), segments[0]);
        assert_eq!(segment_of("qkv_proj"), segments[0]);
        assert_eq!(segment_of("scores"), segments[1]);
        assert_eq!(segment_of("context"), segments[1]);
        assert_eq!(segment_of("o_proj"), segments[2]);
        assert_eq!(segment_of("residual2"), segments[2]);
    }
}
