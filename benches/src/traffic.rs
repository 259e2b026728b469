//! The traffic model: resolvers, clients, exchanges, timing, and the frame scheduler.
//!
//! Every exchange starts with a client query to its recursive resolver (downstream) or with a
//! resolver's own query to an authoritative server (upstream). Its frames are scheduled at
//! their packet times on a heap; frames leave the heap in time order, so exchanges interleave the
//! way they do on a real link.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::dns::{
    Edns, MessageWriter, Rdata, Record, FLAG_AA, FLAG_QR, FLAG_RA, FLAG_RD, FLAG_TC, RCODE_NOERROR,
    RCODE_NXDOMAIN, RCODE_SERVFAIL, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_DNSKEY, TYPE_MX, TYPE_NS,
    TYPE_PTR, TYPE_SOA, TYPE_TXT,
};
use crate::pcap::PcapWriter;
use crate::population::{Population, Zone};
use crate::rng::SplitMix64;
use crate::wire::{
    tcp_frame, udp_frames, Direction, Host, Path, TcpFields, Vlans, TCP_ACK, TCP_FIN, TCP_PSH,
    TCP_SYN,
};
use crate::GenerateError;

/// Default start of packet time: 2026-01-01T00:00:00Z.
pub const DEFAULT_START_TIME_SECS: u64 = 1_767_225_600;
/// Every this many exchanges one carries an IPv4-fragmented UDP answer.
const FRAGMENT_EVERY: u64 = 400;
/// Every this many exchanges one is a truncated UDP answer followed by DNS over TCP.
const TCP_EVERY: u64 = 250;
/// Slowest packet rate of the modelled link, frames per second of packet time.
const MIN_RATE: u64 = 20_000;
/// Fastest packet rate of the modelled link, frames per second of packet time.
const MAX_RATE: u64 = 50_000;
/// Period of the rate's triangle wave, milliseconds of packet time.
const RATE_PERIOD_MS: u64 = 8_000;
/// Upstream timeouts (hundreds of milliseconds) are only modelled while more than this many
/// frames remain, about a second of traffic at the fastest rate, so captures end promptly.
const TIMEOUT_MIN_REMAINING: u64 = MAX_RATE;
/// Number of IPv4 clients.
const IPV4_CLIENTS: usize = 400;
/// Number of IPv6 clients.
const IPV6_CLIENTS: usize = 80;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// Exact number of frames to write.
    pub frames: u64,
    /// Seed of the traffic (the name population is the same for every seed).
    pub seed: u64,
    /// Packet time of the first exchange, seconds since the Unix epoch.
    pub start_time_secs: u64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            frames: 2_000,
            seed: 1,
            start_time_secs: DEFAULT_START_TIME_SECS,
        }
    }
}

/// Counts of what was written, by kind; DNS counts are per message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrafficStats {
    /// Frames written.
    pub frames: u64,
    /// Bytes of frames written (without pcap headers).
    pub frame_bytes: u64,
    /// DNS messages as a dissector sees them: one per UDP datagram (after reassembly) or per
    /// length-prefixed TCP message.
    pub dns_messages: u64,
    /// Client to resolver queries.
    pub downstream_queries: u64,
    /// Resolver to client responses.
    pub downstream_responses: u64,
    /// Resolver to authoritative server queries.
    pub upstream_queries: u64,
    /// Authoritative server to resolver responses.
    pub upstream_responses: u64,
    /// Queries of type A.
    pub queries_a: u64,
    /// Queries of type AAAA.
    pub queries_aaaa: u64,
    /// Queries of type MX.
    pub queries_mx: u64,
    /// Queries of type NS.
    pub queries_ns: u64,
    /// Queries of type TXT.
    pub queries_txt: u64,
    /// Queries of type PTR.
    pub queries_ptr: u64,
    /// Queries of type SOA.
    pub queries_soa: u64,
    /// Queries of type DNSKEY.
    pub queries_dnskey: u64,
    /// Client queries that never got an answer.
    pub unanswered_queries: u64,
    /// Responses whose answer section holds a CNAME.
    pub cname_responses: u64,
    /// Responses with RCODE NXDOMAIN.
    pub nxdomain_responses: u64,
    /// NOERROR responses with an empty answer and an SOA in the authority section.
    pub nodata_responses: u64,
    /// Responses with RCODE SERVFAIL.
    pub servfail_responses: u64,
    /// Referrals from the .com/.net servers.
    pub referral_responses: u64,
    /// Responses with the TC bit set.
    pub truncated_responses: u64,
    /// Responses with records in the authority section.
    pub responses_with_authority: u64,
    /// Responses with records (other than OPT) in the additional section.
    pub responses_with_additional: u64,
    /// Messages with an EDNS OPT record.
    pub edns_messages: u64,
    /// Messages with the DO bit set.
    pub dnssec_ok_messages: u64,
    /// Messages with a DNS COOKIE option.
    pub cookie_messages: u64,
    /// Frames carried over IPv6.
    pub ipv6_frames: u64,
    /// Frames with exactly one 802.1Q tag.
    pub vlan_frames: u64,
    /// Frames with QinQ (802.1ad outer and 802.1Q inner) tags.
    pub qinq_frames: u64,
    /// DNS over TCP connections (each SYN to final ACK).
    pub tcp_connections: u64,
    /// Frames that carry TCP.
    pub tcp_frames: u64,
    /// DNS messages sent as IPv4 fragments.
    pub fragmented_messages: u64,
    /// Frames that are IPv4 fragments.
    pub fragment_frames: u64,
}

/// Which side of the resolver a message travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Downstream,
    Upstream,
}

#[derive(Debug, Clone)]
struct Resolver {
    inside_v4: Ipv4Addr,
    inside_v6: Ipv6Addr,
    outside_v4: Ipv4Addr,
    outside_v6: Ipv6Addr,
    mac: [u8; 6],
    /// Sends authority and additional records with positive answers (BIND's default).
    full_responses: bool,
    /// Sets DO on upstream queries.
    validating: bool,
    /// Cookie secret: server cookies are derived from it and the client cookie.
    secret: u64,
}

#[derive(Debug, Clone)]
struct Client {
    host: Host,
    resolver: usize,
    ports: (u16, u16),
    edns: Option<(u16, bool)>,
    cookie: Option<[u8; 8]>,
    vlans: Vlans,
}

/// A step of a resolution: the records one zone's servers hand out.
#[derive(Debug, Clone)]
struct Hop {
    zone: usize,
    qname: String,
    answer_start: usize,
    answer_end: usize,
    /// NXDOMAIN or NODATA at this hop (the last one).
    negative: bool,
}

#[derive(Debug, Clone)]
struct Resolution {
    qname: String,
    qtype: u16,
    rcode: u16,
    answer: Vec<Record>,
    hops: Vec<Hop>,
    /// Answered by the resolver itself (local zone): never goes upstream.
    local: bool,
}

/// A frame waiting on the heap for its time.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    time_ns: u64,
    sequence: u64,
    frame: Vec<u8>,
}

