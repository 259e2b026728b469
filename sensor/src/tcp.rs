//! DNS over TCP: per-direction stream reassembly of length-prefixed messages.
//!
//! > RFC 1035 section 4.2.2: "The message is prefixed with a two byte length field which gives
//! > the message length, excluding the two byte length field."
//!
//! Each direction of a connection is a stream keyed by (source, source port, destination,
//! destination port). Segments are placed by sequence number: retransmitted bytes are trimmed,
//! segments from the future wait in a bounded out-of-order list, and complete messages (several
//! per segment, or one across many) are handed out in order. Streams, buffered bytes and
//! out-of-order segments are bounded; idle streams expire in packet time; everything dropped is
//! counted.

use std::collections::HashMap;
use std::net::IpAddr;

/// The largest DNS message over TCP (the length prefix is 16 bits).
pub const MAX_MESSAGE_LEN: usize = 65_535;

/// Stream bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    /// Streams tracked (per worker).
    pub max_streams: usize,
    /// Out-of-order segments held per stream.
    pub max_out_of_order: usize,
    /// Bytes buffered per stream: in-order bytes not yet a full message plus held segments.
    pub max_stream_bytes: usize,
    /// Idle time after which a stream is dropped, in packet time.
    pub idle_timeout_ns: u64,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            max_streams: 16_384,
            max_out_of_order: 32,
            // Two maximum messages with their prefixes.
            max_stream_bytes: 2 * (MAX_MESSAGE_LEN + 2),
            idle_timeout_ns: 60_000_000_000,
        }
    }
}

/// Stream counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TcpStats {
    /// Streams opened.
    pub streams: u64,
    /// Segments with payload.
    pub segments: u64,
    /// Messages delivered.
    pub messages: u64,
    /// Segments that only repeated bytes already seen.
    pub retransmitted: u64,
    /// Segments that arrived ahead of a gap and were held.
    pub out_of_order: u64,
    /// Segments dropped: stream table full.
    pub dropped_table_full: u64,
    /// Segments dropped: stream byte or out-of-order budget exhausted.
    pub dropped_budget: u64,
    /// Streams expired idle or closed with an incomplete message or a gap.
    pub incomplete_closed: u64,
    /// Streams expired idle.
    pub expired: u64,
}

impl TcpStats {
    /// Adds another table's counters into these.
    pub fn merge(&mut self, o: &TcpStats) {
        self.streams += o.streams;
        self.segments += o.segments;
        self.messages += o.messages;
        self.retransmitted += o.retransmitted;
        self.out_of_order += o.out_of_order;
        self.dropped_table_full += o.dropped_table_full;
        self.dropped_budget += o.dropped_budget;
        self.incomplete_closed += o.incomplete_closed;
        self.expired += o.expired;
    }
}

/// One direction of a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamKey {
    /// Sender address.
    pub src: IpAddr,
    /// Sender port.
    pub src_port: u16,
    /// Receiver address.
    pub dst: IpAddr,
    /// Receiver port.
    pub dst_port: u16,
}

#[derive(Debug, Default)]
struct Stream {
    /// Sequence number of the next expected byte.
    next_seq: u32,
    /// In-order bytes not yet consumed, from `start`.
    buf: Vec<u8>,
    start: usize,
    /// Held segments: (seq, bytes).
    held: Vec<(u32, Vec<u8>)>,
    held_bytes: usize,
    last_seen_ns: u64,
}

impl Stream {
    fn pending(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or(&[])
    }

    fn buffered(&self) -> usize {
        self.buf.len() - self.start + self.held_bytes
    }

    /// Appends `data` that starts at sequence `seq`; returns false if nothing new was added.
    fn append(&mut self, seq: u32, data: &[u8]) -> bool {
        let skip = self.next_seq.wrapping_sub(seq) as usize;
        let Some(fresh) = data.get(skip..) else {
            return false;
        };
        if fresh.is_empty() {
            return false;
        }
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(fresh);
        self.next_seq = self.next_seq.wrapping_add(fresh.len() as u32);
        true
    }

