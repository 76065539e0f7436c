//! The fabric's and the DRAM's clocks: cycles of one in cycles of the other, exactly (in
//! kHz, so that both clocks are integers).

/// The two clocks of the bank model, in kHz.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Clocks {
    /// The fabric clock (engines, ports), kHz.
    pub(super) fabric_khz: u64,
    /// The DRAM clock, kHz.
    pub(super) dram_khz: u64,
}

impl Clocks {
    /// Clocks of `fabric_hz` and `dram_hz`, to the kHz.
    pub(super) fn new(fabric_hz: f64, dram_hz: f64) -> Self {
        Clocks {
            fabric_khz: (fabric_hz / 1e3).round() as u64,
            dram_khz: (dram_hz / 1e3).round() as u64,
        }
    }

    /// The first DRAM cycle at or after fabric cycle `cycle`.
    pub(super) fn to_dram(self, cycle: u64) -> u64 {
        rescale(cycle, self.dram_khz, self.fabric_khz, true)
    }

    /// The first fabric cycle at or after DRAM cycle `cycle`.
    pub(super) fn to_fabric(self, cycle: u64) -> u64 {
        rescale(cycle, self.fabric_khz, self.dram_khz, true)
    }

    /// The last fabric cycle at or before DRAM cycle `cycle`.
    pub(super) fn to_fabric_floor(self, cycle: u64) -> u64 {
        rescale(cycle, self.fabric_khz, self.dram_khz, false)
    }
}

/// `cycles` of a `from_khz` clock in cycles of a `to_khz` clock, rounded up (or down):
/// in 64-bit arithmetic while the product fits (a 128-bit division is a call of its own,
/// made at every event of the bank model), else in 128-bit.
fn rescale(cycles: u64, to_khz: u64, from_khz: u64, up: bool) -> u64 {
    match cycles.checked_mul(to_khz) {
        Some(product) if up => product.div_ceil(from_khz),
        Some(product) => product / from_khz,
        None => {
            let product = u128::from(cycles) * u128::from(to_khz);
            let from = u128::from(from_khz);
            (if up {
                product.div_ceil(from)
            } else {
                product / from
            }) as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rescale;
    use proptest::prelude::*;

    #[test]
    fn rounds_each_way_and_past_64_bits() {
        // 300 MHz fabric, 900 MHz DRAM: one fabric cycle is three DRAM cycles.
        assert_eq!(rescale(10, 900_000, 300_000, true), 30);
        assert_eq!(rescale(10, 300_000, 900_000, true), 4);
        assert_eq!(rescale(10, 300_000, 900_000, false), 3);
        // The product overflows 64 bits: the 128-bit path gives the exact quotient.
        let cycles = u64::MAX / 1_000;
        assert_eq!(rescale(cycles, 900_000, 900_000, false), cycles);
        assert_eq!(rescale(cycles, 899_999, 900_000, true), {
            let product = u128::from(cycles) * 899_999;
            product.div_ceil(900_000) as u64
        });
    }

    proptest! {
        /// Equal to the 128-bit quotient on both sides of the 64-bit overflow.
        #[test]
        fn is_the_exact_quotient(
            cycles in prop_oneof![0u64..1 << 40, any::<u64>()],
            to_khz in 1u64..2_000_000,
            from_khz in 1u64..2_000_000,
            up in any::<bool>(),
        ) {
            let product = u128::from(cycles) * u128::from(to_khz);
            let from = u128::from(from_khz);
            let exact = if up { product.div_ceil(from) } else { product / from };
            // Past u64 the caller never converts (cycles of a run are far below).
            prop_assume!(exact <= u128::from(u64::MAX));
            prop_assert_eq!(u128::from(rescale(cycles, to_khz, from_khz, up)), exact);
        }
    }
}
