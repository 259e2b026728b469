//! Resolver exposure: per querier, how hard its queries are to answer blindly.
//!
//! [`Queriers`] counts, for every address that sends standard queries, the spread of its source
//! ports and transaction ids (distinct values estimated by linear counting over 4,096-bit maps,
//! which workers merge by OR), the spread of the transaction ids' high byte (sequential ids
//! share a few), 0x20 (mixed case), EDNS and cookie
//! use, and identical questions sent while one is still outstanding (birthday exposure). Workers
//! see only the queriers' flows hashed to them; the binary merges their tables at the end
//! ([`QuerierState::merge`]) and the analyzer judges the merged reports.
//!
//! The table holds at most [`QuerierLimits::max_queriers`] addresses; queries from others are
//! counted as dropped.

use ahash::RandomState;
use schemas::ResolverExposure;
use std::collections::HashMap;
use std::net::IpAddr;

/// Bits of each distinct-value map.
const MAP_BITS: usize = 4096;
const MAP_WORDS: usize = MAP_BITS / 64;

/// Table limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuerierLimits {
    /// Most queriers followed at once.
    pub max_queriers: usize,
}

impl Default for QuerierLimits {
    fn default() -> Self {
        QuerierLimits {
            max_queriers: 10_000,
        }
    }
}

/// A set of 16-bit values, approximately, in 4,096 bits.
#[derive(Clone, PartialEq, Eq)]
struct ValueMap {
    words: [u64; MAP_WORDS],
}

impl Default for ValueMap {
    fn default() -> Self {
        ValueMap {
            words: [0; MAP_WORDS],
        }
    }
}

impl std::fmt::Debug for ValueMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ValueMap(~{})", self.estimate())
    }
}

impl ValueMap {
    fn insert(&mut self, value: u16) {
        // Spread the value over the map (a multiplicative hash), so that sequential and
        // strided values land on different bits.
        let h = u32::from(value).wrapping_mul(0x9e37_79b1) >> 20;
        let bit = (h as usize) % MAP_BITS;
        if let Some(w) = self.words.get_mut(bit / 64) {
            *w |= 1 << (bit % 64);
        }
    }

    fn merge(&mut self, other: &ValueMap) {
        for (a, b) in self.words.iter_mut().zip(other.words.iter()) {
            *a |= b;
        }
    }

    /// Linear counting: -m ln(zero bits / m); saturates at m ln m when every bit is set.
    fn estimate(&self) -> u64 {
        let set: u32 = self.words.iter().map(|w| w.count_ones()).sum();
        let m = MAP_BITS as f64;
        let zero = (MAP_BITS as u32 - set).max(1) as f64;
        (m * (m / zero).ln()).round() as u64
    }
}

/// What one querier's queries showed (mergeable across workers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuerierState {
    first_ns: u64,
    last_ns: u64,
    queries: u64,
    iterative: u64,
    ports: ValueMap,
    txids: ValueMap,
    /// Which high bytes of the transaction id were seen.
    high_bytes: [u64; 4],
    with_letters: u64,
    mixed_case: u64,
    edns: u64,
    cookies: u64,
    concurrent: u64,
}

/// One query, as far as exposure goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryTraits {
    /// Source port.
    pub port: u16,
    /// Transaction id.
    pub txid: u16,
    /// Recursion desired.
    pub rd: bool,
    /// The name holds letters.
    pub letters: bool,
    /// The name holds both upper- and lower-case letters.
    pub mixed_case: bool,
    /// An OPT record is present.
    pub edns: bool,
    /// A cookie option is present.
    pub cookie: bool,
    /// An identical question to the same server was still outstanding.
    pub concurrent_duplicate: bool,
}

impl QuerierState {
    fn note(&mut self, now_ns: u64, q: &QueryTraits) {
        if self.queries == 0 {
            self.first_ns = now_ns;
        }
        self.last_ns = self.last_ns.max(now_ns);
        self.queries += 1;
        self.iterative += u64::from(!q.rd);
        self.ports.insert(q.port);
        self.txids.insert(q.txid);
        let high = usize::from(q.txid >> 8);
        if let Some(w) = self.high_bytes.get_mut(high / 64) {
            *w |= 1 << (high % 64);
        }
        self.with_letters += u64::from(q.letters);
        self.mixed_case += u64::from(q.mixed_case);
        self.edns += u64::from(q.edns);
        self.cookies += u64::from(q.cookie);
        self.concurrent += u64::from(q.concurrent_duplicate);
    }

    /// Adds another worker's view of the same querier.
    pub fn merge(&mut self, o: &QuerierState) {
        if o.queries == 0 {
            return;
        }
        self.first_ns = if self.queries == 0 {
            o.first_ns
        } else {
            self.first_ns.min(o.first_ns)
        };
        self.last_ns = self.last_ns.max(o.last_ns);
        self.queries += o.queries;
        self.iterative += o.iterative;
        self.ports.merge(&o.ports);
        self.txids.merge(&o.txids);
        for (a, b) in self.high_bytes.iter_mut().zip(o.high_bytes.iter()) {
            *a |= b;
        }
        self.with_letters += o.with_letters;
        self.mixed_case += o.mixed_case;
        self.edns += o.edns;
        self.cookies += o.cookies;
        self.concurrent += o.concurrent;
    }

