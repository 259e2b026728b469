//! Criterion benchmarks of the sensor's stages, one group per stage, over frames that
//! `dnsward-gen` generates in memory (seed 1, [`FRAMES`] frames; the same traffic mix as the
//! 1M-frame capture of `RESULTS.md`).
//!
//! Every input is prepared before the timed loop; each iteration runs over the whole prepared
//! set and [`Throughput::Elements`] is its size, so criterion's `thrpt` is frames/s (or DNS
//! messages/s) and the time divided by the element count is ns per frame (or message).
//!
//! ```sh
//! CARGO_TARGET_DIR=/tmp/benches-target cargo bench -p dnsward-benches --bench stages
//! ```
//!
//! Groups: `capture` (libpcap and the sensor's file source over a generated file), `frame`
//! (link, IP and transport decode), `dns` (all UDP DNS messages: header and question only, full
//! walk, observation building, and hickory-proto for comparison), `dns_responses` (responses
//! only: full walk, tuple aggregation, hickory-proto), `decoder` (one pipeline worker's
//! `Decoder::decode_frame` per frame, as the pipeline runs it).
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput};
use dnsward_benches::pcap::{records, PcapRecord};
use dnsward_benches::{generate, GeneratorConfig};
use hickory_proto::op::{Header, Message, Query};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use sensor::capture::FileSource;
use sensor::dns::{decode_name, DnsHeader, Entry, NameBuf, RecordWalker};
use sensor::frame::{self, linktype, Transport as FrameTransport};
use sensor::observe::{build_observation, scan, AnomalySet, PacketContext, TupleAggregator};
use sensor::pipeline::{Decoder, FrameInput, SensorConfig};

/// Frames generated for every group (about 1.4 s of packet time, 8.4 MB).
const FRAMES: u64 = 50_000;

/// A UDP DNS message of the generated capture with its packet context.
struct Message1<'a> {
    bytes: &'a [u8],
    context: PacketContext,
    response: bool,
}

/// The generated capture (pcap bytes).
fn capture() -> Option<Vec<u8>> {
    let config = GeneratorConfig {
        frames: FRAMES,
        seed: 1,
        ..GeneratorConfig::default()
    };
    let mut bytes = Vec::new();
    generate(&config, &mut bytes).ok()?;
    Some(bytes)
}

/// Every UDP payload on port 53 that is not a fragment, with the context the pipeline builds.
fn udp_messages<'a>(frames: &[PcapRecord<'a>], source: &Arc<str>) -> Vec<Message1<'a>> {
    let mut out = Vec::new();
    for (index, record) in frames.iter().enumerate() {
        let Ok(decoded) = frame::decode(linktype::ETHERNET, record.data) else {
            continue;
        };
        let FrameTransport::Udp {
            src_port,
            dst_port,
            payload,
            ..
        } = decoded.transport
        else {
            continue;
        };
        if src_port != 53 && dst_port != 53 {
            continue;
        }
        let Some(header) = DnsHeader::decode(payload) else {
            continue;
        };
        out.push(Message1 {
            bytes: payload,
            context: PacketContext {
                time_ns: record.time_ns,
                source_name: Arc::clone(source),
                live: false,
                frame: index as u64 + 1,
                ip: decoded.ip,
                src_port,
                dst_port,
                transport: schemas::Transport::Udp,
                fragments: None,
                anomalies: AnomalySet::default(),
            },
            response: header.is_response(),
        });
    }
    out
}

fn stages(c: &mut Criterion) {
    let Some(capture) = capture() else {
        eprintln!("stages: could not generate the capture");
        return;
    };
    let frames: Vec<PcapRecord<'_>> = records(&capture).into_iter().flatten().collect();
    let source: Arc<str> = Arc::from("bench.pcap");
    let messages = udp_messages(&frames, &source);
    let responses: Vec<&Message1<'_>> = messages.iter().filter(|m| m.response).collect();
    let message_bytes: usize = messages.iter().map(|m| m.bytes.len()).sum();
    let response_bytes: usize = responses.iter().map(|m| m.bytes.len()).sum();
    eprintln!(
        "stages: {} frames ({} bytes); {} UDP DNS messages, mean {} bytes; {} responses, mean {} bytes",
        frames.len(),
        capture.len(),
        messages.len(),
        message_bytes / messages.len().max(1),
        responses.len(),
        response_bytes / responses.len().max(1),
    );

    capture_group(c, &capture, frames.len() as u64);

    let mut group = c.benchmark_group("frame");
    group.throughput(Throughput::Elements(frames.len() as u64));
    group.bench_function("decode", |b| {
        b.iter(|| {
            for record in &frames {
                let _ = black_box(frame::decode(linktype::ETHERNET, black_box(record.data)));
            }
        })
    });
    group.finish();

    dns_group(c, &messages);
    responses_group(c, &responses);
    decoder_group(c, &frames, &source);
}

