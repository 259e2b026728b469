//! Scenario captures: deterministic, decodable by the sensor without a malformed message, and
//! showing on the wire what their truth says.

// The helpers below are test code too (clippy.toml only exempts `#[test]` functions): a panic
// here is a failed assertion, not a crash on input.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use dnsward_benches::pcap::records;
use dnsward_benches::scenario::{
    write_scenario, ScenarioConfig, ScenarioEvent, ScenarioKind, ScenarioTruth, TLD_SERVER,
};
use schemas::Observation;
use sensor::frame::linktype;
use sensor::pipeline::{Decoder, FrameInput, SensorConfig};

const R1: &str = "10.0.0.53";
const R2: &str = "10.0.1.53";
const R3: &str = "10.0.2.53";
const HOUR_NS: u64 = 3_600_000_000_000;

fn capture(kind: ScenarioKind, seed: u64) -> (Vec<u8>, ScenarioTruth) {
    let config = ScenarioConfig {
        seed,
        ..ScenarioConfig::default()
    };
    let mut out = Vec::new();
    let truth = write_scenario(kind, &config, &mut out).unwrap();
    (out, truth)
}

/// FNV-1a, 64 bits: a stable fingerprint that does not depend on std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Decodes every frame with the sensor; asserts no message is malformed.
fn decode(capture: &[u8], truth: &ScenarioTruth) -> Vec<Observation> {
    let config = SensorConfig {
        emit_observations: true,
        collect_tuples: false,
        ..SensorConfig::default()
    };
    let mut decoder = Decoder::new(config, vec![Arc::from("scenario.pcap")], false);
    let mut out = Vec::new();
    let mut frames = 0;
    let mut last = 0;
    for (index, record) in records(capture).unwrap().enumerate() {
        assert!(record.time_ns >= last, "frames are in time order");
        last = record.time_ns;
        frames += 1;
        let input = FrameInput {
            seq: index as u64,
            time_ns: record.time_ns,
            frame: index as u64 + 1,
            source: 0,
            linktype: linktype::ETHERNET,
            wire_len: record.wire_len,
            data: record.data,
        };
        decoder.decode_frame(&input, &mut out);
    }
    let stats = decoder.stats();
    assert_eq!(frames, truth.frames);
    assert_eq!(capture.len() as u64, truth.file_bytes);
    assert_eq!(stats.malformed, 0, "{}: malformed messages", truth.scenario);
    assert_eq!(stats.messages, truth.frames, "one DNS message per frame");
    assert_eq!(out.len() as u64, truth.frames, "every message observed");
    out.into_iter()
        .map(|(_, observation)| observation)
        .collect()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn qname(observation: &Observation) -> &str {
    &observation.questions[0].name.canonical
}

/// Answer rdata of (name, rrtype) in a response.
fn answers<'a>(observation: &'a Observation, name: &str, rrtype: &str) -> Vec<&'a str> {
    observation
        .answers
        .iter()
        .filter(|record| record.name.canonical == name && record.rtype_name == rrtype)
        .map(|record| record.rdata.as_str())
        .collect()
}

/// Responses a resolver sent to its clients for (name, qtype).
fn downstream<'a>(
    observations: &'a [Observation],
    resolver: &str,
    name: &str,
    qtype: &str,
) -> Vec<&'a Observation> {
    observations
        .iter()
        .filter(|o| o.flags.qr && o.src_ip == ip(resolver) && o.src_port == 53)
        .filter(|o| qname(o) == name && o.questions[0].qtype_name == qtype)
        .collect()
}

fn event<'a>(truth: &'a ScenarioTruth, name: &str, rrtype: &str) -> &'a ScenarioEvent {
    truth
        .events
        .iter()
        .find(|event| event.name == name && event.rrtype == rrtype)
        .unwrap()
}

fn print_size(truth: &ScenarioTruth) {
    println!(
        "{}: {} frames, {} bytes, events {:?}",
        truth.scenario,
        truth.frames,
        truth.file_bytes,
        truth
            .events
            .iter()
            .map(|e| (&e.kind, &e.name, &e.rrtype, e.first_bad_ns, e.last_bad_ns))
            .collect::<Vec<_>>()
    );
}

