//! Lowering: tile counts, buffer rings, ports and size bounds.

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

/// The default smolVLA observation (batch 1) at the design's fusion and precision.
fn smolvla(design: &Design) -> crate::workload::Workload {
    use crate::config::model::{default_model, default_policy};
    let choices = crate::workload::WorkloadChoices {
        batch: 1,
        fusion: design.fusion(),
        ..Default::default()
    };
    choices
        .build(
            &default_model(),
            Some(&default_policy()),
            design.precision(),
        )
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
    for fused in [false, true] {
        let design = fused_design(fused);
        let workload = smolvla(&design);
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
    let design = fused_design(true);
    let workload = smolvla(&design);
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
                ("load", "gemm" | "vector") if from.label.to_string() != "load parameters" => {
                    (from, to)
                }
                ("gemm" | "vector", "store") => (to, from),
                _ => continue,
            };
            // Fused attention's softmax runs on a vector unit beside its array.
            if pair.1.kind_name() == "gemm" || kernel.op != Op::FusedAttention {
                assert_eq!(
                    pair.0.engine, pair.1.engine,
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
    use crate::workload::WorkloadChoices;
    for fused in [false, true] {
        let design = fused_design(fused);
        for batch in [1, 3] {
            let choices = WorkloadChoices {
                batch,
                fusion: design.fusion(),
                ..WorkloadChoices::default()
            };
            let workload = choices
                .build(
                    &default_model(),
                    Some(&default_policy()),
                    design.precision(),
                )
                .unwrap();
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
    let dot = to_dot(&lower(&kernel, &design).unwrap(), &design);
    assert!(dot.contains("[style=dashed, label=\"slot\"]"));
    assert!(dot.ends_with("}\n"));
}

/// A vector engine's chunk order: `mbnk` takes row block r of every instance (head) before
/// row block r + 1, each chunk within one instance, so a reader of every head's first rows
/// finds them early; the default runs the stacked rows in order. Both cover every row once,
/// and the graph size bound counts the chunks each makes. `nmk` has no meaning for rows and
/// is refused; a GEMM engine takes its order in `tiling`.
#[test]
fn a_vector_engine_takes_its_instances_row_blocks_in_the_order_it_is_given() {
    use crate::workload::WorkloadChoices;
    let spatial = include_str!("../../configs/designs/u280-int8-spatial.toml");
    let with_order = |order: &str| {
        spatial.replace(
            "name = \"vsoftmax\"\nkind = \"vector\"\nlanes = 128",
            &format!(
                "name = \"vsoftmax\"\nkind = \"vector\"\nlanes = 128\nloop_order = \"{order}\""
            ),
        )
    };
    let model = crate::config::model::default_model();
    let policy = crate::config::model::default_policy();
    for (order, first_chunks) in [
        ("mnk", vec![(0, 32), (32, 64), (64, 96)]),
        ("mbnk", vec![(0, 32), (1024, 1056), (2048, 2080)]),
    ] {
        let design = design(&with_order(order));
        let choices = WorkloadChoices {
            batch: 1,
            cameras: Some(1),
            vision_layers: Some(1),
            kernels: vec!["vision/softmax".into()],
            fusion: design.fusion(),
            ..WorkloadChoices::default()
        };
        let workload = choices
            .build(&model, Some(&policy), design.precision())
            .unwrap();
        let softmax = &workload.kernels[0];
        let chunks = vector::chunk_rows(softmax, &design);
        assert_eq!(&chunks[..3], &first_chunks[..], "{order}");
        let mut rows: Vec<(u64, u64)> = chunks.clone();
        rows.sort_unstable();
        assert!(
            rows.windows(2).all(|w| w[0].1 == w[1].0),
            "{order}: a row twice or missed"
        );
        assert_eq!((rows[0].0, rows[rows.len() - 1].1), (0, 12 * 1024));
        assert_eq!(vector::chunk_count(softmax, &design), chunks.len() as u64);
    }
    let refused = load_design(
        &Source::built_in("d.toml", &with_order("nmk")),
        &default_platform(),
    );
    let message = refused.unwrap_err().to_string();
    assert!(
        message.contains("loop_order") && message.contains("`mbnk`"),
        "{message}"
    );
    let on_array = spatial.replace(
        "name = \"attn\"\nkind = \"systolic\"",
        "name = \"attn\"\nkind = \"systolic\"\nloop_order = \"mbnk\"",
    );
    let refused = load_design(&Source::built_in("d.toml", &on_array), &default_platform());
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("does not apply to a systolic")
    );
}

/// The bytes per channel, and the loads' or stores' bursts, of a graph's transfers whose
/// label starts with `prefix` and that pass `keep`.
fn transfers(
    graph: &KernelGraph,
    prefix: &str,
    keep: impl Fn(&str) -> bool,
) -> (std::collections::BTreeMap<u32, u64>, Vec<u64>) {
    let mut per_channel = std::collections::BTreeMap::new();
    let mut bursts = Vec::new();
    for node in graph.graph.node_weights() {
        let label = node.label.to_string();
        let (NodeKind::Load(requests) | NodeKind::Store(requests)) = &node.kind else {
            continue;
        };
        if !label.starts_with(prefix) || !keep(&label) {
            continue;
        }
        for request in requests.iter() {
            *per_channel.entry(request.channel).or_insert(0) += request.bytes;
        }
        bursts.push(requests.iter().map(|r| r.bursts).sum());
    }
    (per_channel, bursts)
}

/// A vision layer's scores read Q where the QKV projection wrote it: each channel serves
/// the scores' Q loads exactly the bytes the projection's stores of Q's columns put there
/// (every Q tile is loaded once), in both activation layouts. Row-major, a head's tile of
/// 512 rows is 512 runs of 64 bytes a projection row (2,304 B) apart, a burst each;
/// head-major it is one contiguous run of whole 512-byte bursts. Reading Q as a tensor of
/// its own (rows of 64) would pass neither.
#[test]
fn a_head_split_read_finds_its_tensor_where_the_producer_stored_it() {
    for (layout, q_tile_bursts) in [("row_major", 512), ("head_major", 64)] {
        // One array, so that each Q tile is loaded once.
        let text = DEFAULT_DESIGN
            .replace("count = 3", "count = 1")
            .replace("tn = 256", "tn = 64")
            .replace(
                "axi_ports = \"per_channel\"",
                &format!("axi_ports = \"per_channel\"\nactivation_layout = \"{layout}\""),
            );
        let design = design(&text);
        let workload = smolvla(&design);
        let layer: Vec<&Kernel> = workload
            .kernels
            .iter()
            .filter(|k| k.layer == Some(0) && k.encoder == crate::workload::Encoder::Vision)
            .collect();
        let kernel = |name: &str| *layer.iter().find(|k| k.name == name).unwrap();
        let q_heads = 768 / 64;
        let projection = lower(kernel("qkv_proj"), &design).unwrap();
        let q_columns = |label: &str| {
            let column_tile: u64 = label.rsplit_once(" n").unwrap().1.parse().unwrap();
            column_tile < q_heads
        };
        let (stored, _) = transfers(&projection, "store", q_columns);
        let scores = lower(kernel("scores"), &design).unwrap();
        let (loaded, bursts) = transfers(&scores, "load q", |_| true);
        assert_eq!(loaded, stored, "{layout}");
        assert!(
            bursts.iter().all(|&b| b == q_tile_bursts),
            "{layout}: {bursts:?}"
        );
    }
}

/// A graph holds a node per tile operation (hundreds of thousands): their size is most of a
/// run's memory and page faults, so growing it should be a decision.
#[test]
fn a_node_takes_88_bytes() {
    assert_eq!(size_of::<Node>(), 88);
}

/// Each unit of a smolVLA step (`pipeline`) on a design whose layers overlap, lowered with
/// repeated layers copied and with every layer lowered: the same nodes, the same edges in
/// the same order (the engine dispatches successors in that order); and how many layers were
/// copied.
fn copies_match_lowering(design: &Design, pipeline: crate::workload::Pipeline) -> usize {
    use crate::config::model::{default_model, default_policy};
    let choices = crate::workload::WorkloadChoices {
        batch: 1,
        fusion: design.fusion(),
        pipeline,
        ..Default::default()
    };
    let model = default_model();
    let workload = choices
        .build(&model, Some(&default_policy()), design.precision())
        .unwrap();
    let mut copied = 0;
    // With layers overlapping, a unit is an encoder's kernels.
    for unit in workload.kernels.chunk_by(|a, b| a.encoder == b.encoder) {
        let kernels: Vec<&Kernel> = unit.iter().collect();
        let (copy, layers) = lower_unit(&kernels, design, true, Cycles::Checked).unwrap();
        let (made, none) = lower_unit(&kernels, design, false, Cycles::Checked).unwrap();
        assert_eq!(none, 0);
        let (copy, made) = (&copy.graph, &made.graph);
        let label = kernels[0].label();
        assert_eq!(copy.node_count(), made.node_count(), "{label}");
        assert!(
            copy.node_weights().eq(made.node_weights()),
            "{label}: nodes differ"
        );
        let ends = |graph: &DiGraph<Node, EdgeKind>| -> Vec<(NodeIndex, NodeIndex, EdgeKind)> {
            let edges = graph.raw_edges().iter();
            edges.map(|e| (e.source(), e.target(), e.weight)).collect()
        };
        assert_eq!(ends(copy), ends(made), "{label}: edges differ");
        copied += layers;
    }
    copied
}

/// A repeated layer is copied exactly: on every shipped design whose layers overlap, on the
/// fast and the bank-level HBM (whose requests carry addresses), with rings of one to three
/// slots (a ring whose fills per layer its slots do not divide repeats every few layers),
/// and over a whole step, whose action expert alternates two kinds of layer. Of the encoders' 12 + 16 layers, each encoder's first and last (which find and
/// leave other kernels) and the up to three lowered to find the period are not copied: at
/// least 18 are. Checked to fail when a copy leaves its rings' last users where they were.
#[test]
fn repeated_layers_are_the_graph_lowering_makes() {
    use crate::workload::Pipeline;
    let shipped = [
        include_str!("../../configs/designs/u280-int8-spatial.toml"),
        include_str!("../../configs/designs/u280-int4-spatial.toml"),
        include_str!("../../configs/designs/u280-int4-searched.toml"),
    ];
    for text in shipped {
        let fast = design(text);
        assert!(fast.overlap_layers());
        let dram = design(&text.replace("memory = \"hbm\"", "memory = \"dram\""));
        assert!(copies_match_lowering(&fast, Pipeline::Encoders) >= 18);
        assert!(copies_match_lowering(&dram, Pipeline::Encoders) >= 18);
    }
    let spatial = design(shipped[0]);
    // The action expert's layers alternate cross- and self-attention: its blocks are of
    // four layers (two kinds, rings of two slots), copied twice in each of its 10 steps.
    assert!(copies_match_lowering(&spatial, Pipeline::Full) >= 18 + 80);
    for slots in [1, 3] {
        let design = spatial
            .modified(&default_platform(), "test", |raw| raw.buffers.slots = slots)
            .unwrap();
        assert!(copies_match_lowering(&design, Pipeline::Encoders) >= 18);
    }
}
