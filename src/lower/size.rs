//! How large a kernel's graph will be, bounded before anything is built: the limits that keep
//! every accepted input's memory and time bounded.

use super::LowerError;
use super::vector::chunk_count;
use crate::config::design::Design;
use crate::workload::{Direction, Kernel, Op};

/// What one run's graphs and results may take: 256 MB less 16 MB for the process itself
/// (the binary, the workload, the output rows; the default run peaks at 8 MB in all).
pub const MEMORY_BUDGET_BYTES: u64 = 240 << 20;

/// Bytes a graph takes per node while it is built and simulated, besides its transfers'
/// channel requests (the node, its label, edges, access-map tiles and the engine's per-node
/// state). An assumption, with [`REQUEST_BYTES`], checked from above by
/// `tools/memory-bounds.sh`: the estimate stays above every measured peak (the MLP-stream
/// design at 10,303 language tokens peaks at 124 MiB where 241 MiB is estimated, the
/// closest; the others at 23–27 % of the budget they stop at: the fast model's transfers
/// share request lists the bound counts one per transfer, the spatial designs' links move
/// on chip tiles the bound counts as transfers, and a node now takes 96 bytes in the graph,
/// 168 when this was set). 556 bytes per node was the measured whole-graph cost of the
/// spatial full step before requests were counted apart.
pub const GRAPH_BYTES_PER_NODE: u64 = 400;

/// Bytes a graph takes per channel request of a transfer: a [`super::ChannelRequest`] of 32
/// bytes and an assumed 16 for its share of the engine's per-request state (see
/// [`GRAPH_BYTES_PER_NODE`] for the check). On the models that ignore addresses, tiles of
/// one shape and alignment share their requests ([`super::Requests`]), so a graph holds far
/// fewer (a few hundred lists for 10,000–70,000 transfers); the bound still counts every
/// transfer's, the worst case of tiles that all fall differently on the stripes.
pub const REQUEST_BYTES: u64 = 48;

/// Bytes a run keeps per simulated node until it ends (the engines' and the HBM's busy
/// intervals, each kernel's results, the workload's own kernels). Measured 11.7–14.7: peak
/// less the process's 8 MiB and the decode graph's ~10 MiB, over the events, for
/// Llama-2-7B decoding on one layer (`tools/memory-bounds.txt`: 1,069 tokens at FP16, 186
/// MiB for 15.0 M events; 1,845 at W4A8, 231 MiB for 15.1 M); 16 is an assumed margin.
pub const KEPT_BYTES_PER_NODE: u64 = 16;

/// The most contiguous row segments one kernel's transfers may be cut into: what bounds the
/// lowering's time (Llama-2-7B's 4,096-token prefill at batch 8 cuts its scores into 71 M
/// and runs whole in 1.2 s).
pub const MAX_ROW_SEGMENTS: u64 = 1 << 27;