#[test]
fn every_scenario_is_deterministic_and_seeds_differ() {
    for kind in ScenarioKind::ALL {
        let (first, truth) = capture(kind, 11);
        let (second, again) = capture(kind, 11);
        assert_eq!(fnv1a(&first), fnv1a(&second), "{kind}");
        assert!(first == second, "{kind}: same seed, same bytes");
        assert_eq!(truth, again);
        let (other, _) = capture(kind, 12);
        assert_ne!(fnv1a(&first), fnv1a(&other), "{kind}: another seed differs");
        print_size(&truth);
    }
}

#[test]
fn every_scenario_decodes_and_its_watched_names_are_seen_at_every_resolver() {
    for kind in ScenarioKind::ALL {
        let (bytes, truth) = capture(kind, 1);
        print_size(&truth);
        let limit = if kind == ScenarioKind::Demo {
            1_500_000
        } else {
            60_000_000
        };
        assert!(
            truth.file_bytes < limit,
            "{kind}: {} bytes",
            truth.file_bytes
        );
        assert_eq!(truth.capture_start_ns, 1_767_225_600 * 1_000_000_000);
        assert_eq!(
            truth.history_end_ns - truth.capture_start_ns,
            8 * 24 * HOUR_NS
        );
        assert!(truth.capture_end_ns > truth.history_end_ns + HOUR_NS);
        assert!(!truth.events.is_empty());
        for event in &truth.events {
            assert!(event.first_bad_ns.is_some(), "{kind}: {event:?}");
        }
        let observations = decode(&bytes, &truth);
        let history: Vec<Observation> = observations
            .into_iter()
            .filter(|o| o.time_ns < truth.history_end_ns)
            .collect();
        let minimum = if kind == ScenarioKind::Demo { 100 } else { 200 };
        let mut watched = vec![("gmail-smtp-in.l.google.com", "A"), ("gmail.com", "MX")];
        if kind != ScenarioKind::Demo {
            watched.extend([
                ("gmail-smtp-in.l.google.com", "AAAA"),
                ("alt4.gmail-smtp-in.l.google.com", "A"),
                ("outlook-com.olc.protection.outlook.com", "A"),
                ("mta6.am0.yahoodns.net", "A"),
                ("bank.example", "NS"),
                ("bank.example", "MX"),
                ("bank.example", "A"),
                ("mail.bank.example", "A"),
                ("corp.example", "MX"),
                ("mail.corp.example", "A"),
                ("shop.example", "A"),
                ("gmail.com", "NS"),
            ]);
        }
        for resolver in [R1, R2, R3] {
            for (name, qtype) in &watched {
                let seen = downstream(&history, resolver, name, qtype).len();
                assert!(
                    seen >= minimum,
                    "{kind}: {name} {qtype} seen {seen} times at {resolver}"
                );
            }
        }
        // Upstream: authoritative answers (AA) and, for .example, referrals from the TLD server.
        let authoritative = history.iter().filter(|o| o.flags.qr && o.flags.aa).count();
        assert!(
            authoritative > 100,
            "{kind}: {authoritative} upstream answers"
        );
        if kind != ScenarioKind::Demo {
            let referrals = history
                .iter()
                .filter(|o| o.flags.qr && o.src_ip == IpAddr::V4(TLD_SERVER))
                .filter(|o| o.answers.is_empty() && !o.authority.is_empty())
                .count();
            assert!(referrals > 100, "{kind}: {referrals} referrals");
        }
    }
}

