//! roofsim's integration tests, one test binary (a library change relinks one binary, not
//! twelve): each module drives the library or the real `roofsim` binary. Run one module with
//! `cargo test --test integration MODULE::` (e.g. `snapshots::`, `readme::`). The fuzz test is
//! a binary of its own (`tests/fuzz.rs`): it measures its process's peak memory.

mod cli;
mod config_files;
mod control;
mod dataflow;
mod designs;
mod dram_oracle;
mod models;
mod readme;
mod reports;
mod search;
mod sim;
mod snapshots;
mod sweep;
mod system;
