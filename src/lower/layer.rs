//! Kernels composed at tile grain: a read of an activation waits for exactly the producer
//! tiles whose elements it reads, whatever the two kernels' layouts, as the operands'
//! access maps ([`crate::workload::access`]) say. A `scores` tile of head h waits for Q's
//! tiles of its rows in head h's columns and K's tiles of its keys; an `o_proj` reduction
//! step over head h's columns waits for that head's context tiles of its rows; a residual
//! waits for the layer input's tiles of its rows. A gather the mathematics needs (a softmax
//! row over every key tile of its head) follows from the same rule: such a read needs every
//! tile it reads, and no other. The lowering, the stream validation and the pipeline model
//! use this one rule.
//!
//! A kernel's output reaches a consumer through HBM (store, then load: the default), an
//! on-chip buffer, or a stream FIFO of `depth_tiles` tiles, as the design's `[[links]]` say.

use super::{EdgeKind, Lowering, NodeIndex};
use crate::config::design::Via;
use crate::workload::access::{Access, Block};

/// A block of a kernel's output, in its tensor's coordinates, and the node that makes it
/// available (a store to HBM, or its push on chip).
#[derive(Debug, Clone, Copy)]
pub(super) struct OutputTile {
    pub block: Block,
    pub node: NodeIndex,
}

/// A kernel's output tiles in the order they are made, indexed by first row: a block of
/// rows `[a, b)` can only overlap tiles starting in `(a - tallest, b)`.
pub(super) struct Produced {
    pub tiles: Vec<OutputTile>,
    by_row: Vec<usize>,
    tallest: u64,
}

impl Produced {
    pub(super) fn new(tiles: Vec<OutputTile>) -> Produced {
        let mut by_row: Vec<usize> = (0..tiles.len()).collect();
        by_row.sort_by_key(|&t| tiles[t].block.0.0);
        let tallest = tiles
            .iter()
            .map(|t| t.block.0.1 - t.block.0.0)
            .max()
            .unwrap_or(0);
        Produced {
            tiles,
            by_row,
            tallest,
        }
    }

    /// The same tiles, each made by the node `moved` maps its node to.
    pub(super) fn moved(&self, moved: impl Fn(NodeIndex) -> NodeIndex) -> Produced {
        let tiles = self
            .tiles
            .iter()
            .map(|tile| OutputTile {
                block: tile.block,
                node: moved(tile.node),
            })
            .collect();
        Produced {
            tiles,
            by_row: self.by_row.clone(),
            tallest: self.tallest,
        }
    }

    /// Appends the tiles overlapping `block` to `found`; returns the elements of `block`
    /// they hold (the producer's tiles do not overlap each other).
    pub(super) fn overlapping(&self, (rows, cols): Block, found: &mut Vec<usize>) -> u64 {
        let first = self
            .by_row
            .partition_point(|&t| self.tiles[t].block.0.0 + self.tallest <= rows.0);
        let mut elements = 0;
        for &t in self.by_row[first..]
            .iter()
            .take_while(|&&t| self.tiles[t].block.0.0 < rows.1)
        {
            let (tile_rows, tile_cols) = self.tiles[t].block;
            let r = (tile_rows.0.max(rows.0), tile_rows.1.min(rows.1));
            let c = (tile_cols.0.max(cols.0), tile_cols.1.min(cols.1));
            if r.0 < r.1 && c.0 < c.1 {
                found.push(t);
                elements += (r.1 - r.0) * (c.1 - c.0);
            }
        }
        elements
    }
}

/// The producer tiles a read of tensor block `block` through `access` needs, for the
/// kernel at unit position `consumer`, as (producer position, tile) pairs; and whether the
/// unit's kernels wrote all of the block (else part of it was in memory before).
pub(super) fn needed_tiles(
    produced: &[Produced],
    consumer: usize,
    access: &Access,
    block: Block,
) -> (Vec<(usize, usize)>, bool) {
    let mut needed = Vec::new();
    let mut tiles = Vec::new();
    let mut covered = 0u64;
    access.producer_blocks(block, |piece, producer_block| {
        let Some(producer) = consumer.checked_sub(piece.back as usize) else {
            return;
        };
        let Some(output) = produced.get(producer) else {
            return;
        };
        tiles.clear();
        covered += output.overlapping(producer_block, &mut tiles);
        needed.extend(tiles.iter().map(|&t| (producer, t)));
    });
    let (rows, cols) = block;
    (needed, covered == (rows.1 - rows.0) * (cols.1 - cols.0))
}

