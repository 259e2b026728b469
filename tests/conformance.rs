//! Conformance with tshark on the public captures.
//!
//! `/work/shared/pcaps/golden/FILE.tsv` is what tshark 4.0 decodes of every frame that carries
//! DNS in `FILE` (see `make-golden.sh` there for the columns). For every capture, every DNS
//! message tshark decodes must come out of `dnsward run` with the same time, addresses and ports,
//! transaction id, header flags, section counts, questions (name, type, class) and records of
//! all three sections (owner, type, TTL; rdata for A, AAAA, MX, NS, CNAME and SOA mname and
//! serial), and an OPT record in tshark must show up as `edns`.
//!
//! Observations are matched to tshark rows by frame number (`source.frame`, 1-based like
//! tshark; for TCP and IP fragments both report the frame that completed the message) and by
//! order within the frame. Both sides are normalised rather than special-cased per capture:
//! names are compared in tshark's rendering (raw label bytes joined with `.`, invalid UTF-8
//! replaced, control characters escaped, the root as `<Root>`), addresses as parsed addresses,
//! classes and ids as numbers; flag columns tshark leaves empty are not compared. tshark's
//! multi-valued columns are comma-joined, so a name containing a comma is split with the
//! expected value as a guide, and the type numbers of NSEC/NSEC3/CSYNC type bitmaps, which
//! tshark lists in `dns.resp.type` after the record's own type, are skipped (and checked).
//!
//! Every disagreement is listed in one failure message (and in full in
//! `$CARGO_TARGET_TMPDIR/conformance-report.txt`). The expected number is zero: a case where
//! tshark is wrong goes into [`TSHARK_IS_WRONG`] with the reason, after looking at the bytes.

// Test code: a panic, unwrap or out-of-range index here is a failed assertion, not a crash on
// input (clippy.toml allows them inside #[test] functions; this extends that to the helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use schemas::{Observation, Record};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// A disagreement that was investigated and found to be tshark's mistake.
struct Accepted {
    /// Capture file name.
    capture: &'static str,
    /// Frame number.
    frame: u64,
    /// Start of the finding's field (`answers[0].ttl`, `message`, ...).
    field: &'static str,
    /// Why tshark is wrong, from the bytes.
    reason: &'static str,
}

/// Findings accepted because tshark, not dnsward, is wrong. Empty: none so far.
const TSHARK_IS_WRONG: &[Accepted] = &[];

/// Record types whose rdata ends in an RFC 4034 section 4.1.2 type bitmap, whose types tshark
/// reports as extra `dns.resp.type` values: NSEC, NSEC3, CSYNC.
const BITMAP_TYPES: [u16; 3] = [47, 50, 62];

/// Type code of the EDNS OPT pseudo-record.
const OPT: u16 = 41;

/// How many findings per capture the failure message shows (the report file has all).
const SHOWN_PER_CAPTURE: usize = 40;

// ---------------------------------------------------------------------------------------------
// tshark side: the golden TSV
// ---------------------------------------------------------------------------------------------

/// One row of a golden file: one frame that carries DNS.
#[derive(Debug, Clone, Default)]
struct Row {
    frame: u64,
    fields: BTreeMap<String, String>,
}

impl Row {
    /// The cell of `column`, empty when absent.
    fn get(&self, column: &str) -> &str {
        self.fields.get(column).map(String::as_str).unwrap_or("")
    }

    /// The comma-separated values of `column` (none for an empty cell).
    fn list(&self, column: &str) -> Vec<&str> {
        split_list(self.get(column))
    }
}

/// Splits a comma-joined cell; an empty cell has no values.
fn split_list(cell: &str) -> Vec<&str> {
    if cell.is_empty() {
        Vec::new()
    } else {
        cell.split(',').collect()
    }
}

/// Parses a golden TSV (header row with column names, then one row per frame).
fn parse_golden(text: &str) -> Result<Vec<Row>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or("empty golden file")?
        .split('\t')
        .collect();
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        if line.is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split('\t').collect();
        if cells.len() != header.len() {
            return Err(format!(
                "line {}: {} cells for {} columns",
                n + 2,
                cells.len(),
                header.len()
            ));
        }
        let fields: BTreeMap<String, String> = header
            .iter()
            .zip(&cells)
            .map(|(h, c)| ((*h).to_owned(), (*c).to_owned()))
            .collect();
        let frame = fields
            .get("frame.number")
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| format!("line {}: no frame number", n + 2))?;
        rows.push(Row { frame, fields });
    }
    Ok(rows)
}

/// tshark's rendering of a number: decimal, or hex with `0x` (ids, classes).
fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// A TTL as tshark prints it; a negative (signed) rendering is taken modulo 2^32.
fn parse_ttl(text: &str) -> Option<u32> {
    let v: i64 = text.parse().ok()?;
    u32::try_from(v.rem_euclid(1 << 32)).ok()
}

/// `frame.time_epoch` (seconds with up to nine decimals) in nanoseconds.
fn parse_epoch_ns(text: &str) -> Option<u64> {
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_ns: u64 = format!("{frac:0<9}").parse().ok()?;
    secs.parse::<u64>()
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(frac_ns)
}

/// A boolean flag as tshark prints it (`1`/`0`, or `True`/`False`).
fn parse_flag(text: &str) -> Option<bool> {
    match text {
        "1" | "True" | "true" => Some(true),
        "0" | "False" | "false" => Some(false),
        _ => None,
    }
}

/// Whether the DNS in this row sits inside an ICMP error (two IP headers: the outer one and the
/// quoted one). tshark decodes the quoted datagram; dnsward reports it with transport `icmp`.
fn is_icmp_quote(row: &Row) -> bool {
    row.list("ip.src").len() > 1 || row.list("ipv6.src").len() > 1
}

// ---------------------------------------------------------------------------------------------
// dnsward side: presentation-format text
// ---------------------------------------------------------------------------------------------

/// The labels of a presentation-format name (RFC 1035 section 5.1 `\DDD` and `\X` escapes),
/// as bytes. The root (`.` or empty) has none; a trailing dot is ignored.
fn presentation_labels(name: &str) -> Vec<Vec<u8>> {
    let bytes = name.as_bytes();
    let mut labels = Vec::new();
    let mut label = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => {
                let digits = bytes
                    .get(i + 1..i + 4)
                    .filter(|d| d.iter().all(u8::is_ascii_digit));
                if let Some(value) = digits
                    .and_then(|d| std::str::from_utf8(d).ok())
                    .and_then(|d| d.parse::<u8>().ok())
                {
                    label.push(value);
                    i += 4;
                } else if let Some(&next) = bytes.get(i + 1) {
                    label.push(next);
                    i += 2;
                } else {
                    label.push(b'\\');
                    i += 1;
                }
            }
            b'.' => {
                labels.push(std::mem::take(&mut label));
                i += 1;
            }
            _ => {
                label.push(b);
                i += 1;
            }
        }
    }
    if !label.is_empty() {
        labels.push(label);
    }
    // "." alone is the root: one empty label from the dot.
    if labels.len() == 1 && labels.first().is_some_and(Vec::is_empty) {
        labels.clear();
    }
    labels
}

