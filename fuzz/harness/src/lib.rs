//! What the fuzz targets do, as plain functions: `cargo fuzz` calls them from `fuzz_targets/`,
//! and stable tests (`tests/corpus.rs`) replay the committed corpus and every crash found
//! through the very same code.
//!
//! - [`decode`]: any bytes into the envelope decoder; what decodes must encode back to the
//!   same message.
//! - [`step`]: a node in a chosen role of an established cluster (looking, following, leading,
//!   observing) takes a sequence of records: envelopes as they are, message bodies wrapped in a
//!   valid envelope, ticks, proposals, durability reports and restarts.
//! - [`step_message`]: the same node takes structure-aware messages as values
//!   ([`FuzzMessage`], derived with `arbitrary`), their epochs, zxids and rounds drawn near the
//!   node's own so that they reach deep into each role.
//!
//! After every input the node is checked: no panic (debug assertions on), its commit point
//! never goes back and never passes its history, what it committed never changes (in its
//! history or in what it hands out to apply), its history rises, is contiguous inside an
//! epoch and holds no epoch beyond the one it accepted, every proposal it says it took is in
//! its history, a leader commits only what a majority can hold (an ACK counts up to what the
//! leader sent its sender), and every message it sends decodes at its receiver.

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Unstructured};
use zaxos::storage::{Storage, VecStorage};
use zaxos::wire::{self, Bytes, Entries, Header, Message, PeerState, Proposal, SnapChunk, Vote};
use zaxos::{self as zxid, Apply, Config, Node, NodeId, WriteKind, Zxid};

/// FNV-1a 64 of a payload: enough to tell entries apart.
fn hash_bytes(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The cluster id of every message here.
pub const CLUSTER_ID: u32 = 0x5a58;
/// The message size bound of every node here.
pub const MESSAGE_BYTES_MAX: usize = 1400;
/// Voters of the cluster the fuzzed node comes from.
pub const VOTERS: [NodeId; 3] = [1, 2, 3];
/// Its observer.
pub const OBSERVER: NodeId = 4;
/// Entries the cluster commits before the fuzzed node takes its first input.
pub const ENTRIES: u32 = 3;

/// The zxid counter bound of every node: a few proposals past the established history reach
/// it, so the end of an epoch is fuzzed too.
pub const ZXID_COUNTER_MAX: u32 = ENTRIES + 4;

/// The node type fuzzed.
pub type FuzzNode = Node<VecStorage, 1024>;

/// Which node of the established cluster takes the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A follower restarted from its storage: looking.
    Looking,
    /// A follower.
    Following,
    /// The leader.
    Leading,
    /// The observer.
    Observing,
}

impl Target {
    /// Every target, in the order a selector byte picks them.
    pub const ALL: [Target; 4] = [Target::Looking, Target::Following, Target::Leading, Target::Observing];

    /// The target a selector byte picks.
    pub fn from_byte(b: u8) -> Target {
        Target::ALL[usize::from(b) % 4]
    }
}

fn config(id: NodeId, seed: u64) -> Config {
    let mut config = Config::new(id, &VOTERS, &[OBSERVER]).expect("a valid membership").seed(seed).cluster_id(CLUSTER_ID).timeouts(10, 2).message_bytes_max(MESSAGE_BYTES_MAX);
    config.zxid_counter_max = ZXID_COUNTER_MAX;
    config
}

/// A fault-free run of the cluster until a leader is established and every member applied
/// [`ENTRIES`] entries. Returns the nodes and every envelope sent, with its receiver.
pub fn established() -> (Vec<FuzzNode>, Vec<(NodeId, Vec<u8>)>) {
    let ids: Vec<NodeId> = VOTERS.iter().copied().chain([OBSERVER]).collect();
    let mut nodes: Vec<FuzzNode> = ids.iter().map(|&id| Node::new(config(id, 7), VecStorage::new(1 << 10, 1 << 20, 1 << 16)).expect("a valid config")).collect();
    let mut traffic = Vec::new();
    let mut buf = vec![0u8; MESSAGE_BYTES_MAX];
    let mut proposed = 0;
    for _ in 0..1_000 {
        let mut wire = Vec::new();
        for node in nodes.iter_mut() {
            node.tick();
            if node.is_established_leader() && proposed < ENTRIES {
                if node.propose(format!("entry {proposed}").as_bytes()).is_ok() {
                    proposed += 1;
                }
            }
            while let Some(write) = node.poll_write() {
                node.durable(write.seq);
            }
            while let Some(t) = node.poll_transmit(&mut buf) {
                wire.push((t.to, buf[..t.len].to_vec()));
            }
            while node.poll_commit().is_some() {}
        }
        for (to, bytes) in wire {
            let _ = nodes[usize::from(to) - 1].step(&bytes);
            traffic.push((to, bytes));
        }
        let leader = nodes.iter().find(|n| n.is_established_leader()).map(|n| n.id());
        if leader.is_some() && nodes.iter().all(|n| n.applied_index() >= u64::from(ENTRIES) && n.leader() == leader) {
            return (nodes, traffic);
        }
    }
    panic!("the cluster did not establish a leader and commit {ENTRIES} entries");
}

