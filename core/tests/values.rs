//! Messages passed as values (`poll_message`, `MessageBuf`, `step_message`) against the
//! bytes path (`poll_transmit`, `step`): the same messages in the same order, the same
//! outcomes, and the same typed errors and counts for bad input.
#![cfg(feature = "alloc")]

use zaxos::storage::VecStorage;
use zaxos::wire::{self, Header, Message, MessageBuf};
use zaxos::{Apply, Config, Node, StepError, Zxid};

const CLUSTER: u32 = 5;
const MESSAGE_BYTES: usize = 256;
const IDS: [u16; 3] = [1, 2, 3];
const OBSERVER: u16 = 4;

fn node(id: u16) -> Node<VecStorage> {
    let config = Config::new(id, &IDS, &[OBSERVER]).unwrap().seed(3).cluster_id(CLUSTER).timeouts(10, 2).inflight_entries_max(16).message_bytes_max(MESSAGE_BYTES);
    Node::new(config, VecStorage::new(4096, 1 << 16, 4096)).unwrap()
}

/// (position, zxid, payload) of each entry a node applied.
type Applied = Vec<(u64, Zxid, Vec<u8>)>;

/// One cluster driven through bytes and a twin driven through values, in lockstep.
struct Twins {
    bytes: Vec<Node<VecStorage>>,
    values: Vec<Node<VecStorage>>,
    wire: Vec<(u16, u16, Vec<u8>)>,
    queue: Vec<(u16, u16, MessageBuf)>,
    /// Per path, per node: what was applied.
    applied: [Vec<Applied>; 2],
    /// Node indexes cut off from everyone.
    cut: Option<usize>,
    messages: usize,
    /// Batches the values path held as one stretch of one length (no table).
    uniform: usize,
    kinds: std::collections::BTreeSet<&'static str>,
}

impl Twins {
    fn new() -> Twins {
        let ids = [1, 2, 3, OBSERVER];
        Twins {
            bytes: ids.iter().map(|&id| node(id)).collect(),
            values: ids.iter().map(|&id| node(id)).collect(),
            wire: Vec::new(),
            queue: Vec::new(),
            applied: [vec![Vec::new(); 4], vec![Vec::new(); 4]],
            cut: None,
            messages: 0,
            uniform: 0,
            kinds: Default::default(),
        }
    }

    /// The host loop at node `i` of both clusters; every message compared as it leaves.
    fn drain(&mut self, i: usize) {
        let (a, b) = (&mut self.bytes[i], &mut self.values[i]);
        for n in [&mut *a, &mut *b] {
            while let Some(w) = n.poll_write() {
                n.durable(w.seq);
            }
        }
        let mut buf = [0u8; MESSAGE_BYTES];
        loop {
            let sent = a.poll_transmit(&mut buf);
            let value = b.poll_message();
            match (sent, value) {
                (None, None) => break,
                (Some(t), Some((to, message))) => {
                    assert_eq!(t.to, to, "node {i}: receiver differs");
                    self.kinds.insert(message.kind());
                    // Into a buffer of exactly its size.
                    let mut again = vec![0u8; wire::encoded_len(&message)];
                    let header = Header { cluster_id: CLUSTER, from: a.id(), to };
                    let len = wire::encode(header, &message, &mut again).unwrap();
                    assert_eq!(&buf[..t.len], &again[..len], "node {i}: {} differs on the wire", message.kind());
                    assert_eq!(wire::encoded_len(&message), t.len, "node {i}: encoded_len of {}", message.kind());
                    let (_, decoded) = wire::decode(&buf[..t.len], CLUSTER, to, MESSAGE_BYTES).unwrap();
                    assert_eq!(decoded, message, "node {i}: the value differs from the decoded bytes");
                    let copy = MessageBuf::new(&message);
                    assert_eq!(copy.message(), message, "node {i}: MessageBuf changed {}", message.kind());
                    if format!("{copy:?}").contains("uniform: Some") {
                        self.uniform += 1;
                    }
                    self.wire.push((a.id(), to, buf[..t.len].to_vec()));
                    self.queue.push((b.id(), to, copy));
                    self.messages += 1;
                }
                (sent, value) => panic!("node {i}: bytes path sent {sent:?}, values path {value:?}"),
            }
        }
        for (k, n) in [&mut *a, &mut *b].into_iter().enumerate() {
            // One entry at a time, in one batch by `next`, or in one batch by `for_each` (which
            // walks stretches of one length on its own path): the same sequence every way.
            let applied = &mut self.applied[k][i];
            let mut record = |apply: Apply<'_>| {
                if let Apply::Entry { index, zxid, payload } = apply {
                    applied.push((index, zxid, payload.to_vec()));
                }
            };
            match (self.messages + k) % 3 {
                0 => {
                    while let Some(apply) = n.poll_commit() {
                        record(apply);
                    }
                }
                1 => {
                    for apply in n.poll_commits().into_iter().flatten() {
                        record(apply);
                    }
                }
                _ => {
                    if let Some(commits) = n.poll_commits() {
                        commits.for_each(&mut record);
                    }
                }
            }
            while n.poll_event().is_some() {}
        }
    }

    fn deliver(&mut self) {
        let wire: Vec<_> = self.wire.drain(..).collect();
        let queue: Vec<_> = self.queue.drain(..).collect();
        for ((from, to, bytes), (_, _, value)) in wire.iter().zip(&queue) {
            let (from_i, to_i) = (usize::from(*from) - 1, usize::from(*to) - 1);
            if self.cut.is_some_and(|c| c == from_i || c == to_i) {
                continue;
            }
            let a = self.bytes[to_i].step(bytes);
            let b = self.values[to_i].step_message(*from, &value.message());
            assert_eq!(a, b, "{} from {from} at {to}: outcomes differ", value.message().kind());
            self.drain(to_i);
        }
    }

    fn tick(&mut self) {
        for i in 0..4 {
            self.bytes[i].tick();
            self.values[i].tick();
            self.drain(i);
        }
        self.deliver();
    }

    fn leader(&self) -> Option<usize> {
        (0..4).find(|&i| self.bytes[i].is_established_leader())
    }
}

