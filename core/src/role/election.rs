//! Looking: ZooKeeper's fast leader election.
//!
//! A node proposes itself, adopts any better vote it hears in its round
//! (`(current_epoch, last_zxid, id)`, highest wins) and rebroadcasts. Once a
//! majority of voters agrees with its vote, and a short wait brings no better
//! vote, it decides. Nodes that already follow or lead answer with their leader,
//! and a looking node joins a leader that a majority follows: this is what keeps
//! a node that was cut off from deposing a healthy leader (pre-vote's job in Raft).
//! Election only picks a candidate; discovery (Paxos phase 1) makes it safe.

use heapless::Vec;

use super::Transition;
use crate::core::Core;
use crate::limits::MEMBERS_MAX;
use crate::quorum::is_majority;
use crate::storage::Storage;
use crate::wire::{Message, PeerState, Vote};
use crate::NodeId;

/// Ticks to wait for a better vote once a majority agrees (ZooKeeper's finalizeWait).
const FINALIZE_TICKS: u64 = 1;

pub(crate) struct Election {
    pub(crate) vote: Vote,
    /// Votes of looking voters in this round.
    votes: Vec<(NodeId, Vote), MEMBERS_MAX>,
    /// What non-looking members say they follow or lead.
    claims: Vec<(NodeId, Vote, PeerState), MEMBERS_MAX>,
    decide_at: Option<u64>,
    resend_at: u64,
    /// Voters heard from while looking (any state): whether this node reaches a majority.
    heard: Vec<NodeId, MEMBERS_MAX>,
}

impl Election {
    fn better<S: Storage>(core: &Core<S>, a: &Vote, b: &Vote) -> bool {
        if crate::config::bugs(&core.config).election_ignores_zxid {
            return a.leader > b.leader;
        }
        a.rank() > b.rank()
    }

    /// An election not begun yet.
    pub(crate) const fn idle() -> Self {
        Election { vote: Vote { leader: 0, zxid: crate::Zxid::ZERO, epoch: 0, connected: false }, votes: Vec::new(), claims: Vec::new(), decide_at: None, resend_at: 0, heard: Vec::new() }
    }

    /// Starts a new round with this node's own vote and tells the voters.
    pub(crate) fn begin<S: Storage>(&mut self, core: &mut Core<S>) {
        core.round += 1;
        *self = Election::idle();
        // Nobody heard yet: connected only if this node alone is a majority.
        let vote = self.own(core);
        self.vote = vote;
        if core.config.is_voter(core.me()) {
            self.record(core.me(), vote);
            if is_majority(1, core.config.voters.len()) {
                self.decide_at = Some(core.now);
            }
        }
        self.broadcast(core);
    }

    fn broadcast<S: Storage>(&mut self, core: &mut Core<S>) {
        let message = Message::Notification { round: core.round, state: PeerState::Looking, vote: self.vote };
        let me = core.me();
        for i in 0..core.config.voters.len() {
            let to = core.config.voters[i];
            if to != me {
                core.send(to, message);
            }
        }
        self.resend_at = core.now + u64::from(core.config.heartbeat_ticks) * 2;
    }

    fn record(&mut self, from: NodeId, vote: Vote) {
        match self.votes.iter_mut().find(|(id, _)| *id == from) {
            Some(slot) => slot.1 = vote,
            None => {
                let _ = self.votes.push((from, vote));
            }
        }
    }

    fn claim(&mut self, from: NodeId, vote: Vote, state: PeerState) {
        match self.claims.iter_mut().find(|(id, _, _)| *id == from) {
            Some(slot) => *slot = (from, vote, state),
            None => {
                let _ = self.claims.push((from, vote, state));
            }
        }
    }

    pub(crate) fn tick<S: Storage>(&mut self, core: &mut Core<S>) -> Option<Transition> {
        if core.now >= self.resend_at {
            self.broadcast(core);
        }
        match self.decide_at {
            Some(at) if core.now >= at => self.decide(core),
            _ => None,
        }
    }

