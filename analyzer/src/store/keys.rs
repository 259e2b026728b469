//! Every RocksDB key encoding of the store. Frozen: changing one bumps
//! [`FORMAT_VERSION`](super::FORMAT_VERSION).
//!
//! Keys are big-endian and prefix-ordered, so that every query is one forward range scan.
//!
//! # Name keys
//!
//! A domain name (presentation format, no trailing dot, the root is `.`) is stored with its labels
//! in reverse order, from the top-level label down, each as one length byte followed by the
//! label's presentation text, then one `0x00` byte ending the name:
//!
//! ```text
//! www.example.com  ->  03 "com" 07 "example" 03 "www" 00
//! .                ->  00
//! ```
//!
//! A label is never empty, so `0x00` can only be the end marker. The key of `example.com`
//! without its end marker (`03 "com" 07 "example"`) is therefore a prefix of the key of every
//! name at or below `example.com` and of no other name: `*.example.com` is a prefix scan that
//! skips the one name whose next byte is `0x00` (`example.com` itself). Escaped dots (`a\.b`) stay
//! inside their label.
//!
//! # Column family `pdns`: one passive-DNS record
//!
//! ```text
//! name key (owner) | rrtype u16 | rdata length u32 | rdata text | section u8 | bailiwick text
//! ```
//!
//! The same (owner, type, rdata) learnt from different sections or bailiwicks is kept apart, so
//! an answer is never confused with glue. Owner + type is a prefix, so `--type` is a narrower
//! scan.
//!
//! # Column family `rdata_index`: reverse lookups
//!
//! ```text
//! 0x04 | IPv4 address (4 bytes)   | pdns key      A records
//! 0x06 | IPv6 address (16 bytes)  | pdns key      AAAA records
//! 0x4e | name key (target)        | pdns key      the name inside NS, CNAME, PTR, DNAME, MX, SRV
//! ```
//!
//! Addresses are binary big-endian, so a CIDR prefix is one contiguous range; IPv4 and IPv6 sit
//! under different first bytes and never mix. The value is empty: the key says everything.
//!
//! # Column family `meta`
//!
//! [`FORMAT_VERSION_KEY`] holds the store's format version (see
//! [`values::encode_format_version`](super::values::encode_format_version)).

use super::cursor::Cursor;
use crate::Error;
use schemas::Section;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Key of the store format version in the `meta` column family.
pub const FORMAT_VERSION_KEY: &[u8] = b"format_version";

/// Longest label text a name key holds: the encoding's one length byte. (RFC 1035 section 2.3.4
/// allows 63 octets, at most 252 characters in presentation format with `\DDD` escapes.)
pub const MAX_LABEL_TEXT_LEN: usize = 255;

/// Byte ending a name key.
const NAME_END: u8 = 0x00;

/// First byte of a reverse-index key for an IPv4 address.
pub const INDEX_KIND_IPV4: u8 = 0x04;
/// First byte of a reverse-index key for an IPv6 address.
pub const INDEX_KIND_IPV6: u8 = 0x06;
/// First byte of a reverse-index key for a name inside rdata.
pub const INDEX_KIND_NAME: u8 = b'N';

/// Record types whose rdata is indexed by the name it contains.
const TYPE_A: u16 = 1;
const TYPE_NS: u16 = 2;
const TYPE_CNAME: u16 = 5;
const TYPE_PTR: u16 = 12;
const TYPE_MX: u16 = 15;
const TYPE_AAAA: u16 = 28;
const TYPE_SRV: u16 = 33;
const TYPE_DNAME: u16 = 39;

fn invalid_name(name: &str, reason: &'static str) -> Error {
    Error::InvalidName {
        name: name.to_owned(),
        reason,
    }
}

