//! The alert sinks on real files: the JSON-lines file rotates by size as logrotate does
//! (`alerts.jsonl` → `.1` → `.2`, never more than `keep` old files), every line is one whole
//! alert, and the minimum severity filter counts what it holds back.
// Helpers outside `#[test]` functions are not covered by clippy.toml's allow-*-in-tests; in a test
// file a panic is a failed assertion, not a crash on input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use analyzer::sinks::{AlertSinks, SinkConfig, SinkStats};
use schemas::alert::{Alert, Severity};
use serde_json::json;
use std::path::{Path, PathBuf};

/// An alert state change numbered `n` (its id ends in `n` as 16 hex digits) with `score`.
///
/// Written as JSON and read through serde, so the test also checks that the alert the sink
/// writes parses back to the same value.
fn alert(n: u64, score: u8) -> Alert {
    let severity = Severity::of_score(score);
    serde_json::from_value(json!({
        "@timestamp": "2026-01-09T00:25:57.096511000Z",
        "schema_version": 1,
        "event": {
            "id": format!("dw1-{n:016x}"),
            "kind": "alert",
            "module": "dnsward",
            "dataset": "dnsward.alert",
            "action": "opened",
            "severity": score,
            "start": "2026-01-09T00:25:57.096511000Z",
            "end": "2026-01-09T00:25:57.096511000Z",
            "reason": format!("new_rdata: sink test alert {n}"),
        },
        "rule": { "name": "new_rdata", "category": "divergence" },
        "dns": {
            "question": { "name": "mx.example.com", "type": "A" },
            "answers": [
                { "name": "mx.example.com", "type": "A", "ttl": 86400, "data": "203.0.113.66" }
            ],
        },
        "source": { "ip": "10.0.1.53" },
        "observer": { "id": "sink-test", "product": "dnsward" },
        "dnsward": {
            "detector": "new_rdata",
            "severity": severity.name(),
            "score": score,
            "reasons": ["203.0.113.66 is in AS64511, never seen for any watched name"],
            "status": "open",
            "first_seen_ns": 1_767_918_357_096_511_000_u64,
            "last_seen_ns": 1_767_918_357_096_511_000_u64,
            "watched_because": "configured: example.com",
            "baseline": [{ "data": "192.0.2.25", "prefix": "192.0.2.0/24", "asn": 64500 }],
            "observed": [{ "data": "203.0.113.66", "prefix": "203.0.113.0/24", "asn": 64511 }],
            "resolvers": ["10.0.1.53"],
            "clients_affected": 1,
            "responses": 1,
            "evidence": [],
            "evidence_dropped": 0,
        },
    }))
    .unwrap()
}

/// `alerts.jsonl` in `dir`, and its rotated file `n` (0 is the live file).
fn rotated(dir: &Path, n: u32) -> PathBuf {
    match n {
        0 => dir.join("alerts.jsonl"),
        n => dir.join(format!("alerts.jsonl.{n}")),
    }
}

/// The alerts in one file, each line parsed as JSON and then as an [`Alert`].
fn read_alerts(path: &Path) -> Vec<Alert> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert!(
        text.ends_with('\n'),
        "{} does not end with a newline: {text:?}",
        path.display()
    );
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
                panic!("{} line {}: not JSON ({e}): {line}", path.display(), i + 1)
            });
            serde_json::from_value(value)
                .unwrap_or_else(|e| panic!("{} line {}: not an alert ({e})", path.display(), i + 1))
        })
        .collect()
}

fn ids(alerts: &[Alert]) -> Vec<String> {
    alerts.iter().map(|a| a.event.id.clone()).collect()
}

/// The alert ids in rotated file `n` of `dir`, in line order.
fn ids_in(dir: &Path, n: u32) -> Vec<String> {
    ids(&read_alerts(&rotated(dir, n)))
}

fn file_config(dir: &Path, rotate_bytes: u64, keep: u32) -> SinkConfig {
    SinkConfig {
        file: rotated(dir, 0),
        rotate_bytes,
        keep,
        ..SinkConfig::default()
    }
}

/// Writes alerts `numbers` (score 80) through sinks opened on `config`, flushes, and returns the
/// sinks' counters.
fn write_all(config: &SinkConfig, numbers: impl IntoIterator<Item = u64>) -> SinkStats {
    let mut sinks = AlertSinks::open(config).unwrap();
    for n in numbers {
        sinks.write(&alert(n, 80)).unwrap();
    }
    sinks.flush().unwrap();
    sinks.stats.clone()
}

fn line_len(n: u64) -> u64 {
    serde_json::to_vec(&alert(n, 80)).unwrap().len() as u64 + 1
}