/// Cached answers count down: each resolver's remaining TTL for a name never rises between two
/// answers unless the earlier copy had expired, outside the injected events.
#[test]
fn cached_ttls_count_down_in_normal_traffic() {
    let (bytes, truth) = capture(ScenarioKind::CertCc, 4);
    let observations = decode(&bytes, &truth);
    let mut last: HashMap<(IpAddr, &str, u16), (u64, u32)> = HashMap::new();
    let mut rises = 0;
    let mut checked = 0;
    for o in observations
        .iter()
        .filter(|o| o.time_ns < truth.history_end_ns)
    {
        if !(o.flags.qr && o.flags.ra) || o.answers.is_empty() {
            continue;
        }
        let ttl = o.answers[0].ttl;
        let key = (o.src_ip, qname(o), o.questions[0].qtype);
        if let Some((time, previous)) = last.get(&key) {
            let expiry = time + u64::from(*previous) * 1_000_000_000;
            if ttl > *previous && o.time_ns + 1_000_000_000 < expiry {
                rises += 1;
            }
            checked += 1;
        }
        last.insert(key, (o.time_ns, ttl));
    }
    assert!(checked > 10_000);
    assert_eq!(rises, 0, "a cached TTL rose before the entry expired");
}

fn check_cert_cc(kind: ScenarioKind, seed: u64) {
    let (bytes, truth) = capture(kind, seed);
    let observations = decode(&bytes, &truth);
    let event = &truth.events[0];
    let name = "gmail-smtp-in.l.google.com";
    assert_eq!(event.kind, "cache-poisoning");
    assert_eq!((event.name.as_str(), event.rrtype.as_str()), (name, "A"));
    assert_eq!(event.resolvers, vec![ip(R2)]);
    assert_eq!(event.bad_rdata, vec!["203.0.113.66"]);
    assert_eq!(event.bad_ttl, 86_400);
    let (start, end) = (event.start_ns, event.end_ns.unwrap());
    assert_eq!(start, truth.history_end_ns);
    assert_eq!(end - start, 2 * HOUR_NS);
    assert!(truth.capture_end_ns >= end + HOUR_NS + HOUR_NS / 2);
    let in_window = |o: &&&Observation| (start..end).contains(&o.time_ns);

    let poisoned: Vec<&Observation> = downstream(&observations, R2, name, "A")
        .into_iter()
        .filter(|o| (start..end).contains(&o.time_ns))
        .collect();
    assert!(!poisoned.is_empty(), "R2 answered {name} during the window");
    let mut previous_ttl = u32::MAX;
    for o in &poisoned {
        assert_eq!(answers(o, name, "A"), vec!["203.0.113.66"]);
        let ttl = o.answers[0].ttl;
        assert!(ttl <= 86_400 && ttl <= previous_ttl, "TTL counts down");
        previous_ttl = ttl;
    }
    assert_eq!(Some(poisoned[0].time_ns), event.first_bad_ns);
    for resolver in [R1, R3] {
        let answered = downstream(&observations, resolver, name, "A");
        assert!(answered.iter().filter(in_window).count() > 0 || kind == ScenarioKind::Demo);
        for o in answered {
            assert!(!answers(o, name, "A").contains(&"203.0.113.66"));
        }
    }
    // Nobody else ever sees the bad address, and R2 did not ask upstream for the name during the
    // window.
    let bad: Vec<&Observation> = observations
        .iter()
        .filter(|o| o.answers.iter().any(|r| r.rdata == "203.0.113.66"))
        .collect();
    assert!(bad.iter().all(|o| o.src_ip == ip(R2)));
    assert!(bad.len() >= poisoned.len());
    let upstream_fetches = observations
        .iter()
        .filter(|o| !o.flags.qr && o.src_ip == ip(R2) && o.dst_port == 53)
        .filter(|o| qname(o) == name && o.questions[0].qtype_name == "A")
        .filter(|o| (start..end).contains(&o.time_ns))
        .count();
    assert_eq!(upstream_fetches, 0);
    // After the window R2 fetches the name again and answers the true addresses.
    let after: Vec<&Observation> = downstream(&observations, R2, name, "A")
        .into_iter()
        .filter(|o| o.time_ns >= end)
        .collect();
    if kind == ScenarioKind::CertCc {
        assert!(after.len() > 5);
    }
    for o in after {
        let rdata = answers(o, name, "A");
        assert!(rdata
            .iter()
            .all(|a| event.good_rdata.iter().any(|g| g == a)));
    }
}

