//! The kernel cache a sweep's or search's points share: a kernel's simulation and its
//! analytical figures, keyed by exactly what they depend on.

use crate::config::design::{Design, EngineModel, MemoryModel, Placement, Tiling};
use crate::config::platform::Platform;
use crate::config::precision::Precision;
use crate::lower::{checked_graph_size, lower};
use crate::sim::{KernelSim, NullSink, SimError, budget, engine_busy_cycles, simulate};
use crate::workload::{Encoder, Kernel};
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};

/// Kernel results shared across points, keyed by the kernel and the design parameters that
/// change its simulation. Hashed with FxHash: a key is about a kilobyte, and SipHash over it
/// took a sixth of a sweep's time (the key is still compared whole on a hit).
#[derive(Debug, Default)]
pub struct KernelCache {
    sims: Mutex<FxHashMap<CacheKey, Result<Arc<KernelSim>, SimError>>>,
    analytic: Mutex<FxHashMap<CacheKey, Analytic>>,
}

/// Exactly what a kernel's simulation depends on: its shape and operands (not its name,
/// encoder or layer), and the design parameters its lowering and its units read; array
/// parameters only for kernels on the arrays, the line buffer only for vector kernels. (The
/// platform is the same for every point.) Compared whole on a hit, so two kernels that
/// differ are never taken for one another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    kernel: Kernel,
    placement: Placement,
    memory: MemoryModel,
    clock_hz_bits: u64,
    buffer_slots: u64,
    /// The model, AXI port and precision of each vector engine the kernel may use.
    vector_engines: Vec<(EngineModel, u64, Precision)>,
    /// Where the kernel's engines sit among the design's (GEMM, vector, count): a result's
    /// busy cycles are listed by engine index, so a vector kernel's from a design of fewer
    /// arrays would land on another engine.
    engine_indices: (Vec<usize>, Vec<usize>, usize),
    /// The GEMM engines and tiling of a kernel on the arrays, or a vector kernel's chunk.
    own: OwnParameters,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum OwnParameters {
    Arrays(Vec<(EngineModel, u64, Precision)>, Tiling),
    Vector { chunk_bytes: u64 },
}

impl CacheKey {
    fn new(kernel: &Kernel, design: &Design) -> Self {
        let engines = design.engines_for(kernel.label_parts(), kernel.class);
        let models = |indices: &[usize]| -> Vec<(EngineModel, u64, Precision)> {
            indices
                .iter()
                .map(|&e| {
                    let engine = &design.engines()[e];
                    (engine.model, engine.port, engine.precision)
                })
                .collect()
        };
        let own = if kernel.op.uses_arrays() {
            let tiling = design.tiling_of(kernel.label_parts(), kernel.class);
            OwnParameters::Arrays(models(&engines.gemm), tiling)
        } else {
            OwnParameters::Vector {
                chunk_bytes: design.vector_chunk_bytes(),
            }
        };
        CacheKey {
            kernel: Kernel {
                name: "",
                layer: None,
                step: None,
                encoder: Encoder::Vision,
                ..kernel.clone()
            },
            placement: design.placement().clone(),
            memory: design.memory(),
            clock_hz_bits: design.clock_hz().to_bits(),
            buffer_slots: design.buffer_slots(),
            vector_engines: models(&engines.vector),
            engine_indices: (
                engines.gemm.clone(),
                engines.vector.clone(),
                design.engines().len(),
            ),
            own,
        }
    }
}

/// Entries one cache map keeps before it starts afresh: a kernel's result is about 2 KB (its
/// per-channel statistics: 32 channels × 56 bytes on the U280, more on wider platforms) and
/// its key 1.0–1.3 KB (the kernel's operands and the placement's channel lists; measured
/// over the 3,050 kernels of the default design's full robot step, heap included, the
/// allocator's own overhead not; the engine indices, added since, take 56 bytes more and 8
/// per engine), so both maps together stay under about 50 MB.
const MAX_CACHE_ENTRIES: usize = 10_000;

/// The value cached under `key`, computed on a miss. Two threads missing the same key both
/// compute it; the results are equal, so the cache stays deterministic (and emptying a full
/// map changes only what is computed again, never a result).
fn memo<V: Clone>(
    map: &Mutex<FxHashMap<CacheKey, V>>,
    key: CacheKey,
    compute: impl FnOnce() -> V,
) -> V {
    if let Some(hit) = map.lock().expect("cache lock").get(&key) {
        return hit.clone();
    }
    let value = compute();
    let mut map = map.lock().expect("cache lock");
    if map.len() >= MAX_CACHE_ENTRIES {
        map.clear();
    }
    map.insert(key, value.clone());
    value
}

