//! The fault model: rates per fault class, drawn per seed (swarm testing), and
//! the partition shapes, including the OmniPaxos paper's partial connectivity.

use alloc::vec;
use alloc::vec::Vec;

use super::rng::Rng;

/// Probabilities (per message, per tick or per node-tick) of each fault.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FaultRates {
    /// A message is lost.
    pub loss: f64,
    /// A message is delivered twice.
    pub duplicate: f64,
    /// A message is delayed past later ones.
    pub reorder: f64,
    /// Largest delivery delay in ticks (latency spread).
    pub latency_ticks_max: u64,
    /// Per tick: a partition of some shape starts (when none is active).
    pub partition: f64,
    /// Per node and tick: the node crashes (losing every write not reported durable).
    pub crash: f64,
    /// On a crash: the writes in flight are torn (a prefix of their calls survives).
    pub torn_write: f64,
    /// Largest delay in ticks before a write becomes durable (slow, asynchronous storage).
    pub storage_delay_ticks_max: u64,
    /// Per node: its clock runs at a different rate (0.5x to 1.5x).
    pub clock_skew: f64,
    /// Per tick: a client proposes at a random node.
    pub propose: f64,
    /// Per tick: the leader is asked to hand leadership over to a random voter.
    pub transfer: f64,
    /// Per tick: the leader is asked for a random membership change.
    pub reconfig: f64,
    /// Per tick: a message sent at any earlier time (before crashes and restarts of either
    /// end, epochs ago) is delivered again.
    pub replay: f64,
    /// Per message: one field is made implausible (a forged or corrupted message that passes
    /// the envelope's checks): a round at the end of its range, another handshake's id, an
    /// ACK beyond what was sent, an entry of a later epoch.
    pub forge: f64,
    /// Per tick: a random node's host takes a snapshot at its applied point now (also while
    /// a SNAP of the previous one is under way).
    pub compact: f64,
}

impl FaultRates {
    /// No faults at all (the liveness phase), with client load kept.
    pub fn none() -> Self {
        FaultRates { loss: 0.0, duplicate: 0.0, reorder: 0.0, latency_ticks_max: 1, partition: 0.0, crash: 0.0, torn_write: 0.0, storage_delay_ticks_max: 0, clock_skew: 0.0, propose: 0.3, transfer: 0.0, reconfig: 0.0, replay: 0.0, forge: 0.0, compact: 0.0 }
    }

    /// Rates for one seed: each class on or off and at a random strength, so some
    /// seeds have many crashes and no loss, others the reverse.
    pub fn swarm(rng: &mut Rng) -> Self {
        let mut pick = |on: f64, lo: f64, hi: f64| if rng.chance(on) { rng.range_f64(lo, hi) } else { 0.0 };
        let loss = pick(0.6, 0.005, 0.15);
        let duplicate = pick(0.5, 0.005, 0.1);
        let reorder = pick(0.6, 0.01, 0.3);
        let partition = pick(0.6, 0.0005, 0.01);
        let crash = pick(0.6, 0.0002, 0.003);
        let torn_write = pick(0.7, 0.2, 0.9);
        let clock_skew = pick(0.5, 0.2, 0.8);
        let propose = rng.range_f64(0.05, 0.8);
        let latency_ticks_max = 1 + rng.below(4);
        let storage_delay_ticks_max = rng.below(4);
        // Drawn last, so the other rates of a seed stay what they were before transfers existed.
        let transfer = if rng.chance(0.5) { rng.range_f64(0.0005, 0.004) } else { 0.0 };
        let reconfig = if rng.chance(0.5) { rng.range_f64(0.001, 0.006) } else { 0.0 };
        let replay = if rng.chance(0.6) { rng.range_f64(0.02, 0.5) } else { 0.0 };
        let forge = if rng.chance(0.3) { rng.range_f64(0.001, 0.01) } else { 0.0 };
        let compact = if rng.chance(0.3) { rng.range_f64(0.002, 0.02) } else { 0.0 };
        // Now and then a slow disk: votes and promises lag what a node holds in memory, and
        // an election can pick a candidate that a promiser's history has overtaken since.
        let storage_delay_ticks_max = if rng.chance(0.2) { 5 + rng.below(40) } else { storage_delay_ticks_max };
        FaultRates {
            loss,
            duplicate,
            reorder,
            latency_ticks_max,
            partition,
            crash,
            torn_write,
            storage_delay_ticks_max,
            clock_skew,
            propose,
            transfer,
            reconfig,
            replay,
            forge,
            compact,
        }
    }
}

/// Shapes of network partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Two groups that cannot hear each other.
    Symmetric,
    /// One group hears the other, but not the reverse.
    Asymmetric,
    /// One hub hears and is heard by all; the others hear only the hub (OmniPaxos "quorum loss").
    QuorumLoss,
    /// A node is cut off from all but one other (OmniPaxos "constrained election").
    Constrained,
    /// Each node hears only its neighbours in a chain (OmniPaxos "chained").
    Chained,
}

impl Shape {
    /// Whether the shape is one of the partial-connectivity ones.
    pub fn partial(self) -> bool {
        matches!(self, Shape::QuorumLoss | Shape::Constrained | Shape::Chained)
    }
}

/// Which directed links carry messages. `links[from][to]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Links {
    open: Vec<Vec<bool>>,
}

impl Links {
    /// Every link open.
    pub fn healed(n: usize) -> Self {
        Links { open: vec![vec![true; n]; n] }
    }

    /// Whether `from` can reach `to` (indexes, not ids).
    pub fn open(&self, from: usize, to: usize) -> bool {
        self.open.get(from).and_then(|row| row.get(to)).copied().unwrap_or(false)
    }

    /// Opens or closes one direction.
    pub fn set(&mut self, from: usize, to: usize, open: bool) {
        if let Some(slot) = self.open.get_mut(from).and_then(|row| row.get_mut(to)) {
            *slot = open;
        }
    }

    /// Whether every link is open.
    pub fn is_healed(&self) -> bool {
        self.open.iter().all(|row| row.iter().all(|v| *v))
    }

    /// A partition of the given shape over `n` nodes; `focus` is the node to isolate
    /// for the constrained shape (usually the leader).
    pub fn shaped(shape: Shape, n: usize, focus: usize, rng: &mut Rng) -> Self {
        let mut links = Links::healed(n);
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        match shape {
            Shape::Symmetric | Shape::Asymmetric => {
                let cut = 1 + rng.below(n.saturating_sub(1).max(1) as u64) as usize;
                let (a, b) = order.split_at(cut.min(n));
                for &x in a {
                    for &y in b {
                        links.set(y, x, false);
                        if shape == Shape::Symmetric {
                            links.set(x, y, false);
                        }
                    }
                }
            }
            Shape::QuorumLoss => {
                let hub = order[0];
                for x in 0..n {
                    for y in 0..n {
                        if x != y && x != hub && y != hub {
                            links.set(x, y, false);
                        }
                    }
                }
            }
            Shape::Constrained => {
                let friend = order.iter().copied().find(|&x| x != focus).unwrap_or(focus);
                for x in 0..n {
                    if x != focus && x != friend {
                        links.set(x, focus, false);
                        links.set(focus, x, false);
                    }
                }
            }
            Shape::Chained => {
                for (i, &x) in order.iter().enumerate() {
                    for (j, &y) in order.iter().enumerate() {
                        if i.abs_diff(j) > 1 {
                            links.set(x, y, false);
                        }
                    }
                }
            }
        }
        links
    }
}
