//! Bailiwick checks on one response: records a resolver should never take from it.
//!
//! A response may only speak for the question, the names its CNAME (or DNAME) chain leads to,
//! and the zone it answers from; everything else is data an off-path or on-path attacker hopes a
//! lenient resolver will cache (Kaminsky's NS and glue injection, MaginotDNS, BIND
//! CVE-2025-40778, Unbound CVE-2025-11411). The checks, each with a stable name:
//!
//! * `unrelated_answer`: an answer record owned by a name outside the question's chain;
//! * `unrelated_authority`: an NS, SOA, DS or DNAME record in the authority section whose owner
//!   is not the question, one of its chain names, or an ancestor of one;
//! * `parent_ns`: NS for the root or a top-level domain, from a server that is not a root
//!   server, for a question at least two labels below it (a parent or TLD delegation planted in
//!   an answer or referral for a random subdomain);
//! * `stray_additional`: an additional record owned by a name that nothing in the answer or
//!   authority section refers to (not an NS, MX or SRV target, not in the chain);
//! * `out_of_zone_glue`: an address record for an NS, MX or SRV target outside the zone the
//!   response speaks for (its SOA or NS owner). Common and harmless from many servers (resolvers
//!   ignore it; the real captures of tcpdump and Zeek carry it): the worker counts it and hands
//!   it on once per responder every 30 s of packet time, for an informational alert, unless
//!   something else is wrong with the response.
//!
//! The checker keeps its buffers between messages, so it allocates nothing once warm.

use crate::dns::{decode_name, NameBuf, RecordRef};
use schemas::Section;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most findings reported per response; the rest are counted.
pub const MAX_FINDINGS: usize = 4;

/// Most records of one response the checker looks at (the rest are not checked).
const MAX_RECORDS: usize = 128;

/// Most decoded names remembered per message for reuse by compression pointers.
const MAX_INTERNED: usize = 32;

/// Most CNAME hops followed from the question.
const MAX_CHAIN: usize = 16;

/// A bailiwick check, with its stable name ([`BailiwickCheck::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BailiwickCheck {
    /// An answer record outside the question's chain.
    UnrelatedAnswer,
    /// Authority data for a name the question does not lead to.
    UnrelatedAuthority,
    /// NS for the root or a TLD from a non-root server, for a deep question.
    ParentNs,
    /// An additional record nothing refers to.
    StrayAdditional,
    /// An address record for a target outside the response's zone.
    OutOfZoneGlue,
}

impl BailiwickCheck {
    /// The stable snake_case name (as in `schemas::WireFinding::check`).
    pub fn name(self) -> &'static str {
        match self {
            BailiwickCheck::UnrelatedAnswer => "unrelated_answer",
            BailiwickCheck::UnrelatedAuthority => "unrelated_authority",
            BailiwickCheck::ParentNs => "parent_ns",
            BailiwickCheck::StrayAdditional => "stray_additional",
            BailiwickCheck::OutOfZoneGlue => "out_of_zone_glue",
        }
    }
}

/// One bailiwick finding: the check, the record concerned and the zone the response speaks
/// for (as the position of its owner name in the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BailiwickFinding {
    /// Which check.
    pub check: BailiwickCheck,
    /// The record concerned, located in the message.
    pub record: RecordRef,
    /// Position of the zone's name in the message (the SOA or NS owner), when known.
    pub zone_pos: Option<usize>,
}

/// A name inside the checker's arena: lower-case uncompressed wire form.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: usize,
    len: usize,
}

#[derive(Debug, Clone, Copy)]
struct Rec {
    record: RecordRef,
    owner: Span,
    /// The name the rdata points to (CNAME, DNAME, NS, MX, SRV), if any.
    target: Option<Span>,
}

