//! Signed captures: zones signed by BIND's dnssec-signzone, re-encoded by the generator and
//! decoded by hickory-proto, whose verifier must accept the genuine signatures and reject the
//! tampered ones. Needs bind9-utils (dnssec-keygen, dnssec-signzone, dnssec-dsfromkey).

// Test code: a panic, unwrap or out-of-range index here is a failed assertion, not a crash on
// input (clippy.toml allows them inside #[test] functions; this extends that to the helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use dnsward_benches::pcap::records;
use dnsward_benches::signed::{
    encode_base32hex, nsec3_hash, write_signed_capture, write_signed_capture_with, Denial,
    SignedCapture, SignedError, CLIENT, FORGED_SIG_ADDRESS, GOOD_SERVER, KEY_NAMES,
    NSEC3_ITERATIONS, NSEC3_SALT, RESOLVER, STEP_LABELS, STRIPPED_ADDRESS, T0_SECS, TEST_SERVER,
    UNSIGNED_SERVER,
};
use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, DS, NSEC3, RRSIG};
use hickory_proto::dnssec::{Algorithm, DigestType, Nsec3HashAlgorithm, PublicKeyBuf, Verifier};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

const MS: u64 = 1_000_000;

/// One frame of the capture, its addresses and its DNS message.
struct Frame {
    time_ns: u64,
    source: Ipv4Addr,
    destination: Ipv4Addr,
    source_port: u16,
    destination_port: u16,
    /// Length of the DNS message, bytes.
    payload_len: usize,
    message: Message,
}

/// Decodes an untagged Ethernet / IPv4 / UDP frame.
fn decode_frame(time_ns: u64, data: &[u8]) -> Frame {
    assert_eq!(&data[12..14], &[0x08, 0x00], "ipv4 ethertype");
    let ip = &data[14..];
    assert_eq!(ip[0], 0x45, "ipv4 without options");
    assert_eq!(ip[9], 17, "udp");
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let udp = &ip[20..total];
    let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    assert_eq!(udp_len, udp.len());
    Frame {
        time_ns,
        source: Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
        destination: Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
        source_port: u16::from_be_bytes([udp[0], udp[1]]),
        destination_port: u16::from_be_bytes([udp[2], udp[3]]),
        payload_len: udp.len() - 8,
        message: Message::from_vec(&udp[8..]).expect("dns message decodes"),
    }
}

struct Generated {
    dir: tempfile::TempDir,
    capture: SignedCapture,
    frames: Vec<Frame>,
    algorithm: u8,
}

impl Generated {
    fn new(algorithm: u8, denial: Denial) -> Generated {
        let dir = tempfile::tempdir().unwrap();
        let capture = if denial == Denial::Nsec {
            write_signed_capture(dir.path(), algorithm)
        } else {
            write_signed_capture_with(dir.path(), algorithm, denial)
        }
        .unwrap_or_else(|error| panic!("algorithm {algorithm}, {denial}: {error}"));
        assert_eq!(capture.pcap, dir.path().join("signed.pcap"));
        assert_eq!(capture.anchors, dir.path().join("anchors.txt"));
        let bytes = std::fs::read(&capture.pcap).unwrap();
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "microsecond pcap");
        assert_eq!(&bytes[20..24], &[1, 0, 0, 0], "ethernet link type");
        let frames = records(&bytes)
            .unwrap()
            .map(|record| decode_frame(record.time_ns, record.data))
            .collect();
        Generated {
            dir,
            capture,
            frames,
            algorithm,
        }
    }

    /// The response frame of a step (1-based frame numbers).
    fn response(&self, label: &str) -> &Message {
        let number = self.capture.frames[label];
        &self.frames[usize::try_from(number).unwrap() - 1].message
    }

    fn tag(&self, key: &str) -> u16 {
        self.capture.key_tags[key]
    }

    /// The DNSKEY of `zone` with `tag` as dnssec-keygen wrote it to `bind/K<zone>+<alg>+<tag>.key`.
    fn key_file(&self, zone: &str, tag: u16) -> DNSKEY {
        let path = self
            .dir
            .path()
            .join("bind")
            .join(format!("K{zone}+{:03}+{tag:05}.key", self.algorithm));
        let text = std::fs::read_to_string(&path).unwrap();
        let line = text
            .lines()
            .find(|line| !line.starts_with(';') && line.contains("DNSKEY"))
            .unwrap();
        let fields: Vec<&str> = line.split_whitespace().collect();
        let at = fields.iter().position(|f| *f == "DNSKEY").unwrap();
        assert_eq!(fields[0], zone);
        let flags: u16 = fields[at + 1].parse().unwrap();
        assert_eq!(fields[at + 2], "3");
        assert_eq!(fields[at + 3].parse::<u8>().unwrap(), self.algorithm);
        let key = base64(&fields[at + 4..].concat());
        let key = DNSKEY::with_flags(
            flags,
            PublicKeyBuf::new(key, Algorithm::from_u8(self.algorithm)),
        );
        assert_eq!(key.calculate_key_tag().unwrap(), tag, "{}", path.display());
        key
    }

    /// The DNSKEY with `tag` among the answers of step `label`.
    fn key(&self, label: &str, tag: u16) -> DNSKEY {
        keys(self.response(label))
            .into_iter()
            .find(|key| key.calculate_key_tag().unwrap() == tag)
            .unwrap_or_else(|| panic!("{label}: no DNSKEY with tag {tag}"))
    }
}

