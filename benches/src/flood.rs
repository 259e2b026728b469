//! Flood captures: a Kaminsky-style cache-poisoning attempt against one recursive resolver.
//!
//! [`write_flood`] writes what a sensor next to the resolver [`FLOOD_RESOLVER`] (10.0.1.53) sees
//! while an attacker tries to poison its cache for [`TARGET_ZONE`] (`bank.example`):
//!
//! - **Attack rounds**, one per millisecond of packet time. The resolver asks the zone's
//!   authoritative server [`TARGET_SERVER`] (192.0.2.53, `ns1.bank.example`) for the A record of
//!   a fresh random name, `<12 random characters>.bank.example` (the attacker makes it ask, so
//!   that no cached answer stands in the way), from a random port with a random transaction id.
//!   The attacker then sends up to [`FORGED_PER_QUERY`] forged responses, one every
//!   [`FORGED_INTERVAL_US`] µs, spoofed from the server's address and port 53: the same
//!   question, a guessed transaction id (never the right one), [`QUERY_PORT_PER_MILLION`] of
//!   them to the query's port and the rest to random ports. Each carries the answer
//!   `<name> A 203.0.113.66`, the authority record `bank.example NS ns1.bank.example` and the glue
//!   `ns1.bank.example A 203.0.113.53` (the attacker's server): the glue is what would poison
//!   the cache. They come from farther away than the real server (IP TTL 47 instead of 57) and
//!   without EDNS. The real answer, NXDOMAIN with the zone's SOA, arrives 0.8 to 1 ms after the
//!   query, so most forged responses of a round race it and a few arrive after it.
//! - **Background**, one legitimate upstream exchange per round (one per [`FORGED_PER_QUERY`]
//!   forged responses), about a dozen names at five authoritative servers, with round trips of
//!   2 to 60 ms (so the resolver always has queries outstanding) and one query in fifty never
//!   answered (so unanswered queries time out).
//!
//! The forged rate is 100,000 per second of packet time: ten million forged responses span 100
//! seconds. Everything is UDP over IPv4 on untagged Ethernet, in a classic pcap file with
//! microsecond timestamps. The same seed and arguments always give the same bytes.
//!
//! The returned [`FloodStats`] says what a pairing table should conclude: the forged responses
//! that arrive before their round's real answer guess the transaction id of an outstanding query
//! ([`FloodStats::forged_before_answer`]); those that arrive after it match nothing outstanding
//! ([`FloodStats::forged_after_answer`]).
//!
//! ```
//! use dnsward_benches::flood::{write_flood, FloodConfig};
//! let config = FloodConfig { responses: 250, ..FloodConfig::default() };
//! let mut capture = Vec::new();
//! let stats = write_flood(&config, &mut capture)?;
//! assert_eq!(stats.forged_responses, 250);
//! assert_eq!(stats.attack_queries, 3); // rounds of 100, 100 and 50 forged responses
//! assert_eq!(capture.len() as u64, stats.file_bytes);
//! # Ok::<(), dnsward_benches::GenerateError>(())
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};

use crate::dns::{
    Edns, MessageWriter, Rdata, Record, Soa, FLAG_AA, FLAG_QR, RCODE_NXDOMAIN, TYPE_A, TYPE_MX,
};
use crate::pcap::{PcapWriter, TimestampResolution};
use crate::rng::SplitMix64;
use crate::wire::{udp_frames, Direction, Host, Path, Vlans};
use crate::{GenerateError, DEFAULT_START_TIME_SECS};

