//! How large a kernel's graph will be, bounded before anything is built: the limits that keep
//! every accepted input's memory and time bounded.

use super::LowerError;
use super::vector::chunk_count;
use crate::config::design::Design;
use crate::workload::{Direction, Kernel, Op};

/// The most nodes one kernel's graph may have: a node with its channel requests and the
/// engine's per-node state takes under 600 bytes, so two graphs in flight (one per thread of
/// this 2-core machine) stay well under 256 MB.
pub const MAX_GRAPH_NODES: u64 = 200_000;

/// The most nodes the graph of one unit of overlapping kernels (a layer, or an encoder with
/// `overlap_layers`) may have: at the measured ~260 bytes per node of the graph alone, about
/// 100 MB. A whole run near the cap takes more (~480 bytes per node with the access maps'
/// tiles, the run's scratch and its results: the spatial design's full step at 2,000
/// language tokens peaks at 253 MB for 509 k events), so a memory estimate, not this count,
/// is what should bound it.
pub const MAX_UNIT_NODES: u64 = 400_000;

/// The most contiguous row segments one kernel's transfers may be cut into (lowering time).
pub const MAX_ROW_SEGMENTS: u64 = 1 << 26;

/// What lowering a kernel will build, bounded from above before any of it is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphSize {
    /// Nodes; each is one event when simulated.
    pub nodes: u64,
    /// Contiguous row segments the transfers are cut into.
    pub row_segments: u64,
}

/// Upper bounds on what [`lower`](super::lower) builds for `kernel` on `design` (saturating arithmetic).
pub fn graph_size(kernel: &Kernel, design: &Design) -> GraphSize {
    let product = |factors: &[u64]| {
        factors
            .iter()
            .fold(1u64, |product, &factor| product.saturating_mul(factor))
    };
    match kernel.op {
        Op::Gemm => {
            let tiling = design.tiling_of(&kernel.label(), kernel.class);
            let (tm, tk) = (tiling.tm.min(kernel.m), tiling.tk.min(kernel.k));
            let output_tiles = product(&[
                kernel.batch,
                kernel.m.div_ceil(tiling.tm),
                kernel.n.div_ceil(tiling.tn),
            ]);
            let k_tiles = kernel.k.div_ceil(tiling.tk);
            let extras = kernel.operands.len() as u64;
            GraphSize {
                // Per output tile: a GEMM and at most two loads per reduction step, the
                // bias/gate loads and the store.
                nodes: product(&[
                    output_tiles,
                    k_tiles.saturating_mul(3).saturating_add(extras),
                ]),
                row_segments: product(&[
                    output_tiles,
                    product(&[k_tiles, tm.saturating_add(tk)])
                        .saturating_add(product(&[extras, tm])),
                ]),
            }
        }
        Op::FusedAttention => {
            let tiles = kernel
                .m
                .div_ceil(design.tiling_of(&kernel.label(), kernel.class).tm);
            // Per query tile: its load and store, and per key tile two loads, scores, softmax
            // and context; every transfer is whole rows, one segment.
            let nodes = product(&[kernel.batch, tiles, product(&[tiles, 5]).saturating_add(2)]);
            GraphSize {
                nodes,
                row_segments: nodes,
            }
        }
        _ => {
            // Per chunk: a load per input, the pass and the store; one load of parameters.
            let inputs = kernel
                .operands
                .iter()
                .filter(|o| o.direction == Direction::Read && !o.is_parameter)
                .count() as u64;
            let parameters = kernel.operands.iter().any(|o| o.is_parameter);
            let nodes = product(&[chunk_count(kernel, design), inputs + 2])
                .saturating_add(u64::from(parameters));
            GraphSize {
                nodes,
                row_segments: nodes,
            }
        }
    }
}

/// The kernel's [`graph_size`], or why it is beyond [`MAX_GRAPH_NODES`] or
/// [`MAX_ROW_SEGMENTS`].
pub fn checked_graph_size(kernel: &Kernel, design: &Design) -> Result<GraphSize, LowerError> {
    let size = graph_size(kernel, design);
    if size.nodes > MAX_GRAPH_NODES || size.row_segments > MAX_ROW_SEGMENTS {
        return Err(LowerError::TooLarge {
            kernel: kernel.label(),
            nodes: size.nodes,
            row_segments: size.row_segments,
        });
    }
    Ok(size)
}
