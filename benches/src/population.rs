//! The fixed population of zones and names that the traffic draws from.
//!
//! A few thousand names, built from a constant seed so that every capture (whatever its seed)
//! asks about the same names and gets the same record sets: a passive DNS store fed with it sees
//! the same (name, type, value) tuples again and again, as it would on a real network. Popular
//! names come first; the traffic picks them with a skewed distribution.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::dns::Soa;
use crate::rng::SplitMix64;

/// Seed of the population; independent of the traffic seed on purpose.
const POPULATION_SEED: u64 = 0x646e_7377_6172_6400; // "dnsward\0"
/// Number of names the population is filled up to with generated brand domains.
const TARGET_NAMES: usize = 3_000;

/// An address block that a zone's hosts are numbered from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pool {
    v4: [u8; 4],
    v4_prefix_len: u32,
    v6: Option<[u16; 3]>,
}

const fn pool(v4: [u8; 4], v4_prefix_len: u32, v6: Option<[u16; 3]>) -> Pool {
    Pool {
        v4,
        v4_prefix_len,
        v6,
    }
}

const GOOGLE: Pool = pool([142, 250, 0, 0], 15, Some([0x2a00, 0x1450, 0x4001]));
const MICROSOFT: Pool = pool([52, 96, 0, 0], 12, Some([0x2603, 0x1036, 0x0c02]));
const YAHOO: Pool = pool([98, 136, 0, 0], 14, Some([0x2001, 0x4998, 0x0024]));
const APPLE: Pool = pool([17, 0, 0, 0], 8, Some([0x2620, 0x0149, 0x0af0]));
const AKAMAI: Pool = pool([23, 32, 0, 0], 11, Some([0x2a02, 0x26f0, 0x00fe]));
const CLOUDFRONT: Pool = pool([13, 224, 0, 0], 14, Some([0x2600, 0x9000, 0x2000]));
const CLOUDFLARE: Pool = pool([104, 16, 0, 0], 13, Some([0x2606, 0x4700, 0x0010]));
const FASTLY: Pool = pool([151, 101, 0, 0], 16, Some([0x2a04, 0x4e42, 0x0200]));
const AWS: Pool = pool([52, 0, 0, 0], 11, Some([0x2600, 0x1f18, 0x0000]));
const AZURE: Pool = pool([20, 0, 0, 0], 11, Some([0x2603, 0x1030, 0x0000]));
const GCP: Pool = pool([34, 64, 0, 0], 10, Some([0x2600, 0x1900, 0x4000]));
const META: Pool = pool([157, 240, 0, 0], 16, Some([0x2a03, 0x2880, 0xf1ff]));
const HETZNER: Pool = pool([95, 216, 0, 0], 15, Some([0x2a01, 0x04f9, 0x0000]));
const OVH: Pool = pool([51, 68, 0, 0], 14, Some([0x2001, 0x41d0, 0x0000]));
const GITHUB: Pool = pool([140, 82, 112, 0], 20, None);
const WIKIMEDIA: Pool = pool([208, 80, 152, 0], 22, Some([0x2620, 0x0000, 0x0860]));
const UNITED_INTERNET: Pool = pool([212, 227, 0, 0], 16, Some([0x2001, 0x08d8, 0x0000]));
const YANDEX: Pool = pool([77, 88, 0, 0], 18, Some([0x2a02, 0x06b8, 0x0000]));
const EUROPE_MISC: Pool = pool([193, 0, 0, 0], 8, None);
const US_MISC: Pool = pool([162, 0, 0, 0], 8, None);

impl Pool {
    fn v4_address(&self, rng: &mut SplitMix64) -> Ipv4Addr {
        let base = u32::from_be_bytes(self.v4);
        let host_bits = 32 - self.v4_prefix_len.min(24);
        let mask = if host_bits >= 32 {
            u32::MAX
        } else {
            (1u32 << host_bits) - 1
        };
        let random = rng.next_u32() & mask & !0xff;
        let last = rng.range(1, 254) as u32;
        Ipv4Addr::from((base & !mask) | random | last)
    }

    fn v6_address(&self, rng: &mut SplitMix64) -> Option<Ipv6Addr> {
        let [a, b, c] = self.v6?;
        let subnet = rng.next_u16() & 0x0fff;
        let iid = if rng.chance(500_000) {
            rng.range(1, 0x30) as u16
        } else {
            rng.next_u16()
        };
        Some(Ipv6Addr::new(a, b, c, subnet, 0, 0, 0, iid))
    }
}

/// Who runs a zone's authoritative servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Google,
    Microsoft,
    Yahoo,
    Apple,
    Meta,
    Akamai,
    Route53,
    Cloudflare,
    Ns1,
    UltraDns,
    /// `ns1`/`ns2` inside the zone itself, numbered from the zone's pool (so glue is needed).
    SelfHosted,
}

/// An authoritative server of a zone.
#[derive(Debug, Clone)]
pub(crate) struct NameServer {
    pub host: String,
    pub v4: Ipv4Addr,
    pub v6: Option<Ipv6Addr>,
    /// IP TTL of its packets when they reach the capture point.
    pub arriving_ttl: u8,
}

/// A zone: apex, authoritative servers and SOA.
#[derive(Debug, Clone)]
pub(crate) struct Zone {
    pub apex: String,
    pub servers: Vec<NameServer>,
    pub ns_ttl: u32,
    pub soa: Soa,
    pub soa_ttl: u32,
    /// Delegated from the .com/.net servers, so a resolver may be referred to it.
    pub under_gtld: bool,
    /// DNSKEY RRset (flags, public key) for signed zones; empty when unsigned.
    pub dnskeys: Vec<(u16, Vec<u8>)>,
}

/// A name and its record sets.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub name: String,
    pub zone: usize,
    pub ttl: u32,
    pub cname: Option<usize>,
    pub a: Vec<Ipv4Addr>,
    pub aaaa: Vec<Ipv6Addr>,
    pub mx: Vec<(u16, String)>,
    pub txt: Vec<Vec<String>>,
    pub ptr: Option<String>,
    /// TXT RRset too large for a plain UDP answer; asked only over TCP or with a big buffer.
    pub big_txt: bool,
}

