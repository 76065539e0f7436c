//! Lowering: a kernel on a design becomes a petgraph dataflow of tile operations.
//!
//! Nodes are HBM reads of operand tiles, GEMM tiles on an array, vector passes and HBM writes.
//! Edges carry data dependencies and buffer-slot reuse (a load into a slot waits for the
//! compute that last used it). A graph is checked acyclic as it is lowered, except a unit's
//! graph lowered to be simulated: a cycle there (a stream too shallow) deadlocks the
//! simulation, which then has the checked lowering name the stream and the depth that runs.

mod acyclic;
mod address;
mod attention;
mod check;
mod dot;
mod gemm;
mod graph;
mod label;
mod layer;
mod links;
mod pipeline;
mod repeat;
mod size;
mod stream;
mod vector;

use acyclic::acyclic;
use attention::lower_fused_attention;
use gemm::lower_gemm;
use vector::lower_vector;

use crate::config::design::{ActivationLayout, Design, Via};
use crate::workload::access::Block;
use crate::workload::{Direction, Kernel, Op, Operand};
use address::{ChannelRequests, TensorLayout};
use layer::{OutputTile, Produced, needed_tiles};
use petgraph::graph::{DiGraph, NodeIndex};
use repeat::{LayerRecord, Repeats, RingState, layer_at};
use std::sync::Arc;
use stream::Stream;

pub use address::ChannelRequest;
pub use check::{check_engines, check_mapping};
pub use dot::to_dot;
pub use graph::{EdgeKind, GraphTotals, KernelGraph, Node, NodeKind, Requests};
pub use label::Label;
pub use links::{Bill, LinkPart, LinkUse};
pub use pipeline::first_tile_needs;
pub use size::{
    GRAPH_BYTES_PER_NODE, GraphSize, KEPT_BYTES_PER_NODE, MAX_ROW_SEGMENTS, MEMORY_BUDGET_BYTES,
    REQUEST_BYTES, checked_graph_size, coarser, graph_size,
};

/// A kernel that cannot be lowered onto a design.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum LowerError {
    /// The graph has a cycle through the named node (a lowering bug, never the user's).
    #[error("kernel {kernel}: dependency cycle through node `{node}`")]
    Cycle {
        /// The kernel.
        kernel: String,
        /// A node on the cycle.
        node: String,
    },
    /// The kernel would lower to a graph beyond the memory budget or [`MAX_ROW_SEGMENTS`]
    /// (the user's: a design or workload too fine-grained to simulate within bounds).
    #[error(
        "kernel {kernel}: lowering would build {nodes} nodes (about {megabytes} MB) and \
         {row_segments} row segments (limits {budget_mb} MB and {MAX_ROW_SEGMENTS}); use \
         {advice} or a smaller --batch",
        budget_mb = MEMORY_BUDGET_BYTES >> 20
    )]
    TooLarge {
        /// The kernel's label.
        kernel: String,
        /// Nodes its graph would have.
        nodes: u64,
        /// Memory the graph would take, MB.
        megabytes: u64,
        /// Row segments of its transfers.
        row_segments: u64,
        /// The knob that makes the graph smaller.
        advice: &'static str,
    },
    /// Simulating the workload would take more than [`MEMORY_BUDGET_BYTES`]: the graphs of
    /// one unit (the kernels of a layer, or of an encoder whose layers overlap) beside the
    /// results the run keeps (the user's).
    #[error(
        "simulating {unit} would take about {graph_mb} MB of graph beside {kept_mb} MB of \
         results the run keeps (budget {budget_mb} MB); use {advice}, or fewer tokens, \
         layers or a smaller --batch",
        budget_mb = MEMORY_BUDGET_BYTES >> 20
    )]
    TooMuchMemory {
        /// The unit (layer, or layers).
        unit: String,
        /// Memory of its graphs, MB.
        graph_mb: u64,
        /// Memory of what the run keeps, MB.
        kept_mb: u64,
        /// The knob that makes the graphs smaller.
        advice: String,
    },
    /// What a run keeps of its units would not fit [`MEMORY_BUDGET_BYTES`] beside its
    /// largest unit's graphs, and is the larger of the two (the user's).
    #[error(
        "the run would keep {kept_mb} MB of results for its {events} events beside {graph_mb} \
         MB of graph (budget {budget_mb} MB); use fewer tokens (--decode, --language-tokens), \
         layers or a smaller --batch",
        budget_mb = MEMORY_BUDGET_BYTES >> 20
    )]
    KeepsTooMuch {
        /// Events of the run.
        events: u64,
        /// Memory of what it keeps, MB.
        kept_mb: u64,
        /// Memory of its largest unit's graphs, MB.
        graph_mb: u64,
    },
    /// A link the design gives cannot work with these kernels (the user's).
    #[error("{file}: link {link}: {rule}")]
    Link {
        /// The design file.
        file: String,
        /// The link, `from -> to`.
        link: String,
        /// Why it cannot work.
        rule: String,
    },
    /// A mapping the design gives cannot run these kernels (the user's).
    #[error("{file}: field mapping: {rule}")]
    Mapping {
        /// The design file.
        file: String,
        /// Why the mapping cannot run the kernels.
        rule: String,
    },
    /// The workload's weights, key/value cache and largest kernel's activations do not fit
    /// the platform's HBM together (the user's).
    #[error("{file}: field `hbm.capacity_bytes`: {rule}")]
    HbmCapacity {
        /// The platform file.
        file: String,
        /// What does not fit, and what to shrink.
        rule: String,
    },
}

