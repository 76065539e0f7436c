//! Discrete-event simulation of a lowered kernel, or of a layer's kernels as one graph, on the
//! design's engines and memory.
//!
//! Time is an integer count of fabric cycles. The only event is "node finished"; the queue is
//! ordered by (cycle, insertion sequence), so runs are deterministic. A node whose inputs are
//! all done is dispatched at once: engines are FIFO servers (a node starts when both its
//! inputs and its engine are free; timing in [`array`](mod@array), [`dot`], [`vector`]), a transfer goes
//! to the [`memory`]: per-channel requests each served by its HBM pseudo-channel (see
//! [`hbm`]), or no time with `memory = "ideal"`. Buffer slots and stream FIFOs are edges of
//! the graph (see the lowering). After the run, the critical path is walked back from the last
//! node and every cycle is accounted to what held it (see `attribution`): compute, HBM
//! bandwidth, HBM latency, buffer capacity, a vector unit, dependency, and for a kernel that
//! waited on others, starved, sync or backpressure; every engine's idle time likewise.

pub mod array;
mod attribution;
pub mod budget;
mod check;
pub mod dot;
pub mod dram;
mod engine;
pub mod hbm;
mod machine;
pub mod memory;
mod pipeline;
pub mod power;
pub mod probe;
mod queue;
pub mod switch;
pub mod vector;
mod workload;

pub use check::{
    CrossCheck, SimTotals, cross_check, encoder_totals, kernel_roof, roofline_seconds,
};
pub use engine::{GraphSim, simulate, simulate_graph};
pub use machine::{Machine, engine_cycles};
pub use pipeline::{PipelineModel, pipeline_model};
pub use workload::{UnitSim, WorkloadSim, event_bound, simulate_workload};

use crate::config::design::Design;
use crate::lower::{KernelGraph, LowerError, NodeKind};
use hbm::ChannelStats;

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
    /// after its last one ends, which only overlapping consecutive kernels would hide; in a
    /// layer graph also the time an engine or buffer slot was held by another kernel.
    Dependency,
    /// Waiting for tiles of an upstream kernel's output (a slower producer).
    Starved,
    /// Waiting for a place in a full stream FIFO (a slower consumer).
    Backpressure,
    /// Gathering several tiles of an upstream kernel's output (e.g. a softmax row over
    /// every key tile of its head).
    Sync,
    /// An instruction-driven design's controller: issuing and synchronising operations and
    /// layers, setting up DMA transfers (`[control]`).
    Control,
}

/// Cycles per [`Bottleneck`], indexed like [`Bottleneck::ALL`].
pub type Attribution = [u64; Bottleneck::COUNT];

impl Bottleneck {
    /// How many causes there are.
    pub const COUNT: usize = 10;

    /// Every cause, in the order tables list them.
    pub const ALL: [Bottleneck; Bottleneck::COUNT] = [
        Bottleneck::Compute,
        Bottleneck::HbmBandwidth,
        Bottleneck::HbmLatency,
        Bottleneck::BufferCapacity,
        Bottleneck::VectorUnit,
        Bottleneck::Dependency,
        Bottleneck::Starved,
        Bottleneck::Backpressure,
        Bottleneck::Sync,
        Bottleneck::Control,
    ];

    /// The name tables use.
    pub fn name(self) -> &'static str {
        match self {
            Bottleneck::Compute => "compute",
            Bottleneck::HbmBandwidth => "hbm_bandwidth",
            Bottleneck::HbmLatency => "hbm_latency",
            Bottleneck::BufferCapacity => "buffer_capacity",
            Bottleneck::VectorUnit => "vector_unit",
            Bottleneck::Dependency => "dependency",
            Bottleneck::Starved => "starved",
            Bottleneck::Backpressure => "backpressure",
            Bottleneck::Sync => "sync",
            Bottleneck::Control => "control",
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
    /// When it started.
    pub start_cycle: u64,
    /// When it ended.
    pub end_cycle: u64,
    /// The engine or channel it ran on.
    pub resource: &'a str,
    /// Its kernel's label.
    pub kernel: &'a str,
    /// Its label.
    pub node: &'a str,
    /// `load`, `store`, `gemm` or `vector`.
    pub kind: &'static str,
    /// Bytes it moved.
    pub bytes: u64,
}

/// Receives every executed node as the simulation runs; the engine never opens files.
pub trait TraceSink {
    /// Receives one executed node.
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

/// Events a run may simulate unless told otherwise (`--max-events`): 2^24, under half a
/// minute at a whole run's 1.1–2.3 M events per CPU-second (lowering and outputs included;
/// measured on the 2-core development machine: the spatial design's full step at 1,800
/// language tokens, 443 k events in 0.39 s of user and system time (GNU time); Llama-2-7B's
/// 4,096-token prefill, 96 k in 0.042 s of task-clock (`perf stat`)), not at the event loop's
/// 15–20 M alone.
pub const DEFAULT_MAX_EVENTS: u64 = 1 << 24;

/// A simulation that cannot finish within the engine's bounds (the user's: an absurd design).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SimError {
    /// Simulated time passed [`MAX_SIMULATED_CYCLES`] in one kernel.
    #[error(
        "kernel {kernel}: simulated time passed {MAX_SIMULATED_CYCLES} cycles; the design is \
         too slow for this workload to simulate (larger arrays or a higher clock_mhz)"
    )]
    TimeLimit {
        /// The kernel being simulated.
        kernel: String,
    },
    /// The distinct layers would take more events than the run allows.
    #[error(
        "the run would simulate {events} events (limit {limit}); raise --max-events, or use \
         fewer tokens (--decode, --language-tokens), larger tiles or a smaller --batch"
    )]
    TooManyEvents {
        /// Events the run would take.
        events: u64,
        /// The limit (`--max-events`).
        limit: u64,
    },
    /// Nothing can run and work remains: a stream FIFO or buffer the nodes wait on in a
    /// circle (the user's: a link too shallow for the order the consumer reads in).
    #[error("deadlock in {unit}: {detail}")]
    Deadlock {
        /// The unit (layer, or layers) simulated.
        unit: String,
        /// What waits on what.
        detail: String,
    },
    /// The unit could not be lowered onto the design.
    #[error(transparent)]
    Lower(#[from] LowerError),
    /// The caller asked the job to stop ([`crate::cancel`]).
    #[error("interrupted")]
    Interrupted,
}

