//! Where each entry of a [`super::VecStorage`] starts and ends in its byte buffer.
//!
//! Entries are kept as extents, stretches of consecutive positions. A uniform extent holds
//! entries of one stored length, so it costs one record however long it grows: most
//! workloads propose records of one size. An irregular extent keeps a 32-bit start per
//! entry (an entry ends where the next one starts). Byte positions are the low 32 bits of
//! absolute positions; the owner keeps its buffer below 4 GiB, so they name one place.

use alloc::vec::Vec;

/// Equal lengths in a row that make a uniform extent. A uniform record (24 bytes) then costs
/// at most 1.5 bytes per entry, and the irregular one before it (24 bytes and its closing
/// start) at most 1.75 more: the worst mix stays within the 4 bytes an irregular entry costs.
pub(super) const UNIFORM_ENTRIES_MIN: u64 = 16;

/// `Extent::len` of an irregular extent: no stored length is that long (the owner holds
/// less than 2 GiB).
const IRREGULAR: u32 = u32::MAX;

/// Consecutive positions from `first` on, up to the next extent's `first` (or the end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Extent {
    first: u64,
    /// Where the stored bytes of `first` start.
    start: u32,
    /// The stored length of every entry, or `IRREGULAR`: each has a start in `starts`.
    len: u32,
    /// Irregular: the slot (see `Extents::starts_base`) of the start of `first`. Uniform:
    /// where the starts of the extents after it begin.
    slot: u32,
}

impl Extent {
    #[inline]
    fn is_irregular(&self) -> bool {
        self.len == IRREGULAR
    }
}

/// The extents a lookup looks at one by one, back from the end, before it searches.
const NEAR_EXTENTS: usize = 4;

/// No extent: its `first` is past every position.
const NO_EXTENT: Extent = Extent { first: u64::MAX, start: 0, len: IRREGULAR, slot: 0 };

/// The bounds of the entries at positions `first..next`: from byte `first_start` to byte
/// `end`, as extents.
///
/// Invariants (checked by the tests after every change): extents follow one another in
/// position order and in byte order; every uniform extent holds at least
/// [`UNIFORM_ENTRIES_MIN`] positions (compacted ones count: the first live one may hold fewer
/// entries), and its length differs from a uniform one just before it; no two live irregular
/// extents are neighbours; an irregular extent that another follows keeps one more start,
/// where the next one starts, so that each of its entries ends where the start after its own
/// says.
///
/// Memory: with `n` entries held, of which `n_i` in irregular extents and `n_u` in uniform
/// ones, there are at most `n_u / 16 + 1` uniform records and one irregular record more (24
/// bytes each, and a closing start of 4 bytes for each irregular one), so the records and
/// starts of the entries held take at most `4 * n_i + 52 * (n_u / 16 + 1) + 28`, which is
/// `4 * n + 80` bytes at most. Records and starts of compacted entries go once they are half
/// of theirs.
#[derive(Clone, Debug)]
pub(super) struct Extents {
    /// In position order; the first may begin before `first` (with compacted positions).
    records: Vec<Extent>,
    /// A copy of the last record (or `NO_EXTENT`), for appends and lookups near the end.
    last: Extent,
    /// The starts of the entries of irregular extents, in position order.
    starts: Vec<u32>,
    /// The slot of `starts[0]`. Slots count every start ever kept (wrapping), so dropping a
    /// compacted prefix of `starts` leaves the records as they are.
    starts_base: u32,
    /// The last entries share this length, `tail_count` of them (at most one less than
    /// `UNIFORM_ENTRIES_MIN`), if the last extent is irregular: the start of a uniform one.
    tail_len: u32,
    tail_count: u64,
    /// The first position held, and the one after the last.
    first: u64,
    next: u64,
    /// Where the stored bytes of `first` start and those of the last entry end.
    first_start: u32,
    end: u32,
}

