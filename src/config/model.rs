//! Model architecture from Hugging Face `config.json` files, and the smolVLA policy config.
//!
//! Hub files omit every field that equals the transformers default, so each supported
//! `model_type` carries the defaults of its transformers config class. Unknown fields are
//! ignored on purpose: real Hub files carry dozens of fields (tokenizer ids, dtypes) that do
//! not change a kernel's shape.

pub use super::policy::{DEFAULT_POLICY, PolicySpec, default_policy, load_policy};
use super::text::{RawText, text_spec};
pub use super::text::{TextFamily, TextSpec};
use super::{ConfigError, Source, in_range, parse_json};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Non-linearity applied after the first MLP projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Activation {
    /// GELU with the tanh approximation (`gelu_pytorch_tanh`), or exact GELU.
    Gelu,
    /// SiLU, used gated (`down(silu(gate(x)) * up(x))`) in Llama-style MLPs.
    Silu,
}

/// A ViT/SigLIP-style vision tower: patch embedding, pre-norm LayerNorm blocks, MHA + MLP.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VisionSpec {
    /// Input image side, pixels.
    pub image_size: u64,
    /// Patch side, pixels.
    pub patch_size: u64,
    /// Colour channels.
    pub num_channels: u64,
    /// Model width.
    pub hidden_size: u64,
    /// MLP width.
    pub intermediate_size: u64,
    /// Transformer layers.
    pub num_layers: u64,
    /// Attention heads.
    pub num_heads: u64,
    /// Width of one head.
    pub head_dim: u64,
    /// ViT prepends a learned class token; SigLIP does not.
    pub class_token: bool,
    /// The MLP's activation.
    pub activation: Activation,
}

impl VisionSpec {
    /// Patches along one side of the (square) image.
    pub fn patches_per_side(&self) -> u64 {
        self.image_size / self.patch_size
    }

    /// Patch tokens per image (without a class token).
    pub fn num_patches(&self) -> u64 {
        self.patches_per_side() * self.patches_per_side()
    }

    /// Tokens the transformer blocks see per image.
    pub fn tokens(&self) -> u64 {
        self.num_patches() + u64::from(self.class_token)
    }
}

/// SmolVLM's connector: pixel shuffle by `scale_factor`, then a bias-free Linear.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectorSpec {
    /// Pixel-shuffle factor: image tokens per side divided by it.
    pub scale_factor: u64,
    /// Tokens per image after the shuffle.
    pub tokens_out: u64,
    /// The projection's input width (the vision width times the factor squared).
    pub in_features: u64,
    /// Its output width (the text width).
    pub out_features: u64,
}

/// The encoders of one model file; a standalone vision or text config fills only its part.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelSpec {
    /// Where the spec came from, for reports.
    pub source: String,
    /// The vision tower, if the model has one.
    pub vision: Option<VisionSpec>,
    /// The connector between vision and text, if any.
    pub connector: Option<ConnectorSpec>,
    /// The text layers, if any.
    pub text: Option<TextSpec>,
}

impl ModelSpec {
    /// Board `board`'s share of the model split over `boards` by tensor parallelism
    /// (Megatron-LM, Shoeybi et al. 2019): each layer's heads and MLP width divided among the
    /// boards, the first boards taking one more where they do not divide (grouped key/value
    /// heads stay with their query heads), so Q/K/V and the MLP's first GEMMs are split by
    /// columns, O and the MLP's last by rows (each then needing an all-reduce of its output);
    /// the hidden width, the norms and everything outside the layers stay whole on every
    /// board. `Err` when a board would get no head.
    pub fn tensor_shard(&self, board: u64, boards: u64) -> Result<ModelSpec, String> {
        let share = |count: u64| count / boards + u64::from(board < count % boards);
        let mut shard = self.clone();
        if let Some(vision) = &mut shard.vision {
            if vision.num_heads < boards {
                return Err(format!(
                    "{boards} boards but {} vision heads to share",
                    vision.num_heads
                ));
            }
            vision.num_heads = share(vision.num_heads);
            vision.intermediate_size = share(vision.intermediate_size);
        }
        if let Some(text) = &mut shard.text {
            if text.num_kv_heads < boards {
                return Err(format!(
                    "{boards} boards but {} text key/value heads to share",
                    text.num_kv_heads
                ));
            }
            let group = text.num_heads / text.num_kv_heads;
            text.num_kv_heads = share(text.num_kv_heads);
            text.num_heads = text.num_kv_heads * group;
            text.intermediate_size = share(text.intermediate_size);
        }
        Ok(shard)
    }
}

