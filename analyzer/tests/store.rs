//! The passive-DNS store end to end, on real RocksDB databases in temporary directories.
// Helpers outside `#[test]` functions are not covered by clippy.toml's allow-*-in-tests; in a test
// file a panic is a failed assertion, not a crash on input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use analyzer::query::{cof_line, format_table, Filter, NamePattern, PdnsRecord, RdataQuery};
use analyzer::store::writer::{StoreWriter, WriterConfig};
use analyzer::store::{keys, values, Store, CF_META, CF_PDNS, COLUMN_FAMILIES, FORMAT_VERSION};
use analyzer::Error;
use schemas::{PdnsTuple, Section};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000;

const A: u16 = 1;
const NS: u16 = 2;
const CNAME: u16 = 5;
const MX: u16 = 15;
const AAAA: u16 = 28;
const SRV: u16 = 33;

/// One answer tuple seen once at `first`..`last` (seconds after T0) by `sensor`.
fn tuple(rrname: &str, rrtype: u16, rdata: &str, first: u64, last: u64, sensor: &str) -> PdnsTuple {
    PdnsTuple {
        rrname: rrname.into(),
        rrtype,
        rdata: rdata.into(),
        section: Section::Answer,
        bailiwick: rrname.into(),
        time_first_ns: (T0 + first) * SEC,
        time_last_ns: (T0 + last) * SEC,
        count: 1,
        sensor_id: sensor.into(),
    }
}

fn name(text: &str) -> NamePattern {
    NamePattern::parse(text).unwrap()
}

fn rdata(text: &str) -> RdataQuery {
    RdataQuery::parse(text).unwrap()
}

fn by_name(store: &Store, pattern: &str) -> Vec<PdnsRecord> {
    let outcome = store
        .query_name(&name(pattern), &Filter::default())
        .unwrap();
    assert!(outcome.damaged.is_empty(), "{:?}", outcome.damaged);
    outcome.records
}

fn by_rdata(store: &Store, query: &str) -> Vec<(String, String)> {
    let outcome = store
        .query_rdata(&rdata(query), &Filter::default())
        .unwrap();
    assert!(outcome.damaged.is_empty(), "{:?}", outcome.damaged);
    outcome
        .records
        .into_iter()
        .map(|r| (r.rrname, r.rdata))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// A store holding a small zone: addresses, mail, delegation, aliases.
fn sample_store(path: &Path) -> Store {
    let store = Store::open(path).unwrap();
    store
        .write(&[
            tuple("www.example.com", A, "192.0.2.1", 0, 10, "s1"),
            tuple("mail.example.com", A, "192.0.2.25", 0, 10, "s1"),
            tuple("other.example.net", A, "198.51.100.7", 0, 10, "s1"),
            tuple("edge.example.net", A, "192.0.3.1", 0, 10, "s1"),
            tuple("www.example.com", AAAA, "2001:db8::1", 0, 10, "s1"),
            tuple("v6.example.net", AAAA, "2001:db8:1::53", 0, 10, "s1"),
            tuple("far.example.org", AAAA, "2001:db9::1", 0, 10, "s1"),
            tuple("example.com", MX, "10 mx.example.com", 0, 10, "s1"),
            tuple("example.net", MX, "20 mx.example.com", 0, 10, "s1"),
            tuple("example.org", MX, "10 mx.example.org", 0, 10, "s1"),
            tuple("example.com", NS, "ns1.example.com", 0, 10, "s1"),
            tuple("alias.example.org", CNAME, "www.example.com", 0, 10, "s1"),
            tuple(
                "_sip._tcp.example.com",
                SRV,
                "0 5 5060 sip.example.com",
                0,
                10,
                "s1",
            ),
        ])
        .unwrap();
    store
}

#[test]
fn counts_and_first_last_seen_aggregate_across_several_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .write(&[
            tuple("www.example.com", A, "192.0.2.1", 100, 200, "s1"),
            tuple("www.example.com", A, "192.0.2.1", 150, 160, "s1"),
        ])
        .unwrap();
    store
        .write(&[tuple("www.example.com", A, "192.0.2.1", 50, 60, "s2")])
        .unwrap();
    store
        .write(&[tuple("www.example.com", A, "192.0.2.1", 300, 400, "s1")])
        .unwrap();
    let records = by_name(&store, "www.example.com");
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.count, 4);
    assert_eq!(r.time_first(), T0 + 50);
    assert_eq!(r.time_last(), T0 + 400);
    assert_eq!(r.sensors, vec!["s1", "s2"]);
}

