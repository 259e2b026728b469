//! DNSSEC validation end to end, on zones signed by BIND's real tools (dnssec-keygen and
//! dnssec-signzone from bind9-utils, which `scripts/setup.sh` and `.ci/run` install) under a
//! test anchor for `test.`, served as a captured resolver's traffic by the generator
//! (`dnsward_benches::signed`): a correct answer is secure, even when it passes before its
//! keys; a forged answer without RRSIG is stripped; a corrupted signature, a genuine signature
//! over forged data, an expired and a not-yet-valid signature are bogus; a zone with no DS is
//! insecure (NSEC, NSEC3, opt-out NSEC3); a new zone-signing key and a new DS at the parent are
//! key-set changes; a validating resolver that stops setting the AD bit,
//! or answers SERVFAIL in a burst, is reported. Algorithms 8, 10, 13, 14 and 15.

// Test code: a panic, unwrap or out-of-range index here is a failed assertion, not a crash on
// input (clippy.toml allows them inside #[test] functions; this extends that to the helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use dnsward_benches::signed::{
    write_signed_capture, write_signed_capture_with, Denial, SignedCapture,
};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn dnsward(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dnsward {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap()
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs the signed capture of `algorithm` through dnsward; returns the capture, the alerts,
/// the `dnssec show --json` records and the run's stats output.
fn run(algorithm: u8, dir: &Path) -> (SignedCapture, Vec<Value>, Vec<Value>, String) {
    let capture = write_signed_capture(dir, algorithm).unwrap_or_else(|e| {
        panic!("signing with algorithm {algorithm} (bind9-utils installed?): {e}")
    });
    let config = dir.join("dnsward.toml");
    std::fs::write(
        &config,
        format!(
            "[watch]\ndefault_list = false\nzones = [\"good.test\", \"unsigned.test\"]\n\
             names = [\"www.good.test\", \"old.good.test\", \"new.good.test\", \"mail.good.test\", \"www.unsigned.test\"]\n\
             [dnssec]\nanchors = [{:?}]\n",
            capture.anchors.display().to_string()
        ),
    )
    .unwrap();
    let db = dir.join("db");
    let (cfg, db) = (config.to_str().unwrap(), db.to_str().unwrap());
    let stats = dnsward(&[
        "run",
        "--pcap",
        capture.pcap.to_str().unwrap(),
        "--config",
        cfg,
        "--db",
        db,
    ]);
    let alerts = json_lines(&dnsward(&["alerts", "--json", "--db", db]));
    let show = json_lines(&dnsward(&["dnssec", "show", "--json", "--db", db]));
    (capture, alerts, show, stats)
}

fn alert<'a>(alerts: &'a [Value], detector: &str, name: &str) -> &'a Value {
    alerts
        .iter()
        .find(|a| a["dnsward"]["detector"] == detector && a["dns"]["question"]["name"] == name)
        .unwrap_or_else(|| panic!("no {detector} alert for {name}: {alerts:#?}"))
}

fn outcome<'a>(show: &'a [Value], name: &str, rtype: &str) -> &'a Value {
    show.iter()
        .find(|o| o["type"] == "outcome" && o["name"] == name && o["rtype"] == rtype)
        .unwrap_or_else(|| panic!("no outcome for {name} {rtype}: {show:#?}"))
}

fn first_frame(alert: &Value) -> u64 {
    alert["dnsward"]["evidence"][0]["frame"].as_u64().unwrap()
}