#[derive(Deserialize)]
struct RawModel {
    model_type: Option<String>,
    vision_config: Option<RawVision>,
    text_config: Option<RawText>,
    scale_factor: Option<u64>,
    #[serde(flatten)]
    rest: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct RawVision {
    model_type: Option<String>,
    image_size: Option<u64>,
    patch_size: Option<u64>,
    num_channels: Option<u64>,
    hidden_size: Option<u64>,
    intermediate_size: Option<u64>,
    num_hidden_layers: Option<u64>,
    num_attention_heads: Option<u64>,
    hidden_act: Option<String>,
}

/// Defaults of a transformers vision config class.
struct VisionDefaults {
    image_size: u64,
    patch_size: u64,
    hidden_size: u64,
    intermediate_size: u64,
    num_layers: u64,
    num_heads: u64,
    hidden_act: &'static str,
    class_token: bool,
}

fn vision_defaults(model_type: &str) -> Option<VisionDefaults> {
    match model_type {
        // SmolVLMVisionConfig / Idefics3VisionConfig (a SigLIP-so400m-like tower by default).
        "smolvlm_vision" | "idefics3_vision" => Some(VisionDefaults {
            image_size: 224,
            patch_size: 32,
            hidden_size: 1152,
            intermediate_size: 3072,
            num_layers: 12,
            num_heads: 16,
            hidden_act: "gelu_pytorch_tanh",
            class_token: false,
        }),
        // SiglipVisionConfig.
        "siglip_vision_model" | "siglip" => Some(VisionDefaults {
            image_size: 224,
            patch_size: 16,
            hidden_size: 768,
            intermediate_size: 3072,
            num_layers: 12,
            num_heads: 12,
            hidden_act: "gelu_pytorch_tanh",
            class_token: false,
        }),
        // ViTConfig (google/vit-base-patch16-224).
        "vit" => Some(VisionDefaults {
            image_size: 224,
            patch_size: 16,
            hidden_size: 768,
            intermediate_size: 3072,
            num_layers: 12,
            num_heads: 12,
            hidden_act: "gelu",
            class_token: true,
        }),
        _ => None,
    }
}

/// Reads a Hugging Face `config.json`: a SmolVLM/Idefics3 composite, a SigLIP/ViT vision
/// config, or a Llama-style text config.
pub fn load_model(source: &Source) -> Result<ModelSpec, ConfigError> {
    let raw: RawModel = parse_json(source)?;
    let file = source.name.as_str();
    let top_type = raw.model_type.clone().unwrap_or_default();
    let composite = raw.vision_config.is_some() || raw.text_config.is_some();

    let (vision, text) = if composite {
        let vision = match raw.vision_config {
            Some(vision) => {
                let default_type = match top_type.as_str() {
                    "smolvlm" => "smolvlm_vision",
                    "idefics3" => "idefics3_vision",
                    "siglip" => "siglip_vision_model",
                    other => other,
                };
                Some(vision_spec(file, "vision_config.", vision, default_type)?)
            }
            None => None,
        };
        let text = match raw.text_config {
            Some(text) => Some(text_spec(file, "text_config.", text)?),
            None => None,
        };
        (vision, text)
    } else {
        let flat = serde_json::Value::Object(raw.rest.into_iter().collect());
        if vision_defaults(&top_type).is_some() {
            let mut vision: RawVision = from_value(file, flat)?;
            vision.model_type = raw.model_type;
            (Some(vision_spec(file, "", vision, &top_type)?), None)
        } else if matches!(top_type.as_str(), "llama" | "qwen2" | "gpt2" | "bert") {
            let mut text: RawText = from_value(file, flat)?;
            text.model_type = raw.model_type;
            (None, Some(text_spec(file, "", text)?))
        } else {
            return Err(ConfigError::invalid(
                file,
                "model_type",
                format!(
                    "unsupported model type `{top_type}` (expected smolvlm, idefics3, siglip, \
                     siglip_vision_model, vit, llama, qwen2, gpt2 or bert)"
                ),
            ));
        }
    };

    let connector = match (&vision, &text, top_type.as_str()) {
        (Some(vision), Some(text), "smolvlm" | "idefics3") => {
            // SmolVLMConfig and Idefics3Config default scale_factor = 2.
            let scale_factor = raw.scale_factor.unwrap_or(2);
            Some(connector_spec(file, vision, text, scale_factor)?)
        }
        _ => None,
    };
    if vision.is_none() && text.is_none() {
        return Err(ConfigError::invalid(
            file,
            "(root)",
            "describes neither a vision nor a text model",
        ));
    }
    Ok(ModelSpec {
        source: source.name.clone(),
        vision,
        connector,
        text,
    })
}

fn from_value<T: serde::de::DeserializeOwned>(
    file: &str,
    value: serde_json::Value,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|error| ConfigError::Parse {
        file: file.to_string(),
        field: error.path().to_string(),
        message: error.into_inner().to_string(),
    })
}

