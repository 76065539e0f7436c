//! Appends kernels with their shapes, work and operands, one encoder and layer at a time;
//! every count goes through a checked product.

use super::access::{Access, Heads, Piece};
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
            access: Access::default(),
        }
    }

    /// Keys or values read from the key/value cache, at its precision. The rows written
    /// into it are counted at the activations' precision (a fused QKV projection and RoPE
    /// write Q beside K in one tensor of one precision).
    pub(super) fn cached(&self, name: &'static str, elements: u64) -> Operand {
        Operand {
            bits: self.precision.kv_cache.bits(),
            ..self.activation(name, elements, Direction::Read)
        }
    }

    pub(super) fn weight(&self, name: &'static str, elements: u64) -> Operand {
        Operand {
            name,
            elements,
            bits: self.precision.weights.bits(),
            direction: Direction::Read,
            is_parameter: true,
            access: Access::default(),
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
            access: Access::default(),
        }
    }

    /// Whether `kernel` belongs to the layer (and step) being built.
    fn here(&self, kernel: &Kernel) -> bool {
        (kernel.encoder, kernel.layer, kernel.step) == (self.encoder, self.layer, self.step)
    }

    /// Index of the latest kernel of the layer (and step) being built named one of
    /// `names`, the first name found winning.
    pub(super) fn find(&self, names: &[&str]) -> Option<usize> {
        let start = self.layer_start();
        names
            .iter()
            .find_map(|name| (start..self.kernels.len()).rfind(|&i| self.kernels[i].name == *name))
    }

    /// Index of the first kernel of the layer (and step) being built.
    fn layer_start(&self) -> usize {
        let inside = self
            .kernels
            .iter()
            .rev()
            .take_while(|kernel| self.here(kernel))
            .count();
        self.kernels.len() - inside
    }

    /// Index of the kernel whose output the layer being built starts from.
    pub(super) fn layer_input(&self) -> Option<usize> {
        self.layer_start().checked_sub(1)
    }

    /// The whole output of kernel `producer`, read as a `rows × cols` tensor by kernel
    /// `consumer`; nothing (an input already in memory) when there is no producer or its
    /// output has another size.
    fn whole(&self, consumer: usize, producer: Option<usize>, (rows, cols): (u64, u64)) -> Access {
        let Some(producer) = producer.filter(|&p| p < consumer) else {
            return Access::default();
        };
        let written = self.kernels[producer]
            .operands
            .iter()
            .find(|o| o.direction == Direction::Write)
            .map_or(0, |o| o.elements);
        if Some(written) != rows.checked_mul(cols) {
            return Access::default();
        }
        Access::whole((consumer - producer) as u64, rows, cols)
    }

    /// Makes the last kernel's activation read `operand` the whole output of kernel
    /// `producer` (nothing for `None`: a tensor in memory before the run).
    pub(super) fn read_from(&mut self, operand: &str, producer: Option<usize>) {
        let consumer = self.kernels.len() - 1;
        let kernel = &self.kernels[consumer];
        let shape = match (kernel.op, operand) {
            (Op::Gemm, "x") => (kernel.m, kernel.k),
            (Op::Gemm, _) => (kernel.m, kernel.n),
            _ => (kernel.batch * kernel.m, kernel.n),
        };
        let access = self.whole(consumer, producer, shape);
        self.set_access(consumer, operand, access);
    }

    /// The last kernel reads its input `x` from the key/value cache: at the cache's
    /// precision, computing at the wider of that and its own.
    pub(super) fn reads_cache(&mut self) {
        let bits = self.precision.kv_cache.bits();
        let kernel = self.kernels.last_mut().expect("a kernel to read the cache");
        for operand in kernel.operands.iter_mut().filter(|o| o.name == "x") {
            operand.bits = bits;
        }
        if bits > kernel.compute_precision.bits() {
            kernel.compute_precision = self.precision.kv_cache;
        }
    }

    /// Sets the access map of kernel `index`'s activation read `operand`.
    pub(super) fn set_access(&mut self, index: usize, operand: &str, access: Access) {
        let kernel = &mut self.kernels[index];
        let read = kernel
            .operands
            .iter_mut()
            .find(|o| o.name == operand && !o.is_parameter)
            .unwrap_or_else(|| panic!("{} reads no activation {operand}", kernel.name));
        read.access = access;
    }

    /// Pushes `kernel`, its first activation read being the previous kernel's output when
    /// that has its size (what a chain of kernels reads).
    fn push(&mut self, mut kernel: Kernel, input_shape: (u64, u64)) {
        let consumer = self.kernels.len();
        let access = self.whole(consumer, consumer.checked_sub(1), input_shape);
        if let Some(input) = kernel
            .operands
            .iter_mut()
            .find(|o| o.direction == Direction::Read && !o.is_parameter)
        {
            input.access = access;
        }
        self.kernels.push(kernel);
    }

    /// The columns of Q followed by K of the layer being built, as pieces of the kernels
    /// that wrote them (one QKV projection, or the Q and K projections) for a kernel pushed
    /// next (RoPE over both).
    pub(super) fn query_key_pieces(&self, rows: u64, (q_width, kv_width): (u64, u64)) -> Access {
        let consumer = self.kernels.len();
        let piece = |index: usize, cols: (u64, u64)| Piece {
            back: (consumer - index) as u64,
            tokens: (0, rows),
            producer_tokens: rows,
            cols,
            producer_col: 0,
        };
        let pieces = if let Some(qkv) = self.find(&["qkv_proj"]) {
            vec![piece(qkv, (0, q_width + kv_width))]
        } else {
            [
                ("q_proj", (0, q_width)),
                ("k_proj", (q_width, q_width + kv_width)),
            ]
            .into_iter()
            .filter_map(|(name, cols)| self.find(&[name]).map(|index| piece(index, cols)))
            .collect()
        };
        Access {
            heads: None,
            tokens: rows,
            pieces,
            storage: None,
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
        let kernel = Kernel {
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
        };
        self.push(kernel, (m, k));
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
        let rows = self.product(&[batch, m]);
        let kernel = Kernel {
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
        };
        self.push(kernel, (rows, n));
    }

    pub(super) fn layer_norm(&mut self, name: &'static str, op: Op, rows: u64, hidden: u64) {
        let scales = self.product(&[if op == Op::LayerNorm { 2 } else { 1 }, hidden]);
        let parameters = vec![self.parameter_vector("gamma_beta", scales)];
        self.vector(name, op, (1, rows, hidden), &["x"], parameters);
    }

    /// `x + residual`, the residual being the output of kernel `skip` (the layer's input,
    /// or an earlier kernel's output).
    pub(super) fn residual(
        &mut self,
        name: &'static str,
        rows: u64,
        hidden: u64,
        skip: Option<usize>,
    ) {
        self.vector(name, Op::Add, (1, rows, hidden), &["x", "residual"], vec![]);
        self.read_from("residual", skip);
    }

    /// The access map of attention's Q (`Kind::Query`), K or V of the layer being built,
    /// for a kernel pushed next: heads split its columns, and its rows are the last rows of
    /// each instance's `tokens` (the new tokens after a cache; all of them otherwise).
    fn attention_access(&self, shape: &AttentionShape, tensor: Tensor) -> Access {
        let q_width = shape.heads * shape.head_dim;
        let kv_width = shape.kv_heads * shape.head_dim;
        let sources: &[(&str, u64)] = match (tensor, shape.cross) {
            (Tensor::Query, _) => &[("rope_q", 0), ("rope", 0), ("qkv_proj", 0), ("q_proj", 0)],
            (Tensor::Key, true) => &[("cross_k_proj", 0)],
            (Tensor::Value, true) => &[("cross_v_proj", 0)],
            (Tensor::Key, false) => &[("rope", q_width), ("qkv_proj", q_width), ("k_proj", 0)],
            (Tensor::Value, false) => &[("qkv_proj", q_width + kv_width), ("v_proj", 0)],
        };
        let (tokens, width, group) = if tensor == Tensor::Query {
            (shape.queries, q_width, 1)
        } else {
            let group = (shape.heads / shape.kv_heads.max(1)).max(1);
            (shape.keys, kv_width, group)
        };
        let consumer = self.kernels.len();
        let pieces = sources
            .iter()
            .find_map(|&(name, column)| self.find(&[name]).map(|index| (index, column)))
            .map(|(index, producer_col)| {
                let producer = &self.kernels[index];
                let rows = producer.batch * producer.m;
                let producer_tokens = (rows / shape.instances.max(1)).min(tokens);
                Piece {
                    back: (consumer - index) as u64,
                    tokens: (tokens - producer_tokens, tokens),
                    producer_tokens,
                    cols: (0, width),
                    producer_col,
                }
            });
        Access {
            heads: Some(Heads {
                per_instance: shape.heads,
                group,
                width: shape.head_dim,
            }),
            tokens,
            pieces: pieces.into_iter().collect(),
            storage: None,
        }
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
        let mut q = self.activation("q", q_elements, Direction::Read);
        q.access = self.attention_access(&shape, Tensor::Query);
        let mut k = self.cached("k", kv_elements);
        let mut v = self.cached("v", kv_elements);
        let mut context = self.activation("context", q_elements, Direction::Write);
        context.access = Access {
            heads: Some(Heads {
                per_instance: heads,
                group: 1,
                width: head_dim,
            }),
            tokens: queries,
            pieces: Vec::new(),
            storage: None,
        };
        let scores_macs = self.product(&[batch, queries, keys, head_dim]);
        let score_elements = self.product(&[batch, queries, keys]);
        let softmax_flops = self.product(&[Op::Softmax.flops_per_element(), score_elements]);
        let compute_precision = self.precision.attention();
        k.access = self.attention_access(&shape, Tensor::Key);
        v.access = self.attention_access(&shape, Tensor::Value);
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
        let mut probabilities = self.activation("probs", score_elements, Direction::Read);
        let rows = self.product(&[batch, queries]);
        probabilities.access = self.whole(
            self.kernels.len(),
            self.kernels.len().checked_sub(1),
            (rows, keys),
        );
        v.access = self.attention_access(&shape, Tensor::Value);
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

/// Attention's three inputs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tensor {
    Query,
    Key,
    Value,
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