/// The whole population.
#[derive(Debug, Clone)]
pub(crate) struct Population {
    pub zones: Vec<Zone>,
    pub entries: Vec<Entry>,
    /// Forward names that clients ask about, most popular first.
    pub popular: Vec<usize>,
    /// Reverse (PTR) names.
    pub reverse: Vec<usize>,
    /// Names below existing zones that do not exist (NXDOMAIN), with their zone.
    pub missing: Vec<(String, usize)>,
    /// Mail domains (entries with MX records), most popular first.
    pub mail: Vec<usize>,
    /// Apex entries with a large TXT RRset, smallest first.
    pub big_txt: Vec<usize>,
    /// Signed zones (with DNSKEY RRsets).
    pub signed: Vec<usize>,
    /// The root zone (NXDOMAIN for single-label probes comes from here).
    pub root: usize,
    /// The .com/.net registry servers, which answer with referrals.
    pub gtld: usize,
    /// `10.in-addr.arpa`, answered locally by the resolvers (RFC 6303).
    pub local_reverse: usize,
}

struct Builder {
    rng: SplitMix64,
    zones: Vec<Zone>,
    zone_index: HashMap<String, usize>,
    entries: Vec<Entry>,
    entry_index: HashMap<String, usize>,
    popular: Vec<usize>,
    tail: Vec<usize>,
    mail: Vec<usize>,
}

/// The registrable part of a name: the last two labels, or three under `co.uk`-style suffixes.
fn registered_domain(name: &str) -> &str {
    let labels: Vec<&str> = name.split('.').collect();
    let count = labels.len();
    let second_level = ["co", "com", "ac", "org", "gov", "net", "ne", "or"];
    let take = match (labels.get(count.wrapping_sub(2)), labels.last()) {
        (Some(second), Some(top)) if top.len() == 2 && second_level.contains(second) => 3,
        _ => 2,
    };
    let skip = count.saturating_sub(take);
    let start: usize = labels.iter().take(skip).map(|label| label.len() + 1).sum();
    name.get(start..).unwrap_or(name)
}

fn ttl_choice(rng: &mut SplitMix64) -> u32 {
    const TTLS: [u32; 14] = [
        20, 30, 60, 60, 120, 300, 300, 300, 600, 900, 1800, 3600, 3600, 86400,
    ];
    rng.pick(&TTLS).copied().unwrap_or(300)
}

/// The IP TTL (hop limit) a server's packets arrive with: 44 to 59, a function of its address
/// bytes.
pub(crate) fn arriving_ttl(addr: &[u8]) -> u8 {
    let h = addr.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    });
    44 + (h % 16) as u8
}

fn random_label(rng: &mut SplitMix64, alphabet: &[u8], len: u64) -> String {
    (0..len)
        .map(|_| char::from(rng.pick(alphabet).copied().unwrap_or(b'x')))
        .collect()
}

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";
const AIRPORTS: [&str; 16] = [
    "fra", "ams", "lhr", "cdg", "iad", "ord", "dfw", "sjc", "sea", "nrt", "sin", "syd", "mad",
    "waw", "arn", "mia",
];

impl Builder {
    fn servers(&mut self, provider: Provider, apex: &str, pool: Pool) -> Vec<NameServer> {
        let rng = &mut self.rng;
        // Drawn and not used, so that the rest of the population stays as it was; the TTL
        // depends on the address, as on a real network (one address, one path, one hop count,
        // whichever zones it serves).
        let _ = rng.range(44, 60);
        let server = |host: String, v4: [u8; 4], v6: Option<Ipv6Addr>| NameServer {
            host,
            v4: Ipv4Addr::from(v4),
            v6,
            arriving_ttl: arriving_ttl(&v4),
        };
        match provider {
            Provider::Google => (1..=4u8)
                .map(|n| {
                    let v6 = Ipv6Addr::new(
                        0x2001,
                        0x4860,
                        0x4802,
                        0x30 + 2 * u16::from(n),
                        0,
                        0,
                        0,
                        0xa,
                    );
                    server(
                        format!("ns{n}.google.com"),
                        [216, 239, 30 + 2 * n, 10],
                        Some(v6),
                    )
                })
                .collect(),
            Provider::Microsoft => {
                let n = rng.range(1, 99) as u8;
                let v6 = |a: u16, b: u16, c: u16| {
                    Some(Ipv6Addr::new(a, b, c, 0x10, 0, 0, 0, u16::from(n)))
                };
                vec![
                    server(
                        format!("ns1-{n:02}.azure-dns.com"),
                        [150, 171, 10, n],
                        v6(0x2603, 0x1061, 0),
                    ),
                    server(
                        format!("ns2-{n:02}.azure-dns.net"),
                        [150, 171, 16, n],
                        v6(0x2620, 0x1ec, 0x8ec),
                    ),
                    server(
                        format!("ns3-{n:02}.azure-dns.org"),
                        [13, 107, 222, n],
                        v6(0x2a01, 0x111, 0x4000),
                    ),
                    server(
                        format!("ns4-{n:02}.azure-dns.info"),
                        [13, 107, 206, n],
                        v6(0x2620, 0x1ec, 0xbda),
                    ),
                ]
            }
            Provider::Yahoo => vec![
                server(
                    "ns1.yahoo.com".into(),
                    [68, 180, 131, 16],
                    Some(Ipv6Addr::new(0x2001, 0x4998, 0x1b0, 0, 0, 0, 0, 0x1001)),
                ),
                server(
                    "ns2.yahoo.com".into(),
                    [68, 142, 255, 16],
                    Some(Ipv6Addr::new(0x2001, 0x4998, 0x1c0, 0, 0, 0, 0, 0x1001)),
                ),
                server("ns5.yahoo.com".into(), [202, 165, 97, 53], None),
            ],
            Provider::Apple => vec![
                server(
                    "a.ns.apple.com".into(),
                    [17, 253, 200, 1],
                    Some(Ipv6Addr::new(0x2620, 0x149, 0xae0, 0, 0, 0, 0, 0x53)),
                ),
                server(
                    "b.ns.apple.com".into(),
                    [17, 253, 207, 1],
                    Some(Ipv6Addr::new(0x2620, 0x149, 0xae7, 0, 0, 0, 0, 0x53)),
                ),
                server("c.ns.apple.com".into(), [204, 19, 119, 1], None),
                server("d.ns.apple.com".into(), [204, 26, 57, 1], None),
            ],
            Provider::Meta => ["a", "b", "c", "d"]
                .iter()
                .zip(0u8..)
                .map(|(letter, n)| {
                    let v6 = Ipv6Addr::new(
                        0x2a03,
                        0x2880,
                        0xf0fc,
                        0xc + u16::from(n),
                        0xface,
                        0xb00c,
                        0,
                        0x35,
                    );
                    server(
                        format!("{letter}.ns.facebook.com"),
                        [129, 134, 30 + n, 12],
                        Some(v6),
                    )
                })
                .collect(),
            Provider::Akamai => [
                (1u8, [193, 108, 91]),
                (2, [95, 100, 174]),
                (7, [23, 61, 199]),
                (9, [184, 85, 248]),
            ]
            .iter()
            .map(|(set, prefix)| {
                let n = rng.range(1, 200) as u8;
                let [a, b, c] = *prefix;
                let v6 =
                    (*set == 1).then(|| Ipv6Addr::new(0x2600, 0x1401, 2, 0, 0, 0, 0, u16::from(n)));
                server(format!("a{set}-{n}.akam.net"), [a, b, c, n], v6)
            })
            .collect(),
            Provider::Route53 => ["com", "net", "org", "co.uk"]
                .iter()
                .map(|tld| {
                    let k = rng.below(2048) as u16;
                    let [high, low] = k.to_be_bytes();
                    let v6 = Ipv6Addr::new(
                        0x2600,
                        0x9000,
                        0x5300 + u16::from(high),
                        0,
                        0,
                        0,
                        0,
                        u16::from(low),
                    );
                    let host = format!("ns-{k}.awsdns-{:02}.{tld}", rng.below(64));
                    server(host, [205, 251, 192 + high, low], Some(v6))
                })
                .collect(),
            Provider::Cloudflare => {
                const NAMES: [&str; 12] = [
                    "ada", "bob", "dana", "elle", "fred", "gina", "hank", "ines", "kara", "lana",
                    "olga", "walt",
                ];
                // Two different names, as Cloudflare assigns them.
                let first = rng.index(NAMES.len());
                let second = (first + 1 + rng.index(NAMES.len() - 1)) % NAMES.len();
                (0..2u8)
                    .map(|n| {
                        let pick = if n == 0 { first } else { second };
                        let name = NAMES.get(pick).copied().unwrap_or("ada");
                        let last = rng.range(1, 250) as u8;
                        let v6 = Ipv6Addr::new(
                            0x2803,
                            0xf800,
                            0x50,
                            0,
                            0,
                            0,
                            0x6ca2,
                            0xc000 | u16::from(last),
                        );
                        let v4 = if n == 0 {
                            [173, 245, 58, last]
                        } else {
                            [108, 162, 192, last]
                        };
                        server(format!("{name}.ns.cloudflare.com"), v4, Some(v6))
                    })
                    .collect()
            }
            Provider::Ns1 => {
                let p = rng.range(1, 9) as u8;
                (1..=4u8)
                    .map(|n| {
                        let v4 = [198, 51, 44 + (n + 1) % 2, p + 64 * ((n - 1) / 2)];
                        let v6 = Ipv6Addr::new(0x2620, 0x4d, 0x4000, 0x6259, 7, u16::from(n), 0, 1);
                        server(format!("dns{n}.p{p:02}.nsone.net"), v4, Some(v6))
                    })
                    .collect()
            }
            Provider::UltraDns => [
                ("net", [204, 74, 108, 1]),
                ("org", [204, 74, 109, 1]),
                ("com", [199, 7, 68, 1]),
                ("biz", [199, 7, 69, 1]),
            ]
            .iter()
            .zip(1u8..)
            .map(|((tld, v4), n)| server(format!("pdns{n}.ultradns.{tld}"), *v4, None))
            .collect(),
            Provider::SelfHosted => (1..=2)
                .map(|n| {
                    let v4 = pool.v4_address(rng).octets();
                    let v6 = pool.v6_address(rng);
                    server(format!("ns{n}.{apex}"), v4, v6)
                })
                .collect(),
        }
    }

