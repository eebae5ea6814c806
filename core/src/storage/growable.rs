//! Growable storage for hosts with an allocator, still bounded by the limits given.

use alloc::vec::Vec;

use super::{HardState, Storage, StorageError};
use crate::Zxid;

#[derive(Clone, Copy, Debug)]
struct Meta {
    zxid: Zxid,
    start: u64,
    len: u32,
}

/// Storage on the heap, holding at most `entries_max` entries and `bytes_max` payload bytes.
/// Payloads share one buffer, so appending allocates only when it grows.
#[derive(Clone, Debug)]
pub struct VecStorage {
    hard: HardState,
    snapshot_index: u64,
    snapshot_zxid: Zxid,
    snapshot: Vec<u8>,
    staging: Vec<u8>,
    /// Entries, oldest first; `meta[head..]` are live (position `snapshot_index + 1` is
    /// `meta[head]`). A plain vector with a head index, rather than a ring, keeps a lookup to
    /// a subtraction and one bounds check: lookups by position are the hot path.
    meta: Vec<Meta>,
    /// Entries before it were compacted away; reclaimed in bulk.
    head: usize,
    data: Vec<u8>,
    /// Absolute byte position of `data[0]`.
    data_base: u64,
    entries_max: usize,
    bytes_max: usize,
    snapshot_bytes_max: usize,
}

impl Default for VecStorage {
    fn default() -> Self {
        VecStorage::new(1 << 20, 256 << 20, 256 << 20)
    }
}

impl VecStorage {
    /// Empty storage with the given limits.
    pub fn new(entries_max: usize, bytes_max: usize, snapshot_bytes_max: usize) -> Self {
        VecStorage {
            hard: HardState::default(),
            snapshot_index: 0,
            snapshot_zxid: Zxid::ZERO,
            snapshot: Vec::new(),
            staging: Vec::new(),
            meta: Vec::new(),
            head: 0,
            data: Vec::new(),
            data_base: 0,
            entries_max,
            bytes_max,
            snapshot_bytes_max,
        }
    }

    #[inline]
    fn live(&self) -> &[Meta] {
        self.meta.get(self.head..).unwrap_or(&[])
    }

    #[inline]
    fn meta_at(&self, index: u64) -> Option<&Meta> {
        let slot = index.checked_sub(self.snapshot_index + 1)?;
        self.live().get(usize::try_from(slot).ok()?)
    }

    #[inline]
    fn bytes_used(&self) -> usize {
        match self.live().first() {
            Some(first) => (self.data_base + self.data.len() as u64 - first.start) as usize,
            None => 0,
        }
    }

    /// Drops the dead prefix of the byte buffer once it is at least half of it, and the
    /// compacted entries once they are at least half of the entry vector.
    fn reclaim(&mut self) {
        let live_start = self.live().first().map_or(self.data_base + self.data.len() as u64, |m| m.start);
        let dead = (live_start - self.data_base) as usize;
        if dead > 4096 && dead * 2 >= self.data.len() {
            self.data.drain(..dead);
            self.data_base = live_start;
        }
        if self.head > 256 && self.head * 2 >= self.meta.len() {
            self.meta.drain(..self.head);
            self.head = 0;
        }
    }
}

impl Storage for VecStorage {
    #[inline]
    fn hard_state(&self) -> HardState {
        self.hard
    }

    fn set_hard_state(&mut self, state: HardState) {
        self.hard = state;
    }

    #[inline]
    fn snapshot_point(&self) -> (u64, Zxid) {
        (self.snapshot_index, self.snapshot_zxid)
    }

    fn snapshot_data(&self) -> &[u8] {
        &self.snapshot
    }

    #[inline]
    fn last_index(&self) -> u64 {
        self.snapshot_index + (self.meta.len() - self.head) as u64
    }

    #[inline]
    fn zxid_at(&self, index: u64) -> Option<Zxid> {
        if index == self.snapshot_index {
            return Some(self.snapshot_zxid);
        }
        self.meta_at(index).map(|m| m.zxid)
    }

    #[inline]
    fn payload_at(&self, index: u64) -> Option<&[u8]> {
        self.entry_at(index).map(|(_, payload)| payload)
    }

    #[inline]
    fn entry_at(&self, index: u64) -> Option<(Zxid, &[u8])> {
        let m = self.meta_at(index)?;
        let start = usize::try_from(m.start - self.data_base).ok()?;
        Some((m.zxid, self.data.get(start..start + m.len as usize)?))
    }

    #[inline]
    fn can_append(&self, payload_len: usize) -> bool {
        self.meta.len() - self.head < self.entries_max && self.bytes_used() + payload_len <= self.bytes_max
    }

    #[inline]
    fn append_parts(&mut self, zxid: Zxid, head: &[u8], body: &[u8]) -> Result<u64, StorageError> {
        debug_assert!(zxid > self.last_zxid(), "history must grow in zxid order");
        let len = head.len() + body.len();
        if !self.can_append(len) {
            return Err(StorageError::Full);
        }
        let start = self.data_base + self.data.len() as u64;
        self.data.extend_from_slice(head);
        self.data.extend_from_slice(body);
        self.meta.push(Meta { zxid, start, len: len as u32 });
        Ok(self.last_index())
    }

