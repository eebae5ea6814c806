//! Fixed-capacity storage for targets with no allocator.

use super::{HardState, Storage, StorageError};
use crate::Zxid;

#[derive(Clone, Copy, Debug)]
struct Meta {
    zxid: Zxid,
    offset: u32,
    len: u32,
}

/// Storage with room for `ENTRIES` entries holding `BYTES` payload bytes in all,
/// and a snapshot of `SNAPSHOT_BYTES` (twice: the current one and one being received).
///
/// Payloads live in one byte ring; an entry never wraps, so a payload is always
/// one slice.
pub struct HeaplessStorage<const ENTRIES: usize, const BYTES: usize, const SNAPSHOT_BYTES: usize = 0> {
    hard: HardState,
    snapshot_index: u64,
    snapshot_zxid: Zxid,
    snapshot: heapless::Vec<u8, SNAPSHOT_BYTES>,
    staging: heapless::Vec<u8, SNAPSHOT_BYTES>,
    meta: heapless::Deque<Meta, ENTRIES>,
    data: [u8; BYTES],
}

impl<const ENTRIES: usize, const BYTES: usize, const SNAPSHOT_BYTES: usize> Default for HeaplessStorage<ENTRIES, BYTES, SNAPSHOT_BYTES> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const ENTRIES: usize, const BYTES: usize, const SNAPSHOT_BYTES: usize> HeaplessStorage<ENTRIES, BYTES, SNAPSHOT_BYTES> {
    const CAPACITY_OK: () = assert!(ENTRIES > 0 && BYTES > 0 && BYTES <= u32::MAX as usize);

    /// Empty storage.
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::CAPACITY_OK;
        HeaplessStorage {
            hard: HardState::ZERO,
            snapshot_index: 0,
            snapshot_zxid: Zxid::ZERO,
            snapshot: heapless::Vec::new(),
            staging: heapless::Vec::new(),
            meta: heapless::Deque::new(),
            data: [0; BYTES],
        }
    }

    fn meta_at(&self, index: u64) -> Option<&Meta> {
        let slot = index.checked_sub(self.snapshot_index + 1)?;
        // `get` is O(1); walking an iterator to the slot would make every lookup O(entries).
        self.meta.get(usize::try_from(slot).ok()?)
    }

    /// Where a payload of `len` bytes would go, if it fits.
    fn place(&self, len: usize) -> Option<usize> {
        // An empty payload still takes a byte, so offsets strictly grow within a lap.
        let len = len.max(1);
        let (Some(first), Some(last)) = (self.meta.front(), self.meta.back()) else {
            return (len <= BYTES).then_some(0);
        };
        let head = first.offset as usize;
        let tail = last.offset as usize + (last.len as usize).max(1);
        if last.offset < first.offset {
            // Wrapped: free space is between the tail and the head.
            return (tail + len <= head).then_some(tail);
        }
        if tail + len <= BYTES {
            return Some(tail);
        }
        // Wrap around: the bytes before the head are free.
        (len <= head).then_some(0)
    }
}

impl<const ENTRIES: usize, const BYTES: usize, const SNAPSHOT_BYTES: usize> Storage for HeaplessStorage<ENTRIES, BYTES, SNAPSHOT_BYTES> {
    fn hard_state(&self) -> HardState {
        self.hard
    }

    fn set_hard_state(&mut self, state: HardState) {
        self.hard = state;
    }

    fn snapshot_point(&self) -> (u64, Zxid) {
        (self.snapshot_index, self.snapshot_zxid)
    }

    fn snapshot_data(&self) -> &[u8] {
        &self.snapshot
    }

    fn last_index(&self) -> u64 {
        self.snapshot_index + self.meta.len() as u64
    }

    fn zxid_at(&self, index: u64) -> Option<Zxid> {
        if index == self.snapshot_index {
            return Some(self.snapshot_zxid);
        }
        self.meta_at(index).map(|m| m.zxid)
    }

    fn entry_at(&self, index: u64) -> Option<(Zxid, &[u8])> {
        let m = self.meta_at(index)?;
        Some((m.zxid, self.data.get(m.offset as usize..(m.offset + m.len) as usize)?))
    }

    fn payload_at(&self, index: u64) -> Option<&[u8]> {
        let m = self.meta_at(index)?;
        self.data.get(m.offset as usize..(m.offset + m.len) as usize)
    }

    fn can_append(&self, payload_len: usize) -> bool {
        !self.meta.is_full() && self.place(payload_len).is_some()
    }

