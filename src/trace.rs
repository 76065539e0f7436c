//! Trace sinks that write executed nodes to a file while the simulation runs: CSV for
//! scripts, Chrome trace events for Perfetto and `chrome://tracing`.

use crate::sim::{TraceRecord, TraceSink};
use std::io::Write;

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

/// Streams Chrome trace events (the JSON array format) with one track per resource. Kernels
/// are laid end to end on one timeline in microseconds at the design's clock. The closing
/// bracket of the array is optional in that format, so an interrupted trace still opens.
#[derive(Debug)]
pub struct ChromeTrace<W: Write> {
    writer: W,
    error: Option<std::io::Error>,
    cycles_per_us: f64,
    /// Tracks named so far; a track's id is its index.
    tracks: Vec<String>,
    kernel: String,
    /// Cycle where the current kernel starts on the shared timeline.
    offset_cycles: u64,
    kernel_end_cycles: u64,
}

impl<W: Write> ChromeTrace<W> {
    pub fn new(mut writer: W, clock_hz: f64) -> Self {
        let error = writer.write_all(b"[\n").err();
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

    fn write_event(&mut self, record: &TraceRecord) -> std::io::Result<()> {
        if record.kernel != self.kernel {
            self.offset_cycles += self.kernel_end_cycles;
            self.kernel_end_cycles = 0;
            self.kernel = record.kernel.to_string();
        }
        self.kernel_end_cycles = self.kernel_end_cycles.max(record.end_cycle);
        let track = match self.tracks.iter().position(|t| t == record.resource) {
            Some(track) => track,
            None => {
                self.tracks.push(record.resource.to_string());
                let track = self.tracks.len() - 1;
                let name = serde_json::to_string(record.resource)?;
                writeln!(
                    self.writer,
                    r#"{{"name":"thread_name","ph":"M","pid":1,"tid":{track},"args":{{"name":{name}}}}},"#
                )?;
                track
            }
        };
        let start_us = (self.offset_cycles + record.start_cycle) as f64 / self.cycles_per_us;
        let duration_us = (record.end_cycle - record.start_cycle) as f64 / self.cycles_per_us;
        writeln!(
            self.writer,
            r#"{{"name":{},"cat":"{}","ph":"X","ts":{start_us:.4},"dur":{duration_us:.4},"pid":1,"tid":{track},"args":{{"kernel":{},"bytes":{}}}}},"#,
            serde_json::to_string(record.node)?,
            record.kind,
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
        let mut trace = Box::new(ChromeTrace::new(&mut out, 300e6));
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
