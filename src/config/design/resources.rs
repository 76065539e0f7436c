//! What a design takes from the platform, in all and per SLR: DSPs (one MAC unit per PE or
//! lane, packed as the platform allows at the engine's precision), tile buffers (slots × the
//! A, B and C tiles per GEMM engine, in BRAM or URAM) and vector line buffers (two inputs and
//! one output per slot per vector engine, in BRAM), in whole blocks.
//!
//! Placement: an engine goes on the SLR its `[[engines]]` entry names; the others are spread
//! in turn, GEMM engines and vector engines each starting at SLR0 (three pool arrays on the
//! U280: one per SLR). Each SLR is checked against what the platform's kernel region leaves
//! it, so a design that fits the chip's totals but crowds one SLR is refused. Not modelled
//! yet: LUTs and FFs (multipliers built from LUTs, control), buffer ports, FIFOs, SLR
//! crossings.

use super::engines::{Engine, MacKind};
use super::{Design, SramKind};
use crate::config::ConfigError;
use crate::config::design::Tiling;
use crate::config::platform::{Platform, SlrBudget};
use crate::config::precision::PrecisionPair;

/// Resources a design (or one SLR of it) takes from the platform.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ResourceUse {
    pub dsps: u64,
    pub bram_blocks: u64,
    pub uram_blocks: u64,
    /// LUTs of the engines whose multipliers are LUTs (other logic is not estimated yet).
    pub luts: u64,
}

/// One SLR: what its engines take, what its part of the kernel region offers, and the
/// engines that sit there.
#[derive(Debug, Clone, PartialEq)]
pub struct SlrUse {
    pub used: ResourceUse,
    pub available: SlrBudget,
    pub engines: Vec<EngineUse>,
}

/// One engine's share: its DSPs before the SLR's rounding (packing is shared) and the bytes
/// of its tile or line buffers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineUse {
    /// Index into [`Design::engines`].
    pub engine: usize,
    pub dsps: f64,
    pub buffer_bytes: u64,
    pub luts: u64,
}

/// What the resources are computed from.
pub(super) struct Demand<'a> {
    pub engines: &'a [Engine],
    /// The tile a GEMM engine without its own buffers for: the largest of any class.
    pub largest: Tiling,
    pub precision: PrecisionPair,
    pub buffer_slots: u64,
    pub buffers: SramKind,
    pub vector_chunk_bytes: u64,
    /// The pool's array count and shape, and vector units, for error messages.
    pub pool: (u64, (u64, u64), u64),
}

/// FINN's LUT cost model of a matrix-vector unit (`lut_estimation`, (P) FINN): 300 LUTs per
/// unit and 1.1 × (multiplier + adder tree + accumulator) per MAC lane, the multiplier
/// `(2·⌈(W+A)/6⌉ − 1)·(W+A)` and the adder tree `2·(W+A)` LUTs for W-bit weights and A-bit
/// activations, the accumulator 32 bits (roofsim's integer accumulators). W4A8: 101 LUTs per
/// MAC lane; Chen et al.'s BERT on a U280 used ~75 per MAC/cycle overall (S).
pub fn lut_mac_cost(macs_per_cycle: u64, precision: PrecisionPair) -> u64 {
    let bits = precision.weights.bits() + precision.activations.bits();
    let multiplier = (2 * bits.div_ceil(6) - 1) * bits;
    let per_lane = 1.1 * (multiplier + 2 * bits + 32) as f64;
    (300.0 + per_lane * macs_per_cycle as f64).ceil() as u64
}

/// One engine's demand: DSPs (fractional: packing is shared across an SLR), tile-buffer
/// bytes, line-buffer bytes and LUTs.
type EngineDemand = (f64, u64, u64, u64);

impl Demand<'_> {
    fn of(&self, engine: &Engine, platform: &Platform) -> EngineDemand {
        let (dsps, luts) = match engine.mac {
            MacKind::Dsp => (
                engine.macs_per_cycle() as f64 / platform.macs_per_dsp(engine.precision),
                0,
            ),
            MacKind::Lut => (0.0, lut_mac_cost(engine.macs_per_cycle(), self.precision)),
        };
        if engine.runs_gemms() {
            let tile = engine.tiling.unwrap_or(self.largest);
            let bytes: u64 = Design::tile_buffer_bytes(&tile, self.precision)
                .iter()
                .sum();
            (dsps, self.buffer_slots * bytes, 0, luts)
        } else {
            (
                dsps,
                0,
                self.buffer_slots * 3 * self.vector_chunk_bytes,
                luts,
            )
        }
    }

    /// The blocks `tile_bytes` and `line_bytes` need: (BRAM, URAM).
    fn blocks(&self, tile_bytes: u64, line_bytes: u64, platform: &Platform) -> (u64, u64) {
        let sram = &platform.sram;
        let lines = line_bytes.div_ceil(sram.bram_block_bytes);
        match self.buffers {
            SramKind::Bram => (tile_bytes.div_ceil(sram.bram_block_bytes) + lines, 0),
            SramKind::Uram => (lines, tile_bytes.div_ceil(sram.uram_block_bytes)),
        }
    }
}

