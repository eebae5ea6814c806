//! The persistence contract: how a node's writes reach a durable store, and how a node
//! restarts from one in a single call.
//!
//! A store implements [`Persist`] (the write side) and [`Durable`] (the read side at
//! restart). The host loop then needs no knowledge of [`WriteKind`]:
//!
//! ```text
//! let seq = node.persist(&mut store)?;    // every pending write, bytes lent by the node
//! if let Some(seq) = seq {
//!     store.sync()?;                      // one sync covers them all (group commit)
//!     node.durable(seq);
//! }
//! // ... after a crash:
//! let node = Node::recover(config, VecStorage::new(..), &mut store)?;
//! ```
//!
//! # What each write persists, in which order, and how it comes back
//!
//! Writes reach the store in the order the node made them, and a store keeps that order:
//! after a crash, what it brings back is the effect of a prefix of the calls it received
//! (everything up to the last sync, and possibly some calls after it, whole). Nothing may be
//! reported durable with [`Node::durable`] before the store has synced it.
//!
//! | [`WriteKind`] | [`Persist`] call | effect on what restart brings back |
//! | --- | --- | --- |
//! | `HardState(h)` | [`Persist::hard_state`] | the last one persisted replaces the others |
//! | `Append { first, last }` | [`Persist::append`] once per entry, in position order | the entry at `index` replaces the one there and every one after it |
//! | `Truncate { after }` | [`Persist::truncate_after`] | every entry after `after` goes |
//! | `Snapshot { index, zxid, replaces_history }` | [`Persist::snapshot`] with the snapshot's bytes (they open with the membership at `index`; keep them as they are) | the snapshot replaces the previous one; entries up to `index` go; with `replaces_history`, or when the store does not hold `zxid` at `index`, every entry goes |
//!
//! An append may start past the store's last position + 1: the node compacted the
//! positions in between before the host drained the write, and the snapshot that covers
//! them follows in the same drain. If a crash cuts the store between the two, the entries
//! after the gap were never synced; a store drops them at restart (it must never present a
//! history with a gap).
//!
//! At restart ([`Durable::load`]) a store hands back, through a [`Loader`]: the hard state,
//! then the snapshot (its point and bytes, in chunks), then the entries after it in
//! position order. [`Node::recover`] starts a node on that.
use crate::storage::{HardState, Storage, StorageError};
use crate::{Config, ConfigError, Node, WriteKind, Zxid};

/// The write side of a durable store. Each call may buffer; the host syncs after a drain.
pub trait Persist {
    /// Why the store failed (an I/O error, a full medium). After one, stop the node and
    /// restart it from the store: writes handed over may or may not have reached it.
    type Error;
    /// Persists the hard state (it replaces the previous one).
    fn hard_state(&mut self, state: &HardState) -> Result<(), Self::Error>;
    /// Persists the entry at `index` with its stored bytes; it replaces any entry at
    /// `index` or after.
    fn append(&mut self, index: u64, zxid: Zxid, stored: &[u8]) -> Result<(), Self::Error>;
    /// Drops every entry after `index`.
    fn truncate_after(&mut self, index: u64) -> Result<(), Self::Error>;
    /// Persists the snapshot at `(index, zxid)`, whose bytes (membership header included)
    /// are `data`, and drops the entries it covers (all of them if `replaces_history`).
    fn snapshot(&mut self, index: u64, zxid: Zxid, data: &[u8], replaces_history: bool) -> Result<(), Self::Error>;
}

/// The read side of a durable store: what it made durable, handed to a [`Loader`].
pub trait Durable {
    /// Why loading failed (I/O, a corrupt record).
    type Error;
    /// Gives `loader` the hard state, then the snapshot (if any), then every entry after it
    /// in position order.
    fn load<S: Storage>(&mut self, loader: &mut Loader<'_, S>) -> Result<(), LoadError<Self::Error>>;
}

/// Why a node could not be restored from a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError<E> {
    /// The store failed.
    Store(E),
    /// The in-memory storage refused what the store held (too small for it).
    Storage(StorageError),
    /// The store handed back an entry out of order (a bug or corruption in the store).
    OutOfOrder {
        /// Position expected next.
        expected: u64,
        /// Position given.
        given: u64,
    },
    /// The storage to fill was not empty.
    NotEmpty,
}

/// Why [`Node::recover`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoverError<E> {
    /// The configuration is invalid.
    Config(ConfigError),
    /// The store could not be loaded.
    Load(LoadError<E>),
}

/// Fills an empty [`Storage`] from a store, checking the order of what comes in.
pub struct Loader<'a, S: Storage> {
    storage: &'a mut S,
    snapshot_bytes: u32,
    next_index: u64,
}

