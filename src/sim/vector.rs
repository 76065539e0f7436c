//! A vector unit's timing: `lanes` elements enter per cycle, fully pipelined, so a pass over
//! `elements` elements holds the unit `ceil(elements / lanes)` cycles. (An assumption of a
//! unit built for the design's element-wise ops; pipeline depth and initiation intervals per
//! operation are not modelled.)

/// Cycles a pass over `elements` elements holds a unit of `lanes` lanes.
pub fn pass_cycles(elements: u64, lanes: u64) -> u64 {
    elements.div_ceil(lanes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_takes_one_cycle_per_lanes_elements_rounded_up() {
        assert_eq!(pass_cycles(1024, 256), 4);
        assert_eq!(pass_cycles(1025, 256), 5);
        assert_eq!(pass_cycles(1, 256), 1);
        assert_eq!(pass_cycles(0, 256), 0);
    }
}
