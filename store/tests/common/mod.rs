//! Helpers shared by the crash tests: a tiny seeded generator and reading a store back.
#![allow(dead_code)]
use zaxos::persist::RecoverError;
use zaxos::storage::{Storage, VecStorage};
use zaxos::Zxid;
use zaxos_store::{FileStore, Medium, StoreError};

/// xorshift64*: the tests' only source of chance, so a seed replays a run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// What a store brought back: hard state aside, the snapshot and the entries after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    pub hard: zaxos::storage::HardState,
    pub snapshot: (u64, Zxid, Vec<u8>),
    pub entries: Vec<(u64, Zxid, Vec<u8>)>,
}

pub fn storage() -> VecStorage {
    VecStorage::new(1 << 20, 1 << 28, 1 << 20)
}

/// Loads a store into memory the way `Node::recover` does.
pub fn recover<M: Medium>(store: &mut FileStore<M>) -> Result<Recovered, zaxos::persist::LoadError<StoreError>> {
    let mut storage = storage();
    zaxos::persist::load(&mut storage, store)?;
    let (index, zxid) = storage.snapshot_point();
    let entries = (index + 1..=storage.last_index()).filter_map(|i| storage.entry_at(i).map(|(z, p)| (i, z, p.to_vec()))).collect();
    Ok(Recovered { hard: storage.hard_state(), snapshot: (index, zxid, storage.snapshot_data().to_vec()), entries })
}

pub fn describe<E: std::fmt::Debug>(e: RecoverError<E>) -> String {
    format!("{e:?}")
}
