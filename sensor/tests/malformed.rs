//! A committed corpus of malformed DNS messages and packets, each fed through the real
//! [`Decoder`], with the exact reason it is counted under.
//!
//! Every case is hand-built annotated hex (the comment on each says what it is). DNS messages are
//! wrapped by [`udp_frame`] in a hand-built Ethernet / IPv4 / UDP frame from port 53; link- and
//! IP-level cases are whole frames. Each test checks that decoding does not panic, which counter
//! moved (an anomaly code in `stats().anomalies`, `malformed`, `unreported`, or the frame skip
//! reason in `skipped`), and that where the header and the question could be read an observation
//! is still emitted carrying the anomaly.
//!
//! Crashes found by the fuzz targets in `fuzz/` are added here as named regression tests.

// The helpers below are test code too: a panic there is a failed assertion. clippy.toml allows
// these lints inside `#[test]` functions only, not in the helpers they call.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use schemas::{Anomaly, Observation};
use sensor::frame::Skip;
use sensor::pipeline::{Decoder, FrameInput, SensorConfig};
use sensor::stats::{WorkerStats, SKIPS};
use std::sync::Arc;

/// What one run of the decoder over some frames left behind.
struct Outcome {
    stats: WorkerStats,
    observations: Vec<Observation>,
}

impl Outcome {
    /// How often `anomaly` was counted.
    fn count(&self, anomaly: Anomaly) -> u64 {
        self.stats.anomalies[usize::from(anomaly.code())]
    }

    /// How often frames were skipped for `skip`.
    fn skipped(&self, skip: Skip) -> u64 {
        let index = SKIPS.iter().position(|s| *s == skip).unwrap();
        self.stats.skipped[index]
    }

    /// Every anomaly counted at least once, in code order.
    fn counted(&self) -> Vec<Anomaly> {
        Anomaly::ALL
            .iter()
            .copied()
            .filter(|a| self.count(*a) > 0)
            .collect()
    }

    /// The only observation.
    fn observation(&self) -> &Observation {
        assert_eq!(self.observations.len(), 1, "expected one observation");
        &self.observations[0]
    }
}

/// Decodes Ethernet frames with observations and tuple collection on, then finishes.
fn decode_frames(frames: &[Vec<u8>]) -> Outcome {
    decode_frames_of(1, frames)
}

/// Decodes frames of a pcap link type with observations and tuple collection on, then finishes.
fn decode_frames_of(linktype: i32, frames: &[Vec<u8>]) -> Outcome {
    let config = SensorConfig {
        emit_observations: true,
        collect_tuples: true,
        ..SensorConfig::default()
    };
    let mut decoder = Decoder::new(config, vec![Arc::from("malformed.rs")], false);
    let mut out = Vec::new();
    for (i, data) in frames.iter().enumerate() {
        let input = FrameInput {
            seq: i as u64 + 1,
            time_ns: 1_700_000_000_000_000_000 + i as u64,
            frame: i as u64 + 1,
            source: 0,
            linktype,
            wire_len: data.len() as u32,
            data,
        };
        decoder.decode_frame(&input, &mut out);
    }
    let _tuples = decoder.finish();
    Outcome {
        stats: decoder.stats(),
        observations: out.into_iter().map(|(_, o)| o).collect(),
    }
}

/// Decodes one DNS message carried in a UDP datagram from port 53.
fn decode_message(msg: &[u8]) -> Outcome {
    decode_frames(&[udp_frame(msg)])
}

/// Hand-built Ethernet II (ethertype IPv4) / IPv4 (no options, TTL 64, checksum left zero: the
/// sensor does not verify it) 192.0.2.53 -> 198.51.100.7 / UDP 53 -> 40000 around `payload`.
fn udp_frame(payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let mut f = ethernet(0x0800);
    f.extend_from_slice(&ipv4_header(17, 20 + udp_len));
    f.extend_from_slice(&udp_header(udp_len as u16));
    f.extend_from_slice(payload);
    f
}

/// Destination and source MAC addresses and the ethertype.
fn ethernet(ethertype: u16) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

fn ipv4_header(protocol: u8, total_len: usize) -> [u8; 20] {
    let [len_hi, len_lo] = (total_len as u16).to_be_bytes();
    [
        0x45, 0x00, len_hi, len_lo, // version 4, IHL 5; total length
        0x12, 0x34, 0x00, 0x00, // identification; no fragmentation
        64, protocol, 0x00, 0x00, // TTL, protocol, checksum (unchecked)
        192, 0, 2, 53, // source
        198, 51, 100, 7, // destination
    ]
}

fn udp_header(length: u16) -> [u8; 8] {
    let [len_hi, len_lo] = length.to_be_bytes();
    [0, 53, 0x9c, 0x40, len_hi, len_lo, 0, 0] // 53 -> 40000, length, checksum (unchecked)
}

