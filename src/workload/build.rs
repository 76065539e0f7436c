//! Lists the kernels of the vision encoder, connector and text encoder, layer by layer, and
//! in the full pipeline those of the action expert, step by step.

use super::builder::{AttentionShape, Builder, Epilogue};
use super::{Encoder, Kernel, KernelClass, Op, Pipeline, Workload, WorkloadError, WorkloadOptions};
use crate::config::model::{ModelSpec, TextSpec, VisionSpec};
use crate::config::precision::PrecisionPair;

/// A lone GEMM `y[m × n] = x[m × k] · W[k × n]` at `precision`, for comparing array models;
/// refused when a count of it exceeds [`MAX_COUNT`](super::MAX_COUNT).
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
    if options.pipeline == Pipeline::Full {
        let (Some(text), Some(expert)) = (&model.text, &options.expert) else {
            return invalid(
                "--pipeline",
                "`full` needs a vision-language model with text layers and a smolVLA policy \
                 (the action expert's shape is in it and attends to the text layers' cache)"
                    .into(),
            );
        };
        super::expert::action_expert(&mut builder, text, expert, text_tokens, options);
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
                queries: vision.tokens(),
                keys: vision.tokens(),
                heads: vision.num_heads,
                kv_heads: vision.num_heads,
                head_dim: vision.head_dim,
                cross: false,
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
    builder.encoder = Encoder::Text;
    let full = options.pipeline == Pipeline::Full;
    if let (true, Some(expert)) = (full, &options.expert) {
        // The robot state, padded to `max_state_dim`, becomes the prefix's state tokens.
        builder.layer = None;
        let states = builder.product(&[options.state_tokens, options.batch]);
        builder.linear(
            "state_proj",
            KernelClass::Projection,
            (states, expert.max_state_dim, hidden),
            true,
            Epilogue::None,
        );
    }
    for layer in 0..options.text_layers {
        builder.layer = Some(layer);
        builder.layer_norm("rms1", Op::RmsNorm, rows, hidden);
        let last = layer + 1 == options.text_layers;
        if full && last && options.switches.trim_last_text_layer {
            // The expert reads only this layer's keys and values (after RoPE).
            let width = builder.product(&[2, kv_width]);
            builder.linear(
                "kv_proj",
                KernelClass::Projection,
                (rows, hidden, width),
                text.attention_bias,
                Epilogue::None,
            );
            builder.vector("rope", Op::Rope, (1, rows, kv_width), &["k"], vec![]);
            break;
        }
        projections(builder, rows, (hidden, q_width, kv_width), text, options);
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
                queries: tokens,
                keys: tokens,
                heads: text.num_heads,
                kv_heads: text.num_kv_heads,
                head_dim: text.head_dim,
                cross: false,
            },
            options.fusion.attention,
        );
        output_and_mlp(
            builder,
            rows,
            (q_width, hidden),
            text.intermediate_size,
            text,
            options,
        );
    }
}

/// Q, K and V projections of `rows` tokens of width `hidden` (one GEMM when fused).
pub(super) fn projections(
    builder: &mut Builder,
    rows: u64,
    (hidden, q_width, kv_width): (u64, u64, u64),
    text: &TextSpec,
    options: &WorkloadOptions,
) {
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
        return;
    }
    for (name, width) in [
        ("q_proj", q_width),
        ("k_proj", kv_width),
        ("v_proj", kv_width),
    ] {
        builder.linear(
            name,
            KernelClass::Projection,
            (rows, hidden, width),
            bias,
            Epilogue::None,
        );
    }
}

/// The rest of a Llama-style layer after attention: output projection, residual, RMSNorm,
/// gated MLP of width `ffn`, residual.
pub(super) fn output_and_mlp(
    builder: &mut Builder,
    rows: u64,
    (q_width, hidden): (u64, u64),
    ffn: u64,
    text: &TextSpec,
    options: &WorkloadOptions,
) {
    builder.linear(
        "o_proj",
        KernelClass::Projection,
        (rows, q_width, hidden),
        text.attention_bias,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::{default_model, default_policy};
    use crate::config::precision::Precision;
    use crate::workload::{ExpertSwitches, Fusion};

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
            pipeline: Pipeline::Encoders,
            switches: ExpertSwitches::default(),
            expert: Some(policy.expert.clone()),
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
