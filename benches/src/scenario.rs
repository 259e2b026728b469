//! Scenario captures: days of normal resolver traffic, then one poisoning attack or one benign
//! change, with a machine-readable truth of what was injected and when.
//!
//! [`write_scenario`] simulates a sensor on a SPAN port next to three recursive resolvers
//! (R1 10.0.0.53, R2 10.0.1.53, R3 10.0.2.53). Each serves four to six clients at 10.1.R.N:
//! MTAs that look up a mail domain's MX and then the A (and AAAA) of its MX hosts, desktops that
//! look up web names, and a monitoring host that asks for NS and MX. The resolvers cache: a
//! client is answered from the cache (RA=1, AA=0, the remaining TTL counting down) or, when the
//! entry has expired, after an upstream query (RD=0, random port and txid) to one of the zone's
//! authoritative servers, which answers AA=1 with the original TTL. Names under `.example` are
//! delegated by the TLD server 199.43.135.53: when a resolver's delegation has expired it asks
//! that server first and gets a referral (NS in authority, glue in additional).
//!
//! Every capture starts with [`HISTORY_DAYS`] days of normal traffic from
//! [`ScenarioConfig::start_time_secs`]; the scenario's event starts when the history ends. The
//! returned [`ScenarioTruth`] records the timeline and, per event, the (name, type), the good and
//! bad data, and when the sensor first and last saw bad data.
//!
//! ```
//! use dnsward_benches::scenario::{write_scenario, ScenarioConfig, ScenarioKind};
//! let kind: ScenarioKind = "demo".parse()?;
//! let mut capture = Vec::new();
//! let truth = write_scenario(kind, &ScenarioConfig::default(), &mut capture)?;
//! assert_eq!(truth.scenario, "demo");
//! assert!(truth.events.iter().all(|event| event.first_bad_ns.is_some()));
//! assert_eq!(capture.len() as u64, truth.file_bytes);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::dns::{
    Edns, MessageWriter, Rdata, Record, FLAG_AA, FLAG_QR, FLAG_RA, FLAG_RD, TYPE_A, TYPE_AAAA,
    TYPE_MX, TYPE_NS,
};
use crate::pcap::{PcapWriter, TimestampResolution};
use crate::rng::SplitMix64;
use crate::wire::{udp_frames, Direction, Host, Path, Vlans};
use crate::{GenerateError, DEFAULT_START_TIME_SECS};

/// Days of normal traffic before the scenario's event.
pub const HISTORY_DAYS: u64 = 8;
/// Days of packet time the analyzer learns baselines over (the truth's `learning_end_ns`).
pub const LEARNING_DAYS: u64 = 7;
/// Address of the `.example` TLD server that answers with referrals.
pub const TLD_SERVER: Ipv4Addr = Ipv4Addr::new(199, 43, 135, 53);
/// The three recursive resolvers R1, R2 and R3.
pub const RESOLVERS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(10, 0, 0, 53),
    Ipv4Addr::new(10, 0, 1, 53),
    Ipv4Addr::new(10, 0, 2, 53),
];

const SECOND: u64 = 1_000_000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// Which scenario to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScenarioKind {
    /// CERT/CC 2014: R2's cache hands out `gmail-smtp-in.l.google.com A 203.0.113.66` (TTL
    /// 86400, counting down) for two hours, with no upstream fetch behind it; then two hours of
    /// normal traffic.
    CertCc,
    /// Sea Turtle: bank.example is delegated to ns1/ns2.evil-dns.example (192.0.2.10/11) for
    /// four hours, which answer bank.example A 192.0.2.80 and mail.bank.example A 192.0.2.25
    /// (TTL 300); then the delegation reverts; then two hours more.
    RegistrarHijack,
    /// Benign: for six hours shop.example and gmail-smtp-in.l.google.com also rotate through
    /// /24s of the same AS not used in the history; then two hours more.
    CdnRotation,
    /// Benign: mail.corp.example's TTL drops from 3600 to 300 one day before it moves from
    /// 198.51.100.125 to 198.51.100.225 for good; the capture ends a day and two hours after.
    Renumbering,
    /// Benign: corp.example's MX moves from `10 mail.corp.example` to Google Workspace for good;
    /// the capture ends a day and two hours after.
    MxMove,
    /// Benign: SPAN duplicates of responses and client retries with the same txid, rare in the
    /// history and frequent for two hours after it; then two hours more.
    Retransmits,
    /// [`ScenarioKind::CertCc`] with fewer clients and sparser queries: a capture under 1.5 MB
    /// for the README's sample.
    Demo,
}

impl ScenarioKind {
    /// Every scenario, in documentation order.
    pub const ALL: [ScenarioKind; 7] = [
        ScenarioKind::CertCc,
        ScenarioKind::RegistrarHijack,
        ScenarioKind::CdnRotation,
        ScenarioKind::Renumbering,
        ScenarioKind::MxMove,
        ScenarioKind::Retransmits,
        ScenarioKind::Demo,
    ];

    /// The kebab-case name [`FromStr`] accepts.
    pub fn name(self) -> &'static str {
        match self {
            ScenarioKind::CertCc => "cert-cc",
            ScenarioKind::RegistrarHijack => "registrar-hijack",
            ScenarioKind::CdnRotation => "cdn-rotation",
            ScenarioKind::Renumbering => "renumbering",
            ScenarioKind::MxMove => "mx-move",
            ScenarioKind::Retransmits => "retransmits",
            ScenarioKind::Demo => "demo",
        }
    }
}

impl fmt::Display for ScenarioKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scenario name that [`ScenarioKind`] does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownScenario(pub String);

impl fmt::Display for UnknownScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = ScenarioKind::ALL.iter().map(|kind| kind.name()).collect();
        write!(
            f,
            "unknown scenario {:?} (known: {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownScenario {}

impl FromStr for ScenarioKind {
    type Err = UnknownScenario;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ScenarioKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| UnknownScenario(name.to_owned()))
    }
}

/// Parameters shared by every scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioConfig {
    /// Seed of the traffic: client timing, ports, txids, rotation choices.
    pub seed: u64,
    /// Packet time the history starts at, seconds since the Unix epoch.
    pub start_time_secs: u64,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            start_time_secs: DEFAULT_START_TIME_SECS,
        }
    }
}

/// When one resolver first handed out (or received) an event's bad data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverFirstBad {
    /// The resolver.
    pub resolver: IpAddr,
    /// Packet time of its first bad answer, ns since the Unix epoch.
    pub time_ns: u64,
}

/// One injected change, as the tests need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioEvent {
    /// `cache-poisoning`, `registrar-hijack`, or `benign-…` for legitimate changes.
    pub kind: String,
    /// When the change took effect at its source (cache, parent zone, authoritative server), ns.
    pub start_ns: u64,
    /// When the true answer returned at the source, ns; `None` when the change is permanent.
    /// Caches may still hand out bad data until `last_bad_ns`.
    pub end_ns: Option<u64>,
    /// Resolvers whose answers are affected.
    pub resolvers: Vec<IpAddr>,
    /// True when every resolver is affected (`resolvers` then lists all three).
    pub all_resolvers: bool,
    /// Owner name (lower case, no trailing dot); empty when the event is not about one name.
    pub name: String,
    /// Record type mnemonic (`A`, `NS`, `MX`); empty when the event is not about one name.
    pub rrtype: String,
    /// The true rdata, in the sensor's presentation form (`10 mail.corp.example`), sorted.
    pub good_rdata: Vec<String>,
    /// The injected or new rdata, same form, sorted.
    pub bad_rdata: Vec<String>,
    /// TTL the bad data is handed out with by its source, seconds.
    pub bad_ttl: u32,
    /// Packet time of the first answer carrying bad data (any side, any section) seen by the
    /// sensor, ns; for `benign-retransmits` the first duplicate or retry in the window.
    pub first_bad_ns: Option<u64>,
    /// Packet time of the last such answer, ns.
    pub last_bad_ns: Option<u64>,
    /// The first bad answer per resolver, in time order.
    pub first_bad_by_resolver: Vec<ResolverFirstBad>,
}

/// What a scenario capture contains (no serde: `dnsward-gen` writes it as JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioTruth {
    /// The scenario's kebab-case name.
    pub scenario: String,
    /// The seed it was written with.
    pub seed: u64,
    /// Packet time of the first frame, ns since the Unix epoch.
    pub capture_start_ns: u64,
    /// Packet time of the last frame, ns.
    pub capture_end_ns: u64,
    /// End of the analyzer's learning period, [`LEARNING_DAYS`] after the start, ns.
    pub learning_end_ns: u64,
    /// End of the normal history, [`HISTORY_DAYS`] after the start, ns.
    pub history_end_ns: u64,
    /// The recursive resolvers.
    pub resolvers: Vec<IpAddr>,
    /// Frames written.
    pub frames: u64,
    /// Bytes of the capture file (headers included).
    pub file_bytes: u64,
    /// The injected changes.
    pub events: Vec<ScenarioEvent>,
}