/// A name the way tshark 4.0 prints it: raw label bytes joined with `.` (dots and commas inside
/// labels are not escaped), invalid UTF-8 replaced by U+FFFD, C0 controls and DEL escaped as C
/// escapes or `\ooo`, and the root as `<Root>`.
fn tshark_name(presentation: &str) -> String {
    let labels = presentation_labels(presentation);
    if labels.is_empty() {
        return "<Root>".to_owned();
    }
    let raw = labels.join(&b'.');
    let text = String::from_utf8_lossy(&raw);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if u32::from(c) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\{:03o}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Splits presentation-format rdata into its fields at unescaped spaces.
fn rdata_fields(rdata: &str) -> Vec<&str> {
    let bytes = rdata.as_bytes();
    let mut fields = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b' ' => {
                if i > start {
                    fields.push(&rdata[start..i]);
                }
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < rdata.len() {
        fields.push(&rdata[start..]);
    }
    fields
}

/// Whether rdata is in the RFC 3597 generic form (`\# len hex`).
fn is_generic(rdata: &str) -> bool {
    rdata.starts_with("\\#")
}

/// The bytes of RFC 3597 generic rdata (`\# len hex...`).
fn generic_bytes(rdata: &str) -> Option<Vec<u8>> {
    let fields = rdata_fields(rdata);
    let (marker, rest) = fields.split_first()?;
    if *marker != "\\#" {
        return None;
    }
    let (len, hex) = rest.split_first()?;
    let hex: String = hex.concat();
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    let bytes = bytes?;
    (len.parse::<usize>().ok()? == bytes.len()).then_some(bytes)
}

/// The types of an RFC 4034 section 4.1.2 type bitmap, in order.
fn decode_type_bitmap(mut bitmap: &[u8]) -> Option<Vec<u16>> {
    let mut types = Vec::new();
    while let Some((&window, rest)) = bitmap.split_first() {
        let (&len, rest) = rest.split_first()?;
        let (bits, rest) = rest.split_at_checked(usize::from(len))?;
        for (i, byte) in bits.iter().enumerate() {
            for bit in 0..8u16 {
                if byte & (0x80 >> bit) != 0 {
                    let index = u16::try_from(i).ok()?;
                    types.push(u16::from(window) * 256 + index * 8 + bit);
                }
            }
        }
        bitmap = rest;
    }
    Some(types)
}

/// The type bitmap of an NSEC, NSEC3 or CSYNC record as dnsward rendered it: decoded from the
/// generic form, or read from the presentation form (`None` for a mnemonic it cannot map).
fn bitmap_of(record: &Record) -> Option<Vec<Option<u16>>> {
    if is_generic(&record.rdata) {
        let bytes = generic_bytes(&record.rdata)?;
        let bitmap = match record.rtype {
            47 => {
                // Next domain name, uncompressed (RFC 4034 section 4.1.1).
                let mut at = 0;
                loop {
                    let len = usize::from(*bytes.get(at)?);
                    at += 1 + len;
                    if len == 0 {
                        break;
                    }
                }
                bytes.get(at..)?
            }
            50 => {
                // Algorithm, flags, iterations, salt, hash (RFC 5155 section 3.2).
                let salt = usize::from(*bytes.get(4)?);
                let hash = usize::from(*bytes.get(5 + salt)?);
                bytes.get(6 + salt + hash..)?
            }
            62 => bytes.get(6..)?,
            _ => return None,
        };
        return Some(decode_type_bitmap(bitmap)?.into_iter().map(Some).collect());
    }
    let fields = rdata_fields(&record.rdata);
    let skip = match record.rtype {
        47 => 1,
        50 => 5,
        62 => 2,
        _ => return None,
    };
    Some(
        fields
            .iter()
            .skip(skip)
            .map(|t| schemas::rrtype::parse_type(t))
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// Findings
// ---------------------------------------------------------------------------------------------

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// tshark and dnsward disagree on a field.
    Mismatch,
    /// tshark decodes a message that dnsward did not emit.
    Missed,
    /// dnsward emits a message tshark does not decode (information only).
    Extra,
    /// Could not be compared (information only).
    Note,
}

/// One difference between tshark and dnsward.
#[derive(Debug, Clone)]
struct Finding {
    kind: Kind,
    frame: u64,
    message: usize,
    field: String,
    tshark: String,
    dnsward: String,
}

impl Finding {
    fn render(&self) -> String {
        let kind = match self.kind {
            Kind::Mismatch => "MISMATCH",
            Kind::Missed => "MISSED",
            Kind::Extra => "extra",
            Kind::Note => "note",
        };
        format!(
            "{kind:8} frame {:>6} #{} {:<28} tshark: {} | dnsward: {}",
            self.frame, self.message, self.field, self.tshark, self.dnsward
        )
    }
}

/// Collects findings for one frame.
struct FrameReport<'a> {
    frame: u64,
    findings: &'a mut Vec<Finding>,
    /// Values compared so far (agreeing or not), as evidence that the comparison ran.
    compared: usize,
}

impl FrameReport<'_> {
    fn push(&mut self, kind: Kind, message: usize, field: &str, tshark: String, dnsward: String) {
        self.findings.push(Finding {
            kind,
            frame: self.frame,
            message,
            field: field.to_owned(),
            tshark,
            dnsward,
        });
    }

    fn mismatch(&mut self, message: usize, field: &str, tshark: String, dnsward: String) {
        self.push(Kind::Mismatch, message, field, tshark, dnsward);
    }

    fn note(&mut self, message: usize, field: &str, text: String) {
        self.push(Kind::Note, message, field, text, String::new());
    }

    /// Compares one value; tshark's side is given as text and parsed with `parse`.
    fn check<T: PartialEq + std::fmt::Display>(
        &mut self,
        message: usize,
        field: &str,
        tshark: &str,
        parse: impl Fn(&str) -> Option<T>,
        dnsward: T,
    ) {
        self.compared += 1;
        match parse(tshark) {
            Some(t) if t == dnsward => {}
            _ => self.mismatch(message, field, tshark.to_owned(), dnsward.to_string()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Comparison of one frame
// ---------------------------------------------------------------------------------------------

/// Section of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Answer,
    Authority,
    Additional,
}

impl Section {
    fn field(self) -> &'static str {
        match self {
            Section::Answer => "answers",
            Section::Authority => "authority",
            Section::Additional => "additional",
        }
    }

    fn of(obs: &Observation, section: Section) -> &[Record] {
        match section {
            Section::Answer => &obs.answers,
            Section::Authority => &obs.authority,
            Section::Additional => &obs.additional,
        }
    }
}

/// One record as tshark lists it, aligned with dnsward's record at the same place.
struct Slot<'o> {
    message: usize,
    section: Section,
    /// Index among the section's non-OPT records (dnsward's list index).
    index: usize,
    rtype: u16,
    dnsward: Option<&'o Record>,
}

impl Slot<'_> {
    fn field(&self) -> String {
        format!("{}[{}]", self.section.field(), self.index)
    }
}

/// Splits a comma-joined list of names into `expected.len()` values. Names may contain commas,
/// so when a plain split does not give the expected count, each slot takes its expected value
/// when the text continues with it (followed by a comma or the end).
fn split_guided(cell: &str, expected: &[Option<String>]) -> Vec<String> {
    let plain = split_list(cell);
    if plain.len() == expected.len() {
        return plain.into_iter().map(str::to_owned).collect();
    }
    let mut out = Vec::new();
    let mut rest = cell;
    for want in expected {
        if rest.is_empty() && out.len() >= plain.len().min(expected.len()) {
            break;
        }
        let take = match want {
            Some(w)
                if rest.starts_with(w.as_str())
                    && (rest.len() == w.len() || rest[w.len()..].starts_with(',')) =>
            {
                w.len()
            }
            _ => rest.find(',').unwrap_or(rest.len()),
        };
        out.push(rest[..take].to_owned());
        rest = rest.get(take + 1..).unwrap_or("");
    }
    if !rest.is_empty() {
        out.extend(rest.split(',').map(str::to_owned));
    }
    out
}

/// Per-message values of a header column, when tshark gave one per message.
fn per_message<'r>(row: &'r Row, column: &str, messages: usize) -> Option<Vec<&'r str>> {
    let values = row.list(column);
    (values.len() == messages).then_some(values)
}

/// Compares the tshark row of one frame with the observations dnsward emitted for that frame;
/// returns how many values were compared.
fn compare_frame(row: &Row, observations: &[&Observation], findings: &mut Vec<Finding>) -> usize {
    let mut report = FrameReport {
        frame: row.frame,
        findings,
        compared: 0,
    };
    let ids = row.list("dns.id");
    let messages = ids.len();
    for (i, id) in ids.iter().enumerate() {
        if observations.get(i).is_none() {
            let qnames = row.get("dns.qry.name");
            let qr = per_message(row, "dns.flags.response", messages)
                .and_then(|v| v.get(i).copied())
                .unwrap_or("?");
            report.push(
                Kind::Missed,
                i,
                "message",
                format!("id {id} qr {qr} question {qnames}"),
                "(not emitted)".to_owned(),
            );
        }
    }
    for obs in observations.iter().skip(messages) {
        report.push(
            Kind::Extra,
            messages,
            "message",
            "(no such message)".to_owned(),
            describe(obs),
        );
    }
    compare_addresses(row, observations, &mut report);
    compare_headers(row, observations, &mut report);
    compare_questions(row, observations, &mut report);
    compare_records(row, observations, &mut report);
    report.compared
}

