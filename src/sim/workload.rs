//! A whole workload: layers are independent simulation units, identical ones run once, and
//! distinct ones run in parallel with rayon. Results do not depend on the thread count.
//!
//! A unit is the kernels of one layer (or the kernels before, between or after the layers of
//! an encoder), or of a whole encoder with `overlap_layers`. Units run one after another,
//! each starting on an idle machine: in a sequential design each kernel runs alone; with
//! `overlap_kernels` a unit's kernels run as one graph. Since no unit's schedule reaches into
//! the next, identical units take identical results, which is what lets a repeated layer be
//! simulated once; with `overlap_layers` a layer's schedule depends on its neighbours', so
//! every layer is simulated.

use super::pipeline::{PipelineModel, pipeline_model};
use super::{
    Attribution, Bottleneck, GraphSim, KernelSim, Machine, NullSink, SimError, TraceSink, budget,
    simulate_graph,
};
use crate::config::design::Design;
use crate::config::platform::Platform;
use crate::lower::{
    Bill, GRAPH_BYTES_PER_NODE, KEPT_BYTES_PER_NODE, KernelGraph, LowerError, MEMORY_BUDGET_BYTES,
    check_mapping, checked_graph_size, coarser, lower, lower_layer, lower_layer_to_simulate,
    lower_to_simulate,
};
use crate::workload::{Kernel, Workload};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHasher};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Simulation results of every kernel instance of a workload.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadSim {
    /// Parallel to `workload.kernels`; instances of an identical layer share their result
    /// (one allocation, however many layers repeat it).
    pub kernels: Vec<Arc<KernelSim>>,
    /// Per unit in order: its kernels (a range of `kernels`), cycles and their causes.
    pub units: Vec<UnitSim>,
    /// Distinct layers actually simulated.
    pub units_simulated: usize,
    /// Events processed in those simulations.
    pub events: u64,
    /// What the design takes from the platform with the workload's on-chip links.
    pub bill: Bill,
    /// The pipeline model of the same workload on the design: the yardstick the simulation
    /// is held against (worked out once per run, beside the simulation).
    pub pipeline: PipelineModel,
}

/// One unit's run: its kernels one after another, or its layer graph.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitSim {
    /// Its kernels' indices in the workload.
    pub kernels: std::ops::Range<usize>,
    /// Its cycles.
    pub cycles: u64,
    /// Summing to `cycles`.
    pub attribution: Attribution,
    /// Per engine of the design, its `cycles` by cause (see [`GraphSim::engines`]); shared
    /// by the instances of an identical layer, like their kernels' results.
    pub engines: Arc<Vec<Attribution>>,
    /// When each engine, then the HBM, was busy within the unit (see
    /// [`GraphSim::timeline`]); shared like `engines`.
    pub timeline: Arc<Vec<Vec<(u64, u64)>>>,
}

impl WorkloadSim {
    /// Cycles of the whole run: the units one after another.
    pub fn cycles(&self) -> u64 {
        self.units.iter().map(|u| u.cycles).sum()
    }
}

/// Kernels of one layer (or of the pre- and post-layer kernels of an encoder).
pub(crate) struct Unit {
    /// Its kernels: consecutive in `workload.kernels`.
    pub(crate) kernels: std::ops::Range<usize>,
    /// Index of the first unit with the same kernels, if this one repeats it (it takes that
    /// unit's results).
    pub(crate) same_as: Option<usize>,
}

