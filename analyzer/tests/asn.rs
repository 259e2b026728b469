//! IP-to-AS tables: every loader on real files, the merge rule, and damaged input.
//!
//! Files used (see `tests/data/README.md` and `samples/ASN-SAMPLE.md` for where they came from):
//! `samples/asn-sample.csv` (real `@ip-location-db/asn` lines plus synthetic documentation
//! ranges), `tests/data/GeoLite2-ASN-Test.mmdb` (MaxMind's test database), and two hand-built
//! excerpts in the iptoasn.com and CAIDA pfx2as formats.
// Helpers outside `#[test]` functions are not covered by clippy.toml's allow-*-in-tests; in a test
// file a panic is a failed assertion, not a crash on input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use analyzer::asn::{AsnError, AsnTable, AsnTableBuilder, LineError, TableFormat};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/asn-sample.csv")
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// `(asn, org)` for `address`, or `None`.
fn who(table: &AsnTable, address: &str) -> Option<(u32, String)> {
    table
        .lookup(ip(address))
        .map(|info| (info.asn, info.org.to_string()))
}

fn asn(table: &AsnTable, address: &str) -> Option<u32> {
    let found = table.lookup(ip(address)).map(|info| info.asn);
    assert_eq!(
        found,
        table.lookup_asn(ip(address)),
        "lookup_asn disagrees for {address}"
    );
    found
}

