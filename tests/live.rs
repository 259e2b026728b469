//! Live capture and signals: `dnsward run --interface lo` records a DNS exchange sent over the
//! loopback interface and stops cleanly on SIGTERM; SIGINT in the middle of a long file run
//! stops it cleanly with what it had read in the store.
//!
//! Live capture needs root or CAP_NET_RAW. Without them the live test prints `SKIPPED` and
//! passes, unless `DNSWARD_REQUIRE_LIVE=1`. The signal test on a file needs the shared captures
//! (see `common::shared_pcaps`). Signals are sent with the `kill` command.

// Test code: a panic, unwrap or out-of-range index here is a failed assertion, not a crash on
// input (clippy.toml allows them inside #[test] functions; this extends that to the helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{Read, Write};
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Environment variable that turns a live capture refused for lack of privilege into a failure.
const REQUIRE_LIVE_VAR: &str = "DNSWARD_REQUIRE_LIVE";

/// An unusual port, so that no other DNS traffic on the machine shows up in the capture.
const LIVE_PORT: u16 = 53535;

/// How long a stopped `dnsward run` may take to flush and exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(15);

/// Hand-built: query for `live-test.example` A IN, id 0x4c57, RD.
const QUERY: &[u8] = &[
    0x4c, 0x57, 0x01, 0x00, // id, flags: RD
    0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // qd 1, an 0, ns 0, ar 0
    0x09, b'l', b'i', b'v', b'e', b'-', b't', b'e', b's', b't', // "live-test"
    0x07, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x00, // "example", root
    0x00, 0x01, 0x00, 0x01, // A, IN
];

/// Hand-built: the answer to [`QUERY`], `live-test.example` A 192.0.2.77, TTL 300.
const RESPONSE: &[u8] = &[
    0x4c, 0x57, 0x81, 0x80, // id, flags: QR RD RA, NOERROR
    0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // qd 1, an 1, ns 0, ar 0
    0x09, b'l', b'i', b'v', b'e', b'-', b't', b'e', b's', b't', // "live-test"
    0x07, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x00, // "example", root
    0x00, 0x01, 0x00, 0x01, // A, IN
    0xc0, 0x0c, // pointer to the question name (offset 12)
    0x00, 0x01, 0x00, 0x01, // A, IN
    0x00, 0x00, 0x01, 0x2c, // TTL 300
    0x00, 0x04, 192, 0, 2, 77, // rdlength 4, 192.0.2.77
];