/// The root servers' addresses (including b.root's addresses before and after 2023): only they
/// hand out delegations for top-level domains.
const ROOT_SERVERS: [IpAddr; 28] = [
    IpAddr::V4(Ipv4Addr::new(198, 41, 0, 4)),     // 198.41.0.4
    IpAddr::V4(Ipv4Addr::new(170, 247, 170, 2)),  // 170.247.170.2
    IpAddr::V4(Ipv4Addr::new(199, 9, 14, 201)),   // 199.9.14.201
    IpAddr::V4(Ipv4Addr::new(192, 33, 4, 12)),    // 192.33.4.12
    IpAddr::V4(Ipv4Addr::new(199, 7, 91, 13)),    // 199.7.91.13
    IpAddr::V4(Ipv4Addr::new(192, 203, 230, 10)), // 192.203.230.10
    IpAddr::V4(Ipv4Addr::new(192, 5, 5, 241)),    // 192.5.5.241
    IpAddr::V4(Ipv4Addr::new(192, 112, 36, 4)),   // 192.112.36.4
    IpAddr::V4(Ipv4Addr::new(198, 97, 190, 53)),  // 198.97.190.53
    IpAddr::V4(Ipv4Addr::new(192, 36, 148, 17)),  // 192.36.148.17
    IpAddr::V4(Ipv4Addr::new(192, 58, 128, 30)),  // 192.58.128.30
    IpAddr::V4(Ipv4Addr::new(193, 0, 14, 129)),   // 193.0.14.129
    IpAddr::V4(Ipv4Addr::new(199, 7, 83, 42)),    // 199.7.83.42
    IpAddr::V4(Ipv4Addr::new(202, 12, 27, 33)),   // 202.12.27.33
    IpAddr::V6(Ipv6Addr::new(
        0x2001, 0x503, 0xba3e, 0x0, 0x0, 0x0, 0x2, 0x30,
    )), // 2001:503:ba3e::2:30
    IpAddr::V6(Ipv6Addr::new(0x2801, 0x1b8, 0x10, 0x0, 0x0, 0x0, 0x0, 0xb)), // 2801:1b8:10::b
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x500, 0x200, 0x0, 0x0, 0x0, 0x0, 0xb)), // 2001:500:200::b
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x500, 0x2, 0x0, 0x0, 0x0, 0x0, 0xc)), // 2001:500:2::c
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x500, 0x2d, 0x0, 0x0, 0x0, 0x0, 0xd)), // 2001:500:2d::d
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x500, 0xa8, 0x0, 0x0, 0x0, 0x0, 0xe)), // 2001:500:a8::e
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x500, 0x2f, 0x0, 0x0, 0x0, 0x0, 0xf)), // 2001:500:2f::f
    IpAddr::V6(Ipv6Addr::new(
        0x2001, 0x500, 0x12, 0x0, 0x0, 0x0, 0x0, 0xd0d,
    )), // 2001:500:12::d0d
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x500, 0x1, 0x0, 0x0, 0x0, 0x0, 0x53)), // 2001:500:1::53
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x7fe, 0x0, 0x0, 0x0, 0x0, 0x0, 0x53)), // 2001:7fe::53
    IpAddr::V6(Ipv6Addr::new(
        0x2001, 0x503, 0xc27, 0x0, 0x0, 0x0, 0x2, 0x30,
    )), // 2001:503:c27::2:30
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x7fd, 0x0, 0x0, 0x0, 0x0, 0x0, 0x1)), // 2001:7fd::1
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x500, 0x9f, 0x0, 0x0, 0x0, 0x0, 0x42)), // 2001:500:9f::42
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdc3, 0x0, 0x0, 0x0, 0x0, 0x0, 0x35)), // 2001:dc3::35
];

/// Whether `ip` is a root server address.
pub fn is_root_server(ip: IpAddr) -> bool {
    ROOT_SERVERS.contains(&ip)
}

/// The checker, with buffers reused from one message to the next.
#[derive(Debug, Default)]
pub struct BailiwickChecker {
    arena: Vec<u8>,
    /// Message positions of the names decoded so far, with their spans.
    interned: Vec<(usize, Span)>,
    records: Vec<Rec>,
    chain: Vec<Span>,
    name: NameBuf,
    question: Span,
    findings: Vec<BailiwickFinding>,
    /// Findings beyond [`MAX_FINDINGS`] in the last message.
    pub more: u32,
}

impl BailiwickChecker {
    /// Starts a response whose question name is at `qname_pos`; false if it cannot be read.
    pub fn start(&mut self, msg: &[u8], qname_pos: usize) -> bool {
        self.arena.clear();
        self.interned.clear();
        self.records.clear();
        self.chain.clear();
        self.findings.clear();
        self.more = 0;
        match self.intern(msg, qname_pos) {
            Some(q) => {
                self.question = q;
                true
            }
            None => false,
        }
    }

