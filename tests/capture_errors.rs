//! Bad and truncated capture files: the error names the file, the frame and the byte offset, and
//! everything before the damage is still processed.

// Test helpers outside #[test] functions are not covered by clippy.toml's allow-in-tests
// settings; a panic here is a failed test, not a crash on input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::process::Command;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/sample.pcap");

/// Byte offsets at which each record of a classic pcap file starts (independent of dnsward).
fn pcap_record_offsets(bytes: &[u8]) -> Vec<usize> {
    assert_eq!(
        &bytes[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian microsecond pcap"
    );
    let mut offsets = Vec::new();
    let mut pos = 24;
    while pos + 16 <= bytes.len() {
        offsets.push(pos);
        let caplen = u32::from_le_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize;
        pos += 16 + caplen;
    }
    offsets
}

fn run_emit(file: &Path, out: &Path) -> (std::process::ExitStatus, String, usize) {
    let output = Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .args(["run", "--no-store", "-q", "--workers", "2", "--pcap"])
        .arg(file)
        .arg(format!("--emit=json={}", out.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let lines = std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .count();
    (output.status, stderr, lines)
}

#[test]
fn truncated_pcap_names_file_frame_and_offset_after_processing_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(SAMPLE).unwrap();
    let offsets = pcap_record_offsets(&bytes);
    // Cut record 1001 (1-based) in the middle of its data.
    let cut_record = 1000;
    let start = offsets[cut_record];
    let truncated = &bytes[..start + 16 + 10];
    let file = dir.path().join("cut.pcap");
    std::fs::write(&file, truncated).unwrap();

    // What the first 1000 frames hold, by a run over exactly those bytes.
    let whole = dir.path().join("first1000.pcap");
    std::fs::write(&whole, &bytes[..start]).unwrap();
    let (status, _, expected) = run_emit(&whole, &dir.path().join("a.jsonl"));
    assert!(status.success());
    assert!(
        expected > 900,
        "the first 1000 frames hold most of the sample's messages"
    );

    let (status, stderr, got) = run_emit(&file, &dir.path().join("b.jsonl"));
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cut.pcap"), "names the file: {stderr}");
    assert!(
        stderr.contains(&format!("frame {}", cut_record + 1)),
        "names the frame: {stderr}"
    );
    assert!(
        stderr.contains(&format!("byte offset {start}")),
        "names the offset: {stderr}"
    );
    assert_eq!(
        got, expected,
        "everything before the damage was processed and emitted"
    );
}

#[test]
fn a_file_that_is_not_a_capture_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "this is not a capture file\n").unwrap();
    let (status, stderr, got) = run_emit(&file, &dir.path().join("o.jsonl"));
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("notes.txt"), "{stderr}");
    assert_eq!(got, 0);
}

#[test]
fn files_after_a_bad_one_are_not_read_but_earlier_ones_are() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pcap");
    std::fs::write(&bad, b"garbage").unwrap();
    let out = dir.path().join("o.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .args(["run", "--no-store", "-q", "--pcap", SAMPLE])
        .arg(&bad)
        .arg(SAMPLE)
        .arg(format!("--emit=json={}", out.display()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let lines = std::fs::read_to_string(&out).unwrap().lines().count();
    assert_eq!(
        lines, 1970,
        "the first file (1,970 DNS messages) was fully processed"
    );
}

#[test]
fn truncated_pcapng_names_the_offset_of_the_damaged_block() {
    let Some(dir) = common::shared_pcaps("truncated_pcapng_names_the_offset_of_the_damaged_block")
    else {
        return;
    };
    let bytes = std::fs::read(dir.join("chrissanders__dns_lab.pcapng")).unwrap();
    // Walk the blocks independently: find the start of the 11th enhanced packet block.
    let le = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let mut pos = 0;
    let mut packets = 0;
    let target = loop {
        let block_type = le(pos);
        if block_type == 6 {
            packets += 1;
            if packets == 11 {
                break pos;
            }
        }
        pos += le(pos + 4);
    };
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("cut.pcapng");
    std::fs::write(&file, &bytes[..target + 20]).unwrap();
    let (status, stderr, got) = run_emit(&file, &tmp.path().join("o.jsonl"));
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("frame 11"), "{stderr}");
    assert!(
        stderr.contains(&format!("byte offset {target}")),
        "{stderr}"
    );
    assert_eq!(
        got, 10,
        "the ten frames before the damage are all DNS (see golden)"
    );
}

#[test]
fn gzip_compressed_capture_reads_like_the_plain_one() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("sample.pcap.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(SAMPLE).unwrap()).unwrap();
    enc.finish().unwrap();
    let (s1, _, plain) = run_emit(Path::new(SAMPLE), &dir.path().join("a.jsonl"));
    let (s2, _, zipped) = run_emit(&gz, &dir.path().join("b.jsonl"));
    assert!(s1.success() && s2.success());
    assert_eq!(plain, 1970);
    let strip = |p: &str| {
        std::fs::read_to_string(dir.path().join(p))
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["source"]["file"] = serde_json::Value::Null;
                v.to_string()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(zipped, plain);
    assert_eq!(strip("a.jsonl"), strip("b.jsonl"));
}
