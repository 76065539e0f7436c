//! What a run means end to end: the whole robot step of a full-pipeline run (observation in,
//! action chunk out, the control rate it allows) and a decode run's time to first token and
//! tokens per second.

use super::summary::{DecodeSummary, RobotStepSummary};
use crate::config::design::Design;
use crate::sim::{SimTotals, WorkloadSim};
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

    pub(super) fn summary(&self) -> RobotStepSummary {
        RobotStepSummary {
            latency_ms: self.latency_s() * 1e3,
            encoders_ms: self.encoders_s * 1e3,
            expert_ms: self.expert_s * 1e3,
            expert_ms_per_flow_step: self.expert_s * 1e3 / self.flow_steps as f64,
            flow_steps: self.flow_steps,
            bound_by: self.bound().to_string(),
            chunks_per_s: self.chunks_per_s(),
            actions_per_chunk: self.actions_per_chunk,
            actions_per_s: self.chunks_per_s() * self.actions_per_chunk as f64,
        }
    }
}

/// Generation after the prefix: time to first token and the per-token latency as the cache
/// grows.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct DecodeRun {
    /// Everything before the first generated token: the prefill and the LM head over its
    /// last row.
    first_token_s: f64,
    /// Each generated token's time, in order.
    token_s: Vec<f64>,
    prefix_tokens: u64,
    batch: u64,
}

impl DecodeRun {
    /// The generation of a workload with `--decode`; `None` without it.
    pub(super) fn new(workload: &Workload, sim: &WorkloadSim, design: &Design) -> Option<Self> {
        let tokens = workload.options.decode_tokens;
        if tokens == 0 {
            return None;
        }
        let mut first_token_s = 0.0;
        let mut token_s = vec![0.0; tokens as usize];
        for unit in &sim.units {
            let seconds = unit.cycles as f64 / design.clock_hz();
            let kernel = &workload.kernels[unit.kernels.start];
            match (kernel.encoder, kernel.step) {
                (Encoder::Decode, Some(token)) => token_s[token as usize] += seconds,
                (Encoder::Expert, _) => {}
                _ => first_token_s += seconds,
            }
        }
        Some(DecodeRun {
            first_token_s,
            token_s,
            prefix_tokens: workload.text_tokens,
            batch: workload.options.batch,
        })
    }

    fn mean_token_s(&self) -> f64 {
        self.token_s.iter().sum::<f64>() / self.token_s.len() as f64
    }

    /// Tokens per second over the generated tokens, all sequences of the batch together.
    fn tokens_per_s(&self) -> f64 {
        self.batch as f64 / self.mean_token_s()
    }

    pub(super) fn text(&self) -> String {
        let last = self.token_s.len() as u64;
        format!(
            "\ndecode: time to first token {:.3} ms (prefill of {} tokens and the LM head); {} \
             tokens at {:.3} ms each on average ({:.3} ms at cache {}, {:.3} ms at cache {}); \
             {:.1} tokens/s (batch {})\n",
            self.first_token_s * 1e3,
            self.prefix_tokens,
            last,
            self.mean_token_s() * 1e3,
            self.token_s[0] * 1e3,
            self.prefix_tokens + 1,
            self.token_s[self.token_s.len() - 1] * 1e3,
            self.prefix_tokens + last,
            self.tokens_per_s(),
            self.batch
        )
    }

    pub(super) fn summary(&self) -> DecodeSummary {
        DecodeSummary {
            time_to_first_token_ms: self.first_token_s * 1e3,
            tokens: self.token_s.len() as u64,
            prefix_tokens: self.prefix_tokens,
            mean_token_ms: self.mean_token_s() * 1e3,
            token_ms: self.token_s.iter().map(|s| s * 1e3).collect(),
            tokens_per_s: self.tokens_per_s(),
        }
    }
}
