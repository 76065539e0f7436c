//! GEMMs: output tiles dealt to the kernel's GEMM engines in turn, each a chain of reduction
//! steps whose operand tiles come through per-engine buffer rings.

use super::address::TensorLayout;
use super::layer::OutputTile;
use super::{EdgeKind, Label, Lowering, NodeKind, Ring, View, operand};
use crate::config::design::{LoopOrder, WeightLayout};
use crate::workload::{Direction, Kernel, Operand};
use petgraph::graph::NodeIndex;
use std::sync::Arc;

/// The tile an engine's buffer holds: (instance, row or column tile, reduction tile), the
/// load that brought it, and its slot.
type Resident = ((u64, u64, u64), NodeIndex, usize);

/// The node that brought tile `key` into `ring` of `engine`: the resident one if the buffer
/// holds it, else a new load into the next slot, after that slot's last user.
fn resident_tile<'a>(
    lowering: &mut Lowering<'a>,
    resident: &mut Option<Resident>,
    (engine, ring): (usize, Ring),
    key: (u64, u64, u64),
    load: impl FnOnce(&mut Lowering<'a>) -> NodeIndex,
) -> (NodeIndex, usize) {
    match *resident {
        Some((held, node, index)) if held == key => (node, index),
        _ => {
            let node = load(lowering);
            let index = lowering.fill(engine, ring, node);
            *resident = Some((key, node, index));
            (node, index)
        }
    }
}

/// The output tiles of a GEMM of `batch` instances of `tiles` (row and column tile counts)
/// in the order `order` makes them, as (instance, row tile, column tile).
pub(super) fn tile_order(
    batch: u64,
    (m_tiles, n_tiles): (u64, u64),
    order: LoopOrder,
) -> Vec<(u64, u64, u64)> {
    let mut tiles = Vec::new();
    match order {
        LoopOrder::Mnk => {
            for b in 0..batch {
                for mi in 0..m_tiles {
                    tiles.extend((0..n_tiles).map(|ni| (b, mi, ni)));
                }
            }
        }
        LoopOrder::Nmk => {
            for b in 0..batch {
                for ni in 0..n_tiles {
                    tiles.extend((0..m_tiles).map(|mi| (b, mi, ni)));
                }
            }
        }
        LoopOrder::Mbnk => {
            for mi in 0..m_tiles {
                for b in 0..batch {
                    tiles.extend((0..n_tiles).map(|ni| (b, mi, ni)));
                }
            }
        }
    }
    tiles
}

