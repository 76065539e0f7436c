//! A sweep's `[constraints]`: resource budgets as shares of the platform and of each SLR's
//! part of it; a point over one is skipped with the reason.

use crate::config::design::Design;
use crate::config::design::clock::expected_clock;
use crate::config::platform::Platform;
use crate::lower::Bill;
use crate::sim::power::RunPower;
use serde::{Deserialize, Serialize};

/// The routability ceiling DSE tools use on the U280 (reference/u280.md): the default of
/// every budget a sweep's `[constraints]` table leaves out.
const DEFAULT_SHARE: f64 = 0.75;

fn default_share() -> f64 {
    DEFAULT_SHARE
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConstraints {
    /// The largest share of the chip's DSPs a point may use; points beyond are skipped. Range:
    /// 0–1 (above 0).
    #[serde(default = "default_share")]
    pub(super) max_dsp_share: f64,
    /// The largest share of the chip's block RAMs a point may use; points beyond are skipped.
    /// Range: 0–1 (above 0).
    #[serde(default = "default_share")]
    pub(super) max_bram_share: f64,
    /// The largest share of the chip's UltraRAMs a point may use; points beyond are skipped.
    /// Range: 0–1 (above 0).
    #[serde(default = "default_share")]
    pub(super) max_uram_share: f64,
    /// The largest share of each SLR's DSPs a point may use; points beyond are skipped. Range:
    /// 0–1 (above 0).
    #[serde(default = "whole_slr")]
    pub(super) max_slr_dsp_share: f64,
    /// The largest share of each SLR's block RAMs a point may use; points beyond are skipped.
    /// Range: 0–1 (above 0).
    #[serde(default = "whole_slr")]
    pub(super) max_slr_bram_share: f64,
    /// The largest share of each SLR's UltraRAMs a point may use; points beyond are skipped.
    /// Range: 0–1 (above 0).
    #[serde(default = "whole_slr")]
    pub(super) max_slr_uram_share: f64,
    /// The largest share of each SLR's LUTs a point may use; points beyond are skipped. Range:
    /// 0–1 (above 0).
    #[serde(default = "whole_slr")]
    pub(super) max_slr_lut_share: f64,
    /// The largest share of each SLR's flip-flops a point may use; points beyond are skipped.
    /// Range: 0–1 (above 0).
    #[serde(default = "whole_slr")]
    pub(super) max_slr_ff_share: f64,
    /// The largest share of the super long lines of the boundary below each SLR a point may
    /// use; points beyond are skipped. Range: 0–1 (above 0).
    #[serde(default = "whole_slr")]
    pub(super) max_slr_sll_share: f64,
    /// Points whose expected clock (the summary's `clock:` line) is lower are skipped. Range:
    /// 1–1000.
    #[serde(default)]
    pub(super) min_expected_clock_mhz: Option<f64>,
    /// Points whose simulated board power may exceed this (the high end of its range) are
    /// skipped, W. Range: 0–10,000 (above 0).
    #[serde(default)]
    pub(super) max_power_w: Option<f64>,
}

/// Per SLR, the design's validation already refuses more than the SLR offers.
fn whole_slr() -> f64 {
    1.0
}

impl Default for RawConstraints {
    fn default() -> Self {
        RawConstraints {
            max_dsp_share: DEFAULT_SHARE,
            max_bram_share: DEFAULT_SHARE,
            max_uram_share: DEFAULT_SHARE,
            max_slr_dsp_share: whole_slr(),
            max_slr_bram_share: whole_slr(),
            max_slr_uram_share: whole_slr(),
            max_slr_lut_share: whole_slr(),
            max_slr_ff_share: whole_slr(),
            max_slr_sll_share: whole_slr(),
            min_expected_clock_mhz: None,
            max_power_w: None,
        }
    }
}

impl RawConstraints {
    /// Every budget by its field name, for validation.
    pub(super) fn shares(&self) -> [(&'static str, f64); 9] {
        [
            ("constraints.max_dsp_share", self.max_dsp_share),
            ("constraints.max_bram_share", self.max_bram_share),
            ("constraints.max_uram_share", self.max_uram_share),
            ("constraints.max_slr_dsp_share", self.max_slr_dsp_share),
            ("constraints.max_slr_bram_share", self.max_slr_bram_share),
            ("constraints.max_slr_uram_share", self.max_slr_uram_share),
            ("constraints.max_slr_lut_share", self.max_slr_lut_share),
            ("constraints.max_slr_ff_share", self.max_slr_ff_share),
            ("constraints.max_slr_sll_share", self.max_slr_sll_share),
        ]
    }

    /// The budgets, once [`RawConstraints::shares`] are checked.
    pub(super) fn budgets(&self) -> Constraints {
        Constraints {
            max_dsp_share: self.max_dsp_share,
            max_bram_share: self.max_bram_share,
            max_uram_share: self.max_uram_share,
            max_slr_dsp_share: self.max_slr_dsp_share,
            max_slr_bram_share: self.max_slr_bram_share,
            max_slr_uram_share: self.max_slr_uram_share,
            max_slr_lut_share: self.max_slr_lut_share,
            max_slr_ff_share: self.max_slr_ff_share,
            max_slr_sll_share: self.max_slr_sll_share,
            min_expected_clock_mhz: self.min_expected_clock_mhz,
            max_power_w: self.max_power_w,
        }
    }
}

/// Resource budgets as shares of the platform, and of each SLR's part of it (LUTs of every
/// kind, FFs, and the super long lines of the boundary below it). The per-SLR budgets
/// default when read from an older `sweep.meta.json` that lacks them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Constraints {
    /// Largest share of the chip's DSPs.
    pub max_dsp_share: f64,
    /// Largest share of the chip's block RAMs.
    pub max_bram_share: f64,
    /// Largest share of the chip's UltraRAMs.
    pub max_uram_share: f64,
    /// Largest share of each SLR's DSPs.
    #[serde(default = "whole_slr")]
    pub max_slr_dsp_share: f64,
    /// Largest share of each SLR's block RAMs.
    #[serde(default = "whole_slr")]
    pub max_slr_bram_share: f64,
    /// Largest share of each SLR's UltraRAMs.
    #[serde(default = "whole_slr")]
    pub max_slr_uram_share: f64,
    /// Largest share of each SLR's LUTs.
    #[serde(default = "whole_slr")]
    pub max_slr_lut_share: f64,
    /// Largest share of each SLR's flip-flops.
    #[serde(default = "whole_slr")]
    pub max_slr_ff_share: f64,
    /// Largest share of the super long lines below each SLR.
    #[serde(default = "whole_slr")]
    pub max_slr_sll_share: f64,
    /// The lowest expected clock a point may have, if any.
    #[serde(default)]
    pub min_expected_clock_mhz: Option<f64>,
    /// The most board power a point may draw (the high end of its simulated range), if any.
    #[serde(default)]
    pub max_power_w: Option<f64>,
}

/// `used` of `available` against `budget`, as the reason it breaks it.
fn over(what: String, used: u64, available: u64, budget: f64, scope: &str) -> Result<(), String> {
    let share = used as f64 / available.max(1) as f64;
    if share > budget {
        return Err(format!(
            "{what} {:.0}% over the {:.0}% {scope}budget",
            100.0 * share,
            100.0 * budget
        ));
    }
    Ok(())
}

impl Constraints {
    /// Why a simulated point's board power (its range, if the platform gives power inputs)
    /// breaks the power budget: the high end of the range over it. A budget on a platform
    /// without power inputs cannot be checked, and says so.
    pub fn check_power(&self, power: Option<&RunPower>) -> Option<String> {
        let cap = self.max_power_w?;
        match power {
            None => Some(format!(
                "a {cap} W power budget needs [power] in the platform, which this one lacks"
            )),
            Some(power) if power.total_w.1 > cap => Some(format!(
                "board power up to {:.1} W ({:.1}-{:.1}) over the {cap} W budget",
                power.total_w.1, power.total_w.0, power.total_w.1
            )),
            Some(_) => None,
        }
    }

    /// Why `design` with `bill` (its engines and on-chip links) breaks a budget (the first
    /// one broken), if it does.
    pub fn check(&self, design: &Design, bill: &Bill, platform: &Platform) -> Result<(), String> {
        if let Some(min_mhz) = self.min_expected_clock_mhz {
            let clock = expected_clock(design, platform, &bill.slrs);
            if clock.expected_mhz < min_mhz {
                return Err(format!(
                    "expected clock {:.0} MHz below the {min_mhz:.0} MHz budget ({})",
                    clock.expected_mhz,
                    clock.reasons.join("; ")
                ));
            }
        }
        let used = bill.total;
        over(
            "DSPs".into(),
            used.dsps,
            platform.dsp_slices,
            self.max_dsp_share,
            "",
        )?;
        let sram = &platform.sram;
        over(
            "BRAM".into(),
            used.bram_blocks,
            sram.bram_blocks,
            self.max_bram_share,
            "",
        )?;
        over(
            "URAM".into(),
            used.uram_blocks,
            sram.uram_blocks,
            self.max_uram_share,
            "",
        )?;
        for (index, slr) in bill.slrs.iter().enumerate() {
            let (used, available) = (slr.used, slr.available);
            for (name, used, available, budget) in [
                (
                    "DSPs",
                    used.dsps,
                    available.dsp_slices,
                    self.max_slr_dsp_share,
                ),
                (
                    "BRAM",
                    used.bram_blocks,
                    available.bram_blocks,
                    self.max_slr_bram_share,
                ),
                (
                    "URAM",
                    used.uram_blocks,
                    available.uram_blocks,
                    self.max_slr_uram_share,
                ),
                (
                    "LUTs",
                    used.all_luts(),
                    available.luts,
                    self.max_slr_lut_share,
                ),
                ("FFs", used.ffs, available.ffs, self.max_slr_ff_share),
                (
                    "SLLs below",
                    slr.slls_below,
                    slr.slls_available,
                    self.max_slr_sll_share,
                ),
            ] {
                // A resource the platform does not give is not budgeted.
                if available > 0 {
                    over(
                        format!("SLR{index} {name}"),
                        used,
                        available,
                        budget,
                        "per-SLR ",
                    )?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Catches: a sweep written before the per-SLR budgets existed cannot be resumed. Its
    /// `sweep.meta.json` lacks them; read back, they are the whole SLR, as a sweep that
    /// leaves them out gets.
    #[test]
    fn constraints_of_an_older_meta_file_take_the_per_slr_defaults() {
        let old = r#"{"max_dsp_share": 0.75, "max_bram_share": 0.75, "max_uram_share": 0.75}"#;
        let read: Constraints = serde_json::from_str(old).unwrap();
        assert_eq!(read, RawConstraints::default().budgets());
    }
}
