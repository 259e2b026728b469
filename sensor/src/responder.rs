//! Responder fingerprints: what a server's responses to one client usually look like.
//!
//! A forged response comes from somewhere else than the server it claims to be, and it shows in
//! the details an attacker does not bother (or cannot) copy: the IP TTL or hop limit it arrives
//! with, whether it carries EDNS and with which UDP size, and how soon after the query it
//! arrives. [`Responders`] keeps, per (server, client) pair, the values seen in responses that
//! answered a real query, and judges each response against them:
//!
//! * `ip_ttl_changed`: an IP TTL more than one hop away from every TTL the pair has shown at
//!   least [`KNOWN_COUNT`] times;
//! * `edns_changed`: EDNS presence or UDP size never (or rarely) seen from the pair;
//! * `rtt_too_fast`: an answer that arrived in under a quarter of the pair's fastest answer;
//! * `unexpected_fragments`: a fragmented response from a pair that never fragmented.
//!
//! Judging starts once a pair has [`ResponderLimits::min_history`] learnt responses; a new
//! value seen [`KNOWN_COUNT`] times in answers to real queries is learnt (an anycast flip or a
//! route change raises one finding or a few, not one per packet forever). Profiles idle for
//! [`ResponderLimits::idle_ns`] of packet time are dropped; when the table is full, new pairs are
//! not profiled, and both are counted.

use ahash::RandomState;
use std::collections::HashMap;
use std::net::IpAddr;

/// Times a value must be seen in answers before it is known.
pub const KNOWN_COUNT: u32 = 3;

/// Table limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponderLimits {
    /// Most (server, client) pairs profiled at once.
    pub max_profiles: usize,
    /// Learnt responses a pair needs before its responses are judged.
    pub min_history: u32,
    /// Packet time after which an idle profile is dropped, ns.
    pub idle_ns: u64,
}

impl Default for ResponderLimits {
    fn default() -> Self {
        ResponderLimits {
            max_profiles: 200_000,
            min_history: 20,
            idle_ns: 3_600 * 1_000_000_000,
        }
    }
}

/// One way a response is unlike its responder's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FingerprintBreak {
    /// The IP TTL (hop limit) is unlike every known one.
    IpTtl {
        /// The pair's most frequent TTL.
        expected: u8,
        /// This response's TTL.
        seen: u8,
    },
    /// EDNS presence or UDP size unlike the history (`None`: no OPT record).
    Edns {
        /// The pair's most frequent value.
        expected: Option<u16>,
        /// This response's value.
        seen: Option<u16>,
    },
    /// Arrived much sooner after the query than any real answer did.
    Rtt {
        /// The pair's fastest learnt answer, ns.
        fastest_ns: u64,
        /// This response's time since the query, ns.
        seen_ns: u64,
    },
    /// Fragmented, from a pair that never fragmented.
    Fragments {
        /// Learnt responses of the pair, none fragmented.
        responses: u32,
    },
}

impl FingerprintBreak {
    /// The stable check name (as in `schemas::WireFinding::check`).
    pub fn name(&self) -> &'static str {
        match self {
            FingerprintBreak::IpTtl { .. } => "ip_ttl_changed",
            FingerprintBreak::Edns { .. } => "edns_changed",
            FingerprintBreak::Rtt { .. } => "rtt_too_fast",
            FingerprintBreak::Fragments { .. } => "unexpected_fragments",
        }
    }

    /// What was expected and what was seen, in words.
    pub fn describe(&self) -> (String, String) {
        let edns = |v: Option<u16>| match v {
            Some(size) => format!("edns udp size {size}"),
            None => "no edns".to_owned(),
        };
        match *self {
            FingerprintBreak::IpTtl { expected, seen } => {
                (format!("ip ttl {expected}"), format!("ip ttl {seen}"))
            }
            FingerprintBreak::Edns { expected, seen } => (edns(expected), edns(seen)),
            FingerprintBreak::Rtt {
                fastest_ns,
                seen_ns,
            } => (
                format!("rtt at least {} us", fastest_ns / 1_000),
                format!("rtt {} us", seen_ns / 1_000),
            ),
            FingerprintBreak::Fragments { responses } => (
                format!("unfragmented ({responses} responses)"),
                "fragmented".to_owned(),
            ),
        }
    }
}

/// What one response shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseTraits {
    /// IP TTL or hop limit.
    pub ip_ttl: u8,
    /// EDNS UDP size, `None` without an OPT record.
    pub edns: Option<u16>,
    /// Time since the matching query, when it answered one.
    pub rtt_ns: Option<u64>,
    /// Whether it came in IP fragments.
    pub fragmented: bool,
}

/// Counters of the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ResponderStats {
    /// Pairs profiled now.
    pub profiles: u64,
    /// Pairs not profiled because the table was full.
    pub dropped_full: u64,
    /// Profiles dropped after being idle.
    pub expired: u64,
    /// Findings, by check.
    pub ip_ttl_changed: u64,
    /// See [`FingerprintBreak::Edns`].
    pub edns_changed: u64,
    /// See [`FingerprintBreak::Rtt`].
    pub rtt_too_fast: u64,
    /// See [`FingerprintBreak::Fragments`].
    pub unexpected_fragments: u64,
}

