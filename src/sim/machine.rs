//! The machine a design builds on a platform: derived once from the validated design and
//! platform and never changed. It holds what running a graph needs and nothing else: each
//! engine's timing model, name and AXI port, and the memory the engines share. The event
//! loop runs graphs on it, so the engine never reads a design or a platform.

use super::dram::DramSetup;
use super::hbm::ChannelTiming;
use super::{array, dot, vector};
use crate::config::design::{Design, EngineModel, MemoryModel};
use crate::config::dram::DramTiming;
use crate::config::platform::Platform;
use crate::lower::NodeKind;

/// A design's engines and memory on a platform.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    engines: Vec<EngineModel>,
    names: Vec<String>,
    ports: Vec<u64>,
    memory: MemorySystem,
    channels: usize,
    /// Cycles an engine's DMA takes to set up each transfer (`[control]`), one after another.
    dma_setup_cycles: u64,
}

/// The memory a machine's engines share, with what building it needs.
#[derive(Debug, Clone, PartialEq)]
pub enum MemorySystem {
    /// The fast HBM model: per-channel servers ([`super::hbm`]).
    Fast(ChannelTiming),
    /// The bank-level HBM ([`super::dram`]).
    Dram(Box<(DramTiming, DramSetup)>),
    /// Unlimited bandwidth, zero latency.
    Ideal,
}

impl Machine {
    /// The design's engines on the platform, every one idle.
    pub fn new(design: &Design, platform: &Platform) -> Machine {
        let engines = design.engines();
        Machine {
            engines: engines.iter().map(|e| e.model).collect(),
            names: engines.iter().map(|e| e.name.clone()).collect(),
            ports: engines.iter().map(|e| e.port).collect(),
            memory: match design.memory() {
                MemoryModel::Hbm => MemorySystem::Fast(ChannelTiming::new(platform, design)),
                MemoryModel::Dram => MemorySystem::Dram(Box::new((
                    platform
                        .hbm
                        .dram
                        .expect("a dram design was validated against the platform's timing"),
                    DramSetup::new(platform, design),
                ))),
                MemoryModel::Ideal => MemorySystem::Ideal,
            },
            channels: platform.hbm.channels as usize,
            dma_setup_cycles: design.control().dma_setup_cycles,
        }
    }

    /// Cycles an engine's DMA takes to set up each transfer before its requests leave.
    pub fn dma_setup_cycles(&self) -> u64 {
        self.dma_setup_cycles
    }

    /// Cycles a GEMM tile or vector pass holds its engine (0 for a transfer, which the
    /// memory times).
    pub fn compute_cycles(&self, kind: &NodeKind) -> u64 {
        match *kind {
            NodeKind::Gemm { engine, .. } | NodeKind::Vector { engine, .. } => {
                engine_cycles(&self.engines[engine as usize], kind)
            }
            NodeKind::Load(_) | NodeKind::Store(_) => 0,
        }
    }

    /// Engines of the design.
    pub fn engine_count(&self) -> usize {
        self.engines.len()
    }

    /// The engine's name, as traces and tables give it.
    pub fn engine_name(&self, engine: usize) -> &str {
        &self.names[engine]
    }

    /// The AXI port (mini-switch) the engine's transfers enter the memory at.
    pub fn port(&self, engine: usize) -> u64 {
        self.ports[engine]
    }

    /// The memory the engines share.
    pub fn memory(&self) -> &MemorySystem {
        &self.memory
    }

    /// The platform's memory channels.
    pub fn channels(&self) -> usize {
        self.channels
    }
}

/// Cycles a compute node holds an engine of `model`, as its timing model says
/// ([`array::tile_cycles`], [`dot::tile_cycles`], [`vector::pass_cycles`]).
pub fn engine_cycles(model: &EngineModel, kind: &NodeKind) -> u64 {
    match (kind, model) {
        (&NodeKind::Gemm { m, n, k, .. }, EngineModel::Systolic(shape)) => {
            array::tile_cycles(shape, m.into(), n.into(), k.into())
        }
        (
            &NodeKind::Gemm { m, n, k, .. },
            &EngineModel::Dot {
                lanes,
                depth_cycles,
            },
        ) => dot::tile_cycles(lanes, depth_cycles, m.into(), n.into(), k.into()),
        (
            &NodeKind::Vector { elements, .. },
            &EngineModel::Vector {
                lanes,
                depth_cycles,
                interval_cycles,
            },
        ) => vector::pass_cycles(elements, lanes, depth_cycles, interval_cycles),
        _ => unreachable!("lowering deals GEMMs to GEMM engines and passes to vector engines"),
    }
}