/// A node under test and what it is checked against.
pub struct Bed {
    /// The node.
    pub node: FuzzNode,
    /// position → (zxid, hash of the stored bytes) of everything it committed, as its
    /// history holds them.
    committed: BTreeMap<u64, (Zxid, u64)>,
    /// position → (zxid, payload hash) of everything it handed out to apply.
    applied_log: BTreeMap<u64, (Zxid, u64)>,
    commit: u64,
    applied: u64,
    /// The last write handed out, not yet reported durable.
    unreported: Option<u64>,
    /// The last position of the history once every write handed out lands: the history the
    /// node holds must end there (nothing held that the host was not told to store).
    written_last: u64,
    starts: u64,
    buf: Vec<u8>,
    /// Proposals numbered so far (each payload is unique).
    proposals: u64,
    /// At a leader: peer → the highest zxid it may hold, as far as this harness knows: what
    /// it held when the cluster was established, raised by an ACK only up to what the leader
    /// has sent it. A leader's commit point needs a majority of voters at or above it.
    credited: BTreeMap<NodeId, Zxid>,
    /// At a leader: peer → the highest zxid sent to it in a PROPOSAL.
    sent: BTreeMap<NodeId, Zxid>,
    /// Peer → the id of the last handshake the node named in a message to it (a learner's
    /// own with its leader; a leader's with each learner), so fuzzed messages of that
    /// handshake get past the first check.
    exchanges: BTreeMap<NodeId, u64>,
}

impl Bed {
    /// The node of `target`'s role, taken out of an established cluster.
    pub fn new(target: Target) -> Bed {
        let (nodes, _) = established();
        let leader = nodes.iter().position(|n| n.is_established_leader()).expect("a leader");
        let follower = (0..VOTERS.len()).find(|&i| i != leader).expect("a follower");
        let node = match target {
            Target::Leading => nodes.into_iter().nth(leader),
            Target::Following => nodes.into_iter().nth(follower),
            Target::Observing => nodes.into_iter().nth(VOTERS.len()),
            Target::Looking => {
                let storage = nodes[follower].storage().clone();
                Some(Node::new(config(nodes[follower].id(), 8), storage).expect("a valid config"))
            }
        };
        let node = node.expect("the node");
        let written_last = node.storage().last_index();
        let mut bed = Bed {
            node,
            written_last,
            committed: BTreeMap::new(),
            applied_log: BTreeMap::new(),
            commit: 0,
            applied: 0,
            unreported: None,
            starts: 1,
            buf: vec![0u8; MESSAGE_BYTES_MAX],
            proposals: 0,
            credited: BTreeMap::new(),
            sent: BTreeMap::new(),
            exchanges: BTreeMap::new(),
        };
        if target == Target::Leading {
            // Every member applied the whole history before the node was taken out.
            let last = bed.node.last_zxid();
            for id in VOTERS.iter().chain([&OBSERVER]).filter(|&&id| id != bed.node.id()) {
                bed.credited.insert(*id, last);
                bed.sent.insert(*id, last);
            }
        }
        for index in 1..=bed.node.commit_index() {
            if let Some((zxid, payload)) = bed.node.storage().entry_at(index) {
                bed.committed.insert(index, (zxid, hash_bytes(payload)));
            }
        }
        bed.commit = bed.node.commit_index();
        bed.applied = bed.node.applied_index();
        bed.drain();
        bed
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.node.id()
    }

    /// Envelope bytes from `from` to this node.
    pub fn envelope(&self, from: NodeId, message: &Message<'_>) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; wire::encoded_len(message).max(64)];
        let header = Header { cluster_id: CLUSTER_ID, from, to: self.id() };
        let len = wire::encode(header, message, &mut buf).ok()?;
        buf.truncate(len);
        Some(buf)
    }

    /// Ticks once.
    pub fn tick(&mut self) {
        self.node.tick();
        self.drain();
    }

    fn next_payload(&mut self, len: usize) -> Vec<u8> {
        self.proposals += 1;
        let mut payload = format!("p{}.", self.proposals).into_bytes();
        payload.resize(payload.len().max(len), b'.');
        payload
    }

    /// Whether the history holds `payload` (every payload proposed here is unique).
    fn holds(&self, payload: &[u8]) -> bool {
        let storage = self.node.storage();
        (storage.snapshot_point().0 + 1..=storage.last_index()).any(|i| storage.payload_at(i) == Some(payload))
    }

