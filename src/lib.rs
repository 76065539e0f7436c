//! roofsim: roofline analysis and cycle-level simulation of transformer encoders on FPGAs.
//!
//! The pipeline runs one way: `config` (read and validate model, policy and platform files) →
//! `workload` (the kernels the encoders run, with shapes, work and compulsory traffic) →
//! `roofline` (each kernel under the platform's roofs) → `report` (tables, CSV, SVG plots).
//! The binary `roofsim` is a thin shell over these modules.

pub mod config;
pub mod lower;
pub mod pipeline;
pub mod report;
pub mod roofline;
pub mod sim;
pub mod sweep;
pub mod trace;
pub mod workload;