    fn zone(&mut self, apex: &str, provider: Provider, pool: Pool) -> usize {
        if let Some(index) = self.zone_index.get(apex) {
            return *index;
        }
        let servers = self.servers(provider, apex, pool);
        let mname = servers
            .first()
            .map(|s| s.host.clone())
            .unwrap_or_else(|| format!("ns1.{apex}"));
        let rname = match provider {
            Provider::Google => "dns-admin.google.com".to_owned(),
            Provider::Route53 => "awsdns-hostmaster.amazon.com".to_owned(),
            Provider::Cloudflare => "dns.cloudflare.com".to_owned(),
            Provider::Microsoft => "azuredns-hostmaster.microsoft.com".to_owned(),
            Provider::Akamai => "hostmaster.akamai.com".to_owned(),
            _ => format!("hostmaster.{apex}"),
        };
        let rng = &mut self.rng;
        let serial = if rng.chance(500_000) {
            2_026_010_100 + rng.below(99) as u32
        } else {
            rng.range(1, 2_400_000_000) as u32
        };
        let minimum = [60, 300, 300, 900, 1800, 3600]
            .get(rng.index(6))
            .copied()
            .unwrap_or(300);
        let soa = Soa {
            mname,
            rname,
            serial,
            refresh: [7200, 900, 10800, 3600]
                .get(rng.index(4))
                .copied()
                .unwrap_or(7200),
            retry: [900, 1800, 3600, 300]
                .get(rng.index(4))
                .copied()
                .unwrap_or(900),
            expire: [1_209_600, 604_800, 1_814_400]
                .get(rng.index(3))
                .copied()
                .unwrap_or(1_209_600),
            minimum,
        };
        let under_gtld = apex.ends_with(".com") || apex.ends_with(".net");
        let zone = Zone {
            apex: apex.to_owned(),
            servers,
            ns_ttl: [86_400, 172_800, 345_600, 3600]
                .get(rng.index(4))
                .copied()
                .unwrap_or(86_400),
            soa,
            soa_ttl: minimum.max(900),
            under_gtld,
            dnskeys: Vec::new(),
        };
        self.zones.push(zone);
        let index = self.zones.len() - 1;
        self.zone_index.insert(apex.to_owned(), index);
        index
    }

    /// Finds or creates the entry for `name` in its registered domain's zone.
    fn entry(&mut self, name: &str, provider: Provider, pool: Pool) -> usize {
        if let Some(index) = self.entry_index.get(name) {
            return *index;
        }
        let zone = self.zone(registered_domain(name), provider, pool);
        let ttl = ttl_choice(&mut self.rng);
        self.entries.push(Entry {
            name: name.to_owned(),
            zone,
            ttl,
            cname: None,
            a: Vec::new(),
            aaaa: Vec::new(),
            mx: Vec::new(),
            txt: Vec::new(),
            ptr: None,
            big_txt: false,
        });
        let index = self.entries.len() - 1;
        self.entry_index.insert(name.to_owned(), index);
        index
    }

