//! DNSSEC trust anchors (issue 5, first part): the root's built in, more from a file.
//!
//! Validation starts from an anchor: a DS or DNSKEY record the operator trusts without proof.
//! [`root_anchors`] holds the root zone's key-signing keys KSK-2017 (tag 20326) and KSK-2024
//! (tag 38696) as the DS records IANA publishes (`root-anchors.xml`, RFC 9718). Private roots
//! and test set-ups add theirs with [`parse_anchors`], which reads DS and DNSKEY records in
//! presentation format (RFC 1035 master-file syntax: comments after `;`, records spanning
//! lines inside parentheses, optional TTL and class), the form `dig` and `dnssec-keygen` print.
//!
//! Signature checking, the key cache and the detectors follow; this module knows anchors, how to
//! compute a DNSKEY's key tag (RFC 4034 appendix B) and whether a DS names a DNSKEY
//! ([`ds_covers`], through hickory-proto's digests).

use thiserror::Error;

/// One trust anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustAnchor {
    /// Owner (the zone), canonical: lower case, no trailing dot, `.` for the root.
    pub zone: String,
    /// The record.
    pub record: AnchorRecord,
}

/// The record of a trust anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnchorRecord {
    /// A delegation signer: the digest of a key of the zone (RFC 4034 section 5).
    Ds {
        /// Key tag of the key it names.
        key_tag: u16,
        /// The key's algorithm.
        algorithm: u8,
        /// Digest type (2: SHA-256, 4: SHA-384).
        digest_type: u8,
        /// The digest.
        digest: Vec<u8>,
    },
    /// A key of the zone itself (RFC 4034 section 2).
    Dnskey {
        /// Flags (257: a key-signing key, 256: a zone-signing key).
        flags: u16,
        /// Protocol, always 3.
        protocol: u8,
        /// Algorithm.
        algorithm: u8,
        /// The public key.
        public_key: Vec<u8>,
    },
}

impl TrustAnchor {
    /// The key tag the anchor names (a DS's own field, or computed from a DNSKEY).
    pub fn key_tag(&self) -> u16 {
        match &self.record {
            AnchorRecord::Ds { key_tag, .. } => *key_tag,
            AnchorRecord::Dnskey {
                flags,
                protocol,
                algorithm,
                public_key,
            } => key_tag(*flags, *protocol, *algorithm, public_key),
        }
    }
}

/// The root zone's trust anchors: KSK-2017 and KSK-2024 as IANA's DS records.
pub fn root_anchors() -> Vec<TrustAnchor> {
    const ROOT: [(u16, &str); 2] = [
        (
            20326,
            "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
        ),
        (
            38696,
            "683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16",
        ),
    ];
    ROOT.iter()
        .filter_map(|(tag, hex)| {
            Some(TrustAnchor {
                zone: ".".to_owned(),
                record: AnchorRecord::Ds {
                    key_tag: *tag,
                    algorithm: 8,
                    digest_type: 2,
                    digest: decode_hex(hex)?,
                },
            })
        })
        .collect()
}

/// Why an anchor file could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("line {line}: {reason}")]
pub struct AnchorError {
    /// Line (1-based) where the record starts.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Reads DS and DNSKEY records in presentation format; other record types are an error (an
/// anchor file holds anchors only). Returns them in file order.
pub fn parse_anchors(text: &str) -> Result<Vec<TrustAnchor>, AnchorError> {
    let mut anchors = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(';').next().unwrap_or("");
        if depth == 0 {
            start = i + 1;
        }
        for word in line
            .replace('(', " ( ")
            .replace(')', " ) ")
            .split_whitespace()
        {
            match word {
                "(" => depth += 1,
                ")" => {
                    depth = depth.checked_sub(1).ok_or_else(|| AnchorError {
                        line: i + 1,
                        reason: "')' without '('".to_owned(),
                    })?
                }
                w => tokens.push(w.to_owned()),
            }
        }
        if depth == 0 && !tokens.is_empty() {
            anchors.push(record(&tokens).map_err(|reason| AnchorError {
                line: start,
                reason,
            })?);
            tokens.clear();
        }
    }
    if depth > 0 {
        return Err(AnchorError {
            line: start,
            reason: "'(' not closed".to_owned(),
        });
    }
    Ok(anchors)
}