impl<'a, S: Storage> Loader<'a, S> {
    /// A loader into `storage`, which must be empty.
    pub fn new<E>(storage: &'a mut S) -> Result<Self, LoadError<E>> {
        if storage.last_index() != 0 || storage.snapshot_point().0 != 0 {
            return Err(LoadError::NotEmpty);
        }
        Ok(Loader { storage, snapshot_bytes: 0, next_index: 1 })
    }

    /// The durable hard state.
    pub fn hard_state(&mut self, state: HardState) {
        self.storage.set_hard_state(state);
    }

    /// The next chunk of the snapshot's bytes, starting at offset `offset`.
    pub fn snapshot_chunk<E>(&mut self, offset: u32, chunk: &[u8]) -> Result<(), LoadError<E>> {
        self.storage.receive_snapshot_chunk(offset, chunk).map_err(LoadError::Storage)?;
        self.snapshot_bytes = self.snapshot_bytes.max(offset.saturating_add(chunk.len() as u32));
        Ok(())
    }

    /// The snapshot's point, once all its bytes went through [`Loader::snapshot_chunk`].
    pub fn snapshot_end<E>(&mut self, index: u64, zxid: Zxid) -> Result<(), LoadError<E>> {
        if self.next_index != 1 {
            return Err(LoadError::OutOfOrder { expected: 1, given: index });
        }
        self.storage.install_received_snapshot(index, zxid, self.snapshot_bytes).map_err(LoadError::Storage)?;
        self.next_index = index.saturating_add(1);
        Ok(())
    }

    /// The entry at `index` (each next one at the position after).
    pub fn entry<E>(&mut self, index: u64, zxid: Zxid, stored: &[u8]) -> Result<(), LoadError<E>> {
        if index != self.next_index {
            return Err(LoadError::OutOfOrder { expected: self.next_index, given: index });
        }
        self.storage.append(zxid, stored).map_err(LoadError::Storage)?;
        self.next_index += 1;
        Ok(())
    }

    /// The position the next entry must have.
    pub fn next_index(&self) -> u64 {
        self.next_index
    }
}

/// Fills the empty `storage` with what `store` made durable.
pub fn load<S: Storage, D: Durable>(storage: &mut S, store: &mut D) -> Result<(), LoadError<D::Error>> {
    let mut loader = Loader::new(storage)?;
    store.load(&mut loader)
}

impl<S: Storage, const FORWARD_BYTES: usize> Node<S, FORWARD_BYTES> {
    /// A node restarted from what `store` made durable, over the empty `storage`: the
    /// restart in one call.
    pub fn recover<D: Durable>(config: Config, mut storage: S, store: &mut D) -> Result<Self, RecoverError<D::Error>> {
        config.validate().map_err(RecoverError::Config)?;
        load(&mut storage, store).map_err(RecoverError::Load)?;
        Node::new(config, storage).map_err(RecoverError::Config)
    }

    /// As [`Node::recover`], in place, for a node built with [`Node::idle`] around an empty
    /// storage (a board keeps its nodes in `static`s).
    pub fn restart_from<D: Durable>(&mut self, config: Config, store: &mut D) -> Result<(), RecoverError<D::Error>> {
        config.validate().map_err(RecoverError::Config)?;
        load(self.storage_mut(), store).map_err(RecoverError::Load)?;
        self.restart(config).map_err(RecoverError::Config)
    }

    /// Hands every pending write to `store`, lending the bytes to persist from this node's
    /// storage; returns the highest sequence number handed over (`None`: nothing pending).
    /// Sync the store, then report it with [`Node::durable`]: one sync for every write
    /// since the last drain (group commit). Call it after any input, as [`Node::poll_write`].
    pub fn persist<P: Persist>(&mut self, store: &mut P) -> Result<Option<u64>, P::Error> {
        let mut highest = None;
        // A snapshot write superseded by a later one (the storage only holds the newest) is
        // folded into it; whether it replaced the history carries over.
        let mut replaces_carried = false;
        while let Some(write) = self.poll_write() {
            highest = Some(write.seq);
            let storage = self.storage();
            match write.kind {
                WriteKind::HardState(state) => store.hard_state(&state)?,
                WriteKind::Append { first, last } => {
                    // A snapshot that replaced the history may be folded into a later one only
                    // if no append lies between them: the later call, replacing the history,
                    // would drop this append's entries. A host that drains after every input
                    // never has both in one drain; nor does a late one through compaction
                    // (nothing past a received snapshot is applied, so nothing is compacted,
                    // before it is durable) or a second replacing snapshot (it turns the appends
                    // not handed out yet into truncations).
                    debug_assert!(!replaces_carried, "an append between a folded snapshot that replaced the history and the next snapshot");
                    // Positions compacted since the write was made are in the snapshot that follows.
                    let first = first.max(storage.snapshot_point().0 + 1);
                    for index in first..=last {
                        if let Some((zxid, stored)) = storage.entry_at(index) {
                            store.append(index, zxid, stored)?;
                        }
                    }
                }
                WriteKind::Truncate { after } => store.truncate_after(after)?,
                WriteKind::Snapshot { index, replaces_history, .. } => {
                    let (held, zxid) = storage.snapshot_point();
                    if index < held {
                        replaces_carried |= replaces_history;
                        continue;
                    }
                    let replaces = replaces_history || core::mem::take(&mut replaces_carried);
                    store.snapshot(held, zxid, storage.snapshot_data(), replaces)?;
                }
            }
        }
        Ok(highest)
    }
}

