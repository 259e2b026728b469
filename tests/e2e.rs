//! End to end: `dnsward run` a capture into a fresh store, then ask the store with
//! `dnsward query`, and compare with what tshark says the capture holds.
//!
//! The expectations are derived independently of dnsward, from tshark's decoding of each capture
//! (`/work/shared/pcaps/golden/FILE.tsv`, columns documented in `make-golden.sh` there) and the
//! store's documented semantics (README.md, "The passive-DNS store"):
//!
//! * every record of every response (OPT excluded) is kept per (owner, type, rdata, section,
//!   bailiwick) with a count and the first and last packet time (whole seconds, floor);
//! * answers carry the first question's name as bailiwick; authority and additional records
//!   carry the estimated zone of the sender: the longest NS or SOA owner in the authority section
//!   enclosing the question name, else the question name's parent (`.` above a single label);
//! * names are canonical lower case without the trailing dot; A rdata is dotted quad, AAAA the
//!   standard compressed form, MX `PREFERENCE EXCHANGE`, NS the target name.
//!
//! tshark's rr columns list the records of all three sections in wire order (the section counts
//! give the boundaries); the value columns (`dns.a`, `dns.aaaa`, `dns.mx.*`, `dns.ns`) list the
//! values of the records of that type in the same order, so walking the records and taking the
//! next value of the matching column gives each record's rdata.
//!
//! Tests that need the public captures skip (printing `SKIPPED`) when they are missing, unless
//! `DNSWARD_REQUIRE_SHARED_PCAPS=1`. The sample capture test always runs. Mismatches are
//! collected and reported all at once.

// Test code: a panic, unwrap or out-of-range index here is a failed assertion, not a crash on
// input (clippy.toml allows them inside #[test] functions; this extends that to the helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Type code of the EDNS OPT pseudo-record, which the store leaves out.
const TYPE_OPT: u16 = 41;

/// The record types whose rdata tshark's golden columns give: A, NS, MX, AAAA.
const TYPES_WITH_RDATA: [u16; 4] = [1, 2, 15, 28];

/// Record types whose rdata ends in an RFC 4034 section 4.1.2 type bitmap (NSEC, NSEC3, CSYNC),
/// whose types tshark lists as extra `dns.resp.type` values.
const BITMAP_TYPES: [u16; 3] = [47, 50, 62];

/// The DNS port dnsward listens to by default; tshark also decodes DNS on other ports.
const DNS_PORT: &str = "53";

/// Section of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Answer,
    Authority,
    Additional,
}

/// One resource record of a response, from tshark.
#[derive(Clone, Debug)]
struct GoldenRecord {
    section: Section,
    /// Owner, lower case, `.` for the root.
    owner: String,
    rtype: u16,
    /// Presentation rdata for A, AAAA, MX and NS; `None` for other types.
    rdata: Option<String>,
}

/// One DNS response, from tshark.
#[derive(Clone, Debug)]
struct GoldenResponse {
    frame: u64,
    /// Packet time, whole seconds since the epoch (floor).
    time_secs: u64,
    /// First question name, lower case; `None` when the response has no question.
    qname: Option<String>,
    records: Vec<GoldenRecord>,
}

/// What the store should hold for one tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    count: u64,
    first: u64,
    last: u64,
}

/// (owner, type mnemonic, rdata, bailiwick).
type TupleKey = (String, String, String, String);

/// An expected tuple's sightings and the frames they come from (for mismatch reports).
#[derive(Clone, Debug)]
struct Expected {
    seen: Seen,
    frames: Vec<u64>,
}

/// Expected tuples by key.
type ExpectedMap = BTreeMap<TupleKey, Expected>;

/// A line of `dnsward query --json` (Passive DNS Common Output Format).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct CofLine {
    rrname: String,
    rrtype: String,
    rdata: String,
    bailiwick: String,
    seen: Seen,
}

impl CofLine {
    fn key(&self) -> TupleKey {
        (
            self.rrname.clone(),
            self.rrtype.clone(),
            self.rdata.clone(),
            self.bailiwick.clone(),
        )
    }
}

fn mnemonic(rtype: u16) -> String {
    match rtype {
        1 => "A".to_owned(),
        2 => "NS".to_owned(),
        5 => "CNAME".to_owned(),
        6 => "SOA".to_owned(),
        12 => "PTR".to_owned(),
        15 => "MX".to_owned(),
        28 => "AAAA".to_owned(),
        other => format!("TYPE{other}"),
    }
}

/// A name as tshark prints it, in canonical form: lower case, `.` for the root.
fn canonical(name: &str) -> String {
    if name == "<Root>" {
        ".".to_owned()
    } else {
        name.trim_end_matches('.').to_ascii_lowercase()
    }
}

/// The parent of a canonical name (`.` for a single label or the root).
fn parent(name: &str) -> String {
    match name.split_once('.') {
        Some((_, rest)) if !rest.is_empty() => rest.to_owned(),
        _ => ".".to_owned(),
    }
}

