//! An exhaustive interleaving search over a small cluster of real [`zaxos::Node`]s.
//!
//! Not a model of the protocol: the nodes are the kernel itself, driven only through its
//! public API (`tick`, `step_message`, `propose`, `durable`, `Node::new` after a crash, and
//! the `poll_*` drains). What the search chooses is the host's part: which node ticks, which
//! message is delivered, when a node crashes (and restarts at once from its disk), when a
//! leader takes a proposal, and (with asynchronous durability) when a node's disk catches up.
//!
//! **The network remembers the past.** Every distinct message ever sent stays in a pool. One
//! that was sent and not yet delivered may be delivered once for free; delivering any message
//! again (a duplicate, or a replay of something old, epochs later) spends one *redelivery*
//! from the budget. A message never delivered is a lost one. So loss, duplication, reordering
//! and replay are all choices of the search.
//!
//! **States are input sequences.** `Node` is neither `Clone` nor `Hash`, and its role state
//! (votes heard, a leader's per-peer progress, a learner's sync stage) is private. A state of
//! the search is therefore the sequence of actions that leads to it, replayed from the start
//! whenever it is expanded (the kernel is deterministic, so a replay is exact). Two states
//! are merged when their *fingerprints* agree: every node's observable state (role, epoch,
//! round, leader, hard state, history with payload hashes, commit and durable points, clock,
//! its disk, the leader's view of its peers) plus the set of inputs it took since its role
//! last changed (a stand-in for the private role state, which is rebuilt at every role
//! change), the pool with what is pending and what was delivered, and the budget spent.
//! Merging on a fingerprint can in principle merge two states whose private state differs:
//! the search is exhaustive up to that, and up to its bounds.
//!
//! The invariants are the simulator's ([`zaxos::sim::Checker`]): one leader per epoch,
//! committed prefixes agree, primary order, skipped proposals never delivered, the commit
//! point never goes back, the highest committed entry is durable on a majority of voters;
//! and two of our own: a node's history never differs from what was committed at a position
//! up to its commit point, and no input makes the kernel panic (debug assertions included).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::panic::{self, AssertUnwindSafe};

use zaxos::sim::{hash_bytes, Checker, Disk, Violation};
use zaxos::storage::{Storage, VecStorage};
use zaxos::wire::{self, Header, MessageBuf};
use zaxos::{Apply, Bugs, Config, Event, Node, NodeId, Role, Zxid};

/// The node type the search runs.
pub type ModelNode = Node<VecStorage, 4096>;

const CLUSTER_ID: u32 = 0x5a58;
const MESSAGE_BYTES_MAX: usize = 1400;

/// One choice of the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Node (by index) ticks once.
    Tick(usize),
    /// The pool's message at this index reaches its receiver.
    Deliver(usize),
    /// Node crashes, losing what its disk had not made durable, and restarts from its disk.
    Crash(usize),
    /// Node, an established leader, is given a proposal.
    Propose(usize),
    /// Node's disk completes every write handed to it (asynchronous durability only).
    Flush(usize),
}

/// How much of each fault and input the search may spend on one path (after the setup).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Budget {
    /// Ticks, all nodes together.
    pub ticks: u32,
    /// Crashes (each followed by a restart).
    pub crashes: u32,
    /// Deliveries of a message already delivered (duplicates and replays).
    pub redeliveries: u32,
    /// Proposals given to a leader.
    pub proposals: u32,
}

/// How the cluster is brought to where the search starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Setup {
    /// Every node just started with empty storage.
    Fresh,
    /// A deterministic fault-free run among `members` (node indexes; the others are cut off:
    /// nothing is delivered to or from them) until a leader is established among them and
    /// `commits` proposals are applied by every one of them. Every message it sent stays in
    /// the pool, so the search may deliver late copies of any of them.
    Established {
        /// Nodes that take part.
        members: Vec<usize>,
        /// Proposals committed before the search starts.
        commits: u32,
    },
}