    /// Offers a proposal of about `len` bytes: if the node takes it as leader, its history holds it.
    pub fn propose(&mut self, len: usize) {
        let payload = self.next_payload(len);
        let result = self.node.propose(&payload);
        if let Ok(zxid::Proposed::Local(zxid)) = result {
            assert!(self.holds(&payload), "n{} took a proposal as {zxid} and its history does not hold it", self.id());
        }
        self.drain();
    }

    /// Offers `count` proposals in one batch: every one the node says it took as leader is
    /// in its history.
    pub fn propose_batch(&mut self, count: usize) {
        let payloads: Vec<Vec<u8>> = (0..count).map(|i| self.next_payload(i % 3)).collect();
        let result = self.node.propose_batch(&payloads);
        if let Ok(zxid::ProposedBatch { taken, first: Some(zxid::Proposed::Local(first)) }) = result {
            for (i, payload) in payloads.iter().take(taken).enumerate() {
                assert!(self.holds(payload), "n{} took {taken} of a batch of {count} from {first}, and its history lacks number {i}", self.id());
            }
        }
        self.drain();
    }

    /// Reports every write handed out so far as durable.
    pub fn durable(&mut self) {
        if let Some(seq) = self.unreported.take() {
            self.node.durable(seq);
        }
        self.drain();
    }

    /// Restarts the node in place from its storage (after reporting everything durable).
    pub fn restart(&mut self) {
        self.durable();
        self.starts += 1;
        let config = config(self.id(), 7 + self.starts);
        self.node.restart(config).expect("a valid config");
        self.written_last = self.node.storage().last_index();
        self.commit = self.node.commit_index();
        self.applied = self.node.applied_index();
        self.drain();
    }

    /// Steps the node with envelope bytes.
    pub fn step_bytes(&mut self, bytes: &[u8]) {
        if let Ok((header, message)) = wire::decode(bytes, CLUSTER_ID, self.id(), MESSAGE_BYTES_MAX) {
            self.credit(header.from, &message);
        }
        let _ = self.node.step(bytes);
        self.drain();
    }

    /// The id of the handshake the node last named to `peer` (0 if none).
    pub fn exchange_with(&self, peer: NodeId) -> u64 {
        self.exchanges.get(&peer).copied().unwrap_or(0)
    }

    /// Steps the node with a message value.
    pub fn step_value(&mut self, from: NodeId, message: &Message<'_>) {
        self.credit(from, message);
        let _ = self.node.step_message(from, message);
        self.drain();
    }

    /// An ACK raises what its sender may hold, up to what the leader sent it. One for a zxid
    /// beyond the leader's history is evidence of nothing (no follower can hold what the
    /// leader never had): it raises nothing.
    fn credit(&mut self, from: NodeId, message: &Message<'_>) {
        if let (Message::Ack { zxid, .. }, Some(&sent)) = (message, self.sent.get(&from)) {
            if *zxid <= self.node.last_zxid() {
                let credited = self.credited.entry(from).or_default();
                *credited = (*credited).max((*zxid).min(sent));
            }
        }
    }

