//! The messages of the protocol, in ZAB's words (Paxos words in the docs).
//!
//! Variants are append-only: postcard encodes the variant index, so reordering
//! or removing one would change the wire format.

use serde::{Deserialize, Serialize};

use super::varint;
use crate::{NodeId, Zxid};

/// A node's state as it tells others in election notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerState {
    /// Electing.
    Looking,
    /// Following the leader named in the vote.
    Following,
    /// Leading (the vote names itself).
    Leading,
    /// Observing the leader named in the vote.
    Observing,
}

/// A vote of fast leader election, compared by `(connected, epoch, zxid, leader)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// The proposed (or followed) leader.
    pub leader: NodeId,
    /// The proposed leader's last zxid.
    pub zxid: Zxid,
    /// The proposed leader's current epoch (or, out of election, the epoch followed).
    pub epoch: u32,
    /// Whether the proposed leader hears a majority of voters in this election: such a
    /// candidate beats one that does not, whatever their histories (the OmniPaxos paper's
    /// lesson: a leader must be connected to a quorum, or partial connectivity stalls the
    /// cluster). Discovery then fetches the newest history among its promisers.
    pub connected: bool,
}

impl Vote {
    /// The key votes are compared by: quorum connectivity first, then the newest history,
    /// then the higher id. Among candidates that all hear a majority (any healthy cluster)
    /// the newest history wins, as in ZooKeeper, and discovery has nothing to fetch.
    pub fn rank(&self) -> (bool, u32, Zxid, NodeId) {
        (self.connected, self.epoch, self.zxid, self.leader)
    }
}

/// Bytes carried without copying: encoded as a postcard byte string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes<'a>(pub &'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a [u8]>::deserialize(deserializer).map(Bytes)
    }
}

/// Where a message passed as a value finds the entries it carries: the sender's history,
/// borrowed (every [`crate::storage::Storage`] is one).
pub(crate) trait History {
    /// The zxid and payload at position `index`.
    fn history_entry(&self, index: u64) -> Option<(Zxid, &[u8])>;

    /// The stretch of entries from `first` (at most through `last`) held with one stored
    /// length and consecutive zxids, if the history keeps them so (see `Storage::span`).
    fn history_span(&self, first: u64, last: u64) -> Option<crate::storage::Span<'_>>;

    /// Copies positions `first..=last` into `table` (zxid and payload length of each) and
    /// `data` (the payloads back to back); false if one is missing.
    #[cfg(feature = "alloc")]
    fn history_copy(&self, first: u64, last: u64, table: &mut alloc::vec::Vec<(Zxid, u32)>, data: &mut alloc::vec::Vec<u8>) -> Copied;
}

impl<S: crate::storage::Storage> History for S {
    #[inline]
    fn history_entry(&self, index: u64) -> Option<(Zxid, &[u8])> {
        self.entry_at(index)
    }

    #[inline]
    fn history_span(&self, first: u64, last: u64) -> Option<crate::storage::Span<'_>> {
        self.span(first, last)
    }

    #[cfg(feature = "alloc")]
    fn history_copy(&self, first: u64, last: u64, table: &mut alloc::vec::Vec<(Zxid, u32)>, data: &mut alloc::vec::Vec<u8>) -> Copied {
        if last < first {
            return Copied::Table;
        }
        // The usual batch: one stretch of consecutive zxids and equal lengths, copied in one.
        if let Some(span) = self.span(first, last).filter(|span| span.count == last - first + 1 && span.stride > 0) {
            if let Ok(stride) = u32::try_from(span.stride) {
                data.extend_from_slice(span.bytes);
                return Copied::Uniform { first: span.zxid, stride };
            }
        }
        let copied = match self.payloads(first, last) {
            Some(bytes) => {
                data.extend_from_slice(bytes);
                self.entry_table(first, last, table)
            }
            None => (first..=last).all(|index| match self.entry_at(index) {
                Some((zxid, payload)) => {
                    table.push((zxid, payload.len() as u32));
                    data.extend_from_slice(payload);
                    true
                }
                None => false,
            }),
        };
        if copied { Copied::Table } else { Copied::Malformed }
    }
}

/// A batch of history entries, in zxid order. On the wire they are runs (see [`Run`]): each
/// `epoch, counter, len << 1 | more` as varints, then (when `more` is set) a varint count of
/// at least two, then `count × len` bytes: entries of consecutive zxids within one epoch and
/// of one stored length, the usual batch, are framed once; any other entry is a run of one.
/// A message passed as a value carries them unencoded: it borrows them from the sender's
/// history, or (in a [`super::MessageBuf`]) from one copy.
#[derive(Clone, Copy)]
pub struct Entries<'a>(Layout<'a>);

