//! Numeric precisions of weights and activations.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A number format an operand is stored in and a MAC unit computes at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    Int4,
    Int8,
    Fp16,
    Bf16,
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

/// Precision of weights and of activations, chosen separately (W4A8 and the like).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PrecisionPair {
    pub weights: Precision,
    pub activations: Precision,
}

impl PrecisionPair {
    /// The same precision for weights and activations.
    pub fn uniform(precision: Precision) -> Self {
        PrecisionPair {
            weights: precision,
            activations: precision,
        }
    }

    /// What a weight × activation MAC computes at: the wider of the two operands
    /// (W4A8 runs on INT8 MACs; INT8 weights with FP16 activations are dequantised to FP16).
    pub fn compute(self) -> Precision {
        if self.weights.bits() > self.activations.bits() {
            self.weights
        } else {
            self.activations
        }
    }
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
    /// `int8` when both agree, else `weights/activations`, e.g. `int4/int8`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weights == self.activations {
            write!(f, "{}", self.weights)
        } else {
            write!(f, "{}/{}", self.weights, self.activations)
        }
    }
}

impl FromStr for PrecisionPair {
    type Err = String;

    /// `int8` (both), or `int4/int8` / `int4:int8` (weights/activations).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once(['/', ':']) {
            Some((weights, activations)) => Ok(PrecisionPair {
                weights: weights.parse()?,
                activations: activations.parse()?,
            }),
            None => text.parse().map(PrecisionPair::uniform),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip_through_text() {
        for text in ["int8", "int4/int8", "fp16", "int8/fp16"] {
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

    #[test]
    fn unknown_precision_is_an_error() {
        assert!("int2".parse::<PrecisionPair>().is_err());
        assert!("int8/fp64".parse::<PrecisionPair>().is_err());
    }
}
