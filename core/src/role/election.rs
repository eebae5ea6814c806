//! Looking: ZooKeeper's fast leader election.
//!
//! A node proposes itself, adopts any better vote it hears in its round
//! (`(current_epoch, last_zxid, id)`, highest wins) and rebroadcasts. Once a
//! majority of voters agrees with its vote, and a short wait brings no better
//! vote, it decides. Nodes that already follow or lead answer with their leader,
//! and a looking node joins a leader it hears claim to lead: this is what keeps
//! a node that was cut off from deposing a healthy leader (pre-vote's job in Raft).
//! Election only picks a candidate; discovery (Paxos phase 1) makes it safe.

use heapless::Vec;

use super::Transition;
use crate::core::Core;
use crate::limits::MEMBERS_MAX;
use crate::storage::Storage;
use crate::wire::{Message, PeerState, Vote};
use crate::NodeId;

pub(crate) struct Election {
    pub(crate) vote: Vote,
    /// Votes of looking voters in this round.
    votes: Vec<(NodeId, Vote), MEMBERS_MAX>,
    /// A majority agreed with this node's vote: it decides at the next tick, unless a better
    /// vote comes first (ZooKeeper's finalizeWait, one tick long).
    deciding: bool,
    resend_at: u64,
    /// Voters heard from while looking (any state): whether this node reaches a majority.
    heard: Vec<NodeId, MEMBERS_MAX>,
    /// The tick each node was last answered at: at most one answer a tick, so two nodes
    /// whose memberships disagree (each answering the other) cannot echo forever.
    answered: Vec<(NodeId, u64), MEMBERS_MAX>,
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
        Election { vote: Vote { leader: 0, zxid: crate::Zxid::ZERO, epoch: 0, connected: false }, votes: Vec::new(), deciding: false, resend_at: 0, heard: Vec::new(), answered: Vec::new() }
    }

    /// Starts a new round with this node's own vote and tells the voters.
    pub(crate) fn begin<S: Storage>(&mut self, core: &mut Core<S>) {
        // Saturating: a round is never near the end of its range (see `ROUND_MAX`).
        #[allow(clippy::arithmetic_side_effects)]
        if crate::config::bugs(&core.config).rounds_unbounded {
            core.round += 1;
        } else {
            core.round = core.round.saturating_add(1);
        }
        *self = Election::idle();
        // Nobody heard yet: connected only if this node alone is a majority.
        let vote = self.own(core);
        self.vote = vote;
        if core.is_voter_any(core.me()) {
            self.record(core.me(), vote);
            let me = core.me();
            if core.is_quorum(&|id| id == me) {
                self.deciding = true;
            }
        }
        self.broadcast(core);
    }

    fn broadcast<S: Storage>(&mut self, core: &mut Core<S>) {
        let message = Message::Notification { round: core.round, state: PeerState::Looking, vote: self.vote, membership: core.membership_zxid };
        // A node without a vote asks every member it knows: its membership may be behind,
        // and whoever leads now may be one it knows only as an observer.
        let mut to: Vec<NodeId, MEMBERS_MAX> = Vec::new();
        if core.is_voter_any(core.me()) {
            to.extend(core.voters_any());
        } else {
            to.extend(core.members_any());
        }
        for voter in to {
            core.send(voter, message);
        }
        self.resend_at = core.now + u64::from(core.config.heartbeat_ticks) * 2;
    }

    /// Tells `from` where this node stands (once a tick at most).
    fn reply<S: Storage>(&mut self, core: &mut Core<S>, from: NodeId) {
        match self.answered.iter_mut().find(|(id, _)| *id == from) {
            Some((_, at)) if *at == core.now => return,
            Some((_, at)) => *at = core.now,
            None => {
                if self.answered.push((from, core.now)).is_err() {
                    self.answered.clear();
                }
            }
        }
        core.send(from, Message::Notification { round: core.round, state: PeerState::Looking, vote: self.vote, membership: core.membership_zxid });
    }

    fn record(&mut self, from: NodeId, vote: Vote) {
        match self.votes.iter_mut().find(|(id, _)| *id == from) {
            Some(slot) => slot.1 = vote,
            None => {
                let _ = self.votes.push((from, vote));
            }
        }
    }

    pub(crate) fn tick<S: Storage>(&mut self, core: &mut Core<S>) -> Option<Transition> {
        if core.now >= self.resend_at {
            self.broadcast(core);
        }
        if self.deciding {
            self.decide(core)
        } else {
            None
        }
    }

    /// This node's own vote, with whether it hears a majority of voters.
    fn own<S: Storage>(&self, core: &Core<S>) -> Vote {
        let mut vote = core.own_vote();
        let me = core.me();
        vote.connected = core.is_quorum(&|id| id == me || self.heard.contains(&id));
        vote
    }

    pub(crate) fn on_notification<S: Storage>(&mut self, core: &mut Core<S>, from: NodeId, round: u64, state: PeerState, vote: Vote) -> Option<Transition> {
        let me_voter = core.is_voter_any(core.me());
        let from_voter = core.is_voter_any(from);
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
            let leader = vote.leader;
            if leader != core.me() && leader != from && (!me_voter || !core.is_voter_any(leader)) {
                // A leader this node does not know as a voter (or any leader, for a node
                // without a vote): its membership may be behind. Ask the leader itself; its
                // own claim, if it still leads, is enough to follow it.
                self.reply(core, leader);
            }
            // A leader's own claim (an observer's too) is enough to join it: discovery, not
            // election, keeps this safe, and a stale leader only costs a LEADERINFO that is
            // refused. Partial connectivity may hide its followers, so their word is not
            // awaited. (Followers' claims lead nowhere by themselves.)
            if state == PeerState::Leading && leader == from && from != core.me() {
                return Some(Transition::Follow(from));
            }
            return None;
        }
        if !from_voter {
            // Observers neither vote nor are voted for; tell them where we stand.
            self.reply(core, from);
            return None;
        }
        if !me_voter {
            // Without a vote in this node's membership, it may hold one in the sender's newer
            // one (a promotion this node has not received): it takes up the best vote it
            // hears, so the sender can count it, and never decides. Election only picks a
            // candidate; discovery keeps the choice safe.
            let placeholder = self.vote.leader == core.me();
            // A vote naming this node speaks for it with its own durable state only (below).
            let vote = if vote.leader == core.me() { self.own(core) } else { vote };
            if round > core.round || (round == core.round && (placeholder || Self::better(core, &vote, &self.vote))) {
                core.round = core.round.max(round);
                self.vote = vote;
                self.reply(core, from);
            }
            return None;
        }
        // A vote for this node speaks for its state as the sender last heard of it, which may
        // be stale (and, naming it connected, outrank its own fresh vote): this node votes
        // for itself only with its own durable state.
        let adopt = if vote.leader == core.me() { self.own(core) } else { vote };
        if round > core.round {
            self.enter_round(core, round, Some(adopt));
        } else if round < core.round {
            self.reply(core, from);
            return None;
        } else if Self::better(core, &adopt, &self.vote) {
            self.vote = adopt;
            self.record(core.me(), adopt);
            self.broadcast(core);
        }
        self.record(from, vote);
        self.deciding = self.agreed(core);
        None
    }

    /// Moves to a later `round` (ZooKeeper's logical clock): the votes heard so far are of an
    /// older round; this node votes anew, for `vote` if it is better than its own.
    fn enter_round<S: Storage>(&mut self, core: &mut Core<S>, round: u64, vote: Option<Vote>) {
        core.round = round;
        self.votes.clear();
        let own = self.own(core);
        self.vote = match vote {
            Some(vote) if Self::better(core, &vote, &own) => vote,
            _ => own,
        };
        self.record(core.me(), self.vote);
        self.broadcast(core);
    }

    /// A voter in a later round named a candidate this node does not know as a voter (its
    /// membership is behind or ahead of ours): the vote cannot count here, but the round
    /// does. Without it, a voter that adopted a high round from a stale candidate waits for
    /// votes in that round while the others stay in theirs, and no round ever agrees.
    pub(crate) fn on_round_of_unknown_candidate<S: Storage>(&mut self, core: &mut Core<S>, from: NodeId, round: u64) {
        if round > core.round && core.is_voter_any(core.me()) && core.is_voter_any(from) {
            self.enter_round(core, round, None);
        }
    }

    fn decide<S: Storage>(&mut self, core: &mut Core<S>) -> Option<Transition> {
        self.deciding = false;
        if !self.agreed(core) {
            return None;
        }
        if self.vote.leader == core.me() {
            Some(Transition::Lead)
        } else {
            Some(Transition::Follow(self.vote.leader))
        }
    }

    /// The voters changed: a quorum may agree now (a lone voter decides alone). A vote for a
    /// node that is no longer a voter can never win: vote anew (nodes that know the change
    /// refuse that vote, and it outranks their candidates, so they would wait on each other).
    pub(crate) fn on_membership_changed<S: Storage>(&mut self, core: &mut Core<S>) {
        let me = core.me();
        if core.is_voter_any(me) && self.vote.leader != me && !core.is_voter_any(self.vote.leader) {
            self.vote = self.own(core);
            self.votes.retain(|(_, vote)| core.is_voter_any(vote.leader));
            self.broadcast(core);
        }
        if core.is_voter_any(me) {
            self.record(me, self.vote);
        }
        if self.agreed(core) {
            self.deciding = true;
        }
    }

    /// Whether a quorum votes as this node does.
    fn agreed<S: Storage>(&self, core: &Core<S>) -> bool {
        core.is_quorum(&|id| self.votes.iter().any(|(voter, v)| *voter == id && *v == self.vote))
    }
}