    fn truncate_after(&mut self, index: u64) -> Result<(), StorageError> {
        if index < self.snapshot_index {
            return Err(StorageError::OutOfRange);
        }
        if index >= self.last_index() {
            return Ok(());
        }
        // Payloads are contiguous in position order: cut at the first dropped entry's start.
        let keep = self.head + (index - self.snapshot_index) as usize;
        if let Some(first_dropped) = self.meta.get(keep) {
            self.data.truncate((first_dropped.start - self.data_base) as usize);
        }
        self.meta.truncate(keep);
        Ok(())
    }

    fn compact_through(&mut self, index: u64, head: &[u8], data: &[u8]) -> Result<(), StorageError> {
        let zxid = self.zxid_at(index).ok_or(StorageError::OutOfRange)?;
        if head.len() + data.len() > self.snapshot_bytes_max {
            return Err(StorageError::SnapshotTooLarge);
        }
        self.snapshot.clear();
        self.snapshot.extend_from_slice(head);
        self.snapshot.extend_from_slice(data);
        if index > self.snapshot_index {
            // zxid_at found `index`, so it is live: at most every live entry goes.
            self.head += (index - self.snapshot_index) as usize;
            self.snapshot_index = index;
        }
        self.snapshot_zxid = zxid;
        self.reclaim();
        Ok(())
    }

    fn receive_snapshot_chunk(&mut self, offset: u32, chunk: &[u8]) -> Result<(), StorageError> {
        let offset = offset as usize;
        let end = offset.checked_add(chunk.len()).ok_or(StorageError::SnapshotTooLarge)?;
        if end > self.snapshot_bytes_max || offset > self.staging.len() {
            return Err(StorageError::SnapshotTooLarge);
        }
        self.staging.truncate(offset);
        self.staging.extend_from_slice(chunk);
        Ok(())
    }

    fn install_received_snapshot(&mut self, index: u64, zxid: Zxid, len: u32) -> Result<bool, StorageError> {
        if self.staging.len() != len as usize {
            return Err(StorageError::OutOfRange);
        }
        let keep = index >= self.snapshot_index && self.zxid_at(index) == Some(zxid);
        core::mem::swap(&mut self.snapshot, &mut self.staging);
        self.staging.clear();
        if keep {
            self.head += (index - self.snapshot_index) as usize;
            self.snapshot_index = index;
            self.snapshot_zxid = zxid;
            self.reclaim();
            return Ok(false);
        }
        self.meta.clear();
        self.head = 0;
        self.data_base += self.data.len() as u64;
        self.data.clear();
        self.snapshot_index = index;
        self.snapshot_zxid = zxid;
        Ok(true)
    }

    fn used_percent(&self) -> u8 {
        let entries = (self.meta.len() - self.head) * 100 / self.entries_max.max(1);
        let bytes = self.bytes_used() * 100 / self.bytes_max.max(1);
        entries.max(bytes).min(100) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meets_the_storage_contract() {
        super::super::contract::check(&mut VecStorage::new(8, 64, 32));
    }

    #[test]
    fn refuses_past_its_limits() {
        let mut s = VecStorage::new(2, 10, 4);
        s.append(Zxid::new(1, 1), &[0; 6]).unwrap();
        assert_eq!(s.append(Zxid::new(1, 2), &[0; 5]), Err(StorageError::Full));
        s.append(Zxid::new(1, 2), &[0; 4]).unwrap();
        assert_eq!(s.append(Zxid::new(1, 3), &[]), Err(StorageError::Full));
        assert_eq!(s.compact_through(1, b"", b"12345"), Err(StorageError::SnapshotTooLarge));
    }

    /// Long runs of appends, compactions and truncations agree with a plain list of entries,
    /// across the points where the dead prefixes of entries and bytes are reclaimed.
    #[test]
    fn agrees_with_a_plain_list_across_compaction_and_truncation() {
        let mut s = VecStorage::new(100_000, 1 << 20, 64);
        let mut model: Vec<(Zxid, Vec<u8>)> = Vec::new();
        let mut snap = 0u64;
        let mut counter = 0u32;
        for round in 0..40u32 {
            for _ in 0..200 {
                counter += 1;
                let payload = vec![counter as u8; (counter % 37) as usize];
                let zxid = Zxid::new(round + 1, counter);
                assert_eq!(s.append(zxid, &payload), Ok(model.len() as u64 + 1));
                model.push((zxid, payload));
            }
            if round % 3 == 2 {
                let cut = model.len() as u64 - 50;
                s.truncate_after(cut).unwrap();
                model.truncate(cut as usize);
            }
            if round % 2 == 1 {
                snap = model.len() as u64 - 20;
                s.compact_through(snap, b"", b"s").unwrap();
            }
            assert_eq!(s.last_index(), model.len() as u64);
            assert_eq!(s.snapshot_point(), (snap, if snap == 0 { Zxid::ZERO } else { model[snap as usize - 1].0 }));
            for index in snap + 1..=model.len() as u64 {
                let (zxid, payload) = &model[index as usize - 1];
                assert_eq!(s.zxid_at(index), Some(*zxid));
                assert_eq!(s.payload_at(index), Some(&payload[..]));
            }
            assert_eq!(s.payload_at(snap), None);
            assert_eq!(s.zxid_at(model.len() as u64 + 1), None);
        }
    }
}
