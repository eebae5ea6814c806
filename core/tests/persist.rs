//! Restart in one call: a 3-node cluster in memory whose hosts drain writes with
//! `Node::persist` into `MemoryStore`s and restart crashed nodes with `Node::recover`,
//! with snapshots taken along the way. Nothing committed is lost, no position is
//! committed twice with different entries, and a restarted node restores its snapshot.
#![cfg(feature = "alloc")]

use std::collections::BTreeMap;

use zaxos::persist::{load, split_snapshot, LoadError, Loader, Persist};
use zaxos::storage::{HardState, Storage, VecStorage};
use zaxos::{Apply, Config, MemoryStore, Node, Zxid};

fn storage() -> VecStorage {
    VecStorage::new(4096, 1 << 20, 1 << 16)
}

fn config(id: u16, seed: u64) -> Config {
    Config::new(id, &[1, 2, 3], &[]).unwrap().seed(seed)
}

struct Host {
    node: Option<Node<VecStorage>>,
    store: MemoryStore,
    /// Payloads applied since the snapshot the state machine restored, as its state.
    applied: u64,
}

#[test]
fn crashed_nodes_recover_from_their_stores_in_one_call() {
    let mut hosts: Vec<Host> = (1..=3).map(|id| Host { node: Some(Node::new(config(id, 1), storage()).unwrap()), store: MemoryStore::new(), applied: 0 }).collect();
    let mut committed: BTreeMap<u64, (Zxid, Vec<u8>)> = BTreeMap::new();
    let mut wire: Vec<(u16, Vec<u8>)> = Vec::new();
    let mut buf = [0u8; 1400];
    let (mut restarts, mut snapshots_restored, mut proposed) = (0u64, 0u64, 0u64);
    for tick in 0..6000u64 {
        for (i, host) in hosts.iter_mut().enumerate() {
            // Crash one node now and then (what it had not drained is lost), and restart it.
            if tick % 700 == 350 + 100 * i as u64 {
                host.node = None;
            }
            let Some(node) = host.node.as_mut() else {
                let seed = tick * 10 + i as u64;
                host.node = Some(Node::recover(config(i as u16 + 1, seed), storage(), &mut host.store).unwrap());
                restarts += 1;
                continue;
            };
            node.tick();
            if node.is_established_leader() && node.last_zxid().counter < node.commit_zxid().counter + 8 {
                proposed += 1;
                let _ = node.propose(format!("p{proposed}").as_bytes());
            }
            if let Some(seq) = node.persist(&mut host.store).unwrap() {
                node.durable(seq);
            }
            while let Some(t) = node.poll_transmit(&mut buf) {
                wire.push((t.to, buf[..t.len].to_vec()));
            }
            let mut snapshot_at = None;
            while let Some(apply) = node.poll_commit() {
                match apply {
                    Apply::Entry { index, zxid, payload } => {
                        if let Some(seen) = committed.get(&index) {
                            assert_eq!(seen, &(zxid, payload.to_vec()), "position {index} committed twice");
                        }
                        committed.insert(index, (zxid, payload.to_vec()));
                        host.applied += 1;
                        if index % 50 == 0 {
                            snapshot_at = Some((zxid, host.applied));
                        }
                    }
                    Apply::Snapshot { data, .. } => {
                        host.applied = u64::from_le_bytes(data.try_into().expect("the state machine's own bytes, header stripped"));
                        snapshots_restored += 1;
                    }
                    Apply::Membership { .. } => {}
                }
            }
            if let Some((zxid, applied)) = snapshot_at {
                node.compact(zxid, &applied.to_le_bytes()).unwrap();
            }
        }
        for (to, bytes) in wire.drain(..) {
            if let Some(node) = hosts[usize::from(to) - 1].node.as_mut() {
                let _ = node.step(&bytes);
            }
        }
    }
    // Every committed entry is held by a majority of the stores, or inside their snapshots.
    for (index, entry) in &committed {
        let copies = hosts
            .iter()
            .filter(|h| *index <= h.store.snapshot.0 || h.store.entries.get((index - h.store.snapshot.0 - 1) as usize) == Some(&(entry.0, entry.1.clone())))
            .count();
        assert!(copies >= 2, "committed {index} held by {copies} stores");
    }
    for host in &hosts {
        let (index, _, data) = &host.store.snapshot;
        if *index > 0 {
            let (membership, state) = split_snapshot(data).expect("a stored snapshot opens with the membership");
            assert_eq!(membership.voters.as_slice(), &[1, 2, 3]);
            assert_eq!(state.len(), 8);
        }
    }
    println!("persist: {restarts} restarts by Node::recover, {snapshots_restored} snapshots restored, {} entries committed", committed.len());
    assert!(restarts >= 20 && snapshots_restored >= 5 && committed.len() > 300);
}

