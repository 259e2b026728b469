//! What `dnsward query` asks the store and how it prints the answer.
//!
//! * [`NamePattern`]: an exact owner name or `*.suffix` (strict subdomains of `suffix`).
//! * [`RdataQuery`]: a reverse lookup by an address, a CIDR prefix or a name inside rdata.
//! * [`Filter`]: record type and a time window, overlapping or strictly inside.
//! * [`PdnsRecord`]: one stored record as a query returns it, [`PdnsRecord::to_cof`] turns it
//!   into the Passive DNS Common Output Format; [`cof_line`] and [`format_table`] render them.
//!
//! Queries themselves run on [`Store`](crate::store::Store):
//! [`Store::query_name`](crate::store::Store::query_name) and
//! [`Store::query_rdata`](crate::store::Store::query_rdata).

use crate::store::keys;
use crate::Error;
use schemas::cof::CofRecord;
use schemas::Section;
use std::fmt::Write as _;
use std::net::IpAddr;

/// Nanoseconds per second.
const NS_PER_SEC: u64 = 1_000_000_000;

/// An owner-name pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePattern {
    /// Exactly this name (canonical: lower case, no trailing dot, the root is `.`).
    Exact(String),
    /// Every strict subdomain of this suffix: `*.example.com` matches `www.example.com` and
    /// `a.b.example.com` but **not** `example.com` itself (as a DNS wildcard would). `*` alone
    /// (suffix `.`) matches every name except the root.
    Wildcard(String),
}

impl NamePattern {
    /// Parses `NAME` or `*.SUFFIX`: ASCII letters are lower-cased and one trailing dot is
    /// dropped. `*` is a pattern only as the whole leftmost label; a name with an unescaped
    /// space, an empty label or a `*` label elsewhere is refused.
    pub fn parse(text: &str) -> Result<NamePattern, Error> {
        let invalid = |reason| Error::InvalidName {
            name: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(invalid("empty name"));
        }
        let lower = trimmed.to_ascii_lowercase();
        let mut escaped = false;
        for c in lower.chars() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c.is_whitespace() {
                return Err(invalid("unescaped white space"));
            }
        }
        let name = match lower.strip_suffix('.') {
            Some(stripped) if !stripped.is_empty() && !stripped.ends_with(['.', '\\']) => stripped,
            _ => lower.as_str(),
        };
        let (wildcard, rest) = if name == "*" {
            (true, ".")
        } else if let Some(rest) = name.strip_prefix("*.") {
            (true, rest)
        } else {
            (false, name)
        };
        if rest.split('.').any(|label| label == "*") {
            return Err(invalid("`*` is a pattern only as the leftmost label"));
        }
        // Validate the same way the store will encode it.
        keys::encode_name(rest, &mut Vec::new()).map_err(|error| match error {
            Error::InvalidName { reason, .. } => invalid(reason),
            other => other,
        })?;
        Ok(if wildcard {
            NamePattern::Wildcard(rest.to_owned())
        } else {
            NamePattern::Exact(rest.to_owned())
        })
    }
}

impl std::str::FromStr for NamePattern {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self, Error> {
        NamePattern::parse(text)
    }
}

impl std::fmt::Display for NamePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NamePattern::Exact(name) => f.write_str(name),
            NamePattern::Wildcard(suffix) if suffix == "." => f.write_str("*"),
            NamePattern::Wildcard(suffix) => write!(f, "*.{suffix}"),
        }
    }
}

/// A reverse lookup: which owners have this in their rdata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RdataQuery {
    /// A and AAAA records with exactly this address.
    Ip(IpAddr),
    /// A records (for an IPv4 prefix) or AAAA records (IPv6) inside this prefix. The address is
    /// the network address (host bits cleared).
    Cidr {
        /// Network address.
        network: IpAddr,
        /// Prefix length (at most 32 for IPv4, 128 for IPv6).
        prefix_len: u8,
    },
    /// NS, CNAME, PTR, DNAME, MX and SRV records whose target name matches.
    Name(NamePattern),
}

