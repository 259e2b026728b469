//! Helpers shared by the integration tests: where the public captures live, running the
//! `dnsward` binary on a capture, and reading the observations it writes.
//!
//! The captures (`/work/shared/pcaps`, see its README.md and SOURCES.md) live outside the
//! repository. [`shared_pcaps`] finds them; when they are missing the calling test says so on
//! stderr and passes, unless `DNSWARD_REQUIRE_SHARED_PCAPS=1` (set in CI) makes that a failure.

// Each integration test crate compiles this module and uses a different subset of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where the public captures are, unless `DNSWARD_SHARED_PCAPS` names another directory.
pub const DEFAULT_PCAPS_DIR: &str = "/work/shared/pcaps";

/// Environment variable that turns missing captures into a test failure (CI sets it to `1`).
pub const REQUIRE_PCAPS_VAR: &str = "DNSWARD_REQUIRE_SHARED_PCAPS";

/// Environment variable naming the capture directory.
pub const PCAPS_DIR_VAR: &str = "DNSWARD_SHARED_PCAPS";

/// How long one `dnsward run` may take before the test gives up on it.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// The capture directory, or `None` (after saying so on stderr) when it does not exist and
/// captures are not required. Panics when they are required but missing.
pub fn shared_pcaps(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os(PCAPS_DIR_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PCAPS_DIR));
    if dir.join("golden").is_dir() {
        return Some(dir);
    }
    let required = std::env::var(REQUIRE_PCAPS_VAR).is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{test}: the shared captures are missing ({} has no golden/ directory) and \
         {REQUIRE_PCAPS_VAR}=1 requires them",
        dir.display()
    );
    // Written to the real stderr, not through the test harness's captured `eprintln!`, so the
    // skip is visible in a normal `cargo test` run.
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED {test}: shared captures not found at {} (set {PCAPS_DIR_VAR} to their \
         directory; {REQUIRE_PCAPS_VAR}=1 makes this a failure)",
        dir.display()
    );
    None
}

/// Every capture in `dir` (`.pcap`, `.pcapng`, `.pcap.gz`), sorted by file name.
pub fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            let name = file_name(p);
            p.is_file()
                && (name.ends_with(".pcap")
                    || name.ends_with(".pcapng")
                    || name.ends_with(".pcap.gz"))
        })
        .collect();
    files.sort();
    files
}

/// The file name of `path` as text.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The tshark decoding of `capture`: `golden/NAME.tsv`, or `golden/NAME.tsv.gz` for a
/// gzipped `NAME.gz` capture.
pub fn golden_path(capture: &Path) -> PathBuf {
    let name = file_name(capture);
    let dir = capture
        .parent()
        .map(|p| p.join("golden"))
        .unwrap_or_default();
    match name.strip_suffix(".gz") {
        Some(stem) => dir.join(format!("{stem}.tsv.gz")),
        None => dir.join(format!("{name}.tsv")),
    }
}

/// Reads a text file, gunzipping it when its name ends in `.gz`; invalid UTF-8 is replaced.
pub fn read_text(path: &Path) -> String {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let bytes = if file_name(path).ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("gunzipping {}: {e}", path.display()));
        out
    } else {
        raw
    };
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Runs `dnsward run --pcap CAPTURE --no-store --emit json=FILE --sensor-id SENSOR` and returns
/// the JSON lines it wrote, or a description of how it failed.
pub fn run_dnsward(capture: &Path, sensor_id: &str) -> Result<Vec<String>, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let out = dir.path().join("observations.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .arg("run")
        .arg("--pcap")
        .arg(capture)
        .arg("--no-store")
        .arg("--emit")
        .arg(format!("json={}", out.display()))
        .arg("--sensor-id")
        .arg(sensor_id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting dnsward: {e}"))?;
    // Drain stderr on a thread so a chatty child cannot block on a full pipe.
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_string(&mut text);
        }
        text
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > RUN_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "dnsward run on {} did not finish within {RUN_TIMEOUT:?}",
                    capture.display()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for dnsward: {e}")),
        }
    };
    let stderr = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!(
            "dnsward run on {} exited with {status}; stderr:\n{}",
            capture.display(),
            tail(&stderr, 2000)
        ));
    }
    let text = std::fs::read_to_string(&out)
        .map_err(|e| format!("reading dnsward output {}: {e}", out.display()))?;
    Ok(text.lines().map(str::to_owned).collect())
}