/// The header and question every well-formed case starts from: txid 0xbeef, a response with RD
/// and RA set, QDCOUNT 1, ANCOUNT `an`, NSCOUNT 0, ARCOUNT `ar`, question `a.example A IN`.
/// The question name starts at offset 12; the first record at offset 27.
fn response_head(an: u16, ar: u16) -> Vec<u8> {
    let [an_hi, an_lo] = an.to_be_bytes();
    let [ar_hi, ar_lo] = ar.to_be_bytes();
    let mut m = vec![
        0xbe, 0xef, 0x81, 0x80, // txid, flags: QR RD RA, rcode 0
        0x00, 0x01, an_hi, an_lo, // QDCOUNT 1, ANCOUNT
        0x00, 0x00, ar_hi, ar_lo, // NSCOUNT 0, ARCOUNT
    ];
    m.extend_from_slice(&[
        0x01, b'a', // 12: label "a"
        0x07, b'e', b'x', b'a', b'm', b'p', b'l', b'e', // 14: label "example"
        0x00, // 22: root
        0x00, 0x01, 0x00, 0x01, // 23: QTYPE A, QCLASS IN
    ]);
    assert_eq!(m.len(), 27);
    m
}

/// A well-formed answer `a.example 300 A 192.0.2.1` (owner: pointer to the question name).
const GOOD_ANSWER: [u8; 16] = [
    0xc0, 0x0c, // owner: pointer to 12
    0x00, 0x01, 0x00, 0x01, // TYPE A, CLASS IN
    0x00, 0x00, 0x01, 0x2c, // TTL 300
    0x00, 0x04, 192, 0, 2, 1, // RDLENGTH 4, 192.0.2.1
];

/// The anomalies an observation carries.
fn anomalies_of(o: &Observation) -> Vec<Anomaly> {
    o.anomalies.clone()
}

// ---------------------------------------------------------------------------------------------
// Truncated headers
// ---------------------------------------------------------------------------------------------

#[test]
fn headers_of_0_to_11_bytes_are_counted_as_truncated_header_and_not_reported() {
    // Hand-built: the first n bytes of a response header (txid 0xbeef, QR RD RA, QDCOUNT 1).
    let header = [
        0xbe, 0xef, 0x81, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    for n in 0..header.len() {
        let o = decode_message(&header[..n]);
        assert_eq!(o.stats.messages, 1, "{n} bytes");
        assert_eq!(o.counted(), vec![Anomaly::TruncatedHeader], "{n} bytes");
        assert_eq!(o.count(Anomaly::TruncatedHeader), 1);
        assert_eq!((o.stats.malformed, o.stats.unreported), (1, 1), "{n} bytes");
        assert!(o.observations.is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// Compression pointers
// ---------------------------------------------------------------------------------------------

#[test]
fn self_pointer_in_question_is_counted_as_forward_pointer_and_not_reported() {
    let msg = [
        0xbe, 0xef, 0x81, 0x80, // txid, flags: QR RD RA
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // QDCOUNT 1
        0xc0, 0x0c, // 12: QNAME: pointer to 12, itself
        0x00, 0x01, 0x00, 0x01, // QTYPE A, QCLASS IN
    ];
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::ForwardPointer]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 1));
    assert!(
        o.observations.is_empty(),
        "no readable question: not reported"
    );
}

#[test]
fn self_pointer_in_answer_is_counted_as_forward_pointer_and_still_observed() {
    let mut msg = response_head(1, 0);
    msg.extend_from_slice(&[
        0xc0, 0x1b, // 27: owner: pointer to 27, itself
        0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, // A IN TTL 300
        0x00, 0x04, 192, 0, 2, 1, // RDLENGTH 4, 192.0.2.1
    ]);
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::ForwardPointer]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 0));
    let obs = o.observation();
    assert_eq!(anomalies_of(obs), vec![Anomaly::ForwardPointer]);
    assert_eq!(obs.questions[0].name.wire, "a.example");
    assert!(
        obs.answers.is_empty(),
        "the record with the unreadable owner is left out"
    );
}

#[test]
fn pointer_past_the_end_of_the_message_is_counted_as_forward_pointer() {
    let mut msg = response_head(1, 0);
    msg.extend_from_slice(&[
        0xff, 0xff, // 27: owner: pointer to 16383, far past the end
        0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, // A IN TTL 300
        0x00, 0x04, 192, 0, 2, 1, // RDLENGTH 4, 192.0.2.1
    ]);
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::ForwardPointer]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 0));
    assert_eq!(anomalies_of(o.observation()), vec![Anomaly::ForwardPointer]);
}

#[test]
fn forward_pointer_into_a_later_record_is_counted_as_forward_pointer() {
    let mut msg = response_head(2, 0);
    msg.extend_from_slice(&[
        0xc0, 0x2b, // 27: owner: pointer to 43, the owner of the next record
        0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, // A IN TTL 300
        0x00, 0x04, 192, 0, 2, 1, // RDLENGTH 4, 192.0.2.1
    ]);
    msg.extend_from_slice(&GOOD_ANSWER); // 43
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::ForwardPointer]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 0));
    let obs = o.observation();
    assert_eq!(anomalies_of(obs), vec![Anomaly::ForwardPointer]);
    assert!(
        obs.answers.is_empty(),
        "records after an unreadable owner are not trusted"
    );
}