#[test]
fn values_and_bytes_send_the_same_messages_and_reach_the_same_state() {
    let mut t = Twins::new();
    let mut proposed = 0u32;
    for tick in 0..400u32 {
        if tick == 120 {
            // A follower falls behind, and the others compact past it: it needs SNAP later.
            t.cut = t.leader().map(|l| (l + 1) % 3);
        }
        if tick == 220 {
            t.cut = None;
        }
        if let Some(l) = t.leader() {
            for _ in 0..(tick % 7) {
                proposed += 1;
                let payload = proposed.to_le_bytes().repeat(1 + (proposed % 9) as usize);
                assert_eq!(t.bytes[l].propose(&payload), t.values[l].propose(&payload));
            }
            // A proposal forwarded by a follower.
            let f = (l + 2) % 3;
            let payload = [0xf0, tick as u8];
            assert_eq!(t.bytes[f].propose(&payload), t.values[f].propose(&payload));
        }
        if tick % 50 == 49 {
            for i in 0..4 {
                let applied = t.applied[0][i].last().map(|(_, zxid, _)| *zxid);
                if let Some(zxid) = applied {
                    assert_eq!(t.bytes[i].compact(zxid, b"snapshot"), t.values[i].compact(zxid, b"snapshot"));
                }
            }
        }
        t.tick();
        for i in 0..4 {
            assert_eq!(t.bytes[i].counters(), t.values[i].counters(), "tick {tick}: node {i}'s counters differ");
            assert_eq!(t.bytes[i].commit_zxid(), t.values[i].commit_zxid());
        }
    }
    assert_eq!(t.applied[0], t.applied[1]);
    let committed = t.applied[0].iter().map(Vec::len).max().unwrap_or(0);
    assert!(committed > 500, "only {committed} entries applied");
    for kind in ["PROPOSAL", "INFORM", "COMMIT", "ACK", "FORWARD", "SNAP", "SNAPACK", "HEARTBEAT"] {
        assert!(t.kinds.contains(kind), "no {kind} among {:?}", t.kinds);
    }
}

/// Batches proposed in one call (`propose_batch`), mostly of one length, so that the values
/// path holds and appends them as stretches: the same messages, outcomes and applied logs as
/// the bytes path, through a follower cut off and catching up.
#[test]
fn batch_proposals_of_one_length_match_the_bytes_path() {
    let mut t = Twins::new();
    let mut proposed = 0u32;
    // Proposals stop at tick 300 and come at about 6 a tick, under what one window per round
    // trip carries to the follower that was cut off, so every node applies all of them.
    for tick in 0..400u32 {
        if tick == 100 {
            t.cut = t.leader().map(|l| (l + 1) % 3);
        }
        if tick == 160 {
            t.cut = None;
        }
        if let Some(l) = t.leader().filter(|_| tick < 300) {
            let count = tick % 13;
            let payloads: Vec<Vec<u8>> = (0..count)
                .map(|k| {
                    proposed += 1;
                    // Now and then a payload that is stored framed (2 bytes longer).
                    let first = if (proposed + k) % 41 == 0 { 0xff } else { 1 };
                    let mut p = proposed.to_le_bytes().repeat(2);
                    p[0] = first;
                    p
                })
                .collect();
            let (a, b) = (t.bytes[l].propose_batch(&payloads), t.values[l].propose_batch(&payloads));
            assert_eq!(a, b, "tick {tick}: the two leaders took different batches");
            let taken = a.map_or(0, |batch| batch.taken);
            assert!(taken <= payloads.len());
            proposed -= (payloads.len() - taken) as u32;
        }
        t.tick();
        for i in 0..4 {
            assert_eq!(t.bytes[i].counters(), t.values[i].counters(), "tick {tick}: node {i}'s counters differ");
            assert_eq!(t.bytes[i].commit_zxid(), t.values[i].commit_zxid());
        }
    }
    assert_eq!(t.applied[0], t.applied[1]);
    let applied: Vec<usize> = t.applied[0].iter().map(Vec::len).collect();
    assert!(proposed > 1_500, "only {proposed} proposals were taken");
    assert!(applied.iter().all(|&n| n == proposed as usize), "{proposed} proposed, applied {applied:?}");
    assert!(t.uniform > 50, "only {} batches were held as stretches", t.uniform);
    // Every node applied the framed payloads as they were proposed.
    assert!(t.applied[0][0].iter().any(|(_, _, p)| p[0] == 0xff));
}