fn record(tokens: &[String]) -> Result<TrustAnchor, String> {
    let mut it = tokens.iter().map(String::as_str).peekable();
    let owner = it.next().ok_or("empty record")?;
    // Optional TTL and class, in either order (RFC 1035 section 5.1).
    let mut kind = None;
    for t in it.by_ref() {
        let upper = t.to_ascii_uppercase();
        if t.bytes().all(|b| b.is_ascii_digit()) || upper == "IN" {
            continue;
        }
        kind = Some(upper);
        break;
    }
    let kind = kind.ok_or("no record type")?;
    let rest: Vec<&str> = it.collect();
    let number = |i: usize, what: &str| -> Result<u64, String> {
        rest.get(i)
            .ok_or(format!("{kind}: no {what}"))?
            .parse::<u64>()
            .map_err(|_| format!("{kind}: {what} is not a number"))
    };
    let small = |v: u64, max: u64, what: &str| -> Result<u64, String> {
        if v > max {
            Err(format!("{kind}: {what} {v} is out of range"))
        } else {
            Ok(v)
        }
    };
    let record = match kind.as_str() {
        "DS" => {
            let digest = decode_hex(&rest.get(3..).unwrap_or(&[]).concat())
                .ok_or(format!("{kind}: the digest is not hexadecimal"))?;
            let digest_type = small(number(2, "digest type")?, 255, "digest type")? as u8;
            let expected = match digest_type {
                1 => Some(20),
                2 => Some(32),
                4 => Some(48),
                _ => None,
            };
            if digest.is_empty() || expected.is_some_and(|n| n != digest.len()) {
                return Err(format!(
                    "DS: a digest of type {digest_type} cannot be {} bytes long",
                    digest.len()
                ));
            }
            AnchorRecord::Ds {
                key_tag: small(number(0, "key tag")?, 65_535, "key tag")? as u16,
                algorithm: small(number(1, "algorithm")?, 255, "algorithm")? as u8,
                digest_type,
                digest,
            }
        }
        "DNSKEY" => {
            let public_key = decode_base64(&rest.get(3..).unwrap_or(&[]).concat())
                .ok_or("DNSKEY: the public key is not base64")?;
            let protocol = small(number(1, "protocol")?, 255, "protocol")? as u8;
            if protocol != 3 {
                return Err(format!("DNSKEY: protocol {protocol}, not 3"));
            }
            if public_key.is_empty() {
                return Err("DNSKEY: no public key".to_owned());
            }
            AnchorRecord::Dnskey {
                flags: small(number(0, "flags")?, 65_535, "flags")? as u16,
                protocol,
                algorithm: small(number(2, "algorithm")?, 255, "algorithm")? as u8,
                public_key,
            }
        }
        other => return Err(format!("{other} is not an anchor (DS or DNSKEY)")),
    };
    Ok(TrustAnchor {
        zone: canonical_zone(owner),
        record,
    })
}

fn canonical_zone(owner: &str) -> String {
    let lower = owner.to_ascii_lowercase();
    match lower.trim_end_matches('.') {
        "" => ".".to_owned(),
        z => z.to_owned(),
    }
}

