//! The wire-level spoofing detectors on generated captures, a positive and a negative case each:
//! bailiwick violations, responder fingerprints (a forged reply that differs from the real one
//! only in its IP TTL), fragment trouble, races, 0x20 mismatches and guessed transaction ids.
//!
//! Every capture is one recursive resolver (10.0.1.53) asking one authoritative server
//! (192.0.2.53) about names under `bank.example`, written with the generator's wire writers.

// Test code: a panic, unwrap or out-of-range index here is a failed assertion, not a crash on
// input (clippy.toml allows them inside #[test] functions; this extends that to the helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use dnsward_benches::dns::{Edns, MessageWriter, Rdata, Record, FLAG_AA, FLAG_QR, TYPE_A};
use dnsward_benches::wire::{internet_checksum, udp_frames, Direction, Host, Path, Vlans};
use dnsward_benches::{PcapWriter, TimestampResolution};
use serde_json::Value;
use std::net::Ipv4Addr;
use std::path::Path as FsPath;
use std::process::Command;

const T0: u64 = 1_767_225_600_000_000_000;
const MS: u64 = 1_000_000;
const RESOLVER: [u8; 4] = [10, 0, 1, 53];
const SERVER: [u8; 4] = [192, 0, 2, 53];

fn a(owner: &str, ip: [u8; 4]) -> Record {
    Record {
        owner: owner.to_owned(),
        ttl: 300,
        data: Rdata::A(Ipv4Addr::from(ip)),
    }
}

fn ns(owner: &str, host: &str) -> Record {
    Record {
        owner: owner.to_owned(),
        ttl: 86_400,
        data: Rdata::Ns(host.to_owned()),
    }
}

/// One response to a query.
#[derive(Clone)]
struct Reply {
    /// IP TTL it arrives with.
    ip_ttl: u8,
    /// Packet time after the query.
    delay_ns: u64,
    /// Transaction id offset from the query's (0: the right one).
    txid_offset: u16,
    /// Question name as echoed (`None`: exactly as asked).
    question: Option<String>,
    /// EDNS UDP size (`None`: no OPT record) and whether it carries a server cookie.
    edns: Option<(u16, bool)>,
    answer: Vec<Record>,
    authority: Vec<Record>,
    additional: Vec<Record>,
    /// Sent in IP fragments (when large enough).
    fragments: bool,
    /// IP TTL of every fragment after the first, when it differs (a spoofed fragment).
    later_fragment_ttl: Option<u8>,
}

impl Reply {
    /// The real server's answer for `qname`: its address, the zone's NS and in-zone glue.
    fn real(qname: &str) -> Reply {
        Reply {
            ip_ttl: 57,
            delay_ns: 20 * MS,
            txid_offset: 0,
            question: None,
            edns: Some((1232, false)),
            answer: vec![a(qname, [192, 0, 2, 80])],
            authority: vec![ns("bank.example", "ns1.bank.example")],
            additional: vec![a("ns1.bank.example", SERVER)],
            fragments: false,
            later_fragment_ttl: None,
        }
    }

    /// A response too large for one 1,500-byte frame.
    fn large(qname: &str) -> Reply {
        let mut r = Reply::real(qname);
        r.answer = (0..120u8).map(|i| a(qname, [192, 0, 2, i])).collect();
        r.fragments = true;
        r
    }
}

/// A capture being written.
struct Capture {
    writer: PcapWriter<Vec<u8>>,
    time_ns: u64,
    ip_id: u16,
    port: u16,
    txid: u16,
    /// Added to the source port and the transaction id before each query.
    steps: (u16, u16),
}

impl Capture {
    fn new() -> Capture {
        Capture {
            writer: PcapWriter::new(Vec::new(), TimestampResolution::Microseconds).unwrap(),
            time_ns: T0,
            ip_id: 1,
            port: 40_000,
            txid: 0x1000,
            steps: (7, 0x0101),
        }
    }

    fn path(server_ttl: u8) -> Path {
        Path {
            client: Host {
                mac: [2, 0, 0, 0, 0, 1],
                addr: Ipv4Addr::from(RESOLVER).into(),
                ttl: 64,
            },
            server: Host {
                mac: [2, 0, 0, 0, 0, 2],
                addr: Ipv4Addr::from(SERVER).into(),
                ttl: server_ttl,
            },
            vlans: Vlans::None,
            flow_label: 0,
        }
    }

