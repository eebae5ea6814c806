//! A node's disk, held by its host apart from the node: what was made durable, and the calls
//! still being written, in fixed capacity (no allocator).
//!
//! The host drains the node into it with `Node::persist`; the calls of one drain become one
//! group, finished some ticks later and only then reported with `Node::durable`. A crash loses
//! the calls not yet written; a restart loads the node, emptied, from what was written
//! (`Node::restart_from`). The host never looks into the node's storage to know what is durable.
//!
//! As the contract of `zaxos::persist` allows, the disk may write calls before their group is
//! due (when its queue is full it writes the oldest to make room); a crash then keeps those, a
//! prefix of what it was handed.
use heapless::Deque;
use zaxos::persist::{Durable, LoadError, Loader, Persist};
use zaxos::storage::{HardState, Storage};
use zaxos::Zxid;

/// Entries the disk holds after its snapshot (the node's own history holds no more).
pub const DISK_ENTRIES: usize = crate::LOG_ENTRIES;
/// Largest entry it stores: the scenario's payloads.
pub const DISK_ENTRY_BYTES: usize = crate::PAYLOAD_BYTES;
/// Calls handed over and not yet written. Each slot is 28 bytes (a hard state, or an append
/// with its payload) and every node's disk has them: four per node is what the micro:bit's
/// 16 KiB leave room for. A fuller queue writes its oldest call early, which the contract allows.
pub const CALLS_IN_FLIGHT: usize = 4;
/// Drains handed over and not yet reported durable (a fuller queue finishes its oldest early).
const GROUPS_IN_FLIGHT: usize = 3;

// Positions and lengths are kept in bytes.
const _: () = assert!(DISK_ENTRIES <= 255 && DISK_ENTRY_BYTES <= 255 && crate::SNAPSHOT_BYTES <= 255);

/// Why the disk refused a call. The scenario's capacities are chosen so that none happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskError {
    /// An entry or a snapshot larger than the disk's slots.
    TooLarge,
    /// More entries after the snapshot than the disk holds.
    Full,
    /// An append past the end of the history. The node makes one only when it compacted
    /// between two drains; this host drains after every input, and a disk with room for one
    /// history cannot keep entries past a hole until the snapshot that closes it.
    Gap,
}

/// One `Persist` call not yet written. A snapshot's bytes wait in [`Disk::pending_snapshot`].
#[derive(Clone, Copy, Debug)]
enum Call {
    Hard(HardState),
    Append { index: u32, zxid: Zxid, len: u8, bytes: [u8; DISK_ENTRY_BYTES] },
    Truncate { after: u32 },
    Snapshot { index: u32, zxid: Zxid, replaces_history: bool },
}

/// The calls of one drain: reported as `seq` once written, not before tick `due`. `end` counts
/// the calls handed over up to its last one.
#[derive(Clone, Copy, Debug)]
struct Group {
    seq: u32,
    due: u32,
    end: u32,
}

/// What a disk has written, and what it is writing.
pub struct Disk {
    hard: HardState,
    snapshot_index: u32,
    snapshot_zxid: Zxid,
    snapshot_len: u8,
    snapshot: [u8; crate::SNAPSHOT_BYTES],
    /// Entries at positions `snapshot_index + 1 ..= snapshot_index + count`.
    count: u8,
    zxids: [Zxid; DISK_ENTRIES],
    lens: [u8; DISK_ENTRIES],
    payloads: [[u8; DISK_ENTRY_BYTES]; DISK_ENTRIES],
    calls: Deque<Call, CALLS_IN_FLIGHT>,
    /// The bytes of the snapshot call in flight (at most one: a second writes the first).
    pending_snapshot: [u8; crate::SNAPSHOT_BYTES],
    pending_snapshot_len: u8,
    groups: Deque<Group, GROUPS_IN_FLIGHT>,
    /// Calls ever handed over, and ever written or lost: `calls` holds the difference.
    handed: u32,
    retired: u32,
}