/// The recursive resolver under attack.
pub const FLOOD_RESOLVER: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 53);
/// The zone whose delegation the attacker tries to plant.
pub const TARGET_ZONE: &str = "bank.example";
/// The zone's authoritative server, `ns1.bank.example`, whose address the forged responses
/// carry as their source.
pub const TARGET_SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 53);
/// Name of the zone's server, which the forged glue re-points.
pub const TARGET_NS: &str = "ns1.bank.example";
/// The attacker's name server: the address the forged glue gives [`TARGET_NS`].
pub const ATTACKER_NS_ADDRESS: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 53);
/// The address the forged responses give the random names.
pub const FORGED_ADDRESS: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 66);
/// Forged responses per attack query (and per background exchange).
pub const FORGED_PER_QUERY: u64 = 100;
/// Packet time between two forged responses, µs: 100,000 forged responses per second.
pub const FORGED_INTERVAL_US: u64 = 10;
/// Forged responses aimed at the query's own port, per million; the others go to random ports.
pub const QUERY_PORT_PER_MILLION: u64 = 900_000;
/// Length of one attack round, µs.
const ROUND_US: u64 = FORGED_PER_QUERY * FORGED_INTERVAL_US;
/// Background queries never answered, per million.
const UNANSWERED_PER_MILLION: u64 = 20_000;
/// IP TTL of the real servers' packets at the capture point.
const SERVER_IP_TTL: u8 = 57;
/// IP TTL of the attacker's packets at the capture point (a longer path).
const ATTACKER_IP_TTL: u8 = 47;
/// EDNS UDP size of the resolver and the real servers.
const EDNS_UDP_SIZE: u16 = 1232;
/// MAC address of the resolver.
const RESOLVER_MAC: [u8; 6] = [0x00, 0x16, 0x3e, 0x10, 0x00, 0x02];
/// MAC address of the upstream router: every packet from the Internet comes from it.
const GATEWAY_MAC: [u8; 6] = [0x00, 0x1c, 0x73, 0x5a, 0x01, 0xfe];
/// Characters of the random labels.
const LABEL_CHARACTERS: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Length of the random labels.
const LABEL_LEN: usize = 12;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloodConfig {
    /// Exact number of forged responses.
    pub responses: u64,
    /// Seed of names, ports, transaction ids and timing.
    pub seed: u64,
    /// Packet time of the first query, seconds since the Unix epoch.
    pub start_time_secs: u64,
}

impl Default for FloodConfig {
    fn default() -> Self {
        Self {
            responses: 1_000,
            seed: 1,
            start_time_secs: DEFAULT_START_TIME_SECS,
        }
    }
}

impl FloodConfig {
    /// Packet time the capture spans, seconds, rounded up (the last background answers may
    /// arrive up to 60 ms later).
    pub fn duration_secs(&self) -> u64 {
        (self.responses.div_ceil(FORGED_PER_QUERY) * ROUND_US).div_ceil(1_000_000)
    }
}

/// Counts of what was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FloodStats {
    /// Frames written (one DNS message each).
    pub frames: u64,
    /// Bytes of the file, pcap headers included.
    pub file_bytes: u64,
    /// Forged responses.
    pub forged_responses: u64,
    /// Forged responses aimed at the port of the query they target.
    pub forged_to_query_port: u64,
    /// Forged responses aimed at another port.
    pub forged_to_other_port: u64,
    /// Forged responses that arrive while their query is outstanding: a pairing table sees a
    /// wrong transaction id (and, for some, a wrong port).
    pub forged_before_answer: u64,
    /// Forged responses that arrive after the real answer: nothing is outstanding for them.
    pub forged_after_answer: u64,
    /// The resolver's queries for random names in the target zone (one per round).
    pub attack_queries: u64,
    /// Real answers to them (NXDOMAIN).
    pub attack_answers: u64,
    /// Legitimate background queries.
    pub background_queries: u64,
    /// Answers to them.
    pub background_responses: u64,
    /// Background queries never answered.
    pub background_unanswered: u64,
    /// Packet time of the first frame, ns since the Unix epoch.
    pub first_ns: u64,
    /// Packet time of the last frame, ns since the Unix epoch.
    pub last_ns: u64,
}

/// Record data of the background answers, in a form that can be a constant.
#[derive(Debug, Clone, Copy)]
enum FixedData {
    A([u8; 4]),
    Mx(u16, &'static str),
}

/// One legitimate upstream exchange the resolver makes now and then.
#[derive(Debug, Clone, Copy)]
struct BackgroundName {
    server: [u8; 4],
    /// Round trip range, µs.
    rtt_us: (u64, u64),
    qname: &'static str,
    qtype: u16,
    /// Answer records: owner, TTL, data.
    answers: &'static [(&'static str, u32, FixedData)],
}

