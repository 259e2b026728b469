//! Counters of the sensor: one definition per counter, merged across workers, reported as text
//! or JSON.

use crate::capture::PcapStats;
use crate::defrag::DefragStats;
use crate::frame::Skip;
use crate::tcp::TcpStats;
use hdrhistogram::Histogram;
use schemas::Anomaly;
use serde::Serialize;
use std::collections::BTreeMap;

/// Every [`Skip`] reason, in index order.
pub const SKIPS: [Skip; 7] = [
    Skip::UnsupportedLinkType,
    Skip::TruncatedLink,
    Skip::NotIp,
    Skip::BadIp,
    Skip::NotUdpTcp,
    Skip::BadTransport,
    Skip::NotDnsPort,
];

fn skip_index(skip: Skip) -> usize {
    SKIPS.iter().position(|s| *s == skip).unwrap_or(0)
}

#[allow(clippy::expect_used)] // constant arguments (3 significant digits is within 0..=5)
fn histogram() -> Histogram<u64> {
    // Auto-resizing, 3 significant digits.
    Histogram::new(3).expect("3 significant digits is a valid precision")
}

/// Counters of one decode worker (merged into one for reporting).
#[derive(Debug, Clone)]
pub struct WorkerStats {
    /// Frames received.
    pub frames: u64,
    /// Captured bytes received.
    pub bytes: u64,
    /// Frames skipped, by [`SKIPS`] index.
    pub skipped: [u64; SKIPS.len()],
    /// UDP datagrams on a DNS port (after reassembly).
    pub udp_datagrams: u64,
    /// DNS messages found (UDP and TCP).
    pub messages: u64,
    /// Of which queries.
    pub queries: u64,
    /// Of which responses.
    pub responses: u64,
    /// Messages not reported: no header, or no readable question.
    pub unreported: u64,
    /// Messages with at least one malformation.
    pub malformed: u64,
    /// Anomalies by code (index = code).
    pub anomalies: [u64; 64],
    /// Observations emitted.
    pub observations: u64,
    /// Raw answers handed to the analysis stage.
    pub answers_handed_over: u64,
    /// Records added to the passive-DNS aggregation.
    pub pdns_records: u64,
    /// Unique tuples handed to the store.
    pub pdns_tuples: u64,
    /// Fragment reassembly.
    pub defrag: DefragStats,
    /// TCP reassembly.
    pub tcp: TcpStats,
    /// Query/response pairing.
    pub pairing: crate::pairing::PairingStats,
    /// Bailiwick checks and responder fingerprints.
    pub wire: crate::findings::WireStats,
    /// Time a batch waited in the channel before a worker took it, ns (wall clock).
    pub queue_ns: Histogram<u64>,
    /// Worker processing time per frame, ns (wall clock, averaged over each batch).
    pub decode_ns_per_frame: Histogram<u64>,
}

impl Default for WorkerStats {
    fn default() -> Self {
        WorkerStats {
            frames: 0,
            bytes: 0,
            skipped: [0; SKIPS.len()],
            udp_datagrams: 0,
            messages: 0,
            queries: 0,
            responses: 0,
            unreported: 0,
            malformed: 0,
            anomalies: [0; 64],
            observations: 0,
            answers_handed_over: 0,
            pdns_records: 0,
            pdns_tuples: 0,
            defrag: DefragStats::default(),
            tcp: TcpStats::default(),
            pairing: crate::pairing::PairingStats::default(),
            wire: crate::findings::WireStats::default(),
            queue_ns: histogram(),
            decode_ns_per_frame: histogram(),
        }
    }
}

impl WorkerStats {
    /// Counts a skipped frame.
    pub fn skip(&mut self, skip: Skip) {
        if let Some(c) = self.skipped.get_mut(skip_index(skip)) {
            *c += 1;
        }
    }

    /// Counts an anomaly.
    pub fn anomaly(&mut self, anomaly: Anomaly) {
        if let Some(c) = self.anomalies.get_mut(usize::from(anomaly.code())) {
            *c += 1;
        }
    }