impl RdataQuery {
    /// Parses an address (`192.0.2.1`, `2001:db8::1`), a CIDR prefix (`192.0.2.0/24`; host bits
    /// are cleared), or else a name pattern as [`NamePattern::parse`] does (`mx.example.com`,
    /// `*.example.com`).
    pub fn parse(text: &str) -> Result<RdataQuery, Error> {
        let trimmed = text.trim();
        let invalid = |reason| Error::InvalidRdataQuery {
            text: text.to_owned(),
            reason,
        };
        if let Some((addr, prefix)) = trimmed.split_once('/') {
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| invalid("not an IP address before '/'"))?;
            let prefix_len: u8 = prefix
                .parse()
                .map_err(|_| invalid("prefix length is not a number"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            if prefix_len > max {
                return Err(invalid("prefix length longer than the address"));
            }
            return Ok(RdataQuery::Cidr {
                network: mask(addr, prefix_len),
                prefix_len,
            });
        }
        if let Ok(addr) = trimmed.parse::<IpAddr>() {
            return Ok(RdataQuery::Ip(addr));
        }
        NamePattern::parse(trimmed).map(RdataQuery::Name)
    }

    /// The first and last address an [`RdataQuery::Ip`] or [`RdataQuery::Cidr`] covers.
    pub fn address_range(&self) -> Option<(IpAddr, IpAddr)> {
        match *self {
            RdataQuery::Ip(addr) => Some((addr, addr)),
            RdataQuery::Cidr {
                network,
                prefix_len,
            } => Some((network, last_address(network, prefix_len))),
            RdataQuery::Name(_) => None,
        }
    }
}

impl std::str::FromStr for RdataQuery {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self, Error> {
        RdataQuery::parse(text)
    }
}

/// `addr` with all but its first `prefix_len` bits cleared.
fn mask(addr: IpAddr, prefix_len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let keep = u32::MAX
                .checked_shl(32 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V4((bits & keep).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let keep = u128::MAX
                .checked_shl(128 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V6((bits & keep).into())
        }
    }
}

/// The last address of the prefix starting at `network`.
fn last_address(network: IpAddr, prefix_len: u8) -> IpAddr {
    match network {
        IpAddr::V4(v4) => {
            let host = u32::MAX.checked_shr(u32::from(prefix_len)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) | host).into())
        }
        IpAddr::V6(v6) => {
            let host = u128::MAX.checked_shr(u32::from(prefix_len)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) | host).into())
        }
    }
}

/// Which records a query keeps: a type and a time window.
///
/// Times are seconds since the Unix epoch, compared at whole-second resolution (as printed),
/// both ends inclusive. By default a record is kept when its `[time_first, time_last]` overlaps
/// `[since, until]`; with `strict` it must lie wholly inside it. A missing end is open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Keep only this record type.
    pub rrtype: Option<u16>,
    /// Start of the window, seconds since the Unix epoch.
    pub since: Option<u64>,
    /// End of the window, seconds since the Unix epoch.
    pub until: Option<u64>,
    /// Keep only records wholly inside the window instead of overlapping it.
    pub strict: bool,
}

impl Filter {
    /// Fails when `since` is after `until`.
    pub fn validate(&self) -> Result<(), Error> {
        match (self.since, self.until) {
            (Some(since), Some(until)) if since > until => {
                Err(Error::InvalidTimeWindow { since, until })
            }
            _ => Ok(()),
        }
    }

    /// Whether a record of type `rrtype` seen from `first` to `last` (seconds) is kept.
    pub fn matches(&self, rrtype: u16, first: u64, last: u64) -> bool {
        if self.rrtype.is_some_and(|wanted| wanted != rrtype) {
            return false;
        }
        if self.strict {
            self.since.is_none_or(|since| first >= since)
                && self.until.is_none_or(|until| last <= until)
        } else {
            self.since.is_none_or(|since| last >= since)
                && self.until.is_none_or(|until| first <= until)
        }
    }
}

/// One stored passive-DNS record, as a query returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdnsRecord {
    /// Owner name.
    pub rrname: String,
    /// Record type code.
    pub rrtype: u16,
    /// Rdata, presentation format.
    pub rdata: String,
    /// Where it was learnt: answers versus authority or additional records.
    pub section: Section,
    /// Bailiwick it was learnt in.
    pub bailiwick: String,
    /// First packet time seen, ns since the Unix epoch.
    pub time_first_ns: u64,
    /// Last packet time seen, ns since the Unix epoch.
    pub time_last_ns: u64,
    /// Times seen.
    pub count: u64,
    /// Sensors that saw it (sorted, capped).
    pub sensors: Vec<String>,
    /// Sensors not listed because the list was full.
    pub sensors_dropped: u64,
}

impl PdnsRecord {
    /// First seen, whole seconds since the Unix epoch.
    pub fn time_first(&self) -> u64 {
        self.time_first_ns / NS_PER_SEC
    }

    /// Last seen, whole seconds since the Unix epoch.
    pub fn time_last(&self) -> u64 {
        self.time_last_ns / NS_PER_SEC
    }

    /// The Passive DNS Common Output Format record (times in whole seconds; the bailiwick tells
    /// authority and additional records from answers).
    pub fn to_cof(&self) -> CofRecord {
        CofRecord {
            rrname: self.rrname.clone(),
            rrtype: schemas::rrtype::type_name(self.rrtype).into_owned(),
            rdata: self.rdata.clone(),
            time_first: self.time_first(),
            time_last: self.time_last(),
            count: self.count,
            bailiwick: self.bailiwick.clone(),
            sensor_id: self.sensors.clone(),
        }
    }

