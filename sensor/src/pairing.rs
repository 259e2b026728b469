//! Query/response pairing: the outstanding-query table, [`Pairing`].
//!
//! Every standard query the sensor sees (client to server, upstream or downstream) is entered
//! under its client address and port, server address and port, transaction id and question as
//! sent (case kept). Every response is then judged against the table ([`Verdict`]): the answer
//! to an outstanding query, a late duplicate of one already answered (byte-identical, or a
//! *different* answer: a race), a response whose question differs from the query only in case
//! (0x20), a response aimed at an outstanding query with the wrong transaction id, or a
//! response matching nothing.
//!
//! # Bounds and admission
//!
//! The table is itself an attack surface, so:
//!
//! * only queries create entries; responses never do, so a flood of forged responses cannot
//!   evict the legitimate queries it targets;
//! * each client (a resolver, upstream) holds at most [`PairingLimits::max_per_client`] entries,
//!   so one noisy or spoofed client cannot fill the table for the others; the table holds at
//!   most [`PairingLimits::max_entries`]; a query that does not fit is dropped and counted;
//! * entries expire in packet time: unanswered after [`PairingLimits::query_timeout_ns`],
//!   answered after the hold-on window [`PairingLimits::hold_ns`], which keeps them so late
//!   duplicates can still be judged.
//!
//! Entries hold keyed hashes of the question (as sent, and case-folded) rather than the name:
//! small entries, nothing allocated per packet, and no collisions an attacker can aim for.

use ahash::RandomState;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Pairing bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairingLimits {
    /// Outstanding and held queries in the table.
    pub max_entries: usize,
    /// Entries one client address may hold.
    pub max_per_client: usize,
    /// Packet time after which an unanswered query is dropped.
    pub query_timeout_ns: u64,
    /// Packet time an answered query is kept to judge late duplicates.
    pub hold_ns: u64,
    /// How long after a client's last query a response matching nothing counts as
    /// [`Verdict::Unsolicited`] rather than [`Verdict::Unknown`].
    pub client_active_ns: u64,
}

impl Default for PairingLimits {
    /// 500,000 entries (an estimated 100 to 150 MB of tables when full; not yet measured),
    /// 250,000 per client (a busy resolver sends 10,000
    /// queries a second upstream), 10 s query timeout, 5 s hold-on, clients active for 5
    /// minutes after their last query.
    fn default() -> Self {
        PairingLimits {
            max_entries: 500_000,
            max_per_client: 250_000,
            query_timeout_ns: 10_000_000_000,
            hold_ns: 5_000_000_000,
            client_active_ns: 300_000_000_000,
        }
    }
}

/// What the table says about a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The first answer to an outstanding query.
    Answered {
        /// Packet time from the query to this response, ns.
        rtt_ns: u64,
        /// Frame of the query.
        query_frame: u64,
    },
    /// A second response to an answered query, byte-identical in its answer to the first
    /// (a retransmission or a mirrored copy).
    Duplicate {
        /// Frame of the query.
        query_frame: u64,
    },
    /// A second response to an answered query whose answer differs from the first: one of the
    /// two is likely forged.
    Race {
        /// Frame of the query.
        query_frame: u64,
        /// Frame of the first response.
        first_response_frame: u64,
    },
    /// The question matches an outstanding query's only when case is ignored (0x20).
    CaseMismatch {
        /// Frame of the query.
        query_frame: u64,
    },
    /// No query with this transaction id, but an outstanding one from the same client to the
    /// same server with the same question: a guessed transaction id (and, when the ports differ
    /// too, a guessed port).
    TxidMismatch {
        /// The transaction id of the outstanding query.
        expected_txid: u16,
        /// The client port of the outstanding query.
        expected_port: u16,
        /// Frame of the query.
        query_frame: u64,
    },
    /// Nothing outstanding matches, although the sensor has seen this client's queries
    /// recently (so the query was not simply missed by a one-sided SPAN).
    Unsolicited,
    /// The answer to a query that expired unanswered (a slow server): not a forgery.
    Late {
        /// Frame of the query.
        query_frame: u64,
    },
    /// Nothing matches and the client's queries have not been seen: nothing can be said.
    Unknown,
}

