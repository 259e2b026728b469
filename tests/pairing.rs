//! Query/response pairing on the public captures: the verdict counters of `dnsward run
//! --stats json` for the spoofing fixtures, and no spoofing verdict at all for the benign
//! captures. Needs the shared captures (see `common::shared_pcaps`).

// Test code: a panic, unwrap or out-of-range index here is a failed assertion, not a crash on
// input (clippy.toml allows them inside #[test] functions; this extends that to the helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::process::Command;

/// The `pairing` object of `dnsward run --stats json` on `capture`.
fn pairing(capture: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .args([
            "run",
            "--quiet",
            "--no-store",
            "--no-analyze",
            "--stats",
            "json",
            "--pcap",
        ])
        .arg(capture)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    let stats: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    stats["pairing"].clone()
}

fn counts(p: &serde_json::Value, keys: &[&str]) -> Vec<u64> {
    keys.iter().map(|k| p[*k].as_u64().unwrap()).collect()
}

const VERDICTS: [&str; 7] = [
    "answered",
    "duplicate",
    "race",
    "case_mismatch",
    "txid_mismatch",
    "unsolicited",
    "unknown",
];

#[test]
fn spoofing_fixtures_get_their_verdicts() {
    let Some(dir) = common::shared_pcaps("spoofing_fixtures_get_their_verdicts") else {
        return;
    };
    // (capture, queries, answered, duplicate, race, case_mismatch, txid_mismatch, unsolicited,
    // unknown)
    let expected: [(&str, [u64; 8]); 4] = [
        // Query 0x99ab; a response with the wrong id 0x9941 first, then the right one.
        ("sv__dns-response-2x.pcap", [1, 1, 0, 0, 0, 1, 0, 0]),
        // Two byte-identical responses: a duplicate, not a race.
        ("zeek__dns-two-responses.pcap", [1, 1, 1, 0, 0, 0, 0, 0]),
        // 65,536 forged responses from the authoritative's address with cycling ids, aimed at
        // the client's port number while the resolver's query (on another port) is still
        // outstanding; 1,000 noise responses that match nothing.
        (
            "pops__guessing_attack_rand_7623.pcap.gz",
            [2, 0, 0, 0, 0, 65_536, 1_000, 0],
        ),
        // The same flood 169 s after the queries, which have expired by then: unsolicited
        // (the resolver's queries were seen within the last 5 minutes).
        (
            "pops__guessing_attack_rand_6218.pcap.gz",
            [2, 0, 0, 0, 0, 0, 66_536, 0],
        ),
    ];
    for (name, want) in expected {
        let p = pairing(&dir.join(name));
        let mut keys = vec!["queries"];
        keys.extend(VERDICTS);
        assert_eq!(counts(&p, &keys), want, "{name}: {p}");
    }
}

#[test]
fn benign_captures_get_no_spoofing_verdict() {
    let Some(dir) = common::shared_pcaps("benign_captures_get_no_spoofing_verdict") else {
        return;
    };
    let mut checked = 0;
    for capture in common::captures(&dir) {
        let name = common::file_name(&capture);
        if ["guessing_attack", "response-2x", "two-responses"]
            .iter()
            .any(|f| name.contains(f))
        {
            continue;
        }
        let p = pairing(&capture);
        assert_eq!(
            counts(&p, &["race", "case_mismatch", "txid_mismatch"]),
            [0, 0, 0],
            "{name}: {p}"
        );
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} captures");
}

