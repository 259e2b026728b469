//! Passive DNSSEC validation (issue 5): a key cache built from the DNSKEY and DS responses that
//! pass, chained to the trust anchors, and a verdict for every rrset of a response.
//!
//! Nothing is fetched: the validator only knows what crossed the wire (or was imported). A
//! DNSKEY set is trusted once one of its keys matches an anchor or a trusted DS of the zone and
//! that key's signature over the set verifies at packet time; a DS set is trusted once a
//! trusted key of the parent signs it. Upstream of a validating resolver the answer usually
//! passes *before* the keys it needs (the resolver fetches them after the answer), so a
//! verdict can be [`Security::Indeterminate`] with [`Processed::waiting`] naming the zones
//! whose keys are missing; the caller retries when [`Processed::newly_trusted`] names them.
//!
//! Outcomes (RFC 4035 section 4.3):
//! * **secure**: a signature by a key of a validated DNSKEY set verifies, inside its window;
//! * **insecure**: the name lies in a zone proven unsigned: an authenticated denial of its DS
//!   (NSEC, NSEC3, or an NSEC3 opt-out span), or a zone the operator lists;
//! * **bogus**: the signer's keys are validated and no signature holds: it does not verify, it
//!   expired or is not yet valid, no key of the set has its tag and algorithm, or the signer
//!   does not enclose the owner; a DNSKEY set no anchor or trusted DS matches is bogus too;
//! * **indeterminate**: the chain has not been seen, or the algorithm (or an RSA key under
//!   2,048 bits, which ring refuses) is beyond the verifier: never bogus for that reason.
//!
//! Each distinct (rrset, signature, key) is verified once: results are cached
//! ([`ValidatorLimits::max_cached_verifications`]), so a flood of one forged answer costs one
//! verification (20 µs for RSA-2048 to 500 µs for P-384 on these machines).

use crate::dnssec::{ds_covers, AnchorRecord, TrustAnchor};
use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, RRSIG};
use hickory_proto::dnssec::{Algorithm, PublicKey, PublicKeyBuf, Verifier};
use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const TYPE_DS: u16 = 43;
const TYPE_DNSKEY: u16 = 48;
const TYPE_NSEC: u16 = 47;
const TYPE_NSEC3: u16 = 50;
const TYPE_RRSIG: u16 = 46;

/// The outcome of validating one rrset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// Signed by a validated key, inside the signature's window.
    Secure,
    /// In a zone proven unsigned (or declared so by the operator).
    Insecure,
    /// Fails validation although the signer's keys are known.
    Bogus,
    /// Cannot be judged: the chain has not been seen, or the algorithm is unsupported.
    Indeterminate,
}

impl Security {
    /// Stable lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Security::Secure => "secure",
            Security::Insecure => "insecure",
            Security::Bogus => "bogus",
            Security::Indeterminate => "indeterminate",
        }
    }
}

/// The verdict on one rrset of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrsetVerdict {
    /// Owner, canonical (lower case, no trailing dot, `.` for the root).
    pub name: String,
    /// Type of the rrset.
    pub rtype: u16,
    /// Whether the response carried at least one RRSIG over it.
    pub signed: bool,
    /// The outcome.
    pub security: Security,
    /// The signer zone of the signature that decided (secure or bogus), canonical.
    pub signer: Option<String>,
    /// Its key tag.
    pub key_tag: Option<u16>,
    /// Its algorithm number.
    pub algorithm: Option<u8>,
    /// Why, in words.
    pub reason: String,
}

/// A validated DS or DNSKEY set of a zone that differs from the one validated before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetChange {
    /// The zone, canonical.
    pub zone: String,
    /// DS or DNSKEY.
    pub rtype: u16,
    /// The previous set, one entry per record ([`key_summary`] or [`ds_summary`] form).
    pub previous: Vec<String>,
    /// The new set.
    pub current: Vec<String>,
    /// Whether a secure entry point changed (a KSK, or any DS), not only zone-signing keys.
    pub sep_changed: bool,
}

/// What processing one response found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Processed {
    /// One verdict per rrset of the response (RRSIGs, NSEC and NSEC3 aside).
    pub verdicts: Vec<RrsetVerdict>,
    /// Validated DS or DNSKEY sets that changed.
    pub changes: Vec<SetChange>,
    /// Zones whose DNSKEY set became trusted (or changed) with this response.
    pub newly_trusted: Vec<String>,
    /// Signer zones whose keys were missing for some verdict (retry when they arrive).
    pub waiting: BTreeSet<String>,
    /// Zones this response proved unsigned.
    pub proven_insecure: Vec<String>,
}

/// Bounds of the validator's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidatorLimits {
    /// Most zones with trusted keys, DS sets or insecurity proofs (each).
    pub max_zones: usize,
    /// Most cached signature verifications (the cache is cleared when full).
    pub max_cached_verifications: usize,
    /// Most names remembered as signed (for stripped-signature checks).
    pub max_signed_names: usize,
}

impl Default for ValidatorLimits {
    fn default() -> Self {
        ValidatorLimits {
            max_zones: 100_000,
            max_cached_verifications: 65_536,
            max_signed_names: 200_000,
        }
    }
}

/// Counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ValidatorStats {
    /// Responses processed.
    pub messages: u64,
    /// Responses that could not be parsed.
    pub unparsable: u64,
    /// Signature verifications performed (cache misses).
    pub verifications: u64,
    /// Verifications answered from the cache.
    pub cache_hits: u64,
    /// Messages answered whole from the message memo (the same bytes, txid aside, with the
    /// key cache unchanged and packet time inside their signatures' windows).
    pub memo_hits: u64,
    /// Times the verification cache was cleared because it was full.
    pub cache_clears: u64,
    /// DNSKEY sets validated (first time or changed).
    pub keys_trusted: u64,
    /// DS sets validated (first time or changed).
    pub ds_trusted: u64,
    /// Zones proven unsigned.
    pub insecure_proofs: u64,
    /// Zones not remembered because a table was full.
    pub zones_dropped: u64,
    /// Signed names not remembered because the table was full.
    pub names_dropped: u64,
}

