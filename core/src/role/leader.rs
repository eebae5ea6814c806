//! Leading: discovery (Paxos phase 1), sync, then broadcast (phase 2).
//!
//! Per peer the leader walks FOLLOWERINFO → LEADERINFO → ACKEPOCH → sync
//! (TRUNC / DIFF / SNAP) → NEWLEADER → ACK → broadcast, each step
//! retransmitted on the heartbeat timer and checked against what the peer last
//! reported, so loss, duplication and reordering only slow it down.

use heapless::Vec;

use super::Transition;
use crate::core::{Core, Event};
use crate::error::{ProposeError, StepError};
use crate::limits::{ENTRY_OVERHEAD_BYTES_MAX, HEADER_BYTES, MEMBERS_MAX, PROPOSAL_OVERHEAD_BYTES_MAX, READS_MAX, SNAP_CHUNK_BYTES_MAX};
use crate::membership::{MembershipChange, MembershipError};
use crate::storage::{HardState, Storage};
use crate::wire::{self, Bytes, Entries, MalformedEntries, Message, Proposal, SnapChunk};
use crate::{NodeId, Zxid};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Gathering FOLLOWERINFO and ACKEPOCH from a majority.
    Discovery,
    /// Syncing learners; waiting for a majority to acknowledge NEWLEADER.
    Sync,
    /// Established: accepting proposals.
    Broadcast,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Nothing heard yet.
    Idle,
    /// LEADERINFO sent.
    Discovering,
    /// ACKEPOCH received, waiting for the leader to establish its epoch.
    Promised { current_epoch: u32, last: Zxid },
    /// Sending DIFF from `next_index` up to at least position `target` (the leader's last when
    /// the sync began), then NEWLEADER. A fixed target lets a learner finish syncing under a
    /// load that grows the history faster than one window per round trip; what follows
    /// `target` goes out as PROPOSALs once it is synced.
    Syncing { target: u64 },
    /// Sending the snapshot at `index`, `offset` bytes acknowledged.
    Snap { index: u64, offset: u32, sent: bool },
    /// NEWLEADER sent; waiting for its ACK.
    AwaitingAck,
    /// Synced: broadcasting.
    Broadcast,
}

#[derive(Debug)]
struct Progress {
    id: NodeId,
    voter: bool,
    stage: Stage,
    /// The accepted epoch the peer reported in FOLLOWERINFO.
    accepted_epoch: u32,
    /// The handshake under way with this peer (see `Message::FollowerInfo`); 0: none yet.
    exchange: u64,
    /// The highest position sent to (or found held by) this peer in this handshake: an
    /// ACK beyond it acknowledges what was never sent.
    sent_index: u64,
    acked_index: u64,
    next_index: u64,
    commit_sent: u64,
    last_heard: u64,
    last_progress: u64,
    /// Highest read probe this peer answered.
    read_round: u32,
    /// The highest FORWARD sequence number taken from this peer in its handshake, so a
    /// duplicated, replayed or overtaken FORWARD is never proposed twice.
    forward_high: u32,
    /// A PROPOSAL or INFORM went out since the last heartbeat: a peer that is being sent
    /// entries needs no heartbeat (the entries carry the commit point and prove the leader alive).
    data_sent: bool,
}

impl Progress {
    /// Whether this peer, synced, acknowledged position `index` or past it in this handshake:
    /// a report or an ACK of less is then a delayed one (used below the snapshot).
    fn acknowledged_through(&self, index: u64) -> bool {
        self.stage == Stage::Broadcast && self.acked_index >= index
    }
}

/// A linearizable read waiting for a majority to confirm this leader still leads.
#[derive(Debug)]
pub(crate) struct PendingRead {
    pub(crate) id: u32,
    pub(crate) from: NodeId,
    index: u64,
    round: u32,
    deadline: u64,
}

pub(crate) struct Leader {
    /// A leadership transfer under way: the target and the tick it must be done by.
    transfer: Option<(NodeId, u64)>,
    /// Linearizable reads waiting for confirmation, oldest first.
    pub(crate) reads: heapless::Deque<PendingRead, READS_MAX>,
    probe_round: u32,
    pub(crate) epoch: u32,
    pub(crate) phase: Phase,
    peers: Vec<Progress, MEMBERS_MAX>,
    /// Last position of the history the epoch started with.
    initial_index: u64,
    started_at: u64,
    heartbeat_at: u64,
    quorum_check_at: u64,
    cursor: usize,
    /// Fetching the newest history among the promisers, before establishing the epoch.
    fetch: Option<Fetch>,
}

/// The history step of discovery: the leader takes the history of the promiser with the
/// highest `(current_epoch, last)` (the ZAB paper's phase 1), so that a candidate elected
/// for its connectivity rather than its history can still lead. FETCH asks the promiser for
/// the entries that follow its last entry at or before `asked`; the answer's `prev` tells
/// the leader whether both histories agree up to there (if not, it probes further back,
/// as DIFF does the other way). The promiser's history cannot change meanwhile: it is
/// this leader's learner, waiting for a sync that only follows establishment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fetch {
    /// The promiser fetched from.
    peer: NodeId,
    /// What it reported in its ACKEPOCH: the history to end up holding.
    current_epoch: u32,
    last: Zxid,
    /// The probe of the last FETCH sent.
    asked: Zxid,
}

impl Leader {
    pub(crate) fn start<S: Storage>(core: &mut Core<S>) -> Result<Self, Transition> {
        let timeout = u64::from(core.config.election_timeout_ticks);
        let mut leader = Leader {
            transfer: None,
            reads: heapless::Deque::new(),
            probe_round: 0,
            epoch: 0,
            phase: Phase::Discovery,
            peers: Vec::new(),
            initial_index: 0,
            started_at: core.now,
            heartbeat_at: core.now,
            quorum_check_at: core.now + timeout,
            cursor: 0,
            fetch: None,
        };
        leader.sync_peers(core);
        if let Some(t) = leader.try_choose_epoch(core) {
            return Err(t);
        }
        Ok(leader)
    }

