//! Validation of designs against the platform.

use super::*;
use crate::config::platform::default_platform;

fn design(text: &str) -> Result<Design, ConfigError> {
    load_design(&Source::built_in("d.toml", text), &default_platform())
}

#[test]
fn default_design_fits_the_u280() {
    let design = design(DEFAULT_DESIGN).unwrap();
    let platform = default_platform();
    assert!(
        design.resources().dsps * 4 <= platform.dsp_slices * 3,
        "≤ 75 % of DSPs"
    );
    assert!(design.resources().uram_blocks * 4 <= platform.sram.uram_blocks * 3);
}

#[test]
fn too_many_arrays_are_rejected() {
    let text = DEFAULT_DESIGN.replace("count = 3", "count = 30");
    let error = design(&text).unwrap_err().to_string();
    assert!(
        error.contains("`arrays`") && error.contains("DSPs"),
        "{error}"
    );
}

#[test]
fn a_tile_that_does_not_fit_its_buffer_is_rejected() {
    let text = DEFAULT_DESIGN.replace("tm = 512", "tm = 65536");
    let error = design(&text).unwrap_err().to_string();
    assert!(error.contains("buffers.memory"), "{error}");
}

#[test]
fn channels_outside_the_platform_are_rejected() {
    let text = DEFAULT_DESIGN.replace(
        "activation_channels = [16, 31]",
        "activation_channels = [16, 32]",
    );
    let error = design(&text).unwrap_err().to_string();
    assert!(error.contains("hbm.activation_channels"), "{error}");
}

/// The HBM ports take AXI3 bursts of at most 16 beats of 32 bytes (PG276): 1 KiB is refused.
#[test]
fn bursts_over_512_bytes_are_rejected() {
    let text = DEFAULT_DESIGN.replace("burst_bytes = 512", "burst_bytes = 1024");
    let error = design(&text).unwrap_err().to_string();
    assert!(
        error.ends_with("field `hbm.burst_bytes`: must be between 1 and 512, found 1024"),
        "{error}"
    );
}

/// Catches: buffers sized by capacity alone. An 8 × 512 array with small tiles holds 162 KB
/// (5 URAM blocks), but must read 8 activations and 512 weights (4,096 bits: 57 blocks side
/// by side) every cycle and write its 8·512 32-bit accumulators once per fold of
/// 8 + 512 + 128 - 2 = 646 cycles: 203 bits a cycle (3 blocks).
#[test]
fn a_buffer_narrower_than_its_array_takes_blocks_for_its_width() {
    let text = DEFAULT_DESIGN
        .replace("count = 3", "count = 1")
        .replace("rows = 64", "rows = 8")
        .replace("cols = 64", "cols = 512")
        .replace("tm = 512", "tm = 8")
        .replace("tn = 256", "tn = 512")
        .replace("tk = 1024", "tk = 128");
    let design = design(&text).unwrap();
    let array = &design.slr_use()[0].engines[0];
    assert_eq!(design.engines()[array.engine].name, "array0");
    assert_eq!(array.port_blocks, 1 + 57 + 3);
    assert!(array.buffer_bytes <= 5 * default_platform().sram.uram_block_bytes);
    assert!((array.uram_blocks - 61.0).abs() < 1e-9, "{array:?}");
    assert_eq!(design.slr_use()[0].used.uram_blocks, 61);
}

/// The same rule refuses what no SLR can feed: 4,096 vector lanes read two and write one
/// stream of 32,768 bits each cycle (1,368 BRAM36 side by side, beyond the chip's 2,016 for
/// three units), naming the lanes rather than the line buffers' size.
#[test]
fn vector_lanes_no_bram_can_feed_are_rejected() {
    let text = DEFAULT_DESIGN.replace("lanes = 256", "lanes = 4096");
    let error = design(&text).unwrap_err().to_string();
    assert!(
        error.contains("`vector.lanes`") && error.contains("port widths"),
        "{error}"
    );
}

/// The HBM ports sit in SLR0: every engine above it takes 522 super long lines on each
/// boundary below it, 23,040 at most (44 engines). With the pool's array and vector unit in
/// SLR1 and SLR2, 40 more engines in SLR2 fit and 41 overfill the SLR0-SLR1 boundary.
#[test]
fn engines_above_slr0_share_the_boundaries_hbm_paths_cross() {
    let many = |count: u64| {
        let base = DEFAULT_DESIGN.replace("chunk_bytes = 32768", "chunk_bytes = 512");
        format!(
            "{base}\n[[engines]]\nname = \"far\"\nkind = \"vector\"\nlanes = 1\ncount = {count}\nslr = 2\n"
        )
    };
    let error = design(&many(41)).unwrap_err().to_string();
    assert!(
        error.contains("SLR0-SLR1 boundary") && error.contains("23040"),
        "{error}"
    );
    let fits = design(&many(40)).unwrap();
    let slrs = fits.slr_use();
    assert_eq!(slrs[0].slls_below, 0);
    assert_eq!(slrs[1].slls_below, (2 + 2 + 40) * 522);
    assert_eq!(slrs[2].slls_below, (2 + 40) * 522);
}