fn write(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn shipped_sample_loads_without_a_skipped_line() {
    let (table, report) = AsnTable::load(sample()).unwrap();
    assert_eq!(report.format, TableFormat::IpLocationDbCsv);
    assert!(!report.gzip);
    assert_eq!(report.lines, 1058);
    assert_eq!(report.ranges, 1058);
    assert_eq!(report.skipped_lines, 0);
    assert_eq!(report.not_routed, 0);
    assert_eq!(report.first_skipped, None);
    // Adjacent lines with the same AS and organisation are joined.
    assert!(table.len() <= 1058 && table.len() > 900, "{}", table.len());
    assert_eq!(table.len(), table.len_v4() + table.len_v6());
    assert!(!table.is_empty());
}

#[test]
fn shipped_sample_gives_the_real_as_of_well_known_networks() {
    let (table, _) = AsnTable::load(sample()).unwrap();
    let google = Some((15169, "Google LLC".to_owned()));
    for address in [
        "8.8.8.8",
        "74.125.0.0",
        "74.125.255.255",
        "142.250.0.1",
        "142.251.255.255",
        "172.217.0.1",
        "209.85.128.1",
        "216.239.32.10",
        "2001:4860:4860::8888",
        "2a00:1450:4001::1",
        "2607:f8b0:4004::1",
    ] {
        assert_eq!(who(&table, address), google, "{address}");
    }
    // The real data splits some Google blocks between Google's ASes.
    assert_eq!(asn(&table, "172.217.56.1"), Some(396982));
    assert_eq!(
        who(&table, "216.239.60.1"),
        Some((43515, "Google Ireland Limited".to_owned()))
    );

    let microsoft = Some((8075, "Microsoft Corporation".to_owned()));
    for address in ["40.92.0.1", "52.96.0.1", "104.47.0.1", "2a01:111::1"] {
        assert_eq!(who(&table, address), microsoft, "{address}");
    }

    let oath = "Oath Holdings Inc.".to_owned();
    assert_eq!(who(&table, "67.195.0.1"), Some((36647, oath.clone())));
    assert_eq!(who(&table, "98.136.103.1"), Some((36647, oath.clone())));
    assert_eq!(who(&table, "98.136.96.1"), Some((36646, oath.clone())));
    assert_eq!(who(&table, "2001:4998::1"), Some((10310, oath)));

    assert_eq!(
        who(&table, "23.32.0.1"),
        Some((20940, "Akamai International B.V.".to_owned()))
    );
    assert_eq!(
        who(&table, "23.32.2.1"),
        Some((35994, "Akamai Technologies, Inc.".to_owned()))
    );

    let verisign = "VeriSign Global Registry Services".to_owned();
    assert_eq!(who(&table, "198.41.0.4"), Some((397203, verisign.clone())));
    assert_eq!(who(&table, "192.5.6.30"), Some((396605, verisign)));
    assert_eq!(
        who(&table, "193.0.14.129"),
        Some((
            25152,
            "Reseaux IP Europeens Network Coordination Centre (RIPE NCC)".to_owned()
        ))
    );
}

#[test]
fn shipped_sample_has_the_synthetic_documentation_networks() {
    let (table, _) = AsnTable::load(sample()).unwrap();
    let cases = [
        ("198.51.100.0", 64500, "EXAMPLEBANK-AS"),
        ("198.51.100.255", 64500, "EXAMPLEBANK-AS"),
        ("203.0.113.7", 64511, "BULLETPROOF-HOSTING-EXAMPLE"),
        ("192.0.2.53", 64505, "HIJACK-HOSTING-EXAMPLE"),
        ("2001:db8::1", 64510, "DOCUMENTATION-V6-EXAMPLE"),
        (
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
            64510,
            "DOCUMENTATION-V6-EXAMPLE",
        ),
    ];
    for (address, number, org) in cases {
        assert_eq!(
            who(&table, address),
            Some((number, org.to_owned())),
            "{address}"
        );
    }
    for outside in [
        "198.51.101.0",
        "198.51.99.255",
        "192.0.3.0",
        "2001:db9::",
        "10.0.0.1",
    ] {
        assert_eq!(who(&table, outside), None, "{outside}");
    }
}

#[test]
fn range_boundaries_are_inclusive_and_one_past_the_end_is_outside() {
    let (table, _) = AsnTable::load(sample()).unwrap();
    // 74.125.0.0,74.125.255.255,15169,Google LLC, with nothing on either side in the sample.
    assert_eq!(asn(&table, "74.124.255.255"), None);
    assert_eq!(asn(&table, "74.125.0.0"), Some(15169));
    assert_eq!(asn(&table, "74.125.255.255"), Some(15169));
    assert_eq!(asn(&table, "74.126.0.0"), None);
    let info = table.lookup(ip("74.125.10.10")).unwrap();
    assert_eq!(info.range_start, ip("74.125.0.0"));
    assert_eq!(info.range_end, ip("74.125.255.255"));
    // 2a00:1450::/32, alone in the sample.
    assert_eq!(asn(&table, "2a00:144f:ffff:ffff:ffff:ffff:ffff:ffff"), None);
    assert_eq!(asn(&table, "2a00:1450::"), Some(15169));
    assert_eq!(
        asn(&table, "2a00:1450:ffff:ffff:ffff:ffff:ffff:ffff"),
        Some(15169)
    );
    assert_eq!(asn(&table, "2a00:1451::"), None);
}

#[test]
fn ipv4_mapped_ipv6_is_looked_up_as_ipv4() {
    let (table, _) = AsnTable::load(sample()).unwrap();
    assert_eq!(asn(&table, "::ffff:8.8.8.8"), Some(15169));
    assert_eq!(asn(&table, "::ffff:198.51.100.1"), Some(64500));
    assert_eq!(asn(&table, "::ffff:10.0.0.1"), None);
    let info = table.lookup(ip("::ffff:74.125.1.1")).unwrap();
    assert_eq!(info.range_start, ip("74.125.0.0"));
    // IPv4-compatible (::a.b.c.d, deprecated) is not IPv4-mapped: it stays IPv6.
    assert_eq!(asn(&table, "::8.8.8.8"), None);
}

#[test]
fn csv_quoting_commas_and_doubled_quotes() {
    let dir = tempfile::tempdir().unwrap();
    // The first four lines are verbatim from @ip-location-db/asn 2.3.2026061719 asn-ipv4.csv.
    let csv = concat!(
        "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n",
        "2.26.200.0,2.26.215.255,201907,\"LLC \"\"SPUTNIK\"\"\"\n",
        "2.56.170.0,2.56.170.255,213300,\"accompio SmarTec GmbH\"\"\"\n",
        "2.57.132.0,2.57.135.255,201893,\"Pawel Walczuk trading as \"\"BLUE-DOT\"\" S.C.\"\n",
        "9.9.9.0,9.9.9.255,19281,\r\n",
    );
    let path = write(dir.path(), "asn-ipv4.csv", csv.as_bytes());
    let (table, report) = AsnTable::load(&path).unwrap();
    assert_eq!((report.ranges, report.skipped_lines), (5, 0));
    assert_eq!(
        who(&table, "1.0.0.1"),
        Some((13335, "Cloudflare, Inc.".to_owned()))
    );
    assert_eq!(
        who(&table, "2.26.200.1"),
        Some((201907, "LLC \"SPUTNIK\"".to_owned()))
    );
    assert_eq!(
        who(&table, "2.56.170.1"),
        Some((213300, "accompio SmarTec GmbH\"".to_owned()))
    );
    assert_eq!(
        who(&table, "2.57.133.0"),
        Some((
            201893,
            "Pawel Walczuk trading as \"BLUE-DOT\" S.C.".to_owned()
        ))
    );
    // Empty organisation, CRLF line end.
    assert_eq!(who(&table, "9.9.9.9"), Some((19281, String::new())));
}

#[test]
fn overlapping_and_unsorted_input_narrower_range_wins_within_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let csv = concat!(
        "10.0.2.0,10.0.2.255,65003,C\n",
        "10.0.0.0,10.0.255.255,65001,WIDE\n", // covers the others
        "10.0.1.0,10.0.1.255,65002,B\n",
        "10.0.1.128,10.0.1.191,65004,D\n", // inside B
    );
    let path = write(dir.path(), "overlap.csv", csv.as_bytes());
    let (table, report) = AsnTable::load(&path).unwrap();
    assert_eq!(report.ranges, 4);
    let expect = [
        ("9.255.255.255", None),
        ("10.0.0.0", Some(65001)),
        ("10.0.0.255", Some(65001)),
        ("10.0.1.0", Some(65002)),
        ("10.0.1.127", Some(65002)),
        ("10.0.1.128", Some(65004)),
        ("10.0.1.191", Some(65004)),
        ("10.0.1.192", Some(65002)),
        ("10.0.1.255", Some(65002)),
        ("10.0.2.0", Some(65003)),
        ("10.0.2.255", Some(65003)),
        ("10.0.3.0", Some(65001)),
        ("10.0.255.255", Some(65001)),
        ("10.1.0.0", None),
    ];
    for (address, expected) in expect {
        assert_eq!(asn(&table, address), expected, "{address}");
    }
    // WIDE is split around the narrower ranges: 10.0.0/24, B, D, B, C, WIDE rest.
    assert_eq!(table.len_v4(), 6);
    let rest = table.lookup(ip("10.0.200.1")).unwrap();
    assert_eq!(
        (rest.range_start, rest.range_end),
        (ip("10.0.3.0"), ip("10.0.255.255"))
    );
}

