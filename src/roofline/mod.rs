//! Analytical roofline: where each kernel sits under the platform's compute and bandwidth roofs.
//!
//! attainable = min(compute roof at the kernel's precision, OI × HBM bandwidth). The roof is
//! evaluated twice: at the HBM peak and at the bandwidth measured on real boards.

mod memory;

pub use memory::{MemorySummary, ParameterGroup, memory_summary};

use crate::config::platform::Platform;
use crate::config::precision::Precision;
use crate::workload::{Encoder, Kernel, Workload};
use std::fmt;

/// What caps a kernel's attainable throughput.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bound {
    /// Bandwidth bounds it.
    Memory,
    /// Compute bounds it.
    Compute,
}

impl Bound {
    /// `memory` or `compute`.
    pub fn name(self) -> &'static str {
        match self {
            Bound::Memory => "memory",
            Bound::Compute => "compute",
        }
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One roof: a compute ceiling and a bandwidth slope.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roof {
    /// Compute roof, ops/s.
    pub compute_ops_per_s: f64,
    /// Memory roof, bytes/s.
    pub bandwidth_bytes_per_s: f64,
}

impl Roof {
    /// The operational intensity (ops/byte) where the bandwidth slope meets the ceiling.
    pub fn ridge_ops_per_byte(&self) -> f64 {
        self.compute_ops_per_s / self.bandwidth_bytes_per_s
    }

    /// min(compute, OI × bandwidth).
    pub fn attainable_ops_per_s(&self, oi_ops_per_byte: f64) -> f64 {
        self.compute_ops_per_s
            .min(oi_ops_per_byte * self.bandwidth_bytes_per_s)
    }

    /// Memory-bound strictly left of the ridge; at or right of it, compute-bound.
    pub fn bound(&self, oi_ops_per_byte: f64) -> Bound {
        if oi_ops_per_byte < self.ridge_ops_per_byte() {
            Bound::Memory
        } else {
            Bound::Compute
        }
    }

    /// Shortest time to do `ops` operations moving `bytes` bytes under this roof.
    pub fn time_s(&self, ops: f64, bytes: f64) -> f64 {
        (ops / self.compute_ops_per_s).max(bytes / self.bandwidth_bytes_per_s)
    }
}

/// The platform's roofs at one precision: at peak and at measured HBM bandwidth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roofs {
    /// The precision the roofs hold for.
    pub precision: Precision,
    /// From the data sheet's peaks.
    pub peak: Roof,
    /// From measured bandwidth.
    pub measured: Roof,
}

impl Roofs {
    /// The platform's roofs at `precision`.
    pub fn new(platform: &Platform, precision: Precision) -> Self {
        let compute_ops_per_s = platform.peak_ops_per_s(precision);
        Roofs {
            precision,
            peak: Roof {
                compute_ops_per_s,
                bandwidth_bytes_per_s: platform.hbm.peak_bandwidth_bytes_per_s(),
            },
            measured: Roof {
                compute_ops_per_s,
                bandwidth_bytes_per_s: platform.hbm.measured_bandwidth_bytes_per_s(),
            },
        }
    }
}

/// A kernel placed under the roofline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KernelPoint {
    /// Ops it performs.
    pub ops: f64,
    /// Bytes it moves (compulsory traffic).
    pub bytes: f64,
    /// Operational intensity, ops per compulsory HBM byte.
    pub oi_ops_per_byte: f64,
    /// The roofs at its precision.
    pub roofs: Roofs,
    /// Ops/s the peak roofs allow at its intensity.
    pub attainable_ops_per_s: f64,
    /// What bounds it under the peak roofs.
    pub bound: Bound,
    /// Attainable with the measured (sustained) HBM bandwidth.
    pub attainable_measured_ops_per_s: f64,
    /// What bounds it under the measured roofs.
    pub bound_measured: Bound,
    /// Roofline time at peak bandwidth.
    pub time_s: f64,
    /// Roofline time at measured bandwidth.
    pub time_measured_s: f64,
}

impl KernelPoint {
    /// The kernel under the platform's roofs.
    pub fn new(kernel: &Kernel, platform: &Platform) -> Self {
        let roofs = Roofs::new(platform, kernel.compute_precision);
        let ops = kernel.flops() as f64;
        let bytes = kernel.bytes() as f64;
        let oi = ops / bytes;
        KernelPoint {
            ops,
            bytes,
            oi_ops_per_byte: oi,
            roofs,
            attainable_ops_per_s: roofs.peak.attainable_ops_per_s(oi),
            bound: roofs.peak.bound(oi),
            attainable_measured_ops_per_s: roofs.measured.attainable_ops_per_s(oi),
            bound_measured: roofs.measured.bound(oi),
            time_s: roofs.peak.time_s(ops, bytes),
            time_measured_s: roofs.measured.time_s(ops, bytes),
        }
    }
}

