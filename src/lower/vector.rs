//! Vector kernels: row chunks streamed through the vector units' line buffers.

use super::address::TensorLayout;
use super::layer::OutputTile;
use super::{EdgeKind, Label, Lowering, NodeKind, Ring, View, operand};
use crate::config::design::{Design, LoopOrder};
use crate::workload::{Direction, Kernel, Operand};
use std::sync::Arc;

/// A vector kernel's rows, and the rows of one chunk: as many whole rows as fill one line
/// buffer of the vector unit (at least one).
pub(super) fn vector_chunks(kernel: &Kernel, design: &Design) -> (u64, u64) {
    let rows = kernel.batch.saturating_mul(kernel.m);
    let output_bits = operand(kernel, Direction::Write, 0).map_or(32, |o| o.bits);
    let row_bytes = kernel.n.saturating_mul(output_bits).div_ceil(8).max(1);
    (
        rows,
        (design.vector_chunk_bytes() / row_bytes).clamp(1, rows.max(1)),
    )
}

/// Whether the kernel's vector engines take its instances' row blocks in turn (`mbnk`):
/// then a chunk stays within one instance.
fn row_major_across_instances(kernel: &Kernel, design: &Design) -> bool {
    let engines = design.engines_for(kernel.label_parts(), None).vector;
    kernel.batch > 1
        && engines
            .first()
            .is_some_and(|&e| design.engines()[e].chunk_order == LoopOrder::Mbnk)
}

/// How many chunks a vector kernel runs in.
pub(super) fn chunk_count(kernel: &Kernel, design: &Design) -> u64 {
    let (rows, chunk_rows) = vector_chunks(kernel, design);
    if row_major_across_instances(kernel, design) {
        let per_instance = chunk_rows.min(kernel.m).max(1);
        kernel.m.div_ceil(per_instance).saturating_mul(kernel.batch)
    } else {
        rows.div_ceil(chunk_rows)
    }
}

/// The (batch-stacked) rows of each chunk in the order the vector engines run them: whole
/// line buffers in row order, or (`mbnk` on a batched kernel) row block r of every
/// instance, then row block r + 1.
pub(super) fn chunk_rows(kernel: &Kernel, design: &Design) -> Vec<(u64, u64)> {
    let (rows, chunk_rows) = vector_chunks(kernel, design);
    if !row_major_across_instances(kernel, design) {
        return (0..rows.div_ceil(chunk_rows))
            .map(|c| (c * chunk_rows, ((c + 1) * chunk_rows).min(rows)))
            .collect();
    }
    let (m, step) = (kernel.m, chunk_rows.min(kernel.m).max(1));
    (0..m.div_ceil(step))
        .flat_map(|block| {
            (0..kernel.batch)
                .map(move |b| (b * m + block * step, b * m + ((block + 1) * step).min(m)))
        })
        .collect()
}

/// Vector kernels stream row chunks: load inputs, run on a vector unit, store the result.
pub(super) fn lower_vector(lowering: &mut Lowering, kernel: &Kernel) -> Vec<OutputTile> {
    let design = lowering.design;
    let engines = design.engines_for(kernel.label_parts(), None).vector;
    let row_elements = kernel.n;
    // Chunks are (batch-stacked) rows of whole tensor rows.
    let whole_rows = View {
        batch: 0,
        rows_per_batch: 0,
        columns: row_elements,
    };
    let inputs: Vec<&Operand> = kernel
        .operands
        .iter()
        .filter(|o| o.direction == Direction::Read && !o.is_parameter)
        .collect();
    let output = operand(kernel, Direction::Write, 0).expect("a vector kernel writes");
    let parameter_load = {
        let parameters: u64 = kernel
            .operands
            .iter()
            .filter(|o| o.is_parameter)
            .map(Operand::bytes)
            .sum();
        (parameters > 0).then(|| {
            let layout =
                TensorLayout::row_major(&design.placement().weight_channels, 8, 0, parameters);
            let tile = ((0, 1), (0, parameters));
            let label = Label::from("load parameters");
            lowering.transfer(NodeKind::Load, engines[0], &layout, tile, label)
        })
    };
    let pass_words: Arc<str> = Arc::from(kernel.op.name());
    let load_words: Vec<Arc<str>> = inputs
        .iter()
        .map(|input| Arc::from(format!("load {}", input.name)))
        .collect();
    let store_words: Arc<str> = Arc::from("store");
    for (chunk, rows) in chunk_rows(kernel, design).into_iter().enumerate() {
        let engine = engines[chunk % engines.len()];
        let elements = (rows.1 - rows.0) * row_elements;
        let pass = lowering.compute(
            NodeKind::Vector {
                engine: engine as u32,
                elements,
            },
            Label::rows(&pass_words, rows),
        );
        lowering.edge(parameter_load, pass, EdgeKind::Data);
        let (slot, previous) = lowering.take(engine, Ring::A);
        for (input, load_words) in inputs.iter().zip(&load_words) {
            let load = lowering.input(
                engine,
                input,
                whole_rows,
                (rows, (0, row_elements)),
                Label::rows(load_words, rows),
            );
            lowering.edge(previous, load, EdgeKind::BufferSlot);
            lowering.edge(Some(load), pass, EdgeKind::Data);
        }
        let store = lowering.output(
            engine,
            output,
            whole_rows,
            (rows, (0, row_elements)),
            Label::rows(&store_words, rows),
        );
        lowering.edge(Some(pass), store, EdgeKind::Data);
        lowering.used_by(engine, Ring::A, slot, store);
    }
    std::mem::take(&mut lowering.outputs)
}