/// One-line description of an observation, for extra and missed messages.
fn describe(obs: &Observation) -> String {
    let q = obs
        .questions
        .first()
        .map(|q| format!("{} {}", q.name.wire, q.qtype_name))
        .unwrap_or_default();
    format!(
        "id {:#06x} qr {} {} {:?}",
        obs.txid,
        u8::from(obs.flags.qr),
        q,
        obs.anomalies
    )
}

fn compare_addresses(row: &Row, observations: &[&Observation], report: &mut FrameReport<'_>) {
    // One set of addresses and ports per frame; every message of the frame shares them. For DNS
    // quoted in an ICMP error tshark lists the outer and then the quoted addresses; the message
    // is the quoted datagram's, so its (last) addresses are the ones to compare.
    let (src, dst) = if row.get("ip.src").is_empty() {
        (row.list("ipv6.src"), row.list("ipv6.dst"))
    } else {
        (row.list("ip.src"), row.list("ip.dst"))
    };
    let transport = if is_icmp_quote(row) {
        "icmp"
    } else if row.get("tcp.srcport").is_empty() {
        "udp"
    } else {
        "tcp"
    };
    let (sport, dport) = if transport == "tcp" {
        (row.get("tcp.srcport"), row.get("tcp.dstport"))
    } else {
        (row.get("udp.srcport"), row.get("udp.dstport"))
    };
    let ip = |s: &str| s.parse::<IpAddr>().ok();
    let port = |s: &str| s.parse::<u16>().ok();
    for (i, obs) in observations
        .iter()
        .enumerate()
        .take(row.list("dns.id").len())
    {
        let time = row.get("frame.time_epoch");
        if !time.is_empty() {
            report.check(i, "time_ns", time, parse_epoch_ns, obs.time_ns);
        }
        if let (Some(s), Some(d)) = (src.last(), dst.last()) {
            report.check(i, "src_ip", s, ip, obs.src_ip);
            report.check(i, "dst_ip", d, ip, obs.dst_ip);
        }
        if !sport.is_empty() && !sport.contains(',') {
            report.check(i, "src_port", sport, port, obs.src_port);
            report.check(i, "dst_port", dport, port, obs.dst_port);
        }
        // Compared by serde name, so the test does not depend on the enum's variants.
        let mine = serde_json::to_value(obs.transport)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        if mine != transport {
            report.mismatch(i, "transport", transport.to_owned(), mine);
        }
    }
}

fn compare_headers(row: &Row, observations: &[&Observation], report: &mut FrameReport<'_>) {
    let messages = row.list("dns.id").len();
    let flag = |s: &str| parse_flag(s);
    let number = |s: &str| parse_number(s);
    type Getter = fn(&Observation) -> u64;
    let numbers: [(&str, &str, Getter); 7] = [
        ("dns.id", "txid", |o| u64::from(o.txid)),
        ("dns.flags.opcode", "opcode", |o| u64::from(o.opcode)),
        ("dns.flags.rcode", "rcode & 0xf", |o| {
            u64::from(o.rcode & 0xf)
        }),
        ("dns.count.queries", "counts.qd", |o| u64::from(o.counts.qd)),
        ("dns.count.answers", "counts.an", |o| u64::from(o.counts.an)),
        ("dns.count.auth_rr", "counts.ns", |o| u64::from(o.counts.ns)),
        ("dns.count.add_rr", "counts.ar", |o| u64::from(o.counts.ar)),
    ];
    type FlagGetter = fn(&Observation) -> bool;
    let flags: [(&str, &str, FlagGetter); 8] = [
        ("dns.flags.response", "flags.qr", |o| o.flags.qr),
        ("dns.flags.authoritative", "flags.aa", |o| o.flags.aa),
        ("dns.flags.truncated", "flags.tc", |o| o.flags.tc),
        ("dns.flags.recdesired", "flags.rd", |o| o.flags.rd),
        ("dns.flags.recavail", "flags.ra", |o| o.flags.ra),
        ("dns.flags.authenticated", "flags.ad", |o| o.flags.ad),
        ("dns.flags.checkdisable", "flags.cd", |o| o.flags.cd),
        ("dns.flags.z", "flags.z", |o| o.flags.z),
    ];
    for (column, field, get) in numbers {
        let Some(values) = per_message(row, column, messages) else {
            if !row.get(column).is_empty() {
                report.note(0, field, format!("{column} not one value per message"));
            }
            continue;
        };
        for (i, (value, obs)) in values.iter().zip(observations).enumerate() {
            report.check(i, field, value, number, get(obs));
        }
    }
    for (column, field, get) in flags {
        // Columns tshark leaves empty (some flags of queries) are not compared.
        let Some(values) = per_message(row, column, messages) else {
            continue;
        };
        for (i, (value, obs)) in values.iter().zip(observations).enumerate() {
            report.check(i, field, value, flag, get(obs));
        }
    }
}

fn compare_questions(row: &Row, observations: &[&Observation], report: &mut FrameReport<'_>) {
    let messages = row.list("dns.id").len();
    let types = row.list("dns.qry.type");
    let classes = row.list("dns.qry.class");
    // How many questions of tshark's lists belong to each message.
    let per_msg: Vec<usize> = if messages == 1 {
        vec![types.len()]
    } else {
        let counts: Option<Vec<usize>> = per_message(row, "dns.count.queries", messages)
            .map(|v| v.iter().filter_map(|c| c.parse().ok()).collect());
        match counts {
            Some(c) if c.len() == messages && c.iter().sum::<usize>() == types.len() => c,
            _ => {
                report.note(
                    0,
                    "questions",
                    "cannot tell which question is whose".to_owned(),
                );
                return;
            }
        }
    };
    // (message, index) of every question slot, and dnsward's name there in tshark form.
    let mut slots = Vec::new();
    for (m, &n) in per_msg.iter().enumerate() {
        for q in 0..n {
            slots.push((m, q));
        }
    }
    let expected: Vec<Option<String>> = slots
        .iter()
        .map(|&(m, q)| {
            observations
                .get(m)
                .and_then(|o| o.questions.get(q))
                .map(|q| tshark_name(&q.name.wire))
        })
        .collect();
    let names = split_guided(row.get("dns.qry.name"), &expected);
    let all_emitted = observations.len() >= messages;
    if all_emitted && (names.len() != slots.len() || classes.len() != slots.len()) {
        report.mismatch(
            0,
            "questions (tshark lists)",
            format!(
                "{} names, {} types, {} classes",
                names.len(),
                types.len(),
                classes.len()
            ),
            "-".to_owned(),
        );
        return;
    }
    for (k, &(m, q)) in slots.iter().enumerate() {
        let Some(obs) = observations.get(m) else {
            continue;
        };
        let field = format!("questions[{q}]");
        let (name, qtype, qclass) = (&names[k], types[k], classes[k]);
        let Some(dq) = obs.questions.get(q) else {
            report.mismatch(
                m,
                &field,
                format!("{name} type {qtype} class {qclass}"),
                "(missing)".to_owned(),
            );
            continue;
        };
        let dname = tshark_name(&dq.name.wire);
        report.compared += 1;
        if *name != dname {
            report.mismatch(m, &format!("{field}.name"), name.clone(), dname);
        }
        report.check(
            m,
            &format!("{field}.qtype"),
            qtype,
            parse_number,
            u64::from(dq.qtype),
        );
        report.check(
            m,
            &format!("{field}.qclass"),
            qclass,
            parse_number,
            u64::from(dq.qclass),
        );
    }
    for (m, obs) in observations.iter().enumerate().take(messages) {
        let seen = per_msg.get(m).copied().unwrap_or(0);
        for (q, extra) in obs.questions.iter().enumerate().skip(seen) {
            report.mismatch(
                m,
                &format!("questions[{q}]"),
                "(none)".to_owned(),
                format!("{} {}", extra.name.wire, extra.qtype_name),
            );
        }
    }
}