impl ResponderStats {
    /// Adds another worker's counters.
    pub fn merge(&mut self, o: &ResponderStats) {
        self.profiles += o.profiles;
        self.dropped_full += o.dropped_full;
        self.expired += o.expired;
        self.ip_ttl_changed += o.ip_ttl_changed;
        self.edns_changed += o.edns_changed;
        self.rtt_too_fast += o.rtt_too_fast;
        self.unexpected_fragments += o.unexpected_fragments;
    }
}

/// Values with counts, in a few fixed slots; a new value replaces the rarest.
#[derive(Debug, Clone, Copy)]
struct Slots<T: Copy + PartialEq, const N: usize> {
    slots: [Option<(T, u32)>; N],
}

impl<T: Copy + PartialEq, const N: usize> Default for Slots<T, N> {
    fn default() -> Self {
        Slots { slots: [None; N] }
    }
}

impl<T: Copy + PartialEq, const N: usize> Slots<T, N> {
    fn count(&self, close: impl Fn(T) -> bool) -> u32 {
        self.slots
            .iter()
            .flatten()
            .filter(|(v, _)| close(*v))
            .map(|(_, c)| *c)
            .max()
            .unwrap_or(0)
    }

    fn most(&self) -> Option<T> {
        self.slots
            .iter()
            .flatten()
            .max_by_key(|(_, c)| *c)
            .map(|(v, _)| *v)
    }