/// A validated DNSKEY set.
#[derive(Debug, Clone)]
struct ZoneKeys {
    keys: Vec<DNSKEY>,
    /// End of the window of the signature that validated it (seconds; `u32::MAX` for anchors
    /// and imports).
    until: u64,
}

/// A validated DS set.
#[derive(Debug, Clone)]
struct DsSet {
    records: Vec<AnchorRecord>,
    until: u64,
}

/// A zone's trusted state as saved in the store (`dnssec` column family) and shown by
/// `dnsward dnssec show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneState {
    /// The zone, canonical.
    pub zone: String,
    /// `dnskey` (a validated key set), `ds` (a validated DS set), `insecure` (proven unsigned)
    /// or `anchor` (imported with `dnsward dnssec import`).
    pub kind: String,
    /// The records: DNSKEY or DS rdata in presentation format (`257 3 13 base64`,
    /// `12345 13 2 hex`), with the key tag in front for keys (`tag=12345 257 3 13 ...`).
    pub records: Vec<String>,
    /// Packet time it was validated, ns.
    pub since_ns: u64,
    /// End of the validating signature's window, seconds since the epoch (0: none).
    pub until: u64,
    /// How it was proven.
    pub proof: String,
}

/// The validator; see the module documentation.
#[derive(Debug)]
pub struct Validator {
    anchors: HashMap<String, Vec<AnchorRecord>>,
    trusted: HashMap<String, ZoneKeys>,
    ds: HashMap<String, DsSet>,
    insecure: HashMap<String, String>,
    /// Zones the operator declares unsigned.
    declared_insecure: BTreeSet<String>,
    /// Name → signer zone of its last secure rrset.
    signed_names: HashMap<String, String>,
    verified: HashMap<u64, bool>,
    limits: ValidatorLimits,
    /// Zone states changed since the last [`Validator::take_dirty`].
    dirty: BTreeMap<String, ZoneState>,
    /// Bumped whenever what verdicts depend on changes (keys, DS sets, proofs, signed names).
    generation: u64,
    /// Message digest → the result of processing it (see [`ValidatorStats::memo_hits`]).
    memo: HashMap<u64, Memo>,
    /// Counters.
    pub stats: ValidatorStats,
}

/// A memoised [`Validator::process`] result.
#[derive(Debug)]
struct Memo {
    generation: u64,
    /// Packet-time seconds within which every signature of the message is inside its window.
    from: u64,
    until: u64,
    result: Processed,
}

/// Most memoised messages (the memo is cleared when full).
const MAX_MEMO: usize = 4_096;

/// The canonical form of a hickory name.
fn canonical(name: &Name) -> String {
    let text = name.to_ascii().to_ascii_lowercase();
    match text.trim_end_matches('.') {
        "" => ".".to_owned(),
        z => z.to_owned(),
    }
}

/// Whether `zone` is `name` or one of its ancestors (both canonical).
pub fn encloses(zone: &str, name: &str) -> bool {
    zone == "."
        || name == zone
        || (name.len() > zone.len()
            && name.ends_with(zone)
            && name.as_bytes().get(name.len() - zone.len() - 1) == Some(&b'.'))
}

/// The parent of a canonical name (`None` for the root).
fn parent(name: &str) -> Option<&str> {
    if name == "." {
        return None;
    }
    Some(name.split_once('.').map_or(".", |(_, p)| p))
}

fn dnskey_record(k: &DNSKEY) -> AnchorRecord {
    AnchorRecord::Dnskey {
        flags: k.flags(),
        protocol: 3,
        algorithm: u8::from(k.public_key().algorithm()),
        public_key: k.public_key().public_bytes().to_vec(),
    }
}

fn dnskey_of(record: &AnchorRecord) -> Option<DNSKEY> {
    match record {
        AnchorRecord::Dnskey {
            flags,
            algorithm,
            public_key,
            ..
        } => Some(DNSKEY::with_flags(
            *flags,
            PublicKeyBuf::new(public_key.clone(), Algorithm::from_u8(*algorithm)),
        )),
        AnchorRecord::Ds { .. } => None,
    }
}

/// A DNSKEY in the form alerts and the store show: `tag=T flags 3 alg base64`.
pub fn key_summary(k: &DNSKEY) -> String {
    format!(
        "tag={} {} 3 {} {}",
        k.calculate_key_tag().unwrap_or(0),
        k.flags(),
        u8::from(k.public_key().algorithm()),
        encode_base64(k.public_key().public_bytes())
    )
}

/// A DS in presentation form: `tag alg digest_type HEX`.
pub fn ds_summary(ds: &AnchorRecord) -> String {
    match ds {
        AnchorRecord::Ds {
            key_tag,
            algorithm,
            digest_type,
            digest,
        } => {
            let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
            format!("{key_tag} {algorithm} {digest_type} {hex}")
        }
        AnchorRecord::Dnskey { .. } => String::new(),
    }
}

/// Base64 (RFC 4648, padded), the form of keys in presentation format.
pub fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sym = |v: u32| {
        ALPHABET
            .get(usize::try_from(v & 63).unwrap_or(0))
            .map_or('A', |c| char::from(*c))
    };
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let v = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sym(v >> 18));
        out.push(sym(v >> 12));
        out.push(if chunk.len() > 1 { sym(v >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(v) } else { '=' });
    }
    out
}

