//! The configuration file: one TOML file, every key also a command-line flag, unknown keys
//! rejected by name, and defaults that work with no file at all.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything `dnsward run` can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Identifier of this sensor, written into every observation and store record.
    pub sensor_id: String,
    /// Ports carrying DNS over UDP and TCP.
    pub ports: Vec<u16>,
    /// Decode worker threads (default: one less than the cores, at least 1, at most 8).
    pub workers: usize,
    /// Capture settings.
    pub capture: CaptureConfig,
    /// Reassembly bounds.
    pub limits: LimitsConfig,
    /// Passive-DNS store settings.
    pub store: StoreConfig,
    /// Statistics output.
    pub stats: StatsConfig,
    /// What is watched.
    pub watch: analyzer::watch::WatchConfig,
    /// How baselines learn.
    pub baseline: analyzer::baseline::BaselineConfig,
    /// Detector settings.
    pub detect: analyzer::detect::DetectConfig,
    /// Where alerts go (besides the store).
    pub alerts: analyzer::sinks::SinkConfig,
    /// Offline IP-to-AS tables.
    pub asn: AsnConfig,
    /// DNSSEC validation.
    pub dnssec: DnssecConfig,
}

/// DNSSEC settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnssecConfig {
    /// Trust anchor files (DS or DNSKEY records in presentation format), added to the root's
    /// built-in anchors (KSK-2017 and KSK-2024).
    pub anchors: Vec<PathBuf>,
    /// Zones the operator declares unsigned: their unsigned answers are `insecure`, not
    /// `indeterminate` (for zones whose DS absence never crosses the wire).
    pub insecure: Vec<String>,
}

impl DnssecConfig {
    /// The built-in root anchors, then those of every configured file in order.
    pub fn load_anchors(&self) -> anyhow::Result<Vec<analyzer::dnssec::TrustAnchor>> {
        use anyhow::Context as _;
        let mut anchors = analyzer::dnssec::root_anchors();
        for path in &self.anchors {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading trust anchors {}", path.display()))?;
            anchors.extend(
                analyzer::dnssec::parse_anchors(&text)
                    .with_context(|| format!("trust anchors {}", path.display()))?,
            );
        }
        Ok(anchors)
    }
}

/// Offline IP-to-AS tables (see docs/ip-to-as.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AsnConfig {
    /// Table files (ip-location-db CSV, iptoasn TSV, pfx2as, GeoLite2-ASN mmdb; gzip allowed),
    /// later files win where ranges overlap.
    pub tables: Vec<PathBuf>,
}

/// Live capture settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// BPF filter for live capture; empty means the built-in DNS filter for `ports`.
    pub bpf: String,
    /// Kernel capture buffer, bytes.
    pub buffer_bytes: u32,
    /// Snap length, bytes: large enough for any DNS message.
    pub snaplen_bytes: u32,
    /// Frames per batch handed to a worker.
    pub batch_frames: usize,
    /// Batches queued per worker.
    pub channel_batches: usize,
}

/// Reassembly bounds (per worker).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// IP datagrams being reassembled at once.
    pub max_fragment_datagrams: usize,
    /// Bytes buffered for fragment reassembly.
    pub max_fragment_bytes: usize,
    /// Packet-time seconds before an incomplete datagram is dropped.
    pub fragment_timeout_secs: u64,
    /// TCP streams tracked.
    pub max_tcp_streams: usize,
    /// Bytes buffered per TCP stream.
    pub max_tcp_stream_bytes: usize,
    /// Packet-time seconds before an idle TCP stream is dropped.
    pub tcp_idle_timeout_secs: u64,
    /// Outstanding queries tracked per worker (pairing); more are dropped and counted.
    pub max_pending_queries: usize,
    /// Outstanding queries one client address may hold per worker (so a flood of queries from
    /// one address cannot crowd the others out).
    pub max_pending_per_client: usize,
    /// Packet-time seconds before an unanswered query is dropped.
    pub query_timeout_secs: u64,
    /// (server, client) pairs whose responder fingerprint is kept, per worker.
    pub max_responder_profiles: usize,
    /// Queriers whose exposure is followed, per worker.
    pub max_queriers: usize,
}

/// Passive-DNS store settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Database directory.
    pub db_path: PathBuf,
    /// Seconds (wall clock) between store flushes; a crash loses at most this much.
    pub flush_interval_secs: u64,
    /// Packet-time seconds a worker aggregates tuples before handing them to the store writer.
    pub aggregate_secs: u64,
    /// Unique tuples a worker holds before handing them over early.
    pub aggregate_max_tuples: usize,
}

/// Statistics output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatsConfig {
    /// `text` or `json`.
    pub format: StatsFormat,
    /// Seconds between periodic stats during live capture (0: only at exit).
    pub interval_secs: u64,
}

