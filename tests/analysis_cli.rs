//! The analysis commands end to end on the bundled demo capture: `dnsward run` with the
//! analyzer, `dnsward alerts`, `dnsward watch list` and `dnsward baseline
//! export|import|show|accept`, each on a real RocksDB store in a temporary directory.
//!
//! `samples/cert-cc.pcap` is 8 days of resolver traffic in which resolver 10.0.1.53 hands out
//! `gmail-smtp-in.l.google.com A 203.0.113.66` (AS64511 in `samples/asn-sample.csv`) for about
//! two hours; `samples/cert-cc.truth.json` says when. With the default settings that is exactly
//! one alert: `new_rdata`, critical, score 100, closed because the resolver reverted.

// Test code: a panic, unwrap or out-of-range index here is a failed assertion, not a crash on
// input (clippy.toml allows them inside #[test] functions; this extends that to the helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use schemas::alert::{Alert, AlertAction, ClosedReason, EpisodeStatus, RdataInfo, Severity};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The poisoned name (type A), the resolver that handed out the poison, and the poison.
const NAME: &str = "gmail-smtp-in.l.google.com";
const RESOLVER: &str = "10.0.1.53";
const BAD: &str = "203.0.113.66";

const NS_PER_SEC: u64 = 1_000_000_000;

fn sample(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(file)
}

/// What `samples/cert-cc.truth.json` says about the capture and its one event.
struct Truth {
    capture_end_ns: u64,
    history_end_ns: u64,
    first_bad_ns: u64,
    last_bad_ns: u64,
    good_rdata: Vec<String>,
}

fn truth() -> Truth {
    let text = std::fs::read_to_string(sample("cert-cc.truth.json")).unwrap();
    let t: Value = serde_json::from_str(&text).unwrap();
    let event = &t["events"][0];
    assert_eq!(event["name"], NAME);
    assert_eq!(event["resolvers"], json!([RESOLVER]));
    assert_eq!(event["bad_rdata"], json!([BAD]));
    Truth {
        capture_end_ns: t["capture_end_ns"].as_u64().unwrap(),
        history_end_ns: t["history_end_ns"].as_u64().unwrap(),
        first_bad_ns: event["first_bad_ns"].as_u64().unwrap(),
        last_bad_ns: event["last_bad_ns"].as_u64().unwrap(),
        good_rdata: event["good_rdata"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect(),
    }
}

/// A temporary directory; `path` names a file or store in it as the `&str` the CLI takes.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Scratch {
        Scratch(tempfile::tempdir().unwrap())
    }

    fn path(&self, name: &str) -> String {
        self.0.path().join(name).to_str().unwrap().to_owned()
    }
}

/// What a finished `dnsward` process printed.
struct Printed {
    stdout: String,
    stderr: String,
}

/// Runs `dnsward ARGS`, expecting `success` (or failure), and returns what it printed.
fn dnsward_expecting(success: bool, args: &[&str]) -> Printed {
    let output = Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .args(args)
        .output()
        .unwrap();
    let printed = Printed {
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    };
    assert_eq!(
        output.status.success(),
        success,
        "dnsward {args:?} exited with {}\nstdout: {}\nstderr: {}",
        output.status,
        printed.stdout,
        printed.stderr
    );
    printed
}

fn dnsward(args: &[&str]) -> Printed {
    dnsward_expecting(true, args)
}

/// `dnsward run --quiet --stats json` on `pcap` into `db` with the sample IP-to-AS table;
/// returns the stats object.
fn analyse(pcap: &str, db: &str, extra: &[&str]) -> Value {
    let table = sample("asn-sample.csv");
    let mut args = vec![
        "run", "--quiet", "--stats", "json", "--pcap", pcap, "--db", db,
    ];
    args.extend(["--asn-table", table.to_str().unwrap()]);
    args.extend(extra);
    let printed = dnsward(&args);
    let last = printed.stderr.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("stats are not JSON ({e}): {last}"))
}

fn cert_cc() -> String {
    sample("cert-cc.pcap").to_str().unwrap().to_owned()
}

