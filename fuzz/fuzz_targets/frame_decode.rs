//! Arbitrary bytes as one captured frame, through the real per-worker decoder.
//!
//! Input: one selector byte choosing the link type (Ethernet, Linux SLL, Linux SLL2, raw IP, BSD
//! loopback), then the frame. Observations and tuple aggregation are both on, so every stage from
//! link decoding to observation building runs; `finish` then drops the reassembly state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor::pipeline::{Decoder, FrameInput, SensorConfig};
use std::sync::Arc;

/// Link types tried, chosen by the first input byte.
const LINKTYPES: [i32; 5] = [1, 113, 276, 101, 0];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let linktype = LINKTYPES
        .get(usize::from(selector) % LINKTYPES.len())
        .copied()
        .unwrap_or(1);
    let config = SensorConfig {
        emit_observations: true,
        collect_tuples: true,
        ..SensorConfig::default()
    };
    let mut decoder = Decoder::new(config, vec![Arc::from("fuzz")], false);
    let mut observations = Vec::new();
    let input = FrameInput {
        seq: 1,
        time_ns: 1_000_000_000,
        frame: 1,
        source: 0,
        linktype,
        wire_len: u32::try_from(frame.len()).unwrap_or(u32::MAX),
        data: frame,
    };
    decoder.decode_frame(&input, &mut observations);
    for (_, observation) in &observations {
        // What leaves the sensor must serialize.
        serde_json::to_string(observation).expect("observation serializes");
    }
    let _tuples = decoder.finish();
    let stats = decoder.stats();
    assert_eq!(stats.frames, 1);
    assert!(stats.observations <= stats.messages);
    assert!(stats.unreported <= stats.messages);
});
