//! Writer for the classic libpcap file format.
//!
//! > The file has a global header containing some global information followed by zero or more
//! > records for each captured packet. (pcap-savefile(5); draft-ietf-opsawg-pcap, section 4)
//!
//! Fields are written in little-endian order; readers detect the byte order from the magic.

use std::io::{self, Write};

/// Magic number of a capture with microsecond timestamps.
pub const MAGIC_MICROSECONDS: u32 = 0xa1b2_c3d4;
/// Magic number of a capture with nanosecond timestamps.
pub const MAGIC_NANOSECONDS: u32 = 0xa1b2_3c4d;
/// Link type of Ethernet frames (LINKTYPE_ETHERNET, draft-ietf-opsawg-pcaplinktype).
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Snapshot length written in the header; every frame is captured whole.
pub const SNAPLEN: u32 = 262_144;

/// Timestamp resolution of a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampResolution {
    /// Microseconds (magic 0xa1b2c3d4), the format every reader understands.
    Microseconds,
    /// Nanoseconds (magic 0xa1b23c4d).
    Nanoseconds,
}

/// Writes a pcap global header, then one record per [`PcapWriter::write_frame`] call.
///
/// ```
/// use dnsward_benches::{PcapWriter, TimestampResolution};
/// let mut out = Vec::new();
/// let mut writer = PcapWriter::new(&mut out, TimestampResolution::Microseconds)?;
/// writer.write_frame(1_767_225_600_000_000_000, &[0u8; 60])?;
/// drop(writer);
/// assert_eq!(out.get(..4), Some(&[0xd4, 0xc3, 0xb2, 0xa1][..]));
/// assert_eq!(out.len(), 24 + 16 + 60);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    resolution: TimestampResolution,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte global header and returns a writer for the records.
    pub fn new(mut out: W, resolution: TimestampResolution) -> io::Result<Self> {
        let magic = match resolution {
            TimestampResolution::Microseconds => MAGIC_MICROSECONDS,
            TimestampResolution::Nanoseconds => MAGIC_NANOSECONDS,
        };
        let mut header = [0u8; 24];
        let fields: [&[u8]; 7] = [
            &magic.to_le_bytes(),
            &2u16.to_le_bytes(), // version_major
            &4u16.to_le_bytes(), // version_minor
            &0i32.to_le_bytes(), // thiszone
            &0u32.to_le_bytes(), // sigfigs
            &SNAPLEN.to_le_bytes(),
            &LINKTYPE_ETHERNET.to_le_bytes(),
        ];
        let mut at = 0;
        for field in fields {
            if let Some(slot) = header.get_mut(at..at + field.len()) {
                slot.copy_from_slice(field);
            }
            at += field.len();
        }
        out.write_all(&header)?;
        Ok(Self { out, resolution })
    }

    /// Writes one record: the timestamp in nanoseconds since the Unix epoch (truncated to the
    /// file's resolution) and the whole frame (captured length equals original length).
    pub fn write_frame(&mut self, time_ns: u64, frame: &[u8]) -> io::Result<()> {
        let seconds = time_ns / 1_000_000_000;
        let fraction = match self.resolution {
            TimestampResolution::Microseconds => (time_ns % 1_000_000_000) / 1_000,
            TimestampResolution::Nanoseconds => time_ns % 1_000_000_000,
        };
        let too_big = || io::Error::new(io::ErrorKind::InvalidInput, "value does not fit pcap");
        let seconds = u32::try_from(seconds).map_err(|_| too_big())?;
        let fraction = u32::try_from(fraction).map_err(|_| too_big())?;
        let length = u32::try_from(frame.len()).map_err(|_| too_big())?;
        let mut record = [0u8; 16];
        for (index, value) in [seconds, fraction, length, length].into_iter().enumerate() {
            if let Some(slot) = record.get_mut(index * 4..index * 4 + 4) {
                slot.copy_from_slice(&value.to_le_bytes());
            }
        }
        self.out.write_all(&record)?;
        self.out.write_all(frame)
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One record of a classic pcap file held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcapRecord<'a> {
    /// Packet time, nanoseconds since the Unix epoch.
    pub time_ns: u64,
    /// Length on the wire.
    pub wire_len: u32,
    /// Captured bytes.
    pub data: &'a [u8],
}

/// Reads back the records of a little-endian classic pcap file held in memory (what
/// [`PcapWriter`] writes), so benchmarks can work on generated frames without libpcap.
///
/// Returns `None` if the global header is missing or has another magic; stops at the first
/// record that is cut short.
///
/// ```
/// use dnsward_benches::{pcap::records, PcapWriter, TimestampResolution};
/// let mut out = Vec::new();
/// let mut writer = PcapWriter::new(&mut out, TimestampResolution::Microseconds)?;
/// writer.write_frame(1_767_225_600_000_001_000, &[7u8; 60])?;
/// drop(writer);
/// let read: Vec<_> = records(&out).into_iter().flatten().collect();
/// assert_eq!(read.len(), 1);
/// assert_eq!(read.first().map(|r| (r.time_ns, r.data.len())), Some((1_767_225_600_000_001_000, 60)));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn records(capture: &[u8]) -> Option<PcapRecords<'_>> {
    let magic = le32(capture, 0)?;
    let nanos = match magic {
        MAGIC_MICROSECONDS => false,
        MAGIC_NANOSECONDS => true,
        _ => return None,
    };
    Some(PcapRecords {
        rest: capture.get(24..)?,
        nanos,
    })
}

/// Iterator over the records of an in-memory pcap file; see [`records`].
#[derive(Debug, Clone)]
pub struct PcapRecords<'a> {
    rest: &'a [u8],
    nanos: bool,
}

impl<'a> Iterator for PcapRecords<'a> {
    type Item = PcapRecord<'a>;

    fn next(&mut self) -> Option<PcapRecord<'a>> {
        let seconds = u64::from(le32(self.rest, 0)?);
        let fraction = u64::from(le32(self.rest, 4)?);
        let captured = usize::try_from(le32(self.rest, 8)?).ok()?;
        let wire_len = le32(self.rest, 12)?;
        let data = self.rest.get(16..16 + captured)?;
        self.rest = self.rest.get(16 + captured..)?;
        let fraction_ns = if self.nanos {
            fraction
        } else {
            fraction * 1_000
        };
        Some(PcapRecord {
            time_ns: seconds * 1_000_000_000 + fraction_ns,
            wire_len,
            data,
        })
    }
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    let field: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(field))
}
