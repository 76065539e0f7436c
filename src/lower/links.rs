//! What a design's on-chip links take from the platform once the workload says how large
//! their tensors are: the bill of materials of a design running a workload.
//!
//! Rules:
//! - a `buffer` link holds its producer's whole output, a `stream` link `depth_tiles` of its
//!   output tiles, sized by the producer's largest instance;
//! - the storage sits beside its consumer: each consumer engine holds its share (the bytes
//!   split evenly over them), read as wide as the engine reads per cycle (an array its rows,
//!   a dot or vector engine its lanes, of activations), built as
//!   [`storage`](crate::config::design::storage) says (FIFOs in SRLs, LUT RAM or BRAM by
//!   size, buffers in the design's buffer memory);
//! - a consumer engine in another SLR than every producer engine reads across each
//!   boundary to the nearest one, taking its read width in super long lines on each.

use super::vector::vector_chunks;
use super::{LowerError, operand};
use crate::config::design::storage::{self, Storage};
use crate::config::design::{Design, EngineModel, ResourceUse, SlrUse, Via};
use crate::config::platform::Platform;
use crate::workload::{Direction, Kernel, Workload};

/// Bytes an on-chip link holds: a buffer the producer's whole output, a stream
/// `depth_tiles` of its output tiles.
pub(super) fn link_bytes(producer: &Kernel, via: Via, depth_tiles: u64, design: &Design) -> u64 {
    let Some(output) = operand(producer, Direction::Write, 0) else {
        return 0;
    };
    match via {
        Via::Hbm => 0,
        Via::Buffer => output.bytes(),
        Via::Stream => {
            let tile_elements = if producer.op.uses_arrays() {
                let tiling = design.tiling_of(producer.label_parts(), producer.class);
                tiling.tm.min(producer.m) * tiling.tn.min(producer.n)
            } else {
                vector_chunks(producer, design).1 * producer.n
            };
            depth_tiles * (tile_elements * output.bits).div_ceil(8)
        }
    }
}

/// The engines that run `kernel` (its GEMM engines, or its vector engines).
fn engines_of(kernel: &Kernel, design: &Design) -> Vec<usize> {
    let engines = design.engines_for(kernel.label_parts(), kernel.class);
    if kernel.op.uses_arrays() {
        engines.gemm
    } else {
        engines.vector
    }
}

/// One consumer engine's share of a link: where it sits and what its storage takes.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkPart {
    /// Index into [`Design::engines`].
    pub engine: usize,
    /// The SLR it sits on.
    pub slr: usize,
    /// Bytes it holds.
    pub bytes: u64,
    /// Width of its port, bits.
    pub width_bits: u64,
    /// What it is built from.
    pub storage: Storage,
}

/// One on-chip link: its label (`from -> to`), kind, bytes, storage per consumer engine and
/// the super long lines it takes on each boundary (index b: SLR b to b + 1).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkUse {
    /// The link, `from -> to`.
    pub link: String,
    /// What carries the data.
    pub via: Via,
    /// Bytes it holds.
    pub bytes: u64,
    /// Its storage per SLR.
    pub parts: Vec<LinkPart>,
    /// Super long lines it takes at each SLR boundary.
    pub slls: Vec<u64>,
}

/// A design's resources with its links': per SLR (its engines' and the link storage placed
/// there; each boundary's super long lines, HBM paths and links), in total, and per link.
#[derive(Debug, Clone, PartialEq)]
pub struct Bill {
    /// Per SLR: the engines' and links' use.
    pub slrs: Vec<SlrUse>,
    /// The whole design's use.
    pub total: ResourceUse,
    /// Each link's storage.
    pub links: Vec<LinkUse>,
}

impl Bill {
    /// The bill of `design` running `workload`: links the workload does not hold (a
    /// focused run) take nothing.
    pub fn of(workload: &Workload, design: &Design, platform: &Platform) -> Bill {
        Self::build(workload, design, platform, |_| None)
            .expect("a bill built without checks is never refused")
    }

    /// [`Bill::of`], checking every SLR and boundary as the links are added in order and
    /// naming the link that overfills one.
    pub(super) fn checked(
        workload: &Workload,
        design: &Design,
        platform: &Platform,
    ) -> Result<Bill, LowerError> {
        Self::build(workload, design, platform, overfilled)
    }

    /// The links that cross SLRs.
    pub fn crossings(&self) -> impl Iterator<Item = &LinkUse> {
        self.links.iter().filter(|l| l.slls.iter().any(|&s| s > 0))
    }

