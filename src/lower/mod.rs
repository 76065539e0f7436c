//! Lowering: a kernel on a design becomes a petgraph dataflow of tile operations.
//!
//! Nodes are HBM reads of operand tiles, GEMM tiles on an array, vector passes and HBM writes.
//! Edges carry data dependencies and buffer-slot reuse (a load into a slot waits for the
//! compute that last used it). Every graph is checked acyclic before it is simulated.

mod address;
mod attention;
mod dot;
mod gemm;
mod size;
mod vector;

use attention::lower_fused_attention;
use gemm::lower_gemm;
use vector::lower_vector;

use crate::config::design::Design;
use crate::workload::{Direction, Kernel, Op, Operand};
use address::{ChannelRequests, TensorLayout};
use petgraph::graph::{DiGraph, NodeIndex};

pub use address::ChannelRequest;
pub use dot::to_dot;
pub use size::{GraphSize, MAX_GRAPH_NODES, MAX_ROW_SEGMENTS, checked_graph_size, graph_size};

/// What one node of the dataflow does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// Read a tile from HBM: per-channel requests.
    Load(Vec<ChannelRequest>),
    /// Write a tile to HBM.
    Store(Vec<ChannelRequest>),
    /// A GEMM tile, `m × k` times `k × n`, on one array; the array's model decides its
    /// cycles ([`crate::sim::array`]).
    Gemm { array: u64, m: u64, n: u64, k: u64 },
    /// A vector pass over `elements` elements on one vector unit ([`crate::sim::vector`]).
    Vector { unit: u64, elements: u64 },
}

/// A node of the tile dataflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    /// Short readable name, e.g. `load A m1 k0`.
    pub label: String,
    pub bytes: u64,
    /// The array or vector unit the node runs on, or whose buffer a transfer fills or drains
    /// (which decides the AXI port its requests enter the HBM switch at).
    pub unit: u64,
}

impl Node {
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
}

/// A lowered kernel.
#[derive(Debug, Clone)]
pub struct KernelGraph {
    pub graph: DiGraph<Node, EdgeKind>,
}

/// What a lowered kernel amounts to before it is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GraphTotals {
    /// Bytes the tiling really moves (operands re-read across tiles included).
    pub bytes_tiled: u64,
    pub macs: u64,
}

impl GraphTotals {
    /// Counts one node: the bytes of a transfer, the MACs of a GEMM tile.
    pub fn count(&mut self, node: &Node) {
        match node.kind {
            NodeKind::Load(_) | NodeKind::Store(_) => self.bytes_tiled += node.bytes,
            NodeKind::Gemm { m, n, k, .. } => self.macs += m * n * k,
            NodeKind::Vector { .. } => {}
        }
    }
}

impl KernelGraph {
    pub fn totals(&self) -> GraphTotals {
        let mut totals = GraphTotals::default();
        for node in self.graph.node_weights() {
            totals.count(node);
        }
        totals
    }
}

/// A kernel that cannot be lowered onto a design.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum LowerError {
    /// The graph has a cycle through the named node (a lowering bug, never the user's).
    #[error("kernel {kernel}: dependency cycle through node `{node}`")]
    Cycle { kernel: String, node: String },
    /// The kernel would lower to a graph beyond [`MAX_GRAPH_NODES`] or [`MAX_ROW_SEGMENTS`]
    /// (the user's: a design or workload too fine-grained to simulate within bounds).
    #[error(
        "kernel {kernel}: lowering would build {nodes} nodes and {row_segments} row segments \
         (limits {MAX_GRAPH_NODES} and {MAX_ROW_SEGMENTS}); use larger tiles (tiling.tm, tn, \
         tk), longer vector chunks (vector.chunk_bytes) or a smaller --batch"
    )]
    TooLarge {
        kernel: String,
        nodes: u64,
        row_segments: u64,
    },
}

impl LowerError {
    /// Whether the input was at fault: a graph beyond the limits is; a cycle is a bug.
    pub fn is_user_error(&self) -> bool {
        matches!(self, LowerError::TooLarge { .. })
    }
}