/// The background: ordinary names at five authoritative servers, the target zone's own server
/// among them (its real names keep being asked).
const BACKGROUND: &[BackgroundName] = &[
    BackgroundName {
        server: [192, 0, 2, 53],
        rtt_us: (800, 1_200),
        qname: "www.bank.example",
        qtype: TYPE_A,
        answers: &[("www.bank.example", 300, FixedData::A([192, 0, 2, 80]))],
    },
    BackgroundName {
        server: [192, 0, 2, 53],
        rtt_us: (800, 1_200),
        qname: "bank.example",
        qtype: TYPE_MX,
        answers: &[(
            "bank.example",
            3_600,
            FixedData::Mx(10, "mail.bank.example"),
        )],
    },
    BackgroundName {
        server: [192, 0, 2, 53],
        rtt_us: (800, 1_200),
        qname: "mail.bank.example",
        qtype: TYPE_A,
        answers: &[("mail.bank.example", 3_600, FixedData::A([192, 0, 2, 25]))],
    },
    BackgroundName {
        server: [216, 239, 32, 10],
        rtt_us: (8_000, 20_000),
        qname: "gmail.com",
        qtype: TYPE_MX,
        answers: &[
            (
                "gmail.com",
                3_600,
                FixedData::Mx(5, "gmail-smtp-in.l.google.com"),
            ),
            (
                "gmail.com",
                3_600,
                FixedData::Mx(10, "alt1.gmail-smtp-in.l.google.com"),
            ),
        ],
    },
    BackgroundName {
        server: [216, 239, 32, 10],
        rtt_us: (8_000, 20_000),
        qname: "gmail-smtp-in.l.google.com",
        qtype: TYPE_A,
        answers: &[(
            "gmail-smtp-in.l.google.com",
            300,
            FixedData::A([142, 250, 153, 26]),
        )],
    },
    BackgroundName {
        server: [198, 51, 100, 10],
        rtt_us: (20_000, 60_000),
        qname: "www.shop.example",
        qtype: TYPE_A,
        answers: &[
            ("www.shop.example", 60, FixedData::A([198, 51, 100, 80])),
            ("www.shop.example", 60, FixedData::A([198, 51, 100, 81])),
        ],
    },
    BackgroundName {
        server: [198, 51, 100, 10],
        rtt_us: (20_000, 60_000),
        qname: "cdn.shop.example",
        qtype: TYPE_A,
        answers: &[("cdn.shop.example", 20, FixedData::A([198, 51, 100, 90]))],
    },
    BackgroundName {
        server: [198, 51, 100, 20],
        rtt_us: (2_000, 6_000),
        qname: "corp.example",
        qtype: TYPE_MX,
        answers: &[(
            "corp.example",
            3_600,
            FixedData::Mx(10, "mail.corp.example"),
        )],
    },
    BackgroundName {
        server: [198, 51, 100, 20],
        rtt_us: (2_000, 6_000),
        qname: "mail.corp.example",
        qtype: TYPE_A,
        answers: &[(
            "mail.corp.example",
            3_600,
            FixedData::A([198, 51, 100, 125]),
        )],
    },
    BackgroundName {
        server: [203, 0, 113, 200],
        rtt_us: (30_000, 60_000),
        qname: "news.example",
        qtype: TYPE_A,
        answers: &[("news.example", 120, FixedData::A([203, 0, 113, 201]))],
    },
    BackgroundName {
        server: [203, 0, 113, 200],
        rtt_us: (30_000, 60_000),
        qname: "static.news.example",
        qtype: TYPE_A,
        answers: &[("static.news.example", 120, FixedData::A([203, 0, 113, 202]))],
    },
];

impl FixedData {
    fn rdata(self) -> Rdata {
        match self {
            FixedData::A(octets) => Rdata::A(Ipv4Addr::from(octets)),
            FixedData::Mx(preference, host) => Rdata::Mx(preference, host.to_owned()),
        }
    }
}

