//! Offline IP-to-AS tables: which autonomous system announces an address.
//!
//! An [`AsnTable`] maps an [`IpAddr`] to the AS number and organisation name that a public
//! table gives for it ([`AsnTable::lookup`]). Tables are loaded from files an operator
//! downloads (see `docs/ip-to-as.md`); four formats are read, chosen from the file's name and
//! first bytes ([`TableFormat::detect`]) or named explicitly:
//!
//! * ip-location-db CSV ([`TableFormat::IpLocationDbCsv`]): `start,end,asn,org` as in the
//!   `@ip-location-db/asn` npm package (`asn-ipv4.csv`, `asn-ipv6.csv`); `org` may be
//!   double-quoted, with `""` for a quote inside it.
//! * iptoasn.com TSV ([`TableFormat::IptoasnTsv`]):
//!   `range_start\trange_end\tAS_number\tcountry_code\tAS_description`.
//! * CAIDA RouteViews prefix-to-AS ([`TableFormat::Pfx2as`]): `prefix\tlength\tasn`.
//! * MaxMind DB ([`TableFormat::Mmdb`]): files with `autonomous_system_number` and
//!   `autonomous_system_organization` (GeoLite2-ASN, and the `@ip-location-db/asn-mmdb` files).
//!
//! Any of them may be gzip-compressed; that is recognised from the content, not the name.
//!
//! # How a table is built
//!
//! Every loader feeds ranges into an [`AsnTableBuilder`], which accepts them in any order and
//! overlapping. [`AsnTableBuilder::build`] flattens them into sorted, non-overlapping ranges
//! (one sorted array of IPv4 `u32` ranges, one of IPv6 `u128` ranges), so a lookup is one
//! binary search and no allocation. Where ranges overlap, the winner for each address is:
//!
//! 1. the range from the **later source** (file, reader or [`AsnTableBuilder::insert`] call):
//!    a local override file listed after a public table wins over it;
//! 2. within one source, the **narrower** range (longest-prefix match, which is what
//!    overlapping pfx2as prefixes mean);
//! 3. between equally wide ranges of one source, the later line.
//!
//! Adjacent pieces that end up with the same AS and organisation are joined, so
//! [`AsnTable::len`] counts the flattened ranges, not input lines.
//!
//! MaxMind DB files are read through the `maxminddb` reader once, at load, and their networks
//! are put into the same range arrays as the text formats: one lookup path, one merge rule,
//! and a lookup that does not decode anything. Networks reachable only through the reader's
//! IPv4 aliases (`::ffff:0:0/96`, `2002::/16`) are not copied; IPv4-mapped addresses are
//! looked up as IPv4 anyway.
//!
//! # Damaged input
//!
//! A table is a downloaded file, and one bad line should not cost the other million. Loaders
//! skip lines they cannot parse and count them in the [`LoadReport`], together with the first
//! such line's number and reason for the log. Loading fails with
//! [`AsnError::NothingParsed`] only when a file yields no range at all (a file in the wrong
//! format, an HTML error page saved as a table), and with [`AsnError::Io`] when it cannot be
//! read. Lines for AS 0 ("not routed", RFC 7607) are skipped by design and counted apart.
//!
//! ```
//! use analyzer::asn::{AsnTableBuilder, TableFormat};
//! use std::net::IpAddr;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let csv = "8.8.8.0,8.8.8.255,15169,Google LLC\n\
//!            192.0.2.0,192.0.2.255,64505,\"HIJACK, HOSTING\"\n\
//!            2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,64510,DOC-V6\n";
//! let mut builder = AsnTableBuilder::new();
//! let report = builder.add_reader(csv.as_bytes(), Some(TableFormat::IpLocationDbCsv), "inline")?;
//! assert_eq!((report.ranges, report.skipped_lines), (3, 0));
//! let table = builder.build();
//!
//! let info = table.lookup("8.8.4.4".parse::<IpAddr>()?);
//! assert!(info.is_none());
//! let info = table.lookup("::ffff:192.0.2.53".parse::<IpAddr>()?).ok_or("no match")?;
//! assert_eq!((info.asn, &*info.org), (64505, "HIJACK, HOSTING"));
//! # Ok(())
//! # }
//! ```

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

/// Longest line a text loader accepts; longer lines are skipped as
/// [`LineError::LineTooLong`] without being held in memory. The longest line in the
/// `@ip-location-db/asn` 2.3 CSVs is under 200 bytes, iptoasn.com's under 300.
pub const MAX_LINE_BYTES: usize = 4096;

/// Largest MaxMind DB accepted, after decompression (the file is read into memory whole).
/// GeoLite2-ASN is about 10 MB; this leaves room for growth and refuses a gzip bomb.
pub const MAX_MMDB_BYTES: u64 = 1 << 30;

/// How many bytes [`TableFormat::detect`] is given to look at: enough for several lines.
pub const DETECT_BYTES: usize = 8192;

/// How many data lines (not blank, not `#` comments) detection tries before giving up, so a
/// header line or one damaged line at the top does not defeat it.
const DETECT_LINES: usize = 5;