    fn append_parts(&mut self, zxid: Zxid, head: &[u8], body: &[u8]) -> Result<u64, StorageError> {
        debug_assert!(zxid > self.last_zxid(), "history must grow in zxid order");
        if self.meta.is_full() {
            return Err(StorageError::Full);
        }
        let len = head.len() + body.len();
        let offset = self.place(len).ok_or(StorageError::Full)?;
        self.data[offset..offset + head.len()].copy_from_slice(head);
        self.data[offset + head.len()..offset + len].copy_from_slice(body);
        let meta = Meta { zxid, offset: offset as u32, len: len as u32 };
        self.meta.push_back(meta).map_err(|_| StorageError::Full)?;
        Ok(self.last_index())
    }

    fn truncate_after(&mut self, index: u64) -> Result<(), StorageError> {
        if index < self.snapshot_index {
            return Err(StorageError::OutOfRange);
        }
        while self.last_index() > index {
            self.meta.pop_back();
        }
        Ok(())
    }

    fn compact_through(&mut self, index: u64, head: &[u8], data: &[u8]) -> Result<(), StorageError> {
        let zxid = self.zxid_at(index).ok_or(StorageError::OutOfRange)?;
        if index < self.snapshot_index {
            return Err(StorageError::OutOfRange);
        }
        if head.len() + data.len() > SNAPSHOT_BYTES {
            return Err(StorageError::SnapshotTooLarge);
        }
        self.snapshot.clear();
        let _ = self.snapshot.extend_from_slice(head);
        let _ = self.snapshot.extend_from_slice(data);
        while self.snapshot_index < index {
            self.meta.pop_front();
            self.snapshot_index += 1;
        }
        self.snapshot_zxid = zxid;
        Ok(())
    }

    fn receive_snapshot_chunk(&mut self, offset: u32, chunk: &[u8]) -> Result<(), StorageError> {
        let offset = offset as usize;
        let end = offset.checked_add(chunk.len()).ok_or(StorageError::SnapshotTooLarge)?;
        if end > SNAPSHOT_BYTES || offset > self.staging.len() {
            return Err(StorageError::SnapshotTooLarge);
        }
        self.staging.truncate(offset);
        self.staging.extend_from_slice(chunk).map_err(|_| StorageError::SnapshotTooLarge)
    }

    fn install_received_snapshot(&mut self, index: u64, zxid: Zxid, len: u32) -> Result<bool, StorageError> {
        if self.staging.len() != len as usize {
            return Err(StorageError::OutOfRange);
        }
        let keep = index >= self.snapshot_index && self.zxid_at(index) == Some(zxid);
        core::mem::swap(&mut self.snapshot, &mut self.staging);
        self.staging.clear();
        if keep {
            while self.snapshot_index < index {
                self.meta.pop_front();
                self.snapshot_index += 1;
            }
        } else {
            self.meta.clear();
            self.snapshot_index = index;
        }
        self.snapshot_zxid = zxid;
        Ok(!keep)
    }

    fn used_percent(&self) -> u8 {
        let entries = self.meta.len() * 100 / ENTRIES;
        let bytes = match (self.meta.front(), self.meta.back()) {
            (Some(f), Some(l)) => {
                let tail = l.offset as usize + (l.len as usize).max(1);
                let used = if tail >= f.offset as usize { tail - f.offset as usize } else { BYTES - f.offset as usize + tail };
                used * 100 / BYTES
            }
            _ => 0,
        };
        entries.max(bytes).min(100) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::contract;

    #[test]
    fn meets_the_storage_contract() {
        contract::check(&mut HeaplessStorage::<8, 64, 32>::new());
    }

    #[test]
    fn wraps_the_byte_ring_without_splitting_a_payload() {
        let mut s = HeaplessStorage::<8, 10, 8>::new();
        for c in 1..=3 {
            s.append(Zxid::new(1, c), &[c as u8; 3]).unwrap();
        }
        assert!(!s.can_append(3), "9 of 10 bytes used");
        s.compact_through(2, b"sn", b"ap").unwrap();
        // Bytes 0..6 are free again; 4 bytes do not fit after the tail, so they go to 0.
        assert_eq!(s.append(Zxid::new(1, 4), &[4; 4]), Ok(4));
        assert_eq!(s.payload_at(3), Some(&[3u8; 3][..]));
        assert_eq!(s.payload_at(4), Some(&[4u8; 4][..]));
        assert!(!s.can_append(3), "the ring is full between the new tail and the head");
        assert_eq!(s.append(Zxid::new(1, 5), &[5; 3]), Err(StorageError::Full));
        s.compact_through(3, b"", b"").unwrap();
        assert_eq!(s.append(Zxid::new(1, 5), &[5; 3]), Ok(5));
        assert_eq!(s.payload_at(5), Some(&[5u8; 3][..]));
        assert_eq!(s.payload_at(4), Some(&[4u8; 4][..]));
    }
}