/// Frames waiting for their packet time, written in (time, order of scheduling) order.
struct Output<W: Write> {
    writer: PcapWriter<W>,
    pending: BinaryHeap<Reverse<(u64, u64, Vec<u8>)>>,
    sequence: u64,
    stats: FloodStats,
}

impl<W: Write> Output<W> {
    fn push(&mut self, time_us: u64, frame: Vec<u8>) {
        self.sequence += 1;
        self.pending.push(Reverse((time_us, self.sequence, frame)));
    }

    /// Writes every frame due before `time_us` (all of them for `u64::MAX`).
    fn flush_before(&mut self, time_us: u64) -> Result<(), GenerateError> {
        while self
            .pending
            .peek()
            .is_some_and(|Reverse((at, _, _))| *at < time_us)
        {
            let Some(Reverse((at, _, frame))) = self.pending.pop() else {
                break;
            };
            let time_ns = at.saturating_mul(1_000);
            self.writer.write_frame(time_ns, &frame)?;
            let s = &mut self.stats;
            if s.frames == 0 {
                s.first_ns = time_ns;
            }
            s.last_ns = time_ns;
            s.frames += 1;
            s.file_bytes += 16 + frame.len() as u64;
        }
        Ok(())
    }
}

/// An ephemeral source port (never 53).
fn ephemeral_port(rng: &mut SplitMix64) -> u16 {
    u16::try_from(rng.range(1_024, 65_535)).unwrap_or(40_000)
}

/// A value from `draw` other than `not` (drawn again until it differs).
fn other_than(rng: &mut SplitMix64, not: u16, draw: impl Fn(&mut SplitMix64) -> u16) -> u16 {
    loop {
        let value = draw(rng);
        if value != not {
            return value;
        }
    }
}

fn random_name(rng: &mut SplitMix64) -> String {
    let mut name = String::with_capacity(LABEL_LEN + 1 + TARGET_ZONE.len());
    for _ in 0..LABEL_LEN {
        let index = rng.index(LABEL_CHARACTERS.len());
        name.push(char::from(
            LABEL_CHARACTERS.get(index).copied().unwrap_or(b'x'),
        ));
    }
    name.push('.');
    name.push_str(TARGET_ZONE);
    name
}

fn edns() -> Edns {
    Edns {
        udp_size: EDNS_UDP_SIZE,
        dnssec_ok: false,
        cookie: None,
    }
}

fn query(txid: u16, qname: &str, qtype: u16) -> Result<Vec<u8>, GenerateError> {
    let mut message = MessageWriter::new(txid, 0);
    message.question(qname, qtype)?;
    message.opt(&edns())?;
    Ok(message.finish())
}

/// The forged response: answer, the delegation, and the glue that re-points it.
fn forged(txid: u16, qname: &str) -> Result<Vec<u8>, GenerateError> {
    let mut message = MessageWriter::new(txid, FLAG_QR | FLAG_AA);
    message.question(qname, TYPE_A)?;
    message.answer(&Record {
        owner: qname.to_owned(),
        ttl: 86_400,
        data: Rdata::A(FORGED_ADDRESS),
    })?;
    message.authority(&Record {
        owner: TARGET_ZONE.to_owned(),
        ttl: 172_800,
        data: Rdata::Ns(TARGET_NS.to_owned()),
    })?;
    message.additional(&Record {
        owner: TARGET_NS.to_owned(),
        ttl: 172_800,
        data: Rdata::A(ATTACKER_NS_ADDRESS),
    })?;
    Ok(message.finish())
}

