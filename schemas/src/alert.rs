//! What the analyzer raises: [`Alert`], one per divergence episode.
//!
//! Field names follow the Elastic Common Schema where ECS has one (`event.*`, `rule.*`,
//! `dns.question.*`, `source.*`, `observer.*`); everything specific to dnsward sits under
//! `dnsward.*`. `schemas/alert.schema.json` describes the JSON form.
//!
//! An alert is the current state of one episode. Sinks see each state change once: when the
//! episode opens (`event.action = "opened"`), when its severity rises (`"escalated"`) and when
//! it closes (`"closed"`, with `dnsward.closed_reason`). Repeats of the same divergence update
//! the counts and `event.end` of the stored alert without a new line.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Schema version of [`Alert`]; bumped when a field is renamed or removed.
pub const ALERT_SCHEMA_VERSION: u32 = 1;

/// Most evidence entries an alert keeps (the first ones and the latest one); the rest are
/// counted in [`AlertDetails::evidence_dropped`].
pub const MAX_EVIDENCE: usize = 16;

/// One divergence episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// ECS `@timestamp`: packet time of this state change (RFC 3339, UTC, nanoseconds).
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    /// [`ALERT_SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// ECS `event.*`.
    pub event: AlertEvent,
    /// ECS `rule.*`: the detector.
    pub rule: Rule,
    /// ECS `dns.*`: the question and the diverging answers.
    pub dns: AlertDns,
    /// ECS `source.*`: the responder that handed out the diverging data (the first one seen).
    pub source: Endpoint,
    /// ECS `observer.*`: the sensor.
    pub observer: Observer,
    /// Everything specific to dnsward.
    pub dnsward: AlertDetails,
}

/// ECS `event.*` fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertEvent {
    /// Stable id: the same capture always gives the same id (a hash of detector, subject and
    /// episode start). Form: `dw1-` and 16 hex digits.
    pub id: String,
    /// Always `"alert"`.
    pub kind: String,
    /// Always `"dnsward"`.
    pub module: String,
    /// Always `"dnsward.alert"`.
    pub dataset: String,
    /// What changed in this line: `opened`, `escalated` or `closed`.
    pub action: AlertAction,
    /// Numeric score 0–100 (ECS `event.severity`); same as [`AlertDetails::score`].
    pub severity: u8,
    /// Packet time the episode started (first diverging packet), RFC 3339.
    pub start: String,
    /// Packet time of the latest diverging packet (or of the closing one), RFC 3339.
    pub end: String,
    /// One readable sentence.
    pub reason: String,
}

/// The state change a sink is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertAction {
    /// The episode opened.
    Opened,
    /// Its severity rose. (A higher score within the same severity updates the stored alert
    /// without a new line for the sinks.)
    Escalated,
    /// It closed.
    Closed,
}

/// ECS `rule.*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The detector's stable snake_case name (`new_rdata`, `split_view`, ...).
    pub name: String,
    /// The rule category: `divergence` for history-based detectors, `spoofing` for wire-level
    /// ones.
    pub category: String,
}

/// ECS `dns.*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertDns {
    /// The question.
    pub question: AlertQuestion,
    /// The diverging records as last seen.
    pub answers: Vec<AlertAnswer>,
}

/// ECS `dns.question.*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuestion {
    /// Canonical (lower-case) owner name, no trailing dot.
    pub name: String,
    /// Type mnemonic.
    #[serde(rename = "type")]
    pub rtype: String,
}

/// ECS `dns.answers[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertAnswer {
    /// Owner name.
    pub name: String,
    /// Type mnemonic.
    #[serde(rename = "type")]
    pub rtype: String,
    /// TTL as handed out.
    pub ttl: u32,
    /// Rdata, presentation format.
    pub data: String,
}

/// ECS `source.*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Address.
    pub ip: IpAddr,
}

/// ECS `observer.*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observer {
    /// Sensor id.
    pub id: String,
    /// Always `"dnsward"`.
    pub product: String,
}

