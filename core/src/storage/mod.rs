//! Where the history lives: one trait, a fixed-capacity implementation for
//! boards with no allocator, and a growable one behind the `alloc` feature.
//!
//! A `Storage` is the node's in-memory copy of its persistent state. The node
//! changes it and tells the host, through [`crate::Write`]s, what to make
//! durable; after a crash [`crate::Node::recover`] fills an empty `Storage` from
//! what a store made durable (see [`crate::persist`]).

#[cfg(feature = "alloc")]
mod extents;
mod fixed;
#[cfg(feature = "alloc")]
mod growable;

pub use fixed::HeaplessStorage;
#[cfg(feature = "alloc")]
pub use growable::VecStorage;

use crate::{NodeId, Zxid};

/// The persistent variables of ZAB besides the history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HardState {
    /// The highest epoch promised (Paxos: the highest ballot promised).
    pub accepted_epoch: u32,
    /// The leader the promise of `accepted_epoch` was made to (the ballot's proposer).
    pub promised_leader: NodeId,
    /// The epoch of the last NEWLEADER accepted: whose history this node holds.
    pub current_epoch: u32,
    /// How many times this node started; one more, durable, at every start. It makes the
    /// ids of a learner's handshakes unique across restarts (see `Message::FollowerInfo`)
    /// and reseeds the node's randomness, so a host needs no fresh seed per start.
    pub incarnation: u32,
    /// Everything up to this zxid is known committed here: a floor that survives a restart,
    /// below which nothing is ever truncated. Written lazily (it may lag the commit point).
    pub commit_floor: Zxid,
}

impl HardState {
    /// The hard state of a node that never started.
    pub const ZERO: HardState = HardState { accepted_epoch: 0, promised_leader: 0, current_epoch: 0, incarnation: 0, commit_floor: Zxid::ZERO };
}

/// Why storage refused a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageError {
    /// No room for the entry (entries or bytes); take a snapshot to make room.
    Full,
    /// The snapshot is larger than the snapshot capacity.
    SnapshotTooLarge,
    /// The position is outside the history.
    OutOfRange,
}

/// Entries at consecutive positions that share one stored length and whose zxids count up by
/// one, as [`Storage::span`] finds them: read in order without a lookup each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span<'a> {
    /// How many entries.
    pub count: u64,
    /// The stored length of each.
    pub stride: usize,
    /// Their stored bytes, back to back (`count * stride` bytes).
    pub bytes: &'a [u8],
    /// The zxid of the first; each next one's counter is one more.
    pub zxid: Zxid,
}

/// The history, the snapshot and the hard state, in memory.
///
/// Positions (`index`) number entries from 1 since the beginning of time; the
/// snapshot covers every position up to `snapshot_point().0`.
pub trait Storage {
    /// The hard state.
    fn hard_state(&self) -> HardState;
    /// Replaces the hard state.
    fn set_hard_state(&mut self, state: HardState);
    /// The position and zxid the snapshot covers (`(0, Zxid::ZERO)` if none).
    fn snapshot_point(&self) -> (u64, Zxid);
    /// The snapshot's bytes.
    fn snapshot_data(&self) -> &[u8];
    /// Position of the last entry (the snapshot position when the history is empty).
    fn last_index(&self) -> u64;
    /// The zxid at `index`; the snapshot position gives the snapshot's zxid.
    fn zxid_at(&self, index: u64) -> Option<Zxid>;
    /// The stored bytes at `index` (a command's payload, or a framed entry: see [`crate::stored`]).
    fn payload_at(&self, index: u64) -> Option<&[u8]>;
    /// Whether an entry of `payload_len` bytes fits now.
    fn can_append(&self, payload_len: usize) -> bool;
    /// Appends an entry whose stored bytes are `head` then `body`; returns its position.
    fn append_parts(&mut self, zxid: Zxid, head: &[u8], body: &[u8]) -> Result<u64, StorageError>;
    /// Appends an entry of stored bytes `stored` (as [`Storage::payload_at`] gives them back);
    /// returns its position.
    #[inline]
    fn append(&mut self, zxid: Zxid, stored: &[u8]) -> Result<u64, StorageError> {
        self.append_parts(zxid, &[], stored)
    }
    /// Drops every entry after `index` (`index` at least the snapshot position).
    fn truncate_after(&mut self, index: u64) -> Result<(), StorageError>;
    /// Takes `head` then `data` as the snapshot up to `index` and drops the entries it covers.
    fn compact_through(&mut self, index: u64, head: &[u8], data: &[u8]) -> Result<(), StorageError>;
    /// Writes a chunk of a snapshot being received, without touching the current one.
    fn receive_snapshot_chunk(&mut self, offset: u32, chunk: &[u8]) -> Result<(), StorageError>;
    /// Replaces everything with the received snapshot of `len` bytes at `(index, zxid)`.
    /// If the history holds `zxid` at `index`, the entries after it stay (they are the same
    /// history, and may be acknowledged); otherwise every entry goes. Returns whether every
    /// entry went.
    fn install_received_snapshot(&mut self, index: u64, zxid: Zxid, len: u32) -> Result<bool, StorageError>;
    /// Fraction of capacity in use, in percent (the fuller of entries and bytes).
    fn used_percent(&self) -> u8;

    /// The zxid and payload at `index` (one lookup where the two above take two).
    fn entry_at(&self, index: u64) -> Option<(Zxid, &[u8])> {
        Some((self.zxid_at(index)?, self.payload_at(index)?))
    }