/// A running `dnsward run` whose stderr is collected on a thread.
struct Running {
    child: Child,
    stderr: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dnsward"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting dnsward {args:?}: {e}"));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Running {
            child,
            stderr,
            reader: Some(reader),
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends a signal (`TERM`, `INT`) with the `kill` command.
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{name} failed: {status}");
    }

    /// Waits up to `timeout` for the process to exit; `None` if it is still running.
    fn wait_for(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                if let Some(reader) = self.reader.take() {
                    reader.join().unwrap();
                }
                return Some(status);
            }
            if started.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process (it did not stop by itself) and returns its stderr.
    fn kill(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.stderr()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The last line of `stderr` that parses as a JSON object: the `--stats json` output.
fn stats_from(stderr: &str) -> serde_json::Value {
    stderr
        .lines()
        .rev()
        .filter(|l| l.trim_start().starts_with('{'))
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .unwrap_or_else(|| panic!("no stats JSON on stderr:\n{}", common::tail(stderr, 3000)))
}

fn stat(stats: &serde_json::Value, pointer: &str) -> u64 {
    stats
        .pointer(pointer)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_else(|| panic!("stats have no number at {pointer}: {stats}"))
}

/// `dnsward query --db DB ARGS... --json`, parsed.
fn query(db: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .arg("query")
        .arg("--db")
        .arg(db)
        .args(args)
        .arg("--json")
        .stdin(Stdio::null())
        .output()
        .expect("running dnsward query");
    assert!(
        out.status.success(),
        "dnsward query {args:?} exited with {}; stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Runs `dnsward query --db DB ARGS... --json`; whether it succeeded, and its stderr.
fn query_status(db: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .arg("query")
        .arg("--db")
        .arg(db)
        .args(args)
        .arg("--json")
        .stdin(Stdio::null())
        .output()
        .expect("running dnsward query");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether the failure text says that opening the interface was refused for lack of privilege.
fn is_permission_error(stderr: &str) -> bool {
    let lower = stderr.to_ascii_lowercase();
    ["permission", "not permitted", "eperm", "cap_net_raw"]
        .iter()
        .any(|p| lower.contains(p))
}

fn skip(test: &str, why: &str) {
    let required = std::env::var(REQUIRE_LIVE_VAR).is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{test}: {why}, and {REQUIRE_LIVE_VAR}=1 requires live capture"
    );
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED {test}: {why} (live capture needs root or CAP_NET_RAW; \
         {REQUIRE_LIVE_VAR}=1 makes this a failure)"
    );
}

/// Waits until `run` says "capturing on lo" (the interface is open and filtering). False, after
/// saying the test is skipped, when opening `lo` was refused for lack of privilege; panics when
/// the run ended early for another reason.
fn capturing_on_lo(test: &str, run: &mut Running) -> bool {
    let started = Instant::now();
    while !run.stderr().contains("capturing on lo") && started.elapsed() < Duration::from_secs(30) {
        if run.child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(status) = run.wait_for(Duration::from_millis(100)) {
        let stderr = run.stderr();
        if !status.success() && is_permission_error(&stderr) {
            skip(test, &format!("opening lo was refused: {}", stderr.trim()));
            return false;
        }
        panic!("dnsward run --interface lo exited early with {status}; stderr:\n{stderr}");
    }
    true
}

#[test]
fn live_capture_on_loopback_stores_a_hand_built_exchange_and_stops_on_sigterm() {
    let test = "live_capture_on_loopback_stores_a_hand_built_exchange_and_stops_on_sigterm";
    let db = tempfile::tempdir().unwrap();
    let db_arg = db.path().display().to_string();
    let port = LIVE_PORT.to_string();
    let mut run = Running::start(&[
        "run",
        "--interface",
        "lo",
        "--db",
        &db_arg,
        "--port",
        &port,
        "--sensor-id",
        "live-test",
        "-q",
        "--stats",
        "json",
        "--stats-interval-secs",
        "0",
    ]);
    if !capturing_on_lo(test, &mut run) {
        return;
    }

    let server = UdpSocket::bind(("127.0.0.1", LIVE_PORT))
        .unwrap_or_else(|e| panic!("binding 127.0.0.1:{LIVE_PORT} (in use?): {e}"));
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client.send_to(QUERY, ("127.0.0.1", LIVE_PORT)).unwrap();
    let mut buf = [0u8; 512];
    let (n, from) = server.recv_from(&mut buf).expect("query over loopback");
    assert_eq!(&buf[..n], QUERY);
    server.send_to(RESPONSE, from).unwrap();
    let n = client.recv(&mut buf).expect("response over loopback");
    assert_eq!(&buf[..n], RESPONSE);
    std::thread::sleep(Duration::from_millis(500));
    // The store is open for writing by the run; a query still works (read-only handle). What
    // it lists depends on whether the run has flushed yet, so only success is required here.
    let during = query_status(db.path(), &["live-test.example"]);
    assert!(
        during.0,
        "query while the live run holds the store failed:\n{}",
        during.1
    );

    run.signal("TERM");
    let Some(status) = run.wait_for(EXIT_TIMEOUT) else {
        // Find out whether it is stuck in the capture read: one more captured packet wakes it.
        client.send_to(QUERY, ("127.0.0.1", LIVE_PORT)).unwrap();
        let after_packet = run.wait_for(Duration::from_secs(5));
        let stderr = run.kill();
        let stored = query(db.path(), &["live-test.example"]);
        panic!(
            "dnsward run --interface lo did not exit within {EXIT_TIMEOUT:?} of SIGTERM with \
             the interface idle; after one more packet on port {LIVE_PORT}: {}; the store then \
             held {stored:?}; stderr:\n{}",
            match after_packet {
                Some(status) => format!("exited with {status}"),
                None => "still running (killed)".to_owned(),
            },
            common::tail(&stderr, 3000)
        );
    };
    let stderr = run.stderr();
    assert!(
        status.success(),
        "dnsward run --interface lo exited with {status} after SIGTERM; stderr:\n{stderr}"
    );
    let stats = stats_from(&stderr);
    assert_eq!(stat(&stats, "/messages"), 2, "stats: {stats}");
    assert_eq!(stat(&stats, "/queries"), 1, "stats: {stats}");
    assert_eq!(stat(&stats, "/responses"), 1, "stats: {stats}");

    let lines = query(db.path(), &["live-test.example"]);
    assert_eq!(lines.len(), 1, "query live-test.example: {lines:?}");
    let line = &lines[0];
    assert_eq!(line["rrname"], "live-test.example", "{line}");
    assert_eq!(line["rrtype"], "A", "{line}");
    assert_eq!(line["rdata"], "192.0.2.77", "{line}");
    assert_eq!(line["count"], 1, "{line}");
    assert_eq!(line["bailiwick"], "live-test.example", "{line}");
    assert_eq!(
        line["sensor_id"],
        serde_json::json!(["live-test"]),
        "{line}"
    );
    assert_eq!(line["time_first"], line["time_last"], "{line}");
}

/// The guessing-attack capture: 65,535 spoofed answers `4566.example.com A 6.6.6.6`.
const LONG_CAPTURE: &str = "pops__guessing_attack_rand_6218.pcap.gz";

/// How many times the capture is given on the command line, so that the run lasts seconds.
const LONG_CAPTURE_REPEATS: usize = 100;

#[test]
fn sigint_during_a_long_file_run_exits_cleanly_with_what_was_read_in_the_store() {
    let test = "sigint_during_a_long_file_run_exits_cleanly_with_what_was_read_in_the_store";
    let Some(dir) = common::shared_pcaps(test) else {
        return;
    };
    let capture = dir.join(LONG_CAPTURE);
    // tshark decodes one DNS message per frame here; each copy has that many.
    let per_copy = common::read_text(&common::golden_path(&capture))
        .lines()
        .skip(1)
        .count() as u64;
    let db = tempfile::tempdir().unwrap();
    let db_arg = db.path().display().to_string();
    let capture_arg = capture.display().to_string();
    let mut args = vec!["run", "--pcap"];
    args.extend(std::iter::repeat_n(
        capture_arg.as_str(),
        LONG_CAPTURE_REPEATS,
    ));
    args.extend(["--db", &db_arg, "-q", "--stats", "json"]);
    let mut run = Running::start(&args);
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        run.wait_for(Duration::ZERO).is_none(),
        "the run over {LONG_CAPTURE_REPEATS} copies of {LONG_CAPTURE} ended within 1 s, \
         before SIGINT; stderr:\n{}",
        run.stderr()
    );
    let during = query_status(db.path(), &["4566.example.com"]);
    assert!(
        during.0,
        "query while the run holds the store failed:\n{}",
        during.1
    );
    run.signal("INT");
    let Some(status) = run.wait_for(EXIT_TIMEOUT) else {
        let stderr = run.kill();
        panic!(
            "dnsward run did not exit within {EXIT_TIMEOUT:?} of SIGINT (killed); stderr:\n{}",
            common::tail(&stderr, 3000)
        );
    };
    let stderr = run.stderr();
    assert!(
        status.success(),
        "dnsward run exited with {status} after SIGINT; stderr:\n{}",
        common::tail(&stderr, 3000)
    );
    let stats = stats_from(&stderr);
    let messages = stat(&stats, "/messages");
    let responses = stat(&stats, "/responses");
    let total = per_copy * LONG_CAPTURE_REPEATS as u64;
    eprintln!("SIGINT after {messages} of {total} messages ({responses} responses)");
    assert!(
        messages > 0 && messages < total,
        "expected the interrupted run to have read some but not all {total} messages: {stats}"
    );

    // The store opens (the run released it) and holds exactly what was read: the counts of
    // all its tuples add up to the records the run aggregated (SIGINT flushes everything).
    let aggregated = stat(&stats, "/pdns_records");
    let golden = common::read_text(&common::golden_path(&capture));
    let mut lines = golden.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let name_column = header.iter().position(|h| *h == "dns.resp.name").unwrap();
    let mut top_level = std::collections::BTreeSet::new();
    for line in lines {
        let owners = line.split('\t').nth(name_column).unwrap_or("");
        for owner in owners
            .split(',')
            .filter(|o| !o.is_empty() && *o != "<Root>")
        {
            let label = owner.trim_end_matches('.').rsplit('.').next().unwrap();
            top_level.insert(label.to_ascii_lowercase());
        }
    }
    let mut stored = 0;
    for label in &top_level {
        for name in [format!("*.{label}"), label.clone()] {
            stored += query(db.path(), &[&name])
                .iter()
                .map(|l| l["count"].as_u64().unwrap())
                .sum::<u64>();
        }
    }
    assert_eq!(
        stored, aggregated,
        "the store's counts (names under {top_level:?}) do not add up to the {aggregated} \
         records the interrupted run aggregated"
    );
    let lines = query(db.path(), &["4566.example.com", "--type", "A"]);
    let answer = lines
        .iter()
        .find(|l| l["rdata"] == "6.6.6.6" && l["bailiwick"] == "4566.example.com")
        .unwrap_or_else(|| panic!("no 4566.example.com A 6.6.6.6 answer in the store: {lines:?}"));
    let count = answer["count"].as_u64().unwrap();
    assert!(
        count > 0 && count <= responses,
        "4566.example.com A 6.6.6.6 count {count}, but the run read {responses} responses"
    );
}

/// Another port, so that this test and the one above can capture on `lo` at the same time.
const ALERT_PORT: u16 = 53536;

/// [`RESPONSE`] with another transaction id and address.
fn response_with(txid: u16, addr: [u8; 4]) -> Vec<u8> {
    let mut r = RESPONSE.to_vec();
    r[..2].copy_from_slice(&txid.to_be_bytes());
    let n = r.len();
    r[n - 4..].copy_from_slice(&addr);
    r
}

#[test]
fn live_capture_raises_an_alert_while_running() {
    let test = "live_capture_raises_an_alert_while_running";
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let alerts = dir.path().join("alerts.jsonl");
    let (db_arg, alerts_arg) = (db.display().to_string(), alerts.display().to_string());
    let port = ALERT_PORT.to_string();
    // A zone of its own, established after three answers (no learning period).
    let mut run = Running::start(&[
        "run",
        "--interface",
        "lo",
        "--db",
        &db_arg,
        "--port",
        &port,
        "--no-default-watchlist",
        "--watch-zone",
        "live-test.example",
        "--learning-days",
        "0",
        "--min-observations",
        "3",
        "--alerts-file",
        &alerts_arg,
        "-q",
        "--stats",
        "json",
        "--stats-interval-secs",
        "0",
    ]);
    if !capturing_on_lo(test, &mut run) {
        return;
    }
    // A resolver on loopback answers the watched name three times, then with an address in a
    // new network: only the answers are needed.
    let resolver = UdpSocket::bind("127.0.0.1:0").unwrap();
    for (i, addr) in [[192, 0, 2, 77]; 3]
        .into_iter()
        .chain([[203, 0, 113, 9]])
        .enumerate()
    {
        resolver
            .send_to(
                &response_with(0x1000 + i as u16, addr),
                ("127.0.0.1", ALERT_PORT),
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    // The alert reaches the file while the capture still runs.
    let started = Instant::now();
    let line = loop {
        let text = std::fs::read_to_string(&alerts).unwrap_or_default();
        if let Some(line) = text.lines().next() {
            break line.to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no alert within 10 s; stderr:\n{}",
            run.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let alert: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(alert["event"]["action"], "opened", "{alert}");
    assert_eq!(alert["rule"]["name"], "new_rdata", "{alert}");
    assert_eq!(
        alert["dns"]["question"]["name"], "live-test.example",
        "{alert}"
    );
    assert_eq!(
        alert["dnsward"]["observed"][0]["data"], "203.0.113.9",
        "{alert}"
    );
    assert_eq!(
        alert["dnsward"]["baseline"][0]["data"], "192.0.2.77",
        "{alert}"
    );
    // No IP-to-AS table: a new prefix is medium.
    assert_eq!(alert["dnsward"]["severity"], "medium", "{alert}");
    assert_eq!(
        alert["dnsward"]["resolvers"],
        serde_json::json!(["127.0.0.1"])
    );
    assert_eq!(
        alert["dnsward"]["evidence"][0]["file"],
        serde_json::Value::Null
    );
    assert_eq!(
        alert["dnsward"]["evidence"][0]["interface"], "lo",
        "{alert}"
    );

    run.signal("TERM");
    let status = run.wait_for(EXIT_TIMEOUT);
    let stderr = run.kill();
    assert!(
        status.is_some_and(|s| s.success()),
        "did not exit cleanly after SIGTERM: {status:?}; stderr:\n{stderr}"
    );
    let stats = stats_from(&stderr);
    assert_eq!(
        stat(&stats, "/analysis/analyzer/episodes_opened"),
        1,
        "{stats}"
    );
    assert_eq!(stat(&stats, "/answers_handed_over"), 4, "{stats}");
}
