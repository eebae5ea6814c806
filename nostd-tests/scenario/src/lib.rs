//! The scenario every bare-metal image runs, and the host test runs natively: a 3-node Zaxos
//! cluster inside one program, over an in-memory network, with no allocator.
//!
//! What it checks, in order:
//! 1. a leader is elected and every node follows it;
//! 2. entries are proposed (most at the leader, some forwarded by a follower) and committed on
//!    every node in the same order;
//! 3. a follower crashes, losing every write its disk had not finished, restarts from what its
//!    disk holds and catches up while the others go on;
//! 4. the leader crashes; the two others elect a new leader in a higher epoch, which commits
//!    more entries; the old leader restarts and catches up;
//! 5. every node has applied the same history: at least [`COMMITTED_MIN`] entries, no entry
//!    twice, zxids strictly increasing, and the same FNV-1a hash over `(zxid, payload)`.
//!
//! The state machine each node applies entries to is the hash itself (with the count and the
//! last zxid); its snapshot is those fields, so compaction and SNAP sync are exercised too.
//! Everything is deterministic: the same seed gives the same hash on every target.
#![no_std]

pub mod disk;
pub mod flash;

use core::fmt;



use heapless::Vec;
use zaxos::storage::{HeaplessStorage, Storage};
use zaxos::{Apply, Config, Event, Node, NodeId, ProposeError, Proposed, Role, Zxid};

use disk::Disk;

/// The seed of the run the images and the host test compare.
pub const SEED: u64 = 0x5A58_05A1_2026_0006;
/// Cluster id in every envelope.
pub const CLUSTER_ID: u32 = 7;
/// Entries every node must have applied at the end.
pub const COMMITTED_MIN: u32 = 200;

/// Node ids; node `IDS[i]` lives in slot `i`.
pub const IDS: [NodeId; NODES] = [1, 2, 3];
const NODES: usize = 3;

// Capacities, chosen so that three nodes, their network queues and the stack fit the 16 KiB of
// RAM of the smallest target (a Cortex-M0 micro:bit). See README.md for the figures.

/// History entries each node holds before it must compact.
pub const LOG_ENTRIES: usize = 16;
/// Payload bytes of history each node holds.
pub const LOG_BYTES: usize = 160;
/// Bytes of a snapshot: the kernel's membership, then the state machine (count, hash, last
/// zxid, last sequence number).
pub const SNAPSHOT_BYTES: usize = zaxos::membership::MEMBERSHIP_BYTES_MAX + SNAPSHOT_LEN;
/// Bytes of proposals a follower holds while forwarding them to the leader.
pub const FORWARD_BYTES: usize = 32;
/// Largest datagram (envelope included); also each network slot's size.
pub const MESSAGE_BYTES: usize = 112;
/// Datagrams waiting for each node; a datagram to a full queue is lost, as on a real network.
pub const INBOX_DEPTH: usize = 3;
/// Proposals in flight per follower.
const INFLIGHT_ENTRIES: u32 = 8;
/// Payload: a 4-byte sequence number and 4 bytes derived from it.
pub const PAYLOAD_BYTES: usize = 8;
/// Highest sequence number the scenario proposes (sizes the duplicate check).
const SEQ_MAX: usize = 320;
/// Entries the scenario proposes and that must all commit (sizes the reference order).
const PROPOSALS: usize = (FIRST_BATCH
    + BEFORE_FOLLOWER_CRASH
    + WHILE_FOLLOWER_DOWN
    + BEFORE_LEADER_CRASH
    + NEW_EPOCH_BATCH) as usize;
const _: () = assert!(PROPOSALS < SEQ_MAX && PROPOSALS >= COMMITTED_MIN as usize);
// Sequence numbers run from 1 to PROPOSALS: the reference order keeps each in one byte.
const _: () = assert!(PROPOSALS <= u8::MAX as usize);

