//! A deterministic cluster simulator (feature `sim`): one seed decides the
//! network, the disks, the clocks, the client load and every fault. Invariants
//! are checked after every input to every node; each run ends with a phase
//! without faults in which the cluster must elect a leader and commit again.
//!
//! ```
//! use zaxos::sim::{Options, Simulation};
//! let mut sim = Simulation::new(Options { seed: 3, ticks: 3_000, ..Options::default() });
//! let report = sim.run();
//! assert!(report.violations.is_empty() && report.liveness_ok, "{report:?}");
//! ```

mod adversary;
mod checker;
mod disk;
mod faults;
mod machine;
mod promises;
mod rng;
mod trace;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

pub use checker::{hash_bytes, Checker, Violation};
pub use disk::Disk;
pub use faults::{FaultRates, Links, Shape};
pub use machine::{LogHash, StateMachine};
pub use rng::Rng;

use crate::config::Bugs;
use crate::storage::{Storage, VecStorage};
use crate::{Apply, Config, Event, Membership, MembershipChange, Node, NodeId, ReadKind, Role, Zxid};

/// The node type the simulator runs.
pub type SimNode = Node<VecStorage, 4096>;

/// What a run is made of.
#[derive(Clone, Debug)]
pub struct Options {
    /// The seed that decides everything.
    pub seed: u64,
    /// Ticks of the faulty phase.
    pub ticks: u64,
    /// Voters (ids 1..=voters).
    pub voters: usize,
    /// Observers (ids after the voters).
    pub observers: usize,
    /// Fault rates; `None` draws them from the seed (swarm testing).
    pub faults: Option<FaultRates>,
    /// Election timeout of every node, in ticks.
    pub election_timeout_ticks: u32,
    /// Liveness bound: after faults stop, a commit on every node within this many election timeouts.
    pub liveness_timeouts: u64,
    /// Compact (snapshot) every node's history when it is this many entries long (0: never).
    pub compact_every: u64,
    /// Record a readable trace.
    pub trace: bool,
    /// Deliberate kernel bugs (for the checker's own tests).
    pub bugs: Bugs,
    /// Spare nodes, outside the membership until a change adds them (ids after the
    /// observers); `None` draws one or two when the seed's rates change memberships.
    pub spares: Option<usize>,
    /// Half the proposals go in as batches (`Node::propose_batch`) of up to 32 payloads of
    /// `StateMachine::workload_batch`. Off by default, so that seeds replay as they always did.
    /// With it, a seed that does not compact compacts every `BATCH_COMPACT_EVERY` entries.
    pub batch_proposals: bool,
    /// The zxid counter's limit on every node (a new epoch starts when it is reached);
    /// `None`: the default, or, when the fault rates are drawn from the seed, a small one
    /// for a quarter of the seeds, so epochs roll over and batches meet the boundary.
    pub zxid_counter_max: Option<u32>,
}

impl Options {
    /// The options `zaxos-sim` uses for `seed`: everything drawn from the seed, and a
    /// third of the seeds compacting often so that SNAP sync runs.
    pub fn for_seed(seed: u64, ticks: u64) -> Self {
        let compact_every = if seed % 3 == 0 { 40 } else { 0 };
        Options { seed, ticks, compact_every, ..Options::default() }
    }
}

/// How often a seed with batch proposals compacts when it would not otherwise (entries).
pub const BATCH_COMPACT_EVERY: u64 = 1_000;

impl Default for Options {
    fn default() -> Self {
        Options { seed: 0, ticks: 20_000, voters: 0, observers: 0, faults: None, election_timeout_ticks: 10, liveness_timeouts: 20, compact_every: 0, trace: false, bugs: Bugs::default(), spares: None, batch_proposals: false, zxid_counter_max: None }
    }
}

/// Faults actually injected, by class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FaultCounts {
    /// Messages lost.
    pub loss: u64,
    /// Messages duplicated.
    pub duplicate: u64,
    /// Messages delivered after a later one.
    pub reorder: u64,
    /// Symmetric or asymmetric partitions.
    pub partition: u64,
    /// Partial-connectivity partitions.
    pub partial_connectivity: u64,
    /// Crashes.
    pub crash: u64,
    /// Crashes that kept part of what was in flight (a prefix of the calls, cut anywhere).
    pub torn_write: u64,
    /// Nodes whose clock runs at another rate.
    pub clock_skew: u64,
    /// Messages sent at some earlier time delivered again.
    pub replay: u64,
    /// Messages with a field made implausible.
    pub forge: u64,
    /// Snapshots taken by a host at a random moment.
    pub compact: u64,
}

/// The outcome of one seed.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Ticks run (both phases).
    pub ticks: u64,
    /// Safety violations (a run stops at the first).
    pub violations: Vec<Violation>,
    /// Whether the fault-free phase elected a leader and committed on every node in time.
    pub liveness_ok: bool,
    /// Ticks the fault-free phase took to commit everywhere.
    pub recovery_ticks: u64,
    /// Epochs established.
    pub elections: u64,
    /// Entries committed (highest position applied anywhere).
    pub committed: u64,
    /// Faults injected.
    pub faults: FaultCounts,
    /// Messages delivered.
    pub messages: u64,
    /// Fault rates of this seed.
    pub rates: Option<FaultRates>,
    /// A hash of the committed log (position, zxid, payload), equal on every target.
    pub log_hash: u64,
    /// Reads served and checked.
    pub reads: ReadCounts,
    /// Leadership transfers completed (the named node led a new epoch).
    pub transfers: u64,
    /// Membership changes committed.
    pub reconfigs: u64,
}