#[test]
fn later_files_win_on_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let public = write(
        dir.path(),
        "public.csv",
        b"192.0.2.0,192.0.2.255,64505,PUBLIC\n198.51.100.0,198.51.100.255,64500,PUBLIC-B\n",
    );
    // A wider range in a later file still wins over the earlier file's narrower one.
    let local = write(
        dir.path(),
        "local.csv",
        b"192.0.0.0,192.0.3.255,64496,LOCAL\n",
    );
    let (table, reports) = AsnTable::load_all(&[&public, &local]).unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(who(&table, "192.0.2.1"), Some((64496, "LOCAL".to_owned())));
    assert_eq!(who(&table, "192.0.0.0"), Some((64496, "LOCAL".to_owned())));
    assert_eq!(
        who(&table, "198.51.100.1"),
        Some((64500, "PUBLIC-B".to_owned()))
    );
    // The other order: the public table wins where it has data.
    let (table, _) = AsnTable::load_all(&[&local, &public]).unwrap();
    assert_eq!(asn(&table, "192.0.2.1"), Some(64505));
    assert_eq!(asn(&table, "192.0.1.255"), Some(64496));
    assert_eq!(asn(&table, "192.0.3.0"), Some(64496));
}

#[test]
fn merging_the_shipped_sample_with_mmdb_and_tsv_answers_from_each() {
    let paths = [
        sample(),
        data("GeoLite2-ASN-Test.mmdb"),
        data("ip2asn-combined-excerpt.tsv"),
    ];
    let (table, reports) = AsnTable::load_all(&paths).unwrap();
    let formats: Vec<TableFormat> = reports.iter().map(|report| report.format).collect();
    assert_eq!(
        formats,
        [
            TableFormat::IpLocationDbCsv,
            TableFormat::Mmdb,
            TableFormat::IptoasnTsv
        ]
    );
    assert_eq!(who(&table, "8.8.8.8"), Some((15169, "GOOGLE".to_owned()))); // the TSV, last
    assert_eq!(asn(&table, "1.128.0.1"), Some(1221)); // only in the mmdb
    assert_eq!(asn(&table, "198.41.0.4"), Some(397203)); // only in the sample
}

