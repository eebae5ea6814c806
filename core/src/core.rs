//! What every role shares: storage, the write queue and durability marks, the
//! commit point, output queues and counters. Roles borrow it next to their own
//! state, so a role's step function sees both without copying either.

use heapless::Deque;

use crate::config::Config;
use crate::error::{Counters, ProposeError, StepError};
use crate::limits::{CONTROL_QUEUE_MAX, EVENTS_MAX, READS_MAX, WRITES_PENDING_MAX};
use crate::membership::{self, Membership};
use crate::stored;
use crate::storage::{HardState, Storage};
use crate::wire::{Message, Vote};
use crate::{NodeId, Zxid};

/// Roles a node can be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Role {
    /// Electing a leader.
    Looking,
    /// Following a leader (a voter).
    Following,
    /// Leading.
    Leading,
    /// Observing a leader (never votes).
    Observing,
}

/// A change the host must make durable, in order. Report completion with
/// [`crate::Node::durable`]; the node acknowledges nothing before that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Write {
    /// Sequence number; reporting `seq` durable covers every write up to it.
    pub seq: u64,
    /// What to write.
    pub kind: WriteKind,
}

/// What a [`Write`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteKind {
    /// Store the hard state.
    HardState(HardState),
    /// Store the entries at positions `first..=last` (read them from `Node::storage`).
    Append {
        /// First position.
        first: u64,
        /// Last position.
        last: u64,
    },
    /// Drop every entry after position `after`.
    Truncate {
        /// Last position kept.
        after: u64,
    },
    /// Store the snapshot (read it from `Node::storage().snapshot_data()`) covering
    /// positions up to `index`; entries up to `index` may be dropped.
    Snapshot {
        /// Last position covered.
        index: u64,
        /// Last zxid covered.
        zxid: Zxid,
        /// Received from the leader (SNAP): every stored entry is replaced by it. Otherwise
        /// the host's own snapshot: entries after `index` stay.
        replaces_history: bool,
    },
}

/// Something the host may want to observe or act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// This node changed role.
    Role {
        /// The new role.
        role: Role,
    },
    /// A leader established an epoch (seen by the leader and by each synced learner).
    Leader {
        /// The leader.
        leader: NodeId,
        /// Its epoch.
        epoch: u32,
    },
    /// A leadership transfer to `to` did not complete in time (the target could not catch up
    /// or was unreachable); this leader goes on accepting proposals.
    TransferFailed {
        /// The intended leader.
        to: NodeId,
    },
    /// Read `id` may be served from the local state now: everything up to `zxid` is applied.
    ReadReady {
        /// The id `Node::read` returned.
        id: u32,
        /// The read point.
        zxid: Zxid,
    },
    /// Read `id` could not be confirmed (the leader changed, or no answer in time): retry it.
    ReadFailed {
        /// The id `Node::read` returned.
        id: u32,
    },
    /// A membership change committed at `zxid`: `Node::config()` now names the new voters
    /// and observers (a node that is no longer a member stays looking, without a vote).
    Membership {
        /// The zxid of the membership entry.
        zxid: Zxid,
    },
    /// Storage is filling up: take a snapshot of the applied state and call `Node::compact`.
    SnapshotWanted {
        /// How full storage is, in percent.
        used_percent: u8,
        /// The last applied zxid (a good snapshot point).
        applied: Zxid,
    },
}

/// A run of appends that becomes one storage write.
#[must_use]
pub(crate) struct Appends {
    first: u64,
    last: u64,
}

pub(crate) struct Pending {
    pub(crate) write: Write,
    /// Highest position the write makes durable (appends only).
    mark_last: u64,
}

pub(crate) struct Core<S: Storage> {
    pub(crate) config: Config,
    pub(crate) storage: S,
    rng: u64,
    pub(crate) now: u64,
    pub(crate) round: u64,
    next_seq: u64,
    pending: Deque<Pending, WRITES_PENDING_MAX>,
    handed: usize,
    /// The last write in `pending` is an append the host has not taken, ending at the last
    /// position: the next append joins it (kept here, so appending reads no queue).
    open_append: bool,
    pub(crate) durable_index: u64,
    pub(crate) durable_hard: HardState,
    pub(crate) snapshot_pending: Option<u64>,
    pub(crate) commit_index: u64,
    pub(crate) applied_index: u64,
    pub(crate) restore_pending: bool,
    pub(crate) control: Deque<(NodeId, Message<'static>), CONTROL_QUEUE_MAX>,
    pub(crate) events: Deque<Event, EVENTS_MAX>,
    pub(crate) counters: Counters,
    pub(crate) sends_dropped: u64,
    snapshot_wanted_at: u64,
    /// Confirmed reads waiting for the host to apply up to their point: (id, zxid). A
    /// learner may learn a read point before it holds the entry, so it is a zxid.
    reads_waiting: Deque<(u32, Zxid), READS_MAX>,
    /// The membership as of the snapshot point (the configuration's before any snapshot).
    base: Membership,
    /// A membership entry in the history not known committed: (position, membership).
    /// While it exists every quorum counts in both `config` and it.
    pub(crate) membership_pending: Option<(u64, Membership)>,
    /// The zxid of the last membership entry known committed (zero: none).
    pub(crate) membership_zxid: Zxid,
    /// The committed membership changed since the node last looked.
    pub(crate) membership_changed: bool,
    /// Learner handshakes begun since this start (the low half of their ids).
    exchanges: u32,
}

impl<S: Storage> Core<S> {
    /// Inert state around `storage`, placeable in a `static`; `restart` brings it to life.
    pub(crate) const fn idle(storage: S) -> Self {
        Core {
            config: Config::idle(),
            storage,
            rng: 0,
            now: 0,
            round: 0,
            next_seq: 1,
            pending: Deque::new(),
            handed: 0,
            open_append: false,
            durable_index: 0,
            durable_hard: HardState::ZERO,
            snapshot_pending: None,
            commit_index: 0,
            applied_index: 0,
            restore_pending: false,
            control: Deque::new(),
            events: Deque::new(),
            counters: Counters::ZERO,
            sends_dropped: 0,
            snapshot_wanted_at: 0,
            reads_waiting: Deque::new(),
            base: Membership { voters: heapless::Vec::new(), observers: heapless::Vec::new() },
            membership_pending: None,
            membership_zxid: Zxid::ZERO,
            membership_changed: false,
            exchanges: 0,
        }
    }

