//! `dnsward run` and `dnsward query`.

use crate::config::StatsFormat;
use crate::timeparse::parse_time;
use crate::{QueryArgs, RunArgs};
use anyhow::{bail, Context, Result};
use crossbeam_channel::{bounded, RecvTimeoutError};
use sensor::capture::{default_bpf, LiveOptions};
use sensor::pipeline::{Input, Merger, Progress, WorkerOutput};
use sensor::stats::StatsReport;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where `--emit json[=PATH]` writes.
fn emit_target(spec: &str) -> Result<Box<dyn Write + Send>> {
    let path = match spec.split_once('=') {
        None if spec == "json" => "-",
        Some(("json", path)) => path,
        _ => bail!("--emit takes json or json=PATH, not {spec:?}"),
    };
    if path == "-" {
        return Ok(Box::new(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stdout(),
        )));
    }
    let file = std::fs::File::create(path).with_context(|| format!("creating {path}"))?;
    Ok(Box::new(std::io::BufWriter::with_capacity(1 << 16, file)))
}

/// Writes observations as JSON lines; the first write error stops further writes.
struct Emitter {
    writer: Option<Box<dyn Write + Send>>,
    error: Option<std::io::Error>,
}

impl Emitter {
    fn write(&mut self, obs: &schemas::Observation) {
        let Some(w) = self.writer.as_mut() else {
            return;
        };
        if self.error.is_some() {
            return;
        }
        let result = serde_json::to_writer(&mut *w, obs)
            .map_err(std::io::Error::from)
            .and_then(|()| w.write_all(b"\n"));
        if let Err(e) = result {
            self.error = Some(e);
        }
    }

    fn flush(&mut self) {
        if let Some(w) = self.writer.as_mut() {
            if let Err(e) = w.flush() {
                self.error.get_or_insert(e);
            }
        }
    }
}

/// The store writer's counters, for the stats output.
#[derive(Debug, serde::Serialize)]
struct StoreReport {
    tuples_received: u64,
    tuples_rejected: u64,
    records_written: u64,
    index_entries_written: u64,
    flushes: u64,
    batches: u64,
    bytes_written: u64,
    corrupt_values_replaced: u64,
    flush_latency_us: sensor::stats::Percentiles,
}

fn print_stats(
    format: StatsFormat,
    report: &StatsReport,
    store: Option<&StoreReport>,
    analysis: Option<&analyzer::runner::AnalysisReport>,
) {
    let mut err = std::io::stderr().lock();
    match format {
        StatsFormat::Text => {
            let _ = write!(err, "{}", report.to_text());
            if let Some(s) = store {
                let _ = writeln!(
                    err,
                    "store: tuples_received={} tuples_rejected={} records_written={} index_entries_written={} flushes={} batches={} bytes_written={} corrupt_values_replaced={}",
                    s.tuples_received, s.tuples_rejected, s.records_written, s.index_entries_written,
                    s.flushes, s.batches, s.bytes_written, s.corrupt_values_replaced
                );
                let p = &s.flush_latency_us;
                let _ = writeln!(
                    err,
                    "latency store_flush: n={} p50={}us p90={}us p99={}us max={}us",
                    p.samples, p.p50, p.p90, p.p99, p.max
                );
            }
            if let Some(a) = analysis {
                print_analysis(&mut err, a);
            }
        }
        StatsFormat::Json => {
            let mut value = serde_json::to_value(report).unwrap_or_default();
            if let (Some(obj), Some(s)) = (value.as_object_mut(), store) {
                obj.insert(
                    "store".to_owned(),
                    serde_json::to_value(s).unwrap_or_default(),
                );
            }
            if let (Some(obj), Some(a)) = (value.as_object_mut(), analysis) {
                obj.insert(
                    "analysis".to_owned(),
                    serde_json::to_value(a).unwrap_or_default(),
                );
            }
            let _ = writeln!(err, "{value}");
        }
    }
}

