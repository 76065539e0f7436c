//! Decoding with a key/value cache (Llama-style, Qwen2 and GPT-2 text models): after the prefix,
//! each generated token runs every layer at M = 1 (matrix-vector products), attends to the
//! cache of all earlier tokens plus itself, and leaves through the LM head. Its K and V
//! projections' outputs are the one row it appends to the cache. The first generated token
//! comes from the prefill's last position: a final norm and the LM head over that row. A
//! token-serial prefill takes the prompt the same way, a token at a time.

use super::build::text_layer;
use super::builder::{AttentionShape, Builder, Epilogue};
use super::embeddings::learned_positions;
use super::{Encoder, KernelClass, Op, Pipeline, WorkloadError, WorkloadOptions};
use crate::config::model::{ModelSpec, TextFamily, TextSpec};

/// The most decode steps times text layers one run lists: each is about 15 kernels, so this
/// bounds a decode workload to ~125,000 kernels; measured, 16,384 layer steps (LLaMA2-7B,
/// 512 tokens) peaked at 245 MB, so this limit keeps a run near half the 256 MB budget.
pub(super) const MAX_DECODE_LAYER_STEPS: u64 = 8_192;

pub(super) fn decode(
    builder: &mut Builder,
    text: &TextSpec,
    prefix_tokens: u64,
    options: &WorkloadOptions,
) {
    builder.encoder = Encoder::Decode;
    builder.layer = None;
    builder.step = None;
    head(builder, text, options.batch);
    for token in 0..options.decode_tokens {
        // The cache holds the prefix and the tokens generated so far; the new token's own
        // K and V join it before attention.
        token_step(builder, text, (token, prefix_tokens + token + 1), options);
        builder.layer = None;
        head(builder, text, options.batch);
    }
    builder.step = None;
}

/// The prompt's `tokens` taken one after another (`--prefill token-serial`): token t runs
/// every text layer at one row per sequence, attending to the t tokens before it and
/// itself, as a generated token does without the LM head.
pub(super) fn token_serial_prefill(
    builder: &mut Builder,
    text: &TextSpec,
    tokens: u64,
    options: &WorkloadOptions,
) {
    builder.encoder = Encoder::Text;
    for token in 0..tokens {
        token_step(builder, text, (token, token + 1), options);
    }
    builder.layer = None;
    builder.step = None;
}

/// One token through every text layer, step `step`, attending to `keys` cached tokens (its
/// own included): its position, then each layer at one row per sequence.
fn token_step(
    builder: &mut Builder,
    text: &TextSpec,
    (step, keys): (u64, u64),
    options: &WorkloadOptions,
) {
    let rows = options.batch;
    builder.step = Some(step);
    builder.layer = None;
    learned_positions(builder, text, rows);
    for layer in 0..options.text_layers {
        builder.layer = Some(layer);
        let shape = AttentionShape {
            instances: options.batch,
            queries: 1,
            keys,
            heads: text.num_heads,
            kv_heads: text.num_kv_heads,
            head_dim: text.head_dim,
            cross: false,
        };
        text_layer(builder, text, rows, shape, options);
    }
}

/// Refuses more tokens taken one at a time (prompt tokens of a token-serial prefill and
/// generated ones) than one run lists: `tokens` × text layers layer steps.
pub(super) fn layer_steps(
    option: &'static str,
    tokens: u64,
    options: &WorkloadOptions,
) -> Result<(), WorkloadError> {
    let steps = tokens.saturating_mul(options.text_layers);
    if steps > MAX_DECODE_LAYER_STEPS {
        return Err(WorkloadError::Invalid {
            option,
            rule: format!(
                "{tokens} tokens one at a time x {} text layers = {steps} layer steps, more \
                 than the {} one run lists; take fewer tokens (the per-token cost grows \
                 smoothly with the cache: a few hundred tokens tell the trend)",
                options.text_layers, MAX_DECODE_LAYER_STEPS
            ),
        });
    }
    Ok(())
}

