//! A vector engine's timing: `lanes` elements enter every `interval` cycles (the initiation
//! interval of its slowest operation: 1 for adds and multiplies, more for an fp32 `exp` HLS
//! schedules every few cycles), and the first result leaves after `depth` cycles. A pass over
//! `elements` elements holds the engine `ceil(elements / lanes) · interval + depth` cycles.
//! The pool's vector units (`[vector]`) have interval 1 and depth 0: an assumption of units
//! built for the design's element-wise ops, which keep up with HBM.

/// Cycles a pass over `elements` elements holds an engine of `lanes` lanes.
pub fn pass_cycles(elements: u64, lanes: u64, depth_cycles: u64, interval_cycles: u64) -> u64 {
    if elements == 0 {
        return 0;
    }
    elements.div_ceil(lanes) * interval_cycles + depth_cycles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_takes_one_cycle_per_lanes_elements_rounded_up() {
        assert_eq!(pass_cycles(1024, 256, 0, 1), 4);
        assert_eq!(pass_cycles(1025, 256, 0, 1), 5);
        assert_eq!(pass_cycles(1, 256, 0, 1), 1);
        assert_eq!(pass_cycles(0, 256, 0, 1), 0);
    }

    #[test]
    fn the_interval_multiplies_the_stream_and_the_depth_is_paid_once() {
        assert_eq!(pass_cycles(1024, 256, 20, 4), 4 * 4 + 20);
        assert_eq!(pass_cycles(2048, 256, 20, 4), 8 * 4 + 20);
    }
}
