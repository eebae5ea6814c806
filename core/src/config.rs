//! Cluster configuration and the limits the host chooses.

use crate::limits::{HEADER_BYTES, MEMBERS_MAX, MESSAGE_BYTES_MIN, PROPOSAL_OVERHEAD_BYTES_MAX, ENTRY_OVERHEAD_BYTES_MAX};
use crate::NodeId;

/// A list of node ids with a fixed capacity.
pub type Members = heapless::Vec<NodeId, MEMBERS_MAX>;

/// Why a configuration was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// There must be at least one voter.
    NoVoters,
    /// More than [`MEMBERS_MAX`] members.
    TooManyMembers,
    /// A node id appears twice (in voters, observers, or both).
    DuplicateMember(NodeId),
    /// The node's own id is neither a voter nor an observer.
    SelfNotMember,
    /// Node id 0 is reserved for "nobody".
    ReservedId,
    /// A timeout is zero or the heartbeat is not shorter than the election timeout.
    BadTimeouts,
    /// `message_bytes_max` is below the minimum a proposal needs.
    MessageTooSmall,
    /// `inflight_entries_max` is zero.
    NoInflight,
}

/// How a node is set up. Build with [`Config::new`] and the chained setters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node's id (never 0).
    pub id: NodeId,
    /// Nodes that vote and count in quorums.
    pub voters: Members,
    /// Nodes that receive the committed stream but never vote.
    pub observers: Members,
    /// Messages carrying another cluster id are refused.
    pub cluster_id: u32,
    /// Seed of the node's randomness (election timeout jitter, the incarnation number
    /// that tells a restarted node's FORWARDs apart). Give each start a fresh seed.
    pub seed: u64,
    /// Ticks without a leader (or, for a leader, without a quorum) before electing.
    /// The actual timeout is drawn from `[election_timeout_ticks, 2 * election_timeout_ticks)`.
    pub election_timeout_ticks: u32,
    /// Ticks between leader heartbeats (and retransmissions).
    pub heartbeat_ticks: u32,
    /// Largest encoded message, envelope included.
    pub message_bytes_max: usize,
    /// Proposals sent to one peer and not yet acknowledged, at most.
    pub inflight_entries_max: u32,
    /// Highest zxid counter a leader uses before it forces a new epoch.
    pub zxid_counter_max: u32,
    /// Deliberate protocol bugs, to prove the simulator's checker catches them.
    #[cfg(feature = "sim")]
    pub bugs: Bugs,
}

/// Declares the planted bugs once: the public `Bugs` of simulator builds, and a private
/// stand-in of the same shape elsewhere, all off, so that every check compiles away.
macro_rules! planted_bugs {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// Deliberately broken variants of the kernel, for the simulator's own tests.
        /// All off by default; never switch one on outside a test of the checker.
        #[cfg(feature = "sim")]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Bugs {
            $($(#[doc = $doc])* pub $name: bool,)*
        }

        #[cfg(feature = "sim")]
        impl Bugs {
            /// Every bug off.
            pub const NONE: Bugs = Bugs { $($name: false,)* };
        }

        #[cfg(not(feature = "sim"))]
        #[derive(Clone, Copy, Default)]
        pub(crate) struct Bugs {
            $(pub $name: bool,)*
        }

        #[cfg(not(feature = "sim"))]
        impl Bugs {
            pub(crate) const NONE: Bugs = Bugs { $($name: false,)* };
        }
    };
}

planted_bugs! {
    /// A leader counts a single acknowledgement (its own) as a quorum.
    quorum_of_one,
    /// Learners acknowledge proposals and promises before they are durable.
    ack_before_durable,
    /// Learners ignore TRUNC, keep conflicting entries, and accept NEWLEADER whatever their history holds.
    skip_trunc,
    /// Election and discovery ignore last_zxid (and current epoch): the highest id wins.
    election_ignores_zxid,
    /// A learner takes its leader's messages of another handshake (a late NEWLEADER or TRUNC).
    learner_ignores_exchange,
    /// A leader takes a learner's messages of another handshake (a late ACK, a replayed FORWARD).
    leader_ignores_exchange,
    /// A restarted node forgets its commit floor (nothing it knew committed is protected).
    commit_floor_ignored,
    /// A leader takes an ACK beyond what it sent (as if for its last entry).
    ack_unbounded,
    /// A NOTIFICATION's round is adopted whatever its value, and counted up unchecked.
    rounds_unbounded,
    /// `propose_batch` draws one payload past the last zxid counter, and drops it.
    batch_draws_past_counter,
    /// Received entries need only rise, not follow their predecessor within the epoch that carries them.
    entries_unchecked,
    /// A snapshot received by SNAP is advertised and handed to the host before it is durable.
    snapshot_used_early,
    /// A learner acknowledges once its history is durable, whether or not its current epoch is.
    ack_ignores_epoch,
    /// A learner checks LEADERINFO against its current epoch instead of its accepted epoch.
    promise_checks_current_epoch,
    /// A learner promises the epoch it already accepted again to whichever leader asks, and
    /// writes that leader as its promise.
    promise_accepted_epoch_again,
    /// Reads are released at the commit point, not at what the host applied.
    read_at_commit,
    /// A looking voter ignores the round of a vote it cannot count (a liveness bug).
    round_ignores_unknown_candidate,
    /// The leader neither steps aside for nor adopts a promiser's newer history.
    leader_ignores_newer_history,
    /// A learner refusing a PROPOSAL's undecodable entries part way keeps what it took before
    /// them, with no write for it.
    malformed_entries_unwritten,
}

