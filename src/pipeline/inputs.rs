//! The configs a job starts from: files the user names, or the built-in defaults, and the
//! rule for which smolVLA policy applies.

use super::Error;
use crate::config::design::{self, Design, load_design, parse_design};
use crate::config::model::{self, ModelSpec, PolicySpec, load_model, load_policy};
use crate::config::platform::{self, Platform, load_platform};
use crate::config::shipped::{self, Kind};
use crate::config::{ConfigError, Source};
use crate::sweep::{SweepSpec, load_sweep};
use crate::system::{System, load_system};
use std::path::Path;

/// A file's text (or the shipped config of `kind` it names), or the built-in default `name`
/// when no path is given.
fn source(kind: Kind, path: Option<&Path>, name: &str, built_in: &str) -> Result<Source, Error> {
    Ok(match path {
        Some(path) => shipped::source(kind, path)?,
        None => Source::built_in(name, built_in),
    })
}

/// The platform at `path`, or the built-in U280.
pub fn platform_or_default(path: Option<&Path>) -> Result<Platform, Error> {
    let source = source(
        Kind::Platform,
        path,
        "u280.toml",
        platform::DEFAULT_PLATFORM,
    )?;
    Ok(load_platform(&source)?)
}

/// The design at `path`, or the built-in INT8 design, validated against `platform`.
pub fn design_or_default(path: Option<&Path>, platform: &Platform) -> Result<Design, Error> {
    let source = source(Kind::Design, path, "u280-int8.toml", design::DEFAULT_DESIGN)?;
    Ok(load_design(&source, platform)?)
}

/// The model, and the policy that sets its prefix.
#[derive(Debug)]
pub struct ModelInputs {
    /// The model.
    pub model: ModelSpec,
    /// The policy, if the model runs as one.
    pub policy: Option<PolicySpec>,
}

/// The model at `model` (or SmolVLM2-500M) and its policy: the file at `policy`, none when
/// `policy` is the word `none`, and otherwise the built-in smolvla_base for a vision-language
/// model (whatever file it came from) and none for a standalone vision or text model.
pub fn model_and_policy(model: Option<&Path>, policy: Option<&Path>) -> Result<ModelInputs, Error> {
    let model = load_model(&source(
        Kind::Model,
        model,
        "smolvlm2-500m-video-instruct.config.json",
        model::DEFAULT_MODEL,
    )?)?;
    let policy = match policy {
        Some(path) if path == Path::new("none") => None,
        Some(path) => Some(load_policy(&shipped::source(Kind::Policy, path)?)?),
        None if model.vision.is_some() && model.text.is_some() => Some(model::default_policy()),
        None => None,
    };
    Ok(ModelInputs { model, policy })
}

/// The JSON Schema of a config file format (the design, platform, sweep and system files
/// roofsim reads; `None` for the Hugging Face model and policy files, whose formats are
/// theirs), generated from the types the files are read into, fields described by their
/// doc comments: for editors that check TOML against a schema, and the guide's field tables.
pub fn config_schema(kind: Kind) -> Option<schemars::Schema> {
    match kind {
        Kind::Design => Some(design::file_schema()),
        Kind::Platform => Some(platform::file_schema()),
        Kind::Sweep => Some(crate::sweep::file_schema()),
        Kind::System => Some(crate::system::file_schema()),
        Kind::Model | Kind::Policy => None,
    }
}

/// A config a file names: a file relative to that file's `folder`, else a shipped config of
/// that name (the error names the file when neither is).
fn beside_or_shipped(kind: Kind, folder: &Path, name: &str) -> Result<Source, ConfigError> {
    shipped::source(kind, &folder.join(name)).or_else(|error| {
        shipped::Shipped::find(kind, name)
            .map(|shipped| shipped.source())
            .ok_or(error)
    })
}

/// A sweep file (or a shipped sweep by name) of at most `max_points` points, its base design
/// read relative to the sweep's folder or as a shipped design's name (the built-in design
/// when it names none).
pub fn sweep_file(path: &Path, max_points: u64) -> Result<SweepSpec, Error> {
    let source = shipped::source(Kind::Sweep, path)?;
    let folder = path.parent().unwrap_or(Path::new("."));
    Ok(load_sweep(&source, max_points, |base| {
        let source = match base {
            Some(name) => beside_or_shipped(Kind::Design, folder, name)?,
            None => Source::built_in("u280-int8.toml", design::DEFAULT_DESIGN),
        };
        Ok((parse_design(&source)?, source.name))
    })?)
}

/// A system file (or a shipped system by name), each board's design and platform read
/// relative to the system's folder or as shipped names (the U280 when a board names none).
pub fn system_file(path: &Path) -> Result<System, Error> {
    let source = shipped::source(Kind::System, path)?;
    let folder = path.parent().unwrap_or(Path::new("."));
    let find = |kind: Kind, name: &str| beside_or_shipped(kind, folder, name);
    Ok(load_system(&source, |design, platform| {
        let platform = match platform {
            Some(name) => load_platform(&find(Kind::Platform, name)?)?,
            None => platform::default_platform(),
        };
        Ok((
            load_design(&find(Kind::Design, design)?, &platform)?,
            platform,
        ))
    })?)
}
