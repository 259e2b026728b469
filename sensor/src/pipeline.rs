//! The sensor's threads: one capture thread, N decode workers, joined by bounded channels.
//!
//! The capture thread reads frames and hands them, in batches, to the worker chosen by a
//! symmetric hash of the two IP addresses (not ports: non-first fragments carry none), so a
//! query and its response, all fragments of a datagram and both directions of a TCP connection
//! meet on one worker. Every frame gets a global sequence number; whenever one batch fills, every
//! worker's batch is sent with the same watermark, so the [`Merger`] can put the workers' outputs
//! back into capture order with bounded buffering.
//!
//! Reading files is lossless (the capture thread blocks when workers are behind); a live capture
//! never blocks: a batch that does not fit is dropped and counted.

use crate::bailiwick::BailiwickChecker;
use crate::capture::{FileSource, LiveOptions, LiveSource, RawFrame};
use crate::defrag::{DefragLimits, Defragmenter, FragmentKey};
use crate::dns::{DnsHeader, Entry as DnsEntry, NameBuf, RecordWalker};
use crate::error::Error;
use crate::exposure::{QuerierLimits, QuerierState, Queriers, QueryTraits};
use crate::findings::Findings;
use crate::frame::{self, Transport as FrameTransport};
use crate::observe::{build_observation, scan, AnomalySet, PacketContext, TupleAggregator};
use crate::pairing::{Flow, Pairing, PairingLimits, QuestionRef, Verdict};
use crate::responder::{FingerprintBreak, ResponderLimits, Responders, ResponseTraits};
use crate::stats::{CaptureStats, WorkerStats};
use crate::tcp::{StreamKey, TcpLimits, TcpReassembler};
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use schemas::{Anomaly, Observation, PdnsTuple, Transport};
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the live capture thread sleeps when the interface has nothing waiting (bounds the
/// latency of stop requests and adds at most this much delay to the first packet after a lull).
const IDLE_POLL: Duration = Duration::from_millis(2);

/// Sensor settings.
#[derive(Debug, Clone)]
pub struct SensorConfig {
    /// Identifier written into every observation and tuple.
    pub sensor_id: String,
    /// Ports carrying DNS (53 plus extras).
    pub ports: Vec<u16>,
    /// Decode workers.
    pub workers: usize,
    /// Build observations of every message (for `--emit`).
    pub emit_observations: bool,
    /// Hand over the raw bytes of answers worth analysing ([`RawAnswer`]): standard-query
    /// responses with rcode NOERROR and an answer or authority section, or SERVFAIL, not
    /// ICMP-quoted. The
    /// consumer picks the ones it wants in capture order and builds observations of those
    /// only ([`RawAnswer::observation`]), which is far cheaper than building every one.
    pub observe_answers: bool,
    /// Aggregate passive-DNS tuples (for the store).
    pub collect_tuples: bool,
    /// Hand aggregated tuples over when this many unique tuples are held...
    pub tuple_flush_max: usize,
    /// ...or when this much packet time has passed since the last hand-over.
    pub tuple_flush_ns: u64,
    /// Frames per batch.
    pub batch_frames: usize,
    /// Batches queued per worker channel.
    pub channel_batches: usize,
    /// Fragment reassembly bounds.
    pub defrag: DefragLimits,
    /// TCP reassembly bounds.
    pub tcp: TcpLimits,
    /// Outstanding-query table bounds (per worker).
    pub pairing: PairingLimits,
    /// Responder fingerprint bounds (per worker).
    pub responders: ResponderLimits,
    /// Querier exposure bounds (per worker).
    pub queriers: QuerierLimits,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            sensor_id: "dnsward".to_owned(),
            ports: vec![53],
            workers: 2,
            emit_observations: false,
            observe_answers: false,
            collect_tuples: true,
            tuple_flush_max: 100_000,
            tuple_flush_ns: 10_000_000_000,
            batch_frames: 256,
            channel_batches: 64,
            defrag: DefragLimits::default(),
            tcp: TcpLimits::default(),
            pairing: PairingLimits::default(),
            responders: ResponderLimits::default(),
            queriers: QuerierLimits::default(),
        }
    }
}

/// Where frames come from.
#[derive(Debug, Clone)]
pub enum Input {
    /// Capture files, read in order as one timeline.
    Files(Vec<PathBuf>),
    /// A live interface.
    Live(LiveOptions),
}

/// What a worker hands on after each batch.
#[derive(Debug, Default)]
pub struct WorkerOutput {
    /// The worker.
    pub worker: usize,
    /// Every frame up to this sequence number has been processed by this worker.
    pub watermark: u64,
    /// Observations with the sequence number of the frame that completed them.
    pub observations: Vec<(u64, Observation)>,
    /// Aggregated passive-DNS tuples.
    pub tuples: Vec<PdnsTuple>,
    /// Raw answers (with [`SensorConfig::observe_answers`]), with the frame's sequence number.
    pub answers: Vec<(u64, RawAnswer)>,
    /// The worker's view of every querier's exposure so far ([`crate::exposure`]): in its last
    /// output, and during live capture every [`EXPOSURE_INTERVAL_NS`] of packet time. Each
    /// replaces the worker's previous one; merge the latest of every worker with
    /// [`QuerierState::merge`].
    pub exposure: Vec<(IpAddr, QuerierState)>,
}

/// Packet time between two exposure snapshots of a worker during live capture, ns.
pub const EXPOSURE_INTERVAL_NS: u64 = 600 * 1_000_000_000;

