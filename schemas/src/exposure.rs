//! How exposed a resolver is to blind spoofing, as the sensor saw its queries:
//! [`ResolverExposure`] (stored by the analyzer, printed by `dnsward resolvers`).
//!
//! An off-path attacker must guess the source port and transaction id of an outstanding query
//! (and, against 0x20 and cookies, more). A resolver that sends its queries from a few ports, or
//! with predictable transaction ids, can be poisoned with a few thousand packets instead of
//! billions (Kaminsky 2008; SAD DNS 2020 recovers the port by a side channel).

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One querier's query habits over the capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolverExposure {
    /// The querier's address.
    pub resolver: IpAddr,
    /// Packet time of its first query seen, ns.
    pub first_ns: u64,
    /// Packet time of its last query seen, ns.
    pub last_ns: u64,
    /// Standard queries seen (port 53 and the other DNS ports).
    pub queries: u64,
    /// Of which with recursion desired off: a recursive resolver's iterative queries.
    pub iterative: u64,
    /// Distinct source ports, estimated (linear counting over 4,096 bits; exact when small).
    pub distinct_ports: u64,
    /// Distinct transaction ids, estimated likewise.
    pub distinct_txids: u64,
    /// Distinct values of the transaction id's high byte, of 256: sequential or small-range ids
    /// use a handful, random ones nearly `256 (1 - e^(-queries/256))` (exact; merges across
    /// workers, unlike a count of sequential ids).
    pub txid_high_bytes: u64,
    /// Queries whose name holds letters (0x20 can only vary those).
    pub with_letters: u64,
    /// Of which in mixed case (0x20 encoding in use).
    pub mixed_case: u64,
    /// Queries with an EDNS OPT record.
    pub edns: u64,
    /// Queries carrying a DNS cookie (RFC 7873).
    pub cookies: u64,
    /// Queries sent while an identical question to the same server was still outstanding
    /// (each one more chance for a birthday attack).
    pub concurrent_duplicates: u64,
}

impl ResolverExposure {
    /// Whether most of its queries are iterative (it is a recursive resolver, not a stub).
    pub fn is_iterative(&self) -> bool {
        self.queries > 0 && self.iterative.saturating_mul(2) >= self.queries
    }
}
