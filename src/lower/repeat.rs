//! A layer lowered as a copy of the one before it. Lowering a layer is a function of its
//! kernels, their links and the state earlier kernels left: the buffer rings' slots (the
//! node that last used each, and the slot to fill next) and earlier kernels' output tiles
//! (the nodes later reads wait for). Node indices only pass through it, into edges and back
//! into that state. So when a layer does the same work over the same links as the one
//! before, and the state it finds is the state that one found with every node moved on by
//! that layer's nodes, its graph is that layer's graph moved on alike, and so is the state it
//! leaves. A ring whose fills per layer are not a multiple of its slots comes back to the
//! same slot only every few layers, so the copy is of the last few layers together, up to
//! twice as many as a ring has slots. Every node, edge (in order) and stream is the same as
//! lowering each layer would make (`tests::repeated_layers_are_the_graph_lowering_makes`).

use super::layer::OutputTile;
use super::stream::Stream;
use super::{KernelLinks, Lowering};
use crate::workload::Kernel;
use petgraph::graph::NodeIndex;
use std::ops::Range;

/// A buffer ring: per slot the node that last used its tile, and the slot to fill next.
pub(super) type RingState = (Vec<Option<NodeIndex>>, usize);

/// The kernels of the unit that make up the layer starting at `position` (consecutive
/// kernels of one layer and step), or the kernel alone when it is not in a layer.
pub(super) fn layer_at(kernels: &[&Kernel], position: usize) -> Range<usize> {
    let first = kernels[position];
    if first.layer.is_none() {
        return position..position + 1;
    }
    let length = kernels[position..]
        .iter()
        .take_while(|k| (k.encoder, k.layer, k.step) == (first.encoder, first.layer, first.step))
        .count();
    position..position + length
}

/// The layers of a unit lowered so far, and the block of them being copied.
pub(super) struct Repeats {
    /// The last layers lowered one by one, in order and each after the one before; at most
    /// `longest_period`.
    lowered: Vec<LayerRecord>,
    /// The last block of layers copied, while the layers after it repeat it.
    copying: Option<LayerRecord>,
    /// The most layers a block holds: twice a ring's slots (layers of two kinds in turn, as
    /// the action expert's cross- and self-attention, repeat every two layers, and a ring
    /// comes back to one slot within its slots of those).
    longest_period: usize,
    /// Layers copied so far.
    pub(super) copied: usize,
}

impl Repeats {
    /// No layers yet, on a design whose rings have `slots` slots.
    pub(super) fn new(slots: u64) -> Self {
        Repeats {
            lowered: Vec::new(),
            copying: None,
            longest_period: 2 * slots as usize,
            copied: 0,
        }
    }

    /// Copies the layers from `position` on as the block of layers before them where they
    /// repeat it; returns the position after the copy, or `None` if they do not.
    pub(super) fn copy_at(
        &mut self,
        position: usize,
        (kernels, links): (&[&Kernel], &[KernelLinks]),
        lowering: &mut Lowering,
        streams: &mut Vec<Stream>,
    ) -> Option<usize> {
        let repeats = |block: &LayerRecord, lowering: &Lowering| {
            block.repeats_as(position, kernels, links, lowering)
        };
        let block = match self.copying.take().filter(|block| repeats(block, lowering)) {
            Some(block) => block,
            None => {
                let lowered = &self.lowered;
                let block = (1..=lowered.len().min(self.longest_period))
                    .map(|period| LayerRecord::block(&lowered[lowered.len() - period..]))
                    .find(|block| repeats(block, lowering))?;
                self.lowered.clear();
                block
            }
        };
        let block = self.copying.insert(block);
        let layers = block.layers;
        block.repeat(lowering, streams);
        self.copied += layers;
        Some(block.kernels.end)
    }

    /// Records a layer lowered one by one (or a kernel outside the layers, which no block
    /// reaches across).
    pub(super) fn lowered(&mut self, record: LayerRecord, in_layer: bool) {
        self.copying = None;
        if !in_layer {
            self.lowered.clear();
            return;
        }
        if self.lowered.len() == self.longest_period {
            self.lowered.remove(0);
        }
        self.lowered.push(record);
    }
}

/// A layer, or a block of consecutive layers, as it was lowered (or copied): what it
/// added, and what it found.
pub(super) struct LayerRecord {
    /// Layers it holds.
    layers: usize,
    /// Its kernels' positions in the unit.
    kernels: Range<usize>,
    /// The nodes, edges and unit streams it added.
    nodes: Range<usize>,
    edges: Range<usize>,
    streams: Range<usize>,
    /// The rings as it found them.
    rings: Vec<RingState>,
    /// The rings its lowering took slots of or marked used.
    touched: Vec<bool>,
}

impl LayerRecord {
    /// Starts recording the lowering of the kernels `kernels` (the state they find, and
    /// from where they add), with `streams` unit streams made so far.
    pub(super) fn start(lowering: &mut Lowering, kernels: Range<usize>, streams: usize) -> Self {
        lowering.touched.fill(false);
        LayerRecord {
            layers: 1,
            kernels,
            nodes: lowering.graph.node_count()..0,
            edges: lowering.graph.edge_count()..0,
            streams: streams..0,
            rings: lowering.rings.clone(),
            touched: Vec::new(),
        }
    }

    /// Ends the record once the layer is lowered, `streams` unit streams made in all.
    pub(super) fn finish(mut self, lowering: &Lowering, streams: usize) -> Self {
        self.nodes.end = lowering.graph.node_count();
        self.edges.end = lowering.graph.edge_count();
        self.streams.end = streams;
        self.touched = lowering.touched.clone();
        self
    }

