//! What the run shows and writes: the plan before the run, the live progress line, the
//! final text summary, and the JSON, NDJSON and HTML files.

pub(crate) mod html;
pub(crate) mod json;
pub(crate) mod ndjson;
pub(crate) mod plan;
pub(crate) mod progress;
pub(crate) mod text;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::{OutputPaths, SetupError};

pub use json::RunReport;

/// Output files, created before the run so that a bad path fails at once (exit 3)
/// rather than after a 20-minute run.
#[derive(Debug, Default)]
pub(crate) struct OutputFiles {
    pub json: Option<(PathBuf, File)>,
    pub ndjson: Option<(PathBuf, File)>,
    pub html: Option<(PathBuf, File)>,
}

impl OutputFiles {
    pub(crate) fn open(paths: &OutputPaths) -> Result<Self, SetupError> {
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
pub(crate) fn write_files(
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
