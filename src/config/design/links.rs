//! The links of a dataflow design: how a kernel's output reaches a kernel that reads it
//! (through HBM, an on-chip buffer or a stream FIFO), and the schedule that lets kernels
//! overlap at all.

use super::engines::limits;
use crate::config::{ConfigError, in_range};
use serde::{Deserialize, Serialize};

/// How a kernel's output reaches its consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema, Serialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// Stored to HBM and loaded back (the default between every two kernels).
    Hbm,
    /// Kept on chip whole, in the design's buffer memory.
    Buffer,
    /// A FIFO of `depth_tiles` tiles: the producer blocks when it is full.
    Stream,
}

impl Via {
    /// The name the design file uses.
    pub fn name(self) -> &'static str {
        match self {
            Via::Hbm => "hbm",
            Via::Buffer => "buffer",
            Via::Stream => "stream",
        }
    }
}

/// One `[[links]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawLink {
    /// The producing kernel, by label (`vision/fc1`) or name.
    pub from: String,
    /// A later kernel of the same layer that reads the producer's output.
    pub to: String,
    /// `buffer` (the whole output kept on chip) or `stream` (a FIFO of tiles); `hbm` is the
    /// default between any two kernels.
    pub via: Via,
    /// Streams: FIFO depth in tiles; when absent, the smallest depth that runs (the lowering
    /// finds it). Range: 1–1024.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth_tiles: Option<u64>,
}

/// How kernels share the time line.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema, Serialize,
)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// false: each kernel runs alone from an idle machine (today's sequential model);
    /// true: a layer's kernels run as one dataflow graph and overlap where data, engines and
    /// buffers allow (prefetch across kernels, concurrent stages, links).
    #[serde(default)]
    pub overlap_kernels: bool,
    /// true (with `overlap_kernels`): an encoder's layers run as one graph too, so layer
    /// l + 1 starts where layer l's outputs and the engines allow (what a spatial design
    /// needs to keep its stages busy). Each layer is then simulated, not one per kind.
    #[serde(default)]
    pub overlap_layers: bool,
}

/// A validated link from a kernel to a later kernel of its layer that reads its output.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Link {
    /// Kernel labels, as the tables print them.
    pub from: String,
    /// The reading kernel's label.
    pub to: String,
    /// What carries the data.
    pub via: Via,
    /// Stream only: tiles the FIFO holds.
    pub depth_tiles: u64,
}

/// Checks `[schedule]` and `[[links]]` on their own: layers overlap only where kernels do; no
/// link from a kernel to itself or in a cycle, a depth only on streams, and on-chip links
/// only where kernels overlap.
pub(super) fn validate_links(
    raw: &[RawLink],
    schedule: Schedule,
    file: &str,
) -> Result<Vec<Link>, ConfigError> {
    let overlap_kernels = schedule.overlap_kernels;
    if schedule.overlap_layers && !overlap_kernels {
        return Err(ConfigError::invalid(
            file,
            "schedule.overlap_layers",
            "needs overlap_kernels = true (layers overlap only where their kernels do)",
        ));
    }
    let mut links = Vec::new();
    for (index, link) in raw.iter().enumerate() {
        let field = |name: &str| format!("links[{index}].{name}");
        let invalid = |name: &str, rule: String| ConfigError::invalid(file, field(name), rule);
        if link.from == link.to {
            return Err(invalid("to", format!("`{}` links to itself", link.to)));
        }
        if raw[..index]
            .iter()
            .any(|l| l.from == link.from && l.to == link.to)
        {
            return Err(invalid(
                "to",
                format!("{} -> {} is linked twice", link.from, link.to),
            ));
        }
        if link.via != Via::Hbm && !overlap_kernels {
            return Err(invalid(
                "via",
                format!(
                    "a {} link needs [schedule] overlap_kernels = true: in a sequential \
                     schedule each kernel runs alone and its output goes to HBM",
                    link.via.name()
                ),
            ));
        }
        let depth_tiles = match (link.via, link.depth_tiles) {
            (Via::Stream, depth) => in_range(
                file,
                &field("depth_tiles"),
                depth.unwrap_or(2),
                limits::DEPTH_TILES,
            )?,
            (_, Some(_)) => {
                return Err(invalid(
                    "depth_tiles",
                    "applies to streams only".to_string(),
                ));
            }
            (_, None) => 0,
        };
        links.push(Link {
            from: link.from.clone(),
            to: link.to.clone(),
            via: link.via,
            depth_tiles,
        });
    }
    // A cycle: following links from some kernel returns to it.
    for start in &links {
        let mut at = start.to.as_str();
        for _ in 0..links.len() {
            if at == start.from {
                return Err(ConfigError::invalid(
                    file,
                    "links",
                    format!("the links form a cycle through `{}`", start.from),
                ));
            }
            match links.iter().find(|l| l.from == at) {
                Some(next) => at = next.to.as_str(),
                None => break,
            }
        }
    }
    Ok(links)
}