impl LowerError {
    /// Whether the input was at fault: a graph beyond the limits or a link or mapping that
    /// cannot work is; a cycle is a bug.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, LowerError::Cycle { .. })
    }
}

/// How a kernel's operand block maps to its tensor: instance `batch` of the kernel, an
/// instance holding `rows_per_batch` rows and the block `columns` wide where the operand
/// has no heads (its tensor's width when it is a tensor of its own).
#[derive(Clone, Copy)]
struct View {
    batch: u64,
    rows_per_batch: u64,
    columns: u64,
}

/// The operand buffers of an engine, each a ring of the design's slots: A, B and the output
/// C of a GEMM engine (Q, K, V of fused attention), or the line buffers of a vector engine (A).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ring {
    A,
    B,
    C,
}

/// Builds a kernel's graph, or a layer's: the engines' buffer rings live as long as the
/// lowering, so the kernels of one graph share them.
struct Lowering<'a> {
    design: &'a Design,
    graph: DiGraph<Node, EdgeKind>,
    requests: ChannelRequests<'a>,
    /// The requests of every transfer that stays on chip: none, one list for all of them.
    no_requests: Requests,
    /// Per engine and [`Ring`], the slots, each remembering the last node that used the tile
    /// it holds, and the slot to fill next.
    rings: Vec<RingState>,
    /// Per ring, whether it was taken or used since the layer being lowered began (what
    /// that layer's graph depends on, see [`repeat`]).
    touched: Vec<bool>,
    /// The kernel the nodes being added belong to: its position in the unit.
    kernel: u32,
    /// Per earlier kernel of the unit, its output tiles (what later reads wait for).
    produced: Vec<Produced>,
    /// Per earlier kernel of the unit, the link its output reaches the kernel being
    /// lowered by (HBM without one).
    links_in: Vec<Via>,
    /// The stream links into the kernel being lowered.
    streams: Vec<Stream>,
    /// How the kernel being lowered hands its output on.
    output_via: Via,
    /// The output tiles of the kernel being lowered, in the order they are made.
    outputs: Vec<OutputTile>,
}

/// Edges a lowered graph has per node of its size bound, room made for in advance: the
/// graphs measured have 1.0 (a softmax's chunks) to 2.3 (the spatial design's vision
/// encoder) edges per node built, and the bound counts up to twice the nodes built
/// (smolVLA's text scores at 11,744 tokens on the default design: 101,520 bounded, 51,840
/// built, 85,662 edges). Room not used is never touched: it costs address space, not memory.
const EDGES_PER_NODE: usize = 2;

impl<'a> Lowering<'a> {
    /// A lowering onto `design` of kernels of at most `nodes` nodes together (their
    /// [`graph_size`] bounds): the graph's nodes are allocated once, not grown by doubling
    /// (each doubling copied every node and faulted in fresh pages), and room for
    /// [`EDGES_PER_NODE`] edges each.
    fn new(design: &'a Design, nodes: u64) -> Self {
        let ring = (vec![None; design.buffer_slots() as usize], 0);
        Lowering {
            design,
            graph: DiGraph::with_capacity(nodes as usize, EDGES_PER_NODE * nodes as usize),
            requests: ChannelRequests::default(),
            no_requests: Arc::new([]),
            rings: vec![ring; design.engines().len() * 3],
            touched: vec![false; design.engines().len() * 3],
            kernel: 0,
            produced: Vec::new(),
            links_in: Vec::new(),
            streams: Vec::new(),
            output_via: Via::Hbm,
            outputs: Vec::new(),
        }
    }

