//! A DNS message encoder with name compression (RFC 1035 section 4.1.4).
//!
//! > In order to reduce the size of messages, the domain system utilizes a compression scheme
//! > which eliminates the repetition of domain names in a message. In this scheme, an entire
//! > domain name or a list of labels at the end of a domain name is replaced with a pointer to a
//! > prior occurrence of the same name.
//!
//! Names are written as dotted text without the trailing dot (`""` is the root).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::GenerateError;

/// Record type A (RFC 1035).
pub const TYPE_A: u16 = 1;
/// Record type NS (RFC 1035).
pub const TYPE_NS: u16 = 2;
/// Record type CNAME (RFC 1035).
pub const TYPE_CNAME: u16 = 5;
/// Record type SOA (RFC 1035).
pub const TYPE_SOA: u16 = 6;
/// Record type PTR (RFC 1035).
pub const TYPE_PTR: u16 = 12;
/// Record type MX (RFC 1035).
pub const TYPE_MX: u16 = 15;
/// Record type TXT (RFC 1035).
pub const TYPE_TXT: u16 = 16;
/// Record type AAAA (RFC 3596).
pub const TYPE_AAAA: u16 = 28;
/// Pseudo-record type OPT (RFC 6891).
pub const TYPE_OPT: u16 = 41;
/// Record type DS (RFC 4034).
pub const TYPE_DS: u16 = 43;
/// Record type RRSIG (RFC 4034).
pub const TYPE_RRSIG: u16 = 46;
/// Record type NSEC (RFC 4034).
pub const TYPE_NSEC: u16 = 47;
/// Record type DNSKEY (RFC 4034).
pub const TYPE_DNSKEY: u16 = 48;
/// Class IN.
pub const CLASS_IN: u16 = 1;
/// EDNS option code of DNS COOKIE (RFC 7873 section 4).
pub const OPTION_COOKIE: u16 = 10;

/// Header flag QR (response).
pub const FLAG_QR: u16 = 0x8000;
/// Header flag AA (authoritative answer).
pub const FLAG_AA: u16 = 0x0400;
/// Header flag TC (truncated).
pub const FLAG_TC: u16 = 0x0200;
/// Header flag RD (recursion desired).
pub const FLAG_RD: u16 = 0x0100;
/// Header flag RA (recursion available).
pub const FLAG_RA: u16 = 0x0080;
/// Header flag AD (authentic data).
pub const FLAG_AD: u16 = 0x0020;
/// RCODE NOERROR.
pub const RCODE_NOERROR: u16 = 0;
/// RCODE SERVFAIL.
pub const RCODE_SERVFAIL: u16 = 2;
/// RCODE NXDOMAIN.
pub const RCODE_NXDOMAIN: u16 = 3;

/// Largest offset a compression pointer can hold (14 bits).
const MAX_POINTER_OFFSET: usize = 0x3fff;
/// Longest label (RFC 1035 section 2.3.4).
const MAX_LABEL_LEN: usize = 63;
/// Longest encoded name (RFC 1035 section 2.3.4).
const MAX_NAME_LEN: usize = 255;

/// Fields of an SOA record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    /// Primary name server.
    pub mname: String,
    /// Mailbox of the responsible person, as a name.
    pub rname: String,
    /// Zone serial.
    pub serial: u32,
    /// Refresh interval, seconds.
    pub refresh: u32,
    /// Retry interval, seconds.
    pub retry: u32,
    /// Expire limit, seconds.
    pub expire: u32,
    /// Negative-caching TTL, seconds (RFC 2308).
    pub minimum: u32,
}

