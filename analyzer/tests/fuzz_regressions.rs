//! Inputs found by (or while setting up) the `asn_table` and `analysis_json` fuzz targets in
//! `fuzz/`, one named test each. A test marked `#[ignore = "crash: ..."]` reproduces a problem
//! that still needs a fix in `analyzer/src`; run it with `cargo test --release -p
//! dnsward-analyzer --test fuzz_regressions -- --ignored`.
// Helpers outside `#[test]` functions are not covered by clippy.toml's allow-*-in-tests; in a test
// file a panic is a failed assertion, not a crash on input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use analyzer::asn::{AsnTableBuilder, TableFormat};
use analyzer::baseline::{Baseline, BaselineConfig, NS_PER_SEC};
use std::sync::mpsc;
use std::time::Duration;

/// How long a load of a few hundred bytes may take before it counts as a hang. A release build
/// needs well under a millisecond for these inputs once they are bounded.
const HANG: Duration = Duration::from_secs(10);

/// Runs `work` on its own thread and fails if it has not finished within [`HANG`] (the thread
/// is left behind: a test binary exits anyway).
fn finishes<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    match result.recv_timeout(HANG) {
        Ok(value) => value,
        Err(_) => panic!("{what} did not finish within {HANG:?}"),
    }
}

/// MaxMind DB data-section encoding (the subset a GeoLite2-ASN file uses).
mod mmdb {
    /// A control byte for `kind` (1 to 7) and a `size` below 285 (29 to 284 take one more
    /// byte), then the payload.
    fn head(kind: u8, size: usize) -> Vec<u8> {
        assert!(size < 285 && (1..=7).contains(&kind));
        if size < 29 {
            vec![(kind << 5) | size as u8]
        } else {
            vec![(kind << 5) | 29, (size - 29) as u8]
        }
    }

    /// An extended type (8 to 15): control byte with type 0, then `kind - 7`.
    fn extended(kind: u8, size: usize) -> Vec<u8> {
        assert!(size < 29 && (8..=15).contains(&kind));
        vec![size as u8, kind - 7]
    }

    fn minimal(value: u64) -> Vec<u8> {
        let bytes = value.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        bytes[skip..].to_vec()
    }

    pub fn string(text: &str) -> Vec<u8> {
        let mut out = head(2, text.len());
        out.extend_from_slice(text.as_bytes());
        out
    }

    pub fn uint16(value: u16) -> Vec<u8> {
        let payload = minimal(u64::from(value));
        let mut out = head(5, payload.len());
        out.extend(payload);
        out
    }

    pub fn uint32(value: u32) -> Vec<u8> {
        let payload = minimal(u64::from(value));
        let mut out = head(6, payload.len());
        out.extend(payload);
        out
    }

    pub fn uint64(value: u64) -> Vec<u8> {
        let payload = minimal(value);
        let mut out = extended(9, payload.len());
        out.extend(payload);
        out
    }

    pub fn map(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = head(7, entries.len());
        for (key, value) in entries {
            out.extend(string(key));
            out.extend_from_slice(value);
        }
        out
    }

    pub fn empty_array() -> Vec<u8> {
        extended(11, 0)
    }

