//! One DNS message as the sensor saw it: [`Observation`].

use crate::Anomaly;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Schema version of [`Observation`]; bumped when a field is renamed or removed.
pub const OBSERVATION_SCHEMA_VERSION: u32 = 1;

/// One DNS message seen on the wire, with where and when it was seen.
///
/// Names are kept as on the wire (case preserved, presentation format with `\DDD` escapes for
/// bytes that are not printable, so nothing is lost) and in canonical lower case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observation {
    /// Record type tag: always `"observation"`.
    #[serde(rename = "type")]
    pub record_type: String,
    /// [`OBSERVATION_SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// Packet time in nanoseconds since the Unix epoch (of the last packet that completed it).
    pub time_ns: u64,
    /// Identifier of the sensor that saw it.
    pub sensor_id: String,
    /// Where the packet came from.
    pub source: CaptureSource,
    /// 4 or 6.
    pub ip_version: u8,
    /// Source address.
    pub src_ip: IpAddr,
    /// Destination address.
    pub dst_ip: IpAddr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// UDP or TCP.
    pub transport: Transport,
    /// IPv4 TTL or IPv6 hop limit.
    pub ip_ttl: u8,
    /// IPv4 identification, or the IPv6 fragment identification when fragmented.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ip_id: Option<u32>,
    /// Fragment reassembly evidence, when the message came in IP fragments.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fragments: Option<FragmentEvidence>,
    /// Message length in bytes (without the TCP length prefix).
    pub dns_len: u32,
    /// DNS transaction id.
    pub txid: u16,
    /// Opcode (0 query, 4 notify, 5 update, ...).
    pub opcode: u8,
    /// Response code, extended with the EDNS upper bits when an OPT record is present.
    pub rcode: u16,
    /// Header flags.
    pub flags: DnsFlags,
    /// The counts the header announced.
    pub counts: SectionCounts,
    /// The questions, as seen (usually exactly one).
    pub questions: Vec<Question>,
    /// Answer section records (OPT excluded).
    pub answers: Vec<Record>,
    /// Authority section records.
    pub authority: Vec<Record>,
    /// Additional section records (the OPT pseudo-record is reported in `edns` instead).
    pub additional: Vec<Record>,
    /// EDNS details, when the message carries an OPT record.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub edns: Option<Edns>,
    /// Anomalies found while decoding, in code order, without duplicates.
    pub anomalies: Vec<Anomaly>,
    /// What the sensor's outstanding-query table says about a response (added in v1; left out
    /// for queries and when pairing had nothing to say).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pairing: Option<PairingInfo>,
    /// What the sensor's wire-level checks found about a response besides pairing: bailiwick
    /// violations and breaks of the responder's fingerprint (added in v1; left out when empty).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub findings: Vec<WireFinding>,
    /// The whole DNS message (hex in JSON), for responses that carry DNSSEC records (RRSIG,
    /// DNSKEY, DS, NSEC or NSEC3), so that the analysis tier can check their signatures over
    /// the exact wire form (added in v1; left out for every other message).
    #[serde(skip_serializing_if = "Option::is_none", default, with = "hex_bytes")]
    pub dnssec_message: Option<Vec<u8>>,
}

/// Serde of optional bytes as a lower-case hex string.
mod hex_bytes {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        use std::fmt::Write as _;
        match bytes {
            None => s.serialize_none(),
            Some(b) => {
                let mut out = String::with_capacity(b.len() * 2);
                for byte in b {
                    let _ = write!(out, "{byte:02x}");
                }
                s.serialize_str(&out)
            }
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        let digit = |c: u8| {
            char::from(c)
                .to_digit(16)
                .and_then(|v| u8::try_from(v).ok())
        };
        let mut out = Vec::with_capacity(text.len() / 2);
        for pair in text.as_bytes().chunks(2) {
            match pair {
                [hi, lo] => match (digit(*hi), digit(*lo)) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(D::Error::custom("dnssec_message: not hex")),
                },
                _ => return Err(D::Error::custom("dnssec_message: odd number of hex digits")),
            }
        }
        Ok(Some(out))
    }
}

/// One finding of a wire-level check on a response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireFinding {
    /// Stable snake_case name of the check, one of [`WireFinding::CHECKS`].
    pub check: String,
    /// The record concerned, `owner TYPE rdata` (bailiwick checks).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub record: Option<String>,
    /// The zone the response speaks for, canonical (bailiwick checks), when it names one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub zone: Option<String>,
    /// What the responder's history leads one to expect (fingerprint checks).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expected: Option<String>,
    /// What this response shows (fingerprint checks).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub seen: Option<String>,
}

impl WireFinding {
    /// Every check name, bailiwick checks first.
    pub const CHECKS: [&'static str; 9] = [
        "unrelated_answer",
        "unrelated_authority",
        "parent_ns",
        "stray_additional",
        "out_of_zone_glue",
        "ip_ttl_changed",
        "edns_changed",
        "rtt_too_fast",
        "unexpected_fragments",
    ];