/// Parses JSON lines into observations; a line that does not parse becomes an error naming it.
pub fn parse_observations(lines: &[String]) -> Vec<Result<schemas::Observation, String>> {
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .map_err(|e| format!("line {}: {e}: {}", i + 1, head(line, 300)))
        })
        .collect()
}

/// The first `max` bytes of `text` (on a character boundary), for error messages.
pub fn head(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The last `max` bytes of `text` (on a character boundary), for error messages.
pub fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// A response observation with every optional field present, for tests that need one without
/// running the sensor. Hand-built (example.com A 192.0.2.1 with cookies and client subnet).
pub fn sample_observation() -> schemas::Observation {
    use schemas::{
        Anomaly, CaptureSource, ClientSubnet, DnsFlags, DnsName, Edns, EdnsOption,
        FragmentEvidence, Observation, Question, Record, SectionCounts, Transport,
    };
    let name = |n: &str| DnsName {
        wire: n.to_owned(),
        canonical: n.to_ascii_lowercase(),
    };
    Observation {
        record_type: "observation".to_owned(),
        schema_version: schemas::OBSERVATION_SCHEMA_VERSION,
        time_ns: 1_591_780_863_973_180_000,
        sensor_id: "test".to_owned(),
        source: CaptureSource {
            file: Some("sample.pcap".to_owned()),
            interface: Some("eth0".to_owned()),
            frame: 1,
        },
        ip_version: 4,
        src_ip: std::net::IpAddr::from([192, 0, 2, 53]),
        dst_ip: std::net::IpAddr::from([192, 0, 2, 10]),
        src_port: 53,
        dst_port: 40000,
        transport: Transport::Udp,
        ip_ttl: 64,
        ip_id: Some(0x1234),
        fragments: Some(FragmentEvidence {
            count: 2,
            overlaps: 0,
            inconsistent: 0,
        }),
        dns_len: 100,
        txid: 0xbeef,
        opcode: 0,
        rcode: 0,
        flags: DnsFlags {
            qr: true,
            aa: false,
            tc: false,
            rd: true,
            ra: true,
            z: false,
            ad: false,
            cd: false,
        },
        counts: SectionCounts {
            qd: 1,
            an: 1,
            ns: 0,
            ar: 1,
        },
        questions: vec![Question {
            name: name("Example.com"),
            qtype: 1,
            qtype_name: "A".to_owned(),
            qclass: 1,
        }],
        answers: vec![Record {
            name: name("Example.com"),
            rtype: 1,
            rtype_name: "A".to_owned(),
            class: 1,
            ttl: 300,
            rdata: "192.0.2.1".to_owned(),
        }],
        authority: Vec::new(),
        additional: Vec::new(),
        edns: Some(Edns {
            version: 0,
            udp_size: 1232,
            dnssec_ok: true,
            extended_rcode: 0,
            options: vec![
                EdnsOption {
                    code: 10,
                    name: "cookie".to_owned(),
                    data: "0102030405060708a0a1a2a3a4a5a6a7".to_owned(),
                },
                EdnsOption {
                    code: 8,
                    name: "client_subnet".to_owned(),
                    data: "00011800c00002".to_owned(),
                },
            ],
            client_cookie: Some("0102030405060708".to_owned()),
            server_cookie: Some("a0a1a2a3a4a5a6a7".to_owned()),
            client_subnet: Some(ClientSubnet {
                family: 1,
                source_prefix: 24,
                scope_prefix: 0,
                address: "192.0.2.0".to_owned(),
            }),
        }),
        anomalies: vec![Anomaly::Fragmented],
        pairing: Some(schemas::PairingInfo {
            verdict: "txid_mismatch".to_owned(),
            query_frame: Some(1),
            rtt_ns: Some(1_000),
            expected_txid: Some(0x99ab),
            expected_port: Some(53_000),
            first_response_frame: Some(2),
        }),
        findings: vec![schemas::WireFinding {
            check: "out_of_zone_glue".to_owned(),
            record: Some("ns.abc.com A 6.6.6.6".to_owned()),
            zone: Some("example.com".to_owned()),
            expected: Some("ttl 57".to_owned()),
            seen: Some("ttl 64".to_owned()),
        }],
        dnssec_message: Some(vec![0x12, 0x34, 0xab]),
    }
}

/// `dnsward run` into a fresh store, then `dnsward alerts --json`.
pub fn alerts(capture: &Path) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let run = Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .args(["run", "--quiet", "--pcap"])
        .arg(capture)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .args(["alerts", "--json", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