/// The workload's units: one per layer (and per run of kernels between layers), or one per
/// encoder when the design overlaps layers.
pub(crate) fn units(workload: &Workload, design: &Design) -> Vec<Unit> {
    let whole_encoders = design.overlap_layers();
    let mut units: Vec<Unit> = Vec::new();
    for (index, kernel) in workload.kernels.iter().enumerate() {
        let starts_new = match units.last() {
            Some(unit) => {
                let first = &workload.kernels[unit.kernels.start];
                first.encoder != kernel.encoder
                    || (!whole_encoders && (first.layer, first.step) != (kernel.layer, kernel.step))
            }
            None => true,
        };
        if starts_new {
            units.push(Unit {
                kernels: index..index,
                same_as: None,
            });
        }
        units.last_mut().expect("pushed above").kernels.end = index + 1;
    }
    // A unit repeats the first earlier unit whose kernels do the same work (all but their
    // layer index and step), found through a hash of that work: linear in the units, so a
    // long decode (thousands of distinct token layers) lists them fast.
    let kernels = |unit: &Unit| {
        workload.kernels[unit.kernels.clone()]
            .iter()
            .enumerate()
            .map(|(position, kernel)| kernel.work_within(position))
    };
    let mut first_of: FxHashMap<u64, Vec<usize>> = FxHashMap::default();
    for index in 0..units.len() {
        let mut hasher = FxHasher::default();
        for work in kernels(&units[index]) {
            work.hash(&mut hasher);
        }
        let candidates = first_of.entry(hasher.finish()).or_default();
        let same = candidates
            .iter()
            .copied()
            .find(|&earlier| kernels(&units[earlier]).eq(kernels(&units[index])));
        match same {
            Some(earlier) => units[index].same_as = Some(earlier),
            None => candidates.push(index),
        }
    }
    units
}

fn label(kernel: &Kernel) -> String {
    let step = kernel.step.map(|s| format!("S{s}/")).unwrap_or_default();
    match kernel.layer {
        Some(layer) => format!("{}/{step}L{layer}/{}", kernel.encoder, kernel.name),
        None if kernel.step.is_some() => format!("{}/{step}{}", kernel.encoder, kernel.name),
        None => kernel.label(),
    }
}

fn simulate_unit(
    workload: &Workload,
    unit: &Unit,
    design: &Design,
    machine: &Machine,
    sink: &mut dyn TraceSink,
) -> Result<GraphSim, SimError> {
    if crate::cancel::requested() {
        return Err(SimError::Interrupted);
    }
    let kernels: Vec<&Kernel> = workload.kernels[unit.kernels.clone()].iter().collect();
    let labels: Vec<String> = kernels.iter().map(|k| label(k)).collect();
    if design.overlap_kernels() {
        let graph = lower_layer_to_simulate(&kernels, design)?;
        let run = simulate_graph(&graph, &labels, machine, sink);
        // The graph run is let go first: the run's memory budget holds one.
        drop(graph);
        return run.map_err(|error| explained(error, || lower_layer(&kernels, design)));
    }
    // One after another: the unit's cycles and causes are the kernels' sums.
    let mut unit = GraphSim {
        cycles: 0,
        attribution: [0; Bottleneck::COUNT],
        kernels: Vec::with_capacity(kernels.len()),
        engines: vec![[0; Bottleneck::COUNT]; design.engines().len()],
        timeline: vec![Vec::new(); design.engines().len() + 1],
    };
    // An instruction-driven design's controller synchronises each layer before its first
    // operation, issues each operation before its tiles and sees it complete after them
    // (`[control]`): the kernel's own cycles, spent on control, every engine idle.
    let control = design.control();
    let layer_sync = if kernels[0].layer.is_some() {
        control.layer_sync_cycles
    } else {
        0
    };
    for (position, (kernel, label)) in kernels.iter().zip(labels).enumerate() {
        let graph = lower_to_simulate(kernel, design)?;
        let run = simulate_graph(&graph, &[label], machine, sink);
        drop(graph);
        let mut run = run.map_err(|error| explained(error, || lower(kernel, design)))?;
        let before = control.operation_issue_cycles + if position == 0 { layer_sync } else { 0 };
        let controlled = before + control.operation_sync_cycles;
        // The kernel runs after the ones before it: its intervals shift by their cycles.
        let offset = unit.cycles + before;
        for (row, busy) in unit.timeline.iter_mut().zip(&run.timeline) {
            row.extend(busy.iter().map(|&(from, to)| (from + offset, to + offset)));
        }
        unit.cycles += run.cycles + controlled;
        add(&mut unit.attribution, &run.attribution);
        unit.attribution[Bottleneck::Control as usize] += controlled;
        for (sum, engine) in unit.engines.iter_mut().zip(&run.engines) {
            add(sum, engine);
            sum[Bottleneck::Control as usize] += controlled;
        }
        let mut kernel_sim = run.kernels.remove(0);
        kernel_sim.cycles += controlled;
        kernel_sim.attribution[Bottleneck::Control as usize] += controlled;
        unit.kernels.push(kernel_sim);
    }
    Ok(unit)
}

