//! Tests that pin each hardware model to its documented timing, each named after the
//! plausible mistake it catches: attribution on hand-built graphs with known splits, vector
//! pass timing, the fold-overlap rule of every dataflow, and every buffer ring's bound.

use petgraph::graph::{DiGraph, NodeIndex};
use roofsim::config::Source;
use roofsim::config::design::{
    ArrayShape, DEFAULT_DESIGN, Dataflow, Design, EngineModel, MemoryModel, RawDesign, load_design,
};
use roofsim::config::model::{default_model, default_policy};
use roofsim::config::platform::{Platform, default_platform};
use roofsim::lower::{ChannelRequest, EdgeKind, KernelGraph, Node, NodeKind, lower};
use roofsim::sim::array::tile_cycles;
use roofsim::sim::hbm::{ChannelTiming, TICKS_PER_CYCLE};
use roofsim::sim::{Bottleneck, KernelSim, NullSink, simulate};
use roofsim::workload::{Fusion, Workload, WorkloadChoices};

fn base() -> (Platform, Design) {
    let platform = default_platform();
    let design = load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform).unwrap();
    (platform, design)
}

/// The default workload (3 cameras, batch 1) at `design`'s precision and fusion.
fn smolvla(design: &Design) -> Workload {
    let choices = WorkloadChoices {
        batch: 1,
        fusion: design.fusion(),
        ..WorkloadChoices::default()
    };
    choices
        .build(
            &default_model(),
            Some(&default_policy()),
            design.precision(),
        )
        .unwrap()
}

fn changed(design: &Design, platform: &Platform, change: impl FnOnce(&mut RawDesign)) -> Design {
    design.modified(platform, "test", change).unwrap()
}

/// A graph built by hand, node by node.
#[derive(Default)]
struct Graph(DiGraph<Node, EdgeKind>);

impl Graph {
    /// A GEMM tile that holds one 64 × 64 array of the default design for `cycles` (one
    /// output-stationary fold of 64 + 64 + K − 2 cycles).
    fn gemm(&mut self, array: u32, cycles: u64) -> NodeIndex {
        self.0.add_node(Node {
            kind: NodeKind::gemm(array as usize, 64, 64, cycles - 126),
            label: "gemm".into(),
            bytes: 0,
            engine: array,
            kernel: 0,
        })
    }

    /// A load of `bursts` bursts of 512 B from channel 0.
    fn load(&mut self, bursts: u64) -> NodeIndex {
        let bytes = 512 * bursts;
        self.0.add_node(Node {
            kind: NodeKind::Load(std::sync::Arc::new([ChannelRequest::contiguous(
                0, 0, bytes, bursts,
            )])),
            label: "load".into(),
            bytes,
            engine: 0,
            kernel: 0,
        })
    }

    fn edge(&mut self, from: NodeIndex, to: NodeIndex, kind: EdgeKind) {
        self.0.add_edge(from, to, kind);
    }

    fn run(self, design: &Design, platform: &Platform) -> KernelSim {
        let graph = KernelGraph { graph: self.0 };
        let sim = simulate(&graph, "hand-built", design, platform, &mut NullSink).unwrap();
        assert_eq!(sim.attribution.iter().sum::<u64>(), sim.cycles);
        sim
    }
}

/// Cycles a lone load of `bursts` 512 B bursts takes on an idle channel: its service (data
/// at peak plus the per-burst overhead; 512 B bursts are longer than the request interval)
/// and one access latency, in whole cycles.
fn lone_load_cycles(timing: &ChannelTiming, bursts: u64) -> u64 {
    let data = (512 * bursts * timing.ticks_per_byte_q16).div_ceil(65536);
    let ticks = data + bursts * timing.overhead_ticks_per_burst + timing.latency_ticks;
    ticks.div_ceil(TICKS_PER_CYCLE)
}