/// What one search is.
#[derive(Clone, Debug)]
pub struct Options {
    /// Voters (ids 1..=voters).
    pub voters: usize,
    /// Seed of every node's configuration (its randomised timeouts).
    pub seed: u64,
    /// Election timeout, in ticks.
    pub election_timeout_ticks: u32,
    /// Heartbeat interval, in ticks.
    pub heartbeat_ticks: u32,
    /// What the search may spend on a path.
    pub budget: Budget,
    /// Writes become durable only when the search chooses `Flush` (otherwise at once).
    pub async_durability: bool,
    /// Actions after the setup, at most.
    pub depth: usize,
    /// Stop after this many distinct states.
    pub states_max: usize,
    /// Deliberate kernel bugs (to show the search finds them).
    pub bugs: Bugs,
    /// Where the search starts.
    pub setup: Setup,
    /// Stop at the first violation.
    pub stop_at_first: bool,
    /// Nodes (by index) cut off during the search: nothing is delivered to or from them.
    pub isolated: Vec<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            voters: 3,
            seed: 1,
            election_timeout_ticks: 2,
            heartbeat_ticks: 1,
            budget: Budget { ticks: 4, crashes: 1, redeliveries: 1, proposals: 1 },
            async_durability: false,
            depth: 8,
            states_max: 200_000,
            bugs: Bugs::default(),
            setup: Setup::Fresh,
            stop_at_first: true,
            isolated: Vec::new(),
        }
    }
}

/// A violation and the actions that lead to it, described.
#[derive(Clone, Debug)]
pub struct Found {
    /// The broken invariant.
    pub violation: Violation,
    /// Every action from the start (setup included), with what it did.
    pub trace: Vec<String>,
    /// The actions after the setup (replay them with [`replay`]).
    pub path: Vec<Action>,
}

/// What a search did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Distinct states reached (fingerprints), the start included.
    pub states: u64,
    /// Actions tried (each one replay of its parent and one step).
    pub transitions: u64,
    /// Deepest level of the search completed or started.
    pub depth: usize,
    /// Actions in the setup before the search.
    pub setup_actions: usize,
    /// Whether `states_max` stopped the search before its depth.
    pub truncated: bool,
    /// Violations found (the first only, with `stop_at_first`).
    pub violations: Vec<Found>,
}

impl Report {
    /// The report as one line of JSON.
    pub fn json(&self) -> String {
        let invariants: Vec<String> = self.violations.iter().map(|f| format!("\"{}\"", f.violation.invariant)).collect();
        format!(
            "{{\"states\":{},\"transitions\":{},\"depth\":{},\"setup_actions\":{},\"truncated\":{},\"violations\":{},\"invariants\":[{}]}}",
            self.states,
            self.transitions,
            self.depth,
            self.setup_actions,
            self.truncated,
            self.violations.len(),
            invariants.join(",")
        )
    }
}

/// A distinct message in the network, with whether a copy is still in flight.
struct Packet {
    from: usize,
    to: usize,
    message: MessageBuf,
    hash: u64,
    pending: bool,
    delivered: bool,
}

/// The cluster and its host: nodes, disks, the network's memory, and the checker.
pub struct Cluster {
    options: Options,
    nodes: Vec<ModelNode>,
    disks: Vec<Disk>,
    starts: Vec<u64>,
    pool: Vec<Packet>,
    pool_index: HashMap<(usize, usize, u64), usize>,
    checker: Checker,
    last_commit: Vec<u64>,
    last_applied: Vec<Zxid>,
    last_role: Vec<(Role, u32)>,
    role_inputs: Vec<BTreeSet<u64>>,
    spent: Budget,
    proposals: u32,
    steps: u64,
    trace: Option<Vec<String>>,
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

impl Cluster {
    /// Every node started with empty storage.
    pub fn new(options: &Options, trace: bool) -> Self {
        let n = options.voters;
        let mut cluster = Cluster {
            options: options.clone(),
            nodes: Vec::with_capacity(n),
            disks: vec![Disk::default(); n],
            starts: vec![0; n],
            pool: Vec::new(),
            pool_index: HashMap::new(),
            checker: Checker::new(true),
            last_commit: vec![0; n],
            last_applied: vec![Zxid::ZERO; n],
            last_role: vec![(Role::Looking, 0); n],
            role_inputs: vec![BTreeSet::new(); n],
            spent: Budget::default(),
            proposals: 0,
            steps: 0,
            trace: trace.then(Vec::new),
        };
        for i in 0..n {
            let node = cluster.start(i);
            cluster.nodes.push(node);
        }
        for i in 0..n {
            cluster.drain(i);
        }
        cluster
    }

