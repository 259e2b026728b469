//! Hand-built Ethernet, 802.1Q, IPv4, IPv6, UDP and TCP headers.
//!
//! Every length field is computed from the bytes that follow it, and every checksum is filled in:
//! the IPv4 header checksum (RFC 791), the UDP checksum over the pseudo-header for both address
//! families (optional for IPv4 by RFC 768, mandatory for IPv6 by RFC 8200 section 8.1) and the TCP
//! checksum (RFC 9293 section 3.1).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::GenerateError;

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// EtherType (TPID) of an IEEE 802.1Q customer VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// EtherType (TPID) of an IEEE 802.1ad service VLAN tag, the outer tag of QinQ.
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
/// IP protocol number of TCP.
pub const PROTOCOL_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTOCOL_UDP: u8 = 17;
/// Minimum Ethernet frame length without the frame check sequence (IEEE 802.3 clause 3.2.8):
/// shorter frames are padded, as a mirror port captures them.
pub const MIN_FRAME_LEN: usize = 60;
/// IP payload bytes carried by each IPv4 fragment on a 1500-byte MTU link (1480, a multiple of
/// 8 as RFC 791 requires for fragment offsets).
pub const FRAGMENT_PAYLOAD_LEN: usize = 1480;

/// TCP flag FIN.
pub const TCP_FIN: u8 = 0x01;
/// TCP flag SYN.
pub const TCP_SYN: u8 = 0x02;
/// TCP flag PSH.
pub const TCP_PSH: u8 = 0x08;
/// TCP flag ACK.
pub const TCP_ACK: u8 = 0x10;

/// VLAN tags carried by a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vlans {
    /// Untagged.
    None,
    /// One 802.1Q tag with this VLAN id.
    Single(u16),
    /// QinQ: an 802.1ad outer tag and an 802.1Q inner tag.
    Double {
        /// Service VLAN id (outer, TPID 0x88a8).
        outer: u16,
        /// Customer VLAN id (inner, TPID 0x8100).
        inner: u16,
    },
}

/// One end of a conversation as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// MAC address of the interface the frames come from or go to on the captured segment.
    pub mac: [u8; 6],
    /// IP address.
    pub addr: IpAddr,
    /// IPv4 TTL or IPv6 hop limit as seen at the capture point.
    pub ttl: u8,
}

/// The link and network layer of one conversation: both hosts and the VLAN tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path {
    /// The host that opened the conversation (client side).
    pub client: Host,
    /// The host that answers (server side).
    pub server: Host,
    /// Tags on every frame of the conversation, in both directions.
    pub vlans: Vlans,
    /// IPv6 flow label (20 bits) used by both directions; ignored for IPv4.
    pub flow_label: u32,
}

/// Direction of a frame within a [`Path`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    ToServer,
    /// Server to client.
    ToClient,
}

impl Path {
    fn ends(&self, direction: Direction) -> (Host, Host) {
        match direction {
            Direction::ToServer => (self.client, self.server),
            Direction::ToClient => (self.server, self.client),
        }
    }
}

/// Fields of a TCP segment other than the ports and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpFields {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful when ACK is set).
    pub ack: u32,
    /// Flags byte (`TCP_SYN | TCP_ACK`, ...).
    pub flags: u8,
    /// Receive window.
    pub window: u16,
    /// Maximum segment size option to send (SYN segments only).
    pub mss: Option<u16>,
}