/// Every size of a model or policy config (widths, layers, heads, tokens) lies in this range.
pub const DIMENSION: std::ops::RangeInclusive<u64> = 1..=1 << 20;

/// Every layer count lies in this range (it bounds the kernels listed per forward pass).
pub const LAYERS: std::ops::RangeInclusive<u64> = 1..=1024;

/// A size in [`DIMENSION`].
pub(super) fn positive(file: &str, field: String, value: u64) -> Result<u64, ConfigError> {
    in_range(file, &field, value, DIMENSION)
}

/// A layer count from the file, else the class default, in [`LAYERS`].
pub(super) fn layers(
    file: &str,
    field: String,
    given: Option<u64>,
    default: u64,
) -> Result<u64, ConfigError> {
    in_range(file, &field, given.unwrap_or(default), LAYERS)
}

pub(super) fn activation(file: &str, field: String, name: &str) -> Result<Activation, ConfigError> {
    match name {
        "gelu" | "gelu_pytorch_tanh" | "gelu_new" | "gelu_fast" | "quick_gelu" => {
            Ok(Activation::Gelu)
        }
        "silu" | "swish" => Ok(Activation::Silu),
        other => Err(ConfigError::invalid(
            file,
            field,
            format!("unsupported activation `{other}` (expected a gelu variant or silu)"),
        )),
    }
}

fn vision_spec(
    file: &str,
    prefix: &str,
    raw: RawVision,
    default_type: &str,
) -> Result<VisionSpec, ConfigError> {
    let model_type = raw.model_type.as_deref().unwrap_or(default_type);
    let defaults = vision_defaults(model_type).ok_or_else(|| {
        ConfigError::invalid(
            file,
            format!("{prefix}model_type"),
            format!(
                "unsupported vision model type `{model_type}` \
                 (expected smolvlm_vision, idefics3_vision, siglip_vision_model or vit)"
            ),
        )
    })?;
    let field = |name: &str| format!("{prefix}{name}");
    // A size from the file, else the class default; at least 1 either way.
    let value = |name: &str, given: Option<u64>, default: u64| {
        positive(file, field(name), given.unwrap_or(default))
    };
    let image_size = value("image_size", raw.image_size, defaults.image_size)?;
    let patch_size = value("patch_size", raw.patch_size, defaults.patch_size)?;
    if !image_size.is_multiple_of(patch_size) {
        return Err(ConfigError::invalid(
            file,
            field("patch_size"),
            format!("patch size {patch_size} does not divide image size {image_size}"),
        ));
    }
    let hidden_size = value("hidden_size", raw.hidden_size, defaults.hidden_size)?;
    let num_heads = value(
        "num_attention_heads",
        raw.num_attention_heads,
        defaults.num_heads,
    )?;
    if !hidden_size.is_multiple_of(num_heads) {
        return Err(ConfigError::invalid(
            file,
            field("num_attention_heads"),
            format!("{num_heads} heads do not divide hidden size {hidden_size}"),
        ));
    }
    let act_name = raw.hidden_act.as_deref().unwrap_or(defaults.hidden_act);
    Ok(VisionSpec {
        image_size,
        patch_size,
        num_channels: value("num_channels", raw.num_channels, 3)?,
        hidden_size,
        intermediate_size: value(
            "intermediate_size",
            raw.intermediate_size,
            defaults.intermediate_size,
        )?,
        num_layers: layers(
            file,
            field("num_hidden_layers"),
            raw.num_hidden_layers,
            defaults.num_layers,
        )?,
        num_heads,
        head_dim: hidden_size / num_heads,
        class_token: defaults.class_token,
        activation: activation(file, field("hidden_act"), act_name)?,
    })
}