/// Catches: latency and bandwidth attribution swapped, or the HBM latency dropped. A load
/// between two GEMM tiles on the critical path splits into its first `latency` cycles
/// (hbm_latency) and the rest (hbm_bandwidth).
#[test]
fn a_load_between_computes_splits_into_latency_and_bandwidth() {
    let (platform, design) = base();
    let timing = ChannelTiming::new(&platform, &design);
    let latency_cycles = timing.latency_ticks.div_ceil(TICKS_PER_CYCLE);
    assert_eq!(latency_cycles, 33, "107 ns at 300 MHz, rounded up");
    let mut graph = Graph::default();
    let first = graph.gemm(0, 200);
    let load = graph.load(64);
    let second = graph.gemm(0, 300);
    graph.edge(first, load, EdgeKind::Data);
    graph.edge(load, second, EdgeKind::Data);
    let sim = graph.run(&design, &platform);
    let load_cycles = lone_load_cycles(&timing, 64);
    // 64 × 512 B at 14.4 GB/s is 2.276 µs (no burst overhead: the platform's fast model
    // has none, as the bank model gives), plus 107 ns: 2.383 µs, 715 cycles at 300 MHz.
    assert_eq!(load_cycles, 715);
    assert_eq!(sim.cycles, 200 + load_cycles + 300);
    let cause = |c: Bottleneck| sim.attribution[c as usize];
    assert_eq!(cause(Bottleneck::Compute), 500);
    assert_eq!(cause(Bottleneck::HbmLatency), 33);
    assert_eq!(cause(Bottleneck::HbmBandwidth), load_cycles - 33);
}

/// Catches: a slot wait blamed on bandwidth. The same load waiting for a buffer slot a GEMM
/// held is buffer capacity; a load before the first compute is fill (dependency).
#[test]
fn slot_waits_are_buffer_capacity_and_edges_are_dependency() {
    let (platform, design) = base();
    let timing = ChannelTiming::new(&platform, &design);
    let mut graph = Graph::default();
    let fill = graph.load(8);
    let first = graph.gemm(0, 200);
    let load = graph.load(64);
    let second = graph.gemm(0, 300);
    graph.edge(fill, first, EdgeKind::Data);
    graph.edge(first, load, EdgeKind::BufferSlot);
    graph.edge(load, second, EdgeKind::Data);
    let sim = graph.run(&design, &platform);
    let cause = |c: Bottleneck| sim.attribution[c as usize];
    assert_eq!(cause(Bottleneck::Dependency), lone_load_cycles(&timing, 8));
    assert_eq!(
        cause(Bottleneck::BufferCapacity),
        lone_load_cycles(&timing, 64)
    );
    assert_eq!(cause(Bottleneck::Compute), 500);
    assert_eq!(
        cause(Bottleneck::HbmLatency) + cause(Bottleneck::HbmBandwidth),
        0
    );
}

/// Catches: two tiles on one array running at once. Unordered tiles on one array follow
/// each other; on two arrays they overlap.
#[test]
fn tiles_on_one_array_queue_and_on_two_arrays_overlap() {
    let (platform, design) = base();
    let mut one = Graph::default();
    one.gemm(0, 200);
    one.gemm(0, 250);
    assert_eq!(one.run(&design, &platform).cycles, 450);
    let mut two = Graph::default();
    two.gemm(0, 200);
    two.gemm(1, 250);
    let sim = two.run(&design, &platform);
    assert_eq!(sim.cycles, 250);
    assert_eq!(sim.attribution[Bottleneck::Compute as usize], 250);
}