    /// Drains every output and checks the node.
    fn drain(&mut self) {
        while let Some(write) = self.node.poll_write() {
            self.unreported = Some(write.seq);
            self.written_last = match write.kind {
                WriteKind::Append { last, .. } => last,
                WriteKind::Truncate { after } => self.written_last.min(after),
                WriteKind::Snapshot { index, replaces_history: true, .. } => index,
                WriteKind::Snapshot { index, .. } => self.written_last.max(index),
                WriteKind::HardState(_) => self.written_last,
            };
        }
        let me = self.id();
        let held = self.node.storage().last_index();
        assert_eq!(held, self.written_last, "n{me} holds its history up to {held}, its writes up to {}", self.written_last);
        while let Some(t) = self.node.poll_transmit(&mut self.buf) {
            if let Ok((_, m)) = wire::decode(&self.buf[..t.len], CLUSTER_ID, t.to, MESSAGE_BYTES_MAX) {
                if let Some(exchange) = m.exchange() {
                    self.exchanges.insert(t.to, exchange);
                }
            }
            match wire::decode(&self.buf[..t.len], CLUSTER_ID, t.to, MESSAGE_BYTES_MAX) {
                Ok((_, Message::Proposal(p))) => {
                    if let Some(last) = p.entries.iter().filter_map(Result::ok).map(|(z, _)| z).last() {
                        if let Some(sent) = self.sent.get_mut(&t.to) {
                            *sent = (*sent).max(last);
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("n{me} sent n{} a message that does not decode: {e:?}", t.to),
            }
        }
        loop {
            let applied = match self.node.poll_commit() {
                None => break,
                Some(Apply::Entry { index, zxid, payload }) => (index, zxid, hash_bytes(payload)),
                Some(Apply::Membership { index, zxid, encoded }) => (index, zxid, !hash_bytes(encoded)),
                Some(Apply::Snapshot { index, .. }) => {
                    self.applied = index;
                    continue;
                }
            };
            self.applied_entry(applied.0, applied.1, applied.2);
        }
        while self.node.poll_event().is_some() {}
        self.check();
    }

    fn applied_entry(&mut self, index: u64, zxid: Zxid, hash: u64) {
        let me = self.id();
        assert!(index > self.applied, "n{me} applied position {index} after {}", self.applied);
        self.applied = index;
        match self.applied_log.get(&index) {
            Some(&(z, h)) => assert!(z == zxid && h == hash, "n{me} applied {zxid} at {index}, where it applied {z} before (payloads equal: {})", h == hash),
            None => {
                self.applied_log.insert(index, (zxid, hash));
            }
        }
    }

    /// The per-node invariants.
    fn check(&mut self) {
        let me = self.id();
        let node = &self.node;
        let commit = node.commit_index();
        let last = node.storage().last_index();
        assert!(commit >= self.commit, "n{me} commit point went back from {} to {commit}", self.commit);
        assert!(commit <= last, "n{me} commits up to {commit} but its history ends at {last}");
        self.commit = commit;
        if node.is_established_leader() && !self.credited.is_empty() && commit > 0 {
            let commit_zxid = node.commit_zxid();
            let holders = VOTERS.iter().filter(|&&id| if id == me { node.durable_zxid() >= commit_zxid } else { self.credited.get(&id).is_some_and(|&z| z >= commit_zxid) }).count();
            assert!(holders > VOTERS.len() / 2, "leader n{me} commits {commit_zxid}, which only {holders} of {} voters can hold (credited {:?})", VOTERS.len(), self.credited);
        }
        let (snapshot, snapshot_zxid) = node.storage().snapshot_point();
        let accepted_epoch = node.hard_state().accepted_epoch;
        assert!(node.last_zxid().epoch <= accepted_epoch, "n{me} holds {} beyond its accepted epoch {accepted_epoch}", node.last_zxid());
        let mut previous = snapshot_zxid;
        for index in snapshot + 1..=last {
            let (zxid, payload) = node.storage().entry_at(index).unwrap_or_else(|| panic!("n{me} has no entry at {index} (history {snapshot}..={last})"));
            assert!(zxid > previous, "n{me} history goes from {previous} to {zxid} at {index}");
            if zxid.epoch == previous.epoch && index > 1 {
                assert_eq!(zxid.counter, previous.counter + 1, "n{me} history skips from {previous} to {zxid} at {index}");
            }
            previous = zxid;
            if index <= commit {
                match self.committed.get(&index) {
                    Some(&(z, h)) => assert!(z == zxid && h == hash_bytes(payload), "n{me} holds {zxid} at {index}, where it committed {z} (payloads equal: {})", h == hash_bytes(payload)),
                    None => {
                        self.committed.insert(index, (zxid, hash_bytes(payload)));
                    }
                }
            }
        }
    }
}

/// The envelope decoder: never panics, and what decodes encodes back to the same message.
pub fn decode(data: &[u8]) {
    for me in [1, 2] {
        let Ok((header, message)) = wire::decode(data, CLUSTER_ID, me, MESSAGE_BYTES_MAX) else { continue };
        let mut buf = vec![0u8; wire::encoded_len(&message).max(64)];
        let len = wire::encode(header, &message, &mut buf).expect("a decoded message encodes");
        let (again_header, again) = wire::decode(&buf[..len], CLUSTER_ID, me, usize::MAX).expect("a re-encoded message decodes");
        assert_eq!(again_header, header);
        assert_eq!(again, message);
        // As a value, through the owned copy a host keeps in memory.
        let owned = wire::MessageBuf::new(&message);
        assert_eq!(owned.message(), message);
    }
}

/// `step` input: a target selector byte, then records `[kind, from, len_lo, len_hi, bytes…]`.
/// Kinds (mod 6): 0 envelope as it is, 1 a postcard message body put in a valid envelope from
/// `from`, 2 tick, 3 propose (one, or a batch of `bytes[0] % 8`), 4 durable, 5 restart.
pub fn step(data: &[u8]) {
    let Some((&selector, mut rest)) = data.split_first() else { return };
    let mut bed = Bed::new(Target::from_byte(selector));
    while let [kind, from, lo, hi, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        let (bytes, tail) = tail.split_at(len);
        rest = tail;
        let from = NodeId::from(*from % 6);
        match kind % 6 {
            0 => bed.step_bytes(bytes),
            1 => match postcard::from_bytes::<Message<'_>>(bytes) {
                Ok(message) => match bed.envelope(from, &message) {
                    Some(envelope) => bed.step_bytes(&envelope),
                    None => bed.step_value(from, &message),
                },
                Err(_) => bed.step_bytes(bytes),
            },
            2 => bed.tick(),
            3 => match bytes.first() {
                Some(&count) if !skipped("batch") => bed.propose_batch(usize::from(count % 8)),
                _ => bed.propose(0),
            },
            4 => bed.durable(),
            _ => bed.restart(),
        }
    }
}

/// One record of `step` input, for building corpora.
pub fn step_record(kind: u8, from: NodeId, bytes: &[u8]) -> Vec<u8> {
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    let mut record = vec![kind, from as u8];
    record.extend_from_slice(&len.to_le_bytes());
    record.extend_from_slice(&bytes[..usize::from(len)]);
    record
}

/// A 32-bit number near the node's epoch (most of the time) or any.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Near32 {
    /// The base plus a small offset.
    Near(i8),
    /// Any value.
    Raw(u32),
}

/// A 64-bit number near a base, or any.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Near64 {
    /// The base plus a small offset.
    Near(i8),
    /// Any value.
    Raw(u64),
}

