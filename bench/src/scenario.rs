//! The workloads, written once for every engine.

use std::time::Instant;

use crate::cluster::{payload, Applied, Cluster, Links, Params};

/// Rounds between ticks while the throughput load runs. A tick is the engines' unit of
/// logical time (heartbeats, timers); a round is one delivery of everything in flight. At a few
/// million entries a second even a 1 ms tick spans thousands of rounds, so heartbeats stay a
/// rounding error in messages per entry, as they would on a real network.
pub const ROUNDS_PER_TICK: u64 = 1024;
/// Rounds allowed per tick while a scenario runs: messages take much less than a tick.
const ROUNDS_PER_TICK_MAX: usize = 64;

/// A driven cluster: the engine, its links and who is alive.
pub struct Harness<C: Cluster> {
    /// The engine.
    pub cluster: C,
    /// Which links are up.
    pub links: Links,
    /// Nodes not crashed.
    pub live: Vec<bool>,
    /// Ticks so far.
    pub ticks: u64,
}

impl<C: Cluster> Harness<C> {
    /// A fully connected cluster.
    pub fn new(params: &Params) -> Self {
        Harness { cluster: C::new(params), links: Links::full(params.nodes), live: vec![true; params.nodes], ticks: 0 }
    }

    /// One round: deliver everything queued, then run every live node's host loop.
    #[inline]
    pub fn round(&mut self) -> usize {
        let delivered = self.cluster.deliver(&self.links);
        self.drain_all();
        delivered
    }

    fn drain_all(&mut self) {
        for i in 0..self.live.len() {
            if self.live[i] {
                self.cluster.drain(i);
            }
        }
    }

    /// One tick at every live node, then rounds until the network is quiet.
    pub fn tick(&mut self) {
        self.ticks += 1;
        for i in 0..self.live.len() {
            if self.live[i] {
                self.cluster.tick(i);
            }
        }
        self.drain_all();
        for _ in 0..ROUNDS_PER_TICK_MAX {
            if self.round() == 0 {
                break;
            }
        }
    }

    /// The live nodes that lead and accept proposals.
    pub fn leaders(&self) -> Vec<usize> {
        (0..self.live.len()).filter(|&i| self.live[i] && self.cluster.is_leader(i)).collect()
    }

    /// Ticks until exactly one live node leads; its index.
    pub fn elect(&mut self, ticks_max: u64) -> Option<usize> {
        for _ in 0..ticks_max {
            self.tick();
            if let [leader] = self.leaders()[..] {
                return Some(leader);
            }
        }
        None
    }

    /// Crashes node `i`: no more ticks or host loops, every link down.
    pub fn crash(&mut self, i: usize) {
        self.live[i] = false;
        self.links.isolate(i);
        self.cluster.crash(i);
    }
}

/// What a throughput run measured.
#[derive(Clone, Debug)]
pub struct Throughput {
    /// Engine name.
    pub engine: &'static str,
    /// Cluster size.
    pub nodes: usize,
    /// Proposals in flight.
    pub window: usize,
    /// Entries committed and applied by every node.
    pub entries: u64,
    /// Seconds of the load phase.
    pub secs: f64,
    /// Messages sent during the load phase.
    pub messages: u64,
    /// Bytes sent during the load phase (0 if not countable).
    pub bytes: u64,
    /// Rounds of the load phase.
    pub rounds: u64,
}

impl Throughput {
    /// Entries per second.
    pub fn entries_per_s(&self) -> f64 {
        self.entries as f64 / self.secs.max(1e-9)
    }

    /// Messages per entry.
    pub fn msgs_per_entry(&self) -> f64 {
        self.messages as f64 / self.entries.max(1) as f64
    }
}

/// Why a run failed.
#[derive(Clone, Debug)]
pub struct RunError(pub String);

/// Elects a leader, then keeps `window` proposals in flight at it (refilled as the leader
/// applies) until every node applied `entries`; checks that every node applied exactly the
/// proposed sequence.
pub fn throughput<C: Cluster>(params: &Params) -> Result<Throughput, RunError> {
    let mut h = Harness::<C>::new(params);
    let leader = h.elect(1000).ok_or_else(|| RunError(format!("{}: no leader after 1000 ticks", C::NAME)))?;
    // Let the new leader's first entries (raft's empty entry, zaxos's sync) settle.
    for _ in 0..4 {
        h.tick();
    }
    if h.leaders() != [leader] {
        return Err(RunError(format!("{}: leadership moved before the load started", C::NAME)));
    }
    let base = (0..params.nodes).map(|i| h.cluster.applied(i).count).collect::<Vec<_>>();
    if base.iter().any(|&c| c != 0) {
        return Err(RunError(format!("{}: entries applied before any proposal", C::NAME)));
    }
    let (messages0, bytes0) = (h.cluster.messages(), h.cluster.bytes());
    let start = Instant::now();
    let rounds = load(&mut h, leader, params.entries, params.window, params.singly)?;
    let secs = start.elapsed().as_secs_f64();
    let messages = h.cluster.messages() - messages0;
    let bytes = h.cluster.bytes() - bytes0;
    check_applied(&h.cluster, params.nodes, params.entries)?;
    Ok(Throughput { engine: C::NAME, nodes: params.nodes, window: params.window, entries: params.entries, secs, messages, bytes, rounds })
}

