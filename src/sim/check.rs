//! Cross-check of a simulated kernel against its roofline at the tiled operational intensity.

use super::WorkloadSim;
use super::hbm::TICKS_PER_CYCLE;
use super::{Attribution, Bottleneck, KernelSim};
use crate::config::design::{Design, MemoryModel};
use crate::config::platform::Platform;
use crate::workload::{Encoder, Kernel, Workload};

/// A simulated kernel held against the roofline of the design.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrossCheck {
    /// Ops the kernel's unit performs: 2 × MACs on arrays, vector ops on vector units.
    pub ops: f64,
    /// Simulated time, s.
    pub seconds: f64,
    /// Ops per tiled byte (operands re-read across tiles counted).
    pub oi_tiled: f64,
    /// Ops/s it achieved.
    pub achieved_ops_per_s: f64,
    /// min(design compute roof, tiled OI × HBM peak); bandwidth is unlimited with ideal memory.
    pub roofline_ops_per_s: f64,
    /// Roofline time over simulated time: 1 means the kernel ran at its roof.
    pub efficiency: f64,
    /// Busy share of its arrays.
    pub array_utilization: f64,
    /// Busy share of its busiest channel.
    pub max_channel_utilization: f64,
}

/// Ops `kernel` performs on its engines (2 × MACs on GEMM engines, vector ops on vector
/// engines) and the compute roof of the engines it runs on, in ops/s.
pub fn kernel_roof(kernel: &Kernel, design: &Design) -> (f64, f64) {
    let engines = design.engines_for(kernel.label_parts(), kernel.class);
    let all = design.engines();
    if kernel.op.uses_arrays() {
        let macs: u64 = engines.gemm.iter().map(|&e| all[e].macs_per_cycle()).sum();
        (
            2.0 * kernel.macs as f64,
            2.0 * macs as f64 * design.clock_hz(),
        )
    } else {
        let elements: f64 = engines
            .vector
            .iter()
            .map(|&e| all[e].elements_per_cycle())
            .sum();
        (
            kernel.vector_flops as f64,
            elements * kernel.op.flops_per_element() as f64 * design.clock_hz(),
        )
    }
}

/// Ops the kernel's engines perform and the roofline time of `kernel` moving `bytes_tiled`
/// bytes on `design`: max(ops / the compute roof of the engines it runs on, bytes / HBM peak).
pub fn roofline_seconds(
    kernel: &Kernel,
    bytes_tiled: u64,
    design: &Design,
    platform: &Platform,
) -> (f64, f64) {
    let (ops, compute_ops_per_s) = kernel_roof(kernel, design);
    let bandwidth = match design.memory() {
        MemoryModel::Hbm | MemoryModel::Dram => platform.hbm.peak_bandwidth_bytes_per_s(),
        MemoryModel::Ideal => f64::INFINITY,
    };
    let compute_s = if ops > 0.0 {
        ops / compute_ops_per_s
    } else {
        0.0
    };
    (ops, compute_s.max(bytes_tiled as f64 / bandwidth))
}

/// Compares `sim` with the roofline of `kernel` on `design`.
pub fn cross_check(
    kernel: &Kernel,
    sim: &KernelSim,
    design: &Design,
    platform: &Platform,
) -> CrossCheck {
    let (ops, roofline_s) = roofline_seconds(kernel, sim.bytes_tiled, design, platform);
    let bytes = sim.bytes_tiled as f64;
    let seconds = sim.cycles as f64 / design.clock_hz();
    let busiest_channel = sim
        .channels
        .iter()
        .map(|c| c.busy_ticks())
        .max()
        .unwrap_or(0);
    let ratio = |value: f64, whole: f64| if whole > 0.0 { value / whole } else { 0.0 };
    CrossCheck {
        ops,
        seconds,
        oi_tiled: ratio(ops, bytes),
        achieved_ops_per_s: ratio(ops, seconds),
        roofline_ops_per_s: ratio(ops, roofline_s),
        efficiency: ratio(roofline_s, seconds),
        array_utilization: ratio(
            sim.array_busy_cycles(design) as f64,
            (sim.cycles
                * design
                    .engines_for(kernel.label_parts(), kernel.class)
                    .gemm
                    .len() as u64) as f64,
        ),
        max_channel_utilization: ratio(
            busiest_channel as f64,
            (sim.cycles * TICKS_PER_CYCLE) as f64,
        ),
    }
}

