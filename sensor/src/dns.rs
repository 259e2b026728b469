//! DNS message decoding: a checked, lazy view over the wire bytes.
//!
//! [`DnsHeader::decode`] reads the fixed header; [`RecordWalker`] then walks the question and the
//! three record sections one entry at a time, validating every length it relies on, without
//! allocating and without following compression pointers. Names are decoded on demand into a
//! fixed-size [`NameBuf`] by [`decode_name`], which follows pointers under the rules below.
//! Rdata is rendered in presentation format by [`render_rdata`]: common types by hand, everything
//! else through hickory-proto's `RData` decoder.
//!
//! Damage to one record does not discard the rest: the walker yields what it could read and then
//! reports the [`Anomaly`] that stopped it.
//!
//! > RFC 1035 section 4.1.4: "the first two bits are ones. This allows a pointer to be
//! > distinguished from a label, since the label must begin with two zero bits [...] The OFFSET
//! > field specifies an offset from the start of the message."
//!
//! Pointer rules (termination by construction): a pointer must point strictly before its own
//! position ([`Anomaly::ForwardPointer`] otherwise), and every pointer in a chain must point
//! strictly before the previous pointer's target ([`Anomaly::CompressionLoop`] otherwise), so a
//! chain visits strictly decreasing offsets and ends; it is also cut after
//! [`MAX_POINTER_HOPS`] pointers ([`Anomaly::CompressionLoop`]), which bounds the work per name.

use hickory_proto::rr::{RData, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};
use schemas::{Anomaly, Section};
use std::fmt::Write as _;

/// Length of the fixed DNS header (RFC 1035 section 4.1.1).
pub const HEADER_LEN: usize = 12;
/// Longest name in wire form, length octets and root label included (RFC 1035 section 2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// Longest label (RFC 1035 section 2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Fixed part of a resource record after its owner name: type, class, TTL, rdlength.
pub const RECORD_FIXED_LEN: usize = 10;
/// The OPT pseudo-record type (RFC 6891 section 6.1.1).
pub const TYPE_OPT: u16 = 41;
/// Most compression pointers followed in one name: every label but the last costs at least two
/// of the 255 octets, and no sane encoder points at a pointer (miekg/dns `maxCompressionPointers`,
/// the same value). Without it a 64 KiB message of pointer chains costs ~10^8 hops to decode.
pub const MAX_POINTER_HOPS: usize = MAX_NAME_LEN.div_ceil(2) - 2;

/// The fixed 12-byte DNS header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsHeader {
    /// Transaction id.
    pub txid: u16,
    /// The flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode).
    pub flags: u16,
    /// QDCOUNT.
    pub qdcount: u16,
    /// ANCOUNT.
    pub ancount: u16,
    /// NSCOUNT.
    pub nscount: u16,
    /// ARCOUNT.
    pub arcount: u16,
}

impl DnsHeader {
    /// Decodes the header; `None` when fewer than [`HEADER_LEN`] bytes are given.
    pub fn decode(msg: &[u8]) -> Option<DnsHeader> {
        let h = msg.get(..HEADER_LEN)?;
        let word = |i: usize| -> u16 {
            let hi = h.get(i).copied().unwrap_or(0);
            let lo = h.get(i + 1).copied().unwrap_or(0);
            u16::from_be_bytes([hi, lo])
        };
        Some(DnsHeader {
            txid: word(0),
            flags: word(2),
            qdcount: word(4),
            ancount: word(6),
            nscount: word(8),
            arcount: word(10),
        })
    }

    /// QR: this is a response.
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    /// Opcode (4 bits).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }
    /// Authoritative answer.
    pub fn aa(&self) -> bool {
        self.flags & 0x0400 != 0
    }
    /// Truncated.
    pub fn tc(&self) -> bool {
        self.flags & 0x0200 != 0
    }
    /// Recursion desired.
    pub fn rd(&self) -> bool {
        self.flags & 0x0100 != 0
    }
    /// Recursion available.
    pub fn ra(&self) -> bool {
        self.flags & 0x0080 != 0
    }
    /// The reserved Z bit.
    pub fn z(&self) -> bool {
        self.flags & 0x0040 != 0
    }
    /// Authentic data.
    pub fn ad(&self) -> bool {
        self.flags & 0x0020 != 0
    }
    /// Checking disabled.
    pub fn cd(&self) -> bool {
        self.flags & 0x0010 != 0
    }
    /// The 4-bit header rcode.
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }
}

