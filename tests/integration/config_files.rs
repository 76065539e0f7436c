//! The guide's config-file chapter against the types the files are read into: every field
//! of every format is documented with its values, nothing documented is missing from the
//! types, the shipped JSON Schemas are the types', and the documented numeric ranges are
//! the ones the validator applies.

use roofsim::config::shipped::Kind;
use roofsim::pipeline::config_schema;
use serde_json::Value;
use std::path::Path;

/// The formats roofsim defines, with the schema file the guide ships for each.
const FORMATS: [(Kind, &str); 4] = [
    (Kind::Design, "design"),
    (Kind::Platform, "platform"),
    (Kind::Sweep, "sweep"),
    (Kind::System, "system"),
];

fn schema(kind: Kind) -> Value {
    serde_json::to_value(config_schema(kind).unwrap()).unwrap()
}

/// `schema` with `$ref`s into its `$defs` followed, `Option`s' nulls dropped.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/$defs/");
        return resolve(root, &root["$defs"][name]);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(choices) = schema.get(key).and_then(Value::as_array) {
            let not_null: Vec<&Value> = choices.iter().filter(|c| c["type"] != "null").collect();
            if let [only] = not_null[..] {
                return resolve(root, only);
            }
        }
    }
    schema
}

/// A field of a config file: its dotted path (a table's fields under the table's name, an
/// array of tables' under the array's: `engines.rows`; a table of free keys, `mapping`, is
/// one field), the values it takes and its description.
struct Field {
    path: String,
    /// Whether the path's first part is an array of tables (`[[engines]]`).
    in_array: bool,
    values: String,
    description: String,
}

/// The table (or array of tables) `schema` describes, if it is one.
fn table<'a>(
    root: &'a Value,
    schema: &'a Value,
) -> Option<(&'a serde_json::Map<String, Value>, bool)> {
    let schema = resolve(root, schema);
    let (schema, array) = match schema.get("items") {
        Some(items) if schema["type"] == "array" => (resolve(root, items), true),
        _ => (schema, false),
    };
    Some((schema.get("properties")?.as_object()?, array))
}

/// The values a leaf schema allows, as the guide writes them.
fn values(root: &Value, schema: &Value) -> String {
    let schema = resolve(root, schema);
    let quoted = |value: &Value| {
        format!(
            "`{}`",
            value.as_str().map_or(value.to_string(), str::to_string)
        )
    };
    if let Some(choices) = schema
        .get("oneOf")
        .or(schema.get("anyOf"))
        .and_then(Value::as_array)
    {
        let consts: Vec<String> = choices
            .iter()
            .filter_map(|c| c.get("const"))
            .map(quoted)
            .collect();
        if consts.len() == choices.len() {
            return consts.join(", ");
        }
        let kinds: Vec<String> = choices.iter().map(|c| values(root, c)).collect();
        return kinds.join(" or ");
    }
    if let Some(names) = schema.get("enum").and_then(Value::as_array) {
        return names.iter().map(quoted).collect::<Vec<_>>().join(", ");
    }
    // An optional field's type is `[type, "null"]`.
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds.iter().find(|k| *k != "null").and_then(Value::as_str),
        kind => kind.as_str(),
    };
    match kind {
        Some("boolean") => "`true`, `false`".into(),
        Some("integer") => "integer".into(),
        Some("number") => "number".into(),
        Some("string") => "text".into(),
        Some("array") => {
            let items = values(root, &schema["items"]);
            match (schema.get("minItems"), schema.get("maxItems")) {
                (Some(low), Some(high)) if low == high => format!("[{low} × {items}]"),
                _ => format!("list of {items}"),
            }
        }
        Some("object") => match schema.get("properties") {
            Some(properties) => {
                let names: Vec<&str> = properties
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                format!("{{ {} }}", names.join(", "))
            }
            None => format!(
                "table of name → {}",
                values(root, &schema["additionalProperties"])
            ),
        },
        _ => "any".into(),
    }
}

