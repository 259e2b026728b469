//! The DNSSEC detectors of [`Analyzer`] (issue 5): validation outcomes of watched rrsets,
//! stripped signatures, DS and DNSKEY set changes of watched zones, and what a validating
//! resolver tells its clients (the AD bit, SERVFAIL bursts).

use super::{
    rrsets_in, rtype, type_name, AlertAction, AlertUpdate, Analyzer, Detector, RdataInfo,
    RrsetSeen, NS_PER_SEC,
};
use crate::validate::{Processed, RrsetVerdict, Security, SetChange, ZoneState};
use schemas::Observation;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;

/// Most responses held while the keys they need are missing.
pub const MAX_DNSSEC_PENDING: usize = 1_024;
/// Packet-time seconds a response waits for its keys before its verdict stands.
pub const DNSSEC_PENDING_SECS: u64 = 30;
/// Most (resolver, client, name, type) pairs whose AD bit is followed.
pub const MAX_AD_STATES: usize = 100_000;
/// SERVFAILs for one watched name from one resolver known to validate (it set the AD bit on at
/// least [`AD_HISTORY`] answers), within [`SERVFAIL_WINDOW_SECS`], that make a burst.
pub const SERVFAIL_BURST: usize = 5;
/// The window of [`SERVFAIL_BURST`].
pub const SERVFAIL_WINDOW_SECS: u64 = 60;
/// Answers with the AD bit a resolver must have given for a name before its absence counts.
pub const AD_HISTORY: u32 = 3;

/// What validation said about one watched rrset, as kept in the store (`dnssec` column family)
/// so an analyst can ask whether an answer was signed, and by which key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnssecOutcome {
    /// Owner, canonical.
    pub name: String,
    /// Type mnemonic.
    pub rtype: String,
    /// The latest outcome: `secure`, `insecure`, `bogus` or `indeterminate`.
    pub security: Security,
    /// Whether the latest response carried signatures over it.
    pub signed: bool,
    /// The signer zone of the deciding signature.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signer: Option<String>,
    /// Its key tag.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key_tag: Option<u16>,
    /// Its algorithm.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub algorithm: Option<u8>,
    /// Why.
    pub reason: String,
    /// The responder of the latest response.
    pub responder: IpAddr,
    /// Capture frame of the latest response.
    pub frame: u64,
    /// Packet time of the first outcome, ns.
    pub first_ns: u64,
    /// Packet time of the latest, ns.
    pub last_ns: u64,
    /// How many responses gave each outcome.
    pub counts: BTreeMap<String, u64>,
}

/// DNSSEC state of the analyzer beyond the validator.
#[derive(Debug, Default)]
pub(super) struct DnssecState {
    /// Responses waiting for keys: (zones they wait for, the observation).
    pending: VecDeque<(BTreeSet<String>, Observation)>,
    /// (resolver, client, name, type) → answers seen with the AD bit, and whether the last
    /// had it.
    ad: BTreeMap<(IpAddr, IpAddr, String, u16), (u32, bool)>,
    /// Resolver → answers about watched names it marked authenticated (AD): a validating
    /// resolver.
    validating: BTreeMap<IpAddr, u32>,
    /// (resolver, name) → packet times of recent SERVFAILs.
    servfails: BTreeMap<(IpAddr, String), VecDeque<u64>>,
    /// Outcomes changed since the last take.
    dirty: BTreeMap<(String, u16), DnssecOutcome>,
    outcomes: BTreeMap<(String, u16), DnssecOutcome>,
}

/// DNSSEC counters, for the stats output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DnssecStats {
    /// Verdicts on watched rrsets, by outcome.
    pub secure: u64,
    /// Insecure verdicts.
    pub insecure: u64,
    /// Bogus verdicts.
    pub bogus: u64,
    /// Indeterminate verdicts.
    pub indeterminate: u64,
    /// Responses held for their keys.
    pub held: u64,
    /// Responses not held (the queue was full).
    pub held_dropped: u64,
    /// AD or SERVFAIL states not followed (tables full).
    pub downstream_dropped: u64,
}

