//! The event loop: a lowered graph (one kernel, or a layer of kernels) run on the design's
//! engines and HBM channels, and what it measured, in total and per kernel.

use super::attribution::{Binding, Walk};
use super::dram::Dram;
use super::hbm::ChannelStats;
use super::machine::MemorySystem;
use super::memory::{Hbm, IdealMemory, Memory};
use super::queue::EventQueue;
use super::{
    Attribution, Bottleneck, KernelSim, MAX_SIMULATED_CYCLES, Machine, SimError, TraceRecord,
    TraceSink, engine_of, resource_name,
};
use crate::config::design::Design;
use crate::config::platform::Platform;
use crate::lower::{EdgeKind, GraphTotals, KernelGraph, Node, NodeKind};
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

/// What a graph's run measured: its cycles and their causes along its critical path, and
/// each kernel's own results.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphSim {
    /// Cycles from the first node's start to the last node's end.
    pub cycles: u64,
    /// Cycles per cause along the graph's critical path, summing to `cycles`.
    pub attribution: Attribution,
    /// Per kernel of the graph, in the order of the labels given.
    pub kernels: Vec<KernelSim>,
    /// Per engine of the design, its `cycles` by cause: busy (compute or vector unit) and
    /// why it sat idle, named for the kernel whose node it waited to run (HBM, starved,
    /// sync, backpressure, dependency: fill, drain or another kernel's turn).
    pub engines: Vec<Attribution>,
    /// When each engine was busy, then (last row) when any HBM transfer was in flight:
    /// disjoint `(start, end)` cycles, in order.
    pub timeline: Vec<Vec<(u64, u64)>>,
}

/// A run's per-node arrays, kept per thread between runs: as large as the largest graph
/// the thread has run (about 40 bytes per node and 8 per edge).
#[derive(Default)]
struct Scratch {
    pending: Vec<u32>,
    first_successor: Vec<u32>,
    successors: Vec<(u32, EdgeKind)>,
    end: Vec<u64>,
    start: Vec<u64>,
    /// When a transfer's requests left, after its DMA set-up (`[control]`).
    issued: Vec<u64>,
    binding: Vec<Binding>,
    queue: EventQueue,
}

/// Marks an event as a transfer's DMA set-up ending (its requests leave then), not a node
/// finishing; graphs have far fewer than 2^31 nodes.
const SETUP_DONE: u32 = 1 << 31;

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

/// `values` as `count` copies of `value`, in the memory it already has.
fn refill<T: Copy>(values: &mut Vec<T>, count: usize, value: T) {
    values.clear();
    values.resize(count, value);
}

/// Runs one lowered kernel from cycle 0 on `design`'s machine and reports what it measured.
pub fn simulate(
    graph: &KernelGraph,
    kernel: &str,
    design: &Design,
    platform: &Platform,
    sink: &mut dyn TraceSink,
) -> Result<KernelSim, SimError> {
    let machine = Machine::new(design, platform);
    let mut run = simulate_graph(graph, &[kernel.to_string()], &machine, sink)?;
    Ok(run.kernels.remove(0))
}

/// Runs a lowered graph from cycle 0; node `kernel` fields index `labels`. A node whose
/// inputs are all done is dispatched at once: engines are FIFO servers (a node starts when
/// its inputs and its engine are free), a transfer is split into per-channel requests each
/// served by its pseudo-channel. A graph whose nodes wait on each other in a circle (a
/// stream FIFO too shallow for its reads) is reported as a deadlock.
pub fn simulate_graph(
    graph: &KernelGraph,
    labels: &[String],
    machine: &Machine,
    sink: &mut dyn TraceSink,
) -> Result<GraphSim, SimError> {
    match machine.memory() {
        MemorySystem::Fast(timing) => {
            let memory = Hbm::new(*timing, machine.channels(), labels.len());
            run(graph, labels, machine, memory, sink)
        }
        MemorySystem::Dram(dram) => {
            let (timing, setup) = **dram;
            let memory = Dram::new(timing, setup, labels.len());
            run(graph, labels, machine, memory, sink)
        }
        MemorySystem::Ideal => {
            let memory = IdealMemory {
                channels: machine.channels(),
            };
            run(graph, labels, machine, memory, sink)
        }
    }
}

