//! What a design takes from the platform, in all and per SLR: DSPs (one MAC unit per PE or
//! lane, packed as the platform allows at the engine's precision when the design packs
//! them, `dsp_packing`, else one MAC per DSP), tile buffers (slots × the
//! A, B and C tiles per GEMM engine, in BRAM or URAM) and vector line buffers (two inputs and
//! one output per slot per vector engine, in BRAM), in whole blocks.
//!
//! A buffer needs blocks for its capacity **and** for its width: one that must deliver W bits
//! every cycle needs `⌈W / port⌉` blocks side by side (72-bit ports for RAMB36 in simple dual
//! port and URAM288, UG573), the read port feeding the engine while the other port fills the
//! next slot. Widths per cycle: an R × C array reads R activations (A) and C weights (B) and
//! writes its R × C accumulators (C, at the accumulator width the tile buffer stores) once
//! per fold, a fold lasting `R + C + tk − 2` cycles (the fold model's, output stationary),
//! so `R·C·acc / (R + C + tk − 2)` bits; a dot engine
//! of L lanes reads L of each and writes one accumulator; a vector engine of L lanes reads
//! two inputs and writes one output of L activations. An engine's blocks are the larger of
//! the two counts, per memory.
//!
//! Placement: an engine goes on the SLR its `[[engines]]` entry names; the others are spread
//! in turn, GEMM engines and vector engines each starting at SLR0 (three pool arrays on the
//! U280: one per SLR). Each SLR is checked against what the platform's kernel region leaves
//! it, so a design that fits the chip's totals but crowds one SLR is refused. The HBM ports
//! sit in SLR0: every engine above it takes one HBM port's super long lines on each boundary
//! below it, checked against the boundary's count. Logic: LUT multipliers by FINN's cost
//! model, and the platform's `[logic]` LUTs and FFs per DSP of a DSP engine and per vector
//! lane. On-chip links (their FIFOs and buffers, and their lines across SLRs) need the
//! workload: `lower::Bill` adds them to these.

use super::engines::{Engine, EngineModel, MacKind};
use super::{Design, SramKind};
use crate::config::ConfigError;
use crate::config::design::Tiling;
use crate::config::platform::{Platform, SlrBudget};
use crate::config::precision::PrecisionPair;

/// Resources a design (or one SLR of it) takes from the platform.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ResourceUse {
    /// DSP slices, after packing.
    pub dsps: u64,
    /// Block RAMs (RAMB36).
    pub bram_blocks: u64,
    /// UltraRAMs.
    pub uram_blocks: u64,
    /// LUTs of the engines whose multipliers are LUTs.
    pub luts: u64,
    /// LUTs and flip-flops of the engines' ordinary logic (the platform's `[logic]` cost
    /// per DSP of a DSP-based engine and per vector lane; 0 when it gives none).
    pub logic_luts: u64,
    /// Flip-flops of the engines' ordinary logic.
    pub ffs: u64,
    /// LUTs holding on-chip links' FIFOs as shift registers or LUT RAM (links need the
    /// workload: 0 in a design's own resources).
    pub memory_luts: u64,
}

impl ResourceUse {
    /// Every LUT counted: LUT multipliers, logic and LUT memories.
    pub fn all_luts(&self) -> u64 {
        self.luts + self.logic_luts + self.memory_luts
    }
}

/// One SLR: what its engines take, what its part of the kernel region offers, and the
/// engines that sit there.
#[derive(Debug, Clone, PartialEq)]
pub struct SlrUse {
    /// What its engines take.
    pub used: ResourceUse,
    /// What its part of the kernel region offers.
    pub available: SlrBudget,
    /// The engines that sit there.
    pub engines: Vec<EngineUse>,
    /// Super long lines the boundary below this SLR carries (the HBM paths of the engines
    /// here and above), and what it offers; 0 and 0 for SLR0 or when the platform does not
    /// say.
    pub slls_below: u64,
    /// Super long lines the boundary below offers.
    pub slls_available: u64,
}

