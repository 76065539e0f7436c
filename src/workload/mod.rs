//! Workload: the kernels the encoders run, in order, with their shapes, work and HBM traffic.
//!
//! A kernel is either a GEMM (`M × K` times `K × N`, repeated `batch` times, e.g. once per
//! head) or a vector pass over `batch × M × N` elements. Its compulsory HBM traffic is each
//! operand read once and each result written once at its storage precision; intermediates of
//! a fused kernel never reach HBM.

pub mod access;
mod build;
mod builder;
mod decode;
mod embeddings;
mod expert;
mod footprint;
mod options;
#[cfg(test)]
mod tests;

pub use build::{build_workload, limits, single_gemm};
pub use builder::MAX_COUNT;
pub use footprint::HbmFootprint;
pub use options::{WorkloadChoices, WorkloadOptions};

use crate::config::design::KernelLabel;
pub use crate::config::design::{Fusion, KernelClass};
use crate::config::precision::Precision;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::hash::Hash;

/// The stages of a smolVLA step: the three encoders that build the prefix, then the action
/// expert (with `--pipeline full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoder {
    /// The SigLIP vision tower.
    Vision,
    /// The pixel-shuffle connector.
    Connector,
    /// The text layers.
    Text,
    /// The action expert.
    Expert,
    /// Tokens generated after the prefix, one at a time against the key/value cache.
    Decode,
}

impl Encoder {
    /// Every encoder, in execution order.
    pub const ALL: [Encoder; 5] = [
        Encoder::Vision,
        Encoder::Connector,
        Encoder::Text,
        Encoder::Expert,
        Encoder::Decode,
    ];

    /// The name tables use.
    pub fn name(self) -> &'static str {
        match self {
            Encoder::Vision => "vision",
            Encoder::Connector => "connector",
            Encoder::Text => "text",
            Encoder::Expert => "expert",
            Encoder::Decode => "decode",
        }
    }
}

/// How much of a smolVLA step a workload covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pipeline {
    /// The VLM's encoders, which build the prefix (vision, connector, text layers).
    #[default]
    Encoders,
    /// The whole step, observation in, action chunk out: the encoders, the state projection
    /// and the action expert over every flow-matching step.
    Full,
}

impl std::str::FromStr for Pipeline {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "encoders" => Ok(Pipeline::Encoders),
            "full" => Ok(Pipeline::Full),
            other => Err(format!("expected `encoders` or `full`, found `{other}`")),
        }
    }
}

/// How the text layers take the prompt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Prefill {
    /// All prompt tokens at once: every layer's GEMMs have a row per token.
    #[default]
    Parallel,
    /// One token after another against the growing key/value cache, as a decode step
    /// without the LM head (DFX runs its prompts this way: matrix-vector products only).
    TokenSerial,
}

impl std::str::FromStr for Prefill {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "parallel" => Ok(Prefill::Parallel),
            "token-serial" => Ok(Prefill::TokenSerial),
            other => Err(format!(
                "expected `parallel` or `token-serial`, found `{other}`"
            )),
        }
    }
}

/// Switches of the full pipeline that depart from the reference code, each to save work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct ExpertSwitches {
    /// Project the cached prefix keys and values of the cross-attention layers once per
    /// observation instead of at every flow-matching step (the reference recomputes them).
    #[serde(default)]
    pub cross_kv_once: bool,
    /// Of the last text layer, compute only what the expert reads (its keys and values):
    /// skip its queries, attention, output projection and MLP.
    #[serde(default)]
    pub trim_last_text_layer: bool,
}

impl fmt::Display for Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a kernel computes; decides which hardware unit runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// Matrix multiply on the systolic arrays (with any fused epilogue).
    Gemm,
    /// Scores, softmax and context in one pass; the scores never leave the chip.
    FusedAttention,
    /// LayerNorm.
    LayerNorm,
    /// RMSNorm.
    RmsNorm,
    /// Softmax.
    Softmax,
    /// GELU.
    Gelu,
    /// `silu(x)` alone (the action expert's time MLP).
    Silu,
    /// `silu(gate) * up` of a gated MLP.
    SiluMul,
    /// Element-wise add: residuals, position embeddings.
    Add,
    /// Rotary position embedding on queries and keys.
    Rope,
    /// Space-to-depth reshuffle of the connector: data movement only.
    PixelShuffle,
}

