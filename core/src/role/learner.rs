//! Following and observing: a learner's side of discovery, sync and broadcast.
//!
//! The order of persistence is the heart of it (ZOOKEEPER-3911, 4643, 4646,
//! 4785): the promise of an epoch is durable before ACKEPOCH; the synced
//! history is durable, then the current epoch, before the NEWLEADER ACK; and
//! no proposal is acknowledged before that, nor before it is durable itself.

use super::Transition;
use crate::core::{Appends, Core};
use crate::error::StepError;
use crate::storage::{HardState, Storage};
use crate::limits::{FETCHED_OVERHEAD_BYTES_MAX, HEADER_BYTES};
use crate::wire::{Entries, MalformedEntries, Message, PeerState, Proposal, SnapChunk, Vote, WireRuns};
use crate::{NodeId, Zxid};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stage {
    /// FOLLOWERINFO sent; waiting for LEADERINFO.
    Connecting,
    /// Promise written; ACKEPOCH goes out once it is durable.
    Promising,
    /// Receiving TRUNC / DIFF / SNAP; waiting for NEWLEADER.
    Syncing,
    /// NEWLEADER accepted: acknowledging proposals.
    Broadcast,
}

pub(crate) struct Learner {
    pub(crate) leader: NodeId,
    pub(crate) epoch: u32,
    /// This handshake's id (see `Message::FollowerInfo`): messages of another are refused.
    exchange: u64,
    /// FOLLOWERINFO went out (it waits until this start's incarnation is durable).
    connected: bool,
    pub(crate) stage: Stage,
    /// Last position known to equal the leader's history.
    matched_index: u64,
    /// Ticks of silence from the leader before looking again.
    timeout_ticks: u64,
    last_heard: u64,
    resend_at: u64,
    pub(crate) ack_due: bool,
    announced: bool,
    /// The snapshot being received, (position, zxid, length), and the bytes received so far.
    receiving: Option<((u64, Zxid, u32), u32)>,
    /// Reads sent to the leader and not answered yet: (id, deadline tick).
    /// Kept in the order asked, so the oldest deadline is first.
    pub(crate) reads: heapless::Vec<(u32, u64), { crate::limits::READS_MAX }>,
    /// Whether this reign got our promise (see `Message::AckEpoch::promised`).
    promise: bool,
    /// Tick of the last SYNCSTATE report: at most one a tick, or reordered
    /// proposals would make the leader resend its window over and over.
    reported_at: Option<u64>,
    /// A FETCH to answer: the position before the first entry to send, and the last one.
    fetch: Option<(u64, u64)>,
}

impl Learner {
    pub(crate) fn start<S: Storage>(core: &mut Core<S>, leader: NodeId) -> Self {
        let timeout_ticks = core.election_timeout();
        let exchange = core.next_exchange();
        let mut learner = Learner {
            leader,
            epoch: 0,
            exchange,
            connected: false,
            stage: Stage::Connecting,
            // The committed prefix is in every leader's history.
            matched_index: core.commit_index,
            timeout_ticks,
            last_heard: core.now,
            resend_at: 0,
            ack_due: false,
            announced: false,
            receiving: None,
            reported_at: None,
            promise: true,
            reads: heapless::Vec::new(),
            fetch: None,
        };
        learner.connect(core);
        learner
    }

    pub(crate) fn observer<S: Storage>(core: &Core<S>) -> bool {
        !core.is_voter_any(core.me())
    }

    pub(crate) fn peer_state<S: Storage>(core: &Core<S>) -> PeerState {
        if Self::observer(core) { PeerState::Observing } else { PeerState::Following }
    }

    fn connect<S: Storage>(&mut self, core: &mut Core<S>) {
        // An id is only unique once the incarnation it carries is durable.
        if !core.exchange_ready() {
            return;
        }
        self.connected = true;
        core.send(self.leader, Message::FollowerInfo { accepted_epoch: core.storage.hard_state().accepted_epoch, exchange: self.exchange });
        self.resend_at = core.now + u64::from(core.config.heartbeat_ticks) * 2;
    }

