//! Frame decoding: link layer, IP (with etherparse) and UDP/TCP, down to a DNS-bearing payload.
//!
//! Link types handled: Ethernet II with any number of 802.1Q / 802.1ad (QinQ) tags, Linux cooked
//! capture v1 (SLL) and v2 (SLL2), raw IP, BSD loopback (null and OpenBSD loop), and the IPv4 /
//! IPv6 link types. IPv6 extension headers are walked by etherparse; fragments are handed on as
//! [`Transport::Fragment`] for [`crate::defrag`].

use crate::dns::read_u16;
use etherparse::{IpNumber, LaxIpSlice};
use std::net::IpAddr;

/// pcap link types (LINKTYPE_* values, <https://www.tcpdump.org/linktypes.html>).
pub mod linktype {
    /// BSD loopback, host byte order address family.
    pub const NULL: i32 = 0;
    /// Ethernet.
    pub const ETHERNET: i32 = 1;
    /// Raw IP (DLT_RAW on some platforms).
    pub const RAW_12: i32 = 12;
    /// Raw IP (DLT_RAW on OpenBSD).
    pub const RAW_14: i32 = 14;
    /// Raw IP.
    pub const RAW: i32 = 101;
    /// OpenBSD loopback, network byte order address family.
    pub const LOOP: i32 = 108;
    /// Linux cooked capture v1.
    pub const LINUX_SLL: i32 = 113;
    /// Raw IPv4.
    pub const IPV4: i32 = 228;
    /// Raw IPv6.
    pub const IPV6: i32 = 229;
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: i32 = 276;
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
/// Most VLAN tags walked before giving up (hostile frames can stack many).
pub const MAX_VLAN_TAGS: usize = 8;

/// Why a frame carries nothing for DNS decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// Link type not supported.
    UnsupportedLinkType,
    /// Link header cut short.
    TruncatedLink,
    /// Not IPv4 or IPv6 (ARP, LLDP, ...).
    NotIp,
    /// IP header unreadable.
    BadIp,
    /// IP payload neither UDP nor TCP.
    NotUdpTcp,
    /// UDP or TCP header unreadable.
    BadTransport,
    /// Neither port is a DNS port.
    NotDnsPort,
}

impl Skip {
    /// Stable snake_case name (stats labels).
    pub const fn name(self) -> &'static str {
        match self {
            Skip::UnsupportedLinkType => "unsupported_link_type",
            Skip::TruncatedLink => "truncated_link",
            Skip::NotIp => "not_ip",
            Skip::BadIp => "bad_ip",
            Skip::NotUdpTcp => "not_udp_tcp",
            Skip::BadTransport => "bad_transport",
            Skip::NotDnsPort => "not_dns_port",
        }
    }
}

/// The IP layer facts an observation reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpMeta {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification, or IPv6 fragment identification.
    pub ip_id: Option<u32>,
}

/// What the transport layer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    /// A UDP datagram.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// UDP payload (cut to the UDP length when the capture holds more).
        payload: &'a [u8],
        /// The capture cut the payload short of the UDP length.
        truncated: bool,
    },
    /// A TCP segment.
    Tcp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// Sequence number.
        seq: u32,
        /// SYN flag.
        syn: bool,
        /// FIN flag.
        fin: bool,
        /// RST flag.
        rst: bool,
        /// Segment payload.
        payload: &'a [u8],
    },
    /// A UDP datagram quoted inside an ICMP destination-unreachable error (RFC 792, RFC 4443
    /// section 3.1); the frame's [`IpMeta`] is that of the quoted datagram.
    IcmpQuoted {
        /// ICMP type (3 for ICMPv4, 1 for ICMPv6).
        icmp_type: u8,
        /// ICMP code (3 / 4: port unreachable).
        icmp_code: u8,
        /// Sender of the ICMP error.
        reporter: IpAddr,
        /// Source port of the quoted datagram.
        src_port: u16,
        /// Destination port of the quoted datagram.
        dst_port: u16,
        /// The quoted UDP payload (often cut short by the quoting host).
        payload: &'a [u8],
    },
    /// An IP fragment (first or later); the payload is the fragment's bytes.
    Fragment {
        /// IP protocol of the datagram.
        protocol: u8,
        /// Fragment identification (IPv4 16 bits, IPv6 32 bits).
        id: u32,
        /// Offset in bytes.
        offset: usize,
        /// More fragments follow.
        more: bool,
        /// Fragment payload.
        payload: &'a [u8],
    },
}

/// A decoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// IP facts.
    pub ip: IpMeta,
    /// Transport contents.
    pub transport: Transport<'a>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

fn after_ethertype(mut ethertype: u16, mut rest: &[u8]) -> Result<&[u8], Skip> {
    let mut tags = 0;
    while matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) {
        tags += 1;
        if tags > MAX_VLAN_TAGS {
            return Err(Skip::NotIp);
        }
        ethertype = read_u16(rest, 2).ok_or(Skip::TruncatedLink)?;
        rest = rest.get(4..).ok_or(Skip::TruncatedLink)?;
    }
    match ethertype {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(rest),
        _ => Err(Skip::NotIp),
    }
}

