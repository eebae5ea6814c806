//! The node: inputs in (`tick`, `step`, `propose`, `durable`, `compact`),
//! outputs drained by the host (`poll_transmit`, `poll_write`, `poll_commit`,
//! `poll_event`). No clock, no randomness but the seed, no I/O.

use crate::config::{Config, ConfigError};
use crate::core::{Core, Event, Role, Write};
use crate::error::{CompactError, Counters, ProposeError, ReadError, StepError, TransferError};
use crate::membership::{Membership, MembershipChange, MembershipError};
use crate::stored::{self, Stored};
use crate::role::election::Election;
use crate::role::leader::Leader;
use crate::role::learner::Learner;
use crate::role::Transition;
use crate::storage::Storage;
use crate::wire::{self, Bytes, Header, Message, PeerState, Vote};
use crate::{NodeId, Zxid};

/// A message to send: `buf[..len]` goes to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The receiver.
    pub to: NodeId,
    /// Bytes written into the caller's buffer.
    pub len: usize,
}

/// The guarantee a read asks for. A *local* read (ZooKeeper's sequential consistency:
/// the host's applied state, in zxid order, possibly behind the leader) needs no call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadKind {
    /// ZooKeeper's `sync`: the read sees every write committed before the read was asked
    /// (the leader's commit point), without confirming leadership.
    Sync,
    /// Linearizable: the leader first confirms with a majority that it still leads, so the
    /// read sees every write committed anywhere before it was asked.
    Linearizable,
}

/// Where a proposal went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proposed {
    /// This node leads: the proposal has this zxid.
    Local(Zxid),
    /// Forwarded to the leader: at most once — lost if the message is lost, the leader
    /// changes before it arrives, or a later FORWARD overtakes it.
    Forwarded {
        /// The leader it went to.
        leader: NodeId,
    },
}

/// What [`Node::propose_batch`] took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProposedBatch {
    /// How many payloads were proposed, from the first; the rest were not.
    pub taken: usize,
    /// Where the first went (`None` only when there was nothing to propose). At the leader
    /// the others follow its zxid counter by counter; forwarded ones all went to one leader.
    pub first: Option<Proposed>,
}

/// Something committed, to apply to the state machine in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Apply<'a> {
    /// A committed entry.
    Entry {
        /// Position in the history.
        index: u64,
        /// Its zxid.
        zxid: Zxid,
        /// Its payload.
        payload: &'a [u8],
    },
    /// A committed membership entry: nothing for the state machine to do (the change is in
    /// effect, and [`Node::config`] names the members); `encoded` decodes with
    /// [`Membership::decode`].
    Membership {
        /// Position in the history.
        index: u64,
        /// Its zxid.
        zxid: Zxid,
        /// The membership, encoded.
        encoded: &'a [u8],
    },
    /// Replace the state machine with this snapshot (after SNAP sync, or at start).
    Snapshot {
        /// Last position covered.
        index: u64,
        /// Last zxid covered.
        zxid: Zxid,
        /// The snapshot.
        data: &'a [u8],
    },
}

/// Committed entries handed out together by [`Node::poll_commits`], in order.
pub struct Commits<'a, S: Storage> {
    storage: &'a S,
    /// A snapshot to restore comes first.
    snapshot: bool,
    next: u64,
    last: u64,
    /// The stored bytes of the next `span_left` entries, `stride` each, from `next` on, and the
    /// packed zxid of the first: a stretch read without a lookup each (see `Storage::span`).
    span: &'a [u8],
    span_left: u64,
    stride: usize,
    span_zxid: u64,
}

impl<'a, S: Storage> Iterator for Commits<'a, S> {
    type Item = Apply<'a>;

