//! A bounds-checked reader over stored bytes, shared by the key and value decoders.
//!
//! Every read checks the bytes left first and returns [`Error::Truncated`] instead of panicking.

use crate::Error;

/// Reads big-endian fields from the front of a byte slice, tracking the offset for errors.
pub(crate) struct Cursor<'a> {
    rest: &'a [u8],
    offset: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    /// A cursor over `bytes`, naming `what` in errors.
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Cursor {
            rest: bytes,
            offset: 0,
            what,
        }
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// The next `len` bytes.
    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], Error> {
        let Some((head, tail)) = self.rest.split_at_checked(len) else {
            return Err(Error::Truncated {
                what: self.what,
                offset: self.offset,
                needed: len,
                available: self.rest.len(),
            });
        };
        self.rest = tail;
        self.offset += len;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// One byte.
    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    /// A big-endian `u16`.
    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A big-endian `u32`.
    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A big-endian `u64`.
    pub(crate) fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// `len` bytes that must be UTF-8.
    pub(crate) fn text(&mut self, len: usize) -> Result<&'a str, Error> {
        let offset = self.offset;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| Error::Malformed {
            what: self.what,
            offset,
            reason: "text is not UTF-8",
        })
    }

    /// Fails with [`Error::TrailingBytes`] unless every byte was read.
    pub(crate) fn finish(&self) -> Result<(), Error> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Error::TrailingBytes {
                what: self.what,
                offset: self.offset,
                extra: self.rest.len(),
            })
        }
    }

    /// A [`Error::Malformed`] at the current offset.
    pub(crate) fn malformed(&self, reason: &'static str) -> Error {
        Error::Malformed {
            what: self.what,
            offset: self.offset,
            reason,
        }
    }
}
