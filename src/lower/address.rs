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

    /// The byte ranges holding rows `r0..r1`, columns `c0..c1`, in order, into `runs`.
    fn ranges(&self, (r0, r1): (u64, u64), (c0, c1): (u64, u64), runs: &mut Vec<Run>) {
        runs.clear();
        let Some((tile_rows, tile_cols)) = self.tile else {
            let row = |r: u64| self.base_elements + r * self.row_elements;
            if c0 == 0 && c1 == self.row_elements {
                let (start, end) = self.bytes(row(r0), row(r1));
                runs.push(Run::one(start, end));
            } else {
                self.rows(row(r0) + c0, c1 - c0, self.row_elements, r1 - r0, runs);
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
                    let (start, end) =
                        self.bytes(at(rows.0, cols.0), at(rows.1 - 1, cols.0) + tile_cols);
                    runs.push(Run::one(start, end));
                } else {
                    let (width, count) = (cols.1 - cols.0, rows.1 - rows.0);
                    self.rows(at(rows.0, cols.0), width, tile_cols, count, runs);
                }
            }
        }
    }

    /// The bytes holding elements `from..to` (at least one byte).
    fn bytes(&self, from: u64, to: u64) -> (u64, u64) {
        let start = from * self.bits / 8;
        (start, (to * self.bits).div_ceil(8).max(start + 1))
    }

    /// `count` ranges of `width` elements from element `first`, each `pitch` elements after
    /// the one before: one run when the pitch is a whole number of bytes (every range then
    /// the first shifted), else a run per range.
    fn rows(&self, first: u64, width: u64, pitch: u64, count: u64, runs: &mut Vec<Run>) {
        if (pitch * self.bits).is_multiple_of(8) {
            let (start, end) = self.bytes(first, first + width);
            runs.push(Run {
                start,
                end,
                pitch_bytes: pitch * self.bits / 8,
                count,
            });
        } else {
            runs.extend((0..count).map(|i| {
                let (start, end) = self.bytes(first + i * pitch, first + i * pitch + width);
                Run::one(start, end)
            }));
        }
    }
}

/// `count` byte ranges of equal length, the first `start..end`, each `pitch_bytes` after the
/// one before: a row-major tile's rows, described without listing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    start: u64,
    end: u64,
    pitch_bytes: u64,
    count: u64,
}

impl Run {
    fn one(start: u64, end: u64) -> Self {
        Run {
            start,
            end,
            pitch_bytes: 0,
            count: 1,
        }
    }

    /// Its ranges in order.
    fn ranges(self) -> impl Iterator<Item = (u64, u64)> {
        (0..self.count).map(move |i| {
            let shift = i * self.pitch_bytes;
            (self.start + shift, self.end + shift)
        })
    }
}

/// Greatest common divisor (`gcd(0, b) = b`).
fn gcd(mut a: u64, mut b: u64) -> u64 {
    while a != 0 {
        (a, b) = (b % a, a);
    }
    b
}

/// The ranges of a [`Run`] walked row by row over a channel set's stripes: what each range
/// adds to each channel's bytes and bursts, with everything that does not change from row
/// to row worked out once.
struct RowWalk {
    set: usize,
    stripe: u64,
    burst: u64,
    length: u64,
    length_bursts: u64,
    stripe_bursts: u64,
    length_rest: u64,
    /// How far the pitch moves a range within a stripe, and in channels.
    pitch_offset: u64,
    pitch_channels: usize,
    /// The first range's offset in its stripe, and its channel.
    offset: u64,
    channel: usize,
    /// A range crossing a stripe boundary: its head fills its first stripe, then come
    /// `whole` stripes and a tail. With the length fixed, only two (whole, rounds of the
    /// set, leftover channels) occur, by whether the offset and the length's remainder
    /// overflow a stripe.
    splits: [(u64, u64, usize); 2],
}

impl RowWalk {
    fn new(run: Run, stripe: u64, burst: u64, set: u64) -> Self {
        let length = run.end - run.start;
        let length_stripes = length / stripe;
        let split = |whole: u64| (whole, whole / set, (whole % set) as usize);
        RowWalk {
            set: set as usize,
            stripe,
            burst,
            length,
            length_bursts: length.div_ceil(burst),
            stripe_bursts: stripe.div_ceil(burst),
            length_rest: length % stripe,
            pitch_offset: run.pitch_bytes % stripe,
            pitch_channels: ((run.pitch_bytes / stripe) % set) as usize,
            offset: run.start % stripe,
            channel: ((run.start / stripe) % set) as usize,
            splits: [
                split(length_stripes.saturating_sub(1)),
                split(length_stripes),
            ],
        }
    }

    fn bursts_of(&self, bytes: u64) -> u64 {
        if self.burst >= self.stripe {
            1
        } else {
            bytes.div_ceil(self.burst)
        }
    }