/// A decoded name in uncompressed wire form, case preserved, in a fixed buffer (no allocation).
///
/// Holds the length-prefixed labels without the terminating root octet.
#[derive(Clone)]
pub struct NameBuf {
    bytes: [u8; MAX_NAME_LEN],
    len: usize,
}

impl Default for NameBuf {
    fn default() -> Self {
        NameBuf {
            bytes: [0; MAX_NAME_LEN],
            len: 0,
        }
    }
}

impl std::fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        self.write_presentation(&mut s, false);
        write!(f, "NameBuf({s:?})")
    }
}

impl NameBuf {
    /// Length-prefixed labels, root octet excluded.
    pub fn wire(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// True for the root name.
    pub fn is_root(&self) -> bool {
        self.len == 0
    }

    /// Iterates over the labels (without length octets).
    pub fn labels(&self) -> Labels<'_> {
        Labels { rest: self.wire() }
    }

    fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends a label; false if the name would exceed [`MAX_NAME_LEN`] (root octet counted).
    fn push_label(&mut self, label: &[u8]) -> bool {
        let needed = self.len + 1 + label.len();
        // One more octet for the root label that ends every name.
        if needed + 1 > MAX_NAME_LEN || label.len() > MAX_LABEL_LEN {
            return false;
        }
        let Some(dst) = self.bytes.get_mut(self.len..needed) else {
            return false;
        };
        let Some((first, rest)) = dst.split_first_mut() else {
            return false;
        };
        *first = label.len() as u8;
        rest.copy_from_slice(label);
        self.len = needed;
        true
    }

    /// Sets this name from uncompressed length-prefixed labels (as [`NameBuf::wire`] returns).
    pub fn set_wire(&mut self, wire: &[u8]) -> bool {
        self.clear();
        for label in (Labels { rest: wire }) {
            if !self.push_label(label) {
                return false;
            }
        }
        true
    }

    /// Writes the presentation form (no trailing dot; `.` for the root), escaping `.`, `\` and
    /// bytes outside printable ASCII as RFC 1035 section 5.1 allows, so the form is lossless.
    pub fn write_presentation(&self, out: &mut String, lowercase: bool) {
        if self.is_root() {
            out.push('.');
            return;
        }
        for (i, label) in self.labels().enumerate() {
            if i > 0 {
                out.push('.');
            }
            write_label(out, label, lowercase);
        }
    }

    /// Whether any label holds bytes other than letters, digits, hyphen and underscore.
    pub fn has_non_hostname_label(&self) -> bool {
        self.labels().any(|l| {
            l.iter()
                .any(|&b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        })
    }
}

fn write_label(out: &mut String, label: &[u8], lowercase: bool) {
    for &b in label {
        match b {
            b'.' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x21..=0x7e => out.push(char::from(if lowercase {
                b.to_ascii_lowercase()
            } else {
                b
            })),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
}

/// Iterator over the labels of uncompressed wire-form bytes.
#[derive(Debug, Clone)]
pub struct Labels<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, tail) = self.rest.split_first()?;
        let (label, rest) = tail.split_at_checked(usize::from(len))?;
        if label.is_empty() {
            return None;
        }
        self.rest = rest;
        Some(label)
    }
}

/// Skips the name at `pos` without following pointers; returns the position after it.
///
/// Checks that every label stays inside the message and that the label types are known; the
/// pointer itself is checked when the name is decoded.
pub fn skip_name(msg: &[u8], mut pos: usize) -> Result<usize, Anomaly> {
    let mut wire_len = 0usize;
    loop {
        let &len = msg.get(pos).ok_or(Anomaly::LabelOverrun)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Ok(pos + 1);
                }
                let end = pos + 1 + usize::from(len);
                if end > msg.len() {
                    return Err(Anomaly::LabelOverrun);
                }
                wire_len += 1 + usize::from(len);
                if wire_len + 1 > MAX_NAME_LEN {
                    return Err(Anomaly::NameTooLong);
                }
                pos = end;
            }
            0xc0 => {
                if pos + 2 > msg.len() {
                    return Err(Anomaly::LabelOverrun);
                }
                return Ok(pos + 2);
            }
            _ => return Err(Anomaly::BadLabelType),
        }
    }
}