#[test]
fn aggregates_continue_after_the_store_is_closed_and_reopened() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .write(&[tuple("www.example.com", A, "192.0.2.1", 100, 200, "s1")])
            .unwrap();
    }
    {
        let store = Store::open(dir.path()).unwrap();
        let records = by_name(&store, "www.example.com");
        assert_eq!(records.len(), 1, "the record survives a restart");
        assert_eq!(records[0].count, 1);
        store
            .write(&[tuple("www.example.com", A, "192.0.2.1", 10, 300, "s2")])
            .unwrap();
    }
    let store = Store::open_read_only(dir.path()).unwrap();
    let records = by_name(&store, "www.example.com");
    assert_eq!(records[0].count, 2);
    assert_eq!(records[0].time_first(), T0 + 10);
    assert_eq!(records[0].time_last(), T0 + 300);
    assert_eq!(records[0].sensors, vec!["s1", "s2"]);
    assert_eq!(
        by_rdata(&store, "192.0.2.1").len(),
        1,
        "index entry written once"
    );
}

#[test]
fn writer_thread_aggregates_in_memory_and_flushes_everything_when_input_closes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let (sender, receiver) = crossbeam_channel::unbounded();
    let config = WriterConfig {
        flush_interval: Duration::from_secs(3600),
        ..WriterConfig::default()
    };
    let writer = StoreWriter::spawn(Arc::clone(&store), receiver, config).unwrap();
    for i in 0..100 {
        sender
            .send(vec![
                tuple("www.example.com", A, "192.0.2.1", i, i + 1, "s1"),
                tuple("www.example.com", A, "192.0.2.2", i, i, "s1"),
            ])
            .unwrap();
    }
    drop(sender);
    let stats = writer.join().unwrap();
    assert_eq!(stats.tuples_received, 200);
    assert_eq!(stats.tuples_rejected, 0);
    assert_eq!(
        stats.unique_keys_written, 2,
        "writes grow with unique tuples"
    );
    assert_eq!(stats.index_entries_written, 2);
    assert_eq!(stats.flushes, 1);
    assert_eq!(stats.batches, 1);
    assert!(stats.bytes_written > 0);
    assert_eq!(stats.flush_latency_us.len(), 1);
    let records = by_name(&store, "www.example.com");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].count, 100);
    assert_eq!(records[0].time_first(), T0);
    assert_eq!(records[0].time_last(), T0 + 100);
}

#[test]
fn writer_thread_flushes_every_interval_and_merges_with_what_is_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let (sender, receiver) = crossbeam_channel::unbounded();
    let config = WriterConfig {
        flush_interval: Duration::from_millis(20),
        ..WriterConfig::default()
    };
    let writer = StoreWriter::spawn(Arc::clone(&store), receiver, config).unwrap();
    sender
        .send(vec![tuple(
            "www.example.com",
            A,
            "192.0.2.1",
            100,
            200,
            "s1",
        )])
        .unwrap();
    wait_until(|| by_name(&store, "www.example.com").len() == 1);
    sender
        .send(vec![tuple(
            "www.example.com",
            A,
            "192.0.2.1",
            50,
            150,
            "s2",
        )])
        .unwrap();
    drop(sender);
    let stats = writer.join().unwrap();
    assert!(stats.flushes >= 2, "{stats:?}");
    let records = by_name(&store, "www.example.com");
    assert_eq!(records[0].count, 2);
    assert_eq!(records[0].time_first(), T0 + 50);
    assert_eq!(records[0].time_last(), T0 + 200);
    assert_eq!(records[0].sensors, vec!["s1", "s2"]);
}

