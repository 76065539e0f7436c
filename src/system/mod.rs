//! Systems of several boards: a system file names boards (each a design, on the U280 unless
//! it names another platform), how the model is partitioned over them, and the network
//! links between them. Validated once into a [`System`]; run by [`run::run_system`].
//!
//! Partitions:
//! - `pipeline`: each board runs some encoders (in the workload's order, every encoder on
//!   exactly one board); an observation's activations cross the link to the board that
//!   reads them, while the first board already works on the next observation.
//! - `data`: every board runs the whole step on its share of the observations; no link is
//!   crossed.
//! - `tensor`: every board runs every layer on its share of the heads and MLP width
//!   ([`crate::config::model::ModelSpec::tensor_shard`]); after each layer's attention
//!   output projection and MLP, the boards all-reduce the output around a ring of links.
//!
//! A link is a port pair (the U280 has two QSFP28 cages, 100 Gb/s each: its data sheet,
//! DS963): a transfer occupies its sender's port for its bytes at the link's rate times
//! the payload share (the rest is framing: an RDMA protocol on the UltraScale+ 100G hard MAC
//! sustained 90 Gb/s with packets of 1 KB or more and 95 Gb/s from 32 KB: ESRF, "FPGA
//! implementation of RDMA-based data acquisition system", as stored at cupdf.com),
//! then arrives a hop latency later (an assumption: 1 µs, range 0.5-2 µs, for a MAC, a UDP
//! or RDMA stack on each side and a direct cable; no published U280 figure).

pub mod run;

use crate::config::design::Design;
use crate::config::platform::Platform;
use crate::config::{ConfigError, Source, did_you_mean, parse_toml};
use crate::workload::Encoder;
use serde::Deserialize;

