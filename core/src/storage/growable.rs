//! Growable storage for hosts with an allocator, still bounded by the limits given.

use alloc::vec::Vec;

use super::{HardState, Storage, StorageError};
use crate::Zxid;

/// An entry: its zxid and where its payload starts. It ends where the next one starts (or
/// where the bytes end): 16 bytes an entry, not 24, for the memory a long history takes.
#[derive(Clone, Copy, Debug)]
struct Meta {
    zxid: Zxid,
    start: u64,
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
        self.meta.get(self.slot(index)?)
    }

    /// Where position `index` is in `meta`, if it is live.
    #[inline]
    fn slot(&self, index: u64) -> Option<usize> {
        let live = usize::try_from(index.checked_sub(self.snapshot_index + 1)?).ok()?;
        let slot = self.head.checked_add(live)?;
        (slot < self.meta.len()).then_some(slot)
    }

    /// Absolute byte position where the payload at `slot` ends.
    #[inline]
    fn end_of(&self, slot: usize) -> u64 {
        self.meta.get(slot + 1).map_or(self.data_base + self.data.len() as u64, |m| m.start)
    }

    /// The bytes from absolute position `start` to `end`.
    #[inline]
    fn bytes(&self, start: u64, end: u64) -> Option<&[u8]> {
        let from = usize::try_from(start.checked_sub(self.data_base)?).ok()?;
        let to = usize::try_from(end.checked_sub(self.data_base)?).ok()?;
        self.data.get(from..to)
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
    fn last_zxid(&self) -> Zxid {
        self.live().last().map_or(self.snapshot_zxid, |m| m.zxid)
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
        let slot = self.slot(index)?;
        let m = self.meta.get(slot)?;
        Some((m.zxid, self.bytes(m.start, self.end_of(slot))?))
    }

    #[inline]
    fn payloads(&self, first: u64, last: u64) -> Option<&[u8]> {
        // Payloads are contiguous in position order.
        let (a, b) = (self.slot(first)?, self.slot(last)?);
        self.bytes(self.meta.get(a)?.start, self.end_of(b))
    }

    fn entry_table(&self, first: u64, last: u64, table: &mut Vec<(Zxid, u32)>) -> bool {
        match (self.slot(first), self.slot(last)) {
            (Some(a), Some(b)) if a <= b => {
                let Some(metas) = self.meta.get(a..=b) else { return false };
                // Each entry ends where the next starts; the last where the one after it does.
                table.reserve(metas.len());
                table.extend(metas.windows(2).map(|pair| match pair {
                    [m, next] => (m.zxid, (next.start - m.start) as u32),
                    _ => (Zxid::ZERO, 0),
                }));
                if let Some(m) = metas.last() {
                    table.push((m.zxid, (self.end_of(b) - m.start) as u32));
                }
                true
            }
            _ => last < first,
        }
    }

    fn append_packed(&mut self, table: &[(Zxid, u32)], data: &[u8]) -> usize {
        let fits = self.meta.len() - self.head + table.len() <= self.entries_max && self.bytes_used() + data.len() <= self.bytes_max;
        let last = self.last_zxid();
        if !fits || table.first().is_some_and(|(zxid, _)| *zxid <= last) {
            return super::append_each(self, table, data);
        }
        // In one step: one copy of the payloads, one reservation of the entries.
        let (meta_len, base) = (self.meta.len(), self.data_base + self.data.len() as u64);
        let mut start = base;
        self.meta.extend(table.iter().map(|&(zxid, len)| {
            let meta = Meta { zxid, start };
            start += u64::from(len);
            meta
        }));
        if start - base != data.len() as u64 {
            // The lengths do not add up to the payloads: take what `data` holds, one by one.
            self.meta.truncate(meta_len);
            return super::append_each(self, table, data);
        }
        self.data.extend_from_slice(data);
        table.len()
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
        self.meta.push(Meta { zxid, start });
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

    /// A batch appended in one step holds what appending its entries one by one holds, and
    /// one that does not fit goes in as far as it fits.
    #[test]
    fn packed_appends_equal_appends_one_by_one() {
        let entries: Vec<(Zxid, Vec<u8>)> = (1..=50u32).map(|c| (Zxid::new(2, c), vec![c as u8; (c % 7) as usize])).collect();
        let table: Vec<(Zxid, u32)> = entries.iter().map(|(z, p)| (*z, p.len() as u32)).collect();
        let data: Vec<u8> = entries.iter().flat_map(|(_, p)| p.iter().copied()).collect();
        for (entries_max, bytes_max) in [(100, 1000), (30, 1000), (100, 40)] {
            let (mut one, mut all) = (VecStorage::new(entries_max, bytes_max, 8), VecStorage::new(entries_max, bytes_max, 8));
            one.append(Zxid::new(1, 1), b"first").unwrap();
            all.append(Zxid::new(1, 1), b"first").unwrap();
            let fit = entries.iter().take_while(|(z, p)| one.append(*z, p).is_ok()).count();
            assert_eq!(all.append_packed(&table, &data), fit);
            assert_eq!(all.last_index(), one.last_index());
            for index in 1..=one.last_index() {
                assert_eq!(all.entry_at(index), one.entry_at(index));
            }
        }
        // Lengths that do not add up to the payloads: only what the payloads hold goes in.
        let mut s = VecStorage::new(100, 1000, 8);
        assert_eq!(s.append_packed(&table, &data[..10]), super::super::append_each(&mut VecStorage::new(100, 1000, 8), &table, &data[..10]));
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
                assert_eq!(s.index_of(*zxid), Some(index));
                assert_eq!(s.index_at_or_before(*zxid), Some(index));
                let above = Zxid::new(zxid.epoch, zxid.counter + 1);
                assert_eq!(s.index_at_or_before(above), Some(model.partition_point(|(z, _)| *z <= above) as u64));
            }
            assert_eq!(s.last_zxid(), model.last().map_or(Zxid::ZERO, |m| m.0).max(s.snapshot_point().1));
            let first = snap + 1 + u64::from(round % 7);
            let last = model.len() as u64 - u64::from(round % 5);
            let together: Vec<u8> = model[first as usize - 1..last as usize].iter().flat_map(|(_, p)| p.iter().copied()).collect();
            assert_eq!(s.payloads(first, last), Some(&together[..]));
            assert_eq!(s.payload_at(snap), None);
            assert_eq!(s.zxid_at(model.len() as u64 + 1), None);
        }
    }
}
