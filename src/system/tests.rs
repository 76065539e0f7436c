use super::run::{crossing_bytes, schedule};
use super::*;
use crate::config::design::{DEFAULT_DESIGN, load_design};
use crate::config::platform::default_platform;
use crate::workload::WorkloadChoices;

fn board(name: &str, encoders: &[Encoder]) -> Board {
    let platform = default_platform();
    Board {
        name: name.into(),
        design: load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform).unwrap(),
        platform,
        encoders: encoders.to_vec(),
        layers: Vec::new(),
    }
}

fn two_stage(link: Link, observations: u64) -> System {
    System {
        name: "test".into(),
        source: "test.toml".into(),
        partition: Partition::Pipeline,
        observations,
        boards: vec![
            board("a", &[Encoder::Vision, Encoder::Connector]),
            board("b", &[Encoder::Text]),
        ],
        links: vec![link],
    }
}

const MS: f64 = 1e-3;

/// Catches a link that costs time when it should not: two stages of 3 and 5 ms joined by
/// an ideal link are the pipeline of those stages: the first observation takes 8 ms, then
/// one leaves every 5 ms (the slower stage), and the first board never waits.
#[test]
fn an_ideal_link_leaves_the_pipeline_of_the_stages() {
    let ideal = Link {
        from: 0,
        to: 1,
        payload_bits_per_s: f64::INFINITY,
        latency_s: 0.0,
    };
    let run = schedule(
        &two_stage(ideal, 6),
        &[(3.0 * MS, None), (5.0 * MS, None)],
        &[1 << 20],
    );
    assert!((run.latency_s() - 8.0 * MS).abs() < 1e-12);
    assert!((run.observations_per_s - 200.0).abs() < 1e-9);
    assert_eq!(run.boards[0].starved_s + run.boards[0].network_s, 0.0);
    // The second board waits for the first observation only (3 ms), on the first board.
    assert!((run.boards[1].starved_s - 3.0 * MS).abs() < 1e-12);
    assert_eq!(run.boards[1].network_s, 0.0);
}

/// Worked by hand: 184,320 bytes (three cameras' 64 image tokens of 960 INT8 features) on
/// 100 Gb/s at 90 % payload take 184,320 × 8 / 90e9 = 16.384 µs on the port, and arrive 1 µs
/// later: the first observation takes 3 + 0.016384 + 0.001 + 5 ms; the rate stays the
/// slower stage's.
#[test]
fn a_link_adds_its_bytes_over_its_rate_and_its_latency() {
    let link = Link {
        from: 0,
        to: 1,
        payload_bits_per_s: 100e9 * 0.9,
        latency_s: 1e-6,
    };
    assert!((link.serialisation_s(184_320) - 16.384e-6).abs() < 1e-15);
    let run = schedule(
        &two_stage(link, 4),
        &[(3.0 * MS, None), (5.0 * MS, None)],
        &[184_320],
    );
    assert!((run.latency_s() - (8.0 * MS + 17.384e-6)).abs() < 1e-12);
    assert!((run.observations_per_s - 200.0).abs() < 1e-6);
    assert!((run.boards[1].network_s - 17.384e-6).abs() < 1e-12);
    assert!((run.links[0].busy_s - 4.0 * 16.384e-6).abs() < 1e-12);
}

/// A link slower than both stages sets the rate: 2 ms per observation on the port.
#[test]
fn a_slow_link_bounds_the_rate() {
    let link = Link {
        from: 0,
        to: 1,
        payload_bits_per_s: 8e6,
        latency_s: 0.0,
    };
    // 2,000 bytes at 8 Mb/s: 2 ms.
    let run = schedule(
        &two_stage(link, 5),
        &[(1.0 * MS, None), (1.0 * MS, None)],
        &[2_000],
    );
    assert!((run.observations_per_s - 500.0).abs() < 1e-6);
    assert!((run.latency_s() - 4.0 * MS).abs() < 1e-12);
    // The second board waits 3 ms for the first observation: 1 ms of the first board's
    // compute, then its 2 ms transfer; each later one arrives 2 ms after the last while the
    // board took 1 ms: 1 ms more on the network each.
    assert!((run.boards[1].starved_s - 1.0 * MS).abs() < 1e-12);
    assert!((run.boards[1].network_s - 6.0 * MS).abs() < 1e-12);
}

