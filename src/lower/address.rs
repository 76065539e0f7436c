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
        let mut segment = |start: u64, end: u64| {
            let mut address = start;
            while address < end {
                let stripe_end = (address / stripe + 1) * stripe;
                let piece_end = stripe_end.min(end);
                let index = ((address / stripe) % set) as usize;
                self.bytes[index] += piece_end - address;
                self.bursts[index] += (piece_end - address).div_ceil(burst);
                address = piece_end;
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