    /// Adds the first `rows` ranges to `bytes` and `bursts` (per channel of the set).
    fn rows(&self, rows: u64, bytes: &mut [u64], bursts: &mut [u64]) {
        let (set, stripe) = (self.set, self.stripe);
        let (mut offset, mut channel) = (self.offset, self.channel);
        for _ in 0..rows {
            if offset + self.length <= stripe {
                bytes[channel] += self.length;
                bursts[channel] += self.length_bursts;
            } else {
                let head = stripe - offset;
                bytes[channel] += head;
                bursts[channel] += self.bursts_of(head);
                let overflows = self.length_rest + offset >= stripe;
                let (whole, rounds, extra) = self.splits[usize::from(overflows)];
                let tail = if overflows {
                    self.length_rest + offset - stripe
                } else {
                    self.length_rest + offset
                };
                let mut next = channel;
                for step in 0..set.min(whole as usize) {
                    next = if next + 1 == set { 0 } else { next + 1 };
                    let stripes = rounds + u64::from(step < extra);
                    bytes[next] += stripes * stripe;
                    bursts[next] += stripes * self.stripe_bursts;
                }
                if tail > 0 {
                    let mut last = channel + 1 + extra;
                    if last >= set {
                        last -= set;
                    }
                    bytes[last] += tail;
                    bursts[last] += self.bursts_of(tail);
                }
            }
            offset += self.pitch_offset;
            let carry = usize::from(offset >= stripe);
            if offset >= stripe {
                offset -= stripe;
            }
            channel += self.pitch_channels + carry;
            if channel >= set {
                channel -= set;
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
    runs: Vec<Run>,
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
        // The tile's contiguous ranges: the whole tile when it spans whole rows (or whole
        // storage blocks), else each row, as runs of equal ranges.
        let mut runs = std::mem::take(&mut self.runs);
        layout.ranges((r0, r1), (c0, c1), &mut runs);
        for &run in &runs {
            self.add_run(run, stripe, burst, set);
        }
        if addresses {
            let ranges = runs.iter().flat_map(|run| run.ranges());
            for (index, range) in ranges.enumerate() {
                self.note_addresses(index as u64, range, stripe, set);
            }
        }
        self.runs = runs;
        // Sized exactly: a transfer's requests are kept for the whole run.
        let mut requests = Vec::with_capacity(self.bytes.iter().filter(|&&b| b > 0).count());
        let used = layout.channels.iter().enumerate();
        requests.extend(used.filter(|(index, _)| self.bytes[*index] > 0).map(
            |(index, &channel)| {
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
            },
        ));
        requests
    }

    /// Adds each range of `run` to the bytes and bursts of the channels it lies on. A range
    /// is its partial stripes at either end and the whole stripes between, walked channel
    /// by channel when fewer than the set has channels, else in closed form; the next
    /// range's stripe offset and channel follow from the pitch without a division. Ranges
    /// repeat their channels every `period` rows (when the pitch has moved them by whole
    /// rounds of the set's stripes), so a run of many rows walks one period, multiplies it,
    /// and walks the rest: a tile costs O(min(rows, period) × channels a row spans).
    fn add_run(&mut self, run: Run, stripe: u64, burst: u64, set: u64) {
        let round = stripe * set;
        let period = round / gcd(run.pitch_bytes % round, round);
        let walk = RowWalk::new(run, stripe, burst, set);
        if run.count < 2 * period {
            walk.rows(run.count, &mut self.bytes, &mut self.bursts);
            return;
        }
        let before = (self.bytes.clone(), self.bursts.clone());
        walk.rows(period, &mut self.bytes, &mut self.bursts);
        let repeats = run.count / period - 1;
        for (total, before) in [(&mut self.bytes, &before.0), (&mut self.bursts, &before.1)] {
            for (value, &earlier) in total.iter_mut().zip(before) {
                *value += (*value - earlier) * repeats;
            }
        }
        walk.rows(run.count % period, &mut self.bytes, &mut self.bursts);
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
                assert!(seen.insert(ranges[0].start), "({r}, {c}) shares a byte");
                assert!(ranges[0].end <= k * n);
            }
        }
    }

