//! What a run must hold in HBM at once: its weights, the key/value caches later kernels read,
//! and the activations of its largest kernel. A lower bound of the peak (a design may keep
//! more: every layer's outputs, double buffers), so a workload above the capacity cannot run
//! on any design, and one below it may still be tight.

use super::{Encoder, Kernel, Operand, Prefill, Workload};
use std::collections::BTreeMap;

/// Bytes a workload must keep in HBM at once, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HbmFootprint {
    /// Every weight once, at the precision it is stored ([`Workload::parameter_bytes`]).
    pub weight_bytes: u64,
    /// The text layers' key/value caches at their longest, when something reads them after
    /// the prefill (generated tokens, the action expert's cross-attention); 0 otherwise.
    pub kv_cache_bytes: u64,
    /// The largest one kernel's activation operands (inputs and outputs together).
    pub activation_bytes: u64,
}

impl HbmFootprint {
    /// Bytes in all.
    pub fn total_bytes(&self) -> u64 {
        self.weight_bytes
            .saturating_add(self.kv_cache_bytes)
            .saturating_add(self.activation_bytes)
    }
}

impl Workload {
    /// What the workload must hold in HBM at once (see [`HbmFootprint`]).
    pub fn hbm_footprint(&self) -> HbmFootprint {
        HbmFootprint {
            weight_bytes: self.parameter_bytes(),
            kv_cache_bytes: self.kv_cache_bytes(),
            activation_bytes: self
                .kernels
                .iter()
                .map(Kernel::activation_bytes)
                .max()
                .unwrap_or(0),
        }
    }

    /// Per text layer, the largest keys and values one of its attention kernels reads (the
    /// prefix's in the prefill, grown by each token taken one at a time), summed over
    /// layers; 0 when no kernel reads the cache after the kernel that wrote it (a parallel
    /// prefill alone).
    fn kv_cache_bytes(&self) -> u64 {
        let read_later = self.options.decode_tokens > 0
            || self.options.prefill == Prefill::TokenSerial
            || self.encoder_kernels(Encoder::Expert).next().is_some();
        if !read_later {
            return 0;
        }
        let mut per_layer: BTreeMap<u64, [u64; 2]> = BTreeMap::new();
        let text = self
            .kernels
            .iter()
            .filter(|kernel| matches!(kernel.encoder, Encoder::Text | Encoder::Decode));
        for kernel in text {
            let Some(layer) = kernel.layer else { continue };
            let largest = per_layer.entry(layer).or_default();
            for operand in &kernel.operands {
                let slot = match operand.name {
                    "k" => 0,
                    "v" => 1,
                    _ => continue,
                };
                largest[slot] = largest[slot].max(operand.bytes());
            }
        }
        per_layer.values().flatten().sum()
    }
}

impl Kernel {
    /// Bytes of the activations the kernel reads and writes (everything but parameters).
    pub fn activation_bytes(&self) -> u64 {
        self.operands
            .iter()
            .filter(|operand| !operand.is_parameter)
            .map(Operand::bytes)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Source;
    use crate::config::model::load_model;
    use crate::config::precision::PrecisionPair;
    use crate::workload::{Fusion, Prefill, WorkloadChoices};

    const LLAMA_2_7B: &str = include_str!("../../configs/models/llama-2-7b.config.json");

    /// Llama-2-7B, 4-bit weights and 8-bit activations, a `prefix`-token prompt and
    /// `tokens` generated.
    fn llama(prefix: u64, tokens: u64) -> super::HbmFootprint {
        llama_with(prefix, tokens, Prefill::Parallel)
    }

    fn llama_with(prefix: u64, tokens: u64, prefill: Prefill) -> super::HbmFootprint {
        let model = load_model(&Source::built_in("llama", LLAMA_2_7B)).unwrap();
        let choices = WorkloadChoices {
            language_tokens: Some(prefix),
            state_tokens: Some(0),
            batch: 1,
            fusion: Fusion::default(),
            decode_tokens: tokens,
            prefill,
            ..WorkloadChoices::default()
        };
        let precision: PrecisionPair = "int4/int8".parse().unwrap();
        choices
            .build(&model, None, precision)
            .unwrap()
            .hbm_footprint()
    }

    /// The cache by hand: 32 layers × (K and V) × 4,096 features × every token's row at
    /// INT8 (the last generated token's attention reads the prefix, the tokens before it and
    /// its own row). Without generated tokens nothing reads the cache after the prefill,
    /// unless the prefill itself takes the prompt a token at a time.
    /// The largest kernel's activations are the prompt's SiLU × up (gate and up in, their
    /// product out, 11,008 wide). Catches a cache counted per token instead of at its
    /// longest, or summed over every step, and activations summed over kernels.
    #[test]
    fn the_cache_is_every_layers_keys_and_values_at_their_longest() {
        let decoded = llama(100, 28);
        assert_eq!(decoded.kv_cache_bytes, 32 * 2 * 4096 * 128);
        assert_eq!(llama(100, 0).kv_cache_bytes, 0);
        // A prompt taken a token at a time holds its cache across the tokens.
        let serial = llama_with(100, 0, Prefill::TokenSerial);
        assert_eq!(serial.kv_cache_bytes, 32 * 2 * 4096 * 100);
        assert_eq!(decoded.activation_bytes, 3 * 100 * 11008);
        assert_eq!(
            decoded.total_bytes(),
            decoded.weight_bytes + 32 * 2 * 4096 * 128 + 3 * 100 * 11008
        );
    }
}
