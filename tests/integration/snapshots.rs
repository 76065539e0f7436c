//! Snapshots of the default run's outputs (and of a fused, an INT4 and dataflow designs), so that any
//! change of a model's numbers shows as a reviewed diff. After an intended change:
//! `INSTA_UPDATE=always cargo test --test integration snapshots::`, then read
//! `git diff tests/integration/snapshots/`
//! (or `cargo insta review`) and commit the new snapshots with the change that explains them.
//! Also: the outputs do not depend on the number of threads.

use roofsim::config::Source;
use roofsim::config::design::{DEFAULT_DESIGN, Design, load_design};
use roofsim::config::model::{default_model, default_policy};
use roofsim::config::platform::{Platform, default_platform};
use roofsim::pipeline::{design_workload, simulate};
use roofsim::sim::DEFAULT_MAX_EVENTS;
use roofsim::workload::WorkloadChoices;

fn base() -> (Platform, Design) {
    let platform = default_platform();
    let design = load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform).unwrap();
    (platform, design)
}

/// `kernels.csv`, `channels.csv`, `summary.json`, `engines.csv` and `crosscheck.svg` of the
/// default workload (3 cameras, batch 1) on `design`.
fn outputs(platform: &Platform, design: &Design) -> (String, String, String, String, String) {
    let choices = WorkloadChoices {
        batch: 1,
        ..WorkloadChoices::default()
    };
    let analysis = design_workload(
        &default_model(),
        Some(&default_policy()),
        platform,
        design,
        &choices,
    )
    .unwrap();
    let output = simulate(analysis, platform, design, DEFAULT_MAX_EVENTS, None, &|| {}).unwrap();
    let file = |name: &str| {
        let (_, bytes) = output.files.iter().find(|(n, _)| *n == name).unwrap();
        String::from_utf8(bytes.clone()).unwrap()
    };
    (
        file("kernels.csv"),
        file("channels.csv"),
        file("summary.json"),
        file("engines.csv"),
        file("crosscheck.svg"),
    )
}

#[test]
fn default_design() {
    let (platform, design) = base();
    let (kernels, channels, summary, engines, crosscheck) = outputs(&platform, &design);
    insta::assert_snapshot!("default_crosscheck.svg", crosscheck);
    insta::assert_snapshot!("default_kernels.csv", kernels);
    insta::assert_snapshot!("default_channels.csv", channels);
    insta::assert_snapshot!("default_summary.json", summary);
    insta::assert_snapshot!("default_engines.csv", engines);
}

/// The dataflow designs: the temporal default with its kernels overlapping (prefetch across
/// kernels; with overlap off its numbers are the default's above), and the spatial design.
#[test]
fn dataflow_designs() {
    let (platform, design) = base();
    let overlapped = design
        .modified(&platform, "test", |raw| raw.schedule.overlap_kernels = true)
        .unwrap();
    let (kernels, _, summary, engines, _) = outputs(&platform, &overlapped);
    insta::assert_snapshot!("overlapped_kernels.csv", kernels);
    insta::assert_snapshot!("overlapped_summary.json", summary);
    insta::assert_snapshot!("overlapped_engines.csv", engines);
    let spatial = load_design(
        &Source::built_in(
            "spatial",
            include_str!("../../configs/designs/u280-int8-spatial.toml"),
        ),
        &platform,
    )
    .unwrap();
    let (kernels, _, summary, engines, _) = outputs(&platform, &spatial);
    insta::assert_snapshot!("spatial_kernels.csv", kernels);
    insta::assert_snapshot!("spatial_summary.json", summary);
    insta::assert_snapshot!("spatial_engines.csv", engines);
}

#[test]
fn fused_attention_design() {
    let (platform, design) = base();
    let fused = design
        .modified(&platform, "test", |raw| raw.fusion.attention = true)
        .unwrap();
    let (kernels, channels, _, _, _) = outputs(&platform, &fused);
    insta::assert_snapshot!("fused_kernels.csv", kernels);
    insta::assert_snapshot!("fused_channels.csv", channels);
}

/// INT4 at the same 6,144 DSPs: 3 arrays of 128 × 64 at four MACs per DSP.
#[test]
fn int4_design() {
    let (platform, design) = base();
    let int4 = design
        .modified(&platform, "test", |raw| {
            raw.precision = "int4".into();
            raw.arrays.rows = 128;
        })
        .unwrap();
    assert_eq!(int4.resources().dsps, 6144);
    let (kernels, channels, _, _, _) = outputs(&platform, &int4);
    insta::assert_snapshot!("int4_kernels.csv", kernels);
    insta::assert_snapshot!("int4_channels.csv", channels);
}

/// The distinct layers run in parallel (no trace): the same bytes on one thread and on two.
#[test]
fn outputs_do_not_depend_on_the_thread_count() {
    let (platform, design) = base();
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| outputs(&platform, &design))
    };
    assert_eq!(on(1), on(2));
}
