//! Reading a sweep (or search space) file: the file as written, its axes expanded and
//! checked into a [`SweepSpec`].

use super::constraints::RawConstraints;
use super::spec::{Axis, MAX_AXIS_VALUES, SweepSpec, name_of, parse_shape, schedule};
use crate::config::design::{
    ActivationLayout, Dataflow, EngineKind, LoopOrder, RawDesign, WeightLayout,
};
use crate::config::{ConfigError, Source, parse_toml};
use crate::workload::Encoder;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The JSON Schema of a sweep (or search space) file, from the type it is read into.
pub(crate) fn file_schema() -> schemars::Schema {
    schemars::schema_for!(RawSweep)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawSweep {
    /// The design the axes modify: a file relative to the sweep file, or a shipped design's
    /// name; the built-in design when absent.
    base_design: Option<String>,
    /// Encoders to simulate (`vision`, `connector`, `text`, `expert`, `decode`); all when
    /// absent.
    encoders: Option<Vec<String>>,
    /// Kernels to simulate, by name (`qkv_proj`) or `encoder/name`, as the points' fusion names
    /// them; all when absent.
    kernels: Option<Vec<String>>,
    /// Camera images per observation at every point (the command line's when absent). Range:
    /// 1–1024.
    cameras: Option<u64>,
    #[serde(default)]
    axes: RawAxes,
    #[serde(default)]
    constraints: RawConstraints,
}

/// A list of values, or a range: `{ start, end, step }` (arithmetic) or `{ start, end, factor }`.
#[derive(Deserialize, schemars::JsonSchema, Clone)]
#[serde(
    untagged,
    expecting = "expected a list of values, or a range { start, end, step } or { start, end, factor }"
)]
enum RawAxis<T> {
    List(Vec<T>),
    Range {
        start: u64,
        end: u64,
        step: Option<u64>,
        factor: Option<u64>,
    },
}

#[derive(Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
struct RawAxes {
    /// Axis: the pool's array count (`arrays.count`), a list or a range.
    array_count: Option<RawAxis<u64>>,
    /// Axis: the pool arrays' shapes, `"RxC"`.
    array_shape: Option<Vec<String>>,
    /// Axis: `os`, `ws`, `is`.
    dataflow: Option<Vec<Dataflow>>,
    /// Axis: `true`, `false`.
    overlap_folds: Option<Vec<bool>>,
    /// Axis: the default tile's `tm`, a list or a range.
    tm: Option<RawAxis<u64>>,
    /// Axis: the default tile's `tn`, a list or a range.
    tn: Option<RawAxis<u64>>,
    /// Axis: the default tile's `tk`, a list or a range.
    tk: Option<RawAxis<u64>>,
    /// Axis: buffer slots, a list or a range.
    slots: Option<RawAxis<u64>>,
    /// Axis: precisions as a design states them (`int8`, `int4/int8`...).
    precision: Option<Vec<String>>,
    /// Axis: observations per batch, a list or a range.
    batch: Option<RawAxis<u64>>,
    /// Axis: clocks in MHz.
    clock_mhz: Option<Vec<f64>>,
    /// Axis: `none`, `all`, or switches joined by `+` (`gemm-act+qkv`).
    fusion: Option<Vec<String>>,
    /// Axis: an even channel count: weights on the first half, activations on the second.
    hbm_channels: Option<RawAxis<u64>>,
    /// Axis: `sequential`, `overlap_kernels` or `overlap_layers` (which overlaps kernels too).
    schedule: Option<Vec<String>>,
    /// Axis: the pool's tile loop order, `mnk`, `nmk` or `mbnk`.
    loop_order: Option<Vec<LoopOrder>>,
    /// Axis: `row_major` or `tile_major` weights in HBM.
    weight_layout: Option<Vec<WeightLayout>>,
    /// Axis: `row_major` or `head_major` activations in HBM.
    activation_layout: Option<Vec<ActivationLayout>>,
    /// Axis: per named systolic engine of the base design, its `"RxC"` shapes
    /// (`engine_shape.NAME`).
    engine_shape: Option<BTreeMap<String, Vec<String>>>,
    /// Axis: per `[mapping]` key, lists of engine names joined by `+` (`mapping.KEY`).
    mapping: Option<BTreeMap<String, Vec<String>>>,
}