impl SimError {
    /// Whether the input was at fault rather than roofsim (a lowering cycle is a bug; an
    /// interruption is neither).
    pub fn is_user_error(&self) -> bool {
        match self {
            SimError::Lower(error) => error.is_user_error(),
            SimError::TimeLimit { .. }
            | SimError::TooManyEvents { .. }
            | SimError::Deadlock { .. } => true,
            SimError::Interrupted => false,
        }
    }
}

/// What one kernel's simulation measured.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelSim {
    /// Its span: from its first node's start to its last node's end.
    pub cycles: u64,
    /// Where the span starts in its layer's graph (0 when each kernel runs alone).
    pub start_cycle: u64,
    /// MACs of its GEMM tiles.
    pub macs: u64,
    /// Bytes moved, re-reads across tiles counted.
    pub bytes_tiled: u64,
    /// Cycles per [`Bottleneck`], summing to `cycles`: the kernel's own critical path, with
    /// the time it waited on other kernels as starved, sync, backpressure or dependency.
    pub attribution: Attribution,
    /// Busy cycles of each engine of [`Design::engines`].
    pub engine_busy_cycles: Vec<u64>,
    /// Per platform channel.
    pub channels: Vec<ChannelStats>,
    /// Events (nodes) it simulated.
    pub events: u64,
}

impl KernelSim {
    /// Busy cycles summed over the design's GEMM engines.
    pub fn array_busy_cycles(&self, design: &Design) -> u64 {
        design
            .engines()
            .iter()
            .zip(&self.engine_busy_cycles)
            .filter(|(engine, _)| engine.runs_gemms())
            .map(|(_, busy)| busy)
            .sum()
    }

    /// The cause that held the kernel longest.
    pub fn bottleneck(&self) -> Bottleneck {
        Bottleneck::dominant(&self.attribution)
    }
}

/// Cycles a GEMM tile or vector pass holds its engine of `design`, as the engine's model says
/// ([`engine_cycles`]); transfers (0 here) are timed by the memory.
pub fn compute_cycles(kind: &NodeKind, design: &Design) -> u64 {
    match *kind {
        NodeKind::Gemm { engine, .. } | NodeKind::Vector { engine, .. } => {
            engine_cycles(&design.engines()[engine as usize].model, kind)
        }
        NodeKind::Load(_) | NodeKind::Store(_) => 0,
    }
}

/// The engine a node runs on (an index into [`Design::engines`]); `None` for a transfer.
fn engine_of(kind: &NodeKind) -> Option<usize> {
    match *kind {
        NodeKind::Gemm { engine, .. } | NodeKind::Vector { engine, .. } => Some(engine as usize),
        NodeKind::Load(_) | NodeKind::Store(_) => None,
    }
}

/// Busy cycles of each engine as the timing models give them for the graph's nodes, without
/// simulating it.
pub fn engine_busy_cycles(graph: &KernelGraph, design: &Design) -> Vec<u64> {
    let mut busy = vec![0; design.engines().len()];
    for node in graph.graph.node_weights() {
        if let Some(engine) = engine_of(&node.kind) {
            busy[engine] += compute_cycles(&node.kind, design);
        }
    }
    busy
}

/// The trace track of a node: its engine, or the channels of a transfer.
fn resource_name<'a>(kind: &NodeKind, machine: &'a Machine) -> std::borrow::Cow<'a, str> {
    match kind {
        NodeKind::Gemm { .. } | NodeKind::Vector { .. } => {
            let engine = engine_of(kind).expect("a compute node");
            machine.engine_name(engine).into()
        }
        NodeKind::Load(requests) | NodeKind::Store(requests) => {
            match (requests.first(), requests.last()) {
                (Some(first), Some(last)) if first.channel != last.channel => {
                    format!("hbm{}-{}", first.channel, last.channel).into()
                }
                (Some(first), _) => format!("hbm{}", first.channel).into(),
                _ => "on-chip".into(),
            }
        }
    }
}
