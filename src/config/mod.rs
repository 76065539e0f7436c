//! Configuration: read model, policy and platform files once, validate them into checked types.
//!
//! Everything after this module trusts its input. Errors name the file, the field and the rule
//! in one line, so a user can fix a config without reading the source.

pub mod design;
pub mod dram;
pub mod model;
pub mod platform;
pub mod policy;
pub mod precision;
pub mod shipped;
mod text;

use serde::de::DeserializeOwned;
use std::path::Path;

/// A config that could not be read or does not describe a valid model or platform.
/// Every variant is fatal for the run: nothing is simulated and nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file.
        file: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// No file at the path, and no shipped config of that name.
    #[error("{file}: no such file, nor a shipped {what} by that name{hint}")]
    NotFound {
        /// What was asked for.
        file: String,
        /// What kind of config it names.
        what: &'static str,
        /// The nearest shipped name, or the list of them.
        hint: String,
    },
    /// The file is not valid JSON/TOML, a field has the wrong type, or a field is unknown.
    #[error("{file}: field `{field}`: {message}")]
    Parse {
        /// The file.
        file: String,
        /// The field (or line) the parser stopped at.
        field: String,
        /// The parser's message.
        message: String,
    },
    /// The file parsed but a value breaks a rule (zero layers, heads that do not divide...).
    #[error("{file}: field `{field}`: {rule}")]
    Invalid {
        /// The file.
        file: String,
        /// The field, dotted (`hbm.stripe_bytes`, `engines[2].rows`).
        field: String,
        /// The rule it breaks.
        rule: String,
    },
}

impl ConfigError {
    /// A value that breaks a rule, in `file` (or "command line") at `field`.
    pub fn invalid(file: &str, field: impl Into<String>, rule: impl Into<String>) -> Self {
        ConfigError::Invalid {
            file: file.to_string(),
            field: field.into(),
            rule: rule.into(),
        }
    }
}