/// Decodes padded base64 (RFC 4648 section 4).
fn base64(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut out, mut accumulator, mut bits) = (Vec::new(), 0u32, 0);
    for byte in text.trim_end_matches('=').bytes() {
        let value = alphabet.iter().position(|c| *c == byte).unwrap() as u32;
        accumulator = (accumulator << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((accumulator >> bits) as u8);
            accumulator &= (1 << bits) - 1;
        }
    }
    out
}

fn keys(message: &Message) -> Vec<DNSKEY> {
    message
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(key)) => Some(key.clone()),
            _ => None,
        })
        .collect()
}

fn all_records(message: &Message) -> impl Iterator<Item = &Record> {
    message
        .answers
        .iter()
        .chain(&message.authorities)
        .chain(&message.additionals)
}

/// The RRSIGs of a message with their owners.
fn signatures(message: &Message) -> Vec<(&Name, &RRSIG)> {
    all_records(message)
        .filter_map(|record| match &record.data {
            RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some((&record.name, sig)),
            _ => None,
        })
        .collect()
}

fn count(records: &[Record], rtype: RecordType) -> usize {
    records.iter().filter(|r| r.record_type() == rtype).count()
}

/// Whether the RRSIG over `covered` at `owner` made by `key` verifies over the records of the
/// message it travels in.
fn verifies(message: &Message, owner: &str, covered: RecordType, key: &DNSKEY) -> bool {
    let owner = Name::from_ascii(owner).unwrap();
    let tag = key.calculate_key_tag().unwrap();
    let (_, sig) = signatures(message)
        .into_iter()
        .find(|(name, sig)| {
            **name == owner && sig.input().type_covered == covered && sig.input().key_tag == tag
        })
        .unwrap_or_else(|| panic!("no RRSIG {covered} at {owner} by key {tag}"));
    let rrset: Vec<&Record> = all_records(message)
        .filter(|r| r.name == owner && r.record_type() == covered)
        .collect();
    assert!(!rrset.is_empty());
    key.verify_rrsig(&owner, DNSClass::IN, sig, rrset.into_iter())
        .is_ok()
}

fn addresses(records: &[Record]) -> Vec<Ipv4Addr> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

fn check(algorithm: u8) {
    check_with(algorithm, Denial::Nsec);
}

