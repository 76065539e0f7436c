//! What a workload is built from: the choices left open on the command line, resolved
//! against the policy and the model into the options the builder reads, refusing those
//! that would apply to nothing.

use super::{ExpertSwitches, Fusion, Pipeline, Prefill, Workload, WorkloadError, build_workload};
use crate::config::model::{ModelSpec, PolicySpec, TextFamily};
use crate::config::policy::ExpertSpec;
use crate::config::precision::PrecisionPair;

/// What the encoders are run on and how.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadOptions {
    /// The policy config that set the prefix (its source name), or `None` for a bare model.
    pub policy: Option<String>,
    /// Camera images per observation.
    pub cameras: u64,
    /// Language tokens (padded).
    pub language_tokens: u64,
    /// State tokens.
    pub state_tokens: u64,
    /// Independent observations processed together; weights are read once per batch.
    pub batch: u64,
    /// Text layers to run (smolVLA keeps the first 16).
    pub text_layers: u64,
    /// Vision layers to run (all of them in a forward pass; fewer for focused runs).
    pub vision_layers: u64,
    /// Only these kernels (names or `encoder/name`), for focused runs; empty: all.
    pub kernels: Vec<String>,
    /// Weights' and activations' precision.
    pub precision: PrecisionPair,
    /// Which kernels are fused.
    pub fusion: Fusion,
    /// What a step covers.
    pub pipeline: Pipeline,
    /// The action expert's switches.
    pub switches: ExpertSwitches,
    /// Run the vision tower and connector once per camera (as the reference code does)
    /// instead of on all cameras' images as one batch.
    pub per_camera_vision: bool,
    /// Tokens to generate after the prefix (decode with a key/value cache); 0: none.
    pub decode_tokens: u64,
    /// How the text layers take the prompt.
    pub prefill: Prefill,
    /// The policy's action expert, which the full pipeline runs.
    pub expert: Option<ExpertSpec>,
}

/// Workload choices left open on the command line; `None` takes the policy's value.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WorkloadChoices {
    /// Camera images per observation.
    pub cameras: Option<u64>,
    /// Language tokens.
    pub language_tokens: Option<u64>,
    /// State tokens.
    pub state_tokens: Option<u64>,
    /// Observations processed together.
    pub batch: u64,
    /// Text layers to run.
    pub text_layers: Option<u64>,
    /// Vision layers to run; `None`: all of the model's.
    #[serde(default)]
    pub vision_layers: Option<u64>,
    /// Only these kernels of each layer (names or `encoder/name`); empty: all.
    #[serde(default)]
    pub kernels: Vec<String>,
    /// Which kernels are fused.
    pub fusion: Fusion,
    /// What a step covers.
    #[serde(default)]
    pub pipeline: Pipeline,
    /// The action expert's switches.
    #[serde(default)]
    pub switches: ExpertSwitches,
    /// Run the vision tower once per camera.
    #[serde(default)]
    pub per_camera_vision: bool,
    /// Tokens to generate after the prefix.
    #[serde(default)]
    pub decode_tokens: u64,
    /// How the text layers take the prompt.
    #[serde(default)]
    pub prefill: Prefill,
}

impl WorkloadChoices {
    /// The workload these choices give: [`Self::options`], then [`build_workload`].
    pub fn build(
        &self,
        model: &ModelSpec,
        policy: Option<&PolicySpec>,
        precision: PrecisionPair,
    ) -> Result<Workload, WorkloadError> {
        build_workload(model, &self.options(model, policy, precision)?)
    }

    /// Resolves the choices against the policy (or the model, without a policy); refuses
    /// choices that would apply to nothing (a switch of the full pipeline outside it, cameras
    /// for a model that reads no images). The state token is a smolVLA policy's: without a
    /// policy the prefix has none unless asked for.
    pub fn options(
        &self,
        model: &ModelSpec,
        policy: Option<&PolicySpec>,
        precision: PrecisionPair,
    ) -> Result<WorkloadOptions, WorkloadError> {
        let refuse = |option, rule: &str| {
            Err(WorkloadError::Invalid {
                option,
                rule: rule.to_string(),
            })
        };
        if self.pipeline != Pipeline::Full {
            let full_only = "applies only to the whole robot step (--pipeline full)";
            if self.switches.cross_kv_once {
                return refuse("--cross-kv-once", full_only);
            }
            if self.switches.trim_last_text_layer {
                return refuse("--trim-last-text-layer", full_only);
            }
        }
        // The policy's own layer count, blamed on the policy file, not on an option.
        if let (None, Some(policy), Some(text)) = (self.text_layers, policy, &model.text)
            && !(1..=text.num_layers).contains(&policy.num_vlm_layers)
        {
            return Err(WorkloadError::Config {
                file: policy.source.clone(),
                field: "num_vlm_layers",
                rule: format!(
                    "must be between 1 and the model's {} text layers, found {}",
                    text.num_layers, policy.num_vlm_layers
                ),
            });
        }
        if self.cameras.is_some() && model.vision.is_none() {
            return refuse(
                "--cameras",
                "the model has no vision tower: a text-only model reads no images",
            );
        }
        let options = self.resolve(model, policy, precision);
        if let Some(text) = &model.text
            && text.family != TextFamily::Llama
        {
            let tokens = options.language_tokens + options.state_tokens + options.decode_tokens;
            if tokens > text.max_positions {
                let option = if options.decode_tokens > 0 {
                    "--decode"
                } else {
                    "--language-tokens"
                };
                return refuse(
                    option,
                    &format!(
                        "the model's learned position table has {} rows: at most {} tokens \
                         (language, state and decoded), found {tokens}",
                        text.max_positions, text.max_positions
                    ),
                );
            }
        }
        Ok(options)
    }

    /// The options these choices give, before the checks that need them whole.
    fn resolve(
        &self,
        model: &ModelSpec,
        policy: Option<&PolicySpec>,
        precision: PrecisionPair,
    ) -> WorkloadOptions {
        let all_text_layers = model.text.as_ref().map_or(0, |text| text.num_layers);
        let all_vision_layers = model.vision.as_ref().map_or(0, |vision| vision.num_layers);
        WorkloadOptions {
            policy: policy.map(|p| p.source.clone()),
            cameras: self.cameras.or(policy.map(|p| p.cameras)).unwrap_or(1),
            language_tokens: self
                .language_tokens
                .or(policy.map(|p| p.language_tokens))
                .unwrap_or(48),
            state_tokens: self
                .state_tokens
                .or(policy.map(|p| p.state_tokens))
                .unwrap_or(0),
            batch: self.batch,
            text_layers: self
                .text_layers
                .or(policy.map(|p| p.num_vlm_layers))
                .unwrap_or(all_text_layers),
            vision_layers: self.vision_layers.unwrap_or(all_vision_layers),
            kernels: self.kernels.clone(),
            precision,
            fusion: self.fusion,
            pipeline: self.pipeline,
            switches: self.switches,
            per_camera_vision: self.per_camera_vision,
            decode_tokens: self.decode_tokens,
            prefill: self.prefill,
            expert: policy.map(|p| p.expert.clone()),
        }
    }
}
