//! Growable storage for hosts with an allocator, still bounded by the limits given.

use alloc::vec::Vec;

use super::extents::Extents;
use super::{HardState, Span, Storage, StorageError};
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
///
/// Payloads share one buffer, back to back, so appending allocates only when it grows, and a
/// range of entries is one slice. Beside its payload an entry costs, for the memory a long
/// history takes:
/// - nothing, when it is one of 16 or more consecutive entries of one stored length (fixed-size
///   records): such a stretch is one extent record of 24 bytes;
/// - 4 bytes otherwise (where it starts; it ends where the next one starts);
/// - and whatever the mix, at most 4 bytes per entry and 80 bytes in all more (the bound and
///   why it holds are in `extents.rs`).
///
/// The zxids take a run of 16 bytes per epoch (or gap in the counters).
///
/// A lookup in the last extent and the last run (applying, sending: near the end) costs a
/// few comparisons; one in an older extent looks at the few before the last, then searches.
#[derive(Clone, Debug)]
pub struct VecStorage {
    hard: HardState,
    snapshot_zxid: Zxid,
    snapshot: Vec<u8>,
    staging: Vec<u8>,
    /// Where the stored bytes of each entry start and end, as the low 32 bits of absolute byte
    /// positions; its first position is the one after the snapshot's.
    extents: Extents,
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
            snapshot_zxid: Zxid::ZERO,
            snapshot: Vec::new(),
            staging: Vec::new(),
            extents: Extents::new(1, 0),
            runs: Vec::new(),
            last_run: NO_RUN,
            data: Vec::new(),
            data_base: 0,
            entries_max,
            bytes_max: bytes_max.min(BYTES_MAX),
            snapshot_bytes_max,
        }
    }

    /// The bytes kept to find entries (their bounds and zxids), besides the payloads: what a
    /// history costs per entry beyond its data.
    #[doc(hidden)]
    pub fn bookkeeping_bytes(&self) -> usize {
        self.extents.bookkeeping_bytes() + self.runs.len() * core::mem::size_of::<Run>()
    }

    #[inline]
    fn snapshot_index(&self) -> u64 {
        self.extents.first() - 1
    }

    /// How many entries are held.
    #[inline]
    fn entries(&self) -> usize {
        self.extents.len() as usize
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

    /// Where in `data` the byte at `position` (low 32 bits of an absolute position) is: the
    /// buffer is shorter than 4 GiB, so the low bits name one place.
    #[inline]
    fn at(&self, position: u32) -> usize {
        position.wrapping_sub(self.data_base as u32) as usize
    }

    /// The stored bytes of position `index`, if held.
    #[inline]
    fn stored(&self, index: u64) -> Option<&[u8]> {
        let (start, end) = self.extents.bounds(index)?;
        self.data.get(self.at(start)..self.at(end))
    }

    /// `entry_at` off its hot path: in an older run or extent.
    #[inline(never)]
    fn entry_elsewhere(&self, index: u64) -> Option<(Zxid, &[u8])> {
        let (start, end) = self.extents.bounds_in_last(index).or_else(|| self.extents.bounds_before_last(index))?;
        Some((self.run_of(index)?.zxid_at(index), self.data.get(self.at(start)..self.at(end))?))
    }

    #[inline]
    fn bytes_used(&self) -> usize {
        self.extents.bytes()
    }

    /// Drops the dead prefix of the byte buffer once it is at least half of it, and the runs
    /// before the snapshot point's (the extents drop their own as they compact).
    fn reclaim(&mut self) {
        let dead = self.at(self.extents.start()).min(self.data.len());
        if dead > 4096 && dead * 2 >= self.data.len() {
            self.data.drain(..dead);
            self.data_base += dead as u64;
        }
        // The run holding the snapshot point stays: later entries may carry it on.
        let snapshot_index = self.snapshot_index();
        let before = self.runs.partition_point(|run| run.first <= snapshot_index).saturating_sub(1);
        if before > 0 {
            self.runs.drain(..before);
        }
    }

    /// Drops every entry through position `index` (held, or the snapshot's).
    fn compact_entries_through(&mut self, index: u64) {
        self.extents.drop_through(index);
        self.reclaim();
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
        (self.snapshot_index(), self.snapshot_zxid)
    }

    fn snapshot_data(&self) -> &[u8] {
        &self.snapshot
    }

    #[inline]
    fn last_index(&self) -> u64 {
        self.extents.next() - 1
    }

    #[inline]
    fn last_zxid(&self) -> Zxid {
        if self.extents.len() > 0 {
            return self.last_run.zxid_at(self.last_index());
        }
        self.snapshot_zxid
    }

    #[inline]
    fn zxid_at(&self, index: u64) -> Option<Zxid> {
        if index == self.snapshot_index() {
            return Some(self.snapshot_zxid);
        }
        if !self.extents.holds(index) {
            return None;
        }
        self.run_of(index).map(|run| run.zxid_at(index))
    }

    #[inline]
    fn payload_at(&self, index: u64) -> Option<&[u8]> {
        self.stored(index)
    }

    #[inline]
    fn entry_at(&self, index: u64) -> Option<(Zxid, &[u8])> {
        // The hot path (applying, sending) reads near the end: one branch, no call.
        match self.extents.bounds_in_last(index) {
            Some((start, end)) if self.last_run.first <= index => {
                Some((self.last_run.zxid_at(index), self.data.get(self.at(start)..self.at(end))?))
            }
            _ => self.entry_elsewhere(index),
        }
    }

    fn span(&self, first: u64, last: u64) -> Option<Span<'_>> {
        let (stride, start, extent_end) = self.extents.uniform_from(first)?;
        let (run, run_end) = self.run_span(first)?;
        let count = extent_end.min(run_end).min(last.checked_add(1)?).checked_sub(first)?;
        let stride = stride as usize;
        let len = usize::try_from(count).ok()?.checked_mul(stride)?;
        let bytes = self.data.get(self.at(start)..)?.get(..len)?;
        Some(Span { count, stride, bytes, zxid: run.zxid_at(first) })
    }

    #[inline]
    fn payloads(&self, first: u64, last: u64) -> Option<&[u8]> {
        // Payloads are contiguous in position order.
        let ((start, _), (_, end)) = (self.extents.bounds(first)?, self.extents.bounds(last)?);
        self.data.get(self.at(start)..self.at(end))
    }

    fn entry_table(&self, first: u64, last: u64, table: &mut Vec<(Zxid, u32)>) -> bool {
        if last < first {
            return true;
        }
        if self.last_run.first <= first {
            // One run: the packed zxids count up by one.
            let mut packed = self.last_run.base.wrapping_add(first);
            return self.extents.extend_lengths(first, last, table, |len| {
                packed = packed.wrapping_add(1);
                (Zxid::from_u64(packed.wrapping_sub(1)), len)
            });
        }
        let from = table.len();
        if !self.extents.extend_lengths(first, last, table, |len| (Zxid::ZERO, len)) {
            return false;
        }
        // The zxids a run at a time.
        let (mut index, mut rest) = (first, table.get_mut(from..).unwrap_or_default());
        while !rest.is_empty() {
            let Some((run, next_first)) = self.run_span(index) else { return false };
            let (part, after) = rest.split_at_mut(rest.len().min(usize::try_from(next_first - index).unwrap_or(usize::MAX)));
            let mut packed = run.base.wrapping_add(index);
            for entry in part.iter_mut() {
                entry.0 = Zxid::from_u64(packed);
                packed = packed.wrapping_add(1);
            }
            index += part.len() as u64;
            rest = after;
        }
        true
    }

    fn append_uniform(&mut self, first: Zxid, stride: usize, data: &[u8]) -> usize {
        let count = data.len() / stride.max(1);
        let fits = self.entries() + count <= self.entries_max && self.bytes_used() + data.len() <= self.bytes_max;
        let len = u32::try_from(stride).unwrap_or(u32::MAX);
        if !fits || first <= self.last_zxid() || count * stride != data.len() || len >= u32::MAX / 2 {
            return super::append_uniform_each(self, first, stride, data);
        }
        // In one step: one copy, one extent, and the zxids carry on the last run or start one.
        let index = self.last_index() + 1;
        self.data.extend_from_slice(data);
        self.extents.push_equal(count as u64, len);
        if !(self.last_run.first < index && self.last_run.continues(index, first)) {
            self.push_run(Run::new(index, first));
        }
        count
    }

    fn append_packed(&mut self, table: &[(Zxid, u32)], data: &[u8]) -> usize {
        let fits = self.entries() + table.len() <= self.entries_max && self.bytes_used() + data.len() <= self.bytes_max;
        let last = self.last_zxid();
        if !fits || table.first().is_some_and(|(zxid, _)| *zxid <= last) {
            return super::append_each(self, table, data);
        }
        // One pass over the lengths: their sum, and whether they are all one (the usual batch).
        let first_len = table.first().map_or(0, |&(_, len)| len);
        let (mut total, mut equal) = (0u64, true);
        for &(_, len) in table {
            total += u64::from(len);
            equal &= len == first_len;
        }
        if total != data.len() as u64 {
            // The lengths do not add up to the payloads: take what `data` holds, one by one.
            return super::append_each(self, table, data);
        }
        // In one step: one copy of the payloads; a stretch of equal lengths at a time.
        let last_index = self.last_index();
        self.data.extend_from_slice(data);
        if equal {
            self.extents.push_equal(table.len() as u64, first_len);
        } else {
            self.extents.push_lengths(table.iter().map(|&(_, len)| len));
        }
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
        self.entries() < self.entries_max && self.bytes_used() + payload_len <= self.bytes_max
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
        // Below `bytes_max`, so below 2 GiB.
        self.extents.push(len as u32);
        if !head.is_empty() {
            self.data.extend_from_slice(head);
        }
        self.data.extend_from_slice(body);
        Ok(index)
    }

    fn truncate_after(&mut self, index: u64) -> Result<(), StorageError> {
        if index < self.snapshot_index() {
            return Err(StorageError::OutOfRange);
        }
        if index >= self.last_index() {
            return Ok(());
        }
        // Payloads are contiguous in position order: cut where the kept ones end.
        self.extents.truncate_after(index);
        self.data.truncate(self.at(self.extents.end()));
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
        self.snapshot_zxid = zxid;
        // zxid_at found `index`, so it is held (or the snapshot's): at most every entry goes.
        self.compact_entries_through(index);
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
        // A snapshot at the last position there is would leave no room for an entry.
        if self.staging.len() != len as usize || index == u64::MAX {
            return Err(StorageError::OutOfRange);
        }
        let keep = index >= self.snapshot_index() && self.zxid_at(index) == Some(zxid);
        core::mem::swap(&mut self.snapshot, &mut self.staging);
        self.staging.clear();
        self.snapshot_zxid = zxid;
        if keep {
            self.compact_entries_through(index);
            return Ok(false);
        }
        self.runs.clear();
        self.last_run = NO_RUN;
        self.data_base += self.data.len() as u64;
        self.data.clear();
        self.extents.reset(index + 1, self.data_base as u32);
        Ok(true)
    }

    fn used_percent(&self) -> u8 {
        let entries = self.entries() * 100 / self.entries_max.max(1);
        let bytes = self.bytes_used() * 100 / self.bytes_max.max(1);
        entries.max(bytes).min(100) as u8
    }
}