impl Verdict {
    /// Whether it is worth an analyst's attention (everything but a plain answer, a
    /// duplicate and "unknown").
    pub fn is_notable(&self) -> bool {
        matches!(
            self,
            Verdict::Race { .. }
                | Verdict::CaseMismatch { .. }
                | Verdict::TxidMismatch { .. }
                | Verdict::Unsolicited
        )
    }

    /// The verdict as carried in observations.
    pub fn info(&self) -> schemas::PairingInfo {
        let mut info = schemas::PairingInfo {
            verdict: self.name().to_owned(),
            query_frame: None,
            rtt_ns: None,
            expected_txid: None,
            expected_port: None,
            first_response_frame: None,
        };
        match *self {
            Verdict::Answered {
                rtt_ns,
                query_frame,
            } => {
                info.rtt_ns = Some(rtt_ns);
                info.query_frame = Some(query_frame);
            }
            Verdict::Duplicate { query_frame }
            | Verdict::CaseMismatch { query_frame }
            | Verdict::Late { query_frame } => {
                info.query_frame = Some(query_frame);
            }
            Verdict::Race {
                query_frame,
                first_response_frame,
            } => {
                info.query_frame = Some(query_frame);
                info.first_response_frame = Some(first_response_frame);
            }
            Verdict::TxidMismatch {
                expected_txid,
                expected_port,
                query_frame,
            } => {
                info.query_frame = Some(query_frame);
                info.expected_txid = Some(expected_txid);
                info.expected_port = Some(expected_port);
            }
            Verdict::Unsolicited | Verdict::Unknown => {}
        }
        info
    }

    /// Stable snake_case name.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Answered { .. } => "answered",
            Verdict::Duplicate { .. } => "duplicate",
            Verdict::Race { .. } => "race",
            Verdict::CaseMismatch { .. } => "case_mismatch",
            Verdict::TxidMismatch { .. } => "txid_mismatch",
            Verdict::Unsolicited => "unsolicited",
            Verdict::Late { .. } => "late",
            Verdict::Unknown => "unknown",
        }
    }
}

/// Counters of the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PairingStats {
    /// Queries entered.
    pub queries: u64,
    /// Queries repeated with the same key while outstanding (retries; the entry is kept).
    pub query_repeats: u64,
    /// Queries not entered: the table was full.
    pub dropped_table_full: u64,
    /// Queries not entered: their client held its share of the table.
    pub dropped_client_full: u64,
    /// Unanswered queries expired.
    pub expired_unanswered: u64,
    /// Answered entries expired after the hold-on window.
    pub expired_answered: u64,
    /// Responses judged, by verdict.
    pub answered: u64,
    /// See [`Verdict::Duplicate`].
    pub duplicate: u64,
    /// See [`Verdict::Race`].
    pub race: u64,
    /// See [`Verdict::CaseMismatch`].
    pub case_mismatch: u64,
    /// See [`Verdict::TxidMismatch`].
    pub txid_mismatch: u64,
    /// See [`Verdict::Unsolicited`].
    pub unsolicited: u64,
    /// See [`Verdict::Late`].
    pub late: u64,
    /// See [`Verdict::Unknown`].
    pub unknown: u64,
    /// Entries held at the end (or at the last report).
    pub entries: u64,
}

impl PairingStats {
    /// Adds `other` to `self` (entries too: workers hold disjoint tables).
    pub fn merge(&mut self, other: &PairingStats) {
        self.queries += other.queries;
        self.query_repeats += other.query_repeats;
        self.dropped_table_full += other.dropped_table_full;
        self.dropped_client_full += other.dropped_client_full;
        self.expired_unanswered += other.expired_unanswered;
        self.expired_answered += other.expired_answered;
        self.answered += other.answered;
        self.duplicate += other.duplicate;
        self.race += other.race;
        self.case_mismatch += other.case_mismatch;
        self.txid_mismatch += other.txid_mismatch;
        self.unsolicited += other.unsolicited;
        self.late += other.late;
        self.unknown += other.unknown;
        self.entries += other.entries;
    }
}