/// An analyzer counter from `--stats json`.
fn counter(stats: &Value, name: &str) -> u64 {
    stats["analysis"]["analyzer"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no analysis.analyzer.{name} in {stats}"))
}

/// Parses JSON lines as alerts (strictly: unknown fields are refused).
fn parse_alerts(text: &str) -> Vec<Alert> {
    text.lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not an alert ({e}): {line}"))
        })
        .collect()
}

/// `dnsward alerts --json --db DB FILTER...`.
fn stored_alerts(db: &str, filter: &[&str]) -> Vec<Alert> {
    let mut args = vec!["alerts", "--json", "--db", db];
    args.extend(filter);
    parse_alerts(&dnsward(&args).stdout)
}

fn rdata_of(infos: &[RdataInfo]) -> Vec<&str> {
    infos.iter().map(|i| i.data.as_str()).collect()
}

/// Copies `samples/cert-cc.pcap` (classic pcap, little-endian, microseconds) to `to`, keeping
/// the global header and the records whose packet time passes `keep`; returns how many.
fn slice_capture(to: &str, keep: impl Fn(u64) -> bool) -> usize {
    let bytes = std::fs::read(sample("cert-cc.pcap")).unwrap();
    assert_eq!(
        bytes[..4],
        [0xd4, 0xc3, 0xb2, 0xa1],
        "not a LE microsecond pcap"
    );
    let field = |at: usize| u64::from(u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()));
    let mut out = bytes[..24].to_vec();
    let (mut at, mut kept) = (24, 0);
    while at < bytes.len() {
        let time_ns = field(at) * NS_PER_SEC + field(at + 4) * 1_000;
        let end = at + 16 + usize::try_from(field(at + 8)).unwrap();
        if keep(time_ns) {
            out.extend_from_slice(&bytes[at..end]);
            kept += 1;
        }
        at = end;
    }
    assert_eq!(at, bytes.len(), "the last record is cut short");
    std::fs::write(to, out).unwrap();
    kept
}