/// Reads served (and checked), by guarantee.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadCounts {
    /// Linearizable reads.
    pub linearizable: u64,
    /// Sync reads.
    pub sync: u64,
}

struct Member<M> {
    id: NodeId,
    /// A member of the first configuration (the others are spares, added at run time).
    original: bool,
    node: Option<SimNode>,
    disk: Disk,
    /// Ticks owed by the clock-rate accumulator, in 1/1000 of a tick.
    clock_milli: u64,
    rate_milli: u64,
    down_until: u64,
    last_commit: u64,
    applied: Vec<(u64, Zxid)>,
    last_applied: Zxid,
    machine: M,
    starts: u64,
    /// Reads asked and not answered: id → (kind, last entry applied anywhere when asked).
    reads: BTreeMap<u32, (ReadKind, Zxid)>,
}

struct Packet {
    deliver_at: u64,
    order: u64,
    from: usize,
    to: usize,
    bytes: Sent,
}

/// A message as it travels: nodes at even indexes send bytes, the others values, so both
/// paths run under every fault (they send the same messages; the tests check that).
#[derive(Clone)]
enum Sent {
    Bytes(Vec<u8>),
    Value(NodeId, crate::wire::MessageBuf),
}

/// The cluster id every simulated node uses.
const SIM_CLUSTER: u32 = 0x5a58;

impl Sent {
    /// The message as a value (decoded for bytes), for `f` to look at.
    fn with_message<R>(&self, to: NodeId, f: impl FnOnce(&crate::wire::Message<'_>) -> R) -> Option<R> {
        match self {
            Sent::Bytes(bytes) => crate::wire::decode(bytes, SIM_CLUSTER, to, bytes.len()).ok().map(|(_, m)| f(&m)),
            Sent::Value(_, m) => Some(f(&m.message())),
        }
    }

    /// The message's kind (see `Message::kind`).
    fn kind(&self, to: NodeId) -> Option<String> {
        self.with_message(to, |m| String::from(m.kind()))
    }

    fn describe(&self, to: NodeId) -> String {
        match self {
            Sent::Bytes(bytes) => trace::describe(bytes, to),
            Sent::Value(from, m) => {
                let mut buf = vec![0u8; crate::wire::encoded_len(&m.message())];
                let header = crate::wire::Header { cluster_id: SIM_CLUSTER, from: *from, to };
                let len = crate::wire::encode(header, &m.message(), &mut buf).unwrap_or(0);
                trace::describe(&buf[..len], to)
            }
        }
    }
}

/// A simulated cluster whose nodes apply committed entries to an `M`.
pub struct Simulation<M: StateMachine = LogHash> {
    options: Options,
    rates: FaultRates,
    rng: Rng,
    members: Vec<Member<M>>,
    links: Links,
    partition_until: u64,
    network: BTreeMap<(u64, u64), Packet>,
    order: u64,
    now: u64,
    checker: Checker,
    faults: FaultCounts,
    messages: u64,
    proposals: u64,
    buf: Vec<u8>,
    trace: Vec<String>,
    events: Vec<(u64, NodeId, Event)>,
    faulty: bool,
    reads: ReadCounts,
    /// A transfer asked for: (target, epoch it was asked in).
    transfer: Option<(NodeId, u32)>,
    transfers: u64,
    /// The first membership, and every committed one by position.
    initial: Membership,
    memberships: BTreeMap<u64, Membership>,
    /// Nodes that were a voter in some membership proposed so far.
    /// (A short list: a B-tree of ids would be one more copy of the B-tree code in wasm.)
    ever_voters: Vec<NodeId>,
    /// Messages sent so far, a sample of them, for replay.
    archive: adversary::Archive<Sent>,
    /// Epochs whose leader was checked to hold every earlier committed entry.
    leaders_checked: Vec<u32>,
}

impl Simulation<LogHash> {
    /// A cluster for `options` applying entries to a running hash; sizes not given are drawn from the seed.
    pub fn new(options: Options) -> Self {
        Simulation::with_machine(options)
    }
}

impl<M: StateMachine> Simulation<M> {
    /// A cluster for `options` whose nodes apply committed entries to `M::new(id)`.
    pub fn with_machine(mut options: Options) -> Self {
        if options.batch_proposals && options.compact_every == 0 {
            // Batches grow the history about 16 times as fast: a host with that load takes
            // snapshots, and a learner cut off for thousands of ticks is sent one (SNAP)
            // rather than tens of thousands of entries by DIFF.
            options.compact_every = BATCH_COMPACT_EVERY;
        }
        let mut rng = Rng::new(options.seed);
        if options.voters == 0 {
            options.voters = [3, 3, 5, 5, 7][rng.below(5) as usize];
            if options.observers == 0 {
                options.observers = rng.below(3) as usize;
            }
        }
        // Keep every choice valid, whatever the host asked for.
        options.voters = options.voters.clamp(1, crate::limits::MEMBERS_MAX);
        options.observers = options.observers.min(crate::limits::MEMBERS_MAX - options.voters);
        options.election_timeout_ticks = options.election_timeout_ticks.max(3);
        let rates = options.faults.unwrap_or_else(|| FaultRates::swarm(&mut rng));
        if options.zxid_counter_max.is_none() && options.faults.is_none() && rng.chance(0.25) {
            options.zxid_counter_max = Some(8 + rng.below(120) as u32);
        }
        // Spare nodes, outside the configuration until a membership change adds them.
        let drawn = match options.spares {
            Some(spares) => spares,
            None if rates.reconfig > 0.0 => 1 + rng.below(2) as usize,
            None => 0,
        };
        let spares = drawn.min(crate::limits::MEMBERS_MAX - options.voters - options.observers);
        let members = options.voters + options.observers;
        let n = members + spares;
        let voters: Vec<NodeId> = (1..=options.voters as NodeId).collect();
        let observers: Vec<NodeId> = (options.voters as NodeId + 1..=members as NodeId).collect();
        let mut faults = FaultCounts::default();
        let members = (1..=n as NodeId)
            .map(|id| {
                let skewed = rng.chance(rates.clock_skew);
                faults.clock_skew += u64::from(skewed);
                let rate_milli = if skewed { 500 + rng.below(1001) } else { 1000 };
                Member {
                    id,
                    original: id as usize <= members,
                    node: None,
                    disk: Disk::default(),
                    clock_milli: 0,
                    rate_milli,
                    down_until: 0,
                    last_commit: 0,
                    applied: Vec::new(),
                    last_applied: Zxid::ZERO,
                    machine: M::new(id),
                    starts: 0,
                    reads: BTreeMap::new(),
                }
            })
            .collect();
        let mut sim = Simulation {
            links: Links::healed(n),
            options,
            rates,
            rng,
            members,
            partition_until: 0,
            network: BTreeMap::new(),
            order: 0,
            now: 0,
            checker: Checker::new(M::UNIQUE_PAYLOADS),
            faults,
            messages: 0,
            proposals: 0,
            buf: vec![0u8; 4096],
            trace: Vec::new(),
            events: Vec::new(),
            faulty: true,
            reads: ReadCounts::default(),
            transfer: None,
            transfers: 0,
            initial: Membership { voters: voters.iter().copied().collect(), observers: observers.iter().copied().collect() },
            memberships: BTreeMap::new(),
            ever_voters: voters.to_vec(),
            archive: adversary::Archive::new(),
            leaders_checked: Vec::new(),
        };
        for i in 0..n {
            sim.start_node(i);
        }
        sim
    }