    /// Gives an entry 1..=`max_v4` IPv4 addresses and (when the pool has IPv6) some IPv6 ones.
    fn addresses(&mut self, index: usize, pool: Pool, max_v4: u64) {
        let count = self.rng.range(1, max_v4);
        let v6_count = if pool.v6.is_some() && self.rng.chance(700_000) {
            self.rng.range(1, 2)
        } else {
            0
        };
        let a: Vec<Ipv4Addr> = (0..count).map(|_| pool.v4_address(&mut self.rng)).collect();
        let aaaa: Vec<Ipv6Addr> = (0..v6_count)
            .filter_map(|_| pool.v6_address(&mut self.rng))
            .collect();
        if let Some(entry) = self.entries.get_mut(index) {
            entry.a = a;
            entry.aaaa = aaaa;
        }
    }

    fn host(&mut self, name: &str, provider: Provider, pool: Pool, max_v4: u64) -> usize {
        let index = self.entry(name, provider, pool);
        self.addresses(index, pool, max_v4);
        index
    }

    fn set_ttl(&mut self, index: usize, ttl: u32) {
        if let Some(entry) = self.entries.get_mut(index) {
            entry.ttl = ttl;
        }
    }

    fn alias(&mut self, index: usize, target: usize) {
        if let Some(entry) = self.entries.get_mut(index) {
            entry.cname = Some(target);
            entry.a.clear();
            entry.aaaa.clear();
        }
    }

    /// A random-looking CDN name for `owner` and the chain that leads to addresses.
    fn cdn_target(&mut self, owner: &str) -> usize {
        let kind = self.rng.below(5);
        match kind {
            0 => {
                // www.example.com -> www.example.com.edgekey.net -> e1234.a.akamaiedge.net
                let edge = format!(
                    "e{}.{}.akamaiedge.net",
                    self.rng.range(1000, 99_999),
                    ["a", "b", "dscb", "dscx", "dsce"]
                        .get(self.rng.index(5))
                        .copied()
                        .unwrap_or("a")
                );
                let leaf = self.host(&edge, Provider::Akamai, AKAMAI, 2);
                self.set_ttl(leaf, 20);
                let key = self.entry(&format!("{owner}.edgekey.net"), Provider::Akamai, AKAMAI);
                self.set_ttl(key, 21_600);
                self.alias(key, leaf);
                key
            }
            1 => {
                let label = random_label(&mut self.rng, ALNUM, 13);
                let leaf = self.host(
                    &format!("d{label}.cloudfront.net"),
                    Provider::Route53,
                    CLOUDFRONT,
                    4,
                );
                self.set_ttl(leaf, 60);
                leaf
            }
            2 => {
                let brand = registered_domain(owner)
                    .split('.')
                    .next()
                    .unwrap_or("site")
                    .to_owned();
                let leaf = self.host(
                    &format!("dualstack.{brand}.map.fastly.net"),
                    Provider::Ns1,
                    FASTLY,
                    4,
                );
                self.set_ttl(leaf, 30);
                leaf
            }
            3 => {
                let brand = registered_domain(owner)
                    .split('.')
                    .next()
                    .unwrap_or("site")
                    .to_owned();
                let suffix = random_label(&mut self.rng, HEX, 16);
                let leaf = self.host(
                    &format!("{brand}-{suffix}.z01.azurefd.net"),
                    Provider::Microsoft,
                    AZURE,
                    2,
                );
                self.set_ttl(leaf, 60);
                leaf
            }
            _ => {
                let label = random_label(&mut self.rng, ALNUM, 10);
                let leaf = self.host(
                    &format!("{label}.cdn.cloudflare.net"),
                    Provider::Cloudflare,
                    CLOUDFLARE,
                    2,
                );
                self.set_ttl(leaf, 300);
                leaf
            }
        }
    }

    /// A site: apex and `www` with addresses, a few subdomains, some behind CDN aliases.
    fn site(
        &mut self,
        apex: &str,
        provider: Provider,
        pool: Pool,
        subdomains: &[&str],
        popular: bool,
    ) {
        let apex_entry = self.host(apex, provider, pool, 3);
        let mut names = vec![apex_entry];
        for label in subdomains {
            let name = format!("{label}.{apex}");
            let index = self.host(&name, provider, pool, 4);
            if self.rng.chance(350_000) {
                let target = self.cdn_target(&name);
                self.alias(index, target);
            }
            names.push(index);
        }
        if popular {
            self.popular.extend(names);
        } else {
            self.tail.extend(names);
        }
    }

    fn mail_domain(
        &mut self,
        apex: &str,
        provider: Provider,
        pool: Pool,
        mx: &[(u16, &str)],
        spf: &str,
    ) {
        let index = self.host(apex, provider, pool, 2);
        let hosts: Vec<(u16, String)> = mx
            .iter()
            .map(|(pref, host)| (*pref, (*host).to_owned()))
            .collect();
        for (_, host) in &hosts {
            let mx_host = self.host(host, provider, pool, 2);
            let ttl = [300, 3600, 300]
                .get(self.rng.index(3))
                .copied()
                .unwrap_or(300);
            self.set_ttl(mx_host, ttl);
            self.tail.push(mx_host);
        }
        let dmarc_policy = ["reject", "quarantine", "none"]
            .get(self.rng.index(3))
            .copied()
            .unwrap_or("none");
        let dmarc = self.entry(&format!("_dmarc.{apex}"), provider, pool);
        if let Some(entry) = self.entries.get_mut(dmarc) {
            entry.txt = vec![vec![format!(
                "v=DMARC1; p={dmarc_policy}; rua=mailto:dmarc-reports@{apex}"
            )]];
            entry.ttl = 3600;
        }
        if let Some(entry) = self.entries.get_mut(index) {
            entry.mx = hosts;
            entry.txt = vec![vec![spf.to_owned()]];
            entry.ttl = 3600;
        }
        self.popular.push(index);
        self.mail.push(index);
        self.tail.push(dmarc);
    }

    fn big_txt(&mut self, index: usize, records: u64) {
        let vendors = [
            "google-site-verification=",
            "MS=ms",
            "facebook-domain-verification=",
            "apple-domain-verification=",
            "atlassian-domain-verification=",
            "docusign=",
            "adobe-idp-site-verification=",
            "globalsign-smime-dv=",
            "stripe-verification=",
            "zoom-domain-verification=",
            "onetrust-domain-verification=",
            "miro-verification=",
        ];
        let mut txt = Vec::new();
        for n in 0..records {
            let vendor = vendors
                .get((n as usize) % vendors.len())
                .copied()
                .unwrap_or("v=");
            let token_len = self.rng.range(24, 44);
            txt.push(vec![format!(
                "{vendor}{}",
                random_label(&mut self.rng, ALNUM, token_len)
            )]);
        }
        if let Some(entry) = self.entries.get_mut(index) {
            entry.txt = txt;
            entry.big_txt = true;
            entry.ttl = 3600;
        }
    }

