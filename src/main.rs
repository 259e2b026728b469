//! `dnsward`: passive DNS poisoning sensor. This binary wires the sensor (capture and decode) to
//! the analyzer (passive-DNS store and queries) and offers the command line.
#![forbid(unsafe_code)]

mod analysis;
mod config;
mod run;
mod timeparse;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use config::{Config, StatsFormat};
use std::path::PathBuf;

/// Passive DNS poisoning sensor.
#[derive(Debug, Parser)]
#[command(name = "dnsward", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once at start-up; boxing would buy nothing
enum Command {
    /// Capture DNS from files or an interface, decode it, record it in the store, and alert on
    /// answers of watched names that diverge from their baselines.
    Run(RunArgs),
    /// Look up the passive-DNS store.
    Query(QueryArgs),
    /// List alerts from the store.
    Alerts(analysis::AlertsArgs),
    /// How exposed each resolver seen is to blind spoofing (source ports, transaction ids,
    /// 0x20, cookies, duplicate questions), from the latest run.
    Resolvers(analysis::ResolversArgs),
    /// Show what is watched and why.
    #[command(subcommand)]
    Watch(analysis::WatchCommand),
    /// Export, import, inspect or correct baselines.
    #[command(subcommand)]
    Baseline(analysis::BaselineCommand),
    /// DNSSEC trust anchors.
    #[command(subcommand)]
    Dnssec(analysis::DnssecCommand),
    /// Print the default configuration as TOML.
    DefaultConfig,
}

/// Options of `dnsward run`. Each overrides the same key of the configuration file.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Capture files (pcap, pcapng, optionally gzip-compressed), read in order as one timeline.
    #[arg(long, num_args = 1.., conflicts_with = "interface")]
    pcap: Vec<PathBuf>,
    /// Capture live from this interface.
    #[arg(long)]
    interface: Option<String>,
    /// BPF filter for live capture (default: DNS on the configured ports, VLAN, fragments).
    #[arg(long)]
    bpf: Option<String>,
    /// Kernel capture buffer in bytes.
    #[arg(long)]
    buffer_bytes: Option<u32>,
    /// Snap length in bytes.
    #[arg(long)]
    snaplen_bytes: Option<u32>,
    /// Store directory.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Do not write the passive-DNS store.
    #[arg(long)]
    no_store: bool,
    /// Write observations as JSON lines: `json` (stdout) or `json=PATH` (`json=-` is stdout).
    #[arg(long, value_name = "json[=PATH]")]
    emit: Option<String>,
    /// Sensor identifier.
    #[arg(long)]
    sensor_id: Option<String>,
    /// Decode worker threads.
    #[arg(long)]
    workers: Option<usize>,
    /// DNS ports (repeatable; replaces the configured list; 53 is not implied).
    #[arg(long = "port")]
    ports: Vec<u16>,
    /// Stats format.
    #[arg(long, value_enum)]
    stats: Option<StatsFormat>,
    /// Seconds between periodic stats during live capture (0: only at exit).
    #[arg(long)]
    stats_interval_secs: Option<u64>,
    /// Seconds between store flushes.
    #[arg(long)]
    flush_interval_secs: Option<u64>,
    /// Packet-time seconds a worker aggregates tuples before handing them to the store.
    #[arg(long)]
    aggregate_secs: Option<u64>,
    /// Fragmented datagrams in flight per worker.
    #[arg(long)]
    max_fragment_datagrams: Option<usize>,
    /// Fragment bytes buffered per worker.
    #[arg(long)]
    max_fragment_bytes: Option<usize>,
    /// Packet-time seconds before an incomplete datagram is dropped.
    #[arg(long)]
    fragment_timeout_secs: Option<u64>,
    /// TCP streams tracked per worker.
    #[arg(long)]
    max_tcp_streams: Option<usize>,
    /// Bytes buffered per TCP stream.
    #[arg(long)]
    max_tcp_stream_bytes: Option<usize>,
    /// Packet-time seconds before an idle TCP stream is dropped.
    #[arg(long)]
    tcp_idle_timeout_secs: Option<u64>,
    /// Outstanding queries tracked per worker (pairing).
    #[arg(long)]
    max_pending_queries: Option<usize>,
    /// Outstanding queries one client address may hold per worker.
    #[arg(long)]
    max_pending_per_client: Option<usize>,
    /// Packet-time seconds before an unanswered query is dropped.
    #[arg(long)]
    query_timeout_secs: Option<u64>,
    /// (server, client) pairs whose responder fingerprint is kept, per worker.
    #[arg(long)]
    max_responder_profiles: Option<usize>,
    /// Queriers whose exposure is followed, per worker.
    #[arg(long)]
    max_queriers: Option<usize>,
    /// Frames per batch handed to a worker.
    #[arg(long)]
    batch_frames: Option<usize>,
    /// Do not analyse (no baselines, no alerts).
    #[arg(long)]
    no_analyze: bool,
    /// Watch this zone too (repeatable; added to the configured zones).
    #[arg(long = "watch-zone", value_name = "ZONE")]
    watch_zones: Vec<String>,
    /// Do not watch the built-in list of mail providers, root and TLDs.
    #[arg(long)]
    no_default_watchlist: bool,
    /// IP-to-AS table (repeatable; replaces the configured list).
    #[arg(long = "asn-table", value_name = "FILE")]
    asn_tables: Vec<PathBuf>,
    /// Packet-time days before a baseline can alert.
    #[arg(long)]
    learning_days: Option<u64>,
    /// Responses a baseline must have seen before it can alert.
    #[arg(long)]
    min_observations: Option<u64>,
    /// Write alerts as JSON lines to this file (rotated by size).
    #[arg(long, value_name = "PATH")]
    alerts_file: Option<PathBuf>,
    /// Write alerts as JSON lines to standard output.
    #[arg(long)]
    alerts_stdout: bool,
    /// No progress line.
    #[arg(long, short)]
    quiet: bool,
}