/// The storage of one node.
pub type Store = HeaplessStorage<LOG_ENTRIES, LOG_BYTES, SNAPSHOT_BYTES>;
pub(crate) type ZaxNode = Node<Store, FORWARD_BYTES>;
/// A node's place in the cluster. The node lives here from the start (`Node::idle` is a
/// `const fn`) and is (re)started in place with `Node::restart_from`, so no node is ever built
/// on the stack: a Cortex-M0 with 16 KiB of RAM has no room for that.
pub struct Slot {
    node: ZaxNode,
    started: bool,
}

impl Slot {
    /// The node, once started.
    fn get(&self) -> Result<&ZaxNode, ()> {
        if self.started { Ok(&self.node) } else { Err(()) }
    }

    fn get_mut(&mut self) -> Result<&mut ZaxNode, ()> {
        if self.started { Ok(&mut self.node) } else { Err(()) }
    }
}

/// The slot of a node that has not started.
const EMPTY: Slot = Slot { node: ZaxNode::idle(Store::new()), started: false };

/// What a passing run reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Entries applied, the same on every node.
    pub committed: u32,
    /// FNV-1a 64 over every applied `(zxid, payload)`, the same on every node.
    pub hash: u64,
    /// The epoch of the last leader.
    pub epoch: u32,
    /// Ticks the whole run took.
    pub ticks: u32,
}

/// Why a run failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// What did not hold.
    pub what: &'static str,
    /// The node concerned (0 if none).
    pub node: NodeId,
    /// Tick at which it was found.
    pub tick: u32,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (node {}, tick {})", self.what, self.node, self.tick)
    }
}

/// FNV-1a 64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv(pub u64);

impl Fnv {
    /// The offset basis.
    pub const NEW: Fnv = Fnv(0xcbf2_9ce4_8422_2325);

    /// Hashes `bytes` into the state.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The state machine of one node: what it has applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct App {
    count: u32,
    hash: Fnv,
    last: Zxid,
}

const SNAPSHOT_LEN: usize = 4 + 8 + 8;

impl App {
    const NEW: App = App {
        count: 0,
        hash: Fnv::NEW,
        last: Zxid::ZERO,
    };

    fn snapshot(&self) -> [u8; SNAPSHOT_LEN] {
        let mut out = [0u8; SNAPSHOT_LEN];
        out[..4].copy_from_slice(&self.count.to_le_bytes());
        out[4..12].copy_from_slice(&self.hash.0.to_le_bytes());
        out[12..].copy_from_slice(&self.last.as_u64().to_le_bytes());
        out
    }

    fn restore(data: &[u8]) -> Option<App> {
        if data.is_empty() {
            return Some(App::NEW);
        }
        if data.len() != SNAPSHOT_LEN {
            return None;
        }
        let count = u32::from_le_bytes(data[..4].try_into().ok()?);
        let hash = u64::from_le_bytes(data[4..12].try_into().ok()?);
        let last = u64::from_le_bytes(data[12..].try_into().ok()?);
        Some(App {
            count,
            hash: Fnv(hash),
            last: Zxid::from_u64(last),
        })
    }
}

/// Datagrams waiting for one node: a ring of [`INBOX_DEPTH`] fixed-size slots. A datagram is
/// copied straight from the sender's buffer into its slot and handed to the node from there, so
/// no datagram is ever copied through the stack.
struct Inbox {
    slots: [[u8; MESSAGE_BYTES]; INBOX_DEPTH],
    lens: [u8; INBOX_DEPTH],
    head: u8,
    count: u8,
}

impl Inbox {
    const NEW: Inbox = Inbox {
        slots: [[0; MESSAGE_BYTES]; INBOX_DEPTH],
        lens: [0; INBOX_DEPTH],
        head: 0,
        count: 0,
    };

    fn len(&self) -> usize {
        usize::from(self.count)
    }

    fn clear(&mut self) {
        self.head = 0;
        self.count = 0;
    }

