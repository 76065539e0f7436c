//! Discrete-event simulation of a lowered kernel on the design's arrays, vector units and HBM.
//!
//! Time is an integer count of fabric cycles. The only event is "node finished"; the queue is
//! ordered by (cycle, insertion sequence), so runs are deterministic. A node whose inputs are
//! all done is dispatched at once: arrays and vector units are FIFO servers (a node starts when
//! both its inputs and its unit are free), a transfer is split into per-channel requests each
//! served FIFO by its pseudo-channel (see [`hbm`]). With `memory = "ideal"` transfers take no
//! time. After the run, the critical path is walked back from the last node and every cycle of
//! the kernel is accounted to what held it: compute, HBM bandwidth, HBM latency, buffer
//! capacity (a load that waited for a slot a compute held), a vector unit, or dependency
//! (fill and drain at the kernel's edges, which only overlapping kernels would hide).

pub mod array;
mod check;
pub mod hbm;
mod queue;
pub mod vector;
mod workload;

pub use check::{CrossCheck, SimTotals, cross_check, roofline_seconds};
pub use workload::{WorkloadSim, event_bound, simulate_workload};

use crate::config::design::{Design, MemoryModel};
use crate::config::platform::Platform;
use crate::lower::{EdgeKind, GraphTotals, KernelGraph, LowerError, NodeKind};
use hbm::{Channel, ChannelStats, ChannelTiming, TICKS_PER_CYCLE};
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use queue::EventQueue;

/// What a simulated cycle of a kernel was spent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bottleneck {
    /// GEMM tiles on the arrays (fill, streaming and drain of every fold).
    Compute,
    /// HBM transfers beyond their first access latency.
    HbmBandwidth,
    /// The access latency of HBM transfers on the critical path.
    HbmLatency,
    /// Transfers that waited for a buffer slot a compute still held.
    BufferCapacity,
    /// Passes on the vector units.
    VectorUnit,
    /// Fill and drain at the kernel's edges: transfers before its first compute starts or
    /// after its last one ends, which only overlapping consecutive kernels would hide.
    Dependency,
}

/// Cycles per [`Bottleneck`], indexed like [`Bottleneck::ALL`].
pub type Attribution = [u64; 6];

impl Bottleneck {
    pub const ALL: [Bottleneck; 6] = [
        Bottleneck::Compute,
        Bottleneck::HbmBandwidth,
        Bottleneck::HbmLatency,
        Bottleneck::BufferCapacity,
        Bottleneck::VectorUnit,
        Bottleneck::Dependency,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bottleneck::Compute => "compute",
            Bottleneck::HbmBandwidth => "hbm_bandwidth",
            Bottleneck::HbmLatency => "hbm_latency",
            Bottleneck::BufferCapacity => "buffer_capacity",
            Bottleneck::VectorUnit => "vector_unit",
            Bottleneck::Dependency => "dependency",
        }
    }

    /// The cause with the most cycles (ties: the first in [`Bottleneck::ALL`]).
    pub fn dominant(attribution: &Attribution) -> Bottleneck {
        let mut best = Bottleneck::Compute;
        for cause in Bottleneck::ALL {
            if attribution[cause as usize] > attribution[best as usize] {
                best = cause;
            }
        }
        best
    }
}

/// One executed node, as the trace sink receives it.
#[derive(Debug, Clone, Copy)]
pub struct TraceRecord<'a> {
    pub start_cycle: u64,
    pub end_cycle: u64,
    pub resource: &'a str,
    pub kernel: &'a str,
    pub node: &'a str,
    pub kind: &'static str,
    pub bytes: u64,
}

/// Receives every executed node as the simulation runs; the engine never opens files.
pub trait TraceSink {
    fn record(&mut self, record: &TraceRecord);

    /// Whether records are wanted at all; the engine skips building them when not.
    fn enabled(&self) -> bool {
        true
    }
}

/// A sink that drops everything (the default: tracing costs nothing when off).
#[derive(Debug, Default)]
pub struct NullSink;

impl TraceSink for NullSink {
    fn record(&mut self, _: &TraceRecord) {}

    fn enabled(&self) -> bool {
        false
    }
}