/// One engine's share: its DSPs before the SLR's rounding (packing is shared), the bytes
/// of its tile or line buffers, and its blocks (the larger of capacity and port width, before
/// the SLR's rounding) with the part its ports alone need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineUse {
    /// Index into [`Design::engines`].
    pub engine: usize,
    /// DSP slices before the SLR's rounding.
    pub dsps: f64,
    /// Bytes of its tile or line buffers.
    pub buffer_bytes: u64,
    /// LUTs of its LUT multipliers.
    pub luts: u64,
    /// Block RAMs before the SLR's rounding.
    pub bram_blocks: f64,
    /// UltraRAMs before the SLR's rounding.
    pub uram_blocks: f64,
    /// Blocks its buffers' port widths need (in their memories), whatever their capacity.
    pub port_blocks: u64,
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
    /// Integer MACs packed as the platform allows; else one per DSP.
    pub dsp_packing: bool,
    /// The pool's array count and shape, and vector units, for error messages.
    pub pool: (u64, (u64, u64), u64),
}

/// FINN's LUT cost model of a matrix-vector unit (`lut_estimation`, (P) FINN): 300 LUTs per
/// unit and 1.1 × (multiplier + adder tree + accumulator) per MAC lane, the multiplier
/// `(2·⌈(W+A)/6⌉ − 1)·(W+A)` and the adder tree `2·(W+A)` LUTs for W-bit weights and A-bit
/// activations, the accumulator 32 bits (roofsim's integer accumulators). W4A8: 101 LUTs per
/// MAC lane; Chen et al.'s BERT on a U280 used ~75 per MAC/cycle overall (S).
pub(super) fn lut_mac_cost(macs_per_cycle: u64, precision: PrecisionPair) -> u64 {
    let bits = precision.weights.bits() + precision.activations.bits();
    let multiplier = (2 * bits.div_ceil(6) - 1) * bits;
    let per_lane = 1.1 * (multiplier + 2 * bits + 32) as f64;
    (300.0 + per_lane * macs_per_cycle as f64).ceil() as u64
}

/// One engine's demand.
#[derive(Debug, Clone, Copy)]
struct EngineDemand {
    /// Fractional: packing is shared across an SLR.
    dsps: f64,
    tile_bytes: u64,
    line_bytes: u64,
    luts: u64,
    /// Ordinary logic of a DSP-based engine, before the SLR's rounding.
    logic_luts: f64,
    ffs: f64,
    /// Blocks side by side its tile buffers' ports need (in the design's buffer memory),
    /// and its line buffers' (in BRAM).
    tile_port_blocks: u64,
    line_port_blocks: u64,
}

impl EngineDemand {
    /// Block equivalents (BRAM, URAM) before rounding: per buffer kind, the larger of its
    /// capacity and its ports' need.
    fn blocks(&self, buffers: SramKind, platform: &Platform) -> (f64, f64) {
        let sram = &platform.sram;
        let need = |bytes: u64, block_bytes: u64, ports: u64| {
            (bytes as f64 / block_bytes as f64).max(ports as f64)
        };
        let lines = need(
            self.line_bytes,
            sram.bram_block_bytes,
            self.line_port_blocks,
        );
        match buffers {
            SramKind::Bram => (
                lines
                    + need(
                        self.tile_bytes,
                        sram.bram_block_bytes,
                        self.tile_port_blocks,
                    ),
                0.0,
            ),
            SramKind::Uram => (
                lines,
                need(
                    self.tile_bytes,
                    sram.uram_block_bytes,
                    self.tile_port_blocks,
                ),
            ),
        }
    }
}