#[test]
fn cert_cc_poisons_only_r2_for_two_hours() {
    check_cert_cc(ScenarioKind::CertCc, 1);
    check_cert_cc(ScenarioKind::CertCc, 2);
}

#[test]
fn demo_is_a_small_cert_cc() {
    for seed in [1, 2, 3] {
        check_cert_cc(ScenarioKind::Demo, seed);
    }
}

#[test]
fn registrar_hijack_moves_bank_example_everywhere_then_reverts() {
    let (bytes, truth) = capture(ScenarioKind::RegistrarHijack, 1);
    let observations = decode(&bytes, &truth);
    assert_eq!(truth.events.len(), 3);
    let ns_event = event(&truth, "bank.example", "NS");
    let (start, end) = (ns_event.start_ns, ns_event.end_ns.unwrap());
    assert_eq!(end - start, 4 * HOUR_NS);
    let evil_ns = ["ns1.evil-dns.example", "ns2.evil-dns.example"];
    // Referrals from the TLD server carry the evil NS set exactly during the window.
    let mut evil_referrals = 0;
    for o in observations
        .iter()
        .filter(|o| o.flags.qr && o.src_ip == IpAddr::V4(TLD_SERVER))
        .filter(|o| qname(o).ends_with("bank.example"))
    {
        let ns: BTreeSet<&str> = o.authority.iter().map(|r| r.rdata.as_str()).collect();
        if (start..end).contains(&o.time_ns) {
            assert_eq!(ns, evil_ns.into_iter().collect());
            assert!(o.additional.iter().any(|r| r.rdata == "192.0.2.10"));
            evil_referrals += 1;
        } else {
            assert_eq!(ns, ["ns1.bank.example", "ns2.bank.example"].into());
        }
    }
    assert!(
        evil_referrals >= 3,
        "every resolver follows the new delegation"
    );
    for (name, bad, good) in [
        ("bank.example", "192.0.2.80", "198.51.100.80"),
        ("mail.bank.example", "192.0.2.25", "198.51.100.25"),
    ] {
        let truth_event = event(&truth, name, "A");
        assert_eq!(truth_event.bad_rdata, vec![bad]);
        assert_eq!(truth_event.first_bad_by_resolver.len(), 3);
        let first = truth_event.first_bad_ns.unwrap();
        let last = truth_event.last_bad_ns.unwrap();
        assert!(first >= start && last < end + 700_000_000_000);
        for resolver in [R1, R2, R3] {
            let answered = downstream(&observations, resolver, name, "A");
            let bad_answers: Vec<u64> = answered
                .iter()
                .filter(|o| answers(o, name, "A") == vec![bad])
                .map(|o| o.time_ns)
                .collect();
            assert!(!bad_answers.is_empty(), "{resolver} hands out {bad}");
            assert!(bad_answers.iter().all(|t| (first..=last).contains(t)));
            // Two hours after the revert, only the true address.
            let late: Vec<&&Observation> = answered
                .iter()
                .filter(|o| o.time_ns > end + HOUR_NS)
                .collect();
            assert!(!late.is_empty());
            assert!(late.iter().all(|o| answers(o, name, "A") == vec![good]));
        }
        // The bad answers come authoritatively from the new servers with TTL 300.
        let evil_servers = [ip("192.0.2.10"), ip("192.0.2.11")];
        assert!(observations.iter().any(|o| o.flags.aa
            && evil_servers.contains(&o.src_ip)
            && o.answers.iter().any(|r| r.rdata == bad && r.ttl == 300)));
    }
}