    fn intern(&mut self, msg: &[u8], pos: usize) -> Option<Span> {
        // Most names are a bare compression pointer to a name interned already (the question,
        // an owner): reuse it instead of decoding again.
        if let (Some(&hi), Some(&lo)) = (msg.get(pos), msg.get(pos + 1)) {
            if hi & 0xc0 == 0xc0 {
                let target = usize::from(hi & 0x3f) << 8 | usize::from(lo);
                if let Some((_, span)) = self.interned.iter().find(|(p, _)| *p == target) {
                    return Some(*span);
                }
            }
        }
        decode_name(msg, pos, &mut self.name).ok()?;
        let start = self.arena.len();
        self.arena
            .extend(self.name.wire().iter().map(u8::to_ascii_lowercase));
        let span = Span {
            start,
            len: self.arena.len() - start,
        };
        if self.interned.len() < MAX_INTERNED {
            self.interned.push((pos, span));
        }
        Some(span)
    }

    /// Adds a record of the response (OPT included; it is skipped). Returns its owner name in
    /// lower-case uncompressed wire form when it was taken, so the caller need not decode it
    /// again.
    pub fn record(&mut self, msg: &[u8], r: &RecordRef) -> Option<&[u8]> {
        if r.rtype == 41 || self.records.len() >= MAX_RECORDS {
            return None;
        }
        let owner = self.intern(msg, r.name_pos)?;
        // Where the rdata names another name: CNAME, DNAME, NS (whole rdata); MX (after the
        // preference); SRV (after priority, weight and port).
        let target_pos = match r.rtype {
            2 | 5 | 39 => Some(r.rdata_pos),
            15 => Some(r.rdata_pos + 2),
            33 => Some(r.rdata_pos + 6),
            _ => None,
        };
        let target = target_pos
            .filter(|p| *p < r.rdata_pos + r.rdata_len)
            .and_then(|p| self.intern(msg, p));
        self.records.push(Rec {
            record: *r,
            owner,
            target,
        });
        Some(self.bytes(owner))
    }

    fn bytes(&self, s: Span) -> &[u8] {
        self.arena.get(s.start..s.start + s.len).unwrap_or(&[])
    }

    fn same(&self, a: Span, b: Span) -> bool {
        self.bytes(a) == self.bytes(b)
    }

    /// Whether `name` equals `zone` or lies below it.
    fn within(&self, name: Span, zone: Span) -> bool {
        is_within(self.bytes(name), self.bytes(zone))
    }

    fn in_chain(&self, name: Span) -> bool {
        self.chain.iter().any(|c| self.same(*c, name))
    }

    /// Whether `name` is a chain name or an ancestor of one.
    fn above_chain(&self, name: Span) -> bool {
        self.chain.iter().any(|c| self.within(*c, name))
    }

