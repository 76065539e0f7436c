//! The smolVLA policy config (LeRobot's `config.json`): the prefix the encoders process.

use super::model::{layers, positive};
use super::{ConfigError, Source, parse_json};
use serde::Deserialize;
use std::collections::BTreeMap;

/// What a smolVLA-style policy config says about the prefix the encoders process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySpec {
    pub source: String,
    /// Number of camera images (`VISUAL` input features).
    pub cameras: u64,
    /// Text layers the policy keeps from the VLM.
    pub num_vlm_layers: u64,
    /// Language tokens, padded to this length.
    pub language_tokens: u64,
    /// smolVLA projects the robot state to one token.
    pub state_tokens: u64,
}

#[derive(Deserialize)]
struct RawPolicy {
    #[serde(rename = "type")]
    policy_type: Option<String>,
    input_features: Option<BTreeMap<String, RawFeature>>,
    num_vlm_layers: Option<u64>,
    tokenizer_max_length: Option<u64>,
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
    Ok(PolicySpec {
        source: source.name.clone(),
        cameras,
        // SmolVLAConfig defaults.
        num_vlm_layers: layers(file, "num_vlm_layers".into(), raw.num_vlm_layers, 16)?,
        language_tokens: positive(
            file,
            "tokenizer_max_length".into(),
            raw.tokenizer_max_length.unwrap_or(48),
        )?,
        state_tokens: 1,
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