    /// Queues a copy of `bytes`; `false` (the datagram is lost) when the queue is full.
    fn push(&mut self, bytes: &[u8]) -> bool {
        if self.len() == INBOX_DEPTH || bytes.len() > MESSAGE_BYTES {
            return false;
        }
        let at = (usize::from(self.head) + self.len()) % INBOX_DEPTH;
        self.slots[at][..bytes.len()].copy_from_slice(bytes);
        self.lens[at] = bytes.len() as u8;
        self.count += 1;
        true
    }

    /// The oldest datagram.
    fn front(&self) -> Option<&[u8]> {
        let at = usize::from(self.head);
        (self.count > 0).then(|| &self.slots[at][..usize::from(self.lens[at])])
    }

    fn pop(&mut self) {
        if self.count > 0 {
            self.head = ((usize::from(self.head) + 1) % INBOX_DEPTH) as u8;
            self.count -= 1;
        }
    }
}

// Lengths and positions are kept in bytes.
const _: () = assert!(MESSAGE_BYTES <= 255);
const _: () = assert!(INBOX_DEPTH <= 255);

/// What the host keeps for one node besides the node itself.
struct Host {
    app: App,
    /// The node's disk: what survives a crash.
    disk: Disk,
    /// Datagrams waiting for this node.
    inbox: Inbox,
    /// Sequence numbers this node has applied since it last started (duplicate check).
    seen: [u32; SEQ_MAX.div_ceil(32)],
}

impl Host {
    /// What a (re)started node's host starts from: nothing but the disk.
    fn restart(&mut self) {
        self.app = App::NEW;
        self.inbox.clear();
        self.seen = [0; SEQ_MAX.div_ceil(32)];
    }

    const NEW: Host = Host {
        app: App::NEW,
        disk: Disk::NEW,
        inbox: Inbox::NEW,
        seen: [0; SEQ_MAX.div_ceil(32)],
    };
}

/// splitmix64, for the scenario's own choices (disk delays).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Proposals per phase.
const FIRST_BATCH: u32 = 110;
const BEFORE_FOLLOWER_CRASH: u32 = 10;
const WHILE_FOLLOWER_DOWN: u32 = 40;
const BEFORE_LEADER_CRASH: u32 = 10;
const NEW_EPOCH_BATCH: u32 = 60;
/// Every this many proposals of the first batch, one goes through a follower.
const FORWARD_EVERY: u32 = 10;
/// Ticks a phase may take before the run fails.
const PHASE_TICKS_MAX: u32 = 3000;

/// The whole cluster: nodes, their hosts, the network and the reference order of applied entries.
pub struct Cluster {
    /// The nodes. A crashed node's slot is emptied when it restarts from its host's disk.
    nodes: [Slot; NODES],
    crashed: [bool; NODES],
    hosts: [Host; NODES],
    /// Sequence numbers in the order the first node to apply each position applied it.
    reference: Vec<u8, PROPOSALS>,
    next_seq: u32,
    tick: u32,
    rng: Rng,
    seed: u64,
    buf: [u8; MESSAGE_BYTES],
    /// Datagrams lost to full queues or crashed receivers.
    pub lost: u32,
}

impl Default for Cluster {
    fn default() -> Self {
        Self::new()
    }
}

impl Cluster {
    /// An empty cluster, for a `static`.
    pub const fn new() -> Self {
        Cluster {
            nodes: [EMPTY, EMPTY, EMPTY],
            crashed: [false; NODES],
            hosts: [Host::NEW, Host::NEW, Host::NEW],
            reference: Vec::new(),
            next_seq: 1,
            tick: 0,
            rng: Rng(0),
            seed: 0,
            buf: [0; MESSAGE_BYTES],
            lost: 0,
        }
    }