/// A token-serial prefill runs a decoder's text layers alone: no vision tower (image
/// tokens come from it all at once), no action expert, no encoder-only model.
pub(super) fn token_serial_checks(
    model: &ModelSpec,
    text: &TextSpec,
    tokens: u64,
    options: &WorkloadOptions,
) -> Result<(), WorkloadError> {
    let refuse = |rule: &str| {
        Err(WorkloadError::Invalid {
            option: "--prefill",
            rule: format!("token-serial {rule}"),
        })
    };
    if model.vision.is_some() {
        return refuse("takes a text model's prompt; this model has a vision tower");
    }
    if options.pipeline == Pipeline::Full {
        return refuse("does not apply to the whole robot step (--pipeline full)");
    }
    if text.family == TextFamily::Bert {
        return refuse("needs a decoder's text layers (BERT's attention looks both ways)");
    }
    layer_steps("--prefill", tokens, options)
}

/// The final norm and the LM head over one row per sequence: the next token's logits.
fn head(builder: &mut Builder, text: &TextSpec, rows: u64) {
    match text.family {
        TextFamily::Gpt2 => builder.layer_norm("ln_f", Op::LayerNorm, rows, text.hidden_size),
        _ => builder.layer_norm("norm", Op::RmsNorm, rows, text.hidden_size),
    }
    builder.linear(
        "lm_head",
        KernelClass::Projection,
        (rows, text.hidden_size, text.vocab_size),
        false,
        Epilogue::None,
    );
}

#[cfg(test)]
mod tests {
    use super::super::{
        Encoder, Fusion, Kernel, Prefill, Workload, WorkloadChoices, WorkloadOptions,
        build_workload,
    };
    use crate::config::Source;
    use crate::config::model::{ModelSpec, load_model};
    use crate::config::precision::{Precision, PrecisionPair};

    const LLAMA_2_7B: &str = include_str!("../../configs/models/llama-2-7b.config.json");

    /// Llama-2-7B with a `prefix`-token prompt, decoding `tokens` tokens, weights at
    /// `weights` and activations at INT8, nothing fused.
    fn llama_model() -> ModelSpec {
        load_model(&Source::built_in("llama-2-7b.json", LLAMA_2_7B)).unwrap()
    }

    fn llama(prefix: u64, tokens: u64, weights: Precision) -> Workload {
        let model = llama_model();
        let choices = WorkloadChoices {
            language_tokens: Some(prefix),
            state_tokens: Some(0),
            batch: 1,
            decode_tokens: tokens,
            fusion: Fusion::default(),
            ..WorkloadChoices::default()
        };
        let precision = PrecisionPair::split(weights, Precision::Int8);
        build_workload(&model, &choices.options(&model, None, precision).unwrap()).unwrap()
    }

    fn token(workload: &Workload, step: u64) -> Vec<&Kernel> {
        workload
            .encoder_kernels(Encoder::Decode)
            .filter(|k| k.step == Some(step))
            .collect()
    }

