//! The divergence detectors on hand-built observations, with the shipped sample IP-to-AS table
//! (`samples/asn-sample.csv`) and, for persistence, a real RocksDB store in a temp directory.

// Test code: a panic, unwrap or out-of-range index here is a failed assertion, not a crash on
// input (clippy.toml allows them inside #[test] functions; this extends that to the helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use analyzer::asn::AsnTable;
use analyzer::baseline::BaselineConfig;
use analyzer::detect::{AlertUpdate, Analyzer, AnalyzerConfig, AsLookup, DetectConfig};
use analyzer::watch::WatchConfig;
use schemas::alert::{AlertAction, ClosedReason, EpisodeStatus, Severity};
use schemas::{
    CaptureSource, DnsFlags, DnsName, Observation, Question, Record, SectionCounts, Transport,
};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

const R1: &str = "10.0.0.53";
const R2: &str = "10.0.1.53";
const R3: &str = "10.0.2.53";
const MX_HOST: &str = "gmail-smtp-in.l.google.com";
const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_767_225_600 * SEC;
const DAY: u64 = 86_400 * SEC;

fn table() -> Arc<dyn AsLookup> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/asn-sample.csv");
    let (table, _) = AsnTable::load(&path).unwrap();
    Arc::new(table)
}

fn config() -> AnalyzerConfig {
    AnalyzerConfig {
        sensor_id: "test-sensor".into(),
        watch: WatchConfig {
            zones: vec!["bank.example".into()],
            ..WatchConfig::default()
        },
        baseline: BaselineConfig {
            learning_days: 1,
            min_observations: 10,
            ..BaselineConfig::default()
        },
        detect: DetectConfig::default(),
        dnssec: Default::default(),
    }
}

fn name(n: &str) -> DnsName {
    DnsName {
        wire: n.into(),
        canonical: n.to_ascii_lowercase(),
    }
}

fn record(owner: &str, rtype: u16, ttl: u32, rdata: &str) -> Record {
    Record {
        name: name(owner),
        rtype,
        rtype_name: schemas::rrtype::type_name(rtype).into_owned(),
        class: 1,
        ttl,
        rdata: rdata.into(),
    }
}

/// A response from `server` to `client` for `qname`/`qtype` with these answers.
fn response(
    time_ns: u64,
    server: &str,
    client: &str,
    aa: bool,
    qname: &str,
    qtype: u16,
    answers: Vec<Record>,
) -> Observation {
    Observation {
        record_type: "observation".into(),
        schema_version: 1,
        time_ns,
        sensor_id: "test-sensor".into(),
        source: CaptureSource {
            file: Some("unit.pcap".into()),
            interface: None,
            frame: time_ns / SEC % 1_000_000,
        },
        ip_version: 4,
        src_ip: server.parse().unwrap(),
        dst_ip: client.parse().unwrap(),
        src_port: 53,
        dst_port: 40000,
        transport: Transport::Udp,
        ip_ttl: 64,
        ip_id: None,
        fragments: None,
        dns_len: 100,
        txid: 7,
        opcode: 0,
        rcode: 0,
        flags: DnsFlags {
            qr: true,
            aa,
            tc: false,
            rd: true,
            ra: !aa,
            z: false,
            ad: false,
            cd: false,
        },
        counts: SectionCounts {
            qd: 1,
            an: answers.len() as u16,
            ns: 0,
            ar: 0,
        },
        questions: vec![Question {
            name: name(qname),
            qtype,
            qtype_name: schemas::rrtype::type_name(qtype).into_owned(),
            qclass: 1,
        }],
        answers,
        authority: vec![],
        additional: vec![],
        edns: None,
        anomalies: vec![],
        pairing: None,
        findings: Vec::new(),
        dnssec_message: None,
    }
}

fn a_answer(t: u64, resolver: &str, client: &str, addr: &str, ttl: u32) -> Observation {
    response(
        t,
        resolver,
        client,
        false,
        MX_HOST,
        1,
        vec![record(MX_HOST, 1, ttl, addr)],
    )
}

fn mx_answer(t: u64, resolver: &str) -> Observation {
    response(
        t,
        resolver,
        "10.1.0.25",
        false,
        "gmail.com",
        15,
        vec![record("gmail.com", 15, 3600, &format!("5 {MX_HOST}"))],
    )
}