/// Decodes the (possibly compressed) name at `pos` into `out`; returns the position after the
/// name's in-place part (after its first pointer, or after its root octet).
pub fn decode_name(msg: &[u8], pos: usize, out: &mut NameBuf) -> Result<usize, Anomaly> {
    out.clear();
    let mut cursor = pos;
    let mut end: Option<usize> = None;
    // Every pointer must point before the previous target; the first before itself.
    let mut limit = usize::MAX;
    let mut hops = 0usize;
    loop {
        let &len = msg.get(cursor).ok_or(Anomaly::LabelOverrun)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Ok(end.unwrap_or(cursor + 1));
                }
                let start = cursor + 1;
                let label = msg
                    .get(start..start + usize::from(len))
                    .ok_or(Anomaly::LabelOverrun)?;
                if !out.push_label(label) {
                    return Err(Anomaly::NameTooLong);
                }
                cursor = start + usize::from(len);
            }
            0xc0 => {
                let &low = msg.get(cursor + 1).ok_or(Anomaly::LabelOverrun)?;
                let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                if target >= cursor {
                    return Err(Anomaly::ForwardPointer);
                }
                hops += 1;
                if target >= limit || hops > MAX_POINTER_HOPS {
                    return Err(Anomaly::CompressionLoop);
                }
                limit = target;
                if end.is_none() {
                    end = Some(cursor + 2);
                }
                cursor = target;
            }
            _ => return Err(Anomaly::BadLabelType),
        }
    }
}

/// One question entry, located.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuestionRef {
    /// Offset of QNAME.
    pub name_pos: usize,
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
}

/// One resource record, located; rdata bounds are checked against the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef {
    /// Section it appeared in.
    pub section: Section,
    /// Offset of the owner name.
    pub name_pos: usize,
    /// TYPE.
    pub rtype: u16,
    /// CLASS (for OPT: the UDP payload size).
    pub class: u16,
    /// TTL (for OPT: extended rcode, version and flags).
    pub ttl: u32,
    /// Offset of the rdata.
    pub rdata_pos: usize,
    /// Rdata length.
    pub rdata_len: usize,
}

impl RecordRef {
    /// The rdata bytes (empty if the record was located in another message).
    pub fn rdata<'a>(&self, msg: &'a [u8]) -> &'a [u8] {
        msg.get(self.rdata_pos..self.rdata_pos + self.rdata_len)
            .unwrap_or(&[])
    }
}

/// An entry of a DNS message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// A question.
    Question(QuestionRef),
    /// A resource record.
    Record(RecordRef),
}

/// Reads a big-endian `u16` at `pos`, if the bytes are there.
pub fn read_u16(msg: &[u8], pos: usize) -> Option<u16> {
    let b = msg.get(pos..pos + 2)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

fn read_u32(msg: &[u8], pos: usize) -> Option<u32> {
    let b = msg.get(pos..pos + 4)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    Some(u32::from_be_bytes(a))
}

/// Walks the questions and records of a message in wire order, without allocating.
///
/// Counts from the header only bound the walk; the walk stops at the end of the bytes. After the
/// iterator ends, [`RecordWalker::stopped`] tells why it stopped early, if it did, and
/// [`RecordWalker::trailing`] how many bytes follow the last counted entry.
#[derive(Debug, Clone)]
pub struct RecordWalker<'a> {
    msg: &'a [u8],
    pos: usize,
    remaining: [u16; 4],
    section: usize,
    stopped: Option<Anomaly>,
}

