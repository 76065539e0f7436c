//! Dataflow designs: stream pipelines run at their slower stage, FIFOs that cannot work are
//! refused or reported as deadlocks, concurrent engines stay under their own roofs.

use proptest::prelude::*;
use roofsim::config::Source;
use roofsim::config::design::{DEFAULT_DESIGN, Design, load_design};
use roofsim::config::model::{default_model, default_policy};
use roofsim::config::platform::{Platform, default_platform};
use roofsim::sim::{Bottleneck, SimError, WorkloadSim, cross_check, simulate_workload};
use roofsim::workload::{Workload, WorkloadChoices};

const MLP_STREAM: &str = include_str!("../../configs/designs/u280-int8-mlp-stream.toml");
const SPATIAL: &str = include_str!("../../configs/designs/u280-int8-spatial.toml");

fn design(text: &str) -> Result<Design, String> {
    load_design(&Source::built_in("test.toml", text), &default_platform())
        .map_err(|e| e.to_string())
}

/// One camera, one vision layer, only `kernels` of it (all when empty).
fn workload(design: &Design, kernels: &[&str]) -> Workload {
    workload_of(design, 1, kernels)
}

/// `cameras` cameras, one vision layer, only `kernels` of it (all when empty).
fn workload_of(design: &Design, cameras: u64, kernels: &[&str]) -> Workload {
    let choices = WorkloadChoices {
        cameras: Some(cameras),
        batch: 1,
        vision_layers: Some(1),
        text_layers: Some(1),
        kernels: kernels.iter().map(|k| k.to_string()).collect(),
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

fn run(design: &Design, workload: &Workload) -> Result<WorkloadSim, SimError> {
    simulate_workload(
        workload,
        design,
        &default_platform(),
        u64::MAX,
        None,
        &|| {},
    )
}

/// The two-engine MLP with FC1 and FC2 of the given shapes, a FIFO of `depth` tiles and
/// ideal memory (so the stages alone set the pace).
fn mlp(fc1: (u64, u64), fc2: (u64, u64), depth: u64) -> Design {
    let text = MLP_STREAM
        .replace(
            "rows = 10\ncols = 30",
            &format!("rows = {}\ncols = {}", fc1.0, fc1.1),
        )
        .replace(
            "rows = 20\ncols = 15",
            &format!("rows = {}\ncols = {}", fc2.0, fc2.1),
        )
        .replace("depth_tiles = 2", &format!("depth_tiles = {depth}"))
        .replace("memory = \"hbm\"", "memory = \"ideal\"");
    design(&text).unwrap()
}

/// The busy cycles of a named engine over the run.
fn busy(sim: &WorkloadSim, design: &Design, name: &str) -> u64 {
    let engine = design
        .engines()
        .iter()
        .position(|e| e.name == name)
        .unwrap();
    sim.kernels
        .iter()
        .map(|k| k.engine_busy_cycles[engine])
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// A two-stage stream runs at its slower stage: never faster than either engine's busy
    /// time, and within one tile of each stage (the pipeline's fill and drain) of the
    /// slower one; a deeper FIFO never makes it slower; the pipeline model bounds it from
    /// below and, at the engines' busy rates, within fill and drain.
    #[test]
    fn a_stream_pipeline_runs_at_its_slower_stage(
        // Up to 32 × 32: with a pool array of 2,048 DSPs beside each stage, SLR0 (2,736 DSPs)
        // has room for 512 more (40 × 40 overfilled it, a case the random seed found).
        fc1 in (4u64..=32, 4u64..=32),
        fc2 in (4u64..=32, 4u64..=32),
        depth in 1u64..4,
    ) {
        let shallow = mlp(fc1, fc2, depth);
        let work = workload(&shallow, &["vision/fc1_gelu", "vision/fc2"]);
        let sim = run(&shallow, &work).unwrap();
        let (busy1, busy2) = (busy(&sim, &shallow, "fc1"), busy(&sim, &shallow, "fc2"));
        // FC1 and FC2 each make 16 row blocks × their column tiles: 16 · 12 and 16 · 12.
        let (tile1, tile2) = (busy1 / (16 * 12), busy2 / (16 * 12));
        let cycles = sim.cycles();
        prop_assert!(cycles >= busy1.max(busy2), "{cycles} < {busy1}, {busy2}");
        prop_assert!(
            cycles <= busy1.max(busy2) + 2 * (tile1 + tile2),
            "{cycles} > {} + 2 · ({tile1} + {tile2})",
            busy1.max(busy2)
        );
        let deep = run(&mlp(fc1, fc2, 16), &work).unwrap();
        prop_assert!(deep.cycles() <= cycles, "{} > {cycles}", deep.cycles());
        // The pipeline model on the same engines (their peak rates) is never beaten; at the
        // rates the engines reached (their busy cycles), its schedule (FC2 starts when FC1
        // has made what FC2's first tile reads) is within fill and drain of the run.
        let model = &sim.pipeline;
        let model_cycles: u64 = model.unit_cycles.iter().sum();
        prop_assert!(model_cycles <= cycles, "model {model_cycles} > {cycles}");
        let needs = roofsim::lower::first_tile_needs(&work.kernels, 1, &shallow);
        prop_assert_eq!(needs.len(), 1);
        let (needed, tiles) = needs[0].1;
        let start2 = (busy1 * needed).div_ceil(tiles);
        let at_busy_rates = (start2 + busy2).max(busy1);
        prop_assert!(
            cycles <= at_busy_rates + 2 * (tile1 + tile2),
            "{cycles} > {at_busy_rates} + 2 · ({tile1} + {tile2})"
        );
    }
}

/// The slower stage is the one the attribution blames: a fast FC1 feeding a slow FC2 waits
/// on the FIFO (backpressure); a slow FC1 leaves FC2 starved.
#[test]
fn the_faster_stage_waits_for_the_slower_one() {
    for (fc1, fc2, waits, cause) in [
        ((32, 32), (8, 8), "vision/fc1_gelu", "backpressure"),
        ((8, 8), (32, 32), "vision/fc2", "starved"),
    ] {
        let design = mlp(fc1, fc2, 2);
        let work = workload(&design, &["vision/fc1_gelu", "vision/fc2"]);
        let sim = run(&design, &work).unwrap();
        let index = work
            .kernels
            .iter()
            .position(|k| k.label() == waits)
            .unwrap();
        assert_eq!(sim.kernels[index].bottleneck().name(), cause, "{waits}");
    }
}

/// A FIFO too shallow for the order its consumer reads in: FC2 with three output column
/// tiles re-reads every FC1 block three times, so the FIFO fills before the first block is
/// read for the last time. The lowering refuses it before anything runs, naming the stream
/// and the smallest depth that runs: that depth runs, one less is refused. With layers
/// overlapping, the link streams once per layer at the one depth the file gives: the
/// suggestion deepens every layer's copy (deepening one while the others stay too shallow
/// would never run).
#[test]
fn a_stream_that_cannot_drain_is_refused_with_the_smallest_depth_that_runs() {
    for overlap_layers in [false, true] {
        let text = MLP_STREAM
            .replace(
                "tiling = { tm = 64, tn = 768, tk = 256",
                "tiling = { tm = 64, tn = 256, tk = 256",
            )
            .replace(
                "overlap_kernels = true",
                &format!("overlap_kernels = true\noverlap_layers = {overlap_layers}"),
            );
        let design_at = |depth: u64| {
            design(&text.replace("depth_tiles = 2", &format!("depth_tiles = {depth}"))).unwrap()
        };
        let design = design_at(2);
        let mut work = workload(&design, &["vision/fc1_gelu", "vision/fc2"]);
        if overlap_layers {
            let choices = WorkloadChoices {
                cameras: Some(1),
                batch: 1,
                vision_layers: Some(3),
                text_layers: Some(1),
                kernels: vec!["vision/fc1_gelu".into(), "vision/fc2".into()],
                fusion: design.fusion(),
                ..WorkloadChoices::default()
            };
            work = choices
                .build(
                    &default_model(),
                    Some(&default_policy()),
                    design.precision(),
                )
                .unwrap();
        }
        let error = run(&design, &work).unwrap_err().to_string();
        assert!(
            error.contains("deadlock") && error.contains("vision/fc1_gelu -> vision/fc2"),
            "{error}"
        );
        let suggested: u64 = error
            .split("raise depth_tiles to ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|depth| depth.parse().ok())
            .unwrap_or_else(|| panic!("no depth suggested: {error}"));
        run(&design_at(suggested), &work).unwrap();
        let shallower = run(&design_at(suggested - 1), &work)
            .map(|_| ())
            .unwrap_err();
        assert!(shallower.to_string().contains("deadlock"), "{shallower}");
    }
}

/// Links and mappings that cannot work are refused before anything runs, naming the link,
/// engine or kernel.
#[test]
fn impossible_links_and_mappings_are_refused() {
    let cases = [
        // Attention needs every key block: a stream into it cannot work.
        (
            MLP_STREAM.replace(
                "from = \"vision/fc1_gelu\"\nto = \"vision/fc2\"",
                "from = \"vision/qkv_proj\"\nto = \"vision/scores\"",
            ),
            "use via = \"buffer\"",
        ),
        // Scores read Q and K, not the norm's output: nothing to carry on chip.
        (
            MLP_STREAM.replace(
                "from = \"vision/fc1_gelu\"\nto = \"vision/fc2\"",
                "from = \"vision/ln1\"\nto = \"vision/scores\"",
            ),
            "does not read the output of `vision/ln1`",
        ),
        // No pool arrays: the GEMMs the mapping leaves out run nowhere.
        (
            MLP_STREAM.replace("count = 3", "count = 0"),
            "`vision/patch_embed` runs on no engine",
        ),
        // A link to a kernel that does not read the producer (the residual reads FC2's
        // output and the first residual's, not FC1's).
        (
            MLP_STREAM.replace("to = \"vision/fc2\"", "to = \"vision/residual2\""),
            "does not read the output of",
        ),
        (
            MLP_STREAM.replace("\"vision/fc2\" = [\"fc2\"]", "\"vision/fc9\" = [\"fc2\"]"),
            "did you mean `vision/fc2`",
        ),
        // An INT4 engine cannot run INT8 GEMMs.
        (
            MLP_STREAM.replace("rows = 20\n", "rows = 20\nprecision = \"int4\"\n"),
            "cannot run `vision/fc2` at int8",
        ),
    ];
    for (text, expected) in cases {
        let design = design(&text).unwrap();
        let work = workload(&design, &[]);
        let error = run(&design, &work).unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
        assert!(error.starts_with("built-in:test.toml: "), "{error}");
    }
    // FC1's whole output of three cameras (3072 x 3072 bytes = 256 URAM blocks) does not
    // fit in the URAM of SLR1, where FC2 reads it, beside the tile buffers (94 blocks); one
    // camera's (86 blocks) does. Catches link storage checked on the chip's total (960).
    let text = MLP_STREAM.replace("via = \"stream\"\ndepth_tiles = 2", "via = \"buffer\"");
    let buffered = design(&text).unwrap();
    let work = workload_of(&buffered, 3, &["vision/fc1_gelu", "vision/fc2"]);
    let error = run(&buffered, &work).map(|_| ()).unwrap_err().to_string();
    assert!(error.contains("SLR1 to 350 URAM blocks"), "{error}");
    // With one camera it fits.
    run(&buffered, &workload(&buffered, &[]))
        .map(|_| ())
        .unwrap();
    for (text, expected) in [
        (
            MLP_STREAM.replace("overlap_kernels = true", "overlap_kernels = false"),
            "links[0].via",
        ),
        (
            MLP_STREAM.replace("\"vision/fc2\" = [\"fc2\"]", "\"vision/fc2\" = [\"fc3\"]"),
            "unknown engine `fc3`",
        ),
        (
            format!(
                "{MLP_STREAM}\n[[links]]\nfrom = \"vision/fc2\"\nto = \"vision/fc1_gelu\"\n\
                 via = \"buffer\"\n"
            ),
            "the links form a cycle",
        ),
        (
            MLP_STREAM.replace("rows = 20\n", "rows = 20\nlanes = 4\n"),
            "engines[1].lanes",
        ),
        (
            DEFAULT_DESIGN.replace("count = 3", "count = 0"),
            "nothing runs the GEMMs",
        ),
        // Engines cost memory per simulated unit: their number is bounded.
        (
            format!(
                "{DEFAULT_DESIGN}\n[[engines]]\nname = \"v\"\nkind = \"vector\"\nlanes = 1\n\
                 count = 1024\n\n[[engines]]\nname = \"w\"\nkind = \"vector\"\n\
                 lanes = 1\ncount = 1024\n\n[[engines]]\nname = \"x\"\nkind = \"vector\"\n\
                 lanes = 1\ncount = 1024\n\n[[engines]]\nname = \"y\"\nkind = \"vector\"\n\
                 lanes = 1\ncount = 1024\n"
            ),
            "engines[3].count",
        ),
    ] {
        let error = design(&text).unwrap_err();
        assert!(error.contains(expected), "{error}");
    }
}

/// A focused run (`--kernels`) of a design whose mapping and links name other kernels: they
/// do not apply, and the run goes ahead (a typo in a full run is still refused, above).
#[test]
fn mappings_and_links_of_kernels_left_out_do_not_apply() {
    for text in [SPATIAL, MLP_STREAM] {
        let design = design(text).unwrap();
        let work = workload(&design, &["text/qkv_proj"]);
        assert_eq!(work.kernels.len(), 1);
        run(&design, &work).unwrap();
    }
}

/// The spatial design: every kernel within the roof of the engines it runs on, whatever
/// else runs beside it, and the same results on one thread and two.
#[test]
fn spatial_kernels_stay_under_their_engines_roofs_on_any_thread_count() {
    let platform: Platform = default_platform();
    let design = design(SPATIAL).unwrap();
    let work = workload(&design, &[]);
    let pool = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    };
    let one = pool(1).install(|| run(&design, &work)).unwrap();
    let two = pool(2).install(|| run(&design, &work)).unwrap();
    assert_eq!(one, two);
    for (kernel, sim) in work.kernels.iter().zip(&one.kernels) {
        let check = cross_check(kernel, sim, &design, &platform);
        assert!(
            check.efficiency <= 1.0,
            "{}: {}",
            kernel.label(),
            check.efficiency
        );
        assert_eq!(
            sim.attribution.iter().sum::<u64>(),
            sim.cycles,
            "{}",
            kernel.label()
        );
    }
    for unit in &one.units {
        assert_eq!(unit.attribution.iter().sum::<u64>(), unit.cycles);
    }
    // Every engine's cycles are busy or idle for a named cause, summing to the run's; the
    // attention engine waits for the whole of Q, K and V (the K/V synchronisation point).
    for (index, engine) in design.engines().iter().enumerate() {
        let causes: Vec<u64> = (0..9)
            .map(|cause| one.units.iter().map(|u| u.engines[index][cause]).sum())
            .collect();
        assert_eq!(causes.iter().sum::<u64>(), one.cycles(), "{}", engine.name);
        if engine.name == "attn" {
            assert!(causes[Bottleneck::Sync as usize] > 0);
        }
    }
    // No engine beats its peak and a sync point holds everything after it: the pipeline
    // model is a lower bound of every unit.
    for (unit, model_cycles) in one.units.iter().zip(&one.pipeline.unit_cycles) {
        assert!(
            unit.cycles >= *model_cycles,
            "{} < {model_cycles}",
            unit.cycles
        );
    }
}

/// Every shipped design loads and validates on the U280.
#[test]
fn every_shipped_design_fits_the_u280() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/designs");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let design = design(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            design.resources().dsps * 4 <= 9024 * 3,
            "{}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 5);
}

/// The spatial design fits the chip (6,544 of 9,024 DSPs) with one stage group per SLR; put
/// every engine on SLR0 and it still fits the chip's total but not SLR0's 2,736 DSPs: refused,
/// naming the SLR, the resource and the engines placed there.
#[test]
fn a_design_that_fits_the_chip_but_crowds_one_slr_is_refused() {
    let fits = design(SPATIAL).unwrap();
    let per_slr: Vec<u64> = fits.slr_use().iter().map(|slr| slr.used.dsps).collect();
    assert_eq!(per_slr, [2496, 2248, 1800]);
    assert_eq!(per_slr.iter().sum::<u64>(), fits.resources().dsps);
    let crowded = SPATIAL
        .replace("slr = 1", "slr = 0")
        .replace("slr = 2", "slr = 0");
    assert_ne!(crowded, SPATIAL);
    let error = design(&crowded).unwrap_err();
    assert!(
        error.contains("field `engines`: SLR0 would need 6544 DSPs for")
            && error.contains("fc2")
            && error.contains("its part of the kernel region has 2736"),
        "{error}"
    );
    // A platform of one SLR has no SLR2 to place FC2 on.
    let one_slr = roofsim::config::platform::DEFAULT_PLATFORM
        .split("[[slrs]]")
        .next()
        .unwrap();
    let platform =
        roofsim::config::platform::load_platform(&Source::built_in("one.toml", one_slr)).unwrap();
    let error = load_design(&Source::built_in("s.toml", SPATIAL), &platform).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("o is placed on SLR1, but the platform has 1 SLR(s)"),
        "{error}"
    );
    // Without named SLRs the pool spreads in turn: three arrays, one per SLR.
    let default = design(DEFAULT_DESIGN).unwrap();
    for (slr, usage) in default.slr_use().iter().enumerate() {
        let names: Vec<&str> = usage
            .engines
            .iter()
            .map(|e| default.engines()[e.engine].name.as_str())
            .collect();
        assert_eq!(names, [format!("array{slr}"), format!("vector{slr}")]);
    }
}