    /// The default design with HBM stripes of `stripe` bytes, bursts of `burst` and
    /// activations on channels 0..set.
    fn striped(stripe: u64, burst: u64, set: u64) -> Design {
        let platform = default_platform();
        load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform)
            .unwrap()
            .modified(&platform, "test", |raw| {
                raw.hbm.stripe_bytes = stripe;
                raw.hbm.burst_bytes = burst;
                raw.hbm.activation_channels = [0, set - 1];
            })
            .unwrap()
    }

    /// Bytes and bursts per channel of byte ranges, walked stripe by stripe: the reference.
    fn walk(
        ranges: impl IntoIterator<Item = (u64, u64)>,
        stripe: u64,
        burst: u64,
        set: u64,
    ) -> (Vec<u64>, Vec<u64>) {
        let (mut bytes, mut bursts) = (vec![0u64; set as usize], vec![0u64; set as usize]);
        for (start, end) in ranges {
            let mut address = start;
            while address < end {
                let piece_end = ((address / stripe + 1) * stripe).min(end);
                let index = ((address / stripe) % set) as usize;
                bytes[index] += piece_end - address;
                bursts[index] += (piece_end - address).div_ceil(burst);
                address = piece_end;
            }
        }
        (bytes, bursts)
    }

    proptest! {
        /// The closed form for whole stripes gives what walking the stripes one by one gives.
        #[test]
        fn whole_stripes_in_closed_form_match_a_walk(
            stripe in 1u64..2000, burst in 1u64..=512, set in 1u64..17,
            start in 0u64..100_000, length in 1u64..100_000,
        ) {
            let design = striped(stripe, burst, set);
            let channels: Vec<u64> = (0..set).collect();
            let layout = TensorLayout::row_major(&channels, 8, start, 1 << 40);
            let requests =
                ChannelRequests::default().tile(&design, &layout, (0, 1), (0, length));
            let (bytes, bursts) = walk([(start, start + length)], stripe, burst, set);
            for request in &requests {
                prop_assert_eq!(request.bytes, bytes[request.channel as usize]);
                prop_assert_eq!(request.bursts, bursts[request.channel as usize]);
            }
            prop_assert_eq!(requests.iter().map(|r| r.bytes).sum::<u64>(), length);
        }

        /// Bytes and bursts per channel of any tile, row-major or tile-major, at 4, 8 or 16
        /// bits, are what walking its ranges stripe by stripe gives: the whole tile when it
        /// spans whole rows, else a range per row (per storage block's rows when tile-major,
        /// a whole block when the tile spans its width), each element where its layout puts
        /// it. Catches a wrong pitch carried from row to row, a range split at the wrong
        /// stripe or channel, or a period of rows multiplied wrongly (power-of-two stripes
        /// and row lengths make periods short).
        #[test]
        fn tile_rows_match_a_walk(
            stripe in prop_oneof![1u64..700, (5u32..10).prop_map(|e| 1u64 << e)],
            burst in 1u64..=512, set in 1u64..9, bits in 0usize..3, base in 0u64..5000,
            row_elements in prop_oneof![1u64..700, (1u64..12).prop_map(|n| 64 * n)],
            rows in (0u64..40, 1u64..300),
            cols in (0u64..900, 1u64..1400), tiled in proptest::option::of((1u64..9, 1u64..90)),
        ) {
            let bits = [4u64, 8, 16][bits];
            let (r0, r1) = (rows.0, rows.0 + rows.1);
            // A fifth of the tiles from column 0, most of those spanning whole rows.
            let c0 = cols.0.saturating_sub(200) % row_elements;
            let c1 = (c0 + cols.1).min(row_elements);
            let design = striped(stripe, burst, set);
            let channels: Vec<u64> = (0..set).collect();
            let layout = match tiled {
                None => TensorLayout::row_major(&channels, bits, base, row_elements),
                Some(tile) => TensorLayout::tile_major(&channels, bits, base, row_elements, tile),
            };
            let requests = ChannelRequests::default().tile(&design, &layout, (r0, r1), (c0, c1));
            // Element ranges as the layout's rule groups them, then their bytes.
            let mut element_ranges: Vec<(u64, u64)> = Vec::new();
            match tiled {
                None if (c0, c1) == (0, row_elements) => element_ranges
                    .push((base + r0 * row_elements, base + r1 * row_elements)),
                None => element_ranges.extend((r0..r1).map(|r| {
                    (base + r * row_elements + c0, base + r * row_elements + c1)
                })),
                Some((tile_rows, tile_cols)) => {
                    let per_row = row_elements.div_ceil(tile_cols);
                    let at = |r: u64, c: u64| {
                        base + ((r / tile_rows) * per_row + c / tile_cols) * tile_rows * tile_cols
                            + (r % tile_rows) * tile_cols
                            + c % tile_cols
                    };
                    for ti in r0 / tile_rows..r1.div_ceil(tile_rows) {
                        let rows = r0.max(ti * tile_rows)..r1.min((ti + 1) * tile_rows);
                        for tj in c0 / tile_cols..c1.div_ceil(tile_cols) {
                            let (from, to) =
                                (c0.max(tj * tile_cols), c1.min((tj + 1) * tile_cols));
                            if to - from == tile_cols {
                                let last = rows.end - 1;
                                element_ranges.push((at(rows.start, from), at(last, to - 1) + 1));
                            } else {
                                element_ranges.extend(
                                    rows.clone().map(|r| (at(r, from), at(r, to - 1) + 1)),
                                );
                            }
                        }
                    }
                }
            }
            let byte_ranges = element_ranges.into_iter().map(|(from, to)| {
                let start = from * bits / 8;
                (start, (to * bits).div_ceil(8).max(start + 1))
            });
            let (bytes, bursts) = walk(byte_ranges, stripe, burst, set);
            let mut got = (vec![0u64; set as usize], vec![0u64; set as usize]);
            for request in &requests {
                got.0[request.channel as usize] = request.bytes;
                got.1[request.channel as usize] = request.bursts;
            }
            prop_assert_eq!(got, (bytes, bursts));
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