/// Sums over simulated kernels run one after another: a kernel class, an encoder, a design.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SimTotals {
    /// Kernel instances.
    pub instances: u64,
    /// Cycles, one after another.
    pub cycles: u64,
    /// Ops.
    pub ops: f64,
    /// Sum of the kernels' roofline times at their tiled OI.
    pub roofline_s: f64,
    /// Ops of GEMM kernels alone (on the MAC engines).
    pub gemm_ops: f64,
    /// Bytes moved, re-reads across tiles counted.
    pub bytes_tiled: u64,
    /// Cycles per cause.
    pub attribution: Attribution,
}

impl SimTotals {
    /// Adds a kernel run on its own: its work and its time.
    pub fn add(&mut self, kernel: &Kernel, sim: &KernelSim, design: &Design, platform: &Platform) {
        self.add_work(kernel, sim, design, platform);
        self.add_time(sim.cycles, &sim.attribution);
    }

    /// Adds a kernel's ops, roofline time and bytes, not its time (which overlaps others'
    /// in a layer graph: add its unit's with [`SimTotals::add_time`]).
    pub fn add_work(
        &mut self,
        kernel: &Kernel,
        sim: &KernelSim,
        design: &Design,
        platform: &Platform,
    ) {
        let (ops, roofline_s) = roofline_seconds(kernel, sim.bytes_tiled, design, platform);
        self.instances += 1;
        self.ops += ops;
        if kernel.op.uses_arrays() {
            self.gemm_ops += ops;
        }
        self.roofline_s += roofline_s;
        self.bytes_tiled += sim.bytes_tiled;
    }

    /// Adds cycles and their causes.
    pub fn add_time(&mut self, cycles: u64, attribution: &Attribution) {
        self.cycles += cycles;
        for (sum, cycles) in self.attribution.iter_mut().zip(attribution) {
            *sum += cycles;
        }
    }

    /// The roofline time of this work when kernels overlap: the GEMM ops at the whole
    /// design's MAC roof or the bytes at the HBM peak, whichever takes longer.
    pub fn overlapped_roofline_s(&self, design: &Design, platform: &Platform) -> f64 {
        let compute_s = self.gemm_ops / (2.0 * design.macs_per_cycle() as f64 * design.clock_hz());
        match design.memory() {
            MemoryModel::Hbm | MemoryModel::Dram => {
                compute_s.max(self.bytes_tiled as f64 / platform.hbm.peak_bandwidth_bytes_per_s())
            }
            MemoryModel::Ideal => compute_s,
        }
    }

    /// Their time on the design's clock, s.
    pub fn seconds(&self, design: &Design) -> f64 {
        self.cycles as f64 / design.clock_hz()
    }

    /// Roofline time over simulated time.
    pub fn efficiency(&self, design: &Design) -> f64 {
        self.roofline_s / self.seconds(design)
    }

    /// The cause that held these kernels longest.
    pub fn bottleneck(&self) -> Bottleneck {
        Bottleneck::dominant(&self.attribution)
    }
}

/// Totals of each encoder of a simulated workload, in order of first appearance, and of all of them: each
/// kernel's work, each unit's time (a unit's kernels overlap in a layer graph). When kernels
/// overlap, their roofline times do not add: the bound is then the whole design's MAC roof
/// and HBM peak over all the work.
pub fn encoder_totals(
    workload: &Workload,
    sim: &WorkloadSim,
    design: &Design,
    platform: &Platform,
) -> (Vec<(Encoder, SimTotals)>, SimTotals) {
    let mut encoders: Vec<(Encoder, SimTotals)> = Vec::new();
    let mut all = SimTotals::default();
    let kernels = &workload.kernels;
    for unit in &sim.units {
        // An encoder may come back (the vision tower once per camera): one total each.
        let encoder = kernels[unit.kernels.start].encoder;
        let at = match encoders.iter().position(|(seen, _)| *seen == encoder) {
            Some(at) => at,
            None => {
                encoders.push((encoder, SimTotals::default()));
                encoders.len() - 1
            }
        };
        let (_, totals) = &mut encoders[at];
        for index in unit.kernels.clone() {
            totals.add_work(&kernels[index], &sim.kernels[index], design, platform);
            all.add_work(&kernels[index], &sim.kernels[index], design, platform);
        }
        totals.add_time(unit.cycles, &unit.attribution);
        all.add_time(unit.cycles, &unit.attribution);
    }
    if design.overlap_kernels() {
        for totals in encoders.iter_mut().map(|(_, t)| t).chain([&mut all]) {
            totals.roofline_s = totals.overlapped_roofline_s(design, platform);
        }
    }
    (encoders, all)
}