pub(super) fn lower_gemm(lowering: &mut Lowering, kernel: &Kernel) -> Vec<OutputTile> {
    let design = lowering.design;
    let label = kernel.label_parts();
    let tiling = design.tiling_of(label, kernel.class);
    let engines = design.engines_for(label, kernel.class).gemm;
    let (m, n, k) = (kernel.m, kernel.n, kernel.k);
    let a = operand(kernel, Direction::Read, 0).expect("a GEMM reads an activation");
    let b = kernel
        .operands
        .iter()
        .filter(|o| o.direction == Direction::Read)
        .nth(1)
        .expect("a GEMM reads a second operand");
    let c = operand(kernel, Direction::Write, 0).expect("a GEMM writes its result");
    let extras: Vec<&Operand> = kernel
        .operands
        .iter()
        .filter(|o| o.direction == Direction::Read)
        .skip(2)
        .collect();
    let words = |verb: &str, o: &Operand| -> Arc<str> { Arc::from(format!("{verb} {}", o.name)) };
    let (load_a, load_b, store_c) = (words("load", a), words("load", b), words("store", c));
    let load_extras: Vec<Arc<str>> = extras.iter().map(|o| words("load", o)).collect();
    let gemm_words: Arc<str> = Arc::from("gemm");
    let b_instances = b.elements / (k * n);
    let weights = &design.placement().weight_channels;
    let m_tiles = m.div_ceil(tiling.tm);
    let n_tiles = n.div_ceil(tiling.tn);
    let k_tiles = k.div_ceil(tiling.tk);
    // The tile each engine's A and B buffers hold now, to skip reloading it.
    let mut a_resident: Vec<Option<Resident>> = vec![None; engines.len()];
    let mut b_resident: Vec<Option<Resident>> = vec![None; engines.len()];
    let order = tile_order(kernel.batch, (m_tiles, n_tiles), tiling.loop_order);
    for (output_tile, (batch, mi, ni)) in order.into_iter().enumerate() {
        let b_instance = batch * b_instances / kernel.batch;
        // Weights (an activation B lies where its tensor does, see `Lowering::input`).
        let b_base = b_instance * k * n;
        let b_layout = if design.placement().weight_layout == WeightLayout::TileMajor {
            let tile = (tiling.tk.min(k), tiling.tn.min(n));
            TensorLayout::tile_major(weights, b.bits, b_base, n, tile)
        } else {
            TensorLayout::row_major(weights, b.bits, b_base, n)
        };
        let slot = output_tile % engines.len();
        let engine = engines[slot];
        let rows = (mi * tiling.tm, ((mi + 1) * tiling.tm).min(m));
        let cols = (ni * tiling.tn, ((ni + 1) * tiling.tn).min(n));
        // The output tile's slot: its bias/gate inputs and first compute wait for the store
        // of the tile that held it before.
        let (c_slot, previous_store) = lowering.take(engine, Ring::C);
        let mut extra_loads = Vec::new();
        for (extra, load_extra) in extras.iter().zip(&load_extras) {
            let label = Label::tile(load_extra, &[('b', batch), ('m', mi), ('n', ni)]);
            let node = if extra.is_parameter {
                // A bias or scale: one row of the output's width, its slice of columns.
                let layout = TensorLayout::row_major(weights, extra.bits, 0, n);
                lowering.transfer(NodeKind::Load, engine, &layout, ((0, 1), cols), label)
            } else {
                let view = View {
                    batch,
                    rows_per_batch: m,
                    columns: n,
                };
                lowering.input(engine, extra, view, (rows, cols), label)
            };
            lowering.edge(previous_store, node, EdgeKind::BufferSlot);
            extra_loads.push(node);
        }
        let mut previous_compute: Option<NodeIndex> = None;
        for ki in 0..k_tiles {
            let depth = (ki * tiling.tk, ((ki + 1) * tiling.tk).min(k));
            let (a_node, a_slot) = resident_tile(
                lowering,
                &mut a_resident[slot],
                (engine, Ring::A),
                (batch, mi, ki),
                |lowering| {
                    let label = Label::tile(&load_a, &[('b', batch), ('m', mi), ('k', ki)]);
                    let view = View {
                        batch,
                        rows_per_batch: m,
                        columns: k,
                    };
                    lowering.input(engine, a, view, (rows, depth), label)
                },
            );
            // Keys are stored token-major: a Kᵀ tile is a block of their rows.
            let (b_rows, b_cols) = if kernel.b_transposed {
                (cols, depth)
            } else {
                (depth, cols)
            };
            let (b_node, b_slot) = resident_tile(
                lowering,
                &mut b_resident[slot],
                (engine, Ring::B),
                (b_instance, ni, ki),
                |lowering| {
                    let label = Label::tile(&load_b, &[('b', batch), ('k', ki), ('n', ni)]);
                    let tile = (b_rows, b_cols);
                    if b.is_parameter {
                        lowering.transfer(NodeKind::Load, engine, &b_layout, tile, label)
                    } else {
                        let (rows_per_batch, columns) =
                            if kernel.b_transposed { (n, k) } else { (k, n) };
                        let view = View {
                            batch,
                            rows_per_batch,
                            columns,
                        };
                        lowering.input(engine, b, view, tile, label)
                    }
                },
            );
            let (tm, tn, tk) = (rows.1 - rows.0, cols.1 - cols.0, depth.1 - depth.0);
            let compute = lowering.compute(
                NodeKind::gemm(engine, tm, tn, tk),
                Label::tile(
                    &gemm_words,
                    &[('b', batch), ('m', mi), ('n', ni), ('k', ki)],
                ),
            );
            lowering.edge(Some(a_node), compute, EdgeKind::Data);
            lowering.edge(Some(b_node), compute, EdgeKind::Data);
            lowering.edge(previous_compute, compute, EdgeKind::Data);
            if ki == 0 {
                lowering.edge(previous_store, compute, EdgeKind::BufferSlot);
                for &extra in &extra_loads {
                    lowering.edge(Some(extra), compute, EdgeKind::Data);
                }
            }
            lowering.used_by(engine, Ring::A, a_slot, compute);
            lowering.used_by(engine, Ring::B, b_slot, compute);
            previous_compute = Some(compute);
        }
        let view = View {
            batch,
            rows_per_batch: m,
            columns: n,
        };
        let store = lowering.output(
            engine,
            c,
            view,
            (rows, cols),
            Label::tile(&store_c, &[('b', batch), ('m', mi), ('n', ni)]),
        );
        lowering.edge(previous_compute, store, EdgeKind::Data);
        lowering.used_by(engine, Ring::C, c_slot, store);
    }
    std::mem::take(&mut lowering.outputs)
}