impl Extents {
    /// No entries; the next one is at position `next` and starts at byte `start`.
    pub(super) const fn new(next: u64, start: u32) -> Self {
        Extents {
            records: Vec::new(),
            last: NO_EXTENT,
            starts: Vec::new(),
            starts_base: 0,
            tail_len: 0,
            tail_count: 0,
            first: next,
            next,
            first_start: start,
            end: start,
        }
    }

    /// Drops every entry (keeping the memory); the next one is at `next`, from byte `start`.
    pub(super) fn reset(&mut self, next: u64, start: u32) {
        let (mut records, mut starts) = (core::mem::take(&mut self.records), core::mem::take(&mut self.starts));
        records.clear();
        starts.clear();
        *self = Extents { records, starts, ..Extents::new(next, start) };
    }

    /// The first position held (`next()` if none).
    #[inline]
    pub(super) fn first(&self) -> u64 {
        self.first
    }

    /// The position after the last one held.
    #[inline]
    pub(super) fn next(&self) -> u64 {
        self.next
    }

    /// How many entries are held.
    #[inline]
    pub(super) fn len(&self) -> u64 {
        self.next - self.first
    }

    /// Whether position `index` is held.
    #[inline]
    pub(super) fn holds(&self, index: u64) -> bool {
        self.first <= index && index < self.next
    }

    /// Where the first entry starts (`end()` if none).
    #[inline]
    pub(super) fn start(&self) -> u32 {
        self.first_start
    }

    /// Where the last entry ends.
    #[inline]
    pub(super) fn end(&self) -> u32 {
        self.end
    }

    /// The stored bytes of every entry held.
    #[inline]
    pub(super) fn bytes(&self) -> usize {
        self.end.wrapping_sub(self.first_start) as usize
    }

    /// The bytes these records take, compacted ones not yet dropped included.
    pub(super) fn bookkeeping_bytes(&self) -> usize {
        self.records.len() * core::mem::size_of::<Extent>() + self.starts.len() * core::mem::size_of::<u32>()
    }

    /// Where the stored bytes of position `index` start and end, if it is held.
    #[inline]
    pub(super) fn bounds(&self, index: u64) -> Option<(u32, u32)> {
        self.bounds_in_last(index).or_else(|| self.bounds_searched(index))
    }

    /// `bounds`, if `index` is held in the last extent: the usual case (applying, sending),
    /// without a call.
    #[inline]
    pub(super) fn bounds_in_last(&self, index: u64) -> Option<(u32, u32)> {
        // The last extent may begin among compacted positions: `holds` as well.
        if !(self.holds(index) && self.last.first <= index) {
            return None;
        }
        self.bounds_within(&self.last, index)
    }

    /// `bounds` of a position held before the last extent, searched for: inlined into callers
    /// that are off the hot path already, so that they make one call, not two.
    #[inline]
    pub(super) fn bounds_before_last(&self, index: u64) -> Option<(u32, u32)> {
        if !self.holds(index) {
            return None;
        }
        self.bounds_within(self.records.get(self.search_back(index)?)?, index)
    }

    /// If position `index` is held in a uniform extent: the stored length of its entries,
    /// where the stored bytes of `index` start, and the position after that extent's last.
    pub(super) fn uniform_from(&self, index: u64) -> Option<(u32, u32, u64)> {
        if !self.holds(index) {
            return None;
        }
        let at = self.holder(index)?;
        let extent = self.records.get(at)?;
        if extent.is_irregular() {
            return None;
        }
        let end = self.records.get(at + 1).map_or(self.next, |next| next.first);
        let (start, _) = self.bounds_within(extent, index)?;
        Some((extent.len, start, end))
    }

    /// `bounds_before_last` out of line, so that `bounds` stays small where it is inlined.
    #[inline(never)]
    fn bounds_searched(&self, index: u64) -> Option<(u32, u32)> {
        self.bounds_before_last(index)
    }

