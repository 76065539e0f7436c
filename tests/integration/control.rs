//! Instruction-driven control (`[control]`) against hand-derived cycles: each operation's
//! issue and completion, each layer's synchronisation, and DMA set-ups one after another
//! per engine.

use petgraph::graph::DiGraph;
use roofsim::config::Source;
use roofsim::config::design::{Control, DEFAULT_DESIGN, Design, load_design};
use roofsim::config::model::{default_model, default_policy};
use roofsim::config::platform::{Platform, default_platform};
use roofsim::lower::{ChannelRequest, KernelGraph, Node, NodeKind};
use roofsim::sim::{Bottleneck, Machine, NullSink, simulate_graph, simulate_workload};
use roofsim::workload::{Workload, WorkloadChoices};

fn base() -> (Platform, Design) {
    let platform = default_platform();
    let design = load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform).unwrap();
    (platform, design)
}

fn controlled(design: &Design, platform: &Platform, control: Control) -> Design {
    design
        .modified(platform, "test", |raw| raw.control = control)
        .unwrap()
}

/// One-burst loads, each on its own engine's buffer, none waiting on another.
fn loads(engines: &[u32]) -> KernelGraph {
    let mut graph = DiGraph::new();
    for (index, &engine) in engines.iter().enumerate() {
        let request = ChannelRequest::contiguous(index as u64, 0, 512, 1);
        graph.add_node(Node {
            kind: NodeKind::Load(std::sync::Arc::new([request])),
            label: format!("load {index}").into(),
            bytes: 512,
            engine,
            kernel: 0,
        });
    }
    KernelGraph { graph }
}

/// Four loads of one engine with a 10,000-cycle set-up each leave at 10,000, 20,000,
/// 30,000 and 40,000 (one DMA, one descriptor after another), so the graph ends one load's
/// time after 40,000, all of the set-up on the critical path as control; on four engines
/// the set-ups run side by side. Catches set-ups in parallel on one engine, serialised
/// across engines, missing, or attributed to HBM latency.
#[test]
fn an_engines_dma_sets_its_transfers_up_one_after_another() {
    let (platform, design) = base();
    let setup = 10_000;
    let with_setup = controlled(
        &design,
        &platform,
        Control {
            dma_setup_cycles: setup,
            ..Control::default()
        },
    );
    let run = |design: &Design, engines: &[u32]| {
        let machine = Machine::new(design, &platform);
        simulate_graph(&loads(engines), &["loads".into()], &machine, &mut NullSink).unwrap()
    };
    let one_load = run(&design, &[0]).cycles;
    assert!(one_load > 0 && one_load < setup);
    let serial = run(&with_setup, &[0, 0, 0, 0]);
    assert_eq!(serial.cycles, 4 * setup + one_load);
    assert_eq!(serial.attribution[Bottleneck::Control as usize], 4 * setup);
    assert_eq!(serial.attribution.iter().sum::<u64>(), serial.cycles);
    let side_by_side = run(&with_setup, &[0, 1, 2, 3]);
    assert_eq!(side_by_side.cycles, setup + one_load);
}

/// smolVLA's vision encoder cut to two layers on the sequential default design.
fn two_vision_layers(design: &Design) -> Workload {
    let choices = WorkloadChoices {
        batch: 1,
        vision_layers: Some(2),
        fusion: design.fusion(),
        ..WorkloadChoices::default()
    };
    let mut workload = choices
        .build(
            &default_model(),
            Some(&default_policy()),
            design.precision(),
        )
        .unwrap();
    workload.retain(|kernel| kernel.encoder == roofsim::workload::Encoder::Vision);
    workload
}

/// Every operation costs its issue and completion, every layer its synchronisation, on
/// top of the same run without control, exactly: kernels × (issue + sync) + layers ×
/// layer sync, all of it control, each kernel's causes still summing to its cycles.
/// Catches costs paid per unit instead of per operation, per kernel instead of per
/// layer, or outside the kernels' own cycles.
#[test]
fn operations_and_layers_pay_their_issue_and_synchronisation() {
    let (platform, design) = base();
    let control = Control {
        operation_issue_cycles: 100,
        operation_sync_cycles: 50,
        layer_sync_cycles: 1_000,
        dma_setup_cycles: 0,
    };
    let overlay = controlled(&design, &platform, control);
    let workload = two_vision_layers(&design);
    let simulate = |design: &Design| {
        simulate_workload(&workload, design, &platform, u64::MAX, None, &|| {}).unwrap()
    };
    let (plain, paid) = (simulate(&design), simulate(&overlay));
    let kernels = workload.kernels.len() as u64;
    let layers = paid
        .units
        .iter()
        .filter(|unit| workload.kernels[unit.kernels.start].layer.is_some())
        .count() as u64;
    assert_eq!(layers, 2);
    let expected = kernels * 150 + layers * 1_000;
    assert_eq!(paid.cycles(), plain.cycles() + expected);
    let control_cycles: u64 = paid
        .units
        .iter()
        .map(|unit| unit.attribution[Bottleneck::Control as usize])
        .sum();
    assert_eq!(control_cycles, expected);
    for kernel in &paid.kernels {
        assert_eq!(kernel.attribution.iter().sum::<u64>(), kernel.cycles);
    }
}
