//! Signed captures: small zones signed with BIND's own tools, and a recursive resolver's traffic
//! carrying their answers, for DNSSEC validation tests.
//!
//! [`write_signed_capture`] runs `dnssec-keygen`, `dnssec-signzone` and `dnssec-dsfromkey` (the
//! `bind9-utils` package) in a `bind/` directory under the output directory, parses the signed
//! zones they write, and writes a classic pcap file (microsecond timestamps, Ethernet) of the
//! resolver [`RESOLVER`] validating its way down from the trust anchor `test.`, then meeting
//! stripped, corrupted, misplaced and expired signatures and a DNSKEY set change, then
//! answering a client with and without the AD bit, and finally meeting a signature not yet valid
//! and a DS set change.
//!
//! The zones, all class IN:
//!
//! - `test.` (served by [`TEST_SERVER`]), the trust anchor: delegates `good.test.` with the DS of
//!   its KSK and `unsigned.test.` without one; signed with NSEC (or, by
//!   [`write_signed_capture_with`], NSEC3 with or without opt-out: see [`Denial`]), valid
//!   2026-01-01 to 2037-01-01. Its KSK's DS (SHA-256) is written to `anchors.txt`. Signed a
//!   second time, with the same keys, window and denial, with the DS of a second KSK of
//!   `good.test.` (which signs nothing) added to the DS set of `good.test.`.
//! - `good.test.` (served by [`GOOD_SERVER`]): `www`, `mail`, `old`, `new`, an MX; signed four
//!   times with the same KSK and ZSK: in the window above, in a window that ended on 2025-03-01,
//!   with a second ZSK added to the key set, and in a window that opens on 2030-01-01.
//! - `unsigned.test.` (served by [`UNSIGNED_SERVER`]): not signed.
//!
//! Each step of the capture is a query and, 10 ms later, its response; [`STEP_LABELS`] lists the
//! steps in order and [`SignedCapture::frames`] gives the frame number of each response. Only the
//! keys (and with them the key tags and signatures) change from one run to the next.
//!
//! ```no_run
//! use dnsward_benches::signed::write_signed_capture;
//! let dir = std::path::Path::new("/tmp/signed-13");
//! std::fs::create_dir_all(dir)?;
//! let capture = write_signed_capture(dir, 13)?;
//! assert_eq!(capture.frames.get("dnskey_test"), Some(&4));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::dns::{
    Edns, MessageWriter, Rdata, Record, FLAG_AA, FLAG_AD, FLAG_QR, FLAG_RA, FLAG_RD, RCODE_NOERROR,
    RCODE_SERVFAIL, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_DNSKEY, TYPE_DS, TYPE_MX, TYPE_NS,
    TYPE_NSEC, TYPE_PTR, TYPE_RRSIG, TYPE_SOA, TYPE_TXT,
};
use crate::pcap::{PcapWriter, TimestampResolution};
use crate::rng::SplitMix64;
use crate::wire::{udp_frames, Direction, Host, Path as WirePath, Vlans};
use crate::GenerateError;

/// Algorithms [`write_signed_capture`] accepts: RSASHA256 and RSASHA512 (2,048-bit keys),
/// ECDSAP256SHA256, ECDSAP384SHA384 and ED25519 (RFC 8624 section 3.1's MUST and RECOMMENDED
/// signing algorithms).
pub const SUPPORTED_ALGORITHMS: [u8; 5] = [8, 10, 13, 14, 15];
/// Size of the RSA keys, bits (RFC 8624 section 3.1 recommends at least 2,048).
pub const RSA_KEY_BITS: u32 = 2048;
/// Packet time of the first query, seconds since the Unix epoch (2026-06-01T00:00:00Z).
pub const T0_SECS: u64 = 1_780_272_000;
/// The recursive resolver whose traffic the capture shows.
pub const RESOLVER: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 53);
/// The stub client of the downstream steps.
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 7);
/// Authoritative server of `test.` (`ns.test.`).
pub const TEST_SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// Authoritative server of `good.test.` (`ns.good.test.`).
pub const GOOD_SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// Authoritative server of `unsigned.test.` (`ns.unsigned.test.`).
pub const UNSIGNED_SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
/// Address the `stripped` step forges for `www.good.test.`.
pub const STRIPPED_ADDRESS: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 66);
/// Address the `forged_sig` step forges for `www.good.test.`.
pub const FORGED_SIG_ADDRESS: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 67);
/// Inception of the valid signatures (`dnssec-signzone -s`).
pub const VALID_INCEPTION: &str = "20260101000000";
/// Expiration of the valid signatures (`dnssec-signzone -e`).
pub const VALID_EXPIRATION: &str = "20370101000000";
/// Inception of the expired signatures.
pub const EXPIRED_INCEPTION: &str = "20250101000000";
/// Expiration of the expired signatures, before [`T0_SECS`].
pub const EXPIRED_EXPIRATION: &str = "20250301000000";
/// Inception of the signatures not yet valid, after [`T0_SECS`].
pub const FUTURE_INCEPTION: &str = "20300101000000";
/// Expiration of the signatures not yet valid.
pub const FUTURE_EXPIRATION: &str = "20310101000000";
/// EDNS UDP payload size of the resolver and the servers (the DNS Flag Day 2020 value); no
/// response is larger.
pub const EDNS_UDP_SIZE: u16 = 1232;
/// Labels of the steps, in capture order: twelve upstream exchanges, the twelve downstream ones,
/// then two more upstream exchanges.
pub const STEP_LABELS: [&str; 26] = [
    "answer_before_keys",
    "dnskey_test",
    "ds_good",
    "dnskey_good",
    "mx_good",
    "ds_unsigned",
    "www_unsigned",
    "stripped",
    "corrupted",
    "forged_sig",
    "expired",
    "dnskey_change",
    "ad_1",
    "ad_2",
    "ad_3",
    "ad_4",
    "ad_5",
    "ad_lost",
    "servfail_1",
    "servfail_2",
    "servfail_3",
    "servfail_4",
    "servfail_5",
    "servfail_6",
    "future_sig",
    "ds_change",
];
/// NSEC3 salt of `test.` under [`Denial::Nsec3`] and [`Denial::Nsec3OptOut`], hex
/// (`dnssec-signzone -3`).
pub const NSEC3_SALT: &str = "aabbccdd";
/// NSEC3 additional iterations of `test.` (`dnssec-signzone -H`): none, as RFC 9276 section 3.1
/// recommends.
pub const NSEC3_ITERATIONS: u16 = 0;
/// Names of the keys in [`SignedCapture::key_tags`].
pub const KEY_NAMES: [&str; 6] = [
    "test.ksk",
    "test.zsk",
    "good.test.ksk",
    "good.test.zsk",
    "good.test.zsk2",
    "good.test.ksk2",
];

/// Packet time between two upstream steps, ns.
const UPSTREAM_STEP_NS: u64 = 100_000_000;
/// Packet time between two downstream steps, ns.
const DOWNSTREAM_STEP_NS: u64 = 1_000_000_000;
/// Packet time of the first downstream step after [`T0_SECS`], ns.
const DOWNSTREAM_START_NS: u64 = 2_000_000_000;
/// Packet time of the first upstream step after the downstream ones, ns after [`T0_SECS`].
const LATE_UPSTREAM_START_NS: u64 = 20_000_000_000;
/// Packet time between a query and its response, ns.
const RESPONSE_DELAY_NS: u64 = 10_000_000;
/// Seed of the ports, transaction ids and IP identifications.
const SEED: u64 = 0x5167_4e65_6420_7473;
/// Times `dnssec-keygen` is asked again when a key tag repeats an earlier key's.
const KEYGEN_ATTEMPTS: usize = 8;
/// Longest label (RFC 1035 section 2.3.4).
const MAX_LABEL_LEN: usize = 63;
/// Longest encoded name (RFC 1035 section 2.3.4).
const MAX_NAME_LEN: usize = 255;
/// IP TTL of the resolver's and the client's packets at the capture point.
const LOCAL_IP_TTL: u8 = 64;
/// MAC address of the resolver.
const RESOLVER_MAC: [u8; 6] = [0x00, 0x16, 0x3e, 0x10, 0x00, 0x02];
/// MAC address of the client.
const CLIENT_MAC: [u8; 6] = [0x00, 0x16, 0x3e, 0x20, 0x00, 0x07];
/// MAC address of the upstream router: every packet from the servers comes from it.
const GATEWAY_MAC: [u8; 6] = [0x00, 0x1c, 0x73, 0x5a, 0x01, 0xfe];