    /// Tracks every member of the committed and pending memberships, and no one else.
    fn sync_peers<S: Storage>(&mut self, core: &Core<S>) {
        self.peers.retain(|p| core.is_member_any(p.id) && p.id != core.me());
        for id in core.members_any() {
            let voter = core.is_voter_any(id);
            match self.peers.iter_mut().find(|p| p.id == id) {
                Some(p) => p.voter = voter,
                None => {
                    let _ = self.peers.push(Progress { id, voter, stage: Stage::Idle, accepted_epoch: 0, exchange: 0, sent_index: 0, acked_index: 0, next_index: 0, commit_sent: 0, last_heard: core.now, last_progress: core.now, read_round: 0, forward_high: 0, data_sent: false });
                }
            }
        }
        self.cursor = 0;
    }

    pub(crate) fn established(&self) -> bool {
        self.phase == Phase::Broadcast
    }

    /// Whether this node and the peers for which `has` holds form a quorum.
    fn quorum<S: Storage>(&self, core: &Core<S>, has: &dyn Fn(&Progress) -> bool) -> bool {
        let me = core.me();
        let holds = |id: NodeId| id == me || self.peers.iter().any(|p| p.id == id && has(p));
        core.is_quorum(&holds) || crate::config::bugs(&core.config).quorum_of_one
    }

    /// Whether this node is the only voter (its proposals commit once durable here).
    /// (A cheap test on the proposal path: `maybe_commit` counts exactly.)
    #[inline]
    pub(crate) fn alone<S: Storage>(core: &Core<S>) -> bool {
        core.config.voters.len() <= 1 && core.membership_pending.as_ref().map_or(true, |(_, m)| m.voters.len() <= 1)
    }

    fn peer(&mut self, id: NodeId) -> Option<&mut Progress> {
        self.peers.iter_mut().find(|p| p.id == id)
    }

    /// Once a majority reported its accepted epoch, propose one above all of them.
    fn try_choose_epoch<S: Storage>(&mut self, core: &mut Core<S>) -> Option<Transition> {
        if self.epoch != 0 {
            return None;
        }
        if !self.quorum(core, &|p| p.stage != Stage::Idle) {
            return None;
        }
        let hard = core.storage.hard_state();
        let Some(epoch) = self.highest_accepted(hard.accepted_epoch).checked_add(1) else {
            return Some(Transition::Look);
        };
        if core.set_hard_state(HardState { accepted_epoch: epoch, promised_leader: core.me(), ..hard }).is_err() {
            return None; // retried when the next FOLLOWERINFO arrives
        }
        self.epoch = epoch;
        for p in self.peers.iter_mut().filter(|p| p.stage != Stage::Idle) {
            p.stage = Stage::Discovering;
            core.send(p.id, Message::LeaderInfo { epoch, exchange: p.exchange });
        }
        None
    }

    fn highest_accepted(&self, own: u32) -> u32 {
        self.peers.iter().filter(|p| p.stage != Stage::Idle).map(|p| p.accepted_epoch).fold(own, u32::max)
    }

    pub(crate) fn step<S: Storage>(&mut self, core: &mut Core<S>, from: NodeId, message: Message<'_>) -> Result<Option<Transition>, StepError> {
        if let Some(epoch) = message.epoch() {
            if epoch != self.epoch || self.epoch == 0 {
                return Err(if epoch < self.epoch { StepError::StaleEpoch { message: epoch, current: self.epoch } } else { StepError::Unexpected("epoch not led here") });
            }
        }
        let now = core.now;
        let Some(peer) = self.peer(from) else { return Err(StepError::UnknownSender(from)) };
        match message {
            Message::FollowerInfo { exchange, .. } if exchange < peer.exchange => return Err(StepError::OtherExchange),
            Message::FollowerInfo { exchange, .. } if exchange == peer.exchange && !matches!(peer.stage, Stage::Idle | Stage::Discovering) => {
                // This handshake got past LEADERINFO: a copy of its opening message.
                return Err(StepError::Duplicate);
            }
            Message::FollowerInfo { .. } => {}
            // Of an earlier handshake with this peer: a late ACK must not finish this one.
            _ if message.exchange().is_some_and(|exchange| exchange != peer.exchange) && !crate::config::bugs(&core.config).leader_ignores_exchange => return Err(StepError::OtherExchange),
            _ => {}
        }
        peer.last_heard = now;
        match message {
            Message::FollowerInfo { accepted_epoch, exchange } => Ok(self.on_follower_info(core, from, accepted_epoch, exchange)),
            Message::AckEpoch { current_epoch, last, promised, .. } => self.on_ack_epoch(core, from, current_epoch, last, promised),
            Message::SyncState { last, .. } => {
                self.on_sync_state(core, from, last);
                Ok(None)
            }
            Message::Ack { zxid, .. } => {
                self.on_ack(core, from, zxid)?;
                Ok(None)
            }
            Message::SnapAck { index, offset, .. } => {
                self.on_snap_ack(core, from, index, offset)?;
                Ok(None)
            }
            Message::ReadRequest { id, linearizable, .. } => match self.read(core, from, id, linearizable) {
                Ok(()) => Ok(None),
                Err(_) => Err(StepError::Busy),
            },
            Message::ReadProbeAck { round, .. } => {
                if let Some(peer) = self.peer(from) {
                    peer.read_round = peer.read_round.max(round);
                }
                self.confirm_reads(core);
                Ok(None)
            }
            Message::Fetched { prev, entries, .. } => self.on_fetched(core, from, prev, entries),
            Message::Forward { seq, payload, .. } => {
                let Some(peer) = self.peer(from) else { return Err(StepError::UnknownSender(from)) };
                if seq <= peer.forward_high {
                    return Err(StepError::Duplicate);
                }
                peer.forward_high = seq;
                self.take_forward(core, payload.0)
            }
            _ => Err(StepError::Unexpected("not a learner's message")),
        }
    }

    fn take_forward<S: Storage>(&mut self, core: &mut Core<S>, payload: &[u8]) -> Result<Option<Transition>, StepError> {
        let fits = payload.len() <= core.config.payload_bytes_max();
        match if fits { self.propose(core, payload) } else { Err(ProposeError::TooLarge { len: payload.len(), max: core.config.payload_bytes_max() }) } {
            Ok(_) => Ok(None),
            Err(_) => {
                core.counters.forward_dropped += 1;
                Err(StepError::Busy)
            }
        }
    }