    /// The report of `resolver`.
    pub fn report(&self, resolver: IpAddr) -> ResolverExposure {
        ResolverExposure {
            resolver,
            first_ns: self.first_ns,
            last_ns: self.last_ns,
            queries: self.queries,
            iterative: self.iterative,
            distinct_ports: self.ports.estimate().min(self.queries),
            distinct_txids: self.txids.estimate().min(self.queries),
            txid_high_bytes: self
                .high_bytes
                .iter()
                .map(|w| u64::from(w.count_ones()))
                .sum(),
            with_letters: self.with_letters,
            mixed_case: self.mixed_case,
            edns: self.edns,
            cookies: self.cookies,
            concurrent_duplicates: self.concurrent,
        }
    }
}

/// The queriers of one worker.
#[derive(Default)]
pub struct Queriers {
    limits: QuerierLimits,
    table: HashMap<IpAddr, QuerierState, RandomState>,
    /// Queries of queriers not followed because the table was full.
    pub dropped: u64,
    /// Queriers handed on by [`Queriers::take`].
    taken: usize,
}

impl std::fmt::Debug for Queriers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queriers")
            .field("queriers", &self.table.len())
            .field("dropped", &self.dropped)
            .finish()
    }
}

impl Queriers {
    /// An empty table.
    pub fn new(limits: QuerierLimits) -> Queriers {
        Queriers {
            limits,
            table: HashMap::default(),
            dropped: 0,
            taken: 0,
        }
    }

    /// Notes a query from `querier`.
    pub fn note(&mut self, querier: IpAddr, now_ns: u64, q: &QueryTraits) {
        if !self.table.contains_key(&querier) && self.table.len() >= self.limits.max_queriers {
            self.dropped += 1;
            return;
        }
        self.table.entry(querier).or_default().note(now_ns, q);
    }

    /// Queriers followed (or handed on by [`Queriers::take`]).
    pub fn len(&self) -> usize {
        self.table.len() + self.taken
    }

    /// Whether no querier is followed (nor was handed on).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every querier's state so far, copied (the table keeps counting).
    pub fn snapshot(&self) -> Vec<(IpAddr, QuerierState)> {
        self.table.iter().map(|(ip, s)| (*ip, s.clone())).collect()
    }

    /// Every querier's state, taken (the table is left empty).
    pub fn take(&mut self) -> Vec<(IpAddr, QuerierState)> {
        self.taken += self.table.len();
        self.table.drain().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(port: u16, txid: u16) -> QueryTraits {
        QueryTraits {
            port,
            txid,
            rd: false,
            letters: true,
            mixed_case: false,
            edns: true,
            cookie: false,
            concurrent_duplicate: false,
        }
    }

    #[test]
    fn a_fixed_port_and_sequential_txids_show() {
        // Sequential ids from 1000 to 1199 have high bytes 3 and 4 only.
        let mut t = Queriers::new(QuerierLimits::default());
        let ip: IpAddr = "10.0.1.53".parse().unwrap();
        for i in 0..200u16 {
            t.note(ip, u64::from(i), &q(5353, 1000 + i));
        }
        let (_, s) = t.take().pop().unwrap();
        let r = s.report(ip);
        assert_eq!(r.queries, 200);
        assert_eq!(r.distinct_ports, 1);
        assert_eq!(r.txid_high_bytes, 2);
        // 200 distinct values in 4,096 bits: within a few of the truth.
        assert!((190..=210).contains(&r.distinct_txids), "{r:?}");
        assert!(r.is_iterative());
    }

    #[test]
    fn random_ports_estimate_close_and_merge_across_workers() {
        let ip: IpAddr = "10.0.1.53".parse().unwrap();
        let mut a = QuerierState::default();
        let mut b = QuerierState::default();
        let mut x: u32 = 12345;
        for i in 0..2000u64 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let traits = q((x >> 8) as u16, (x >> 3) as u16);
            if i % 2 == 0 {
                a.note(i, &traits);
            } else {
                b.note(i, &traits);
            }
        }
        a.merge(&b);
        let r = a.report(ip);
        assert_eq!(r.queries, 2000);
        assert_eq!((r.first_ns, r.last_ns), (0, 1999));
        assert!((1800..=2150).contains(&r.distinct_ports), "{r:?}");
    }

    #[test]
    fn the_table_is_bounded() {
        let mut t = Queriers::new(QuerierLimits { max_queriers: 1 });
        t.note("10.0.0.1".parse().unwrap(), 0, &q(1, 1));
        t.note("10.0.0.2".parse().unwrap(), 0, &q(1, 1));
        assert_eq!((t.len(), t.dropped), (1, 1));
    }
}