/// The JSON Schema of a system file, from the type it is read into.
pub(crate) fn file_schema() -> schemars::Schema {
    schemars::schema_for!(RawSystem)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawSystem {
    /// The system's name, printed in reports.
    name: String,
    /// How the model is split over the boards: `pipeline` (encoders or layer ranges per board),
    /// `data` (whole steps on alternate observations) or `tensor` (each layer's heads and MLP
    /// width split, all-reduces between).
    partition: Partition,
    /// Observations sent through the system one after another. Range: 1–100,000.
    #[serde(default = "default_observations")]
    observations: u64,
    /// The boards (`[[boards]]`), in pipeline order; 1–64.
    boards: Vec<RawBoard>,
    #[serde(default)]
    links: Vec<RawLink>,
}

fn default_observations() -> u64 {
    8
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawBoard {
    /// The board's name, for links and reports.
    name: String,
    /// Its design: a file relative to the system file, or a shipped design's name.
    design: String,
    /// Its platform: a file relative to the system file, or a shipped platform's name; the U280
    /// when absent.
    platform: Option<String>,
    /// Pipeline only: the encoders it runs (`vision`, `connector`, `text`, `expert`, `decode`).
    #[serde(default)]
    encoders: Vec<String>,
    /// Pipeline only: of an encoder split over boards, the layers `[first, end)` this board
    /// runs (`layers = { vision = [0, 8] }`). Range: 0–1024, `first` below `end`, `end` at
    /// most the encoder's layer count.
    #[serde(default)]
    layers: std::collections::BTreeMap<String, [u64; 2]>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawLink {
    /// The sending board's name (a chain joins each board to the next).
    from: String,
    /// The receiving board's name.
    to: String,
    /// Line rate, Gb/s: 100 (one QSFP28 port, DS963) by default; `inf` for an ideal link.
    /// Range: 0–10^6 (above 0).
    #[serde(default = "qsfp28_gbit_per_s")]
    gbit_per_s: f64,
    /// The share of the line rate left for payload: 0.9 by default (an RDMA stack on the
    /// UltraScale+ 100G MAC sustained 90–95 Gb/s, ESRF). Range: 0–1 (above 0).
    #[serde(default = "default_payload_share")]
    payload_share: f64,
    /// Latency per hop, µs: 1 by default (an assumption; 0.5–2). Range: 0–10^6.
    #[serde(default = "default_latency_us")]
    latency_us: f64,
}

/// One QSFP28 port (DS963).
fn qsfp28_gbit_per_s() -> f64 {
    100.0
}

/// 90-95 Gb/s of payload on a 100 Gb/s port (module documentation): the low end.
fn default_payload_share() -> f64 {
    0.9
}

/// An assumption (module documentation): 0.5-2 µs.
fn default_latency_us() -> f64 {
    1.0
}

/// How the model is split over the boards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Partition {
    /// Encoders or layer ranges per board; observations flow through them.
    Pipeline,
    /// Whole steps on alternate observations.
    Data,
    /// Each layer's heads and MLP width split over the boards.
    Tensor,
}

/// A validated board: its design on its platform and, in a pipeline, its encoders.
#[derive(Debug, Clone)]
pub struct Board {
    /// Its name.
    pub name: String,
    /// Its design.
    pub design: Design,
    /// Its platform.
    pub platform: Platform,
    /// The encoders it runs (a pipeline stage); every encoder in a data partition.
    pub encoders: Vec<Encoder>,
    /// Of an encoder it shares with other boards, the layers `[first, end)` it runs (with
    /// the kernels outside the layers next to them); all layers of the others.
    pub layers: Vec<(Encoder, (u64, u64))>,
}

/// A validated link from board `from` to board `to` (indices into [`System::boards`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// The sending board's index.
    pub from: usize,
    /// The receiving board's index.
    pub to: usize,
    /// Payload bits per second: the port's rate times its payload share (infinite for an
    /// ideal link).
    pub payload_bits_per_s: f64,
    /// Latency per hop, s.
    pub latency_s: f64,
}

impl Link {
    /// Seconds a transfer of `bytes` holds the sending port.
    pub fn serialisation_s(&self, bytes: u64) -> f64 {
        bytes as f64 * 8.0 / self.payload_bits_per_s
    }
}

/// A validated system.
#[derive(Debug, Clone)]
pub struct System {
    /// Its name.
    pub name: String,
    /// Where it was read from.
    pub source: String,
    /// How the model is split.
    pub partition: Partition,
    /// Observations sent through it.
    pub observations: u64,
    /// The boards, in pipeline order.
    pub boards: Vec<Board>,
    /// The links between them.
    pub links: Vec<Link>,
}

/// The most boards and observations a system may have.
pub const MAX_BOARDS: usize = 64;
/// Observations one system run sends through.
pub const MAX_OBSERVATIONS: u64 = 100_000;

impl System {
    /// The system with its first board repeated `count` times (a data or tensor partition,
    /// whose boards are alike), joined as its partition needs by links like its first (one
    /// QSFP28 port with the defaults when it has none): for a scaling curve over boards.
    pub fn with_boards(&self, count: usize) -> Result<System, String> {
        if self.partition == Partition::Pipeline {
            return Err(
                "a pipeline's boards run different encoders: scale a data or tensor \
                        partition"
                    .into(),
            );
        }
        if !(1..=MAX_BOARDS).contains(&count) {
            return Err(format!("needs 1 to {MAX_BOARDS} boards, found {count}"));
        }
        let boards = (0..count)
            .map(|index| Board {
                name: format!("{}{index}", self.boards[0].name),
                ..self.boards[0].clone()
            })
            .collect();
        let like = self.links.first().copied().unwrap_or(Link {
            from: 0,
            to: 1,
            payload_bits_per_s: qsfp28_gbit_per_s() * 1e9 * default_payload_share(),
            latency_s: default_latency_us() * 1e-6,
        });
        let ring = match (self.partition, count) {
            (Partition::Tensor, 2) => 1,
            (Partition::Tensor, _) if count > 2 => count,
            _ => 0,
        };
        let links = (0..ring)
            .map(|from| Link {
                from,
                to: (from + 1) % count,
                ..like
            })
            .collect();
        Ok(System {
            boards,
            links,
            ..self.clone()
        })
    }
}

/// Reads a system file; `load` reads a board's design and platform as the file names them
/// (relative to the system file, or shipped names), validated.
pub fn load_system(
    source: &Source,
    load: impl Fn(&str, Option<&str>) -> Result<(Design, Platform), ConfigError>,
) -> Result<System, ConfigError> {
    let raw: RawSystem = parse_toml(source)?;
    let file = source.name.as_str();
    let invalid = |field: String, rule: String| ConfigError::invalid(file, field, rule);
    if raw.boards.is_empty() || raw.boards.len() > MAX_BOARDS {
        return Err(invalid(
            "boards".into(),
            format!("needs 1 to {MAX_BOARDS} boards"),
        ));
    }
    if !(1..=MAX_OBSERVATIONS).contains(&raw.observations) {
        return Err(invalid(
            "observations".into(),
            format!("must be between 1 and {MAX_OBSERVATIONS}"),
        ));
    }
    let names: Vec<String> = raw.boards.iter().map(|b| b.name.clone()).collect();
    let mut boards = Vec::new();
    let mut covered: Vec<Encoder> = Vec::new();
    for (index, board) in raw.boards.iter().enumerate() {
        let field = |key: &str| format!("boards[{index}].{key}");
        if board.name.is_empty() || names[..index].contains(&board.name) {
            return Err(invalid(
                field("name"),
                "must be a name no other board has".into(),
            ));
        }
        let (design, platform) = load(&board.design, board.platform.as_deref())?;
        let encoders = match raw.partition {
            Partition::Data | Partition::Tensor if !board.encoders.is_empty() => {
                return Err(invalid(
                    field("encoders"),
                    "a data or tensor partition runs every encoder on every board: leave it out"
                        .into(),
                ));
            }
            Partition::Data | Partition::Tensor => Encoder::ALL.to_vec(),
            Partition::Pipeline => {
                if board.encoders.is_empty() {
                    return Err(invalid(
                        field("encoders"),
                        "a pipeline stage needs the encoders it runs".into(),
                    ));
                }
                let mut encoders = Vec::new();
                for name in &board.encoders {
                    let known: Vec<String> =
                        Encoder::ALL.iter().map(|e| e.name().to_string()).collect();
                    let encoder = Encoder::ALL
                        .into_iter()
                        .find(|e| e.name() == name)
                        .ok_or_else(|| {
                            invalid(
                                field("encoders"),
                                format!("unknown encoder `{name}`{}", did_you_mean(name, &known)),
                            )
                        })?;
                    if covered.contains(&encoder) && !board.layers.contains_key(name) {
                        return Err(invalid(
                            field("encoders"),
                            format!(
                                "`{name}` already runs on an earlier board (split an encoder \
                                 with `layers = {{ {name} = [first, end] }}` on each board)"
                            ),
                        ));
                    }
                    covered.push(encoder);
                    encoders.push(encoder);
                }
                encoders
            }
        };
        if raw.partition != Partition::Pipeline && !board.layers.is_empty() {
            return Err(invalid(
                field("layers"),
                "only a pipeline's boards split an encoder's layers".into(),
            ));
        }
        let mut layers = Vec::new();
        for (name, &[first, end]) in &board.layers {
            let encoder = encoders.iter().find(|e| e.name() == name).ok_or_else(|| {
                invalid(
                    field("layers"),
                    format!("`{name}` is not among the board's encoders"),
                )
            })?;
            if first >= end {
                return Err(invalid(
                    field("layers"),
                    format!("`{name}` = [{first}, {end}]: needs first < end"),
                ));
            }
            layers.push((*encoder, (first, end)));
        }
        boards.push(Board {
            name: board.name.clone(),
            design,
            platform,
            encoders,
            layers,
        });
    }
    let mut links = Vec::new();
    for (index, link) in raw.links.iter().enumerate() {
        let field = |key: &str| format!("links[{index}].{key}");
        let board = |key: &str, name: &str| {
            names.iter().position(|n| n == name).ok_or_else(|| {
                invalid(
                    field(key),
                    format!("no board `{name}`{}", did_you_mean(name, &names)),
                )
            })
        };
        let (from, to) = (board("from", &link.from)?, board("to", &link.to)?);
        let closes_ring = raw.partition == Partition::Tensor && from + 1 == names.len() && to == 0;
        if to != from + 1 && !closes_ring {
            return Err(invalid(
                field("to"),
                "links join a board to the next one in the file (a chain; a tensor partition's \
                 ring also joins the last to the first)"
                    .into(),
            ));
        }
        if !(link.gbit_per_s > 0.0 && link.gbit_per_s <= 1e6 || link.gbit_per_s == f64::INFINITY) {
            return Err(invalid(
                field("gbit_per_s"),
                "must be in (0, 1e6], or inf for an ideal link".into(),
            ));
        }
        if !(link.payload_share > 0.0 && link.payload_share <= 1.0) {
            return Err(invalid(field("payload_share"), "must be in (0, 1]".into()));
        }
        if !(0.0..=1e6).contains(&link.latency_us) {
            return Err(invalid(field("latency_us"), "must be in [0, 1e6]".into()));
        }
        if links.iter().any(|l: &Link| l.from == from) {
            return Err(invalid(
                field("from"),
                "a second link from this board".into(),
            ));
        }
        links.push(Link {
            from,
            to,
            payload_bits_per_s: link.gbit_per_s * 1e9 * link.payload_share,
            latency_s: link.latency_us * 1e-6,
        });
    }
    let joined = |from: usize| links.iter().any(|l| l.from == from);
    if raw.partition == Partition::Tensor {
        // A ring: each board to the next and, beyond two boards, the last to the first (two
        // boards share one full-duplex cable).
        let needed = if boards.len() > 2 {
            boards.len()
        } else {
            boards.len() - 1
        };
        if let Some(missing) = (0..needed).find(|&b| !joined(b)) {
            return Err(invalid(
                "links".into(),
                format!(
                    "the ring of a tensor partition needs a link from `{}` to `{}`",
                    boards[missing].name,
                    boards[(missing + 1) % boards.len()].name
                ),
            ));
        }
    } else if raw.partition == Partition::Pipeline {
        if let Some(missing) = (0..boards.len() - 1).find(|&b| !joined(b)) {
            return Err(invalid(
                "links".into(),
                format!(
                    "board `{}` hands its activations to `{}`: a link between them is missing",
                    boards[missing].name,
                    boards[missing + 1].name
                ),
            ));
        }
    } else if !links.is_empty() {
        return Err(invalid(
            "links".into(),
            "a data partition sends nothing between boards: leave them out".into(),
        ));
    }
    Ok(System {
        name: raw.name,
        source: source.name.clone(),
        partition: raw.partition,
        observations: raw.observations,
        boards,
        links,
    })
}

#[cfg(test)]
mod tests;