    /// The membership committed last, as far as any node applied.
    fn membership(&self) -> &Membership {
        self.memberships.values().next_back().unwrap_or(&self.initial)
    }

    /// The configuration node `i` starts with: the first one for its members; for a spare,
    /// the current one with itself as an observer (how a joining node is started). The
    /// node itself recovers the membership its storage holds.
    fn start_membership(&self, i: usize) -> (Vec<NodeId>, Vec<NodeId>) {
        let Some(m) = self.members.get(i) else { return (Vec::new(), Vec::new()) };
        let base = if m.original { &self.initial } else { self.membership() };
        let voters: Vec<NodeId> = base.voters.iter().copied().collect();
        let mut observers: Vec<NodeId> = base.observers.iter().copied().collect();
        if !base.is_member(m.id) {
            observers.push(m.id);
        }
        (voters, observers)
    }

    fn config(&self, i: usize, voters: &[NodeId], observers: &[NodeId]) -> Option<Config> {
        let m = self.members.get(i)?;
        // Every start draws a fresh seed, as a real host would.
        let seed = self.options.seed.wrapping_mul(31).wrapping_add(u64::from(m.id)).wrapping_add(m.starts << 32);
        let mut config = Config::new(m.id, voters, observers).ok()?.seed(seed).cluster_id(SIM_CLUSTER).timeouts(self.options.election_timeout_ticks, 2).inflight_entries_max(256);
        config.bugs = self.options.bugs;
        if let Some(max) = self.options.zxid_counter_max {
            config.zxid_counter_max = max;
        }
        config.validate().ok()?;
        Some(config)
    }

    fn start_node(&mut self, i: usize) {
        let (voters, observers) = self.start_membership(i);
        // Options are clamped in `with_machine`, so the configuration is always valid.
        let Some(config) = self.config(i, &voters, &observers) else { return };
        let id = config.id;
        let mut storage = VecStorage::new(1 << 20, 64 << 20, 1 << 20);
        self.members[i].disk.load(&mut storage);
        self.members[i].disk.restarted();
        let Ok(node) = Node::new(config, storage) else { return };
        let m = &mut self.members[i];
        m.starts += 1;
        m.node = Some(node);
        m.last_commit = 0;
        m.applied.clear();
        m.last_applied = Zxid::ZERO;
        m.reads.clear();
        // A restarted host starts from nothing; the node hands it its snapshot first.
        m.machine = M::new(id);
        self.drain(i);
        if self.faulty && self.rates.replay > 0.0 {
            // Datagrams addressed to it from before (queued in the network while it was
            // down): old votes reach a node whose election round starts over.
            let count = 1 + self.rng.below(16) as usize;
            for (from, to, sent) in self.archive.pick_to(&mut self.rng, i, count) {
                self.faults.replay += 1;
                let delay = 1 + self.rng.below(3);
                self.enqueue(from, to, sent, delay);
            }
        }
    }

    /// Runs both phases and reports.
    pub fn run(&mut self) -> Report {
        while self.now < self.options.ticks && self.checker.violations.is_empty() {
            self.step();
        }
        let (liveness_ok, recovery_ticks) = if self.checker.violations.is_empty() { self.liveness_phase() } else { (false, 0) };
        self.report(liveness_ok, recovery_ticks)
    }

