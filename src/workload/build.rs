//! Lists the kernels of the vision encoder, connector and text encoder, layer by layer.

use super::{
    Direction, Encoder, Kernel, KernelClass, Op, Operand, Workload, WorkloadError, WorkloadOptions,
};
use crate::config::model::{ModelSpec, TextSpec, VisionSpec};
use crate::config::precision::PrecisionPair;

/// What a GEMM's epilogue does to each output element besides the optional bias add.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Epilogue {
    None,
    Gelu,
    /// `silu(x)`: the gate half of a gated MLP.
    Silu,
    /// `x * other`: the up half, multiplied by the gate's output read from HBM.
    MultiplyByGate,
}

impl Epilogue {
    fn flops_per_element(self) -> u64 {
        match self {
            Epilogue::None => 0,
            Epilogue::Gelu => Op::Gelu.flops_per_element(),
            Epilogue::Silu => Op::SiluMul.flops_per_element() - 1,
            Epilogue::MultiplyByGate => 1,
        }
    }
}

/// Appends kernels for one encoder and layer at a time.
struct Builder {
    precision: PrecisionPair,
    encoder: Encoder,
    layer: Option<u64>,
    kernels: Vec<Kernel>,
    /// Set when a count exceeded [`MAX_COUNT`]; the workload is then refused.
    too_large: bool,
}

/// The largest count (elements, MACs, operations) of one kernel: 2^56 ≈ 7.2e16, so that a
/// count times 32 bits, or a sum of 256 counts, still fits 64 bits.
pub const MAX_COUNT: u64 = 1 << 56;

impl Builder {
    fn new(precision: PrecisionPair) -> Self {
        Builder {
            precision,
            encoder: Encoder::Vision,
            layer: None,
            kernels: Vec::new(),
            too_large: false,
        }
    }

    /// The product of `factors`, or 0 with `too_large` set when it exceeds [`MAX_COUNT`]
    /// (0 keeps later arithmetic on it from overflowing before the workload is refused).
    fn product(&mut self, factors: &[u64]) -> u64 {
        let product = factors
            .iter()
            .try_fold(1u64, |product, &factor| product.checked_mul(factor))
            .filter(|&product| product <= MAX_COUNT);
        self.too_large |= product.is_none();
        product.unwrap_or(0)
    }

    fn activation(&self, name: &'static str, elements: u64, direction: Direction) -> Operand {
        Operand {
            name,
            elements,
            bits: self.precision.activations.bits(),
            direction,
            is_parameter: false,
        }
    }

    fn weight(&self, name: &'static str, elements: u64) -> Operand {
        Operand {
            name,
            elements,
            bits: self.precision.weights.bits(),
            direction: Direction::Read,
            is_parameter: true,
        }
    }

    /// Biases and norm scales, kept at accumulator width for integer weights.
    fn parameter_vector(&self, name: &'static str, elements: u64) -> Operand {
        Operand {
            name,
            elements,
            bits: self.precision.weights.parameter_vector_bits(),
            direction: Direction::Read,
            is_parameter: true,
        }
    }