/// The key tag of a DNSKEY (RFC 4034 appendix B; algorithm 1 keys use their own rule).
pub fn key_tag(flags: u16, protocol: u8, algorithm: u8, public_key: &[u8]) -> u16 {
    if algorithm == 1 {
        // RSA/MD5: the third- and second-to-last octets of the modulus.
        let n = public_key.len();
        let hi = n.checked_sub(3).and_then(|i| public_key.get(i)).copied();
        let lo = n.checked_sub(2).and_then(|i| public_key.get(i)).copied();
        return u16::from_be_bytes([hi.unwrap_or(0), lo.unwrap_or(0)]);
    }
    let mut rdata = Vec::with_capacity(4 + public_key.len());
    rdata.extend_from_slice(&flags.to_be_bytes());
    rdata.push(protocol);
    rdata.push(algorithm);
    rdata.extend_from_slice(public_key);
    let mut sum: u32 = 0;
    for (i, b) in rdata.iter().enumerate() {
        sum += if i % 2 == 0 {
            u32::from(*b) << 8
        } else {
            u32::from(*b)
        };
    }
    sum += (sum >> 16) & 0xffff;
    (sum & 0xffff) as u16
}

/// Whether a DS record names a DNSKEY of `zone` (RFC 4034 section 5.1.4): same key tag and
/// algorithm, and the digest over the owner (lower case, uncompressed) and the DNSKEY rdata.
/// `None` when `ds` is not a DS, `key` not a DNSKEY, the zone name cannot be encoded, or the
/// digest type is not one hickory-proto computes (SHA-1, SHA-256, SHA-384).
pub fn ds_covers(zone: &str, ds: &AnchorRecord, key: &AnchorRecord) -> Option<bool> {
    use hickory_proto::dnssec::{crypto::Digest, DigestType};
    let (
        AnchorRecord::Ds {
            key_tag: ds_tag,
            algorithm: ds_algorithm,
            digest_type,
            digest,
        },
        AnchorRecord::Dnskey {
            flags,
            protocol,
            algorithm,
            public_key,
        },
    ) = (ds, key)
    else {
        return None;
    };
    let kind = DigestType::from(*digest_type);
    if !matches!(
        kind,
        DigestType::SHA1 | DigestType::SHA256 | DigestType::SHA384
    ) {
        return None;
    }
    let mut data = Vec::with_capacity(zone.len() + 6 + public_key.len());
    for label in zone.split('.').filter(|l| !l.is_empty()) {
        let len = u8::try_from(label.len()).ok().filter(|l| *l <= 63)?;
        data.push(len);
        data.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
    }
    data.push(0);
    data.extend_from_slice(&flags.to_be_bytes());
    data.push(*protocol);
    data.push(*algorithm);
    data.extend_from_slice(public_key);
    let computed = Digest::new(&data, kind).ok()?;
    Some(
        *ds_tag == key_tag(*flags, *protocol, *algorithm, public_key)
            && ds_algorithm == algorithm
            && computed.as_ref() == digest.as_slice(),
    )
}

/// What checking one RRSIG of a message against the keys in it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCheck {
    /// Owner of the signed rrset, canonical.
    pub owner: String,
    /// Type the signature covers.
    pub type_covered: u16,
    /// Key tag the signature names.
    pub key_tag: u16,
    /// Signer, canonical.
    pub signer: String,
    /// Validity window, seconds since the epoch (serial-number arithmetic aside).
    pub inception: u32,
    /// End of the validity window.
    pub expiration: u32,
    /// The outcome.
    pub outcome: SignatureOutcome,
}

/// The outcome of one signature check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SignatureOutcome {
    /// A DNSKEY of the signer with the named tag verifies it.
    Valid,
    /// The signer's keys with the named tag are present and none verifies it.
    Invalid,
    /// No DNSKEY of the signer with that tag is in the message.
    NoKey,
    /// The algorithm, or an RSA key under 2,048 bits, is beyond what the verifier (ring through
    /// hickory-proto) checks: indeterminate, never bogus.
    Unsupported,
}

/// Bits of an RSA public key in DNSKEY form (RFC 3110: exponent length, exponent, modulus).
pub(crate) fn rsa_modulus_bits(key: &[u8]) -> Option<usize> {
    let (&first, rest) = key.split_first()?;
    let (exp_len, rest) = if first == 0 {
        let (hi, rest) = rest.split_first()?;
        let (lo, rest) = rest.split_first()?;
        (usize::from(u16::from_be_bytes([*hi, *lo])), rest)
    } else {
        (usize::from(first), rest)
    };
    let modulus = rest.get(exp_len..)?;
    let lead = modulus.iter().position(|b| *b != 0)?;
    let bytes = modulus.get(lead..)?;
    Some(bytes.len() * 8 - bytes.first()?.leading_zeros() as usize)
}