/// RFC 4648 base32 with the extended hex alphabet, lower case, no padding: the form of NSEC3
/// owner labels (and it sorts like the bytes it encodes).
fn encode_base32hex(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for b in bytes {
        acc = (acc << 8) | u64::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let v = usize::try_from((acc >> bits) & 31).unwrap_or(0);
            out.push(ALPHABET.get(v).map_or('0', |c| char::from(*c)));
        }
    }
    if bits > 0 {
        let v = usize::try_from((acc << (5 - bits)) & 31).unwrap_or(0);
        out.push(ALPHABET.get(v).map_or('0', |c| char::from(*c)));
    }
    out
}

fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.iter().chain(&[0xffu8]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Bits of an RSA public key in DNSKEY form; see `dnssec::rsa_modulus_bits`.
fn judgeable(k: &DNSKEY) -> bool {
    let alg = k.public_key().algorithm();
    if !alg.is_supported() {
        return false;
    }
    if matches!(u8::from(alg), 5 | 7 | 8 | 10) {
        return crate::dnssec::rsa_modulus_bits(k.public_key().public_bytes())
            .is_some_and(|b| b >= 2048);
    }
    true
}

/// One rrset of a response with the signatures over it.
struct Rrset<'a> {
    name: String,
    rtype: u16,
    records: Vec<&'a Record>,
    sigs: Vec<(&'a Record, &'a RRSIG)>,
}

/// Why a signature did not make an rrset secure.
enum SigFailure {
    /// The signer's keys are not known yet.
    NoChain(String),
    /// Unsupported algorithm or key.
    Unsupported(String),
    /// It fails, although it could have been judged.
    Bogus(String, String, u16, u8),
}

impl Validator {
    /// A validator trusting `anchors`, with `declared_insecure` zones taken as unsigned.
    pub fn new(
        anchors: &[TrustAnchor],
        declared_insecure: impl IntoIterator<Item = String>,
        limits: ValidatorLimits,
    ) -> Validator {
        let mut by_zone: HashMap<String, Vec<AnchorRecord>> = HashMap::new();
        for a in anchors {
            by_zone
                .entry(a.zone.clone())
                .or_default()
                .push(a.record.clone());
        }
        Validator {
            anchors: by_zone,
            trusted: HashMap::new(),
            ds: HashMap::new(),
            insecure: HashMap::new(),
            declared_insecure: declared_insecure
                .into_iter()
                .map(|z| {
                    let z = z.trim_end_matches('.').to_ascii_lowercase();
                    if z.is_empty() {
                        ".".to_owned()
                    } else {
                        z
                    }
                })
                .collect(),
            signed_names: HashMap::new(),
            verified: HashMap::new(),
            limits,
            dirty: BTreeMap::new(),
            generation: 0,
            memo: HashMap::new(),
            stats: ValidatorStats::default(),
        }
    }

    /// Restores zone states an earlier run saved (validated key and DS sets still inside their
    /// windows are trusted again; imported anchors become anchors).
    pub fn restore(&mut self, states: impl IntoIterator<Item = ZoneState>) {
        self.generation += 1;
        for s in states {
            let owner = if s.zone == "." {
                ".".to_owned()
            } else {
                format!("{}.", s.zone)
            };
            let rtype = if s.kind == "ds" { "DS" } else { "DNSKEY" };
            let text: String = s
                .records
                .iter()
                .map(|r| {
                    // Keys are saved as `tag=T flags 3 alg key`: drop the tag. Imported
                    // anchors name their type (`DS ...`, `DNSKEY ...`).
                    match r.split_once(' ') {
                        Some((tag, rest)) if tag.starts_with("tag=") => {
                            format!("{owner} IN {rtype} {rest}\n")
                        }
                        Some(("DS" | "DNSKEY", _)) => format!("{owner} IN {r}\n"),
                        _ => format!("{owner} IN {rtype} {r}\n"),
                    }
                })
                .collect();
            let parsed: Vec<AnchorRecord> = crate::dnssec::parse_anchors(&text)
                .map(|v| v.into_iter().map(|a| a.record).collect())
                .unwrap_or_default();
            match s.kind.as_str() {
                "anchor" => {
                    self.anchors
                        .entry(s.zone.clone())
                        .or_default()
                        .extend(parsed);
                }
                "dnskey" => {
                    let keys: Vec<DNSKEY> = parsed.iter().filter_map(dnskey_of).collect();
                    if !keys.is_empty() {
                        self.trusted.insert(
                            s.zone.clone(),
                            ZoneKeys {
                                keys,
                                until: s.until,
                            },
                        );
                    }
                }
                "ds" => {
                    self.ds.insert(
                        s.zone.clone(),
                        DsSet {
                            records: parsed,
                            until: s.until,
                        },
                    );
                }
                "insecure" => {
                    self.insecure.insert(s.zone.clone(), s.proof.clone());
                }
                _ => {}
            }
        }
    }

    /// Zone states changed since the last call, for the store.
    pub fn take_dirty(&mut self) -> Vec<ZoneState> {
        std::mem::take(&mut self.dirty).into_values().collect()
    }

    /// The signer zone of `name`'s last secure rrset, when it had one: the name is known to be
    /// signed, so an unsigned answer for it (to a DO query) has had its signatures stripped.
    pub fn signed_by(&self, name: &str) -> Option<&str> {
        if let Some(s) = self.signed_names.get(name) {
            return Some(s);
        }
        self.trusted.get_key_value(name).map(|(z, _)| z.as_str())
    }