#[test]
fn a_loader_refuses_entries_out_of_order_and_a_full_storage() {
    let mut storage = VecStorage::new(2, 1 << 10, 1 << 10);
    let mut loader: Loader<'_, VecStorage> = Loader::new::<()>(&mut storage).unwrap();
    loader.hard_state(HardState::default());
    assert_eq!(loader.entry::<()>(2, Zxid::new(1, 1), b"a"), Err(LoadError::OutOfOrder { expected: 1, given: 2 }));
    loader.entry::<()>(1, Zxid::new(1, 1), b"a").unwrap();
    loader.entry::<()>(2, Zxid::new(1, 2), b"b").unwrap();
    assert!(matches!(loader.entry::<()>(3, Zxid::new(1, 3), b"c"), Err(LoadError::Storage(_))));
    // A storage already in use is refused: restart fills an empty one.
    let mut store = MemoryStore::new();
    assert_eq!(load(&mut storage, &mut store), Err(LoadError::NotEmpty));
}

#[test]
fn writes_drained_late_are_lent_from_what_the_storage_holds_now() {
    let config = Config::new(1, &[1], &[]).unwrap().seed(3);
    let mut store = MemoryStore::new();
    let mut node: Node<VecStorage> = Node::new(config.clone(), storage()).unwrap();
    let mut applied = Vec::new();
    for _ in 0..200 {
        node.tick();
        if node.is_established_leader() && node.last_zxid().counter < 30 {
            node.propose(format!("e{}", node.last_zxid().counter + 1).as_bytes()).unwrap();
        }
        if let Some(seq) = node.persist(&mut store).unwrap() {
            node.durable(seq);
        }
        while let Some(apply) = node.poll_commit() {
            if let Apply::Entry { zxid, .. } = apply {
                applied.push(zxid);
            }
        }
    }
    assert_eq!(applied.len(), 30);
    // Two snapshots before the host drains: the first one's bytes are gone from the storage,
    // so the drain folds it into the second.
    node.compact(applied[9], b"state at 10").unwrap();
    node.compact(applied[19], b"state at 20").unwrap();
    let mut recording = Recording { store: &mut store, snapshots: Vec::new() };
    let seq = node.persist(&mut recording).unwrap().expect("two snapshot writes");
    // One snapshot call, at 20: a crash after it leaves a snapshot whose point and bytes agree.
    assert_eq!(recording.snapshots, vec![20]);
    node.durable(seq);
    assert_eq!((store.snapshot.0, store.snapshot.1), (20, applied[19]));
    assert_eq!(split_snapshot(&store.snapshot.2).map(|(_, data)| data), Some(&b"state at 20"[..]));
    assert_eq!(store.entries.len(), 10);
    // And the node restarts from it as it was.
    let restarted: Node<VecStorage> = Node::recover(config.seed(4), storage(), &mut store).unwrap();
    assert_eq!(restarted.last_zxid(), applied[29]);
    assert_eq!(restarted.storage().snapshot_point(), (20, applied[19]));
}

/// A store that notes the snapshot calls it gets and passes every call on.
struct Recording<'a> {
    store: &'a mut MemoryStore,
    snapshots: Vec<u64>,
}

impl Persist for Recording<'_> {
    type Error = core::convert::Infallible;

    fn hard_state(&mut self, state: &HardState) -> Result<(), Self::Error> {
        self.store.hard_state(state)
    }

    fn append(&mut self, index: u64, zxid: Zxid, stored: &[u8]) -> Result<(), Self::Error> {
        self.store.append(index, zxid, stored)
    }

    fn truncate_after(&mut self, index: u64) -> Result<(), Self::Error> {
        self.store.truncate_after(index)
    }

    fn snapshot(&mut self, index: u64, zxid: Zxid, data: &[u8], replaces_history: bool) -> Result<(), Self::Error> {
        self.snapshots.push(index);
        self.store.snapshot(index, zxid, data, replaces_history)
    }
}