    fn add(&mut self, value: T) {
        if let Some((_, c)) = self.slots.iter_mut().flatten().find(|(v, _)| *v == value) {
            *c = c.saturating_add(1);
            return;
        }
        if let Some(free) = self.slots.iter_mut().find(|s| s.is_none()) {
            *free = Some((value, 1));
            return;
        }
        if let Some(rarest) = self
            .slots
            .iter_mut()
            .min_by_key(|s| s.map_or(0, |(_, c)| c))
        {
            *rarest = Some((value, 1));
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Profile {
    last_ns: u64,
    responses: u32,
    ttls: Slots<u8, 4>,
    edns: Slots<Option<u16>, 3>,
    fastest_ns: Option<u64>,
    rtts: u32,
    /// Answers in a row faster than a quarter of `fastest_ns` (a faster path, once it repeats).
    fast_streak: u32,
    fragmented: u32,
}

/// The profiles; see the module documentation.
pub struct Responders {
    limits: ResponderLimits,
    profiles: HashMap<(IpAddr, IpAddr), Profile, RandomState>,
    last_sweep_ns: u64,
    stats: ResponderStats,
}

impl std::fmt::Debug for Responders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responders")
            .field("profiles", &self.profiles.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Responders {
    /// An empty table.
    pub fn new(limits: ResponderLimits) -> Responders {
        Responders {
            limits,
            profiles: HashMap::default(),
            last_sweep_ns: 0,
            stats: ResponderStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> ResponderStats {
        ResponderStats {
            profiles: self.profiles.len() as u64,
            ..self.stats
        }
    }

    fn sweep(&mut self, now_ns: u64) {
        if now_ns.saturating_sub(self.last_sweep_ns) < 60 * 1_000_000_000 {
            return;
        }
        self.last_sweep_ns = now_ns;
        let idle = self.limits.idle_ns;
        let before = self.profiles.len();
        self.profiles
            .retain(|_, p| now_ns.saturating_sub(p.last_ns) < idle);
        self.stats.expired += (before - self.profiles.len()) as u64;
    }

    /// Judges a response from `server` to `client` against the pair's history, appending what
    /// breaks it to `out`; then, when `learn` (it answered a real query), learns from it.
    pub fn judge(
        &mut self,
        server: IpAddr,
        client: IpAddr,
        now_ns: u64,
        traits: ResponseTraits,
        learn: bool,
        out: &mut Vec<FingerprintBreak>,
    ) {
        self.sweep(now_ns);
        let key = (server, client);
        if !self.profiles.contains_key(&key) {
            if !learn {
                return;
            }
            if self.profiles.len() >= self.limits.max_profiles {
                self.stats.dropped_full += 1;
                return;
            }
            self.profiles.insert(
                key,
                Profile {
                    last_ns: now_ns,
                    responses: 0,
                    ttls: Slots::default(),
                    edns: Slots::default(),
                    fastest_ns: None,
                    rtts: 0,
                    fast_streak: 0,
                    fragmented: 0,
                },
            );
        }
        let Some(p) = self.profiles.get_mut(&key) else {
            return;
        };
        p.last_ns = now_ns;
        let mut fast = false;
        if p.responses >= self.limits.min_history {
            let ttl = traits.ip_ttl;
            if p.ttls.count(|t| t.abs_diff(ttl) <= 1) < KNOWN_COUNT {
                if let Some(expected) = p.ttls.most() {
                    out.push(FingerprintBreak::IpTtl {
                        expected,
                        seen: ttl,
                    });
                    self.stats.ip_ttl_changed += 1;
                }
            }
            if p.edns.count(|e| e == traits.edns) < KNOWN_COUNT {
                if let Some(expected) = p.edns.most() {
                    out.push(FingerprintBreak::Edns {
                        expected,
                        seen: traits.edns,
                    });
                    self.stats.edns_changed += 1;
                }
            }
            if let (Some(rtt), Some(fastest)) = (traits.rtt_ns, p.fastest_ns) {
                if p.rtts >= self.limits.min_history && fastest >= 1_000_000 && rtt < fastest / 4 {
                    fast = true;
                    out.push(FingerprintBreak::Rtt {
                        fastest_ns: fastest,
                        seen_ns: rtt,
                    });
                    self.stats.rtt_too_fast += 1;
                }
            }
            if traits.fragmented && p.fragmented == 0 {
                out.push(FingerprintBreak::Fragments {
                    responses: p.responses,
                });
                self.stats.unexpected_fragments += 1;
            }
        }
        if !learn {
            return;
        }
        p.responses = p.responses.saturating_add(1);
        p.ttls.add(traits.ip_ttl);
        p.edns.add(traits.edns);
        if traits.fragmented {
            p.fragmented = p.fragmented.saturating_add(1);
        }
        if let Some(rtt) = traits.rtt_ns {
            p.rtts = p.rtts.saturating_add(1);
            p.fast_streak = if fast {
                p.fast_streak.saturating_add(1)
            } else {
                0
            };
            if !fast || p.fast_streak >= KNOWN_COUNT {
                p.fastest_ns = Some(p.fastest_ns.map_or(rtt, |f| f.min(rtt)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traits(ip_ttl: u8) -> ResponseTraits {
        ResponseTraits {
            ip_ttl,
            edns: Some(1232),
            rtt_ns: Some(20_000_000),
            fragmented: false,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_ttl_off_by_more_than_a_hop_breaks_the_fingerprint_until_learnt() {
        let mut r = Responders::new(ResponderLimits::default());
        let mut out = Vec::new();
        let (server, client) = (ip("192.0.2.53"), ip("10.0.0.53"));
        for i in 0..20 {
            r.judge(server, client, i, traits(57), true, &mut out);
        }
        assert_eq!(out, []);
        // One hop away is a route change, not a different sender.
        r.judge(server, client, 21, traits(56), true, &mut out);
        assert_eq!(out, []);
        r.judge(server, client, 22, traits(64), true, &mut out);
        assert_eq!(
            out,
            [FingerprintBreak::IpTtl {
                expected: 57,
                seen: 64
            }]
        );
        // Seen three times in answers to real queries, it is known.
        out.clear();
        r.judge(server, client, 23, traits(64), true, &mut out);
        r.judge(server, client, 24, traits(64), true, &mut out);
        assert_eq!(out.len(), 2);
        out.clear();
        r.judge(server, client, 25, traits(64), true, &mut out);
        assert_eq!(out, []);
        // Another client's history is its own.
        r.judge(server, ip("10.0.0.54"), 26, traits(99), true, &mut out);
        assert_eq!(out, []);
        assert_eq!(r.stats().ip_ttl_changed, 3);
        assert_eq!(r.stats().profiles, 2);
    }

    #[test]
    fn edns_rtt_and_fragments() {
        let mut r = Responders::new(ResponderLimits::default());
        let mut out = Vec::new();
        let (server, client) = (ip("192.0.2.53"), ip("10.0.0.53"));
        for i in 0..20 {
            r.judge(server, client, i, traits(57), true, &mut out);
        }
        let odd = ResponseTraits {
            ip_ttl: 57,
            edns: None,
            rtt_ns: Some(1_000_000),
            fragmented: true,
        };
        r.judge(server, client, 30, odd, false, &mut out);
        assert_eq!(
            out,
            [
                FingerprintBreak::Edns {
                    expected: Some(1232),
                    seen: None
                },
                FingerprintBreak::Rtt {
                    fastest_ns: 20_000_000,
                    seen_ns: 1_000_000
                },
                FingerprintBreak::Fragments { responses: 20 },
            ]
        );
        assert_eq!(out[0].describe().1, "no edns");
    }

    #[test]
    fn the_table_is_bounded_and_idle_profiles_expire() {
        let mut r = Responders::new(ResponderLimits {
            max_profiles: 2,
            ..ResponderLimits::default()
        });
        let mut out = Vec::new();
        for c in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
            r.judge(ip("192.0.2.1"), ip(c), 0, traits(60), true, &mut out);
        }
        // Responses that answered nothing never create a profile.
        r.judge(
            ip("192.0.2.2"),
            ip("10.0.0.1"),
            0,
            traits(60),
            false,
            &mut out,
        );
        assert_eq!(r.stats().profiles, 2);
        assert_eq!(r.stats().dropped_full, 1);
        r.judge(
            ip("192.0.2.1"),
            ip("10.0.0.1"),
            7_200 * 1_000_000_000,
            traits(60),
            true,
            &mut out,
        );
        assert_eq!(r.stats().expired, 2);
        assert_eq!(r.stats().profiles, 1);
    }
}