/// Whether `zone` is `name` or one of its ancestors (label aligned).
fn encloses(zone: &str, name: &str) -> bool {
    zone == "." || zone == name || name.ends_with(&format!(".{zone}"))
}

/// Whether `name` is strictly below `suffix`.
fn strictly_below(name: &str, suffix: &str) -> bool {
    name.ends_with(&format!(".{suffix}"))
}

/// Splits a comma-joined tshark column; an empty column is an empty list.
fn split(value: &str) -> Vec<&str> {
    if value.is_empty() {
        Vec::new()
    } else {
        value.split(',').collect()
    }
}

/// Takes the next value of a tshark value column, or panics naming the column and frame.
fn next<'a>(values: &mut std::slice::Iter<'a, &'a str>, column: &str, frame: u64) -> &'a str {
    values
        .next()
        .unwrap_or_else(|| panic!("golden frame {frame}: {column} has too few values"))
}

/// Reads the responses of a capture from its tshark golden file. Frames that carry DNS inside
/// an ICMP error or tunnel (two IP headers) and DNS on ports other than 53 are left out, as
/// dnsward, with its default ports, never learns from them.
fn golden_responses(capture: &Path) -> Vec<GoldenResponse> {
    let text = common::read_text(&common::golden_path(capture));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("golden header").split('\t').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("golden column {name} missing"))
    };
    let c = |name: &str| column(name);
    let (frame_c, time_c) = (c("frame.number"), c("frame.time_epoch"));
    let (ip_src, ipv6_src) = (c("ip.src"), c("ipv6.src"));
    let ports = [
        c("udp.srcport"),
        c("udp.dstport"),
        c("tcp.srcport"),
        c("tcp.dstport"),
    ];
    let (response_c, qd_c, an_c, ns_c, ar_c) = (
        c("dns.flags.response"),
        c("dns.count.queries"),
        c("dns.count.answers"),
        c("dns.count.auth_rr"),
        c("dns.count.add_rr"),
    );
    let (qname_c, rname_c, rtype_c) = (c("dns.qry.name"), c("dns.resp.name"), c("dns.resp.type"));
    let (a_c, aaaa_c, mx_name_c, mx_pref_c, ns_c2) = (
        c("dns.a"),
        c("dns.aaaa"),
        c("dns.mx.mail_exchange"),
        c("dns.mx.preference"),
        c("dns.ns"),
    );
    let mut out = Vec::new();
    for line in lines {
        let cols: Vec<&str> = line.split('\t').collect();
        let get = |i: usize| cols.get(i).copied().unwrap_or("");
        let frame: u64 = get(frame_c).parse().expect("frame number");
        if get(ip_src).contains(',') || get(ipv6_src).contains(',') {
            continue;
        }
        if !ports.iter().any(|&p| split(get(p)).contains(&DNS_PORT)) {
            continue;
        }
        let time_secs: u64 = get(time_c)
            .split('.')
            .next()
            .and_then(|s| s.parse().ok())
            .expect("frame time");
        let responses = split(get(response_c));
        let counts = |i: usize| -> Vec<usize> {
            split(get(i))
                .iter()
                .map(|v| v.parse().expect("section count"))
                .collect()
        };
        let (qd, an, ns, ar) = (counts(qd_c), counts(an_c), counts(ns_c), counts(ar_c));
        assert!(
            [qd.len(), an.len(), ns.len(), ar.len()]
                .iter()
                .all(|&n| n == responses.len()),
            "golden frame {frame}: section counts do not match the number of messages"
        );
        let qnames = split(get(qname_c));
        let rnames = split(get(rname_c));
        let rtypes = split(get(rtype_c));
        let total_qd: usize = qd.iter().sum();
        let total_rr: usize = an
            .iter()
            .zip(&ns)
            .zip(&ar)
            .map(|((a, n), r)| a + n + r)
            .sum();
        assert!(
            qnames.len() == total_qd && rnames.len() == total_rr && rtypes.len() >= total_rr,
            "golden frame {frame}: {} question names for {total_qd} questions, {} owners and {} \
             types for {total_rr} records (a name with a comma or a truncated message): choose \
             another capture for this test",
            qnames.len(),
            rnames.len(),
            rtypes.len()
        );
        // tshark lists the types of an NSEC, NSEC3 or CSYNC type bitmap after the record's own
        // type. They are in ascending order, as encoded; the types left over tell how many.
        let mut bitmap_types_left = rtypes.len() - total_rr;
        let mut type_at = 0;
        let a_values = split(get(a_c));
        let aaaa_values = split(get(aaaa_c));
        let mx_names = split(get(mx_name_c));
        let mx_prefs = split(get(mx_pref_c));
        let ns_values = split(get(ns_c2));
        let (mut a_it, mut aaaa_it, mut mxn_it, mut mxp_it, mut ns_it) = (
            a_values.iter(),
            aaaa_values.iter(),
            mx_names.iter(),
            mx_prefs.iter(),
            ns_values.iter(),
        );
        let (mut q_at, mut rr_at) = (0, 0);
        for m in 0..responses.len() {
            let qname = (qd[m] > 0).then(|| canonical(qnames[q_at]));
            q_at += qd[m];
            let mut records = Vec::new();
            for i in 0..an[m] + ns[m] + ar[m] {
                let section = if i < an[m] {
                    Section::Answer
                } else if i < an[m] + ns[m] {
                    Section::Authority
                } else {
                    Section::Additional
                };
                let owner = canonical(rnames[rr_at]);
                let rtype: u16 = rtypes[type_at].parse().expect("record type");
                rr_at += 1;
                type_at += 1;
                if BITMAP_TYPES.contains(&rtype) {
                    let mut previous = 0u16;
                    while bitmap_types_left > 0 {
                        let listed: u16 = rtypes[type_at].parse().expect("bitmap type");
                        if listed <= previous {
                            break;
                        }
                        previous = listed;
                        type_at += 1;
                        bitmap_types_left -= 1;
                    }
                }
                // Values are consumed for every record of the type, kept or not, so that the
                // columns stay aligned.
                let rdata = match rtype {
                    1 => {
                        let v = next(&mut a_it, "dns.a", frame);
                        Some(v.parse::<Ipv4Addr>().expect("dns.a").to_string())
                    }
                    28 => {
                        let v = next(&mut aaaa_it, "dns.aaaa", frame);
                        Some(v.parse::<Ipv6Addr>().expect("dns.aaaa").to_string())
                    }
                    15 => {
                        let pref = next(&mut mxp_it, "dns.mx.preference", frame);
                        let name = next(&mut mxn_it, "dns.mx.mail_exchange", frame);
                        Some(format!("{pref} {}", canonical(name)))
                    }
                    2 => Some(canonical(next(&mut ns_it, "dns.ns", frame))),
                    _ => None,
                };
                if rtype != TYPE_OPT {
                    records.push(GoldenRecord {
                        section,
                        owner,
                        rtype,
                        rdata,
                    });
                }
            }
            if responses[m] == "1" {
                out.push(GoldenResponse {
                    frame,
                    time_secs,
                    qname,
                    records,
                });
            }
        }
        assert!(
            bitmap_types_left == 0,
            "golden frame {frame}: {bitmap_types_left} types left over after the type bitmaps"
        );
        assert!(
            a_it.next().is_none()
                && aaaa_it.next().is_none()
                && mxn_it.next().is_none()
                && ns_it.next().is_none(),
            "golden frame {frame}: rdata values left over after walking the records"
        );
    }
    out
}

