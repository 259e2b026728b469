//! The generator's output: deterministic, and a well-formed pcap of the asked-for size.

// The helpers below are test code too (clippy.toml only exempts `#[test]` functions): a panic
// here is a failed assertion, not a crash on input.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;

use dnsward_benches::wire::internet_checksum;
use dnsward_benches::{generate, GeneratorConfig};

/// The command in samples/README.md: `dnsward-gen --frames 2000 --seed 1 --out samples/sample.pcap`.
const SAMPLE: GeneratorConfig = GeneratorConfig {
    frames: 2_000,
    seed: 1,
    start_time_secs: dnsward_benches::DEFAULT_START_TIME_SECS,
};

fn capture(config: &GeneratorConfig) -> Vec<u8> {
    let mut out = Vec::new();
    generate(config, &mut out).unwrap();
    out
}

/// FNV-1a, 64 bits: a stable fingerprint that does not depend on std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

struct Frame<'a> {
    micros: u64,
    data: &'a [u8],
}

fn records(capture: &[u8]) -> Vec<Frame<'_>> {
    let mut frames = Vec::new();
    let mut at = 24;
    while at < capture.len() {
        let field = |offset: usize| {
            u32::from_le_bytes(capture[at + offset..at + offset + 4].try_into().unwrap())
        };
        let (seconds, fraction, included, original) = (field(0), field(4), field(8), field(12));
        assert_eq!(included, original, "frames are captured whole");
        let start = at + 16;
        let end = start + included as usize;
        frames.push(Frame {
            micros: u64::from(seconds) * 1_000_000 + u64::from(fraction),
            data: &capture[start..end],
        });
        at = end;
    }
    assert_eq!(at, capture.len(), "no trailing bytes");
    frames
}

#[test]
fn same_seed_gives_identical_bytes_and_other_seeds_differ() {
    let config = GeneratorConfig {
        frames: 3_000,
        seed: 9,
        ..GeneratorConfig::default()
    };
    let first = capture(&config);
    let second = capture(&config);
    assert_eq!(fnv1a(&first), fnv1a(&second));
    assert_eq!(first, second);
    let other = capture(&GeneratorConfig { seed: 10, ..config });
    assert_ne!(fnv1a(&first), fnv1a(&other));
}

#[test]
fn capture_has_pcap_header_and_exactly_the_requested_frames() {
    for frames in [1, 2, 13, 1_000, 5_001] {
        let config = GeneratorConfig {
            frames,
            seed: 3,
            ..GeneratorConfig::default()
        };
        let bytes = capture(&config);
        // Magic 0xa1b2c3d4 little-endian, version 2.4, snaplen, LINKTYPE_ETHERNET.
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(&bytes[4..8], &[2, 0, 4, 0]);
        assert_eq!(&bytes[20..24], &[1, 0, 0, 0]);
        let records = records(&bytes);
        assert_eq!(records.len() as u64, frames);
        assert_eq!(records[0].micros, config.start_time_secs * 1_000_000);
        assert!(
            records
                .windows(2)
                .all(|pair| pair[0].micros < pair[1].micros),
            "timestamps increase"
        );
    }
}

#[test]
fn every_frame_has_consistent_lengths_and_valid_ipv4_checksums() {
    let bytes = capture(&GeneratorConfig {
        frames: 20_000,
        seed: 5,
        ..GeneratorConfig::default()
    });
    let (mut ipv4, mut ipv6, mut tagged) = (0, 0, 0);
    for frame in records(&bytes) {
        let data = frame.data;
        assert!(data.len() >= 60, "padded to the Ethernet minimum");
        let mut at = 12;
        let mut ethertype = u16::from_be_bytes([data[at], data[at + 1]]);
        while ethertype == 0x8100 || ethertype == 0x88a8 {
            tagged += 1;
            at += 4;
            ethertype = u16::from_be_bytes([data[at], data[at + 1]]);
        }
        let ip = &data[at + 2..];
        match ethertype {
            0x0800 => {
                ipv4 += 1;
                let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
                assert!(total <= ip.len() && (total == ip.len() || ip.len() + at + 2 == 60));
                assert_eq!(
                    internet_checksum(&ip[..20]),
                    0,
                    "IPv4 header checksum verifies"
                );
            }
            0x86dd => {
                ipv6 += 1;
                let payload = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
                assert!(40 + payload <= ip.len());
            }
            other => panic!("unexpected ethertype {other:#06x}"),
        }
    }
    let share = ipv6 * 100 / (ipv4 + ipv6);
    assert!((10..=20).contains(&share), "about 15% IPv6, got {share}%");
    assert!(tagged > 0);
}

#[test]
fn sample_config_contains_tcp_fragments_and_a_mix_of_answers() {
    let mut out = Vec::new();
    let stats = generate(&SAMPLE, &mut out).unwrap();
    assert_eq!(stats.frames, 2_000);
    assert!(stats.tcp_connections >= 2);
    assert_eq!(stats.fragmented_messages, 2);
    assert!(stats.nxdomain_responses > 0 && stats.cname_responses > 0 && stats.cookie_messages > 0);
    assert!(stats.queries_a > stats.queries_aaaa && stats.queries_aaaa > stats.queries_mx);
    let queries = stats.downstream_queries + stats.upstream_queries;
    let responses = stats.downstream_responses + stats.upstream_responses;
    assert!(
        queries.abs_diff(responses) * 50 < queries,
        "queries and responses pair up"
    );
}

#[test]
fn committed_sample_is_what_the_generator_writes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/sample.pcap");
    let committed = std::fs::read(&path).unwrap();
    assert!(
        committed == capture(&SAMPLE),
        "samples/sample.pcap differs from the generator's output: regenerate it with the command in samples/README.md"
    );
}

#[test]
fn cli_without_arguments_prints_usage_and_fails() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_dnsward-gen"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--frames is required") && stderr.contains("usage: dnsward-gen"));
}