#[cfg(test)]
impl VecStorage {
    /// Empty storage whose first payload byte is at absolute position `base`.
    fn starting_at_byte(mut self, base: u64) -> Self {
        self.data_base = base;
        self.extents.reset(self.snapshot_index() + 1, base as u32);
        self
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
        let mut s = VecStorage::new(100, 1000, 8).starting_at_byte((1 << 32) - 7);
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

    /// A seeded stream of numbers (splitmix64): a failing seed replays exactly.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }

        fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
    }

    /// Stored lengths in the shapes workloads give them.
    enum Pattern {
        Equal(u32),
        Alternating(u32, u32),
        /// Stretches of equal lengths, of random lengths (shorter and longer than the extents'
        /// minimum): `left` more of `len`.
        Stretches { len: u32, left: u64 },
        Random,
    }

    impl Pattern {
        fn pick(rng: &mut Rng) -> Pattern {
            match rng.below(4) {
                0 => Pattern::Equal(rng.below(40) as u32),
                1 => Pattern::Alternating(rng.below(40) as u32, rng.below(40) as u32),
                2 => Pattern::Stretches { len: 0, left: 0 },
                _ => Pattern::Random,
            }
        }

        fn next_len(&mut self, rng: &mut Rng, serial: u64) -> u32 {
            match self {
                Pattern::Equal(len) => *len,
                Pattern::Alternating(a, b) => [*a, *b][serial as usize % 2],
                Pattern::Stretches { len, left } => {
                    if *left == 0 {
                        (*len, *left) = (rng.below(40) as u32, 1 + rng.below(40));
                    }
                    *left -= 1;
                    *len
                }
                Pattern::Random => rng.below(60) as u32,
            }
        }
    }