/// Walks tshark's record columns of one frame and aligns each record with dnsward's.
/// Returns the slots and whether the walk got through all of tshark's types.
fn align_records<'o>(
    row: &Row,
    observations: &[&'o Observation],
    report: &mut FrameReport<'_>,
) -> Option<Vec<Slot<'o>>> {
    let messages = row.list("dns.id").len();
    let types: Vec<Option<u16>> = row
        .list("dns.resp.type")
        .iter()
        .map(|t| parse_number(t).and_then(|t| u16::try_from(t).ok()))
        .collect();
    let count = |column: &str| -> Option<Vec<usize>> {
        per_message(row, column, messages)
            .map(|v| v.iter().filter_map(|c| c.parse().ok()).collect())
    };
    let (Some(an), Some(ns), Some(ar)) = (
        count("dns.count.answers"),
        count("dns.count.auth_rr"),
        count("dns.count.add_rr"),
    ) else {
        report.note(
            0,
            "records",
            "section counts not one per message".to_owned(),
        );
        return None;
    };
    let mut slots = Vec::new();
    let mut at = 0;
    for m in 0..messages {
        let (a, n, d) = (
            an.get(m).copied().unwrap_or(0),
            ns.get(m).copied().unwrap_or(0),
            ar.get(m).copied().unwrap_or(0),
        );
        let obs = observations.get(m).copied();
        let mut in_section = [0usize; 3];
        for r in 0..a + n + d {
            let Some(&rtype) = types.get(at) else {
                // tshark stopped early (truncated message): the rest is not listed.
                break;
            };
            at += 1;
            let Some(rtype) = rtype else {
                report.note(m, "records", "unparsable dns.resp.type".to_owned());
                return None;
            };
            let (section, s) = if r < a {
                (Section::Answer, 0)
            } else if r < a + n {
                (Section::Authority, 1)
            } else {
                (Section::Additional, 2)
            };
            let index = in_section[s];
            let dnsward = if rtype == OPT {
                None
            } else {
                in_section[s] += 1;
                obs.and_then(|o| Section::of(o, section).get(index))
            };
            let slot = Slot {
                message: m,
                section,
                index,
                rtype,
                dnsward,
            };
            if BITMAP_TYPES.contains(&rtype) {
                let listed = types.get(at..).unwrap_or(&[]);
                let known = dnsward
                    .filter(|d| d.rtype == rtype)
                    .and_then(bitmap_of)
                    .filter(|b| b.len() <= listed.len());
                let skip = match known {
                    Some(bitmap) => {
                        let tshark: Vec<Option<u16>> = listed[..bitmap.len()].to_vec();
                        let comparable = bitmap.iter().all(Option::is_some);
                        if comparable && tshark != bitmap {
                            // The walk cannot tell where this record's bitmap ends: stop here.
                            report.mismatch(
                                m,
                                &format!("{}.type_bitmap", slot.field()),
                                format!("{tshark:?}"),
                                format!("{bitmap:?}"),
                            );
                            return None;
                        }
                        bitmap.len()
                    }
                    // The last record of the frame: whatever follows is its bitmap.
                    None if m + 1 == messages && r + 1 == a + n + d => listed.len(),
                    None => {
                        report.mismatch(
                            m,
                            &format!("{}.type_bitmap", slot.field()),
                            "type bitmap of unknown length in dns.resp.type".to_owned(),
                            dnsward
                                .map(|d| d.rdata.clone())
                                .unwrap_or_else(|| "(missing)".into()),
                        );
                        return None;
                    }
                };
                at += skip;
            }
            slots.push(slot);
        }
    }
    if at < types.len() {
        report.mismatch(
            0,
            "records (dns.resp.type)",
            format!(
                "{} values left over after the counted records",
                types.len() - at
            ),
            "-".to_owned(),
        );
        return None;
    }
    Some(slots)
}

fn compare_records(row: &Row, observations: &[&Observation], report: &mut FrameReport<'_>) {
    let messages = row.list("dns.id").len();
    let Some(slots) = align_records(row, observations, report) else {
        return;
    };
    // Owner names and TTLs.
    let expected: Vec<Option<String>> = slots
        .iter()
        .map(|s| {
            if s.rtype == OPT {
                Some("<Root>".to_owned())
            } else {
                s.dnsward.map(|d| tshark_name(&d.name.wire))
            }
        })
        .collect();
    let names = split_guided(row.get("dns.resp.name"), &expected);
    let ttls = row.list("dns.resp.ttl");
    let with_ttl = slots.iter().filter(|s| s.rtype != OPT).count();
    let names_ok = names.len() == slots.len();
    let ttls_ok = ttls.len() == with_ttl;
    // Without dnsward's names as a guide, names holding commas cannot be split: only a missed
    // message is reported then.
    if (!names_ok || !ttls_ok) && observations.len() >= messages {
        report.mismatch(
            0,
            "records (tshark lists)",
            format!(
                "{} names and {} TTLs for {} records",
                names.len(),
                ttls.len(),
                slots.len()
            ),
            "-".to_owned(),
        );
    }
    let mut ttl_at = 0;
    for (k, slot) in slots.iter().enumerate() {
        if slot.rtype == OPT {
            continue;
        }
        let ttl = ttls.get(ttl_at).copied().filter(|_| ttls_ok);
        ttl_at += 1;
        let name = names.get(k).filter(|_| names_ok);
        let field = slot.field();
        let Some(record) = slot.dnsward else {
            if observations.get(slot.message).is_some() {
                report.mismatch(
                    slot.message,
                    &field,
                    format!(
                        "{} type {} ttl {}",
                        name.map_or("?", String::as_str),
                        slot.rtype,
                        ttl.unwrap_or("?")
                    ),
                    "(missing)".to_owned(),
                );
            }
            continue;
        };
        if let Some(name) = name {
            let dname = tshark_name(&record.name.wire);
            report.compared += 1;
            if *name != dname {
                report.mismatch(slot.message, &format!("{field}.name"), name.clone(), dname);
            }
        }
        report.compared += 1;
        if record.rtype != slot.rtype {
            report.mismatch(
                slot.message,
                &format!("{field}.rtype"),
                slot.rtype.to_string(),
                record.rtype.to_string(),
            );
        }
        if let Some(ttl) = ttl {
            report.check(
                slot.message,
                &format!("{field}.ttl"),
                ttl,
                parse_ttl,
                record.ttl,
            );
        }
    }
    // Records dnsward has beyond tshark's, and EDNS.
    for (m, obs) in observations.iter().enumerate().take(messages) {
        let mine: Vec<&Slot<'_>> = slots.iter().filter(|s| s.message == m).collect();
        for section in [Section::Answer, Section::Authority, Section::Additional] {
            let seen = mine
                .iter()
                .filter(|s| s.section == section && s.rtype != OPT)
                .count();
            for (i, extra) in Section::of(obs, section).iter().enumerate().skip(seen) {
                report.mismatch(
                    m,
                    &format!("{}[{i}]", section.field()),
                    "(none)".to_owned(),
                    format!("{} {} {}", extra.name.wire, extra.rtype_name, extra.rdata),
                );
            }
        }
        let has_opt = mine.iter().any(|s| s.rtype == OPT);
        let counted =
            usize::from(obs.counts.an) + usize::from(obs.counts.ns) + usize::from(obs.counts.ar);
        let complete = mine.len() == counted;
        report.compared += 1;
        if has_opt && obs.edns.is_none() {
            report.mismatch(m, "edns", "OPT present".to_owned(), "(none)".to_owned());
        }
        if !has_opt && complete && obs.edns.is_some() {
            report.mismatch(m, "edns", "(no OPT)".to_owned(), "present".to_owned());
        }
    }
    compare_rdata(row, &slots, report);
}

/// dnsward's rdata of a record in the form tshark prints for `column`, or why it has none.
fn dnsward_value(column: &str, record: &Record) -> Result<String, String> {
    let fields = rdata_fields(&record.rdata);
    let field = |i: usize| fields.get(i).copied().ok_or_else(|| record.rdata.clone());
    if is_generic(&record.rdata) {
        return Err(record.rdata.clone());
    }
    match column {
        "dns.a" => Ok(field(0)?.to_owned()),
        "dns.aaaa" => Ok(field(0)?.to_owned()),
        "dns.ns" | "dns.cname" => Ok(tshark_name(&record.rdata)),
        "dns.mx.preference" => Ok(field(0)?.to_owned()),
        "dns.mx.mail_exchange" => Ok(tshark_name(field(1)?)),
        "dns.soa.mname" => Ok(tshark_name(field(0)?)),
        "dns.soa.serial_number" => Ok(field(2)?.to_owned()),
        _ => Err(format!("no rendering for {column}")),
    }
}