impl Disk {
    /// An empty disk.
    pub const NEW: Disk = Disk {
        hard: HardState::ZERO,
        snapshot_index: 0,
        snapshot_zxid: Zxid::ZERO,
        snapshot_len: 0,
        snapshot: [0; crate::SNAPSHOT_BYTES],
        count: 0,
        zxids: [Zxid::ZERO; DISK_ENTRIES],
        lens: [0; DISK_ENTRIES],
        payloads: [[0; DISK_ENTRY_BYTES]; DISK_ENTRIES],
        calls: Deque::new(),
        pending_snapshot: [0; crate::SNAPSHOT_BYTES],
        pending_snapshot_len: 0,
        groups: Deque::new(),
        handed: 0,
        retired: 0,
    };

    /// The last position written.
    pub fn last_index(&self) -> u64 {
        u64::from(self.snapshot_index) + u64::from(self.count)
    }

    /// Drains handed over and not yet reported durable.
    pub fn groups_in_flight(&self) -> usize {
        self.groups.len()
    }

    /// Makes the calls handed over since the last group one group, reported as `seq` (what
    /// `Node::persist` returned) at tick `due` or later. When too many groups are in flight the
    /// oldest is written at once to make room: its sequence number is returned, to report.
    pub fn submit(&mut self, seq: u64, due: u32) -> Result<Option<u64>, DiskError> {
        let mut finished = None;
        if self.groups.is_full() {
            finished = self.finish_oldest()?;
        }
        // Groups finish in order: never before the one ahead of it.
        let due = self.groups.back().map_or(due, |g| g.due.max(due));
        // A run hands out far fewer than 2^32 writes.
        let group = Group { seq: seq as u32, due, end: self.handed };
        let _ = self.groups.push_back(group);
        Ok(finished)
    }

    /// Writes every group due by `tick`; returns the last sequence number made durable.
    pub fn complete(&mut self, tick: u32) -> Result<Option<u64>, DiskError> {
        let mut done = None;
        while self.groups.front().is_some_and(|g| g.due <= tick) {
            done = self.finish_oldest()?;
        }
        Ok(done)
    }

    /// A crash: every call not yet written is lost.
    pub fn crash(&mut self) {
        self.calls.clear();
        self.groups.clear();
        self.pending_snapshot_len = 0;
        self.retired = self.handed;
    }

    fn finish_oldest(&mut self) -> Result<Option<u64>, DiskError> {
        let Some(group) = self.groups.pop_front() else { return Ok(None) };
        while self.retired < group.end {
            self.write_oldest()?;
        }
        Ok(Some(u64::from(group.seq)))
    }

    /// Writes the oldest call in flight.
    fn write_oldest(&mut self) -> Result<(), DiskError> {
        let Some(call) = self.calls.pop_front() else {
            // Nothing left: the counters agree again.
            self.retired = self.handed;
            return Ok(());
        };
        self.retired += 1;
        match call {
            Call::Hard(hard) => self.hard = hard,
            Call::Append { index, zxid, len, bytes } => self.write_append(index, zxid, len, bytes)?,
            Call::Truncate { after } => self.write_truncate(after),
            Call::Snapshot { index, zxid, replaces_history } => self.write_snapshot(index, zxid, replaces_history),
        }
        Ok(())
    }

    fn hand_over(&mut self, call: Call) -> Result<(), DiskError> {
        if self.calls.is_full() {
            self.write_oldest()?;
        }
        self.calls.push_back(call).map_err(|_| DiskError::Full)?;
        self.handed += 1;
        Ok(())
    }

    fn zxid_at(&self, index: u32) -> Option<Zxid> {
        if index == self.snapshot_index {
            return Some(self.snapshot_zxid);
        }
        let slot = index.checked_sub(self.snapshot_index + 1)?;
        self.zxids.get(slot as usize).filter(|_| slot < u32::from(self.count)).copied()
    }