/// Every field of a format, in the schema's (alphabetical) order.
fn fields(kind: Kind) -> Vec<Field> {
    fn walk(
        root: &Value,
        properties: &serde_json::Map<String, Value>,
        prefix: &str,
        in_array: bool,
        out: &mut Vec<Field>,
    ) {
        for (name, property) in properties {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            match table(root, property) {
                Some((inner, array)) if prefix.is_empty() || !array => {
                    walk(root, inner, &path, in_array || array, out);
                }
                _ => {
                    let description = property
                        .get("description")
                        .or(resolve(root, property).get("description"))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .replace('\n', " ");
                    let mut values = values(root, property);
                    if let Some(default) = property.get("default") {
                        values.push_str(&format!(
                            " (default `{}`)",
                            default.as_str().map_or(default.to_string(), str::to_string)
                        ));
                    }
                    out.push(Field {
                        path,
                        in_array,
                        values,
                        description,
                    });
                }
            }
        }
    }
    let root = schema(kind);
    let mut out = Vec::new();
    walk(
        &root,
        root["properties"].as_object().unwrap(),
        "",
        false,
        &mut out,
    );
    out
}

fn manifest(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Whether to rewrite the generated files instead of comparing them (`UPDATE_SCHEMA=1`).
fn updating() -> bool {
    std::env::var("UPDATE_SCHEMA").is_ok_and(|v| v == "1")
}

/// The guide's table of a format's fields.
fn field_table(kind: Kind) -> String {
    let mut text = String::from("| field | values | meaning |\n|---|---|---|\n");
    for field in fields(kind) {
        let cell = |t: &str| t.replace('|', "\\|");
        text.push_str(&format!(
            "| `{}` | {} | {} |\n",
            field.path,
            cell(&field.values),
            cell(&field.description)
        ));
    }
    text
}

/// The shipped JSON Schemas and the guide's field tables are generated from the types the
/// files are read into; either going stale fails here (`UPDATE_SCHEMA=1` rewrites them).
#[test]
fn the_config_chapter_and_schemas_are_the_types() {
    let chapter_path = manifest("docs/src/config-files.md");
    let mut chapter = std::fs::read_to_string(&chapter_path).unwrap();
    for (kind, name) in FORMATS {
        let path = manifest(&format!("docs/src/schemas/{name}.schema.json"));
        let generated = serde_json::to_string_pretty(&schema(kind)).unwrap() + "\n";
        if updating() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
        } else {
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == generated,
                "{} is stale: UPDATE_SCHEMA=1",
                path.display()
            );
        }
        let (start, end) = (format!("<!-- fields: {name} -->\n"), "<!-- end fields -->");
        let from = chapter
            .find(&start)
            .unwrap_or_else(|| panic!("no {start:?}"))
            + start.len();
        let to = from + chapter[from..].find(end).unwrap();
        let table = field_table(kind);
        if updating() {
            chapter.replace_range(from..to, &table);
        } else {
            assert!(
                chapter[from..to] == table,
                "the {name} table is stale: UPDATE_SCHEMA=1"
            );
        }
    }
    if updating() {
        std::fs::write(&chapter_path, chapter).unwrap();
    }
}

/// A documented range `low–high` (`1–2^20`, `0–1,000,000`, `0.01–64`, `0–10^6`), whether
/// `low` itself is excluded (`(above 0)`), and whether its ends hold only as other fields
/// allow (`, and below `trefi_ns``).
fn documented_range(description: &str) -> Option<(f64, f64, bool, bool)> {
    let text = description.split("Range: ").nth(1)?;
    let number = |word: &str| -> Option<f64> {
        let word = word.replace(',', "");
        match word.split_once('^') {
            Some((base, power)) => Some(base.parse::<f64>().ok()?.powf(power.parse().ok()?)),
            None => word.parse().ok(),
        }
    };
    let (low, rest) = text.split_once('–')?;
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, ',' | '.' | '^')))
        .unwrap_or(rest.len());
    let high = rest[..end].trim_end_matches(['.', ',']);
    let after = &rest[high.len()..];
    let low_excluded = after.starts_with(" (above 0)");
    // `0–1024, and 0 only beside a systolic engine`: the ends hold only with other fields.
    let conditional = after.starts_with(", and ");
    Some((number(low)?, number(high)?, low_excluded, conditional))
}