    /// A load of `operand`'s block `tile` (see [`View`]) into `engine`'s buffer from where
    /// the tensor lies, waiting for the tiles of earlier kernels it reads; on chip when
    /// links bring all of it there.
    fn input(
        &mut self,
        engine: usize,
        operand: &Operand,
        view: View,
        tile: Block,
        label: Label,
    ) -> NodeIndex {
        let block = operand
            .access
            .tensor_block(view.batch, view.rows_per_batch, tile);
        let (needed, complete) =
            needed_tiles(&self.produced, self.kernel as usize, &operand.access, block);
        let node = if self.reads_on_chip(&needed, complete) {
            self.on_chip(NodeKind::Load, engine, label.on_chip())
        } else {
            let (layout, stored) = self.stored(operand, view.columns, block);
            self.transfer(NodeKind::Load, engine, &layout, stored, label)
        };
        self.wait_for(node, &needed);
        node
    }

    /// The store of `operand`'s block `tile` (see [`View`]) where its tensor lies (or its
    /// push on chip, when a link carries the output on), recorded for later kernels' reads.
    fn output(
        &mut self,
        engine: usize,
        operand: &Operand,
        view: View,
        tile: Block,
        label: Label,
    ) -> NodeIndex {
        let block = operand
            .access
            .tensor_block(view.batch, view.rows_per_batch, tile);
        let node = if self.output_via == Via::Hbm {
            let (layout, stored) = self.stored(operand, view.columns, block);
            self.transfer(NodeKind::Store, engine, &layout, stored, label)
        } else {
            self.on_chip(NodeKind::Store, engine, label.to(self.output_via))
        };
        self.outputs.push(OutputTile { block, node });
        node
    }

    /// The layout of the tensor holding an activation `operand` (a block of it `columns`
    /// wide without heads) and where its tensor block lies in it: every tensor from the
    /// activation channels' first address (allocations aligned to whole rounds of stripes),
    /// head-major where the design says so and the tensor has heads.
    fn stored(
        &self,
        operand: &Operand,
        columns: u64,
        (rows, cols): Block,
    ) -> (TensorLayout<'a>, Block) {
        let placement = self.design.placement();
        let storage = operand.access.storage(columns);
        let channels = &placement.activation_channels;
        let panel = storage.panel.filter(|&(rows, cols)| rows > 0 && cols > 0);
        let layout = match (placement.activation_layout, panel) {
            (ActivationLayout::HeadMajor, Some(panel)) => {
                TensorLayout::tile_major(channels, operand.bits, 0, storage.width, panel)
            }
            _ => TensorLayout::row_major(channels, operand.bits, 0, storage.width),
        };
        let offset = storage.col_offset;
        (layout, (rows, (cols.0 + offset, cols.1 + offset)))
    }

    /// A transfer that stays on chip: no HBM requests, no time of its own.
    fn on_chip(
        &mut self,
        kind: fn(Requests) -> NodeKind,
        engine: usize,
        label: Label,
    ) -> NodeIndex {
        self.graph.add_node(Node {
            kind: kind(Arc::clone(&self.no_requests)),
            label,
            bytes: 0,
            engine: engine as u32,
            kernel: self.kernel,
        })
    }

    /// A GEMM tile or vector pass.
    fn compute(&mut self, kind: NodeKind, label: Label) -> NodeIndex {
        let engine = match kind {
            NodeKind::Gemm { engine, .. } | NodeKind::Vector { engine, .. } => engine,
            NodeKind::Load(_) | NodeKind::Store(_) => unreachable!("transfers go through transfer"),
        };
        self.graph.add_node(Node {
            kind,
            label,
            bytes: 0,
            engine,
            kernel: self.kernel,
        })
    }

    /// A load or store (`kind` is `NodeKind::Load` or `NodeKind::Store`) for `engine`'s
    /// buffer, moving rows `rows`, columns `cols` of a tensor; bytes and channels come from
    /// the layout.
    fn transfer(
        &mut self,
        kind: fn(Requests) -> NodeKind,
        engine: usize,
        layout: &TensorLayout<'a>,
        (rows, cols): ((u64, u64), (u64, u64)),
        label: Label,
    ) -> NodeIndex {
        let requests = self.requests.tile(self.design, layout, rows, cols);
        let bytes = requests.iter().map(|r| r.bytes).sum();
        self.graph.add_node(Node {
            kind: kind(requests),
            label,
            bytes,
            engine: engine as u32,
            kernel: self.kernel,
        })
    }