/// The tuples the store should hold for the A, AAAA, MX and NS records of `responses`:
/// answers keyed with the question name as bailiwick, and separately the authority and
/// additional records keyed with the estimated zone of the sender.
fn expected_tuples(responses: &[GoldenResponse]) -> (ExpectedMap, ExpectedMap) {
    let mut answers = BTreeMap::new();
    let mut others = BTreeMap::new();
    for response in responses {
        // dnsward keys records by the first question; a response without one is not learnt.
        let Some(qname) = &response.qname else {
            continue;
        };
        let zone = response
            .records
            .iter()
            .filter(|r| r.section == Section::Authority && (r.rtype == 2 || r.rtype == 6))
            .map(|r| r.owner.clone())
            .filter(|owner| encloses(owner, qname))
            .max_by_key(String::len)
            .unwrap_or_else(|| parent(qname));
        for record in &response.records {
            let Some(rdata) = &record.rdata else {
                continue;
            };
            let (map, bailiwick) = if record.section == Section::Answer {
                (&mut answers, qname.clone())
            } else {
                (&mut others, zone.clone())
            };
            let key = (
                record.owner.clone(),
                mnemonic(record.rtype),
                rdata.clone(),
                bailiwick,
            );
            let t = response.time_secs;
            let e = map.entry(key).or_insert(Expected {
                seen: Seen {
                    count: 0,
                    first: t,
                    last: t,
                },
                frames: Vec::new(),
            });
            e.seen.count += 1;
            e.seen.first = e.seen.first.min(t);
            e.seen.last = e.seen.last.max(t);
            e.frames.push(response.frame);
        }
    }
    (answers, others)
}

/// Runs the `dnsward` binary with `args` and returns its output; panics if it cannot start.
fn dnsward(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("starting dnsward {args:?}: {e}"))
}