/// Alert severity, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing, not worth waking anyone.
    Info,
    /// Probably benign; look when convenient.
    Low,
    /// Unusual; look today.
    Medium,
    /// Likely an attack.
    High,
    /// An attack, with several independent signals agreeing.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The severity of a score 0–100: info below 20, low below 40, medium below 60, high below
    /// 80, critical from 80.
    pub fn of_score(score: u8) -> Severity {
        match score {
            0..=19 => Severity::Info,
            20..=39 => Severity::Low,
            40..=59 => Severity::Medium,
            60..=79 => Severity::High,
            _ => Severity::Critical,
        }
    }

    /// Stable lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses [`Severity::name`].
    pub fn from_name(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Whether the episode is still going on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpisodeStatus {
    /// Still diverging (or not yet known to have stopped).
    Open,
    /// Over; see [`ClosedReason`].
    Closed,
}

/// Why an episode closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedReason {
    /// Every responder that handed out the new data went back to the baseline: the pattern of
    /// an attack that was cleaned up or expired, which raises the score.
    Reverted,
    /// The new data persisted and spread long enough to be learnt as legitimate.
    Persisted,
    /// An operator accepted the change (`dnsward baseline accept`).
    Accepted,
    /// A burst of wire anomalies stopped (nothing more for a while).
    Ended,
}

/// The data an alert is about, with where it lives on the Internet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RdataInfo {
    /// Rdata in presentation format.
    pub data: String,
    /// The address prefix (`/24`, `/48` by default) for A and AAAA.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub prefix: Option<String>,
    /// Origin AS number from the IP-to-AS table, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub asn: Option<u32>,
    /// Origin AS organisation, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub as_org: Option<String>,
}

/// Where one packet of the evidence is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Capture file, when reading files.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
    /// Interface, when capturing live.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub interface: Option<String>,
    /// Frame number (1-based).
    pub frame: u64,
    /// Packet time, nanoseconds since the Unix epoch.
    pub time_ns: u64,
    /// Responder address.
    pub src_ip: IpAddr,
    /// Receiver address.
    pub dst_ip: IpAddr,
    /// DNS transaction id.
    pub txid: u16,
    /// Responder port (added in v1).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub src_port: Option<u16>,
    /// Receiver port (added in v1).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dst_port: Option<u16>,
    /// Frame of the query the response answered or aimed at, when the sensor paired it (added
    /// in v1).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub query_frame: Option<u64>,
}

/// The dnsward-specific part of an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertDetails {
    /// The detector (same as `rule.name`).
    pub detector: String,
    /// Severity label.
    pub severity: Severity,
    /// Score 0–100.
    pub score: u8,
    /// Every reason that contributed to the score, in the order they were found.
    pub reasons: Vec<String>,
    /// Open or closed.
    pub status: EpisodeStatus,
    /// Why it closed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub closed_reason: Option<ClosedReason>,
    /// Packet time of the first diverging packet, ns.
    pub first_seen_ns: u64,
    /// Packet time of the latest diverging packet, ns.
    pub last_seen_ns: u64,
    /// Packet time the episode closed, ns.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub closed_ns: Option<u64>,
    /// Why the name is watched (`configured: gmail.com`, `learnt: MX of gmail.com`, ...).
    pub watched_because: String,
    /// The established rdata of the rrset before the episode.
    pub baseline: Vec<RdataInfo>,
    /// The new rdata.
    pub observed: Vec<RdataInfo>,
    /// Responders (resolvers, or authoritative servers) that handed out the new rdata.
    pub resolvers: Vec<IpAddr>,
    /// Distinct receivers (clients, or resolvers for upstream answers) that got it.
    pub clients_affected: u64,
    /// Responses carrying the new rdata.
    pub responses: u64,
    /// Packets involved: the first ones and the latest one.
    pub evidence: Vec<Evidence>,
    /// Evidence entries not kept.
    pub evidence_dropped: u64,
}