/// [`simulate_graph`] on a given memory.
fn run<M: Memory>(
    graph: &KernelGraph,
    labels: &[String],
    machine: &Machine,
    mut memory: M,
    sink: &mut dyn TraceSink,
) -> Result<GraphSim, SimError> {
    let nodes = &graph.graph;
    let count = nodes.node_count();
    let engine_count = machine.engine_count();

    // The per-node arrays come from this thread's scratch, so a run after the first on a
    // thread reuses memory already mapped instead of faulting fresh pages in.
    let mut scratch = SCRATCH.with(|cell| cell.take());
    let Scratch {
        pending,
        first_successor,
        successors,
        end,
        start,
        issued,
        binding,
        queue,
    } = &mut scratch;
    // Predecessors each node waits for, counted in one pass over the edge array, and the
    // successors of each node laid out contiguously (in petgraph's order: last added first),
    // so the event loop reads them without chasing the adjacency lists.
    let edges = nodes.raw_edges();
    refill(pending, count, 0);
    refill(first_successor, count + 1, 0);
    for edge in edges {
        pending[edge.target().index()] += 1;
        first_successor[edge.source().index() + 1] += 1;
    }
    for index in 0..count {
        first_successor[index + 1] += first_successor[index];
    }
    refill(successors, edges.len(), (0u32, EdgeKind::Data));
    // Filled from each node's end backwards, so a node's successors keep their order.
    for edge in edges {
        let source = edge.source().index();
        first_successor[source + 1] -= 1;
        let slot = first_successor[source + 1] as usize;
        successors[slot] = (edge.target().index() as u32, edge.weight);
    }
    // Each count was taken back down to where the node's successors start: shift back.
    first_successor.copy_within(1.., 0);
    first_successor[count] = edges.len() as u32;
    refill(end, count, 0);
    refill(start, count, 0);
    refill(issued, count, 0);
    refill(binding, count, Binding::Start);
    queue.clear();
    let mut engine_free = vec![(0u64, None::<NodeIndex>); engine_count];
    // When each engine's DMA is free to set up its next transfer.
    let mut dma_free = vec![0u64; engine_count];
    let dma_setup = machine.dma_setup_cycles();

    // Reserves the node's engine or channels; returns its start cycle and, unless the
    // memory reports a transfer's end later, its finish cycle. Each engine's nodes in the
    // order they start (an engine serves in order, and nodes are dispatched as time
    // advances), and when any HBM transfer was in flight.
    let mut on_engine: Vec<Vec<u32>> = vec![Vec::new(); engine_count];
    let mut hbm_busy: Vec<(u64, u64)> = Vec::new();
    let mut reserve = |memory: &mut M,
                       hbm_busy: &mut Vec<(u64, u64)>,
                       (queue, issued): (&mut EventQueue, &mut [u64]),
                       node: NodeIndex,
                       now: u64,
                       binding: &mut Binding|
     -> (u64, Option<u64>) {
        let data = &nodes[node];
        match &data.kind {
            NodeKind::Gemm { engine, .. } | NodeKind::Vector { engine, .. } => {
                let cycles = machine.compute_cycles(&data.kind);
                on_engine[*engine as usize].push(node.index() as u32);
                let (start, end) = occupy(
                    &mut engine_free[*engine as usize],
                    node,
                    now,
                    cycles,
                    binding,
                );
                (start, Some(end))
            }
            NodeKind::Load(requests) | NodeKind::Store(requests) => {
                if dma_setup > 0 && !requests.is_empty() {
                    // The engine's DMA sets it up after the ones before; it leaves then.
                    let free = &mut dma_free[data.engine as usize];
                    *free = (*free).max(now) + dma_setup;
                    queue.push(*free, node.index() as u32 | SETUP_DONE);
                    return (now, None);
                }
                (
                    now,
                    issue(memory, hbm_busy, issued, (machine, nodes), node, now),
                )
            }
        }
    };

    for node in nodes.node_indices() {
        if pending[node.index()] == 0 {
            let index = node.index();
            let finish;
            (start[index], finish) = reserve(
                &mut memory,
                &mut hbm_busy,
                (queue, issued),
                node,
                0,
                &mut binding[index],
            );
            schedule(queue, end, index, finish);
        }
    }
    let tracing = sink.enabled();
    let mut last = None;
    let mut finished = Vec::new();
    loop {
        // The memory decides first when it decides before the next node finishes (the
        // transfers that start by then are all known to it).
        if let Some(decision) = memory.next_event_cycle()
            && queue.peek_cycle().is_none_or(|next| decision < next)
        {
            memory.decide(&mut finished);
            for (index, done) in finished.drain(..) {
                cover(&mut hbm_busy, (issued[index as usize], done));
                schedule(queue, end, index as usize, Some(done));
            }
            continue;
        }
        let Some((now, index)) = queue.pop() else {
            break;
        };
        if now > MAX_SIMULATED_CYCLES {
            return Err(SimError::TimeLimit {
                kernel: labels.join(", "),
            });
        }
        if index & SETUP_DONE != 0 {
            let node = NodeIndex::new((index & !SETUP_DONE) as usize);
            let finish = issue(
                &mut memory,
                &mut hbm_busy,
                issued,
                (machine, nodes),
                node,
                now,
            );
            schedule(queue, end, node.index(), finish);
            continue;
        }
        let node = NodeIndex::new(index as usize);
        last = Some(node);
        if tracing {
            let data = &nodes[node];
            sink.record(&TraceRecord {
                start_cycle: start[index as usize],
                end_cycle: now,
                resource: &resource_name(&data.kind, machine),
                kernel: &labels[data.kernel as usize],
                node: &data.label.to_string(),
                kind: data.kind_name(),
                bytes: data.bytes,
            });
        }
        let range = first_successor[index as usize]..first_successor[index as usize + 1];
        for &(next, kind) in &successors[range.start as usize..range.end as usize] {
            let next = next as usize;
            pending[next] -= 1;
            if pending[next] == 0 {
                binding[next] = Binding::Edge(node, kind);
                let finish;
                (start[next], finish) = reserve(
                    &mut memory,
                    &mut hbm_busy,
                    (queue, issued),
                    NodeIndex::new(next),
                    now,
                    &mut binding[next],
                );
                schedule(queue, end, next, finish);
            }
        }
    }
    if pending.iter().any(|&p| p > 0) {
        return Err(deadlock(graph, labels, pending));
    }

    // One pass over the executed nodes: each kernel's span and compute span (transfers
    // outside it are fill and drain), its engines' busy cycles, bytes, MACs and nodes.
    let kernels = labels.len();
    let mut totals = vec![GraphTotals::default(); kernels];
    let mut busy = vec![vec![0u64; engine_count]; kernels];
    // A kernel's span runs from its first compute (its loads may be prefetched before, in
    // another kernel's time) to its last node.
    let mut span = vec![(u64::MAX, 0u64, None::<NodeIndex>); kernels];
    let mut compute_span = vec![(u64::MAX, 0u64); kernels + 1];
    let mut events = vec![0u64; kernels];
    for (index, node) in nodes.node_weights().enumerate() {
        let kernel = node.kernel as usize;
        totals[kernel].count(node);
        events[kernel] += 1;
        let (first, last_end, last_node) = &mut span[kernel];
        if end[index] >= *last_end {
            (*last_end, *last_node) = (end[index], Some(NodeIndex::new(index)));
        }
        let Some(engine) = engine_of(&node.kind) else {
            continue;
        };
        *first = (*first).min(start[index]);
        busy[kernel][engine] += end[index] - start[index];
        for slot in [kernel, kernels] {
            compute_span[slot].0 = compute_span[slot].0.min(start[index]);
            compute_span[slot].1 = compute_span[slot].1.max(end[index]);
        }
    }
    let walk = Walk {
        graph: nodes,
        end,
        issued,
        binding,
        compute_span: &compute_span,
        latency_cycles: memory.latency_cycles(),
    };
    let cycles = last.map_or(0, |node| end[node.index()]);
    let attribution = walk.attribute(last, 0, None);
    debug_assert_eq!(attribution.iter().sum::<u64>(), cycles);
    let (engine_attribution, mut timeline) =
        engine_attribution(nodes, &on_engine, start, end, &walk, cycles);
    timeline.push(hbm_busy);
    // Each kernel's channel statistics: its own when the memory kept them per kernel, the
    // whole run's for a graph of one kernel, else none (an ideal memory's are all idle).
    let stats = memory.into_stats();
    let channel_count = stats.channels.len();
    let mut kernel_channels = stats.per_kernel.map(Vec::into_iter);
    let mut all_channels = (kernels == 1).then_some(stats.channels);
    let kernel_sims = (0..kernels)
        .map(|kernel| {
            let (first, last_end, last_node) = span[kernel];
            // Only a graph of one kernel may start before its compute (or have none).
            let first = if kernels == 1 { 0 } else { first.min(last_end) };
            let own = (kernels > 1).then_some(kernel as u32);
            KernelSim {
                cycles: last_end - first,
                start_cycle: first,
                macs: totals[kernel].macs,
                bytes_tiled: totals[kernel].bytes_tiled,
                // A graph of one kernel: its walk is the graph's.
                attribution: match own {
                    Some(_) => walk.attribute(last_node, first, own),
                    None => attribution,
                },
                engine_busy_cycles: std::mem::take(&mut busy[kernel]),
                channels: match (&mut kernel_channels, all_channels.take()) {
                    (Some(per_kernel), _) => per_kernel.next().expect("stats of every kernel"),
                    (None, Some(whole)) => whole,
                    (None, None) => vec![ChannelStats::default(); channel_count],
                },
                events: events[kernel],
            }
        })
        .collect();
    SCRATCH.with(|cell| cell.set(scratch));
    Ok(GraphSim {
        cycles,
        attribution,
        kernels: kernel_sims,
        engines: engine_attribution,
        timeline,
    })
}

