//! Text model configs (Hugging Face `config.json`): Llama, Qwen2, GPT-2 and BERT stacks,
//! their fields and the defaults of each transformers config class.

use super::ConfigError;
use super::model::{Activation, activation, layers, positive};
use serde::Deserialize;

/// How a text model's layers are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum TextFamily {
    /// Llama, Qwen2, SmolLM2: pre-RMSNorm, RoPE, gated SiLU MLP.
    Llama,
    /// GPT-2: learned positions, pre-LayerNorm, GELU MLP, biases everywhere, a final
    /// LayerNorm.
    Gpt2,
    /// BERT: learned positions and token types, an embedding LayerNorm, post-LayerNorm
    /// layers, GELU MLP, biases everywhere; encoder only.
    Bert,
}

/// A decoder or encoder text stack: Llama-style (RMSNorm, RoPE, GQA, SiLU-gated MLP),
/// GPT-2 or BERT (see [`TextFamily`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TextSpec {
    /// Which family's layer structure it has.
    pub family: TextFamily,
    /// Model width.
    pub hidden_size: u64,
    /// MLP width.
    pub intermediate_size: u64,
    /// Transformer layers.
    pub num_layers: u64,
    /// Query heads.
    pub num_heads: u64,
    /// Key/value heads (fewer than the query heads with grouped-query attention).
    pub num_kv_heads: u64,
    /// Width of one head.
    pub head_dim: u64,
    /// Vocabulary size.
    pub vocab_size: u64,
    /// Learned position embeddings' table length (GPT-2, BERT); RoPE models: their context.
    pub max_positions: u64,
    /// BERT's token type embeddings (0 for the others).
    pub type_vocab_size: u64,
    /// Biases on the Q, K and V projections.
    pub attention_bias: bool,
    /// A bias on the output projection (Llama: as `attention_bias`; Qwen2: none).
    pub output_bias: bool,
    /// Whether the MLP's projections have biases.
    pub mlp_bias: bool,
    /// The LM head shares the token embedding matrix (counted once among the parameters).
    pub tie_word_embeddings: bool,
}

/// A text config's fields; GPT-2's own names are aliases.
#[derive(Deserialize, Default)]
pub(super) struct RawText {
    pub(super) model_type: Option<String>,
    #[serde(alias = "n_embd")]
    hidden_size: Option<u64>,
    #[serde(alias = "n_inner")]
    intermediate_size: Option<u64>,
    #[serde(alias = "n_layer")]
    num_hidden_layers: Option<u64>,
    #[serde(alias = "n_head")]
    num_attention_heads: Option<u64>,
    num_key_value_heads: Option<u64>,
    head_dim: Option<u64>,
    vocab_size: Option<u64>,
    #[serde(alias = "n_positions")]
    max_position_embeddings: Option<u64>,
    type_vocab_size: Option<u64>,
    #[serde(alias = "activation_function")]
    hidden_act: Option<String>,
    attention_bias: Option<bool>,
    mlp_bias: Option<bool>,
    tie_word_embeddings: Option<bool>,
}

/// Defaults of a transformers text config class: (hidden, intermediate, layers, heads,
/// vocabulary, activation, maximum positions).
fn text_defaults(
    family: TextFamily,
    qwen2: bool,
) -> (u64, Option<u64>, u64, u64, u64, &'static str, u64) {
    match family {
        // LlamaConfig; Qwen2Config differs in its MLP width and vocabulary.
        TextFamily::Llama if qwen2 => (4096, Some(22016), 32, 32, 151_936, "silu", 32768),
        TextFamily::Llama => (4096, Some(11008), 32, 32, 32000, "silu", 2048),
        // GPT2Config: n_inner None means 4 × n_embd.
        TextFamily::Gpt2 => (768, None, 12, 12, 50257, "gelu_new", 1024),
        // BertConfig.
        TextFamily::Bert => (768, Some(3072), 12, 12, 30522, "gelu", 512),
    }
}

