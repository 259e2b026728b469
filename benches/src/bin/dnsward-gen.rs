//! `dnsward-gen`: writes a deterministic, realistic DNS capture in pcap format.
//!
//! ```text
//! dnsward-gen --frames N [--seed S] [--start-time UNIX_SECS] --out FILE
//! dnsward-gen scenario NAME --out FILE [--seed S] [--start-time UNIX_SECS] [--truth FILE.json]
//! dnsward-gen flood --responses N [--seed S] [--start-time UNIX_SECS] --out FILE
//! dnsward-gen signed --algorithm N [--denial nsec|nsec3|nsec3-optout] --out DIR
//! ```
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use dnsward_benches::flood::{write_flood, FloodConfig, FloodStats};
use dnsward_benches::scenario::{
    write_scenario, ScenarioConfig, ScenarioEvent, ScenarioKind, ScenarioTruth,
};
use dnsward_benches::signed::{write_signed_capture_with, Denial};
use dnsward_benches::{
    generate, GenerateError, GeneratorConfig, TrafficStats, DEFAULT_START_TIME_SECS,
};

const USAGE: &str = "\
usage: dnsward-gen --frames N [--seed S] [--start-time UNIX_SECS] --out FILE
       dnsward-gen scenario NAME --out FILE [--seed S] [--start-time UNIX_SECS] [--truth FILE.json]
       dnsward-gen flood --responses N [--seed S] [--start-time UNIX_SECS] --out FILE
       dnsward-gen signed --algorithm N [--denial nsec|nsec3|nsec3-optout] --out DIR

Writes exactly N Ethernet frames of synthetic DNS traffic (clients, recursive resolvers,
authoritative servers; UDP, TCP, IPv4 fragments, VLAN tags) to FILE in pcap format.
The same arguments always produce the same bytes.

  --frames N               number of frames to write (at least 1)
  --seed S                 traffic seed (default 1)
  --start-time UNIX_SECS   packet time of the first frame (default 1767225600, 2026-01-01)
  --out FILE               output file ('-' for standard output)
  -h, --help               show this help

The scenario form writes eight days of normal traffic at three caching resolvers followed by
one event, and with --truth a JSON file saying what was injected and when. NAME is one of
cert-cc, registrar-hijack, cdn-rotation, renumbering, mx-move, retransmits, demo.

The flood form writes a Kaminsky-style attack on the resolver 10.0.1.53: queries for random
names under bank.example, each raced by 100 forged responses spoofed from the zone's server
(192.0.2.53) with guessed transaction ids, N forged responses in all at 100,000 a second of
packet time, with one legitimate exchange per 100 forged responses in the background.

The signed form signs the zones test. (twice: with the DS of good.test.'s KSK, and with that
of a second KSK added) and good.test. (four times: valid, expired, with a second ZSK, not yet
valid) with fresh keys of DNSSEC algorithm N (8, 10, 13, 14 or 15) using BIND's dnssec-keygen
and dnssec-signzone (package bind9-utils), and writes DIR/signed.pcap, a resolver's validating
traffic with genuine and tampered answers (26 steps), and DIR/anchors.txt, the DS of test.'s
KSK; keys and zone files go to DIR/bind/. It prints each step's label with the frame number of
its response, and the key tags. --denial says how test. proves that unsigned.test. has no DS:
NSEC (the default), NSEC3 (salt aabbccdd, no extra iterations) or NSEC3 with opt-out.";

struct Arguments {
    config: GeneratorConfig,
    out: String,
}

fn parse_number(flag: &str, value: Option<String>) -> Result<u64, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    value
        .parse()
        .map_err(|_| format!("{flag}: not a non-negative integer: {value:?}"))
}

/// Parses the arguments; `Ok(None)` means help was asked for.
fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Arguments>, String> {
    let mut frames = None;
    let mut seed = 1;
    let mut start_time_secs = DEFAULT_START_TIME_SECS;
    let mut out = None;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--frames" => frames = Some(parse_number("--frames", args.next())?),
            "--seed" => seed = parse_number("--seed", args.next())?,
            "--start-time" => start_time_secs = parse_number("--start-time", args.next())?,
            "--out" => out = Some(args.next().ok_or("--out needs a value")?),
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let frames = frames.ok_or("--frames is required")?;
    if frames == 0 {
        return Err("--frames must be at least 1".into());
    }
    // pcap stores seconds in 32 bits; leave room for the capture's own duration.
    if start_time_secs > u64::from(u32::MAX) - 1_000_000 {
        return Err("--start-time is past what pcap's 32-bit seconds can hold".into());
    }
    let out = out.ok_or("--out is required")?;
    Ok(Some(Arguments {
        config: GeneratorConfig {
            frames,
            seed,
            start_time_secs,
        },
        out,
    }))
}