/// Hands transfer `node`'s requests to the memory at `now` (recorded as when it was issued);
/// returns when it is done, unless the memory reports that later.
fn issue<M: Memory>(
    memory: &mut M,
    hbm_busy: &mut Vec<(u64, u64)>,
    issued: &mut [u64],
    (machine, nodes): (&Machine, &petgraph::graph::DiGraph<Node, EdgeKind>),
    node: NodeIndex,
    now: u64,
) -> Option<u64> {
    let data = &nodes[node];
    let (NodeKind::Load(requests) | NodeKind::Store(requests)) = &data.kind else {
        unreachable!("only transfers are issued to the memory");
    };
    issued[node.index()] = now;
    let port = machine.port(data.engine as usize);
    let write = matches!(data.kind, NodeKind::Store(_));
    let tag = node.index() as u32;
    let done = memory.transfer(requests, port, now, data.kernel as usize, write, tag);
    if let Some(done) = done
        && !requests.is_empty()
    {
        cover(hbm_busy, (now, done));
    }
    done
}

/// Schedules node `index` to finish at `finish`, once its finish is known.
fn schedule(queue: &mut EventQueue, end: &mut [u64], index: usize, finish: Option<u64>) {
    if let Some(finish) = finish {
        end[index] = finish;
        queue.push(finish, index as u32);
    }
}

