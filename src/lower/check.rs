//! A design's mapping and links held against the kernels of a workload, before anything is
//! lowered: what the run holds in HBM within its capacity, every name known, every kernel on engines that can run it, every link between a
//! kernel and the one after it carrying that kernel's output into the next one's first
//! input, no stream into a kernel that needs its input whole, and the on-chip links'
//! storage and super long lines within each SLR's and boundary's budget beside the
//! engines' ([`Bill`]).

use super::LowerError;
use super::links::Bill;
use crate::config::design::{Design, MappingKey};
use crate::config::platform::Platform;
use crate::workload::{Kernel, Op, Workload};

/// Checks that `kernel` has engines on `design` (every lowering does, before building
/// anything) and that they compute at its precision.
pub fn check_engines(kernel: &Kernel, design: &Design) -> Result<(), LowerError> {
    let mapping = |rule: String| LowerError::Mapping {
        file: design.source().to_string(),
        rule,
    };
    let engines = design.engines_for(kernel.label_parts(), kernel.class);
    let used = if kernel.op.uses_arrays() {
        &engines.gemm
    } else {
        &engines.vector
    };
    if used.is_empty() || (kernel.op == Op::FusedAttention && engines.vector.is_empty()) {
        return Err(mapping(format!(
            "`{}` runs on no engine: map it, or give [arrays] a count",
            kernel.label()
        )));
    }
    if let Some(&engine) = used
        .iter()
        .find(|&&e| !design.engines()[e].can_run(kernel.compute_precision))
    {
        let engine = &design.engines()[engine];
        return Err(mapping(format!(
            "engine `{}` computes at {} and cannot run `{}` at {}",
            engine.name,
            engine.precision,
            kernel.label(),
            kernel.compute_precision
        )));
    }
    Ok(())
}

/// Checks `design`'s `[mapping]` and `[[links]]` against `workload` on `platform`; the error
/// names the design file and the mapping key or link at fault. Returns the design's bill
/// with its links.
pub fn check_mapping(
    workload: &Workload,
    design: &Design,
    platform: &Platform,
) -> Result<Bill, LowerError> {
    let footprint = workload.hbm_footprint();
    let capacity = platform.hbm.capacity_bytes;
    if footprint.total_bytes() > capacity {
        let gb = |bytes: u64| bytes as f64 / 1e9;
        let parts = [
            (
                footprint.weight_bytes,
                "a narrower weight precision or a smaller model",
            ),
            (
                footprint.kv_cache_bytes,
                "fewer tokens (--decode, --language-tokens) or a smaller --batch",
            ),
            (
                footprint.activation_bytes,
                "a smaller --batch or fewer tokens",
            ),
        ];
        let (_, helps) = parts
            .iter()
            .max_by_key(|(bytes, _)| *bytes)
            .expect("three parts");
        return Err(LowerError::HbmCapacity {
            file: platform.source.clone(),
            rule: format!(
                "the run holds at least {} bytes ({:.2} GB) in HBM, which holds {capacity}: \
                 weights {:.2} GB at {}, key/value cache {:.2} GB, largest kernel's \
                 activations {:.2} GB; use {helps}",
                footprint.total_bytes(),
                gb(footprint.total_bytes()),
                gb(footprint.weight_bytes),
                workload.options.precision,
                gb(footprint.kv_cache_bytes),
                gb(footprint.activation_bytes),
            ),
        });
    }
    let file = design.source().to_string();
    let labels = workload.labels();
    let mapping = |rule: String| LowerError::Mapping {
        file: file.clone(),
        rule,
    };
    // A name the workload lacks is a mistake, unless the workload is a focused part of the
    // model (`--kernels`, a sweep's filter) or has none of that encoder's kernels at all.
    let applies = |label: &str| {
        workload.options.kernels.is_empty()
            && label.split_once('/').is_some_and(|(encoder, _)| {
                labels.iter().any(|l| l.starts_with(&format!("{encoder}/")))
            })
    };
    for (key, engines) in design.mapping() {
        let MappingKey::Kernel(label) = key else {
            continue;
        };
        if !labels.contains(label) {
            if !applies(label) {
                continue;
            }
            return Err(mapping(format!(
                "`{label}` names no kernel of the workload (nor a class: projection, \
                 attention, mlp, vector){}",
                crate::config::did_you_mean(label, &labels)
            )));
        }
        let kernel = workload
            .kernels
            .iter()
            .find(|k| k.label_parts().is(label))
            .expect("a label of the workload");
        let runs_gemms = kernel.op.uses_arrays();
        if !engines
            .iter()
            .any(|&e| design.engines()[e].runs_gemms() == runs_gemms)
        {
            let needs = if runs_gemms {
                "a systolic or dot engine"
            } else {
                "a vector engine"
            };
            return Err(mapping(format!("`{label}` is mapped to no {needs}")));
        }
    }
    for kernel in &workload.kernels {
        check_engines(kernel, design)?;
    }
    for link in design.links() {
        let refuse = |rule: String| LowerError::Link {
            file: file.clone(),
            link: format!("{} -> {}", link.from, link.to),
            rule,
        };
        let missing = [&link.from, &link.to]
            .into_iter()
            .find(|end| !labels.contains(end));
        if let Some(end) = missing {
            if !applies(end) {
                continue;
            }
            return Err(refuse(format!(
                "`{end}` names no kernel of the workload{}",
                crate::config::did_you_mean(end, &labels)
            )));
        }
        let reads = workload
            .kernels
            .iter()
            .enumerate()
            .any(|(index, consumer)| {
                consumer.label_parts().is(&link.to)
                    && consumer
                        .operands
                        .iter()
                        .flat_map(|o| &o.access.pieces)
                        .filter_map(|piece| index.checked_sub(piece.back as usize))
                        .any(|producer| {
                            let producer = &workload.kernels[producer];
                            producer.label_parts().is(&link.from)
                                && producer.layer == consumer.layer
                        })
            });
        if !reads {
            return Err(refuse(format!(
                "`{}` does not read the output of `{}` in the same layer; a link carries a \
                 kernel's output to a kernel that reads it",
                link.to, link.from
            )));
        }
    }
    Bill::checked(workload, design, platform)
}
