//! The lowered dataflow: its nodes (HBM transfers, GEMM tiles, vector passes), the edges
//! they wait on, and what a lowered kernel amounts to before it is run.

use super::{ChannelRequest, Label};
use petgraph::graph::DiGraph;
use std::sync::Arc;

/// A transfer's requests, one per channel it reaches. Tiles of one shape and alignment
/// split alike, so on the models that ignore addresses the transfers of a graph share one
/// list per shape and alignment (a graph of 10,000–70,000 transfers has a few hundred).
pub type Requests = Arc<[ChannelRequest]>;

/// What one node of the dataflow does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// Read a tile from HBM: per-channel requests.
    Load(Requests),
    /// Write a tile to HBM.
    Store(Requests),
    /// A GEMM tile, `m × k` times `k × n`, on a systolic or dot engine (an index into
    /// [`Design::engines`](crate::config::design::Design::engines)); the engine's model
    /// decides its cycles. 32-bit sides (tile sides and model dimensions are at most 2^20)
    /// keep a node at 88 bytes; a graph holds hundreds of thousands.
    Gemm {
        /// The engine it runs on.
        engine: u32,
        /// Output rows.
        m: u32,
        /// Output columns.
        n: u32,
        /// Reduction depth.
        k: u32,
    },
    /// A vector pass over `elements` elements on a vector engine.
    Vector {
        /// The engine it runs on.
        engine: u32,
        /// Elements it processes.
        elements: u64,
    },
}

impl NodeKind {
    /// A GEMM tile `m × k` by `k × n` on `engine`; its sides are tile sides or model
    /// dimensions, which validation holds to 2^20.
    pub fn gemm(engine: usize, m: u64, n: u64, k: u64) -> NodeKind {
        let side = |side: u64| {
            u32::try_from(side).expect("tile sides and model dimensions are at most 2^20")
        };
        NodeKind::Gemm {
            engine: u32::try_from(engine).expect("engine indices fit 32 bits"),
            m: side(m),
            n: side(n),
            k: side(k),
        }
    }
}

/// A node of the tile dataflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// What it does.
    pub kind: NodeKind,
    /// Short readable name, e.g. `load A b0 m1 k0`.
    pub label: Label,
    /// Bytes it moves (transfers; 0 for compute).
    pub bytes: u64,
    /// The engine the node runs on, or whose buffer a transfer fills or drains (which
    /// decides the AXI port its requests enter the HBM switch at).
    pub engine: u32,
    /// Which kernel of the graph the node belongs to (0 for a graph of one kernel).
    pub kernel: u32,
}

impl Node {
    /// `load`, `store`, `gemm` or `vector`.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Load(_) => "load",
            NodeKind::Store(_) => "store",
            NodeKind::Gemm { .. } => "gemm",
            NodeKind::Vector { .. } => "vector",
        }
    }
}

/// Why one node waits for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// The successor consumes the predecessor's data.
    Data,
    /// The successor reuses the buffer slot the predecessor frees.
    BufferSlot,
    /// The successor reads a tile of the predecessor's kernel's output (another kernel).
    Link,
    /// The successor reads a tile of another kernel's output as one of several it gathers
    /// (e.g. a softmax row over every key tile of its head).
    Sync,
    /// The successor pushes into a stream FIFO the predecessor frees a place in.
    Fifo,
}

/// A lowered kernel.
#[derive(Debug, Clone)]
pub struct KernelGraph {
    /// The nodes and the edges they wait on.
    pub graph: DiGraph<Node, EdgeKind>,
}

/// What a lowered kernel amounts to before it is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GraphTotals {
    /// Bytes the tiling really moves (operands re-read across tiles included).
    pub bytes_tiled: u64,
    /// MACs of its GEMM tiles.
    pub macs: u64,
}

impl GraphTotals {
    /// Counts one node: the bytes of a transfer, the MACs of a GEMM tile.
    pub fn count(&mut self, node: &Node) {
        match node.kind {
            NodeKind::Load(_) | NodeKind::Store(_) => self.bytes_tiled += node.bytes,
            NodeKind::Gemm { m, n, k, .. } => {
                self.macs += u64::from(m) * u64::from(n) * u64::from(k)
            }
            NodeKind::Vector { .. } => {}
        }
    }
}

impl KernelGraph {
    /// Its nodes, MACs and bytes moved.
    pub fn totals(&self) -> GraphTotals {
        let mut totals = GraphTotals::default();
        for node in self.graph.node_weights() {
            totals.count(node);
        }
        totals
    }
}