/// What lowering a kernel will build, bounded from above before any of it is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphSize {
    /// Nodes; each is one event when simulated.
    pub nodes: u64,
    /// Contiguous row segments the transfers are cut into.
    pub row_segments: u64,
    /// Bytes the graph takes while it is built and simulated: per node, and per channel
    /// request of its transfers (each touching at most every channel of its set).
    pub bytes: u64,
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
            let tiling = design.tiling_of(kernel.label_parts(), kernel.class);
            let (tm, tk) = (tiling.tm.min(kernel.m), tiling.tk.min(kernel.k));
            let output_tiles = product(&[
                kernel.batch,
                kernel.m.div_ceil(tiling.tm),
                kernel.n.div_ceil(tiling.tn),
            ]);
            let k_tiles = kernel.k.div_ceil(tiling.tk);
            let extras = kernel.operands.len() as u64;
            let tn = tiling.tn.min(kernel.n);
            // Per output tile: a GEMM and at most two loads per reduction step, the
            // bias/gate loads and the store.
            let transfers = product(&[
                output_tiles,
                k_tiles.saturating_mul(2).saturating_add(extras),
            ]);
            let moved_elements = product(&[
                output_tiles,
                product(&[k_tiles, tk, tm.saturating_add(tn)])
                    .saturating_add(product(&[extras, tm, tn])),
            ]);
            sized(
                design,
                transfers.saturating_add(product(&[output_tiles, k_tiles])),
                (transfers, product(&[moved_elements, element_bytes(kernel)])),
                product(&[
                    output_tiles,
                    product(&[k_tiles, tm.saturating_add(tk)])
                        .saturating_add(product(&[extras, tm])),
                ]),
            )
        }
        Op::FusedAttention => {
            let tiles = kernel
                .m
                .div_ceil(design.tiling_of(kernel.label_parts(), kernel.class).tm);
            // Per query tile: its load and store, and per key tile two loads, scores, softmax
            // and context; every transfer is whole rows, one segment.
            let nodes = product(&[kernel.batch, tiles, product(&[tiles, 5]).saturating_add(2)]);
            let transfers = product(&[kernel.batch, tiles, product(&[tiles, 2]).saturating_add(2)]);
            // Each transfer is at most one tile of the kernel's rows.
            let tile_bytes = product(&[
                design.tiling_of(kernel.label_parts(), kernel.class).tm,
                kernel.k.max(kernel.n),
                element_bytes(kernel),
            ]);
            sized(
                design,
                nodes,
                (transfers, product(&[transfers, tile_bytes])),
                nodes,
            )
        }
        _ => {
            // Per chunk: a load per input, the pass and the store; one load of parameters.
            let inputs = kernel
                .operands
                .iter()
                .filter(|o| o.direction == Direction::Read && !o.is_parameter)
                .count() as u64;
            let parameters = kernel.operands.iter().any(|o| o.is_parameter);
            let chunks = chunk_count(kernel, design);
            let transfers = product(&[chunks, inputs + 1]).saturating_add(u64::from(parameters));
            let nodes = transfers.saturating_add(chunks);
            // Every input and the output once, the parameters once.
            let moved_bytes = product(&[
                kernel.batch,
                kernel.m,
                kernel.n,
                inputs + 2,
                element_bytes(kernel),
            ]);
            sized(design, nodes, (transfers, moved_bytes), nodes)
        }
    }
}

/// Bytes per element of the kernel's widest operand.
fn element_bytes(kernel: &Kernel) -> u64 {
    kernel
        .operands
        .iter()
        .map(|o| o.bits)
        .max()
        .unwrap_or(8)
        .div_ceil(8)
}

/// A graph of `nodes` nodes, `transfers` of them transfers moving `moved_bytes` in all, cut
/// into `row_segments`. A transfer touches at most every channel of its set, and each of
/// its requests holds at least a segment or a stripe.
fn sized(
    design: &Design,
    nodes: u64,
    (transfers, moved_bytes): (u64, u64),
    row_segments: u64,
) -> GraphSize {
    let placement = design.placement();
    let channels = placement
        .weight_channels
        .len()
        .max(placement.activation_channels.len()) as u64;
    let requests = transfers
        .saturating_mul(channels)
        .min(row_segments.saturating_add(moved_bytes.div_ceil(placement.stripe_bytes.max(1))));
    GraphSize {
        nodes,
        row_segments,
        bytes: nodes
            .saturating_mul(GRAPH_BYTES_PER_NODE)
            .saturating_add(requests.saturating_mul(REQUEST_BYTES)),
    }
}

/// The kernel's [`graph_size`], or why it is beyond the memory budget alone or
/// [`MAX_ROW_SEGMENTS`].
pub fn checked_graph_size(kernel: &Kernel, design: &Design) -> Result<GraphSize, LowerError> {
    let size = graph_size(kernel, design);
    if size.bytes > MEMORY_BUDGET_BYTES || size.row_segments > MAX_ROW_SEGMENTS {
        return Err(LowerError::TooLarge {
            kernel: kernel.label(),
            nodes: size.nodes,
            megabytes: size.bytes.div_ceil(1 << 20),
            row_segments: size.row_segments,
            advice: coarser(kernel),
        });
    }
    Ok(size)
}

/// The knob that makes `kernel`'s graph smaller: its tiles, or a vector kernel's chunks.
pub fn coarser(kernel: &Kernel) -> &'static str {
    match kernel.op {
        Op::Gemm => "larger tiles (tiling.tm, tn, tk, or its engines' `tiling`)",
        Op::FusedAttention => "a larger tiling.tm (query and key blocks)",
        _ => "longer vector chunks (vector.chunk_bytes)",
    }
}
