//! Every supported link type decodes the same DNS: the Ethernet sample capture (with 802.1Q and
//! QinQ tags) is rewritten frame by frame into Linux cooked v1 and v2, raw IP, IPv4/IPv6 link
//! types and BSD loopback, and each copy must give exactly the observations of the original.

// Test helpers outside #[test] functions are not covered by clippy.toml's allow-in-tests
// settings; a panic here is a failed test, not a crash on input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::Command;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/sample.pcap");

/// Frames of a little-endian classic pcap: (header bytes 0..16, data).
fn read_pcap(bytes: &[u8]) -> Vec<([u8; 16], Vec<u8>)> {
    let mut frames = Vec::new();
    let mut pos = 24;
    while pos + 16 <= bytes.len() {
        let header: [u8; 16] = bytes[pos..pos + 16].try_into().unwrap();
        let caplen = u32::from_le_bytes(header[8..12].try_into().unwrap()) as usize;
        frames.push((header, bytes[pos + 16..pos + 16 + caplen].to_vec()));
        pos += 16 + caplen;
    }
    frames
}

/// Strips Ethernet and any VLAN tags: (ethertype, IP packet).
fn strip_ethernet(frame: &[u8]) -> (u16, &[u8]) {
    let mut ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    let mut rest = &frame[14..];
    while matches!(ethertype, 0x8100 | 0x88a8) {
        ethertype = u16::from_be_bytes([rest[2], rest[3]]);
        rest = &rest[4..];
    }
    (ethertype, rest)
}

fn write_pcap(path: &Path, original: &[u8], linktype: u32, frames: &[([u8; 16], Vec<u8>)]) {
    let mut out = original[..20].to_vec();
    out.extend_from_slice(&linktype.to_le_bytes());
    for (header, data) in frames {
        let mut h = *header;
        h[8..12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
    }
    std::fs::write(path, out).unwrap();
}

/// Observations of a run, without the file name (which differs between copies).
fn observations(file: &Path, dir: &Path) -> Vec<String> {
    let out = dir.join("out.jsonl");
    let status = Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .args(["run", "--no-store", "-q", "--pcap"])
        .arg(file)
        .arg(format!("--emit=json={}", out.display()))
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["source"]["file"] = serde_json::Value::Null;
            v.to_string()
        })
        .collect()
}

#[test]
fn every_link_type_yields_the_observations_of_the_ethernet_original() {
    let bytes = std::fs::read(SAMPLE).unwrap();
    let frames = read_pcap(&bytes);
    assert_eq!(frames.len(), 2000);
    let dir = tempfile::tempdir().unwrap();
    let expected = observations(Path::new(SAMPLE), dir.path());
    assert_eq!(expected.len(), 1970);

    type Encap = fn(u16, &[u8]) -> Vec<u8>;
    let cases: [(&str, u32, Encap); 6] = [
        ("linux_sll", 113, |et, ip| {
            // packet type, ARPHRD_ETHER, address length 6, address (8 bytes), protocol
            let mut f = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
            f.extend_from_slice(&et.to_be_bytes());
            f.extend_from_slice(ip);
            f
        }),
        ("linux_sll2", 276, |et, ip| {
            // protocol, reserved, interface index, ARPHRD_ETHER, packet type, address length,
            // address (8 bytes)
            let mut f = et.to_be_bytes().to_vec();
            f.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
            f.extend_from_slice(ip);
            f
        }),
        ("raw", 101, |_, ip| ip.to_vec()),
        ("null_loopback", 0, |et, ip| {
            // Host byte order address family: AF_INET 2, AF_INET6 30 (macOS).
            let family: u32 = if et == 0x86dd { 30 } else { 2 };
            let mut f = family.to_le_bytes().to_vec();
            f.extend_from_slice(ip);
            f
        }),
        ("openbsd_loop", 108, |et, ip| {
            let family: u32 = if et == 0x86dd { 24 } else { 2 };
            let mut f = family.to_be_bytes().to_vec();
            f.extend_from_slice(ip);
            f
        }),
        ("ipv4_ipv6_as_raw_12", 12, |_, ip| ip.to_vec()),
    ];
    let mut failures = Vec::new();
    for (name, linktype, encap) in cases {
        let rewritten: Vec<([u8; 16], Vec<u8>)> = frames
            .iter()
            .map(|(h, data)| {
                let (et, ip) = strip_ethernet(data);
                (*h, encap(et, ip))
            })
            .collect();
        let file = dir.path().join(format!("{name}.pcap"));
        write_pcap(&file, &bytes, linktype, &rewritten);
        let got = observations(&file, dir.path());
        if got != expected {
            let first = got.iter().zip(&expected).position(|(a, b)| a != b);
            failures.push(format!(
                "{name} (linktype {linktype}): {} observations, expected {}; first difference at {first:?}",
                got.len(),
                expected.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