#[test]
fn malformed_lines_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let long_org = "x".repeat(10_000);
    let csv = format!(
        "# comment\n\
         \n\
         8.8.8.0,8.8.8.255,15169,Google LLC\n\
         not-an-address,8.8.9.255,15169,Bad start\n\
         8.8.9.0,8.8.9.x,15169,Bad end\n\
         8.8.10.0,8.8.10.255,AS-what,Bad ASN\n\
         8.8.11.0,8.8.11.255,99999999999,ASN too big\n\
         8.8.12.255,8.8.12.0,15169,Backwards\n\
         8.8.13.0,2001:db8::,15169,Mixed\n\
         8.8.14.0,8.8.14.255,15169,\"unterminated\n\
         8.8.15.0,8.8.15.255,15169,\"quoted\"trailing\n\
         8.8.16.0,8.8.16.255\n\
         8.8.17.0,8.8.17.255,15169,{long_org}\n\
         8.8.18.0,8.8.18.255,AS15169,Prefixed ASN\n\
         \u{0}\u{1}\u{2}garbage\n\
         8.8.19.0,8.8.19.255,15169,Last"
    );
    let path = write(dir.path(), "messy.csv", csv.as_bytes());
    let (table, report) = AsnTable::load(&path).unwrap();
    assert_eq!(report.format, TableFormat::IpLocationDbCsv);
    assert_eq!(report.lines, 16);
    assert_eq!(report.ranges, 3);
    assert_eq!(report.skipped_lines, 11);
    let first = report.first_skipped.unwrap();
    assert_eq!((first.line, first.reason), (4, LineError::BadStartAddress));
    assert_eq!(asn(&table, "8.8.8.8"), Some(15169));
    assert_eq!(asn(&table, "8.8.18.1"), Some(15169));
    assert_eq!(asn(&table, "8.8.19.255"), Some(15169)); // no newline at end of file
    assert_eq!(asn(&table, "8.8.17.1"), None); // line too long
    assert_eq!(asn(&table, "8.8.12.100"), None);
}

#[test]
fn each_kind_of_bad_line_has_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, LineError); 9] = [
        ("x,8.8.8.255,1,o", LineError::BadStartAddress),
        ("8.8.8.0,x,1,o", LineError::BadEndAddress),
        ("8.8.8.0,8.8.8.255,x,o", LineError::BadAsn),
        ("8.8.8.255,8.8.8.0,1,o", LineError::StartAfterEnd),
        ("8.8.8.0,::1,1,o", LineError::MixedFamilies),
        ("8.8.8.0,8.8.8.255,1,\"o", LineError::UnterminatedQuote),
        ("8.8.8.0,8.8.8.255,1,\"o\"x", LineError::TextAfterQuote),
        ("8.8.8.0,8.8.8.255,1", LineError::MissingField),
        ("8.8.8.0,8.8.8.255,1.2.3,o", LineError::BadAsn),
    ];
    for (line, reason) in cases {
        // A good line first, so the file is detected and loads.
        let contents = format!("1.1.1.0,1.1.1.255,13335,ok\n{line}\n");
        let path = write(dir.path(), "one-bad-line.csv", contents.as_bytes());
        let (_, report) = AsnTable::load(&path).unwrap();
        let first = report.first_skipped.unwrap();
        assert_eq!((first.line, first.reason), (2, reason), "{line}");
    }
}