    fn on_follower_info<S: Storage>(&mut self, core: &mut Core<S>, from: NodeId, accepted_epoch: u32, exchange: u64) -> Option<Transition> {
        let epoch = self.epoch;
        if self.phase != Phase::Discovery && accepted_epoch > epoch {
            // A candidate with a majority's attention proposed a newer epoch; this
            // learner promised it and cannot join us. Elect again, above it.
            return Some(Transition::Look);
        }
        let peer = self.peer(from)?;
        // A (re)connecting learner starts over.
        peer.stage = Stage::Discovering;
        peer.exchange = exchange;
        peer.forward_high = 0;
        peer.acked_index = 0;
        peer.sent_index = 0;
        peer.commit_sent = 0;
        peer.accepted_epoch = accepted_epoch;
        if epoch != 0 {
            core.send(from, Message::LeaderInfo { epoch, exchange });
            return None;
        }
        self.try_choose_epoch(core)
    }

    fn on_ack_epoch<S: Storage>(&mut self, core: &mut Core<S>, from: NodeId, current_epoch: u32, last: Zxid, promised: bool) -> Result<Option<Transition>, StepError> {
        let phase = self.phase;
        if !promised && phase == Phase::Discovery {
            // Not a promise: it cannot count towards discovery; it joins once the epoch is established.
            return Err(StepError::Unexpected("ACKEPOCH without a promise during discovery"));
        }
        let epoch = self.epoch;
        let Some(peer) = self.peers.iter_mut().find(|p| p.id == from) else { return Ok(None) };
        if peer.stage != Stage::Discovering {
            return Err(StepError::Duplicate);
        }
        // Progress: on a slow network establishing takes longer than one timeout.
        self.started_at = core.now;
        peer.stage = Stage::Promised { current_epoch, last };
        if phase == Phase::Discovery {
            return Ok(self.try_establish_epoch(core));
        }
        Self::begin_sync(core, peer, last, epoch);
        Ok(None)
    }

    /// With a majority's promises durable, make sure this node holds the most recent
    /// history among them (fetching it from the promiser that has it), adopt the epoch
    /// and start syncing.
    fn try_establish_epoch<S: Storage>(&mut self, core: &mut Core<S>) -> Option<Transition> {
        let hard = core.durable_hard;
        if self.phase != Phase::Discovery || hard.accepted_epoch != self.epoch || hard.promised_leader != core.me() {
            return None;
        }
        if !self.quorum(core, &|p| matches!(p.stage, Stage::Promised { .. })) {
            return None;
        }
        let bugs = crate::config::bugs(&core.config);
        let ignore = bugs.election_ignores_zxid || bugs.leader_ignores_newer_history;
        if let Some(newest) = self.newest_promise(core).filter(|_| !ignore) {
            if !Self::holds_history(core, newest.last) {
                return self.fetch_history(core, newest);
            }
        }
        self.fetch = None;
        let state = core.storage.hard_state();
        if core.set_hard_state(HardState { current_epoch: self.epoch, ..state }).is_err() {
            return None;
        }
        self.phase = Phase::Sync;
        self.initial_index = core.storage.last_index();
        for peer in self.peers.iter_mut() {
            if let Stage::Promised { last, .. } = peer.stage {
                Self::begin_sync(core, peer, last, self.epoch);
            }
        }
        self.maybe_commit(core);
        None
    }

    /// The voter promiser with the highest `(current_epoch, last)`, if it is newer than this
    /// node's own durable history.
    fn newest_promise<S: Storage>(&self, core: &Core<S>) -> Option<Fetch> {
        let own = (core.durable_hard.current_epoch, core.durable_zxid());
        let promised = self.peers.iter().filter(|p| p.voter).filter_map(|p| match p.stage {
            Stage::Promised { current_epoch, last } => Some(Fetch { peer: p.id, current_epoch, last, asked: Zxid::ZERO }),
            _ => None,
        });
        promised.max_by_key(|f| (f.current_epoch, f.last)).filter(|f| (f.current_epoch, f.last) > own)
    }

    /// Whether this node's history, all of it durable, ends at `last`: then it is the history
    /// of the promiser that reported `last` (one zxid names one proposal of one leader, and a
    /// history holding it holds what preceded it there).
    fn holds_history<S: Storage>(core: &Core<S>, last: Zxid) -> bool {
        let durable_all = core.durable_index >= core.storage.last_index();
        durable_all && core.storage.last_zxid() == last
    }

    /// Starts fetching, or restarts from `newest` if it is newer than the history being
    /// fetched or that promiser started over; while a fetch is under way, waits for it.
    fn fetch_history<S: Storage>(&mut self, core: &mut Core<S>, newest: Fetch) -> Option<Transition> {
        let promised = |f: &Fetch| self.peers.iter().any(|p| p.id == f.peer && p.stage == Stage::Promised { current_epoch: f.current_epoch, last: f.last });
        // Another promiser with the same history (the usual case) is no reason to start over.
        let going = self.fetch.filter(promised).is_some_and(|f| (f.current_epoch, f.last) >= (newest.current_epoch, newest.last));
        if going {
            return None;
        }
        let Some(peer) = self.peers.iter().find(|p| p.id == newest.peer) else { return Some(Transition::Look) };
        let exchange = peer.exchange;
        // Probe from the end of this history: usually the promiser holds it all.
        let asked = core.storage.last_zxid().min(newest.last);
        self.fetch = Some(Fetch { asked, ..newest });
        core.send(newest.peer, Message::Fetch { epoch: self.epoch, exchange, from: asked, to: newest.last });
        None
    }

    /// FETCHED: takes entries of the newest promiser's history that follow `prev` there.
    fn on_fetched<S: Storage>(&mut self, core: &mut Core<S>, from: NodeId, prev: Zxid, entries: Entries<'_>) -> Result<Option<Transition>, StepError> {
        let Some(fetch) = self.fetch.filter(|f| f.peer == from && self.phase == Phase::Discovery) else {
            return Err(StepError::Unexpected("FETCHED without a FETCH under way"));
        };
        if prev > fetch.last {
            return Err(StepError::Implausible("FETCHED past the history promised"));
        }
        if fetch.last.epoch >= self.epoch {
            // A promiser's history ends before the epoch it promised.
            return Err(StepError::Implausible("FETCHED of a history from the epoch being established"));
        }
        let Some(at) = core.storage.index_of(prev) else { return self.probe_back(core, fetch, prev) };
        let (last_index, last_zxid) = Self::take_fetched(core, at, prev, fetch.last, entries)?;
        // Progress: a long history takes more than one timeout to fetch.
        self.started_at = core.now;
        if last_zxid == fetch.last {
            // Anything after the promiser's last entry here the new epoch skips.
            core.truncate_after(last_index)?;
            self.fetch = Some(Fetch { asked: last_zxid, ..fetch });
            self.sync_peers(core);
            return Ok(self.try_establish_epoch(core));
        }
        self.ask(core, Fetch { asked: last_zxid, ..fetch });
        Ok(None)
    }