    fn reverse(&mut self, forward: usize) -> Option<usize> {
        let entry = self.entries.get(forward)?;
        let address = *entry.a.first()?;
        let [a, b, c, d] = address.octets();
        let airport = self.rng.pick(&AIRPORTS).copied().unwrap_or("fra");
        let target = if GOOGLE.contains(address) {
            format!(
                "{airport}{:02}s{:02}-in-f{}.1e100.net",
                self.rng.range(1, 30),
                self.rng.range(1, 60),
                d % 32
            )
        } else if CLOUDFRONT.contains(address) {
            format!(
                "server-{a}-{b}-{c}-{d}.{airport}{}.r.cloudfront.net",
                self.rng.range(50, 80)
            )
        } else if AKAMAI.contains(address) {
            format!("a{a}-{b}-{c}-{d}.deploy.static.akamaitechnologies.com")
        } else if AWS.contains(address) {
            format!("ec2-{a}-{b}-{c}-{d}.compute-1.amazonaws.com")
        } else if HETZNER.contains(address) {
            format!("static.{d}.{c}.{b}.{a}.clients.your-server.de")
        } else {
            entry.name.clone()
        };
        let name = format!("{d}.{c}.{b}.{a}.in-addr.arpa");
        let zone_apex = format!("{b}.{a}.in-addr.arpa");
        let zone = self.zone(&zone_apex, Provider::UltraDns, EUROPE_MISC);
        let index = self.entry(&name, Provider::UltraDns, EUROPE_MISC);
        if let Some(reverse) = self.entries.get_mut(index) {
            reverse.zone = zone;
            reverse.ptr = Some(target);
            reverse.ttl = [3600, 86400, 300]
                .get(self.rng.index(3))
                .copied()
                .unwrap_or(3600);
        }
        Some(index)
    }
}

impl Pool {
    fn contains(&self, address: Ipv4Addr) -> bool {
        let mask = if self.v4_prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - self.v4_prefix_len.min(32))
        };
        (u32::from(address) & mask) == (u32::from_be_bytes(self.v4) & mask)
    }
}