/// Two days of history: every 10 minutes each resolver answers the MX and the target's A
/// (rotating inside two Google /24s), and the authoritative server answers with TTL 300.
fn history(a: &mut Analyzer, out: &mut Vec<AlertUpdate>) -> u64 {
    let true_addrs = ["142.250.153.26", "142.250.153.27", "74.125.206.26"];
    let mut t = T0;
    let mut i = 0usize;
    while t < T0 + 2 * DAY {
        for r in [R1, R2, R3] {
            a.process(&mx_answer(t, r), out);
            let addr = true_addrs[i % true_addrs.len()];
            a.process(
                &a_answer(t + SEC, r, "10.1.0.25", addr, 300 - (i % 300) as u32),
                out,
            );
            i += 1;
        }
        a.process(
            &response(
                t + 2 * SEC,
                "216.239.32.10",
                R1,
                true,
                MX_HOST,
                1,
                vec![record(MX_HOST, 1, 300, true_addrs[i % 3])],
            ),
            out,
        );
        t += 600 * SEC;
    }
    t
}

fn notified(out: &[AlertUpdate]) -> Vec<&AlertUpdate> {
    out.iter().filter(|u| u.notify).collect()
}

#[test]
fn cert_cc_style_poisoning_is_critical_and_closes_as_reverted() {
    let mut a = Analyzer::new(config(), Some(table()));
    let mut out = Vec::new();
    let t = history(&mut a, &mut out);
    assert!(out.is_empty(), "history alone must not alert: {out:#?}");
    // R2's clients get an address in an AS no watched name ever used, with a long TTL, while
    // R1 and R3 keep answering the truth.
    let bad = "203.0.113.66";
    a.process(
        &a_answer(t, R1, "10.1.0.30", "142.250.153.26", 200),
        &mut out,
    );
    a.process(
        &a_answer(t + SEC, R3, "10.1.2.30", "74.125.206.26", 180),
        &mut out,
    );
    a.process(
        &a_answer(t + 2 * SEC, R2, "10.1.1.30", bad, 86_400),
        &mut out,
    );
    let n = notified(&out);
    assert_eq!(n.len(), 1, "{out:#?}");
    let alert = &n[0].alert;
    assert_eq!(alert.event.action, AlertAction::Opened);
    assert_eq!(alert.rule.name, "new_rdata");
    assert_eq!(alert.dnsward.severity, Severity::Critical);
    assert_eq!(alert.dnsward.score, 95);
    assert_eq!(alert.dns.question.name, MX_HOST);
    assert_eq!(alert.dns.question.rtype, "A");
    assert_eq!(alert.source.ip, R2.parse::<IpAddr>().unwrap());
    assert_eq!(alert.dnsward.resolvers, vec![R2.parse::<IpAddr>().unwrap()]);
    assert_eq!(alert.dnsward.observed.len(), 1);
    assert_eq!(alert.dnsward.observed[0].data, bad);
    assert_eq!(alert.dnsward.observed[0].asn, Some(64511));
    assert_eq!(
        alert.dnsward.observed[0].prefix.as_deref(),
        Some("203.0.113.0/24")
    );
    let baseline: Vec<&str> = alert
        .dnsward
        .baseline
        .iter()
        .map(|b| b.data.as_str())
        .collect();
    assert_eq!(
        baseline,
        ["142.250.153.26", "142.250.153.27", "74.125.206.26"]
    );
    assert!(alert.dnsward.baseline.iter().all(|b| b.asn == Some(15169)));
    assert_eq!(
        alert.dnsward.reasons,
        vec![
            "203.0.113.66 is in AS64511 (BULLETPROOF-HOSTING-EXAMPLE), never seen for any watched name".to_owned(),
            "TTL 86400 above the largest authoritative TTL 300".to_owned(),
            "split view: only 10.0.1.53 hands this out; at the same time 10.0.0.53 (142.250.153.26), 10.0.2.53 (74.125.206.26) answered the baseline".to_owned(),
        ]
    );
    assert_eq!(
        alert.dnsward.watched_because,
        "learnt: MX target of gmail.com (gmail.com)"
    );
    assert_eq!(alert.dnsward.evidence.len(), 1);
    assert_eq!(alert.dnsward.evidence[0].time_ns, t + 2 * SEC);
    let id = alert.event.id.clone();

    // Repeats update the open episode without new lines for the sinks.
    out.clear();
    for k in 0..30u64 {
        a.process(
            &a_answer(
                t + (60 + k) * SEC,
                R2,
                &format!("10.1.1.{}", 40 + k),
                bad,
                86_000,
            ),
            &mut out,
        );
    }
    assert!(notified(&out).is_empty());
    let last = &out.last().unwrap().alert;
    assert_eq!(last.event.id, id);
    assert_eq!(last.dnsward.responses, 31);
    assert_eq!(last.dnsward.clients_affected, 31);
    assert_eq!(last.dnsward.evidence.len(), 16);
    assert_eq!(last.dnsward.evidence_dropped, 15);

    // Two hours later R2 hands out the truth again: the episode closes as reverted.
    out.clear();
    a.process(
        &a_answer(t + 7200 * SEC, R2, "10.1.1.30", "142.250.153.27", 300),
        &mut out,
    );
    let n = notified(&out);
    assert_eq!(n.len(), 1, "{out:#?}");
    let closed = &n[0].alert;
    assert_eq!(closed.event.id, id);
    assert_eq!(closed.event.action, AlertAction::Closed);
    assert_eq!(closed.dnsward.status, EpisodeStatus::Closed);
    assert_eq!(closed.dnsward.closed_reason, Some(ClosedReason::Reverted));
    assert_eq!(closed.dnsward.score, 100);
    assert_eq!(
        closed.dnsward.reasons.last().unwrap(),
        "reverted after 1h59m: the baseline answers returned"
    );
}