    /// Consecutive layers as one block: what they added, and what the first found.
    fn block(layers: &[LayerRecord]) -> LayerRecord {
        let (first, last) = (&layers[0], &layers[layers.len() - 1]);
        let mut touched = first.touched.clone();
        for layer in &layers[1..] {
            for (any, &this) in touched.iter_mut().zip(&layer.touched) {
                *any |= this;
            }
        }
        LayerRecord {
            layers: layers.len(),
            kernels: first.kernels.start..last.kernels.end,
            nodes: first.nodes.start..last.nodes.end,
            edges: first.edges.start..last.edges.end,
            streams: first.streams.start..last.streams.end,
            rings: first.rings.clone(),
            touched,
        }
    }

    /// How many kernels before its first one the block's kernels read.
    fn reach(&self, kernels: &[&Kernel]) -> usize {
        let first = self.kernels.start;
        self.kernels
            .clone()
            .flat_map(|position| {
                let offset = position - first;
                let pieces = kernels[position]
                    .operands
                    .iter()
                    .flat_map(|o| &o.access.pieces);
                pieces.map(move |piece| (piece.back as usize).saturating_sub(offset))
            })
            .max()
            .unwrap_or(0)
    }

    /// Whether the kernels from `position` on lower to this block's graph moved on by its
    /// nodes: they follow it, as many, each doing the same work over the same links as its
    /// counterpart, its operands stored alike (which `work_within` leaves out), and find
    /// the rings it took and the outputs its reads reach as it found them, every node moved
    /// on by its nodes.
    fn repeats_as(
        &self,
        position: usize,
        kernels: &[&Kernel],
        links: &[KernelLinks],
        lowering: &Lowering,
    ) -> bool {
        let shift = self.nodes.len();
        let next = position..position + self.kernels.len();
        let same_kernels = position == self.kernels.end
            && next.end <= kernels.len()
            && self.kernels.clone().zip(next.clone()).all(|(was, now)| {
                let stored = |position: usize| {
                    let operands = kernels[position].operands.iter();
                    operands.map(|o| o.access.storage)
                };
                links[was] == links[now]
                    && kernels[was].work_within(was) == kernels[now].work_within(now)
                    && stored(was).eq(stored(now))
            });
        if !same_kernels {
            return false;
        }
        let reach = self.reach(kernels);
        reach <= self.kernels.start
            && self.touched.iter().enumerate().all(|(ring, &touched)| {
                !touched || lowering.rings[ring] == shifted_ring(&self.rings[ring], shift)
            })
            && (1..=reach).all(|back| {
                let (was, now) = (self.kernels.start - back, next.start - back);
                same_tiles(
                    &lowering.produced[was].tiles,
                    &lowering.produced[now].tiles,
                    shift,
                )
            })
    }

    /// Adds the next layers as a copy of this block moved on by its nodes (its kernels by
    /// its kernels), with their streams and outputs, leaves the rings it took as this
    /// block's moved on, and becomes the copy's record.
    fn repeat(&mut self, lowering: &mut Lowering, streams: &mut Vec<Stream>) {
        let shift = self.nodes.len();
        let kernels = self.kernels.len();
        let graph = &mut lowering.graph;
        debug_assert_eq!(
            graph.node_count(),
            self.nodes.end,
            "the layer follows this one"
        );
        let (node_start, edge_start) = (graph.node_count(), graph.edge_count());
        for index in self.nodes.clone() {
            let mut node = graph[NodeIndex::new(index)].clone();
            node.kernel += kernels as u32;
            graph.add_node(node);
        }
        for index in self.edges.clone() {
            let edge = &graph.raw_edges()[index];
            let (from, to, kind) = (edge.source(), edge.target(), edge.weight);
            debug_assert!(to.index() >= self.nodes.start, "a layer's edges end in it");
            graph.add_edge(moved(from, shift), moved(to, shift), kind);
        }
        let stream_start = streams.len();
        for index in self.streams.clone() {
            let copy = streams[index].moved(kernels, |node| moved(node, shift));
            streams.push(copy);
        }
        for position in self.kernels.clone() {
            let copy = lowering.produced[position].moved(|node| moved(node, shift));
            lowering.produced.push(copy);
        }
        let found = lowering.rings.clone();
        for (ring, touched) in lowering.rings.iter_mut().zip(&self.touched) {
            if *touched {
                *ring = shifted_ring(ring, shift);
            }
        }
        self.kernels = self.kernels.end..self.kernels.end + kernels;
        self.nodes = node_start..lowering.graph.node_count();
        self.edges = edge_start..lowering.graph.edge_count();
        self.streams = stream_start..streams.len();
        self.rings = found;
    }
}

/// `node` moved on by `shift` nodes.
fn moved(node: NodeIndex, shift: usize) -> NodeIndex {
    NodeIndex::new(node.index() + shift)
}

/// A ring with every node it names moved on by `shift`.
fn shifted_ring((last_users, next): &RingState, shift: usize) -> RingState {
    let users = last_users
        .iter()
        .map(|user| user.map(|node| moved(node, shift)))
        .collect();
    (users, *next)
}

/// Whether `now` holds `was`'s blocks in order, each made by the node `shift` after.
fn same_tiles(was: &[OutputTile], now: &[OutputTile], shift: usize) -> bool {
    was.len() == now.len()
        && was
            .iter()
            .zip(now)
            .all(|(a, b)| a.block == b.block && moved(a.node, shift) == b.node)
}
