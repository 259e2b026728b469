//! From a DNS message and its packet context to owned values: [`Observation`]s (and, through
//! [`TupleAggregator`], aggregated passive-DNS tuples).
//!
//! [`scan`] walks a message once, decoding every name, and collects its anomalies; the builders
//! below reuse the same walk. Owned strings are only built for what leaves the sensor.

use crate::dns::{
    decode_name, read_u16, render_rdata, type_name, write_hex, DnsHeader, Entry, NameBuf,
    RecordRef, RecordWalker, TYPE_OPT,
};
use crate::frame::IpMeta;
use schemas::{
    Anomaly, CaptureSource, ClientSubnet, DnsFlags, DnsName, Edns, EdnsOption, FragmentEvidence,
    Observation, Question, Record, Section, SectionCounts, Transport, OBSERVATION_SCHEMA_VERSION,
};
use std::sync::Arc;

pub use crate::aggregate::TupleAggregator;

/// A set of anomalies, as a bit set over their codes (no allocation).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AnomalySet(u64);

impl AnomalySet {
    /// Adds an anomaly.
    pub fn insert(&mut self, anomaly: Anomaly) {
        self.0 |= 1u64 << (anomaly.code() % 64);
    }
    /// Whether the set holds this anomaly.
    pub fn contains(&self, anomaly: Anomaly) -> bool {
        self.0 & (1u64 << (anomaly.code() % 64)) != 0
    }
    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
    /// The anomalies, in code order.
    pub fn iter(&self) -> impl Iterator<Item = Anomaly> + '_ {
        Anomaly::ALL.iter().copied().filter(|a| self.contains(*a))
    }
    /// Whether any anomaly in the set is a malformation.
    pub fn is_malformed(&self) -> bool {
        self.iter().any(Anomaly::is_malformed)
    }
}

/// The packet a message came in.
#[derive(Debug, Clone)]
pub struct PacketContext {
    /// Packet time, ns since the Unix epoch.
    pub time_ns: u64,
    /// Capture file (or interface) name, shared by every packet of the source.
    pub source_name: Arc<str>,
    /// Whether `source_name` is an interface (live capture) rather than a file.
    pub live: bool,
    /// Frame number in the source (1-based).
    pub frame: u64,
    /// IP facts.
    pub ip: IpMeta,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// UDP or TCP.
    pub transport: Transport,
    /// Fragment evidence, if reassembled from fragments.
    pub fragments: Option<FragmentEvidence>,
    /// Anomalies found below DNS (snap-truncated payload, fragment overlap).
    pub anomalies: AnomalySet,
}

/// What one walk over a message found.
#[derive(Debug, Clone, Copy)]
pub struct Scan {
    /// The header.
    pub header: DnsHeader,
    /// Anomalies of the message.
    pub anomalies: AnomalySet,
    /// Questions decoded.
    pub questions: u16,
    /// Whether the message is worth reporting: the header and (if any was announced) a question
    /// could be read.
    pub reportable: bool,
}

/// Walks the whole message, decoding every name; `visit` sees each entry with its owner name.
///
/// Returns `None` when there is no header.
pub fn scan(
    msg: &[u8],
    name: &mut NameBuf,
    mut visit: impl FnMut(&Entry, &NameBuf),
) -> Option<Scan> {
    let header = DnsHeader::decode(msg)?;
    let mut walker = RecordWalker::new(msg)?;
    let mut anomalies = AnomalySet::default();
    let mut questions = 0u16;
    let mut opt_seen = 0;
    for entry in walker.by_ref() {
        let pos = match &entry {
            Entry::Question(q) => q.name_pos,
            Entry::Record(r) => r.name_pos,
        };
        if let Err(a) = decode_name(msg, pos, name) {
            anomalies.insert(a);
            // The owner is unreadable; later entries cannot be trusted either.
            break;
        }
        match &entry {
            Entry::Question(_) => {
                // Only the question is checked for unusual bytes: it is what was asked, and
                // checking every owner would cost a pass over every name.
                if questions == 0 && name.has_non_hostname_label() {
                    anomalies.insert(Anomaly::NonHostnameLabel);
                }
                questions += 1;
            }
            Entry::Record(r) if r.rtype == TYPE_OPT => {
                opt_seen += 1;
                if r.section != Section::Additional || !name.is_root() {
                    anomalies.insert(Anomaly::MisplacedOpt);
                }
                if !options_fit(r.rdata(msg)) {
                    anomalies.insert(Anomaly::BadEdnsOption);
                }
            }
            // Fixed-size rdata is checked here; rdata holding names is checked where it is
            // decoded (observation building, tuple aggregation).
            Entry::Record(r)
                if (r.rtype == 1 && r.rdata_len != 4) || (r.rtype == 28 && r.rdata_len != 16) =>
            {
                anomalies.insert(Anomaly::BadRdata);
            }
            Entry::Record(_) => {}
        }
        visit(&entry, name);
    }
    if let Some(a) = walker.stopped() {
        anomalies.insert(a);
    } else if walker.trailing() > 0 && anomalies.is_empty() {
        anomalies.insert(Anomaly::TrailingBytes);
    }
    if opt_seen > 1 {
        anomalies.insert(Anomaly::MultipleOpt);
    }
    match header.qdcount {
        0 => anomalies.insert(Anomaly::NoQuestion),
        1 => {}
        _ => anomalies.insert(Anomaly::MultipleQuestions),
    }
    if !header.is_response() && header.ancount > 0 {
        anomalies.insert(Anomaly::QueryWithAnswers);
    }
    if header.z() {
        anomalies.insert(Anomaly::ZBitSet);
    }
    if matches!(header.opcode(), 3 | 7..=15) {
        anomalies.insert(Anomaly::NotDns);
    }
    let reportable = header.qdcount == 0 || questions > 0;
    Some(Scan {
        header,
        anomalies,
        questions,
        reportable,
    })
}

