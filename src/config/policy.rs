//! The smolVLA policy config (LeRobot's `config.json`): the prefix the encoders process and
//! the action expert that turns it into a chunk of actions (lerobot's `SmolVLAConfig`,
//! `SmolVLMWithExpertModel`; omitted fields take `SmolVLAConfig`'s defaults).

use super::model::{layers, positive};
use super::{ConfigError, Source, in_range, parse_json};
use serde::Deserialize;
use std::collections::BTreeMap;

/// What a smolVLA-style policy config says about the prefix the encoders process and the
/// action expert.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PolicySpec {
    /// Where it was read from.
    pub source: String,
    /// Number of camera images (`VISUAL` input features).
    pub cameras: u64,
    /// Text layers the policy keeps from the VLM.
    pub num_vlm_layers: u64,
    /// Language tokens, padded to this length.
    pub language_tokens: u64,
    /// smolVLA projects the robot state to one token.
    pub state_tokens: u64,
    /// The action expert's shape.
    pub expert: ExpertSpec,
}

/// The action expert: a narrowed copy of the VLM's text layers run over the action chunk at
/// every flow-matching step, attending to the prefix's key/value cache.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExpertSpec {
    /// Action tokens per chunk (`chunk_size`).
    pub chunk_size: u64,
    /// Actions executed per chunk (`n_action_steps`), for the control rate.
    pub n_action_steps: u64,
    /// Flow-matching steps per observation (`num_steps`).
    pub num_steps: u64,
    /// Padded action and state widths (`max_action_dim`, `max_state_dim`).
    pub max_action_dim: u64,
    /// Width the state vector is padded to.
    pub max_state_dim: u64,
    /// The expert's width over the VLM's (`expert_width_multiplier`).
    pub width_multiplier: f64,
    /// Expert layers (`num_expert_layers`); 0 means as many as the VLM layers kept.
    pub num_expert_layers: u64,
    /// `attention_mode` contains "cross": layers other than every n-th cross-attend.
    pub cross_attention: bool,
    /// `self_attn_every_n_layers`: with cross attention, layers whose VLM index is a
    /// multiple of it self-attend (to the prefix cache and the action tokens); 0 or less:
    /// none.
    pub self_attn_every_n_layers: u64,
}

impl ExpertSpec {
    /// The expert's hidden width: `int(vlm_hidden × multiplier)`, as the reference computes it.
    pub fn hidden_size(&self, vlm_hidden: u64) -> u64 {
        (vlm_hidden as f64 * self.width_multiplier) as u64
    }

    /// The expert's MLP width, the reference's `get_intermediate_size`: 4 × ⌊2h/3⌋ rounded
    /// up to a multiple of 256.
    pub fn intermediate_size(&self, vlm_hidden: u64) -> u64 {
        (4 * (2 * self.hidden_size(vlm_hidden) / 3)).div_ceil(256) * 256
    }
}

#[derive(Deserialize)]
struct RawPolicy {
    #[serde(rename = "type")]
    policy_type: Option<String>,
    input_features: Option<BTreeMap<String, RawFeature>>,
    num_vlm_layers: Option<u64>,
    tokenizer_max_length: Option<u64>,
    chunk_size: Option<u64>,
    n_action_steps: Option<u64>,
    num_steps: Option<u64>,
    max_action_dim: Option<u64>,
    max_state_dim: Option<u64>,
    expert_width_multiplier: Option<f64>,
    num_expert_layers: Option<i64>,
    attention_mode: Option<String>,
    self_attn_every_n_layers: Option<i64>,
}

#[derive(Deserialize)]
struct RawFeature {
    #[serde(rename = "type")]
    feature_type: String,
}

/// Reads a LeRobot smolVLA policy `config.json`.
pub fn load_policy(source: &Source) -> Result<PolicySpec, ConfigError> {
    let raw: RawPolicy = parse_json(source)?;
    let file = source.name.as_str();
    match raw.policy_type.as_deref() {
        Some("smolvla") => {}
        other => {
            return Err(ConfigError::invalid(
                file,
                "type",
                match other {
                    Some(other) => format!("expected `smolvla`, found `{other}`"),
                    None => "missing: expected `smolvla`".to_string(),
                },
            ));
        }
    }
    let features = raw.input_features.unwrap_or_default();
    let cameras = features
        .values()
        .filter(|feature| feature.feature_type == "VISUAL")
        .count() as u64;
    if cameras == 0 {
        return Err(ConfigError::invalid(
            file,
            "input_features",
            "no VISUAL feature: the policy needs at least one camera",
        ));
    }
    let num_vlm_layers = layers(file, "num_vlm_layers".into(), raw.num_vlm_layers, 16)?;
    // SmolVLAConfig defaults throughout.
    let chunk_size = positive(file, "chunk_size".into(), raw.chunk_size.unwrap_or(50))?;
    let n_action_steps = positive(
        file,
        "n_action_steps".into(),
        raw.n_action_steps.unwrap_or(50),
    )?;
    if n_action_steps > chunk_size {
        return Err(ConfigError::invalid(
            file,
            "n_action_steps",
            format!("{n_action_steps} is more than the chunk's {chunk_size} actions"),
        ));
    }
    let num_expert_layers = match raw.num_expert_layers.unwrap_or(-1) {
        ..=0 => 0,
        layers => {
            let layers = in_range(file, "num_expert_layers", layers as u64, 1..=num_vlm_layers)?;
            if num_vlm_layers % layers != 0 {
                return Err(ConfigError::invalid(
                    file,
                    "num_expert_layers",
                    format!("{layers} does not divide the {num_vlm_layers} VLM layers"),
                ));
            }
            layers
        }
    };
    let expert = ExpertSpec {
        chunk_size,
        n_action_steps,
        num_steps: layers(file, "num_steps".into(), raw.num_steps, 10)?,
        max_action_dim: positive(
            file,
            "max_action_dim".into(),
            raw.max_action_dim.unwrap_or(32),
        )?,
        max_state_dim: positive(
            file,
            "max_state_dim".into(),
            raw.max_state_dim.unwrap_or(32),
        )?,
        width_multiplier: in_range(
            file,
            "expert_width_multiplier",
            raw.expert_width_multiplier.unwrap_or(0.75),
            0.001..=16.0,
        )?,
        num_expert_layers,
        cross_attention: raw
            .attention_mode
            .as_deref()
            .unwrap_or("cross_attn")
            .contains("cross"),
        self_attn_every_n_layers: raw.self_attn_every_n_layers.unwrap_or(2).clamp(0, 1024) as u64,
    };
    Ok(PolicySpec {
        source: source.name.clone(),
        cameras,
        num_vlm_layers,
        language_tokens: positive(
            file,
            "tokenizer_max_length".into(),
            raw.tokenizer_max_length.unwrap_or(48),
        )?,
        state_tokens: 1,
        expert,
    })
}

/// The lerobot/smolvla_base policy `config.json` shipped in `configs/models/`.
pub const DEFAULT_POLICY: &str = include_str!("../../configs/models/smolvla_base.config.json");

/// The built-in policy: smolvla_base (3 cameras, 16 VLM layers, 48 language tokens).
pub fn default_policy() -> PolicySpec {
    load_policy(&Source::built_in(
        "smolvla_base.config.json",
        DEFAULT_POLICY,
    ))
    .expect("the shipped policy config is valid")
}