/// The latest cycle a simulation may reach: 2^50 cycles (43 days at 300 MHz), so that HBM
/// time in sub-cycle ticks never overflows.
pub const MAX_SIMULATED_CYCLES: u64 = 1 << 50;

/// Events a run may simulate unless told otherwise (`--max-events`): at the engine's 10–20 M
/// events per second, well under a minute.
pub const DEFAULT_MAX_EVENTS: u64 = 1 << 28;

/// A simulation that cannot finish within the engine's bounds (the user's: an absurd design).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SimError {
    #[error(
        "kernel {kernel}: simulated time passed {MAX_SIMULATED_CYCLES} cycles; the design is \
         too slow for this workload to simulate (larger arrays or a higher clock_mhz)"
    )]
    TimeLimit { kernel: String },
    /// The distinct layers would take more events than the run allows.
    #[error(
        "the run would simulate {events} events (limit {limit}); raise --max-events, or use \
         larger tiles or a smaller --batch"
    )]
    TooManyEvents { events: u64, limit: u64 },
    #[error(transparent)]
    Lower(#[from] LowerError),
}

impl SimError {
    /// Whether the input was at fault rather than roofsim (a lowering cycle is a bug).
    pub fn is_user_error(&self) -> bool {
        match self {
            SimError::Lower(error) => error.is_user_error(),
            SimError::TimeLimit { .. } | SimError::TooManyEvents { .. } => true,
        }
    }
}

/// What one kernel's simulation measured.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelSim {
    pub cycles: u64,
    pub macs: u64,
    pub bytes_tiled: u64,
    /// Cycles per [`Bottleneck`], summing to `cycles`.
    pub attribution: Attribution,
    /// Busy cycles of each engine: the arrays in order, then the vector units.
    pub engine_busy_cycles: Vec<u64>,
    /// Per platform channel.
    pub channels: Vec<ChannelStats>,
    pub events: u64,
}

impl KernelSim {
    /// Busy cycles summed over the design's arrays.
    pub fn array_busy_cycles(&self, design: &Design) -> u64 {
        self.engine_busy_cycles[..design.array_count() as usize]
            .iter()
            .sum()
    }

    /// The cause that held the kernel longest.
    pub fn bottleneck(&self) -> Bottleneck {
        Bottleneck::dominant(&self.attribution)
    }
}

#[derive(Clone, Copy)]
enum Binding {
    /// A root node: nothing before it.
    Start,
    /// Waited for this predecessor over an edge of this kind.
    Edge(NodeIndex, EdgeKind),
    /// Waited for the unit this earlier node was using.
    Unit(NodeIndex),
}

