//! How far a producer must have got before its consumer can start, for the pipeline model:
//! the lowering's own rule (a read waits for the producer tiles it overlaps, through the
//! operands' access maps) applied to the consumer's first output tile and the producer's
//! tiles in the order it makes them.

use super::gemm::tile_order;
use super::operand;
use super::vector::chunk_rows;
use crate::config::design::Design;
use crate::workload::access::Block;
use crate::workload::{Direction, Kernel, Op, Operand};

/// The tensor blocks of `kernel`'s output tiles, in the order the lowering makes them
/// (instances outermost, then the tiling's loop order; a vector kernel's row chunks).
fn output_blocks(kernel: &Kernel, design: &Design) -> Vec<Block> {
    let Some(output) = operand(kernel, Direction::Write, 0) else {
        return Vec::new();
    };
    let tiling = design.tiling_of(kernel.label_parts(), kernel.class);
    let (m, n) = (kernel.m, kernel.n);
    let (m_tiles, n_tiles) = match kernel.op {
        Op::Gemm => (m.div_ceil(tiling.tm), n.div_ceil(tiling.tn)),
        Op::FusedAttention => (m.div_ceil(tiling.tm), 1),
        _ => {
            return chunk_rows(kernel, design)
                .into_iter()
                .map(|r| output.access.tensor_block(0, 0, (r, (0, n))))
                .collect();
        }
    };
    let width = if kernel.op == Op::Gemm { n } else { kernel.k };
    tile_order(kernel.batch, (m_tiles, n_tiles), tiling.loop_order)
        .into_iter()
        .map(|(batch, mi, ni)| {
            let rows = (mi * tiling.tm, ((mi + 1) * tiling.tm).min(m));
            let cols = if kernel.op == Op::Gemm {
                (ni * tiling.tn, ((ni + 1) * tiling.tn).min(n))
            } else {
                (0, width)
            };
            output.access.tensor_block(batch, m, (rows, cols))
        })
        .collect()
}

/// The operands `kernel`'s first output tile reads for its first reduction step (a GEMM's
/// first `tk` columns of A and rows of B: each later step waits for its own inputs, so an
/// `o_proj` reducing head by head starts after the first head), and the blocks of them.
fn first_tile_reads<'k>(kernel: &'k Kernel, design: &Design) -> Vec<(&'k Operand, Block)> {
    let activations = kernel
        .operands
        .iter()
        .filter(|o| o.direction == Direction::Read && !o.is_parameter);
    let tiling = design.tiling_of(kernel.label_parts(), kernel.class);
    let (m, n, k) = (kernel.m, kernel.n, kernel.k);
    match kernel.op {
        Op::Gemm => {
            let (rows, cols) = ((0, tiling.tm.min(m)), (0, tiling.tn.min(n)));
            let depth = (0, tiling.tk.min(k));
            kernel
                .operands
                .iter()
                .filter(|o| o.direction == Direction::Read)
                .enumerate()
                .filter(|(_, o)| !o.is_parameter)
                .map(|(position, o)| {
                    let (block, rows_per_batch) = match position {
                        0 => ((rows, depth), m),
                        1 if kernel.b_transposed => ((cols, depth), n),
                        1 => ((depth, cols), k),
                        _ => ((rows, cols), m),
                    };
                    (o, o.access.tensor_block(0, rows_per_batch, block))
                })
                .collect()
        }
        Op::FusedAttention => activations
            .enumerate()
            .map(|(index, o)| {
                let rows = if index == 0 {
                    (0, tiling.tm.min(m))
                } else {
                    (0, n)
                };
                (o, o.access.tensor_block(0, rows.1, (rows, (0, k))))
            })
            .collect(),
        _ => {
            let first = chunk_rows(kernel, design)
                .first()
                .copied()
                .unwrap_or((0, 0));
            activations
                .map(|o| (o, o.access.tensor_block(0, 0, (first, (0, n)))))
                .collect()
        }
    }
}

/// For each earlier kernel of `unit` (consecutive kernels, in order) that `unit[index]`
/// reads: its position and the share of its output tiles, in the order it makes them, made
/// before the reader's first output tile has all its first reduction step reads (`(tiles
/// needed, tiles)`).
/// `(t, t)` is a sync point: the reader starts only after its producer has finished.
pub fn first_tile_needs(
    unit: &[Kernel],
    index: usize,
    design: &Design,
) -> Vec<(usize, (u64, u64))> {
    let mut needs: Vec<(usize, (u64, u64))> = Vec::new();
    let mut made: Vec<(usize, Vec<Block>)> = Vec::new();
    for (operand, block) in first_tile_reads(&unit[index], design) {
        operand
            .access
            .producer_blocks(block, |piece, (rows, cols)| {
                let Some(producer) = index.checked_sub(piece.back as usize) else {
                    return;
                };
                let at = match made.iter().position(|(p, _)| *p == producer) {
                    Some(at) => at,
                    None => {
                        made.push((producer, output_blocks(&unit[producer], design)));
                        made.len() - 1
                    }
                };
                let tiles = &made[at].1;
                let latest = tiles.iter().rposition(|&(tile_rows, tile_cols)| {
                    rows.0 < tile_rows.1
                        && tile_rows.0 < rows.1
                        && cols.0 < tile_cols.1
                        && tile_cols.0 < cols.1
                });
                let Some(latest) = latest else { return };
                let needed = (latest as u64 + 1, tiles.len() as u64);
                match needs.iter_mut().find(|(p, _)| *p == producer) {
                    Some((_, share)) => share.0 = share.0.max(needed.0),
                    None => needs.push((producer, needed)),
                }
            });
    }
    needs
}