#[test]
fn two_pointers_pointing_at_each_other_are_counted_as_forward_pointer() {
    let mut msg = response_head(2, 0);
    msg.extend_from_slice(&[
        0xc0, 0x0c, // 27: owner: pointer to the question name
        0xff, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // TYPE65280 (private use) IN TTL 0
        0x00, 0x04, // RDLENGTH 4
        0xc0, 0x29, // 39: pointer to 41
        0xc0, 0x27, // 41: pointer to 39
        0xc0, 0x29, // 43: owner: pointer to 41 -> 39 -> 41 again (forward from 39)
        0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, // A IN TTL 300
        0x00, 0x04, 192, 0, 2, 1, // RDLENGTH 4, 192.0.2.1
    ]);
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::ForwardPointer]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 0));
    let obs = o.observation();
    assert_eq!(anomalies_of(obs), vec![Anomaly::ForwardPointer]);
    assert_eq!(
        obs.answers.len(),
        1,
        "the record holding the two pointers is kept"
    );
    assert_eq!(obs.answers[0].rdata, "\\# 4 c029c027");
}

#[test]
fn pointer_chain_that_climbs_back_above_its_last_target_is_counted_as_compression_loop() {
    let mut msg = response_head(2, 0);
    msg.extend_from_slice(&[
        0xc0, 0x0c, // 27: owner: pointer to the question name
        0xff, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // TYPE65280 (private use) IN TTL 0
        0x00, 0x06, // RDLENGTH 6
        0x01, b'x', // 39: label "x"
        0x01, b'y', // 41: label "y"
        0xc0,
        0x29, // 43: pointer to 41: before itself, but above the chain's last target (39)
        0xc0, 0x27, // 45: owner: pointer to 39 -> "x" "y" -> 41 -> "y" -> 41 ...
        0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, // A IN TTL 300
        0x00, 0x04, 192, 0, 2, 1, // RDLENGTH 4, 192.0.2.1
    ]);
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::CompressionLoop]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 0));
    let obs = o.observation();
    assert_eq!(anomalies_of(obs), vec![Anomaly::CompressionLoop]);
    assert_eq!(obs.answers.len(), 1);
}

#[test]
fn label_then_pointer_to_its_own_start_in_question_is_counted_as_compression_loop() {
    let msg = [
        0xbe, 0xef, 0x01, 0x00, // txid, flags: query, RD
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // QDCOUNT 1
        0x01, b'a', // 12: label "a"
        0xc0, 0x0c, // 14: pointer to 12: "a" "a" "a" ... for ever
        0x00, 0x01, 0x00, 0x01, // QTYPE A, QCLASS IN
    ];
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::CompressionLoop]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 1));
    assert!(o.observations.is_empty());
}

/// Hand-built: a response (question `a.example A`) with two answers. The first, a private-use
/// TYPE65280 record at offset 27, holds in its rdata (from offset 39) `hops - 1` pointers, the
/// first pointing at the question name (12), each later one at the pointer before it. The
/// second, `a.example A 192.0.2.1`, has as owner one more pointer, to the last of those: reading
/// that owner follows `hops` pointers.
fn pointer_chain_response(hops: usize) -> Vec<u8> {
    let mut msg = response_head(2, 0);
    msg.extend_from_slice(&[
        0xc0, 0x0c, // 27: owner: pointer to the question name
        0xff, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // TYPE65280 IN TTL 0
    ]);
    msg.extend_from_slice(&((2 * (hops - 1)) as u16).to_be_bytes()); // RDLENGTH
    let first = msg.len();
    assert_eq!(first, 39);
    for i in 0..hops - 1 {
        let target = if i == 0 { 12 } else { first + 2 * (i - 1) };
        msg.extend_from_slice(&(0xc000 | target as u16).to_be_bytes());
    }
    let last = first + 2 * (hops - 2);
    msg.extend_from_slice(&(0xc000 | last as u16).to_be_bytes()); // owner: the chain's end
    msg.extend_from_slice(&[
        0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, // A IN TTL 300
        0x00, 0x04, 192, 0, 2, 1, // RDLENGTH 4, 192.0.2.1
    ]);
    msg
}

/// Regression (found while building this corpus): pointer chains had no hop bound, so a 64 KiB
/// message of records whose owners each follow an ~8,000-pointer chain took ~0.9 s of CPU to
/// decode (release build): a CPU amplification an attacker could send at line rate.
#[test]
fn pointer_chain_longer_than_the_hop_bound_is_counted_as_compression_loop() {
    let hops = sensor::dns::MAX_POINTER_HOPS;
    let o = decode_message(&pointer_chain_response(hops));
    assert_eq!(o.counted(), vec![], "{hops} pointers are followed");
    assert_eq!(o.observation().answers[1].name.wire, "a.example");

    let o = decode_message(&pointer_chain_response(hops + 1));
    assert_eq!(o.counted(), vec![Anomaly::CompressionLoop]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 0));
    let obs = o.observation();
    assert_eq!(anomalies_of(obs), vec![Anomaly::CompressionLoop]);
    assert_eq!(obs.answers.len(), 1, "only the record holding the chain");
}

