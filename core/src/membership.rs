//! Run-time membership change, ZooKeeper 3.5's dynamic reconfiguration made a
//! log entry: a change is proposed as a membership entry, and takes effect when
//! it commits. Between its append and its commit a node holding it counts every
//! quorum twice, in the old voters and in the new (joint consensus, implicit), so
//! no two disjoint quorums can form whoever leads; one change is in flight at a time.
//!
//! A membership entry is stored behind a mark that no plain command carries
//! (see [`crate::stored`]). Snapshots open with the membership as of their point, so compaction and SNAP
//! never lose it.

use crate::config::Members;
use crate::limits::MEMBERS_MAX;
use crate::NodeId;

/// Largest encoded membership: two counts and every member's id.
pub const MEMBERSHIP_BYTES_MAX: usize = 2 + 2 * MEMBERS_MAX;

/// Who votes and who observes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    /// Nodes that vote and count in quorums.
    pub voters: Members,
    /// Nodes that receive the committed stream but never vote.
    pub observers: Members,
}

/// One change to the membership, proposed at the leader with
/// [`crate::Node::change_membership`]. A voter joins in two steps: `AddObserver`
/// (it receives the history while it cannot count in a quorum), then
/// `PromoteToVoter` once it has caught up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembershipChange {
    /// A new node joins as an observer.
    AddObserver(NodeId),
    /// An observer that has caught up becomes a voter.
    PromoteToVoter(NodeId),
    /// A voter (the leader too) becomes an observer.
    DemoteToObserver(NodeId),
    /// A voter or observer (the leader too) leaves.
    Remove(NodeId),
}

/// Why [`crate::Node::change_membership`] refused a change. Nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembershipError {
    /// This node does not lead an established epoch.
    NotLeader,
    /// Another change is proposed and not yet committed (or a leadership transfer is under way).
    InProgress,
    /// The node is already a member (`AddObserver`).
    AlreadyMember(NodeId),
    /// The node is not a member (`PromoteToVoter`, `DemoteToObserver`, `Remove`).
    NotAMember(NodeId),
    /// `PromoteToVoter` of a voter, or `DemoteToObserver` of an observer.
    NoChange(NodeId),
    /// The change would leave no voter.
    LastVoter,
    /// The observer has not caught up with the leader's commit point yet.
    NotCaughtUp(NodeId),
    /// More than [`MEMBERS_MAX`] members.
    TooManyMembers,
    /// Node id 0 is reserved.
    ReservedId,
    /// History or the write queue is full: retry.
    Busy,
}

impl Membership {
    /// A membership from lists (unchecked: see [`crate::Config::validate`]).
    pub(crate) fn of(voters: &Members, observers: &Members) -> Self {
        Membership { voters: voters.clone(), observers: observers.clone() }
    }