#[derive(Clone, Copy)]
enum Layout<'a> {
    /// The wire encoding, unchecked until iterated.
    Wire(&'a [u8]),
    /// Positions `first..=last` of the sender's history, whose payloads total `payload_bytes`.
    History { history: &'a dyn History, first: u64, last: u64, payload_bytes: usize },
    /// A copy: each entry's zxid and payload length, and the payloads back to back.
    // Built only by `MessageBuf` (feature `alloc`).
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    Packed { table: &'a [(Zxid, u32)], data: &'a [u8] },
    /// A copy of a stretch of consecutive zxids from `first` whose entries are `stride`
    /// bytes each, back to back: the usual batch, held without a table.
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    Uniform { first: Zxid, stride: u32, data: &'a [u8] },
}

/// A batch of consecutive zxids from the first, each entry `stride` stored bytes, the
/// entries back to back (see [`Entries::uniform`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Uniform<'a> {
    pub first: Zxid,
    pub stride: u32,
    pub data: &'a [u8],
}

/// A run of entries: `count` consecutive zxids from `first`, all in `first`'s epoch, each
/// entry `stride` stored bytes, back to back in `data` (`count × stride` bytes). On the wire
/// it is framed once; a lone entry is a run of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run<'a> {
    pub first: Zxid,
    pub count: u32,
    pub stride: u32,
    pub data: &'a [u8],
}

impl<'a> Run<'a> {
    const EMPTY: Run<'static> = Run { first: Zxid::ZERO, count: 0, stride: 0, data: &[] };

    fn one(zxid: Zxid, payload: &'a [u8]) -> Self {
        Run { first: zxid, count: 1, stride: payload.len() as u32, data: payload }
    }

    /// The zxid of the last entry (of a run of at least one).
    pub fn last(&self) -> Zxid {
        Zxid::new(self.first.epoch, self.first.counter.wrapping_add(self.count.wrapping_sub(1)))
    }

    /// Takes the first entry off the run.
    #[inline]
    fn pop_front(&mut self) -> Option<(Zxid, &'a [u8])> {
        if self.count == 0 {
            return None;
        }
        let (entry, rest) = self.data.split_at_checked(self.stride as usize)?;
        let zxid = self.first;
        self.count -= 1;
        self.data = rest;
        self.first.counter = self.first.counter.wrapping_add(1);
        Some((zxid, entry))
    }

    /// Whether `next` continues this run: the next counter in its epoch, the same stored length.
    fn continued_by(&self, next: &Run<'_>) -> bool {
        self.stride > 0
            && next.stride == self.stride
            && next.first.epoch == self.first.epoch
            && u64::from(next.first.counter) == u64::from(self.first.counter) + u64::from(self.count)
            && self.count.checked_add(next.count).is_some()
    }
}

/// How [`Entries::copy_into`] held the copy.
#[cfg(feature = "alloc")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Copied {
    /// A table of zxids and lengths, and the entries.
    Table,
    /// Consecutive zxids from the first, entries of one length: the table is left empty.
    Uniform { first: Zxid, stride: u32 },
    /// An entry was missing or malformed.
    Malformed,
}

/// A batch held as a table (zxid and payload length of each entry) and the payloads.
pub(crate) type Packed<'a> = (&'a [(Zxid, u32)], &'a [u8]);

/// A malformed entry inside a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MalformedEntries;

impl<'a> Entries<'a> {
    /// The empty batch.
    pub const EMPTY: Entries<'static> = Entries(Layout::Wire(&[]));

    /// Entries in their wire encoding (checked as they are iterated).
    pub const fn from_wire(bytes: &'a [u8]) -> Self {
        Entries(Layout::Wire(bytes))
    }

    /// Positions `first..=last` of `history` (none if `last < first`), whose payloads total
    /// `payload_bytes`.
    pub(crate) fn from_history(history: &'a dyn History, first: u64, last: u64, payload_bytes: usize) -> Self {
        Entries(Layout::History { history, first, last, payload_bytes })
    }

    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    pub(crate) fn from_packed(table: &'a [(Zxid, u32)], data: &'a [u8]) -> Self {
        Entries(Layout::Packed { table, data })
    }