    fn id(i: usize) -> NodeId {
        i as NodeId + 1
    }

    fn config(&self, i: usize) -> Config {
        let voters: Vec<NodeId> = (0..self.options.voters).map(Cluster::id).collect();
        // Every start draws a fresh seed, as a real host would.
        let seed = self.options.seed.wrapping_mul(31).wrapping_add(u64::from(Cluster::id(i))).wrapping_add(self.starts[i] << 32);
        let mut config = Config::new(Cluster::id(i), &voters, &[])
            .expect("a valid membership")
            .seed(seed)
            .cluster_id(CLUSTER_ID)
            .timeouts(self.options.election_timeout_ticks, self.options.heartbeat_ticks)
            .message_bytes_max(MESSAGE_BYTES_MAX);
        config.bugs = self.options.bugs;
        config
    }

    fn start(&mut self, i: usize) -> ModelNode {
        let config = self.config(i);
        self.starts[i] += 1;
        let mut storage = VecStorage::new(1 << 12, 1 << 20, 1 << 16);
        self.disks[i].load(&mut storage);
        Node::new(config, storage).expect("a valid configuration")
    }

    fn note(&mut self, line: String) {
        if let Some(trace) = &mut self.trace {
            trace.push(line);
        }
    }

    /// The violations found so far.
    pub fn violations(&self) -> &[Violation] {
        &self.checker.violations
    }

    /// The trace so far (when built with one).
    pub fn trace(&self) -> &[String] {
        self.trace.as_deref().unwrap_or(&[])
    }

    /// The node at index `i`.
    pub fn node(&self, i: usize) -> &ModelNode {
        &self.nodes[i]
    }

    fn fail(&mut self, invariant: &'static str, detail: String) {
        let tick = self.steps;
        self.checker.violations.push(Violation { tick, invariant, detail });
    }

    /// The actions the search may take here, in a fixed order.
    pub fn enabled(&self) -> Vec<Action> {
        let (budget, spent) = (self.options.budget, self.spent);
        let mut actions = Vec::new();
        let cut = |i: usize| self.options.isolated.contains(&i);
        for (k, p) in self.pool.iter().enumerate() {
            if cut(p.from) || cut(p.to) {
                continue;
            }
            if p.pending || spent.redeliveries < budget.redeliveries {
                actions.push(Action::Deliver(k));
            }
        }
        for i in (0..self.nodes.len()).filter(|&i| !cut(i)) {
            if spent.ticks < budget.ticks {
                actions.push(Action::Tick(i));
            }
            if spent.proposals < budget.proposals && self.nodes[i].is_established_leader() {
                actions.push(Action::Propose(i));
            }
            if self.options.async_durability && self.disks[i].complete_would_change() {
                actions.push(Action::Flush(i));
            }
            if spent.crashes < budget.crashes {
                actions.push(Action::Crash(i));
            }
        }
        actions
    }

    /// Takes one action (spending budget only when `spend`), then checks the invariants.
    /// A panic inside the kernel is recorded as a violation.
    pub fn apply(&mut self, action: Action, spend: bool) {
        self.steps += 1;
        IN_KERNEL.with(|k| k.set(true));
        let result = panic::catch_unwind(AssertUnwindSafe(|| self.apply_unchecked(action, spend)));
        IN_KERNEL.with(|k| k.set(false));
        if let Err(payload) = result {
            let text = panic_text(payload.as_ref());
            self.note(format!("  panic: {text}"));
            self.fail("no panic", format!("{action:?} panicked: {text}"));
            return;
        }
        self.check();
    }

