//! Numbers with a fixed count of decimals or of significant digits, written exactly as
//! `format!("{x:.N}")` and `format!("{x:.Ne}")` write them but without their slow path: a
//! chart writes thousands of coordinates and `kernels.csv` eleven such numbers per kernel,
//! and the standard library's exact mode fell back to big-number arithmetic (Dragon4) for
//! many of them (5 % of a default run for the charts alone).

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
            Some(rounded) => write_point(f, value, (rounded, decimals), None),
            None => write!(f, "{value:.decimals$}"),
        }
    }
}

/// `value` in scientific notation with `decimals` digits after the point, byte for byte what
/// `{value:.decimals$e}` writes (no width or fill): the significant digits worked out from
/// the value's exact binary expansion in 128-bit integers, rounded half to even as the
/// standard library rounds. Values beyond that arithmetic's reach (below about 10^-15, more
/// than nine decimals, not finite) go through the standard library.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sci(pub f64, pub usize);

impl fmt::Display for Sci {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Sci(value, decimals) = *self;
        match significant(value, decimals) {
            Some((digits, exponent)) => write_point(f, value, (digits, decimals), Some(exponent)),
            None => write!(f, "{value:.decimals$e}"),
        }
    }
}

/// `digits` with the point `decimals` digits from the right, signed as `value` is, then
/// `e` and the exponent when there is one. Written from the right into one buffer and
/// handed over in one piece: through `write!` and the standard library's integer
/// formatting, this took 11 % of a default run's instructions.
fn write_point(
    f: &mut fmt::Formatter<'_>,
    value: f64,
    (digits, decimals): (u128, usize),
    exponent: Option<i32>,
) -> fmt::Result {
    // The digits of a u128 (39), a point, a sign, `e` and an i32's sign and 10 digits.
    let mut text = [0u8; 53];
    let mut at = text.len();
    let mut put = |byte: u8| {
        at -= 1;
        text[at] = byte;
    };
    // Digits from the right, `rest` as wide as it needs: u64 arithmetic is a native
    // division, u128's a library call.
    fn push_digits(mut rest: u128, mut at_least: usize, put: &mut impl FnMut(u8)) {
        while rest > u128::from(u64::MAX) {
            put(b'0' + (rest % 10) as u8);
            rest /= 10;
            at_least = at_least.saturating_sub(1);
        }
        let mut rest = rest as u64;
        while rest > 0 || at_least > 0 {
            put(b'0' + (rest % 10) as u8);
            rest /= 10;
            at_least = at_least.saturating_sub(1);
        }
    }
    if let Some(exponent) = exponent {
        push_digits(u128::from(exponent.unsigned_abs()), 1, &mut put);
        if exponent < 0 {
            put(b'-');
        }
        put(b'e');
    }
    // Both callers keep to nine decimals, so the scale fits u64 arithmetic as the digits do
    // but for huge values.
    let (whole, fraction) = match u64::try_from(digits) {
        Ok(digits) => {
            let scale = 10u64.pow(decimals as u32);
            (u128::from(digits / scale), u128::from(digits % scale))
        }
        Err(_) => {
            let scale = 10u128.pow(decimals as u32);
            (digits / scale, digits % scale)
        }
    };
    if decimals > 0 {
        push_digits(fraction, decimals, &mut put);
        put(b'.');
    }
    push_digits(whole, 1, &mut put);
    if value.is_sign_negative() {
        put(b'-');
    }
    f.write_str(std::str::from_utf8(&text[at..]).expect("ASCII digits and signs"))
}

/// |value| = mantissa × 2^power, exactly (`None` when not finite).
fn binary(value: f64) -> Option<(u128, i32)> {
    if !value.is_finite() {
        return None;
    }
    let bits = value.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    let fraction = u128::from(bits & ((1 << 52) - 1));
    Some(match exponent {
        0 => (fraction, -1074),
        _ => (fraction | 1 << 52, exponent - 1075),
    })
}

/// `numerator / denominator` rounded half to even. A power of two (every division of a
/// binary fraction) divides by a shift: u128 division is a library call.
fn divided(numerator: u128, denominator: u128) -> u128 {
    let (quotient, remainder) = if denominator.is_power_of_two() {
        let shift = denominator.trailing_zeros();
        (numerator >> shift, numerator & (denominator - 1))
    } else {
        (numerator / denominator, numerator % denominator)
    };
    let up = match (2 * remainder).cmp(&denominator) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => quotient & 1 == 1,
        std::cmp::Ordering::Less => false,
    };
    quotient + u128::from(up)
}

