//! The analysis thread: [`AnalysisThread`] feeds observations, in capture order, through the
//! [`Analyzer`], keeps its state in the store and hands alerts to the sinks.
//!
//! Observations arrive as [`AnalysisInput::Observations`] on a bounded crossbeam channel (the binary sends
//! them in the order the sensor's merger releases them, so results do not depend on thread
//! scheduling). Alert states are written to the store at the end of a batch in which one was
//! opened, escalated or closed, else at most once a second of packet time (the latest of each:
//! a flood updates its alert once per packet);
//! baselines, learnt
//! targets and the state of open episodes every [`AnalysisOptions::checkpoint_secs`] of packet
//! time and at the end, and loaded again when the next run starts. When every
//! sender is dropped, the thread saves everything, syncs the store and returns its
//! [`AnalysisReport`].

use crate::detect::{AlertUpdate, Analyzer, AnalyzerStats};
use crate::sinks::{AlertSinks, SinkStats};
use crate::store::Store;
use crate::Error;
use crossbeam_channel::Receiver;
use schemas::{Observation, ResolverExposure};
use std::sync::Arc;
use std::thread::JoinHandle;

/// What the thread is fed.
#[derive(Debug, Clone)]
pub enum AnalysisInput {
    /// Observations, in capture order.
    Observations(Vec<Observation>),
    /// The resolvers' exposure as the sensor saw it (merged across workers), at `time_ns`
    /// (packet time).
    Resolvers {
        /// Packet time of the report (the last packet seen).
        time_ns: u64,
        /// One report per querier.
        reports: Vec<ResolverExposure>,
    },
}

/// Packet time between two stores of alerts whose sinks were not notified, ns.
const ALERT_WRITE_NS: u64 = 1_000_000_000;

/// How the thread saves its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisOptions {
    /// Packet-time seconds between saves of baselines and learnt targets.
    pub checkpoint_secs: u64,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            checkpoint_secs: 300,
        }
    }
}

/// What the thread did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AnalysisReport {
    /// The analyzer's counters.
    pub analyzer: AnalyzerStats,
    /// The sinks' counters.
    pub sinks: SinkStats,
    /// Baselines held at the end.
    pub baselines: u64,
    /// Learnt targets held at the end.
    pub learnt_targets: u64,
    /// Baseline saves (rrsets written).
    pub baselines_saved: u64,
    /// Episodes still open at the end (saved as open alerts).
    pub open_episodes: u64,
    /// Resolver exposure reports received (and stored).
    pub resolvers: u64,
    /// The DNSSEC validator's counters.
    pub validator: crate::validate::ValidatorStats,
}

/// The running thread.
#[derive(Debug)]
pub struct AnalysisThread {
    handle: JoinHandle<Result<AnalysisReport, Error>>,
}

struct State {
    analyzer: Analyzer,
    store: Option<Arc<Store>>,
    sinks: AlertSinks,
    report: AnalysisReport,
    options: AnalysisOptions,
    last_checkpoint_ns: u64,
    updates: Vec<AlertUpdate>,
    /// Packet time alert states were last stored.
    last_alert_write_ns: u64,
    /// Latest state of alerts updated since they were last stored, by id.
    pending: std::collections::BTreeMap<String, schemas::alert::Alert>,
}

impl State {
    fn handle(&mut self, batch: &[Observation]) -> Result<(), Error> {
        let notified_before = self.analyzer.stats.alerts_notified;
        for obs in batch {
            self.analyzer.process(obs, &mut self.updates);
            self.flush_updates()?;
            let due = self.options.checkpoint_secs.saturating_mul(1_000_000_000);
            if obs.time_ns.saturating_sub(self.last_checkpoint_ns) >= due {
                self.last_checkpoint_ns = obs.time_ns;
                self.checkpoint()?;
            }
        }
        // Open alerts that only count more responses (a flood) are stored at most once a
        // second of packet time; a state change sinks see is stored at once.
        let now = batch.last().map_or(0, |o| o.time_ns);
        if self.analyzer.stats.alerts_notified != notified_before
            || now.saturating_sub(self.last_alert_write_ns) >= ALERT_WRITE_NS
        {
            self.last_alert_write_ns = now;
            self.write_pending()?;
        }
        Ok(())
    }

    fn resolvers(&mut self, time_ns: u64, reports: &[ResolverExposure]) -> Result<(), Error> {
        self.analyzer
            .observe_resolvers(time_ns, reports, &mut self.updates);
        self.flush_updates()?;
        if let Some(store) = &self.store {
            store.save_resolvers(reports)?;
        }
        self.report.resolvers += reports.len() as u64;
        self.write_pending()
    }