#[test]
fn a_file_with_nothing_usable_is_an_error_naming_the_file_and_first_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "broken.csv",
        b"1.0.0.0,1.0.0.255,0,Not routed\n1.0.1.0,1.0.1.x,5,o\n",
    );
    let error = AsnTable::load(&path).unwrap_err();
    match &error {
        AsnError::NothingParsed {
            path: reported,
            format,
            lines,
            skipped_lines,
            not_routed,
            first_skipped,
        } => {
            assert_eq!(reported, &path);
            assert_eq!(*format, TableFormat::IpLocationDbCsv);
            assert_eq!((*lines, *skipped_lines, *not_routed), (2, 1, 1));
            let first = first_skipped.unwrap();
            assert_eq!((first.line, first.reason), (2, LineError::BadEndAddress));
        }
        other => panic!("unexpected error {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("broken.csv"), "{message}");
    assert!(message.contains("line 2"), "{message}");
}

#[test]
fn unreadable_and_unrecognisable_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.csv");
    assert!(matches!(AsnTable::load(&missing), Err(AsnError::Io { .. })));
    let empty = write(dir.path(), "empty.csv", b"");
    assert!(matches!(
        AsnTable::load(&empty),
        Err(AsnError::UnknownFormat { .. })
    ));
    let html = write(
        dir.path(),
        "asn.csv",
        b"<html><body>429 Too Many Requests</body></html>\n",
    );
    assert!(matches!(
        AsnTable::load(&html),
        Err(AsnError::UnknownFormat { .. })
    ));
    // Forced format, wrong content: nothing parsed.
    let mut builder = AsnTableBuilder::new();
    let error = builder
        .add_file(&html, Some(TableFormat::IptoasnTsv))
        .unwrap_err();
    assert!(matches!(
        error,
        AsnError::NothingParsed {
            lines: 1,
            skipped_lines: 1,
            ..
        }
    ));
    // Binary garbage is taken for a MaxMind DB, which the reader refuses.
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let garbage = write(dir.path(), "garbage.bin", &garbage);
    assert!(matches!(
        AsnTable::load(&garbage),
        Err(AsnError::Mmdb { .. })
    ));
    // A truncated MaxMind DB.
    let mmdb = std::fs::read(data("GeoLite2-ASN-Test.mmdb")).unwrap();
    for cut in [0, 1, 100, mmdb.len() / 2, mmdb.len() - 20] {
        let truncated = write(dir.path(), "truncated.mmdb", &mmdb[..cut]);
        assert!(AsnTable::load(&truncated).is_err(), "cut at {cut}");
    }
    // A damaged gzip stream.
    let mut gz = gzip(std::fs::read(sample()).unwrap().as_slice());
    gz.truncate(gz.len() / 2);
    let damaged = write(dir.path(), "asn.csv.gz", &gz);
    assert!(matches!(AsnTable::load(&damaged), Err(AsnError::Io { .. })));
}

#[test]
fn mutated_lines_never_panic() {
    // Hand-built fuzzing: every single-byte change of a few real lines, each loaded on its own
    // after a good line. Only "no panic" and a sane report are checked.
    let lines = [
        "2.26.200.0,2.26.215.255,201907,\"LLC \"\"SPUTNIK\"\"\"",
        "2001:4860::,2001:4860:4804:ffff:ffff:ffff:ffff:ffff,15169,Google LLC",
        "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET",
        "192.0.2.0\t24\t64505_64496",
    ];
    let replacements = [
        b'"', b',', b'\t', b':', b'.', b'0', b'9', b'_', b'\r', b'/', 0xff,
    ];
    let mut loads = 0;
    for line in lines {
        let bytes = line.as_bytes();
        for position in 0..bytes.len() {
            for replacement in replacements {
                let mut mutated = bytes.to_vec();
                mutated[position] = replacement;
                let mut builder = AsnTableBuilder::new();
                let mut input = line.as_bytes().to_vec();
                input.push(b'\n');
                input.extend_from_slice(&mutated);
                if let Ok(report) = builder.add_reader(input.as_slice(), None, "mutated") {
                    assert_eq!(report.lines, 2);
                    assert!(report.ranges >= 1);
                    let table = builder.build();
                    assert!(!table.is_empty());
                    let _ = table.lookup(ip("2.26.200.1"));
                    let _ = table.lookup(ip("2001:4860::1"));
                }
                loads += 1;
            }
        }
    }
    assert!(loads > 1000);
}