#[test]
fn observations_carry_the_verdict() {
    let Some(dir) = common::shared_pcaps("observations_carry_the_verdict") else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .args(["run", "--quiet", "--no-store", "--emit", "json", "--pcap"])
        .arg(dir.join("sv__dns-response-2x.pcap"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    // The query carries none; the forged response names the outstanding query; the real one
    // is its answer.
    assert!(lines[0].get("pairing").is_none(), "{}", lines[0]);
    assert_eq!(
        lines[1]["pairing"],
        serde_json::json!({"verdict": "txid_mismatch", "query_frame": 1,
            "expected_txid": 0x99ab, "expected_port": lines[0]["src_port"]})
    );
    assert_eq!(lines[1]["txid"], 0x9941);
    assert_eq!(lines[2]["pairing"]["verdict"], "answered");
    assert_eq!(lines[2]["pairing"]["query_frame"], 1);
    // Both responses go to the ordered stage; only the forged one reaches the analyzer, its
    // name being unwatched.
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("answers_handed_over=2"), "{stderr}");
    assert!(stderr.contains("analysis: observations=1 "), "{stderr}");
}

/// (rule, severity) of each alert, in the store's order.
fn rules(alerts: &[serde_json::Value]) -> Vec<(String, String)> {
    alerts
        .iter()
        .map(|a| {
            (
                a["rule"]["name"].as_str().unwrap_or("").to_owned(),
                a["dnsward"]["severity"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn spoofing_fixtures_raise_one_alert_each() {
    let Some(dir) = common::shared_pcaps("spoofing_fixtures_raise_one_alert_each") else {
        return;
    };
    let a = common::alerts(&dir.join("sv__dns-response-2x.pcap"));
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0]["rule"]["name"], "txid_mismatch_burst");
    assert_eq!(a[0]["rule"]["category"], "spoofing");
    assert_eq!(a[0]["dnsward"]["severity"], "medium");
    assert_eq!(a[0]["dns"]["question"]["name"], "client-cf.dropbox.com");
    assert_eq!(a[0]["dnsward"]["evidence"][0]["frame"], 2);
    assert_eq!(a[0]["dnsward"]["evidence"][0]["txid"], 0x9941);

    // Byte-identical duplicates are not a race (the response's out-of-zone glue is worth an
    // informational note, no more).
    assert_eq!(
        rules(&common::alerts(&dir.join("zeek__dns-two-responses.pcap"))),
        [("bailiwick_violation".to_owned(), "info".to_owned())]
    );

    // Out-of-zone glue from a resolver: informational, the same as real servers' habit.
    let a = common::alerts(&dir.join("pops__out_of_bailiwick.pcap"));
    assert_eq!(
        rules(&a),
        [("bailiwick_violation".to_owned(), "info".to_owned())]
    );
    assert_eq!(
        a[0]["dnsward"]["observed"],
        serde_json::json!([{"data": "ns.abc.com A 6.6.6.6"}])
    );
    assert_eq!(
        a[0]["dnsward"]["reasons"],
        serde_json::json!(["out_of_zone_glue: 192.168.1.2 answered 192.168.1.1's question example.com (zone example.com) with ns.abc.com A 6.6.6.6"])
    );

    for (file, name) in [
        (
            "pops__guessing_attack_rand_7623.pcap.gz",
            "8262.example.com",
        ),
        (
            "pops__guessing_attack_rand_6218.pcap.gz",
            "4566.example.com",
        ),
    ] {
        let a = common::alerts(&dir.join(file));
        assert_eq!(
            rules(&a),
            [
                ("bailiwick_violation".to_owned(), "low".to_owned()),
                ("txid_mismatch_burst".to_owned(), "critical".to_owned())
            ],
            "{file}"
        );
        // The forged responses' glue lies outside the zone their NS record names.
        assert_eq!(
            a[0]["dnsward"]["reasons"][0],
            format!("out_of_zone_glue: 192.168.1.3 answered 192.168.1.1's question {name} (zone {name}) with ns.example.com A 6.6.6.6")
        );
        assert_eq!(
            a[0]["dnsward"]["observed"],
            serde_json::json!([{"data": "ns.example.com A 6.6.6.6"}])
        );
        let alert = &a[1];
        assert_eq!(alert["rule"]["name"], "txid_mismatch_burst", "{file}");
        assert_eq!(alert["dnsward"]["severity"], "critical", "{file}");
        assert_eq!(alert["dns"]["question"]["name"], name, "{file}");
        assert_eq!(alert["dnsward"]["clients_affected"], 1, "{file}");
        assert_eq!(
            alert["dnsward"]["resolvers"],
            serde_json::json!(["192.168.1.3"])
        );
        assert!(
            alert["dnsward"]["responses"].as_u64().unwrap() >= 65_536,
            "{file}"
        );
        let observed: Vec<&str> = alert["dnsward"]["observed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["data"].as_str().unwrap())
            .collect();
        let ns = format!("{name} NS ns.example.com");
        let answer = format!("{name} A 6.6.6.6");
        assert_eq!(
            observed,
            [answer.as_str(), ns.as_str(), "ns.example.com A 6.6.6.6"],
            "{file}"
        );
    }
}

#[test]
fn benign_captures_raise_no_spoofing_alert() {
    let Some(dir) = common::shared_pcaps("benign_captures_raise_no_spoofing_alert") else {
        return;
    };
    for capture in common::captures(&dir) {
        let name = common::file_name(&capture);
        // The crafted captures (the last one puts a CNAME in the additional section).
        if [
            "guessing_attack",
            "response-2x",
            "out_of_bailiwick",
            "additionals-with-cname",
        ]
        .iter()
        .any(|f| name.contains(f))
        {
            continue;
        }
        // Nothing at low or above; at most informational notes of out-of-zone glue, which real
        // servers send every day.
        let loud: Vec<serde_json::Value> = common::alerts(&capture)
            .into_iter()
            .filter(|a| {
                a["dnsward"]["severity"] != "info"
                    || a["rule"]["name"] != "bailiwick_violation"
                    || a["dnsward"]["reasons"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|r| !r.as_str().unwrap().starts_with("out_of_zone_glue: "))
            })
            .collect();
        assert!(loud.is_empty(), "{name}: {loud:#?}");
    }
}

/// Generated resolver traffic (clients, three resolvers, authoritative servers, TCP retries,
/// fragments): every response pairs with its query, nothing notable, no alert. This caught
/// per-client caps so low that a busy resolver's queries were dropped and their answers then
/// looked forged.
#[test]
fn generated_resolver_traffic_pairs_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("gen.pcap");
    let config = dnsward_benches::GeneratorConfig {
        frames: 200_000,
        seed: 3,
        ..dnsward_benches::GeneratorConfig::default()
    };
    let file = std::io::BufWriter::new(std::fs::File::create(&capture).unwrap());
    dnsward_benches::generate(&config, file).unwrap();
    let p = pairing(&capture);
    assert_eq!(
        counts(
            &p,
            &[
                "race",
                "case_mismatch",
                "txid_mismatch",
                "unsolicited",
                "unknown",
                "dropped_client_full",
                "dropped_table_full"
            ]
        ),
        [0, 0, 0, 0, 0, 0, 0],
        "{p}"
    );
    assert!(p["answered"].as_u64().unwrap() > 90_000, "{p}");
    // Generated authoritative servers, like real ones, often send glue for name servers in
    // other zones: informational notes only.
    // Large answers fragment and change the EDNS size now and then: low at most.
    let loud: Vec<(String, String)> = rules(&common::alerts(&capture))
        .into_iter()
        .filter(|(_, severity)| severity != "info" && severity != "low")
        .collect();
    assert_eq!(loud, Vec::<(String, String)>::new());
}
