//! Passive-DNS aggregation in the worker: [`TupleAggregator`].
//!
//! Each response is walked once. Records are keyed in binary, uncompressed, lower-cased wire
//! form (section, type, bailiwick, owner, canonical rdata) in a reused buffer, so a tuple that is
//! already held costs a hash lookup and no allocation, and nothing is rendered as text until the
//! aggregate is drained (once per unique tuple, not once per packet).

use crate::dns::{decode_name, render_rdata, DnsHeader, Entry, NameBuf, RecordRef, TYPE_OPT};
use crate::observe::{scan, Scan};
use schemas::{PdnsTuple, Section};
use std::collections::HashMap;

/// Aggregate of one tuple inside a flush interval.
#[derive(Debug, Clone, Copy)]
struct Aggregate {
    first_ns: u64,
    last_ns: u64,
    count: u64,
}

/// A record of the response being added, with its owner's place in `owners`.
#[derive(Debug, Clone, Copy)]
struct Pending {
    record: RecordRef,
    owner_start: usize,
    owner_end: usize,
}

/// Aggregates passive-DNS tuples from responses in memory, so the store sees unique tuples.
///
/// Bailiwick: answers are tagged with the question name they answer (an answer for a name other
/// than the one asked, outside a CNAME chain, stands out); authority and additional records
/// with the zone of the server that sent them, estimated as the longest NS or SOA owner in the
/// authority section that encloses the question name, or else the question name's parent.
#[derive(Debug, Default)]
pub struct TupleAggregator {
    map: HashMap<Box<[u8]>, Aggregate>,
    key: Vec<u8>,
    records: Vec<Pending>,
    owners: Vec<u8>,
    qname: Vec<u8>,
    bailiwick: Vec<u8>,
    rdata_name: NameBuf,
    seen: u64,
}

impl TupleAggregator {
    /// Unique tuples held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no tuple is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Record observations added since the last drain.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Adds every record (class IN, OPT excluded, rdata valid for its type) of a response.
    /// Returns the number of records added.
    pub fn add_response(
        &mut self,
        msg: &[u8],
        time_ns: u64,
        name: &mut NameBuf,
        _rdata_name: &mut NameBuf,
    ) -> u64 {
        self.add_response_scan(msg, time_ns, name)
            .map_or(0, |(_, n)| n)
    }

    /// Like [`TupleAggregator::add_response`], and also returns the message's [`Scan`] (so the
    /// caller need not walk the message again for its anomalies). `None` without a header.
    pub fn add_response_scan(
        &mut self,
        msg: &[u8],
        time_ns: u64,
        name: &mut NameBuf,
    ) -> Option<(Scan, u64)> {
        let header = DnsHeader::decode(msg)?;
        let Self {
            records,
            owners,
            qname,
            bailiwick,
            ..
        } = self;
        records.clear();
        owners.clear();
        qname.clear();
        bailiwick.clear();
        let mut have_question = false;
        let mut zone_found = false;
        let found = scan(msg, name, |entry, owner| match entry {
            Entry::Question(_) => {
                if !have_question {
                    have_question = true;
                    push_lower(qname, owner.wire());
                }
            }
            Entry::Record(r) => {
                if r.rtype == TYPE_OPT || r.class != 1 || !header.is_response() {
                    return;
                }
                let owner_start = owners.len();
                push_lower(owners, owner.wire());
                let owner_wire = owners.get(owner_start..).unwrap_or(&[]);
                if r.section == Section::Authority
                    && (r.rtype == 2 || r.rtype == 6)
                    && have_question
                    && encloses(owner_wire, qname)
                    && (!zone_found || owner_wire.len() > bailiwick.len())
                {
                    zone_found = true;
                    bailiwick.clear();
                    bailiwick.extend_from_slice(owner_wire);
                }
                records.push(Pending {
                    record: *r,
                    owner_start,
                    owner_end: owners.len(),
                });
            }
        })?;
        if !header.is_response() || !have_question {
            return Some((found, 0));
        }
        if !zone_found {
            bailiwick.extend_from_slice(parent(qname));
        }
        let mut added = 0;
        for i in 0..self.records.len() {
            let Some(p) = self.records.get(i).copied() else {
                break;
            };
            if self.build_key(msg, &p).is_none() {
                continue;
            }
            added += 1;
            if let Some(agg) = self.map.get_mut(self.key.as_slice()) {
                agg.first_ns = agg.first_ns.min(time_ns);
                agg.last_ns = agg.last_ns.max(time_ns);
                agg.count += 1;
            } else {
                self.map.insert(
                    self.key.clone().into_boxed_slice(),
                    Aggregate {
                        first_ns: time_ns,
                        last_ns: time_ns,
                        count: 1,
                    },
                );
            }
        }
        self.seen += added;
        Some((found, added))
    }