/// Record type NSEC3 (RFC 5155 section 3).
const TYPE_NSEC3: u16 = 50;
/// NSEC3 hash algorithm SHA-1 (RFC 5155 section 11), the only one defined.
const NSEC3_HASH_SHA1: u8 = 1;
/// The opt-out bit of the NSEC3 flags (RFC 5155 section 3.1.2.1).
const NSEC3_FLAG_OPT_OUT: u8 = 0x01;
/// The extended-hex alphabet of base32 (RFC 4648 section 7), in which NSEC3 hashes are written.
const BASE32HEX: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";

/// How the zone `test.` proves that `unsigned.test.` has no DS (the `ds_unsigned` step).
/// `good.test.` is signed with NSEC whatever the choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Denial {
    /// NSEC (RFC 4034): the response carries the NSEC at `unsigned.test.`, whose bitmap has NS
    /// and no DS.
    #[default]
    Nsec,
    /// NSEC3 (RFC 5155) with salt [`NSEC3_SALT`] and [`NSEC3_ITERATIONS`] extra iterations,
    /// without opt-out: the response carries the NSEC3 whose owner is the hash of
    /// `unsigned.test.` (section 7.2.4), its bitmap NS and no DS.
    Nsec3,
    /// NSEC3 as [`Denial::Nsec3`] with opt-out (`dnssec-signzone -A`): the insecure delegation
    /// has no NSEC3 of its own, so the response carries the closest provable encloser proof
    /// (sections 7.2.1 and 7.2.4): the NSEC3 matching `test.` and the opt-out NSEC3 covering the
    /// hash of `unsigned.test.` (one record when they are the same).
    Nsec3OptOut,
}

impl Denial {
    /// Every choice, in the order of the enum.
    pub const ALL: [Denial; 3] = [Denial::Nsec, Denial::Nsec3, Denial::Nsec3OptOut];

    /// The name `dnsward-gen signed --denial` takes: `nsec`, `nsec3` or `nsec3-optout`.
    pub fn name(self) -> &'static str {
        match self {
            Denial::Nsec => "nsec",
            Denial::Nsec3 => "nsec3",
            Denial::Nsec3OptOut => "nsec3-optout",
        }
    }

    /// The choice named `name` (as [`Denial::name`] gives it), if any.
    pub fn from_name(name: &str) -> Option<Denial> {
        Denial::ALL.into_iter().find(|denial| denial.name() == name)
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What [`write_signed_capture`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCapture {
    /// The capture, `DIR/signed.pcap`.
    pub pcap: PathBuf,
    /// The trust anchor, `DIR/anchors.txt`: the DS record of the KSK of `test.` in presentation
    /// format, as `dnssec-dsfromkey -2` prints it (`test. IN DS <tag> <alg> 2 <hex>`).
    pub anchors: PathBuf,
    /// Label of each step ([`STEP_LABELS`]) to the 1-based frame number of its response; its
    /// query is the frame before.
    pub frames: BTreeMap<String, u64>,
    /// Key tag of each key, by the names of [`KEY_NAMES`].
    pub key_tags: BTreeMap<String, u16>,
}

/// Why a signed capture could not be written.
#[derive(Debug)]
#[non_exhaustive]
pub enum SignedError {
    /// The algorithm is not one of [`SUPPORTED_ALGORITHMS`].
    UnsupportedAlgorithm {
        /// The algorithm asked for.
        algorithm: u8,
    },
    /// A BIND tool is not on the `PATH`.
    ToolMissing {
        /// The tool.
        tool: &'static str,
    },
    /// A BIND tool failed.
    ToolFailed {
        /// The tool.
        tool: &'static str,
        /// How it ended.
        status: String,
        /// What it wrote to standard error.
        stderr: String,
    },
    /// `dnssec-keygen` kept making keys whose tags repeat earlier ones.
    KeyTagCollision {
        /// The key being made.
        key: &'static str,
    },
    /// A line of a file the tools wrote could not be parsed.
    Parse {
        /// The file.
        file: PathBuf,
        /// Its 1-based line number.
        line: usize,
        /// What was wrong.
        reason: &'static str,
        /// The line.
        text: String,
    },
    /// A signed zone lacks a record set the capture needs.
    MissingRecord {
        /// The signed zone file.
        file: PathBuf,
        /// Owner name.
        owner: String,
        /// Record type (for RRSIG, the type covered).
        rtype: u16,
        /// True when the signature over the set is what is missing.
        signature: bool,
    },
    /// A response would be larger than [`EDNS_UDP_SIZE`].
    ResponseTooLarge {
        /// The step.
        label: &'static str,
        /// Its length, bytes.
        len: usize,
    },
    /// Reading or writing a file failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        error: io::Error,
    },
    /// Encoding a message or frame failed.
    Generate(GenerateError),
}

impl fmt::Display for SignedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignedError::UnsupportedAlgorithm { algorithm } => write!(
                f,
                "unsupported algorithm {algorithm} (supported: 8, 10, 13, 14, 15)"
            ),
            SignedError::ToolMissing { tool } => {
                write!(f, "{tool} not found: install bind9-utils")
            }
            SignedError::ToolFailed {
                tool,
                status,
                stderr,
            } => write!(f, "{tool} failed ({status}): {}", stderr.trim()),
            SignedError::KeyTagCollision { key } => {
                write!(f, "no key for {key} with a key tag of its own")
            }
            SignedError::Parse {
                file,
                line,
                reason,
                text,
            } => write!(f, "{}:{line}: {reason}: {text:?}", file.display()),
            SignedError::MissingRecord {
                file,
                owner,
                rtype,
                signature,
            } => {
                let what = if *signature { "rrsig over " } else { "" };
                write!(
                    f,
                    "{}: no {what}type {rtype} records at {owner}.",
                    file.display()
                )
            }
            SignedError::ResponseTooLarge { label, len } => write!(
                f,
                "response {label} is {len} bytes, more than the edns size {EDNS_UDP_SIZE}"
            ),
            SignedError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            SignedError::Generate(error) => write!(f, "encoding failed: {error}"),
        }
    }
}

impl std::error::Error for SignedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SignedError::Io { error, .. } => Some(error),
            SignedError::Generate(error) => Some(error),
            _ => None,
        }
    }
}

