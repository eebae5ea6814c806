//! `Tree`: ZooKeeper 3.8's znode tree (crate `zaxos-tree`) for a JS host. The host proposes the
//! entries that the static encoders make (`Tree.create(…)`, `Tree.ping(…)`…) with
//! `Node.propose`, and applies every committed entry with `tree.apply(zxid, payload)` on every
//! replica; reads are local. Outcomes that ZooKeeper replicates (NoNode, NodeExists…) are data in
//! the apply result, never thrown; what is thrown is bad input from JS and failed local reads.

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::prelude::*;
use zaxos::Zxid;
use zaxos_tree::{ApplyResult, Config, CreateMode, Entry, Error, MultiOp, Op, OpResult, Reply, Stat, WatchEvent};

use crate::js::{array_of, bad_argument, bytes, bytes_of, error, get, kind, num, only_keys, set, u64_of, uint, uint_or, zxid, zxid_of};

#[wasm_bindgen(typescript_custom_section)]
const TS_TREE_TYPES: &'static str = r#"
/** A ZooKeeper session id: the packed zxid (`epoch << 32 | counter`) of the entry that opened it. */
export type SessionId = bigint;

/** Limits of a tree; every replica of one tree must use the same. Unknown properties are refused. */
export interface TreeLimits {
  /** Largest znode data a create or setData accepts (`DataTooLarge` above). Default 1 MiB. */
  dataBytesMax?: number;
  /** Session timeouts are clamped into [min, max] as ZooKeeper negotiates them. Default 4000. */
  sessionTimeoutMinMs?: number;
  /** Default 40000. */
  sessionTimeoutMaxMs?: number;
}

/** ZooKeeper's `Stat`, with the kernel's zxids and replicated time in ms. */
export interface Stat {
  /** zxid of the create. */
  czxid: Zxid;
  /** zxid of the last create or setData. */
  mzxid: Zxid;
  /** zxid of the last change to the children. */
  pzxid: Zxid;
  /** Replicated time of the create, in ms. */
  ctime: number;
  /** Replicated time of the last setData, in ms. */
  mtime: number;
  /** Number of setData since the create. */
  version: number;
  /** Child changes, as ZooKeeper reports them (2 × creations − numChildren). */
  cversion: number;
  aversion: number;
  /** The owning session of an ephemeral node, `0n` for a persistent one. */
  ephemeralOwner: SessionId;
  dataLength: number;
  numChildren: number;
}

/** How a node is created. */
export type CreateMode = "persistent" | "ephemeral" | "persistentSequential" | "ephemeralSequential";

/**
 * Why an operation failed: ZooKeeper's `KeeperException.Code` names (with their numeric `code`),
 * and the tree's own `DataTooLarge`, `Malformed` (bytes that are not an entry) and `StaleZxid`
 * (a zxid not above the last applied one), whose `code` is `null`.
 */
export type TreeErrorName =
  | "RolledBack" | "RuntimeInconsistency" | "BadArguments" | "NoNode" | "BadVersion"
  | "NoChildrenForEphemerals" | "NodeExists" | "NotEmpty" | "SessionExpired"
  | "DataTooLarge" | "Malformed" | "StaleZxid";

/** One operation of a multi, to encode with `Tree.multi`. */
export type MultiOp =
  | { kind: "create"; path: string; data?: Uint8Array | string; mode?: CreateMode }
  | { kind: "delete"; path: string; version?: number }
  | { kind: "setData"; path: string; data?: Uint8Array | string; version?: number }
  | { kind: "check"; path: string; version?: number };

/** One operation's result in a multi (ZooKeeper's `OpResult`). */
export type OpResult =
  | { kind: "create"; path: string }
  | { kind: "delete" }
  | { kind: "setData"; stat: Stat }
  | { kind: "check" }
  | { kind: "error"; error: TreeErrorName; code: number | null };