/// Regression for the same bug at full size: a 64 KiB message, an 8,150-pointer chain and 3,000
/// records whose owners each point at its end. Decoding stops at the first such owner.
#[test]
fn message_full_of_8000_pointer_chains_stops_at_the_first_owner() {
    let (hops, records) = (8150usize, 3000usize);
    let mut msg = response_head(records as u16, 0);
    msg.extend_from_slice(&[
        0xc0, 0x0c, // 27: owner: pointer to the question name
        0xff, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // TYPE65280 IN TTL 0
    ]);
    msg.extend_from_slice(&((2 * hops) as u16).to_be_bytes()); // RDLENGTH
    let first = msg.len(); // 39: each pointer points at the one before; the first at 12
    for i in 0..hops {
        let target = if i == 0 { 12 } else { first + 2 * (i - 1) };
        msg.extend_from_slice(&(0xc000 | target as u16).to_be_bytes());
    }
    let last = first + 2 * (hops - 1);
    assert!(last < 0x4000, "pointers reach 14 bits");
    for _ in 1..records {
        msg.extend_from_slice(&(0xc000 | last as u16).to_be_bytes()); // owner: chain end
        msg.extend_from_slice(&[
            0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, // A IN TTL 300
            0x00, 0x04, 192, 0, 2, 1, // RDLENGTH 4, 192.0.2.1
        ]);
    }
    assert!(msg.len() > 64_000 && msg.len() <= 65_507);
    let started = std::time::Instant::now();
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::CompressionLoop]);
    assert_eq!(o.observation().answers.len(), 1);
    // Generous even for a debug build under load; before the fix this took seconds.
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

// ---------------------------------------------------------------------------------------------
// Labels and names
// ---------------------------------------------------------------------------------------------

#[test]
fn label_running_past_the_end_of_a_question_is_counted_as_label_overrun() {
    let msg = [
        0xbe, 0xef, 0x01, 0x00, // txid, flags: query, RD
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // QDCOUNT 1
        0x3f, b'a', b'b', // 12: a 63-byte label with only 2 bytes left
    ];
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::LabelOverrun]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 1));
    assert!(o.observations.is_empty());
}

#[test]
fn label_running_past_the_end_of_an_answer_owner_is_counted_as_label_overrun() {
    let mut msg = response_head(1, 0);
    msg.extend_from_slice(&[0x05, b'a', b'b']); // 27: a 5-byte label with only 2 bytes left
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::LabelOverrun]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 0));
    let obs = o.observation();
    assert_eq!(anomalies_of(obs), vec![Anomaly::LabelOverrun]);
    assert!(obs.answers.is_empty());
}

#[test]
fn pointer_cut_after_its_first_byte_is_counted_as_label_overrun() {
    let mut msg = response_head(1, 0);
    msg.push(0xc0); // 27: the first byte of a pointer, then the end
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::LabelOverrun]);
    assert_eq!(anomalies_of(o.observation()), vec![Anomaly::LabelOverrun]);
}

#[test]
fn label_types_0x40_and_0x80_are_counted_as_bad_label_type() {
    for prefix in [0x40u8, 0x80] {
        let mut msg = response_head(1, 0);
        msg.extend_from_slice(&[
            prefix | 0x01,
            b'a',
            0x00, // 27: owner: extended (0x40) or reserved (0x80) label type
            0x00,
            0x01,
            0x00,
            0x01,
            0x00,
            0x00,
            0x01,
            0x2c, // A IN TTL 300
            0x00,
            0x04,
            192,
            0,
            2,
            1, // RDLENGTH 4, 192.0.2.1
        ]);
        let o = decode_message(&msg);
        assert_eq!(
            o.counted(),
            vec![Anomaly::BadLabelType],
            "prefix {prefix:#x}"
        );
        assert_eq!((o.stats.malformed, o.stats.unreported), (1, 0));
        let obs = o.observation();
        assert_eq!(anomalies_of(obs), vec![Anomaly::BadLabelType]);
        assert!(obs.answers.is_empty());
    }
}

#[test]
fn uncompressed_name_over_255_octets_is_counted_as_name_too_long() {
    let mut msg = response_head(1, 0);
    for _ in 0..5 {
        msg.push(63); // 27, 91, ...: five 63-byte labels: 320 octets
        msg.extend_from_slice(&[b'x'; 63]);
    }
    msg.push(0);
    msg.extend_from_slice(&[
        0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, // A IN TTL 300
        0x00, 0x04, 192, 0, 2, 1, // RDLENGTH 4, 192.0.2.1
    ]);
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::NameTooLong]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 0));
    assert_eq!(anomalies_of(o.observation()), vec![Anomaly::NameTooLong]);
}