/// One response worth analysing, as received: the message bytes and where they came from.
///
/// The bytes live in a buffer shared by every answer of one worker batch, so handing an answer
/// over costs no allocation of its own.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    data: Arc<[u8]>,
    start: usize,
    len: usize,
    /// Its packet context.
    pub ctx: PacketContext,
    /// The pairing verdict, when the message was paired.
    pub verdict: Option<Verdict>,
    /// Bailiwick findings and fingerprint breaks.
    pub findings: Findings,
}

/// Answers being collected for one worker batch: their bytes back to back.
#[derive(Debug, Default)]
struct PendingAnswers {
    data: Vec<u8>,
    items: Vec<(u64, usize, usize, PacketContext, Option<Verdict>, Findings)>,
}

impl PendingAnswers {
    fn push(
        &mut self,
        seq: u64,
        msg: &[u8],
        ctx: &PacketContext,
        verdict: Option<Verdict>,
        findings: Findings,
    ) {
        let start = self.data.len();
        self.data.extend_from_slice(msg);
        self.items
            .push((seq, start, msg.len(), ctx.clone(), verdict, findings));
    }

    /// The answers collected, sharing one buffer; leaves `self` empty.
    fn take(&mut self) -> Vec<(u64, RawAnswer)> {
        if self.items.is_empty() {
            return Vec::new();
        }
        let data: Arc<[u8]> = Arc::from(std::mem::take(&mut self.data));
        self.items
            .drain(..)
            .map(|(seq, start, len, ctx, verdict, findings)| {
                (
                    seq,
                    RawAnswer {
                        data: Arc::clone(&data),
                        start,
                        len,
                        ctx,
                        verdict,
                        findings,
                    },
                )
            })
            .collect()
    }
}

/// Reusable buffers for [`RawAnswer::question`] and [`RawAnswer::observation`].
#[derive(Debug, Default)]
pub struct AnswerScratch {
    name: NameBuf,
    rdata_name: NameBuf,
    /// The question name of the last [`RawAnswer::question`], canonical (lower case).
    pub qname: String,
}

/// Whether EDNS option data `opts` holds an option with this code.
fn has_option(mut opts: &[u8], code: u16) -> bool {
    while let [c0, c1, l0, l1, rest @ ..] = opts {
        if u16::from_be_bytes([*c0, *c1]) == code {
            return true;
        }
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let Some(next) = rest.get(len..) else {
            return false;
        };
        opts = next;
    }
    false
}

/// Whether a response is worth an analyst's attention whatever its name: a notable pairing
/// verdict, a wire-level finding, or fragments that overlap or disagree.
fn is_notable(verdict: Option<Verdict>, findings: &Findings, anomalies: &AnomalySet) -> bool {
    verdict.is_some_and(|v| v.is_notable())
        || !findings.is_empty()
        || anomalies.contains(Anomaly::FragmentOverlap)
        || anomalies.contains(Anomaly::FragmentInconsistent)
        || anomalies.contains(Anomaly::FragmentTtlMismatch)
}

impl RawAnswer {
    /// Whether it is worth analysing whatever its name (see the analyzer's answer filter): a
    /// notable pairing verdict, a wire-level finding, or fragments that overlap or disagree.
    pub fn is_notable(&self) -> bool {
        is_notable(self.verdict, &self.findings, &self.ctx.anomalies)
    }

    /// The DNS message.
    pub fn msg(&self) -> &[u8] {
        self.data
            .get(self.start..self.start + self.len)
            .unwrap_or(&[])
    }

    /// Decodes the header and the first question into `scratch.qname` (canonical); returns the
    /// header and the question type, or `None` when they cannot be read.
    pub fn question(&self, scratch: &mut AnswerScratch) -> Option<(DnsHeader, u16)> {
        let msg = self.msg();
        let header = DnsHeader::decode(msg)?;
        let end = crate::dns::decode_name(msg, crate::dns::HEADER_LEN, &mut scratch.name).ok()?;
        let qtype = crate::dns::read_u16(msg, end)?;
        scratch.qname.clear();
        scratch.name.write_presentation(&mut scratch.qname, true);
        Some((header, qtype))
    }

    /// The observation of this answer.
    pub fn observation(&self, sensor_id: &str, scratch: &mut AnswerScratch) -> Option<Observation> {
        let mut obs = build_observation(
            self.msg(),
            &self.ctx,
            sensor_id,
            &mut scratch.name,
            &mut scratch.rdata_name,
        )?;
        obs.pairing = self.verdict.map(|v| v.info());
        obs.findings = self.findings.render(self.msg(), &mut scratch.rdata_name);
        Some(obs)
    }
}

/// Puts the outputs of several workers (observations, or raw answers) back into capture order.
#[derive(Debug)]
pub struct Merger<T = Observation> {
    queues: Vec<VecDeque<(u64, T)>>,
    watermarks: Vec<u64>,
}

impl Merger<Observation> {
    /// Adds a worker's output; calls `ready` with every observation now known to be next.
    pub fn push(&mut self, output: &mut WorkerOutput, ready: impl FnMut(Observation)) {
        let items = std::mem::take(&mut output.observations);
        self.push_items(output.worker, output.watermark, items, ready);
    }
}

impl<T> Merger<T> {
    /// A merger for `workers` inputs.
    pub fn new(workers: usize) -> Merger<T> {
        Merger {
            queues: (0..workers).map(|_| VecDeque::new()).collect(),
            watermarks: vec![0; workers],
        }
    }

    /// Adds the items of one worker output (sequence-numbered, in order) and its watermark;
    /// calls `ready` with every item now known to be next.
    pub fn push_items(
        &mut self,
        worker: usize,
        watermark: u64,
        items: Vec<(u64, T)>,
        ready: impl FnMut(T),
    ) {
        if let Some(q) = self.queues.get_mut(worker) {
            q.extend(items);
        }
        if let Some(w) = self.watermarks.get_mut(worker) {
            *w = (*w).max(watermark);
        }
        let limit = self.watermarks.iter().copied().min().unwrap_or(0);
        self.release(limit, ready);
    }