    /// Where the stored bytes of position `index`, held in `extent`, start and end.
    #[inline]
    fn bounds_within(&self, extent: &Extent, index: u64) -> Option<(u32, u32)> {
        // Offsets wrap like the positions they add to; the results are exact below 4 GiB.
        let offset = (index - extent.first) as u32;
        if !extent.is_irregular() {
            let start = extent.start.wrapping_add(offset.wrapping_mul(extent.len));
            return Some((start, start.wrapping_add(extent.len)));
        }
        let at = self.local(extent.slot.wrapping_add(offset));
        let start = *self.starts.get(at)?;
        Some((start, self.starts.get(at + 1).copied().unwrap_or(self.end)))
    }

    /// Where in `records` the extent holding position `index` is.
    fn holder(&self, index: u64) -> Option<usize> {
        if self.last.first <= index {
            return self.records.len().checked_sub(1);
        }
        self.search_back(index)
    }

    /// Where in `records` the extent holding position `index` is, which is not the last one,
    /// searched for: among the few before the last first, as lookups are mostly near the end
    /// (applying, sending); O(log n) in the number of extents otherwise.
    #[inline]
    fn search_back(&self, index: u64) -> Option<usize> {
        let before_last = self.records.len().saturating_sub(1);
        let near = before_last.saturating_sub(NEAR_EXTENTS);
        for at in (near..before_last).rev() {
            if self.records.get(at)?.first <= index {
                return Some(at);
            }
        }
        let older = self.records.get(..near)?;
        older.partition_point(|extent| extent.first <= index).checked_sub(1)
    }

    /// Where slot `slot` is in `starts`.
    #[inline]
    fn local(&self, slot: u32) -> usize {
        slot.wrapping_sub(self.starts_base) as usize
    }

    /// The first slot of a start that is still needed, given the extent holding `first`:
    /// those before it are compacted.
    fn first_slot(&self, holder: &Extent) -> u32 {
        if holder.is_irregular() {
            return holder.slot.wrapping_add((self.first - holder.first) as u32);
        }
        holder.slot
    }

    /// The slot the next start kept goes to.
    fn next_slot(&self) -> u32 {
        self.starts_base.wrapping_add(self.starts.len() as u32)
    }

    /// Pushes `make(len)` for the stored length `len` of each position `first..=last`, in
    /// order; false (with some pushed) if one is not held.
    pub(super) fn extend_lengths<T>(&self, first: u64, last: u64, out: &mut Vec<T>, mut make: impl FnMut(u32) -> T) -> bool {
        if !(self.holds(first) && self.holds(last) && first <= last) {
            return false;
        }
        let Some(mut at) = self.holder(first) else { return false };
        out.reserve(usize::try_from(last - first + 1).unwrap_or(0));
        let mut index = first;
        while index <= last {
            let Some(extent) = self.records.get(at) else { return false };
            let until = self.records.get(at + 1).map_or(self.next, |next| next.first).min(last + 1);
            let Ok(count) = usize::try_from(until - index) else { return false };
            if extent.is_irregular() {
                let from = self.local(extent.slot.wrapping_add((index - extent.first) as u32));
                let Some(starts) = self.starts.get(from..from.saturating_add(count)) else { return false };
                // Each entry ends where the next starts; the last where the one after it does.
                let after = self.starts.get(from.saturating_add(count)).copied().unwrap_or(self.end);
                let ends = starts.get(1..).unwrap_or(&[]).iter().copied().chain(core::iter::once(after));
                out.extend(starts.iter().zip(ends).map(|(&start, end)| make(end.wrapping_sub(start))));
            } else {
                out.extend((0..count).map(|_| make(extent.len)));
            }
            (index, at) = (until, at + 1);
        }
        true
    }

    /// Appends an entry of `len` stored bytes.
    #[inline]
    pub(super) fn push(&mut self, len: u32) {
        self.push_equal(1, len);
    }