/// Adds an interval that starts no earlier than those before it, merged with the last where
/// they touch or overlap.
fn extend(intervals: &mut Vec<(u64, u64)>, (from, to): (u64, u64)) {
    match intervals.last_mut() {
        Some(last) if from <= last.1 => last.1 = last.1.max(to),
        _ => intervals.push((from, to)),
    }
}

/// Adds an interval anywhere to disjoint intervals in order, merging those it touches
/// (mostly at the end: transfers end roughly in the order they start).
fn cover(intervals: &mut Vec<(u64, u64)>, (from, to): (u64, u64)) {
    if intervals.last().is_none_or(|last| last.0 <= from) {
        return extend(intervals, (from, to));
    }
    // The first interval starting after `from`; the one before may reach it.
    let mut at = intervals.partition_point(|interval| interval.0 <= from);
    if at > 0 && intervals[at - 1].1 >= from {
        at -= 1;
        intervals[at].1 = intervals[at].1.max(to);
    } else {
        intervals.insert(at, (from, to));
    }
    let reach = intervals[at].1;
    let absorbed = intervals[at + 1..]
        .iter()
        .take_while(|interval| interval.0 <= reach)
        .count();
    if absorbed > 0 {
        intervals[at].1 = reach.max(intervals[at + absorbed].1);
        intervals.drain(at + 1..=at + absorbed);
    }
}

