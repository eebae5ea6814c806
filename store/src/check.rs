//! What the crash tests check a recovered store against: a digest of applied payloads that
//! a state machine keeps and snapshots, so a snapshot can be checked against the entries a
//! test saw reported.

/// A running digest over payloads in order, and how many it covers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Digest {
    /// Payloads covered.
    pub count: u64,
    /// CRC-32 chained over them.
    pub crc: u32,
}

impl Digest {
    /// Bytes of [`Digest::to_bytes`].
    pub const BYTES: usize = 12;

    /// Takes the next payload in.
    pub fn add(&mut self, payload: &[u8]) {
        let mut hasher = crate::checksum::Hasher::new();
        hasher.update(&self.crc.to_le_bytes());
        hasher.update(payload);
        self.crc = hasher.finalize();
        self.count += 1;
    }

    /// As snapshot data.
    pub fn to_bytes(self) -> [u8; Self::BYTES] {
        let mut out = [0u8; Self::BYTES];
        out[..8].copy_from_slice(&self.count.to_le_bytes());
        out[8..].copy_from_slice(&self.crc.to_le_bytes());
        out
    }

    /// From snapshot data; `None` if it is not one.
    pub fn from_bytes(bytes: &[u8]) -> Option<Digest> {
        let count = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let crc = u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?);
        (bytes.len() == Self::BYTES).then_some(Digest { count, crc })
    }
}
