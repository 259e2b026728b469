//! The divergence detectors end to end: captures written by the scenario generator
//! (`dnsward_benches::scenario`: three resolvers and their clients, 8 days of history in packet
//! time, then an event) go through `dnsward run` into a real store; the alerts are read back
//! with `dnsward alerts --json` and from the JSON-lines sink, checked against the scenario's
//! ground truth, and validated against `schemas/alert.schema.json`.
//!
//! Attacks: CERT/CC 2014 style (one resolver's cache poisoned for a watched MX host) and a
//! registrar hijack (Sea Turtle style). Benign: CDN rotation, renumbering after TTL lowering, an
//! MX move to a big provider, retransmissions: nothing at medium or above.

// Test code: a panic, unwrap or out-of-range index here is a failed assertion, not a crash on
// input (clippy.toml allows them inside #[test] functions; this extends that to the helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use dnsward_benches::pcap::records;
use dnsward_benches::scenario::{write_scenario, ScenarioConfig, ScenarioKind, ScenarioTruth};
use dnsward_benches::{PcapWriter, TimestampResolution};
use schemas::alert::{Alert, ClosedReason, EpisodeStatus, Severity};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

const R1: &str = "10.0.0.53";
const R2: &str = "10.0.1.53";
const R3: &str = "10.0.2.53";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A scenario capture and a configuration watching the operator's zones, in a temp dir.
struct Setup {
    dir: tempfile::TempDir,
    pcap: PathBuf,
    config: PathBuf,
    truth: ScenarioTruth,
}

fn setup(kind: ScenarioKind) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join(format!("{kind}.pcap"));
    let file = std::io::BufWriter::new(std::fs::File::create(&pcap).unwrap());
    let truth = write_scenario(kind, &ScenarioConfig::default(), file).unwrap();
    let config = dir.path().join("dnsward.toml");
    std::fs::write(
        &config,
        format!(
            "[watch]\nzones = [\"bank.example\", \"corp.example\", \"shop.example\"]\n\
             [asn]\ntables = [{:?}]\n",
            root().join("samples/asn-sample.csv")
        ),
    )
    .unwrap();
    Setup {
        dir,
        pcap,
        config,
        truth,
    }
}

struct Outcome {
    /// `dnsward alerts --json`: the final state of every episode.
    alerts: Vec<Alert>,
    /// The JSON-lines sink: every state change.
    lines: Vec<serde_json::Value>,
    stats: serde_json::Value,
}