/// Writes a scenario's capture (microsecond pcap, Ethernet) to `out` and returns its truth.
///
/// The same kind and config always give the same bytes. `out` is written in small pieces: wrap
/// files in a `BufWriter`.
pub fn write_scenario<W: Write>(
    kind: ScenarioKind,
    config: &ScenarioConfig,
    out: W,
) -> Result<ScenarioTruth, GenerateError> {
    let writer = PcapWriter::new(out, TimestampResolution::Microseconds)?;
    let mut simulation = Simulation::new(kind, config, writer);
    simulation.run()?;
    let Simulation {
        world, out, events, ..
    } = simulation;
    let Output {
        writer,
        frames,
        file_bytes,
        first_us,
        last_us,
        ..
    } = out;
    writer.into_inner()?;
    let ns = |micros: u64| micros.saturating_mul(1_000);
    Ok(ScenarioTruth {
        scenario: kind.name().to_owned(),
        seed: config.seed,
        capture_start_ns: ns(first_us.unwrap_or(world.start)),
        capture_end_ns: ns(last_us),
        learning_end_ns: ns(world.start + LEARNING_DAYS * DAY),
        history_end_ns: ns(world.history_end),
        resolvers: RESOLVERS.iter().map(|r| IpAddr::V4(*r)).collect(),
        frames,
        file_bytes,
        events: events.into_iter().map(|tracked| tracked.event).collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// The world: zones, servers and their data.

/// The zones of the world; names are mapped to them by suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Zone {
    Google,
    Gmail,
    Outlook,
    Yahoo,
    YahooDns,
    Bank,
    Corp,
    Shop,
}

/// Zones whose NS RRset each resolver refreshes every NS TTL.
const REFRESHED_ZONES: [Zone; 7] = [
    Zone::Google,
    Zone::Gmail,
    Zone::Outlook,
    Zone::Yahoo,
    Zone::Bank,
    Zone::Corp,
    Zone::Shop,
];

const GOOGLE_SERVERS: [(&str, [u8; 4]); 4] = [
    ("ns1.google.com", [216, 239, 32, 10]),
    ("ns2.google.com", [216, 239, 34, 10]),
    ("ns3.google.com", [216, 239, 36, 10]),
    ("ns4.google.com", [216, 239, 38, 10]),
];
const OUTLOOK_SERVERS: [(&str, [u8; 4]); 4] = [
    ("ns1-01.azure-dns.com", [13, 107, 236, 1]),
    ("ns2-01.azure-dns.net", [150, 171, 10, 1]),
    ("ns3-01.azure-dns.org", [13, 107, 222, 1]),
    ("ns4-01.azure-dns.info", [150, 171, 21, 1]),
];
const YAHOO_SERVERS: [(&str, [u8; 4]); 3] = [
    ("ns1.yahoo.com", [68, 180, 131, 16]),
    ("ns2.yahoo.com", [68, 142, 255, 16]),
    ("ns5.yahoo.com", [202, 165, 97, 53]),
];
const BANK_SERVERS: [(&str, [u8; 4]); 2] = [
    ("ns1.bank.example", [198, 51, 100, 1]),
    ("ns2.bank.example", [198, 51, 100, 2]),
];
const CORP_SERVERS: [(&str, [u8; 4]); 2] = [
    ("ns1.corp.example", [198, 51, 100, 53]),
    ("ns2.corp.example", [198, 51, 100, 54]),
];
const SHOP_SERVERS: [(&str, [u8; 4]); 2] = [
    ("a1-64.akam.net", [193, 108, 91, 64]),
    ("a7-65.akam.net", [23, 61, 199, 65]),
];
const EVIL_SERVERS: [(&str, [u8; 4]); 2] = [
    ("ns1.evil-dns.example", [192, 0, 2, 10]),
    ("ns2.evil-dns.example", [192, 0, 2, 11]),
];

impl Zone {
    const ALL: [Zone; 8] = [
        Zone::Google,
        Zone::Gmail,
        Zone::Outlook,
        Zone::Yahoo,
        Zone::YahooDns,
        Zone::Bank,
        Zone::Corp,
        Zone::Shop,
    ];

    fn apex(self) -> &'static str {
        match self {
            Zone::Google => "google.com",
            Zone::Gmail => "gmail.com",
            Zone::Outlook => "outlook.com",
            Zone::Yahoo => "yahoo.com",
            Zone::YahooDns => "yahoodns.net",
            Zone::Bank => "bank.example",
            Zone::Corp => "corp.example",
            Zone::Shop => "shop.example",
        }
    }

    fn of(name: &str) -> Option<Zone> {
        Zone::ALL.into_iter().find(|zone| {
            let apex = zone.apex();
            name == apex
                || name
                    .strip_suffix(apex)
                    .is_some_and(|head| head.ends_with('.'))
        })
    }

    fn servers(self) -> &'static [(&'static str, [u8; 4])] {
        match self {
            Zone::Google | Zone::Gmail => &GOOGLE_SERVERS,
            Zone::Outlook => &OUTLOOK_SERVERS,
            Zone::Yahoo | Zone::YahooDns => &YAHOO_SERVERS,
            Zone::Bank => &BANK_SERVERS,
            Zone::Corp => &CORP_SERVERS,
            Zone::Shop => &SHOP_SERVERS,
        }
    }

    fn ns_ttl(self) -> u32 {
        match self {
            Zone::Google | Zone::Gmail => 345_600,
            Zone::Outlook | Zone::Yahoo | Zone::YahooDns => 172_800,
            Zone::Bank | Zone::Corp | Zone::Shop => 3_600,
        }
    }

    /// Delegated by the `.example` TLD server, which the resolvers ask when the delegation
    /// expires.
    fn under_example(self) -> bool {
        matches!(self, Zone::Bank | Zone::Corp | Zone::Shop)
    }

    /// BIND-like servers that add the zone's NS and glue to positive answers.
    fn full_responses(self) -> bool {
        matches!(self, Zone::Bank | Zone::Corp)
    }
}

/// How one authoritative server looks on the wire.
#[derive(Debug, Clone, Copy)]
struct ServerProfile {
    /// IPv4 TTL as seen at the sensor.
    ip_ttl: u8,
    /// Round-trip time range, microseconds.
    rtt: (u64, u64),
    /// EDNS payload size in responses to EDNS queries (`None`: no OPT in responses).
    edns: Option<u16>,
}

fn server_profile(server: Ipv4Addr) -> ServerProfile {
    let [a, b, c, _] = server.octets();
    let profile = |ip_ttl, low, high, edns| ServerProfile {
        ip_ttl,
        rtt: (low, high),
        edns,
    };
    match (a, b, c) {
        (216, 239, _) => profile(58, 4_000, 12_000, Some(512)),
        (13, ..) | (150, ..) => profile(113, 20_000, 45_000, Some(1232)),
        (68, ..) | (202, ..) => profile(50, 60_000, 95_000, None),
        (198, 51, 100) => profile(62, 1_500, 4_000, Some(1232)),
        (193, ..) | (23, ..) => profile(57, 8_000, 20_000, Some(4096)),
        (199, 43, 135) => profile(54, 15_000, 30_000, Some(1232)),
        (192, 0, 2) => profile(47, 80_000, 140_000, None),
        _ => profile(60, 10_000, 30_000, Some(1232)),
    }
}

fn is_evil_server(server: Ipv4Addr) -> bool {
    EVIL_SERVERS
        .iter()
        .any(|(_, address)| Ipv4Addr::from(*address) == server)
}

/// Names with fixed address pools: each answer carries `per_answer` consecutive entries of the
/// pool (cyclically) from a random start, so answers rotate inside known prefixes.
struct AddressHost {
    name: &'static str,
    ttl: u32,
    per_answer: usize,
    v4: &'static [[u8; 4]],
    v6: &'static [[u16; 8]],
}

const fn host(
    name: &'static str,
    ttl: u32,
    per_answer: usize,
    v4: &'static [[u8; 4]],
    v6: &'static [[u16; 8]],
) -> AddressHost {
    AddressHost {
        name,
        ttl,
        per_answer,
        v4,
        v6,
    }
}

