//! The invariants, checked after every input to every node.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::{NodeId, Zxid};

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Violation {
    /// Tick it was found at.
    pub tick: u64,
    /// Which invariant.
    pub invariant: &'static str,
    /// What was seen.
    pub detail: String,
}

/// What every node delivered and every leader established, cluster-wide.
#[derive(Clone, Debug, Default)]
pub struct Checker {
    /// position → (zxid, payload hash) of everything any node applied.
    pub committed: BTreeMap<u64, (Zxid, u64)>,
    /// epoch → the node that established it.
    leaders: BTreeMap<u32, NodeId>,
    /// epoch → last zxid of the history it started with.
    initial: BTreeMap<u32, Zxid>,
    /// Violations found (the run stops at the first, but keep the list for reports).
    pub violations: Vec<Violation>,
    /// Committed positions applied by some node.
    pub max_committed: u64,
    /// position → digest of the state machine right after applying it.
    digests: BTreeMap<u64, u64>,
    /// payload hash → position, when payloads are unique.
    payloads: Option<BTreeMap<u64, u64>>,
    /// (node, epoch) → the leader it promised that epoch to: an epoch is promised once.
    pub(crate) promised: BTreeMap<(NodeId, u32), NodeId>,
}

/// FNV-1a 64 of a payload: enough to tell entries apart in checks and hashes.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Checker {
    /// A checker; with `unique_payloads`, a payload committed at two positions is a violation.
    pub fn new(unique_payloads: bool) -> Self {
        Checker { payloads: unique_payloads.then(BTreeMap::new), ..Checker::default() }
    }

    pub(crate) fn fail(&mut self, tick: u64, invariant: &'static str, detail: String) {
        self.violations.push(Violation { tick, invariant, detail });
    }

    /// A node is seen leading an established epoch.
    pub fn leader(&mut self, tick: u64, epoch: u32, id: NodeId, last: Zxid) {
        match self.leaders.get(&epoch) {
            Some(&other) if other != id => self.fail(tick, "one leader per epoch", format!("epoch {epoch} led by n{other} and n{id}")),
            Some(_) => {}
            None => {
                self.leaders.insert(epoch, id);
                if last.epoch >= epoch {
                    self.fail(tick, "primary order", format!("epoch {epoch} established with {last} already in history"));
                }
                self.initial.insert(epoch, last);
            }
        }
    }

    /// A node applied `zxid` at `index`, right after `previous` (its last applied zxid).
    pub fn applied(&mut self, tick: u64, id: NodeId, index: u64, zxid: Zxid, payload_hash: u64, previous: Zxid) {
        if zxid <= previous {
            self.fail(tick, "primary order", format!("n{id} applied {zxid} after {previous}"));
        }
        match self.committed.get(&index) {
            Some(&(z, h)) if z != zxid || h != payload_hash => {
                self.fail(tick, "committed prefixes agree", format!("n{id} applied {zxid} at position {index}, others applied {z}"));
            }
            Some(_) => {}
            None => {
                self.committed.insert(index, (zxid, payload_hash));
                self.max_committed = self.max_committed.max(index);
                if let Some(payloads) = &mut self.payloads {
                    if let Some(&other) = payloads.get(&payload_hash) {
                        self.fail(tick, "no proposal committed twice", format!("n{id} applied at {index} the payload committed at {other}"));
                    } else {
                        payloads.insert(payload_hash, index);
                    }
                }
            }
        }
        // A proposal of an older epoch beyond the history a later epoch started with was skipped.
        for (&epoch, &initial) in self.initial.range(zxid.epoch + 1..) {
            if zxid > initial {
                self.fail(tick, "skipped proposals never delivered", format!("n{id} applied {zxid}, skipped by epoch {epoch} (started at {initial})"));
                break;
            }
        }
    }

    /// A node's state machine has `digest` after applying position `index`: every
    /// replica must agree at every commit point.
    pub fn digest(&mut self, tick: u64, id: NodeId, index: u64, digest: u64) {
        match self.digests.get(&index) {
            Some(&d) if d != digest => self.fail(tick, "replica states agree", format!("n{id} state digest {digest:016x} at position {index}, others {d:016x}")),
            Some(_) => {}
            None => {
                self.digests.insert(index, digest);
            }
        }
    }

    /// A node restored a snapshot at `index`.
    pub fn restored(&mut self, tick: u64, id: NodeId, index: u64, zxid: Zxid) {
        if let Some(&(z, _)) = self.committed.get(&index) {
            if z != zxid {
                self.fail(tick, "committed prefixes agree", format!("n{id} restored a snapshot at {index} = {zxid}, committed there is {z}"));
            }
        }
    }

    /// A read was served at `zxid` by a node that has applied up to `applied`; `floor` is
    /// the last entry applied anywhere when the read was asked.
    pub fn read(&mut self, tick: u64, id: NodeId, linearizable: bool, zxid: Zxid, floor: Zxid, applied: Zxid) {
        if zxid > applied {
            self.fail(tick, "reads are served from applied state", format!("n{id} served a read at {zxid} having applied {applied}"));
        }
        if linearizable && zxid < floor {
            self.fail(tick, "linearizable reads", format!("n{id} served a read at {zxid}, but {floor} was committed before it was asked"));
        }
    }

    /// A node's commit point went from `before` to `after`.
    pub fn commit_moved(&mut self, tick: u64, id: NodeId, before: u64, after: u64) {
        if after < before {
            self.fail(tick, "commit point never goes back", format!("n{id} commit {before} -> {after}"));
        }
    }

    /// `holders` of `voters` voters have the highest committed entry durable.
    pub fn durable_on_majority(&mut self, tick: u64, holders: usize, voters: usize) {
        if self.max_committed > 0 && holders < voters / 2 + 1 {
            let (z, _) = self.committed.get(&self.max_committed).copied().unwrap_or_default();
            self.fail(tick, "nothing committed is lost", format!("committed {z} at {} is durable on {holders} of {voters} voters", self.max_committed));
        }
    }

    /// An observer was seen in a voter's role.
    pub fn observer_role(&mut self, tick: u64, id: NodeId, role: crate::Role) {
        if matches!(role, crate::Role::Leading | crate::Role::Following) {
            self.fail(tick, "observers never count in a quorum", format!("observer n{id} is {role:?}"));
        }
    }

    /// A leader established `epoch` with this history (`zxid_at` of a position, `None` when
    /// compacted, and its snapshot point): it must hold every entry committed before it.
    pub fn leader_holds_committed(&mut self, tick: u64, epoch: u32, id: NodeId, snapshot: (u64, Zxid), zxid_at: impl Fn(u64) -> Option<Zxid>) {
        for (&index, &(zxid, _)) in self.committed.iter() {
            if zxid.epoch >= epoch {
                continue;
            }
            let held = if index <= snapshot.0 { zxid <= snapshot.1 } else { zxid_at(index) == Some(zxid) };
            if !held {
                let detail = format!("n{id} established epoch {epoch} without {zxid} committed at {index} (it holds {:?})", zxid_at(index));
                self.fail(tick, "a leader holds every entry committed before its epoch", detail);
                return;
            }
        }
    }

    /// Number of epochs established.
    pub fn elections(&self) -> u64 {
        self.leaders.len() as u64
    }
}
