//! The wire-level findings on one response ([`Findings`]): compact while the response travels
//! through the pipeline, rendered into `schemas::WireFinding`s only when its observation is
//! built.

use crate::bailiwick::{BailiwickCheck, BailiwickFinding, MAX_FINDINGS};
use crate::dns::{decode_name, render_rdata, type_name, NameBuf};
use crate::responder::{FingerprintBreak, ResponderStats};
use schemas::WireFinding;

/// Most fingerprint breaks kept per response (there are four kinds).
const MAX_BREAKS: usize = 4;

/// Bailiwick findings and fingerprint breaks of one response, without allocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Findings {
    bailiwick: [Option<BailiwickFinding>; MAX_FINDINGS],
    breaks: [Option<FingerprintBreak>; MAX_BREAKS],
}

impl Findings {
    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.bailiwick.iter().all(Option::is_none) && self.breaks.iter().all(Option::is_none)
    }

    /// Whether a fingerprint break was found.
    pub fn has_break(&self) -> bool {
        self.breaks.iter().any(Option::is_some)
    }

    /// Keeps these bailiwick findings (at most [`MAX_FINDINGS`]).
    pub fn set_bailiwick(&mut self, found: &[BailiwickFinding]) {
        for (slot, f) in self.bailiwick.iter_mut().zip(found) {
            *slot = Some(*f);
        }
    }

    /// Keeps these fingerprint breaks (at most four).
    pub fn set_breaks(&mut self, found: &[FingerprintBreak]) {
        for (slot, f) in self.breaks.iter_mut().zip(found) {
            *slot = Some(*f);
        }
    }

    /// The findings as carried in observations; `msg` is the message they were found in.
    pub fn render(&self, msg: &[u8], name: &mut NameBuf) -> Vec<WireFinding> {
        let mut out = Vec::new();
        for f in self.bailiwick.iter().flatten() {
            let mut record = String::new();
            if decode_name(msg, f.record.name_pos, name).is_ok() {
                name.write_presentation(&mut record, true);
            }
            record.push(' ');
            record.push_str(&type_name(f.record.rtype));
            record.push(' ');
            // A malformed rdata is written in the generic form; the observation's anomalies
            // say so.
            let _ = render_rdata(msg, &f.record, name, true, &mut record);
            let zone = f.zone_pos.and_then(|p| {
                decode_name(msg, p, name).ok()?;
                let mut z = String::new();
                name.write_presentation(&mut z, true);
                Some(z)
            });
            out.push(WireFinding {
                check: f.check.name().to_owned(),
                record: Some(record),
                zone,
                expected: None,
                seen: None,
            });
        }
        for b in self.breaks.iter().flatten() {
            let (expected, seen) = b.describe();
            out.push(WireFinding {
                check: b.name().to_owned(),
                record: None,
                zone: None,
                expected: Some(expected),
                seen: Some(seen),
            });
        }
        out
    }
}

/// Counters of the wire-level checks besides pairing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WireStats {
    /// Responses with an answer record outside the question's chain.
    pub unrelated_answer: u64,
    /// Responses with unrelated authority data.
    pub unrelated_authority: u64,
    /// Responses with NS for the root or a TLD from a non-root server.
    pub parent_ns: u64,
    /// Responses with additional records nothing refers to.
    pub stray_additional: u64,
    /// Responses with address records for targets outside their zone.
    pub out_of_zone_glue: u64,
    /// Bailiwick findings beyond the per-response cap (counted, not reported).
    pub findings_over_cap: u64,
    /// Responses whose only finding was out-of-zone glue from a responder already reported
    /// within the last 30 s of packet time (counted, not handed on).
    pub glue_not_reported: u64,
    /// Responder fingerprints.
    pub responders: ResponderStats,
    /// Queriers whose exposure is followed.
    pub queriers: u64,
    /// Queries of queriers not followed (the table was full).
    pub queriers_dropped: u64,
}

impl WireStats {
    /// Counts one response's bailiwick findings (each check once per response).
    pub fn count(&mut self, found: &[BailiwickFinding], more: u32) {
        let mut seen = [false; 5];
        for f in found {
            let (i, counter) = match f.check {
                BailiwickCheck::UnrelatedAnswer => (0, &mut self.unrelated_answer),
                BailiwickCheck::UnrelatedAuthority => (1, &mut self.unrelated_authority),
                BailiwickCheck::ParentNs => (2, &mut self.parent_ns),
                BailiwickCheck::StrayAdditional => (3, &mut self.stray_additional),
                BailiwickCheck::OutOfZoneGlue => (4, &mut self.out_of_zone_glue),
            };
            if let Some(s) = seen.get_mut(i) {
                if !*s {
                    *s = true;
                    *counter += 1;
                }
            }
        }
        self.findings_over_cap += u64::from(more);
    }

    /// Adds another worker's counters.
    pub fn merge(&mut self, o: &WireStats) {
        self.unrelated_answer += o.unrelated_answer;
        self.unrelated_authority += o.unrelated_authority;
        self.parent_ns += o.parent_ns;
        self.stray_additional += o.stray_additional;
        self.out_of_zone_glue += o.out_of_zone_glue;
        self.findings_over_cap += o.findings_over_cap;
        self.glue_not_reported += o.glue_not_reported;
        self.responders.merge(&o.responders);
        self.queriers += o.queriers;
        self.queriers_dropped += o.queriers_dropped;
    }
}
