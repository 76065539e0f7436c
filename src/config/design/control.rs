//! Instruction-driven control (`[control]`): an overlay runs one operation (kernel) after
//! another in program order, each issued by a controller, the next waiting for the previous
//! to drain and signal completion, and every HBM transfer set up by a DMA descriptor
//! before its data moves.
//!
//! Overlays built this way: DFX (Hong et al., MICRO 2022: a controller, a scheduler and a
//! scoreboard issuing custom instructions, DMA units per parameter type) and FlightLLM (Zeng
//! et al., FPGA 2024: an instruction set with a "unified" DMA). Neither paper gives its
//! per-instruction or per-descriptor cycles, so every cost here is the design's assumption,
//! stated with its range in the design file; the defaults (all 0) are a dataflow design
//! that pays none.

use super::ConfigError;
use super::links::Schedule;
use crate::config::in_range;
use serde::{Deserialize, Serialize};
use std::ops::RangeInclusive;

/// What instruction-driven control costs, in cycles of the design's clock (only with
/// `overlap_kernels = false`). All 0: no control overhead (a dataflow design).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema, Serialize,
)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// Fetching, decoding and dispatching one operation before its first tile starts. Range: 0–1,000,000.
    #[serde(default)]
    pub operation_issue_cycles: u64,
    /// From an operation's last tile to the controller seeing it complete (the completion
    /// signal and scoreboard update), before the next one issues. Range: 0–1,000,000.
    #[serde(default)]
    pub operation_sync_cycles: u64,
    /// Once per layer: the controller's synchronisation between layers (address update,
    /// and in multi-device overlays the exchange that ends a layer). Range: 0–1,000,000.
    #[serde(default)]
    pub layer_sync_cycles: u64,
    /// Per HBM transfer: writing its DMA descriptor before its requests leave. An engine's
    /// DMA sets its transfers up one after another. Range: 0–1,000,000.
    #[serde(default)]
    pub dma_setup_cycles: u64,
}

/// Each control cost: up to a millisecond at 1 GHz; beyond that it is a typo, not a design.
pub(super) const CONTROL_CYCLES: RangeInclusive<u64> = 0..=1_000_000;

impl Control {
    /// Whether the design pays anything for control.
    pub fn is_free(&self) -> bool {
        *self == Control::default()
    }
}

/// Checks each cost's range, and that an overlay runs its operations one at a time
/// (`[schedule] overlap_kernels = false`): program order with a drain between operations
/// is what the costs are paid around.
pub(super) fn validate_control(
    control: &Control,
    schedule: Schedule,
    file: &str,
) -> Result<(), ConfigError> {
    for (field, value) in [
        (
            "control.operation_issue_cycles",
            control.operation_issue_cycles,
        ),
        (
            "control.operation_sync_cycles",
            control.operation_sync_cycles,
        ),
        ("control.layer_sync_cycles", control.layer_sync_cycles),
        ("control.dma_setup_cycles", control.dma_setup_cycles),
    ] {
        in_range(file, field, value, CONTROL_CYCLES)?;
    }
    if !control.is_free() && schedule.overlap_kernels {
        return Err(ConfigError::invalid(
            file,
            "control",
            "an instruction-driven design runs one operation at a time: set [schedule] \
             overlap_kernels = false, or remove [control]",
        ));
    }
    Ok(())
}
