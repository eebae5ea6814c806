//! One test of the storage contract, run against every implementation.

use super::{HardState, Storage, StorageError};
use crate::Zxid;

pub(crate) fn check<S: Storage>(s: &mut S) {
    assert_eq!(s.last_index(), 0);
    assert_eq!(s.last_zxid(), Zxid::ZERO);
    assert_eq!(s.index_of(Zxid::ZERO), Some(0));
    let hard = HardState { accepted_epoch: 3, promised_leader: 2, current_epoch: 2, incarnation: 4, commit_floor: Zxid::new(2, 1) };
    s.set_hard_state(hard);
    assert_eq!(s.hard_state(), hard);

    let zxids = [Zxid::new(1, 1), Zxid::new(1, 2), Zxid::new(2, 1), Zxid::new(2, 2), Zxid::new(4, 1)];
    for (i, z) in zxids.iter().enumerate() {
        assert_eq!(s.append(*z, &[i as u8; 5]), Ok(i as u64 + 1));
    }
    assert_eq!(s.last_zxid(), Zxid::new(4, 1));
    assert_eq!(s.index_of(Zxid::new(2, 2)), Some(4));
    assert_eq!(s.index_of(Zxid::new(2, 3)), None);
    assert_eq!(s.index_at_or_before(Zxid::new(2, 3)), Some(4));
    assert_eq!(s.index_at_or_before(Zxid::new(9, 0)), Some(5));
    assert_eq!(s.index_at_or_before(Zxid::new(0, 5)), Some(0));
    assert_eq!(s.payload_at(3), Some(&[2u8; 5][..]));
    assert_eq!(s.payload_at(6), None);

    s.truncate_after(3).unwrap();
    assert_eq!(s.last_zxid(), Zxid::new(2, 1));
    assert_eq!(s.payload_at(4), None);

    s.compact_through(2, b"state", b"@2").unwrap();
    assert_eq!(s.snapshot_point(), (2, Zxid::new(1, 2)));
    assert_eq!(s.snapshot_data(), b"state@2");
    assert_eq!(s.payload_at(2), None);
    assert_eq!(s.zxid_at(2), Some(Zxid::new(1, 2)));
    assert_eq!(s.index_of(Zxid::new(1, 2)), Some(2));
    assert_eq!(s.index_of(Zxid::new(1, 1)), None);
    assert_eq!(s.index_at_or_before(Zxid::new(1, 1)), None, "compacted away");
    assert_eq!(s.index_at_or_before(Zxid::new(1, 2)), Some(2));
    assert_eq!(s.truncate_after(1), Err(StorageError::OutOfRange));
    assert_eq!(s.append(Zxid::new(5, 1), b""), Ok(4));
    assert_eq!(s.payload_at(4), Some(&b""[..]));

    // A snapshot being received leaves the current one alone until installed.
    s.receive_snapshot_chunk(0, b"new-").unwrap();
    s.receive_snapshot_chunk(4, b"state").unwrap();
    assert_eq!(s.snapshot_data(), b"state@2");
    assert_eq!(s.install_received_snapshot(9, Zxid::new(6, 3), 99), Err(StorageError::OutOfRange));
    assert_eq!(s.install_received_snapshot(9, Zxid::new(6, 3), 9), Ok(true), "a snapshot beyond the history replaces it");
    assert_eq!(s.snapshot_data(), b"new-state");
    assert_eq!(s.last_index(), 9);
    assert_eq!(s.last_zxid(), Zxid::new(6, 3));
    assert_eq!(s.append(Zxid::new(6, 4), b"x"), Ok(10));
    assert_eq!(s.receive_snapshot_chunk(3, b"gap"), Err(StorageError::SnapshotTooLarge));
    // A snapshot of a point the history holds keeps what follows it.
    s.append(Zxid::new(6, 5), b"y").unwrap();
    s.receive_snapshot_chunk(0, b"at-10").unwrap();
    assert_eq!(s.install_received_snapshot(10, Zxid::new(6, 4), 5), Ok(false));
    assert_eq!(s.snapshot_point(), (10, Zxid::new(6, 4)));
    assert_eq!(s.payload_at(11), Some(&b"y"[..]));
    // One that disagrees with the history at its point replaces it.
    s.receive_snapshot_chunk(0, b"other").unwrap();
    assert_eq!(s.install_received_snapshot(11, Zxid::new(7, 1), 5), Ok(true));
    assert_eq!(s.last_index(), 11);
    assert_eq!(s.payload_at(11), None);
}
