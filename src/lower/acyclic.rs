//! The check that no node waits, through any chain of edges, on itself: run on every kernel's
//! graph and every layer's shown, and on a layer's simulated graph once its simulation has
//! deadlocked, to name the stream that is too shallow.

use super::{EdgeKind, Node};
use petgraph::graph::{DiGraph, NodeIndex};

/// Whether the graph has no cycle, else a node on one. The lowering adds nodes in an order
/// in which every edge but a FIFO's runs forward, so a graph whose edges all do is checked
/// in one pass; only the others need a topological sort (Kahn's, over the edges laid out
/// by source: a graph of streams has a few hundred thousand edges).
pub(super) fn acyclic(graph: &DiGraph<Node, EdgeKind>) -> Result<(), NodeIndex> {
    let edges = graph.raw_edges();
    if edges.iter().all(|e| e.source() < e.target()) {
        return Ok(());
    }
    let nodes = graph.node_count();
    let mut first_out = vec![0u32; nodes + 1];
    let mut waiting_on = vec![0u32; nodes];
    for edge in edges {
        first_out[edge.source().index() + 1] += 1;
        waiting_on[edge.target().index()] += 1;
    }
    for node in 0..nodes {
        first_out[node + 1] += first_out[node];
    }
    let mut targets = vec![0u32; edges.len()];
    let mut next = first_out.clone();
    for edge in edges {
        let slot = &mut next[edge.source().index()];
        targets[*slot as usize] = edge.target().index() as u32;
        *slot += 1;
    }
    let mut ready: Vec<u32> = (0..nodes as u32)
        .filter(|&node| waiting_on[node as usize] == 0)
        .collect();
    while let Some(node) = ready.pop() {
        let node = node as usize;
        for &target in &targets[first_out[node] as usize..first_out[node + 1] as usize] {
            waiting_on[target as usize] -= 1;
            if waiting_on[target as usize] == 0 {
                ready.push(target);
            }
        }
    }
    // Every node left waits on another left: walking back from one must come round to a
    // node on a cycle.
    let Some(left) = waiting_on.iter().position(|&count| count > 0) else {
        return Ok(());
    };
    let mut seen = vec![false; nodes];
    let mut node = NodeIndex::new(left);
    while !seen[node.index()] {
        seen[node.index()] = true;
        node = graph
            .neighbors_directed(node, petgraph::Direction::Incoming)
            .find(|from| waiting_on[from.index()] > 0)
            .expect("a node left after the sort waits on another left");
    }
    Err(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::NodeKind;

    /// The one-pass check accepts graphs whose edges all run forward, falls back to a sort for
    /// a backward edge that closes no cycle (a deep FIFO's), and names a node of a real cycle,
    /// not one that only waits on it.
    #[test]
    fn acyclic_checks_backward_edges_by_sorting() {
        let mut graph = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..5)
            .map(|index| {
                graph.add_node(Node {
                    kind: NodeKind::Vector {
                        engine: 0,
                        elements: 1,
                    },
                    label: format!("n{index}").into(),
                    bytes: 0,
                    engine: 0,
                    kernel: 0,
                })
            })
            .collect();
        for (from, to) in [(0, 3), (3, 4)] {
            graph.add_edge(nodes[from], nodes[to], EdgeKind::Data);
        }
        assert_eq!(acyclic(&graph), Ok(()));
        // Node 2 waits on node 4, which waits on nothing that waits on 2: backward, no cycle.
        graph.add_edge(nodes[4], nodes[2], EdgeKind::Fifo);
        assert_eq!(acyclic(&graph), Ok(()));
        // 3 → 4 → 3 is a cycle; 2 (the first node left unsorted) waits on it and 0 feeds it,
        // neither on it.
        graph.add_edge(nodes[4], nodes[3], EdgeKind::Fifo);
        let on_cycle = acyclic(&graph).unwrap_err();
        assert!([nodes[3], nodes[4]].contains(&on_cycle), "{on_cycle:?}");
    }
}