    /// One tick of the faulty phase.
    pub fn step(&mut self) {
        self.now += 1;
        if self.faulty {
            self.inject_faults();
        }
        let n = self.members.len();
        for i in 0..n {
            self.tick_node(i);
        }
        for i in 0..n {
            self.complete_writes(i);
        }
        self.deliver();
        if self.faulty && self.rng.chance(self.rates.replay) {
            self.replay_one();
        }
        if self.faulty && self.rng.chance(self.rates.compact) {
            let i = self.rng.below(n as u64) as usize;
            self.compact_now(i);
        }
        if self.rng.chance(self.rates.propose) {
            let i = self.rng.below(n as u64) as usize;
            self.propose_at(i);
        }
        if self.rng.chance(self.rates.propose / 2.0) {
            let i = self.rng.below(n as u64) as usize;
            let kind = if self.rng.chance(0.5) { ReadKind::Linearizable } else { ReadKind::Sync };
            self.read_at(i, kind);
        }
        if self.faulty && self.rng.chance(self.rates.transfer) {
            let to = self.rng.below(n as u64) as usize;
            self.transfer_to(to);
        }
        if self.faulty && self.rng.chance(self.rates.reconfig) {
            self.random_membership_change();
        }
        self.check_durable_majority();
    }

    fn inject_faults(&mut self) {
        let n = self.members.len();
        if self.now >= self.partition_until && !self.links.is_healed() {
            self.links = Links::healed(n);
            self.note(String::from("network healed"));
        }
        if self.links.is_healed() && self.rng.chance(self.rates.partition) {
            let shape = [Shape::Symmetric, Shape::Asymmetric, Shape::QuorumLoss, Shape::Constrained, Shape::Chained][self.rng.below(5) as usize];
            let focus = self.members.iter().position(|m| m.node.as_ref().is_some_and(|x| x.role() == Role::Leading)).unwrap_or(0);
            self.links = Links::shaped(shape, n, focus, &mut self.rng);
            self.partition_until = self.now + 20 + self.rng.below(300);
            if shape.partial() {
                self.faults.partial_connectivity += 1;
            } else {
                self.faults.partition += 1;
            }
            self.note(format!("partition {shape:?} until t={}", self.partition_until));
        }
        for i in 0..n {
            let m = &self.members[i];
            if m.node.is_none() && self.now >= m.down_until {
                self.note(format!("n{} restarts", m.id));
                self.start_node(i);
            } else if m.node.is_some() && self.rng.chance(self.rates.crash) {
                let down = 5 + self.rng.below(200);
                self.crash(i, down);
            }
        }
    }

    /// Crashes node `i` for `down_ticks`: it loses every write not yet durable.
    pub fn crash(&mut self, i: usize, down_ticks: u64) {
        let Some(m) = self.members.get_mut(i) else { return };
        if m.node.is_none() {
            return;
        }
        let torn = if self.rng.chance(self.rates.torn_write) { Some(self.rng.next_u64()) } else { None };
        m.node = None;
        m.down_until = self.now + down_ticks;
        let tore = m.disk.crash(torn);
        self.faults.crash += 1;
        self.faults.torn_write += u64::from(tore);
        let id = m.id;
        self.note(format!("n{id} crashes{}", if tore { " (torn write)" } else { "" }));
    }

    fn tick_node(&mut self, i: usize) {
        let m = &mut self.members[i];
        m.clock_milli += m.rate_milli;
        let ticks = m.clock_milli / 1000;
        m.clock_milli %= 1000;
        for _ in 0..ticks {
            if let Some(node) = self.members[i].node.as_mut() {
                node.tick();
                self.drain(i);
            }
        }
    }

    fn complete_writes(&mut self, i: usize) {
        let m = &mut self.members[i];
        if m.node.is_none() {
            return;
        }
        if let Some(seq) = m.disk.complete(self.now) {
            if let Some(node) = m.node.as_mut() {
                node.durable(seq);
            }
            self.drain(i);
        }
    }

    fn deliver(&mut self) {
        while let Some(entry) = self.network.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let packet = entry.remove();
            let Some(to_id) = self.members.get(packet.to).filter(|m| m.node.is_some()).map(|m| m.id) else { continue };
            if self.options.trace {
                let line = packet.bytes.describe(to_id);
                let _ = packet.from;
                self.trace.push(format!("t={} recv {}", self.now, line));
            }
            let Some(node) = self.members.get_mut(packet.to).and_then(|m| m.node.as_mut()) else { continue };
            let _ = match &packet.bytes {
                Sent::Bytes(bytes) => node.step(bytes),
                Sent::Value(from, m) => node.step_message(*from, &m.message()),
            };
            self.messages += 1;
            self.drain(packet.to);
        }
    }

    /// Asks node `i` for a read; the answer is checked when it comes: a linearizable read
    /// must see every entry applied anywhere before it was asked, and any read's point must
    /// be applied at the node when it is served.
    pub fn read_at(&mut self, i: usize, kind: ReadKind) -> bool {
        let floor = self.checker.committed.get(&self.checker.max_committed).map_or(Zxid::ZERO, |(z, _)| *z);
        let Some(m) = self.members.get_mut(i) else { return false };
        let Some(node) = m.node.as_mut() else { return false };
        let Ok(id) = node.read(kind) else { return false };
        m.reads.insert(id, (kind, floor));
        self.drain(i);
        true
    }

    /// Checks a read's event; `applied` is the last zxid the host had applied when it was raised.
    fn check_read(&mut self, i: usize, id: NodeId, event: &Event, applied: Zxid) {
        let now = self.now;
        match *event {
            Event::ReadReady { id: read, zxid } => {
                let m = &mut self.members[i];
                let Some((kind, floor)) = m.reads.remove(&read) else { return };
                match kind {
                    ReadKind::Linearizable => self.reads.linearizable += 1,
                    ReadKind::Sync => self.reads.sync += 1,
                }
                self.checker.read(now, id, kind == ReadKind::Linearizable, zxid, floor, applied);
            }
            Event::ReadFailed { id: read } => {
                self.members[i].reads.remove(&read);
            }
            _ => {}
        }
    }

