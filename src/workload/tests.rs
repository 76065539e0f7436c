//! Counts of the encoders' workload against the reference implementation's.

use super::{
    Encoder, ExpertSwitches, Fusion, Kernel, Pipeline, Workload, WorkloadError, WorkloadOptions,
    build_workload,
};
use crate::config::model::{default_model, default_policy};
use crate::config::precision::{Precision, PrecisionPair};

fn options(cameras: u64, batch: u64, fusion: Fusion) -> WorkloadOptions {
    let policy = default_policy();
    WorkloadOptions {
        policy: None,
        cameras,
        language_tokens: policy.language_tokens,
        state_tokens: policy.state_tokens,
        batch,
        text_layers: policy.num_vlm_layers,
        vision_layers: 12,
        kernels: Vec::new(),
        precision: PrecisionPair::uniform(Precision::Int8),
        fusion,
        pipeline: Pipeline::Encoders,
        switches: ExpertSwitches::default(),
        per_camera_vision: false,
        decode_tokens: 0,
        prefill: super::Prefill::Parallel,
        expert: Some(policy.expert.clone()),
    }
}

fn smolvla(cameras: u64, batch: u64, fusion: Fusion) -> Workload {
    build_workload(&default_model(), &options(cameras, batch, fusion)).unwrap()
}

#[test]
fn parameter_counts_match_the_reference() {
    let workload = smolvla(3, 1, Fusion::default());
    assert_eq!(workload.parameters(Encoder::Vision), 86_433_024);
    assert_eq!(workload.parameters(Encoder::Connector), 11_796_480);
    assert_eq!(workload.parameters(Encoder::Text), 16 * 9_832_320);
}

#[test]
fn parameters_do_not_depend_on_fusion_or_batch() {
    let all = Fusion {
        gemm_activation: true,
        qkv: true,
        attention: true,
    };
    let fused = smolvla(2, 4, all);
    for encoder in Encoder::ALL {
        assert_eq!(
            fused.parameters(encoder),
            smolvla(3, 1, Fusion::default()).parameters(encoder)
        );
    }
}

#[test]
fn vision_macs_per_image_include_the_patch_embedding() {
    let workload = smolvla(1, 1, Fusion::default());
    let macs: u64 = workload
        .encoder_kernels(Encoder::Vision)
        .map(|k| k.macs)
        .sum();
    assert_eq!(macs, 106_904_420_352);
    let patch = &workload.kernels[0];
    assert_eq!(
        (patch.name, patch.m, patch.k, patch.n),
        ("patch_embed", 1024, 768, 768)
    );
}

#[test]
fn default_prefix_is_241_tokens() {
    let workload = smolvla(3, 1, Fusion::default());
    assert_eq!(workload.text_tokens, 241);
    let q = workload
        .encoder_kernels(Encoder::Text)
        .find(|kernel| kernel.name == "k_proj")
        .unwrap();
    assert_eq!((q.m, q.k, q.n), (241, 960, 320));
}

#[test]
fn connector_projects_64_tokens_per_image() {
    let workload = smolvla(3, 1, Fusion::default());
    let proj = workload
        .encoder_kernels(Encoder::Connector)
        .find(|kernel| kernel.name == "proj")
        .unwrap();
    assert_eq!((proj.m, proj.k, proj.n), (192, 12288, 960));
}

#[test]
fn gqa_reads_each_kv_head_once() {
    let workload = smolvla(3, 1, Fusion::default());
    let scores = workload
        .encoder_kernels(Encoder::Text)
        .find(|kernel| kernel.name == "scores")
        .unwrap();
    assert_eq!(scores.batch, 15);
    let k = scores.operands.iter().find(|o| o.name == "k").unwrap();
    assert_eq!(k.elements, 5 * 241 * 64);
}

#[test]
fn fusion_conserves_macs_and_removes_intermediate_traffic() {
    let plain = smolvla(3, 1, Fusion::default());
    let fused = smolvla(
        3,
        1,
        Fusion {
            gemm_activation: true,
            qkv: true,
            attention: true,
        },
    );
    let total = |w: &Workload, f: fn(&Kernel) -> u64| w.kernels.iter().map(f).sum::<u64>();
    assert_eq!(total(&plain, |k| k.macs), total(&fused, |k| k.macs));
    assert_eq!(total(&plain, Kernel::flops), total(&fused, Kernel::flops));
    assert!(total(&fused, Kernel::bytes) < total(&plain, Kernel::bytes));
    assert!(fused.kernels.len() < plain.kernels.len());
}

#[test]
fn int4_packs_two_elements_per_byte() {
    let mut opts = options(1, 1, Fusion::default());
    opts.precision = PrecisionPair::uniform(Precision::Int4);
    let workload = build_workload(&default_model(), &opts).unwrap();
    let patch = &workload.kernels[0];
    let weights = patch.operands.iter().find(|o| o.name == "w").unwrap();
    assert_eq!(weights.bytes(), 768 * 768 / 2);
}

