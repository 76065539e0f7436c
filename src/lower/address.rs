//! Where a tile's bytes live: row-major tensors striped over a set of HBM channels.

use crate::config::design::{Design, MemoryModel};

/// The part of one transfer that one pseudo-channel serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
///
/// 32 bytes, narrow fields where the range allows: the event loop reads every request of
/// every transfer, so its size is simulation speed.
pub struct ChannelRequest {
    pub channel: u32,
    /// Where the bytes lie in the channel's own address space, for the bank-level model: in
    /// `pieces` contiguous pieces (one per tile row that reaches the channel; one for a
    /// contiguous tile), the first from `address`, each `pitch_bytes` after the one before
    /// (the distance between the first two; exact for row-major tiles whose rows land on
    /// the channel at a constant distance, the common case). Addresses are kept modulo
    /// 4 GiB, beyond any pseudo-channel's capacity. Only a design on the bank-level model
    /// (`memory = "dram"`) gets them; for the others they stay 0 (one piece).
    pub pieces: u32,
    pub bytes: u64,
    /// Bursts: each contiguous run within a stripe, cut at the design's burst size.
    pub bursts: u64,
    pub address: u32,
    pub pitch_bytes: u32,
}

impl ChannelRequest {
    /// A contiguous request of `bytes` from `address`, cut into `bursts` bursts.
    pub fn contiguous(channel: u64, address: u64, bytes: u64, bursts: u64) -> Self {
        ChannelRequest {
            channel: channel as u32,
            pieces: 1,
            bytes,
            bursts,
            address: address as u32,
            pitch_bytes: 0,
        }
    }
}

/// A tensor placed from element `base_elements` of a channel set's address space: row after
/// row, or (tile-major) in `tile` blocks of rows × columns, each block contiguous and row
/// after row inside, the blocks in row-major order (edge blocks padded to the full size).
pub(crate) struct TensorLayout<'a> {
    channels: &'a [u64],
    bits: u64,
    base_elements: u64,
    row_elements: u64,
    tile: Option<(u64, u64)>,
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
            tile: None,
        }
    }

    /// A matrix of `row_elements` columns stored in `tile` (rows, columns) blocks.
    pub(crate) fn tile_major(
        channels: &'a [u64],
        bits: u64,
        base_elements: u64,
        row_elements: u64,
        tile: (u64, u64),
    ) -> Self {
        TensorLayout {
            tile: Some(tile),
            ..Self::row_major(channels, bits, base_elements, row_elements)
        }
    }

    /// The byte ranges holding rows `r0..r1`, columns `c0..c1`, in order, into `ranges`.
    fn ranges(&self, (r0, r1): (u64, u64), (c0, c1): (u64, u64), ranges: &mut Vec<(u64, u64)>) {
        ranges.clear();
        let bytes = |from: u64, to: u64| {
            let start = from * self.bits / 8;
            (start, (to * self.bits).div_ceil(8).max(start + 1))
        };
        let Some((tile_rows, tile_cols)) = self.tile else {
            let row = |r: u64| self.base_elements + r * self.row_elements;
            if c0 == 0 && c1 == self.row_elements {
                let start = row(r0) * self.bits / 8;
                ranges.push((start, (row(r1) * self.bits / 8).max(start + 1)));
            } else {
                ranges.extend((r0..r1).map(|r| bytes(row(r) + c0, row(r) + c1)));
            }
            return;
        };
        let tiles_per_row = self.row_elements.div_ceil(tile_cols);
        let tile_elements = tile_rows * tile_cols;
        for ti in r0 / tile_rows..r1.div_ceil(tile_rows) {
            let rows = (r0.max(ti * tile_rows), r1.min((ti + 1) * tile_rows));
            for tj in c0 / tile_cols..c1.div_ceil(tile_cols) {
                let cols = (c0.max(tj * tile_cols), c1.min((tj + 1) * tile_cols));
                let block = self.base_elements + (ti * tiles_per_row + tj) * tile_elements;
                let at =
                    |r: u64, c: u64| block + (r - ti * tile_rows) * tile_cols + c - tj * tile_cols;
                if cols == (tj * tile_cols, (tj + 1) * tile_cols) {
                    ranges.push(bytes(
                        at(rows.0, cols.0),
                        at(rows.1 - 1, cols.0) + tile_cols,
                    ));
                } else {
                    ranges.extend(
                        (rows.0..rows.1).map(|r| bytes(at(r, cols.0), at(r, cols.1 - 1) + 1)),
                    );
                }
            }
        }
    }
}