    /// The verdict on an rrset that carries no signature: insecure when its zone is proven or
    /// declared unsigned, indeterminate otherwise (whether it should have been signed is the
    /// caller's question: [`Validator::signed_by`]).
    pub fn unsigned(&self, name: &str, rtype: u16) -> RrsetVerdict {
        let mut zone = Some(name);
        let mut found = None;
        while let Some(z) = zone {
            if let Some(proof) = self.insecure.get(z) {
                found = Some(format!("{z} is proven unsigned ({proof})"));
                break;
            }
            if self.declared_insecure.contains(z) {
                found = Some(format!("{z} is declared unsigned by the operator"));
                break;
            }
            // A zone with validated keys at or above the name and no proven cut below it:
            // stop there.
            if self.trusted.contains_key(z) {
                break;
            }
            zone = parent(z);
        }
        let (security, reason) = match found {
            Some(why) => (Security::Insecure, why),
            None => (
                Security::Indeterminate,
                "no signature, and no proof that the zone is unsigned".to_owned(),
            ),
        };
        RrsetVerdict {
            name: name.to_owned(),
            rtype,
            signed: false,
            security,
            signer: None,
            key_tag: None,
            algorithm: None,
            reason,
        }
    }

    /// Validates every rrset of one response (its whole DNS message) at packet time `now_ns`;
    /// `None` when the message cannot be parsed.
    pub fn process(&mut self, msg: &[u8], now_ns: u64) -> Option<Processed> {
        self.stats.messages += 1;
        let now = now_ns / 1_000_000_000;
        // A flood repeats one message with new transaction ids: judge it once while nothing
        // it depends on changes.
        let digest = fnv(&[msg.get(2..).unwrap_or_default()]);
        if let Some(m) = self.memo.get(&digest) {
            if m.generation == self.generation && (m.from..=m.until).contains(&now) {
                self.stats.memo_hits += 1;
                return Some(m.result.clone());
            }
        }
        let Ok(message) = Message::from_vec(msg) else {
            self.stats.unparsable += 1;
            return None;
        };
        let generation = self.generation;
        let mut out = Processed::default();
        let rrsets = group(&message);
        // Key material first, top down, so that a response carrying a DS and the child's
        // DNSKEY set (or a DNSKEY set and data) validates in one pass.
        let mut order: Vec<&Rrset<'_>> = rrsets.iter().collect();
        order.sort_by_key(|r| {
            (
                match r.rtype {
                    TYPE_DNSKEY => 0,
                    TYPE_DS => 1,
                    _ => 2,
                },
                r.name.matches('.').count(),
            )
        });
        for _ in 0..2 {
            for r in order.iter().filter(|r| r.rtype == TYPE_DNSKEY) {
                self.trust_dnskeys(r, now, now_ns, &mut out, false);
            }
            for r in order.iter().filter(|r| r.rtype == TYPE_DS) {
                self.trust_ds(r, now, now_ns, &mut out);
            }
        }
        for r in order.iter().filter(|r| r.rtype == TYPE_DNSKEY) {
            let v = self.trust_dnskeys(r, now, now_ns, &mut out, true);
            out.verdicts.extend(v);
        }
        self.prove_insecure(&message, &rrsets, now, now_ns, &mut out);
        for r in &order {
            match r.rtype {
                TYPE_DNSKEY | TYPE_NSEC | TYPE_NSEC3 | TYPE_RRSIG => {}
                _ => {
                    let v = self.verdict(r, now, &mut out.waiting);
                    if v.security == Security::Secure && r.rtype != TYPE_DS {
                        if let Some(signer) = &v.signer {
                            self.remember_signed(&v.name, signer);
                        }
                    }
                    out.verdicts.push(v);
                }
            }
        }
        if generation == self.generation {
            let sigs = message
                .answers
                .iter()
                .chain(&message.authorities)
                .chain(&message.additionals)
                .filter_map(|r| match &r.data {
                    RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some(sig.input()),
                    _ => None,
                });
            let (mut from, mut until) = (0u64, u64::MAX);
            for input in sigs {
                from = from.max(u64::from(input.sig_inception.get()));
                until = until.min(u64::from(input.sig_expiration.get()));
            }
            if self.memo.len() >= MAX_MEMO {
                self.memo.clear();
            }
            self.memo.insert(
                digest,
                Memo {
                    generation,
                    from,
                    until,
                    result: out.clone(),
                },
            );
        }
        Some(out)
    }

    /// Remembers that `name` was answered secure, signed by `signer` (from an earlier run's
    /// outcomes), so that an unsigned answer for it counts as stripped.
    pub fn remember_signed(&mut self, name: &str, signer: &str) {
        if let Some(s) = self.signed_names.get_mut(name) {
            if s != signer {
                signer.clone_into(s);
                self.generation += 1;
            }
            return;
        }
        self.generation += 1;
        if self.signed_names.len() >= self.limits.max_signed_names {
            self.stats.names_dropped += 1;
            return;
        }
        self.signed_names.insert(name.to_owned(), signer.to_owned());
    }