#[test]
fn zero_cameras_and_too_many_layers_are_rejected() {
    let error = build_workload(&default_model(), &options(0, 1, Fusion::default()));
    assert!(matches!(
        error,
        Err(WorkloadError::Invalid {
            option: "--cameras",
            ..
        })
    ));
    let mut opts = options(3, 1, Fusion::default());
    opts.text_layers = 33;
    let error = build_workload(&default_model(), &opts);
    assert!(matches!(
        error,
        Err(WorkloadError::Invalid {
            option: "--text-layers",
            ..
        })
    ));
}

/// Per camera, the tower and connector run once per camera: the same MACs and activations,
/// each weight read once per camera instead of once.
#[test]
fn per_camera_vision_reads_the_weights_once_per_camera() {
    let batched = smolvla(3, 1, Fusion::default());
    let per_camera = build_workload(
        &default_model(),
        &WorkloadOptions {
            per_camera_vision: true,
            ..options(3, 1, Fusion::default())
        },
    )
    .unwrap();
    for encoder in [Encoder::Vision, Encoder::Connector] {
        let total =
            |w: &Workload, f: fn(&Kernel) -> u64| w.encoder_kernels(encoder).map(f).sum::<u64>();
        assert_eq!(total(&batched, |k| k.macs), total(&per_camera, |k| k.macs));
        assert_eq!(
            3 * total(&batched, Kernel::parameters),
            total(&per_camera, Kernel::parameters)
        );
        assert_eq!(
            3 * batched.encoder_kernels(encoder).count(),
            per_camera.encoder_kernels(encoder).count()
        );
    }
    assert_eq!(batched.text_tokens, per_camera.text_tokens);
    assert_eq!(
        batched.encoder_kernels(Encoder::Text).collect::<Vec<_>>(),
        per_camera
            .encoder_kernels(Encoder::Text)
            .collect::<Vec<_>>()
    );
}

/// A bare text model's workload from a shipped config: `prefix` tokens, `decode` tokens.
fn text_model(config: &str, prefix: u64, decode: u64) -> Workload {
    let model =
        crate::config::model::load_model(&crate::config::Source::built_in("config.json", config))
            .unwrap();
    let choices = super::WorkloadChoices {
        language_tokens: Some(prefix),
        state_tokens: Some(0),
        batch: 1,
        decode_tokens: decode,
        ..super::WorkloadChoices::default()
    };
    choices
        .build(&model, None, PrecisionPair::uniform(Precision::Fp16))
        .unwrap()
}

/// BERT-base's published 110 M parameters (109,482,240 in transformers' BertModel): what
/// the encoder reads (12 post-LN layers with their biases and the embedding LayerNorm) plus
/// the lookups' tables (30,522 words, 512 positions, 2 token types, × 768) and the pooler
/// (768 × 768 + 768), which roofsim's encoder does not run.
#[test]
fn bert_base_has_its_published_parameter_count() {
    let workload = text_model(
        include_str!("../../configs/models/bert-base-uncased.config.json"),
        512,
        0,
    );
    let read = workload.parameters(Encoder::Text);
    assert_eq!(
        read + (30522 + 512 + 2) * 768 + 768 * 768 + 768,
        109_482_240
    );
    // Post-LayerNorm: each layer ends in its second norm.
    let layer: Vec<&str> = workload
        .encoder_kernels(Encoder::Text)
        .filter(|k| k.layer == Some(0))
        .map(|k| k.name)
        .collect();
    assert_eq!(layer.first(), Some(&"q_proj"));
    assert_eq!(layer.last(), Some(&"ln2"));
}

/// GPT-2 medium's published 355 M parameters (354,823,168 in transformers' GPT2Model): what
/// one decoded token reads (24 layers, ln_f, the LM head tied to the token embeddings, so
/// the 50,257 × 1,024 table once) plus the 1,024 × 1,024 position table, which the token
/// reads one row of as a lookup.
#[test]
fn gpt2_medium_has_its_published_parameter_count() {
    let workload = text_model(
        include_str!("../../configs/models/gpt2-medium.config.json"),
        127,
        1,
    );
    let read: u64 = workload
        .encoder_kernels(Encoder::Decode)
        .filter(|k| k.step == Some(0))
        .map(Kernel::parameters)
        .sum();
    assert_eq!(read + 1024 * 1024, 354_823_168);
}