#[test]
fn name_made_over_255_octets_by_compression_is_counted_as_name_too_long() {
    let mut msg = vec![
        0xbe, 0xef, 0x81, 0x80, // txid, flags: QR RD RA
        0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // QDCOUNT 1, ANCOUNT 1
    ];
    // 12: QNAME of exactly 255 octets: three 63-byte labels, one 61-byte label, the root.
    for len in [63usize, 63, 63, 61] {
        msg.push(len as u8);
        msg.extend(std::iter::repeat_n(b'q', len));
    }
    msg.push(0);
    assert_eq!(msg.len(), 12 + 255);
    msg.extend_from_slice(&[0x00, 0x01, 0x00, 0x01]); // QTYPE A, QCLASS IN
    msg.extend_from_slice(&[
        0x01, b'a', 0xc0, 0x0c, // owner: "a" + pointer to the 255-octet QNAME: 257 octets
        0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, // A IN TTL 300
        0x00, 0x04, 192, 0, 2, 1, // RDLENGTH 4, 192.0.2.1
    ]);
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::NameTooLong]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 0));
    let obs = o.observation();
    assert_eq!(anomalies_of(obs), vec![Anomaly::NameTooLong]);
    assert_eq!(
        obs.questions[0].name.wire.len(),
        253,
        "the 255-octet QNAME is fine"
    );
    assert!(obs.answers.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Counts and record lengths
// ---------------------------------------------------------------------------------------------

#[test]
fn ancount_65535_with_one_record_is_counted_as_count_mismatch_without_allocating_per_count() {
    let mut msg = response_head(0xffff, 0); // ANCOUNT 65535
    msg.extend_from_slice(&GOOD_ANSWER); // 27: the only record
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::CountMismatch]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 0));
    let obs = o.observation();
    assert_eq!(anomalies_of(obs), vec![Anomaly::CountMismatch]);
    assert_eq!(obs.counts.an, 0xffff);
    assert_eq!(obs.answers.len(), 1);
    assert_eq!(obs.answers[0].rdata, "192.0.2.1");
    // Sized by what was read, not by the header count (hickory's `with_capacity(count)` is the
    // counter-example STYLE.md point 6 names).
    assert!(
        obs.answers.capacity() < 64,
        "capacity {}",
        obs.answers.capacity()
    );
}

#[test]
fn qdcount_65535_with_one_question_is_counted_as_count_mismatch_and_multiple_questions() {
    let mut msg = response_head(0, 0);
    msg[4..6].copy_from_slice(&[0xff, 0xff]); // QDCOUNT 65535
    let o = decode_message(&msg);
    assert_eq!(
        o.counted(),
        vec![Anomaly::CountMismatch, Anomaly::MultipleQuestions]
    );
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 0));
    let obs = o.observation();
    assert_eq!(obs.questions.len(), 1);
    assert!(obs.questions.capacity() < 64);
}

#[test]
fn rdlength_running_past_the_end_is_counted_as_truncated_record() {
    let mut msg = response_head(1, 0);
    msg.extend_from_slice(&[
        0xc0, 0x0c, // 27: owner: pointer to the question name
        0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, // A IN TTL 300
        0x01, 0x00, 192, 0, 2, 1, // RDLENGTH 256, but 4 bytes follow
    ]);
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::TruncatedRecord]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 0));
    let obs = o.observation();
    assert_eq!(anomalies_of(obs), vec![Anomaly::TruncatedRecord]);
    assert!(obs.answers.is_empty());
}

#[test]
fn record_cut_inside_its_fixed_fields_is_counted_as_truncated_record() {
    let mut msg = response_head(1, 0);
    msg.extend_from_slice(&[0xc0, 0x0c, 0x00, 0x01, 0x00]); // owner, TYPE A, half a CLASS
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::TruncatedRecord]);
    assert_eq!(
        anomalies_of(o.observation()),
        vec![Anomaly::TruncatedRecord]
    );
}

#[test]
fn question_cut_inside_qtype_is_counted_as_truncated_question_and_not_reported() {
    let msg = [
        0xbe, 0xef, 0x01, 0x00, // txid, flags: query, RD
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // QDCOUNT 1
        0x01, b'a', 0x00, // 12: QNAME "a."
        0x00, // half a QTYPE
    ];
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::TruncatedQuestion]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 1));
    assert!(o.observations.is_empty());
}

/// Fixed-size rdata of the wrong length is found by the walk itself, so it counts as malformed
/// whether or not observations are built.
#[test]
fn a_record_with_rdlength_5_is_counted_as_bad_rdata_and_kept_in_generic_form() {
    let mut msg = response_head(1, 0);
    msg.extend_from_slice(&[
        0xc0, 0x0c, // 27: owner: pointer to the question name
        0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, // A IN TTL 300
        0x00, 0x05, 192, 0, 2, 1, 0xff, // RDLENGTH 5: an address and one byte too many
    ]);
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::BadRdata]);
    assert_eq!(o.stats.unreported, 0);
    assert_eq!(o.stats.malformed, 1);
    let obs = o.observation();
    assert_eq!(anomalies_of(obs), vec![Anomaly::BadRdata]);
    assert_eq!(obs.answers[0].rdata, "\\# 5 c0000201ff");
    assert_eq!(
        o.stats.pdns_records, 0,
        "an undecodable record is not learned"
    );
}

// ---------------------------------------------------------------------------------------------
// EDNS
// ---------------------------------------------------------------------------------------------

