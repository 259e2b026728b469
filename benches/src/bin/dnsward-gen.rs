//! `dnsward-gen`: writes a deterministic, realistic DNS capture in pcap format.
//!
//! ```text
//! dnsward-gen --frames N [--seed S] [--start-time UNIX_SECS] --out FILE
//! ```
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;
use std::time::Instant;

use dnsward_benches::{generate, GeneratorConfig, TrafficStats, DEFAULT_START_TIME_SECS};

const USAGE: &str = "\
usage: dnsward-gen --frames N [--seed S] [--start-time UNIX_SECS] --out FILE

Writes exactly N Ethernet frames of synthetic DNS traffic (clients, recursive resolvers,
authoritative servers; UDP, TCP, IPv4 fragments, VLAN tags) to FILE in pcap format.
The same arguments always produce the same bytes.

  --frames N               number of frames to write (at least 1)
  --seed S                 traffic seed (default 1)
  --start-time UNIX_SECS   packet time of the first frame (default 1767225600, 2026-01-01)
  --out FILE               output file ('-' for standard output)
  -h, --help               show this help";

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

fn main() -> ExitCode {
    let arguments = match parse(std::env::args().skip(1)) {
        Ok(Some(arguments)) => arguments,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("dnsward-gen: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let result = if arguments.out == "-" {
        generate(&arguments.config, BufWriter::new(std::io::stdout().lock()))
    } else {
        match File::create(&arguments.out) {
            Ok(file) => generate(&arguments.config, BufWriter::with_capacity(1 << 20, file)),
            Err(error) => {
                eprintln!("dnsward-gen: cannot create {}: {error}", arguments.out);
                return ExitCode::FAILURE;
            }
        }
    };
    match result {
        Ok(stats) => {
            eprintln!(
                "{}\nwrote {} in {:.2?}",
                report(&stats),
                arguments.out,
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