    /// Builds the binary key of a record into `self.key`; `None` when its rdata does not fit
    /// its type (such records are not learnt).
    ///
    /// Layout: section, type (2 bytes), bailiwick length and bytes, owner length and bytes,
    /// canonical rdata (names uncompressed, lower case, root octet included).
    fn build_key(&mut self, msg: &[u8], p: &Pending) -> Option<()> {
        let r = &p.record;
        let owner = self.owners.get(p.owner_start..p.owner_end)?;
        let zone: &[u8] = if r.section == Section::Answer {
            &self.qname
        } else {
            &self.bailiwick
        };
        let key = &mut self.key;
        key.clear();
        key.push(r.section.code());
        key.extend_from_slice(&r.rtype.to_be_bytes());
        key.push(u8::try_from(zone.len()).ok()?);
        key.extend_from_slice(zone);
        key.push(u8::try_from(owner.len()).ok()?);
        key.extend_from_slice(owner);
        let rdata = r.rdata(msg);
        let end = r.rdata_pos + r.rdata_len;
        let name = &mut self.rdata_name;
        // Appends the name at `pos` (lower case, root octet) and returns where it ended.
        let mut push_name = |key: &mut Vec<u8>, pos: usize| -> Option<usize> {
            let after = decode_name(msg, pos, name).ok()?;
            if after > end {
                return None;
            }
            push_lower(key, name.wire());
            key.push(0);
            Some(after)
        };
        let fixed_then_name = |fixed: usize, key: &mut Vec<u8>| -> Option<usize> {
            key.extend_from_slice(rdata.get(..fixed)?);
            Some(r.rdata_pos + fixed)
        };
        match r.rtype {
            1 if rdata.len() == 4 => key.extend_from_slice(rdata),
            28 if rdata.len() == 16 => key.extend_from_slice(rdata),
            1 | 28 => return None,
            2 | 5 | 12 | 39 => {
                (push_name(key, r.rdata_pos)? == end).then_some(())?;
            }
            15 => {
                let at = fixed_then_name(2, key)?;
                (push_name(key, at)? == end).then_some(())?;
            }
            33 => {
                let at = fixed_then_name(6, key)?;
                (push_name(key, at)? == end).then_some(())?;
            }
            6 => {
                let after_m = push_name(key, r.rdata_pos)?;
                let after_r = push_name(key, after_m)?;
                (after_r + 20 == end).then_some(())?;
                key.extend_from_slice(msg.get(after_r..end)?);
            }
            16 | 99 => {
                let mut rest = rdata;
                while let Some((&len, tail)) = rest.split_first() {
                    rest = tail.get(usize::from(len)..)?;
                }
                key.extend_from_slice(rdata);
            }
            _ => key.extend_from_slice(rdata),
        }
        Some(())
    }

    /// Takes every aggregated tuple out, rendered in presentation form.
    pub fn drain(&mut self, sensor_id: &str) -> Vec<PdnsTuple> {
        self.seen = 0;
        let mut out = Vec::with_capacity(self.map.len());
        let mut name = NameBuf::default();
        for (key, agg) in self.map.drain() {
            if let Some(t) = render_key(&key, agg, sensor_id, &mut name) {
                out.push(t);
            }
        }
        out
    }
}

/// Turns a binary key back into a tuple with presentation-form names and rdata.
fn render_key(
    key: &[u8],
    agg: Aggregate,
    sensor_id: &str,
    name: &mut NameBuf,
) -> Option<PdnsTuple> {
    let (&section, rest) = key.split_first()?;
    let section = Section::from_code(section)?;
    let (rtype, rest) = rest.split_at_checked(2)?;
    let rrtype = u16::from_be_bytes([*rtype.first()?, *rtype.get(1)?]);
    let (&zone_len, rest) = rest.split_first()?;
    let (zone, rest) = rest.split_at_checked(usize::from(zone_len))?;
    let (&owner_len, rest) = rest.split_first()?;
    let (owner, rdata) = rest.split_at_checked(usize::from(owner_len))?;
    let text = |wire: &[u8], name: &mut NameBuf| -> Option<String> {
        let mut s = String::new();
        name.set_wire(wire).then_some(())?;
        name.write_presentation(&mut s, true);
        Some(s)
    };
    let record = RecordRef {
        section,
        name_pos: 0,
        rtype: rrtype,
        class: 1,
        ttl: 0,
        rdata_pos: 0,
        rdata_len: rdata.len(),
    };
    let mut rendered = String::new();
    // Names in the canonical rdata are uncompressed, so the rdata alone is a valid "message".
    render_rdata(rdata, &record, name, true, &mut rendered).ok()?;
    Some(PdnsTuple {
        rrname: text(owner, name)?,
        rrtype,
        rdata: rendered,
        section,
        bailiwick: text(zone, name)?,
        time_first_ns: agg.first_ns,
        time_last_ns: agg.last_ns,
        count: agg.count,
        sensor_id: sensor_id.to_owned(),
    })
}

