//! A simulated disk: what a node made durable, written in order after a delay.
//!
//! The host hands it every pending write with [`crate::Node::persist`], as any host does: the
//! disk stages the [`Persist`] calls of that drain, and [`Disk::submit`] turns them into one
//! group in flight, durable at a given tick and never before the group ahead of it. A crash
//! keeps the disk and, as the contract in [`crate::persist`] allows, a prefix of the calls
//! still in flight: none of them, or (a torn write) some whole calls of the oldest groups —
//! a hard state without the append after it, the first entries of an append.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::persist::{Durable, LoadError, Loader, Persist};
use crate::storage::{HardState, Storage, VecStorage};
use crate::Zxid;

/// An entry as held: its zxid and stored bytes.
type Entry = (Zxid, Vec<u8>);

/// One [`Persist`] call, with the bytes copied when the node lent them.
#[derive(Clone, Debug)]
enum Call {
    Hard(HardState),
    Append { index: u64, zxid: Zxid, stored: Vec<u8> },
    Truncate { after: u64 },
    Snapshot { index: u64, zxid: Zxid, data: Vec<u8>, replaces_history: bool },
}

/// The calls of one drain, made durable together at `durable_at`, reported as `seq`.
#[derive(Clone, Debug)]
struct Group {
    seq: u64,
    durable_at: u64,
    calls: Vec<Call>,
}

/// Durable state of one node.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    /// The durable hard state.
    pub hard: HardState,
    /// Snapshot position, zxid and bytes.
    pub snapshot: (u64, Zxid, Vec<u8>),
    /// Entries after the snapshot, in order.
    pub entries: Vec<(Zxid, Vec<u8>)>,
    /// Entries appended past the end of the durable history (the node compacted the
    /// positions between before the drain): the snapshot after them in the same drain closes
    /// the gap; until it does, a restart drops them.
    past_gap: Option<(u64, Vec<Entry>)>,
    /// Calls of the drain in progress, not yet a group.
    staged: Vec<Call>,
    queue: VecDeque<Group>,
    /// The last position the history will have once every call handed over lands (what the
    /// node that made them holds, if it handed over a write for everything it holds).
    written_last: u64,
}

impl Persist for Disk {
    type Error = core::convert::Infallible;

    fn hard_state(&mut self, state: &HardState) -> Result<(), Self::Error> {
        self.staged.push(Call::Hard(*state));
        Ok(())
    }

    fn append(&mut self, index: u64, zxid: Zxid, stored: &[u8]) -> Result<(), Self::Error> {
        self.written_last = index;
        self.staged.push(Call::Append { index, zxid, stored: stored.to_vec() });
        Ok(())
    }

    fn truncate_after(&mut self, index: u64) -> Result<(), Self::Error> {
        self.written_last = self.written_last.min(index);
        self.staged.push(Call::Truncate { after: index });
        Ok(())
    }

    fn snapshot(&mut self, index: u64, zxid: Zxid, data: &[u8], replaces_history: bool) -> Result<(), Self::Error> {
        // Entries up to the snapshot go; with the history replaced, every one.
        self.written_last = if replaces_history { index } else { self.written_last.max(index) };
        self.staged.push(Call::Snapshot { index, zxid, data: data.to_vec(), replaces_history });
        Ok(())
    }
}

impl Disk {
    /// Makes the calls staged since the last group one group in flight, reported as `seq`
    /// (what [`crate::Node::persist`] returned) and due at `durable_at`.
    pub fn submit(&mut self, seq: u64, durable_at: u64) {
        // Writes complete in order: never before the group ahead of it.
        let durable_at = self.queue.back().map_or(durable_at, |g| g.durable_at.max(durable_at));
        let calls = core::mem::take(&mut self.staged);
        self.queue.push_back(Group { seq, durable_at, calls });
    }

    /// Completes the groups due by `now`, each whole; returns the last sequence number made durable.
    pub fn complete(&mut self, now: u64) -> Option<u64> {
        let mut done = None;
        while self.queue.front().is_some_and(|g| g.durable_at <= now) {
            let Some(group) = self.queue.pop_front() else { break };
            group.calls.into_iter().for_each(|call| self.apply(call));
            done = Some(group.seq);
        }
        done
    }