    /// Asks the leader (if one is established) to hand leadership over to node `to`.
    pub fn transfer_to(&mut self, to: usize) -> bool {
        let Some(to_id) = self.members.get(to).map(|m| m.id) else { return false };
        matches!(self.transfer_leadership(to_id), Some(Ok(())))
    }

    /// Asks the established leader, if any, to hand leadership over to node id `to`;
    /// `None` without a leader.
    pub fn transfer_leadership(&mut self, to: NodeId) -> Option<Result<(), crate::TransferError>> {
        let l = self.members.iter().position(|m| m.node.as_ref().is_some_and(|n| n.is_established_leader()))?;
        let node = self.members[l].node.as_mut()?;
        let epoch = node.epoch();
        let result = node.transfer_leadership(to);
        if result.is_ok() {
            self.transfer = Some((to, epoch));
            self.note(format!("n{} hands leadership over to n{to}", self.members[l].id));
            self.drain(l);
        }
        Some(result)
    }

    /// Asks the leader (if one is established) for a random membership change: add a
    /// spare as an observer, promote an observer, demote or remove a voter (the leader too).
    pub fn random_membership_change(&mut self) -> bool {
        let Some(l) = self.members.iter().position(|m| m.node.as_ref().is_some_and(|n| n.is_established_leader())) else { return false };
        let ids: Vec<NodeId> = self.members.iter().map(|m| m.id).collect();
        let Some(config) = self.members[l].node.as_ref().map(|n| n.config().clone()) else { return false };
        let pick = |rng: &mut Rng, from: &[NodeId]| from.get(rng.below(from.len().max(1) as u64) as usize).copied();
        let outside: Vec<NodeId> = ids.iter().copied().filter(|id| !config.is_member(*id)).collect();
        let change = match self.rng.below(4) {
            0 => pick(&mut self.rng, &outside).map(MembershipChange::AddObserver),
            1 => pick(&mut self.rng, &config.observers).map(MembershipChange::PromoteToVoter),
            2 => pick(&mut self.rng, &config.voters).map(MembershipChange::DemoteToObserver),
            _ => pick(&mut self.rng, &ids).map(MembershipChange::Remove),
        };
        let Some(change) = change else { return false };
        matches!(self.change_membership(change), Some(Ok(_)))
    }

    /// Asks the established leader, if any, for a membership change; `None` without one.
    pub fn change_membership(&mut self, change: MembershipChange) -> Option<Result<Zxid, crate::MembershipError>> {
        let l = self.members.iter().position(|m| m.node.as_ref().is_some_and(|n| n.is_established_leader()))?;
        let node = self.members[l].node.as_mut()?;
        let result = node.change_membership(change);
        if let (Ok(_), Some(next)) = (result, node.pending_membership()) {
            for voter in next.voters.iter() {
                if !self.ever_voters.contains(voter) {
                    self.ever_voters.push(*voter);
                }
            }
        }
        if self.options.trace {
            let id = self.members[l].id;
            let voters = self.members[l].node.as_ref().and_then(|n| n.pending_membership()).map(|m| m.voters.to_vec());
            self.note(format!("n{id} proposes {change:?}: {}, voters then {voters:?}", if result.is_ok() { "taken" } else { "refused" }));
        }
        self.drain(l);
        Some(result)
    }

    /// Proposes a fresh payload at node `i` (forwarded if it does not lead).
    pub fn propose_at(&mut self, i: usize) -> bool {
        if self.options.batch_proposals && self.rng.chance(0.5) {
            return self.propose_batch_at(i);
        }
        let id = self.members.get(i).map_or(0, |m| m.id);
        let payload = M::workload(&mut self.rng, self.options.seed, id, self.proposals, self.now);
        let Some(node) = self.members.get_mut(i).and_then(|m| m.node.as_mut()) else { return false };
        let ok = node.propose(&payload).is_ok();
        self.proposals += u64::from(ok);
        self.drain(i);
        ok
    }

    /// Proposes up to 32 fresh payloads at node `i` in one call; true if any was taken.
    fn propose_batch_at(&mut self, i: usize) -> bool {
        let id = self.members.get(i).map_or(0, |m| m.id);
        let count = 1 + self.rng.below(32);
        let payloads = M::workload_batch(&mut self.rng, self.options.seed, id, self.proposals, self.now, count);
        let Some(node) = self.members.get_mut(i).and_then(|m| m.node.as_mut()) else { return false };
        let batch = node.propose_batch(&payloads);
        let taken = batch.map_or(0, |batch| batch.taken);
        if let Ok(crate::ProposedBatch { first: Some(crate::Proposed::Local(first)), .. }) = batch {
            // What was taken at the leader is in its history, in order, under consecutive
            // zxids; what was not taken is not.
            let storage = node.storage();
            let stored = (0..taken as u32).all(|k| {
                let zxid = Zxid::new(first.epoch, first.counter.wrapping_add(k));
                let entry = storage.index_of(zxid).and_then(|index| storage.payload_at(index)).map(crate::stored::decode);
                matches!(entry, Some(crate::stored::Stored::Command(p)) if Some(p) == payloads.get(k as usize).map(Vec::as_slice))
            });
            let next = Zxid::new(first.epoch, first.counter.wrapping_add(taken as u32));
            let beyond = storage.index_of(next).and_then(|index| storage.payload_at(index)).is_some();
            if !stored || beyond {
                let detail = format!("n{id} took {taken} of {} payloads from {first}; stored as taken: {stored}, more stored: {beyond}", payloads.len());
                self.checker.fail(self.now, "proposals are stored as taken", detail);
            }
        }
        self.proposals += taken as u64;
        self.drain(i);
        taken > 0
    }