    /// Consecutive zxids from `first`, each entry `stride` bytes of `data` (a `stride` of
    /// zero, or a `data` that is not a whole number of entries, reads as malformed).
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    pub(crate) fn from_uniform(first: Zxid, stride: u32, data: &'a [u8]) -> Self {
        Entries(Layout::Uniform { first, stride, data })
    }

    /// An iterator that checks every bound as it goes; it yields an error once and stops.
    pub fn iter(&self) -> EntriesIter<'a> {
        EntriesIter(match self.0 {
            Layout::Wire(bytes) => IterState::Wire { bytes, at: 0, run: Run::EMPTY },
            Layout::History { history, first, last, .. } => IterState::History { history, next: first, last },
            Layout::Packed { table, data } => IterState::Packed { table: table.iter(), data, at: 0 },
            Layout::Uniform { first, stride, data } => IterState::Uniform { next: first.as_u64(), stride: stride as usize, data },
        })
    }

    /// Whether the batch holds no entry.
    pub fn is_empty(&self) -> bool {
        match self.0 {
            Layout::Wire(bytes) => bytes.is_empty(),
            Layout::History { first, last, .. } => last < first,
            Layout::Packed { table, .. } => table.is_empty(),
            Layout::Uniform { data, .. } => data.is_empty(),
        }
    }

    /// Bytes the batch takes on the wire (its length prefix not included).
    pub fn encoded_len(&self) -> usize {
        match self.0 {
            Layout::Wire(bytes) => bytes.len(),
            _ => {
                let mut len = 0usize;
                let _ = self.emit(&mut |bytes| {
                    len += bytes.len();
                    true
                });
                len
            }
        }
    }

    /// Hands the batch's wire encoding to `put` a slice at a time: the whole of it if held so;
    /// otherwise per run its header, then its payloads, one slice per stretch the sender holds
    /// back to back (runs are as long as the entries allow, so every holder of the same entries
    /// encodes the same bytes). `Ok(false)` as soon as `put` refuses a slice. (`put` is a
    /// trait object: one copy of this code for every caller, a few calls per message.)
    pub(crate) fn emit(&self, put: &mut dyn FnMut(&[u8]) -> bool) -> Result<bool, MalformedEntries> {
        let (history, index) = match self.0 {
            Layout::Wire(bytes) => return Ok(put(bytes)),
            Layout::History { history, first, last, .. } if first == last => (history, first),
            _ => return self.emit_runs(put),
        };
        // One entry (one in flight): no run to look for.
        let (zxid, payload) = history.history_entry(index).ok_or(MalformedEntries)?;
        let mut head = [0u8; RUN_HEAD_BYTES_MAX];
        Ok(put(run_head(&Run::one(zxid, payload), &mut head)) && put(payload))
    }

    fn emit_runs(&self, put: &mut dyn FnMut(&[u8]) -> bool) -> Result<bool, MalformedEntries> {
        let mut pieces = self.iter();
        loop {
            let start = pieces.clone();
            let Some(first) = pieces.next_run() else { return Ok(true) };
            let first = first?;
            let mut run = first;
            // Later pieces that continue the run join it.
            loop {
                let mut ahead = pieces.clone();
                match ahead.next_run() {
                    Some(Ok(next)) if run.continued_by(&next) => {
                        run.count += next.count;
                        pieces = ahead;
                    }
                    _ => break,
                }
            }
            let mut head = [0u8; RUN_HEAD_BYTES_MAX];
            if !put(run_head(&run, &mut head)) {
                return Ok(false);
            }
            // The usual batch is one piece: its payloads are at hand.
            if run.count == first.count {
                if !put(first.data) {
                    return Ok(false);
                }
                continue;
            }
            let (mut copy, mut left) = (start, run.count);
            while left > 0 {
                let Some(Ok(piece)) = copy.next_run() else { return Err(MalformedEntries) };
                if !put(piece.data) {
                    return Ok(false);
                }
                left = left.saturating_sub(piece.count);
            }
        }
    }

    /// An upper bound of [`Entries::encoded_len`] found without walking the entries.
    pub(crate) fn encoded_len_bound(&self) -> usize {
        let per_entry = crate::limits::ENTRY_OVERHEAD_BYTES_MAX;
        match self.0 {
            Layout::Wire(bytes) => bytes.len(),
            Layout::History { first, last, payload_bytes, .. } => {
                (last.saturating_sub(first).saturating_add(1) as usize).saturating_mul(per_entry).saturating_add(payload_bytes)
            }
            Layout::Packed { table, data } => table.len().saturating_mul(per_entry).saturating_add(data.len()),
            Layout::Uniform { stride, data, .. } => {
                (data.len() / (stride as usize).max(1)).saturating_mul(per_entry).saturating_add(data.len())
            }
        }
    }

    /// Copies the entries held as values into `table` and `data` (see [`History::history_copy`]);
    /// false if one is malformed.
    #[cfg(feature = "alloc")]
    pub(crate) fn copy_into(&self, table: &mut alloc::vec::Vec<(Zxid, u32)>, data: &mut alloc::vec::Vec<u8>) -> Copied {
        match self.0 {
            Layout::History { history, first, last, .. } => history.history_copy(first, last, table, data),
            Layout::Uniform { first, stride, data: bytes } if stride > 0 && bytes.len() % stride as usize == 0 => {
                data.extend_from_slice(bytes);
                Copied::Uniform { first, stride }
            }
            _ => {
                for entry in self.iter() {
                    let Ok((zxid, payload)) = entry else { return Copied::Malformed };
                    table.push((zxid, payload.len() as u32));
                    data.extend_from_slice(payload);
                }
                Copied::Table
            }
        }
    }

    /// The batch as consecutive zxids of entries of one length, if it is held so (see
    /// [`Entries::from_uniform`]).
    #[inline]
    pub(crate) fn uniform(&self) -> Option<Uniform<'a>> {
        match self.0 {
            Layout::Uniform { first, stride, data } => Some(Uniform { first, stride, data }),
            _ => None,
        }
    }

    /// The table and payloads, if the batch is held so (see [`Entries::from_packed`]).
    #[inline]
    pub(crate) fn packed(&self) -> Option<Packed<'a>> {
        match self.0 {
            Layout::Packed { table, data } => Some((table, data)),
            _ => None,
        }
    }

    /// The runs of the wire encoding, if that is how the batch is held.
    #[inline]
    pub(crate) fn wire_runs(&self) -> Option<WireRuns<'a>> {
        self.wire_bytes().map(|bytes| WireRuns { bytes, at: 0 })
    }

    /// The wire encoding, if that is how the batch is held.
    pub(crate) fn wire_bytes(&self) -> Option<&'a [u8]> {
        match self.0 {
            Layout::Wire(bytes) => Some(bytes),
            _ => None,
        }
    }
}

