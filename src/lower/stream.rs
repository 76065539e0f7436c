//! A stream link: a FIFO of `depth_tiles` of its producer's output tiles between two
//! kernels. Its rules live here, each with its test: a tile is pushed only once the tile
//! `depth_tiles` before it has been read for the last time; a read holds every place from
//! the oldest tile it needs to the newest (tiles leave in order), so no shallower FIFO can
//! serve it; and a depth at which the producer and its reader would wait on each other (the
//! FIFO edges closing a cycle in the graph) is refused, naming the smallest depth that runs.
//! The lowering refuses what would not run, so every depth it accepts runs.

use super::layer::{OutputTile, Produced};
use super::{Cycles, EdgeKind, LowerError, Node, acyclic};
use petgraph::graph::{DiGraph, NodeIndex};

/// A stream link into the kernel being lowered: the FIFO of `depth_tiles` of its
/// producer's output tiles, and per tile the last read that needs it (what frees its place).
pub(super) struct Stream {
    pub producer: usize,
    pub depth_tiles: u64,
    /// `from -> to`, for messages.
    pub name: String,
    pub last_reader: Vec<Option<NodeIndex>>,
    /// The most FIFO places one read holds at once: no shallower depth can run.
    pub widest_read: u64,
}

impl Stream {
    /// An empty FIFO of `depth_tiles` places for the `tiles` output tiles of the kernel at
    /// unit position `producer`.
    pub(super) fn new(producer: usize, tiles: usize, depth_tiles: u64, name: String) -> Stream {
        Stream {
            producer,
            depth_tiles,
            name,
            last_reader: vec![None; tiles],
            widest_read: 0,
        }
    }

    /// The same stream between the kernels `kernels` further on, each reader the node
    /// `moved` maps it to (a copied layer's, see `repeat`).
    pub(super) fn moved(&self, kernels: usize, moved: impl Fn(NodeIndex) -> NodeIndex) -> Stream {
        Stream {
            producer: self.producer + kernels,
            depth_tiles: self.depth_tiles,
            name: self.name.clone(),
            last_reader: self.last_reader.iter().map(|r| r.map(&moved)).collect(),
            widest_read: self.widest_read,
        }
    }

    /// Records a read needing `tiles` as the last reader of each of this stream's, and the
    /// span of FIFO places it holds: a FIFO hands tiles over in order, so a read holds
    /// every tile from the oldest it needs to the newest.
    pub(super) fn read(&mut self, tiles: &[(usize, usize)], node: NodeIndex) {
        let mut span: Option<(usize, usize)> = None;
        for &(producer, tile) in tiles {
            if producer == self.producer {
                self.last_reader[tile] = Some(node);
                span = Some(span.map_or((tile, tile), |(a, b)| (a.min(tile), b.max(tile))));
            }
        }
        if let Some((first, last)) = span {
            self.widest_read = self.widest_read.max((last - first + 1) as u64);
        }
    }

    /// The stream's capacity at `depth` tiles: tile `t` is pushed only once tile
    /// `t - depth` has been read. Refuses a tile never read (it would hold its place for
    /// good).
    pub(super) fn fifo_edges(
        &self,
        tiles: &[OutputTile],
        depth: u64,
    ) -> Result<Vec<(NodeIndex, NodeIndex)>, String> {
        let depth = depth as usize;
        let mut edges = Vec::with_capacity(tiles.len().saturating_sub(depth));
        for (t, tile) in tiles.iter().enumerate().skip(depth) {
            let Some(reader) = self.last_reader[t - depth] else {
                return Err(format!(
                    "tile {} of the stream is never read, so it would fill the FIFO for \
                     good; use via = \"buffer\"",
                    t - depth
                ));
            };
            edges.push((reader, tile.node));
        }
        Ok(edges)
    }
}

