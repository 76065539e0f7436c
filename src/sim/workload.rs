//! A whole workload: layers are independent simulation units, identical ones run once, and
//! distinct ones run in parallel with rayon. Results do not depend on the thread count.

use super::{KernelSim, NullSink, SimError, TraceSink, simulate};
use crate::config::design::Design;
use crate::config::platform::Platform;
use crate::lower::{LowerError, checked_graph_size, lower};
use crate::workload::{Kernel, Workload};
use rayon::prelude::*;
use std::sync::Arc;

/// Simulation results of every kernel instance of a workload.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadSim {
    /// Parallel to `workload.kernels`; instances of an identical layer share their result
    /// (one allocation, however many layers repeat it).
    pub kernels: Vec<Arc<KernelSim>>,
    /// Distinct layers actually simulated.
    pub units_simulated: usize,
    /// Events processed in those simulations.
    pub events: u64,
}

/// Kernels of one layer (or of the pre- and post-layer kernels of an encoder).
struct Unit {
    /// Indices into `workload.kernels`.
    members: Vec<usize>,
    /// Index of the first unit with the same kernels, if this one repeats it.
    same_as: Option<usize>,
}

fn units(workload: &Workload) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    for (index, kernel) in workload.kernels.iter().enumerate() {
        let starts_new = match units.last() {
            Some(unit) => {
                let first = &workload.kernels[unit.members[0]];
                (first.encoder, first.layer) != (kernel.encoder, kernel.layer)
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
    // A unit repeats the first earlier unit whose kernels are equal but for the layer index.
    let keys: Vec<Vec<Kernel>> = units
        .iter()
        .map(|unit| {
            unit.members
                .iter()
                .map(|&index| Kernel {
                    layer: None,
                    ..workload.kernels[index].clone()
                })
                .collect()
        })
        .collect();
    for index in 0..units.len() {
        units[index].same_as = (0..index).find(|&earlier| keys[earlier] == keys[index]);
    }
    units
}

fn label(kernel: &Kernel) -> String {
    match kernel.layer {
        Some(layer) => format!("{}/L{layer}/{}", kernel.encoder, kernel.name),
        None => kernel.label(),
    }
}

fn simulate_unit(
    workload: &Workload,
    unit: &Unit,
    design: &Design,
    platform: &Platform,
    sink: &mut dyn TraceSink,
) -> Result<Vec<Arc<KernelSim>>, SimError> {
    unit.members
        .iter()
        .map(|&index| {
            let kernel = &workload.kernels[index];
            let graph = lower(kernel, design)?;
            Ok(Arc::new(simulate(
                &graph,
                &label(kernel),
                design,
                platform,
                sink,
            )?))
        })
        .collect()
}

/// The events `lower` and the engine may take at most on the distinct layers of a workload:
/// the sum of the [`graph_size`](crate::lower::graph_size) bounds of their kernels; an error
/// for a kernel beyond the size limits.
pub fn event_bound(workload: &Workload, design: &Design) -> Result<u64, LowerError> {
    let mut events = 0u64;
    for unit in units(workload).iter().filter(|unit| unit.same_as.is_none()) {
        for &index in &unit.members {
            let size = checked_graph_size(&workload.kernels[index], design)?;
            events = events.saturating_add(size.nodes);
        }
    }
    Ok(events)
}

/// Simulates every distinct layer once, refusing before any work a kernel beyond the size
/// limits or an [`event_bound`] above `max_events`. With a trace sink the units run in order
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
    let events = event_bound(workload, design)?;
    if events > max_events {
        return Err(SimError::TooManyEvents {
            events,
            limit: max_events,
        });
    }
    let units = units(workload);
    let distinct: Vec<&Unit> = units.iter().filter(|u| u.same_as.is_none()).collect();
    let results: Vec<Vec<Arc<KernelSim>>> = match trace {
        Some(sink) => distinct
            .iter()
            .map(|unit| {
                let result = simulate_unit(workload, unit, design, platform, sink);
                progress();
                result
            })
            .collect::<Result<_, _>>()?,
        None => distinct
            .par_iter()
            .map(|unit| {
                let result = simulate_unit(workload, unit, design, platform, &mut NullSink);
                progress();
                result
            })
            .collect::<Result<_, _>>()?,
    };
    let events = results.iter().flatten().map(|k| k.events).sum();
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
        .flat_map(|&result| results[result].iter().cloned())
        .collect();
    Ok(WorkloadSim {
        kernels,
        units_simulated: distinct.len(),
        events,
    })
}
