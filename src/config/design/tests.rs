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