/// Checks every RRSIG of a DNS message over the records it covers in the same message, against
/// the DNSKEYs the message carries and those of `key_messages` (other DNS messages, such as
/// the DNSKEY responses seen before; unparsable ones are skipped). Validity windows are
/// reported, not judged: the caller compares them with packet time. `None` when `msg` cannot
/// be parsed.
pub fn check_signatures(msg: &[u8], key_messages: &[&[u8]]) -> Option<Vec<SignatureCheck>> {
    use hickory_proto::dnssec::rdata::DNSSECRData;
    use hickory_proto::dnssec::Verifier;
    use hickory_proto::op::Message;
    use hickory_proto::rr::RData;
    let message = Message::from_vec(msg).ok()?;
    let others: Vec<Message> = key_messages
        .iter()
        .filter_map(|m| Message::from_vec(m).ok())
        .collect();
    let keys = others.iter().flat_map(|m| m.answers.iter());
    let records: Vec<&hickory_proto::rr::Record> = message
        .answers
        .iter()
        .chain(&message.authorities)
        .chain(&message.additionals)
        .collect();
    let dnskeys: Vec<(
        &hickory_proto::rr::Name,
        &hickory_proto::dnssec::rdata::DNSKEY,
    )> = records
        .iter()
        .copied()
        .chain(keys)
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some((&r.name, k)),
            _ => None,
        })
        .collect();
    let canonical = |n: &hickory_proto::rr::Name| canonical_zone(&n.to_ascii());
    let mut out = Vec::new();
    for r in &records {
        let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &r.data else {
            continue;
        };
        let input = sig.input();
        let covered: Vec<&hickory_proto::rr::Record> = records
            .iter()
            .copied()
            .filter(|c| {
                c.record_type() == input.type_covered
                    && c.name == r.name
                    && c.dns_class == r.dns_class
            })
            .collect();
        let candidates: Vec<_> = dnskeys
            .iter()
            .filter(|(n, k)| {
                **n == input.signer_name && k.calculate_key_tag().ok() == Some(input.key_tag)
            })
            .collect();
        // An RSA key under 2,048 bits, or an algorithm the verifier lacks, cannot be judged
        // when verification fails: indeterminate, not bogus.
        let rsa = matches!(u8::from(input.algorithm), 1 | 5 | 7 | 8 | 10);
        let unjudgeable = !input.algorithm.is_supported()
            || (rsa
                && candidates.iter().all(|(_, k)| {
                    rsa_modulus_bits(hickory_proto::dnssec::PublicKey::public_bytes(
                        k.public_key(),
                    ))
                    .is_none_or(|b| b < 2048)
                }));
        let outcome = if candidates.is_empty() {
            SignatureOutcome::NoKey
        } else if candidates.iter().any(|(_, k)| {
            k.verify_rrsig(&r.name, r.dns_class, sig, covered.iter().copied())
                .is_ok()
        }) {
            SignatureOutcome::Valid
        } else if unjudgeable {
            SignatureOutcome::Unsupported
        } else {
            SignatureOutcome::Invalid
        };
        out.push(SignatureCheck {
            owner: canonical(&r.name),
            type_covered: u16::from(input.type_covered),
            key_tag: input.key_tag,
            signer: canonical(&input.signer_name),
            inception: input.sig_inception.get(),
            expiration: input.sig_expiration.get(),
            outcome,
        });
    }
    Some(out)
}