#[test]
fn writer_caps_pending_records_by_flushing_early() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let (sender, receiver) = crossbeam_channel::unbounded();
    let config = WriterConfig {
        flush_interval: Duration::from_secs(3600),
        max_pending_keys: 10,
    };
    let writer = StoreWriter::spawn(Arc::clone(&store), receiver, config).unwrap();
    for i in 0..25 {
        sender
            .send(vec![tuple(
                &format!("h{i}.example.com"),
                A,
                "192.0.2.1",
                0,
                0,
                "s1",
            )])
            .unwrap();
    }
    drop(sender);
    let stats = writer.join().unwrap();
    assert_eq!(stats.flushes, 3);
    assert_eq!(stats.unique_keys_written, 25);
    assert_eq!(by_name(&store, "*.example.com").len(), 25);
}

#[test]
fn writer_refuses_a_read_only_store() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let store = Arc::new(Store::open_read_only(dir.path()).unwrap());
    let (_sender, receiver) = crossbeam_channel::unbounded();
    assert!(matches!(
        StoreWriter::spawn(store, receiver, WriterConfig::default()),
        Err(Error::ReadOnly)
    ));
}

fn wait_until(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn exact_name_query_returns_only_that_owner_and_type_filter_narrows_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    let records = by_name(&store, "WWW.example.com.");
    let types: Vec<u16> = records.iter().map(|r| r.rrtype).collect();
    assert_eq!(types, vec![A, AAAA]);
    let only_aaaa = Filter {
        rrtype: Some(AAAA),
        ..Filter::default()
    };
    let records = store
        .query_name(&name("www.example.com"), &only_aaaa)
        .unwrap()
        .records;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].rdata, "2001:db8::1");
    assert!(by_name(&store, "example.co").is_empty());
}

#[test]
fn wildcard_query_returns_strict_subdomains_but_not_the_suffix_itself() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    let owners: Vec<String> = by_name(&store, "*.example.com")
        .into_iter()
        .map(|r| r.rrname)
        .collect();
    assert_eq!(
        owners,
        vec![
            "_sip._tcp.example.com",
            "mail.example.com",
            "www.example.com",
            "www.example.com"
        ]
    );
    let owners: Vec<String> = by_name(&store, "*.tcp.example.com")
        .into_iter()
        .map(|r| r.rrname)
        .collect();
    assert!(
        owners.is_empty(),
        "label boundaries are respected: {owners:?}"
    );
    assert_eq!(
        by_name(&store, "*.com").len(),
        6,
        "example.com itself is below com"
    );
    assert_eq!(by_name(&store, "*").len(), 13);
}

#[test]
fn rdata_query_by_ip_finds_owners_of_that_address() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    assert_eq!(
        by_rdata(&store, "192.0.2.1"),
        pairs(&[("www.example.com", "192.0.2.1")])
    );
    assert_eq!(
        by_rdata(&store, "2001:db8::1"),
        pairs(&[("www.example.com", "2001:db8::1")])
    );
    assert!(by_rdata(&store, "192.0.2.2").is_empty());
}

#[test]
fn rdata_query_by_ipv4_cidr_covers_exactly_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    assert_eq!(
        by_rdata(&store, "192.0.2.0/24"),
        pairs(&[
            ("mail.example.com", "192.0.2.25"),
            ("www.example.com", "192.0.2.1"),
        ])
    );
    assert_eq!(
        by_rdata(&store, "192.0.2.0/23"),
        pairs(&[
            ("edge.example.net", "192.0.3.1"),
            ("mail.example.com", "192.0.2.25"),
            ("www.example.com", "192.0.2.1"),
        ])
    );
    assert_eq!(
        by_rdata(&store, "192.0.2.24/31"),
        pairs(&[("mail.example.com", "192.0.2.25")])
    );
    assert_eq!(by_rdata(&store, "0.0.0.0/0").len(), 4, "IPv4 only, no AAAA");
}

#[test]
fn rdata_query_by_ipv6_cidr_covers_exactly_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    assert_eq!(
        by_rdata(&store, "2001:db8::/32"),
        pairs(&[
            ("v6.example.net", "2001:db8:1::53"),
            ("www.example.com", "2001:db8::1"),
        ])
    );
    assert_eq!(
        by_rdata(&store, "2001:db8:1::/48"),
        pairs(&[("v6.example.net", "2001:db8:1::53")])
    );
    assert_eq!(by_rdata(&store, "::/0").len(), 3, "IPv6 only, no A");
}

