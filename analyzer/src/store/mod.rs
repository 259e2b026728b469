//! The passive-DNS store on RocksDB: [`Store`].
//!
//! One database, column families by purpose:
//!
//! * `meta`: the on-disk [`FORMAT_VERSION`]; a store with another version is refused.
//! * `pdns`: one entry per (owner, type, rdata, section, bailiwick) with first and last seen,
//!   count and sensors.
//! * `rdata_index`: reverse lookups by address (A, AAAA) and by the name inside NS, CNAME, PTR,
//!   DNAME, MX and SRV rdata.
//!
//! Every encoding is in [`keys`] and [`values`]. Writes come from one thread, the
//! [`writer::StoreWriter`], in `WriteBatch`es that update a record and its index entry together,
//! so a reader never sees one without the other.
//!
//! # Concurrent readers
//!
//! [`Store::open`] takes RocksDB's lock: one writing process per store.
//! [`Store::open_read_only`] does not, so `dnsward query` works while `dnsward run` holds the
//! store; it sees what had been written (flushed batches, from tables and the write-ahead log)
//! when it opened, and nothing later.

pub mod analysis;
pub mod keys;
pub mod values;
pub mod writer;

mod cursor;

use crate::query::{Damaged, Filter, NamePattern, PdnsRecord, QueryOutcome, RdataQuery};
use crate::Error;
use keys::{IndexTarget, PdnsKey};
use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Direction, IteratorMode, Options,
    WriteBatch, DB,
};
use schemas::PdnsTuple;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use values::PdnsValue;

/// Version of the on-disk format (keys, values and column families) this build reads and
/// writes. Bumped on any incompatible change to [`keys`] or [`values`].
pub const FORMAT_VERSION: u32 = 1;

/// Column family holding the format version.
pub const CF_META: &str = "meta";
/// Column family holding the passive-DNS records.
pub const CF_PDNS: &str = "pdns";
/// Column family holding the reverse index.
pub const CF_RDATA_INDEX: &str = "rdata_index";
/// Column family holding baselines of watched rrsets ([`analysis`]).
pub const CF_BASELINES: &str = "baselines";
/// Column family holding learnt watch targets ([`analysis`]).
pub const CF_WATCH: &str = "watch";
/// Column family holding alerts, by id ([`analysis`]).
pub const CF_ALERTS: &str = "alerts";
/// Column family holding the state of open episodes, by alert id ([`analysis`]).
pub const CF_EPISODES: &str = "episodes";
/// Column family holding resolver exposure reports, by address ([`analysis`]).
pub const CF_RESOLVERS: &str = "resolvers";
/// Column family holding DNSSEC state: validated keys, DS sets and unsigned-zone proofs, and
/// the validation outcome of every watched rrset ([`analysis`]).
pub const CF_DNSSEC: &str = "dnssec";
/// Every column family of the store.
pub const COLUMN_FAMILIES: [&str; 9] = [
    CF_META,
    CF_PDNS,
    CF_RDATA_INDEX,
    CF_BASELINES,
    CF_WATCH,
    CF_ALERTS,
    CF_EPISODES,
    CF_RESOLVERS,
    CF_DNSSEC,
];
/// The column families a store written by an older build may lack (created on a writable
/// open; read as empty otherwise).
const ANALYSIS_COLUMN_FAMILIES: [&str; 6] = [
    CF_BASELINES,
    CF_WATCH,
    CF_ALERTS,
    CF_EPISODES,
    CF_RESOLVERS,
    CF_DNSSEC,
];

/// Most records read or written in one RocksDB batch; bounds the memory of one flush step.
const MAX_BATCH_KEYS: usize = 50_000;

/// What one write of aggregated records did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushStats {
    /// Records written (new or merged with what was on disk).
    pub keys_written: u64,
    /// Reverse-index entries written (for records new on disk).
    pub index_entries_written: u64,
    /// RocksDB write batches committed.
    pub batches: u64,
    /// Bytes of those batches.
    pub bytes_written: u64,
    /// Records whose stored value could not be decoded and was replaced by the new aggregate.
    pub corrupt_values_replaced: u64,
}