/** What an applied entry answered to the session that proposed it. */
export type Outcome =
  | { kind: "session"; id: SessionId; timeoutMs: number }
  | { kind: "closed" }
  | { kind: "pong" }
  | { kind: "expired"; sessions: SessionId[] }
  | { kind: "created"; path: string; stat: Stat }
  | { kind: "deleted" }
  | { kind: "dataSet"; stat: Stat }
  | { kind: "multi"; results: OpResult[] }
  /** `results` is empty but for a failed multi: one `error` result per operation. */
  | { kind: "error"; error: TreeErrorName; code: number | null; results: OpResult[] };

/** A fired one-shot watch, for the host to deliver to `session`'s client. */
export interface WatchEvent {
  session: SessionId;
  type: "NodeCreated" | "NodeDeleted" | "NodeDataChanged" | "NodeChildrenChanged";
  /** ZooKeeper's `EventType` number: 1, 2, 3 or 4. */
  code: number;
  path: string;
}

/** What applying one committed entry did on this replica. */
export interface ApplyResult {
  zxid: Zxid;
  /** The session the entry ran in (`0n` for openSession and tick). */
  session: SessionId;
  /** `outcome.kind !== "error"`. */
  ok: boolean;
  outcome: Outcome;
  /** Watches this entry fired on this replica, in the order ZooKeeper sends them. */
  events: WatchEvent[];
}

/** Bad input seen by a tree, by kind. */
export interface TreeCounters {
  malformed: number;
  zxidStale: number;
  pathInvalid: number;
  dataTooLarge: number;
  sessionUnknown: number;
}
"#;

/// ZooKeeper's data tree as a deterministic replicated state machine: apply every committed
/// entry with `apply(zxid, payload)`, in commit order, on every replica; the same entries give
/// the same `digest()` everywhere. Watches are local to this replica.
#[wasm_bindgen(js_name = Tree)]
pub struct JsTree {
    tree: zaxos_tree::Tree,
}

const LIMIT_KEYS: &[&str] = &["dataBytesMax", "sessionTimeoutMinMs", "sessionTimeoutMaxMs"];

fn limits(value: &JsValue) -> Result<Config, JsValue> {
    let mut config = Config::default();
    if value.is_undefined() {
        return Ok(config);
    }
    only_keys(value, LIMIT_KEYS, "limits")?;
    let field = |key: &str, what: &str, default: u64| uint_or(&get(value, key, "limits")?, default, u64::from(u32::MAX), what);
    config.data_bytes_max = field("dataBytesMax", "limits.dataBytesMax", config.data_bytes_max as u64)? as usize;
    config.session_timeout_min_ms = field("sessionTimeoutMinMs", "limits.sessionTimeoutMinMs", config.session_timeout_min_ms.into())? as u32;
    config.session_timeout_max_ms = field("sessionTimeoutMaxMs", "limits.sessionTimeoutMaxMs", config.session_timeout_max_ms.into())? as u32;
    if config.session_timeout_min_ms > config.session_timeout_max_ms {
        return Err(bad_argument("limits.sessionTimeoutMinMs", "at most sessionTimeoutMaxMs"));
    }
    Ok(config)
}

/// A failed local read: `NO_NODE`, `SESSION_EXPIRED` or `BAD_PATH`, with ZooKeeper's code.
fn read_error(e: Error) -> JsValue {
    let (code, message) = match e {
        Error::NoNode => ("NO_NODE", "no node at this path"),
        Error::SessionExpired => ("SESSION_EXPIRED", "the session is not open on this replica"),
        _ => ("BAD_PATH", "the path is not valid"),
    };
    let error = error(code, message);
    set(&error, "zkCode", zk_code(e));
    error
}

fn zk_code(e: Error) -> JsValue {
    e.zookeeper_code().map_or(JsValue::NULL, JsValue::from)
}

fn session(id: u64) -> JsValue {
    JsValue::from(id)
}

fn stat(s: &Stat) -> JsValue {
    let o = Object::new();
    set(&o, "czxid", zxid(Zxid::from_u64(s.czxid)));
    set(&o, "mzxid", zxid(Zxid::from_u64(s.mzxid)));
    set(&o, "pzxid", zxid(Zxid::from_u64(s.pzxid)));
    set(&o, "ctime", num(s.ctime));
    set(&o, "mtime", num(s.mtime));
    set(&o, "version", s.version);
    set(&o, "cversion", s.cversion);
    set(&o, "aversion", s.aversion);
    set(&o, "ephemeralOwner", session(s.ephemeral_owner));
    set(&o, "dataLength", s.data_length);
    set(&o, "numChildren", s.num_children);
    o.into()
}