/// Runs one lowered kernel from cycle 0 and reports what it measured.
pub fn simulate(
    graph: &KernelGraph,
    kernel: &str,
    design: &Design,
    platform: &Platform,
    sink: &mut dyn TraceSink,
) -> Result<KernelSim, SimError> {
    let nodes = &graph.graph;
    let count = nodes.node_count();
    let timing = ChannelTiming::new(platform, design);
    let ideal = design.memory() == MemoryModel::Ideal;
    let latency_cycles = timing.latency_ticks.div_ceil(TICKS_PER_CYCLE);

    // Predecessors each node waits for, counted in one pass over the edge array.
    let mut pending = vec![0u32; count];
    for edge in nodes.raw_edges() {
        pending[edge.target().index()] += 1;
    }
    let mut end = vec![0u64; count];
    let mut start = vec![0u64; count];
    let mut binding = vec![Binding::Start; count];
    let mut array_free = vec![(0u64, None::<NodeIndex>); design.array_count() as usize];
    let mut vector_free = vec![(0u64, None::<NodeIndex>); design.vector_units() as usize];
    let mut channels = vec![Channel::default(); platform.hbm.channels as usize];
    let mut queue = EventQueue::default();

    // Reserves the node's unit or channels; returns its start and finish cycles.
    let mut reserve = |node: NodeIndex, now: u64, binding: &mut Binding| -> (u64, u64) {
        match &nodes[node].kind {
            NodeKind::Gemm { array, .. } => {
                let cycles = compute_cycles(&nodes[node].kind, design);
                occupy(&mut array_free[*array as usize], node, now, cycles, binding)
            }
            NodeKind::Vector { unit, .. } => {
                let cycles = compute_cycles(&nodes[node].kind, design);
                occupy(&mut vector_free[*unit as usize], node, now, cycles, binding)
            }
            NodeKind::Load(requests) | NodeKind::Store(requests) => {
                let arrival_tick = now * TICKS_PER_CYCLE;
                let mut done_tick = arrival_tick;
                if !ideal {
                    let unit = nodes[node].unit;
                    for request in requests {
                        let hops = timing.hops(unit, request.channel);
                        let done = channels[request.channel as usize].serve(
                            &timing,
                            arrival_tick,
                            request.bytes,
                            request.bursts,
                            hops,
                        );
                        done_tick = done_tick.max(done);
                    }
                }
                (now, done_tick.div_ceil(TICKS_PER_CYCLE))
            }
        }
    };

    for node in nodes.node_indices() {
        if pending[node.index()] == 0 {
            let index = node.index();
            (start[index], end[index]) = reserve(node, 0, &mut binding[index]);
            queue.push(end[index], index as u32);
        }
    }
    let tracing = sink.enabled();
    let mut last = None;
    while let Some((now, index)) = queue.pop() {
        if now > MAX_SIMULATED_CYCLES {
            return Err(SimError::TimeLimit {
                kernel: kernel.to_string(),
            });
        }
        let node = NodeIndex::new(index as usize);
        last = Some(node);
        if tracing {
            let data = &nodes[node];
            sink.record(&TraceRecord {
                start_cycle: start[index as usize],
                end_cycle: now,
                resource: &resource_name(&data.kind, design.array_count() as usize),
                kernel,
                node: &data.label,
                kind: data.kind_name(),
                bytes: data.bytes,
            });
        }
        for edge in nodes.edges(node) {
            let successor = edge.target();
            pending[successor.index()] -= 1;
            let next = successor.index();
            if pending[next] == 0 {
                binding[next] = Binding::Edge(node, *edge.weight());
                (start[next], end[next]) = reserve(successor, now, &mut binding[next]);
                queue.push(end[next], next as u32);
            }
        }
    }
    assert!(
        pending.iter().all(|&p| p == 0),
        "an acyclic graph runs every node"
    );

    // One pass over the executed nodes: the span of the kernel's compute (transfers outside
    // it are fill and drain), each engine's busy cycles, the bytes moved and the MACs.
    let arrays = design.array_count() as usize;
    let mut engine_busy = vec![0u64; arrays + design.vector_units() as usize];
    let (mut first_compute, mut last_compute) = (u64::MAX, 0);
    let mut totals = GraphTotals::default();
    for (index, node) in nodes.node_weights().enumerate() {
        totals.count(node);
        let Some(engine) = engine_of(&node.kind, arrays) else {
            continue;
        };
        engine_busy[engine] += end[index] - start[index];
        first_compute = first_compute.min(start[index]);
        last_compute = last_compute.max(end[index]);
    }
    if first_compute == u64::MAX {
        // No compute at all: no transfer is fill or drain, all are latency and bandwidth.
        (first_compute, last_compute) = (0, u64::MAX);
    }
    let mut attribution: Attribution = [0; 6];
    let mut cursor = last;
    while let Some(node) = cursor {
        let index = node.index();
        let (segment_start, previous, waited_for_compute_slot) = match binding[index] {
            Binding::Start => (0, None, false),
            // A transfer that waited for a slot a compute held: more slots would have hidden
            // it. (A slot held by a store is a transfer chain: bandwidth, not capacity.)
            Binding::Edge(p, kind) => (
                end[p.index()],
                Some(p),
                kind == EdgeKind::BufferSlot
                    && matches!(
                        nodes[p].kind,
                        NodeKind::Gemm { .. } | NodeKind::Vector { .. }
                    ),
            ),
            Binding::Unit(p) => (end[p.index()], Some(p), false),
        };
        let duration = end[index] - segment_start;
        match nodes[node].kind {
            NodeKind::Gemm { .. } => attribution[Bottleneck::Compute as usize] += duration,
            NodeKind::Vector { .. } => attribution[Bottleneck::VectorUnit as usize] += duration,
            NodeKind::Load(_) | NodeKind::Store(_)
                if end[index] <= first_compute || segment_start >= last_compute =>
            {
                attribution[Bottleneck::Dependency as usize] += duration
            }
            NodeKind::Load(_) | NodeKind::Store(_) if waited_for_compute_slot => {
                attribution[Bottleneck::BufferCapacity as usize] += duration
            }
            NodeKind::Load(_) | NodeKind::Store(_) => {
                let latency = duration.min(latency_cycles);
                attribution[Bottleneck::HbmLatency as usize] += latency;
                attribution[Bottleneck::HbmBandwidth as usize] += duration - latency;
            }
        }
        cursor = previous;
    }
    let cycles = last.map_or(0, |node| end[node.index()]);
    debug_assert_eq!(attribution.iter().sum::<u64>(), cycles);
    Ok(KernelSim {
        cycles,
        macs: totals.macs,
        bytes_tiled: totals.bytes_tiled,
        attribution,
        engine_busy_cycles: engine_busy,
        channels: channels.into_iter().map(|c| c.stats).collect(),
        // One "node finished" event per node: the assert above holds every node ran.
        events: count as u64,
    })
}