    /// The promiser's history and this one part before `prev`: ask from our last entry before
    /// it (strictly earlier, so the probe ends). Committed entries are in both, so the probe
    /// stops at the commit point at the latest; below that, or below our snapshot, the fetch
    /// cannot be done, and this node steps aside as it did before fetching existed.
    fn probe_back<S: Storage>(&mut self, core: &mut Core<S>, fetch: Fetch, prev: Zxid) -> Result<Option<Transition>, StepError> {
        if prev > fetch.asked {
            // The answer to an earlier probe, or a promiser that compacted past this one:
            // then the fetch stalls and discovery times out.
            return Err(StepError::Duplicate);
        }
        let before = core.storage.index_at_or_before(prev).and_then(|at| core.storage.zxid_at(at));
        match before {
            Some(zxid) if zxid >= core.commit_zxid() => {
                self.ask(core, Fetch { asked: zxid, ..fetch });
                Ok(None)
            }
            _ => Ok(Some(Transition::Look)),
        }
    }

    fn ask<S: Storage>(&mut self, core: &mut Core<S>, fetch: Fetch) {
        self.fetch = Some(fetch);
        let Some(peer) = self.peers.iter().find(|p| p.id == fetch.peer) else { return };
        core.send(fetch.peer, Message::Fetch { epoch: self.epoch, exchange: peer.exchange, from: fetch.asked, to: fetch.last });
    }

    /// Appends the fetched entries after position `at` (holding `prev`), replacing whatever
    /// differs: that part of this history is not the newest promiser's, so nothing in it is
    /// committed. Returns the position and zxid of the last entry taken.
    fn take_fetched<S: Storage>(core: &mut Core<S>, at: u64, prev: Zxid, last: Zxid, entries: Entries<'_>) -> Result<(u64, Zxid), StepError> {
        // All checked before anything changes: a refused message leaves the history as it was.
        Self::check_fetched(prev, last, entries)?;
        let mut index = at;
        let mut previous = prev;
        let mut run = core.begin_appends()?;
        for (zxid, payload) in entries.iter().flatten() {
            index += 1;
            previous = zxid;
            match core.storage.zxid_at(index) {
                Some(have) if have == zxid => continue,
                Some(_) => {
                    core.end_appends(run)?;
                    core.truncate_after(index - 1)?;
                    run = core.begin_appends()?;
                }
                None => {}
            }
            if let Err(e) = core.append_to(&mut run, zxid, payload) {
                core.end_appends(run)?;
                return Err(e);
            }
        }
        core.end_appends(run)?;
        Ok((index, previous))
    }

    /// Every fetched entry well-formed, following its predecessor, and within `last` (which
    /// is of an earlier epoch than the one being established).
    fn check_fetched(prev: Zxid, last: Zxid, entries: Entries<'_>) -> Result<(), StepError> {
        let mut previous = prev;
        for entry in entries.iter() {
            let (zxid, payload) = entry.map_err(|MalformedEntries| StepError::Wire(crate::wire::WireError::Malformed))?;
            if !zxid.follows(previous, last.epoch) || zxid > last {
                return Err(StepError::Implausible("a fetched entry that does not follow its predecessor"));
            }
            if !crate::membership::valid_entry(payload) {
                return Err(StepError::Wire(crate::wire::WireError::Malformed));
            }
            previous = zxid;
        }
        Ok(())
    }

    /// Chooses DIFF, TRUNC then DIFF, or SNAP for a learner whose history ends at `last`.
    fn begin_sync<S: Storage>(core: &mut Core<S>, peer: &mut Progress, last: Zxid, epoch: u32) {
        let storage = &core.storage;
        let (snap_index, snap_zxid) = storage.snapshot_point();
        peer.last_progress = core.now;
        if last < snap_zxid {
            peer.stage = Stage::Snap { index: snap_index, offset: 0, sent: false };
            return;
        }
        // Our last entry at or before the learner's last: the common point, if the learner has it.
        let keep = storage.index_at_or_before(last).unwrap_or(snap_index);
        let keep_zxid = storage.zxid_at(keep).unwrap_or(Zxid::ZERO);
        // A learner that reports while syncing keeps its target (reports are its flow control).
        let target = match peer.stage {
            Stage::Syncing { target } => target,
            _ => storage.last_index(),
        };
        peer.stage = Stage::Syncing { target };
        peer.next_index = keep + 1;
        peer.sent_index = peer.sent_index.max(keep);
        // Flow control only: while syncing, the window counts from what the learner reported.
        peer.acked_index = keep;
        if keep_zxid != last && keep_zxid.epoch == last.epoch && keep_zxid != Zxid::ZERO {
            // Within one epoch histories are prefixes of the same leader's proposals, so
            // the learner holds `keep_zxid` too and what follows it there was skipped.
            core.send(peer.id, Message::Trunc { epoch, exchange: peer.exchange, to: keep_zxid });
        }
        // Otherwise DIFF from `keep` probes: a learner without it reports how far it
        // agrees with us, and conflicting entries are replaced as the DIFF reaches them.
        // No blind truncation: what a restarted learner holds may be committed.
    }

    fn on_sync_state<S: Storage>(&mut self, core: &mut Core<S>, from: NodeId, last: Zxid) {
        let epoch = self.epoch;
        let Some(peer) = self.peer(from) else { return };
        match peer.stage {
            Stage::Broadcast => {
                if let Some(index) = core.storage.index_of(last) {
                    peer.next_index = peer.next_index.min(index + 1);
                    return;
                }
                let (snap_index, snap_zxid) = core.storage.snapshot_point();
                if peer.acknowledged_through(snap_index) && last < snap_zxid {
                    // A delayed report from before the peer caught up: it holds what we compacted.
                    return;
                }
                Self::begin_sync(core, peer, last, epoch);
            }
            Stage::Syncing { .. } => match core.storage.index_of(last) {
                // Progress within what was sent: the window moves on, and the DIFFs still in
                // flight are not sent again.
                Some(index) if index > peer.acked_index && index < peer.next_index => {
                    peer.acked_index = index;
                    peer.last_progress = core.now;
                }
                // No progress (a DIFF lost or overtaken, a delayed report, a truncation):
                // the DIFF starts over from where the learner is.
                _ => Self::begin_sync(core, peer, last, epoch),
            },
            Stage::AwaitingAck | Stage::Snap { .. } => Self::begin_sync(core, peer, last, epoch),
            _ => {}
        }
    }

