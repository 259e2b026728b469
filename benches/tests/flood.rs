//! Flood captures: deterministic, the asked-for number of frames, forged responses that look
//! like a Kaminsky attack on the wire, and a pairing verdict for each that the generator's
//! counts predict.

// The helpers below are test code too (clippy.toml only exempts `#[test]` functions): a panic
// here is a failed assertion, not a crash on input.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use dnsward_benches::flood::{
    write_flood, FloodConfig, FloodStats, ATTACKER_NS_ADDRESS, FLOOD_RESOLVER, FORGED_ADDRESS,
    TARGET_NS, TARGET_SERVER, TARGET_ZONE,
};
use dnsward_benches::pcap::records;
use schemas::Observation;
use sensor::frame::linktype;
use sensor::pipeline::{Decoder, FrameInput, SensorConfig};

fn flood(responses: u64, seed: u64) -> (Vec<u8>, FloodStats) {
    let config = FloodConfig {
        responses,
        seed,
        ..FloodConfig::default()
    };
    let mut out = Vec::new();
    let stats = write_flood(&config, &mut out).unwrap();
    (out, stats)
}

/// Decodes every frame with the sensor (pairing included); asserts no message is malformed.
fn decode(capture: &[u8]) -> (Vec<Observation>, sensor::stats::WorkerStats) {
    let config = SensorConfig {
        emit_observations: true,
        collect_tuples: false,
        ..SensorConfig::default()
    };
    let mut decoder = Decoder::new(config, vec![Arc::from("flood.pcap")], false);
    let mut out = Vec::new();
    let mut last = 0;
    for (index, record) in records(capture).unwrap().enumerate() {
        assert!(record.time_ns >= last, "frames are in time order");
        last = record.time_ns;
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
    (out.into_iter().map(|(_, o)| o).collect(), stats)
}

fn is_forged(observation: &Observation) -> bool {
    observation.flags.qr
        && observation
            .answers
            .iter()
            .any(|r| r.rdata == FORGED_ADDRESS.to_string())
}

#[test]
fn same_seed_gives_identical_bytes_and_other_seeds_differ() {
    let (first, first_stats) = flood(1_000, 4);
    let (second, second_stats) = flood(1_000, 4);
    assert_eq!(first, second);
    assert_eq!(first_stats, second_stats);
    let (other, _) = flood(1_000, 5);
    assert_ne!(first, other);
}

#[test]
fn a_thousand_forged_responses_make_ten_rounds_with_their_background() {
    let (capture, stats) = flood(1_000, 1);
    assert_eq!(stats.forged_responses, 1_000);
    assert_eq!(stats.attack_queries, 10);
    assert_eq!(stats.attack_answers, 10);
    assert_eq!(stats.background_queries, 10);
    assert_eq!(
        stats.background_responses + stats.background_unanswered,
        stats.background_queries
    );
    assert_eq!(
        stats.forged_to_query_port + stats.forged_to_other_port,
        1_000
    );
    assert_eq!(
        stats.forged_before_answer + stats.forged_after_answer,
        1_000
    );
    // Roughly 90 % to the query's port, and most forged responses beat the real answer.
    assert!(
        (800..=980).contains(&stats.forged_to_query_port),
        "{stats:?}"
    );
    assert!(stats.forged_before_answer > 750, "{stats:?}");
    assert!(stats.forged_after_answer > 0, "{stats:?}");
    let expected_frames = stats.forged_responses
        + stats.attack_queries
        + stats.attack_answers
        + stats.background_queries
        + stats.background_responses;
    assert_eq!(stats.frames, expected_frames);
    let frames = records(&capture).unwrap().count() as u64;
    assert_eq!(frames, stats.frames);
    assert_eq!(capture.len() as u64, stats.file_bytes);
    // 10 ms of rounds, then background answers up to 60 ms later.
    let span = stats.last_ns - stats.first_ns;
    assert!((9_000_000..=70_000_000).contains(&span), "span {span} ns");
}

#[test]
fn forged_responses_carry_a_guessed_txid_and_the_attackers_delegation() {
    let (capture, stats) = flood(1_000, 1);
    let (observations, decoded) = decode(&capture);
    assert_eq!(decoded.malformed, 0);
    assert_eq!(decoded.messages, stats.frames, "one DNS message per frame");
    assert_eq!(observations.len() as u64, stats.frames);

    let resolver = IpAddr::V4(FLOOD_RESOLVER);
    let server = IpAddr::V4(TARGET_SERVER);
    // The attack queries, by question: txid and port.
    let mut queries: HashMap<String, (u16, u16)> = HashMap::new();
    for o in observations
        .iter()
        .filter(|o| !o.flags.qr && o.dst_ip == server)
    {
        assert_eq!(o.src_ip, resolver);
        assert_eq!(o.dst_port, 53);
        queries.insert(o.questions[0].name.canonical.clone(), (o.txid, o.src_port));
    }
    let attack_names: Vec<&String> = queries
        .keys()
        .filter(|name| name.len() == 12 + 1 + TARGET_ZONE.len())
        .collect();
    assert_eq!(attack_names.len() as u64, stats.attack_queries);

    let mut forged = 0u64;
    let mut to_query_port = 0u64;
    for o in observations.iter().filter(|o| is_forged(o)) {
        forged += 1;
        let qname = &o.questions[0].name.canonical;
        assert!(qname.ends_with(&format!(".{TARGET_ZONE}")), "{qname}");
        let (txid, port) = queries[qname];
        assert_ne!(o.txid, txid, "the guess is never right");
        if o.dst_port == port {
            to_query_port += 1;
        }
        assert_eq!((o.src_ip, o.src_port, o.dst_ip), (server, 53, resolver));
        assert!(o.flags.aa);
        assert_eq!(o.ip_ttl, 47, "the attacker is farther away than the server");
        assert!(o.edns.is_none());
        assert_eq!(o.answers.len(), 1);
        assert_eq!(o.answers[0].name.canonical, *qname);
        assert_eq!(o.authority.len(), 1);
        let ns = &o.authority[0];
        assert_eq!(
            (ns.name.canonical.as_str(), ns.rtype_name.as_str()),
            (TARGET_ZONE, "NS")
        );
        assert_eq!(ns.rdata, TARGET_NS);
        assert_eq!(o.additional.len(), 1);
        let glue = &o.additional[0];
        assert_eq!(
            (glue.name.canonical.as_str(), glue.rtype_name.as_str()),
            (TARGET_NS, "A")
        );
        assert_eq!(glue.rdata, ATTACKER_NS_ADDRESS.to_string());
    }
    assert_eq!(forged, stats.forged_responses);
    assert_eq!(to_query_port, stats.forged_to_query_port);

    // The real answers: NXDOMAIN with the right txid and port.
    let nxdomain: Vec<&Observation> = observations
        .iter()
        .filter(|o| o.flags.qr && o.rcode == 3)
        .collect();
    assert_eq!(nxdomain.len() as u64, stats.attack_answers);
    for o in nxdomain {
        let (txid, port) = queries[&o.questions[0].name.canonical];
        assert_eq!((o.txid, o.dst_port, o.ip_ttl), (txid, port, 57));
    }
}

#[test]
fn pairing_verdicts_match_what_the_generator_says() {
    let (capture, stats) = flood(3_000, 2);
    let (observations, decoded) = decode(&capture);
    let p = decoded.pairing;
    assert_eq!(p.queries, stats.attack_queries + stats.background_queries);
    assert_eq!(p.txid_mismatch, stats.forged_before_answer, "{p:?}");
    assert_eq!(p.unsolicited, stats.forged_after_answer, "{p:?}");
    assert_eq!(
        p.answered,
        stats.attack_answers + stats.background_responses,
        "{p:?}"
    );
    assert_eq!(
        p.race + p.duplicate + p.case_mismatch + p.late + p.unknown,
        0,
        "{p:?}"
    );
    let verdict = |o: &Observation| o.pairing.as_ref().map(|p| p.verdict.clone());
    for o in observations.iter().filter(|o| is_forged(o)) {
        let v = verdict(o).unwrap();
        assert!(v == "txid_mismatch" || v == "unsolicited", "{v}");
    }
}