    /// A crash: the calls in flight are lost, except, if `torn` (a random draw), a prefix of
    /// them, cut anywhere across the groups. Returns whether any call in flight survived.
    pub fn crash(&mut self, torn: Option<u64>) -> bool {
        debug_assert!(self.staged.is_empty(), "a drain is always submitted before the next input");
        self.staged.clear();
        let calls: Vec<Call> = self.queue.drain(..).flat_map(|g| g.calls).collect();
        let Some(draw) = torn.filter(|_| !calls.is_empty()) else { return false };
        let kept = 1 + (draw % calls.len() as u64) as usize;
        calls.into_iter().take(kept).for_each(|call| self.apply(call));
        true
    }

    fn last_index(&self) -> u64 {
        self.snapshot.0 + self.entries.len() as u64
    }

    /// The last position of the history once every call handed over lands.
    pub fn written_last(&self) -> u64 {
        self.written_last
    }

    /// A node restarts on what is durable: that is all that was written.
    pub fn restarted(&mut self) {
        self.written_last = self.last_index();
    }

    fn apply(&mut self, call: Call) {
        match call {
            Call::Hard(hard) => self.hard = hard,
            Call::Append { index, zxid, stored } => self.apply_append(index, (zxid, stored)),
            Call::Truncate { after } => self.apply_truncate(after),
            Call::Snapshot { index, zxid, data, replaces_history } => self.apply_snapshot(index, zxid, data, replaces_history),
        }
    }

    fn apply_append(&mut self, index: u64, entry: Entry) {
        if index <= self.snapshot.0 {
            // Inside the durable snapshot: the node lends no such entry (it starts an
            // append after its own snapshot, which is never behind this one).
            return;
        }
        if index > self.last_index() + 1 {
            self.append_past_gap(index, entry);
            return;
        }
        // It replaces the entry at `index` and every one after, past the gap too.
        self.past_gap = None;
        self.entries.truncate((index - self.snapshot.0 - 1) as usize);
        self.entries.push(entry);
    }

    fn append_past_gap(&mut self, index: u64, entry: Entry) {
        match &mut self.past_gap {
            Some((first, entries)) if index >= *first && index <= *first + entries.len() as u64 => {
                entries.truncate((index - *first) as usize);
                entries.push(entry);
            }
            _ => self.past_gap = Some((index, alloc::vec![entry])),
        }
    }

    fn apply_truncate(&mut self, after: u64) {
        let keep = after.saturating_sub(self.snapshot.0) as usize;
        self.entries.truncate(keep);
        if let Some((first, entries)) = &mut self.past_gap {
            entries.truncate(after.saturating_add(1).saturating_sub(*first) as usize);
            if entries.is_empty() {
                self.past_gap = None;
            }
        }
    }

    fn apply_snapshot(&mut self, index: u64, zxid: Zxid, data: Vec<u8>, replaces_history: bool) {
        if let Some((_, entries)) = self.past_gap.take().filter(|(first, _)| *first == index + 1) {
            // The snapshot closes the gap: the entries after it are the ones appended past it.
            self.entries = entries;
        } else if replaces_history || index > self.last_index() || self.zxid_at(index) != Some(zxid) {
            // A snapshot received from the leader replaces everything.
            self.entries.clear();
        } else {
            let drop = (index - self.snapshot.0) as usize;
            self.entries.drain(..drop.min(self.entries.len()));
        }
        self.snapshot = (index, zxid, data);
    }

    /// The zxid durable at `index`, if any.
    pub fn zxid_at(&self, index: u64) -> Option<Zxid> {
        if index == self.snapshot.0 {
            return Some(self.snapshot.1);
        }
        let slot = index.checked_sub(self.snapshot.0 + 1)?;
        self.entries.get(slot as usize).map(|(z, _)| *z)
    }

