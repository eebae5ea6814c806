#![allow(clippy::needless_update)] // `..HardState::default()`: the hard state gains fields
//! The file store on a medium that fails the way disks do, in one process: crashes that lose
//! unsynced data (all of it or a torn prefix) and unsynced directory changes, writes cut
//! short by a full disk, and bits flipped in synced data. A random stream of writes is
//! checked against a model: after a crash the store brings back exactly the state after
//! some prefix of the writes made since the last sync (so nothing synced is lost, and no
//! write is half applied); a flipped bit is an error at open, never data.
mod common;

use common::{recover, Recovered, Rng};
use zaxos::persist::Persist;
use zaxos::storage::HardState;
use zaxos::Zxid;
use zaxos_store::fault::FaultyMedium;
use zaxos_store::{FileStore, Limits, Medium, StoreError};

fn limits() -> Limits {
    Limits { segment_bytes_max: 2048, record_bytes_max: 1 << 16, buffer_bytes_max: 700 }
}

/// The writes' meaning, as the contract in `zaxos::persist` states it.
#[derive(Clone, Debug)]
struct Model {
    state: Recovered,
    epoch: u32,
}

impl Model {
    fn last_index(&self) -> u64 {
        self.state.entries.last().map_or(self.state.snapshot.0, |e| e.0)
    }

    fn truncate_after(&mut self, after: u64) {
        self.state.entries.retain(|e| e.0 <= after);
    }
}

/// One random write, made on the store and the model alike.
fn random_write(rng: &mut Rng, model: &mut Model, store: &mut FileStore<FaultyMedium>) -> Result<(), StoreError> {
    let snap = model.state.snapshot.0;
    let last = model.last_index();
    let payload: Vec<u8> = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
    let op = rng.below(100);
    if std::env::var_os("FAULTS_TRACE").is_some() {
        eprintln!("op {op} snap {snap} last {last} epoch {}", model.epoch);
    }
    match op {
        0..=49 => {
            let index = if rng.below(10) == 0 && last > snap {
                // Overwrite from a position inside the history, as a new epoch would.
                model.epoch += 1;
                snap + 1 + rng.below(last - snap)
            } else {
                last + 1
            };
            let zxid = Zxid::new(model.epoch, index as u32);
            store.append(index, zxid, &payload)?;
            model.truncate_after(index - 1);
            model.state.entries.push((index, zxid, payload));
        }
        50..=59 => {
            let after = snap + rng.below(last - snap + 1);
            store.truncate_after(after)?;
            model.truncate_after(after);
        }
        60..=74 => {
            let hard = HardState { accepted_epoch: rng.next() as u32, promised_leader: rng.below(5) as u16, current_epoch: rng.next() as u32, ..HardState::default() };
            store.hard_state(&hard)?;
            model.state.hard = hard;
        }
        75..=84 if last > snap => {
            let index = snap + 1 + rng.below(last - snap);
            let zxid = model.state.entries.iter().find(|e| e.0 == index).map(|e| e.1).unwrap_or(Zxid::ZERO);
            store.snapshot(index, zxid, &payload, false)?;
            model.state.entries.retain(|e| e.0 > index);
            model.state.snapshot = (index, zxid, payload);
        }
        85..=87 => {
            model.epoch += 1;
            let index = snap + 1 + rng.below(last - snap + 5);
            let zxid = Zxid::new(model.epoch, index as u32);
            store.snapshot(index, zxid, &payload, true)?;
            model.state.entries.clear();
            model.state.snapshot = (index, zxid, payload);
        }
        _ => {
            let hard = model.state.hard;
            store.hard_state(&hard)?;
        }
    }
    Ok(())
}

fn open(medium: FaultyMedium) -> (FileStore<FaultyMedium>, Recovered) {
    let mut store = FileStore::open(medium, limits()).unwrap_or_else(|e| panic!("open after a crash: {e}"));
    let state = recover(&mut store).unwrap_or_else(|e| panic!("load after a crash: {e:?}"));
    (store, state)
}

#[test]
fn crashes_and_full_disks_lose_nothing_synced_and_apply_a_prefix() {
    let (mut crashes, mut torn, mut full, mut writes, mut states_checked) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for seed in 1..=60u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let (mut store, state) = open(FaultyMedium::new());
        let mut model = Model { state, epoch: 1 };
        // The states a crash may bring back: after the last sync, and after each write since.
        let mut since_sync = vec![model.state.clone()];
        for _step in 0..400 {
            if rng.below(40) == 0 {
                store.medium_mut().space_bytes_max = Some(store_bytes(store.medium_mut()) + rng.below(400) as usize);
            }
            let failed = match rng.below(10) {
                0..=1 => store.sync().map(|()| since_sync = vec![model.state.clone()]).is_err(),
                _ => {
                    let result = random_write(&mut rng, &mut model, &mut store);
                    writes += 1;
                    since_sync.push(model.state.clone());
                    result.is_err()
                }
            };
            if failed {
                full += 1;
            }
            if std::env::var_os("FAULTS_TRACE").is_some() {
                eprintln!("failed {failed} files {:?}", store.medium_mut().list().unwrap());
            }
            if failed || rng.below(25) == 0 {
                // A crash (a failed write stops the node: it restarts from the store).
                let mut medium = store.into_medium();
                let tear = rng.below(2) == 0;
                let mut keep_rng = Rng(rng.next() | 1);
                medium.crash(|unsynced| if tear { keep_rng.below(unsynced as u64 + 1) as usize } else { 0 });
                medium.space_bytes_max = None;
                torn += u64::from(tear);
                crashes += 1;
                let (reopened, state) = open(medium);
                store = reopened;
                assert!(
                    since_sync.contains(&state),
                    "seed {seed}: the store came back in a state no prefix of the writes since the last sync makes\n got {state:?}\n synced {:?}",
                    since_sync[0]
                );
                states_checked += since_sync.len() as u64;
                model.state = state;
                model.epoch += 1;
                since_sync = vec![model.state.clone()];
            }
        }
    }
    println!("faults: {crashes} crashes ({torn} with torn writes), {full} writes failed on a full disk, {writes} writes, {states_checked} candidate states compared");
    assert!(crashes > 500 && full > 20, "too few faults: {crashes} crashes, {full} full disks");
}

