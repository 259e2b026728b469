//! The store's one writer: [`StoreWriter`], a thread that aggregates tuples in memory and
//! flushes them as RocksDB write batches.
//!
//! Tuples arrive as `Vec<PdnsTuple>` on a crossbeam channel. The writer merges tuples with the
//! same key in a hash map ([`Aggregate`]) and, once per flush interval (or sooner when
//! [`WriterConfig::max_pending_keys`] is reached), merges the map with what is on disk (min first
//! seen, max last seen, sum of counts, union of sensors) and writes it. Write volume therefore
//! grows with the number of distinct records per interval, not with packets.
//!
//! # Shutdown and crashes
//!
//! When every sender is dropped (end of input; the binary drops its sender on SIGINT and
//! SIGTERM), the writer flushes everything it holds, syncs the write-ahead log and ends;
//! [`StoreWriter::join`] returns its [`WriterStats`].
//!
//! A crash of the process loses what was aggregated since the last flush, at most one flush
//! interval of input (plus tuples still queued in the channel). Each batch is atomic: a record
//! and its index entry are written together or not at all. Batches go through RocksDB's
//! write-ahead log without an fsync, so a crash of the process loses nothing already flushed; a
//! crash of the operating system or a power loss can also lose the batches written since the
//! last sync (the log is synced when the writer ends).
//!
//! A flush that RocksDB refuses (disk full, I/O error) ends the writer with that error, which
//! [`StoreWriter::join`] returns; the senders then see a disconnected channel.

use super::keys::{self, IndexTarget};
use super::values::PdnsValue;
use super::{FlushStats, Store};
use crate::Error;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use hdrhistogram::Histogram;
use schemas::PdnsTuple;
use std::collections::hash_map::{Entry, HashMap};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often and how much the writer flushes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterConfig {
    /// Time between flushes (wall clock). A crash loses at most this much input.
    pub flush_interval: Duration,
    /// Flush early when this many distinct records are pending (bounds memory under a flood of
    /// distinct names).
    pub max_pending_keys: usize,
}

impl Default for WriterConfig {
    /// Five seconds, 500 000 pending records.
    fn default() -> Self {
        WriterConfig {
            flush_interval: Duration::from_secs(5),
            max_pending_keys: 500_000,
        }
    }
}

/// What the writer did over its life.
#[derive(Debug, Clone)]
pub struct WriterStats {
    /// Tuples received from the channel.
    pub tuples_received: u64,
    /// Tuples skipped because their owner name cannot be stored (empty labels, ...).
    pub tuples_rejected: u64,
    /// Records written, summed over flushes (a record flushed in two intervals counts twice).
    pub unique_keys_written: u64,
    /// Reverse-index entries written.
    pub index_entries_written: u64,
    /// Flushes that had something to write.
    pub flushes: u64,
    /// RocksDB write batches committed.
    pub batches: u64,
    /// Bytes of those batches.
    pub bytes_written: u64,
    /// Stored values that could not be decoded and were replaced by the new aggregate.
    pub corrupt_values_replaced: u64,
    /// Flush latency in microseconds, one sample per flush that wrote something.
    pub flush_latency_us: Histogram<u64>,
}

impl WriterStats {
    fn new() -> Result<WriterStats, Error> {
        Ok(WriterStats {
            tuples_received: 0,
            tuples_rejected: 0,
            unique_keys_written: 0,
            index_entries_written: 0,
            flushes: 0,
            batches: 0,
            bytes_written: 0,
            corrupt_values_replaced: 0,
            // 1 µs to 1 hour, 3 significant digits
            flush_latency_us: Histogram::new_with_bounds(1, 3_600_000_000, 3)?,
        })
    }

    fn add_flush(&mut self, flush: &FlushStats, latency: Duration) {
        self.unique_keys_written += flush.keys_written;
        self.index_entries_written += flush.index_entries_written;
        self.batches += flush.batches;
        self.bytes_written += flush.bytes_written;
        self.corrupt_values_replaced += flush.corrupt_values_replaced;
        self.flushes += 1;
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.flush_latency_us.saturating_record(micros.max(1));
    }
}

/// One pending record: its aggregate and the reverse-index key to write if it is new on disk.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) value: PdnsValue,
    pub(crate) index_key: Option<Vec<u8>>,
}

/// Tuples merged in memory by `pdns` key, waiting to be written.
#[derive(Debug, Default)]
pub struct Aggregate {
    entries: HashMap<Vec<u8>, Pending>,
    rejected: u64,
}

impl Aggregate {
    /// Merges one tuple in; a tuple whose names cannot be stored is counted in
    /// [`Aggregate::rejected`] and dropped.
    pub fn add(&mut self, tuple: &PdnsTuple) {
        let key = match keys::encode_pdns_key(
            &tuple.rrname,
            tuple.rrtype,
            &tuple.rdata,
            tuple.section,
            &tuple.bailiwick,
        ) {
            Ok(key) => key,
            Err(_) => {
                self.rejected += 1;
                return;
            }
        };
        match self.entries.entry(key) {
            Entry::Occupied(mut pending) => pending.get_mut().value.merge_tuple(tuple),
            Entry::Vacant(vacant) => {
                let index_key = IndexTarget::of_record(tuple.rrtype, &tuple.rdata)
                    .and_then(|target| keys::encode_index_key(&target, vacant.key()).ok());
                vacant.insert(Pending {
                    value: PdnsValue::from_tuple(tuple),
                    index_key,
                });
            }
        }
    }