    fn on_ack<S: Storage>(&mut self, core: &mut Core<S>, from: NodeId, zxid: Zxid) -> Result<(), StepError> {
        let now = core.now;
        let Some(peer) = self.peer(from) else { return Ok(()) };
        // Never more than was sent: one forged ACK must not count a peer as holding
        // entries durable only here.
        let (snap_index, snap_zxid) = core.storage.snapshot_point();
        let sent = if peer.sent_index <= snap_index { Some(snap_zxid) } else { core.storage.zxid_at(peer.sent_index) };
        if sent.map_or(true, |sent| zxid > sent) && !crate::config::bugs(&core.config).ack_unbounded {
            return Err(StepError::Implausible("an ACK beyond what was sent"));
        }
        let Some(index) = core.storage.index_at_or_before(zxid) else {
            // The learner holds less than our snapshot covers: only SNAP can bring it up. But
            // from a follower that acknowledged past the snapshot, it is a delayed ACK.
            if !peer.acknowledged_through(snap_index) && matches!(peer.stage, Stage::AwaitingAck | Stage::Syncing { .. } | Stage::Broadcast) {
                peer.stage = Stage::Snap { index: snap_index, offset: 0, sent: false };
            }
            return Ok(());
        };
        // (During a SNAP an ACK found here is at or past the snapshot sent, which is never
        // newer than this node's: the learner holds what it names.)
        match peer.stage {
            Stage::Broadcast => {
                if index > peer.acked_index {
                    peer.acked_index = index;
                    peer.last_progress = now;
                }
            }
            Stage::AwaitingAck | Stage::Syncing { .. } | Stage::Snap { .. } => {
                // The first ACK of the epoch: from now on `acked_index` is what is durable there.
                peer.stage = Stage::Broadcast;
                peer.commit_sent = 0;
                peer.acked_index = index;
                peer.last_progress = now;
            }
            _ => return Ok(()),
        }
        peer.next_index = peer.next_index.max(index + 1);
        if self.phase != Phase::Broadcast {
            // A learner synced: progress towards establishing the epoch.
            self.started_at = now;
        }
        self.maybe_commit(core);
        Ok(())
    }

    fn on_snap_ack<S: Storage>(&mut self, core: &mut Core<S>, from: NodeId, acked: u64, offset: u32) -> Result<(), StepError> {
        let Some(peer) = self.peer(from) else { return Ok(()) };
        let Stage::Snap { index, offset: sent_from, .. } = peer.stage else { return Err(StepError::Duplicate) };
        if acked != index {
            // Of a snapshot this transfer no longer sends (the host compacted meanwhile).
            return Err(StepError::Duplicate);
        }
        if index != core.storage.snapshot_point().0 {
            peer.stage = Stage::Snap { index: core.storage.snapshot_point().0, offset: 0, sent: false };
            return Ok(());
        }
        if offset != 0 && offset < sent_from {
            // A delayed acknowledgement of an earlier chunk: the transfer is past it.
            return Err(StepError::Duplicate);
        }
        peer.last_progress = core.now;
        if offset as usize >= core.storage.snapshot_data().len() {
            peer.stage = Stage::Syncing { target: core.storage.last_index() };
            peer.next_index = index + 1;
            peer.sent_index = peer.sent_index.max(index);
            // Flow control only, as in `begin_sync`: the window counts from the snapshot.
            peer.acked_index = index;
        } else {
            peer.stage = Stage::Snap { index, offset, sent: false };
        }
        Ok(())
    }

    /// Commits what a majority of voters acknowledged in this epoch.
    pub(crate) fn maybe_commit<S: Storage>(&mut self, core: &mut Core<S>) {
        if self.phase == Phase::Discovery {
            return;
        }
        let own_ok = core.durable_hard.current_epoch == self.epoch;
        let me = core.me();
        let synced = |id: NodeId| (id == me && own_ok) || self.peers.iter().any(|p| p.id == id && p.stage == Stage::Broadcast);
        if !core.is_quorum(&synced) && !crate::config::bugs(&core.config).quorum_of_one {
            return;
        }
        let reached = |id: NodeId| {
            if id == me {
                return if own_ok { core.durable_index } else { 0 };
            }
            self.peers.iter().find(|p| p.id == id && p.stage == Stage::Broadcast).map_or(0, |p| p.acked_index)
        };
        let agreed = if crate::config::bugs(&core.config).quorum_of_one { core.durable_index.max(core.storage.last_index()) } else { core.agreed_index(&reached) };
        if agreed < self.initial_index {
            return;
        }
        if self.phase == Phase::Sync {
            self.phase = Phase::Broadcast;
            core.event(Event::Leader { leader: core.me(), epoch: self.epoch });
        }
        core.commit_to(agreed);
    }

    pub(crate) fn on_durable<S: Storage>(&mut self, core: &mut Core<S>) -> Option<Transition> {
        let t = self.try_establish_epoch(core);
        self.maybe_commit(core);
        t
    }

    /// Whether this leader takes proposals now: established, and not handing over.
    #[inline]
    fn taking_proposals(&self) -> Result<(), ProposeError> {
        if self.phase != Phase::Broadcast {
            return Err(ProposeError::NoLeader);
        }
        if self.transfer.is_some() {
            return Err(ProposeError::Transferring);
        }
        Ok(())
    }

    pub(crate) fn propose<S: Storage>(&mut self, core: &mut Core<S>, payload: &[u8]) -> Result<Zxid, ProposeError> {
        self.taking_proposals()?;
        let zxid = self.next_zxid(core).ok_or(ProposeError::NoLeader)?;
        // Storage checks its room (and changes nothing when full).
        core.append_command(zxid, payload).map_err(|_| ProposeError::Busy)?;
        if Self::alone(core) {
            self.maybe_commit(core);
        }
        Ok(zxid)
    }