impl PartialEq for Entries<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Entries<'_> {}

impl core::fmt::Debug for Entries<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Entries<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        if let Some(bytes) = self.wire_bytes() {
            return serializer.serialize_bytes(bytes);
        }
        // A batch held as values: its wire encoding, a byte at a time (postcard writes a
        // byte sequence the same way as a byte string). The hot path encodes by hand instead.
        let mut seq = serializer.serialize_seq(Some(self.encoded_len()))?;
        let mut failed = None;
        let emitted = self.emit(&mut |bytes| {
            let result = bytes.iter().try_for_each(|byte| seq.serialize_element(byte));
            result.map_err(|e| failed = Some(e)).is_ok()
        });
        if let Some(e) = failed {
            return Err(e);
        }
        emitted.map_err(|_| S::Error::custom("malformed entries"))?;
        seq.end()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Entries<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a [u8]>::deserialize(deserializer).map(Entries::from_wire)
    }
}

/// Iterates over [`Entries`].
#[derive(Clone)]
pub struct EntriesIter<'a>(IterState<'a>);

#[derive(Clone)]
enum IterState<'a> {
    /// The encoding, read from `at`; `run` is what is left of the run being read.
    Wire { bytes: &'a [u8], at: usize, run: Run<'a> },
    History { history: &'a dyn History, next: u64, last: u64 },
    Packed { table: core::slice::Iter<'a, (Zxid, u32)>, data: &'a [u8], at: usize },
    Uniform { next: u64, stride: usize, data: &'a [u8] },
}

impl<'a> Iterator for EntriesIter<'a> {
    type Item = Result<(Zxid, &'a [u8]), MalformedEntries>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterState::Wire { bytes, at, run } => {
                if let Some(entry) = run.pop_front() {
                    return Some(Ok(entry));
                }
                match next_run(bytes, at)? {
                    Ok(next) => {
                        *run = next;
                        run.pop_front().map(Ok)
                    }
                    Err(e) => Some(Err(e)),
                }
            }
            IterState::History { history, next, last } => {
                if *next > *last {
                    return None;
                }
                let entry = history.history_entry(*next);
                *next += 1;
                if entry.is_none() {
                    *next = last.saturating_add(1);
                }
                Some(entry.ok_or(MalformedEntries))
            }
            IterState::Packed { table, data, at } => {
                let &(zxid, len) = table.next()?;
                let end = at.saturating_add(len as usize);
                match data.get(*at..end) {
                    Some(payload) => {
                        *at = end;
                        Some(Ok((zxid, payload)))
                    }
                    None => {
                        *table = [].iter();
                        Some(Err(MalformedEntries))
                    }
                }
            }
            IterState::Uniform { next, stride, data } => {
                if data.is_empty() {
                    return None;
                }
                match data.split_at_checked(*stride).filter(|_| *stride > 0) {
                    Some((entry, rest)) => {
                        let zxid = Zxid::from_u64(*next);
                        (*next, *data) = (next.wrapping_add(1), rest);
                        Some(Ok((zxid, entry)))
                    }
                    None => {
                        *data = &[];
                        Some(Err(MalformedEntries))
                    }
                }
            }
        }
    }
}