#[test]
fn nothing_before_the_learning_period_ends() {
    let mut a = Analyzer::new(config(), Some(table()));
    let mut out = Vec::new();
    for k in 0..50u64 {
        a.process(&mx_answer(T0 + k * 600 * SEC, R1), &mut out);
        a.process(
            &a_answer(
                T0 + k * 600 * SEC + SEC,
                R1,
                "10.1.0.25",
                "142.250.153.26",
                300,
            ),
            &mut out,
        );
    }
    // Eight hours in: still learning, so a new AS is learnt, not alerted.
    a.process(
        &a_answer(T0 + 8 * 3600 * SEC, R2, "10.1.1.30", "203.0.113.66", 86_400),
        &mut out,
    );
    assert!(out.is_empty(), "{out:#?}");
    assert!(a.stats.learning > 0);
}

#[test]
fn inside_known_prefixes_is_learnt_silently_and_a_new_prefix_of_the_same_as_is_low() {
    let mut a = Analyzer::new(config(), Some(table()));
    let mut out = Vec::new();
    let t = history(&mut a, &mut out);
    // Same /24 as the baseline: learnt, no alert.
    a.process(
        &a_answer(t, R1, "10.1.0.30", "142.250.153.99", 300),
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(a.stats.learnt_same_prefix, 1);
    // A new /24 of the same AS (Google): low.
    a.process(
        &a_answer(t + SEC, R1, "10.1.0.30", "142.251.9.26", 300),
        &mut out,
    );
    let n = notified(&out);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].alert.dnsward.severity, Severity::Low);
    assert_eq!(
        n[0].alert.dnsward.reasons[0],
        "142.251.9.26 is in a new prefix 142.251.9.0/24 of a known AS15169 (Google LLC)"
    );
    // Identical retransmissions of known answers never alert.
    out.clear();
    for _ in 0..3 {
        a.process(
            &a_answer(t + 2 * SEC, R2, "10.1.1.30", "142.250.153.26", 250),
            &mut out,
        );
    }
    assert!(out.is_empty());
}