/// The gzip magic number (RFC 1952 section 2.3.1: ID1 = 31, ID2 = 139).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The AS and organisation that a table gives for an address.
///
/// Cloning is cheap: the organisation name is shared with the table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AsInfo {
    /// The AS number (asplain).
    pub asn: u32,
    /// The organisation name as the table spells it; empty when the source has no names
    /// (CAIDA pfx2as, or an MaxMind DB record without `autonomous_system_organization`).
    pub org: Arc<str>,
    /// First address of the flattened range that matched.
    pub range_start: IpAddr,
    /// Last address (inclusive) of the flattened range that matched.
    pub range_end: IpAddr,
}

/// The file formats an [`AsnTable`] is loaded from.
///
/// [`fmt::Display`] and [`FromStr`] use the stable names `ip_location_db_csv`, `iptoasn_tsv`,
/// `pfx2as` and `mmdb`, for configuration files and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableFormat {
    /// `start,end,asn,org` with inclusive address ranges, as in the `@ip-location-db/asn` npm
    /// package's `asn-ipv4.csv` and `asn-ipv6.csv`. The numeric `-num.csv` variants are not
    /// read.
    IpLocationDbCsv,
    /// iptoasn.com's `ip2asn-v4.tsv`, `ip2asn-v6.tsv` and `ip2asn-combined.tsv`: inclusive
    /// ranges, tab-separated, with AS 0 for space that is not routed.
    IptoasnTsv,
    /// CAIDA's RouteViews prefix-to-AS files (`routeviews-rv2-*.pfx2as`, `routeviews-rv6-*`):
    /// `prefix\tlength\tasn`. A multi-origin prefix (`a_b`) or an AS set (`a,b`) is given the
    /// first AS listed. These files have no organisation names.
    Pfx2as,
    /// A MaxMind DB (GeoLite2-ASN or a compatible file).
    Mmdb,
}

impl TableFormat {
    /// Every format, for help texts.
    pub const ALL: [TableFormat; 4] = [
        TableFormat::IpLocationDbCsv,
        TableFormat::IptoasnTsv,
        TableFormat::Pfx2as,
        TableFormat::Mmdb,
    ];

    /// The stable name of the format.
    pub fn name(self) -> &'static str {
        match self {
            TableFormat::IpLocationDbCsv => "ip_location_db_csv",
            TableFormat::IptoasnTsv => "iptoasn_tsv",
            TableFormat::Pfx2as => "pfx2as",
            TableFormat::Mmdb => "mmdb",
        }
    }

    /// Tells the format from a file's path and its first bytes (after gzip decompression;
    /// [`DETECT_BYTES`] is plenty).
    ///
    /// The content decides for the text formats: the first data line that parses as one of
    /// them (up to five lines are tried, skipping blank lines and `#` comments). A path ending
    /// in `.mmdb` or `.mmdb.gz`, or content that is binary rather than text, means
    /// [`TableFormat::Mmdb`]. `None` when nothing fits.
    pub fn detect(path: &Path, first_bytes: &[u8]) -> Option<TableFormat> {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".mmdb") {
            return Some(TableFormat::Mmdb);
        }
        let text = String::from_utf8_lossy(first_bytes);
        let data_lines = text
            .lines()
            .map(|line| line.trim_end_matches('\r'))
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .take(DETECT_LINES);
        for line in data_lines {
            if let Some(format) = detect_line(line) {
                return Some(format);
            }
        }
        if looks_binary(first_bytes) {
            return Some(TableFormat::Mmdb);
        }
        None
    }
}

impl fmt::Display for TableFormat {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for TableFormat {
    type Err = AsnError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        TableFormat::ALL
            .into_iter()
            .find(|format| format.name() == text)
            .ok_or_else(|| AsnError::UnknownFormatName {
                name: text.to_owned(),
            })
    }
}

/// Which text format one line is in, if any.
fn detect_line(line: &str) -> Option<TableFormat> {
    if line.contains('\t') {
        let fields: Vec<&str> = line.split('\t').collect();
        return match fields.as_slice() {
            [prefix, length, _asn]
                if length.trim().parse::<u8>().is_ok_and(|bits| bits <= 128)
                    && parse_ip(prefix).is_some() =>
            {
                Some(TableFormat::Pfx2as)
            }
            [start, end, _, _, _, ..] if parse_ip(start).is_some() && parse_ip(end).is_some() => {
                Some(TableFormat::IptoasnTsv)
            }
            _ => None,
        };
    }
    let fields = split_csv(line).ok()?;
    match fields.as_slice() {
        [start, end, _, _, ..] if parse_ip(start).is_some() && parse_ip(end).is_some() => {
            Some(TableFormat::IpLocationDbCsv)
        }
        _ => None,
    }
}

/// Binary rather than text: a NUL byte, or bytes that are not UTF-8 (other than a character
/// cut off at the end of the sample).
fn looks_binary(bytes: &[u8]) -> bool {
    if bytes.contains(&0) {
        return true;
    }
    match std::str::from_utf8(bytes) {
        Ok(_) => false,
        Err(error) => error.error_len().is_some(),
    }
}

/// Why one line of a table was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LineError {
    /// Fewer fields than the format has.
    MissingField,
    /// The first address (range start or prefix) is not an IP address.
    BadStartAddress,
    /// The range's last address is not an IP address.
    BadEndAddress,
    /// The AS number is not a number in `0..=4294967295` (asplain or asdot).
    BadAsn,
    /// The pfx2as prefix length is not a number or too long for the address family.
    BadPrefixLength,
    /// The start and end of a range are of different address families.
    MixedFamilies,
    /// The range ends before it starts.
    StartAfterEnd,
    /// A double-quoted CSV field has no closing quote on its line.
    UnterminatedQuote,
    /// Text after a closing quote, before the next comma.
    TextAfterQuote,
    /// The line is longer than [`MAX_LINE_BYTES`].
    LineTooLong,
    /// A MaxMind DB record could not be decoded, or its network could not be read.
    BadRecord,
}