/// A signature time (seconds since the epoch) in RRSIG presentation form, `YYYYMMDDHHmmSS`
/// UTC (RFC 4034 section 3.2).
pub fn format_sig_time(secs: u64) -> String {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let body = text.trim_end_matches('=');
    if !text.len().is_multiple_of(4) || text.len() - body.len() > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in body.bytes() {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// upenn.edu's keys from zeek's dnssec_dnskey.pcap, with the key tags tshark computes.
    const UPENN_ZSK: &str = "AwEAAagz1Jnnm3p/6PQV64BGyR79bzX/jUFkqISBolBC/MZ7IR/Z/C8IU1+XiU87CRoqmZQZIpD4UsutEADU75ECFqsfsu7o3gaVsoyPA+OKLAaZWBGuDZ/P6BW50MMCJb9Ji0MeIMPbXZ7axL/fl/72LoxyAHpoV90I2Zk2PxknJ6CP";
    const UPENN_KSK: &str = "AwEAAf02wZZMtQAAAAWfJ/xoQffn17NFJV0Y5s4F3tMdkktC/abDax+SB0MJWRAcznigKoirdVL7ZbVS2DYRoUvJv44VLRtLlbggxDnhpP4fCJ88Yu33/5GFZwmgxco4OA6yxhwEniIveQ5B7LJ0Vh8KyfqU6obu7wFR7pSV1UVybLZfF3n1Kb+6KRWtave5JLbhfYfXYxhUpVWlbeKYmoroO9SHsQaoR3vr7L168MEe4VRE+SKcuNRkzLBG5XQDnImYanv6Pf4tYaNTGYPgkXSVJKeGUdncJOxZ8NrAqOncGDgQML3xALGWHWlrpmeN6EQdf7+qv1vm7uHxN1L0MhS7B4U=";

    #[test]
    fn the_root_anchors_are_built_in() {
        let roots = root_anchors();
        let tags: Vec<u16> = roots.iter().map(TrustAnchor::key_tag).collect();
        assert_eq!(tags, [20326, 38696]);
        for r in &roots {
            assert_eq!(r.zone, ".");
            let AnchorRecord::Ds {
                algorithm,
                digest_type,
                digest,
                ..
            } = &r.record
            else {
                panic!("not a DS");
            };
            assert_eq!((*algorithm, *digest_type, digest.len()), (8, 2, 32));
        }
        // The same records in IANA's presentation form parse to the built-in anchors.
        let iana =
            ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n\
                    .\t172800\tIN\tDS\t38696 8 2 683D2D0ACB8C9B712A1948B27F741219\n\
                    ; comment\n";
        let err = parse_anchors(iana).unwrap_err();
        assert_eq!(err.line, 2, "a truncated digest is refused: {err}");
        let iana = iana.replace(
            "683D2D0ACB8C9B712A1948B27F741219\n",
            "683D2D0ACB8C9B712A1948B27F741219 298D0A450D612C483AF444A4C0FB2B16\n",
        );
        assert_eq!(parse_anchors(&iana).unwrap(), roots);
    }

    /// The root's key-signing keys as the root zone publishes them.
    const ROOT_KSK_2017: &str = "AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=";
    const ROOT_KSK_2024: &str = "AwEAAa96jeuknZlaeSrvyAJj6ZHv28hhOKkx3rLGXVaC6rXTsDc449/cidltpkyGwCJNnOAlFNKF2jBosZBU5eeHspaQWOmOElZsjICMQMC3aeHbGiShvZsx4wMYSjH8e7Vrhbu6irwCzVBApESjbUdpWWmEnhathWu1jo+siFUiRAAxm9qyJNg/wOZqqzL/dL/q8PkcRU5oUKEpUge71M3ej2/7CPqpdVwuMoTvoB+ZOT4YeGyxMvHmbrxlFzGOHOijtzN+u1TQNatX2XBuzZNQ1K+s2CXkPIZo7s6JgZyvaBevYtxPvYLw4z9mR7K2vaF18UYH9Z9GNUUeayffKC73PYc=";

    #[test]
    fn the_built_in_ds_anchors_name_the_root_keys() {
        let keys = parse_anchors(&format!(
            ". IN DNSKEY 257 3 8 {ROOT_KSK_2017}\n. IN DNSKEY 257 3 8 {ROOT_KSK_2024}\n"
        ))
        .unwrap();
        let roots = root_anchors();
        for (ds, key) in roots.iter().zip(&keys) {
            assert_eq!(key.key_tag(), ds.key_tag());
            assert_eq!(ds_covers(".", &ds.record, &key.record), Some(true));
        }
        // Crossed over, or for another owner, they do not match.
        assert_eq!(
            ds_covers(".", &roots[0].record, &keys[1].record),
            Some(false)
        );
        assert_eq!(
            ds_covers("com", &roots[0].record, &keys[0].record),
            Some(false)
        );
        assert_eq!(ds_covers(".", &keys[0].record, &keys[0].record), None);
    }

    #[test]
    fn dnskey_anchors_in_parentheses_and_their_key_tags() {
        let (a, b) = UPENN_KSK.split_at(100);
        let text = format!(
            "UPenn.EDU. 3600 IN DNSKEY 256 3 5 {UPENN_ZSK}\n\
             upenn.edu. DNSKEY 257 3 5 ( {a} ; first half\n   {b} ) ; KSK\n"
        );
        let anchors = parse_anchors(&text).unwrap();
        assert_eq!(anchors.len(), 2);
        assert_eq!(anchors[0].zone, "upenn.edu");
        assert_eq!(anchors[0].key_tag(), 56805);
        assert_eq!(anchors[1].key_tag(), 19785);
        let AnchorRecord::Dnskey {
            flags, public_key, ..
        } = &anchors[1].record
        else {
            panic!("not a DNSKEY");
        };
        assert_eq!((*flags, public_key.len()), (257, 260));
    }

    #[test]
    fn signature_times() {
        assert_eq!(format_sig_time(0), "19700101000000");
        assert_eq!(format_sig_time(1_780_272_000), "20260601000000");
        assert_eq!(format_sig_time(951_782_400 + 3_661), "20000229010101");
        assert_eq!(format_sig_time(u64::from(u32::MAX)), "21060207062815");
    }

    #[test]
    fn rsa_key_sizes() {
        let keys = parse_anchors(&format!(
            "a. DNSKEY 256 3 5 {UPENN_ZSK}\nb. DNSKEY 257 3 5 {UPENN_KSK}\n"
        ))
        .unwrap();
        let bits: Vec<Option<usize>> = keys
            .iter()
            .map(|k| match &k.record {
                AnchorRecord::Dnskey { public_key, .. } => rsa_modulus_bits(public_key),
                AnchorRecord::Ds { .. } => None,
            })
            .collect();
        assert_eq!(bits, [Some(1024), Some(2048)]);
        assert_eq!(rsa_modulus_bits(&[]), None);
        assert_eq!(rsa_modulus_bits(&[3, 1, 0]), None);
    }

    #[test]
    fn bad_anchor_files_say_where_and_why() {
        let cases = [
            (
                "example. IN A 192.0.2.1",
                1,
                "A is not an anchor (DS or DNSKEY)",
            ),
            (
                "\nexample. DNSKEY 257 2 8 AwEAAQ==",
                2,
                "DNSKEY: protocol 2, not 3",
            ),
            (
                "example. DS 70000 8 2 00",
                1,
                "DS: a digest of type 2 cannot be 1 bytes long",
            ),
            (
                "example. DS 1 8 2 ZZ",
                1,
                "DS: the digest is not hexadecimal",
            ),
            ("example. DNSKEY 257 3 8 (AwEAAQ==", 1, "'(' not closed"),
            (
                "example. DNSKEY 257 3 8 A!==",
                1,
                "DNSKEY: the public key is not base64",
            ),
        ];
        for (text, line, reason) in cases {
            assert_eq!(
                parse_anchors(text),
                Err(AnchorError {
                    line,
                    reason: reason.to_owned()
                }),
                "{text}"
            );
        }
        assert_eq!(parse_anchors("; nothing\n\n"), Ok(Vec::new()));
    }
}
