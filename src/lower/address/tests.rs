//! Channel requests against reference walks: bytes, bursts and addresses per channel.

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
        for request in requests.iter() {
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
        for request in requests.iter() {
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
        for request in requests.iter() {
            let walked = &starts[request.channel as usize];
            prop_assert_eq!(u64::from(request.pieces), walked.len() as u64);
            prop_assert_eq!(u64::from(request.address), walked[0]);
            let pitch = if walked.len() > 1 { walked[1] - walked[0] } else { 0 };
            prop_assert_eq!(u64::from(request.pitch_bytes), pitch);
        }
    }
}

proptest! {
    /// A split kept for reuse is the split a fresh tile gets: tiles of a few shapes at
    /// bases a whole round of stripes apart (which share a split), a fraction of a round
    /// apart (which do not), over two channel sets of one size in different orders. Catches
    /// a key that misses the start within the round, the pitch, the length, the row count
    /// or the channel set.
    #[test]
    fn a_shared_split_is_the_fresh_one(
        stripe in prop_oneof![1u64..700, (5u32..10).prop_map(|e| 1u64 << e)],
        set in 1u64..9, bits in 0usize..3,
        row_elements in prop_oneof![1u64..700, (1u64..12).prop_map(|n| 64 * n)],
        tiles in proptest::collection::vec(
            (0u64..4, 0u64..3, 0u64..3, any::<bool>(), 0u64..2), 1..40),
    ) {
        let bits = [4u64, 8, 16][bits];
        let design = striped(stripe, 64, set);
        let forward: Vec<u64> = (0..set).collect();
        let backward: Vec<u64> = (0..set).rev().collect();
        let round_elements = stripe * set * 8 / bits;
        let mut shared = ChannelRequests::default();
        for (shift, shape, rows, whole, order) in tiles {
            let base = shift / 2 * round_elements + shift % 2 * 3;
            let channels = if order == 0 { &forward } else { &backward };
            let layout = TensorLayout::row_major(channels, bits, base, row_elements);
            let cols = if whole { (0, row_elements) } else { (shape.min(row_elements - 1), row_elements) };
            let rows = (rows, rows + 1 + shape * 5);
            let fresh = ChannelRequests::default().tile(&design, &layout, rows, cols);
            prop_assert_eq!(shared.tile(&design, &layout, rows, cols), fresh);
        }
    }
}