#[test]
fn new_data_that_persists_is_learnt_and_the_episode_closes_as_persisted() {
    let mut a = Analyzer::new(config(), Some(table()));
    let mut out = Vec::new();
    let mut t = history(&mut a, &mut out);
    let new = "142.251.9.26";
    let end = t + 25 * 3600 * SEC;
    while t < end {
        for r in [R1, R2, R3] {
            a.process(&a_answer(t, r, "10.1.0.30", new, 300), &mut out);
        }
        t += 600 * SEC;
    }
    let n = notified(&out);
    assert_eq!(n.len(), 2, "{n:#?}");
    assert_eq!(
        n[1].alert.dnsward.closed_reason,
        Some(ClosedReason::Persisted)
    );
    assert_eq!(n[1].alert.event.id, n[0].alert.event.id);
    // Learnt: no new episode afterwards.
    out.clear();
    a.process(&a_answer(t, R1, "10.1.0.30", new, 300), &mut out);
    assert!(out.is_empty());
}

fn ns_referral(t: u64, servers: &[(&str, &str)]) -> Observation {
    let mut obs = response(t, "199.43.135.53", R1, false, "www.bank.example", 1, vec![]);
    obs.flags.ra = false;
    obs.authority = servers
        .iter()
        .map(|(n, _)| record("bank.example", 2, 86_400, n))
        .collect();
    obs.additional = servers
        .iter()
        .map(|(n, ip)| record(n, 1, 86_400, ip))
        .collect();
    obs
}

#[test]
fn ns_change_into_a_never_seen_as_is_high_and_within_known_ases_is_low() {
    let mut a = Analyzer::new(config(), Some(table()));
    let mut out = Vec::new();
    let mut t = history(&mut a, &mut out);
    let good = [
        ("ns1.bank.example", "198.51.100.1"),
        ("ns2.bank.example", "198.51.100.2"),
    ];
    let end = t + 2 * DAY;
    while t < end {
        a.process(&ns_referral(t, &good), &mut out);
        t += 3600 * SEC;
    }
    assert!(out.is_empty(), "{out:#?}");
    // The registrar hijack: new servers in an AS never seen.
    a.process(
        &ns_referral(
            t,
            &[
                ("ns1.evil-dns.example", "192.0.2.10"),
                ("ns2.evil-dns.example", "192.0.2.11"),
            ],
        ),
        &mut out,
    );
    let n = notified(&out);
    assert_eq!(n.len(), 1, "{out:#?}");
    let alert = &n[0].alert;
    assert_eq!(alert.rule.name, "ns_set_change");
    assert_eq!(alert.dnsward.severity, Severity::High);
    assert_eq!(alert.dns.question.name, "bank.example");
    assert!(alert
        .dnsward
        .reasons
        .iter()
        .any(|r| r.contains("192.0.2.10 is in AS64505")));
    // A move to a provider whose AS other watched names already use: low.
    out.clear();
    a.process(
        &ns_referral(t + 3600 * SEC, &[("ns1.google.com", "216.239.32.10")]),
        &mut out,
    );
    let n = notified(&out);
    // The same open ns_set_change episode takes the new target; no escalation, no new line.
    assert!(n.is_empty(), "{n:#?}");
}

#[test]
fn alert_ids_are_deterministic() {
    let run = || {
        let mut a = Analyzer::new(config(), Some(table()));
        let mut out = Vec::new();
        let t = history(&mut a, &mut out);
        a.process(
            &a_answer(t, R2, "10.1.1.30", "203.0.113.66", 86_400),
            &mut out,
        );
        out.iter().map(|u| u.alert.clone()).collect::<Vec<_>>()
    };
    let first = run();
    assert!(!first.is_empty());
    assert_eq!(first, run());
}

#[test]
fn baselines_survive_a_restart_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut out = Vec::new();
    let t;
    {
        let store = analyzer::store::Store::open(&path).unwrap();
        let mut a = Analyzer::new(config(), Some(table()));
        t = history(&mut a, &mut out);
        store.save_baselines(&a.take_dirty_baselines()).unwrap();
        store.save_learnt(&a.take_new_learnt()).unwrap();
    }
    let store = analyzer::store::Store::open(&path).unwrap();
    let baselines = store.load_baselines().unwrap();
    let learnt = store.load_learnt().unwrap();
    assert_eq!(baselines.damaged, 0);
    assert_eq!(learnt.records.len(), 1);
    assert_eq!(learnt.records[0].0, MX_HOST);
    let mut a = Analyzer::new(config(), Some(table()));
    a.restore(baselines.records, learnt.records);
    a.process(
        &a_answer(t, R2, "10.1.1.30", "203.0.113.66", 86_400),
        &mut out,
    );
    let n = notified(&out);
    assert_eq!(n.len(), 1);
    // Critical, like the run without a restart: the restored responder views still show the
    // other resolvers' recent answers (split view) and the authoritative TTL.
    assert_eq!(n[0].alert.dnsward.severity, Severity::Critical);
    assert_eq!(n[0].alert.dnsward.reasons.len(), 3);
}

