//! Criterion benchmark of [`AsnTable::lookup`]: ns per IPv4 and IPv6 lookup.
//!
//! Tables: a generated one with [`GENERATED_V4`] IPv4 and [`GENERATED_V6`] IPv6 ranges (about
//! the size of the real `@ip-location-db/asn` tables, 412k and 103k lines), the shipped
//! `samples/asn-sample.csv`, and, when `DNSWARD_ASN_BENCH_TABLES` names files (separated by
//! `:`), those real tables merged. Addresses are drawn before the timed loop from a fixed
//! pseudo-random sequence, uniformly over the address space (IPv4) or over the generated
//! ranges' /32s (IPv6), so hits and misses mix as they come; each iteration looks up all
//! [`QUERIES`] of them and [`Throughput::Elements`] is that count, so time / element is ns per
//! lookup.
//!
//! ```sh
//! cargo bench -p dnsward-analyzer --bench asn_lookup
//! DNSWARD_ASN_BENCH_TABLES=/tmp/asn-ipv4.csv:/tmp/asn-ipv6.csv \
//!     cargo bench -p dnsward-analyzer --bench asn_lookup
//! ```
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use analyzer::asn::{AsnTable, AsnTableBuilder, TableFormat};
use criterion::{Criterion, Throughput};

/// IPv4 ranges in the generated table.
const GENERATED_V4: u32 = 500_000;
/// IPv6 ranges in the generated table.
const GENERATED_V6: u32 = 100_000;
/// Addresses looked up per iteration.
const QUERIES: usize = 4096;

/// A small deterministic generator (SplitMix64), so every run looks up the same addresses.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Where the generated IPv6 ranges live: `2400::/12` and up, one /32 each.
const V6_BASE: u128 = 0x2400_0000 << 96;

/// The generated table, as ip-location-db CSV text loaded through the real loader: IPv4 ranges
/// evenly spread with random lengths and gaps, IPv6 /32s (partly covered) one after another.
fn generated_csv() -> String {
    let mut random = SplitMix(1);
    let mut csv = String::with_capacity(64 * (GENERATED_V4 + GENERATED_V6) as usize);
    let step = u32::MAX / GENERATED_V4;
    for index in 0..GENERATED_V4 {
        let start = index.saturating_mul(step);
        let length = (random.next() % u64::from(step)) as u32;
        let end = start.saturating_add(length);
        let asn = 1 + (random.next() % 60_000) as u32;
        let _ = writeln!(
            csv,
            "{},{},{asn},\"Org {}, Inc.\"",
            Ipv4Addr::from(start),
            Ipv4Addr::from(end),
            asn % 5_000
        );
    }
    for index in 0..GENERATED_V6 {
        let start = V6_BASE + (u128::from(index) << 96);
        let end = start + (u128::MAX >> (32 + (random.next() % 16) as u32));
        let asn = 1 + (random.next() % 60_000) as u32;
        let _ = writeln!(
            csv,
            "{},{},{asn},Org {}",
            Ipv6Addr::from(start),
            Ipv6Addr::from(end),
            asn % 5_000
        );
    }
    csv
}

fn v4_queries() -> Vec<IpAddr> {
    let mut random = SplitMix(2);
    (0..QUERIES)
        .map(|_| IpAddr::V4(Ipv4Addr::from(random.next() as u32)))
        .collect()
}

fn v6_queries() -> Vec<IpAddr> {
    let mut random = SplitMix(3);
    (0..QUERIES)
        .map(|_| {
            let slot = u128::from(random.next() % u64::from(GENERATED_V6));
            let host = u128::from(random.next()) << 40;
            IpAddr::V6(Ipv6Addr::from(V6_BASE + (slot << 96) + host))
        })
        .collect()
}