/// Adds every stream's FIFO edges at its depth; refuses a stream too shallow to run (a
/// read holding more places than it has, or, unless `cycles` leaves them to the simulation, a
/// depth at which the graph would wait on itself: a deadlock), naming the smallest depth that
/// runs.
pub(super) fn close(
    graph: &mut DiGraph<Node, EdgeKind>,
    produced: &[Produced],
    streams: &[Stream],
    file: &str,
    cycles: Cycles,
) -> Result<(), LowerError> {
    let refuse = |stream: &Stream, rule: String| LowerError::Link {
        file: file.to_string(),
        link: stream.name.clone(),
        rule,
    };
    let tiles = |stream: &Stream| &produced[stream.producer].tiles;
    let edges_at = |stream: &Stream, depth: u64| {
        stream
            .fifo_edges(tiles(stream), depth)
            .map_err(|rule| refuse(stream, rule))
    };
    let mut edges = Vec::with_capacity(streams.len());
    for stream in streams {
        edges.push(edges_at(stream, stream.depth_tiles)?);
    }
    // Every other edge runs from an earlier node to a later one: only FIFO edges (a read
    // freeing a place for an earlier push) can close a cycle.
    let wide_enough = streams.iter().all(|s| s.depth_tiles >= s.widest_read);
    if wide_enough {
        let before = graph.edge_count();
        for &(from, to) in edges.iter().flatten() {
            graph.add_edge(from, to, EdgeKind::Fifo);
        }
        if cycles == Cycles::Simulated || streams.is_empty() || acyclic(graph).is_ok() {
            return Ok(());
        }
        while graph.edge_count() > before {
            let last = petgraph::graph::EdgeIndex::new(graph.edge_count() - 1);
            graph.remove_edge(last);
        }
    }
    let runs = |extra: &[&[(NodeIndex, NodeIndex)]]| {
        let mut graph = graph.clone();
        for &(from, to) in extra.iter().copied().flatten() {
            graph.add_edge(from, to, EdgeKind::Fifo);
        }
        acyclic(&graph).is_ok()
    };
    // One link streams once per layer of the unit: its copies share one depth, so they are
    // deepened together. The other links are held at their depths, or at least at their
    // widest reads (shallower, each is refused on its own).
    let floors = streams
        .iter()
        .map(|s| edges_at(s, s.depth_tiles.max(s.widest_read)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut links: Vec<&str> = streams.iter().map(|s| s.name.as_str()).collect();
    links.sort_unstable();
    links.dedup();
    for link in links {
        let (own, others): (Vec<usize>, Vec<usize>) =
            (0..streams.len()).partition(|&i| streams[i].name == link);
        let others: Vec<&[(NodeIndex, NodeIndex)]> =
            others.iter().map(|&i| floors[i].as_slice()).collect();
        let widest_read = own
            .iter()
            .map(|&i| streams[i].widest_read)
            .max()
            .unwrap_or(0);
        let runs_at = |depth: u64| {
            depth >= widest_read
                && own
                    .iter()
                    .map(|&i| edges_at(&streams[i], depth))
                    .collect::<Result<Vec<_>, _>>()
                    .is_ok_and(|own| {
                        let own: Vec<&[(NodeIndex, NodeIndex)]> =
                            own.iter().map(Vec::as_slice).collect();
                        runs(&[others.as_slice(), own.as_slice()].concat())
                    })
        };
        let stream = &streams[own[0]];
        if runs_at(stream.depth_tiles) || !runs(&others) {
            continue;
        }
        // At most 64 depths are tried beyond the first that could (each a check of the
        // whole graph).
        let produced = tiles(stream).len() as u64;
        let first = widest_read.max(stream.depth_tiles + 1);
        let smallest = (first..=produced.min(first + 64)).find(|&depth| runs_at(depth));
        let advice = smallest.map_or("use via = \"buffer\"".to_string(), |depth| {
            format!("raise depth_tiles to {depth} (the smallest that runs) or use via = \"buffer\"")
        });
        let why = if stream.depth_tiles < widest_read {
            format!(
                "a read holds {widest_read} of its tiles in the FIFO at once (from the oldest \
                 it needs to the newest)"
            )
        } else {
            "the producer and its reader would wait on each other (a deadlock)".to_string()
        };
        return Err(refuse(
            stream,
            format!("at depth_tiles = {} {why}; {advice}", stream.depth_tiles),
        ));
    }
    Err(refuse(
        &streams[0],
        "the design's streams together wait on each other (a deadlock); deepen them or use \
         via = \"buffer\""
            .to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::{Label, NodeKind};

    fn node(graph: &mut DiGraph<Node, EdgeKind>, label: &str) -> NodeIndex {
        graph.add_node(Node {
            kind: NodeKind::Load(std::sync::Arc::new([])),
            label: Label::from(label),
            bytes: 0,
            engine: 0,
            kernel: 0,
        })
    }

    /// A producer of `count` tiles in a chain (each push after the one before, as one
    /// engine's reduction chain orders them), and its produced output.
    fn producer(graph: &mut DiGraph<Node, EdgeKind>, count: u64) -> Vec<Produced> {
        let mut tiles = Vec::new();
        let mut previous = None;
        for t in 0..count {
            let push = node(graph, &format!("push {t}"));
            if let Some(previous) = previous {
                graph.add_edge(previous, push, EdgeKind::Data);
            }
            previous = Some(push);
            tiles.push(OutputTile {
                block: ((t, t + 1), (0, 1)),
                node: push,
            });
        }
        vec![Produced::new(tiles)]
    }

    /// Reads in order, one tile each: at depth d, tile t waits for the read of tile t - d
    /// (not t - d - 1 or t - d + 1); every depth from 1 runs.
    #[test]
    fn a_push_waits_for_the_read_depth_tiles_before_it() {
        for depth in 1..=4u64 {
            let mut graph = DiGraph::new();
            let produced = producer(&mut graph, 5);
            let tiles = &produced[0].tiles;
            let mut stream = Stream::new(0, 5, depth, "p -> c".into());
            let reads: Vec<NodeIndex> = (0..5)
                .map(|t| {
                    let read = node(&mut graph, &format!("read {t}"));
                    graph.add_edge(tiles[t].node, read, EdgeKind::Link);
                    stream.read(&[(0, t)], read);
                    read
                })
                .collect();
            let edges = stream.fifo_edges(tiles, depth).unwrap();
            let expected: Vec<(NodeIndex, NodeIndex)> = (depth as usize..5)
                .map(|t| (reads[t - depth as usize], tiles[t].node))
                .collect();
            assert_eq!(edges, expected, "depth {depth}");
            assert_eq!(stream.widest_read, 1);
            close(&mut graph, &produced, &[stream], "f.toml", Cycles::Checked).unwrap();
        }
    }

    /// A read of tiles 0 and 3 holds four places (the tiles between leave the FIFO after
    /// it): depth 3 is refused naming 4, which runs.
    #[test]
    fn a_read_holds_every_place_from_its_oldest_tile_to_its_newest() {
        let build = |depth: u64| {
            let mut graph = DiGraph::new();
            let produced = producer(&mut graph, 6);
            let tiles = produced[0].tiles.clone();
            let mut stream = Stream::new(0, 6, depth, "p -> c".into());
            for needed in [vec![0, 3], vec![1, 2], vec![4], vec![5]] {
                let read = node(&mut graph, "read");
                let needed: Vec<(usize, usize)> = needed.iter().map(|&t| (0, t)).collect();
                for &(_, t) in &needed {
                    graph.add_edge(tiles[t].node, read, EdgeKind::Link);
                }
                stream.read(&needed, read);
            }
            assert_eq!(stream.widest_read, 4);
            close(&mut graph, &produced, &[stream], "f.toml", Cycles::Checked)
        };
        let error = build(3).unwrap_err().to_string();
        assert!(
            error.starts_with("f.toml: link p -> c: at depth_tiles = 3"),
            "{error}"
        );
        assert!(
            error.contains("raise depth_tiles to 4 (the smallest"),
            "{error}"
        );
        build(4).unwrap();
    }

    /// A reader that reads in its own order (each read after the one before) and needs the
    /// producer's last tile first: a FIFO shallower than the whole output makes the last
    /// push wait for a read that waits for it (a deadlock), refused naming the depth that
    /// holds every tile.
    #[test]
    fn a_depth_that_would_deadlock_is_refused() {
        let build = |depth: u64| {
            let mut graph = DiGraph::new();
            let produced = producer(&mut graph, 3);
            let tiles = produced[0].tiles.clone();
            let mut stream = Stream::new(0, 3, depth, "p -> c".into());
            let mut previous: Option<NodeIndex> = None;
            for t in [2usize, 0, 1] {
                let read = node(&mut graph, "read");
                graph.add_edge(tiles[t].node, read, EdgeKind::Link);
                if let Some(previous) = previous {
                    graph.add_edge(previous, read, EdgeKind::Data);
                }
                previous = Some(read);
                stream.read(&[(0, t)], read);
            }
            close(&mut graph, &produced, &[stream], "f.toml", Cycles::Checked)
        };
        for depth in [1, 2] {
            let error = build(depth).unwrap_err().to_string();
            assert!(error.contains("wait on each other (a deadlock)"), "{error}");
            assert!(
                error.contains("raise depth_tiles to 3 (the smallest"),
                "{error}"
            );
        }
        build(3).unwrap();
    }

    /// A tile nobody reads would hold its place for good.
    #[test]
    fn a_tile_never_read_is_refused() {
        let mut graph = DiGraph::new();
        let produced = producer(&mut graph, 3);
        let tiles = produced[0].tiles.clone();
        let mut stream = Stream::new(0, 3, 1, "p -> c".into());
        let read = node(&mut graph, "read");
        graph.add_edge(tiles[1].node, read, EdgeKind::Link);
        stream.read(&[(0, 1)], read);
        let error = close(&mut graph, &produced, &[stream], "f.toml", Cycles::Checked)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("tile 0 of the stream is never read"),
            "{error}"
        );
    }
}