/// A simulation's error, or the checked lowering's refusal that explains it: a graph that
/// waits on itself (a stream too shallow, or a lowering bug) deadlocks, and the lowering that
/// proves it names why, as it would have before the simulation (its refusal comes first, as
/// it did, whatever else stopped the run).
fn explained(
    error: SimError,
    checked: impl FnOnce() -> Result<KernelGraph, LowerError>,
) -> SimError {
    if matches!(error, SimError::Interrupted) {
        return error;
    }
    checked().err().map_or(error, SimError::from)
}

fn add(sum: &mut Attribution, cycles: &Attribution) {
    for (sum, cycles) in sum.iter_mut().zip(cycles) {
        *sum += cycles;
    }
}

/// What simulating a workload takes, bounded before anything is built.
struct RunSize {
    /// Per distinct unit, in order: the events it may take (its graphs' nodes) and the
    /// bytes its graphs take while it runs (all its kernels' at once when they overlap, else
    /// the largest one's).
    units: Vec<(u64, u64)>,
    /// What the run keeps of every unit until it ends.
    kept_bytes: u64,
}

impl RunSize {
    /// The distinct units in waves run one after another, each wave's graphs together
    /// within the budget beside what the run keeps: the most its waves hold at once.
    fn waves(&self) -> (Vec<std::ops::Range<usize>>, u64) {
        let room = MEMORY_BUDGET_BYTES.saturating_sub(self.kept_bytes);
        let (mut waves, mut widest, mut start, mut held) = (Vec::new(), 0, 0, 0u64);
        for (index, &(_, bytes)) in self.units.iter().enumerate() {
            if index > start && held + bytes > room {
                waves.push(start..index);
                (start, held) = (index, 0);
            }
            held += bytes;
            widest = widest.max(held);
        }
        waves.push(start..self.units.len());
        (waves, widest)
    }
}

/// The [`RunSize`] of `workload`'s `units` on `design`, or why it is beyond the limits: a
/// kernel's graph, more than `max_events` events, results or a unit's graphs beyond the
/// memory budget (in that order: the first names what to change).
fn run_size(
    workload: &Workload,
    units: &[Unit],
    design: &Design,
    max_events: u64,
) -> Result<RunSize, SimError> {
    let overlap = design.overlap_kernels();
    let distinct = units.iter().filter(|unit| unit.same_as.is_none());
    let mut sizes = Vec::new();
    let mut largest: Option<(u64, &Unit)> = None;
    for unit in distinct {
        let (mut nodes, mut all_bytes, mut widest_bytes) = (0u64, 0u64, 0u64);
        for index in unit.kernels.clone() {
            let size = checked_graph_size(&workload.kernels[index], design)?;
            // A layer graph adds at most one sync node per kernel.
            let joins = u64::from(overlap);
            nodes = nodes.saturating_add(size.nodes + joins);
            let bytes = size.bytes + joins * GRAPH_BYTES_PER_NODE;
            all_bytes = all_bytes.saturating_add(bytes);
            widest_bytes = widest_bytes.max(bytes);
        }
        let bytes = if overlap { all_bytes } else { widest_bytes };
        if largest.is_none_or(|(most, _)| bytes > most) {
            largest = Some((bytes, unit));
        }
        sizes.push((nodes, bytes));
    }
    let events: u64 = sizes.iter().map(|&(nodes, _)| nodes).sum();
    if events > max_events {
        return Err(SimError::TooManyEvents {
            events,
            limit: max_events,
        });
    }
    let kept_bytes = events.saturating_mul(KEPT_BYTES_PER_NODE);
    if let Some((bytes, unit)) = largest
        && bytes.saturating_add(kept_bytes) > MEMORY_BUDGET_BYTES
    {
        let (graph_mb, kept_mb) = (bytes.div_ceil(1 << 20), kept_bytes.div_ceil(1 << 20));
        if kept_bytes >= bytes {
            return Err(LowerError::KeepsTooMuch {
                events,
                kept_mb,
                graph_mb,
            }
            .into());
        }
        let kernels = workload.kernels[unit.kernels.clone()].iter();
        let mut advice: Vec<&str> = kernels.map(coarser).collect();
        advice.sort_unstable();
        advice.dedup();
        if overlap {
            advice.push("overlap_layers = false");
        }
        return Err(LowerError::TooMuchMemory {
            unit: format!(
                "{}{}",
                if overlap && unit.kernels.len() > 1 {
                    "the overlapping kernels from "
                } else {
                    ""
                },
                label(&workload.kernels[unit.kernels.start])
            ),
            graph_mb,
            kept_mb,
            advice: advice.join(", "),
        }
        .into());
    }
    Ok(RunSize {
        units: sizes,
        kept_bytes,
    })
}