    // Always inlined: a host's apply loop then never builds an `Apply` it matches at once.
    #[inline(always)]
    fn next(&mut self) -> Option<Apply<'a>> {
        if core::mem::take(&mut self.snapshot) {
            return Some(snapshot_to_apply(self.storage));
        }
        if self.span_left == 0 && !self.find_span() {
            return self.next_looked_up();
        }
        let (stored, rest) = self.span.split_at_checked(self.stride)?;
        let (index, zxid) = (self.next, Zxid::from_u64(self.span_zxid));
        (self.span, self.span_left, self.next, self.span_zxid) = (rest, self.span_left - 1, index + 1, self.span_zxid.wrapping_add(1));
        Some(entry_to_apply(index, zxid, stored))
    }

    // Internal iteration (`for_each`, `fold`, …) walks a stretch of equal-length entries
    // as chunks, with no per-entry bookkeeping in between.
    #[inline]
    fn fold<B, F: FnMut(B, Apply<'a>) -> B>(mut self, init: B, mut f: F) -> B {
        let mut acc = init;
        loop {
            if self.span_left > 0 {
                let (mut index, mut zxid) = (self.next, self.span_zxid);
                for stored in self.span.chunks_exact(self.stride) {
                    acc = f(acc, entry_to_apply(index, Zxid::from_u64(zxid), stored));
                    (index, zxid) = (index + 1, zxid.wrapping_add(1));
                }
                (self.next, self.span_zxid, self.span_left, self.span) = (index, zxid, 0, &[]);
            }
            match self.next() {
                Some(apply) => acc = f(acc, apply),
                None => return acc,
            }
        }
    }
}

impl<'a, S: Storage> Commits<'a, S> {
    /// Takes the stretch of entries from `next` on that storage holds as one span, if it does
    /// (and it is more than one entry).
    #[inline(never)]
    fn find_span(&mut self) -> bool {
        match self.storage.span(self.next, self.last) {
            Some(span) if span.count > 1 && span.bytes.len() as u64 == span.count.saturating_mul(span.stride as u64) => {
                (self.span, self.span_left, self.stride, self.span_zxid) = (span.bytes, span.count, span.stride, span.zxid.as_u64());
                true
            }
            _ => false,
        }
    }

    /// The next entry looked up by its position.
    #[inline(never)]
    fn next_looked_up(&mut self) -> Option<Apply<'a>> {
        while self.next <= self.last {
            let index = self.next;
            self.next += 1;
            if let Some((zxid, stored)) = self.storage.entry_at(index) {
                return Some(entry_to_apply(index, zxid, stored));
            }
        }
        None
    }
}

/// A stored entry as the host applies it: a command, or a membership.
#[inline(always)]
fn entry_to_apply(index: u64, zxid: Zxid, stored: &[u8]) -> Apply<'_> {
    if stored::is_plain_command(stored) {
        return Apply::Entry { index, zxid, payload: stored };
    }
    framed_entry_to_apply(index, zxid, stored)
}

/// [`entry_to_apply`] for an entry stored behind the escape byte (off the usual path).
#[cold]
#[inline(never)]
fn framed_entry_to_apply(index: u64, zxid: Zxid, stored: &[u8]) -> Apply<'_> {
    match stored::decode(stored) {
        Stored::Command(payload) => Apply::Entry { index, zxid, payload },
        Stored::Membership(encoded) => Apply::Membership { index, zxid, encoded },
        // Every entry was checked when it was appended; none of these is ever stored.
        Stored::Unknown => Apply::Entry { index, zxid, payload: stored },
    }
}

/// The stored snapshot as the host restores it: the kernel's membership opens it, the
/// host gets its own data.
fn snapshot_to_apply<S: Storage>(storage: &S) -> Apply<'_> {
    let (index, zxid) = storage.snapshot_point();
    let stored = storage.snapshot_data();
    let data = crate::membership::snapshot_host_data(stored);
    Apply::Snapshot { index, zxid, data }
}

// A leader's per-peer progress makes `Leading` the large variant; a node holds one
// role at a time, so boxing it would only add an allocation the kernel cannot make.
#[allow(clippy::large_enum_variant)]
enum RoleState {
    Looking(Election),
    Learning(Learner),
    Leading(Leader),
}

/// A ZAB node over storage `S`, holding at most `FORWARD_BYTES` of proposals
/// waiting to be forwarded to the leader.
pub struct Node<S: Storage, const FORWARD_BYTES: usize = 1024> {
    core: Core<S>,
    role: RoleState,
    forward: heapless::Vec<u8, FORWARD_BYTES>,
    /// Sequence number of the last FORWARD sent (counted from 0 at every start).
    forward_seq: u32,
    /// Id of the last read asked.
    read_id: u32,
    /// Bytes at the front of `forward` already handed out in a FORWARD.
    forward_taken: usize,
}