/// The hash of `name` under the NSEC3 parameters of `test.`, by hickory-proto, checked against
/// the generator's own.
fn hash(name: &str) -> Vec<u8> {
    let salt: Vec<u8> = (0..NSEC3_SALT.len() / 2)
        .map(|i| u8::from_str_radix(&NSEC3_SALT[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let digest = Nsec3HashAlgorithm::SHA1
        .hash(&salt, &Name::from_ascii(name).unwrap(), NSEC3_ITERATIONS)
        .unwrap();
    assert_eq!(
        digest.as_ref(),
        &nsec3_hash(name, &salt, NSEC3_ITERATIONS).unwrap()[..]
    );
    digest.as_ref().to_vec()
}

/// The hashed owner of an NSEC3 record: its first label, base32hex-decoded.
fn owner_hash(owner: &Name) -> Vec<u8> {
    let label = std::str::from_utf8(owner.iter().next().unwrap()).unwrap();
    let alphabet = b"0123456789abcdefghijklmnopqrstuv";
    let mut bits = String::new();
    for byte in label.to_ascii_lowercase().bytes() {
        let value = alphabet.iter().position(|c| *c == byte).unwrap();
        bits.push_str(&format!("{value:05b}"));
    }
    (0..bits.len() / 8)
        .map(|i| u8::from_str_radix(&bits[8 * i..8 * i + 8], 2).unwrap())
        .collect()
}

/// Step 6 under NSEC3: the records proving that unsigned.test. has no DS, all signed by test.'s
/// ZSK.
fn check_nsec3_denial(m: &Message, denial: Denial, test_zsk: &DNSKEY) {
    assert_eq!(count(&m.authorities, RecordType::NSEC), 0);
    let nsec3: Vec<(&Name, &NSEC3)> = m
        .authorities
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::NSEC3(nsec3)) => Some((&r.name, nsec3)),
            _ => None,
        })
        .collect();
    assert_eq!(
        count(&m.authorities, RecordType::RRSIG),
        1 + nsec3.len(),
        "one RRSIG over the SOA and one over each NSEC3"
    );
    let test_name = Name::from_ascii("test.").unwrap();
    for (owner, record) in &nsec3 {
        assert_eq!(record.hash_algorithm(), Nsec3HashAlgorithm::SHA1);
        assert_eq!(record.salt(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(record.iterations(), 0);
        assert_eq!(record.opt_out(), denial == Denial::Nsec3OptOut, "{owner}");
        assert_eq!(owner.base_name(), test_name, "{owner}");
        assert_eq!(owner_hash(owner).len(), 20);
        assert_eq!(record.next_hashed_owner_name().len(), 20);
        assert!(
            verifies(m, &owner.to_ascii(), RecordType::NSEC3, test_zsk),
            "{owner}"
        );
    }
    let delegation = hash("unsigned.test.");
    if denial == Denial::Nsec3 {
        // The NSEC3 matching the delegation: NS, no DS.
        assert_eq!(nsec3.len(), 1);
        let (owner, record) = nsec3[0];
        assert_eq!(owner_hash(owner), delegation);
        let label = std::str::from_utf8(owner.iter().next().unwrap()).unwrap();
        assert_eq!(label, encode_base32hex(&delegation));
        let types: BTreeSet<RecordType> = record.type_bit_maps().collect();
        assert!(types.contains(&RecordType::NS), "{types:?}");
        assert!(!types.contains(&RecordType::DS), "{types:?}");
        assert!(!types.contains(&RecordType::SOA), "{types:?}");
        return;
    }
    // Opt-out: the closest encloser test. matched, the next closer name unsigned.test. covered.
    let apex = hash("test.");
    assert!(!nsec3
        .iter()
        .any(|(owner, _)| owner_hash(owner) == delegation));
    let (_, encloser) = nsec3
        .iter()
        .find(|(owner, _)| owner_hash(owner) == apex)
        .expect("the NSEC3 of test.");
    let types: BTreeSet<RecordType> = encloser.type_bit_maps().collect();
    assert!(types.contains(&RecordType::SOA) && types.contains(&RecordType::NS));
    let covering: Vec<_> = nsec3
        .iter()
        .filter(|(owner, record)| {
            let owner = owner_hash(owner);
            let next = record.next_hashed_owner_name().to_vec();
            if owner < next {
                owner < delegation && delegation < next
            } else {
                delegation > owner || delegation < next
            }
        })
        .collect();
    assert_eq!(covering.len(), 1, "one NSEC3 covers H(unsigned.test.)");
    assert!(covering[0].1.opt_out());
    assert!(nsec3.len() == 2 || owner_hash(covering[0].0) == apex);
}

/// Step 6 under NSEC: the NSEC at unsigned.test., NS and no DS, signed by test.'s ZSK.
fn check_nsec_denial(m: &Message, test_zsk: &DNSKEY) {
    assert_eq!(count(&m.authorities, RecordType::NSEC), 1);
    assert_eq!(count(&m.authorities, RecordType::NSEC3), 0);
    assert_eq!(count(&m.authorities, RecordType::RRSIG), 2);
    let nsec = m
        .authorities
        .iter()
        .find_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::NSEC(nsec)) => Some((&r.name, nsec)),
            _ => None,
        })
        .unwrap();
    assert_eq!(*nsec.0, Name::from_ascii("unsigned.test.").unwrap());
    let types: BTreeSet<RecordType> = nsec.1.type_bit_maps().collect();
    assert!(types.contains(&RecordType::NS) && types.contains(&RecordType::NSEC));
    assert!(
        !types.contains(&RecordType::DS),
        "no DS: an insecure delegation"
    );
    assert!(verifies(m, "unsigned.test.", RecordType::NSEC, test_zsk));
}