    /// Whether `key` verifies `sig` over `rrset` (cached).
    fn verify(
        &mut self,
        key: &DNSKEY,
        rrset: &Rrset<'_>,
        sig_record: &Record,
        sig: &RRSIG,
    ) -> bool {
        let mut data: Vec<&[u8]> = Vec::new();
        let rdatas: Vec<Vec<u8>> = rrset
            .records
            .iter()
            .map(|r| {
                use hickory_proto::serialize::binary::BinEncodable as _;
                r.data.to_bytes().unwrap_or_default()
            })
            .collect();
        let sig_bytes = {
            use hickory_proto::serialize::binary::BinEncodable as _;
            sig_record.data.to_bytes().unwrap_or_default()
        };
        let name = rrset.name.as_bytes();
        let rtype = rrset.rtype.to_be_bytes();
        data.push(name);
        data.push(&rtype);
        let mut sorted: Vec<&Vec<u8>> = rdatas.iter().collect();
        sorted.sort();
        for r in &sorted {
            data.push(r);
        }
        data.push(&sig_bytes);
        data.push(key.public_key().public_bytes());
        let h = fnv(&data);
        if let Some(ok) = self.verified.get(&h) {
            self.stats.cache_hits += 1;
            return *ok;
        }
        self.stats.verifications += 1;
        let owner = &sig_record.name;
        let ok = key
            .verify_rrsig(owner, DNSClass::IN, sig, rrset.records.iter().copied())
            .is_ok();
        if self.verified.len() >= self.limits.max_cached_verifications {
            self.verified.clear();
            self.stats.cache_clears += 1;
        }
        self.verified.insert(h, ok);
        ok
    }

    /// Checks the signatures over `rrset` against the trusted keys of their signers.
    fn verdict(
        &mut self,
        rrset: &Rrset<'_>,
        now: u64,
        waiting: &mut BTreeSet<String>,
    ) -> RrsetVerdict {
        if rrset.sigs.is_empty() {
            return self.unsigned(&rrset.name, rrset.rtype);
        }
        let mut failures = Vec::new();
        for (sig_record, sig) in &rrset.sigs {
            let input = sig.input();
            let signer = canonical(&input.signer_name);
            let tag = input.key_tag;
            let alg = u8::from(input.algorithm);
            match self.check_sig(rrset, sig_record, sig, now) {
                Ok(()) => {
                    return RrsetVerdict {
                        name: rrset.name.clone(),
                        rtype: rrset.rtype,
                        signed: true,
                        security: Security::Secure,
                        reason: format!("signed by {signer} with key {tag} (algorithm {alg})"),
                        signer: Some(signer),
                        key_tag: Some(tag),
                        algorithm: Some(alg),
                    };
                }
                Err(f) => {
                    if let SigFailure::NoChain(_) = &f {
                        waiting.insert(signer);
                    }
                    failures.push(f);
                }
            }
        }
        let first_bogus = failures.iter().find_map(|f| match f {
            SigFailure::Bogus(why, signer, tag, alg) => {
                Some((why.clone(), signer.clone(), *tag, *alg))
            }
            _ => None,
        });
        let undecided = failures.iter().find_map(|f| match f {
            SigFailure::NoChain(why) | SigFailure::Unsupported(why) => Some(why.clone()),
            SigFailure::Bogus(..) => None,
        });
        match (undecided, first_bogus) {
            (Some(why), _) => RrsetVerdict {
                name: rrset.name.clone(),
                rtype: rrset.rtype,
                signed: true,
                security: Security::Indeterminate,
                signer: None,
                key_tag: None,
                algorithm: None,
                reason: why,
            },
            (None, Some((why, signer, tag, alg))) => RrsetVerdict {
                name: rrset.name.clone(),
                rtype: rrset.rtype,
                signed: true,
                security: Security::Bogus,
                signer: Some(signer),
                key_tag: Some(tag),
                algorithm: Some(alg),
                reason: why,
            },
            (None, None) => RrsetVerdict {
                name: rrset.name.clone(),
                rtype: rrset.rtype,
                signed: true,
                security: Security::Indeterminate,
                signer: None,
                key_tag: None,
                algorithm: None,
                reason: "no signature could be checked".to_owned(),
            },
        }
    }

    fn check_sig(
        &mut self,
        rrset: &Rrset<'_>,
        sig_record: &Record,
        sig: &RRSIG,
        now: u64,
    ) -> Result<(), SigFailure> {
        let input = sig.input();
        let signer = canonical(&input.signer_name);
        let tag = input.key_tag;
        let alg = u8::from(input.algorithm);
        let bogus = |why: String| SigFailure::Bogus(why, signer.clone(), tag, alg);
        if !encloses(&signer, &rrset.name) {
            return Err(bogus(format!(
                "the signer {signer} does not enclose {}",
                rrset.name
            )));
        }
        let Some(keys) = self.trusted.get(&signer) else {
            return Err(SigFailure::NoChain(format!(
                "no validated DNSKEY set of {signer} seen yet (key {tag})"
            )));
        };
        if now > keys.until {
            return Err(SigFailure::NoChain(format!(
                "the validated DNSKEY set of {signer} is past its window"
            )));
        }
        let candidates: Vec<DNSKEY> = keys
            .keys
            .iter()
            .filter(|k| {
                k.calculate_key_tag().ok() == Some(tag)
                    && u8::from(k.public_key().algorithm()) == alg
                    && k.zone_key()
                    && !k.revoke()
            })
            .cloned()
            .collect();
        if candidates.is_empty() {
            return Err(bogus(format!(
                "no key with tag {tag} and algorithm {alg} in the validated DNSKEY set of {signer}"
            )));
        }
        if !candidates.iter().any(judgeable) {
            return Err(SigFailure::Unsupported(format!(
                "algorithm {alg} (or the key's size) is beyond the verifier"
            )));
        }
        let inception = u64::from(input.sig_inception.get());
        let expiration = u64::from(input.sig_expiration.get());
        if now < inception {
            return Err(bogus(format!(
                "the signature by key {tag} of {signer} is not valid before {}",
                crate::dnssec::format_sig_time(inception)
            )));
        }
        if now > expiration {
            return Err(bogus(format!(
                "the signature by key {tag} of {signer} expired at {}",
                crate::dnssec::format_sig_time(expiration)
            )));
        }
        if candidates
            .iter()
            .any(|k| self.verify(k, rrset, sig_record, sig))
        {
            return Ok(());
        }
        Err(bogus(format!(
            "the signature by key {tag} of {signer} does not verify"
        )))
    }