impl FlushStats {
    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &FlushStats) {
        self.keys_written += other.keys_written;
        self.index_entries_written += other.index_entries_written;
        self.batches += other.batches;
        self.bytes_written += other.bytes_written;
        self.corrupt_values_replaced += other.corrupt_values_replaced;
    }
}

/// An open passive-DNS store.
///
/// `Store` is `Send + Sync`: share it in an `Arc` between the writer thread and readers.
pub struct Store {
    db: DB,
    path: PathBuf,
    read_only: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// Memtable memory of all column families together: beyond it RocksDB flushes the largest
/// memtable (without it, eight column families could hold 64 MB × 2 each, 1 GiB, under a
/// flood that rewrites the same alert or adds unique records).
const MEMTABLE_BUDGET_BYTES: usize = 128 << 20;

/// Options for the database and for each column family (the database-wide fields, like the
/// memtable budget, only count where the database is opened).
fn column_family_options() -> Options {
    let mut options = Options::default();
    options.set_compression_type(DBCompressionType::Lz4);
    options.set_db_write_buffer_size(MEMTABLE_BUDGET_BYTES);
    options
}

fn descriptors<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<ColumnFamilyDescriptor> {
    names
        .into_iter()
        .map(|name| ColumnFamilyDescriptor::new(name, column_family_options()))
        .collect()
}

/// Whether `path` holds a RocksDB database.
fn holds_database(path: &Path) -> bool {
    path.join("CURRENT").is_file()
}

impl Store {
    /// Opens the store at `path` for reading and writing, creating it (and the directory) when
    /// there is nothing there.
    ///
    /// Refuses a path holding something else (a file, a non-empty directory without a database,
    /// a database that is not a dnsward store) and a store written in another
    /// [`FORMAT_VERSION`]. Fails when another process holds the store open for writing.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, Error> {
        let path = path.as_ref();
        let open_error = |source| Error::Open {
            path: path.to_owned(),
            source,
        };
        if !holds_database(path) {
            refuse_unless_empty(path)?;
            std::fs::create_dir_all(path).map_err(|source| Error::Io {
                path: path.to_owned(),
                source,
            })?;
            let mut options = column_family_options();
            options.create_if_missing(true);
            options.create_missing_column_families(true);
            let db = DB::open_cf_descriptors(&options, path, descriptors(COLUMN_FAMILIES))
                .map_err(open_error)?;
            let store = Store {
                db,
                path: path.to_owned(),
                read_only: false,
            };
            let meta = store.cf(CF_META)?;
            store.db.put_cf(
                meta,
                keys::FORMAT_VERSION_KEY,
                values::encode_format_version(FORMAT_VERSION),
            )?;
            store.db.flush_wal(true)?;
            return Ok(store);
        }
        let existing = existing_column_families(path)?;
        let options = column_family_options();
        let mut db = DB::open_cf_descriptors(
            &options,
            path,
            descriptors(existing.iter().map(String::as_str)),
        )
        .map_err(open_error)?;
        for name in ANALYSIS_COLUMN_FAMILIES {
            if !existing.iter().any(|e| e == name) {
                db.create_cf(name, &column_family_options())?;
            }
        }
        Store::checked(db, path, false)
    }

