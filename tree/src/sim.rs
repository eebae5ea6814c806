//! The tree as the state machine of the kernel's cluster simulator (feature `sim`).
//!
//! [`TreeMachine`] implements [`zaxos::sim::StateMachine`]: every simulated node applies the
//! committed entries to its own [`Tree`], the simulator's checker requires every replica's
//! [`Tree::digest`] to agree after every committed position, compaction snapshots the tree with
//! [`Tree::snapshot`], and SNAP sync and restarts bring it back with [`Tree::restore`].
//!
//! ```
//! use zaxos::sim::{Options, Simulation};
//! use zaxos_tree::sim::TreeMachine;
//!
//! let mut sim = Simulation::<TreeMachine>::with_machine(Options::for_seed(7, 1_000));
//! let report = sim.run();
//! assert!(report.violations.is_empty() && report.liveness_ok, "{report:?}");
//! assert!(sim.machine(0).unwrap().tree().node_count() > 4);
//! ```
//!
//! **The workload** is a seeded mix of ZooKeeper clients: each node has [`CLIENTS_PER_NODE`]
//! clients attached to it, which open sessions, create nodes of every mode, set data, delete, run
//! multis, ping and close; every [`TICK_EVERY_PROPOSALS`]th proposal is a `Tick` carrying the
//! proposer's time (the simulator's tick × [`MS_PER_TICK`]). A client's entries are proposed only
//! at its own node, so while that node is down its sessions go quiet and expire by replicated
//! time, one per `Tick`, each at its own zxid and the same one on every replica, taking their
//! ephemerals with them.
//!
//! **Clients name themselves, not their session.** A session's id is the zxid that opened it,
//! which a client learns from its node's reply. The simulator's workload is a function of the
//! seed with no view of any node, so it cannot learn it: its entries carry a client handle
//! ([`CLIENT_HANDLE`] | client number) in `Entry::session`, and every replica resolves the
//! handle to that client's newest open session. The answer is the same everywhere because it
//! depends only on the replicated session table: a client's session timeout is
//! [`SESSION_TIMEOUT_MS`] plus its client number, so the table itself says which client opened
//! which session, and the tree's snapshot and digest cover it. An entry that names a real
//! session id (or none) goes to [`Tree::apply`] byte for byte.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use zaxos::sim::{Rng, StateMachine};
use zaxos::{NodeId, Zxid};

use crate::{Config, CreateMode, Entry, MultiOp, Op, Reply, Tree};

/// Milliseconds of replicated time per simulator tick.
pub const MS_PER_TICK: u64 = 10;
/// Clients attached to each node.
pub const CLIENTS_PER_NODE: u16 = 2;
/// Session timeout asked for by client 0; client `c` asks for this plus `c` ms (300 ticks, well
/// above an election, below a long crash).
pub const SESSION_TIMEOUT_MS: u32 = 3_000;
/// Marks `Entry::session` as a client handle (a zxid never has its top bit set).
pub const CLIENT_HANDLE: u64 = 1 << 63;
/// One proposal in this many is a `Tick`.
pub const TICK_EVERY_PROPOSALS: u64 = 8;
/// The tree configuration of every simulated replica: timeouts as the recorded traces allow.
pub const CONFIG: Config = Config { data_bytes_max: 1 << 20, session_timeout_min_ms: 200, session_timeout_max_ms: 60_000 };

/// Client numbers wrap here (2,048 nodes of two clients), so timeouts stay in `CONFIG`'s range.
const CLIENTS_MAX: u64 = 1 << 12;
const DIRS: [&str; 4] = ["/app", "/svc", "/locks", "/cfg"];
const MODES: [CreateMode; 4] = [CreateMode::Persistent, CreateMode::Ephemeral, CreateMode::PersistentSequential, CreateMode::EphemeralSequential];

const _: () = assert!(SESSION_TIMEOUT_MS as u64 + CLIENTS_MAX <= CONFIG.session_timeout_max_ms as u64);
const _: () = assert!(SESSION_TIMEOUT_MS >= CONFIG.session_timeout_min_ms);

/// The number of client `k` of node `home` (ids from 1).
pub fn client(home: NodeId, k: u16) -> u64 {
    u64::from(home.saturating_sub(1)) * u64::from(CLIENTS_PER_NODE) + u64::from(k % CLIENTS_PER_NODE)
}