impl Analyzer {
    /// Every DNSSEC check on one response.
    pub(super) fn observe_dnssec(&mut self, obs: &Observation, out: &mut Vec<AlertUpdate>) {
        self.observe_downstream(obs, out);
        if obs.opcode != 0 || obs.transport == schemas::Transport::Icmp {
            return;
        }
        self.expire_pending(obs.time_ns, out);
        match &obs.dnssec_message {
            Some(msg) => {
                let Some(p) = self.validator.process(msg, obs.time_ns) else {
                    return;
                };
                self.apply(obs, p, out, true);
            }
            // An unsigned response says something only to a query that asked for signatures.
            None if obs.rcode == 0
                && !obs.answers.is_empty()
                && obs.edns.as_ref().is_some_and(|e| e.dnssec_ok) =>
            {
                for seen in rrsets_in(obs) {
                    let v = self.validator.unsigned(&seen.name, seen.rrtype);
                    self.judge(obs, &v, out);
                }
            }
            None => {}
        }
    }

    /// Acts on what the validator found; `hold` lets a response wait for missing keys.
    fn apply(&mut self, obs: &Observation, p: Processed, out: &mut Vec<AlertUpdate>, hold: bool) {
        for change in &p.changes {
            self.key_change(obs, change, out);
        }
        let mut waits = false;
        for v in &p.verdicts {
            if hold
                && v.security == Security::Indeterminate
                && v.signed
                && self.dnssec_watched(&v.name, v.rtype).is_some()
                && !p.waiting.is_empty()
            {
                waits = true;
                continue;
            }
            self.judge(obs, v, out);
        }
        if waits {
            if self.dnssec.pending.len() >= MAX_DNSSEC_PENDING {
                self.stats.dnssec.held_dropped += 1;
                // Its verdicts stand as they are.
                for v in &p.verdicts {
                    self.judge(obs, v, out);
                }
            } else {
                self.stats.dnssec.held += 1;
                self.dnssec
                    .pending
                    .push_back((p.waiting.clone(), obs.clone()));
            }
        }
        if !p.newly_trusted.is_empty() {
            self.retry_pending(&p.newly_trusted, out);
        }
    }

    /// Validates again the held responses that waited for one of `zones`.
    fn retry_pending(&mut self, zones: &[String], out: &mut Vec<AlertUpdate>) {
        let (ready, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.dnssec.pending)
            .into_iter()
            .partition(|(waiting, _)| zones.iter().any(|z| waiting.contains(z)));
        self.dnssec.pending = keep.into();
        for (_, held) in ready {
            let Some(msg) = &held.dnssec_message else {
                continue;
            };
            if let Some(p) = self.validator.process(msg, held.time_ns) {
                // Still missing keys higher up: hold it again (bounded by the same queue).
                self.apply(&held, p, out, true);
            }
        }
    }

    /// Gives held responses older than [`DNSSEC_PENDING_SECS`] their final verdicts.
    fn expire_pending(&mut self, now_ns: u64, out: &mut Vec<AlertUpdate>) {
        let limit = DNSSEC_PENDING_SECS * NS_PER_SEC;
        while self
            .dnssec
            .pending
            .front()
            .is_some_and(|(_, o)| now_ns.saturating_sub(o.time_ns) > limit)
        {
            if let Some((_, held)) = self.dnssec.pending.pop_front() {
                self.final_verdict(&held, out);
            }
        }
    }

    /// Gives every held response its verdict as things stand (the end of a run).
    pub fn flush_dnssec(&mut self, out: &mut Vec<AlertUpdate>) {
        for (_, held) in std::mem::take(&mut self.dnssec.pending) {
            self.final_verdict(&held, out);
        }
    }

    fn final_verdict(&mut self, held: &Observation, out: &mut Vec<AlertUpdate>) {
        if let Some(p) = held
            .dnssec_message
            .as_ref()
            .and_then(|m| self.validator.process(m, held.time_ns))
        {
            self.apply(held, p, out, false);
        }
    }

    /// Why a name and type matter for DNSSEC: a watched rrset, or the DS/DNSKEY set of a
    /// watched zone.
    fn dnssec_watched(&self, name: &str, rrtype: u16) -> Option<String> {
        if let Some(w) = self.watch.watched(name, rrtype) {
            return Some(w.reason.describe());
        }
        if matches!(rrtype, 43 | 48) {
            return self
                .watch
                .watched(name, rtype::NS)
                .map(|w| w.reason.describe());
        }
        None
    }