/// The SLR of each engine: the one it names, else the next in turn for its family.
pub(super) fn placement(engines: &[Engine], slrs: usize) -> Vec<usize> {
    let mut next = [0usize; 2];
    engines
        .iter()
        .map(|engine| match engine.slr {
            Some(slr) => slr as usize,
            None => {
                let turn = &mut next[usize::from(engine.runs_gemms())];
                *turn += 1;
                (*turn - 1) % slrs
            }
        })
        .collect()
}

/// The design's resources in all (each total rounded up once, as the chip sees them) and
/// per SLR; refuses a design over the chip's or any SLR's budget, naming what is over.
/// `no_named_engines`: the design has only the pool (errors then name `arrays`).
pub(super) fn check(
    demand: &Demand,
    platform: &Platform,
    file: &str,
    no_named_engines: bool,
) -> Result<(ResourceUse, Vec<SlrUse>), ConfigError> {
    let invalid = |field: &str, rule: String| ConfigError::invalid(file, field, rule);
    // Errors about the engines' size name the pool when the design has only the pool.
    let field = if no_named_engines {
        "arrays"
    } else {
        "engines"
    };
    let engines = demand.engines;
    let (array_count, (rows, cols), vector_units) = demand.pool;
    let each: Vec<EngineDemand> = engines.iter().map(|e| demand.of(e, platform)).collect();
    let dsps = each.iter().map(|e| e.0).sum::<f64>().ceil() as u64;
    if dsps > platform.dsp_slices {
        return Err(invalid(
            field,
            format!(
                "{array_count} arrays of {rows}x{cols} and {} named engine(s) need {dsps} DSPs; \
                 the platform has {}",
                engines.len() as u64 - array_count - vector_units,
                platform.dsp_slices
            ),
        ));
    }
    let tile_bytes: u64 = each.iter().map(|e| e.1).sum();
    let line_bytes: u64 = each.iter().map(|e| e.2).sum();
    let (block_bytes, available) = match demand.buffers {
        SramKind::Bram => (platform.sram.bram_block_bytes, platform.sram.bram_blocks),
        SramKind::Uram => (platform.sram.uram_block_bytes, platform.sram.uram_blocks),
    };
    let tile_blocks = tile_bytes.div_ceil(block_bytes);
    if tile_blocks > available {
        let largest = demand.largest;
        return Err(invalid(
            "buffers.memory",
            format!(
                "tiles {}x{}x{} with {} slot(s) on {} GEMM engines need {tile_bytes} bytes = \
                 {tile_blocks} blocks; the platform has {available}",
                largest.tm,
                largest.tn,
                largest.tk,
                demand.buffer_slots,
                engines.iter().filter(|e| e.runs_gemms()).count()
            ),
        ));
    }
    let (bram_blocks, uram_blocks) = demand.blocks(tile_bytes, line_bytes, platform);
    if bram_blocks > platform.sram.bram_blocks {
        return Err(invalid(
            "vector.chunk_bytes",
            format!(
                "line buffers of {line_bytes} bytes and tile buffers need {bram_blocks} BRAM \
                 blocks; the platform has {}",
                platform.sram.bram_blocks
            ),
        ));
    }
    let total = ResourceUse {
        dsps,
        bram_blocks,
        uram_blocks,
        luts: each.iter().map(|e| e.3).sum(),
    };
    if let Some(engine) = engines
        .iter()
        .find(|e| e.slr.is_some_and(|slr| slr as usize >= platform.slrs.len()))
    {
        return Err(invalid(
            "engines",
            format!(
                "{} is placed on SLR{}, but the platform has {} SLR(s)",
                engine.name,
                engine.slr.unwrap_or_default(),
                platform.slrs.len()
            ),
        ));
    }
    let slr_of = placement(engines, platform.slrs.len());
    let mut slrs = Vec::new();
    for (slr, &budget) in platform.slrs.iter().enumerate() {
        let here: Vec<usize> = (0..engines.len()).filter(|&e| slr_of[e] == slr).collect();
        let sum = |f: fn(&EngineDemand) -> u64| here.iter().map(|&e| f(&each[e])).sum::<u64>();
        let (bram_blocks, uram_blocks) = demand.blocks(sum(|e| e.1), sum(|e| e.2), platform);
        let used = ResourceUse {
            dsps: here.iter().map(|&e| each[e].0).sum::<f64>().ceil() as u64,
            bram_blocks,
            uram_blocks,
            luts: sum(|e| e.3),
        };
        for (name, need, offered) in [
            ("DSPs", used.dsps, budget.dsp_slices),
            ("BRAM blocks", used.bram_blocks, budget.bram_blocks),
            ("URAM blocks", used.uram_blocks, budget.uram_blocks),
            ("LUTs for LUT multipliers", used.luts, budget.luts),
        ] {
            if need > offered {
                let names: Vec<&str> = here.iter().map(|&e| engines[e].name.as_str()).collect();
                return Err(invalid(
                    field,
                    format!(
                        "SLR{slr} would need {need} {name} for {} (placed there by `slr` or in \
                         turn); its part of the kernel region has {offered}: move engines with \
                         `slr = N`",
                        names.join(", ")
                    ),
                ));
            }
        }
        slrs.push(SlrUse {
            used,
            available: budget,
            engines: here
                .iter()
                .map(|&e| EngineUse {
                    engine: e,
                    dsps: each[e].0,
                    buffer_bytes: each[e].1 + each[e].2,
                    luts: each[e].3,
                })
                .collect(),
        });
    }
    Ok((total, slrs))
}