const GMAIL_SMTP_V4: [[u8; 4]; 6] = [
    [142, 250, 153, 26],
    [142, 250, 153, 27],
    [142, 251, 9, 26],
    [142, 251, 9, 27],
    [74, 125, 206, 26],
    [74, 125, 206, 27],
];
/// Extra gmail-smtp-in addresses of the `cdn-rotation` window: new /24s, same AS.
const GMAIL_SMTP_EXTRA_V4: [[u8; 4]; 4] = [
    [142, 250, 102, 26],
    [142, 250, 102, 27],
    [74, 125, 140, 26],
    [74, 125, 140, 27],
];
const GMAIL_SMTP: &str = "gmail-smtp-in.l.google.com";
const POISON_ADDRESS: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 66);
const POISON_TTL: u32 = 86_400;

const ADDRESS_HOSTS: &[AddressHost] = &[
    host(
        GMAIL_SMTP,
        300,
        1,
        &GMAIL_SMTP_V4,
        &[
            [0x2a00, 0x1450, 0x400c, 0xc0b, 0, 0, 0, 0x1a],
            [0x2a00, 0x1450, 0x400c, 0xc0b, 0, 0, 0, 0x1b],
            [0x2a00, 0x1450, 0x400c, 0xc07, 0, 0, 0, 0x1a],
        ],
    ),
    host(
        "alt1.gmail-smtp-in.l.google.com",
        300,
        1,
        &[[142, 251, 168, 26], [142, 251, 168, 27], [74, 125, 200, 26]],
        &[[0x2a00, 0x1450, 0x4013, 0xc16, 0, 0, 0, 0x1b]],
    ),
    host(
        "alt2.gmail-smtp-in.l.google.com",
        300,
        1,
        &[[142, 250, 27, 26], [142, 250, 27, 27], [74, 125, 130, 26]],
        &[[0x2a00, 0x1450, 0x4010, 0xc1e, 0, 0, 0, 0x1b]],
    ),
    host(
        "alt3.gmail-smtp-in.l.google.com",
        300,
        1,
        &[
            [142, 250, 141, 26],
            [172, 217, 194, 26],
            [172, 217, 194, 27],
        ],
        &[[0x2607, 0xf8b0, 0x4023, 0x1c01, 0, 0, 0, 0x1a]],
    ),
    host(
        "alt4.gmail-smtp-in.l.google.com",
        300,
        1,
        &[[142, 250, 115, 26], [209, 85, 145, 26], [209, 85, 145, 27]],
        &[[0x2607, 0xf8b0, 0x4023, 0x401, 0, 0, 0, 0x1a]],
    ),
    host(
        "aspmx.l.google.com",
        300,
        1,
        &[[142, 250, 150, 26], [142, 250, 150, 27], [74, 125, 200, 27]],
        &[[0x2a00, 0x1450, 0x4013, 0xc00, 0, 0, 0, 0x1a]],
    ),
    host(
        "alt1.aspmx.l.google.com",
        300,
        1,
        &[[142, 250, 4, 26], [142, 250, 4, 27]],
        &[[0x2a00, 0x1450, 0x4025, 0x401, 0, 0, 0, 0x1b]],
    ),
    host(
        "alt2.aspmx.l.google.com",
        300,
        1,
        &[[74, 125, 131, 26], [74, 125, 131, 27]],
        &[[0x2a00, 0x1450, 0x4025, 0xc03, 0, 0, 0, 0x1a]],
    ),
    host(
        "alt3.aspmx.l.google.com",
        300,
        1,
        &[[142, 250, 152, 26]],
        &[[0x2607, 0xf8b0, 0x4023, 0xc0d, 0, 0, 0, 0x1b]],
    ),
    host(
        "alt4.aspmx.l.google.com",
        300,
        1,
        &[[172, 217, 197, 26]],
        &[[0x2607, 0xf8b0, 0x4023, 0x1006, 0, 0, 0, 0x1a]],
    ),
    host(
        "gmail.com",
        300,
        1,
        &[
            [142, 250, 74, 37],
            [142, 250, 185, 69],
            [142, 251, 36, 5],
            [142, 250, 179, 197],
        ],
        &[
            [0x2a00, 0x1450, 0x4001, 0x82b, 0, 0, 0, 0x2005],
            [0x2a00, 0x1450, 0x4001, 0x80e, 0, 0, 0, 0x2005],
        ],
    ),
    host(
        "outlook-com.olc.protection.outlook.com",
        10,
        2,
        &[
            [52, 101, 68, 3],
            [52, 101, 68, 19],
            [52, 101, 73, 0],
            [52, 101, 42, 17],
            [40, 93, 207, 0],
            [40, 93, 212, 0],
            [40, 93, 194, 1],
            [40, 93, 196, 1],
        ],
        &[],
    ),
    host(
        "mta5.am0.yahoodns.net",
        300,
        2,
        &[
            [67, 195, 204, 72],
            [67, 195, 204, 73],
            [98, 136, 96, 74],
            [98, 136, 96, 75],
        ],
        &[],
    ),
    host(
        "mta6.am0.yahoodns.net",
        300,
        2,
        &[
            [67, 195, 204, 77],
            [67, 195, 204, 79],
            [98, 136, 96, 76],
            [98, 136, 96, 77],
        ],
        &[],
    ),
    host(
        "mta7.am0.yahoodns.net",
        300,
        2,
        &[
            [67, 195, 204, 74],
            [67, 195, 204, 75],
            [98, 136, 96, 91],
            [98, 136, 96, 92],
        ],
        &[],
    ),
];

/// Names with one fixed IPv4 address: name, TTL, address.
const FIXED_HOSTS: [(&str, u32, [u8; 4]); 10] = [
    ("ns1.google.com", 345_600, [216, 239, 32, 10]),
    ("ns2.google.com", 345_600, [216, 239, 34, 10]),
    ("ns3.google.com", 345_600, [216, 239, 36, 10]),
    ("ns4.google.com", 345_600, [216, 239, 38, 10]),
    ("bank.example", 3_600, [198, 51, 100, 80]),
    ("mail.bank.example", 3_600, [198, 51, 100, 25]),
    ("ns1.bank.example", 3_600, [198, 51, 100, 1]),
    ("ns2.bank.example", 3_600, [198, 51, 100, 2]),
    ("ns1.corp.example", 3_600, [198, 51, 100, 53]),
    ("ns2.corp.example", 3_600, [198, 51, 100, 54]),
];

const GMAIL_MX: [(u16, &str); 5] = [
    (5, "gmail-smtp-in.l.google.com"),
    (10, "alt1.gmail-smtp-in.l.google.com"),
    (20, "alt2.gmail-smtp-in.l.google.com"),
    (30, "alt3.gmail-smtp-in.l.google.com"),
    (40, "alt4.gmail-smtp-in.l.google.com"),
];
const WORKSPACE_MX: [(u16, &str); 5] = [
    (1, "aspmx.l.google.com"),
    (5, "alt1.aspmx.l.google.com"),
    (5, "alt2.aspmx.l.google.com"),
    (10, "alt3.aspmx.l.google.com"),
    (10, "alt4.aspmx.l.google.com"),
];
const YAHOO_MX: [(u16, &str); 3] = [
    (1, "mta5.am0.yahoodns.net"),
    (1, "mta6.am0.yahoodns.net"),
    (1, "mta7.am0.yahoodns.net"),
];

const MAIL_CORP: &str = "mail.corp.example";
const MAIL_CORP_OLD: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 125);
const MAIL_CORP_NEW: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 225);

/// shop.example's CDN: each answer carries 2 to 4 hosts of one /24.
const SHOP_PREFIXES: [[u8; 3]; 4] = [[23, 45, 12], [23, 47, 88], [23, 50, 233], [23, 62, 10]];
/// Extra shop.example /24s of the `cdn-rotation` window (Akamai 23.32.0.0/11 too).
const SHOP_EXTRA_PREFIXES: [[u8; 3]; 2] = [[23, 58, 170], [23, 40, 61]];
const SHOP_HOSTS: [u8; 5] = [36, 37, 52, 53, 60];
const SHOP_TTL: u32 = 20;

const EVIL_TTL: u32 = 300;
const EVIL_BANK: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 80);
const EVIL_MAIL: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 25);

fn v4(octets: [u8; 4]) -> Rdata {
    Rdata::A(Ipv4Addr::from(octets))
}

fn v6(segments: [u16; 8]) -> Rdata {
    Rdata::Aaaa(Ipv6Addr::from(segments))
}

/// `count` consecutive entries of `pool` from a random start, wrapping around.
fn rotate<T: Copy>(pool: &[T], count: usize, rng: &mut SplitMix64) -> Vec<T> {
    let start = rng.index(pool.len());
    (0..count.min(pool.len()))
        .filter_map(|offset| pool.get((start + offset) % pool.len().max(1)).copied())
        .collect()
}

