//! The whole robot step of a full-pipeline run: observation in, action chunk out, and the
//! control rate it allows.

use crate::config::design::Design;
use crate::sim::SimTotals;
use crate::workload::{Encoder, Workload};

/// The whole robot step of a full-pipeline run: observation in, action chunk out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RobotStep {
    encoders_s: f64,
    expert_s: f64,
    flow_steps: u64,
    actions_per_chunk: u64,
    batch: u64,
}

impl RobotStep {
    /// The step of a workload that runs the action expert; `None` for the encoders alone.
    pub(super) fn new(
        workload: &Workload,
        encoders: &[(Encoder, SimTotals)],
        design: &Design,
    ) -> Option<Self> {
        let expert = workload.options.expert.as_ref()?;
        let seconds = |wanted: fn(Encoder) -> bool| -> f64 {
            encoders
                .iter()
                .filter(|(encoder, _)| wanted(*encoder))
                .map(|(_, totals)| totals.seconds(design))
                .sum()
        };
        let expert_s = seconds(|e| e == Encoder::Expert);
        (expert_s > 0.0).then(|| RobotStep {
            encoders_s: seconds(|e| e != Encoder::Expert),
            expert_s,
            flow_steps: expert.num_steps,
            actions_per_chunk: expert.n_action_steps,
            batch: workload.options.batch,
        })
    }

    fn latency_s(&self) -> f64 {
        self.encoders_s + self.expert_s
    }

    /// Action chunks per second: one per observation of the batch.
    fn chunks_per_s(&self) -> f64 {
        self.batch as f64 / self.latency_s()
    }

    /// What holds the step back: the larger of its two halves.
    fn bound(&self) -> &'static str {
        if self.encoders_s >= self.expert_s {
            "encoders"
        } else {
            "expert"
        }
    }

    pub(super) fn text(&self) -> String {
        format!(
            "\nobservation -> action chunk: {:.3} ms = encoders {:.3} + expert {:.3} ({:.3} per \
             flow-matching step x {}); bound by the {} ({:.0}%)\ncontrol rate: {:.2} chunks/s, \
             {:.1} actions/s at {} actions per chunk\n",
            self.latency_s() * 1e3,
            self.encoders_s * 1e3,
            self.expert_s * 1e3,
            self.expert_s * 1e3 / self.flow_steps as f64,
            self.flow_steps,
            self.bound(),
            100.0 * self.encoders_s.max(self.expert_s) / self.latency_s(),
            self.chunks_per_s(),
            self.chunks_per_s() * self.actions_per_chunk as f64,
            self.actions_per_chunk
        )
    }

    pub(super) fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "latency_ms": self.latency_s() * 1e3,
            "encoders_ms": self.encoders_s * 1e3,
            "expert_ms": self.expert_s * 1e3,
            "expert_ms_per_flow_step": self.expert_s * 1e3 / self.flow_steps as f64,
            "flow_steps": self.flow_steps,
            "bound_by": self.bound(),
            "chunks_per_s": self.chunks_per_s(),
            "actions_per_chunk": self.actions_per_chunk,
            "actions_per_s": self.chunks_per_s() * self.actions_per_chunk as f64,
        })
    }
}
