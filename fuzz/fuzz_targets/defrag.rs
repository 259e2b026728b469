//! A sequence of IP fragments through `Defragmenter`, with small limits so the bounds are hit.
//!
//! Each fragment is a 5-byte header and its payload:
//! - byte 0: bits 0-2 choose the datagram id (8 ids, more than `max_datagrams`), bit 3 the
//!   protocol (UDP or TCP), bit 7 "more fragments";
//! - bytes 1-2: the fragment offset in 8-byte units (13 bits, as in IPv4), big-endian;
//! - byte 3: payload length (cut to the bytes left);
//! - byte 4: packet-time step, in units of 0.5 s (so expiry happens).
//!
//! Checks after every fragment: the table stays within `max_datagrams`; a reassembled datagram
//! fits in `max_bytes` and in 65,535 bytes, and its evidence counts at least one fragment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor::defrag::{DefragLimits, Defragmenter, FragmentKey, MAX_DATAGRAM_LEN};
use std::net::{IpAddr, Ipv4Addr};

const LIMITS: DefragLimits = DefragLimits {
    max_datagrams: 4,
    max_bytes: 4096,
    timeout_ns: 5_000_000_000,
};

fuzz_target!(|data: &[u8]| {
    let mut table = Defragmenter::new(LIMITS);
    let mut now_ns = 0u64;
    let mut rest = data;
    while let Some((header, tail)) = rest.split_at_checked(5) {
        let [control, offset_hi, offset_lo, len, step] =
            [header[0], header[1], header[2], header[3], header[4]];
        rest = tail;
        let (payload, tail) = rest.split_at(usize::from(len).min(rest.len()));
        rest = tail;
        now_ns += u64::from(step) * 500_000_000;
        let key = FragmentKey {
            src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
            protocol: if control & 8 != 0 { 6 } else { 17 },
            id: u32::from(control & 7),
        };
        let offset = usize::from(u16::from_be_bytes([offset_hi, offset_lo]) & 0x1fff) * 8;
        let more = control & 0x80 != 0;
        if let Some(done) = table.push(now_ns, key, 64, offset, more, payload) {
            assert!(done.payload.len() <= MAX_DATAGRAM_LEN);
            assert!(done.payload.len() <= LIMITS.max_bytes);
            assert!(done.evidence.count >= 1);
        }
        assert!(table.in_flight() <= LIMITS.max_datagrams);
    }
    table.finish();
    assert_eq!(table.in_flight(), 0);
});
