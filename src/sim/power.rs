//! Board power and energy of a simulated run, as a range carried from the platform's inputs
//! (`[power]`, each a sourced or assumed range):
//!
//! `P = P_static + e_hbm · (HBM bytes / s) + Σ_engines DSPs · busy share · p_dsp · f / 300 MHz`
//!
//! - `P_static`: the board with a design loaded, idle (U280: 35.65–41.4 W (S));
//! - `e_hbm`: energy per byte moved, end to end (U280: 56–100 pJ/B (S)/(D));
//! - `p_dsp`: a busy DSP's dynamic power with its buffers and control at 300 MHz, scaled
//!   linearly with the clock (U280: 0.5–3 mW, an assumption: no public per-block figure).
//!
//! A kernel's energy is its dynamic part only (its HBM bytes and its engines' busy cycles);
//! the static power is the run's, since kernels that overlap share it.

use super::{KernelSim, WorkloadSim};
use crate::config::design::Design;
use crate::config::platform::{Platform, PowerInputs};

/// The clock `p_dsp` is given at.
const DSP_POWER_CLOCK_HZ: f64 = 300e6;

/// A quantity known as a range.
pub type Range = (f64, f64);

/// A run's power, energy and efficiency, each (low, high).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunPower {
    /// The assumed dynamic power of a busy DSP at 300 MHz, as the platform gives it.
    pub dsp_w_at_300_mhz: Range,
    /// Of the board at rest.
    pub static_w: Range,
    /// Of the HBM traffic.
    pub hbm_w: Range,
    /// Of the busy engines.
    pub compute_w: Range,
    /// In all.
    pub total_w: Range,
    /// Per observation of the batch.
    pub energy_j: Range,
    /// Operations per second per watt, in GOPS/W: the high power gives the low efficiency.
    pub gops_per_w: Range,
}

fn scale((low, high): Range, by: f64) -> Range {
    (low * by, high * by)
}

fn add(a: Range, b: Range) -> Range {
    (a.0 + b.0, a.1 + b.1)
}

/// Each engine's DSPs, in [`Design::engines`] order.
fn engine_dsps(design: &Design) -> Vec<f64> {
    let mut dsps = vec![0.0; design.engines().len()];
    for slr in design.slr_use() {
        for engine in &slr.engines {
            dsps[engine.engine] = engine.dsps;
        }
    }
    dsps
}

/// Dynamic energy (joules) of DSPs busy for `busy_cycles` per engine.
fn compute_j(inputs: &PowerInputs, design: &Design, busy_cycles: &[u64]) -> Range {
    let dsps = engine_dsps(design);
    let dsp_seconds: f64 = busy_cycles
        .iter()
        .zip(&dsps)
        .map(|(&busy, dsps)| busy as f64 / design.clock_hz() * dsps)
        .sum();
    scale(
        inputs.dsp_w_at_300_mhz,
        dsp_seconds * design.clock_hz() / DSP_POWER_CLOCK_HZ,
    )
}

/// One kernel instance's dynamic energy in joules: its HBM bytes and its engines' work.
pub fn kernel_energy_j(inputs: &PowerInputs, design: &Design, kernel: &KernelSim) -> Range {
    add(
        scale(inputs.hbm_j_per_byte, kernel.bytes_tiled as f64),
        compute_j(inputs, design, &kernel.engine_busy_cycles),
    )
}

/// The whole run's power on `platform`, or `None` when the platform gives no power inputs.
/// `ops`: the run's operations; `observations`: the batch.
pub fn run_power(
    sim: &WorkloadSim,
    design: &Design,
    platform: &Platform,
    ops: f64,
    observations: u64,
) -> Option<RunPower> {
    let bytes: u64 = sim.kernels.iter().map(|k| k.bytes_tiled).sum();
    let mut busy = vec![0u64; design.engines().len()];
    for kernel in &sim.kernels {
        for (sum, cycles) in busy.iter_mut().zip(&kernel.engine_busy_cycles) {
            *sum += cycles;
        }
    }
    let work = RunWork {
        cycles: sim.cycles(),
        bytes,
        engine_busy_cycles: &busy,
        ops,
        observations,
    };
    work_power(&work, design, platform)
}

