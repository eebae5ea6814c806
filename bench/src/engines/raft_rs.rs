//! TiKV's raft-rs 0.7.0 with its `MemStorage`, driven by the Ready loop of its crate docs (and
//! `examples/single_mem_node`): send `messages`, apply `committed_entries`, append `entries`,
//! persist the hard state, send `persisted_messages`, `advance`, then send and apply what the
//! `LightReady` holds and `advance_apply`. Batching and pipelining are on: `batch_append`,
//! `max_inflight_msgs` and `max_size_per_msg` are generous. Messages pass as values; their
//! protobuf size is counted as the bytes they would take on the wire.

use protobuf::Message as _;
use raft::eraftpb::{Entry, EntryType, Message, MessageType};
use raft::storage::MemStorage;
use raft::{Config, RawNode, StateRole};
use slog::o;

use crate::cluster::{payload, Applied, Cluster, Links, Params, ENTRY_BYTES};

/// A raft-rs cluster.
pub struct RaftRs {
    nodes: Vec<RawNode<MemStorage>>,
    queue: Vec<Message>,
    applied: Vec<Applied>,
    messages: u64,
    bytes: u64,
}

impl RaftRs {
    fn send(queue: &mut Vec<Message>, messages: &mut u64, bytes: &mut u64, msgs: Vec<Message>) {
        for m in msgs {
            *messages += 1;
            *bytes += u64::from(m.compute_size());
            queue.push(m);
        }
    }

    fn apply(applied: &mut Applied, entries: Vec<Entry>) {
        for entry in entries {
            // The empty entry a new leader appends carries no payload.
            if entry.data.is_empty() || entry.get_entry_type() != EntryType::EntryNormal {
                continue;
            }
            applied.push(&entry.data);
        }
    }
}

impl Cluster for RaftRs {
    const NAME: &'static str = "raft-rs";
    const COUNTS_BYTES: bool = true;

    fn new(params: &Params) -> Self {
        let logger = slog::Logger::root(slog::Discard, o!());
        let voters: Vec<u64> = (1..=params.nodes as u64).collect();
        let nodes = voters
            .iter()
            .map(|&id| {
                let config = Config {
                    id,
                    election_tick: params.election_ticks as usize,
                    heartbeat_tick: params.heartbeat_ticks as usize,
                    max_size_per_msg: 1 << 20,
                    max_inflight_msgs: (params.window * 4).max(256),
                    batch_append: true,
                    check_quorum: true,
                    pre_vote: true,
                    ..Default::default()
                };
                config.validate().expect("valid raft config");
                let storage = MemStorage::new_with_conf_state((voters.clone(), vec![]));
                RawNode::new(&config, storage, &logger).expect("raft node")
            })
            .collect();
        RaftRs {
            nodes,
            queue: Vec::new(),
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
        for m in std::mem::take(&mut self.queue) {
            let (from, to) = (m.from as usize - 1, m.to as usize - 1);
            if !links.up(from, to) {
                continue;
            }
            let _ = self.nodes[to].step(m);
            delivered += 1;
        }
        delivered
    }

    fn drain(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if !node.has_ready() {
            return;
        }
        let (queue, messages, bytes) = (&mut self.queue, &mut self.messages, &mut self.bytes);
        let applied = &mut self.applied[i];
        let mut ready = node.ready();
        if !ready.messages().is_empty() {
            Self::send(queue, messages, bytes, ready.take_messages());
        }
        if !ready.snapshot().is_empty() {
            node.mut_store().wl().apply_snapshot(ready.snapshot().clone()).expect("apply snapshot");
        }
        Self::apply(applied, ready.take_committed_entries());
        if !ready.entries().is_empty() {
            node.mut_store().wl().append(ready.entries()).expect("append");
        }
        if let Some(hs) = ready.hs() {
            node.mut_store().wl().set_hardstate(hs.clone());
        }
        if !ready.persisted_messages().is_empty() {
            Self::send(queue, messages, bytes, ready.take_persisted_messages());
        }
        let mut light = node.advance(ready);
        if let Some(commit) = light.commit_index() {
            node.mut_store().wl().mut_hard_state().set_commit(commit);
        }
        Self::send(queue, messages, bytes, light.take_messages());
        Self::apply(applied, light.take_committed_entries());
        node.advance_apply();
    }

    fn propose(&mut self, i: usize, payload: &[u8; ENTRY_BYTES]) -> bool {
        let node = &mut self.nodes[i];
        node.raft.state == StateRole::Leader && node.propose(vec![], payload.to_vec()).is_ok()
    }

    // raft-rs takes several entries in one proposal: a MsgPropose that carries them all, which
    // `RawNode::step` hands to the leader as `RawNode::propose` does its one entry.
    fn propose_run(&mut self, i: usize, first: u64, count: u64) -> bool {
        let node = &mut self.nodes[i];
        if node.raft.state != StateRole::Leader {
            return false;
        }
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgPropose);
        m.from = node.raft.id;
        let entries: Vec<Entry> = (first..first + count)
            .map(|seq| Entry { data: payload(seq).to_vec().into(), ..Default::default() })
            .collect();
        m.set_entries(entries.into());
        node.step(m).is_ok()
    }

    fn is_leader(&self, i: usize) -> bool {
        self.nodes[i].raft.state == StateRole::Leader
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