struct ScenarioArguments {
    kind: ScenarioKind,
    config: ScenarioConfig,
    out: String,
    truth: Option<String>,
}

/// Parses the arguments after `scenario`; `Ok(None)` means help was asked for.
fn parse_scenario(
    mut args: impl Iterator<Item = String>,
) -> Result<Option<ScenarioArguments>, String> {
    let mut kind = None;
    let mut config = ScenarioConfig::default();
    let mut out = None;
    let mut truth = None;
    while let Some(argument) = args.next() {
        match argument.as_str() {
            "--seed" => config.seed = parse_number("--seed", args.next())?,
            "--start-time" => {
                config.start_time_secs = parse_number("--start-time", args.next())?;
            }
            "--out" => out = Some(args.next().ok_or("--out needs a value")?),
            "--truth" => truth = Some(args.next().ok_or("--truth needs a value")?),
            "-h" | "--help" => return Ok(None),
            name if kind.is_none() && !name.starts_with('-') => {
                kind = Some(
                    name.parse::<ScenarioKind>()
                        .map_err(|error| error.to_string())?,
                );
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let kind = kind.ok_or("scenario needs a NAME")?;
    if config.start_time_secs > u64::from(u32::MAX) - 30 * 86_400 {
        return Err("--start-time is past what pcap's 32-bit seconds can hold".into());
    }
    let out = out.ok_or("--out is required")?;
    Ok(Some(ScenarioArguments {
        kind,
        config,
        out,
        truth,
    }))
}

struct FloodArguments {
    config: FloodConfig,
    out: String,
}

/// Parses the arguments after `flood`; `Ok(None)` means help was asked for.
fn parse_flood(mut args: impl Iterator<Item = String>) -> Result<Option<FloodArguments>, String> {
    let mut responses = None;
    let mut config = FloodConfig::default();
    let mut out = None;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--responses" => responses = Some(parse_number("--responses", args.next())?),
            "--seed" => config.seed = parse_number("--seed", args.next())?,
            "--start-time" => {
                config.start_time_secs = parse_number("--start-time", args.next())?;
            }
            "--out" => out = Some(args.next().ok_or("--out needs a value")?),
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    config.responses = responses.ok_or("--responses is required")?;
    if config.responses == 0 {
        return Err("--responses must be at least 1".into());
    }
    // pcap stores seconds in 32 bits; leave a minute beyond the capture's own duration.
    let end = config
        .start_time_secs
        .saturating_add(config.duration_secs())
        .saturating_add(60);
    if end > u64::from(u32::MAX) {
        return Err("--start-time is past what pcap's 32-bit seconds can hold".into());
    }
    let out = out.ok_or("--out is required")?;
    Ok(Some(FloodArguments { config, out }))
}

struct SignedArguments {
    algorithm: u8,
    denial: Denial,
    out: String,
}

/// Parses the arguments after `signed`; `Ok(None)` means help was asked for.
fn parse_signed(mut args: impl Iterator<Item = String>) -> Result<Option<SignedArguments>, String> {
    let mut algorithm = None;
    let mut denial = Denial::Nsec;
    let mut out = None;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--denial" => {
                let value = args.next().ok_or("--denial needs a value")?;
                denial = Denial::from_name(&value).ok_or_else(|| {
                    format!("--denial: {value:?} is not nsec, nsec3 or nsec3-optout")
                })?;
            }
            "--algorithm" => {
                let value = parse_number("--algorithm", args.next())?;
                algorithm = Some(
                    u8::try_from(value)
                        .map_err(|_| format!("--algorithm: not an algorithm number: {value}"))?,
                );
            }
            "--out" => out = Some(args.next().ok_or("--out needs a value")?),
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let algorithm = algorithm.ok_or("--algorithm is required")?;
    let out = out.ok_or("--out is required")?;
    Ok(Some(SignedArguments {
        algorithm,
        denial,
        out,
    }))
}

fn signed_main(args: impl Iterator<Item = String>) -> ExitCode {
    let arguments = match or_usage(parse_signed(args)) {
        Ok(arguments) => arguments,
        Err(code) => return code,
    };
    let started = Instant::now();
    let dir = std::path::Path::new(&arguments.out);
    if let Err(error) = std::fs::create_dir_all(dir) {
        eprintln!("dnsward-gen: cannot create {}: {error}", arguments.out);
        return ExitCode::FAILURE;
    }
    let capture = match write_signed_capture_with(dir, arguments.algorithm, arguments.denial) {
        Ok(capture) => capture,
        Err(error) => {
            eprintln!("dnsward-gen: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut by_frame: Vec<(&u64, &String)> = capture
        .frames
        .iter()
        .map(|(label, frame)| (frame, label))
        .collect();
    by_frame.sort();
    let mut text = String::from("frame\tlabel\n");
    for (frame, label) in by_frame {
        text.push_str(&format!("{frame}\t{label}\n"));
    }
    text.push_str("\nkey tag\tkey\n");
    for (key, tag) in &capture.key_tags {
        text.push_str(&format!("{tag}\t{key}\n"));
    }
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    if stdout.write_all(text.as_bytes()).is_err() {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "wrote {} and {} in {:.2?}",
        capture.pcap.display(),
        capture.anchors.display(),
        started.elapsed()
    );
    ExitCode::SUCCESS
}

fn flood_report(stats: &FloodStats) -> String {
    let s = stats;
    format!(
        "frames {} ({} bytes), packet time {:.3} s\n\
         forged responses {} (to the query's port {}, to other ports {}; before the real answer \
         {}, after it {})\n\
         attack queries {}, real answers {}\n\
         background queries {}, responses {}, unanswered {}",
        s.frames,
        s.file_bytes,
        s.last_ns.saturating_sub(s.first_ns) as f64 / 1e9,
        s.forged_responses,
        s.forged_to_query_port,
        s.forged_to_other_port,
        s.forged_before_answer,
        s.forged_after_answer,
        s.attack_queries,
        s.attack_answers,
        s.background_queries,
        s.background_responses,
        s.background_unanswered,
    )
}

fn flood_main(args: impl Iterator<Item = String>) -> ExitCode {
    match or_usage(parse_flood(args)) {
        Ok(arguments) => write_capture(
            &arguments.out,
            |out| write_flood(&arguments.config, out),
            flood_report,
        ),
        Err(code) => code,
    }
}

/// Writes a capture to `out` ('-' is standard output) with `write`, prints `report` of what it
/// returns and the time taken to standard error, and turns the outcome into the exit code.
fn write_capture<T>(
    out: &str,
    write: impl FnOnce(&mut dyn Write) -> Result<T, GenerateError>,
    report: impl FnOnce(&T) -> String,
) -> ExitCode {
    let started = Instant::now();
    let result = if out == "-" {
        write(&mut BufWriter::new(std::io::stdout().lock()))
    } else {
        match File::create(out) {
            Ok(file) => write(&mut BufWriter::with_capacity(1 << 20, file)),
            Err(error) => {
                eprintln!("dnsward-gen: cannot create {out}: {error}");
                return ExitCode::FAILURE;
            }
        }
    };
    match result {
        Ok(stats) => {
            eprintln!(
                "{}\nwrote {out} in {:.2?}",
                report(&stats),
                started.elapsed()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("dnsward-gen: {error}");
            ExitCode::FAILURE
        }
    }
}

fn json_event(event: &ScenarioEvent) -> serde_json::Value {
    let by_resolver: Vec<serde_json::Value> = event
        .first_bad_by_resolver
        .iter()
        .map(|seen| serde_json::json!({"resolver": seen.resolver.to_string(), "time_ns": seen.time_ns}))
        .collect();
    serde_json::json!({
        "kind": event.kind,
        "start_ns": event.start_ns,
        "end_ns": event.end_ns,
        "resolvers": event.resolvers.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "all_resolvers": event.all_resolvers,
        "name": event.name,
        "rrtype": event.rrtype,
        "good_rdata": event.good_rdata,
        "bad_rdata": event.bad_rdata,
        "bad_ttl": event.bad_ttl,
        "first_bad_ns": event.first_bad_ns,
        "last_bad_ns": event.last_bad_ns,
        "first_bad_by_resolver": by_resolver,
    })
}

/// The truth as JSON (field names as in [`ScenarioTruth`]).
fn json_truth(truth: &ScenarioTruth) -> serde_json::Value {
    serde_json::json!({
        "scenario": truth.scenario,
        "seed": truth.seed,
        "capture_start_ns": truth.capture_start_ns,
        "capture_end_ns": truth.capture_end_ns,
        "learning_end_ns": truth.learning_end_ns,
        "history_end_ns": truth.history_end_ns,
        "resolvers": truth.resolvers.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "frames": truth.frames,
        "file_bytes": truth.file_bytes,
        "events": truth.events.iter().map(json_event).collect::<Vec<_>>(),
    })
}

fn write_truth(path: &str, truth: &ScenarioTruth) -> Result<(), String> {
    let mut text = serde_json::to_string_pretty(&json_truth(truth))
        .map_err(|error| format!("cannot encode the truth: {error}"))?;
    text.push('\n');
    let mut file = File::create(path).map_err(|error| format!("cannot create {path}: {error}"))?;
    file.write_all(text.as_bytes())
        .map_err(|error| format!("cannot write {path}: {error}"))
}

fn run_scenario(arguments: &ScenarioArguments) -> Result<(), String> {
    let started = Instant::now();
    let result = if arguments.out == "-" {
        write_scenario(
            arguments.kind,
            &arguments.config,
            BufWriter::new(std::io::stdout().lock()),
        )
    } else {
        let file = File::create(&arguments.out)
            .map_err(|error| format!("cannot create {}: {error}", arguments.out))?;
        write_scenario(
            arguments.kind,
            &arguments.config,
            BufWriter::with_capacity(1 << 20, file),
        )
    };
    let truth = result.map_err(|error| error.to_string())?;
    if let Some(path) = &arguments.truth {
        write_truth(path, &truth)?;
    }
    eprintln!(
        "scenario {}: {} frames ({} bytes), {} event(s)\nwrote {} in {:.2?}",
        truth.scenario,
        truth.frames,
        truth.file_bytes,
        truth.events.len(),
        arguments.out,
        started.elapsed()
    );
    Ok(())
}

fn report(stats: &TrafficStats) -> String {
    let s = stats;
    format!(
        "frames {} ({} bytes), dns messages {}\n\
         downstream: {} queries, {} responses; upstream: {} queries, {} responses; unanswered {}\n\
         query types: A {}, AAAA {}, MX {}, NS {}, TXT {}, PTR {}, SOA {}, DNSKEY {}\n\
         responses: CNAME {}, NXDOMAIN {}, NODATA {}, SERVFAIL {}, referral {}, truncated {}, \
         with authority {}, with additional {}\n\
         EDNS {}, DO {}, cookie {}\n\
         IPv6 frames {}, 802.1Q frames {}, QinQ frames {}\n\
         TCP connections {} ({} frames), fragmented messages {} ({} fragments)",
        s.frames,
        s.frame_bytes,
        s.dns_messages,
        s.downstream_queries,
        s.downstream_responses,
        s.upstream_queries,
        s.upstream_responses,
        s.unanswered_queries,
        s.queries_a,
        s.queries_aaaa,
        s.queries_mx,
        s.queries_ns,
        s.queries_txt,
        s.queries_ptr,
        s.queries_soa,
        s.queries_dnskey,
        s.cname_responses,
        s.nxdomain_responses,
        s.nodata_responses,
        s.servfail_responses,
        s.referral_responses,
        s.truncated_responses,
        s.responses_with_authority,
        s.responses_with_additional,
        s.edns_messages,
        s.dnssec_ok_messages,
        s.cookie_messages,
        s.ipv6_frames,
        s.vlan_frames,
        s.qinq_frames,
        s.tcp_connections,
        s.tcp_frames,
        s.fragmented_messages,
        s.fragment_frames,
    )
}

/// The parsed arguments, or the exit code after printing help (success) or the usage error (2).
fn or_usage<T>(parsed: Result<Option<T>, String>) -> Result<T, ExitCode> {
    match parsed {
        Ok(Some(arguments)) => Ok(arguments),
        Ok(None) => {
            println!("{USAGE}");
            Err(ExitCode::SUCCESS)
        }
        Err(message) => {
            eprintln!("dnsward-gen: {message}\n\n{USAGE}");
            Err(ExitCode::from(2))
        }
    }
}

fn scenario_main(args: impl Iterator<Item = String>) -> ExitCode {
    let arguments = match or_usage(parse_scenario(args)) {
        Ok(arguments) => arguments,
        Err(code) => return code,
    };
    match run_scenario(&arguments) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("dnsward-gen: {message}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("scenario") {
        args.next();
        return scenario_main(args);
    }
    if args.peek().map(String::as_str) == Some("flood") {
        args.next();
        return flood_main(args);
    }
    if args.peek().map(String::as_str) == Some("signed") {
        args.next();
        return signed_main(args);
    }
    match or_usage(parse(args)) {
        Ok(arguments) => write_capture(
            &arguments.out,
            |out| generate(&arguments.config, out),
            report,
        ),
        Err(code) => code,
    }
}
