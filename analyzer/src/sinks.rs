//! Where alerts go besides the store: JSON lines to a size-rotated file and/or standard output.
//!
//! Each line is one [`Alert`] state change (opened, escalated, closed). The file is rotated
//! when the next line would take it past [`SinkConfig::rotate_bytes`]: `alerts.jsonl` becomes
//! `alerts.jsonl.1`, `.1` becomes `.2`, and so on up to [`SinkConfig::keep`] old files (the
//! oldest is deleted), as logrotate does.

use crate::Error;
use schemas::alert::{Alert, Severity};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Alert output settings (`[alerts]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinkConfig {
    /// JSON-lines file; empty for none.
    pub file: PathBuf,
    /// Also write JSON lines to standard output.
    pub stdout: bool,
    /// Rotate the file when it would grow past this many bytes.
    pub rotate_bytes: u64,
    /// Rotated files kept.
    pub keep: u32,
    /// Lowest severity written to the sinks (the store keeps every alert).
    pub min_severity: Severity,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            file: PathBuf::new(),
            stdout: false,
            rotate_bytes: 100 << 20,
            keep: 5,
            min_severity: Severity::Info,
        }
    }
}

/// Counters of the sinks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SinkStats {
    /// Lines written (to any sink).
    pub lines: u64,
    /// State changes below [`SinkConfig::min_severity`], not written.
    pub below_min_severity: u64,
    /// File rotations.
    pub rotations: u64,
}

struct RotatingFile {
    path: PathBuf,
    out: BufWriter<File>,
    size: u64,
    rotate_bytes: u64,
    keep: u32,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

impl RotatingFile {
    fn open(path: &Path, rotate_bytes: u64, keep: u32) -> Result<RotatingFile, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io_error(path))?;
        let size = file.metadata().map_err(io_error(path))?.len();
        Ok(RotatingFile {
            path: path.to_owned(),
            out: BufWriter::new(file),
            size,
            rotate_bytes: rotate_bytes.max(1),
            keep,
        })
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    }

    fn rotate(&mut self) -> Result<(), Error> {
        self.out.flush().map_err(io_error(&self.path))?;
        if self.keep == 0 {
            std::fs::remove_file(&self.path).map_err(io_error(&self.path))?;
        } else {
            let oldest = self.rotated(self.keep);
            if oldest.exists() {
                std::fs::remove_file(&oldest).map_err(io_error(&oldest))?;
            }
            for n in (1..self.keep).rev() {
                let from = self.rotated(n);
                if from.exists() {
                    std::fs::rename(&from, self.rotated(n + 1)).map_err(io_error(&from))?;
                }
            }
            std::fs::rename(&self.path, self.rotated(1)).map_err(io_error(&self.path))?;
        }
        let fresh = RotatingFile::open(&self.path, self.rotate_bytes, self.keep)?;
        *self = fresh;
        Ok(())
    }

    /// Writes one line; returns whether the file was rotated first.
    fn write_line(&mut self, line: &[u8]) -> Result<bool, Error> {
        let len = line.len() as u64 + 1;
        let rotated = self.size > 0 && self.size + len > self.rotate_bytes;
        if rotated {
            self.rotate()?;
        }
        self.out.write_all(line).map_err(io_error(&self.path))?;
        self.out.write_all(b"\n").map_err(io_error(&self.path))?;
        self.size += len;
        Ok(rotated)
    }
}

/// The configured sinks.
pub struct AlertSinks {
    file: Option<RotatingFile>,
    stdout: Option<BufWriter<std::io::Stdout>>,
    min_severity: Severity,
    /// Counters.
    pub stats: SinkStats,
}

impl std::fmt::Debug for AlertSinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSinks")
            .field("file", &self.file.as_ref().map(|f| &f.path))
            .field("stdout", &self.stdout.is_some())
            .field("stats", &self.stats)
            .finish()
    }
}

impl AlertSinks {
    /// Opens the sinks of `config` (appending to an existing file).
    pub fn open(config: &SinkConfig) -> Result<AlertSinks, Error> {
        let file = if config.file.as_os_str().is_empty() {
            None
        } else {
            Some(RotatingFile::open(
                &config.file,
                config.rotate_bytes,
                config.keep,
            )?)
        };
        Ok(AlertSinks {
            file,
            stdout: config.stdout.then(|| BufWriter::new(std::io::stdout())),
            min_severity: config.min_severity,
            stats: SinkStats::default(),
        })
    }

    /// No sinks at all.
    pub fn none() -> AlertSinks {
        AlertSinks {
            file: None,
            stdout: None,
            min_severity: Severity::Info,
            stats: SinkStats::default(),
        }
    }

    /// Writes one state change.
    pub fn write(&mut self, alert: &Alert) -> Result<(), Error> {
        if alert.dnsward.severity < self.min_severity {
            self.stats.below_min_severity += 1;
            return Ok(());
        }
        if self.file.is_none() && self.stdout.is_none() {
            return Ok(());
        }
        let line = serde_json::to_vec(alert).map_err(|_| Error::Malformed {
            what: "alert",
            offset: 0,
            reason: "cannot be encoded as JSON",
        })?;
        if let Some(f) = self.file.as_mut() {
            if f.write_line(&line)? {
                self.stats.rotations += 1;
            }
        }
        if let Some(out) = self.stdout.as_mut() {
            let stdout = Path::new("<stdout>");
            out.write_all(&line).map_err(io_error(stdout))?;
            out.write_all(b"\n").map_err(io_error(stdout))?;
        }
        self.stats.lines += 1;
        Ok(())
    }

    /// Flushes buffered lines.
    pub fn flush(&mut self) -> Result<(), Error> {
        if let Some(f) = self.file.as_mut() {
            f.out.flush().map_err(io_error(&f.path))?;
        }
        if let Some(out) = self.stdout.as_mut() {
            out.flush().map_err(io_error(Path::new("<stdout>")))?;
        }
        Ok(())
    }
}
