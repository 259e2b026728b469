//! Bounded IPv4 and IPv6 fragment reassembly in packet time.
//!
//! Datagrams are keyed by (source, destination, protocol, identification). The table holds at
//! most [`DefragLimits::max_datagrams`] datagrams and [`DefragLimits::max_bytes`] buffered bytes;
//! a fragment that would exceed either is dropped and counted (new state never evicts old state,
//! so a flood cannot push out a legitimate datagram). Incomplete datagrams expire after
//! [`DefragLimits::timeout_ns`] of packet time.
//!
//! Overlapping fragments keep the bytes that arrived first; each overlap is counted, and overlaps
//! whose bytes differ are counted as inconsistent. Both travel with the reassembled datagram as
//! evidence (Herzberg-Shulman fragment poisoning replaces a later fragment).

use schemas::FragmentEvidence;
use std::collections::HashMap;
use std::net::IpAddr;

/// Largest reassembled datagram: the IP length fields are 16 bits (RFC 791, RFC 8200).
pub const MAX_DATAGRAM_LEN: usize = 65_535;
/// Most distinct byte ranges tracked per datagram before it is dropped.
pub const MAX_RANGES: usize = 256;

/// Reassembly bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefragLimits {
    /// Datagrams in flight (per worker).
    pub max_datagrams: usize,
    /// Buffered bytes across all datagrams (per worker).
    pub max_bytes: usize,
    /// Packet-time timeout of an incomplete datagram; RFC 791 suggests 15 s, Linux uses 30 s.
    pub timeout_ns: u64,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits {
            max_datagrams: 4096,
            max_bytes: 32 << 20,
            timeout_ns: 30_000_000_000,
        }
    }
}

/// Reassembly counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DefragStats {
    /// Fragments received.
    pub fragments: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Datagrams expired incomplete.
    pub expired: u64,
    /// Fragments dropped because the table or byte budget was full.
    pub dropped_full: u64,
    /// Fragments dropped as invalid (beyond 64 KiB, too many ranges, conflicting ends).
    pub dropped_invalid: u64,
    /// Overlapping fragments seen.
    pub overlaps: u64,
    /// Overlaps with differing bytes.
    pub inconsistent: u64,
}

impl DefragStats {
    /// Adds another table's counters into these.
    pub fn merge(&mut self, o: &DefragStats) {
        self.fragments += o.fragments;
        self.reassembled += o.reassembled;
        self.expired += o.expired;
        self.dropped_full += o.dropped_full;
        self.dropped_invalid += o.dropped_invalid;
        self.overlaps += o.overlaps;
        self.inconsistent += o.inconsistent;
    }
}

/// Identity of a datagram being reassembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragmentKey {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol.
    pub protocol: u8,
    /// Identification.
    pub id: u32,
}

#[derive(Debug)]
struct Pending {
    first_seen_ns: u64,
    data: Vec<u8>,
    /// Received byte ranges, sorted, merged when adjacent.
    ranges: Vec<(usize, usize)>,
    total_len: Option<usize>,
    evidence: FragmentEvidence,
    ttl: u8,
    /// IP TTL of the first fragment to arrive.
    first_ttl: u8,
    /// Whether fragments arrived with different IP TTLs.
    ttl_mismatch: bool,
}

/// A completed datagram.
#[derive(Debug)]
pub struct Reassembled {
    /// The transport header and payload.
    pub payload: Vec<u8>,
    /// Evidence on how it was put together.
    pub evidence: FragmentEvidence,
    /// IP TTL / hop limit of the first-offset fragment.
    pub ttl: u8,
    /// Whether the fragments arrived with different IP TTLs (hop limits): likely not all from
    /// one sender.
    pub ttl_mismatch: bool,
}

/// The reassembly table.
#[derive(Debug, Default)]
pub struct Defragmenter {
    limits: DefragLimits,
    table: HashMap<FragmentKey, Pending>,
    bytes: usize,
    last_sweep_ns: u64,
    stats: DefragStats,
}