pub(super) fn text_spec(file: &str, prefix: &str, raw: RawText) -> Result<TextSpec, ConfigError> {
    let field = |name: &str| format!("{prefix}{name}");
    let model_type = raw.model_type.as_deref().unwrap_or("llama");
    let (family, qwen2) = match model_type {
        "llama" => (TextFamily::Llama, false),
        // Qwen2 puts biases on Q, K and V only.
        "qwen2" => (TextFamily::Llama, true),
        "gpt2" => (TextFamily::Gpt2, false),
        "bert" => (TextFamily::Bert, false),
        other => {
            return Err(ConfigError::invalid(
                file,
                field("model_type"),
                format!(
                    "unsupported text model type `{other}` (expected llama, qwen2, gpt2 or bert)"
                ),
            ));
        }
    };
    let (hidden, intermediate, layer_count, heads, vocab, act, positions) =
        text_defaults(family, qwen2);
    // A size from the file, else the class default; at least 1 either way.
    let value = |name: &str, given: Option<u64>, default: u64| {
        positive(file, field(name), given.unwrap_or(default))
    };
    let hidden_size = value("hidden_size", raw.hidden_size, hidden)?;
    let num_heads = value("num_attention_heads", raw.num_attention_heads, heads)?;
    let num_kv_heads = value("num_key_value_heads", raw.num_key_value_heads, num_heads)?;
    if !num_heads.is_multiple_of(num_kv_heads) {
        return Err(ConfigError::invalid(
            file,
            field("num_key_value_heads"),
            format!("{num_kv_heads} key/value heads do not divide {num_heads} query heads"),
        ));
    }
    let head_dim = match raw.head_dim {
        Some(head_dim) => positive(file, field("head_dim"), head_dim)?,
        None if hidden_size.is_multiple_of(num_heads) => hidden_size / num_heads,
        None => {
            return Err(ConfigError::invalid(
                file,
                field("num_attention_heads"),
                format!(
                    "{num_heads} heads do not divide hidden size {hidden_size} and no head_dim is given"
                ),
            ));
        }
    };
    let act_name = raw.hidden_act.as_deref().unwrap_or(act);
    // GPT-2 names the field its own way; errors name it as the file does.
    let act_field = field(match family {
        TextFamily::Gpt2 => "activation_function",
        _ => "hidden_act",
    });
    let wanted = match family {
        TextFamily::Llama => Activation::Silu,
        TextFamily::Gpt2 | TextFamily::Bert => Activation::Gelu,
    };
    if activation(file, act_field.clone(), act_name)? != wanted {
        return Err(ConfigError::invalid(
            file,
            act_field,
            match family {
                TextFamily::Llama => "a Llama-style gated MLP needs silu",
                TextFamily::Gpt2 | TextFamily::Bert => "a GPT-2 or BERT MLP needs gelu",
            },
        ));
    }
    // GPT-2 and BERT put biases on every projection; Llama where the config says.
    let biased = family != TextFamily::Llama;
    let attention_bias = biased || qwen2 || raw.attention_bias.unwrap_or(false);
    Ok(TextSpec {
        family,
        hidden_size,
        intermediate_size: value(
            "intermediate_size",
            raw.intermediate_size,
            intermediate.unwrap_or(4 * hidden_size),
        )?,
        num_layers: layers(
            file,
            field("num_hidden_layers"),
            raw.num_hidden_layers,
            layer_count,
        )?,
        num_heads,
        num_kv_heads,
        head_dim,
        vocab_size: value("vocab_size", raw.vocab_size, vocab)?,
        max_positions: value(
            "max_position_embeddings",
            raw.max_position_embeddings,
            positions,
        )?,
        type_vocab_size: match family {
            TextFamily::Bert => value("type_vocab_size", raw.type_vocab_size, 2)?,
            _ => 0,
        },
        attention_bias,
        output_bias: biased || (!qwen2 && attention_bias),
        mlp_bias: biased || (!qwen2 && raw.mlp_bias.unwrap_or(false)),
        // GPT-2 ties its LM head to the token embeddings by default (PretrainedConfig).
        tie_word_embeddings: raw
            .tie_word_embeddings
            .unwrap_or(family == TextFamily::Gpt2),
    })
}

#[cfg(test)]
mod tests {
    use super::super::Source;
    use super::super::model::load_model;
    use super::*;

    fn text(json: &str) -> TextSpec {
        load_model(&Source::built_in("test.json", json))
            .unwrap()
            .text
            .unwrap()
    }

    /// Qwen2 biases Q, K and V but not O nor the MLP, and takes Qwen2Config's defaults.
    #[test]
    fn qwen2_biases_only_its_qkv_projections() {
        let qwen = text(r#"{"model_type": "qwen2"}"#);
        assert!(qwen.attention_bias && !qwen.output_bias && !qwen.mlp_bias);
        assert_eq!((qwen.intermediate_size, qwen.vocab_size), (22016, 151_936));
        let llama = text(r#"{"model_type": "llama", "attention_bias": true}"#);
        assert!(llama.attention_bias && llama.output_bias && !llama.mlp_bias);
    }

    /// GPT-2's own field names, its n_inner of 4 × n_embd when absent, its tied LM head.
    #[test]
    fn gpt2_reads_its_own_field_names() {
        let gpt2 = text(
            r#"{"model_type": "gpt2", "n_embd": 1024, "n_layer": 24, "n_head": 16, "n_inner": null}"#,
        );
        assert_eq!(gpt2.family, TextFamily::Gpt2);
        assert_eq!(
            (gpt2.hidden_size, gpt2.num_layers, gpt2.num_heads),
            (1024, 24, 16)
        );
        assert_eq!(gpt2.intermediate_size, 4096);
        assert!(gpt2.tie_word_embeddings && gpt2.attention_bias && gpt2.mlp_bias);
        let error = load_model(&Source::built_in(
            "t.json",
            r#"{"model_type": "gpt2", "activation_function": "silu"}"#,
        ))
        .unwrap_err();
        assert!(
            error.to_string().contains("activation_function")
                || error.to_string().contains("hidden_act"),
            "{error}"
        );
    }
}