    /// Whether the durable state covers position `index` with `zxid` (as an entry or inside the snapshot).
    pub fn holds(&self, index: u64, zxid: Zxid) -> bool {
        index < self.snapshot.0 || self.zxid_at(index) == Some(zxid)
    }

    /// Storage rebuilt from what is durable, as a restarting host would load it: through
    /// the same [`Loader`] as [`crate::Node::recover`].
    pub fn load(&self, storage: &mut VecStorage) {
        let _ = crate::persist::load(storage, &mut &*self);
    }
}

impl Durable for &Disk {
    type Error = core::convert::Infallible;

    fn load<S: Storage>(&mut self, loader: &mut Loader<'_, S>) -> Result<(), LoadError<Self::Error>> {
        // Entries past a gap are not handed back: a history never has a hole.
        crate::persist::load_held(loader, self.hard, &self.snapshot, &self.entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn z(counter: u32) -> Zxid {
        Zxid::new(1, counter)
    }

    fn hard(epoch: u32) -> HardState {
        HardState { accepted_epoch: epoch, current_epoch: epoch, ..HardState::ZERO }
    }

    /// A hard state, then an append of `entries` entries from position 1: one drain.
    fn drain(disk: &mut Disk, seq: u64, epoch: u32, entries: u32, durable_at: u64) {
        let _ = disk.hard_state(&hard(epoch));
        for i in 1..=entries {
            let _ = disk.append(u64::from(i), z(i), &[i as u8]);
        }
        disk.submit(seq, durable_at);
    }

    #[test]
    fn groups_complete_whole_and_in_order() {
        let mut disk = Disk::default();
        drain(&mut disk, 3, 1, 2, 10);
        drain(&mut disk, 5, 2, 4, 5);
        // The second group is due first but waits for the one ahead of it.
        assert_eq!(disk.complete(9), None);
        assert_eq!(disk.entries.len(), 0);
        assert_eq!(disk.complete(10), Some(5));
        assert_eq!(disk.entries.len(), 4);
        assert_eq!(disk.hard, hard(2));
    }

    #[test]
    fn a_torn_crash_keeps_a_prefix_of_the_calls_across_groups() {
        // Calls in flight: hard(1), 1, 2, hard(2), 1, 2, 3 (seven); a draw of 4 keeps five.
        let mut disk = Disk::default();
        drain(&mut disk, 1, 1, 2, 10);
        drain(&mut disk, 2, 2, 3, 10);
        assert!(disk.crash(Some(4)));
        assert_eq!(disk.hard, hard(2));
        assert_eq!(disk.entries.len(), 1, "the second append was cut after its first entry");
        assert_eq!(disk.complete(u64::MAX), None, "nothing stays in flight after a crash");
        // A draw of 0 keeps the first call only: a hard state without the append after it.
        let mut disk = Disk::default();
        drain(&mut disk, 1, 1, 2, 10);
        assert!(disk.crash(Some(0)));
        assert_eq!((disk.hard, disk.entries.len()), (hard(1), 0));
        // Without a tear, everything in flight is lost.
        let mut disk = Disk::default();
        drain(&mut disk, 1, 1, 2, 10);
        assert!(!disk.crash(None));
        assert_eq!((disk.hard, disk.entries.len()), (HardState::ZERO, 0));
    }

    #[test]
    fn entries_past_a_gap_wait_for_the_snapshot_that_closes_it() {
        let mut disk = Disk::default();
        drain(&mut disk, 1, 1, 2, 0);
        assert_eq!(disk.complete(0), Some(1));
        // The node compacted through 5 before the drain: the append starts at 6.
        let _ = disk.append(6, z(6), &[6]);
        let _ = disk.snapshot(5, z(5), &[9], false);
        disk.submit(2, 0);
        let mut torn = disk.clone();
        assert!(torn.crash(Some(0)));
        assert_eq!((torn.snapshot.0, torn.entries.len()), (0, 2), "a restart never sees a hole");
        assert_eq!(disk.complete(0), Some(2));
        assert_eq!((disk.snapshot.0, disk.zxid_at(6)), (5, Some(z(6))));
    }
}