    /// Whether `id` votes.
    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.contains(&id)
    }

    /// Whether `id` votes or observes.
    pub fn is_member(&self, id: NodeId) -> bool {
        self.is_voter(id) || self.observers.contains(&id)
    }

    /// The membership after `change`, or why it cannot be made.
    pub fn changed(&self, change: MembershipChange) -> Result<Membership, MembershipError> {
        let mut next = self.clone();
        let id = match change {
            MembershipChange::AddObserver(id) | MembershipChange::PromoteToVoter(id) | MembershipChange::DemoteToObserver(id) | MembershipChange::Remove(id) => id,
        };
        if id == 0 {
            return Err(MembershipError::ReservedId);
        }
        match change {
            MembershipChange::AddObserver(_) if self.is_member(id) => return Err(MembershipError::AlreadyMember(id)),
            MembershipChange::AddObserver(_) => {
                if self.voters.len() + self.observers.len() >= MEMBERS_MAX {
                    return Err(MembershipError::TooManyMembers);
                }
                next.observers.push(id).map_err(|_| MembershipError::TooManyMembers)?;
            }
            _ if !self.is_member(id) => return Err(MembershipError::NotAMember(id)),
            MembershipChange::PromoteToVoter(_) if self.is_voter(id) => return Err(MembershipError::NoChange(id)),
            MembershipChange::DemoteToObserver(_) if !self.is_voter(id) => return Err(MembershipError::NoChange(id)),
            MembershipChange::PromoteToVoter(_) => {
                next.observers.retain(|o| *o != id);
                next.voters.push(id).map_err(|_| MembershipError::TooManyMembers)?;
            }
            MembershipChange::DemoteToObserver(_) => {
                next.voters.retain(|v| *v != id);
                next.observers.push(id).map_err(|_| MembershipError::TooManyMembers)?;
            }
            MembershipChange::Remove(_) => {
                next.voters.retain(|v| *v != id);
                next.observers.retain(|o| *o != id);
            }
        }
        if next.voters.is_empty() {
            return Err(MembershipError::LastVoter);
        }
        Ok(next)
    }

    /// Writes `[voters][ids…][observers][ids…]` (ids little-endian u16) into `out`;
    /// returns the length. A membership of more than [`MEMBERS_MAX`] members (the fields are
    /// public; the kernel never builds one) does not fit: its encoding is cut short, and
    /// [`Membership::decode`] refuses it.
    pub fn encode(&self, out: &mut [u8; MEMBERSHIP_BYTES_MAX]) -> usize {
        let mut at = 0;
        for list in [&self.voters, &self.observers] {
            let Some(count) = out.get_mut(at) else { return at };
            *count = list.len() as u8;
            at += 1;
            for id in list.iter() {
                let Some(slot) = out.get_mut(at..at + 2) else { return at };
                slot.copy_from_slice(&id.to_le_bytes());
                at += 2;
            }
        }
        at
    }

    /// Reads what [`Membership::encode`] wrote from the front of `bytes`; returns it and
    /// the bytes it took. `None` for anything malformed: counts past the limit, no voter,
    /// id 0, an id twice, or too few bytes.
    pub fn decode(bytes: &[u8]) -> Option<(Membership, usize)> {
        let mut membership = Membership::default();
        let mut at = 0;
        for voters in [true, false] {
            let count = usize::from(*bytes.get(at)?);
            at += 1;
            for _ in 0..count {
                let id = NodeId::from_le_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]);
                at += 2;
                if id == 0 || membership.is_member(id) {
                    return None;
                }
                let list = if voters { &mut membership.voters } else { &mut membership.observers };
                list.push(id).ok()?;
            }
        }
        if membership.voters.is_empty() || membership.voters.len() + membership.observers.len() > MEMBERS_MAX {
            return None;
        }
        Some((membership, at))
    }
}

/// The membership a stored entry carries, if it is a membership entry.
pub(crate) fn of_entry(stored: &[u8]) -> Option<Membership> {
    match crate::stored::decode(stored) {
        crate::stored::Stored::Membership(encoded) => Membership::decode(encoded).map(|(m, _)| m),
        _ => None,
    }
}

/// Whether a stored entry received from a leader is well formed: a command, or a valid membership.
pub(crate) fn valid_entry(stored: &[u8]) -> bool {
    match crate::stored::decode(stored) {
        crate::stored::Stored::Command(_) => true,
        crate::stored::Stored::Membership(encoded) => Membership::decode(encoded).is_some(),
        crate::stored::Stored::Unknown => false,
    }
}

/// The host's data of a stored snapshot (what follows the membership it opens with; all of
/// it if it opens with none), as [`crate::Apply::Snapshot`] hands it out.
pub fn snapshot_host_data(stored: &[u8]) -> &[u8] {
    split_snapshot(stored).map_or(stored, |(_, data)| data)
}