#[test]
fn gzip_is_read_transparently_whatever_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let compressed = gzip(&std::fs::read(sample()).unwrap());
    for name in ["asn-sample.csv.gz", "asn-sample.csv", "no-extension"] {
        let path = write(dir.path(), name, &compressed);
        let (table, report) = AsnTable::load(&path).unwrap();
        assert!(report.gzip, "{name}");
        assert_eq!(report.format, TableFormat::IpLocationDbCsv);
        assert_eq!((report.ranges, report.skipped_lines), (1058, 0));
        assert_eq!(asn(&table, "8.8.8.8"), Some(15169));
        assert_eq!(asn(&table, "2001:db8::53"), Some(64510));
    }
    // Gzip-compressed MaxMind DB and TSV too.
    let mmdb = gzip(&std::fs::read(data("GeoLite2-ASN-Test.mmdb")).unwrap());
    let path = write(dir.path(), "GeoLite2-ASN.mmdb.gz", &mmdb);
    let (table, report) = AsnTable::load(&path).unwrap();
    assert_eq!((report.format, report.gzip), (TableFormat::Mmdb, true));
    assert_eq!(asn(&table, "1.0.0.1"), Some(15169));
    let tsv = gzip(&std::fs::read(data("ip2asn-combined-excerpt.tsv")).unwrap());
    let path = write(dir.path(), "ip2asn-combined.tsv.gz", &tsv);
    let (table, report) = AsnTable::load(&path).unwrap();
    assert_eq!(
        (report.format, report.gzip),
        (TableFormat::IptoasnTsv, true)
    );
    assert_eq!(asn(&table, "1.0.0.1"), Some(13335));
}

#[test]
fn iptoasn_tsv_skips_not_routed_space() {
    let (table, report) = AsnTable::load(data("ip2asn-combined-excerpt.tsv")).unwrap();
    assert_eq!(report.format, TableFormat::IptoasnTsv);
    assert_eq!(report.lines, 6);
    assert_eq!(report.ranges, 4);
    assert_eq!(report.not_routed, 2);
    assert_eq!(report.skipped_lines, 0);
    assert_eq!(
        who(&table, "1.0.0.0"),
        Some((13335, "CLOUDFLARENET".to_owned()))
    );
    assert_eq!(
        who(&table, "1.0.0.255"),
        Some((13335, "CLOUDFLARENET".to_owned()))
    );
    assert_eq!(who(&table, "1.0.1.0"), None); // AS 0, "Not routed"
    assert_eq!(who(&table, "1.0.3.255"), None);
    assert_eq!(
        who(&table, "1.0.4.0"),
        Some((38803, "GTELECOM-AUSTRALIA Gtelecom Pty Ltd".to_owned()))
    );
    assert_eq!(
        who(&table, "2001:4860::8888"),
        Some((15169, "GOOGLE".to_owned()))
    );
    assert_eq!(who(&table, "2001:db8::1"), None);
}

#[test]
fn pfx2as_longest_prefix_wins_and_multi_origin_takes_the_first_as() {
    let (table, report) = AsnTable::load(data("routeviews-pfx2as-excerpt.pfx2as")).unwrap();
    assert_eq!(report.format, TableFormat::Pfx2as);
    assert_eq!((report.ranges, report.skipped_lines), (8, 0));
    assert_eq!(who(&table, "8.8.8.8"), Some((15169, String::new()))); // /24 inside 8.0.0.0/9
    assert_eq!(asn(&table, "8.8.7.255"), Some(3356));
    assert_eq!(asn(&table, "8.8.9.0"), Some(3356));
    assert_eq!(asn(&table, "8.0.0.0"), Some(3356));
    assert_eq!(asn(&table, "8.127.255.255"), Some(3356));
    assert_eq!(asn(&table, "8.128.0.0"), None);
    assert_eq!(asn(&table, "192.0.2.1"), Some(64505)); // 64505_64496
    assert_eq!(asn(&table, "198.51.100.1"), Some(64500)); // 64500,64501
    assert_eq!(asn(&table, "203.0.113.127"), Some(65546)); // asdot 1.10, /25
    assert_eq!(asn(&table, "203.0.113.128"), None);
    assert_eq!(asn(&table, "2001:db8:ffff::1"), Some(64510));
    assert_eq!(asn(&table, "2001:4860:4860::8888"), Some(15169));
}

#[test]
fn pfx2as_prefix_lengths_are_checked_and_host_bits_ignored() {
    let input =
        "10.1.2.3\t16\t65001\n10.2.0.0\t33\t65002\n2001:db8::\t129\t65003\n0.0.0.0\t0\t65004\n";
    let mut builder = AsnTableBuilder::new();
    let report = builder
        .add_reader(input.as_bytes(), Some(TableFormat::Pfx2as), "pfx")
        .unwrap();
    assert_eq!((report.ranges, report.skipped_lines), (2, 2));
    let table = builder.build();
    let info = table.lookup(ip("10.1.200.200")).unwrap();
    assert_eq!(info.asn, 65001);
    assert_eq!(
        (info.range_start, info.range_end),
        (ip("10.1.0.0"), ip("10.1.255.255"))
    );
    assert_eq!(asn(&table, "10.2.0.1"), Some(65004)); // only the default route covers it
    assert_eq!(asn(&table, "255.255.255.255"), Some(65004));
}