/// The sensor's presentation form of rdata (names without the trailing dot).
fn rdata_text(data: &Rdata) -> String {
    match data {
        Rdata::A(address) => address.to_string(),
        Rdata::Aaaa(address) => address.to_string(),
        Rdata::Cname(name) | Rdata::Ns(name) | Rdata::Ptr(name) => name.clone(),
        Rdata::Mx(preference, host) => format!("{preference} {host}"),
        other => format!("{other:?}"),
    }
}

fn type_name(rrtype: u16) -> &'static str {
    match rrtype {
        TYPE_A => "A",
        TYPE_AAAA => "AAAA",
        TYPE_MX => "MX",
        TYPE_NS => "NS",
        _ => "",
    }
}

/// An authoritative server's response.
#[derive(Debug, Default)]
struct AuthResponse {
    answer: Vec<Record>,
    authority: Vec<Record>,
    additional: Vec<Record>,
}

/// The scenario's timeline and the data its authoritative servers serve, by packet time.
#[derive(Debug, Clone)]
struct World {
    kind: ScenarioKind,
    start: u64,
    history_end: u64,
    /// The event window `[event_start, event_end)`; `event_end` is `u64::MAX` when permanent.
    event_start: u64,
    event_end: u64,
    /// When mail.corp.example's TTL drops (`renumbering` only).
    ttl_drop: u64,
    /// No new lookups start after this.
    capture_end: u64,
}

impl World {
    fn new(kind: ScenarioKind, config: &ScenarioConfig) -> World {
        let start = config.start_time_secs.saturating_mul(SECOND);
        let history_end = start + HISTORY_DAYS * DAY;
        let (duration, after) = match kind {
            ScenarioKind::CertCc | ScenarioKind::Demo | ScenarioKind::Retransmits => {
                (Some(2 * HOUR), 2 * HOUR)
            }
            ScenarioKind::RegistrarHijack => (Some(4 * HOUR), 2 * HOUR),
            ScenarioKind::CdnRotation => (Some(6 * HOUR), 2 * HOUR),
            ScenarioKind::Renumbering | ScenarioKind::MxMove => (None, DAY + 2 * HOUR),
        };
        let event_end = duration.map_or(u64::MAX, |duration| history_end + duration);
        let capture_end = history_end + duration.unwrap_or(0) + after;
        World {
            kind,
            start,
            history_end,
            event_start: history_end,
            event_end,
            ttl_drop: history_end - DAY,
            capture_end,
        }
    }

    fn in_event(&self, time: u64) -> bool {
        (self.event_start..self.event_end).contains(&time)
    }

    fn hijacked(&self, time: u64) -> bool {
        self.kind == ScenarioKind::RegistrarHijack && self.in_event(time)
    }

    fn cdn_extra(&self, time: u64) -> bool {
        self.kind == ScenarioKind::CdnRotation && self.in_event(time)
    }

    fn has_aaaa(name: &str) -> bool {
        ADDRESS_HOSTS
            .iter()
            .any(|host| host.name == name && !host.v6.is_empty())
    }

    /// The true RRset of (name, type) at `time`: TTL and data.
    fn rrset(
        &self,
        name: &str,
        qtype: u16,
        time: u64,
        rng: &mut SplitMix64,
    ) -> Option<(u32, Vec<Rdata>)> {
        if let Some(zone) = Zone::of(name) {
            if name == zone.apex() && qtype == TYPE_NS {
                let names = zone.servers().iter();
                let data = names.map(|(ns, _)| Rdata::Ns((*ns).to_owned())).collect();
                return Some((zone.ns_ttl(), data));
            }
        }
        let mx = |list: &[(u16, &str)]| -> Vec<Rdata> {
            list.iter()
                .map(|(preference, host)| Rdata::Mx(*preference, (*host).to_owned()))
                .collect()
        };
        match (name, qtype) {
            ("gmail.com", TYPE_MX) => return Some((3_600, mx(&GMAIL_MX))),
            ("outlook.com", TYPE_MX) => {
                return Some((3_600, mx(&[(10, "outlook-com.olc.protection.outlook.com")])))
            }
            ("yahoo.com", TYPE_MX) => return Some((1_800, mx(&YAHOO_MX))),
            ("bank.example", TYPE_MX) => return Some((3_600, mx(&[(10, "mail.bank.example")]))),
            ("corp.example", TYPE_MX) => {
                let moved = self.kind == ScenarioKind::MxMove && time >= self.event_start;
                let list = if moved {
                    mx(&WORKSPACE_MX)
                } else {
                    mx(&[(10, MAIL_CORP)])
                };
                return Some((3_600, list));
            }
            (MAIL_CORP, TYPE_A) => {
                let renumbering = self.kind == ScenarioKind::Renumbering;
                let ttl = if renumbering && time >= self.ttl_drop {
                    300
                } else {
                    3_600
                };
                let address = if renumbering && time >= self.event_start {
                    MAIL_CORP_NEW
                } else {
                    MAIL_CORP_OLD
                };
                return Some((ttl, vec![Rdata::A(address)]));
            }
            ("shop.example", TYPE_A) => {
                let extra = self.cdn_extra(time) && rng.chance(500_000);
                let prefix = if extra {
                    rng.pick(&SHOP_EXTRA_PREFIXES).copied()
                } else {
                    rng.pick(&SHOP_PREFIXES).copied()
                }
                .unwrap_or([23, 45, 12]);
                let count = usize::try_from(rng.range(2, 4)).unwrap_or(2);
                let [a, b, c] = prefix;
                let data = rotate(&SHOP_HOSTS, count, rng)
                    .into_iter()
                    .map(|d| v4([a, b, c, d]))
                    .collect();
                return Some((SHOP_TTL, data));
            }
            (GMAIL_SMTP, TYPE_A) if self.cdn_extra(time) && rng.chance(500_000) => {
                let address = rotate(&GMAIL_SMTP_EXTRA_V4, 1, rng);
                return Some((300, address.into_iter().map(v4).collect()));
            }
            _ => {}
        }
        if let Some((_, ttl, address)) = FIXED_HOSTS.iter().find(|(host, ..)| *host == name) {
            return (qtype == TYPE_A).then(|| (*ttl, vec![v4(*address)]));
        }
        let host = ADDRESS_HOSTS.iter().find(|host| host.name == name)?;
        let data: Vec<Rdata> = match qtype {
            TYPE_A => rotate(host.v4, host.per_answer, rng)
                .into_iter()
                .map(v4)
                .collect(),
            TYPE_AAAA => rotate(host.v6, host.per_answer, rng)
                .into_iter()
                .map(v6)
                .collect(),
            _ => Vec::new(),
        };
        (!data.is_empty()).then_some((host.ttl, data))
    }

    /// What `server` answers for (qname, qtype) at `time`.
    fn authoritative(
        &self,
        server: Ipv4Addr,
        qname: &str,
        qtype: u16,
        time: u64,
        rng: &mut SplitMix64,
    ) -> AuthResponse {
        let record = |owner: &str, ttl, data| Record {
            owner: owner.to_owned(),
            ttl,
            data,
        };
        if is_evil_server(server) {
            // The hijacker's servers: every bank.example name they serve points at them.
            let data = match (qname, qtype) {
                ("bank.example", TYPE_NS) => EVIL_SERVERS
                    .iter()
                    .map(|(name, _)| Rdata::Ns((*name).to_owned()))
                    .collect(),
                ("bank.example", TYPE_A) => vec![Rdata::A(EVIL_BANK)],
                ("mail.bank.example", TYPE_A) => vec![Rdata::A(EVIL_MAIL)],
                ("bank.example", TYPE_MX) => vec![Rdata::Mx(10, "mail.bank.example".to_owned())],
                _ => Vec::new(),
            };
            return AuthResponse {
                answer: data
                    .into_iter()
                    .map(|data| record(qname, EVIL_TTL, data))
                    .collect(),
                ..AuthResponse::default()
            };
        }
        let mut response = AuthResponse::default();
        if let Some((ttl, data)) = self.rrset(qname, qtype, time, rng) {
            response.answer = data
                .into_iter()
                .map(|data| record(qname, ttl, data))
                .collect();
        }
        let Some(zone) = Zone::of(qname) else {
            return response;
        };
        if zone.full_responses() && !response.answer.is_empty() {
            if qtype != TYPE_NS {
                for (name, _) in zone.servers() {
                    response.authority.push(record(
                        zone.apex(),
                        zone.ns_ttl(),
                        Rdata::Ns((*name).to_owned()),
                    ));
                }
            }
            for (name, address) in zone.servers() {
                response
                    .additional
                    .push(record(name, zone.ns_ttl(), v4(*address)));
            }
        }
        response
    }

