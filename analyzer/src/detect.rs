//! The divergence detectors: [`Analyzer`] turns observations into alerts.
//!
//! For every response about a watched (name, type) the analyzer compares the answer with the
//! rrset's [`Baseline`]. Each detector has a stable name ([`Detector`]):
//!
//! * `new_rdata`: an established rrset answers with rdata outside its known prefixes. Scored by
//!   novelty: a new prefix in a known AS of the rrset is low; an AS seen for other watched names
//!   is medium; an AS never seen for any watched name (or an address no table knows) is high.
//!   Raised by a TTL above what authoritative answers carry, by a split view (other resolvers
//!   hand out the baseline at the same time) and by a TTL that jumped before the previous copy
//!   expired.
//! * `split_view`: a resolver hands out known A/AAAA data in no AS the other resolvers hand out
//!   at the same time, data no other responder has handed out for a day (stale or re-planted
//!   data; rotation among an operator's addresses is not a split view).
//! * `ttl_above_authoritative`: known data handed out with a TTL above the largest TTL the
//!   authoritative answers (or, without upstream traffic, any answer) ever carried.
//! * `ttl_rewound`: a resolver's copy changed and its remaining TTL rose before the previous copy
//!   expired (the cache entry was replaced).
//! * `mx_set_change`, `ns_set_change`: a watched zone's MX or NS set names a new target
//!   (referrals included); scored by where the new targets' addresses are (glue in the same
//!   response, or the targets' first answers later).
//! * `cname_appeared`: an alias where the name never had one.
//!
//! One alert per episode: repeats update the open episode. An episode closes as *reverted*
//! when every resolver that handed out the new data answers with the baseline again (which
//! raises the score: legitimate changes persist and spread), as *persisted* when the new data
//! has been handed out for [`DetectConfig::persist_after_hours`] (it is then learnt), or as
//! *accepted* by an operator. All time is packet time.

use crate::baseline::{Baseline, BaselineConfig, NS_PER_SEC};
use crate::watch::{rtype, WatchConfig, WatchReason, Watchlist};
use schemas::alert::{
    Alert, AlertAction, AlertAnswer, AlertDetails, AlertDns, AlertEvent, AlertQuestion,
    ClosedReason, Endpoint, EpisodeStatus, Evidence, Observer, RdataInfo, Rule, Severity,
    ALERT_SCHEMA_VERSION, MAX_EVIDENCE,
};
use schemas::time::format_utc_ns;
use schemas::{Anomaly, Observation, Record, Transport, WireFinding};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

#[path = "detect_dnssec.rs"]
mod dnssec_checks;
use crate::validate::{Validator, ValidatorLimits};
use dnssec_checks::DnssecState;
pub use dnssec_checks::{DnssecOutcome, DnssecStats};

/// The detectors, each with a stable snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    /// New rdata outside the rrset's known prefixes.
    NewRdata,
    /// One resolver disagrees with the others at AS level.
    SplitView,
    /// TTL above the authoritative TTL.
    TtlAboveAuthoritative,
    /// Remaining TTL rose before the previous copy expired.
    TtlRewound,
    /// New MX target.
    MxSetChange,
    /// New NS target.
    NsSetChange,
    /// A CNAME where there was none.
    CnameAppeared,
    /// Responses with a wrong transaction id (or port) aimed at a resolver's queries.
    TxidMismatchBurst,
    /// Two different answers to one query.
    ResponseRace,
    /// A response whose question differs from the query's in case only (0x20).
    CaseMismatch,
    /// Records outside what the responding server may speak for (see `sensor::bailiwick`).
    BailiwickViolation,
    /// Responses unlike their responder's history: IP TTL, EDNS, arrival time.
    ResponderFingerprint,
    /// Fragmented responses from a server that does not fragment, or fragments that overlap,
    /// disagree, or arrive with different IP TTLs.
    FragmentedResponse,
    /// A recursive resolver whose queries are easy to answer blindly (a fixed source port,
    /// predictable transaction ids).
    ResolverExposure,
    /// A watched rrset (or a watched zone's DS or DNSKEY set) that fails DNSSEC validation.
    DnssecBogus,
    /// An unsigned answer, to a DNSSEC (DO) query, for a name known to be signed.
    DnssecStripped,
    /// The validated DS or DNSKEY set of a watched zone changed.
    DnssecKeyChange,
    /// A validating resolver stopped setting the AD bit for a watched name.
    DnssecAdLost,
    /// A validating resolver answers SERVFAIL for a watched name in bursts.
    DnssecServfailBurst,
}

impl Detector {
    /// Every detector.
    pub const ALL: [Detector; 19] = [
        Detector::NewRdata,
        Detector::SplitView,
        Detector::TtlAboveAuthoritative,
        Detector::TtlRewound,
        Detector::MxSetChange,
        Detector::NsSetChange,
        Detector::CnameAppeared,
        Detector::TxidMismatchBurst,
        Detector::ResponseRace,
        Detector::CaseMismatch,
        Detector::BailiwickViolation,
        Detector::ResponderFingerprint,
        Detector::FragmentedResponse,
        Detector::ResolverExposure,
        Detector::DnssecBogus,
        Detector::DnssecStripped,
        Detector::DnssecKeyChange,
        Detector::DnssecAdLost,
        Detector::DnssecServfailBurst,
    ];

    /// The stable name.
    pub fn name(self) -> &'static str {
        match self {
            Detector::NewRdata => "new_rdata",
            Detector::SplitView => "split_view",
            Detector::TtlAboveAuthoritative => "ttl_above_authoritative",
            Detector::TtlRewound => "ttl_rewound",
            Detector::MxSetChange => "mx_set_change",
            Detector::NsSetChange => "ns_set_change",
            Detector::CnameAppeared => "cname_appeared",
            Detector::TxidMismatchBurst => "txid_mismatch_burst",
            Detector::ResponseRace => "response_race",
            Detector::CaseMismatch => "case_mismatch",
            Detector::BailiwickViolation => "bailiwick_violation",
            Detector::ResponderFingerprint => "responder_fingerprint",
            Detector::FragmentedResponse => "fragmented_response",
            Detector::ResolverExposure => "resolver_exposure",
            Detector::DnssecBogus => "dnssec_bogus",
            Detector::DnssecStripped => "dnssec_stripped",
            Detector::DnssecKeyChange => "dnssec_key_change",
            Detector::DnssecAdLost => "dnssec_ad_lost",
            Detector::DnssecServfailBurst => "dnssec_servfail_burst",
        }
    }

    /// `spoofing` for wire-level detectors, `divergence` for history-based ones, `exposure`
    /// for a resolver's weakness (not an attack), `dnssec` for validation.
    pub fn category(self) -> &'static str {
        match self {
            Detector::ResolverExposure => "exposure",
            Detector::DnssecBogus
            | Detector::DnssecStripped
            | Detector::DnssecKeyChange
            | Detector::DnssecAdLost
            | Detector::DnssecServfailBurst => "dnssec",
            Detector::TxidMismatchBurst
            | Detector::ResponseRace
            | Detector::CaseMismatch
            | Detector::BailiwickViolation
            | Detector::ResponderFingerprint
            | Detector::FragmentedResponse => "spoofing",
            _ => "divergence",
        }
    }
}

/// Where an IP address is routed from: the origin AS.
pub trait AsLookup: Send + Sync {
    /// The origin AS number and organisation of `ip`, when known.
    fn lookup_as(&self, ip: IpAddr) -> Option<(u32, Arc<str>)>;
}

/// Detector settings (`[detect]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Packet-time seconds within which answers of different resolvers count as "at the same
    /// time" for split views.
    pub split_view_window_secs: u64,
    /// Known data counts as a split view only when no other responder handed it out within this
    /// many packet-time hours (so rotation among an operator's addresses is not a split view).
    pub split_view_stale_hours: u64,
    /// Packet-time hours new data must keep being handed out before it is learnt as legitimate
    /// and its episode closed as persisted.
    pub persist_after_hours: u64,
    /// Seconds of TTL slack before a TTL counts as raised.
    pub ttl_slack_secs: u32,
    /// Most open episodes; new ones beyond it are counted and not opened.
    pub max_episodes: usize,
    /// Most distinct clients counted per episode.
    pub max_clients_per_episode: usize,
    /// Packet-time seconds of the sliding window in which wrong-txid and unsolicited
    /// responses aimed at one resolver are counted.
    pub burst_window_secs: u64,
    /// Unsolicited responses (matching no query) within the window that make a burst; a
    /// response guessing the txid of an outstanding query opens one at once.
    pub burst_threshold: usize,
    /// Packet-time seconds without a new wire anomaly after which its episode ends.
    pub wire_quiet_secs: u64,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            split_view_window_secs: 600,
            split_view_stale_hours: 24,
            persist_after_hours: 24,
            ttl_slack_secs: 2,
            max_episodes: 10_000,
            max_clients_per_episode: 100_000,
            burst_window_secs: 10,
            burst_threshold: 10,
            wire_quiet_secs: 60,
        }
    }
}

/// Everything the analyzer needs to know.
#[derive(Debug, Clone, Default)]
pub struct AnalyzerConfig {
    /// Written into alerts (`observer.id`).
    pub sensor_id: String,
    /// What to watch.
    pub watch: WatchConfig,
    /// How baselines learn.
    pub baseline: BaselineConfig,
    /// Detector settings.
    pub detect: DetectConfig,
    /// DNSSEC validation settings.
    pub dnssec: DnssecSettings,
}

/// What DNSSEC validation starts from.
#[derive(Debug, Clone, Default)]
pub struct DnssecSettings {
    /// Trust anchors (the root's built-in ones plus the operator's; empty: nothing validates).
    pub anchors: Vec<crate::dnssec::TrustAnchor>,
    /// Zones the operator declares unsigned (their answers are insecure, not indeterminate).
    pub insecure_zones: Vec<String>,
}