    /// The engines' resources with each on-chip link's added in turn, refused when `refuse`
    /// finds a reason in what the SLRs then take.
    fn build(
        workload: &Workload,
        design: &Design,
        platform: &Platform,
        refuse: impl Fn(&[SlrUse]) -> Option<String>,
    ) -> Result<Bill, LowerError> {
        let links: Vec<LinkUse> = design
            .links()
            .iter()
            .filter(|link| link.via != Via::Hbm)
            .filter_map(|link| link_use(workload, design, platform, link))
            .collect();
        let mut slrs = design.slr_use().to_vec();
        let mut total = design.resources();
        for link in &links {
            add(&mut slrs, &mut total, link);
            if let Some(rule) = refuse(&slrs) {
                return Err(LowerError::Link {
                    file: design.source().to_string(),
                    link: link.link.clone(),
                    rule,
                });
            }
        }
        Ok(Bill { slrs, total, links })
    }
}

/// `link`'s use, when the workload runs its producer right before its consumer.
fn link_use(
    workload: &Workload,
    design: &Design,
    platform: &Platform,
    link: &crate::config::design::Link,
) -> Option<LinkUse> {
    let pair = workload
        .kernels
        .windows(2)
        .find(|pair| pair[0].label_parts().is(&link.from) && pair[1].label_parts().is(&link.to))?;
    let mut slr_of = vec![0usize; design.engines().len()];
    for (slr, usage) in design.slr_use().iter().enumerate() {
        for engine in &usage.engines {
            slr_of[engine.engine] = slr;
        }
    }
    let bytes = workload
        .kernels
        .iter()
        .filter(|k| k.label_parts().is(&link.from))
        .map(|k| link_bytes(k, link.via, link.depth_tiles, design))
        .max()
        .unwrap_or(0);
    let bits = design.precision().activations.bits();
    let producers: Vec<usize> = engines_of(&pair[0], design)
        .iter()
        .map(|&e| slr_of[e])
        .collect();
    let consumers = engines_of(&pair[1], design);
    let share = bytes.div_ceil(consumers.len().max(1) as u64);
    let mut slls = vec![0u64; design.slr_use().len().saturating_sub(1)];
    let mut parts = Vec::new();
    for consumer in consumers {
        let here = slr_of[consumer];
        let width_bits = match design.engines()[consumer].model {
            EngineModel::Systolic(shape) => shape.rows,
            EngineModel::Dot { lanes, .. } | EngineModel::Vector { lanes, .. } => lanes,
        } * bits;
        if let Some(from) = producers.iter().copied().min_by_key(|&p| p.abs_diff(here)) {
            for slls in &mut slls[from.min(here)..from.max(here)] {
                *slls += width_bits;
            }
        }
        let storage = match link.via {
            Via::Stream => {
                storage::fifo(width_bits, (share * 8).div_ceil(width_bits), &platform.sram)
            }
            _ => storage::buffer(share, width_bits, design.buffer_memory(), &platform.sram),
        };
        parts.push(LinkPart {
            engine: consumer,
            slr: here,
            bytes: share,
            width_bits,
            storage,
        });
    }
    Some(LinkUse {
        link: format!("{} -> {}", link.from, link.to),
        via: link.via,
        bytes,
        parts,
        slls,
    })
}

/// Adds `link`'s storage to its SLRs and the chip, and its lines to the boundaries.
fn add(slrs: &mut [SlrUse], total: &mut ResourceUse, link: &LinkUse) {
    for part in &link.parts {
        for used in [&mut slrs[part.slr].used, &mut *total] {
            used.bram_blocks += part.storage.bram_blocks;
            used.uram_blocks += part.storage.uram_blocks;
            used.memory_luts += part.storage.luts;
        }
    }
    for (boundary, slls) in link.slls.iter().enumerate() {
        slrs[boundary + 1].slls_below += slls;
    }
}

/// The first SLR resource or boundary over what the platform offers, as a sentence.
fn overfilled(slrs: &[SlrUse]) -> Option<String> {
    for (index, slr) in slrs.iter().enumerate() {
        let (used, offered) = (slr.used, slr.available);
        for (name, need, available) in [
            ("BRAM blocks", used.bram_blocks, offered.bram_blocks),
            ("URAM blocks", used.uram_blocks, offered.uram_blocks),
            ("LUTs", used.all_luts(), offered.luts),
        ] {
            // A platform that does not give an SLR's LUTs leaves them unchecked.
            if need > available && (available > 0 || name != "LUTs") {
                return Some(format!(
                    "its storage brings SLR{index} to {need} {name}, with the engines and the \
                     links before it; its part of the kernel region has {available} (use \
                     via = \"hbm\", a shallower stream or smaller tiles)"
                ));
            }
        }
        if slr.slls_available > 0 && slr.slls_below > slr.slls_available {
            return Some(format!(
                "its stream across the SLR{}-SLR{index} boundary brings the boundary to {} of \
                 its {} super long lines, with the HBM paths and the links before it: place \
                 its engines in one SLR or narrow them",
                index - 1,
                slr.slls_below,
                slr.slls_available
            ));
        }
    }
    None
}