    /// The deterministic order of query results: owner, type, rdata, section, bailiwick.
    pub fn sort_key(&self) -> (&str, u16, &str, Section, &str) {
        (
            &self.rrname,
            self.rrtype,
            &self.rdata,
            self.section,
            &self.bailiwick,
        )
    }
}

/// A stored entry a query could not read.
#[derive(Debug)]
pub struct Damaged {
    /// The key of the entry (in `pdns`, or in `rdata_index` for a dangling index entry).
    pub key: Vec<u8>,
    /// What is wrong with it.
    pub error: Error,
}

/// What a query found: the records, sorted by [`PdnsRecord::sort_key`], and the entries it had
/// to skip because they were damaged (one bad value does not hide the rest).
#[derive(Debug, Default)]
pub struct QueryOutcome {
    /// Matching records in deterministic order.
    pub records: Vec<PdnsRecord>,
    /// Entries skipped as unreadable.
    pub damaged: Vec<Damaged>,
}

/// One COF record as one JSON line (no trailing newline), fields in the order of
/// [`CofRecord`].
pub fn cof_line(record: &CofRecord) -> String {
    // Serializing strings, integers and a list of strings cannot fail.
    serde_json::to_string(record).unwrap_or_default()
}

pub use schemas::time::format_utc;

/// Column headings of [`format_table`].
const TABLE_HEADINGS: [&str; 9] = [
    "RRNAME",
    "RRTYPE",
    "RDATA",
    "FIRST SEEN (UTC)",
    "LAST SEEN (UTC)",
    "COUNT",
    "SECTION",
    "BAILIWICK",
    "SENSORS",
];