    /// The entries from position `first` on (at most through `last`) that share one stored
    /// length and count their zxids up by one, if this storage keeps them so (`None`: the
    /// caller looks them up one by one). Lets entries be applied without a lookup each.
    #[inline]
    fn span(&self, first: u64, last: u64) -> Option<Span<'_>> {
        let _ = (first, last);
        None
    }

    /// The payloads of positions `first..=last` back to back, if this storage holds them so
    /// (`None`: the caller walks the entries). Lets a batch be sized and copied in one step.
    #[inline]
    fn payloads(&self, first: u64, last: u64) -> Option<&[u8]> {
        let _ = (first, last);
        None
    }

    /// Pushes the zxid and payload length of positions `first..=last` onto `table`; false
    /// (with some pushed) if one is missing. With [`Storage::payloads`], copies a batch.
    #[cfg(feature = "alloc")]
    fn entry_table(&self, first: u64, last: u64, table: &mut alloc::vec::Vec<(Zxid, u32)>) -> bool {
        for index in first..=last {
            let Some((zxid, payload)) = self.entry_at(index) else { return false };
            table.push((zxid, payload.len() as u32));
        }
        true
    }

    /// Appends entries given as `(zxid, payload length)` in `table` with their payloads back
    /// to back in `data`, in order, as many as fit (and as `data` holds); returns how many.
    /// The caller has checked that the zxids grow.
    fn append_packed(&mut self, table: &[(Zxid, u32)], data: &[u8]) -> usize {
        append_each(self, table, data)
    }

    /// Appends the entries of `data`, `stride` bytes each, under consecutive zxids from
    /// `first` (each next one's counter one more), in order, as many as fit; returns how
    /// many. The caller has checked that `first` follows the last zxid, that `stride` is not
    /// zero and that `data` is a whole number of entries.
    fn append_uniform(&mut self, first: Zxid, stride: usize, data: &[u8]) -> usize {
        append_uniform_each(self, first, stride, data)
    }

    /// The last zxid (the snapshot's when the history is empty).
    #[inline]
    fn last_zxid(&self) -> Zxid {
        self.zxid_at(self.last_index()).unwrap_or(Zxid::ZERO)
    }

    /// Position of `zxid`, if present (or if it is the snapshot's). Binary search:
    /// zxids grow with positions.
    fn index_of(&self, zxid: Zxid) -> Option<u64> {
        if let Some(index) = self.index_within_last_epoch(zxid) {
            return Some(index);
        }
        let (mut lo, mut hi) = (self.snapshot_point().0, self.last_index());
        while lo <= hi {
            let mid = lo + (hi - lo) / 2;
            let at = self.zxid_at(mid)?;
            match at.cmp(&zxid) {
                core::cmp::Ordering::Equal => return Some(mid),
                core::cmp::Ordering::Less => lo = mid + 1,
                core::cmp::Ordering::Greater => hi = mid.checked_sub(1)?,
            }
        }
        None
    }

    /// The position of `zxid` found in one lookup when it is in the last entry's epoch and
    /// that epoch's counters run without a gap back to it (a leader numbers its proposals
    /// consecutively, so that is the usual case: ACKs and commit points near the end).
    #[inline]
    fn index_within_last_epoch(&self, zxid: Zxid) -> Option<u64> {
        let last_index = self.last_index();
        let last = self.zxid_at(last_index)?;
        if zxid.epoch != last.epoch || zxid.counter > last.counter {
            return None;
        }
        let guess = last_index.checked_sub(u64::from(last.counter - zxid.counter))?;
        (guess >= self.snapshot_point().0 && self.zxid_at(guess) == Some(zxid)).then_some(guess)
    }

    /// Position of the last entry whose zxid is at most `zxid`; `None` when
    /// `zxid` is older than the snapshot (the answer was compacted away).
    fn index_at_or_before(&self, zxid: Zxid) -> Option<u64> {
        let (snap, snap_zxid) = self.snapshot_point();
        if zxid < snap_zxid {
            return None;
        }
        if zxid >= self.last_zxid() {
            return Some(self.last_index());
        }
        if let Some(index) = self.index_within_last_epoch(zxid) {
            return Some(index);
        }
        let (mut lo, mut hi) = (snap, self.last_index());
        // Invariant: zxid_at(lo) <= zxid.
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            match self.zxid_at(mid) {
                Some(at) if at <= zxid => lo = mid,
                _ => hi = mid - 1,
            }
        }
        Some(lo)
    }
}

/// [`Storage::append_packed`] one entry at a time.
pub(crate) fn append_each<S: Storage + ?Sized>(storage: &mut S, table: &[(Zxid, u32)], data: &[u8]) -> usize {
    let mut at = 0usize;
    for (count, &(zxid, len)) in table.iter().enumerate() {
        let end = at.saturating_add(len as usize);
        match data.get(at..end) {
            Some(payload) if storage.append(zxid, payload).is_ok() => at = end,
            _ => return count,
        }
    }
    table.len()
}

/// [`Storage::append_uniform`] one entry at a time.
pub(crate) fn append_uniform_each<S: Storage + ?Sized>(storage: &mut S, first: Zxid, stride: usize, data: &[u8]) -> usize {
    let mut zxid = first.as_u64();
    let mut count = 0;
    for entry in data.chunks_exact(stride.max(1)) {
        if storage.append(Zxid::from_u64(zxid), entry).is_err() {
            break;
        }
        (zxid, count) = (zxid.wrapping_add(1), count + 1);
    }
    count
}

#[cfg(test)]
pub(crate) mod contract;
