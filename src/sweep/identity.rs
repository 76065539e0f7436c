//! What a sweep is: everything its rows depend on, recorded in `sweep.meta.json` beside
//! `sweep.csv`, so that a resume or a merge never mixes the rows of different sweeps.

use super::{SweepInputs, SweepSpec};
use crate::workload::WorkloadChoices;
use serde::{Deserialize, Serialize};

/// Everything a sweep's rows depend on: the resolved spec (axes, base design, encoders,
/// kernels, constraints), digests of the platform, model and policy, the workload options,
/// the prescreen, the event limit, the roofsim version and a digest of the build's source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepIdentity {
    /// The roofsim version that ran it.
    pub roofsim_version: String,
    /// A digest of the source and built-in configs of the build that ran the rows (any
    /// change to a model changes it); empty in files written before it was recorded.
    #[serde(default)]
    pub build: String,
    /// The sweep file, validated.
    pub spec: SweepSpec,
    /// The platform's name and a digest of its validated values.
    pub platform: String,
    /// Digest of the model config.
    pub model: String,
    /// Digest of the policy config.
    pub policy: String,
    /// The workload options of the command line.
    pub workload: WorkloadChoices,
    /// Points simulated after the analytical ranking, if any.
    pub prescreen: Option<usize>,
    /// The event limit per point.
    pub max_events: u64,
}

/// Paths in the identity that name files rather than describe the sweep: a sweep moved to
/// another folder (or run by a cluster from another path) is the same sweep.
const LOCATIONS: [&str; 2] = ["spec.source", "spec.base_source"];

impl SweepIdentity {
    /// What makes a run of `inputs` this sweep.
    pub fn new(inputs: &SweepInputs, prescreen: Option<usize>) -> Self {
        SweepIdentity {
            roofsim_version: env!("CARGO_PKG_VERSION").to_string(),
            build: env!("ROOFSIM_SOURCE_DIGEST").to_string(),
            spec: inputs.spec.clone(),
            platform: format!(
                "{} {}",
                inputs.platform.name,
                digest(&{
                    let mut platform = inputs.platform.clone();
                    platform.source.clear();
                    platform
                })
            ),
            model: digest(&crate::config::model::ModelSpec {
                source: String::new(),
                ..inputs.model.clone()
            }),
            policy: match inputs.policy {
                Some(policy) => digest(&crate::config::model::PolicySpec {
                    source: String::new(),
                    ..policy.clone()
                }),
                None => "none".to_string(),
            },
            workload: inputs.choices.clone(),
            prescreen,
            max_events: inputs.max_events,
        }
    }

    /// The fields (as dotted paths) in which two identities differ; empty if they are the
    /// same sweep.
    pub fn differences(&self, other: &SweepIdentity) -> Vec<String> {
        let mut paths = Vec::new();
        let (mine, theirs) = (
            serde_json::to_value(self).expect("an identity serialises"),
            serde_json::to_value(other).expect("an identity serialises"),
        );
        differing_paths("", &mine, &theirs, 2, &mut paths);
        paths.retain(|path| !LOCATIONS.contains(&path.as_str()));
        paths
    }
}

/// Paths below `prefix` where `a` and `b` differ, descending `depth` levels into objects.
fn differing_paths(
    prefix: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
    depth: usize,
    paths: &mut Vec<String>,
) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) if depth > 0 => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            let null = serde_json::Value::Null;
            for key in keys {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                let (left, right) = (a.get(key).unwrap_or(&null), b.get(key).unwrap_or(&null));
                differing_paths(&path, left, right, depth - 1, paths);
            }
        }
        _ if a != b => paths.push(prefix.to_string()),
        _ => {}
    }
}

/// FNV-1a over the value's JSON: stable across runs and toolchains (unlike std's hasher, or
/// `Debug` text, whose format Rust does not promise), and enough to tell two configs apart.
fn digest(value: &impl Serialize) -> String {
    let text = serde_json::to_vec(value).expect("a validated config serialises");
    let hash = text
        .into_iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    format!("{hash:016x}")
}

/// What `sweep.meta.json` holds: the sweep's identity, which shard of it this folder ran,
/// and how many points that shard runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepMeta {
    /// What the rows were produced by.
    pub identity: SweepIdentity,
    /// `[i, n]`: the points whose index is `i` modulo `n`.
    pub shard: [u64; 2],
    /// Points the shard runs (after the prescreen): its complete `sweep.csv` has this many
    /// rows.
    pub run_points: u64,
}

impl SweepMeta {
    /// The meta file beside a `sweep.csv`: `sweep.meta.json`.
    pub fn path_beside(csv: &std::path::Path) -> std::path::PathBuf {
        csv.with_extension("meta.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_name_the_changed_fields() {
        let mut paths = Vec::new();
        let a = json!({"spec": {"axes": [1], "source": "a"}, "prescreen": null, "x": 1});
        let b = json!({"spec": {"axes": [2], "source": "b"}, "prescreen": 5, "x": 1});
        differing_paths("", &a, &b, 2, &mut paths);
        assert_eq!(paths, ["prescreen", "spec.axes", "spec.source"]);
    }

    #[test]
    fn digests_tell_values_apart_and_repeat() {
        assert_eq!(digest(&(1, "a")), digest(&(1, "a")));
        assert_ne!(digest(&(1, "a")), digest(&(2, "a")));
        assert_eq!(digest(&"").len(), 16);
        // FNV-1a of the JSON `[1,"a",0.5]`, worked out apart (Python): the digest is of the
        // serialised value, not of text whose format could change under it.
        assert_eq!(digest(&(1, "a", 0.5)), "31e54f31cb5cda14");
    }
}
