//! Every RocksDB value encoding of the store. Frozen: changing one bumps its version byte and
//! [`FORMAT_VERSION`](super::FORMAT_VERSION).
//!
//! Every value starts with a one-byte encoding version and ends with a CRC-32 (IEEE, big-endian)
//! of all the bytes before it. Decoders check the version, then the checksum, then every length,
//! and return a typed [`Error`] on damage: stored bytes are treated as hostile.
//!
//! # `pdns` value ([`PdnsValue`])
//!
//! ```text
//! version u8 (1) | time_first_ns u64 | time_last_ns u64 | count u64 | sensors_dropped u64
//!   | sensor count u8 | (sensor id length u8 | sensor id text) * count | crc32 u32
//! ```
//!
//! # `meta` format version
//!
//! ```text
//! version u8 (1) | format version u32 | crc32 u32
//! ```
//!
//! `rdata_index` values are empty.

use super::cursor::Cursor;
use crate::Error;
use schemas::PdnsTuple;

/// Encoding version byte of [`PdnsValue`].
pub const PDNS_VALUE_VERSION: u8 = 1;
/// Encoding version byte of the format version value.
pub const FORMAT_VERSION_VALUE_VERSION: u8 = 1;

/// Most sensors remembered per record; more are counted in [`PdnsValue::sensors_dropped`].
/// (A bound on value size; a deployment with more sensors than this is a broker's job.)
pub const MAX_SENSORS: usize = 32;

/// Longest sensor id kept, in bytes (the encoding's one length byte); longer ids are cut at a
/// character boundary.
pub const MAX_SENSOR_ID_LEN: usize = 255;

/// Bytes of the checksum trailer.
const CHECKSUM_LEN: usize = 4;

const PDNS_VALUE: &str = "pdns value";
const FORMAT_VERSION_VALUE: &str = "format version value";

/// The aggregate kept for one `pdns` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdnsValue {
    /// First packet time seen, ns since the Unix epoch.
    pub time_first_ns: u64,
    /// Last packet time seen, ns since the Unix epoch.
    pub time_last_ns: u64,
    /// Times seen.
    pub count: u64,
    /// Sensor ids that saw it, sorted, at most [`MAX_SENSORS`].
    pub sensors: Vec<String>,
    /// Sensor ids not kept because the list was full (counted once per merge that dropped one,
    /// so an upper bound on distinct sensors missing).
    pub sensors_dropped: u64,
}

/// `id` cut to at most [`MAX_SENSOR_ID_LEN`] bytes at a character boundary.
fn bounded_sensor_id(id: &str) -> &str {
    let mut end = id.len().min(MAX_SENSOR_ID_LEN);
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    id.get(..end).unwrap_or_default()
}

impl PdnsValue {
    /// The aggregate of one tuple.
    pub fn from_tuple(tuple: &PdnsTuple) -> PdnsValue {
        PdnsValue {
            time_first_ns: tuple.time_first_ns.min(tuple.time_last_ns),
            time_last_ns: tuple.time_last_ns.max(tuple.time_first_ns),
            count: tuple.count,
            sensors: vec![bounded_sensor_id(&tuple.sensor_id).to_owned()],
            sensors_dropped: 0,
        }
    }

    /// Merges `other` into `self`: min of first seen, max of last seen, sum of counts
    /// (saturating), union of sensors up to [`MAX_SENSORS`].
    pub fn merge(&mut self, other: &PdnsValue) {
        self.time_first_ns = self.time_first_ns.min(other.time_first_ns);
        self.time_last_ns = self.time_last_ns.max(other.time_last_ns);
        self.count = self.count.saturating_add(other.count);
        self.sensors_dropped = self.sensors_dropped.saturating_add(other.sensors_dropped);
        for sensor in &other.sensors {
            self.add_sensor(sensor);
        }
    }

    /// Merges one tuple into `self`, as [`PdnsValue::merge`] would merge
    /// [`PdnsValue::from_tuple`], without allocating unless the sensor is new.
    pub fn merge_tuple(&mut self, tuple: &PdnsTuple) {
        self.time_first_ns = self
            .time_first_ns
            .min(tuple.time_first_ns)
            .min(tuple.time_last_ns);
        self.time_last_ns = self
            .time_last_ns
            .max(tuple.time_last_ns)
            .max(tuple.time_first_ns);
        self.count = self.count.saturating_add(tuple.count);
        self.add_sensor(&tuple.sensor_id);
    }

    /// Adds one sensor id, keeping the list sorted and bounded.
    pub fn add_sensor(&mut self, sensor: &str) {
        let sensor = bounded_sensor_id(sensor);
        if let Err(at) = self.sensors.binary_search_by(|s| s.as_str().cmp(sensor)) {
            if self.sensors.len() < MAX_SENSORS {
                self.sensors.insert(at, sensor.to_owned());
            } else {
                self.sensors_dropped = self.sensors_dropped.saturating_add(1);
            }
        }
    }