/// The CDN's new /24s appear only in the window, at every resolver, with the usual TTL.
#[test]
fn cdn_rotation_uses_new_prefixes_of_the_same_ranges_only_in_the_window() {
    let (bytes, truth) = capture(ScenarioKind::CdnRotation, 1);
    let observations = decode(&bytes, &truth);
    for (name, ttl) in [("shop.example", 20), ("gmail-smtp-in.l.google.com", 300)] {
        let e = event(&truth, name, "A");
        let (start, end) = (e.start_ns, e.end_ns.unwrap());
        let mut new_by_resolver: BTreeMap<IpAddr, usize> = BTreeMap::new();
        for o in observations.iter().filter(|o| o.flags.qr) {
            for rdata in answers(o, name, "A") {
                let is_new = e.bad_rdata.iter().any(|bad| bad == rdata);
                assert!(is_new || e.good_rdata.iter().any(|good| good == rdata));
                if is_new {
                    assert!(o.time_ns >= start && o.time_ns < end + u64::from(ttl) * 1_000_000_000);
                    if o.flags.ra {
                        *new_by_resolver.entry(o.src_ip).or_default() += 1;
                    }
                }
            }
            let records = o.answers.iter();
            for record in records.filter(|r| r.name.canonical == name && r.rtype_name == "A") {
                assert!(record.ttl <= ttl);
            }
        }
        for resolver in [R1, R2, R3] {
            let count = new_by_resolver.get(&ip(resolver)).copied().unwrap_or(0);
            assert!(
                count > 0,
                "{name}: new prefixes reach clients of {resolver}"
            );
        }
    }
}

#[test]
fn renumbering_lowers_the_ttl_then_moves_at_each_resolver_in_turn() {
    let (bytes, truth) = capture(ScenarioKind::Renumbering, 1);
    let observations = decode(&bytes, &truth);
    let lowering = &truth.events[0];
    let moving = &truth.events[1];
    assert_eq!(lowering.kind, "benign-ttl-lowering");
    assert_eq!(moving.kind, "benign-renumbering");
    assert_eq!(moving.start_ns - lowering.start_ns, 24 * HOUR_NS);
    assert!(truth.capture_end_ns >= moving.start_ns + 24 * HOUR_NS);
    assert_eq!(moving.end_ns, None);
    let name = "mail.corp.example";
    for o in observations.iter().filter(|o| o.flags.qr && o.flags.aa) {
        for record in o.answers.iter().filter(|r| r.name.canonical == name) {
            let expected_ttl = if o.time_ns >= lowering.start_ns {
                300
            } else {
                3_600
            };
            assert_eq!(record.ttl, expected_ttl);
            let expected = if o.time_ns >= moving.start_ns {
                "198.51.100.225"
            } else {
                "198.51.100.125"
            };
            assert_eq!(record.rdata, expected);
        }
    }
    let firsts: BTreeSet<u64> = moving
        .first_bad_by_resolver
        .iter()
        .map(|seen| seen.time_ns)
        .collect();
    assert_eq!(
        firsts.len(),
        3,
        "each resolver picks it up at its own expiry"
    );
    for resolver in [R1, R2, R3] {
        let answered = downstream(&observations, resolver, name, "A");
        let late: Vec<&&Observation> = answered
            .iter()
            .filter(|o| o.time_ns > moving.start_ns + HOUR_NS)
            .collect();
        assert!(late.len() > 50);
        assert!(late
            .iter()
            .all(|o| answers(o, name, "A") == vec!["198.51.100.225"]));
    }
}

#[test]
fn mx_move_reaches_every_resolver_and_stays() {
    let (bytes, truth) = capture(ScenarioKind::MxMove, 1);
    let observations = decode(&bytes, &truth);
    let e = &truth.events[0];
    assert_eq!(e.end_ns, None);
    assert_eq!(e.first_bad_by_resolver.len(), 3);
    for resolver in [R1, R2, R3] {
        let answered = downstream(&observations, resolver, "corp.example", "MX");
        for o in &answered {
            let mut rdata: Vec<String> = answers(o, "corp.example", "MX")
                .into_iter()
                .map(str::to_owned)
                .collect();
            rdata.sort();
            if o.time_ns < e.start_ns {
                assert_eq!(rdata, e.good_rdata);
            } else if o.time_ns > e.start_ns + HOUR_NS {
                assert_eq!(rdata, e.bad_rdata);
            }
        }
        let late = answered
            .iter()
            .filter(|o| o.time_ns > e.start_ns + 20 * HOUR_NS);
        assert!(late.count() > 10);
        // MTAs then resolve the new hosts.
        let workspace = downstream(&observations, resolver, "aspmx.l.google.com", "A");
        assert!(workspace.len() > 20, "{resolver}: {}", workspace.len());
        assert!(workspace.iter().all(|o| o.time_ns >= e.start_ns));
    }
}