    /// Adds another worker's counters into these.
    pub fn merge(&mut self, other: &WorkerStats) {
        self.frames += other.frames;
        self.bytes += other.bytes;
        for (a, b) in self.skipped.iter_mut().zip(other.skipped.iter()) {
            *a += b;
        }
        self.udp_datagrams += other.udp_datagrams;
        self.messages += other.messages;
        self.queries += other.queries;
        self.responses += other.responses;
        self.unreported += other.unreported;
        self.malformed += other.malformed;
        for (a, b) in self.anomalies.iter_mut().zip(other.anomalies.iter()) {
            *a += b;
        }
        self.observations += other.observations;
        self.answers_handed_over += other.answers_handed_over;
        self.pdns_records += other.pdns_records;
        self.pdns_tuples += other.pdns_tuples;
        self.defrag.merge(&other.defrag);
        self.tcp.merge(&other.tcp);
        self.pairing.merge(&other.pairing);
        self.wire.merge(&other.wire);
        let _ = self.queue_ns.add(&other.queue_ns);
        let _ = self.decode_ns_per_frame.add(&other.decode_ns_per_frame);
    }

    /// Malformed-message counts by reason (malformation anomalies only).
    pub fn malformed_by_reason(&self) -> BTreeMap<&'static str, u64> {
        self.anomaly_counts(true)
    }

    fn anomaly_counts(&self, malformed: bool) -> BTreeMap<&'static str, u64> {
        Anomaly::ALL
            .iter()
            .filter(|a| a.is_malformed() == malformed)
            .filter_map(|a| {
                let n = self
                    .anomalies
                    .get(usize::from(a.code()))
                    .copied()
                    .unwrap_or(0);
                (n > 0).then_some((a.name(), n))
            })
            .collect()
    }

    /// Counts of anomalies that are not malformations, by name.
    pub fn other_anomalies(&self) -> BTreeMap<&'static str, u64> {
        self.anomaly_counts(false)
    }
}

/// Percentiles of a latency histogram, ns.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Percentiles {
    /// Samples.
    pub samples: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl Percentiles {
    /// Summarises a histogram.
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        Percentiles {
            samples: h.len(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            max: h.max(),
        }
    }
}

/// Counters of the capture thread.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames read.
    pub frames: u64,
    /// Captured bytes read.
    pub bytes: u64,
    /// Frames whose capture length was below their wire length.
    pub snap_truncated: u64,
    /// Frames dropped because a worker's channel was full (live capture only).
    pub channel_dropped: u64,
    /// Files fully read.
    pub files: u64,
    /// libpcap counters (live capture).
    pub pcap: PcapStats,
}

/// Everything the stats output shows, ready to print or serialize.
#[derive(Debug, Clone, Serialize)]
pub struct StatsReport {
    /// Capture thread counters.
    pub capture: CaptureStats,
    /// Frames skipped by reason.
    pub skipped: BTreeMap<&'static str, u64>,
    /// UDP datagrams on DNS ports.
    pub udp_datagrams: u64,
    /// DNS messages.
    pub messages: u64,
    /// Queries.
    pub queries: u64,
    /// Responses.
    pub responses: u64,
    /// Messages with a malformation.
    pub malformed: u64,
    /// Malformations by reason.
    pub malformed_by_reason: BTreeMap<&'static str, u64>,
    /// Other anomalies by name.
    pub anomalies: BTreeMap<&'static str, u64>,
    /// Messages not reported (no header or question).
    pub unreported: u64,
    /// Observations emitted.
    pub observations: u64,
    /// Raw answers handed to the analysis stage.
    pub answers_handed_over: u64,
    /// Records aggregated for the store.
    pub pdns_records: u64,
    /// Unique tuples handed to the store.
    pub pdns_tuples: u64,
    /// Fragment reassembly.
    pub fragments: DefragStats,
    /// TCP reassembly.
    pub tcp: TcpStats,
    /// Query/response pairing.
    pub pairing: crate::pairing::PairingStats,
    /// Bailiwick checks and responder fingerprints.
    pub wire: crate::findings::WireStats,
    /// Per-stage latency percentiles, ns.
    pub latency_ns: BTreeMap<&'static str, Percentiles>,
}