impl Defragmenter {
    /// An empty table with these limits.
    pub fn new(limits: DefragLimits) -> Self {
        Defragmenter {
            limits,
            ..Default::default()
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> DefragStats {
        self.stats
    }

    /// Datagrams in flight.
    pub fn in_flight(&self) -> usize {
        self.table.len()
    }

    /// Adds a fragment; returns the datagram when it is complete.
    pub fn push(
        &mut self,
        now_ns: u64,
        key: FragmentKey,
        ttl: u8,
        offset: usize,
        more: bool,
        payload: &[u8],
    ) -> Option<Reassembled> {
        self.stats.fragments += 1;
        self.sweep(now_ns);
        let end = offset.checked_add(payload.len())?;
        if end > MAX_DATAGRAM_LEN {
            self.stats.dropped_invalid += 1;
            return None;
        }
        if !self.table.contains_key(&key) {
            if self.table.len() >= self.limits.max_datagrams {
                self.stats.dropped_full += 1;
                return None;
            }
            self.table.insert(
                key,
                Pending {
                    first_seen_ns: now_ns,
                    data: Vec::new(),
                    ranges: Vec::new(),
                    total_len: None,
                    evidence: FragmentEvidence {
                        count: 0,
                        overlaps: 0,
                        inconsistent: 0,
                    },
                    ttl,
                    first_ttl: ttl,
                    ttl_mismatch: false,
                },
            );
        }
        let pending = self.table.get_mut(&key)?;
        if pending.first_ttl != ttl {
            pending.ttl_mismatch = true;
        }
        let grow = end.saturating_sub(pending.data.len());
        if self.bytes + grow > self.limits.max_bytes {
            self.stats.dropped_full += 1;
            return None;
        }
        let bad_end = match (more, pending.total_len) {
            (false, Some(total)) => total != end,
            (false, None) => pending.ranges.last().is_some_and(|&(_, e)| e > end),
            (true, Some(total)) => end > total,
            (true, None) => false,
        };
        if bad_end || pending.ranges.len() >= MAX_RANGES {
            self.stats.dropped_invalid += 1;
            pending.evidence.inconsistent += 1;
            return None;
        }
        if !more {
            pending.total_len = Some(end);
        }
        if offset == 0 {
            pending.ttl = ttl;
        }
        pending.evidence.count += 1;
        if grow > 0 {
            pending.data.resize(end, 0);
            self.bytes += grow;
        }
        // Copy only the bytes not yet received; compare the overlapping ones.
        let mut overlapped = false;
        let mut differs = false;
        let mut cursor = offset;
        for &(s, e) in &pending.ranges {
            if e <= cursor || s >= end {
                continue;
            }
            overlapped = true;
            if s > cursor {
                copy(&mut pending.data, payload, offset, cursor, s);
            }
            let (o_start, o_end) = (cursor.max(s), end.min(e));
            let old = pending.data.get(o_start..o_end);
            let new = payload.get(o_start - offset..o_end - offset);
            if old != new {
                differs = true;
            }
            cursor = o_end.max(cursor);
        }
        if cursor < end {
            copy(&mut pending.data, payload, offset, cursor, end);
        }
        if overlapped {
            pending.evidence.overlaps += 1;
            self.stats.overlaps += 1;
        }
        if differs {
            pending.evidence.inconsistent += 1;
            self.stats.inconsistent += 1;
        }
        insert_range(&mut pending.ranges, offset, end);
        let complete = pending
            .total_len
            .is_some_and(|t| pending.ranges.as_slice() == [(0, t)]);
        if !complete {
            return None;
        }
        let done = self.table.remove(&key)?;
        self.bytes = self.bytes.saturating_sub(done.data.len());
        self.stats.reassembled += 1;
        Some(Reassembled {
            payload: done.data,
            evidence: done.evidence,
            ttl: done.ttl,
            ttl_mismatch: done.ttl_mismatch,
        })
    }

    /// Expires incomplete datagrams older than the timeout (at most one scan per second of
    /// packet time).
    pub fn sweep(&mut self, now_ns: u64) {
        if now_ns.saturating_sub(self.last_sweep_ns) < 1_000_000_000 {
            return;
        }
        self.last_sweep_ns = now_ns;
        let timeout = self.limits.timeout_ns;
        let mut freed = 0usize;
        let mut expired = 0u64;
        self.table.retain(|_, p| {
            let keep = now_ns.saturating_sub(p.first_seen_ns) < timeout;
            if !keep {
                freed += p.data.len();
                expired += 1;
            }
            keep
        });
        self.bytes = self.bytes.saturating_sub(freed);
        self.stats.expired += expired;
    }

    /// Drops every incomplete datagram (end of input), counting them as expired.
    pub fn finish(&mut self) {
        self.stats.expired += self.table.len() as u64;
        self.table.clear();
        self.bytes = 0;
    }
}

fn copy(data: &mut [u8], payload: &[u8], offset: usize, from: usize, to: usize) {
    if let (Some(dst), Some(src)) = (
        data.get_mut(from..to),
        payload.get(from - offset..to - offset),
    ) {
        dst.copy_from_slice(src);
    }
}

fn insert_range(ranges: &mut Vec<(usize, usize)>, start: usize, end: usize) {
    ranges.push((start, end));
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for &(s, e) in ranges.iter() {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    *ranges = merged;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FragmentKey {
        FragmentKey {
            src: "192.0.2.1".parse().unwrap(),
            dst: "192.0.2.2".parse().unwrap(),
            protocol: 17,
            id: 7,
        }
    }

    #[test]
    fn out_of_order_fragments_reassemble() {
        let mut d = Defragmenter::new(DefragLimits::default());
        assert!(d.push(1, key(), 60, 8, false, b"89abcdef").is_none());
        let done = d.push(2, key(), 61, 0, true, b"01234567").unwrap();
        assert_eq!(done.payload, b"0123456789abcdef");
        assert_eq!(
            done.evidence,
            FragmentEvidence {
                count: 2,
                overlaps: 0,
                inconsistent: 0
            }
        );
        assert_eq!(done.ttl, 61);
        // Hop counts differ: one sender would not do that.
        assert!(done.ttl_mismatch);
        assert_eq!(d.in_flight(), 0);
        assert!(d.push(3, key(), 60, 8, false, b"89abcdef").is_none());
        assert!(
            !d.push(4, key(), 60, 0, true, b"01234567")
                .unwrap()
                .ttl_mismatch
        );
    }

    #[test]
    fn overlap_keeps_first_bytes_and_records_inconsistency() {
        let mut d = Defragmenter::new(DefragLimits::default());
        d.push(1, key(), 60, 0, true, b"01234567");
        d.push(1, key(), 60, 0, true, b"XXXXXXXX");
        let done = d.push(1, key(), 60, 8, false, b"89").unwrap();
        assert_eq!(done.payload, b"0123456789");
        assert_eq!(
            done.evidence,
            FragmentEvidence {
                count: 3,
                overlaps: 1,
                inconsistent: 1
            }
        );
        assert_eq!(d.stats().inconsistent, 1);
    }

    #[test]
    fn table_is_bounded_and_expires_in_packet_time() {
        let limits = DefragLimits {
            max_datagrams: 2,
            max_bytes: 1 << 20,
            timeout_ns: 10,
        };
        let mut d = Defragmenter::new(limits);
        for id in 0..5 {
            d.push(0, FragmentKey { id, ..key() }, 60, 0, true, b"01234567");
        }
        assert_eq!(d.in_flight(), 2);
        assert_eq!(d.stats().dropped_full, 3);
        d.sweep(2_000_000_000);
        assert_eq!(d.in_flight(), 0);
        assert_eq!(d.stats().expired, 2);
    }

    #[test]
    fn fragments_beyond_64k_are_invalid() {
        let mut d = Defragmenter::new(DefragLimits::default());
        assert!(d.push(0, key(), 60, 65_530, true, b"0123456789").is_none());
        assert_eq!(d.stats().dropped_invalid, 1);
    }
}