    /// The resolver asks `qname` (exactly as written, case included); `replies` answer it.
    fn exchange(&mut self, qname: &str, replies: &[Reply]) {
        self.port = self.port.wrapping_add(self.steps.0);
        self.txid = self.txid.wrapping_add(self.steps.1);
        let (port, txid, start) = (self.port, self.txid, self.time_ns);
        let mut query = MessageWriter::new(txid, 0);
        query.question(qname, TYPE_A).unwrap();
        query
            .opt(&Edns {
                udp_size: 1232,
                dnssec_ok: false,
                cookie: None,
            })
            .unwrap();
        self.send(
            Direction::ToServer,
            64,
            port,
            &query.finish(),
            false,
            None,
            start,
        );
        for r in replies {
            let mut m = MessageWriter::new(txid.wrapping_add(r.txid_offset), FLAG_QR | FLAG_AA);
            m.question(r.question.as_deref().unwrap_or(qname), TYPE_A)
                .unwrap();
            for rec in &r.answer {
                m.answer(rec).unwrap();
            }
            for rec in &r.authority {
                m.authority(rec).unwrap();
            }
            for rec in &r.additional {
                m.additional(rec).unwrap();
            }
            if let Some((udp_size, cookie)) = r.edns {
                m.opt(&Edns {
                    udp_size,
                    dnssec_ok: false,
                    cookie: cookie.then(|| (1..=16).collect()),
                })
                .unwrap();
            }
            let msg = m.finish();
            self.send(
                Direction::ToClient,
                r.ip_ttl,
                port,
                &msg,
                r.fragments,
                r.later_fragment_ttl,
                start + r.delay_ns,
            );
        }
        self.time_ns = start + 1_000 * MS;
    }

    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        direction: Direction,
        server_ttl: u8,
        port: u16,
        msg: &[u8],
        fragments: bool,
        later_ttl: Option<u8>,
        time_ns: u64,
    ) {
        self.ip_id = self.ip_id.wrapping_add(1);
        let ports = match direction {
            Direction::ToServer => (port, 53),
            Direction::ToClient => (53, port),
        };
        let frames = udp_frames(
            &Capture::path(server_ttl),
            direction,
            ports,
            msg,
            self.ip_id,
            fragments,
        )
        .unwrap();
        for (i, mut frame) in frames.into_iter().enumerate() {
            if let (true, Some(ttl)) = (i > 0, later_ttl) {
                // Ethernet header, then IPv4: TTL at 8, header checksum at 10.
                frame[14 + 8] = ttl;
                frame[14 + 10] = 0;
                frame[14 + 11] = 0;
                let sum = internet_checksum(&frame[14..34]);
                frame[14 + 10..14 + 12].copy_from_slice(&sum.to_be_bytes());
            }
            self.writer
                .write_frame(time_ns + i as u64 * 1_000, &frame)
                .unwrap();
        }
    }

    /// `n` ordinary exchanges: the history a fingerprint is judged against.
    fn history(&mut self, n: usize, reply: impl Fn(&str) -> Reply) {
        for i in 0..n {
            let q = format!("host{i}.bank.example");
            self.exchange(&q, &[reply(&q)]);
        }
    }

    fn save(self, dir: &FsPath, name: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, self.writer.into_inner().unwrap()).unwrap();
        path
    }
}

