//! The clock a design can be expected to close at, with the rule that produced it. A warning,
//! never a silent change: the simulation runs at the design's clock unless asked to apply
//! this one (`--clock-from-model`).
//!
//! Rules (sources in `docs/src/reference/u280-resources-power.md` §5):
//! - the platform's kernel clock target (U280: 300 MHz, the Vitis default (P) UG1702) when
//!   every SLR stays within the utilisation ceilings tools use for timing closure: DSP, BRAM
//!   and URAM at most 80 % of the SLR's kernel region, LUTs at most 70 %, FFs 50 % (FINN
//!   `DEFAULT_RES_LIMITS`, "recommended resource limits from Xilinx for timing closure" (P));
//! - the same when a boundary between SLRs carries more than 70 % of its super long lines
//!   (an assumption (D): the reference's rule of thumb, between two routed U280 builds (S),
//!   one at 59 % of a boundary that failed routing, an earlier version of it missing 300 MHz
//!   by 2.1 ns, and one at 85 % whose SLR0 was 99 % full);
//! - beyond a ceiling, 225 MHz, in a range of 200–250 MHz: what published LLM accelerators
//!   that filled the U280 closed at (DFX 200 MHz, FlightLLM 225 MHz, Chen et al. 245–250 MHz
//!   (S)); the midpoint is an assumption, the range is what the summary shows;
//! - the size of a single DSP engine against the largest published engines at 300 MHz:
//!   PG367's DPUCAHX8H closed engines of about 520 DSPs (2,598 over 5 engines) at 300 MHz
//!   as RTL without a floorplanning tool (P); AutoSA's INT8 systolic array on a U250, 6,144
//!   DSPs in one array, closed 300 MHz only floorplanned by AutoBridge, 136 MHz without (P).
//!   An engine above 520 DSPs is flagged as needing floorplanning (AutoBridge, TAPA,
//!   RapidStream), the range's low end falling to AutoSA's unfloorplanned 136 MHz; one
//!   above 6,144 is larger than anything published at 300 MHz and is expected at the
//!   crowded clock. Chen et al.'s 16 × 16 HLS array that failed 250 MHz (S) is an HLS
//!   result without floorplanning, inside the same range. LUT-multiplier engines are
//!   judged by the LUT ceiling only.
//!
//! Not modelled: unregistered SLR crossings (crossings are assumed registered, UG1399).

use super::{Design, SlrUse};
use crate::config::platform::Platform;

/// FINN's DSP, BRAM and URAM ceilings per SLR (P).
pub const UTILISATION_CEILING: f64 = 0.80;

/// FINN's LUT ceiling per SLR (P), applied to the LUTs roofsim estimates (LUT multipliers
/// and the DSP engines' logic).
pub const LUT_CEILING: f64 = 0.70;

/// FINN's flip-flop ceiling per SLR (P).
pub const FF_CEILING: f64 = 0.50;

/// Share of a boundary's super long lines beyond which routing is expected to congest: an
/// assumption (D) between two routed U280 builds (S), at 59 % (failed routing) and 85 %.
pub const SLL_CEILING: f64 = 0.70;

/// What full designs on the U280 closed at: 200–250 MHz, 225 expected (S).
pub const CROWDED_CLOCK_MHZ: (f64, f64, f64) = (200.0, 225.0, 250.0);

/// The largest DSP engine published at 300 MHz without a floorplanning tool: a DPUCAHX8H
/// engine, 2,598 DSPs over 5 engines (P) PG367.
pub const UNFLOORPLANNED_ENGINE_DSPS: f64 = 520.0;

/// The largest single DSP engine published at 300 MHz: AutoSA's INT8 array, floorplanned
/// by AutoBridge (P).
pub const LARGEST_ENGINE_DSPS: f64 = 6144.0;

/// What AutoSA's array closed at without floorplanning (P).
pub const UNFLOORPLANNED_CLOCK_MHZ: f64 = 136.0;

/// The expected clock, its range and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockEstimate {
    /// The clock the design states, MHz.
    pub design_mhz: f64,
    /// The clock it can be expected to close at, MHz.
    pub expected_mhz: f64,
    /// The range the expected clock falls in, MHz (low, high).
    pub range_mhz: (f64, f64),
    /// The rule that set it, and every ceiling crossed.
    pub reasons: Vec<String>,
}