    /// Back to the state of [`Cluster::new`], field by field: a whole new value would be built on
    /// the stack first, and the cluster is most of the RAM of a small board.
    fn reset(&mut self) {
        for slot in 0..NODES {
            self.nodes[slot] = EMPTY;
            self.crashed[slot] = false;
            self.hosts[slot].restart();
            self.hosts[slot].disk = Disk::NEW;
        }
        self.reference.clear();
        self.next_seq = 1;
        self.tick = 0;
        self.rng = Rng(0);
        self.seed = 0;
        self.lost = 0;
    }

    /// Initialises a cluster in place, without building it on the stack.
    ///
    /// # Safety
    /// `this` must be valid for writes and suitably aligned; whatever it held is overwritten
    /// without being dropped.
    pub unsafe fn init(this: *mut Cluster) {
        use core::ptr::addr_of_mut;
        // SAFETY: the caller hands over writable, aligned memory; every field is written once.
        unsafe {
            for slot in 0..NODES {
                addr_of_mut!((*this).nodes[slot]).write(EMPTY);
                addr_of_mut!((*this).crashed[slot]).write(false);
                let host = addr_of_mut!((*this).hosts[slot]);
                addr_of_mut!((*host).app).write(App::NEW);
                addr_of_mut!((*host).disk).write(Disk::NEW);
                addr_of_mut!((*host).inbox).write(Inbox::NEW);
                addr_of_mut!((*host).seen).write([0; SEQ_MAX.div_ceil(32)]);
            }
            addr_of_mut!((*this).reference).write(Vec::new());
            addr_of_mut!((*this).next_seq).write(1);
            addr_of_mut!((*this).tick).write(0);
            addr_of_mut!((*this).rng).write(Rng(0));
            addr_of_mut!((*this).seed).write(0);
            addr_of_mut!((*this).buf).write([0; MESSAGE_BYTES]);
            addr_of_mut!((*this).lost).write(0);
        }
    }

    fn fail(&self, what: &'static str, slot: usize) -> Failure {
        Failure {
            what,
            node: IDS.get(slot).copied().unwrap_or(0),
            tick: self.tick,
        }
    }

    fn config(&self, slot: usize) -> Result<Config, Failure> {
        let config = Config::new(IDS[slot], &IDS, &[])
            .map_err(|_| self.fail("configuration refused", slot))?;
        Ok(config
            .seed(self.seed)
            .cluster_id(CLUSTER_ID)
            .message_bytes_max(MESSAGE_BYTES)
            .inflight_entries_max(INFLIGHT_ENTRIES))
    }

    /// Runs the scenario with `seed`, writing one line per phase to `out` (and, on failure, the
    /// state of every node).
    pub fn run(&mut self, seed: u64, out: &mut dyn fmt::Write) -> Result<Outcome, Failure> {
        let result = self.run_phases(seed, out);
        if result.is_err() {
            self.write_state(out);
        }
        result
    }

    /// One line per node: role, epoch, leader, history, commit point, applied state, queues.
    ///
    /// Only a failed run prints it, after the run has returned. Kept out of line so that its
    /// formatting frame (a score of arguments) is not part of the run's frame, which sits under
    /// the deepest stack of the micro:bit.
    #[inline(never)]
    #[cold]
    pub fn write_state(&self, out: &mut dyn fmt::Write) {
        #[allow(clippy::needless_range_loop)]
        for slot in 0..NODES {
            let host = &self.hosts[slot];
            let Ok(node) = self.nodes[slot].get() else {
                continue;
            };
            let _ = writeln!(
                out,
                "node {}: {}{} epoch {} leader {} last {} durable {} commit {} applied {} ({}) snapshot {} inbox {} writes in flight {} rejected {} (busy {}, unexpected {}, duplicate {}) sends dropped {}",
                IDS[slot],
                if self.crashed[slot] { "crashed " } else { "" },
                match node.role() {
                    Role::Looking => "looking",
                    Role::Following => "following",
                    Role::Leading => "leading",
                    Role::Observing => "observing",
                },
                node.epoch(),
                node.leader().unwrap_or(0),
                node.last_zxid(),
                node.durable_zxid(),
                node.commit_zxid(),
                host.app.count,
                host.app.last,
                node.storage().snapshot_point().1,
                host.inbox.len(),
                host.disk.groups_in_flight(),
                node.counters().rejected_total(),
                node.counters().busy,
                node.counters().unexpected,
                node.counters().duplicate,
                node.sends_dropped(),
            );
        }
        let _ = writeln!(out, "datagrams lost: {}", self.lost);
    }

