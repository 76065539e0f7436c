//! Numeric precisions of weights and activations.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A number format an operand is stored in and a MAC unit computes at.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 4-bit integers.
    Int4,
    /// 8-bit integers.
    Int8,
    /// IEEE half precision.
    Fp16,
    /// bfloat16.
    Bf16,
    /// IEEE single precision.
    Fp32,
}

impl Precision {
    /// Every precision roofsim models, narrowest first.
    pub const ALL: [Precision; 5] = [
        Precision::Int4,
        Precision::Int8,
        Precision::Fp16,
        Precision::Bf16,
        Precision::Fp32,
    ];

    /// Storage width of one element.
    pub fn bits(self) -> u64 {
        match self {
            Precision::Int4 => 4,
            Precision::Int8 => 8,
            Precision::Fp16 | Precision::Bf16 => 16,
            Precision::Fp32 => 32,
        }
    }

    /// Width of parameter vectors (biases, norm scales) stored next to weights of this
    /// precision: integer GEMMs accumulate and add biases in int32, float ones at their width.
    pub fn parameter_vector_bits(self) -> u64 {
        match self {
            Precision::Int4 | Precision::Int8 => 32,
            other => other.bits(),
        }
    }

    /// The name configs and tables use.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Int4 => "int4",
            Precision::Int8 => "int8",
            Precision::Fp16 => "fp16",
            Precision::Bf16 => "bf16",
            Precision::Fp32 => "fp32",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precision {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Precision::ALL
            .into_iter()
            .find(|precision| precision.name() == text)
            .ok_or_else(|| {
                format!("unknown precision `{text}` (expected fp32, fp16, bf16, int8 or int4)")
            })
    }
}

/// Precision of weights, of activations and of attention's keys and values (the key/value
/// cache), chosen separately (W4A8, or W4A8 with an FP16 cache as FlightLLM keeps it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PrecisionPair {
    /// Weights' precision.
    pub weights: Precision,
    /// Activations' precision.
    pub activations: Precision,
    /// What attention reads its keys and values at; the activations' unless given.
    pub kv_cache: Precision,
}

impl PrecisionPair {
    /// The same precision for weights, activations and the cache.
    pub fn uniform(precision: Precision) -> Self {
        PrecisionPair::split(precision, precision)
    }

    /// Weights and activations at their own precisions, the cache at the activations'.
    pub fn split(weights: Precision, activations: Precision) -> Self {
        PrecisionPair {
            weights,
            activations,
            kv_cache: activations,
        }
    }

    /// What a weight × activation MAC computes at: the wider of the two operands
    /// (W4A8 runs on INT8 MACs; INT8 weights with FP16 activations are dequantised to FP16).
    pub fn compute(self) -> Precision {
        wider(self.weights, self.activations)
    }

    /// What attention computes at: the wider of the activations (queries, probabilities)
    /// and the cache (keys, values).
    pub fn attention(self) -> Precision {
        wider(self.activations, self.kv_cache)
    }
}

fn wider(a: Precision, b: Precision) -> Precision {
    if a.bits() > b.bits() { a } else { b }
}

impl PrecisionPair {
    /// Precisions from comma-separated lists (`int8,int4/int8`), each once, in order.
    pub fn parse_list(values: &[String]) -> Result<Vec<PrecisionPair>, String> {
        let mut precisions = Vec::new();
        for text in values.iter().flat_map(|value| value.split(',')) {
            let precision: PrecisionPair = text.trim().parse()?;
            if !precisions.contains(&precision) {
                precisions.push(precision);
            }
        }
        Ok(precisions)
    }
}

impl fmt::Display for PrecisionPair {
    /// `int8` when all agree, else `weights/activations` (`int4/int8`), with the cache's
    /// precision third when it differs from the activations' (`int4/int8/fp16`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kv_cache != self.activations {
            write!(f, "{}/{}/{}", self.weights, self.activations, self.kv_cache)
        } else if self.weights == self.activations {
            write!(f, "{}", self.weights)
        } else {
            write!(f, "{}/{}", self.weights, self.activations)
        }
    }
}

impl FromStr for PrecisionPair {
    type Err = String;

    /// `int8` (all), `int4/int8` (weights/activations, the cache at the activations'), or
    /// `int4/int8/fp16` (weights/activations/cache); `:` separates as `/` does.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split(['/', ':']).collect();
        match parts[..] {
            [all] => all.parse().map(PrecisionPair::uniform),
            [weights, activations] => {
                Ok(PrecisionPair::split(weights.parse()?, activations.parse()?))
            }
            [weights, activations, kv_cache] => Ok(PrecisionPair {
                weights: weights.parse()?,
                activations: activations.parse()?,
                kv_cache: kv_cache.parse()?,
            }),
            _ => Err(format!(
                "`{text}` has more than three parts (expected weights/activations/kv-cache)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip_through_text() {
        for text in [
            "int8",
            "int4/int8",
            "fp16",
            "int8/fp16",
            "int4/int8/fp16",
            "fp16/fp16/int8",
        ] {
            let pair: PrecisionPair = text.parse().unwrap();
            assert_eq!(pair.to_string(), text);
        }
        assert_eq!(
            "int4:int8".parse::<PrecisionPair>().unwrap().to_string(),
            "int4/int8"
        );
    }

    #[test]
    fn compute_precision_is_the_wider_operand() {
        let w4a8: PrecisionPair = "int4/int8".parse().unwrap();
        assert_eq!(w4a8.compute(), Precision::Int8);
        let w8a16: PrecisionPair = "int8/fp16".parse().unwrap();
        assert_eq!(w8a16.compute(), Precision::Fp16);
    }

    /// The cache defaults to the activations' precision; given, attention computes at the
    /// wider of the two, the weights' GEMMs do not see it.
    #[test]
    fn the_cache_has_a_precision_of_its_own() {
        let w4a8: PrecisionPair = "int4/int8".parse().unwrap();
        assert_eq!(w4a8.kv_cache, Precision::Int8);
        let fp16_cache: PrecisionPair = "int4/int8/fp16".parse().unwrap();
        assert_eq!(fp16_cache.kv_cache, Precision::Fp16);
        assert_eq!(fp16_cache.attention(), Precision::Fp16);
        assert_eq!(fp16_cache.compute(), Precision::Int8);
        assert_eq!(
            "int8/int8/int8"
                .parse::<PrecisionPair>()
                .unwrap()
                .to_string(),
            "int8"
        );
    }

    #[test]
    fn unknown_precision_is_an_error() {
        assert!("int2".parse::<PrecisionPair>().is_err());
        assert!("int8/fp64".parse::<PrecisionPair>().is_err());
        assert!("int4/int8/fp16/fp32".parse::<PrecisionPair>().is_err());
    }
}