    /// Releases everything (all workers have finished).
    pub fn finish(&mut self, ready: impl FnMut(T)) {
        self.release(u64::MAX, ready);
    }

    fn release(&mut self, limit: u64, mut ready: impl FnMut(T)) {
        loop {
            let next = self
                .queues
                .iter()
                .enumerate()
                .filter_map(|(i, q)| q.front().map(|(seq, _)| (*seq, i)))
                .filter(|(seq, _)| *seq <= limit)
                .min();
            let Some((_, i)) = next else {
                return;
            };
            if let Some((_, obs)) = self.queues.get_mut(i).and_then(VecDeque::pop_front) {
                ready(obs);
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    seq: u64,
    time_ns: u64,
    frame: u64,
    source: u32,
    linktype: i32,
    start: usize,
    len: usize,
    snap_truncated: bool,
}

#[derive(Debug)]
struct Batch {
    slots: Vec<Slot>,
    data: Vec<u8>,
    watermark: u64,
    sent: Instant,
}

impl Batch {
    fn new(capacity: usize) -> Batch {
        Batch {
            slots: Vec::with_capacity(capacity),
            data: Vec::with_capacity(capacity * 256),
            watermark: 0,
            sent: Instant::now(),
        }
    }
}

/// Live view of the counters while a run goes on (for periodic stats).
#[derive(Debug, Default)]
pub struct Progress {
    /// Per-worker counters, refreshed about once a second.
    pub workers: Mutex<Vec<WorkerStats>>,
    /// Capture counters, refreshed about once a second.
    pub capture: Mutex<CaptureStats>,
    /// Set once the live interface is open and filtering (frames sent after this are seen).
    pub capturing: AtomicBool,
}

impl Progress {
    /// Merged counters now.
    pub fn snapshot(&self) -> (CaptureStats, WorkerStats) {
        let capture = self.capture.lock().map(|c| *c).unwrap_or_default();
        let mut merged = WorkerStats::default();
        if let Ok(w) = self.workers.lock() {
            for s in w.iter() {
                merged.merge(s);
            }
        }
        (capture, merged)
    }
}

/// What a finished run reports.
#[derive(Debug)]
pub struct RunReport {
    /// Capture counters.
    pub capture: CaptureStats,
    /// Merged worker counters.
    pub workers: WorkerStats,
    /// The capture error that ended the run early, if any (frames before it were processed).
    pub error: Option<Error>,
}

/// Symmetric hash of a frame's two IP addresses.
fn shard(linktype: i32, data: &[u8], workers: usize) -> usize {
    if workers <= 1 {
        return 0;
    }
    let Some((a, b)) = frame::ip_bytes(linktype, data)
        .ok()
        .and_then(frame::addresses)
    else {
        return 0;
    };
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    lo.hash(&mut h);
    hi.hash(&mut h);
    (h.finish() % workers as u64) as usize
}

struct Dispatcher {
    senders: Vec<Sender<Batch>>,
    pool: Receiver<Batch>,
    batches: Vec<Batch>,
    batch_frames: usize,
    seq: u64,
    live: bool,
    stats: CaptureStats,
    last_flush: Instant,
}

impl Dispatcher {
    fn fresh(&self) -> Batch {
        self.pool
            .try_recv()
            .unwrap_or_else(|_| Batch::new(self.batch_frames))
    }

    fn add(&mut self, frame: &RawFrame<'_>, source: u32, frame_no: u64, linktype: i32) {
        self.seq += 1;
        self.stats.frames += 1;
        self.stats.bytes += frame.data.len() as u64;
        let snap_truncated = (frame.data.len() as u64) < u64::from(frame.wire_len);
        if snap_truncated {
            self.stats.snap_truncated += 1;
        }
        let w = shard(linktype, frame.data, self.senders.len());
        let full = {
            let Some(batch) = self.batches.get_mut(w) else {
                return;
            };
            let start = batch.data.len();
            batch.data.extend_from_slice(frame.data);
            batch.slots.push(Slot {
                seq: self.seq,
                time_ns: frame.time_ns,
                frame: frame_no,
                source,
                linktype,
                start,
                len: frame.data.len(),
                snap_truncated,
            });
            batch.slots.len() >= self.batch_frames
        };
        if full {
            self.flush();
        }
    }

    /// Sends every worker its batch (possibly empty) with the current watermark.
    fn flush(&mut self) {
        self.last_flush = Instant::now();
        for w in 0..self.senders.len() {
            let fresh = self.fresh();
            let Some(slot) = self.batches.get_mut(w) else {
                continue;
            };
            let mut batch = std::mem::replace(slot, fresh);
            batch.watermark = self.seq;
            batch.sent = Instant::now();
            let Some(tx) = self.senders.get(w) else {
                continue;
            };
            if self.live {
                match tx.try_send(batch) {
                    Ok(()) => {}
                    Err(TrySendError::Full(b)) | Err(TrySendError::Disconnected(b)) => {
                        self.stats.channel_dropped += b.slots.len() as u64;
                    }
                }
            } else if tx.send(batch).is_err() {
                return;
            }
        }
    }
}

/// Runs the sensor until the input ends or `stop` is set; `output` receives every worker's
/// results. Returns the counters and any capture error.
pub fn run(
    config: &SensorConfig,
    input: Input,
    stop: Arc<AtomicBool>,
    output: Sender<WorkerOutput>,
    progress: Arc<Progress>,
) -> Result<RunReport, Error> {
    let workers = config.workers.max(1);
    let source_names: Arc<Vec<Arc<str>>> = Arc::new(match &input {
        Input::Files(paths) => paths
            .iter()
            .map(|p| Arc::from(p.display().to_string()))
            .collect(),
        Input::Live(o) => vec![Arc::from(o.interface.as_str())],
    });
    let live = matches!(input, Input::Live(_));
    let (pool_tx, pool_rx) = bounded::<Batch>(workers * config.channel_batches + workers);
    if let Ok(mut w) = progress.workers.lock() {
        *w = vec![WorkerStats::default(); workers];
    }
    let mut senders = Vec::with_capacity(workers);
    let mut handles = Vec::with_capacity(workers);
    for id in 0..workers {
        let (tx, rx) = bounded::<Batch>(config.channel_batches);
        senders.push(tx);
        let worker = Decoder::with_id(id, config.clone(), source_names.clone(), live);
        let pool = pool_tx.clone();
        let out = output.clone();
        let progress = progress.clone();
        let handle = std::thread::Builder::new()
            .name(format!("dnsward-worker-{id}"))
            .spawn(move || worker.run(rx, pool, out, progress))
            .map_err(|e| Error::Thread(e.to_string()))?;
        handles.push(handle);
    }
    drop(output);
    drop(pool_tx);
    let mut d = Dispatcher {
        senders,
        pool: pool_rx,
        batches: (0..workers)
            .map(|_| Batch::new(config.batch_frames))
            .collect(),
        batch_frames: config.batch_frames.max(1),
        seq: 0,
        live,
        stats: CaptureStats::default(),
        last_flush: Instant::now(),
    };
    let mut last_progress = Instant::now();
    let mut error = None;
    match input {
        Input::Files(paths) => {
            'files: for (index, path) in paths.iter().enumerate() {
                let mut source = match FileSource::open(path) {
                    Ok(s) => s,
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                };
                let linktype = source.linktype();
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break 'files;
                    }
                    let frame_no = source.frames() + 1;
                    match source.next_frame() {
                        Ok(Some(f)) => {
                            let f = RawFrame {
                                time_ns: f.time_ns,
                                wire_len: f.wire_len,
                                data: f.data,
                            };
                            d.add(&f, index as u32, frame_no, linktype);
                        }
                        Ok(None) => break,
                        Err(e) => {
                            error = Some(e);
                            break 'files;
                        }
                    }
                    // Reading the clock costs as much as decoding a frame header: look at it
                    // every 1,024 frames only.
                    if d.seq & 1023 == 0 && last_progress.elapsed() >= Duration::from_secs(1) {
                        last_progress = Instant::now();
                        if let Ok(mut c) = progress.capture.lock() {
                            *c = d.stats;
                        }
                    }
                }
                d.stats.files += 1;
            }
        }
        Input::Live(options) => match LiveSource::open(&options) {
            Err(e) => error = Some(e),
            Ok(mut source) => {
                let linktype = source.linktype();
                progress.capturing.store(true, Ordering::Release);
                let mut frame_no = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    match source.next_frame() {
                        Ok(Some(f)) => {
                            frame_no += 1;
                            let f = RawFrame {
                                time_ns: f.time_ns,
                                wire_len: f.wire_len,
                                data: f.data,
                            };
                            d.add(&f, 0, frame_no, linktype);
                        }
                        Ok(None) => {
                            // Non-blocking handle with nothing waiting.
                            std::thread::sleep(IDLE_POLL);
                        }
                        Err(e) => {
                            error = Some(e);
                            break;
                        }
                    }
                    // Do not let a quiet link hold frames in a half-full batch.
                    if d.last_flush.elapsed() >= Duration::from_millis(100) {
                        d.flush();
                    }
                    if last_progress.elapsed() >= Duration::from_secs(1) {
                        last_progress = Instant::now();
                        d.stats.pcap = source.stats();
                        if let Ok(mut c) = progress.capture.lock() {
                            *c = d.stats;
                        }
                    }
                }
                d.stats.pcap = source.stats();
            }
        },
    }
    d.flush();
    let capture = d.stats;
    drop(d);
    let mut merged = WorkerStats::default();
    for h in handles {
        let stats = h
            .join()
            .map_err(|_| Error::Thread("a decode worker panicked".to_owned()))?;
        merged.merge(&stats);
    }
    if let Ok(mut c) = progress.capture.lock() {
        *c = capture;
    }
    Ok(RunReport {
        capture,
        workers: merged,
        error,
    })
}