    /// Appends `count` entries of `len` stored bytes each: in O(1) when they carry on a
    /// uniform extent or start one.
    #[inline]
    pub(super) fn push_equal(&mut self, count: u64, len: u32) {
        debug_assert!(len != IRREGULAR, "stored lengths are below 2 GiB");
        if count == 0 {
            return;
        }
        let (index, start) = (self.next, self.end);
        self.next += count;
        self.end = start.wrapping_add((count as u32).wrapping_mul(len));
        if self.last.len != len {
            self.place(index, start, count, len);
        }
    }

    /// Appends entries of the given stored lengths, a stretch of equal ones at a time.
    pub(super) fn push_lengths(&mut self, lengths: impl IntoIterator<Item = u32>) {
        let mut lengths = lengths.into_iter();
        let Some(mut len) = lengths.next() else { return };
        let mut count = 1;
        for next in lengths {
            if next != len {
                self.push_equal(count, len);
                (len, count) = (next, 0);
            }
            count += 1;
        }
        self.push_equal(count, len);
    }

    /// Keeps `count` entries of `len` bytes from position `index` (from byte `start`), that
    /// do not carry on the last extent: as the start of a uniform extent once they and the
    /// equal entries before them are enough, each with its own start until then.
    #[inline(never)]
    fn place(&mut self, index: u64, start: u32, count: u64, len: u32) {
        let irregular = !self.records.is_empty() && self.last.is_irregular();
        let joined = if irregular && self.tail_len == len { self.tail_count } else { 0 };
        if joined + count >= UNIFORM_ENTRIES_MIN {
            self.start_uniform(index - joined, start.wrapping_sub((joined as u32).wrapping_mul(len)), len, joined);
            return;
        }
        if !irregular {
            self.records.push(Extent { first: index, start, len: IRREGULAR, slot: self.next_slot() });
            self.last = self.records.last().copied().unwrap_or(NO_EXTENT);
            self.tail_count = 0;
        }
        if self.tail_len != len {
            (self.tail_len, self.tail_count) = (len, 0);
        }
        self.starts.extend((0..count as u32).map(|k| start.wrapping_add(k.wrapping_mul(len))));
        self.tail_count += count;
    }

    /// Starts a uniform extent at position `first` (byte `start`) of `len` bytes per entry,
    /// taking over the last `joined` entries of the irregular extent before it.
    fn start_uniform(&mut self, first: u64, start: u32, len: u32, joined: u64) {
        if !self.records.is_empty() && self.last.is_irregular() {
            if self.last.first == first {
                // Every entry of the irregular extent joins: it goes.
                self.starts.truncate(self.local(self.last.slot));
                self.records.pop();
            } else {
                // Its entries now end where the uniform one starts: its closing start.
                self.starts.truncate(self.starts.len().saturating_sub(joined as usize));
                self.starts.push(start);
            }
        }
        self.tail_count = 0;
        // An irregular extent's first entry differs from the uniform one before it, so these
        // entries never carry that one on.
        debug_assert!(self.records.last().map_or(true, |before| before.len != len));
        self.records.push(Extent { first, start, len, slot: self.next_slot() });
        self.last = self.records.last().copied().unwrap_or(NO_EXTENT);
    }

    /// Drops the entries after position `index`.
    pub(super) fn truncate_after(&mut self, index: u64) {
        if index.saturating_add(1) >= self.next {
            return;
        }
        if index < self.first {
            self.reset(self.first, self.first_start);
            return;
        }
        let (Some((end, _)), Some(at)) = (self.bounds(index + 1), self.holder(index)) else { return };
        self.records.truncate(at + 1);
        self.last = self.records.last().copied().unwrap_or(NO_EXTENT);
        (self.next, self.end) = (index + 1, end);
        let extent = self.last;
        if extent.is_irregular() {
            self.starts.truncate(self.local(extent.slot.wrapping_add((self.next - extent.first) as u32)));
        } else {
            self.starts.truncate(self.local(extent.slot));
            if self.next - extent.first < UNIFORM_ENTRIES_MIN {
                self.make_last_irregular();
            }
        }
        self.recount_tail();
    }