impl Demand<'_> {
    fn of(&self, engine: &Engine, platform: &Platform) -> EngineDemand {
        let packed = platform.macs_per_dsp(engine.precision);
        let macs_per_dsp = if self.dsp_packing {
            packed
        } else {
            packed.min(1.0)
        };
        let (dsps, luts) = match engine.mac {
            MacKind::Dsp => (engine.macs_per_cycle() as f64 / macs_per_dsp, 0),
            MacKind::Lut => (0.0, lut_mac_cost(engine.macs_per_cycle(), self.precision)),
        };
        let sram = &platform.sram;
        let tile_port = match self.buffers {
            SramKind::Bram => sram.bram_port_bits,
            SramKind::Uram => sram.uram_port_bits,
        };
        let (a_bits, w_bits) = (
            self.precision.activations.bits(),
            self.precision.weights.bits(),
        );
        let accumulator_bits = self.precision.weights.parameter_vector_bits();
        let ports = |widths: &[u64], port_bits: u64| -> u64 {
            widths.iter().map(|bits| bits.div_ceil(port_bits)).sum()
        };
        let logic = platform.logic.unwrap_or_default();
        let mut demand = EngineDemand {
            dsps,
            tile_bytes: 0,
            line_bytes: 0,
            luts,
            logic_luts: dsps * logic.luts_per_dsp,
            ffs: dsps * logic.ffs_per_dsp,
            tile_port_blocks: 0,
            line_port_blocks: 0,
        };
        let tile = engine.tiling.unwrap_or(self.largest);
        match engine.model {
            EngineModel::Systolic(shape) => {
                // The R·C accumulators leave once per fold, which lasts at least
                // R + C + tk - 2 cycles (the fold model's, output stationary): a one-deep
                // reduction does not write them every cycle.
                let fold_cycles = shape.rows + shape.cols + tile.tk - 2;
                let outputs = (shape.rows * shape.cols * accumulator_bits).div_ceil(fold_cycles);
                demand.tile_port_blocks = ports(
                    &[shape.rows * a_bits, shape.cols * w_bits, outputs],
                    tile_port,
                );
            }
            EngineModel::Dot { lanes, .. } => {
                demand.tile_port_blocks = ports(
                    &[lanes * a_bits, lanes * w_bits, accumulator_bits],
                    tile_port,
                );
            }
            EngineModel::Vector { lanes, .. } => {
                demand.logic_luts = lanes as f64 * logic.luts_per_vector_lane;
                demand.ffs = lanes as f64 * logic.ffs_per_vector_lane;
                demand.line_bytes = self.buffer_slots * 3 * self.vector_chunk_bytes;
                demand.line_port_blocks = 3 * ports(&[lanes * a_bits], sram.bram_port_bits);
            }
        }
        if engine.runs_gemms() {
            let bytes: u64 = Design::tile_buffer_bytes(&tile, self.precision)
                .iter()
                .sum();
            demand.tile_bytes = self.buffer_slots * bytes;
        }
        demand
    }

    /// The whole blocks (BRAM, URAM) engines of `demands` need together.
    fn blocks<'a>(
        &self,
        demands: impl Iterator<Item = &'a EngineDemand>,
        platform: &Platform,
    ) -> (u64, u64) {
        let (bram, uram) = demands
            .map(|demand| demand.blocks(self.buffers, platform))
            .fold((0.0, 0.0), |(b, u), (db, du)| (b + db, u + du));
        // Rounded once per group; the small epsilon absorbs float sums of whole blocks.
        let whole = |blocks: f64| (blocks - 1e-9).ceil().max(0.0) as u64;
        (whole(bram), whole(uram))
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
    let dsps = each.iter().map(|e| e.dsps).sum::<f64>().ceil() as u64;
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
    let tile_bytes: u64 = each.iter().map(|e| e.tile_bytes).sum();
    let line_bytes: u64 = each.iter().map(|e| e.line_bytes).sum();
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
    let (bram_blocks, uram_blocks) = demand.blocks(each.iter(), platform);
    let port_blocks: u64 = each
        .iter()
        .map(|e| e.tile_port_blocks + e.line_port_blocks)
        .sum();
    // Name what to change: the vector lanes or engine shapes when ports need more blocks
    // than capacity does, else the buffers' sizes.
    let line_ports: u64 = each.iter().map(|e| e.line_port_blocks).sum();
    let tile_ports: u64 = each.iter().map(|e| e.tile_port_blocks).sum();
    let lines_field = if line_ports > line_bytes.div_ceil(platform.sram.bram_block_bytes) {
        "vector.lanes"
    } else {
        "vector.chunk_bytes"
    };
    let tiles_field = if tile_ports > tile_blocks {
        field
    } else {
        "buffers.memory"
    };
    for (memory, need, offered) in [
        ("BRAM", bram_blocks, platform.sram.bram_blocks),
        ("URAM", uram_blocks, platform.sram.uram_blocks),
    ] {
        if need > offered {
            // BRAM holds the line buffers (and the tiles when the design says so).
            let lines =
                memory == "BRAM" && (demand.buffers == SramKind::Uram || line_ports >= tile_ports);
            return Err(invalid(
                if lines { lines_field } else { tiles_field },
                format!(
                    "line buffers of {line_bytes} bytes and tile buffers of {tile_bytes} \
                     bytes need {need} {memory} blocks for their capacity and port widths \
                     ({port_blocks} blocks side by side to feed every engine each cycle); \
                     the platform has {offered}"
                ),
            ));
        }
    }
    let total = ResourceUse {
        dsps,
        bram_blocks,
        uram_blocks,
        luts: each.iter().map(|e| e.luts).sum(),
        logic_luts: each.iter().map(|e| e.logic_luts).sum::<f64>().ceil() as u64,
        ffs: each.iter().map(|e| e.ffs).sum::<f64>().ceil() as u64,
        memory_luts: 0,
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
        let (slls_below, slls_available) = match platform.slr_crossings {
            Some(crossings) if slr > 0 => {
                let above = slr_of.iter().filter(|&&s| s >= slr).count() as u64;
                let need = above * crossings.hbm_port_slls;
                if need > crossings.slls_per_boundary {
                    return Err(invalid(
                        field,
                        format!(
                            "the HBM paths of the {above} engines in SLR{slr} and above take \
                             {need} super long lines across the SLR{}-SLR{slr} boundary \
                             ({} each; the HBM ports sit in SLR0); it has {}: place fewer \
                             engines above SLR{}",
                            slr - 1,
                            crossings.hbm_port_slls,
                            crossings.slls_per_boundary,
                            slr - 1
                        ),
                    ));
                }
                (need, crossings.slls_per_boundary)
            }
            _ => (0, 0),
        };
        let (bram_blocks, uram_blocks) = demand.blocks(here.iter().map(|&e| &each[e]), platform);
        let used = ResourceUse {
            dsps: here.iter().map(|&e| each[e].dsps).sum::<f64>().ceil() as u64,
            bram_blocks,
            uram_blocks,
            luts: here.iter().map(|&e| each[e].luts).sum(),
            logic_luts: here.iter().map(|&e| each[e].logic_luts).sum::<f64>().ceil() as u64,
            ffs: here.iter().map(|&e| each[e].ffs).sum::<f64>().ceil() as u64,
            memory_luts: 0,
        };
        // LUT multipliers need the SLR's LUTs known; logic is checked where they are.
        let known = |offered: u64| if offered > 0 { offered } else { u64::MAX };
        for (name, need, offered) in [
            ("DSPs", used.dsps, budget.dsp_slices),
            ("BRAM blocks", used.bram_blocks, budget.bram_blocks),
            ("URAM blocks", used.uram_blocks, budget.uram_blocks),
            ("LUTs for LUT multipliers", used.luts, budget.luts),
            (
                "LUTs (multipliers and engines' logic)",
                used.all_luts(),
                known(budget.luts),
            ),
            ("flip-flops", used.ffs, known(budget.ffs)),
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
            slls_below,
            slls_available,
            engines: here
                .iter()
                .map(|&e| {
                    let (bram_blocks, uram_blocks) = each[e].blocks(demand.buffers, platform);
                    EngineUse {
                        engine: e,
                        dsps: each[e].dsps,
                        buffer_bytes: each[e].tile_bytes + each[e].line_bytes,
                        luts: each[e].luts,
                        bram_blocks,
                        uram_blocks,
                        port_blocks: each[e].tile_port_blocks + each[e].line_port_blocks,
                    }
                })
                .collect(),
        });
    }
    Ok((total, slrs))
}