/// The events `lower` and the engine may take at most on the distinct layers of a workload:
/// the sum of the [`graph_size`](crate::lower::graph_size) bounds of their kernels; an error
/// for a kernel beyond the size limits, or a workload whose graphs and results would take
/// more than [`MEMORY_BUDGET_BYTES`].
pub fn event_bound(workload: &Workload, design: &Design) -> Result<u64, SimError> {
    let size = run_size(workload, &units(workload, design), design, u64::MAX)?;
    Ok(size.units.iter().map(|&(nodes, _)| nodes).sum())
}

/// Simulates every distinct layer once, refusing before any work a mapping or link that
/// cannot run the workload ([`check_mapping`]), a kernel beyond the size limits, an
/// [`event_bound`] above `max_events` or a run beyond the memory budget. With a trace sink
/// the units run in order on one thread, so the trace streams out in execution order;
/// without one they run in parallel, in waves that fit the budget together, the run
/// holding its share of the process's budget ([`budget`]), and the pipeline model is worked
/// out beside them. `progress` is called once per distinct unit finished.
pub fn simulate_workload(
    workload: &Workload,
    design: &Design,
    platform: &Platform,
    max_events: u64,
    trace: Option<&mut dyn TraceSink>,
    progress: &(dyn Fn() + Sync),
) -> Result<WorkloadSim, SimError> {
    let bill = check_mapping(workload, design, platform)?;
    let units = units(workload, design);
    let size = run_size(workload, &units, design, max_events)?;
    let machine = Machine::new(design, platform);
    let distinct: Vec<&Unit> = units.iter().filter(|u| u.same_as.is_none()).collect();
    let (waves, widest_bytes) = size.waves();
    let _reservation = budget::reserve(size.kept_bytes + widest_bytes);
    let mut results: Vec<GraphSim> = Vec::with_capacity(distinct.len());
    let pipeline = match trace {
        Some(sink) => {
            for (unit, &(_, bytes)) in distinct.iter().zip(&size.units) {
                results.push(simulate_unit(workload, unit, design, &machine, sink)?);
                budget::release_freed_memory_after(bytes);
                progress();
            }
            pipeline_model(workload, design)
        }
        None => {
            // The yardstick beside the units, on a thread the units leave free.
            let (pipeline, ran) = rayon::join(
                || pipeline_model(workload, design),
                || -> Result<(), SimError> {
                    for wave in waves {
                        let ran: Vec<GraphSim> = distinct[wave.clone()]
                            .par_iter()
                            .map(|unit| {
                                let result =
                                    simulate_unit(workload, unit, design, &machine, &mut NullSink);
                                progress();
                                result
                            })
                            .collect::<Result<_, _>>()?;
                        budget::release_freed_memory_after(
                            size.units[wave].iter().map(|&(_, bytes)| bytes).sum(),
                        );
                        results.extend(ran);
                    }
                    Ok(())
                },
            );
            ran?;
            pipeline
        }
    };
    let events = results
        .iter()
        .flat_map(|unit| &unit.kernels)
        .map(|k| k.events)
        .sum();
    type Shared = (
        u64,
        Attribution,
        Arc<Vec<Attribution>>,
        Arc<Vec<Vec<(u64, u64)>>>,
    );
    let totals: Vec<Shared> = results
        .iter_mut()
        .map(|unit| {
            let engines = Arc::new(std::mem::take(&mut unit.engines));
            let timeline = Arc::new(std::mem::take(&mut unit.timeline));
            (unit.cycles, unit.attribution, engines, timeline)
        })
        .collect();
    let shared: Vec<Vec<Arc<KernelSim>>> = results
        .into_iter()
        .map(|unit| unit.kernels.into_iter().map(Arc::new).collect())
        .collect();
    // Each unit takes the results of the distinct unit it is (or repeats), in order.
    let mut result_of: Vec<usize> = Vec::with_capacity(units.len());
    let mut distinct_seen = 0;
    for unit in &units {
        result_of.push(match unit.same_as {
            None => {
                distinct_seen += 1;
                distinct_seen - 1
            }
            Some(first) => result_of[first],
        });
    }
    let kernels = result_of
        .iter()
        .flat_map(|&result| shared[result].iter().cloned())
        .collect();
    let units = units
        .iter()
        .zip(&result_of)
        .map(|(unit, &result)| UnitSim {
            kernels: unit.kernels.clone(),
            cycles: totals[result].0,
            attribution: totals[result].1,
            engines: Arc::clone(&totals[result].2),
            timeline: Arc::clone(&totals[result].3),
        })
        .collect();
    Ok(WorkloadSim {
        kernels,
        units,
        units_simulated: distinct.len(),
        events,
        bill,
        pipeline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed simulation takes the checked lowering's refusal when it has one (the stream
    /// too shallow, named), keeps its own error when the lowering finds nothing, and an
    /// interrupted one is never lowered again.
    #[test]
    fn a_failed_simulation_takes_the_checked_lowerings_refusal() {
        let deadlock = SimError::Deadlock {
            unit: "text".into(),
            detail: "every node waits".into(),
        };
        let cycle = LowerError::Cycle {
            kernel: "softmax".into(),
            node: "push 3".into(),
        };
        let refused = explained(deadlock.clone(), || Err(cycle.clone()));
        assert_eq!(refused, SimError::Lower(cycle));
        let lowered = || {
            Ok(KernelGraph {
                graph: petgraph::graph::DiGraph::new(),
            })
        };
        assert_eq!(explained(deadlock.clone(), lowered), deadlock);
        let interrupted = explained(SimError::Interrupted, || {
            panic!("an interrupted run is not lowered again")
        });
        assert_eq!(interrupted, SimError::Interrupted);
    }

    /// Units run in waves whose graphs fit the budget beside what the run keeps, in order; a
    /// unit alone always runs (its own size was checked).
    #[test]
    fn waves_hold_what_fits_beside_the_kept_results() {
        let mb = 1 << 20;
        let size = |units: &[u64], kept_mb: u64| RunSize {
            units: units.iter().map(|&m| (0, m * mb)).collect(),
            kept_bytes: kept_mb * mb,
        };
        // 240 MB less 40 kept: 200 MB of graphs at once.
        let (waves, widest) = size(&[100, 90, 20, 150, 60], 40).waves();
        assert_eq!(waves, [0..2, 2..4, 4..5]);
        assert_eq!(widest, 190 * mb);
        let (waves, widest) = size(&[10, 10, 10], 0).waves();
        assert_eq!(waves, vec![(0..3)]);
        assert_eq!(widest, 30 * mb);
        let (waves, widest) = size(&[230], 20).waves();
        assert_eq!(waves, vec![(0..1)]);
        assert_eq!(widest, 230 * mb);
    }
}