#[test]
fn rdata_query_by_name_finds_mx_ns_cname_and_srv_targets() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    assert_eq!(
        by_rdata(&store, "mx.example.com"),
        pairs(&[
            ("example.com", "10 mx.example.com"),
            ("example.net", "20 mx.example.com"),
        ])
    );
    assert_eq!(
        by_rdata(&store, "ns1.example.com"),
        pairs(&[("example.com", "ns1.example.com")])
    );
    assert_eq!(
        by_rdata(&store, "www.example.com"),
        pairs(&[("alias.example.org", "www.example.com")])
    );
    assert_eq!(
        by_rdata(&store, "sip.example.com"),
        pairs(&[("_sip._tcp.example.com", "0 5 5060 sip.example.com")])
    );
    let with_type = Filter {
        rrtype: Some(NS),
        ..Filter::default()
    };
    assert!(store
        .query_rdata(&rdata("mx.example.com"), &with_type)
        .unwrap()
        .records
        .is_empty());
}

#[test]
fn rdata_query_by_wildcard_name_finds_targets_below_the_suffix() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    let owners: Vec<String> = by_rdata(&store, "*.example.com")
        .into_iter()
        .map(|(owner, _)| owner)
        .collect();
    assert_eq!(
        owners,
        vec![
            "_sip._tcp.example.com",
            "alias.example.org",
            "example.com",
            "example.com",
            "example.net"
        ]
    );
}

/// One record seen from T0+100 to T0+200 (whole seconds), stored and queried with a window.
fn window_matches(since: Option<u64>, until: Option<u64>, strict: bool) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut seen = tuple("www.example.com", A, "192.0.2.1", 100, 200, "s1");
    seen.time_last_ns += SEC / 2; // 200.5 s is still second 200
    store.write(&[seen]).unwrap();
    let filter = Filter {
        rrtype: None,
        since: since.map(|s| T0 + s),
        until: until.map(|u| T0 + u),
        strict,
    };
    let by_owner = store.query_name(&name("www.example.com"), &filter).unwrap();
    let by_address = store.query_rdata(&rdata("192.0.2.1"), &filter).unwrap();
    assert_eq!(by_owner.records, by_address.records);
    by_owner.records.len() == 1
}

#[test]
fn overlap_window_selects_records_touching_it_with_inclusive_boundaries() {
    assert!(
        window_matches(Some(200), None, false),
        "last second equals since"
    );
    assert!(!window_matches(Some(201), None, false));
    assert!(
        window_matches(None, Some(100), false),
        "first second equals until"
    );
    assert!(!window_matches(None, Some(99), false));
    assert!(
        window_matches(Some(150), Some(160), false),
        "window inside the record"
    );
    assert!(window_matches(Some(0), Some(1000), false));
}

#[test]
fn strict_window_selects_records_wholly_inside_it_with_inclusive_boundaries() {
    assert!(
        window_matches(Some(100), Some(200), true),
        "exactly the record's span"
    );
    assert!(!window_matches(Some(101), Some(200), true));
    assert!(!window_matches(Some(100), Some(199), true));
    assert!(
        !window_matches(Some(150), Some(160), true),
        "window inside the record"
    );
    assert!(window_matches(Some(100), None, true));
    assert!(!window_matches(None, Some(199), true));
}

#[test]
fn reversed_time_window_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let filter = Filter {
        since: Some(10),
        until: Some(5),
        ..Filter::default()
    };
    assert!(matches!(
        store.query_name(&name("a"), &filter),
        Err(Error::InvalidTimeWindow {
            since: 10,
            until: 5
        })
    ));
}