    fn run_phases(&mut self, seed: u64, out: &mut dyn fmt::Write) -> Result<Outcome, Failure> {
        self.reset();
        self.seed = seed;
        self.rng = Rng(seed ^ 0xD15C);
        for slot in 0..NODES {
            self.start(slot)?;
        }

        // 1. Election.
        let leader = self.until_stable("no leader elected", PHASE_TICKS_MAX)?;
        let epoch1 = self.node(leader)?.epoch();
        let _ = writeln!(
            out,
            "elected: node {} epoch {} at tick {}",
            IDS[leader], epoch1, self.tick
        );

        // 2. Entries through the leader, some forwarded by a follower.
        self.propose_n(FIRST_BATCH, FORWARD_EVERY)?;
        self.until_caught_up("first batch not applied everywhere", &[0, 1, 2])?;
        let _ = writeln!(
            out,
            "applied {} entries on every node at tick {}",
            self.hosts[leader].app.count, self.tick
        );

        // 3. A follower crashes while entries are in flight, misses more, restarts, catches up.
        let follower = (leader + 1) % NODES;
        self.propose_n(BEFORE_FOLLOWER_CRASH, 0)?;
        self.round()?;
        let kept = self.crash(follower)?;
        let _ = writeln!(
            out,
            "crashed follower {}: kept {} of its entries",
            IDS[follower], kept
        );
        let up: [usize; 2] = [leader, (leader + 2) % NODES];
        self.propose_n(WHILE_FOLLOWER_DOWN, 0)?;
        self.until_caught_up("entries not applied while a follower was down", &up)?;
        self.restart(follower)?;
        self.until_caught_up("restarted follower did not catch up", &[0, 1, 2])?;
        let _ = writeln!(
            out,
            "follower {} caught up: {} entries at tick {}",
            IDS[follower], self.hosts[follower].app.count, self.tick
        );

        // 4. The leader crashes; a new epoch commits more; the old leader returns and catches up.
        self.propose_n(BEFORE_LEADER_CRASH, 0)?;
        self.round()?;
        let kept = self.crash(leader)?;
        let _ = writeln!(
            out,
            "crashed leader {}: kept {} of its entries",
            IDS[leader], kept
        );
        let leader2 =
            self.until_stable("no new leader after the leader crashed", PHASE_TICKS_MAX)?;
        let epoch2 = self.node(leader2)?.epoch();
        if epoch2 <= epoch1 {
            return Err(self.fail("the new leader's epoch is not higher", leader2));
        }
        let _ = writeln!(
            out,
            "elected: node {} epoch {} at tick {}",
            IDS[leader2], epoch2, self.tick
        );
        self.propose_n(NEW_EPOCH_BATCH, 0)?;
        let survivors = [leader2, 3 - leader - leader2];
        self.until_caught_up("new epoch's entries not applied", &survivors)?;
        self.restart(leader)?;
        self.until_caught_up("restarted leader did not catch up", &[0, 1, 2])?;
        let _ = writeln!(
            out,
            "old leader {} caught up at tick {}",
            IDS[leader], self.tick
        );

        // 5. Every node applied the same history.
        let app = self.hosts[0].app;
        for slot in 1..NODES {
            if self.hosts[slot].app != app {
                return Err(self.fail("nodes applied different histories", slot));
            }
        }
        if app.count as usize != self.reference.len() {
            return Err(self.fail("applied count differs from the reference order", 0));
        }
        if app.count < COMMITTED_MIN {
            return Err(self.fail("fewer entries committed than required", 0));
        }
        Ok(Outcome {
            committed: app.count,
            hash: app.hash.0,
            epoch: epoch2,
            ticks: self.tick,
        })
    }

