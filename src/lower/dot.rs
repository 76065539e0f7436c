//! Graphviz DOT of a lowered kernel, for a reader to see the dataflow.

use super::{EdgeKind, KernelGraph, NodeKind};
use crate::config::design::Design;
use std::fmt::Write;

/// The graph as Graphviz DOT, for a reader to see the dataflow.
pub fn to_dot(graph: &KernelGraph, design: &Design) -> String {
    let engine_name = |engine: u32| &design.engines()[engine as usize].name;
    let mut dot = String::from(
        "digraph kernel {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for index in graph.graph.node_indices() {
        let node = &graph.graph[index];
        let (shape, detail) = match &node.kind {
            NodeKind::Load(requests) | NodeKind::Store(requests) => {
                ("box", format!("{} B on {} ch", node.bytes, requests.len()))
            }
            NodeKind::Gemm { engine, m, n, k } => {
                ("ellipse", format!("{}, {m}x{n}x{k}", engine_name(*engine)))
            }
            NodeKind::Vector { engine, elements } => (
                "hexagon",
                format!("{}, {elements} elements", engine_name(*engine)),
            ),
        };
        let _ = writeln!(
            dot,
            "  n{} [shape={shape}, label=\"{}\\n{detail}\"];",
            index.index(),
            node.label
        );
    }
    for edge in graph.graph.edge_indices() {
        let (from, to) = graph.graph.edge_endpoints(edge).expect("edge exists");
        let style = match graph.graph[edge] {
            EdgeKind::Data => "",
            EdgeKind::BufferSlot => " [style=dashed, label=\"slot\"]",
            EdgeKind::Link => " [color=blue, label=\"link\"]",
            EdgeKind::Sync => " [color=red, label=\"sync\"]",
            EdgeKind::Fifo => " [style=dotted, label=\"fifo\"]",
        };
        let _ = writeln!(dot, "  n{} -> n{}{style};", from.index(), to.index());
    }
    dot.push_str("}\n");
    dot
}