/// Strips the link layer; returns the IP packet.
pub fn ip_bytes(linktype: i32, data: &[u8]) -> Result<&[u8], Skip> {
    match linktype {
        linktype::ETHERNET => {
            let ethertype = read_u16(data, 12).ok_or(Skip::TruncatedLink)?;
            after_ethertype(ethertype, data.get(14..).ok_or(Skip::TruncatedLink)?)
        }
        linktype::LINUX_SLL => {
            let protocol = read_u16(data, 14).ok_or(Skip::TruncatedLink)?;
            after_ethertype(protocol, data.get(16..).ok_or(Skip::TruncatedLink)?)
        }
        linktype::LINUX_SLL2 => {
            let protocol = read_u16(data, 0).ok_or(Skip::TruncatedLink)?;
            after_ethertype(protocol, data.get(20..).ok_or(Skip::TruncatedLink)?)
        }
        linktype::NULL | linktype::LOOP => {
            let family: [u8; 4] = data
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or(Skip::TruncatedLink)?;
            let le = u32::from_le_bytes(family);
            let be = u32::from_be_bytes(family);
            // AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24 (BSDs), 28 (FreeBSD), 30 (macOS).
            let known = |f: u32| matches!(f, 2 | 10 | 24 | 28 | 30);
            if known(le) || known(be) {
                data.get(4..).ok_or(Skip::TruncatedLink)
            } else {
                Err(Skip::NotIp)
            }
        }
        linktype::RAW | linktype::RAW_12 | linktype::RAW_14 | linktype::IPV4 | linktype::IPV6 => {
            Ok(data)
        }
        _ => Err(Skip::UnsupportedLinkType),
    }
}

/// Source and destination address of an IP packet, read directly (for sharding).
pub fn addresses(ip: &[u8]) -> Option<(IpAddr, IpAddr)> {
    match ip.first()? >> 4 {
        4 => {
            let s: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let d: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            Some((IpAddr::from(s), IpAddr::from(d)))
        }
        6 => {
            let s: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            Some((IpAddr::from(s), IpAddr::from(d)))
        }
        _ => None,
    }
}

/// Decodes a frame down to its transport payload.
pub fn decode(linktype: i32, data: &[u8]) -> Result<Frame<'_>, Skip> {
    let ip = ip_bytes(linktype, data)?;
    decode_ip(ip)
}

/// Decodes an IP packet down to its transport payload.
pub fn decode_ip(ip: &[u8]) -> Result<Frame<'_>, Skip> {
    decode_ip_inner(ip, true)
}

/// `follow_icmp`: look inside ICMP errors (one level only: a quote inside a quote is skipped).
fn decode_ip_inner(ip: &[u8], follow_icmp: bool) -> Result<Frame<'_>, Skip> {
    let (slice, ext_error) = LaxIpSlice::from_slice(ip).map_err(|_| Skip::BadIp)?;
    let payload = slice.payload();
    let (meta, fragment) = match &slice {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let meta = IpMeta {
                src: IpAddr::from(h.source_addr()),
                dst: IpAddr::from(h.destination_addr()),
                ttl: h.ttl(),
                ip_id: Some(u32::from(h.identification())),
            };
            let frag = if h.more_fragments() || h.fragments_offset().value() != 0 {
                Some((
                    u32::from(h.identification()),
                    usize::from(h.fragments_offset().value()) * 8,
                    h.more_fragments(),
                ))
            } else {
                None
            };
            (meta, frag)
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            let mut frag = None;
            // etherparse 0.21's extension iterator trusts the chain to end in a non-extension
            // header; when lax slicing stopped at a bad header it reads past the slice (unsafe
            // `get_unchecked`). The payload then starts at that bad header: not UDP or TCP.
            let extensions = match ext_error {
                None => v6.extensions().clone(),
                Some(_) => etherparse::Ipv6ExtensionsSlice::default(),
            };
            for ext in extensions {
                if let etherparse::Ipv6ExtensionSlice::Fragment(f) = ext {
                    if f.is_fragmenting_payload() {
                        frag = Some((
                            f.identification(),
                            usize::from(f.fragment_offset().value()) * 8,
                            f.more_fragments(),
                        ));
                    }
                }
            }
            let meta = IpMeta {
                src: IpAddr::from(h.source_addr()),
                dst: IpAddr::from(h.destination_addr()),
                ttl: h.hop_limit(),
                ip_id: frag.map(|(id, _, _)| id),
            };
            (meta, frag)
        }
    };
    let protocol = payload.ip_number;
    let icmp_unreachable = match protocol {
        IpNumber::ICMP => payload.payload.first() == Some(&3),
        IpNumber::IPV6_ICMP => payload.payload.first() == Some(&1),
        _ => false,
    };
    if icmp_unreachable && follow_icmp && fragment.is_none() {
        return decode_icmp_quote(meta.src, payload.payload);
    }
    if protocol != IpNumber::UDP && protocol != IpNumber::TCP {
        return Err(Skip::NotUdpTcp);
    }
    if let Some((id, offset, more)) = fragment {
        return Ok(Frame {
            ip: meta,
            transport: Transport::Fragment {
                protocol: protocol.0,
                id,
                offset,
                more,
                payload: payload.payload,
            },
        });
    }
    let transport = if protocol == IpNumber::UDP {
        decode_udp(payload.payload)?
    } else {
        decode_tcp(payload.payload)?
    };
    Ok(Frame {
        ip: meta,
        transport,
    })
}

