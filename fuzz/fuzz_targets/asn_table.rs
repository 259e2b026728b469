//! IP-to-AS tables: `AsnTableBuilder::add_reader` on arbitrary bytes, auto-detected and as each
//! of `TableFormat::ALL`, then `build()` and lookups.
//!
//! Input: the table file itself (text, MaxMind DB, or either gzip-compressed). The reader is
//! named `fuzz-input` (no `.mmdb` suffix, so detection goes by content). Lookups use fixed
//! addresses plus an IPv4 and an IPv6 address taken from the input's first 20 bytes.
//!
//! Checks beyond "no panic": a successful load accepted at least one range (all of them pending
//! in the builder) and counted no more ranges, skipped and not-routed lines than it read lines; a built table has at most twice as
//! many flattened ranges as pending ranges; every match contains the address looked up (as
//! IPv4 for `::ffff:a.b.c.d`), `lookup_asn` agrees with `lookup`, the v4-mapped form finds the
//! same range as the IPv4 form, and the ends of a matched range map to the same AS and
//! organisation; a range inserted after everything else wins at its address.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use analyzer::asn::{AsnTable, AsnTableBuilder, TableFormat};
use libfuzzer_sys::fuzz_target;

const NAME: &str = "fuzz-input";

fn addresses(data: &[u8]) -> Vec<IpAddr> {
    let mut v4 = [0u8; 4];
    let mut v6 = [0u8; 16];
    for (slot, byte) in v4.iter_mut().zip(data) {
        *slot = *byte;
    }
    for (slot, byte) in v6.iter_mut().zip(data.iter().skip(4)) {
        *slot = *byte;
    }
    let from_input_v4 = Ipv4Addr::from(v4);
    let mut out: Vec<IpAddr> = [
        "0.0.0.0",
        "255.255.255.255",
        "1.0.0.1",
        "8.8.8.8",
        "192.0.2.53",
        "::",
        "::1",
        "2001:4860::8888",
        "2001:db8::1",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "::ffff:8.8.8.8",
        "::ffff:0.0.0.0",
        "::ffff:255.255.255.255",
    ]
    .iter()
    .filter_map(|text| text.parse().ok())
    .collect();
    out.push(IpAddr::V4(from_input_v4));
    out.push(IpAddr::V6(from_input_v4.to_ipv6_mapped()));
    out.push(IpAddr::V6(Ipv6Addr::from(v6)));
    out
}

/// The address family a lookup of `ip` is done in: IPv4 for v4-mapped addresses.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn check_table(table: &AsnTable, pending: usize, probes: &[IpAddr]) {
    assert!(
        table.len() <= pending.saturating_mul(2),
        "{} flattened ranges from {pending} pending",
        table.len()
    );
    assert_eq!(table.len(), table.len_v4() + table.len_v6());
    assert_eq!(table.is_empty(), table.len() == 0);
    for &ip in probes {
        let info = table.lookup(ip);
        assert_eq!(info.as_ref().map(|i| i.asn), table.lookup_asn(ip));
        let Some(info) = info else { continue };
        let ip = canonical(ip);
        assert!(
            info.range_start <= ip && ip <= info.range_end,
            "{ip} outside its range {}..{}",
            info.range_start,
            info.range_end
        );
        assert_eq!(info.range_start.is_ipv4(), ip.is_ipv4());
        assert_eq!(info.range_end.is_ipv4(), ip.is_ipv4());
        if let IpAddr::V4(v4) = ip {
            assert_eq!(
                table.lookup(IpAddr::V6(v4.to_ipv6_mapped())),
                Some(info.clone())
            );
        }
        for end in [info.range_start, info.range_end] {
            assert_eq!(table.lookup(end), Some(info.clone()));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let probes = addresses(data);
    let formats = std::iter::once(None).chain(TableFormat::ALL.into_iter().map(Some));
    // Every format on its own, and all of them as successive sources of one builder.
    let mut combined = AsnTableBuilder::new();
    for format in formats {
        let mut builder = AsnTableBuilder::new();
        let loaded = builder.add_reader(data, format, NAME);
        if let Ok(report) = &loaded {
            assert!(report.ranges > 0);
            assert!(report.ranges + report.skipped_lines + report.not_routed <= report.lines);
            assert_eq!(report.skipped_lines == 0, report.first_skipped.is_none());
            if let Some(format) = format {
                assert_eq!(report.format, format);
            }
            assert_eq!(
                u64::try_from(builder.pending_ranges()).ok(),
                Some(report.ranges)
            );
        }
        let pending = builder.pending_ranges();
        check_table(&builder.build(), pending, &probes);
        let _ = combined.add_reader(data, format, NAME);
    }
    let Some(&probe) = probes.last() else { return };
    let _ = combined.insert(probe, probe, u32::MAX, "fuzz override");
    let pending = combined.pending_ranges();
    let table = combined.build();
    check_table(&table, pending, &probes);
    let info = table.lookup(probe);
    assert_eq!(
        info.as_ref().map(|i| (i.asn, &*i.org)),
        Some((u32::MAX, "fuzz override"))
    );
});
