//! `dnsward alerts`, `dnsward watch` and `dnsward baseline`, and building the analyzer for
//! `dnsward run`.

use crate::config::{self, Config};
use crate::timeparse::parse_time;
use analyzer::baseline::Baseline;
use analyzer::detect::{Analyzer, AsLookup};
use analyzer::store::Store;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use schemas::alert::{Alert, AlertAction, ClosedReason, EpisodeStatus, Severity};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Loads the configured IP-to-AS tables (none configured: `None`).
pub fn load_asn(config: &Config) -> Result<Option<Arc<dyn AsLookup>>> {
    if config.asn.tables.is_empty() {
        return Ok(None);
    }
    let (table, reports) = analyzer::asn::AsnTable::load_all(&config.asn.tables)
        .context("loading the IP-to-AS tables")?;
    for (path, report) in config.asn.tables.iter().zip(&reports) {
        if report.skipped_lines > 0 {
            eprintln!(
                "dnsward: {}: skipped {} malformed lines",
                path.display(),
                report.skipped_lines
            );
        }
    }
    Ok(Some(Arc::new(table)))
}

/// The analyzer `config` describes (history is loaded by the analysis thread).
pub fn build_analyzer(config: &Config) -> Result<Analyzer> {
    let mut settings = config.analyzer();
    settings.dnssec.anchors = config.dnssec.load_anchors()?;
    Ok(Analyzer::new(settings, load_asn(config)?))
}

/// Options of `dnsward alerts`.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Store directory.
    #[arg(long, default_value = "dnsward-db")]
    db: PathBuf,
    /// Only alerts last seen (or closed) at or after this time (Unix seconds, YYYY-MM-DD or
    /// RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Only alerts at this severity or above (info, low, medium, high, critical).
    #[arg(long)]
    severity: Option<String>,
    /// Only alerts about this name (or `*.SUFFIX`).
    #[arg(long)]
    name: Option<String>,
    /// Only open episodes.
    #[arg(long)]
    open: bool,
    /// Print each alert as one JSON line (the alert schema).
    #[arg(long)]
    json: bool,
}

/// `dnsward resolvers`.
#[derive(Debug, clap::Args)]
pub struct ResolversArgs {
    /// Store directory.
    #[arg(long, default_value = "dnsward-db")]
    db: PathBuf,
    /// Print each report as one JSON line.
    #[arg(long)]
    json: bool,
    /// Only recursive resolvers (most queries iterative).
    #[arg(long)]
    iterative: bool,
}

/// Lists the stored resolver exposure reports, most queries first.
pub fn resolvers(args: &ResolversArgs) -> Result<()> {
    let store = Store::open_read_only(&args.db)
        .with_context(|| format!("opening store {}", args.db.display()))?;
    let loaded = store.load_resolvers()?;
    let mut reports: Vec<&schemas::ResolverExposure> = loaded
        .records
        .iter()
        .filter(|r| !args.iterative || r.is_iterative())
        .collect();
    reports.sort_by(|a, b| b.queries.cmp(&a.queries).then(a.resolver.cmp(&b.resolver)));
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        for r in &reports {
            serde_json::to_writer(&mut out, r)?;
            writeln!(out)?;
        }
    } else {
        writeln!(
            out,
            "{:<39} {:>9} {:>9} {:>7} {:>7} {:>6} {:>6} {:>7} {:>7}",
            "resolver",
            "queries",
            "iterative",
            "ports",
            "txids",
            "txid_hi",
            "0x20",
            "cookies",
            "birthday"
        )?;
        for r in &reports {
            writeln!(
                out,
                "{:<39} {:>9} {:>9} {:>7} {:>7} {:>6} {:>6} {:>7} {:>7}",
                r.resolver.to_string(),
                r.queries,
                r.iterative,
                r.distinct_ports,
                r.distinct_txids,
                r.txid_high_bytes,
                r.mixed_case,
                r.cookies,
                r.concurrent_duplicates
            )?;
        }
    }
    if loaded.damaged > 0 {
        eprintln!(
            "dnsward: {} unreadable resolver reports skipped",
            loaded.damaged
        );
    }
    out.flush()?;
    Ok(())
}