/// Every field says what it is; every numeric field states its range (or the field that
/// bounds it).
#[test]
fn every_field_is_documented_with_its_values() {
    for (kind, name) in FORMATS {
        for field in fields(kind) {
            assert!(
                !field.description.is_empty(),
                "{name}: `{}` has no description",
                field.path
            );
            let numeric = field.values.starts_with("integer")
                || field.values.starts_with("number")
                || field.values.contains("× integer]")
                || field.values.contains("× number]");
            if numeric {
                assert!(
                    documented_range(&field.description).is_some()
                        || field.description.contains(" to `")
                        || field.description.contains("within the platform's"),
                    "{name}: `{}` states no range: {}",
                    field.path,
                    field.description
                );
            }
        }
    }
}

/// The file each format's fields are tried in: one whose tables hold every field (the
/// default design with per-class tiles for the pool; a dataflow design for `[[engines]]`,
/// one with streams for `[[links]]`).
fn base_text(kind: Kind, path: &str) -> String {
    let read = |file: &str| std::fs::read_to_string(manifest(file)).unwrap();
    match kind {
        Kind::Design if path.starts_with("engines.") => {
            read("configs/designs/u280-int8-spatial.toml")
        }
        Kind::Design if path.starts_with("links.") => {
            read("configs/designs/u280-int8-mlp-stream.toml")
        }
        Kind::Design => {
            let tile = "tm = 64\ntn = 64\ntk = 64\nloop_order = \"mnk\"\n";
            let classes =
                ["projection", "attention", "mlp"].map(|c| format!("[tiling.{c}]\n{tile}"));
            format!(
                "{}\n{}",
                read("configs/designs/u280-int8.toml"),
                classes.concat()
            )
        }
        Kind::Platform => read("configs/platforms/u280.toml"),
        Kind::Sweep => read("configs/sweeps/smolvla-search.toml"),
        Kind::System => read("configs/systems/smolvla-2x-u280-balanced.toml"),
        Kind::Model | Kind::Policy => unreachable!("not a roofsim format"),
    }
}

/// `text` with the field at `path` set to `value` (in entry `entry` of an array of tables),
/// missing tables made on the way.
fn with_value(text: &str, field: &Field, entry: usize, value: toml::Value) -> String {
    let mut document: toml::Table = toml::from_str(text).unwrap();
    let parts: Vec<&str> = field.path.split('.').collect();
    let entry_index = entry;
    let mut table = &mut document;
    for (index, part) in parts[..parts.len() - 1].iter().enumerate() {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if index == 0 && field.in_array {
            table = entry.as_array_mut().unwrap()[entry_index]
                .as_table_mut()
                .unwrap();
        } else {
            table = entry.as_table_mut().unwrap();
        }
    }
    table.insert(parts[parts.len() - 1].to_string(), value);
    toml::to_string(&document).unwrap()
}

/// The error loading `text` as a file of `kind` gives, if any (its folder `dir`).
fn load_error(kind: Kind, text: &str, dir: &Path) -> Option<String> {
    use roofsim::config::Source;
    let source = Source {
        name: "fuzzed.toml".into(),
        text: text.into(),
    };
    let platform = roofsim::config::platform::default_platform();
    match kind {
        Kind::Design => roofsim::config::design::load_design(&source, &platform)
            .err()
            .map(|e| e.to_string()),
        Kind::Platform => roofsim::config::platform::load_platform(&source)
            .err()
            .map(|e| e.to_string()),
        Kind::Sweep | Kind::System => {
            let path = dir.join("fuzzed.toml");
            std::fs::write(&path, text).unwrap();
            let result = match kind {
                Kind::Sweep => roofsim::pipeline::sweep_file(&path, u64::MAX).map(drop),
                _ => roofsim::pipeline::system_file(&path).map(drop),
            };
            result.err().map(|e| e.to_string())
        }
        Kind::Model | Kind::Policy => unreachable!("not a roofsim format"),
    }
}