impl<'a> EntriesIter<'a> {
    /// The next entries as one run: as many as the batch holds back to back with consecutive
    /// zxids and one stored length (a run of the wire, a stretch of the history), or one entry
    /// (a uniform copy, held only by a `MessageBuf` and rarely encoded, goes entry by entry).
    fn next_run(&mut self) -> Option<Result<Run<'a>, MalformedEntries>> {
        match &mut self.0 {
            IterState::Wire { bytes, at, run } => {
                if run.count > 0 {
                    return Some(Ok(core::mem::replace(run, Run::EMPTY)));
                }
                next_run(bytes, at)
            }
            // A lone entry: one lookup (the stretch it is in would take more).
            IterState::History { next, last, .. } if *next == *last => self.next_one(),
            IterState::History { history, next, last } if *next < *last => {
                let span = history.history_span(*next, *last).and_then(|span| {
                    let (count, stride) = (u32::try_from(span.count).ok()?, u32::try_from(span.stride).ok()?);
                    // Consecutive counters within the epoch.
                    let fits = stride > 0 && count > 0 && span.zxid.counter.checked_add(count - 1).is_some();
                    fits.then_some(Run { first: span.zxid, count, stride, data: span.bytes })
                });
                match span {
                    Some(run) => {
                        *next += u64::from(run.count);
                        Some(Ok(run))
                    }
                    None => self.next_one(),
                }
            }
            _ => self.next_one(),
        }
    }

    // Out of line: `next` inlined once here, not in every arm above.
    #[inline(never)]
    fn next_one(&mut self) -> Option<Result<Run<'a>, MalformedEntries>> {
        Some(self.next()?.map(|(zxid, payload)| Run::one(zxid, payload)))
    }
}

/// Bytes of a run's header at most: epoch, counter, `len << 1 | more`, count.
const RUN_HEAD_BYTES_MAX: usize = 5 + 5 + 5 + 5;
// A lone entry's header (no count) is at most `ENTRY_OVERHEAD_BYTES_MAX`, and a longer run's
// at most that per entry: so a batch never takes more than its entries framed alone, the
// bound the leader sizes batches by and the encoder leaves room for.
const _: () = assert!(RUN_HEAD_BYTES_MAX - 5 <= crate::limits::ENTRY_OVERHEAD_BYTES_MAX);
const _: () = assert!(RUN_HEAD_BYTES_MAX <= 2 * crate::limits::ENTRY_OVERHEAD_BYTES_MAX);

/// Writes the header of `run` into `head`; returns the bytes written.
fn run_head<'h>(run: &Run<'_>, head: &'h mut [u8; RUN_HEAD_BYTES_MAX]) -> &'h [u8] {
    let more = run.count > 1;
    let mut at = 0;
    let mut fields = [u64::from(run.first.epoch), u64::from(run.first.counter), u64::from(run.stride) << 1 | u64::from(more), u64::from(run.count)];
    let fields = if more { &mut fields[..] } else { &mut fields[..3] };
    for &mut v in fields {
        // Four varints of at most 5 bytes each always fit.
        at = varint::put(&mut head[..], at, v).unwrap_or(at);
    }
    &head[..at]
}