/// Whether EDNS options (code, length, data) exactly fill the OPT rdata (RFC 6891 section 6.1.2).
fn options_fit(mut rest: &[u8]) -> bool {
    while !rest.is_empty() {
        let Some(len) = read_u16(rest, 2) else {
            return false;
        };
        let Some(tail) = rest.get(4 + usize::from(len)..) else {
            return false;
        };
        rest = tail;
    }
    true
}

fn dns_name(name: &NameBuf) -> DnsName {
    let mut wire = String::with_capacity(name.wire().len() + 1);
    name.write_presentation(&mut wire, false);
    let canonical = wire.to_ascii_lowercase();
    DnsName { wire, canonical }
}

/// Builds the observation of a reportable message; `None` when there is no header.
pub fn build_observation(
    msg: &[u8],
    ctx: &PacketContext,
    sensor_id: &str,
    name: &mut NameBuf,
    rdata_name: &mut NameBuf,
) -> Option<Observation> {
    let mut questions = Vec::new();
    let mut sections: [Vec<Record>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut edns = None;
    let mut extra = AnomalySet::default();
    let mut dnssec = false;
    let scan = scan(msg, name, |entry, owner| match entry {
        Entry::Question(q) => questions.push(Question {
            name: dns_name(owner),
            qtype: q.qtype,
            qtype_name: type_name(q.qtype).into_owned(),
            qclass: q.qclass,
        }),
        Entry::Record(r) if r.rtype == TYPE_OPT => {
            if edns.is_none() {
                let (e, bad) = decode_opt(msg, r);
                if bad {
                    extra.insert(Anomaly::BadEdnsOption);
                }
                edns = Some(e);
            }
        }
        Entry::Record(r) => {
            dnssec |= is_dnssec_type(r.rtype);
            let mut rdata = String::new();
            if let Err(a) = render_rdata(msg, r, rdata_name, false, &mut rdata) {
                extra.insert(a);
            }
            let record = Record {
                name: dns_name(owner),
                rtype: r.rtype,
                rtype_name: type_name(r.rtype).into_owned(),
                class: r.class,
                ttl: r.ttl,
                rdata,
            };
            if let Some(s) = sections.get_mut(usize::from(r.section.code())) {
                s.push(record);
            }
        }
    })?;
    let h = scan.header;
    let mut anomalies = scan.anomalies;
    for a in extra.iter().chain(ctx.anomalies.iter()) {
        anomalies.insert(a);
    }
    if ctx.fragments.is_some() {
        anomalies.insert(Anomaly::Fragmented);
    }
    let rcode = u16::from(h.rcode())
        | edns
            .as_ref()
            .map_or(0, |e: &Edns| u16::from(e.extended_rcode) << 4);
    let [answers, authority, additional] = sections;
    Some(Observation {
        record_type: "observation".to_owned(),
        schema_version: OBSERVATION_SCHEMA_VERSION,
        time_ns: ctx.time_ns,
        sensor_id: sensor_id.to_owned(),
        source: CaptureSource {
            file: (!ctx.live).then(|| ctx.source_name.to_string()),
            interface: ctx.live.then(|| ctx.source_name.to_string()),
            frame: ctx.frame,
        },
        ip_version: if ctx.ip.src.is_ipv4() { 4 } else { 6 },
        src_ip: ctx.ip.src,
        dst_ip: ctx.ip.dst,
        src_port: ctx.src_port,
        dst_port: ctx.dst_port,
        transport: ctx.transport,
        ip_ttl: ctx.ip.ttl,
        ip_id: ctx.ip.ip_id,
        fragments: ctx.fragments.clone(),
        dns_len: u32::try_from(msg.len()).unwrap_or(u32::MAX),
        txid: h.txid,
        opcode: h.opcode(),
        rcode,
        flags: DnsFlags {
            qr: h.is_response(),
            aa: h.aa(),
            tc: h.tc(),
            rd: h.rd(),
            ra: h.ra(),
            z: h.z(),
            ad: h.ad(),
            cd: h.cd(),
        },
        counts: SectionCounts {
            qd: h.qdcount,
            an: h.ancount,
            ns: h.nscount,
            ar: h.arcount,
        },
        questions,
        answers,
        authority,
        additional,
        edns,
        anomalies: anomalies.iter().collect(),
        pairing: None,
        findings: Vec::new(),
        dnssec_message: (dnssec && h.is_response()).then(|| msg.to_vec()),
    })
}

/// Whether records of this type are DNSSEC material the analysis tier validates: NSEC (47),
/// RRSIG (46), DNSKEY (48), DS (43) and NSEC3 (50).
fn is_dnssec_type(rtype: u16) -> bool {
    matches!(rtype, 43 | 46 | 47 | 48 | 50)
}

/// Decodes the OPT pseudo-record (RFC 6891 section 6.1.3); the flag is set when options overrun.
fn decode_opt(msg: &[u8], r: &RecordRef) -> (Edns, bool) {
    let mut e = Edns {
        version: ((r.ttl >> 16) & 0xff) as u8,
        udp_size: r.class,
        dnssec_ok: r.ttl & 0x8000 != 0,
        extended_rcode: (r.ttl >> 24) as u8,
        options: Vec::new(),
        client_cookie: None,
        server_cookie: None,
        client_subnet: None,
    };
    let mut rest = r.rdata(msg);
    while !rest.is_empty() {
        let (Some(code), Some(len)) = (read_u16(rest, 0), read_u16(rest, 2)) else {
            return (e, true);
        };
        let Some(data) = rest.get(4..4 + usize::from(len)) else {
            return (e, true);
        };
        let mut hex = String::with_capacity(data.len() * 2);
        write_hex(&mut hex, data);
        let name = match code {
            3 => "nsid".to_owned(),
            8 => "client_subnet".to_owned(),
            9 => "expire".to_owned(),
            10 => "cookie".to_owned(),
            11 => "tcp_keepalive".to_owned(),
            12 => "padding".to_owned(),
            13 => "chain".to_owned(),
            14 => "key_tag".to_owned(),
            15 => "extended_error".to_owned(),
            n => format!("option{n}"),
        };
        match code {
            10 => {
                if let Some(client) = data.get(..8) {
                    let mut c = String::new();
                    write_hex(&mut c, client);
                    e.client_cookie = Some(c);
                    if let Some(server) = data.get(8..).filter(|s| !s.is_empty()) {
                        let mut s = String::new();
                        write_hex(&mut s, server);
                        e.server_cookie = Some(s);
                    }
                }
            }
            8 => e.client_subnet = decode_client_subnet(data),
            _ => {}
        }
        e.options.push(EdnsOption {
            code,
            name,
            data: hex,
        });
        rest = rest.get(4 + usize::from(len)..).unwrap_or(&[]);
    }
    (e, false)
}

/// RFC 7871 section 6: FAMILY, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH, ADDRESS.
fn decode_client_subnet(data: &[u8]) -> Option<ClientSubnet> {
    let family = read_u16(data, 0)?;
    let source_prefix = *data.get(2)?;
    let scope_prefix = *data.get(3)?;
    let addr = data.get(4..)?;
    let address = match family {
        1 if addr.len() <= 4 => {
            let mut a = [0u8; 4];
            a.get_mut(..addr.len())?.copy_from_slice(addr);
            std::net::Ipv4Addr::from(a).to_string()
        }
        2 if addr.len() <= 16 => {
            let mut a = [0u8; 16];
            a.get_mut(..addr.len())?.copy_from_slice(addr);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => return None,
    };
    Some(ClientSubnet {
        family,
        source_prefix,
        scope_prefix,
        address,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anomaly_set_iterates_in_code_order() {
        let mut s = AnomalySet::default();
        s.insert(Anomaly::ZBitSet);
        s.insert(Anomaly::TruncatedHeader);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![Anomaly::TruncatedHeader, Anomaly::ZBitSet]
        );
        assert!(s.is_malformed());
    }
}