/// Checks the one alert of a whole run of the sample capture, as `dnsward alerts` stores it.
fn assert_the_sample_alert(alert: &Alert, truth: &Truth) {
    let id = &alert.event.id;
    assert_eq!(id.len(), 20, "{id}");
    assert!(id.starts_with("dw1-"), "{id}");
    assert!(id[4..]
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(alert.rule.name, "new_rdata");
    assert_eq!(alert.dnsward.detector, "new_rdata");
    assert_eq!(alert.dnsward.severity, Severity::Critical);
    assert_eq!(alert.dnsward.score, 100);
    assert_eq!(alert.event.severity, 100);
    assert_eq!(alert.event.action, AlertAction::Closed);
    assert_eq!(alert.dns.question.name, NAME);
    assert_eq!(alert.dns.question.rtype, "A");
    assert_eq!(alert.source.ip.to_string(), RESOLVER);
    let resolvers: Vec<String> = alert
        .dnsward
        .resolvers
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(resolvers, [RESOLVER]);
    assert_eq!(
        alert.dnsward.observed,
        [RdataInfo {
            data: BAD.to_owned(),
            prefix: Some("203.0.113.0/24".to_owned()),
            asn: Some(64511),
            as_org: Some("BULLETPROOF-HOSTING-EXAMPLE".to_owned()),
        }]
    );
    assert_eq!(rdata_of(&alert.dnsward.baseline), truth.good_rdata);
    assert!(alert.dnsward.baseline.iter().all(|b| b.asn == Some(15169)));
    assert_eq!(alert.dnsward.status, EpisodeStatus::Closed);
    assert_eq!(alert.dnsward.closed_reason, Some(ClosedReason::Reverted));
    assert_eq!(alert.dnsward.first_seen_ns, truth.first_bad_ns);
    assert_eq!(alert.dnsward.last_seen_ns, truth.last_bad_ns);
    let closed = alert.dnsward.closed_ns.unwrap();
    assert!(
        closed > truth.last_bad_ns && closed <= truth.capture_end_ns,
        "closed at {closed}"
    );
    assert_eq!(
        alert.dnsward.watched_because,
        "learnt: MX target of gmail.com (gmail.com)"
    );
    // Every diverging response is in the evidence, all from the resolver, the first one first.
    assert_eq!(alert.dnsward.responses, 3);
    assert_eq!(alert.dnsward.clients_affected, 1);
    assert_eq!(alert.dnsward.evidence.len(), 3);
    assert_eq!(alert.dnsward.evidence_dropped, 0);
    assert_eq!(alert.dnsward.evidence[0].time_ns, truth.first_bad_ns);
    assert_eq!(alert.dnsward.evidence[2].time_ns, truth.last_bad_ns);
    for e in &alert.dnsward.evidence {
        assert_eq!(e.src_ip.to_string(), RESOLVER);
        assert_eq!(e.file.as_deref(), Some(cert_cc().as_str()));
    }
    let reasons = &alert.dnsward.reasons;
    assert!(reasons.first().unwrap().contains("AS64511"), "{reasons:?}");
    assert!(
        reasons.last().unwrap().starts_with("reverted after"),
        "{reasons:?}"
    );
}

#[test]
fn the_sample_capture_raises_one_critical_new_rdata_alert_that_reverted() {
    let scratch = Scratch::new();
    let (db, sink) = (scratch.path("db"), scratch.path("alerts.jsonl"));
    let stats = analyse(&cert_cc(), &db, &["--alerts-file", &sink]);
    let truth = truth();
    let alerts = stored_alerts(&db, &[]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_the_sample_alert(&alerts[0], &truth);
    // The file sink holds the state changes, and only those: opened, then closed.
    let lines = parse_alerts(&std::fs::read_to_string(&sink).unwrap());
    let actions: Vec<AlertAction> = lines.iter().map(|l| l.event.action).collect();
    assert_eq!(actions, [AlertAction::Opened, AlertAction::Closed]);
    assert!(lines.iter().all(|l| l.event.id == alerts[0].event.id));
    assert_eq!(lines[0].dnsward.status, EpisodeStatus::Open);
    assert_eq!(lines[0].dnsward.closed_reason, None);
    assert_eq!(lines[0].dnsward.first_seen_ns, truth.first_bad_ns);
    assert_eq!(lines[0].timestamp, lines[0].event.start);
    assert_eq!(lines[1], alerts[0], "the closing line is the stored state");
    // The counters agree.
    assert_eq!(counter(&stats, "episodes_opened"), 1);
    assert_eq!(counter(&stats, "episodes_closed"), 1);
    assert_eq!(counter(&stats, "alerts_notified"), 2);
    assert_eq!(stats["analysis"]["sinks"]["lines"], 2);
    assert_eq!(stats["analysis"]["open_episodes"], 0);
}

#[test]
fn alerts_are_the_same_in_fresh_stores_and_with_any_worker_count() {
    let scratch = Scratch::new();
    let mut outcomes = Vec::new();
    for (name, extra) in [
        ("default", &[][..]),
        ("again", &[][..]),
        ("one-worker", &["--workers", "1"][..]),
        ("two-workers", &["--workers", "2"][..]),
    ] {
        let (db, sink) = (scratch.path(name), scratch.path(&format!("{name}.jsonl")));
        let mut args = vec!["--alerts-file", sink.as_str()];
        args.extend(extra);
        analyse(&cert_cc(), &db, &args);
        let lines = std::fs::read_to_string(&sink).unwrap();
        outcomes.push((name, stored_alerts(&db, &[]), lines));
    }
    let (_, first_alerts, first_lines) = &outcomes[0];
    assert_eq!(first_alerts.len(), 1);
    assert_eq!(first_lines.lines().count(), 2);
    for (name, alerts, lines) in &outcomes[1..] {
        assert_eq!(alerts[0].event.id, first_alerts[0].event.id, "{name}");
        assert_eq!(alerts, first_alerts, "{name}: stored alerts differ");
        assert_eq!(lines, first_lines, "{name}: sink lines differ");
    }
}

#[test]
fn a_learning_period_longer_than_the_capture_raises_nothing() {
    let scratch = Scratch::new();
    let db = scratch.path("db");
    let stats = analyse(&cert_cc(), &db, &["--learning-days", "30"]);
    assert_eq!(stored_alerts(&db, &[]), []);
    assert_eq!(counter(&stats, "episodes_opened"), 0);
    // Every answer about a watched rrset was still learning.
    assert!(counter(&stats, "watched_rrsets") > 0);
    assert_eq!(
        counter(&stats, "learning"),
        counter(&stats, "watched_rrsets")
    );
    assert_eq!(dnsward(&["alerts", "--db", &db]).stdout.trim(), "no alerts");
}

#[test]
fn no_analyze_writes_no_alerts_and_no_analysis_stats() {
    let scratch = Scratch::new();
    let (db, sink) = (scratch.path("db"), scratch.path("alerts.jsonl"));
    let pcap = cert_cc();
    let run = |db: &str, no_analyze: bool| {
        let mut args = vec!["run", "--quiet", "--pcap", &pcap, "--db", db];
        args.extend(["--alerts-file", &sink]);
        if no_analyze {
            args.push("--no-analyze");
        }
        dnsward(&args).stderr
    };
    let analysed = run(&scratch.path("analysed"), false);
    assert!(
        analysed.lines().any(|l| l.starts_with("analysis: ")),
        "{analysed}"
    );
    std::fs::remove_file(&sink).unwrap();
    let text_stats = run(&db, true);
    assert!(
        !text_stats.lines().any(|l| l.starts_with("analysis")),
        "{text_stats}"
    );
    assert!(
        text_stats.lines().any(|l| l.starts_with("store: ")),
        "{text_stats}"
    );
    assert_eq!(stored_alerts(&db, &[]), []);
    assert!(
        !Path::new(&sink).exists(),
        "--no-analyze wrote an alert file"
    );
    let json_stats = analyse(&pcap, &scratch.path("json"), &["--no-analyze"]);
    assert_eq!(json_stats.get("analysis"), None, "{json_stats}");
    // The capture was still decoded and stored.
    assert_eq!(json_stats["responses"], 4557);
    assert_eq!(json_stats["store"]["tuples_received"], 1089);
}

#[test]
fn alerts_filters_select_by_severity_name_time_and_state() {
    let scratch = Scratch::new();
    let db = scratch.path("db");
    analyse(&cert_cc(), &db, &[]);
    let truth = truth();
    let after_end = (truth.capture_end_ns / NS_PER_SEC + 1).to_string();
    let before_episode = (truth.first_bad_ns / NS_PER_SEC - 3600).to_string();
    // `--since` compares with the latest of last seen and closed: the episode closed after its
    // last diverging answer.
    let closed_secs = stored_alerts(&db, &[])[0].dnsward.closed_ns.unwrap() / NS_PER_SEC;
    let (at_close, after_close) = (closed_secs.to_string(), (closed_secs + 1).to_string());
    let cases: [(&[&str], usize); 14] = [
        (&[], 1),
        (&["--severity", "critical"], 1),
        (&["--severity", "info"], 1),
        (&["--name", NAME], 1),
        (&["--name", "*.google.com"], 1),
        (&["--name", "*.l.google.com"], 1),
        (&["--name", "gmail.com"], 0),
        (&["--name", "*.gmail.com"], 0),
        (&["--since", &before_episode], 1),
        (&["--since", &at_close], 1),
        (&["--since", &after_close], 0),
        (&["--since", &after_end], 0),
        (&["--since", "2026-01-10"], 0),
        (&["--open"], 0),
    ];
    let mut wrong = Vec::new();
    for (filter, expected) in cases {
        let found = stored_alerts(&db, filter);
        if found.len() != expected {
            wrong.push(format!(
                "{filter:?}: {} alerts, expected {expected}",
                found.len()
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    let none = dnsward(&["alerts", "--db", &db, "--open"]);
    assert_eq!(none.stdout.trim(), "no alerts");
}

#[test]
fn the_text_listing_shows_id_severity_resolver_and_both_rdata_sets() {
    let scratch = Scratch::new();
    let db = scratch.path("db");
    analyse(&cert_cc(), &db, &[]);
    let id = stored_alerts(&db, &[])[0].event.id.clone();
    let text = dnsward(&["alerts", "--db", &db, "--severity", "critical"]).stdout;
    let first = text.lines().next().unwrap();
    assert_eq!(
        first.split_whitespace().collect::<Vec<_>>(),
        [
            id.as_str(),
            "CRITICAL",
            "100",
            "new_rdata",
            NAME,
            "A",
            "[closed",
            "(reverted)]"
        ]
    );
    let line_with = |label: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} line in:\n{text}"))
    };
    assert!(line_with("resolvers").contains(RESOLVER));
    assert!(line_with("observed").contains("203.0.113.66 (AS64511"));
    let baseline = line_with("baseline");
    for good in truth().good_rdata {
        assert!(
            baseline.contains(&format!("{good} (AS15169")),
            "{good}: {baseline}"
        );
    }
    assert!(!baseline.contains(BAD));
}

/// `dnsward watch list --json` entries by name.
fn watch_entries(args: &[&str]) -> BTreeMap<String, Value> {
    let mut all = vec!["watch", "list", "--json"];
    all.extend(args);
    dnsward(&all)
        .stdout
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            (v["name"].as_str().unwrap().to_owned(), v)
        })
        .collect()
}

#[test]
fn watch_list_shows_default_learnt_and_configured_entries() {
    let scratch = Scratch::new();
    let db = scratch.path("db");
    let stats = analyse(&cert_cc(), &db, &[]);
    let entries = watch_entries(&["--db", &db]);
    assert_eq!(
        entries["gmail.com"],
        json!({"name": "gmail.com", "scope": "zone", "reason": {"kind": "default_mail"}})
    );
    let learnt = &entries[NAME];
    assert_eq!(learnt["scope"], "learnt");
    let reason = &learnt["reason"];
    assert_eq!(
        (&reason["kind"], &reason["zone"], &reason["via"]),
        (&json!("learnt"), &json!("gmail.com"), &json!("MX"))
    );
    let since = reason["first_seen_ns"].as_u64().unwrap();
    assert!(since < truth().history_end_ns, "learnt at {since}");
    assert_eq!(reason.as_object().unwrap().len(), 4, "{reason}");
    // Every learnt target is listed.
    let learnt_count = entries.values().filter(|e| e["scope"] == "learnt").count();
    assert_eq!(
        learnt_count as u64,
        stats["analysis"]["learnt_targets"].as_u64().unwrap()
    );
    assert_eq!(learnt_count, 10);
    assert!(!entries.contains_key("bank.example"));

    let config = scratch.path("dnsward.toml");
    std::fs::write(&config, "[watch]\nzones = [\"bank.example\"]\n").unwrap();
    let configured = watch_entries(&["--db", &db, "--config", &config]);
    assert_eq!(
        configured["bank.example"],
        json!({"name": "bank.example", "scope": "zone", "reason": {"kind": "configured_zone"}})
    );
    assert_eq!(configured[NAME], *learnt);
    assert_eq!(configured.len(), entries.len() + 1);
}

#[test]
fn baseline_export_import_export_round_trips() {
    let scratch = Scratch::new();
    let (db, copy) = (scratch.path("db"), scratch.path("copy"));
    let (first, second) = (scratch.path("first.jsonl"), scratch.path("second.jsonl"));
    let stats = analyse(&cert_cc(), &db, &[]);
    let exported = dnsward(&["baseline", "export", "--db", &db, "--out", &first]);
    assert!(
        exported.stderr.contains("exported 8 baselines"),
        "{}",
        exported.stderr
    );
    let imported = dnsward(&["baseline", "import", "--db", &copy, &first]);
    assert!(
        imported.stderr.contains("imported 8 baselines"),
        "{}",
        imported.stderr
    );
    dnsward(&["baseline", "export", "--db", &copy, "--out", &second]);
    let (a, b) = (
        std::fs::read_to_string(&first).unwrap(),
        std::fs::read_to_string(&second).unwrap(),
    );
    assert_eq!(a.lines().count(), 8);
    assert_eq!(stats["analysis"]["baselines"], 8);
    assert_eq!(a, b, "export after import differs from the first export");
    // Without --out the lines go to stdout, identically.
    assert_eq!(dnsward(&["baseline", "export", "--db", &copy]).stdout, a);
    let ours = a
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["name"] == NAME && v["type"] == "A")
        .unwrap();
    let mut known: Vec<&str> = ours["rdata"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    known.sort_unstable();
    let mut good = truth().good_rdata;
    good.sort_unstable();
    assert_eq!(known, good, "the poisoned address is not in the baseline");
}

#[test]
fn importing_query_json_output_creates_a_baseline_with_those_rdata() {
    let scratch = Scratch::new();
    let (db, fresh, cof) = (
        scratch.path("db"),
        scratch.path("fresh"),
        scratch.path("mx.cof"),
    );
    analyse(&cert_cc(), &db, &[]);
    let query = dnsward(&["query", "--db", &db, "--json", "--type", "MX", "gmail.com"]).stdout;
    std::fs::write(&cof, &query).unwrap();
    let records: Vec<Value> = query
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 5, "{query}");
    let printed = dnsward(&["baseline", "import", "--db", &fresh, &cof]);
    assert!(
        printed.stderr.contains("imported 1 baselines"),
        "{}",
        printed.stderr
    );
    let shown = dnsward(&[
        "baseline",
        "show",
        "--db",
        &fresh,
        "--type",
        "MX",
        "gmail.com",
    ])
    .stdout;
    let baseline: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        (&baseline["name"], &baseline["type"]),
        (&json!("gmail.com"), &json!("MX"))
    );
    let rdata = baseline["rdata"].as_object().unwrap();
    assert_eq!(rdata.len(), records.len());
    let mut total = 0;
    for r in &records {
        let data = r["rdata"].as_str().unwrap();
        let learnt = rdata
            .get(data)
            .unwrap_or_else(|| panic!("{data} not in {shown}"));
        assert_eq!(learnt["count"], r["count"], "{data}");
        let first_ns = r["time_first"].as_u64().unwrap() * NS_PER_SEC;
        assert_eq!(learnt["first_ns"], first_ns, "{data}");
        assert_eq!(
            learnt["last_ns"],
            r["time_last"].as_u64().unwrap() * NS_PER_SEC
        );
        total += r["count"].as_u64().unwrap();
    }
    assert_eq!(baseline["observations"], total);
}

