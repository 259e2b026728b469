//! dnsward sensor: from captured frames to DNS observations.
//!
//! The modules follow the pipeline:
//! [`capture`] (libpcap files and interfaces) → [`frame`] (link, IP, UDP/TCP) →
//! [`defrag`] (IP fragments) and [`tcp`] (DNS over TCP streams) → [`dns`] (a checked, lazy view of
//! a DNS message) → [`observe`] (owned [`schemas::Observation`]s) and [`aggregate`] (passive-DNS
//! tuples aggregated in memory). [`pipeline`] runs them on threads; [`stats`] counts everything.
//!
//! ```
//! use sensor::dns::{DnsHeader, RecordWalker, Entry};
//! // Hand-built: a query for "a." type A.
//! let msg = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1];
//! let header = DnsHeader::decode(&msg).unwrap();
//! assert_eq!(header.txid, 0x1234);
//! let entries: Vec<Entry> = RecordWalker::new(&msg).unwrap().collect();
//! assert_eq!(entries.len(), 1);
//! ```
#![forbid(unsafe_code)]

pub mod aggregate;
pub mod bailiwick;
pub mod capture;
pub mod defrag;
pub mod dns;
pub mod error;
pub mod exposure;
pub mod findings;
pub mod frame;
pub mod observe;
pub mod pairing;
pub mod pipeline;
pub mod responder;
pub mod stats;
pub mod tcp;

pub use error::Error;
