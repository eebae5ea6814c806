//! One file per role, each with its own step function (as etcd raft's
//! `stepLeader` / `stepFollower`). Shared checks happen in `node.rs` first.

pub(crate) mod election;
pub(crate) mod leader;
pub(crate) mod learner;

use crate::NodeId;

/// What a role asks the node to become after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transition {
    /// Start (or restart) an election.
    Look,
    /// Follow (or, for an observer, observe) this leader.
    Follow(NodeId),
    /// Lead.
    Lead,
}