#[test]
fn authority_and_additional_records_are_kept_apart_from_answers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let answer = tuple("ns1.example.com", A, "192.0.2.53", 0, 10, "s1");
    let glue = PdnsTuple {
        section: Section::Additional,
        bailiwick: "example.com".into(),
        ..answer.clone()
    };
    let delegation = PdnsTuple {
        rrname: "example.com".into(),
        rrtype: NS,
        rdata: "ns1.example.com".into(),
        section: Section::Authority,
        bailiwick: "com".into(),
        ..answer.clone()
    };
    store
        .write(&[answer, glue.clone(), glue, delegation])
        .unwrap();
    let records = by_name(&store, "ns1.example.com");
    let tags: Vec<(Section, &str, u64)> = records
        .iter()
        .map(|r| (r.section, r.bailiwick.as_str(), r.count))
        .collect();
    assert_eq!(
        tags,
        vec![
            (Section::Answer, "ns1.example.com", 1),
            (Section::Additional, "example.com", 2)
        ]
    );
    let cof: Vec<String> = records.iter().map(|r| r.to_cof().bailiwick).collect();
    assert_eq!(cof, vec!["ns1.example.com", "example.com"]);
    let table = format_table(&records);
    assert!(
        table.contains("answer") && table.contains("additional"),
        "{table}"
    );
    let delegations = store
        .query_rdata(&rdata("ns1.example.com"), &Filter::default())
        .unwrap()
        .records;
    assert_eq!(delegations.len(), 1);
    assert_eq!(delegations[0].section, Section::Authority);
}

#[test]
fn cof_output_is_one_json_object_per_record_exactly_as_the_draft_names_fields() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .write(&[
            tuple("example.com", MX, "10 mx.example.com", 0, 60, "sensor-b"),
            tuple("example.com", MX, "10 mx.example.com", 30, 90, "sensor-a"),
        ])
        .unwrap();
    let records = by_name(&store, "example.com");
    let lines: Vec<String> = records.iter().map(|r| cof_line(&r.to_cof())).collect();
    assert_eq!(
        lines,
        vec![
            r#"{"rrname":"example.com","rrtype":"MX","rdata":"10 mx.example.com","time_first":1700000000,"time_last":1700000090,"count":2,"bailiwick":"example.com","sensor_id":["sensor-a","sensor-b"]}"#
        ]
    );
}

#[test]
fn a_read_only_handle_reads_while_the_writer_holds_the_store_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let (sender, receiver) = crossbeam_channel::unbounded();
    let config = WriterConfig {
        flush_interval: Duration::from_millis(20),
        ..WriterConfig::default()
    };
    let writer = StoreWriter::spawn(Arc::clone(&store), receiver, config).unwrap();
    sender
        .send(vec![tuple("www.example.com", A, "192.0.2.1", 0, 10, "s1")])
        .unwrap();
    // A second writer is refused: RocksDB's lock is held.
    assert!(matches!(Store::open(dir.path()), Err(Error::Open { .. })));
    // A reader is not, and sees what has been flushed when it opens.
    wait_until(|| {
        let reader = Store::open_read_only(dir.path()).unwrap();
        !by_name(&reader, "www.example.com").is_empty()
    });
    let reader = Store::open_read_only(dir.path()).unwrap();
    assert_eq!(by_rdata(&reader, "192.0.2.0/24").len(), 1);
    assert!(!writer.is_finished(), "the writer is still running");
    drop(sender);
    writer.join().unwrap();
}

/// Opens the store's database directly, bypassing [`Store`], to damage it.
fn raw_db(path: &Path) -> rocksdb::DB {
    rocksdb::DB::open_cf(&rocksdb::Options::default(), path, COLUMN_FAMILIES).unwrap()
}

#[test]
fn a_store_with_another_format_version_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    {
        let db = raw_db(dir.path());
        let meta = db.cf_handle(CF_META).unwrap();
        db.put_cf(
            meta,
            keys::FORMAT_VERSION_KEY,
            values::encode_format_version(FORMAT_VERSION + 1),
        )
        .unwrap();
    }
    for result in [Store::open(dir.path()), Store::open_read_only(dir.path())] {
        let error = result.unwrap_err();
        assert!(
            matches!(
                error,
                Error::IncompatibleFormat {
                    found: 2,
                    supported: 1,
                    ..
                }
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("has on-disk format version 2, but this dnsward reads only version 1"),
            "{message}"
        );
    }
}