impl LineError {
    /// A short lower-case description, also used by [`fmt::Display`].
    pub fn as_str(self) -> &'static str {
        match self {
            LineError::MissingField => "missing field",
            LineError::BadStartAddress => "start address is not an IP address",
            LineError::BadEndAddress => "end address is not an IP address",
            LineError::BadAsn => "AS number is not a 32-bit number",
            LineError::BadPrefixLength => "bad prefix length",
            LineError::MixedFamilies => "start and end are of different address families",
            LineError::StartAfterEnd => "range ends before it starts",
            LineError::UnterminatedQuote => "quoted field is not closed",
            LineError::TextAfterQuote => "text after a closing quote",
            LineError::LineTooLong => "line too long",
            LineError::BadRecord => "undecodable MaxMind DB record",
        }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A skipped line: where and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SkippedLine {
    /// 1-based line number (for MaxMind DB files: the 1-based index of the network).
    pub line: u64,
    /// Why it was skipped.
    pub reason: LineError,
}

impl fmt::Display for SkippedLine {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "line {}: {}", self.line, self.reason)
    }
}

/// What one load read, kept, and skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// The file path, or the name given to [`AsnTableBuilder::add_reader`].
    pub source: PathBuf,
    /// The format it was read as.
    pub format: TableFormat,
    /// Whether it was gzip-compressed.
    pub gzip: bool,
    /// Lines read, blank lines and comments included (networks, for a MaxMind DB).
    pub lines: u64,
    /// Ranges accepted into the table, before overlaps are resolved.
    pub ranges: u64,
    /// Lines (or MaxMind DB networks) skipped because they could not be parsed.
    pub skipped_lines: u64,
    /// Lines skipped on purpose because they give AS 0 ("not routed"), or a MaxMind DB network
    /// without an AS number.
    pub not_routed: u64,
    /// The first skipped line, for the log.
    pub first_skipped: Option<SkippedLine>,
}

impl LoadReport {
    fn new(source: PathBuf, format: TableFormat, gzip: bool) -> Self {
        LoadReport {
            source,
            format,
            gzip,
            lines: 0,
            ranges: 0,
            skipped_lines: 0,
            not_routed: 0,
            first_skipped: None,
        }
    }

    fn skip(&mut self, line: u64, reason: LineError) {
        self.skipped_lines = self.skipped_lines.saturating_add(1);
        if self.first_skipped.is_none() {
            self.first_skipped = Some(SkippedLine { line, reason });
        }
    }
}

/// Why an IP-to-AS table could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AsnError {
    /// The file could not be opened or read (including a damaged gzip stream).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file, or the name given to [`AsnTableBuilder::add_reader`].
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Neither the name nor the first bytes say which format the file is in.
    #[error(
        "{}: cannot tell the table format (expected ip-location-db CSV, iptoasn TSV, pfx2as \
         or MaxMind DB)",
        path.display()
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// A format name that is not one of [`TableFormat::ALL`]'s names.
    #[error("unknown IP-to-AS table format {name:?}")]
    UnknownFormatName {
        /// The name given.
        name: String,
    },
    /// Not a MaxMind DB the reader accepts.
    #[error("{}: not a usable MaxMind DB: {source}", path.display())]
    Mmdb {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        source: maxminddb::MaxMindDbError,
    },
    /// A MaxMind DB larger than [`MAX_MMDB_BYTES`] after decompression.
    #[error("{}: MaxMind DB larger than {limit} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, [`MAX_MMDB_BYTES`].
        limit: u64,
    },
    /// The file was read but not one range in it could be used.
    #[error(
        "{}: no usable range as {format} in {lines} lines ({skipped_lines} malformed, \
         {not_routed} not routed){}",
        path.display(),
        first_skipped.map(|first| format!("; first malformed at {first}")).unwrap_or_default()
    )]
    NothingParsed {
        /// The file.
        path: PathBuf,
        /// The format it was read as.
        format: TableFormat,
        /// Lines read.
        lines: u64,
        /// Lines skipped as malformed.
        skipped_lines: u64,
        /// Lines skipped for AS 0.
        not_routed: u64,
        /// The first malformed line: line number and reason.
        first_skipped: Option<SkippedLine>,
    },
    /// [`AsnTableBuilder::insert`] was given a range that is not one.
    #[error("invalid range {start} to {end}: {reason}")]
    InvalidRange {
        /// The start given.
        start: IpAddr,
        /// The end given.
        end: IpAddr,
        /// What is wrong with it ([`LineError::MixedFamilies`] or [`LineError::StartAfterEnd`]).
        reason: LineError,
    },
}

/// An address as the integer the range arrays use.
trait RangeKey: Copy + Ord {
    fn successor(self) -> Option<Self>;
    fn predecessor(self) -> Option<Self>;
    /// `end - start` (callers guarantee `start <= end`).
    fn width(start: Self, end: Self) -> u128;
}