fn connector_spec(
    file: &str,
    vision: &VisionSpec,
    text: &TextSpec,
    scale_factor: u64,
) -> Result<ConnectorSpec, ConfigError> {
    let side = vision.patches_per_side();
    if scale_factor == 0 || !side.is_multiple_of(scale_factor) {
        return Err(ConfigError::invalid(
            file,
            "scale_factor",
            format!("must divide the {side} patches per image side"),
        ));
    }
    Ok(ConnectorSpec {
        scale_factor,
        tokens_out: vision.num_patches() / (scale_factor * scale_factor),
        in_features: vision.hidden_size * scale_factor * scale_factor,
        out_features: text.hidden_size,
    })
}

/// The SmolVLM2-500M-Video-Instruct `config.json` shipped in `configs/models/`.
pub const DEFAULT_MODEL: &str =
    include_str!("../../configs/models/smolvlm2-500m-video-instruct.config.json");
/// The built-in model: SmolVLM2-500M as smolVLA uses it.
pub fn default_model() -> ModelSpec {
    load_model(&Source::built_in(
        "smolvlm2-500m-video-instruct.config.json",
        DEFAULT_MODEL,
    ))
    .expect("the shipped model config is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(json: &str) -> Result<ModelSpec, ConfigError> {
        load_model(&Source::built_in("test.json", json))
    }

    #[test]
    fn smolvlm2_fills_transformers_defaults() {
        let spec = default_model();
        let vision = spec.vision.unwrap();
        assert_eq!(vision.hidden_size, 768);
        assert_eq!(
            vision.intermediate_size, 3072,
            "default of SmolVLMVisionConfig"
        );
        assert_eq!(vision.num_layers, 12, "default of SmolVLMVisionConfig");
        assert_eq!(vision.num_patches(), 1024);
        assert_eq!(vision.head_dim, 64);
        let connector = spec.connector.unwrap();
        assert_eq!(
            (
                connector.tokens_out,
                connector.in_features,
                connector.out_features
            ),
            (64, 12288, 960)
        );
        let text = spec.text.unwrap();
        assert_eq!(
            (text.num_heads, text.num_kv_heads, text.head_dim),
            (15, 5, 64)
        );
        assert_eq!(text.intermediate_size, 2560);
    }

    #[test]
    fn smolvla_policy_counts_cameras() {
        let policy = default_policy();
        assert_eq!(policy.cameras, 3);
        assert_eq!(policy.num_vlm_layers, 16);
        assert_eq!(policy.language_tokens, 48);
    }

    #[test]
    fn standalone_vit_has_a_class_token() {
        let spec = model(r#"{"model_type": "vit", "image_size": 224}"#).unwrap();
        let vision = spec.vision.unwrap();
        assert_eq!(vision.tokens(), 197);
        assert!(spec.text.is_none() && spec.connector.is_none());
    }

    #[test]
    fn standalone_llama_defaults_kv_heads_to_heads() {
        let spec =
            model(r#"{"model_type": "llama", "hidden_size": 2048, "num_attention_heads": 16}"#)
                .unwrap();
        let text = spec.text.unwrap();
        assert_eq!((text.num_kv_heads, text.head_dim), (16, 128));
    }

    #[test]
    fn wrong_type_names_the_field() {
        let error = model(r#"{"model_type": "llama", "hidden_size": "big"}"#).unwrap_err();
        let line = error.to_string();
        assert!(line.contains("hidden_size"), "{line}");
        assert!(line.starts_with("built-in:test.json"), "{line}");
    }

    #[test]
    fn indivisible_heads_are_rejected() {
        let error = model(
            r#"{"model_type": "llama", "num_attention_heads": 15, "num_key_value_heads": 4}"#,
        )
        .unwrap_err();
        assert!(error.to_string().contains("num_key_value_heads"), "{error}");
    }

    #[test]
    fn unknown_model_type_is_rejected() {
        let error = model(r#"{"model_type": "t5"}"#).unwrap_err();
        assert!(error.to_string().contains("`model_type`"), "{error}");
    }

    #[test]
    fn policy_without_cameras_is_rejected() {
        let source = Source::built_in(
            "p.json",
            r#"{"type": "smolvla", "input_features": {"observation.state": {"type": "STATE"}}}"#,
        );
        let error = load_policy(&source).unwrap_err();
        assert!(error.to_string().contains("input_features"), "{error}");
    }
}
