//! Deterministic generator of realistic DNS captures, for dnsward's demo and benchmarks.
//!
//! [`generate`] writes a classic pcap file (microsecond timestamps, Ethernet link type) of
//! exactly [`GeneratorConfig::frames`] frames. The same seed and arguments always give the same
//! bytes: the only randomness is a seeded [`SplitMix64`], and no floating point is involved.
//!
//! The traffic is what a sensor next to a few recursive resolvers sees:
//!
//! - clients (IPv4 and IPv6, some behind 802.1Q or QinQ tags) query three resolvers, which
//!   answer from cache or first ask authoritative servers (upstream), sometimes after a referral
//!   from the .com servers;
//! - names come from a fixed population of about 3,000: mail providers and
//!   their MX hosts, banks, popular sites, CDN aliases with CNAME chains, reverse names, and
//!   names that do not exist (NXDOMAIN with the zone's SOA, including browsers' random probes);
//! - queries are mostly A, then AAAA, MX, TXT, PTR, NS and SOA; responses use name compression,
//!   EDNS (1232 or 4096, DO sometimes, DNS COOKIE sometimes) and realistic TTLs, counting down
//!   for cached answers;
//! - every 250th exchange is a truncated UDP answer retried over TCP (the response split over
//!   two segments), and every 400th carries an IPv4-fragmented UDP answer (a DNSKEY RRset or a
//!   large TXT RRset).
//!
//! [`scenario::write_scenario`] writes scenario captures instead: eight days of normal traffic at
//! three caching resolvers, then one attack (cache poisoning, registrar hijack) or one benign change
//! (CDN rotation, renumbering, MX move, retransmissions), with a truth of what changed and when.
//!
//! [`flood::write_flood`] writes a Kaminsky-style attack instead: one resolver's queries for random
//! names of one zone, each raced by a hundred forged responses with guessed transaction ids, over
//! a thin background of legitimate exchanges (the "bounded under attack" benchmark).
//!
//! [`signed::write_signed_capture`] signs small zones with BIND's `dnssec-signzone` and writes a
//! resolver's validating traffic with their answers, genuine and tampered with, for DNSSEC tests.
//!
//! ```
//! use dnsward_benches::{generate, GeneratorConfig};
//! let config = GeneratorConfig { frames: 500, seed: 7, ..GeneratorConfig::default() };
//! let mut capture = Vec::new();
//! let stats = generate(&config, &mut capture)?;
//! assert_eq!(stats.frames, 500);
//! assert_eq!(capture.get(..4), Some(&[0xd4, 0xc3, 0xb2, 0xa1][..]));
//! # Ok::<(), dnsward_benches::GenerateError>(())
//! ```
#![forbid(unsafe_code)]

pub mod dns;
pub mod flood;
pub mod pcap;
mod population;
pub mod rng;
pub mod scenario;
pub mod signed;
mod traffic;
pub mod wire;

use std::fmt;
use std::io::{self, Write};

pub use pcap::{PcapWriter, TimestampResolution};
pub use rng::SplitMix64;
pub use signed::{write_signed_capture, SignedCapture, SignedError};
pub use traffic::{GeneratorConfig, TrafficStats, DEFAULT_START_TIME_SECS};

/// Why a capture could not be generated.
#[derive(Debug)]
#[non_exhaustive]
pub enum GenerateError {
    /// Writing the output failed.
    Io(io::Error),
    /// A length did not fit its field (`what` names the field).
    TooLarge {
        /// The field or unit that overflowed.
        what: &'static str,
        /// The length that did not fit.
        len: usize,
    },
    /// A label was empty or longer than 63 bytes.
    BadLabel {
        /// Its length.
        len: usize,
    },
    /// A name was longer than 255 bytes encoded.
    NameTooLong {
        /// Its length as text.
        len: usize,
    },
    /// A conversation mixed IPv4 and IPv6 addresses.
    MixedAddressFamilies,
}

impl fmt::Display for GenerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenerateError::Io(error) => write!(f, "write failed: {error}"),
            GenerateError::TooLarge { what, len } => write!(f, "{what} too large: {len} bytes"),
            GenerateError::BadLabel { len } => write!(f, "bad label length {len}"),
            GenerateError::NameTooLong { len } => write!(f, "name too long: {len} bytes"),
            GenerateError::MixedAddressFamilies => write!(f, "mixed address families in one path"),
        }
    }
}

impl std::error::Error for GenerateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GenerateError::Io(error) => Some(error),
            _ => None,
        }
    }
}

impl From<io::Error> for GenerateError {
    fn from(error: io::Error) -> Self {
        GenerateError::Io(error)
    }
}

/// Writes a capture of `config.frames` frames to `out` and returns what it contains.
///
/// `out` is written in small pieces: wrap files in a `BufWriter`.
pub fn generate<W: Write>(config: &GeneratorConfig, out: W) -> Result<TrafficStats, GenerateError> {
    let mut writer = PcapWriter::new(out, TimestampResolution::Microseconds)?;
    let mut generator = traffic::Generator::new(config);
    generator.run(&mut writer)?;
    writer.into_inner()?;
    Ok(generator.stats)
}