    fn send(&mut self, from: usize, to: NodeId, bytes: &Sent) {
        let Some(to) = self.members.iter().position(|m| m.id == to) else { return };
        // Remembered as sent, whatever happens to it now: the network may deliver it again.
        self.archive.record(&mut self.rng, from, to, bytes);
        // Partitions hold whether random faults are on or not (manual cuts stay until healed).
        if !self.links.open(from, to) {
            return;
        }
        if self.faulty && self.rng.chance(self.rates.forge) {
            if let Some(forged) = self.forged(bytes, to) {
                self.faults.forge += 1;
                self.enqueue(from, to, forged, 1);
                return;
            }
        }
        let copies = if self.faulty && self.rng.chance(self.rates.loss) {
            self.faults.loss += 1;
            0
        } else if self.faulty && self.rng.chance(self.rates.duplicate) {
            self.faults.duplicate += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut delay = 1 + self.rng.below(self.rates.latency_ticks_max.max(1));
            if self.faulty && self.rng.chance(self.rates.reorder) {
                delay += 1 + self.rng.below(8);
                self.faults.reorder += 1;
            }
            self.enqueue(from, to, bytes.clone(), delay);
        }
    }

    /// Puts a message on the wire from node `from` to node `to`, due in `delay` ticks.
    fn enqueue(&mut self, from: usize, to: usize, bytes: Sent, delay: u64) {
        self.order += 1;
        let packet = Packet { deliver_at: self.now + delay, order: self.order, from, to, bytes };
        self.network.insert((packet.deliver_at, packet.order), packet);
    }

    /// The message with one field made implausible (see `adversary::forge`), if it has one.
    fn forged(&mut self, sent: &Sent, to: usize) -> Option<Sent> {
        let (to_id, accepted_epoch) = self.members.get(to).map(|m| (m.id, m.disk.hard.accepted_epoch))?;
        let mut scratch = Vec::new();
        match sent {
            Sent::Value(from, m) => {
                let message = m.message();
                let forged = adversary::forge(&message, &mut self.rng, &mut scratch, accepted_epoch)?;
                Some(Sent::Value(*from, crate::wire::MessageBuf::new(&forged)))
            }
            Sent::Bytes(bytes) => {
                let (header, message) = crate::wire::decode(bytes, SIM_CLUSTER, to_id, bytes.len()).ok()?;
                let forged = adversary::forge(&message, &mut self.rng, &mut scratch, accepted_epoch)?;
                let mut buf = vec![0u8; crate::wire::encoded_len(&forged)];
                let len = crate::wire::encode(header, &forged, &mut buf).ok()?;
                buf.truncate(len);
                Some(Sent::Bytes(buf))
            }
        }
    }

    /// Delivers again, soon, a message sent at some earlier time (when the link is open).
    fn replay_one(&mut self) {
        let Some((from, to, sent)) = self.archive.pick(&mut self.rng).cloned() else { return };
        if !self.links.open(from, to) {
            return;
        }
        self.faults.replay += 1;
        let delay = 1 + self.rng.below(self.rates.latency_ticks_max.max(1));
        self.enqueue(from, to, sent, delay);
    }

    /// Delivers again, at the next tick, the kept messages of `kind` (as `Message::kind`
    /// names it) from node `from` to node `to` (indexes), oldest first: past the `skip`
    /// oldest, `count` of them, or all when `count` is 0; returns how many.
    pub fn replay_matching(&mut self, kind: &str, from: usize, to: usize, skip: usize, count: usize) -> usize {
        let to_id = self.members.get(to).map_or(0, |m| m.id);
        let wanted = |f: usize, t: usize, sent: &Sent| f == from && t == to && sent.kind(to_id).as_deref() == Some(kind);
        let take = if count == 0 { usize::MAX } else { count };
        let again: Vec<(usize, usize, Sent)> = self.archive.matching(wanted).skip(skip).take(take).cloned().collect();
        for (from, to, sent) in &again {
            self.faults.replay += 1;
            self.enqueue(*from, *to, sent.clone(), 1);
        }
        again.len()
    }

    /// Node `i`'s host takes a snapshot of its state machine now, at its applied point.
    pub fn compact_now(&mut self, i: usize) -> bool {
        let taken = self.take_snapshot(i);
        self.faults.compact += u64::from(taken);
        taken
    }

    /// Node `i`'s host hands the kernel a snapshot of its state machine at its applied point.
    fn take_snapshot(&mut self, i: usize) -> bool {
        let Some(m) = self.members.get_mut(i) else { return false };
        let Some(node) = m.node.as_mut() else { return false };
        let Some(zxid) = node.storage().zxid_at(node.applied_index()) else { return false };
        let data = m.machine.snapshot();
        if node.compact(zxid, &data).is_err() {
            return false;
        }
        self.drain(i);
        true
    }