/// Whether tshark's and dnsward's values of `column` agree (addresses compared parsed).
fn same_value(column: &str, tshark: &str, dnsward: &str) -> bool {
    match column {
        "dns.a" => matches!(
            (tshark.parse::<Ipv4Addr>(), dnsward.parse::<Ipv4Addr>()),
            (Ok(t), Ok(d)) if t == d
        ),
        "dns.aaaa" => matches!(
            (tshark.parse::<Ipv6Addr>(), dnsward.parse::<Ipv6Addr>()),
            (Ok(t), Ok(d)) if t == d
        ),
        "dns.mx.preference" | "dns.soa.serial_number" => matches!(
            (parse_number(tshark), parse_number(dnsward)),
            (Some(t), Some(d)) if t == d
        ),
        _ => tshark == dnsward,
    }
}

fn compare_rdata(row: &Row, slots: &[Slot<'_>], report: &mut FrameReport<'_>) {
    const COLUMNS: [(&str, u16, &str, bool); 8] = [
        ("dns.a", 1, "rdata", false),
        ("dns.aaaa", 28, "rdata", false),
        ("dns.ns", 2, "rdata", true),
        ("dns.cname", 5, "rdata", true),
        ("dns.mx.preference", 15, "rdata.preference", false),
        ("dns.mx.mail_exchange", 15, "rdata.exchange", true),
        ("dns.soa.mname", 6, "rdata.mname", true),
        ("dns.soa.serial_number", 6, "rdata.serial", false),
    ];
    for (column, rtype, part, is_name) in COLUMNS {
        let of_type: Vec<&Slot<'_>> = slots.iter().filter(|s| s.rtype == rtype).collect();
        let expected: Vec<Option<String>> = of_type
            .iter()
            .map(|s| s.dnsward.and_then(|d| dnsward_value(column, d).ok()))
            .collect();
        let values: Vec<String> = if is_name {
            split_guided(row.get(column), &expected)
        } else {
            row.list(column).into_iter().map(str::to_owned).collect()
        };
        if values.len() != of_type.len() {
            report.mismatch(
                0,
                column,
                format!(
                    "{} values for {} records of type {rtype}",
                    values.len(),
                    of_type.len()
                ),
                "-".to_owned(),
            );
            continue;
        }
        for (slot, value) in of_type.iter().zip(&values) {
            let Some(record) = slot.dnsward.filter(|d| d.rtype == rtype) else {
                continue;
            };
            let field = format!("{}.{part}", slot.field());
            report.compared += 1;
            match dnsward_value(column, record) {
                Ok(mine) if same_value(column, value, &mine) => {}
                Ok(mine) => report.mismatch(slot.message, &field, value.clone(), mine),
                Err(rdata) => report.mismatch(slot.message, &field, value.clone(), rdata),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Whole captures
// ---------------------------------------------------------------------------------------------

/// Result of comparing one capture.
#[derive(Default)]
struct CaptureResult {
    name: String,
    tshark_messages: usize,
    dnsward_messages: usize,
    /// Values compared.
    compared: usize,
    icmp_quotes: usize,
    findings: Vec<Finding>,
    /// Findings matched by [`TSHARK_IS_WRONG`], with the reason.
    accepted: Vec<(Finding, &'static str)>,
    /// Running dnsward or reading its output failed.
    error: Option<String>,
}

impl CaptureResult {
    fn count(&self, kind: Kind) -> usize {
        self.findings.iter().filter(|f| f.kind == kind).count()
    }

    fn failures(&self) -> usize {
        self.count(Kind::Mismatch) + self.count(Kind::Missed) + usize::from(self.error.is_some())
    }
}

/// Compares tshark's rows with dnsward's observations for one capture.
fn compare_capture(name: &str, rows: &[Row], observations: &[Observation]) -> CaptureResult {
    let mut result = CaptureResult {
        name: name.to_owned(),
        dnsward_messages: observations.len(),
        ..CaptureResult::default()
    };
    let mut by_frame: BTreeMap<u64, Vec<&Observation>> = BTreeMap::new();
    for obs in observations {
        by_frame.entry(obs.source.frame).or_default().push(obs);
    }
    let mut seen_frames = std::collections::BTreeSet::new();
    for row in rows {
        seen_frames.insert(row.frame);
        if is_icmp_quote(row) {
            result.icmp_quotes += row.list("dns.id").len();
        }
        result.tshark_messages += row.list("dns.id").len();
        let mine = by_frame.get(&row.frame).map(Vec::as_slice).unwrap_or(&[]);
        result.compared += compare_frame(row, mine, &mut result.findings);
    }
    for (frame, extra) in &by_frame {
        if seen_frames.contains(frame) {
            continue;
        }
        for (i, obs) in extra.iter().enumerate() {
            result.findings.push(Finding {
                kind: Kind::Extra,
                frame: *frame,
                message: i,
                field: "message".to_owned(),
                tshark: "(no DNS in this frame)".to_owned(),
                dnsward: describe(obs),
            });
        }
    }
    // Point a missed message at an extra one with the same id, if dnsward put it elsewhere.
    let extras: Vec<(u64, String)> = result
        .findings
        .iter()
        .filter(|f| f.kind == Kind::Extra)
        .map(|f| (f.frame, f.dnsward.clone()))
        .collect();
    for f in result
        .findings
        .iter_mut()
        .filter(|f| f.kind == Kind::Missed)
    {
        let id = f.tshark.split_whitespace().nth(1).and_then(parse_number);
        let near: Vec<String> = extras
            .iter()
            .filter(|(_, d)| {
                d.split_whitespace().nth(1).and_then(parse_number) == id && id.is_some()
            })
            .map(|(frame, _)| frame.to_string())
            .collect();
        if !near.is_empty() {
            f.dnsward = format!(
                "(not emitted; same id emitted at frame {})",
                near.join(", ")
            );
        }
    }
    result
        .findings
        .sort_by_key(|f| (f.frame, f.message, f.kind));
    result
}

/// Moves findings matched by [`TSHARK_IS_WRONG`] aside; returns the exceptions that matched.
fn apply_exceptions(result: &mut CaptureResult) -> Vec<usize> {
    let mut used = Vec::new();
    let mut kept = Vec::new();
    for finding in std::mem::take(&mut result.findings) {
        let hit = TSHARK_IS_WRONG.iter().position(|a| {
            a.capture == result.name
                && a.frame == finding.frame
                && finding.field.starts_with(a.field)
                && matches!(finding.kind, Kind::Mismatch | Kind::Missed)
        });
        match hit {
            Some(i) => {
                used.push(i);
                result.accepted.push((finding, TSHARK_IS_WRONG[i].reason));
            }
            None => kept.push(finding),
        }
    }
    result.findings = kept;
    used
}

/// Runs dnsward on one capture and compares it with the golden file.
fn check_capture(capture: &Path) -> CaptureResult {
    let name = common::file_name(capture);
    let golden = common::golden_path(capture);
    let fail = |error: String| CaptureResult {
        name: name.clone(),
        error: Some(error),
        ..CaptureResult::default()
    };
    if !golden.is_file() {
        return fail(format!("no golden file {}", golden.display()));
    }
    let rows = match parse_golden(&common::read_text(&golden)) {
        Ok(rows) => rows,
        Err(e) => return fail(format!("golden file {}: {e}", golden.display())),
    };
    let lines = match common::run_dnsward(capture, "conformance") {
        Ok(lines) => lines,
        Err(e) => return fail(e),
    };
    let mut observations = Vec::new();
    let mut bad_lines = Vec::new();
    for parsed in common::parse_observations(&lines) {
        match parsed {
            Ok(o) => observations.push(o),
            Err(e) => bad_lines.push(e),
        }
    }
    let mut result = compare_capture(&name, &rows, &observations);
    if !bad_lines.is_empty() {
        result.error = Some(format!(
            "{} output lines are not observations, first: {}",
            bad_lines.len(),
            bad_lines[0]
        ));
    }
    result
}

/// `answers[3].ttl` becomes `answers[*].ttl`, to count findings by field.
fn fold_indexes(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut in_index = false;
    for c in field.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[*]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            c => out.push(c),
        }
    }
    out
}

/// Renders the report: a table per capture, then the findings (all of them, or the first
/// [`SHOWN_PER_CAPTURE`] of each capture).
fn render_report(results: &[CaptureResult], stale: &[&Accepted], all: bool) -> String {
    let mut out = String::new();
    let total: usize = results.iter().map(CaptureResult::failures).sum::<usize>() + stale.len();
    let _ = writeln!(
        out,
        "conformance with tshark: {total} failure(s) (mismatches + missed messages + errors \
         + stale exceptions); extra messages and notes are information only\n"
    );
    let _ = writeln!(
        out,
        "{:<46} {:>7} {:>7} {:>8} {:>8} {:>6} {:>5} {:>5} {:>8} {:>5}",
        "capture",
        "tshark",
        "dnsward",
        "compared",
        "mismatch",
        "missed",
        "extra",
        "notes",
        "accepted",
        "icmp"
    );
    for r in results {
        let _ = writeln!(
            out,
            "{:<46} {:>7} {:>7} {:>8} {:>8} {:>6} {:>5} {:>5} {:>8} {:>5}{}",
            r.name,
            r.tshark_messages,
            r.dnsward_messages,
            r.compared,
            r.count(Kind::Mismatch),
            r.count(Kind::Missed),
            r.count(Kind::Extra),
            r.count(Kind::Note),
            r.accepted.len(),
            r.icmp_quotes,
            if r.error.is_some() { "  ERROR" } else { "" }
        );
    }
    for r in results {
        if r.findings.is_empty() && r.error.is_none() && r.accepted.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n== {}", r.name);
        if let Some(e) = &r.error {
            let _ = writeln!(out, "ERROR {e}");
        }
        let shown = if all { usize::MAX } else { SHOWN_PER_CAPTURE };
        for f in r.findings.iter().take(shown) {
            let _ = writeln!(out, "{}", f.render());
        }
        if r.findings.len() > shown {
            let _ = writeln!(
                out,
                "... and {} more; all of them by field:",
                r.findings.len() - shown
            );
            // Every finding is still accounted for: counted by kind and field, indexes folded.
            let mut by_field: BTreeMap<(Kind, String), usize> = BTreeMap::new();
            for f in &r.findings {
                *by_field
                    .entry((f.kind, fold_indexes(&f.field)))
                    .or_default() += 1;
            }
            for ((kind, field), n) in by_field {
                let _ = writeln!(out, "    {n:>7} {kind:?} {field}");
            }
        }
        for (f, reason) in &r.accepted {
            let _ = writeln!(out, "accepted {} -- tshark is wrong: {reason}", f.render());
        }
    }
    for a in stale {
        let _ = writeln!(
            out,
            "\nSTALE exception (matches nothing any more, remove it): {} frame {} {}",
            a.capture, a.frame, a.field
        );
    }
    out
}

#[test]
fn every_message_tshark_decodes_is_decoded_the_same_by_dnsward() {
    let Some(dir) =
        common::shared_pcaps("every_message_tshark_decodes_is_decoded_the_same_by_dnsward")
    else {
        return;
    };
    let captures = common::captures(&dir);
    assert!(!captures.is_empty(), "no captures in {}", dir.display());
    let mut results: Vec<CaptureResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = captures
            .iter()
            .map(|c| scope.spawn(move || check_capture(c)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("comparison thread panicked"))
            .collect()
    });
    let mut used = Vec::new();
    for r in &mut results {
        used.extend(apply_exceptions(r));
    }
    let stale: Vec<&Accepted> = TSHARK_IS_WRONG
        .iter()
        .enumerate()
        .filter(|(i, _)| !used.contains(i))
        .map(|(_, a)| a)
        .collect();
    let full = render_report(&results, &stale, true);
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance-report.txt");
    let _ = std::fs::write(&path, &full);
    let failures: usize = results.iter().map(CaptureResult::failures).sum::<usize>() + stale.len();
    assert!(
        failures == 0,
        "{}\nfull report: {}",
        render_report(&results, &stale, false),
        path.display()
    );
}

// ---------------------------------------------------------------------------------------------
// Fragments and TCP
// ---------------------------------------------------------------------------------------------

/// Runs dnsward on a shared capture and parses every line (panics on failure).
fn observations_of(dir: &Path, capture: &str) -> Vec<Observation> {
    let lines = common::run_dnsward(&dir.join(capture), "conformance")
        .unwrap_or_else(|e| panic!("{capture}: {e}"));
    common::parse_observations(&lines)
        .into_iter()
        .map(|o| o.unwrap_or_else(|e| panic!("{capture}: {e}")))
        .collect()
}

/// What must survive fragmentation: id, flags, questions and records.
fn message_content(obs: &Observation) -> String {
    let mut out = format!(
        "id {:#06x} qr {} rcode {} q [",
        obs.txid,
        u8::from(obs.flags.qr),
        obs.rcode
    );
    for q in &obs.questions {
        let _ = write!(out, "{} {} {}; ", q.name.wire, q.qtype, q.qclass);
    }
    for (label, records) in [
        ("an", &obs.answers),
        ("ns", &obs.authority),
        ("ar", &obs.additional),
    ] {
        let _ = write!(out, "] {label} [");
        for r in records {
            let _ = write!(
                out,
                "{} {} {} {} {}; ",
                r.name.wire, r.rtype, r.class, r.ttl, r.rdata
            );
        }
    }
    let _ = write!(out, "] edns {}", obs.edns.is_some());
    out
}

#[test]
fn tiny_ipv4_fragments_yield_the_same_messages_as_the_unfragmented_capture() {
    let Some(dir) = common::shared_pcaps(
        "tiny_ipv4_fragments_yield_the_same_messages_as_the_unfragmented_capture",
    ) else {
        return;
    };
    let whole: Vec<String> = observations_of(&dir, "dnscap__dns.pcap")
        .iter()
        .map(message_content)
        .collect();
    let fragmented = observations_of(&dir, "dnscap__frags.pcap");
    let pieces: Vec<String> = fragmented.iter().map(message_content).collect();
    assert!(!whole.is_empty(), "dnscap__dns.pcap yields no messages");
    let mut diffs = String::new();
    for i in 0..whole.len().max(pieces.len()) {
        let (a, b) = (whole.get(i), pieces.get(i));
        if a != b {
            let _ = writeln!(
                diffs,
                "message {i}:\n  dns.pcap:   {}\n  frags.pcap: {}",
                a.map_or("(none)", String::as_str),
                b.map_or("(none)", String::as_str)
            );
        }
    }
    assert!(
        diffs.is_empty(),
        "{} messages from dns.pcap, {} from frags.pcap; differences:\n{diffs}",
        whole.len(),
        pieces.len()
    );
    // Every datagram in frags.pcap is fragmented (24-byte fragments), and dnsward says so.
    let unmarked: Vec<u64> = fragmented
        .iter()
        .filter(|o| {
            o.fragments.as_ref().is_none_or(|f| f.count < 2)
                || !o.anomalies.contains(&schemas::Anomaly::Fragmented)
        })
        .map(|o| o.source.frame)
        .collect();
    assert!(
        unmarked.is_empty(),
        "messages from frags.pcap without fragment evidence, frames {unmarked:?}"
    );
}

#[test]
fn ipv6_fragments_yield_the_reassembled_response() {
    let Some(dir) = common::shared_pcaps("ipv6_fragments_yield_the_reassembled_response") else {
        return;
    };
    // Frames 6, 7 and 8 are the three IPv6 fragments (ident 2) of the response to query 0x9f91;
    // frame 8 completes it. Frame 4 is the last fragment of an earlier copy whose first
    // fragments were not captured: nothing to reassemble.
    let observations = observations_of(&dir, "zeek__ipv6-fragmented-dns.pcap");
    let response = observations
        .iter()
        .find(|o| o.txid == 0x9f91 && o.flags.qr)
        .unwrap_or_else(|| panic!("no response 0x9f91 in {observations:#?}"));
    assert_eq!(
        response.source.frame, 8,
        "the frame that completed the datagram"
    );
    assert_eq!(response.ip_version, 6);
    assert_eq!(response.transport, schemas::Transport::Udp);
    let fragments = response.fragments.as_ref().expect("fragment evidence");
    assert_eq!(
        (fragments.count, fragments.overlaps, fragments.inconsistent),
        (3, 0, 0)
    );
    assert_eq!(response.ip_id, Some(2), "IPv6 fragment identification");
    assert!(response.anomalies.contains(&schemas::Anomaly::Fragmented));
    let answer = response.answers.first().expect("a TXT answer");
    assert_eq!(
        answer.name.wire,
        "txtpadding_3230.n1.netalyzr.icsi.berkeley.edu"
    );
    assert_eq!(answer.rtype, 16);
    assert!(
        answer.rdata.len() > 2900,
        "the whole padded TXT: {} bytes",
        answer.rdata.len()
    );
    assert_eq!(
        response.authority.first().map(|r| r.rdata.as_str()),
        Some("roland.icir.org")
    );
    assert_eq!(
        response.additional.first().map(|r| r.rdata.as_str()),
        Some("192.150.187.31")
    );
    assert!(response.edns.is_some());
    assert!(
        observations.iter().all(|o| o.source.frame != 4),
        "frame 4 is a lone last fragment"
    );
}

#[test]
fn tcp_captures_yield_every_message_tshark_sees() {
    let Some(dir) = common::shared_pcaps("tcp_captures_yield_every_message_tshark_sees") else {
        return;
    };
    let mut problems = String::new();
    for capture in [
        "dnscap__dnso1tcp.pcap",
        "tcpdump__dns_tcp.pcap",
        "chrissanders__dns_tcp.pcapng",
    ] {
        let path = dir.join(capture);
        let rows = parse_golden(&common::read_text(&common::golden_path(&path)))
            .unwrap_or_else(|e| panic!("{capture}: {e}"));
        let observations = observations_of(&dir, capture);
        let mut tcp_rows = 0;
        for row in rows.iter().filter(|r| !r.get("tcp.srcport").is_empty()) {
            for (i, id) in row.list("dns.id").iter().enumerate() {
                tcp_rows += 1;
                let mine: Vec<&Observation> = observations
                    .iter()
                    .filter(|o| o.source.frame == row.frame)
                    .collect();
                match mine.get(i) {
                    Some(o)
                        if Some(u64::from(o.txid)) == parse_number(id)
                            && o.transport == schemas::Transport::Tcp => {}
                    Some(o) => {
                        let _ = writeln!(
                            problems,
                            "{capture} frame {} #{i}: tshark id {id} over TCP, dnsward {}",
                            row.frame,
                            describe(o)
                        );
                    }
                    None => {
                        let _ = writeln!(
                            problems,
                            "{capture} frame {} #{i}: tshark id {id} over TCP, dnsward nothing",
                            row.frame
                        );
                    }
                }
            }
        }
        assert!(tcp_rows > 0, "{capture}: tshark sees no DNS over TCP");
    }
    assert!(
        problems.is_empty(),
        "DNS over TCP messages missed:\n{problems}"
    );
}

// ---------------------------------------------------------------------------------------------
// The comparison itself, on hand-made input
// ---------------------------------------------------------------------------------------------

fn row(frame: u64, cells: &[(&str, &str)]) -> Row {
    Row {
        frame,
        fields: cells
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// Hand-built: the tcpdump__dns_tcp.pcap frame 6 response, as tshark lists it, plus an OPT in
/// the middle of the additional section as zeek__ipv6-fragmented-dns.pcap frame 8 has it.
fn sample_row() -> Row {
    row(
        6,
        &[
            ("frame.number", "6"),
            ("frame.time_epoch", "1591780863.973180000"),
            ("ip.src", "209.87.249.18"),
            ("ip.dst", "192.168.1.11"),
            ("tcp.srcport", "53"),
            ("tcp.dstport", "33779"),
            ("dns.id", "0x4319"),
            ("dns.flags.response", "1"),
            ("dns.flags.opcode", "0"),
            ("dns.flags.rcode", "0"),
            ("dns.flags.authoritative", "1"),
            ("dns.flags.truncated", "0"),
            ("dns.flags.recdesired", "1"),
            ("dns.flags.recavail", "0"),
            ("dns.flags.authenticated", "0"),
            ("dns.flags.checkdisable", "0"),
            ("dns.count.queries", "1"),
            ("dns.count.answers", "2"),
            ("dns.count.auth_rr", "2"),
            ("dns.count.add_rr", "3"),
            ("dns.qry.name", "www.tcpdump.org"),
            ("dns.qry.type", "1"),
            ("dns.qry.class", "0x0001"),
            (
                "dns.resp.name",
                concat!(
                    "www.tcpdump.org,www.tcpdump.org,tcpdump.org,tcpdump.org,<Root>,",
                    "a\\001,b.tcpdump.org,sns.cooperix.net"
                ),
            ),
            ("dns.resp.type", "1,1,2,2,41,28,15"),
            ("dns.resp.ttl", "60,60,86400,86400,7200,300"),
            ("dns.a", "192.139.46.66,198.199.88.104"),
            ("dns.aaaa", "2607:f0b0:f:0::babe:f00d"),
            ("dns.ns", "nic.sandelman.ca,<Root>"),
            ("dns.mx.preference", "10"),
            ("dns.mx.mail_exchange", "mx.example.com"),
        ],
    )
}

fn record(name: &str, rtype: u16, ttl: u32, rdata: &str) -> Record {
    Record {
        name: schemas::DnsName {
            wire: name.to_owned(),
            canonical: name.to_ascii_lowercase(),
        },
        rtype,
        rtype_name: schemas::rrtype::type_name(rtype).into_owned(),
        class: 1,
        ttl,
        rdata: rdata.to_owned(),
    }
}

fn sample_observation() -> Observation {
    let mut obs = common::sample_observation();
    obs.source.frame = 6;
    obs.src_ip = "209.87.249.18".parse().unwrap();
    obs.dst_ip = "192.168.1.11".parse().unwrap();
    obs.src_port = 53;
    obs.dst_port = 33779;
    obs.transport = schemas::Transport::Tcp;
    obs.txid = 0x4319;
    obs.rcode = 0;
    obs.flags = schemas::DnsFlags {
        qr: true,
        aa: true,
        tc: false,
        rd: true,
        ra: false,
        z: false,
        ad: false,
        cd: false,
    };
    obs.counts = schemas::SectionCounts {
        qd: 1,
        an: 2,
        ns: 2,
        ar: 3,
    };
    obs.questions[0].name = schemas::DnsName {
        wire: "www.tcpdump.org".into(),
        canonical: "www.tcpdump.org".into(),
    };
    obs.questions[0].qtype = 1;
    obs.answers = vec![
        record("www.tcpdump.org", 1, 60, "192.139.46.66"),
        record("www.tcpdump.org", 1, 60, "198.199.88.104"),
    ];
    obs.authority = vec![
        record("tcpdump.org", 2, 86400, "nic.sandelman.ca"),
        record("tcpdump.org", 2, 86400, "."),
    ];
    obs.additional = vec![
        record("a\\001\\,b.tcpdump.org", 28, 7200, "2607:f0b0:f::babe:f00d"),
        record("sns.cooperix.net", 15, 300, "10 mx.example.com"),
    ];
    obs
}

#[test]
fn comparison_of_an_agreeing_frame_finds_nothing() {
    let mut findings = Vec::new();
    let obs = sample_observation();
    let compared = compare_frame(&sample_row(), &[&obs], &mut findings);
    let text: Vec<String> = findings.iter().map(Finding::render).collect();
    assert!(findings.is_empty(), "{text:#?}");
    // Time, addresses and ports 5, header 14, question 3, six records 18, EDNS 1, rdata 7.
    assert!(compared >= 48, "only {compared} values compared");
}

#[test]
fn comparison_reports_each_disagreeing_field() {
    let mut obs = sample_observation();
    obs.flags.aa = false;
    obs.rcode = 0x10 | 3; // extended rcode bits are ignored, NXDOMAIN is not
    obs.answers[1].ttl = 61;
    obs.answers[1].rdata = "198.199.88.105".into();
    obs.authority[0].name.wire = "tcpdump.net".into();
    obs.additional[1].rdata = "20 mx.example.com".into();
    obs.edns = None;
    let mut findings = Vec::new();
    compare_frame(&sample_row(), &[&obs], &mut findings);
    let fields: Vec<&str> = findings.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "rcode & 0xf",
            "flags.aa",
            "answers[1].ttl",
            "authority[0].name",
            "edns",
            "answers[1].rdata",
            "additional[1].rdata.preference",
        ]
    );
    assert!(findings.iter().all(|f| f.kind == Kind::Mismatch));
}

#[test]
fn comparison_reports_missing_and_extra_records_and_messages() {
    let mut obs = sample_observation();
    obs.authority.pop();
    obs.answers
        .push(record("www.tcpdump.org", 1, 60, "10.0.0.1"));
    let mut findings = Vec::new();
    compare_frame(&sample_row(), &[&obs], &mut findings);
    let fields: Vec<(&str, Kind)> = findings
        .iter()
        .map(|f| (f.field.as_str(), f.kind))
        .collect();
    assert_eq!(
        fields,
        [
            ("authority[1]", Kind::Mismatch),
            ("answers[2]", Kind::Mismatch)
        ]
    );
    let mut findings = Vec::new();
    compare_frame(&sample_row(), &[], &mut findings);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].kind, Kind::Missed);
    let result = compare_capture("x", &[], &[sample_observation()]);
    assert_eq!(result.count(Kind::Extra), 1);
    assert_eq!(result.failures(), 0);
}

#[test]
fn flag_columns_tshark_leaves_empty_are_not_compared() {
    let mut r = sample_row();
    r.fields
        .insert("dns.flags.authoritative".into(), String::new());
    let mut obs = sample_observation();
    obs.flags.aa = false;
    let mut findings = Vec::new();
    compare_frame(&r, &[&obs], &mut findings);
    assert!(findings.is_empty(), "{findings:?}");
}

#[test]
fn nsec_type_bitmaps_in_the_type_column_are_skipped_and_checked() {
    // Hand-built from zeek__dnssec_nsec.pcap frame 2's layout: SOA, RRSIG, NSEC (bitmap A RRSIG
    // NSEC), RRSIG in authority, OPT in additional.
    let r = row(
        2,
        &[
            ("dns.id", "0x1"),
            ("dns.count.queries", "0"),
            ("dns.count.answers", "0"),
            ("dns.count.auth_rr", "4"),
            ("dns.count.add_rr", "1"),
            (
                "dns.resp.name",
                "upenn.edu,upenn.edu,x.upenn.edu,x.upenn.edu,<Root>",
            ),
            ("dns.resp.type", "6,46,47,1,46,47,46,41"),
            ("dns.resp.ttl", "3600,3600,3600,3600"),
            ("dns.soa.mname", "ns.upenn.edu"),
            ("dns.soa.serial_number", "7"),
        ],
    );
    let mut obs = common::sample_observation();
    obs.questions.clear();
    obs.answers.clear();
    obs.counts = schemas::SectionCounts {
        qd: 0,
        an: 0,
        ns: 4,
        ar: 1,
    };
    obs.flags.qr = false;
    obs.txid = 1;
    obs.source.frame = 2;
    // NSEC next name "y.upenn.edu", bitmap window 0: A (1), RRSIG (46), NSEC (47).
    let nsec = "\\# 21 0179057570656e6e03656475000006400000000003";
    obs.authority = vec![
        record(
            "upenn.edu",
            6,
            3600,
            "ns.upenn.edu hostmaster.upenn.edu 7 1 2 3 4",
        ),
        record("upenn.edu", 46, 3600, "\\# 2 0000"),
        record("x.upenn.edu", 47, 3600, nsec),
        record("x.upenn.edu", 46, 3600, "\\# 2 0000"),
    ];
    assert_eq!(
        bitmap_of(&obs.authority[2]),
        Some(vec![Some(1), Some(46), Some(47)])
    );
    let mut findings = Vec::new();
    compare_frame(&r, &[&obs], &mut findings);
    assert!(findings.is_empty(), "{findings:?}");
    // A bitmap that disagrees is reported.
    obs.authority[2].rdata = "y.upenn.edu A NSEC".into();
    let mut findings = Vec::new();
    compare_frame(&r, &[&obs], &mut findings);
    let fields: Vec<&str> = findings.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["authority[2].type_bitmap"], "{findings:?}");
}

