//! What is watched, and why: [`Watchlist`].
//!
//! A watched *zone* (configured, or on the default list) has its own A, AAAA, MX and NS (and a
//! CNAME appearing at its apex) followed; the targets of its MX and NS answers are *learnt*
//! and their A and AAAA followed too, so the addresses mail is actually delivered to are
//! watched without anyone listing them. Watched *names* (configured) have their A, AAAA and
//! CNAME followed. Learnt targets persist in the store ([`crate::store::Store::save_learnt`]).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Record types.
pub mod rtype {
    /// A.
    pub const A: u16 = 1;
    /// NS.
    pub const NS: u16 = 2;
    /// CNAME.
    pub const CNAME: u16 = 5;
    /// MX.
    pub const MX: u16 = 15;
    /// AAAA.
    pub const AAAA: u16 = 28;
}

/// The big mail providers watched by default (their MX and NS, and those targets' addresses).
pub const DEFAULT_MAIL_ZONES: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "google.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "office365.com",
    "yahoo.com",
    "ymail.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "gmx.net",
    "gmx.de",
    "gmx.com",
    "web.de",
    "mail.com",
    "t-online.de",
    "mail.ru",
    "yandex.ru",
    "yandex.com",
    "qq.com",
    "163.com",
    "126.com",
    "proton.me",
    "protonmail.com",
    "protonmail.ch",
    "zoho.com",
    "fastmail.com",
    "tutanota.com",
    "orange.fr",
    "free.fr",
    "naver.com",
];

/// The root and the TLDs whose name servers are watched by default (NS only: their addresses
/// are learnt from the NS answers).
pub const DEFAULT_INFRA_ZONES: &[&str] = &[
    ".", "com", "net", "org", "info", "biz", "io", "co", "uk", "de", "fr", "nl", "ru", "cn", "jp",
    "br", "au", "in", "it", "es", "ch", "se", "eu", "us", "ca", "gov", "edu", "mil", "int", "arpa",
];

/// The watch settings (`[watch]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchConfig {
    /// Watch [`DEFAULT_MAIL_ZONES`] and [`DEFAULT_INFRA_ZONES`].
    pub default_list: bool,
    /// More zones: their A, AAAA, MX and NS, and their MX and NS targets' addresses.
    pub zones: Vec<String>,
    /// More names: their A, AAAA and CNAME.
    pub names: Vec<String>,
    /// Learn MX and NS targets of watched zones and watch their addresses.
    pub follow_targets: bool,
    /// Most learnt targets kept; more are counted and not watched.
    pub max_learnt: usize,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            default_list: true,
            zones: Vec::new(),
            names: Vec::new(),
            follow_targets: true,
            max_learnt: 100_000,
        }
    }
}

/// Why a zone or name is watched.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WatchReason {
    /// On the built-in list of mail providers.
    DefaultMail,
    /// On the built-in list of the root and TLDs (NS only).
    DefaultInfra,
    /// Listed as a zone in the configuration.
    ConfiguredZone,
    /// Listed as a name in the configuration.
    ConfiguredName,
    /// The target of an MX or NS answer of a watched zone.
    Learnt {
        /// The zone whose answer named it.
        zone: String,
        /// `MX` or `NS`.
        via: String,
        /// Packet time it was first seen, ns.
        first_seen_ns: u64,
    },
}

impl WatchReason {
    /// One readable phrase (`configured zone`, `learnt: MX of gmail.com`, ...).
    pub fn describe(&self) -> String {
        match self {
            WatchReason::DefaultMail => "default list: mail provider".to_owned(),
            WatchReason::DefaultInfra => "default list: root/TLD name servers".to_owned(),
            WatchReason::ConfiguredZone => "configured zone".to_owned(),
            WatchReason::ConfiguredName => "configured name".to_owned(),
            WatchReason::Learnt { zone, via, .. } => format!("learnt: {via} target of {zone}"),
        }
    }
}

/// The answer to "is this (name, type) watched?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched<'a> {
    /// The zone it belongs to (the zone itself, or the zone it was learnt from).
    pub zone: &'a str,
    /// Why.
    pub reason: &'a WatchReason,
}

/// Whether MX/NS targets can be learnt from this zone's answers.
fn zone_types(reason: &WatchReason, rrtype: u16) -> bool {
    match reason {
        WatchReason::DefaultInfra => rrtype == rtype::NS,
        _ => matches!(
            rrtype,
            rtype::A | rtype::AAAA | rtype::MX | rtype::NS | rtype::CNAME
        ),
    }
}