impl From<GenerateError> for SignedError {
    fn from(error: GenerateError) -> Self {
        SignedError::Generate(error)
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> SignedError + '_ {
    move |error| SignedError::Io {
        path: path.to_owned(),
        error,
    }
}

/// Signs the zones with fresh keys of `algorithm` and writes `dir/signed.pcap` and
/// `dir/anchors.txt`; the keys, zone files and signed zones are left in `dir/bind/` (emptied
/// first if it exists). `dir` must exist.
///
/// Needs `dnssec-keygen`, `dnssec-signzone` and `dnssec-dsfromkey` on the `PATH`. RSA keys take
/// about a second each to make; the other algorithms take a few milliseconds.
///
/// The same as [`write_signed_capture_with`] and [`Denial::Nsec`].
pub fn write_signed_capture(dir: &Path, algorithm: u8) -> Result<SignedCapture, SignedError> {
    write_signed_capture_with(dir, algorithm, Denial::Nsec)
}

/// [`write_signed_capture`], the zone `test.` proving the absence of the DS of `unsigned.test.`
/// as `denial` says. Only the `ds_unsigned` response's authority section (and the zone files in
/// `dir/bind/`) differ from one choice to another: the steps, frame numbers and keys are the
/// same.
pub fn write_signed_capture_with(
    dir: &Path,
    algorithm: u8,
    denial: Denial,
) -> Result<SignedCapture, SignedError> {
    if !SUPPORTED_ALGORITHMS.contains(&algorithm) {
        return Err(SignedError::UnsupportedAlgorithm { algorithm });
    }
    let work = dir.join("bind");
    if work.exists() {
        fs::remove_dir_all(&work).map_err(io_error(&work))?;
    }
    fs::create_dir_all(&work).map_err(io_error(&work))?;
    let zones = sign_zones(&work, algorithm, denial)?;
    let anchors = dir.join("anchors.txt");
    fs::write(&anchors, &zones.anchor).map_err(io_error(&anchors))?;
    let pcap = dir.join("signed.pcap");
    let frames = write_capture(&pcap, &zones)?;
    Ok(SignedCapture {
        pcap,
        anchors,
        frames,
        key_tags: zones.key_tags,
    })
}

// ---------------------------------------------------------------------------------------------
// Running the tools

/// Runs a BIND tool in `work` and returns its standard output.
fn run(tool: &'static str, work: &Path, args: &[&str]) -> Result<String, SignedError> {
    let output = Command::new(tool)
        .args(args)
        .current_dir(work)
        .output()
        .map_err(|error| {
            if error.kind() == io::ErrorKind::NotFound {
                SignedError::ToolMissing { tool }
            } else {
                SignedError::Io {
                    path: PathBuf::from(tool),
                    error,
                }
            }
        })?;
    if !output.status.success() {
        return Err(SignedError::ToolFailed {
            tool,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A key `dnssec-keygen` made.
#[derive(Debug, Clone)]
struct Key {
    /// File name of the public key, `K<zone>+<alg>+<tag>.key`, in the work directory.
    file: String,
    /// Key tag.
    tag: u16,
}

/// Makes a key for `zone` whose tag differs from every tag in `taken`.
fn make_key(
    work: &Path,
    name: &'static str,
    zone: &str,
    algorithm: u8,
    ksk: bool,
    taken: &[u16],
) -> Result<Key, SignedError> {
    let algorithm_text = algorithm.to_string();
    let bits = RSA_KEY_BITS.to_string();
    let mut args = vec!["-q", "-a", algorithm_text.as_str()];
    if matches!(algorithm, 8 | 10) {
        args.extend(["-b", bits.as_str()]);
    }
    if ksk {
        args.extend(["-f", "KSK"]);
    }
    args.extend(["-n", "ZONE", "-K", ".", zone]);
    for _ in 0..KEYGEN_ATTEMPTS {
        let stdout = run("dnssec-keygen", work, &args)?;
        let base = stdout.trim();
        let tag = base
            .rsplit_once('+')
            .and_then(|(_, tag)| tag.parse::<u16>().ok())
            .ok_or_else(|| SignedError::Parse {
                file: PathBuf::from("dnssec-keygen output"),
                line: 1,
                reason: "not a key name K<zone>+<alg>+<tag>",
                text: base.to_owned(),
            })?;
        if !taken.contains(&tag) {
            return Ok(Key {
                file: format!("{base}.key"),
                tag,
            });
        }
        for extension in ["key", "private", "state"] {
            let path = work.join(format!("{base}.{extension}"));
            if path.exists() {
                fs::remove_file(&path).map_err(io_error(&path))?;
            }
        }
    }
    Err(SignedError::KeyTagCollision { key: name })
}

/// The DNSKEY lines of a `.key` file (its comment lines dropped).
fn key_lines(work: &Path, key: &Key) -> Result<String, SignedError> {
    let path = work.join(&key.file);
    let text = fs::read_to_string(&path).map_err(io_error(&path))?;
    Ok(text
        .lines()
        .filter(|line| !line.trim_start().starts_with(';') && !line.trim().is_empty())
        .map(|line| format!("{line}\n"))
        .collect())
}

/// The parsed output of every signing, and the keys.
struct Zones {
    test: SignedZone,
    good: SignedZone,
    good_expired: SignedZone,
    good_rollover: SignedZone,
    good_future: SignedZone,
    test_ds_change: SignedZone,
    anchor: String,
    key_tags: BTreeMap<String, u16>,
    denial: Denial,
}

const TEST_ZONE: &str = "\
$TTL 3600
test. IN SOA ns.test. hostmaster.test. 2026010101 7200 3600 1209600 3600
test. IN NS ns.test.
ns.test. IN A 192.0.2.1
good.test. IN NS ns.good.test.
ns.good.test. IN A 192.0.2.2
unsigned.test. IN NS ns.unsigned.test.
ns.unsigned.test. IN A 192.0.2.3
";

const GOOD_ZONE: &str = "\
$TTL 3600
good.test. IN SOA ns.good.test. hostmaster.good.test. 2026010101 7200 3600 1209600 3600
good.test. IN NS ns.good.test.
good.test. IN MX 10 mail.good.test.
ns.good.test. IN A 192.0.2.2
www.good.test. 300 IN A 192.0.2.80
mail.good.test. IN A 192.0.2.25
old.good.test. IN A 192.0.2.81
new.good.test. IN A 192.0.2.82
";

/// Signs `zone_text` (with the DNSKEY lines of `keys` appended) as `origin` in the window
/// `inception..expiration` with `keys`, the KSKs signing only the DNSKEY set (`-x`), and parses
/// the result. `verify` false skips `dnssec-signzone`'s check of the signed zone (`-P`), which
/// rejects signatures that have already expired or are not yet valid. `chain` goes on the
/// command line after those: the NSEC3 options, or nothing for NSEC.
#[allow(clippy::too_many_arguments)]
fn sign(
    work: &Path,
    origin: &str,
    zone_text: &str,
    keys: &[&Key],
    window: (&str, &str),
    verify: bool,
    chain: &[&str],
    output: &str,
) -> Result<SignedZone, SignedError> {
    let input = format!("{output}.zone");
    let mut text = zone_text.to_owned();
    for key in keys {
        text.push_str(&key_lines(work, key)?);
    }
    let input_path = work.join(&input);
    fs::write(&input_path, text).map_err(io_error(&input_path))?;
    let mut args = vec!["-x", "-O", "full", "-o", origin];
    if !verify {
        args.push("-P");
    }
    args.extend(chain);
    args.extend([
        "-s", window.0, "-e", window.1, "-K", ".", "-d", ".", "-f", output, &input,
    ]);
    args.extend(keys.iter().map(|key| key.file.as_str()));
    run("dnssec-signzone", work, &args)?;
    SignedZone::read(&work.join(output))
}

/// The `dnssec-signzone` options of the chain of `test.`.
fn chain_options(denial: Denial, iterations: &str) -> Vec<&str> {
    match denial {
        Denial::Nsec => Vec::new(),
        Denial::Nsec3 => vec!["-3", NSEC3_SALT, "-H", iterations],
        Denial::Nsec3OptOut => vec!["-3", NSEC3_SALT, "-H", iterations, "-A"],
    }
}

fn sign_zones(work: &Path, algorithm: u8, denial: Denial) -> Result<Zones, SignedError> {
    let mut taken = Vec::with_capacity(KEY_NAMES.len());
    let mut next_key = |name: &'static str, zone: &str, ksk: bool| {
        let key = make_key(work, name, zone, algorithm, ksk, &taken)?;
        taken.push(key.tag);
        Ok::<Key, SignedError>(key)
    };
    let test_ksk = next_key("test.ksk", "test.", true)?;
    let test_zsk = next_key("test.zsk", "test.", false)?;
    let good_ksk = next_key("good.test.ksk", "good.test.", true)?;
    let good_zsk = next_key("good.test.zsk", "good.test.", false)?;
    let good_zsk2 = next_key("good.test.zsk2", "good.test.", false)?;
    let good_ksk2 = next_key("good.test.ksk2", "good.test.", true)?;

    let valid = (VALID_INCEPTION, VALID_EXPIRATION);
    let expired = (EXPIRED_INCEPTION, EXPIRED_EXPIRATION);
    let good_keys = [&good_ksk, &good_zsk];
    let good = sign(
        work,
        "good.test.",
        GOOD_ZONE,
        &good_keys,
        valid,
        true,
        &[],
        "good.test.signed",
    )?;
    let good_expired = sign(
        work,
        "good.test.",
        GOOD_ZONE,
        &good_keys,
        expired,
        false,
        &[],
        "good.test.expired.signed",
    )?;
    let good_rollover = sign(
        work,
        "good.test.",
        GOOD_ZONE,
        &[&good_ksk, &good_zsk, &good_zsk2],
        valid,
        true,
        &[],
        "good.test.rollover.signed",
    )?;
    let good_future = sign(
        work,
        "good.test.",
        GOOD_ZONE,
        &good_keys,
        (FUTURE_INCEPTION, FUTURE_EXPIRATION),
        false,
        &[],
        "good.test.future.signed",
    )?;

    let ds = run("dnssec-dsfromkey", work, &["-2", &good_ksk.file])?;
    let iterations = NSEC3_ITERATIONS.to_string();
    let test = sign(
        work,
        "test.",
        &format!("{TEST_ZONE}{}\n", ds.trim_end()),
        &[&test_ksk, &test_zsk],
        valid,
        true,
        &chain_options(denial, &iterations),
        "test.signed",
    )?;
    let ds2 = run("dnssec-dsfromkey", work, &["-2", &good_ksk2.file])?;
    let test_ds_change = sign(
        work,
        "test.",
        &format!("{TEST_ZONE}{}\n{}\n", ds.trim_end(), ds2.trim_end()),
        &[&test_ksk, &test_zsk],
        valid,
        true,
        &chain_options(denial, &iterations),
        "test.ds-change.signed",
    )?;
    let anchor = run("dnssec-dsfromkey", work, &["-2", &test_ksk.file])?;

    let key_tags = [
        ("test.ksk", &test_ksk),
        ("test.zsk", &test_zsk),
        ("good.test.ksk", &good_ksk),
        ("good.test.zsk", &good_zsk),
        ("good.test.zsk2", &good_zsk2),
        ("good.test.ksk2", &good_ksk2),
    ]
    .into_iter()
    .map(|(name, key)| (name.to_owned(), key.tag))
    .collect();
    Ok(Zones {
        test,
        good,
        good_expired,
        good_rollover,
        good_future,
        test_ds_change,
        anchor,
        key_tags,
        denial,
    })
}

// ---------------------------------------------------------------------------------------------
// Parsing the signed zones

/// One record of a signed zone, its data in wire format.
#[derive(Debug, Clone)]
struct ZoneRecord {
    /// Owner, dotted without the trailing dot, as `dnssec-signzone` printed it.
    owner: String,
    ttl: u32,
    rtype: u16,
    data: Vec<u8>,
}

impl ZoneRecord {
    fn to_record(&self) -> Record {
        Record {
            owner: self.owner.clone(),
            ttl: self.ttl,
            data: Rdata::Raw {
                rtype: self.rtype,
                data: self.data.clone(),
            },
        }
    }

    /// The type an RRSIG covers (its first two rdata bytes).
    fn type_covered(&self) -> Option<u16> {
        match self.data.get(..2) {
            Some(&[high, low]) => Some(u16::from_be_bytes([high, low])),
            _ => None,
        }
    }
}

/// A zone as `dnssec-signzone -O full` wrote it: one record per line, absolute names.
struct SignedZone {
    file: PathBuf,
    records: Vec<ZoneRecord>,
}

impl SignedZone {
    fn read(path: &Path) -> Result<SignedZone, SignedError> {
        let text = fs::read_to_string(path).map_err(io_error(path))?;
        let mut records = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let parse_error = |reason| SignedError::Parse {
                file: path.to_owned(),
                line: index + 1,
                reason,
                text: line.to_owned(),
            };
            if let Some(record) = parse_line(line).map_err(parse_error)? {
                records.push(record);
            }
        }
        Ok(SignedZone {
            file: path.to_owned(),
            records,
        })
    }

    fn missing(&self, owner: &str, rtype: u16, signature: bool) -> SignedError {
        SignedError::MissingRecord {
            file: self.file.clone(),
            owner: owner.to_owned(),
            rtype,
            signature,
        }
    }

    /// The records of type `rtype` at `owner` (dotted, no trailing dot), at least one.
    fn rrset(&self, owner: &str, rtype: u16) -> Result<Vec<Record>, SignedError> {
        let found: Vec<Record> = self
            .records
            .iter()
            .filter(|r| r.rtype == rtype && r.owner.eq_ignore_ascii_case(owner))
            .map(ZoneRecord::to_record)
            .collect();
        if found.is_empty() {
            return Err(self.missing(owner, rtype, false));
        }
        Ok(found)
    }

    /// The RRSIGs over the `covered` set at `owner`, at least one.
    fn signatures(&self, owner: &str, covered: u16) -> Result<Vec<Record>, SignedError> {
        let found: Vec<Record> = self
            .records
            .iter()
            .filter(|r| {
                r.rtype == TYPE_RRSIG
                    && r.type_covered() == Some(covered)
                    && r.owner.eq_ignore_ascii_case(owner)
            })
            .map(ZoneRecord::to_record)
            .collect();
        if found.is_empty() {
            return Err(self.missing(owner, covered, true));
        }
        Ok(found)
    }

    /// The set and the signatures over it.
    fn signed_rrset(&self, owner: &str, rtype: u16) -> Result<Vec<Record>, SignedError> {
        let mut records = self.rrset(owner, rtype)?;
        records.extend(self.signatures(owner, rtype)?);
        Ok(records)
    }

    /// The NSEC3 records with their hashed owners (the first label, decoded), next hashed
    /// owners and flags.
    fn nsec3_chain(&self) -> impl Iterator<Item = (&ZoneRecord, Vec<u8>, &[u8], u8)> {
        self.records
            .iter()
            .filter(|record| record.rtype == TYPE_NSEC3)
            .filter_map(|record| {
                let label = record.owner.split('.').next()?;
                let owner_hash = decode_base32hex(label).ok()?;
                let (flags, next) = nsec3_fields(&record.data)?;
                Some((record, owner_hash, next, flags))
            })
    }

    /// The NSEC3 whose hashed owner is `hash`, with its signatures.
    fn nsec3_matching(&self, hash: &[u8], zone: &str) -> Result<Vec<Record>, SignedError> {
        let owner = format!("{}.{zone}", encode_base32hex(hash));
        match self
            .nsec3_chain()
            .find(|(_, owner_hash, _, _)| owner_hash == hash)
        {
            Some((record, ..)) => self.signed_rrset(&record.owner, TYPE_NSEC3),
            None => Err(self.missing(&owner, TYPE_NSEC3, false)),
        }
    }

    /// The opt-out NSEC3 covering `hash` (RFC 5155 section 1.3: its hashed owner sorts before
    /// `hash` and its next hashed owner after, or the chain wraps around between them), with its
    /// signatures.
    fn nsec3_covering_opt_out(&self, hash: &[u8], zone: &str) -> Result<Vec<Record>, SignedError> {
        let covering = self.nsec3_chain().find(|(_, owner, next, flags)| {
            let (owner, next) = (owner.as_slice(), *next);
            let covers = if owner < next {
                owner < hash && hash < next
            } else {
                // The last record of the chain: its next is the first.
                hash > owner || hash < next
            };
            covers && flags & NSEC3_FLAG_OPT_OUT != 0
        });
        match covering {
            Some((record, ..)) => self.signed_rrset(&record.owner, TYPE_NSEC3),
            None => Err(self.missing(
                &format!("{}.{zone}", encode_base32hex(hash)),
                TYPE_NSEC3,
                false,
            )),
        }
    }
}

/// The flags and the next hashed owner of NSEC3 rdata (RFC 5155 section 3.2); `None` unless
/// the hash is SHA-1.
fn nsec3_fields(data: &[u8]) -> Option<(u8, &[u8])> {
    if *data.first()? != NSEC3_HASH_SHA1 {
        return None;
    }
    let flags = *data.get(1)?;
    let salt_len = usize::from(*data.get(4)?);
    let hash_len = usize::from(*data.get(5 + salt_len)?);
    let next = data.get(6 + salt_len..6 + salt_len + hash_len)?;
    Some((flags, next))
}

/// The NSEC3 hash of `name` (RFC 5155 section 5): SHA-1 of the name's canonical wire form and
/// the salt, then `iterations` times of the digest and the salt.
///
/// > IH(salt, x, 0) = H(x || salt), and
/// > IH(salt, x, k) = H(IH(salt, x, k-1) || salt), if k > 0
pub fn nsec3_hash(name: &str, salt: &[u8], iterations: u16) -> Result<[u8; 20], &'static str> {
    let absolute = if name.ends_with('.') {
        name.to_ascii_lowercase()
    } else {
        format!("{}.", name.to_ascii_lowercase())
    };
    let mut input = encode_name(&absolute)?;
    input.extend_from_slice(salt);
    let mut digest = sha1(&input);
    for _ in 0..iterations {
        let mut next = digest.to_vec();
        next.extend_from_slice(salt);
        digest = sha1(&next);
    }
    Ok(digest)
}

/// SHA-1 (FIPS 180-4 section 6.1), for NSEC3 hashes only.
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut state: [u32; 5] = [
        0x6745_2301,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    let mut message = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut schedule: Vec<u32> = block
            .chunks_exact(4)
            .map(|word| <[u8; 4]>::try_from(word).map_or(0, u32::from_be_bytes))
            .collect();
        for t in 16..80 {
            let word = [3, 8, 14, 16].iter().fold(0, |acc, back| {
                acc ^ schedule.get(t - back).copied().unwrap_or(0)
            });
            schedule.push(word.rotate_left(1));
        }
        let [mut a, mut b, mut c, mut d, mut e] = state;
        for (t, word) in schedule.iter().enumerate() {
            let (f, k) = match t {
                0..=19 => ((b & c) | (!b & d), 0x5a82_7999),
                20..=39 => (b ^ c ^ d, 0x6ed9_eba1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
                _ => (b ^ c ^ d, 0xca62_c1d6),
            };
            let temp = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*word);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = temp;
        }
        for (word, add) in state.iter_mut().zip([a, b, c, d, e]) {
            *word = word.wrapping_add(add);
        }
    }
    let mut digest = [0u8; 20];
    for (byte, value) in digest
        .iter_mut()
        .zip(state.iter().flat_map(|word| word.to_be_bytes()))
    {
        *byte = value;
    }
    digest
}

/// Encodes bytes in base32 with the extended-hex alphabet, upper case, without padding (RFC
/// 4648 section 7; RFC 5155 section 3.3).
pub fn encode_base32hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut accumulator: u32 = 0;
    let mut bits = 0;
    let mut push = |value: u32| {
        let digit = BASE32HEX
            .get(value as usize & 0x1f)
            .copied()
            .unwrap_or(b'0');
        out.push(char::from(digit));
    };
    for byte in bytes {
        accumulator = (accumulator << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            push(accumulator >> bits);
        }
        accumulator &= (1 << bits) - 1;
    }
    if bits > 0 {
        push(accumulator << (5 - bits));
    }
    out
}

