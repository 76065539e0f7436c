//! A design's mapping and links held against the kernels of a workload, before anything is
//! lowered: every name known, every kernel on engines that can run it, every link between a
//! kernel and the one after it carrying that kernel's output into the next one's first
//! input, no stream into a kernel that needs its input whole, and the
//! on-chip links within the platform's block memory beside the design's own buffers.

use super::vector::vector_chunks;
use super::{LowerError, link_refusal, operand};
use crate::config::design::{Design, EngineModel, MappingKey, SramKind, Via};
use crate::config::platform::Platform;
use crate::workload::{Direction, Kernel, Op, Workload};

/// Bytes an on-chip link holds: a buffer the producer's whole output, a stream
/// `depth_tiles` of its output tiles.
fn link_bytes(producer: &Kernel, via: Via, depth_tiles: u64, design: &Design) -> u64 {
    let Some(output) = operand(producer, Direction::Write, 0) else {
        return 0;
    };
    match via {
        Via::Hbm => 0,
        Via::Buffer => output.bytes(),
        Via::Stream => {
            let tile_elements = if producer.op.uses_arrays() {
                let tiling = design.tiling_of(&producer.label(), producer.class);
                tiling.tm.min(producer.m) * tiling.tn.min(producer.n)
            } else {
                vector_chunks(producer, design).1 * producer.n
            };
            depth_tiles * (tile_elements * output.bits).div_ceil(8)
        }
    }
}

/// Checks that `kernel` has engines on `design` (every lowering does, before building
/// anything) and that they compute at its precision.
pub fn check_engines(kernel: &Kernel, design: &Design) -> Result<(), LowerError> {
    let mapping = |rule: String| LowerError::Mapping {
        file: design.source().to_string(),
        rule,
    };
    let engines = design.engines_for(&kernel.label(), kernel.class);
    let used = if kernel.op.uses_arrays() {
        &engines.gemm
    } else {
        &engines.vector
    };
    if used.is_empty() || (kernel.op == Op::FusedAttention && engines.vector.is_empty()) {
        return Err(mapping(format!(
            "`{}` runs on no engine: map it, or give [arrays] a count",
            kernel.label()
        )));
    }
    if let Some(&engine) = used
        .iter()
        .find(|&&e| !design.engines()[e].can_run(kernel.compute_precision))
    {
        let engine = &design.engines()[engine];
        return Err(mapping(format!(
            "engine `{}` computes at {} and cannot run `{}` at {}",
            engine.name,
            engine.precision,
            kernel.label(),
            kernel.compute_precision
        )));
    }
    Ok(())
}

/// One on-chip link's super long lines: its label and what it takes on each boundary
/// between neighbouring SLRs (index b: SLR b to b + 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkCrossing {
    pub link: String,
    pub slls: Vec<u64>,
}

/// The on-chip links (`buffer` or `stream`) whose producer and consumer run on engines in
/// different SLRs. Each consumer engine reads its input from the nearest producer engine,
/// a stream as wide as what it reads per cycle (an array its rows, a dot or vector engine
/// its lanes, of activations), across every boundary between the two SLRs.
pub fn link_crossings(workload: &Workload, design: &Design) -> Vec<LinkCrossing> {
    let mut slr_of = vec![0usize; design.engines().len()];
    for (slr, usage) in design.slr_use().iter().enumerate() {
        for engine in &usage.engines {
            slr_of[engine.engine] = slr;
        }
    }
    let boundaries = design.slr_use().len().saturating_sub(1);
    let bits = design.precision().activations.bits();
    let engines_of = |kernel: &Kernel| {
        let engines = design.engines_for(&kernel.label(), kernel.class);
        if kernel.op.uses_arrays() {
            engines.gemm
        } else {
            engines.vector
        }
    };
    let mut crossings = Vec::new();
    for link in design.links().iter().filter(|l| l.via != Via::Hbm) {
        let pair = workload
            .kernels
            .windows(2)
            .find(|pair| pair[0].label() == link.from && pair[1].label() == link.to);
        let Some(pair) = pair else { continue };
        let producers: Vec<usize> = engines_of(&pair[0]).iter().map(|&e| slr_of[e]).collect();
        let mut slls = vec![0u64; boundaries];
        for consumer in engines_of(&pair[1]) {
            let here = slr_of[consumer];
            let Some(from) = producers.iter().copied().min_by_key(|&p| p.abs_diff(here)) else {
                continue;
            };
            let width = match design.engines()[consumer].model {
                EngineModel::Systolic(shape) => shape.rows,
                EngineModel::Dot { lanes, .. } | EngineModel::Vector { lanes, .. } => lanes,
            } * bits;
            for slls in &mut slls[from.min(here)..from.max(here)] {
                *slls += width;
            }
        }
        if slls.iter().any(|&s| s > 0) {
            crossings.push(LinkCrossing {
                link: format!("{} -> {}", link.from, link.to),
                slls,
            });
        }
    }
    crossings
}