/// The node a client is attached to.
pub fn client_home(client: u64) -> NodeId {
    (client / u64::from(CLIENTS_PER_NODE) + 1) as NodeId
}

/// The session timeout a client asks for: it identifies the client in the session table.
pub fn client_timeout_ms(client: u64) -> u32 {
    SESSION_TIMEOUT_MS + (client % CLIENTS_MAX) as u32
}

/// The client whose sessions have this timeout, if any.
pub fn client_of_timeout(timeout_ms: u32) -> Option<u64> {
    let offset = u64::from(timeout_ms.checked_sub(SESSION_TIMEOUT_MS)?);
    (offset < CLIENTS_MAX).then_some(offset)
}

/// What one replica's host saw while applying. Local (not replicated, not in the digest) and
/// started afresh when the node restarts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Activity {
    /// Entries applied.
    pub entries: u64,
    /// Writes answered with an error (ZooKeeper's codes, and unknown sessions).
    pub writes_failed: u64,
    pub sessions_opened: u64,
    pub sessions_closed: u64,
    pub sessions_expired: u64,
    /// Ephemeral nodes created by a `Create` (multis not counted).
    pub ephemerals_created: u64,
    /// Multis that succeeded.
    pub multis_ok: u64,
    /// Snapshots restored (after a restart or by SNAP sync).
    pub snapshots_restored: u64,
    /// Snapshots refused by [`Tree::restore`]: the replica starts empty and the digest check fails.
    pub snapshots_refused: u64,
}

/// A replica's tree as the simulator runs it, with what its host saw.
#[derive(Clone, Debug)]
pub struct TreeMachine {
    id: NodeId,
    tree: Tree,
    activity: Activity,
    expired: Vec<(u64, u64)>,
    restored: Vec<u64>,
}

impl TreeMachine {
    /// The replicated tree.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The node this replica runs on.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Counts of what was applied here since the node (re)started.
    pub fn activity(&self) -> Activity {
        self.activity
    }

    /// Sessions expired here, as (zxid of the `Tick`, session id), in apply order.
    pub fn expired(&self) -> &[(u64, u64)] {
        &self.expired
    }

    /// Last zxid of every snapshot restored here, in order.
    pub fn restored(&self) -> &[u64] {
        &self.restored
    }

    /// The newest open session of `client`.
    pub fn session_of(&self, client: u64) -> Option<u64> {
        let timeout_ms = client_timeout_ms(client);
        self.tree.sessions().filter(|&(_, t)| t == timeout_ms).map(|(id, _)| id).last()
    }

    /// The node whose client opened `session`, while it is open.
    pub fn home_of(&self, session: u64) -> Option<NodeId> {
        let (_, timeout_ms) = self.tree.sessions().find(|&(id, _)| id == session)?;
        client_of_timeout(timeout_ms).map(client_home)
    }

    fn note(&mut self, zxid: u64, outcome: &Result<Reply, crate::Failure>) {
        let a = &mut self.activity;
        a.entries += 1;
        match outcome {
            Ok(Reply::Session { .. }) => a.sessions_opened += 1,
            Ok(Reply::Closed) => a.sessions_closed += 1,
            Ok(Reply::Expired(Some(id))) => {
                a.sessions_expired += 1;
                self.expired.push((zxid, *id));
            }
            Ok(Reply::Created { stat, .. }) if stat.ephemeral_owner != 0 => a.ephemerals_created += 1,
            Ok(Reply::Multi(_)) => a.multis_ok += 1,
            Ok(_) => {}
            Err(_) => a.writes_failed += 1,
        }
    }
}

impl StateMachine for TreeMachine {
    fn new(id: NodeId) -> Self {
        TreeMachine { id, tree: Tree::new(CONFIG), activity: Activity::default(), expired: Vec::new(), restored: Vec::new() }
    }

    fn apply(&mut self, _index: u64, zxid: Zxid, payload: &[u8]) {
        let zxid = zxid.as_u64();
        let result = match Entry::decode(payload) {
            Ok(mut entry) if entry.session & CLIENT_HANDLE != 0 && !matches!(entry.op, Op::CreateSession { .. } | Op::Tick) => {
                // Unknown or expired: 0 is never a session, so the tree answers SessionExpired.
                entry.session = self.session_of(entry.session & !CLIENT_HANDLE).unwrap_or(0);
                self.tree.apply_entry(zxid, entry)
            }
            _ => self.tree.apply(zxid, payload),
        };
        self.note(zxid, &result.outcome);
    }