/// `message` with its control characters escaped, so it prints as one line: text from the
/// user's files (a value, a name) may hold line breaks (`\n` in a TOML string).
pub(crate) fn one_line(message: &dyn std::fmt::Display) -> String {
    message
        .to_string()
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<char>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// A value that must lie in `range` (a NaN lies in none); the error names `file`, `field`
/// and the range.
pub(crate) fn in_range<T: PartialOrd + std::fmt::Display>(
    file: &str,
    field: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::invalid(
            file,
            field,
            format!(
                "must be between {} and {}, found {value}",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// `AxBxC`-style dimensions: `N` positive whole numbers joined by `x`.
pub fn dimensions<const N: usize>(text: &str) -> Result<[u64; N], String> {
    let values: Vec<u64> = text
        .split('x')
        .map(|part| part.trim().parse::<u64>().ok().filter(|&v| v > 0))
        .collect::<Option<_>>()
        .unwrap_or_default();
    values.try_into().map_err(|_| {
        let shape = vec!["N"; N].join("x");
        format!("expected {shape} with positive whole numbers, found `{text}`")
    })
}

/// `"; did you mean `X`?"` for the candidate closest to `word` by edit distance (within a
/// third of its length), else the candidates themselves when they are few; for errors about
/// an unknown name.
pub fn did_you_mean(word: &str, candidates: &[String]) -> String {
    let distance = |a: &str, b: &str| {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut diagonal = row[0];
            row[0] = i + 1;
            for (j, &cb) in b.iter().enumerate() {
                let above = row[j + 1];
                row[j + 1] = (above + 1)
                    .min(row[j] + 1)
                    .min(diagonal + usize::from(ca != cb));
                diagonal = above;
            }
        }
        row[b.len()]
    };
    // Compare with the whole candidate and with its last `/` part, of which a prefix counts
    // as a match (`fc1` for the fused `fc1_gelu`).
    let word_last = word.rsplit('/').next().unwrap_or(word);
    let closest = candidates
        .iter()
        .map(|c| {
            let last = c.rsplit('/').next().unwrap_or(c);
            let prefix = !word_last.is_empty() && last.starts_with(word_last);
            let d = if prefix {
                0
            } else {
                distance(word, c).min(distance(word, last))
            };
            (d, c)
        })
        .min_by_key(|(d, _)| *d);
    match closest {
        Some((d, candidate)) if d <= word.chars().count().div_ceil(3) => {
            format!("; did you mean `{candidate}`?")
        }
        _ if !candidates.is_empty() && candidates.len() <= 40 => {
            format!(" (known: {})", candidates.join(", "))
        }
        _ => String::new(),
    }
}

/// The largest config file read: 16 MiB, thousands of times a real config's size.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// Where a config's text comes from: a file on disk, or a default compiled into the binary.
#[derive(Debug, Clone)]
pub struct Source {
    /// Shown in error messages: the path, or `built-in:<name>` for embedded defaults.
    pub name: String,
    /// The whole text of the file.
    pub text: String,
}

impl Source {
    /// Reads a file whole; the error names the path. A file beyond [`MAX_CONFIG_BYTES`]
    /// (a config is a few kilobytes; `/dev/zero` never ends) is refused after reading that
    /// much, so a wrong path cannot take the machine's memory.
    pub fn from_path(path: &Path) -> Result<Self, ConfigError> {
        use std::io::Read;
        let name = path.display().to_string();
        let read = |source| ConfigError::Read {
            file: name.clone(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read)?;
        let mut text = String::new();
        file.take(MAX_CONFIG_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(read)?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ConfigError::invalid(
                &name,
                "(size)",
                format!(
                    "is larger than {} MiB; a config file is a few kilobytes",
                    MAX_CONFIG_BYTES >> 20
                ),
            ));
        }
        Ok(Source { name, text })
    }

    /// A default shipped inside the binary (`configs/` at build time).
    pub fn built_in(name: &str, text: &str) -> Self {
        Source {
            name: format!("built-in:{name}"),
            text: text.to_string(),
        }
    }
}

/// Field path for a serde error: `"."` (the document itself) becomes `"(root)"`.
fn field_path(path: &serde_path_to_error::Path) -> String {
    let path = path.to_string();
    if path == "." {
        "(root)".to_string()
    } else {
        path
    }
}

/// Parses JSON, naming the offending field on error.
pub(crate) fn parse_json<T: DeserializeOwned>(source: &Source) -> Result<T, ConfigError> {
    let deserializer = &mut serde_json::Deserializer::from_str(&source.text);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let field = field_path(error.path());
        let inner = error.into_inner();
        ConfigError::Parse {
            file: source.name.clone(),
            field,
            message: format!(
                "{} (line {}, column {})",
                strip_position(&inner.to_string()),
                inner.line(),
                inner.column()
            ),
        }
    })
}

/// Parses TOML, naming the offending field on error.
pub(crate) fn parse_toml<T: DeserializeOwned>(source: &Source) -> Result<T, ConfigError> {
    let parse_error = |error: toml::de::Error, field: String| {
        let line = error
            .span()
            .map(|span| source.text[..span.start].matches('\n').count() + 1);
        let message = match line {
            Some(line) => format!("{} (line {line})", error.message().trim()),
            None => error.message().trim().to_string(),
        };
        ConfigError::Parse {
            file: source.name.clone(),
            field,
            message,
        }
    };
    let deserializer = toml::de::Deserializer::parse(&source.text)
        .map_err(|error| parse_error(error, "(root)".to_string()))?;
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let field = field_path(error.path());
        parse_error(error.into_inner(), field)
    })
}

/// serde_json appends " at line L column C"; we print the position ourselves.
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(index) => &message[..index],
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_suggests_the_closest_name_or_lists_few() {
        let names: Vec<String> = ["vision/qkv_proj", "vision/fc1_gelu", "text/qkv_proj"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            did_you_mean("qkv_projj", &names),
            "; did you mean `vision/qkv_proj`?"
        );
        assert_eq!(
            did_you_mean("fc1", &names),
            "; did you mean `vision/fc1_gelu`?"
        );
        assert_eq!(
            did_you_mean("vision/fc1", &names),
            "; did you mean `vision/fc1_gelu`?"
        );
        assert!(did_you_mean("softmax", &names).starts_with(" (known: vision/qkv_proj"));
    }
}