    /// This node's own vote, with whether it hears a majority of voters.
    fn own<S: Storage>(&self, core: &Core<S>) -> Vote {
        let mut vote = core.own_vote();
        vote.connected = is_majority(self.heard.len() + 1, core.config.voters.len());
        vote
    }

    pub(crate) fn on_notification<S: Storage>(&mut self, core: &mut Core<S>, from: NodeId, round: u64, state: PeerState, vote: Vote) -> Option<Transition> {
        let me_voter = core.config.is_voter(core.me());
        let from_voter = core.config.is_voter(from);
        if from_voter && !self.heard.contains(&from) {
            let _ = self.heard.push(from);
            // Reaching a majority makes this node a better candidate: say so.
            let own = self.own(core);
            if me_voter && own.connected && Self::better(core, &own, &self.vote) {
                self.vote = own;
                self.record(core.me(), own);
                self.broadcast(core);
            }
        }
        if state != PeerState::Looking {
            if from_voter {
                self.claim(from, vote, state);
            }
            return self.join_established(core);
        }
        if !from_voter || !me_voter {
            // Observers neither vote nor are voted for; tell them where we stand.
            if !from_voter {
                core.send(from, Message::Notification { round: core.round, state: PeerState::Looking, vote: self.vote });
            }
            return None;
        }
        if round > core.round {
            core.round = round;
            self.votes.clear();
            let own = self.own(core);
            self.vote = if Self::better(core, &vote, &own) { vote } else { own };
            self.record(core.me(), self.vote);
            self.broadcast(core);
        } else if round < core.round {
            core.send(from, Message::Notification { round: core.round, state: PeerState::Looking, vote: self.vote });
            return None;
        } else if Self::better(core, &vote, &self.vote) {
            self.vote = vote;
            self.record(core.me(), vote);
            self.broadcast(core);
        }
        self.record(from, vote);
        let agreeing = self.votes.iter().filter(|(id, v)| core.config.is_voter(*id) && *v == self.vote).count();
        if is_majority(agreeing, core.config.voters.len()) {
            self.decide_at.get_or_insert(core.now + FINALIZE_TICKS);
        } else {
            self.decide_at = None;
        }
        None
    }

    fn decide<S: Storage>(&mut self, core: &mut Core<S>) -> Option<Transition> {
        self.decide_at = None;
        let agreeing = self.votes.iter().filter(|(id, v)| core.config.is_voter(*id) && *v == self.vote).count();
        if !is_majority(agreeing, core.config.voters.len()) {
            return None;
        }
        if self.vote.leader == core.me() {
            Some(Transition::Lead)
        } else {
            Some(Transition::Follow(self.vote.leader))
        }
    }

    /// Joins a leader that a majority of voters already follows (or leads, counting the leader).
    fn join_established<S: Storage>(&mut self, core: &mut Core<S>) -> Option<Transition> {
        let mut best: Option<NodeId> = None;
        for (_, vote, _) in self.claims.iter() {
            let leader = vote.leader;
            let leading = leader == core.me() || self.claims.iter().any(|(id, _, s)| *id == leader && *s == PeerState::Leading);
            if !leading {
                continue;
            }
            let supporters = self.claims.iter().filter(|(id, v, s)| v.leader == leader && (*s == PeerState::Following || *id == leader)).count();
            if is_majority(supporters, core.config.voters.len()) {
                best = Some(leader);
                break;
            }
        }
        // Without a majority's word (partial connectivity may hide the followers), a leader's
        // own claim is enough to try it: discovery, not election, keeps this safe, and a
        // stale leader only costs a LEADERINFO that is refused.
        let best = best.or_else(|| {
            self.claims.iter().filter(|(id, v, s)| *s == PeerState::Leading && v.leader == *id && *id != core.me()).max_by_key(|(_, v, _)| v.epoch).map(|(id, _, _)| *id)
        });
        match best {
            Some(leader) if leader == core.me() => Some(Transition::Lead),
            Some(leader) => Some(Transition::Follow(leader)),
            None => None,
        }
    }
}