fn name_matches(pattern: &str, name: &str) -> bool {
    let pattern = analyzer::watch::canonical(pattern);
    match pattern.strip_prefix("*.") {
        Some(suffix) => name.len() > suffix.len() && name.ends_with(&format!(".{suffix}")),
        None => name == pattern,
    }
}

/// `dnsward alerts`.
pub fn alerts(args: &AlertsArgs) -> Result<()> {
    let since_ns = match &args.since {
        Some(s) => Some(
            parse_time(s)
                .with_context(|| {
                    format!("--since {s:?}: give Unix seconds, YYYY-MM-DD or RFC 3339")
                })?
                .saturating_mul(1_000_000_000),
        ),
        None => None,
    };
    let min = match &args.severity {
        Some(s) => Some(Severity::from_name(s).with_context(|| {
            format!("--severity {s:?}: give info, low, medium, high or critical")
        })?),
        None => None,
    };
    let store = Store::open_read_only(&args.db)
        .with_context(|| format!("opening store {}", args.db.display()))?;
    let loaded = store.load_alerts()?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let selected: Vec<&Alert> = loaded
        .records
        .iter()
        .filter(|a| {
            since_ns
                .is_none_or(|t| a.dnsward.last_seen_ns.max(a.dnsward.closed_ns.unwrap_or(0)) >= t)
        })
        .filter(|a| min.is_none_or(|m| a.dnsward.severity >= m))
        .filter(|a| {
            args.name
                .as_deref()
                .is_none_or(|n| name_matches(n, &a.dns.question.name))
        })
        .filter(|a| !args.open || a.dnsward.status == EpisodeStatus::Open)
        .collect();
    if args.json {
        for a in &selected {
            writeln!(out, "{}", serde_json::to_string(a)?)?;
        }
    } else {
        write!(out, "{}", format_alerts(&selected))?;
    }
    out.flush()?;
    if loaded.damaged > 0 {
        eprintln!("dnsward: skipped {} damaged alert entries", loaded.damaged);
    }
    Ok(())
}