/// The labels of a presentation-format name, left to right; empty for the root (`.`).
///
/// A backslash escapes the next character, so `a\.b` is one label.
fn labels(name: &str) -> Result<Vec<&str>, Error> {
    if name == "." {
        return Ok(Vec::new());
    }
    if name.is_empty() {
        return Err(invalid_name(name, "empty name"));
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in name.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '.' {
            out.push(name.get(start..i).unwrap_or_default());
            start = i + 1;
        }
    }
    if escaped {
        return Err(invalid_name(name, "dangling backslash escape"));
    }
    out.push(name.get(start..).unwrap_or_default());
    if out.iter().any(|label| label.is_empty()) {
        return Err(invalid_name(name, "empty label"));
    }
    if out.iter().any(|label| label.len() > MAX_LABEL_TEXT_LEN) {
        return Err(invalid_name(name, "label longer than 255 characters"));
    }
    Ok(out)
}

/// Appends the reversed labels of `name`, without the end marker.
fn encode_labels(name: &str, out: &mut Vec<u8>) -> Result<(), Error> {
    for label in labels(name)?.iter().rev() {
        let len = u8::try_from(label.len())
            .map_err(|_| invalid_name(name, "label longer than 255 characters"))?;
        out.push(len);
        out.extend_from_slice(label.as_bytes());
    }
    Ok(())
}

/// Appends the name key of `name` (see the module docs).
pub fn encode_name(name: &str, out: &mut Vec<u8>) -> Result<(), Error> {
    encode_labels(name, out)?;
    out.push(NAME_END);
    Ok(())
}

/// Appends the prefix shared by the keys of `suffix` and of every name below it: the name key of
/// `suffix` without its end marker. Keys with this prefix whose next byte is `0x00` are `suffix`
/// itself; the others are its strict subdomains.
pub fn encode_subdomain_prefix(suffix: &str, out: &mut Vec<u8>) -> Result<(), Error> {
    encode_labels(suffix, out)
}

/// Whether `key`, which starts with a prefix of [`encode_subdomain_prefix`] of length
/// `prefix_len`, names a strict subdomain (its name goes on past the prefix).
pub fn is_strict_subdomain(key: &[u8], prefix_len: usize) -> bool {
    key.get(prefix_len).is_some_and(|&byte| byte != NAME_END)
}

/// Reads a name key, returning the presentation-format name.
fn decode_name(cursor: &mut Cursor<'_>) -> Result<String, Error> {
    let mut labels: Vec<&str> = Vec::new();
    loop {
        let len = cursor.u8()?;
        if len == NAME_END {
            break;
        }
        labels.push(cursor.text(usize::from(len))?);
    }
    if labels.is_empty() {
        return Ok(".".to_owned());
    }
    labels.reverse();
    Ok(labels.join("."))
}

/// The key of one record in the `pdns` column family, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PdnsKey {
    /// Owner name.
    pub rrname: String,
    /// Record type code.
    pub rrtype: u16,
    /// Rdata, presentation format.
    pub rdata: String,
    /// Section the record was learnt from.
    pub section: Section,
    /// Bailiwick it was learnt in.
    pub bailiwick: String,
}

/// What a decoder calls a `pdns` key in errors.
const PDNS_KEY: &str = "pdns key";
/// What a decoder calls a reverse-index key in errors.
const INDEX_KEY: &str = "rdata index key";

/// Encodes a `pdns` key from its parts.
pub fn encode_pdns_key(
    rrname: &str,
    rrtype: u16,
    rdata: &str,
    section: Section,
    bailiwick: &str,
) -> Result<Vec<u8>, Error> {
    let rdata_len = u32::try_from(rdata.len()).map_err(|_| Error::InvalidName {
        name: rrname.to_owned(),
        reason: "rdata longer than 4 GiB",
    })?;
    let mut out = Vec::with_capacity(rrname.len() + rdata.len() + bailiwick.len() + 10);
    encode_name(rrname, &mut out)?;
    out.extend_from_slice(&rrtype.to_be_bytes());
    out.extend_from_slice(&rdata_len.to_be_bytes());
    out.extend_from_slice(rdata.as_bytes());
    out.push(section.code());
    out.extend_from_slice(bailiwick.as_bytes());
    Ok(out)
}

/// The prefix of every `pdns` key of `rrname` with type `rrtype`.
pub fn encode_owner_type_prefix(rrname: &str, rrtype: u16) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(rrname.len() + 4);
    encode_name(rrname, &mut out)?;
    out.extend_from_slice(&rrtype.to_be_bytes());
    Ok(out)
}