/// LUT multipliers: Chen et al.'s BERT-base design expressed with them takes 1,920 DSPs
/// (published: 1,780) and FINN's estimate of 101 LUTs per W4A8 MAC lane for its QKV and FC1
/// stages (2,048 lanes each); LUT multipliers at a float precision, or on an SLR whose
/// LUTs the platform does not give, are refused.
#[test]
fn lut_multipliers_take_luts_instead_of_dsps() {
    const BERT: &str = include_str!("../../configs/designs/u280-w4a8-bert-spatial.toml");
    let bert = design(BERT).unwrap();
    assert_eq!(bert.resources().dsps, 1920);
    let luts: Vec<u64> = bert.slr_use().iter().map(|slr| slr.used.luts).collect();
    let lane = 1.1 * ((2 * 2 - 1) * 12 + 2 * 12 + 32) as f64;
    assert_eq!(luts[0], (300.0 + 2048.0 * lane).ceil() as u64);
    assert_eq!(luts[1], (300.0 + 2048.0 * lane).ceil() as u64);
    assert_eq!(luts[2], 0);
    let float = BERT.replace("precision = \"int4/int8\"", "precision = \"fp16\"");
    let error = design(&float).unwrap_err();
    assert!(error.contains("`lut` multipliers are integer"), "{error}");
    let no_luts = roofsim::config::platform::DEFAULT_PLATFORM
        .lines()
        .filter(|line| !line.starts_with("luts = "))
        .collect::<Vec<_>>()
        .join("\n");
    let platform =
        roofsim::config::platform::load_platform(&Source::built_in("p.toml", &no_luts)).unwrap();
    let error = load_design(&Source::built_in("bert.toml", BERT), &platform).unwrap_err();
    assert!(
        error.to_string().contains("LUTs for LUT multipliers"),
        "{error}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Every FIFO depth the lowering accepts runs to the end (no deadlock), whatever the
    /// two engines' tiles and loop orders; a depth it refuses names the smallest that runs:
    /// that one runs (or only its storage's room on the chip refuses it), one less does not.
    #[test]
    fn every_accepted_stream_depth_runs(
        tm in prop::sample::select(vec![64u64, 128, 256]),
        fc1_tn in prop::sample::select(vec![256u64, 768, 1536, 3072]),
        fc2_tn in prop::sample::select(vec![256u64, 384, 768]),
        fc2_tk in prop::sample::select(vec![256u64, 512, 1024]),
        fc1_order in prop::sample::select(vec!["mnk", "nmk"]),
        depth in 1u64..12,
    ) {
        let text = MLP_STREAM
            .replace(
                "tiling = { tm = 64, tn = 256, tk = 768, loop_order = \"mnk\" }",
                &format!("tiling = {{ tm = {tm}, tn = {fc1_tn}, tk = 768, loop_order = \"{fc1_order}\" }}"),
            )
            .replace(
                "tiling = { tm = 64, tn = 768, tk = 256, loop_order = \"mnk\" }",
                &format!("tiling = {{ tm = {tm}, tn = {fc2_tn}, tk = {fc2_tk}, loop_order = \"mnk\" }}"),
            )
            .replace("memory = \"hbm\"", "memory = \"ideal\"");
        let at = |depth: u64| design(&text.replace("depth_tiles = 2", &format!("depth_tiles = {depth}")));
        let Ok(shallow) = at(depth) else { return Ok(()) };
        let work = workload(&shallow, &["vision/fc1_gelu", "vision/fc2"]);
        match run(&shallow, &work) {
            Ok(_) => {}
            Err(error) => {
                let error = error.to_string();
                prop_assert!(!error.contains("deadlock in"), "a run deadlocked: {error}");
                if let Some(rest) = error.split("raise depth_tiles to ").nth(1) {
                    let suggested: u64 = rest
                        .split(|c: char| !c.is_ascii_digit())
                        .next()
                        .and_then(|d| d.parse().ok())
                        .unwrap();
                    // It runs, or only the chip's room for its storage refuses it.
                    if let Err(error) = run(&at(suggested).unwrap(), &work) {
                        let error = error.to_string();
                        prop_assert!(
                            !error.contains("depth_tiles =") && !error.contains("deadlock"),
                            "depth {suggested} was suggested: {error}"
                        );
                    }
                    // And it is the smallest: one less is refused (for its depth, or first
                    // for its storage when that overfills the SLR too).
                    let below = run(&at(suggested - 1).unwrap(), &work).map(|_| ()).unwrap_err();
                    let below = below.to_string();
                    prop_assert!(
                        below.contains("depth_tiles =") || below.contains("its storage brings"),
                        "{below}"
                    );
                }
            }
        }
    }
}

/// Loop order decides what finishes first. Context run head-major (`mnk`: every row block
/// of head h, then head h + 1) completes the heads of its first rows only in its last
/// twelfth, so the output projection, which reads every head of its rows, starts near
/// context's end; row-major (`mbnk`: every head of row block r, then r + 1) lets it start
/// after the first row block. The pipeline model, by the same rule, says the same.
#[test]
fn a_row_major_context_lets_the_output_projection_start_early() {
    let kernels = [
        "vision/scores",
        "vision/softmax",
        "vision/context",
        "vision/o_proj",
    ];
    let start_of_o = |order: &str| {
        let text = SPATIAL.replace(
            "dataflow = \"ws\"\nslr = 0",
            &format!(
                "dataflow = \"ws\"\nslr = 0\ntiling = {{ tm = 512, tn = 256, tk = 1024, \
                 loop_order = \"{order}\" }}"
            ),
        );
        let design = design(&text).unwrap();
        let work = workload(&design, &kernels);
        let sim = run(&design, &work).unwrap();
        let index = |label: &str| {
            work.kernels
                .iter()
                .position(|k| k.label() == label)
                .unwrap()
        };
        let (context, o) = (index("vision/context"), index("vision/o_proj"));
        let needs = roofsim::lower::first_tile_needs(&work.kernels, o, &design);
        let context_span = (
            sim.kernels[context].start_cycle,
            sim.kernels[context].cycles,
        );
        (sim.kernels[o].start_cycle, context_span, needs)
    };
    let (head_major, (context_start, context_cycles), head_needs) = start_of_o("mnk");
    let (row_major, _, row_needs) = start_of_o("mbnk");
    // 12 heads x 2 row blocks of 512 queries: head 11's first block is tile 23 of 24
    // head-major, tile 12 of 24 row-major.
    assert_eq!(head_needs, vec![(2, (23, 24))]);
    assert_eq!(row_needs, vec![(2, (12, 24))]);
    assert!(
        head_major >= context_start + context_cycles * 22 / 24,
        "head-major: O starts at {head_major}, context spans {context_start}+{context_cycles}"
    );
    assert!(row_major < head_major, "{row_major} >= {head_major}");
}
