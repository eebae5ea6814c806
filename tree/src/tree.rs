//! The replicated state (znodes, sessions, replicated time) and the apply function.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use serde::{Deserialize, Serialize};

use crate::javaset::{JavaSet, CHILDREN_CAPACITY_INITIAL, EPHEMERALS_CAPACITY_INITIAL};
use crate::op::{CreateMode, Entry, MultiOp, Op};
use crate::path::{is_special, validate_path};
use crate::watch::{EventType, Table, WatchEvent, Watches};
use crate::{Counters, Error};

/// First byte of an encoded snapshot (2: sessions carry their closing mark).
pub const SNAPSHOT_FORMAT: u8 = 2;

/// Limits chosen by the host. Every replica of one tree must use the same configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Largest znode data accepted by create / set_data (default 1 MiB).
    pub data_bytes_max: usize,
    /// Session timeouts are clamped into `[min, max]`, as ZooKeeper negotiates them
    /// (ZooKeeper's defaults: 2 and 20 ticks of 2000 ms).
    pub session_timeout_min_ms: u32,
    pub session_timeout_max_ms: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config { data_bytes_max: 1 << 20, session_timeout_min_ms: 4_000, session_timeout_max_ms: 40_000 }
    }
}

/// ZooKeeper's `Stat`, as a client sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stat {
    /// zxid of the create.
    pub czxid: u64,
    /// zxid of the last create or set_data.
    pub mzxid: u64,
    /// zxid of the last change to the children (create or delete of a child).
    pub pzxid: u64,
    /// Replicated time of the create / last set_data, in ms.
    pub ctime: u64,
    pub mtime: u64,
    /// Number of set_data.
    pub version: i32,
    /// Number of changes to the children, as ZooKeeper reports it:
    /// `2 * creates_of_children - num_children`.
    pub cversion: i32,
    /// Number of ACL changes (always 0 here but for `/zookeeper/config`, as in ZooKeeper).
    pub aversion: i32,
    /// Owning session of an ephemeral node, else 0.
    pub ephemeral_owner: u64,
    pub data_length: i32,
    pub num_children: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Znode {
    data: Vec<u8>,
    czxid: u64,
    mzxid: u64,
    pzxid: u64,
    ctime: u64,
    mtime: u64,
    version: i32,
    /// ZooKeeper's stored cversion: how many children were ever created. It is also the next
    /// sequential suffix.
    creates: i32,
    aversion: i32,
    owner: u64,
    children: JavaSet,
}

impl Znode {
    fn new(zxid: u64, now_ms: u64, data: Vec<u8>, owner: u64) -> Self {
        Znode {
            data,
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: now_ms,
            mtime: now_ms,
            version: 0,
            creates: 0,
            aversion: 0,
            owner,
            children: JavaSet::new(CHILDREN_CAPACITY_INITIAL),
        }
    }

    fn stat(&self) -> Stat {
        let n = self.children.len() as i32;
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            pzxid: self.pzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.creates.wrapping_mul(2).wrapping_sub(n),
            aversion: self.aversion,
            ephemeral_owner: self.owner,
            data_length: self.data.len() as i32,
            num_children: n,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Session {
    timeout_ms: u32,
    touched_ms: u64,
    ephemerals: JavaSet,
    /// Found due by a `Tick` and waiting for its own closing entry (ZooKeeper's
    /// `setSessionClosing`): it is refused everything, so nothing can revive it.
    closing: bool,
}

impl Session {
    fn deadline_ms(&self) -> u64 {
        self.touched_ms.saturating_add(u64::from(self.timeout_ms))
    }
}

/// Everything replicated: what a snapshot holds and the digest covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct State {
    zxid_last: u64,
    now_ms: u64,
    nodes: BTreeMap<String, Znode>,
    sessions: BTreeMap<u64, Session>,
}

/// What a successful write answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `CreateSession`: the new session's id (the entry's zxid) and its negotiated timeout.
    Session { id: u64, timeout_ms: u32 },
    Closed,
    Pong,
    /// `Tick`: the session it expired, if any. A tick expires at most one session, so each
    /// expiry has its own zxid, as each of ZooKeeper's expiries is its own closeSession
    /// transaction; [`Tree::sessions_closing`] says how many more wait for a tick.
    Expired(Option<u64>),
    /// `Create`: the created path (with its sequential suffix) and its Stat.
    Created { path: String, stat: Stat },
    Deleted,
    /// `SetData`: the node's new Stat.
    DataSet(Stat),
    Multi(Vec<OpResult>),
}