/// A zxid near the node's last one, or any.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum NearZxid {
    /// Offsets from the last zxid's epoch and counter.
    Near(i8, i8),
    /// Any zxid.
    Raw(u32, u32),
}

/// The zxid of an entry in a batch: by default the one after the entry before it (or after
/// the node's last zxid, for the first).
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum EntryZxid {
    /// The next counter.
    Next,
    /// Offsets from the entry before.
    Near(i8, i8),
    /// Any zxid.
    Raw(u32, u32),
}

/// Every message kind, with fields drawn near the receiving node's state.
#[derive(Arbitrary, Clone, Debug)]
#[allow(missing_docs)]
pub enum FuzzMessage {
    Notification { round: Near64, state: u8, leader: u8, zxid: NearZxid, epoch: Near32, connected: bool, membership: NearZxid },
    FollowerInfo { accepted_epoch: Near32 },
    LeaderInfo { epoch: Near32 },
    AckEpoch { epoch: Near32, current_epoch: Near32, last: NearZxid, promised: bool },
    Trunc { epoch: Near32, to: NearZxid },
    /// `torn`: the entries end in a byte that does not decode.
    Proposal { epoch: Near32, prev: NearZxid, commit: NearZxid, entries: Vec<(EntryZxid, u8)>, torn: bool },
    NewLeader { epoch: Near32, last: NearZxid },
    Ack { epoch: Near32, zxid: NearZxid },
    Commit { epoch: Near32, zxid: NearZxid },
    Heartbeat { epoch: Near32, commit: NearZxid },
    SyncState { epoch: Near32, last: NearZxid },
    SnapChunk { epoch: Near32, index: Near64, zxid: NearZxid, offset: u32, total: u32, data: Vec<u8> },
    SnapAck { epoch: Near32, offset: u32 },
    Forward { incarnation: u32, seq: u32, payload: Vec<u8> },
    Inform { epoch: Near32, prev: NearZxid, commit: NearZxid, entries: Vec<(EntryZxid, u8)> },
    ReadRequest { epoch: Near32, id: u32, linearizable: bool },
    ReadReply { epoch: Near32, id: u32, zxid: NearZxid },
    ReadProbe { epoch: Near32, round: u32 },
    ReadProbeAck { epoch: Near32, round: u32 },
    Handover { epoch: Near32, to: u8 },
    Fetch { epoch: Near32, from: NearZxid, to: NearZxid },
    Fetched { epoch: Near32, prev: NearZxid, entries: Vec<(EntryZxid, u8)> },
}

/// One input of [`step_message`].
#[derive(Arbitrary, Clone, Debug)]
pub enum FuzzOp {
    /// A message from `from` (mod 6: ids 0 and 5 are not members).
    Message {
        /// Sender.
        from: u8,
        /// The message.
        message: FuzzMessage,
    },
    /// A tick.
    Tick,
    /// This many ticks (mod 32): enough for a timeout.
    Ticks(u8),
    /// A proposal of about this many bytes.
    Propose(u8),
    /// A batch of this many proposals (mod 8).
    ProposeBatch(u8),
    /// Every write so far reported durable.
    Durable,
    /// A restart from storage.
    Restart,
}

fn near32(base: u32, n: Near32) -> u32 {
    match n {
        Near32::Near(d) => (i64::from(base) + i64::from(d)).clamp(0, i64::from(u32::MAX)) as u32,
        Near32::Raw(v) => v,
    }
}

