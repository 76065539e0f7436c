//! Lowering: a kernel on a design becomes a petgraph dataflow of tile operations.
//!
//! Nodes are HBM reads of operand tiles, GEMM tiles on an array, vector passes and HBM writes.
//! Edges carry data dependencies and buffer-slot reuse (a load into a slot waits for the
//! compute that last used it). Every graph is checked acyclic before it is simulated.

mod address;

use crate::config::design::{ArrayShape, Dataflow, Design, LoopOrder};
use crate::workload::{Direction, Kernel, Op, Operand};
use address::{ChannelRequests, TensorLayout};
use petgraph::graph::{DiGraph, NodeIndex};
use std::fmt::Write;

pub use address::ChannelRequest;

/// What one node of the dataflow does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// Read a tile from HBM: per-channel requests.
    Load(Vec<ChannelRequest>),
    /// Write a tile to HBM.
    Store(Vec<ChannelRequest>),
    /// A GEMM tile on one array, taking `cycles` with the array's fold timing.
    Gemm { array: u64, cycles: u64, macs: u64 },
    /// A vector pass on one vector unit.
    Vector { unit: u64, cycles: u64 },
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
    /// Busy cycles summed over the GEMM tiles (all arrays together).
    pub array_cycles: u64,
    /// Busy cycles summed over the vector passes (all units together).
    pub vector_cycles: u64,
}