    /// The `.example` TLD server's referral for `zone` at `time`: NS records and glue.
    fn referral(&self, zone: Zone, time: u64) -> AuthResponse {
        let (servers, ttl) = if zone == Zone::Bank && self.hijacked(time) {
            (&EVIL_SERVERS[..], EVIL_TTL)
        } else {
            (zone.servers(), zone.ns_ttl())
        };
        let mut response = AuthResponse::default();
        for (name, address) in servers {
            response.authority.push(Record {
                owner: zone.apex().to_owned(),
                ttl,
                data: Rdata::Ns((*name).to_owned()),
            });
            if name.ends_with(".example") {
                response.additional.push(Record {
                    owner: (*name).to_owned(),
                    ttl,
                    data: v4(*address),
                });
            }
        }
        response
    }
}

// ---------------------------------------------------------------------------------------------
// Clients, resolvers and the simulation.

/// How many clients of each role a resolver has and how often they look something up.
#[derive(Debug, Clone, Copy)]
struct Density {
    /// Per resolver: (MTAs, desktops, monitors).
    clients: [(usize, usize, usize); 3],
    /// Mean interval between one MTA's lookups, microseconds (uniform within ±50%).
    mta_interval: u64,
    desktop_interval: u64,
    monitor_interval: u64,
    /// How many MX hosts an MTA resolves (Postfix's `smtp_mx_address_limit`).
    mx_address_limit: usize,
    /// MTAs also ask for AAAA.
    mta_ipv6: bool,
    /// Zones whose NS RRset each resolver refreshes every NS TTL.
    refreshed_zones: &'static [Zone],
    /// Mail domains MTAs send to, with weights.
    mail_domains: &'static [(&'static str, u64)],
}

const FULL_DENSITY: Density = Density {
    clients: [(3, 2, 1), (2, 2, 1), (2, 1, 1)],
    mta_interval: 8 * MINUTE,
    desktop_interval: 6 * MINUTE,
    monitor_interval: 4 * MINUTE,
    mx_address_limit: 5,
    mta_ipv6: true,
    refreshed_zones: &REFRESHED_ZONES,
    mail_domains: &MAIL_DOMAINS,
};

const DEMO_DENSITY: Density = Density {
    clients: [(1, 1, 0), (1, 1, 0), (1, 1, 0)],
    mta_interval: 30 * MINUTE,
    desktop_interval: 6 * HOUR,
    monitor_interval: DAY,
    mx_address_limit: 1,
    mta_ipv6: false,
    refreshed_zones: &[Zone::Google, Zone::Gmail],
    mail_domains: &DEMO_MAIL_DOMAINS,
};

/// Mail domains MTAs send to, with weights.
const MAIL_DOMAINS: [(&str, u64); 5] = [
    ("gmail.com", 35),
    ("outlook.com", 20),
    ("yahoo.com", 15),
    ("bank.example", 15),
    ("corp.example", 15),
];
/// Demo MTAs mostly send to gmail.com.
const DEMO_MAIL_DOMAINS: [(&str, u64); 3] =
    [("gmail.com", 80), ("bank.example", 10), ("outlook.com", 10)];
/// Web names desktops look up (A, and AAAA where the name has it), with weights.
const WEB_NAMES: [(&str, u64); 3] = [
    ("gmail.com", 30),
    ("shop.example", 40),
    ("bank.example", 30),
];
/// What monitoring hosts ask for, in turn.
const MONITOR_QUESTIONS: [(&str, u16); 8] = [
    ("bank.example", TYPE_NS),
    ("corp.example", TYPE_NS),
    ("gmail.com", TYPE_NS),
    ("shop.example", TYPE_NS),
    ("bank.example", TYPE_MX),
    ("outlook.com", TYPE_NS),
    ("corp.example", TYPE_MX),
    ("yahoo.com", TYPE_NS),
];

fn weighted<'a>(choices: &[(&'a str, u64)], rng: &mut SplitMix64) -> &'a str {
    let total: u64 = choices.iter().map(|(_, weight)| weight).sum();
    let mut roll = rng.below(total);
    for (choice, weight) in choices {
        if roll < *weight {
            return choice;
        }
        roll -= weight;
    }
    choices.first().map_or("gmail.com", |(choice, _)| choice)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Mta,
    Desktop,
    Monitor,
}

#[derive(Debug, Clone)]
struct Client {
    host: Host,
    resolver: usize,
    role: Role,
    edns: Option<u16>,
    next_question: usize,
}

#[derive(Debug, Clone)]
struct CacheEntry {
    /// Records with their original TTLs.
    records: Vec<Record>,
    /// When the answer arrived.
    fetched: u64,
    expires: u64,
}

