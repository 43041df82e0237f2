//! What the run shows and writes: the plan before the run, the live progress line, the
//! final text summary, and the JSON, NDJSON and HTML files.

pub mod html;
pub mod json;
pub mod ndjson;
pub mod plan;
pub mod progress;
pub mod text;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::run::{OutputPaths, SetupError};

pub use json::RunReport;

/// Output files, created before the run so that a bad path fails at once (exit 3)
/// rather than after a 20-minute run.
#[derive(Debug, Default)]
pub struct OutputFiles {
    pub json: Option<(PathBuf, File)>,
    pub ndjson: Option<(PathBuf, File)>,
    pub html: Option<(PathBuf, File)>,
}

impl OutputFiles {
    pub fn open(paths: &OutputPaths) -> Result<Self, SetupError> {
        let open = |path: &Option<PathBuf>| -> Result<Option<(PathBuf, File)>, SetupError> {
            path.as_ref()
                .map(|p| {
                    File::create(p)
                        .map(|f| (p.clone(), f))
                        .map_err(|e| SetupError::Output {
                            path: p.display().to_string(),
                            message: e.to_string(),
                        })
                })
                .transpose()
        };
        Ok(Self {
            json: open(&paths.json)?,
            ndjson: open(&paths.ndjson)?,
            html: open(&paths.html)?,
        })
    }
}

/// Write the JSON summary and the HTML report; returns warnings for files that failed
/// (the verdict stands even if a file could not be written).
pub fn write_files(
    json: Option<(PathBuf, File)>,
    html: Option<(PathBuf, File)>,
    report: &RunReport,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some((path, file)) = json {
        let text = serde_json::to_string_pretty(report)
            .map_err(std::io::Error::other)
            .map(|mut t| {
                t.push('\n');
                t
            });
        if let Err(e) = text.and_then(|t| write_all(file, &t)) {
            warnings.push(write_warning(&path, &e));
        }
    }
    if let Some((path, file)) = html
        && let Err(e) = write_all(file, &html::render(report))
    {
        warnings.push(write_warning(&path, &e));
    }
    warnings
}

fn write_all(mut file: File, text: &str) -> std::io::Result<()> {
    file.write_all(text.as_bytes())?;
    file.flush()
}

fn write_warning(path: &Path, e: &std::io::Error) -> String {
    format!("warning: cannot write {}: {e}", path.display())
}

/// `850ms`, `12.3s`, `4m 05s`, `1h 02m`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{}ms", d.as_millis())
    } else if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        let whole = d.as_secs();
        format!("{}m {:02}s", whole / 60, whole % 60)
    } else {
        let whole = d.as_secs();
        format!("{}h {:02}m", whole / 3600, (whole % 3600) / 60)
    }
}

/// `format_duration` for a float number of seconds (non-finite or negative as `?`).
pub fn format_seconds(s: f64) -> String {
    Duration::try_from_secs_f64(s).map_or_else(|_| "?".to_owned(), format_duration)
}

/// `0.3` → `30.0%`.
pub fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(format_duration(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(format_duration(Duration::from_secs(245)), "4m 05s");
        assert_eq!(format_duration(Duration::from_secs(3_720)), "1h 02m");
        assert_eq!(format_seconds(f64::NAN), "?");
        assert_eq!(percent(0.3), "30.0%");
    }
}
