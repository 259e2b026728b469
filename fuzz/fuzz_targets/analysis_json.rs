//! Baseline and alert JSON, as the store reads them back and `dnsward baseline import` reads
//! them: `serde_json::from_slice` into `analyzer::baseline::Baseline` and
//! `schemas::alert::Alert`, then baseline merging.
//!
//! Input: one JSON document, or several separated by newlines (an export file). The whole input
//! is decoded as a `Baseline` (directly and, as the import does, through `serde_json::Value`) and
//! as an `Alert`; each non-empty line is decoded as a `Baseline` too.
//!
//! For every decoded baseline: `merge` into a fresh `Baseline::new("a.example", "A", 0)` with
//! `BaselineConfig::default()` and with a tiny config (2 rdata, 1 responder, so eviction runs),
//! `merge` into a copy of itself, and `is_established` at a few times. The lines are also
//! merged one after another into the first, as an import merges repeated rrsets.
//!
//! Checks beyond "no panic": a decoded value serializes and decodes back to itself; a merge
//! into a fresh baseline holds at most `max_rdata` rdata (at least one), sums observations
//! (saturating), keeps the other's responders when it had none and never lowers `max_ttl`.
#![no_main]

use analyzer::baseline::{Baseline, BaselineConfig};
use libfuzzer_sys::fuzz_target;
use schemas::alert::Alert;

fn round_trip<T>(value: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_vec(value).expect("a decoded value serializes");
    let back: T = serde_json::from_slice(&json).expect("a serialized value decodes");
    assert_eq!(&back, value);
}

fn exercise(baseline: &Baseline) {
    round_trip(baseline);
    let tiny = BaselineConfig {
        max_rdata: 2,
        max_responders: 1,
        ..BaselineConfig::default()
    };
    for config in [BaselineConfig::default(), tiny] {
        let mut fresh = Baseline::new("a.example", "A", 0);
        fresh.merge(baseline, &config);
        assert!(fresh.rdata.len() <= config.max_rdata.max(1));
        assert_eq!(fresh.observations, baseline.observations);
        assert_eq!(fresh.responders.len(), baseline.responders.len());
        assert_eq!(fresh.max_ttl, baseline.max_ttl);
        assert_eq!(fresh.first_seen_ns, 0);
        for now in [0, baseline.first_seen_ns, baseline.last_seen_ns, u64::MAX] {
            let _ = fresh.is_established(now, &config);
            let _ = baseline.is_established(now, &config);
        }
        round_trip(&fresh);

        let mut twice = baseline.clone();
        twice.merge(baseline, &config);
        assert_eq!(twice.observations, baseline.observations.saturating_mul(2));
        assert!(twice.max_ttl >= baseline.max_ttl);
        let _ = twice.is_established(baseline.last_seen_ns, &config);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(baseline) = serde_json::from_slice::<Baseline>(data) {
        exercise(&baseline);
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(baseline) = serde_json::from_value::<Baseline>(value) {
            exercise(&baseline);
        }
    }
    if let Ok(alert) = serde_json::from_slice::<Alert>(data) {
        round_trip(&alert);
    }
    if !data.contains(&b'\n') {
        return;
    }
    let config = BaselineConfig::default();
    let mut merged: Option<Baseline> = None;
    for line in data.split(|byte| *byte == b'\n') {
        let Ok(baseline) = serde_json::from_slice::<Baseline>(line) else {
            continue;
        };
        match merged.as_mut() {
            Some(into) => into.merge(&baseline, &config),
            None => merged = Some(baseline),
        }
    }
    if let Some(merged) = merged {
        let _ = merged.is_established(merged.last_seen_ns, &config);
        round_trip(&merged);
    }
});