#[test]
fn retransmits_repeat_responses_byte_for_byte_and_retry_queries_with_the_same_txid() {
    let (bytes, truth) = capture(ScenarioKind::Retransmits, 1);
    let observations = decode(&bytes, &truth);
    let e = &truth.events[0];
    let (start, end) = (e.start_ns, e.end_ns.unwrap());
    let frames: Vec<_> = records(&bytes).unwrap().collect();
    let mut duplicates_in_window = 0;
    let mut duplicates_outside = 0;
    for (index, frame) in frames.iter().enumerate() {
        // A SPAN duplicate: the same bytes a few microseconds later (other frames may sit
        // between them).
        let earlier = &frames[index.saturating_sub(4)..index];
        let copy = earlier
            .iter()
            .any(|e| e.data == frame.data && frame.time_ns - e.time_ns < 10_000);
        if copy {
            if (start..end).contains(&frame.time_ns) {
                duplicates_in_window += 1;
            } else {
                duplicates_outside += 1;
            }
        }
    }
    assert!(
        duplicates_in_window > 100,
        "{duplicates_in_window} in the window"
    );
    assert!(duplicates_outside > 100, "{duplicates_outside} outside it");
    // Retried queries: same client, port and txid, a second apart, answered identically.
    let mut queries: HashMap<(IpAddr, u16, u16), Vec<u64>> = HashMap::new();
    for o in observations.iter().filter(|o| !o.flags.qr && o.flags.rd) {
        queries
            .entry((o.src_ip, o.src_port, o.txid))
            .or_default()
            .push(o.time_ns);
    }
    let retried = queries
        .values()
        .filter(|times| times.len() == 2 && times[1] - times[0] == 1_000_000_000)
        .count();
    assert!(retried > 50, "{retried} retried queries");
    assert!(e.first_bad_ns.unwrap() >= start);
}

#[test]
fn committed_demo_sample_is_what_the_generator_writes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/cert-cc.pcap");
    let committed = std::fs::read(&path).unwrap();
    let (generated, truth) = capture(ScenarioKind::Demo, 1);
    assert!(
        committed == generated,
        "samples/cert-cc.pcap differs from the generator's output: regenerate it with \
         `dnsward-gen scenario demo --out samples/cert-cc.pcap --truth samples/cert-cc.truth.json`"
    );
    let json = std::fs::read_to_string(path.with_file_name("cert-cc.truth.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["frames"], truth.frames);
    assert_eq!(
        value["events"][0]["first_bad_ns"],
        truth.events[0].first_bad_ns.unwrap()
    );
}

#[test]
fn cli_writes_a_scenario_and_its_truth() {
    let directory = tempfile::tempdir().unwrap();
    let pcap = directory.path().join("demo.pcap");
    let json = directory.path().join("demo.json");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_dnsward-gen"))
        .args(["scenario", "demo", "--seed", "5", "--out"])
        .arg(&pcap)
        .arg("--truth")
        .arg(&json)
        .status()
        .unwrap();
    assert!(status.success());
    let (expected, truth) = capture(ScenarioKind::Demo, 5);
    assert!(std::fs::read(&pcap).unwrap() == expected);
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(value["scenario"], "demo");
    assert_eq!(value["history_end_ns"], truth.history_end_ns);
    assert_eq!(value["events"][0]["bad_rdata"][0], "203.0.113.66");
    assert_eq!(value["events"][0]["resolvers"][0], R2);
    let unknown = std::process::Command::new(env!("CARGO_BIN_EXE_dnsward-gen"))
        .args(["scenario", "nope", "--out", "-"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown scenario"));
}