/// One row of `dnsward watch list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchEntry {
    /// Zone or name.
    pub name: String,
    /// `zone` or `name`.
    pub scope: String,
    /// Why.
    pub reason: WatchReason,
}

/// The watched zones and names, configured and learnt.
#[derive(Debug, Clone, Default)]
pub struct Watchlist {
    zones: HashMap<String, WatchReason>,
    names: HashMap<String, WatchReason>,
    learnt: HashMap<String, WatchReason>,
    /// Every proper ancestor of a watched zone, name or target: the zones whose DNSKEY and DS
    /// sets make up their DNSSEC chains.
    ancestors: std::collections::HashSet<String>,
    follow_targets: bool,
    max_learnt: usize,
    /// Targets not learnt because [`WatchConfig::max_learnt`] was reached.
    pub learnt_dropped: u64,
}

/// Canonical form of a configured or seen name: lower case, no trailing dot, `.` for the root.
pub fn canonical(name: &str) -> String {
    let trimmed = name.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        ".".to_owned()
    } else {
        trimmed.to_ascii_lowercase()
    }
}

impl Watchlist {
    /// The watchlist of `config` (without learnt targets; add them with [`Watchlist::restore`]).
    pub fn new(config: &WatchConfig) -> Watchlist {
        let mut w = Watchlist {
            follow_targets: config.follow_targets,
            max_learnt: config.max_learnt,
            ..Watchlist::default()
        };
        if config.default_list {
            for z in DEFAULT_INFRA_ZONES {
                w.zones.insert(canonical(z), WatchReason::DefaultInfra);
            }
            for z in DEFAULT_MAIL_ZONES {
                w.zones.insert(canonical(z), WatchReason::DefaultMail);
            }
        }
        for z in &config.zones {
            w.zones.insert(canonical(z), WatchReason::ConfiguredZone);
        }
        for n in &config.names {
            w.names.insert(canonical(n), WatchReason::ConfiguredName);
        }
        let all: Vec<String> = w.zones.keys().chain(w.names.keys()).cloned().collect();
        for n in all {
            w.add_ancestors(&n);
        }
        w
    }

    fn add_ancestors(&mut self, name: &str) {
        let mut rest = name;
        while let Some((_, parent)) = rest.split_once('.') {
            if parent.is_empty() || !self.ancestors.insert(parent.to_owned()) {
                break;
            }
            rest = parent;
        }
    }

    /// Whether `name` (canonical) is on the DNSSEC chain of something watched: the root, a
    /// watched zone or name, one of their ancestors, or a name under a watched zone. Its DS and
    /// DNSKEY responses feed the validator.
    pub fn on_chain(&self, name: &str) -> bool {
        name == "."
            || self.ancestors.contains(name)
            || self.names.contains_key(name)
            || self.learnt.contains_key(name)
            || self.zones.contains_key(name)
            || self.covers(name)
    }

