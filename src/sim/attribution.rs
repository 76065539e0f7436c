//! Where the cycles went: after a run, the critical path is walked back from the last node,
//! each node accounting for the cycles from the end of what it waited for to its own end.
//! A GEMM tile counts as compute, a vector pass as the vector unit; a transfer counts as fill
//! and drain (`dependency`) outside the compute span, as buffer capacity when it waited for a
//! slot a compute held, else as HBM latency (up to one access latency) and bandwidth; its
//! DMA set-up before its requests leave (`[control]`) as control.
//!
//! A kernel of a layer graph walks its own critical path back from its last node to its
//! first start; the first time the path leaves the kernel, the rest of the walk is what the
//! kernel waited for, named by the edge it left through: an upstream tile (`starved`), the
//! whole upstream output (`sync`), a place in a full stream FIFO (`backpressure`), or an
//! engine or buffer slot another kernel held (`dependency`).

use super::{Attribution, Bottleneck};
use crate::lower::{EdgeKind, Node, NodeKind};
use petgraph::graph::{DiGraph, NodeIndex};

/// What a node waited for last before it could start.
#[derive(Clone, Copy)]
pub(super) enum Binding {
    /// A root node: nothing before it.
    Start,
    /// Waited for this predecessor over an edge of this kind.
    Edge(NodeIndex, EdgeKind),
    /// Waited for the engine this earlier node was using.
    Unit(NodeIndex),
}

/// A finished run, ready to be walked.
pub(super) struct Walk<'a> {
    pub graph: &'a DiGraph<Node, EdgeKind>,
    pub end: &'a [u64],
    /// When each transfer's requests left, after its DMA set-up (`[control]`); the set-up
    /// is control.
    pub issued: &'a [u64],
    pub binding: &'a [Binding],
    /// Per kernel, then for the whole graph: the first compute start and last compute end
    /// (`u64::MAX, 0` when there is no compute).
    pub compute_span: &'a [(u64, u64)],
    pub latency_cycles: u64,
}

impl Walk<'_> {
    /// Cycles by cause from `from` back to `window_start`; `own`: the kernel whose wait on
    /// others is named, or `None` for the whole graph.
    pub(super) fn attribute(
        &self,
        from: Option<NodeIndex>,
        window_start: u64,
        own: Option<u32>,
    ) -> Attribution {
        self.walk(from, window_start, own, None)
    }

    /// Why an engine sat idle from `idle_from` until `node` started on it: the path `node`
    /// waited along, named as for `node`'s kernel.
    pub(super) fn idle_before(&self, node: NodeIndex, idle_from: u64) -> Attribution {
        let own = self.graph[node].kernel;
        let (previous, edge) = match self.binding[node.index()] {
            Binding::Edge(p, kind) => (p, Some(kind)),
            Binding::Unit(p) => (p, None),
            // A root starts at cycle 0, before any idle time.
            Binding::Start => return [0; Bottleneck::COUNT],
        };
        let waiting_on = (self.graph[previous].kernel != own).then(|| crossing(edge));
        self.walk(Some(previous), idle_from, Some(own), waiting_on)
    }

    fn walk(
        &self,
        from: Option<NodeIndex>,
        window_start: u64,
        own: Option<u32>,
        mut waiting_on: Option<Bottleneck>,
    ) -> Attribution {
        let mut attribution: Attribution = [0; Bottleneck::COUNT];
        let span_index = own.map_or(self.compute_span.len() - 1, |k| k as usize);
        let (mut first_compute, mut last_compute) = self.compute_span[span_index];
        if first_compute == u64::MAX {
            // No compute at all: no transfer is fill or drain, all are latency and bandwidth.
            (first_compute, last_compute) = (0, u64::MAX);
        }
        let mut cursor = from;
        while let Some(node) = cursor {
            let index = node.index();
            let (segment_start, previous, edge) = match self.binding[index] {
                Binding::Start => (0, None, None),
                Binding::Edge(p, kind) => (self.end[p.index()], Some(p), Some(kind)),
                Binding::Unit(p) => (self.end[p.index()], Some(p), None),
            };
            let segment_start = segment_start.max(window_start);
            let mut duration = self.end[index].saturating_sub(segment_start);
            if waiting_on.is_none() {
                let setup = self.issued[index]
                    .saturating_sub(segment_start)
                    .min(duration);
                attribution[Bottleneck::Control as usize] += setup;
                duration -= setup;
            }
            let cause = match waiting_on {
                Some(cause) => Some(cause),
                None => self.own_cause(
                    node,
                    edge,
                    previous,
                    segment_start,
                    (first_compute, last_compute),
                ),
            };
            match cause {
                Some(cause) => attribution[cause as usize] += duration,
                None => {
                    let latency = duration.min(self.latency_cycles);
                    attribution[Bottleneck::HbmLatency as usize] += latency;
                    attribution[Bottleneck::HbmBandwidth as usize] += duration - latency;
                }
            }
            if segment_start <= window_start {
                break;
            }
            if let (Some(kernel), Some(p), None) = (own, previous, waiting_on)
                && self.graph[p].kernel != kernel
            {
                waiting_on = Some(crossing(edge));
            }
            cursor = previous;
        }
        attribution
    }

    /// The cause of an own node's segment; `None`: HBM latency and bandwidth.
    fn own_cause(
        &self,
        node: NodeIndex,
        edge: Option<EdgeKind>,
        previous: Option<NodeIndex>,
        segment_start: u64,
        (first_compute, last_compute): (u64, u64),
    ) -> Option<Bottleneck> {
        let index = node.index();
        match self.graph[node].kind {
            NodeKind::Gemm { .. } => Some(Bottleneck::Compute),
            NodeKind::Vector { .. } => Some(Bottleneck::VectorUnit),
            NodeKind::Load(_) | NodeKind::Store(_)
                if self.end[index] <= first_compute || segment_start >= last_compute =>
            {
                Some(Bottleneck::Dependency)
            }
            // A transfer that waited for a slot a compute held: more slots would have hidden
            // it. (A slot held by a store is a transfer chain: bandwidth, not capacity.)
            NodeKind::Load(_) | NodeKind::Store(_)
                if edge == Some(EdgeKind::BufferSlot)
                    && previous.is_some_and(|p| {
                        matches!(
                            self.graph[p].kind,
                            NodeKind::Gemm { .. } | NodeKind::Vector { .. }
                        )
                    }) =>
            {
                Some(Bottleneck::BufferCapacity)
            }
            NodeKind::Load(_) | NodeKind::Store(_) => None,
        }
    }
}

/// What waiting on another kernel over an edge of this kind (`None`: its engine) is.
fn crossing(edge: Option<EdgeKind>) -> Bottleneck {
    match edge {
        Some(EdgeKind::Link | EdgeKind::Data) => Bottleneck::Starved,
        Some(EdgeKind::Sync) => Bottleneck::Sync,
        Some(EdgeKind::Fifo) => Bottleneck::Backpressure,
        Some(EdgeKind::BufferSlot) | None => Bottleneck::Dependency,
    }
}