impl<S: Storage, const FORWARD_BYTES: usize> Node<S, FORWARD_BYTES> {
    /// A node starting from `storage` (empty, or rebuilt from what was durable before a crash).
    pub fn new(config: Config, storage: S) -> Result<Self, ConfigError> {
        let mut node = Node::idle(storage);
        node.restart(config)?;
        Ok(node)
    }

    /// A node that has not started, around `storage`: a `const fn`, so a board can
    /// place nodes in `static`s and start them with [`Node::restart`] without building
    /// kilobytes on a small stack.
    pub const fn idle(storage: S) -> Self {
        Node { core: Core::idle(storage), role: RoleState::Looking(Election::idle()), forward: heapless::Vec::new(), forward_seq: 0, read_id: 0, forward_taken: 0 }
    }

    /// (Re)starts this node in place from what its storage holds, as [`Node::new`] does.
    /// After a crash, first bring the storage back to what was durable
    /// ([`Node::storage_mut`]). Refuses an invalid configuration and then changes nothing.
    pub fn restart(&mut self, config: Config) -> Result<(), ConfigError> {
        config.validate()?;
        self.core.restart(config);
        // Read ids start somewhere new at every start, so a reply to a read asked before a
        // restart (still in the network) cannot be taken for a reply to a new one.
        self.read_id = self.core.random() as u32;
        self.forward.clear();
        self.forward_taken = 0;
        self.forward_seq = 0;
        self.role = RoleState::Looking(Election::idle());
        if let RoleState::Looking(election) = &mut self.role {
            election.begin(&mut self.core);
        }
        Ok(())
    }

