//! Appends kernels with their shapes, work and operands, one encoder and layer at a time;
//! every count goes through a checked product.

use super::{Direction, Encoder, Kernel, KernelClass, Op, Operand};
use crate::config::precision::PrecisionPair;

/// What a GEMM's epilogue does to each output element besides the optional bias add.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Epilogue {
    None,
    Gelu,
    /// `silu(x)`: the gate half of a gated MLP.
    Silu,
    /// `x * other`: the up half, multiplied by the gate's output read from HBM.
    MultiplyByGate,
}

impl Epilogue {
    pub(super) fn flops_per_element(self) -> u64 {
        match self {
            Epilogue::None => 0,
            Epilogue::Gelu => Op::Gelu.flops_per_element(),
            Epilogue::Silu => Op::Silu.flops_per_element(),
            Epilogue::MultiplyByGate => 1,
        }
    }
}

/// Appends kernels for one encoder and layer at a time.
pub(super) struct Builder {
    pub precision: PrecisionPair,
    pub encoder: Encoder,
    pub layer: Option<u64>,
    pub step: Option<u64>,
    pub kernels: Vec<Kernel>,
    /// Set when a count exceeded [`MAX_COUNT`]; the workload is then refused.
    pub too_large: bool,
}

/// The largest count (elements, MACs, operations) of one kernel: 2^56 ≈ 7.2e16, so that a
/// count times 32 bits, or a sum of 256 counts, still fits 64 bits.
pub const MAX_COUNT: u64 = 1 << 56;

impl Builder {
    pub(super) fn new(precision: PrecisionPair) -> Self {
        Builder {
            precision,
            encoder: Encoder::Vision,
            layer: None,
            step: None,
            kernels: Vec::new(),
            too_large: false,
        }
    }

    /// The product of `factors`, or 0 with `too_large` set when it exceeds [`MAX_COUNT`]
    /// (0 keeps later arithmetic on it from overflowing before the workload is refused).
    pub(super) fn product(&mut self, factors: &[u64]) -> u64 {
        let product = factors
            .iter()
            .try_fold(1u64, |product, &factor| product.checked_mul(factor))
            .filter(|&product| product <= MAX_COUNT);
        self.too_large |= product.is_none();
        product.unwrap_or(0)
    }

    pub(super) fn activation(
        &self,
        name: &'static str,
        elements: u64,
        direction: Direction,
    ) -> Operand {
        Operand {
            name,
            elements,
            bits: self.precision.activations.bits(),
            direction,
            is_parameter: false,
        }
    }

    pub(super) fn weight(&self, name: &'static str, elements: u64) -> Operand {
        Operand {
            name,
            elements,
            bits: self.precision.weights.bits(),
            direction: Direction::Read,
            is_parameter: true,
        }
    }

    /// Biases and norm scales, kept at accumulator width for integer weights.
    pub(super) fn parameter_vector(&self, name: &'static str, elements: u64) -> Operand {
        Operand {
            name,
            elements,
            bits: self.precision.weights.parameter_vector_bits(),
            direction: Direction::Read,
            is_parameter: true,
        }
    }

    /// `y[m × n] = epilogue(x[m × k] · W[k × n] + b)`.
    pub(super) fn linear(
        &mut self,
        name: &'static str,
        class: KernelClass,
        (m, k, n): (u64, u64, u64),
        bias: bool,
        epilogue: Epilogue,
    ) {
        let (inputs, weights, outputs) = (
            self.product(&[m, k]),
            self.product(&[k, n]),
            self.product(&[m, n]),
        );
        let macs = self.product(&[m, n, k]);
        let mut operands = vec![
            self.activation("x", inputs, Direction::Read),
            self.weight("w", weights),
        ];
        let mut vector_flops = self.product(&[epilogue.flops_per_element(), outputs]);
        if bias {
            operands.push(self.parameter_vector("b", n));
            vector_flops += outputs;
        }
        if epilogue == Epilogue::MultiplyByGate {
            operands.push(self.activation("gate", outputs, Direction::Read));
        }
        operands.push(self.activation("y", outputs, Direction::Write));
        self.kernels.push(Kernel {
            encoder: self.encoder,
            layer: self.layer,
            step: self.step,
            name,
            op: Op::Gemm,
            m,
            n,
            k,
            batch: 1,
            macs,
            vector_flops,
            compute_precision: self.precision.compute(),
            b_transposed: false,
            class: Some(class),
            operands,
        });
    }