fn names(alerts: &[Value]) -> Vec<(String, String)> {
    alerts
        .iter()
        .map(|a| {
            (
                a["rule"]["name"].as_str().unwrap().to_owned(),
                a["dnsward"]["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn reasons(alert: &Value) -> Vec<String> {
    alert["dnsward"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

fn observed(alert: &Value) -> Vec<String> {
    alert["dnsward"]["observed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["data"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn bailiwick_violations_over_udp_are_high_and_in_zone_data_is_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let q = "www.bank.example";
    // An answer that plants an unrelated address, a TLD delegation and its glue.
    let mut forged = Reply::real(q);
    forged.answer.push(a("mail.other.example", [6, 6, 6, 6]));
    forged.authority = vec![ns("example", "ns.evil.test")];
    forged.additional = vec![a("ns.evil.test", [6, 6, 6, 6])];

    let mut c = Capture::new();
    c.exchange(q, &[forged.clone()]);
    let got = common::alerts(&c.save(dir.path(), "forged.pcap"));
    assert_eq!(
        names(&got),
        [("bailiwick_violation".to_owned(), "high".to_owned())]
    );
    let alert = &got[0];
    assert_eq!(alert["rule"]["category"], "spoofing");
    assert_eq!(alert["dnsward"]["score"], 65);
    assert_eq!(alert["dns"]["question"]["name"], q);
    assert_eq!(
        observed(alert),
        [
            "example NS ns.evil.test",
            "mail.other.example A 6.6.6.6",
            "ns.evil.test A 6.6.6.6"
        ]
    );
    assert_eq!(
        reasons(alert),
        [
            "unrelated_answer: 192.0.2.53 answered 10.0.1.53's question www.bank.example (zone example) with mail.other.example A 6.6.6.6",
            "parent_ns: 192.0.2.53 answered 10.0.1.53's question www.bank.example (zone example) with example NS ns.evil.test",
            "out_of_zone_glue: 192.0.2.53 answered 10.0.1.53's question www.bank.example (zone example) with ns.evil.test A 6.6.6.6",
        ]
    );
    // Evidence: the tuple, the frame and the query it answered.
    let ev = &alert["dnsward"]["evidence"][0];
    assert_eq!(ev["frame"], 2);
    assert_eq!(ev["query_frame"], 1);
    assert_eq!(ev["src_ip"], "192.0.2.53");
    assert_eq!(ev["src_port"], 53);
    assert_eq!(ev["dst_ip"], "10.0.1.53");
    assert_eq!(ev["dst_port"], 40_007);

    // With a server cookie the same records are informational.
    let mut cookie = forged;
    cookie.edns = Some((1232, true));
    let mut c = Capture::new();
    c.exchange(q, &[cookie]);
    let got = common::alerts(&c.save(dir.path(), "cookie.pcap"));
    assert_eq!(
        names(&got),
        [("bailiwick_violation".to_owned(), "info".to_owned())]
    );
    assert!(reasons(&got[0]).contains(&"over TCP or with a server cookie".to_owned()));

    // The real answer: the zone's NS and in-zone glue.
    let mut c = Capture::new();
    c.exchange(q, &[Reply::real(q)]);
    assert_eq!(
        common::alerts(&c.save(dir.path(), "real.pcap")),
        Vec::<Value>::new()
    );

    // Out-of-zone glue alone is informational.
    let mut glue = Reply::real(q);
    glue.authority = vec![ns("bank.example", "ns1.dns-host.test")];
    glue.additional = vec![a("ns1.dns-host.test", SERVER)];
    let mut c = Capture::new();
    c.exchange(q, &[glue]);
    let got = common::alerts(&c.save(dir.path(), "glue.pcap"));
    assert_eq!(
        names(&got),
        [("bailiwick_violation".to_owned(), "info".to_owned())]
    );
}

#[test]
fn a_forged_reply_that_differs_only_in_ip_ttl_breaks_the_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let q = "victim.bank.example";
    // The forgery arrives first, byte for byte the real answer, but from 7 hops closer.
    let real = Reply::real(q);
    let mut forged = real.clone();
    forged.ip_ttl = 64;
    forged.delay_ns = 15 * MS;

    let mut c = Capture::new();
    c.history(25, Reply::real);
    c.exchange(q, &[forged, real.clone()]);
    let got = common::alerts(&c.save(dir.path(), "forged.pcap"));
    // Low: a hop count also changes with an anycast flip; the alert names the answer to check.
    assert_eq!(
        names(&got),
        [("responder_fingerprint".to_owned(), "low".to_owned())],
        "{got:#?}"
    );
    let alert = &got[0];
    assert_eq!(alert["dns"]["question"]["name"], q);
    assert_eq!(
        reasons(alert),
        ["ip_ttl_changed: 192.0.2.53 answered 10.0.1.53 (victim.bank.example) with ip ttl 64 where its answers show ip ttl 57"]
    );
    // The forged reply is the one in evidence: frame 52 (25 exchanges of two frames, then the
    // query at 51).
    assert_eq!(alert["dnsward"]["evidence"][0]["frame"], 52);
    assert_eq!(alert["dnsward"]["responses"], 1);

    // The same two replies, both from the real server: a retransmission, nothing to say.
    let mut c = Capture::new();
    c.history(25, Reply::real);
    let mut again = real.clone();
    again.delay_ns = 15 * MS;
    c.exchange(q, &[again, real.clone()]);
    assert_eq!(
        common::alerts(&c.save(dir.path(), "dup.pcap")),
        Vec::<Value>::new()
    );

    // A responder that drops EDNS is unlike itself too, though less tellingly.
    let mut no_edns = real;
    no_edns.edns = None;
    let mut c = Capture::new();
    c.history(25, Reply::real);
    c.exchange(q, &[no_edns]);
    let got = common::alerts(&c.save(dir.path(), "edns.pcap"));
    assert_eq!(
        names(&got),
        [("responder_fingerprint".to_owned(), "low".to_owned())]
    );
    assert_eq!(
        reasons(&got[0]),
        ["edns_changed: 192.0.2.53 answered 10.0.1.53 (victim.bank.example) with no edns where its answers show edns udp size 1232"]
    );

    // Too little history to judge: nothing.
    let mut forged = Reply::real(q);
    forged.ip_ttl = 64;
    let mut c = Capture::new();
    c.history(5, Reply::real);
    c.exchange(q, &[forged]);
    assert_eq!(
        common::alerts(&c.save(dir.path(), "young.pcap")),
        Vec::<Value>::new()
    );
}

#[test]
fn fragments_from_a_server_that_never_fragments_or_from_two_senders() {
    let dir = tempfile::tempdir().unwrap();
    let q = "big.bank.example";

    let mut c = Capture::new();
    c.history(25, Reply::real);
    c.exchange(q, &[Reply::large(q)]);
    let got = common::alerts(&c.save(dir.path(), "unexpected.pcap"));
    assert_eq!(
        names(&got),
        [("fragmented_response".to_owned(), "low".to_owned())],
        "{got:#?}"
    );
    assert_eq!(
        reasons(&got[0]),
        ["unexpected_fragments: 192.0.2.53 answered 10.0.1.53 (big.bank.example) in IP fragments; its earlier answers were unfragmented (25 responses)"]
    );

    // A server whose answers are always large: fragments are its habit.
    let mut c = Capture::new();
    c.history(25, Reply::large);
    c.exchange(q, &[Reply::large(q)]);
    assert_eq!(
        common::alerts(&c.save(dir.path(), "habit.pcap")),
        Vec::<Value>::new()
    );

    // The second fragment arrives with another hop count: spliced in by someone else.
    let mut spliced = Reply::large(q);
    spliced.later_fragment_ttl = Some(64);
    let mut c = Capture::new();
    c.history(25, Reply::large);
    c.exchange(q, &[spliced]);
    let got = common::alerts(&c.save(dir.path(), "spliced.pcap"));
    assert_eq!(
        names(&got),
        [("fragmented_response".to_owned(), "high".to_owned())],
        "{got:#?}"
    );
    assert_eq!(
        reasons(&got[0]),
        ["fragment_ttl_mismatch: the fragments arrived with different IP TTLs: likely not all from one sender (192.0.2.53 to 10.0.1.53, big.bank.example)"]
    );
}

#[test]
fn races_case_mismatches_and_guessed_txids_on_generated_captures() {
    let dir = tempfile::tempdir().unwrap();
    let q = "www.bank.example";
    let real = Reply::real(q);

    // Race: a different answer first, then the real one.
    let mut forged = real.clone();
    forged.answer = vec![a(q, [6, 6, 6, 6])];
    forged.delay_ns = 10 * MS;
    let mut c = Capture::new();
    c.exchange(q, &[forged.clone(), real.clone()]);
    let got = common::alerts(&c.save(dir.path(), "race.pcap"));
    // High: the forged answer carries NS records for the cache.
    assert_eq!(
        names(&got),
        [("response_race".to_owned(), "high".to_owned())]
    );
    assert_eq!(
        reasons(&got[0])[1],
        "first answer: frame 2, the one 10.0.1.53 likely kept; later answer: frame 3 (this one)"
    );

    // 0x20: the query asks in mixed case, the reply folds it.
    let mut folded = real.clone();
    folded.question = Some(q.to_owned());
    let mut c = Capture::new();
    c.exchange("wWw.BaNk.eXample", &[folded]);
    let got = common::alerts(&c.save(dir.path(), "case.pcap"));
    assert_eq!(
        names(&got),
        [("case_mismatch".to_owned(), "medium".to_owned())]
    );
    // Echoed exactly, mixed case is fine.
    let mut c = Capture::new();
    c.exchange("wWw.BaNk.eXample", std::slice::from_ref(&real));
    assert_eq!(
        common::alerts(&c.save(dir.path(), "echo.pcap")),
        Vec::<Value>::new()
    );

    // A guessed transaction id before the real answer.
    let mut guess = forged;
    guess.txid_offset = 1;
    let mut c = Capture::new();
    c.exchange(q, &[guess, real]);
    let got = common::alerts(&c.save(dir.path(), "txid.pcap"));
    assert_eq!(
        names(&got),
        [("txid_mismatch_burst".to_owned(), "medium".to_owned())]
    );
    assert_eq!(got[0]["dnsward"]["evidence"][0]["query_frame"], 1);
}

#[test]
fn a_resolver_with_a_fixed_port_and_sequential_txids_is_exposed() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Capture::new();
    c.steps = (0, 1);
    c.history(60, Reply::real);
    let capture = c.save(dir.path(), "exposed.pcap");
    let db = dir.path().join("db");
    let run = Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .args(["run", "--quiet", "--pcap"])
        .arg(&capture)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(run.status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .args(["resolvers", "--json", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let reports: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let r = &reports[0];
    assert_eq!(r["resolver"], "10.0.1.53");
    assert_eq!(r["queries"], 60);
    assert_eq!(r["iterative"], 60);
    assert_eq!(r["distinct_ports"], 1);
    // Sequential ids from 0x1001 on: one high byte.
    assert_eq!(r["txid_high_bytes"], 1);
    assert_eq!(r["edns"], 60);
    assert_eq!(r["cookies"], 0);

    let got = common::alerts(&capture);
    assert_eq!(
        names(&got),
        [("resolver_exposure".to_owned(), "medium".to_owned())]
    );
    assert_eq!(got[0]["rule"]["category"], "exposure");
    assert_eq!(
        reasons(&got[0])[..2],
        [
            "source ports: 1 distinct in 60 queries (a fixed port or a tiny range)",
            "transaction ids: 60 distinct in 60 queries, their high byte taking 1 values where random ids would take about 53"
        ]
    );

    // Random-looking ports and transaction ids: reported, not alerted.
    let mut c = Capture::new();
    c.history(60, Reply::real);
    assert_eq!(
        common::alerts(&c.save(dir.path(), "random.pcap")),
        Vec::<Value>::new()
    );
}

#[test]
fn unsolicited_responses_alert_only_in_bursts() {
    let dir = tempfile::tempdir().unwrap();
    // Responses for names the resolver never asked, to the port of a query it just made: a
    // blind flood at an open port. Ten within 10 s make a burst.
    let spray = |n: usize| {
        (0..n)
            .map(|i| {
                let mut r = Reply::real(&format!("x{i}.bank.example"));
                r.question = Some(format!("x{i}.bank.example"));
                r.txid_offset = 0x4000 + i as u16;
                r.delay_ns = (30 + i as u64) * MS;
                r
            })
            .collect::<Vec<_>>()
    };
    let q = "www.bank.example";
    let mut replies = vec![Reply::real(q)];
    replies.extend(spray(12));
    let mut c = Capture::new();
    c.exchange(q, &replies);
    let got = common::alerts(&c.save(dir.path(), "burst.pcap"));
    assert_eq!(
        names(&got),
        [("txid_mismatch_burst".to_owned(), "high".to_owned())],
        "{got:#?}"
    );
    assert_eq!(
        reasons(&got[0])[0],
        "a burst of responses from 192.0.2.53 that match none of 10.0.1.53's queries"
    );

    // A few strays are not a burst.
    let mut replies = vec![Reply::real(q)];
    replies.extend(spray(3));
    let mut c = Capture::new();
    c.exchange(q, &replies);
    assert_eq!(
        common::alerts(&c.save(dir.path(), "strays.pcap")),
        Vec::<Value>::new()
    );
}