#[derive(Debug, Clone)]
struct ResolverState {
    host: Host,
    cache: HashMap<(String, u16), CacheEntry>,
    /// `.example` delegations: the servers and when the delegation expires.
    delegations: HashMap<Zone, (Vec<Ipv4Addr>, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Task {
    Lookup(usize),
    RefreshNs(usize, Zone),
}

/// What makes an answer count as an event's bad data.
#[derive(Debug, Clone)]
enum Matcher {
    /// A record of (name, type) whose rdata is in the bad set.
    Rdata { rrtype: u16 },
    /// An authoritative answer for (name, type) with this TTL.
    AuthoritativeTtl { rrtype: u16 },
    /// A SPAN duplicate or a client retry inside the event window.
    Duplicates,
}

#[derive(Debug, Clone)]
struct TrackedEvent {
    event: ScenarioEvent,
    matcher: Matcher,
    window: (u64, u64),
}

impl TrackedEvent {
    fn saw(&mut self, time: u64, resolver: usize) {
        let time_ns = time.saturating_mul(1_000);
        let event = &mut self.event;
        if event.first_bad_ns.is_none_or(|first| time_ns < first) {
            event.first_bad_ns = Some(time_ns);
        }
        if event.last_bad_ns.is_none_or(|last| time_ns > last) {
            event.last_bad_ns = Some(time_ns);
        }
        let Some(address) = RESOLVERS.get(resolver) else {
            return;
        };
        let address = IpAddr::V4(*address);
        if !event
            .first_bad_by_resolver
            .iter()
            .any(|seen| seen.resolver == address)
        {
            event.first_bad_by_resolver.push(ResolverFirstBad {
                resolver: address,
                time_ns,
            });
        }
    }
}

/// Frames wait on a heap until every frame before them has been generated.
struct Output<W: Write> {
    writer: PcapWriter<W>,
    pending: BinaryHeap<Reverse<(u64, u64, Vec<u8>)>>,
    sequence: u64,
    frames: u64,
    file_bytes: u64,
    first_us: Option<u64>,
    last_us: u64,
}

impl<W: Write> Output<W> {
    fn push(&mut self, time: u64, frame: Vec<u8>) {
        self.sequence += 1;
        self.pending.push(Reverse((time, self.sequence, frame)));
    }

    /// Writes every pending frame earlier than `time`.
    fn flush_before(&mut self, time: u64) -> Result<(), GenerateError> {
        while self
            .pending
            .peek()
            .is_some_and(|Reverse((at, ..))| *at < time)
        {
            let Some(Reverse((at, _, frame))) = self.pending.pop() else {
                break;
            };
            self.writer.write_frame(at.saturating_mul(1_000), &frame)?;
            self.frames += 1;
            self.file_bytes += 16 + frame.len() as u64;
            self.first_us.get_or_insert(at);
            self.last_us = at;
        }
        Ok(())
    }
}

const GATEWAY_MAC: [u8; 6] = [0x00, 0x1c, 0x73, 0x5a, 0x01, 0xfe];

struct Simulation<W: Write> {
    world: World,
    density: Density,
    rng: SplitMix64,
    resolvers: Vec<ResolverState>,
    clients: Vec<Client>,
    tasks: BinaryHeap<Reverse<(u64, u64, Task)>>,
    task_sequence: u64,
    out: Output<W>,
    events: Vec<TrackedEvent>,
    /// Duplicate and retry rates (per million) outside and inside the event window.
    duplicates: Option<(u64, u64)>,
}

fn all_resolvers() -> Vec<IpAddr> {
    RESOLVERS.iter().map(|r| IpAddr::V4(*r)).collect()
}

fn texts(data: impl IntoIterator<Item = Rdata>) -> Vec<String> {
    let mut texts: Vec<String> = data.into_iter().map(|data| rdata_text(&data)).collect();
    texts.sort();
    texts.dedup();
    texts
}

fn v4_texts(pool: &[[u8; 4]]) -> Vec<String> {
    texts(pool.iter().map(|octets| v4(*octets)))
}

fn prefix_texts(prefixes: &[[u8; 3]]) -> Vec<String> {
    texts(prefixes.iter().flat_map(|[a, b, c]| {
        SHOP_HOSTS
            .iter()
            .map(move |d| Rdata::A(Ipv4Addr::new(*a, *b, *c, *d)))
    }))
}

/// The events a scenario injects, before any is observed.
fn planned_events(world: &World) -> Vec<TrackedEvent> {
    let ns = |micros: u64| micros.saturating_mul(1_000);
    let end_ns = (world.event_end != u64::MAX).then(|| ns(world.event_end));
    let window = (world.event_start, world.event_end);
    let event = |kind: &str, name: &str, rrtype: u16, good, bad, bad_ttl| ScenarioEvent {
        kind: kind.to_owned(),
        start_ns: ns(world.event_start),
        end_ns,
        resolvers: all_resolvers(),
        all_resolvers: true,
        name: name.to_owned(),
        rrtype: type_name(rrtype).to_owned(),
        good_rdata: good,
        bad_rdata: bad,
        bad_ttl,
        first_bad_ns: None,
        last_bad_ns: None,
        first_bad_by_resolver: Vec::new(),
    };
    let tracked = |event: ScenarioEvent, matcher| TrackedEvent {
        event,
        matcher,
        window,
    };
    let rdata = |rrtype| Matcher::Rdata { rrtype };
    match world.kind {
        ScenarioKind::CertCc | ScenarioKind::Demo => {
            let mut poisoning = event(
                "cache-poisoning",
                GMAIL_SMTP,
                TYPE_A,
                v4_texts(&GMAIL_SMTP_V4),
                vec![POISON_ADDRESS.to_string()],
                POISON_TTL,
            );
            poisoning.resolvers = vec![IpAddr::V4(Ipv4Addr::new(10, 0, 1, 53))];
            poisoning.all_resolvers = false;
            vec![tracked(poisoning, rdata(TYPE_A))]
        }
        ScenarioKind::RegistrarHijack => {
            let ns_names = |servers: &[(&str, [u8; 4])]| {
                texts(
                    servers
                        .iter()
                        .map(|(name, _)| Rdata::Ns((*name).to_owned())),
                )
            };
            vec![
                tracked(
                    event(
                        "registrar-hijack",
                        "bank.example",
                        TYPE_NS,
                        ns_names(&BANK_SERVERS),
                        ns_names(&EVIL_SERVERS),
                        EVIL_TTL,
                    ),
                    rdata(TYPE_NS),
                ),
                tracked(
                    event(
                        "registrar-hijack",
                        "bank.example",
                        TYPE_A,
                        vec!["198.51.100.80".to_owned()],
                        vec![EVIL_BANK.to_string()],
                        EVIL_TTL,
                    ),
                    rdata(TYPE_A),
                ),
                tracked(
                    event(
                        "registrar-hijack",
                        "mail.bank.example",
                        TYPE_A,
                        vec!["198.51.100.25".to_owned()],
                        vec![EVIL_MAIL.to_string()],
                        EVIL_TTL,
                    ),
                    rdata(TYPE_A),
                ),
            ]
        }
        ScenarioKind::CdnRotation => vec![
            tracked(
                event(
                    "benign-cdn-rotation",
                    "shop.example",
                    TYPE_A,
                    prefix_texts(&SHOP_PREFIXES),
                    prefix_texts(&SHOP_EXTRA_PREFIXES),
                    SHOP_TTL,
                ),
                rdata(TYPE_A),
            ),
            tracked(
                event(
                    "benign-cdn-rotation",
                    GMAIL_SMTP,
                    TYPE_A,
                    v4_texts(&GMAIL_SMTP_V4),
                    v4_texts(&GMAIL_SMTP_EXTRA_V4),
                    300,
                ),
                rdata(TYPE_A),
            ),
        ],
        ScenarioKind::Renumbering => {
            let old = vec![MAIL_CORP_OLD.to_string()];
            let mut lowering = event(
                "benign-ttl-lowering",
                MAIL_CORP,
                TYPE_A,
                old.clone(),
                old.clone(),
                300,
            );
            lowering.start_ns = ns(world.ttl_drop);
            lowering.end_ns = None;
            vec![
                TrackedEvent {
                    event: lowering,
                    matcher: Matcher::AuthoritativeTtl { rrtype: TYPE_A },
                    window: (world.ttl_drop, u64::MAX),
                },
                tracked(
                    event(
                        "benign-renumbering",
                        MAIL_CORP,
                        TYPE_A,
                        old,
                        vec![MAIL_CORP_NEW.to_string()],
                        300,
                    ),
                    rdata(TYPE_A),
                ),
            ]
        }
        ScenarioKind::MxMove => {
            let mx = |list: &[(u16, &str)]| {
                texts(
                    list.iter()
                        .map(|(preference, host)| Rdata::Mx(*preference, (*host).to_owned())),
                )
            };
            vec![tracked(
                event(
                    "benign-mx-move",
                    "corp.example",
                    TYPE_MX,
                    mx(&[(10, MAIL_CORP)]),
                    mx(&WORKSPACE_MX),
                    3_600,
                ),
                rdata(TYPE_MX),
            )]
        }
        ScenarioKind::Retransmits => vec![tracked(
            event("benign-retransmits", "", 0, Vec::new(), Vec::new(), 0),
            Matcher::Duplicates,
        )],
    }
}

/// Upstream queries carry EDNS with this payload size.
const RESOLVER_EDNS: u16 = 1232;

fn edns(udp_size: u16) -> Edns {
    Edns {
        udp_size,
        dnssec_ok: false,
        cookie: None,
    }
}

fn query_message(
    txid: u16,
    flags: u16,
    qname: &str,
    qtype: u16,
    udp_size: Option<u16>,
) -> Result<Vec<u8>, GenerateError> {
    let mut message = MessageWriter::new(txid, flags);
    message.question(qname, qtype)?;
    if let Some(size) = udp_size {
        message.opt(&edns(size))?;
    }
    Ok(message.finish())
}

struct ResponseParts<'a> {
    txid: u16,
    flags: u16,
    qname: &'a str,
    qtype: u16,
    response: &'a AuthResponse,
    udp_size: Option<u16>,
}

fn response_message(parts: &ResponseParts<'_>) -> Result<Vec<u8>, GenerateError> {
    let mut message = MessageWriter::new(parts.txid, parts.flags);
    message.question(parts.qname, parts.qtype)?;
    for record in &parts.response.answer {
        message.answer(record)?;
    }
    for record in &parts.response.authority {
        message.authority(record)?;
    }
    for record in &parts.response.additional {
        message.additional(record)?;
    }
    if let Some(size) = parts.udp_size {
        message.opt(&edns(size))?;
    }
    Ok(message.finish())
}

/// An ephemeral source port (never 53).
fn ephemeral_port(rng: &mut SplitMix64) -> u16 {
    u16::try_from(rng.range(1_024, 65_535)).unwrap_or(40_000)
}

impl<W: Write> Simulation<W> {
    fn new(kind: ScenarioKind, config: &ScenarioConfig, writer: PcapWriter<W>) -> Self {
        let world = World::new(kind, config);
        let rng = SplitMix64::new(config.seed ^ 0x5ce7_a410_0000_0000);
        let density = if kind == ScenarioKind::Demo {
            DEMO_DENSITY
        } else {
            FULL_DENSITY
        };
        let resolvers = RESOLVERS
            .iter()
            .enumerate()
            .map(|(index, address)| ResolverState {
                host: Host {
                    mac: [0x00, 0x16, 0x3e, 0x10, 0x00, index as u8 + 1],
                    addr: IpAddr::V4(*address),
                    ttl: 64,
                },
                cache: HashMap::new(),
                delegations: HashMap::new(),
            })
            .collect();
        let mut clients = Vec::new();
        for (resolver, (mtas, desktops, monitors)) in density.clients.into_iter().enumerate() {
            let roles = std::iter::repeat_n(Role::Mta, mtas)
                .chain(std::iter::repeat_n(Role::Desktop, desktops))
                .chain(std::iter::repeat_n(Role::Monitor, monitors));
            for (number, role) in roles.enumerate() {
                let host_number = 10 + number as u8;
                let edns = match role {
                    Role::Mta => Some(1232),
                    Role::Desktop if number % 2 == 0 => Some(1232),
                    Role::Desktop | Role::Monitor => None,
                };
                clients.push(Client {
                    host: Host {
                        mac: [0x02, 0x01, resolver as u8, 0, 0, host_number],
                        addr: IpAddr::V4(Ipv4Addr::new(10, 1, resolver as u8, host_number)),
                        ttl: if role == Role::Desktop { 128 } else { 64 },
                    },
                    resolver,
                    role,
                    edns,
                    next_question: number,
                });
            }
        }
        let events = planned_events(&world);
        let duplicates = (kind == ScenarioKind::Retransmits).then_some((2_000, 100_000));
        Simulation {
            world,
            density,
            rng,
            resolvers,
            clients,
            tasks: BinaryHeap::new(),
            task_sequence: 0,
            out: Output {
                writer,
                pending: BinaryHeap::new(),
                sequence: 0,
                frames: 0,
                file_bytes: 24,
                first_us: None,
                last_us: 0,
            },
            events,
            duplicates,
        }
    }