/// Counters, for the stats output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AnalyzerStats {
    /// Observations given to the analyzer.
    pub observations: u64,
    /// Rrset answers about watched names.
    pub watched_rrsets: u64,
    /// Of those, answers to rrsets still learning.
    pub learning: u64,
    /// New rdata learnt silently (inside a known prefix).
    pub learnt_same_prefix: u64,
    /// Targets learnt from MX and NS answers.
    pub targets_learnt: u64,
    /// Targets not learnt (watchlist full).
    pub targets_dropped: u64,
    /// Rrsets not followed (baseline table full).
    pub rrsets_dropped: u64,
    /// Episodes opened.
    pub episodes_opened: u64,
    /// Episodes closed.
    pub episodes_closed: u64,
    /// Episodes not opened (episode table full).
    pub episodes_dropped: u64,
    /// Alert state changes handed to the sinks.
    pub alerts_notified: u64,
    /// New rdata, responders or reasons not added to an episode that already held
    /// [`MAX_EPISODE_ENTRIES`] of them (a flood of distinct forged data or sources).
    pub episode_entries_dropped: u64,
    /// DNSSEC outcomes and drops.
    pub dnssec: DnssecStats,
}

/// Most observed rdata, responders and reasons one episode keeps.
pub const MAX_EPISODE_ENTRIES: usize = 64;

/// An alert that changed, for the store (always) and the sinks (when `notify`).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertUpdate {
    /// The alert's current state.
    pub alert: Alert,
    /// Whether sinks should see it (opened, escalated, closed).
    pub notify: bool,
}

/// How new an address is for an rrset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Novelty {
    Known,
    SamePrefix,
    SameAs,
    SiblingAs,
    NewAs,
    NewPrefixNoTable,
    NovelAs,
}

type EpisodeKey = (Detector, String, u16);

/// One open divergence episode with everything needed to continue it (saved in the store, so a
/// restart continues the episode instead of opening a new one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    id: String,
    detector: Detector,
    name: String,
    rtype: u16,
    first_ns: u64,
    last_ns: u64,
    score: u8,
    reasons: Vec<String>,
    watched_because: String,
    baseline: Vec<RdataInfo>,
    observed: BTreeMap<String, RdataInfo>,
    answers: Vec<AlertAnswer>,
    first_responder: IpAddr,
    /// Responder → (authoritative, reverted).
    responders: BTreeMap<IpAddr, (bool, bool)>,
    clients: BTreeSet<IpAddr>,
    responses: u64,
    evidence: Vec<Evidence>,
    evidence_dropped: u64,
    status: EpisodeStatus,
    closed_reason: Option<ClosedReason>,
    closed_ns: Option<u64>,
    /// Last score the sinks were told about.
    notified_severity: Option<Severity>,
    /// The question shown in the alert when the episode is keyed by something else (a wire
    /// burst is keyed by its resolver).
    #[serde(default)]
    question: Option<(String, u16)>,
}

impl Episode {
    /// The alert id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A new open episode with nothing seen yet but its start.
    #[allow(clippy::too_many_arguments)] // a plain constructor of the episode's identity
    fn open(
        id: String,
        detector: Detector,
        name: String,
        rtype: u16,
        first_ns: u64,
        because: &str,
        baseline: Vec<RdataInfo>,
        first_responder: IpAddr,
        question: Option<(String, u16)>,
    ) -> Episode {
        Episode {
            id,
            detector,
            name,
            rtype,
            first_ns,
            last_ns: first_ns,
            score: 0,
            reasons: Vec::new(),
            watched_because: because.to_owned(),
            baseline,
            observed: BTreeMap::new(),
            answers: Vec::new(),
            first_responder,
            responders: BTreeMap::new(),
            clients: BTreeSet::new(),
            responses: 0,
            evidence: Vec::new(),
            evidence_dropped: 0,
            status: EpisodeStatus::Open,
            closed_reason: None,
            closed_ns: None,
            notified_severity: None,
            question,
        }
    }
}

