//! Lists the kernels of the vision encoder, connector and text encoder, layer by layer, and
//! in the full pipeline those of the action expert, step by step.

use super::access::Access;
use super::builder::{AttentionShape, Builder, Epilogue};
use super::embeddings::{learned_positions, lookup_parameters};
use super::{
    Encoder, Kernel, KernelClass, Op, Pipeline, Prefill, Workload, WorkloadError, WorkloadOptions,
};
use crate::config::model::{ConnectorSpec, ModelSpec, TextFamily, TextSpec, VisionSpec};
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

/// Valid ranges of the workload options (documented in docs/src/commands.md).
pub mod limits {
    use std::ops::RangeInclusive;
    /// Camera images per observation.
    pub const CAMERAS: RangeInclusive<u64> = 1..=1024;
    /// Observations per batch.
    pub const BATCH: RangeInclusive<u64> = 1..=65_536;
    /// Tokens of a kind (language, state).
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
    // Stacked, the cameras' images are one batch (each weight read once); per camera, the
    // tower and connector run once per image set, as the reference code runs them.
    let (passes, images) = if options.per_camera_vision {
        (options.cameras, options.batch)
    } else {
        (1, builder.product(&[options.cameras, options.batch]))
    };
    let mut visual_tokens = 0;
    for _ in 0..passes {
        if let Some(vision) = &model.vision {
            vision_encoder(&mut builder, vision, images, options);
        }
        if let (Some(vision), Some(connector)) = (&model.vision, &model.connector) {
            connector_kernels(&mut builder, vision, connector, images);
            visual_tokens = builder.product(&[connector.tokens_out, options.cameras]);
        }
    }
    let text_tokens = visual_tokens + options.language_tokens + options.state_tokens;
    if let Some(text) = &model.text {
        if text_tokens == 0 {
            return invalid(
                "--language-tokens",
                "the text encoder needs at least one token".into(),
            );
        }
        if options.prefill == Prefill::TokenSerial {
            super::decode::token_serial_checks(model, text, text_tokens, options)?;
            super::decode::token_serial_prefill(&mut builder, text, text_tokens, options);
        } else {
            text_encoder(&mut builder, text, text_tokens, options);
        }
    }
    if options.decode_tokens > 0 {
        let Some(text) = model.text.as_ref().filter(|t| t.family != TextFamily::Bert) else {
            return invalid(
                "--decode",
                "needs a decoder's text layers (Llama, Qwen2, GPT-2; BERT is encoder-only)".into(),
            );
        };
        let serial_tokens = if options.prefill == Prefill::TokenSerial {
            text_tokens
        } else {
            0
        };
        super::decode::layer_steps("--decode", serial_tokens + options.decode_tokens, options)?;
        super::decode::decode(&mut builder, text, text_tokens, options);
    }
    if options.pipeline == Pipeline::Full {
        let llama = model
            .text
            .as_ref()
            .filter(|t| t.family == TextFamily::Llama);
        let (Some(text), Some(expert)) = (llama, &options.expert) else {
            return invalid(
                "--pipeline",
                "`full` needs a vision-language model with Llama-style text layers and a \
                 smolVLA policy (the action expert's shape is in it and attends to the text \
                 layers' cache)"
                    .into(),
            );
        };
        // The reference's int() rounds a tiny multiplier to a width of nothing.
        if expert.intermediate_size(text.hidden_size) == 0 {
            return invalid(
                "--policy",
                format!(
                    "{}: field `expert_width_multiplier`: {} makes the expert {} wide and its \
                     MLP empty (int({} x {}))",
                    options.policy.as_deref().unwrap_or("the policy"),
                    expert.width_multiplier,
                    expert.hidden_size(text.hidden_size),
                    text.hidden_size,
                    expert.width_multiplier
                ),
            );
        }
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
    super::access::assign_storage(&mut builder.kernels);
    Workload {
        options: options.clone(),
        text_tokens,
        image_tokens: visual_tokens,
        lookup_parameters: model.text.as_ref().map_or(0, lookup_parameters),
        kernels: builder.kernels,
    }
    .select(&options.kernels, "--kernels")
}

/// The connector of `images` images: pixel shuffle, then the projection to the text width.
fn connector_kernels(
    builder: &mut Builder,
    vision: &VisionSpec,
    connector: &ConnectorSpec,
    images: u64,
) {
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
    // The heads' width: the hidden size in every vision tower shipped, smaller on a board of a
    // tensor-parallel system (its share of the heads).
    let heads_width = builder.product(&[vision.num_heads, vision.head_dim]);
    for layer in 0..options.vision_layers {
        builder.layer = Some(layer);
        builder.layer_norm("ln1", Op::LayerNorm, rows, hidden);
        if options.fusion.qkv {
            let qkv_width = builder.product(&[3, heads_width]);
            builder.linear(
                "qkv_proj",
                KernelClass::Projection,
                (rows, hidden, qkv_width),
                true,
                Epilogue::None,
            );
        } else {
            let input = builder.kernels.len().checked_sub(1);
            for name in ["q_proj", "k_proj", "v_proj"] {
                builder.linear(
                    name,
                    KernelClass::Projection,
                    (rows, hidden, heads_width),
                    true,
                    Epilogue::None,
                );
                builder.read_from("x", input);
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
            (rows, heads_width, hidden),
            true,
            Epilogue::None,
        );
        let input = builder.layer_input();
        builder.residual("residual1", rows, hidden, input);
        builder.layer_norm("ln2", Op::LayerNorm, rows, hidden);
        gelu_mlp(builder, rows, hidden, vision.intermediate_size, options);
        let residual1 = builder.find(&["residual1"]);
        builder.residual("residual2", rows, hidden, residual1);
    }
    builder.layer = None;
    builder.layer_norm("post_layernorm", Op::LayerNorm, rows, hidden);
}

fn text_encoder(builder: &mut Builder, text: &TextSpec, tokens: u64, options: &WorkloadOptions) {
    let hidden = text.hidden_size;
    let rows = builder.product(&[tokens, options.batch]);
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
    builder.layer = None;
    learned_positions(builder, text, rows);
    for layer in 0..options.text_layers {
        builder.layer = Some(layer);
        let last = layer + 1 == options.text_layers;
        if full && last && options.switches.trim_last_text_layer {
            // The expert reads only this layer's keys and values (after RoPE).
            builder.layer_norm("rms1", Op::RmsNorm, rows, hidden);
            let width = builder.product(&[2, kv_width]);
            builder.linear(
                "kv_proj",
                KernelClass::Projection,
                (rows, hidden, width),
                text.attention_bias,
                Epilogue::None,
            );
            builder.vector("rope", Op::Rope, (1, rows, kv_width), &["k"], vec![]);
            let rope = builder.kernels.len() - 1;
            builder.set_access(rope, "k", Access::columns(1, rows, (0, kv_width), 0));
            break;
        }
        text_layer(
            builder,
            text,
            rows,
            AttentionShape {
                instances: options.batch,
                queries: tokens,
                keys: tokens,
                heads: text.num_heads,
                kv_heads: text.num_kv_heads,
                head_dim: text.head_dim,
                cross: false,
            },
            options,
        );
    }
}

/// One text layer of `rows` tokens whose attention has `shape` (prefill: the tokens attend
/// to each other; decode: one query per sequence against the cache), as its family builds it.
pub(super) fn text_layer(
    builder: &mut Builder,
    text: &TextSpec,
    rows: u64,
    shape: AttentionShape,
    options: &WorkloadOptions,
) {
    let hidden = text.hidden_size;
    let q_width = builder.product(&[text.num_heads, text.head_dim]);
    let kv_width = builder.product(&[text.num_kv_heads, text.head_dim]);
    let attention = |builder: &mut Builder| {
        projections(builder, rows, (hidden, q_width, kv_width), text, options);
        if text.family == TextFamily::Llama {
            rope(builder, rows, (q_width, kv_width));
        }
        builder.attention(shape, options.fusion.attention);
    };
    match text.family {
        TextFamily::Llama => {
            builder.layer_norm("rms1", Op::RmsNorm, rows, hidden);
            attention(builder);
            output_and_mlp(
                builder,
                rows,
                (q_width, hidden),
                text.intermediate_size,
                text,
                options,
            );
        }
        TextFamily::Gpt2 => {
            builder.layer_norm("ln1", Op::LayerNorm, rows, hidden);
            attention(builder);
            output_projection(builder, rows, (q_width, hidden), text);
            builder.layer_norm("ln2", Op::LayerNorm, rows, hidden);
            gelu_mlp(builder, rows, hidden, text.intermediate_size, options);
            let residual1 = builder.find(&["residual1"]);
            builder.residual("residual2", rows, hidden, residual1);
        }
        TextFamily::Bert => {
            // Post-LayerNorm: each residual adds the sublayer's input, the norm follows.
            attention(builder);
            output_projection(builder, rows, (q_width, hidden), text);
            builder.layer_norm("ln1", Op::LayerNorm, rows, hidden);
            gelu_mlp(builder, rows, hidden, text.intermediate_size, options);
            let ln1 = builder.find(&["ln1"]);
            builder.residual("residual2", rows, hidden, ln1);
            builder.layer_norm("ln2", Op::LayerNorm, rows, hidden);
        }
    }
}

/// The attention's output projection back to the model width, and the first residual.
fn output_projection(
    builder: &mut Builder,
    rows: u64,
    (q_width, hidden): (u64, u64),
    text: &TextSpec,
) {
    builder.linear(
        "o_proj",
        KernelClass::Projection,
        (rows, q_width, hidden),
        text.output_bias,
        Epilogue::None,
    );
    let input = builder.layer_input();
    builder.residual("residual1", rows, hidden, input);
}

/// A GELU MLP with biases: `fc2(gelu(fc1(x)))`, the activation in FC1's epilogue when fused.
fn gelu_mlp(builder: &mut Builder, rows: u64, hidden: u64, ffn: u64, options: &WorkloadOptions) {
    builder.activated_linear(
        ["fc1_gelu", "fc1"],
        KernelClass::Mlp,
        (rows, hidden, ffn),
        true,
        (Op::Gelu, options.fusion.gemm_activation),
    );
    builder.linear(
        "fc2",
        KernelClass::Mlp,
        (rows, ffn, hidden),
        true,
        Epilogue::None,
    );
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
    let input = builder.kernels.len().checked_sub(1);
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
        builder.read_from("x", input);
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
    output_projection(builder, rows, (q_width, hidden), text);
    builder.layer_norm("rms2", Op::RmsNorm, rows, hidden);
    let bias = text.mlp_bias;
    let input = builder.kernels.len().checked_sub(1);
    if options.fusion.gemm_activation {
        builder.linear(
            "gate_silu",
            KernelClass::Mlp,
            (rows, hidden, ffn),
            bias,
            Epilogue::Silu,
        );
        let gate = builder.find(&["gate_silu"]);
        builder.linear(
            "up_mul",
            KernelClass::Mlp,
            (rows, hidden, ffn),
            bias,
            Epilogue::MultiplyByGate,
        );
        builder.read_from("x", input);
        builder.read_from("gate", gate);
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
        builder.read_from("x", input);
        builder.vector(
            "silu_mul",
            Op::SiluMul,
            (1, rows, ffn),
            &["gate", "up"],
            vec![],
        );
        let (gate, up) = (builder.find(&["gate_proj"]), builder.find(&["up_proj"]));
        builder.read_from("gate", gate);
        builder.read_from("up", up);
    }
    builder.linear(
        "down_proj",
        KernelClass::Mlp,
        (rows, ffn, hidden),
        bias,
        Epilogue::None,
    );
    let residual1 = builder.find(&["residual1"]);
    builder.residual("residual2", rows, hidden, residual1);
}

/// RoPE over the layer's Q and K columns, which its projections wrote.
pub(super) fn rope(builder: &mut Builder, rows: u64, (q_width, kv_width): (u64, u64)) {
    let access = builder.query_key_pieces(rows, (q_width, kv_width));
    builder.vector(
        "rope",
        Op::Rope,
        (1, rows, q_width + kv_width),
        &["qk"],
        vec![],
    );
    builder.set_access(builder.kernels.len() - 1, "qk", access);
}