/// Generates the capture; see [`crate::generate`].
pub(crate) struct Generator {
    rng: SplitMix64,
    config: GeneratorConfig,
    population: Population,
    resolvers: Vec<Resolver>,
    clients: Vec<Client>,
    gateway_mac: [u8; 6],
    heap: BinaryHeap<Reverse<Pending>>,
    sequence: u64,
    scheduled: u64,
    exchanges: u64,
    last_written_us: u64,
    pub(crate) stats: TrafficStats,
}

const CLIENT_OUIS: [[u8; 3]; 8] = [
    [0x3c, 0x22, 0xfb],
    [0xf0, 0x18, 0x98],
    [0x00, 0x50, 0x56],
    [0xdc, 0xa6, 0x32],
    [0x00, 0x15, 0x5d],
    [0x3c, 0x52, 0x82],
    [0x00, 0x1b, 0x21],
    [0x8c, 0x85, 0x90],
];

fn mac(oui: [u8; 3], rng: &mut SplitMix64) -> [u8; 6] {
    let [a, b, c] = oui;
    let [d, e, f, ..] = rng.next_u64().to_le_bytes();
    [a, b, c, d, e, f]
}

/// A random source port in `low..=high`, outside 33434-33534 where dissectors guess traceroute.
fn source_port(rng: &mut SplitMix64, low: u16, high: u16) -> u16 {
    let port = rng.range(low.into(), high.into()) as u16;
    if (33_434..=33_534).contains(&port) {
        port + 101
    } else {
        port
    }
}

fn reverse_v4(address: Ipv4Addr) -> String {
    let [a, b, c, d] = address.octets();
    format!("{d}.{c}.{b}.{a}.in-addr.arpa")
}

/// Label count of a name, as RRSIG's Labels field wants it.
fn label_count(name: &str) -> u8 {
    if name.is_empty() {
        0
    } else {
        u8::try_from(name.split('.').count()).unwrap_or(u8::MAX)
    }
}

/// Key tag of a DNSKEY (RFC 4034 appendix B).
fn key_tag(flags: u16, algorithm: u8, key: &[u8]) -> u16 {
    let mut rdata = Vec::with_capacity(key.len() + 4);
    rdata.extend_from_slice(&flags.to_be_bytes());
    rdata.push(3);
    rdata.push(algorithm);
    rdata.extend_from_slice(key);
    let mut sum: u32 = 0;
    for (index, byte) in rdata.iter().enumerate() {
        sum += if index % 2 == 0 {
            u32::from(*byte) << 8
        } else {
            u32::from(*byte)
        };
    }
    sum += (sum >> 16) & 0xffff;
    (sum & 0xffff) as u16
}