    fn edge(&mut self, from: Option<NodeIndex>, to: NodeIndex, kind: EdgeKind) {
        if let Some(from) = from {
            self.graph.add_edge(from, to, kind);
        }
    }

    /// Takes `engine`'s next slot of `ring` in turn: its index, and the node the new tile
    /// must wait for.
    fn take(&mut self, engine: usize, ring: Ring) -> (usize, Option<NodeIndex>) {
        self.touched[engine * 3 + ring as usize] = true;
        let (last_users, next) = &mut self.rings[engine * 3 + ring as usize];
        let slot = *next;
        *next = (*next + 1) % last_users.len();
        (slot, last_users[slot].take())
    }

    /// Puts the tile `load` brings into the next slot of the ring, after that slot's last
    /// user; returns the slot.
    fn fill(&mut self, engine: usize, ring: Ring, load: NodeIndex) -> usize {
        let (slot, previous) = self.take(engine, ring);
        self.edge(previous, load, EdgeKind::BufferSlot);
        slot
    }

    /// Records that `user` read (or drained) the tile in `slot` of the ring.
    fn used_by(&mut self, engine: usize, ring: Ring, slot: usize, user: NodeIndex) {
        self.touched[engine * 3 + ring as usize] = true;
        self.rings[engine * 3 + ring as usize].0[slot] = Some(user);
    }
}

fn operand(kernel: &Kernel, direction: Direction, index: usize) -> Option<&Operand> {
    kernel
        .operands
        .iter()
        .filter(|o| o.direction == direction && !o.is_parameter)
        .nth(index)
}

/// Adds `kernel`'s nodes to the lowering; returns its output tiles (what consumers read).
fn lower_into(lowering: &mut Lowering, kernel: &Kernel) -> Vec<OutputTile> {
    match kernel.op {
        Op::Gemm => lower_gemm(lowering, kernel),
        Op::FusedAttention => lower_fused_attention(lowering, kernel),
        _ => lower_vector(lowering, kernel),
    }
}

/// The earlier kernels of a unit whose outputs `kernel`, at position `position`, reads.
fn producers(kernel: &Kernel, position: usize) -> Vec<usize> {
    let mut producers: Vec<usize> = kernel
        .operands
        .iter()
        .flat_map(|o| &o.access.pieces)
        .filter_map(|piece| position.checked_sub(piece.back as usize))
        .collect();
    producers.sort_unstable();
    producers.dedup();
    producers
}

/// How a kernel of a unit meets the others: the link its output leaves by (HBM without
/// one), and per earlier kernel it reads through a link, how many kernels back that one is,
/// how and how deep.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KernelLinks {
    output_via: Via,
    inputs: Vec<(usize, Via, u64)>,
}

/// The [`KernelLinks`] of every kernel of a unit, as the design's `[[links]]` give them.
fn unit_links(kernels: &[&Kernel], labels: &[String], design: &Design) -> Vec<KernelLinks> {
    let sources: Vec<Vec<usize>> = kernels
        .iter()
        .enumerate()
        .map(|(position, kernel)| producers(kernel, position))
        .collect();
    let mut readers = vec![Vec::new(); kernels.len()];
    for (position, producers) in sources.iter().enumerate() {
        for &producer in producers {
            readers[producer].push(position);
        }
    }
    (0..kernels.len())
        .map(|position| KernelLinks {
            output_via: readers[position]
                .iter()
                .find_map(|&reader| design.link(&labels[position], &labels[reader]))
                .map_or(Via::Hbm, |link| link.via),
            inputs: sources[position]
                .iter()
                .filter_map(|&producer| {
                    let link = design.link(&labels[producer], &labels[position])?;
                    Some((position - producer, link.via, link.depth_tiles))
                })
                .collect(),
        })
        .collect()
}

/// Lowers the consecutive kernels of one unit (a layer, or an encoder's layers) into one
/// graph, node `kernel` fields indexing `kernels`: each read waits for exactly the tiles of
/// earlier kernels' outputs it reads, through HBM or the link the design gives (the
/// user guide's docs/src/dataflow.md). Refuses kernels beyond the size limits before
/// building anything, and links that cannot work: among them a stream too shallow to run,
/// naming the smallest depth that runs.
pub fn lower_layer(kernels: &[&Kernel], design: &Design) -> Result<KernelGraph, LowerError> {
    lower_unit(kernels, design, true, Cycles::Checked).map(|(graph, _)| graph)
}