    /// Distinct records pending.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Tuples dropped because their names cannot be stored.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = (&Vec<u8>, &Pending)> {
        self.entries.iter()
    }

    fn clear(&mut self) {
        self.entries.clear();
    }
}

/// The writer thread's handle.
#[derive(Debug)]
pub struct StoreWriter {
    handle: JoinHandle<Result<WriterStats, Error>>,
}

impl StoreWriter {
    /// Starts the writer thread on `store` (opened with [`Store::open`]), reading `input` until
    /// every sender is dropped.
    pub fn spawn(
        store: Arc<Store>,
        input: Receiver<Vec<PdnsTuple>>,
        config: WriterConfig,
    ) -> Result<StoreWriter, Error> {
        if store.is_read_only() {
            return Err(Error::ReadOnly);
        }
        let stats = WriterStats::new()?;
        let handle = std::thread::Builder::new()
            .name("pdns-store-writer".to_owned())
            .spawn(move || run(&store, &input, &config, stats))
            .map_err(Error::Spawn)?;
        Ok(StoreWriter { handle })
    }

    /// Whether the thread has ended (its input closed, or a write failed).
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Waits for the thread to flush everything and end; returns what it did.
    pub fn join(self) -> Result<WriterStats, Error> {
        self.handle.join().map_err(|_| Error::WriterPanicked)?
    }
}

fn run(
    store: &Store,
    input: &Receiver<Vec<PdnsTuple>>,
    config: &WriterConfig,
    mut stats: WriterStats,
) -> Result<WriterStats, Error> {
    let mut aggregate = Aggregate::default();
    let mut deadline = Instant::now() + config.flush_interval;
    loop {
        let timeout = deadline.saturating_duration_since(Instant::now());
        match input.recv_timeout(timeout) {
            Ok(tuples) => {
                stats.tuples_received += tuples.len() as u64;
                for tuple in &tuples {
                    aggregate.add(tuple);
                }
                if aggregate.len() >= config.max_pending_keys {
                    flush(store, &mut aggregate, &mut stats)?;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                flush(store, &mut aggregate, &mut stats)?;
                store.sync()?;
                return Ok(stats);
            }
        }
        let now = Instant::now();
        if now >= deadline {
            flush(store, &mut aggregate, &mut stats)?;
            deadline = now + config.flush_interval;
        }
    }
}

fn flush(store: &Store, aggregate: &mut Aggregate, stats: &mut WriterStats) -> Result<(), Error> {
    stats.tuples_rejected += aggregate.rejected;
    aggregate.rejected = 0;
    if aggregate.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let flushed = store.write_aggregate(aggregate)?;
    stats.add_flush(&flushed, started.elapsed());
    aggregate.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::Section;

    fn tuple(rrname: &str, sensor: &str, first: u64, last: u64) -> PdnsTuple {
        PdnsTuple {
            rrname: rrname.into(),
            rrtype: 1,
            rdata: "192.0.2.1".into(),
            section: Section::Answer,
            bailiwick: rrname.into(),
            time_first_ns: first,
            time_last_ns: last,
            count: 1,
            sensor_id: sensor.into(),
        }
    }

    #[test]
    fn aggregate_merges_tuples_with_the_same_key_in_memory() {
        let mut aggregate = Aggregate::default();
        aggregate.add(&tuple("a.example", "s1", 10, 20));
        aggregate.add(&tuple("a.example", "s2", 5, 15));
        aggregate.add(&tuple("b.example", "s1", 1, 1));
        assert_eq!(aggregate.len(), 2);
        let merged: Vec<_> = aggregate
            .entries()
            .map(|(_, pending)| pending.value.clone())
            .filter(|value| value.count == 2)
            .collect();
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].time_first_ns, 5);
        assert_eq!(merged[0].time_last_ns, 20);
        assert_eq!(merged[0].sensors, vec!["s1", "s2"]);
    }

    #[test]
    fn aggregate_rejects_unstorable_names_and_counts_them() {
        let mut aggregate = Aggregate::default();
        aggregate.add(&tuple("a..example", "s1", 1, 1));
        assert!(aggregate.is_empty());
        assert_eq!(aggregate.rejected(), 1);
    }

    #[test]
    fn aggregate_prepares_an_index_key_for_addresses() {
        let mut aggregate = Aggregate::default();
        aggregate.add(&tuple("a.example", "s1", 1, 1));
        let (key, pending) = aggregate.entries().next().unwrap();
        let index_key = pending.index_key.as_ref().unwrap();
        let (target, pointed) = keys::decode_index_key(index_key).unwrap();
        assert_eq!(target, IndexTarget::V4("192.0.2.1".parse().unwrap()));
        assert_eq!(pointed, key.as_slice());
    }
}
