//! Decoding with a key/value cache (Llama-style, Qwen2 and GPT-2 text models): after the prefix,
//! each generated token runs every layer at M = 1 (matrix-vector products), attends to the
//! cache of all earlier tokens plus itself, and leaves through the LM head. Its K and V
//! projections' outputs are the one row it appends to the cache. The first generated token
//! comes from the prefill's last position: a final norm and the LM head over that row.

use super::build::text_layer;
use super::builder::{AttentionShape, Builder, Epilogue};
use super::embeddings::learned_positions;
use super::{Encoder, KernelClass, Op, WorkloadOptions};
use crate::config::model::{TextFamily, TextSpec};

/// The most decode steps times text layers one run lists: each is about 15 kernels, so this
/// bounds a decode workload to ~125,000 kernels; measured, 16,384 layer steps (LLaMA2-7B,
/// 512 tokens) peaked at 245 MB, so this limit keeps a run near half the 256 MB budget.
pub const MAX_DECODE_LAYER_STEPS: u64 = 8_192;

pub(super) fn decode(
    builder: &mut Builder,
    text: &TextSpec,
    prefix_tokens: u64,
    options: &WorkloadOptions,
) {
    let rows = options.batch;
    builder.encoder = Encoder::Decode;
    builder.layer = None;
    builder.step = None;
    head(builder, text, rows);
    for token in 0..options.decode_tokens {
        builder.step = Some(token);
        builder.layer = None;
        learned_positions(builder, text, rows);
        // The cache holds the prefix and the tokens generated so far; the new token's own
        // K and V join it before attention.
        let keys = prefix_tokens + token + 1;
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
        builder.layer = None;
        head(builder, text, rows);
    }
    builder.step = None;
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
        Encoder, Fusion, Kernel, Workload, WorkloadChoices, WorkloadOptions, build_workload,
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
