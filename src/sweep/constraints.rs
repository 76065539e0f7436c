//! A sweep's `[constraints]`: resource budgets as shares of the platform and of each SLR's
//! part of it; a point over one is skipped with the reason.

use crate::config::design::Design;
use crate::config::platform::Platform;
use serde::{Deserialize, Serialize};

/// The routability ceiling DSE tools use on the U280 (reference/u280.md): the default of
/// every budget a sweep's `[constraints]` table leaves out.
const DEFAULT_SHARE: f64 = 0.75;

fn default_share() -> f64 {
    DEFAULT_SHARE
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConstraints {
    #[serde(default = "default_share")]
    pub(super) max_dsp_share: f64,
    #[serde(default = "default_share")]
    pub(super) max_bram_share: f64,
    #[serde(default = "default_share")]
    pub(super) max_uram_share: f64,
    #[serde(default = "whole_slr")]
    pub(super) max_slr_dsp_share: f64,
    #[serde(default = "whole_slr")]
    pub(super) max_slr_bram_share: f64,
    #[serde(default = "whole_slr")]
    pub(super) max_slr_uram_share: f64,
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
        }
    }
}

/// Resource budgets as shares of the platform, and of each SLR's part of it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Constraints {
    pub max_dsp_share: f64,
    pub max_bram_share: f64,
    pub max_uram_share: f64,
    #[serde(default = "whole_slr")]
    pub max_slr_dsp_share: f64,
    #[serde(default = "whole_slr")]
    pub max_slr_bram_share: f64,
    #[serde(default = "whole_slr")]
    pub max_slr_uram_share: f64,
}

impl Constraints {
    /// Why `design` breaks a budget (the first one broken), if it does.
    pub fn check(&self, design: &Design, platform: &Platform) -> Result<(), String> {
        let used = design.resources();
        let chip = [
            ("DSPs", used.dsps, platform.dsp_slices, self.max_dsp_share),
            (
                "BRAM",
                used.bram_blocks,
                platform.sram.bram_blocks,
                self.max_bram_share,
            ),
            (
                "URAM",
                used.uram_blocks,
                platform.sram.uram_blocks,
                self.max_uram_share,
            ),
        ];
        for (name, used, available, budget) in chip {
            let share = used as f64 / available.max(1) as f64;
            if share > budget {
                return Err(format!(
                    "{name} {:.0}% over the {:.0}% budget",
                    100.0 * share,
                    100.0 * budget
                ));
            }
        }
        for (index, slr) in design.slr_use().iter().enumerate() {
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
            ] {
                let share = used as f64 / available.max(1) as f64;
                if share > budget {
                    return Err(format!(
                        "SLR{index} {name} {:.0}% over the {:.0}% per-SLR budget",
                        100.0 * share,
                        100.0 * budget
                    ));
                }
            }
        }
        Ok(())
    }
}