impl KernelGraph {
    pub fn totals(&self) -> GraphTotals {
        let mut totals = GraphTotals::default();
        for node in self.graph.node_weights() {
            match node.kind {
                NodeKind::Load(_) | NodeKind::Store(_) => totals.bytes_tiled += node.bytes,
                NodeKind::Gemm { cycles, macs, .. } => {
                    totals.array_cycles += cycles;
                    totals.macs += macs;
                }
                NodeKind::Vector { cycles, .. } => totals.vector_cycles += cycles,
            }
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

/// The most nodes one kernel's graph may have: a node with its channel requests and the
/// engine's per-node state takes under 600 bytes, so two graphs in flight (one per thread of
/// this 2-core machine) stay well under 256 MB.
pub const MAX_GRAPH_NODES: u64 = 200_000;

/// The most contiguous row segments one kernel's transfers may be cut into (lowering time).
pub const MAX_ROW_SEGMENTS: u64 = 1 << 26;

/// What lowering a kernel will build, bounded from above before any of it is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphSize {
    /// Nodes; each is one event when simulated.
    pub nodes: u64,
    /// Contiguous row segments the transfers are cut into.
    pub row_segments: u64,
}

/// Upper bounds on what [`lower`] builds for `kernel` on `design` (saturating arithmetic).
pub fn graph_size(kernel: &Kernel, design: &Design) -> GraphSize {
    let product = |factors: &[u64]| {
        factors
            .iter()
            .fold(1u64, |product, &factor| product.saturating_mul(factor))
    };
    match kernel.op {
        Op::Gemm => {
            let tiling = design.tiling_for(kernel.class);
            let (tm, tk) = (tiling.tm.min(kernel.m), tiling.tk.min(kernel.k));
            let output_tiles = product(&[
                kernel.batch,
                kernel.m.div_ceil(tiling.tm),
                kernel.n.div_ceil(tiling.tn),
            ]);
            let k_tiles = kernel.k.div_ceil(tiling.tk);
            let extras = kernel.operands.len() as u64;
            GraphSize {
                // Per output tile: a GEMM and at most two loads per reduction step, the
                // bias/gate loads and the store.
                nodes: product(&[
                    output_tiles,
                    k_tiles.saturating_mul(3).saturating_add(extras),
                ]),
                row_segments: product(&[
                    output_tiles,
                    product(&[k_tiles, tm.saturating_add(tk)])
                        .saturating_add(product(&[extras, tm])),
                ]),
            }
        }
        Op::FusedAttention => {
            let tiles = kernel.m.div_ceil(design.tiling_for(kernel.class).tm);
            // Per query tile: its load and store, and per key tile two loads, scores, softmax
            // and context; every transfer is whole rows, one segment.
            let nodes = product(&[kernel.batch, tiles, product(&[tiles, 5]).saturating_add(2)]);
            GraphSize {
                nodes,
                row_segments: nodes,
            }
        }
        _ => {
            let (rows, chunk_rows) = vector_chunks(kernel, design);
            // Per chunk: a load per input, the pass and the store; one load of parameters.
            let inputs = kernel
                .operands
                .iter()
                .filter(|o| o.direction == Direction::Read && !o.is_parameter)
                .count() as u64;
            let parameters = kernel.operands.iter().any(|o| o.is_parameter);
            let nodes = product(&[rows.div_ceil(chunk_rows), inputs + 2])
                .saturating_add(u64::from(parameters));
            GraphSize {
                nodes,
                row_segments: nodes,
            }
        }
    }
}

/// Cycles one GEMM tile takes on an `R × C` array: the fold model of SCALE-Sim (Samajdar et
/// al., ISPASS 2020), as its compute units (version 3.0) count them. The operand dimensions
/// map to spatial rows `S_R`, spatial columns `S_C` and streamed length `T` by dataflow; each
/// fold of the array costs `R + C + T − 2` cycles of skewed fill, streaming and drain, plus `R`
/// cycles for ws and is to preload the stationary operand first; partial folds are padded to
/// the whole array; folds do not overlap. `tests/golden/scalesim-3.0-fold-cycles.csv` holds
/// SCALE-Sim's own counts.
///
/// With `overlap_folds`, a fold enters the array while the previous one drains: the fill,
/// drain and first preload are paid once per tile, and each further fold holds the array for
/// `max(T, R)` cycles (its preload or output drain must fit under the next fold's streaming).
pub fn gemm_tile_cycles(array: &ArrayShape, m: u64, n: u64, k: u64) -> u64 {
    let (rows, cols) = (array.rows, array.cols);
    let (spatial_rows, spatial_cols, streamed, preload) = match array.dataflow {
        Dataflow::Os => (m, n, k, 0),
        Dataflow::Ws => (k, n, m, rows),
        Dataflow::Is => (k, m, n, rows),
    };
    let folds = spatial_rows.div_ceil(rows) * spatial_cols.div_ceil(cols);
    let one_fold = preload + rows + cols + streamed - 2;
    if array.overlap_folds {
        one_fold + (folds - 1) * streamed.max(rows)
    } else {
        folds * one_fold
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

/// The kernel's [`graph_size`], or why it is beyond [`MAX_GRAPH_NODES`] or
/// [`MAX_ROW_SEGMENTS`].
pub fn checked_graph_size(kernel: &Kernel, design: &Design) -> Result<GraphSize, LowerError> {
    let size = graph_size(kernel, design);
    if size.nodes > MAX_GRAPH_NODES || size.row_segments > MAX_ROW_SEGMENTS {
        return Err(LowerError::TooLarge {
            kernel: format!("{}/{}", kernel.encoder, kernel.name),
            nodes: size.nodes,
            row_segments: size.row_segments,
        });
    }
    Ok(size)
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

/// The tile an array's buffer holds: (instance, row or column tile, reduction tile), the
/// load that brought it, and its slot.
type Resident = ((u64, u64, u64), NodeIndex, usize);

/// The node that brought tile `key` into an array's buffer: the resident one if the buffer
/// holds it, else a new load into the next slot, after that slot's last user.
fn resident_tile(
    lowering: &mut Lowering,
    resident: &mut Option<Resident>,
    slots: &mut Slots,
    key: (u64, u64, u64),
    load: impl FnOnce(&mut Lowering) -> NodeIndex,
) -> (NodeIndex, usize) {
    match *resident {
        Some((held, node, index)) if held == key => (node, index),
        _ => {
            let node = load(lowering);
            let index = slots.fill(lowering, node);
            *resident = Some((key, node, index));
            (node, index)
        }
    }
}

fn lower_gemm(lowering: &mut Lowering, kernel: &Kernel) {
    let design = lowering.design;
    let tiling = design.tiling_for(kernel.class);
    let (m, n, k) = (kernel.m, kernel.n, kernel.k);
    let a = operand(kernel, Direction::Read, 0).expect("a GEMM reads an activation");
    let b = kernel
        .operands
        .iter()
        .filter(|o| o.direction == Direction::Read)
        .nth(1)
        .expect("a GEMM reads a second operand");
    let c = operand(kernel, Direction::Write, 0).expect("a GEMM writes its result");
    let extras: Vec<&Operand> = kernel
        .operands
        .iter()
        .filter(|o| o.direction == Direction::Read)
        .skip(2)
        .collect();
    let channels_of = |o: &Operand| {
        if o.is_parameter {
            &design.placement().weight_channels
        } else {
            &design.placement().activation_channels
        }
    };
    let a_instances = a.elements / (m * k);
    let b_instances = b.elements / (k * n);
    let m_tiles = m.div_ceil(tiling.tm);
    let n_tiles = n.div_ceil(tiling.tn);
    let k_tiles = k.div_ceil(tiling.tk);
    let arrays = design.array_count();
    let mut a_slots = Slots::per_unit(arrays, design);
    let mut b_slots = Slots::per_unit(arrays, design);
    let mut c_slots = Slots::per_unit(arrays, design);
    // The tile each array's A and B buffers hold now, to skip reloading it.
    let mut a_resident: Vec<Option<Resident>> = vec![None; arrays as usize];
    let mut b_resident: Vec<Option<Resident>> = vec![None; arrays as usize];
    let mut output_tile = 0u64;
    for batch in 0..kernel.batch {
        let a_layout = TensorLayout::row_major(
            channels_of(a),
            a.bits,
            (batch * a_instances / kernel.batch) * m * k,
            k,
        );
        let b_instance = batch * b_instances / kernel.batch;
        let b_layout = if kernel.b_transposed {
            TensorLayout::row_major(channels_of(b), b.bits, b_instance * k * n, k)
        } else {
            TensorLayout::row_major(channels_of(b), b.bits, b_instance * k * n, n)
        };
        let c_layout = TensorLayout::row_major(channels_of(c), c.bits, batch * m * n, n);
        let tiles: Vec<(u64, u64)> = match tiling.loop_order {
            LoopOrder::Mnk => (0..m_tiles)
                .flat_map(|mi| (0..n_tiles).map(move |ni| (mi, ni)))
                .collect(),
            LoopOrder::Nmk => (0..n_tiles)
                .flat_map(|ni| (0..m_tiles).map(move |mi| (mi, ni)))
                .collect(),
        };
        for (mi, ni) in tiles {
            let array = output_tile % arrays;
            let slot = array as usize;
            output_tile += 1;
            let rows = (mi * tiling.tm, ((mi + 1) * tiling.tm).min(m));
            let cols = (ni * tiling.tn, ((ni + 1) * tiling.tn).min(n));
            // The output tile's slot: its bias/gate inputs and first compute wait for the store
            // of the tile that held it before.
            let (c_slot, previous_store) = c_slots[slot].take();
            let mut extra_loads = Vec::new();
            for extra in &extras {
                let layout = if extra.elements == n {
                    TensorLayout::row_major(channels_of(extra), extra.bits, 0, n)
                } else {
                    TensorLayout::row_major(channels_of(extra), extra.bits, batch * m * n, n)
                };
                let extra_rows = if extra.elements == n { (0, 1) } else { rows };
                let node = lowering.transfer(
                    NodeKind::Load,
                    array,
                    &layout,
                    (extra_rows, cols),
                    format!("load {} b{batch} m{mi} n{ni}", extra.name),
                );
                lowering.edge(previous_store, node, EdgeKind::BufferSlot);
                extra_loads.push(node);
            }
            let mut previous_compute: Option<NodeIndex> = None;
            for ki in 0..k_tiles {
                let depth = (ki * tiling.tk, ((ki + 1) * tiling.tk).min(k));
                let (a_node, a_slot) = resident_tile(
                    lowering,
                    &mut a_resident[slot],
                    &mut a_slots[slot],
                    (batch, mi, ki),
                    |lowering| {
                        let label = format!("load {} b{batch} m{mi} k{ki}", a.name);
                        lowering.transfer(NodeKind::Load, array, &a_layout, (rows, depth), label)
                    },
                );
                // Keys are stored token-major: a Kᵀ tile is a block of their rows.
                let (b_rows, b_cols) = if kernel.b_transposed {
                    (cols, depth)
                } else {
                    (depth, cols)
                };
                let (b_node, b_slot) = resident_tile(
                    lowering,
                    &mut b_resident[slot],
                    &mut b_slots[slot],
                    (b_instance, ni, ki),
                    |lowering| {
                        let label = format!("load {} b{batch} k{ki} n{ni}", b.name);
                        let tile = (b_rows, b_cols);
                        lowering.transfer(NodeKind::Load, array, &b_layout, tile, label)
                    },
                );
                let (tm, tn, tk) = (rows.1 - rows.0, cols.1 - cols.0, depth.1 - depth.0);
                let compute = lowering.compute(
                    NodeKind::Gemm {
                        array,
                        cycles: gemm_tile_cycles(&design.array(), tm, tn, tk),
                        macs: tm * tn * tk,
                    },
                    format!("gemm b{batch} m{mi} n{ni} k{ki}"),
                );
                lowering.edge(Some(a_node), compute, EdgeKind::Data);
                lowering.edge(Some(b_node), compute, EdgeKind::Data);
                lowering.edge(previous_compute, compute, EdgeKind::Data);
                if ki == 0 {
                    lowering.edge(previous_store, compute, EdgeKind::BufferSlot);
                    for &extra in &extra_loads {
                        lowering.edge(Some(extra), compute, EdgeKind::Data);
                    }
                }
                a_slots[slot].used_by(a_slot, compute);
                b_slots[slot].used_by(b_slot, compute);
                previous_compute = Some(compute);
            }
            let store = lowering.transfer(
                NodeKind::Store,
                array,
                &c_layout,
                (rows, cols),
                format!("store {} b{batch} m{mi} n{ni}", c.name),
            );
            lowering.edge(previous_compute, store, EdgeKind::Data);
            c_slots[slot].used_by(c_slot, store);
        }
    }
}

/// A vector kernel's rows, and the rows of one chunk: as many whole rows as fill one line
/// buffer of the vector unit (at least one).
fn vector_chunks(kernel: &Kernel, design: &Design) -> (u64, u64) {
    let rows = kernel.batch.saturating_mul(kernel.m);
    let output_bits = operand(kernel, Direction::Write, 0).map_or(32, |o| o.bits);
    let row_bytes = kernel.n.saturating_mul(output_bits).div_ceil(8).max(1);
    (
        rows,
        (design.vector_chunk_bytes() / row_bytes).clamp(1, rows.max(1)),
    )
}

/// Vector kernels stream row chunks: load inputs, run on a vector unit, store the result.
fn lower_vector(lowering: &mut Lowering, kernel: &Kernel) {
    let design = lowering.design;
    let (rows_total, chunk_rows) = vector_chunks(kernel, design);
    let row_elements = kernel.n;
    let inputs: Vec<&Operand> = kernel
        .operands
        .iter()
        .filter(|o| o.direction == Direction::Read && !o.is_parameter)
        .collect();
    let output = operand(kernel, Direction::Write, 0).expect("a vector kernel writes");
    let chunks = rows_total.div_ceil(chunk_rows);
    let activations = &design.placement().activation_channels;
    let parameter_load = {
        let parameters: u64 = kernel
            .operands
            .iter()
            .filter(|o| o.is_parameter)
            .map(Operand::bytes)
            .sum();
        (parameters > 0).then(|| {
            let layout =
                TensorLayout::row_major(&design.placement().weight_channels, 8, 0, parameters);
            let label = "load parameters".to_string();
            lowering.transfer(NodeKind::Load, 0, &layout, ((0, 1), (0, parameters)), label)
        })
    };
    let units = design.vector_units();
    let mut slots = Slots::per_unit(units, design);
    for chunk in 0..chunks {
        let unit = chunk % units;
        let rows = (
            chunk * chunk_rows,
            ((chunk + 1) * chunk_rows).min(rows_total),
        );
        let elements = (rows.1 - rows.0) * row_elements;
        let cycles = elements.div_ceil(design.vector_lanes());
        let pass = lowering.compute(
            NodeKind::Vector { unit, cycles },
            format!("{} rows {}..{}", kernel.op.name(), rows.0, rows.1),
        );
        lowering.edge(parameter_load, pass, EdgeKind::Data);
        let (slot, previous) = slots[unit as usize].take();
        for (index, input) in inputs.iter().enumerate() {
            let layout = TensorLayout::row_major(
                activations,
                input.bits,
                index as u64 * rows_total * row_elements,
                row_elements,
            );
            let load = lowering.transfer(
                NodeKind::Load,
                unit,
                &layout,
                (rows, (0, row_elements)),
                format!("load {} rows {}..{}", input.name, rows.0, rows.1),
            );
            lowering.edge(previous, load, EdgeKind::BufferSlot);
            lowering.edge(Some(load), pass, EdgeKind::Data);
        }
        let layout = TensorLayout::row_major(activations, output.bits, 0, row_elements);
        let store = lowering.transfer(
            NodeKind::Store,
            unit,
            &layout,
            (rows, (0, row_elements)),
            format!("store rows {}..{}", rows.0, rows.1),
        );
        lowering.edge(Some(pass), store, EdgeKind::Data);
        slots[unit as usize].used_by(slot, store);
    }
}

/// Flash-style attention: per query tile, stream key/value tiles through scores, softmax and
/// context without writing the scores to HBM.
fn lower_fused_attention(lowering: &mut Lowering, kernel: &Kernel) {
    let design = lowering.design;
    let (tokens, head_dim) = (kernel.m, kernel.k);
    let q = &kernel.operands[0];
    let k = &kernel.operands[1];
    let context = &kernel.operands[3];
    let kv_instances = k.elements / (tokens * head_dim);
    let activations = &design.placement().activation_channels;
    let tile = design.tiling_for(kernel.class).tm;
    let shape = design.array();
    // Per array, one buffer ring each for Q, K and V tiles (and the context tile being built,
    // which shares the Q ring's lifetime).
    let mut q_slots = Slots::per_unit(design.array_count(), design);
    let mut k_slots = Slots::per_unit(design.array_count(), design);
    let mut v_slots = Slots::per_unit(design.array_count(), design);
    let mut instance = 0u64;
    for batch in 0..kernel.batch {
        let kv = batch * kv_instances / kernel.batch;
        let q_layout =
            TensorLayout::row_major(activations, q.bits, batch * tokens * head_dim, head_dim);
        let kv_layout =
            TensorLayout::row_major(activations, k.bits, kv * tokens * head_dim, head_dim);
        let out_layout = TensorLayout::row_major(
            activations,
            context.bits,
            batch * tokens * head_dim,
            head_dim,
        );
        for qi in 0..tokens.div_ceil(tile) {
            let array = instance % design.array_count();
            let unit = instance % design.vector_units();
            instance += 1;
            let rows = (qi * tile, ((qi + 1) * tile).min(tokens));
            let slot = array as usize;
            let q_load = lowering.transfer(
                NodeKind::Load,
                array,
                &q_layout,
                (rows, (0, head_dim)),
                format!("load q b{batch} m{qi}"),
            );
            let q_slot = q_slots[slot].fill(lowering, q_load);
            let mut previous = Some(q_load);
            for kj in 0..tokens.div_ceil(tile) {
                let keys = (kj * tile, ((kj + 1) * tile).min(tokens));
                let (tm, tn) = (rows.1 - rows.0, keys.1 - keys.0);
                let mut kv_loads = Vec::new();
                let mut kv_slot_indices = Vec::new();
                for (name, ring) in [("k", &mut k_slots[slot]), ("v", &mut v_slots[slot])] {
                    let node = lowering.transfer(
                        NodeKind::Load,
                        array,
                        &kv_layout,
                        (keys, (0, head_dim)),
                        format!("load {name} b{batch} m{qi} n{kj}"),
                    );
                    kv_slot_indices.push(ring.fill(lowering, node));
                    kv_loads.push(node);
                }
                let scores = lowering.compute(
                    NodeKind::Gemm {
                        array,
                        cycles: gemm_tile_cycles(&shape, tm, tn, head_dim),
                        macs: tm * tn * head_dim,
                    },
                    format!("scores b{batch} m{qi} n{kj}"),
                );
                lowering.edge(previous, scores, EdgeKind::Data);
                lowering.edge(Some(kv_loads[0]), scores, EdgeKind::Data);
                let softmax = lowering.compute(
                    NodeKind::Vector {
                        unit,
                        cycles: (tm * tn).div_ceil(design.vector_lanes()),
                    },
                    format!("softmax b{batch} m{qi} n{kj}"),
                );
                lowering.edge(Some(scores), softmax, EdgeKind::Data);
                let context_tile = lowering.compute(
                    NodeKind::Gemm {
                        array,
                        cycles: gemm_tile_cycles(&shape, tm, head_dim, tn),
                        macs: tm * tn * head_dim,
                    },
                    format!("context b{batch} m{qi} n{kj}"),
                );
                lowering.edge(Some(softmax), context_tile, EdgeKind::Data);
                lowering.edge(Some(kv_loads[1]), context_tile, EdgeKind::Data);
                k_slots[slot].used_by(kv_slot_indices[0], scores);
                v_slots[slot].used_by(kv_slot_indices[1], context_tile);
                previous = Some(context_tile);
            }
            let store = lowering.transfer(
                NodeKind::Store,
                array,
                &out_layout,
                (rows, (0, head_dim)),
                format!("store context b{batch} m{qi}"),
            );
            lowering.edge(previous, store, EdgeKind::Data);
            q_slots[slot].used_by(q_slot, store);
        }
    }
}

/// The graph as Graphviz DOT, for a reader to see the dataflow.
pub fn to_dot(graph: &KernelGraph) -> String {
    let mut dot = String::from(
        "digraph kernel {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for index in graph.graph.node_indices() {
        let node = &graph.graph[index];
        let (shape, detail) = match &node.kind {
            NodeKind::Load(requests) | NodeKind::Store(requests) => {
                ("box", format!("{} B on {} ch", node.bytes, requests.len()))
            }
            NodeKind::Gemm { array, cycles, .. } => {
                ("ellipse", format!("array {array}, {cycles} cyc"))
            }
            NodeKind::Vector { unit, cycles } => {
                ("hexagon", format!("vector {unit}, {cycles} cyc"))
            }
        };
        let _ = writeln!(
            dot,
            "  n{} [shape={shape}, label=\"{}\\n{detail}\"];",
            index.index(),
            node.label
        );
    }
    for edge in graph.graph.edge_indices() {
        let (from, to) = graph.graph.edge_endpoints(edge).expect("edge exists");
        let style = match graph.graph[edge] {
            EdgeKind::Data => "",
            EdgeKind::BufferSlot => " [style=dashed, label=\"slot\"]",
        };
        let _ = writeln!(dot, "  n{} -> n{}{style};", from.index(), to.index());
    }
    dot.push_str("}\n");
    dot
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
    fn fold_model_by_dataflow() {
        let array = |dataflow| ArrayShape {
            rows: 8,
            cols: 8,
            dataflow,
            overlap_folds: false,
        };
        // 8x8 array, M=16, N=8, K=4. os: (16/8)·(8/8) folds of 8+8+4−2 = 18.
        assert_eq!(gemm_tile_cycles(&array(Dataflow::Os), 16, 8, 4), 2 * 18);
        // ws: rows take K=4 (one padded fold), columns N=8, M=16 streams: 2·8+8+16−2 = 38.
        assert_eq!(gemm_tile_cycles(&array(Dataflow::Ws), 16, 8, 4), 38);
        // is: rows take K=4, columns M=16 (2 folds), N=8 streams: 2·8+8+8−2 = 30 each.
        assert_eq!(gemm_tile_cycles(&array(Dataflow::Is), 16, 8, 4), 2 * 30);
    }

    #[test]
    fn overlapped_folds_pay_fill_and_drain_once() {
        for dataflow in [Dataflow::Os, Dataflow::Ws, Dataflow::Is] {
            let plain = ArrayShape {
                rows: 8,
                cols: 8,
                dataflow,
                overlap_folds: false,
            };
            let overlapped = ArrayShape {
                overlap_folds: true,
                ..plain
            };
            // One fold: nothing to overlap.
            assert_eq!(
                gemm_tile_cycles(&overlapped, 8, 8, 8),
                gemm_tile_cycles(&plain, 8, 8, 8)
            );
            // 4 × 4 folds: after the first, each of the other 15 holds the array max(T, R).
            let cycles = gemm_tile_cycles(&overlapped, 32, 32, 100);
            assert!(cycles < gemm_tile_cycles(&plain, 32, 32, 100));
            if dataflow == Dataflow::Os {
                assert_eq!(cycles, gemm_tile_cycles(&plain, 8, 8, 100) + 15 * 100);
            }
        }
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
