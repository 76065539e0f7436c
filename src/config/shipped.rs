//! The configs that ship inside the binary (`configs/` at build time), so a job can name
//! them from any folder: `--design u280-int4`, `--model llama-2-7b`, a sweep by its name.
//! A path that exists is always read from disk first; a name is looked up here.

use super::{ConfigError, Source, did_you_mean};
use std::path::Path;

/// What a shipped config is for (the option that takes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Designs (`configs/designs/`).
    Design,
    /// Hugging Face model configs (`configs/models/`).
    Model,
    /// smolVLA policies.
    Policy,
    /// Platforms (`configs/platforms/`).
    Platform,
    /// Sweeps and search spaces (`configs/sweeps/`).
    Sweep,
    /// Systems of boards (`configs/systems/`).
    System,
}

impl Kind {
    /// Every kind, in the order `roofsim list` prints them.
    pub const ALL: [Kind; 6] = [
        Kind::Design,
        Kind::Model,
        Kind::Policy,
        Kind::Platform,
        Kind::Sweep,
        Kind::System,
    ];

    /// The plural noun `roofsim list` heads the kind with.
    pub fn heading(self) -> &'static str {
        match self {
            Kind::Design => "designs (--design)",
            Kind::Model => "models (--model)",
            Kind::Policy => "policies (--policy)",
            Kind::Platform => "platforms (--platform)",
            Kind::Sweep => "sweeps (--sweep, --space)",
            Kind::System => "systems of several boards (--system)",
        }
    }

    /// The singular noun, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Design => "design",
            Kind::Model => "model",
            Kind::Policy => "policy",
            Kind::Platform => "platform",
            Kind::Sweep => "sweep",
            Kind::System => "system",
        }
    }

    fn folder(self) -> &'static str {
        match self {
            Kind::Design => "designs",
            Kind::Model | Kind::Policy => "models",
            Kind::Platform => "platforms",
            Kind::Sweep => "sweeps",
            Kind::System => "systems",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Kind::Model | Kind::Policy => ".config.json",
            _ => ".toml",
        }
    }
}

/// One shipped config: its name (the file name without extension) and text.
#[derive(Debug, Clone, Copy)]
pub struct Shipped {
    /// Which kind of config it is.
    pub kind: Kind,
    /// Its name, the file's stem.
    pub name: &'static str,
    /// The file's text.
    pub text: &'static str,
}

/// A shipped config of a kind, read from the kind's folder with its extension (the file
/// [`Shipped::file_name`] names, which a test checks).
macro_rules! shipped {
    (Design, $name:literal) => {
        shipped!(@ Design, concat!("designs/", $name, ".toml"), $name)
    };
    (Model, $name:literal) => {
        shipped!(@ Model, concat!("models/", $name, ".config.json"), $name)
    };
    (Policy, $name:literal) => {
        shipped!(@ Policy, concat!("models/", $name, ".config.json"), $name)
    };
    (Platform, $name:literal) => {
        shipped!(@ Platform, concat!("platforms/", $name, ".toml"), $name)
    };
    (Sweep, $name:literal) => {
        shipped!(@ Sweep, concat!("sweeps/", $name, ".toml"), $name)
    };
    (System, $name:literal) => {
        shipped!(@ System, concat!("systems/", $name, ".toml"), $name)
    };
    (@ $kind:ident, $file:expr, $name:literal) => {
        Shipped {
            kind: Kind::$kind,
            name: $name,
            text: include_str!(concat!("../../configs/", $file)),
        }
    };
}

/// Every config that ships.
pub const SHIPPED: [Shipped; 26] = [
    shipped!(Design, "u280-int8"),
    shipped!(Design, "u280-int4"),
    shipped!(Design, "u280-int8-spatial"),
    shipped!(Design, "u280-int4-spatial"),
    shipped!(Design, "u280-int8-searched"),
    shipped!(Design, "u280-int4-searched"),
    shipped!(Design, "u280-int8-mlp-stream"),
    shipped!(Design, "u280-int8-attention-dataflow"),
    shipped!(Design, "u280-w4a8-bert-spatial"),
    shipped!(Design, "u280-w4a8-gemv"),
    shipped!(Design, "u280-fp16-gemv"),
    shipped!(Model, "smolvlm2-500m-video-instruct"),
    shipped!(Model, "llama-2-7b"),
    shipped!(Model, "gpt2-medium"),
    shipped!(Model, "bert-base-uncased"),
    shipped!(Policy, "smolvla_base"),
    shipped!(Platform, "u280"),
    shipped!(Sweep, "smolvla-int8-int4"),
    shipped!(Sweep, "smolvla-per-slr"),
    shipped!(Sweep, "smolvla-search"),
    shipped!(Sweep, "vision-tiling"),
    shipped!(Sweep, "mlp-stream"),
    shipped!(System, "smolvla-2x-u280"),
    shipped!(System, "smolvla-2x-u280-balanced"),
    shipped!(System, "smolvla-2x-u280-data"),
    shipped!(System, "dfx-gpt2-4x-u280"),
];