impl Op {
    /// The name tables use.
    pub fn name(self) -> &'static str {
        match self {
            Op::Gemm => "gemm",
            Op::FusedAttention => "fused_attention",
            Op::LayerNorm => "layernorm",
            Op::RmsNorm => "rmsnorm",
            Op::Softmax => "softmax",
            Op::Gelu => "gelu",
            Op::Silu => "silu",
            Op::SiluMul => "silu_mul",
            Op::Add => "add",
            Op::Rope => "rope",
            Op::PixelShuffle => "pixel_shuffle",
        }
    }

    /// Whether the op runs on the MAC arrays (else on vector units).
    pub fn uses_arrays(self) -> bool {
        matches!(self, Op::Gemm | Op::FusedAttention)
    }

    /// Non-MAC operations per element of the op's output, the convention roofsim counts by
    /// (exp, tanh, division and square root count as one operation each).
    pub fn flops_per_element(self) -> u64 {
        match self {
            // Mean (1 add), variance (sub, mul, add), normalise (sub, mul), affine (mul, add).
            Op::LayerNorm => 8,
            // Sum of squares (mul, add), scale by the reciprocal root (mul), weight (mul).
            Op::RmsNorm => 4,
            // Max (compare), subtract, exp, sum, divide; the 1/sqrt(d) scale folds into the subtract.
            Op::Softmax => 5,
            // tanh approximation: x³ (2 mul), fma (2), tanh, add, 2 mul.
            Op::Gelu => 8,
            // silu(g) = g / (1 + exp(-g)): exp, add, divide; then × up.
            Op::Silu => 3,
            Op::SiluMul => 4,
            Op::Add => 1,
            // Per output element: 2 multiplies and 1 add with the rotated partner.
            Op::Rope => 3,
            Op::Gemm | Op::FusedAttention | Op::PixelShuffle => 0,
        }
    }
}

/// Whether the kernel reads or writes a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Read by the kernel.
    Read,
    /// Written by the kernel.
    Write,
}

/// One tensor a kernel moves between HBM and the chip.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Operand {
    /// Its name (`x`, `w`, `q`...).
    pub name: &'static str,
    /// Elements.
    pub elements: u64,
    /// Bits per element as stored.
    pub bits: u64,
    /// Read or written.
    pub direction: Direction,
    /// Model parameters (weights, biases, norm scales, position tables) as opposed to
    /// activations; summed, they give the model's parameter count.
    pub is_parameter: bool,
    /// Which tensor elements a block of the operand touches, and which earlier kernels
    /// wrote them (empty for parameters and inputs).
    pub access: access::Access,
}

impl Operand {
    /// Bytes in HBM, rounded up to whole bytes (INT4 packs two elements per byte).
    pub fn bytes(&self) -> u64 {
        (self.elements * self.bits).div_ceil(8)
    }
}

/// One kernel instance: a layer's Q projection, a head-batched softmax...
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kernel {
    /// The encoder it belongs to.
    pub encoder: Encoder,
    /// Transformer block index; `None` for kernels outside the blocks (patch embedding...).
    pub layer: Option<u64>,
    /// Flow-matching step of an action-expert kernel, the index of the generated token of a
    /// decode kernel, or of the prompt token of a token-serial prefill; `None` for kernels
    /// run once per observation.
    pub step: Option<u64>,
    /// Its name (`qkv_proj`, `softmax`...).
    pub name: &'static str,
    /// What it computes.
    pub op: Op,
    /// GEMM: output rows. Vector op: rows.
    pub m: u64,
    /// GEMM: output columns. Vector op: elements per row.
    pub n: u64,
    /// GEMM: reduction length. Vector op: 0.
    pub k: u64,
    /// Independent instances of the `m × n (× k)` problem (heads × images).
    pub batch: u64,
    /// MACs it performs.
    pub macs: u64,
    /// Operations other than the MACs' multiply-add (epilogues, norms, softmax...).
    pub vector_flops: u64,
    /// The precision the kernel's arithmetic runs at.
    pub compute_precision: Precision,
    /// GEMM only: the second operand is stored `n × k` (keys in `Q·Kᵀ`) rather than `k × n`.
    pub b_transposed: bool,
    /// GEMM family, for designs that tile each differently; `None` for vector kernels.
    pub class: Option<KernelClass>,
    /// What it reads and writes.
    pub operands: Vec<Operand>,
}