/// Checks `design`'s `[mapping]` and `[[links]]` against `workload` on `platform`; the error
/// names the design file and the mapping key or link at fault.
pub fn check_mapping(
    workload: &Workload,
    design: &Design,
    platform: &Platform,
) -> Result<(), LowerError> {
    let file = design.source().to_string();
    let labels = workload.labels();
    let mapping = |rule: String| LowerError::Mapping {
        file: file.clone(),
        rule,
    };
    // A name the workload lacks is a mistake, unless the workload is a focused part of the
    // model (`--kernels`, a sweep's filter) or has none of that encoder's kernels at all.
    let applies = |label: &str| {
        workload.options.kernels.is_empty()
            && label.split_once('/').is_some_and(|(encoder, _)| {
                labels.iter().any(|l| l.starts_with(&format!("{encoder}/")))
            })
    };
    for (key, engines) in design.mapping() {
        let MappingKey::Kernel(label) = key else {
            continue;
        };
        if !labels.contains(label) {
            if !applies(label) {
                continue;
            }
            return Err(mapping(format!(
                "`{label}` names no kernel of the workload (nor a class: projection, \
                 attention, mlp, vector){}",
                crate::config::did_you_mean(label, &labels)
            )));
        }
        let kernel = workload
            .kernels
            .iter()
            .find(|k| k.label() == *label)
            .expect("a label of the workload");
        let runs_gemms = kernel.op.uses_arrays();
        if !engines
            .iter()
            .any(|&e| design.engines()[e].runs_gemms() == runs_gemms)
        {
            let needs = if runs_gemms {
                "a systolic or dot engine"
            } else {
                "a vector engine"
            };
            return Err(mapping(format!("`{label}` is mapped to no {needs}")));
        }
    }
    for kernel in &workload.kernels {
        check_engines(kernel, design)?;
    }
    check_crossings(workload, design)?;
    let mut on_chip_bytes = 0u64;
    for link in design.links() {
        let refuse = |rule: String| LowerError::Link {
            file: file.clone(),
            link: format!("{} -> {}", link.from, link.to),
            rule,
        };
        let missing = [&link.from, &link.to]
            .into_iter()
            .find(|end| !labels.contains(end));
        if let Some(end) = missing {
            if !applies(end) {
                continue;
            }
            return Err(refuse(format!(
                "`{end}` names no kernel of the workload{}",
                crate::config::did_you_mean(end, &labels)
            )));
        }
        let pair = workload.kernels.windows(2).find(|pair| {
            pair[0].label() == link.from
                && pair[1].label() == link.to
                && pair[0].layer == pair[1].layer
        });
        let Some(pair) = pair else {
            return Err(refuse(format!(
                "`{}` does not run right after `{}` in the same layer; a link carries a \
                 kernel's output to the next kernel",
                link.to, link.from
            )));
        };
        if let Some(rule) = link_refusal(&pair[0], &pair[1], link.via) {
            return Err(refuse(rule));
        }
        // The largest instance of the producer sets what the link must hold.
        let bytes = workload
            .kernels
            .iter()
            .filter(|k| k.label() == link.from)
            .map(|k| link_bytes(k, link.via, link.depth_tiles, design))
            .max()
            .unwrap_or(0);
        on_chip_bytes = on_chip_bytes.saturating_add(bytes);
        let resources = design.resources();
        let (block_bytes, available, used) = match design.buffer_memory() {
            SramKind::Bram => (
                platform.sram.bram_block_bytes,
                platform.sram.bram_blocks,
                resources.bram_blocks,
            ),
            SramKind::Uram => (
                platform.sram.uram_block_bytes,
                platform.sram.uram_blocks,
                resources.uram_blocks,
            ),
        };
        let blocks = on_chip_bytes.div_ceil(block_bytes);
        if used.saturating_add(blocks) > available {
            return Err(refuse(format!(
                "the on-chip links up to this one hold {on_chip_bytes} bytes = {blocks} blocks \
                 of buffers.memory beside the design's {used}; the platform has {available} \
                 (use via = \"hbm\", a shallower stream or smaller tiles)"
            )));
        }
    }
    Ok(())
}

/// Refuses links whose super long lines, with the engines' HBM paths, overfill a boundary
/// between SLRs; names the link that tips it over.
fn check_crossings(workload: &Workload, design: &Design) -> Result<(), LowerError> {
    let slrs = design.slr_use();
    let mut used: Vec<u64> = slrs.iter().skip(1).map(|slr| slr.slls_below).collect();
    for crossing in link_crossings(workload, design) {
        for (boundary, slls) in crossing.slls.iter().enumerate() {
            used[boundary] += slls;
            let available = slrs[boundary + 1].slls_available;
            if available > 0 && used[boundary] > available {
                return Err(LowerError::Link {
                    file: design.source().to_string(),
                    link: crossing.link.clone(),
                    rule: format!(
                        "its stream across the SLR{boundary}-SLR{} boundary ({slls} super long \
                         lines) brings the boundary to {} of its {available}, with the HBM \
                         paths and the links before it: place its engines in one SLR or \
                         narrow them",
                        boundary + 1,
                        used[boundary]
                    ),
                });
            }
        }
    }
    Ok(())
}
