//! `Node`: one ZAB node for a JS host. The host supplies the network (it sends
//! the messages drained here and passes received bytes to `step`) and the
//! storage (it makes the drained writes durable and reports them with
//! `durable`); time arrives as `tick()`.

use alloc::vec;
use alloc::vec::Vec;

use js_sys::Array;
use wasm_bindgen::prelude::*;
use zaxos::storage::{Storage, VecStorage};
use zaxos::{Apply, Event, Proposed, Role, Write, WriteKind};

use crate::config::{self, Capacity};
use crate::errors;
use crate::js::{bytes, bytes_of, kind, num, set, uint, zxid, zxid_of};

#[cfg(feature = "packed")]
mod packed;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** A transaction id: the leader's epoch (Paxos ballot) and the proposal's number in it. */
export interface Zxid {
  epoch: number;
  counter: number;
}

/** How a node is set up. Only `id` and `voters` are required; unknown properties are refused. */
export interface NodeConfig {
  /** This node's id, 1..65535 (0 means nobody). */
  id: number;
  /** Ids of the nodes that vote (this node's included if it votes). At most 9 members in all. */
  voters: number[];
  /** Ids of the nodes that receive the committed stream but never vote. Default none. */
  observers?: number[];
  /** Messages carrying another cluster id are refused. Default 0. */
  clusterId?: number;
  /** Seed of the election timeout jitter, the only randomness inside. Default 0. */
  seed?: number | bigint;
  /** Ticks without a leader before electing; the timeout is drawn from [T, 2T). Default 10. */
  electionTimeoutTicks?: number;
  /** Ticks between leader heartbeats and retransmissions; below electionTimeoutTicks. Default 2. */
  heartbeatTicks?: number;
  /** Largest encoded message, envelope included. Default 1400. */
  messageBytesMax?: number;
  /** Proposals sent to one peer and not yet acknowledged, at most. Default 4096. */
  inflightEntriesMax?: number;
  /** Entries the history holds at most before a snapshot must make room. Default 65536. */
  entriesMax?: number;
  /** Payload bytes the history holds at most. Default 16 MiB. */
  bytesMax?: number;
  /** Largest snapshot. Default 16 MiB. */
  snapshotBytesMax?: number;
}

/** The persistent epochs of ZAB. */
export interface HardState {
  /** Highest epoch promised (Paxos: highest ballot promised). */
  acceptedEpoch: number;
  /** The leader that promise was made to. */
  promisedLeader: number;
  /** Epoch of the last NEWLEADER accepted: whose history this node holds. */
  currentEpoch: number;
  /** How many times this node started (one more, durable, at every start). Optional when
   * handing back a hard state written before it existed (then 0). */
  incarnation?: number;
  /** Everything up to here is known committed: never truncated after a restart. Optional
   * when handing back a hard state written before it existed. */
  commitFloor?: Zxid;
}

/** One history entry. `index` numbers entries from 1 since the beginning of time. */
export interface Entry {
  index: number;
  zxid: Zxid;
  payload: Uint8Array;
}

/** A snapshot of the state machine covering every position up to `index`. */
export interface Snapshot {
  index: number;
  zxid: Zxid;
  data: Uint8Array;
}

/**
 * What a host made durable, handed to `new Node(config, durable)` after a restart.
 * `entries` follow the snapshot (or position 1) without gaps, in zxid order.
 */
export interface Durable {
  hardState?: HardState;
  snapshot?: Snapshot | null;
  entries?: { zxid: Zxid; payload: Uint8Array }[];
}

/**
 * A storage change to make durable, in `seq` order; then report `node.durable(seq)`.
 * - `hardState`: store the hard state.
 * - `append`: store the entries at positions `first..=last`, dropping any durable entry from `first` on.
 * - `truncate`: drop every entry after position `after`.
 * - `snapshot`: store the snapshot; with `replacesHistory` (received from the leader) drop every
 *   entry, otherwise (the host's own snapshot) drop the entries up to `index`.
 */
export type Write =
  | { kind: "hardState"; seq: number; hardState: HardState }
  | { kind: "append"; seq: number; first: number; last: number; entries: Entry[] }
  | { kind: "truncate"; seq: number; after: number }
  | { kind: "snapshot"; seq: number; index: number; zxid: Zxid; data: Uint8Array; replacesHistory: boolean };

