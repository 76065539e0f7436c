//! smolVLA's action expert: the kernels of every flow-matching step, after the prefix.

use super::access::Access;
use super::build::{output_and_mlp, projections, rope};
use super::builder::{AttentionShape, Builder, Epilogue};
use super::{Encoder, KernelClass, Op, WorkloadOptions};
use crate::config::model::TextSpec;
use crate::config::policy::ExpertSpec;

/// smolVLA's action expert as lerobot's `SmolVLMWithExpertModel` runs it at inference: at
/// each of `num_steps` flow-matching steps, the action chunk (`chunk_size` tokens, padded to
/// `max_action_dim`) is embedded with the step's time (`action_in_proj`, then
/// `action_time_mlp_in` over the concatenated action and sinusoidal time embeddings, SiLU,
/// `action_time_mlp_out`), runs through the expert's layers and leaves through
/// `action_out_proj`. Expert layer `j` sits beside VLM layer `i = j × (vlm ÷ expert
/// layers)` and reads that layer's prefix key/value cache: a self-attention layer (every
/// `self_attn_every_n_layers`-th, or all without cross attention) projects the action
/// tokens' own K and V (`hidden → kv`) and attends to prefix and actions; a cross-attention
/// layer projects the cached prefix K and V (`kv → kv`, at every step in the reference) and
/// attends to the prefix only. The expert copies the text config's heads and head size,
/// so Q is `hidden → heads × head_dim` and O the reverse. The 720 sines and cosines of the
/// time embedding are not counted.
pub(super) fn action_expert(
    builder: &mut Builder,
    text: &TextSpec,
    expert: &ExpertSpec,
    prefix_tokens: u64,
    options: &WorkloadOptions,
) {
    let hidden = expert.hidden_size(text.hidden_size);
    let ffn = expert.intermediate_size(text.hidden_size);
    let q_width = builder.product(&[text.num_heads, text.head_dim]);
    let kv_width = builder.product(&[text.num_kv_heads, text.head_dim]);
    let rows = builder.product(&[expert.chunk_size, options.batch]);
    let prefix_rows = builder.product(&[prefix_tokens, options.batch]);
    let vlm_layers = options.text_layers;
    let expert_layers = match expert.num_expert_layers {
        0 => vlm_layers,
        layers => layers,
    };
    let every = vlm_layers / expert_layers;
    let layers: Vec<u64> = (0..vlm_layers)
        .filter(|&i| every == 0 || i % every == 0)
        .collect();
    let self_attends = |i: u64| {
        !expert.cross_attention
            || (expert.self_attn_every_n_layers > 0
                && i.is_multiple_of(expert.self_attn_every_n_layers))
    };
    let cross_kv = |builder: &mut Builder| {
        for name in ["cross_k_proj", "cross_v_proj"] {
            builder.linear(
                name,
                KernelClass::Projection,
                (prefix_rows, kv_width, kv_width),
                text.attention_bias,
                Epilogue::None,
            );
            // The prefix's cached keys and values, written before the expert runs.
            builder.read_from("x", None);
            builder.reads_cache();
        }
    };
    builder.encoder = Encoder::Expert;
    if options.switches.cross_kv_once {
        for &layer in layers.iter().filter(|&&i| !self_attends(i)) {
            builder.layer = Some(layer);
            cross_kv(builder);
        }
    }
    let time_width = builder.product(&[2, hidden]);
    for step in 0..expert.num_steps {
        builder.step = Some(step);
        builder.layer = None;
        builder.linear(
            "action_in_proj",
            KernelClass::Projection,
            (rows, expert.max_action_dim, hidden),
            true,
            Epilogue::None,
        );
        let action = builder.kernels.len() - 1;
        builder.activated_linear(
            ["time_mlp_in_silu", "time_mlp_in"],
            KernelClass::Mlp,
            (rows, time_width, hidden),
            true,
            (Op::Silu, options.fusion.gemm_activation),
        );
        // The action embedding beside the time embedding (not a kernel's output).
        let time_mlp_in = action + 1;
        builder.set_access(time_mlp_in, "x", Access::columns(1, rows, (0, hidden), 0));
        builder.linear(
            "time_mlp_out",
            KernelClass::Mlp,
            (rows, hidden, hidden),
            true,
            Epilogue::None,
        );
        for &layer in &layers {
            builder.layer = Some(layer);
            builder.layer_norm("rms1", Op::RmsNorm, rows, hidden);
            let cross = !self_attends(layer);
            let keys = if !cross {
                projections(builder, rows, (hidden, q_width, kv_width), text, options);
                rope(builder, rows, (q_width, kv_width));
                prefix_tokens + expert.chunk_size
            } else {
                builder.linear(
                    "q_proj",
                    KernelClass::Projection,
                    (rows, hidden, q_width),
                    text.attention_bias,
                    Epilogue::None,
                );
                if !options.switches.cross_kv_once {
                    cross_kv(builder);
                }
                let q_proj = builder.find(&["q_proj"]);
                builder.vector("rope_q", Op::Rope, (1, rows, q_width), &["q"], vec![]);
                builder.read_from("q", q_proj);
                prefix_tokens
            };
            builder.attention(
                AttentionShape {
                    instances: options.batch,
                    queries: expert.chunk_size,
                    keys,
                    heads: text.num_heads,
                    kv_heads: text.num_kv_heads,
                    head_dim: text.head_dim,
                    cross,
                },
                options.fusion.attention,
            );
            output_and_mlp(builder, rows, (q_width, hidden), ffn, text, options);
        }
        builder.layer = None;
        builder.layer_norm("norm", Op::RmsNorm, rows, hidden);
        builder.linear(
            "action_out_proj",
            KernelClass::Projection,
            (rows, hidden, expert.max_action_dim),
            true,
            Epilogue::None,
        );
    }
    builder.step = None;
}