/// Record data of the types the generator emits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rdata {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// Canonical name (compressed).
    Cname(String),
    /// Name server (compressed).
    Ns(String),
    /// Pointer (compressed).
    Ptr(String),
    /// Mail exchange: preference and host (compressed).
    Mx(u16, String),
    /// Character strings, each at most 255 bytes.
    Txt(Vec<String>),
    /// Start of authority (names compressed).
    Soa(Soa),
    /// DNSKEY: flags, protocol 3, algorithm, public key.
    Dnskey {
        /// Flags: 256 for a zone key, 257 with the secure entry point bit.
        flags: u16,
        /// Algorithm number (8 = RSA/SHA-256).
        algorithm: u8,
        /// Public key bytes.
        key: Vec<u8>,
    },
    /// RRSIG (RFC 4034 section 3.1); the signer name is never compressed.
    Rrsig {
        /// Type covered.
        type_covered: u16,
        /// Algorithm number.
        algorithm: u8,
        /// Label count of the owner.
        labels: u8,
        /// Original TTL.
        original_ttl: u32,
        /// Signature expiration, seconds since the epoch.
        expiration: u32,
        /// Signature inception, seconds since the epoch.
        inception: u32,
        /// Key tag.
        key_tag: u16,
        /// Signer's name.
        signer: String,
        /// Signature bytes.
        signature: Vec<u8>,
    },
    /// Record data of any type already in wire format, written verbatim, so names inside it are
    /// never compressed (RFC 4034 sections 3.1.7 and 4.1.1 forbid it for the RRSIG signer and
    /// the NSEC next name; RFC 3597 section 4 for any type a receiver may not know).
    Raw {
        /// Record type.
        rtype: u16,
        /// Encoded record data.
        data: Vec<u8>,
    },
}

impl Rdata {
    /// The record type of this data.
    pub fn record_type(&self) -> u16 {
        match self {
            Rdata::A(_) => TYPE_A,
            Rdata::Aaaa(_) => TYPE_AAAA,
            Rdata::Cname(_) => TYPE_CNAME,
            Rdata::Ns(_) => TYPE_NS,
            Rdata::Ptr(_) => TYPE_PTR,
            Rdata::Mx(..) => TYPE_MX,
            Rdata::Txt(_) => TYPE_TXT,
            Rdata::Soa(_) => TYPE_SOA,
            Rdata::Dnskey { .. } => TYPE_DNSKEY,
            Rdata::Rrsig { .. } => TYPE_RRSIG,
            Rdata::Raw { rtype, .. } => *rtype,
        }
    }
}

/// A resource record: owner, TTL and data (class IN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Owner name.
    pub owner: String,
    /// Time to live, seconds.
    pub ttl: u32,
    /// Record data.
    pub data: Rdata,
}

/// EDNS(0) parameters of an OPT pseudo-record (RFC 6891 section 6.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edns {
    /// Requestor's (or responder's) UDP payload size.
    pub udp_size: u16,
    /// DNSSEC OK bit (RFC 3225).
    pub dnssec_ok: bool,
    /// DNS COOKIE option data: 8 bytes client cookie, plus 8 to 32 bytes server cookie in
    /// responses (RFC 7873 section 4).
    pub cookie: Option<Vec<u8>>,
}

/// Encodes one DNS message section by section, compressing names against earlier ones.
///
/// ```
/// use dnsward_benches::dns::{MessageWriter, Rdata, Record, FLAG_QR, TYPE_A};
/// let mut message = MessageWriter::new(0x1234, FLAG_QR);
/// message.question("example.com", TYPE_A)?;
/// let record = Record {
///     owner: "example.com".into(),
///     ttl: 300,
///     data: Rdata::A([192, 0, 2, 1].into()),
/// };
/// message.answer(&record)?;
/// let bytes = message.finish();
/// // The answer's owner is a pointer to the question name at offset 12.
/// assert_eq!(bytes.get(29..31), Some(&[0xc0, 0x0c][..]));
/// # Ok::<(), dnsward_benches::GenerateError>(())
/// ```
#[derive(Debug)]
pub struct MessageWriter {
    buf: Vec<u8>,
    /// Names (and name suffixes) already written, with their offsets.
    written: Vec<(String, u16)>,
    counts: [u16; 4],
}