    /// One generated token of Llama-2-7B (h = 4096, 32 heads of 128, no GQA, MLP 11,008,
    /// 32 layers, vocabulary 32,000) at cache length c (its own row included): per layer
    /// Q, K, V, O 4·h², MLP 3·h·11008, attention 2·32·c·128; then the LM head h·32000.
    /// Its bytes are the weights (W4: half a byte each; norm scales at 32 bits), the cache
    /// read (K and V: 2 · 32 layers · c · 4096 bytes at INT8) and the new row written by the
    /// K and V projections (2 · 32 · 4096), plus the one-row activations between kernels.
    #[test]
    fn a_decoded_token_costs_the_weights_the_cache_read_and_one_row_written() {
        let (prefix, h, layers) = (127u64, 4096u64, 32u64);
        let workload = llama(prefix, 3, Precision::Int4);
        for step in 0..3 {
            let kernels = token(&workload, step);
            let cache = prefix + step + 1;
            let per_layer = 4 * h * h + 3 * h * 11008 + 2 * 32 * cache * 128;
            let macs: u64 = kernels.iter().map(|k| k.macs).sum();
            assert_eq!(macs, layers * per_layer + h * 32000, "token {step}");
            // Weights read once per token: 4-bit matrices, 32-bit norm scales.
            let weight_elements = layers * (4 * h * h + 3 * h * 11008) + h * 32000;
            let norm_scales = (2 * layers + 1) * h;
            let parameter_bytes: u64 = kernels
                .iter()
                .flat_map(|k| &k.operands)
                .filter(|o| o.is_parameter)
                .map(|o| o.bytes())
                .sum();
            assert_eq!(parameter_bytes, weight_elements / 2 + norm_scales * 4);
            let operand = |kernel: &str, name: &str| -> u64 {
                kernels
                    .iter()
                    .filter(|k| k.name == kernel)
                    .flat_map(|k| &k.operands)
                    .filter(|o| o.name == name)
                    .map(|o| o.bytes())
                    .sum()
            };
            // The whole cache read, K by the scores and V by the context.
            assert_eq!(
                operand("scores", "k") + operand("context", "v"),
                2 * layers * cache * h
            );
            // One row appended per layer, K and V.
            assert_eq!(
                operand("k_proj", "y") + operand("v_proj", "y"),
                2 * layers * h
            );
        }
    }

    /// An FP16 cache beside INT8 activations (`int4/int8/fp16`, as FlightLLM keeps it):
    /// a token's attention reads every cached K and V at 2 bytes (twice the INT8 cache's
    /// bytes) and computes at FP16; nothing else moves (the weights' GEMMs, the row the K
    /// and V projections append). Catches a cache precision that never reaches the
    /// attention's reads, or one that leaks into other operands.
    #[test]
    fn the_cache_is_read_at_its_own_precision() {
        let int8 = llama(127, 2, Precision::Int4);
        let mut precision = int8.options.precision;
        precision.kv_cache = Precision::Fp16;
        let fp16 = build_workload(
            &llama_model(),
            &WorkloadOptions {
                precision,
                ..int8.options.clone()
            },
        )
        .unwrap();
        assert_eq!(int8.kernels.len(), fp16.kernels.len());
        for (narrow, wide) in int8.kernels.iter().zip(&fp16.kernels) {
            let attention = matches!(narrow.name, "scores" | "context");
            for (a, b) in narrow.operands.iter().zip(&wide.operands) {
                let cached = attention && matches!(a.name, "k" | "v");
                assert_eq!(
                    b.bytes(),
                    if cached { 2 * a.bytes() } else { a.bytes() },
                    "{} {}",
                    narrow.name,
                    a.name
                );
            }
            let expected = if attention {
                Precision::Fp16
            } else {
                narrow.compute_precision
            };
            assert_eq!(wide.compute_precision, expected, "{}", narrow.name);
        }
        let cache = |workload: &Workload| -> u64 {
            token(workload, 1)
                .iter()
                .flat_map(|k| &k.operands)
                .filter(|o| matches!(o.name, "k" | "v"))
                .map(|o| o.bytes())
                .sum()
        };
        assert_eq!(cache(&fp16), 2 * 32 * 129 * 4096 * 2);
    }