/// Decodes unpadded base32hex, either case (RFC 4648 section 7).
fn decode_base32hex(text: &str) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut accumulator: u32 = 0;
    let mut bits = 0;
    for byte in text.bytes() {
        let value = BASE32HEX
            .iter()
            .position(|digit| digit.eq_ignore_ascii_case(&byte))
            .ok_or("bad base32hex character")?;
        accumulator = (accumulator << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((accumulator >> bits) as u8);
            accumulator &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// Record types by mnemonic (RFC 3597 section 5's `TYPEnnn` is also accepted).
const TYPE_MNEMONICS: [(&str, u16); 16] = [
    ("A", TYPE_A),
    ("NS", TYPE_NS),
    ("CNAME", TYPE_CNAME),
    ("SOA", TYPE_SOA),
    ("PTR", TYPE_PTR),
    ("MX", TYPE_MX),
    ("TXT", TYPE_TXT),
    ("AAAA", TYPE_AAAA),
    ("DS", TYPE_DS),
    ("RRSIG", TYPE_RRSIG),
    ("NSEC", TYPE_NSEC),
    ("DNSKEY", TYPE_DNSKEY),
    ("NSEC3", 50),
    ("NSEC3PARAM", 51),
    ("CDS", 59),
    ("CDNSKEY", 60),
];

fn parse_type(text: &str) -> Option<u16> {
    if let Some((_, value)) = TYPE_MNEMONICS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
    {
        return Some(*value);
    }
    let digits = text
        .strip_prefix("TYPE")
        .or_else(|| text.strip_prefix("type"))?;
    digits.parse().ok()
}

/// Parses one line of `-O full` output: `owner ttl class type rdata...`. Comments and blank
/// lines give `None`, as do records of types the capture never uses.
fn parse_line(line: &str) -> Result<Option<ZoneRecord>, &'static str> {
    let content = line.split(';').next().unwrap_or("");
    let mut tokens = content.split_whitespace();
    let Some(owner) = tokens.next() else {
        return Ok(None);
    };
    let ttl = tokens
        .next()
        .and_then(|ttl| ttl.parse::<u32>().ok())
        .ok_or("no ttl")?;
    if !tokens
        .next()
        .is_some_and(|class| class.eq_ignore_ascii_case("IN"))
    {
        return Err("class is not IN");
    }
    let rtype = tokens.next().and_then(parse_type).ok_or("unknown type")?;
    let fields: Vec<&str> = tokens.collect();
    let Some(data) = encode_rdata(rtype, &fields)? else {
        return Ok(None);
    };
    encode_name(owner)?;
    let owner = owner.strip_suffix('.').ok_or("relative owner name")?;
    Ok(Some(ZoneRecord {
        owner: owner.to_owned(),
        ttl,
        rtype,
        data,
    }))
}

/// Encodes the presentation-format rdata of the types the capture uses (RFC 1035 section 3.3,
/// RFC 4034 sections 2.2, 3.2, 4.2 and 5.3); `None` for other types.
fn encode_rdata(rtype: u16, fields: &[&str]) -> Result<Option<Vec<u8>>, &'static str> {
    let mut out = Vec::new();
    match (rtype, fields) {
        (TYPE_A, [address]) => {
            let address: Ipv4Addr = address.parse().map_err(|_| "bad ipv4 address")?;
            out.extend_from_slice(&address.octets());
        }
        (TYPE_NS, [host]) => out.extend(encode_name(host)?),
        (TYPE_MX, [preference, host]) => {
            out.extend_from_slice(&parse_u16(preference)?.to_be_bytes());
            out.extend(encode_name(host)?);
        }
        (TYPE_SOA, [mname, rname, numbers @ ..]) if numbers.len() == 5 => {
            out.extend(encode_name(mname)?);
            out.extend(encode_name(rname)?);
            for number in numbers {
                out.extend_from_slice(&parse_u32(number)?.to_be_bytes());
            }
        }
        (TYPE_DNSKEY, [flags, protocol, algorithm, key @ ..]) if !key.is_empty() => {
            out.extend_from_slice(&parse_u16(flags)?.to_be_bytes());
            out.push(parse_u8(protocol)?);
            out.push(parse_u8(algorithm)?);
            out.extend(decode_base64(&key.concat())?);
        }
        (TYPE_DS, [key_tag, algorithm, digest_type, digest @ ..]) if !digest.is_empty() => {
            out.extend_from_slice(&parse_u16(key_tag)?.to_be_bytes());
            out.push(parse_u8(algorithm)?);
            out.push(parse_u8(digest_type)?);
            out.extend(decode_hex(&digest.concat())?);
        }
        (
            TYPE_RRSIG,
            [covered, algorithm, labels, original_ttl, expiration, inception, key_tag, signer, signature @ ..],
        ) if !signature.is_empty() => {
            let covered = parse_type(covered).ok_or("unknown type covered")?;
            out.extend_from_slice(&covered.to_be_bytes());
            out.push(parse_u8(algorithm)?);
            out.push(parse_u8(labels)?);
            out.extend_from_slice(&parse_u32(original_ttl)?.to_be_bytes());
            out.extend_from_slice(&parse_time(expiration)?.to_be_bytes());
            out.extend_from_slice(&parse_time(inception)?.to_be_bytes());
            out.extend_from_slice(&parse_u16(key_tag)?.to_be_bytes());
            out.extend(encode_name(signer)?);
            out.extend(decode_base64(&signature.concat())?);
        }
        (TYPE_NSEC, [next, types @ ..]) => {
            out.extend(encode_name(next)?);
            out.extend(type_bitmap(&parse_types(types)?));
        }
        (TYPE_NSEC3, [algorithm, flags, iterations, salt, next, types @ ..]) => {
            out.push(parse_u8(algorithm)?);
            out.push(parse_u8(flags)?);
            out.extend_from_slice(&parse_u16(iterations)?.to_be_bytes());
            // RFC 5155 section 3.3: "-" is the empty salt.
            let salt = if *salt == "-" {
                Vec::new()
            } else {
                decode_hex(salt)?
            };
            out.push(u8::try_from(salt.len()).map_err(|_| "nsec3 salt too long")?);
            out.extend(salt);
            let next = decode_base32hex(next)?;
            out.push(u8::try_from(next.len()).map_err(|_| "nsec3 hash too long")?);
            out.extend(next);
            out.extend(type_bitmap(&parse_types(types)?));
        }
        (
            TYPE_A | TYPE_NS | TYPE_MX | TYPE_SOA | TYPE_DNSKEY | TYPE_DS | TYPE_RRSIG | TYPE_NSEC3,
            _,
        ) => {
            return Err("wrong number of rdata fields");
        }
        _ => return Ok(None),
    }
    Ok(Some(out))
}