    /// Gives each entry of the last extent, uniform and too short after a truncation, a start
    /// of its own, joining the irregular extent before it if there is one: uniform extents
    /// stay long, so that extent records stay cheap per entry.
    fn make_last_irregular(&mut self) {
        let Some(extent) = self.records.pop() else { return };
        let count = self.next - extent.first;
        // The closing start of the irregular extent before is this one's first start, if it
        // is still kept (it goes with the compacted prefix of `starts`).
        let joins = self.records.last().is_some_and(|before| {
            before.is_irregular() && self.local(extent.slot) > 0 && before.slot.wrapping_add((extent.first - before.first) as u32) == extent.slot.wrapping_sub(1)
        });
        if joins {
            debug_assert_eq!(self.starts.last(), Some(&extent.start));
        } else {
            self.records.push(Extent { len: IRREGULAR, ..extent });
            self.starts.push(extent.start);
        }
        self.starts.extend((1..count as u32).map(|k| extent.start.wrapping_add(k.wrapping_mul(extent.len))));
        self.last = self.records.last().copied().unwrap_or(NO_EXTENT);
    }

    /// Counts the last entries of equal length again (after a truncation).
    fn recount_tail(&mut self) {
        self.tail_count = 0;
        if self.records.is_empty() || !self.last.is_irregular() {
            return;
        }
        // The last extent's starts close `starts`; its compacted ones may be gone.
        let held = usize::try_from(self.next - self.last.first).unwrap_or(usize::MAX).min(self.starts.len());
        let mut end = self.end;
        for &start in self.starts.iter().rev().take(held) {
            let len = end.wrapping_sub(start);
            if self.tail_count == 0 {
                self.tail_len = len;
            } else if len != self.tail_len || self.tail_count + 1 >= UNIFORM_ENTRIES_MIN {
                break;
            }
            self.tail_count += 1;
            end = start;
        }
    }

    /// Drops the entries through position `index` (compacted), and the records and starts
    /// before the first entry left once they are half of theirs.
    pub(super) fn drop_through(&mut self, index: u64) {
        if index < self.first {
            return;
        }
        let first = index.saturating_add(1);
        if first >= self.next {
            self.reset(self.next, self.end);
            return;
        }
        let (Some((start, _)), Some(at)) = (self.bounds(first), self.holder(first)) else { return };
        (self.first, self.first_start) = (first, start);
        let Some(holder) = self.records.get(at) else { return };
        let dead = self.local(self.first_slot(holder)).min(self.starts.len());
        if dead > 256 && dead * 2 >= self.starts.len() {
            self.starts.drain(..dead);
            self.starts_base = self.starts_base.wrapping_add(dead as u32);
        }
        if at > 0 && at * 2 >= self.records.len() {
            self.records.drain(..at);
        }
        // Compacted entries whose starts went no longer count.
        self.recount_tail();
    }
}

/// Checks of the invariants, for the tests here and in `growable`.
#[cfg(test)]
impl Extents {
    /// The bytes the records of held entries take: at most 4 per entry and 80 in all more
    /// (see `UNIFORM_ENTRIES_MIN`).
    pub(super) fn live_bookkeeping_bytes(&self) -> usize {
        let Some(at) = self.holder(self.first).filter(|_| self.len() > 0) else { return 0 };
        let live = &self.records[at..];
        core::mem::size_of_val(live) + self.starts.len().saturating_sub(self.local(self.first_slot(&live[0]))) * 4
    }

    /// Where each extent begins, for tests that cut at extent boundaries.
    pub(super) fn boundaries(&self) -> Vec<u64> {
        self.records.iter().map(|extent| extent.first).collect()
    }