impl KernelCache {
    pub(super) fn simulate(
        &self,
        kernel: &Kernel,
        design: &Design,
        platform: &Platform,
    ) -> Result<Arc<KernelSim>, SimError> {
        memo(&self.sims, CacheKey::new(kernel, design), || {
            // The kernel's graph shares the process's budget with the other jobs' runs.
            let bytes = checked_graph_size(kernel, design)?.bytes;
            let _reservation = budget::reserve(bytes);
            let graph = lower(kernel, design)?;
            let sim = simulate(&graph, kernel.name, design, platform, &mut NullSink)?;
            drop(graph);
            budget::release_freed_memory_after(bytes);
            Ok(Arc::new(sim))
        })
    }

    /// What the lowered graph says without simulating it.
    pub(super) fn analytic(&self, kernel: &Kernel, design: &Design) -> Analytic {
        memo(&self.analytic, CacheKey::new(kernel, design), || {
            let graph = lower(kernel, design).expect("prepare checked the graph's size");
            let busy = engine_busy_cycles(&graph, design);
            let engines = design.engines_for(kernel.label_parts(), kernel.class);
            // Perfectly balanced over the kernel's engines: a lower bound on its compute time.
            let balanced = |indices: &[usize]| {
                let sum: u64 = indices.iter().map(|&e| busy[e]).sum();
                sum.div_ceil(indices.len().max(1) as u64)
            };
            Analytic {
                bytes_tiled: graph.totals().bytes_tiled,
                compute_cycles: balanced(&engines.gemm).max(balanced(&engines.vector)),
            }
        })
    }
}

/// A kernel's tiled traffic and the busy time of its units under the array model.
#[derive(Debug, Clone, Copy)]
pub(super) struct Analytic {
    pub(super) bytes_tiled: u64,
    pub(super) compute_cycles: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Source;
    use crate::config::design::{DEFAULT_DESIGN, load_design};
    use crate::config::platform::default_platform;
    use crate::config::precision::PrecisionPair;
    use crate::workload::{WorkloadChoices, single_gemm};

    /// A stale key would hand a point another design's results; a too-fine key only costs
    /// time. The key follows exactly what the simulation reads.
    #[test]
    fn cache_keys_follow_what_the_simulation_depends_on() {
        let platform = default_platform();
        let design = load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform).unwrap();
        let changed = |change: fn(&mut crate::config::design::RawDesign)| {
            design.modified(&platform, "test", change).unwrap()
        };
        let int8 = PrecisionPair::uniform(Precision::Int8);
        let gemm = single_gemm(512, 768, 768, int8).unwrap();
        let renamed = Kernel {
            name: "o_proj",
            layer: Some(3),
            encoder: Encoder::Text,
            ..gemm.clone()
        };
        assert_eq!(
            CacheKey::new(&gemm, &design),
            CacheKey::new(&renamed, &design)
        );
        let other_tiles = changed(|raw| raw.tiling.tk = 512);
        let other_clock = changed(|raw| raw.clock_mhz = 250.0);
        let other_lanes = changed(|raw| raw.vector.lanes = 128);
        let other_chunk = changed(|raw| raw.vector.chunk_bytes = 16384);
        for different in [&other_tiles, &other_clock] {
            assert_ne!(
                CacheKey::new(&gemm, &design),
                CacheKey::new(&gemm, different)
            );
        }
        let wider = single_gemm(512, 1024, 768, int8).unwrap();
        assert_ne!(
            CacheKey::new(&gemm, &design),
            CacheKey::new(&wider, &design)
        );
        // A vector kernel does not care about GEMM tiles, but does about its unit.
        let model = crate::config::model::default_model();
        let policy = crate::config::model::default_policy();
        let choices = WorkloadChoices {
            batch: 1,
            ..WorkloadChoices::default()
        };
        let workload = choices.build(&model, Some(&policy), int8).unwrap();
        let ln1 = workload.kernels.iter().find(|k| k.name == "ln1").unwrap();
        assert_eq!(
            CacheKey::new(ln1, &design),
            CacheKey::new(ln1, &other_tiles)
        );
        // Nor on another design's count of arrays: its busy cycles are listed by engine
        // index, and the vector units come after the arrays.
        let more_arrays = changed(|raw| raw.arrays.count = 2);
        for different in [&other_lanes, &other_chunk, &other_clock, &more_arrays] {
            assert_ne!(CacheKey::new(ln1, &design), CacheKey::new(ln1, different));
        }
    }
}
