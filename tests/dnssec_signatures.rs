//! DNSSEC signatures in real captures (issue 5): every RRSIG over a DNSKEY set verifies against
//! the keys in the same response, and was valid at packet time. Needs the shared captures (see
//! `common::shared_pcaps`).

// Test code: a panic, unwrap or out-of-range index here is a failed assertion, not a crash on
// input (clippy.toml allows them inside #[test] functions; this extends that to the helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use analyzer::dnssec::{check_signatures, SignatureCheck, SignatureOutcome};
use sensor::frame::Transport as FrameTransport;

/// The signature checks of every UDP DNS response in `file`, with the packet time (seconds).
fn checks(file: &std::path::Path) -> Vec<(u64, SignatureCheck)> {
    let bytes = std::fs::read(file).unwrap();
    let mut out = Vec::new();
    for r in dnsward_benches::pcap::records(&bytes).unwrap() {
        let Ok(frame) = sensor::frame::decode(1, r.data) else {
            continue;
        };
        let FrameTransport::Udp { payload, .. } = frame.transport else {
            continue;
        };
        if payload.get(2).is_some_and(|b| b & 0x80 != 0) {
            for c in check_signatures(payload, &[]).unwrap_or_default() {
                out.push((r.time_ns / 1_000_000_000, c));
            }
        }
    }
    out
}

#[test]
fn dnskey_sets_verify_against_their_own_keys_at_packet_time() {
    let Some(dir) =
        common::shared_pcaps("dnskey_sets_verify_against_their_own_keys_at_packet_time")
    else {
        return;
    };
    for (file, zone, tags) in [
        ("zeek__dnssec_dnskey.pcap", "upenn.edu", vec![]),
        (
            "zeek__dnssec_dnskey2.pcap",
            "paypal.com",
            vec![11811, 21037],
        ),
    ] {
        let all = checks(&dir.join(file));
        let over_keys: Vec<&(u64, SignatureCheck)> = all
            .iter()
            .filter(|(_, c)| c.type_covered == 48 && c.owner == zone)
            .collect();
        assert!(!over_keys.is_empty(), "{file}: {all:#?}");
        let mut valid_tags: Vec<u16> = Vec::new();
        for (t, c) in &over_keys {
            assert_ne!(c.outcome, SignatureOutcome::Invalid, "{file}: {c:?}");
            if c.outcome != SignatureOutcome::Valid {
                continue;
            }
            assert_eq!(c.signer, zone);
            // Valid at packet time: the window lies around the capture (in the past now).
            assert!(
                u64::from(c.inception) <= *t && *t <= u64::from(c.expiration),
                "{file}: {c:?} at {t}"
            );
            valid_tags.push(c.key_tag);
        }
        valid_tags.sort_unstable();
        valid_tags.dedup();
        assert_eq!(valid_tags, tags, "{file}");
    }
    // upenn.edu's DNSKEY set is signed by a key not in it (18463: nothing to check it with) and
    // by a 1,024-bit RSA/SHA-1 key, which ring does not verify: indeterminate, never bogus.
    let upenn: Vec<(u16, SignatureOutcome)> = checks(&dir.join("zeek__dnssec_dnskey.pcap"))
        .into_iter()
        .filter(|(_, c)| c.type_covered == 48)
        .map(|(_, c)| (c.key_tag, c.outcome))
        .collect();
    assert_eq!(
        upenn,
        [
            (18463, SignatureOutcome::NoKey),
            (50475, SignatureOutcome::Unsupported)
        ]
    );
}