/// Client and server ends of an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    /// Client address.
    pub client: IpAddr,
    /// Client port.
    pub client_port: u16,
    /// Server address.
    pub server: IpAddr,
    /// Server port.
    pub server_port: u16,
}

/// A question as sent: the name in wire form (length-prefixed labels, case kept, no root
/// octet), type and class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuestionRef<'a> {
    /// Wire-form name.
    pub name: &'a [u8],
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
}

#[derive(Clone)]
struct Entry {
    /// Keyed hash of the question as sent (case kept).
    exact: u64,
    /// Keyed hash of the question with the name folded to lower case.
    folded: u64,
    query_ns: u64,
    query_frame: u64,
    /// Packet time, frame and answer digest of the first response.
    answered: Option<(u64, u64, u64)>,
}

/// The two hashes of a question: as sent, and with the name folded to lower case. Keyed per
/// process, so an attacker cannot aim for collisions.
fn question_hashes(hasher: &RandomState, q: &QuestionRef<'_>) -> (u64, u64) {
    let mut folded = [0u8; 256];
    let len = q.name.len().min(folded.len());
    if let (Some(dst), Some(src)) = (folded.get_mut(..len), q.name.get(..len)) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = s.to_ascii_lowercase();
        }
    }
    let folded_name = folded.get(..len).unwrap_or(&[]);
    (
        hasher.hash_one((q.name, q.qtype, q.qclass)),
        hasher.hash_one((folded_name, q.qtype, q.qclass)),
    )
}

/// Room reserved up front in the tables, so that the first seconds of a busy link do not pay
/// for repeated growth.
const INITIAL_CAPACITY: usize = 16_384;

/// Transaction ids outstanding on one flow (at most [`TXIDS_PER_FLOW`] indexed).
#[derive(Clone, Copy, Default)]
struct FlowTxids {
    txids: [u16; TXIDS_PER_FLOW],
    len: u8,
}

/// Outstanding transaction ids indexed per flow, for the txid-mismatch check. Resolvers use a
/// fresh source port per query, so one is the usual number.
const TXIDS_PER_FLOW: usize = 4;

/// The outstanding-query table; see the module documentation.
pub struct Pairing {
    limits: PairingLimits,
    entries: HashMap<(Flow, u16), Entry, RandomState>,
    flows: HashMap<Flow, FlowTxids, RandomState>,
    per_client: HashMap<IpAddr, usize, RandomState>,
    /// (client, server, folded question hash) → the latest entry asking it, for
    /// responses that guess the port as well as the transaction id.
    by_question: HashMap<(IpAddr, IpAddr, u64), (Flow, u16), RandomState>,
    /// Client address → packet time of its latest query.
    last_query: HashMap<IpAddr, u64, RandomState>,
    /// Keys of the question hashes.
    hasher: RandomState,
    /// Queries that expired unanswered, kept for [`PairingLimits::client_active_ns`] so a late
    /// answer is recognised: key → (exact question hash, query frame).
    expired: HashMap<(Flow, u16), (u64, u64), RandomState>,
    /// Expired keys in expiry order, for pruning.
    expired_queue: VecDeque<(u64, Flow, u16)>,
    /// Queries in arrival order with their timeout (packet time only grows, so each queue is
    /// sorted by due time).
    queue: VecDeque<(u64, Flow, u16)>,
    /// Answered entries in answer order with the end of their hold-on window.
    held: VecDeque<(u64, Flow, u16)>,
    stats: PairingStats,
}