/// One decode worker's state: reassembly tables, tuple aggregation and counters. The pipeline
/// runs one per thread; tests, fuzz targets and benchmarks drive one directly.
pub struct Decoder {
    id: usize,
    config: SensorConfig,
    sources: Arc<Vec<Arc<str>>>,
    live: bool,
    defrag: Defragmenter,
    tcp: TcpReassembler,
    tuples: TupleAggregator,
    last_tuple_flush_ns: u64,
    name: NameBuf,
    rdata_name: NameBuf,
    stats: WorkerStats,
    answers: PendingAnswers,
    pairing: Pairing,
    bailiwick: BailiwickChecker,
    responders: Responders,
    breaks: Vec<FingerprintBreak>,
    queriers: Queriers,
    /// Packet time of the last exposure snapshot (live capture).
    last_exposure_ns: u64,
    /// Responder → packet time its out-of-zone glue was last handed on.
    glue_reported: std::collections::HashMap<IpAddr, u64, ahash::RandomState>,
}

/// Packet time between two hand-overs of one responder's out-of-zone glue (when nothing else
/// is wrong with its responses), ns.
const GLUE_REPORT_NS: u64 = 30_000_000_000;

/// Responders remembered for [`GLUE_REPORT_NS`]; the memory is cleared when full.
const MAX_GLUE_RESPONDERS: usize = 65_536;

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").field("id", &self.id).finish()
    }
}