/// Each engine's `cycles` by cause: its nodes' busy time, and each idle gap before a node
/// as [`Walk::idle_before`] names it; after its last node, drain (`dependency`). Also when
/// each engine was busy. `on_engine`: each engine's nodes in the order they started.
fn engine_attribution(
    nodes: &petgraph::graph::DiGraph<Node, EdgeKind>,
    on_engine: &[Vec<u32>],
    start: &[u64],
    end: &[u64],
    walk: &Walk,
    cycles: u64,
) -> (Vec<Attribution>, Vec<Vec<(u64, u64)>>) {
    on_engine
        .iter()
        .map(|indices| {
            let mut attribution: Attribution = [0; Bottleneck::COUNT];
            let mut busy = Vec::new();
            let mut free = 0;
            for index in indices.iter().map(|&i| i as usize) {
                if start[index] > free {
                    let idle = walk.idle_before(NodeIndex::new(index), free);
                    for (sum, cycles) in attribution.iter_mut().zip(idle) {
                        *sum += cycles;
                    }
                }
                let cause = match nodes[NodeIndex::new(index)].kind {
                    NodeKind::Gemm { .. } => Bottleneck::Compute,
                    _ => Bottleneck::VectorUnit,
                };
                attribution[cause as usize] += end[index] - start[index];
                extend(&mut busy, (start[index], end[index]));
                free = end[index];
            }
            attribution[Bottleneck::Dependency as usize] += cycles - free;
            (attribution, busy)
        })
        .unzip()
}

/// Starts `node` on a FIFO engine at `now` or when the engine frees, whichever is later.
fn occupy(
    engine: &mut (u64, Option<NodeIndex>),
    node: NodeIndex,
    now: u64,
    cycles: u64,
    binding: &mut Binding,
) -> (u64, u64) {
    let (free, previous) = *engine;
    if free > now
        && let Some(previous) = previous
    {
        *binding = Binding::Unit(previous);
    }
    let begin = now.max(free);
    *engine = (begin + cycles, Some(node));
    (begin, begin + cycles)
}

/// The deadlock a run ended in: the stream FIFO (or buffer) a waiting node waits on and the
/// nodes waiting.
fn deadlock(graph: &KernelGraph, labels: &[String], pending: &[u32]) -> SimError {
    let nodes = &graph.graph;
    let waiting: Vec<NodeIndex> = nodes
        .node_indices()
        .filter(|n| pending[n.index()] > 0)
        .collect();
    let name = |n: NodeIndex| {
        format!(
            "`{}` ({})",
            nodes[n].label, labels[nodes[n].kernel as usize]
        )
    };
    // A waiting node held back by a reader that never ran: a full FIFO.
    let fifo = waiting.iter().find_map(|&n| {
        nodes
            .edges_directed(n, petgraph::Direction::Incoming)
            .find(|e| *e.weight() == EdgeKind::Fifo && pending[e.source().index()] > 0)
            .map(|e| (n, e.source()))
    });
    let detail = match fifo {
        Some((push, reader)) => format!(
            "the stream {} -> {} is full: {} waits for {} to read a tile, which waits for \
             tiles not yet pushed ({} nodes cannot run); deepen depth_tiles or use via = \
             \"buffer\"",
            labels[nodes[push].kernel as usize],
            labels[nodes[reader].kernel as usize],
            name(push),
            name(reader),
            waiting.len()
        ),
        None => format!(
            "{} nodes wait on each other, among them {}",
            waiting.len(),
            waiting
                .iter()
                .take(3)
                .map(|&n| name(n))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    SimError::Deadlock {
        unit: labels.join(", "),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::cover;
    use proptest::prelude::*;

    proptest! {
        /// Intervals added in any order (transfers the memory reports late) merge to what
        /// merging them sorted by start gives.
        #[test]
        fn cover_merges_in_any_order(
            intervals in prop::collection::vec((0u64..200, 0u64..30), 0..40),
            order in any::<u64>(),
        ) {
            let intervals: Vec<(u64, u64)> = intervals.iter().map(|&(from, length)| (from, from + length)).collect();
            let mut shuffled = intervals.clone();
            let count = shuffled.len();
            for index in 0..count {
                let swap = (order.rotate_left(index as u32) as usize) % count;
                shuffled.swap(index, swap);
            }
            let mut covered = Vec::new();
            for &interval in &shuffled {
                cover(&mut covered, interval);
            }
            let mut sorted = intervals;
            sorted.sort();
            let mut merged: Vec<(u64, u64)> = Vec::new();
            for (from, to) in sorted {
                match merged.last_mut() {
                    Some(last) if from <= last.1 => last.1 = last.1.max(to),
                    _ => merged.push((from, to)),
                }
            }
            prop_assert_eq!(covered, merged);
        }
    }
}