impl PdnsKey {
    /// Encodes this key.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        encode_pdns_key(
            &self.rrname,
            self.rrtype,
            &self.rdata,
            self.section,
            &self.bailiwick,
        )
    }

    /// Decodes a `pdns` key; stored bytes are not trusted.
    pub fn decode(bytes: &[u8]) -> Result<PdnsKey, Error> {
        let mut cursor = Cursor::new(bytes, PDNS_KEY);
        let rrname = decode_name(&mut cursor)?;
        let rrtype = cursor.u16()?;
        let rdata_len = cursor.u32()?;
        let rdata_len = usize::try_from(rdata_len).map_err(|_| cursor.malformed("rdata length"))?;
        let rdata = cursor.text(rdata_len)?.to_owned();
        let section_code = cursor.u8()?;
        let section =
            Section::from_code(section_code).ok_or_else(|| cursor.malformed("unknown section"))?;
        let rest = cursor.rest().len();
        let bailiwick = cursor.text(rest)?.to_owned();
        Ok(PdnsKey {
            rrname,
            rrtype,
            rdata,
            section,
            bailiwick,
        })
    }
}

/// What the reverse index files a record under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IndexTarget {
    /// The address of an A record.
    V4(Ipv4Addr),
    /// The address of an AAAA record.
    V6(Ipv6Addr),
    /// The name inside NS, CNAME, PTR, DNAME, MX or SRV rdata.
    Name(String),
}

impl IndexTarget {
    /// What the reverse index holds for a record, if anything: the address of A and AAAA
    /// records, the target name of NS, CNAME, PTR, DNAME (the whole rdata), MX (the second
    /// field) and SRV (the fourth field). Rdata that does not parse is not indexed.
    pub fn of_record(rrtype: u16, rdata: &str) -> Option<IndexTarget> {
        let name = match rrtype {
            TYPE_A => return rdata.parse().ok().map(IndexTarget::V4),
            TYPE_AAAA => return rdata.parse().ok().map(IndexTarget::V6),
            TYPE_NS | TYPE_CNAME | TYPE_PTR | TYPE_DNAME => Some(rdata),
            TYPE_MX => rdata.split_ascii_whitespace().nth(1),
            TYPE_SRV => rdata.split_ascii_whitespace().nth(3),
            _ => None,
        }?;
        // Only index what a name key can hold.
        labels(name).ok()?;
        Some(IndexTarget::Name(name.to_owned()))
    }
}

/// Encodes a reverse-index key: the target, then the `pdns` key it points at.
pub fn encode_index_key(target: &IndexTarget, pdns_key: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(pdns_key.len() + 17);
    match target {
        IndexTarget::V4(addr) => {
            out.push(INDEX_KIND_IPV4);
            out.extend_from_slice(&addr.octets());
        }
        IndexTarget::V6(addr) => {
            out.push(INDEX_KIND_IPV6);
            out.extend_from_slice(&addr.octets());
        }
        IndexTarget::Name(name) => {
            out.push(INDEX_KIND_NAME);
            encode_name(name, &mut out)?;
        }
    }
    out.extend_from_slice(pdns_key);
    Ok(out)
}

/// The first key of reverse-index addresses at or above `addr`.
pub fn encode_index_address_start(addr: std::net::IpAddr) -> Vec<u8> {
    match addr {
        std::net::IpAddr::V4(v4) => {
            let mut out = vec![INDEX_KIND_IPV4];
            out.extend_from_slice(&v4.octets());
            out
        }
        std::net::IpAddr::V6(v6) => {
            let mut out = vec![INDEX_KIND_IPV6];
            out.extend_from_slice(&v6.octets());
            out
        }
    }
}

/// The prefix of reverse-index keys for names in rdata: exactly `name` when `subdomains` is
/// false, otherwise `name` and everything below it (see [`is_strict_subdomain`]).
pub fn encode_index_name_prefix(name: &str, subdomains: bool) -> Result<Vec<u8>, Error> {
    let mut out = vec![INDEX_KIND_NAME];
    if subdomains {
        encode_subdomain_prefix(name, &mut out)?;
    } else {
        encode_name(name, &mut out)?;
    }
    Ok(out)
}