/// An OPT pseudo-record (root owner, UDP size 1232, no flags) with `rdata`.
fn opt(rdata: &[u8]) -> Vec<u8> {
    let mut r = vec![
        0x00, // owner: root
        0x00, 0x29, 0x04, 0xd0, // TYPE OPT, UDP payload size 1232
        0x00, 0x00, 0x00, 0x00, // extended rcode 0, version 0, flags 0
    ];
    r.extend_from_slice(&(rdata.len() as u16).to_be_bytes()); // RDLENGTH
    r.extend_from_slice(rdata);
    r
}

/// Options are checked by the walk, so this counts as malformed with observations on or off.
#[test]
fn opt_option_running_past_its_rdata_is_counted_as_bad_edns_option() {
    let mut msg = response_head(0, 1);
    msg.extend_from_slice(&opt(&[
        0x00, 0x0a, 0x00, 0x20, // option COOKIE, length 32
        0x01, 0x02, 0x03, 0x04, // but only 4 bytes of the OPT rdata are left
    ]));
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::BadEdnsOption]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 0));
    let obs = o.observation();
    assert_eq!(anomalies_of(obs), vec![Anomaly::BadEdnsOption]);
    let edns = obs
        .edns
        .as_ref()
        .expect("the OPT header fields are still reported");
    assert_eq!(edns.udp_size, 1232);
    assert!(edns.options.is_empty());
}

#[test]
fn two_opt_records_are_counted_as_multiple_opt_and_the_first_is_reported() {
    let mut msg = response_head(0, 2);
    msg.extend_from_slice(&opt(&[]));
    let mut second = opt(&[]);
    second[3..5].copy_from_slice(&[0x10, 0x00]); // UDP payload size 4096
    msg.extend_from_slice(&second);
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::MultipleOpt]);
    assert_eq!(
        (o.stats.malformed, o.stats.unreported),
        (0, 0),
        "odd, not malformed"
    );
    let obs = o.observation();
    assert_eq!(anomalies_of(obs), vec![Anomaly::MultipleOpt]);
    assert_eq!(obs.edns.as_ref().map(|e| e.udp_size), Some(1232));
}

#[test]
fn opt_in_the_answer_section_is_counted_as_misplaced_opt() {
    let mut msg = response_head(1, 0);
    msg.extend_from_slice(&opt(&[]));
    let o = decode_message(&msg);
    assert_eq!(o.counted(), vec![Anomaly::MisplacedOpt]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (0, 0));
    assert_eq!(anomalies_of(o.observation()), vec![Anomaly::MisplacedOpt]);
}

// ---------------------------------------------------------------------------------------------
// Not DNS at all, on port 53
// ---------------------------------------------------------------------------------------------

#[test]
fn random_bytes_on_port_53_are_counted_as_malformed_and_not_reported() {
    // Hand-built: 40 bytes from a die (no structure intended). As a header: flags 0xe49b
    // (a response with opcode 12: unassigned), QDCOUNT 0x05c2; the "label" at 12 has type 0x80.
    let msg = [
        0x7a, 0x13, 0xe4, 0x9b, 0x05, 0xc2, 0x6f, 0x88, 0x31, 0xd7, 0x4e, 0xa0, //
        0xb9, 0x27, 0x5c, 0xf1, 0x0e, 0x93, 0x6a, 0xcd, 0x48, 0x12, 0xfe, 0x7b, //
        0x3d, 0x86, 0xe0, 0x59, 0xa4, 0x1f, 0xc8, 0x73, 0x2b, 0x9e, 0x64, 0x07, //
        0xd5, 0x30, 0x8a, 0xbf,
    ];
    let o = decode_message(&msg);
    assert_eq!(
        o.counted(),
        vec![
            Anomaly::BadLabelType,
            Anomaly::MultipleQuestions,
            Anomaly::NotDns
        ]
    );
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 1));
    assert!(o.observations.is_empty());
}

#[test]
fn http_request_on_port_53_is_counted_as_not_dns_and_not_reported() {
    let msg = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    // As a header: txid "GE", flags "T " = 0x5420 (opcode 10: unassigned), QDCOUNT "/ " = 12064,
    // ANCOUNT "HT"; the first "label" at 12 is '.' = 46 bytes long, past the end.
    let o = decode_message(msg);
    assert_eq!(
        o.counted(),
        vec![
            Anomaly::LabelOverrun,
            Anomaly::QueryWithAnswers,
            Anomaly::MultipleQuestions,
            Anomaly::NotDns
        ]
    );
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 1));
    assert!(o.observations.is_empty());
}