#[test]
fn a_tiny_rotate_size_keeps_one_line_per_file_and_at_most_keep_old_files() {
    let dir = tempfile::tempdir().unwrap();
    // One byte: every line after the first finds the file non-empty and too big, so rotates.
    let stats = write_all(&file_config(dir.path(), 1, 2), 1..=5);
    assert_eq!(stats.lines, 5);
    assert_eq!(stats.rotations, 4);
    assert_eq!(stats.below_min_severity, 0);
    // The newest line is in the live file, the one before in .1, the one before that in .2;
    // lines 1 and 2 went out with the oldest file.
    assert_eq!(ids_in(dir.path(), 0), ["dw1-0000000000000005"]);
    assert_eq!(ids_in(dir.path(), 1), ["dw1-0000000000000004"]);
    assert_eq!(ids_in(dir.path(), 2), ["dw1-0000000000000003"]);
    assert!(!rotated(dir.path(), 3).exists(), "keep = 2 but .3 exists");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["alerts.jsonl", "alerts.jsonl.1", "alerts.jsonl.2"]);
}

#[test]
fn a_file_rotates_only_when_the_next_line_would_take_it_past_rotate_bytes() {
    let dir = tempfile::tempdir().unwrap();
    // Room for exactly two lines: lines 1-2 fill the first file, 3-4 the next, 5 the live one.
    let two_lines = line_len(1) + line_len(2);
    assert_eq!(
        line_len(1),
        line_len(7),
        "alerts of the test all have one length"
    );
    let stats = write_all(&file_config(dir.path(), two_lines, 2), 1..=5);
    assert_eq!((stats.lines, stats.rotations), (5, 2));
    let old = read_alerts(&rotated(dir.path(), 2));
    assert_eq!(ids(&old), ["dw1-0000000000000001", "dw1-0000000000000002"]);
    assert_eq!(
        old[0],
        alert(1, 80),
        "the line parses back to the alert written"
    );
    assert_eq!(
        std::fs::metadata(rotated(dir.path(), 2)).unwrap().len(),
        two_lines
    );
    assert_eq!(
        ids_in(dir.path(), 1),
        ["dw1-0000000000000003", "dw1-0000000000000004"]
    );
    assert_eq!(ids_in(dir.path(), 0), ["dw1-0000000000000005"]);
    assert!(!rotated(dir.path(), 3).exists());
}

#[test]
fn reopening_appends_and_counts_the_bytes_already_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = file_config(dir.path(), line_len(1) * 3, 2);
    let first = write_all(&config, [1, 2]);
    assert_eq!((first.lines, first.rotations), (2, 0));
    // A restart: two lines are already there, so the second new line no longer fits.
    let second = write_all(&config, [3, 4]);
    assert_eq!((second.lines, second.rotations), (2, 1));
    assert_eq!(
        ids_in(dir.path(), 1),
        [
            "dw1-0000000000000001",
            "dw1-0000000000000002",
            "dw1-0000000000000003"
        ]
    );
    assert_eq!(ids_in(dir.path(), 0), ["dw1-0000000000000004"]);
    assert!(!rotated(dir.path(), 2).exists());
}

#[test]
fn keep_zero_discards_the_old_file_instead_of_renaming_it() {
    let dir = tempfile::tempdir().unwrap();
    let stats = write_all(&file_config(dir.path(), 1, 0), 1..=3);
    assert_eq!((stats.lines, stats.rotations), (3, 2));
    assert_eq!(ids_in(dir.path(), 0), ["dw1-0000000000000003"]);
    assert!(!rotated(dir.path(), 1).exists());
}

#[test]
fn the_file_sink_creates_missing_parent_directories() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b");
    let stats = write_all(&file_config(&nested, 1 << 20, 2), [9]);
    assert_eq!(stats.lines, 1);
    assert_eq!(ids_in(&nested, 0), ["dw1-0000000000000009"]);
}

#[test]
fn alerts_below_min_severity_are_counted_and_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let config = SinkConfig {
        min_severity: Severity::High,
        ..file_config(dir.path(), 1 << 20, 2)
    };
    let mut sinks = AlertSinks::open(&config).unwrap();
    // Scores 10 (info), 59 (medium), 60 (high), 100 (critical).
    for (n, score) in [(1, 10), (2, 59), (3, 60), (4, 100)] {
        sinks.write(&alert(n, score)).unwrap();
    }
    sinks.flush().unwrap();
    assert_eq!(
        sinks.stats,
        SinkStats {
            lines: 2,
            below_min_severity: 2,
            rotations: 0
        }
    );
    let written = read_alerts(&rotated(dir.path(), 0));
    assert_eq!(
        ids(&written),
        ["dw1-0000000000000003", "dw1-0000000000000004"]
    );
    assert_eq!(written[1].dnsward.severity, Severity::Critical);
}

#[test]
fn no_configured_sink_writes_nothing_and_counts_no_lines() {
    let mut sinks = AlertSinks::open(&SinkConfig::default()).unwrap();
    sinks.write(&alert(1, 80)).unwrap();
    sinks.flush().unwrap();
    assert_eq!(sinks.stats, SinkStats::default());
}