    /// This handshake's id.
    pub(crate) fn exchange(&self) -> u64 {
        self.exchange
    }

    pub(crate) fn established(&self) -> bool {
        self.stage == Stage::Broadcast
    }

    /// Whether the leader has been silent for at least the (unrandomised) election timeout.
    pub(crate) fn leader_silent<S: Storage>(&self, core: &Core<S>) -> bool {
        core.now.saturating_sub(self.last_heard) >= u64::from(core.config.election_timeout_ticks)
    }

    pub(crate) fn tick<S: Storage>(&mut self, core: &mut Core<S>) -> Option<Transition> {
        if core.now.saturating_sub(self.last_heard) >= self.timeout_ticks {
            return Some(Transition::Look);
        }
        if self.stage == Stage::Connecting && core.now >= self.resend_at {
            self.connect(core);
        }
        while self.reads.first().is_some_and(|(_, deadline)| *deadline <= core.now) {
            let (id, _) = self.reads.remove(0);
            core.event(crate::core::Event::ReadFailed { id });
        }
        None
    }

    /// After the host reported writes durable: send what was waiting on them.
    pub(crate) fn on_durable<S: Storage>(&mut self, core: &mut Core<S>) {
        let early = crate::config::bugs(&core.config).ack_before_durable;
        let hard = if early { core.storage.hard_state() } else { core.durable_hard };
        let promised = hard.accepted_epoch == self.epoch && hard.promised_leader == self.leader;
        if self.stage == Stage::Connecting && !self.connected {
            self.connect(core);
        }
        if self.stage == Stage::Promising && (promised || !self.promise) {
            self.stage = Stage::Syncing;
            self.send_ack_epoch(core, hard.current_epoch);
        }
        if self.stage == Stage::Broadcast {
            self.ack_due = true;
        }
    }

    fn send_ack_epoch<S: Storage>(&self, core: &mut Core<S>, current_epoch: u32) {
        let (epoch, exchange) = (self.epoch, self.exchange);
        core.send(self.leader, Message::AckEpoch { epoch, exchange, current_epoch, last: core.durable_zxid(), promised: self.promise });
    }