    fn snapshot(&self) -> Vec<u8> {
        self.tree.snapshot()
    }

    fn restore(&mut self, data: &[u8]) {
        match Tree::restore(CONFIG, data) {
            Ok(tree) => {
                self.tree = tree;
                self.activity.snapshots_restored += 1;
                self.restored.push(self.tree.last_zxid());
            }
            Err(_) => {
                self.tree = Tree::new(CONFIG);
                self.activity.snapshots_refused += 1;
            }
        }
    }

    fn digest(&self) -> u64 {
        self.tree.digest()
    }

    fn workload(rng: &mut Rng, _seed: u64, at: NodeId, n: u64, now: u64) -> Vec<u8> {
        let now_ms = now.saturating_mul(MS_PER_TICK);
        if n % TICK_EVERY_PROPOSALS == TICK_EVERY_PROPOSALS - 1 {
            return Entry::new(0, now_ms, Op::Tick).encode();
        }
        let client = client(at, rng.below(u64::from(CLIENTS_PER_NODE)) as u16);
        Entry::new(CLIENT_HANDLE | client, now_ms, client_op(rng, client, n)).encode()
    }
}

/// One operation of `client`, over a small namespace so that most operations meet existing
/// nodes (and some fail as ZooKeeper would: NodeExists, NoNode, BadVersion, NotEmpty…).
fn client_op(rng: &mut Rng, client: u64, n: u64) -> Op {
    match rng.below(100) {
        // A client that opens again abandons its open session, which then expires.
        0..=8 => Op::CreateSession { timeout_ms: client_timeout_ms(client) },
        9 => Op::CloseSession,
        10..=21 => Op::Ping,
        22..=46 => {
            let (path, mode) = create_target(rng, client);
            Op::Create { path, data: data(n), mode }
        }
        47..=61 => Op::SetData { path: persistent_path(rng), data: data(n), version: version(rng) },
        62..=74 => Op::Delete { path: any_path(rng, client), version: version(rng) },
        75..=89 => Op::Multi { ops: (0..2 + rng.below(3)).map(|_| multi_op(rng, client, n)).collect() },
        _ => Op::Create { path: String::from(dir(rng)), data: Vec::new(), mode: CreateMode::Persistent },
    }
}

fn multi_op(rng: &mut Rng, client: u64, n: u64) -> MultiOp {
    match rng.below(4) {
        0 => {
            let (path, mode) = create_target(rng, client);
            MultiOp::Create { path, data: data(n), mode }
        }
        1 => MultiOp::Delete { path: any_path(rng, client), version: version(rng) },
        2 => MultiOp::SetData { path: persistent_path(rng), data: data(n), version: version(rng) },
        _ => MultiOp::Check { path: persistent_path(rng), version: version(rng) },
    }
}

fn create_target(rng: &mut Rng, client: u64) -> (String, CreateMode) {
    let mode = MODES[rng.below(4) as usize];
    let path = match mode {
        CreateMode::Persistent if rng.chance(0.3) => format!("{}/c{}", any_path(rng, client), rng.below(3)),
        CreateMode::Persistent => persistent_path(rng),
        CreateMode::Ephemeral => ephemeral_path(rng, client),
        CreateMode::PersistentSequential | CreateMode::EphemeralSequential => format!("{}/q-", dir(rng)),
    };
    (path, mode)
}

fn dir(rng: &mut Rng) -> &'static str {
    DIRS[rng.below(DIRS.len() as u64) as usize]
}

fn persistent_path(rng: &mut Rng) -> String {
    format!("{}/p{}", dir(rng), rng.below(6))
}

/// Half of them at the top, where the parent always exists.
fn ephemeral_path(rng: &mut Rng, client: u64) -> String {
    let parent = if rng.chance(0.5) { "" } else { dir(rng) };
    format!("{parent}/e{client}-{}", rng.below(3))
}

fn any_path(rng: &mut Rng, client: u64) -> String {
    match rng.below(3) {
        0 => persistent_path(rng),
        1 => ephemeral_path(rng, client),
        _ => format!("{}/q-{:010}", dir(rng), rng.below(12)),
    }
}

fn version(rng: &mut Rng) -> i32 {
    if rng.chance(0.7) {
        -1
    } else {
        rng.below(3) as i32
    }
}

fn data(n: u64) -> Vec<u8> {
    format!("v{n}").into_bytes()
}