impl Shipped {
    /// The shipped config of `kind` that `given` names: its name, its file name, or its
    /// path under `configs/`.
    pub fn find(kind: Kind, given: &str) -> Option<&'static Shipped> {
        let name = given
            .strip_prefix(&format!("configs/{}/", kind.folder()))
            .unwrap_or(given);
        let name = name.strip_suffix(kind.extension()).unwrap_or(name);
        SHIPPED.iter().find(|s| s.kind == kind && s.name == name)
    }

    /// The shipped configs of `kind`.
    pub fn of(kind: Kind) -> impl Iterator<Item = &'static Shipped> {
        SHIPPED.iter().filter(move |s| s.kind == kind)
    }

    /// Its text as a [`Source`], named by its path under `configs/`.
    pub fn source(&self) -> Source {
        Source::built_in(&self.file_name(), self.text)
    }

    /// `configs/<folder>/<name><extension>`: the file it was built from.
    pub fn file_name(&self) -> String {
        format!(
            "configs/{}/{}{}",
            self.kind.folder(),
            self.name,
            self.kind.extension()
        )
    }

    /// One line on what it is: a TOML file's first comment line, a model's type and size.
    pub fn summary(&self) -> String {
        if self.kind.extension() == ".toml" {
            let first = self
                .text
                .lines()
                .find_map(|line| line.strip_prefix('#'))
                .unwrap_or("")
                .trim();
            return first.to_string();
        }
        let json: serde_json::Value = serde_json::from_str(self.text).unwrap_or_default();
        let text = json.get("text_config").unwrap_or(&json);
        let field = |names: &[&str]| {
            names
                .iter()
                .find_map(|name| text.get(*name).and_then(serde_json::Value::as_u64))
        };
        match (
            json.get("model_type").and_then(serde_json::Value::as_str),
            field(&["num_hidden_layers", "n_layer"]),
            field(&["hidden_size", "n_embd"]),
        ) {
            (Some(kind), Some(layers), Some(width)) => {
                format!("{kind}: {layers} text layers of width {width}")
            }
            (Some(kind), ..) => kind.to_string(),
            _ => json
                .get("type")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
                .to_string(),
        }
    }
}

/// The config of `kind` at `path`: the file when it exists, else the shipped config it
/// names; neither is one line naming the path and the shipped names closest to it.
pub fn source(kind: Kind, path: &Path) -> Result<Source, ConfigError> {
    match Source::from_path(path) {
        Err(ConfigError::Read { file, source })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            let given = path.to_string_lossy();
            if let Some(shipped) = Shipped::find(kind, &given) {
                return Ok(shipped.source());
            }
            let names: Vec<String> = Shipped::of(kind).map(|s| s.name.to_string()).collect();
            Err(ConfigError::NotFound {
                file,
                what: kind.noun(),
                hint: did_you_mean(&given, &names),
            })
        }
        read => read,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped file is listed once, parses as its kind, and is found by its name,
    /// its file name and its path; a name of another kind is not.
    #[test]
    fn every_shipped_config_is_found_by_name() {
        for shipped in &SHIPPED {
            let file = shipped.file_name();
            let on_disk = std::fs::read_to_string(&file).unwrap();
            assert_eq!(on_disk, shipped.text, "{file}");
            let file_name = file.rsplit('/').next().unwrap();
            for given in [shipped.name, file_name, file.as_str()] {
                assert_eq!(
                    Shipped::find(shipped.kind, given).unwrap().name,
                    shipped.name
                );
            }
            assert!(!shipped.summary().is_empty(), "{file} has no summary");
        }
        assert!(Shipped::find(Kind::Model, "u280-int8").is_none());
        let designs = std::fs::read_dir("configs/designs").unwrap().count();
        assert_eq!(Shipped::of(Kind::Design).count(), designs);
    }
}
