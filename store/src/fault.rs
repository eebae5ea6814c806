//! A directory in memory that fails the way disks do, for crash tests in one process:
//! data not synced is lost at a crash (all, or a prefix of it: a torn write), a directory
//! change not synced is undone, a write can stop short when the disk is full, and a bit can
//! rot in data that was synced.
use std::collections::BTreeMap;
use std::io;

use crate::medium::Medium;

#[derive(Clone, Debug, Default)]
struct File {
    data: Vec<u8>,
    /// Bytes that survive a crash.
    synced_len: usize,
}

/// An in-memory [`Medium`] with faults.
#[derive(Clone, Debug, Default)]
pub struct FaultyMedium {
    /// File contents by inode.
    inodes: BTreeMap<u64, File>,
    /// The directory as the store sees it, and as it survives a crash.
    names: BTreeMap<String, u64>,
    names_synced: BTreeMap<String, u64>,
    next_inode: u64,
    /// Bytes the disk holds in all; an append past it writes what fits and fails.
    pub space_bytes_max: Option<usize>,
    /// Appends that stopped short.
    pub writes_cut: u64,
    /// Syncs of a file.
    pub syncs: u64,
}

impl FaultyMedium {
    /// An empty directory on a disk of unlimited size.
    pub fn new() -> Self {
        FaultyMedium::default()
    }

    /// A crash: the directory goes back to its last sync; each file keeps what was synced
    /// and, where `keep_of_unsynced(unsynced bytes)` says so, that many more bytes of what
    /// was written after (a torn write). Returns the bytes lost.
    pub fn crash(&mut self, mut keep_of_unsynced: impl FnMut(usize) -> usize) -> usize {
        self.names = self.names_synced.clone();
        let live: Vec<u64> = self.names.values().copied().collect();
        self.inodes.retain(|inode, _| live.contains(inode));
        let mut lost = 0;
        for file in self.inodes.values_mut() {
            let unsynced = file.data.len() - file.synced_len;
            let keep = keep_of_unsynced(unsynced).min(unsynced);
            file.data.truncate(file.synced_len + keep);
            file.synced_len = file.data.len();
            lost += unsynced - keep;
        }
        lost
    }

    /// Flips one bit of file `name` at byte `offset`, in synced data (rot on the medium).
    pub fn flip_bit(&mut self, name: &str, offset: usize, bit: u8) -> bool {
        let Some(file) = self.names.get(name).and_then(|inode| self.inodes.get_mut(inode)) else { return false };
        match file.data.get_mut(offset) {
            Some(byte) => {
                *byte ^= 1 << (bit % 8);
                true
            }
            None => false,
        }
    }

    /// The synced length of a file.
    pub fn synced_len(&self, name: &str) -> Option<usize> {
        self.names.get(name).and_then(|inode| self.inodes.get(inode)).map(|f| f.synced_len)
    }

    fn used_bytes(&self) -> usize {
        self.inodes.values().map(|f| f.data.len()).sum()
    }

    fn file(&mut self, name: &str) -> io::Result<&mut File> {
        let inode = *self.names.get(name).ok_or(io::ErrorKind::NotFound)?;
        self.inodes.get_mut(&inode).ok_or_else(|| io::ErrorKind::NotFound.into())
    }
}

impl Medium for FaultyMedium {
    fn list(&mut self) -> io::Result<Vec<String>> {
        Ok(self.names.keys().cloned().collect())
    }

    fn len(&mut self, name: &str) -> io::Result<u64> {
        Ok(self.file(name)?.data.len() as u64)
    }

    fn read_at(&mut self, name: &str, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let data = &self.file(name)?.data;
        let from = (offset as usize).min(data.len());
        let n = buf.len().min(data.len() - from);
        buf[..n].copy_from_slice(&data[from..from + n]);
        Ok(n)
    }

    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let room = self.space_bytes_max.map_or(usize::MAX, |max| max.saturating_sub(self.used_bytes()));
        if !self.names.contains_key(name) {
            self.next_inode += 1;
            self.names.insert(name.to_string(), self.next_inode);
            self.inodes.insert(self.next_inode, File::default());
        }
        let fits = bytes.len().min(room);
        self.file(name)?.data.extend_from_slice(&bytes[..fits]);
        if fits < bytes.len() {
            self.writes_cut += 1;
            // ENOSPC, as a real disk says it (ErrorKind::StorageFull).
            return Err(io::Error::from_raw_os_error(28));
        }
        Ok(())
    }

    fn sync(&mut self, name: &str) -> io::Result<()> {
        self.syncs += 1;
        let file = self.file(name)?;
        file.synced_len = file.data.len();
        Ok(())
    }

    fn set_len(&mut self, name: &str, len: u64) -> io::Result<()> {
        let file = self.file(name)?;
        file.data.truncate(len as usize);
        file.synced_len = file.synced_len.min(file.data.len());
        Ok(())
    }

    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        let inode = self.names.remove(from).ok_or(io::ErrorKind::NotFound)?;
        self.names.insert(to.to_string(), inode);
        Ok(())
    }

    fn remove(&mut self, name: &str) -> io::Result<()> {
        self.names.remove(name).map(|_| ()).ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    fn sync_dir(&mut self) -> io::Result<()> {
        self.names_synced = self.names.clone();
        Ok(())
    }
}