    /// Opens the store at `path` for queries only, without taking the writer's lock: works
    /// while another process (`dnsward run`) has it open with [`Store::open`]. Sees the store as
    /// it was when opened.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store, Error> {
        let path = path.as_ref();
        if !holds_database(path) {
            return Err(Error::NoStore {
                path: path.to_owned(),
            });
        }
        let existing = existing_column_families(path)?;
        let mut options = Options::default();
        // Keep every table open, so that files the writer's compactions delete while we read
        // stay readable.
        options.set_max_open_files(-1);
        let db = DB::open_cf_for_read_only(&options, path, &existing, false).map_err(|source| {
            Error::Open {
                path: path.to_owned(),
                source,
            }
        })?;
        Store::checked(db, path, true)
    }

    /// Checks the format version and the column families of a freshly opened database.
    fn checked(db: DB, path: &Path, read_only: bool) -> Result<Store, Error> {
        let store = Store {
            db,
            path: path.to_owned(),
            read_only,
        };
        let meta = store.cf(CF_META)?;
        let Some(bytes) = store.db.get_cf(meta, keys::FORMAT_VERSION_KEY)? else {
            return Err(Error::NotAStore {
                path: path.to_owned(),
                reason: "no format version recorded",
            });
        };
        let found = values::decode_format_version(&bytes)?;
        if found != FORMAT_VERSION {
            return Err(Error::IncompatibleFormat {
                path: path.to_owned(),
                found,
                supported: FORMAT_VERSION,
            });
        }
        for name in [CF_META, CF_PDNS, CF_RDATA_INDEX] {
            store.cf(name)?;
        }
        Ok(store)
    }

    /// The store directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this handle was opened with [`Store::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn cf(&self, name: &'static str) -> Result<&ColumnFamily, Error> {
        self.db.cf_handle(name).ok_or_else(|| Error::NotAStore {
            path: self.path.clone(),
            reason: match name {
                CF_META => "no meta column family",
                CF_PDNS => "no pdns column family",
                CF_RDATA_INDEX => "no rdata_index column family",
                CF_BASELINES => "no baselines column family",
                CF_WATCH => "no watch column family",
                CF_ALERTS => "no alerts column family",
                CF_RESOLVERS => "no resolvers column family",
                CF_DNSSEC => "no dnssec column family",
                _ => "no episodes column family",
            },
        })
    }

    /// Aggregates `tuples` and merges them into the store at once (the writer thread does the
    /// same once per flush interval). Tuples whose names cannot be stored are skipped; see
    /// [`writer::Aggregate::rejected`].
    pub fn write(&self, tuples: &[PdnsTuple]) -> Result<FlushStats, Error> {
        let mut aggregate = writer::Aggregate::default();
        for tuple in tuples {
            aggregate.add(tuple);
        }
        self.write_aggregate(&aggregate)
    }

    /// Merges aggregated records with what is on disk and writes them, with their reverse-index
    /// entries, in batches of at most [`MAX_BATCH_KEYS`] records.
    pub(crate) fn write_aggregate(
        &self,
        aggregate: &writer::Aggregate,
    ) -> Result<FlushStats, Error> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        let pdns = self.cf(CF_PDNS)?;
        let index = self.cf(CF_RDATA_INDEX)?;
        let mut stats = FlushStats::default();
        let entries: Vec<_> = aggregate.entries().collect();
        for chunk in entries.chunks(MAX_BATCH_KEYS) {
            let on_disk = self
                .db
                .multi_get_cf(chunk.iter().map(|(key, _)| (pdns, key.as_slice())));
            let mut batch = WriteBatch::default();
            for ((key, pending), stored) in chunk.iter().zip(on_disk) {
                let mut value = pending.value.clone();
                let write_index = match stored? {
                    None => true,
                    Some(bytes) => match PdnsValue::decode(&bytes) {
                        Ok(old) => {
                            value.merge(&old);
                            false
                        }
                        Err(_) => {
                            stats.corrupt_values_replaced += 1;
                            true
                        }
                    },
                };
                batch.put_cf(pdns, key, value.encode());
                stats.keys_written += 1;
                if let (true, Some(index_key)) = (write_index, &pending.index_key) {
                    batch.put_cf(index, index_key, b"");
                    stats.index_entries_written += 1;
                }
            }
            stats.bytes_written += batch.size_in_bytes() as u64;
            stats.batches += 1;
            self.db.write(batch)?;
        }
        Ok(stats)
    }

    /// Makes everything written so far durable (syncs the write-ahead log).
    pub fn sync(&self) -> Result<(), Error> {
        if self.read_only {
            return Ok(());
        }
        Ok(self.db.flush_wal(true)?)
    }

    /// Records whose owner matches `pattern` and that pass `filter`, sorted.
    ///
    /// An exact name with a type filter is one narrow prefix scan; a wildcard scans everything
    /// below the suffix. Damaged entries are reported in [`QueryOutcome::damaged`], not fatal.
    pub fn query_name(
        &self,
        pattern: &NamePattern,
        filter: &Filter,
    ) -> Result<QueryOutcome, Error> {
        filter.validate()?;
        let pdns = self.cf(CF_PDNS)?;
        let (prefix, wildcard) = match (pattern, filter.rrtype) {
            (NamePattern::Exact(name), Some(rrtype)) => {
                (keys::encode_owner_type_prefix(name, rrtype)?, false)
            }
            (NamePattern::Exact(name), None) => {
                let mut prefix = Vec::new();
                keys::encode_name(name, &mut prefix)?;
                (prefix, false)
            }
            (NamePattern::Wildcard(suffix), _) => {
                let mut prefix = Vec::new();
                keys::encode_subdomain_prefix(suffix, &mut prefix)?;
                (prefix, true)
            }
        };
        let mut outcome = QueryOutcome::default();
        let mode = IteratorMode::From(&prefix, Direction::Forward);
        for item in self.db.iterator_cf(pdns, mode) {
            let (key, value) = item?;
            if !key.starts_with(&prefix) {
                break;
            }
            if wildcard && !keys::is_strict_subdomain(&key, prefix.len()) {
                continue;
            }
            let pdns_key = match PdnsKey::decode(&key) {
                Ok(pdns_key) => pdns_key,
                Err(error) => {
                    outcome.damaged.push(Damaged {
                        key: key.to_vec(),
                        error,
                    });
                    continue;
                }
            };
            collect(pdns_key, &key, &value, filter, &mut outcome);
        }
        outcome
            .records
            .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        Ok(outcome)
    }

    /// Records whose rdata matches `query` (an address, a prefix, or a name inside rdata) and
    /// that pass `filter`, sorted. Damaged entries are reported, not fatal.
    pub fn query_rdata(&self, query: &RdataQuery, filter: &Filter) -> Result<QueryOutcome, Error> {
        filter.validate()?;
        let index = self.cf(CF_RDATA_INDEX)?;
        let mut outcome = QueryOutcome::default();
        // (index key, pdns key decoded) of every index hit that passes the type filter
        let mut hits: Vec<(Vec<u8>, PdnsKey)> = Vec::new();
        let mut note_hit =
            |index_key: &[u8], pdns_key: &[u8], outcome: &mut QueryOutcome| match PdnsKey::decode(
                pdns_key,
            ) {
                Ok(decoded) => {
                    if filter.rrtype.is_none_or(|rrtype| rrtype == decoded.rrtype) {
                        hits.push((index_key.to_vec(), decoded));
                    }
                }
                Err(error) => outcome.damaged.push(Damaged {
                    key: index_key.to_vec(),
                    error,
                }),
            };
        match query {
            RdataQuery::Ip(_) | RdataQuery::Cidr { .. } => {
                let Some((first, last)) = query.address_range() else {
                    return Ok(outcome);
                };
                let start = keys::encode_index_address_start(first);
                let mode = IteratorMode::From(&start, Direction::Forward);
                for item in self.db.iterator_cf(index, mode) {
                    let (key, _) = item?;
                    let (target, pdns_key) = match keys::decode_index_key(&key) {
                        Ok(decoded) => decoded,
                        Err(error) => {
                            outcome.damaged.push(Damaged {
                                key: key.to_vec(),
                                error,
                            });
                            continue;
                        }
                    };
                    let address = match target {
                        IndexTarget::V4(v4) => IpAddr::V4(v4),
                        IndexTarget::V6(v6) => IpAddr::V6(v6),
                        IndexTarget::Name(_) => break,
                    };
                    // IPv4 sorts before IPv6 both here and in the key layout.
                    if address > last {
                        break;
                    }
                    note_hit(&key, pdns_key, &mut outcome);
                }
            }
            RdataQuery::Name(pattern) => {
                let (prefix, wildcard) = match pattern {
                    NamePattern::Exact(name) => {
                        (keys::encode_index_name_prefix(name, false)?, false)
                    }
                    NamePattern::Wildcard(suffix) => {
                        (keys::encode_index_name_prefix(suffix, true)?, true)
                    }
                };
                let mode = IteratorMode::From(&prefix, Direction::Forward);
                for item in self.db.iterator_cf(index, mode) {
                    let (key, _) = item?;
                    if !key.starts_with(&prefix) {
                        break;
                    }
                    if wildcard && !keys::is_strict_subdomain(&key, prefix.len()) {
                        continue;
                    }
                    match keys::decode_index_key(&key) {
                        Ok((_, pdns_key)) => note_hit(&key, pdns_key, &mut outcome),
                        Err(error) => outcome.damaged.push(Damaged {
                            key: key.to_vec(),
                            error,
                        }),
                    }
                }
            }
        }
        self.fetch(hits, filter, &mut outcome)?;
        outcome
            .records
            .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        Ok(outcome)
    }

    /// Reads the `pdns` records the reverse index pointed at.
    fn fetch(
        &self,
        hits: Vec<(Vec<u8>, PdnsKey)>,
        filter: &Filter,
        outcome: &mut QueryOutcome,
    ) -> Result<(), Error> {
        let pdns = self.cf(CF_PDNS)?;
        let mut hits = hits.into_iter().peekable();
        while hits.peek().is_some() {
            let chunk: Vec<(Vec<u8>, PdnsKey)> = hits.by_ref().take(MAX_BATCH_KEYS).collect();
            let encoded: Vec<Vec<u8>> = chunk
                .iter()
                .map(|(_, pdns_key)| pdns_key.encode())
                .collect::<Result<_, _>>()?;
            let values = self
                .db
                .multi_get_cf(encoded.iter().map(|key| (pdns, key.as_slice())));
            for (((index_key, pdns_key), key), value) in chunk.into_iter().zip(&encoded).zip(values)
            {
                match value? {
                    Some(value) => collect(pdns_key, key, &value, filter, outcome),
                    None => outcome.damaged.push(Damaged {
                        key: index_key,
                        error: Error::DanglingIndexEntry,
                    }),
                }
            }
        }
        Ok(())
    }
}