    fn node(&self, slot: usize) -> Result<&ZaxNode, Failure> {
        self.live(slot)
            .ok_or_else(|| self.fail("node is down", slot))
    }

    /// The node in `slot` if it is running.
    fn live(&self, slot: usize) -> Option<&ZaxNode> {
        self.nodes[slot]
            .get()
            .ok()
            .filter(|_| !self.crashed[slot])
    }

    fn live_mut(&mut self, slot: usize) -> Option<&mut ZaxNode> {
        self.nodes[slot]
            .get_mut()
            .ok()
            .filter(|_| !self.crashed[slot])
    }

    /// Starts the node of `slot`, in place, from what its host's disk holds (nothing at the
    /// first start): the slot's node is idle, its storage empty.
    #[inline(never)]
    fn start(&mut self, slot: usize) -> Result<(), Failure> {
        let config = self.config(slot)?;
        let started = self.nodes[slot].node.restart_from(config, &mut self.hosts[slot].disk).is_ok();
        self.nodes[slot].started = started;
        if !started {
            return Err(self.fail("node refused its configuration or its disk", slot));
        }
        self.hosts[slot].restart();
        self.drain(slot)
    }

    /// Crashes a node: its queue and every call its disk had not written are lost. Returns the
    /// last position its disk holds. The node stays down until [`Cluster::restart`].
    fn crash(&mut self, slot: usize) -> Result<u64, Failure> {
        if self.live(slot).is_none() {
            return Err(self.fail("crashing a node that is down", slot));
        }
        self.crashed[slot] = true;
        let host = &mut self.hosts[slot];
        host.disk.crash();
        host.inbox.clear();
        Ok(host.disk.last_index())
    }

    /// Restarts a crashed node from its disk only: the node is emptied first, as a board's
    /// memory is by a reset.
    #[inline(never)]
    fn restart(&mut self, slot: usize) -> Result<(), Failure> {
        if !(self.nodes[slot].started && self.crashed[slot]) {
            return Err(self.fail("restarting a node that did not crash", slot));
        }
        self.nodes[slot] = EMPTY;
        self.crashed[slot] = false;
        self.start(slot)
    }

    /// One tick of the whole cluster: every node ticks, finished writes are reported durable,
    /// then every datagram queued before this tick is delivered.
    fn round(&mut self) -> Result<(), Failure> {
        self.tick += 1;
        for slot in 0..NODES {
            if let Some(node) = self.live_mut(slot) {
                node.tick();
                self.drain(slot)?;
            }
        }
        for slot in 0..NODES {
            let tick = self.tick;
            let Some(node) = self.nodes[slot]
                .get_mut()
                .ok()
                .filter(|_| !self.crashed[slot])
            else {
                continue;
            };
            let done = self.hosts[slot]
                .disk
                .complete(tick)
                .map_err(|_| disk_failure(slot, tick))?;
            if let Some(seq) = done {
                node.durable(seq);
                self.drain(slot)?;
            }
        }
        for slot in 0..NODES {
            let queued = self.hosts[slot].inbox.len();
            for _ in 0..queued {
                let inbox = &mut self.hosts[slot].inbox;
                let node = match self.nodes[slot].get_mut() {
                    Ok(node) if !self.crashed[slot] => node,
                    _ => break,
                };
                let Some(bytes) = inbox.front() else {
                    break;
                };
                // Refused messages are counted by the node; the protocol retransmits.
                let _ = node.step(bytes);
                inbox.pop();
                self.drain(slot)?;
            }
        }
        Ok(())
    }