/// Builds a kernel's graph.
struct Lowering<'a> {
    design: &'a Design,
    graph: DiGraph<Node, EdgeKind>,
    requests: ChannelRequests,
}

impl Lowering<'_> {
    /// A GEMM tile or vector pass.
    fn compute(&mut self, kind: NodeKind, label: String) -> NodeIndex {
        let unit = match kind {
            NodeKind::Gemm { array, .. } => array,
            NodeKind::Vector { unit, .. } => unit,
            NodeKind::Load(_) | NodeKind::Store(_) => unreachable!("transfers go through transfer"),
        };
        self.graph.add_node(Node {
            kind,
            label,
            bytes: 0,
            unit,
        })
    }

    /// A load or store (`kind` is `NodeKind::Load` or `NodeKind::Store`) for `unit`'s buffer,
    /// moving rows `rows`, columns `cols` of a tensor; bytes and channels come from the layout.
    fn transfer(
        &mut self,
        kind: fn(Vec<ChannelRequest>) -> NodeKind,
        unit: u64,
        layout: &TensorLayout,
        (rows, cols): ((u64, u64), (u64, u64)),
        label: String,
    ) -> NodeIndex {
        let requests = self.requests.tile(self.design, layout, rows, cols);
        let bytes = requests.iter().map(|r| r.bytes).sum();
        self.graph.add_node(Node {
            kind: kind(requests),
            label,
            bytes,
            unit,
        })
    }

    fn edge(&mut self, from: Option<NodeIndex>, to: NodeIndex, kind: EdgeKind) {
        if let Some(from) = from {
            self.graph.add_edge(from, to, kind);
        }
    }
}

/// The slots of one buffer, each remembering the last node that used the tile it holds.
struct Slots {
    last_users: Vec<Option<NodeIndex>>,
    next: usize,
}

impl Slots {
    fn new(slots: u64) -> Self {
        Slots {
            last_users: vec![None; slots as usize],
            next: 0,
        }
    }

    /// One buffer of the design's slots for each of `units` arrays or vector units.
    fn per_unit(units: u64, design: &Design) -> Vec<Slots> {
        (0..units)
            .map(|_| Slots::new(design.buffer_slots()))
            .collect()
    }

    /// Puts the tile `load` brings into the next slot, after that slot's last user; returns
    /// the slot.
    fn fill(&mut self, lowering: &mut Lowering, load: NodeIndex) -> usize {
        let (slot, previous) = self.take();
        lowering.edge(previous, load, EdgeKind::BufferSlot);
        slot
    }

    /// Takes the next slot in turn: its index, and the node the new tile must wait for.
    fn take(&mut self) -> (usize, Option<NodeIndex>) {
        let slot = self.next;
        self.next = (self.next + 1) % self.last_users.len();
        (slot, self.last_users[slot].take())
    }

    /// Records that `user` read (or drained) the tile in `slot`.
    fn used_by(&mut self, slot: usize, user: NodeIndex) {
        self.last_users[slot] = Some(user);
    }
}

fn operand(kernel: &Kernel, direction: Direction, index: usize) -> Option<&Operand> {
    kernel
        .operands
        .iter()
        .filter(|o| o.direction == direction && !o.is_parameter)
        .nth(index)
}