    /// Starts over from what the storage holds, in place (no large temporaries: a
    /// board with a few KiB of stack restarts nodes this way).
    pub(crate) fn restart(&mut self, config: Config) {
        // Everything the host hands over at start is durable by definition.
        let (snapshot_index, _) = self.storage.snapshot_point();
        let hard = self.storage.hard_state();
        // A new incarnation at every start: fresh randomness without a fresh seed, and
        // handshake ids that never repeat (see `Message::FollowerInfo`).
        let incarnation = hard.incarnation.wrapping_add(1);
        self.rng = config.seed ^ (u64::from(config.id) << 48) ^ 0x9e37_79b9_7f4a_7c15 ^ u64::from(incarnation).rotate_left(23);
        self.config = config;
        self.now = 0;
        self.round = 0;
        self.next_seq = 1;
        self.pending.clear();
        self.handed = 0;
        self.open_append = false;
        self.durable_index = self.storage.last_index();
        self.durable_hard = hard;
        self.snapshot_pending = None;
        // What was known committed before the crash still is: never truncated, applied again.
        let floor = self.storage.index_at_or_before(hard.commit_floor).unwrap_or(snapshot_index);
        let floor = if crate::config::bugs(&self.config).commit_floor_ignored { snapshot_index } else { floor };
        self.commit_index = floor.clamp(snapshot_index, self.storage.last_index());
        self.applied_index = snapshot_index;
        self.restore_pending = snapshot_index > 0;
        self.control.clear();
        self.events.clear();
        self.counters = Counters::ZERO;
        self.sends_dropped = 0;
        self.snapshot_wanted_at = 0;
        self.reads_waiting.clear();
        self.base = Membership::of(&self.config.voters, &self.config.observers);
        self.recover_membership();
        self.activate_membership();
        self.membership_changed = false;
        self.exchanges = 0;
        // The queue was just emptied: there is room.
        let _ = self.set_hard_state(HardState { incarnation, ..hard });
    }

    /// The id of a new learner handshake: this start's incarnation, then a count. When the
    /// count runs out, a new incarnation is written (ids wait until it is durable).
    pub(crate) fn next_exchange(&mut self) -> u64 {
        let mut hard = self.storage.hard_state();
        if self.exchanges == u32::MAX && self.set_hard_state(HardState { incarnation: hard.incarnation.wrapping_add(1), ..hard }).is_ok() {
            self.exchanges = 0;
            hard = self.storage.hard_state();
        }
        self.exchanges = self.exchanges.saturating_add(1);
        u64::from(hard.incarnation) << 32 | u64::from(self.exchanges)
    }

    /// Whether handshake ids may be used: the incarnation they carry is durable.
    pub(crate) fn exchange_ready(&self) -> bool {
        self.durable_hard.incarnation == self.storage.hard_state().incarnation
    }

    /// Writes that can still be queued.
    pub(crate) fn writes_free(&self) -> usize {
        WRITES_PENDING_MAX - self.pending.len()
    }

    /// Makes the commit point a floor that survives a restart, now and then: at most one
    /// write per call (the node calls it once a tick), and only with room to spare.
    pub(crate) fn write_commit_floor(&mut self) {
        if self.writes_free() < WRITES_PENDING_MAX / 2 {
            return;
        }
        let hard = self.storage.hard_state();
        let Some(floor) = self.storage.zxid_at(self.commit_index).filter(|floor| *floor > hard.commit_floor) else { return };
        let _ = self.set_hard_state(HardState { commit_floor: floor, ..hard });
    }

    /// Rebuilds the membership from the snapshot and the history: the snapshot opens with
    /// the membership at its point; the last membership entry after it is pending, the
    /// one before it committed (its leader proposed the last one only after that).
    fn recover_membership(&mut self) {
        if let Some((membership, _)) = membership::split_snapshot(self.storage.snapshot_data()) {
            self.base = membership;
        }
        self.set_committed(self.base.clone());
        self.membership_pending = None;
        self.membership_zxid = Zxid::ZERO;
        let (first, last) = (self.storage.snapshot_point().0 + 1, self.storage.last_index());
        for index in first..=last {
            if let Some(stored) = self.storage.payload_at(index) {
                if stored::is_membership(stored) {
                    self.note_membership_entry(index, false);
                }
            }
        }
        self.membership_changed = false;
    }

    fn set_committed(&mut self, membership: Membership) {
        self.config.voters = membership.voters;
        self.config.observers = membership.observers;
    }

    /// A membership entry was appended at `index`: it is pending, and one pending before
    /// it is committed (its leader proposed this one only after that).
    fn note_membership(&mut self, index: u64) {
        self.note_membership_entry(index, true);
    }

    /// As `note_membership`; `announce` says whether a change found committed is an event
    /// (not while a restart rebuilds the membership).
    fn note_membership_entry(&mut self, index: u64, announce: bool) {
        let Some(membership) = self.storage.payload_at(index).and_then(membership::of_entry) else { return };
        if let Some((at, previous)) = self.membership_pending.take() {
            self.set_committed(previous);
            self.membership_zxid = self.storage.zxid_at(at).unwrap_or(Zxid::ZERO);
            self.membership_changed = true;
            if announce {
                self.event(Event::Membership { zxid: self.membership_zxid });
            }
        }
        self.membership_pending = Some((index, membership));
    }

    /// The pending membership takes effect once committed.
    fn activate_membership(&mut self) {
        match &self.membership_pending {
            Some((index, _)) if *index <= self.commit_index => {}
            _ => return,
        }
        self.membership_committed();
    }