/// Addresses of the shipped sample's networks and the space around them.
fn sample_queries() -> Vec<IpAddr> {
    let mut random = SplitMix(4);
    let bases: [IpAddr; 6] = [
        IpAddr::V4(Ipv4Addr::new(23, 32, 0, 0)),
        IpAddr::V4(Ipv4Addr::new(74, 125, 0, 0)),
        IpAddr::V4(Ipv4Addr::new(98, 136, 0, 0)),
        IpAddr::V4(Ipv4Addr::new(142, 250, 0, 0)),
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, 0)),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0x4998, 0, 0, 0, 0, 0, 0)),
    ];
    (0..QUERIES)
        .filter_map(|_| {
            let base = *bases.get((random.next() % bases.len() as u64) as usize)?;
            let offset = random.next();
            Some(match base {
                IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(
                    u32::from(v4).wrapping_add((offset % (1 << 21)) as u32),
                )),
                IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(
                    u128::from(v6).wrapping_add(u128::from(offset) << 64),
                )),
            })
        })
        .collect()
}

fn bench_lookups(
    criterion: &mut Criterion,
    group: &str,
    table: &AsnTable,
    sets: &[(&str, Vec<IpAddr>)],
) {
    let mut group = criterion.benchmark_group(group);
    for (name, queries) in sets {
        let hits = queries
            .iter()
            .filter(|ip| table.lookup(**ip).is_some())
            .count();
        eprintln!("{name}: {hits} of {} queries hit", queries.len());
        group.throughput(Throughput::Elements(queries.len() as u64));
        group.bench_function(*name, |bencher| {
            bencher.iter(|| {
                let mut found = 0u64;
                for ip in queries {
                    if let Some(info) = table.lookup(black_box(*ip)) {
                        found = found.wrapping_add(u64::from(info.asn));
                    }
                }
                found
            })
        });
        group.bench_function(format!("{name}_asn_only"), |bencher| {
            bencher.iter(|| {
                let mut found = 0u64;
                for ip in queries {
                    if let Some(asn) = table.lookup_asn(black_box(*ip)) {
                        found = found.wrapping_add(u64::from(asn));
                    }
                }
                found
            })
        });
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();

    let csv = generated_csv();
    let started = Instant::now();
    let mut builder = AsnTableBuilder::new();
    match builder.add_reader(
        csv.as_bytes(),
        Some(TableFormat::IpLocationDbCsv),
        "generated",
    ) {
        Ok(report) => eprintln!("generated: {} ranges parsed", report.ranges),
        Err(error) => {
            eprintln!("generated table: {error}");
            return;
        }
    }
    let generated = builder.build();
    eprintln!(
        "generated: {} IPv4 + {} IPv6 ranges built in {:?}",
        generated.len_v4(),
        generated.len_v6(),
        started.elapsed()
    );
    bench_lookups(
        &mut criterion,
        "asn_generated",
        &generated,
        &[("ipv4", v4_queries()), ("ipv6", v6_queries())],
    );

    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/asn-sample.csv");
    match AsnTable::load(&sample) {
        Ok((table, _)) => bench_lookups(
            &mut criterion,
            "asn_sample",
            &table,
            &[("mixed", sample_queries())],
        ),
        Err(error) => eprintln!("sample: {error}"),
    }

    if let Some(paths) = std::env::var_os("DNSWARD_ASN_BENCH_TABLES") {
        let paths: Vec<PathBuf> = std::env::split_paths(&paths).collect();
        let started = Instant::now();
        match AsnTable::load_all(&paths) {
            Ok((table, reports)) => {
                for report in &reports {
                    eprintln!(
                        "{}: {} as {}, {} ranges, {} skipped, {} not routed",
                        report.source.display(),
                        if report.gzip { "gzip" } else { "plain" },
                        report.format,
                        report.ranges,
                        report.skipped_lines,
                        report.not_routed
                    );
                }
                eprintln!(
                    "real tables: {} IPv4 + {} IPv6 ranges, {} orgs, loaded in {:?}",
                    table.len_v4(),
                    table.len_v6(),
                    table.org_count(),
                    started.elapsed()
                );
                bench_lookups(
                    &mut criterion,
                    "asn_real",
                    &table,
                    &[
                        ("ipv4", v4_queries()),
                        ("ipv6_generated_space", v6_queries()),
                    ],
                );
            }
            Err(error) => eprintln!("DNSWARD_ASN_BENCH_TABLES: {error}"),
        }
    }
    criterion.final_summary();
}