impl RangeKey for u32 {
    fn successor(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn predecessor(self) -> Option<Self> {
        self.checked_sub(1)
    }
    fn width(start: Self, end: Self) -> u128 {
        u128::from(end.saturating_sub(start))
    }
}

impl RangeKey for u128 {
    fn successor(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn predecessor(self) -> Option<Self> {
        self.checked_sub(1)
    }
    fn width(start: Self, end: Self) -> u128 {
        end.saturating_sub(start)
    }
}

/// What a flattened range maps to; the range's start is kept in a separate array so the
/// binary search touches only starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RangeValue<K> {
    end: K,
    asn: u32,
    org: u32,
}

/// Sorted, non-overlapping ranges of one address family.
#[derive(Debug, Clone, Default)]
struct RangeArray<K> {
    starts: Vec<K>,
    values: Vec<RangeValue<K>>,
}

impl<K: RangeKey> RangeArray<K> {
    /// The range containing `key`: its start and value.
    #[inline]
    fn find(&self, key: K) -> Option<(K, RangeValue<K>)> {
        let index = self
            .starts
            .partition_point(|start| *start <= key)
            .checked_sub(1)?;
        let value = *self.values.get(index)?;
        let start = *self.starts.get(index)?;
        (key <= value.end).then_some((start, value))
    }
}

/// An IP-to-AS table: sorted, non-overlapping IPv4 and IPv6 ranges, each with an AS number and
/// an interned organisation name.
///
/// Built by an [`AsnTableBuilder`] or loaded with [`AsnTable::load`] /
/// [`AsnTable::load_all`]; see the [module documentation](self) for the merge rule.
#[derive(Debug, Clone, Default)]
pub struct AsnTable {
    v4: RangeArray<u32>,
    v6: RangeArray<u128>,
    orgs: Vec<Arc<str>>,
}

impl AsnTable {
    /// Loads one file, detecting its format (and gzip) from the content.
    pub fn load(path: impl AsRef<Path>) -> Result<(AsnTable, LoadReport), AsnError> {
        let mut builder = AsnTableBuilder::new();
        let report = builder.add_file(path, None)?;
        Ok((builder.build(), report))
    }

    /// Loads several files into one table; on overlap, later files win (see the
    /// [module documentation](self)). Fails on the first file that cannot be loaded.
    pub fn load_all<P: AsRef<Path>>(paths: &[P]) -> Result<(AsnTable, Vec<LoadReport>), AsnError> {
        let mut builder = AsnTableBuilder::new();
        let mut reports = Vec::with_capacity(paths.len());
        for path in paths {
            reports.push(builder.add_file(path, None)?);
        }
        Ok((builder.build(), reports))
    }

    /// The AS and organisation for `ip`, if a range covers it. IPv4-mapped IPv6 addresses
    /// (`::ffff:a.b.c.d`) are looked up as IPv4. One binary search, no allocation.
    #[inline]
    pub fn lookup(&self, ip: IpAddr) -> Option<AsInfo> {
        let ip = canonical(ip);
        let (range_start, range_end, asn, org) = match ip {
            IpAddr::V4(v4) => {
                let (start, value) = self.v4.find(u32::from(v4))?;
                let start = IpAddr::V4(Ipv4Addr::from(start));
                let end = IpAddr::V4(Ipv4Addr::from(value.end));
                (start, end, value.asn, value.org)
            }
            IpAddr::V6(v6) => {
                let (start, value) = self.v6.find(u128::from(v6))?;
                let start = IpAddr::V6(Ipv6Addr::from(start));
                let end = IpAddr::V6(Ipv6Addr::from(value.end));
                (start, end, value.asn, value.org)
            }
        };
        let org = self.org(org)?;
        Some(AsInfo {
            asn,
            org,
            range_start,
            range_end,
        })
    }

    /// Only the AS number for `ip` (as [`AsnTable::lookup`], without the organisation).
    #[inline]
    pub fn lookup_asn(&self, ip: IpAddr) -> Option<u32> {
        match canonical(ip) {
            IpAddr::V4(v4) => self.v4.find(u32::from(v4)).map(|(_, value)| value.asn),
            IpAddr::V6(v6) => self.v6.find(u128::from(v6)).map(|(_, value)| value.asn),
        }
    }

    fn org(&self, index: u32) -> Option<Arc<str>> {
        let index = usize::try_from(index).ok()?;
        self.orgs.get(index).cloned()
    }

    /// Number of flattened ranges, IPv4 and IPv6 together.
    pub fn len(&self) -> usize {
        self.v4.starts.len().saturating_add(self.v6.starts.len())
    }

    /// Number of flattened IPv4 ranges.
    pub fn len_v4(&self) -> usize {
        self.v4.starts.len()
    }

    /// Number of flattened IPv6 ranges.
    pub fn len_v6(&self) -> usize {
        self.v6.starts.len()
    }

    /// Number of distinct organisation names.
    pub fn org_count(&self) -> usize {
        self.orgs.len()
    }

    /// Whether the table has no range at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// IPv4-mapped IPv6 addresses as IPv4; everything else unchanged.
#[inline]
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Which of two overlapping ranges wins: greater wins. Later source, then narrower, then later.
type Priority = (u32, Reverse<u128>, u64);

#[derive(Debug, Clone, Copy)]
struct PendingRange<K> {
    start: K,
    end: K,
    asn: u32,
    org: u32,
    priority: Priority,
}

/// Collects ranges from any number of sources, in any order and overlapping, and builds an
/// [`AsnTable`] from them ([`AsnTableBuilder::build`]). Each `add_*` or `insert` call is a new
/// source, and later sources win on overlap.
#[derive(Debug, Default)]
pub struct AsnTableBuilder {
    v4: Vec<PendingRange<u32>>,
    v6: Vec<PendingRange<u128>>,
    orgs: Vec<Arc<str>>,
    org_index: HashMap<Arc<str>, u32>,
    source: u32,
    sequence: u64,
}

impl AsnTableBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        AsnTableBuilder::default()
    }