    /// The pending membership is committed: it is in effect from now on.
    fn membership_committed(&mut self) {
        let Some((index, membership)) = self.membership_pending.take() else { return };
        self.set_committed(membership);
        self.membership_changed = true;
        let zxid = self.storage.zxid_at(index).unwrap_or(Zxid::ZERO);
        self.membership_zxid = zxid;
        self.event(Event::Membership { zxid });
    }

    /// Another node knows the membership entry at `zxid` committed: if it is the one
    /// pending here (a zxid names one proposal), it is.
    pub(crate) fn membership_committed_elsewhere(&mut self, zxid: Zxid) {
        let pending_zxid = self.membership_pending.as_ref().and_then(|(index, _)| self.storage.zxid_at(*index));
        if zxid != Zxid::ZERO && pending_zxid == Some(zxid) {
            self.membership_committed();
        }
    }

    /// The membership as of position `index` (at most the commit point): the last
    /// membership entry up to it, or the snapshot's.
    fn membership_at(&self, index: u64) -> Membership {
        let snapshot = self.storage.snapshot_point().0;
        let mut at = index;
        while at > snapshot {
            if let Some(membership) = self.storage.payload_at(at).and_then(membership::of_entry) {
                return membership;
            }
            at -= 1;
        }
        self.base.clone()
    }

    /// Whether `id` is a member of the committed or the pending membership.
    pub(crate) fn is_member_any(&self, id: NodeId) -> bool {
        self.config.is_member(id) || self.membership_pending.as_ref().is_some_and(|(_, m)| m.is_member(id))
    }

    /// Whether `id` votes in the committed or the pending membership.
    pub(crate) fn is_voter_any(&self, id: NodeId) -> bool {
        self.config.is_voter(id) || self.membership_pending.as_ref().is_some_and(|(_, m)| m.is_voter(id))
    }

    /// Whether `id` votes in the committed membership and in the pending one, if any.
    pub(crate) fn is_voter_all(&self, id: NodeId) -> bool {
        self.config.is_voter(id) && self.membership_pending.as_ref().map_or(true, |(_, m)| m.is_voter(id))
    }

    /// Whether the voters for which `has` holds are a majority of the committed voters and,
    /// while a membership is pending, of its voters too.
    pub(crate) fn is_quorum(&self, has: &dyn Fn(NodeId) -> bool) -> bool {
        // A trait object, not a generic: one copy of this code for every caller (flash, wasm size).
        let count = |voters: &[NodeId]| crate::quorum::is_majority(voters.iter().filter(|v| has(**v)).count(), voters.len());
        count(&self.config.voters) && self.membership_pending.as_ref().map_or(true, |(_, m)| count(&m.voters))
    }

    /// The highest position a quorum (as in [`Core::is_quorum`]) has reached, given each voter's.
    pub(crate) fn agreed_index(&self, reached: &dyn Fn(NodeId) -> u64) -> u64 {
        let agreed = |voters: &[NodeId]| {
            let mut values: heapless::Vec<u64, { crate::limits::MEMBERS_MAX }> = voters.iter().map(|v| reached(*v)).collect();
            crate::quorum::agreed_index(&mut values)
        };
        let committed = agreed(&self.config.voters);
        match &self.membership_pending {
            Some((_, m)) => committed.min(agreed(&m.voters)),
            None => committed,
        }
    }

    /// Every voter of the committed and pending memberships but this node, each once.
    pub(crate) fn voters_any(&self) -> impl Iterator<Item = NodeId> + '_ {
        let me = self.me();
        let pending = self.membership_pending.as_ref().map(|(_, m)| m.voters.as_slice()).unwrap_or(&[]);
        self.config.voters.iter().copied().chain(pending.iter().copied().filter(|v| !self.config.is_voter(*v))).filter(move |v| *v != me)
    }