fn expand(file: &str, name: &str, axis: RawAxis<u64>) -> Result<Axis, ConfigError> {
    let field = format!("axes.{name}");
    let too_many = || {
        ConfigError::invalid(
            file,
            &field,
            format!("has more than {MAX_AXIS_VALUES} values"),
        )
    };
    let values = match axis {
        RawAxis::List(values) => values,
        RawAxis::Range {
            start,
            end,
            step,
            factor,
        } => {
            let mut values = Vec::new();
            let next: Box<dyn Fn(u64) -> Option<u64>> = match (step, factor) {
                (Some(step), None) if step > 0 => Box::new(move |value| value.checked_add(step)),
                (None, Some(factor)) if factor > 1 && start > 0 => {
                    Box::new(move |value| value.checked_mul(factor))
                }
                _ => {
                    return Err(ConfigError::invalid(
                        file,
                        field,
                        "a range needs either a positive `step` or a `factor` above 1 (and start > 0)",
                    ));
                }
            };
            let mut value = Some(start);
            while let Some(current) = value.filter(|&v| v <= end) {
                if values.len() as u64 == MAX_AXIS_VALUES {
                    return Err(too_many());
                }
                values.push(current);
                value = next(current);
            }
            values
        }
    };
    if values.len() as u64 > MAX_AXIS_VALUES {
        return Err(too_many());
    }
    if values.is_empty() || values.contains(&0) {
        return Err(ConfigError::invalid(
            file,
            field,
            "needs at least one value, all positive",
        ));
    }
    Ok(Axis {
        name: name.to_string(),
        values: values.iter().map(u64::to_string).collect(),
    })
}

fn text_axis(
    file: &str,
    name: &str,
    values: Vec<String>,
    check: impl Fn(&str) -> bool,
    rule: &str,
) -> Result<Axis, ConfigError> {
    if values.is_empty() || values.len() as u64 > MAX_AXIS_VALUES {
        return Err(ConfigError::invalid(
            file,
            format!("axes.{name}"),
            format!("needs between 1 and {MAX_AXIS_VALUES} values"),
        ));
    }
    if let Some(bad) = values.iter().find(|v| !check(v)) {
        return Err(ConfigError::invalid(
            file,
            format!("axes.{name}"),
            format!("`{bad}`: {rule}"),
        ));
    }
    Ok(Axis {
        name: name.to_string(),
        values,
    })
}

