//! zaxos, driven by its crate docs' host loop: drain `poll_write` and report `durable`, drain
//! the messages, drain `poll_commit` (and `poll_event`).
//!
//! Messages travel as values (`Zaxos`, like the other engines, which pass theirs in memory):
//! `poll_message` lends each one, the harness copies it into a recycled `MessageBuf` (the
//! payloads once, unencoded) and the receiver takes it with `step_message`. Or as bytes
//! (`ZaxosBytes`, as on a network): each node encodes with `poll_transmit` straight into one
//! arena shared by everything in flight, and the receiver steps a borrowed slice of it. Both
//! send the same messages; the bytes run is the one that counts bytes on the wire.

use zaxos::storage::VecStorage;
use zaxos::wire::MessageBuf;
use zaxos::{Apply, Config, Node};

use crate::cluster::{payload, Applied, Cluster, Links, Params, ENTRY_BYTES};

/// The largest envelope; a PROPOSAL batch carries as many entries as fit (batching on).
pub const MESSAGE_BYTES_MAX: usize = 64 * 1024;

/// A zaxos cluster over `VecStorage`; messages as values unless `BYTES`.
pub struct Zaxos<const BYTES: bool = false> {
    nodes: Vec<Node<VecStorage>>,
    /// Encoded envelopes in flight, back to back (bytes).
    arena: Vec<u8>,
    cursor: usize,
    /// `(from, to, start, len)` into `arena` (bytes).
    queue: Vec<(u16, u16, u32, u32)>,
    /// Messages in flight (values): the first `values_len`; the rest are buffers to reuse.
    values: Vec<(u16, u16, MessageBuf)>,
    values_len: usize,
    applied: Vec<Applied>,
    messages: u64,
    bytes: u64,
}

/// The same cluster with messages encoded to bytes and decoded.
pub type ZaxosBytes = Zaxos<true>;

impl<const BYTES: bool> Zaxos<BYTES> {
    /// The node at index `i`, for scenario tests.
    pub fn node(&self, i: usize) -> &Node<VecStorage> {
        &self.nodes[i]
    }
}

impl<const BYTES: bool> Cluster for Zaxos<BYTES> {
    const NAME: &'static str = if BYTES { "zaxos-bytes" } else { "zaxos" };
    const COUNTS_BYTES: bool = BYTES;

    fn new(params: &Params) -> Self {
        let ids: Vec<u16> = (1..=params.nodes as u16).collect();
        // Room for every entry of the run (no compaction needed), in flight bound above the window.
        let entries_max = (params.entries as usize + 1024) * 4;
        let inflight = (params.window as u32).max(64) * 4;
        let nodes = ids
            .iter()
            .map(|&id| {
                let config = Config::new(id, &ids, &[])
                    .expect("valid membership")
                    .seed(params.seed.wrapping_mul(31).wrapping_add(u64::from(id)))
                    .timeouts(params.election_ticks, params.heartbeat_ticks)
                    .inflight_entries_max(inflight)
                    .message_bytes_max(MESSAGE_BYTES_MAX);
                Node::new(config, VecStorage::new(entries_max, entries_max * ENTRY_BYTES, 1 << 20)).expect("valid config")
            })
            .collect();
        Zaxos {
            nodes,
            arena: vec![0; 4 * MESSAGE_BYTES_MAX],
            cursor: 0,
            queue: Vec::with_capacity(64),
            values: Vec::with_capacity(64),
            values_len: 0,
            applied: (0..params.nodes).map(|_| Applied::new(params.keep_logs)).collect(),
            messages: 0,
            bytes: 0,
        }
    }

    fn tick(&mut self, i: usize) {
        self.nodes[i].tick();
    }

    fn deliver(&mut self, links: &Links) -> usize {
        let mut delivered = 0;
        for (from, to, message) in &self.values[..self.values_len] {
            let (from_index, to_index) = (usize::from(*from) - 1, usize::from(*to) - 1);
            if !links.up(from_index, to_index) {
                continue;
            }
            // Refused input is counted by the node itself; nothing to do here.
            let _ = self.nodes[to_index].step_message(*from, &message.message());
            delivered += 1;
        }
        self.values_len = 0;
        for &(from, to, start, len) in &self.queue {
            let (from, to) = (usize::from(from) - 1, usize::from(to) - 1);
            if !links.up(from, to) {
                continue;
            }
            let bytes = &self.arena[start as usize..(start + len) as usize];
            // Refused input is counted by the node itself; nothing to do here.
            let _ = self.nodes[to].step(bytes);
            delivered += 1;
        }
        self.queue.clear();
        self.cursor = 0;
        delivered
    }

    fn drain(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        // 1. Persist (in memory: at once), then report durable.
        while let Some(write) = node.poll_write() {
            node.durable(write.seq);
        }
        // 2. Send: as values, copied into the queue's buffers, or as bytes, into the arena.
        let from = node.id();
        if BYTES {
            loop {
                if self.arena.len() < self.cursor + MESSAGE_BYTES_MAX {
                    self.arena.resize(self.cursor + MESSAGE_BYTES_MAX, 0);
                }
                let Some(t) = node.poll_transmit(&mut self.arena[self.cursor..self.cursor + MESSAGE_BYTES_MAX]) else { break };
                self.queue.push((from, t.to, self.cursor as u32, t.len as u32));
                self.cursor += t.len;
                self.messages += 1;
                self.bytes += t.len as u64;
            }
        } else {
            while let Some((to, message)) = node.poll_message() {
                match self.values.get_mut(self.values_len) {
                    Some(slot) => {
                        slot.0 = from;
                        slot.1 = to;
                        slot.2.set(&message);
                    }
                    None => self.values.push((from, to, MessageBuf::new(&message))),
                }
                self.values_len += 1;
                self.messages += 1;
            }
        }
        // 3. Apply.
        let applied = &mut self.applied[i];
        if let Some(commits) = node.poll_commits() {
            commits.for_each(|apply| {
                if let Apply::Entry { payload, .. } = apply {
                    applied.push(payload);
                }
            });
        }
        while node.poll_event().is_some() {}
    }

    fn propose(&mut self, i: usize, payload: &[u8; ENTRY_BYTES]) -> bool {
        self.nodes[i].is_established_leader() && self.nodes[i].propose(payload).is_ok()
    }

    fn propose_run(&mut self, i: usize, first: u64, count: u64) -> bool {
        let node = &mut self.nodes[i];
        node.is_established_leader()
            && node.propose_batch((first..first + count).map(payload)).is_ok_and(|batch| batch.taken as u64 == count)
    }

    fn is_leader(&self, i: usize) -> bool {
        self.nodes[i].is_established_leader()
    }

    fn describe(&self, i: usize) -> String {
        let n = &self.nodes[i];
        format!("{:?}{} e{}", n.role(), if n.is_established_leader() { "*" } else { "" }, n.epoch())
    }

    fn applied(&self, i: usize) -> &Applied {
        &self.applied[i]
    }

    fn messages(&self) -> u64 {
        self.messages
    }

    fn bytes(&self) -> u64 {
        self.bytes
    }
}
