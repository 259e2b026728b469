//! Capture sources: pcap / pcapng files (gzip-compressed too) and live interfaces, via libpcap.
//!
//! Files are read with nanosecond precision. A gzip file is decompressed to a temporary file
//! first (libpcap reads only from paths or descriptors). When a file turns out bad or truncated,
//! the error names the file, the frame number reached and the byte offset where reading stopped;
//! the frames before it have been delivered.

use crate::error::Error;
use pcap::{Active, Capture, Offline, Precision};
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

/// A frame as the capture delivered it.
#[derive(Debug, Clone, Copy)]
pub struct RawFrame<'a> {
    /// Packet time, ns since the Unix epoch.
    pub time_ns: u64,
    /// Length on the wire.
    pub wire_len: u32,
    /// Captured bytes.
    pub data: &'a [u8],
}

/// Capture statistics from libpcap (live only).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PcapStats {
    /// Packets the kernel received (ps_recv).
    pub received: u64,
    /// Dropped for lack of buffer space (ps_drop).
    pub dropped: u64,
    /// Dropped by the interface or driver (ps_ifdrop).
    pub if_dropped: u64,
}

/// The BPF filter used when none is given: DNS on the given ports over UDP and TCP, the same
/// inside VLAN tags, and non-first IP fragments (which carry no port).
pub fn default_bpf(ports: &[u16]) -> String {
    let ports: Vec<String> = ports.iter().map(|p| format!("port {p}")).collect();
    let dns = format!("((udp or tcp) and ({}))", ports.join(" or "));
    format!(
        "{dns} or (ip[6:2] & 0x1fff != 0) or (ip6 and ip6[6] == 44) or (vlan and ({dns} or (ip[6:2] & 0x1fff != 0))) or (vlan and {dns})"
    )
}

fn time_ns(tv_sec: i64, tv_frac: i64) -> u64 {
    let secs = u64::try_from(tv_sec).unwrap_or(0);
    let frac = u64::try_from(tv_frac).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(frac)
}

/// A capture file being read.
pub struct FileSource {
    path: PathBuf,
    capture: Capture<Offline>,
    /// The decompressed copy of a gzip file, deleted on drop.
    _temp: Option<tempfile::TempPath>,
    read_path: PathBuf,
    frames: u64,
    linktype: i32,
}

impl std::fmt::Debug for FileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSource")
            .field("path", &self.path)
            .field("frames", &self.frames)
            .finish()
    }
}

impl FileSource {
    /// Opens a pcap or pcapng file, decompressing it first if it is gzip.
    pub fn open(path: &Path) -> Result<FileSource, Error> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut magic = [0u8; 2];
        let mut file = std::fs::File::open(path).map_err(io)?;
        let n = file.read(&mut magic).map_err(io)?;
        let (read_path, temp) = if n == 2 && magic == [0x1f, 0x8b] {
            let file = std::fs::File::open(path).map_err(io)?;
            let mut decoder = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
            let mut out = tempfile::NamedTempFile::new().map_err(io)?;
            std::io::copy(&mut decoder, &mut out).map_err(io)?;
            let temp = out.into_temp_path();
            (temp.to_path_buf(), Some(temp))
        } else {
            (path.to_path_buf(), None)
        };
        let capture =
            Capture::from_file_with_precision(&read_path, Precision::Nano).map_err(|e| {
                Error::Capture {
                    path: path.to_path_buf(),
                    frame: 0,
                    offset: 0,
                    message: e.to_string(),
                }
            })?;
        let linktype = capture.get_datalink().0;
        Ok(FileSource {
            path: path.to_path_buf(),
            capture,
            _temp: temp,
            read_path,
            frames: 0,
            linktype,
        })
    }

    /// The file's link type.
    pub fn linktype(&self) -> i32 {
        self.linktype
    }

    /// The file's path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames read so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The next frame; `Ok(None)` at the end of the file.
    pub fn next_frame(&mut self) -> Result<Option<RawFrame<'_>>, Error> {
        match self.capture.next_packet() {
            Ok(p) => {
                self.frames += 1;
                Ok(Some(RawFrame {
                    time_ns: time_ns(p.header.ts.tv_sec, p.header.ts.tv_usec),
                    wire_len: p.header.len,
                    data: p.data,
                }))
            }
            Err(pcap::Error::NoMorePackets) => Ok(None),
            Err(e) => Err(Error::Capture {
                path: self.path.clone(),
                frame: self.frames + 1,
                offset: frame_offset(&self.read_path, self.frames).unwrap_or(0),
                message: e.to_string(),
            }),
        }
    }
}

