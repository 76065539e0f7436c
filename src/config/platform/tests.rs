//! The platform file's validation: SLR budgets, HBM and DRAM timing, ranges.

use super::*;

/// The U280's three SLRs as the kernel region leaves them (8,496 DSPs of the 9,024); a
/// platform listing none is one SLR of the whole chip; SLRs adding up to more than the
/// chip are refused.
#[test]
fn slrs_are_the_kernel_regions_and_cannot_exceed_the_chip() {
    let u280 = default_platform();
    let dsps: Vec<u64> = u280.slrs.iter().map(|s| s.dsp_slices).collect();
    assert_eq!(dsps, [2736, 2880, 2880]);
    let without = DEFAULT_PLATFORM.split("[[slrs]]").next().unwrap();
    let one = load_platform(&Source::built_in("p.toml", without)).unwrap();
    assert_eq!(
        one.slrs,
        [SlrBudget {
            dsp_slices: 9024,
            bram_blocks: 2016,
            uram_blocks: 960,
            luts: 0,
            ffs: 0
        }]
    );
    let over = DEFAULT_PLATFORM.replace("uram_blocks = 320", "uram_blocks = 400");
    let error = load_platform(&Source::built_in("p.toml", &over)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "built-in:p.toml: field `slrs.uram_blocks`: the SLRs' 1200 exceed the chip's 960"
    );
}

#[test]
fn u280_roofs_are_derived_from_dsps_and_clock() {
    let u280 = default_platform();
    let int8_tops = u280.peak_ops_per_s(Precision::Int8) / 1e12;
    assert!((int8_tops - 10.8288).abs() < 1e-9, "{int8_tops}");
    let fp32_tflops = u280.peak_ops_per_s(Precision::Fp32) / 1e12;
    assert!((fp32_tflops - 1.08288).abs() < 1e-9, "{fp32_tflops}");
    assert!((u280.hbm.peak_bandwidth_bytes_per_s() - 460.8e9).abs() < 1.0);
    assert_eq!(u280.sram.total_bytes(), 2016 * 4608 + 960 * 36864);
}

/// Bank-level timing that cannot hold (a row cycle shorter than its active and precharge
/// times, a refresh longer than its interval, banks whose rows cannot hold the pseudo-channel's
/// share of the capacity, so addresses would alias) is refused naming the field.
#[test]
fn impossible_dram_timing_is_refused_by_field() {
    for (from, to, field) in [
        ("trc_ns = 48.0", "trc_ns = 20.0", "hbm.dram.trc_ns"),
        ("trfc_ns = 260.0", "trfc_ns = 5000.0", "hbm.dram.trfc_ns"),
        ("rows = 16384", "rows = 1000", "hbm.dram.rows"),
        (
            "rows = 16384",
            "rows = 1",
            "less than its 268435456 B share",
        ),
        ("rows = 16384", "rows = 8192", "hbm.dram.rows"),
        (
            "queue_depth = 32",
            "queue_depth = 0",
            "hbm.dram.queue_depth",
        ),
        (
            "write_queue_depth = 32",
            "write_queue_depth = 300",
            "hbm.dram.write_queue_depth",
        ),
        (
            "write_high_watermark = 26",
            "write_high_watermark = 40",
            "hbm.dram.write_high_watermark",
        ),
        (
            "write_low_watermark = 6",
            "write_low_watermark = 26",
            "hbm.dram.write_low_watermark",
        ),
        ("row_hit_cap = 4", "row_hit_cap = 0", "hbm.dram.row_hit_cap"),
    ] {
        let text = DEFAULT_PLATFORM.replace(from, to);
        let error = load_platform(&Source::built_in("p.toml", &text)).unwrap_err();
        let line = error.to_string();
        assert!(line.contains(field), "{to}: {line}");
        assert!(!line.contains('\n'), "one line: {line}");
    }
}

#[test]
fn unknown_field_is_named() {
    let text = DEFAULT_PLATFORM.replace("dsp_slices = 9024", "dsp_slices = 9024\ndsps = 1");
    let error = load_platform(&Source::built_in("p.toml", &text)).unwrap_err();
    let line = error.to_string();
    assert!(line.contains("unknown field `dsps`"), "{line}");
    assert!(!line.contains('\n'), "one line: {line}");
}

#[test]
fn measured_above_peak_is_rejected() {
    let text = DEFAULT_PLATFORM.replace(
        "measured_channel_bandwidth_gb_per_s = 13.27",
        "measured_channel_bandwidth_gb_per_s = 20.0",
    );
    let error = load_platform(&Source::built_in("p.toml", &text)).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("hbm.measured_channel_bandwidth_gb_per_s"),
        "{error}"
    );
}