    /// Every member of the committed and pending memberships but this node, each once.
    pub(crate) fn members_any(&self) -> impl Iterator<Item = NodeId> + '_ {
        let pending = self.membership_pending.as_ref().map(|(_, m)| (m.voters.as_slice(), m.observers.as_slice())).unwrap_or((&[], &[]));
        self.config.peers().chain(pending.0.iter().chain(pending.1.iter()).copied().filter(move |p| *p != self.me() && !self.config.is_member(*p)))
    }

    /// Appends a membership entry (the leader's own proposal); returns its position.
    pub(crate) fn append_membership(&mut self, zxid: Zxid, membership: &Membership) -> Result<u64, StepError> {
        let mut bytes = [0u8; membership::MEMBERSHIP_BYTES_MAX];
        let len = membership.encode(&mut bytes);
        let mut batch = self.begin_appends()?;
        let index = self.storage.append_parts(zxid, &stored::MEMBERSHIP_MARK, bytes.get(..len).unwrap_or(&[])).map_err(StepError::Storage)?;
        batch.first = index;
        batch.last = index;
        self.end_appends(batch)?;
        self.note_membership(index);
        Ok(index)
    }

    /// Read `id` is confirmed at `zxid`: it is served once that is applied.
    pub(crate) fn read_confirmed(&mut self, id: u32, zxid: Zxid) {
        if self.reads_waiting.push_back((id, zxid)).is_err() {
            self.event(Event::ReadFailed { id });
        }
        self.release_reads();
    }

    /// Tells the host about every confirmed read whose point it has applied (a position
    /// counts as applied once `poll_commit` handed it out and was called again).
    #[inline]
    pub(crate) fn release_reads(&mut self) {
        if !self.reads_waiting.is_empty() {
            self.release_waiting_reads();
        }
    }

    fn release_waiting_reads(&mut self) {
        if self.snapshot_pending.is_some() || self.restore_pending {
            // The host has not restored the snapshot received by SNAP yet.
            return;
        }
        let released_to = if crate::config::bugs(&self.config).read_at_commit { self.commit_index } else { self.applied_index };
        let applied = self.storage.zxid_at(released_to).unwrap_or(Zxid::ZERO);
        while let Some(&(id, zxid)) = self.reads_waiting.front() {
            if zxid > applied {
                break;
            }
            self.reads_waiting.pop_front();
            self.event(Event::ReadReady { id, zxid });
        }
    }

    pub(crate) fn reads_room(&self) -> bool {
        !self.reads_waiting.is_full()
    }

    /// splitmix64: tiny, seeded, the same on every target.
    pub(crate) fn random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A fresh randomised election timeout in `[T, 2T)`.
    pub(crate) fn election_timeout(&mut self) -> u64 {
        let t = u64::from(self.config.election_timeout_ticks);
        t + self.random() % t
    }

    pub(crate) fn me(&self) -> NodeId {
        self.config.id
    }

    pub(crate) fn last_zxid(&self) -> Zxid {
        self.storage.last_zxid()
    }

    pub(crate) fn durable_zxid(&self) -> Zxid {
        self.storage.zxid_at(self.durable_index.min(self.storage.last_index())).unwrap_or(Zxid::ZERO)
    }

    pub(crate) fn commit_zxid(&self) -> Zxid {
        self.storage.zxid_at(self.commit_index).unwrap_or(Zxid::ZERO)
    }

    /// This node's own vote: its durable history only.
    pub(crate) fn own_vote(&self) -> Vote {
        Vote { leader: self.me(), zxid: self.durable_zxid(), epoch: self.durable_hard.current_epoch, connected: false }
    }

    pub(crate) fn send(&mut self, to: NodeId, message: Message<'static>) {
        if self.control.push_back((to, message)).is_err() {
            // Like a lost datagram: every control message is retransmitted on a timer.
            self.sends_dropped += 1;
        }
    }

    pub(crate) fn event(&mut self, event: Event) {
        if self.events.push_back(event).is_err() {
            self.counters.events_dropped += 1;
        }
    }

    fn push_write(&mut self, kind: WriteKind, mark_last: u64) -> Result<(), StepError> {
        self.open_append = matches!(kind, WriteKind::Append { last, .. } if last == self.storage.last_index());
        // Coalesce with an append the host has not taken yet.
        if let (WriteKind::Append { first, last }, true) = (kind, self.pending.len() > self.handed) {
            if let Some(Pending { write: Write { kind: WriteKind::Append { last: prev_last, .. }, .. }, mark_last: mark }) = self.pending.back_mut() {
                if *prev_last + 1 == first {
                    *prev_last = last;
                    *mark = last;
                    return Ok(());
                }
            }
        }
        let write = Write { seq: self.next_seq, kind };
        self.pending.push_back(Pending { write, mark_last }).map_err(|_| StepError::Busy)?;
        self.next_seq += 1;
        Ok(())
    }

    pub(crate) fn set_hard_state(&mut self, hard: HardState) -> Result<(), StepError> {
        if self.pending.is_full() {
            return Err(StepError::Busy);
        }
        self.storage.set_hard_state(hard);
        self.push_write(WriteKind::HardState(hard), 0)
    }

    /// Appends a host command (the leader's own proposal), coalescing its write with an
    /// append the host has not taken yet.
    #[inline]
    pub(crate) fn append_command(&mut self, zxid: Zxid, payload: &[u8]) -> Result<u64, StepError> {
        let coalesce = self.can_coalesce();
        if !coalesce && self.pending.is_full() {
            return Err(StepError::Busy);
        }
        let index = self.storage.append_parts(zxid, stored::command_head(payload), payload).map_err(StepError::Storage)?;
        self.note_appended(coalesce, index, index)?;
        Ok(index)
    }

    /// Records positions `first..=last`, just appended, as an append to make durable: into
    /// the open append when `coalesce` (from [`Core::can_coalesce`] before appending), else
    /// as a write of its own.
    #[inline]
    fn note_appended(&mut self, coalesce: bool, first: u64, last: u64) -> Result<(), StepError> {
        match self.pending.back_mut() {
            Some(Pending { write: Write { kind: WriteKind::Append { last: open, .. }, .. }, mark_last }) if coalesce => {
                *open = last;
                *mark_last = last;
                Ok(())
            }
            _ => self.push_write(WriteKind::Append { first, last }, last),
        }
    }

    /// Appends host commands under consecutive zxids from `first` (at most up to counter
    /// `counter_last`) as one write, coalesced like [`Core::append_command`]. Stops at the
    /// first payload longer than `payload_bytes_max` or that storage has no room for, and
    /// returns how many it appended with the reason it stopped early, if any.
    pub(crate) fn append_commands<I>(&mut self, first: Zxid, counter_last: u32, payloads: I, payload_bytes_max: usize) -> (u32, Option<ProposeError>)
    where
        I: Iterator,
        I::Item: AsRef<[u8]>,
    {
        let coalesce = self.can_coalesce();
        if !coalesce && self.pending.is_full() {
            return (0, Some(ProposeError::Busy));
        }
        let (mut taken, mut stopped) = (0u32, None);
        let mut last = 0;
        // Never draw a payload there is no counter for: it would be neither proposed nor
        // left for the caller.
        let room = counter_last.saturating_sub(first.counter).saturating_add(1);
        let room = if first.counter > counter_last { 0 } else { room };
        if crate::config::bugs(&self.config).batch_draws_past_counter {
            return self.append_commands_drawing_past(first, counter_last, payloads, payload_bytes_max, coalesce);
        }
        for payload in payloads.take(room as usize) {
            let payload = payload.as_ref();
            let counter = first.counter + taken;
            if payload.len() > payload_bytes_max {
                stopped = Some(ProposeError::TooLarge { len: payload.len(), max: payload_bytes_max });
                break;
            }
            match self.storage.append_parts(Zxid::new(first.epoch, counter), stored::command_head(payload), payload) {
                Ok(index) => last = index,
                Err(_) => {
                    stopped = Some(ProposeError::Busy);
                    break;
                }
            }
            taken += 1;
        }
        if taken == 0 {
            return (0, stopped);
        }
        // Cannot fail: a write was free when the run began.
        if self.note_appended(coalesce, last + 1 - u64::from(taken), last).is_err() {
            stopped = Some(ProposeError::Busy);
        }
        (taken, stopped)
    }

    /// [`Core::append_commands`] as it was before it stopped drawing at the last counter: it
    /// draws one payload past it and drops it (a planted bug, for the simulator's tests).
    #[cfg(feature = "sim")]
    fn append_commands_drawing_past<I>(&mut self, first: Zxid, counter_last: u32, payloads: I, payload_bytes_max: usize, coalesce: bool) -> (u32, Option<ProposeError>)
    where
        I: Iterator,
        I::Item: AsRef<[u8]>,
    {
        let (mut taken, mut last) = (0u32, 0);
        for payload in payloads {
            let counter = first.counter.wrapping_add(taken);
            if counter > counter_last || counter < first.counter || payload.as_ref().len() > payload_bytes_max {
                break;
            }
            match self.storage.append_parts(Zxid::new(first.epoch, counter), stored::command_head(payload.as_ref()), payload.as_ref()) {
                Ok(index) => last = index,
                Err(_) => break,
            }
            taken += 1;
        }
        if taken > 0 && self.note_appended(coalesce, last + 1 - u64::from(taken), last).is_err() {
            return (taken, Some(ProposeError::Busy));
        }
        (taken, None)
    }

    #[cfg(not(feature = "sim"))]
    fn append_commands_drawing_past<I: Iterator>(&mut self, _: Zxid, _: u32, _: I, _: usize, _: bool) -> (u32, Option<ProposeError>) {
        (0, None)
    }

    /// Starts a run of appends that becomes one write: refuses (busy) when no write can be queued.
    pub(crate) fn begin_appends(&mut self) -> Result<Appends, StepError> {
        if self.pending.is_full() && !self.can_coalesce() {
            return Err(StepError::Busy);
        }
        Ok(Appends { first: 0, last: 0 })
    }

    /// Appends one received entry (stored bytes, see [`crate::stored`]) of a run.
    pub(crate) fn append_to(&mut self, batch: &mut Appends, zxid: Zxid, stored: &[u8]) -> Result<u64, StepError> {
        let index = self.storage.append(zxid, stored).map_err(StepError::Storage)?;
        if batch.first == 0 {
            batch.first = index;
        }
        batch.last = index;
        if stored::is_membership(stored) {
            self.note_membership(index);
        }
        Ok(index)
    }

    /// Appends a batch held as a table and payloads (see `Storage::append_packed`) to a run,
    /// after checking all of it: zxids above `prev` and growing, lengths that add up to the
    /// payloads. Returns how many entries storage took (fewer when it is full).
    pub(crate) fn append_packed_to(&mut self, batch: &mut Appends, prev: Zxid, epoch: u32, table: &[(Zxid, u32)], data: &[u8]) -> Result<usize, StepError> {
        let mut previous = prev;
        let mut bytes = 0usize;
        let mut memberships = false;
        for &(zxid, len) in table {
            if !zxid.follows(previous, epoch) {
                return Err(StepError::Implausible("an entry that does not follow its predecessor in this epoch"));
            }
            previous = zxid;
            // Every stored entry is a command (usually unframed), or a valid membership.
            let stored = data.get(bytes..bytes + len as usize).ok_or(StepError::Wire(crate::wire::WireError::Malformed))?;
            if !stored::is_plain_command(stored) {
                if !membership::valid_entry(stored) {
                    return Err(StepError::Wire(crate::wire::WireError::Malformed));
                }
                memberships |= stored::is_membership(stored);
            }
            bytes += len as usize;
        }
        if bytes != data.len() {
            return Err(StepError::Wire(crate::wire::WireError::Malformed));
        }
        let first = self.storage.last_index() + 1;
        let count = self.storage.append_packed(table, data);
        self.appended_run(batch, first, count, memberships);
        Ok(count)
    }

    /// Appends a batch of consecutive zxids from `first`, `stride` stored bytes each (see
    /// `Storage::append_uniform`), to a run, after checking all of it: `first` following
    /// `prev` in the leader's `epoch`, counters that stay in `first`'s epoch, a whole number
    /// of valid entries. Returns how many entries storage took (fewer when it is full).
    pub(crate) fn append_uniform_to(&mut self, batch: &mut Appends, prev: Zxid, epoch: u32, first: Zxid, stride: u32, data: &[u8]) -> Result<usize, StepError> {
        let malformed = StepError::Wire(crate::wire::WireError::Malformed);
        let stride = stride as usize;
        if stride == 0 || data.len() % stride != 0 {
            return Err(malformed);
        }
        if !first.follows(prev, epoch) {
            return Err(StepError::Implausible("an entry that does not follow its predecessor in this epoch"));
        }
        let count = data.len() / stride;
        if u64::from(first.counter) + count as u64 > u64::from(u32::MAX) + 1 {
            return Err(malformed);
        }
        // Every stored entry is a command (usually unframed), or a valid membership.
        let mut memberships = false;
        for stored in data.chunks_exact(stride) {
            if !stored::is_plain_command(stored) {
                if !membership::valid_entry(stored) {
                    return Err(malformed);
                }
                memberships |= stored::is_membership(stored);
            }
        }
        let first_index = self.storage.last_index() + 1;
        let taken = self.storage.append_uniform(first, stride, data);
        self.appended_run(batch, first_index, taken, memberships);
        Ok(taken)
    }

    /// Records `count` entries appended from `first` in a run (and any membership among them).
    fn appended_run(&mut self, batch: &mut Appends, first: u64, count: usize, memberships: bool) {
        if count > 0 {
            if batch.first == 0 {
                batch.first = first;
            }
            batch.last = first + count as u64 - 1;
        }
        if memberships {
            for index in first..first + count as u64 {
                if self.storage.payload_at(index).is_some_and(stored::is_membership) {
                    self.note_membership(index);
                }
            }
        }
    }

    /// Queues the write for a run of appends (nothing if it was empty).
    pub(crate) fn end_appends(&mut self, batch: Appends) -> Result<(), StepError> {
        if batch.first == 0 {
            return Ok(());
        }
        self.push_write(WriteKind::Append { first: batch.first, last: batch.last }, batch.last)
    }

    #[inline]
    fn can_coalesce(&self) -> bool {
        debug_assert_eq!(
            self.open_append,
            self.pending.len() > self.handed
                && matches!(self.pending.back(), Some(Pending { write: Write { kind: WriteKind::Append { last, .. }, .. }, .. }) if *last == self.storage.last_index())
        );
        self.open_append
    }

    /// Drops entries after `index`. Committed entries are never dropped.
    pub(crate) fn truncate_after(&mut self, index: u64) -> Result<(), StepError> {
        if index < self.commit_index {
            return Err(StepError::Conflict);
        }
        if index >= self.storage.last_index() {
            return Ok(());
        }
        if self.pending.is_full() {
            return Err(StepError::Busy);
        }
        self.storage.truncate_after(index).map_err(StepError::Storage)?;
        self.durable_index = self.durable_index.min(index);
        if self.membership_pending.as_ref().is_some_and(|(at, _)| *at > index) {
            // The change was never committed; the committed membership stands.
            self.membership_pending = None;
        }
        let handed = self.handed;
        for (i, p) in self.pending.iter_mut().enumerate() {
            p.mark_last = p.mark_last.min(index);
            if i < handed {
                continue;
            }
            // The host has not read this append yet: it must not see entries that are gone.
            if let WriteKind::Append { first, last } = &mut p.write.kind {
                if *first > index {
                    p.write.kind = WriteKind::Truncate { after: index };
                } else {
                    *last = (*last).min(index);
                }
            }
        }
        self.push_write(WriteKind::Truncate { after: index }, 0)
    }

    /// Replaces everything with the snapshot received into staging.
    pub(crate) fn install_snapshot(&mut self, index: u64, zxid: Zxid, len: u32) -> Result<(), StepError> {
        if index < self.commit_index || self.pending.is_full() {
            return Err(if index < self.commit_index { StepError::Conflict } else { StepError::Busy });
        }
        let replaced = self.storage.install_received_snapshot(index, zxid, len).map_err(StepError::Storage)?;
        let handed = self.handed;
        let last = self.storage.last_index();
        for (i, p) in self.pending.iter_mut().enumerate() {
            if replaced {
                // The entries these writes make durable are gone.
                p.mark_last = 0;
            }
            if i < handed {
                continue;
            }
            // The host has not read these appends: they must not name entries that are gone.
            if let WriteKind::Append { first, last: end } = &mut p.write.kind {
                if replaced || *end <= index {
                    p.write.kind = WriteKind::Truncate { after: if replaced { 0 } else { last } };
                } else {
                    *first = (*first).max(index + 1);
                }
            }
        }
        // Covered by the snapshot once its write is durable (see `durable`): until then
        // nothing it holds is advertised (votes, ACKEPOCH), acknowledged or applied.
        let early = crate::config::bugs(&self.config).snapshot_used_early;
        if replaced {
            self.durable_index = if early { index } else { 0 };
        }
        self.commit_index = index;
        self.applied_index = index;
        self.restore_pending = early;
        let before = (self.config.voters.clone(), self.config.observers.clone());
        self.recover_membership();
        self.membership_changed = before != (self.config.voters.clone(), self.config.observers.clone()) || self.membership_pending.is_some();
        self.snapshot_pending = if early { None } else { Some(self.next_seq) };
        self.push_write(WriteKind::Snapshot { index, zxid, replaces_history: replaced }, 0)
    }

    /// Takes a host snapshot and compacts behind it.
    pub(crate) fn compact(&mut self, index: u64, data: &[u8]) -> Result<(), crate::error::CompactError> {
        use crate::error::CompactError;
        if index > self.applied_index || index <= self.storage.snapshot_point().0 {
            return Err(CompactError::NotApplied);
        }
        if self.pending.is_full() {
            return Err(CompactError::Busy);
        }
        let zxid = self.storage.zxid_at(index).ok_or(CompactError::NotApplied)?;
        // The snapshot opens with the membership at its point, which compaction would drop.
        let membership = self.membership_at(index);
        let mut head = [0u8; membership::MEMBERSHIP_BYTES_MAX];
        let len = membership.encode(&mut head);
        self.storage.compact_through(index, head.get(..len).unwrap_or(&[]), data).map_err(CompactError::Storage)?;
        self.base = membership;
        self.push_write(WriteKind::Snapshot { index, zxid, replaces_history: false }, 0).map_err(|_| CompactError::Busy)
    }

    pub(crate) fn poll_write(&mut self) -> Option<Write> {
        let write = self.pending.iter().nth(self.handed)?.write;
        self.handed += 1;
        if self.handed == self.pending.len() {
            self.open_append = false;
        }
        Some(write)
    }

    /// Applies the host's report; returns whether anything became durable.
    pub(crate) fn durable(&mut self, seq: u64) -> bool {
        let mut changed = false;
        while self.handed > 0 {
            match self.pending.front() {
                Some(p) if p.write.seq <= seq => {}
                _ => break,
            }
            let Some(p) = self.pending.pop_front() else { break };
            self.handed -= 1;
            changed = true;
            match p.write.kind {
                WriteKind::HardState(hard) => self.durable_hard = hard,
                WriteKind::Append { .. } => self.durable_index = self.durable_index.max(p.mark_last),
                WriteKind::Truncate { .. } => {}
                WriteKind::Snapshot { index, .. } => {
                    if self.snapshot_pending == Some(p.write.seq) {
                        // A snapshot received by SNAP, durable now: it may be advertised
                        // and handed to the host.
                        self.snapshot_pending = None;
                        self.durable_index = self.durable_index.max(index);
                        self.restore_pending = true;
                    }
                }
            }
        }
        changed
    }

    /// Raises the commit point (never lowers it).
    pub(crate) fn commit_to(&mut self, index: u64) {
        let index = index.min(self.storage.last_index());
        if index <= self.commit_index {
            return;
        }
        self.commit_index = index;
        self.activate_membership();
        let used = self.storage.used_percent();
        if used >= 50 && self.applied_index > self.snapshot_wanted_at {
            self.snapshot_wanted_at = self.applied_index.max(self.commit_index);
            let applied = self.storage.zxid_at(self.applied_index).unwrap_or(Zxid::ZERO);
            self.event(Event::SnapshotWanted { used_percent: used, applied });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::HeaplessStorage;

    fn started() -> Core<HeaplessStorage<4, 256, 64>> {
        let mut core = Core::idle(HeaplessStorage::new());
        let config = Config::new(1, &[1, 2, 3], &[]).unwrap_or_else(|e| panic!("config: {e:?}"));
        core.restart(config);
        core
    }

    /// Handshake ids never repeat: when a start's count runs out, the next id is of a new
    /// incarnation, written before it is used, and the count starts again.
    #[test]
    fn handshake_ids_move_to_a_new_incarnation_when_the_count_runs_out() {
        let mut core = started();
        let incarnation = core.storage.hard_state().incarnation;
        assert_eq!(core.next_exchange(), u64::from(incarnation) << 32 | 1, "the first id of a start");
        core.exchanges = u32::MAX - 1;
        assert_eq!(core.next_exchange(), u64::from(incarnation) << 32 | u64::from(u32::MAX), "the last id of the count");
        let next = core.next_exchange();
        assert_eq!(core.storage.hard_state().incarnation, incarnation + 1, "a new incarnation is written");
        assert_eq!(next, u64::from(incarnation + 1) << 32 | 1, "and the count starts over in it");
        assert!(!core.exchange_ready(), "ids of the new incarnation wait until it is durable");
    }

    /// `append_uniform_to` on a fresh node (room for four entries): the result, and the node.
    fn uniform(prev: Zxid, first: Zxid, stride: u32, data: &[u8]) -> (Result<usize, StepError>, Core<HeaplessStorage<4, 256, 64>>) {
        let mut core = started();
        let mut batch = Appends { first: 0, last: 0 };
        let result = core.append_uniform_to(&mut batch, prev, 1, first, stride, data);
        (result, core)
    }

    /// A uniform batch is checked whole before any of it goes in: a zero stride, a partial
    /// last entry, a first entry that does not follow, counters past the last there is, an
    /// entry that is neither a command nor a valid membership. At the last counter it goes in;
    /// a membership among its entries is noted as pending; storage takes what it has room for.
    #[test]
    fn a_uniform_batch_is_checked_whole_before_it_goes_in() {
        let malformed = Err(StepError::Wire(crate::wire::WireError::Malformed));
        let z = |counter: u32| Zxid::new(1, counter);
        assert_eq!(uniform(Zxid::ZERO, z(1), 0, b"ab").0, malformed, "a zero stride");
        assert_eq!(uniform(Zxid::ZERO, z(1), 2, b"abc").0, malformed, "a partial entry");
        assert!(matches!(uniform(Zxid::ZERO, z(2), 1, b"ab").0, Err(StepError::Implausible(_))), "a gap");
        assert_eq!(uniform(z(u32::MAX - 1), z(u32::MAX), 2, b"abcd").0, malformed, "past the last counter");
        assert_eq!(uniform(z(u32::MAX - 1), z(u32::MAX), 2, b"ab").0, Ok(1), "at the last counter");
        assert_eq!(uniform(z(1 << 16), z((1 << 16) + 1), 1, &[7; 1 << 16]).0, Ok(4), "counters far from the last: what fits");
        assert_eq!(uniform(Zxid::ZERO, z(1), 2, &[b'a', b'b', stored::ESCAPE, 2]).0, malformed, "an unknown escape");
        let (result, core) = uniform(Zxid::ZERO, z(1), 2, &[stored::ESCAPE, 0, b'a', b'b']);
        assert_eq!((result, core.membership_pending.is_some()), (Ok(2), false), "an escaped command");
        // Voters 1, 2, 3 and 4, no observer.
        let entry = [&stored::MEMBERSHIP_MARK[..], &[4, 1, 0, 2, 0, 3, 0, 4, 0, 0]].concat();
        let (result, core) = uniform(Zxid::ZERO, z(1), entry.len() as u32, &entry);
        assert_eq!((result, core.membership_pending.as_ref().map(|(at, _)| *at)), (Ok(1), Some(1)), "a membership");
    }

    /// Appends `entries` (counters of epoch 1, payload "e", or a membership) as one run.
    fn run(core: &mut Core<HeaplessStorage<4, 256, 64>>, entries: &[(u32, &[u8])]) {
        let mut batch = core.begin_appends().unwrap_or_else(|e| panic!("{e:?}"));
        for (counter, stored) in entries {
            core.append_to(&mut batch, Zxid::new(1, *counter), stored).unwrap_or_else(|e| panic!("{e:?}"));
        }
        core.end_appends(batch).unwrap_or_else(|e| panic!("{e:?}"));
    }

    /// Every write the host has not taken yet, taken.
    fn taken_writes(core: &mut Core<HeaplessStorage<4, 256, 64>>) -> std::vec::Vec<WriteKind> {
        core::iter::from_fn(|| core.poll_write().map(|w| w.kind)).collect()
    }

    /// A truncation rewrites the writes the host has not taken so that none names an entry
    /// that is gone: an append past the truncation becomes a truncation, one across it ends
    /// there, one ending at it stays; writes taken already are left alone.
    #[test]
    fn a_truncation_rewrites_the_writes_not_taken_yet() {
        let mut core = started();
        while core.poll_write().is_some() {} // the start's incarnation
        run(&mut core, &[(1, b"e"), (2, b"e")]);
        let hard = core.storage.hard_state();
        core.set_hard_state(hard).unwrap_or_else(|e| panic!("{e:?}"));
        run(&mut core, &[(3, b"e"), (4, b"e")]);
        core.truncate_after(1).unwrap_or_else(|e| panic!("{e:?}"));
        let writes = taken_writes(&mut core);
        assert_eq!(writes, [WriteKind::Append { first: 1, last: 1 }, WriteKind::HardState(hard), WriteKind::Truncate { after: 1 }, WriteKind::Truncate { after: 1 }]);

        let mut core = started();
        while core.poll_write().is_some() {}
        run(&mut core, &[(1, b"e")]);
        assert_eq!(core.poll_write().map(|w| w.kind), Some(WriteKind::Append { first: 1, last: 1 }), "taken");
        run(&mut core, &[(2, b"e"), (3, b"e")]);
        core.truncate_after(2).unwrap_or_else(|e| panic!("{e:?}"));
        let writes = taken_writes(&mut core);
        assert_eq!(writes, [WriteKind::Append { first: 2, last: 2 }, WriteKind::Truncate { after: 2 }]);
    }

    /// A membership change pending at a position survives a truncation after it, and is
    /// dropped by one before it (it was never committed).
    #[test]
    fn a_pending_membership_goes_only_with_its_entry() {
        let membership: &[u8] = &[0xFF, 1, 4, 1, 0, 2, 0, 3, 0, 4, 0, 0];
        let mut core = started();
        run(&mut core, &[(1, b"e"), (2, membership), (3, b"e")]);
        assert_eq!(core.membership_pending.as_ref().map(|(at, _)| *at), Some(2));
        core.truncate_after(2).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(core.membership_pending.as_ref().map(|(at, _)| *at), Some(2), "after it: kept");
        core.truncate_after(1).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(core.membership_pending.is_none(), "before it: dropped");
    }

    /// A received snapshot below the commit point is a conflict, and one that finds the write
    /// queue full is busy: either way nothing is installed.
    #[test]
    fn a_snapshot_below_the_commit_point_or_into_a_full_queue_is_not_installed() {
        let mut core = started();
        run(&mut core, &[(1, b"e"), (2, b"e"), (3, b"e")]);
        core.commit_index = 2;
        let receive = |core: &mut Core<HeaplessStorage<4, 256, 64>>| core.storage.receive_snapshot_chunk(0, b"snap").unwrap_or_else(|e| panic!("{e:?}"));
        receive(&mut core);
        assert_eq!(core.install_snapshot(1, Zxid::new(1, 1), 4), Err(StepError::Conflict));
        let hard = core.storage.hard_state();
        while core.writes_free() > 0 {
            core.set_hard_state(hard).unwrap_or_else(|e| panic!("{e:?}"));
        }
        receive(&mut core);
        assert_eq!(core.install_snapshot(3, Zxid::new(1, 3), 4), Err(StepError::Busy));
        assert_eq!(core.install_snapshot(2, Zxid::new(1, 2), 4), Err(StepError::Busy), "at the commit point");
        assert_eq!(core.storage.snapshot_point(), (0, Zxid::ZERO), "nothing installed");
    }

    /// A received snapshot rewrites the writes the host has not taken: one that keeps the
    /// history after it leaves appends of what follows it (cut to start after it) and makes
    /// the others no-ops; one that replaces the history turns every append into a truncation.
    #[test]
    fn an_installed_snapshot_rewrites_the_writes_not_taken_yet() {
        for (zxid, replaces) in [(Zxid::new(1, 3), false), (Zxid::new(2, 7), true)] {
            let mut core = started();
            while core.poll_write().is_some() {}
            run(&mut core, &[(1, b"e")]);
            assert!(core.poll_write().is_some(), "taken");
            run(&mut core, &[(2, b"e")]);
            let hard = core.storage.hard_state();
            core.set_hard_state(hard).unwrap_or_else(|e| panic!("{e:?}"));
            run(&mut core, &[(3, b"e"), (4, b"e")]);
            core.storage.receive_snapshot_chunk(0, &[3, 1, 0, 2, 0, 3, 0, 0, b's']).unwrap_or_else(|e| panic!("{e:?}"));
            core.install_snapshot(3, zxid, 9).unwrap_or_else(|e| panic!("{e:?}"));
            let writes = taken_writes(&mut core);
            let expected = if replaces {
                [WriteKind::Truncate { after: 0 }, WriteKind::HardState(hard), WriteKind::Truncate { after: 0 }]
            } else {
                [WriteKind::Truncate { after: 4 }, WriteKind::HardState(hard), WriteKind::Append { first: 4, last: 4 }]
            };
            assert_eq!(writes[..3], expected, "replacing the history: {replaces}");
            assert_eq!(writes[3], WriteKind::Snapshot { index: 3, zxid, replaces_history: replaces });
        }
    }

    /// A received snapshot whose membership differs from the node's changes it, and says so;
    /// one with the same membership does not.
    #[test]
    fn an_installed_snapshot_with_another_membership_changes_it() {
        for (head, changed) in [(&[3u8, 1, 0, 2, 0, 3, 0, 0][..], false), (&[4, 1, 0, 2, 0, 3, 0, 4, 0, 0], true)] {
            let mut core = started();
            core.storage.receive_snapshot_chunk(0, head).unwrap_or_else(|e| panic!("{e:?}"));
            core.install_snapshot(5, Zxid::new(1, 5), head.len() as u32).unwrap_or_else(|e| panic!("{e:?}"));
            assert_eq!((core.membership_changed, core.config.voters.len()), (changed, head[0] as usize));
        }
    }

    /// A run of appends storage took nothing of queues no write.
    #[test]
    fn a_run_storage_took_nothing_of_is_no_write() {
        let mut core = started();
        while core.poll_write().is_some() {} // the start's incarnation
        let mut batch = core.begin_appends().unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(core.append_uniform_to(&mut batch, Zxid::ZERO, 1, Zxid::new(1, 1), 1, b"abcd"), Ok(4));
        core.end_appends(batch).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(core.poll_write().map(|w| w.kind), Some(WriteKind::Append { first: 1, last: 4 }));
        let mut batch = core.begin_appends().unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(core.append_uniform_to(&mut batch, Zxid::new(1, 4), 1, Zxid::new(1, 5), 1, b"e"), Ok(0), "full");
        core.end_appends(batch).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(core.poll_write(), None);
    }
}
