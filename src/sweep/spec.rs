//! Sweep configs: a base design, axes to vary, constraints; expanded into design points.

use super::constraints::Constraints;
use crate::config::design::{EngineKind, RawDesign};
use crate::workload::Encoder;
use serde::{Deserialize, Serialize};

/// One varied parameter and its values, as text for the CSV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    /// The axis, as the sweep file names it.
    pub name: String,
    /// Its values, as text.
    pub values: Vec<String>,
}

/// The most values one axis may take.
pub const MAX_AXIS_VALUES: u64 = 10_000;

/// The most points a sweep may have (a sweep's rows are read back whole for its summary, so
/// this bounds its memory); shard larger spaces into several sweeps.
pub const MAX_POINTS: u64 = 100_000;

/// A validated sweep: every axis value parses; points are generated on demand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSpec {
    /// Where the sweep file was read from.
    pub source: String,
    /// The design the axes modify.
    pub base: RawDesign,
    /// Where the base design came from, for error messages.
    pub base_source: String,
    /// Encoders simulated.
    pub encoders: Vec<Encoder>,
    /// Kernel names (or `encoder/name`) to keep; empty keeps all.
    pub kernels: Vec<String>,
    /// Camera images per observation, if the file sets it.
    pub cameras: Option<u64>,
    /// The axes, in order.
    pub axes: Vec<Axis>,
    /// What a point may take.
    pub constraints: Constraints,
}

/// One point of the sweep: values of every axis, in axis order.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Its index among the sweep's points.
    pub index: u64,
    /// Its value of each axis.
    pub values: Vec<String>,
}

impl SweepSpec {
    /// Number of points: the product of the axes' lengths (at most [`MAX_POINTS`]).
    pub fn point_count(&self) -> u64 {
        self.axes.iter().map(|a| a.values.len() as u64).product()
    }

    /// Checks a spec that was read back (from a `sweep.meta.json`) rather than loaded: every
    /// axis known, with between 1 and [`MAX_AXIS_VALUES`] values, at most [`MAX_POINTS`]
    /// points, and every value applicable.
    pub fn check(&self) -> Result<(), String> {
        for axis in &self.axes {
            if axis.values.is_empty() || axis.values.len() as u64 > MAX_AXIS_VALUES {
                return Err(format!("axis `{}` has no or too many values", axis.name));
            }
        }
        let points = self.axes.iter().try_fold(1u64, |points, axis| {
            points.checked_mul(axis.values.len() as u64)
        });
        if points.is_none_or(|points| points > MAX_POINTS) {
            return Err(format!("more than {MAX_POINTS} points"));
        }
        // Every value of every axis, with the other axes at their first value.
        let firsts: Vec<String> = self.axes.iter().map(|a| a.values[0].clone()).collect();
        for (position, axis) in self.axes.iter().enumerate() {
            for value in &axis.values {
                let mut values = firsts.clone();
                values[position] = value.clone();
                self.apply(&Point { index: 0, values })?;
            }
        }
        Ok(())
    }

    /// The `index`-th point; the last axis varies fastest.
    pub fn point(&self, index: u64) -> Point {
        let mut rest = index;
        let mut values = vec![String::new(); self.axes.len()];
        for (slot, axis) in values.iter_mut().zip(&self.axes).rev() {
            let len = axis.values.len() as u64;
            *slot = axis.values[(rest % len) as usize].clone();
            rest /= len;
        }
        Point { index, values }
    }

    /// The base design with the point's values applied, and the point's batch size if the
    /// sweep varies it.
    pub fn apply(&self, point: &Point) -> Result<(RawDesign, Option<u64>), String> {
        let mut design = self.base.clone();
        let mut batch = None;
        for (axis, value) in self.axes.iter().zip(&point.values) {
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|e| format!("{}: {e}", axis.name))
            };
            match axis.name.as_str() {
                "array_count" => design.arrays.count = number()?,
                "array_shape" => {
                    let (rows, cols) = parse_shape(value).ok_or("array_shape: expected RxC")?;
                    design.arrays.rows = rows;
                    design.arrays.cols = cols;
                }
                "dataflow" => design.arrays.dataflow = value.parse()?,
                "overlap_folds" => design.arrays.overlap_folds = value == "true",
                "tm" => design.tiling.tm = number()?,
                "tn" => design.tiling.tn = number()?,
                "tk" => design.tiling.tk = number()?,
                "slots" => design.buffers.slots = number()?,
                "precision" => design.precision = value.clone(),
                "batch" => batch = Some(number()?),
                "clock_mhz" => {
                    design.clock_mhz = value.parse().map_err(|e| format!("clock_mhz: {e}"))?
                }
                "fusion" => design.fusion = value.parse()?,
                "loop_order" => {
                    design.tiling.loop_order = named(value).ok_or("loop_order: unknown value")?
                }
                "weight_layout" => {
                    design.hbm.weight_layout = named(value).ok_or("weight_layout: unknown value")?
                }
                "activation_layout" => {
                    design.hbm.activation_layout =
                        named(value).ok_or("activation_layout: unknown value")?
                }
                "schedule" => {
                    let (kernels, layers) = schedule(value).ok_or("schedule: unknown value")?;
                    design.schedule.overlap_kernels = kernels;
                    design.schedule.overlap_layers = layers;
                }
                "hbm_channels" => {
                    let half = number()? / 2;
                    design.hbm.weight_channels = [0, half - 1];
                    design.hbm.activation_channels = [half, 2 * half - 1];
                }
                other => {
                    if let Some(name) = other.strip_prefix("engine_shape.") {
                        let (rows, cols) =
                            parse_shape(value).ok_or("engine_shape: expected RxC")?;
                        let engine = design
                            .engines
                            .iter_mut()
                            .find(|e| e.name == name && e.kind == EngineKind::Systolic)
                            .ok_or_else(|| format!("`{name}` is no systolic engine of the base"))?;
                        engine.rows = Some(rows);
                        engine.cols = Some(cols);
                    } else if let Some(key) = other.strip_prefix("mapping.") {
                        let engines = value.split('+').map(str::to_string).collect();
                        design.mapping.insert(key.to_string(), engines);
                    } else {
                        return Err(format!("unknown axis `{other}`"));
                    }
                }
            }
        }
        Ok((design, batch))
    }
}

/// A value of a config enum by the name the design file gives it (`"mbnk"`, `"tile_major"`).
pub(super) fn named<T: serde::de::DeserializeOwned>(value: &str) -> Option<T> {
    T::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(value)).ok()
}

/// The name a design file gives a config enum's value (its serde name).
pub(super) fn name_of(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|name| name.as_str().map(String::from))
        .expect("config enums serialise as their names")
}

/// A `schedule` axis value as `(overlap_kernels, overlap_layers)`.
pub(super) fn schedule(value: &str) -> Option<(bool, bool)> {
    match value {
        "sequential" => Some((false, false)),
        "overlap_kernels" => Some((true, false)),
        "overlap_layers" => Some((true, true)),
        _ => None,
    }
}

pub(super) fn parse_shape(text: &str) -> Option<(u64, u64)> {
    crate::config::dimensions::<2>(text).ok().map(Into::into)
}