/// One frame handed to [`Decoder::decode_frame`].
#[derive(Debug, Clone, Copy)]
pub struct FrameInput<'a> {
    /// Global sequence number (capture order).
    pub seq: u64,
    /// Packet time, ns since the Unix epoch.
    pub time_ns: u64,
    /// Frame number within its source (1-based).
    pub frame: u64,
    /// Index of the source name given to [`Decoder::new`].
    pub source: u32,
    /// Link type of the source.
    pub linktype: i32,
    /// Length on the wire.
    pub wire_len: u32,
    /// Captured bytes.
    pub data: &'a [u8],
}

impl Decoder {
    /// A decoder for frames from `sources` (file names, or the interface when `live`).
    pub fn new(config: SensorConfig, sources: Vec<Arc<str>>, live: bool) -> Decoder {
        Decoder::with_id(0, config, Arc::new(sources), live)
    }

    /// Decodes one frame; observations (when enabled) are appended to `out`.
    pub fn decode_frame(&mut self, input: &FrameInput<'_>, out: &mut Vec<(u64, Observation)>) {
        let slot = Slot {
            seq: input.seq,
            time_ns: input.time_ns,
            frame: input.frame,
            source: input.source,
            linktype: input.linktype,
            start: 0,
            len: input.data.len(),
            snap_truncated: (input.data.len() as u64) < u64::from(input.wire_len),
        };
        self.frame(&slot, input.data, out);
    }

    /// Ends the input: drops partial reassembly state (counted) and returns the aggregated tuples.
    pub fn finish(&mut self) -> Vec<PdnsTuple> {
        self.defrag.finish();
        self.tcp.finish();
        let tuples = self.tuples.drain(&self.config.sensor_id);
        self.stats.pdns_tuples += tuples.len() as u64;
        tuples
    }

    /// Counters so far.
    pub fn stats(&mut self) -> WorkerStats {
        self.stats.defrag = self.defrag.stats();
        self.stats.tcp = self.tcp.stats();
        self.stats.pairing = self.pairing.stats();
        self.stats.wire.responders = self.responders.stats();
        self.stats.wire.queriers = self.queriers.len() as u64;
        self.stats.wire.queriers_dropped = self.queriers.dropped;
        self.stats.clone()
    }

    fn with_id(
        id: usize,
        config: SensorConfig,
        sources: Arc<Vec<Arc<str>>>,
        live: bool,
    ) -> Decoder {
        Decoder {
            id,
            defrag: Defragmenter::new(config.defrag),
            tcp: TcpReassembler::new(config.tcp),
            pairing: Pairing::new(config.pairing),
            responders: Responders::new(config.responders),
            queriers: Queriers::new(config.queriers),
            config,
            sources,
            live,
            tuples: TupleAggregator::default(),
            last_tuple_flush_ns: 0,
            name: NameBuf::default(),
            rdata_name: NameBuf::default(),
            stats: WorkerStats::default(),
            answers: PendingAnswers::default(),
            bailiwick: BailiwickChecker::default(),
            breaks: Vec::new(),
            glue_reported: std::collections::HashMap::default(),
            last_exposure_ns: 0,
        }
    }

    /// Raw answers collected so far (with [`SensorConfig::observe_answers`]), taken.
    pub fn take_answers(&mut self) -> Vec<(u64, RawAnswer)> {
        self.answers.take()
    }

    fn run(
        mut self,
        rx: Receiver<Batch>,
        pool: Sender<Batch>,
        out: Sender<WorkerOutput>,
        progress: Arc<Progress>,
    ) -> WorkerStats {
        let mut last_progress = Instant::now();
        let mut last_time_ns = 0;
        for mut batch in rx {
            let started = Instant::now();
            let _ = self
                .stats
                .queue_ns
                .record(started.duration_since(batch.sent).as_nanos().max(1) as u64);
            let mut output = WorkerOutput {
                worker: self.id,
                watermark: batch.watermark,
                ..Default::default()
            };
            for slot in &batch.slots {
                let data = batch
                    .data
                    .get(slot.start..slot.start + slot.len)
                    .unwrap_or(&[]);
                self.frame(slot, data, &mut output.observations);
                last_time_ns = slot.time_ns;
            }
            output.answers = self.answers.take();
            if self.live && last_time_ns > 0 {
                if self.last_exposure_ns == 0 {
                    self.last_exposure_ns = last_time_ns;
                } else if last_time_ns.saturating_sub(self.last_exposure_ns) >= EXPOSURE_INTERVAL_NS
                {
                    self.last_exposure_ns = last_time_ns;
                    output.exposure = self.queriers.snapshot();
                }
            }
            if !batch.slots.is_empty() {
                let per_frame = started.elapsed().as_nanos() as u64 / batch.slots.len() as u64;
                let _ = self.stats.decode_ns_per_frame.record(per_frame.max(1));
            }
            if self.tuples.len() >= self.config.tuple_flush_max
                || (!self.tuples.is_empty()
                    && last_time_ns.saturating_sub(self.last_tuple_flush_ns)
                        >= self.config.tuple_flush_ns)
            {
                self.last_tuple_flush_ns = last_time_ns;
                output.tuples = self.tuples.drain(&self.config.sensor_id);
                self.stats.pdns_tuples += output.tuples.len() as u64;
            }
            batch.slots.clear();
            batch.data.clear();
            let _ = pool.try_send(batch);
            if out.send(output).is_err() {
                break;
            }
            if last_progress.elapsed() >= Duration::from_secs(1) {
                last_progress = Instant::now();
                self.publish(&progress);
            }
        }
        let tuples = self.finish();
        let _ = out.send(WorkerOutput {
            worker: self.id,
            watermark: u64::MAX,
            observations: Vec::new(),
            tuples,
            answers: self.answers.take(),
            exposure: self.queriers.take(),
        });
        self.publish(&progress);
        self.stats
    }