/// One operation's result in a multi, as ZooKeeper's `OpResult`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpResult {
    Create { path: String },
    Delete,
    SetData { stat: Stat },
    Check,
    /// For a failed multi: the failing operation's code, `RolledBack` before it and
    /// `RuntimeInconsistency` after it.
    Error(Error),
}

/// An operation that did not succeed. `results` is empty but for a failed multi, where it holds
/// one `OpResult::Error` per operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub error: Error,
    pub results: Vec<OpResult>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure { error, results: Vec::new() }
    }
}

/// What applying one committed entry did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyResult {
    pub zxid: u64,
    /// The session the entry ran in (0 for `CreateSession` / `Tick`).
    pub session: u64,
    pub outcome: Result<Reply, Failure>,
    /// Watches fired by this entry on this replica, in the order ZooKeeper sends them.
    pub events: Vec<WatchEvent>,
}

/// Pending view of a node during preparation (ZooKeeper's `ChangeRecord`).
#[derive(Clone, Copy, Debug)]
struct Rec {
    version: i32,
    creates: i32,
    children: i32,
    owner: u64,
}

/// A validated change, applied only once every operation of the entry has been validated.
#[derive(Clone, Debug)]
enum Txn {
    Create { path: String, data: Vec<u8>, owner: u64, parent_creates: i32 },
    Delete { path: String },
    SetData { path: String, data: Vec<u8>, version: i32 },
    Check,
}

type Overlay = BTreeMap<String, Option<Rec>>;

/// ZooKeeper's data tree as a deterministic state machine.
#[derive(Clone, Debug)]
pub struct Tree {
    state: State,
    config: Config,
    watches: Watches,
    counters: Counters,
}