impl Kernel {
    /// Total operations: 2 per MAC plus the vector operations.
    pub fn flops(&self) -> u64 {
        2 * self.macs + self.vector_flops
    }

    /// Compulsory HBM traffic.
    pub fn bytes(&self) -> u64 {
        self.operands.iter().map(Operand::bytes).sum()
    }

    /// Model parameters the kernel reads.
    pub fn parameters(&self) -> u64 {
        self.operands
            .iter()
            .filter(|operand| operand.is_parameter)
            .map(|operand| operand.elements)
            .sum()
    }

    /// `encoder/name`, as tables print it.
    pub fn label(&self) -> String {
        self.label_parts().to_string()
    }

    /// Whether `name` names this kernel: its name (`qkv_proj`, in every encoder) or
    /// `encoder/name`.
    pub fn is_named(&self, name: &str) -> bool {
        self.name == name || self.label_parts().is(name)
    }

    /// Its label in parts, to look it up in a design's `[mapping]` without building it.
    pub fn label_parts(&self) -> KernelLabel<'static> {
        KernelLabel {
            encoder: self.encoder.name(),
            name: self.name,
        }
    }

    /// Everything but the layer index, the step and reads of kernels more than `position`
    /// places back (outside a unit whose `position`-th kernel this is: already in memory
    /// when the unit runs): kernels of two units equal in it do the same work wherever
    /// they run, so the units can share one simulation.
    pub fn work_within(&self, position: usize) -> impl Hash + Eq + '_ {
        let operands = self.operands.iter().map(move |o| {
            let pieces: Vec<_> = o
                .access
                .pieces
                .iter()
                .filter(|p| p.back as usize <= position)
                .collect();
            // Rows per instance place a block only through heads or pieces.
            let placed = o.access.heads.is_some() || !pieces.is_empty();
            let tokens = if placed { o.access.tokens } else { 0 };
            (
                (o.name, o.elements, o.bits, o.direction, o.is_parameter),
                (o.access.heads, tokens, pieces),
            )
        });
        (
            (self.encoder, self.name, self.op, self.m, self.n, self.k),
            (
                self.batch,
                self.macs,
                self.vector_flops,
                self.compute_precision,
                self.b_transposed,
                self.class,
                operands.collect::<Vec<_>>(),
            ),
        )
    }

    /// Shape key: kernels with the same name, op and shape do the same work in every layer.
    pub fn shape_key(&self) -> (Encoder, &'static str, Op, u64, u64, u64, u64) {
        (
            self.encoder,
            self.name,
            self.op,
            self.m,
            self.n,
            self.k,
            self.batch,
        )
    }
}

/// The ordered kernels of one forward pass of the encoders (and, in the full pipeline, of
/// the action expert).
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// The options it was built with.
    pub options: WorkloadOptions,
    /// Tokens per observation the text layers see: image tokens, language, state.
    pub text_tokens: u64,
    /// Image tokens per observation in the text prefix (the connector's output).
    pub image_tokens: u64,
    /// Parameters the model holds that no kernel reads as an operand: the lookups' tables
    /// (token embeddings, learned positions, token types).
    pub lookup_parameters: u64,
    /// Every kernel, in execution order.
    pub kernels: Vec<Kernel>,
}

impl Workload {
    /// Kernels of one encoder, in execution order.
    pub fn encoder_kernels(&self, encoder: Encoder) -> impl Iterator<Item = &Kernel> {
        self.kernels
            .iter()
            .filter(move |kernel| kernel.encoder == encoder)
    }

    /// Whether the workload reads camera images (a vision tower, or the image tokens of
    /// its prefix): then a run is per observation, else per inference of a text model.
    pub fn reads_images(&self) -> bool {
        self.image_tokens > 0 || self.encoder_kernels(Encoder::Vision).next().is_some()
    }

