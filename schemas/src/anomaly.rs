//! The closed list of anomalies a decoder can flag.
//!
//! Names and codes are frozen: a test checks that names are unique and that codes never change.
//! New anomalies are appended with the next free code.

use serde::{Deserialize, Serialize};

macro_rules! anomalies {
    ($( $(#[doc = $doc:literal])* $variant:ident = $code:literal, $name:literal, $malformed:literal; )*) => {
        /// Everything a decoder can flag on a frame or DNS message.
        ///
        /// `malformed` anomalies mean the message could not be decoded as the protocol requires;
        /// the others describe odd but decodable input (evidence for detectors).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Anomaly {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl Anomaly {
            /// Every anomaly, in code order.
            pub const ALL: &'static [Anomaly] = &[$(Anomaly::$variant,)*];

            /// Stable snake_case name, used in JSON, stats and metric labels.
            pub const fn name(self) -> &'static str {
                match self { $(Anomaly::$variant => $name,)* }
            }

            /// Fixed numeric code.
            pub const fn code(self) -> u16 {
                match self { $(Anomaly::$variant => $code,)* }
            }

            /// Whether this anomaly means the message is malformed (as opposed to merely odd).
            pub const fn is_malformed(self) -> bool {
                match self { $(Anomaly::$variant => $malformed,)* }
            }

            /// One-line description, for documentation and `--help` output.
            pub const fn description(self) -> &'static str {
                match self { $(Anomaly::$variant => concat!($($doc),*),)* }
            }

            /// The anomaly with this stable name.
            pub fn from_name(name: &str) -> Option<Anomaly> {
                match name { $($name => Some(Anomaly::$variant),)* _ => None }
            }
        }
    };
}

anomalies! {
    /// Fewer than 12 bytes: no DNS header.
    TruncatedHeader = 1, "truncated_header", true;
    /// A question entry runs past the end of the message.
    TruncatedQuestion = 2, "truncated_question", true;
    /// A resource record runs past the end of the message.
    TruncatedRecord = 3, "truncated_record", true;
    /// A compression pointer chain revisits a position or exceeds the hop bound.
    CompressionLoop = 4, "compression_loop", true;
    /// A compression pointer points at or after itself (forward or self pointer).
    ForwardPointer = 5, "forward_pointer", true;
    /// A label or pointer runs past the end of the message.
    LabelOverrun = 6, "label_overrun", true;
    /// A name longer than 255 octets in wire form (RFC 1035 section 2.3.4).
    NameTooLong = 7, "name_too_long", true;
    /// A label type other than a normal label or a pointer (0x40 or 0x80 prefix).
    BadLabelType = 8, "bad_label_type", true;
    /// The header counts more records than the message holds.
    CountMismatch = 9, "count_mismatch", true;
    /// Bytes remain after the last counted record.
    TrailingBytes = 10, "trailing_bytes", false;
    /// Rdata whose length does not fit its type (e.g. an A record of 5 bytes).
    BadRdata = 11, "bad_rdata", true;
    /// A query (QR=0) that carries answer records.
    QueryWithAnswers = 12, "query_with_answers", false;
    /// More than one question (QDCOUNT > 1).
    MultipleQuestions = 13, "multiple_questions", false;
    /// No question (QDCOUNT = 0) on a query or response.
    NoQuestion = 14, "no_question", false;
    /// More than one OPT record.
    MultipleOpt = 15, "multiple_opt", false;
    /// An OPT record outside the additional section or with a non-root owner.
    MisplacedOpt = 16, "misplaced_opt", false;
    /// EDNS options that run past the end of the OPT rdata.
    BadEdnsOption = 17, "bad_edns_option", true;
    /// The Z bit of the header is set (RFC 1035 says it must be zero).
    ZBitSet = 18, "z_bit_set", false;
    /// The message came from overlapping IP fragments.
    FragmentOverlap = 19, "fragment_overlap", false;
    /// Overlapping IP fragments disagreed on the bytes they both carry.
    FragmentInconsistent = 20, "fragment_inconsistent", false;
    /// The message was carried in IP fragments.
    Fragmented = 21, "fragmented", false;
    /// The UDP or TCP payload on a DNS port is not DNS (garbage).
    NotDns = 22, "not_dns", true;
    /// Reserved: a TCP DNS message cut by the end of its stream. Not emitted yet (no message is
    /// left to attach it to); such streams are counted in the `tcp.incomplete_closed` stat.
    TcpTruncated = 23, "tcp_truncated", true;
    /// The frame was cut by the capture snap length.
    SnapTruncated = 24, "snap_truncated", true;
    /// The UDP length or checksum-carrying header is inconsistent with the IP payload.
    BadTransportHeader = 25, "bad_transport_header", true;
    /// The question name holds bytes outside letters, digits, hyphen and underscore (legal, but
    /// unusual in hostnames).
    NonHostnameLabel = 26, "non_hostname_label", false;
    /// The message is a copy quoted in an ICMP destination-unreachable error.
    IcmpQuoted = 27, "icmp_quoted", false;
    /// The IP fragments of one datagram arrived with different IP TTLs (hop limits): they
    /// likely came from different senders (a spoofed fragment).
    FragmentTtlMismatch = 28, "fragment_ttl_mismatch", false;
}

impl Serialize for Anomaly {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Anomaly {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Anomaly::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format_args!("unknown anomaly {name:?}")))
    }
}

impl std::fmt::Display for Anomaly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_and_codes_are_unique_and_round_trip() {
        let mut names = HashSet::new();
        let mut codes = HashSet::new();
        for &a in Anomaly::ALL {
            assert!(names.insert(a.name()), "duplicate name {}", a.name());
            assert!(codes.insert(a.code()), "duplicate code {}", a.code());
            assert_eq!(Anomaly::from_name(a.name()), Some(a));
            assert!(!a.description().is_empty());
        }
    }

    #[test]
    fn codes_are_frozen() {
        // Appending is fine; changing an existing pair is a breaking change.
        let frozen: Vec<(u16, &str)> = Anomaly::ALL.iter().map(|a| (a.code(), a.name())).collect();
        assert_eq!(frozen.first(), Some(&(1, "truncated_header")));
        assert!(frozen.contains(&(4, "compression_loop")));
        assert!(frozen.contains(&(5, "forward_pointer")));
        assert!(frozen.contains(&(9, "count_mismatch")));
        assert!(frozen.contains(&(19, "fragment_overlap")));
        assert!(frozen.contains(&(22, "not_dns")));
        for (i, (code, _)) in frozen.iter().enumerate() {
            assert_eq!(usize::from(*code), i + 1, "codes are dense and in order");
        }
    }
}
