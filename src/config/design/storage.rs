//! How an on-chip link's storage is built, and what it takes: a `stream` link's FIFO in shift
//! registers, LUT RAM or block RAM by its size, a `buffer` link in the design's buffer
//! memory. Sources in `docs/src/reference/u280-resources-power.md` §4.
//!
//! - A FIFO of at most 1,024 bits (depth × width) is built from SRLs: Vitis HLS binds
//!   streams with `-impl auto` to shift registers up to `auto_srl_max_bits` = 1,024 (P)
//!   UG1399 `config_storage` (its `auto_srl_max_depth` of 2 is not what HLS netlists show:
//!   `fifo_w8_d64_S` and `fifo_w32_d16_S` are SRLs (S), so roofsim goes by bits alone). One
//!   SRLC32E LUT holds one bit 32 deep (P) UG974: `width × ⌈depth / 32⌉` LUTs.
//! - A larger but shallow FIFO goes to LUT RAM: one LUT is a 64 × 1 RAM (S) UG574,
//!   `width × ⌈depth / 64⌉` LUTs. "Shallow" is at most 64 words deep: an assumption (D),
//!   Vivado picks distributed or block RAM by its own cost function, whose boundary lies
//!   between 32 and 128 words for these widths.
//! - Deeper FIFOs, and every `buffer` link, take block RAM (a FIFO: RAMB36; a buffer: the
//!   design's `buffers.memory`), enough blocks for their capacity **and** for their width
//!   (72-bit ports), as the engines' tile buffers do.

use super::SramKind;
use crate::config::platform::Sram;

/// Largest FIFO (depth × width bits) built from shift registers (P) UG1399.
pub const SRL_MAX_BITS: u64 = 1024;
/// Bits deep one LUT holds as a shift register (SRLC32E (P) UG974).
pub const SRL_DEPTH_PER_LUT: u64 = 32;
/// Deepest FIFO built from LUT RAM, in words: an assumption (D), range 32-128.
pub const LUTRAM_MAX_DEPTH: u64 = 64;
/// Bits deep one LUT holds as distributed RAM (64 × 1 (S) UG574).
pub const LUTRAM_DEPTH_PER_LUT: u64 = 64;

/// What a link's storage is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    /// Shift registers in LUTs (shallow FIFOs).
    Srl,
    /// Distributed RAM in LUTs.
    Lutram,
    /// Block RAM.
    Bram,
    /// UltraRAM.
    Uram,
}

impl StorageKind {
    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            StorageKind::Srl => "srl",
            StorageKind::Lutram => "lutram",
            StorageKind::Bram => "bram",
            StorageKind::Uram => "uram",
        }
    }
}

/// One link storage's cost: LUTs (SRL or LUT RAM) or whole blocks, and how many of the
/// blocks its width alone needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Storage {
    /// What it is built from.
    pub kind: StorageKind,
    /// LUTs (SRL or LUT RAM).
    pub luts: u64,
    /// Block RAMs.
    pub bram_blocks: u64,
    /// UltraRAMs.
    pub uram_blocks: u64,
    /// Blocks its width alone needs.
    pub port_blocks: u64,
}

/// Blocks for `bytes` that must deliver `width_bits` per cycle: the larger of capacity and
/// ports, and the ports' share.
fn blocks(bytes: u64, width_bits: u64, block_bytes: u64, port_bits: u64) -> (u64, u64) {
    let ports = width_bits.div_ceil(port_bits);
    (bytes.div_ceil(block_bytes).max(ports), ports)
}

/// A FIFO of `depth_words` words of `width_bits` (the consumer's read per cycle).
pub fn fifo(width_bits: u64, depth_words: u64, sram: &Sram) -> Storage {
    let bits = width_bits * depth_words;
    let luts = |kind, depth_per_lut: u64| Storage {
        kind,
        luts: width_bits * depth_words.div_ceil(depth_per_lut),
        bram_blocks: 0,
        uram_blocks: 0,
        port_blocks: 0,
    };
    if bits <= SRL_MAX_BITS {
        luts(StorageKind::Srl, SRL_DEPTH_PER_LUT)
    } else if depth_words <= LUTRAM_MAX_DEPTH {
        luts(StorageKind::Lutram, LUTRAM_DEPTH_PER_LUT)
    } else {
        buffer(bits.div_ceil(8), width_bits, SramKind::Bram, sram)
    }
}

/// A buffer of `bytes` read `width_bits` per cycle, in `memory`.
pub fn buffer(bytes: u64, width_bits: u64, memory: SramKind, sram: &Sram) -> Storage {
    match memory {
        SramKind::Bram => {
            let (bram_blocks, port_blocks) = blocks(
                bytes,
                width_bits,
                sram.bram_block_bytes,
                sram.bram_port_bits,
            );
            Storage {
                kind: StorageKind::Bram,
                luts: 0,
                bram_blocks,
                uram_blocks: 0,
                port_blocks,
            }
        }
        SramKind::Uram => {
            let (uram_blocks, port_blocks) = blocks(
                bytes,
                width_bits,
                sram.uram_block_bytes,
                sram.uram_port_bits,
            );
            Storage {
                kind: StorageKind::Uram,
                luts: 0,
                bram_blocks: 0,
                uram_blocks,
                port_blocks,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::platform::default_platform;

    /// Catches a FIFO model that ignores size (everything in BRAM, as roofsim charged
    /// streams before) or gets a boundary wrong: HLS's own netlist names pin the SRL side.
    #[test]
    fn fifos_take_srls_lutram_or_bram_by_size() {
        let sram = default_platform().sram;
        // fifo_w32_d16_S (512 bits) and fifo_w8_d64_S: SRLs, one LUT per bit per 32 deep.
        assert_eq!(fifo(32, 16, &sram).kind, StorageKind::Srl);
        assert_eq!(fifo(32, 16, &sram).luts, 32);
        assert_eq!(fifo(8, 64, &sram).luts, 16);
        // 1,024 bits is the last SRL; 1,056 goes to LUT RAM, one LUT per bit per 64 deep.
        assert_eq!(fifo(32, 32, &sram).kind, StorageKind::Srl);
        let lutram = fifo(32, 33, &sram);
        assert_eq!((lutram.kind, lutram.luts), (StorageKind::Lutram, 32));
        // fifo_w32_d1024_A: 4 KB in one RAMB36.
        let deep = fifo(32, 1024, &sram);
        assert_eq!(
            (deep.kind, deep.bram_blocks, deep.luts),
            (StorageKind::Bram, 1, 0)
        );
        // A 512-bit tile stream 65 words deep: 8 blocks side by side for its width, though
        // its 4,160 bytes fit in one (4,608 bytes).
        let wide = fifo(512, 65, &sram);
        assert_eq!((wide.bram_blocks, wide.port_blocks), (8, 8));
    }

    /// Catches a buffer charged for capacity alone, or to the wrong memory.
    #[test]
    fn buffers_take_blocks_for_capacity_and_width() {
        let sram = default_platform().sram;
        // 1 MiB in URAMs of 36 KB (4K × 72 bits): 29, more than its 512-bit width's 8.
        let uram = buffer(1 << 20, 512, SramKind::Uram, &sram);
        assert_eq!(
            (
                uram.kind,
                uram.uram_blocks,
                uram.bram_blocks,
                uram.port_blocks
            ),
            (StorageKind::Uram, 29, 0, 8)
        );
        let narrow_but_wide = buffer(1024, 2048, SramKind::Bram, &sram);
        assert_eq!(narrow_but_wide.bram_blocks, 29);
    }
}
