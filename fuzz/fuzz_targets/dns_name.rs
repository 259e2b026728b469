//! `decode_name` and `skip_name` at every offset of arbitrary bytes.
//!
//! Checks: both agree on where a decodable name ends; a decoded name is at most 255 octets in
//! wire form with labels of at most 63; its wire form round-trips through `NameBuf::set_wire`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor::dns::{decode_name, skip_name, NameBuf, MAX_LABEL_LEN, MAX_NAME_LEN};

fuzz_target!(|msg: &[u8]| {
    let mut name = NameBuf::default();
    let mut copy = NameBuf::default();
    let mut text = String::new();
    for pos in 0..=msg.len() {
        let skipped = skip_name(msg, pos);
        let Ok(end) = decode_name(msg, pos, &mut name) else {
            continue;
        };
        assert_eq!(
            skipped,
            Ok(end),
            "skip_name and decode_name disagree at {pos}"
        );
        assert!(end > pos && end <= msg.len());
        assert!(name.wire().len() < MAX_NAME_LEN);
        assert!(name
            .labels()
            .all(|l| !l.is_empty() && l.len() <= MAX_LABEL_LEN));
        assert!(copy.set_wire(name.wire()));
        assert_eq!(copy.wire(), name.wire());
        text.clear();
        name.write_presentation(&mut text, false);
        assert!(!text.is_empty());
    }
});