    /// The plain list the storage must agree with.
    struct Model {
        snapshot: (u64, Zxid),
        entries: Vec<(Zxid, Vec<u8>)>,
        entries_max: usize,
        bytes_max: usize,
    }

    impl Model {
        fn last_index(&self) -> u64 {
            self.snapshot.0 + self.entries.len() as u64
        }

        fn last_zxid(&self) -> Zxid {
            self.entries.last().map_or(self.snapshot.1, |e| e.0)
        }

        fn get(&self, index: u64) -> Option<&(Zxid, Vec<u8>)> {
            self.entries.get(usize::try_from(index.checked_sub(self.snapshot.0 + 1)?).ok()?)
        }

        fn fits(&self, len: usize) -> bool {
            self.entries.len() < self.entries_max && self.entries.iter().map(|e| e.1.len()).sum::<usize>() + len <= self.bytes_max
        }

        fn index_of(&self, zxid: Zxid) -> Option<u64> {
            if zxid == self.snapshot.1 {
                return Some(self.snapshot.0);
            }
            let at = self.entries.binary_search_by(|e| e.0.cmp(&zxid)).ok()?;
            Some(self.snapshot.0 + 1 + at as u64)
        }

        /// A zxid above the last: usually the next counter, sometimes past a gap or in a new epoch.
        fn next_zxid(&self, after: Zxid, rng: &mut Rng) -> Zxid {
            match rng.below(20) {
                0 => Zxid::new(after.epoch + 1, rng.below(3) as u32),
                1 if after.counter < u32::MAX - 10 => Zxid::new(after.epoch, after.counter + 2 + rng.below(8) as u32),
                _ if after.counter < u32::MAX => Zxid::new(after.epoch, after.counter + 1),
                _ => Zxid::new(after.epoch + 1, 0),
            }
        }
    }

