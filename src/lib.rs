//! roofsim: roofline analysis and cycle-level simulation of transformer encoders on FPGAs.
//!
//! The pipeline runs one way; a module uses only what stands above it:
//!
//! ```text
//! configs (model, policy, platform, design, sweep)
//!    │  config:   read and validate once into checked types
//!    ▼
//! workload:  encoders → layers → kernels with shapes, work and compulsory traffic
//!    ├──► roofline: ops, bytes, OI, attainable, bound, memory summary
//!    ▼
//! lower:     kernel × design → petgraph dataflow of HBM loads/stores, GEMM tiles, vector passes
//!    ▼
//! sim:       discrete-event run on arrays, vector units, buffers and HBM pseudo-channels;
//!            every cycle attributed; cross-check against the roofline at the tiled OI
//!    ▼
//! report, trace: tables, CSV, SVG plots, streamed traces
//!
//! sweep:     many design points in parallel, resumable, sharded
//! pipeline:  whole jobs as the `roofsim` binary runs them
//! cli:       the command line's options and jobs, shared by the binary and the Python package
//! ```
//!
//! The modelled accelerator: `count` systolic arrays of `rows × cols` MAC units (output-,
//! weight- or input-stationary) with double-buffered tile buffers in URAM or BRAM, vector units
//! for the non-GEMM kernels, and the HBM's 32 pseudo-channels behind the AXI switch. Each model
//! documents its timing assumptions: [`sim::array`] for the arrays, [`sim::vector`] for the vector units,
//! [`sim::hbm`] for the channels, [`sim`] for the engine and the attribution.

pub mod cancel;
pub mod cli;
pub mod config;
pub mod lower;
pub mod pipeline;
pub mod report;
pub mod roofline;
pub mod sim;
pub mod sweep;
pub mod trace;
pub mod workload;