/// The types of an NSEC or NSEC3 bitmap in presentation format.
fn parse_types(types: &[&str]) -> Result<Vec<u16>, &'static str> {
    types
        .iter()
        .map(|text| parse_type(text).ok_or("unknown type in nsec bitmap"))
        .collect()
}

fn parse_u8(text: &str) -> Result<u8, &'static str> {
    text.parse().map_err(|_| "not an 8-bit number")
}

fn parse_u16(text: &str) -> Result<u16, &'static str> {
    text.parse().map_err(|_| "not a 16-bit number")
}

fn parse_u32(text: &str) -> Result<u32, &'static str> {
    text.parse().map_err(|_| "not a 32-bit number")
}

/// Encodes an absolute name, uncompressed and in the case given (RFC 1035 section 3.1).
/// Escapes (`\.`, `\DDD`) never occur in these zones and are refused.
fn encode_name(text: &str) -> Result<Vec<u8>, &'static str> {
    if text.contains('\\') {
        return Err("escaped names are not supported");
    }
    let relative = text.strip_suffix('.').ok_or("relative name")?;
    let mut out = Vec::with_capacity(text.len() + 1);
    if !relative.is_empty() {
        for label in relative.split('.') {
            if label.is_empty() || label.len() > MAX_LABEL_LEN {
                return Err("bad label length");
            }
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    if out.len() > MAX_NAME_LEN {
        return Err("name longer than 255 bytes");
    }
    Ok(out)
}

/// The type bitmap of an NSEC record (RFC 4034 section 4.1.2).
///
/// > The RR type space is split into 256 window blocks, each representing the low-order 8 bits
/// > of the 16-bit RR type space. Each block that has at least one active RR type is encoded
/// > using a single octet window number (from 0 to 255), a single octet bitmap length (from 1
/// > to 32) indicating the number of octets used for the window block's bitmap, and up to 32
/// > octets (256 bits) of bitmap.
/// >
/// > Blocks are present in the NSEC RR RDATA in increasing numerical order.
fn type_bitmap(types: &[u16]) -> Vec<u8> {
    let mut windows: BTreeMap<u8, [u8; 32]> = BTreeMap::new();
    for rtype in types {
        let [window, low] = rtype.to_be_bytes();
        let bitmap = windows.entry(window).or_insert([0; 32]);
        if let Some(byte) = bitmap.get_mut(usize::from(low / 8)) {
            *byte |= 0x80 >> (low % 8);
        }
    }
    let mut out = Vec::new();
    for (window, bitmap) in windows {
        let len = bitmap
            .iter()
            .rposition(|byte| *byte != 0)
            .map_or(0, |at| at + 1);
        out.push(window);
        out.push(len as u8);
        out.extend(bitmap.iter().take(len));
    }
    out
}

/// Parses an RRSIG time (RFC 4034 section 3.2): `YYYYMMDDHHmmSS` in UTC, or seconds since the
/// epoch.
fn parse_time(text: &str) -> Result<u32, &'static str> {
    if !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err("bad signature time");
    }
    if text.len() != 14 {
        return parse_u32(text);
    }
    let field = |range: std::ops::Range<usize>| -> Result<i64, &'static str> {
        text.get(range)
            .and_then(|digits| digits.parse().ok())
            .ok_or("bad signature time")
    };
    let (year, month, day) = (field(0..4)?, field(4..6)?, field(6..8)?);
    let (hour, minute, second) = (field(8..10)?, field(10..12)?, field(12..14)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return Err("bad signature time");
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second;
    u32::try_from(seconds).map_err(|_| "signature time out of range")
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Decodes base64 with padding (RFC 4648 section 4).
fn decode_base64(text: &str) -> Result<Vec<u8>, &'static str> {
    let body = text.trim_end_matches('=');
    if text.len() % 4 != 0 || text.len() - body.len() > 2 {
        return Err("bad base64 length");
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut accumulator: u32 = 0;
    let mut bits = 0;
    for byte in body.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err("bad base64 character"),
        };
        accumulator = (accumulator << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((accumulator >> bits) as u8);
            accumulator &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// Decodes hexadecimal digits, either case.
fn decode_hex(text: &str) -> Result<Vec<u8>, &'static str> {
    let digit = |byte: u8| match byte {
        b'0'..=b'9' => Ok(byte - b'0'),
        b'a'..=b'f' => Ok(byte - b'a' + 10),
        b'A'..=b'F' => Ok(byte - b'A' + 10),
        _ => Err("bad hex digit"),
    };
    let bytes = text.as_bytes();
    if bytes.len() % 2 != 0 {
        return Err("odd number of hex digits");
    }
    bytes
        .chunks_exact(2)
        .map(|pair| match pair {
            [high, low] => Ok((digit(*high)? << 4) | digit(*low)?),
            _ => Err("odd number of hex digits"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Writing the capture

/// One exchange: who asks whom, what, and what comes back.
struct Step {
    label: &'static str,
    /// Packet time of the query, ns after [`T0_SECS`].
    time_ns: u64,
    /// True for the client-to-resolver steps.
    downstream: bool,
    /// The server asked (upstream steps).
    server: Ipv4Addr,
    qname: &'static str,
    qtype: u16,
    /// Response flags besides QR and the RCODE.
    flags: u16,
    rcode: u16,
    answer: Vec<Record>,
    authority: Vec<Record>,
    additional: Vec<Record>,
}

impl Step {
    fn upstream(
        index: u64,
        label: &'static str,
        server: Ipv4Addr,
        question: (&'static str, u16),
    ) -> Step {
        Step {
            label,
            time_ns: index * UPSTREAM_STEP_NS,
            downstream: false,
            server,
            qname: question.0,
            qtype: question.1,
            flags: FLAG_AA,
            rcode: RCODE_NOERROR,
            answer: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        }
    }

    fn downstream(index: u64, label: &'static str, question: (&'static str, u16)) -> Step {
        Step {
            label,
            time_ns: DOWNSTREAM_START_NS + index * DOWNSTREAM_STEP_NS,
            downstream: true,
            server: RESOLVER,
            qname: question.0,
            qtype: question.1,
            flags: FLAG_RD | FLAG_RA,
            rcode: RCODE_NOERROR,
            answer: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        }
    }

    fn answer(mut self, records: Vec<Record>) -> Step {
        self.answer = records;
        self
    }
}

/// IP TTL of each server's packets at the capture point (fixed per server: the path from each
/// is one route).
fn server_ip_ttl(server: Ipv4Addr) -> u8 {
    match server.octets() {
        [_, _, _, 1] => 57,
        [_, _, _, 2] => 55,
        _ => 58,
    }
}

fn a_record(owner: &str, ttl: u32, address: Ipv4Addr) -> Record {
    Record {
        owner: owner.to_owned(),
        ttl,
        data: Rdata::A(address),
    }
}

/// Flips the last bit of the signature of every RRSIG in `records`.
fn corrupt_signatures(records: &mut [Record]) {
    for record in records {
        if let Rdata::Raw { rtype, data } = &mut record.data {
            if *rtype == TYPE_RRSIG {
                if let Some(last) = data.last_mut() {
                    *last ^= 0x01;
                }
            }
        }
    }
}

/// The records of `test.` proving that `unsigned.test.` has no DS, with their signatures.
fn denial_records(zones: &Zones) -> Result<Vec<Record>, SignedError> {
    let test = &zones.test;
    if zones.denial == Denial::Nsec {
        return test.signed_rrset("unsigned.test", TYPE_NSEC);
    }
    let salt = decode_hex(NSEC3_SALT).map_err(|reason| SignedError::Parse {
        file: PathBuf::from("NSEC3_SALT"),
        line: 1,
        reason,
        text: NSEC3_SALT.to_owned(),
    })?;
    let hash = |name: &str| {
        nsec3_hash(name, &salt, NSEC3_ITERATIONS).map_err(|reason| SignedError::Parse {
            file: test.file.clone(),
            line: 0,
            reason,
            text: name.to_owned(),
        })
    };
    let delegation = hash("unsigned.test.")?;
    if zones.denial == Denial::Nsec3 {
        return test.nsec3_matching(&delegation, "test");
    }
    let mut records = test.nsec3_matching(&hash("test.")?, "test")?;
    for record in test.nsec3_covering_opt_out(&delegation, "test")? {
        if !records.contains(&record) {
            records.push(record);
        }
    }
    Ok(records)
}

fn steps(zones: &Zones) -> Result<Vec<Step>, SignedError> {
    let www = "www.good.test";
    let www_a = zones.good.rrset(www, TYPE_A)?;
    let www_sig = zones.good.signatures(www, TYPE_A)?;
    let www_ttl = www_a.first().map_or(300, |record| record.ttl);
    let mut signed_www = www_a.clone();
    signed_www.extend(www_sig.iter().cloned());
    let mut corrupted = signed_www.clone();
    corrupt_signatures(&mut corrupted);
    let mut forged = vec![a_record(www, www_ttl, FORGED_SIG_ADDRESS)];
    forged.extend(www_sig.iter().cloned());
    let mut expired = zones.good.rrset("old.good.test", TYPE_A)?;
    expired.extend(zones.good_expired.signatures("old.good.test", TYPE_A)?);

    let mut list = vec![
        Step::upstream(0, "answer_before_keys", GOOD_SERVER, (www, TYPE_A)).answer(signed_www),
        Step::upstream(1, "dnskey_test", TEST_SERVER, ("test", TYPE_DNSKEY))
            .answer(zones.test.signed_rrset("test", TYPE_DNSKEY)?),
        Step::upstream(2, "ds_good", TEST_SERVER, ("good.test", TYPE_DS))
            .answer(zones.test.signed_rrset("good.test", TYPE_DS)?),
        Step::upstream(3, "dnskey_good", GOOD_SERVER, ("good.test", TYPE_DNSKEY))
            .answer(zones.good.signed_rrset("good.test", TYPE_DNSKEY)?),
    ];
    let mut mx = Step::upstream(4, "mx_good", GOOD_SERVER, ("good.test", TYPE_MX))
        .answer(zones.good.signed_rrset("good.test", TYPE_MX)?);
    mx.additional = zones.good.signed_rrset("mail.good.test", TYPE_A)?;
    list.push(mx);
    let mut nodata = Step::upstream(5, "ds_unsigned", TEST_SERVER, ("unsigned.test", TYPE_DS));
    nodata.authority = zones.test.signed_rrset("test", TYPE_SOA)?;
    nodata.authority.extend(denial_records(zones)?);
    list.push(nodata);
    list.extend([
        Step::upstream(
            6,
            "www_unsigned",
            UNSIGNED_SERVER,
            ("www.unsigned.test", TYPE_A),
        )
        .answer(vec![a_record(
            "www.unsigned.test",
            300,
            Ipv4Addr::new(192, 0, 2, 90),
        )]),
        Step::upstream(7, "stripped", GOOD_SERVER, (www, TYPE_A)).answer(vec![a_record(
            www,
            www_ttl,
            STRIPPED_ADDRESS,
        )]),
        Step::upstream(8, "corrupted", GOOD_SERVER, (www, TYPE_A)).answer(corrupted),
        Step::upstream(9, "forged_sig", GOOD_SERVER, (www, TYPE_A)).answer(forged),
        Step::upstream(10, "expired", GOOD_SERVER, ("old.good.test", TYPE_A)).answer(expired),
        Step::upstream(11, "dnskey_change", GOOD_SERVER, ("good.test", TYPE_DNSKEY))
            .answer(zones.good_rollover.signed_rrset("good.test", TYPE_DNSKEY)?),
    ]);

    // Downstream: the resolver answers from its cache, the TTL counting down from when
    // answer_before_keys brought the record in (at T0).
    let cached = |index: u64| {
        let elapsed_secs = (DOWNSTREAM_START_NS + index * DOWNSTREAM_STEP_NS) / 1_000_000_000;
        let ttl = www_ttl.saturating_sub(u32::try_from(elapsed_secs).unwrap_or(u32::MAX));
        vec![a_record(www, ttl, Ipv4Addr::new(192, 0, 2, 80))]
    };
    let ad_labels = ["ad_1", "ad_2", "ad_3", "ad_4", "ad_5"];
    for (index, label) in (0u64..).zip(ad_labels) {
        let mut step = Step::downstream(index, label, (www, TYPE_A)).answer(cached(index));
        step.flags |= FLAG_AD;
        list.push(step);
    }
    list.push(Step::downstream(5, "ad_lost", (www, TYPE_A)).answer(cached(5)));
    let servfail_labels = [
        "servfail_1",
        "servfail_2",
        "servfail_3",
        "servfail_4",
        "servfail_5",
        "servfail_6",
    ];
    for (index, label) in (6u64..).zip(servfail_labels) {
        let mut step = Step::downstream(index, label, ("mail.good.test", TYPE_A));
        step.rcode = RCODE_SERVFAIL;
        list.push(step);
    }

    // Upstream again, after the downstream steps: a signature whose window has not opened yet,
    // and a DS set that gained a second KSK's DS.
    let new = "new.good.test";
    let mut future = zones.good.rrset(new, TYPE_A)?;
    future.extend(zones.good_future.signatures(new, TYPE_A)?);
    let late = [
        Step::upstream(0, "future_sig", GOOD_SERVER, (new, TYPE_A)).answer(future),
        Step::upstream(1, "ds_change", TEST_SERVER, ("good.test", TYPE_DS))
            .answer(zones.test_ds_change.signed_rrset("good.test", TYPE_DS)?),
    ];
    for mut step in late {
        step.time_ns += LATE_UPSTREAM_START_NS;
        list.push(step);
    }
    Ok(list)
}

fn dnssec_edns() -> Edns {
    Edns {
        udp_size: EDNS_UDP_SIZE,
        dnssec_ok: true,
        cookie: None,
    }
}

/// The query and the response of a step.
fn messages(step: &Step, txid: u16) -> Result<(Vec<u8>, Vec<u8>), SignedError> {
    let mut query = MessageWriter::new(txid, if step.downstream { FLAG_RD } else { 0 });
    query.question(step.qname, step.qtype)?;
    if !step.downstream {
        query.opt(&dnssec_edns())?;
    }
    let mut response = MessageWriter::new(txid, FLAG_QR | step.flags | step.rcode);
    response.question(step.qname, step.qtype)?;
    for record in &step.answer {
        response.answer(record)?;
    }
    for record in &step.authority {
        response.authority(record)?;
    }
    for record in &step.additional {
        response.additional(record)?;
    }
    if !step.downstream {
        response.opt(&dnssec_edns())?;
    }
    let response = response.finish();
    if response.len() > usize::from(EDNS_UDP_SIZE) {
        return Err(SignedError::ResponseTooLarge {
            label: step.label,
            len: response.len(),
        });
    }
    Ok((query.finish(), response))
}

fn write_capture(pcap: &Path, zones: &Zones) -> Result<BTreeMap<String, u64>, SignedError> {
    let file = File::create(pcap).map_err(io_error(pcap))?;
    let mut writer = PcapWriter::new(BufWriter::new(file), TimestampResolution::Microseconds)
        .map_err(io_error(pcap))?;
    let mut rng = SplitMix64::new(SEED);
    let mut frames = BTreeMap::new();
    let mut frame_number = 0u64;
    let mut last_txid = None;
    let t0_ns = T0_SECS * 1_000_000_000;
    for step in steps(zones)? {
        let mut txid = rng.next_u16();
        while Some(txid) == last_txid {
            txid = rng.next_u16();
        }
        last_txid = Some(txid);
        let port = u16::try_from(rng.range(1_024, 65_535)).unwrap_or(40_000);
        let path = if step.downstream {
            WirePath {
                client: Host {
                    mac: CLIENT_MAC,
                    addr: CLIENT.into(),
                    ttl: LOCAL_IP_TTL,
                },
                server: Host {
                    mac: RESOLVER_MAC,
                    addr: RESOLVER.into(),
                    ttl: LOCAL_IP_TTL,
                },
                vlans: Vlans::None,
                flow_label: 0,
            }
        } else {
            WirePath {
                client: Host {
                    mac: RESOLVER_MAC,
                    addr: RESOLVER.into(),
                    ttl: LOCAL_IP_TTL,
                },
                server: Host {
                    mac: GATEWAY_MAC,
                    addr: step.server.into(),
                    ttl: server_ip_ttl(step.server),
                },
                vlans: Vlans::None,
                flow_label: 0,
            }
        };
        let (query, response) = messages(&step, txid)?;
        let time_ns = t0_ns + step.time_ns;
        let exchanges = [
            (Direction::ToServer, (port, 53), query, time_ns),
            (
                Direction::ToClient,
                (53, port),
                response,
                time_ns + RESPONSE_DELAY_NS,
            ),
        ];
        for (direction, ports, payload, at) in exchanges {
            let identification = rng.next_u16();
            // Sent whole (DF): no response exceeds the EDNS size, so none is fragmented.
            for frame in udp_frames(&path, direction, ports, &payload, identification, false)? {
                writer.write_frame(at, &frame).map_err(io_error(pcap))?;
                frame_number += 1;
            }
        }
        frames.insert(step.label.to_owned(), frame_number);
    }
    writer.into_inner().map_err(io_error(pcap))?;
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nsec_bitmap_matches_rfc_4034_example() {
        // RFC 4034 section 4.3: "alfa.example.com. 86400 IN NSEC host.example.com. (
        // A MX RRSIG NSEC TYPE1234 )".
        let bitmap = type_bitmap(&[1, 15, 46, 47, 1234]);
        let mut expected = vec![0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03];
        expected.extend([0x04, 0x1b]);
        expected.extend([0; 26]);
        expected.push(0x20);
        assert_eq!(bitmap, expected);
    }

    #[test]
    fn sha1_matches_fips_180_examples() {
        let hex = |digest: [u8; 20]| -> String {
            digest.iter().map(|byte| format!("{byte:02x}")).collect()
        };
        assert_eq!(
            hex(sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(hex(sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(sha1(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
    }

    #[test]
    fn nsec3_hash_matches_rfc_5155_appendix_a() {
        // RFC 5155 appendix A: salt aabbccdd, 12 iterations.
        let salt = [0xaa, 0xbb, 0xcc, 0xdd];
        for (name, hash) in [
            ("example", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"),
            ("a.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl"),
            ("ai.example", "gjeqe526plbf1g8mklp59enfd789njgi"),
            ("ns1.EXAMPLE.", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"),
        ] {
            let digest = nsec3_hash(name, &salt, 12).unwrap();
            assert_eq!(
                encode_base32hex(&digest),
                hash.to_ascii_uppercase(),
                "{name}"
            );
            assert_eq!(decode_base32hex(hash).unwrap(), digest.to_vec());
        }
        // RFC 4648 section 10's base32hex vectors, unpadded.
        assert_eq!(encode_base32hex(b"f"), "CO");
        assert_eq!(encode_base32hex(b"fooba"), "CPNMUOJ1");
        assert_eq!(encode_base32hex(b"foobar"), "CPNMUOJ1E8");
    }

    #[test]
    fn nsec3_line_parses_to_wire() {
        let line = "5TMAQDENC6054NR178BLKH7M118NFCMH.test.\t      3600 IN NSEC3\t1 1 0 AABBCCDD \
                    NAJ7BBQ948BA8UJ25G0HGACV4C7T46HM A RRSIG";
        let record = parse_line(line).unwrap().unwrap();
        assert_eq!(record.rtype, TYPE_NSEC3);
        let mut expected = vec![1, 1, 0, 0, 4, 0xaa, 0xbb, 0xcc, 0xdd, 20];
        expected.extend(decode_base32hex("NAJ7BBQ948BA8UJ25G0HGACV4C7T46HM").unwrap());
        expected.extend([0x00, 0x06, 0x40, 0x00, 0x00, 0x00, 0x00, 0x02]);
        assert_eq!(record.data, expected);
        let (flags, next) = nsec3_fields(&record.data).unwrap();
        assert_eq!(flags, NSEC3_FLAG_OPT_OUT);
        assert_eq!(encode_base32hex(next), "NAJ7BBQ948BA8UJ25G0HGACV4C7T46HM");
        assert_eq!(Denial::from_name("nsec3-optout"), Some(Denial::Nsec3OptOut));
        assert_eq!(Denial::from_name("nsec5"), None);
    }

    #[test]
    fn rrsig_times_are_utc() {
        // RFC 4034 section 3.3's example: 20030322173103 is 1048354263.
        assert_eq!(parse_time("20030322173103"), Ok(1_048_354_263));
        assert_eq!(parse_time("20260101000000"), Ok(1_767_225_600));
        assert_eq!(parse_time("1048354263"), Ok(1_048_354_263));
        assert!(parse_time("20031322173103").is_err());
    }

    #[test]
    fn base64_and_hex_decode() {
        assert_eq!(decode_base64("Zm9vYg=="), Ok(b"foob".to_vec()));
        assert_eq!(decode_base64("Zm9vYmE="), Ok(b"fooba".to_vec()));
        assert_eq!(decode_base64("Zm9vYmFy"), Ok(b"foobar".to_vec()));
        assert!(decode_base64("Zm9").is_err());
        assert_eq!(decode_hex("0aFf"), Ok(vec![0x0a, 0xff]));
        assert!(decode_hex("abc").is_err());
    }

    #[test]
    fn signzone_line_parses_to_wire() {
        let line =
            "good.test.\t\t\t\t      3600 IN NSEC\tmail.good.test. NS SOA MX RRSIG NSEC DNSKEY";
        let record = parse_line(line).unwrap().unwrap();
        assert_eq!(record.owner, "good.test");
        assert_eq!(record.rtype, TYPE_NSEC);
        let mut expected = encode_name("mail.good.test.").unwrap();
        // Window 0: NS(2) SOA(6) MX(15) RRSIG(46) NSEC(47) DNSKEY(48).
        expected.extend([0x00, 0x07, 0x22, 0x01, 0x00, 0x00, 0x00, 0x03, 0x80]);
        assert_eq!(record.data, expected);
        assert_eq!(
            parse_line("; resign=20370101000000")
                .unwrap()
                .map(|r| r.rtype),
            None
        );
    }
}