/// Appends wire-form name bytes lower-cased (length octets are at most 63, below `A`, so they
/// are unchanged).
fn push_lower(out: &mut Vec<u8>, wire: &[u8]) {
    out.extend(wire.iter().map(u8::to_ascii_lowercase));
}

/// Whether `zone` is `name` or one of its ancestors (lower-case wire forms without the root
/// octet; the root is empty).
fn encloses(zone: &[u8], name: &[u8]) -> bool {
    let mut rest = name;
    loop {
        if rest == zone {
            return true;
        }
        let Some((&len, tail)) = rest.split_first() else {
            return false;
        };
        match tail.get(usize::from(len)..) {
            Some(next) => rest = next,
            None => return false,
        }
    }
}

/// The parent of a wire-form name (the root for a single label or the root).
fn parent(name: &[u8]) -> &[u8] {
    name.split_first()
        .and_then(|(&len, tail)| tail.get(usize::from(len)..))
        .unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_enclosure_is_label_aligned() {
        let www = b"\x03www\x07example\x03com";
        assert!(encloses(b"\x07example\x03com", www));
        assert!(encloses(www, www));
        assert!(!encloses(b"\x06xample\x03com", www));
        assert!(encloses(b"", b"\x03com"));
        assert_eq!(parent(www), b"\x07example\x03com");
        assert_eq!(parent(b"\x03com"), b"");
        assert_eq!(parent(b""), b"");
    }

    /// Hand-built response: `WWW.Example.com A` answered with 192.0.2.1, authority NS
    /// `example.com` -> `NS1.example.com`, glue A for it.
    fn response() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 1, 0, 1];
        m.extend_from_slice(b"\x03WWW\x07Example\x03com\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1]);
        // 0xc0 0x10: "Example.com" inside the question.
        m.extend_from_slice(&[0xc0, 16, 0, 2, 0, 1, 0, 0, 0x0e, 0x10, 0, 6]);
        m.extend_from_slice(b"\x03NS1\xc0\x10");
        let ns1 = 12 + 21 + 16 + 12;
        m.extend_from_slice(&[
            0xc0, ns1 as u8, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 53,
        ]);
        m
    }

    #[test]
    fn tuples_carry_canonical_names_and_their_bailiwick() {
        let mut agg = TupleAggregator::default();
        let mut name = NameBuf::default();
        let m = response();
        let (scan, added) = agg.add_response_scan(&m, 5, &mut name).unwrap();
        assert!(scan.anomalies.is_empty());
        assert_eq!(added, 3);
        agg.add_response_scan(&m, 9, &mut name).unwrap();
        let mut tuples = agg.drain("s1");
        tuples.sort_by(|a, b| a.rrname.cmp(&b.rrname).then(a.rrtype.cmp(&b.rrtype)));
        let got: Vec<_> = tuples
            .iter()
            .map(|t| {
                let when = (t.time_first_ns, t.time_last_ns, t.count);
                (
                    t.rrname.as_str(),
                    t.rrtype,
                    t.rdata.as_str(),
                    t.section,
                    t.bailiwick.as_str(),
                    when,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "example.com",
                    2,
                    "ns1.example.com",
                    Section::Authority,
                    "example.com",
                    (5, 9, 2)
                ),
                (
                    "ns1.example.com",
                    1,
                    "192.0.2.53",
                    Section::Additional,
                    "example.com",
                    (5, 9, 2)
                ),
                (
                    "www.example.com",
                    1,
                    "192.0.2.1",
                    Section::Answer,
                    "www.example.com",
                    (5, 9, 2)
                ),
            ]
        );
        assert!(agg.is_empty());
    }

    #[test]
    fn queries_and_bad_rdata_are_not_learnt() {
        let mut agg = TupleAggregator::default();
        let mut name = NameBuf::default();
        let mut q = response();
        q[2] &= 0x7f; // QR = 0
        assert_eq!(agg.add_response_scan(&q, 1, &mut name).unwrap().1, 0);
        let mut bad = response();
        let a_len = 12 + 21 + 10;
        bad[a_len + 1] = 5; // A rdlength 5 swallows the next byte: the walk breaks too
        let added = agg
            .add_response_scan(&bad, 1, &mut name)
            .map_or(0, |(_, n)| n);
        assert!(added < 3);
    }
}
