//! One JSON object per request (`--ndjson FILE`), written as responses arrive so a
//! crashed or interrupted run still leaves its data behind.
//!
//! Fields: `index`, `intended_ms` / `sent_ms` / `done_ms` (offsets from the start of the
//! run), `latency_ms` (from the intended send), `service_ms` (from the actual send),
//! `lateness_ms`, `outcome` (label), `version`, `status`, `evidence`, `attributed`,
//! `discarded` (settle window), `epoch`. Overflowed slots are written with
//! `"outcome": "overflow"` and `null` timings.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use serde::Serialize;

use crate::classify::Evidence;
use crate::sample::Completed;
use crate::tally::Tally;

#[derive(Serialize)]
struct Line<'a> {
    index: u64,
    intended_ms: f64,
    sent_ms: Option<f64>,
    done_ms: Option<f64>,
    latency_ms: Option<f64>,
    service_ms: Option<f64>,
    lateness_ms: Option<f64>,
    outcome: &'a str,
    version: Option<&'a str>,
    status: Option<u16>,
    evidence: Option<Evidence>,
    attributed: Option<&'a str>,
    error: Option<&'a str>,
    discarded: bool,
    epoch: Option<usize>,
}

pub(crate) struct NdjsonWriter {
    path: PathBuf,
    out: BufWriter<File>,
    error: Option<std::io::Error>,
}

fn ms(seconds: f64) -> f64 {
    // Microsecond resolution keeps lines short without losing anything measurable.
    (seconds * 1_000_000.0).round() / 1000.0
}

impl NdjsonWriter {
    pub(crate) fn new(path: PathBuf, file: File) -> Self {
        Self {
            path,
            out: BufWriter::new(file),
            error: None,
        }
    }

    pub(crate) fn completed(
        &mut self,
        c: &Completed,
        tally: &Tally,
        discarded: bool,
        epoch: Option<usize>,
    ) {
        let class = &c.fetched.classification;
        let line = Line {
            index: c.index,
            intended_ms: ms(tally.seconds_since_start(c.intended)),
            sent_ms: Some(ms(tally.seconds_since_start(c.sent))),
            done_ms: Some(ms(tally.seconds_since_start(c.done))),
            latency_ms: Some(ms(c.latency().as_secs_f64())),
            service_ms: Some(ms(c.service_time().as_secs_f64())),
            lateness_ms: Some(ms(c.lateness().as_secs_f64())),
            outcome: class.class.label(),
            version: class.class.version(),
            status: c.fetched.status,
            evidence: Some(class.evidence),
            attributed: class.attributed.as_deref(),
            error: c.fetched.error.as_deref(),
            discarded,
            epoch,
        };
        self.write(&line);
    }

    pub(crate) fn overflow(&mut self, index: u64, intended_seconds: f64) {
        let line = Line {
            index,
            intended_ms: ms(intended_seconds),
            sent_ms: None,
            done_ms: None,
            latency_ms: None,
            service_ms: None,
            lateness_ms: None,
            outcome: "overflow",
            version: None,
            status: None,
            evidence: None,
            attributed: None,
            error: None,
            discarded: false,
            epoch: None,
        };
        self.write(&line);
    }

    fn write(&mut self, line: &Line<'_>) {
        if self.error.is_some() {
            return;
        }
        let result = serde_json::to_writer(&mut self.out, line)
            .map_err(std::io::Error::other)
            .and_then(|()| self.out.write_all(b"\n"));
        if let Err(e) = result {
            // Keep running: the verdict does not depend on the log. Report once at the end.
            self.error = Some(e);
        }
    }

    /// Flush; a warning if anything failed.
    pub(crate) fn finish(&mut self) -> Option<String> {
        if self.error.is_none()
            && let Err(e) = self.out.flush()
        {
            self.error = Some(e);
        }
        self.error
            .as_ref()
            .map(|e| format!("warning: cannot write {}: {e}", self.path.display()))
    }
}
