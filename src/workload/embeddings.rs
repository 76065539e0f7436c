//! A text model's embeddings: the lookup tables it holds (token, position and token-type
//! embeddings, no kernel's operand) and the kernels that add learned positions.

use super::Op;
use super::builder::Builder;
use crate::config::model::{TextFamily, TextSpec};

/// The text model's lookup tables: token embeddings, and for GPT-2 and BERT learned
/// positions (BERT also token types).
pub(super) fn lookup_parameters(text: &TextSpec) -> u64 {
    let positions = match text.family {
        TextFamily::Llama => 0,
        TextFamily::Gpt2 | TextFamily::Bert => text.max_positions,
    };
    let types = if text.family == TextFamily::Bert {
        text.type_vocab_size
    } else {
        0
    };
    (text.vocab_size + positions + types) * text.hidden_size
}

/// GPT-2 and BERT add learned position embeddings (BERT also token types, then a
/// LayerNorm) to the token embeddings of `rows` tokens; the gathered rows are the lookups'
/// outputs. Llama-style models need nothing: RoPE acts inside attention.
pub(super) fn learned_positions(builder: &mut Builder, text: &TextSpec, rows: u64) {
    let hidden = text.hidden_size;
    match text.family {
        TextFamily::Llama => {}
        TextFamily::Gpt2 => builder.vector(
            "pos_add",
            Op::Add,
            (1, rows, hidden),
            &["x", "positions"],
            vec![],
        ),
        TextFamily::Bert => {
            builder.vector(
                "embed_add",
                Op::Add,
                (1, rows, hidden),
                &["x", "positions", "token_types"],
                vec![],
            );
            builder.layer_norm("embed_ln", Op::LayerNorm, rows, hidden);
        }
    }
}