    /// Records a verdict on a watched rrset and raises what it calls for.
    fn judge(&mut self, obs: &Observation, v: &RrsetVerdict, out: &mut Vec<AlertUpdate>) {
        let Some(because) = self.dnssec_watched(&v.name, v.rtype) else {
            return;
        };
        let in_answer = obs
            .answers
            .iter()
            .any(|r| r.rtype == v.rtype && r.name.canonical == v.name);
        let dnssec_ok = obs.edns.as_ref().is_some_and(|e| e.dnssec_ok);
        let stripped_by = (!v.signed
            && v.security == Security::Indeterminate
            && in_answer
            && dnssec_ok
            && obs.rcode == 0
            && !matches!(v.rtype, 43 | 48))
        .then(|| self.validator.signed_by(&v.name).map(str::to_owned))
        .flatten();
        let (security, reason) = match &stripped_by {
            Some(signer) => (
                Security::Bogus,
                format!("no RRSIG in a response to a DNSSEC (DO) query, for a name {signer} signs"),
            ),
            None => (v.security, v.reason.clone()),
        };
        self.record_outcome(obs, v, security, &reason);
        let seen = seen_of(obs, v);
        let key = (v.name.clone(), v.rtype);
        if let Some(signer) = stripped_by {
            self.raise(
                Detector::DnssecStripped,
                &key,
                &because,
                70,
                vec![format!(
                    "{} answered {} {} without signatures although {signer} signs it and the query asked for them (DO)",
                    obs.src_ip,
                    v.name,
                    type_name(v.rtype)
                )],
                observed_of(&seen),
                &seen,
                obs,
                out,
            );
        } else if security == Security::Bogus {
            self.raise(
                Detector::DnssecBogus,
                &key,
                &because,
                90,
                vec![format!(
                    "{} {} from {} fails DNSSEC validation: {reason}",
                    v.name,
                    type_name(v.rtype),
                    obs.src_ip
                )],
                observed_of(&seen),
                &seen,
                obs,
                out,
            );
        }
    }

    fn record_outcome(
        &mut self,
        obs: &Observation,
        v: &RrsetVerdict,
        security: Security,
        reason: &str,
    ) {
        match security {
            Security::Secure => self.stats.dnssec.secure += 1,
            Security::Insecure => self.stats.dnssec.insecure += 1,
            Security::Bogus => self.stats.dnssec.bogus += 1,
            Security::Indeterminate => self.stats.dnssec.indeterminate += 1,
        }
        let key = (v.name.clone(), v.rtype);
        let entry = self
            .dnssec
            .outcomes
            .entry(key.clone())
            .or_insert_with(|| DnssecOutcome {
                name: v.name.clone(),
                rtype: type_name(v.rtype),
                security,
                signed: v.signed,
                signer: None,
                key_tag: None,
                algorithm: None,
                reason: String::new(),
                responder: obs.src_ip,
                frame: obs.source.frame,
                first_ns: obs.time_ns,
                last_ns: obs.time_ns,
                counts: BTreeMap::new(),
            });
        entry.security = security;
        entry.signed = v.signed;
        entry.signer.clone_from(&v.signer);
        entry.key_tag = v.key_tag;
        entry.algorithm = v.algorithm;
        reason.clone_into(&mut entry.reason);
        entry.responder = obs.src_ip;
        entry.frame = obs.source.frame;
        entry.first_ns = entry.first_ns.min(obs.time_ns);
        entry.last_ns = entry.last_ns.max(obs.time_ns);
        *entry.counts.entry(security.name().to_owned()).or_insert(0) += 1;
        let snapshot = entry.clone();
        self.dnssec.dirty.insert(key, snapshot);
        // The outcome table is as bounded as the baselines: one entry per watched rrset.
        if self.dnssec.outcomes.len() > self.config.baseline.max_rrsets {
            if let Some(k) = self.dnssec.outcomes.keys().next().cloned() {
                self.dnssec.outcomes.remove(&k);
            }
        }
    }

