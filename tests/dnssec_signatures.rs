//! DNSSEC signatures in real captures (issue 5): every RRSIG over a DNSKEY set verifies against
//! the keys in the same response, and was valid at packet time. Needs the shared captures (see
//! `common::shared_pcaps`).

// Test code: a panic, unwrap or out-of-range index here is a failed assertion, not a crash on
// input (clippy.toml allows them inside #[test] functions; this extends that to the helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use analyzer::dnssec::{check_signatures, SignatureCheck, SignatureOutcome};
use sensor::frame::Transport as FrameTransport;

/// Every UDP DNS response of `file` (Ethernet), with its packet time in seconds.
fn responses(file: &std::path::Path) -> Vec<(u64, Vec<u8>)> {
    let bytes = std::fs::read(file).unwrap();
    let mut out = Vec::new();
    for r in dnsward_benches::pcap::records(&bytes).unwrap() {
        let Ok(frame) = sensor::frame::decode(1, r.data) else {
            continue;
        };
        if let FrameTransport::Udp { payload, .. } = frame.transport {
            if payload.get(2).is_some_and(|b| b & 0x80 != 0) {
                out.push((r.time_ns / 1_000_000_000, payload.to_vec()));
            }
        }
    }
    out
}

/// The signature checks of every response of `file`, against its own keys and, with `across`,
/// those of every other response of the capture too.
fn checks(file: &std::path::Path, across: bool) -> Vec<(u64, SignatureCheck)> {
    let responses = responses(file);
    let keys: Vec<&[u8]> = if across {
        responses.iter().map(|(_, m)| m.as_slice()).collect()
    } else {
        Vec::new()
    };
    responses
        .iter()
        .flat_map(|(t, m)| {
            check_signatures(m, &keys)
                .unwrap_or_default()
                .into_iter()
                .map(move |c| (*t, c))
        })
        .collect()
}

#[test]
fn dnskey_sets_verify_against_their_own_keys_at_packet_time() {
    let Some(dir) =
        common::shared_pcaps("dnskey_sets_verify_against_their_own_keys_at_packet_time")
    else {
        return;
    };
    for (file, zone, tags) in [
        ("zeek__dnssec_dnskey.pcap", "upenn.edu", vec![]),
        (
            "zeek__dnssec_dnskey2.pcap",
            "paypal.com",
            vec![11811, 21037],
        ),
    ] {
        let all = checks(&dir.join(file), false);
        let over_keys: Vec<&(u64, SignatureCheck)> = all
            .iter()
            .filter(|(_, c)| c.type_covered == 48 && c.owner == zone)
            .collect();
        assert!(!over_keys.is_empty(), "{file}: {all:#?}");
        let mut valid_tags: Vec<u16> = Vec::new();
        for (t, c) in &over_keys {
            assert_ne!(c.outcome, SignatureOutcome::Invalid, "{file}: {c:?}");
            if c.outcome != SignatureOutcome::Valid {
                continue;
            }
            assert_eq!(c.signer, zone);
            // Valid at packet time: the window lies around the capture (in the past now).
            assert!(
                u64::from(c.inception) <= *t && *t <= u64::from(c.expiration),
                "{file}: {c:?} at {t}"
            );
            valid_tags.push(c.key_tag);
        }
        valid_tags.sort_unstable();
        valid_tags.dedup();
        assert_eq!(valid_tags, tags, "{file}");
    }
    // upenn.edu's DNSKEY set is signed by a key not in it (18463: nothing to check it with) and
    // by a 1,024-bit RSA/SHA-1 key, which ring does not verify: indeterminate, never bogus.
    let upenn: Vec<(u16, SignatureOutcome)> = checks(&dir.join("zeek__dnssec_dnskey.pcap"), false)
        .into_iter()
        .filter(|(_, c)| c.type_covered == 48)
        .map(|(_, c)| (c.key_tag, c.outcome))
        .collect();
    assert_eq!(
        upenn,
        [
            (18463, SignatureOutcome::NoKey),
            (50475, SignatureOutcome::Unsupported)
        ]
    );
}