    fn payload(serial: u64, len: u32) -> Vec<u8> {
        (0..len).map(|k| (serial as u32).wrapping_mul(7).wrapping_add(k.wrapping_mul(3)) as u8).collect()
    }

    /// Everything the storage answers agrees with the model.
    fn agree(s: &VecStorage, m: &Model, rng: &mut Rng, context: &str) {
        s.extents.check();
        assert_eq!(s.last_index(), m.last_index(), "{context}");
        assert_eq!(s.snapshot_point(), m.snapshot, "{context}");
        assert_eq!(s.last_zxid(), m.last_zxid(), "{context}");
        let (snap, last) = (m.snapshot.0, m.last_index());
        assert_eq!((s.zxid_at(snap), s.payload_at(snap), s.entry_at(snap)), (Some(m.snapshot.1), None, None), "{context}");
        assert_eq!((s.zxid_at(last + 1), s.payload_at(last + 1), s.entry_at(last + 1)), (None, None, None), "{context}");
        for index in snap + 1..=last {
            let (zxid, payload) = m.get(index).unwrap();
            assert_eq!(s.zxid_at(index), Some(*zxid), "{context}: zxid at {index}");
            assert_eq!(s.payload_at(index), Some(&payload[..]), "{context}: payload at {index}");
            assert_eq!(s.entry_at(index), Some((*zxid, &payload[..])), "{context}: entry at {index}");
        }
        // Read in spans where there are (one lookup where not), every entry is the model's,
        // and no span runs past `until`.
        let until = last.saturating_sub(rng.below(3));
        let mut index = snap + 1;
        while index <= until {
            let Some(span) = s.span(index, until) else {
                index += 1;
                continue;
            };
            assert!(span.count >= 1 && index + span.count - 1 <= until, "{context}: span at {index}: {span:?}");
            assert_eq!(span.bytes.len() as u64, span.count * span.stride as u64, "{context}: span at {index}");
            for (k, stored) in span.bytes.chunks(span.stride.max(1)).enumerate().take(span.count as usize) {
                let (zxid, payload) = m.get(index + k as u64).unwrap();
                let packed = span.zxid.as_u64() + k as u64;
                assert_eq!((Zxid::from_u64(packed), stored), (*zxid, &payload[..]), "{context}: span entry {}", index + k as u64);
            }
            index += span.count;
        }
        for _ in 0..4 {
            let first = snap + rng.below(last - snap + 2);
            let last = first.saturating_sub(1) + rng.below(last + 2 - first.min(last + 1));
            let held = first > snap && last <= m.last_index();
            let expected: Vec<u8> = (first..=last).filter_map(|i| m.get(i)).flat_map(|e| e.1.iter().copied()).collect();
            let payloads = s.payloads(first, last);
            if held && first <= last {
                assert_eq!(payloads, Some(&expected[..]), "{context}: payloads {first}..={last}");
            }
            let mut table = vec![(Zxid::ZERO, 0)];
            let expected: Vec<(Zxid, u32)> = (first..=last).filter_map(|i| m.get(i)).map(|e| (e.0, e.1.len() as u32)).collect();
            assert_eq!(s.entry_table(first, last, &mut table), held || last < first, "{context}: entry_table {first}..={last}");
            if held {
                assert_eq!(table[1..], expected[..], "{context}: entry_table {first}..={last}");
            }
        }
        for _ in 0..4 {
            let Some((zxid, _)) = m.get(snap + 1 + rng.below(last - snap)) else { break };
            assert_eq!(s.index_of(*zxid), m.index_of(*zxid), "{context}: index_of {zxid:?}");
            let absent = Zxid::new(zxid.epoch, zxid.counter.wrapping_add(1 + rng.below(3) as u32));
            assert_eq!(s.index_of(absent), m.index_of(absent), "{context}: index_of {absent:?}");
        }
    }