    fn write_append(&mut self, index: u32, zxid: Zxid, len: u8, bytes: [u8; DISK_ENTRY_BYTES]) -> Result<(), DiskError> {
        // An append starts after the node's snapshot, which is never behind this one.
        let Some(slot) = index.checked_sub(self.snapshot_index + 1) else { return Ok(()) };
        if slot > u32::from(self.count) {
            return Err(DiskError::Gap);
        }
        let slot = slot as usize;
        let (Some(z), Some(l), Some(p)) = (self.zxids.get_mut(slot), self.lens.get_mut(slot), self.payloads.get_mut(slot)) else {
            return Err(DiskError::Full);
        };
        (*z, *l, *p) = (zxid, len, bytes);
        // It replaces the entry at `index` and every one after it.
        self.count = slot as u8 + 1;
        Ok(())
    }

    fn write_truncate(&mut self, after: u32) {
        let keep = after.saturating_sub(self.snapshot_index);
        self.count = self.count.min(keep.min(255) as u8);
    }

    fn write_snapshot(&mut self, index: u32, zxid: Zxid, replaces_history: bool) {
        let last = self.last_index();
        if replaces_history || u64::from(index) > last || self.zxid_at(index) != Some(zxid) {
            // A snapshot from the leader, or one past what is held: it replaces everything.
            self.count = 0;
        } else {
            // Keep the entries after it, moved to the front.
            let drop = (index - self.snapshot_index) as usize;
            let count = usize::from(self.count);
            self.zxids.copy_within(drop..count, 0);
            self.lens.copy_within(drop..count, 0);
            self.payloads.copy_within(drop..count, 0);
            self.count = (count - drop) as u8;
        }
        self.snapshot_index = index;
        self.snapshot_zxid = zxid;
        self.snapshot = self.pending_snapshot;
        self.snapshot_len = self.pending_snapshot_len;
        self.pending_snapshot_len = 0;
    }
}

impl Persist for Disk {
    type Error = DiskError;

    fn hard_state(&mut self, state: &HardState) -> Result<(), DiskError> {
        self.hand_over(Call::Hard(*state))
    }

    fn append(&mut self, index: u64, zxid: Zxid, stored: &[u8]) -> Result<(), DiskError> {
        let mut bytes = [0; DISK_ENTRY_BYTES];
        bytes.get_mut(..stored.len()).ok_or(DiskError::TooLarge)?.copy_from_slice(stored);
        let index = u32::try_from(index).map_err(|_| DiskError::Full)?;
        self.hand_over(Call::Append { index, zxid, len: stored.len() as u8, bytes })
    }

    fn truncate_after(&mut self, index: u64) -> Result<(), DiskError> {
        let after = u32::try_from(index).unwrap_or(u32::MAX);
        self.hand_over(Call::Truncate { after })
    }

    fn snapshot(&mut self, index: u64, zxid: Zxid, data: &[u8], replaces_history: bool) -> Result<(), DiskError> {
        let index = u32::try_from(index).map_err(|_| DiskError::Full)?;
        // One snapshot's bytes wait at a time: write every call up to the one in flight.
        while self.pending_snapshot_len > 0 && !self.calls.is_empty() {
            self.write_oldest()?;
        }
        self.pending_snapshot.get_mut(..data.len()).ok_or(DiskError::TooLarge)?.copy_from_slice(data);
        self.pending_snapshot_len = data.len() as u8;
        self.hand_over(Call::Snapshot { index, zxid, replaces_history })
    }
}

impl Durable for Disk {
    type Error = DiskError;

    fn load<S: Storage>(&mut self, loader: &mut Loader<'_, S>) -> Result<(), LoadError<DiskError>> {
        loader.hard_state(self.hard);
        if self.snapshot_index > 0 {
            let data = self.snapshot.get(..usize::from(self.snapshot_len)).unwrap_or(&[]);
            loader.snapshot_chunk(0, data)?;
            loader.snapshot_end(u64::from(self.snapshot_index), self.snapshot_zxid)?;
        }
        for slot in 0..usize::from(self.count) {
            let (Some(&zxid), Some(&len), Some(payload)) = (self.zxids.get(slot), self.lens.get(slot), self.payloads.get(slot)) else { break };
            let stored = payload.get(..usize::from(len)).unwrap_or(&[]);
            loader.entry(u64::from(self.snapshot_index) + 1 + slot as u64, zxid, stored)?;
        }
        Ok(())
    }
}