impl<'a> RecordWalker<'a> {
    /// Starts after the header; `None` if `msg` holds no full header.
    pub fn new(msg: &'a [u8]) -> Option<RecordWalker<'a>> {
        let h = DnsHeader::decode(msg)?;
        Some(RecordWalker {
            msg,
            pos: HEADER_LEN,
            remaining: [h.qdcount, h.ancount, h.nscount, h.arcount],
            section: 0,
            stopped: None,
        })
    }

    /// Why the walk stopped before the header counts were used up, if it did.
    pub fn stopped(&self) -> Option<Anomaly> {
        self.stopped
    }

    /// Bytes left after the last entry read.
    pub fn trailing(&self) -> usize {
        self.msg.len().saturating_sub(self.pos)
    }

    fn stop(&mut self, anomaly: Anomaly) -> Option<Entry> {
        self.stopped = Some(anomaly);
        self.remaining = [0; 4];
        None
    }
}

impl Iterator for RecordWalker<'_> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        while self.remaining.get(self.section).copied()? == 0 {
            self.section += 1;
            if self.section >= 4 {
                return None;
            }
        }
        if self.pos >= self.msg.len() {
            return self.stop(Anomaly::CountMismatch);
        }
        let name_pos = self.pos;
        let after_name = match skip_name(self.msg, name_pos) {
            Ok(p) => p,
            Err(a) => return self.stop(a),
        };
        if let Some(r) = self.remaining.get_mut(self.section) {
            *r -= 1;
        }
        if self.section == 0 {
            let (Some(qtype), Some(qclass)) = (
                read_u16(self.msg, after_name),
                read_u16(self.msg, after_name + 2),
            ) else {
                return self.stop(Anomaly::TruncatedQuestion);
            };
            self.pos = after_name + 4;
            return Some(Entry::Question(QuestionRef {
                name_pos,
                qtype,
                qclass,
            }));
        }
        let fixed = (
            read_u16(self.msg, after_name),
            read_u16(self.msg, after_name + 2),
            read_u32(self.msg, after_name + 4),
            read_u16(self.msg, after_name + 8),
        );
        let (Some(rtype), Some(class), Some(ttl), Some(rdlen)) = fixed else {
            return self.stop(Anomaly::TruncatedRecord);
        };
        let rdata_pos = after_name + RECORD_FIXED_LEN;
        let rdata_len = usize::from(rdlen);
        if rdata_pos + rdata_len > self.msg.len() {
            return self.stop(Anomaly::TruncatedRecord);
        }
        self.pos = rdata_pos + rdata_len;
        let section = match self.section {
            1 => Section::Answer,
            2 => Section::Authority,
            _ => Section::Additional,
        };
        Some(Entry::Record(RecordRef {
            section,
            name_pos,
            rtype,
            class,
            ttl,
            rdata_pos,
            rdata_len,
        }))
    }
}

pub use schemas::rrtype::{parse_type, type_name};

/// Whether rdata of this type is made only of names and numbers, so that lower-casing its
/// presentation form is its canonical form (RFC 4034 section 6.2 list, restricted to the types
/// rendered here).
pub fn rdata_is_case_insensitive(rtype: u16) -> bool {
    matches!(rtype, 1 | 2 | 5 | 6 | 12 | 15 | 28 | 33 | 39)
}

/// Renders the rdata of `record` (located in `msg`) in presentation format into `out`.
///
/// Names are written as on the wire, or in lower case when `lowercase` is set. Returns an
/// anomaly when the rdata does not fit its type; the generic RFC 3597 form is then written.
pub fn render_rdata(
    msg: &[u8],
    record: &RecordRef,
    name: &mut NameBuf,
    lowercase: bool,
    out: &mut String,
) -> Result<(), Anomaly> {
    let rdata = record.rdata(msg);
    let start_len = out.len();
    let result = render_known(msg, record, rdata, name, lowercase, out);
    match result {
        Some(Ok(())) => Ok(()),
        Some(Err(a)) => {
            out.truncate(start_len);
            write_generic(out, rdata);
            Err(a)
        }
        None => {
            render_with_hickory(msg, record, out);
            if lowercase && rdata_is_case_insensitive(record.rtype) {
                if let Some(tail) = out.get_mut(start_len..) {
                    tail.make_ascii_lowercase();
                }
            }
            Ok(())
        }
    }
}