impl MessageWriter {
    /// Starts a message with the given transaction id and header flags (including the RCODE).
    pub fn new(txid: u16, flags: u16) -> Self {
        let mut buf = Vec::with_capacity(512);
        buf.extend_from_slice(&txid.to_be_bytes());
        buf.extend_from_slice(&flags.to_be_bytes());
        buf.extend_from_slice(&[0; 8]);
        Self {
            buf,
            written: Vec::with_capacity(16),
            counts: [0; 4],
        }
    }

    /// Current length of the encoded message.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing but the header has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.len() <= 12
    }

    fn count(&mut self, section: usize) {
        if let Some(count) = self.counts.get_mut(section) {
            *count = count.saturating_add(1);
        }
    }

    fn push_u16(&mut self, value: u16) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    fn push_u32(&mut self, value: u32) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    /// Writes a name, replacing its longest already-written suffix by a pointer when `compress`.
    fn name(&mut self, name: &str, compress: bool) -> Result<(), GenerateError> {
        if name.len() + 2 > MAX_NAME_LEN {
            return Err(GenerateError::NameTooLong { len: name.len() });
        }
        let mut rest = name;
        while !rest.is_empty() {
            if compress {
                if let Some((_, offset)) = self.written.iter().find(|(seen, _)| seen == rest) {
                    let pointer = 0xc000 | *offset;
                    self.push_u16(pointer);
                    return Ok(());
                }
            }
            let here = self.buf.len();
            if here <= MAX_POINTER_OFFSET {
                self.written.push((rest.to_owned(), here as u16));
            }
            let (label, tail) = rest.split_once('.').unwrap_or((rest, ""));
            if label.is_empty() || label.len() > MAX_LABEL_LEN {
                return Err(GenerateError::BadLabel { len: label.len() });
            }
            self.buf.push(label.len() as u8);
            self.buf.extend_from_slice(label.as_bytes());
            rest = tail;
        }
        self.buf.push(0);
        Ok(())
    }

    /// Writes a question (class IN).
    pub fn question(&mut self, qname: &str, qtype: u16) -> Result<(), GenerateError> {
        self.name(qname, true)?;
        self.push_u16(qtype);
        self.push_u16(CLASS_IN);
        self.count(0);
        Ok(())
    }

    /// Writes a record to the answer section.
    pub fn answer(&mut self, record: &Record) -> Result<(), GenerateError> {
        self.record(record)?;
        self.count(1);
        Ok(())
    }

    /// Writes a record to the authority section.
    pub fn authority(&mut self, record: &Record) -> Result<(), GenerateError> {
        self.record(record)?;
        self.count(2);
        Ok(())
    }

    /// Writes a record to the additional section.
    pub fn additional(&mut self, record: &Record) -> Result<(), GenerateError> {
        self.record(record)?;
        self.count(3);
        Ok(())
    }

    /// Writes an OPT pseudo-record to the additional section.
    pub fn opt(&mut self, edns: &Edns) -> Result<(), GenerateError> {
        self.buf.push(0); // root owner
        self.push_u16(TYPE_OPT);
        self.push_u16(edns.udp_size);
        // Extended RCODE 0, version 0, then the DO bit and zero flags.
        self.push_u32(if edns.dnssec_ok { 0x0000_8000 } else { 0 });
        match &edns.cookie {
            Some(cookie) => {
                let len = u16::try_from(cookie.len() + 4).map_err(|_| GenerateError::TooLarge {
                    what: "edns option",
                    len: cookie.len(),
                })?;
                self.push_u16(len);
                self.push_u16(OPTION_COOKIE);
                self.push_u16(len - 4);
                self.buf.extend_from_slice(cookie);
            }
            None => self.push_u16(0),
        }
        self.count(3);
        Ok(())
    }

    fn record(&mut self, record: &Record) -> Result<(), GenerateError> {
        self.name(&record.owner, true)?;
        self.push_u16(record.data.record_type());
        self.push_u16(CLASS_IN);
        self.push_u32(record.ttl);
        let length_at = self.buf.len();
        self.push_u16(0);
        match &record.data {
            Rdata::A(addr) => self.buf.extend_from_slice(&addr.octets()),
            Rdata::Aaaa(addr) => self.buf.extend_from_slice(&addr.octets()),
            Rdata::Cname(name) | Rdata::Ns(name) | Rdata::Ptr(name) => self.name(name, true)?,
            Rdata::Mx(preference, host) => {
                self.push_u16(*preference);
                self.name(host, true)?;
            }
            Rdata::Txt(strings) => {
                for text in strings {
                    let len = u8::try_from(text.len()).map_err(|_| GenerateError::TooLarge {
                        what: "txt string",
                        len: text.len(),
                    })?;
                    self.buf.push(len);
                    self.buf.extend_from_slice(text.as_bytes());
                }
            }
            Rdata::Soa(soa) => {
                self.name(&soa.mname, true)?;
                self.name(&soa.rname, true)?;
                for value in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] {
                    self.push_u32(value);
                }
            }
            Rdata::Dnskey {
                flags,
                algorithm,
                key,
            } => {
                self.push_u16(*flags);
                self.buf.push(3); // protocol, always 3 (RFC 4034 section 2.1.2)
                self.buf.push(*algorithm);
                self.buf.extend_from_slice(key);
            }
            Rdata::Rrsig {
                type_covered,
                algorithm,
                labels,
                original_ttl,
                expiration,
                inception,
                key_tag,
                signer,
                signature,
            } => {
                self.push_u16(*type_covered);
                self.buf.push(*algorithm);
                self.buf.push(*labels);
                self.push_u32(*original_ttl);
                self.push_u32(*expiration);
                self.push_u32(*inception);
                self.push_u16(*key_tag);
                self.name(signer, false)?;
                self.buf.extend_from_slice(signature);
            }
            Rdata::Raw { data, .. } => self.buf.extend_from_slice(data),
        }
        let rdata_len = self.buf.len() - length_at - 2;
        let rdata_len = u16::try_from(rdata_len).map_err(|_| GenerateError::TooLarge {
            what: "rdata",
            len: rdata_len,
        })?;
        if let Some(slot) = self.buf.get_mut(length_at..length_at + 2) {
            slot.copy_from_slice(&rdata_len.to_be_bytes());
        }
        Ok(())
    }

    /// Fills in the section counts and returns the encoded message.
    pub fn finish(mut self) -> Vec<u8> {
        for (index, count) in self.counts.iter().enumerate() {
            let at = 4 + 2 * index;
            if let Some(slot) = self.buf.get_mut(at..at + 2) {
                slot.copy_from_slice(&count.to_be_bytes());
            }
        }
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_of_earlier_name_becomes_pointer() {
        let mut message = MessageWriter::new(1, FLAG_QR);
        message.question("www.gmail.com", TYPE_MX).unwrap();
        let record = Record {
            owner: "gmail.com".into(),
            ttl: 3600,
            data: Rdata::Mx(5, "gmail-smtp-in.l.google.com".into()),
        };
        message.answer(&record).unwrap();
        let bytes = message.finish();
        // Question name at 12: 3www 5gmail 3com 0; "gmail.com" starts at 16.
        assert_eq!(&bytes[4..12], &[0, 1, 0, 1, 0, 0, 0, 0]);
        assert_eq!(
            &bytes[31..33],
            &[0xc0, 0x10],
            "answer owner points at gmail.com"
        );
        // The MX host ends with a pointer to "com" at offset 22.
        assert_eq!(&bytes[bytes.len() - 2..], &[0xc0, 22]);
    }

    #[test]
    fn overlong_label_is_an_error() {
        let mut message = MessageWriter::new(1, 0);
        let label = "a".repeat(64);
        assert!(message.question(&label, TYPE_A).is_err());
    }
}