/// Sums over a set of kernels run one after another.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    /// Kernels summed.
    pub kernels: u64,
    /// Their MACs.
    pub macs: u64,
    /// Their ops.
    pub flops: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Sum of the kernels' roofline times at peak bandwidth.
    pub time_s: f64,
    /// Their time at the measured roofs, s.
    pub time_measured_s: f64,
    /// Roofline time spent in memory-bound kernels.
    pub memory_bound_time_s: f64,
}

impl Totals {
    /// Adds a kernel.
    pub fn add(&mut self, kernel: &Kernel, point: &KernelPoint) {
        self.kernels += 1;
        self.macs += kernel.macs;
        self.flops += kernel.flops();
        self.bytes += kernel.bytes();
        self.time_s += point.time_s;
        self.time_measured_s += point.time_measured_s;
        if point.bound == Bound::Memory {
            self.memory_bound_time_s += point.time_s;
        }
    }

    /// Aggregate operational intensity.
    pub fn oi_ops_per_byte(&self) -> f64 {
        self.flops as f64 / self.bytes as f64
    }

    /// Ops per second if the kernels run back to back, each at its roof.
    pub fn attainable_ops_per_s(&self) -> f64 {
        self.flops as f64 / self.time_s
    }
}

/// The roofline of a whole workload at one precision.
#[derive(Debug, Clone, PartialEq)]
pub struct RooflineAnalysis {
    /// The workload analysed.
    pub workload: Workload,
    /// Parallel to `workload.kernels`.
    pub points: Vec<KernelPoint>,
}

impl RooflineAnalysis {
    /// Every kernel of `workload` under the platform's roofs.
    pub fn new(workload: Workload, platform: &Platform) -> Self {
        let points = workload
            .kernels
            .iter()
            .map(|kernel| KernelPoint::new(kernel, platform))
            .collect();
        RooflineAnalysis { workload, points }
    }

    /// Kernels with their points, in execution order.
    pub fn iter(&self) -> impl Iterator<Item = (&Kernel, &KernelPoint)> {
        self.workload.kernels.iter().zip(&self.points)
    }

    /// Sums over the kernels of `encoder`.
    pub fn totals(&self, encoder: Encoder) -> Totals {
        let mut totals = Totals::default();
        for (kernel, point) in self.iter().filter(|(k, _)| k.encoder == encoder) {
            totals.add(kernel, point);
        }
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::platform::default_platform;

    fn int8() -> Roofs {
        Roofs::new(&default_platform(), Precision::Int8)
    }

    #[test]
    fn ridge_is_compute_over_bandwidth() {
        let roof = int8().peak;
        let expected = 9024.0 * 2.0 * 2.0 * 300e6 / 460.8e9;
        assert!((roof.ridge_ops_per_byte() - expected).abs() < 1e-9);
        assert!((expected - 23.50).abs() < 0.01);
    }

    #[test]
    fn left_of_the_ridge_is_memory_bound_on_the_slope() {
        let roof = int8().peak;
        let oi = roof.ridge_ops_per_byte() * 0.5;
        assert_eq!(roof.bound(oi), Bound::Memory);
        assert_eq!(roof.attainable_ops_per_s(oi), oi * 460.8e9);
        assert_eq!(roof.attainable_ops_per_s(oi), roof.compute_ops_per_s * 0.5);
    }

    #[test]
    fn right_of_the_ridge_is_compute_bound_at_the_ceiling() {
        let roof = int8().peak;
        let oi = roof.ridge_ops_per_byte() * 2.0;
        assert_eq!(roof.bound(oi), Bound::Compute);
        assert_eq!(roof.attainable_ops_per_s(oi), roof.compute_ops_per_s);
        assert_eq!(roof.bound(roof.ridge_ops_per_byte()), Bound::Compute);
    }

    #[test]
    fn measured_bandwidth_moves_the_ridge_right() {
        let roofs = int8();
        assert!(roofs.measured.ridge_ops_per_byte() > roofs.peak.ridge_ops_per_byte());
        let between = (roofs.peak.ridge_ops_per_byte() + roofs.measured.ridge_ops_per_byte()) / 2.0;
        assert_eq!(roofs.peak.bound(between), Bound::Compute);
        assert_eq!(roofs.measured.bound(between), Bound::Memory);
    }

    #[test]
    fn time_is_the_slower_of_compute_and_transfer() {
        let roof = int8().peak;
        assert_eq!(roof.time_s(0.0, 460.8e9), 1.0);
        assert_eq!(roof.time_s(roof.compute_ops_per_s * 3.0, 1.0), 3.0);
    }
}