    /// Proposes payloads in order under consecutive zxids, as one write. Returns the first
    /// zxid and how many were taken, and why it stopped early if it did. The rare cases
    /// (a lone voter, which commits as it appends) are left to [`Leader::propose`].
    pub(crate) fn propose_batch<S: Storage, I>(&mut self, core: &mut Core<S>, payloads: I) -> (Zxid, u32, Option<ProposeError>)
    where
        I: Iterator,
        I::Item: AsRef<[u8]>,
    {
        let next = self.next_zxid(core).unwrap_or(Zxid::new(self.epoch, 0));
        if let Err(e) = self.taking_proposals() {
            return (next, 0, Some(e));
        }
        if next.counter == 0 {
            // The counter is used up: `propose` turns that into a new epoch.
            return (next, 0, None);
        }
        let max = core.config.payload_bytes_max();
        // Keep the last counter for `propose`, which turns it into a new epoch.
        let counter_last = core.config.zxid_counter_max.saturating_sub(1);
        let (taken, stopped) = core.append_commands(next, counter_last, payloads, max);
        (next, taken, stopped)
    }

    /// Proposes a membership change as an entry; it takes effect when committed. Until
    /// then quorums count in the old and the new voters alike, and no other change is taken.
    pub(crate) fn change_membership<S: Storage>(&mut self, core: &mut Core<S>, change: MembershipChange) -> Result<Zxid, MembershipError> {
        if self.phase != Phase::Broadcast {
            return Err(MembershipError::NotLeader);
        }
        if core.membership_pending.is_some() || self.transfer.is_some() {
            return Err(MembershipError::InProgress);
        }
        let current = crate::membership::Membership::of(&core.config.voters, &core.config.observers);
        let next = current.changed(change)?;
        if let MembershipChange::PromoteToVoter(id) = change {
            // A voter that must catch up first would stall every commit of a joint quorum.
            let caught_up = self.peers.iter().any(|p| p.id == id && p.stage == Stage::Broadcast && p.acked_index >= core.commit_index);
            if !caught_up {
                return Err(MembershipError::NotCaughtUp(id));
            }
        }
        let zxid = self.next_zxid(core).ok_or(MembershipError::Busy)?;
        // Storage checks its room (and changes nothing when full).
        core.append_membership(zxid, &next).map_err(|_| MembershipError::Busy)?;
        self.sync_peers(core);
        if Self::alone(core) {
            self.maybe_commit(core);
        }
        Ok(zxid)
    }

    /// After the committed membership changed: track the new members; a leader that no
    /// longer votes hands over to a voter holding its whole history, or steps down.
    pub(crate) fn on_membership_changed<S: Storage>(&mut self, core: &mut Core<S>) -> Option<Transition> {
        self.sync_peers(core);
        if core.is_voter_any(core.me()) {
            self.maybe_commit(core);
            return None;
        }
        let last = core.storage.last_index();
        let heir = self.peers.iter().filter(|p| core.is_voter_all(p.id) && p.stage == Stage::Broadcast && p.acked_index >= last).map(|p| p.id).next();
        let Some(to) = heir else { return Some(Transition::Look) };
        for peer in self.peers.iter() {
            core.send(peer.id, Message::Handover { epoch: self.epoch, to });
        }
        Some(if core.config.is_member(core.me()) { Transition::Follow(to) } else { Transition::Look })
    }

    /// A read at position `commit`: sync reads get it at once; linearizable reads once a
    /// majority of voters has answered a probe sent after the read arrived (so no newer
    /// leader can have committed anything this one does not know of).
    pub(crate) fn read<S: Storage>(&mut self, core: &mut Core<S>, from: NodeId, id: u32, linearizable: bool) -> Result<(), crate::error::ReadError> {
        use crate::error::ReadError;
        if self.phase != Phase::Broadcast {
            return Err(ReadError::NoLeader);
        }
        let index = core.commit_index;
        if !linearizable || Self::alone(core) {
            self.answer_read(core, from, id, index);
            return Ok(());
        }
        if self.reads.is_full() || (from == core.me() && !core.reads_room()) {
            return Err(ReadError::Busy);
        }
        self.probe_round = self.probe_round.wrapping_add(1);
        let round = self.probe_round;
        let deadline = core.now + 2 * u64::from(core.config.election_timeout_ticks);
        let _ = self.reads.push_back(PendingRead { id, from, index, round, deadline });
        for peer in self.peers.iter().filter(|p| p.voter && p.stage == Stage::Broadcast) {
            core.send(peer.id, Message::ReadProbe { epoch: self.epoch, round });
        }
        Ok(())
    }

    fn answer_read<S: Storage>(&self, core: &mut Core<S>, from: NodeId, id: u32, index: u64) {
        let zxid = core.storage.zxid_at(index).unwrap_or_else(|| core.storage.snapshot_point().1);
        if from == core.me() {
            core.read_confirmed(id, zxid);
        } else {
            core.send(from, Message::ReadReply { epoch: self.epoch, id, zxid });
        }
    }

    /// Answers the reads a majority has confirmed (rounds only grow, so in order).
    fn confirm_reads<S: Storage>(&mut self, core: &mut Core<S>) {
        while let Some(read) = self.reads.front() {
            let round = read.round;
            if !self.quorum(core, &|p| p.read_round >= round) {
                break;
            }
            let (id, from, index) = (read.id, read.from, read.index);
            self.reads.pop_front();
            self.answer_read(core, from, id, index);
        }
    }

    /// Drops reads past their deadline; returns this node's own, which failed.
    fn expire_reads<S: Storage>(&mut self, core: &mut Core<S>) {
        while self.reads.front().is_some_and(|r| r.deadline <= core.now) {
            if let Some(read) = self.reads.pop_front() {
                if read.from == core.me() {
                    core.event(crate::core::Event::ReadFailed { id: read.id });
                }
            }
        }
    }

    /// Starts handing leadership over to `to`: no new proposals; once `to` has acknowledged
    /// the whole history, every member is told to follow it and this node steps down.
    pub(crate) fn transfer<S: Storage>(&mut self, core: &Core<S>, to: NodeId) -> Result<(), crate::error::TransferError> {
        use crate::error::TransferError;
        if self.phase != Phase::Broadcast {
            return Err(TransferError::NotLeader);
        }
        if to == core.me() {
            return Err(TransferError::ToSelf);
        }
        if !core.is_voter_all(to) {
            return Err(TransferError::NotAVoter(to));
        }
        if self.transfer.is_some() || core.membership_pending.is_some() {
            return Err(TransferError::InProgress);
        }
        self.transfer = Some((to, core.now + u64::from(core.config.election_timeout_ticks) * 2));
        Ok(())
    }