    /// Ranges added so far, before overlaps are resolved.
    pub fn pending_ranges(&self) -> usize {
        self.v4.len().saturating_add(self.v6.len())
    }

    /// Adds one file. `format` overrides detection; gzip is recognised either way.
    pub fn add_file(
        &mut self,
        path: impl AsRef<Path>,
        format: Option<TableFormat>,
    ) -> Result<LoadReport, AsnError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| AsnError::Io {
            path: path.to_owned(),
            source,
        })?;
        self.add_reader(file, format, path)
    }

    /// Adds a table read from `reader` (a file, a socket, bytes in memory). `name` stands for
    /// the path in detection, reports and errors.
    pub fn add_reader(
        &mut self,
        reader: impl Read,
        format: Option<TableFormat>,
        name: impl AsRef<Path>,
    ) -> Result<LoadReport, AsnError> {
        let path = name.as_ref();
        let io_error = |source| AsnError::Io {
            path: path.to_owned(),
            source,
        };
        let mut reader = BufReader::new(reader);
        let gzip = reader
            .fill_buf()
            .map_err(io_error)?
            .starts_with(&GZIP_MAGIC);
        let mut reader: Box<dyn Read + '_> = if gzip {
            Box::new(MultiGzDecoder::new(reader))
        } else {
            Box::new(reader)
        };
        let mut head = Vec::with_capacity(DETECT_BYTES);
        (&mut reader)
            .take(DETECT_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(io_error)?;
        let format = match format {
            Some(format) => format,
            None => TableFormat::detect(path, &head).ok_or_else(|| AsnError::UnknownFormat {
                path: path.to_owned(),
            })?,
        };
        let whole = io::Cursor::new(head).chain(reader);
        self.source = self.source.saturating_add(1);
        let mut report = LoadReport::new(path.to_owned(), format, gzip);
        match format {
            TableFormat::Mmdb => self.read_mmdb(whole, path, &mut report)?,
            TableFormat::IpLocationDbCsv | TableFormat::IptoasnTsv | TableFormat::Pfx2as => {
                self.read_text(BufReader::new(whole), format, &mut report)
                    .map_err(io_error)?;
            }
        }
        if report.ranges == 0 {
            return Err(AsnError::NothingParsed {
                path: path.to_owned(),
                format,
                lines: report.lines,
                skipped_lines: report.skipped_lines,
                not_routed: report.not_routed,
                first_skipped: report.first_skipped,
            });
        }
        Ok(report)
    }

    /// Adds one range as its own source (so it wins over everything added before it).
    /// `start` and `end` are inclusive and of the same family; IPv4-mapped IPv6 addresses are
    /// taken as IPv4.
    pub fn insert(
        &mut self,
        start: IpAddr,
        end: IpAddr,
        asn: u32,
        org: &str,
    ) -> Result<(), AsnError> {
        let invalid = |reason| AsnError::InvalidRange { start, end, reason };
        let (first, last) = (canonical(start), canonical(end));
        match (first, last) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {}
            _ => return Err(invalid(LineError::MixedFamilies)),
        }
        if first > last {
            return Err(invalid(LineError::StartAfterEnd));
        }
        self.source = self.source.saturating_add(1);
        let org = self.intern(org);
        self.push(first, last, asn, org).map_err(invalid)
    }

    /// Resolves overlaps (see the [module documentation](self)) and returns the table.
    pub fn build(self) -> AsnTable {
        AsnTable {
            v4: flatten(self.v4),
            v6: flatten(self.v6),
            orgs: self.orgs,
        }
    }

    fn intern(&mut self, org: &str) -> u32 {
        if let Some(index) = self.org_index.get(org) {
            return *index;
        }
        // Past u32::MAX distinct names (not a real table) the last index is reused.
        let index = u32::try_from(self.orgs.len()).unwrap_or(u32::MAX);
        let org: Arc<str> = Arc::from(org);
        self.orgs.push(Arc::clone(&org));
        self.org_index.insert(org, index);
        index
    }

    fn push(&mut self, start: IpAddr, end: IpAddr, asn: u32, org: u32) -> Result<(), LineError> {
        self.sequence = self.sequence.saturating_add(1);
        match (start, end) {
            (IpAddr::V4(start), IpAddr::V4(end)) => {
                let range = self.pending(u32::from(start), u32::from(end), asn, org)?;
                self.v4.push(range);
            }
            (IpAddr::V6(start), IpAddr::V6(end)) => {
                let range = self.pending(u128::from(start), u128::from(end), asn, org)?;
                self.v6.push(range);
            }
            _ => return Err(LineError::MixedFamilies),
        }
        Ok(())
    }

    /// A range of the current source and line, with its [`Priority`].
    fn pending<K: RangeKey>(
        &self,
        start: K,
        end: K,
        asn: u32,
        org: u32,
    ) -> Result<PendingRange<K>, LineError> {
        if start > end {
            return Err(LineError::StartAfterEnd);
        }
        let priority = (self.source, Reverse(K::width(start, end)), self.sequence);
        Ok(PendingRange {
            start,
            end,
            asn,
            org,
            priority,
        })
    }

    /// Reads one of the line-oriented formats.
    fn read_text(
        &mut self,
        mut reader: impl BufRead,
        format: TableFormat,
        report: &mut LoadReport,
    ) -> io::Result<()> {
        let mut line = Vec::new();
        while let Some(too_long) = read_line_limited(&mut reader, &mut line)? {
            report.lines = report.lines.saturating_add(1);
            if too_long {
                report.skip(report.lines, LineError::LineTooLong);
                continue;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches('\r');
            if text.trim().is_empty() || text.starts_with('#') {
                continue;
            }
            let parsed = match format {
                TableFormat::IpLocationDbCsv => parse_csv_line(text),
                TableFormat::IptoasnTsv => parse_iptoasn_line(text),
                TableFormat::Pfx2as => parse_pfx2as_line(text),
                TableFormat::Mmdb => Err(LineError::BadRecord),
            };
            match parsed {
                Ok(range) if range.asn == 0 => {
                    report.not_routed = report.not_routed.saturating_add(1);
                }
                Ok(range) => {
                    let org = self.intern(&range.org);
                    match self.push(range.start, range.end, range.asn, org) {
                        Ok(()) => report.ranges = report.ranges.saturating_add(1),
                        Err(reason) => report.skip(report.lines, reason),
                    }
                }
                Err(reason) => report.skip(report.lines, reason),
            }
        }
        Ok(())
    }

    /// Reads a MaxMind DB whole and copies its networks into the builder.
    fn read_mmdb(
        &mut self,
        reader: impl Read,
        path: &Path,
        report: &mut LoadReport,
    ) -> Result<(), AsnError> {
        let mut bytes = Vec::new();
        reader
            .take(MAX_MMDB_BYTES.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|source| AsnError::Io {
                path: path.to_owned(),
                source,
            })?;
        if u64::try_from(bytes.len()).map_or(true, |length| length > MAX_MMDB_BYTES) {
            return Err(AsnError::TooLarge {
                path: path.to_owned(),
                limit: MAX_MMDB_BYTES,
            });
        }
        let mmdb_error = |source| AsnError::Mmdb {
            path: path.to_owned(),
            source,
        };
        let reader = maxminddb::Reader::from_source(bytes.as_slice()).map_err(mmdb_error)?;
        let metadata = reader.metadata();
        if !search_tree_is_sane(&bytes, metadata.node_count, metadata.record_size) {
            report.skip(1, LineError::BadRecord);
            return Ok(());
        }
        // Many networks share one data record: decode each record once.
        let mut decoded: HashMap<usize, Option<(u32, u32)>> = HashMap::new();
        let networks = reader
            .networks(maxminddb::WithinOptions::default())
            .map_err(mmdb_error)?;
        // A well-formed search tree has at most one network per node edge; a hostile one can
        // share subtrees (exponentially many paths) or loop. Stop at the bound or at the first
        // error of the walk itself: what follows a broken tree cannot be trusted.
        let max_networks = u64::from(reader.metadata().node_count)
            .saturating_mul(2)
            .saturating_add(2);
        for item in networks {
            report.lines = report.lines.saturating_add(1);
            let line = report.lines;
            if line > max_networks {
                report.skip(line, LineError::BadRecord);
                break;
            }
            let Ok(item) = item else {
                report.skip(line, LineError::BadRecord);
                break;
            };
            let Ok(network) = item.network() else {
                report.skip(line, LineError::BadRecord);
                continue;
            };
            let Some(offset) = item.offset() else {
                continue;
            };
            let value = match decoded.get(&offset) {
                Some(value) => *value,
                None => {
                    let Ok(Some(record)) = item.decode::<maxminddb::geoip2::Asn<'_>>() else {
                        report.skip(line, LineError::BadRecord);
                        continue;
                    };
                    let value = record.autonomous_system_number.map(|asn| {
                        let org = record.autonomous_system_organization.unwrap_or("");
                        (asn, self.intern(org))
                    });
                    decoded.insert(offset, value);
                    value
                }
            };
            let Some((asn, org)) = value.filter(|(asn, _)| *asn != 0) else {
                report.not_routed = report.not_routed.saturating_add(1);
                continue;
            };
            let Some((start, end)) = prefix_bounds(network.network(), network.prefix()) else {
                report.skip(line, LineError::BadPrefixLength);
                continue;
            };
            match self.push(start, end, asn, org) {
                Ok(()) => report.ranges = report.ranges.saturating_add(1),
                Err(reason) => report.skip(line, reason),
            }
        }
        Ok(())
    }
}