impl Lowering<'_> {
    /// Makes `node`, a read, wait for the producer tiles it needs (`needed`, grouped by
    /// producer): a `Link` edge from each, or `Sync` when it gathers several tiles of one
    /// producer (a row over all its key tiles). Streams record the read.
    pub(super) fn wait_for(&mut self, node: NodeIndex, needed: &[(usize, usize)]) {
        for stream in &mut self.streams {
            stream.read(needed, node);
        }
        for group in needed.chunk_by(|a, b| a.0 == b.0) {
            let kind = if group.len() > 1 {
                EdgeKind::Sync
            } else {
                EdgeKind::Link
            };
            for &(producer, tile) in group {
                let from = self.produced[producer].tiles[tile].node;
                self.graph.add_edge(from, node, kind);
            }
        }
    }

    /// Whether a read needing `needed` comes on chip: the unit's kernels wrote all of it,
    /// each through a buffer or stream link to the kernel being lowered.
    pub(super) fn reads_on_chip(&self, needed: &[(usize, usize)], complete: bool) -> bool {
        complete
            && !needed.is_empty()
            && needed
                .iter()
                .all(|&(producer, _)| self.links_in[producer] != Via::Hbm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::access::{Heads, Piece, Span};
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// A producer `rows × cols` output cut into `tm × tn` tiles, made in row-major order.
    fn tiles(rows: u64, cols: u64, tm: u64, tn: u64) -> Vec<Block> {
        let mut tiles = Vec::new();
        for r in (0..rows).step_by(tm as usize) {
            for c in (0..cols).step_by(tn as usize) {
                tiles.push(((r, (r + tm).min(rows)), (c, (c + tn).min(cols))));
            }
        }
        tiles
    }

    /// The reference: every element of the read, mapped one by one (instance, head, piece)
    /// into its producer's output, and the producer tiles holding any of them.
    fn brute_force(
        access: &Access,
        (batch, rows_per_batch, read): (u64, u64, Block),
        producers: &[(u64, Vec<Block>)],
    ) -> BTreeSet<(usize, usize)> {
        let mut needed = BTreeSet::new();
        for r in read.0.0..read.0.1 {
            for c in read.1.0..read.1.1 {
                let (row, col) = match access.heads {
                    None => (batch * rows_per_batch + r, c),
                    Some(h) => (
                        batch / h.per_instance * access.tokens + r,
                        (batch % h.per_instance) / h.group * h.width + c,
                    ),
                };
                let (instance, token) = (row / access.tokens, row % access.tokens);
                for piece in &access.pieces {
                    let inside = (piece.tokens.0..piece.tokens.1).contains(&token)
                        && (piece.cols.0..piece.cols.1).contains(&col);
                    if !inside {
                        continue;
                    }
                    let producer_row = instance * piece.producer_tokens + token - piece.tokens.0;
                    let producer_col = col - piece.cols.0 + piece.producer_col;
                    let (position, tiles) = producers
                        .iter()
                        .enumerate()
                        .find(|(_, (back, _))| *back == piece.back)
                        .map(|(p, (_, t))| (p, t))
                        .unwrap();
                    for (t, tile) in tiles.iter().enumerate() {
                        if (tile.0.0..tile.0.1).contains(&producer_row)
                            && (tile.1.0..tile.1.1).contains(&producer_col)
                        {
                            needed.insert((position, t));
                        }
                    }
                }
            }
        }
        needed
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Attention's K of `heads` query heads over `kv_heads` heads of width `width`, a
        /// cache of `cached` tokens followed by `new` tokens that a QKV projection wrote
        /// (K at column `q_cols`), read per (image, head) block: the lowering's rule finds
        /// exactly the producer tiles a brute-force walk over the read's elements finds,
        /// so a read never waits for a tile it does not read, nor misses one it does.
        #[test]
        fn a_read_needs_exactly_the_producer_tiles_holding_its_elements(
            (images, kv_heads, group, width) in (1u64..3, 1u64..4, 1u64..3, 1u64..6),
            (cached, new) in (0u64..5, 1u64..7),
            (tm, tn) in (1u64..8, 1u64..9),
            (batch_pick, r0, rows, c0, cols) in (0u64..64, 0u64..12, 1u64..12, 0u64..6, 1u64..6),
            transposed_read in any::<bool>(),
        ) {
            let heads = kv_heads * group;
            let q_cols = heads * width;
            let tokens = cached + new;
            let producer_cols = q_cols + 2 * kv_heads * width;
            let producer_rows = images * new;
            let access = Access {
                heads: Some(Heads { per_instance: heads, group, width }),
                tokens,
                pieces: vec![Piece {
                    back: 1,
                    tokens: (cached, tokens),
                    producer_tokens: new,
                    cols: (0, kv_heads * width),
                    producer_col: q_cols,
                }],
                storage: None,
            };
            let batch = batch_pick % (images * heads);
            let rows = (r0 % tokens, (r0 % tokens + rows).min(tokens));
            let cols = (c0 % width, (c0 % width + cols).min(width));
            let read = if transposed_read { (rows, cols) } else { (rows, (0, width)) };
            let producer_tiles = tiles(producer_rows, producer_cols, tm, tn);
            let produced = vec![Produced::new(
                producer_tiles
                    .iter()
                    .map(|&block| OutputTile { block, node: NodeIndex::new(0) })
                    .collect(),
            )];
            let block = access.tensor_block(batch, 0, read);
            let (found, complete) = needed_tiles(&produced, 1, &access, block);
            let found: BTreeSet<(usize, usize)> = found.into_iter().collect();
            let expected = brute_force(&access, (batch, 0, read), &[(1, producer_tiles)]);
            prop_assert_eq!(&found, &expected);
            // The read is wholly the producer's exactly when none of it is cached.
            prop_assert_eq!(complete, rows.0 >= cached);
        }

        /// A plain read of stacked rows through two column pieces (Q and K of separate
        /// projections, as RoPE reads them) against tiles of each.
        #[test]
        fn a_read_of_two_pieces_needs_the_tiles_of_each(
            (rows_total, q, k) in (1u64..20, 1u64..7, 1u64..7),
            (tm, tn) in (1u64..6, 1u64..5),
            (r0, rows, c0, cols) in (0u64..20, 1u64..8, 0u64..14, 1u64..14),
        ) {
            let piece = |back, cols: Span| Piece {
                back, tokens: (0, rows_total), producer_tokens: rows_total, cols, producer_col: 0,
            };
            let access = Access {
                heads: None,
                tokens: rows_total,
                pieces: vec![piece(2, (0, q)), piece(1, (q, q + k))],
                storage: None,
            };
            let r = (r0 % rows_total, (r0 % rows_total + rows).min(rows_total));
            let c = (c0 % (q + k), (c0 % (q + k) + cols).min(q + k));
            let q_tiles = tiles(rows_total, q, tm, tn);
            let k_tiles = tiles(rows_total, k, tm, tn);
            let made = |blocks: &[Block]| Produced::new(
                blocks.iter().map(|&block| OutputTile { block, node: NodeIndex::new(0) }).collect(),
            );
            let produced = vec![made(&q_tiles), made(&k_tiles)];
            let (found, complete) = needed_tiles(&produced, 2, &access, (r, c));
            let found: BTreeSet<(usize, usize)> = found.into_iter().collect();
            let expected = brute_force(&access, (0, 0, (r, c)), &[(2, q_tiles), (1, k_tiles)]);
            prop_assert_eq!(found, expected);
            prop_assert!(complete);
        }
    }
}