fn failed(e: Error) -> Object {
    let o = kind("error");
    set(&o, "error", e.name());
    set(&o, "code", zk_code(e));
    o
}

fn op_result(r: &OpResult) -> JsValue {
    let o = match r {
        OpResult::Create { path } => {
            let o = kind("create");
            set(&o, "path", path.as_str());
            o
        }
        OpResult::Delete => kind("delete"),
        OpResult::SetData { stat: s } => {
            let o = kind("setData");
            set(&o, "stat", stat(s));
            o
        }
        OpResult::Check => kind("check"),
        OpResult::Error(e) => failed(*e),
    };
    o.into()
}

fn op_results(results: &[OpResult]) -> Array {
    results.iter().map(op_result).collect()
}

fn outcome(outcome: &Result<Reply, zaxos_tree::Failure>) -> JsValue {
    let o = match outcome {
        Ok(Reply::Session { id, timeout_ms }) => {
            let o = kind("session");
            set(&o, "id", session(*id));
            set(&o, "timeoutMs", *timeout_ms);
            o
        }
        Ok(Reply::Closed) => kind("closed"),
        Ok(Reply::Pong) => kind("pong"),
        Ok(Reply::Expired(ids)) => {
            let o = kind("expired");
            set(&o, "sessions", ids.iter().map(|id| session(*id)).collect::<Array>());
            o
        }
        Ok(Reply::Created { path, stat: s }) => {
            let o = kind("created");
            set(&o, "path", path.as_str());
            set(&o, "stat", stat(s));
            o
        }
        Ok(Reply::Deleted) => kind("deleted"),
        Ok(Reply::DataSet(s)) => {
            let o = kind("dataSet");
            set(&o, "stat", stat(s));
            o
        }
        Ok(Reply::Multi(results)) => {
            let o = kind("multi");
            set(&o, "results", op_results(results));
            o
        }
        Err(f) => {
            let o = failed(f.error);
            set(&o, "results", op_results(&f.results));
            o
        }
    };
    o.into()
}

fn event(e: &WatchEvent) -> JsValue {
    let o = Object::new();
    set(&o, "session", session(e.session));
    set(&o, "type", e.kind.name());
    set(&o, "code", e.kind as u32);
    set(&o, "path", e.path.as_str());
    o.into()
}

fn apply_result(r: &ApplyResult) -> JsValue {
    let o = Object::new();
    set(&o, "zxid", zxid(Zxid::from_u64(r.zxid)));
    set(&o, "session", session(r.session));
    set(&o, "ok", r.outcome.is_ok());
    set(&o, "outcome", outcome(&r.outcome));
    set(&o, "events", r.events.iter().map(event).collect::<Array>());
    o.into()
}

// ---- reading arguments of the encoders ----------------------------------------------------

/// Largest data an encoder copies; a proposal is bounded by the node's `payloadBytesMax` anyway.
const DATA_BYTES_MAX: usize = 1 << 24;

fn string_of(value: &JsValue, what: &str) -> Result<String, JsValue> {
    value.as_string().ok_or_else(|| bad_argument(what, "a string"))
}

/// A path as ZooKeeper's client checks it before sending (`PathUtils.validatePath`; a sequential
/// create's path gets its suffix, so it may end with `/`).
fn path_of(value: &JsValue, sequential: bool, what: &str) -> Result<String, JsValue> {
    let path = string_of(value, what)?;
    let checked = if sequential { [path.as_str(), "1"].concat() } else { path.clone() };
    zaxos_tree::validate_path(&checked).map_err(|_| bad_argument(what, "a valid ZooKeeper path"))?;
    Ok(path)
}