    /// Encodes this value.
    pub fn encode(&self) -> Vec<u8> {
        let sensors: Vec<&str> = self
            .sensors
            .iter()
            .take(MAX_SENSORS)
            .map(|s| bounded_sensor_id(s))
            .collect();
        let mut out = Vec::with_capacity(38 + sensors.iter().map(|s| s.len() + 1).sum::<usize>());
        out.push(PDNS_VALUE_VERSION);
        out.extend_from_slice(&self.time_first_ns.to_be_bytes());
        out.extend_from_slice(&self.time_last_ns.to_be_bytes());
        out.extend_from_slice(&self.count.to_be_bytes());
        let not_kept = (self.sensors.len() - sensors.len()) as u64;
        out.extend_from_slice(&self.sensors_dropped.saturating_add(not_kept).to_be_bytes());
        // Both bounded above: at most MAX_SENSORS (32) ids of at most 255 bytes.
        out.push(u8::try_from(sensors.len()).unwrap_or(u8::MAX));
        for sensor in sensors {
            out.push(u8::try_from(sensor.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(sensor.as_bytes());
        }
        seal(out)
    }

    /// Decodes a stored value; every damage is a typed error.
    pub fn decode(bytes: &[u8]) -> Result<PdnsValue, Error> {
        let body = open(bytes, PDNS_VALUE, PDNS_VALUE_VERSION)?;
        let mut cursor = Cursor::new(body, PDNS_VALUE);
        cursor.u8()?; // version, checked by `open`
        let time_first_ns = cursor.u64()?;
        let time_last_ns = cursor.u64()?;
        let count = cursor.u64()?;
        let sensors_dropped = cursor.u64()?;
        let sensor_count = usize::from(cursor.u8()?);
        if sensor_count > MAX_SENSORS {
            return Err(cursor.malformed("more sensors than MAX_SENSORS"));
        }
        let mut sensors = Vec::with_capacity(sensor_count);
        for _ in 0..sensor_count {
            let len = usize::from(cursor.u8()?);
            sensors.push(cursor.text(len)?.to_owned());
        }
        cursor.finish()?;
        if time_first_ns > time_last_ns {
            return Err(cursor.malformed("first seen after last seen"));
        }
        Ok(PdnsValue {
            time_first_ns,
            time_last_ns,
            count,
            sensors,
            sensors_dropped,
        })
    }
}

/// Encodes the store format version held in `meta`.
pub fn encode_format_version(format_version: u32) -> Vec<u8> {
    let mut out = vec![FORMAT_VERSION_VALUE_VERSION];
    out.extend_from_slice(&format_version.to_be_bytes());
    seal(out)
}

/// Decodes the store format version held in `meta`.
pub fn decode_format_version(bytes: &[u8]) -> Result<u32, Error> {
    let body = open(bytes, FORMAT_VERSION_VALUE, FORMAT_VERSION_VALUE_VERSION)?;
    let mut cursor = Cursor::new(body, FORMAT_VERSION_VALUE);
    cursor.u8()?;
    let version = cursor.u32()?;
    cursor.finish()?;
    Ok(version)
}

/// Appends the checksum of `out` to it.
fn seal(mut out: Vec<u8>) -> Vec<u8> {
    let checksum = crc32fast::hash(&out);
    out.extend_from_slice(&checksum.to_be_bytes());
    out
}

/// Checks the version byte and the checksum; returns the bytes before the checksum.
fn open<'a>(bytes: &'a [u8], what: &'static str, version: u8) -> Result<&'a [u8], Error> {
    let Some(&found) = bytes.first() else {
        return Err(Error::Truncated {
            what,
            offset: 0,
            needed: 1,
            available: 0,
        });
    };
    if found != version {
        return Err(Error::UnsupportedEncoding {
            what,
            found,
            supported: version,
        });
    }
    let Some(body_len) = bytes.len().checked_sub(CHECKSUM_LEN) else {
        return Err(Error::Truncated {
            what,
            offset: 0,
            needed: 1 + CHECKSUM_LEN,
            available: bytes.len(),
        });
    };
    let Some((body, trailer)) = bytes.split_at_checked(body_len) else {
        return Err(Error::Truncated {
            what,
            offset: 0,
            needed: CHECKSUM_LEN,
            available: bytes.len(),
        });
    };
    let mut stored = [0u8; CHECKSUM_LEN];
    stored.copy_from_slice(trailer);
    let stored = u32::from_be_bytes(stored);
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(Error::ChecksumMismatch {
            what,
            stored,
            computed,
        });
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value() -> PdnsValue {
        PdnsValue {
            time_first_ns: 1_700_000_000_000_000_000,
            time_last_ns: 1_700_000_100_500_000_000,
            count: 3,
            sensors: vec!["s1".into(), "s2".into()],
            sensors_dropped: 0,
        }
    }

    #[test]
    fn pdns_value_round_trips() {
        let v = value();
        assert_eq!(PdnsValue::decode(&v.encode()).unwrap(), v);
        let empty = PdnsValue {
            sensors: vec![],
            ..value()
        };
        assert_eq!(PdnsValue::decode(&empty.encode()).unwrap(), empty);
    }

    #[test]
    fn pdns_value_layout_is_frozen() {
        let v = PdnsValue {
            time_first_ns: 1,
            time_last_ns: 2,
            count: 3,
            sensors: vec!["s".into()],
            sensors_dropped: 4,
        };
        let bytes = v.encode();
        // hand-built: version 01, four u64s, one sensor "s", then crc32 of everything before
        let mut expected = vec![1u8];
        for n in [1u64, 2, 3, 4] {
            expected.extend_from_slice(&n.to_be_bytes());
        }
        expected.extend_from_slice(b"\x01\x01s");
        expected.extend_from_slice(&crc32fast::hash(&expected).to_be_bytes());
        assert_eq!(bytes, expected);
    }

    #[test]
    fn every_flipped_bit_of_a_pdns_value_is_a_typed_error() {
        let bytes = value().encode();
        for i in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[i / 8] ^= 1 << (i % 8);
            assert!(PdnsValue::decode(&damaged).is_err(), "bit {i}");
        }
    }

    #[test]
    fn every_truncation_of_a_pdns_value_is_a_typed_error() {
        let bytes = value().encode();
        for cut in 0..bytes.len() {
            assert!(PdnsValue::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn unknown_value_version_is_reported_as_such() {
        let mut bytes = value().encode();
        bytes[0] = 7;
        assert!(matches!(
            PdnsValue::decode(&bytes),
            Err(Error::UnsupportedEncoding {
                found: 7,
                supported: 1,
                ..
            })
        ));
    }

    #[test]
    fn flipped_payload_byte_is_a_checksum_mismatch() {
        let mut bytes = value().encode();
        bytes[10] ^= 0xff;
        assert!(matches!(
            PdnsValue::decode(&bytes),
            Err(Error::ChecksumMismatch { .. })
        ));
    }

    #[test]
    fn well_sealed_but_inconsistent_values_are_malformed() {
        // A checksum only proves the bytes are what was written; lengths are still checked.
        let mut body = vec![1u8];
        for n in [1u64, 2, 3, 0] {
            body.extend_from_slice(&n.to_be_bytes());
        }
        body.push(200); // 200 sensors announced
        assert!(matches!(
            PdnsValue::decode(&seal(body.clone())),
            Err(Error::Malformed { .. })
        ));
        body.pop();
        body.extend_from_slice(b"\x01\x09ab"); // one sensor of 9 bytes, 2 present
        assert!(matches!(
            PdnsValue::decode(&seal(body)),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn merge_takes_min_first_max_last_sum_count_and_union_of_sensors() {
        let mut a = value();
        let b = PdnsValue {
            time_first_ns: 5,
            time_last_ns: 6,
            count: 10,
            sensors: vec!["s0".into(), "s2".into()],
            sensors_dropped: 1,
        };
        a.merge(&b);
        assert_eq!(a.time_first_ns, 5);
        assert_eq!(a.time_last_ns, 1_700_000_100_500_000_000);
        assert_eq!(a.count, 13);
        assert_eq!(a.sensors, vec!["s0", "s1", "s2"]);
        assert_eq!(a.sensors_dropped, 1);
    }

    #[test]
    fn sensor_list_is_capped_and_the_overflow_counted() {
        let mut v = value();
        for i in 0..40 {
            v.add_sensor(&format!("sensor-{i:02}"));
        }
        assert_eq!(v.sensors.len(), MAX_SENSORS);
        assert_eq!(v.sensors_dropped, 40 + 2 - MAX_SENSORS as u64);
        assert_eq!(PdnsValue::decode(&v.encode()).unwrap(), v);
    }

    #[test]
    fn overlong_sensor_ids_are_cut_at_a_character_boundary() {
        let mut v = value();
        v.sensors.clear();
        v.add_sensor(&"é".repeat(200));
        assert_eq!(v.sensors[0].len(), 254);
        assert_eq!(PdnsValue::decode(&v.encode()).unwrap(), v);
    }

    #[test]
    fn format_version_round_trips_and_rejects_damage() {
        let bytes = encode_format_version(1);
        assert_eq!(bytes.len(), 9);
        assert_eq!(decode_format_version(&bytes).unwrap(), 1);
        assert_eq!(
            decode_format_version(&encode_format_version(99)).unwrap(),
            99
        );
        let mut damaged = bytes.clone();
        damaged[4] ^= 1;
        assert!(matches!(
            decode_format_version(&damaged),
            Err(Error::ChecksumMismatch { .. })
        ));
        assert!(decode_format_version(&[]).is_err());
        assert!(decode_format_version(&[1, 0]).is_err());
    }

    #[test]
    fn store_decoders_never_panic_on_arbitrary_bytes() {
        // Deterministic xorshift noise, plus noise behind a valid version byte and a valid seal,
        // so that decoding gets past the first checks.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000 {
            let len = (next() % 96) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 2 == 0 {
                bytes.insert(0, PDNS_VALUE_VERSION);
                bytes = seal(bytes);
            }
            let _ = PdnsValue::decode(&bytes);
            let _ = decode_format_version(&bytes);
            let _ = crate::store::keys::PdnsKey::decode(&bytes);
            let _ = crate::store::keys::decode_index_key(&bytes);
        }
    }
}