/// The readable listing of `dnsward alerts`.
pub fn format_alerts(alerts: &[&Alert]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if alerts.is_empty() {
        s.push_str("no alerts\n");
        return s;
    }
    for a in alerts {
        let d = &a.dnsward;
        let status = match (d.status, d.closed_reason) {
            (EpisodeStatus::Open, _) => "open".to_owned(),
            (EpisodeStatus::Closed, Some(r)) => format!("closed ({})", closed_name(r)),
            (EpisodeStatus::Closed, None) => "closed".to_owned(),
        };
        let _ = writeln!(
            s,
            "{} {:<8} {:>3} {} {} {} [{}]",
            a.event.id,
            d.severity.name().to_uppercase(),
            d.score,
            d.detector,
            a.dns.question.name,
            a.dns.question.rtype,
            status
        );
        let _ = writeln!(s, "    first seen  {}", a.event.start);
        let _ = writeln!(
            s,
            "    last seen   {}",
            schemas::time::format_utc_ns(d.last_seen_ns)
        );
        let resolvers: Vec<String> = d.resolvers.iter().map(|r| r.to_string()).collect();
        let _ = writeln!(
            s,
            "    resolvers   {} ({} responses, {} clients)",
            resolvers.join(", "),
            d.responses,
            d.clients_affected
        );
        let show = |list: &[schemas::alert::RdataInfo]| -> String {
            list.iter()
                .map(|r| {
                    let mut t = r.data.clone();
                    if let Some(asn) = r.asn {
                        t.push_str(&format!(" (AS{asn}"));
                        if let Some(org) = r.as_org.as_deref().filter(|o| !o.is_empty()) {
                            t.push_str(&format!(" {org}"));
                        }
                        t.push(')');
                    }
                    t
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(s, "    observed    {}", show(&d.observed));
        let _ = writeln!(s, "    baseline    {}", show(&d.baseline));
        for r in &d.reasons {
            let _ = writeln!(s, "    - {r}");
        }
        if let Some(e) = d.evidence.first() {
            let _ = writeln!(
                s,
                "    evidence    {} frame {} (+{} more)",
                e.file.as_deref().or(e.interface.as_deref()).unwrap_or("?"),
                e.frame,
                d.evidence.len() as u64 - 1 + d.evidence_dropped
            );
        }
    }
    s
}

fn closed_name(r: ClosedReason) -> &'static str {
    match r {
        ClosedReason::Reverted => "reverted",
        ClosedReason::Persisted => "persisted",
        ClosedReason::Accepted => "accepted",
        ClosedReason::Ended => "ended",
    }
}

/// `dnsward watch ...`.
#[derive(Debug, Subcommand)]
pub enum WatchCommand {
    /// List watched zones and names, configured and learnt, with the reason.
    List {
        /// TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Store directory (for learnt targets; default: the configured one).
        #[arg(long)]
        db: Option<PathBuf>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// `dnsward watch`.
pub fn watch(cmd: &WatchCommand) -> Result<()> {
    let WatchCommand::List { config, db, json } = cmd;
    let config = config::load(config.as_deref())?;
    let mut list = analyzer::watch::Watchlist::new(&config.watch);
    let db = db.clone().unwrap_or_else(|| config.store.db_path.clone());
    if db.exists() {
        let store = Store::open_read_only(&db)
            .with_context(|| format!("opening store {}", db.display()))?;
        list.restore(store.load_learnt()?.records);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for e in list.entries() {
        if *json {
            writeln!(out, "{}", serde_json::to_string(&e)?)?;
        } else {
            writeln!(out, "{:<7} {:<45} {}", e.scope, e.name, e.reason.describe())?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `dnsward dnssec ...`.
#[derive(Debug, Subcommand)]
pub enum DnssecCommand {
    /// List the trust anchors: the root's built in, then those of the configured files.
    Anchors {
        /// TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Another anchor file (repeatable; added after the configured ones).
        #[arg(long = "anchors", value_name = "FILE")]
        anchors: Vec<PathBuf>,
    },
    /// Preload keys of watched zones into the store: DS or DNSKEY records in presentation
    /// format, trusted from then on like anchors (for zones whose chain never crosses the
    /// wire, or to start validating before it does).
    Import {
        /// Store directory.
        #[arg(long, default_value = "dnsward-db")]
        db: PathBuf,
        /// The file of DS or DNSKEY records.
        file: PathBuf,
    },
    /// Show what validation knows: validated keys, DS sets, unsigned zones and imported
    /// anchors, then the outcome of every watched rrset (signed or not, by which key).
    Show {
        /// Store directory.
        #[arg(long, default_value = "dnsward-db")]
        db: PathBuf,
        /// Only this name (and zones of this name).
        name: Option<String>,
        /// JSON lines (`zone` and `outcome` records) instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `dnsward dnssec`.
pub fn dnssec(cmd: &DnssecCommand) -> Result<()> {
    let (config, anchors) = match cmd {
        DnssecCommand::Anchors { config, anchors } => (config, anchors),
        DnssecCommand::Import { db, file } => return dnssec_import(db, file),
        DnssecCommand::Show { db, name, json } => return dnssec_show(db, name.as_deref(), *json),
    };
    let mut config = config::load(config.as_deref())?;
    config.dnssec.anchors.extend(anchors.iter().cloned());
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for a in config.dnssec.load_anchors()? {
        let kind = match &a.record {
            analyzer::dnssec::AnchorRecord::Ds {
                algorithm,
                digest_type,
                ..
            } => format!("DS     algorithm {algorithm} digest type {digest_type}"),
            analyzer::dnssec::AnchorRecord::Dnskey {
                flags, algorithm, ..
            } => format!("DNSKEY algorithm {algorithm} flags {flags}"),
        };
        writeln!(out, "{:<30} tag {:>5}  {kind}", a.zone, a.key_tag())?;
    }
    out.flush()?;
    Ok(())
}

fn dnssec_import(db: &Path, file: &Path) -> Result<()> {
    use analyzer::validate::ZoneState;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let anchors = analyzer::dnssec::parse_anchors(&text)
        .with_context(|| format!("keys in {}", file.display()))?;
    let mut by_zone: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for a in &anchors {
        let record = match &a.record {
            analyzer::dnssec::AnchorRecord::Ds { .. } => {
                format!("DS {}", analyzer::validate::ds_summary(&a.record))
            }
            analyzer::dnssec::AnchorRecord::Dnskey {
                flags,
                protocol,
                algorithm,
                public_key,
            } => format!(
                "DNSKEY {flags} {protocol} {algorithm} {}",
                analyzer::validate::encode_base64(public_key)
            ),
        };
        by_zone.entry(a.zone.clone()).or_default().push(record);
    }
    let store = Store::open(db).with_context(|| format!("opening store {}", db.display()))?;
    let (existing, _) = store.load_dnssec()?;
    let mut states = Vec::new();
    for (zone, mut records) in by_zone {
        // Keep anchors imported before for the same zone.
        if let Some(old) = existing
            .records
            .iter()
            .find(|z| z.kind == "anchor" && z.zone == zone)
        {
            records.extend(old.records.iter().cloned());
        }
        records.sort();
        records.dedup();
        states.push(ZoneState {
            zone,
            kind: "anchor".to_owned(),
            records,
            since_ns: 0,
            until: 0,
            proof: format!("imported from {}", file.display()),
        });
    }
    store.save_dnssec(&states, [])?;
    store.sync()?;
    eprintln!(
        "dnsward: imported {} records for {} zones into {}",
        anchors.len(),
        states.len(),
        db.display()
    );
    Ok(())
}

/// A JSON object with a `type` field naming its kind.
fn tagged(kind: &str, mut value: serde_json::Value) -> serde_json::Value {
    if let Some(map) = value.as_object_mut() {
        map.insert("type".to_owned(), kind.into());
    }
    value
}

fn dnssec_show(db: &Path, name: Option<&str>, json: bool) -> Result<()> {
    let store =
        Store::open_read_only(db).with_context(|| format!("opening store {}", db.display()))?;
    let (zones, outcomes) = store.load_dnssec()?;
    let name = name.map(analyzer::watch::canonical);
    let wanted = |n: &str| {
        name.as_deref()
            .is_none_or(|w| analyzer::validate::encloses(n, w) || n == w)
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for z in zones.records.iter().filter(|z| wanted(&z.zone)) {
        if json {
            writeln!(out, "{}", tagged("zone", serde_json::to_value(z)?))?;
        } else {
            writeln!(out, "{:<8} {:<30} {}", z.kind, z.zone, z.proof)?;
            for r in &z.records {
                writeln!(out, "         {r}")?;
            }
        }
    }
    for o in outcomes
        .records
        .iter()
        .filter(|o| name.as_deref().is_none_or(|w| o.name == w))
    {
        if json {
            writeln!(out, "{}", tagged("outcome", serde_json::to_value(o)?))?;
        } else {
            let key = match (&o.signer, o.key_tag) {
                (Some(s), Some(t)) => format!(" by {s} key {t}"),
                _ => String::new(),
            };
            writeln!(
                out,
                "{:<13} {:<30} {:<6} {}{key} ({}), frame {} from {}",
                o.security.name(),
                o.name,
                o.rtype,
                if o.signed { "signed" } else { "unsigned" },
                o.reason,
                o.frame,
                o.responder
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `dnsward baseline ...`.
#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Write every baseline as JSON lines.
    Export {
        /// Store directory.
        #[arg(long, default_value = "dnsward-db")]
        db: PathBuf,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Merge baselines from JSON lines: `baseline export` output, or a passive-DNS dump in
    /// Common Output Format (`dnsward query --json`).
    Import {
        /// Store directory.
        #[arg(long, default_value = "dnsward-db")]
        db: PathBuf,
        /// TOML configuration (prefix lengths, IP-to-AS tables for COF input).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The file to read ('-' for standard input).
        file: PathBuf,
    },
    /// Show the baseline of one name.
    Show {
        /// Store directory.
        #[arg(long, default_value = "dnsward-db")]
        db: PathBuf,
        /// Owner name.
        name: String,
        /// Only this type.
        #[arg(long = "type")]
        rtype: Option<String>,
    },
    /// Mark a change as legitimate: learn RDATA for NAME TYPE and close its open episodes.
    Accept {
        /// Store directory.
        #[arg(long, default_value = "dnsward-db")]
        db: PathBuf,
        /// TOML configuration (prefix lengths, IP-to-AS tables).
        #[arg(long)]
        config: Option<PathBuf>,
        /// IP-to-AS table (repeatable; replaces the configured list), so the accepted address
        /// is learnt with its AS.
        #[arg(long = "asn-table", value_name = "FILE")]
        asn_tables: Vec<PathBuf>,
        /// Owner name.
        name: String,
        /// Type mnemonic.
        rtype: String,
        /// Rdata in presentation format, as the alert shows it.
        rdata: String,
    },
}

/// `dnsward baseline`.
pub fn baseline(cmd: &BaselineCommand) -> Result<()> {
    match cmd {
        BaselineCommand::Export { db, out } => export(db, out.as_deref()),
        BaselineCommand::Import { db, config, file } => import(db, config.as_deref(), file),
        BaselineCommand::Show { db, name, rtype } => show(db, name, rtype.as_deref()),
        BaselineCommand::Accept {
            db,
            config,
            asn_tables,
            name,
            rtype,
            rdata,
        } => accept(db, config.as_deref(), asn_tables, name, rtype, rdata),
    }
}

fn export(db: &Path, out: Option<&Path>) -> Result<()> {
    let store =
        Store::open_read_only(db).with_context(|| format!("opening store {}", db.display()))?;
    let loaded = store.load_baselines()?;
    let mut w: Box<dyn Write> = match out {
        Some(p) if p != Path::new("-") => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        _ => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    for b in &loaded.records {
        writeln!(w, "{}", serde_json::to_string(b)?)?;
    }
    w.flush()?;
    eprintln!("dnsward: exported {} baselines", loaded.records.len());
    if loaded.damaged > 0 {
        eprintln!(
            "dnsward: skipped {} damaged baseline entries",
            loaded.damaged
        );
    }
    Ok(())
}

/// One line of an import: a baseline, or a COF passive-DNS record.
fn parse_import_line(
    line: &str,
    config: &Config,
    asn: Option<&Arc<dyn AsLookup>>,
) -> Result<Baseline> {
    let value: serde_json::Value = serde_json::from_str(line).context("not JSON")?;
    if value.get("rrname").is_some() {
        let cof: schemas::cof::CofRecord =
            serde_json::from_value(value).context("not a Common Output Format record")?;
        let name = analyzer::watch::canonical(&cof.rrname);
        let first = cof.time_first.saturating_mul(1_000_000_000);
        let last = cof.time_last.saturating_mul(1_000_000_000);
        let mut b = Baseline::new(&name, &cof.rrtype, first);
        b.last_seen_ns = last;
        b.observations = cof.count;
        let rdata = cof.rdata.trim_end_matches('.').to_ascii_lowercase();
        let ip = rdata.parse::<std::net::IpAddr>().ok();
        let prefix = ip.map(|ip| {
            analyzer::baseline::prefix_of_ip(
                ip,
                config.baseline.prefix_v4,
                config.baseline.prefix_v6,
            )
        });
        let asn = ip
            .and_then(|ip| asn.and_then(|t| t.lookup_as(ip)))
            .map(|(a, _)| a);
        b.learn_rdata(
            &rdata,
            prefix.as_deref(),
            asn,
            first,
            None,
            &config.baseline,
        );
        if let Some(s) = b.rdata.get_mut(&rdata) {
            s.last_ns = last;
            s.count = cof.count;
        }
        Ok(b)
    } else {
        serde_json::from_value(value).context("not a dnsward baseline")
    }
}

fn import(db: &Path, config: Option<&Path>, file: &Path) -> Result<()> {
    let config = config::load(config)?;
    let asn = load_asn(&config)?;
    let reader: Box<dyn BufRead> = if file == Path::new("-") {
        Box::new(std::io::BufReader::new(std::io::stdin().lock()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
        ))
    };
    let mut merged: std::collections::BTreeMap<(String, String), Baseline> = Default::default();
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let b = parse_import_line(&line, &config, asn.as_ref())
            .with_context(|| format!("{} line {}", file.display(), i + 1))?;
        if schemas::rrtype::parse_type(&b.rtype).is_none() {
            bail!(
                "{} line {}: unknown type {:?}",
                file.display(),
                i + 1,
                b.rtype
            );
        }
        match merged.entry((b.name.clone(), b.rtype.clone())) {
            std::collections::btree_map::Entry::Occupied(mut e) => {
                e.get_mut().merge(&b, &config.baseline)
            }
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(b);
            }
        }
    }
    let store = Store::open(db).with_context(|| format!("opening store {}", db.display()))?;
    let mut out = Vec::with_capacity(merged.len());
    for ((name, rtype), b) in merged {
        let mut combined = store
            .load_baseline(&name, &rtype)?
            .unwrap_or_else(|| Baseline::new(&name, &rtype, b.first_seen_ns));
        combined.merge(&b, &config.baseline);
        out.push(combined);
    }
    let n = store.save_baselines(&out)?;
    store.sync()?;
    eprintln!("dnsward: imported {n} baselines into {}", db.display());
    Ok(())
}

fn show(db: &Path, name: &str, rtype: Option<&str>) -> Result<()> {
    let store =
        Store::open_read_only(db).with_context(|| format!("opening store {}", db.display()))?;
    let name = analyzer::watch::canonical(name);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut found = 0;
    for b in store.load_baselines()?.records {
        if b.name != name || rtype.is_some_and(|t| !t.eq_ignore_ascii_case(&b.rtype)) {
            continue;
        }
        found += 1;
        writeln!(out, "{}", serde_json::to_string_pretty(&b)?)?;
    }
    out.flush()?;
    if found == 0 {
        bail!("no baseline for {name}");
    }
    Ok(())
}

fn accept(
    db: &Path,
    config: Option<&Path>,
    asn_tables: &[PathBuf],
    name: &str,
    rtype: &str,
    rdata: &str,
) -> Result<()> {
    let mut config = config::load(config)?;
    if !asn_tables.is_empty() {
        config.asn.tables = asn_tables.to_vec();
    }
    let code = schemas::rrtype::parse_type(rtype)
        .with_context(|| format!("unknown record type {rtype:?}"))?;
    let rtype = schemas::rrtype::type_name(code).into_owned();
    let name = analyzer::watch::canonical(name);
    let rdata = rdata.trim_end_matches('.').to_ascii_lowercase();
    let store = Store::open(db).with_context(|| format!("opening store {}", db.display()))?;
    let alerts = store.load_alerts()?;
    let now = alerts
        .records
        .iter()
        .map(|a| a.dnsward.last_seen_ns)
        .max()
        .unwrap_or(0);
    // Learn the rdata.
    let mut analyzer = Analyzer::new(config.analyzer(), load_asn(&config)?);
    if let Some(b) = store.load_baseline(&name, &rtype)? {
        analyzer.restore([b], []);
    }
    analyzer.accept(&name, code, &rdata, now);
    store.save_baselines(&analyzer.take_dirty_baselines())?;
    // Close the stored open episodes that saw it.
    let mut closed = Vec::new();
    for mut a in alerts.records {
        let matches = a.dnsward.status == EpisodeStatus::Open
            && a.dns.question.name == name
            && a.dns.question.rtype == rtype
            && a.dnsward.observed.iter().any(|o| o.data == rdata);
        if !matches {
            continue;
        }
        let at = a.dnsward.last_seen_ns;
        a.dnsward.status = EpisodeStatus::Closed;
        a.dnsward.closed_reason = Some(ClosedReason::Accepted);
        a.dnsward.closed_ns = Some(at);
        a.dnsward
            .reasons
            .push(format!("accepted by an operator: {rdata}"));
        a.event.action = AlertAction::Closed;
        a.timestamp = schemas::time::format_utc_ns(at);
        closed.push(a);
    }
    store.save_alerts(&closed)?;
    store.sync()?;
    println!(
        "accepted {name} {rtype} {rdata}: learnt into the baseline; {} open alert(s) closed{}",
        closed.len(),
        closed
            .iter()
            .map(|a| format!(" {}", a.event.id))
            .collect::<String>()
    );
    Ok(())
}
