//! Growable storage for hosts with an allocator, still bounded by the limits given.

use alloc::vec::Vec;

use super::{HardState, Storage, StorageError};
use crate::Zxid;

/// The most payload bytes a `VecStorage` holds at once, whatever `bytes_max` says: entry starts
/// are 32-bit, and the buffer (live bytes and a dead prefix smaller than them) stays below 4 GiB.
const BYTES_MAX: usize = (1 << 31) - 4096;

/// A run of entries from position `first` on whose zxids (packed, `Zxid::as_u64`) count up
/// by one, until the next run starts (or the history ends). A leader numbers its proposals
/// that way, so an epoch is usually one run, and an entry needs no zxid of its own.
#[derive(Clone, Copy, Debug)]
struct Run {
    first: u64,
    /// The packed zxid at position `index` of the run is `base + index` (wrapping).
    base: u64,
}

impl Run {
    #[inline]
    fn new(index: u64, zxid: Zxid) -> Run {
        Run { first: index, base: zxid.as_u64().wrapping_sub(index) }
    }

    /// The zxid at position `index` (at or after `first`, before the next run).
    #[inline]
    fn zxid_at(&self, index: u64) -> Zxid {
        Zxid::from_u64(self.base.wrapping_add(index))
    }

    /// Whether `zxid` at position `index` (after `first`) carries on this run.
    #[inline]
    fn continues(&self, index: u64, zxid: Zxid) -> bool {
        zxid.as_u64() == self.base.wrapping_add(index)
    }
}

/// No run yet: its `first` is past every position.
const NO_RUN: Run = Run { first: NO_RUN_FIRST, base: 0 };
const NO_RUN_FIRST: u64 = u64::MAX;

/// Storage on the heap, holding at most `entries_max` entries and `bytes_max` payload bytes.
/// Payloads share one buffer, so appending allocates only when it grows. An entry costs its
/// payload and 4 bytes (where it starts; it ends where the next one starts), plus a run of
/// zxids per epoch, for the memory a long history takes.
#[derive(Clone, Debug)]
pub struct VecStorage {
    hard: HardState,
    snapshot_index: u64,
    snapshot_zxid: Zxid,
    snapshot: Vec<u8>,
    staging: Vec<u8>,
    /// Where each entry's payload starts, oldest first, as the low 32 bits of its absolute
    /// byte position; `starts[head..]` are live (position `snapshot_index + 1` is
    /// `starts[head]`). A plain vector with a head index, rather than a ring, keeps a lookup to
    /// a subtraction and one bounds check: lookups by position are the hot path.
    starts: Vec<u32>,
    /// Entries before it were compacted away; reclaimed in bulk.
    head: usize,
    /// The zxids, as runs in position order; the last one covers the last entry.
    runs: Vec<Run>,
    /// A copy of the last run (`first` is `u64::MAX` if none), for lookups in the hot path.
    last_run: Run,
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
    /// The most payload bytes a `VecStorage` holds (`bytes_max` above it is capped to it).
    pub const BYTES_MAX: usize = BYTES_MAX;

    /// Empty storage with the given limits (`bytes_max` at most 2 GiB less 4 KiB).
    pub fn new(entries_max: usize, bytes_max: usize, snapshot_bytes_max: usize) -> Self {
        VecStorage {
            hard: HardState::default(),
            snapshot_index: 0,
            snapshot_zxid: Zxid::ZERO,
            snapshot: Vec::new(),
            staging: Vec::new(),
            starts: Vec::new(),
            head: 0,
            runs: Vec::new(),
            last_run: NO_RUN,
            data: Vec::new(),
            data_base: 0,
            entries_max,
            bytes_max: bytes_max.min(BYTES_MAX),
            snapshot_bytes_max,
        }
    }

    #[inline]
    fn live(&self) -> &[u32] {
        self.starts.get(self.head..).unwrap_or(&[])
    }

    /// Where position `index` is in `starts`, if it is live.
    #[inline]
    fn slot(&self, index: u64) -> Option<usize> {
        let live = usize::try_from(index.checked_sub(self.snapshot_index + 1)?).ok()?;
        let slot = self.head.checked_add(live)?;
        (slot < self.starts.len()).then_some(slot)
    }