/// One worker's querier states.
type ExposureSnapshot = Vec<(std::net::IpAddr, sensor::exposure::QuerierState)>;

/// The analysis stage of `dnsward run`: picks the wanted raw answers in capture order, builds
/// their observations and hands them, in batches, to the analysis thread.
struct Analysis {
    tx: crossbeam_channel::Sender<analyzer::runner::AnalysisInput>,
    thread: analyzer::runner::AnalysisThread,
    filter: analyzer::detect::AnswerFilter,
    scratch: sensor::pipeline::AnswerScratch,
    merger: Merger<sensor::pipeline::RawAnswer>,
    sensor_id: String,
    /// Every worker's latest view of the queriers (each snapshot replaces the worker's last),
    /// and whether it is newer than the last report sent.
    exposure: Vec<(ExposureSnapshot, bool)>,
    /// Packet time of the latest answer released, for the exposure report's time.
    last_ns: u64,
}

impl Analysis {
    /// Keeps a worker's latest querier snapshot; once every worker has sent a newer one than
    /// the last report (live capture), reports the merged view.
    fn exposure(&mut self, worker: usize, states: ExposureSnapshot) -> Result<()> {
        if states.is_empty() {
            return Ok(());
        }
        if let Some(slot) = self.exposure.get_mut(worker) {
            *slot = (states, true);
        }
        if self.exposure.iter().all(|(_, fresh)| *fresh) {
            for (_, fresh) in &mut self.exposure {
                *fresh = false;
            }
            self.send_exposure()?;
        }
        Ok(())
    }

    /// Takes one worker output's raw answers; sends what is now in order.
    fn push(
        &mut self,
        worker: usize,
        watermark: u64,
        answers: Vec<(u64, sensor::pipeline::RawAnswer)>,
    ) -> Result<()> {
        let mut ready = Vec::new();
        let (filter, scratch, sensor_id) = (&mut self.filter, &mut self.scratch, &self.sensor_id);
        self.merger.push_items(worker, watermark, answers, |raw| {
            admit(filter, scratch, sensor_id, &raw, &mut ready);
        });
        self.send(ready)
    }

    /// Everything left (all workers have finished).
    fn finish(&mut self) -> Result<()> {
        let mut ready = Vec::new();
        let (filter, scratch, sensor_id) = (&mut self.filter, &mut self.scratch, &self.sensor_id);
        self.merger
            .finish(|raw| admit(filter, scratch, sensor_id, &raw, &mut ready));
        self.send(ready)?;
        // The workers' last snapshots, unless every one was reported already.
        if self.exposure.iter().any(|(_, fresh)| *fresh) {
            self.send_exposure()?;
        }
        Ok(())
    }

    fn send(&mut self, ready: Vec<schemas::Observation>) -> Result<()> {
        if let Some(last) = ready.last() {
            self.last_ns = self.last_ns.max(last.time_ns);
        }
        if !ready.is_empty()
            && self
                .tx
                .send(analyzer::runner::AnalysisInput::Observations(ready))
                .is_err()
        {
            bail!("the analysis thread stopped");
        }
        Ok(())
    }

    /// Hands the merged exposure of every querier (the workers' latest snapshots) to the
    /// analysis thread.
    fn send_exposure(&mut self) -> Result<()> {
        let mut merged: std::collections::BTreeMap<
            std::net::IpAddr,
            sensor::exposure::QuerierState,
        > = std::collections::BTreeMap::new();
        for (states, _) in &self.exposure {
            for (ip, state) in states {
                merged.entry(*ip).or_default().merge(state);
            }
        }
        let reports: Vec<schemas::ResolverExposure> = merged
            .into_iter()
            .map(|(ip, state)| state.report(ip))
            .collect();
        if reports.is_empty() {
            return Ok(());
        }
        let time_ns = reports
            .iter()
            .map(|r| r.last_ns)
            .max()
            .unwrap_or(0)
            .max(self.last_ns);
        if self
            .tx
            .send(analyzer::runner::AnalysisInput::Resolvers { time_ns, reports })
            .is_err()
        {
            bail!("the analysis thread stopped");
        }
        Ok(())
    }
}