    fn apply_unchecked(&mut self, action: Action, spend: bool) {
        match action {
            Action::Tick(i) => {
                if spend {
                    self.spent.ticks += 1;
                }
                self.note(format!("n{} tick (now {})", Cluster::id(i), self.nodes[i].now_ticks() + 1));
                self.nodes[i].tick();
                self.role_inputs[i].insert(u64::MAX);
                self.drain(i);
            }
            Action::Deliver(k) => {
                let (from, to) = (self.pool[k].from, self.pool[k].to);
                if !self.pool[k].pending && spend {
                    self.spent.redeliveries += 1;
                }
                let again = if self.pool[k].pending { "" } else { " (again)" };
                let line = format!("n{} -> n{}{again}: {:?}", Cluster::id(from), Cluster::id(to), self.pool[k].message.message());
                self.note(line);
                self.pool[k].pending = false;
                self.pool[k].delivered = true;
                let hash = self.pool[k].hash;
                let result = self.nodes[to].step_message(Cluster::id(from), &self.pool[k].message.message());
                if let Err(e) = result {
                    self.note(format!("  refused: {e:?}"));
                }
                self.role_inputs[to].insert(hash);
                self.drain(to);
            }
            Action::Crash(i) => {
                if spend {
                    self.spent.crashes += 1;
                }
                self.note(format!("n{} crashes and restarts", Cluster::id(i)));
                self.disks[i].crash(None);
                let node = self.start(i);
                self.nodes[i] = node;
                self.last_commit[i] = 0;
                self.last_applied[i] = Zxid::ZERO;
                self.last_role[i] = (Role::Looking, 0);
                self.role_inputs[i].clear();
                self.drain(i);
            }
            Action::Propose(i) => {
                if spend {
                    self.spent.proposals += 1;
                }
                self.proposals += 1;
                let payload = format!("z{}", self.proposals);
                let result = self.nodes[i].propose(payload.as_bytes());
                self.note(format!("n{} propose {payload}: {result:?}", Cluster::id(i)));
                self.drain(i);
            }
            Action::Flush(i) => {
                self.note(format!("n{} disk catches up", Cluster::id(i)));
                if let Some(seq) = self.disks[i].complete(0) {
                    self.nodes[i].durable(seq);
                }
                self.drain(i);
            }
        }
    }

    /// Drains every output of node `i` until it has nothing more to say.
    fn drain(&mut self, i: usize) {
        loop {
            let mut progressed = false;
            if let Ok(Some(seq)) = self.nodes[i].persist(&mut self.disks[i]) {
                self.disks[i].submit(seq, 0);
                progressed = true;
            }
            if !self.options.async_durability {
                if let Some(seq) = self.disks[i].complete(0) {
                    self.nodes[i].durable(seq);
                    progressed = true;
                }
            }
            let mut sent = Vec::new();
            while let Some((to, message)) = self.nodes[i].poll_message() {
                sent.push((to, MessageBuf::new(&message)));
            }
            for (to, message) in sent {
                progressed = true;
                self.send(i, to, message);
            }
            let mut applied = Vec::new();
            while let Some(apply) = self.nodes[i].poll_commit() {
                progressed = true;
                match apply {
                    Apply::Entry { index, zxid, payload } => applied.push((index, zxid, hash_bytes(payload))),
                    Apply::Membership { index, zxid, encoded } => applied.push((index, zxid, !hash_bytes(encoded) ^ index.rotate_left(29))),
                    Apply::Snapshot { zxid, .. } => self.last_applied[i] = zxid,
                }
            }
            let id = Cluster::id(i);
            for (index, zxid, hash) in applied {
                let previous = self.last_applied[i];
                self.last_applied[i] = zxid;
                self.note(format!("  n{id} applies {zxid} at {index}"));
                self.checker.applied(self.steps, id, index, zxid, hash, previous);
            }
            while let Some(event) = self.nodes[i].poll_event() {
                progressed = true;
                if matches!(event, Event::Role { .. } | Event::Leader { .. }) {
                    self.note(format!("  n{id} {event:?}"));
                }
            }
            if !progressed {
                break;
            }
        }
        let role = (self.nodes[i].role(), self.nodes[i].epoch());
        if role != self.last_role[i] {
            // The private role state starts over at a role change: so do the inputs that stand for it.
            self.last_role[i] = role;
            self.role_inputs[i].clear();
        }
    }

    fn send(&mut self, from: usize, to: NodeId, message: MessageBuf) {
        let Some(to) = (to as usize).checked_sub(1).filter(|&t| t < self.nodes.len()) else { return };
        let mut buf = vec![0u8; MESSAGE_BYTES_MAX.max(wire::encoded_len(&message.message()))];
        let header = Header { cluster_id: CLUSTER_ID, from: Cluster::id(from), to: Cluster::id(to) };
        let len = wire::encode(header, &message.message(), &mut buf).unwrap_or(0);
        let hash = hash_bytes(&buf[..len]);
        match self.pool_index.get(&(from, to, hash)) {
            Some(&k) => self.pool[k].pending = true,
            None => {
                self.pool_index.insert((from, to, hash), self.pool.len());
                self.pool.push(Packet { from, to, message, hash, pending: true, delivered: false });
            }
        }
    }

