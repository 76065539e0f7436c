//! Where a tile's bytes live: row-major tensors striped over a set of HBM channels.

use super::Requests;
use crate::config::design::{Design, MemoryModel};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// The part of one transfer that one pseudo-channel serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
///
/// 32 bytes, narrow fields where the range allows: the event loop reads every request of
/// every transfer, so its size is simulation speed.
pub struct ChannelRequest {
    /// The pseudo-channel.
    pub channel: u32,
    /// Where the bytes lie in the channel's own address space, for the bank-level model: in
    /// `pieces` contiguous pieces (one per tile row that reaches the channel; one for a
    /// contiguous tile), the first from `address`, each `pitch_bytes` after the one before
    /// (the distance between the first two; exact for row-major tiles whose rows land on
    /// the channel at a constant distance, the common case). Addresses are kept modulo
    /// 4 GiB, beyond any pseudo-channel's capacity. Only a design on the bank-level model
    /// (`memory = "dram"`) gets them; for the others they stay 0 (one piece).
    pub pieces: u32,
    /// Bytes it moves.
    pub bytes: u64,
    /// Bursts: each contiguous run within a stripe, cut at the design's burst size.
    pub bursts: u64,
    /// Where its first piece starts in the channel's address space (bank-level model only).
    pub address: u32,
    /// Bytes from one piece to the next (bank-level model only).
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
pub(crate) struct ChannelRequests<'a> {
    bytes: Vec<u64>,
    bursts: Vec<u64>,
    /// Per channel: contiguous pieces seen, the channel address of the first two, and the
    /// segment (tile row) the last piece came from.
    pieces: Vec<u64>,
    starts: Vec<[u64; 2]>,
    last_segment: Vec<u64>,
    /// The tile's contiguous byte ranges.
    runs: Vec<Run>,
    /// Per channel, the bytes and bursts of one period of a run's rows.
    period_bytes: Vec<u64>,
    period_bursts: Vec<u64>,
    /// The last tile's requests.
    requests: Vec<ChannelRequest>,
    /// On the models that ignore addresses: the channel sets seen, and each tile's requests
    /// by what decides them (its channel set's index, then per run its start within a round
    /// of the set's stripes, length, pitch within a round and count), at most
    /// [`MAX_SHARED_SPLITS`].
    channel_sets: Vec<Vec<u64>>,
    /// The last channel set asked for and its index: tensors take their set from the
    /// design, borrowed for as long as these requests are, so most tiles find the very
    /// same slice here without comparing the channels.
    last_set: Option<(&'a [u64], usize)>,
    shared: FxHashMap<Box<[u64]>, Requests>,
    key: Vec<u64>,
}

/// The most tile shapes and alignments whose requests a lowering keeps for reuse: about 100
/// bytes each besides the list its transfers share (a one-run key's 40 bytes, its pointer,
/// the list's pointer and the table's slot; the graphs measured keep a few hundred).
const MAX_SHARED_SPLITS: usize = 1 << 16;

impl<'a> ChannelRequests<'a> {
    /// Requests per channel to move rows `r0..r1`, columns `c0..c1` of a tensor. On the
    /// models that ignore addresses a tile's split depends only on where its ranges fall
    /// within a round of the set's stripes (a stripe on each channel), so tiles of one shape
    /// and alignment share one list, split once.
    pub(crate) fn tile(
        &mut self,
        design: &Design,
        layout: &TensorLayout<'a>,
        rows: (u64, u64),
        cols: (u64, u64),
    ) -> Requests {
        // The tile's contiguous ranges: the whole tile when it spans whole rows (or whole
        // storage blocks), else each row, as runs of equal ranges.
        let mut runs = std::mem::take(&mut self.runs);
        layout.ranges(rows, cols, &mut runs);
        let requests = if design.memory() == MemoryModel::Dram {
            self.split(design, layout.channels, &runs).into()
        } else {
            self.split_shared(design, layout.channels, &runs)
        };
        self.runs = runs;
        requests
    }

    /// [`ChannelRequests::tile`] on a model that ignores addresses: the list of an earlier
    /// tile that falls alike, else a new one.
    fn split_shared(&mut self, design: &Design, channels: &'a [u64], runs: &[Run]) -> Requests {
        let round = design.placement().stripe_bytes * channels.len() as u64;
        let set = match self.last_set {
            Some((last, set)) if std::ptr::eq(last, channels) => set,
            _ => {
                let set = match self.channel_sets.iter().position(|set| set == channels) {
                    Some(set) => set,
                    None => {
                        self.channel_sets.push(channels.to_vec());
                        self.channel_sets.len() - 1
                    }
                };
                self.last_set = Some((channels, set));
                set
            }
        };
        self.key.clear();
        self.key.push(set as u64);
        for run in runs {
            let pitch = if run.count > 1 {
                run.pitch_bytes % round
            } else {
                0
            };
            let length = run.end - run.start;
            self.key
                .extend([run.start % round, length, pitch, run.count]);
        }
        if let Some(requests) = self.shared.get(self.key.as_slice()) {
            return Arc::clone(requests);
        }
        let requests: Requests = self.split(design, channels, runs).into();
        if self.shared.len() < MAX_SHARED_SPLITS {
            let key = self.key.as_slice().into();
            self.shared.insert(key, Arc::clone(&requests));
        }
        requests
    }

    /// Splits a tile's ranges `runs` over the channel set `channels`.
    fn split(&mut self, design: &Design, channels: &[u64], runs: &[Run]) -> &[ChannelRequest] {
        let set = channels.len() as u64;
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
        for &run in runs {
            self.add_run(run, stripe, burst, set);
        }
        if addresses {
            let ranges = runs.iter().flat_map(|run| run.ranges());
            for (index, range) in ranges.enumerate() {
                self.note_addresses(index as u64, range, stripe, set);
            }
        }
        let requests = &mut self.requests;
        requests.clear();
        let used = channels.iter().enumerate();
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
        let (periods, rest) = (run.count / period, run.count % period);
        if periods > 0 {
            let (once_bytes, once_bursts) = (&mut self.period_bytes, &mut self.period_bursts);
            once_bytes.clear();
            once_bytes.resize(set as usize, 0);
            once_bursts.clear();
            once_bursts.resize(set as usize, 0);
            walk.rows(period, once_bytes, once_bursts);
            let totals = self.bytes.iter_mut().zip(&*once_bytes);
            for (total, once) in totals.chain(self.bursts.iter_mut().zip(&*once_bursts)) {
                *total += once * periods;
            }
        }
        // After whole periods the rows are back on the first row's offset and channel.
        walk.rows(rest, &mut self.bytes, &mut self.bursts);
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
mod tests;