    /// What one run of the workload is called: an observation or an inference.
    pub fn unit_noun(&self) -> &'static str {
        if self.reads_images() {
            "observation"
        } else {
            "inference"
        }
    }

    /// Distinct `encoder/name` labels, in order of first appearance.
    pub fn labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = Vec::new();
        for kernel in &self.kernels {
            let label = kernel.label();
            if !labels.contains(&label) {
                labels.push(label);
            }
        }
        labels
    }

    /// Only the kernels `names` name (each a name or `encoder/name`), for focused runs; a
    /// name that matches none is an error suggesting the closest.
    /// `option` is the flag or field the names came from, for the error.
    pub fn select(
        mut self,
        names: &[String],
        option: &'static str,
    ) -> Result<Workload, WorkloadError> {
        if names.is_empty() {
            return Ok(self);
        }
        let labels = self.labels();
        if let Some(unknown) = names
            .iter()
            .find(|name| !self.kernels.iter().any(|k| k.is_named(name)))
        {
            return Err(WorkloadError::Invalid {
                option,
                rule: format!(
                    "no kernel `{unknown}` with fusion {}{}",
                    self.options.fusion,
                    crate::config::did_you_mean(unknown, &labels)
                ),
            });
        }
        self.retain(|kernel| names.iter().any(|name| kernel.is_named(name)));
        Ok(self)
    }

    /// Keeps only the kernels `keep` accepts (asked once per kernel, in order); a kept
    /// kernel's read of a dropped kernel's output then reads an input in memory, and its
    /// other reads point where their producers moved.
    pub fn retain(&mut self, mut keep: impl FnMut(&Kernel) -> bool) {
        let mut kept = Vec::with_capacity(self.kernels.len());
        let mut count = 0u64;
        for kernel in &self.kernels {
            let keep = keep(kernel);
            kept.push(keep.then_some(count));
            count += u64::from(keep);
        }
        for (index, kernel) in self.kernels.iter_mut().enumerate() {
            let Some(place) = kept[index] else { continue };
            for operand in &mut kernel.operands {
                operand
                    .access
                    .pieces
                    .retain_mut(|piece| match kept[index - piece.back as usize] {
                        Some(producer) => {
                            piece.back = place - producer;
                            true
                        }
                        None => false,
                    });
            }
        }
        let mut index = 0;
        self.kernels.retain(|_| {
            index += 1;
            kept[index - 1].is_some()
        });
    }

    /// Parameters one encoder holds, each weight once however often it is read: the action
    /// expert's at its first flow-matching step (every step reads the same), a generated
    /// token's the first token's LM head and norm (its layers read the text layers' weights,
    /// counted under text).
    pub fn parameters(&self, encoder: Encoder) -> u64 {
        self.holding_kernels(encoder).map(Kernel::parameters).sum()
    }

    /// Bytes of every weight the workload holds in memory, at the precision it is stored:
    /// the kernels' and the lookup tables'.
    pub fn parameter_bytes(&self) -> u64 {
        let lookups = (self.lookup_parameters * self.options.precision.weights.bits()).div_ceil(8);
        Encoder::ALL
            .into_iter()
            .flat_map(|encoder| self.holding_kernels(encoder))
            .flat_map(|kernel| &kernel.operands)
            .filter(|operand| operand.is_parameter)
            .map(Operand::bytes)
            .sum::<u64>()
            .saturating_add(lookups)
    }

    /// The kernels of `encoder` whose weights are their own (not another step's or token's).
    fn holding_kernels(&self, encoder: Encoder) -> impl Iterator<Item = &Kernel> {
        self.encoder_kernels(encoder)
            .filter(move |kernel| match encoder {
                Encoder::Expert | Encoder::Text => kernel.step.is_none_or(|step| step == 0),
                Encoder::Decode => kernel.step.is_none(),
                _ => true,
            })
    }
}

/// Workload options that cannot describe a forward pass.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkloadError {
    /// A count is out of range; `option` is the command-line option or config field.
    #[error("{option}: {rule}")]
    Invalid {
        /// The option or field.
        option: &'static str,
        /// The rule it breaks.
        rule: String,
    },
    /// A value a config file gave (not an option) does not fit the model.
    #[error("{file}: field `{field}`: {rule}")]
    Config {
        /// The config file.
        file: String,
        /// The field.
        field: &'static str,
        /// The rule it breaks.
        rule: String,
    },
}