/// Data: a `Uint8Array`, a string (UTF-8) or nothing (empty).
fn data_of(value: &JsValue, what: &str) -> Result<Vec<u8>, JsValue> {
    if value.is_undefined() {
        return Ok(Vec::new());
    }
    if let Some(text) = value.as_string() {
        return Ok(text.into_bytes());
    }
    let (data, len) = bytes_of(value, DATA_BYTES_MAX, what)?;
    if len > data.len() {
        return Err(bad_argument(what, "at most 16 MiB"));
    }
    Ok(data)
}

fn mode_of(value: &JsValue, what: &str) -> Result<CreateMode, JsValue> {
    if value.is_undefined() {
        return Ok(CreateMode::Persistent);
    }
    match value.as_string().as_deref() {
        Some("persistent") => Ok(CreateMode::Persistent),
        Some("ephemeral") => Ok(CreateMode::Ephemeral),
        Some("persistentSequential") => Ok(CreateMode::PersistentSequential),
        Some("ephemeralSequential") => Ok(CreateMode::EphemeralSequential),
        _ => Err(bad_argument(what, "one of persistent, ephemeral, persistentSequential, ephemeralSequential")),
    }
}

/// A version: -1 (any, the default) or a non-negative 32-bit integer.
fn version_of(value: &JsValue, what: &str) -> Result<i32, JsValue> {
    match value.as_f64() {
        None if value.is_undefined() => Ok(-1),
        Some(-1.0) => Ok(-1),
        _ => Ok(uint(value, i32::MAX as u64, what)? as i32),
    }
}

fn bool_or_false(value: &JsValue, what: &str) -> Result<bool, JsValue> {
    if value.is_undefined() {
        return Ok(false);
    }
    value.as_bool().ok_or_else(|| bad_argument(what, "a boolean"))
}

fn multi_op(value: &JsValue) -> Result<MultiOp, JsValue> {
    const WHAT: &str = "ops[]";
    let kind = get(value, "kind", WHAT)?;
    let field = |key: &str| get(value, key, WHAT);
    let (keys, op): (&[&str], MultiOp) = match kind.as_string().as_deref() {
        Some("create") => {
            let mode = mode_of(&field("mode")?, "ops[].mode")?;
            let path = path_of(&field("path")?, mode.is_sequential(), "ops[].path")?;
            let data = data_of(&field("data")?, "ops[].data")?;
            (&["kind", "path", "data", "mode"], MultiOp::Create { path, data, mode })
        }
        Some("delete") => {
            let path = path_of(&field("path")?, false, "ops[].path")?;
            (&["kind", "path", "version"], MultiOp::Delete { path, version: version_of(&field("version")?, "ops[].version")? })
        }
        Some("setData") => {
            let path = path_of(&field("path")?, false, "ops[].path")?;
            let data = data_of(&field("data")?, "ops[].data")?;
            (&["kind", "path", "data", "version"], MultiOp::SetData { path, data, version: version_of(&field("version")?, "ops[].version")? })
        }
        Some("check") => {
            let path = path_of(&field("path")?, false, "ops[].path")?;
            (&["kind", "path", "version"], MultiOp::Check { path, version: version_of(&field("version")?, "ops[].version")? })
        }
        _ => return Err(bad_argument("ops[].kind", "one of create, delete, setData, check")),
    };
    only_keys(value, keys, WHAT)?;
    Ok(op)
}

fn encode(session: &JsValue, now_ms: &JsValue, op: Op) -> Result<Uint8Array, JsValue> {
    let session = u64_of(session, "session")?;
    let now_ms = u64_of(now_ms, "nowMs")?;
    Ok(bytes(&Entry::new(session, now_ms, op).encode()).unchecked_into())
}

#[wasm_bindgen(js_class = Tree)]
impl JsTree {
    /// A tree as a fresh ZooKeeper 3.8 server has it (`/`, `/zookeeper`, `/zookeeper/quota`,
    /// `/zookeeper/config`). Throws `BAD_ARGUMENT` for limits of the wrong shape.
    #[wasm_bindgen(constructor)]
    pub fn new(#[wasm_bindgen(unchecked_optional_param_type = "TreeLimits")] limits: JsValue) -> Result<JsTree, JsValue> {
        Ok(JsTree { tree: zaxos_tree::Tree::new(self::limits(&limits)?) })
    }