/** Something committed, to apply to the state machine in this order. */
export type Commit =
  | { kind: "entry"; index: number; zxid: Zxid; payload: Uint8Array }
  | { kind: "snapshot"; index: number; zxid: Zxid; data: Uint8Array }
  | { kind: "membership"; index: number; zxid: Zxid; voters: number[]; observers: number[] };

/** Who votes and who observes; `pending` is a proposed change not yet known committed. */
export interface Membership {
  voters: number[];
  observers: number[];
  pending: { voters: number[]; observers: number[] } | null;
}

/** A membership change: add a node as an observer, promote an observer, demote a voter, remove a member. */
export type MembershipChangeKind = "addObserver" | "promote" | "demote" | "remove";

/** A role a node can be in. */
export type Role = "looking" | "following" | "leading" | "observing";

/**
 * Something to observe or act on.
 * - `role`: this node changed role.
 * - `leader`: a leader established `epoch` (seen by the leader and each synced learner).
 * - `snapshotWanted`: storage is filling up; snapshot the applied state and call `compact`.
 * - `readReady`: read `id` (from `read`) may be served from the applied state: `zxid` is applied.
 * - `readFailed`: read `id` could not be confirmed (leader changed, or no answer in time); retry.
 * - `transferFailed`: a leadership transfer to `to` did not complete in time; this node leads on.
 * - `membership`: a membership change committed at `zxid`; `membership` names the members now.
 */
export type NodeEvent =
  | { kind: "role"; role: Role }
  | { kind: "leader"; leader: number; epoch: number }
  | { kind: "snapshotWanted"; usedPercent: number; applied: Zxid }
  | { kind: "readReady"; id: number; zxid: Zxid }
  | { kind: "readFailed"; id: number }
  | { kind: "transferFailed"; to: number }
  | { kind: "membership"; zxid: Zxid };

/** A message to send: `bytes` go to node `to`. */
export interface Message {
  to: number;
  bytes: Uint8Array;
}

/** Everything a node has to hand out, drained at once. */
export interface Outputs {
  messages: Message[];
  writes: Write[];
  commits: Commit[];
  events: NodeEvent[];
}

/** Where a proposal went: this node leads and gave it a zxid, or it was forwarded to the leader. */
export type Proposal =
  | { kind: "local"; zxid: Zxid }
  | { kind: "forwarded"; leader: number };

/** Counts of refused input, by reason. */
export interface Counters {
  undecodable: number;
  badVersion: number;
  wrongCluster: number;
  wrongReceiver: number;
  oversized: number;
  unknownSender: number;
  staleEpoch: number;
  unexpected: number;
  duplicate: number;
  busy: number;
  conflict: number;
  proposeBusy: number;
  forwardDropped: number;
  eventsDropped: number;
  /** Messages of another learner handshake (late, duplicated or replayed). Normal after faults. */
  otherExchange: number;
  /** Messages with fields no correct peer sends (forged or corrupted). Never normal. */
  implausible: number;
  sendsDropped: number;
}

/**
 * Every error thrown by this package is an `Error` with one of these codes
 * (and sometimes `reason`, `argument`, `len`/`max`, `sender` properties).
 */
export type ErrorCode =
  | "BAD_ARGUMENT" | "BAD_CONFIG" | "BAD_MESSAGE" | "UNKNOWN_SENDER" | "STALE_EPOCH"
  | "UNEXPECTED" | "DUPLICATE" | "BUSY" | "CONFLICT" | "STORAGE_FULL" | "STORAGE"
  | "NO_LEADER" | "TOO_LARGE" | "NOT_APPLIED" | "TRANSFERRING" | "NOT_LEADER";
"#;

/// One ZAB node, driven by a JS host: inputs `tick`, `step`, `propose`,
/// `durable`, `compact`; outputs drained as plain objects by `takeMessages`,
/// `takeWrites`, `takeCommits`, `takeEvents` (or all at once by `drain`).
///
/// Rules of the host loop: make every write durable in `seq` order before
/// reporting it with `durable(seq)` (the node acknowledges nothing before
/// that); send the messages to their `to`; apply the commits in order.
/// Every error is thrown as an `Error` with a stable `code`.
/// The kernel node type: the simulator's own (same storage, same forward buffer), so the
/// package holds one copy of the kernel's code, not two.
type KernelNode = zaxos::Node<VecStorage, 4096>;