#[test]
fn maxmind_test_database_known_entries() {
    let (table, report) = AsnTable::load(data("GeoLite2-ASN-Test.mmdb")).unwrap();
    assert_eq!(report.format, TableFormat::Mmdb);
    assert!(!report.gzip);
    assert_eq!(report.skipped_lines, 0);
    // The source data lists 720 networks (490 IPv4, 230 IPv6); the writer joined sibling
    // networks with the same record, so the tree holds fewer.
    assert_eq!(report.ranges, 412);
    assert_eq!(
        who(&table, "1.0.0.0"),
        Some((15169, "Google Inc.".to_owned()))
    );
    assert_eq!(
        who(&table, "1.0.0.255"),
        Some((15169, "Google Inc.".to_owned()))
    );
    assert_eq!(who(&table, "1.0.1.0"), None);
    assert_eq!(
        who(&table, "::ffff:1.0.0.1"),
        Some((15169, "Google Inc.".to_owned()))
    );
    assert_eq!(
        who(&table, "1.128.0.0"),
        Some((1221, "Telstra Pty Ltd".to_owned()))
    );
    assert_eq!(who(&table, "12.81.96.1"), Some((7018, String::new())));
    assert_eq!(
        who(&table, "2001:1700::1"),
        Some((6730, "Sunrise Communications AG".to_owned()))
    );
    assert_eq!(
        who(&table, "2001:171f:ffff:ffff:ffff:ffff:ffff:ffff"),
        Some((6730, "Sunrise Communications AG".to_owned()))
    );
    assert_eq!(asn(&table, "2001:1720::"), None);
}

#[test]
fn detection_by_content_and_name() {
    let detect = |name: &str, bytes: &[u8]| TableFormat::detect(Path::new(name), bytes);
    let csv = b"1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n";
    assert_eq!(
        detect("asn-ipv4.csv", csv),
        Some(TableFormat::IpLocationDbCsv)
    );
    assert_eq!(
        detect("whatever.tsv", csv),
        Some(TableFormat::IpLocationDbCsv)
    );
    let tsv = b"1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n";
    assert_eq!(
        detect("ip2asn-combined.tsv", tsv),
        Some(TableFormat::IptoasnTsv)
    );
    let pfx = b"1.0.0.0\t24\t13335\n";
    assert_eq!(
        detect("routeviews-rv2-20260101-1200.pfx2as", pfx),
        Some(TableFormat::Pfx2as)
    );
    // A header and a comment before the data.
    let headed = b"# exported\nstart,end,asn,org\n1.0.0.0,1.0.0.255,13335,x\n";
    assert_eq!(detect("t", headed), Some(TableFormat::IpLocationDbCsv));
    assert_eq!(detect("GeoLite2-ASN.mmdb", b""), Some(TableFormat::Mmdb));
    assert_eq!(detect("GeoLite2-ASN.MMDB.gz", b""), Some(TableFormat::Mmdb));
    let mmdb = std::fs::read(data("GeoLite2-ASN-Test.mmdb")).unwrap();
    assert_eq!(
        detect("no-extension", &mmdb[..1024]),
        Some(TableFormat::Mmdb)
    );
    assert_eq!(detect("t.csv", b"hello, world\n"), None);
    assert_eq!(detect("t.csv", b""), None);
    // Detection from a file with a misleading name works on the content.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("asn.dat");
    std::fs::copy(data("GeoLite2-ASN-Test.mmdb"), &path).unwrap();
    assert_eq!(AsnTable::load(&path).unwrap().1.format, TableFormat::Mmdb);
}

#[test]
fn format_names_are_stable_and_parse_back() {
    let names: Vec<&str> = TableFormat::ALL
        .iter()
        .map(|format| format.name())
        .collect();
    assert_eq!(
        names,
        ["ip_location_db_csv", "iptoasn_tsv", "pfx2as", "mmdb"]
    );
    for format in TableFormat::ALL {
        assert_eq!(format.to_string().parse::<TableFormat>().unwrap(), format);
    }
    assert!(matches!(
        "csv".parse::<TableFormat>(),
        Err(AsnError::UnknownFormatName { .. })
    ));
}

