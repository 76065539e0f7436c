//! Engine speed: events per second on a many-tile GEMM, and the default whole-model run.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use roofsim::config::Source;
use roofsim::config::design::{DEFAULT_DESIGN, LoopOrder, Tiling, load_design};
use roofsim::config::model::{default_model, default_policy};
use roofsim::config::platform::default_platform;
use roofsim::lower::lower;
use roofsim::pipeline::{WorkloadChoices, simulate as simulate_model};
use roofsim::sim::{NullSink, simulate};
use roofsim::workload::single_gemm;
use std::hint::black_box;

fn engine(c: &mut Criterion) {
    let platform = default_platform();
    let mut design = load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform).unwrap();
    design.tiling = Tiling {
        tm: 64,
        tn: 64,
        tk: 64,
        loop_order: LoopOrder::Mnk,
    };
    let kernel = single_gemm(1024, 1024, 2048, design.precision);
    let graph = lower(&kernel, &design).unwrap();
    let events = simulate(&graph, "gemm", &design, &platform, &mut NullSink).events;
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(events));
    group.sample_size(10);
    group.bench_function("gemm_1024x1024x2048_tiles_64", |b| {
        b.iter(|| simulate(black_box(&graph), "gemm", &design, &platform, &mut NullSink))
    });
    group.finish();
}

fn whole_model(c: &mut Criterion) {
    let platform = default_platform();
    let design = load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform).unwrap();
    let model = default_model();
    let policy = default_policy();
    let choices = WorkloadChoices {
        batch: 1,
        ..WorkloadChoices::default()
    };
    let mut group = c.benchmark_group("simulate");
    group.sample_size(10);
    group.bench_function("smolvla_3_cameras_default_design", |b| {
        b.iter(|| {
            simulate_model(
                &model,
                Some(&policy),
                &platform,
                &design,
                &choices,
                None,
                &|| {},
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, engine, whole_model);
criterion_main!(benches);