/// The real server's answer to a random name: NXDOMAIN with the zone's SOA.
fn nxdomain(txid: u16, qname: &str) -> Result<Vec<u8>, GenerateError> {
    let mut message = MessageWriter::new(txid, FLAG_QR | FLAG_AA | RCODE_NXDOMAIN);
    message.question(qname, TYPE_A)?;
    message.authority(&Record {
        owner: TARGET_ZONE.to_owned(),
        ttl: 300,
        data: Rdata::Soa(Soa {
            mname: TARGET_NS.to_owned(),
            rname: format!("hostmaster.{TARGET_ZONE}"),
            serial: 2_026_120_401,
            refresh: 7_200,
            retry: 900,
            expire: 1_209_600,
            minimum: 300,
        }),
    })?;
    message.opt(&edns())?;
    Ok(message.finish())
}

fn background_answer(txid: u16, name: &BackgroundName) -> Result<Vec<u8>, GenerateError> {
    let mut message = MessageWriter::new(txid, FLAG_QR | FLAG_AA);
    message.question(name.qname, name.qtype)?;
    for (owner, ttl, data) in name.answers {
        message.answer(&Record {
            owner: (*owner).to_owned(),
            ttl: *ttl,
            data: data.rdata(),
        })?;
    }
    message.opt(&edns())?;
    Ok(message.finish())
}

struct Flood<W: Write> {
    rng: SplitMix64,
    resolver: Host,
    out: Output<W>,
}

impl<W: Write> Flood<W> {
    fn path(&self, server: Ipv4Addr, ip_ttl: u8) -> Path {
        Path {
            client: self.resolver,
            server: Host {
                mac: GATEWAY_MAC,
                addr: IpAddr::V4(server),
                ttl: ip_ttl,
            },
            vlans: Vlans::None,
            flow_label: 0,
        }
    }

    /// Queues one datagram's frame (never fragmented: every message here is small).
    fn send(
        &mut self,
        path: &Path,
        direction: Direction,
        ports: (u16, u16),
        payload: &[u8],
        time_us: u64,
    ) -> Result<(), GenerateError> {
        let identification = self.rng.next_u16();
        for frame in udp_frames(path, direction, ports, payload, identification, false)? {
            self.out.push(time_us, frame);
        }
        Ok(())
    }

    /// One attack round starting at `start_us`, with `forged_count` forged responses.
    fn attack_round(&mut self, start_us: u64, forged_count: u64) -> Result<(), GenerateError> {
        let qname = random_name(&mut self.rng);
        let txid = self.rng.next_u16();
        let port = ephemeral_port(&mut self.rng);
        let real = self.path(TARGET_SERVER, SERVER_IP_TTL);
        let spoofed = self.path(TARGET_SERVER, ATTACKER_IP_TTL);
        self.send(
            &real,
            Direction::ToServer,
            (port, 53),
            &query(txid, &qname, TYPE_A)?,
            start_us,
        )?;
        // Forged responses land at offsets 5..=9 (mod 10) µs of their slot and the real answer at
        // offset 2 (mod 10), so no forged response shares the answer's microsecond and "before"
        // and "after" are plain comparisons.
        let answer_offset = 10 * self.rng.range(80, 99) + 2;
        for slot in 0..forged_count {
            let offset = slot * FORGED_INTERVAL_US + 5 + self.rng.below(5);
            let to_port = if self.rng.chance(QUERY_PORT_PER_MILLION) {
                self.out.stats.forged_to_query_port += 1;
                port
            } else {
                self.out.stats.forged_to_other_port += 1;
                other_than(&mut self.rng, port, ephemeral_port)
            };
            let guess = other_than(&mut self.rng, txid, SplitMix64::next_u16);
            let payload = forged(guess, &qname)?;
            self.send(
                &spoofed,
                Direction::ToClient,
                (53, to_port),
                &payload,
                start_us + offset,
            )?;
            self.out.stats.forged_responses += 1;
            if offset < answer_offset {
                self.out.stats.forged_before_answer += 1;
            } else {
                self.out.stats.forged_after_answer += 1;
            }
        }
        self.send(
            &real,
            Direction::ToClient,
            (53, port),
            &nxdomain(txid, &qname)?,
            start_us + answer_offset,
        )?;
        self.out.stats.attack_queries += 1;
        self.out.stats.attack_answers += 1;
        Ok(())
    }

