//! Trace sinks that write executed nodes to a file while the simulation runs: CSV for
//! scripts, Chrome trace events for Perfetto and `chrome://tracing`.

use crate::sim::{TraceRecord, TraceSink};
use std::io::Write;

/// What a trace of a workload holds, for its metadata.
pub const COVERAGE: &str = "roofsim: identical layers are simulated once, so this trace holds \
    the first instance of each distinct layer (and the kernels outside layers), kernels laid \
    end to end in execution order; the other layers repeat the one they equal";

/// A trace sink that owns its output and must be finished to flush it.
pub trait TraceFile: TraceSink {
    /// Flushes the trace; reports the first write error met while recording.
    fn finish(self: Box<Self>) -> std::io::Result<()>;
}

/// Streams `start_cycle, end_cycle, resource, kernel, node, kind, bytes` rows to a writer;
/// cycles count from the start of each kernel's simulation.
#[derive(Debug)]
pub struct CsvTrace<W: Write> {
    writer: csv::Writer<W>,
    error: Option<csv::Error>,
}

impl<W: Write> CsvTrace<W> {
    /// A sink writing to `writer`.
    pub fn new(writer: W) -> Self {
        let mut writer = csv::Writer::from_writer(writer);
        let error = writer
            .write_record([
                "start_cycle",
                "end_cycle",
                "resource",
                "kernel",
                "node",
                "kind",
                "bytes",
            ])
            .err();
        CsvTrace { writer, error }
    }
}

impl<W: Write> TraceSink for CsvTrace<W> {
    fn record(&mut self, record: &TraceRecord) {
        if self.error.is_some() {
            return;
        }
        let result = self.writer.write_record([
            record.start_cycle.to_string().as_str(),
            record.end_cycle.to_string().as_str(),
            record.resource,
            record.kernel,
            record.node,
            record.kind,
            record.bytes.to_string().as_str(),
        ]);
        self.error = result.err();
    }
}

impl<W: Write> TraceFile for CsvTrace<W> {
    fn finish(mut self: Box<Self>) -> std::io::Result<()> {
        if let Some(error) = self.error.take() {
            return Err(error.into());
        }
        self.writer.flush()
    }
}

/// Streams Chrome trace events (the JSON array format). Kernels are laid end to end on one
/// timeline in microseconds at the design's clock. A resource whose nodes overlap in time
/// (the transfers in flight on a set of HBM channels) gets as many tracks (`hbm0-15 #2`...)
/// as it has nodes at once, since slices on one track must nest or follow each other; times
/// are rounded to whole nanoseconds from integer cycles, so rounding never makes slices
/// overlap. The closing bracket of the array is optional in that format, so an interrupted
/// trace still opens.
#[derive(Debug)]
pub struct ChromeTrace<W: Write> {
    writer: W,
    error: Option<std::io::Error>,
    cycles_per_us: f64,
    /// Tracks named so far: (resource, cycle at which its last slice ends); a track's id is
    /// its index.
    tracks: Vec<(String, u64)>,
    kernel: String,
    /// Cycle where the current kernel starts on the shared timeline.
    offset_cycles: u64,
    kernel_end_cycles: u64,
}

/// Trace time units per microsecond: whole nanoseconds, as Perfetto stores them. It reads
/// `ts` and `dur` (microseconds) and rounds each to nanoseconds on its own; written in whole
/// nanoseconds, both are exact, so a slice ends where the next begins (finer units rounded
/// apart made neighbours overlap by 1 ns, and Perfetto dropped them).
const UNITS_PER_US: u64 = 1_000;

impl<W: Write> ChromeTrace<W> {
    /// A trace at `clock_hz`; `description` goes into the trace's metadata (what it covers).
    pub fn new(mut writer: W, clock_hz: f64, description: &str) -> Self {
        let error = (|| {
            writer.write_all(b"[\n")?;
            writeln!(
                writer,
                r#"{{"name":"process_labels","ph":"M","pid":1,"args":{{"labels":{}}}}},"#,
                serde_json::to_string(description)?
            )
        })()
        .err();
        ChromeTrace {
            writer,
            error,
            cycles_per_us: clock_hz / 1e6,
            tracks: Vec::new(),
            kernel: String::new(),
            offset_cycles: 0,
            kernel_end_cycles: 0,
        }
    }

    /// `cycles` on the shared timeline in whole trace units; monotone, so slices that do not
    /// overlap in cycles do not overlap in units.
    fn units(&self, cycles: u64) -> u64 {
        (cycles as f64 / self.cycles_per_us * UNITS_PER_US as f64).round() as u64
    }

