//! `resources.csv` and the per-SLR lines of the summary: what each engine, each on-chip
//! link and each SLR takes from the platform, against what the SLR's part of the kernel
//! region offers.

use super::ReportError;
use crate::config::design::{Design, SramKind};
use crate::config::platform::Platform;
use crate::lower::Bill;

/// The columns of `resources.csv`, in order.
const COLUMNS: [&str; 27] = [
    "row",
    "name",
    "slr",
    "dsps",
    "buffer_bytes",
    "bram_blocks",
    "uram_blocks",
    "port_blocks",
    "luts",
    "dsps_available",
    "bram_available",
    "uram_available",
    "luts_available",
    "dsp_share",
    "bram_share",
    "uram_share",
    "lut_share",
    "logic_luts",
    "ffs",
    "ffs_available",
    "ff_share",
    "slls_below",
    "slls_available",
    "sll_share",
    "memory",
    "memory_luts",
    "link_slls",
];

/// A row with `cells` (column, value) and every other column empty.
fn sparse_row(cells: &[(&str, String)]) -> Vec<String> {
    let mut row = vec![String::new(); COLUMNS.len()];
    for (name, value) in cells {
        let at = COLUMNS
            .iter()
            .position(|column| column == name)
            .expect("a column of resources.csv");
        row[at].clone_from(value);
    }
    row
}

/// One row per engine (its SLR, DSPs and blocks before rounding, buffer bytes, the blocks
/// its buffers' port widths alone need, LUTs of LUT multipliers), per on-chip link's storage
/// at each consumer engine (its memory, bytes, blocks or LUTs, and the link's super long
/// lines on its first row), per SLR (engines and links: used, available and their shares;
/// `lut_share` counts every LUT: multipliers, logic and LUT memories) and for the chip.
pub fn resources_csv(
    design: &Design,
    platform: &Platform,
    bill: &Bill,
) -> Result<Vec<u8>, ReportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(COLUMNS)?;
    let share = |used: u64, available: u64| format!("{:.4}", used as f64 / available.max(1) as f64);
    for (slr, usage) in design.slr_use().iter().enumerate() {
        for engine in &usage.engines {
            writer.write_record(sparse_row(&[
                ("row", "engine".to_string()),
                ("name", design.engines()[engine.engine].name.clone()),
                ("slr", slr.to_string()),
                ("dsps", format!("{:.2}", engine.dsps)),
                ("buffer_bytes", engine.buffer_bytes.to_string()),
                ("bram_blocks", format!("{:.2}", engine.bram_blocks)),
                ("uram_blocks", format!("{:.2}", engine.uram_blocks)),
                ("port_blocks", engine.port_blocks.to_string()),
                ("luts", engine.luts.to_string()),
            ]))?;
        }
    }
    for link in &bill.links {
        for (index, part) in link.parts.iter().enumerate() {
            let name = format!(
                "{} ({} at {})",
                link.link,
                link.via.name(),
                design.engines()[part.engine].name
            );
            // The link's lines once, on its first storage's row.
            let slls: Vec<String> = link.slls.iter().map(u64::to_string).collect();
            let slls = if index == 0 {
                slls.join(" ")
            } else {
                String::new()
            };
            writer.write_record(sparse_row(&[
                ("row", "link".to_string()),
                ("name", name),
                ("slr", part.slr.to_string()),
                ("buffer_bytes", part.bytes.to_string()),
                ("bram_blocks", part.storage.bram_blocks.to_string()),
                ("uram_blocks", part.storage.uram_blocks.to_string()),
                ("port_blocks", part.storage.port_blocks.to_string()),
                ("memory", part.storage.kind.name().to_string()),
                ("memory_luts", part.storage.luts.to_string()),
                ("link_slls", slls),
            ]))?;
        }
    }
    let chip = bill.total;
    let rows = bill
        .slrs
        .iter()
        .enumerate()
        .map(|(slr, usage)| {
            (
                "slr",
                format!("SLR{slr}"),
                slr.to_string(),
                usage.used,
                usage.available,
                (usage.slls_available > 0).then_some((usage.slls_below, usage.slls_available)),
            )
        })
        .chain(std::iter::once((
            "chip",
            platform.name.clone(),
            String::new(),
            chip,
            crate::config::platform::SlrBudget {
                dsp_slices: platform.dsp_slices,
                bram_blocks: platform.sram.bram_blocks,
                uram_blocks: platform.sram.uram_blocks,
                luts: platform.slrs.iter().map(|s| s.luts).sum(),
                ffs: platform.slrs.iter().map(|s| s.ffs).sum(),
            },
            None,
        )));
    for (row, name, slr, used, available, slls) in rows {
        let [slls_below, slls_available, sll_share] = match slls {
            Some((below, offered)) => [
                below.to_string(),
                offered.to_string(),
                share(below, offered),
            ],
            None => [String::new(), String::new(), String::new()],
        };
        writer.write_record([
            row.to_string(),
            name,
            slr,
            used.dsps.to_string(),
            String::new(),
            used.bram_blocks.to_string(),
            used.uram_blocks.to_string(),
            String::new(),
            used.luts.to_string(),
            available.dsp_slices.to_string(),
            available.bram_blocks.to_string(),
            available.uram_blocks.to_string(),
            available.luts.to_string(),
            share(used.dsps, available.dsp_slices),
            share(used.bram_blocks, available.bram_blocks),
            share(used.uram_blocks, available.uram_blocks),
            share(used.all_luts(), available.luts),
            used.logic_luts.to_string(),
            used.ffs.to_string(),
            available.ffs.to_string(),
            share(used.ffs, available.ffs),
            slls_below,
            slls_available,
            sll_share,
            String::new(),
            used.memory_luts.to_string(),
            String::new(),
        ])?;
    }
    writer
        .into_inner()
        .map_err(|error| ReportError::Csv(error.into_error().into()))
}

