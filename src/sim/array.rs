//! A systolic array's timing: how many cycles one GEMM tile holds an `R × C` array.

use crate::config::design::{ArrayShape, Dataflow};

/// Cycles one GEMM tile takes on an `R × C` array: the fold model of SCALE-Sim (Samajdar et
/// al., ISPASS 2020), as its compute units (version 3.0) count them. The operand dimensions
/// map to spatial rows `S_R`, spatial columns `S_C` and streamed length `T` by dataflow; each
/// fold of the array costs `R + C + T − 2` cycles of skewed fill, streaming and drain, plus `R`
/// cycles for ws and is to preload the stationary operand first; partial folds are padded to
/// the whole array; folds do not overlap. `tests/golden/scalesim-3.0-fold-cycles.csv` holds
/// SCALE-Sim's own counts.
///
/// With `overlap_folds`, a fold enters the array while the previous one drains: the fill,
/// drain and first preload are paid once per tile, and each further fold holds the array for
/// `max(T, R)` cycles (its preload or output drain must fit under the next fold's streaming).
pub fn tile_cycles(array: &ArrayShape, m: u64, n: u64, k: u64) -> u64 {
    let (rows, cols) = (array.rows, array.cols);
    let (spatial_rows, spatial_cols, streamed, preload) = match array.dataflow {
        Dataflow::Os => (m, n, k, 0),
        Dataflow::Ws => (k, n, m, rows),
        Dataflow::Is => (k, m, n, rows),
    };
    let folds = spatial_rows.div_ceil(rows) * spatial_cols.div_ceil(cols);
    let one_fold = preload + rows + cols + streamed - 2;
    if array.overlap_folds {
        one_fold + (folds - 1) * streamed.max(rows)
    } else {
        folds * one_fold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_model_by_dataflow() {
        let array = |dataflow| ArrayShape {
            rows: 8,
            cols: 8,
            dataflow,
            overlap_folds: false,
        };
        // 8x8 array, M=16, N=8, K=4. os: (16/8)·(8/8) folds of 8+8+4−2 = 18.
        assert_eq!(tile_cycles(&array(Dataflow::Os), 16, 8, 4), 2 * 18);
        // ws: rows take K=4 (one padded fold), columns N=8, M=16 streams: 2·8+8+16−2 = 38.
        assert_eq!(tile_cycles(&array(Dataflow::Ws), 16, 8, 4), 38);
        // is: rows take K=4, columns M=16 (2 folds), N=8 streams: 2·8+8+8−2 = 30 each.
        assert_eq!(tile_cycles(&array(Dataflow::Is), 16, 8, 4), 2 * 30);
    }

    #[test]
    fn overlapped_folds_pay_fill_and_drain_once() {
        for dataflow in [Dataflow::Os, Dataflow::Ws, Dataflow::Is] {
            let plain = ArrayShape {
                rows: 8,
                cols: 8,
                dataflow,
                overlap_folds: false,
            };
            let overlapped = ArrayShape {
                overlap_folds: true,
                ..plain
            };
            // One fold: nothing to overlap.
            assert_eq!(
                tile_cycles(&overlapped, 8, 8, 8),
                tile_cycles(&plain, 8, 8, 8)
            );
            // 4 × 4 folds: after the first, each of the other 15 holds the array max(T, R).
            let cycles = tile_cycles(&overlapped, 32, 32, 100);
            assert!(cycles < tile_cycles(&plain, 32, 32, 100));
            if dataflow == Dataflow::Os {
                assert_eq!(cycles, tile_cycles(&plain, 8, 8, 100) + 15 * 100);
            }
        }
    }
}
