//! The sweep's printed summary: skipped points by rule, best points, the front, and how the
//! prescreen's ranking compares with the simulation's.

use super::pareto::pareto_front;
use super::{SweepEntry, best_entry, faster};
use std::fmt::Write as _;

/// A reason split into its text and its standalone numbers (`136` in `DSPs 136%`, but not the
/// `8` of `int8`).
fn reason_parts(reason: &str) -> (String, Vec<f64>) {
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
    let (mut shape, mut numbers) = (String::new(), Vec::new());
    let mut rest = reason;
    while let Some(first) = rest.chars().next() {
        // Whole words (`int8`, `64x64`, `136`) or single other characters (`%`, ` `).
        let length = if word(first) {
            rest.find(|c| !word(c)).unwrap_or(rest.len())
        } else {
            first.len_utf8()
        };
        let (token, tail) = rest.split_at(length);
        match token.parse::<f64>() {
            Ok(number) if first.is_ascii_digit() => {
                shape.push('\u{0}');
                numbers.push(number);
            }
            _ => shape.push_str(token),
        }
        rest = tail;
    }
    (shape, numbers)
}

/// Skipped points grouped by the rule they broke, each number shown as the range it took
/// in the group (`DSPs 80–136% over the 75% budget`), most frequent first.
pub fn skip_reasons(entries: &[SweepEntry]) -> Vec<(String, usize)> {
    // (reason with its numbers taken out, points, range of each number)
    type Group = (String, usize, Vec<(f64, f64)>);
    let mut groups: Vec<Group> = Vec::new();
    for reason in entries.iter().filter_map(|e| e.reason.as_deref()) {
        let (shape, numbers) = reason_parts(reason);
        match groups.iter_mut().find(|(s, _, _)| *s == shape) {
            Some((_, count, ranges)) => {
                *count += 1;
                for (range, number) in ranges.iter_mut().zip(numbers) {
                    *range = (range.0.min(number), range.1.max(number));
                }
            }
            None => groups.push((shape, 1, numbers.iter().map(|&n| (n, n)).collect())),
        }
    }
    groups.sort_by_key(|group| std::cmp::Reverse(group.1));
    groups
        .into_iter()
        .map(|(shape, count, ranges)| {
            let number = |n: f64| format!("{n}");
            let mut text = String::new();
            for (i, piece) in shape.split('\u{0}').enumerate() {
                if i > 0 {
                    let (low, high) = ranges[i - 1];
                    text.push_str(&if low == high {
                        number(low)
                    } else {
                        format!("{}–{}", number(low), number(high))
                    });
                }
                text.push_str(piece);
            }
            (text, count)
        })
        .collect()
}

/// Columns of [`ranked_rows`].
pub const RANKED_COLUMNS: [&str; 7] = [
    "point",
    "ms",
    "ms/camera",
    "DSPs",
    "efficiency",
    "bottleneck",
    "parameters",
];

/// The simulated points, fastest first (ties: fewer DSPs, then lower index), as table rows.
pub fn ranked_rows(entries: &[SweepEntry]) -> Vec<Vec<String>> {
    let mut ranked: Vec<&SweepEntry> = entries.iter().filter(|e| e.reason.is_none()).collect();
    ranked.sort_by(|a, b| faster(a, b));
    ranked
        .iter()
        .map(|entry| {
            let values: Vec<String> = entry
                .values
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            vec![
                entry.point.to_string(),
                format!("{:.3}", entry.total_ms),
                entry
                    .ms_per_camera
                    .map(|m| format!("{m:.3}"))
                    .unwrap_or_else(|| "-".into()),
                entry.dsps.to_string(),
                format!("{:.1}%", 100.0 * entry.efficiency),
                entry.bottleneck.clone(),
                values.join(" "),
            ]
        })
        .collect()
}

/// Printed summary: best points, the front, skipped points by reason, prescreen agreement.
pub fn sweep_summary(entries: &[SweepEntry]) -> String {
    let mut out = String::new();
    let simulated: Vec<&SweepEntry> = entries.iter().filter(|e| e.reason.is_none()).collect();
    let skipped = entries.len() - simulated.len();
    let _ = writeln!(
        out,
        "{} points: {} simulated, {} skipped",
        entries.len(),
        simulated.len(),
        skipped
    );
    for (reason, count) in skip_reasons(entries) {
        let _ = writeln!(out, "  skipped {count}: {reason}");
    }
    let _ = writeln!(out, "\nbest points (latency per step):");
    let rows = ranked_rows(entries);
    out.push_str(&crate::report::table::aligned(
        &RANKED_COLUMNS,
        &rows[..rows.len().min(10)],
    ));
    let front = pareto_front(entries, super::Cost::Dsps);
    let _ = writeln!(
        out,
        "\nPareto front (DSPs, ms): {}",
        front
            .iter()
            .map(|e| format!("({}, {:.3})", e.dsps, e.total_ms))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let predicted: Vec<(&SweepEntry, f64)> = simulated
        .iter()
        .filter_map(|e| e.predicted_ms.map(|p| (*e, p)))
        .collect();
    if predicted.len() >= 2 {
        let mut pairs = 0u64;
        let mut disagree = 0u64;
        let mut analytical_ties = 0u64;
        for (i, (a, pa)) in predicted.iter().enumerate() {
            for (b, pb) in &predicted[i + 1..] {
                pairs += 1;
                if pa == pb && a.total_ms != b.total_ms {
                    // The analytical model cannot tell apart what the simulation can: a tie
                    // it would break only by chance.
                    analytical_ties += 1;
                } else if (pa < pb) != (a.total_ms < b.total_ms) && a.total_ms != b.total_ms {
                    disagree += 1;
                }
            }
        }
        let best_predicted = predicted
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(e, _)| e.point);
        let best_simulated = best_entry(entries).map(|e| e.point);
        let _ = writeln!(
            out,
            "prescreen: the analytical ranking and the simulated ranking disagree on {disagree} of {pairs} pairs ({:.1}%), and the analytical model ties {analytical_ties} pairs the simulation separates; best predicted point {} vs best simulated {}",
            100.0 * disagree as f64 / pairs as f64,
            best_predicted.map_or("-".into(), |p| p.to_string()),
            best_simulated.map_or("-".into(), |p| p.to_string()),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_reasons_keep_names_and_show_number_ranges() {
        let entry = |reason: &str| SweepEntry {
            point: 0,
            reason: Some(reason.to_string()),
            dsps: 0,
            total_ms: f64::NAN,
            ms_per_camera: None,
            frames_per_s: 0.0,
            efficiency: 0.0,
            bottleneck: String::new(),
            predicted_ms: None,
            power_w_max: None,
            values: Vec::new(),
        };
        let entries = [
            entry("DSPs 136% over the 75% budget"),
            entry("arrays: 4 arrays of 64x64 need 8192 DSPs at int8"),
            entry("DSPs 80% over the 75% budget"),
            entry("DSPs 91% over the 75% budget"),
        ];
        assert_eq!(
            skip_reasons(&entries),
            [
                ("DSPs 80–136% over the 75% budget".to_string(), 3),
                (
                    "arrays: 4 arrays of 64x64 need 8192 DSPs at int8".to_string(),
                    1
                ),
            ]
        );
    }
}