/// Two boards each running the whole step on every other observation: twice the rate, the
/// same latency.
#[test]
fn a_data_partition_adds_the_boards_rates() {
    let system = System {
        partition: Partition::Data,
        links: Vec::new(),
        ..two_stage(
            Link {
                from: 0,
                to: 1,
                payload_bits_per_s: 1.0,
                latency_s: 0.0,
            },
            8,
        )
    };
    let run = schedule(&system, &[(4.0 * MS, None), (4.0 * MS, None)], &[]);
    assert!((run.latency_s() - 4.0 * MS).abs() < 1e-12);
    assert!((run.observations_per_s - 500.0).abs() < 1e-9);
    assert_eq!(run.boards[0].observations, 4);
}

/// What crosses from the vision board to the text board is exactly the connector's output
/// the text layers read: 3 cameras × 64 image tokens × 960 features at INT8 (the language
/// and state tokens are inputs, in memory on the text board). Catches a crossing counted
/// per reading kernel, or whole producer outputs instead of the pieces read.
#[test]
fn the_bytes_crossing_a_boundary_are_the_activations_read_across_it() {
    let model = crate::config::model::default_model();
    let policy = crate::config::model::default_policy();
    let system = two_stage(
        Link {
            from: 0,
            to: 1,
            payload_bits_per_s: 1.0,
            latency_s: 0.0,
        },
        1,
    );
    let choices = WorkloadChoices {
        fusion: system.boards[0].design.fusion(),
        batch: 1,
        ..WorkloadChoices::default()
    };
    let workload = choices
        .build(&model, Some(&policy), system.boards[0].design.precision())
        .unwrap();
    let placed: Vec<usize> = workload
        .kernels
        .iter()
        .map(|k| usize::from(k.encoder == Encoder::Text))
        .collect();
    assert_eq!(crossing_bytes(&workload, &placed, 0), 3 * 64 * 960);
}

/// Tensor parallelism splits each layer's GEMM work among the boards without loss or
/// double count (even when the heads do not divide: 15 query heads in 5 groups over 2 or 3
/// boards), and leaves everything outside the layers whole on every board.
#[test]
fn tensor_shards_add_up_to_the_model_exactly() {
    let model = crate::config::model::default_model();
    let int8 =
        crate::config::precision::PrecisionPair::uniform(crate::config::precision::Precision::Int8);
    let choices = WorkloadChoices {
        batch: 1,
        ..WorkloadChoices::default()
    };
    let macs = |model: &crate::config::model::ModelSpec, in_layers: bool| -> u64 {
        choices
            .build(model, None, int8)
            .unwrap()
            .kernels
            .iter()
            .filter(|k| k.layer.is_some() == in_layers && k.macs > 0)
            .map(|k| k.macs)
            .sum()
    };
    for boards in [2, 3, 5] {
        let shards: Vec<_> = (0..boards)
            .map(|b| model.tensor_shard(b, boards).unwrap())
            .collect();
        let split: u64 = shards.iter().map(|s| macs(s, true)).sum();
        assert_eq!(split, macs(&model, true), "{boards} boards");
        for shard in &shards {
            assert_eq!(macs(shard, false), macs(&model, false));
        }
    }
    // Five key/value heads cannot go round six boards.
    assert!(
        model
            .tensor_shard(0, 6)
            .unwrap_err()
            .contains("key/value heads")
    );
}

/// Worked by hand: two boards of 10 and 9 ms per observation, two all-reduces of 1 MB each
/// on a 100 Gb/s ring with 1 µs hops: each all-reduce is 2 steps of 500 kB (40 µs) plus a
/// hop (1 µs), 82 µs; an observation takes 10 ms + 164 µs; the faster board waits 1 ms.
#[test]
fn a_tensor_partition_pays_its_ring_all_reduces() {
    let system = System {
        partition: Partition::Tensor,
        ..two_stage(
            Link {
                from: 0,
                to: 1,
                payload_bits_per_s: 100e9,
                latency_s: 1e-6,
            },
            3,
        )
    };
    let run = schedule(
        &system,
        &[(10.0 * MS, None), (9.0 * MS, None)],
        &[1_000_000, 1_000_000],
    );
    assert!((run.latency_s() - (10.0 * MS + 164e-6)).abs() < 1e-12);
    assert!((run.observations_per_s - 1.0 / (10.0 * MS + 164e-6)).abs() < 1e-6);
    assert!((run.boards[1].starved_s - 3.0 * MS).abs() < 1e-12);
    assert!((run.boards[0].network_s - 3.0 * 164e-6).abs() < 1e-12);
    assert_eq!(run.links[0].bytes_per_observation, 2 * 2 * 500_000);
}