    /// The run holding position `index`; the last one in the hot path.
    #[inline]
    fn run_of(&self, index: u64) -> Option<&Run> {
        if self.last_run.first <= index {
            return Some(&self.last_run);
        }
        self.run_before_last(index)
    }

    /// Pushes a run (a new epoch, or a gap in the counters).
    #[inline(never)]
    fn push_run(&mut self, run: Run) {
        self.runs.push(run);
        self.last_run = run;
    }

    /// The run holding position `index` and the position where the next run starts.
    #[inline]
    fn run_span(&self, index: u64) -> Option<(Run, u64)> {
        match self.runs.last() {
            Some(run) if run.first <= index => Some((*run, u64::MAX)),
            _ => {
                let after = self.runs.partition_point(|run| run.first <= index);
                Some((*self.runs.get(after.checked_sub(1)?)?, self.runs.get(after)?.first))
            }
        }
    }

    /// The run holding position `index`, searched for: entries of an older epoch.
    #[cold]
    #[inline(never)]
    fn run_before_last(&self, index: u64) -> Option<&Run> {
        self.runs.get(self.runs.partition_point(|run| run.first <= index).checked_sub(1)?)
    }

    /// The low 32 bits of the absolute byte position where the payloads end.
    #[inline]
    fn start_of_next(&self) -> u32 {
        (self.data_base + self.data.len() as u64) as u32
    }

    /// Where in `data` the payload starting at `start` (low 32 bits of a position) is: the
    /// buffer is shorter than 4 GiB, so the low bits name one place.
    #[inline]
    fn at(&self, start: u32) -> usize {
        start.wrapping_sub(self.data_base as u32) as usize
    }

    /// Where in `data` the payload at `slot` ends.
    #[inline]
    fn end_of(&self, slot: usize) -> usize {
        self.starts.get(slot + 1).map_or(self.data.len(), |&next| self.at(next))
    }

    #[inline]
    fn bytes_used(&self) -> usize {
        match self.live().first() {
            Some(&first) => self.data.len() - self.at(first),
            None => 0,
        }
    }

