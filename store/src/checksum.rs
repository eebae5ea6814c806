//! CRC-32 (IEEE, as zlib and Ethernet): `crc32fast` on std hosts; on boards the `crc` crate
//! without a lookup table, whose code is a few hundred bytes where crc32fast's tables take
//! 16 KiB of flash. Both give the same checksums, so a log's format is the same everywhere.

/// A running checksum.
pub struct Hasher(Inner);

#[cfg(feature = "std")]
type Inner = crc32fast::Hasher;
#[cfg(not(feature = "std"))]
type Inner = crc::Digest<'static, u32, crc::NoTable>;

#[cfg(not(feature = "std"))]
static CRC_32: crc::Crc<u32, crc::NoTable> = crc::Crc::<u32, crc::NoTable>::new(&crc::CRC_32_ISO_HDLC);

impl Hasher {
    /// A checksum of nothing yet.
    pub fn new() -> Self {
        #[cfg(feature = "std")]
        return Hasher(crc32fast::Hasher::new());
        #[cfg(not(feature = "std"))]
        return Hasher(CRC_32.digest());
    }

    /// Takes `bytes` in.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The checksum.
    pub fn finalize(self) -> u32 {
        self.0.finalize()
    }
}

/// The checksum of `bytes`.
pub fn hash(bytes: &[u8]) -> u32 {
    let mut hasher = Hasher::new();
    hasher.update(bytes);
    hasher.finalize()
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_the_ieee_crc_32() {
        // The check value of CRC-32/ISO-HDLC.
        assert_eq!(super::hash(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc::Crc::<u32, crc::NoTable>::new(&crc::CRC_32_ISO_HDLC).checksum(b"zaxos"), super::hash(b"zaxos"));
    }
}
