//! Fused attention: scores, softmax and context per query tile, the scores kept on chip.

use super::address::TensorLayout;
use super::{EdgeKind, Lowering, NodeKind, Slots};
use crate::workload::Kernel;

/// Flash-style attention: per query tile, stream key/value tiles through scores, softmax and
/// context without writing the scores to HBM.
pub(super) fn lower_fused_attention(lowering: &mut Lowering, kernel: &Kernel) {
    let design = lowering.design;
    let (tokens, head_dim) = (kernel.m, kernel.k);
    let q = &kernel.operands[0];
    let k = &kernel.operands[1];
    let context = &kernel.operands[3];
    let kv_instances = k.elements / (tokens * head_dim);
    let activations = &design.placement().activation_channels;
    let tile = design.tiling_for(kernel.class).tm;
    // Per array, one buffer ring each for Q, K and V tiles (and the context tile being built,
    // which shares the Q ring's lifetime).
    let mut q_slots = Slots::per_unit(design.array_count(), design);
    let mut k_slots = Slots::per_unit(design.array_count(), design);
    let mut v_slots = Slots::per_unit(design.array_count(), design);
    let mut instance = 0u64;
    for batch in 0..kernel.batch {
        let kv = batch * kv_instances / kernel.batch;
        let q_layout =
            TensorLayout::row_major(activations, q.bits, batch * tokens * head_dim, head_dim);
        let kv_layout =
            TensorLayout::row_major(activations, k.bits, kv * tokens * head_dim, head_dim);
        let out_layout = TensorLayout::row_major(
            activations,
            context.bits,
            batch * tokens * head_dim,
            head_dim,
        );
        for qi in 0..tokens.div_ceil(tile) {
            let array = instance % design.array_count();
            let unit = instance % design.vector_units();
            instance += 1;
            let rows = (qi * tile, ((qi + 1) * tile).min(tokens));
            let slot = array as usize;
            let q_load = lowering.transfer(
                NodeKind::Load,
                array,
                &q_layout,
                (rows, (0, head_dim)),
                format!("load q b{batch} m{qi}"),
            );
            let q_slot = q_slots[slot].fill(lowering, q_load);
            let mut previous = Some(q_load);
            for kj in 0..tokens.div_ceil(tile) {
                let keys = (kj * tile, ((kj + 1) * tile).min(tokens));
                let (tm, tn) = (rows.1 - rows.0, keys.1 - keys.0);
                let mut kv_loads = Vec::new();
                let mut kv_slot_indices = Vec::new();
                for (name, ring) in [("k", &mut k_slots[slot]), ("v", &mut v_slots[slot])] {
                    let node = lowering.transfer(
                        NodeKind::Load,
                        array,
                        &kv_layout,
                        (keys, (0, head_dim)),
                        format!("load {name} b{batch} m{qi} n{kj}"),
                    );
                    kv_slot_indices.push(ring.fill(lowering, node));
                    kv_loads.push(node);
                }
                let scores = lowering.compute(
                    NodeKind::Gemm {
                        array,
                        m: tm,
                        n: tn,
                        k: head_dim,
                    },
                    format!("scores b{batch} m{qi} n{kj}"),
                );
                lowering.edge(previous, scores, EdgeKind::Data);
                lowering.edge(Some(kv_loads[0]), scores, EdgeKind::Data);
                let softmax = lowering.compute(
                    NodeKind::Vector {
                        unit,
                        elements: tm * tn,
                    },
                    format!("softmax b{batch} m{qi} n{kj}"),
                );
                lowering.edge(Some(scores), softmax, EdgeKind::Data);
                let context_tile = lowering.compute(
                    NodeKind::Gemm {
                        array,
                        m: tm,
                        n: head_dim,
                        k: tn,
                    },
                    format!("context b{batch} m{qi} n{kj}"),
                );
                lowering.edge(Some(softmax), context_tile, EdgeKind::Data);
                lowering.edge(Some(kv_loads[1]), context_tile, EdgeKind::Data);
                k_slots[slot].used_by(kv_slot_indices[0], scores);
                v_slots[slot].used_by(kv_slot_indices[1], context_tile);
                previous = Some(context_tile);
            }
            let store = lowering.transfer(
                NodeKind::Store,
                array,
                &out_layout,
                (rows, (0, head_dim)),
                format!("store context b{batch} m{qi}"),
            );
            lowering.edge(previous, store, EdgeKind::Data);
            q_slots[slot].used_by(q_slot, store);
        }
    }
}