impl Population {
    /// Builds the population; the same every time.
    pub(crate) fn build() -> Self {
        let mut b = Builder {
            rng: SplitMix64::new(POPULATION_SEED),
            zones: Vec::new(),
            zone_index: HashMap::new(),
            entries: Vec::new(),
            entry_index: HashMap::new(),
            popular: Vec::new(),
            tail: Vec::new(),
            mail: Vec::new(),
        };
        use Provider::*;
        // The most asked-about names first.
        b.site(
            "google.com",
            Google,
            GOOGLE,
            &[
                "www", "mail", "accounts", "apis", "play", "clients4", "update", "drive", "docs",
                "maps",
            ],
            true,
        );
        b.site(
            "googleapis.com",
            Google,
            GOOGLE,
            &[
                "www",
                "fonts",
                "storage",
                "content",
                "oauth2",
                "safebrowsing",
                "play",
            ],
            true,
        );
        b.site(
            "gstatic.com",
            Google,
            GOOGLE,
            &["www", "fonts", "ssl", "encrypted-tbn0", "connectivitycheck"],
            true,
        );
        b.site(
            "youtube.com",
            Google,
            GOOGLE,
            &["www", "m", "i", "music"],
            true,
        );
        b.site(
            "facebook.com",
            Meta,
            META,
            &["www", "m", "graph", "edge-mqtt", "star-mini.c10r"],
            true,
        );
        b.site(
            "instagram.com",
            Meta,
            META,
            &["www", "i", "graph", "scontent"],
            true,
        );
        b.site(
            "whatsapp.net",
            Meta,
            META,
            &["g", "mmg", "media-fra3-1", "pps"],
            true,
        );
        b.site(
            "microsoft.com",
            Microsoft,
            MICROSOFT,
            &["www", "login", "go", "learn", "update"],
            true,
        );
        b.site(
            "office.com",
            Microsoft,
            MICROSOFT,
            &["www", "outlook", "substrate"],
            true,
        );
        b.site(
            "windowsupdate.com",
            Microsoft,
            AZURE,
            &["www", "download", "ctldl"],
            true,
        );
        b.site(
            "apple.com",
            Apple,
            APPLE,
            &["www", "gsp-ssl", "init", "configuration", "mesu", "time"],
            true,
        );
        b.site(
            "amazon.com",
            Route53,
            AWS,
            &["www", "images-na", "fls-na", "unagi"],
            true,
        );
        b.site(
            "amazonaws.com",
            Route53,
            AWS,
            &[
                "s3",
                "dynamodb.us-east-1",
                "sts",
                "ec2.eu-west-1",
                "s3.eu-central-1",
            ],
            true,
        );
        b.site(
            "cloudflare.com",
            Cloudflare,
            CLOUDFLARE,
            &["www", "dash", "api", "one"],
            true,
        );
        b.site(
            "github.com",
            Ns1,
            GITHUB,
            &["www", "api", "codeload", "collector", "alive"],
            true,
        );
        b.site(
            "githubusercontent.com",
            Ns1,
            FASTLY,
            &["raw", "objects", "avatars", "camo"],
            true,
        );
        b.site(
            "wikipedia.org",
            SelfHosted,
            WIKIMEDIA,
            &["www", "en", "de", "fr", "upload"],
            true,
        );
        b.site(
            "netflix.com",
            Route53,
            AWS,
            &["www", "api-global", "ichnaea", "assets"],
            true,
        );
        b.site("twitter.com", Route53, FASTLY, &["www", "api", "abs"], true);
        b.site(
            "x.com",
            Cloudflare,
            CLOUDFLARE,
            &["www", "api", "abs"],
            true,
        );
        b.site(
            "linkedin.com",
            Akamai,
            AKAMAI,
            &["www", "static", "media"],
            true,
        );
        b.site(
            "reddit.com",
            Route53,
            FASTLY,
            &["www", "oauth", "gql"],
            true,
        );
        b.site(
            "zoom.us",
            Route53,
            AWS,
            &["www", "us02web", "us04web"],
            true,
        );
        b.site(
            "slack.com",
            Route53,
            AWS,
            &["www", "app", "wss-primary"],
            true,
        );
        b.site(
            "spotify.com",
            Google,
            GCP,
            &["www", "open", "apresolve", "spclient.wg"],
            true,
        );
        b.site(
            "doubleclick.net",
            Google,
            GOOGLE,
            &["ad", "stats.g", "securepubads.g", "googleads.g"],
            true,
        );
        b.site(
            "google-analytics.com",
            Google,
            GOOGLE,
            &["www", "region1", "ssl"],
            true,
        );
        b.site("googletagmanager.com", Google, GOOGLE, &["www"], true);
        b.site("bing.com", Microsoft, MICROSOFT, &["www", "th", "r"], true);
        b.site("tiktok.com", Akamai, AKAMAI, &["www", "m", "mcs-va"], true);

        b.mail_domain(
            "gmail.com",
            Google,
            GOOGLE,
            &[
                (5, "gmail-smtp-in.l.google.com"),
                (10, "alt1.gmail-smtp-in.l.google.com"),
                (20, "alt2.gmail-smtp-in.l.google.com"),
                (30, "alt3.gmail-smtp-in.l.google.com"),
                (40, "alt4.gmail-smtp-in.l.google.com"),
            ],
            "v=spf1 redirect=_spf.google.com",
        );
        b.mail_domain(
            "googlemail.com",
            Google,
            GOOGLE,
            &[
                (5, "gmail-smtp-in.l.google.com"),
                (10, "alt1.gmail-smtp-in.l.google.com"),
            ],
            "v=spf1 redirect=_spf.google.com",
        );
        b.mail_domain(
            "outlook.com",
            Microsoft,
            MICROSOFT,
            &[(10, "outlook-com.olc.protection.outlook.com")],
            "v=spf1 include:spf2.outlook.com -all",
        );
        b.mail_domain(
            "hotmail.com",
            Microsoft,
            MICROSOFT,
            &[(2, "hotmail-com.olc.protection.outlook.com")],
            "v=spf1 include:spf.protection.outlook.com include:spf-a.hotmail.com ~all",
        );
        b.mail_domain(
            "live.com",
            Microsoft,
            MICROSOFT,
            &[(2, "live-com.olc.protection.outlook.com")],
            "v=spf1 include:spf.protection.outlook.com -all",
        );
        b.mail_domain(
            "yahoo.com",
            Yahoo,
            YAHOO,
            &[
                (1, "mta5.am0.yahoodns.net"),
                (1, "mta6.am0.yahoodns.net"),
                (1, "mta7.am0.yahoodns.net"),
            ],
            "v=spf1 redirect=_spf.mail.yahoo.com",
        );
        b.mail_domain(
            "aol.com",
            Yahoo,
            YAHOO,
            &[(10, "mx-aol.mail.gm0.yahoodns.net")],
            "v=spf1 include:_spf.mail.aol.com ~all",
        );
        b.mail_domain(
            "icloud.com",
            Apple,
            APPLE,
            &[(10, "mx01.mail.icloud.com"), (10, "mx02.mail.icloud.com")],
            "v=spf1 ip4:17.41.0.0/16 ip4:17.58.0.0/16 ip4:17.142.0.0/15 ~all",
        );
        b.mail_domain(
            "me.com",
            Apple,
            APPLE,
            &[(10, "mx01.mail.icloud.com"), (10, "mx02.mail.icloud.com")],
            "v=spf1 include:icloud.com ~all",
        );
        b.mail_domain(
            "protonmail.com",
            SelfHosted,
            EUROPE_MISC,
            &[(5, "mail.protonmail.ch"), (10, "mailsec.protonmail.ch")],
            "v=spf1 include:_spf.protonmail.ch ~all",
        );
        b.mail_domain(
            "proton.me",
            SelfHosted,
            EUROPE_MISC,
            &[(10, "mail.protonmail.ch"), (20, "mailsec.protonmail.ch")],
            "v=spf1 include:_spf.protonmail.ch ~all",
        );
        b.mail_domain(
            "gmx.de",
            SelfHosted,
            UNITED_INTERNET,
            &[(10, "mx00.gmx.net"), (10, "mx01.gmx.net")],
            "v=spf1 ip4:213.165.64.0/23 ip4:212.227.126.128/25 -all",
        );
        b.mail_domain(
            "web.de",
            SelfHosted,
            UNITED_INTERNET,
            &[(100, "mx-ha02.web.de"), (100, "mx-ha03.web.de")],
            "v=spf1 ip4:213.165.64.0/23 ip4:217.72.192.64/26 -all",
        );
        b.mail_domain(
            "mail.ru",
            SelfHosted,
            EUROPE_MISC,
            &[(10, "mxs.mail.ru")],
            "v=spf1 ip4:94.100.176.0/20 ip4:217.69.128.0/20 ~all",
        );
        b.mail_domain(
            "yandex.ru",
            SelfHosted,
            YANDEX,
            &[(10, "mx.yandex.ru")],
            "v=spf1 redirect=_spf.yandex.ru",
        );
        b.mail_domain(
            "zoho.com",
            Route53,
            US_MISC,
            &[
                (10, "mx.zoho.com"),
                (20, "mx2.zoho.com"),
                (50, "mx3.zoho.com"),
            ],
            "v=spf1 include:zcsend.net ~all",
        );
        b.mail_domain(
            "fastmail.com",
            SelfHosted,
            US_MISC,
            &[
                (10, "in1-smtp.messagingengine.com"),
                (20, "in2-smtp.messagingengine.com"),
            ],
            "v=spf1 include:spf.messagingengine.com ?all",
        );
        b.mail_domain(
            "comcast.net",
            UltraDns,
            US_MISC,
            &[(5, "mx1a1.comcast.net"), (5, "mx2c1.comcast.net")],
            "v=spf1 include:spf.comcast.net -all",
        );
        b.mail_domain(
            "orange.fr",
            SelfHosted,
            EUROPE_MISC,
            &[(10, "smtp-in.orange.fr")],
            "v=spf1 include:_spf.orange.fr ~all",
        );
        b.mail_domain(
            "t-online.de",
            SelfHosted,
            EUROPE_MISC,
            &[(10, "mx00.t-online.de"), (10, "mx01.t-online.de")],
            "v=spf1 ip4:194.25.134.0/24 -all",
        );

        // Banks: the names a poisoning attacker wants.
        let banks: [(&str, Provider, Pool); 24] = [
            ("chase.com", UltraDns, pool([159, 53, 0, 0], 16, None)),
            (
                "bankofamerica.com",
                UltraDns,
                pool([171, 159, 0, 0], 16, None),
            ),
            ("wellsfargo.com", Akamai, pool([159, 45, 0, 0], 16, None)),
            ("citi.com", UltraDns, pool([192, 193, 0, 0], 16, None)),
            ("usbank.com", SelfHosted, US_MISC),
            ("capitalone.com", Route53, AWS),
            ("pnc.com", UltraDns, US_MISC),
            ("hsbc.com", Akamai, EUROPE_MISC),
            ("hsbc.co.uk", Akamai, EUROPE_MISC),
            ("barclays.co.uk", UltraDns, EUROPE_MISC),
            ("lloydsbank.com", SelfHosted, EUROPE_MISC),
            ("natwest.com", UltraDns, EUROPE_MISC),
            ("santander.com", Akamai, EUROPE_MISC),
            ("bnpparibas.com", SelfHosted, EUROPE_MISC),
            ("deutsche-bank.de", SelfHosted, EUROPE_MISC),
            ("commerzbank.de", SelfHosted, EUROPE_MISC),
            ("ing.com", Akamai, EUROPE_MISC),
            ("rabobank.nl", SelfHosted, EUROPE_MISC),
            ("ubs.com", UltraDns, EUROPE_MISC),
            ("commbank.com.au", Akamai, AKAMAI),
            ("rbc.com", UltraDns, US_MISC),
            ("td.com", Akamai, US_MISC),
            ("paypal.com", UltraDns, AKAMAI),
            ("revolut.com", Cloudflare, CLOUDFLARE),
        ];
        for (apex, provider, bank_pool) in banks {
            let count = b.rng.range(3, 6) as usize;
            let labels = [
                "www", "online", "secure", "login", "auth", "api", "mobile", "connect",
            ];
            let chosen: Vec<&str> = labels.iter().take(count).copied().collect();
            b.site(apex, provider, bank_pool, &chosen, true);
        }

        // Random-looking CDN and cloud names that real traffic is full of.
        for _ in 0..40 {
            let name = format!(
                "rr{}---sn-{}.googlevideo.com",
                b.rng.range(1, 5),
                random_label(&mut b.rng, ALNUM, 8)
            );
            let index = b.host(&name, Google, GOOGLE, 1);
            b.set_ttl(index, 1800);
            b.tail.push(index);
        }
        for _ in 0..30 {
            let airport = b.rng.pick(&AIRPORTS).copied().unwrap_or("fra");
            let name = format!(
                "scontent-{airport}{}-{}.xx.fbcdn.net",
                b.rng.range(1, 5),
                b.rng.range(1, 2)
            );
            let index = b.host(&name, Meta, META, 1);
            b.set_ttl(index, 3600);
            b.tail.push(index);
        }
        for _ in 0..60 {
            let index = b.host("placeholder.compute-1.amazonaws.com", Route53, AWS, 1);
            let address = b.entries.get(index).and_then(|e| e.a.first().copied());
            if let (Some(address), Some(entry)) = (address, b.entries.get_mut(index)) {
                let [o1, o2, o3, o4] = address.octets();
                let name = format!("ec2-{o1}-{o2}-{o3}-{o4}.compute-1.amazonaws.com");
                entry.name = name.clone();
                b.entry_index.remove("placeholder.compute-1.amazonaws.com");
                b.entry_index.insert(name, index);
                b.tail.push(index);
            }
        }

        // Generated brand domains fill the population up to a few thousand names.
        const SYLLABLES: [&str; 24] = [
            "ka", "lo", "mi", "ra", "ven", "tor", "sa", "lux", "nor", "bel", "di", "qua", "zen",
            "fa", "ro", "tri", "mon", "ex", "pa", "li", "cor", "vi", "ta", "sol",
        ];
        const TLDS: [&str; 10] = [
            "com", "com", "com", "net", "org", "io", "de", "co.uk", "fr", "nl",
        ];
        const LABELS: [&str; 14] = [
            "www", "api", "cdn", "static", "img", "m", "shop", "mail", "login", "app", "assets",
            "blog", "status", "portal",
        ];
        let providers = [
            Cloudflare, Route53, Route53, SelfHosted, Ns1, Microsoft, Google, UltraDns,
        ];
        let pools = [
            CLOUDFLARE,
            AWS,
            HETZNER,
            OVH,
            AZURE,
            GCP,
            EUROPE_MISC,
            US_MISC,
        ];
        while b.entries.len() < TARGET_NAMES {
            let syllables = b.rng.range(2, 4);
            let brand: String = (0..syllables)
                .filter_map(|_| b.rng.pick(&SYLLABLES).copied())
                .collect();
            let tld = b.rng.pick(&TLDS).copied().unwrap_or("com");
            let apex = format!(
                "{brand}{}.{tld}",
                if b.rng.chance(200_000) { "-online" } else { "" }
            );
            if b.zone_index.contains_key(&apex) {
                continue;
            }
            let provider = b.rng.pick(&providers).copied().unwrap_or(Cloudflare);
            let site_pool = b.rng.pick(&pools).copied().unwrap_or(CLOUDFLARE);
            let count = b.rng.range(1, 5) as usize;
            let start = b.rng.index(LABELS.len());
            let chosen: Vec<&str> = LABELS
                .iter()
                .cycle()
                .skip(start)
                .take(count)
                .copied()
                .collect();
            b.site(&apex, provider, site_pool, &chosen, false);
            if b.rng.chance(150_000) {
                let spf = "v=spf1 include:_spf.google.com ~all";
                b.mail_domain(
                    &apex,
                    provider,
                    site_pool,
                    &[(1, "aspmx.l.google.com"), (5, "alt1.aspmx.l.google.com")],
                    spf,
                );
            }
        }

        // Reverse names for a sample of forward hosts.
        let mut reverse = Vec::new();
        let candidates = b.entries.len();
        for _ in 0..300 {
            let forward = b.rng.index(candidates);
            if let Some(index) = b.reverse(forward) {
                if !reverse.contains(&index) {
                    reverse.push(index);
                }
            }
        }

        // Large TXT RRsets (domain verification tokens) on a few apexes: about 1.6 to 2.6 KB
        // for the TCP exchanges, and one of about 3.6 KB for three-fragment UDP answers.
        let mut big = Vec::new();
        for (apex, records) in [
            ("microsoft.com", 22),
            ("apple.com", 26),
            ("amazon.com", 30),
            ("spotify.com", 34),
            ("github.com", 46),
        ] {
            if let Some(index) = b.entry_index.get(apex).copied() {
                b.big_txt(index, records);
                big.push(index);
            }
        }

        // Signed zones with four RSA-2048 keys (two KSKs during a rollover, two ZSKs).
        let mut signed = Vec::new();
        for apex in [
            "cloudflare.com",
            "paypal.com",
            "ing.com",
            "proton.me",
            "revolut.com",
        ] {
            if let Some(index) = b.zone_index.get(apex).copied() {
                let mut keys = Vec::new();
                for flags in [257u16, 257, 256, 256] {
                    let mut key = vec![0u8; 260];
                    b.rng.fill(&mut key);
                    // RFC 3110 section 2: exponent length 3, exponent 65537, then the modulus.
                    if let Some(prefix) = key.get_mut(..4) {
                        prefix.copy_from_slice(&[3, 1, 0, 1]);
                    }
                    keys.push((flags, key));
                }
                if let Some(zone) = b.zones.get_mut(index) {
                    zone.dnskeys = keys;
                }
                signed.push(index);
            }
        }

        // Names that do not exist below real zones: typos of hosts, retired services.
        const MISSING: [&str; 16] = [
            "old",
            "test",
            "dev",
            "staging",
            "beta",
            "vpn2",
            "mail2",
            "intranet",
            "wpad",
            "owa",
            "legacy",
            "api-v1",
            "shop2",
            "m2",
            "cdn-old",
            "autodiscover",
        ];
        let mut missing = Vec::new();
        let zone_count = b.zones.len();
        for _ in 0..300 {
            let zone = b.rng.index(zone_count);
            let label = b.rng.pick(&MISSING).copied().unwrap_or("old");
            if let Some(apex) = b.zones.get(zone).map(|z| z.apex.clone()) {
                if !apex.ends_with(".arpa") {
                    missing.push((format!("{label}.{apex}"), zone));
                }
            }
        }

        let mail = b.mail.clone();
        let mut popular = b.popular;
        let mut tail = b.tail;
        // Shuffle the tail (Fisher-Yates) so generated names are not asked about in build order.
        for i in (1..tail.len()).rev() {
            let j = b.rng.index(i + 1);
            tail.swap(i, j);
        }
        popular.append(&mut tail);
        popular.retain(|index| {
            b.entries
                .get(*index)
                .is_some_and(|entry| !entry.name.ends_with(".arpa"))
        });
        let (root, gtld, local_reverse) = special_zones(&mut b.zones);
        Population {
            zones: b.zones,
            entries: b.entries,
            popular,
            reverse,
            missing,
            mail,
            big_txt: big,
            signed,
            root,
            gtld,
            local_reverse,
        }
    }
}