/// Runs `dnsward run --pcap CAPTURE... --db DB -q --stats json`, asserts it succeeded, and
/// returns the stats object from stderr.
fn run_into(captures: &[&Path], db: &Path) -> serde_json::Value {
    let mut args: Vec<String> = vec!["run".into(), "--pcap".into()];
    args.extend(captures.iter().map(|c| c.display().to_string()));
    args.extend(["--db".into(), db.display().to_string(), "-q".into()]);
    args.extend(["--stats".into(), "json".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = dnsward(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "dnsward {args:?} exited with {}; stderr:\n{}",
        out.status,
        common::tail(&stderr, 3000)
    );
    stats_from(&stderr)
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

/// Runs `dnsward query --db DB ARGS... --json` and parses the COF lines.
fn query(db: &Path, args: &[&str]) -> Vec<CofLine> {
    let db = db.display().to_string();
    let mut all = vec!["query", "--db", db.as_str()];
    all.extend_from_slice(args);
    all.push("--json");
    let out = dnsward(&all);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "dnsward {all:?} exited with {}; stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| parse_cof(line).unwrap_or_else(|e| panic!("dnsward {all:?}: {e}: {line}")))
        .collect()
}

fn parse_cof(line: &str) -> Result<CofLine, String> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let text = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("{k} missing or not a string"))
    };
    let number = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| format!("{k} missing or not a number"))
    };
    let sensors = v
        .get("sensor_id")
        .and_then(serde_json::Value::as_array)
        .ok_or("sensor_id missing or not an array")?;
    if sensors.is_empty() {
        return Err("sensor_id is empty".to_owned());
    }
    Ok(CofLine {
        rrname: text("rrname")?,
        rrtype: text("rrtype")?,
        rdata: text("rdata")?,
        bailiwick: text("bailiwick")?,
        seen: Seen {
            count: number("count")?,
            first: number("time_first")?,
            last: number("time_last")?,
        },
    })
}

/// Queries every owner of an A, AAAA, MX or NS record and compares the store with the
/// expected tuples (counts multiplied by `runs`). Returns the mismatches, one per line.
fn compare_store(db: &Path, answers: &ExpectedMap, others: &ExpectedMap, runs: u64) -> Vec<String> {
    compare_lines(answers, others, runs, |owner| query(db, &[owner]))
}

/// Like [`compare_store`], but fetches the lines of many owners at once: one `*.TLD` query per
/// top-level label, plus exact queries for owners that are themselves top-level names. Used on
/// every capture, where one query per owner would take minutes.
fn compare_store_bulk(
    db: &Path,
    answers: &ExpectedMap,
    others: &ExpectedMap,
    runs: u64,
) -> Vec<String> {
    let owners: BTreeSet<&String> = answers.keys().chain(others.keys()).map(|k| &k.0).collect();
    let mut by_owner: BTreeMap<String, Vec<CofLine>> = BTreeMap::new();
    // The root (`.`) is asked for exactly; `*.` would list every name.
    let tlds: BTreeSet<&str> = owners
        .iter()
        .map(|o| o.rsplit('.').next().unwrap_or(o))
        .filter(|tld| !tld.is_empty())
        .collect();
    let mut lines = if owners.contains(&".".to_owned()) {
        query(db, &["."])
    } else {
        Vec::new()
    };
    for tld in tlds {
        lines.extend(query(db, &[&format!("*.{tld}")]));
        if owners.contains(&tld.to_owned()) {
            lines.extend(query(db, &[tld]));
        }
    }
    for line in lines {
        by_owner.entry(line.rrname.clone()).or_default().push(line);
    }
    let mut problems = compare_lines(answers, others, runs, |owner| {
        by_owner.remove(owner).unwrap_or_default()
    });
    let wanted_types: BTreeSet<String> = TYPES_WITH_RDATA.iter().map(|&t| mnemonic(t)).collect();
    for line in by_owner.into_values().flatten() {
        if wanted_types.contains(&line.rrtype) {
            problems.push(format!("unexpected tuple in the store: {line:?}"));
        }
    }
    problems
}

/// Compares the lines `fetch` returns for each expected owner with the expected tuples.
fn compare_lines(
    answers: &ExpectedMap,
    others: &ExpectedMap,
    runs: u64,
    mut fetch: impl FnMut(&str) -> Vec<CofLine>,
) -> Vec<String> {
    let scale = |e: &Expected| Seen {
        count: e.seen.count * runs,
        ..e.seen
    };
    let wanted_types: BTreeSet<String> = TYPES_WITH_RDATA.iter().map(|&t| mnemonic(t)).collect();
    let owners: BTreeSet<&String> = answers.keys().chain(others.keys()).map(|k| &k.0).collect();
    let mut problems = Vec::new();
    for owner in owners {
        let mut got: Vec<CofLine> = fetch(owner)
            .into_iter()
            .filter(|l| wanted_types.contains(&l.rrtype))
            .collect();
        for l in &got {
            if &l.rrname != owner {
                problems.push(format!("query {owner}: returned another owner: {l:?}"));
            }
        }
        // Answer tuples first (the main check), then authority/additional ones; a line is used
        // once, so an answer and a glue record with the same key must both be there.
        let mut take = |key: &TupleKey, want: Seen, frames: &[u64], what: &str| {
            if let Some(i) = got.iter().position(|l| &l.key() == key && l.seen == want) {
                got.remove(i);
            } else {
                let same_key: Vec<&CofLine> = got.iter().filter(|l| &l.key() == key).collect();
                problems.push(format!(
                    "{what} {key:?}: expected count {} first {} last {} (frames {}), store has {}",
                    want.count,
                    want.first,
                    want.last,
                    frame_list(frames),
                    if same_key.is_empty() {
                        "no such tuple".to_owned()
                    } else {
                        format!("{:?}", same_key.iter().map(|l| l.seen).collect::<Vec<_>>())
                    }
                ));
            }
        };
        for (key, seen) in answers.range(owner_range(owner)) {
            take(key, scale(seen), &seen.frames, "answer");
        }
        for (key, seen) in others.range(owner_range(owner)) {
            take(key, scale(seen), &seen.frames, "authority/additional");
        }
        for l in got {
            problems.push(format!("unexpected tuple in the store: {l:?}"));
        }
    }
    problems
}