#[cfg(feature = "sim")]
pub(crate) fn bugs(config: &Config) -> Bugs {
    config.bugs
}

/// Without the `sim` feature every bug is off, and the checks below compile away.
#[cfg(not(feature = "sim"))]
#[inline(always)]
pub(crate) fn bugs(_config: &Config) -> Bugs {
    Bugs::NONE
}

impl Config {
    /// A placeholder for a node that has not started (no members; never valid), holding the
    /// defaults of every other setting.
    pub(crate) const fn idle() -> Self {
        Config {
            id: 0,
            voters: Members::new(),
            observers: Members::new(),
            cluster_id: 0,
            seed: 0,
            election_timeout_ticks: 10,
            heartbeat_ticks: 2,
            message_bytes_max: 1400,
            inflight_entries_max: 4096,
            zxid_counter_max: u32::MAX - 1,
            #[cfg(feature = "sim")]
            bugs: Bugs::NONE,
        }
    }

    /// A configuration with defaults for everything but membership.
    pub fn new(id: NodeId, voters: &[NodeId], observers: &[NodeId]) -> Result<Self, ConfigError> {
        let voters = Members::from_slice(voters).map_err(|_| ConfigError::TooManyMembers)?;
        let observers = Members::from_slice(observers).map_err(|_| ConfigError::TooManyMembers)?;
        // The defaults are the idle configuration's.
        let config = Config { id, voters, observers, ..Config::idle() };
        config.validate()?;
        Ok(config)
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the cluster id.
    pub fn cluster_id(mut self, cluster_id: u32) -> Self {
        self.cluster_id = cluster_id;
        self
    }

    /// Sets the election timeout and heartbeat interval, in ticks.
    pub fn timeouts(mut self, election_timeout_ticks: u32, heartbeat_ticks: u32) -> Self {
        self.election_timeout_ticks = election_timeout_ticks;
        self.heartbeat_ticks = heartbeat_ticks;
        self
    }

    /// Sets the largest message size in bytes.
    pub fn message_bytes_max(mut self, bytes: usize) -> Self {
        self.message_bytes_max = bytes;
        self
    }

    /// Sets the per-peer in-flight bound.
    pub fn inflight_entries_max(mut self, entries: u32) -> Self {
        self.inflight_entries_max = entries;
        self
    }

    /// Checks every rule; [`crate::Node::new`] calls it too.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.voters.is_empty() {
            return Err(ConfigError::NoVoters);
        }
        if self.voters.len() + self.observers.len() > MEMBERS_MAX {
            return Err(ConfigError::TooManyMembers);
        }
        let all = self.voters.iter().chain(self.observers.iter());
        for (i, a) in all.clone().enumerate() {
            if *a == 0 {
                return Err(ConfigError::ReservedId);
            }
            if all.clone().skip(i + 1).any(|b| b == a) {
                return Err(ConfigError::DuplicateMember(*a));
            }
        }
        if !self.is_member(self.id) {
            return Err(ConfigError::SelfNotMember);
        }
        if self.election_timeout_ticks < 2 || self.heartbeat_ticks == 0 || self.heartbeat_ticks >= self.election_timeout_ticks {
            return Err(ConfigError::BadTimeouts);
        }
        if self.message_bytes_max < MESSAGE_BYTES_MIN {
            return Err(ConfigError::MessageTooSmall);
        }
        if self.inflight_entries_max == 0 {
            return Err(ConfigError::NoInflight);
        }
        Ok(())
    }

    /// Largest payload a proposal may carry with this message size.
    pub fn payload_bytes_max(&self) -> usize {
        // A payload that opens with 0xFF is stored behind two bytes of framing.
        self.message_bytes_max - HEADER_BYTES - PROPOSAL_OVERHEAD_BYTES_MAX - ENTRY_OVERHEAD_BYTES_MAX - crate::stored::FRAMING_BYTES_MAX
    }

    /// Whether `id` votes.
    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.contains(&id)
    }

    /// Whether `id` is a voter or an observer.
    pub fn is_member(&self, id: NodeId) -> bool {
        self.is_voter(id) || self.observers.contains(&id)
    }

    /// Every member but this node.
    pub fn peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        let me = self.id;
        self.voters.iter().chain(self.observers.iter()).copied().filter(move |p| *p != me)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_membership() {
        assert_eq!(Config::new(1, &[], &[1]), Err(ConfigError::NoVoters));
        assert_eq!(Config::new(1, &[1, 2, 2], &[]), Err(ConfigError::DuplicateMember(2)));
        assert_eq!(Config::new(1, &[1, 2], &[2]), Err(ConfigError::DuplicateMember(2)));
        assert_eq!(Config::new(4, &[1, 2, 3], &[]), Err(ConfigError::SelfNotMember));
        assert_eq!(Config::new(0, &[0, 1], &[]), Err(ConfigError::ReservedId));
        assert_eq!(Config::new(1, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], &[]), Err(ConfigError::TooManyMembers));
        let c = Config::new(1, &[1, 2, 3], &[4]).unwrap();
        assert_eq!(c.clone().timeouts(5, 5).validate(), Err(ConfigError::BadTimeouts));
        assert_eq!(c.clone().message_bytes_max(10).validate(), Err(ConfigError::MessageTooSmall));
        assert_eq!(c.peers().collect::<heapless::Vec<_, 9>>().as_slice(), &[2, 3, 4]);
    }
}