#[test]
fn names_render_as_tshark_prints_them() {
    assert_eq!(tshark_name("."), "<Root>");
    assert_eq!(tshark_name("Example.COM"), "Example.COM");
    assert_eq!(tshark_name("a\\.b.com"), "a.b.com");
    assert_eq!(tshark_name("a\\032b.com"), "a b.com");
    assert_eq!(tshark_name("a\\,b.com"), "a,b.com");
    assert_eq!(tshark_name("a\\\\b.com"), "a\\b.com");
    assert_eq!(tshark_name("\\001\\127\\255.com"), "\\001\\177\u{fffd}.com");
    assert_eq!(tshark_name("tab\\009x.com"), "tab\\tx.com");
    assert_eq!(
        tshark_name("\\195\\169t\\195\\169.com"),
        "\u{e9}t\u{e9}.com"
    );
    assert_eq!(
        presentation_labels("a.b."),
        vec![b"a".to_vec(), b"b".to_vec()]
    );
}

#[test]
fn comma_joined_names_are_split_with_the_expected_values_as_guide() {
    let want = |v: &[&str]| v.iter().map(|s| Some((*s).to_owned())).collect::<Vec<_>>();
    assert_eq!(
        split_guided("a.com,b.com", &want(&["a.com", "b.com"])),
        ["a.com", "b.com"]
    );
    assert_eq!(
        split_guided("a,b.com,c.com", &want(&["a,b.com", "c.com"])),
        ["a,b.com", "c.com"]
    );
    // A wrong expectation still yields tshark's values, split at commas.
    assert_eq!(
        split_guided("a.com,c.com", &want(&["x.com", "c.com"])),
        ["a.com", "c.com"]
    );
    assert_eq!(split_guided("", &want(&[])), Vec::<String>::new());
    assert_eq!(
        split_guided("a.com,b.com,c.com", &want(&["a.com"])),
        ["a.com", "b.com", "c.com"]
    );
}