/// A list of frame numbers, shortened.
fn frame_list(frames: &[u64]) -> String {
    let shown: Vec<String> = frames.iter().take(12).map(u64::to_string).collect();
    let more = frames.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(","))
    } else {
        shown.join(",")
    }
}

/// The key range of one owner in a `TupleKey` map.
fn owner_range(owner: &str) -> std::ops::RangeInclusive<TupleKey> {
    let low = (
        owner.to_owned(),
        String::new(),
        String::new(),
        String::new(),
    );
    let high = (
        owner.to_owned(),
        "\u{10ffff}".to_owned(),
        String::new(),
        String::new(),
    );
    low..=high
}

/// Panics listing every problem, if any.
fn assert_none(what: &str, problems: &[String]) {
    if !problems.is_empty() {
        let mut text = String::new();
        for p in problems {
            let _ = writeln!(text, "  {p}");
        }
        panic!("{what}: {} mismatches:\n{text}", problems.len());
    }
}

/// A capture in the shared directory, or `None` when the directory is missing (skip).
fn shared_capture(test: &str, name: &str) -> Option<PathBuf> {
    let dir = common::shared_pcaps(test)?;
    let path = dir.join(name);
    assert!(path.is_file(), "{test}: {} is missing", path.display());
    Some(path)
}

/// Runs a capture into a fresh store and checks every A, AAAA, MX and NS tuple against tshark.
fn check_capture_tuples(test: &str, name: &str) {
    let Some(capture) = shared_capture(test, name) else {
        return;
    };
    let responses = golden_responses(&capture);
    let (answers, others) = expected_tuples(&responses);
    assert!(!answers.is_empty(), "{name}: tshark shows no answers");
    eprintln!(
        "{name}: {} responses, {} answer tuples and {} authority/additional tuples \
         (A, AAAA, MX, NS) expected",
        responses.len(),
        answers.len(),
        others.len()
    );
    let db = tempfile::tempdir().unwrap();
    let stats = run_into(&[&capture], db.path());
    let mut problems = compare_store(db.path(), &answers, &others, 1);
    let got = stats
        .pointer("/responses")
        .and_then(serde_json::Value::as_u64);
    if got != Some(responses.len() as u64) {
        problems.push(format!(
            "stats responses: tshark shows {}, dnsward counted {got:?}",
            responses.len()
        ));
    }
    assert_none(&format!("{name}: store vs tshark"), &problems);
}

#[test]
fn dnscap_dns_store_holds_exactly_the_tuples_tshark_decodes() {
    check_capture_tuples(
        "dnscap_dns_store_holds_exactly_the_tuples_tshark_decodes",
        "dnscap__dns.pcap",
    );
}

#[test]
fn zeek_edns_ecs_store_holds_exactly_the_tuples_tshark_decodes() {
    check_capture_tuples(
        "zeek_edns_ecs_store_holds_exactly_the_tuples_tshark_decodes",
        "zeek__dns-edns-ecs.pcap",
    );
}

#[test]
fn google_a_aaaa_mx_store_holds_exactly_the_tuples_tshark_decodes() {
    check_capture_tuples(
        "google_a_aaaa_mx_store_holds_exactly_the_tuples_tshark_decodes",
        "sv__dns-udp-google.com-a-aaaa-mx.pcap",
    );
}

/// Owners of records (any section, any type but OPT) in the responses that have a question.
fn golden_owners(responses: &[GoldenResponse]) -> BTreeSet<String> {
    responses
        .iter()
        .filter(|r| r.qname.is_some())
        .flat_map(|r| r.records.iter().map(|rec| rec.owner.clone()))
        .collect()
}

/// Owners of records of `types` (any section) whose rdata satisfies `matches`.
fn owners_by_rdata(
    responses: &[GoldenResponse],
    types: &[u16],
    matches: impl Fn(&str) -> bool,
) -> BTreeSet<String> {
    responses
        .iter()
        .filter(|r| r.qname.is_some())
        .flat_map(|r| r.records.iter())
        .filter(|rec| types.contains(&rec.rtype) && rec.rdata.as_deref().is_some_and(&matches))
        .map(|rec| rec.owner.clone())
        .collect()
}