/// Reads the run at `bytes[*at..]` (see [`Entries`]). Checks every bound: each varint in its
/// range, a run of more than one of at least two entries of at least one byte (so a batch never
/// holds more entries than bytes) that stays in its epoch, its payloads inside `bytes`. On an
/// error, moves `at` to the end.
pub(crate) fn next_run<'a>(bytes: &'a [u8], at: &mut usize) -> Option<Result<Run<'a>, MalformedEntries>> {
    if *at >= bytes.len() {
        return None;
    }
    let parsed = (|| {
        let (epoch, at) = varint::get(bytes, *at, u32::MAX.into())?;
        let (counter, at) = varint::get(bytes, at, u32::MAX.into())?;
        let (head, at) = varint::get(bytes, at, u64::from(u32::MAX) << 1 | 1)?;
        let stride = head >> 1;
        let (count, at) = match head & 1 {
            0 => (1, at),
            _ => varint::get(bytes, at, u32::MAX.into())?,
        };
        if head & 1 == 1 && (count < 2 || stride == 0 || counter + count - 1 > u64::from(u32::MAX)) {
            return None;
        }
        let len = usize::try_from(stride.checked_mul(count)?).ok()?;
        let end = at.checked_add(len)?;
        let data = bytes.get(at..end)?;
        Some((Run { first: Zxid::new(epoch as u32, counter as u32), count: count as u32, stride: stride as u32, data }, end))
    })();
    match parsed {
        Some((run, end)) => {
            *at = end;
            Some(Ok(run))
        }
        None => {
            *at = bytes.len();
            Some(Err(MalformedEntries))
        }
    }
}

/// The runs of entries in their wire encoding, checked as they are read.
#[derive(Clone)]
pub(crate) struct WireRuns<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl WireRuns<'_> {
    /// Whether every run has been read.
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        self.at >= self.bytes.len()
    }
}

impl<'a> Iterator for WireRuns<'a> {
    type Item = Result<Run<'a>, MalformedEntries>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        next_run(self.bytes, &mut self.at)
    }
}

/// PROPOSAL (Paxos accept): entries after `prev`, and the leader's commit point.
/// Also DIFF during sync and INFORM to observers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal<'a> {
    /// The leader's epoch.
    pub epoch: u32,
    /// The zxid right before the first entry (Zxid::ZERO or the snapshot point at the start).
    pub prev: Zxid,
    /// Everything up to this zxid is committed.
    pub commit: Zxid,
    /// The entries, in zxid order.
    #[serde(borrow)]
    pub entries: Entries<'a>,
}

/// A chunk of a snapshot (SNAP sync).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapChunk<'a> {
    /// The leader's epoch.
    pub epoch: u32,
    /// The handshake this chunk belongs to (see [`Message::FollowerInfo`]).
    pub exchange: u64,
    /// Log position the snapshot covers up to.
    pub index: u64,
    /// Zxid the snapshot covers up to.
    pub zxid: Zxid,
    /// Offset of this chunk in the snapshot.
    pub offset: u32,
    /// Snapshot length in bytes.
    pub total: u32,
    /// The chunk.
    #[serde(borrow)]
    pub data: Bytes<'a>,
}