#[test]
fn a_malformed_import_line_fails_with_its_line_number_and_imports_nothing() {
    let scratch = Scratch::new();
    let (db, target) = (scratch.path("db"), scratch.path("target"));
    let (good, bad) = (scratch.path("good.jsonl"), scratch.path("bad.jsonl"));
    analyse(&cert_cc(), &db, &[]);
    let exported = dnsward(&["baseline", "export", "--db", &db]).stdout;
    let lines: Vec<&str> = exported.lines().collect();
    std::fs::write(&good, format!("{}\n", lines[0])).unwrap();
    dnsward(&["baseline", "import", "--db", &target, &good]);
    // Two good lines, a cut one on line 3, one more good line.
    let broken = format!(
        "{}\n{}\n{{\"name\":\"x.example\",\"type\":\n{}\n",
        lines[1], lines[2], lines[3]
    );
    std::fs::write(&bad, broken).unwrap();
    let failed = dnsward_expecting(false, &["baseline", "import", "--db", &target, &bad]);
    assert!(failed.stderr.contains("line 3"), "{}", failed.stderr);
    assert!(!failed.stderr.contains("line 1:"), "{}", failed.stderr);
    // The store still holds only the first import.
    let after = dnsward(&["baseline", "export", "--db", &target]).stdout;
    assert_eq!(after, format!("{}\n", lines[0]));
    // Not JSON at all, after a blank line: line 2.
    std::fs::write(&bad, "\nnot json\n").unwrap();
    let failed = dnsward_expecting(false, &["baseline", "import", "--db", &target, &bad]);
    assert!(failed.stderr.contains("line 2"), "{}", failed.stderr);
}