    /// The storage, to rebuild it before [`Node::restart`] (after a crash, keep only
    /// what was durable). Changing it under a running node breaks its guarantees.
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.core.storage
    }

    /// Advances logical time by one tick.
    pub fn tick(&mut self) {
        self.core.now += 1;
        self.core.write_commit_floor();
        let transition = match &mut self.role {
            RoleState::Looking(e) => e.tick(&mut self.core),
            RoleState::Learning(l) => l.tick(&mut self.core),
            RoleState::Leading(l) => l.tick(&mut self.core),
        };
        self.apply(transition);
        self.after_membership_change();
    }

    /// Acts on a committed membership change: a leader tracks the new members (and hands
    /// over if it no longer votes); a node no longer a member stops taking part.
    fn after_membership_change(&mut self) {
        if !self.core.membership_changed {
            return;
        }
        self.core.membership_changed = false;
        let me = self.core.me();
        let transition = match &mut self.role {
            RoleState::Leading(l) => l.on_membership_changed(&mut self.core),
            RoleState::Learning(_) if !self.core.is_member_any(me) => Some(Transition::Look),
            RoleState::Looking(e) => {
                e.on_membership_changed(&mut self.core);
                None
            }
            _ => None,
        };
        self.apply(transition);
    }

    /// Handles one received envelope. On error the message is counted and dropped;
    /// the node's state is intact.
    pub fn step(&mut self, bytes: &[u8]) -> Result<(), StepError> {
        let config = &self.core.config;
        let result = match wire::decode(bytes, config.cluster_id, config.id, config.message_bytes_max) {
            Ok((header, message)) => self.step_value(header.from, message),
            Err(e) => Err(StepError::Wire(e)),
        };
        if let Err(e) = &result {
            self.core.counters.count(e);
        }
        self.after_membership_change();
        result
    }

    /// Handles one message passed as a value (from [`Node::poll_message`] at node `from`, or a
    /// [`wire::MessageBuf`] holding one), for hosts that keep messages in memory: no envelope,
    /// checksum or decoding. Every check that is not about bytes is the same as in
    /// [`Node::step`] (sender, epoch, role, size limit, malformed entries), and so are the
    /// outcome and the counting of refused input.
    pub fn step_message(&mut self, from: NodeId, message: &Message<'_>) -> Result<(), StepError> {
        let result = match wire::check_value_len(message, self.core.config.message_bytes_max) {
            Ok(()) => self.step_value(from, *message),
            Err(e) => Err(StepError::Wire(e)),
        };
        if let Err(e) = &result {
            self.core.counters.count(e);
        }
        self.after_membership_change();
        result
    }

    fn step_value(&mut self, from: NodeId, message: Message<'_>) -> Result<(), StepError> {
        if from == 0 {
            // Nobody: never a member, never a leader to follow.
            return Err(StepError::UnknownSender(0));
        }
        if matches!(message, Message::Notification { round, .. } if round > crate::limits::ROUND_MAX) && !crate::config::bugs(&self.core.config).rounds_unbounded {
            // Adopted, it would leave no rounds to count up to.
            return Err(StepError::Implausible("an election round near the end of its range"));
        }
        let config = &self.core.config;
        // A learner's leader may be unknown to its membership (a node joining, or behind):
        // the leader's own messages bring the membership up to date.
        let my_leader = matches!(&self.role, RoleState::Learning(l) if l.leader == from);
        // So may a leader answering this node's question (see `Election::on_notification`).
        let leader_claim = matches!(message, Message::Notification { state: PeerState::Leading, vote, .. } if vote.leader == from);
        if from == config.id || !(self.core.is_member_any(from) || my_leader || leader_claim) {
            if let Message::Notification { round, state: PeerState::Looking, vote, .. } = message {
                if from != config.id {
                    // A node removed while it was away learns so from the answer (it names
                    // the membership committed here).
                    let transition = self.on_notification(from, round, PeerState::Looking, vote);
                    self.apply(transition);
                }
            }
            return Err(StepError::UnknownSender(from));
        }
        let transition = match (message, &mut self.role) {
            // A vote names a voter, or the sender itself (an observer's placeholder while it looks).
            // (A leader named by a node that follows it may be unknown here: membership moves on.)
            // A voter may name a member with a newer history than ours as its candidate: one
            // promoted by an entry we have not received yet.
            (Message::Notification { vote, state, round, .. }, role)
                if state == PeerState::Looking
                    && !self.core.is_voter_any(vote.leader)
                    && vote.leader != from
                    && !(self.core.is_voter_any(from) && self.core.is_member_any(vote.leader) && vote.zxid > self.core.durable_zxid()) =>
            {
                match role {
                    RoleState::Looking(_) if crate::config::bugs(&self.core.config).round_ignores_unknown_candidate => {}
                    RoleState::Looking(election) => election.on_round_of_unknown_candidate(&mut self.core, from, round),
                    // Still tell the sender who leads: its membership may be behind ours.
                    _ => {
                        self.on_notification(from, round, state, vote);
                    }
                }
                return Err(StepError::Unexpected("a vote for a node that is not a voter"));
            }
            (Message::Notification { round, state, vote, membership }, _) => {
                self.core.membership_committed_elsewhere(membership);
                self.on_notification(from, round, state, vote)
            }
            (_, RoleState::Looking(_)) => return Err(StepError::Unexpected("no leader while looking")),
            (message, RoleState::Learning(l)) => l.step(&mut self.core, from, message)?,
            (message, RoleState::Leading(l)) => l.step(&mut self.core, from, message)?,
        };
        self.apply(transition);
        Ok(())
    }

    fn on_notification(&mut self, from: NodeId, round: u64, state: PeerState, vote: Vote) -> Option<Transition> {
        let joins = match &self.role {
            RoleState::Learning(l) => state == PeerState::Looking && l.leader_silent(&self.core) && self.core.is_voter_any(from) && self.core.is_voter_any(self.core.me()),
            _ => false,
        };
        if joins {
            // A voter is electing and our leader has been silent for a whole election
            // timeout: it is gone for this node too, so join the election now rather than at
            // this node's own (randomised, later) timeout. A healthy leader is heard every
            // heartbeat, so a node that was cut off cannot pull its followers away.
            self.apply(Some(Transition::Look));
            if let RoleState::Looking(e) = &mut self.role {
                return e.on_notification(&mut self.core, from, round, state, vote);
            }
            return None;
        }
        let core = &mut self.core;
        let (state_here, vote_here) = match &mut self.role {
            RoleState::Looking(e) => return e.on_notification(core, from, round, state, vote),
            RoleState::Learning(l) => (Learner::peer_state(core), l.vote(core)),
            RoleState::Leading(l) => (PeerState::Leading, l.vote(core)),
        };
        if state == PeerState::Looking {
            // Tell a looking node who leads, so it joins instead of electing.
            core.send(from, Message::Notification { round: core.round, state: state_here, vote: vote_here, membership: core.membership_zxid });
        }
        None
    }

    fn apply(&mut self, transition: Option<Transition>) {
        let Some(mut transition) = transition else { return };
        let observer = !self.core.is_voter_any(self.core.me());
        loop {
            if observer && transition == Transition::Lead {
                transition = Transition::Look;
            }
            if let Transition::Follow(leader) = transition {
                if leader == self.core.me() {
                    transition = Transition::Lead;
                    continue;
                }
            }
            break;
        }
        self.settle_forward();
        self.core.counters.forward_dropped += self.forward_records() as u64;
        self.forward.clear();
        self.fail_reads();
        // Each arm writes the new role straight into place: no role-sized temporaries.
        let role = match transition {
            Transition::Follow(leader) => {
                self.role = RoleState::Learning(Learner::start(&mut self.core, leader));
                if observer { Role::Observing } else { Role::Following }
            }
            Transition::Lead => match Leader::start(&mut self.core) {
                Ok(leader) => {
                    self.role = RoleState::Leading(leader);
                    Role::Leading
                }
                Err(_) => self.look(),
            },
            Transition::Look => self.look(),
        };
        self.core.event(Event::Role { role });
    }

    /// Reads not yet confirmed fail when the role changes: the host retries them.
    fn fail_reads(&mut self) {
        match &mut self.role {
            RoleState::Leading(l) => {
                while let Some(read) = l.reads.pop_front() {
                    if read.from == self.core.me() {
                        self.core.event(Event::ReadFailed { id: read.id });
                    }
                }
            }
            RoleState::Learning(l) => {
                for (id, _) in core::mem::take(&mut l.reads) {
                    self.core.event(Event::ReadFailed { id });
                }
            }
            RoleState::Looking(_) => {}
        }
    }

    /// Asks for a read with the given guarantee. Returns its id; `Event::ReadReady { id, zxid }`
    /// follows once the host has applied up to the read point (serve the read from the
    /// applied state then), or `Event::ReadFailed { id }` if it cannot be confirmed.
    pub fn read(&mut self, kind: ReadKind) -> Result<u32, ReadError> {
        let id = self.read_id.wrapping_add(1);
        let linearizable = kind == ReadKind::Linearizable;
        let me = self.core.me();
        match &mut self.role {
            RoleState::Leading(l) => l.read(&mut self.core, me, id, linearizable)?,
            RoleState::Learning(l) => l.read(&mut self.core, id, linearizable)?,
            RoleState::Looking(_) => return Err(ReadError::NoLeader),
        }
        self.read_id = id;
        Ok(id)
    }

    /// Hands leadership over to voter `to` (leadership transfer): this leader stops taking
    /// proposals (`ProposeError::Transferring`), waits until `to` holds its whole history,
    /// then tells every member to follow `to` and steps down; `to` starts a new epoch. If
    /// that does not happen within two election timeouts, `Event::TransferFailed` says so
    /// and this node goes on leading.
    pub fn transfer_leadership(&mut self, to: NodeId) -> Result<(), TransferError> {
        match &mut self.role {
            RoleState::Leading(l) => l.transfer(&self.core, to),
            _ => Err(TransferError::NotLeader),
        }
    }

    /// Proposes a membership change (leader only). The change is an entry and takes effect
    /// when it commits (`Event::Membership`); until then every quorum must be a majority of
    /// the old voters and of the new. One change at a time; a bad request changes nothing.
    pub fn change_membership(&mut self, change: MembershipChange) -> Result<Zxid, MembershipError> {
        let result = match &mut self.role {
            RoleState::Leading(l) => l.change_membership(&mut self.core, change),
            _ => Err(MembershipError::NotLeader),
        };
        self.after_membership_change();
        result
    }

    /// A proposed membership not yet known to be committed, if any.
    pub fn pending_membership(&self) -> Option<&Membership> {
        self.core.membership_pending.as_ref().map(|(_, m)| m)
    }

    fn look(&mut self) -> Role {
        self.role = RoleState::Looking(Election::idle());
        if let RoleState::Looking(election) = &mut self.role {
            election.begin(&mut self.core);
        }
        Role::Looking
    }

    /// Proposes a payload. At the leader it gets a zxid; at a learner it is
    /// forwarded to the leader.
    pub fn propose(&mut self, payload: &[u8]) -> Result<Proposed, ProposeError> {
        let max = self.core.config.payload_bytes_max();
        if payload.len() > max {
            return Err(ProposeError::TooLarge { len: payload.len(), max });
        }
        if let RoleState::Leading(l) = &mut self.role {
            let result = l.propose(&mut self.core, payload);
            if let Ok(zxid) = result {
                // (A lone voter commits at once, and may commit a membership change with it.)
                if zxid.counter < self.core.config.zxid_counter_max && !self.core.membership_changed {
                    return Ok(Proposed::Local(zxid));
                }
            }
            return self.proposed_at_leader(result);
        }
        self.propose_at_learner(payload)
    }

    /// Proposes payloads in order, as [`Node::propose`] would one at a time, in one call:
    /// at the leader the checks are made once, the zxids are consecutive and the appends
    /// become one write. Stops at the first payload refused; the ones after it are not
    /// proposed (propose them again later, from `taken`). Refuses with the first payload's
    /// error when none was taken.
    pub fn propose_batch<I>(&mut self, payloads: I) -> Result<ProposedBatch, ProposeError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut payloads = payloads.into_iter();
        let mut batch = ProposedBatch { taken: 0, first: None };
        if let RoleState::Leading(l) = &mut self.role {
            if !Leader::alone(&self.core) {
                let (first, taken, stopped) = l.propose_batch(&mut self.core, payloads.by_ref());
                if taken > 0 {
                    batch = ProposedBatch { taken: taken as usize, first: Some(Proposed::Local(first)) };
                }
                if let Some(e) = stopped {
                    if e == ProposeError::Busy {
                        self.core.counters.propose_busy += 1;
                    }
                    return if taken > 0 { Ok(batch) } else { Err(e) };
                }
            }
        }
        // The rest one at a time: at a learner (forwarded), at a lone voter, and at the
        // last counter of an epoch (which `propose` turns into a new epoch).
        for payload in payloads {
            match self.propose(payload.as_ref()) {
                Ok(proposed) => {
                    batch.first.get_or_insert(proposed);
                    batch.taken += 1;
                }
                Err(e) if batch.taken == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(batch)
    }

    /// The rest of `propose` at a leader, off the usual path: a refusal, or a counter about
    /// to overflow.
    #[cold]
    fn proposed_at_leader(&mut self, result: Result<Zxid, ProposeError>) -> Result<Proposed, ProposeError> {
        let exhausted = match (&self.role, result) {
            (_, Ok(zxid)) => zxid.counter >= self.core.config.zxid_counter_max,
            (RoleState::Leading(l), Err(_)) => l.counter_exhausted(&self.core),
            _ => false,
        };
        if exhausted {
            // The zxid counter is about to overflow: a new epoch starts it over.
            self.apply(Some(Transition::Look));
        }
        if matches!(result, Err(ProposeError::Busy)) {
            self.core.counters.propose_busy += 1;
        }
        self.after_membership_change();
        result.map(Proposed::Local)
    }

    fn propose_at_learner(&mut self, payload: &[u8]) -> Result<Proposed, ProposeError> {
        self.settle_forward();
        let result = match &mut self.role {
            RoleState::Learning(l) if l.established() => {
                let leader = l.leader;
                let needed = 4 + payload.len();
                if self.forward.len() + needed > FORWARD_BYTES {
                    Err(ProposeError::Busy)
                } else {
                    let _ = self.forward.extend_from_slice(&(payload.len() as u32).to_le_bytes());
                    let _ = self.forward.extend_from_slice(payload);
                    Ok(Proposed::Forwarded { leader })
                }
            }
            _ => Err(ProposeError::NoLeader),
        };
        if matches!(result, Err(ProposeError::Busy)) {
            self.core.counters.propose_busy += 1;
        }
        result
    }

    fn forward_records(&self) -> usize {
        let mut at = 0;
        let mut count = 0;
        while let Some(len) = self.forward.get(at..at + 4) {
            at += 4 + u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            count += 1;
        }
        count
    }

    /// The host's report that every write up to `seq` is durable.
    pub fn durable(&mut self, seq: u64) {
        if !self.core.durable(seq) {
            return;
        }
        let transition = match &mut self.role {
            RoleState::Looking(_) => None,
            RoleState::Learning(l) => {
                l.on_durable(&mut self.core);
                None
            }
            RoleState::Leading(l) => l.on_durable(&mut self.core),
        };
        self.apply(transition);
        self.after_membership_change();
    }

    /// Hands over a snapshot of the state machine as of applied zxid `zxid`;
    /// history up to it is dropped and the snapshot serves SNAP sync.
    pub fn compact(&mut self, zxid: Zxid, data: &[u8]) -> Result<(), CompactError> {
        let index = self.core.storage.index_of(zxid).ok_or(CompactError::NotApplied)?;
        self.core.compact(index, data)
    }

    /// Writes the next message into `buf` (at least `message_bytes_max` long).
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        let (cluster_id, from) = (self.core.config.cluster_id, self.core.config.id);
        let message_bytes = self.core.config.message_bytes_max.min(buf.len());
        loop {
            let (to, message) = self.next_message(message_bytes)?;
            match wire::encode(Header { cluster_id, from, to }, &message, buf) {
                Ok(len) => return Some(Transmit { to, len }),
                Err(_) => self.core.sends_dropped += 1,
            }
        }
    }

    /// The next message as a value, for hosts that keep messages in memory: the same
    /// messages as [`Node::poll_transmit`], in the same order, without encoding them. Entries,
    /// snapshot chunks and forwarded payloads are borrowed from this node; a host that holds
    /// the message past its next call here copies it into a [`wire::MessageBuf`] (one copy of
    /// the payloads, unencoded). Give it to the receiver with [`Node::step_message`].
    pub fn poll_message(&mut self) -> Option<(NodeId, Message<'_>)> {
        self.next_message(self.core.config.message_bytes_max)
    }

    /// The next message; a PROPOSAL takes at most `message_bytes` on the wire.
    fn next_message(&mut self, message_bytes: usize) -> Option<(NodeId, Message<'_>)> {
        self.settle_forward();
        if let Some((to, message)) = self.core.control.pop_front() {
            return Some((to, message));
        }
        match &mut self.role {
            RoleState::Learning(l) => {
                let (leader, epoch, exchange) = (l.leader, l.epoch, l.exchange());
                if let Some(ack) = l.ack(&self.core) {
                    return Some((leader, ack));
                }
                if let Some(fetched) = l.poll_fetched(&self.core, message_bytes) {
                    return Some((leader, fetched));
                }
                let len = self.forward.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)?;
                let payload = self.forward.get(4..4 + len)?;
                self.forward_seq = self.forward_seq.wrapping_add(1);
                // Removed from the queue once the message is gone (next call, or propose).
                self.forward_taken = 4 + len;
                Some((leader, Message::Forward { epoch, exchange, seq: self.forward_seq, payload: Bytes(payload) }))
            }
            RoleState::Leading(l) => l.poll_data(&self.core, message_bytes),
            RoleState::Looking(_) => None,
        }
    }

    /// Drops the forwarded proposal handed out by the last `next_message`.
    fn settle_forward(&mut self) {
        if self.forward_taken == 0 {
            return;
        }
        let taken = core::mem::take(&mut self.forward_taken).min(self.forward.len());
        let rest = self.forward.len() - taken;
        self.forward.copy_within(taken.., 0);
        self.forward.truncate(rest);
    }

    /// The next storage write to make durable.
    pub fn poll_write(&mut self) -> Option<Write> {
        self.core.poll_write()
    }

    /// The next committed entry (or snapshot) to apply.
    pub fn poll_commit(&mut self) -> Option<Apply<'_>> {
        let core = &mut self.core;
        if core.snapshot_pending.is_some() {
            // A snapshot received by SNAP comes first, once durable.
            return None;
        }
        if core.restore_pending {
            core.restore_pending = false;
            return Some(snapshot_to_apply(&core.storage));
        }
        // Everything handed out before this call is applied by now: reads up to it may go.
        core.release_reads();
        while core.applied_index < core.commit_index {
            core.applied_index += 1;
            let index = core.applied_index;
            if let Some((zxid, stored)) = core.storage.entry_at(index) {
                return Some(entry_to_apply(index, zxid, stored));
            }
        }
        None
    }

    /// Every committed entry not handed out yet, at once: the same sequence of [`Apply`] as
    /// calling [`Node::poll_commit`] until it answers `None` (a snapshot to restore first), in
    /// one call. Everything handed out before this call counts as applied, as with
    /// `poll_commit`; so a read waiting for these entries is ready at the next call of either.
    pub fn poll_commits(&mut self) -> Option<Commits<'_, S>> {
        let core = &mut self.core;
        if core.snapshot_pending.is_some() {
            // A snapshot received by SNAP comes first, once durable.
            return None;
        }
        core.release_reads();
        let snapshot = core::mem::take(&mut core.restore_pending);
        if !snapshot && core.applied_index >= core.commit_index {
            return None;
        }
        let next = core.applied_index + 1;
        core.applied_index = core.commit_index;
        Some(Commits { storage: &core.storage, snapshot, next, last: core.commit_index, span: &[], span_left: 0, stride: 0, span_zxid: 0 })
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.core.events.pop_front()
    }

    /// The leader's view of each peer (empty unless leading), for traces.
    #[cfg(feature = "sim")]
    #[doc(hidden)]
    pub fn describe_peers(&self) -> alloc::string::String {
        match &self.role {
            RoleState::Leading(l) => l.describe(),
            _ => alloc::string::String::new(),
        }
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.core.config.id
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.core.config
    }

    /// The storage (to read entries named by writes, or the snapshot).
    pub fn storage(&self) -> &S {
        &self.core.storage
    }

    /// The current role.
    pub fn role(&self) -> Role {
        match &self.role {
            RoleState::Looking(_) => Role::Looking,
            // A node outside the membership may try a leader (it may have been added back
            // without knowing yet); until that leader takes it, it is looking.
            RoleState::Learning(l) if !self.core.is_member_any(self.core.me()) && !l.established() => Role::Looking,
            RoleState::Learning(_) if !self.core.is_voter_any(self.core.me()) => Role::Observing,
            RoleState::Learning(_) => Role::Following,
            RoleState::Leading(_) => Role::Leading,
        }
    }

    /// The leader this node follows or is, once it has established its epoch here.
    pub fn leader(&self) -> Option<NodeId> {
        match &self.role {
            RoleState::Learning(l) if l.established() => Some(l.leader),
            RoleState::Leading(l) if l.established() => Some(self.core.me()),
            _ => None,
        }
    }

    /// Whether this node leads an established epoch (and so accepts proposals).
    pub fn is_established_leader(&self) -> bool {
        matches!(&self.role, RoleState::Leading(l) if l.established())
    }

    /// The epoch of the leader this node leads or follows (0 while looking or before discovery ends).
    pub fn epoch(&self) -> u32 {
        match &self.role {
            RoleState::Learning(l) => l.epoch,
            RoleState::Leading(l) => l.epoch,
            RoleState::Looking(_) => 0,
        }
    }

    /// The election round (ZooKeeper's logical clock).
    pub fn round(&self) -> u64 {
        self.core.round
    }

    /// The persistent epochs as this node holds them in memory.
    pub fn hard_state(&self) -> crate::storage::HardState {
        self.core.storage.hard_state()
    }

    /// Position of the last entry in the history.
    pub fn storage_last_index(&self) -> u64 {
        self.core.storage.last_index()
    }

    /// Last zxid in the history.
    pub fn last_zxid(&self) -> Zxid {
        self.core.last_zxid()
    }

    /// Last zxid reported durable.
    pub fn durable_zxid(&self) -> Zxid {
        self.core.durable_zxid()
    }

    /// Everything up to here is committed.
    pub fn commit_zxid(&self) -> Zxid {
        self.core.commit_zxid()
    }

    /// Position of the commit point.
    pub fn commit_index(&self) -> u64 {
        self.core.commit_index
    }

    /// Position of the last entry handed out by `poll_commit`.
    pub fn applied_index(&self) -> u64 {
        self.core.applied_index
    }

    /// Counts of refused input.
    pub fn counters(&self) -> &Counters {
        &self.core.counters
    }

    /// Messages that could not be queued or encoded (retransmitted later by the protocol).
    pub fn sends_dropped(&self) -> u64 {
        self.core.sends_dropped
    }

    /// Logical time in ticks since start.
    pub fn now_ticks(&self) -> u64 {
        self.core.now
    }
}