/// Reads a sweep TOML whose axes span at most `max_points` points ([`MAX_POINTS`](super::MAX_POINTS) for a
/// sweep, which runs every point; more for a search, which never lists them); `load_base`
/// reads the base design named relative to the sweep file.
pub fn load_sweep(
    source: &Source,
    max_points: u64,
    load_base: impl Fn(Option<&str>) -> Result<(RawDesign, String), ConfigError>,
) -> Result<SweepSpec, ConfigError> {
    let raw: RawSweep = parse_toml(source)?;
    let file = source.name.as_str();
    let (base, base_source) = load_base(raw.base_design.as_deref())?;
    let encoders = match raw.encoders {
        None => Encoder::ALL.to_vec(),
        Some(names) => names
            .iter()
            .map(|name| {
                Encoder::ALL
                    .into_iter()
                    .find(|e| e.name() == name)
                    .ok_or_else(|| {
                        ConfigError::invalid(
                            file,
                            "encoders",
                            format!(
                                "unknown encoder `{name}` (expected vision, connector or text)"
                            ),
                        )
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    if encoders.is_empty() {
        return Err(ConfigError::invalid(
            file,
            "encoders",
            "needs at least one encoder",
        ));
    }
    if raw.kernels.as_ref().is_some_and(|k| k.is_empty()) {
        return Err(ConfigError::invalid(
            file,
            "kernels",
            "needs at least one kernel name",
        ));
    }
    let cameras = crate::workload::limits::CAMERAS;
    if let Some(count) = raw.cameras.filter(|count| !cameras.contains(count)) {
        return Err(ConfigError::invalid(
            file,
            "cameras",
            format!(
                "must be {} to {}, found {count}",
                cameras.start(),
                cameras.end()
            ),
        ));
    }
    let a = raw.axes;
    let mut axes = Vec::new();
    if let Some(count) = a.array_count {
        axes.push(expand(file, "array_count", count)?);
    }
    if let Some(shapes) = a.array_shape {
        axes.push(text_axis(
            file,
            "array_shape",
            shapes,
            |s| parse_shape(s).is_some(),
            "expected RxC with positive numbers",
        )?);
    }
    if let Some(flows) = a.dataflow {
        let names = flows.iter().map(|d| d.name().to_string()).collect();
        axes.push(text_axis(file, "dataflow", names, |_| true, "")?);
    }
    if let Some(overlap) = a.overlap_folds {
        let names = overlap.iter().map(bool::to_string).collect();
        axes.push(text_axis(file, "overlap_folds", names, |_| true, "")?);
    }
    for (name, axis) in [("tm", a.tm), ("tn", a.tn), ("tk", a.tk), ("slots", a.slots)] {
        if let Some(axis) = axis {
            axes.push(expand(file, name, axis)?);
        }
    }
    if let Some(precisions) = a.precision {
        axes.push(text_axis(
            file,
            "precision",
            precisions,
            |p| p.parse::<crate::config::precision::PrecisionPair>().is_ok(),
            "expected fp32, fp16, bf16, int8, int4 or W/A",
        )?);
    }
    if let Some(batch) = a.batch {
        axes.push(expand(file, "batch", batch)?);
    }
    if let Some(clocks) = a.clock_mhz {
        let names = clocks.iter().map(|c| c.to_string()).collect();
        axes.push(text_axis(
            file,
            "clock_mhz",
            names,
            |c| c.parse::<f64>().is_ok_and(|v| v > 0.0),
            "must be a positive number",
        )?);
    }
    if let Some(fusion) = a.fusion {
        axes.push(text_axis(
            file,
            "fusion",
            fusion,
            |f| f.parse::<crate::config::design::Fusion>().is_ok(),
            "expected none, all, or gemm-act/qkv/attention joined by +",
        )?);
    }
    if let Some(orders) = a.loop_order {
        let names = orders.iter().map(name_of).collect();
        axes.push(text_axis(file, "loop_order", names, |_| true, "")?);
    }
    if let Some(layouts) = a.weight_layout {
        let names = layouts.iter().map(name_of).collect();
        axes.push(text_axis(file, "weight_layout", names, |_| true, "")?);
    }
    if let Some(layouts) = a.activation_layout {
        let names = layouts.iter().map(name_of).collect();
        axes.push(text_axis(file, "activation_layout", names, |_| true, "")?);
    }
    if let Some(schedules) = a.schedule {
        axes.push(text_axis(
            file,
            "schedule",
            schedules,
            |s| schedule(s).is_some(),
            "expected sequential, overlap_kernels or overlap_layers",
        )?);
    }
    if let Some(channels) = a.hbm_channels {
        let axis = expand(file, "hbm_channels", channels)?;
        if let Some(bad) = axis
            .values
            .iter()
            .find(|v| v.parse::<u64>().is_ok_and(|c| c < 2 || c % 2 == 1))
        {
            return Err(ConfigError::invalid(
                file,
                "axes.hbm_channels",
                format!(
                    "`{bad}`: needs an even number of at least 2 channels (weights on the \
                     first half, activations on the second)"
                ),
            ));
        }
        axes.push(axis);
    }
    for (name, shapes) in a.engine_shape.unwrap_or_default() {
        let systolic = base
            .engines
            .iter()
            .any(|e| e.name == name && e.kind == EngineKind::Systolic);
        if !systolic {
            let names: Vec<String> = base.engines.iter().map(|e| e.name.clone()).collect();
            return Err(ConfigError::invalid(
                file,
                format!("axes.engine_shape.{name}"),
                format!(
                    "the base design has no systolic engine `{name}`{}",
                    crate::config::did_you_mean(&name, &names)
                ),
            ));
        }
        axes.push(text_axis(
            file,
            &format!("engine_shape.{name}"),
            shapes,
            |s| parse_shape(s).is_some(),
            "expected RxC with positive numbers",
        )?);
    }
    // Engines a mapping may name: the base design's, and the pool's groups.
    let engine_names: Vec<String> = base
        .engines
        .iter()
        .map(|e| e.name.clone())
        .chain(["array".to_string(), "vector".to_string()])
        .collect();
    for (key, lists) in a.mapping.unwrap_or_default() {
        let field = format!("axes.mapping.\"{key}\"");
        let unknown = lists
            .iter()
            .flat_map(|list| list.split('+'))
            .find(|name| !name.is_empty() && !engine_names.iter().any(|e| e == name));
        if let Some(name) = unknown {
            return Err(ConfigError::invalid(
                file,
                field,
                format!(
                    "the base design has no engine `{name}`{}",
                    crate::config::did_you_mean(name, &engine_names)
                ),
            ));
        }
        axes.push(text_axis(
            file,
            &format!("mapping.{key}"),
            lists,
            |list| list.split('+').all(|name| !name.is_empty()),
            "expected engine names joined by +",
        )?);
    }
    let c = raw.constraints;
    for (field, value) in c.shares() {
        if !(value > 0.0 && value <= 1.0) {
            return Err(ConfigError::invalid(
                file,
                field,
                "must be a share in (0, 1]",
            ));
        }
    }
    if let Some(watts) = c
        .max_power_w
        .filter(|w| !(w.is_finite() && *w > 0.0 && *w <= 10_000.0))
    {
        return Err(ConfigError::invalid(
            file,
            "constraints.max_power_w",
            format!("{watts} is outside (0, 10000] W"),
        ));
    }
    let clocks = crate::config::platform::limits::CLOCK_MHZ;
    if let Some(mhz) = c.min_expected_clock_mhz.filter(|mhz| !clocks.contains(mhz)) {
        return Err(ConfigError::invalid(
            file,
            "constraints.min_expected_clock_mhz",
            format!("{mhz} is outside {}-{} MHz", clocks.start(), clocks.end()),
        ));
    }
    let points = axes
        .iter()
        .try_fold(1u64, |points, axis| {
            points.checked_mul(axis.values.len() as u64)
        })
        .filter(|&points| points <= max_points);
    if points.is_none() {
        return Err(ConfigError::invalid(
            file,
            "axes",
            format!(
                "the axes span more than {max_points} points; split the sweep into several \
                 files, or search the space (`roofsim search --space`)"
            ),
        ));
    }
    Ok(SweepSpec {
        source: source.name.clone(),
        base,
        base_source,
        encoders,
        kernels: raw.kernels.unwrap_or_default(),
        cameras: raw.cameras,
        axes,
        constraints: c.budgets(),
    })
}
