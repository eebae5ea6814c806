//! A simulated disk: what a node made durable, written in order after a delay.
//! A crash keeps the disk and loses every write still in flight, except, when
//! the write is torn, a prefix of the entries it was writing.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::storage::{HardState, Storage, VecStorage};
use crate::persist::{Durable, LoadError, Loader};
use crate::{Node, Write, WriteKind, Zxid};

/// One write copied out of the node when it was handed over, due at `durable_at`.
#[derive(Clone, Debug)]
struct InFlight {
    seq: u64,
    durable_at: u64,
    change: Change,
}

#[derive(Clone, Debug)]
enum Change {
    Hard(HardState),
    Append { first: u64, entries: Vec<(Zxid, Vec<u8>)> },
    Truncate { after: u64 },
    Snapshot { index: u64, zxid: Zxid, replaces_history: bool, data: Vec<u8> },
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
    queue: VecDeque<InFlight>,
}

impl Disk {
    /// Copies a write out of the node (it must be drained right after the input that made it).
    pub fn accept<S: Storage, const F: usize>(&mut self, node: &Node<S, F>, write: Write, durable_at: u64) {
        let storage = node.storage();
        let change = match write.kind {
            WriteKind::HardState(hard) => Change::Hard(hard),
            WriteKind::Append { first, last } => Change::Append {
                first,
                entries: (first..=last).filter_map(|i| Some((storage.zxid_at(i)?, storage.payload_at(i)?.to_vec()))).collect(),
            },
            WriteKind::Truncate { after } => Change::Truncate { after },
            WriteKind::Snapshot { index, zxid, replaces_history } => Change::Snapshot { index, zxid, replaces_history, data: storage.snapshot_data().to_vec() },
        };
        // Writes complete in order: never before the one ahead of it.
        let durable_at = self.queue.back().map_or(durable_at, |w| w.durable_at.max(durable_at));
        self.queue.push_back(InFlight { seq: write.seq, durable_at, change });
    }

    /// Completes the writes due by `now`; returns the last sequence number made durable.
    pub fn complete(&mut self, now: u64) -> Option<u64> {
        let mut done = None;
        while self.queue.front().is_some_and(|w| w.durable_at <= now) {
            let Some(w) = self.queue.pop_front() else { break };
            self.apply(w.change);
            done = Some(w.seq);
        }
        done
    }

    fn last_index(&self) -> u64 {
        self.snapshot.0 + self.entries.len() as u64
    }

    fn apply(&mut self, change: Change) {
        match change {
            Change::Hard(hard) => self.hard = hard,
            Change::Append { first, entries } => {
                // An append always continues the durable history (the node truncates first).
                let keep = first.saturating_sub(self.snapshot.0 + 1) as usize;
                self.entries.truncate(keep);
                self.entries.extend(entries);
            }
            Change::Truncate { after } => {
                let keep = after.saturating_sub(self.snapshot.0) as usize;
                self.entries.truncate(keep);
            }
            Change::Snapshot { index, zxid, replaces_history, data } => {
                if replaces_history || index > self.last_index() || self.zxid_at(index) != Some(zxid) {
                    // A snapshot received from the leader replaces everything.
                    self.entries.clear();
                } else {
                    let drop = (index - self.snapshot.0) as usize;
                    self.entries.drain(..drop.min(self.entries.len()));
                }
                self.snapshot = (index, zxid, data);
            }
        }
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

    /// A crash: writes in flight are lost; if `torn`, a prefix of the first append survives.
    pub fn crash(&mut self, torn: Option<u64>) -> bool {
        let mut tore = false;
        if let (Some(r), Some(InFlight { change: Change::Append { first, entries }, .. })) = (torn, self.queue.front()) {
            if entries.len() > 1 {
                let kept = 1 + (r as usize % (entries.len() - 1));
                let change = Change::Append { first: *first, entries: entries[..kept].to_vec() };
                self.apply(change);
                tore = true;
            }
        }
        self.queue.clear();
        tore
    }

    /// Storage rebuilt from what is durable, as a restarting host would load it: through
    /// the same [`Loader`] as [`Node::recover`].
    pub fn load(&self, storage: &mut VecStorage) {
        let _ = crate::persist::load(storage, &mut &*self);
    }
}

impl Durable for &Disk {
    type Error = core::convert::Infallible;

    fn load<S: Storage>(&mut self, loader: &mut Loader<'_, S>) -> Result<(), LoadError<Self::Error>> {
        crate::persist::load_held(loader, self.hard, &self.snapshot, &self.entries)
    }
}
