//! Where a tile's bytes live: row-major tensors striped over a set of HBM channels.

use crate::config::design::Design;

/// The part of one transfer that one pseudo-channel serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelRequest {
    pub channel: u64,
    pub bytes: u64,
    /// Bursts: each contiguous run within a stripe, cut at the design's burst size.
    pub bursts: u64,
}

/// A row-major tensor placed from element `base_elements` of a channel set's address space.
pub(crate) struct TensorLayout<'a> {
    channels: &'a [u64],
    bits: u64,
    base_elements: u64,
    row_elements: u64,
}

impl<'a> TensorLayout<'a> {
    pub(crate) fn row_major(
        channels: &'a [u64],
        bits: u64,
        base_elements: u64,
        row_elements: u64,
    ) -> Self {
        TensorLayout {
            channels,
            bits,
            base_elements,
            row_elements,
        }
    }

    fn byte_address(&self, row: u64, col: u64) -> u64 {
        (self.base_elements + row * self.row_elements + col) * self.bits / 8
    }
}

/// Reusable scratch space for splitting tiles into channel requests.
#[derive(Default)]
pub(crate) struct ChannelRequests {
    bytes: Vec<u64>,
    bursts: Vec<u64>,
}

impl ChannelRequests {
    /// Requests per channel to move rows `r0..r1`, columns `c0..c1` of a tensor.
    pub(crate) fn tile(
        &mut self,
        design: &Design,
        layout: &TensorLayout,
        (r0, r1): (u64, u64),
        (c0, c1): (u64, u64),
    ) -> Vec<ChannelRequest> {
        let set = layout.channels.len() as u64;
        self.bytes.clear();
        self.bytes.resize(set as usize, 0);
        self.bursts.clear();
        self.bursts.resize(set as usize, 0);
        let stripe = design.placement().stripe_bytes;
        let burst = design.placement().burst_bytes;
        // Bytes and bursts on each channel of a contiguous range: the partial stripes at its
        // ends one by one, the whole stripes between them in closed form (so a transfer costs
        // O(channels), whatever its length).
        let burst_per_stripe = stripe.div_ceil(burst);
        let mut segment = |start: u64, end: u64| {
            let mut piece = |from: u64, to: u64| {
                let index = ((from / stripe) % set) as usize;
                self.bytes[index] += to - from;
                self.bursts[index] += (to - from).div_ceil(burst);
            };
            let first_stripe = start / stripe;
            let last_stripe = (end - 1) / stripe;
            if first_stripe == last_stripe {
                piece(start, end);
                return;
            }
            piece(start, (first_stripe + 1) * stripe);
            piece(last_stripe * stripe, end);
            // Whole stripes first_stripe + 1 .. last_stripe: stripe i lies on channel i % set.
            let below = |n: u64, channel: u64| n / set + u64::from(channel < n % set);
            for channel in 0..set {
                let whole = below(last_stripe, channel) - below(first_stripe + 1, channel);
                self.bytes[channel as usize] += whole * stripe;
                self.bursts[channel as usize] += whole * burst_per_stripe;
            }
        };
        if c0 == 0 && c1 == layout.row_elements {
            segment(
                layout.byte_address(r0, 0),
                layout
                    .byte_address(r1, 0)
                    .max(layout.byte_address(r0, 0) + 1),
            );
        } else {
            for row in r0..r1 {
                let start = layout.byte_address(row, c0);
                let end = (layout.base_elements + row * layout.row_elements + c1) * layout.bits;
                segment(start, end.div_ceil(8).max(start + 1));
            }
        }
        layout
            .channels
            .iter()
            .enumerate()
            .filter(|(index, _)| self.bytes[*index] > 0)
            .map(|(index, &channel)| ChannelRequest {
                channel,
                bytes: self.bytes[index],
                bursts: self.bursts[index],
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Source;
    use crate::config::design::{DEFAULT_DESIGN, load_design};
    use crate::config::platform::default_platform;
    use proptest::prelude::*;

    proptest! {
        /// The closed form for whole stripes gives what walking the stripes one by one gives.
        #[test]
        fn whole_stripes_in_closed_form_match_a_walk(
            stripe in 1u64..2000, burst in 1u64..=512, set in 1u64..17,
            start in 0u64..100_000, length in 1u64..100_000,
        ) {
            let platform = default_platform();
            let design = load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform)
                .unwrap()
                .modified(&platform, "test", |raw| {
                    raw.hbm.stripe_bytes = stripe;
                    raw.hbm.burst_bytes = burst;
                    raw.hbm.activation_channels = [0, set - 1];
                })
                .unwrap();
            let channels: Vec<u64> = (0..set).collect();
            let layout = TensorLayout::row_major(&channels, 8, start, 1 << 40);
            let requests =
                ChannelRequests::default().tile(&design, &layout, (0, 1), (0, length));
            let (mut bytes, mut bursts) = (vec![0u64; set as usize], vec![0u64; set as usize]);
            let mut address = start;
            while address < start + length {
                let piece_end = ((address / stripe + 1) * stripe).min(start + length);
                let index = ((address / stripe) % set) as usize;
                bytes[index] += piece_end - address;
                bursts[index] += (piece_end - address).div_ceil(burst);
                address = piece_end;
            }
            for request in &requests {
                prop_assert_eq!(request.bytes, bytes[request.channel as usize]);
                prop_assert_eq!(request.bursts, bursts[request.channel as usize]);
            }
            prop_assert_eq!(requests.iter().map(|r| r.bytes).sum::<u64>(), length);
        }
    }
}