fn near64(base: u64, n: Near64) -> u64 {
    match n {
        Near64::Near(d) => base.saturating_add_signed(i64::from(d)),
        Near64::Raw(v) => v,
    }
}

fn near_zxid(base: Zxid, n: NearZxid) -> Zxid {
    match n {
        NearZxid::Near(e, c) => Zxid::new(near32(base.epoch, Near32::Near(e)), near32(base.counter, Near32::Near(c))),
        NearZxid::Raw(e, c) => Zxid::new(e, c),
    }
}

/// Entries in their wire encoding (format 5): runs of consecutive zxids of one length, each
/// `epoch, counter, len << 1 | more` as LEB128 varints, the count if `more`, then the payloads.
pub fn wire_entries<P: AsRef<[u8]>>(entries: &[(Zxid, P)]) -> Vec<u8> {
    fn put(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    let mut out = Vec::new();
    let mut rest = entries;
    while let Some(((first, payload), _)) = rest.split_first() {
        // A run: the entries after the first with the next counters and the same length.
        let len = payload.as_ref().len();
        let count = 1 + rest[1..]
            .iter()
            .enumerate()
            .take_while(|(i, (zxid, p))| len > 0 && p.as_ref().len() == len && zxid.epoch == first.epoch && u64::from(zxid.counter) == u64::from(first.counter) + *i as u64 + 1)
            .count();
        put(&mut out, first.epoch.into());
        put(&mut out, first.counter.into());
        put(&mut out, (len as u64) << 1 | u64::from(count > 1));
        if count > 1 {
            put(&mut out, count as u64);
        }
        for (_, payload) in &rest[..count] {
            out.extend_from_slice(payload.as_ref());
        }
        rest = &rest[count..];
    }
    out
}

/// `m` with the triggers of the bugs named in `FUZZ_SKIP` taken out.
fn masked(m: &FuzzMessage, e0: u32, z0: Zxid) -> FuzzMessage {
    let mut m = m.clone();
    match &mut m {
        FuzzMessage::Ack { zxid, .. } if skipped("ack-beyond") && near_zxid(z0, *zxid) > z0 => *zxid = NearZxid::Near(0, 0),
        FuzzMessage::Notification { round: Near64::Raw(r), .. } if skipped("round-max") => *r = (*r).min(u64::MAX - (1 << 32)),
        FuzzMessage::SnapChunk { epoch, zxid, .. } if skipped("snap-epoch") && near_zxid(z0, *zxid).epoch > near32(e0, *epoch) => {
            *zxid = NearZxid::Raw(near32(e0, *epoch), near_zxid(z0, *zxid).counter);
        }
        FuzzMessage::Proposal { epoch, entries, .. } | FuzzMessage::Inform { epoch, entries, .. } if skipped("later-epoch") || skipped("skip-counter") => {
            let epoch = near32(e0, *epoch);
            let mut previous = z0;
            for (zx, _) in entries.iter_mut() {
                let mut zxid = match *zx {
                    EntryZxid::Next => Zxid::new(previous.epoch, previous.counter.wrapping_add(1)),
                    EntryZxid::Near(de, dc) => near_zxid(previous, NearZxid::Near(de, dc)),
                    EntryZxid::Raw(e, c) => Zxid::new(e, c),
                };
                if skipped("later-epoch") && zxid.epoch > epoch {
                    zxid = Zxid::new(epoch, zxid.counter);
                }
                if skipped("skip-counter") && zxid.epoch == previous.epoch && zxid.counter > previous.counter.wrapping_add(1) {
                    zxid = Zxid::new(previous.epoch, previous.counter.wrapping_add(1));
                }
                *zx = EntryZxid::Raw(zxid.epoch, zxid.counter);
                previous = zxid;
            }
        }
        _ => {}
    }
    m
}

/// Builds the message `m` for `node` and hands it to `f` (the message borrows local bytes).
fn with_message<R>(node: &FuzzNode, x: u64, m: &FuzzMessage, f: impl FnOnce(&Message<'_>) -> R) -> R {
    let hard = node.hard_state();
    let e0 = node.epoch().max(hard.accepted_epoch);
    let z0 = node.last_zxid();
    let (e, z) = (|n| near32(e0, n), |n| near_zxid(z0, n));
    let m = &masked(m, e0, z0);
    let entries_of = |list: &[(EntryZxid, u8)]| -> Vec<(Zxid, Vec<u8>)> {
        let mut previous = z0;
        let mut out = Vec::new();
        for (i, &(zx, len)) in list.iter().take(16).enumerate() {
            previous = match zx {
                EntryZxid::Next => Zxid::new(previous.epoch, previous.counter.wrapping_add(1)),
                EntryZxid::Near(de, dc) => near_zxid(previous, NearZxid::Near(de, dc)),
                EntryZxid::Raw(e, c) => Zxid::new(e, c),
            };
            out.push((previous, vec![i as u8; usize::from(len % 40)]));
        }
        out
    };
    let blob;
    let data;
    let message = match m {
        FuzzMessage::Notification { round, state, leader, zxid, epoch, connected, membership } => {
            let state = [PeerState::Looking, PeerState::Following, PeerState::Leading, PeerState::Observing][usize::from(*state % 4)];
            let vote = Vote { leader: NodeId::from(*leader % 6), zxid: z(*zxid), epoch: e(*epoch), connected: *connected };
            Message::Notification { round: near64(node.round(), *round), state, vote, membership: z(*membership) }
        }
        FuzzMessage::FollowerInfo { accepted_epoch } => Message::FollowerInfo { accepted_epoch: e(*accepted_epoch), exchange: x.wrapping_add(1) },
        FuzzMessage::LeaderInfo { epoch } => Message::LeaderInfo { epoch: e(*epoch), exchange: x },
        FuzzMessage::AckEpoch { epoch, current_epoch, last, promised } => {
            Message::AckEpoch { epoch: e(*epoch), exchange: x, current_epoch: e(*current_epoch), last: z(*last), promised: *promised }
        }
        FuzzMessage::Trunc { epoch, to } => Message::Trunc { epoch: e(*epoch), exchange: x, to: z(*to) },
        FuzzMessage::Proposal { epoch, prev, commit, entries, torn } => {
            let mut bytes = wire_entries(&entries_of(entries));
            if *torn {
                bytes.push(0xff);
            }
            blob = bytes;
            Message::Proposal(Proposal { epoch: e(*epoch), prev: z(*prev), commit: z(*commit), entries: Entries::from_wire(&blob) })
        }
        FuzzMessage::Inform { epoch, prev, commit, entries } => {
            blob = wire_entries(&entries_of(entries));
            Message::Inform(Proposal { epoch: e(*epoch), prev: z(*prev), commit: z(*commit), entries: Entries::from_wire(&blob) })
        }
        FuzzMessage::NewLeader { epoch, last } => Message::NewLeader { epoch: e(*epoch), exchange: x, last: z(*last) },
        FuzzMessage::Ack { epoch, zxid } => Message::Ack { epoch: e(*epoch), exchange: x, zxid: z(*zxid) },
        FuzzMessage::Commit { epoch, zxid } => Message::Commit { epoch: e(*epoch), zxid: z(*zxid) },
        FuzzMessage::Heartbeat { epoch, commit } => Message::Heartbeat { epoch: e(*epoch), commit: z(*commit) },
        FuzzMessage::SyncState { epoch, last } => Message::SyncState { epoch: e(*epoch), exchange: x, last: z(*last) },
        FuzzMessage::SnapChunk { epoch, index, zxid, offset, total, data: d } => {
            data = d.clone();
            let index = near64(node.storage().last_index(), *index);
            Message::SnapChunk(SnapChunk { epoch: e(*epoch), exchange: x, index, zxid: z(*zxid), offset: *offset % 4096, total: *total % 4096, data: Bytes(&data) })
        }
        FuzzMessage::SnapAck { epoch, offset } => Message::SnapAck { epoch: e(*epoch), exchange: x, index: node.storage().snapshot_point().0, offset: *offset },
        FuzzMessage::Forward { incarnation, seq, payload } => {
            data = payload.clone();
            // The incarnation field picks the epoch: the node's own, or one near it.
            let epoch = if *incarnation % 4 == 0 { Near32::Raw(*incarnation) } else { Near32::Near((*incarnation % 3) as i8 - 1) };
            Message::Forward { epoch: e(epoch), exchange: x, seq: *seq, payload: Bytes(&data) }
        }
        FuzzMessage::ReadRequest { epoch, id, linearizable } => Message::ReadRequest { epoch: e(*epoch), id: *id, linearizable: *linearizable },
        FuzzMessage::ReadReply { epoch, id, zxid } => Message::ReadReply { epoch: e(*epoch), id: *id, zxid: z(*zxid) },
        FuzzMessage::ReadProbe { epoch, round } => Message::ReadProbe { epoch: e(*epoch), round: *round },
        FuzzMessage::ReadProbeAck { epoch, round } => Message::ReadProbeAck { epoch: e(*epoch), round: *round },
        FuzzMessage::Handover { epoch, to } => Message::Handover { epoch: e(*epoch), to: NodeId::from(*to % 6) },
        FuzzMessage::Fetch { epoch, from, to } => Message::Fetch { epoch: e(*epoch), exchange: x, from: z(*from), to: z(*to) },
        FuzzMessage::Fetched { epoch, prev, entries } => {
            blob = wire_entries(&entries_of(entries));
            Message::Fetched { epoch: e(*epoch), exchange: x, prev: z(*prev), entries: Entries::from_wire(&blob) }
        }
    };
    f(&message)
}

/// Whether `FUZZ_SKIP` (a comma-separated list) names a known bug whose trigger the targets
/// should avoid, so that a fuzzing run digs past it: `batch` (batches are proposed one by one),
/// `ack-beyond` (an ACK names at most the node's last zxid), `later-epoch` (entries carry at
/// most the message's epoch), `skip-counter` (entries follow each other, from the node's last
/// zxid, without a gap inside an epoch), `round-max` (rounds stay below `u64::MAX - 2^32`),
/// `snap-epoch` (a SNAP chunk's zxid has at most the message's epoch), `nobody` (what id 0
/// would send comes from id 5, another non-member).
fn skipped(name: &str) -> bool {
    static SKIP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SKIP.get_or_init(|| std::env::var("FUZZ_SKIP").unwrap_or_default()).split(',').any(|s| s.trim() == name)
}

/// Applies one op to the bed.
pub fn apply_op(bed: &mut Bed, op: &FuzzOp) {
    match op {
        FuzzOp::Message { from, message } => {
            // Every other message goes as bytes, so both input paths run, from any sender.
            let as_bytes = matches!(message, FuzzMessage::Proposal { .. } | FuzzMessage::Ack { .. }) && (*from / 6) % 2 == 0;
            let from = match NodeId::from(*from % 6) {
                0 if skipped("nobody") => 5,
                from => from,
            };
            let x = bed.exchanges.get(&from).copied().unwrap_or(0);
            let envelope = with_message(&bed.node, x, message, |m| if as_bytes { bed.envelope(from, m) } else { None });
            match envelope {
                Some(bytes) => bed.step_bytes(&bytes),
                None => {
                    let buf = with_message(&bed.node, x, message, wire::MessageBuf::new);
                    bed.step_value(from, &buf.message());
                }
            }
        }
        FuzzOp::Tick => bed.tick(),
        FuzzOp::Ticks(n) => (0..n % 32).for_each(|_| bed.tick()),
        FuzzOp::Propose(len) => bed.propose(usize::from(*len)),
        FuzzOp::ProposeBatch(count) if skipped("batch") => (0..count % 8).for_each(|_| bed.propose(0)),
        FuzzOp::ProposeBatch(count) => bed.propose_batch(usize::from(*count % 8)),
        FuzzOp::Durable => bed.durable(),
        FuzzOp::Restart => bed.restart(),
    }
}

/// `step_message` input: a target selector, then [`FuzzOp`]s as `arbitrary` reads them.
pub fn step_message(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(selector) = u.arbitrary::<u8>() else { return };
    let mut bed = Bed::new(Target::from_byte(selector));
    let mut ops = 0;
    while !u.is_empty() && ops < 64 {
        let Ok(op) = u.arbitrary::<FuzzOp>() else { break };
        apply_op(&mut bed, &op);
        ops += 1;
    }
}

/// A `step_message` input as the target reads it: its role and its ops, one a line.
pub fn describe_step_message(data: &[u8]) -> String {
    let mut u = Unstructured::new(data);
    let Ok(selector) = u.arbitrary::<u8>() else { return String::from("(empty)") };
    let mut out = format!("{:?}\n", Target::from_byte(selector));
    let mut ops = 0;
    while !u.is_empty() && ops < 64 {
        let Ok(op) = u.arbitrary::<FuzzOp>() else { break };
        out.push_str(&format!("{op:?}\n"));
        ops += 1;
    }
    out
}

/// A `step` input as the target reads it: its role and its records, one a line.
pub fn describe_step(data: &[u8]) -> String {
    let Some((&selector, mut rest)) = data.split_first() else { return String::from("(empty)") };
    let mut out = format!("{:?}\n", Target::from_byte(selector));
    while let [kind, from, lo, hi, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        let (bytes, tail) = tail.split_at(len);
        rest = tail;
        let from = *from % 6;
        let line = match kind % 6 {
            0 => format!("envelope {:?}", wire::decode(bytes, CLUSTER_ID, 1, MESSAGE_BYTES_MAX).map(|(h, m)| format!("{h:?} {m:?}"))),
            1 => match postcard::from_bytes::<Message<'_>>(bytes) {
                Ok(message) => format!("from n{from}: {message:?}"),
                Err(_) => format!("undecodable body {bytes:02x?}"),
            },
            2 => String::from("tick"),
            3 => format!("propose {:?}", bytes.first().map(|c| c % 8)),
            4 => String::from("durable"),
            _ => String::from("restart"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}