/// Of `values`, grouped by `group`, the group whose `owners` set is largest (the first such).
fn most_shared<G: Ord + Clone>(
    values: &[String],
    group: impl Fn(&String) -> G,
    owners: impl Fn(&G) -> BTreeSet<String>,
) -> Option<G> {
    let mut best: Option<(usize, G)> = None;
    let mut seen = BTreeSet::new();
    for value in values {
        let g = group(value);
        if !seen.insert(g.clone()) {
            continue;
        }
        let n = owners(&g).len();
        if best.as_ref().is_none_or(|(m, _)| n > *m) {
            best = Some((n, g));
        }
    }
    best.map(|(_, g)| g)
}

fn rrnames(lines: &[CofLine]) -> BTreeSet<String> {
    lines.iter().map(|l| l.rrname.clone()).collect()
}

#[test]
fn wildcard_rdata_cidr_and_name_queries_return_the_owners_tshark_predicts() {
    let test = "wildcard_rdata_cidr_and_name_queries_return_the_owners_tshark_predicts";
    let mut problems = Vec::new();
    for name in [
        "dnscap__dns.pcap",
        "zeek__dns-edns-ecs.pcap",
        "sv__dns-udp-google.com-a-aaaa-mx.pcap",
    ] {
        let Some(capture) = shared_capture(test, name) else {
            return;
        };
        let responses = golden_responses(&capture);
        let db = tempfile::tempdir().unwrap();
        run_into(&[&capture], db.path());
        let owners = golden_owners(&responses);

        // Wildcards: every suffix that is the parent of some owner.
        let suffixes: BTreeSet<String> = owners
            .iter()
            .map(|o| parent(o))
            .filter(|p| p != ".")
            .collect();
        for suffix in &suffixes {
            let want: BTreeSet<String> = owners
                .iter()
                .filter(|o| strictly_below(o, suffix))
                .cloned()
                .collect();
            let got = rrnames(&query(db.path(), &[&format!("*.{suffix}")]));
            eprintln!("{name}: *.{suffix}: {} owners expected", want.len());
            if got != want {
                problems.push(format!(
                    "{name}: query *.{suffix}: expected owners {want:?}, got {got:?}"
                ));
            }
        }

        // Each check picks, from records of any section, the value shared by the most owners
        // (the first such in order), so that the expected sets are as large as the capture
        // allows.
        let values = |rtype: u16| -> Vec<String> {
            responses
                .iter()
                .filter(|r| r.qname.is_some())
                .flat_map(|r| r.records.iter())
                .filter(|rec| rec.rtype == rtype)
                .filter_map(|rec| rec.rdata.clone())
                .collect()
        };
        let mut check = |what: String, want: BTreeSet<String>, got: BTreeSet<String>| {
            eprintln!("{name}: query {what}: expected {want:?}");
            if got != want {
                problems.push(format!(
                    "{name}: query {what}: expected {want:?}, got {got:?}"
                ));
            }
        };
        let rdata_query = |arg: &str| rrnames(&query(db.path(), &["--rdata", arg]));

        // By address and by /24 (IPv4), by address and by /48 (IPv6).
        if let Some(address) = most_shared(
            &values(1),
            |v| v.clone(),
            |v| owners_by_rdata(&responses, &[1], |r| r == v),
        ) {
            let want = owners_by_rdata(&responses, &[1], |r| r == address);
            check(format!("--rdata {address}"), want, rdata_query(&address));
        }
        let v4_net = |v: &str| u32::from(v.parse::<Ipv4Addr>().unwrap()) & 0xffff_ff00;
        let in_v4 = |net: u32| {
            move |r: &str| {
                r.parse::<Ipv4Addr>()
                    .is_ok_and(|a| u32::from(a) & 0xffff_ff00 == net)
            }
        };
        if let Some(net) = most_shared(
            &values(1),
            |v| v4_net(v),
            |net| owners_by_rdata(&responses, &[1], in_v4(*net)),
        ) {
            let cidr = format!("{}/24", Ipv4Addr::from(net));
            let want = owners_by_rdata(&responses, &[1], in_v4(net));
            check(format!("--rdata {cidr}"), want, rdata_query(&cidr));
        }
        if let Some(address) = most_shared(
            &values(28),
            |v| v.clone(),
            |v| owners_by_rdata(&responses, &[28], |r| r == v),
        ) {
            let want = owners_by_rdata(&responses, &[28], |r| r == address);
            check(format!("--rdata {address}"), want, rdata_query(&address));
        }
        let v6_mask = !0u128 << 80;
        let v6_net = |v: &str| u128::from(v.parse::<Ipv6Addr>().unwrap()) & v6_mask;
        let in_v6 = |net: u128| {
            move |r: &str| {
                r.parse::<Ipv6Addr>()
                    .is_ok_and(|a| u128::from(a) & v6_mask == net)
            }
        };
        if let Some(net) = most_shared(
            &values(28),
            |v| v6_net(v),
            |net| owners_by_rdata(&responses, &[28], in_v6(*net)),
        ) {
            let cidr = format!("{}/48", Ipv6Addr::from(net));
            let want = owners_by_rdata(&responses, &[28], in_v6(net));
            check(format!("--rdata {cidr}"), want, rdata_query(&cidr));
        }

        // By a name in rdata: the most shared NS target, and the most shared MX exchange.
        // tshark's columns give NS and MX targets; a name can also be the target of CNAME,
        // PTR, SRV or DNAME records, whose lines are left out of the comparison (none of the
        // targets chosen here is one in these captures).
        let mx_names: Vec<String> = values(15)
            .iter()
            .filter_map(|v| v.split_once(' ').map(|(_, n)| n.to_owned()))
            .collect();
        let pointing_at = |target: &str| {
            let mut owners = owners_by_rdata(&responses, &[2], |r| r == target);
            owners.extend(owners_by_rdata(&responses, &[15], |r| {
                r.split_once(' ').is_some_and(|(_, n)| n == target)
            }));
            owners
        };
        for candidates in [values(2), mx_names] {
            if let Some(target) = most_shared(&candidates, |v| v.clone(), |v| pointing_at(v)) {
                let got = rrnames(
                    &query(db.path(), &["--rdata", &target])
                        .into_iter()
                        .filter(|l| !["CNAME", "PTR", "SRV", "DNAME"].contains(&l.rrtype.as_str()))
                        .collect::<Vec<_>>(),
                );
                check(format!("--rdata {target}"), pointing_at(&target), got);
            }
        }
    }
    assert_none("queries vs tshark", &problems);
}