/// Splits a stored snapshot into the membership it opens with and the host's data.
pub(crate) fn split_snapshot(stored: &[u8]) -> Option<(Membership, &[u8])> {
    let (membership, len) = Membership::decode(stored)?;
    Some((membership, stored.get(len..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(voters: &[NodeId], observers: &[NodeId]) -> Membership {
        Membership { voters: Members::from_slice(voters).unwrap(), observers: Members::from_slice(observers).unwrap() }
    }

    #[test]
    fn round_trips_and_refuses_malformed() {
        let one = m(&[1, 2, 3], &[7]);
        let mut buf = [0u8; MEMBERSHIP_BYTES_MAX];
        let len = one.encode(&mut buf);
        assert_eq!(Membership::decode(&buf[..len]), Some((one.clone(), len)));
        assert_eq!(Membership::decode(&buf[..len - 1]), None, "short");
        assert_eq!(Membership::decode(&[0, 0]), None, "no voter");
        assert_eq!(Membership::decode(&[1, 0, 0, 0]), None, "id 0");
        assert_eq!(Membership::decode(&[2, 1, 0, 1, 0, 0]), None, "id twice");
        assert_eq!(Membership::decode(&[1, 1, 0, 1, 1, 0]), None, "voter and observer");
        assert_eq!(Membership::decode(&[10, 1, 0]), None, "too many");
        let mut entry = crate::stored::MEMBERSHIP_MARK.to_vec();
        entry.extend_from_slice(&buf[..len]);
        assert!(valid_entry(&entry) && of_entry(&entry) == Some(one));
        assert!(valid_entry(&[]) && valid_entry(&[9, 1]) && valid_entry(&[0xFF, 0]), "commands");
        assert!(!valid_entry(&[0xFF, 1, 0, 0]) && !valid_entry(&[0xFF]) && !valid_entry(&[0xFF, 2]));
    }

    #[test]
    fn changes_and_their_refusals() {
        let base = m(&[1, 2, 3], &[4]);
        assert_eq!(base.changed(MembershipChange::AddObserver(5)), Ok(m(&[1, 2, 3], &[4, 5])));
        assert_eq!(base.changed(MembershipChange::PromoteToVoter(4)), Ok(m(&[1, 2, 3, 4], &[])));
        assert_eq!(base.changed(MembershipChange::DemoteToObserver(1)), Ok(m(&[2, 3], &[4, 1])));
        assert_eq!(base.changed(MembershipChange::Remove(2)), Ok(m(&[1, 3], &[4])));
        assert_eq!(base.changed(MembershipChange::AddObserver(2)), Err(MembershipError::AlreadyMember(2)));
        assert_eq!(base.changed(MembershipChange::Remove(9)), Err(MembershipError::NotAMember(9)));
        assert_eq!(base.changed(MembershipChange::PromoteToVoter(1)), Err(MembershipError::NoChange(1)));
        assert_eq!(base.changed(MembershipChange::DemoteToObserver(4)), Err(MembershipError::NoChange(4)));
        assert_eq!(base.changed(MembershipChange::AddObserver(0)), Err(MembershipError::ReservedId));
        assert_eq!(m(&[1], &[]).changed(MembershipChange::Remove(1)), Err(MembershipError::LastVoter));
        assert_eq!(m(&[1], &[2]).changed(MembershipChange::DemoteToObserver(1)), Err(MembershipError::LastVoter));
        // Past the limit (public fields): the encoding is cut short and refused, never a panic.
        let over = Membership { voters: (1..=MEMBERS_MAX as NodeId).collect(), observers: (20..20 + MEMBERS_MAX as NodeId).collect() };
        let mut buf = [0u8; MEMBERSHIP_BYTES_MAX];
        let len = over.encode(&mut buf);
        assert_eq!(Membership::decode(&buf[..len]), None);
        let full = m(&[1, 2, 3, 4, 5], &[6, 7, 8, 9]);
        if MEMBERS_MAX == 9 {
            assert_eq!(full.changed(MembershipChange::AddObserver(10)), Err(MembershipError::TooManyMembers));
        }
    }
}