    /// `y[m × n] = epilogue(x[m × k] · W[k × n] + b)`.
    fn linear(
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

    /// A vector pass over `batch × m × n` elements: reads `inputs` such tensors (plus
    /// `parameters`), writes one.
    fn vector(
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

    fn layer_norm(&mut self, name: &'static str, op: Op, rows: u64, hidden: u64) {
        let scales = self.product(&[if op == Op::LayerNorm { 2 } else { 1 }, hidden]);
        let parameters = vec![self.parameter_vector("gamma_beta", scales)];
        self.vector(name, op, (1, rows, hidden), &["x"], parameters);
    }

    fn residual(&mut self, name: &'static str, rows: u64, hidden: u64) {
        self.vector(name, Op::Add, (1, rows, hidden), &["x", "residual"], vec![]);
    }

    /// Multi-head (or grouped-query) attention over `instances` independent sequences.
    fn attention(&mut self, shape: AttentionShape, fused: bool) {
        let AttentionShape {
            instances,
            tokens,
            heads,
            kv_heads,
            head_dim,
        } = shape;
        let batch = self.product(&[instances, heads]);
        let q_elements = self.product(&[batch, tokens, head_dim]);
        let kv_elements = self.product(&[instances, kv_heads, tokens, head_dim]);
        let q = self.activation("q", q_elements, Direction::Read);
        let k = self.activation("k", kv_elements, Direction::Read);
        let v = self.activation("v", kv_elements, Direction::Read);
        let context = self.activation("context", q_elements, Direction::Write);
        let scores_macs = self.product(&[batch, tokens, tokens, head_dim]);
        let score_elements = self.product(&[batch, tokens, tokens]);
        let softmax_flops = self.product(&[Op::Softmax.flops_per_element(), score_elements]);
        let compute_precision = self.precision.activations;
        if fused {
            let fused_macs = self.product(&[2, scores_macs]);
            self.kernels.push(Kernel {
                encoder: self.encoder,
                layer: self.layer,
                name: "attention",
                op: Op::FusedAttention,
                m: tokens,
                n: tokens,
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
            name: "scores",
            op: Op::Gemm,
            m: tokens,
            n: tokens,
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
            "softmax",
            Op::Softmax,
            (batch, tokens, tokens),
            &["scores"],
            vec![],
        );
        let probabilities = self.activation("probs", score_elements, Direction::Read);
        self.kernels.push(Kernel {
            encoder: self.encoder,
            layer: self.layer,
            name: "context",
            op: Op::Gemm,
            m: tokens,
            n: head_dim,
            k: tokens,
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
struct AttentionShape {
    instances: u64,
    tokens: u64,
    heads: u64,
    kv_heads: u64,
    head_dim: u64,
}

/// A lone GEMM `y[m × n] = x[m × k] · W[k × n]` at `precision`, for comparing array models;
/// refused when a count of it exceeds [`MAX_COUNT`].
pub fn single_gemm(
    m: u64,
    n: u64,
    k: u64,
    precision: PrecisionPair,
) -> Result<Kernel, WorkloadError> {
    let mut builder = Builder::new(precision);
    builder.linear(
        "gemm",
        KernelClass::Projection,
        (m, k, n),
        false,
        Epilogue::None,
    );
    if builder.too_large {
        return Err(WorkloadError::Invalid {
            option: "--gemm",
            rule: format!("{m}x{n}x{k} has a count above 2^56"),
        });
    }
    Ok(builder.kernels.remove(0))
}

/// Valid ranges of the workload options (documented in the README).
pub mod limits {
    use std::ops::RangeInclusive;
    pub const CAMERAS: RangeInclusive<u64> = 1..=1024;
    pub const BATCH: RangeInclusive<u64> = 1..=65_536;
    pub const TOKENS: RangeInclusive<u64> = 0..=1 << 20;
}

/// Lists every kernel of one forward pass of the model's encoders, in execution order.
pub fn build_workload(
    model: &ModelSpec,
    options: &WorkloadOptions,
) -> Result<Workload, WorkloadError> {
    let invalid = |option, rule: String| Err(WorkloadError::Invalid { option, rule });
    for (option, value, range) in [
        ("--cameras", options.cameras, limits::CAMERAS),
        ("--batch", options.batch, limits::BATCH),
        ("--language-tokens", options.language_tokens, limits::TOKENS),
        ("--state-tokens", options.state_tokens, limits::TOKENS),
    ] {
        if !range.contains(&value) {
            return invalid(
                option,
                format!(
                    "must be between {} and {}, found {value}",
                    range.start(),
                    range.end()
                ),
            );
        }
    }
    if let Some(vision) = &model.vision
        && !(1..=vision.num_layers).contains(&options.vision_layers)
    {
        return invalid(
            "--vision-layers",
            format!(
                "must be between 1 and the model's {} layers",
                vision.num_layers
            ),
        );
    }
    if let Some(text) = &model.text
        && !(1..=text.num_layers).contains(&options.text_layers)
    {
        return invalid(
            "--text-layers",
            format!(
                "must be between 1 and the model's {} layers",
                text.num_layers
            ),
        );
    }
    let mut builder = Builder::new(options.precision);
    let images = builder.product(&[options.cameras, options.batch]);
    if let Some(vision) = &model.vision {
        vision_encoder(&mut builder, vision, images, options);
    }
    let mut visual_tokens = 0;
    if let (Some(vision), Some(connector)) = (&model.vision, &model.connector) {
        builder.encoder = Encoder::Connector;
        builder.layer = None;
        let tokens_out = builder.product(&[connector.tokens_out, images]);
        builder.vector(
            "pixel_shuffle",
            Op::PixelShuffle,
            (1, tokens_out, connector.in_features),
            &["x"],
            vec![],
        );
        builder.linear(
            "proj",
            KernelClass::Projection,
            (tokens_out, connector.in_features, connector.out_features),
            false,
            Epilogue::None,
        );
        debug_assert_eq!(
            vision.num_patches(),
            connector.tokens_out * connector.scale_factor.pow(2)
        );
        visual_tokens = builder.product(&[connector.tokens_out, options.cameras]);
    }
    let text_tokens = visual_tokens + options.language_tokens + options.state_tokens;
    if let Some(text) = &model.text {
        if text_tokens == 0 {
            return invalid(
                "--language-tokens",
                "the text encoder needs at least one token".into(),
            );
        }
        text_encoder(&mut builder, text, text_tokens, options);
    }
    if builder.too_large {
        return invalid(
            "--batch",
            "the workload has a count above 2^56 (elements, MACs or operations of one \
             kernel); lower --batch, --cameras or the token counts, or use a smaller model"
                .into(),
        );
    }
    Workload {
        options: options.clone(),
        text_tokens,
        image_tokens: visual_tokens,
        kernels: builder.kernels,
    }
    .select(&options.kernels, "--kernels")
}

fn vision_encoder(
    builder: &mut Builder,
    vision: &VisionSpec,
    images: u64,
    options: &WorkloadOptions,
) {
    let hidden = vision.hidden_size;
    let rows = builder.product(&[vision.tokens(), images]);
    let patch_features =
        builder.product(&[vision.num_channels, vision.patch_size, vision.patch_size]);
    let patches = builder.product(&[vision.num_patches(), images]);
    let positions = builder.product(&[vision.tokens(), hidden]);
    builder.encoder = Encoder::Vision;
    builder.layer = None;
    builder.linear(
        "patch_embed",
        KernelClass::Projection,
        (patches, patch_features, hidden),
        true,
        Epilogue::None,
    );
    let mut position_parameters = vec![builder.weight("positions", positions)];
    if vision.class_token {
        position_parameters.push(builder.weight("class_token", hidden));
    }
    builder.vector(
        "pos_add",
        Op::Add,
        (1, rows, hidden),
        &["x"],
        position_parameters,
    );
    for layer in 0..options.vision_layers {
        builder.layer = Some(layer);
        builder.layer_norm("ln1", Op::LayerNorm, rows, hidden);
        if options.fusion.qkv {
            let qkv_width = builder.product(&[3, hidden]);
            builder.linear(
                "qkv_proj",
                KernelClass::Projection,
                (rows, hidden, qkv_width),
                true,
                Epilogue::None,
            );
        } else {
            for name in ["q_proj", "k_proj", "v_proj"] {
                builder.linear(
                    name,
                    KernelClass::Projection,
                    (rows, hidden, hidden),
                    true,
                    Epilogue::None,
                );
            }
        }
        builder.attention(
            AttentionShape {
                instances: images,
                tokens: vision.tokens(),
                heads: vision.num_heads,
                kv_heads: vision.num_heads,
                head_dim: vision.head_dim,
            },
            options.fusion.attention,
        );
        builder.linear(
            "o_proj",
            KernelClass::Projection,
            (rows, hidden, hidden),
            true,
            Epilogue::None,
        );
        builder.residual("residual1", rows, hidden);
        builder.layer_norm("ln2", Op::LayerNorm, rows, hidden);
        let ffn = vision.intermediate_size;
        if options.fusion.gemm_activation {
            builder.linear(
                "fc1_gelu",
                KernelClass::Mlp,
                (rows, hidden, ffn),
                true,
                Epilogue::Gelu,
            );
        } else {
            builder.linear(
                "fc1",
                KernelClass::Mlp,
                (rows, hidden, ffn),
                true,
                Epilogue::None,
            );
            builder.vector("gelu", Op::Gelu, (1, rows, ffn), &["x"], vec![]);
        }
        builder.linear(
            "fc2",
            KernelClass::Mlp,
            (rows, ffn, hidden),
            true,
            Epilogue::None,
        );
        builder.residual("residual2", rows, hidden);
    }
    builder.layer = None;
    builder.layer_norm("post_layernorm", Op::LayerNorm, rows, hidden);
}

fn text_encoder(builder: &mut Builder, text: &TextSpec, tokens: u64, options: &WorkloadOptions) {
    let hidden = text.hidden_size;
    let rows = builder.product(&[tokens, options.batch]);
    let q_width = builder.product(&[text.num_heads, text.head_dim]);
    let kv_width = builder.product(&[text.num_kv_heads, text.head_dim]);
    let ffn = text.intermediate_size;
    builder.encoder = Encoder::Text;
    for layer in 0..options.text_layers {
        builder.layer = Some(layer);
        builder.layer_norm("rms1", Op::RmsNorm, rows, hidden);
        let bias = text.attention_bias;
        if options.fusion.qkv {
            let width = q_width + builder.product(&[2, kv_width]);
            builder.linear(
                "qkv_proj",
                KernelClass::Projection,
                (rows, hidden, width),
                bias,
                Epilogue::None,
            );
        } else {
            builder.linear(
                "q_proj",
                KernelClass::Projection,
                (rows, hidden, q_width),
                bias,
                Epilogue::None,
            );
            builder.linear(
                "k_proj",
                KernelClass::Projection,
                (rows, hidden, kv_width),
                bias,
                Epilogue::None,
            );
            builder.linear(
                "v_proj",
                KernelClass::Projection,
                (rows, hidden, kv_width),
                bias,
                Epilogue::None,
            );
        }
        builder.vector(
            "rope",
            Op::Rope,
            (1, rows, q_width + kv_width),
            &["qk"],
            vec![],
        );
        builder.attention(
            AttentionShape {
                instances: options.batch,
                tokens,
                heads: text.num_heads,
                kv_heads: text.num_kv_heads,
                head_dim: text.head_dim,
            },
            options.fusion.attention,
        );
        builder.linear(
            "o_proj",
            KernelClass::Projection,
            (rows, q_width, hidden),
            bias,
            Epilogue::None,
        );
        builder.residual("residual1", rows, hidden);
        builder.layer_norm("rms2", Op::RmsNorm, rows, hidden);
        let bias = text.mlp_bias;
        if options.fusion.gemm_activation {
            builder.linear(
                "gate_silu",
                KernelClass::Mlp,
                (rows, hidden, ffn),
                bias,
                Epilogue::Silu,
            );
            builder.linear(
                "up_mul",
                KernelClass::Mlp,
                (rows, hidden, ffn),
                bias,
                Epilogue::MultiplyByGate,
            );
        } else {
            builder.linear(
                "gate_proj",
                KernelClass::Mlp,
                (rows, hidden, ffn),
                bias,
                Epilogue::None,
            );
            builder.linear(
                "up_proj",
                KernelClass::Mlp,
                (rows, hidden, ffn),
                bias,
                Epilogue::None,
            );
            builder.vector(
                "silu_mul",
                Op::SiluMul,
                (1, rows, ffn),
                &["gate", "up"],
                vec![],
            );
        }
        builder.linear(
            "down_proj",
            KernelClass::Mlp,
            (rows, ffn, hidden),
            bias,
            Epilogue::None,
        );
        builder.residual("residual2", rows, hidden);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::{default_model, default_policy};
    use crate::config::precision::Precision;
    use crate::workload::Fusion;

    fn options(cameras: u64, batch: u64, fusion: Fusion) -> WorkloadOptions {
        let policy = default_policy();
        WorkloadOptions {
            policy: None,
            cameras,
            language_tokens: policy.language_tokens,
            state_tokens: policy.state_tokens,
            batch,
            text_layers: policy.num_vlm_layers,
            vision_layers: 12,
            kernels: Vec::new(),
            precision: PrecisionPair::uniform(Precision::Int8),
            fusion,
        }
    }

    fn smolvla(cameras: u64, batch: u64, fusion: Fusion) -> Workload {
        build_workload(&default_model(), &options(cameras, batch, fusion)).unwrap()
    }

    #[test]
    fn parameter_counts_match_the_reference() {
        let workload = smolvla(3, 1, Fusion::default());
        assert_eq!(workload.parameters(Encoder::Vision), 86_433_024);
        assert_eq!(workload.parameters(Encoder::Connector), 11_796_480);
        assert_eq!(workload.parameters(Encoder::Text), 16 * 9_832_320);
    }

    #[test]
    fn parameters_do_not_depend_on_fusion_or_batch() {
        let all = Fusion {
            gemm_activation: true,
            qkv: true,
            attention: true,
        };
        let fused = smolvla(2, 4, all);
        for encoder in Encoder::ALL {
            assert_eq!(
                fused.parameters(encoder),
                smolvla(3, 1, Fusion::default()).parameters(encoder)
            );
        }
    }

    #[test]
    fn vision_macs_per_image_include_the_patch_embedding() {
        let workload = smolvla(1, 1, Fusion::default());
        let macs: u64 = workload
            .encoder_kernels(Encoder::Vision)
            .map(|k| k.macs)
            .sum();
        assert_eq!(macs, 106_904_420_352);
        let patch = &workload.kernels[0];
        assert_eq!(
            (patch.name, patch.m, patch.k, patch.n),
            ("patch_embed", 1024, 768, 768)
        );
    }

    #[test]
    fn default_prefix_is_241_tokens() {
        let workload = smolvla(3, 1, Fusion::default());
        assert_eq!(workload.text_tokens, 241);
        let q = workload
            .encoder_kernels(Encoder::Text)
            .find(|kernel| kernel.name == "k_proj")
            .unwrap();
        assert_eq!((q.m, q.k, q.n), (241, 960, 320));
    }

    #[test]
    fn connector_projects_64_tokens_per_image() {
        let workload = smolvla(3, 1, Fusion::default());
        let proj = workload
            .encoder_kernels(Encoder::Connector)
            .find(|kernel| kernel.name == "proj")
            .unwrap();
        assert_eq!((proj.m, proj.k, proj.n), (192, 12288, 960));
    }

    #[test]
    fn gqa_reads_each_kv_head_once() {
        let workload = smolvla(3, 1, Fusion::default());
        let scores = workload
            .encoder_kernels(Encoder::Text)
            .find(|kernel| kernel.name == "scores")
            .unwrap();
        assert_eq!(scores.batch, 15);
        let k = scores.operands.iter().find(|o| o.name == "k").unwrap();
        assert_eq!(k.elements, 5 * 241 * 64);
    }

    #[test]
    fn fusion_conserves_macs_and_removes_intermediate_traffic() {
        let plain = smolvla(3, 1, Fusion::default());
        let fused = smolvla(
            3,
            1,
            Fusion {
                gemm_activation: true,
                qkv: true,
                attention: true,
            },
        );
        let total = |w: &Workload, f: fn(&Kernel) -> u64| w.kernels.iter().map(f).sum::<u64>();
        assert_eq!(total(&plain, |k| k.macs), total(&fused, |k| k.macs));
        assert_eq!(total(&plain, Kernel::flops), total(&fused, Kernel::flops));
        assert!(total(&fused, Kernel::bytes) < total(&plain, Kernel::bytes));
        assert!(fused.kernels.len() < plain.kernels.len());
    }

    #[test]
    fn int4_packs_two_elements_per_byte() {
        let mut opts = options(1, 1, Fusion::default());
        opts.precision = PrecisionPair::uniform(Precision::Int4);
        let workload = build_workload(&default_model(), &opts).unwrap();
        let patch = &workload.kernels[0];
        let weights = patch.operands.iter().find(|o| o.name == "w").unwrap();
        assert_eq!(weights.bytes(), 768 * 768 / 2);
    }

    #[test]
    fn zero_cameras_and_too_many_layers_are_rejected() {
        let error = build_workload(&default_model(), &options(0, 1, Fusion::default()));
        assert!(matches!(
            error,
            Err(WorkloadError::Invalid {
                option: "--cameras",
                ..
            })
        ));
        let mut opts = options(3, 1, Fusion::default());
        opts.text_layers = 33;
        let error = build_workload(&default_model(), &opts);
        assert!(matches!(
            error,
            Err(WorkloadError::Invalid {
                option: "--text-layers",
                ..
            })
        ));
    }
}