/// Lowers one kernel onto the design; refuses kernels beyond the size limits before
/// building anything ([`checked_graph_size`]).
pub fn lower(kernel: &Kernel, design: &Design) -> Result<KernelGraph, LowerError> {
    checked_graph_size(kernel, design)?;
    let mut lowering = Lowering {
        design,
        graph: DiGraph::new(),
        requests: ChannelRequests::default(),
    };
    match kernel.op {
        Op::Gemm => lower_gemm(&mut lowering, kernel),
        Op::FusedAttention => lower_fused_attention(&mut lowering, kernel),
        _ => lower_vector(&mut lowering, kernel),
    }
    let graph = lowering.graph;
    if let Err(cycle) = petgraph::algo::toposort(&graph, None) {
        return Err(LowerError::Cycle {
            kernel: kernel.name.to_string(),
            node: graph[cycle.node_id()].label.clone(),
        });
    }
    Ok(KernelGraph { graph })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Source;
    use crate::config::design::{DEFAULT_DESIGN, Fusion, KernelClass, load_design};
    use crate::config::platform::default_platform;
    use crate::config::precision::{Precision, PrecisionPair};
    use crate::workload::single_gemm;

    fn design(text: &str) -> Design {
        load_design(&Source::built_in("d.toml", text), &default_platform()).unwrap()
    }

    /// The default design with every fusion on or off.
    fn fused_design(fused: bool) -> Design {
        design(DEFAULT_DESIGN)
            .modified(&default_platform(), "test", |raw| {
                raw.fusion = Fusion {
                    gemm_activation: fused,
                    qkv: fused,
                    attention: fused,
                }
            })
            .unwrap()
    }

    fn count(graph: &KernelGraph, kind: &str) -> usize {
        graph
            .graph
            .node_weights()
            .filter(|n| n.kind_name() == kind)
            .count()
    }

    #[test]
    fn mnk_reuses_an_activation_tile_across_output_columns() {
        let design = design(
            &DEFAULT_DESIGN
                .replace("count = 3", "count = 1")
                .replace("tm = 512", "tm = 128")
                .replace("tn = 256", "tn = 128"),
        );
        let precision = PrecisionPair::uniform(Precision::Int8);
        let kernel = single_gemm(256, 512, 768, precision).unwrap();
        let graph = lower(&kernel, &design).unwrap();
        // 2 × 4 output tiles, one reduction step each: 8 GEMM tiles and 8 stores; A loaded
        // once per row of tiles (2), B once per output tile (8).
        assert_eq!(count(&graph, "gemm"), 8);
        assert_eq!(count(&graph, "store"), 8);
        assert_eq!(count(&graph, "load"), 2 + 8);
        let expected = 256 * 768 + 2 * 768 * 512 + 256 * 512;
        assert_eq!(graph.totals().bytes_tiled, expected);
    }

    #[test]
    fn each_kernel_class_takes_its_own_tiles() {
        let text = DEFAULT_DESIGN.replace(
            "loop_order = \"mnk\"\n",
            "loop_order = \"mnk\"\n\n[tiling.attention]\ntm = 128\ntn = 128\ntk = 64\nloop_order = \"mnk\"\n",
        );
        let design = design(&text);
        assert_eq!(design.tiling_for(Some(KernelClass::Attention)).tm, 128);
        assert_eq!(design.tiling_for(Some(KernelClass::Mlp)), design.tiling());
        let mut scores = single_gemm(1024, 1024, 64, design.precision()).unwrap();
        scores.class = Some(KernelClass::Attention);
        let graph = lower(&scores, &design).unwrap();
        assert_eq!(count(&graph, "gemm"), 8 * 8);
    }

    /// No buffer holds more tiles than it has slots: apart from the first fill of each ring,
    /// every load waits for a slot to be freed. Checked on every kernel of a smolVLA layer,
    /// fused and unfused.
    #[test]
    fn loads_never_run_ahead_of_their_buffers() {
        use crate::config::model::{default_model, default_policy};
        use crate::workload::{WorkloadChoices, build_workload};
        let model = default_model();
        let policy = default_policy();
        for fused in [false, true] {
            let design = fused_design(fused);
            let choices = WorkloadChoices {
                batch: 1,
                fusion: design.fusion(),
                ..WorkloadChoices::default()
            };
            let options = choices.options(&model, Some(&policy), design.precision());
            let workload = build_workload(&model, &options).unwrap();
            for kernel in workload.kernels.iter().filter(|k| k.layer == Some(0)) {
                let graph = lower(kernel, &design).unwrap();
                let unbound_loads = graph
                    .graph
                    .node_indices()
                    .filter(|&n| graph.graph[n].kind_name() == "load")
                    .filter(|&n| {
                        !graph
                            .graph
                            .edges_directed(n, petgraph::Direction::Incoming)
                            .any(|e| *e.weight() == EdgeKind::BufferSlot)
                    })
                    .count() as u64;
                let rings = if kernel.op.uses_arrays() {
                    design.array_count() * 3
                } else {
                    design.vector_units() * 2 + 1
                };
                assert!(
                    unbound_loads <= rings * design.buffer_slots(),
                    "{}/{}: {unbound_loads} loads run ahead of their buffers",
                    kernel.encoder,
                    kernel.name
                );
            }
        }
    }

    /// A transfer enters the HBM switch at the port of the unit whose buffer it fills or
    /// drains, so it must carry the unit of the compute it feeds or follows.
    #[test]
    fn transfers_carry_the_unit_of_their_compute() {
        use crate::config::model::{default_model, default_policy};
        use crate::workload::{WorkloadChoices, build_workload};
        let model = default_model();
        let policy = default_policy();
        let design = fused_design(true);
        let choices = WorkloadChoices {
            batch: 1,
            fusion: design.fusion(),
            ..WorkloadChoices::default()
        };
        let options = choices.options(&model, Some(&policy), design.precision());
        let workload = build_workload(&model, &options).unwrap();
        let mut checked = 0;
        for kernel in workload.kernels.iter().filter(|k| k.layer == Some(0)) {
            let graph = lower(kernel, &design).unwrap().graph;
            for edge in graph
                .raw_edges()
                .iter()
                .filter(|e| e.weight == EdgeKind::Data)
            {
                let (from, to) = (&graph[edge.source()], &graph[edge.target()]);
                let pair = match (from.kind_name(), to.kind_name()) {
                    ("load", "gemm" | "vector") if from.label != "load parameters" => (from, to),
                    ("gemm" | "vector", "store") => (to, from),
                    _ => continue,
                };
                // Fused attention's softmax runs on a vector unit beside its array.
                if pair.1.kind_name() == "gemm" || kernel.op != Op::FusedAttention {
                    assert_eq!(
                        pair.0.unit, pair.1.unit,
                        "{}: {}",
                        kernel.name, pair.0.label
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 1000);
    }

    /// The size bound holds for every kernel of the model, fused or not, and is exact for
    /// vector kernels: a bound below the truth would let unbounded graphs through.
    #[test]
    fn graph_size_bounds_every_lowered_graph() {
        use crate::config::model::{default_model, default_policy};
        use crate::workload::{WorkloadChoices, build_workload};
        for fused in [false, true] {
            let design = fused_design(fused);
            for batch in [1, 3] {
                let choices = WorkloadChoices {
                    batch,
                    fusion: design.fusion(),
                    ..WorkloadChoices::default()
                };
                let options = choices.options(
                    &default_model(),
                    Some(&default_policy()),
                    design.precision(),
                );
                let workload = build_workload(&default_model(), &options).unwrap();
                for kernel in workload.kernels.iter().filter(|k| k.layer != Some(1)) {
                    let size = graph_size(kernel, &design);
                    let nodes = lower(kernel, &design).unwrap().graph.node_count() as u64;
                    assert!(
                        size.nodes >= nodes,
                        "{}: {} < {nodes}",
                        kernel.name,
                        size.nodes
                    );
                    if !kernel.op.uses_arrays() {
                        assert_eq!(size.nodes, nodes, "{}", kernel.name);
                    }
                }
            }
        }
    }

    #[test]
    fn dot_marks_slot_edges() {
        let design = design(DEFAULT_DESIGN);
        let kernel = single_gemm(1024, 1024, 2048, design.precision()).unwrap();
        let dot = to_dot(&lower(&kernel, &design).unwrap());
        assert!(dot.contains("[style=dashed, label=\"slot\"]"));
        assert!(dot.ends_with("}\n"));
    }
}