/// Byte offset where frame `frames + 1` starts in a pcap or pcapng file (for error messages):
/// walks the record or block headers of the file.
pub fn frame_offset(path: &Path, frames: u64) -> Option<u64> {
    // Streamed (not read whole): the file may be many gigabytes.
    let mut file = std::io::BufReader::new(std::fs::File::open(path).ok()?);
    let mut head = [0u8; 12];
    file.read_exact(&mut head).ok()?;
    let word = |b: &[u8], at: usize, big: bool| -> Option<u64> {
        let w: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(u64::from(if big {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }))
    };
    let magic = word(&head, 0, true)?;
    let mut pos: u64;
    let mut seen = 0u64;
    // Moves forward to `target` from `pos` (the reader is at `pos`).
    let skip_to = |file: &mut std::io::BufReader<std::fs::File>, pos: u64, target: u64| {
        let delta = i64::try_from(target.checked_sub(pos)?).ok()?;
        file.seek_relative(delta).ok()
    };
    match magic {
        0xa1b2c3d4 | 0xa1b23c4d | 0xd4c3b2a1 | 0x4d3cb2a1 => {
            let big = matches!(magic, 0xa1b2c3d4 | 0xa1b23c4d);
            pos = 24;
            skip_to(&mut file, 12, pos)?;
            let mut record = [0u8; 16];
            while seen < frames {
                file.read_exact(&mut record).ok()?;
                let caplen = word(&record, 8, big)?;
                let next = pos.checked_add(16 + caplen)?;
                skip_to(&mut file, pos + 16, next)?;
                pos = next;
                seen += 1;
            }
        }
        0x0a0d0d0a => {
            // Section header: byte-order magic at offset 8.
            let big = word(&head, 8, true)? == 0x1a2b3c4d;
            pos = 0;
            file.seek(std::io::SeekFrom::Start(0)).ok()?;
            let mut block = [0u8; 8];
            loop {
                if file.read_exact(&mut block).is_err() {
                    break;
                }
                let block_type = word(&block, 0, big)?;
                let len = word(&block, 4, big)?;
                // Enhanced, simple and obsolete packet blocks carry frames.
                let is_frame = matches!(block_type, 2 | 3 | 6);
                if len < 12 || (seen == frames && is_frame) {
                    break;
                }
                if is_frame {
                    seen += 1;
                }
                let next = pos.checked_add(len)?;
                skip_to(&mut file, pos + 8, next)?;
                pos = next;
            }
        }
        _ => return None,
    }
    Some(pos)
}

/// Options for a live capture.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Interface name.
    pub interface: String,
    /// BPF filter.
    pub bpf: String,
    /// Kernel buffer size in bytes.
    pub buffer_bytes: i32,
    /// Snap length: large enough for any DNS message over UDP (65,535) plus headers.
    pub snaplen: i32,
}

/// A live capture.
pub struct LiveSource {
    interface: String,
    capture: Capture<Active>,
    frames: u64,
    linktype: i32,
}

impl std::fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSource")
            .field("interface", &self.interface)
            .finish()
    }
}

impl LiveSource {
    /// Opens the interface: promiscuous, immediate mode, non-blocking (libpcap's read timeout is
    /// not guaranteed to make a read return on every platform: on Linux `lo` it blocks forever
    /// on a quiet link, and a stop request would never be seen).
    pub fn open(options: &LiveOptions) -> Result<LiveSource, Error> {
        let err = |e: pcap::Error| Error::Live {
            interface: options.interface.clone(),
            message: e.to_string(),
        };
        let mut capture = Capture::from_device(options.interface.as_str())
            .map_err(err)?
            .promisc(true)
            .snaplen(options.snaplen)
            .buffer_size(options.buffer_bytes)
            .immediate_mode(true)
            .timeout(100)
            .precision(Precision::Nano)
            .open()
            .map_err(err)?
            .setnonblock()
            .map_err(err)?;
        capture.filter(&options.bpf, true).map_err(err)?;
        let linktype = capture.get_datalink().0;
        Ok(LiveSource {
            interface: options.interface.clone(),
            capture,
            frames: 0,
            linktype,
        })
    }

    /// The interface's link type.
    pub fn linktype(&self) -> i32 {
        self.linktype
    }

    /// The interface name.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The next frame; `Ok(None)` when nothing is waiting (the caller sleeps briefly, checks
    /// for a stop request and flushes, then asks again).
    pub fn next_frame(&mut self) -> Result<Option<RawFrame<'_>>, Error> {
        match self.capture.next_packet() {
            Ok(p) => {
                self.frames += 1;
                Ok(Some(RawFrame {
                    time_ns: time_ns(p.header.ts.tv_sec, p.header.ts.tv_usec),
                    wire_len: p.header.len,
                    data: p.data,
                }))
            }
            Err(pcap::Error::TimeoutExpired) => Ok(None),
            Err(e) => Err(Error::Live {
                interface: self.interface.clone(),
                message: e.to_string(),
            }),
        }
    }

    /// libpcap's counters.
    pub fn stats(&mut self) -> PcapStats {
        self.capture
            .stats()
            .map(|s| PcapStats {
                received: u64::from(s.received),
                dropped: u64::from(s.dropped),
                if_dropped: u64::from(s.if_dropped),
            })
            .unwrap_or_default()
    }
}
