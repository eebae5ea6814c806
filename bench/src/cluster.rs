//! What every engine offers the harness, and the pieces the harness shares between them.

/// Entries are 16 bytes: a sequence number (little-endian u64) and its complement, so that
/// every payload is distinct and a node's applied log can be checked against what was proposed.
pub const ENTRY_BYTES: usize = 16;

/// The payload proposed with sequence number `seq` (numbered from 1).
#[inline]
pub fn payload(seq: u64) -> [u8; ENTRY_BYTES] {
    let mut p = [0u8; ENTRY_BYTES];
    p[..8].copy_from_slice(&seq.to_le_bytes());
    p[8..].copy_from_slice(&(!seq).to_le_bytes());
    p
}

/// The sequence number a payload carries (0 for anything that is not one of ours).
#[inline]
pub fn seq_of(payload: &[u8]) -> u64 {
    match payload.get(..ENTRY_BYTES) {
        Some(p) if payload.len() == ENTRY_BYTES => {
            let seq = u64::from_le_bytes(p[..8].try_into().unwrap_or([0; 8]));
            let check = u64::from_le_bytes(p[8..].try_into().unwrap_or([0; 8]));
            if check == !seq { seq } else { 0 }
        }
        _ => 0,
    }
}

/// What one node applied: a count, an order-sensitive hash, and (optionally) the sequence numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Entries applied.
    pub count: u64,
    /// Order-sensitive hash of the sequence numbers applied.
    pub hash: u64,
    /// Highest sequence number applied.
    pub max_seq: u64,
    /// Every sequence number, in order, when the run keeps them (scenarios, tests).
    pub log: Option<Vec<u64>>,
}

impl Applied {
    /// An empty record; `keep` keeps every sequence number too.
    pub fn new(keep: bool) -> Self {
        Applied { log: keep.then(Vec::new), ..Default::default() }
    }

    /// Records one applied payload.
    #[inline]
    pub fn push(&mut self, payload: &[u8]) {
        let seq = seq_of(payload);
        self.count += 1;
        self.hash = mix(self.hash, seq);
        self.max_seq = self.max_seq.max(seq);
        if let Some(log) = &mut self.log {
            log.push(seq);
        }
    }

    /// The hash of applying sequence numbers `1..=n` in order.
    pub fn expected_hash(n: u64) -> u64 {
        (1..=n).fold(0, mix)
    }
}

#[inline]
fn mix(h: u64, seq: u64) -> u64 {
    (h.rotate_left(7) ^ seq).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Which links are up: `up(from, to)` for node indexes (0-based). A crashed node has every link down.
#[derive(Clone, Debug)]
pub struct Links {
    n: usize,
    up: Vec<bool>,
}

impl Links {
    /// Every link up.
    pub fn full(n: usize) -> Self {
        Links { n, up: vec![true; n * n] }
    }

    /// Whether a message from `from` reaches `to`.
    #[inline]
    pub fn up(&self, from: usize, to: usize) -> bool {
        self.up[from * self.n + to]
    }

    /// Sets both directions of the link between `a` and `b`.
    pub fn set(&mut self, a: usize, b: usize, up: bool) {
        self.up[a * self.n + b] = up;
        self.up[b * self.n + a] = up;
    }

    /// Cuts every link of `a` (a crash, as far as the others can tell).
    pub fn isolate(&mut self, a: usize) {
        for b in 0..self.n {
            if b != a {
                self.set(a, b, false);
            }
        }
    }

    /// Only the listed links (pairs of node indexes) are up.
    pub fn only(n: usize, pairs: &[(usize, usize)]) -> Self {
        let mut links = Links { n, up: vec![false; n * n] };
        for i in 0..n {
            links.up[i * n + i] = true;
        }
        for &(a, b) in pairs {
            links.set(a, b, true);
        }
        links
    }
}

/// Settings shared by every engine, so that they run the same workload under the same timing.
#[derive(Clone, Debug)]
pub struct Params {
    /// Cluster size.
    pub nodes: usize,
    /// Entries the run will commit (sizes storages).
    pub entries: u64,
    /// Proposals in flight at the leader.
    pub window: usize,
    /// Seed (zaxos's election jitter; OmniPaxos has none; raft-rs draws its own).
    pub seed: u64,
    /// Election timeout in ticks (zaxos and raft-rs randomise it in `[T, 2T)`; OmniPaxos runs
    /// a heartbeat round every `T` ticks).
    pub election_ticks: u32,
    /// Leader heartbeat interval in ticks (zaxos, raft-rs).
    pub heartbeat_ticks: u32,
    /// Keep every applied sequence number (scenarios and tests); throughput keeps a hash only.
    pub keep_logs: bool,
    /// Propose one entry per call (`Cluster::propose`) even where the engine takes a batch.
    pub singly: bool,
}

impl Params {
    /// The throughput configuration for `nodes` nodes, `entries` entries and window `window`.
    pub fn throughput(nodes: usize, entries: u64, window: usize) -> Self {
        Params { nodes, entries, window, seed: 1, election_ticks: 10, heartbeat_ticks: 2, keep_logs: false, singly: false }
    }
}

/// An engine's cluster, driven by the harness.
pub trait Cluster {
    /// The engine's name in tables and JSON.
    const NAME: &'static str;
    /// Whether the bytes on the wire can be counted.
    const COUNTS_BYTES: bool;

    /// A fresh cluster of `params.nodes` nodes.
    fn new(params: &Params) -> Self
    where
        Self: Sized;

    /// Advances logical time by one tick at node `i`.
    fn tick(&mut self, i: usize);

    /// Delivers every queued message whose link is up and drops the others; returns how many
    /// were delivered.
    fn deliver(&mut self, links: &Links) -> usize;

    /// Runs node `i`'s host loop once: persist, send, apply.
    fn drain(&mut self, i: usize);

    /// Proposes at node `i`; false if it refused (not leader, busy).
    fn propose(&mut self, i: usize, payload: &[u8; ENTRY_BYTES]) -> bool;

    /// Proposes the payloads of sequence numbers `first..first + count` at node `i`, in
    /// order: one call where the engine has a batch proposal, one `propose` each where it
    /// has not. False if any was refused.
    fn propose_run(&mut self, i: usize, first: u64, count: u64) -> bool {
        self.propose_each(i, first, count)
    }

    /// As `propose_run`, one `propose` per payload whatever the engine offers.
    fn propose_each(&mut self, i: usize, first: u64, count: u64) -> bool {
        (first..first + count).all(|seq| self.propose(i, &payload(seq)))
    }

    /// Whether node `i` leads and accepts proposals.
    fn is_leader(&self, i: usize) -> bool;

    /// What node `i` applied.
    fn applied(&self, i: usize) -> &Applied;

    /// Messages sent so far (every message put on the wire, delivered or not).
    fn messages(&self) -> u64;

    /// Bytes sent so far (0 if the engine cannot tell).
    fn bytes(&self) -> u64;

    /// Node `i`'s role and epoch or term, for the failover timeline (`BENCH_TIMELINE=1`);
    /// empty if the engine does not say.
    fn describe(&self, _i: usize) -> String {
        String::new()
    }

    /// Forgets a crashed node's volatile state: drops queued messages to and from it. (Crashed
    /// nodes are simply no longer ticked nor drained; the harness never restarts them.)
    fn crash(&mut self, _i: usize) {}
}
