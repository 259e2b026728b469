//! A sequence of TCP segments through `TcpReassembler`, with small limits so the bounds are hit.
//!
//! Each segment is a 5-byte header and its payload:
//! - byte 0: bits 0-2 choose one of 8 streams (more than `max_streams`), bit 3 SYN, bit 4 FIN,
//!   bit 5 RST, bit 6: the next 4 bytes are an absolute sequence number;
//! - bytes 1-2: signed sequence delta from where the stream's last segment ended (big-endian);
//! - byte 3: payload length (cut to the bytes left);
//! - byte 4: packet-time step, in units of 0.5 s (so idle expiry happens).
//!
//! Checks after every segment: the stream table stays within `max_streams`; every delivered
//! message is whole (no more bytes delivered, prefixes included, than were pushed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor::tcp::{StreamKey, TcpLimits, TcpReassembler};
use std::net::{IpAddr, Ipv4Addr};

const LIMITS: TcpLimits = TcpLimits {
    max_streams: 3,
    max_out_of_order: 4,
    max_stream_bytes: 1024,
    idle_timeout_ns: 5_000_000_000,
};

fn key(stream: u8) -> StreamKey {
    StreamKey {
        src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1 + (stream & 1))),
        src_port: 53,
        dst: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
        dst_port: 40_000 + u16::from(stream),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut table = TcpReassembler::new(LIMITS);
    let mut next = [0u32; 8];
    let mut now_ns = 0u64;
    let mut pushed = 0usize;
    let mut delivered = 0usize;
    let mut rest = data;
    while let Some((header, tail)) = rest.split_at_checked(5) {
        let [control, delta_hi, delta_lo, len, step] =
            [header[0], header[1], header[2], header[3], header[4]];
        rest = tail;
        let stream = control & 7;
        let slot = usize::from(stream);
        let mut seq = next[slot].wrapping_add(i16::from_be_bytes([delta_hi, delta_lo]) as u32);
        if control & 0x40 != 0 {
            let Some((abs, tail)) = rest.split_at_checked(4) else {
                return;
            };
            seq = u32::from_be_bytes([abs[0], abs[1], abs[2], abs[3]]);
            rest = tail;
        }
        let (payload, tail) = rest.split_at(usize::from(len).min(rest.len()));
        rest = tail;
        now_ns += u64::from(step) * 500_000_000;
        let (syn, fin, rst) = (control & 8 != 0, control & 16 != 0, control & 32 != 0);
        pushed += payload.len();
        table.push(
            now_ns,
            key(stream),
            seq,
            syn,
            fin,
            rst,
            payload,
            |message| {
                assert!(message.len() <= usize::from(u16::MAX));
                delivered += message.len() + 2;
            },
        );
        next[slot] = seq
            .wrapping_add(u32::from(syn))
            .wrapping_add(payload.len() as u32);
        assert!(table.streams() <= LIMITS.max_streams);
        assert!(
            delivered <= pushed,
            "delivered {delivered} of {pushed} pushed"
        );
    }
    let before = table.stats();
    table.finish();
    assert_eq!(table.streams(), 0);
    let after = table.stats();
    assert!(after.incomplete_closed >= before.incomplete_closed);
});