    /// A token-serial prompt of T tokens does the parallel prefill's projection and MLP
    /// work (T rows in all) and attention over the causal triangle only: token t against
    /// t + 1 keys, Σ = T(T + 1)/2 per head where the parallel prefill computes all T²; it
    /// reads every weight once per token, and holds each once. Then decoding starts from
    /// the same cache. Catches a serial prefill with the wrong cache length, a missing
    /// layer or token, or weights counted once per token.
    #[test]
    fn a_token_serial_prompt_is_the_parallel_work_one_row_at_a_time() {
        let model = llama_model();
        let build = |prefill| {
            let choices = WorkloadChoices {
                language_tokens: Some(9),
                state_tokens: Some(0),
                batch: 1,
                text_layers: Some(2),
                decode_tokens: 2,
                fusion: Fusion::default(),
                prefill,
                ..WorkloadChoices::default()
            };
            let precision = PrecisionPair::split(Precision::Int4, Precision::Int8);
            build_workload(&model, &choices.options(&model, None, precision).unwrap()).unwrap()
        };
        let (parallel, serial) = (build(Prefill::Parallel), build(Prefill::TokenSerial));
        let macs = |workload: &Workload, attention: bool| -> u64 {
            workload
                .encoder_kernels(Encoder::Text)
                .filter(|k| matches!(k.name, "scores" | "context") == attention)
                .map(|k| k.macs)
                .sum()
        };
        let (tokens, layers, heads, head_dim) = (9u64, 2u64, 32u64, 128u64);
        assert_eq!(macs(&serial, false), macs(&parallel, false));
        assert_eq!(
            macs(&parallel, true),
            layers * 2 * heads * tokens * tokens * head_dim
        );
        let triangle = tokens * (tokens + 1) / 2;
        assert_eq!(
            macs(&serial, true),
            layers * 2 * heads * triangle * head_dim
        );
        let steps: Vec<u64> = serial
            .encoder_kernels(Encoder::Text)
            .filter(|k| k.name == "scores")
            .map(|k| k.step.unwrap() * 1000 + k.n)
            .collect();
        let expected: Vec<u64> = (0..tokens).flat_map(|t| [t * 1000 + t + 1; 2]).collect();
        assert_eq!(
            steps, expected,
            "token t, layer by layer, against t + 1 keys"
        );
        let weight_reads = |workload: &Workload| -> u64 {
            workload
                .encoder_kernels(Encoder::Text)
                .flat_map(|k| &k.operands)
                .filter(|o| o.is_parameter)
                .map(|o| o.bytes())
                .sum()
        };
        assert_eq!(weight_reads(&serial), tokens * weight_reads(&parallel));
        assert_eq!(
            serial.parameters(Encoder::Text),
            parallel.parameters(Encoder::Text)
        );
        let decoded = |workload: &Workload| token(workload, 1).iter().map(|k| k.macs).sum::<u64>();
        assert_eq!(decoded(&serial), decoded(&parallel));
    }

    /// Llama-2-7B's published 6.74 B parameters (6,738,415,616 in transformers): what one
    /// decoded token reads (every layer, the final norm, the untied LM head) plus the token
    /// embedding table, which is a lookup and no kernel's operand.
    #[test]
    fn llama_2_7b_has_its_published_parameter_count() {
        let workload = llama(127, 1, Precision::Int8);
        let read: u64 = token(&workload, 0).iter().map(|k| k.parameters()).sum();
        assert_eq!(read + 32000 * 4096, 6_738_415_616);
        // What the workload holds counts each weight once: the text layers the prefill and
        // every token read, and the LM head with its norm (the table once counted 13.3 B).
        let held = workload.parameters(Encoder::Text) + workload.parameters(Encoder::Decode);
        assert_eq!(held + 32000 * 4096, 6_738_415_616);
        let many = llama(127, 3, Precision::Int8);
        assert_eq!(
            many.parameters(Encoder::Text) + many.parameters(Encoder::Decode),
            held
        );
    }

    #[test]
    fn the_first_token_is_the_prefills_lm_head() {
        let workload = llama(127, 2, Precision::Int8);
        let first: Vec<&str> = workload
            .encoder_kernels(Encoder::Decode)
            .take_while(|k| k.step.is_none())
            .map(|k| k.name)
            .collect();
        assert_eq!(first, ["norm", "lm_head"]);
        assert_eq!(token(&workload, 1).len(), token(&workload, 0).len());
    }
}