    /// Completes (or abandons) a transfer under way.
    fn drive_transfer<S: Storage>(&mut self, core: &mut Core<S>) -> Option<Transition> {
        let (to, deadline) = self.transfer?;
        let last = core.storage.last_index();
        // Caught up, and heard from lately: a target the leader cannot reach would only leave
        // the cluster without a leader until the next election.
        let recent = core.now.saturating_sub(2 * u64::from(core.config.heartbeat_ticks));
        let caught_up = self.peers.iter().any(|p| p.id == to && p.stage == Stage::Broadcast && p.acked_index >= last && p.last_heard >= recent);
        if caught_up {
            for peer in self.peers.iter() {
                core.send(peer.id, Message::Handover { epoch: self.epoch, to });
            }
            return Some(Transition::Follow(to));
        }
        if core.now >= deadline {
            self.transfer = None;
            core.event(crate::core::Event::TransferFailed { to });
        }
        None
    }

    /// The zxid of the next entry of this epoch; `None` once the counter is used up.
    #[inline]
    fn next_zxid<S: Storage>(&self, core: &Core<S>) -> Option<Zxid> {
        let last = core.last_zxid();
        let counter = if last.epoch == self.epoch { last.counter + 1 } else { 1 };
        (counter <= core.config.zxid_counter_max).then(|| Zxid::new(self.epoch, counter))
    }

    /// Whether the next proposal would overflow the zxid counter (forcing a new epoch).
    pub(crate) fn counter_exhausted<S: Storage>(&self, core: &Core<S>) -> bool {
        let last = core.last_zxid();
        last.epoch == self.epoch && last.counter >= core.config.zxid_counter_max
    }

    pub(crate) fn tick<S: Storage>(&mut self, core: &mut Core<S>) -> Option<Transition> {
        let timeout = u64::from(core.config.election_timeout_ticks);
        if self.phase != Phase::Broadcast && core.now >= self.started_at + 2 * timeout {
            return Some(Transition::Look);
        }
        if core.now >= self.quorum_check_at {
            // Check-quorum: a leader that has not heard a majority within a timeout steps down.
            let since = core.now - timeout;
            if !self.quorum(core, &|p| p.last_heard >= since) {
                return Some(Transition::Look);
            }
            self.quorum_check_at = core.now + timeout;
        }
        if self.phase == Phase::Broadcast && self.counter_exhausted(core) {
            return Some(Transition::Look);
        }
        if core.now >= self.heartbeat_at {
            self.heartbeat_at = core.now + u64::from(core.config.heartbeat_ticks);
            self.heartbeat(core);
        }
        self.expire_reads(core);
        self.drive_transfer(core)
    }

    /// Retransmits whatever each peer is waiting for and asks for its state.
    fn heartbeat<S: Storage>(&mut self, core: &mut Core<S>) {
        let fetching = self.fetch.filter(|f| f.asked != f.last);
        if let Some(fetch) = fetching {
            // A FETCH or its answer may be lost: ask again (answers are idempotent).
            self.ask(core, fetch);
        }
        let epoch = self.epoch;
        let commit = core.commit_zxid();
        let stall = 2 * u64::from(core.config.heartbeat_ticks);
        for peer in self.peers.iter_mut() {
            match peer.stage {
                // The other promisers wait for the fetch: keep them from giving up on us.
                Stage::Promised { .. } if fetching.is_some() => core.send(peer.id, Message::Heartbeat { epoch, commit }),
                Stage::Idle | Stage::Promised { .. } => {}
                Stage::Discovering => core.send(peer.id, Message::LeaderInfo { epoch, exchange: peer.exchange }),
                Stage::Snap { index, offset, .. } => peer.stage = Stage::Snap { index, offset, sent: false },
                Stage::Syncing { .. } | Stage::AwaitingAck => core.send(peer.id, Message::Heartbeat { epoch, commit }),
                Stage::Broadcast => {
                    if peer.next_index > peer.acked_index + 1 && core.now.saturating_sub(peer.last_progress) >= stall {
                        // Go back N: the window stalled, something was lost.
                        peer.next_index = peer.acked_index + 1;
                        peer.last_progress = core.now;
                    }
                    if !::core::mem::take(&mut peer.data_sent) {
                        core.send(peer.id, Message::Heartbeat { epoch, commit });
                    }
                }
            }
        }
    }