/// libpcap's read loop and the sensor's file source, over the capture written to a file.
fn capture_group(c: &mut Criterion, capture: &[u8], frames: u64) {
    let Ok(mut file) = tempfile::NamedTempFile::new() else {
        eprintln!("stages: no temporary file; skipping the capture group");
        return;
    };
    if file.write_all(capture).and_then(|()| file.flush()).is_err() {
        eprintln!("stages: could not write the temporary capture; skipping the capture group");
        return;
    }
    let path = file.path().to_path_buf();
    let mut group = c.benchmark_group("capture");
    group.throughput(Throughput::Elements(frames));
    group.bench_function("pcap_next_packet", |b| {
        b.iter(|| {
            let Ok(mut reader) = pcap::Capture::from_file(&path) else {
                return 0;
            };
            let mut bytes = 0usize;
            while let Ok(packet) = reader.next_packet() {
                bytes += packet.data.len();
            }
            black_box(bytes)
        })
    });
    group.bench_function("sensor_file_source", |b| {
        b.iter(|| {
            let Ok(mut source) = FileSource::open(&path) else {
                return 0;
            };
            let mut bytes = 0usize;
            while let Ok(Some(frame)) = source.next_frame() {
                bytes += frame.data.len();
            }
            black_box(bytes)
        })
    });
    group.finish();
}

/// Every UDP DNS message, queries and responses.
fn dns_group(c: &mut Criterion, messages: &[Message1<'_>]) {
    let mut group = c.benchmark_group("dns");
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.bench_function("header_question", |b| {
        let mut name = NameBuf::default();
        b.iter(|| {
            for message in messages {
                let bytes = black_box(message.bytes);
                let header = DnsHeader::decode(bytes);
                let question = RecordWalker::new(bytes).and_then(|mut walker| walker.next());
                if let Some(Entry::Question(q)) = question {
                    let _ = black_box(decode_name(bytes, q.name_pos, &mut name));
                    black_box(q.qtype);
                }
                black_box(header);
            }
        })
    });
    group.bench_function("scan", |b| {
        let mut name = NameBuf::default();
        b.iter(|| {
            for message in messages {
                black_box(scan(black_box(message.bytes), &mut name, |_, _| {}));
            }
        })
    });
    group.bench_function("build_observation", |b| {
        let mut name = NameBuf::default();
        let mut rdata_name = NameBuf::default();
        b.iter(|| {
            for message in messages {
                black_box(build_observation(
                    black_box(message.bytes),
                    &message.context,
                    "bench",
                    &mut name,
                    &mut rdata_name,
                ));
            }
        })
    });
    group.bench_function("hickory_header_query", |b| {
        b.iter(|| {
            for message in messages {
                let mut decoder = BinDecoder::new(black_box(message.bytes));
                let header = Header::read(&mut decoder);
                let query = Query::read(&mut decoder);
                black_box((header.is_ok(), query.is_ok()));
            }
        })
    });
    group.bench_function("hickory_message_from_vec", |b| {
        b.iter(|| {
            for message in messages {
                let _ = black_box(Message::from_vec(black_box(message.bytes)));
            }
        })
    });
    group.finish();
}

/// Responses only: what tuple aggregation sees.
fn responses_group(c: &mut Criterion, responses: &[&Message1<'_>]) {
    let mut group = c.benchmark_group("dns_responses");
    group.throughput(Throughput::Elements(responses.len() as u64));
    group.bench_function("scan", |b| {
        let mut name = NameBuf::default();
        b.iter(|| {
            for message in responses {
                black_box(scan(black_box(message.bytes), &mut name, |_, _| {}));
            }
        })
    });
    // A fresh aggregator per iteration (dropped outside the timed loop): every first sighting
    // of a tuple allocates, as after each hand-over to the store in the pipeline.
    group.bench_function("tuples_add_response", |b| {
        let mut name = NameBuf::default();
        let mut rdata_name = NameBuf::default();
        b.iter_batched_ref(
            TupleAggregator::default,
            |aggregator| {
                for message in responses {
                    black_box(aggregator.add_response(
                        black_box(message.bytes),
                        message.context.time_ns,
                        &mut name,
                        &mut rdata_name,
                    ));
                }
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("hickory_message_from_vec", |b| {
        b.iter(|| {
            for message in responses {
                let _ = black_box(Message::from_vec(black_box(message.bytes)));
            }
        })
    });
    group.finish();
}

/// One pipeline worker: a fresh `Decoder` per iteration (made outside the timed loop) decodes
/// every frame, then `finish` hands its tuples over (inside the timed loop).
fn decoder_group(c: &mut Criterion, frames: &[PcapRecord<'_>], source: &Arc<str>) {
    let mut group = c.benchmark_group("decoder");
    group.throughput(Throughput::Elements(frames.len() as u64));
    let variants = [
        ("decode_frame_no_tuples_no_emit", false, false),
        ("decode_frame_tuples", true, false),
        ("decode_frame_tuples_emit", true, true),
    ];
    for (label, collect_tuples, emit_observations) in variants {
        let config = SensorConfig {
            collect_tuples,
            emit_observations,
            ..SensorConfig::default()
        };
        group.bench_function(label, |b| {
            b.iter_batched_ref(
                || {
                    let decoder = Decoder::new(config.clone(), vec![Arc::clone(source)], false);
                    let out = Vec::with_capacity(frames.len());
                    (decoder, out)
                },
                |(decoder, out)| {
                    for (index, record) in frames.iter().enumerate() {
                        let input = FrameInput {
                            seq: index as u64,
                            time_ns: record.time_ns,
                            frame: index as u64 + 1,
                            source: 0,
                            linktype: linktype::ETHERNET,
                            wire_len: record.wire_len,
                            data: record.data,
                        };
                        decoder.decode_frame(&input, out);
                    }
                    black_box(decoder.finish());
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

fn main() {
    let mut criterion = config().configure_from_args();
    stages(&mut criterion);
    criterion.final_summary();
}