/// Each documented range is the validator's: its ends are not refused as out of range (they
/// may be for what they cost: a 4,096-row array does not fit the chip), and a value one
/// step beyond either end is refused naming the field. A range documented wider than the
/// validator's fails the first check, a narrower one the second.
#[test]
fn documented_ranges_are_the_validators() {
    let dir = tempfile::tempdir().unwrap();
    let mut tried = 0;
    for (kind, name) in FORMATS {
        for field in fields(kind) {
            // A table of free keys (`boards.layers`) takes its range per entry.
            let Some((low, high, low_excluded, conditional)) = documented_range(&field.description)
                .filter(|_| !field.values.starts_with("table of"))
            else {
                continue;
            };
            let integer = field.values.contains("integer");
            let pair = field.values.starts_with("[2 ×");
            let number = |value: f64| {
                let value = if integer {
                    toml::Value::Integer(value as i64)
                } else {
                    toml::Value::Float(value)
                };
                if pair {
                    toml::Value::Array(vec![value.clone(), value])
                } else {
                    value
                }
            };
            let mut beyond = vec![if integer {
                high + 1.0
            } else {
                high * 2.0 + 1.0
            }];
            if low_excluded {
                beyond.push(low);
            } else if low > 0.0 || !integer {
                beyond.push(if integer { low - 1.0 } else { low / 2.0 - 1.0 });
            }
            let base = base_text(kind, &field.path);
            let (array, rest) = field.path.split_once('.').unwrap_or((&field.path, ""));
            // An error names its field in backquotes: `hbm.channels`, `engines[2].lanes`.
            let refused_for_it = |error: &str, entry: usize| {
                error.contains(&format!("`{}`", field.path))
                    || field.in_array && error.contains(&format!("`{array}[{entry}].{rest}`"))
            };
            let error_at = |entry: usize, value: f64| {
                load_error(
                    kind,
                    &with_value(&base, &field, entry, number(value)),
                    dir.path(),
                )
            };
            // The first entry of an array of tables the field applies to (an engine of its
            // kind): there its documented ends are not refused for their value ("must
            // be..."; they may be for what they cost: a 2^30-byte line buffer does not fit).
            let out_of_range = |error: &str, entry: usize| {
                refused_for_it(error, entry) && error.contains("must be")
            };
            let mut ends = if conditional { vec![] } else { vec![high] };
            if !low_excluded && !conditional {
                ends.push(low);
            }
            let entries = if field.in_array { 0..8 } else { 0..1 };
            let entry = entries
                .clone()
                .find(|&entry| {
                    ends.iter().all(|&value| {
                        error_at(entry, value).is_none_or(|error| !out_of_range(&error, entry))
                    })
                })
                .unwrap_or_else(|| {
                    panic!(
                        "{name}: `{}` refused at an end of its documented range {low}–{high} \
                         (in every entry)",
                        field.path
                    )
                });
            tried += ends.len();
            for value in beyond {
                let error = error_at(entry, value)
                    .unwrap_or_else(|| panic!("{name}: `{}` = {value} loads", field.path));
                assert!(
                    refused_for_it(&error, entry),
                    "{name}: `{}` = {value} refused for another reason: {error}",
                    field.path
                );
                tried += 1;
            }
        }
    }
    println!("{tried} bounds tried");
    assert!(tried > 150, "{tried} bounds tried");
}