/// An organisation name reduced to what identifies the organisation: lower case, without legal
/// forms and generic words (`Akamai International B.V.` and `Akamai Technologies, Inc.` are both
/// `akamai`; `China Telecom` and `China Unicom` stay apart).
pub fn org_key(org: &str) -> String {
    const GENERIC: &[&str] = &[
        "inc",
        "llc",
        "ltd",
        "limited",
        "b",
        "v",
        "bv",
        "gmbh",
        "corp",
        "corporation",
        "co",
        "company",
        "technologies",
        "technology",
        "international",
        "holdings",
        "holding",
        "sa",
        "ag",
        "plc",
        "as",
        "asn",
        "block",
        "msn",
        "the",
        "network",
        "networks",
        "net",
    ];
    org.split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::to_ascii_lowercase)
        .filter(|w| !w.is_empty() && !GENERIC.contains(&w.as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Wrong-txid and unsolicited responses aimed at one resolver.
#[derive(Debug, Default)]
struct Burst {
    /// Packet times within the window (at most [`MAX_BURST_TIMES`]).
    times: VecDeque<u64>,
    /// Responses guessing an outstanding query's txid.
    mismatches: u64,
    last_ns: u64,
}

/// Times kept per burst window (a flood beyond it counts as this many).
const MAX_BURST_TIMES: usize = 100_000;

/// Resolvers followed for bursts at once.
const MAX_BURSTS: usize = 10_000;

/// Stable 64-bit FNV-1a.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(std::iter::once(&0xffu8)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The stable id of an episode.
pub fn alert_id(detector: &str, name: &str, rrtype: u16, first_ns: u64) -> String {
    let h = fnv1a(&[
        detector.as_bytes(),
        name.as_bytes(),
        &rrtype.to_be_bytes(),
        &first_ns.to_be_bytes(),
    ]);
    format!("dw1-{h:016x}")
}

fn canonical_rdata(rdata: &str) -> String {
    rdata.trim_end_matches('.').to_ascii_lowercase()
}

/// The target name inside MX or NS rdata.
fn target_of(rrtype: u16, rdata: &str) -> Option<String> {
    let name = match rrtype {
        rtype::MX => rdata.split_whitespace().nth(1)?,
        rtype::NS | rtype::CNAME => rdata,
        _ => return None,
    };
    Some(canonical_rdata(name))
}

fn type_name(rrtype: u16) -> String {
    schemas::rrtype::type_name(rrtype).into_owned()
}

/// One rrset found in a response.
#[derive(Debug)]
struct RrsetSeen {
    name: String,
    rrtype: u16,
    rdata: Vec<String>,
    ttl: u32,
    /// Addresses of targets found in the same response (glue), for MX/NS.
    glue: Vec<(String, IpAddr)>,
}

/// The question of a response and its answer records (canonical, sorted), for an alert about
/// the response as a whole.
fn response_seen(obs: &Observation, qname: &str, qtype: u16) -> RrsetSeen {
    let mut answers: Vec<String> = obs
        .answers
        .iter()
        .map(|r| canonical_rdata(&r.rdata))
        .collect();
    answers.sort();
    answers.dedup();
    RrsetSeen {
        name: qname.to_owned(),
        rrtype: qtype,
        rdata: answers,
        ttl: obs.answers.iter().map(|r| r.ttl).min().unwrap_or(0),
        glue: Vec::new(),
    }
}

/// Reason prefixes of the fragment checks (anomaly names), given once each per episode.
const FRAGMENT_REASONS: [&str; 3] = [
    "fragment_overlap",
    "fragment_inconsistent",
    "fragment_ttl_mismatch",
];

/// The answer records of `owner` and `rrtype`, canonical and sorted, with the smallest TTL.
fn records_of(records: &[Record], owner: &str, rrtype: u16) -> (Vec<String>, u32) {
    let mut rdata: Vec<String> = Vec::new();
    let mut ttl = u32::MAX;
    for r in records
        .iter()
        .filter(|r| r.rtype == rrtype && r.class == 1 && r.name.canonical == owner)
    {
        rdata.push(canonical_rdata(&r.rdata));
        ttl = ttl.min(r.ttl);
    }
    rdata.sort();
    rdata.dedup();
    (rdata, if ttl == u32::MAX { 0 } else { ttl })
}

fn glue_of(obs: &Observation, targets: &[String]) -> Vec<(String, IpAddr)> {
    let mut glue = Vec::new();
    for r in obs.additional.iter().chain(obs.answers.iter()) {
        if matches!(r.rtype, rtype::A | rtype::AAAA) && targets.contains(&r.name.canonical) {
            if let Ok(ip) = r.rdata.parse::<IpAddr>() {
                glue.push((r.name.canonical.clone(), ip));
            }
        }
    }
    glue
}

/// The rrsets of a response worth comparing: the answer for the question (following CNAMEs,
/// attributing the final data to the question name), any CNAME at the question name, and the NS
/// set of a referral.
fn rrsets_in(obs: &Observation) -> Vec<RrsetSeen> {
    let mut out = Vec::new();
    let Some(q) = obs.questions.first() else {
        return out;
    };
    if obs.questions.len() != 1 || q.qclass != 1 {
        return out;
    }
    let qname = q.name.canonical.as_str();
    let qtype = q.qtype;
    if obs.answers.is_empty() {
        // A referral: NS records in authority, no answer.
        let mut owners: Vec<&str> = obs
            .authority
            .iter()
            .filter(|r| r.rtype == rtype::NS)
            .map(|r| r.name.canonical.as_str())
            .collect();
        owners.sort_unstable();
        owners.dedup();
        for owner in owners {
            let (rdata, ttl) = records_of(&obs.authority, owner, rtype::NS);
            let targets: Vec<String> = rdata.iter().map(|r| canonical_rdata(r)).collect();
            out.push(RrsetSeen {
                name: owner.to_owned(),
                rrtype: rtype::NS,
                glue: glue_of(obs, &targets),
                rdata,
                ttl,
            });
        }
        return out;
    }
    let (cname, cname_ttl) = records_of(&obs.answers, qname, rtype::CNAME);
    if !cname.is_empty() && qtype != rtype::CNAME {
        out.push(RrsetSeen {
            name: qname.to_owned(),
            rrtype: rtype::CNAME,
            rdata: cname.clone(),
            ttl: cname_ttl,
            glue: Vec::new(),
        });
    }
    // Follow the chain to the owner of the data.
    let mut owner = qname.to_owned();
    for _ in 0..16 {
        let (next, _) = records_of(&obs.answers, &owner, rtype::CNAME);
        match next.first() {
            Some(target) if qtype != rtype::CNAME => owner = target.clone(),
            _ => break,
        }
    }
    let (rdata, ttl) = records_of(&obs.answers, &owner, qtype);
    if !rdata.is_empty() {
        let targets: Vec<String> = rdata.iter().filter_map(|r| target_of(qtype, r)).collect();
        out.push(RrsetSeen {
            name: qname.to_owned(),
            rrtype: qtype,
            glue: if matches!(qtype, rtype::MX | rtype::NS) {
                glue_of(obs, &targets)
            } else {
                Vec::new()
            },
            rdata,
            ttl,
        });
    }
    out
}

/// Learns the targets of a watched zone's MX or NS rrset into `watch`; returns those new.
///
/// The analyzer and the [`AnswerFilter`] in front of it both learn through this function from
/// the same observations in the same order, so their watchlists stay identical.
fn learn_targets(watch: &mut Watchlist, seen: &RrsetSeen, now: u64) -> Vec<(String, WatchReason)> {
    let mut out = Vec::new();
    if !matches!(seen.rrtype, rtype::MX | rtype::NS) {
        return out;
    }
    let via = type_name(seen.rrtype);
    for r in &seen.rdata {
        if let Some(t) = target_of(seen.rrtype, r) {
            if let Some(reason) = watch.learn(&t, &seen.name, &via, now) {
                out.push((t, reason));
            }
        }
    }
    out
}

/// Picks, in capture order, the answers the analyzer wants, before anyone pays for building
/// their observations: answers about watched names, and referrals below watched zones. It
/// learns MX and NS targets from the observations it admits exactly as the analyzer does
/// (restore it with the same learnt targets), so it admits a target's answers from the moment
/// the analyzer watches it.
#[derive(Debug, Clone)]
pub struct AnswerFilter {
    watch: Watchlist,
}

impl AnswerFilter {
    /// A filter for `config`, with the targets learnt by earlier runs.
    pub fn new(
        config: &WatchConfig,
        learnt: impl IntoIterator<Item = (String, WatchReason)>,
    ) -> Self {
        let mut watch = Watchlist::new(config);
        watch.restore(learnt);
        AnswerFilter { watch }
    }

    /// Whether a response whose question is `qname` (canonical) and `qtype` is wanted:
    /// with answers, when the name is watched for that type or for CNAME; without (a
    /// referral), when the name is at or below a watched zone other than the root.
    ///
    /// DS and DNSKEY responses (answers or denials) are wanted for every name on a watched
    /// name's DNSSEC chain ([`Watchlist::on_chain`]): they feed the validator.
    pub fn wants(&self, qname: &str, qtype: u16, has_answers: bool) -> bool {
        if matches!(qtype, 43 | 48) && self.watch.on_chain(qname) {
            return true;
        }
        if has_answers {
            self.watch.wants_answer(qname, qtype)
        } else {
            self.watch.covers(qname)
        }
    }

    /// Learns from an admitted observation (before it goes to the analyzer).
    pub fn learn(&mut self, obs: &Observation) {
        if !obs.flags.qr
            || obs.opcode != 0
            || obs.rcode != 0
            || obs.anomalies.iter().any(|a| a.is_malformed())
            || obs.transport == schemas::Transport::Icmp
        {
            return;
        }
        for seen in rrsets_in(obs) {
            if self.watch.watched(&seen.name, seen.rrtype).is_some() {
                learn_targets(&mut self.watch, &seen, obs.time_ns);
            }
        }
    }
}

/// Turns observations into alerts; see the module documentation.
pub struct Analyzer {
    config: AnalyzerConfig,
    watch: Watchlist,
    baselines: HashMap<(String, u16), Baseline>,
    /// AS → earliest packet time it was learnt for any watched rrset.
    global_asns: BTreeMap<u32, u64>,
    episodes: BTreeMap<EpisodeKey, Episode>,
    /// Wire-anomaly bursts per resolver.
    bursts: HashMap<IpAddr, Burst>,
    /// AS → organisation key ([`org_key`]), for sibling ASes.
    as_orgs: HashMap<u32, String>,
    /// Learnt target → the set-change episode that named it.
    target_links: HashMap<String, EpisodeKey>,
    asn: Option<Arc<dyn AsLookup>>,
    dirty: BTreeSet<(String, u16)>,
    dirty_episodes: BTreeSet<EpisodeKey>,
    /// Whether updates that notify no sink are left out of `out` (see
    /// [`Analyzer::set_lazy_updates`]).
    lazy_updates: bool,
    /// Episodes updated without notification since the last [`Analyzer::take_stale_alerts`].
    stale_alerts: BTreeSet<EpisodeKey>,
    closed_episodes: Vec<String>,
    new_learnt: Vec<(String, WatchReason)>,
    now_ns: u64,
    last_sweep_ns: u64,
    /// The DNSSEC validator (key cache and verdicts).
    validator: Validator,
    dnssec: DnssecState,
    /// Counters.
    pub stats: AnalyzerStats,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("baselines", &self.baselines.len())
            .field("episodes", &self.episodes.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Analyzer {
    /// An analyzer with no history, looking up origin ASes in `asn` when given.
    pub fn new(config: AnalyzerConfig, asn: Option<Arc<dyn AsLookup>>) -> Analyzer {
        Analyzer {
            validator: Validator::new(
                &config.dnssec.anchors,
                config.dnssec.insecure_zones.iter().cloned(),
                ValidatorLimits::default(),
            ),
            dnssec: DnssecState::default(),
            watch: Watchlist::new(&config.watch),
            config,
            baselines: HashMap::new(),
            global_asns: BTreeMap::new(),
            episodes: BTreeMap::new(),
            target_links: HashMap::new(),
            as_orgs: HashMap::new(),
            bursts: HashMap::new(),
            asn,
            dirty: BTreeSet::new(),
            dirty_episodes: BTreeSet::new(),
            lazy_updates: false,
            stale_alerts: BTreeSet::new(),
            closed_episodes: Vec::new(),
            new_learnt: Vec::new(),
            now_ns: 0,
            last_sweep_ns: 0,
            stats: AnalyzerStats::default(),
        }
    }

    /// Restores baselines and learnt targets saved by an earlier run (or imported).
    pub fn restore(
        &mut self,
        baselines: impl IntoIterator<Item = Baseline>,
        learnt: impl IntoIterator<Item = (String, WatchReason)>,
    ) {
        self.watch.restore(learnt);
        for b in baselines {
            let Some(code) = schemas::rrtype::parse_type(&b.rtype) else {
                continue;
            };
            for (rdata, stats) in &b.rdata {
                if let Some(asn) = stats.asn {
                    let e = self.global_asns.entry(asn).or_insert(stats.first_ns);
                    *e = (*e).min(stats.first_ns);
                    if !self.as_orgs.contains_key(&asn) {
                        if let Some((_, org)) =
                            rdata.parse::<IpAddr>().ok().and_then(|ip| self.lookup(ip))
                        {
                            self.as_orgs.insert(asn, org_key(&org));
                        }
                    }
                }
            }
            self.baselines.insert((b.name.clone(), code), b);
        }
    }

    /// The watchlist (configured and learnt).
    pub fn watchlist(&self) -> &Watchlist {
        &self.watch
    }

    /// Baselines changed since the last call, for saving.
    pub fn take_dirty_baselines(&mut self) -> Vec<Baseline> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty
            .iter()
            .filter_map(|k| self.baselines.get(k).cloned())
            .collect()
    }

    /// Episodes changed since the last call (to save) and ids of episodes closed since (to
    /// delete).
    pub fn take_episode_changes(&mut self) -> (Vec<Episode>, Vec<String>) {
        let dirty = std::mem::take(&mut self.dirty_episodes);
        let changed = dirty
            .iter()
            .filter_map(|k| self.episodes.get(k).cloned())
            .collect();
        (changed, std::mem::take(&mut self.closed_episodes))
    }

    /// Continues the open episodes an earlier run saved.
    pub fn restore_episodes(&mut self, episodes: impl IntoIterator<Item = Episode>) {
        for e in episodes {
            let key: EpisodeKey = (e.detector, e.name.clone(), e.rtype);
            if matches!(e.detector, Detector::MxSetChange | Detector::NsSetChange) {
                for o in e.observed.keys() {
                    if let Some(t) = target_of(e.rtype, o) {
                        self.target_links.insert(t, key.clone());
                    }
                }
            }
            self.episodes.insert(key, e);
        }
    }

    /// Targets learnt since the last call, for saving.
    pub fn take_new_learnt(&mut self) -> Vec<(String, WatchReason)> {
        std::mem::take(&mut self.new_learnt)
    }

    /// Every baseline, sorted by name and type.
    pub fn baselines(&self) -> Vec<&Baseline> {
        let mut v: Vec<&Baseline> = self.baselines.values().collect();
        v.sort_by(|a, b| (&a.name, &a.rtype).cmp(&(&b.name, &b.rtype)));
        v
    }

    /// Open episodes as alerts, sorted by id.
    pub fn open_alerts(&self) -> Vec<Alert> {
        let mut v: Vec<Alert> = self
            .episodes
            .values()
            .map(|e| self.to_alert(e, AlertAction::Opened))
            .collect();
        v.sort_by(|a, b| a.event.id.cmp(&b.event.id));
        v
    }

    fn lookup(&self, ip: IpAddr) -> Option<(u32, Arc<str>)> {
        self.asn.as_ref().and_then(|t| t.lookup_as(ip))
    }

    fn rdata_info(&self, rrtype: u16, rdata: &str) -> RdataInfo {
        let ip = if matches!(rrtype, rtype::A | rtype::AAAA) {
            rdata.parse::<IpAddr>().ok()
        } else {
            None
        };
        let asn = ip.and_then(|ip| self.lookup(ip));
        RdataInfo {
            data: rdata.to_owned(),
            prefix: ip.map(|ip| {
                crate::baseline::prefix_of_ip(
                    ip,
                    self.config.baseline.prefix_v4,
                    self.config.baseline.prefix_v6,
                )
            }),
            asn: asn.as_ref().map(|(n, _)| *n),
            as_org: asn.map(|(_, o)| o.to_string()),
        }
    }

    /// Whether `asn` has been part of some watched rrset for a full learning period at `now`.
    fn asn_established(&self, asn: u32) -> bool {
        self.global_asns.get(&asn).is_some_and(|first| {
            self.now_ns.saturating_sub(*first) >= self.config.baseline.learning_ns()
        })
    }

    fn novelty(&self, b: &Baseline, info: &RdataInfo) -> Novelty {
        if b.rdata.contains_key(&info.data) {
            return Novelty::Known;
        }
        if let Some(p) = &info.prefix {
            if b.prefixes.contains(p) {
                return Novelty::SamePrefix;
            }
        }
        match info.asn {
            Some(a) if b.asns.contains(&a) => Novelty::SameAs,
            Some(a) if self.is_sibling(b, a) => Novelty::SiblingAs,
            Some(a) if self.asn_established(a) => Novelty::NewAs,
            Some(_) => Novelty::NovelAs,
            None if self.asn.is_none() => Novelty::NewPrefixNoTable,
            None => Novelty::NovelAs,
        }
    }

    /// Whether `asn` belongs to the same organisation as one of the rrset's known ASes (big
    /// operators announce from several: Akamai from AS20940, AS16625, AS24319, ...).
    fn is_sibling(&self, b: &Baseline, asn: u32) -> bool {
        let Some(key) = self.as_orgs.get(&asn).filter(|k| !k.is_empty()) else {
            return false;
        };
        b.asns
            .iter()
            .any(|known| self.as_orgs.get(known) == Some(key))
    }

    /// Remembers the organisation of every AS in `infos`.
    fn note_orgs(&mut self, infos: &[RdataInfo]) {
        for i in infos {
            if let (Some(a), Some(o)) = (i.asn, &i.as_org) {
                self.as_orgs.entry(a).or_insert_with(|| org_key(o));
            }
        }
    }

    fn describe_novelty(&self, novelty: Novelty, info: &RdataInfo) -> (u8, String) {
        let as_text = match (&info.asn, &info.as_org) {
            (Some(a), Some(o)) => format!("AS{a} ({o})"),
            (Some(a), None) => format!("AS{a}"),
            _ => "an AS the IP-to-AS table does not know".to_owned(),
        };
        let prefix = info.prefix.as_deref().unwrap_or("?");
        match novelty {
            Novelty::SameAs => (
                25,
                format!(
                    "{} is in a new prefix {prefix} of a known {as_text}",
                    info.data
                ),
            ),
            Novelty::SiblingAs => (
                25,
                format!(
                    "{} is in {as_text}, new for this name but run by the same organisation as a known AS",
                    info.data
                ),
            ),
            Novelty::NewAs => (
                45,
                format!(
                    "{} is in {as_text}, new for this name (seen for other watched names)",
                    info.data
                ),
            ),
            Novelty::NewPrefixNoTable => (
                45,
                format!(
                    "{} is in a new prefix {prefix} (no IP-to-AS table configured)",
                    info.data
                ),
            ),
            Novelty::NovelAs => (
                65,
                format!(
                    "{} is in {as_text}, never seen for any watched name",
                    info.data
                ),
            ),
            Novelty::Known | Novelty::SamePrefix => (0, String::new()),
        }
    }

    /// With `lazy`, updates that notify no sink (an open alert counting one more response) are
    /// not appended to `out` by [`Analyzer::process`]; their alerts are built once, by
    /// [`Analyzer::take_stale_alerts`], instead of once per packet of a flood.
    pub fn set_lazy_updates(&mut self, lazy: bool) {
        self.lazy_updates = lazy;
    }

    /// The current state of every alert updated without notification since the last call
    /// (with [`Analyzer::set_lazy_updates`]).
    pub fn take_stale_alerts(&mut self) -> Vec<Alert> {
        let stale = std::mem::take(&mut self.stale_alerts);
        stale
            .iter()
            .filter_map(|k| {
                self.episodes
                    .get(k)
                    .map(|e| self.to_alert(e, AlertAction::Escalated))
            })
            .collect()
    }

    /// Processes one observation; alerts that changed are appended to `out`.
    pub fn process(&mut self, obs: &Observation, out: &mut Vec<AlertUpdate>) {
        self.stats.observations += 1;
        self.now_ns = self.now_ns.max(obs.time_ns);
        if let Some(p) = &obs.pairing {
            self.observe_pairing(obs, &p.verdict, out);
        }
        if obs.flags.qr {
            self.observe_wire(obs, out);
            self.observe_dnssec(obs, out);
        }
        if !obs.flags.qr
            || obs.opcode != 0
            || obs.rcode != 0
            || obs.anomalies.iter().any(|a| a.is_malformed())
            || obs.transport == schemas::Transport::Icmp
        {
            self.sweep(out);
            return;
        }
        for seen in rrsets_in(obs) {
            self.observe_rrset(obs, &seen, out);
        }
        self.sweep(out);
    }

    fn observe_rrset(&mut self, obs: &Observation, seen: &RrsetSeen, out: &mut Vec<AlertUpdate>) {
        let Some(watched) = self.watch.watched(&seen.name, seen.rrtype) else {
            return;
        };
        let zone = watched.zone.to_owned();
        let because = watched.reason.describe();
        let because = if zone == seen.name {
            because
        } else {
            format!("{because} ({zone})")
        };
        self.stats.watched_rrsets += 1;
        let now = obs.time_ns;
        // Follow MX and NS targets.
        for learnt in learn_targets(&mut self.watch, seen, now) {
            self.stats.targets_learnt += 1;
            self.new_learnt.push(learnt);
        }
        self.stats.targets_dropped = self.watch.learnt_dropped;
        let key = (seen.name.clone(), seen.rrtype);
        if !self.baselines.contains_key(&key) {
            if self.baselines.len() >= self.config.baseline.max_rrsets {
                self.stats.rrsets_dropped += 1;
                return;
            }
            self.baselines.insert(
                key.clone(),
                Baseline::new(&seen.name, &type_name(seen.rrtype), now),
            );
        }
        self.dirty.insert(key.clone());
        let infos: Vec<RdataInfo> = seen
            .rdata
            .iter()
            .map(|r| self.rdata_info(seen.rrtype, r))
            .collect();
        self.note_orgs(&infos);
        let responder = obs.src_ip;
        let authoritative = obs.flags.aa;
        let Some(b) = self.baselines.get(&key) else {
            return;
        };
        // A first CNAME at a name is judged by the name's own (established) baseline for the
        // question's type: the alias rrset itself has no history by definition.
        let qtype = obs.questions.first().map_or(0, |q| q.qtype);
        let first_alias = seen.rrtype == rtype::CNAME
            && b.rdata.is_empty()
            && self
                .baselines
                .get(&(seen.name.clone(), qtype))
                .is_some_and(|q| q.is_established(now, &self.config.baseline));
        let established = b.is_established(now, &self.config.baseline) || first_alias;
        if !established {
            self.stats.learning += 1;
            self.learn_all(&key, &infos, seen, obs);
            // A learnt target's first addresses can tell where a new MX/NS target lives.
            self.check_target_link(&seen.name, &infos, obs, out);
            return;
        }
        let previous = b.responders.get(&responder).cloned();
        let max_auth = b.max_auth_ttl.unwrap_or(b.max_ttl);
        let cname_history = seen.rrtype != rtype::CNAME
            || self
                .baselines
                .get(&key)
                .is_some_and(|b| !b.rdata.is_empty());
        let novelties: Vec<Novelty> = infos.iter().map(|i| self.novelty(b, i)).collect();
        let slack = self.config.detect.ttl_slack_secs;
        let ttl_high = !authoritative && seen.ttl > max_auth.saturating_add(slack);
        let ttl_rewound = !authoritative
            && previous.as_ref().is_some_and(|p| {
                now < p.expiry_ns()
                    && p.last_rdata != seen.rdata
                    && now.saturating_add(u64::from(seen.ttl) * NS_PER_SEC)
                        > p.expiry_ns().saturating_add(u64::from(slack) * NS_PER_SEC)
            });

        // Data the rrset already knows (or inside its prefixes): learn it, check reverts.
        let all_known = novelties
            .iter()
            .all(|n| matches!(n, Novelty::Known | Novelty::SamePrefix));
        let mut novel: Vec<(usize, Novelty)> = Vec::new();
        for (i, n) in novelties.iter().enumerate() {
            match n {
                Novelty::Known => {}
                Novelty::SamePrefix => self.stats.learnt_same_prefix += 1,
                _ => novel.push((i, *n)),
            }
        }

        // Name-valued rrsets: new targets.
        let detector = match seen.rrtype {
            rtype::MX => Some(Detector::MxSetChange),
            rtype::NS => Some(Detector::NsSetChange),
            rtype::CNAME if !cname_history => Some(Detector::CnameAppeared),
            rtype::CNAME => Some(Detector::NewRdata),
            rtype::A | rtype::AAAA => Some(Detector::NewRdata),
            _ => None,
        };
        if let (Some(detector), false) = (detector, novel.is_empty()) {
            let mut score = 0u8;
            let mut reasons = Vec::new();
            for (i, n) in &novel {
                let Some(info) = infos.get(*i) else { continue };
                if matches!(seen.rrtype, rtype::A | rtype::AAAA) {
                    let (s, why) = self.describe_novelty(*n, info);
                    score = score.max(s);
                    reasons.push(why);
                } else {
                    score = score.max(if detector == Detector::CnameAppeared {
                        45
                    } else {
                        30
                    });
                    reasons.push(format!(
                        "{} {} is new for {}",
                        type_name(seen.rrtype),
                        info.data,
                        seen.name
                    ));
                    // Where do the new targets live?
                    if let Some(target) = target_of(seen.rrtype, &info.data) {
                        for (_, ip) in seen.glue.iter().filter(|(n, _)| *n == target) {
                            let g = self.rdata_info(rtype::A, &ip.to_string());
                            let gn = match g.asn {
                                Some(a) if self.asn_established(a) => Novelty::NewAs,
                                None if self.asn.is_none() => Novelty::NewPrefixNoTable,
                                _ => Novelty::NovelAs,
                            };
                            if gn == Novelty::NovelAs {
                                score = score.max(65);
                                let (_, why) = self.describe_novelty(gn, &g);
                                reasons.push(format!("target {target}: {why}"));
                            }
                        }
                    }
                }
            }
            if matches!(seen.rrtype, rtype::A | rtype::AAAA) {
                if ttl_high {
                    score = score.saturating_add(15);
                    reasons.push(format!(
                        "TTL {} above the largest authoritative TTL {max_auth}",
                        seen.ttl
                    ));
                }
                if ttl_rewound {
                    score = score.saturating_add(10);
                    reasons.push(format!(
                        "{responder}'s TTL rose to {} before its previous copy expired",
                        seen.ttl
                    ));
                }
                let split = if authoritative {
                    None
                } else {
                    self.split_view(&key, responder, &infos, &novel, now)
                };
                if let Some(why) = split {
                    score = score.saturating_add(15);
                    reasons.push(why);
                }
            }
            let observed: Vec<RdataInfo> = novel
                .iter()
                .filter_map(|(i, _)| infos.get(*i).cloned())
                .collect();
            self.raise(
                detector, &key, &because, score, reasons, observed, seen, obs, out,
            );
            if !matches!(seen.rrtype, rtype::A | rtype::AAAA) {
                for (i, _) in &novel {
                    if let Some(t) = infos.get(*i).and_then(|i| target_of(seen.rrtype, &i.data)) {
                        self.target_links
                            .insert(t, (detector, key.0.clone(), key.1));
                    }
                }
            }
        } else if all_known {
            // Standalone wire-free checks on known data.
            if matches!(seen.rrtype, rtype::A | rtype::AAAA) {
                if ttl_high {
                    let why = format!(
                        "{responder} hands out TTL {} above the largest authoritative TTL {max_auth}",
                        seen.ttl
                    );
                    self.raise(
                        Detector::TtlAboveAuthoritative,
                        &key,
                        &because,
                        30,
                        vec![why],
                        infos.clone(),
                        seen,
                        obs,
                        out,
                    );
                }
                if ttl_rewound {
                    let why = format!(
                        "{responder}'s copy changed and its TTL rose to {} before the previous copy expired",
                        seen.ttl
                    );
                    self.raise(
                        Detector::TtlRewound,
                        &key,
                        &because,
                        25,
                        vec![why],
                        infos.clone(),
                        seen,
                        obs,
                        out,
                    );
                }
                if !authoritative {
                    if let Some(why) = self.split_view_known(&key, responder, &infos, now) {
                        self.raise(
                            Detector::SplitView,
                            &key,
                            &because,
                            45,
                            vec![why],
                            infos.clone(),
                            seen,
                            obs,
                            out,
                        );
                    }
                }
            }
            self.check_reverts(&key, responder, authoritative, &infos, seen, obs, out);
        }
        // Learn what is not under suspicion; always record the responder's view.
        let learnable: Vec<RdataInfo> = infos
            .iter()
            .zip(&novelties)
            .filter(|(_, n)| matches!(n, Novelty::Known | Novelty::SamePrefix))
            .map(|(i, _)| i.clone())
            .collect();
        self.learn_all(&key, &learnable, seen, obs);
        self.check_target_link(&seen.name, &infos, obs, out);
    }

    /// Wire-level detectors on a response's pairing verdict.
    fn observe_pairing(&mut self, obs: &Observation, verdict: &str, out: &mut Vec<AlertUpdate>) {
        let Some(q) = obs.questions.first() else {
            return;
        };
        let qname = q.name.canonical.clone();
        let qtype = q.qtype;
        let now = obs.time_ns;
        let resolver = obs.dst_ip;
        let seen = response_seen(obs, &qname, qtype);
        // What the response would plant in a cache: its records (answer, authority, glue).
        let forged: Vec<RdataInfo> = obs
            .answers
            .iter()
            .chain(obs.authority.iter())
            .chain(obs.additional.iter())
            .take(8)
            .map(|r| RdataInfo {
                data: format!(
                    "{} {} {}",
                    r.name.canonical,
                    r.rtype_name,
                    canonical_rdata(&r.rdata)
                ),
                prefix: None,
                asn: None,
                as_org: None,
            })
            .collect();
        let injects_ns = obs.authority.iter().any(|r| r.rtype == rtype::NS);
        let (detector, key, score, mut reasons) = match verdict {
            "txid_mismatch" | "unsolicited" => {
                if !self.bursts.contains_key(&resolver) && self.bursts.len() >= MAX_BURSTS {
                    self.stats.episodes_dropped += 1;
                    return;
                }
                let window = self
                    .config
                    .detect
                    .burst_window_secs
                    .saturating_mul(NS_PER_SEC);
                let b = self.bursts.entry(resolver).or_default();
                b.times.push_back(now);
                while b
                    .times
                    .front()
                    .is_some_and(|t| now.saturating_sub(*t) > window)
                    || b.times.len() > MAX_BURST_TIMES
                {
                    b.times.pop_front();
                }
                if verdict == "txid_mismatch" {
                    b.mismatches += 1;
                }
                b.last_ns = now;
                let n = b.times.len();
                if b.mismatches == 0 && n < self.config.detect.burst_threshold {
                    return;
                }
                let score = if n >= 1000 {
                    85
                } else if n >= self.config.detect.burst_threshold {
                    65
                } else {
                    40
                };
                let why = if b.mismatches > 0 {
                    format!(
                        "responses from {} guess the transaction id (or port) of {resolver}'s outstanding query",
                        obs.src_ip
                    )
                } else {
                    format!(
                        "a burst of responses from {} that match none of {resolver}'s queries",
                        obs.src_ip
                    )
                };
                let key = (format!("resolver {resolver}"), 0u16);
                (Detector::TxidMismatchBurst, key, score, vec![why])
            }
            "race" => (
                Detector::ResponseRace,
                (qname.clone(), qtype),
                55,
                vec![
                    format!(
                        "two different answers from {} to one query of {resolver}: one is likely forged",
                        obs.src_ip
                    ),
                    // A resolver takes the first answer that matches; the later one is the
                    // loser of the race (this response).
                    format!(
                        "first answer: frame {}, the one {resolver} likely kept; later answer: frame {} (this one)",
                        obs.pairing
                            .as_ref()
                            .and_then(|p| p.first_response_frame)
                            .map_or_else(|| "?".to_owned(), |f| f.to_string()),
                        obs.source.frame
                    ),
                ],
            ),
            "case_mismatch" => (
                Detector::CaseMismatch,
                (qname.clone(), qtype),
                45,
                vec![format!(
                    "the question of a response from {} to {resolver} differs from the query in case only (0x20)",
                    obs.src_ip
                )],
            ),
            _ => return,
        };
        // A burst keeps the records aimed at the name it targets, not those of unrelated
        // responses that happen to fall in the same window.
        let targeted = self
            .episodes
            .get(&(detector, key.0.clone(), key.1))
            .and_then(|e| e.question.as_ref())
            .is_none_or(|(n, t)| *n == qname && *t == qtype);
        let (forged, injects_ns) = if targeted {
            (forged, injects_ns)
        } else {
            (Vec::new(), false)
        };
        let mut score = score;
        if injects_ns && detector != Detector::CaseMismatch {
            score += 10;
            reasons.push("the forged responses carry NS records for the cache".to_owned());
        }
        self.raise(
            detector,
            &key,
            "wire: pairing verdict",
            score,
            reasons,
            forged,
            &seen,
            obs,
            out,
        );
        if let Some(e) = self.episodes.get_mut(&(detector, key.0, key.1)) {
            if e.question.is_none() {
                e.question = Some((qname, qtype));
            }
        }
    }

    /// The wire-level findings on a response: bailiwick violations, fingerprint breaks and
    /// fragment trouble, each kind one episode per responder.
    fn observe_wire(&mut self, obs: &Observation, out: &mut Vec<AlertUpdate>) {
        let fragments: Vec<Anomaly> = obs
            .anomalies
            .iter()
            .copied()
            .filter(|a| {
                matches!(
                    a,
                    Anomaly::FragmentOverlap
                        | Anomaly::FragmentInconsistent
                        | Anomaly::FragmentTtlMismatch
                )
            })
            .collect();
        if obs.findings.is_empty() && fragments.is_empty() {
            return;
        }
        let Some(q) = obs.questions.first() else {
            return;
        };
        let seen = response_seen(obs, &q.name.canonical, q.qtype);
        let (src, dst, about) = (obs.src_ip, obs.dst_ip, &q.name.canonical);
        // A response the pairing table already doubts.
        let doubted = obs
            .pairing
            .as_ref()
            .map(|p| p.verdict.as_str())
            .filter(|v| {
                matches!(
                    *v,
                    "txid_mismatch" | "race" | "unsolicited" | "case_mismatch"
                )
            });
        let doubt = |score: &mut u8, reasons: &mut Vec<String>| {
            if let Some(v) = doubted {
                *score = score.saturating_add(20);
                reasons.push(format!(
                    "the response itself is suspect (pairing verdict {v})"
                ));
            }
        };
        let key = (format!("responder {src}"), 0u16);

        let bailiwick: Vec<&WireFinding> =
            obs.findings.iter().filter(|f| f.is_bailiwick()).collect();
        if !bailiwick.is_empty() {
            // What recent BIND accepts such records on: TCP, or a valid server cookie.
            let cookie = obs.edns.as_ref().is_some_and(|e| e.server_cookie.is_some());
            let plain_udp = obs.transport == Transport::Udp && !cookie;
            let mut score = 0u8;
            let mut reasons = Vec::new();
            let mut observed = Vec::new();
            let mut watched = false;
            for f in &bailiwick {
                let record = f.record.clone().unwrap_or_default();
                // Out-of-zone glue alone is informational: many servers send it and resolvers
                // have ignored it since 1997 (tcpdump's and zeek's real captures carry it). The
                // other checks are high over plain UDP, informational over TCP or with a server
                // cookie (the rule recent BIND applies to accepting such records at all).
                let base = match (f.check.as_str(), plain_udp) {
                    ("out_of_zone_glue", _) => 10,
                    (_, true) => 65,
                    (_, false) => 15,
                };
                score = score.max(base);
                let zone = f
                    .zone
                    .as_deref()
                    .map(|z| format!(" (zone {z})"))
                    .unwrap_or_default();
                reasons.push(format!(
                    "{}: {src} answered {dst}'s question {about}{zone} with {record}",
                    f.check
                ));
                // Glue for a watched name is its operator's everyday habit (Google's zones
                // carry ns1.google.com); planting other records at a watched name is not.
                let mut parts = record.split(' ');
                if let (Some(owner), Some(t), false) =
                    (parts.next(), parts.next(), f.check == "out_of_zone_glue")
                {
                    let t = schemas::rrtype::parse_type(t).unwrap_or(0);
                    if self.watch.watched(owner, t).is_some() && !watched {
                        watched = true;
                        score = score.saturating_add(15);
                        reasons.push(format!("{owner} is watched"));
                    }
                }
                observed.push(RdataInfo {
                    data: record,
                    prefix: None,
                    asn: None,
                    as_org: None,
                });
            }
            if !plain_udp && bailiwick.iter().any(|f| f.check != "out_of_zone_glue") {
                reasons.push("over TCP or with a server cookie".to_owned());
            }
            doubt(&mut score, &mut reasons);
            // Out-of-zone glue alone, from any number of responders, is one informational
            // episode for the whole sensor (many servers send it every day); anything more is
            // an episode of its responder.
            let glue_only =
                doubted.is_none() && bailiwick.iter().all(|f| f.check == "out_of_zone_glue");
            let key = if glue_only {
                ("responders sending out-of-zone glue".to_owned(), 0u16)
            } else {
                key.clone()
            };
            self.raise(
                Detector::BailiwickViolation,
                &key,
                "wire: bailiwick check",
                score,
                reasons,
                observed,
                &seen,
                obs,
                out,
            );
        }

        let breaks: Vec<&WireFinding> = obs
            .findings
            .iter()
            .filter(|f| {
                matches!(
                    f.check.as_str(),
                    "ip_ttl_changed" | "edns_changed" | "rtt_too_fast"
                )
            })
            .collect();
        if !breaks.is_empty() {
            let mut score = 0u8;
            let mut reasons = Vec::new();
            for f in &breaks {
                // Each sign alone has ordinary causes (an anycast flip or route change, a
                // large answer, a busy server): low; together, or on a doubted response, more.
                let base = if f.check == "ip_ttl_changed" { 30 } else { 25 };
                // Each further sign that the sender is someone else adds to the first.
                score = if score == 0 {
                    base
                } else {
                    score.saturating_add(15)
                };
                reasons.push(format!(
                    "{}: {src} answered {dst} ({about}) with {} where its answers show {}",
                    f.check,
                    f.seen.as_deref().unwrap_or("?"),
                    f.expected.as_deref().unwrap_or("?")
                ));
            }
            doubt(&mut score, &mut reasons);
            self.raise(
                Detector::ResponderFingerprint,
                &key,
                "wire: responder fingerprint",
                score,
                reasons,
                Vec::new(),
                &seen,
                obs,
                out,
            );
        }

        let unexpected = obs
            .findings
            .iter()
            .find(|f| f.check == "unexpected_fragments");
        if unexpected.is_some() || !fragments.is_empty() {
            let mut score = 0u8;
            let mut reasons = Vec::new();
            if let Some(f) = unexpected {
                // Large answers (DNSSEC, TXT, many addresses) fragment legitimately.
                score = 25;
                reasons.push(format!(
                    "unexpected_fragments: {src} answered {dst} ({about}) in IP fragments; its earlier answers were {}",
                    f.expected.as_deref().unwrap_or("unfragmented")
                ));
            }
            for a in &fragments {
                let (s, why) = match a {
                    Anomaly::FragmentTtlMismatch => (
                        65,
                        "the fragments arrived with different IP TTLs: likely not all from one sender",
                    ),
                    Anomaly::FragmentInconsistent => (
                        65,
                        "overlapping fragments disagree on the bytes they both carry",
                    ),
                    _ => (45, "fragments overlap (duplicates or rewrites)"),
                };
                score = score.max(s);
                reasons.push(format!("{}: {why} ({src} to {dst}, {about})", a.name()));
            }
            doubt(&mut score, &mut reasons);
            self.raise(
                Detector::FragmentedResponse,
                &key,
                "wire: fragments",
                score,
                reasons,
                Vec::new(),
                &seen,
                obs,
                out,
            );
        }
    }

    /// Judges the resolvers' exposure reports (merged across workers) at packet time `now`:
    /// a recursive resolver (most queries iterative) with at least 50 queries whose source port
    /// hardly varies or whose transaction ids are predictable gets a low alert, medium when
    /// both; its other habits (0x20, cookies, duplicate outstanding questions) are listed.
    pub fn observe_resolvers(
        &mut self,
        now: u64,
        reports: &[schemas::ResolverExposure],
        out: &mut Vec<AlertUpdate>,
    ) {
        self.now_ns = self.now_ns.max(now);
        for r in reports {
            if !r.is_iterative() || r.queries < 50 {
                continue;
            }
            let q = r.queries;
            let few_ports = r.distinct_ports <= 10;
            // Random ids spread their high byte over about 256 (1 - e^(-q/256)) values;
            // sequential or small-range ids over a handful.
            let expected_high = 256.0 * (1.0 - (-(q as f64) / 256.0).exp());
            let predictable = (r.txid_high_bytes as f64) * 4.0 < expected_high
                || r.distinct_txids.saturating_mul(4) < q.min(4096);
            if !few_ports && !predictable {
                continue;
            }
            let mut reasons = Vec::new();
            if few_ports {
                reasons.push(format!(
                    "source ports: {} distinct in {q} queries (a fixed port or a tiny range)",
                    r.distinct_ports
                ));
            }
            if predictable {
                reasons.push(format!(
                    "transaction ids: {} distinct in {q} queries, their high byte taking {} values where random ids would take about {expected_high:.0}",
                    r.distinct_txids, r.txid_high_bytes
                ));
            }
            reasons.push(format!(
                "0x20: {} of {} queries with letters in mixed case; cookies: {} of {q}; {} queries repeated an outstanding question (birthday)",
                r.mixed_case, r.with_letters, r.cookies, r.concurrent_duplicates
            ));
            let score = if few_ports && predictable { 50 } else { 30 };
            let key: EpisodeKey = (
                Detector::ResolverExposure,
                format!("resolver {}", r.resolver),
                0,
            );
            if !self.episodes.contains_key(&key) {
                if self.episodes.len() >= self.config.detect.max_episodes {
                    self.stats.episodes_dropped += 1;
                    continue;
                }
                let id = alert_id(Detector::ResolverExposure.name(), &key.1, 0, r.first_ns);
                let mut episode = Episode::open(
                    id,
                    Detector::ResolverExposure,
                    key.1.clone(),
                    0,
                    r.first_ns,
                    "wire: resolver exposure",
                    Vec::new(),
                    r.resolver,
                    None,
                );
                episode.responders.insert(r.resolver, (false, false));
                self.episodes.insert(key.clone(), episode);
                self.stats.episodes_opened += 1;
            }
            if let Some(e) = self.episodes.get_mut(&key) {
                e.last_ns = e.last_ns.max(r.last_ns);
                e.score = e.score.max(score);
                e.reasons = reasons;
                e.responses = q;
            }
            self.notify(&key, out);
        }
    }

    fn learn_all(
        &mut self,
        key: &(String, u16),
        infos: &[RdataInfo],
        seen: &RrsetSeen,
        obs: &Observation,
    ) {
        let config = self.config.baseline.clone();
        let Some(b) = self.baselines.get_mut(key) else {
            return;
        };
        for i in infos {
            b.learn_rdata(
                &i.data,
                i.prefix.as_deref(),
                i.asn,
                obs.time_ns,
                Some(obs.src_ip),
                &config,
            );
            if let Some(a) = i.asn {
                let e = self.global_asns.entry(a).or_insert(obs.time_ns);
                *e = (*e).min(obs.time_ns);
            }
        }
        b.record_response(
            obs.src_ip,
            obs.flags.aa,
            &seen.rdata,
            seen.ttl,
            obs.time_ns,
            &config,
        );
    }

    /// The networks of `infos` for comparing resolvers: the AS organisation when the table
    /// names it (so an operator's sibling ASes compare equal), else the AS, else the prefix.
    fn networks(&self, infos: &[RdataInfo]) -> BTreeSet<String> {
        infos
            .iter()
            .map(|i| match (i.asn, &i.prefix) {
                (Some(a), _) => match self.as_orgs.get(&a).filter(|k| !k.is_empty()) {
                    Some(org) => format!("org {org}"),
                    None => format!("AS{a}"),
                },
                (None, Some(p)) => p.clone(),
                (None, None) => i.data.clone(),
            })
            .collect()
    }

    /// Other resolvers that answered recently, with what they answered.
    fn recent_others(
        &self,
        key: &(String, u16),
        responder: IpAddr,
        now: u64,
    ) -> Vec<(IpAddr, Vec<String>)> {
        let window = self
            .config
            .detect
            .split_view_window_secs
            .saturating_mul(NS_PER_SEC);
        let Some(b) = self.baselines.get(key) else {
            return Vec::new();
        };
        b.responders
            .iter()
            .filter(|(ip, v)| {
                **ip != responder && !v.authoritative && now.saturating_sub(v.last_ns) <= window
            })
            .map(|(ip, v)| (*ip, v.last_rdata.clone()))
            .collect()
    }

    fn split_view(
        &self,
        key: &(String, u16),
        responder: IpAddr,
        infos: &[RdataInfo],
        novel: &[(usize, Novelty)],
        now: u64,
    ) -> Option<String> {
        let others = self.recent_others(key, responder, now);
        if others.is_empty() {
            return None;
        }
        let mine: BTreeSet<String> = self.networks(
            &novel
                .iter()
                .filter_map(|(i, _)| infos.get(*i).cloned())
                .collect::<Vec<_>>(),
        );
        let mut agreeing = Vec::new();
        for (ip, rdata) in &others {
            let theirs: Vec<RdataInfo> = rdata.iter().map(|r| self.rdata_info(key.1, r)).collect();
            if self.networks(&theirs).is_disjoint(&mine) {
                agreeing.push((ip, rdata));
            }
        }
        if agreeing.len() != others.len() {
            return None;
        }
        let list: Vec<String> = agreeing
            .iter()
            .map(|(ip, rdata)| format!("{ip} ({})", rdata.join(" ")))
            .collect();
        Some(format!(
            "split view: only {responder} hands this out; at the same time {} answered the baseline",
            list.join(", ")
        ))
    }

    fn split_view_known(
        &self,
        key: &(String, u16),
        responder: IpAddr,
        infos: &[RdataInfo],
        now: u64,
    ) -> Option<String> {
        let others = self.recent_others(key, responder, now);
        if others.len() < 2 {
            return None;
        }
        // Data the other responders also hand out from time to time is rotation (CDNs, several
        // ASes of one operator), not a split view: only stale data counts.
        let stale_since = now.saturating_sub(
            self.config
                .detect
                .split_view_stale_hours
                .saturating_mul(3600 * NS_PER_SEC),
        );
        let b = self.baselines.get(key)?;
        let shared = infos.iter().any(|i| {
            b.rdata
                .get(&i.data)
                .is_some_and(|s| s.seen_by_others_since(responder, stale_since))
        });
        if shared {
            return None;
        }
        let mine = self.networks(infos);
        let mut union = BTreeSet::new();
        for (_, rdata) in &others {
            let theirs: Vec<RdataInfo> = rdata.iter().map(|r| self.rdata_info(key.1, r)).collect();
            let n = self.networks(&theirs);
            if !n.is_disjoint(&mine) {
                return None;
            }
            union.extend(n);
        }
        Some(format!(
            "split view: {responder} hands out {} ({}) while {} other resolvers agree on {}",
            infos
                .iter()
                .map(|i| i.data.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            mine.into_iter().collect::<Vec<_>>().join(" "),
            others.len(),
            union.into_iter().collect::<Vec<_>>().join(" ")
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn raise(
        &mut self,
        detector: Detector,
        key: &(String, u16),
        because: &str,
        score: u8,
        reasons: Vec<String>,
        observed: Vec<RdataInfo>,
        seen: &RrsetSeen,
        obs: &Observation,
        out: &mut Vec<AlertUpdate>,
    ) {
        let ekey: EpisodeKey = (detector, key.0.clone(), key.1);
        let now = obs.time_ns;
        if !self.episodes.contains_key(&ekey) {
            if self.episodes.len() >= self.config.detect.max_episodes {
                self.stats.episodes_dropped += 1;
                return;
            }
            let baseline = self.baseline_summary(key);
            let name = key.0.clone();
            let id = alert_id(detector.name(), &name, key.1, now);
            self.episodes.insert(
                ekey.clone(),
                Episode::open(
                    id,
                    detector,
                    name,
                    key.1,
                    now,
                    because,
                    baseline,
                    obs.src_ip,
                    // Episodes keyed by an address are about the question of their first
                    // response.
                    (key.0 != seen.name).then(|| (seen.name.clone(), seen.rrtype)),
                ),
            );
            self.stats.episodes_opened += 1;
        }
        let max_clients = self.config.detect.max_clients_per_episode;
        let Some(e) = self.episodes.get_mut(&ekey) else {
            return;
        };
        e.last_ns = now;
        e.responses += 1;
        e.score = e.score.max(score.min(100));
        let mut dropped = 0u64;
        for r in reasons {
            // A TTL, rewound-TTL or split-view reason is given once per episode (its first
            // occurrence); novelty reasons once per rdata.
            let kind = reason_kind(&r);
            let repeated = e
                .reasons
                .iter()
                .any(|old| *old == r || (kind.is_some() && reason_kind(old) == kind));
            if repeated {
                continue;
            }
            if e.reasons.len() < MAX_EPISODE_ENTRIES {
                e.reasons.push(r);
            } else {
                dropped += 1;
            }
        }
        for o in observed {
            if e.observed.len() < MAX_EPISODE_ENTRIES || e.observed.contains_key(&o.data) {
                e.observed.entry(o.data.clone()).or_insert(o);
            } else {
                dropped += 1;
            }
        }
        e.answers = seen
            .rdata
            .iter()
            .map(|r| AlertAnswer {
                name: seen.name.clone(),
                rtype: type_name(seen.rrtype),
                ttl: seen.ttl,
                data: r.clone(),
            })
            .collect();
        if e.responders.len() < MAX_EPISODE_ENTRIES || e.responders.contains_key(&obs.src_ip) {
            e.responders.insert(obs.src_ip, (obs.flags.aa, false));
        } else {
            dropped += 1;
        }
        self.stats.episode_entries_dropped += dropped;
        if e.clients.len() < max_clients {
            e.clients.insert(obs.dst_ip);
        }
        push_evidence(e, obs);
        self.notify(&ekey, out);
    }

    fn baseline_summary(&self, key: &(String, u16)) -> Vec<RdataInfo> {
        let Some(b) = self.baselines.get(key) else {
            return Vec::new();
        };
        let mut by_count: Vec<(&String, u64)> = b.rdata.iter().map(|(k, s)| (k, s.count)).collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut v: Vec<RdataInfo> = by_count
            .into_iter()
            .take(16)
            .map(|(r, _)| {
                let s = b.rdata.get(r);
                RdataInfo {
                    data: r.clone(),
                    prefix: s.and_then(|s| s.prefix.clone()),
                    asn: s.and_then(|s| s.asn),
                    as_org: s
                        .and_then(|s| s.asn)
                        .and_then(|_| r.parse::<IpAddr>().ok())
                        .and_then(|ip| self.lookup(ip))
                        .map(|(_, o)| o.to_string()),
                }
            })
            .collect();
        v.sort_by(|a, b| a.data.cmp(&b.data));
        v
    }

    /// Hands a state change to the sinks when the severity is new or higher; always updates
    /// the store.
    fn notify(&mut self, ekey: &EpisodeKey, out: &mut Vec<AlertUpdate>) {
        let Some(e) = self.episodes.get(ekey) else {
            return;
        };
        let severity = Severity::of_score(e.score);
        let (action, notify) = match (e.status, e.notified_severity) {
            (EpisodeStatus::Closed, _) => (AlertAction::Closed, true),
            (EpisodeStatus::Open, None) => (AlertAction::Opened, true),
            (EpisodeStatus::Open, Some(s)) if severity > s => (AlertAction::Escalated, true),
            (EpisodeStatus::Open, Some(_)) => (AlertAction::Escalated, false),
        };
        self.dirty_episodes.insert(ekey.clone());
        if !notify && self.lazy_updates {
            // A flood updates its alert once per packet; build it once per batch instead
            // (take_stale_alerts).
            self.stale_alerts.insert(ekey.clone());
            return;
        }
        self.stale_alerts.remove(ekey);
        let alert = self.to_alert(e, action);
        if notify {
            self.stats.alerts_notified += 1;
        }
        out.push(AlertUpdate { alert, notify });
        if let Some(e) = self.episodes.get_mut(ekey) {
            if notify {
                e.notified_severity = Some(severity);
            }
        }
    }

    fn to_alert(&self, e: &Episode, action: AlertAction) -> Alert {
        let severity = Severity::of_score(e.score);
        let rtype = type_name(e.rtype);
        let stamp = match action {
            AlertAction::Closed => e.closed_ns.unwrap_or(e.last_ns),
            _ => e.last_ns,
        };
        let observed: Vec<RdataInfo> = e.observed.values().cloned().collect();
        // Episodes keyed by an address (bursts, responders, resolvers) have no record type.
        let subject = if e.rtype == 0 {
            e.name.clone()
        } else {
            format!("{} {rtype}", e.name)
        };
        let reason = format!(
            "{}: {subject} {} at {}{}",
            e.detector.name(),
            observed
                .iter()
                .map(|o| o.data.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            e.responders
                .keys()
                .map(|ip| ip.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            e.reasons
                .first()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
        Alert {
            timestamp: format_utc_ns(stamp),
            schema_version: ALERT_SCHEMA_VERSION,
            event: AlertEvent {
                id: e.id.clone(),
                kind: "alert".to_owned(),
                module: "dnsward".to_owned(),
                dataset: "dnsward.alert".to_owned(),
                action,
                severity: e.score,
                start: format_utc_ns(e.first_ns),
                end: format_utc_ns(stamp.max(e.last_ns)),
                reason,
            },
            rule: Rule {
                name: e.detector.name().to_owned(),
                category: e.detector.category().to_owned(),
            },
            dns: AlertDns {
                question: match &e.question {
                    Some((name, t)) => AlertQuestion {
                        name: name.clone(),
                        rtype: type_name(*t),
                    },
                    None => AlertQuestion {
                        name: e.name.clone(),
                        rtype,
                    },
                },
                answers: e.answers.clone(),
            },
            source: Endpoint {
                ip: e.first_responder,
            },
            observer: Observer {
                id: self.config.sensor_id.clone(),
                product: "dnsward".to_owned(),
            },
            dnsward: AlertDetails {
                detector: e.detector.name().to_owned(),
                severity,
                score: e.score,
                reasons: e.reasons.clone(),
                status: e.status,
                closed_reason: e.closed_reason,
                first_seen_ns: e.first_ns,
                last_seen_ns: e.last_ns,
                closed_ns: e.closed_ns,
                watched_because: e.watched_because.clone(),
                baseline: e.baseline.clone(),
                observed,
                resolvers: e.responders.keys().copied().collect(),
                clients_affected: e.clients.len() as u64,
                responses: e.responses,
                evidence: e.evidence.clone(),
                evidence_dropped: e.evidence_dropped,
            },
        }
    }

    /// A known-data answer from `responder`: episodes on this rrset in which it handed out the
    /// new data count it as reverted; when all have, the episode closes.
    #[allow(clippy::too_many_arguments)]
    fn check_reverts(
        &mut self,
        key: &(String, u16),
        responder: IpAddr,
        authoritative: bool,
        infos: &[RdataInfo],
        seen: &RrsetSeen,
        obs: &Observation,
        out: &mut Vec<AlertUpdate>,
    ) {
        let _ = seen;
        let keys: Vec<EpisodeKey> = self
            .episodes
            .keys()
            .filter(|(d, n, t)| d.category() == "divergence" && *n == key.0 && *t == key.1)
            .cloned()
            .collect();
        for ekey in keys {
            let Some(e) = self.episodes.get_mut(&ekey) else {
                continue;
            };
            if infos.iter().any(|i| e.observed.contains_key(&i.data)) {
                continue;
            }
            // Standalone TTL and split-view episodes revert when the responder behaves again;
            // their "observed" data is known data, so only the responder matters.
            let only_authoritative = e.responders.values().all(|(aa, _)| *aa);
            match e.responders.get_mut(&responder) {
                Some(state) => state.1 = true,
                // The real servers answering the baseline again counts for episodes seen only
                // from (other) authoritative servers.
                None if authoritative && only_authoritative => {
                    for state in e.responders.values_mut() {
                        state.1 = true;
                    }
                }
                None => {}
            }
            let resolvers: Vec<&(bool, bool)> =
                e.responders.values().filter(|(aa, _)| !aa).collect();
            let done = if resolvers.is_empty() {
                e.responders.values().all(|(_, r)| *r)
            } else {
                resolvers.iter().all(|(_, r)| *r)
            };
            if done {
                // Low-scored data (a new prefix of a known AS or organisation) that came and
                // went is rotation: learn it, so the next rotation is not a new episode.
                let learn: Vec<RdataInfo> = if e.score < 40 && e.detector == Detector::NewRdata {
                    e.observed.values().cloned().collect()
                } else {
                    Vec::new()
                };
                let hours = (obs.time_ns.saturating_sub(e.first_ns)) / (3600 * NS_PER_SEC);
                let mins = (obs.time_ns.saturating_sub(e.first_ns)) / (60 * NS_PER_SEC) % 60;
                if !learn.is_empty() {
                    e.reasons.push(
                        "learnt as rotation inside a known network after it reverted".to_owned(),
                    );
                }
                e.score = e.score.saturating_add(10).min(100);
                e.reasons.push(format!(
                    "reverted after {hours}h{mins:02}m: the baseline answers returned"
                ));
                e.status = EpisodeStatus::Closed;
                e.closed_reason = Some(ClosedReason::Reverted);
                e.closed_ns = Some(obs.time_ns);
                self.close(&ekey, out);
                let config = self.config.baseline.clone();
                if let (false, Some(b)) = (learn.is_empty(), self.baselines.get_mut(key)) {
                    for o in &learn {
                        b.learn_rdata(
                            &o.data,
                            o.prefix.as_deref(),
                            o.asn,
                            obs.time_ns,
                            None,
                            &config,
                        );
                    }
                    self.dirty.insert(key.clone());
                }
            }
        }
    }

    fn close(&mut self, ekey: &EpisodeKey, out: &mut Vec<AlertUpdate>) {
        self.notify(ekey, out);
        self.dirty_episodes.remove(ekey);
        if let Some(e) = self.episodes.remove(ekey) {
            self.closed_episodes.push(e.id);
        }
        self.target_links.retain(|_, v| v != ekey);
        self.stats.episodes_closed += 1;
    }

    /// A learnt target's addresses in an AS never seen for any watched name escalate the
    /// set-change episode that named it.
    fn check_target_link(
        &mut self,
        name: &str,
        infos: &[RdataInfo],
        obs: &Observation,
        out: &mut Vec<AlertUpdate>,
    ) {
        let Some(ekey) = self.target_links.get(name).cloned() else {
            return;
        };
        let mut reasons = Vec::new();
        for i in infos {
            let novel = match i.asn {
                Some(a) => !self.asn_established(a),
                None => self.asn.is_some(),
            };
            if novel && i.prefix.is_some() {
                let (_, why) = self.describe_novelty(Novelty::NovelAs, i);
                reasons.push(format!("target {name}: {why}"));
            }
        }
        if reasons.is_empty() {
            return;
        }
        let Some(e) = self.episodes.get_mut(&ekey) else {
            return;
        };
        let before = e.score;
        e.score = e.score.max(65);
        let mut changed = e.score != before;
        for r in reasons {
            if !e.reasons.contains(&r) {
                e.reasons.push(r);
                changed = true;
            }
        }
        if changed {
            push_evidence(e, obs);
            self.notify(&ekey, out);
        }
    }

    /// Closes episodes whose new data persisted (and learns it), once a minute of packet time.
    fn sweep(&mut self, out: &mut Vec<AlertUpdate>) {
        if self.now_ns.saturating_sub(self.last_sweep_ns) < 60 * NS_PER_SEC {
            return;
        }
        self.last_sweep_ns = self.now_ns;
        let persist = self
            .config
            .detect
            .persist_after_hours
            .saturating_mul(3600 * NS_PER_SEC);
        let quiet = self
            .config
            .detect
            .wire_quiet_secs
            .saturating_mul(NS_PER_SEC);
        let ended: Vec<EpisodeKey> = self
            .episodes
            .iter()
            .filter(|(k, e)| {
                matches!(k.0.category(), "spoofing" | "dnssec")
                    && self.now_ns.saturating_sub(e.last_ns) >= quiet
            })
            .map(|(k, _)| k.clone())
            .collect();
        for ekey in ended {
            if let Some(e) = self.episodes.get_mut(&ekey) {
                e.status = EpisodeStatus::Closed;
                e.closed_reason = Some(ClosedReason::Ended);
                e.closed_ns = Some(self.now_ns);
            }
            self.close(&ekey, out);
        }
        let now = self.now_ns;
        self.bursts
            .retain(|_, b| now.saturating_sub(b.last_ns) < quiet);
        let due: Vec<EpisodeKey> = self
            .episodes
            .iter()
            .filter(|(k, _)| k.0.category() == "divergence")
            .filter(|(_, e)| e.last_ns.saturating_sub(e.first_ns) >= persist)
            .map(|(k, _)| k.clone())
            .collect();
        for ekey in due {
            let Some(e) = self.episodes.get_mut(&ekey) else {
                continue;
            };
            e.status = EpisodeStatus::Closed;
            e.closed_reason = Some(ClosedReason::Persisted);
            e.closed_ns = Some(self.now_ns);
            e.reasons
                .push("persisted: the new data was handed out long enough to be learnt".to_owned());
            let observed: Vec<RdataInfo> = e.observed.values().cloned().collect();
            let key = (e.name.clone(), e.rtype);
            let now = self.now_ns;
            let config = self.config.baseline.clone();
            if let Some(b) = self.baselines.get_mut(&key) {
                for o in &observed {
                    b.learn_rdata(&o.data, o.prefix.as_deref(), o.asn, now, None, &config);
                }
                self.dirty.insert(key);
            }
            self.close(&ekey, out);
        }
    }

    /// Marks `rdata` as legitimate for (name, type): learns it and closes every open episode on
    /// the rrset that observed it, as accepted. Returns the closed alerts.
    pub fn accept(
        &mut self,
        name: &str,
        rrtype: u16,
        rdata: &str,
        now_ns: u64,
    ) -> Vec<AlertUpdate> {
        let rdata = canonical_rdata(rdata);
        let key = (crate::watch::canonical(name), rrtype);
        let info = self.rdata_info(rrtype, &rdata);
        let config = self.config.baseline.clone();
        let b = self
            .baselines
            .entry(key.clone())
            .or_insert_with(|| Baseline::new(&key.0, &type_name(rrtype), now_ns));
        b.learn_rdata(
            &info.data,
            info.prefix.as_deref(),
            info.asn,
            now_ns,
            None,
            &config,
        );
        self.dirty.insert(key.clone());
        let mut out = Vec::new();
        let keys: Vec<EpisodeKey> = self
            .episodes
            .iter()
            .filter(|((_, n, t), e)| *n == key.0 && *t == key.1 && e.observed.contains_key(&rdata))
            .map(|(k, _)| k.clone())
            .collect();
        for ekey in keys {
            if let Some(e) = self.episodes.get_mut(&ekey) {
                e.status = EpisodeStatus::Closed;
                e.closed_reason = Some(ClosedReason::Accepted);
                e.closed_ns = Some(now_ns.max(e.last_ns));
                e.reasons.push(format!("accepted by an operator: {rdata}"));
            }
            self.close(&ekey, &mut out);
        }
        out
    }
}

/// The kind of a score booster reason, which an episode records once.
fn reason_kind(reason: &str) -> Option<&'static str> {
    if let Some(check) = WireFinding::CHECKS
        .iter()
        .chain(FRAGMENT_REASONS.iter())
        .find(|c| reason.strip_prefix(**c).is_some_and(|r| r.starts_with(':')))
    {
        Some(check)
    } else if reason.starts_with("TTL ") {
        Some("ttl")
    } else if reason.contains("'s TTL rose to") {
        Some("rewound")
    } else if reason.starts_with("split view") {
        Some("split")
    } else {
        None
    }
}

fn push_evidence(e: &mut Episode, obs: &Observation) {
    let ev = Evidence {
        file: obs.source.file.clone(),
        interface: obs.source.interface.clone(),
        frame: obs.source.frame,
        time_ns: obs.time_ns,
        src_ip: obs.src_ip,
        dst_ip: obs.dst_ip,
        txid: obs.txid,
        src_port: Some(obs.src_port),
        dst_port: Some(obs.dst_port),
        query_frame: obs.pairing.as_ref().and_then(|p| p.query_frame),
    };
    if e.evidence.len() < MAX_EVIDENCE {
        e.evidence.push(ev);
    } else {
        e.evidence_dropped += 1;
        if let Some(last) = e.evidence.last_mut() {
            *last = ev;
        }
    }
}

impl AsLookup for crate::asn::AsnTable {
    fn lookup_as(&self, ip: IpAddr) -> Option<(u32, Arc<str>)> {
        self.lookup(ip).map(|info| (info.asn, info.org))
    }
}
