//! A sequence of frames through one decoder: the checks that need history (pairing, responder
//! fingerprints, resolver exposure, fragment reassembly across frames, bailiwick findings on
//! paired responses) and the rendering of their findings into observations.
//!
//! Input: frames as (2-byte big-endian length, 1-byte time step, Ethernet frame) records, up to
//! 64 of them. The time step is in milliseconds (0-239 and 255); 240-252 jump forward by
//! [`JUMPS_S`] seconds (past the pairing timeouts, the profile sweep and idle limits), 253 and 254
//! go back 1 s and 60 s (unsorted or merged captures, a clock step), stopping at 0.
//!
//! The tables are small ([`config`]) so that 64 frames can fill them and a responder profile
//! is judged after 3 learnt answers instead of 20.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor::exposure::QuerierLimits;
use sensor::pairing::PairingLimits;
use sensor::pipeline::{AnswerScratch, Decoder, FrameInput, SensorConfig};
use sensor::responder::ResponderLimits;
use std::sync::Arc;

/// Forward jumps of the time-step bytes 240 to 252, seconds.
const JUMPS_S: [u64; 13] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1_800, 3_600, 86_400];

const PAIRING: PairingLimits = PairingLimits {
    max_entries: 16,
    max_per_client: 8,
    query_timeout_ns: 10_000_000_000,
    hold_ns: 5_000_000_000,
    client_active_ns: 300_000_000_000,
};

const RESPONDERS: ResponderLimits = ResponderLimits {
    max_profiles: 4,
    min_history: 3,
    idle_ns: 600_000_000_000,
};

const QUERIERS: QuerierLimits = QuerierLimits { max_queriers: 4 };

fn config() -> SensorConfig {
    SensorConfig {
        emit_observations: true,
        observe_answers: true,
        pairing: PAIRING,
        responders: RESPONDERS,
        queriers: QUERIERS,
        ..SensorConfig::default()
    }
}

/// The packet time after a frame's time-step byte.
fn step(time_ns: u64, byte: u8) -> u64 {
    const S: u64 = 1_000_000_000;
    match byte {
        253 => time_ns.saturating_sub(S),
        254 => time_ns.saturating_sub(60 * S),
        240..=252 => {
            let jump = JUMPS_S.get(usize::from(byte - 240)).copied().unwrap_or(1);
            time_ns.saturating_add(jump * S)
        }
        ms => time_ns.saturating_add(u64::from(ms) * 1_000_000),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::new(config(), vec![Arc::from("fuzz")], false);
    let mut observations = Vec::new();
    let mut rest = data;
    let mut time_ns = 1_000_000_000u64;
    let mut seq = 0u64;
    while let [l0, l1, step_byte, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
        let (frame, next) = tail.split_at(len);
        rest = next;
        seq += 1;
        if seq > 64 {
            break;
        }
        time_ns = step(time_ns, *step_byte);
        let input = FrameInput {
            seq,
            time_ns,
            frame: seq,
            source: 0,
            linktype: 1,
            wire_len: u32::try_from(frame.len()).unwrap_or(u32::MAX),
            data: frame,
        };
        decoder.decode_frame(&input, &mut observations);
    }
    let mut scratch = AnswerScratch::default();
    for (_, raw) in decoder.take_answers() {
        let _ = raw.question(&mut scratch);
        let _ = raw.is_notable();
        if let Some(obs) = raw.observation("fuzz", &mut scratch) {
            serde_json::to_string(&obs).expect("observation serializes");
        }
    }
    for (_, observation) in &observations {
        serde_json::to_string(observation).expect("observation serializes");
    }
    let _tuples = decoder.finish();
    let stats = decoder.stats();
    assert!(stats.observations <= stats.messages);
    assert!(stats.unreported <= stats.messages);
    // The tables stay within their bounds.
    assert!(stats.pairing.entries <= PAIRING.max_entries as u64);
    assert!(stats.wire.responders.profiles <= RESPONDERS.max_profiles as u64);
    assert!(stats.wire.queriers <= QUERIERS.max_queriers as u64);
});