impl ClockEstimate {
    /// Whether the design asks for more than it can be expected to close at.
    pub fn is_optimistic(&self) -> bool {
        self.design_mhz > self.expected_mhz
    }

    /// One line for the summary: the estimate, and a warning when the design asks more.
    pub fn text(&self) -> String {
        let verdict = if self.is_optimistic() {
            format!(
                "WARNING: the design asks {:.0} MHz; expect {:.0} MHz ({:.0}-{:.0}); \
                 --clock-from-model simulates at it",
                self.design_mhz, self.expected_mhz, self.range_mhz.0, self.range_mhz.1
            )
        } else {
            format!(
                "{:.0} MHz is within the expected {:.0} MHz ({:.0}-{:.0})",
                self.design_mhz, self.expected_mhz, self.range_mhz.0, self.range_mhz.1
            )
        };
        format!("clock: {verdict} ({})\n", self.reasons.join("; "))
    }
}

/// The clock `design` can be expected to close at on `platform`, its SLRs taking `slrs`
/// (the design's own, or with its links: `lower::Bill`).
pub fn expected_clock(design: &Design, platform: &Platform, slrs: &[SlrUse]) -> ClockEstimate {
    let target_mhz = platform.clock_hz / 1e6;
    let mut crowded = crowded_slrs(slrs);
    let (oversized, floorplanned) = large_engines(design, slrs);
    crowded.extend(oversized);
    let (expected_mhz, mut range_mhz, mut reasons) = if crowded.is_empty() {
        (
            target_mhz,
            (target_mhz, target_mhz),
            vec![format!(
                "every SLR within the {:.0} % DSP/BRAM/URAM ceilings: the platform's {target_mhz:.0} MHz target",
                100.0 * UTILISATION_CEILING
            )],
        )
    } else {
        let (low, mid, high) = CROWDED_CLOCK_MHZ;
        let mut reasons = vec![format!(
            "beyond the ceilings ({:.0} % DSP/BRAM/URAM, {:.0} % LUT and SLL, {:.0} % FF) full \
             U280 designs closed at {low:.0}-{high:.0} MHz",
            100.0 * UTILISATION_CEILING,
            100.0 * LUT_CEILING,
            100.0 * FF_CEILING
        )];
        reasons.extend(crowded);
        (
            mid.min(target_mhz),
            (low.min(target_mhz), high.min(target_mhz)),
            reasons,
        )
    };
    if !floorplanned.is_empty() {
        range_mhz.0 = range_mhz.0.min(UNFLOORPLANNED_CLOCK_MHZ);
        reasons.push(format!(
            "needs floorplanning: {} above the {UNFLOORPLANNED_ENGINE_DSPS:.0} DSPs of the \
             largest engine closed at 300 MHz without it (AutoSA's 6,144-DSP array: 300 MHz \
             floorplanned, {UNFLOORPLANNED_CLOCK_MHZ:.0} MHz not)",
            floorplanned.join(", ")
        ));
    }
    let design_mhz = design.clock_hz() / 1e6;
    if design_mhz > target_mhz {
        reasons.push(format!("above the platform's {target_mhz:.0} MHz target"));
    }
    ClockEstimate {
        design_mhz,
        expected_mhz,
        range_mhz,
        reasons,
    }
}

/// DSP engines larger than any published at 300 MHz (as `engine x 7000 DSPs`), and those
/// only floorplanned designs closed at (as `array0 (2048 DSPs)`).
fn large_engines(design: &Design, slrs: &[SlrUse]) -> (Vec<String>, Vec<String>) {
    let (mut oversized, mut floorplanned) = (Vec::new(), Vec::new());
    for engine in slrs.iter().flat_map(|slr| &slr.engines) {
        let name = &design.engines()[engine.engine].name;
        if engine.dsps > LARGEST_ENGINE_DSPS {
            oversized.push(format!(
                "engine {name} {:.0} DSPs (largest published at 300 MHz: {LARGEST_ENGINE_DSPS:.0})",
                engine.dsps
            ));
        } else if engine.dsps > UNFLOORPLANNED_ENGINE_DSPS {
            floorplanned.push(format!("{name} ({:.0} DSPs)", engine.dsps));
        }
    }
    (oversized, floorplanned)
}

