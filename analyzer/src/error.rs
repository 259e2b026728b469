//! The one error type of the analyzer crate: [`Error`].

use std::path::PathBuf;

/// Everything that can go wrong opening, writing, decoding or querying the passive-DNS store.
///
/// Decoding errors name the thing being decoded (`what`: `"pdns value"`, `"rdata index key"`,
/// ...) and where it went wrong; they come from file data and never from a panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// RocksDB failed while opening the store.
    #[error("could not open store at {path}: {source}")]
    Open {
        /// The store directory.
        path: PathBuf,
        /// What RocksDB said (for example that another process holds the lock).
        source: rocksdb::Error,
    },
    /// A file-system operation on the store path failed.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// RocksDB failed on a read or write.
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// There is no store at the path (query on a path that was never written).
    #[error("no dnsward store at {path}")]
    NoStore {
        /// The path given.
        path: PathBuf,
    },
    /// The path holds something that is not a dnsward store.
    #[error("{path} is not a dnsward store: {reason}")]
    NotAStore {
        /// The path given.
        path: PathBuf,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The store was written in an on-disk format this build does not read.
    #[error(
        "store at {path} has on-disk format version {found}, but this dnsward reads only \
         version {supported}; use a matching dnsward build or a new store path"
    )]
    IncompatibleFormat {
        /// The store directory.
        path: PathBuf,
        /// The version recorded in the store.
        found: u32,
        /// The version this build reads and writes ([`crate::store::FORMAT_VERSION`]).
        supported: u32,
    },
    /// A stored key or value ends before a field it needs.
    #[error("{what} truncated at offset {offset}: needed {needed} bytes, {available} available")]
    Truncated {
        /// What was being decoded.
        what: &'static str,
        /// Offset of the field that did not fit.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// A stored value carries an encoding version byte this build does not know.
    #[error("{what} has encoding version {found}, this build reads version {supported}")]
    UnsupportedEncoding {
        /// What was being decoded.
        what: &'static str,
        /// The version byte found.
        found: u8,
        /// The version this build reads.
        supported: u8,
    },
    /// A stored value's checksum does not match its bytes.
    #[error("{what} checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// What was being decoded.
        what: &'static str,
        /// The checksum stored with the value.
        stored: u32,
        /// The checksum of the bytes read.
        computed: u32,
    },
    /// Bytes remain after the last field of a stored key or value.
    #[error("{what} has {extra} trailing bytes at offset {offset}")]
    TrailingBytes {
        /// What was being decoded.
        what: &'static str,
        /// Offset of the first unexpected byte.
        offset: usize,
        /// How many bytes remain.
        extra: usize,
    },
    /// A stored key or value holds a field with an impossible value.
    #[error("{what} malformed at offset {offset}: {reason}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// Offset of the bad field.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A name given to the store or a query is not a usable domain name.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `--rdata` argument is neither an address, a CIDR prefix nor a name.
    #[error("invalid rdata query {text:?}: {reason}")]
    InvalidRdataQuery {
        /// The argument as given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `since` is later than `until`.
    #[error("invalid time window: since {since} is after until {until}")]
    InvalidTimeWindow {
        /// Start of the window, seconds since the Unix epoch.
        since: u64,
        /// End of the window, seconds since the Unix epoch.
        until: u64,
    },
    /// A reverse-index entry points at a pdns record that does not exist.
    #[error("rdata index entry points at a missing pdns record")]
    DanglingIndexEntry,
    /// A write was attempted on a store opened with [`crate::store::Store::open_read_only`].
    #[error("store is open read-only; writing needs Store::open")]
    ReadOnly,
    /// The writer thread could not be started.
    #[error("could not start the store writer thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// The flush latency histogram could not be created.
    #[error("could not create the flush latency histogram: {0}")]
    Histogram(#[from] hdrhistogram::CreationError),
    /// The writer thread panicked (a bug; the last unflushed interval is lost).
    #[error("the store writer thread panicked")]
    WriterPanicked,
    /// The analysis thread panicked (a bug).
    #[error("the analysis thread panicked")]
    AnalyzerPanicked,
}