impl std::fmt::Debug for Pairing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pairing")
            .field("entries", &self.entries.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Pairing {
    /// An empty table.
    pub fn new(limits: PairingLimits) -> Pairing {
        Pairing {
            limits,
            entries: HashMap::with_capacity_and_hasher(INITIAL_CAPACITY, RandomState::new()),
            flows: HashMap::with_capacity_and_hasher(INITIAL_CAPACITY, RandomState::new()),
            per_client: HashMap::default(),
            by_question: HashMap::with_capacity_and_hasher(INITIAL_CAPACITY, RandomState::new()),
            last_query: HashMap::default(),
            hasher: RandomState::new(),
            expired: HashMap::default(),
            expired_queue: VecDeque::new(),
            queue: VecDeque::with_capacity(INITIAL_CAPACITY),
            held: VecDeque::with_capacity(INITIAL_CAPACITY),
            stats: PairingStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> PairingStats {
        PairingStats {
            entries: self.entries.len() as u64,
            ..self.stats
        }
    }

    /// Drops entries that are due at `now_ns`.
    fn expire(&mut self, now_ns: u64) {
        for answered_queue in [false, true] {
            loop {
                let queue = if answered_queue {
                    &mut self.held
                } else {
                    &mut self.queue
                };
                let Some(&(due, flow, txid)) = queue.front() else {
                    break;
                };
                if due > now_ns {
                    break;
                }
                queue.pop_front();
                let Some(entry) = self.entries.get(&(flow, txid)) else {
                    continue;
                };
                // The entry's own deadline decides: a query that was answered leaves the query
                // queue through the hold-on queue, and a key reused by a later query carries
                // that query's time.
                let deadline = match entry.answered {
                    Some((t, _, _)) => t.saturating_add(self.limits.hold_ns),
                    None => entry.query_ns.saturating_add(self.limits.query_timeout_ns),
                };
                if deadline > now_ns {
                    continue;
                }
                if entry.answered.is_some() {
                    self.stats.expired_answered += 1;
                } else {
                    self.stats.expired_unanswered += 1;
                    // Remember it (bounded like the table) so a late answer is not taken for
                    // a forged one.
                    if self.expired.len() < self.limits.max_entries {
                        let remembered = (entry.exact, entry.query_frame);
                        self.expired.insert((flow, txid), remembered);
                        self.expired_queue.push_back((now_ns, flow, txid));
                    }
                }
                self.remove(flow, txid);
            }
        }
        while let Some(&(t, flow, txid)) = self.expired_queue.front() {
            if now_ns.saturating_sub(t) < self.limits.client_active_ns {
                break;
            }
            self.expired_queue.pop_front();
            self.expired.remove(&(flow, txid));
        }
        // The per-client activity map only needs recent clients.
        if self.last_query.len() > self.limits.max_entries.max(1) {
            let horizon = now_ns.saturating_sub(self.limits.client_active_ns);
            self.last_query.retain(|_, t| *t >= horizon);
        }
    }

    fn remove(&mut self, flow: Flow, txid: u16) {
        let Some(entry) = self.entries.remove(&(flow, txid)) else {
            return;
        };
        let qkey = (flow.client, flow.server, entry.folded);
        if self.by_question.get(&qkey) == Some(&(flow, txid)) {
            self.by_question.remove(&qkey);
        }
        if let Some(n) = self.per_client.get_mut(&flow.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_client.remove(&flow.client);
            }
        }
        if let Some(f) = self.flows.get_mut(&flow) {
            let len = usize::from(f.len);
            if let Some(i) = f.txids.iter().take(len).position(|t| *t == txid) {
                f.txids.copy_within(i + 1..len, i);
                f.len -= 1;
            }
            if f.len == 0 {
                self.flows.remove(&flow);
            }
        }
    }

    /// Enters a query seen at `now_ns` in frame `frame`; returns whether the same question to the
    /// same server was still unanswered under another port or transaction id (a duplicate
    /// that widens a birthday attack).
    pub fn query(
        &mut self,
        flow: Flow,
        txid: u16,
        question: &QuestionRef<'_>,
        now_ns: u64,
        frame: u64,
    ) -> bool {
        self.expire(now_ns);
        self.last_query.insert(flow.client, now_ns);
        let (exact, folded) = question_hashes(&self.hasher, question);
        if let Some(existing) = self.entries.get(&(flow, txid)) {
            if existing.exact == exact {
                self.stats.query_repeats += 1;
                return false;
            }
        }
        // The same question to the same server, still unanswered under another port or txid:
        // one more target for a birthday attack.
        let concurrent = self
            .by_question
            .get(&(flow.client, flow.server, folded))
            .and_then(|key| self.entries.get(key).map(|e| (key, e)))
            .is_some_and(|(key, e)| *key != (flow, txid) && e.answered.is_none());
        if self.entries.len() >= self.limits.max_entries {
            self.stats.dropped_table_full += 1;
            return concurrent;
        }
        let held = self.per_client.get(&flow.client).copied().unwrap_or(0);
        if held >= self.limits.max_per_client {
            self.stats.dropped_client_full += 1;
            return concurrent;
        }
        let replaced = self
            .entries
            .insert(
                (flow, txid),
                Entry {
                    exact,
                    folded,
                    query_ns: now_ns,
                    query_frame: frame,
                    answered: None,
                },
            )
            .is_some();
        self.by_question
            .insert((flow.client, flow.server, folded), (flow, txid));
        if !replaced {
            *self.per_client.entry(flow.client).or_insert(0) += 1;
            let f = self.flows.entry(flow).or_default();
            if let Some(slot) = f.txids.get_mut(usize::from(f.len)) {
                *slot = txid;
                f.len += 1;
            }
        }
        self.stats.queries += 1;
        // A key reused with another question leaves its old queue item behind, and packet time
        // that runs backwards stops the front from expiring: keep the queue within twice the
        // table, dropping the oldest item's query if it is still unanswered.
        if self.queue.len() >= self.limits.max_entries.saturating_mul(2) {
            if let Some((_, old_flow, old_txid)) = self.queue.pop_front() {
                if self
                    .entries
                    .get(&(old_flow, old_txid))
                    .is_some_and(|e| e.answered.is_none())
                {
                    self.stats.dropped_table_full += 1;
                    self.remove(old_flow, old_txid);
                }
            }
        }
        self.queue.push_back((
            now_ns.saturating_add(self.limits.query_timeout_ns),
            flow,
            txid,
        ));
        concurrent
    }

    /// Judges a response seen at `now_ns` in frame `frame`; `answer_digest` is a hash of its
    /// answer, authority and additional records (compare sets, not order).
    pub fn response(
        &mut self,
        flow: Flow,
        txid: u16,
        question: &QuestionRef<'_>,
        answer_digest: u64,
        now_ns: u64,
        frame: u64,
    ) -> Verdict {
        self.expire(now_ns);
        let verdict = self.judge(flow, txid, question, answer_digest, now_ns, frame);
        let s = &mut self.stats;
        match verdict {
            Verdict::Answered { .. } => s.answered += 1,
            Verdict::Duplicate { .. } => s.duplicate += 1,
            Verdict::Race { .. } => s.race += 1,
            Verdict::CaseMismatch { .. } => s.case_mismatch += 1,
            Verdict::TxidMismatch { .. } => s.txid_mismatch += 1,
            Verdict::Unsolicited => s.unsolicited += 1,
            Verdict::Late { .. } => s.late += 1,
            Verdict::Unknown => s.unknown += 1,
        }
        verdict
    }

    fn judge(
        &mut self,
        flow: Flow,
        txid: u16,
        question: &QuestionRef<'_>,
        answer_digest: u64,
        now_ns: u64,
        frame: u64,
    ) -> Verdict {
        let (exact, folded) = question_hashes(&self.hasher, question);
        if let Some(entry) = self.entries.get_mut(&(flow, txid)) {
            if entry.exact == exact {
                let query_frame = entry.query_frame;
                return match entry.answered {
                    None => {
                        entry.answered = Some((now_ns, frame, answer_digest));
                        let rtt_ns = now_ns.saturating_sub(entry.query_ns);
                        self.held.push_back((
                            now_ns.saturating_add(self.limits.hold_ns),
                            flow,
                            txid,
                        ));
                        Verdict::Answered {
                            rtt_ns,
                            query_frame,
                        }
                    }
                    Some((_, _, digest)) if digest == answer_digest => {
                        Verdict::Duplicate { query_frame }
                    }
                    Some((_, first_frame, _)) => Verdict::Race {
                        query_frame,
                        first_response_frame: first_frame,
                    },
                };
            }
            if entry.folded == folded {
                return Verdict::CaseMismatch {
                    query_frame: entry.query_frame,
                };
            }
        }
        if let Some(f) = self.flows.get(&flow) {
            for t in f.txids.iter().take(usize::from(f.len)) {
                if let Some(entry) = self.entries.get(&(flow, *t)) {
                    if entry.answered.is_none() && entry.folded == folded {
                        return Verdict::TxidMismatch {
                            expected_txid: *t,
                            expected_port: flow.client_port,
                            query_frame: entry.query_frame,
                        };
                    }
                }
            }
        }
        if let Some(&(hash, query_frame)) = self.expired.get(&(flow, txid)) {
            if hash == exact {
                return Verdict::Late { query_frame };
            }
        }
        if let Some(&(qflow, qtxid)) = self.by_question.get(&(flow.client, flow.server, folded)) {
            if let Some(entry) = self.entries.get(&(qflow, qtxid)) {
                if entry.answered.is_none() && qflow.server_port == flow.server_port {
                    return Verdict::TxidMismatch {
                        expected_txid: qtxid,
                        expected_port: qflow.client_port,
                        query_frame: entry.query_frame,
                    };
                }
            }
        }
        let recent = self
            .last_query
            .get(&flow.client)
            .is_some_and(|t| now_ns.saturating_sub(*t) <= self.limits.client_active_ns);
        if recent {
            Verdict::Unsolicited
        } else {
            Verdict::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(port: u16) -> Flow {
        Flow {
            client: "10.0.0.53".parse().unwrap(),
            client_port: port,
            server: "192.0.2.1".parse().unwrap(),
            server_port: 53,
        }
    }

    const WWW: &[u8] = b"\x03www\x07example\x03com";
    const WWW_MIXED: &[u8] = b"\x03wWw\x07exAmple\x03com";

    fn q(name: &[u8]) -> QuestionRef<'_> {
        QuestionRef {
            name,
            qtype: 1,
            qclass: 1,
        }
    }

    #[test]
    fn verdicts() {
        let mut p = Pairing::new(PairingLimits::default());
        p.query(flow(1000), 7, &q(WWW_MIXED), 100, 1);
        // Wrong txid on the same flow and question.
        assert_eq!(
            p.response(flow(1000), 8, &q(WWW_MIXED), 1, 110, 2),
            Verdict::TxidMismatch {
                expected_txid: 7,
                expected_port: 1000,
                query_frame: 1
            }
        );
        // 0x20 case changed.
        assert_eq!(
            p.response(flow(1000), 7, &q(WWW), 1, 115, 3),
            Verdict::CaseMismatch { query_frame: 1 }
        );
        assert_eq!(
            p.response(flow(1000), 7, &q(WWW_MIXED), 1, 120, 4),
            Verdict::Answered {
                rtt_ns: 20,
                query_frame: 1
            }
        );
        assert_eq!(
            p.response(flow(1000), 7, &q(WWW_MIXED), 1, 121, 5),
            Verdict::Duplicate { query_frame: 1 }
        );
        assert_eq!(
            p.response(flow(1000), 7, &q(WWW_MIXED), 2, 122, 6),
            Verdict::Race {
                query_frame: 1,
                first_response_frame: 4
            }
        );
        // Another port of a client seen recently: unsolicited; a client never seen: unknown.
        assert_eq!(
            p.response(flow(2000), 7, &q(WWW), 1, 130, 7),
            Verdict::Unsolicited
        );
        let mut other = flow(1000);
        other.client = "10.9.9.9".parse().unwrap();
        assert_eq!(p.response(other, 7, &q(WWW), 1, 130, 8), Verdict::Unknown);
        let s = p.stats();
        assert_eq!(
            (
                s.answered,
                s.duplicate,
                s.race,
                s.case_mismatch,
                s.txid_mismatch
            ),
            (1, 1, 1, 1, 1)
        );
        assert_eq!((s.unsolicited, s.unknown, s.entries), (1, 1, 1));
    }

    #[test]
    fn entries_expire_in_packet_time() {
        let limits = PairingLimits {
            query_timeout_ns: 10,
            hold_ns: 5,
            ..PairingLimits::default()
        };
        let mut p = Pairing::new(limits);
        assert!(!p.query(flow(1), 1, &q(WWW), 0, 1));
        assert!(p.query(flow(2), 1, &q(WWW), 0, 2), "a birthday duplicate");
        assert!(matches!(
            p.response(flow(1), 1, &q(WWW), 9, 3, 3),
            Verdict::Answered { .. }
        ));
        // Answered at 3: held until 8. Unanswered: until 10.
        p.query(flow(3), 1, &q(b"\x05third\x07example"), 9, 4);
        assert_eq!(p.stats().entries, 2);
        assert_eq!(p.stats().expired_answered, 1);
        p.query(flow(4), 1, &q(b"\x05other\x07example"), 11, 5);
        assert_eq!(p.stats().expired_unanswered, 1);
        // A late answer to the query that expired unanswered is late, not forged, even with
        // the same question outstanding on another port; another txid on that flow is not.
        p.query(flow(5), 1, &q(WWW), 11, 8);
        assert_eq!(
            p.response(flow(2), 1, &q(WWW), 9, 12, 6),
            Verdict::Late { query_frame: 2 }
        );
        assert_eq!(
            p.response(flow(2), 2, &q(WWW), 9, 12, 9),
            Verdict::TxidMismatch {
                expected_txid: 1,
                expected_port: 5,
                query_frame: 8
            }
        );
        // One for the outstanding question on another port guessed the port and the txid.
        assert_eq!(
            p.response(flow(2), 9, &q(b"\x05other\x07example"), 9, 12, 7),
            Verdict::TxidMismatch {
                expected_txid: 1,
                expected_port: 4,
                query_frame: 5
            }
        );
    }

    #[test]
    fn the_queue_stays_bounded_when_keys_are_reused_and_time_runs_backwards() {
        let mut p = Pairing::new(PairingLimits {
            max_entries: 4,
            ..PairingLimits::default()
        });
        let names: [&[u8]; 2] = [b"\x01a\x07example", b"\x01b\x07example"];
        for i in 0..1_000u64 {
            let name = names[(i % 2) as usize];
            p.query(flow(1), 1, &q(name), 1_000_000 - i, i);
        }
        assert!(p.queue.len() <= 8, "{}", p.queue.len());
        assert!(p.entries.len() <= 4);
    }

    #[test]
    fn responses_never_create_entries_and_clients_get_a_share() {
        let limits = PairingLimits {
            max_entries: 10,
            max_per_client: 3,
            ..PairingLimits::default()
        };
        let mut p = Pairing::new(limits);
        for txid in 0..1000u16 {
            p.response(flow(1), txid, &q(WWW), 1, 1, 1);
        }
        assert_eq!(p.stats().entries, 0);
        for port in 0..5u16 {
            p.query(flow(port), 1, &q(WWW), 2, 2);
        }
        assert_eq!(p.stats().entries, 3);
        assert_eq!(p.stats().dropped_client_full, 2);
        let mut other = flow(9);
        other.client = "10.0.0.54".parse().unwrap();
        p.query(other, 1, &q(WWW), 3, 3);
        assert_eq!(p.stats().entries, 4);
    }
}