/// Whether a MaxMind DB search tree is a tree, give or take the few aliases real IPv6 databases
/// have (`::ffff:0:0/96`, `2002::/16`, ... pointing at the IPv4 subtree): the root has no
/// parent and at most [`MAX_MMDB_SHARED_REFERENCES`] node references are to an already
/// referenced node. A hostile file can otherwise share subtrees (exponentially many networks
/// in a few hundred bytes) or loop.
fn search_tree_is_sane(bytes: &[u8], node_count: u32, record_size: u16) -> bool {
    let node_bytes = match record_size {
        24 => 6,
        28 => 7,
        32 => 8,
        _ => return false,
    };
    let Ok(count) = usize::try_from(node_count) else {
        return false;
    };
    let Some(tree) = count
        .checked_mul(node_bytes)
        .and_then(|len| bytes.get(..len))
    else {
        return false;
    };
    let mut referenced = vec![false; count];
    let mut shared = 0usize;
    for node in tree.chunks_exact(node_bytes) {
        let be = |b: &[u8]| b.iter().fold(0u32, |acc, x| (acc << 8) | u32::from(*x));
        let (left, right) = match (record_size, node) {
            (24, [a, b, c, d, e, f]) => (be(&[*a, *b, *c]), be(&[*d, *e, *f])),
            (28, [a, b, c, m, d, e, f]) => (
                (u32::from(m >> 4) << 24) | be(&[*a, *b, *c]),
                (u32::from(m & 0x0f) << 24) | be(&[*d, *e, *f]),
            ),
            (32, [a, b, c, d, e, f, g, h]) => (be(&[*a, *b, *c, *d]), be(&[*e, *f, *g, *h])),
            _ => return false,
        };
        for child in [left, right] {
            if child == 0 {
                return false; // the root has no parent
            }
            if let Some(seen) = usize::try_from(child)
                .ok()
                .and_then(|i| referenced.get_mut(i))
            {
                if *seen {
                    shared += 1;
                    if shared > MAX_MMDB_SHARED_REFERENCES {
                        return false;
                    }
                }
                *seen = true;
            }
        }
    }
    true
}