fn check(algorithm: u8) {
    let dir = tempfile::tempdir().unwrap();
    let (capture, alerts, show, stats) = run(algorithm, dir.path());
    let frame = |label: &str| capture.frames[label];
    let tag = |key: &str| u64::from(capture.key_tags[key]);

    // Exactly the expected alerts, nothing else at low or above.
    let mut got: Vec<(String, String, String, String)> = alerts
        .iter()
        .filter(|a| a["dnsward"]["severity"] != "info")
        .map(|a| {
            (
                a["dnsward"]["detector"].as_str().unwrap().to_owned(),
                a["dns"]["question"]["name"].as_str().unwrap().to_owned(),
                a["dns"]["question"]["type"].as_str().unwrap().to_owned(),
                a["dnsward"]["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    let want = [
        ("dnssec_ad_lost", "www.good.test", "A", "medium"),
        ("dnssec_bogus", "new.good.test", "A", "critical"),
        ("dnssec_bogus", "old.good.test", "A", "critical"),
        ("dnssec_bogus", "www.good.test", "A", "critical"),
        ("dnssec_key_change", "good.test", "DNSKEY", "medium"),
        ("dnssec_key_change", "good.test", "DS", "medium"),
        ("dnssec_servfail_burst", "mail.good.test", "A", "medium"),
        ("dnssec_stripped", "www.good.test", "A", "high"),
    ];
    let want: Vec<(String, String, String, String)> = want
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect();
    assert_eq!(got, want, "algorithm {algorithm}: {alerts:#?}\n{stats}");

    // Stripped: the forged answer without signatures.
    let stripped = alert(&alerts, "dnssec_stripped", "www.good.test");
    assert_eq!(first_frame(stripped), frame("stripped"));
    assert_eq!(stripped["rule"]["category"], "dnssec");
    assert_eq!(stripped["dnsward"]["observed"][0]["data"], "203.0.113.66");

    // Bogus: the corrupted signature first, then the genuine signature over forged data.
    let bogus = alert(&alerts, "dnssec_bogus", "www.good.test");
    assert_eq!(first_frame(bogus), frame("corrupted"));
    assert_eq!(
        bogus["dnsward"]["evidence"][1]["frame"],
        frame("forged_sig")
    );
    assert_eq!(bogus["dnsward"]["score"], 90);
    let zsk = tag("good.test.zsk");
    let reason = format!("the signature by key {zsk} of good.test does not verify");
    assert!(
        bogus["dnsward"]["reasons"][0]
            .as_str()
            .unwrap()
            .ends_with(&reason),
        "{bogus:#}"
    );

    // Expired.
    let expired = alert(&alerts, "dnssec_bogus", "old.good.test");
    assert_eq!(first_frame(expired), frame("expired"));
    let reason = format!("the signature by key {zsk} of good.test expired at 20250301000000");
    assert!(
        expired["dnsward"]["reasons"][0]
            .as_str()
            .unwrap()
            .ends_with(&reason),
        "{expired:#}"
    );

    // Not yet valid.
    let future = alert(&alerts, "dnssec_bogus", "new.good.test");
    assert_eq!(first_frame(future), frame("future_sig"));
    let reason =
        format!("the signature by key {zsk} of good.test is not valid before 20300101000000");
    assert!(
        future["dnsward"]["reasons"][0]
            .as_str()
            .unwrap()
            .ends_with(&reason),
        "{future:#}"
    );

    // A new DS at the parent: a key-signing key changed, score 55.
    let ds_change = alerts
        .iter()
        .find(|a| {
            a["dnsward"]["detector"] == "dnssec_key_change" && a["dns"]["question"]["type"] == "DS"
        })
        .unwrap();
    assert_eq!(first_frame(ds_change), frame("ds_change"));
    assert_eq!(ds_change["dnsward"]["score"], 55);
    assert_eq!(
        ds_change["dnsward"]["baseline"].as_array().unwrap().len(),
        1
    );
    let added = ds_change["dnsward"]["observed"][0]["data"]
        .as_str()
        .unwrap();
    assert!(
        added.starts_with(&format!("{} {algorithm} 2 ", tag("good.test.ksk2"))),
        "{added}"
    );

    // A new zone-signing key: the previous set is the baseline, the new key the observation.
    let change = alert(&alerts, "dnssec_key_change", "good.test");
    assert_eq!(first_frame(change), frame("dnskey_change"));
    assert_eq!(change["dnsward"]["baseline"].as_array().unwrap().len(), 2);
    let added = change["dnsward"]["observed"][0]["data"].as_str().unwrap();
    assert!(
        added.starts_with(&format!("tag={} 256 3 {algorithm} ", tag("good.test.zsk2"))),
        "{added}"
    );

    // Downstream.
    let ad = alert(&alerts, "dnssec_ad_lost", "www.good.test");
    assert_eq!(first_frame(ad), frame("ad_lost"));
    let servfail = alert(&alerts, "dnssec_servfail_burst", "mail.good.test");
    assert_eq!(first_frame(servfail), frame("servfail_5"));

    // Outcomes in the store: the answer that passed before its keys is secure, by the ZSK.
    let www = outcome(&show, "www.good.test", "A");
    assert_eq!(www["counts"]["secure"], 1, "{www:#}");
    assert_eq!(www["counts"]["bogus"], 3, "{www:#}");
    let mx = outcome(&show, "good.test", "MX");
    assert_eq!(mx["security"], "secure");
    assert_eq!(mx["signer"], "good.test");
    assert_eq!(mx["key_tag"], zsk);
    assert_eq!(mx["algorithm"], algorithm);
    assert_eq!(mx["frame"], frame("mx_good"));
    let unsigned = outcome(&show, "www.unsigned.test", "A");
    assert_eq!(unsigned["security"], "insecure");
    assert_eq!(unsigned["signed"], false);
    assert_eq!(
        unsigned["reason"],
        format!(
            "unsigned.test is proven unsigned (NSEC of unsigned.test without DS, signed by key {} of test)",
            tag("test.zsk")
        )
    );
    let ds = outcome(&show, "good.test", "DS");
    assert_eq!(ds["security"], "secure");
    assert_eq!(ds["signer"], "test");

    // The key cache: test. from the anchor, good.test. through its DS, unsigned.test proven.
    let zone = |kind: &str, name: &str| {
        show.iter()
            .find(|z| z["type"] == "zone" && z["kind"] == kind && z["zone"] == name)
            .unwrap_or_else(|| panic!("no {kind} state for {name}: {show:#?}"))
    };
    assert_eq!(
        zone("dnskey", "test")["proof"],
        format!("key {} named by the trust anchor", tag("test.ksk"))
    );
    assert_eq!(
        zone("dnskey", "good.test")["records"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        zone("ds", "good.test")["records"].as_array().unwrap().len(),
        2,
        "the DS set after ds_change"
    );
    assert_eq!(
        zone("insecure", "unsigned.test")["records"],
        serde_json::json!([])
    );

    // Each distinct signature was verified once, however often it passed.
    assert!(stats.contains("dnssec: "), "{stats}");
    assert!(stats.contains(" held=1 "), "{stats}");
}

#[test]
fn rsa_sha256_algorithm_8() {
    check(8);
}

#[test]
fn rsa_sha512_algorithm_10() {
    check(10);
}

#[test]
fn ecdsa_p256_algorithm_13() {
    check(13);
}

#[test]
fn ecdsa_p384_algorithm_14() {
    check(14);
}

#[test]
fn ed25519_algorithm_15() {
    check(15);
}

/// The key cache lives in the store: a second run on the same store, over a capture holding
/// only the MX exchange (no DNSKEY or DS passes), still validates the answer as secure, and a
/// third with only the stripped answer still knows the name is signed (from the stored
/// outcomes).
#[test]
fn keys_survive_a_restart() {
    use dnsward_benches::{PcapWriter, TimestampResolution};
    let dir = tempfile::tempdir().unwrap();
    let (capture, _, _, _) = run(13, dir.path());
    let bytes = std::fs::read(&capture.pcap).unwrap();
    let only = |labels: &[&str], file: &str| {
        let keep: Vec<u64> = labels
            .iter()
            .flat_map(|l| [capture.frames[*l] - 1, capture.frames[*l]])
            .collect();
        let path = dir.path().join(file);
        let mut w = PcapWriter::new(
            std::fs::File::create(&path).unwrap(),
            TimestampResolution::Microseconds,
        )
        .unwrap();
        for (i, r) in dnsward_benches::pcap::records(&bytes).unwrap().enumerate() {
            if keep.contains(&(i as u64 + 1)) {
                w.write_frame(r.time_ns, r.data).unwrap();
            }
        }
        w.into_inner().unwrap();
        path
    };
    let config = dir.path().join("dnsward.toml");
    let db = dir.path().join("db");
    let (cfg, db) = (config.to_str().unwrap(), db.to_str().unwrap());
    let mx = only(&["mx_good"], "mx.pcap");
    let stats = dnsward(&[
        "run",
        "--pcap",
        mx.to_str().unwrap(),
        "--config",
        cfg,
        "--db",
        db,
    ]);
    assert!(stats.contains(" keys_trusted=0 "), "{stats}");
    let show = json_lines(&dnsward(&["dnssec", "show", "--json", "--db", db]));
    let mx = outcome(&show, "good.test", "MX");
    assert_eq!(mx["security"], "secure");
    assert_eq!(mx["counts"]["secure"], 2, "{mx:#}");
    // The forged answer without signatures, alone: the store remembers www.good.test signed.
    let stripped = only(&["stripped"], "stripped.pcap");
    dnsward(&[
        "run",
        "--pcap",
        stripped.to_str().unwrap(),
        "--config",
        cfg,
        "--db",
        db,
    ]);
    let alerts = json_lines(&dnsward(&["alerts", "--json", "--db", db]));
    let stripped_alerts: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["dnsward"]["detector"] == "dnssec_stripped")
        .collect();
    // The first run's episode is still open (the same packet time): it counts a second response.
    assert_eq!(stripped_alerts.len(), 1, "{alerts:#?}");
    assert_eq!(stripped_alerts[0]["dnsward"]["responses"], 2, "{alerts:#?}");
    // A new store with the same MX exchange knows nothing: the answer is indeterminate.
    let fresh = dir.path().join("fresh");
    let fresh = fresh.to_str().unwrap();
    let only_mx = dir.path().join("mx.pcap");
    dnsward(&[
        "run",
        "--pcap",
        only_mx.to_str().unwrap(),
        "--config",
        cfg,
        "--db",
        fresh,
    ]);
    let show = json_lines(&dnsward(&["dnssec", "show", "--json", "--db", fresh]));
    assert_eq!(
        outcome(&show, "good.test", "MX")["security"],
        "indeterminate"
    );
}

/// A flood of one forged, signed answer costs one signature verification: the 2,000 copies of
/// the corrupted answer (after the chain) are judged from the verification cache, and all count
/// in one bogus episode.
#[test]
fn a_flood_of_one_bogus_answer_is_verified_once() {
    use dnsward_benches::{PcapWriter, TimestampResolution};
    let dir = tempfile::tempdir().unwrap();
    let capture = write_signed_capture(dir.path(), 13).unwrap();
    let bytes = std::fs::read(&capture.pcap).unwrap();
    let records: Vec<(u64, Vec<u8>)> = dnsward_benches::pcap::records(&bytes)
        .unwrap()
        .map(|r| (r.time_ns, r.data.to_vec()))
        .collect();
    let path = dir.path().join("flood.pcap");
    let mut w = PcapWriter::new(
        std::fs::File::create(&path).unwrap(),
        TimestampResolution::Microseconds,
    )
    .unwrap();
    // The chain: the first four exchanges (answer, DNSKEY test., DS, DNSKEY good.test.).
    let chain_end = usize::try_from(capture.frames["dnskey_good"]).unwrap();
    for (t, f) in &records[..chain_end] {
        w.write_frame(*t, f).unwrap();
    }
    let corrupted = usize::try_from(capture.frames["corrupted"]).unwrap() - 1;
    let (t0, forged) = &records[corrupted];
    for i in 0..2_000u64 {
        w.write_frame(t0 + i * 1_000_000, forged).unwrap();
    }
    w.into_inner().unwrap();
    let config = dir.path().join("dnsward.toml");
    std::fs::write(
        &config,
        format!(
            "[watch]\ndefault_list = false\nzones = [\"good.test\"]\nnames = [\"www.good.test\"]\n\
             [dnssec]\nanchors = [{:?}]\n",
            capture.anchors.display().to_string()
        ),
    )
    .unwrap();
    let db = dir.path().join("db");
    let stats = dnsward(&[
        "run",
        "--pcap",
        path.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    let line = stats.lines().find(|l| l.starts_with("dnssec: ")).unwrap();
    let field = |name: &str| -> u64 {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(field("bogus"), 2_000, "{line}");
    // The chain (DNSKEY test., DS, DNSKEY good.test., the held answer) and the forged
    // signature: a handful of verifications, whatever the flood's size.
    assert!(field("verifications") <= 6, "{line}");
    assert!(field("memo_hits") >= 1_990, "{line}");
    let alerts = json_lines(&dnsward(&[
        "alerts",
        "--json",
        "--db",
        db.to_str().unwrap(),
    ]));
    let bogus = alert(&alerts, "dnssec_bogus", "www.good.test");
    assert_eq!(bogus["dnsward"]["responses"], 2_000);
}

/// The denial of unsigned.test.'s DS by NSEC3: the record matching its hash (no DS in the
/// bitmap), or an opt-out NSEC3 covering it (the way .com proves most of its delegations
/// unsigned). Either way www.unsigned.test is insecure, and nothing else changes.
#[test]
fn nsec3_and_opt_out_denials_prove_the_zone_unsigned() {
    for (denial, how) in [
        (Denial::Nsec3, "NSEC3 matching unsigned.test without DS"),
        (Denial::Nsec3OptOut, "opt-out NSEC3 covering unsigned.test"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let capture = write_signed_capture_with(dir.path(), 13, denial).unwrap();
        let config = dir.path().join("dnsward.toml");
        std::fs::write(
            &config,
            format!(
                "[watch]\ndefault_list = false\nzones = [\"good.test\", \"unsigned.test\"]\n\
                 names = [\"www.unsigned.test\"]\n[dnssec]\nanchors = [{:?}]\n",
                capture.anchors.display().to_string()
            ),
        )
        .unwrap();
        let db = dir.path().join("db");
        let db = db.to_str().unwrap();
        let stats = dnsward(&[
            "run",
            "--pcap",
            capture.pcap.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--db",
            db,
        ]);
        assert!(stats.contains(" insecure_proofs=1 "), "{denial}: {stats}");
        let show = json_lines(&dnsward(&["dnssec", "show", "--json", "--db", db]));
        let unsigned = outcome(&show, "www.unsigned.test", "A");
        assert_eq!(unsigned["security"], "insecure", "{denial}: {unsigned:#}");
        let zsk = capture.key_tags["test.zsk"];
        assert_eq!(
            unsigned["reason"],
            format!("unsigned.test is proven unsigned ({how}, signed by key {zsk} of test)"),
            "{denial}"
        );
    }
}