    /// Stores the latest state of every alert updated since the last call, in one batch (a
    /// flood updates one alert per packet; the store needs its state once per batch).
    fn write_pending(&mut self) -> Result<(), Error> {
        for alert in self.analyzer.take_stale_alerts() {
            self.pending.insert(alert.event.id.clone(), alert);
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        if let Some(store) = &self.store {
            store.save_alerts(pending.values())?;
        }
        Ok(())
    }

    fn flush_updates(&mut self) -> Result<(), Error> {
        if self.updates.is_empty() {
            return Ok(());
        }
        let updates = std::mem::take(&mut self.updates);
        let mut wrote = false;
        for u in updates {
            if u.notify {
                self.sinks.write(&u.alert)?;
                wrote = true;
            }
            self.pending.insert(u.alert.event.id.clone(), u.alert);
        }
        if wrote {
            // State changes are rare; a SIEM tailing the file should see them at once.
            self.sinks.flush()?;
        }
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<(), Error> {
        let baselines = self.analyzer.take_dirty_baselines();
        let learnt = self.analyzer.take_new_learnt();
        let (episodes, closed) = self.analyzer.take_episode_changes();
        let zones = self.analyzer.take_dirty_zones();
        let outcomes = self.analyzer.take_dirty_dnssec();
        if let Some(store) = &self.store {
            store.save_dnssec(&zones, &outcomes)?;
            self.report.baselines_saved += store.save_baselines(&baselines)?;
            store.save_learnt(&learnt)?;
            store.save_episodes(&episodes, &closed)?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<AnalysisReport, Error> {
        // Responses still waiting for their keys get the verdict the chain now allows.
        self.analyzer.flush_dnssec(&mut self.updates);
        self.flush_updates()?;
        self.write_pending()?;
        self.checkpoint()?;
        let open = self.analyzer.open_alerts();
        if let Some(store) = &self.store {
            store.save_alerts(&open)?;
            store.sync()?;
        }
        self.sinks.flush()?;
        self.report.open_episodes = open.len() as u64;
        self.report.analyzer = self.analyzer.stats.clone();
        self.report.validator = self.analyzer.validator_stats().clone();
        self.report.sinks = self.sinks.stats.clone();
        self.report.baselines = self.analyzer.baselines().len() as u64;
        self.report.learnt_targets = self.analyzer.watchlist().learnt_len() as u64;
        Ok(self.report)
    }
}

impl AnalysisThread {
    /// Loads the analyzer's saved state from `store` (when given) and starts the thread.
    pub fn spawn(
        mut analyzer: Analyzer,
        store: Option<Arc<Store>>,
        sinks: AlertSinks,
        options: AnalysisOptions,
        input: Receiver<AnalysisInput>,
    ) -> Result<AnalysisThread, Error> {
        analyzer.set_lazy_updates(true);
        if let Some(s) = &store {
            let baselines = s.load_baselines()?;
            let learnt = s.load_learnt()?;
            analyzer.restore(baselines.records, learnt.records);
            analyzer.restore_episodes(s.load_episodes()?.records);
            let (zones, outcomes) = s.load_dnssec()?;
            analyzer.restore_dnssec(zones.records, outcomes.records);
        }
        let mut state = State {
            analyzer,
            store,
            sinks,
            report: AnalysisReport::default(),
            options,
            last_checkpoint_ns: 0,
            updates: Vec::new(),
            last_alert_write_ns: 0,
            pending: std::collections::BTreeMap::new(),
        };
        let handle = std::thread::Builder::new()
            .name("dnsward-analyzer".to_owned())
            .spawn(move || {
                for input in input.iter() {
                    match input {
                        AnalysisInput::Observations(batch) => {
                            if let Some(first) = batch.first() {
                                if state.last_checkpoint_ns == 0 {
                                    state.last_checkpoint_ns = first.time_ns;
                                }
                            }
                            state.handle(&batch)?;
                        }
                        AnalysisInput::Resolvers { time_ns, reports } => {
                            state.resolvers(time_ns, &reports)?;
                        }
                    }
                }
                state.finish()
            })
            .map_err(Error::Spawn)?;
        Ok(AnalysisThread { handle })
    }

    /// Waits for the end of input and returns what the thread did.
    pub fn join(self) -> Result<AnalysisReport, Error> {
        self.handle.join().map_err(|_| Error::AnalyzerPanicked)?
    }
}
