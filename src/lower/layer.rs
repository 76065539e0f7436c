//! A layer as one graph: each kernel's tile reads wait for exactly the producer tiles they
//! read, so kernels overlap where data, engines and buffers allow. A kernel's output reaches
//! the next kernel of the layer through HBM (store, then load: the default), an on-chip
//! buffer, or a stream FIFO of `depth_tiles` tiles, as the design's `[[links]]` say.
//!
//! How a read finds its producer tiles: when the consumer reads a tensor of the producer's
//! rows (batch-stacked) and columns, a read of a block waits for the producer tiles that
//! overlap it (an FC2 reduction step waits for the FC1 tiles of its rows and columns); with
//! the same rows but other columns (a norm over a row), for every producer tile of its rows;
//! otherwise (attention's heads, which need every key block) for the whole output: a sync.

use super::{EdgeKind, LowerError, Lowering, Node, NodeKind};
use crate::config::design::{Link, Via};
use crate::workload::{Kernel, Op};
use petgraph::graph::NodeIndex;

/// A block of a kernel's output, in batch-stacked rows and columns, and the node that makes
/// it available (a store to HBM, or its push on chip).
#[derive(Debug, Clone, Copy)]
pub(super) struct OutputTile {
    pub rows: (u64, u64),
    pub cols: (u64, u64),
    pub node: NodeIndex,
}

/// What a read of an activation is to the kernel's producer: its first input (the
/// producer's output, on chip over a buffer or stream), an input laid out on the output's
/// rows (a bias or gate of a GEMM epilogue, a vector kernel's other input: it waits for the
/// producer's tiles of its rows, which may hold it), or another (a GEMM's second operand:
/// only a sync holds it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Read {
    Primary,
    RowAligned,
    Other,
}

/// How a consumer's reads depend on its producer's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Coupling {
    /// Same rows and columns: a read waits for the tiles overlapping its block.
    Blocks,
    /// Same rows: a read waits for every tile of its rows.
    Rows,
    /// Anything else: every read waits for the whole output.
    Whole,
}

/// The (rows, columns) of the tensor a kernel writes.
fn output_shape(kernel: &Kernel) -> (u64, u64) {
    match kernel.op {
        Op::FusedAttention => (kernel.batch * kernel.m, kernel.k),
        _ => (kernel.batch * kernel.m, kernel.n),
    }
}

/// The (rows, columns) of the first activation a kernel reads.
fn input_shape(kernel: &Kernel) -> (u64, u64) {
    match kernel.op {
        Op::Gemm | Op::FusedAttention => (kernel.batch * kernel.m, kernel.k),
        _ => (kernel.batch * kernel.m, kernel.n),
    }
}

/// How `consumer` depends on `producer`, the kernel before it.
pub(super) fn coupling(producer: &Kernel, consumer: &Kernel) -> Coupling {
    let (produced, read) = (output_shape(producer), input_shape(consumer));
    if produced == read {
        Coupling::Blocks
    } else if produced.0 == read.0 {
        Coupling::Rows
    } else {
        Coupling::Whole
    }
}

/// The output of the kernel before the one being lowered, and how it arrives.
pub(super) struct Upstream {
    pub tiles: Vec<OutputTile>,
    /// Tile indices by their first row, and the tallest tile: a read of rows `[a, b)` can
    /// only overlap tiles starting in `(a - tallest, b)`.
    by_row: Vec<usize>,
    tallest: u64,
    pub coupling: Coupling,
    /// HBM when no link is given.
    pub via: Via,
    pub depth_tiles: u64,
    /// `from -> to`, for messages.
    pub name: String,
    /// The node every read waits for under [`Coupling::Whole`].
    join: Option<NodeIndex>,
    /// Per tile, the last read that needs it: what frees its place in a stream's FIFO.
    pub last_reader: Vec<Option<NodeIndex>>,
}

impl Upstream {
    pub fn new(
        lowering: &mut Lowering,
        tiles: Vec<OutputTile>,
        coupling: Coupling,
        link: Option<&Link>,
        name: String,
    ) -> Upstream {
        let mut by_row: Vec<usize> = (0..tiles.len()).collect();
        by_row.sort_by_key(|&t| tiles[t].rows.0);
        let tallest = tiles.iter().map(|t| t.rows.1 - t.rows.0).max().unwrap_or(0);
        let join = (coupling == Coupling::Whole).then(|| {
            let join = lowering.graph.add_node(Node {
                kind: NodeKind::Load(Vec::new()),
                label: format!("sync on {name}"),
                bytes: 0,
                engine: 0,
                kernel: lowering.kernel,
            });
            for tile in &tiles {
                lowering.graph.add_edge(tile.node, join, EdgeKind::Sync);
            }
            join
        });
        Upstream {
            last_reader: vec![None; tiles.len()],
            tiles,
            by_row,
            tallest,
            coupling,
            via: link.map_or(Via::Hbm, |l| l.via),
            depth_tiles: link.map_or(0, |l| l.depth_tiles),
            name,
            join,
        }
    }