impl Generator {
    pub(crate) fn new(config: &GeneratorConfig) -> Self {
        let mut rng = SplitMix64::new(config.seed);
        let population = Population::build();
        let mut resolvers = Vec::new();
        for (index, (inside, outside)) in [
            ([10, 20, 0, 53], [198, 51, 100, 53]),
            ([10, 20, 0, 54], [198, 51, 100, 54]),
            ([10, 30, 0, 53], [203, 0, 113, 53]),
        ]
        .into_iter()
        .enumerate()
        {
            let number = index as u16 + 1;
            resolvers.push(Resolver {
                inside_v4: Ipv4Addr::from(inside),
                inside_v6: Ipv6Addr::new(0x2001, 0xdb8, 0x20, 0, 0, 0, 0, 0x53 + number - 1),
                outside_v4: Ipv4Addr::from(outside),
                outside_v6: Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 0x53 + number - 1),
                mac: mac([0x00, 0x16, 0x3e], &mut rng),
                full_responses: index == 0,
                validating: index != 2,
                secret: rng.next_u64(),
            });
        }
        let gateway_mac = mac([0x00, 0x1c, 0x73], &mut rng);
        let mut clients = Vec::with_capacity(IPV4_CLIENTS + IPV6_CLIENTS);
        for index in 0..IPV4_CLIENTS + IPV6_CLIENTS {
            let oui = rng.pick(&CLIENT_OUIS).copied().unwrap_or([2, 0, 0]);
            let (ttl, ports) = match rng.below(3) {
                0 => (64, (32_768, 60_999)),  // Linux
                1 => (128, (49_152, 65_535)), // Windows
                _ => (64, (49_152, 65_535)),  // macOS
            };
            let subnet = rng.range(1, 8) as u8;
            let addr = if index < IPV4_CLIENTS {
                IpAddr::V4(Ipv4Addr::new(10, 20, subnet, rng.range(10, 250) as u8))
            } else {
                let iid = rng.next_u64();
                IpAddr::V6(Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    0x20,
                    u16::from(subnet),
                    (iid >> 48) as u16,
                    (iid >> 32) as u16,
                    (iid >> 16) as u16,
                    iid as u16,
                ))
            };
            let edns = match rng.below(20) {
                0..=2 => None,
                3..=11 => Some((1232, rng.chance(100_000))),
                _ => Some((4096, rng.chance(100_000))),
            };
            let cookie = if edns.is_some() && rng.chance(350_000) {
                let mut bytes = [0u8; 8];
                rng.fill(&mut bytes);
                Some(bytes)
            } else {
                None
            };
            let vlans = match rng.below(1000) {
                0..=19 => Vlans::Double {
                    outer: 1000 + rng.below(2) as u16,
                    inner: 10 * u16::from(subnet),
                },
                20..=139 => Vlans::Single(10 * u16::from(subnet)),
                _ => Vlans::None,
            };
            // Resolver 0 (the one with full responses) serves about a quarter of the clients.
            let resolver = if rng.chance(250_000) {
                0
            } else {
                rng.range(1, 2) as usize
            };
            clients.push(Client {
                host: Host {
                    mac: mac(oui, &mut rng),
                    addr,
                    ttl,
                },
                resolver,
                ports,
                edns,
                cookie,
                vlans,
            });
        }
        Self {
            rng,
            config: config.clone(),
            population,
            resolvers,
            clients,
            gateway_mac,
            heap: BinaryHeap::new(),
            sequence: 0,
            scheduled: 0,
            exchanges: 0,
            last_written_us: 0,
            stats: TrafficStats::default(),
        }
    }

    /// Frames per second of packet time at `elapsed_ns` after the start: a triangle wave.
    fn rate_at(elapsed_ns: u64) -> u64 {
        // Start an eighth of a period in, at about 27,500 frames per second.
        let phase = (elapsed_ns / 1_000_000 + RATE_PERIOD_MS / 8) % RATE_PERIOD_MS;
        let half = RATE_PERIOD_MS / 2;
        let rise = if phase < half {
            phase
        } else {
            RATE_PERIOD_MS - phase
        };
        MIN_RATE + (MAX_RATE - MIN_RATE) * rise / half
    }

    pub(crate) fn run<W: Write>(
        &mut self,
        writer: &mut PcapWriter<W>,
    ) -> Result<(), GenerateError> {
        let start = self.config.start_time_secs.saturating_mul(1_000_000_000);
        let mut now = start;
        while self.scheduled < self.config.frames {
            let before = self.scheduled;
            self.exchange(now)?;
            self.exchanges += 1;
            let planned = self.scheduled - before;
            self.flush(now, writer)?;
            let rate = Self::rate_at(now - start).max(1);
            let gap = planned * 1_000_000_000 / rate * self.rng.range(200, 1800) / 1000;
            now += gap.max(1_000);
        }
        self.flush(u64::MAX, writer)
    }

    fn flush<W: Write>(
        &mut self,
        until_ns: u64,
        writer: &mut PcapWriter<W>,
    ) -> Result<(), GenerateError> {
        while self
            .heap
            .peek()
            .is_some_and(|Reverse(pending)| pending.time_ns <= until_ns)
        {
            let Some(Reverse(pending)) = self.heap.pop() else {
                break;
            };
            // Strictly increasing timestamps at the file's microsecond resolution.
            let micros = (pending.time_ns / 1_000).max(self.last_written_us + 1);
            self.last_written_us = micros;
            writer.write_frame(micros * 1_000, &pending.frame)?;
        }
        Ok(())
    }

    fn schedule(&mut self, time_ns: u64, frame: Vec<u8>, path: &Path) {
        self.stats.frames += 1;
        self.stats.frame_bytes += frame.len() as u64;
        if path.client.addr.is_ipv6() {
            self.stats.ipv6_frames += 1;
        }
        match path.vlans {
            Vlans::None => {}
            Vlans::Single(_) => self.stats.vlan_frames += 1,
            Vlans::Double { .. } => self.stats.qinq_frames += 1,
        }
        self.scheduled += 1;
        self.sequence += 1;
        self.heap.push(Reverse(Pending {
            time_ns,
            sequence: self.sequence,
            frame,
        }));
    }

    /// Reads the header and question of a message we built, for the statistics.
    fn note_message(&mut self, message: &[u8], side: Side) {
        let word = |at: usize| -> u16 {
            message.get(at..at + 2).map_or(0, |b| {
                u16::from_be_bytes([
                    b.first().copied().unwrap_or(0),
                    b.get(1).copied().unwrap_or(0),
                ])
            })
        };
        let flags = word(2);
        let (answers, authority, additional) = (word(6), word(8), word(10));
        let stats = &mut self.stats;
        stats.dns_messages += 1;
        let response = flags & FLAG_QR != 0;
        match (side, response) {
            (Side::Downstream, false) => stats.downstream_queries += 1,
            (Side::Downstream, true) => stats.downstream_responses += 1,
            (Side::Upstream, false) => stats.upstream_queries += 1,
            (Side::Upstream, true) => stats.upstream_responses += 1,
        }
        // Skip the question name (never compressed) to reach QTYPE.
        let mut at = 12;
        while let Some(&len) = message.get(at) {
            at += 1 + usize::from(len);
            if len == 0 {
                break;
            }
        }
        let qtype = word(at);
        if !response {
            match qtype {
                TYPE_A => stats.queries_a += 1,
                TYPE_AAAA => stats.queries_aaaa += 1,
                TYPE_MX => stats.queries_mx += 1,
                TYPE_NS => stats.queries_ns += 1,
                TYPE_TXT => stats.queries_txt += 1,
                TYPE_PTR => stats.queries_ptr += 1,
                TYPE_SOA => stats.queries_soa += 1,
                TYPE_DNSKEY => stats.queries_dnskey += 1,
                _ => {}
            }
        } else {
            match flags & 0x000f {
                RCODE_NXDOMAIN => stats.nxdomain_responses += 1,
                RCODE_SERVFAIL => stats.servfail_responses += 1,
                _ => {}
            }
            if flags & FLAG_TC != 0 {
                stats.truncated_responses += 1;
            }
            if authority > 0 {
                stats.responses_with_authority += 1;
            }
        }
        // The OPT record, when present, is the last additional record; find it by its fixed
        // shape: root owner, type 41.
        let opt = message.windows(3).rposition(|w| w == [0, 0, 41]);
        let has_opt = opt.is_some_and(|pos| pos + 11 <= message.len() && additional > 0);
        if let Some(pos) = opt.filter(|_| has_opt) {
            stats.edns_messages += 1;
            if message.get(pos + 7).is_some_and(|b| b & 0x80 != 0) {
                stats.dnssec_ok_messages += 1;
            }
            if word(pos + 11) == crate::dns::OPTION_COOKIE {
                stats.cookie_messages += 1;
            }
        }
        if response && additional > u16::from(has_opt) {
            stats.responses_with_additional += 1;
        }
        let _ = answers;
    }

    #[allow(clippy::too_many_arguments)] // one datagram's addressing, kept flat like the wire
    fn send_udp(
        &mut self,
        time_ns: u64,
        path: &Path,
        direction: Direction,
        ports: (u16, u16),
        message: &[u8],
        side: Side,
        allow_fragments: bool,
    ) -> Result<u64, GenerateError> {
        let identification = self.rng.next_u16();
        let frames = udp_frames(
            path,
            direction,
            ports,
            message,
            identification,
            allow_fragments,
        )?;
        let count = frames.len() as u64;
        if count > 1 {
            self.stats.fragmented_messages += 1;
            self.stats.fragment_frames += count;
        }
        let mut time = time_ns;
        for frame in frames {
            self.schedule(time, frame, path);
            time += self.rng.range(2_000, 12_000);
        }
        self.note_message(message, side);
        Ok(time)
    }

    fn send_tcp(
        &mut self,
        time_ns: u64,
        path: &Path,
        direction: Direction,
        ports: (u16, u16),
        fields: TcpFields,
        payload: &[u8],
    ) -> Result<(), GenerateError> {
        let identification = self.rng.next_u16();
        let frame = tcp_frame(path, direction, ports, fields, payload, identification)?;
        self.stats.tcp_frames += 1;
        self.schedule(time_ns, frame, path);
        Ok(())
    }

    fn entry_name(&self, index: usize) -> String {
        self.population
            .entries
            .get(index)
            .map(|e| e.name.clone())
            .unwrap_or_default()
    }

    /// Follows `entry` (and its CNAMEs) for `qtype`, collecting the records and the zones asked.
    fn resolve_entry(&self, entry: usize, qtype: u16) -> Resolution {
        let population = &self.population;
        let qname = self.entry_name(entry);
        let mut answer = Vec::new();
        let mut hops: Vec<Hop> = Vec::new();
        let mut current = entry;
        let mut negative = false;
        for _ in 0..8 {
            let Some(e) = population.entries.get(current) else {
                break;
            };
            let start = answer.len();
            let mut next = None;
            match e.cname {
                Some(target) if qtype != TYPE_CNAME => {
                    answer.push(Record {
                        owner: e.name.clone(),
                        ttl: e.ttl,
                        data: Rdata::Cname(self.entry_name(target)),
                    });
                    next = Some(target);
                }
                _ => {
                    let zone = population.zones.get(e.zone);
                    let is_apex = zone.is_some_and(|z| z.apex == e.name);
                    let record = |data: Rdata| Record {
                        owner: e.name.clone(),
                        ttl: e.ttl,
                        data,
                    };
                    match qtype {
                        TYPE_A => answer.extend(e.a.iter().map(|a| record(Rdata::A(*a)))),
                        TYPE_AAAA => answer.extend(e.aaaa.iter().map(|a| record(Rdata::Aaaa(*a)))),
                        TYPE_MX => answer
                            .extend(e.mx.iter().map(|(p, h)| record(Rdata::Mx(*p, h.clone())))),
                        TYPE_TXT => {
                            answer.extend(e.txt.iter().map(|t| record(Rdata::Txt(t.clone()))))
                        }
                        TYPE_PTR => {
                            answer.extend(e.ptr.iter().map(|p| record(Rdata::Ptr(p.clone()))))
                        }
                        TYPE_NS if is_apex => {
                            if let Some(z) = zone {
                                answer.extend(z.servers.iter().map(|s| Record {
                                    owner: e.name.clone(),
                                    ttl: z.ns_ttl,
                                    data: Rdata::Ns(s.host.clone()),
                                }));
                            }
                        }
                        TYPE_SOA if is_apex => {
                            if let Some(z) = zone {
                                answer.push(Record {
                                    owner: e.name.clone(),
                                    ttl: z.soa_ttl,
                                    data: Rdata::Soa(z.soa.clone()),
                                });
                            }
                        }
                        _ => {}
                    }
                    negative = answer.len() == start;
                }
            }
            match hops.last_mut() {
                Some(hop) if hop.zone == e.zone => hop.answer_end = answer.len(),
                _ => hops.push(Hop {
                    zone: e.zone,
                    qname: e.name.clone(),
                    answer_start: start,
                    answer_end: answer.len(),
                    negative: false,
                }),
            }
            match next {
                Some(target) => current = target,
                None => break,
            }
        }
        if let Some(hop) = hops.last_mut() {
            hop.negative = negative;
        }
        Resolution {
            qname,
            qtype,
            rcode: RCODE_NOERROR,
            answer,
            hops,
            local: false,
        }
    }

    fn negative(&self, qname: String, qtype: u16, zone: usize, local: bool) -> Resolution {
        let hop = Hop {
            zone,
            qname: qname.clone(),
            answer_start: 0,
            answer_end: 0,
            negative: true,
        };
        Resolution {
            qname,
            qtype,
            rcode: RCODE_NXDOMAIN,
            answer: Vec::new(),
            hops: vec![hop],
            local,
        }
    }

    /// Picks what a client asks about.
    fn pick_question(&mut self, client: usize) -> Resolution {
        let population_len = self.population.popular.len();
        let roll = self.rng.below(1000);
        if roll < 40 {
            let index = self.rng.skewed_index(self.population.reverse.len());
            if let Some(entry) = self.population.reverse.get(index).copied() {
                return self.resolve_entry(entry, TYPE_PTR);
            }
        }
        if roll < 55 {
            // A client looking up a neighbour's private address: answered by the local zone.
            let neighbour = self.rng.index(IPV4_CLIENTS);
            let address = match self
                .clients
                .get(neighbour)
                .or_else(|| self.clients.get(client))
                .map(|c| c.host.addr)
            {
                Some(IpAddr::V4(v4)) => v4,
                _ => Ipv4Addr::new(10, 20, 1, 1),
            };
            let zone = self.population.local_reverse;
            return self.negative(reverse_v4(address), TYPE_PTR, zone, true);
        }
        if roll < 80 {
            let index = self.rng.skewed_index(population_len);
            let entry = self.population.popular.get(index).copied().unwrap_or(0);
            let zone = self.population.entries.get(entry).map_or(0, |e| e.zone);
            let apex = self
                .population
                .zones
                .get(zone)
                .map(|z| z.apex.clone())
                .unwrap_or_default();
            let qtype = if roll < 75 { TYPE_NS } else { TYPE_SOA };
            if let Some(apex_entry) = self.population.popular.iter().copied().find(|i| {
                self.population
                    .entries
                    .get(*i)
                    .is_some_and(|e| e.name == apex)
            }) {
                return self.resolve_entry(apex_entry, qtype);
            }
        }
        if roll < 110 {
            let index = self.rng.index(self.population.missing.len());
            if let Some((name, zone)) = self.population.missing.get(index).cloned() {
                let qtype = if self.rng.chance(700_000) {
                    TYPE_A
                } else {
                    TYPE_AAAA
                };
                return self.negative(name, qtype, zone, false);
            }
        }
        if roll < 140 {
            // A browser's random single-label probe (Chromium's intranet redirect detector).
            let len = self.rng.range(7, 15);
            let label: String = (0..len)
                .map(|_| char::from(b'a' + self.rng.below(26) as u8))
                .collect();
            let root = self.population.root;
            return self.negative(label, TYPE_A, root, false);
        }
        if roll < 170 {
            // A mail server looking up where to deliver: MX of a mail domain.
            let count = self.population.mail.len();
            if let Some(entry) = self
                .population
                .mail
                .get(self.rng.skewed_index(count))
                .copied()
            {
                return self.resolve_entry(entry, TYPE_MX);
            }
        }
        let index = self.rng.skewed_index(population_len);
        let entry_index = self.population.popular.get(index).copied().unwrap_or(0);
        let (mail, txt) = match self.population.entries.get(entry_index) {
            Some(e) => (
                !e.mx.is_empty(),
                !e.txt.is_empty() && !e.big_txt && e.a.is_empty() && e.cname.is_none(),
            ),
            None => (false, false),
        };
        let roll = self.rng.below(100);
        let qtype = if mail {
            match roll {
                0..=39 => TYPE_MX,
                40..=64 => TYPE_A,
                65..=84 => TYPE_TXT,
                _ => TYPE_AAAA,
            }
        } else if txt {
            TYPE_TXT
        } else if roll < 72 {
            TYPE_A
        } else {
            TYPE_AAAA
        };
        self.resolve_entry(entry_index, qtype)
    }

    fn zone(&self, index: usize) -> Option<&Zone> {
        self.population.zones.get(index)
    }

    /// NS records of a zone and the addresses of its servers.
    fn delegation(&self, zone: usize, ttl: Option<u32>) -> (Vec<Record>, Vec<Record>) {
        let Some(z) = self.zone(zone) else {
            return (Vec::new(), Vec::new());
        };
        let ttl = ttl.unwrap_or(z.ns_ttl);
        let ns = z
            .servers
            .iter()
            .map(|s| Record {
                owner: z.apex.clone(),
                ttl,
                data: Rdata::Ns(s.host.clone()),
            })
            .collect();
        let mut glue = Vec::new();
        for server in &z.servers {
            glue.push(Record {
                owner: server.host.clone(),
                ttl,
                data: Rdata::A(server.v4),
            });
            if let Some(v6) = server.v6 {
                glue.push(Record {
                    owner: server.host.clone(),
                    ttl,
                    data: Rdata::Aaaa(v6),
                });
            }
        }
        (ns, glue)
    }

    fn soa_record(&self, zone: usize, age: u32) -> Option<Record> {
        let z = self.zone(zone)?;
        let ttl = z.soa_ttl.min(z.soa.minimum).saturating_sub(age).max(1);
        Some(Record {
            owner: z.apex.clone(),
            ttl,
            data: Rdata::Soa(z.soa.clone()),
        })
    }

    fn server_cookie(&self, client_cookie: &[u8], secret: u64) -> Vec<u8> {
        let mut seed = secret;
        for byte in client_cookie {
            seed = seed.rotate_left(8) ^ u64::from(*byte);
        }
        let mut mix = SplitMix64::new(seed);
        let mut cookie = client_cookie.to_vec();
        let mut server = [0u8; 16];
        mix.fill(&mut server);
        // RFC 9018 section 4: version 1, reserved, then a timestamp and a hash.
        if let Some(head) = server.get_mut(..4) {
            head.copy_from_slice(&[1, 0, 0, 0]);
        }
        cookie.extend_from_slice(&server);
        cookie
    }

    #[allow(clippy::too_many_arguments)] // the parts of a message, kept flat for readability
    fn response_bytes(
        &self,
        txid: u16,
        flags: u16,
        qname: &str,
        qtype: u16,
        answer: &[Record],
        authority: &[Record],
        additional: &[Record],
        edns: Option<&Edns>,
    ) -> Result<Vec<u8>, GenerateError> {
        let mut message = MessageWriter::new(txid, flags);
        message.question(qname, qtype)?;
        for record in answer {
            message.answer(record)?;
        }
        for record in authority {
            message.authority(record)?;
        }
        for record in additional {
            message.additional(record)?;
        }
        if let Some(edns) = edns {
            message.opt(edns)?;
        }
        Ok(message.finish())
    }

    fn query_bytes(
        &self,
        txid: u16,
        flags: u16,
        qname: &str,
        qtype: u16,
        edns: Option<&Edns>,
    ) -> Result<Vec<u8>, GenerateError> {
        self.response_bytes(txid, flags, qname, qtype, &[], &[], &[], edns)
    }

    fn client_edns(&self, client: &Client) -> Option<Edns> {
        client.edns.map(|(udp_size, dnssec_ok)| Edns {
            udp_size,
            dnssec_ok,
            cookie: client.cookie.map(|c| c.to_vec()),
        })
    }

    fn downstream_path(&mut self, client: &Client) -> Path {
        let resolver = self
            .resolvers
            .get(client.resolver)
            .or_else(|| self.resolvers.first());
        let (addr, mac) = match (client.host.addr, resolver) {
            (IpAddr::V6(_), Some(r)) => (IpAddr::V6(r.inside_v6), r.mac),
            (_, Some(r)) => (IpAddr::V4(r.inside_v4), r.mac),
            (_, None) => (IpAddr::V4(Ipv4Addr::new(10, 20, 0, 53)), [0; 6]),
        };
        Path {
            client: client.host,
            server: Host { mac, addr, ttl: 64 },
            vlans: client.vlans,
            flow_label: self.rng.next_u32() & 0xf_ffff,
        }
    }

    fn upstream_path(&mut self, resolver: usize, zone: usize) -> (Path, bool) {
        let r = self
            .resolvers
            .get(resolver)
            .or_else(|| self.resolvers.first())
            .cloned();
        let server = self.zone(zone).and_then(|z| {
            let count = z.servers.len();
            let pick = (self.sequence as usize) % count.max(1);
            z.servers.get(pick).cloned()
        });
        let use_v6 = self.rng.chance(160_000);
        let (Some(r), Some(server)) = (r, server) else {
            let host = Host {
                mac: self.gateway_mac,
                addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
                ttl: 64,
            };
            return (
                Path {
                    client: host,
                    server: host,
                    vlans: Vlans::None,
                    flow_label: 0,
                },
                false,
            );
        };
        let supports_cookies = u32::from(server.v4) % 3 != 0;
        let (resolver_addr, server_addr) = match server.v6 {
            Some(v6) if use_v6 => (IpAddr::V6(r.outside_v6), IpAddr::V6(v6)),
            _ => (IpAddr::V4(r.outside_v4), IpAddr::V4(server.v4)),
        };
        let path = Path {
            client: Host {
                mac: r.mac,
                addr: resolver_addr,
                ttl: 64,
            },
            server: Host {
                mac: self.gateway_mac,
                addr: server_addr,
                // One address, one path, one hop count, whichever zone it serves.
                ttl: match server_addr {
                    IpAddr::V4(_) => server.arriving_ttl,
                    IpAddr::V6(v6) => crate::population::arriving_ttl(&v6.octets()),
                },
            },
            vlans: Vlans::None,
            flow_label: self.rng.next_u32() & 0xf_ffff,
        };
        (path, supports_cookies)
    }

    /// Round-trip time to the servers of a zone, nanoseconds: stable per zone, with jitter.
    fn upstream_rtt(&mut self, zone: usize) -> u64 {
        let base = 2_000_000 + (zone as u64).wrapping_mul(0x9e37_79b9) % 70_000_000;
        base + self.rng.below(3_000_000)
    }

    /// One resolver-to-authority query and (unless `answered` is false) its response. Returns
    /// the time the response arrives.
    #[allow(clippy::too_many_arguments)] // one exchange's parts, kept flat for readability
    fn upstream_exchange(
        &mut self,
        time_ns: u64,
        resolver: usize,
        zone: usize,
        qname: &str,
        qtype: u16,
        answer: &[Record],
        rcode: u16,
        negative: bool,
        answered: bool,
        big_buffer: bool,
    ) -> Result<u64, GenerateError> {
        let (path, supports_cookies) = self.upstream_path(resolver, zone);
        let validating = self.resolvers.get(resolver).is_some_and(|r| r.validating);
        let cookie = supports_cookies && self.rng.chance(600_000);
        let mut resolver_cookie = [0u8; 8];
        self.rng.fill(&mut resolver_cookie);
        let query_edns = Edns {
            udp_size: if big_buffer { 4096 } else { 1232 },
            dnssec_ok: validating || big_buffer,
            cookie: cookie.then(|| resolver_cookie.to_vec()),
        };
        let txid = self.rng.next_u16();
        let port = source_port(&mut self.rng, 1024, 65_535);
        let query = self.query_bytes(txid, 0, qname, qtype, Some(&query_edns))?;
        self.send_udp(
            time_ns,
            &path,
            Direction::ToServer,
            (port, 53),
            &query,
            Side::Upstream,
            false,
        )?;
        let arrival = time_ns + self.upstream_rtt(zone);
        if !answered {
            return Ok(arrival);
        }
        let mut authority = Vec::new();
        let mut additional = Vec::new();
        if negative {
            authority.extend(self.soa_record(zone, 0));
        } else if self.rng.chance(300_000) {
            let (ns, glue) = self.delegation(zone, None);
            authority = ns;
            additional = glue;
        }
        let secret = u64::from(txid) ^ 0x5eed;
        let response_edns = Edns {
            udp_size: if self.rng.chance(500_000) { 1232 } else { 4096 },
            dnssec_ok: query_edns.dnssec_ok,
            cookie: query_edns
                .cookie
                .as_ref()
                .map(|c| self.server_cookie(c, secret)),
        };
        let flags = FLAG_QR | FLAG_AA | rcode;
        let mut response = self.response_bytes(
            txid,
            flags,
            qname,
            qtype,
            answer,
            &authority,
            &additional,
            Some(&response_edns),
        )?;
        if response.len() > 1232 && !big_buffer {
            response = self.response_bytes(
                txid,
                flags,
                qname,
                qtype,
                answer,
                &authority,
                &[],
                Some(&response_edns),
            )?;
        }
        if negative && rcode == RCODE_NOERROR {
            self.stats.nodata_responses += 1;
        }
        self.send_udp(
            arrival,
            &path,
            Direction::ToClient,
            (53, port),
            &response,
            Side::Upstream,
            big_buffer,
        )
    }

    /// A referral from the .com/.net servers to `zone`'s servers. Returns the arrival time.
    fn referral(
        &mut self,
        time_ns: u64,
        resolver: usize,
        zone: usize,
        qname: &str,
        qtype: u16,
    ) -> Result<u64, GenerateError> {
        let gtld = self.population.gtld;
        let (path, _) = self.upstream_path(resolver, gtld);
        let txid = self.rng.next_u16();
        let port = source_port(&mut self.rng, 1024, 65_535);
        let edns = Edns {
            udp_size: 1232,
            dnssec_ok: true,
            cookie: None,
        };
        let query = self.query_bytes(txid, 0, qname, qtype, Some(&edns))?;
        self.send_udp(
            time_ns,
            &path,
            Direction::ToServer,
            (port, 53),
            &query,
            Side::Upstream,
            false,
        )?;
        let arrival = time_ns + 5_000_000 + self.rng.below(25_000_000);
        let (ns, glue) = self.delegation(zone, Some(172_800));
        let glue: Vec<Record> = glue
            .into_iter()
            .filter(|r| r.owner.ends_with(".com") || r.owner.ends_with(".net"))
            .collect();
        let mut response =
            self.response_bytes(txid, FLAG_QR, qname, qtype, &[], &ns, &glue, Some(&edns))?;
        if response.len() > 1232 {
            response =
                self.response_bytes(txid, FLAG_QR, qname, qtype, &[], &ns, &[], Some(&edns))?;
        }
        self.stats.referral_responses += 1;
        self.send_udp(
            arrival,
            &path,
            Direction::ToClient,
            (53, port),
            &response,
            Side::Upstream,
            false,
        )
    }

    /// The resolver's answer to a client, sized to what the client can receive over UDP.
    fn downstream_response(
        &mut self,
        txid: u16,
        query_flags: u16,
        resolution: &Resolution,
        client: &Client,
        age: u32,
    ) -> Result<Vec<u8>, GenerateError> {
        let resolver = self.resolvers.get(client.resolver).cloned();
        let full = resolver.as_ref().is_some_and(|r| r.full_responses);
        let answer: Vec<Record> = resolution
            .answer
            .iter()
            .map(|r| Record {
                ttl: r.ttl.saturating_sub(age % r.ttl.max(1)).max(1),
                ..r.clone()
            })
            .collect();
        let last = resolution.hops.last();
        let negative = last.is_some_and(|h| h.negative);
        let mut authority = Vec::new();
        let mut additional = Vec::new();
        if let Some(hop) = last {
            if negative {
                authority.extend(self.soa_record(hop.zone, age));
            } else if full {
                // Cached too: the delegation counts down like the answer.
                let (ns, glue) = self.delegation(hop.zone, None);
                let aged = |r: Record| Record {
                    ttl: r.ttl.saturating_sub(age).max(1),
                    ..r
                };
                authority = ns.into_iter().map(aged).collect();
                additional = glue.into_iter().map(aged).collect();
            }
        }
        let edns = self.client_edns(client).map(|q| Edns {
            udp_size: 1232,
            dnssec_ok: q.dnssec_ok,
            cookie: q
                .cookie
                .as_ref()
                .map(|c| self.server_cookie(c, resolver.as_ref().map_or(0, |r| r.secret))),
        });
        let limit = client
            .edns
            .map_or(512, |(size, _)| usize::from(size).min(1232));
        let flags = FLAG_QR | (query_flags & FLAG_RD) | FLAG_RA | resolution.rcode;
        let mut bytes = self.response_bytes(
            txid,
            flags,
            &resolution.qname,
            resolution.qtype,
            &answer,
            &authority,
            &additional,
            edns.as_ref(),
        )?;
        if bytes.len() > limit {
            bytes = self.response_bytes(
                txid,
                flags,
                &resolution.qname,
                resolution.qtype,
                &answer,
                &authority,
                &[],
                edns.as_ref(),
            )?;
        }
        if bytes.len() > limit {
            bytes = self.response_bytes(
                txid,
                flags | FLAG_TC,
                &resolution.qname,
                resolution.qtype,
                &[],
                &[],
                &[],
                edns.as_ref(),
            )?;
        }
        if negative && resolution.rcode == RCODE_NOERROR {
            self.stats.nodata_responses += 1;
        }
        if answer.iter().any(|r| matches!(r.data, Rdata::Cname(_))) {
            self.stats.cname_responses += 1;
        }
        Ok(bytes)
    }

    fn random_client(&mut self) -> Client {
        let index = if self.rng.chance(170_000) {
            IPV4_CLIENTS + self.rng.index(IPV6_CLIENTS)
        } else {
            self.rng.index(IPV4_CLIENTS)
        };
        self.clients
            .get(index)
            .or_else(|| self.clients.first())
            .cloned()
            .unwrap_or(Client {
                host: Host {
                    mac: [2, 0, 0, 0, 0, 1],
                    addr: IpAddr::V4(Ipv4Addr::new(10, 20, 1, 1)),
                    ttl: 64,
                },
                resolver: 0,
                ports: (32_768, 60_999),
                edns: None,
                cookie: None,
                vlans: Vlans::None,
            })
    }

    /// Generates one exchange starting at `now` and schedules its frames, never more than the
    /// frames still to write.
    fn exchange(&mut self, now: u64) -> Result<(), GenerateError> {
        let remaining = self.config.frames - self.scheduled;
        let index = self.exchanges;
        if index % FRAGMENT_EVERY == FRAGMENT_EVERY / 2 && remaining >= 4 {
            return self.fragmented_exchange(now, (index / FRAGMENT_EVERY) % 2 == 0);
        }
        if index % TCP_EVERY == TCP_EVERY / 4 && remaining >= 13 {
            return self.tcp_exchange(now);
        }
        let client_index = self.rng.index(IPV4_CLIENTS + IPV6_CLIENTS);
        let mut client = self.random_client();
        let mut resolution = self.pick_question(client_index);
        let roll = self.rng.below(1000);
        if roll < 45 && !resolution.local && remaining >= 2 {
            // The resolver refreshing a popular record before it expires: upstream only.
            if let Some(hop) = resolution.hops.first().cloned() {
                let answer: Vec<Record> = resolution
                    .answer
                    .get(hop.answer_start..hop.answer_end)
                    .map(<[Record]>::to_vec)
                    .unwrap_or_default();
                let rcode = if resolution.hops.len() == 1 {
                    resolution.rcode
                } else {
                    RCODE_NOERROR
                };
                let negative = hop.negative && resolution.hops.len() == 1;
                self.upstream_exchange(
                    now,
                    client.resolver,
                    hop.zone,
                    &hop.qname,
                    resolution.qtype,
                    &answer,
                    rcode,
                    negative,
                    true,
                    false,
                )?;
                return Ok(());
            }
        }
        let txid = self.rng.next_u16();
        let port = source_port(&mut self.rng, client.ports.0, client.ports.1);
        let query_flags = FLAG_RD;
        let edns = self.client_edns(&client);
        let query = self.query_bytes(
            txid,
            query_flags,
            &resolution.qname,
            resolution.qtype,
            edns.as_ref(),
        )?;
        let path = self.downstream_path(&client);
        self.send_udp(
            now,
            &path,
            Direction::ToServer,
            (port, 53),
            &query,
            Side::Downstream,
            false,
        )?;
        if remaining == 1 || roll >= 993 {
            self.stats.unanswered_queries += 1;
            return Ok(());
        }
        let mut time = now + self.rng.range(60_000, 300_000);
        let hops = resolution.hops.len() as u64;
        let referral = resolution
            .hops
            .first()
            .is_some_and(|h| self.zone(h.zone).is_some_and(|z| z.under_gtld))
            && self.rng.chance(120_000);
        let miss_frames = 2 + 2 * hops + if referral { 2 } else { 0 };
        if roll >= 985 && !resolution.local && remaining >= 4 {
            let zone = resolution.hops.first().map_or(0, |h| h.zone);
            if remaining > TIMEOUT_MIN_REMAINING {
                // Lame servers: two upstream queries time out, the client gets SERVFAIL.
                for _ in 0..2 {
                    self.upstream_exchange(
                        time,
                        client.resolver,
                        zone,
                        &resolution.qname,
                        resolution.qtype,
                        &[],
                        RCODE_NOERROR,
                        false,
                        false,
                        false,
                    )?;
                    time += self.rng.range(200_000_000, 400_000_000);
                }
            } else {
                // Near the end of the capture, where a timeout would leave a long quiet tail:
                // the answer arrives but fails DNSSEC validation, and the client gets SERVFAIL.
                let hop = resolution.hops.first().cloned();
                let answer: Vec<Record> = hop
                    .as_ref()
                    .and_then(|h| resolution.answer.get(h.answer_start..h.answer_end))
                    .map(<[Record]>::to_vec)
                    .unwrap_or_default();
                let qname = hop.map_or_else(|| resolution.qname.clone(), |h| h.qname);
                time = self.upstream_exchange(
                    time,
                    client.resolver,
                    zone,
                    &qname,
                    resolution.qtype,
                    &answer,
                    RCODE_NOERROR,
                    answer.is_empty(),
                    true,
                    false,
                )?;
                time += self.rng.range(50_000, 200_000);
            }
            resolution.rcode = RCODE_SERVFAIL;
            resolution.answer.clear();
            resolution.hops.clear();
            client.resolver = client.resolver.min(self.resolvers.len().saturating_sub(1));
            let response = self.downstream_response(txid, query_flags, &resolution, &client, 0)?;
            self.send_udp(
                time,
                &path,
                Direction::ToClient,
                (53, port),
                &response,
                Side::Downstream,
                false,
            )?;
            return Ok(());
        }
        let miss = roll >= 700 && !resolution.local && remaining >= miss_frames;
        let age = if miss {
            for (position, hop) in resolution.hops.clone().iter().enumerate() {
                if referral && position == 0 {
                    time = self.referral(
                        time,
                        client.resolver,
                        hop.zone,
                        &hop.qname,
                        resolution.qtype,
                    )?;
                    time += self.rng.range(20_000, 120_000);
                }
                let answer: Vec<Record> = resolution
                    .answer
                    .get(hop.answer_start..hop.answer_end)
                    .map(<[Record]>::to_vec)
                    .unwrap_or_default();
                let last = position + 1 == resolution.hops.len();
                let rcode = if last {
                    resolution.rcode
                } else {
                    RCODE_NOERROR
                };
                time = self.upstream_exchange(
                    time,
                    client.resolver,
                    hop.zone,
                    &hop.qname,
                    resolution.qtype,
                    &answer,
                    rcode,
                    hop.negative && last,
                    true,
                    false,
                )?;
                time += self.rng.range(20_000, 150_000);
            }
            0
        } else {
            time = now + self.rng.range(40_000, 600_000);
            let max_ttl = resolution.answer.iter().map(|r| r.ttl).max().unwrap_or(300);
            self.rng.below(u64::from(max_ttl)) as u32
        };
        let response = self.downstream_response(txid, query_flags, &resolution, &client, age)?;
        self.send_udp(
            time,
            &path,
            Direction::ToClient,
            (53, port),
            &response,
            Side::Downstream,
            false,
        )?;
        Ok(())
    }

    /// A large answer in IPv4 fragments: a DNSKEY RRset upstream (two fragments) or a large
    /// TXT RRset to a client with a 4096-byte buffer (three fragments).
    fn fragmented_exchange(&mut self, now: u64, upstream: bool) -> Result<(), GenerateError> {
        if upstream {
            let count = self.population.signed.len();
            let zone_index = self
                .population
                .signed
                .get(self.rng.index(count))
                .copied()
                .unwrap_or(0);
            let Some(zone) = self.zone(zone_index).cloned() else {
                return Ok(());
            };
            let inception = (self.config.start_time_secs as u32).wrapping_sub(7 * 86_400);
            let mut answer: Vec<Record> = zone
                .dnskeys
                .iter()
                .map(|(flags, key)| Record {
                    owner: zone.apex.clone(),
                    ttl: 3600,
                    data: Rdata::Dnskey {
                        flags: *flags,
                        algorithm: 8,
                        key: key.clone(),
                    },
                })
                .collect();
            for (flags, key) in zone.dnskeys.iter().filter(|(flags, _)| *flags == 257) {
                let mut signature = vec![0u8; 256];
                self.rng.fill(&mut signature);
                answer.push(Record {
                    owner: zone.apex.clone(),
                    ttl: 3600,
                    data: Rdata::Rrsig {
                        type_covered: TYPE_DNSKEY,
                        algorithm: 8,
                        labels: label_count(&zone.apex),
                        original_ttl: 3600,
                        expiration: inception.wrapping_add(21 * 86_400),
                        inception,
                        key_tag: key_tag(*flags, 8, key),
                        signer: zone.apex.clone(),
                        signature,
                    },
                });
            }
            self.upstream_exchange(
                now,
                0,
                zone_index,
                &zone.apex,
                TYPE_DNSKEY,
                &answer,
                RCODE_NOERROR,
                false,
                true,
                true,
            )?;
            return Ok(());
        }
        let entry = self.population.big_txt.last().copied().unwrap_or(0);
        let resolution = self.resolve_entry(entry, TYPE_TXT);
        let mut client = self.random_client();
        if client.host.addr.is_ipv6() {
            client = self.clients.first().cloned().unwrap_or(client);
        }
        client.edns = Some((4096, false));
        let txid = self.rng.next_u16();
        let port = source_port(&mut self.rng, client.ports.0, client.ports.1);
        let edns = self.client_edns(&client);
        let query = self.query_bytes(txid, FLAG_RD, &resolution.qname, TYPE_TXT, edns.as_ref())?;
        let path = self.downstream_path(&client);
        self.send_udp(
            now,
            &path,
            Direction::ToServer,
            (port, 53),
            &query,
            Side::Downstream,
            false,
        )?;
        let answer: Vec<Record> = resolution.answer.clone();
        let resolver = self.resolvers.get(client.resolver).map_or(0, |r| r.secret);
        let response_edns = edns.map(|q| Edns {
            udp_size: 4096,
            dnssec_ok: false,
            cookie: q.cookie.as_ref().map(|c| self.server_cookie(c, resolver)),
        });
        let response = self.response_bytes(
            txid,
            FLAG_QR | FLAG_RD | FLAG_RA,
            &resolution.qname,
            TYPE_TXT,
            &answer,
            &[],
            &[],
            response_edns.as_ref(),
        )?;
        let time = now + self.rng.range(60_000, 400_000);
        self.send_udp(
            time,
            &path,
            Direction::ToClient,
            (53, port),
            &response,
            Side::Downstream,
            true,
        )?;
        Ok(())
    }

    /// A UDP answer truncated (TC) for a large TXT RRset, then the same question over TCP:
    /// handshake, length-prefixed query, the response split over two segments, and close.
    fn tcp_exchange(&mut self, now: u64) -> Result<(), GenerateError> {
        let count = self.population.big_txt.len().saturating_sub(1);
        let entry = self
            .population
            .big_txt
            .get(self.rng.index(count))
            .copied()
            .unwrap_or(0);
        let resolution = self.resolve_entry(entry, TYPE_TXT);
        let client = self.random_client();
        let path = self.downstream_path(&client);
        let edns = self.client_edns(&client);
        let txid = self.rng.next_u16();
        let port = source_port(&mut self.rng, client.ports.0, client.ports.1);
        let query = self.query_bytes(txid, FLAG_RD, &resolution.qname, TYPE_TXT, edns.as_ref())?;
        self.send_udp(
            now,
            &path,
            Direction::ToServer,
            (port, 53),
            &query,
            Side::Downstream,
            false,
        )?;
        let truncated = self.downstream_response(txid, FLAG_RD, &resolution, &client, 0)?;
        let mut time = now + self.rng.range(60_000, 300_000);
        self.send_udp(
            time,
            &path,
            Direction::ToClient,
            (53, port),
            &truncated,
            Side::Downstream,
            false,
        )?;

        // The same question over TCP (RFC 7766), from a new port with a new id.
        let rtt = self.rng.range(100_000, 400_000);
        let port = source_port(&mut self.rng, client.ports.0, client.ports.1);
        let ports = (port, 53);
        let back = (53, port);
        let client_isn = self.rng.next_u32();
        let server_isn = self.rng.next_u32();
        let txid = self.rng.next_u16();
        let tcp_query =
            self.query_bytes(txid, FLAG_RD, &resolution.qname, TYPE_TXT, edns.as_ref())?;
        let resolver_secret = self.resolvers.get(client.resolver).map_or(0, |r| r.secret);
        let response_edns = edns.as_ref().map(|q| Edns {
            udp_size: 1232,
            dnssec_ok: q.dnssec_ok,
            cookie: q
                .cookie
                .as_ref()
                .map(|c| self.server_cookie(c, resolver_secret)),
        });
        let response = self.response_bytes(
            txid,
            FLAG_QR | FLAG_RD | FLAG_RA,
            &resolution.qname,
            TYPE_TXT,
            &resolution.answer,
            &[],
            &[],
            response_edns.as_ref(),
        )?;
        let framed = |message: &[u8]| -> Result<Vec<u8>, GenerateError> {
            let len = u16::try_from(message.len()).map_err(|_| GenerateError::TooLarge {
                what: "tcp dns message",
                len: message.len(),
            })?;
            let mut out = len.to_be_bytes().to_vec();
            out.extend_from_slice(message);
            Ok(out)
        };
        let query_stream = framed(&tcp_query)?;
        let response_stream = framed(&response)?;
        let split = (response_stream.len() * 2 / 3).clamp(1, 1460);
        let (first, second) = response_stream
            .split_at_checked(split)
            .unwrap_or((&response_stream, &[]));
        let q_len = query_stream.len() as u32;
        let r_len = response_stream.len() as u32;
        let first_len = first.len() as u32;
        let c = client_isn;
        let s = server_isn;
        let seg = |seq: u32, ack: u32, flags: u8, mss: Option<u16>| TcpFields {
            seq,
            ack,
            flags,
            window: 64_240,
            mss,
        };
        type Step<'a> = (Direction, TcpFields, &'a [u8], u64);
        let steps: [Step; 11] = [
            (Direction::ToServer, seg(c, 0, TCP_SYN, Some(1460)), &[], 0),
            (
                Direction::ToClient,
                seg(s, c.wrapping_add(1), TCP_SYN | TCP_ACK, Some(1460)),
                &[],
                rtt / 2,
            ),
            (
                Direction::ToServer,
                seg(c.wrapping_add(1), s.wrapping_add(1), TCP_ACK, None),
                &[],
                rtt / 2,
            ),
            (
                Direction::ToServer,
                seg(
                    c.wrapping_add(1),
                    s.wrapping_add(1),
                    TCP_PSH | TCP_ACK,
                    None,
                ),
                &query_stream,
                20_000,
            ),
            (
                Direction::ToClient,
                seg(s.wrapping_add(1), c.wrapping_add(1 + q_len), TCP_ACK, None),
                &[],
                rtt / 2,
            ),
            (
                Direction::ToClient,
                seg(s.wrapping_add(1), c.wrapping_add(1 + q_len), TCP_ACK, None),
                first,
                80_000,
            ),
            (
                Direction::ToClient,
                seg(
                    s.wrapping_add(1 + first_len),
                    c.wrapping_add(1 + q_len),
                    TCP_PSH | TCP_ACK,
                    None,
                ),
                second,
                12_000,
            ),
            (
                Direction::ToServer,
                seg(
                    c.wrapping_add(1 + q_len),
                    s.wrapping_add(1 + r_len),
                    TCP_ACK,
                    None,
                ),
                &[],
                rtt / 2,
            ),
            (
                Direction::ToServer,
                seg(
                    c.wrapping_add(1 + q_len),
                    s.wrapping_add(1 + r_len),
                    TCP_FIN | TCP_ACK,
                    None,
                ),
                &[],
                30_000,
            ),
            (
                Direction::ToClient,
                seg(
                    s.wrapping_add(1 + r_len),
                    c.wrapping_add(2 + q_len),
                    TCP_FIN | TCP_ACK,
                    None,
                ),
                &[],
                rtt / 2,
            ),
            (
                Direction::ToServer,
                seg(
                    c.wrapping_add(2 + q_len),
                    s.wrapping_add(2 + r_len),
                    TCP_ACK,
                    None,
                ),
                &[],
                rtt / 2,
            ),
        ];
        time += rtt;
        for (direction, fields, payload, delay) in steps {
            time += delay;
            let direction_ports = if direction == Direction::ToServer {
                ports
            } else {
                back
            };
            self.send_tcp(time, &path, direction, direction_ports, fields, payload)?;
        }
        self.stats.tcp_connections += 1;
        self.note_message(&tcp_query, Side::Downstream);
        self.note_message(&response, Side::Downstream);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_tag_matches_rfc4034_appendix_b_sum() {
        // Hand-built: flags 256, protocol 3, algorithm 8, key 01 02.
        // Words 0100 0308 0102 sum to 050a.
        assert_eq!(key_tag(256, 8, &[1, 2]), 0x050a);
    }

    #[test]
    fn rate_stays_between_bounds() {
        for ms in (0..20_000).step_by(7) {
            let rate = Generator::rate_at(ms * 1_000_000);
            assert!((MIN_RATE..=MAX_RATE).contains(&rate));
        }
    }
}
