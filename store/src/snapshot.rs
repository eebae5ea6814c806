//! Snapshot files, written atomically: a temporary file, synced, renamed into place, and the
//! directory synced. One file per snapshot point, named by it:
//!
//! ```text
//! magic "ZXSNAP01" | index: u64 | zxid: u64 | data bytes: u64 | crc32(data): u32 | data
//! ```
use zaxos::persist::{LoadError, Loader};
use zaxos::storage::Storage;
use zaxos::Zxid;

use crate::error::StoreError;
use crate::medium::Medium;

const MAGIC: &[u8; 8] = b"ZXSNAP01";
const HEAD_BYTES: usize = 36;
const TEMP: &str = "snap.tmp";
const CHUNK_BYTES: usize = 1 << 16;

/// The file name of the snapshot at `(index, zxid)`.
pub fn name(index: u64, zxid: Zxid) -> String {
    format!("snap-{index:016x}-{:016x}", zxid.as_u64())
}

/// Writes the snapshot and makes it durable under its name.
pub fn write<M: Medium>(medium: &mut M, index: u64, zxid: Zxid, data: &[u8]) -> Result<(), StoreError> {
    let io = StoreError::io;
    match medium.remove(TEMP) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io("removing a stale snapshot")(e)),
        _ => {}
    }
    let mut head = Vec::with_capacity(HEAD_BYTES);
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&index.to_le_bytes());
    head.extend_from_slice(&zxid.as_u64().to_le_bytes());
    head.extend_from_slice(&(data.len() as u64).to_le_bytes());
    head.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    medium.append(TEMP, &head).map_err(io("writing a snapshot"))?;
    medium.append(TEMP, data).map_err(io("writing a snapshot"))?;
    medium.sync(TEMP).map_err(io("syncing a snapshot"))?;
    medium.rename(TEMP, &name(index, zxid)).map_err(io("renaming a snapshot"))?;
    medium.sync_dir().map_err(io("syncing the directory"))
}

/// The head's data length and checksum, if the file is the snapshot at `(index, zxid)`.
fn head<M: Medium>(medium: &mut M, file: &str, index: u64, zxid: Zxid) -> Result<(u64, u32), StoreError> {
    let corrupt = || StoreError::SnapshotCorrupt { file: file.to_string() };
    let mut head = [0u8; HEAD_BYTES];
    let n = medium.read_at(file, 0, &mut head).map_err(|_| corrupt())?;
    let field = |at: usize| head.get(at..at + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
    let len = field(24).ok_or_else(corrupt)?;
    let crc = head.get(32..36).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes).ok_or_else(corrupt)?;
    let total = medium.len(file).map_err(|_| corrupt())?;
    if n != HEAD_BYTES || &head[..8] != MAGIC || field(8) != Some(index) || field(16) != Some(zxid.as_u64()) || total != HEAD_BYTES as u64 + len {
        return Err(corrupt());
    }
    Ok((len, crc))
}

/// Streams the snapshot's data through `each`, then checks its checksum.
fn stream<M: Medium>(medium: &mut M, index: u64, zxid: Zxid, mut each: impl FnMut(u64, &[u8]) -> Result<(), StoreError>) -> Result<(), StoreError> {
    let file = name(index, zxid);
    let (len, crc) = head(medium, &file, index, zxid)?;
    let corrupt = || StoreError::SnapshotCorrupt { file: file.clone() };
    let mut hasher = crc32fast::Hasher::new();
    let mut chunk = vec![0u8; CHUNK_BYTES];
    let mut at = 0u64;
    while at < len {
        let want = (len - at).min(CHUNK_BYTES as u64) as usize;
        let n = medium.read_at(&file, HEAD_BYTES as u64 + at, &mut chunk[..want]).map_err(|_| corrupt())?;
        if n == 0 {
            return Err(corrupt());
        }
        hasher.update(&chunk[..n]);
        each(at, &chunk[..n])?;
        at += n as u64;
    }
    if hasher.finalize() != crc {
        return Err(corrupt());
    }
    Ok(())
}

/// Checks that the snapshot at `(index, zxid)` is whole.
pub fn check<M: Medium>(medium: &mut M, index: u64, zxid: Zxid) -> Result<(), StoreError> {
    stream(medium, index, zxid, |_, _| Ok(()))
}

/// Hands the snapshot to `loader`.
pub fn load<M: Medium, S: Storage>(medium: &mut M, index: u64, zxid: Zxid, loader: &mut Loader<'_, S>) -> Result<(), LoadError<StoreError>> {
    let mut refused = None;
    stream(medium, index, zxid, |at, bytes| {
        let offset = u32::try_from(at).map_err(|_| StoreError::RecordTooLarge { bytes: at })?;
        loader.snapshot_chunk::<StoreError>(offset, bytes).map_err(|e| {
            refused = Some(e);
            StoreError::Gap { what: "room for the snapshot in memory" }
        })
    })
    .map_err(|e| refused.take().unwrap_or(LoadError::Store(e)))?;
    loader.snapshot_end(index, zxid)
}

/// Removes every snapshot file but the one at `(index, zxid)`, and a stale temporary file;
/// returns whether it removed any.
pub fn remove_others<M: Medium>(medium: &mut M, index: u64, zxid: Zxid) -> Result<bool, StoreError> {
    let keep = name(index, zxid);
    let mut removed = false;
    for file in medium.list().map_err(StoreError::io("listing the directory"))? {
        if (file.starts_with("snap-") && file != keep) || file == TEMP {
            medium.remove(&file).map_err(StoreError::io("removing a snapshot"))?;
            removed = true;
        }
    }
    Ok(removed)
}