/// Each SLR resource over the ceiling, as `SLR0 DSP 91 %`.
fn crowded_slrs(slrs: &[SlrUse]) -> Vec<String> {
    let mut crowded = Vec::new();
    for (index, slr) in slrs.iter().enumerate() {
        for (name, used, available, ceiling) in [
            (
                "DSP",
                slr.used.dsps,
                slr.available.dsp_slices,
                UTILISATION_CEILING,
            ),
            (
                "BRAM",
                slr.used.bram_blocks,
                slr.available.bram_blocks,
                UTILISATION_CEILING,
            ),
            (
                "URAM",
                slr.used.uram_blocks,
                slr.available.uram_blocks,
                UTILISATION_CEILING,
            ),
            ("LUT", slr.used.all_luts(), slr.available.luts, LUT_CEILING),
            ("FF", slr.used.ffs, slr.available.ffs, FF_CEILING),
            (
                "SLLs below",
                slr.slls_below,
                slr.slls_available,
                SLL_CEILING,
            ),
        ] {
            let share = used as f64 / available.max(1) as f64;
            if share > ceiling {
                crowded.push(format!("SLR{index} {name} {:.0} %", 100.0 * share));
            }
        }
    }
    crowded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Source;
    use crate::config::design::{DEFAULT_DESIGN, load_design};
    use crate::config::platform::default_platform;

    const SPATIAL: &str = include_str!("../../../configs/designs/u280-int8-spatial.toml");

    /// The default design keeps every SLR at 71-75 % of its DSPs: 300 MHz. The spatial
    /// design puts 2,496 of SLR0's 2,736 DSPs (91 %) on QKV and attention: 225 MHz expected,
    /// and its 300 MHz is flagged.
    #[test]
    fn crowding_an_slr_lowers_the_expected_clock() {
        let platform = default_platform();
        let default = load_design(&Source::built_in("d.toml", DEFAULT_DESIGN), &platform).unwrap();
        let estimate = expected_clock(&default, &platform, default.slr_use());
        assert_eq!(
            (estimate.expected_mhz, estimate.is_optimistic()),
            (300.0, false)
        );
        let spatial = load_design(&Source::built_in("s.toml", SPATIAL), &platform).unwrap();
        let estimate = expected_clock(&spatial, &platform, spatial.slr_use());
        assert_eq!(estimate.expected_mhz, 225.0);
        // Its QKV engine (1,280 DSPs) needs floorplanning: the range reaches 136 MHz.
        assert_eq!(estimate.range_mhz, (136.0, 250.0));
        assert!(estimate.is_optimistic());
        assert!(
            estimate.reasons.contains(&"SLR0 DSP 91 %".to_string()),
            "{:?}",
            estimate.reasons
        );
        // Its 2,496 DSPs' logic (162 FFs each) and 448 vector lanes' (177 each) fill 60 %
        // of SLR0's flip-flops: over FINN's 50 % too.
        assert!(
            estimate.reasons.contains(&"SLR0 FF 60 %".to_string()),
            "{:?}",
            estimate.reasons
        );
        assert!(
            estimate
                .text()
                .starts_with("clock: WARNING: the design asks 300 MHz; expect 225 MHz")
        );
        // At the expected clock the warning goes.
        let slower = spatial
            .modified(&platform, "test", |raw| raw.clock_mhz = 225.0)
            .unwrap();
        assert!(!expected_clock(&slower, &platform, slower.slr_use()).is_optimistic());
    }

    /// Catches: SLR crossings ignored by the clock. 36 small engines in SLR2 leave every
    /// DSP, BRAM and URAM ceiling alone, but their HBM paths fill 40 × 522 = 20,880 of the
    /// SLR0-SLR1 boundary's 23,040 super long lines (91 %): 225 MHz expected.
    #[test]
    fn a_crowded_boundary_lowers_the_expected_clock() {
        let platform = default_platform();
        let text = format!(
            "{}\n[[engines]]\nname = \"far\"\nkind = \"vector\"\nlanes = 1\ncount = 36\nslr = 2\n",
            DEFAULT_DESIGN.replace("chunk_bytes = 32768", "chunk_bytes = 512")
        );
        let design = load_design(&Source::built_in("d.toml", &text), &platform).unwrap();
        let estimate = expected_clock(&design, &platform, design.slr_use());
        assert_eq!(estimate.expected_mhz, 225.0, "{:?}", estimate.reasons);
        assert!(
            estimate
                .reasons
                .contains(&"SLR1 SLLs below 91 %".to_string()),
            "{:?}",
            estimate.reasons
        );
    }

    /// Catches: an SLL ceiling other than FINN's 70 %. 29 far engines (33 HBM paths of 522
    /// lines: 17,226 of 23,040, 75 %) lower the expected clock; 26 (30 paths, 68 %) do not
    /// (beside 32 × 64 pool arrays, whose flip-flops stay under their own ceiling).
    #[test]
    fn the_boundary_ceiling_is_seventy_percent() {
        let platform = default_platform();
        let expected = |far: u64| {
            let text = format!(
                "{}\n[[engines]]\nname = \"far\"\nkind = \"vector\"\nlanes = 1\ncount = {far}\nslr = 2\n",
                DEFAULT_DESIGN
                    .replace("chunk_bytes = 32768", "chunk_bytes = 512")
                    .replace("rows = 64", "rows = 32")
            );
            let design = load_design(&Source::built_in("d.toml", &text), &platform).unwrap();
            expected_clock(&design, &platform, design.slr_use())
        };
        let crowded = expected(29);
        assert_eq!(crowded.expected_mhz, 225.0, "{:?}", crowded.reasons);
        assert!(
            crowded
                .reasons
                .contains(&"SLR1 SLLs below 75 %".to_string()),
            "{:?}",
            crowded.reasons
        );
        let fine = expected(26);
        assert_eq!(fine.expected_mhz, 300.0, "{:?}", fine.reasons);
    }

    /// Catches: engine size ignored. The default design's 64 × 64 INT8 arrays take 2,048
    /// DSPs each, above the 520 of the largest engine closed at 300 MHz without a
    /// floorplanner: 300 MHz stands, flagged, its range down to 136 MHz. 16 × 32 arrays
    /// (256 DSPs) are not flagged. On a platform whose SLR0 held 8,000 DSPs (and four times
    /// its LUTs and FFs), one 128 × 112
    /// array (7,168 DSPs) is larger than anything published at 300 MHz: 225 MHz expected.
    #[test]
    fn a_large_engine_needs_floorplanning_or_lowers_the_clock() {
        let platform = default_platform();
        let default = load_design(&Source::built_in("d.toml", DEFAULT_DESIGN), &platform).unwrap();
        let estimate = expected_clock(&default, &platform, default.slr_use());
        assert_eq!(
            (estimate.expected_mhz, estimate.range_mhz),
            (300.0, (136.0, 300.0))
        );
        assert!(
            estimate.reasons.iter().any(|r| r.starts_with(
                "needs floorplanning: array0 (2048 DSPs), array1 (2048 DSPs), array2 (2048 DSPs)"
            )),
            "{:?}",
            estimate.reasons
        );
        let small = DEFAULT_DESIGN
            .replace("rows = 64", "rows = 16")
            .replace("cols = 64", "cols = 32");
        let small = load_design(&Source::built_in("d.toml", &small), &platform).unwrap();
        let estimate = expected_clock(&small, &platform, small.slr_use());
        assert_eq!(estimate.range_mhz, (300.0, 300.0), "{:?}", estimate.reasons);
        let big_slr = crate::config::platform::DEFAULT_PLATFORM
            .replacen("dsp_slices = 9024", "dsp_slices = 14000", 1)
            .replacen("dsp_slices = 2736", "dsp_slices = 8000", 1)
            .replacen("luts = 400800", "luts = 1600000", 1)
            .replacen("ffs = 801600", "ffs = 3200000", 1);
        let big_slr =
            crate::config::platform::load_platform(&Source::built_in("p.toml", &big_slr)).unwrap();
        let huge = DEFAULT_DESIGN
            .replace("count = 3", "count = 1")
            .replace("rows = 64", "rows = 128")
            .replace("cols = 64", "cols = 112");
        let huge = load_design(&Source::built_in("d.toml", &huge), &big_slr).unwrap();
        let estimate = expected_clock(&huge, &big_slr, huge.slr_use());
        assert_eq!(estimate.expected_mhz, 225.0, "{:?}", estimate.reasons);
        assert!(
            estimate
                .reasons
                .iter()
                .any(|r| r.starts_with("engine array0 7168 DSPs")),
            "{:?}",
            estimate.reasons
        );
    }
}