    /// Drains every output of node `i` and checks the invariants.
    fn drain(&mut self, i: usize) {
        let mut buf = core::mem::take(&mut self.buf);
        let mut outgoing: Vec<(NodeId, Sent)> = Vec::new();
        let delay = if self.faulty { self.rng.below(self.rates.storage_delay_ticks_max + 1) } else { 0 };
        let now = self.now;
        let Some(m) = self.members.get_mut(i) else { return };
        let Some(node) = m.node.as_mut() else { return };
        // The disk's `Persist` never fails; what the drain handed over is one group.
        if let Ok(Some(seq)) = node.persist(&mut m.disk) {
            m.disk.submit(seq, now + delay);
        }
        let held = node.storage_last_index();
        if held != m.disk.written_last() {
            let detail = format!("n{} holds its history up to {held}, its writes up to {}", m.id, m.disk.written_last());
            self.checker.fail(now, "the history held is the history written", detail);
        }
        if delay == 0 {
            if let Some(seq) = m.disk.complete(now) {
                node.durable(seq);
            }
        }
        if i % 2 == 1 {
            while let Some((to, message)) = node.poll_message() {
                promises::check_sent(&mut self.checker, now, m.id, to, &m.disk, &message);
                outgoing.push((to, Sent::Value(m.id, crate::wire::MessageBuf::new(&message))));
            }
        } else {
            while let Some(t) = node.poll_transmit(&mut buf) {
                if let Ok((_, message)) = crate::wire::decode(&buf[..t.len], SIM_CLUSTER, t.to, t.len) {
                    promises::check_sent(&mut self.checker, now, m.id, t.to, &m.disk, &message);
                }
                outgoing.push((t.to, Sent::Bytes(buf[..t.len].to_vec())));
            }
        }
        // (position, zxid, payload hash, state digest after it, snapshot?)
        let mut applied: Vec<(u64, Zxid, u64, u64, bool)> = Vec::new();
        let mut memberships: Vec<(u64, Membership)> = Vec::new();
        // Events with the last zxid the host had applied when each was raised: a read is
        // checked against what was applied then, not after the commits drained below.
        let mut host_applied = m.last_applied;
        let mut events = Vec::new();
        while let Some(e) = node.poll_event() {
            events.push((e, host_applied));
        }
        while let Some(apply) = node.poll_commit() {
            let zxid = match apply {
                Apply::Entry { index, zxid, payload } => {
                    m.machine.apply(index, zxid, payload);
                    applied.push((index, zxid, hash_bytes(payload), m.machine.digest(), false));
                    zxid
                }
                Apply::Membership { index, zxid, encoded } => {
                    if let Some((membership, _)) = Membership::decode(encoded) {
                        memberships.push((index, membership));
                    }
                    // Keyed by position: the same membership may come back later (a node
                    // removed and added again), and is not a command committed twice.
                    applied.push((index, zxid, !hash_bytes(encoded) ^ index.rotate_left(29), m.machine.digest(), false));
                    zxid
                }
                Apply::Snapshot { index, zxid, data } => {
                    m.machine.restore(data);
                    applied.push((index, zxid, 0, m.machine.digest(), true));
                    zxid
                }
            };
            // Raised by that call, before it handed this entry out.
            while let Some(e) = node.poll_event() {
                events.push((e, host_applied));
            }
            host_applied = zxid;
        }
        while let Some(e) = node.poll_event() {
            events.push((e, host_applied));
        }
        // Checked once the leader takes its epoch as current: its history then is the epoch's
        // initial history, whether or not a quorum ever acknowledges it.
        let adopted = node.role() == crate::Role::Leading && node.hard_state().current_epoch == node.epoch();
        if adopted && !self.leaders_checked.contains(&node.epoch()) {
            self.leaders_checked.push(node.epoch());
            let storage = node.storage();
            self.checker.leader_holds_committed(now, node.epoch(), m.id, storage.snapshot_point(), |index| storage.zxid_at(index));
        }
        let (role, epoch, established, last, commit, id) = (node.role(), node.epoch(), node.is_established_leader(), node.last_zxid(), node.commit_index(), m.id);
        self.buf = buf;
        for (index, membership) in memberships {
            self.memberships.entry(index).or_insert(membership);
        }
        self.after_drain(i, id, role, epoch, established, last, commit, applied, events);
        for (to, bytes) in outgoing {
            if self.options.trace {
                let line = bytes.describe(to);
                self.trace.push(format!("t={} send {}", self.now, line));
            }
            self.send(i, to, &bytes);
        }
        self.maybe_compact(i);
    }

    #[allow(clippy::too_many_arguments)]
    fn after_drain(&mut self, i: usize, id: NodeId, role: Role, epoch: u32, established: bool, last: Zxid, commit: u64, applied: Vec<(u64, Zxid, u64, u64, bool)>, events: Vec<(Event, Zxid)>) {
        let now = self.now;
        if established {
            self.checker.leader(now, epoch, id, last);
            if let Some((to, asked_in)) = self.transfer {
                if to == id && epoch > asked_in {
                    self.transfers += 1;
                    self.transfer = None;
                }
            }
        }
        if !self.ever_voters.contains(&id) {
            self.checker.observer_role(now, id, role);
        }
        let before = self.members[i].last_commit;
        self.checker.commit_moved(now, id, before, commit);
        self.members[i].last_commit = commit;
        for (index, zxid, hash, digest, snapshot) in applied {
            let m = &mut self.members[i];
            if snapshot {
                m.last_applied = zxid;
                self.checker.restored(now, id, index, zxid);
                self.checker.digest(now, id, index, digest);
                continue;
            }
            let previous = m.last_applied;
            m.last_applied = zxid;
            m.applied.push((index, zxid));
            self.checker.applied(now, id, index, zxid, hash, previous);
            self.checker.digest(now, id, index, digest);
        }
        for (e, host_applied) in events {
            if self.options.trace {
                self.trace.push(format!("t={now} n{id} {e:?}"));
            }
            self.check_read(i, id, &e, host_applied);
            if !matches!(e, Event::SnapshotWanted { .. }) && self.events.len() < 100_000 {
                self.events.push((now, id, e));
            }
        }
    }

    /// The host's snapshot of its state machine: applied count and state hash.
    fn maybe_compact(&mut self, i: usize) {
        let every = self.options.compact_every;
        let Some(node) = self.members.get(i).and_then(|m| m.node.as_ref()) else { return };
        if every > 0 && node.applied_index() >= node.storage().snapshot_point().0 + every {
            self.take_snapshot(i);
        }
    }