    /// Whether a read of this kind comes on chip: a buffer or stream carries the producer's
    /// output into the first input, or into every input it synchronises.
    pub fn on_chip(&self, read: Read) -> bool {
        self.via != Via::Hbm && (read == Read::Primary || self.coupling == Coupling::Whole)
    }

    /// Tiles a read of `rows` × `cols` needs (every column of its rows when `rows_only`).
    fn needed(&self, rows: (u64, u64), cols: (u64, u64), rows_only: bool) -> Vec<usize> {
        let first = self
            .by_row
            .partition_point(|&t| self.tiles[t].rows.0 + self.tallest <= rows.0);
        self.by_row[first..]
            .iter()
            .copied()
            .take_while(|&t| self.tiles[t].rows.0 < rows.1)
            .filter(|&t| {
                let tile = &self.tiles[t];
                tile.rows.1 > rows.0
                    && (rows_only
                        || self.coupling == Coupling::Rows
                        || (tile.cols.0 < cols.1 && tile.cols.1 > cols.0))
            })
            .collect()
    }

    /// Makes `node`, a read of `rows` × `cols` (batch-stacked), wait for what it needs of
    /// the upstream output; refuses a stream read that needs more tiles at once than its
    /// FIFO holds.
    pub fn wait(
        &mut self,
        lowering: &mut Lowering,
        node: NodeIndex,
        read: Read,
        (rows, cols): ((u64, u64), (u64, u64)),
    ) -> Result<(), LowerError> {
        if let Some(join) = self.join {
            lowering.graph.add_edge(join, node, EdgeKind::Data);
            return Ok(());
        }
        match read {
            Read::Other => return Ok(()),
            Read::RowAligned => {
                for t in self.needed(rows, cols, true) {
                    lowering
                        .graph
                        .add_edge(self.tiles[t].node, node, EdgeKind::Link);
                }
                return Ok(());
            }
            Read::Primary => {}
        }
        let needed = self.needed(rows, cols, false);
        if self.via == Via::Stream && needed.len() as u64 > self.depth_tiles {
            return Err(LowerError::Link {
                file: lowering.design.source().to_string(),
                link: self.name.clone(),
                rule: format!(
                    "a read of rows {}..{} needs {} of its tiles at once but the FIFO holds \
                     depth_tiles = {}: raise depth_tiles to {} or use via = \"buffer\"",
                    rows.0,
                    rows.1,
                    needed.len(),
                    self.depth_tiles,
                    needed.len()
                ),
            });
        }
        for t in needed {
            lowering
                .graph
                .add_edge(self.tiles[t].node, node, EdgeKind::Link);
            self.last_reader[t] = Some(node);
        }
        Ok(())
    }

    /// A stream's capacity: tile `t` is pushed only once tile `t - depth` has been read.
    pub fn add_fifo_edges(&self, lowering: &mut Lowering) -> Result<(), LowerError> {
        if self.via != Via::Stream {
            return Ok(());
        }
        let depth = self.depth_tiles as usize;
        for (t, tile) in self.tiles.iter().enumerate().skip(depth) {
            let Some(reader) = self.last_reader[t - depth] else {
                return Err(LowerError::Link {
                    file: lowering.design.source().to_string(),
                    link: self.name.clone(),
                    rule: format!(
                        "tile {t} of the stream is never read, so it would fill the FIFO \
                         for good; use via = \"buffer\""
                    ),
                });
            };
            lowering.graph.add_edge(reader, tile.node, EdgeKind::Fifo);
        }
        Ok(())
    }
}

/// Whether `consumer` needs the whole output of `producer`, the kernel before it, before it
/// can start (a sync point: attention's heads need every key block).
pub fn needs_whole_input(producer: &Kernel, consumer: &Kernel) -> bool {
    coupling(producer, consumer) == Coupling::Whole
}

/// Why an on-chip link `via` cannot carry `producer`'s output to `consumer`, if it cannot:
/// a stream into a kernel that needs the whole output first, or any on-chip link into a
/// kernel whose first input is not the producer's output (its shape differs).
pub fn link_refusal(producer: &Kernel, consumer: &Kernel, via: Via) -> Option<String> {
    match (coupling(producer, consumer), via) {
        (_, Via::Hbm) | (Coupling::Blocks, _) | (Coupling::Whole, Via::Buffer) => None,
        (Coupling::Whole, Via::Stream) => Some(format!(
            "{} needs the whole output of {} before it can start (its reads are not blocks \
             of the producer's rows); use via = \"buffer\"",
            consumer.label(),
            producer.label()
        )),
        (Coupling::Rows, _) => Some(format!(
            "the first input of {} is not the output of {} (their shapes differ), so an \
             on-chip link cannot carry it; use via = \"hbm\"",
            consumer.label(),
            producer.label()
        )),
    }
}