    /// `activation(x · W + b)` of `m × k` by `k × n`: with `fused`, one GEMM named
    /// `fused_name` applying it in its epilogue; else a GEMM named `plain_name` and a vector
    /// pass named `activation.name()`. `activation` is `Op::Gelu` or `Op::Silu`.
    pub(super) fn activated_linear(
        &mut self,
        [fused_name, plain_name]: [&'static str; 2],
        class: KernelClass,
        (m, k, n): (u64, u64, u64),
        bias: bool,
        (activation, fused): (Op, bool),
    ) {
        if fused {
            let epilogue = match activation {
                Op::Gelu => Epilogue::Gelu,
                _ => Epilogue::Silu,
            };
            self.linear(fused_name, class, (m, k, n), bias, epilogue);
        } else {
            self.linear(plain_name, class, (m, k, n), bias, Epilogue::None);
            self.vector(activation.name(), activation, (1, m, n), &["x"], vec![]);
        }
    }

    /// A vector pass over `batch × m × n` elements: reads `inputs` such tensors (plus
    /// `parameters`), writes one.
    pub(super) fn vector(
        &mut self,
        name: &'static str,
        op: Op,
        (batch, m, n): (u64, u64, u64),
        inputs: &[&'static str],
        parameters: Vec<Operand>,
    ) {
        let elements = self.product(&[batch, m, n]);
        let vector_flops = self.product(&[op.flops_per_element(), elements]);
        let mut operands: Vec<Operand> = inputs
            .iter()
            .map(|&input| self.activation(input, elements, Direction::Read))
            .collect();
        operands.extend(parameters);
        operands.push(self.activation("y", elements, Direction::Write));
        self.kernels.push(Kernel {
            encoder: self.encoder,
            layer: self.layer,
            step: self.step,
            name,
            op,
            m,
            n,
            k: 0,
            batch,
            macs: 0,
            vector_flops,
            compute_precision: self.precision.activations,
            b_transposed: false,
            class: None,
            operands,
        });
    }

    pub(super) fn layer_norm(&mut self, name: &'static str, op: Op, rows: u64, hidden: u64) {
        let scales = self.product(&[if op == Op::LayerNorm { 2 } else { 1 }, hidden]);
        let parameters = vec![self.parameter_vector("gamma_beta", scales)];
        self.vector(name, op, (1, rows, hidden), &["x"], parameters);
    }

    pub(super) fn residual(&mut self, name: &'static str, rows: u64, hidden: u64) {
        self.vector(name, Op::Add, (1, rows, hidden), &["x", "residual"], vec![]);
    }

    /// Multi-head (or grouped-query) attention over `instances` independent sequences:
    /// `queries` tokens attend to `keys` (the same tokens in self-attention; the prefix
    /// cache and the action tokens in the action expert).
    pub(super) fn attention(&mut self, shape: AttentionShape, fused: bool) {
        let AttentionShape {
            instances,
            queries,
            keys,
            heads,
            kv_heads,
            head_dim,
            cross,
        } = shape;
        let [scores_name, softmax_name, context_name, fused_name] = if cross {
            [
                "cross_scores",
                "cross_softmax",
                "cross_context",
                "cross_attention",
            ]
        } else {
            ["scores", "softmax", "context", "attention"]
        };
        let batch = self.product(&[instances, heads]);
        let q_elements = self.product(&[batch, queries, head_dim]);
        let kv_elements = self.product(&[instances, kv_heads, keys, head_dim]);
        let q = self.activation("q", q_elements, Direction::Read);
        let k = self.activation("k", kv_elements, Direction::Read);
        let v = self.activation("v", kv_elements, Direction::Read);
        let context = self.activation("context", q_elements, Direction::Write);
        let scores_macs = self.product(&[batch, queries, keys, head_dim]);
        let score_elements = self.product(&[batch, queries, keys]);
        let softmax_flops = self.product(&[Op::Softmax.flops_per_element(), score_elements]);
        let compute_precision = self.precision.activations;
        if fused {
            let fused_macs = self.product(&[2, scores_macs]);
            self.kernels.push(Kernel {
                encoder: self.encoder,
                layer: self.layer,
                step: self.step,
                name: fused_name,
                op: Op::FusedAttention,
                m: queries,
                n: keys,
                k: head_dim,
                batch,
                macs: fused_macs,
                vector_flops: softmax_flops,
                compute_precision,
                b_transposed: true,
                class: Some(KernelClass::Attention),
                operands: vec![q, k, v, context],
            });
            return;
        }
        let scores = self.activation("scores", score_elements, Direction::Write);
        self.kernels.push(Kernel {
            encoder: self.encoder,
            layer: self.layer,
            step: self.step,
            name: scores_name,
            op: Op::Gemm,
            m: queries,
            n: keys,
            k: head_dim,
            batch,
            macs: scores_macs,
            vector_flops: 0,
            compute_precision,
            b_transposed: true,
            class: Some(KernelClass::Attention),
            operands: vec![q, k, scores],
        });
        self.vector(
            softmax_name,
            Op::Softmax,
            (batch, queries, keys),
            &["scores"],
            vec![],
        );
        let probabilities = self.activation("probs", score_elements, Direction::Read);
        self.kernels.push(Kernel {
            encoder: self.encoder,
            layer: self.layer,
            step: self.step,
            name: context_name,
            op: Op::Gemm,
            m: queries,
            n: head_dim,
            k: keys,
            batch,
            macs: scores_macs,
            vector_flops: 0,
            compute_precision,
            b_transposed: false,
            class: Some(KernelClass::Attention),
            operands: vec![probabilities, v, context],
        });
    }
}

#[derive(Clone, Copy)]
pub(super) struct AttentionShape {
    pub instances: u64,
    pub queries: u64,
    pub keys: u64,
    pub heads: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    /// Queries of one sequence attend to another's keys (the expert's cross-attention
    /// layers): the kernels are named `cross_scores`, `cross_softmax`, `cross_context`.
    pub cross: bool,
}