    /// Panics with the broken invariant, if one is.
    pub(super) fn check(&self) {
        assert!(self.first <= self.next);
        for index in [self.first.saturating_sub(1), self.next] {
            assert_eq!((self.bounds(index), self.bounds_in_last(index)), (None, None), "{index} is not held");
        }
        for index in self.first..self.next {
            assert!(self.bounds_in_last(index).map_or(true, |b| Some(b) == self.bounds(index)), "fast path at {index}");
        }
        assert_eq!(self.last, self.records.last().copied().unwrap_or(NO_EXTENT));
        if self.len() == 0 {
            assert!(self.records.is_empty() && self.starts.is_empty(), "no entries, no records");
            assert_eq!(self.first_start, self.end);
            return;
        }
        assert_eq!(self.bounds(self.first).map(|(start, _)| start), Some(self.first_start));
        assert_eq!(self.bounds(self.next - 1).map(|(_, end)| end), Some(self.end));
        for i in self.first + 1..self.next {
            assert_eq!(self.bounds(i - 1).map(|(_, end)| end), self.bounds(i).map(|(start, _)| start), "entry {i} starts where the one before ends");
        }
        let live = &self.records[self.holder(self.first).expect("a record holds the first entry")..];
        for (k, extent) in live.iter().enumerate() {
            let next = live.get(k + 1);
            let until = next.map_or(self.next, |next| next.first);
            assert!(extent.first < until, "records in position order");
            if k > 0 {
                assert_eq!(self.bounds(extent.first).map(|(start, _)| start), Some(extent.start), "record start at {}", extent.first);
            }
            if extent.is_irregular() {
                let closing = self.starts.get(self.local(extent.slot.wrapping_add((until - extent.first) as u32)));
                match next {
                    Some(next) => {
                        assert!(!next.is_irregular(), "irregular neighbours at {}", next.first);
                        assert_eq!(closing, Some(&next.start), "closing start at {}", next.first);
                    }
                    None => assert_eq!(closing, None, "nothing kept after the last irregular extent"),
                }
            } else {
                assert!(until - extent.first >= UNIFORM_ENTRIES_MIN, "short uniform extent at {}", extent.first);
                assert!(next.is_some() || self.local(extent.slot) == self.starts.len(), "nothing kept after the last uniform extent");
                assert!(next.map_or(true, |next| next.len != extent.len), "uniform neighbours of one length at {until}");
            }
        }
        let mut recounted = self.clone();
        recounted.recount_tail();
        assert_eq!(recounted.tail_count, self.tail_count, "tail");
        assert!(self.tail_count == 0 || recounted.tail_len == self.tail_len, "tail length");
        assert!(self.live_bookkeeping_bytes() <= 4 * self.len() as usize + 80, "{} bytes for {} entries", self.live_bookkeeping_bytes(), self.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored lengths of every entry held.
    fn lengths(e: &Extents) -> Vec<u32> {
        let mut out = Vec::new();
        if e.len() > 0 {
            assert!(e.extend_lengths(e.first(), e.next() - 1, &mut out, |len| len));
        }
        out
    }

    #[test]
    fn equal_lengths_take_one_record() {
        let mut e = Extents::new(1, 0);
        for _ in 0..100_000 {
            e.push(17);
            e.check_cheaply();
        }
        assert_eq!((e.records.len(), e.starts.len()), (1, 0));
        assert_eq!(e.bounds(100_000), Some((99_999 * 17, 100_000 * 17)));
        e.check();
    }

    #[test]
    fn a_stretch_shorter_than_the_minimum_stays_irregular() {
        let mut e = Extents::new(1, 0);
        e.push_equal(UNIFORM_ENTRIES_MIN - 1, 5);
        e.push(6);
        e.check();
        assert_eq!((e.records.len(), e.starts.len()), (1, UNIFORM_ENTRIES_MIN as usize));
        // One more equal entry than the minimum takes the tail over, leaving one start to close
        // the irregular extent.
        e.push_equal(UNIFORM_ENTRIES_MIN - 1, 7);
        e.push(7);
        e.check();
        assert_eq!((e.records.len(), e.starts.len()), (2, UNIFORM_ENTRIES_MIN as usize + 1));
        let mut expected = vec![5; UNIFORM_ENTRIES_MIN as usize - 1];
        expected.push(6);
        expected.extend([7; UNIFORM_ENTRIES_MIN as usize]);
        assert_eq!(lengths(&e), expected);
    }

    #[test]
    fn truncating_a_uniform_extent_short_makes_it_irregular() {
        let mut e = Extents::new(1, 0);
        e.push(3);
        e.push_equal(40, 4);
        e.push_equal(40, 9);
        e.check();
        assert_eq!(e.records.len(), 3);
        e.truncate_after(50);
        e.check();
        assert!(e.last.is_irregular(), "the nine entries of 9 left have starts of their own");
        assert_eq!(lengths(&e), [&[3][..], &[4; 40], &[9; 9]].concat());
        e.truncate_after(10);
        e.check();
        assert_eq!((e.records.len(), e.starts.len()), (1, 10), "the nine entries of 4 left join the irregular extent before");
        // Equal entries after a truncation join those before it into a uniform extent.
        e.push_equal(7, 4);
        e.check();
        assert_eq!(e.records.len(), 2);
    }

    #[test]
    fn compaction_drops_records_and_starts_before_the_first_entry() {
        let mut e = Extents::new(1, 0);
        for i in 0..2_000u32 {
            e.push(i % 3);
            if i % 100 == 0 {
                e.push_equal(20, 8);
            }
        }
        e.check();
        let before = e.bookkeeping_bytes();
        e.drop_through(e.next() - 100);
        e.check();
        assert!(e.bookkeeping_bytes() < before / 4);
        e.drop_through(e.next() - 1);
        e.check();
        assert_eq!(e.bookkeeping_bytes(), 0);
        e.push(3);
        e.check();
    }

    /// A compacted irregular extent whose starts went cannot take the entries of a uniform
    /// one cut short after it: they get an irregular extent of their own.
    #[test]
    fn a_short_uniform_extent_after_compacted_starts_stays_apart() {
        let mut e = Extents::new(1, 0);
        for i in 0..600u32 {
            e.push(i % 2);
        }
        e.push_equal(40, 5);
        // More extents after it, so that the compacted records stay while their starts go.
        e.push(7);
        e.push_equal(20, 8);
        e.push(9);
        e.drop_through(600);
        e.check();
        assert_eq!((e.records.len(), e.starts.len()), (5, 3), "the compacted starts went, not the records");
        e.truncate_after(612);
        e.check();
        assert_eq!(lengths(&e), [5; 12]);
        e.push_equal(3, 6);
        e.check();
        assert_eq!(lengths(&e), [&[5; 12][..], &[6; 3]].concat());
    }

    #[test]
    fn bounds_read_back_across_the_32_bit_wrap() {
        let mut e = Extents::new(1, u32::MAX - 20);
        e.push_equal(UNIFORM_ENTRIES_MIN, 3);
        e.push(1);
        e.push(2);
        e.check();
        assert_eq!(e.bounds(7), Some((u32::MAX - 2, 0)));
        assert_eq!(e.bounds(18), Some((28, 30)));
        e.truncate_after(8);
        e.check();
        assert_eq!(lengths(&e), [3; 8]);
    }

    impl Extents {
        /// The checks that cost O(1), for long runs of appends.
        fn check_cheaply(&self) {
            assert_eq!(self.last, self.records.last().copied().unwrap_or(NO_EXTENT));
            assert!(self.live_bookkeeping_bytes() <= 4 * self.len() as usize + 80);
        }
    }
}
