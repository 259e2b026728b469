//! Arbitrary bytes as one DNS message: the walker, `scan`, `build_observation`, tuple
//! aggregation and `render_rdata` on every record the walker locates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schemas::Transport;
use sensor::dns::{render_rdata, Entry, NameBuf, RecordWalker};
use sensor::frame::IpMeta;
use sensor::observe::{build_observation, scan, AnomalySet, PacketContext, TupleAggregator};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

fuzz_target!(|msg: &[u8]| {
    let mut name = NameBuf::default();
    let mut rdata_name = NameBuf::default();
    let mut out = String::new();

    // Every record the walker can locate, even past an unreadable owner name.
    if let Some(walker) = RecordWalker::new(msg) {
        for entry in walker {
            let Entry::Record(record) = entry else {
                continue;
            };
            assert!(record.rdata_pos + record.rdata_len <= msg.len());
            for lowercase in [false, true] {
                out.clear();
                if render_rdata(msg, &record, &mut rdata_name, lowercase, &mut out).is_err() {
                    assert!(out.starts_with("\\# "), "generic form on error: {out:?}");
                }
            }
        }
    }

    let scanned = scan(msg, &mut name, |_, owner| {
        assert!(owner.wire().len() < 255);
    });
    assert_eq!(scanned.is_some(), msg.len() >= 12);

    let ctx = PacketContext {
        time_ns: 1,
        source_name: Arc::from("fuzz"),
        live: false,
        frame: 1,
        ip: IpMeta {
            src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
            ttl: 64,
            ip_id: Some(1),
        },
        src_port: 53,
        dst_port: 40000,
        transport: Transport::Udp,
        fragments: None,
        anomalies: AnomalySet::default(),
    };
    if let Some(observation) = build_observation(msg, &ctx, "fuzz", &mut name, &mut rdata_name) {
        serde_json::to_string(&observation).expect("observation serializes");
    }

    let mut tuples = TupleAggregator::default();
    let added = tuples.add_response(msg, 1, &mut name, &mut rdata_name);
    assert!(tuples.len() as u64 <= added);
    let _ = tuples.drain("fuzz");
});