#[test]
fn accept_learns_and_closes() {
    let mut a = Analyzer::new(config(), Some(table()));
    let mut out = Vec::new();
    let t = history(&mut a, &mut out);
    a.process(&a_answer(t, R2, "10.1.1.30", "203.0.113.66", 300), &mut out);
    assert_eq!(notified(&out).len(), 1);
    let closed = a.accept(MX_HOST, 1, "203.0.113.66", t + SEC);
    assert_eq!(closed.len(), 1);
    assert_eq!(
        closed[0].alert.dnsward.closed_reason,
        Some(ClosedReason::Accepted)
    );
    out.clear();
    a.process(
        &a_answer(t + 2 * SEC, R2, "10.1.1.30", "203.0.113.66", 300),
        &mut out,
    );
    assert!(out.is_empty(), "{out:#?}");
}

#[test]
fn a_flood_of_distinct_forged_data_stays_one_bounded_episode() {
    let mut a = Analyzer::new(config(), Some(table()));
    let mut out = Vec::new();
    let t = history(&mut a, &mut out);
    // 200 different addresses from 200 different spoofed resolver addresses.
    for k in 0..200u64 {
        let resolver = format!("10.9.{}.{}", k / 250, k % 250 + 1);
        let addr = format!("203.0.113.{}", k % 250 + 1);
        let addr = if k < 100 {
            addr
        } else {
            format!("198.18.{}.1", k)
        };
        a.process(
            &a_answer(t + k * SEC, &resolver, "10.1.1.30", &addr, 300),
            &mut out,
        );
    }
    let last = &out.last().unwrap().alert;
    assert_eq!(a.stats.episodes_opened, 1);
    assert_eq!(
        last.dnsward.observed.len(),
        analyzer::detect::MAX_EPISODE_ENTRIES
    );
    assert_eq!(
        last.dnsward.resolvers.len(),
        analyzer::detect::MAX_EPISODE_ENTRIES
    );
    assert_eq!(last.dnsward.responses, 200);
    assert!(a.stats.episode_entries_dropped >= 2 * (200 - 64));
}

#[test]
fn a_cname_where_there_was_none_is_medium() {
    let mut a = Analyzer::new(config(), Some(table()));
    let mut out = Vec::new();
    let t = history(&mut a, &mut out);
    // gmail-smtp-in.l.google.com never had an alias; now R1 answers through one.
    let obs = response(
        t,
        R1,
        "10.1.0.30",
        false,
        MX_HOST,
        1,
        vec![
            record(MX_HOST, 5, 300, "mx.evil.example"),
            record("mx.evil.example", 1, 300, "142.250.153.26"),
        ],
    );
    a.process(&obs, &mut out);
    let n = notified(&out);
    assert_eq!(n.len(), 1, "{out:#?}");
    let alert = &n[0].alert;
    assert_eq!(alert.rule.name, "cname_appeared");
    assert_eq!(alert.dns.question.rtype, "CNAME");
    assert_eq!(alert.dnsward.severity, Severity::Medium);
    assert_eq!(alert.dnsward.observed[0].data, "mx.evil.example");
}

#[test]
fn known_data_with_a_ttl_no_authoritative_answer_gave_is_low() {
    let mut a = Analyzer::new(config(), Some(table()));
    let mut out = Vec::new();
    let t = history(&mut a, &mut out);
    a.process(
        &a_answer(t, R3, "10.1.2.30", "142.250.153.26", 86_400),
        &mut out,
    );
    let n = notified(&out);
    assert_eq!(n.len(), 1, "{out:#?}");
    assert_eq!(n[0].alert.rule.name, "ttl_above_authoritative");
    assert_eq!(n[0].alert.dnsward.severity, Severity::Low);
    assert_eq!(
        n[0].alert.dnsward.reasons,
        ["10.0.2.53 hands out TTL 86400 above the largest authoritative TTL 300"]
    );
}