fn check_with(algorithm: u8, denial: Denial) {
    let g = Generated::new(algorithm, denial);

    // Shape: a query and a response per step, in order, at the announced times.
    assert_eq!(STEP_LABELS.len(), 26);
    assert_eq!(g.frames.len(), 52);
    assert_eq!(g.frames.len(), 2 * STEP_LABELS.len());
    assert_eq!(g.capture.frames.len(), STEP_LABELS.len());
    let t0_ns = T0_SECS * 1_000_000_000;
    let mut txids = BTreeSet::new();
    for (index, label) in STEP_LABELS.iter().enumerate() {
        let number = g.capture.frames[*label];
        assert_eq!(number, 2 * (index as u64 + 1), "{label}");
        let query = &g.frames[usize::try_from(number).unwrap() - 2];
        let response = &g.frames[usize::try_from(number).unwrap() - 1];
        let upstream = !(12..24).contains(&index);
        let expected_time = if index >= 24 {
            t0_ns + 20_000 * MS + (index as u64 - 24) * 100 * MS
        } else if upstream {
            t0_ns + index as u64 * 100 * MS
        } else {
            t0_ns + 2_000 * MS + (index as u64 - 12) * 1_000 * MS
        };
        assert_eq!(query.time_ns, expected_time, "{label}");
        assert_eq!(response.time_ns, expected_time + 10 * MS, "{label}");
        assert_eq!(
            (response.source, response.destination),
            (query.destination, query.source)
        );
        assert_eq!(
            (response.source_port, response.destination_port),
            (query.destination_port, query.source_port)
        );
        assert_eq!(query.destination_port, 53);
        let (q, r) = (&query.message, &response.message);
        assert!(txids.insert(q.metadata.id), "{label}: txid reused");
        assert_eq!(q.metadata.id, r.metadata.id);
        assert_eq!(q.queries, r.queries, "{label}: question copied");
        assert_eq!(r.queries.len(), 1);
        if upstream {
            let server = match *label {
                "dnskey_test" | "ds_good" | "ds_unsigned" | "ds_change" => TEST_SERVER,
                "www_unsigned" => UNSIGNED_SERVER,
                _ => GOOD_SERVER,
            };
            assert_eq!(
                (query.source, query.destination),
                (RESOLVER, server),
                "{label}"
            );
            assert!(q.edns.as_ref().unwrap().flags().dnssec_ok, "{label}");
            assert!(r.edns.as_ref().unwrap().flags().dnssec_ok, "{label}");
            assert_eq!(r.edns.as_ref().unwrap().max_payload(), 1232);
            assert!(r.metadata.authoritative, "{label}");
            assert!(!q.metadata.recursion_desired);
        } else {
            assert_eq!((query.source, query.destination), (CLIENT, RESOLVER));
            assert!(q.edns.is_none() && r.edns.is_none(), "{label}: no EDNS");
            assert!(q.metadata.recursion_desired);
            assert!(r.metadata.recursion_desired && r.metadata.recursion_available);
            assert!(!r.metadata.authoritative);
            assert!(
                response.payload_len <= 1232,
                "{label}: fits in the edns size"
            );
        }
    }

    // Keys: six distinct tags; the anchor is the DS of test.'s KSK.
    let tags: BTreeSet<u16> = g.capture.key_tags.values().copied().collect();
    assert_eq!(
        g.capture
            .key_tags
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        {
            let mut names = KEY_NAMES.to_vec();
            names.sort_unstable();
            names
        }
    );
    assert_eq!(tags.len(), 6, "distinct key tags: {:?}", g.capture.key_tags);
    let anchors = std::fs::read_to_string(&g.capture.anchors).unwrap();
    let lines: Vec<&str> = anchors.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{anchors}");
    let fields: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(&fields[..3], &["test.", "IN", "DS"]);
    assert_eq!(fields[3].parse::<u16>().unwrap(), g.tag("test.ksk"));
    assert_eq!(fields[4].parse::<u8>().unwrap(), algorithm);
    assert_eq!(fields[5], "2");
    let digest: String = fields[6..].concat();
    assert_eq!(digest.len(), 64);
    let digest: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&digest[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let anchor = DS::new(
        g.tag("test.ksk"),
        Algorithm::from_u8(algorithm),
        DigestType::SHA256,
        digest,
    );
    let test_ksk = g.key("dnskey_test", g.tag("test.ksk"));
    let test_zsk = g.key("dnskey_test", g.tag("test.zsk"));
    let test_name = Name::from_ascii("test.").unwrap();
    assert!(anchor.covers(&test_name, &test_ksk).unwrap());
    assert!(test_ksk.secure_entry_point() && !test_zsk.secure_entry_point());

    // 1. answer_before_keys: the signed A record, signed by good.test.'s ZSK only.
    let good_ksk = g.key("dnskey_good", g.tag("good.test.ksk"));
    let good_zsk = g.key("dnskey_good", g.tag("good.test.zsk"));
    let m = g.response("answer_before_keys");
    assert_eq!(addresses(&m.answers), vec![Ipv4Addr::new(192, 0, 2, 80)]);
    assert_eq!(count(&m.answers, RecordType::RRSIG), 1);
    assert!(verifies(m, "www.good.test.", RecordType::A, &good_zsk));
    let (_, sig) = signatures(m)[0];
    assert_eq!(
        sig.input().signer_name,
        Name::from_ascii("good.test.").unwrap()
    );
    assert_eq!(sig.input().sig_inception.get(), 1_767_225_600); // 2026-01-01
    assert_eq!(sig.input().sig_expiration.get(), 2_114_380_800); // 2037-01-01
    assert_eq!(u8::from(sig.input().algorithm), algorithm);
    assert_eq!(sig.input().num_labels, 3);

    // 2. dnskey_test: KSK and ZSK, signed by the KSK.
    let m = g.response("dnskey_test");
    assert_eq!(count(&m.answers, RecordType::DNSKEY), 2);
    assert!(count(&m.answers, RecordType::RRSIG) >= 1);
    assert!(verifies(m, "test.", RecordType::DNSKEY, &test_ksk));

    // 3. ds_good: the DS of good.test.'s KSK, signed by test.'s ZSK.
    let m = g.response("ds_good");
    let ds: Vec<&DS> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DS(ds)) => Some(ds),
            _ => None,
        })
        .collect();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].key_tag(), g.tag("good.test.ksk"));
    let good_name = Name::from_ascii("good.test.").unwrap();
    assert!(ds[0].covers(&good_name, &good_ksk).unwrap());
    assert!(verifies(m, "good.test.", RecordType::DS, &test_zsk));

    // 4. dnskey_good: KSK and ZSK, signed by the KSK.
    let m = g.response("dnskey_good");
    assert_eq!(count(&m.answers, RecordType::DNSKEY), 2);
    assert!(verifies(m, "good.test.", RecordType::DNSKEY, &good_ksk));

    // 5. mx_good: MX and the mail host's address, both signed.
    let m = g.response("mx_good");
    assert_eq!(count(&m.answers, RecordType::MX), 1);
    assert!(verifies(m, "good.test.", RecordType::MX, &good_zsk));
    assert_eq!(
        addresses(&m.additionals),
        vec![Ipv4Addr::new(192, 0, 2, 25)]
    );
    assert!(verifies(m, "mail.good.test.", RecordType::A, &good_zsk));

    // 6. ds_unsigned: NODATA proven by the NSEC at unsigned.test. (or by NSEC3).
    let m = g.response("ds_unsigned");
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert_eq!(count(&m.authorities, RecordType::SOA), 1);
    assert!(verifies(m, "test.", RecordType::SOA, &test_zsk));
    if denial == Denial::Nsec {
        check_nsec_denial(m, &test_zsk);
    } else {
        check_nsec3_denial(m, denial, &test_zsk);
    }

    // 7. www_unsigned: an insecure answer.
    let m = g.response("www_unsigned");
    assert_eq!(addresses(&m.answers), vec![Ipv4Addr::new(192, 0, 2, 90)]);
    assert!(signatures(m).is_empty());

    // 8. stripped: a forged address without signatures.
    let m = g.response("stripped");
    assert_eq!(addresses(&m.answers), vec![STRIPPED_ADDRESS]);
    assert!(signatures(m).is_empty());

    // 9. corrupted: the real record, its signature's last byte flipped.
    let m = g.response("corrupted");
    assert_eq!(addresses(&m.answers), vec![Ipv4Addr::new(192, 0, 2, 80)]);
    assert!(!verifies(m, "www.good.test.", RecordType::A, &good_zsk));
    let genuine = signatures(g.response("answer_before_keys"))[0]
        .1
        .sig()
        .to_vec();
    let flipped = signatures(m)[0].1.sig().to_vec();
    assert_eq!(genuine.len(), flipped.len());
    assert_eq!(genuine[..genuine.len() - 1], flipped[..flipped.len() - 1]);
    assert_eq!(
        genuine[genuine.len() - 1] ^ 0x01,
        flipped[flipped.len() - 1]
    );

    // 10. forged_sig: a forged address carrying the real record's signature.
    let m = g.response("forged_sig");
    assert_eq!(addresses(&m.answers), vec![FORGED_SIG_ADDRESS]);
    assert_eq!(signatures(m)[0].1.sig(), &genuine[..]);
    assert!(!verifies(m, "www.good.test.", RecordType::A, &good_zsk));

    // 11. expired: a signature that verifies but expired before the capture.
    let m = g.response("expired");
    assert_eq!(addresses(&m.answers), vec![Ipv4Addr::new(192, 0, 2, 81)]);
    assert!(verifies(m, "old.good.test.", RecordType::A, &good_zsk));
    let (_, sig) = signatures(m)[0];
    assert_eq!(sig.input().sig_expiration.get(), 1_740_787_200); // 2025-03-01
    assert!(u64::from(sig.input().sig_expiration.get()) < T0_SECS);

    // 12. dnskey_change: the ZSK2 joins the set; the KSK signs it.
    let m = g.response("dnskey_change");
    let tags: BTreeSet<u16> = keys(m)
        .iter()
        .map(|key| key.calculate_key_tag().unwrap())
        .collect();
    let expected: BTreeSet<u16> = ["good.test.ksk", "good.test.zsk", "good.test.zsk2"]
        .into_iter()
        .map(|key| g.tag(key))
        .collect();
    assert_eq!(tags, expected);
    assert!(verifies(m, "good.test.", RecordType::DNSKEY, &good_ksk));

    // 13. Downstream: five AD answers, one without AD, six SERVFAILs.
    for label in ["ad_1", "ad_2", "ad_3", "ad_4", "ad_5", "ad_lost"] {
        let m = g.response(label);
        assert_eq!(
            addresses(&m.answers),
            vec![Ipv4Addr::new(192, 0, 2, 80)],
            "{label}"
        );
        assert_eq!(m.metadata.authentic_data, label != "ad_lost", "{label}");
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    }
    for index in 1..=6 {
        let label = format!("servfail_{index}");
        let m = g.response(&label);
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail, "{label}");
        assert_eq!(all_records(m).count(), 0, "{label}");
        assert!(!m.metadata.authentic_data);
        assert_eq!(
            m.queries[0].name(),
            &Name::from_ascii("mail.good.test.").unwrap()
        );
    }

    // 25. future_sig: the record with a genuine signature whose window opens after the capture.
    let m = g.response("future_sig");
    assert_eq!(addresses(&m.answers), vec![Ipv4Addr::new(192, 0, 2, 82)]);
    assert_eq!(count(&m.answers, RecordType::RRSIG), 1);
    assert!(verifies(m, "new.good.test.", RecordType::A, &good_zsk));
    let (_, sig) = signatures(m)[0];
    assert_eq!(sig.input().sig_inception.get(), 1_893_456_000); // 2030-01-01
    assert_eq!(sig.input().sig_expiration.get(), 1_924_992_000); // 2031-01-01
    let packet_secs = g.frames[usize::try_from(g.capture.frames["future_sig"]).unwrap() - 1]
        .time_ns
        / 1_000_000_000;
    assert!(u64::from(sig.input().sig_inception.get()) > packet_secs);
    assert_eq!(g.capture.frames["future_sig"], 50);

    // 26. ds_change: the DS of good.test.'s KSK and of a second KSK, signed by test.'s ZSK.
    let m = g.response("ds_change");
    assert_eq!(g.capture.frames["ds_change"], 52);
    let ds: Vec<&DS> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DS(ds)) => Some(ds),
            _ => None,
        })
        .collect();
    assert_eq!(ds.len(), 2);
    assert_eq!(count(&m.answers, RecordType::RRSIG), 1);
    assert!(verifies(m, "good.test.", RecordType::DS, &test_zsk));
    let ksk2 = g.key_file("good.test.", g.tag("good.test.ksk2"));
    assert!(ksk2.secure_entry_point());
    let tags: BTreeSet<u16> = ds.iter().map(|ds| ds.key_tag()).collect();
    assert_eq!(
        tags,
        BTreeSet::from([g.tag("good.test.ksk"), g.tag("good.test.ksk2")])
    );
    for (key, name) in [(&good_ksk, "good.test.ksk"), (&ksk2, "good.test.ksk2")] {
        let covering: Vec<_> = ds
            .iter()
            .filter(|ds| ds.covers(&good_name, key).unwrap())
            .collect();
        assert_eq!(covering.len(), 1, "{name}");
        assert_eq!(covering[0].digest_type(), DigestType::SHA256);
    }
    assert!(!keys(g.response("dnskey_change"))
        .iter()
        .any(|key| key.calculate_key_tag().unwrap() == g.tag("good.test.ksk2")));

    let by_label: BTreeMap<&str, u64> = g
        .capture
        .frames
        .iter()
        .map(|(label, frame)| (label.as_str(), *frame))
        .collect();
    assert_eq!(by_label.len(), 26, "algorithm {}", g.algorithm);
}

