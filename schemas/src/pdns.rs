//! Aggregated passive-DNS facts handed from the sensor to the store: [`PdnsTuple`].

use serde::{Deserialize, Serialize};

/// The section a record was learnt from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    /// Answer section of a response.
    Answer,
    /// Authority section.
    Authority,
    /// Additional section.
    Additional,
}

impl Section {
    /// Stable one-byte code used in store keys.
    pub const fn code(self) -> u8 {
        match self {
            Section::Answer => 0,
            Section::Authority => 1,
            Section::Additional => 2,
        }
    }

    /// The section with this code.
    pub const fn from_code(code: u8) -> Option<Section> {
        match code {
            0 => Some(Section::Answer),
            1 => Some(Section::Authority),
            2 => Some(Section::Additional),
            _ => None,
        }
    }

    /// Lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            Section::Answer => "answer",
            Section::Authority => "authority",
            Section::Additional => "additional",
        }
    }
}

/// One (owner, type, rdata) fact with its aggregate over a flush interval.
///
/// Several tuples with the same key merge by min of `time_first_ns`, max of `time_last_ns`, sum of
/// `count` and union of sensors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PdnsTuple {
    /// Owner name, canonical (lower case, no trailing dot; the root is `.`).
    pub rrname: String,
    /// Record type code.
    pub rrtype: u16,
    /// Rdata in presentation format, names in canonical lower case.
    pub rdata: String,
    /// The section it was learnt from.
    pub section: Section,
    /// Bailiwick (canonical, no trailing dot). Answers: the question name they answer.
    /// Authority and additional records: the zone of the server that sent them, estimated from
    /// the message (the longest NS or SOA owner in the authority section enclosing the question
    /// name, else the question name's parent).
    pub bailiwick: String,
    /// First packet time seen, ns since the Unix epoch.
    pub time_first_ns: u64,
    /// Last packet time seen, ns since the Unix epoch.
    pub time_last_ns: u64,
    /// Number of times seen.
    pub count: u64,
    /// The sensor that saw it.
    pub sensor_id: String,
}