    fn push(&mut self, check: BailiwickCheck, record: RecordRef, zone_pos: Option<usize>) {
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(BailiwickFinding {
                check,
                record,
                zone_pos,
            });
        } else {
            self.more += 1;
        }
    }

    /// The findings of the last [`BailiwickChecker::finish`].
    pub fn findings(&self) -> &[BailiwickFinding] {
        &self.findings
    }

    /// Judges the response from `responder` to a question of type `qtype`; returns the
    /// findings (at most [`MAX_FINDINGS`]; [`BailiwickChecker::more`] counts the rest).
    pub fn finish(&mut self, qtype: u16, responder: IpAddr) -> &[BailiwickFinding] {
        // Zone transfers carry a whole zone in the answer section.
        if matches!(qtype, 251 | 252) {
            return &[];
        }
        // The chain: the question, then each CNAME target in turn.
        self.chain.push(self.question);
        while self.chain.len() < MAX_CHAIN {
            let Some(last) = self.chain.last().copied() else {
                break;
            };
            let next = self.records.iter().find_map(|r| {
                (r.record.section == Section::Answer
                    && r.record.rtype == 5
                    && self.same(r.owner, last))
                .then_some(r.target)
                .flatten()
            });
            match next {
                Some(t) if !self.in_chain(t) => self.chain.push(t),
                _ => break,
            }
        }
        // DNAME owners that rewrite a chain name; the names they lead to are in the chain
        // through the synthesised CNAME.
        let zone = self
            .records
            .iter()
            .find(|r| r.record.section == Section::Authority && r.record.rtype == 6)
            .or_else(|| {
                self.records.iter().find(|r| {
                    r.record.section == Section::Authority
                        && r.record.rtype == 2
                        && self.above_chain(r.owner)
                })
            })
            .map(|r| (r.owner, r.record.name_pos));
        let zone_pos = zone.map(|(_, p)| p);
        let qlabels = label_count(self.bytes(self.question));
        // Asked only when a TLD or root NS record turns up.
        let from_root = || is_root_server(responder);
        let svcb = self
            .records
            .iter()
            .any(|r| r.record.section == Section::Answer && matches!(r.record.rtype, 64 | 65));
        for i in 0..self.records.len() {
            let Some(r) = self.records.get(i).copied() else {
                break;
            };
            match r.record.section {
                Section::Answer => {
                    let dname_above = r.record.rtype == 39 && self.above_chain(r.owner);
                    if !self.in_chain(r.owner) && !dname_above {
                        self.push(BailiwickCheck::UnrelatedAnswer, r.record, zone_pos);
                    }
                }
                Section::Authority => {
                    if !matches!(r.record.rtype, 2 | 6 | 39 | 43) {
                        continue;
                    }
                    if !self.above_chain(r.owner) {
                        self.push(BailiwickCheck::UnrelatedAuthority, r.record, zone_pos);
                    } else if r.record.rtype == 2
                        && label_count(self.bytes(r.owner)) <= 1
                        && qlabels >= label_count(self.bytes(r.owner)) + 2
                        && !from_root()
                    {
                        self.push(BailiwickCheck::ParentNs, r.record, zone_pos);
                    }
                }
                Section::Additional => {
                    // Transaction signatures and SIG(0) sign the message, not a name.
                    if matches!(r.record.rtype, 24 | 250) || svcb {
                        continue;
                    }
                    let target = self.records.iter().any(|t| {
                        t.record.section != Section::Additional
                            && matches!(t.record.rtype, 2 | 15 | 33)
                            && t.target.is_some_and(|n| self.same(n, r.owner))
                    });
                    if !target && !self.in_chain(r.owner) {
                        self.push(BailiwickCheck::StrayAdditional, r.record, zone_pos);
                    } else if target
                        && matches!(r.record.rtype, 1 | 28)
                        && zone.is_some_and(|(z, _)| !self.within(r.owner, z))
                    {
                        self.push(BailiwickCheck::OutOfZoneGlue, r.record, zone_pos);
                    }
                }
            }
        }
        &self.findings
    }
}

/// Number of labels of an uncompressed wire-form name (root octet excluded).
fn label_count(wire: &[u8]) -> usize {
    let mut count = 0;
    let mut pos = 0;
    while let Some(&len) = wire.get(pos) {
        if len == 0 {
            break;
        }
        count += 1;
        pos += 1 + usize::from(len);
    }
    count
}

