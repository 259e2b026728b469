//! Passive DNS Common Output Format (draft-dulaunoy-dnsop-passive-dns-cof): [`CofRecord`].

use serde::{Deserialize, Serialize};

/// One passive-DNS record as `dnsward query --json` prints it, one JSON object per line.
///
/// Mandatory fields of the draft (section 2.1): `rrname`, `rrtype`, `rdata`, `time_first`,
/// `time_last`; optional fields used (section 2.2): `count`, `bailiwick`, `sensor_id`. Times are
/// seconds since the Unix epoch; `rrtype` is the mnemonic (`A`, `MX`, or `TYPE<N>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CofRecord {
    /// Owner name, no trailing dot.
    pub rrname: String,
    /// Record type mnemonic.
    pub rrtype: String,
    /// Rdata in presentation format.
    pub rdata: String,
    /// First time seen, seconds since the Unix epoch.
    pub time_first: u64,
    /// Last time seen, seconds since the Unix epoch.
    pub time_last: u64,
    /// Number of times seen.
    pub count: u64,
    /// Zone of the server that sent the record.
    pub bailiwick: String,
    /// The sensors that saw it (the draft's `sensor_id`, a list when several did).
    pub sensor_id: Vec<String>,
}