#[test]
fn rsa_sha256_signatures_verify_with_keys_from_other_responses() {
    let Some(dir) =
        common::shared_pcaps("rsa_sha256_signatures_verify_with_keys_from_other_responses")
    else {
        return;
    };
    let all = checks(&dir.join("zeek__dns-edns-ecs.pcap"), true);
    let mut summary: std::collections::BTreeMap<(String, SignatureOutcome), usize> =
        std::collections::BTreeMap::new();
    for (t, c) in &all {
        assert_ne!(c.outcome, SignatureOutcome::Invalid, "{c:?}");
        if c.outcome == SignatureOutcome::Valid {
            assert!(
                u64::from(c.inception) <= *t && *t <= u64::from(c.expiration),
                "{c:?} at {t}"
            );
        }
        *summary.entry((c.signer.clone(), c.outcome)).or_default() += 1;
    }
    // RSA/SHA-256 (algorithm 8): ripe.net's and weberdns.de's signatures verify. weberlab.de's
    // keys (RSA/SHA-512) came in IP fragments, which this test does not reassemble: no key.
    let count = |signer: &str, outcome| {
        summary
            .get(&(signer.to_owned(), outcome))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(count("ripe.net", SignatureOutcome::Valid), 3, "{summary:?}");
    assert_eq!(
        count("weberdns.de", SignatureOutcome::Valid),
        10,
        "{summary:?}"
    );
    assert_eq!(
        count("weberlab.de", SignatureOutcome::NoKey),
        4,
        "{summary:?}"
    );
}

fn dnsward(args: &[&std::ffi::OsStr]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dnsward {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The DNSKEY records of `zone` in a capture's responses, as `dnssec import` reads them (taken
/// from dnsward's own observations).
fn dnskeys_of(capture: &std::path::Path, zone: &str) -> String {
    let lines = common::run_dnsward(capture, "test").unwrap();
    let mut out = String::new();
    for obs in common::parse_observations(&lines).into_iter().flatten() {
        for r in obs.answers.iter().filter(|r| r.rtype == 48) {
            if r.name.canonical == zone {
                let line = format!("{zone}. IN DNSKEY {}\n", r.rdata);
                if !out.contains(&line) {
                    out.push_str(&line);
                }
            }
        }
    }
    out
}

/// The whole pipeline on real signed captures: with the zone's keys imported as anchors
/// (`dnssec import`), the DNSKEY sets and the signed rrsets of paypal.com, ripe.net and
/// weberdns.de validate as secure at packet time; nothing in any DNSSEC capture is bogus or
/// raises a DNSSEC alert (without keys, everything is indeterminate, never bogus).
#[test]
fn real_signed_answers_validate_through_the_pipeline() {
    use std::ffi::OsStr;
    let Some(dir) = common::shared_pcaps("real_signed_answers_validate_through_the_pipeline")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("dnsward.toml");
    std::fs::write(
        &config,
        "[watch]\nzones = [\"upenn.edu\", \"paypal.com\", \"sshfp.net\", \"cynic.net\", \
         \"ripe.net\", \"weberdns.de\", \"weberlab.de\", \"suricata.io\"]\n\
         names = [\"virgo.sas.upenn.edu\", \"workfamily.sas.upenn.edu\", \"www.upenn.edu\", \
         \"dla.library.upenn.edu\", \"foobar.sshfp.net\", \"monadic.cynic.net\"]\n",
    )
    .unwrap();
    // (capture, zones whose keys are imported, (name, type, signer) expected secure)
    type Case = (
        &'static str,
        &'static [&'static str],
        &'static [(&'static str, &'static str, &'static str)],
    );
    let cases: [Case; 9] = [
        ("zeek__dnssec_dnskey.pcap", &[], &[]),
        (
            "zeek__dnssec_dnskey2.pcap",
            &["paypal.com"],
            &[("paypal.com", "DNSKEY", "paypal.com")],
        ),
        ("zeek__dnssec_ds.pcap", &[], &[]),
        ("zeek__dnssec_nsec.pcap", &[], &[]),
        ("zeek__dnssec_nsec3.pcap", &[], &[]),
        ("zeek__dnssec_rrsig.pcap", &[], &[]),
        ("tcpdump__dnssec.pcap", &[], &[]),
        ("sv__20250129-dns-with-additionals.pcap", &[], &[]),
        (
            "zeek__dns-edns-ecs.pcap",
            &["ripe.net", "weberdns.de"],
            &[
                ("ripe.net", "DNSKEY", "ripe.net"),
                ("weberdns.de", "DNSKEY", "weberdns.de"),
            ],
        ),
    ];
    for (file, zones, secure) in cases {
        let capture = dir.join(file);
        let db = tmp.path().join(file);
        let keys = tmp.path().join(format!("{file}.keys"));
        let text: String = zones.iter().map(|z| dnskeys_of(&capture, z)).collect();
        std::fs::write(&keys, &text).unwrap();
        if !zones.is_empty() {
            dnsward(&[
                OsStr::new("dnssec"),
                OsStr::new("import"),
                OsStr::new("--db"),
                db.as_os_str(),
                keys.as_os_str(),
            ]);
        }
        dnsward(&[
            OsStr::new("run"),
            OsStr::new("--quiet"),
            OsStr::new("--pcap"),
            capture.as_os_str(),
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--db"),
            db.as_os_str(),
        ]);
        let show: Vec<serde_json::Value> = dnsward(&[
            OsStr::new("dnssec"),
            OsStr::new("show"),
            OsStr::new("--json"),
            OsStr::new("--db"),
            db.as_os_str(),
        ])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
        let alerts = dnsward(&[
            OsStr::new("alerts"),
            OsStr::new("--json"),
            OsStr::new("--db"),
            db.as_os_str(),
        ]);
        assert!(!alerts.contains("\"dnssec_"), "{file}: {alerts}");
        let outcomes: Vec<&serde_json::Value> =
            show.iter().filter(|o| o["type"] == "outcome").collect();
        for o in &outcomes {
            assert_ne!(o["security"], "bogus", "{file}: {o}");
            assert_ne!(o["security"], "insecure", "{file}: {o}");
        }
        for (name, rtype, signer) in secure {
            let o = outcomes
                .iter()
                .find(|o| o["name"] == *name && o["rtype"] == *rtype)
                .unwrap_or_else(|| panic!("{file}: no outcome for {name} {rtype}: {show:#?}"));
            assert_eq!(o["security"], "secure", "{file}: {o}");
            assert_eq!(o["signer"], *signer, "{file}: {o}");
        }
        // Without imported keys nothing can be secure: the chains to the root are not there.
        if zones.is_empty() {
            assert!(
                outcomes.iter().all(|o| o["security"] == "indeterminate"),
                "{file}: {show:#?}"
            );
        }
    }
}