    /// Applies one committed entry (`commit.zxid`, `commit.payload` from `Node.takeCommits()`).
    /// ZooKeeper's outcomes, including failures, are in the result: they are replicated, so
    /// every replica answers the same. Bytes that are not an entry answer `Malformed`, a zxid not
    /// above the last applied one `StaleZxid`. Throws `BAD_ARGUMENT` only for a zxid or payload
    /// of the wrong type.
    #[wasm_bindgen(unchecked_return_type = "ApplyResult")]
    pub fn apply(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Zxid")] zxid: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] payload: JsValue,
    ) -> Result<JsValue, JsValue> {
        let zxid = zxid_of(&zxid, "zxid")?;
        let (payload, len) = bytes_of(&payload, DATA_BYTES_MAX, "payload")?;
        if len > payload.len() {
            return Err(bad_argument("payload", "at most 16 MiB"));
        }
        Ok(apply_result(&self.tree.apply(zxid.as_u64(), &payload)))
    }

    /// `getData`: `{ data, stat }`; with `watch`, a one-shot data watch on this replica.
    /// Throws `NO_NODE` or `SESSION_EXPIRED` (with ZooKeeper's `zkCode`).
    #[wasm_bindgen(js_name = getData, unchecked_return_type = "{ data: Uint8Array; stat: Stat }")]
    pub fn get_data(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "SessionId | number")] session: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] path: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "boolean")] watch: JsValue,
    ) -> Result<JsValue, JsValue> {
        let (session, path, watch) = (u64_of(&session, "session")?, string_of(&path, "path")?, bool_or_false(&watch, "watch")?);
        let (data, s) = self.tree.get_data(session, &path, watch).map_err(read_error)?;
        let o = Object::new();
        set(&o, "data", bytes(data));
        set(&o, "stat", stat(&s));
        Ok(o.into())
    }

    /// `exists`: the node's `Stat` or `null`; with `watch`, a one-shot data watch either way
    /// (it fires NodeCreated for a missing node). Throws `SESSION_EXPIRED` or `BAD_PATH`.
    #[wasm_bindgen(unchecked_return_type = "Stat | null")]
    pub fn exists(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "SessionId | number")] session: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] path: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "boolean")] watch: JsValue,
    ) -> Result<JsValue, JsValue> {
        let (session, path, watch) = (u64_of(&session, "session")?, string_of(&path, "path")?, bool_or_false(&watch, "watch")?);
        let found = self.tree.exists(session, &path, watch).map_err(read_error)?;
        Ok(found.as_ref().map_or(JsValue::NULL, stat))
    }

    /// `getChildren`: `{ children, stat }`, the names in ZooKeeper's order; with `watch`, a
    /// one-shot child watch on this replica. Throws `NO_NODE` or `SESSION_EXPIRED`.
    #[wasm_bindgen(js_name = getChildren, unchecked_return_type = "{ children: string[]; stat: Stat }")]
    pub fn get_children(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "SessionId | number")] session: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] path: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "boolean")] watch: JsValue,
    ) -> Result<JsValue, JsValue> {
        let (session, path, watch) = (u64_of(&session, "session")?, string_of(&path, "path")?, bool_or_false(&watch, "watch")?);
        let (children, s) = self.tree.get_children(session, &path, watch).map_err(read_error)?;
        let o = Object::new();
        set(&o, "children", children.iter().map(|c| JsValue::from_str(c)).collect::<Array>());
        set(&o, "stat", stat(&s));
        Ok(o.into())
    }

    /// Every znode's path and `Stat`, in path order: for a host that shows or checks a replica
    /// (no session, no watch; not a ZooKeeper read).
    #[wasm_bindgen(unchecked_return_type = "{ path: string; stat: Stat }[]")]
    pub fn nodes(&self) -> Array {
        self.tree
            .nodes()
            .map(|(path, s)| {
                let o = Object::new();
                set(&o, "path", path);
                set(&o, "stat", stat(&s));
                JsValue::from(o)
            })
            .collect()
    }

    /// How many sessions a `Tick` found due that still wait for a tick of their own (each
    /// tick expires one): the leader's host proposes another `Tick` while this is not zero.
    #[wasm_bindgen(js_name = sessionsClosing)]
    pub fn sessions_closing(&self) -> usize {
        self.tree.sessions_closing()
    }

    /// Open sessions with their negotiated timeouts and deadlines (last entry + timeout, in
    /// replicated ms), in id order.
    #[wasm_bindgen(unchecked_return_type = "{ id: SessionId; timeoutMs: number; deadlineMs: number }[]")]
    pub fn sessions(&self) -> Array {
        self.tree
            .sessions()
            .map(|(id, timeout_ms)| {
                let o = Object::new();
                set(&o, "id", session(id));
                set(&o, "timeoutMs", timeout_ms);
                set(&o, "deadlineMs", num(self.tree.session_deadline_ms(id).unwrap_or_default()));
                JsValue::from(o)
            })
            .collect()
    }

    /// The zxid of the last applied entry.
    #[wasm_bindgen(getter, js_name = lastZxid, unchecked_return_type = "Zxid")]
    pub fn last_zxid(&self) -> JsValue {
        zxid(Zxid::from_u64(self.tree.last_zxid()))
    }

    /// Replicated time: the largest `nowMs` applied so far.
    #[wasm_bindgen(getter, js_name = nowMs)]
    pub fn now_ms(&self) -> f64 {
        self.tree.now_ms() as f64
    }

    /// Watches set on this replica and not yet fired.
    #[wasm_bindgen(getter, js_name = watchCount)]
    pub fn watch_count(&self) -> u32 {
        self.tree.watch_count() as u32
    }

    /// Bad input seen so far, by kind.
    #[wasm_bindgen(getter, unchecked_return_type = "TreeCounters")]
    pub fn counters(&self) -> JsValue {
        let c = self.tree.counters();
        let o = Object::new();
        for (key, value) in [
            ("malformed", c.malformed),
            ("zxidStale", c.zxid_stale),
            ("pathInvalid", c.path_invalid),
            ("dataTooLarge", c.data_too_large),
            ("sessionUnknown", c.session_unknown),
        ] {
            set(&o, key, num(value));
        }
        o.into()
    }

    /// A 64-bit digest (FNV-1a over the snapshot bytes) of the replicated state: equal on every
    /// replica, and every target, that applied the same entries. Not cryptographic.
    pub fn digest(&self) -> u64 {
        self.tree.digest()
    }

    /// The replicated state (nodes, sessions, time, last zxid; not the local watches) as bytes,
    /// for `Node.compact` and `Tree.restore`.
    #[wasm_bindgen(unchecked_return_type = "Uint8Array")]
    pub fn snapshot(&self) -> JsValue {
        bytes(&self.tree.snapshot())
    }

    /// A tree from `snapshot()` bytes (a `Node.takeCommits()` snapshot, for one). Throws
    /// `BAD_SNAPSHOT` for bytes that are not a well-formed tree, `BAD_ARGUMENT` for bad limits.
    pub fn restore(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] data: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "TreeLimits")] limits: JsValue,
    ) -> Result<JsTree, JsValue> {
        let config = self::limits(&limits)?;
        let (data, len) = bytes_of(&data, usize::MAX, "data")?;
        debug_assert_eq!(data.len(), len);
        let tree = zaxos_tree::Tree::restore(config, &data).map_err(|_| error("BAD_SNAPSHOT", "not a snapshot of a tree"))?;
        Ok(JsTree { tree })
    }

    // ---- encoders: entries for Node.propose --------------------------------------------------

    /// An entry that opens a session; the timeout is negotiated into the tree's limits and the
    /// session's id is the zxid the entry commits at (see `outcome.id`).
    #[wasm_bindgen(js_name = openSession, unchecked_return_type = "Uint8Array")]
    pub fn open_session(
        #[wasm_bindgen(unchecked_param_type = "number")] timeout_ms: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number | bigint")] now_ms: JsValue,
    ) -> Result<Uint8Array, JsValue> {
        let timeout_ms = uint(&timeout_ms, u64::from(u32::MAX), "timeoutMs")? as u32;
        encode(&JsValue::from(0), &now_ms, Op::CreateSession { timeout_ms })
    }

    /// An entry that closes `session`, deleting its ephemeral nodes on every replica.
    #[wasm_bindgen(js_name = closeSession, unchecked_return_type = "Uint8Array")]
    pub fn close_session(
        #[wasm_bindgen(unchecked_param_type = "SessionId | number")] session: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number | bigint")] now_ms: JsValue,
    ) -> Result<Uint8Array, JsValue> {
        encode(&session, &now_ms, Op::CloseSession)
    }

    /// An entry that keeps `session` alive.
    #[wasm_bindgen(unchecked_return_type = "Uint8Array")]
    pub fn ping(
        #[wasm_bindgen(unchecked_param_type = "SessionId | number")] session: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number | bigint")] now_ms: JsValue,
    ) -> Result<Uint8Array, JsValue> {
        encode(&session, &now_ms, Op::Ping)
    }

    /// An entry that advances replicated time to `nowMs` and expires every session not heard
    /// from within its timeout (a host proposes one now and then, e.g. at the leader).
    #[wasm_bindgen(unchecked_return_type = "Uint8Array")]
    pub fn tick(#[wasm_bindgen(unchecked_param_type = "number | bigint")] now_ms: JsValue) -> Result<Uint8Array, JsValue> {
        encode(&JsValue::from(0), &now_ms, Op::Tick)
    }

    /// An entry that creates `path` (mode default `"persistent"`; a sequential path gets a
    /// 10-digit suffix). Throws `BAD_ARGUMENT` for a path ZooKeeper's client refuses.
    #[wasm_bindgen(unchecked_return_type = "Uint8Array")]
    pub fn create(
        #[wasm_bindgen(unchecked_param_type = "SessionId | number")] session: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number | bigint")] now_ms: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] path: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "Uint8Array | string")] data: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "CreateMode")] mode: JsValue,
    ) -> Result<Uint8Array, JsValue> {
        let mode = mode_of(&mode, "mode")?;
        let path = path_of(&path, mode.is_sequential(), "path")?;
        let data = data_of(&data, "data")?;
        encode(&session, &now_ms, Op::Create { path, data, mode })
    }

    /// An entry that deletes `path` if its version matches (`-1`, the default, matches any).
    #[wasm_bindgen(unchecked_return_type = "Uint8Array")]
    pub fn delete(
        #[wasm_bindgen(unchecked_param_type = "SessionId | number")] session: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number | bigint")] now_ms: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] path: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] version: JsValue,
    ) -> Result<Uint8Array, JsValue> {
        let path = path_of(&path, false, "path")?;
        let version = version_of(&version, "version")?;
        encode(&session, &now_ms, Op::Delete { path, version })
    }

    /// An entry that sets `path`'s data if its version matches (`-1`, the default, matches any).
    #[wasm_bindgen(js_name = setData, unchecked_return_type = "Uint8Array")]
    pub fn set_data(
        #[wasm_bindgen(unchecked_param_type = "SessionId | number")] session: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number | bigint")] now_ms: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] path: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | string")] data: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] version: JsValue,
    ) -> Result<Uint8Array, JsValue> {
        let path = path_of(&path, false, "path")?;
        let data = data_of(&data, "data")?;
        let version = version_of(&version, "version")?;
        encode(&session, &now_ms, Op::SetData { path, data, version })
    }

    /// An entry that runs `ops` all or nothing.
    #[wasm_bindgen(unchecked_return_type = "Uint8Array")]
    pub fn multi(
        #[wasm_bindgen(unchecked_param_type = "SessionId | number")] session: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number | bigint")] now_ms: JsValue,
        #[wasm_bindgen(unchecked_param_type = "MultiOp[]")] ops: JsValue,
    ) -> Result<Uint8Array, JsValue> {
        let ops = array_of(&ops, "ops")?.iter().map(|op| multi_op(&op)).collect::<Result<Vec<_>, _>>()?;
        encode(&session, &now_ms, Op::Multi { ops })
    }
}