/// Splits a snapshot's bytes as a store keeps them into the membership at its point and
/// the state machine's data (what [`crate::Apply::Snapshot`] hands out); `None` if they
/// do not open with a membership.
pub fn split_snapshot(stored: &[u8]) -> Option<(crate::Membership, &[u8])> {
    crate::membership::split_snapshot(stored)
}

/// A store in memory that takes each write at once: for tests, simulations and hosts
/// whose "medium" outlives the node object (a node rebuilt after a panic, the wasm demo).
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryStore {
    /// The hard state.
    pub hard: HardState,
    /// The snapshot's position, zxid and bytes (membership header included).
    pub snapshot: (u64, Zxid, alloc::vec::Vec<u8>),
    /// The entries after the snapshot, in position order.
    pub entries: alloc::vec::Vec<(Zxid, alloc::vec::Vec<u8>)>,
}

#[cfg(feature = "alloc")]
impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// The last position held.
    pub fn last_index(&self) -> u64 {
        self.snapshot.0 + self.entries.len() as u64
    }

    fn keep_through(&mut self, index: u64) {
        let keep = index.saturating_sub(self.snapshot.0) as usize;
        self.entries.truncate(keep);
    }
}

#[cfg(feature = "alloc")]
impl Persist for MemoryStore {
    type Error = core::convert::Infallible;

    fn hard_state(&mut self, state: &HardState) -> Result<(), Self::Error> {
        self.hard = *state;
        Ok(())
    }

    fn append(&mut self, index: u64, zxid: Zxid, stored: &[u8]) -> Result<(), Self::Error> {
        if index > self.last_index() + 1 {
            // Past a gap: the snapshot covering it comes next in the same drain.
            self.entries.clear();
            self.snapshot.0 = index - 1;
        }
        self.keep_through(index - 1);
        self.entries.push((zxid, stored.to_vec()));
        Ok(())
    }

    fn truncate_after(&mut self, index: u64) -> Result<(), Self::Error> {
        self.keep_through(index);
        Ok(())
    }

    fn snapshot(&mut self, index: u64, zxid: Zxid, data: &[u8], replaces_history: bool) -> Result<(), Self::Error> {
        if replaces_history || index > self.last_index() || index < self.snapshot.0 {
            self.entries.clear();
        } else {
            self.entries.drain(..(index - self.snapshot.0) as usize);
        }
        self.snapshot = (index, zxid, data.to_vec());
        Ok(())
    }
}

#[cfg(feature = "alloc")]
impl Durable for MemoryStore {
    type Error = core::convert::Infallible;

    fn load<S: Storage>(&mut self, loader: &mut Loader<'_, S>) -> Result<(), LoadError<Self::Error>> {
        load_held(loader, self.hard, &self.snapshot, &self.entries)
    }
}

/// Hands `loader` a durable state held in memory: the hard state, the snapshot (position,
/// zxid, bytes) and the entries after it, in order.
#[cfg(feature = "alloc")]
pub(crate) fn load_held<S: Storage, E>(loader: &mut Loader<'_, S>, hard: HardState, snapshot: &(u64, Zxid, alloc::vec::Vec<u8>), entries: &[(Zxid, alloc::vec::Vec<u8>)]) -> Result<(), LoadError<E>> {
    loader.hard_state(hard);
    let (index, zxid, data) = snapshot;
    if *index > 0 {
        loader.snapshot_chunk(0, data)?;
        loader.snapshot_end(*index, *zxid)?;
    }
    for (offset, (zxid, stored)) in entries.iter().enumerate() {
        loader.entry(index + 1 + offset as u64, *zxid, stored)?;
    }
    Ok(())
}