/// Node references to an already referenced node a MaxMind DB search tree may have (IPv4
/// aliases in IPv6 databases).
const MAX_MMDB_SHARED_REFERENCES: usize = 8;

/// Reads one line (without its `\n`) into `line`. `Ok(None)` at end of input,
/// `Ok(Some(true))` for a line longer than [`MAX_LINE_BYTES`], which is consumed but not kept.
fn read_line_limited(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<bool>> {
    line.clear();
    let mut too_long = false;
    let mut read_any = false;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(read_any.then_some(too_long));
        }
        read_any = true;
        let newline = available.iter().position(|byte| *byte == b'\n');
        let chunk_end = newline.unwrap_or(available.len());
        let (chunk, _) = available
            .split_at_checked(chunk_end)
            .unwrap_or((available, &[]));
        if !too_long {
            if line.len().saturating_add(chunk.len()) > MAX_LINE_BYTES {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let consumed = newline.map_or(chunk_end, |at| at.saturating_add(1));
        reader.consume(consumed);
        if newline.is_some() {
            return Ok(Some(too_long));
        }
    }
}

/// One parsed line.
struct ParsedRange<'a> {
    start: IpAddr,
    end: IpAddr,
    asn: u32,
    /// Borrowed from the line unless CSV unquoting had to copy it.
    org: Cow<'a, str>,
}

/// `start,end,asn,org`, RFC 4180 quoting; fields after the fourth are ignored.
fn parse_csv_line(line: &str) -> Result<ParsedRange<'_>, LineError> {
    let mut fields = split_csv(line)?.into_iter();
    let start = fields.next().ok_or(LineError::MissingField)?;
    let end = fields.next().ok_or(LineError::MissingField)?;
    let asn = fields.next().ok_or(LineError::MissingField)?;
    let org = fields.next().ok_or(LineError::MissingField)?;
    let start = parse_ip(&start).ok_or(LineError::BadStartAddress)?;
    let end = parse_ip(&end).ok_or(LineError::BadEndAddress)?;
    let asn = parse_asn(&asn)?;
    Ok(ParsedRange {
        start,
        end,
        asn,
        org,
    })
}

/// Splits one CSV line into fields (RFC 4180: `"` quotes a field, `""` inside it is a quote).
fn split_csv(line: &str) -> Result<Vec<Cow<'_, str>>, LineError> {
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            // Find the closing quote: a `"` not followed by another `"`.
            let mut value = String::new();
            let mut remaining = quoted;
            loop {
                let at = remaining.find('"').ok_or(LineError::UnterminatedQuote)?;
                let (text, after) = remaining
                    .split_at_checked(at)
                    .ok_or(LineError::UnterminatedQuote)?;
                value.push_str(text);
                let after = after.strip_prefix('"').unwrap_or(after);
                if let Some(after_escape) = after.strip_prefix('"') {
                    value.push('"');
                    remaining = after_escape;
                } else {
                    remaining = after;
                    break;
                }
            }
            fields.push(Cow::Owned(value));
            if remaining.is_empty() {
                return Ok(fields);
            }
            rest = remaining
                .strip_prefix(',')
                .ok_or(LineError::TextAfterQuote)?;
        } else {
            match rest.split_once(',') {
                Some((field, after)) => {
                    fields.push(Cow::Borrowed(field));
                    rest = after;
                }
                None => {
                    fields.push(Cow::Borrowed(rest));
                    return Ok(fields);
                }
            }
        }
    }
}

