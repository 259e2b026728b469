//! The sensor's error type.

use std::path::PathBuf;

/// Errors of the sensor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A capture file is bad or truncated; everything before it was processed.
    #[error("{}: bad capture at frame {frame}, byte offset {offset}: {message}", path.display())]
    Capture {
        /// The file.
        path: PathBuf,
        /// The frame number that could not be read (1-based; 0 if the file header is bad).
        frame: u64,
        /// Byte offset where that frame starts.
        offset: u64,
        /// libpcap's message.
        message: String,
    },
    /// A live capture could not be opened or failed.
    #[error("interface {interface}: {message}")]
    Live {
        /// The interface.
        interface: String,
        /// libpcap's message.
        message: String,
    },
    /// A worker thread could not be started or panicked.
    #[error("worker thread failed: {0}")]
    Thread(String),
}