#[test]
fn a_copy_replaced_before_it_expired_is_ttl_rewound() {
    let mut a = Analyzer::new(config(), Some(table()));
    let mut out = Vec::new();
    let t = history(&mut a, &mut out);
    // R1 hands out one known address with 300 s left, then 10 s later another known address
    // with 300 s left again: its cache entry was replaced.
    a.process(
        &a_answer(t, R1, "10.1.0.30", "142.250.153.26", 300),
        &mut out,
    );
    a.process(
        &a_answer(t + 10 * SEC, R1, "10.1.0.31", "74.125.206.26", 300),
        &mut out,
    );
    let n = notified(&out);
    assert_eq!(n.len(), 1, "{out:#?}");
    assert_eq!(n[0].alert.rule.name, "ttl_rewound");
    assert_eq!(n[0].alert.dnsward.severity, Severity::Low);
    // Counting down normally is not.
    out.clear();
    a.process(
        &a_answer(t + 20 * SEC, R3, "10.1.2.30", "142.250.153.27", 300),
        &mut out,
    );
    a.process(
        &a_answer(t + 30 * SEC, R3, "10.1.2.31", "142.250.153.27", 290),
        &mut out,
    );
    assert!(notified(&out).is_empty(), "{out:#?}");
}

fn with_verdict(mut obs: Observation, verdict: &str) -> Observation {
    obs.pairing = Some(schemas::PairingInfo {
        verdict: verdict.to_owned(),
        query_frame: Some(1),
        rtt_ns: None,
        expected_txid: None,
        expected_port: None,
        first_response_frame: None,
    });
    obs
}

#[test]
fn wire_verdicts_raise_spoofing_alerts_that_end_when_quiet() {
    let mut a = Analyzer::new(config(), None);
    let mut out = Vec::new();
    let t = T0;
    let race = with_verdict(a_answer(t, R1, "10.1.0.30", "192.0.2.66", 300), "race");
    a.process(&race, &mut out);
    let case = with_verdict(
        a_answer(t + SEC, R1, "10.1.0.30", "142.250.153.26", 300),
        "case_mismatch",
    );
    a.process(&case, &mut out);
    // Nine unsolicited responses are below the burst threshold; the tenth makes a burst.
    for k in 0..9 {
        let u = with_verdict(
            a_answer(t + 2 * SEC + k, R2, "10.1.1.30", "192.0.2.9", 300),
            "unsolicited",
        );
        a.process(&u, &mut out);
    }
    let names = |out: &[AlertUpdate]| -> Vec<(String, String, Severity)> {
        notified(out)
            .iter()
            .map(|u| {
                (
                    u.alert.rule.name.clone(),
                    u.alert.rule.category.clone(),
                    u.alert.dnsward.severity,
                )
            })
            .collect()
    };
    assert_eq!(
        names(&out),
        [
            (
                "response_race".to_owned(),
                "spoofing".to_owned(),
                Severity::Medium
            ),
            (
                "case_mismatch".to_owned(),
                "spoofing".to_owned(),
                Severity::Medium
            ),
        ]
    );
    let u = with_verdict(
        a_answer(t + 3 * SEC, R2, "10.1.1.30", "192.0.2.9", 300),
        "unsolicited",
    );
    a.process(&u, &mut out);
    let last = notified(&out).last().unwrap().alert.clone();
    assert_eq!(last.rule.name, "txid_mismatch_burst");
    assert_eq!(last.dnsward.severity, Severity::High);
    assert_eq!(last.dnsward.clients_affected, 1);
    // A minute and more of quiet ends all three.
    out.clear();
    a.process(
        &a_answer(t + 200 * SEC, R3, "10.1.2.30", "142.250.153.26", 300),
        &mut out,
    );
    let ended: Vec<_> = notified(&out)
        .iter()
        .map(|u| (u.alert.rule.name.clone(), u.alert.dnsward.closed_reason))
        .collect();
    assert_eq!(ended.len(), 3, "{ended:?}");
    assert!(ended.iter().all(|(_, r)| *r == Some(ClosedReason::Ended)));
}