/// Each activation read names the kernel that wrote it, at the columns it wrote: what the
/// lowering's dependencies stand on. Unfused text layers (GQA: 15 query, 5 key/value heads
/// of 64) and fused vision layers, in the full pipeline (the expert's cache of the prefix).
#[test]
fn reads_name_the_kernels_that_wrote_them() {
    let producer = |workload: &Workload, index: usize, operand: &str| -> Vec<(&str, u64)> {
        let read = workload.kernels[index]
            .operands
            .iter()
            .find(|o| o.name == operand)
            .unwrap();
        read.access
            .pieces
            .iter()
            .map(|p| {
                (
                    workload.kernels[index - p.back as usize].name,
                    p.producer_col,
                )
            })
            .collect()
    };
    let find = |workload: &Workload, encoder: Encoder, layer: u64, name: &str| {
        workload
            .kernels
            .iter()
            .position(|k| (k.encoder, k.layer, k.name) == (encoder, Some(layer), name))
            .unwrap()
    };
    let unfused = smolvla(1, 1, Fusion::default());
    let text = |name| find(&unfused, Encoder::Text, 3, name);
    assert_eq!(producer(&unfused, text("k_proj"), "x"), [("rms1", 0)]);
    assert_eq!(producer(&unfused, text("v_proj"), "x"), [("rms1", 0)]);
    assert_eq!(
        producer(&unfused, text("rope"), "qk"),
        [("q_proj", 0), ("k_proj", 0)]
    );
    assert_eq!(producer(&unfused, text("scores"), "q"), [("rope", 0)]);
    // K sits after Q's 15 heads in RoPE's output; V is its own projection's.
    assert_eq!(producer(&unfused, text("scores"), "k"), [("rope", 960)]);
    assert_eq!(producer(&unfused, text("context"), "v"), [("v_proj", 0)]);
    let scores = &unfused.kernels[text("scores")];
    let k = scores.operands.iter().find(|o| o.name == "k").unwrap();
    assert_eq!(
        k.access.heads.map(|h| (h.per_instance, h.group)),
        Some((15, 3))
    );
    assert_eq!(producer(&unfused, text("o_proj"), "x"), [("context", 0)]);
    // The first residual adds the layer input: layer 2's second residual.
    assert_eq!(
        producer(&unfused, text("residual1"), "residual"),
        [("residual2", 0)]
    );
    assert_eq!(
        producer(&unfused, text("silu_mul"), "gate"),
        [("gate_proj", 0)]
    );
    assert_eq!(producer(&unfused, text("up_proj"), "x"), [("rms2", 0)]);

    let qkv = Fusion {
        gemm_activation: true,
        qkv: true,
        attention: false,
    };
    let fused = smolvla(3, 1, qkv);
    let vision = |name| find(&fused, Encoder::Vision, 0, name);
    assert_eq!(producer(&fused, vision("scores"), "q"), [("qkv_proj", 0)]);
    assert_eq!(producer(&fused, vision("scores"), "k"), [("qkv_proj", 768)]);
    assert_eq!(
        producer(&fused, vision("context"), "v"),
        [("qkv_proj", 1536)]
    );
    assert_eq!(
        producer(&fused, vision("residual1"), "residual"),
        [("pos_add", 0)]
    );
    assert_eq!(
        producer(&fused, vision("residual2"), "residual"),
        [("residual1", 0)]
    );
}

/// Where attention's tensors lie: Q, K and V in the QKV projection's output (2,304 columns,
/// from columns 0, 768 and 1,536), stored in head panels of the images' 1,024 rows since
/// the scores split them into heads; the context in panels of its own, where the output
/// projection reads it; a decoded token's key cache (the prefix's rows, then its own) a
/// tensor of its own.
#[test]
fn attention_tensors_lie_where_their_producers_store_them() {
    use super::access::Storage;
    let fused_qkv = Fusion {
        qkv: true,
        ..Fusion::default()
    };
    let workload = smolvla(3, 1, fused_qkv);
    let layer: Vec<&Kernel> = workload
        .encoder_kernels(Encoder::Vision)
        .filter(|k| k.layer == Some(0))
        .collect();
    let storage = |kernel: &str, operand: &str| {
        let kernel = layer.iter().find(|k| k.name == kernel).unwrap();
        let operand = kernel.operands.iter().find(|o| o.name == operand).unwrap();
        operand.access.storage.unwrap()
    };
    let qkv = |col_offset| Storage {
        width: 2304,
        col_offset,
        panel: Some((1024, 64)),
    };
    assert_eq!(storage("scores", "q"), qkv(0));
    assert_eq!(storage("scores", "k"), qkv(768));
    assert_eq!(storage("context", "v"), qkv(1536));
    let context = Storage {
        width: 768,
        col_offset: 0,
        panel: Some((1024, 64)),
    };
    assert_eq!(storage("context", "context"), context);
    assert_eq!(storage("o_proj", "x"), context);
    let decode = text_model(
        include_str!("../../configs/models/gpt2-medium.config.json"),
        8,
        1,
    );
    let scores = decode
        .encoder_kernels(Encoder::Decode)
        .find(|k| k.name == "scores" && k.layer == Some(0))
        .unwrap();
    let keys = scores.operands.iter().find(|o| o.name == "k").unwrap();
    assert_eq!(keys.access.storage, None);
    assert_eq!(
        keys.access.storage(64),
        Storage {
            width: 1024,
            col_offset: 0,
            panel: Some((9, 64)),
        }
    );
}