    /// Whether the check is one of the bailiwick checks (the first five of
    /// [`WireFinding::CHECKS`]).
    pub fn is_bailiwick(&self) -> bool {
        matches!(
            self.check.as_str(),
            "unrelated_answer"
                | "unrelated_authority"
                | "parent_ns"
                | "stray_additional"
                | "out_of_zone_glue"
        )
    }
}

/// A response's pairing verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingInfo {
    /// `answered`, `duplicate`, `race`, `case_mismatch`, `txid_mismatch`, `unsolicited`,
    /// `late` or `unknown`.
    pub verdict: String,
    /// Frame of the query it belongs to, when one matched.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub query_frame: Option<u64>,
    /// Packet time from query to response, ns (`answered`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rtt_ns: Option<u64>,
    /// Transaction id of the outstanding query (`txid_mismatch`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expected_txid: Option<u16>,
    /// Client port of the outstanding query (`txid_mismatch`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expected_port: Option<u16>,
    /// Frame of the first response (`race`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first_response_frame: Option<u64>,
}

/// Where a packet came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSource {
    /// The capture file, when reading files.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
    /// The interface, when capturing live.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub interface: Option<String>,
    /// Frame number within the file (1-based, as tshark counts) or since the capture started.
    pub frame: u64,
}

/// Transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// DNS over UDP.
    Udp,
    /// DNS over TCP (length-prefixed).
    Tcp,
    /// A UDP DNS message quoted inside an ICMP destination-unreachable error; addresses and
    /// ports are those of the quoted datagram.
    Icmp,
}

/// What reassembly saw when a message came in IP fragments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FragmentEvidence {
    /// Number of fragments that made up the datagram (duplicates included).
    pub count: u32,
    /// Fragments that overlapped bytes already received.
    pub overlaps: u32,
    /// Overlaps whose bytes differed from what was received first (first copy kept).
    pub inconsistent: u32,
}

/// DNS header flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsFlags {
    /// Response.
    pub qr: bool,
    /// Authoritative answer.
    pub aa: bool,
    /// Truncated.
    pub tc: bool,
    /// Recursion desired.
    pub rd: bool,
    /// Recursion available.
    pub ra: bool,
    /// Reserved Z bit.
    pub z: bool,
    /// Authentic data.
    pub ad: bool,
    /// Checking disabled.
    pub cd: bool,
}

/// Section counts announced by the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionCounts {
    /// QDCOUNT.
    pub qd: u16,
    /// ANCOUNT.
    pub an: u16,
    /// NSCOUNT.
    pub ns: u16,
    /// ARCOUNT.
    pub ar: u16,
}

/// A domain name in both forms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsName {
    /// Exactly as on the wire (case preserved), presentation format, no trailing dot; the root is
    /// `"."`.
    pub wire: String,
    /// Canonical form: ASCII lower case of `wire`.
    pub canonical: String,
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// QNAME.
    pub name: DnsName,
    /// QTYPE code.
    pub qtype: u16,
    /// QTYPE mnemonic (`A`, `MX`, `TYPE65280`, ...).
    pub qtype_name: String,
    /// QCLASS code (the top bit is the mDNS unicast-response bit, kept as is).
    pub qclass: u16,
}

/// One resource record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Owner name.
    pub name: DnsName,
    /// TYPE code.
    pub rtype: u16,
    /// TYPE mnemonic.
    pub rtype_name: String,
    /// CLASS code.
    pub class: u16,
    /// TTL in seconds, as on the wire (unsigned 32 bits).
    pub ttl: u32,
    /// Rdata in presentation format (RFC 1035 master file form; RFC 3597 `\# len hex` for types
    /// the sensor does not know); names inside rdata keep their wire case.
    pub rdata: String,
}

/// EDNS(0) details from the OPT pseudo-record (RFC 6891).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edns {
    /// EDNS version.
    pub version: u8,
    /// Requestor's UDP payload size.
    pub udp_size: u16,
    /// DNSSEC OK bit.
    pub dnssec_ok: bool,
    /// Upper 8 bits of the extended rcode.
    pub extended_rcode: u8,
    /// Every option in wire order.
    pub options: Vec<EdnsOption>,
    /// DNS cookie (RFC 7873), hex: client cookie.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client_cookie: Option<String>,
    /// DNS cookie (RFC 7873), hex: server cookie, when present.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server_cookie: Option<String>,
    /// EDNS client subnet (RFC 7871), when present and well formed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client_subnet: Option<ClientSubnet>,
}

/// One EDNS option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdnsOption {
    /// Option code.
    pub code: u16,
    /// Option name (`cookie`, `client_subnet`, `padding`, ... or `option<N>`).
    pub name: String,
    /// Option data, hex.
    pub data: String,
}

/// EDNS client subnet option contents (RFC 7871 section 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSubnet {
    /// Address family (1 IPv4, 2 IPv6).
    pub family: u16,
    /// Source prefix length.
    pub source_prefix: u8,
    /// Scope prefix length.
    pub scope_prefix: u8,
    /// The address, padded with zero bytes to its family's length.
    pub address: String,
}
