//! The named choices a design makes: fusion, dataflow, loop order, memory model, kernel
//! classes, AXI ports and buffer memory; each parses from and prints as its config spelling.

use serde::{Deserialize, Serialize};

/// Which kernels are fused; a fused intermediate never reaches HBM.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema, Serialize,
)]
#[serde(deny_unknown_fields)]
pub struct Fusion {
    /// The MLP activation runs in the epilogue of its GEMM (FC1 + bias + GELU; SiLU in the
    /// gate GEMM, `× up` in the up GEMM). Biases are always added in the GEMM epilogue.
    pub gemm_activation: bool,
    /// Q, K and V come from one GEMM over concatenated weights.
    pub qkv: bool,
    /// Scores, softmax and context in one kernel that keeps the scores on chip.
    pub attention: bool,
}

impl Fusion {
    /// Every fusion switch on.
    pub const ALL: Fusion = Fusion {
        gemm_activation: true,
        qkv: true,
        attention: true,
    };

    /// The switches by the names the command line and sweeps use.
    fn switches(self) -> [(&'static str, bool); 3] {
        [
            ("gemm-act", self.gemm_activation),
            ("qkv", self.qkv),
            ("attention", self.attention),
        ]
    }
}

impl std::fmt::Display for Fusion {
    /// `none`, `all`, or the switches that are on joined by `+` (`gemm-act+qkv`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let on: Vec<&str> = self
            .switches()
            .into_iter()
            .filter_map(|(name, on)| on.then_some(name))
            .collect();
        match on.len() {
            0 => f.write_str("none"),
            3 => f.write_str("all"),
            _ => f.write_str(&on.join("+")),
        }
    }
}

impl std::str::FromStr for Fusion {
    type Err = String;

    /// Switch names joined by `,` or `+`: `gemm-act`, `qkv`, `attention`, `all`, `none`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut fusion = Fusion::default();
        for item in text.split([',', '+']).map(str::trim) {
            match item {
                "none" | "" => {}
                "gemm-act" => fusion.gemm_activation = true,
                "qkv" => fusion.qkv = true,
                "attention" => fusion.attention = true,
                "all" => fusion = Fusion::ALL,
                other => {
                    return Err(format!(
                        "unknown fusion `{other}` (expected gemm-act, qkv, attention, all or \
                         none)"
                    ));
                }
            }
        }
        Ok(fusion)
    }
}

/// Which operand stays in the processing elements while the others stream through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema, Serialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Dataflow {
    /// Output stationary.
    Os,
    /// Weight stationary.
    Ws,
    /// Input stationary.
    Is,
}

impl Dataflow {
    /// Every dataflow, in the order sweeps list them.
    pub const ALL: [Dataflow; 3] = [Dataflow::Os, Dataflow::Ws, Dataflow::Is];

    /// The name the design file uses.
    pub fn name(self) -> &'static str {
        match self {
            Dataflow::Os => "os",
            Dataflow::Ws => "ws",
            Dataflow::Is => "is",
        }
    }
}

impl std::str::FromStr for Dataflow {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Dataflow::ALL
            .into_iter()
            .find(|dataflow| dataflow.name() == text)
            .ok_or_else(|| format!("unknown dataflow `{text}` (expected os, ws or is)"))
    }
}

/// Order of the tile loops; the reduction loop is always innermost so partial sums stay on
/// chip. A batched GEMM (attention: one instance per image and head) runs its instances
/// outermost in `mnk` and `nmk` (head-major: every tile of head h, then head h + 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema, Serialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum LoopOrder {
    /// Rows of the output outer: an activation tile is reused across output columns.
    Mnk,
    /// Columns outer: a weight tile is reused across output rows.
    Nmk,
    /// Row blocks outermost, then the instances, then columns (row-major across heads:
    /// every head's tiles of row block r before row block r + 1), so a consumer that
    /// reads every head of its rows (the output projection) can start after one row block.
    Mbnk,
}

/// Which memory the simulation runs on: the fast HBM model (per-channel servers, the
/// default), the bank-level HBM, or unlimited bandwidth with zero latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema, Serialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum MemoryModel {
    /// The fast model: per-channel servers with fitted constants.
    Hbm,
    /// The bank-level model (the platform's `[hbm.dram]`).
    Dram,
    /// Unlimited bandwidth, zero latency.
    Ideal,
}

impl MemoryModel {
    /// The name the design file uses.
    pub fn name(self) -> &'static str {
        match self {
            MemoryModel::Hbm => "hbm",
            MemoryModel::Dram => "dram",
            MemoryModel::Ideal => "ideal",
        }
    }
}

/// The families of GEMMs a design may tile differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KernelClass {
    /// Patch embedding, Q/K/V/O and connector projections.
    Projection,
    /// Attention scores and context (or fused attention).
    Attention,
    /// MLP up/gate and down projections.
    Mlp,
}

impl KernelClass {
    /// Every class, in the order tables list them.
    pub const ALL: [KernelClass; 3] = [
        KernelClass::Projection,
        KernelClass::Attention,
        KernelClass::Mlp,
    ];

    /// The name the design file uses.
    pub fn name(self) -> &'static str {
        match self {
            KernelClass::Projection => "projection",
            KernelClass::Attention => "attention",
            KernelClass::Mlp => "mlp",
        }
    }
}

/// Where the accelerator's AXI masters enter the HBM switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema, Serialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum AxiPorts {
    /// One master per pseudo-channel at that channel's own port: no switch crossing.
    PerChannel,
    /// Array (and vector unit) `u` sits on mini-switch `u`; other channels are crossings.
    PerUnit,
}

impl AxiPorts {
    /// The name the design file uses.
    pub fn name(self) -> &'static str {
        match self {
            AxiPorts::PerChannel => "per_channel",
            AxiPorts::PerUnit => "per_unit",
        }
    }
}

/// How a weight matrix is laid out in HBM.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema, Serialize, Hash,
)]
#[serde(rename_all = "snake_case")]
pub enum WeightLayout {
    /// Row after row of the `k × n` matrix: a tile narrower than the matrix is one short
    /// run per row, each a matrix row's pitch from the last.
    #[default]
    RowMajor,
    /// In the tiles its GEMM reads (`tk × tn` of the kernel's tiling), each contiguous:
    /// a tile's load is one long run, whatever its width (how overlays pre-arrange weights).
    TileMajor,
}

/// How activation tensors (and the key/value cache) lie in HBM.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema, Serialize, Hash,
)]
#[serde(rename_all = "snake_case")]
pub enum ActivationLayout {
    /// Row after row of each tensor (tokens × features): a head's block of rows is one
    /// short run per row, a tensor row's pitch apart.
    #[default]
    RowMajor,
    /// A tensor that attention splits into heads (Q, K, V and their projections' output,
    /// the context, the key/value cache) stored per instance head after head, each head's
    /// rows × head width contiguous (how spatial attention designs keep them); the other
    /// tensors row after row.
    HeadMajor,
}

/// Which block memory holds the tile buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SramKind {
    /// Block RAM (RAMB36).
    Bram,
    /// UltraRAM (URAM288).
    Uram,
}