    fn write_event(&mut self, record: &TraceRecord) -> std::io::Result<()> {
        if record.kernel != self.kernel {
            self.offset_cycles += self.kernel_end_cycles;
            self.kernel_end_cycles = 0;
            self.kernel = record.kernel.to_string();
        }
        self.kernel_end_cycles = self.kernel_end_cycles.max(record.end_cycle);
        let (start, end) = (
            self.offset_cycles + record.start_cycle,
            self.offset_cycles + record.end_cycle,
        );
        // Records arrive in order of their end, so a track whose last slice ended by `start`
        // holds this one after all of its slices.
        let free = self
            .tracks
            .iter()
            .position(|(resource, last_end)| resource == record.resource && *last_end <= start);
        let track = match free {
            Some(track) => track,
            None => {
                let lane = self
                    .tracks
                    .iter()
                    .filter(|(resource, _)| resource == record.resource)
                    .count();
                self.tracks.push((record.resource.to_string(), 0));
                let track = self.tracks.len() - 1;
                let name = if lane == 0 {
                    record.resource.to_string()
                } else {
                    format!("{} #{}", record.resource, lane + 1)
                };
                writeln!(
                    self.writer,
                    r#"{{"name":"thread_name","ph":"M","pid":1,"tid":{track},"args":{{"name":{}}}}},"#,
                    serde_json::to_string(&name)?
                )?;
                track
            }
        };
        self.tracks[track].1 = end;
        let (start_units, end_units) = (self.units(start), self.units(end));
        let microseconds =
            |units: u64| format!("{}.{:03}", units / UNITS_PER_US, units % UNITS_PER_US);
        writeln!(
            self.writer,
            r#"{{"name":{},"cat":"{}","ph":"X","ts":{},"dur":{},"pid":1,"tid":{track},"args":{{"kernel":{},"bytes":{}}}}},"#,
            serde_json::to_string(record.node)?,
            record.kind,
            microseconds(start_units),
            microseconds(end_units - start_units),
            serde_json::to_string(record.kernel)?,
            record.bytes
        )
    }
}

impl<W: Write> TraceSink for ChromeTrace<W> {
    fn record(&mut self, record: &TraceRecord) {
        if self.error.is_none() {
            self.error = self.write_event(record).err();
        }
    }
}

impl<W: Write> TraceFile for ChromeTrace<W> {
    fn finish(mut self: Box<Self>) -> std::io::Result<()> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        // A last metadata event closes the array without a dangling comma.
        self.writer.write_all(
            br#"{"name":"process_name","ph":"M","pid":1,"args":{"name":"roofsim"}}
]
"#,
        )?;
        self.writer.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(kernel: &'a str, resource: &'a str, start: u64, end: u64) -> TraceRecord<'a> {
        TraceRecord {
            start_cycle: start,
            end_cycle: end,
            resource,
            kernel,
            node: "gemm b0 m0 n0 k0",
            kind: "gemm",
            bytes: 0,
        }
    }

    #[test]
    fn chrome_trace_is_json_with_kernels_end_to_end() {
        let mut out = Vec::new();
        let mut trace = Box::new(ChromeTrace::new(&mut out, 300e6, "test"));
        trace.record(&record("vision/L0/qkv_proj", "array0", 0, 300));
        trace.record(&record("vision/L0/qkv_proj", "hbm16-31", 0, 600));
        trace.record(&record("vision/L0/o_proj", "array0", 0, 300));
        trace.finish().unwrap();
        let events: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
        let slices: Vec<&serde_json::Value> = events.iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(slices.len(), 3);
        // 300 cycles are 1 µs at 300 MHz; the second kernel starts where the first ended.
        assert_eq!(slices[0]["dur"].as_f64().unwrap(), 1.0);
        assert_eq!(slices[2]["ts"].as_f64().unwrap(), 2.0);
        assert_eq!(slices[2]["args"]["kernel"], "vision/L0/o_proj");
        let tracks = events.iter().filter(|e| e["name"] == "thread_name").count();
        assert_eq!(tracks, 2);
    }

    /// Slices on one track must nest or follow each other: transfers in flight at once go
    /// to tracks of their own, and a track is reused once its last slice has ended.
    #[test]
    fn overlapping_nodes_of_one_resource_get_tracks_of_their_own() {
        let mut out = Vec::new();
        let mut trace = Box::new(ChromeTrace::new(&mut out, 300e6, "test"));
        trace.record(&record("k", "hbm0-15", 0, 100));
        trace.record(&record("k", "hbm0-15", 50, 150));
        trace.record(&record("k", "hbm0-15", 100, 200));
        trace.record(&record("k", "hbm0-15", 150, 210));
        trace.record(&record("k", "hbm0-15", 160, 220));
        trace.finish().unwrap();
        let events: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
        let tids: Vec<u64> = events
            .iter()
            .filter(|e| e["ph"] == "X")
            .map(|e| e["tid"].as_u64().unwrap())
            .collect();
        assert_eq!(tids, [0, 1, 0, 1, 2]);
        let names: Vec<&str> = events
            .iter()
            .filter(|e| e["name"] == "thread_name")
            .map(|e| e["args"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["hbm0-15", "hbm0-15 #2", "hbm0-15 #3"]);
        assert_eq!(events[0]["args"]["labels"], "test");
    }

    #[test]
    fn csv_trace_has_a_header_and_a_row_per_record() {
        let mut out = Vec::new();
        let mut trace = Box::new(CsvTrace::new(&mut out));
        trace.record(&record("text/L0/rope", "vector1", 5, 9));
        trace.finish().unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "start_cycle,end_cycle,resource,kernel,node,kind,bytes\n\
             5,9,vector1,text/L0/rope,gemm b0 m0 n0 k0,gemm,0\n"
        );
    }
}