    /// Trusts a DNSKEY set when a key matching an anchor or a trusted DS signs it. With
    /// `report`, returns the verdict on the set.
    fn trust_dnskeys(
        &mut self,
        rrset: &Rrset<'_>,
        now: u64,
        now_ns: u64,
        out: &mut Processed,
        report: bool,
    ) -> Option<RrsetVerdict> {
        let zone = rrset.name.clone();
        let keys: Vec<&DNSKEY> = rrset
            .records
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k),
                _ => None,
            })
            .collect();
        if rrset.sigs.is_empty() {
            // Not asked for (no DO bit), or stripped: the caller judges unsigned sets.
            return report.then(|| RrsetVerdict {
                name: zone.clone(),
                rtype: TYPE_DNSKEY,
                signed: false,
                security: Security::Indeterminate,
                signer: None,
                key_tag: None,
                algorithm: None,
                reason: format!("no signature over the DNSKEY set of {zone}"),
            });
        }
        let (entry, proof) = if let Some(anchors) = self.anchors.get(&zone) {
            (anchors.clone(), "trust anchor")
        } else if let Some(ds) = self.ds.get(&zone).filter(|d| now <= d.until) {
            (ds.records.clone(), "validated DS")
        } else {
            if !report {
                return None;
            }
            let mut v = self.verdict(rrset, now, &mut out.waiting);
            if v.security == Security::Secure {
                // Signed by a key of its own set that nothing vouches for yet.
                v.security = Security::Indeterminate;
                v.reason = format!("no anchor or validated DS for {zone} seen yet");
                v.signer = None;
                v.key_tag = None;
                v.algorithm = None;
            }
            if v.security == Security::Indeterminate {
                out.waiting.insert(zone.clone());
            }
            return Some(v);
        };
        let sep: Vec<&DNSKEY> = keys
            .iter()
            .copied()
            .filter(|k| {
                let rec = dnskey_record(k);
                entry.iter().any(|e| match e {
                    AnchorRecord::Ds { .. } => ds_covers(&zone, e, &rec) == Some(true),
                    AnchorRecord::Dnskey { .. } => *e == rec,
                })
            })
            .collect();
        let verdict_of =
            |security: Security, reason: String, tag: Option<u16>, alg: Option<u8>| RrsetVerdict {
                name: zone.clone(),
                rtype: TYPE_DNSKEY,
                signed: !rrset.sigs.is_empty(),
                security,
                signer: tag.map(|_| zone.clone()),
                key_tag: tag,
                algorithm: alg,
                reason,
            };
        if sep.is_empty() {
            let supported = entry.iter().any(|e| match e {
                AnchorRecord::Ds {
                    algorithm,
                    digest_type,
                    ..
                } => {
                    Algorithm::from_u8(*algorithm).is_supported()
                        && matches!(digest_type, 1 | 2 | 4)
                }
                AnchorRecord::Dnskey { .. } => true,
            });
            return report.then(|| {
                if supported {
                    verdict_of(
                        Security::Bogus,
                        format!("no key of the DNSKEY set of {zone} matches its {proof}"),
                        None,
                        None,
                    )
                } else {
                    verdict_of(
                        Security::Indeterminate,
                        format!("the {proof} of {zone} uses an unsupported algorithm or digest"),
                        None,
                        None,
                    )
                }
            });
        }
        let mut failure = None;
        let mut unsupported = false;
        for (sig_record, sig) in &rrset.sigs {
            let input = sig.input();
            if canonical(&input.signer_name) != zone {
                continue;
            }
            let tag = input.key_tag;
            let alg = u8::from(input.algorithm);
            let signing: Vec<&DNSKEY> = sep
                .iter()
                .copied()
                .filter(|k| {
                    k.calculate_key_tag().ok() == Some(tag)
                        && u8::from(k.public_key().algorithm()) == alg
                })
                .collect();
            if signing.is_empty() {
                continue;
            }
            if !signing.iter().copied().any(judgeable) {
                unsupported = true;
                continue;
            }
            let inception = u64::from(input.sig_inception.get());
            let expiration = u64::from(input.sig_expiration.get());
            if now < inception || now > expiration {
                failure = Some((
                    format!(
                        "the signature by key {tag} over the DNSKEY set of {zone} is outside its window ({} to {})",
                        crate::dnssec::format_sig_time(inception),
                        crate::dnssec::format_sig_time(expiration)
                    ),
                    tag,
                    alg,
                ));
                continue;
            }
            if signing
                .iter()
                .any(|k| self.verify(k, rrset, sig_record, sig))
            {
                let set: Vec<DNSKEY> = keys.iter().map(|k| (*k).clone()).collect();
                self.install_keys(&zone, set, expiration, proof, tag, now_ns, out);
                return report.then(|| {
                    verdict_of(
                        Security::Secure,
                        format!("signed by key {tag} of {zone}, which its {proof} names"),
                        Some(tag),
                        Some(alg),
                    )
                });
            }
            failure = Some((
                format!("the signature by key {tag} over the DNSKEY set of {zone} does not verify"),
                tag,
                alg,
            ));
        }
        if !report {
            return None;
        }
        Some(match failure {
            Some((why, tag, alg)) if !unsupported => {
                verdict_of(Security::Bogus, why, Some(tag), Some(alg))
            }
            _ if unsupported => verdict_of(
                Security::Indeterminate,
                format!("the keys of {zone} use an algorithm (or size) beyond the verifier"),
                None,
                None,
            ),
            _ => verdict_of(
                Security::Bogus,
                format!("no key named by the {proof} of {zone} signs its DNSKEY set"),
                None,
                None,
            ),
        })
    }

    #[allow(clippy::too_many_arguments)] // the parts of one validated set
    fn install_keys(
        &mut self,
        zone: &str,
        set: Vec<DNSKEY>,
        until: u64,
        proof: &str,
        tag: u16,
        now_ns: u64,
        out: &mut Processed,
    ) {
        let mut current: Vec<String> = set.iter().map(key_summary).collect();
        current.sort();
        let previous: Option<Vec<String>> = self.trusted.get(zone).map(|p| {
            let mut v: Vec<String> = p.keys.iter().map(key_summary).collect();
            v.sort();
            v
        });
        if previous.as_ref() == Some(&current) {
            if let Some(p) = self.trusted.get_mut(zone) {
                p.until = p.until.max(until);
            }
            return;
        }
        if previous.is_none() && self.trusted.len() >= self.limits.max_zones {
            self.stats.zones_dropped += 1;
            return;
        }
        if let Some(previous) = previous {
            let sep = |v: &[String]| -> Vec<String> {
                v.iter()
                    .filter(|k| {
                        k.split(' ')
                            .nth(1)
                            .and_then(|f| f.parse::<u16>().ok())
                            .is_some_and(|f| f & 1 == 1)
                    })
                    .cloned()
                    .collect()
            };
            out.changes.push(SetChange {
                zone: zone.to_owned(),
                rtype: TYPE_DNSKEY,
                sep_changed: sep(&previous) != sep(&current),
                previous,
                current: current.clone(),
            });
        }
        self.stats.keys_trusted += 1;
        self.trusted
            .insert(zone.to_owned(), ZoneKeys { keys: set, until });
        out.newly_trusted.push(zone.to_owned());
        self.generation += 1;
        self.dirty.insert(
            format!("dnskey {zone}"),
            ZoneState {
                zone: zone.to_owned(),
                kind: "dnskey".to_owned(),
                records: current,
                since_ns: now_ns,
                until,
                proof: format!("key {tag} named by the {proof}"),
            },
        );
    }

    /// Trusts a DS set signed by a trusted key of the parent.
    fn trust_ds(&mut self, rrset: &Rrset<'_>, now: u64, now_ns: u64, out: &mut Processed) {
        let mut waiting = BTreeSet::new();
        let v = self.verdict(rrset, now, &mut waiting);
        if v.security != Security::Secure {
            return;
        }
        let records: Vec<AnchorRecord> = rrset
            .records
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::DS(ds)) => Some(AnchorRecord::Ds {
                    key_tag: ds.key_tag(),
                    algorithm: u8::from(ds.algorithm()),
                    digest_type: u8::from(ds.digest_type()),
                    digest: ds.digest().to_vec(),
                }),
                _ => None,
            })
            .collect();
        let until = rrset
            .sigs
            .iter()
            .map(|(_, s)| u64::from(s.input().sig_expiration.get()))
            .max()
            .unwrap_or(0);
        let mut current: Vec<String> = records.iter().map(ds_summary).collect();
        current.sort();
        let zone = rrset.name.clone();
        let previous = self.ds.get(&zone).map(|d| {
            let mut v: Vec<String> = d.records.iter().map(ds_summary).collect();
            v.sort();
            v
        });
        if previous.as_ref() == Some(&current) {
            if let Some(d) = self.ds.get_mut(&zone) {
                d.until = d.until.max(until);
            }
            return;
        }
        if previous.is_none() && self.ds.len() >= self.limits.max_zones {
            self.stats.zones_dropped += 1;
            return;
        }
        if let Some(previous) = previous {
            out.changes.push(SetChange {
                zone: zone.clone(),
                rtype: TYPE_DS,
                previous,
                current: current.clone(),
                sep_changed: true,
            });
        }
        self.stats.ds_trusted += 1;
        self.insecure.remove(&zone);
        self.ds.insert(zone.clone(), DsSet { records, until });
        self.generation += 1;
        self.dirty.insert(
            format!("ds {zone}"),
            ZoneState {
                zone: zone.clone(),
                kind: "ds".to_owned(),
                records: current,
                since_ns: now_ns,
                until,
                proof: v.reason,
            },
        );
    }

    /// An authenticated denial of a DS (a response to a DS query with no DS in its answer)
    /// proves the zone unsigned: NSEC at the name without DS (RFC 4035 section 5.2), NSEC3
    /// matching the name without DS, or an opt-out NSEC3 covering it (RFC 5155 section 8.6,
    /// the closest-encloser part taken from the signer).
    fn prove_insecure(
        &mut self,
        message: &Message,
        rrsets: &[Rrset<'_>],
        now: u64,
        now_ns: u64,
        out: &mut Processed,
    ) {
        let Some(q) = message.queries.first() else {
            return;
        };
        if q.query_type() != RecordType::DS
            || message.metadata.response_code != hickory_proto::op::ResponseCode::NoError
        {
            return;
        }
        let child = canonical(q.name());
        if rrsets.iter().any(|r| r.rtype == TYPE_DS && r.name == child) {
            return;
        }
        let mut proof = None;
        for r in rrsets
            .iter()
            .filter(|r| matches!(r.rtype, TYPE_NSEC | TYPE_NSEC3))
        {
            let mut waiting = BTreeSet::new();
            let v = self.verdict(r, now, &mut waiting);
            out.waiting.extend(waiting);
            if v.security != Security::Secure {
                continue;
            }
            let Some(signer) = v.signer.clone() else {
                continue;
            };
            if signer == child || !encloses(&signer, &child) {
                continue;
            }
            for rec in &r.records {
                match &rec.data {
                    RData::DNSSEC(DNSSECRData::NSEC(nsec)) if r.name == child => {
                        let types: Vec<RecordType> = nsec.type_bit_maps().collect();
                        if types.contains(&RecordType::NS)
                            && !types.contains(&RecordType::DS)
                            && !types.contains(&RecordType::SOA)
                        {
                            proof = Some(format!(
                                "NSEC of {child} without DS, signed by key {} of {signer}",
                                v.key_tag.unwrap_or(0)
                            ));
                        }
                    }
                    RData::DNSSEC(DNSSECRData::NSEC3(nsec3)) => {
                        let Ok(child_name) = Name::from_ascii(format!("{child}.")) else {
                            continue;
                        };
                        let Ok(hash) = nsec3.hash_algorithm().hash(
                            nsec3.salt(),
                            &child_name,
                            nsec3.iterations(),
                        ) else {
                            continue;
                        };
                        let hashed = encode_base32hex(hash.as_ref());
                        let owner_label = r.name.split('.').next().unwrap_or("");
                        let next = encode_base32hex(nsec3.next_hashed_owner_name());
                        let types: Vec<RecordType> = nsec3.type_bit_maps().collect();
                        if owner_label == hashed {
                            if !types.contains(&RecordType::DS) && !types.contains(&RecordType::SOA)
                            {
                                proof = Some(format!(
                                    "NSEC3 matching {child} without DS, signed by key {} of {signer}",
                                    v.key_tag.unwrap_or(0)
                                ));
                            }
                        } else if nsec3.opt_out() {
                            let owner = owner_label.to_owned();
                            let covers = if owner < next {
                                owner < hashed && hashed < next
                            } else {
                                hashed > owner || hashed < next
                            };
                            if covers {
                                proof = Some(format!(
                                    "opt-out NSEC3 covering {child}, signed by key {} of {signer}",
                                    v.key_tag.unwrap_or(0)
                                ));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let Some(proof) = proof else {
            return;
        };
        if self.insecure.contains_key(&child) {
            return;
        }
        if self.insecure.len() >= self.limits.max_zones {
            self.stats.zones_dropped += 1;
            return;
        }
        self.stats.insecure_proofs += 1;
        self.ds.remove(&child);
        self.insecure.insert(child.clone(), proof.clone());
        out.proven_insecure.push(child.clone());
        self.generation += 1;
        self.dirty.insert(
            format!("insecure {child}"),
            ZoneState {
                zone: child,
                kind: "insecure".to_owned(),
                records: Vec::new(),
                since_ns: now_ns,
                until: 0,
                proof,
            },
        );
    }
}

/// The rrsets of a message (all sections, OPT aside), each with the RRSIGs over it.
fn group(message: &Message) -> Vec<Rrset<'_>> {
    let mut out: Vec<Rrset<'_>> = Vec::new();
    let records = message
        .answers
        .iter()
        .chain(&message.authorities)
        .chain(&message.additionals);
    let mut sigs: Vec<(String, u16, &Record, &RRSIG)> = Vec::new();
    for r in records {
        if r.dns_class != DNSClass::IN {
            continue;
        }
        let name = canonical(&r.name);
        if let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &r.data {
            sigs.push((name, u16::from(sig.input().type_covered), r, sig));
            continue;
        }
        let rtype = u16::from(r.record_type());
        if rtype == 41 {
            continue;
        }
        match out.iter_mut().find(|s| s.name == name && s.rtype == rtype) {
            Some(s) => {
                if !s.records.iter().any(|x| x.data == r.data) {
                    s.records.push(r);
                }
            }
            None => out.push(Rrset {
                name,
                rtype,
                records: vec![r],
                sigs: Vec::new(),
            }),
        }
    }
    for (name, covered, r, sig) in sigs {
        if let Some(s) = out
            .iter_mut()
            .find(|s| s.name == name && s.rtype == covered)
        {
            s.sigs.push((r, sig));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32hex_and_base64() {
        assert_eq!(encode_base32hex(b""), "");
        assert_eq!(encode_base32hex(b"f"), "co");
        // RFC 4648 section 10: BASE32-HEX("foobar") = "CPNMUOJ1E8======".
        assert_eq!(encode_base32hex(b"foobar"), "cpnmuoj1e8");
        assert_eq!(encode_base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode_base64(b"fo"), "Zm8=");
        assert_eq!(encode_base64(b"f"), "Zg==");
    }

    #[test]
    fn enclosing_zones() {
        assert!(encloses(".", "example.com"));
        assert!(encloses("example.com", "example.com"));
        assert!(encloses("example.com", "www.example.com"));
        assert!(!encloses("example.com", "wwwexample.com"));
        assert!(!encloses("www.example.com", "example.com"));
        assert_eq!(parent("www.example.com"), Some("example.com"));
        assert_eq!(parent("com"), Some("."));
        assert_eq!(parent("."), None);
    }

    #[test]
    fn unsigned_zones_by_proof_or_declaration() {
        let mut v = Validator::new(
            &[],
            ["Corp.Example.".to_owned()],
            ValidatorLimits::default(),
        );
        assert_eq!(
            v.unsigned("www.corp.example", 1).security,
            Security::Insecure
        );
        assert_eq!(
            v.unsigned("www.other.example", 1).security,
            Security::Indeterminate
        );
        v.insecure
            .insert("other.example".to_owned(), "test".to_owned());
        let verdict = v.unsigned("www.other.example", 1);
        assert_eq!(verdict.security, Security::Insecure);
        assert_eq!(verdict.reason, "other.example is proven unsigned (test)");
        assert_eq!(v.process(&[1, 2, 3], 0), None);
        assert_eq!(v.stats.unparsable, 1);
    }
}