/// The capture cut in two at the end of its history (before the poisoning): the history file,
/// the event file, and how many frames the history holds.
fn history_and_event(scratch: &Scratch, truth: &Truth) -> (String, String, u64) {
    let (history, event) = (scratch.path("history.pcap"), scratch.path("event.pcap"));
    let before = slice_capture(&history, |t| t < truth.history_end_ns);
    let after = slice_capture(&event, |t| t >= truth.history_end_ns);
    assert_eq!(before + after, 9114);
    assert!(before > 0 && after > 0);
    (history, event, before as u64)
}

#[test]
fn baselines_survive_a_restart_on_the_same_store() {
    let scratch = Scratch::new();
    let truth = truth();
    let (history, event, history_frames) = history_and_event(&scratch, &truth);
    let (warm, cold, whole) = (
        scratch.path("warm"),
        scratch.path("cold"),
        scratch.path("whole"),
    );
    let learnt = analyse(&history, &warm, &[]);
    assert_eq!(stored_alerts(&warm, &[]), []);
    assert!(learnt["analysis"]["baselines_saved"].as_u64().unwrap() > 0);
    // A second process on the same store alerts on the event alone...
    let restarted = analyse(&event, &warm, &[]);
    let alerts = stored_alerts(&warm, &[]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    // ...while a fresh store sees the event's answers as new and is still learning them all.
    let fresh = analyse(&event, &cold, &[]);
    assert_eq!(stored_alerts(&cold, &[]), []);
    assert_eq!(
        counter(&fresh, "learning"),
        counter(&fresh, "watched_rrsets")
    );
    assert_eq!(
        counter(&restarted, "watched_rrsets"),
        counter(&fresh, "watched_rrsets")
    );
    assert!(
        counter(&restarted, "learning") < counter(&fresh, "learning") / 10,
        "restarted learning={} fresh learning={}",
        counter(&restarted, "learning"),
        counter(&fresh, "learning")
    );
    // The learnt MX targets came back from the store instead of being learnt again.
    assert_eq!(counter(&restarted, "targets_learnt"), 0);
    assert_eq!(restarted["analysis"]["learnt_targets"], 10);
    // Same detector, subject and start: the same alert as one uninterrupted run, but for the
    // evidence's file and frame numbers (the event file starts at frame 1).
    analyse(&cert_cc(), &whole, &[]);
    let mut uninterrupted = stored_alerts(&whole, &[]).remove(0);
    for e in &mut uninterrupted.dnsward.evidence {
        e.file = Some(event.clone());
        e.frame -= history_frames;
        if let Some(q) = &mut e.query_frame {
            *q -= history_frames;
        }
    }
    assert_eq!(alerts[0], uninterrupted);
}

#[test]
fn imported_baselines_give_a_warm_start() {
    let scratch = Scratch::new();
    let truth = truth();
    let (history, event, _) = history_and_event(&scratch, &truth);
    let (first, second, file) = (
        scratch.path("first"),
        scratch.path("second"),
        scratch.path("b.jsonl"),
    );
    analyse(&history, &first, &[]);
    dnsward(&["baseline", "export", "--db", &first, "--out", &file]);
    dnsward(&["baseline", "import", "--db", &second, &file]);
    let stats = analyse(&event, &second, &[]);
    let alerts = stored_alerts(&second, &[]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].dns.question.name, NAME);
    assert_eq!(rdata_of(&alerts[0].dnsward.observed), [BAD]);
    assert_eq!(alerts[0].dnsward.first_seen_ns, truth.first_bad_ns);
    assert_eq!(
        alerts[0].dnsward.closed_reason,
        Some(ClosedReason::Reverted)
    );
    // The import carries baselines, not the watchlist: the targets are learnt again.
    assert_eq!(counter(&stats, "targets_learnt"), 10);
    assert!(counter(&stats, "learning") < counter(&stats, "watched_rrsets") / 10);
}