    fn check(&mut self) {
        let now = self.steps;
        for i in 0..self.nodes.len() {
            let node = &self.nodes[i];
            let id = Cluster::id(i);
            if node.is_established_leader() {
                let (epoch, last) = (node.epoch(), node.last_zxid());
                self.checker.leader(now, epoch, id, last);
            }
            let commit = node.commit_index();
            let before = self.last_commit[i];
            self.checker.commit_moved(now, id, before, commit);
            self.last_commit[i] = commit;
            self.check_committed_history(i);
        }
        self.check_durable_majority();
    }

    /// A node's history up to its commit point is what was committed there.
    fn check_committed_history(&mut self, i: usize) {
        let node = &self.nodes[i];
        let (snapshot, _) = node.storage().snapshot_point();
        let mut broken = None;
        for index in snapshot + 1..=node.commit_index() {
            let held = node.storage().zxid_at(index);
            match (self.checker.committed.get(&index), held) {
                (_, None) => broken = Some(format!("n{} commits up to {} but holds no entry at {index}", Cluster::id(i), node.commit_index())),
                (Some(&(z, _)), Some(h)) if z != h => broken = Some(format!("n{} holds {h} at {index}, where {z} was committed", Cluster::id(i))),
                _ => {}
            }
            if broken.is_some() {
                break;
            }
        }
        if let Some(detail) = broken {
            self.fail("committed entries never change", detail);
        }
    }

    fn check_durable_majority(&mut self) {
        let max = self.checker.max_committed;
        let Some(&(zxid, _)) = self.checker.committed.get(&max) else { return };
        let holders = self.disks.iter().filter(|d| d.holds(max, zxid)).count();
        self.checker.durable_on_majority(self.steps, holders, self.nodes.len());
    }

    /// A fingerprint of the whole state (see the crate docs for what it covers).
    pub fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        for (i, node) in self.nodes.iter().enumerate() {
            node.role().hash(&mut h);
            (node.epoch(), node.round(), node.leader(), node.is_established_leader()).hash(&mut h);
            let hard = node.hard_state();
            (hard.accepted_epoch, hard.promised_leader, hard.current_epoch).hash(&mut h);
            (node.last_zxid(), node.durable_zxid(), node.commit_index(), node.applied_index(), node.now_ticks()).hash(&mut h);
            let storage = node.storage();
            storage.snapshot_point().hash(&mut h);
            for index in storage.snapshot_point().0 + 1..=storage.last_index() {
                storage.zxid_at(index).hash(&mut h);
                storage.payload_at(index).map(hash_bytes).hash(&mut h);
            }
            node.describe_peers().hash(&mut h);
            format!("{:?}", self.disks[i]).hash(&mut h);
            self.role_inputs[i].hash(&mut h);
        }
        let mut pool: Vec<(usize, usize, u64, bool, bool)> = self.pool.iter().map(|p| (p.from, p.to, p.hash, p.pending, p.delivered)).collect();
        pool.sort_unstable();
        pool.hash(&mut h);
        self.spent.hash(&mut h);
        self.proposals.hash(&mut h);
        h.finish()
    }
}

/// Small helpers on the simulator's disk that the search needs.
trait DiskExt {
    fn complete_would_change(&self) -> bool;
}

impl DiskExt for Disk {
    /// Whether writes are waiting (a clone completes them and compares: the queue is private).
    fn complete_would_change(&self) -> bool {
        self.clone().complete(0).is_some()
    }
}