fn run(s: &Setup, pcaps: &[&Path], db: &Path, extra: &[&str]) -> Outcome {
    let sink = db.with_extension("alerts.jsonl");
    let mut lines = Vec::new();
    let mut stats = serde_json::Value::Null;
    for pcap in pcaps {
        let out = Command::new(env!("CARGO_BIN_EXE_dnsward"))
            .args(["run", "--quiet", "--stats", "json", "--config"])
            .arg(&s.config)
            .arg("--db")
            .arg(db)
            .arg("--alerts-file")
            .arg(&sink)
            .arg("--pcap")
            .arg(pcap)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "dnsward run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8(out.stderr).unwrap();
        stats = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    }
    if let Ok(text) = std::fs::read_to_string(&sink) {
        lines = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .args(["alerts", "--json", "--db"])
        .arg(db)
        .output()
        .unwrap();
    assert!(out.status.success());
    let alerts = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    Outcome {
        alerts,
        lines,
        stats,
    }
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("schemas/alert.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

/// Every alert and every sink line validates against the schema; every sink line is the state
/// of a stored alert.
fn check_schema(o: &Outcome) {
    let v = validator();
    for a in &o.alerts {
        let value = serde_json::to_value(a).unwrap();
        let errors: Vec<String> = v.iter_errors(&value).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?} in {value}");
    }
    for l in &o.lines {
        let errors: Vec<String> = v.iter_errors(l).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?} in {l}");
        let id = l["event"]["id"].as_str().unwrap();
        assert!(o.alerts.iter().any(|a| a.event.id == id), "{id} not stored");
    }
}

fn at_least(o: &Outcome, min: Severity) -> Vec<&Alert> {
    o.alerts
        .iter()
        .filter(|a| a.dnsward.severity >= min)
        .collect()
}

fn observed(a: &Alert) -> Vec<&str> {
    a.dnsward.observed.iter().map(|r| r.data.as_str()).collect()
}

#[test]
fn cert_cc_style_poisoning_of_one_resolver() {
    let s = setup(ScenarioKind::CertCc);
    let db = s.dir.path().join("db");
    let o = run(&s, &[&s.pcap], &db, &[]);
    check_schema(&o);
    let event = &s.truth.events[0];
    let first_bad = event.first_bad_ns.unwrap();
    let last_bad = event.last_bad_ns.unwrap();
    let serious = at_least(&o, Severity::Medium);
    assert_eq!(serious.len(), 1, "{:#?}", o.alerts);
    let a = serious[0];
    assert_eq!(a.rule.name, "new_rdata");
    assert_eq!(a.dnsward.severity, Severity::Critical);
    assert_eq!(a.dns.question.name, "gmail-smtp-in.l.google.com");
    assert_eq!(a.dns.question.rtype, "A");
    assert_eq!(a.source.ip, ip(R2));
    assert_eq!(a.dnsward.resolvers, vec![ip(R2)]);
    assert_eq!(observed(a), ["203.0.113.66"]);
    assert_eq!(a.dnsward.observed[0].asn, Some(64511));
    let mut baseline: Vec<String> = a.dnsward.baseline.iter().map(|r| r.data.clone()).collect();
    baseline.sort();
    assert_eq!(baseline, event.good_rdata);
    assert!(a.dnsward.baseline.iter().all(|r| r.asn == Some(15169)));
    // Raised at the first bad answer (well within 60 s of packet time).
    assert_eq!(a.dnsward.first_seen_ns, first_bad);
    assert_eq!(a.dnsward.evidence[0].time_ns, first_bad);
    assert!(a.dnsward.evidence[0]
        .file
        .as_deref()
        .unwrap()
        .ends_with("cert-cc.pcap"));
    let reasons = a.dnsward.reasons.join("\n");
    for expected in [
        "203.0.113.66 is in AS64511 (BULLETPROOF-HOSTING-EXAMPLE), never seen for any watched name",
        "above the largest authoritative TTL 300",
        "split view: only 10.0.1.53 hands this out",
        "the baseline answers returned",
    ] {
        assert!(reasons.contains(expected), "{expected:?} not in {reasons}");
    }
    // Closed as reverted when R2 answered the truth again.
    assert_eq!(a.dnsward.status, EpisodeStatus::Closed);
    assert_eq!(a.dnsward.closed_reason, Some(ClosedReason::Reverted));
    assert!(a.dnsward.closed_ns.unwrap() > last_bad);
    assert_eq!(a.dnsward.last_seen_ns, last_bad);
    // The sink saw it open (at the first bad answer) and close: one alert per episode.
    let actions: Vec<(&str, &str)> = o
        .lines
        .iter()
        .filter(|l| l["event"]["id"] == a.event.id.as_str())
        .map(|l| {
            (
                l["event"]["action"].as_str().unwrap(),
                l["@timestamp"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert_eq!(actions[0].0, "opened");
    assert_eq!(actions[1].0, "closed");
    assert_eq!(
        actions[0].1,
        schemas::time::format_utc_ns(first_bad).as_str()
    );
    // Nothing else but low-severity noise, if anything.
    assert_eq!(o.alerts.len(), 1, "{:#?}", o.alerts);
    assert_eq!(o.stats["analysis"]["analyzer"]["episodes_opened"], 1);
}

#[test]
fn registrar_hijack_of_a_watched_zone() {
    let s = setup(ScenarioKind::RegistrarHijack);
    let db = s.dir.path().join("db");
    let o = run(&s, &[&s.pcap], &db, &[]);
    check_schema(&o);
    let serious = at_least(&o, Severity::High);
    assert_eq!(serious.len(), 3, "{:#?}", o.alerts);
    assert_eq!(at_least(&o, Severity::Medium).len(), 3);
    let find = |detector: &str, name: &str, rtype: &str| -> &Alert {
        serious
            .iter()
            .find(|a| {
                a.rule.name == detector
                    && a.dns.question.name == name
                    && a.dns.question.rtype == rtype
            })
            .unwrap_or_else(|| panic!("no {detector} for {name} {rtype}: {:#?}", o.alerts))
    };
    let ns = find("ns_set_change", "bank.example", "NS");
    assert_eq!(
        observed(ns),
        ["ns1.evil-dns.example", "ns2.evil-dns.example"]
    );
    assert!(ns
        .dnsward
        .reasons
        .iter()
        .any(|r| r.contains("192.0.2.10 is in AS64505 (HIJACK-HOSTING-EXAMPLE)")));
    let mail = find("new_rdata", "mail.bank.example", "A");
    assert_eq!(observed(mail), ["192.0.2.25"]);
    let apex = find("new_rdata", "bank.example", "A");
    assert_eq!(observed(apex), ["192.0.2.80"]);
    for a in [ns, mail, apex] {
        // Everywhere at once: every resolver handed it out.
        for r in [R1, R2, R3] {
            assert!(
                a.dnsward.resolvers.contains(&ip(r)),
                "{r} missing in {a:#?}"
            );
        }
        assert_eq!(a.dnsward.closed_reason, Some(ClosedReason::Reverted));
        let truth = s
            .truth
            .events
            .iter()
            .find(|e| e.name == a.dns.question.name && e.rrtype == a.dns.question.rtype)
            .unwrap();
        assert_eq!(a.dnsward.first_seen_ns, truth.first_bad_ns.unwrap());
    }
}

fn assert_benign(kind: ScenarioKind) -> Outcome {
    let s = setup(kind);
    let db = s.dir.path().join("db");
    let o = run(&s, &[&s.pcap], &db, &[]);
    check_schema(&o);
    let serious = at_least(&o, Severity::Medium);
    assert!(serious.is_empty(), "{kind}: {serious:#?}");
    o
}

#[test]
fn cdn_rotation_within_known_networks_is_at_most_low() {
    let o = assert_benign(ScenarioKind::CdnRotation);
    // New /24s of Google's AS and of Akamai's sibling ASes: low, each episode learnt after it
    // reverted (so rotation does not reopen it endlessly).
    assert!(!o.alerts.is_empty());
    assert!(o.alerts.len() <= 6, "{:#?}", o.alerts);
    for a in &o.alerts {
        assert_eq!(a.rule.name, "new_rdata");
        assert_eq!(a.dnsward.severity, Severity::Low);
    }
}

#[test]
fn renumbering_after_ttl_lowering_is_silent() {
    let o = assert_benign(ScenarioKind::Renumbering);
    assert!(o.alerts.is_empty(), "{:#?}", o.alerts);
}

#[test]
fn mx_move_to_a_big_provider_is_low_and_persists() {
    let o = assert_benign(ScenarioKind::MxMove);
    assert_eq!(o.alerts.len(), 1, "{:#?}", o.alerts);
    let a = &o.alerts[0];
    assert_eq!(a.rule.name, "mx_set_change");
    assert_eq!(a.dns.question.name, "corp.example");
    assert_eq!(a.dnsward.severity, Severity::Low);
    assert_eq!(a.dnsward.closed_reason, Some(ClosedReason::Persisted));
    assert!(observed(a).contains(&"1 aspmx.l.google.com"));
}

#[test]
fn retransmitted_answers_are_silent() {
    let o = assert_benign(ScenarioKind::Retransmits);
    assert!(o.alerts.is_empty(), "{:#?}", o.alerts);
}

#[test]
fn alerts_do_not_depend_on_worker_threads() {
    let s = setup(ScenarioKind::CertCc);
    let one = run(
        &s,
        &[&s.pcap],
        &s.dir.path().join("db1"),
        &["--workers", "1"],
    );
    let two = run(
        &s,
        &[&s.pcap],
        &s.dir.path().join("db2"),
        &["--workers", "3"],
    );
    assert!(!one.lines.is_empty());
    assert_eq!(one.lines, two.lines);
    assert_eq!(one.alerts, two.alerts);
}

/// Writes the records of `from` whose time is in `[start, end)` to `to`.
fn cut(from: &Path, to: &Path, start: u64, end: u64) {
    let bytes = std::fs::read(from).unwrap();
    let mut w = PcapWriter::new(
        std::io::BufWriter::new(std::fs::File::create(to).unwrap()),
        TimestampResolution::Microseconds,
    )
    .unwrap();
    for r in records(&bytes).unwrap() {
        if r.time_ns >= start && r.time_ns < end {
            w.write_frame(r.time_ns, r.data).unwrap();
        }
    }
    w.into_inner().unwrap();
}

#[test]
fn baselines_survive_a_restart() {
    let s = setup(ScenarioKind::CertCc);
    let history = s.dir.path().join("history.pcap");
    let event = s.dir.path().join("event.pcap");
    cut(&s.pcap, &history, 0, s.truth.history_end_ns);
    cut(&s.pcap, &event, s.truth.history_end_ns, u64::MAX);
    let db = s.dir.path().join("db");
    let first = run(&s, &[&history], &db, &[]);
    assert!(first.alerts.is_empty(), "{:#?}", first.alerts);
    assert!(first.stats["analysis"]["baselines_saved"].as_u64().unwrap() > 0);
    // A new process on the same store: the baselines it learnt are established already.
    let second = run(&s, &[&event], &db, &[]);
    let learning = |o: &Outcome| {
        o.stats["analysis"]["analyzer"]["learning"]
            .as_u64()
            .unwrap()
    };
    // Only the few rrsets first seen late in the history are still learning.
    assert!(learning(&first) > 100_000, "{}", learning(&first));
    assert!(learning(&second) < 10, "{}", learning(&second));
    let serious = at_least(&second, Severity::High);
    assert_eq!(serious.len(), 1, "{:#?}", second.alerts);
    assert_eq!(serious[0].dns.question.name, "gmail-smtp-in.l.google.com");
    assert_eq!(observed(serious[0]), ["203.0.113.66"]);
    assert_eq!(
        serious[0].dnsward.first_seen_ns,
        s.truth.events[0].first_bad_ns.unwrap()
    );
    // Same episode start, same detector and subject: the same id as in one uninterrupted run.
    let whole = run(&s, &[&s.pcap], &s.dir.path().join("db-whole"), &[]);
    assert_eq!(serious[0].event.id, whole.alerts[0].event.id);
}

#[test]
fn an_open_episode_continues_after_a_restart() {
    let s = setup(ScenarioKind::CertCc);
    let event = &s.truth.events[0];
    // Stop in the middle of the poisoning: after its first bad answer, before it reverts.
    let middle = event.first_bad_ns.unwrap() + 600 * 1_000_000_000;
    assert!(middle < event.last_bad_ns.unwrap());
    let before = s.dir.path().join("before.pcap");
    let after = s.dir.path().join("after.pcap");
    cut(&s.pcap, &before, 0, middle);
    cut(&s.pcap, &after, middle, u64::MAX);
    let db = s.dir.path().join("db");
    let first = run(&s, &[&before], &db, &[]);
    assert_eq!(first.alerts.len(), 1, "{:#?}", first.alerts);
    assert_eq!(first.alerts[0].dnsward.status, EpisodeStatus::Open);
    let second = run(&s, &[&after], &db, &[]);
    // The same episode, continued and closed: no second alert, no second "opened" line.
    let whole = run(&s, &[&s.pcap], &s.dir.path().join("db-whole"), &[]);
    assert_eq!(second.alerts.len(), 1, "{:#?}", second.alerts);
    let (a, w) = (&second.alerts[0], &whole.alerts[0]);
    assert_eq!(a.event.id, w.event.id);
    assert_eq!(a.dnsward.closed_reason, Some(ClosedReason::Reverted));
    assert_eq!(a.dnsward.responses, w.dnsward.responses);
    assert_eq!(a.dnsward.score, w.dnsward.score);
    assert_eq!(a.dnsward.reasons, w.dnsward.reasons);
    let actions: Vec<&str> = second
        .lines
        .iter()
        .map(|l| l["event"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["opened", "closed"]);
    assert_eq!(second.stats["analysis"]["analyzer"]["episodes_opened"], 0);
}