    fn publish(&mut self, progress: &Progress) {
        let stats = self.stats();
        if let Ok(mut w) = progress.workers.lock() {
            if let Some(s) = w.get_mut(self.id) {
                *s = stats;
            }
        }
    }

    fn is_dns_port(&self, a: u16, b: u16) -> bool {
        self.config.ports.iter().any(|&p| p == a || p == b)
    }

    fn frame(&mut self, slot: &Slot, data: &[u8], observations: &mut Vec<(u64, Observation)>) {
        self.stats.frames += 1;
        self.stats.bytes += data.len() as u64;
        let frame = match frame::decode(slot.linktype, data) {
            Ok(f) => f,
            Err(skip) => {
                self.stats.skip(skip);
                return;
            }
        };
        let mut lower = AnomalySet::default();
        match frame.transport {
            FrameTransport::Udp {
                src_port,
                dst_port,
                payload,
                truncated,
            } => {
                if !self.is_dns_port(src_port, dst_port) {
                    self.stats.skip(frame::Skip::NotDnsPort);
                    return;
                }
                // Cut by the capture's snap length, or a UDP length the packet never had.
                if slot.snap_truncated {
                    lower.insert(Anomaly::SnapTruncated);
                } else if truncated {
                    lower.insert(Anomaly::BadTransportHeader);
                }
                let ctx = self.context(
                    slot,
                    frame.ip,
                    src_port,
                    dst_port,
                    Transport::Udp,
                    None,
                    lower,
                );
                self.stats.udp_datagrams += 1;
                self.message(payload, &ctx, slot.seq, observations);
            }
            FrameTransport::Tcp {
                src_port,
                dst_port,
                seq,
                syn,
                fin,
                rst,
                payload,
            } => {
                if !self.is_dns_port(src_port, dst_port) {
                    self.stats.skip(frame::Skip::NotDnsPort);
                    return;
                }
                let key = StreamKey {
                    src: frame.ip.src,
                    src_port,
                    dst: frame.ip.dst,
                    dst_port,
                };
                let ctx = self.context(
                    slot,
                    frame.ip,
                    src_port,
                    dst_port,
                    Transport::Tcp,
                    None,
                    lower,
                );
                // The table is moved out while it delivers, so messages are decoded in place
                // (no copy per message).
                let mut tcp = std::mem::take(&mut self.tcp);
                tcp.push(slot.time_ns, key, seq, syn, fin, rst, payload, |m| {
                    self.message(m, &ctx, slot.seq, observations)
                });
                self.tcp = tcp;
            }
            FrameTransport::IcmpQuoted {
                src_port,
                dst_port,
                payload,
                ..
            } => {
                if !self.is_dns_port(src_port, dst_port) {
                    self.stats.skip(frame::Skip::NotDnsPort);
                    return;
                }
                lower.insert(Anomaly::IcmpQuoted);
                let ctx = self.context(
                    slot,
                    frame.ip,
                    src_port,
                    dst_port,
                    Transport::Icmp,
                    None,
                    lower,
                );
                self.message(payload, &ctx, slot.seq, observations);
            }
            FrameTransport::Fragment {
                protocol,
                id,
                offset,
                more,
                payload,
            } => {
                let key = FragmentKey {
                    src: frame.ip.src,
                    dst: frame.ip.dst,
                    protocol,
                    id,
                };
                let Some(done) =
                    self.defrag
                        .push(slot.time_ns, key, frame.ip.ttl, offset, more, payload)
                else {
                    return;
                };
                let mut ip = frame.ip;
                ip.ttl = done.ttl;
                if done.evidence.overlaps > 0 {
                    lower.insert(Anomaly::FragmentOverlap);
                }
                if done.evidence.inconsistent > 0 {
                    lower.insert(Anomaly::FragmentInconsistent);
                }
                if done.ttl_mismatch {
                    lower.insert(Anomaly::FragmentTtlMismatch);
                }
                if protocol != 17 {
                    // TCP over IP fragments is vanishingly rare; count it rather than guess.
                    self.stats.skip(frame::Skip::NotUdpTcp);
                    return;
                }
                match frame::decode_udp(&done.payload) {
                    Ok(FrameTransport::Udp {
                        src_port,
                        dst_port,
                        payload,
                        truncated,
                    }) => {
                        if !self.is_dns_port(src_port, dst_port) {
                            self.stats.skip(frame::Skip::NotDnsPort);
                            return;
                        }
                        if truncated {
                            lower.insert(Anomaly::BadTransportHeader);
                        }
                        let ctx = self.context(
                            slot,
                            ip,
                            src_port,
                            dst_port,
                            Transport::Udp,
                            Some(done.evidence.clone()),
                            lower,
                        );
                        self.stats.udp_datagrams += 1;
                        self.message(payload, &ctx, slot.seq, observations);
                    }
                    _ => self.stats.skip(frame::Skip::BadTransport),
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)] // a plain constructor of the context's fields
    fn context(
        &self,
        slot: &Slot,
        ip: frame::IpMeta,
        src_port: u16,
        dst_port: u16,
        transport: Transport,
        fragments: Option<schemas::FragmentEvidence>,
        anomalies: AnomalySet,
    ) -> PacketContext {
        PacketContext {
            time_ns: slot.time_ns,
            source_name: self
                .sources
                .get(slot.source as usize)
                .cloned()
                .unwrap_or_else(|| Arc::from("")),
            live: self.live,
            frame: slot.frame,
            ip,
            src_port,
            dst_port,
            transport,
            fragments,
            anomalies,
        }
    }

    /// Enters a query in the pairing table, or judges a response against it (the verdict) and
    /// runs the bailiwick and fingerprint checks on it.
    fn pair(
        &mut self,
        msg: &[u8],
        header: &DnsHeader,
        ctx: &PacketContext,
    ) -> Option<(Verdict, Findings)> {
        let mut walker = RecordWalker::new(msg)?;
        let Some(DnsEntry::Question(q)) = walker.next() else {
            return None;
        };
        if crate::dns::decode_name(msg, q.name_pos, &mut self.name).is_err() {
            return None;
        }
        let question = QuestionRef {
            name: self.name.wire(),
            qtype: q.qtype,
            qclass: q.qclass,
        };
        let (src, dst) = (ctx.ip.src, ctx.ip.dst);
        // Multicast DNS and LLMNR have no one-to-one exchanges to pair.
        if src.is_multicast() || dst.is_multicast() {
            return None;
        }
        if !header.is_response() {
            let flow = Flow {
                client: src,
                client_port: ctx.src_port,
                server: dst,
                server_port: ctx.dst_port,
            };
            let concurrent_duplicate =
                self.pairing
                    .query(flow, header.txid, &question, ctx.time_ns, ctx.frame);
            let (mut upper, mut lower) = (false, false);
            for label in self.name.labels() {
                upper |= label.iter().any(u8::is_ascii_uppercase);
                lower |= label.iter().any(u8::is_ascii_lowercase);
            }
            let (mut edns, mut cookie) = (false, false);
            for entry in walker.by_ref() {
                if let DnsEntry::Record(r) = entry {
                    if r.rtype == 41 {
                        edns = true;
                        cookie |= has_option(r.rdata(msg), 10);
                    }
                }
            }
            self.queriers.note(
                src,
                ctx.time_ns,
                &QueryTraits {
                    port: ctx.src_port,
                    txid: header.txid,
                    rd: header.rd(),
                    letters: upper || lower,
                    mixed_case: upper && lower,
                    edns,
                    cookie,
                    concurrent_duplicate,
                },
            );
            return None;
        }
        // Compare answers as sets: an order-independent sum of per-record hashes (owner in
        // canonical case, type, class, rdata; TTLs left out).
        let mut digest = 0u64;
        let check = self.bailiwick.start(msg, q.name_pos);
        let mut edns = None;
        for entry in walker.by_ref() {
            let DnsEntry::Record(r) = entry else {
                continue;
            };
            if r.rtype == 41 {
                edns = Some(r.class);
                continue;
            }
            // The bailiwick check decodes the owner (lower case) anyway; decode it here only
            // when it did not.
            let interned = if check {
                self.bailiwick.record(msg, &r)
            } else {
                None
            };
            let owner = match interned {
                Some(owner) => owner,
                None => match crate::dns::decode_name(msg, r.name_pos, &mut self.rdata_name) {
                    Ok(_) => self.rdata_name.wire(),
                    Err(_) => &[],
                },
            };
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            let mut eat = |bytes: &[u8], fold_case: bool| {
                for b in bytes {
                    let b = if fold_case {
                        b.to_ascii_lowercase()
                    } else {
                        *b
                    };
                    h ^= u64::from(b);
                    h = h.wrapping_mul(0x0100_0000_01b3);
                }
            };
            eat(owner, true);
            eat(&r.rtype.to_be_bytes(), false);
            eat(&r.class.to_be_bytes(), false);
            eat(r.rdata(msg), false);
            digest = digest.wrapping_add(h);
        }
        let flow = Flow {
            client: dst,
            client_port: ctx.dst_port,
            server: src,
            server_port: ctx.src_port,
        };
        let question = QuestionRef {
            name: self.name.wire(),
            qtype: q.qtype,
            qclass: q.qclass,
        };
        let verdict =
            self.pairing
                .response(flow, header.txid, &question, digest, ctx.time_ns, ctx.frame);
        let mut findings = Findings::default();
        // Only NOERROR and NXDOMAIN carry records a resolver would cache.
        if check && matches!(header.rcode(), 0 | 3) {
            self.bailiwick.finish(q.qtype, src);
            let found = self.bailiwick.findings();
            self.stats.wire.count(found, self.bailiwick.more);
            // Out-of-zone glue alone is everyday traffic from many servers: it is handed on
            // (for an informational alert) once per responder every GLUE_REPORT_NS, and
            // counted always.
            let glue_only = !found.is_empty()
                && found
                    .iter()
                    .all(|f| f.check == crate::bailiwick::BailiwickCheck::OutOfZoneGlue);
            let report = !glue_only || verdict.is_notable() || {
                if self.glue_reported.len() >= MAX_GLUE_RESPONDERS {
                    self.glue_reported.clear();
                }
                let last = self.glue_reported.entry(src).or_insert(0);
                let due = *last == 0 || ctx.time_ns.saturating_sub(*last) >= GLUE_REPORT_NS;
                if due {
                    *last = ctx.time_ns.max(1);
                } else {
                    self.stats.wire.glue_not_reported += 1;
                }
                due
            };
            if report {
                findings.set_bailiwick(found);
            }
        }
        let (rtt_ns, learn) = match verdict {
            Verdict::Answered { rtt_ns, .. } => (Some(rtt_ns), true),
            Verdict::Duplicate { .. } => (None, true),
            _ => (None, false),
        };
        self.breaks.clear();
        self.responders.judge(
            src,
            dst,
            ctx.time_ns,
            ResponseTraits {
                ip_ttl: ctx.ip.ttl,
                edns,
                rtt_ns,
                fragmented: ctx.fragments.is_some(),
            },
            learn,
            &mut self.breaks,
        );
        findings.set_breaks(&self.breaks);
        Some((verdict, findings))
    }

    fn message(
        &mut self,
        msg: &[u8],
        ctx: &PacketContext,
        seq: u64,
        observations: &mut Vec<(u64, Observation)>,
    ) {
        self.stats.messages += 1;
        let Some(header) = DnsHeader::decode(msg) else {
            self.stats.unreported += 1;
            self.stats.malformed += 1;
            self.stats.anomaly(Anomaly::TruncatedHeader);
            return;
        };
        if header.is_response() {
            self.stats.responses += 1;
        } else {
            self.stats.queries += 1;
        }
        let (verdict, findings) =
            if header.opcode() == 0 && header.qdcount == 1 && ctx.transport != Transport::Icmp {
                match self.pair(msg, &header, ctx) {
                    Some((v, f)) => (Some(v), f),
                    None => (None, Findings::default()),
                }
            } else {
                (None, Findings::default())
            };
        // A quoted copy inside an ICMP error is evidence, not an answer to learn from.
        let learn =
            self.config.collect_tuples && header.is_response() && ctx.transport != Transport::Icmp;
        // One walk serves both the anomaly count and (for responses) the aggregation.
        let walked = if learn {
            self.tuples
                .add_response_scan(msg, ctx.time_ns, &mut self.name)
                .map(|(found, added)| {
                    self.stats.pdns_records += added;
                    found
                })
        } else {
            scan(msg, &mut self.name, |_, _| {})
        };
        let Some(found) = walked else {
            return;
        };
        let mut anomalies = found.anomalies;
        for a in ctx.anomalies.iter() {
            anomalies.insert(a);
        }
        if anomalies.is_malformed() {
            self.stats.malformed += 1;
        }
        for a in anomalies.iter() {
            self.stats.anomaly(a);
        }
        if !found.reportable {
            self.stats.unreported += 1;
            return;
        }
        let analysable = self.config.observe_answers
            && header.is_response()
            && header.flags & 0x7800 == 0 // opcode QUERY
            && match header.flags & 0x000f {
                // NOERROR with something in it, or SERVFAIL (a validating resolver failing).
                0 => header.ancount > 0 || header.nscount > 0,
                2 => true,
                _ => false,
            }
            && ctx.transport != Transport::Icmp;
        let notable = self.config.observe_answers
            && header.is_response()
            && is_notable(verdict, &findings, &ctx.anomalies);
        if analysable || notable {
            self.stats.answers_handed_over += 1;
            self.answers.push(seq, msg, ctx, verdict, findings);
        }
        if self.config.emit_observations {
            if let Some(obs) = build_observation(
                msg,
                ctx,
                &self.config.sensor_id,
                &mut self.name,
                &mut self.rdata_name,
            ) {
                // Anomalies of rdata holding names are only found while rendering; count those
                // too, and the message as malformed if the walk alone had not made it so.
                let mut newly_malformed = false;
                for a in obs.anomalies.iter().filter(|a| !anomalies.contains(**a)) {
                    self.stats.anomaly(*a);
                    newly_malformed |= a.is_malformed();
                }
                if newly_malformed && !anomalies.is_malformed() {
                    self.stats.malformed += 1;
                }
                self.stats.observations += 1;
                let mut obs = obs;
                obs.pairing = verdict.map(|v| v.info());
                obs.findings = findings.render(msg, &mut self.rdata_name);
                observations.push((seq, obs));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_is_symmetric() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&[
            0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        let mut g = f.clone();
        g[26..30].copy_from_slice(&[10, 0, 0, 2]);
        g[30..34].copy_from_slice(&[10, 0, 0, 1]);
        for n in 2..8 {
            assert_eq!(shard(1, &f, n), shard(1, &g, n));
        }
    }

    #[test]
    fn merger_orders_by_sequence_across_workers() {
        let obs = |seq: u64| {
            let o: Observation = serde_json::from_str(&format!(
                r#"{{"type":"observation","schema_version":1,"time_ns":{seq},"sensor_id":"t",
                "source":{{"frame":{seq}}},"ip_version":4,"src_ip":"10.0.0.1","dst_ip":"10.0.0.2",
                "src_port":53,"dst_port":1,"transport":"udp","ip_ttl":64,"dns_len":12,"txid":0,
                "opcode":0,"rcode":0,"flags":{{"qr":false,"aa":false,"tc":false,"rd":false,
                "ra":false,"z":false,"ad":false,"cd":false}},"counts":{{"qd":0,"an":0,"ns":0,
                "ar":0}},"questions":[],"answers":[],"authority":[],"additional":[],
                "anomalies":[]}}"#
            ))
            .unwrap();
            (seq, o)
        };
        let mut m = Merger::new(2);
        let mut got = Vec::new();
        m.push(
            &mut WorkerOutput {
                worker: 0,
                watermark: 4,
                observations: vec![obs(1), obs(4)],
                tuples: vec![],
                answers: vec![],
                exposure: vec![],
            },
            |o| got.push(o.time_ns),
        );
        assert!(got.is_empty(), "worker 1 has not reported up to 4 yet");
        m.push(
            &mut WorkerOutput {
                worker: 1,
                watermark: 4,
                observations: vec![obs(2), obs(3)],
                tuples: vec![],
                answers: vec![],
                exposure: vec![],
            },
            |o| got.push(o.time_ns),
        );
        assert_eq!(got, vec![1, 2, 3, 4]);
    }
}
