//! Numbers with a fixed count of decimals, written exactly as `format!("{x:.N}")` writes
//! them but without its slow path: a chart writes thousands of coordinates, and the standard
//! library's exact mode fell back to big-number arithmetic (Dragon4) for many of them, 5 %
//! of a default run.

use std::fmt;

/// `value` with `decimals` digits after the point, byte for byte what `{value:.decimals$}`
/// writes (no width or fill): the value's exact binary expansion scaled by 10^decimals in
/// 128-bit integers, rounded half to even as the standard library rounds. Values beyond
/// that arithmetic's reach (above 2^40 times their scale, more than nine decimals, not
/// finite) go through the standard library.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fixed(pub f64, pub usize);

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Fixed(value, decimals) = *self;
        match scaled(value, decimals) {
            Some(rounded) => {
                if value.is_sign_negative() {
                    f.write_str("-")?;
                }
                let scale = 10u128.pow(decimals as u32);
                let (whole, fraction) = (rounded / scale, rounded % scale);
                if decimals == 0 {
                    write!(f, "{whole}")
                } else {
                    write!(f, "{whole}.{fraction:0decimals$}")
                }
            }
            None => write!(f, "{value:.decimals$}"),
        }
    }
}

/// |value| × 10^decimals rounded half to even, when 128-bit integers hold it exactly.
fn scaled(value: f64, decimals: usize) -> Option<u128> {
    if !value.is_finite() || decimals > 9 {
        return None;
    }
    let bits = value.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    let fraction = u128::from(bits & ((1 << 52) - 1));
    // |value| = mantissa × 2^power, exactly.
    let (mantissa, power) = match exponent {
        0 => (fraction, -1074),
        _ => (fraction | 1 << 52, exponent - 1075),
    };
    // Below 2^53 × 10^9 < 2^83.
    let product = mantissa * 10u128.pow(decimals as u32);
    if power >= 0 {
        return (power <= 40).then(|| product << power);
    }
    let shift = power.unsigned_abs();
    if shift >= 128 {
        // Below 2^83 / 2^128: nearer 0 than 1/2.
        return Some(0);
    }
    let (quotient, remainder) = (product >> shift, product & ((1 << shift) - 1));
    let half = 1 << (shift - 1);
    let up = remainder > half || (remainder == half && quotient & 1 == 1);
    Some(quotient + u128::from(up))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Ties round half to even on the exact binary value, as the standard library does:
    /// 0.125 is exact (a tie: 0.12), 0.375 too (0.38), 2.5 to no decimals is 2, 0.15 is
    /// just below 0.15 in binary (0.1); negative values and zeros keep their sign.
    #[test]
    fn ties_and_signs_are_the_standard_librarys() {
        for (value, decimals) in [
            (0.125, 2),
            (0.375, 2),
            (2.5, 0),
            (3.5, 0),
            (0.15, 1),
            (-0.001, 2),
            (-0.0, 1),
            (0.0, 3),
            (1e-320, 2),
            (123_456.789_5, 3),
            (f64::MAX, 2),
            (f64::NAN, 2),
            (f64::INFINITY, 1),
        ] {
            assert_eq!(
                Fixed(value, decimals).to_string(),
                format!("{value:.decimals$}"),
                "{value:e} to {decimals}"
            );
        }
    }

    proptest! {
        /// Any finite or not value, any bit pattern, to 0–12 decimals: the standard
        /// library's text.
        #[test]
        fn any_value_is_written_as_the_standard_library_writes_it(
            bits in any::<u64>(),
            small in -1e6f64..1e6,
            decimals in 0usize..=12,
        ) {
            for value in [f64::from_bits(bits), small, small / 1024.0, small.round() / 8.0] {
                prop_assert_eq!(
                    Fixed(value, decimals).to_string(),
                    format!("{value:.decimals$}")
                );
            }
        }
    }
}