#[test]
fn paths_that_are_not_dnsward_stores_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    assert!(matches!(
        Store::open_read_only(&missing),
        Err(Error::NoStore { .. })
    ));
    let cluttered = dir.path().join("cluttered");
    std::fs::create_dir(&cluttered).unwrap();
    std::fs::write(cluttered.join("notes.txt"), "hello").unwrap();
    assert!(matches!(
        Store::open(&cluttered),
        Err(Error::NotAStore { .. })
    ));
    let other_db = dir.path().join("other-db");
    {
        let mut options = rocksdb::Options::default();
        options.create_if_missing(true);
        rocksdb::DB::open(&options, &other_db).unwrap();
    }
    for result in [Store::open(&other_db), Store::open_read_only(&other_db)] {
        let error = result.unwrap_err();
        assert!(matches!(error, Error::NotAStore { .. }), "{error:?}");
        assert!(error.to_string().contains("is not a dnsward store"));
    }
    let nested = dir.path().join("a/b/store");
    drop(Store::open(&nested).unwrap());
    assert!(Store::open_read_only(&nested).is_ok());
}

#[test]
fn a_corrupted_value_is_reported_as_a_typed_error_and_the_rest_still_read() {
    let dir = tempfile::tempdir().unwrap();
    drop(sample_store(dir.path()));
    let damaged_key = keys::encode_pdns_key(
        "www.example.com",
        A,
        "192.0.2.1",
        Section::Answer,
        "www.example.com",
    )
    .unwrap();
    {
        let db = raw_db(dir.path());
        let pdns = db.cf_handle(CF_PDNS).unwrap();
        let mut bytes = db.get_cf(pdns, &damaged_key).unwrap().unwrap();
        bytes[12] ^= 0x40;
        db.put_cf(pdns, &damaged_key, &bytes).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let outcome = store
        .query_name(&name("www.example.com"), &Filter::default())
        .unwrap();
    assert_eq!(outcome.records.len(), 1, "the AAAA record is still read");
    assert_eq!(outcome.damaged.len(), 1);
    assert_eq!(outcome.damaged[0].key, damaged_key);
    assert!(
        matches!(
            outcome.damaged[0].error,
            Error::ChecksumMismatch {
                what: "pdns value",
                ..
            }
        ),
        "{:?}",
        outcome.damaged[0].error
    );
    let via_index = store
        .query_rdata(&rdata("192.0.2.1"), &Filter::default())
        .unwrap();
    assert!(via_index.records.is_empty());
    assert!(matches!(
        via_index.damaged[0].error,
        Error::ChecksumMismatch { .. }
    ));

    // Garbage that is not even the right length is just as typed.
    {
        drop(store);
        let db = raw_db(dir.path());
        let pdns = db.cf_handle(CF_PDNS).unwrap();
        db.put_cf(pdns, &damaged_key, [1u8, 2, 3]).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let outcome = store
        .query_name(&name("www.example.com"), &Filter::default())
        .unwrap();
    assert_eq!(outcome.damaged.len(), 1);
    assert!(matches!(outcome.damaged[0].error, Error::Truncated { .. }));

    // The writer replaces a damaged value with the new aggregate instead of failing.
    let flushed = store
        .write(&[tuple("www.example.com", A, "192.0.2.1", 0, 1, "s9")])
        .unwrap();
    assert_eq!(flushed.corrupt_values_replaced, 1);
    let records = by_name(&store, "www.example.com");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].sensors, vec!["s9"]);
}

#[test]
fn a_damaged_format_version_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    {
        let db = raw_db(dir.path());
        let meta = db.cf_handle(CF_META).unwrap();
        db.put_cf(meta, keys::FORMAT_VERSION_KEY, b"\x01\x00")
            .unwrap();
    }
    assert!(matches!(
        Store::open_read_only(dir.path()),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn unstorable_names_are_skipped_and_counted_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let (sender, receiver) = crossbeam_channel::unbounded();
    let writer = StoreWriter::spawn(Arc::clone(&store), receiver, WriterConfig::default()).unwrap();
    sender
        .send(vec![
            tuple("bad..name", A, "192.0.2.1", 0, 0, "s1"),
            tuple("good.name", A, "192.0.2.1", 0, 0, "s1"),
        ])
        .unwrap();
    drop(sender);
    let stats = writer.join().unwrap();
    assert_eq!(stats.tuples_rejected, 1);
    assert_eq!(stats.unique_keys_written, 1);
    assert_eq!(by_rdata(&store, "192.0.2.1").len(), 1);
}
