//! What a watched (name, type) normally looks like: [`Baseline`].
//!
//! A baseline holds every rdata seen for the rrset with first and last seen and counts, the
//! address prefixes and origin ASes of those rdata, the TTL profile (the largest TTL
//! authoritative answers carried, the largest any responder handed out) and the view of each
//! responder (resolver or authoritative server). It learns in packet time and is *established*
//! once it has been followed for the learning period and seen often enough
//! ([`BaselineConfig`]); only established baselines raise alerts.
//!
//! Baselines are stored in the store's `baselines` column family as JSON (this type), and
//! `dnsward baseline export`/`import` write and read the same JSON, one rrset per line.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Nanoseconds per second.
pub const NS_PER_SEC: u64 = 1_000_000_000;

/// Baseline settings (`[baseline]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaselineConfig {
    /// Packet-time days an rrset must be followed before it can alert.
    pub learning_days: u64,
    /// Responses an rrset must be seen in before it can alert.
    pub min_observations: u64,
    /// IPv4 prefix length that counts as "the same network".
    pub prefix_v4: u8,
    /// IPv6 prefix length that counts as "the same network".
    pub prefix_v6: u8,
    /// Most rdata kept per rrset (least recently seen evicted, counted).
    pub max_rdata: usize,
    /// Most responders kept per rrset (least recently seen evicted, counted).
    pub max_responders: usize,
    /// Most rrsets held in memory; new rrsets beyond it are not followed (counted).
    pub max_rrsets: usize,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            learning_days: 7,
            min_observations: 20,
            prefix_v4: 24,
            prefix_v6: 48,
            max_rdata: 512,
            max_responders: 256,
            max_rrsets: 200_000,
        }
    }
}

impl BaselineConfig {
    /// The learning period in nanoseconds.
    pub fn learning_ns(&self) -> u64 {
        self.learning_days.saturating_mul(86_400 * NS_PER_SEC)
    }

    /// The prefix of an address rdata (`192.0.2.0/24`, `2001:db8:1::/48`); `None` for other
    /// rdata.
    pub fn prefix_of(&self, rdata: &str) -> Option<String> {
        let ip: IpAddr = rdata.parse().ok()?;
        Some(prefix_of_ip(ip, self.prefix_v4, self.prefix_v6))
    }
}

/// The network of `ip` at the given prefix lengths, as `address/len`.
pub fn prefix_of_ip(ip: IpAddr, v4: u8, v6: u8) -> String {
    match ip {
        IpAddr::V4(a) => {
            let len = v4.min(32);
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            let net = std::net::Ipv4Addr::from(u32::from(a) & mask);
            format!("{net}/{len}")
        }
        IpAddr::V6(a) => {
            let len = v6.min(128);
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            let net = std::net::Ipv6Addr::from(u128::from(a) & mask);
            format!("{net}/{len}")
        }
    }
}

/// One rdata of a baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RdataStats {
    /// First seen, packet time ns.
    pub first_ns: u64,
    /// Last seen, packet time ns.
    pub last_ns: u64,
    /// Responses it was in.
    pub count: u64,
    /// Its prefix (addresses only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub prefix: Option<String>,
    /// Its origin AS, when the IP-to-AS table knows it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub asn: Option<u32>,
    /// The latest sighting by each of the last [`RECENT_RESPONDERS`] responders that handed it
    /// out (responder, packet time ns), most recent first.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub recent: Vec<(IpAddr, u64)>,
}

/// Responders remembered per rdata in [`RdataStats::recent`].
pub const RECENT_RESPONDERS: usize = 4;

impl RdataStats {
    /// Notes that `responder` handed it out at `time_ns`.
    pub fn seen_by(&mut self, responder: IpAddr, time_ns: u64) {
        self.recent.retain(|(ip, _)| *ip != responder);
        self.recent.insert(0, (responder, time_ns));
        self.recent
            .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        self.recent.truncate(RECENT_RESPONDERS);
    }

    /// Whether a responder other than `responder` handed it out at or after `since_ns`.
    pub fn seen_by_others_since(&self, responder: IpAddr, since_ns: u64) -> bool {
        self.recent
            .iter()
            .any(|(ip, t)| *ip != responder && *t >= since_ns)
    }
}

/// What one responder handed out for the rrset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponderView {
    /// Whether its answers were authoritative (AA set).
    pub authoritative: bool,
    /// First answer, packet time ns.
    pub first_ns: u64,
    /// Latest answer, packet time ns.
    pub last_ns: u64,
    /// Answers.
    pub count: u64,
    /// The rdata of its latest answer, sorted.
    pub last_rdata: Vec<String>,
    /// The TTL of its latest answer.
    pub last_ttl: u32,
    /// The largest TTL it ever handed out.
    pub max_ttl: u32,
}