    /// The next data message (DIFF, PROPOSAL, INFORM, SNAP, NEWLEADER or COMMIT), if any, as a
    /// value borrowing the history; a PROPOSAL carries as many entries as fit in
    /// `message_bytes` on the wire.
    pub(crate) fn poll_data<'a, S: Storage>(&mut self, core: &'a Core<S>, message_bytes: usize) -> Option<(NodeId, Message<'a>)> {
        let count = self.peers.len();
        for step in 0..count {
            let i = (self.cursor + step) % count;
            let epoch = self.epoch;
            let Some(peer) = self.peers.get_mut(i) else { continue };
            if let Some(message) = Self::data_for(epoch, core, peer, message_bytes) {
                self.cursor = (i + 1) % count;
                return Some((peer.id, message));
            }
        }
        None
    }

    fn data_for<'a, S: Storage>(epoch: u32, core: &'a Core<S>, peer: &mut Progress, message_bytes: usize) -> Option<Message<'a>> {
        match peer.stage {
            Stage::Snap { index, offset, sent: false } => {
                // The host may have taken a newer snapshot meanwhile: start that one over.
                let (current, zxid) = core.storage.snapshot_point();
                let (index, offset) = if index == current { (index, offset) } else { (current, 0) };
                peer.stage = Stage::Snap { index, offset, sent: true };
                let data = core.storage.snapshot_data();
                let room = core.config.message_bytes_max.saturating_sub(HEADER_BYTES + 64).min(SNAP_CHUNK_BYTES_MAX);
                let start = (offset as usize).min(data.len());
                let end = (start + room).min(data.len());
                Some(Message::SnapChunk(SnapChunk { epoch, exchange: peer.exchange, index, zxid, offset: start as u32, total: data.len() as u32, data: Bytes(data.get(start..end)?) }))
            }
            Stage::Syncing { target } => {
                let inflight = peer.next_index.saturating_sub(peer.acked_index + 1);
                if inflight >= u64::from(core.config.inflight_entries_max) {
                    return None;
                }
                if peer.next_index <= target {
                    return Self::batch(epoch, core, peer, message_bytes, false, core.storage.last_index());
                }
                // NEWLEADER names the last entry sent: the learner holds exactly up to it.
                let Some(last) = core.storage.zxid_at(peer.next_index - 1) else {
                    peer.stage = Stage::Snap { index: core.storage.snapshot_point().0, offset: 0, sent: false };
                    return None;
                };
                peer.stage = Stage::AwaitingAck;
                Some(Message::NewLeader { epoch, exchange: peer.exchange, last })
            }
            Stage::Broadcast => {
                let (inform, limit) = if peer.voter { (false, core.storage.last_index()) } else { (true, core.commit_index) };
                let inflight = peer.next_index.saturating_sub(peer.acked_index + 1);
                if peer.next_index <= limit && inflight < u64::from(core.config.inflight_entries_max) {
                    return Self::batch(epoch, core, peer, message_bytes, inform, limit);
                }
                if peer.commit_sent < core.commit_index {
                    peer.commit_sent = core.commit_index;
                    return Some(Message::Commit { epoch, zxid: core.commit_zxid() });
                }
                None
            }
            _ => None,
        }
    }

    /// One PROPOSAL / DIFF / INFORM with as many entries as fit, borrowed from the history.
    fn batch<'a, S: Storage>(epoch: u32, core: &'a Core<S>, peer: &mut Progress, message_bytes: usize, inform: bool, limit: u64) -> Option<Message<'a>> {
        let storage = &core.storage;
        let Some(prev) = storage.zxid_at(peer.next_index - 1) else {
            // Behind the snapshot: entries are gone, send the snapshot instead.
            peer.stage = Stage::Snap { index: storage.snapshot_point().0, offset: 0, sent: false };
            return None;
        };
        let budget = core.config.message_bytes_max.min(message_bytes).saturating_sub(HEADER_BYTES + PROPOSAL_OVERHEAD_BYTES_MAX);
        let window = u64::from(core.config.inflight_entries_max).saturating_sub(peer.next_index.saturating_sub(peer.acked_index + 1));
        let first = peer.next_index;
        let (last, payload_bytes) = Self::fit(storage, first, limit.min(first + window.max(1) - 1), budget);
        peer.next_index = last + 1;
        peer.sent_index = peer.sent_index.max(last);
        peer.commit_sent = peer.commit_sent.max(core.commit_index.min(last));
        peer.data_sent = true;
        // Observers are sent committed entries only, so the commit point covers all of them.
        let p = Proposal { epoch, prev, commit: core.commit_zxid(), entries: Entries::from_history(storage, first, last, payload_bytes) };
        Some(if inform { Message::Inform(p) } else { Message::Proposal(p) })
    }

    /// The last position from `first` up to `last_allowed` whose entries (from `first` on) fit in
    /// `budget` bytes on the wire, and the bytes of their payloads. In one step when every entry
    /// fits even at the largest encoding; entry by entry otherwise.
    pub(crate) fn fit<S: Storage>(storage: &S, first: u64, last_allowed: u64, budget: usize) -> (u64, usize) {
        if last_allowed < first {
            return (first - 1, 0);
        }
        if let Some(bytes) = storage.payloads(first, last_allowed).map(<[u8]>::len) {
            let count = usize::try_from(last_allowed - first + 1).unwrap_or(usize::MAX);
            if count.saturating_mul(ENTRY_OVERHEAD_BYTES_MAX).saturating_add(bytes) <= budget {
                return (last_allowed, bytes);
            }
        }
        let (mut last, mut used, mut bytes) = (first - 1, 0usize, 0usize);
        for index in first..=last_allowed {
            let Some((zxid, payload)) = storage.entry_at(index) else { break };
            used += wire::entry_len(zxid, payload.len());
            if used > budget {
                break;
            }
            bytes += payload.len();
            last = index;
        }
        (last, bytes)
    }

    /// Per-peer progress, for the simulator's traces.
    #[cfg(feature = "sim")]
    pub(crate) fn describe(&self) -> alloc::string::String {
        alloc::format!("{:?}", self.peers)
    }

    pub(crate) fn vote<S: Storage>(&self, core: &Core<S>) -> crate::wire::Vote {
        crate::wire::Vote { leader: core.me(), zxid: core.durable_zxid(), epoch: self.epoch, connected: true }
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::Leader;
    use crate::storage::{HeaplessStorage, Storage, VecStorage};
    use crate::{wire, Zxid};

    /// `fit`'s answer for every range and budget: the entries it takes fit the budget on the
    /// wire, and the next one (if allowed) would not. With storage that hands out payloads in
    /// one piece (`VecStorage`, the one-step path) and without (`HeaplessStorage`).
    #[test]
    fn fit_takes_exactly_what_fits_the_budget() {
        let mut vec = VecStorage::new(64, 4096, 64);
        let mut heapless = HeaplessStorage::<64, 4096, 64>::new();
        for counter in 1..=40u32 {
            let payload = [7u8; 10];
            vec.append(Zxid::new(1, counter), &payload).unwrap();
            heapless.append(Zxid::new(1, counter), &payload).unwrap();
        }
        let storages: [&dyn Fn(u64, u64, usize) -> (u64, usize); 2] = [&|f, l, b| Leader::fit(&vec, f, l, b), &|f, l, b| Leader::fit(&heapless, f, l, b)];
        let wire_bytes = |first: u64, last: u64| (first..=last).map(|i| wire::entry_len(Zxid::new(1, i as u32), 10)).sum::<usize>();
        for fit in storages {
            for first in 1..=40u64 {
                for last_allowed in first - 1..=40 {
                    for budget in [0, 12, 13, 14, 100, 298, 299, 300, 600] {
                        let (last, bytes) = fit(first, last_allowed, budget);
                        let case = format!("{first}..={last_allowed} in {budget} bytes: {last}");
                        assert!(last + 1 >= first && last <= last_allowed, "{case}");
                        assert_eq!(bytes, 10 * (last + 1 - first) as usize, "{case}");
                        assert!(wire_bytes(first, last) <= budget, "{case}");
                        assert!(last == last_allowed || wire_bytes(first, last + 1) > budget, "{case}: one more fits");
                    }
                }
            }
        }
    }
}