#[test]
fn time_fences_overlap_by_default_and_contain_with_strict_and_a_rerun_doubles_counts() {
    let test = "time_fences_overlap_by_default_and_contain_with_strict_and_a_rerun_doubles_counts";
    let Some(capture) = shared_capture(test, "dnscap__dns.pcap") else {
        return;
    };
    let responses = golden_responses(&capture);
    let (answers, others) = expected_tuples(&responses);
    let db = tempfile::tempdir().unwrap();
    run_into(&[&capture], db.path());

    // The answer tuple seen over the longest span.
    let (key, seen) = answers
        .iter()
        .max_by_key(|(_, e)| e.seen.last - e.seen.first)
        .map(|(k, e)| (k.clone(), e.seen))
        .unwrap();
    assert!(
        seen.last >= seen.first + 2,
        "dnscap__dns.pcap: tshark shows no answer seen over 2 s or more"
    );
    let (first, last) = (seen.first, seen.last);
    eprintln!("time fences on {key:?}, seen {first}..={last}");
    let mut problems = Vec::new();
    // (since, until, strict, expected to be listed)
    let cases: [(Option<u64>, Option<u64>, bool, bool); 12] = [
        (Some(first), Some(last), false, true),
        (Some(first), Some(last), true, true),
        (Some(last), Some(last), false, true),
        (Some(last), Some(last), true, false),
        (Some(first), Some(first), false, true),
        (Some(first), Some(first), true, false),
        (Some(first + 1), Some(last), true, false),
        (Some(first), Some(last - 1), true, false),
        (Some(first + 1), Some(last - 1), false, true),
        (Some(last + 1), None, false, false),
        (None, Some(first - 1), false, false),
        (Some(first - 1), Some(last + 1), true, true),
    ];
    for (since, until, strict, listed) in cases {
        let mut args: Vec<String> = vec![key.0.clone(), "--type".into(), key.1.clone()];
        if let Some(s) = since {
            args.extend(["--since".into(), s.to_string()]);
        }
        if let Some(u) = until {
            args.extend(["--until".into(), u.to_string()]);
        }
        if strict {
            args.push("--strict".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let got = query(db.path(), &args)
            .iter()
            .any(|l| l.key() == key && l.seen == seen);
        if got != listed {
            problems.push(format!(
                "query {args:?} for {key:?} seen {first}..={last}: expected {}, got {}",
                if listed { "listed" } else { "not listed" },
                if got { "listed" } else { "not listed" },
            ));
        }
    }
    // The same fences written as RFC 3339 times and as dates.
    let day_start = first - first % 86_400;
    let text_cases = [
        (rfc3339(last), rfc3339(last), false, true),
        (rfc3339(last), rfc3339(last), true, false),
        (rfc3339(first), rfc3339(last), true, true),
        (rfc3339(first + 1), rfc3339(last), true, false),
        (rfc3339(last + 1), rfc3339(last + 10), false, false),
        (
            date(day_start - 86_400),
            date(day_start - 86_400),
            false,
            false,
        ),
    ];
    for (since, until, strict, listed) in text_cases {
        let mut args = vec![
            key.0.as_str(),
            "--type",
            key.1.as_str(),
            "--since",
            since.as_str(),
            "--until",
            until.as_str(),
        ];
        if strict {
            args.push("--strict");
        }
        let got = query(db.path(), &args)
            .iter()
            .any(|l| l.key() == key && l.seen == seen);
        if got != listed {
            problems.push(format!(
                "query {args:?} for {key:?} seen {first}..={last}: expected {}, got {}",
                if listed { "listed" } else { "not listed" },
                if got { "listed" } else { "not listed" },
            ));
        }
    }
    assert_none("time fences", &problems);

    // A second run into the same store (reopened after the first process ended) adds the same
    // sightings again: every count doubles, first and last stay.
    run_into(&[&capture], db.path());
    assert_none(
        "dnscap__dns.pcap run twice: store vs tshark",
        &compare_store(db.path(), &answers, &others, 2),
    );
}

/// Unix seconds as an RFC 3339 UTC time (`2016-10-20T15:23:01Z`).
fn rfc3339(secs: u64) -> String {
    let (y, m, d) = civil_date(secs / 86_400);
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Unix seconds as a date (`2016-10-20`).
fn date(secs: u64) -> String {
    let (y, m, d) = civil_date(secs / 86_400);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 as (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// The sample capture made by `dnsward-gen`, committed with the repository.
fn sample_capture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/sample.pcap")
}

/// What tshark 4.0 shows of `samples/sample.pcap`: `tshark -r samples/sample.pcap` lists 2000
/// frames, `-Y dns` 1970 of them (987 with dns.flags.response 0, 983 with 1); 6 carry DNS over
/// TCP (`-Y 'dns && tcp'`); `-Y 'ip.fragments'` shows 2 datagrams reassembled from 2 and 3
/// fragments; and the 9 responses to `gmail.com MX` all answer with the same five exchanges.
const SAMPLE_GMAIL_MX: [&str; 5] = [
    "5 gmail-smtp-in.l.google.com",
    "10 alt1.gmail-smtp-in.l.google.com",
    "20 alt2.gmail-smtp-in.l.google.com",
    "30 alt3.gmail-smtp-in.l.google.com",
    "40 alt4.gmail-smtp-in.l.google.com",
];

#[test]
fn sample_capture_stats_and_gmail_mx_match_tshark() {
    let capture = sample_capture();
    let db = tempfile::tempdir().unwrap();
    let stats = run_into(&[&capture], db.path());
    let mut problems = Vec::new();
    for (pointer, want) in [
        ("/capture/frames", 2000),
        ("/messages", 1970),
        ("/queries", 987),
        ("/responses", 983),
        ("/fragments/reassembled", 2),
        ("/tcp/messages", 6),
        ("/malformed", 0),
    ] {
        let got = stats.pointer(pointer).and_then(serde_json::Value::as_u64);
        if got != Some(want) {
            problems.push(format!("stats {pointer}: expected {want}, got {got:?}"));
        }
    }
    let lines = query(db.path(), &["gmail.com", "--type", "MX"]);
    let got: BTreeSet<&str> = lines.iter().map(|l| l.rdata.as_str()).collect();
    let want: BTreeSet<&str> = SAMPLE_GMAIL_MX.into_iter().collect();
    if got != want {
        problems.push(format!("gmail.com MX: expected {want:?}, got {got:?}"));
    }
    // Each of the 9 responses carries all five in its answer section, whose bailiwick is the
    // question name.
    for l in &lines {
        if l.rrname != "gmail.com" || l.rrtype != "MX" || l.bailiwick != "gmail.com" {
            problems.push(format!("gmail.com MX: unexpected line {l:?}"));
        } else if l.seen.count != 9 {
            problems.push(format!("gmail.com MX: expected count 9, got {l:?}"));
        }
    }
    if lines.len() != SAMPLE_GMAIL_MX.len() {
        problems.push(format!(
            "gmail.com MX: expected {} lines, got {}: {lines:?}",
            SAMPLE_GMAIL_MX.len(),
            lines.len()
        ));
    }
    assert_none("samples/sample.pcap", &problems);
}

/// Every capture in the shared directory: the same check as above (all A, AAAA, MX and NS
/// tuples, and the number of responses), with the store read in bulk.
#[test]
fn every_shared_capture_store_holds_exactly_the_tuples_tshark_decodes() {
    let test = "every_shared_capture_store_holds_exactly_the_tuples_tshark_decodes";
    let Some(dir) = common::shared_pcaps(test) else {
        return;
    };
    let mut problems = Vec::new();
    for capture in common::captures(&dir) {
        let name = common::file_name(&capture);
        let responses = golden_responses(&capture);
        let (answers, others) = expected_tuples(&responses);
        let db = tempfile::tempdir().unwrap();
        let stats = run_into(&[&capture], db.path());
        let found = compare_store_bulk(db.path(), &answers, &others, 1);
        eprintln!(
            "{name}: {} responses, {} + {} tuples, {} mismatches",
            responses.len(),
            answers.len(),
            others.len(),
            found.len()
        );
        problems.extend(found.into_iter().map(|p| format!("{name}: {p}")));
        let got = stats
            .pointer("/responses")
            .and_then(serde_json::Value::as_u64);
        if got != Some(responses.len() as u64) {
            problems.push(format!(
                "{name}: stats responses: tshark shows {}, dnsward counted {got:?}",
                responses.len()
            ));
        }
    }
    assert_none("every capture: store vs tshark", &problems);
}