/// A follower cut off while the leader's history grows faster than one window per round trip
/// still finishes syncing once it is back: NEWLEADER follows the DIFF up to where the history
/// stood when the sync began (not up to a last entry it never reaches), so it acknowledges,
/// commits and applies while it catches up.
#[test]
fn a_follower_behind_a_load_faster_than_its_window_syncs_and_applies() {
    let mut t = Twins::new();
    let (mut cut, mut applied_at_return) = (None, 0);
    for tick in 0..300u32 {
        if tick == 100 {
            cut = t.leader().map(|l| (l + 1) % 3);
            t.cut = cut;
        }
        if tick == 160 {
            t.cut = None;
            applied_at_return = cut.map_or(0, |c| t.applied[0][c].len());
        }
        if let Some(l) = t.leader() {
            // About 11 a tick; the window carries 16 entries per two ticks.
            let payloads: Vec<Vec<u8>> = (0..tick % 23).map(|k| (tick * 32 + k).to_le_bytes().to_vec()).collect();
            assert_eq!(t.bytes[l].propose_batch(&payloads), t.values[l].propose_batch(&payloads));
        }
        t.tick();
    }
    let c = cut.expect("a leader by tick 100");
    let applied = t.applied[0][c].len();
    // At one window per round trip it gains about 8 a tick over the 140 ticks after it is back.
    assert!(applied > applied_at_return + 800, "the follower applied {applied_at_return} by its return and {applied} at the end");
    assert_eq!(t.applied[0], t.applied[1]);
}

/// A leader and a follower of a settled cluster, driven through values.
fn settled() -> (Vec<Node<VecStorage>>, usize, usize) {
    let mut t = Twins::new();
    for _ in 0..60 {
        t.tick();
    }
    let l = t.leader().expect("a leader");
    t.values[l].propose(b"x").unwrap();
    t.bytes[l].propose(b"x").unwrap();
    for _ in 0..5 {
        t.tick();
    }
    (t.values, l, (l + 1) % 3)
}