/// Every message. Variant order is the wire format: append only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message<'a> {
    /// Fast leader election notification.
    Notification {
        /// The sender's logical clock (election round).
        round: u64,
        /// The sender's state.
        state: PeerState,
        /// The sender's vote.
        vote: Vote,
        /// The zxid of the last membership entry the sender knows committed (zero: none).
        /// A node holding that entry as pending may take it as committed: after a restart,
        /// nodes that saw the commit and nodes that did not would otherwise count different
        /// voters and might never agree.
        membership: Zxid,
    },
    /// FOLLOWERINFO / OBSERVERINFO: a learner's accepted epoch, sent to the elected leader.
    /// It opens a handshake: every message from here to the acknowledgement of NEWLEADER,
    /// both ways (SNAP chunks and acknowledgements included), carries its `exchange`, and
    /// one of another handshake is refused (`StepError::OtherExchange`). The id never
    /// repeats: the learner's incarnation (one more, durable, at every start) in the high
    /// 32 bits, a count of this start's handshakes in the low 32.
    FollowerInfo {
        /// The learner's accepted epoch (highest epoch promised).
        accepted_epoch: u32,
        /// The handshake's id.
        exchange: u64,
    },
    /// LEADERINFO / NEWEPOCH (Paxos prepare): the epoch the leader proposes.
    LeaderInfo {
        /// The new epoch.
        epoch: u32,
        /// The handshake answered.
        exchange: u64,
    },
    /// ACKEPOCH (Paxos promise), sent once the promise is durable.
    AckEpoch {
        /// The epoch promised.
        epoch: u32,
        /// The handshake.
        exchange: u64,
        /// The learner's current epoch (of the last history it accepted).
        current_epoch: u32,
        /// The learner's last durable zxid.
        last: Zxid,
        /// Whether this is a promise. A learner that promised the same epoch to
        /// another candidate joins without promising: it may sync and acknowledge
        /// proposals (that candidate can never gather a majority) but does not
        /// count towards this leader's discovery quorum.
        promised: bool,
    },
    /// TRUNC: drop every entry after `to`.
    Trunc {
        /// The leader's epoch.
        epoch: u32,
        /// The handshake.
        exchange: u64,
        /// Last zxid to keep.
        to: Zxid,
    },
    /// PROPOSAL / DIFF.
    Proposal(#[serde(borrow)] Proposal<'a>),
    /// NEWLEADER: "your history now equals mine up to `last`; adopt `epoch`".
    NewLeader {
        /// The new epoch.
        epoch: u32,
        /// The handshake.
        exchange: u64,
        /// The leader's last zxid when sync of this learner ended.
        last: Zxid,
    },
    /// ACK (Paxos accepted): durable up to `zxid` with current epoch `epoch`.
    Ack {
        /// The epoch acknowledged.
        epoch: u32,
        /// The handshake that synced this learner: an ACK of an earlier one (late, or
        /// replayed) neither finishes a sync nor counts.
        exchange: u64,
        /// Durable up to here.
        zxid: Zxid,
    },
    /// COMMIT: committed up to `zxid`.
    Commit {
        /// The leader's epoch.
        epoch: u32,
        /// Committed up to here.
        zxid: Zxid,
    },
    /// Leader heartbeat; carries the commit point and asks for an ACK.
    Heartbeat {
        /// The leader's epoch.
        epoch: u32,
        /// Committed up to here.
        commit: Zxid,
    },
    /// A learner's report of where its history ends (during sync or after a gap).
    SyncState {
        /// The leader's epoch.
        epoch: u32,
        /// The handshake.
        exchange: u64,
        /// The learner's last zxid.
        last: Zxid,
    },
    /// SNAP chunk.
    SnapChunk(#[serde(borrow)] SnapChunk<'a>),
    /// The learner holds the snapshot at `index` up to `offset`.
    SnapAck {
        /// The leader's epoch.
        epoch: u32,
        /// The handshake.
        exchange: u64,
        /// The position the snapshot covers up to (which snapshot is acknowledged).
        index: u64,
        /// Bytes received so far.
        offset: u32,
    },
    /// A proposal made at a learner, forwarded to the leader.
    Forward {
        /// The epoch of the leader it is forwarded to: a leader takes only its own epoch's
        /// forwards, so one replayed to a later leader is not proposed again.
        epoch: u32,
        /// The forwarding learner's handshake with that leader (see `Message::FollowerInfo`):
        /// a leader takes only forwards of the handshake under way with the sender, so one
        /// replayed from before a restart or a re-sync is not proposed again.
        exchange: u64,
        /// The forwarding node's sequence number, rising by one per forward, so a
        /// duplicated (or replayed) FORWARD of the handshake is not proposed twice.
        seq: u32,
        /// The payload.
        #[serde(borrow)]
        payload: Bytes<'a>,
    },
    /// INFORM: committed entries for an observer.
    Inform(#[serde(borrow)] Proposal<'a>),
    /// A read asked at a learner, sent to the leader for its read point.
    ReadRequest {
        /// The leader's epoch.
        epoch: u32,
        /// The learner's read id.
        id: u32,
        /// Linearizable (the leader confirms it still leads) or sync.
        linearizable: bool,
    },
    /// The read point: once the learner has applied up to `zxid`, its local read is served.
    ReadReply {
        /// The leader's epoch.
        epoch: u32,
        /// The learner's read id.
        id: u32,
        /// Apply up to here, then read.
        zxid: Zxid,
    },
    /// The leader asks voters whether it still leads (for linearizable reads).
    ReadProbe {
        /// The leader's epoch.
        epoch: u32,
        /// Rises with every probe.
        round: u32,
    },
    /// A voter still follows this leader as of probe `round`.
    ReadProbeAck {
        /// The leader's epoch.
        epoch: u32,
        /// The probe answered.
        round: u32,
    },
    /// Leadership transfer: the leader steps down in favour of `to`, which holds its whole
    /// history; `to` starts discovery for a new epoch and the others follow it.
    Handover {
        /// The leader's epoch.
        epoch: u32,
        /// The new leader.
        to: NodeId,
    },
    /// FETCH (the history step of the ZAB paper's discovery): a leader whose promisers
    /// include one with a newer history than its own asks that promiser for it before it
    /// establishes its epoch, so that the node elected (say, the only one a majority can
    /// reach) need not hold the newest history itself.
    Fetch {
        /// The epoch being established.
        epoch: u32,
        /// The handshake with the promiser (see [`Message::FollowerInfo`]).
        exchange: u64,
        /// Send what follows your last entry at or before this zxid (the leader's probe
        /// for the point where both histories agree).
        from: Zxid,
        /// Up to this zxid: the last one the promiser reported in its ACKEPOCH.
        to: Zxid,
    },
    /// FETCHED: entries of a promiser's history that follow `prev` there, answering FETCH.
    Fetched {
        /// The epoch being established.
        epoch: u32,
        /// The handshake.
        exchange: u64,
        /// The zxid right before the first entry (the promiser's snapshot point when it has
        /// compacted past the leader's probe).
        prev: Zxid,
        /// The entries, in zxid order.
        #[serde(borrow)]
        entries: Entries<'a>,
    },
}

/// Postcard variant indexes of the messages encoded by hand.
pub(crate) const TAG_PROPOSAL: u8 = 5;
pub(crate) const TAG_INFORM: u8 = 14;

impl Message<'_> {
    /// The epoch a message belongs to, if it is tied to one leader's reign.
    pub fn epoch(&self) -> Option<u32> {
        match *self {
            Message::Notification { .. } | Message::FollowerInfo { .. } => None,
            Message::LeaderInfo { epoch, .. }
            | Message::AckEpoch { epoch, .. }
            | Message::Trunc { epoch, .. }
            | Message::NewLeader { epoch, .. }
            | Message::Ack { epoch, .. }
            | Message::Commit { epoch, .. }
            | Message::Heartbeat { epoch, .. }
            | Message::SyncState { epoch, .. }
            | Message::SnapAck { epoch, .. }
            | Message::ReadRequest { epoch, .. }
            | Message::ReadReply { epoch, .. }
            | Message::ReadProbe { epoch, .. }
            | Message::ReadProbeAck { epoch, .. }
            | Message::Handover { epoch, .. }
            | Message::Fetch { epoch, .. }
            | Message::Fetched { epoch, .. }
            | Message::Forward { epoch, .. } => Some(epoch),
            Message::Proposal(p) | Message::Inform(p) => Some(p.epoch),
            Message::SnapChunk(c) => Some(c.epoch),
        }
    }

    /// The learner handshake a message belongs to, if it is part of one.
    pub fn exchange(&self) -> Option<u64> {
        match *self {
            Message::FollowerInfo { exchange, .. }
            | Message::LeaderInfo { exchange, .. }
            | Message::AckEpoch { exchange, .. }
            | Message::Trunc { exchange, .. }
            | Message::NewLeader { exchange, .. }
            | Message::Ack { exchange, .. }
            | Message::SyncState { exchange, .. }
            | Message::SnapAck { exchange, .. }
            | Message::Fetch { exchange, .. }
            | Message::Fetched { exchange, .. }
            | Message::Forward { exchange, .. } => Some(exchange),
            Message::SnapChunk(c) => Some(c.exchange),
            _ => None,
        }
    }

    /// A short name for traces and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Notification { .. } => "NOTIFICATION",
            Message::FollowerInfo { .. } => "FOLLOWERINFO",
            Message::LeaderInfo { .. } => "LEADERINFO",
            Message::AckEpoch { .. } => "ACKEPOCH",
            Message::Trunc { .. } => "TRUNC",
            Message::Proposal(_) => "PROPOSAL",
            Message::NewLeader { .. } => "NEWLEADER",
            Message::Ack { .. } => "ACK",
            Message::Commit { .. } => "COMMIT",
            Message::Heartbeat { .. } => "HEARTBEAT",
            Message::SyncState { .. } => "SYNCSTATE",
            Message::SnapChunk(_) => "SNAP",
            Message::SnapAck { .. } => "SNAPACK",
            Message::Forward { .. } => "FORWARD",
            Message::Inform(_) => "INFORM",
            Message::ReadRequest { .. } => "READ",
            Message::ReadReply { .. } => "READREPLY",
            Message::ReadProbe { .. } => "READPROBE",
            Message::ReadProbeAck { .. } => "READPROBEACK",
            Message::Handover { .. } => "HANDOVER",
            Message::Fetch { .. } => "FETCH",
            Message::Fetched { .. } => "FETCHED",
        }
    }
}