/// Renders records as an aligned, human-readable table with a heading line: owner, type,
/// rdata, first and last seen (UTC ISO 8601), count (right-aligned), section (`answer`,
/// `authority`, `additional`), bailiwick (`-` when unknown) and sensors. Every line ends with
/// `\n`; an empty slice gives the heading line alone.
pub fn format_table(records: &[PdnsRecord]) -> String {
    let rows: Vec<[String; 9]> = records
        .iter()
        .map(|r| {
            let mut sensors = r.sensors.join(",");
            if r.sensors_dropped > 0 {
                let _ = write!(sensors, " (+{} more)", r.sensors_dropped);
            }
            [
                r.rrname.clone(),
                schemas::rrtype::type_name(r.rrtype).into_owned(),
                r.rdata.clone(),
                format_utc(r.time_first()),
                format_utc(r.time_last()),
                r.count.to_string(),
                r.section.name().to_owned(),
                if r.bailiwick.is_empty() {
                    "-".to_owned()
                } else {
                    r.bailiwick.clone()
                },
                sensors,
            ]
        })
        .collect();
    let mut widths = TABLE_HEADINGS.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let headings = TABLE_HEADINGS.map(str::to_owned);
    for row in std::iter::once(&headings).chain(&rows) {
        let mut line = String::new();
        let cells = row.iter().zip(widths).enumerate();
        for (column, (cell, width)) in cells {
            if column > 0 {
                line.push_str("  ");
            }
            let pad = width.saturating_sub(cell.chars().count());
            if column == 5 {
                // COUNT: numbers read best right-aligned
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_pattern_parses_exact_names_in_canonical_form() {
        assert_eq!(
            NamePattern::parse("WWW.Example.COM.").unwrap(),
            NamePattern::Exact("www.example.com".into())
        );
        assert_eq!(
            NamePattern::parse(".").unwrap(),
            NamePattern::Exact(".".into())
        );
    }

    #[test]
    fn name_pattern_parses_leftmost_star_as_wildcard() {
        assert_eq!(
            NamePattern::parse("*.example.com").unwrap(),
            NamePattern::Wildcard("example.com".into())
        );
        assert_eq!(
            NamePattern::parse("*").unwrap(),
            NamePattern::Wildcard(".".into())
        );
        assert_eq!(
            NamePattern::parse("*.example.com").unwrap().to_string(),
            "*.example.com"
        );
    }

    #[test]
    fn name_pattern_refuses_bad_names_with_a_reason() {
        for bad in ["", "a..b", "a.*.com", "*.*.com", "a b", "..", "a.."] {
            let error = NamePattern::parse(bad).unwrap_err();
            assert!(
                matches!(error, Error::InvalidName { .. }),
                "{bad:?}: {error}"
            );
        }
    }

    #[test]
    fn rdata_query_parses_addresses_prefixes_and_names() {
        assert_eq!(
            RdataQuery::parse("192.0.2.1").unwrap(),
            RdataQuery::Ip("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            RdataQuery::parse("2001:db8::1").unwrap(),
            RdataQuery::Ip("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            RdataQuery::parse("192.0.2.77/24").unwrap(),
            RdataQuery::Cidr {
                network: "192.0.2.0".parse().unwrap(),
                prefix_len: 24
            }
        );
        assert_eq!(
            RdataQuery::parse("2001:db8::/32").unwrap().address_range(),
            Some((
                "2001:db8::".parse().unwrap(),
                "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap()
            ))
        );
        assert_eq!(
            RdataQuery::parse("0.0.0.0/0").unwrap().address_range(),
            Some((
                "0.0.0.0".parse().unwrap(),
                "255.255.255.255".parse().unwrap()
            ))
        );
        assert_eq!(
            RdataQuery::parse("MX.Example.com").unwrap(),
            RdataQuery::Name(NamePattern::Exact("mx.example.com".into()))
        );
    }

    #[test]
    fn rdata_query_refuses_bad_prefixes_with_a_reason() {
        for bad in ["192.0.2.0/33", "2001:db8::/129", "192.0.2.0/x", "host/24"] {
            let error = RdataQuery::parse(bad).unwrap_err();
            assert!(
                matches!(error, Error::InvalidRdataQuery { .. }),
                "{bad:?}: {error}"
            );
        }
    }

    #[test]
    fn overlap_window_keeps_records_touching_either_boundary() {
        let window = Filter {
            since: Some(200),
            until: Some(300),
            ..Filter::default()
        };
        assert!(window.matches(1, 100, 200));
        assert!(!window.matches(1, 100, 199));
        assert!(window.matches(1, 300, 400));
        assert!(!window.matches(1, 301, 400));
        assert!(window.matches(1, 100, 400));
    }

    #[test]
    fn strict_window_keeps_only_records_wholly_inside() {
        let window = Filter {
            since: Some(200),
            until: Some(300),
            strict: true,
            ..Filter::default()
        };
        assert!(window.matches(1, 200, 300));
        assert!(!window.matches(1, 199, 300));
        assert!(!window.matches(1, 200, 301));
        assert!(!window.matches(1, 100, 400));
    }

    #[test]
    fn reversed_window_is_refused() {
        let window = Filter {
            since: Some(5),
            until: Some(4),
            ..Filter::default()
        };
        assert!(matches!(
            window.validate(),
            Err(Error::InvalidTimeWindow { since: 5, until: 4 })
        ));
    }

    #[test]
    fn utc_formatting_matches_known_dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(951_868_799), "2000-02-29T23:59:59Z");
        assert_eq!(format_utc(951_868_800), "2000-03-01T00:00:00Z");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(format_utc(4_102_444_800), "2100-01-01T00:00:00Z");
        assert_eq!(format_utc(1_709_164_800), "2024-02-29T00:00:00Z");
    }

    fn record() -> PdnsRecord {
        PdnsRecord {
            rrname: "www.example.com".into(),
            rrtype: 1,
            rdata: "192.0.2.1".into(),
            section: Section::Answer,
            bailiwick: "example.com".into(),
            time_first_ns: 1_700_000_000_900_000_000,
            time_last_ns: 1_700_000_100_000_000_000,
            count: 3,
            sensors: vec!["s1".into()],
            sensors_dropped: 0,
        }
    }

    #[test]
    fn cof_line_is_the_draft_fields_in_order_with_whole_seconds() {
        assert_eq!(
            cof_line(&record().to_cof()),
            r#"{"rrname":"www.example.com","rrtype":"A","rdata":"192.0.2.1","time_first":1700000000,"time_last":1700000100,"count":3,"bailiwick":"example.com","sensor_id":["s1"]}"#
        );
    }

    #[test]
    fn table_is_aligned_and_shows_section_and_bailiwick() {
        let glue = PdnsRecord {
            rrname: "ns1.example.com".into(),
            section: Section::Additional,
            count: 12345,
            sensors: vec!["s1".into(), "s2".into()],
            sensors_dropped: 2,
            ..record()
        };
        let table = format_table(&[record(), glue]);
        let expected = "\
RRNAME           RRTYPE  RDATA      FIRST SEEN (UTC)      LAST SEEN (UTC)       COUNT  SECTION     BAILIWICK    SENSORS
www.example.com  A       192.0.2.1  2023-11-14T22:13:20Z  2023-11-14T22:15:00Z      3  answer      example.com  s1
ns1.example.com  A       192.0.2.1  2023-11-14T22:13:20Z  2023-11-14T22:15:00Z  12345  additional  example.com  s1,s2 (+2 more)
";
        assert_eq!(table, expected);
    }

    #[test]
    fn empty_table_is_the_heading_line() {
        assert_eq!(format_table(&[]).lines().count(), 1);
    }
}