/// Decodes the UDP datagram quoted in an ICMP destination-unreachable message.
fn decode_icmp_quote(reporter: IpAddr, icmp: &[u8]) -> Result<Frame<'_>, Skip> {
    let icmp_type = *icmp.first().ok_or(Skip::BadTransport)?;
    let icmp_code = *icmp.get(1).ok_or(Skip::BadTransport)?;
    let quoted = icmp.get(8..).ok_or(Skip::BadTransport)?;
    let inner = decode_ip_inner(quoted, false)?;
    match inner.transport {
        Transport::Udp {
            src_port,
            dst_port,
            payload,
            ..
        } => Ok(Frame {
            ip: inner.ip,
            transport: Transport::IcmpQuoted {
                icmp_type,
                icmp_code,
                reporter,
                src_port,
                dst_port,
                payload,
            },
        }),
        _ => Err(Skip::NotUdpTcp),
    }
}

/// Decodes a UDP header and payload (also used on reassembled datagrams).
pub fn decode_udp(bytes: &[u8]) -> Result<Transport<'_>, Skip> {
    let src_port = read_u16(bytes, 0).ok_or(Skip::BadTransport)?;
    let dst_port = read_u16(bytes, 2).ok_or(Skip::BadTransport)?;
    let length = usize::from(read_u16(bytes, 4).ok_or(Skip::BadTransport)?);
    if length < 8 {
        return Err(Skip::BadTransport);
    }
    let available = bytes.get(8..).ok_or(Skip::BadTransport)?;
    let wanted = length - 8;
    let truncated = available.len() < wanted;
    let payload = available.get(..wanted).unwrap_or(available);
    Ok(Transport::Udp {
        src_port,
        dst_port,
        payload,
        truncated,
    })
}

/// Decodes a TCP header and payload.
pub fn decode_tcp(bytes: &[u8]) -> Result<Transport<'_>, Skip> {
    let src_port = read_u16(bytes, 0).ok_or(Skip::BadTransport)?;
    let dst_port = read_u16(bytes, 2).ok_or(Skip::BadTransport)?;
    let seq = be32(bytes, 4).ok_or(Skip::BadTransport)?;
    let offset_byte = *bytes.get(12).ok_or(Skip::BadTransport)?;
    let flags = *bytes.get(13).ok_or(Skip::BadTransport)?;
    let header_len = usize::from(offset_byte >> 4) * 4;
    if header_len < 20 {
        return Err(Skip::BadTransport);
    }
    let payload = bytes.get(header_len..).ok_or(Skip::BadTransport)?;
    Ok(Transport::Tcp {
        src_port,
        dst_port,
        seq,
        syn: flags & 0x02 != 0,
        fin: flags & 0x01 != 0,
        rst: flags & 0x04 != 0,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-built: Ethernet, 802.1ad + 802.1Q tags, IPv4 192.0.2.1 -> 192.0.2.2, UDP 53 -> 1234,
    /// payload "ab".
    fn qinq_udp() -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x08, 0x00]);
        f.extend_from_slice(&[
            0x45, 0, 0, 30, 0x12, 0x34, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
        ]);
        f.extend_from_slice(&[0, 53, 0x04, 0xd2, 0, 10, 0, 0, b'a', b'b']);
        f
    }

    #[test]
    fn qinq_tagged_udp_is_decoded() {
        let f = qinq_udp();
        let frame = decode(linktype::ETHERNET, &f).unwrap();
        assert_eq!(frame.ip.ttl, 64);
        assert_eq!(frame.ip.ip_id, Some(0x1234));
        assert_eq!(
            frame.transport,
            Transport::Udp {
                src_port: 53,
                dst_port: 1234,
                payload: b"ab",
                truncated: false
            }
        );
    }

    #[test]
    fn truncated_frames_are_skipped_not_panicking() {
        let f = qinq_udp();
        for n in 0..f.len() {
            let _ = decode(linktype::ETHERNET, &f[..n]);
        }
        assert_eq!(
            decode(linktype::ETHERNET, &f[..13]),
            Err(Skip::TruncatedLink)
        );
    }

    #[test]
    fn null_loopback_and_sll2_reach_ip() {
        let f = qinq_udp();
        let ip = &f[22..];
        let mut null = vec![2, 0, 0, 0];
        null.extend_from_slice(ip);
        assert!(decode(linktype::NULL, &null).is_ok());
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0; 18]);
        sll2.extend_from_slice(ip);
        assert!(decode(linktype::LINUX_SLL2, &sll2).is_ok());
    }
}