    /// Moves held segments that now connect into the buffer.
    fn drain_held(&mut self) {
        loop {
            let next = self.next_seq;
            // A held segment connects when it starts at or before the next expected byte
            // (sequence arithmetic, RFC 793 section 3.3).
            let Some(i) = self
                .held
                .iter()
                .position(|(s, _)| (next.wrapping_sub(*s) as i32) >= 0)
            else {
                return;
            };
            let (seq, data) = self.held.swap_remove(i);
            self.held_bytes -= data.len();
            self.append(seq, &data);
        }
    }
}

/// The stream table of one worker.
#[derive(Debug, Default)]
pub struct TcpReassembler {
    limits: TcpLimits,
    streams: HashMap<StreamKey, Stream>,
    last_sweep_ns: u64,
    stats: TcpStats,
}

impl TcpReassembler {
    /// An empty table with these limits.
    pub fn new(limits: TcpLimits) -> Self {
        TcpReassembler {
            limits,
            ..Default::default()
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> TcpStats {
        self.stats
    }

    /// Streams tracked now.
    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    /// Feeds one segment; calls `deliver` with every message it completes, in order.
    #[allow(clippy::too_many_arguments)] // the segment's fields, kept flat on the hot path
    pub fn push(
        &mut self,
        now_ns: u64,
        key: StreamKey,
        seq: u32,
        syn: bool,
        fin: bool,
        rst: bool,
        payload: &[u8],
        mut deliver: impl FnMut(&[u8]),
    ) {
        self.sweep(now_ns);
        if syn {
            // A (re)opened stream starts after the SYN's sequence number.
            if !self.streams.contains_key(&key) && !self.admit() {
                return;
            }
            let stream = self.streams.entry(key).or_default();
            *stream = Stream {
                next_seq: seq.wrapping_add(1),
                last_seen_ns: now_ns,
                ..Default::default()
            };
        }
        if !payload.is_empty() {
            self.stats.segments += 1;
            if !self.streams.contains_key(&key) {
                // Picked up mid-connection (or SYN not captured): start at this segment.
                if !self.admit() {
                    return;
                }
                self.streams.insert(
                    key,
                    Stream {
                        next_seq: seq,
                        last_seen_ns: now_ns,
                        ..Default::default()
                    },
                );
            }
            let limits = self.limits;
            let Some(stream) = self.streams.get_mut(&key) else {
                return;
            };
            stream.last_seen_ns = now_ns;
            let ahead = seq.wrapping_sub(stream.next_seq) as i32;
            if ahead > 0 {
                if stream.held.len() >= limits.max_out_of_order
                    || stream.buffered() + payload.len() > limits.max_stream_bytes
                {
                    self.stats.dropped_budget += 1;
                } else {
                    self.stats.out_of_order += 1;
                    stream.held_bytes += payload.len();
                    stream.held.push((seq, payload.to_vec()));
                }
            } else if stream.buffered() + payload.len() > limits.max_stream_bytes {
                self.stats.dropped_budget += 1;
            } else if stream.append(seq, payload) {
                stream.drain_held();
            } else {
                self.stats.retransmitted += 1;
            }
            let delivered = extract(stream, &mut deliver);
            self.stats.messages += delivered;
        }
        if fin || rst {
            if let Some(stream) = self.streams.remove(&key) {
                if !stream.pending().is_empty() || !stream.held.is_empty() {
                    self.stats.incomplete_closed += 1;
                }
            }
        }
    }

    fn admit(&mut self) -> bool {
        if self.streams.len() >= self.limits.max_streams {
            self.stats.dropped_table_full += 1;
            return false;
        }
        self.stats.streams += 1;
        true
    }

    /// Expires idle streams (one scan per second of packet time at most).
    pub fn sweep(&mut self, now_ns: u64) {
        if now_ns.saturating_sub(self.last_sweep_ns) < 1_000_000_000 {
            return;
        }
        self.last_sweep_ns = now_ns;
        let timeout = self.limits.idle_timeout_ns;
        let mut expired = 0;
        let mut incomplete = 0;
        self.streams.retain(|_, s| {
            let keep = now_ns.saturating_sub(s.last_seen_ns) < timeout;
            if !keep {
                expired += 1;
                if !s.pending().is_empty() || !s.held.is_empty() {
                    incomplete += 1;
                }
            }
            keep
        });
        self.stats.expired += expired;
        self.stats.incomplete_closed += incomplete;
    }

    /// Drops every stream at end of input, counting those holding partial data.
    pub fn finish(&mut self) {
        for s in self.streams.values() {
            if !s.pending().is_empty() || !s.held.is_empty() {
                self.stats.incomplete_closed += 1;
            }
        }
        self.streams.clear();
    }
}

/// Hands out every complete length-prefixed message at the front of the stream.
fn extract(stream: &mut Stream, deliver: &mut impl FnMut(&[u8])) -> u64 {
    let mut delivered = 0;
    loop {
        let pending = stream.pending();
        let Some(prefix) = pending.get(..2) else {
            break;
        };
        let len = usize::from(u16::from_be_bytes([
            prefix.first().copied().unwrap_or(0),
            prefix.get(1).copied().unwrap_or(0),
        ]));
        let Some(message) = pending.get(2..2 + len) else {
            break;
        };
        deliver(message);
        delivered += 1;
        stream.start += 2 + len;
    }
    if stream.start == stream.buf.len() {
        stream.buf.clear();
        stream.start = 0;
    }
    delivered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> StreamKey {
        StreamKey {
            src: "192.0.2.1".parse().unwrap(),
            src_port: 53,
            dst: "192.0.2.2".parse().unwrap(),
            dst_port: 40000,
        }
    }

    fn run(segments: &[(u32, bool, &[u8])]) -> (Vec<Vec<u8>>, TcpStats) {
        let mut t = TcpReassembler::new(TcpLimits::default());
        let mut out = Vec::new();
        for (i, (seq, syn, data)) in segments.iter().enumerate() {
            t.push(i as u64, key(), *seq, *syn, false, false, data, |m| {
                out.push(m.to_vec())
            });
        }
        (out, t.stats())
    }

    #[test]
    fn message_split_across_segments_is_joined() {
        let (out, _) = run(&[
            (99, true, b""),
            (100, false, b"\x00\x05he"),
            (104, false, b"llo"),
        ]);
        assert_eq!(out, vec![b"hello".to_vec()]);
    }

    #[test]
    fn several_messages_in_one_segment_come_out_in_order() {
        let (out, s) = run(&[(100, false, b"\x00\x01a\x00\x02bc\x00")]);
        assert_eq!(out, vec![b"a".to_vec(), b"bc".to_vec()]);
        assert_eq!(s.messages, 2);
    }

    #[test]
    fn retransmission_and_reordering_are_handled() {
        let (out, s) = run(&[
            (99, true, b""),
            (104, false, b"llo"),
            (100, false, b"\x00\x05he"),
            (100, false, b"\x00\x05he"),
        ]);
        assert_eq!(out, vec![b"hello".to_vec()]);
        assert_eq!((s.out_of_order, s.retransmitted), (1, 1));
    }

    #[test]
    fn stream_table_is_bounded() {
        let limits = TcpLimits {
            max_streams: 1,
            ..TcpLimits::default()
        };
        let mut t = TcpReassembler::new(limits);
        for port in 0..3 {
            let k = StreamKey {
                src_port: port,
                ..key()
            };
            t.push(0, k, 1, false, false, false, b"\x00\x09", |_| {});
        }
        assert_eq!(t.streams(), 1);
        assert_eq!(t.stats().dropped_table_full, 2);
    }
}
