//! A design's mapping and links held against the kernels of a workload, before anything is
//! lowered: every name known, every kernel on engines that can run it, every link between a
//! kernel and the one after it, and no stream into a kernel that needs its input whole.

use super::{LowerError, stream_refusal};
use crate::config::design::{Design, MappingKey, Via};
use crate::workload::Workload;

/// Checks `design`'s `[mapping]` and `[[links]]` against `workload`; the error names the
/// design file and the mapping key or link at fault.
pub fn check_mapping(workload: &Workload, design: &Design) -> Result<(), LowerError> {
    let file = design.source().to_string();
    let labels = workload.labels();
    let mapping = |rule: String| LowerError::Mapping {
        file: file.clone(),
        rule,
    };
    for (key, engines) in design.mapping() {
        let MappingKey::Kernel(label) = key else {
            continue;
        };
        if !labels.contains(label) {
            return Err(mapping(format!(
                "`{label}` names no kernel of the workload (nor a class: projection, \
                 attention, mlp, vector){}",
                crate::config::did_you_mean(label, &labels)
            )));
        }
        let kernel = workload
            .kernels
            .iter()
            .find(|k| k.label() == *label)
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
        let engines = design.engines_for(&kernel.label(), kernel.class);
        if kernel.op.uses_arrays() && engines.gemm.is_empty() {
            return Err(mapping(format!(
                "`{}` runs on no engine: map it, or give [arrays] a count",
                kernel.label()
            )));
        }
        let used = if kernel.op.uses_arrays() {
            &engines.gemm
        } else {
            &engines.vector
        };
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
    }
    for link in design.links() {
        let refuse = |rule: String| LowerError::Link {
            file: file.clone(),
            link: format!("{} -> {}", link.from, link.to),
            rule,
        };
        for end in [&link.from, &link.to] {
            if !labels.contains(end) {
                return Err(refuse(format!(
                    "`{end}` names no kernel of the workload{}",
                    crate::config::did_you_mean(end, &labels)
                )));
            }
        }
        let pair = workload.kernels.windows(2).find(|pair| {
            pair[0].label() == link.from
                && pair[1].label() == link.to
                && pair[0].layer == pair[1].layer
        });
        let Some(pair) = pair else {
            return Err(refuse(format!(
                "`{}` does not run right after `{}` in the same layer; a link carries a \
                 kernel's output to the next kernel",
                link.to, link.from
            )));
        };
        if link.via == Via::Stream
            && let Some(rule) = stream_refusal(&pair[0], &pair[1])
        {
            return Err(refuse(rule));
        }
    }
    Ok(())
}