/// `Some` for types rendered here (`Ok` or the anomaly), `None` to defer to hickory.
fn render_known(
    msg: &[u8],
    record: &RecordRef,
    rdata: &[u8],
    name: &mut NameBuf,
    lowercase: bool,
    out: &mut String,
) -> Option<Result<(), Anomaly>> {
    let end = record.rdata_pos + record.rdata_len;
    // A name inside rdata must end exactly at (or, for SOA/MX/SRV, inside) the rdata.
    let mut name_at = |pos: usize, out: &mut String| -> Result<usize, Anomaly> {
        let after = decode_name(msg, pos, name)?;
        if after > end {
            return Err(Anomaly::BadRdata);
        }
        name.write_presentation(out, lowercase);
        Ok(after)
    };
    let r = match record.rtype {
        1 => {
            let Ok(a) = <[u8; 4]>::try_from(rdata) else {
                return Some(Err(Anomaly::BadRdata));
            };
            let _ = write!(out, "{}", std::net::Ipv4Addr::from(a));
            Ok(())
        }
        28 => {
            let Ok(a) = <[u8; 16]>::try_from(rdata) else {
                return Some(Err(Anomaly::BadRdata));
            };
            let _ = write!(out, "{}", std::net::Ipv6Addr::from(a));
            Ok(())
        }
        2 | 5 | 12 | 39 => name_at(record.rdata_pos, out).and_then(|after| {
            if after == end {
                Ok(())
            } else {
                Err(Anomaly::BadRdata)
            }
        }),
        15 => {
            let Some(pref) = read_u16(rdata, 0) else {
                return Some(Err(Anomaly::BadRdata));
            };
            let _ = write!(out, "{pref} ");
            name_at(record.rdata_pos + 2, out).and_then(|after| {
                if after == end {
                    Ok(())
                } else {
                    Err(Anomaly::BadRdata)
                }
            })
        }
        33 => {
            let (Some(p), Some(w), Some(port)) =
                (read_u16(rdata, 0), read_u16(rdata, 2), read_u16(rdata, 4))
            else {
                return Some(Err(Anomaly::BadRdata));
            };
            let _ = write!(out, "{p} {w} {port} ");
            name_at(record.rdata_pos + 6, out).and_then(|after| {
                if after == end {
                    Ok(())
                } else {
                    Err(Anomaly::BadRdata)
                }
            })
        }
        6 => (|| {
            let after_m = name_at(record.rdata_pos, out)?;
            out.push(' ');
            let after_r = name_at(after_m, out)?;
            if after_r + 20 != end {
                return Err(Anomaly::BadRdata);
            }
            for i in 0..5 {
                let v = read_u32(msg, after_r + 4 * i).ok_or(Anomaly::BadRdata)?;
                let _ = write!(out, " {v}");
            }
            Ok(())
        })(),
        16 | 99 => {
            let mut rest = rdata;
            let mut first = true;
            while let Some((&len, tail)) = rest.split_first() {
                let Some((s, tail)) = tail.split_at_checked(usize::from(len)) else {
                    return Some(Err(Anomaly::BadRdata));
                };
                if !first {
                    out.push(' ');
                }
                first = false;
                write_character_string(out, s);
                rest = tail;
            }
            Ok(())
        }
        _ => return None,
    };
    Some(r)
}

/// Writes a `<character-string>` quoted, escaping `"` and `\` and non-printable bytes.
fn write_character_string(out: &mut String, s: &[u8]) {
    out.push('"');
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
}

/// RFC 3597 section 5 generic form: `\# <len> <hex>`.
fn write_generic(out: &mut String, rdata: &[u8]) {
    let _ = write!(out, "\\# {}", rdata.len());
    if !rdata.is_empty() {
        out.push(' ');
        write_hex(out, rdata);
    }
}

/// Writes bytes as lower-case hex.
pub fn write_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