#[test]
fn rsasha256_capture_decodes_and_verifies() {
    check(8);
}

#[test]
fn rsasha512_capture_decodes_and_verifies() {
    check(10);
}

#[test]
fn ecdsap256sha256_capture_decodes_and_verifies() {
    check(13);
}

#[test]
fn ecdsap384sha384_capture_decodes_and_verifies() {
    check(14);
}

#[test]
fn ed25519_capture_decodes_and_verifies() {
    check(15);
}

#[test]
fn ecdsap256sha256_nsec3_capture_decodes_and_verifies() {
    check_with(13, Denial::Nsec3);
}

#[test]
fn ecdsap256sha256_nsec3_opt_out_capture_decodes_and_verifies() {
    check_with(13, Denial::Nsec3OptOut);
}

#[test]
fn rsasha256_nsec3_opt_out_capture_fits_and_verifies() {
    check_with(8, Denial::Nsec3OptOut);
}

#[test]
fn unsupported_algorithm_is_refused_before_any_tool_runs() {
    let dir = tempfile::tempdir().unwrap();
    let error = write_signed_capture(dir.path(), 5).unwrap_err();
    assert!(matches!(
        error,
        SignedError::UnsupportedAlgorithm { algorithm: 5 }
    ));
    assert!(!dir.path().join("bind").exists());
}