#[wasm_bindgen(js_name = Node)]
pub struct JsNode {
    node: KernelNode,
    capacity: Capacity,
    buf: Vec<u8>,
    writes: Array,
}

pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Looking => "looking",
        Role::Following => "following",
        Role::Leading => "leading",
        Role::Observing => "observing",
    }
}

fn hard_state(h: zaxos::storage::HardState) -> JsValue {
    let object = js_sys::Object::new();
    set(&object, "acceptedEpoch", h.accepted_epoch);
    set(&object, "promisedLeader", h.promised_leader);
    set(&object, "currentEpoch", h.current_epoch);
    set(&object, "incarnation", h.incarnation);
    js_sys::Reflect::set(&object, &"commitFloor".into(), &crate::js::zxid(h.commit_floor)).ok();
    object.into()
}

/// An entry as stored (`proposed` false: what a host persists and hands back at a restart,
/// framed as `zaxos::stored` says) or as proposed.
fn entry<S: Storage>(storage: &S, index: u64, proposed: bool) -> Option<JsValue> {
    let object = js_sys::Object::new();
    set(&object, "index", num(index));
    set(&object, "zxid", zxid(storage.zxid_at(index)?));
    let stored = storage.payload_at(index)?;
    let payload = match zaxos::stored::decode(stored) {
        zaxos::stored::Stored::Command(payload) | zaxos::stored::Stored::Membership(payload) if proposed => payload,
        _ => stored,
    };
    set(&object, "payload", bytes(payload));
    Some(object.into())
}

/// The snapshot as stored (`host_data` false: what a host persists and hands back at a
/// restart, the kernel's membership first) or the state machine's data alone.
fn snapshot<S: Storage>(object: &JsValue, storage: &S, host_data: bool) {
    let (index, z) = storage.snapshot_point();
    set(object, "index", num(index));
    set(object, "zxid", zxid(z));
    let stored = storage.snapshot_data();
    let data = if host_data { zaxos::membership::snapshot_host_data(stored) } else { stored };
    set(object, "data", bytes(data));
}

/// A write as a plain object, with the entries or snapshot it names copied out.
pub(crate) fn write_object<S: Storage>(storage: &S, write: Write) -> JsValue {
    let object: JsValue = match write.kind {
        WriteKind::HardState(h) => {
            let o = kind("hardState");
            set(&o, "hardState", hard_state(h));
            o.into()
        }
        WriteKind::Append { first, last } => {
            let o = kind("append");
            set(&o, "first", num(first));
            set(&o, "last", num(last));
            let entries: Array = (first..=last).filter_map(|i| entry(storage, i, false)).collect();
            set(&o, "entries", entries);
            o.into()
        }
        WriteKind::Truncate { after } => {
            let o = kind("truncate");
            set(&o, "after", num(after));
            o.into()
        }
        WriteKind::Snapshot { index, zxid: z, replaces_history } => {
            let o: JsValue = kind("snapshot").into();
            snapshot(&o, storage, false);
            // The write names its own point; the data is the snapshot now held.
            set(&o, "index", num(index));
            set(&o, "replacesHistory", replaces_history);
            set(&o, "zxid", zxid(z));
            o
        }
    };
    set(&object, "seq", num(write.seq));
    object
}

pub(crate) fn event_object(event: Event) -> JsValue {
    match event {
        Event::Role { role } => {
            let o = kind("role");
            set(&o, "role", role_name(role));
            o.into()
        }
        Event::Leader { leader, epoch } => {
            let o = kind("leader");
            set(&o, "leader", leader);
            set(&o, "epoch", epoch);
            o.into()
        }
        Event::SnapshotWanted { used_percent, applied } => {
            let o = kind("snapshotWanted");
            set(&o, "usedPercent", used_percent);
            set(&o, "applied", zxid(applied));
            o.into()
        }
        Event::ReadReady { id, zxid: at } => {
            let o = kind("readReady");
            set(&o, "id", id);
            set(&o, "zxid", zxid(at));
            o.into()
        }
        Event::ReadFailed { id } => {
            let o = kind("readFailed");
            set(&o, "id", id);
            o.into()
        }
        Event::TransferFailed { to } => {
            let o = kind("transferFailed");
            set(&o, "to", to);
            o.into()
        }
        Event::Membership { zxid: at } => {
            let o = kind("membership");
            set(&o, "zxid", zxid(at));
            o.into()
        }
    }
}