    /// A whole database: `nodes` as (left, right) 24-bit records, a data section holding one
    /// GeoLite2-ASN record (AS64500 "FUZZ") at offset 0, and the metadata. A record value of
    /// `data_record()` points at the data record.
    pub fn database(ip_version: u16, nodes: &[(u32, u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (left, right) in nodes {
            out.extend_from_slice(&left.to_be_bytes()[1..]);
            out.extend_from_slice(&right.to_be_bytes()[1..]);
        }
        out.extend_from_slice(&[0; 16]);
        out.extend(map(&[
            ("autonomous_system_number", uint32(64500)),
            ("autonomous_system_organization", string("FUZZ")),
        ]));
        out.extend_from_slice(b"\xab\xcd\xefMaxMind.com");
        out.extend(map(&[
            ("binary_format_major_version", uint16(2)),
            ("binary_format_minor_version", uint16(0)),
            ("build_epoch", uint64(0)),
            ("database_type", string("GeoLite2-ASN")),
            ("description", map(&[])),
            ("ip_version", uint16(ip_version)),
            ("languages", empty_array()),
            ("node_count", uint32(nodes.len() as u32)),
            ("record_size", uint16(24)),
        ]));
        out
    }

    /// The record value that points at the data record of a database of `node_count` nodes.
    pub fn data_record(node_count: usize) -> u32 {
        node_count as u32 + 16
    }
}

/// Loads `bytes` as a MaxMind DB (explicitly and by detection) on a watchdog thread; returns
/// the pending ranges after each load (0 when the load failed).
fn load_mmdb(bytes: Vec<u8>) -> Vec<usize> {
    finishes("loading the MaxMind DB", move || {
        [Some(TableFormat::Mmdb), None]
            .into_iter()
            .map(|format| {
                let mut builder = AsnTableBuilder::new();
                let _ = builder.add_reader(bytes.as_slice(), format, "fuzz-input");
                builder.pending_ranges()
            })
            .collect()
    })
}

/// The hand-built database format is right: a one-node IPv4 tree whose left half (0.0.0.0/1)
/// holds the record and whose right half is empty loads as exactly one range.
#[test]
fn hand_built_mmdb_with_one_node_loads_one_range() {
    let data = mmdb::data_record(1);
    let bytes = mmdb::database(4, &[(data, 1)]);
    let mut builder = AsnTableBuilder::new();
    let report = builder
        .add_reader(bytes.as_slice(), None, "fuzz-input")
        .unwrap();
    assert_eq!((report.format, report.ranges), (TableFormat::Mmdb, 1));
    let table = builder.build();
    let info = table.lookup("127.0.0.1".parse().unwrap()).unwrap();
    assert_eq!((info.asn, &*info.org), (64500, "FUZZ"));
    assert!(table.lookup("128.0.0.1".parse().unwrap()).is_none());
}

/// A search tree whose node 0 points at itself on both sides. maxminddb's network iterator
/// reports "search tree appears to have a cycle" each time a path gets deeper than the address
/// length, but keeps iterating; `read_mmdb` skips the error (`LineError::BadRecord`) and asks
/// for the next network, so the walk visits 2^(bits+1) paths: for IPv6, 2^129. 268 bytes.
#[test]
fn mmdb_search_tree_cycle_does_not_hang() {
    let bytes = mmdb::database(6, &[(0, 0)]);
    let pending = load_mmdb(bytes);
    assert_eq!(pending, [0, 0]);
}

/// A search tree whose nodes share their subtrees: node k points at node k+1 on both sides, and
/// the last node at the data record. The tree has 33 nodes (`node_count` = 33, 198 bytes of
/// tree) but 2^33 paths, each one a network with data: `read_mmdb` pushes a range for every one
/// of them (about 2^33 ranges, hundreds of GiB) before `build` even starts. A real tree has at
/// most 2 * node_count networks.
#[test]
fn mmdb_search_tree_with_shared_subtrees_is_bounded_by_node_count() {
    let count = 33;
    let data = mmdb::data_record(count);
    let nodes: Vec<(u32, u32)> = (0..count)
        .map(|k| {
            if k + 1 == count {
                (data, data)
            } else {
                (k as u32 + 1, k as u32 + 1)
            }
        })
        .collect();
    let bytes = mmdb::database(6, &nodes);
    for pending in load_mmdb(bytes) {
        assert!(
            pending <= 2 * count,
            "{pending} ranges from a tree of {count} nodes"
        );
    }
}

/// The baseline seed of the `analysis_json` target (one line of `dnsward baseline export`,
/// shortened) decodes, merges into a fresh baseline and survives a round trip.
#[test]
fn exported_baseline_line_merges_into_a_fresh_baseline() {
    let line = br#"{"name":"gmail-smtp-in.l.google.com","type":"A","first_seen_ns":1767225766851185000,"last_seen_ns":1767931078453796000,"observations":1863,"rdata":{"142.250.153.26":{"first_ns":1767225834618358000,"last_ns":1767926685072416000,"count":328,"prefix":"142.250.153.0/24","asn":15169,"recent":[["10.0.0.53",1767926685072416000]]}},"prefixes":["142.250.153.0/24"],"asns":[15169],"max_auth_ttl":300,"max_ttl":300,"responders":{"10.0.0.53":{"authoritative":false,"first_ns":1767225766851185000,"last_ns":1767931078453796000,"count":620,"last_rdata":["142.250.153.26"],"last_ttl":300,"max_ttl":300}}}"#;
    let baseline: Baseline = serde_json::from_slice(line).unwrap();
    let config = BaselineConfig::default();
    let mut fresh = Baseline::new("a.example", "A", 0);
    fresh.merge(&baseline, &config);
    assert_eq!(fresh.observations, 1863);
    assert_eq!(fresh.rdata, baseline.rdata);
    assert!(!fresh.is_established(1, &config));
    assert!(fresh.is_established(7 * 86_400 * NS_PER_SEC, &config));
    let json = serde_json::to_vec(&baseline).unwrap();
    assert_eq!(serde_json::from_slice::<Baseline>(&json).unwrap(), baseline);
}