/// Catches: vector units faster or slower than `lanes` elements per cycle. Every pass of a
/// LayerNorm takes ceil(elements / lanes) cycles, and with ideal memory the kernel takes the
/// busiest unit's passes back to back.
#[test]
fn vector_passes_take_one_cycle_per_lanes_elements() {
    let (platform, design) = base();
    let ideal = changed(&design, &platform, |raw| raw.memory = MemoryModel::Ideal);
    let workload = smolvla(&design);
    let ln1 = workload.kernels.iter().find(|k| k.name == "ln1").unwrap();
    let graph = lower(ln1, &ideal).unwrap();
    let lanes = ideal.vector_lanes();
    let mut per_unit = vec![0u64; ideal.vector_units() as usize];
    let mut elements = 0;
    for node in graph.graph.node_weights() {
        if let NodeKind::Vector {
            engine,
            elements: pass,
        } = node.kind
        {
            let cycles = roofsim::sim::compute_cycles(&node.kind, &ideal);
            // `vector layernorm rows A..B`: rows × 768 elements.
            let label = node.label.to_string();
            let rows: Vec<u64> = label
                .rsplit(' ')
                .next()
                .unwrap()
                .split("..")
                .map(|r| r.parse().unwrap())
                .collect();
            let pass_elements = (rows[1] - rows[0]) * ln1.n;
            assert_eq!(pass, pass_elements, "{}", node.label);
            assert_eq!(cycles, pass_elements.div_ceil(lanes), "{}", node.label);
            per_unit[engine as usize - ideal.array_count() as usize] += cycles;
            elements += pass_elements;
        }
    }
    assert_eq!(elements, 3 * 1024 * 768, "every element of 3 images");
    let sim = simulate(&graph, "ln1", &ideal, &platform, &mut NullSink).unwrap();
    assert_eq!(sim.cycles, *per_unit.iter().max().unwrap());
    // 3072 rows of 768 B in chunks of 42 rows (a 32 KiB line buffer): 74 chunks dealt to 3
    // units in turn, so unit 0 takes 25 whole chunks of 42 × 768 / 256 = 126 cycles.
    assert_eq!(sim.cycles, 25 * 126);
}

/// Catches: a changed fold-overlap rule for any dataflow. Hand-derived counts on an 8×8
/// array (R = C = 8), with and without overlapped folds.
#[test]
fn fold_overlap_rule_of_every_dataflow() {
    let array = |dataflow, overlap_folds| ArrayShape {
        rows: 8,
        cols: 8,
        dataflow,
        overlap_folds,
    };
    // (dataflow, M, N, K, plain, overlapped)
    let cases = [
        // os: rows M = 40 (5 folds), cols N = 20 (3), T = K = 100: 15 folds of
        // 8 + 8 + 100 − 2 = 114; overlapped: 114 + 14 × max(100, 8).
        (Dataflow::Os, 40, 20, 100, 15 * 114, 114 + 14 * 100),
        // ws: rows K = 100 (13), cols N = 20 (3), T = M = 40, preload 8: 39 folds of
        // 8 + 8 + 8 + 40 − 2 = 62; overlapped: 62 + 38 × max(40, 8).
        (Dataflow::Ws, 40, 20, 100, 39 * 62, 62 + 38 * 40),
        // ws with T = M = 4 below R: each further fold waits for its preload, max(4, 8) = 8:
        // 39 folds of 8 + 8 + 8 + 4 − 2 = 26; overlapped 26 + 38 × 8.
        (Dataflow::Ws, 4, 20, 100, 39 * 26, 26 + 38 * 8),
        // is: rows K = 100 (13), cols M = 40 (5), T = N = 20, preload 8: 65 folds of
        // 8 + 8 + 8 + 20 − 2 = 42; overlapped 42 + 64 × max(20, 8).
        (Dataflow::Is, 40, 20, 100, 65 * 42, 42 + 64 * 20),
        // is with T = N = 3: 13 × 5 folds of 8 + 8 + 8 + 3 − 2 = 25; overlapped 25 + 64 × 8.
        (Dataflow::Is, 40, 3, 100, 65 * 25, 25 + 64 * 8),
    ];
    for (dataflow, m, n, k, plain, overlapped) in cases {
        assert_eq!(
            tile_cycles(&array(dataflow, false), m, n, k),
            plain,
            "{dataflow:?} {m}x{n}x{k}"
        );
        assert_eq!(
            tile_cycles(&array(dataflow, true), m, n, k),
            overlapped,
            "{dataflow:?} {m}x{n}x{k} overlapped"
        );
    }
}