    /// Zone states (validated keys and DS sets, proofs of unsigned zones) changed since the
    /// last call, for the store.
    pub fn take_dirty_zones(&mut self) -> Vec<ZoneState> {
        self.validator.take_dirty()
    }

    /// Restores the zone states and outcomes an earlier run saved (or `dnssec import` added).
    pub fn restore_dnssec(
        &mut self,
        zones: impl IntoIterator<Item = ZoneState>,
        outcomes: impl IntoIterator<Item = DnssecOutcome>,
    ) {
        self.validator.restore(zones);
        for o in outcomes {
            let Some(code) = schemas::rrtype::parse_type(&o.rtype) else {
                continue;
            };
            if let (Some(signer), true) =
                (&o.signer, o.counts.get("secure").is_some_and(|n| *n > 0))
            {
                self.validator.remember_signed(&o.name, signer);
            }
            self.dnssec.outcomes.insert((o.name.clone(), code), o);
        }
    }

    /// The validator's counters.
    pub fn validator_stats(&self) -> &crate::validate::ValidatorStats {
        &self.validator.stats
    }

    /// Outcomes changed since the last call, for the store.
    pub fn take_dirty_dnssec(&mut self) -> Vec<DnssecOutcome> {
        std::mem::take(&mut self.dnssec.dirty)
            .into_values()
            .collect()
    }

    /// A validated DS or DNSKEY set of a watched zone changed.
    fn key_change(&mut self, obs: &Observation, change: &SetChange, out: &mut Vec<AlertUpdate>) {
        let Some(because) = self.dnssec_watched(&change.zone, change.rtype) else {
            return;
        };
        let kind = type_name(change.rtype);
        let added: Vec<&String> = change
            .current
            .iter()
            .filter(|c| !change.previous.contains(c))
            .collect();
        let removed: Vec<&String> = change
            .previous
            .iter()
            .filter(|p| !change.current.contains(p))
            .collect();
        let mut reasons = vec![format!(
            "the validated {kind} set of {} changed: {} added, {} removed",
            change.zone,
            added.len(),
            removed.len()
        )];
        let score = if change.sep_changed {
            reasons.push(if change.rtype == 43 {
                "the parent now names other keys (a registrar-level change, as in the Sea Turtle hijacks)".to_owned()
            } else {
                "a key-signing key changed".to_owned()
            });
            55
        } else {
            reasons.push("zone-signing keys only (a routine rollover looks like this)".to_owned());
            40
        };
        let info = |d: &String| RdataInfo {
            data: d.clone(),
            prefix: None,
            asn: None,
            as_org: None,
        };
        let seen = RrsetSeen {
            name: change.zone.clone(),
            rrtype: change.rtype,
            rdata: change.current.clone(),
            ttl: obs.answers.iter().map(|r| r.ttl).min().unwrap_or(0),
            glue: Vec::new(),
        };
        let key = (change.zone.clone(), change.rtype);
        let ekey = (Detector::DnssecKeyChange, key.0.clone(), key.1);
        let fresh = !self.episodes.contains_key(&ekey);
        self.raise(
            Detector::DnssecKeyChange,
            &key,
            &because,
            score,
            reasons,
            added.into_iter().map(info).collect(),
            &seen,
            obs,
            out,
        );
        // The episode's baseline is the previous set.
        if fresh {
            if let Some(e) = self.episodes.get_mut(&ekey) {
                e.baseline = change.previous.iter().map(info).collect();
            }
            if let (Some(e), Some(last)) = (self.episodes.get(&ekey), out.last_mut()) {
                if last.alert.event.id == e.id {
                    last.alert = self.to_alert(e, AlertAction::Opened);
                }
            }
        }
    }

