//! The scenario's disk on its own: what a crash keeps, and what a restart loads.

use zaxos::persist::{load, Persist};
use zaxos::storage::{HardState, Storage};
use zaxos::Zxid;
use zaxos_nostd_scenario::disk::{Disk, DiskError, CALLS_IN_FLIGHT};
use zaxos_nostd_scenario::Store;

fn z(counter: u32) -> Zxid {
    Zxid::new(1, counter)
}

fn hard(epoch: u32) -> HardState {
    HardState { accepted_epoch: epoch, current_epoch: epoch, ..HardState::ZERO }
}

/// What a restart would load from `disk`: (hard state, snapshot point, entries after it).
fn loaded(disk: &mut Disk) -> (HardState, u64, Vec<(Zxid, Vec<u8>)>) {
    let mut storage = Store::new();
    load(&mut storage, disk).unwrap();
    let (snapshot, _) = storage.snapshot_point();
    let entries = (snapshot + 1..=storage.last_index())
        .map(|i| storage.entry_at(i).map(|(zxid, bytes)| (zxid, bytes.to_vec())).unwrap())
        .collect();
    (storage.hard_state(), snapshot, entries)
}

fn append(disk: &mut Disk, from: u32, to: u32) {
    for i in from..=to {
        disk.append(u64::from(i), z(i), &[i as u8; 8]).unwrap();
    }
}

#[test]
fn a_group_is_durable_at_its_tick_and_a_crash_before_loses_it() {
    let mut disk = Disk::NEW;
    disk.hard_state(&hard(1)).unwrap();
    append(&mut disk, 1, 2);
    assert_eq!(disk.submit(7, 5), Ok(None));
    assert_eq!(disk.complete(4), Ok(None));
    disk.crash();
    assert_eq!(loaded(&mut disk), (HardState::ZERO, 0, vec![]));

    disk.hard_state(&hard(2)).unwrap();
    append(&mut disk, 1, 2);
    disk.submit(9, 5).unwrap();
    assert_eq!(disk.complete(5), Ok(Some(9)));
    let (state, snapshot, entries) = loaded(&mut disk);
    assert_eq!((state, snapshot, entries.len()), (hard(2), 0, 2));
}

#[test]
fn a_full_queue_writes_its_oldest_calls_early_and_a_crash_keeps_them() {
    let mut disk = Disk::NEW;
    // One call more than there is room for in flight: the first is written to make room.
    disk.hard_state(&hard(1)).unwrap();
    append(&mut disk, 1, CALLS_IN_FLIGHT as u32);
    disk.submit(1, 100).unwrap();
    disk.crash();
    assert_eq!(loaded(&mut disk), (hard(1), 0, vec![]));
    // Groups finish in order: a later group due earlier waits for the one ahead.
    append(&mut disk, 1, 1);
    disk.submit(2, 10).unwrap();
    append(&mut disk, 2, 2);
    disk.submit(3, 5).unwrap();
    assert_eq!(disk.complete(9), Ok(None));
    assert_eq!(disk.complete(10), Ok(Some(3)));
    assert_eq!(disk.last_index(), 2);
}

#[test]
fn a_snapshot_keeps_the_entries_after_it_unless_it_replaces_the_history() {
    let mut disk = Disk::NEW;
    append(&mut disk, 1, 4);
    disk.snapshot(2, z(2), b"state", false).unwrap();
    disk.submit(1, 0).unwrap();
    disk.complete(0).unwrap();
    let (_, snapshot, entries) = loaded(&mut disk);
    assert_eq!((snapshot, entries.iter().map(|e| e.0).collect::<Vec<_>>()), (2, vec![z(3), z(4)]));

    disk.snapshot(3, Zxid::new(2, 1), b"other", true).unwrap();
    disk.submit(2, 0).unwrap();
    disk.complete(0).unwrap();
    let (_, snapshot, entries) = loaded(&mut disk);
    assert_eq!((snapshot, entries.len()), (3, 0));
}

#[test]
fn what_the_disk_cannot_hold_is_refused_not_dropped() {
    let mut disk = Disk::NEW;
    assert_eq!(disk.append(1, z(1), &[0; 9]), Err(DiskError::TooLarge));
    // An append past the end of the history is refused when it is written.
    append(&mut disk, 1, 1);
    disk.append(3, z(3), &[3]).unwrap();
    disk.submit(1, 0).unwrap();
    assert_eq!(disk.complete(0), Err(DiskError::Gap));
}