/// Adds the root, the .com registry and the local `10.in-addr.arpa` zone; returns their indexes.
fn special_zones(zones: &mut Vec<Zone>) -> (usize, usize, usize) {
    let server = |host: &str, v4: [u8; 4], v6: Ipv6Addr| NameServer {
        host: host.to_owned(),
        v4: Ipv4Addr::from(v4),
        v6: Some(v6),
        arriving_ttl: 56,
    };
    let root = Zone {
        apex: String::new(),
        servers: vec![
            server(
                "a.root-servers.net",
                [198, 41, 0, 4],
                Ipv6Addr::new(0x2001, 0x503, 0xba3e, 0, 0, 0, 2, 0x30),
            ),
            server(
                "c.root-servers.net",
                [192, 33, 4, 12],
                Ipv6Addr::new(0x2001, 0x500, 2, 0, 0, 0, 0, 0xc),
            ),
            server(
                "k.root-servers.net",
                [193, 0, 14, 129],
                Ipv6Addr::new(0x2001, 0x7fd, 0, 0, 0, 0, 0, 1),
            ),
        ],
        ns_ttl: 518_400,
        soa: Soa {
            mname: "a.root-servers.net".into(),
            rname: "nstld.verisign-grs.com".into(),
            serial: 2_026_010_400,
            refresh: 1800,
            retry: 900,
            expire: 604_800,
            minimum: 86_400,
        },
        soa_ttl: 86_400,
        under_gtld: false,
        dnskeys: Vec::new(),
    };
    let gtld = Zone {
        apex: "com".into(),
        servers: vec![
            server(
                "a.gtld-servers.net",
                [192, 5, 6, 30],
                Ipv6Addr::new(0x2001, 0x503, 0xa83e, 0, 0, 0, 2, 0x30),
            ),
            server(
                "b.gtld-servers.net",
                [192, 33, 14, 30],
                Ipv6Addr::new(0x2001, 0x503, 0x231d, 0, 0, 0, 2, 0x30),
            ),
            server(
                "c.gtld-servers.net",
                [192, 26, 92, 30],
                Ipv6Addr::new(0x2001, 0x503, 0x83eb, 0, 0, 0, 0, 0x30),
            ),
            server(
                "d.gtld-servers.net",
                [192, 31, 80, 30],
                Ipv6Addr::new(0x2001, 0x500, 0x856e, 0, 0, 0, 0, 0x30),
            ),
        ],
        ns_ttl: 172_800,
        soa: Soa {
            mname: "a.gtld-servers.net".into(),
            rname: "nstld.verisign-grs.com".into(),
            serial: 1_767_225_600,
            refresh: 1800,
            retry: 900,
            expire: 604_800,
            minimum: 900,
        },
        soa_ttl: 900,
        under_gtld: false,
        dnskeys: Vec::new(),
    };
    // Unbound's default for RFC 6303 local zones.
    let local = Zone {
        apex: "10.in-addr.arpa".into(),
        servers: Vec::new(),
        ns_ttl: 10_800,
        soa: Soa {
            mname: "localhost".into(),
            rname: "nobody.invalid".into(),
            serial: 1,
            refresh: 3600,
            retry: 1200,
            expire: 604_800,
            minimum: 10_800,
        },
        soa_ttl: 10_800,
        under_gtld: false,
        dnskeys: Vec::new(),
    };
    let first = zones.len();
    zones.push(root);
    zones.push(gtld);
    zones.push(local);
    (first, first + 1, first + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_is_a_few_thousand_names_and_stable() {
        let first = Population::build();
        let second = Population::build();
        assert!(first.entries.len() >= TARGET_NAMES);
        assert!(first.entries.len() < TARGET_NAMES + 600);
        let names = |p: &Population| p.entries.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&first), names(&second));
        assert_eq!(first.big_txt.len(), 5);
        assert_eq!(first.signed.len(), 5);
        assert!(first.reverse.len() > 200);
    }

    #[test]
    fn registered_domain_keeps_second_level_suffixes() {
        assert_eq!(registered_domain("www.barclays.co.uk"), "barclays.co.uk");
        assert_eq!(
            registered_domain("alt1.gmail-smtp-in.l.google.com"),
            "google.com"
        );
        assert_eq!(registered_domain("gmail.com"), "gmail.com");
    }
}