/// Reusable scratch space for splitting tiles into channel requests.
#[derive(Default)]
pub(crate) struct ChannelRequests {
    bytes: Vec<u64>,
    bursts: Vec<u64>,
    /// Per channel: contiguous pieces seen, the channel address of the first two, and the
    /// segment (tile row) the last piece came from.
    pieces: Vec<u64>,
    starts: Vec<[u64; 2]>,
    last_segment: Vec<u64>,
    /// The tile's contiguous byte ranges.
    ranges: Vec<(u64, u64)>,
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
        // Only the bank-level model reads addresses; the others skip their bookkeeping.
        let addresses = design.memory() == MemoryModel::Dram;
        let tracked = if addresses { set as usize } else { 0 };
        self.pieces.clear();
        self.pieces.resize(tracked, 0);
        self.starts.clear();
        self.starts.resize(tracked, [0; 2]);
        self.last_segment.clear();
        self.last_segment.resize(tracked, u64::MAX);
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
        // The tile's contiguous ranges: the whole tile when it spans whole rows (or whole
        // storage blocks), else each row.
        let mut ranges = std::mem::take(&mut self.ranges);
        layout.ranges((r0, r1), (c0, c1), &mut ranges);
        for &(start, end) in &ranges {
            segment(start, end);
        }
        if addresses {
            for (index, &range) in ranges.iter().enumerate() {
                self.note_addresses(index as u64, range, stripe, set);
            }
        }
        self.ranges = ranges;
        layout
            .channels
            .iter()
            .enumerate()
            .filter(|(index, _)| self.bytes[*index] > 0)
            .map(|(index, &channel)| {
                let [first, second] = self.starts.get(index).copied().unwrap_or_default();
                let pieces = self.pieces.get(index).copied().unwrap_or_default();
                // Narrowed as the struct says: a channel index, row counts, and addresses
                // within a pseudo-channel.
                ChannelRequest {
                    channel: channel as u32,
                    pieces: pieces.min(u64::from(u32::MAX)) as u32,
                    bytes: self.bytes[index],
                    bursts: self.bursts[index],
                    address: first as u32,
                    pitch_bytes: if pieces > 1 {
                        second.saturating_sub(first).min(u64::from(u32::MAX)) as u32
                    } else {
                        0
                    },
                }
            })
            .collect()
    }

    /// Records, for the bank-level model, where segment `segment_index` (a tile row, or the
    /// whole contiguous tile) lies on each channel: its lowest channel address there starts
    /// the channel's piece of it (a segment's part on one channel is contiguous there).
    fn note_addresses(
        &mut self,
        segment_index: u64,
        (start, end): (u64, u64),
        stripe: u64,
        set: u64,
    ) {
        let mut touch = |index: usize, address: u64| {
            if self.last_segment[index] != segment_index {
                self.last_segment[index] = segment_index;
                self.pieces[index] += 1;
                if self.pieces[index] <= 2 {
                    self.starts[index][self.pieces[index] as usize - 1] = address;
                }
            } else if self.pieces[index] <= 2 {
                let start = &mut self.starts[index][self.pieces[index] as usize - 1];
                *start = (*start).min(address);
            }
        };
        // Stripe `i` lies on channel `i % set`, after the `i / set` stripes before it there.
        let mut piece = |from: u64| {
            let stripe_index = from / stripe;
            let local = stripe_index / set * stripe + (from - stripe_index * stripe);
            touch((stripe_index % set) as usize, local);
        };
        let first_stripe = start / stripe;
        let last_stripe = (end - 1) / stripe;
        piece(start);
        if first_stripe == last_stripe {
            return;
        }
        piece(last_stripe * stripe);
        // Whole stripes between: the first on each channel is its round `rounds` (or the
        // next, for channels the range starts after), if the range reaches it.
        let (rounds, rest) = ((first_stripe + 1) / set, (first_stripe + 1) % set);
        for channel in 0..set {
            let round = rounds + u64::from(channel < rest);
            if round * set + channel < last_stripe {
                touch(channel as usize, round * stripe);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Source;
    use crate::config::design::{DEFAULT_DESIGN, load_design};
    use crate::config::platform::default_platform;
    use proptest::prelude::*;

    /// A 768 x 64 INT8 weight tile of a 768 x 2560 matrix: row-major it is 768 runs of
    /// 64 bytes a row's 2,560 bytes apart (a burst each); tile-major it is one 48 KiB run
    /// (96 bursts of 512 B), striped evenly over the channel set. Every element of the
    /// matrix sits at one address either way (the tile-major blocks tile the matrix).
    #[test]
    fn a_tile_major_weight_tile_is_one_long_run() {
        let platform = default_platform();
        let design = load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform).unwrap();
        let channels: Vec<u64> = (0..16).collect();
        let (k, n, tile) = (768u64, 2560u64, (768u64, 64u64));
        let mut requests = ChannelRequests::default();
        let row_major = TensorLayout::row_major(&channels, 8, 0, n);
        let tiled = TensorLayout::tile_major(&channels, 8, 0, n, tile);
        let block = ((0, 768), (128, 192));
        let sum = |requests: &[ChannelRequest]| {
            let bytes: u64 = requests.iter().map(|r| r.bytes).sum();
            let bursts: u64 = requests.iter().map(|r| r.bursts).sum();
            (bytes, bursts)
        };
        let plain = requests.tile(&design, &row_major, block.0, block.1);
        assert_eq!(sum(&plain), (768 * 64, 768));
        let long = requests.tile(&design, &tiled, block.0, block.1);
        assert_eq!(sum(&long), (768 * 64, 96));
        assert_eq!(long.len(), 16);
        assert!(long.iter().all(|r| r.bytes == 768 * 64 / 16));
        // The blocks cover the matrix once: every element's byte is distinct.
        let mut ranges = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for r in (0..k).step_by(97) {
            for c in (0..n).step_by(101) {
                tiled.ranges((r, r + 1), (c, c + 1), &mut ranges);
                assert_eq!(ranges.len(), 1);
                assert!(seen.insert(ranges[0].0), "({r}, {c}) shares a byte");
                assert!(ranges[0].1 <= k * n);
            }
        }
    }

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

        /// Each channel's pieces, their first address and pitch are what walking the tile's
        /// rows byte range by byte range gives, in the channel's own address space.
        #[test]
        fn channel_addresses_match_a_walk(
            stripe in 1u64..600, set in 1u64..9, base in 0u64..5000,
            row_elements in 1u64..3000, rows in 1u64..6, (c0, width) in (0u64..1000, 1u64..1000),
        ) {
            let c0 = c0 % row_elements;
            let c1 = (c0 + width).min(row_elements);
            let platform = default_platform();
            let design = load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform)
                .unwrap()
                .modified(&platform, "test", |raw| {
                    raw.hbm.stripe_bytes = stripe;
                    raw.hbm.activation_channels = [0, set - 1];
                    raw.memory = MemoryModel::Dram;
                })
                .unwrap();
            let channels: Vec<u64> = (0..set).collect();
            let layout = TensorLayout::row_major(&channels, 8, base, row_elements);
            let requests =
                ChannelRequests::default().tile(&design, &layout, (0, rows), (c0, c1));
            // Walk: per channel, the lowest channel address each row reaches it at.
            let mut starts: Vec<Vec<u64>> = vec![Vec::new(); set as usize];
            let whole_rows = c0 == 0 && c1 == row_elements;
            let ranges: Vec<(u64, u64)> = if whole_rows {
                vec![(base, base + rows * row_elements)]
            } else {
                (0..rows)
                    .map(|r| (base + r * row_elements + c0, base + r * row_elements + c1))
                    .collect()
            };
            for (from, to) in ranges {
                let mut lowest: Vec<Option<u64>> = vec![None; set as usize];
                for address in from..to {
                    let channel = ((address / stripe) % set) as usize;
                    let local = address / stripe / set * stripe + address % stripe;
                    let entry = &mut lowest[channel];
                    *entry = Some(entry.map_or(local, |l: u64| l.min(local)));
                }
                for (channel, start) in lowest.into_iter().enumerate() {
                    starts[channel].extend(start);
                }
            }
            for request in &requests {
                let walked = &starts[request.channel as usize];
                prop_assert_eq!(u64::from(request.pieces), walked.len() as u64);
                prop_assert_eq!(u64::from(request.address), walked[0]);
                let pitch = if walked.len() > 1 { walked[1] - walked[0] } else { 0 };
                prop_assert_eq!(u64::from(request.pitch_bytes), pitch);
            }
        }
    }
}