#[test]
fn insert_builds_tables_by_hand_and_refuses_bad_ranges() {
    let mut builder = AsnTableBuilder::new();
    builder
        .insert(ip("0.0.0.0"), ip("255.255.255.255"), 64496, "EVERYTHING")
        .unwrap();
    builder
        .insert(
            ip("::"),
            ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            64497,
            "ALL-V6",
        )
        .unwrap();
    builder
        .insert(
            ip("::ffff:192.0.2.0"),
            ip("::ffff:192.0.2.255"),
            64505,
            "MAPPED",
        )
        .unwrap();
    assert!(matches!(
        builder.insert(ip("192.0.2.9"), ip("192.0.2.1"), 1, "x"),
        Err(AsnError::InvalidRange {
            reason: LineError::StartAfterEnd,
            ..
        })
    ));
    assert!(matches!(
        builder.insert(ip("192.0.2.1"), ip("2001:db8::"), 1, "x"),
        Err(AsnError::InvalidRange {
            reason: LineError::MixedFamilies,
            ..
        })
    ));
    assert_eq!(builder.pending_ranges(), 3);
    let table = builder.build();
    assert_eq!(asn(&table, "0.0.0.0"), Some(64496));
    assert_eq!(asn(&table, "255.255.255.255"), Some(64496));
    assert_eq!(asn(&table, "192.0.2.1"), Some(64505));
    assert_eq!(
        asn(&table, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        Some(64497)
    );
    assert_eq!(table.len(), 4);
    assert_eq!(table.org_count(), 3);
    assert_eq!(AsnTable::default().lookup(ip("8.8.8.8")), None);
    assert!(AsnTable::default().is_empty());
}

#[test]
fn organisation_names_are_shared_between_ranges() {
    let (table, _) = AsnTable::load(sample()).unwrap();
    let first = table.lookup(ip("74.125.0.1")).unwrap();
    let second = table.lookup(ip("8.8.8.8")).unwrap();
    assert!(std::sync::Arc::ptr_eq(&first.org, &second.org));
    assert!(table.org_count() < 60, "{}", table.org_count());
}

#[test]
fn maxmind_test_database_agrees_with_its_source_json_at_every_network_edge() {
    // GeoLite2-ASN-Test.json is the source the .mmdb was written from (MaxMind-DB
    // `source-data/`): every network's first and last address must give its AS.
    let (table, _) = AsnTable::load(data("GeoLite2-ASN-Test.mmdb")).unwrap();
    let source = std::fs::read_to_string(data("GeoLite2-ASN-Test.json")).unwrap();
    let entries: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&source).unwrap();
    let mut checked = 0;
    for entry in &entries {
        for (network, record) in entry {
            let (address, length) = network.split_once('/').unwrap();
            let length: u32 = length.parse().unwrap();
            let expected_asn = record["autonomous_system_number"].as_u64().unwrap() as u32;
            let expected_org = record
                .get("autonomous_system_organization")
                .and_then(|org| org.as_str())
                .unwrap_or("");
            let (first, last) = match ip(address) {
                IpAddr::V4(v4) => {
                    let start = u32::from(v4);
                    let end = start | (u32::MAX.checked_shr(length).unwrap_or(0));
                    (
                        IpAddr::from(std::net::Ipv4Addr::from(start)),
                        IpAddr::from(std::net::Ipv4Addr::from(end)),
                    )
                }
                IpAddr::V6(v6) => {
                    let start = u128::from(v6);
                    let end = start | (u128::MAX.checked_shr(length).unwrap_or(0));
                    (
                        IpAddr::from(std::net::Ipv6Addr::from(start)),
                        IpAddr::from(std::net::Ipv6Addr::from(end)),
                    )
                }
            };
            for edge in [first, last] {
                let info = table
                    .lookup(edge)
                    .unwrap_or_else(|| panic!("{network}: {edge} not found"));
                assert_eq!(info.asn, expected_asn, "{network}: {edge}");
                assert_eq!(&*info.org, expected_org, "{network}: {edge}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 720);
}
