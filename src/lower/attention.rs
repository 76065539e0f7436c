//! Fused attention: scores, softmax and context per query tile, the scores kept on chip.

use super::gemm::tile_order;
use super::layer::OutputTile;
use super::{EdgeKind, Label, Lowering, NodeKind, Ring, View};
use crate::workload::Kernel;
use std::sync::Arc;

/// Flash-style attention: per query tile, stream key/value tiles through scores, softmax and
/// context without writing the scores to HBM.
pub(super) fn lower_fused_attention(lowering: &mut Lowering, kernel: &Kernel) -> Vec<OutputTile> {
    let design = lowering.design;
    let label = kernel.label_parts();
    let engines = design.engines_for(label, kernel.class);
    // Queries attend to keys: the same tokens in self-attention, a cache in cross-attention.
    let (queries, keys, head_dim) = (kernel.m, kernel.n, kernel.k);
    let q = &kernel.operands[0];
    let k = &kernel.operands[1];
    let v = &kernel.operands[2];
    let context = &kernel.operands[3];
    let tiling = design.tiling_of(label, kernel.class);
    let tile = tiling.tm;
    // Per GEMM engine, one buffer ring each for Q (A), K (B) and V (C) tiles; the context
    // tile being built shares the Q ring's lifetime.
    let order = tile_order(kernel.batch, (queries.div_ceil(tile), 1), tiling.loop_order);
    let words = |text: &str| -> Arc<str> { Arc::from(text) };
    let (load_q, store) = (words("load q"), words("store context"));
    let load_kv = [k, v].map(|operand| words(&format!("load {}", operand.name)));
    let [scores_words, softmax_words, context_words] = ["scores", "softmax", "context"].map(words);
    for (instance, (batch, qi, _)) in order.into_iter().enumerate() {
        let array = engines.gemm[instance % engines.gemm.len()];
        let unit = engines.vector[instance % engines.vector.len()];
        let rows = (qi * tile, ((qi + 1) * tile).min(queries));
        let q_load = lowering.input(
            array,
            q,
            View {
                batch,
                rows_per_batch: queries,
                columns: head_dim,
            },
            (rows, (0, head_dim)),
            Label::tile(&load_q, &[('b', batch), ('m', qi)]),
        );
        let q_slot = lowering.fill(array, Ring::A, q_load);
        let mut previous = Some(q_load);
        for kj in 0..keys.div_ceil(tile) {
            let key_rows = (kj * tile, ((kj + 1) * tile).min(keys));
            let (tm, tn) = (rows.1 - rows.0, key_rows.1 - key_rows.0);
            let mut kv_loads = Vec::new();
            let mut kv_slot_indices = Vec::new();
            for ((operand, ring), words) in [(k, Ring::B), (v, Ring::C)].into_iter().zip(&load_kv) {
                let node = lowering.input(
                    array,
                    operand,
                    View {
                        batch,
                        rows_per_batch: keys,
                        columns: head_dim,
                    },
                    (key_rows, (0, head_dim)),
                    Label::tile(words, &[('b', batch), ('m', qi), ('n', kj)]),
                );
                kv_slot_indices.push(lowering.fill(array, ring, node));
                kv_loads.push(node);
            }
            let scores = lowering.compute(
                NodeKind::gemm(array, tm, tn, head_dim),
                Label::tile(&scores_words, &[('b', batch), ('m', qi), ('n', kj)]),
            );
            lowering.edge(previous, scores, EdgeKind::Data);
            lowering.edge(Some(kv_loads[0]), scores, EdgeKind::Data);
            let softmax = lowering.compute(
                NodeKind::Vector {
                    engine: unit as u32,
                    elements: tm * tn,
                },
                Label::tile(&softmax_words, &[('b', batch), ('m', qi), ('n', kj)]),
            );
            lowering.edge(Some(scores), softmax, EdgeKind::Data);
            let context_tile = lowering.compute(
                NodeKind::gemm(array, tm, head_dim, tn),
                Label::tile(&context_words, &[('b', batch), ('m', qi), ('n', kj)]),
            );
            lowering.edge(Some(softmax), context_tile, EdgeKind::Data);
            lowering.edge(Some(kv_loads[1]), context_tile, EdgeKind::Data);
            lowering.used_by(array, Ring::B, kv_slot_indices[0], scores);
            lowering.used_by(array, Ring::C, kv_slot_indices[1], context_tile);
            previous = Some(context_tile);
        }
        let store = lowering.output(
            array,
            context,
            View {
                batch,
                rows_per_batch: queries,
                columns: head_dim,
            },
            (rows, (0, head_dim)),
            Label::tile(&store, &[('b', batch), ('m', qi)]),
        );
        lowering.edge(previous, store, EdgeKind::Data);
        lowering.used_by(array, Ring::A, q_slot, store);
    }
    std::mem::take(&mut lowering.outputs)
}