    /// One legitimate exchange starting somewhere in the round at `start_us`.
    fn background(&mut self, start_us: u64) -> Result<(), GenerateError> {
        let Some(name) = self.rng.pick(BACKGROUND).copied() else {
            return Ok(());
        };
        let at = start_us + self.rng.below(ROUND_US);
        let txid = self.rng.next_u16();
        let port = ephemeral_port(&mut self.rng);
        let path = self.path(Ipv4Addr::from(name.server), SERVER_IP_TTL);
        let payload = query(txid, name.qname, name.qtype)?;
        self.send(&path, Direction::ToServer, (port, 53), &payload, at)?;
        self.out.stats.background_queries += 1;
        if self.rng.chance(UNANSWERED_PER_MILLION) {
            self.out.stats.background_unanswered += 1;
            return Ok(());
        }
        let (low, high) = name.rtt_us;
        let arrived = at + self.rng.range(low, high);
        let payload = background_answer(txid, &name)?;
        self.send(&path, Direction::ToClient, (53, port), &payload, arrived)?;
        self.out.stats.background_responses += 1;
        Ok(())
    }

    fn run(&mut self, config: &FloodConfig) -> Result<(), GenerateError> {
        let start_us = config.start_time_secs.saturating_mul(1_000_000);
        let mut remaining = config.responses;
        let mut round = 0u64;
        while remaining > 0 {
            let round_start = start_us + round * ROUND_US;
            // Everything queued so far that is due before this round can be written: nothing
            // scheduled from here on is earlier.
            self.out.flush_before(round_start)?;
            let forged_count = remaining.min(FORGED_PER_QUERY);
            self.attack_round(round_start, forged_count)?;
            self.background(round_start)?;
            remaining -= forged_count;
            round += 1;
        }
        self.out.flush_before(u64::MAX)
    }
}

/// Writes a flood capture of `config.responses` forged responses to `out` (see the module
/// documentation) and returns what it contains.
///
/// `out` is written in small pieces: wrap files in a `BufWriter`.
pub fn write_flood<W: Write>(config: &FloodConfig, out: W) -> Result<FloodStats, GenerateError> {
    let writer = PcapWriter::new(out, TimestampResolution::Microseconds)?;
    let mut flood = Flood {
        rng: SplitMix64::new(config.seed ^ 0xf100_d000_0000_0000),
        resolver: Host {
            mac: RESOLVER_MAC,
            addr: IpAddr::V4(FLOOD_RESOLVER),
            ttl: 64,
        },
        out: Output {
            writer,
            pending: BinaryHeap::new(),
            sequence: 0,
            stats: FloodStats {
                file_bytes: 24,
                ..FloodStats::default()
            },
        },
    };
    flood.run(config)?;
    let Flood { out, .. } = flood;
    out.writer.into_inner()?;
    Ok(out.stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_names_are_in_the_target_zone_and_differ() {
        let mut rng = SplitMix64::new(3);
        let first = random_name(&mut rng);
        let second = random_name(&mut rng);
        assert_ne!(first, second);
        for name in [&first, &second] {
            let (label, zone) = name.split_once('.').unwrap();
            assert_eq!(zone, TARGET_ZONE);
            assert_eq!(label.len(), LABEL_LEN);
            assert!(label.bytes().all(|b| LABEL_CHARACTERS.contains(&b)));
        }
    }

    #[test]
    fn guessed_values_are_never_the_real_one() {
        let mut rng = SplitMix64::new(5);
        for not in [0u16, 1_024, 40_000, u16::MAX] {
            for _ in 0..1_000 {
                let draw = |r: &mut SplitMix64| not.wrapping_add(r.below(4) as u16);
                assert_ne!(other_than(&mut rng, not, draw), not);
            }
        }
    }

    #[test]
    fn duration_rounds_up_to_whole_seconds() {
        let config = |responses| FloodConfig {
            responses,
            ..FloodConfig::default()
        };
        assert_eq!(config(1).duration_secs(), 1);
        assert_eq!(config(100_000).duration_secs(), 1);
        assert_eq!(config(10_000_000).duration_secs(), 100);
    }
}