/// Decodes one record's value and keeps it if it passes `filter`.
fn collect(
    pdns_key: PdnsKey,
    key: &[u8],
    value: &[u8],
    filter: &Filter,
    outcome: &mut QueryOutcome,
) {
    if filter
        .rrtype
        .is_some_and(|rrtype| rrtype != pdns_key.rrtype)
    {
        return;
    }
    let value = match PdnsValue::decode(value) {
        Ok(value) => value,
        Err(error) => {
            outcome.damaged.push(Damaged {
                key: key.to_vec(),
                error,
            });
            return;
        }
    };
    let record = PdnsRecord {
        rrname: pdns_key.rrname,
        rrtype: pdns_key.rrtype,
        rdata: pdns_key.rdata,
        section: pdns_key.section,
        bailiwick: pdns_key.bailiwick,
        time_first_ns: value.time_first_ns,
        time_last_ns: value.time_last_ns,
        count: value.count,
        sensors: value.sensors,
        sensors_dropped: value.sensors_dropped,
    };
    if filter.matches(record.rrtype, record.time_first(), record.time_last()) {
        outcome.records.push(record);
    }
}

/// The column families of the database at `path`, refusing one without `meta`.
fn existing_column_families(path: &Path) -> Result<Vec<String>, Error> {
    let existing = DB::list_cf(&Options::default(), path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    if !existing.iter().any(|name| name == CF_META) {
        return Err(Error::NotAStore {
            path: path.to_owned(),
            reason: "no meta column family",
        });
    }
    Ok(existing)
}

/// Refuses to create a store where something else already lives.
fn refuse_unless_empty(path: &Path) -> Result<(), Error> {
    let io_error = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    match std::fs::metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(io_error(error)),
        Ok(metadata) if !metadata.is_dir() => {
            return Err(Error::NotAStore {
                path: path.to_owned(),
                reason: "not a directory",
            })
        }
        Ok(_) => {}
    }
    let mut entries = std::fs::read_dir(path).map_err(io_error)?;
    if entries.next().is_some() {
        return Err(Error::NotAStore {
            path: path.to_owned(),
            reason: "directory is not empty and holds no database",
        });
    }
    Ok(())
}