    fn schedule(&mut self, time: u64, task: Task) {
        if time < self.world.capture_end {
            self.task_sequence += 1;
            self.tasks.push(Reverse((time, self.task_sequence, task)));
        }
    }

    /// A jittered interval: uniform in `mean / 2 ..= mean * 3 / 2`.
    fn jitter(&mut self, mean: u64) -> u64 {
        self.rng.range(mean / 2, mean + mean / 2)
    }

    fn interval(&self, role: Role) -> u64 {
        match role {
            Role::Mta => self.density.mta_interval,
            Role::Desktop => self.density.desktop_interval,
            Role::Monitor => self.density.monitor_interval,
        }
    }

    fn run(&mut self) -> Result<(), GenerateError> {
        let start = self.world.start;
        // The first lookup of every client comes within its first interval; the capture starts
        // with one of them at exactly the start time.
        for index in 0..self.clients.len() {
            let role = self.clients.get(index).map_or(Role::Mta, |c| c.role);
            let offset = if index == 0 {
                0
            } else {
                self.rng.below(self.interval(role))
            };
            self.schedule(start + offset, Task::Lookup(index));
        }
        for resolver in 0..self.resolvers.len() {
            for zone in self.density.refreshed_zones.iter().copied() {
                let offset = self.rng.range(1, HOUR / SECOND) * SECOND;
                self.schedule(start + offset, Task::RefreshNs(resolver, zone));
            }
        }
        while let Some(Reverse((time, _, task))) = self.tasks.pop() {
            self.out.flush_before(time)?;
            match task {
                Task::Lookup(index) => {
                    self.lookup(index, time)?;
                    let role = self.clients.get(index).map_or(Role::Mta, |c| c.role);
                    let next = time + self.jitter(self.interval(role));
                    self.schedule(next, Task::Lookup(index));
                }
                Task::RefreshNs(resolver, zone) => {
                    let apex = zone.apex();
                    self.resolve(resolver, apex, TYPE_NS, time)?;
                    let key = (apex.to_owned(), TYPE_NS);
                    let expires = self
                        .resolvers
                        .get(resolver)
                        .and_then(|state| state.cache.get(&key))
                        .map_or(time + HOUR, |entry| entry.expires);
                    let next = expires.max(time + SECOND) + self.rng.range(1, 600) * SECOND;
                    self.schedule(next, Task::RefreshNs(resolver, zone));
                }
            }
        }
        self.out.flush_before(u64::MAX)
    }

    /// One client's lookup: a few queries in a row.
    fn lookup(&mut self, index: usize, time: u64) -> Result<(), GenerateError> {
        let Some(client) = self.clients.get(index) else {
            return Ok(());
        };
        let role = client.role;
        match role {
            Role::Mta => {
                let domain = weighted(self.density.mail_domains, &mut self.rng);
                let (records, mut now) = self.client_query(index, domain, TYPE_MX, time)?;
                let mut hosts: Vec<(u16, String)> = records
                    .iter()
                    .filter_map(|record| match &record.data {
                        Rdata::Mx(preference, host) => Some((*preference, host.clone())),
                        _ => None,
                    })
                    .collect();
                hosts.sort_by_key(|(preference, _)| *preference);
                hosts.truncate(self.density.mx_address_limit);
                for (_, host) in hosts {
                    now += self.rng.range(100, 2_000);
                    (_, now) = self.client_query(index, &host, TYPE_A, now)?;
                    if self.density.mta_ipv6 && World::has_aaaa(&host) {
                        now += self.rng.range(50, 500);
                        (_, now) = self.client_query(index, &host, TYPE_AAAA, now)?;
                    }
                }
            }
            Role::Desktop => {
                let name = weighted(&WEB_NAMES, &mut self.rng);
                let (_, now) = self.client_query(index, name, TYPE_A, time)?;
                if World::has_aaaa(name) {
                    let at = now.min(time + self.rng.range(20, 200));
                    self.client_query(index, name, TYPE_AAAA, at)?;
                }
            }
            Role::Monitor => {
                let turn = client.next_question;
                if let Some(client) = self.clients.get_mut(index) {
                    client.next_question = turn + 1;
                }
                let (name, qtype) = MONITOR_QUESTIONS
                    .get(turn % MONITOR_QUESTIONS.len())
                    .copied()
                    .unwrap_or(("bank.example", TYPE_NS));
                self.client_query(index, name, qtype, time)?;
            }
        }
        Ok(())
    }

    fn duplicate_rate(&self, time: u64) -> u64 {
        match self.duplicates {
            Some((_, inside)) if self.world.in_event(time) => inside,
            Some((outside, _)) => outside,
            None => 0,
        }
    }

    /// Queues a datagram's frames; a SPAN duplicate follows a few microseconds later sometimes.
    fn send(
        &mut self,
        path: &Path,
        direction: Direction,
        ports: (u16, u16),
        payload: &[u8],
        time: u64,
        may_duplicate: bool,
    ) -> Result<(), GenerateError> {
        let identification = self.rng.next_u16();
        let frames = udp_frames(path, direction, ports, payload, identification, false)?;
        let duplicate = may_duplicate && {
            let rate = self.duplicate_rate(time);
            rate > 0 && self.rng.chance(rate)
        };
        for frame in frames {
            if duplicate {
                let later = time + self.rng.range(2, 9);
                self.out.push(later, frame.clone());
                self.saw_duplicate(later);
            }
            self.out.push(time, frame);
        }
        Ok(())
    }

    fn saw_duplicate(&mut self, time: u64) {
        for tracked in &mut self.events {
            let (start, end) = tracked.window;
            if matches!(tracked.matcher, Matcher::Duplicates) && (start..end).contains(&time) {
                tracked.saw(time, usize::MAX);
            }
        }
    }

    /// Notes bad data in a response from or to `resolver`.
    fn observe(&mut self, time: u64, resolver: usize, records: &[Record], authoritative: bool) {
        for tracked in &mut self.events {
            let hit = records.iter().any(|record| {
                if record.owner != tracked.event.name {
                    return false;
                }
                match tracked.matcher {
                    Matcher::Rdata { rrtype } => {
                        record.data.record_type() == rrtype
                            && tracked.event.bad_rdata.contains(&rdata_text(&record.data))
                    }
                    Matcher::AuthoritativeTtl { rrtype } => {
                        authoritative
                            && record.data.record_type() == rrtype
                            && record.ttl == tracked.event.bad_ttl
                    }
                    Matcher::Duplicates => false,
                }
            });
            if hit {
                tracked.saw(time, resolver);
            }
        }
    }

    /// A client query to its resolver and the resolver's answer; returns the answer records and
    /// the time the client received them.
    fn client_query(
        &mut self,
        index: usize,
        qname: &str,
        qtype: u16,
        time: u64,
    ) -> Result<(Vec<Record>, u64), GenerateError> {
        let Some(client) = self.clients.get(index).cloned() else {
            return Ok((Vec::new(), time));
        };
        let Some(resolver_host) = self.resolvers.get(client.resolver).map(|r| r.host) else {
            return Ok((Vec::new(), time));
        };
        let path = Path {
            client: client.host,
            server: resolver_host,
            vlans: Vlans::None,
            flow_label: 0,
        };
        let txid = self.rng.next_u16();
        let port = ephemeral_port(&mut self.rng);
        let query = query_message(txid, FLAG_RD, qname, qtype, client.edns)?;
        self.send(&path, Direction::ToServer, (port, 53), &query, time, false)?;
        let arrival = time + self.rng.range(15, 60);
        let (records, ready) = self.resolve(client.resolver, qname, qtype, arrival)?;
        let retry_rate = self.duplicate_rate(time);
        let retried = retry_rate > 0 && self.rng.chance(retry_rate);
        let mut answer_at = ready + self.rng.range(30, 250);
        if retried {
            // The resolver was slow: the client retries after a second with the same txid and
            // port, and gets the same answer twice.
            let retry_at = time + SECOND;
            self.send(
                &path,
                Direction::ToServer,
                (port, 53),
                &query,
                retry_at,
                false,
            )?;
            answer_at = answer_at.max(retry_at + self.rng.range(200, 3_000));
            if self.world.in_event(retry_at) {
                self.saw_duplicate(retry_at);
            }
        }
        let response = AuthResponse {
            answer: records.clone(),
            ..AuthResponse::default()
        };
        let payload = response_message(&ResponseParts {
            txid,
            flags: FLAG_QR | FLAG_RD | FLAG_RA,
            qname,
            qtype,
            response: &response,
            udp_size: client.edns.map(|_| RESOLVER_EDNS),
        })?;
        self.send(
            &path,
            Direction::ToClient,
            (53, port),
            &payload,
            answer_at,
            true,
        )?;
        self.observe(answer_at, client.resolver, &records, false);
        if retried {
            let again = answer_at + self.rng.range(3, 40);
            self.send(
                &path,
                Direction::ToClient,
                (53, port),
                &payload,
                again,
                false,
            )?;
            self.observe(again, client.resolver, &records, false);
        }
        Ok((records, answer_at))
    }

