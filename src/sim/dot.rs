//! A dot-product engine's timing: an unrolled adder tree of `lanes` multipliers, the GEMV and
//! HLS-style engine (a `PIPELINE II=1` loop over the outputs with the reduction unrolled by
//! `lanes`). Each output takes `ceil(k / lanes)` cycles through the tree; outputs follow each
//! other back to back, so the pipeline depth (multiplier latency plus `log2(lanes)` adder
//! stages, given by the design) is paid once per tile, not per output.

/// Cycles an `m × k` by `k × n` tile holds a dot engine of `lanes` MACs per cycle and a
/// pipeline `depth_cycles` deep.
pub fn tile_cycles(lanes: u64, depth_cycles: u64, m: u64, n: u64, k: u64) -> u64 {
    m * n * k.div_ceil(lanes) + depth_cycles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_stream_through_the_tree_and_the_depth_is_paid_once() {
        // 4 × 8 outputs, each a 256-long dot product on 64 lanes: 4 passes each.
        assert_eq!(tile_cycles(64, 10, 4, 8, 256), 4 * 8 * 4 + 10);
        // A partial pass costs a whole cycle.
        assert_eq!(tile_cycles(64, 0, 1, 1, 65), 2);
        // Twice the outputs: twice the streaming, the same depth (a per-output depth would
        // give 2 · (128 + 10)).
        assert_eq!(tile_cycles(64, 10, 8, 8, 256), 2 * 4 * 8 * 4 + 10);
    }
}
