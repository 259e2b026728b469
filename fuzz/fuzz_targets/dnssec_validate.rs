//! DNSSEC validation: `Validator::process` on arbitrary DNS messages, one after another, against
//! the root's anchors plus a DNSKEY anchor for `test.` built from the input.
//!
//! Input: messages separated by the four bytes `0xff 0x00 0xff 0x00`; each is processed at a
//! packet time one second after the previous one, starting inside the usual signature windows.
//! The first message's first 36 bytes (when there are that many) double as the public key of
//! the `test.` anchor (algorithm 15), so anchors and keys in the messages can meet.
//!
//! Checks beyond "no panic": every verdict names a canonical owner (lower case, no trailing dot
//! but the root), secure verdicts name their signer, key and algorithm and the signer encloses
//! the owner, and unparsable input is counted.
#![no_main]

use analyzer::dnssec::{root_anchors, AnchorRecord, TrustAnchor};
use analyzer::validate::{encloses, Security, Validator, ValidatorLimits};
use libfuzzer_sys::fuzz_target;

const SEPARATOR: [u8; 4] = [0xff, 0x00, 0xff, 0x00];

fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(i) = rest.windows(4).position(|w| w == SEPARATOR) {
        let (head, tail) = rest.split_at(i);
        out.push(head);
        rest = tail.get(4..).unwrap_or(&[]);
    }
    out.push(rest);
    out
}

fuzz_target!(|data: &[u8]| {
    let mut anchors = root_anchors();
    if let Some(key) = data.get(..36) {
        anchors.push(TrustAnchor {
            zone: "test".to_owned(),
            record: AnchorRecord::Dnskey {
                flags: 257,
                protocol: 3,
                algorithm: 15,
                public_key: key.get(4..).unwrap_or(&[]).to_vec(),
            },
        });
    }
    let limits = ValidatorLimits {
        max_zones: 8,
        max_cached_verifications: 16,
        max_signed_names: 8,
    };
    let mut v = Validator::new(&anchors, ["insecure.test".to_owned()], limits);
    let mut now_ns: u64 = 1_780_272_000_000_000_000;
    let mut unparsable = 0;
    for msg in split(data).into_iter().take(32) {
        now_ns += 1_000_000_000;
        let Some(p) = v.process(msg, now_ns) else {
            unparsable += 1;
            continue;
        };
        for verdict in &p.verdicts {
            let n = &verdict.name;
            assert!(n == "." || (!n.ends_with('.') && !n.is_empty()), "{n:?}");
            assert_eq!(n.to_ascii_lowercase(), *n);
            if verdict.security == Security::Secure {
                let signer = verdict.signer.as_deref().unwrap_or_default();
                assert!(verdict.key_tag.is_some() && verdict.algorithm.is_some());
                assert!(encloses(signer, n), "{signer} {n}");
            }
        }
        let _ = v.unsigned("www.insecure.test", 1);
        let _ = v.signed_by(".");
    }
    assert_eq!(v.stats.unparsable, unparsable);
    let _ = v.take_dirty();
});