impl ResponderView {
    /// When its latest copy expires, packet time ns.
    pub fn expiry_ns(&self) -> u64 {
        self.last_ns
            .saturating_add(u64::from(self.last_ttl).saturating_mul(NS_PER_SEC))
    }
}

/// The history of one watched (name, type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Canonical owner name.
    pub name: String,
    /// Type mnemonic.
    #[serde(rename = "type")]
    pub rtype: String,
    /// First response seen, packet time ns.
    pub first_seen_ns: u64,
    /// Latest response seen, packet time ns.
    pub last_seen_ns: u64,
    /// Responses seen.
    pub observations: u64,
    /// Every rdata learnt.
    pub rdata: BTreeMap<String, RdataStats>,
    /// Prefixes of the rdata learnt (addresses only).
    pub prefixes: BTreeSet<String>,
    /// Origin ASes of the rdata learnt.
    pub asns: BTreeSet<u32>,
    /// Largest TTL an authoritative answer carried.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_auth_ttl: Option<u32>,
    /// Largest TTL any responder handed out.
    pub max_ttl: u32,
    /// Per responder.
    pub responders: BTreeMap<IpAddr, ResponderView>,
    /// Set once accepted or imported as established, so it alerts without waiting.
    #[serde(default)]
    pub established_override: bool,
    /// Rdata evicted because of [`BaselineConfig::max_rdata`].
    #[serde(default)]
    pub rdata_evicted: u64,
    /// Responders evicted because of [`BaselineConfig::max_responders`].
    #[serde(default)]
    pub responders_evicted: u64,
}

impl Baseline {
    /// An empty baseline first seen at `time_ns`.
    pub fn new(name: &str, rtype: &str, time_ns: u64) -> Baseline {
        Baseline {
            name: name.to_owned(),
            rtype: rtype.to_owned(),
            first_seen_ns: time_ns,
            last_seen_ns: time_ns,
            observations: 0,
            rdata: BTreeMap::new(),
            prefixes: BTreeSet::new(),
            asns: BTreeSet::new(),
            max_auth_ttl: None,
            max_ttl: 0,
            responders: BTreeMap::new(),
            established_override: false,
            rdata_evicted: 0,
            responders_evicted: 0,
        }
    }

    /// Whether it has been followed long enough, and seen often enough, to alert at `now_ns`.
    pub fn is_established(&self, now_ns: u64, config: &BaselineConfig) -> bool {
        self.established_override
            || (now_ns.saturating_sub(self.first_seen_ns) >= config.learning_ns()
                && self.observations >= config.min_observations)
    }

