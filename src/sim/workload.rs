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

use super::{
    Attribution, GraphSim, KernelSim, Machine, NullSink, SimError, TraceSink, simulate_graph,
};
use crate::config::design::Design;
use crate::config::platform::Platform;
use crate::lower::{
    Bill, LowerError, MAX_UNIT_NODES, check_mapping, checked_graph_size, lower, lower_layer,
};
use crate::workload::{Kernel, Workload};
use rayon::prelude::*;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
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
}

/// One unit's run: its kernels one after another, or its layer graph.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitSim {
    pub kernels: std::ops::Range<usize>,
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
struct Unit {
    /// Indices into `workload.kernels`.
    members: Vec<usize>,
    /// Index of the first unit with the same kernels, if this one repeats it.
    same_as: Option<usize>,
}

/// The workload's units: one per layer (and per run of kernels between layers), or one per
/// encoder when the design overlaps layers.
fn units(workload: &Workload, design: &Design) -> Vec<Unit> {
    let whole_encoders = design.overlap_layers();
    let mut units: Vec<Unit> = Vec::new();
    for (index, kernel) in workload.kernels.iter().enumerate() {
        let starts_new = match units.last() {
            Some(unit) => {
                let first = &workload.kernels[unit.members[0]];
                first.encoder != kernel.encoder
                    || (!whole_encoders && (first.layer, first.step) != (kernel.layer, kernel.step))
            }
            None => true,
        };
        if starts_new {
            units.push(Unit {
                members: Vec::new(),
                same_as: None,
            });
        }
        units.last_mut().expect("pushed above").members.push(index);
    }
    // A unit repeats the first earlier unit whose kernels do the same work (all but their
    // layer index and step), found through a hash of that work: linear in the units, so a
    // long decode (thousands of distinct token layers) lists them fast.
    // A unit's members are consecutive kernels.
    let kernels = |unit: &Unit| {
        workload.kernels[unit.members[0]..=unit.members[unit.members.len() - 1]]
            .iter()
            .enumerate()
            .map(|(position, kernel)| kernel.work_within(position))
    };
    let mut first_of: HashMap<u64, Vec<usize>> = HashMap::new();
    for index in 0..units.len() {
        let mut hasher = DefaultHasher::new();
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

/// The kernel ranges of the workload's units, as [`simulate_workload`] runs them.
pub(crate) fn unit_ranges(workload: &Workload, design: &Design) -> Vec<std::ops::Range<usize>> {
    units(workload, design)
        .iter()
        .map(|unit| unit.members[0]..unit.members[unit.members.len() - 1] + 1)
        .collect()
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
    let kernels: Vec<&Kernel> = unit.members.iter().map(|&i| &workload.kernels[i]).collect();
    let labels: Vec<String> = kernels.iter().map(|k| label(k)).collect();
    if design.overlap_kernels() {
        let graph = lower_layer(&kernels, design)?;
        return simulate_graph(&graph, &labels, machine, sink);
    }
    // One after another: the unit's cycles and causes are the kernels' sums.
    let mut unit = GraphSim {
        cycles: 0,
        attribution: [0; 9],
        kernels: Vec::with_capacity(kernels.len()),
        engines: vec![[0; 9]; design.engines().len()],
        timeline: vec![Vec::new(); design.engines().len() + 1],
    };
    for (kernel, label) in kernels.iter().zip(labels) {
        let graph = lower(kernel, design)?;
        let mut run = simulate_graph(&graph, &[label], machine, sink)?;
        // The kernel runs after the ones before it: its intervals shift by their cycles.
        for (row, busy) in unit.timeline.iter_mut().zip(&run.timeline) {
            row.extend(
                busy.iter()
                    .map(|&(from, to)| (from + unit.cycles, to + unit.cycles)),
            );
        }
        unit.cycles += run.cycles;
        add(&mut unit.attribution, &run.attribution);
        for (sum, engine) in unit.engines.iter_mut().zip(&run.engines) {
            add(sum, engine);
        }
        unit.kernels.push(run.kernels.remove(0));
    }
    Ok(unit)
}

fn add(sum: &mut Attribution, cycles: &Attribution) {
    for (sum, cycles) in sum.iter_mut().zip(cycles) {
        *sum += cycles;
    }
}

/// The events `lower` and the engine may take at most on the distinct layers of a workload:
/// the sum of the [`graph_size`](crate::lower::graph_size) bounds of their kernels; an error
/// for a kernel beyond the size limits.
pub fn event_bound(workload: &Workload, design: &Design) -> Result<u64, LowerError> {
    let mut events = 0u64;
    for unit in units(workload, design)
        .iter()
        .filter(|unit| unit.same_as.is_none())
    {
        let mut unit_nodes = 0u64;
        for &index in &unit.members {
            let size = checked_graph_size(&workload.kernels[index], design)?;
            // A layer graph adds at most one sync node per kernel.
            let joins = u64::from(design.overlap_kernels());
            unit_nodes = unit_nodes.saturating_add(size.nodes + joins);
        }
        if design.overlap_kernels() && unit_nodes > MAX_UNIT_NODES {
            return Err(LowerError::UnitTooLarge {
                unit: label(&workload.kernels[unit.members[0]]),
                nodes: unit_nodes,
            });
        }
        events = events.saturating_add(unit_nodes);
    }
    Ok(events)
}

/// Simulates every distinct layer once, refusing before any work a mapping or link that
/// cannot run the workload ([`check_mapping`]), a kernel beyond the size limits or an
/// [`event_bound`] above `max_events`. With a trace sink the units run in order
/// on one thread, so the trace streams out in execution order; without one they run in
/// parallel. `progress` is called once per distinct unit finished.
pub fn simulate_workload(
    workload: &Workload,
    design: &Design,
    platform: &Platform,
    max_events: u64,
    trace: Option<&mut dyn TraceSink>,
    progress: &(dyn Fn() + Sync),
) -> Result<WorkloadSim, SimError> {
    let bill = check_mapping(workload, design, platform)?;
    let events = event_bound(workload, design)?;
    if events > max_events {
        return Err(SimError::TooManyEvents {
            events,
            limit: max_events,
        });
    }
    let units = units(workload, design);
    let machine = Machine::new(design, platform);
    let distinct: Vec<&Unit> = units.iter().filter(|u| u.same_as.is_none()).collect();
    let mut results: Vec<GraphSim> = match trace {
        Some(sink) => distinct
            .iter()
            .map(|unit| {
                let result = simulate_unit(workload, unit, design, &machine, sink);
                progress();
                result
            })
            .collect::<Result<_, _>>()?,
        None => distinct
            .par_iter()
            .map(|unit| {
                let result = simulate_unit(workload, unit, design, &machine, &mut NullSink);
                progress();
                result
            })
            .collect::<Result<_, _>>()?,
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
    let units = unit_ranges(workload, design)
        .into_iter()
        .zip(&result_of)
        .map(|(kernels, &result)| UnitSim {
            kernels,
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
    })
}
