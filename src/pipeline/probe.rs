//! `roofsim probe hbm`: runs a grid of probes on an HBM model, in parallel, and reports them.

use crate::config::design::Design;
use crate::config::platform::Platform;
use crate::report::ReportError;
use crate::report::probe::{probe_csv, probe_svg, probe_table};
use crate::sim::probe::{
    Probe, ProbeMemory, ProbeResult, fit_fast_model, idle_read_latencies, run_probe,
};
use rayon::prelude::*;
use std::fmt::Write;

/// What a probe run has to say and the files it writes.
#[derive(Debug)]
pub struct ProbeOutput {
    /// What the job prints.
    pub text: String,
    /// The files it writes.
    pub files: Vec<(&'static str, Vec<u8>)>,
}

/// Runs every probe (validated by the caller) on the design's HBM; results in the probes'
/// order whatever the thread count.
pub fn probe_hbm(
    platform: &Platform,
    design: &Design,
    probes: &[Probe],
) -> Result<ProbeOutput, ReportError> {
    let rows: Vec<(Probe, ProbeResult)> = probes
        .par_iter()
        .map(|probe| (*probe, run_probe(platform, design, probe)))
        .collect();
    let mut text = format!(
        "HBM probe: {} pseudo-channels; each requester moves {} KiB; design {} ({} outstanding, {} B bursts, {} ports)\n",
        platform.hbm.channels,
        probes.first().map_or(0, |p| p.bytes_per_channel >> 10),
        design.name(),
        design.placement().outstanding_requests,
        design.placement().burst_bytes,
        design.placement().axi_ports.name(),
    );
    if let (true, Some(dram)) = (
        probes.iter().any(|p| p.memory == ProbeMemory::Dram),
        platform.hbm.dram,
    ) {
        let _ = writeln!(
            text,
            "bank model: {} address map, {} banks of {} rows x {} B; read / write queues of \
             {} / {} bursts, writes drained from {} down to {}, a row's hits before a miss \
             closes it at most {}",
            dram.mapping.name(),
            dram.banks(),
            dram.rows,
            dram.row_bytes,
            dram.queue_depth,
            dram.write_queue_depth,
            dram.write_high_watermark,
            dram.write_low_watermark,
            dram.row_hit_cap
        );
    }
    text.push_str(&probe_table(&rows));
    if probes.iter().any(|p| p.memory == ProbeMemory::Dram) {
        let fit = fit_fast_model(platform, design);
        let hbm = &platform.hbm;
        let _ = writeln!(
            text,
            "fast model re-derived from the bank model: overhead {:.2} ns (platform {:.2}), request interval {:.2} ns ({:.2}), refresh {:.0} ns per {:.0} ns ({:.0})",
            fit.request_overhead_s * 1e9,
            hbm.request_overhead_s * 1e9,
            fit.request_interval_s * 1e9,
            hbm.request_interval_s * 1e9,
            fit.refresh_s * 1e9,
            hbm.refresh_interval_s * 1e9,
            hbm.refresh_s * 1e9,
        );
    }
    Ok(ProbeOutput {
        text,
        files: vec![
            ("probe.csv", probe_csv(&rows)?),
            ("probe.svg", probe_svg(&rows).into_bytes()),
        ],
    })
}

/// The bank model's idle read latencies at the port, as `probe hbm --idle-latency` prints
/// them: in cycles of the 450 MHz AXI clock and in nanoseconds.
pub fn idle_latency_text(platform: &Platform, design: &Design) -> String {
    let timing = platform.hbm.dram.expect("checked by the caller");
    let latencies = idle_read_latencies(platform, design);
    let mut text = String::from("idle read latency at the port (bank model):\n");
    for (name, cycles) in ["page hit", "closed page", "page miss"]
        .iter()
        .zip(latencies)
    {
        let ns = timing.ns(cycles);
        let _ = writeln!(
            text,
            "  {name:<12} {:>5.1} cycles at 450 MHz  {ns:>6.1} ns",
            ns * 0.45
        );
    }
    text
}