fn node_key(path: &str) -> &str {
    // ZooKeeper's DataTree maps both "" and "/" to the root.
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

fn split_parent(path: &str) -> Option<(&str, &str)> {
    let slash = path.rfind('/')?;
    Some((&path[..slash], &path[slash + 1..]))
}

impl Default for Tree {
    fn default() -> Self {
        Tree::new(Config::default())
    }
}

impl Tree {
    /// A tree as a fresh ZooKeeper 3.8 server has it: `/`, `/zookeeper`, `/zookeeper/quota` and
    /// `/zookeeper/config` (the latter with aversion -1), all at zxid 0.
    pub fn new(config: Config) -> Self {
        let mut nodes = BTreeMap::new();
        let mut root = Znode::new(0, 0, Vec::new(), 0);
        root.children.insert("zookeeper");
        let mut zk = Znode::new(0, 0, Vec::new(), 0);
        zk.children.insert("quota");
        zk.children.insert("config");
        let mut config_node = Znode::new(0, 0, Vec::new(), 0);
        config_node.aversion = -1;
        nodes.insert(String::from("/"), root);
        nodes.insert(String::from("/zookeeper"), zk);
        nodes.insert(String::from("/zookeeper/quota"), Znode::new(0, 0, Vec::new(), 0));
        nodes.insert(String::from("/zookeeper/config"), config_node);
        let state = State { zxid_last: 0, now_ms: 0, nodes, sessions: BTreeMap::new() };
        Tree { state, config, watches: Watches::default(), counters: Counters::default() }
    }

    /// A tree as a ZooKeeper ensemble starts it: like [`Tree::new`], but `/zookeeper/config`
    /// holds the ensemble's membership text, written at zxid 0 with version -1 as ZooKeeper's
    /// `initConfigInZKDatabase` does (a standalone server leaves it empty).
    pub fn with_membership(config: Config, membership: Vec<u8>) -> Self {
        let mut tree = Tree::new(config);
        if let Some(node) = tree.state.nodes.get_mut("/zookeeper/config") {
            node.data = membership;
            node.version = -1;
        }
        tree
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The zxid of the last applied entry (what a ZooKeeper read reports in its reply header).
    pub fn last_zxid(&self) -> u64 {
        self.state.zxid_last
    }

    /// Replicated time: the largest `now_ms` applied so far.
    pub fn now_ms(&self) -> u64 {
        self.state.now_ms
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    pub fn node_count(&self) -> usize {
        self.state.nodes.len()
    }

    pub fn session_count(&self) -> usize {
        self.state.sessions.len()
    }

    pub fn watch_count(&self) -> usize {
        self.watches.count()
    }

    /// Open sessions and their negotiated timeouts, in id order.
    pub fn sessions(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.state.sessions.iter().map(|(id, s)| (*id, s.timeout_ms))
    }

    /// Every znode's path and `Stat`, in path order: for a host or a test that inspects a replica
    /// (no session, no watch; not a ZooKeeper read).
    pub fn nodes(&self) -> impl Iterator<Item = (&str, Stat)> + '_ {
        self.state.nodes.iter().map(|(path, n)| (path.as_str(), n.stat()))
    }

    /// When `session` expires unless it is heard from: its last entry's time plus its timeout.
    pub fn session_deadline_ms(&self, session: u64) -> Option<u64> {
        self.state.sessions.get(&session).map(Session::deadline_ms)
    }

    // ---- writes ---------------------------------------------------------------------------

    /// Apply one committed entry as the kernel delivers it. `zxid` = `epoch << 32 | counter`
    /// and must increase from call to call. Never panics on any bytes: undecodable bytes are
    /// answered with `Malformed`, counted, and change nothing but the applied zxid.
    pub fn apply(&mut self, zxid: u64, entry_bytes: &[u8]) -> ApplyResult {
        if zxid <= self.state.zxid_last {
            self.counters.zxid_stale += 1;
            return ApplyResult { zxid, session: 0, outcome: Err(Error::StaleZxid.into()), events: Vec::new() };
        }
        match Entry::decode(entry_bytes) {
            Ok(entry) => self.apply_entry(zxid, entry),
            Err(e) => {
                self.counters.malformed += 1;
                self.state.zxid_last = zxid;
                ApplyResult { zxid, session: 0, outcome: Err(e.into()), events: Vec::new() }
            }
        }
    }

    /// [`Tree::apply`] for a host that already holds the decoded entry.
    pub fn apply_entry(&mut self, zxid: u64, entry: Entry) -> ApplyResult {
        if zxid <= self.state.zxid_last {
            self.counters.zxid_stale += 1;
            return ApplyResult { zxid, session: entry.session, outcome: Err(Error::StaleZxid.into()), events: Vec::new() };
        }
        self.state.zxid_last = zxid;
        self.state.now_ms = self.state.now_ms.max(entry.now_ms);
        let mut events = Vec::new();
        let session = entry.session;
        let outcome = self.apply_op(zxid, session, entry.op, &mut events);
        if let Err(f) = &outcome {
            if f.error == Error::BadArguments {
                self.counters.path_invalid += 1;
            }
        }
        ApplyResult { zxid, session, outcome, events }
    }

    fn apply_op(&mut self, zxid: u64, session: u64, op: Op, events: &mut Vec<WatchEvent>) -> Result<Reply, Failure> {
        match op {
            Op::CreateSession { timeout_ms } => {
                let timeout_ms = timeout_ms.clamp(self.config.session_timeout_min_ms, self.config.session_timeout_max_ms);
                let ephemerals = JavaSet::new(EPHEMERALS_CAPACITY_INITIAL);
                let session = Session { timeout_ms, touched_ms: self.state.now_ms, ephemerals, closing: false };
                self.state.sessions.insert(zxid, session);
                return Ok(Reply::Session { id: zxid, timeout_ms });
            }
            Op::Tick => return Ok(Reply::Expired(self.expire(zxid, events))),
            _ => {}
        }
        let now = self.state.now_ms;
        let Some(s) = self.state.sessions.get_mut(&session) else {
            self.counters.session_unknown += 1;
            return Err(Error::SessionExpired.into());
        };
        if s.closing && !matches!(op, Op::CloseSession) {
            // ZooKeeper's checkSession refuses a closing session; only its close goes through.
            self.counters.session_unknown += 1;
            return Err(Error::SessionExpired.into());
        }
        s.touched_ms = now;
        if self.data_too_large(&op) {
            self.counters.data_too_large += 1;
            return Err(Error::DataTooLarge.into());
        }
        match op {
            Op::CloseSession => {
                self.kill_session(zxid, session, events);
                Ok(Reply::Closed)
            }
            Op::Ping => Ok(Reply::Pong),
            Op::Create { path, data, mode } => {
                let txn = self.prep_create(&mut Overlay::new(), session, &path, data, mode)?;
                let created = self.apply_txn(zxid, txn, events);
                let stat = self.state.nodes.get(&created).map(Znode::stat).unwrap_or_default();
                Ok(Reply::Created { path: created, stat })
            }
            Op::Delete { path, version } => {
                let txn = self.prep_delete(&mut Overlay::new(), &path, version)?;
                self.apply_txn(zxid, txn, events);
                Ok(Reply::Deleted)
            }
            Op::SetData { path, data, version } => {
                let txn = self.prep_set_data(&mut Overlay::new(), &path, data, version)?;
                let path = self.apply_txn(zxid, txn, events);
                Ok(Reply::DataSet(self.state.nodes.get(&path).map(Znode::stat).unwrap_or_default()))
            }
            Op::Multi { ops } => self.multi(zxid, session, ops, events),
            Op::CreateSession { .. } | Op::Tick => Err(Error::Malformed.into()),
        }
    }

    fn data_too_large(&self, op: &Op) -> bool {
        let max = self.config.data_bytes_max;
        match op {
            Op::Create { data, .. } | Op::SetData { data, .. } => data.len() > max,
            Op::Multi { ops } => ops.iter().any(|o| match o {
                MultiOp::Create { data, .. } | MultiOp::SetData { data, .. } => data.len() > max,
                _ => false,
            }),
            _ => false,
        }
    }

    fn multi(&mut self, zxid: u64, session: u64, ops: Vec<MultiOp>, events: &mut Vec<WatchEvent>) -> Result<Reply, Failure> {
        let count = ops.len();
        let mut overlay = Overlay::new();
        let mut txns = Vec::with_capacity(count);
        for (i, op) in ops.into_iter().enumerate() {
            let prepared = match op {
                MultiOp::Create { path, data, mode } => self.prep_create(&mut overlay, session, &path, data, mode),
                MultiOp::Delete { path, version } => self.prep_delete(&mut overlay, &path, version),
                MultiOp::SetData { path, data, version } => self.prep_set_data(&mut overlay, &path, data, version),
                MultiOp::Check { path, version } => self.prep_check(&overlay, &path, version),
            };
            match prepared {
                Ok(t) => txns.push(t),
                Err(error) => {
                    let results = (0..count)
                        .map(|j| OpResult::Error(match j.cmp(&i) {
                            core::cmp::Ordering::Less => Error::RolledBack,
                            core::cmp::Ordering::Equal => error,
                            core::cmp::Ordering::Greater => Error::RuntimeInconsistency,
                        }))
                        .collect();
                    return Err(Failure { error, results });
                }
            }
        }
        let mut results = Vec::with_capacity(count);
        for txn in txns {
            let r = match &txn {
                Txn::Create { .. } => None,
                Txn::Delete { .. } => Some(OpResult::Delete),
                Txn::SetData { .. } => None,
                Txn::Check => Some(OpResult::Check),
            };
            let is_create = matches!(txn, Txn::Create { .. });
            let path = self.apply_txn(zxid, txn, events);
            results.push(match r {
                Some(r) => r,
                None if is_create => OpResult::Create { path },
                None => OpResult::SetData { stat: self.state.nodes.get(&path).map(Znode::stat).unwrap_or_default() },
            });
        }
        Ok(Reply::Multi(results))
    }

    // ---- preparation: ZooKeeper's PrepRequestProcessor, check for check -------------------

    fn record(&self, overlay: &Overlay, path: &str) -> Option<Rec> {
        let key = node_key(path);
        if let Some(pending) = overlay.get(key) {
            return *pending;
        }
        self.state.nodes.get(key).map(|n| Rec {
            version: n.version,
            creates: n.creates,
            children: n.children.len() as i32,
            owner: n.owner,
        })
    }

    fn check_version(current: i32, expected: i32) -> Result<i32, Error> {
        if expected != -1 && expected != current {
            return Err(Error::BadVersion);
        }
        Ok(current.wrapping_add(1))
    }

    fn prep_create(&self, overlay: &mut Overlay, session: u64, path: &str, data: Vec<u8>, mode: CreateMode) -> Result<Txn, Error> {
        let Some((parent_path, _)) = split_parent(path) else { return Err(Error::BadArguments) };
        if path.contains('\0') {
            return Err(Error::BadArguments);
        }
        let mut parent = self.record(overlay, parent_path).ok_or(Error::NoNode)?;
        let mut full = String::from(path);
        if mode.is_sequential() {
            // String.format("%010d", parentCVersion)
            let _ = write!(full, "{:010}", parent.creates);
        }
        validate_path(&full)?;
        if self.record(overlay, &full).is_some() {
            return Err(Error::NodeExists);
        }
        if parent.owner != 0 {
            return Err(Error::NoChildrenForEphemerals);
        }
        parent.creates = parent.creates.wrapping_add(1);
        parent.children += 1;
        let owner = if mode.is_ephemeral() { session } else { 0 };
        overlay.insert(String::from(node_key(parent_path)), Some(parent));
        overlay.insert(full.clone(), Some(Rec { version: 0, creates: 0, children: 0, owner }));
        Ok(Txn::Create { path: full, data, owner, parent_creates: parent.creates })
    }

    fn prep_delete(&self, overlay: &mut Overlay, path: &str, version: i32) -> Result<Txn, Error> {
        let Some((parent_path, _)) = split_parent(path) else { return Err(Error::BadArguments) };
        if path.contains('\0') || is_special(path) {
            return Err(Error::BadArguments);
        }
        let mut parent = self.record(overlay, parent_path).ok_or(Error::NoNode)?;
        let node = self.record(overlay, path).ok_or(Error::NoNode)?;
        Self::check_version(node.version, version)?;
        if node.children > 0 {
            return Err(Error::NotEmpty);
        }
        parent.children -= 1;
        overlay.insert(String::from(node_key(parent_path)), Some(parent));
        overlay.insert(String::from(path), None);
        Ok(Txn::Delete { path: String::from(path) })
    }

    fn prep_set_data(&self, overlay: &mut Overlay, path: &str, data: Vec<u8>, version: i32) -> Result<Txn, Error> {
        validate_path(path)?;
        let mut node = self.record(overlay, path).ok_or(Error::NoNode)?;
        let version = Self::check_version(node.version, version)?;
        node.version = version;
        overlay.insert(String::from(node_key(path)), Some(node));
        Ok(Txn::SetData { path: String::from(path), data, version })
    }

    fn prep_check(&self, overlay: &Overlay, path: &str, version: i32) -> Result<Txn, Error> {
        validate_path(path)?;
        let node = self.record(overlay, path).ok_or(Error::NoNode)?;
        Self::check_version(node.version, version)?;
        Ok(Txn::Check)
    }

    // ---- application: ZooKeeper's DataTree -------------------------------------------------

    /// Apply a validated change; returns the path it touched.
    fn apply_txn(&mut self, zxid: u64, txn: Txn, events: &mut Vec<WatchEvent>) -> String {
        match txn {
            Txn::Create { path, data, owner, parent_creates } => {
                self.create_node(zxid, &path, data, owner, parent_creates, events);
                path
            }
            Txn::Delete { path } => {
                self.delete_node(zxid, &path, events);
                path
            }
            Txn::SetData { path, data, version } => {
                let now = self.state.now_ms;
                if let Some(n) = self.state.nodes.get_mut(node_key(&path)) {
                    n.data = data;
                    n.version = version;
                    n.mzxid = zxid;
                    n.mtime = now;
                }
                self.watches.trigger(Table::Data, &path, EventType::NodeDataChanged, &BTreeSet::new(), events);
                path
            }
            Txn::Check => String::new(),
        }
    }

    fn create_node(&mut self, zxid: u64, path: &str, data: Vec<u8>, owner: u64, parent_creates: i32, events: &mut Vec<WatchEvent>) {
        let Some((parent_path, name)) = split_parent(path) else { return };
        let parent_key = node_key(parent_path);
        let Some(parent) = self.state.nodes.get_mut(parent_key) else {
            debug_assert!(false, "prepared create without a parent: {path}");
            return;
        };
        parent.children.insert(name);
        if parent_creates > parent.creates {
            parent.creates = parent_creates;
            parent.pzxid = zxid;
        }
        let parent_key = String::from(parent_key);
        self.state.nodes.insert(String::from(path), Znode::new(zxid, self.state.now_ms, data, owner));
        if owner != 0 {
            if let Some(s) = self.state.sessions.get_mut(&owner) {
                s.ephemerals.insert(path);
            }
        }
        self.watches.trigger(Table::Data, path, EventType::NodeCreated, &BTreeSet::new(), events);
        self.watches.trigger(Table::Child, &parent_key, EventType::NodeChildrenChanged, &BTreeSet::new(), events);
    }

    fn delete_node(&mut self, zxid: u64, path: &str, events: &mut Vec<WatchEvent>) {
        let Some((parent_path, name)) = split_parent(path) else { return };
        let parent_key = String::from(node_key(parent_path));
        if let Some(parent) = self.state.nodes.get_mut(&parent_key) {
            parent.children.remove(name);
            if zxid > parent.pzxid {
                parent.pzxid = zxid;
            }
        }
        let Some(node) = self.state.nodes.remove(path) else { return };
        if node.owner != 0 {
            if let Some(s) = self.state.sessions.get_mut(&node.owner) {
                s.ephemerals.remove(path);
            }
        }
        let fired = self.watches.trigger(Table::Data, path, EventType::NodeDeleted, &BTreeSet::new(), events);
        self.watches.trigger(Table::Child, path, EventType::NodeDeleted, &fired, events);
        self.watches.trigger(Table::Child, &parent_key, EventType::NodeChildrenChanged, &BTreeSet::new(), events);
    }

    /// Close or expire a session: delete its ephemerals in the order ZooKeeper's closeSession
    /// transaction lists them, then drop its watches. The session's own watches on those
    /// ephemerals still fire: ZooKeeper removes a session's watches only when its connection
    /// closes, after the closeSession transaction was applied.
    fn kill_session(&mut self, zxid: u64, session: u64, events: &mut Vec<WatchEvent>) {
        if let Some(s) = self.state.sessions.remove(&session) {
            for path in s.ephemerals.clone_order() {
                self.delete_node(zxid, path, events);
            }
        }
        self.watches.remove_session(session);
    }

    /// A `Tick`: mark every session past its deadline as closing, then expire the closing one
    /// with the earliest deadline (ties: the lower id). ZooKeeper's session tracker expires
    /// bucket after bucket in time order, each session by its own closeSession transaction; the
    /// order inside one bucket is a Java identity hash there, so any order of equal deadlines is
    /// one it could take, and the lower id is the one every replica can agree on.
    fn expire(&mut self, zxid: u64, events: &mut Vec<WatchEvent>) -> Option<u64> {
        let now = self.state.now_ms;
        let mut first: Option<(u64, u64)> = None;
        for (id, s) in self.state.sessions.iter_mut() {
            s.closing |= s.deadline_ms() <= now;
            if s.closing && first.map_or(true, |(deadline, _)| s.deadline_ms() < deadline) {
                first = Some((s.deadline_ms(), *id));
            }
        }
        let (_, id) = first?;
        self.kill_session(zxid, id, events);
        Some(id)
    }

    /// How many sessions a `Tick` found due that still wait for their own expiring tick: a host
    /// proposes another `Tick` while this is not zero.
    pub fn sessions_closing(&self) -> usize {
        self.state.sessions.values().filter(|s| s.closing).count()
    }

    /// The client of `session` lost its connection to this replica: drop the session's
    /// watches here, as ZooKeeper's `removeCnxn` does (a client sets them again when it
    /// reconnects). Local, like every watch: no entry, no zxid, the session stays open.
    pub fn disconnect(&mut self, session: u64) {
        self.watches.remove_session(session);
    }

    // ---- reads: local, no zxid ---------------------------------------------------------------

    fn check_session(&mut self, session: u64) -> Result<(), Error> {
        if self.state.sessions.get(&session).is_some_and(|s| !s.closing) {
            Ok(())
        } else {
            self.counters.session_unknown += 1;
            Err(Error::SessionExpired)
        }
    }

    /// `getData`: the node's data and Stat; with `watch`, a one-shot data watch (set only if
    /// the node exists, as in ZooKeeper).
    pub fn get_data(&mut self, session: u64, path: &str, watch: bool) -> Result<(&[u8], Stat), Error> {
        self.check_session(session)?;
        if !self.state.nodes.contains_key(node_key(path)) {
            return Err(Error::NoNode);
        }
        if watch {
            self.watches.add(Table::Data, path, session);
        }
        match self.state.nodes.get(node_key(path)) {
            Some(n) => Ok((&n.data, n.stat())),
            None => Err(Error::NoNode),
        }
    }

    /// `exists`: the Stat, or `None`; with `watch`, a one-shot data watch whether or not the
    /// node exists (it fires NodeCreated for a missing node).
    pub fn exists(&mut self, session: u64, path: &str, watch: bool) -> Result<Option<Stat>, Error> {
        self.check_session(session)?;
        if path.contains('\0') {
            self.counters.path_invalid += 1;
            return Err(Error::BadArguments);
        }
        if watch {
            self.watches.add(Table::Data, path, session);
        }
        Ok(self.state.nodes.get(node_key(path)).map(Znode::stat))
    }

    /// `getChildren2`: child names in ZooKeeper's order (Java `HashSet` iteration order) and the
    /// node's Stat; with `watch`, a one-shot child watch (set only if the node exists).
    pub fn get_children(&mut self, session: u64, path: &str, watch: bool) -> Result<(Vec<String>, Stat), Error> {
        self.check_session(session)?;
        let Some(n) = self.state.nodes.get(node_key(path)) else { return Err(Error::NoNode) };
        let children = n.children.java_order().into_iter().map(String::from).collect();
        let stat = n.stat();
        if watch {
            self.watches.add(Table::Child, path, session);
        }
        Ok((children, stat))
    }

    /// `sync`: answers the path. On a replica the host answers it once the replica has applied
    /// everything committed before the sync reached the leader.
    pub fn sync(&mut self, session: u64, path: &str) -> Result<String, Error> {
        self.check_session(session)?;
        Ok(String::from(path))
    }

    // ---- digest and snapshots --------------------------------------------------------------

    /// A snapshot of the replicated state (nodes, sessions, time, last zxid; not the local
    /// watches or counters): `[SNAPSHOT_FORMAT] ++ postcard(state)`, the same bytes on every
    /// target for the same state.
    pub fn snapshot(&self) -> Vec<u8> {
        let out = alloc::vec![SNAPSHOT_FORMAT];
        postcard::to_extend(&self.state, out).unwrap_or_default()
    }

    /// Restore a tree from [`Tree::snapshot`] bytes; checks the tree's shape (every node's
    /// parent exists and lists it, every ephemeral's session exists) and never panics.
    pub fn restore(config: Config, bytes: &[u8]) -> Result<Tree, Error> {
        let state = match bytes.split_first() {
            Some((&SNAPSHOT_FORMAT, body)) => match postcard::take_from_bytes::<State>(body) {
                Ok((state, [])) => state,
                _ => return Err(Error::Malformed),
            },
            _ => return Err(Error::Malformed),
        };
        Self::check_shape(&state)?;
        Ok(Tree { state, config, watches: Watches::default(), counters: Counters::default() })
    }

    fn check_shape(state: &State) -> Result<(), Error> {
        let root = state.nodes.get("/").ok_or(Error::Malformed)?;
        if root.owner != 0 {
            return Err(Error::Malformed);
        }
        let mut child_count = 0usize;
        for (path, node) in &state.nodes {
            child_count += node.children.len();
            if path == "/" {
                continue;
            }
            let (parent_path, name) = split_parent(path).ok_or(Error::Malformed)?;
            let parent = state.nodes.get(node_key(parent_path)).ok_or(Error::Malformed)?;
            if !parent.children.contains(name) || parent.owner != 0 {
                return Err(Error::Malformed);
            }
            if node.owner != 0 {
                let s = state.sessions.get(&node.owner).ok_or(Error::Malformed)?;
                if !s.ephemerals.contains(path) {
                    return Err(Error::Malformed);
                }
            }
        }
        if child_count + 1 != state.nodes.len() {
            return Err(Error::Malformed);
        }
        Ok(())
    }

    /// A deterministic 64-bit digest (FNV-1a) of the snapshot bytes: equal on every replica and
    /// target that applied the same entries. Not cryptographic.
    pub fn digest(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.snapshot() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }
}