/// The ring a node belongs to: its unit and, for loads, the operand it brings; for a GEMM
/// tile that starts an output tile (its first reduction step), the output ring.
fn ring(node: &Node) -> Option<(u32, String)> {
    let label = node.label.to_string();
    let mut words = label.split(' ');
    match (node.kind_name(), words.next()) {
        ("load", Some("load")) => Some((node.engine, words.next().unwrap().to_string())),
        ("gemm", Some("gemm")) if label.ends_with(" k0") => {
            Some((node.engine, "output".to_string()))
        }
        _ => None,
    }
}

/// Catches: any buffer ring (A, B, output C; Q, K, V of fused attention) left unbounded.
/// In each ring of each array, only the first `slots` tiles may start without waiting (a
/// buffer-slot edge) for the tile they replace.
#[test]
fn every_buffer_ring_holds_at_most_its_slots() {
    let (platform, design) = base();
    for slots in [1, 2, 3] {
        let design = changed(&design, &platform, |raw| {
            raw.buffers.slots = slots;
            raw.fusion = Fusion {
                attention: true,
                ..raw.fusion
            };
        });
        let workload = smolvla(&design);
        let mut rings_checked = std::collections::BTreeSet::new();
        for kernel in workload.kernels.iter().filter(|k| k.layer == Some(0)) {
            if !kernel.op.uses_arrays() {
                continue;
            }
            let graph = lower(kernel, &design).unwrap().graph;
            let mut unbound: std::collections::BTreeMap<(u32, String), u64> = Default::default();
            let mut members: std::collections::BTreeMap<(u32, String), u64> = Default::default();
            for index in graph.node_indices() {
                let Some(key) = ring(&graph[index]) else {
                    continue;
                };
                *members.entry(key.clone()).or_default() += 1;
                let waits = graph
                    .edges_directed(index, petgraph::Direction::Incoming)
                    .any(|e| *e.weight() == EdgeKind::BufferSlot);
                if !waits {
                    *unbound.entry(key).or_default() += 1;
                }
            }
            for (key, count) in &members {
                let free = unbound.get(key).copied().unwrap_or(0);
                assert!(
                    free <= slots,
                    "{}/{} ring {key:?}: {free} of {count} tiles start without a slot ({slots} slots)",
                    kernel.encoder,
                    kernel.name
                );
                if *count > slots {
                    rings_checked.insert(key.1.clone());
                }
            }
        }
        // The check saw rings of every kind fill up: GEMM A (x), B (w), outputs, and fused
        // attention's Q, K and V.
        for name in ["x", "w", "output", "q", "k", "v"] {
            assert!(rings_checked.contains(name), "{name}: {rings_checked:?}");
        }
    }
}

/// A simulation that passes 2^50 cycles stops with an error instead of overflowing the HBM
/// model's sub-cycle ticks.
#[test]
fn simulated_time_is_bounded() {
    let (platform, design) = base();
    let mut graph = Graph::default();
    // A vector pass of 2^51 lanes' worth of elements: one lane-wide step a cycle at least.
    let (unit, lanes) = design
        .engines()
        .iter()
        .enumerate()
        .find_map(|(index, engine)| match engine.model {
            EngineModel::Vector { lanes, .. } => Some((index as u32, lanes)),
            _ => None,
        })
        .unwrap();
    let slow = graph.0.add_node(Node {
        kind: NodeKind::Vector {
            engine: unit,
            elements: lanes << 51,
        },
        label: "pass".into(),
        bytes: 0,
        engine: unit,
        kernel: 0,
    });
    let load = graph.load(1);
    graph.edge(slow, load, EdgeKind::Data);
    let graph = KernelGraph { graph: graph.0 };
    let error = simulate(&graph, "slow", &design, &platform, &mut NullSink).unwrap_err();
    assert!(
        error.to_string().contains("passed 1125899906842624 cycles"),
        "{error}"
    );
}