    /// Takes everything a node has to say: writes (started now, finished a few ticks later),
    /// datagrams (queued at their receiver), committed entries (applied) and events.
    fn drain(&mut self, slot: usize) -> Result<(), Failure> {
        loop {
            let mut progressed = false;
            let Some(node) = self.nodes[slot]
                .get_mut()
                .ok()
                .filter(|_| !self.crashed[slot])
            else {
                return Ok(());
            };
            let (host, tick) = (&mut self.hosts[slot], self.tick);
            let handed = node.persist(&mut host.disk);
            if let Some(seq) = handed.map_err(|_| disk_failure(slot, tick))? {
                progressed = true;
                // The disk writes a drain's calls one to three ticks after it takes them.
                let due = tick + 1 + (self.rng.next() % 3) as u32;
                let made_room = host.disk.submit(seq, due);
                if let Some(seq) = made_room.map_err(|_| disk_failure(slot, tick))? {
                    node.durable(seq);
                }
            }
            while let Some(t) = node.poll_transmit(&mut self.buf) {
                progressed = true;
                let to = IDS.iter().position(|&id| id == t.to);
                let queue = to
                    .filter(|&i| !self.crashed[i])
                    .map(|i| &mut self.hosts[i].inbox);
                let sent = match (queue, self.buf.get(..t.len)) {
                    (Some(q), Some(bytes)) => q.push(bytes),
                    _ => false,
                };
                if !sent {
                    self.lost += 1;
                }
            }
            while let Some(apply) = node.poll_commit() {
                progressed = true;
                apply_one(&mut self.hosts[slot], &mut self.reference, apply).map_err(|what| {
                    Failure {
                        what,
                        node: IDS[slot],
                        tick: self.tick,
                    }
                })?;
            }
            while let Some(event) = node.poll_event() {
                progressed = true;
                if let Event::SnapshotWanted { .. } = event {
                    let app = self.hosts[slot].app;
                    if app.last != Zxid::ZERO {
                        // Refusals (busy, already compacted) are retried at the next request.
                        let _ = node.compact(app.last, &app.snapshot());
                    }
                }
            }
            if !progressed {
                return Ok(());
            }
        }
    }

    /// Rounds until one node leads an established epoch and every live node follows it.
    fn until_stable(&mut self, what: &'static str, ticks: u32) -> Result<usize, Failure> {
        for _ in 0..ticks {
            self.round()?;
            let Some(leader) =
                (0..NODES).find(|&i| self.live(i).is_some_and(|n| n.is_established_leader()))
            else {
                continue;
            };
            let all = (0..NODES).all(|i| match self.live(i) {
                None => true,
                Some(n) if i == leader => n.role() == Role::Leading,
                Some(n) => n.role() == Role::Following && n.leader() == Some(IDS[leader]),
            });
            if all {
                return Ok(leader);
            }
        }
        Err(self.fail(what, 0))
    }

    /// Proposes `n` entries, through the leader (or every `forward_every`-th through a
    /// follower), waiting whenever the cluster pushes back.
    fn propose_n(&mut self, n: u32, forward_every: u32) -> Result<(), Failure> {
        let mut done = 0;
        let mut waited = 0;
        while done < n {
            let Some(leader) =
                (0..NODES).find(|&i| self.live(i).is_some_and(|n| n.is_established_leader()))
            else {
                self.round()?;
                waited += 1;
                if waited > PHASE_TICKS_MAX {
                    return Err(self.fail("no leader to propose to", 0));
                }
                continue;
            };
            let seq = self.next_seq;
            let via = if forward_every > 0 && seq.is_multiple_of(forward_every) {
                (0..NODES)
                    .find(|&i| i != leader && self.live(i).is_some())
                    .unwrap_or(leader)
            } else {
                leader
            };
            let payload = payload(seq);
            let Some(node) = self.live_mut(via) else {
                continue;
            };
            match node.propose(&payload) {
                Ok(Proposed::Local(_)) | Ok(Proposed::Forwarded { .. }) => {
                    self.next_seq += 1;
                    done += 1;
                    self.drain(via)?;
                    // A few proposals per tick, as a host fed by a radio would see them.
                    if done % 4 == 0 {
                        self.round()?;
                    }
                }
                Err(ProposeError::Busy) | Err(ProposeError::NoLeader) | Err(ProposeError::Transferring) => {
                    self.round()?;
                    waited += 1;
                    if waited > PHASE_TICKS_MAX {
                        return Err(self.fail("proposals refused for too long", via));
                    }
                }
                Err(ProposeError::TooLarge { .. }) => {
                    return Err(self.fail("payload refused as too large", via))
                }
            }
        }
        Ok(())
    }

