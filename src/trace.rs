//! Trace sinks that write executed nodes as CSV while the simulation runs.

use crate::sim::{TraceRecord, TraceSink};
use std::io::Write;

/// Streams `start_cycle, end_cycle, resource, kernel, node, kind, bytes` rows to a writer;
/// cycles count from the start of each kernel's simulation.
/// The first write error is kept and reported by [`CsvTrace::finish`].
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

    /// Flushes and returns the writer, or the first error met.
    pub fn finish(mut self) -> Result<W, csv::Error> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        self.writer
            .into_inner()
            .map_err(|error| error.into_error().into())
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