/// Decodes a reverse-index key into its target and the `pdns` key it points at; stored bytes
/// are not trusted.
pub fn decode_index_key(bytes: &[u8]) -> Result<(IndexTarget, &[u8]), Error> {
    let mut cursor = Cursor::new(bytes, INDEX_KEY);
    let target = match cursor.u8()? {
        INDEX_KIND_IPV4 => IndexTarget::V4(Ipv4Addr::from(cursor.array::<4>()?)),
        INDEX_KIND_IPV6 => IndexTarget::V6(Ipv6Addr::from(cursor.array::<16>()?)),
        INDEX_KIND_NAME => IndexTarget::Name(decode_name(&mut cursor)?),
        _ => {
            return Err(Error::Malformed {
                what: INDEX_KEY,
                offset: 0,
                reason: "unknown index kind",
            })
        }
    };
    let pdns_key = cursor.rest();
    if pdns_key.is_empty() {
        return Err(cursor.malformed("no pdns key after the target"));
    }
    Ok((target, pdns_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_key(name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode_name(name, &mut out).unwrap();
        out
    }

    #[test]
    fn name_key_reverses_length_prefixed_labels_and_ends_with_zero() {
        // hand-built from the layout in the module docs
        assert_eq!(
            name_key("www.example.com"),
            b"\x03com\x07example\x03www\x00".to_vec()
        );
        assert_eq!(name_key("."), vec![0x00]);
    }

    #[test]
    fn subdomain_prefix_covers_subdomains_and_not_siblings() {
        let mut prefix = Vec::new();
        encode_subdomain_prefix("example.com", &mut prefix).unwrap();
        let sub = name_key("a.example.com");
        let itself = name_key("example.com");
        let sibling = name_key("notexample.com");
        let longer_label = name_key("example.community");
        assert!(sub.starts_with(&prefix) && is_strict_subdomain(&sub, prefix.len()));
        assert!(itself.starts_with(&prefix) && !is_strict_subdomain(&itself, prefix.len()));
        assert!(!sibling.starts_with(&prefix));
        assert!(!longer_label.starts_with(&prefix));
    }

    #[test]
    fn escaped_dot_stays_inside_its_label() {
        assert_eq!(name_key("a\\.b.com"), b"\x03com\x04a\\.b\x00".to_vec());
    }

    #[test]
    fn names_with_empty_labels_or_dangling_escapes_are_refused() {
        for bad in ["", "a..b", ".a", "a.", "a\\"] {
            assert!(
                matches!(
                    encode_name(bad, &mut Vec::new()),
                    Err(Error::InvalidName { .. })
                ),
                "{bad:?}"
            );
        }
        let long = "a".repeat(256);
        assert!(encode_name(&long, &mut Vec::new()).is_err());
    }

    #[test]
    fn pdns_key_round_trips() {
        for key in [
            PdnsKey {
                rrname: "www.example.com".into(),
                rrtype: 1,
                rdata: "192.0.2.1".into(),
                section: Section::Answer,
                bailiwick: "www.example.com".into(),
            },
            PdnsKey {
                rrname: ".".into(),
                rrtype: 2,
                rdata: "a.root-servers.net".into(),
                section: Section::Authority,
                bailiwick: String::new(),
            },
            PdnsKey {
                rrname: "x.y".into(),
                rrtype: 16,
                rdata: "\"with spaces\" \"and ünïcode\"".into(),
                section: Section::Additional,
                bailiwick: "y".into(),
            },
        ] {
            let bytes = key.encode().unwrap();
            assert_eq!(PdnsKey::decode(&bytes).unwrap(), key);
        }
    }

    #[test]
    fn pdns_key_layout_is_frozen() {
        let bytes = encode_pdns_key("a.b", 15, "10 mx.b", Section::Authority, "b").unwrap();
        // 01 "b" 01 "a" 00 | type 000f | rdata len 00000007 | "10 mx.b" | section 01 | "b"
        assert_eq!(
            bytes,
            b"\x01b\x01a\x00\x00\x0f\x00\x00\x00\x0710 mx.b\x01b".to_vec()
        );
    }

    #[test]
    fn every_truncation_of_a_pdns_key_is_an_error_not_a_panic() {
        let bytes =
            encode_pdns_key("www.example.com", 1, "192.0.2.1", Section::Answer, "").unwrap();
        // the bailiwick (empty here) is the key's tail: every shorter cut loses the section byte
        for cut in 0..bytes.len() {
            assert!(PdnsKey::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn pdns_key_with_unknown_section_or_bad_utf8_is_malformed() {
        let mut bytes = encode_pdns_key("a", 1, "192.0.2.1", Section::Answer, "a").unwrap();
        let section_at = bytes.len() - 2;
        bytes[section_at] = 9;
        assert!(matches!(
            PdnsKey::decode(&bytes),
            Err(Error::Malformed { .. })
        ));
        let bad_utf8 = b"\x01\xff\x00\x00\x01\x00\x00\x00\x00\x00";
        assert!(matches!(
            PdnsKey::decode(bad_utf8),
            Err(Error::Malformed { .. })
        ));
    }

    #[test]
    fn index_targets_come_from_addresses_and_names_in_rdata() {
        assert_eq!(
            IndexTarget::of_record(1, "192.0.2.1"),
            Some(IndexTarget::V4(Ipv4Addr::new(192, 0, 2, 1)))
        );
        assert_eq!(
            IndexTarget::of_record(28, "2001:db8::1"),
            Some(IndexTarget::V6("2001:db8::1".parse().unwrap()))
        );
        assert_eq!(
            IndexTarget::of_record(15, "10 mx.example.com"),
            Some(IndexTarget::Name("mx.example.com".into()))
        );
        assert_eq!(
            IndexTarget::of_record(33, "0 5 443 host.example.com"),
            Some(IndexTarget::Name("host.example.com".into()))
        );
        assert_eq!(
            IndexTarget::of_record(2, "ns1.example.com"),
            Some(IndexTarget::Name("ns1.example.com".into()))
        );
        assert_eq!(IndexTarget::of_record(1, "not an address"), None);
        assert_eq!(IndexTarget::of_record(16, "\"txt\""), None);
        assert_eq!(IndexTarget::of_record(15, "10"), None);
    }

    #[test]
    fn index_key_round_trips_for_every_kind() {
        let pdns = encode_pdns_key("a.example", 1, "192.0.2.1", Section::Answer, "a").unwrap();
        for target in [
            IndexTarget::V4(Ipv4Addr::new(192, 0, 2, 1)),
            IndexTarget::V6("2001:db8::1".parse().unwrap()),
            IndexTarget::Name("mx.example.com".into()),
            IndexTarget::Name(".".into()),
        ] {
            let key = encode_index_key(&target, &pdns).unwrap();
            let (decoded, pointed) = decode_index_key(&key).unwrap();
            assert_eq!(decoded, target);
            assert_eq!(pointed, pdns.as_slice());
        }
    }

    #[test]
    fn index_key_with_unknown_kind_or_no_pdns_key_is_an_error() {
        assert!(decode_index_key(b"\x07abc").is_err());
        assert!(decode_index_key(b"\x04\xc0\x00\x02\x01").is_err());
        assert!(decode_index_key(b"\x06\x20\x01").is_err());
        assert!(decode_index_key(b"").is_err());
    }

    #[test]
    fn ipv4_index_keys_sort_by_address() {
        let pdns = b"k";
        let low = encode_index_key(&IndexTarget::V4(Ipv4Addr::new(9, 255, 0, 1)), pdns).unwrap();
        let high = encode_index_key(&IndexTarget::V4(Ipv4Addr::new(10, 0, 0, 0)), pdns).unwrap();
        let v6 = encode_index_key(&IndexTarget::V6(Ipv6Addr::UNSPECIFIED), pdns).unwrap();
        assert!(low < high && high < v6);
    }
}