    /// The poisoned answer R2 hands out during a `cert-cc` window, if this question gets it.
    fn poisoned(&self, resolver: usize, qname: &str, qtype: u16, time: u64) -> Option<Record> {
        let poisoning = matches!(self.world.kind, ScenarioKind::CertCc | ScenarioKind::Demo);
        if !(poisoning && resolver == 1 && qname == GMAIL_SMTP && qtype == TYPE_A) {
            return None;
        }
        if !self.world.in_event(time) {
            return None;
        }
        let age = (time - self.world.event_start) / SECOND;
        Some(Record {
            owner: GMAIL_SMTP.to_owned(),
            ttl: POISON_TTL.saturating_sub(u32::try_from(age).unwrap_or(u32::MAX)),
            data: Rdata::A(POISON_ADDRESS),
        })
    }

    /// The resolver's answer at `time`: from its cache (remaining TTLs) or fetched upstream
    /// first. Returns the records and when they are ready.
    fn resolve(
        &mut self,
        resolver: usize,
        qname: &str,
        qtype: u16,
        time: u64,
    ) -> Result<(Vec<Record>, u64), GenerateError> {
        if let Some(record) = self.poisoned(resolver, qname, qtype, time) {
            return Ok((vec![record], time + self.rng.range(5, 40)));
        }
        let key = (qname.to_owned(), qtype);
        let cached = self
            .resolvers
            .get(resolver)
            .and_then(|state| state.cache.get(&key))
            .filter(|entry| time < entry.expires)
            .cloned();
        if let Some(entry) = cached {
            // An answer still on its way upstream is waited for.
            let now = time.max(entry.fetched);
            let age = u32::try_from((now - entry.fetched) / SECOND).unwrap_or(u32::MAX);
            let records = entry
                .records
                .iter()
                .map(|record| Record {
                    ttl: record.ttl.saturating_sub(age).max(1),
                    ..record.clone()
                })
                .collect();
            return Ok((records, now + self.rng.range(5, 40)));
        }
        let (response, arrived) = self.fetch(resolver, qname, qtype, time)?;
        let min_ttl = response
            .answer
            .iter()
            .map(|record| record.ttl)
            .min()
            .unwrap_or(300);
        if let Some(state) = self.resolvers.get_mut(resolver) {
            state.cache.insert(
                key,
                CacheEntry {
                    records: response.answer.clone(),
                    fetched: arrived,
                    expires: arrived + u64::from(min_ttl) * SECOND,
                },
            );
        }
        Ok((response.answer, arrived + self.rng.range(20, 80)))
    }

    /// The servers to ask for a name in `zone`, after a referral from the TLD server when the
    /// resolver's delegation has expired; and the time the resolver knows them.
    fn delegation(
        &mut self,
        resolver: usize,
        zone: Zone,
        qname: &str,
        qtype: u16,
        time: u64,
    ) -> Result<(Vec<Ipv4Addr>, u64), GenerateError> {
        let known = || {
            zone.servers()
                .iter()
                .map(|(_, address)| Ipv4Addr::from(*address))
                .collect::<Vec<_>>()
        };
        if !zone.under_example() {
            return Ok((known(), time));
        }
        let cached = self
            .resolvers
            .get(resolver)
            .and_then(|state| state.delegations.get(&zone))
            .filter(|(_, expires)| time < *expires)
            .map(|(servers, _)| servers.clone());
        if let Some(servers) = cached {
            return Ok((servers, time));
        }
        let query_at = time + self.rng.range(20, 100);
        let referral = self.world.referral(zone, query_at);
        let arrived = self.exchange(
            resolver, TLD_SERVER, qname, qtype, query_at, &referral, false,
        )?;
        let mut servers: Vec<Ipv4Addr> = referral
            .additional
            .iter()
            .filter_map(|record| match record.data {
                Rdata::A(address) => Some(address),
                _ => None,
            })
            .collect();
        if servers.is_empty() {
            // Out-of-zone server names without glue: the resolver has their addresses cached.
            servers = known();
        }
        let ttl = referral
            .authority
            .iter()
            .map(|record| record.ttl)
            .min()
            .unwrap_or(3_600);
        if let Some(state) = self.resolvers.get_mut(resolver) {
            state
                .delegations
                .insert(zone, (servers.clone(), arrived + u64::from(ttl) * SECOND));
        }
        Ok((servers, arrived))
    }

    /// Fetches (qname, qtype) from the zone's servers; returns their response and its arrival.
    fn fetch(
        &mut self,
        resolver: usize,
        qname: &str,
        qtype: u16,
        time: u64,
    ) -> Result<(AuthResponse, u64), GenerateError> {
        let Some(zone) = Zone::of(qname) else {
            return Ok((AuthResponse::default(), time));
        };
        let (servers, known_at) = self.delegation(resolver, zone, qname, qtype, time)?;
        let server = self
            .rng
            .pick(&servers)
            .copied()
            .unwrap_or(Ipv4Addr::new(198, 51, 100, 1));
        let query_at = known_at + self.rng.range(20, 120);
        let response = self
            .world
            .authoritative(server, qname, qtype, query_at, &mut self.rng);
        let arrived = self.exchange(resolver, server, qname, qtype, query_at, &response, true)?;
        Ok((response, arrived))
    }

    /// One upstream query and its response; returns the response time.
    #[allow(clippy::too_many_arguments)] // one call per upstream exchange kind; a struct adds nothing
    fn exchange(
        &mut self,
        resolver: usize,
        server: Ipv4Addr,
        qname: &str,
        qtype: u16,
        time: u64,
        response: &AuthResponse,
        authoritative: bool,
    ) -> Result<u64, GenerateError> {
        let Some(resolver_host) = self.resolvers.get(resolver).map(|r| r.host) else {
            return Ok(time);
        };
        let profile = server_profile(server);
        let path = Path {
            client: resolver_host,
            server: Host {
                mac: GATEWAY_MAC,
                addr: IpAddr::V4(server),
                ttl: profile.ip_ttl,
            },
            vlans: Vlans::None,
            flow_label: 0,
        };
        let txid = self.rng.next_u16();
        let port = ephemeral_port(&mut self.rng);
        let query = query_message(txid, 0, qname, qtype, Some(RESOLVER_EDNS))?;
        self.send(&path, Direction::ToServer, (port, 53), &query, time, false)?;
        let (low, high) = profile.rtt;
        let arrived = time + self.rng.range(low, high);
        let flags = if authoritative {
            FLAG_QR | FLAG_AA
        } else {
            FLAG_QR
        };
        let payload = response_message(&ResponseParts {
            txid,
            flags,
            qname,
            qtype,
            response,
            udp_size: profile.edns,
        })?;
        self.send(
            &path,
            Direction::ToClient,
            (53, port),
            &payload,
            arrived,
            true,
        )?;
        self.observe(arrived, resolver, &response.answer, authoritative);
        self.observe(arrived, resolver, &response.authority, false);
        Ok(arrived)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_zones_match_by_suffix() {
        for kind in ScenarioKind::ALL {
            assert_eq!(kind.name().parse::<ScenarioKind>().unwrap(), kind);
        }
        assert!("cert_cc".parse::<ScenarioKind>().is_err());
        assert_eq!(
            Zone::of("alt1.gmail-smtp-in.l.google.com"),
            Some(Zone::Google)
        );
        assert_eq!(Zone::of("gmail.com"), Some(Zone::Gmail));
        assert_eq!(Zone::of("notgmail.com"), None);
        assert_eq!(Zone::of("mail.bank.example"), Some(Zone::Bank));
    }

    #[test]
    fn rotation_stays_in_the_pool_and_gives_distinct_entries() {
        let mut rng = SplitMix64::new(3);
        for _ in 0..100 {
            let picked = rotate(&SHOP_HOSTS, 4, &mut rng);
            assert_eq!(picked.len(), 4);
            let mut unique = picked.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), 4);
        }
    }
}