/// Catches: INT8 packing assumed whatever the design says. Unpacked (plain HLS, one MAC per
/// DSP), three 64 × 64 INT8 arrays need 12,288 DSPs and are refused; three 32 × 64 take
/// 6,144, twice what they take packed.
#[test]
fn unpacked_int8_macs_take_one_dsp_each() {
    let unpacked = DEFAULT_DESIGN.replace("dsp_packing = true", "dsp_packing = false");
    let error = design(&unpacked).unwrap_err().to_string();
    assert!(error.contains("12288 DSPs"), "{error}");
    let narrow = |text: &str| design(&text.replace("rows = 64", "rows = 32")).unwrap();
    assert_eq!(narrow(&unpacked).resources().dsps, 6144);
    assert_eq!(narrow(DEFAULT_DESIGN).resources().dsps, 3072);
}

/// The engines' ordinary logic at the platform's 92 LUTs and 162 FFs per DSP (PG367's
/// DPUCAHX8H) and 226 LUTs and 177 FFs per vector lane (an HLS fp32 adder's fabric): the
/// default design's 6,144 DSPs and 768 lanes take 738,816 LUTs and 1,131,264 FFs; a platform
/// whose SLRs had 300,000 FFs each refuses it, naming the flip-flops.
#[test]
fn engines_take_luts_and_flip_flops_for_their_logic() {
    let default = design(DEFAULT_DESIGN).unwrap();
    assert_eq!(default.resources().logic_luts, 6144 * 92 + 768 * 226);
    assert_eq!(default.resources().ffs, 6144 * 162 + 768 * 177);
    assert_eq!(default.slr_use()[0].used.ffs, 2048 * 162 + 256 * 177);
    let text = crate::config::platform::DEFAULT_PLATFORM
        .lines()
        .map(|line| {
            if line.starts_with("ffs = ") {
                "ffs = 300000"
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let platform =
        crate::config::platform::load_platform(&Source::built_in("p.toml", &text)).unwrap();
    let error = load_design(&Source::built_in("d.toml", DEFAULT_DESIGN), &platform)
        .unwrap_err()
        .to_string();
    assert!(error.contains("377088 flip-flops"), "{error}");
}

/// `[control]`: a cost beyond its range names its field; an overlay that overlaps its
/// operations is refused (its costs are paid around one operation at a time).
#[test]
fn control_costs_out_of_range_or_on_overlapping_kernels_are_rejected() {
    let controlled = format!("{DEFAULT_DESIGN}\n[control]\ndma_setup_cycles = 1000001\n");
    let error = design(&controlled).unwrap_err().to_string();
    assert!(
        error.ends_with(
            "field `control.dma_setup_cycles`: must be between 0 and 1000000, found 1000001"
        ),
        "{error}"
    );
    let overlapped = format!(
        "{DEFAULT_DESIGN}\n[schedule]\noverlap_kernels = true\n[control]\noperation_issue_cycles = 8\n"
    );
    let error = design(&overlapped).unwrap_err().to_string();
    assert!(
        error
            .contains("field `control`: an instruction-driven design runs one operation at a time"),
        "{error}"
    );
    let free = format!("{DEFAULT_DESIGN}\n[schedule]\noverlap_kernels = true\n[control]\n");
    assert!(design(&free).unwrap().control().is_free());
}

/// A kernel's label matches a `[mapping]` key only whole: `vision/q_proj` is the vision
/// encoder's, not another encoder's, a longer or shorter name, or one without the slash;
/// the design's engines for it are the mapped one, while a kernel whose label no key names
/// gets the pool (the `[arrays]`). Catches a label matched by prefix or by name alone.
#[test]
fn a_mapping_key_names_a_kernel_by_its_whole_label() {
    let label = KernelLabel {
        encoder: "vision",
        name: "q_proj",
    };
    assert!(label.is("vision/q_proj"));
    assert!(label.is(&label.to_string()));
    for other in [
        "text/q_proj",
        "vision/q_proj2",
        "vision/q_pro",
        "visionXq_proj",
        "vision//q_proj",
        "q_proj",
        "",
    ] {
        assert!(!label.is(other), "{other}");
    }
    let design = design(include_str!(
        "../../../configs/designs/u280-int8-attention-dataflow.toml"
    ))
    .unwrap();
    let engines = design.engines();
    let q = engines.iter().position(|e| e.name == "q").unwrap();
    let projection = Some(KernelClass::Projection);
    assert_eq!(design.engines_for(label, projection).gemm, [q]);
    let unmapped = KernelLabel {
        encoder: "text",
        name: "q_proj",
    };
    let pool: Vec<usize> = (0..design.array_count() as usize).collect();
    assert!(!pool.contains(&q));
    assert_eq!(design.engines_for(unmapped, projection).gemm, pool);
}