/// The measured loop. Not inlined, so that a profile shows it as one frame.
#[inline(never)]
pub fn load<C: Cluster>(h: &mut Harness<C>, leader: usize, entries: u64, window: usize, singly: bool) -> Result<u64, RunError> {
    let n = h.live.len();
    let mut proposed = 0u64;
    let mut rounds = 0u64;
    let mut idle = 0u32;
    loop {
        let delivered = h.cluster.deliver(&h.links);
        // Top up the window at the leader: proposals not yet applied there.
        let in_flight = proposed - h.cluster.applied(leader).count;
        let room = (window as u64).saturating_sub(in_flight).min(entries - proposed);
        if room > 0 {
            let first = proposed + 1;
            let taken = if singly { h.cluster.propose_each(leader, first, room) } else { h.cluster.propose_run(leader, first, room) };
            if !taken {
                return Err(RunError(format!("{}: the leader refused proposals {}..={}", C::NAME, proposed + 1, proposed + room)));
            }
            proposed += room;
        }
        h.drain_all();
        rounds += 1;
        if rounds % ROUNDS_PER_TICK == 0 {
            h.ticks += 1;
            for i in 0..n {
                h.cluster.tick(i);
            }
        }
        if (0..n).all(|i| h.cluster.applied(i).count >= entries) {
            return Ok(rounds);
        }
        // A stuck run fails instead of spinning: nothing delivered for many rounds.
        idle = if delivered == 0 { idle + 1 } else { 0 };
        if idle > 10_000 {
            return Err(RunError(format!("{}: stalled at {} of {} proposals", C::NAME, proposed, entries)));
        }
    }
}

/// Every node applied `1..=entries` in order, and nothing else.
pub fn check_applied<C: Cluster>(cluster: &C, nodes: usize, entries: u64) -> Result<(), RunError> {
    let want = Applied::expected_hash(entries);
    for i in 0..nodes {
        let a = cluster.applied(i);
        if a.count != entries || a.hash != want {
            return Err(RunError(format!("{}: node {} applied {} entries (hash {:x}), expected {} (hash {:x})", C::NAME, i + 1, a.count, a.hash, entries, want)));
        }
    }
    Ok(())
}

/// Whether the applied logs of `nodes` agree: each is a prefix of the longest.
pub fn logs_agree<C: Cluster>(cluster: &C, nodes: &[usize]) -> bool {
    let logs: Vec<&Vec<u64>> = nodes.iter().filter_map(|&i| cluster.applied(i).log.as_ref()).collect();
    let Some(longest) = logs.iter().max_by_key(|l| l.len()) else { return true };
    logs.iter().all(|l| longest.starts_with(l))
}

/// A client that proposes one entry per tick at whichever live node leads.
pub struct Client {
    next: u64,
}

impl Client {
    /// Numbers proposals from `first`.
    pub fn new(first: u64) -> Self {
        Client { next: first }
    }

    /// Proposes at every live node that thinks it leads (a stale leader takes it too, as a
    /// real client that cannot tell would). Returns the sequence numbers proposed.
    pub fn propose<C: Cluster>(&mut self, h: &mut Harness<C>) {
        for i in h.leaders() {
            if h.cluster.propose(i, &payload(self.next)) {
                self.next += 1;
            }
        }
    }
}

/// Failover: the ticks from a leader crash to the first commit of an entry proposed after it.
#[derive(Clone, Debug)]
pub struct Failover {
    /// Ticks from the crash to the first commit (None: not within the limit).
    pub ticks: Option<u64>,
    /// Applied logs agree on every live node.
    pub agree: bool,
}

/// Elects, commits under a steady load, crashes the leader, and counts ticks until an entry
/// proposed after the crash is applied by some live node.
pub fn failover<C: Cluster>(params: &Params, ticks_max: u64) -> Result<Failover, RunError> {
    let mut h = Harness::<C>::new(params);
    let leader = h.elect(1000).ok_or_else(|| RunError(format!("{}: no leader", C::NAME)))?;
    let mut client = Client::new(1);
    for _ in 0..50 {
        client.propose(&mut h);
        h.tick();
    }
    if h.cluster.applied(leader).count == 0 {
        return Err(RunError(format!("{}: nothing committed before the crash", C::NAME)));
    }
    h.crash(leader);
    let first_after = client.next;
    let live: Vec<usize> = (0..params.nodes).filter(|&i| h.live[i]).collect();
    // Where the ticks go: each live node's role whenever one changes (BENCH_TIMELINE=1).
    let timeline = std::env::var_os("BENCH_TIMELINE").is_some();
    let mut roles: Vec<String> = live.iter().map(|&i| h.cluster.describe(i)).collect();
    for t in 1..=ticks_max {
        client.propose(&mut h);
        h.tick();
        let now: Vec<String> = live.iter().map(|&i| h.cluster.describe(i)).collect();
        if timeline && now != roles {
            eprintln!("{} t={t} {}", C::NAME, now.join(" | "));
            roles = now;
        }
        if live.iter().any(|&i| h.cluster.applied(i).max_seq >= first_after) {
            return Ok(Failover { ticks: Some(t), agree: logs_agree(&h.cluster, &live) });
        }
    }
    Ok(Failover { ticks: None, agree: logs_agree(&h.cluster, &live) })
}