/// The actions of the setup, found by running it.
pub fn setup_actions(options: &Options) -> Vec<Action> {
    let Setup::Established { members, commits } = &options.setup else { return Vec::new() };
    let mut cluster = Cluster::new(options, false);
    let mut actions = Vec::new();
    let take = |cluster: &mut Cluster, action: Action, actions: &mut Vec<Action>| {
        cluster.apply(action, false);
        actions.push(action);
    };
    let inside = |i: usize| members.contains(&i);
    let mut proposed = 0;
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 10_000, "setup did not converge");
        assert!(cluster.violations().is_empty(), "setup broke an invariant: {:?}", cluster.violations());
        let leader = members.iter().copied().find(|&i| cluster.nodes[i].is_established_leader());
        let done = leader.is_some()
            && proposed == *commits
            && members.iter().all(|&i| cluster.nodes[i].applied_index() >= u64::from(*commits) && cluster.nodes[i].leader() == leader.map(Cluster::id));
        if done {
            break;
        }
        if let (Some(l), true) = (leader, proposed < *commits) {
            take(&mut cluster, Action::Propose(l), &mut actions);
            proposed += 1;
            continue;
        }
        if let Some(k) = cluster.pool.iter().position(|p| p.pending && inside(p.from) && inside(p.to)) {
            take(&mut cluster, Action::Deliver(k), &mut actions);
            continue;
        }
        for &i in members {
            if options.async_durability && cluster.disks[i].complete_would_change() {
                take(&mut cluster, Action::Flush(i), &mut actions);
            }
        }
        for &i in members {
            take(&mut cluster, Action::Tick(i), &mut actions);
        }
    }
    actions
}

/// The cluster after `setup` and then `path`; with `trace`, every action is described.
pub fn replay(options: &Options, setup: &[Action], path: &[Action], trace: bool) -> Cluster {
    let mut cluster = Cluster::new(options, trace);
    for &action in setup {
        cluster.apply(action, false);
    }
    cluster.note("-- search starts here".to_string());
    for &action in path {
        cluster.apply(action, true);
    }
    cluster
}

/// Breadth-first search over every interleaving within the options' bounds.
pub fn explore(options: &Options) -> Report {
    explore_with_progress(options, |_| {})
}

/// [`explore`], calling `progress` at the end of every level.
pub fn explore_with_progress(options: &Options, mut progress: impl FnMut(&Report)) -> Report {
    quiet_kernel_panics();
    search(options, &mut progress)
}

thread_local! {
    /// Set while the kernel runs an action: its panics are findings, reported with their trace.
    static IN_KERNEL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs (once) a panic hook that keeps quiet about the kernel's panics inside an action
/// and passes every other panic (a test's own assertion, say) to the hook that was there.
fn quiet_kernel_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_KERNEL.with(|k| k.get()) {
                previous(info);
            }
        }));
    });
}

fn search(options: &Options, progress: &mut dyn FnMut(&Report)) -> Report {
    let setup = setup_actions(options);
    let mut report = Report { setup_actions: setup.len(), ..Report::default() };
    let root = replay(options, &setup, &[], false);
    let mut seen: HashSet<u64> = HashSet::new();
    seen.insert(root.fingerprint());
    report.states = 1;
    if let Some(v) = root.violations().first() {
        report.violations.push(found(options, &setup, &[], v.clone()));
        return report;
    }
    let mut level: VecDeque<Vec<Action>> = VecDeque::from([Vec::new()]);
    for depth in 1..=options.depth {
        report.depth = depth;
        let mut next = VecDeque::new();
        while let Some(path) = level.pop_front() {
            let actions = replay(options, &setup, &path, false).enabled();
            for action in actions {
                let mut cluster = replay(options, &setup, &path, false);
                cluster.apply(action, true);
                report.transitions += 1;
                let mut child = path.clone();
                child.push(action);
                if let Some(v) = cluster.violations().first() {
                    report.violations.push(found(options, &setup, &child, v.clone()));
                    if options.stop_at_first {
                        progress(&report);
                        return report;
                    }
                    continue;
                }
                if !seen.insert(cluster.fingerprint()) {
                    continue;
                }
                report.states += 1;
                if report.states as usize >= options.states_max {
                    report.truncated = true;
                    progress(&report);
                    return report;
                }
                next.push_back(child);
            }
        }
        progress(&report);
        if next.is_empty() {
            break;
        }
        level = next;
    }
    report
}

fn found(options: &Options, setup: &[Action], path: &[Action], violation: Violation) -> Found {
    let cluster = replay(options, setup, path, true);
    Found { violation, trace: cluster.trace().to_vec(), path: path.to_vec() }
}
