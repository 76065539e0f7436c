//! Where the model's parameters live: do they fit HBM, and how much SRAM does one layer need?

use crate::config::model::{ModelSpec, TextFamily};
use crate::config::platform::Platform;
use crate::config::precision::Precision;
use crate::workload::{Encoder, Workload};

/// A named block of parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterGroup {
    /// The component.
    pub name: String,
    /// Its parameters.
    pub parameters: u64,
}

impl ParameterGroup {
    /// Storage with every parameter at `precision`.
    pub fn bytes(&self, precision: Precision) -> u64 {
        (self.parameters * precision.bits()).div_ceil(8)
    }
}

/// Parameter storage of the encoders against the platform's HBM and on-chip SRAM.
#[derive(Debug, Clone, PartialEq)]
pub struct MemorySummary {
    /// The encoders' parameters, by component (including the text embedding table).
    pub groups: Vec<ParameterGroup>,
    /// One transformer block per encoder: the unit a layer-by-layer design keeps on chip.
    pub layers: Vec<ParameterGroup>,
    /// Bytes of HBM.
    pub hbm_capacity_bytes: u64,
    /// Bytes of on-chip block memory.
    pub sram_bytes: u64,
}

impl MemorySummary {
    /// Every component's parameters together.
    pub fn total(&self) -> ParameterGroup {
        ParameterGroup {
            name: "total".into(),
            parameters: self.groups.iter().map(|group| group.parameters).sum(),
        }
    }

    /// Whether the parameters fit the HBM at `precision`.
    pub fn fits_hbm(&self, precision: Precision) -> bool {
        self.total().bytes(precision) <= self.hbm_capacity_bytes
    }

    /// Share of on-chip SRAM a group's parameters take at `precision` (may exceed 1).
    pub fn sram_share(&self, group: &ParameterGroup, precision: Precision) -> f64 {
        group.bytes(precision) as f64 / self.sram_bytes as f64
    }
}

/// Counts parameters per component from the workload's weight operands.
pub fn memory_summary(
    model: &ModelSpec,
    workload: &Workload,
    platform: &Platform,
) -> MemorySummary {
    let mut groups = Vec::new();
    let mut layers = Vec::new();
    for encoder in Encoder::ALL {
        let parameters = workload.parameters(encoder);
        if parameters == 0 {
            continue;
        }
        let name = match encoder {
            Encoder::Text => format!("text ({} layers)", workload.options.text_layers),
            other => other.name().to_string(),
        };
        groups.push(ParameterGroup { name, parameters });
        let first_layer: u64 = workload
            .encoder_kernels(encoder)
            .filter(|kernel| kernel.layer == Some(0))
            .map(|kernel| kernel.parameters())
            .sum();
        if first_layer > 0 {
            layers.push(ParameterGroup {
                name: format!("one {encoder} layer"),
                parameters: first_layer,
            });
        }
    }
    if let Some(text) = &model.text {
        groups.push(ParameterGroup {
            name: "text embeddings".into(),
            parameters: workload.lookup_parameters,
        });
        // A bare model's weights no kernel here reads: its final norm and untied LM head
        // (unless tokens are generated, which run them) and BERT's pooler.
        if workload.options.policy.is_none() && workload.parameters(Encoder::Decode) == 0 {
            let hidden = text.hidden_size;
            let parameters = match text.family {
                TextFamily::Llama => hidden,
                TextFamily::Gpt2 => 2 * hidden,
                TextFamily::Bert => hidden * hidden + hidden,
            } + if text.tie_word_embeddings || text.family == TextFamily::Bert {
                0
            } else {
                text.vocab_size * hidden
            };
            groups.push(ParameterGroup {
                name: "text head (not run)".into(),
                parameters,
            });
        }
    }
    MemorySummary {
        groups,
        layers,
        hbm_capacity_bytes: platform.hbm.capacity_bytes,
        sram_bytes: platform.sram.total_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::{default_model, default_policy};
    use crate::config::platform::default_platform;
    use crate::config::precision::PrecisionPair;
    use crate::workload::{ExpertSwitches, Fusion, Pipeline, WorkloadOptions, build_workload};

    #[test]
    fn smolvla_layers_fit_on_chip_and_the_model_fits_hbm() {
        let model = default_model();
        let policy = default_policy();
        let options = WorkloadOptions {
            policy: Some(policy.source.clone()),
            cameras: policy.cameras,
            language_tokens: policy.language_tokens,
            state_tokens: policy.state_tokens,
            batch: 1,
            text_layers: policy.num_vlm_layers,
            vision_layers: 12,
            kernels: Vec::new(),
            precision: PrecisionPair::uniform(Precision::Int8),
            fusion: Fusion::default(),
            pipeline: Pipeline::Encoders,
            switches: ExpertSwitches::default(),
            per_camera_vision: false,
            decode_tokens: 0,
            prefill: crate::workload::Prefill::Parallel,
            expert: None,
        };
        let workload = build_workload(&model, &options).unwrap();
        let summary = memory_summary(&model, &workload, &default_platform());
        let text_layer = summary
            .layers
            .iter()
            .find(|g| g.name == "one text layer")
            .unwrap();
        assert_eq!(text_layer.parameters, 9_832_320);
        assert_eq!(
            summary.total().parameters,
            86_433_024 + 11_796_480 + 157_317_120 + 47_308_800
        );
        assert!(summary.fits_hbm(Precision::Fp32));
        assert!(summary.sram_share(text_layer, Precision::Int8) < 0.25);
        assert!(summary.sram_share(&summary.total(), Precision::Int8) > 1.0);
    }

    /// The table's total of a bare text model is the reference implementation's parameter
    /// count (transformers' `num_parameters()`): Llama-2-7B 6,738,415,616 (its untied LM
    /// head and final norm not run by a prefill), BERT-base 109,482,240 (positions, token
    /// types and the pooler), GPT-2 medium 354,823,168 (positions; the LM head tied).
    #[test]
    fn bare_text_models_hold_their_published_parameter_counts() {
        use crate::config::Source;
        use crate::config::model::load_model;
        use crate::workload::WorkloadChoices;
        for (name, text, published) in [
            (
                "llama",
                include_str!("../../configs/models/llama-2-7b.config.json"),
                6_738_415_616,
            ),
            (
                "bert",
                include_str!("../../configs/models/bert-base-uncased.config.json"),
                109_482_240,
            ),
            (
                "gpt2",
                include_str!("../../configs/models/gpt2-medium.config.json"),
                354_823_168,
            ),
        ] {
            let model = load_model(&Source::built_in(name, text)).unwrap();
            let choices = WorkloadChoices {
                batch: 1,
                language_tokens: Some(16),
                ..WorkloadChoices::default()
            };
            let workload = choices
                .build(&model, None, PrecisionPair::uniform(Precision::Fp16))
                .unwrap();
            let summary = memory_summary(&model, &workload, &default_platform());
            assert_eq!(
                summary.total().parameters,
                published,
                "{name}: {:?}",
                summary.groups
            );
        }
    }
}
