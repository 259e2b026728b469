//! The analyzer's state in the store: baselines, learnt watch targets and alerts.
//!
//! Each value is one format byte ([`ANALYSIS_VALUE_VERSION`]) followed by the JSON of the
//! record (the same JSON `dnsward baseline export` writes), so an analyst can read it with
//! standard tools and a later build can migrate it.
//!
//! * `baselines`: key `name 0x00 TYPE` → [`Baseline`].
//! * `watch`: key `name` → [`WatchReason`] (learnt targets only).
//! * `alerts`: key = the alert id → [`Alert`] in its latest state.
//! * `episodes`: key = the alert id → [`Episode`], the state of an open episode (deleted when
//!   it closes), so a restart continues it.
//! * `resolvers`: key = the address as text → [`ResolverExposure`], the latest report.
//! * `dnssec`: key `z` 0x00 kind 0x00 zone → [`ZoneState`] (validated keys and DS sets, proofs
//!   of unsigned zones, imported anchors); key `r` 0x00 name 0x00 TYPE → [`DnssecOutcome`],
//!   the validation outcome of a watched rrset.

use super::{Store, CF_ALERTS, CF_BASELINES, CF_DNSSEC, CF_EPISODES, CF_RESOLVERS, CF_WATCH};
use crate::baseline::Baseline;
use crate::detect::DnssecOutcome;
use crate::detect::Episode;
use crate::validate::ZoneState;
use crate::watch::WatchReason;
use crate::Error;
use rocksdb::{IteratorMode, WriteBatch};
use schemas::alert::Alert;
use schemas::ResolverExposure;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The format byte in front of every analysis value.
pub const ANALYSIS_VALUE_VERSION: u8 = 1;

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = vec![ANALYSIS_VALUE_VERSION];
    serde_json::to_writer(&mut out, value).map_err(|_| Error::Malformed {
        what: "analysis value",
        offset: 0,
        reason: "cannot be encoded as JSON",
    })?;
    Ok(out)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    match bytes.split_first() {
        Some((&ANALYSIS_VALUE_VERSION, json)) => {
            serde_json::from_slice(json).map_err(|_| Error::Malformed {
                what: "analysis value",
                offset: 1,
                reason: "not the expected JSON",
            })
        }
        Some((&other, _)) => Err(Error::UnsupportedEncoding {
            what: "analysis value",
            found: other,
            supported: ANALYSIS_VALUE_VERSION,
        }),
        None => Err(Error::Truncated {
            what: "analysis value",
            offset: 0,
            needed: 1,
            available: 0,
        }),
    }
}

/// The key of a baseline.
pub fn baseline_key(name: &str, rtype: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + rtype.len() + 1);
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key.extend_from_slice(rtype.as_bytes());
    key
}

/// The key of a DNSSEC entry: a tag byte (`z` zone state, `r` rrset outcome), then two fields
/// separated by zero bytes.
fn dnssec_key(tag: u8, a: &str, b: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(a.len() + b.len() + 3);
    key.push(tag);
    key.push(0);
    key.extend_from_slice(a.as_bytes());
    key.push(0);
    key.extend_from_slice(b.as_bytes());
    key
}

/// What a load found: the records, and how many entries were unreadable (skipped).
#[derive(Debug)]
pub struct Loaded<T> {
    /// Readable records, in key order.
    pub records: Vec<T>,
    /// Entries that could not be decoded.
    pub damaged: u64,
}

impl Store {
    fn load_all<T: DeserializeOwned>(&self, cf: &'static str) -> Result<Loaded<T>, Error> {
        let mut loaded = Loaded {
            records: Vec::new(),
            damaged: 0,
        };
        // A store written before these column families existed, opened read-only, has none.
        let Some(handle) = self.db.cf_handle(cf) else {
            return Ok(loaded);
        };
        for item in self.db.iterator_cf(handle, IteratorMode::Start) {
            let (_, value) = item?;
            match decode::<T>(&value) {
                Ok(v) => loaded.records.push(v),
                Err(_) => loaded.damaged += 1,
            }
        }
        Ok(loaded)
    }

    fn writable(&self) -> Result<(), Error> {
        if self.read_only {
            Err(Error::ReadOnly)
        } else {
            Ok(())
        }
    }