#[test]
fn replaying_the_capture_into_the_same_store_keeps_one_alert() {
    let scratch = Scratch::new();
    let db = scratch.path("db");
    let first = analyse(&cert_cc(), &db, &[]);
    let before = stored_alerts(&db, &[]);
    let second = analyse(&cert_cc(), &db, &[]);
    let after = stored_alerts(&db, &[]);
    assert_eq!(after.len(), 1);
    assert_eq!(after, before, "the replay changed the stored alert");
    assert_the_sample_alert(&after[0], &truth());
    // The second process started from the stored baselines and watchlist...
    assert_eq!(counter(&first, "targets_learnt"), 10);
    assert_eq!(counter(&second, "targets_learnt"), 0);
    assert_eq!(second["analysis"]["learnt_targets"], 10);
    // ...and the learning period is counted in packet time from each rrset's first answer, so
    // the replayed days 1-7 are learning again, exactly as in the first run.
    assert_eq!(counter(&second, "learning"), counter(&first, "learning"));
    assert_eq!(counter(&second, "episodes_opened"), 1);
}

#[test]
fn accept_learns_the_rdata_into_the_baseline() {
    let scratch = Scratch::new();
    let db = scratch.path("db");
    analyse(&cert_cc(), &db, &[]);
    let before = stored_alerts(&db, &[]);
    let accepted = dnsward(&["baseline", "accept", "--db", &db, NAME, "A", BAD]).stdout;
    assert_eq!(
        accepted.trim(),
        format!("accepted {NAME} A {BAD}: learnt into the baseline; 0 open alert(s) closed")
    );
    let shown = dnsward(&["baseline", "show", "--db", &db, "--type", "A", NAME]).stdout;
    let baseline: Value = serde_json::from_str(&shown).unwrap();
    let rdata = baseline["rdata"].as_object().unwrap();
    assert!(rdata.contains_key(BAD), "{shown}");
    assert_eq!(rdata.len(), truth().good_rdata.len() + 1);
    assert_eq!(rdata[BAD]["prefix"], "203.0.113.0/24");
    // The episode had closed already (reverted): accepting leaves it alone.
    assert_eq!(stored_alerts(&db, &[]), before);
}