/// The partial-connectivity scenarios of the OmniPaxos paper (Ng, Haridi, Carbone, EuroSys 2023).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partial {
    /// 5 nodes; the leader keeps a link to one node only, which alone is connected to all.
    QuorumLoss,
    /// 5 nodes; the leader is cut off; the one node connected to all has a stale log.
    ConstrainedElection,
    /// 3 nodes in a chain: the leader and one follower lose the link between them.
    Chained,
}

impl Partial {
    /// Every scenario.
    pub const ALL: [Partial; 3] = [Partial::QuorumLoss, Partial::ConstrainedElection, Partial::Chained];

    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Partial::QuorumLoss => "quorum-loss",
            Partial::ConstrainedElection => "constrained election",
            Partial::Chained => "chained",
        }
    }

    /// Cluster size.
    pub fn nodes(self) -> usize {
        match self {
            Partial::Chained => 3,
            _ => 5,
        }
    }
}

/// What a partial-connectivity run saw.
#[derive(Clone, Debug)]
pub struct PartialOutcome {
    /// Ticks from the partition to the first commit of an entry proposed after it.
    pub first_commit_ticks: Option<u64>,
    /// Entries proposed after the partition and committed within the run.
    pub committed: u64,
    /// Times the set of leaders changed after the partition.
    pub leader_changes: u64,
    /// Applied logs agree on every node.
    pub agree: bool,
}

/// Runs `scenario` for `ticks` ticks after the partition, with a client proposing each tick.
pub fn partial<C: Cluster>(scenario: Partial, params: &Params, ticks: u64) -> Result<PartialOutcome, RunError> {
    let n = scenario.nodes();
    let params = Params { nodes: n, keep_logs: true, ..params.clone() };
    let mut h = Harness::<C>::new(&params);
    let leader = h.elect(1000).ok_or_else(|| RunError(format!("{}: no leader", C::NAME)))?;
    let mut client = Client::new(1);
    for _ in 0..20 {
        client.propose(&mut h);
        h.tick();
    }
    // Name the others relative to the leader: a = leader, then b, c, d, e.
    let others: Vec<usize> = (0..n).filter(|&i| i != leader).collect();
    let a = leader;
    match scenario {
        Partial::QuorumLoss => {
            // c is the hub: the only node connected to everyone.
            let c = others[1];
            let pairs: Vec<(usize, usize)> = (0..n).filter(|&i| i != c).map(|i| (i, c)).collect();
            h.links = Links::only(n, &pairs);
        }
        Partial::ConstrainedElection => {
            // First b falls behind: cut b from the leader while the load goes on.
            let b = others[0];
            h.links.set(a, b, false);
            for _ in 0..20 {
                client.propose(&mut h);
                h.tick();
            }
            // Then the leader is cut off, and b (stale) is the only node connected to all others.
            let pairs: Vec<(usize, usize)> = others.iter().filter(|&&i| i != b).map(|&i| (i, b)).collect();
            h.links = Links::only(n, &pairs);
        }
        Partial::Chained => {
            // a - b - c: the leader loses its link to c only.
            let c = others[1];
            h.links.set(a, c, false);
        }
    }
    let first_after = client.next;
    let mut first_commit = None;
    let mut leaders = h.leaders();
    let mut changes = 0;
    for t in 1..=ticks {
        client.propose(&mut h);
        h.tick();
        let now = h.leaders();
        if now != leaders {
            changes += 1;
            leaders = now;
        }
        if first_commit.is_none() && (0..n).any(|i| h.cluster.applied(i).max_seq >= first_after) {
            first_commit = Some(t);
        }
    }
    let committed = (0..n)
        .filter_map(|i| h.cluster.applied(i).log.as_ref())
        .map(|log| log.iter().filter(|&&s| s >= first_after).count() as u64)
        .max()
        .unwrap_or(0);
    let all: Vec<usize> = (0..n).collect();
    Ok(PartialOutcome { first_commit_ticks: first_commit, committed, leader_changes: changes, agree: logs_agree(&h.cluster, &all) })
}