fn store_bytes(medium: &mut FaultyMedium) -> usize {
    let names = medium.list().unwrap();
    names.iter().map(|n| medium.len(n).unwrap() as usize).sum()
}

#[test]
fn a_flipped_bit_anywhere_in_synced_data_is_an_error_never_data() {
    let mut rng = Rng(0xb175);
    let (mut store, state) = open(FaultyMedium::new());
    let mut model = Model { state, epoch: 1 };
    for _ in 0..300 {
        random_write(&mut rng, &mut model, &mut store).unwrap();
        if rng.below(8) == 0 {
            store.sync().unwrap();
        }
    }
    // Entries after the last snapshot, so that several segments stay.
    for _ in 0..60 {
        let index = model.last_index() + 1;
        store.append(index, Zxid::new(model.epoch, index as u32), &[index as u8; 100]).unwrap();
        model.state.entries.push((index, Zxid::new(model.epoch, index as u32), vec![index as u8; 100]));
    }
    store.sync().unwrap();
    // The newest segment's last record is the one place a bad checksum reads as a torn
    // write; end on a record outside the region where bits flip.
    let newest = store.medium_mut().list().unwrap().into_iter().filter(|n| n.starts_with("log-")).max().unwrap();
    let flippable_end = store.medium_mut().len(&newest).unwrap();
    store.hard_state(&model.state.hard).unwrap();
    store.sync().unwrap();
    let medium = store.into_medium();
    let files: Vec<String> = medium.clone().list().unwrap();
    assert!(files.len() >= 4, "expected several segments and a snapshot: {files:?}");
    let (mut flips, mut corrupt, mut snapshot_corrupt) = (0u32, 0u32, 0u32);
    for _ in 0..400 {
        let mut damaged = medium.clone();
        let name = &files[rng.below(files.len() as u64) as usize];
        let len = if *name == newest { flippable_end } else { damaged.len(name).unwrap() };
        assert!(damaged.flip_bit(name, rng.below(len) as usize, rng.below(8) as u8));
        flips += 1;
        match FileStore::open(damaged, limits()) {
            Err(StoreError::Corrupt { .. }) => corrupt += 1,
            Err(StoreError::SnapshotCorrupt { .. }) => snapshot_corrupt += 1,
            Err(e) => panic!("a flipped bit in {name} gave {e}"),
            Ok(mut store) => panic!("a flipped bit in {name} went unnoticed: {:?}", recover(&mut store).map(|s| s.entries.len())),
        }
    }
    println!("faults: {flips} flipped bits, {corrupt} reported corrupt records, {snapshot_corrupt} corrupt snapshots, 0 served");
    assert!(corrupt > 0 && snapshot_corrupt > 0);
}

#[test]
fn entries_past_a_gap_whose_snapshot_was_cut_off_are_dropped_at_open() {
    let (mut store, _) = open(FaultyMedium::new());
    for index in 1..=3 {
        store.append(index, Zxid::new(1, index as u32), b"kept").unwrap();
    }
    store.sync().unwrap();
    // The node compacted 4..=5 before the host drained: the append skips them, and the
    // snapshot that covers them would come next; the crash takes it.
    store.append(6, Zxid::new(1, 6), b"past the gap").unwrap();
    store.sync().unwrap();
    let (mut store, state) = open(store.into_medium());
    assert_eq!(state.entries.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    // The cut is itself durable: the history goes on from 4, and a later open agrees.
    store.append(4, Zxid::new(2, 4), b"next").unwrap();
    store.sync().unwrap();
    let (_, state) = open(store.into_medium());
    assert_eq!(state.entries.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
}

#[test]
fn compaction_deletes_whole_segments_behind_a_durable_snapshot() {
    let (mut store, _) = open(FaultyMedium::new());
    for index in 1..=200u64 {
        store.append(index, Zxid::new(1, index as u32), &[index as u8; 64]).unwrap();
    }
    store.sync().unwrap();
    let before = store.segment_count();
    assert!(before >= 5, "small segments: {before}");
    store.snapshot(190, Zxid::new(1, 190), b"state at 190", false).unwrap();
    // Nothing goes before the snapshot's record is durable.
    assert_eq!(store.segment_count(), before);
    store.sync().unwrap();
    let after = store.segment_count();
    assert!(after <= 2, "segments behind the snapshot deleted: {before} -> {after}");
    let snapshots = store.medium_mut().list().unwrap().into_iter().filter(|n| n.starts_with("snap")).count();
    assert_eq!(snapshots, 1);
    let (_, state) = open(store.into_medium());
    assert_eq!(state.snapshot.0, 190);
    assert_eq!(state.entries.iter().map(|e| e.0).collect::<Vec<_>>(), (191..=200).collect::<Vec<_>>());
    println!("faults: compaction took {before} segments to {after}");
}