#[test]
fn bad_values_get_the_typed_errors_and_counts_of_the_bytes_path() {
    let (mut nodes, l, f) = settled();
    let leader = nodes[l].id();
    let epoch = nodes[f].epoch();
    let commit = nodes[f].commit_zxid();
    let last = nodes[f].last_zxid();
    let proposal = |entries| Message::Proposal(wire::Proposal { epoch, prev: last, commit, entries });
    let big = vec![7u8; MESSAGE_BYTES];
    let many: Vec<(Zxid, Vec<u8>)> = (1..=40).map(|c| (Zxid::new(epoch, last.counter + c), vec![1u8; 8])).collect();
    // A batch too large for the receiver's message size, held as values.
    let mut wire_bytes = Vec::new();
    let oversized = {
        for (zxid, payload) in &many {
            let mut head = [0u8; 16];
            let mut at = 0;
            // Each a run of one: `len << 1`, no count.
            for v in [u64::from(zxid.epoch), u64::from(zxid.counter), (payload.len() as u64) << 1] {
                let mut v = v;
                loop {
                    let byte = (v & 0x7f) as u8;
                    v >>= 7;
                    head[at] = if v == 0 { byte } else { byte | 0x80 };
                    at += 1;
                    if v == 0 {
                        break;
                    }
                }
            }
            wire_bytes.extend_from_slice(&head[..at]);
            wire_bytes.extend_from_slice(payload);
        }
        // Copied out of the wire form and back into values: a MessageBuf of a MessageBuf.
        let once = MessageBuf::new(&proposal(wire::Entries::from_wire(&wire_bytes)));
        let values = once.message();
        let Message::Proposal(p) = values else { unreachable!() };
        let entries: Vec<_> = p.entries.iter().map(|e| e.unwrap()).collect();
        assert_eq!(entries.len(), many.len());
        once
    };
    type Case = (&'static str, u16, MessageBuf, fn(&StepError) -> bool, fn(&zaxos::Counters) -> u64);
    let table: Vec<Case> = vec![
        ("unknown sender", 9, MessageBuf::new(&Message::Commit { epoch, zxid: commit }), |e| matches!(e, StepError::UnknownSender(9)), |c| c.unknown_sender),
        ("from itself", nodes[f].id(), MessageBuf::new(&Message::Commit { epoch, zxid: commit }), |e| matches!(e, StepError::UnknownSender(_)), |c| c.unknown_sender),
        ("stale epoch", leader, MessageBuf::new(&Message::Commit { epoch: epoch - 1, zxid: Zxid::new(epoch - 1, 1) }), |e| matches!(e, StepError::StaleEpoch { .. }), |c| c.stale_epoch),
        ("ACK at a follower", leader, MessageBuf::new(&Message::Ack { epoch, exchange: 0, zxid: commit }), |e| matches!(e, StepError::Unexpected(_)), |c| c.unexpected),
        ("malformed entries", leader, MessageBuf::new(&proposal(wire::Entries::from_wire(&[1, 9, 200]))), |e| matches!(e, StepError::Wire(wire::WireError::Malformed)), |c| c.undecodable),
        ("oversized", leader, oversized, |e| matches!(e, StepError::Wire(wire::WireError::Oversized(_))), |c| c.oversized),
        ("oversized chunk", leader, MessageBuf::new(&Message::SnapChunk(wire::SnapChunk { epoch, exchange: 0, index: 1, zxid: commit, offset: 0, total: big.len() as u32, data: wire::Bytes(&big) })), |e| matches!(e, StepError::Wire(wire::WireError::Oversized(_))), |c| c.oversized),
    ];
    for (name, from, message, is_expected, counter) in table {
        let node = &mut nodes[f];
        let before = (node.last_zxid(), node.commit_zxid(), node.durable_zxid(), node.epoch(), node.role(), node.storage_last_index());
        let (count_before, total_before) = (counter(node.counters()), node.counters().rejected_total());
        let got = node.step_message(from, &message.message());
        match &got {
            Err(e) if is_expected(e) => {}
            other => panic!("{name}: got {other:?}"),
        }
        assert_eq!(counter(node.counters()), count_before + 1, "{name}: not counted");
        assert_eq!(node.counters().rejected_total(), total_before + 1, "{name}: counted twice");
        let after = (node.last_zxid(), node.commit_zxid(), node.durable_zxid(), node.epoch(), node.role(), node.storage_last_index());
        assert_eq!(after, before, "{name}: state changed");
        // As bytes, it is refused too.
        let mut buf = vec![0u8; 4096];
        if let Ok(len) = wire::encode(Header { cluster_id: CLUSTER, from, to: node.id() }, &message.message(), &mut buf) {
            let bytes_result = node.step(&buf[..len]);
            assert!(bytes_result.is_err(), "{name}: the bytes path took it");
        }
    }
    // A payload forwarded to the leader larger than a proposal may be is refused there.
    nodes[f].propose(b"x").unwrap();
    let mut forwarded = None;
    while let Some((_, m)) = nodes[f].poll_message() {
        if let Message::Forward { epoch, exchange, seq, .. } = m {
            forwarded = Some((epoch, exchange, seq));
        }
    }
    let (epoch, exchange, seq) = forwarded.expect("the follower forwards");
    let too_big = vec![1u8; MESSAGE_BYTES];
    let forward = Message::Forward { epoch, exchange, seq: seq + 1, payload: wire::Bytes(&too_big) };
    let follower = nodes[f].id();
    assert!(matches!(nodes[l].step_message(follower, &forward), Err(StepError::Wire(wire::WireError::Oversized(_)))));
    // Of another handshake (a replay from before a restart or a re-sync): refused.
    let forward = Message::Forward { epoch, exchange: exchange - 1, seq: seq + 1, payload: wire::Bytes(b"y") };
    assert_eq!(nodes[l].step_message(follower, &forward), Err(StepError::OtherExchange));
    let fits = vec![1u8; nodes[l].config().payload_bytes_max() + 1];
    let forward = Message::Forward { epoch, exchange, seq: seq + 2, payload: wire::Bytes(&fits) };
    let dropped = nodes[l].counters().forward_dropped;
    assert_eq!(nodes[l].step_message(follower, &forward), Err(StepError::Busy));
    assert_eq!(nodes[l].counters().forward_dropped, dropped + 1);
}