    /// The cumulative ACK, if one may be sent now: only for durable state, in this epoch.
    pub(crate) fn ack<S: Storage>(&mut self, core: &Core<S>) -> Option<Message<'static>> {
        if !self.ack_due {
            return None;
        }
        self.ack_due = false;
        let early = crate::config::bugs(&core.config).ack_before_durable;
        let (mut hard, durable) = if early { (core.storage.hard_state(), core.storage.last_index()) } else { (core.durable_hard, core.durable_index) };
        if crate::config::bugs(&core.config).ack_ignores_epoch {
            hard.current_epoch = core.storage.hard_state().current_epoch;
        }
        if self.stage != Stage::Broadcast || hard.current_epoch != self.epoch || core.snapshot_pending.is_some() {
            return None;
        }
        let index = durable.min(self.matched_index);
        let zxid = core.storage.zxid_at(index)?;
        Some(Message::Ack { epoch: self.epoch, exchange: self.exchange, zxid })
    }

    /// Sends a read to the leader for its read point.
    pub(crate) fn read<S: Storage>(&mut self, core: &mut Core<S>, id: u32, linearizable: bool) -> Result<(), crate::error::ReadError> {
        use crate::error::ReadError;
        if self.stage != Stage::Broadcast {
            return Err(ReadError::NoLeader);
        }
        if self.reads.is_full() || !core.reads_room() {
            return Err(ReadError::Busy);
        }
        let deadline = core.now + 2 * u64::from(core.config.election_timeout_ticks);
        let _ = self.reads.push((id, deadline));
        core.send(self.leader, Message::ReadRequest { epoch: self.epoch, id, linearizable });
        Ok(())
    }

    pub(crate) fn vote<S: Storage>(&self, core: &Core<S>) -> Vote {
        Vote { leader: self.leader, zxid: core.durable_zxid(), epoch: self.epoch, connected: true }
    }

    pub(crate) fn step<S: Storage>(&mut self, core: &mut Core<S>, from: NodeId, message: Message<'_>) -> Result<Option<Transition>, StepError> {
        if from != self.leader {
            return Err(StepError::Unexpected("learner hears only its leader"));
        }
        let Some(epoch) = message.epoch() else {
            return Err(StepError::Unexpected("not a leader's message"));
        };
        if self.epoch != 0 && epoch < self.epoch {
            return Err(StepError::StaleEpoch { message: epoch, current: self.epoch });
        }
        let handshake = matches!(message, Message::LeaderInfo { .. } | Message::Trunc { .. } | Message::NewLeader { .. } | Message::SnapChunk(_) | Message::Fetch { .. });
        if handshake && message.exchange().is_some_and(|exchange| exchange != self.exchange) && !crate::config::bugs(&core.config).learner_ignores_exchange {
            // Of an earlier handshake (before a restart of either end, or a re-sync): a
            // late NEWLEADER or TRUNC would truncate what this one acknowledged.
            return Err(StepError::OtherExchange);
        }
        if !matches!(message, Message::LeaderInfo { .. }) && epoch != self.epoch {
            return Err(StepError::Unexpected("message before LEADERINFO"));
        }
        // Only the leader's own messages prove it alive (two learners that each
        // took the other for leader must not keep each other waiting).
        self.last_heard = core.now;
        match message {
            Message::LeaderInfo { epoch, .. } => return self.on_leader_info(core, epoch),
            Message::Trunc { to, .. } => self.on_trunc(core, to)?,
            Message::Proposal(p) | Message::Inform(p) => self.on_proposal(core, p)?,
            Message::NewLeader { last, .. } => self.on_new_leader(core, last)?,
            Message::Commit { zxid, .. } => self.on_commit(core, zxid),
            Message::Heartbeat { commit, .. } => {
                self.on_commit(core, commit);
                match self.stage {
                    Stage::Broadcast => self.ack_due = true,
                    Stage::Syncing => self.report(core),
                    _ => {}
                }
            }
            Message::SnapChunk(chunk) => self.on_snap_chunk(core, chunk)?,
            Message::Fetch { from, to, .. } => self.on_fetch(core, from, to)?,
            Message::Handover { to, .. } => {
                if !core.is_voter_any(to) {
                    return Err(StepError::Unexpected("HANDOVER to a node that is not a voter"));
                }
                // The leader handed over (the new leader holds its whole history): follow it,
                // or, if it is this node, lead.
                return Ok(Some(Transition::Follow(to)));
            }
            Message::ReadProbe { round, .. } => {
                if self.stage != Stage::Broadcast {
                    return Err(StepError::Unexpected("READPROBE before NEWLEADER"));
                }
                core.send(self.leader, Message::ReadProbeAck { epoch: self.epoch, round });
            }
            Message::ReadReply { id, zxid, .. } => {
                let Some(at) = self.reads.iter().position(|(r, _)| *r == id) else {
                    return Err(StepError::Duplicate);
                };
                // `remove` keeps the others in deadline order.
                self.reads.remove(at);
                // Served once this node has applied the leader's read point, which it
                // may not even hold yet.
                core.read_confirmed(id, zxid);
            }
            _ => return Err(StepError::Unexpected("not a leader's message")),
        }
        Ok(None)
    }

    fn on_leader_info<S: Storage>(&mut self, core: &mut Core<S>, epoch: u32) -> Result<Option<Transition>, StepError> {
        let hard = core.storage.hard_state();
        let same_promise = epoch == hard.accepted_epoch && hard.promised_leader == self.leader;
        let floor = if crate::config::bugs(&core.config).promise_checks_current_epoch { hard.current_epoch } else { hard.accepted_epoch };
        if epoch < floor {
            // Promised a newer epoch: acknowledging this one would break that promise.
            return Ok(Some(Transition::Look));
        }
        if self.stage != Stage::Connecting {
            if epoch != self.epoch {
                return Ok(Some(Transition::Look));
            }
            // The leader did not get our ACKEPOCH: say it again (once the promise is durable).
            if self.stage > Stage::Promising {
                self.send_ack_epoch(core, core.durable_hard.current_epoch);
            }
            return Err(StepError::Duplicate);
        }
        // The same epoch promised to another candidate: join without a promise.
        let again = crate::config::bugs(&core.config).promise_accepted_epoch_again && epoch == hard.accepted_epoch;
        let promise = epoch > hard.accepted_epoch || same_promise || again;
        if promise && !same_promise {
            // First, so that a refusal (busy) leaves this learner as it was.
            core.set_hard_state(HardState { accepted_epoch: epoch, promised_leader: self.leader, ..hard })?;
        }
        self.epoch = epoch;
        self.stage = Stage::Promising;
        self.promise = promise;
        self.on_durable(core);
        Ok(None)
    }

    /// Tells the leader where this history ends, so it can pick DIFF, TRUNC or SNAP.
    /// Reports how far this history is known to agree with the leader's, so the
    /// leader resumes DIFF from there (and finds any conflict after it).
    fn report<S: Storage>(&mut self, core: &mut Core<S>) {
        let index = if self.stage == Stage::Broadcast { core.storage.last_index() } else { self.matched_index };
        let last = core.storage.zxid_at(index).unwrap_or_else(|| core.last_zxid());
        self.report_as(core, last);
    }

    fn report_as<S: Storage>(&mut self, core: &mut Core<S>, last: Zxid) {
        if self.reported_at == Some(core.now) {
            return;
        }
        self.reported_at = Some(core.now);
        core.send(self.leader, Message::SyncState { epoch: self.epoch, exchange: self.exchange, last });
    }

    fn on_trunc<S: Storage>(&mut self, core: &mut Core<S>, to: Zxid) -> Result<(), StepError> {
        match self.stage {
            Stage::Syncing => {}
            // Once synced, this history is a prefix of the leader's and may hold
            // acknowledged entries: a TRUNC now is a stale one, delayed in the network.
            Stage::Broadcast => return Err(StepError::Duplicate),
            _ => return Err(StepError::Unexpected("TRUNC before ACKEPOCH")),
        }
        if crate::config::bugs(&core.config).skip_trunc {
            self.report_as(core, to);
            return Ok(());
        }
        let Some(index) = core.storage.index_of(to) else {
            self.report(core);
            return Err(StepError::Unexpected("TRUNC to a zxid not in history"));
        };
        // Committed entries are in every later leader's history: never drop them.
        let index = index.max(core.commit_index);
        core.truncate_after(index)?;
        self.matched_index = index;
        self.report(core);
        Ok(())
    }

    fn on_proposal<S: Storage>(&mut self, core: &mut Core<S>, p: Proposal<'_>) -> Result<(), StepError> {
        if self.stage < Stage::Syncing {
            return Err(StepError::Unexpected("PROPOSAL before ACKEPOCH"));
        }
        let Some(mut index) = core.storage.index_of(p.prev) else {
            // A gap, or a history that differs before `prev`: tell the leader where we are.
            self.report(core);
            return Err(StepError::Unexpected("PROPOSAL does not follow this history"));
        };
        let mut previous = p.prev;
        let mut appended = false;
        let mut truncated = false;
        let mut result = Ok(());
        // One write for the whole batch (a conflict closes the run before truncating).
        let mut run = core.begin_appends()?;
        // Nothing held after `prev` (the usual case): a batch held as values goes in as one.
        let at_end = index == core.storage.last_index();
        let mut whole = false;
        if let Some(u) = p.entries.uniform().filter(|_| at_end) {
            let count = core.append_uniform_to(&mut run, p.prev, p.epoch, u.first, u.stride, u.data)?;
            (index, appended, whole) = (index + count as u64, count > 0, true);
            if count < u.data.len() / (u.stride as usize).max(1) {
                result = Err(StepError::Storage(crate::storage::StorageError::Full));
            }
        } else if let Some(runs) = p.entries.wire_runs().filter(|_| at_end && !crate::config::bugs(&core.config).entries_unchecked) {
            match Self::append_runs(core, &mut run, p.prev, p.epoch, runs) {
                Ok((count, full)) => {
                    (index, appended, whole) = (index + count, count > 0, true);
                    if let Some(e) = full {
                        result = Err(e);
                    }
                }
                Err(e) => {
                    core.end_appends(run)?;
                    return Err(e);
                }
            }
        } else if let Some((table, data)) = p.entries.packed().filter(|_| at_end) {
            let count = core.append_packed_to(&mut run, p.prev, p.epoch, table, data)?;
            (index, appended, whole) = (index + count as u64, count > 0, true);
            if count < table.len() {
                result = Err(StepError::Storage(crate::storage::StorageError::Full));
            }
        }
        // Taken one by one (the history holds entries after `prev`): bytes that do not decode
        // refuse the whole batch before anything of it goes in, so the loop below never meets
        // them (but with the planted bug, which leaves what it took without a write).
        let unwritten = crate::config::bugs(&core.config).malformed_entries_unwritten;
        if !whole && !unwritten && p.entries.wire_bytes().is_some() && p.entries.iter().any(|entry| entry.is_err()) {
            core.end_appends(run)?;
            return Err(StepError::Wire(crate::wire::WireError::Malformed));
        }
        for entry in p.entries.iter().take(if whole { 0 } else { usize::MAX }) {
            let (zxid, payload) = entry.map_err(|MalformedEntries| StepError::Wire(crate::wire::WireError::Malformed))?;
            let unchecked = crate::config::bugs(&core.config).entries_unchecked && zxid > previous;
            if !(zxid.follows(previous, p.epoch) || unchecked) {
                core.end_appends(run)?;
                return Err(StepError::Implausible("an entry that does not follow its predecessor in this epoch"));
            }
            if !crate::membership::valid_entry(payload) {
                core.end_appends(run)?;
                return Err(StepError::Wire(crate::wire::WireError::Malformed));
            }
            previous = zxid;
            index += 1;
            match core.storage.zxid_at(index) {
                Some(have) if have == zxid => continue,
                // The broken variant keeps whatever it holds at a position.
                Some(_) if crate::config::bugs(&core.config).skip_trunc => continue,
                Some(_) => {
                    core.end_appends(run)?;
                    core.truncate_after(index - 1)?;
                    run = core.begin_appends()?;
                    truncated = true;
                }
                None => {}
            }
            if let Err(e) = core.append_to(&mut run, zxid, payload) {
                index -= 1;
                result = Err(e);
                break;
            }
            appended = true;
        }
        core.end_appends(run)?;
        if appended && crate::config::bugs(&core.config).ack_before_durable && self.stage == Stage::Broadcast {
            self.ack_due = true;
        }
        // Everything up to `index` now equals the leader's history.
        self.matched_index = if truncated { index } else { self.matched_index.max(index) };
        self.matched_index = self.matched_index.min(core.storage.last_index());
        self.on_commit(core, p.commit);
        if self.stage == Stage::Syncing {
            // While syncing, reports are the leader's only measure of progress.
            self.report(core);
        }
        if !appended && result.is_ok() {
            self.ack_due = self.stage == Stage::Broadcast;
            return if p.entries.is_empty() { Ok(()) } else { Err(StepError::Duplicate) };
        }
        result
    }

    /// Appends entries in their wire encoding after `prev`, a run at a time: a run goes in as
    /// one stretch (see `Core::append_uniform_to`), a lone entry alone. A batch of more than
    /// one run is read and checked to follow on within `epoch` first, so a batch refused for its
    /// framing or its zxids changes nothing. Returns how many went in and, if storage took
    /// fewer than all, why.
    fn append_runs<S: Storage>(core: &mut Core<S>, batch: &mut Appends, prev: Zxid, epoch: u32, runs: WireRuns<'_>) -> Result<(u64, Option<StepError>), StepError> {
        let malformed = StepError::Wire(crate::wire::WireError::Malformed);
        let implausible = StepError::Implausible("an entry that does not follow its predecessor in this epoch");
        let mut rest = runs.clone();
        let first = rest.next();
        if !rest.is_done() {
            let mut previous = prev;
            for run in runs {
                let run = run.map_err(|MalformedEntries| malformed)?;
                // A run keeps to its epoch (the decoder checked): its first entry decides.
                if !run.first.follows(previous, epoch) {
                    return Err(implausible);
                }
                previous = run.last();
            }
        }
        let (mut previous, mut count) = (prev, 0u64);
        for run in first.into_iter().chain(rest) {
            let run = run.map_err(|MalformedEntries| malformed)?;
            // A lone entry goes in alone: cheaper than a stretch of one.
            if run.count == 1 {
                if !run.first.follows(previous, epoch) {
                    return Err(implausible);
                }
                if !crate::membership::valid_entry(run.data) {
                    return Err(malformed);
                }
                if let Err(e) = core.append_to(batch, run.first, run.data) {
                    return Ok((count, Some(e)));
                }
                count += 1;
            } else {
                let taken = core.append_uniform_to(batch, previous, epoch, run.first, run.stride, run.data)?;
                count += taken as u64;
                if taken < run.count as usize {
                    return Ok((count, Some(StepError::Storage(crate::storage::StorageError::Full))));
                }
            }
            previous = run.last();
        }
        Ok((count, None))
    }

    fn on_new_leader<S: Storage>(&mut self, core: &mut Core<S>, last: Zxid) -> Result<(), StepError> {
        match self.stage {
            Stage::Broadcast => {
                self.ack_due = true;
                return Err(StepError::Duplicate);
            }
            Stage::Syncing => {}
            _ => return Err(StepError::Unexpected("NEWLEADER before ACKEPOCH")),
        }
        // A truncation and the epoch: both writes or neither (a busy step changes nothing).
        if core.writes_free() < 2 {
            return Err(StepError::Busy);
        }
        let skip_trunc = crate::config::bugs(&core.config).skip_trunc;
        match core.storage.index_of(last) {
            // Our history holds the leader's last zxid: up to it, they are the same;
            // whatever follows it here the new epoch skipped.
            Some(index) if !skip_trunc => {
                if let Err(e) = core.truncate_after(index) {
                    self.report(core);
                    return Err(e);
                }
            }
            Some(_) => {}
            None => {
                self.report(core);
                return Err(StepError::Unexpected("NEWLEADER with a different history"));
            }
        }
        let hard = core.storage.hard_state();
        // History first (already queued), then the epoch: writes are durable in order.
        core.set_hard_state(HardState { current_epoch: self.epoch, ..hard })?;
        self.matched_index = core.storage.last_index();
        self.stage = Stage::Broadcast;
        self.ack_due = true;
        if !self.announced {
            self.announced = true;
            core.event(crate::core::Event::Leader { leader: self.leader, epoch: self.epoch });
        }
        Ok(())
    }

    /// FETCH: the leader takes this promiser's history before it establishes its epoch. The
    /// answer goes out from `poll_fetched`, borrowing the entries from this history.
    fn on_fetch<S: Storage>(&mut self, core: &mut Core<S>, from: Zxid, to: Zxid) -> Result<(), StepError> {
        if self.stage != Stage::Syncing || !self.promise {
            // Only a promiser's history counts, and only until the leader syncs it.
            return Err(StepError::Unexpected("FETCH outside discovery"));
        }
        let Some(end) = core.storage.index_of(to).filter(|&end| end <= core.durable_index) else {
            return Err(StepError::Implausible("FETCH beyond the history promised"));
        };
        // From our last entry at or before the leader's probe; below our snapshot, from it.
        let start = core.storage.index_at_or_before(from.min(to)).unwrap_or(core.storage.snapshot_point().0);
        self.fetch = Some((start.min(end), end));
        Ok(())
    }

    /// The FETCHED answering the last FETCH, if one is due: as many entries as fit in
    /// `message_bytes` and in the in-flight bound.
    pub(crate) fn poll_fetched<'a, S: Storage>(&mut self, core: &'a Core<S>, message_bytes: usize) -> Option<Message<'a>> {
        let (start, end) = self.fetch.take()?;
        let storage = &core.storage;
        let prev = storage.zxid_at(start)?;
        let budget = core.config.message_bytes_max.min(message_bytes).saturating_sub(HEADER_BYTES + FETCHED_OVERHEAD_BYTES_MAX);
        let window = u64::from(core.config.inflight_entries_max).max(1);
        let (last, payload_bytes) = super::leader::Leader::fit(storage, start + 1, end.min(start + window), budget);
        let entries = Entries::from_history(storage, start + 1, last, payload_bytes);
        Some(Message::Fetched { epoch: self.epoch, exchange: self.exchange, prev, entries })
    }

    fn on_commit<S: Storage>(&mut self, core: &mut Core<S>, commit: Zxid) {
        if self.stage != Stage::Broadcast {
            return;
        }
        let Some(index) = core.storage.index_at_or_before(commit) else { return };
        let index = index.min(self.matched_index);
        core.commit_to(index);
    }

    fn on_snap_chunk<S: Storage>(&mut self, core: &mut Core<S>, chunk: SnapChunk<'_>) -> Result<(), StepError> {
        if self.stage < Stage::Syncing {
            return Err(StepError::Unexpected("SNAP before ACKEPOCH"));
        }
        if chunk.zxid.epoch > chunk.epoch || chunk.index == 0 || chunk.zxid == Zxid::ZERO {
            // A leader's snapshot covers its committed history: never past its own epoch.
            return Err(StepError::Implausible("a snapshot past the epoch that sends it"));
        }
        // Once synced, only a snapshot beyond everything held is taken (the learner fell
        // behind the leader's compaction); an older one is stale and would erase
        // acknowledged entries.
        if self.stage == Stage::Broadcast && chunk.index <= core.storage.last_index() {
            // Our ACKs were lost while the leader compacted: say again how far we are.
            self.ack_due = true;
            return Err(StepError::Duplicate);
        }
        let (leader, epoch, exchange, index) = (self.leader, self.epoch, self.exchange, chunk.index);
        let ack = |core: &mut Core<S>, offset: u32| core.send(leader, Message::SnapAck { epoch, exchange, index, offset });
        if chunk.index < core.commit_index {
            // We hold more than this snapshot, all of it committed and so in the
            // leader's history: tell the leader where we agree, so it sends a DIFF.
            self.report(core);
            return Err(StepError::Duplicate);
        }
        let this = (chunk.index, chunk.zxid, chunk.total);
        let received = match self.receiving {
            Some((snapshot, received)) if snapshot == this => received,
            _ => 0,
        };
        if chunk.offset != received {
            // Duplicated, delayed or early (or of another snapshot: then `received` is 0,
            // which asks the leader to start over): say how far we are.
            ack(core, received);
            return Err(StepError::Duplicate);
        }
        let completes = u64::from(chunk.offset) + chunk.data.0.len() as u64 >= u64::from(chunk.total);
        if completes && core.writes_free() == 0 {
            // Installing needs a write: refuse before taking anything (the leader resends).
            return Err(StepError::Busy);
        }
        if let Err(e) = core.storage.receive_snapshot_chunk(chunk.offset, chunk.data.0) {
            self.receiving = None;
            ack(core, 0);
            return Err(StepError::Storage(e));
        }
        let received = chunk.offset.saturating_add(chunk.data.0.len() as u32);
        self.receiving = Some((this, received));
        if received < chunk.total {
            ack(core, received);
            return Ok(());
        }
        self.receiving = None;
        core.install_snapshot(chunk.index, chunk.zxid, chunk.total)?;
        self.matched_index = chunk.index;
        ack(core, chunk.total);
        Ok(())
    }
}