#[test]
fn tshark_numbers_ttls_and_flags_parse() {
    assert_eq!(parse_number("0x0001"), Some(1));
    assert_eq!(parse_number("0xa7f4"), Some(0xa7f4));
    assert_eq!(parse_number("28"), Some(28));
    assert_eq!(parse_ttl("4294967295"), Some(u32::MAX));
    assert_eq!(parse_ttl("-1"), Some(u32::MAX));
    assert_eq!(
        parse_epoch_ns("1300475168.853899000"),
        Some(1_300_475_168_853_899_000)
    );
    assert_eq!(parse_epoch_ns("1.5"), Some(1_500_000_000));
    assert_eq!(parse_epoch_ns("7"), Some(7_000_000_000));
    assert_eq!(parse_flag("1"), Some(true));
    assert_eq!(parse_flag(""), None);
    assert_eq!(rdata_fields("a\\032b c  d"), ["a\\032b", "c", "d"]);
    assert_eq!(generic_bytes("\\# 3 0a0b 0c"), Some(vec![10, 11, 12]));
    assert_eq!(generic_bytes("\\# 0"), Some(vec![]));
    assert_eq!(
        decode_type_bitmap(&[0, 1, 0x40, 1, 1, 0x80]),
        Some(vec![1, 256])
    );
    assert_eq!(
        fold_indexes("answers[12].rdata.exchange"),
        "answers[*].rdata.exchange"
    );
    assert!(is_icmp_quote(&row(
        1,
        &[("ip.src", "127.0.0.212,127.0.0.1")]
    )));
}

#[test]
fn golden_rows_parse_by_column_name() {
    let rows = parse_golden("frame.number\tdns.id\n7\t0x0001,0x0002\n\n9\t0xffff\n").unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].frame, 7);
    assert_eq!(rows[0].list("dns.id"), ["0x0001", "0x0002"]);
    assert_eq!(rows[1].get("dns.missing"), "");
    assert!(parse_golden("frame.number\tdns.id\n7\n").is_err());
}