/// [`lower_layer`] for the simulation, without its proof that no node waits on itself
/// through a stream too shallow (a sort of the whole graph, which took a sixth of the
/// spatial design's lowering): the simulation finds such a graph deadlocked, exactly then,
/// and [`lower_layer`] names the stream and the depth that runs. Every other refusal is
/// the same.
pub fn lower_layer_to_simulate(
    kernels: &[&Kernel],
    design: &Design,
) -> Result<KernelGraph, LowerError> {
    lower_unit(kernels, design, true, Cycles::Simulated).map(|(graph, _)| graph)
}

/// Who finds a graph that waits on itself: the lowering, by sorting it, or the simulation,
/// as a deadlock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cycles {
    Checked,
    Simulated,
}

/// [`lower_layer`], copying the layers that repeat the block of layers before them where
/// `repeat` allows ([`repeat`]); also how many layers were copied.
fn lower_unit(
    kernels: &[&Kernel],
    design: &Design,
    repeat: bool,
    cycles: Cycles,
) -> Result<(KernelGraph, usize), LowerError> {
    let mut nodes = 0;
    for kernel in kernels {
        check_engines(kernel, design)?;
        nodes += checked_graph_size(kernel, design)?.nodes;
    }
    let labels: Vec<String> = kernels.iter().map(|k| k.label()).collect();
    let links = unit_links(kernels, &labels, design);
    let mut lowering = Lowering::new(design, nodes);
    let mut streams = Vec::new();
    let mut repeats = Repeats::new(design.buffer_slots());
    let mut position = 0;
    while position < kernels.len() {
        let copied = repeat
            .then(|| repeats.copy_at(position, (kernels, &links), &mut lowering, &mut streams))
            .flatten();
        if let Some(after) = copied {
            position = after;
            continue;
        }
        let layer = layer_at(kernels, position);
        position = layer.end;
        let record = LayerRecord::start(&mut lowering, layer.clone(), streams.len());
        for position in layer.clone() {
            lowering.kernel = position as u32;
            lowering.output_via = links[position].output_via;
            lowering.links_in = vec![Via::Hbm; position];
            for &(back, via, depth_tiles) in &links[position].inputs {
                let producer = position - back;
                lowering.links_in[producer] = via;
                if via == Via::Stream {
                    let tiles = lowering.produced[producer].tiles.len();
                    let name = format!("{} -> {}", labels[producer], labels[position]);
                    let stream = Stream::new(producer, tiles, depth_tiles, name);
                    lowering.streams.push(stream);
                }
            }
            let outputs = lower_into(&mut lowering, kernels[position]);
            streams.append(&mut lowering.streams);
            lowering.produced.push(Produced::new(outputs));
        }
        let in_layer = kernels[layer.start].layer.is_some();
        repeats.lowered(record.finish(&lowering, streams.len()), in_layer);
    }
    stream::close(
        &mut lowering.graph,
        &lowering.produced,
        &streams,
        lowering.design.source(),
        cycles,
    )?;
    let graph = lowering.graph;
    Ok((KernelGraph { graph }, repeats.copied))
}

/// Lowers one kernel onto the design; refuses kernels beyond the size limits before
/// building anything ([`checked_graph_size`]).
pub fn lower(kernel: &Kernel, design: &Design) -> Result<KernelGraph, LowerError> {
    let graph = lower_to_simulate(kernel, design)?;
    if let Err(node) = acyclic(&graph.graph) {
        return Err(LowerError::Cycle {
            kernel: kernel.name.to_string(),
            node: graph.graph[node].label.to_string(),
        });
    }
    Ok(graph)
}

/// [`lower`] for the simulation, without its proof that no node waits on itself (a pass over
/// every edge, 2 % of a Llama-2-7B prefill's instructions): one kernel's edges all run
/// forward, so only a lowering bug could close a cycle, and the simulation would find that
/// graph deadlocked, then [`lower`] names the node.
pub fn lower_to_simulate(kernel: &Kernel, design: &Design) -> Result<KernelGraph, LowerError> {
    check_engines(kernel, design)?;
    let nodes = checked_graph_size(kernel, design)?.nodes;
    let mut lowering = Lowering::new(design, nodes);
    lower_into(&mut lowering, kernel);
    Ok(KernelGraph {
        graph: lowering.graph,
    })
}

#[cfg(test)]
mod tests;