impl StatsReport {
    /// Builds the report from merged counters.
    pub fn new(capture: CaptureStats, w: &WorkerStats) -> StatsReport {
        let mut latency = BTreeMap::new();
        latency.insert("capture_to_worker", Percentiles::of(&w.queue_ns));
        latency.insert("decode_per_frame", Percentiles::of(&w.decode_ns_per_frame));
        StatsReport {
            capture,
            skipped: SKIPS
                .iter()
                .zip(w.skipped.iter())
                .filter(|(_, n)| **n > 0)
                .map(|(s, n)| (s.name(), *n))
                .collect(),
            udp_datagrams: w.udp_datagrams,
            messages: w.messages,
            queries: w.queries,
            responses: w.responses,
            malformed: w.malformed,
            malformed_by_reason: w.malformed_by_reason(),
            anomalies: w.other_anomalies(),
            unreported: w.unreported,
            observations: w.observations,
            answers_handed_over: w.answers_handed_over,
            pdns_records: w.pdns_records,
            pdns_tuples: w.pdns_tuples,
            fragments: w.defrag,
            tcp: w.tcp,
            pairing: w.pairing,
            wire: w.wire,
            latency_ns: latency,
        }
    }

    /// Human-readable multi-line text.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let c = &self.capture;
        let _ = writeln!(
            s,
            "capture: frames={} bytes={} files={} snap_truncated={} channel_dropped={} pcap_received={} pcap_dropped={} pcap_ifdropped={}",
            c.frames, c.bytes, c.files, c.snap_truncated, c.channel_dropped, c.pcap.received, c.pcap.dropped, c.pcap.if_dropped
        );
        let _ = writeln!(
            s,
            "dns: messages={} queries={} responses={} malformed={} unreported={} udp_datagrams={} observations={} answers_handed_over={}",
            self.messages, self.queries, self.responses, self.malformed, self.unreported, self.udp_datagrams, self.observations, self.answers_handed_over
        );
        let map = |m: &BTreeMap<&str, u64>| {
            if m.is_empty() {
                "none".to_owned()
            } else {
                m.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        };
        let _ = writeln!(s, "malformed by reason: {}", map(&self.malformed_by_reason));
        let _ = writeln!(s, "other anomalies: {}", map(&self.anomalies));
        let _ = writeln!(s, "skipped frames: {}", map(&self.skipped));
        let f = &self.fragments;
        let _ = writeln!(
            s,
            "fragments: received={} reassembled={} expired={} dropped_full={} dropped_invalid={} overlaps={} inconsistent={}",
            f.fragments, f.reassembled, f.expired, f.dropped_full, f.dropped_invalid, f.overlaps, f.inconsistent
        );
        let t = &self.tcp;
        let _ = writeln!(
            s,
            "tcp: streams={} segments={} messages={} retransmitted={} out_of_order={} dropped_table_full={} dropped_budget={} incomplete_closed={} expired={}",
            t.streams, t.segments, t.messages, t.retransmitted, t.out_of_order, t.dropped_table_full, t.dropped_budget, t.incomplete_closed, t.expired
        );
        let p = &self.pairing;
        let _ = writeln!(
            s,
            "pairing: queries={} query_repeats={} answered={} duplicate={} race={} case_mismatch={} txid_mismatch={} unsolicited={} late={} unknown={} dropped_table_full={} dropped_client_full={} expired_unanswered={} expired_answered={} entries={}",
            p.queries, p.query_repeats, p.answered, p.duplicate, p.race, p.case_mismatch, p.txid_mismatch, p.unsolicited, p.late, p.unknown, p.dropped_table_full, p.dropped_client_full, p.expired_unanswered, p.expired_answered, p.entries
        );
        let w = &self.wire;
        let r = &w.responders;
        let _ = writeln!(
            s,
            "wire: unrelated_answer={} unrelated_authority={} parent_ns={} stray_additional={} out_of_zone_glue={} glue_not_reported={} findings_over_cap={} ip_ttl_changed={} edns_changed={} rtt_too_fast={} unexpected_fragments={} profiles={} profiles_dropped_full={} profiles_expired={} queriers={} queriers_dropped={}",
            w.unrelated_answer, w.unrelated_authority, w.parent_ns, w.stray_additional, w.out_of_zone_glue, w.glue_not_reported, w.findings_over_cap, r.ip_ttl_changed, r.edns_changed, r.rtt_too_fast, r.unexpected_fragments, r.profiles, r.dropped_full, r.expired, w.queriers, w.queriers_dropped
        );
        let _ = writeln!(
            s,
            "pdns: records={} tuples={}",
            self.pdns_records, self.pdns_tuples
        );
        for (stage, p) in &self.latency_ns {
            let _ = writeln!(
                s,
                "latency {stage}: n={} p50={}ns p90={}ns p99={}ns max={}ns",
                p.samples, p.p50, p.p90, p.p99, p.max
            );
        }
        s
    }
}