    /// Learns one rdata (prefix and AS already looked up), handed out by `responder` when the
    /// rdata came from a response.
    pub fn learn_rdata(
        &mut self,
        rdata: &str,
        prefix: Option<&str>,
        asn: Option<u32>,
        time_ns: u64,
        responder: Option<IpAddr>,
        config: &BaselineConfig,
    ) {
        if let Some(stats) = self.rdata.get_mut(rdata) {
            stats.first_ns = stats.first_ns.min(time_ns);
            stats.last_ns = stats.last_ns.max(time_ns);
            stats.count += 1;
            if let Some(r) = responder {
                stats.seen_by(r, time_ns);
            }
            return;
        }
        if self.rdata.len() >= config.max_rdata.max(1) {
            // Evict the least recently seen (ties: the smallest rdata, for determinism).
            let oldest = self
                .rdata
                .iter()
                .min_by_key(|(k, s)| (s.last_ns, (*k).clone()))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.rdata.remove(&k);
                self.rdata_evicted += 1;
            }
        }
        self.rdata.insert(
            rdata.to_owned(),
            RdataStats {
                first_ns: time_ns,
                last_ns: time_ns,
                count: 1,
                prefix: prefix.map(str::to_owned),
                asn,
                recent: responder.map(|r| vec![(r, time_ns)]).unwrap_or_default(),
            },
        );
        if let Some(p) = prefix {
            self.prefixes.insert(p.to_owned());
        }
        if let Some(a) = asn {
            self.asns.insert(a);
        }
    }

    /// Records one response: counts, TTL profile and the responder's view. Does not learn the
    /// rdata (see [`Baseline::learn_rdata`]).
    pub fn record_response(
        &mut self,
        responder: IpAddr,
        authoritative: bool,
        rdata: &[String],
        ttl: u32,
        time_ns: u64,
        config: &BaselineConfig,
    ) {
        self.observations += 1;
        self.first_seen_ns = self.first_seen_ns.min(time_ns);
        self.last_seen_ns = self.last_seen_ns.max(time_ns);
        self.max_ttl = self.max_ttl.max(ttl);
        if authoritative {
            self.max_auth_ttl = Some(self.max_auth_ttl.map_or(ttl, |t| t.max(ttl)));
        }
        if !self.responders.contains_key(&responder)
            && self.responders.len() >= config.max_responders.max(1)
        {
            let oldest = self
                .responders
                .iter()
                .min_by_key(|(ip, v)| (v.last_ns, **ip))
                .map(|(ip, _)| *ip);
            if let Some(ip) = oldest {
                self.responders.remove(&ip);
                self.responders_evicted += 1;
            }
        }
        let view = self
            .responders
            .entry(responder)
            .or_insert_with(|| ResponderView {
                authoritative,
                first_ns: time_ns,
                last_ns: time_ns,
                count: 0,
                last_rdata: Vec::new(),
                last_ttl: 0,
                max_ttl: 0,
            });
        view.authoritative = authoritative;
        view.last_ns = time_ns;
        view.count += 1;
        view.last_rdata = rdata.to_vec();
        view.last_ttl = ttl;
        view.max_ttl = view.max_ttl.max(ttl);
    }

    /// Merges `other` (the same rrset from another sensor or an import) into `self`.
    pub fn merge(&mut self, other: &Baseline, config: &BaselineConfig) {
        self.first_seen_ns = self.first_seen_ns.min(other.first_seen_ns);
        self.last_seen_ns = self.last_seen_ns.max(other.last_seen_ns);
        self.observations = self.observations.saturating_add(other.observations);
        self.max_ttl = self.max_ttl.max(other.max_ttl);
        self.max_auth_ttl = match (self.max_auth_ttl, other.max_auth_ttl) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.established_override |= other.established_override;
        for (rdata, stats) in &other.rdata {
            match self.rdata.get_mut(rdata) {
                Some(mine) => {
                    mine.first_ns = mine.first_ns.min(stats.first_ns);
                    mine.last_ns = mine.last_ns.max(stats.last_ns);
                    mine.count = mine.count.saturating_add(stats.count);
                }
                None => {
                    self.learn_rdata(
                        rdata,
                        stats.prefix.as_deref(),
                        stats.asn,
                        stats.first_ns,
                        None,
                        config,
                    );
                    if let Some(mine) = self.rdata.get_mut(rdata) {
                        *mine = stats.clone();
                    }
                }
            }
        }
        self.prefixes.extend(other.prefixes.iter().cloned());
        self.asns.extend(other.asns.iter().copied());
        for (ip, view) in &other.responders {
            let replace = self
                .responders
                .get(ip)
                .is_none_or(|mine| mine.last_ns < view.last_ns);
            if replace {
                self.responders.insert(*ip, view.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        let c = BaselineConfig::default();
        assert_eq!(
            c.prefix_of("142.250.153.26").as_deref(),
            Some("142.250.153.0/24")
        );
        assert_eq!(
            c.prefix_of("2a00:1450:400c:c0b::1a").as_deref(),
            Some("2a00:1450:400c::/48")
        );
        assert_eq!(c.prefix_of("mx.example.com"), None);
        assert_eq!(prefix_of_ip("10.1.2.3".parse().unwrap(), 0, 0), "0.0.0.0/0");
        assert_eq!(
            prefix_of_ip("10.1.2.3".parse().unwrap(), 40, 0),
            "10.1.2.3/32"
        );
    }

    #[test]
    fn established_after_period_and_count() {
        let c = BaselineConfig {
            learning_days: 1,
            min_observations: 2,
            ..BaselineConfig::default()
        };
        let day = 86_400 * NS_PER_SEC;
        let mut b = Baseline::new("a.example", "A", 0);
        let ip: IpAddr = "10.0.0.53".parse().unwrap();
        b.record_response(ip, false, &["192.0.2.1".into()], 300, 0, &c);
        assert!(!b.is_established(day, &c));
        b.record_response(ip, false, &["192.0.2.1".into()], 300, 10, &c);
        assert!(!b.is_established(day - 1, &c));
        assert!(b.is_established(day, &c));
    }

    #[test]
    fn rdata_capped_least_recent_evicted() {
        let c = BaselineConfig {
            max_rdata: 2,
            ..BaselineConfig::default()
        };
        let mut b = Baseline::new("a.example", "A", 0);
        b.learn_rdata("192.0.2.1", None, None, 1, None, &c);
        b.learn_rdata("192.0.2.2", None, None, 2, None, &c);
        b.learn_rdata("192.0.2.1", None, None, 3, None, &c);
        b.learn_rdata("192.0.2.3", None, None, 4, None, &c);
        assert_eq!(
            b.rdata.keys().cloned().collect::<Vec<_>>(),
            ["192.0.2.1", "192.0.2.3"]
        );
        assert_eq!(b.rdata_evicted, 1);
    }
}