/// What a run's power follows from: its length, its HBM bytes, each engine's busy cycles
/// (in [`Design::engines`] order), its operations and its batch.
#[derive(Debug, Clone, Copy)]
pub struct RunWork<'a> {
    /// Cycles of the run.
    pub cycles: u64,
    /// Bytes moved to or from HBM.
    pub bytes: u64,
    /// Busy cycles of each engine.
    pub engine_busy_cycles: &'a [u64],
    /// Ops performed.
    pub ops: f64,
    /// Observations the run processed.
    pub observations: u64,
}

/// [`run_power`] of a run known by its work (a sweep point's kernels simulated one by one).
pub fn work_power(work: &RunWork, design: &Design, platform: &Platform) -> Option<RunPower> {
    let inputs = platform.power.as_ref()?;
    let seconds = (work.cycles.max(1)) as f64 / design.clock_hz();
    let hbm_w = scale(inputs.hbm_j_per_byte, work.bytes as f64 / seconds);
    let compute_w = scale(
        compute_j(inputs, design, work.engine_busy_cycles),
        1.0 / seconds,
    );
    let total_w = add(add(inputs.static_w, hbm_w), compute_w);
    Some(RunPower {
        dsp_w_at_300_mhz: inputs.dsp_w_at_300_mhz,
        static_w: inputs.static_w,
        hbm_w,
        compute_w,
        total_w,
        energy_j: scale(total_w, seconds / work.observations.max(1) as f64),
        gops_per_w: (
            work.ops / seconds / total_w.1 / 1e9,
            work.ops / seconds / total_w.0 / 1e9,
        ),
    })
}

impl RunPower {
    /// One line for the summary; `unit` names what the energy is per (an observation).
    pub fn text(&self, unit: &str) -> String {
        let w = |(low, high): Range| format!("{low:.1}-{high:.1}");
        let (low_mw, high_mw) = scale(self.dsp_w_at_300_mhz, 1e3);
        format!(
            "power: {} W = board static {} + HBM {} + DSPs {} (an assumed {low_mw}-{high_mw} mW \
             per busy DSP at 300 MHz); {} J per {unit}; {} GOPS/W\n",
            w(self.total_w),
            w(self.static_w),
            w(self.hbm_w),
            w(self.compute_w),
            w(self.energy_j),
            format_args!("{:.0}-{:.0}", self.gops_per_w.0, self.gops_per_w.1)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dynamic energy is per switching event: the same busy cycles cost the same joules at
    /// any clock (the per-DSP watts given at 300 MHz scale with the clock, the seconds
    /// against it), dsp_w × busy × DSPs / 300 MHz.
    #[test]
    fn dsp_energy_scales_with_the_clock_it_runs_at() {
        let (run, design, platform) = crate::report::default_run();
        let inputs = platform.power.unwrap();
        let busy: Vec<u64> = design.engines().iter().map(|_| 1_000_000).collect();
        let dsps: f64 = engine_dsps(&design).iter().sum();
        let at = |mhz: f64| {
            let design = design
                .modified(&platform, "test", |raw| raw.clock_mhz = mhz)
                .unwrap();
            compute_j(&inputs, &design, &busy)
        };
        let expected = 1e6 * dsps / DSP_POWER_CLOCK_HZ;
        for mhz in [150.0, 300.0] {
            let (low, high) = at(mhz);
            assert!((low / inputs.dsp_w_at_300_mhz.0 - expected).abs() < 1e-9 * expected);
            assert!((high / inputs.dsp_w_at_300_mhz.1 - expected).abs() < 1e-9 * expected);
        }
        // A batch of observations shares the run's energy.
        let one = run_power(&run.sim, &design, &platform, 1e12, 1).unwrap();
        let two = run_power(&run.sim, &design, &platform, 1e12, 2).unwrap();
        assert!((one.energy_j.0 - 2.0 * two.energy_j.0).abs() < 1e-12 * one.energy_j.0);
        assert_eq!(one.total_w, two.total_w);
    }
}