    /// Saves baselines (replacing stored ones of the same rrset).
    pub fn save_baselines<'a>(
        &self,
        baselines: impl IntoIterator<Item = &'a Baseline>,
    ) -> Result<u64, Error> {
        self.writable()?;
        let cf = self.cf(CF_BASELINES)?;
        let mut batch = WriteBatch::default();
        let mut n = 0;
        for b in baselines {
            batch.put_cf(cf, baseline_key(&b.name, &b.rtype), encode(b)?);
            n += 1;
        }
        self.db.write(batch)?;
        Ok(n)
    }

    /// Every stored baseline, sorted by name then type.
    pub fn load_baselines(&self) -> Result<Loaded<Baseline>, Error> {
        self.load_all(CF_BASELINES)
    }

    /// The stored baseline of one rrset.
    pub fn load_baseline(&self, name: &str, rtype: &str) -> Result<Option<Baseline>, Error> {
        let Some(cf) = self.db.cf_handle(CF_BASELINES) else {
            return Ok(None);
        };
        match self.db.get_cf(cf, baseline_key(name, rtype))? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Saves learnt watch targets.
    pub fn save_learnt<'a>(
        &self,
        learnt: impl IntoIterator<Item = &'a (String, WatchReason)>,
    ) -> Result<(), Error> {
        self.writable()?;
        let cf = self.cf(CF_WATCH)?;
        let mut batch = WriteBatch::default();
        for (name, reason) in learnt {
            batch.put_cf(cf, name.as_bytes(), encode(&(name, reason))?);
        }
        Ok(self.db.write(batch)?)
    }

    /// Every learnt watch target.
    pub fn load_learnt(&self) -> Result<Loaded<(String, WatchReason)>, Error> {
        self.load_all(CF_WATCH)
    }

    /// Saves alerts in their latest state (replacing stored ones with the same id).
    pub fn save_alerts<'a>(
        &self,
        alerts: impl IntoIterator<Item = &'a Alert>,
    ) -> Result<(), Error> {
        self.writable()?;
        let cf = self.cf(CF_ALERTS)?;
        let mut batch = WriteBatch::default();
        for a in alerts {
            batch.put_cf(cf, a.event.id.as_bytes(), encode(a)?);
        }
        Ok(self.db.write(batch)?)
    }

    /// Saves the state of open episodes and deletes that of closed ones.
    pub fn save_episodes<'a>(
        &self,
        open: impl IntoIterator<Item = &'a Episode>,
        closed: impl IntoIterator<Item = &'a String>,
    ) -> Result<(), Error> {
        self.writable()?;
        let cf = self.cf(CF_EPISODES)?;
        let mut batch = WriteBatch::default();
        for e in open {
            batch.put_cf(cf, e.id().as_bytes(), encode(e)?);
        }
        for id in closed {
            batch.delete_cf(cf, id.as_bytes());
        }
        Ok(self.db.write(batch)?)
    }

    /// Saves resolver exposure reports (replacing earlier ones of the same address).
    pub fn save_resolvers<'a>(
        &self,
        reports: impl IntoIterator<Item = &'a ResolverExposure>,
    ) -> Result<(), Error> {
        self.writable()?;
        let cf = self.cf(CF_RESOLVERS)?;
        let mut batch = WriteBatch::default();
        for r in reports {
            batch.put_cf(cf, r.resolver.to_string().as_bytes(), encode(r)?);
        }
        Ok(self.db.write(batch)?)
    }

    /// Every stored resolver exposure report, by address text.
    pub fn load_resolvers(&self) -> Result<Loaded<ResolverExposure>, Error> {
        self.load_all(CF_RESOLVERS)
    }

    /// Saves DNSSEC zone states and rrset outcomes (replacing earlier ones of the same key).
    pub fn save_dnssec<'a>(
        &self,
        zones: impl IntoIterator<Item = &'a ZoneState>,
        outcomes: impl IntoIterator<Item = &'a DnssecOutcome>,
    ) -> Result<(), Error> {
        self.writable()?;
        let cf = self.cf(CF_DNSSEC)?;
        let mut batch = WriteBatch::default();
        for z in zones {
            batch.put_cf(cf, dnssec_key(b'z', &z.kind, &z.zone), encode(z)?);
        }
        for o in outcomes {
            batch.put_cf(cf, dnssec_key(b'r', &o.name, &o.rtype), encode(o)?);
        }
        Ok(self.db.write(batch)?)
    }

    /// Every stored DNSSEC zone state and rrset outcome, in key order.
    pub fn load_dnssec(&self) -> Result<(Loaded<ZoneState>, Loaded<DnssecOutcome>), Error> {
        let mut zones = Loaded {
            records: Vec::new(),
            damaged: 0,
        };
        let mut outcomes = Loaded {
            records: Vec::new(),
            damaged: 0,
        };
        let Some(handle) = self.db.cf_handle(CF_DNSSEC) else {
            return Ok((zones, outcomes));
        };
        for item in self.db.iterator_cf(handle, IteratorMode::Start) {
            let (key, value) = item?;
            match key.first() {
                Some(b'z') => match decode::<ZoneState>(&value) {
                    Ok(v) => zones.records.push(v),
                    Err(_) => zones.damaged += 1,
                },
                _ => match decode::<DnssecOutcome>(&value) {
                    Ok(v) => outcomes.records.push(v),
                    Err(_) => outcomes.damaged += 1,
                },
            }
        }
        Ok((zones, outcomes))
    }

    /// The saved open episodes.
    pub fn load_episodes(&self) -> Result<Loaded<Episode>, Error> {
        self.load_all(CF_EPISODES)
    }

    /// Every stored alert, sorted by first seen then id.
    pub fn load_alerts(&self) -> Result<Loaded<Alert>, Error> {
        let mut loaded: Loaded<Alert> = self.load_all(CF_ALERTS)?;
        loaded.records.sort_by(|a, b| {
            (a.dnsward.first_seen_ns, &a.event.id).cmp(&(b.dnsward.first_seen_ns, &b.event.id))
        });
        Ok(loaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_reject_other_versions() {
        let b = Baseline::new("gmail.com", "MX", 5);
        let bytes = encode(&b).unwrap();
        assert_eq!(bytes.first(), Some(&ANALYSIS_VALUE_VERSION));
        assert_eq!(decode::<Baseline>(&bytes).unwrap(), b);
        let mut other = bytes.clone();
        other[0] = 9;
        assert!(matches!(
            decode::<Baseline>(&other),
            Err(Error::UnsupportedEncoding { found: 9, .. })
        ));
        assert!(decode::<Baseline>(&[]).is_err());
        assert!(decode::<Baseline>(&bytes[..bytes.len() - 1]).is_err());
    }
}