    /// What a validating resolver tells its clients about watched names: it stops setting the
    /// AD bit, or answers SERVFAIL in bursts (its validation failing on forged data).
    fn observe_downstream(&mut self, obs: &Observation, out: &mut Vec<AlertUpdate>) {
        if !obs.flags.qr || !obs.flags.ra || obs.flags.aa || obs.opcode != 0 {
            return;
        }
        let Some(q) = obs.questions.first() else {
            return;
        };
        let name = q.name.canonical.clone();
        let qtype = q.qtype;
        let Some(because) = self.dnssec_watched(&name, qtype) else {
            return;
        };
        let resolver = obs.src_ip;
        let now = obs.time_ns;
        let seen = RrsetSeen {
            name: name.clone(),
            rrtype: qtype,
            rdata: obs
                .answers
                .iter()
                .map(|r| r.rdata.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            ttl: obs.answers.iter().map(|r| r.ttl).min().unwrap_or(0),
            glue: Vec::new(),
        };
        match obs.rcode {
            0 if !obs.answers.is_empty() => {
                let key = (resolver, obs.dst_ip, name.clone(), qtype);
                if !self.dnssec.ad.contains_key(&key) && self.dnssec.ad.len() >= MAX_AD_STATES {
                    self.stats.dnssec.downstream_dropped += 1;
                    return;
                }
                if obs.flags.ad
                    && (self.dnssec.validating.len() < MAX_AD_STATES
                        || self.dnssec.validating.contains_key(&resolver))
                {
                    let n = self.dnssec.validating.entry(resolver).or_insert(0);
                    *n = n.saturating_add(1);
                }
                let state = self.dnssec.ad.entry(key).or_insert((0, false));
                if obs.flags.ad {
                    state.0 = state.0.saturating_add(1);
                    state.1 = true;
                    return;
                }
                let (count, was) = *state;
                state.1 = false;
                if count >= AD_HISTORY && was {
                    self.raise(
                        Detector::DnssecAdLost,
                        &(name.clone(), qtype),
                        &because,
                        45,
                        vec![format!(
                            "{resolver} marked {count} answers for {name} {} to {} authenticated (AD) and stopped",
                            type_name(qtype),
                            obs.dst_ip
                        )],
                        observed_of(&seen),
                        &seen,
                        obs,
                        out,
                    );
                }
            }
            // SERVFAIL bursts mean something from a resolver known to validate (one that set
            // the AD bit before); others fail for lame or unreachable servers every day.
            2 if self
                .dnssec
                .validating
                .get(&resolver)
                .is_some_and(|n| *n >= AD_HISTORY) =>
            {
                let key = (resolver, name.clone());
                if !self.dnssec.servfails.contains_key(&key)
                    && self.dnssec.servfails.len() >= MAX_AD_STATES
                {
                    self.stats.dnssec.downstream_dropped += 1;
                    return;
                }
                let times = self.dnssec.servfails.entry(key).or_default();
                times.push_back(now);
                let window = SERVFAIL_WINDOW_SECS * NS_PER_SEC;
                while times
                    .front()
                    .is_some_and(|t| now.saturating_sub(*t) > window)
                    || times.len() > 64
                {
                    times.pop_front();
                }
                let n = times.len();
                if n >= SERVFAIL_BURST {
                    self.raise(
                        Detector::DnssecServfailBurst,
                        &(name.clone(), qtype),
                        &because,
                        45,
                        vec![format!(
                            "{resolver} answered SERVFAIL for {name} {n} times within {SERVFAIL_WINDOW_SECS} s (validation failing, or the servers unreachable)",
                        )],
                        Vec::new(),
                        &seen,
                        obs,
                        out,
                    );
                }
            }
            _ => {}
        }
    }
}

fn seen_of(obs: &Observation, v: &RrsetVerdict) -> RrsetSeen {
    let mut rdata: Vec<String> = obs
        .answers
        .iter()
        .chain(&obs.authority)
        .filter(|r| r.rtype == v.rtype && r.name.canonical == v.name)
        .map(|r| r.rdata.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    rdata.sort();
    rdata.dedup();
    RrsetSeen {
        name: v.name.clone(),
        rrtype: v.rtype,
        ttl: obs
            .answers
            .iter()
            .filter(|r| r.rtype == v.rtype && r.name.canonical == v.name)
            .map(|r| r.ttl)
            .min()
            .unwrap_or(0),
        rdata,
        glue: Vec::new(),
    }
}

fn observed_of(seen: &RrsetSeen) -> Vec<RdataInfo> {
    seen.rdata
        .iter()
        .take(8)
        .map(|d| RdataInfo {
            data: d.clone(),
            prefix: None,
            asn: None,
            as_org: None,
        })
        .collect()
}