fn render_with_hickory(msg: &[u8], record: &RecordRef, out: &mut String) {
    let rdata = record.rdata(msg);
    let (Ok(pos), Ok(len)) = (
        u16::try_from(record.rdata_pos),
        u16::try_from(record.rdata_len),
    ) else {
        write_generic(out, rdata);
        return;
    };
    let mut decoder = BinDecoder::new(msg).clone(pos);
    let decoded = RData::read(
        &mut decoder,
        RecordType::from(record.rtype),
        Restrict::new(len),
    );
    match decoded {
        Ok(RData::Unknown { .. }) | Err(_) => write_generic(out, rdata),
        Ok(_) if decoder.index() != record.rdata_pos + record.rdata_len => {
            write_generic(out, rdata)
        }
        Ok(data) => {
            let _ = write!(out, "{data}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-built: header (txid 0x1234, response, 1 question, 1 answer), question
    /// `www.Example.com A IN`, answer with a pointer to the question name, A 192.0.2.1.
    fn sample() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(b"\x03www\x07Example\x03com\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1]);
        m
    }

    #[test]
    fn walks_question_and_answer_and_keeps_case() {
        let m = sample();
        let mut w = RecordWalker::new(&m).unwrap();
        let Some(Entry::Question(q)) = w.next() else {
            panic!("no question")
        };
        assert_eq!((q.qtype, q.qclass), (1, 1));
        let mut name = NameBuf::default();
        decode_name(&m, q.name_pos, &mut name).unwrap();
        let mut s = String::new();
        name.write_presentation(&mut s, false);
        assert_eq!(s, "www.Example.com");
        let Some(Entry::Record(r)) = w.next() else {
            panic!("no record")
        };
        assert_eq!((r.rtype, r.ttl, r.section), (1, 3600, Section::Answer));
        let mut out = String::new();
        render_rdata(&m, &r, &mut name, false, &mut out).unwrap();
        assert_eq!(out, "192.0.2.1");
        assert_eq!(w.next(), None);
        assert_eq!(w.stopped(), None);
        assert_eq!(w.trailing(), 0);
    }

    #[test]
    fn pointer_to_itself_is_a_forward_pointer() {
        // Hand-built: name at 12 is a pointer to offset 12.
        let mut m = vec![0; 12];
        m.extend_from_slice(&[0xc0, 12]);
        assert_eq!(
            decode_name(&m, 12, &mut NameBuf::default()),
            Err(Anomaly::ForwardPointer)
        );
    }

    #[test]
    fn pointer_chain_going_up_again_is_a_loop() {
        // Hand-built: 12: label "a"; 14: pointer to 12. Starting at 14: jump to 12, read "a",
        // meet the pointer at 14 again: it points before itself, but not before the previous
        // target (12), so the chain would repeat forever.
        let mut m = vec![0; 12];
        m.extend_from_slice(&[1, b'a', 0xc0, 12]);
        assert_eq!(
            decode_name(&m, 14, &mut NameBuf::default()),
            Err(Anomaly::CompressionLoop)
        );
    }

    #[test]
    fn label_past_the_end_is_an_overrun() {
        let mut m = vec![0; 12];
        m.extend_from_slice(&[10, b'a', b'b']);
        assert_eq!(
            decode_name(&m, 12, &mut NameBuf::default()),
            Err(Anomaly::LabelOverrun)
        );
        assert_eq!(skip_name(&m, 12), Err(Anomaly::LabelOverrun));
    }

    #[test]
    fn names_longer_than_255_octets_are_refused() {
        let mut m = vec![0; 12];
        for _ in 0..5 {
            m.push(63);
            m.extend_from_slice(&[b'x'; 63]);
        }
        m.push(0);
        assert_eq!(
            decode_name(&m, 12, &mut NameBuf::default()),
            Err(Anomaly::NameTooLong)
        );
        assert_eq!(skip_name(&m, 12), Err(Anomaly::NameTooLong));
    }

    #[test]
    fn counts_larger_than_records_stop_the_walk() {
        let mut m = sample();
        m[7] = 200; // ANCOUNT 200, one record present
        let mut w = RecordWalker::new(&m).unwrap();
        assert_eq!(w.by_ref().count(), 2);
        assert_eq!(w.stopped(), Some(Anomaly::CountMismatch));
    }

    #[test]
    fn escapes_dots_and_unprintable_bytes_losslessly() {
        let mut n = NameBuf::default();
        assert!(n.set_wire(b"\x03a.b\x02\x00Z"));
        let mut s = String::new();
        n.write_presentation(&mut s, true);
        assert_eq!(s, "a\\.b.\\000z");
    }

    #[test]
    fn txt_and_generic_rendering() {
        let mut m = vec![0; 12];
        let pos = m.len();
        m.extend_from_slice(b"\x05he\"lo\x01\xff");
        let r = RecordRef {
            section: Section::Answer,
            name_pos: 0,
            rtype: 16,
            class: 1,
            ttl: 0,
            rdata_pos: pos,
            rdata_len: 8,
        };
        let mut out = String::new();
        render_rdata(&m, &r, &mut NameBuf::default(), false, &mut out).unwrap();
        assert_eq!(out, "\"he\\\"lo\" \"\\255\"");
        let r = RecordRef { rtype: 1, ..r };
        out.clear();
        assert_eq!(
            render_rdata(&m, &r, &mut NameBuf::default(), false, &mut out),
            Err(Anomaly::BadRdata)
        );
        assert_eq!(out, "\\# 8 056865226c6f01ff");
    }

    #[test]
    fn type_names_round_trip() {
        assert_eq!(type_name(15), "MX");
        assert_eq!(type_name(65280), "TYPE65280");
        assert_eq!(parse_type("mx"), Some(15));
        assert_eq!(parse_type("TYPE65280"), Some(65280));
        assert_eq!(parse_type("bogus"), None);
    }
}