#[test]
fn accept_closes_the_open_episode_of_a_capture_cut_before_the_revert() {
    let scratch = Scratch::new();
    let truth = truth();
    let (db, cut) = (scratch.path("db"), scratch.path("cut.pcap"));
    slice_capture(&cut, |t| t <= truth.last_bad_ns + NS_PER_SEC);
    analyse(&cut, &db, &[]);
    let open = stored_alerts(&db, &["--open"]);
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(open[0].dnsward.status, EpisodeStatus::Open);
    assert_eq!(open[0].dnsward.closed_reason, None);
    assert_eq!(open[0].dnsward.last_seen_ns, truth.last_bad_ns);
    let id = open[0].event.id.clone();

    let accepted = dnsward(&["baseline", "accept", "--db", &db, NAME, "A", BAD]).stdout;
    assert_eq!(
        accepted.trim(),
        format!("accepted {NAME} A {BAD}: learnt into the baseline; 1 open alert(s) closed {id}")
    );
    assert_eq!(stored_alerts(&db, &["--open"]), []);
    let all = stored_alerts(&db, &[]);
    assert_eq!(all.len(), 1);
    let closed = &all[0];
    assert_eq!(closed.event.id, id);
    assert_eq!(closed.event.action, AlertAction::Closed);
    assert_eq!(closed.dnsward.status, EpisodeStatus::Closed);
    assert_eq!(closed.dnsward.closed_reason, Some(ClosedReason::Accepted));
    assert!(closed.dnsward.closed_ns.is_some());
    assert_eq!(
        closed.dnsward.reasons.last().map(String::as_str),
        Some(format!("accepted by an operator: {BAD}").as_str())
    );
    // Nothing else about the episode changed.
    assert_eq!(closed.dnsward.observed, open[0].dnsward.observed);
    assert_eq!(closed.dnsward.first_seen_ns, open[0].dnsward.first_seen_ns);
    assert_eq!(closed.dnsward.score, open[0].dnsward.score);
}