    /// Whether `(name, rrtype)` is watched; `name` in canonical form.
    pub fn watched(&self, name: &str, rrtype: u16) -> Option<Watched<'_>> {
        if let Some((zone, reason)) = self.zones.get_key_value(name) {
            if zone_types(reason, rrtype) {
                return Some(Watched { zone, reason });
            }
        }
        let address_or_alias = matches!(rrtype, rtype::A | rtype::AAAA | rtype::CNAME);
        if !address_or_alias {
            return None;
        }
        if let Some((name, reason)) = self.names.get_key_value(name) {
            return Some(Watched { zone: name, reason });
        }
        match self.learnt.get(name) {
            Some(reason @ WatchReason::Learnt { zone, .. }) => Some(Watched { zone, reason }),
            _ => None,
        }
    }

    /// Whether a response with answers to `(name, qtype)` can hold a watched rrset: `name` is
    /// watched for `qtype` or for CNAME (the same as checking [`Watchlist::watched`] for both,
    /// in at most three lookups).
    pub fn wants_answer(&self, name: &str, qtype: u16) -> bool {
        if let Some(reason) = self.zones.get(name) {
            if zone_types(reason, qtype) || zone_types(reason, rtype::CNAME) {
                return true;
            }
        }
        self.names.contains_key(name) || self.learnt.contains_key(name)
    }

    /// Whether `name` (canonical) is at or below a watched zone other than the root: a referral
    /// for it may carry the NS set of a watched zone.
    pub fn covers(&self, name: &str) -> bool {
        let mut rest = name;
        loop {
            if rest != "." && self.zones.contains_key(rest) {
                return true;
            }
            match rest.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => rest = parent,
                _ => return false,
            }
        }
    }

    /// Learns `target`, named by the `via` (MX or NS) answer of watched `zone`; returns the new
    /// reason when it was not watched before (to be persisted).
    pub fn learn(
        &mut self,
        target: &str,
        zone: &str,
        via: &str,
        time_ns: u64,
    ) -> Option<WatchReason> {
        if !self.follow_targets
            || target == "."
            || self.learnt.contains_key(target)
            || self.names.contains_key(target)
        {
            return None;
        }
        if self.learnt.len() >= self.max_learnt {
            self.learnt_dropped += 1;
            return None;
        }
        let reason = WatchReason::Learnt {
            zone: zone.to_owned(),
            via: via.to_owned(),
            first_seen_ns: time_ns,
        };
        self.learnt.insert(target.to_owned(), reason.clone());
        self.add_ancestors(target);
        Some(reason)
    }

    /// Adds targets learnt by an earlier run.
    pub fn restore(&mut self, learnt: impl IntoIterator<Item = (String, WatchReason)>) {
        for (name, reason) in learnt {
            if self.learnt.len() >= self.max_learnt {
                self.learnt_dropped += 1;
                continue;
            }
            self.add_ancestors(&name);
            self.learnt.insert(name, reason);
        }
    }

    /// Learnt targets held.
    pub fn learnt_len(&self) -> usize {
        self.learnt.len()
    }

    /// Everything watched, sorted by scope then name.
    pub fn entries(&self) -> Vec<WatchEntry> {
        let mut out: BTreeMap<(u8, String), WatchEntry> = BTreeMap::new();
        for (scope_order, scope, map) in [
            (0, "zone", &self.zones),
            (1, "name", &self.names),
            (2, "learnt", &self.learnt),
        ] {
            for (name, reason) in map {
                out.insert(
                    (scope_order, name.clone()),
                    WatchEntry {
                        name: name.clone(),
                        scope: scope.to_owned(),
                        reason: reason.clone(),
                    },
                );
            }
        }
        out.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_names_and_learnt_targets() {
        let config = WatchConfig {
            zones: vec!["Bank.Example.".into()],
            names: vec!["login.bank.example".into()],
            ..WatchConfig::default()
        };
        let mut w = Watchlist::new(&config);
        assert_eq!(
            w.watched("gmail.com", rtype::MX).map(|w| w.zone),
            Some("gmail.com")
        );
        assert!(w.watched("bank.example", rtype::NS).is_some());
        assert!(w.watched("login.bank.example", rtype::A).is_some());
        assert!(w.watched("login.bank.example", rtype::MX).is_none());
        // The root and TLDs: NS only.
        assert!(w.watched(".", rtype::NS).is_some());
        assert!(w.watched("com", rtype::A).is_none());
        assert!(w.watched("gmail-smtp-in.l.google.com", rtype::A).is_none());
        let learnt = w.learn("gmail-smtp-in.l.google.com", "gmail.com", "MX", 5);
        assert!(learnt.is_some());
        assert!(w
            .learn("gmail-smtp-in.l.google.com", "gmail.com", "MX", 6)
            .is_none());
        let hit = w.watched("gmail-smtp-in.l.google.com", rtype::A).unwrap();
        assert_eq!(hit.zone, "gmail.com");
        assert_eq!(hit.reason.describe(), "learnt: MX target of gmail.com");
        assert!(w.watched("gmail-smtp-in.l.google.com", rtype::MX).is_none());
    }

    #[test]
    fn learnt_targets_are_capped_and_counted() {
        let config = WatchConfig {
            max_learnt: 2,
            default_list: false,
            ..WatchConfig::default()
        };
        let mut w = Watchlist::new(&config);
        for i in 0..5 {
            w.learn(&format!("mx{i}.example"), "example", "MX", 0);
        }
        assert_eq!(w.learnt_len(), 2);
        assert_eq!(w.learnt_dropped, 3);
        assert!(w.entries().iter().all(|e| e.scope == "learnt"));
    }
}