/// Whether `name` equals `zone` or lies below it (both lower-case uncompressed wire form).
pub fn is_within(name: &[u8], zone: &[u8]) -> bool {
    if zone.is_empty() {
        return true;
    }
    let mut pos = 0;
    while pos < name.len() {
        if name.get(pos..) == Some(zone) {
            return true;
        }
        let Some(&len) = name.get(pos) else {
            return false;
        };
        pos += 1 + usize::from(len);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::{Entry, RecordWalker};

    fn wire(name: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for l in name.split('.').filter(|l| !l.is_empty()) {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        v
    }

    #[test]
    fn root_servers_are_known_by_address() {
        for a in [
            "198.41.0.4",
            "170.247.170.2",
            "202.12.27.33",
            "2001:503:ba3e::2:30",
            "2001:dc3::35",
        ] {
            assert!(is_root_server(a.parse().unwrap()), "{a}");
        }
        assert!(!is_root_server("192.5.6.30".parse().unwrap()));
    }

    #[test]
    fn within_respects_label_boundaries() {
        assert!(is_within(&wire("a.example.com"), &wire("example.com")));
        assert!(is_within(&wire("example.com"), &wire("example.com")));
        assert!(is_within(&wire("example.com"), &wire("")));
        assert!(!is_within(&wire("badexample.com"), &wire("example.com")));
        assert!(!is_within(&wire("example.com"), &wire("a.example.com")));
        assert!(!is_within(&wire("com"), &wire("example.com")));
    }

    /// A message from parts: (section 1..=3, owner, type, rdata).
    fn message(qname: &str, records: &[(u8, &str, u16, Vec<u8>)]) -> Vec<u8> {
        let count = |s: u8| records.iter().filter(|r| r.0 == s).count() as u8;
        let mut m = vec![
            0x12,
            0x34,
            0x84,
            0x00,
            0,
            1,
            0,
            count(1),
            0,
            count(2),
            0,
            count(3),
        ];
        m.extend(wire(qname));
        m.extend([0, 0, 1, 0, 1]);
        for (_, owner, rtype, rdata) in records {
            m.extend(wire(owner));
            m.push(0);
            m.extend(rtype.to_be_bytes());
            m.extend([0, 1, 0, 0, 0, 60]);
            m.extend((rdata.len() as u16).to_be_bytes());
            m.extend(rdata);
        }
        m
    }

    fn name_rdata(name: &str) -> Vec<u8> {
        let mut v = wire(name);
        v.push(0);
        v
    }

    /// A checker fed with every record of `msg`.
    fn fed(msg: &[u8]) -> BailiwickChecker {
        let mut c = BailiwickChecker::default();
        let mut walker = RecordWalker::new(msg).unwrap();
        let Some(Entry::Question(q)) = walker.next() else {
            panic!("no question");
        };
        assert!(c.start(msg, q.name_pos));
        for e in walker {
            if let Entry::Record(r) = e {
                let _ = c.record(msg, &r);
            }
        }
        c
    }

    fn check(qname: &str, records: &[(u8, &str, u16, Vec<u8>)], from: &str) -> Vec<String> {
        let msg = message(qname, records);
        let mut c = fed(&msg);
        let mut name = NameBuf::default();
        c.finish(1, from.parse().unwrap())
            .iter()
            .map(|f| {
                decode_name(&msg, f.record.name_pos, &mut name).unwrap();
                let mut s = format!("{} ", f.check.name());
                name.write_presentation(&mut s, true);
                s
            })
            .collect()
    }

    const A: u16 = 1;
    const NS: u16 = 2;

    #[test]
    fn legitimate_responses_pass() {
        // An answer with its zone's NS and in-zone glue.
        let r = check(
            "www.example.com",
            &[
                (1, "www.example.com", 5, name_rdata("web.example.net")),
                (1, "web.example.net", A, vec![192, 0, 2, 1]),
                (2, "example.net", NS, name_rdata("ns1.example.net")),
                (3, "ns1.example.net", A, vec![192, 0, 2, 53]),
            ],
            "192.0.2.53",
        );
        assert_eq!(r, Vec::<String>::new());
        // A TLD referral from a root server.
        let r = check(
            "x.y.example.com",
            &[
                (2, "com", NS, name_rdata("a.gtld-servers.net")),
                (3, "a.gtld-servers.net", A, vec![192, 5, 6, 30]),
            ],
            "198.41.0.4",
        );
        assert_eq!(r, ["out_of_zone_glue a.gtld-servers.net"]);
    }

    #[test]
    fn violations_are_named() {
        let r = check(
            "4566.example.com",
            &[
                (1, "4566.example.com", A, vec![6, 6, 6, 6]),
                (1, "bank.example", A, vec![6, 6, 6, 6]),
                (2, "bank.example", NS, name_rdata("ns.evil.example")),
                (2, "com", NS, name_rdata("ns.evil.example")),
                (3, "www.bank.example", A, vec![6, 6, 6, 6]),
            ],
            "192.0.2.53",
        );
        assert_eq!(
            r,
            [
                "unrelated_answer bank.example",
                "unrelated_authority bank.example",
                "parent_ns com",
                "stray_additional www.bank.example"
            ]
        );
        // The same TLD NS from a root server is a referral.
        let r = check(
            "4566.example.com",
            &[(2, "com", NS, name_rdata("a.gtld-servers.net"))],
            "2001:503:ba3e::2:30",
        );
        assert_eq!(r, Vec::<String>::new());
    }

    #[test]
    fn findings_are_capped_and_counted() {
        let records: Vec<(u8, &str, u16, Vec<u8>)> = (0..7)
            .map(|_| (1u8, "other.example", A, vec![192, 0, 2, 1]))
            .collect();
        let msg = message("www.example.com", &records);
        let mut c = fed(&msg);
        assert_eq!(
            c.finish(1, "192.0.2.1".parse().unwrap()).len(),
            MAX_FINDINGS
        );
        assert_eq!(c.more, 3);
    }
}