    /// One random change, made to the storage and the model alike.
    fn step(s: &mut VecStorage, m: &mut Model, rng: &mut Rng, pattern: &mut Pattern, serial: &mut u64) -> &'static str {
        let (snap, last) = (m.snapshot.0, m.last_index());
        match rng.below(100) {
            0..=44 => {
                *serial += 1;
                let (zxid, body) = (m.next_zxid(m.last_zxid(), rng), payload(*serial, pattern.next_len(rng, *serial)));
                let split = rng.below(body.len() as u64 + 1) as usize;
                let (head, tail) = body.split_at(split);
                if m.fits(body.len()) {
                    assert_eq!(s.append_parts(zxid, head, tail), Ok(last + 1));
                    m.entries.push((zxid, body));
                } else {
                    assert_eq!(s.append_parts(zxid, head, tail), Err(StorageError::Full));
                }
                "append"
            }
            62..=72 => {
                // A batch of consecutive zxids and one length, as a leader's usual batch.
                let first = m.next_zxid(m.last_zxid(), rng);
                let len = pattern.next_len(rng, *serial + 1).max(1);
                let most = if rng.chance(50) { 8 } else { 120 };
                let count = 1 + rng.below(most);
                let mut data = Vec::new();
                let mut fit = 0;
                for i in 0..count {
                    *serial += 1;
                    let entry = payload(*serial, len);
                    data.extend_from_slice(&entry);
                    if fit == i as usize && m.fits(len as usize) {
                        m.entries.push((Zxid::from_u64(first.as_u64() + i), entry));
                        fit += 1;
                    }
                }
                assert_eq!(s.append_uniform(first, len as usize, &data), fit);
                "append_uniform"
            }
            45..=61 => {
                let mut batch: Vec<(Zxid, Vec<u8>)> = Vec::new();
                let most = if rng.chance(50) { 8 } else { 120 };
                for _ in 0..1 + rng.below(most) {
                    *serial += 1;
                    let zxid = m.next_zxid(batch.last().map_or(m.last_zxid(), |e| e.0), rng);
                    batch.push((zxid, payload(*serial, pattern.next_len(rng, *serial))));
                }
                let table: Vec<(Zxid, u32)> = batch.iter().map(|(z, p)| (*z, p.len() as u32)).collect();
                let data: Vec<u8> = batch.iter().flat_map(|e| e.1.iter().copied()).collect();
                let mut fit = 0;
                for entry in batch {
                    if !m.fits(entry.1.len()) {
                        break;
                    }
                    m.entries.push(entry);
                    fit += 1;
                }
                assert_eq!(s.append_packed(&table, &data), fit);
                "append_packed"
            }
            73..=80 => {
                // Near the end (as a new leader cuts what it lacks): right at an extent
                // boundary, one position either side of it, or anywhere in the last extents.
                let boundaries: Vec<u64> = s.extents.boundaries().into_iter().filter(|&b| b > snap && b <= last).collect();
                let index = match boundaries.len().checked_sub(1 + rng.below(6) as usize).and_then(|at| boundaries.get(at)) {
                    Some(&b) if rng.chance(70) => (b - 1 + rng.below(3)).clamp(snap, last),
                    _ => last.saturating_sub(rng.below(80)).max(snap),
                };
                s.truncate_after(index).unwrap();
                m.entries.truncate((index - snap) as usize);
                "truncate_after"
            }
            81..=83 => {
                let index = if rng.chance(5) { last } else { snap + rng.below((last - snap) / 2 + 1) };
                s.compact_through(index, b"", b"snap").unwrap();
                m.entries.drain(..(index - snap) as usize);
                m.snapshot = (index, s.zxid_at(index).unwrap());
                "compact_through"
            }
            84..=85 => {
                let index = snap + rng.below((last - snap) / 2 + 1);
                let zxid = if index == snap { m.snapshot.1 } else { m.get(index).unwrap().0 };
                s.receive_snapshot_chunk(0, b"kept").unwrap();
                assert_eq!(s.install_received_snapshot(index, zxid, 4), Ok(false));
                m.entries.drain(..(index - snap) as usize);
                m.snapshot = (index, zxid);
                "install_received_snapshot (kept)"
            }
            86 if rng.chance(30) => {
                let index = last + rng.below(50);
                let zxid = Zxid::new(m.last_zxid().epoch + 1, rng.below(100) as u32);
                s.receive_snapshot_chunk(0, b"replaced").unwrap();
                assert_eq!(s.install_received_snapshot(index, zxid, 8), Ok(true));
                (m.entries, m.snapshot) = (Vec::new(), (index, zxid));
                "install_received_snapshot (replaced)"
            }
            _ => {
                *pattern = Pattern::pick(rng);
                "new pattern"
            }
        }
    }

    /// Long random runs of appends (one by one and in batches) with lengths in the shapes
    /// workloads give them, truncations (at extent boundaries and inside extents),
    /// compactions and snapshot installs agree with a plain list of entries after every step.
    #[test]
    fn agrees_with_a_plain_list_through_random_changes() {
        for seed in 1..=6u64 {
            let mut rng = Rng(seed);
            let (entries_max, bytes_max) = if seed % 3 == 0 { (1500, 30_000) } else { (1 << 20, 1 << 24) };
            let mut s = VecStorage::new(entries_max, bytes_max, 64);
            if seed % 2 == 0 {
                // Across the point where the low 32 bits of byte positions wrap.
                s = s.starting_at_byte((1 << 32) - 20_000);
            }
            let mut m = Model { snapshot: (0, Zxid::ZERO), entries: Vec::new(), entries_max, bytes_max };
            let (mut pattern, mut serial) = (Pattern::pick(&mut rng), 0);
            for round in 0..5_000 {
                let what = step(&mut s, &mut m, &mut rng, &mut pattern, &mut serial);
                if m.entries.len() > 3_000 {
                    let index = m.last_index() - 1_000;
                    s.compact_through(index, b"", b"trim").unwrap();
                    m.entries.drain(..(index - m.snapshot.0) as usize);
                    m.snapshot = (index, s.zxid_at(index).unwrap());
                }
                agree(&s, &m, &mut rng, &format!("seed {seed}, step {round} ({what})"));
            }
        }
    }

    /// Entry bounds cost next to nothing for entries of one length, and at most 4 bytes an
    /// entry (and 80 in all) whatever the lengths: the bound `VecStorage` documents.
    #[test]
    fn bookkeeping_stays_within_its_bound() {
        let run = 16; // One run of zxids.
        let mut s = VecStorage::new(1 << 20, 1 << 28, 8);
        for c in 1..=100_000u32 {
            s.append(Zxid::new(1, c), &[c as u8; 17]).unwrap();
        }
        assert!(s.bookkeeping_bytes() < 1024, "{} bytes for one length appended one by one", s.bookkeeping_bytes());
        let mut packed = VecStorage::new(1 << 20, 1 << 28, 8);
        for batch in 0..1_000u32 {
            let table: Vec<(Zxid, u32)> = (1..=100).map(|c| (Zxid::new(1, batch * 100 + c), 17)).collect();
            assert_eq!(packed.append_packed(&table, &[7; 1700]), 100);
        }
        assert!(packed.bookkeeping_bytes() < 1024, "{} bytes for one length appended in batches", packed.bookkeeping_bytes());

        let mut rng = Rng(7);
        type LengthOf = dyn Fn(u64, &mut Rng) -> usize;
        let patterns: [(&str, &LengthOf); 4] = [
            ("random lengths", &|_, rng| rng.below(200) as usize),
            ("stretches one shorter than an extent", &|i, _| (i / 15 % 2) as usize),
            ("an extent, then one other length", &|i, _| usize::from(i % 17 == 16)),
            ("stretches of mixed lengths", &|i, _| (i / 7 % 3 + i / 29 % 2) as usize),
        ];
        for (name, len_of) in patterns {
            let mut s = VecStorage::new(1 << 20, 1 << 28, 8);
            for i in 0..100_000u64 {
                s.append(Zxid::new(1, i as u32 + 1), &vec![1; len_of(i, &mut rng)]).unwrap();
            }
            let bytes = s.bookkeeping_bytes() - run;
            assert!(bytes <= 4 * 100_000 + 80, "{name}: {bytes} bytes for 100,000 entries");
        }
    }
}