    /// Rounds until the given nodes have applied everything the leader committed, the leader
    /// has committed everything it proposed, and they agree.
    fn until_caught_up(&mut self, what: &'static str, slots: &[usize]) -> Result<(), Failure> {
        for _ in 0..PHASE_TICKS_MAX {
            self.round()?;
            let first = self.node(slots[0])?;
            let target = first.last_zxid();
            let app = self.hosts[slots[0]].app;
            let done = slots.iter().all(|&i| match self.live(i) {
                Some(n) => {
                    n.last_zxid() == target
                        && n.commit_zxid() == target
                        && self.hosts[i].app == app
                        && app.last == target
                }
                None => false,
            });
            if done {
                return Ok(());
            }
        }
        Err(self.fail(what, slots[0]))
    }
}

/// A disk that refused a call: its capacities are too small for the run.
fn disk_failure(slot: usize, tick: u32) -> Failure {
    Failure {
        what: "disk refused a write",
        node: IDS.get(slot).copied().unwrap_or(0),
        tick,
    }
}

/// The payload of proposal `seq`: the number and a pattern derived from it.
fn payload(seq: u32) -> [u8; PAYLOAD_BYTES] {
    let mut p = [0u8; PAYLOAD_BYTES];
    p[..4].copy_from_slice(&seq.to_le_bytes());
    p[4..].copy_from_slice(&seq.wrapping_mul(0x9E37_79B9).to_le_bytes());
    p
}

/// Applies one committed entry (or snapshot) to a node's state machine and checks it against
/// the order every other node applied.
fn apply_one(
    host: &mut Host,
    reference: &mut Vec<u8, PROPOSALS>,
    apply: Apply<'_>,
) -> Result<(), &'static str> {
    match apply {
        // The scenario keeps its membership: none is ever committed.
        Apply::Membership { .. } => return Err("a membership change nobody asked for"),
        Apply::Snapshot { zxid, data, .. } => {
            let app = App::restore(data).ok_or("snapshot not understood")?;
            if app.last != zxid {
                return Err("snapshot zxid differs from the state it holds");
            }
            if app.count as usize > reference.len() {
                return Err("snapshot holds more entries than were ever applied");
            }
            host.app = app;
            // Entries covered by the snapshot were checked when they were applied.
            host.seen = [0; SEQ_MAX.div_ceil(32)];
        }
        Apply::Entry {
            zxid,
            payload: bytes,
            ..
        } => {
            if zxid <= host.app.last {
                return Err("zxids applied out of order");
            }
            if bytes.len() != PAYLOAD_BYTES {
                return Err("payload changed length");
            }
            let seq = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            if bytes != payload(seq) || seq == 0 || seq as usize >= SEQ_MAX {
                return Err("payload corrupted");
            }
            let (word, bit) = (seq as usize / 32, 1u32 << (seq % 32));
            if host.seen[word] & bit != 0 {
                return Err("entry applied twice");
            }
            host.seen[word] |= bit;
            let position = host.app.count as usize;
            match reference.get(position) {
                Some(&expected) if u32::from(expected) != seq => {
                    return Err("applied order differs from another node's")
                }
                Some(_) => {}
                None => {
                    if reference.push(seq as u8).is_err() {
                        return Err("more entries applied than proposed");
                    }
                }
            }
            host.app.count += 1;
            host.app.last = zxid;
            host.app.hash.write(&zxid.as_u64().to_le_bytes());
            host.app.hash.write(bytes);
        }
    }
    Ok(())
}
