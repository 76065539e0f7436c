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
//!
//! From a program, the same steps the `simulate` command takes: a design validated against
//! a platform, a workload built from a model and a policy, its roofline, and its simulation,
//! whose every cycle has a cause:
//!
//! ```
//! use roofsim::config::Source;
//! use roofsim::config::design::{DEFAULT_DESIGN, load_design};
//! use roofsim::config::model::{default_model, default_policy};
//! use roofsim::config::platform::default_platform;
//! use roofsim::roofline::RooflineAnalysis;
//! use roofsim::sim::{Bottleneck, encoder_totals, simulate_workload};
//! use roofsim::workload::WorkloadChoices;
//!
//! let platform = default_platform();
//! let design = load_design(&Source::built_in("u280-int8.toml", DEFAULT_DESIGN), &platform)?;
//! // smolVLA's encoders cut to one vision and one text layer, one camera.
//! let choices = WorkloadChoices {
//!     cameras: Some(1),
//!     vision_layers: Some(1),
//!     text_layers: Some(1),
//!     batch: 1,
//!     fusion: design.fusion(),
//!     ..WorkloadChoices::default()
//! };
//! let workload = choices.build(&default_model(), Some(&default_policy()), design.precision())?;
//! let analysis = RooflineAnalysis::new(workload, &platform);
//! let sim = simulate_workload(&analysis.workload, &design, &platform, u64::MAX, None, &|| {})?;
//! let (_, total) = encoder_totals(&analysis.workload, &sim, &design, &platform);
//! assert_eq!(total.cycles, sim.cycles());
//! assert_eq!(total.attribution.iter().sum::<u64>(), total.cycles);
//! assert!(total.efficiency(&design) <= 1.0, "never above the roofline");
//! println!(
//!     "{:.3} ms, {:.0} % of the roofline, bound by {}",
//!     total.seconds(&design) * 1e3,
//!     total.efficiency(&design) * 100.0,
//!     Bottleneck::dominant(&total.attribution).name()
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cancel;
pub mod cli;
pub mod config;
pub mod lower;
pub mod pipeline;
pub mod report;
pub mod roofline;
pub mod search;
pub mod sim;
pub mod sweep;
pub mod system;
pub mod trace;
pub mod workload;