#[test]
fn tls_client_hello_on_port_53_is_counted_as_malformed_and_not_reported() {
    // Hand-built: a minimal TLS 1.2 ClientHello, as from a DNS-over-TLS client pointed at 53.
    let msg = [
        0x16, 0x03, 0x01, 0x00, 0x2f, // record: handshake, TLS 1.0, length 47
        0x01, 0x00, 0x00, 0x2b, // ClientHello, length 43
        0x03, 0x03, // client version TLS 1.2
        0x5f, 0x1c, 0x8e, 0x22, 0x90, 0x4b, 0xd3, 0x07, // random (32 bytes)
        0x61, 0xa9, 0x3e, 0xc4, 0x15, 0x7d, 0xf2, 0x88, //
        0x0b, 0x46, 0xe9, 0x31, 0xa7, 0x5d, 0x02, 0xbc, //
        0x68, 0x13, 0xf0, 0x9a, 0x24, 0xcb, 0x71, 0x0e, //
        0x00, // session id length 0
        0x00, 0x02, 0x13, 0x01, // cipher suites: TLS_AES_128_GCM_SHA256
        0x01, 0x00, // compression methods: null
        0x00, 0x00, // no extensions
    ];
    // As a header: txid 0x1603, flags 0x0100 (a query, RD: nothing says "not DNS"),
    // QDCOUNT 0x2f01, ANCOUNT 0, NSCOUNT 0x2b03, ARCOUNT 0x035f; at 12 a "label" of 0x1c bytes,
    // then at 41 a byte 0x71 of label type 0x40.
    let o = decode_message(&msg);
    assert_eq!(
        o.counted(),
        vec![Anomaly::BadLabelType, Anomaly::MultipleQuestions]
    );
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 1));
    assert!(o.observations.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Link, IP and UDP damage
// ---------------------------------------------------------------------------------------------

/// A well-formed query for `a.example A`, for the frame-level cases.
fn good_query() -> Vec<u8> {
    let mut q = response_head(0, 0);
    q[2] = 0x01; // flags: query, RD
    q[3] = 0x00;
    q
}

#[test]
fn udp_length_larger_than_a_whole_frame_is_counted_as_bad_transport_header() {
    let query = good_query();
    let mut frame = udp_frame(&query);
    // UDP length (at 14 + 20 + 4) claims 200 bytes; the IP length and the frame hold 35.
    frame[38..40].copy_from_slice(&200u16.to_be_bytes());
    let o = decode_frames(&[frame]);
    assert_eq!(o.stats.udp_datagrams, 1);
    assert_eq!(o.counted(), vec![Anomaly::BadTransportHeader]);
    assert_eq!((o.stats.malformed, o.stats.unreported), (1, 0));
    let obs = o.observation();
    assert_eq!(anomalies_of(obs), vec![Anomaly::BadTransportHeader]);
    assert_eq!(obs.questions[0].name.wire, "a.example");
}

#[test]
fn udp_length_below_8_is_skipped_as_bad_transport() {
    let mut frame = udp_frame(&good_query());
    frame[38..40].copy_from_slice(&7u16.to_be_bytes()); // UDP length 7: shorter than its header
    let o = decode_frames(&[frame]);
    assert_eq!(o.skipped(Skip::BadTransport), 1);
    assert_eq!(o.stats.messages, 0);
}

#[test]
fn ipv4_header_with_ihl_below_5_is_skipped_as_bad_ip() {
    for ihl in 0..5u8 {
        let mut frame = udp_frame(&good_query());
        frame[14] = 0x40 | ihl; // version 4, IHL 0..4 (a header is at least 5 words)
        let o = decode_frames(&[frame]);
        assert_eq!(o.skipped(Skip::BadIp), 1, "IHL {ihl}");
        assert_eq!(o.stats.messages, 0);
    }
}

/// Hand-built: Ethernet / IPv6 2001:db8::53 -> 2001:db8::7 whose next-header chain is
/// `ext_count` destination-options headers (8 bytes each: next header, length 0, PadN of 4),
/// the last naming `last_next`, then UDP 53 -> 40000 around `payload`.
fn ipv6_ext_chain_frame(ext_count: usize, last_next: u8, payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let mut frame = ethernet(0x86dd);
    frame.extend_from_slice(&[0x60, 0x00, 0x00, 0x00]); // version 6, class 0, flow 0
    frame.extend_from_slice(&((ext_count * 8 + udp_len) as u16).to_be_bytes()); // payload length
    frame.extend_from_slice(&[60, 64]); // next header: destination options; hop limit 64
    frame.extend_from_slice(&[
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53,
    ]);
    frame.extend_from_slice(&[
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07,
    ]);
    for i in 0..ext_count {
        let next = if i + 1 == ext_count { last_next } else { 60 };
        frame.extend_from_slice(&[next, 0x00, 0x01, 0x04, 0, 0, 0, 0]);
    }
    frame.extend_from_slice(&udp_header(udp_len as u16));
    frame.extend_from_slice(payload);
    frame
}

#[test]
fn ipv6_with_20_chained_destination_options_headers_is_decoded_normally() {
    // A chain cannot loop (each header takes 8 bytes or more of the packet); a long one is odd
    // but legal, and the UDP datagram after it is found.
    let o = decode_frames(&[ipv6_ext_chain_frame(20, 17, &good_query())]);
    assert_eq!(o.stats.skipped, [0; 7]);
    assert_eq!(o.counted(), vec![]);
    assert_eq!(o.observation().ip_version, 6);
}

/// Regression (found while building this corpus, and by `frame_decode` in seconds): etherparse
/// 0.21's extension-header iterator assumes the chain ends in a non-extension header. When lax
/// slicing stopped at a bad header, iterating read past the slice with `get_unchecked`: a panic
/// in debug builds, an out-of-bounds read in release ones. Here the last of 20 good headers
/// names one more, and the UDP header read as that one claims (0x35 + 1) * 8 bytes.
#[test]
fn ipv6_extension_chain_ending_in_an_overlong_header_is_skipped_as_not_udp_tcp() {
    let o = decode_frames(&[ipv6_ext_chain_frame(20, 60, &good_query())]);
    assert_eq!(o.skipped(Skip::NotUdpTcp), 1);
    assert_eq!(o.stats.messages, 0);
}

/// Regression: fuzz target `frame_decode`, crash-1e6832e0500d0972ffbd4db535cce9164fcf0b22,
/// minimized by libFuzzer to 48 bytes of raw IP (link type 101). The same etherparse bug as
/// above, reached through a hop-by-hop header naming another hop-by-hop header (RFC 8200
/// section 4.1 allows one, first only: lax slicing stops there with an error).
#[test]
fn ipv6_hop_by_hop_header_naming_another_hop_by_hop_is_skipped_as_not_udp_tcp() {
    let packet = vec![
        0x62, 0x48, 0xc5, 0xb5, // version 6, traffic class, flow label
        0x86, 0x00, // payload length 34304 (only 8 bytes follow)
        0x00, 0x00, // next header: hop-by-hop; hop limit 0
        0xff, 0xff, 0x00, 0x58, 0x58, 0x58, 0xff, 0xff, // source address
        0x00, 0x58, 0x58, 0x58, 0x00, 0x58, 0x58, 0x58, //
        0x00, 0x00, 0xff, 0xff, 0xff, 0x00, 0x58, 0x58, // destination address
        0x58, 0x58, 0x58, 0x58, 0x00, 0x58, 0x58, 0x58, //
        0x00, 0x00, 0xff, 0xff, 0x00, 0x58, 0x58, 0x58, // hop-by-hop: next header hop-by-hop
    ];
    let o = decode_frames_of(101, &[packet]);
    assert_eq!(o.skipped(Skip::NotUdpTcp), 1);
    assert_eq!(o.stats.messages, 0);
}

#[test]
fn qinq_frame_with_20_vlan_tags_is_skipped_as_not_ip() {
    let query = good_query();
    let mut frame = ethernet(0x88a8); // outer tag: 802.1ad
    for i in 0..20u16 {
        frame.extend_from_slice(&(i + 1).to_be_bytes()); // TCI: VLAN i + 1
        let next = if i == 19 { 0x0800 } else { 0x8100 }; // 19 more 802.1Q tags, then IPv4
        frame.extend_from_slice(&u16::to_be_bytes(next));
    }
    frame.extend_from_slice(&ipv4_header(17, 20 + 8 + query.len()));
    frame.extend_from_slice(&udp_header(8 + query.len() as u16));
    frame.extend_from_slice(&query);
    let o = decode_frames(&[frame]);
    assert_eq!(o.skipped(Skip::NotIp), 1, "more than MAX_VLAN_TAGS tags");
    assert_eq!(o.stats.messages, 0);

    // The same query under 8 tags (the bound) is decoded.
    let mut frame = ethernet(0x8100);
    for i in 0..8u16 {
        frame.extend_from_slice(&(i + 1).to_be_bytes());
        frame.extend_from_slice(&u16::to_be_bytes(if i == 7 { 0x0800 } else { 0x8100 }));
    }
    frame.extend_from_slice(&ipv4_header(17, 20 + 8 + query.len()));
    frame.extend_from_slice(&udp_header(8 + query.len() as u16));
    frame.extend_from_slice(&query);
    let o = decode_frames(&[frame]);
    assert_eq!(o.stats.observations, 1);
    assert_eq!(o.counted(), vec![]);
}

/// Malformation counts must not depend on whether observations are built: the store-only run
/// (the default) counts the same reasons as `--emit`.
#[test]
fn malformations_are_counted_the_same_with_observations_off() {
    // Hand-built: a response whose only answer is an A record with 5 bytes of rdata.
    let mut msg = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    msg.extend_from_slice(b"\x01a\x07example\x00\x00\x01\x00\x01"); // QNAME a.example A IN
    msg.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 5, 192, 0, 2, 1, 0xff]);
    let config = SensorConfig {
        emit_observations: false,
        collect_tuples: true,
        ..SensorConfig::default()
    };
    let mut decoder = Decoder::new(config, vec![Arc::from("malformed.rs")], false);
    let frame = udp_frame(&msg);
    let input = FrameInput {
        seq: 1,
        time_ns: 1,
        frame: 1,
        source: 0,
        linktype: 1,
        wire_len: frame.len() as u32,
        data: &frame,
    };
    let mut out = Vec::new();
    decoder.decode_frame(&input, &mut out);
    let tuples = decoder.finish();
    let stats = decoder.stats();
    assert!(out.is_empty());
    assert_eq!(stats.malformed, 1);
    assert_eq!(stats.anomalies[usize::from(Anomaly::BadRdata.code())], 1);
    assert!(tuples.is_empty(), "a record with bad rdata is not learnt");
}