fn ids(list: &[u16]) -> JsValue {
    let array = js_sys::Array::new();
    for id in list {
        array.push(&JsValue::from(*id));
    }
    array.into()
}

fn membership_lists(o: &js_sys::Object, voters: &[u16], observers: &[u16]) {
    set(o, "voters", ids(voters));
    set(o, "observers", ids(observers));
}

pub(crate) fn commit_object(apply: Apply<'_>) -> JsValue {
    let (o, index, z, key, data) = match apply {
        Apply::Entry { index, zxid, payload } => (kind("entry"), index, zxid, "payload", payload),
        Apply::Snapshot { index, zxid, data } => (kind("snapshot"), index, zxid, "data", data),
        Apply::Membership { index, zxid: z, encoded } => {
            let o = kind("membership");
            set(&o, "index", num(index));
            set(&o, "zxid", zxid(z));
            let (voters, observers) = zaxos::Membership::decode(encoded).map_or((Vec::new(), Vec::new()), |(m, _)| (m.voters.to_vec(), m.observers.to_vec()));
            membership_lists(&o, &voters, &observers);
            return o.into();
        }
    };
    set(&o, "index", num(index));
    set(&o, "zxid", zxid(z));
    set(&o, key, bytes(data));
    o.into()
}

#[wasm_bindgen(js_class = Node)]
impl JsNode {
    /// A node from its configuration and, after a restart, what the host had
    /// made durable (omit it for a node that starts empty).
    ///
    /// Throws `BAD_ARGUMENT` for values of the wrong type or range (or unknown
    /// properties), `BAD_CONFIG` for a configuration the kernel refuses, and
    /// `STORAGE_FULL`/`STORAGE` when the durable state exceeds the capacities.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "NodeConfig")] config: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "Durable")] durable: JsValue,
    ) -> Result<JsNode, JsValue> {
        let (config, capacity) = config::parse(&config)?;
        let storage = config::storage(&durable, capacity)?;
        let buf = vec![0; config.message_bytes_max];
        let node = zaxos::Node::new(config, storage).map_err(errors::config)?;
        // The writes of the start (its incarnation) stay in the node's queue until the first
        // input or drain: the object methods collect them with their own, and a packed host
        // takes them with `takeWritesPacked`. Nothing changes storage before that, so they
        // read the same then as now.
        Ok(JsNode { node, capacity, buf, writes: Array::new() })
    }

    fn collect_writes(&mut self) {
        // Taken at once, while the entries they name are still in memory as written.
        while let Some(write) = self.node.poll_write() {
            self.writes.push(&write_object(self.node.storage(), write));
        }
    }

    /// Advances logical time by one tick.
    pub fn tick(&mut self) {
        self.node.tick();
        self.collect_writes();
    }

    /// Handles one received message (a `Uint8Array`). Throws on a refused
    /// message (`BAD_MESSAGE`, `UNKNOWN_SENDER`, `STALE_EPOCH`, `UNEXPECTED`,
    /// `DUPLICATE`, `BUSY`, `CONFLICT`, `STORAGE_FULL`); the node's state is
    /// intact then and the refusal is counted in `counters`.
    pub fn step(&mut self, #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue) -> Result<(), JsValue> {
        let max = self.node.config().message_bytes_max;
        // One byte past the limit is enough for the kernel to refuse (and count) an oversized message.
        let (bytes, len) = bytes_of(&bytes, max.saturating_add(1), "bytes")?;
        let result = self.node.step(&bytes);
        self.collect_writes();
        result.map_err(|e| match e {
            zaxos::StepError::Wire(zaxos::wire::WireError::Oversized(_)) => errors::step(zaxos::StepError::Wire(zaxos::wire::WireError::Oversized(len))),
            e => errors::step(e),
        })
    }

    /// Proposes a payload (a `Uint8Array`). At the leader it gets a zxid; at a
    /// learner it is forwarded to the leader. Throws `TOO_LARGE` (over
    /// `payloadBytesMax`), `BUSY` (back off and retry) or `NO_LEADER`.
    #[wasm_bindgen(unchecked_return_type = "Proposal")]
    pub fn propose(&mut self, #[wasm_bindgen(unchecked_param_type = "Uint8Array")] payload: JsValue) -> Result<JsValue, JsValue> {
        let max = self.node.config().payload_bytes_max();
        let (payload, len) = bytes_of(&payload, max, "payload")?;
        if len > max {
            return Err(errors::propose(zaxos::ProposeError::TooLarge { len, max }));
        }
        let result = self.node.propose(&payload);
        self.collect_writes();
        Ok(match result.map_err(errors::propose)? {
            Proposed::Local(z) => {
                let o = kind("local");
                set(&o, "zxid", zxid(z));
                o.into()
            }
            Proposed::Forwarded { leader } => {
                let o = kind("forwarded");
                set(&o, "leader", leader);
                o.into()
            }
        })
    }

    /// Asks for a read: `"sync"` (sees every write the leader had committed when it got the
    /// read) or `"linearizable"` (the leader first confirms with a majority that it still
    /// leads). Returns the read's id; a `readReady` event with that id follows once the
    /// read point is applied (serve the read from the applied state then), or `readFailed`.
    /// Local reads need no call. Throws `BAD_ARGUMENT`, `NO_LEADER` or `BUSY`.
    pub fn read(&mut self, #[wasm_bindgen(unchecked_param_type = "\"sync\" | \"linearizable\"")] kind: JsValue) -> Result<u32, JsValue> {
        let kind = match kind.as_string().as_deref() {
            Some("sync") => zaxos::ReadKind::Sync,
            Some("linearizable") => zaxos::ReadKind::Linearizable,
            _ => return Err(crate::js::bad_argument("kind", "\"sync\" or \"linearizable\"")),
        };
        let result = self.node.read(kind);
        self.collect_writes();
        result.map_err(errors::read)
    }

    /// Hands leadership over to voter `to`: no proposals meanwhile (`TRANSFERRING`); once `to`
    /// holds the whole history every member follows it. A `transferFailed` event follows if it
    /// does not complete in time. Throws `NOT_LEADER`, `BAD_ARGUMENT` or `BUSY`.
    #[wasm_bindgen(js_name = transferLeadership)]
    pub fn transfer_leadership(&mut self, #[wasm_bindgen(unchecked_param_type = "number")] to: JsValue) -> Result<(), JsValue> {
        let to = uint(&to, u64::from(u16::MAX), "to")? as u16;
        self.node.transfer_leadership(to).map_err(errors::transfer)
    }

    /// Proposes a membership change at the leader (`"addObserver"`, `"promote"`, `"demote"` or
    /// `"remove"` of node `id`); it takes effect when committed (a `membership` event). A voter
    /// joins as an observer first, then is promoted once caught up. Returns the entry's zxid.
    /// Throws `NOT_LEADER`, `BUSY` (another change in flight, or full queues) or `BAD_ARGUMENT`.
    #[wasm_bindgen(js_name = changeMembership, unchecked_return_type = "Zxid")]
    pub fn change_membership(&mut self, #[wasm_bindgen(unchecked_param_type = "MembershipChangeKind")] kind: JsValue, #[wasm_bindgen(unchecked_param_type = "number")] id: JsValue) -> Result<JsValue, JsValue> {
        use zaxos::MembershipChange;
        let id = uint(&id, u64::from(u16::MAX), "id")? as u16;
        let change = match kind.as_string().as_deref() {
            Some("addObserver") => MembershipChange::AddObserver(id),
            Some("promote") => MembershipChange::PromoteToVoter(id),
            Some("demote") => MembershipChange::DemoteToObserver(id),
            Some("remove") => MembershipChange::Remove(id),
            _ => return Err(crate::js::bad_argument("kind", "\"addObserver\", \"promote\", \"demote\" or \"remove\"")),
        };
        let at = self.node.change_membership(change).map_err(errors::membership)?;
        self.collect_writes();
        Ok(zxid(at))
    }

    /// The membership as this node knows it.
    #[wasm_bindgen(getter, unchecked_return_type = "Membership")]
    pub fn membership(&self) -> JsValue {
        let o = js_sys::Object::new();
        let config = self.node.config();
        membership_lists(&o, &config.voters, &config.observers);
        match self.node.pending_membership() {
            Some(p) => {
                let pending = js_sys::Object::new();
                membership_lists(&pending, &p.voters, &p.observers);
                set(&o, "pending", pending);
            }
            None => set(&o, "pending", JsValue::NULL),
        }
        o.into()
    }

    /// Reports that every write up to `seq` is durable.
    pub fn durable(&mut self, #[wasm_bindgen(unchecked_param_type = "number")] seq: JsValue) -> Result<(), JsValue> {
        let seq = uint(&seq, (1u64 << 53) - 1, "seq")?;
        self.node.durable(seq);
        self.collect_writes();
        Ok(())
    }

    /// Hands over a snapshot (`data`) of the state machine as of the applied
    /// zxid `at`; the history up to it is dropped and the snapshot serves lagging
    /// followers. Throws `NOT_APPLIED`, `BUSY` or `STORAGE`.
    pub fn compact(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Zxid")] at: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] data: JsValue,
    ) -> Result<(), JsValue> {
        let at = zxid_of(&at, "zxid")?;
        let (data, len) = bytes_of(&data, self.capacity.snapshot_bytes_max, "data")?;
        if len > data.len() {
            return Err(errors::storage(zaxos::storage::StorageError::SnapshotTooLarge));
        }
        let result = self.node.compact(at, &data);
        self.collect_writes();
        result.map_err(errors::compact)
    }

    /// The messages to send, in order.
    #[wasm_bindgen(js_name = takeMessages, unchecked_return_type = "Message[]")]
    pub fn take_messages(&mut self) -> Array {
        let out = Array::new();
        while let Some(t) = self.node.poll_transmit(&mut self.buf) {
            let message = js_sys::Object::new();
            set(&message, "to", t.to);
            set(&message, "bytes", bytes(self.buf.get(..t.len).unwrap_or_default()));
            out.push(&message);
        }
        out
    }

    /// The storage writes to make durable, in `seq` order (each with the
    /// entries or snapshot it stores).
    #[wasm_bindgen(js_name = takeWrites, unchecked_return_type = "Write[]")]
    pub fn take_writes(&mut self) -> Array {
        // Those of the start, when no input came yet.
        self.collect_writes();
        core::mem::replace(&mut self.writes, Array::new())
    }

    /// The committed entries (or a snapshot to restore) to apply, in order.
    #[wasm_bindgen(js_name = takeCommits, unchecked_return_type = "Commit[]")]
    pub fn take_commits(&mut self) -> Array {
        let out = Array::new();
        while let Some(apply) = self.node.poll_commit() {
            out.push(&commit_object(apply));
        }
        out
    }

    /// The events since the last call.
    #[wasm_bindgen(js_name = takeEvents, unchecked_return_type = "NodeEvent[]")]
    pub fn take_events(&mut self) -> Array {
        let out = Array::new();
        while let Some(event) = self.node.poll_event() {
            out.push(&event_object(event));
        }
        out
    }

    /// Every output at once: `{ messages, writes, commits, events }`.
    #[wasm_bindgen(unchecked_return_type = "Outputs")]
    pub fn drain(&mut self) -> JsValue {
        let o = js_sys::Object::new();
        set(&o, "writes", self.take_writes());
        set(&o, "messages", self.take_messages());
        set(&o, "commits", self.take_commits());
        set(&o, "events", self.take_events());
        o.into()
    }

    /// This node's id.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> u16 {
        self.node.id()
    }

    /// The current role: `"looking"`, `"following"`, `"leading"` or `"observing"`.
    #[wasm_bindgen(getter, unchecked_return_type = "Role")]
    pub fn role(&self) -> JsValue {
        JsValue::from_str(role_name(self.node.role()))
    }

    /// The leader this node follows or is, once its epoch is established here.
    #[wasm_bindgen(getter)]
    pub fn leader(&self) -> Option<u16> {
        self.node.leader()
    }

    /// Whether this node leads an established epoch (and so takes proposals itself).
    #[wasm_bindgen(getter, js_name = isLeader)]
    pub fn is_leader(&self) -> bool {
        self.node.is_established_leader()
    }

    /// The epoch of the leader this node leads or follows (0 while looking).
    #[wasm_bindgen(getter)]
    pub fn epoch(&self) -> u32 {
        self.node.epoch()
    }

    /// The election round (ZooKeeper's logical clock).
    #[wasm_bindgen(getter)]
    pub fn round(&self) -> f64 {
        self.node.round() as f64
    }

    /// Logical time in ticks since start.
    #[wasm_bindgen(getter, js_name = nowTicks)]
    pub fn now_ticks(&self) -> f64 {
        self.node.now_ticks() as f64
    }

    /// The last zxid in the history.
    #[wasm_bindgen(getter, js_name = lastZxid, unchecked_return_type = "Zxid")]
    pub fn last_zxid(&self) -> JsValue {
        zxid(self.node.last_zxid())
    }

    /// The last zxid reported durable.
    #[wasm_bindgen(getter, js_name = durableZxid, unchecked_return_type = "Zxid")]
    pub fn durable_zxid(&self) -> JsValue {
        zxid(self.node.durable_zxid())
    }

    /// Everything up to this zxid is committed.
    #[wasm_bindgen(getter, js_name = commitZxid, unchecked_return_type = "Zxid")]
    pub fn commit_zxid(&self) -> JsValue {
        zxid(self.node.commit_zxid())
    }

    /// Position of the commit point.
    #[wasm_bindgen(getter, js_name = commitIndex)]
    pub fn commit_index(&self) -> f64 {
        self.node.commit_index() as f64
    }

    /// Position of the last entry handed out by `takeCommits`.
    #[wasm_bindgen(getter, js_name = appliedIndex)]
    pub fn applied_index(&self) -> f64 {
        self.node.applied_index() as f64
    }

    /// Position of the last entry in the history.
    #[wasm_bindgen(getter, js_name = lastIndex)]
    pub fn last_index(&self) -> f64 {
        self.node.storage().last_index() as f64
    }

    /// The persistent epochs as this node holds them in memory.
    #[wasm_bindgen(getter, js_name = hardState, unchecked_return_type = "HardState")]
    pub fn hard_state(&self) -> JsValue {
        hard_state(self.node.hard_state())
    }

    /// The largest payload `propose` takes.
    #[wasm_bindgen(getter, js_name = payloadBytesMax)]
    pub fn payload_bytes_max(&self) -> u32 {
        self.node.config().payload_bytes_max() as u32
    }

    /// Counts of refused input, by reason, and of messages that could not be sent.
    #[wasm_bindgen(getter, unchecked_return_type = "Counters")]
    pub fn counters(&self) -> JsValue {
        let c = self.node.counters();
        let o = js_sys::Object::new();
        for (key, value) in [
            ("undecodable", c.undecodable),
            ("badVersion", c.bad_version),
            ("wrongCluster", c.wrong_cluster),
            ("wrongReceiver", c.wrong_receiver),
            ("oversized", c.oversized),
            ("unknownSender", c.unknown_sender),
            ("staleEpoch", c.stale_epoch),
            ("unexpected", c.unexpected),
            ("duplicate", c.duplicate),
            ("busy", c.busy),
            ("conflict", c.conflict),
            ("proposeBusy", c.propose_busy),
            ("forwardDropped", c.forward_dropped),
            ("eventsDropped", c.events_dropped),
            ("otherExchange", c.other_exchange),
            ("implausible", c.implausible),
            ("sendsDropped", self.node.sends_dropped()),
        ] {
            set(&o, key, num(value));
        }
        o.into()
    }

    /// Reads the history entry at position `index` with its payload as proposed (`undefined`
    /// if it is not held: compacted into the snapshot, or not written yet). Persist the
    /// entries of `append` writes, not these: those are stored bytes, framed as the kernel stores them.
    #[wasm_bindgen(unchecked_return_type = "Entry | undefined")]
    pub fn entry(&self, #[wasm_bindgen(unchecked_param_type = "number")] index: JsValue) -> Result<JsValue, JsValue> {
        let index = uint(&index, (1u64 << 53) - 1, "index")?;
        Ok(entry(self.node.storage(), index, true).unwrap_or(JsValue::UNDEFINED))
    }

    /// Reads the snapshot the node holds (`index` 0 and empty `data` if none): `data` is the
    /// state machine's, as the host handed it to `compact` (persist the `snapshot` writes, not this).
    #[wasm_bindgen(unchecked_return_type = "Snapshot")]
    pub fn snapshot(&self) -> JsValue {
        let o: JsValue = js_sys::Object::new().into();
        snapshot(&o, self.node.storage(), true);
        o
    }
}