impl RunArgs {
    /// The configuration file (or defaults) with the flags applied.
    fn config(&self) -> Result<Config> {
        let mut c = config::load(self.config.as_deref())?;
        macro_rules! set {
            ($flag:ident => $($field:ident).+) => {
                if let Some(v) = self.$flag.clone() { c.$($field).+ = v; }
            };
        }
        set!(bpf => capture.bpf);
        set!(buffer_bytes => capture.buffer_bytes);
        set!(snaplen_bytes => capture.snaplen_bytes);
        set!(batch_frames => capture.batch_frames);
        set!(db => store.db_path);
        set!(sensor_id => sensor_id);
        set!(workers => workers);
        set!(stats => stats.format);
        set!(stats_interval_secs => stats.interval_secs);
        set!(flush_interval_secs => store.flush_interval_secs);
        set!(aggregate_secs => store.aggregate_secs);
        set!(max_fragment_datagrams => limits.max_fragment_datagrams);
        set!(max_fragment_bytes => limits.max_fragment_bytes);
        set!(fragment_timeout_secs => limits.fragment_timeout_secs);
        set!(max_tcp_streams => limits.max_tcp_streams);
        set!(max_tcp_stream_bytes => limits.max_tcp_stream_bytes);
        set!(tcp_idle_timeout_secs => limits.tcp_idle_timeout_secs);
        set!(max_pending_queries => limits.max_pending_queries);
        set!(max_pending_per_client => limits.max_pending_per_client);
        set!(query_timeout_secs => limits.query_timeout_secs);
        set!(max_responder_profiles => limits.max_responder_profiles);
        set!(max_queriers => limits.max_queriers);
        set!(learning_days => baseline.learning_days);
        set!(min_observations => baseline.min_observations);
        set!(alerts_file => alerts.file);
        if !self.ports.is_empty() {
            c.ports = self.ports.clone();
        }
        c.watch.zones.extend(self.watch_zones.iter().cloned());
        if self.no_default_watchlist {
            c.watch.default_list = false;
        }
        if !self.asn_tables.is_empty() {
            c.asn.tables = self.asn_tables.clone();
        }
        if self.alerts_stdout {
            c.alerts.stdout = true;
        }
        Ok(c)
    }
}

/// Options of `dnsward query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Store directory.
    #[arg(long, default_value = "dnsward-db")]
    db: PathBuf,
    /// Owner name, or `*.SUFFIX` for every name below SUFFIX.
    #[arg(required_unless_present = "rdata", conflicts_with = "rdata")]
    name: Option<String>,
    /// Look up by rdata instead: an address, a CIDR prefix, or a name in MX/NS/CNAME/... rdata.
    #[arg(long)]
    rdata: Option<String>,
    /// Only this record type (mnemonic or `TYPE<N>`).
    #[arg(long = "type")]
    rtype: Option<String>,
    /// Only records seen at or after this time (Unix seconds, YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Only records seen at or before this time.
    #[arg(long)]
    until: Option<String>,
    /// Only records wholly inside the time window (default: overlapping it).
    #[arg(long)]
    strict: bool,
    /// Print the Passive DNS Common Output Format, one JSON object per line.
    #[arg(long)]
    json: bool,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Query(args) => run::query(&args),
        Command::Alerts(args) => analysis::alerts(&args),
        Command::Resolvers(args) => analysis::resolvers(&args),
        Command::Watch(cmd) => analysis::watch(&cmd),
        Command::Dnssec(cmd) => analysis::dnssec(&cmd),
        Command::Baseline(cmd) => analysis::baseline(&cmd),
        Command::DefaultConfig => {
            print!("{}", Config::default().to_toml());
            Ok(())
        }
    };
    if let Err(e) = result {
        if is_broken_pipe(&e) {
            std::process::exit(0);
        }
        eprintln!("dnsward: error: {e:#}");
        std::process::exit(1);
    }
}

/// A closed stdout (`dnsward ... | head`) is a normal end, not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