/// |value| × 10^decimals rounded half to even, when 128-bit integers hold it exactly.
fn scaled(value: f64, decimals: usize) -> Option<u128> {
    let (mantissa, power) = binary(value)?;
    if decimals > 9 {
        return None;
    }
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
    Some(divided(product, 1 << shift))
}

/// |value|'s `decimals + 1` significant digits, rounded half to even, and the power of ten
/// of the first, when 128-bit integers hold the arithmetic exactly: |value| is an integer
/// below 2^127, or a fraction mantissa / 2^shift of at least 10^-16 whose scaled mantissa
/// they hold.
fn significant(value: f64, decimals: usize) -> Option<(u128, i32)> {
    let (mantissa, power) = binary(value)?;
    if decimals > 9 {
        return None;
    }
    if mantissa == 0 {
        return Some((0, 0));
    }
    let places = decimals as i32;
    // Ten to the magnitude of `exponent` (a negative one's is a multiplier of the mantissa).
    let ten = |exponent: i32| 10u128.pow(exponent.unsigned_abs());
    let (digits, exponent) = if power >= 0 {
        if power > 73 {
            return None;
        }
        let whole = mantissa << power;
        let exponent = whole.ilog10() as i32;
        let digits = if exponent <= places {
            whole * ten(places - exponent)
        } else {
            divided(whole, ten(exponent - places))
        };
        (digits, exponent)
    } else {
        let shift = power.unsigned_abs();
        if shift >= 128 {
            // Below 2^53 / 2^128 < 10^-22.
            return None;
        }
        // Whether 10^exponent ≤ mantissa / 2^shift (10^16 × 2^53 < 2^107).
        let at_least = |exponent: i32| {
            if exponent >= 0 {
                shift <= 52 && mantissa >= ten(exponent) << shift
            } else {
                mantissa * ten(exponent) >= 1 << shift
            }
        };
        let estimate = (mantissa as f64).log10() - f64::from(shift) * std::f64::consts::LOG10_2;
        let mut exponent = (estimate.floor() as i32).clamp(-16, 16);
        while exponent > -16 && !at_least(exponent) {
            exponent -= 1;
        }
        while exponent < 16 && at_least(exponent + 1) {
            exponent += 1;
        }
        if !at_least(exponent) {
            return None;
        }
        let digits = if exponent <= places {
            divided(mantissa.checked_mul(ten(places - exponent))?, 1 << shift)
        } else {
            divided(mantissa, ten(exponent - places) << shift)
        };
        (digits, exponent)
    };
    // Rounding up to 10^(decimals + 1) moves the point by one.
    Some(if digits == ten(places + 1) {
        (digits / 10, exponent + 1)
    } else {
        (digits, exponent)
    })
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

    /// Scientific notation: ties on the exact binary value round half to even (0.125 and
    /// 0.375 to one decimal, two significant digits, are exact ties; 1.5 and 2.5 to none), a
    /// rounding carry moves the point (9.9999996 to 1.000000e1 and 9999.9996 to
    /// 1.000000e4), and zeros, signs, huge, tiny and non-finite values are the standard
    /// library's.
    #[test]
    fn scientific_ties_carries_and_signs_are_the_standard_librarys() {
        for (value, decimals) in [
            (0.125, 1),
            (0.375, 1),
            (1.5, 0),
            (2.5, 0),
            (9.999_999_6, 6),
            (9_999.999_6, 6),
            (1e15, 6),
            (123_456_789.0, 2),
            (-0.001, 3),
            (-0.0, 6),
            (0.0, 6),
            (1e-300, 6),
            (2.5e-16, 6),
            (3.0e25, 6),
            (f64::MAX, 6),
            (f64::NAN, 6),
            (f64::NEG_INFINITY, 2),
        ] {
            assert_eq!(
                Sci(value, decimals).to_string(),
                format!("{value:.decimals$e}"),
                "{value:e} to {decimals}"
            );
        }
        // The integers take everything the reports write, not the standard library.
        for value in [1e-15, 3.3e-7, 0.5, 1.0, 4.2e12, 1e37] {
            assert!(significant(value, 6).is_some(), "{value:e}");
        }
    }

    proptest! {
        /// Any value, any bit pattern, in scientific notation to 0–12 decimals: the standard
        /// library's text.
        #[test]
        fn any_value_is_written_in_scientific_notation_as_the_standard_library_writes_it(
            bits in any::<u64>(),
            mantissa in 1.0f64..10.0,
            exponent in -20i32..30,
            decimals in 0usize..=12,
        ) {
            let scaled = mantissa * 10f64.powi(exponent);
            for value in [f64::from_bits(bits), scaled, -scaled, (scaled * 1e6).round() / 1e6] {
                prop_assert_eq!(
                    Sci(value, decimals).to_string(),
                    format!("{value:.decimals$e}")
                );
            }
        }

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