/// Cycles a GEMM tile or vector pass holds its unit, as the design's array and vector models
/// say ([`array::tile_cycles`], [`vector::pass_cycles`]); transfers are timed by the HBM.
pub fn compute_cycles(kind: &NodeKind, design: &Design) -> u64 {
    match *kind {
        NodeKind::Gemm { m, n, k, .. } => array::tile_cycles(&design.array(), m, n, k),
        NodeKind::Vector { elements, .. } => vector::pass_cycles(elements, design.vector_lanes()),
        NodeKind::Load(_) | NodeKind::Store(_) => 0,
    }
}

/// The engine a node runs on, numbered as in [`KernelSim::engine_busy_cycles`]: each of the
/// `arrays` arrays, then each vector unit; `None` for a transfer.
fn engine_of(kind: &NodeKind, arrays: usize) -> Option<usize> {
    match *kind {
        NodeKind::Gemm { array, .. } => Some(array as usize),
        NodeKind::Vector { unit, .. } => Some(arrays + unit as usize),
        NodeKind::Load(_) | NodeKind::Store(_) => None,
    }
}

/// Busy cycles of each array, then of each vector unit, as the timing models give them for
/// the graph's nodes, without simulating it.
pub fn engine_busy_cycles(graph: &KernelGraph, design: &Design) -> Vec<u64> {
    let arrays = design.array_count() as usize;
    let mut busy = vec![0; arrays + design.vector_units() as usize];
    for node in graph.graph.node_weights() {
        if let Some(engine) = engine_of(&node.kind, arrays) {
            busy[engine] += compute_cycles(&node.kind, design);
        }
    }
    busy
}

/// Starts `node` on a FIFO unit at `now` or when the unit frees, whichever is later.
fn occupy(
    unit: &mut (u64, Option<NodeIndex>),
    node: NodeIndex,
    now: u64,
    cycles: u64,
    binding: &mut Binding,
) -> (u64, u64) {
    let (free, previous) = *unit;
    if free > now
        && let Some(previous) = previous
    {
        *binding = Binding::Unit(previous);
    }
    let begin = now.max(free);
    *unit = (begin + cycles, Some(node));
    (begin, begin + cycles)
}

/// The name of engine `engine` (numbered as in [`KernelSim::engine_busy_cycles`]) of a
/// design with `arrays` arrays: `array0`..., then `vector0`...
pub fn engine_name(engine: usize, arrays: usize) -> String {
    if engine < arrays {
        format!("array{engine}")
    } else {
        format!("vector{}", engine - arrays)
    }
}

fn resource_name(kind: &NodeKind, arrays: usize) -> String {
    match kind {
        NodeKind::Gemm { .. } | NodeKind::Vector { .. } => {
            engine_name(engine_of(kind, arrays).expect("a compute node"), arrays)
        }
        NodeKind::Load(requests) | NodeKind::Store(requests) => {
            match (requests.first(), requests.last()) {
                (Some(first), Some(last)) if first.channel != last.channel => {
                    format!("hbm{}-{}", first.channel, last.channel)
                }
                (Some(first), _) => format!("hbm{}", first.channel),
                _ => "hbm".to_string(),
            }
        }
    }
}