/// Stats output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StatsFormat {
    /// Readable lines.
    Text,
    /// One JSON object.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sensor_id: "dnsward".to_owned(),
            ports: vec![53],
            // One core is left to the capture thread: on 2 cores, 1 worker measured faster than 2
            // (benches/RESULTS.md).
            workers: std::thread::available_parallelism()
                .map_or(1, |n| n.get().saturating_sub(1))
                .clamp(1, 8),
            capture: CaptureConfig::default(),
            limits: LimitsConfig::default(),
            store: StoreConfig::default(),
            stats: StatsConfig::default(),
            watch: analyzer::watch::WatchConfig::default(),
            baseline: analyzer::baseline::BaselineConfig::default(),
            detect: analyzer::detect::DetectConfig::default(),
            alerts: analyzer::sinks::SinkConfig::default(),
            asn: AsnConfig::default(),
            dnssec: DnssecConfig::default(),
        }
    }
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            bpf: String::new(),
            buffer_bytes: 64 << 20,
            snaplen_bytes: 65_535,
            batch_frames: 256,
            channel_batches: 64,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let d = sensor::defrag::DefragLimits::default();
        let t = sensor::tcp::TcpLimits::default();
        let p = sensor::pairing::PairingLimits::default();
        LimitsConfig {
            max_fragment_datagrams: d.max_datagrams,
            max_fragment_bytes: d.max_bytes,
            fragment_timeout_secs: d.timeout_ns / 1_000_000_000,
            max_tcp_streams: t.max_streams,
            max_tcp_stream_bytes: t.max_stream_bytes,
            tcp_idle_timeout_secs: t.idle_timeout_ns / 1_000_000_000,
            max_pending_queries: p.max_entries,
            max_pending_per_client: p.max_per_client,
            query_timeout_secs: p.query_timeout_ns / 1_000_000_000,
            max_responder_profiles: sensor::responder::ResponderLimits::default().max_profiles,
            max_queriers: sensor::exposure::QuerierLimits::default().max_queriers,
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            db_path: PathBuf::from("dnsward-db"),
            flush_interval_secs: 5,
            aggregate_secs: 10,
            aggregate_max_tuples: 100_000,
        }
    }
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            format: StatsFormat::Text,
            interval_secs: 60,
        }
    }
}

/// The configuration file at `path`, or the defaults without one.
pub fn load(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    use anyhow::Context;
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Config::parse(&text).with_context(|| format!("in {}", path.display()))
        }
        None => Ok(Config::default()),
    }
}

impl Config {
    /// The analyzer settings this configuration describes.
    pub fn analyzer(&self) -> analyzer::detect::AnalyzerConfig {
        analyzer::detect::AnalyzerConfig {
            sensor_id: self.sensor_id.clone(),
            watch: self.watch.clone(),
            baseline: self.baseline.clone(),
            detect: self.detect.clone(),
            dnssec: analyzer::detect::DnssecSettings {
                anchors: analyzer::dnssec::root_anchors(),
                insecure_zones: self.dnssec.insecure.clone(),
            },
        }
    }

    /// Parses a TOML configuration; unknown keys are errors naming the key.
    pub fn parse(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// The sensor settings this configuration describes.
    pub fn sensor(&self) -> sensor::pipeline::SensorConfig {
        let l = &self.limits;
        sensor::pipeline::SensorConfig {
            sensor_id: self.sensor_id.clone(),
            ports: self.ports.clone(),
            workers: self.workers.max(1),
            emit_observations: false,
            observe_answers: false,
            collect_tuples: true,
            tuple_flush_max: self.store.aggregate_max_tuples.max(1),
            tuple_flush_ns: self.store.aggregate_secs.saturating_mul(1_000_000_000),
            batch_frames: self.capture.batch_frames.max(1),
            channel_batches: self.capture.channel_batches.max(1),
            defrag: sensor::defrag::DefragLimits {
                max_datagrams: l.max_fragment_datagrams,
                max_bytes: l.max_fragment_bytes,
                timeout_ns: l.fragment_timeout_secs.saturating_mul(1_000_000_000),
            },
            tcp: sensor::tcp::TcpLimits {
                max_streams: l.max_tcp_streams,
                max_stream_bytes: l.max_tcp_stream_bytes,
                idle_timeout_ns: l.tcp_idle_timeout_secs.saturating_mul(1_000_000_000),
                ..sensor::tcp::TcpLimits::default()
            },
            pairing: sensor::pairing::PairingLimits {
                max_entries: l.max_pending_queries,
                max_per_client: l.max_pending_per_client,
                query_timeout_ns: l.query_timeout_secs.saturating_mul(1_000_000_000),
                ..sensor::pairing::PairingLimits::default()
            },
            responders: sensor::responder::ResponderLimits {
                max_profiles: l.max_responder_profiles,
                ..sensor::responder::ResponderLimits::default()
            },
            queriers: sensor::exposure::QuerierLimits {
                max_queriers: l.max_queriers,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_round_trips_through_toml() {
        let c = Config {
            workers: 3,
            ..Config::default()
        };
        assert_eq!(Config::parse(&c.to_toml()).unwrap(), c);
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.ports, vec![53]);
        assert_eq!(c.store.flush_interval_secs, 5);
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let e = Config::parse("sensor_id = \"a\"\n[store]\nflush_every = 3\n").unwrap_err();
        assert!(e.to_string().contains("flush_every"), "{e}");
        let e = Config::parse("bogus = 1").unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }
}