    /// Drops the dead prefix of the byte buffer once it is at least half of it, the compacted
    /// entries once they are at least half of the entry vector, and the runs before them.
    fn reclaim(&mut self) {
        let dead = self.live().first().map_or(self.data.len(), |&first| self.at(first));
        if dead > 4096 && dead * 2 >= self.data.len() {
            self.data.drain(..dead);
            self.data_base += dead as u64;
        }
        if self.head > 256 && self.head * 2 >= self.starts.len() {
            self.starts.drain(..self.head);
            self.head = 0;
        }
        // The run holding the snapshot point stays: later entries may carry it on.
        let before = self.runs.partition_point(|run| run.first <= self.snapshot_index).saturating_sub(1);
        if before > 0 {
            self.runs.drain(..before);
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
        self.snapshot_index + (self.starts.len() - self.head) as u64
    }

    #[inline]
    fn last_zxid(&self) -> Zxid {
        if self.starts.len() > self.head {
            return self.last_run.zxid_at(self.last_index());
        }
        self.snapshot_zxid
    }

    #[inline]
    fn zxid_at(&self, index: u64) -> Option<Zxid> {
        if index == self.snapshot_index {
            return Some(self.snapshot_zxid);
        }
        self.slot(index)?;
        self.run_of(index).map(|run| run.zxid_at(index))
    }

    #[inline]
    fn payload_at(&self, index: u64) -> Option<&[u8]> {
        let slot = self.slot(index)?;
        self.data.get(self.at(*self.starts.get(slot)?)..self.end_of(slot))
    }

    #[inline]
    fn entry_at(&self, index: u64) -> Option<(Zxid, &[u8])> {
        let slot = self.slot(index)?;
        let start = self.at(*self.starts.get(slot)?);
        let zxid = self.run_of(index)?.zxid_at(index);
        Some((zxid, self.data.get(start..self.end_of(slot))?))
    }

    #[inline]
    fn payloads(&self, first: u64, last: u64) -> Option<&[u8]> {
        // Payloads are contiguous in position order.
        let (a, b) = (self.slot(first)?, self.slot(last)?);
        self.data.get(self.at(*self.starts.get(a)?)..self.end_of(b))
    }

    fn entry_table(&self, first: u64, last: u64, table: &mut Vec<(Zxid, u32)>) -> bool {
        match (self.slot(first), self.slot(last)) {
            (Some(a), Some(b)) if a <= b => {
                let Some(starts) = self.starts.get(a..=b) else { return false };
                let end = self.starts.get(b + 1).copied().unwrap_or_else(|| self.start_of_next());
                table.reserve(starts.len());
                // A run at a time: within one, the packed zxids count up by one.
                let (mut index, mut rest) = (first, starts);
                while !rest.is_empty() {
                    let Some((run, next_first)) = self.run_span(index) else { return false };
                    let (part, after) = rest.split_at(rest.len().min(usize::try_from(next_first - index).unwrap_or(usize::MAX)));
                    let (Some(&part_last), mut packed) = (part.last(), run.base.wrapping_add(index)) else { return false };
                    // Each entry ends where the next starts; the last where the one after it does.
                    table.extend(part.windows(2).map(|pair| match pair {
                        [start, next] => {
                            packed = packed.wrapping_add(1);
                            (Zxid::from_u64(packed.wrapping_sub(1)), next.wrapping_sub(*start))
                        }
                        _ => (Zxid::ZERO, 0),
                    }));
                    let following = after.first().copied().unwrap_or(end);
                    table.push((Zxid::from_u64(packed), following.wrapping_sub(part_last)));
                    index += part.len() as u64;
                    rest = after;
                }
                true
            }
            _ => last < first,
        }
    }

    fn append_packed(&mut self, table: &[(Zxid, u32)], data: &[u8]) -> usize {
        let fits = self.starts.len() - self.head + table.len() <= self.entries_max && self.bytes_used() + data.len() <= self.bytes_max;
        let last = self.last_zxid();
        if !fits || table.first().is_some_and(|(zxid, _)| *zxid <= last) {
            return super::append_each(self, table, data);
        }
        // In one step: one copy of the payloads, one reservation of the entries.
        let (starts_len, last_index, base) = (self.starts.len(), self.last_index(), self.data_base + self.data.len() as u64);
        let mut start = base;
        self.starts.extend(table.iter().map(|&(_, len)| {
            let at = start as u32;
            start += u64::from(len);
            at
        }));
        if start - base != data.len() as u64 {
            // The lengths do not add up to the payloads: take what `data` holds, one by one.
            self.starts.truncate(starts_len);
            return super::append_each(self, table, data);
        }
        self.data.extend_from_slice(data);
        // The zxids: usually all carry on the last run.
        let (mut index, mut rest) = (last_index + 1, table);
        if let (NO_RUN_FIRST, Some((&(zxid, _), tail))) = (self.last_run.first, table.split_first()) {
            self.push_run(Run::new(index, zxid));
            (index, rest) = (index + 1, tail);
        }
        let mut expected = self.last_run.base.wrapping_add(index);
        for &(zxid, _) in rest {
            if zxid.as_u64() != expected {
                self.push_run(Run::new(index, zxid));
                expected = zxid.as_u64();
            }
            expected = expected.wrapping_add(1);
            index += 1;
        }
        table.len()
    }

    #[inline]
    fn can_append(&self, payload_len: usize) -> bool {
        self.starts.len() - self.head < self.entries_max && self.bytes_used() + payload_len <= self.bytes_max
    }

    #[inline]
    fn append_parts(&mut self, zxid: Zxid, head: &[u8], body: &[u8]) -> Result<u64, StorageError> {
        debug_assert!(zxid > self.last_zxid(), "history must grow in zxid order");
        let len = head.len() + body.len();
        if !self.can_append(len) {
            return Err(StorageError::Full);
        }
        let index = self.last_index() + 1;
        if !(self.last_run.first < index && self.last_run.continues(index, zxid)) {
            self.push_run(Run::new(index, zxid));
        }
        self.starts.push(self.start_of_next());
        if !head.is_empty() {
            self.data.extend_from_slice(head);
        }
        self.data.extend_from_slice(body);
        Ok(index)
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
        if let Some(&first_dropped) = self.starts.get(keep) {
            self.data.truncate(self.at(first_dropped));
        }
        self.starts.truncate(keep);
        self.runs.truncate(self.runs.partition_point(|run| run.first <= index));
        self.last_run = self.runs.last().copied().unwrap_or(NO_RUN);
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
        self.starts.clear();
        self.head = 0;
        self.runs.clear();
        self.last_run = NO_RUN;
        self.data_base += self.data.len() as u64;
        self.data.clear();
        self.snapshot_index = index;
        self.snapshot_zxid = zxid;
        Ok(true)
    }

    fn used_percent(&self) -> u8 {
        let entries = (self.starts.len() - self.head) * 100 / self.entries_max.max(1);
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

    /// Zxids kept as runs: a new epoch, a gap in the counters or a counter rolling into the
    /// next epoch's zero each read back as appended, one by one and as a table, and survive
    /// truncation into a run and appends after it.
    #[test]
    fn zxid_runs_read_back_as_appended() {
        let zxids = [(1, 1), (1, 2), (1, 3), (1, 7), (1, 8), (2, 1), (2, 2), (3, u32::MAX), (4, 0), (4, 1), (6, 1)];
        let zxids: Vec<Zxid> = zxids.iter().map(|&(e, c)| Zxid::new(e, c)).collect();
        let mut s = VecStorage::new(100, 1000, 8);
        for (i, z) in zxids.iter().enumerate() {
            s.append(*z, &[i as u8; 3]).unwrap();
        }
        let mut packed = VecStorage::new(100, 1000, 8);
        let table: Vec<(Zxid, u32)> = zxids.iter().map(|z| (*z, 3)).collect();
        let data: Vec<u8> = (0..zxids.len()).flat_map(|i| [i as u8; 3]).collect();
        assert_eq!(packed.append_packed(&table, &data), zxids.len());
        for storage in [&s, &packed] {
            for first in 1..=zxids.len() as u64 {
                for last in first..=zxids.len() as u64 {
                    let mut read = Vec::new();
                    assert!(storage.entry_table(first, last, &mut read));
                    assert_eq!(read, table[first as usize - 1..last as usize]);
                }
            }
            for (i, z) in zxids.iter().enumerate() {
                assert_eq!(storage.entry_at(i as u64 + 1), Some((*z, &[i as u8; 3][..])));
                assert_eq!(storage.index_of(*z), Some(i as u64 + 1));
            }
        }
        s.truncate_after(4).unwrap();
        assert_eq!(s.last_zxid(), Zxid::new(1, 7));
        s.append(Zxid::new(1, 8), b"x").unwrap();
        s.append(Zxid::new(5, 1), b"y").unwrap();
        assert_eq!((s.zxid_at(5), s.zxid_at(6), s.zxid_at(3)), (Some(Zxid::new(1, 8)), Some(Zxid::new(5, 1)), Some(Zxid::new(1, 3))));
        s.compact_through(6, b"", b"").unwrap();
        assert_eq!(s.last_zxid(), Zxid::new(5, 1));
        s.append(Zxid::new(5, 2), b"z").unwrap();
        assert_eq!(s.entry_at(7), Some((Zxid::new(5, 2), &b"z"[..])));
    }

    /// Entry starts are the low 32 bits of byte positions: payloads read back across the
    /// point where those bits wrap.
    #[test]
    fn payloads_read_back_across_the_32_bit_wrap() {
        let mut s = VecStorage::new(100, 1000, 8);
        s.data_base = (1 << 32) - 7;
        for c in 1..=6u32 {
            s.append(Zxid::new(1, c), &[c as u8; 3]).unwrap();
        }
        for c in 1..=6u64 {
            assert_eq!(s.payload_at(c), Some(&[c as u8; 3][..]));
        }
        assert_eq!(s.payloads(2, 4), Some(&[2, 2, 2, 3, 3, 3, 4, 4, 4][..]));
        let mut table = Vec::new();
        assert!(s.entry_table(1, 6, &mut table));
        assert!(table.iter().all(|&(_, len)| len == 3));
        s.truncate_after(3).unwrap();
        assert_eq!((s.bytes_used(), s.payload_at(3)), (9, Some(&[3u8; 3][..])));
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
