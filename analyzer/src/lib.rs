//! dnsward's analyzer: the passive-DNS store and its queries, and the history-based detectors.
//!
//! * [`store::Store`]: the RocksDB store of every (owner, type, rdata) seen, with first and last
//!   seen, count and sensors; records from authority and additional sections kept apart from
//!   answers by section and bailiwick. [`store::Store::open`] for the one writer,
//!   [`store::Store::open_read_only`] for queries while it runs.
//! * [`store::writer::StoreWriter`]: the writer thread; aggregates `schemas::PdnsTuple`s from a
//!   channel in memory and flushes them as write batches once per interval and at end of input.
//! * [`query`]: name patterns (`www.example.com`, `*.example.com`), reverse lookups by rdata
//!   (`192.0.2.1`, `192.0.2.0/24`, `mx.example.com`), type and time filters, and the two output
//!   forms: a readable table ([`query::format_table`]) and Passive DNS Common Output Format lines
//!   ([`query::cof_line`]).
//! * [`asn::AsnTable`]: offline IP-to-AS tables (ip-location-db CSV, iptoasn, pfx2as, mmdb).
//! * [`watch::Watchlist`]: watched zones and names, configured, built in and learnt from MX/NS
//!   answers.
//! * [`baseline::Baseline`]: what a watched (name, type) normally looks like, learnt in packet
//!   time; kept in the store ([`store::analysis`]).
//! * [`detect::Analyzer`]: the divergence detectors and their episodes, producing
//!   `schemas::alert::Alert`s.
//! * [`runner::AnalysisThread`]: the analysis thread of `dnsward run`; [`sinks::AlertSinks`]:
//!   JSON lines to a rotated file and/or stdout.
//! * [`Error`]: the crate's one error type.
//!
//! On-disk encodings live in [`store::keys`] and [`store::values`]; the store records its
//! [`store::FORMAT_VERSION`] and refuses any other.
//!
//! ```
//! use analyzer::query::{cof_line, Filter, NamePattern};
//! use analyzer::store::writer::{StoreWriter, WriterConfig};
//! use analyzer::store::Store;
//! use schemas::{PdnsTuple, Section};
//! use std::sync::Arc;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = Arc::new(Store::open(dir.path().join("pdns"))?);
//! let (sender, receiver) = crossbeam_channel::unbounded();
//! let writer = StoreWriter::spawn(Arc::clone(&store), receiver, WriterConfig::default())?;
//! sender.send(vec![PdnsTuple {
//!     rrname: "www.example.com".into(),
//!     rrtype: 1,
//!     rdata: "192.0.2.1".into(),
//!     section: Section::Answer,
//!     bailiwick: "www.example.com".into(),
//!     time_first_ns: 1_700_000_000_000_000_000,
//!     time_last_ns: 1_700_000_060_000_000_000,
//!     count: 2,
//!     sensor_id: "sensor-1".into(),
//! }])?;
//! drop(sender); // end of input: the writer flushes everything and ends
//! let stats = writer.join()?;
//! assert_eq!(stats.tuples_received, 1);
//!
//! let found = store.query_name(&NamePattern::parse("*.example.com")?, &Filter::default())?;
//! assert_eq!(
//!     cof_line(&found.records[0].to_cof()),
//!     r#"{"rrname":"www.example.com","rrtype":"A","rdata":"192.0.2.1","time_first":1700000000,"time_last":1700000060,"count":2,"bailiwick":"www.example.com","sensor_id":["sensor-1"]}"#
//! );
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod asn;
pub mod baseline;
pub mod detect;
pub mod dnssec;
pub mod error;
pub mod query;
pub mod runner;
pub mod sinks;
pub mod store;
pub mod validate;
pub mod watch;

pub use error::Error;