/// Builds the observation of `raw` when the filter wants it or it is notable on the wire.
fn admit(
    filter: &mut analyzer::detect::AnswerFilter,
    scratch: &mut sensor::pipeline::AnswerScratch,
    sensor_id: &str,
    raw: &sensor::pipeline::RawAnswer,
    ready: &mut Vec<schemas::Observation>,
) {
    let Some((header, qtype)) = raw.question(scratch) else {
        return;
    };
    // Spoofing verdicts (races, 0x20, wrong txids, unsolicited answers) are analysed whatever
    // the name.
    let notable = raw.is_notable();
    // A SERVFAIL about a watched name counts like an answer (a validating resolver failing).
    let answered = header.ancount > 0 || header.rcode() == 2;
    if !notable && !filter.wants(&scratch.qname, qtype, answered) {
        return;
    }
    if let Some(obs) = raw.observation(sensor_id, scratch) {
        filter.learn(&obs);
        ready.push(obs);
    }
}

fn print_analysis(err: &mut impl Write, a: &analyzer::runner::AnalysisReport) {
    let s = &a.analyzer;
    let _ = writeln!(
        err,
        "analysis: observations={} watched_rrsets={} learning={} baselines={} learnt_targets={} targets_dropped={} rrsets_dropped={} episodes_opened={} episodes_closed={} episodes_open={} episodes_dropped={} episode_entries_dropped={} alerts_notified={} alert_lines={} rotations={} resolvers={}",
        s.observations, s.watched_rrsets, s.learning, a.baselines, a.learnt_targets,
        s.targets_dropped, s.rrsets_dropped, s.episodes_opened, s.episodes_closed,
        a.open_episodes, s.episodes_dropped, s.episode_entries_dropped, s.alerts_notified, a.sinks.lines, a.sinks.rotations, a.resolvers
    );
    let (d, v) = (&s.dnssec, &a.validator);
    let _ = writeln!(
        err,
        "dnssec: secure={} insecure={} bogus={} indeterminate={} held={} held_dropped={} downstream_dropped={} messages={} unparsable={} verifications={} cache_hits={} memo_hits={} cache_clears={} keys_trusted={} ds_trusted={} insecure_proofs={} zones_dropped={} names_dropped={}",
        d.secure, d.insecure, d.bogus, d.indeterminate, d.held, d.held_dropped, d.downstream_dropped,
        v.messages, v.unparsable, v.verifications, v.cache_hits, v.memo_hits, v.cache_clears, v.keys_trusted,
        v.ds_trusted, v.insecure_proofs, v.zones_dropped, v.names_dropped
    );
}