    fn check_durable_majority(&mut self) {
        let max = self.checker.max_committed;
        if max == 0 {
            return;
        }
        let Some(&(zxid, _)) = self.checker.committed.get(&max) else { return };
        // The voters of the membership in effect at the highest commit.
        let membership = self.memberships.range(..=max).next_back().map_or(&self.initial, |(_, m)| m);
        let voters = membership.voters.len();
        let holders = self.members.iter().filter(|m| membership.is_voter(m.id) && m.disk.holds(max, zxid)).count();
        self.checker.durable_on_majority(self.now, holders, voters);
    }

    fn liveness_phase(&mut self) -> (bool, u64) {
        self.faulty = false;
        self.links = Links::healed(self.members.len());
        self.note(String::from("faults off"));
        for i in 0..self.members.len() {
            if self.members[i].node.is_none() {
                self.start_node(i);
            }
        }
        // Drain what the faulty phase left in flight.
        let start = self.now;
        let bound = self.options.liveness_timeouts * u64::from(self.options.election_timeout_ticks) * 2;
        let mut marker: Option<u64> = None;
        while self.now < start + bound && self.checker.violations.is_empty() {
            self.step();
            let leader = self.members.iter().position(|m| m.node.as_ref().is_some_and(|n| n.is_established_leader()));
            match (leader, marker) {
                (Some(l), None) => {
                    let before = self.members[l].node.as_ref().map_or(0, |n| n.storage_last_index());
                    if self.propose_at(l) {
                        marker = Some(before + 1);
                    }
                }
                // Every member of the leader's membership applies it (removed nodes and
                // spares never added take no part).
                (Some(l), Some(index)) if self.members_caught_up(l, index) => {
                    return (true, self.now - start);
                }
                _ => {}
            }
        }
        (false, self.now - start)
    }

    fn members_caught_up(&self, leader: usize, index: u64) -> bool {
        let Some(config) = self.members.get(leader).and_then(|m| m.node.as_ref()).map(|n| n.config()) else { return false };
        self.members.iter().filter(|m| config.is_member(m.id)).all(|m| m.node.as_ref().is_some_and(|n| n.applied_index() >= index))
    }

    fn report(&self, liveness_ok: bool, recovery_ticks: u64) -> Report {
        Report {
            seed: self.options.seed,
            ticks: self.now,
            violations: self.checker.violations.clone(),
            liveness_ok,
            recovery_ticks,
            elections: self.checker.elections(),
            committed: self.checker.max_committed,
            faults: self.faults,
            messages: self.messages,
            rates: Some(self.rates),
            log_hash: self.log_hash(),
            reads: self.reads,
            transfers: self.transfers,
            reconfigs: self.memberships.len() as u64,
        }
    }

    /// Hash of the committed log as the checker saw it.
    pub fn log_hash(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for (index, (zxid, payload)) in &self.checker.committed {
            for word in [*index, zxid.as_u64(), *payload] {
                h = (h ^ word).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        h
    }

    fn note(&mut self, line: String) {
        if self.options.trace {
            self.trace.push(format!("t={} {line}", self.now));
        }
    }

    /// The readable trace recorded so far (when `Options::trace`).
    pub fn take_trace(&mut self) -> Vec<String> {
        core::mem::take(&mut self.trace)
    }

    /// Role and leader events seen so far, as (tick, node, event); drained.
    pub fn take_events(&mut self) -> Vec<(u64, NodeId, Event)> {
        core::mem::take(&mut self.events)
    }

    /// Current tick.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the cluster has no nodes (never, once built).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Node `i`, if it is up.
    pub fn node(&self, i: usize) -> Option<&SimNode> {
        self.members.get(i)?.node.as_ref()
    }

    /// Node `i`'s state machine.
    pub fn machine(&self, i: usize) -> Option<&M> {
        self.members.get(i).map(|m| &m.machine)
    }

    /// Node `i`'s applied log: (position, zxid).
    pub fn applied(&self, i: usize) -> &[(u64, Zxid)] {
        self.members.get(i).map_or(&[], |m| &m.applied)
    }

    /// Violations found so far.
    pub fn violations(&self) -> &[Violation] {
        &self.checker.violations
    }

    /// Faults injected so far.
    pub fn faults(&self) -> FaultCounts {
        self.faults
    }

    /// The fault rates in force.
    pub fn rates(&self) -> FaultRates {
        self.rates
    }

    /// Replaces the fault rates.
    pub fn set_rates(&mut self, rates: FaultRates) {
        self.rates = rates;
    }

    /// Turns random faults on or off (manual partitions and crashes still work).
    pub fn set_faulty(&mut self, faulty: bool) {
        self.faulty = faulty;
    }

    /// Opens or closes the link from node `from` to node `to` (indexes).
    pub fn set_link(&mut self, from: usize, to: usize, open: bool) {
        self.links.set(from, to, open);
        self.partition_until = u64::MAX;
    }

    /// Opens every link.
    pub fn heal(&mut self) {
        self.links = Links::healed(self.members.len());
    }

    /// Restarts node `i` now if it is down.
    pub fn restart(&mut self, i: usize) {
        if self.members.get(i).is_some_and(|m| m.node.is_none()) {
            self.start_node(i);
        }
    }

    /// Ends the faulty phase now and runs the liveness phase; returns the report.
    pub fn finish(&mut self) -> Report {
        let (ok, ticks) = if self.checker.violations.is_empty() { self.liveness_phase() } else { (false, 0) };
        self.report(ok, ticks)
    }
}