#[cfg(test)]
mod tests {
    use super::super::{Encoder, ExpertSwitches, Kernel, Pipeline, Workload, WorkloadChoices};
    use crate::config::model::{default_model, default_policy};
    use crate::config::precision::{Precision, PrecisionPair};
    use crate::workload::build_workload;

    fn run(cameras: u64, pipeline: Pipeline, switches: ExpertSwitches) -> Workload {
        let choices = WorkloadChoices {
            cameras: Some(cameras),
            batch: 1,
            pipeline,
            switches,
            ..WorkloadChoices::default()
        };
        choices
            .build(
                &default_model(),
                Some(&default_policy()),
                PrecisionPair::uniform(Precision::Int8),
            )
            .unwrap()
    }

    fn macs<'a>(kernels: impl Iterator<Item = &'a Kernel>) -> u64 {
        kernels.map(|k| k.macs).sum()
    }

    /// The prefix the expert attends to: 64 image tokens per camera, 48 language, 1 state.
    fn prefix(cameras: u64) -> u64 {
        64 * cameras + 48 + 1
    }

    /// Derived by hand from lerobot's `SmolVLMWithExpertModel` and `VLAFlowMatching` with
    /// smolvla_base on SmolVLM2-500M: expert width h = int(960 × 0.75) = 720, MLP width
    /// f = 256·⌈4·⌊2h/3⌋/256⌉ = 2048, 15 query and 5 key/value heads of d = 64 (q = 960,
    /// kv = 320), chunk C = 50, padded action width A = 32, 16 layers of which the even
    /// ones self-attend (8) and the odd ones cross-attend (8), prefix P tokens. Per step:
    /// - action_in C·A·h, time MLP in C·2h·h and out C·h·h, action_out C·h·A: 80,064,000;
    /// - each layer: Q C·h·q, O C·q·h, MLP 3·C·h·f: 290,304,000, × 16;
    /// - self layers: K, V 2·C·h·kv = 23,040,000 and attention 2·15·C·(P + C)·d
    ///   = 96,000·(P + 50), × 8;
    /// - cross layers: K, V of the cache 2·P·kv·kv = 204,800·P and attention 2·15·C·P·d
    ///   = 96,000·P, × 8.
    ///
    /// Sum: 4,947,648,000 + 3,174,400·P per step; 10 steps per observation.
    fn expert_macs_per_step(prefix: u64) -> u64 {
        4_947_648_000 + 3_174_400 * prefix
    }

    #[test]
    fn the_expert_does_the_reference_codes_work_per_step_and_per_observation() {
        for cameras in [1, 3] {
            let workload = run(cameras, Pipeline::Full, ExpertSwitches::default());
            let expert = || workload.encoder_kernels(Encoder::Expert);
            assert_eq!(
                macs(expert().filter(|k| k.step == Some(0))),
                expert_macs_per_step(prefix(cameras)),
                "{cameras} camera(s)"
            );
            assert_eq!(macs(expert()), 10 * expert_macs_per_step(prefix(cameras)));
            assert!(expert().all(|k| k.step.is_some()));
        }
        // 57.13 GMACs at 3 cameras: 13.6 % of the step's 419.8 G; 29.7 % at one camera.
        let step = |cameras| {
            let workload = run(cameras, Pipeline::Full, ExpertSwitches::default());
            macs(workload.encoder_kernels(Encoder::Expert)) as f64
                / macs(workload.kernels.iter()) as f64
        };
        assert!((step(3) - 0.136).abs() < 0.001, "{}", step(3));
        assert!((step(1) - 0.297).abs() < 0.001, "{}", step(1));
    }

    /// The expert holds its weights once, however many flow-matching steps read them: by
    /// hand (h = 720, q = 960, kv = 320, f = 2048, A = 32, no biases in the layers, RMSNorm
    /// scales of h): action_in A·h + h, time MLP in 2h·h + h and out h·h + h, action_out
    /// h·A + A, final norm h: 1,604,192; each layer two norms, Q h·q, O q·h and the MLP 3·h·f:
    /// 5,807,520, × 16; self layers K, V 2·h·kv, × 8; cross layers K, V of the cache 2·kv·kv,
    /// × 8. Sum 99,849,312 (the table once said 998.5 M, ten steps' worth).
    #[test]
    fn the_expert_holds_its_weights_once_whatever_its_steps() {
        let workload = run(3, Pipeline::Full, ExpertSwitches::default());
        let by_hand = 1_604_192 + 16 * 5_807_520 + 8 * 2 * 720 * 320 + 8 * 2 * 320 * 320;
        assert_eq!(workload.parameters(Encoder::Expert), by_hand);
        let once = run(
            3,
            Pipeline::Full,
            ExpertSwitches {
                cross_kv_once: true,
                trim_last_text_layer: false,
            },
        );
        assert_eq!(once.parameters(Encoder::Expert), by_hand);
    }

    #[test]
    fn the_state_projection_joins_the_prefix_only_in_the_full_pipeline() {
        let state =
            |workload: &Workload| macs(workload.kernels.iter().filter(|k| k.name == "state_proj"));
        // One state token, padded to max_state_dim = 32, projected to the VLM's 960.
        assert_eq!(
            state(&run(3, Pipeline::Full, ExpertSwitches::default())),
            32 * 960
        );
        let encoders = run(3, Pipeline::Encoders, ExpertSwitches::default());
        assert_eq!(state(&encoders), 0);
        assert_eq!(encoders.encoder_kernels(Encoder::Expert).count(), 0);
    }

    /// Each switch saves exactly its closed form.
    #[test]
    fn switches_save_what_they_skip() {
        let p = prefix(3);
        let reference = run(3, Pipeline::Full, ExpertSwitches::default());
        let kv_once = run(
            3,
            Pipeline::Full,
            ExpertSwitches {
                cross_kv_once: true,
                ..ExpertSwitches::default()
            },
        );
        // The cache projections of 8 cross layers run once instead of 10 times.
        let cross_kv = 8 * 2 * p * 320 * 320;
        assert_eq!(
            macs(reference.kernels.iter()) - macs(kv_once.kernels.iter()),
            9 * cross_kv
        );
        let once: Vec<&Kernel> = kv_once
            .encoder_kernels(Encoder::Expert)
            .filter(|k| k.step.is_none())
            .collect();
        assert_eq!(once.len(), 16);
        assert_eq!(macs(once.into_iter()), cross_kv);
        // Trimming the last text layer to K/V saves its Q and O (P·960·960 each), attention
        // (2·15·P²·64) and MLP (3·P·960·2560).
        let trimmed = run(
            3,
            Pipeline::Full,
            ExpertSwitches {
                trim_last_text_layer: true,
                ..ExpertSwitches::default()
            },
        );
        let text = |w: &Workload| macs(w.encoder_kernels(Encoder::Text));
        assert_eq!(
            text(&reference) - text(&trimmed),
            2 * p * 960 * 960 + 2 * 15 * p * p * 64 + 3 * p * 960 * 2560
        );
        let last = trimmed
            .encoder_kernels(Encoder::Text)
            .filter(|k| k.layer == Some(15))
            .map(|k| k.name)
            .collect::<Vec<_>>();
        assert_eq!(last, ["rms1", "kv_proj", "rope"]);
    }

    /// A multiplier that rounds the expert to nothing is refused, not lowered into empty
    /// GEMMs (found in review: 0.001 × 960 rounds to 0 and the lowering panicked).
    #[test]
    fn an_expert_rounded_to_nothing_is_refused() {
        let mut policy = default_policy();
        policy.expert.width_multiplier = 0.001;
        let choices = WorkloadChoices {
            batch: 1,
            pipeline: Pipeline::Full,
            ..WorkloadChoices::default()
        };
        let options = choices
            .options(
                &default_model(),
                Some(&policy),
                PrecisionPair::uniform(Precision::Int8),
            )
            .unwrap();
        let error = build_workload(&default_model(), &options).unwrap_err();
        assert!(
            error.to_string().starts_with(
                "--policy: built-in:smolvla_base.config.json: field `expert_width_multiplier`: \
                 0.001 makes the expert 0 wide"
            ),
            "{error}"
        );
    }

    #[test]
    fn the_full_pipeline_needs_a_policy() {
        let choices = WorkloadChoices {
            batch: 1,
            pipeline: Pipeline::Full,
            ..WorkloadChoices::default()
        };
        let options = choices
            .options(
                &default_model(),
                None,
                PrecisionPair::uniform(Precision::Int8),
            )
            .unwrap();
        let error = build_workload(&default_model(), &options).unwrap_err();
        assert!(
            error.to_string().starts_with("--pipeline: `full` needs"),
            "{error}"
        );
    }
}