/// A line per SLR: its DSPs, BRAM and URAM (engines and links' storage) against its budget,
/// and its engines; a line per link that crosses SLRs.
pub fn slr_text(design: &Design, bill: &Bill) -> String {
    let buffers = match design.raw().buffers.memory {
        SramKind::Bram => "BRAM",
        SramKind::Uram => "URAM",
    };
    let mut text = format!("per SLR (tile buffers in {buffers}; placed by `slr`, else in turn):\n");
    for (slr, usage) in bill.slrs.iter().enumerate() {
        let (used, available) = (usage.used, usage.available);
        let percent = |u: u64, a: u64| 100.0 * u as f64 / a.max(1) as f64;
        let names: Vec<&str> = usage
            .engines
            .iter()
            .map(|e| design.engines()[e.engine].name.as_str())
            .collect();
        // Each part shows only when the SLR has something of it.
        let part = |show: bool, text: String| if show { text } else { String::new() };
        let luts = part(
            used.luts > 0,
            format!(
                ", {} of {} LUTs ({:.1}%) in LUT multipliers",
                used.luts,
                available.luts,
                percent(used.luts, available.luts)
            ),
        );
        let logic = part(
            used.logic_luts + used.ffs > 0,
            format!(
                ", {} LUTs ({:.1}%) and {} of {} FFs ({:.1}%) in engines' logic",
                used.logic_luts,
                percent(used.logic_luts, available.luts),
                used.ffs,
                available.ffs,
                percent(used.ffs, available.ffs)
            ),
        );
        let memory = part(
            used.memory_luts > 0,
            format!(
                ", {} LUTs ({:.1}%) in FIFOs",
                used.memory_luts,
                percent(used.memory_luts, available.luts)
            ),
        );
        let crossing = part(
            usage.slls_available > 0,
            format!(
                ", {} of {} SLLs to SLR{} (HBM paths and links)",
                usage.slls_below,
                usage.slls_available,
                slr.saturating_sub(1)
            ),
        );
        text.push_str(&format!(
            "  SLR{slr}: {} of {} DSPs ({:.1}%), {} of {} BRAM, {} of {} URAM{luts}{logic}{memory}{crossing}; {}\n",
            used.dsps,
            available.dsp_slices,
            percent(used.dsps, available.dsp_slices),
            used.bram_blocks,
            available.bram_blocks,
            used.uram_blocks,
            available.uram_blocks,
            if names.is_empty() {
                "no engines".to_string()
            } else {
                names.join(", ")
            }
        ));
    }
    for crossing in bill.crossings() {
        let boundaries: Vec<String> = crossing
            .slls
            .iter()
            .enumerate()
            .filter(|(_, slls)| **slls > 0)
            .map(|(b, slls)| format!("{slls} super long lines on SLR{b}-SLR{}", b + 1))
            .collect();
        text.push_str(&format!(
            "  link {} crosses SLRs: {}\n",
            crossing.link,
            boundaries.join(", ")
        ));
    }
    text
}