/// Adds `data` to a running ones'-complement sum of 16-bit big-endian words (RFC 1071).
fn sum_words(mut sum: u64, data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(2);
    for word in &mut words {
        if let [high, low] = word {
            sum += u64::from(u16::from_be_bytes([*high, *low]));
        }
    }
    if let [last] = words.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// Folds a running sum and returns its ones' complement, the Internet checksum.
fn finish_checksum(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Computes the Internet checksum (RFC 1071) of `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    finish_checksum(sum_words(0, data))
}

fn pseudo_header_sum(source: IpAddr, destination: IpAddr, protocol: u8, length: usize) -> u64 {
    let mut sum = 0;
    match (source, destination) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            sum = sum_words(sum, &s.octets());
            sum = sum_words(sum, &d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            sum = sum_words(sum, &s.octets());
            sum = sum_words(sum, &d.octets());
        }
        // Mixed families never occur: a Path is built with one family.
        _ => {}
    }
    sum + u64::from(protocol) + length as u64
}

fn push_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

fn push_ethernet(
    out: &mut Vec<u8>,
    source: &Host,
    destination: &Host,
    vlans: Vlans,
    ethertype: u16,
) {
    out.extend_from_slice(&destination.mac);
    out.extend_from_slice(&source.mac);
    match vlans {
        Vlans::None => {}
        Vlans::Single(id) => {
            push_u16(out, ETHERTYPE_VLAN);
            push_u16(out, id & 0x0fff);
        }
        Vlans::Double { outer, inner } => {
            push_u16(out, ETHERTYPE_QINQ);
            push_u16(out, outer & 0x0fff);
            push_u16(out, ETHERTYPE_VLAN);
            push_u16(out, inner & 0x0fff);
        }
    }
    push_u16(out, ethertype);
}

/// IPv4 header fields that vary per datagram.
#[derive(Debug, Clone, Copy)]
struct Ipv4Fields {
    source: Ipv4Addr,
    destination: Ipv4Addr,
    identification: u16,
    /// Flags (DF = 0x4000, MF = 0x2000) ORed with the fragment offset in 8-byte units.
    flags_and_offset: u16,
    ttl: u8,
    protocol: u8,
}

fn push_ipv4(
    out: &mut Vec<u8>,
    fields: Ipv4Fields,
    payload_len: usize,
) -> Result<(), GenerateError> {
    let total = u16::try_from(20 + payload_len).map_err(|_| GenerateError::TooLarge {
        what: "ipv4 datagram",
        len: 20 + payload_len,
    })?;
    let start = out.len();
    out.push(0x45); // version 4, header length 5 words
    out.push(0); // DSCP and ECN
    push_u16(out, total);
    push_u16(out, fields.identification);
    push_u16(out, fields.flags_and_offset);
    out.push(fields.ttl);
    out.push(fields.protocol);
    push_u16(out, 0); // checksum, filled below
    out.extend_from_slice(&fields.source.octets());
    out.extend_from_slice(&fields.destination.octets());
    let checksum = out.get(start..).map(internet_checksum).unwrap_or(0);
    if let Some(slot) = out.get_mut(start + 10..start + 12) {
        slot.copy_from_slice(&checksum.to_be_bytes());
    }
    Ok(())
}

fn push_ipv6(
    out: &mut Vec<u8>,
    source: Ipv6Addr,
    destination: Ipv6Addr,
    flow_label: u32,
    hop_limit: u8,
    next_header: u8,
    payload_len: usize,
) -> Result<(), GenerateError> {
    let length = u16::try_from(payload_len).map_err(|_| GenerateError::TooLarge {
        what: "ipv6 payload",
        len: payload_len,
    })?;
    let first_word = (6u32 << 28) | (flow_label & 0x000f_ffff);
    out.extend_from_slice(&first_word.to_be_bytes());
    push_u16(out, length);
    out.push(next_header);
    out.push(hop_limit);
    out.extend_from_slice(&source.octets());
    out.extend_from_slice(&destination.octets());
    Ok(())
}

fn pad(mut frame: Vec<u8>) -> Vec<u8> {
    if frame.len() < MIN_FRAME_LEN {
        frame.resize(MIN_FRAME_LEN, 0);
    }
    frame
}

/// Builds the frames of one UDP datagram.
///
/// An IPv4 datagram whose IP payload exceeds [`FRAGMENT_PAYLOAD_LEN`] is split into fragments
/// when `allow_fragments` is true (the MF flag on all but the last, offsets in 8-byte units);
/// otherwise it is sent whole with the DF flag.
pub fn udp_frames(
    path: &Path,
    direction: Direction,
    ports: (u16, u16),
    payload: &[u8],
    identification: u16,
    allow_fragments: bool,
) -> Result<Vec<Vec<u8>>, GenerateError> {
    let (source, destination) = path.ends(direction);
    let udp_len = 8 + payload.len();
    let udp_len_field = u16::try_from(udp_len).map_err(|_| GenerateError::TooLarge {
        what: "udp datagram",
        len: udp_len,
    })?;
    let mut datagram = Vec::with_capacity(udp_len);
    push_u16(&mut datagram, ports.0);
    push_u16(&mut datagram, ports.1);
    push_u16(&mut datagram, udp_len_field);
    push_u16(&mut datagram, 0);
    datagram.extend_from_slice(payload);
    let sum = pseudo_header_sum(source.addr, destination.addr, PROTOCOL_UDP, udp_len);
    let mut checksum = finish_checksum(sum_words(sum, &datagram));
    if checksum == 0 {
        checksum = 0xffff; // RFC 768: a computed zero is sent as all ones
    }
    if let Some(slot) = datagram.get_mut(6..8) {
        slot.copy_from_slice(&checksum.to_be_bytes());
    }

    match (source.addr, destination.addr) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut fields = Ipv4Fields {
                source: s,
                destination: d,
                identification,
                flags_and_offset: 0,
                ttl: source.ttl,
                protocol: PROTOCOL_UDP,
            };
            if !allow_fragments || datagram.len() <= FRAGMENT_PAYLOAD_LEN {
                fields.flags_and_offset = if allow_fragments { 0 } else { 0x4000 };
                let mut frame = Vec::with_capacity(38 + datagram.len());
                push_ethernet(
                    &mut frame,
                    &source,
                    &destination,
                    path.vlans,
                    ETHERTYPE_IPV4,
                );
                push_ipv4(&mut frame, fields, datagram.len())?;
                frame.extend_from_slice(&datagram);
                return Ok(vec![pad(frame)]);
            }
            let chunks: Vec<&[u8]> = datagram.chunks(FRAGMENT_PAYLOAD_LEN).collect();
            let count = chunks.len();
            let mut frames = Vec::with_capacity(count);
            for (index, chunk) in chunks.into_iter().enumerate() {
                let offset_units =
                    u16::try_from(index * FRAGMENT_PAYLOAD_LEN / 8).map_err(|_| {
                        GenerateError::TooLarge {
                            what: "fragment offset",
                            len: index * FRAGMENT_PAYLOAD_LEN,
                        }
                    })?;
                let more_fragments = if index + 1 < count { 0x2000 } else { 0 };
                fields.flags_and_offset = more_fragments | offset_units;
                let mut frame = Vec::with_capacity(38 + chunk.len());
                push_ethernet(
                    &mut frame,
                    &source,
                    &destination,
                    path.vlans,
                    ETHERTYPE_IPV4,
                );
                push_ipv4(&mut frame, fields, chunk.len())?;
                frame.extend_from_slice(chunk);
                frames.push(pad(frame));
            }
            Ok(frames)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut frame = Vec::with_capacity(58 + datagram.len());
            push_ethernet(
                &mut frame,
                &source,
                &destination,
                path.vlans,
                ETHERTYPE_IPV6,
            );
            push_ipv6(
                &mut frame,
                s,
                d,
                path.flow_label,
                source.ttl,
                PROTOCOL_UDP,
                datagram.len(),
            )?;
            frame.extend_from_slice(&datagram);
            Ok(vec![pad(frame)])
        }
        _ => Err(GenerateError::MixedAddressFamilies),
    }
}

/// Builds the frame of one TCP segment.
pub fn tcp_frame(
    path: &Path,
    direction: Direction,
    ports: (u16, u16),
    fields: TcpFields,
    payload: &[u8],
    identification: u16,
) -> Result<Vec<u8>, GenerateError> {
    let (source, destination) = path.ends(direction);
    let options_len = if fields.mss.is_some() { 4 } else { 0 };
    let header_len = 20 + options_len;
    let mut segment = Vec::with_capacity(header_len + payload.len());
    push_u16(&mut segment, ports.0);
    push_u16(&mut segment, ports.1);
    segment.extend_from_slice(&fields.seq.to_be_bytes());
    segment.extend_from_slice(&fields.ack.to_be_bytes());
    segment.push(((header_len / 4) as u8) << 4);
    segment.push(fields.flags);
    push_u16(&mut segment, fields.window);
    push_u16(&mut segment, 0); // checksum, filled below
    push_u16(&mut segment, 0); // urgent pointer
    if let Some(mss) = fields.mss {
        segment.push(2); // kind: maximum segment size (RFC 9293 section 3.2)
        segment.push(4);
        push_u16(&mut segment, mss);
    }
    segment.extend_from_slice(payload);
    let sum = pseudo_header_sum(source.addr, destination.addr, PROTOCOL_TCP, segment.len());
    let checksum = finish_checksum(sum_words(sum, &segment));
    if let Some(slot) = segment.get_mut(16..18) {
        slot.copy_from_slice(&checksum.to_be_bytes());
    }
    let mut frame = Vec::with_capacity(58 + segment.len());
    match (source.addr, destination.addr) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            push_ethernet(
                &mut frame,
                &source,
                &destination,
                path.vlans,
                ETHERTYPE_IPV4,
            );
            let ip = Ipv4Fields {
                source: s,
                destination: d,
                identification,
                flags_and_offset: 0x4000,
                ttl: source.ttl,
                protocol: PROTOCOL_TCP,
            };
            push_ipv4(&mut frame, ip, segment.len())?;
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            push_ethernet(
                &mut frame,
                &source,
                &destination,
                path.vlans,
                ETHERTYPE_IPV6,
            );
            push_ipv6(
                &mut frame,
                s,
                d,
                path.flow_label,
                source.ttl,
                PROTOCOL_TCP,
                segment.len(),
            )?;
        }
        _ => return Err(GenerateError::MixedAddressFamilies),
    }
    frame.extend_from_slice(&segment);
    Ok(pad(frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internet_checksum_matches_rfc1071_example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2, checksum 220d.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&data), 0x220d);
    }

    fn host(addr: IpAddr) -> Host {
        Host {
            mac: [2, 0, 0, 0, 0, 1],
            addr,
            ttl: 64,
        }
    }

    #[test]
    fn ipv4_header_checksum_verifies_and_fragments_use_8_byte_units() {
        let path = Path {
            client: host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
            server: host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))),
            vlans: Vlans::Single(10),
            flow_label: 0,
        };
        let payload = vec![0xab; 3200];
        let frames = udp_frames(&path, Direction::ToClient, (53, 4000), &payload, 7, true).unwrap();
        assert_eq!(frames.len(), 3);
        let mut offsets = Vec::new();
        for frame in &frames {
            let ip = &frame[18..38];
            assert_eq!(internet_checksum(ip), 0, "header checksum verifies to zero");
            offsets.push(u16::from_be_bytes([ip[6], ip[7]]));
        }
        assert_eq!(offsets, vec![0x2000, 0x2000 | 185, 370]);
    }
}