pub fn run(args: &RunArgs) -> Result<()> {
    let config = args.config()?;
    let mut sensor_config = config.sensor();
    let mut emit = Emitter {
        writer: args.emit.as_deref().map(emit_target).transpose()?,
        error: None,
    };
    sensor_config.emit_observations = emit.writer.is_some();
    sensor_config.collect_tuples = !args.no_store;
    let input = match (&args.interface, args.pcap.is_empty()) {
        (Some(interface), _) => Input::Live(LiveOptions {
            interface: interface.clone(),
            bpf: if config.capture.bpf.is_empty() {
                default_bpf(&config.ports)
            } else {
                config.capture.bpf.clone()
            },
            buffer_bytes: i32::try_from(config.capture.buffer_bytes).unwrap_or(i32::MAX),
            snaplen: i32::try_from(config.capture.snaplen_bytes).unwrap_or(i32::MAX),
        }),
        (None, false) => Input::Files(args.pcap.clone()),
        (None, true) => bail!("nothing to read: give --pcap FILE... or --interface IFACE"),
    };
    let live = matches!(input, Input::Live(_));

    let db = if args.no_store {
        None
    } else {
        let path = &config.store.db_path;
        let store = analyzer::store::Store::open(path)
            .with_context(|| format!("opening store {}", path.display()))?;
        Some(Arc::new(store))
    };
    let store = match &db {
        None => None,
        Some(db) => {
            let (tx, rx) = bounded(64);
            let writer_config = analyzer::store::writer::WriterConfig {
                flush_interval: Duration::from_secs(config.store.flush_interval_secs.max(1)),
                ..Default::default()
            };
            let writer = analyzer::store::writer::StoreWriter::spawn(db.clone(), rx, writer_config)
                .context("starting the store writer")?;
            Some((tx, writer))
        }
    };
    let mut analysis = if args.no_analyze {
        None
    } else {
        if config.alerts.stdout
            && args
                .emit
                .as_deref()
                .is_some_and(|e| e == "json" || e == "json=-")
        {
            bail!("--alerts-stdout and --emit to standard output cannot share it; give --emit json=PATH");
        }
        let analyzer = crate::analysis::build_analyzer(&config)?;
        let learnt = match &db {
            Some(db) => db.load_learnt()?.records,
            None => Vec::new(),
        };
        let filter = analyzer::detect::AnswerFilter::new(&config.watch, learnt);
        let sinks =
            analyzer::sinks::AlertSinks::open(&config.alerts).context("opening the alert sinks")?;
        let (tx, rx) = bounded::<analyzer::runner::AnalysisInput>(64);
        let thread = analyzer::runner::AnalysisThread::spawn(
            analyzer,
            db.clone(),
            sinks,
            analyzer::runner::AnalysisOptions::default(),
            rx,
        )
        .context("starting the analysis thread")?;
        sensor_config.observe_answers = true;
        Some(Analysis {
            tx,
            thread,
            filter,
            scratch: sensor::pipeline::AnswerScratch::default(),
            merger: Merger::new(sensor_config.workers.max(1)),
            sensor_id: sensor_config.sensor_id.clone(),
            exposure: vec![(Vec::new(), false); sensor_config.workers.max(1)],
            last_ns: 0,
        })
    };

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing signal handler")?;
    }
    let workers = sensor_config.workers.max(1);
    let (out_tx, out_rx) = bounded::<WorkerOutput>(workers * 16);
    let progress = Arc::new(Progress::default());
    let sensor_thread = {
        let stop = stop.clone();
        let progress = progress.clone();
        let sc = sensor_config.clone();
        std::thread::Builder::new()
            .name("dnsward-capture".to_owned())
            .spawn(move || sensor::pipeline::run(&sc, input, stop, out_tx, progress))
            .context("starting the capture thread")?
    };

    let mut merger = Merger::new(workers);
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut last_stats = Instant::now();
    let show_progress = !args.quiet && !live;
    let stderr_tty = std::io::stderr().is_terminal();
    let mut announced = false;
    loop {
        if live && !announced && progress.capturing.load(Ordering::Acquire) {
            announced = true;
            if let Some(interface) = &args.interface {
                eprintln!("dnsward: capturing on {interface}");
            }
        }
        match out_rx.recv_timeout(Duration::from_millis(50)) {
            Ok(mut output) => {
                let tuples = std::mem::take(&mut output.tuples);
                if let Some(a) = analysis.as_mut() {
                    let answers = std::mem::take(&mut output.answers);
                    a.push(output.worker, output.watermark, answers)?;
                    a.exposure(output.worker, std::mem::take(&mut output.exposure))?;
                }
                merger.push(&mut output, |obs| emit.write(&obs));
                if let Some((tx, _)) = &store {
                    if !tuples.is_empty() && tx.send(tuples).is_err() {
                        bail!("the store writer stopped");
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if show_progress && last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            let (c, w) = progress.snapshot();
            let secs = started.elapsed().as_secs_f64().max(0.001);
            let line = format!(
                "progress: {} frames, {} DNS messages, {:.0} frames/s",
                c.frames,
                w.messages,
                c.frames as f64 / secs
            );
            if stderr_tty {
                eprint!("\r{line}");
            } else {
                eprintln!("{line}");
            }
        }
        if live
            && config.stats.interval_secs > 0
            && last_stats.elapsed() >= Duration::from_secs(config.stats.interval_secs)
        {
            last_stats = Instant::now();
            let (c, w) = progress.snapshot();
            print_stats(config.stats.format, &StatsReport::new(c, &w), None, None);
        }
        if emit.error.is_some() {
            // stdout closed or disk full: stop capturing, flush what we have.
            stop.store(true, Ordering::Relaxed);
        }
    }
    merger.finish(|obs| emit.write(&obs));
    if let Some(a) = analysis.as_mut() {
        a.finish()?;
    }
    if show_progress && stderr_tty {
        eprintln!();
    }
    emit.flush();
    let report = sensor_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the capture thread panicked"))??;
    let store_report = match store {
        Some((tx, writer)) => {
            drop(tx);
            let w = writer.join().context("flushing the store")?;
            Some(StoreReport {
                tuples_received: w.tuples_received,
                tuples_rejected: w.tuples_rejected,
                records_written: w.unique_keys_written,
                index_entries_written: w.index_entries_written,
                flushes: w.flushes,
                batches: w.batches,
                bytes_written: w.bytes_written,
                corrupt_values_replaced: w.corrupt_values_replaced,
                flush_latency_us: sensor::stats::Percentiles::of(&w.flush_latency_us),
            })
        }
        None => None,
    };
    let analysis_report = match analysis {
        Some(a) => {
            drop(a.tx);
            Some(a.thread.join().context("analysing")?)
        }
        None => None,
    };
    let stats = StatsReport::new(report.capture, &report.workers);
    print_stats(
        config.stats.format,
        &stats,
        store_report.as_ref(),
        analysis_report.as_ref(),
    );
    if let Some(e) = emit.error {
        return Err(anyhow::Error::from(e).context("writing observations"));
    }
    if let Some(e) = report.error {
        return Err(anyhow::Error::from(e)
            .context("capture stopped early; everything before it was processed"));
    }
    Ok(())
}

pub fn query(args: &QueryArgs) -> Result<()> {
    use analyzer::query::{cof_line, format_table, Filter, NamePattern, RdataQuery};
    let rrtype = match &args.rtype {
        Some(t) => Some(
            schemas::rrtype::parse_type(t).with_context(|| format!("unknown record type {t:?}"))?,
        ),
        None => None,
    };
    let time = |t: &Option<String>, what: &str| -> Result<Option<u64>> {
        t.as_deref()
            .map(|s| {
                parse_time(s).with_context(|| {
                    format!("--{what} {s:?}: give Unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ")
                })
            })
            .transpose()
    };
    let filter = Filter {
        rrtype,
        since: time(&args.since, "since")?,
        until: time(&args.until, "until")?,
        strict: args.strict,
    };
    filter.validate()?;
    let store = analyzer::store::Store::open_read_only(&args.db)
        .with_context(|| format!("opening store {}", args.db.display()))?;
    let outcome = match (&args.name, &args.rdata) {
        (_, Some(rdata)) => store.query_rdata(&RdataQuery::parse(rdata)?, &filter)?,
        (Some(name), None) => store.query_name(&NamePattern::parse(name)?, &filter)?,
        (None, None) => bail!("give a NAME, *.SUFFIX or --rdata VALUE"),
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        for r in &outcome.records {
            writeln!(out, "{}", cof_line(&r.to_cof()))?;
        }
    } else {
        write!(out, "{}", format_table(&outcome.records))?;
    }
    out.flush()?;
    for d in &outcome.damaged {
        eprintln!("dnsward: skipped a damaged store entry: {}", d.error);
    }
    Ok(())
}