/// `range_start\trange_end\tAS_number\tcountry_code\tAS_description`.
fn parse_iptoasn_line(line: &str) -> Result<ParsedRange<'_>, LineError> {
    let mut fields = line.splitn(5, '\t');
    let start = fields.next().ok_or(LineError::MissingField)?;
    let end = fields.next().ok_or(LineError::MissingField)?;
    let asn = fields.next().ok_or(LineError::MissingField)?;
    let _country = fields.next().ok_or(LineError::MissingField)?;
    let org = fields.next().ok_or(LineError::MissingField)?;
    Ok(ParsedRange {
        start: parse_ip(start).ok_or(LineError::BadStartAddress)?,
        end: parse_ip(end).ok_or(LineError::BadEndAddress)?,
        asn: parse_asn(asn)?,
        org: Cow::Borrowed(org),
    })
}

/// `prefix\tlength\tasn`; for `a_b` (multi-origin) and `a,b` (AS set) the first AS is taken.
/// Host bits set in the prefix are ignored.
fn parse_pfx2as_line(line: &str) -> Result<ParsedRange<'_>, LineError> {
    let mut fields = line.split('\t');
    let prefix = fields.next().ok_or(LineError::MissingField)?;
    let length = fields.next().ok_or(LineError::MissingField)?;
    let asn = fields.next().ok_or(LineError::MissingField)?;
    let prefix = parse_ip(prefix).ok_or(LineError::BadStartAddress)?;
    let length = length
        .trim()
        .parse::<u8>()
        .map_err(|_| LineError::BadPrefixLength)?;
    let first_asn = asn.split(['_', ',']).next().ok_or(LineError::BadAsn)?;
    let (start, end) = prefix_bounds(prefix, length).ok_or(LineError::BadPrefixLength)?;
    Ok(ParsedRange {
        start,
        end,
        asn: parse_asn(first_asn)?,
        org: Cow::Borrowed(""),
    })
}

/// First and last address of `address/length`; `None` if the length is too long.
fn prefix_bounds(address: IpAddr, length: u8) -> Option<(IpAddr, IpAddr)> {
    match address {
        IpAddr::V4(v4) => {
            let host_bits = 32u32.checked_sub(u32::from(length))?;
            let host_mask = u32::MAX.checked_shr(u32::from(length)).unwrap_or(0);
            let host_mask = if host_bits == 0 { 0 } else { host_mask };
            let start = u32::from(v4) & !host_mask;
            let end = start | host_mask;
            Some((Ipv4Addr::from(start).into(), Ipv4Addr::from(end).into()))
        }
        IpAddr::V6(v6) => {
            let host_bits = 128u32.checked_sub(u32::from(length))?;
            let host_mask = u128::MAX.checked_shr(u32::from(length)).unwrap_or(0);
            let host_mask = if host_bits == 0 { 0 } else { host_mask };
            let start = u128::from(v6) & !host_mask;
            let end = start | host_mask;
            Some((Ipv6Addr::from(start).into(), Ipv6Addr::from(end).into()))
        }
    }
}

/// An address, with surrounding blanks allowed.
fn parse_ip(text: &str) -> Option<IpAddr> {
    text.trim().parse().ok()
}

/// An AS number in asplain (`64500`), with an optional `AS` prefix, or asdot (`1.10` =
/// 65546, RFC 5396).
fn parse_asn(text: &str) -> Result<u32, LineError> {
    let text = text.trim();
    let text = text
        .strip_prefix("AS")
        .or_else(|| text.strip_prefix("as"))
        .unwrap_or(text);
    if let Some((high, low)) = text.split_once('.') {
        let high: u16 = high.parse().map_err(|_| LineError::BadAsn)?;
        let low: u16 = low.parse().map_err(|_| LineError::BadAsn)?;
        return Ok((u32::from(high) << 16) | u32::from(low));
    }
    text.parse().map_err(|_| LineError::BadAsn)
}

/// Builds flattened ranges from overlapping ones: a sweep over every point where ownership
/// can change, with a heap of the ranges covering it ordered by [`Priority`].
fn flatten<K: RangeKey>(mut pending: Vec<PendingRange<K>>) -> RangeArray<K> {
    pending.sort_by_key(|range| range.start);
    let mut bounds: Vec<K> = pending
        .iter()
        .map(|range| range.start)
        .chain(pending.iter().filter_map(|range| range.end.successor()))
        .collect();
    bounds.sort_unstable();
    bounds.dedup();

    let mut array: RangeArray<K> = RangeArray {
        starts: Vec::new(),
        values: Vec::new(),
    };
    let mut covering: BinaryHeap<(Priority, usize)> = BinaryHeap::new();
    let mut next = 0usize;
    for (bound_index, point) in bounds.iter().enumerate() {
        let point = *point;
        while let Some(range) = pending.get(next) {
            if range.start > point {
                break;
            }
            covering.push((range.priority, next));
            next = next.saturating_add(1);
        }
        let owner = loop {
            let Some((_, index)) = covering.peek() else {
                break None;
            };
            match pending.get(*index) {
                Some(range) if range.end >= point => break Some(*range),
                _ => {
                    covering.pop();
                }
            }
        };
        let Some(owner) = owner else {
            continue;
        };
        let segment_end = match bounds.get(bound_index.saturating_add(1)) {
            Some(next_bound) => next_bound.predecessor().unwrap_or(point),
            None => owner.end,
        };
        if let Some(last) = array.values.last_mut() {
            if last.end.successor() == Some(point) && last.asn == owner.asn && last.org == owner.org
            {
                last.end = segment_end;
                continue;
            }
        }
        array.starts.push(point);
        array.values.push(RangeValue {
            end: segment_end,
            asn: owner.asn,
            org: owner.org,
        });
    }
    array
}
