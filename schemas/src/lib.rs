//! dnsward's event formats: the records that leave a process, as Rust types.
//!
//! * [`Observation`]: one DNS message seen on the wire, as the sensor decoded it. Observations are
//!   the contract between the sensor and everything downstream; `dnsward run --emit json` writes
//!   them as JSON lines, and `schemas/observation.schema.json` describes that format.
//! * [`Anomaly`]: the one closed list of everything a decoder can flag, each with a stable
//!   snake_case name and a fixed numeric code.
//! * [`PdnsTuple`]: one aggregated passive-DNS fact (owner, type, rdata, first/last seen, count),
//!   the unit the sensor hands to the passive-DNS store.
//! * [`alert::Alert`]: one divergence episode as the analyzer raises it, ECS-style field names;
//!   `schemas/alert.schema.json` describes its JSON form.
//! * [`cof::CofRecord`]: the Passive DNS Common Output Format that `dnsward query --json` prints.
//!
//! Every JSON line carries its record type and schema version. Adding a field is noted in the
//! schema file; renaming or removing one bumps [`OBSERVATION_SCHEMA_VERSION`].
//!
//! ```
//! use schemas::Anomaly;
//! assert_eq!(Anomaly::CompressionLoop.name(), "compression_loop");
//! assert_eq!(Anomaly::from_name("compression_loop"), Some(Anomaly::CompressionLoop));
//! ```
#![forbid(unsafe_code)]

pub mod alert;
pub mod anomaly;
pub mod cof;
pub mod exposure;
pub mod observation;
pub mod pdns;
pub mod rrtype;
pub mod time;

pub use anomaly::Anomaly;
pub use exposure::ResolverExposure;
pub use observation::{
    CaptureSource, ClientSubnet, DnsFlags, DnsName, Edns, EdnsOption, FragmentEvidence,
    Observation, PairingInfo, Question, Record, SectionCounts, Transport, WireFinding,
    OBSERVATION_SCHEMA_VERSION,
};
pub use pdns::{PdnsTuple, Section};
