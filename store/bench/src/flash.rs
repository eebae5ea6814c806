//! NOR flash cost per entry: the flash store over flash in memory that counts what it is asked
//! to do, with the writes a node makes (entries, and a snapshot every so often that lets
//! checkpoints drop what it covers).
use embedded_storage::nor_flash::{ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash};
use zaxos::persist::Persist;
use zaxos::Zxid;
use zaxos_store::flash::FlashStore;

const SECTOR: usize = 4096;
/// Four sectors per bank.
const BANK: u32 = 4 * SECTOR as u32;
/// Entries between snapshots, and the snapshot's size (a small state machine's).
const SNAPSHOT_EVERY: u64 = 64;
const SNAPSHOT_BYTES: usize = 48;

#[derive(Debug)]
pub struct Never;

impl NorFlashError for Never {
    fn kind(&self) -> NorFlashErrorKind {
        NorFlashErrorKind::Other
    }
}

/// Flash in memory, counting bytes programmed and sectors erased.
struct Counted {
    mem: Vec<u8>,
    programmed: u64,
    erased_sectors: u64,
}

impl ErrorType for Counted {
    type Error = Never;
}

impl ReadNorFlash for Counted {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Never> {
        bytes.copy_from_slice(&self.mem[offset as usize..offset as usize + bytes.len()]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.mem.len()
    }
}

impl NorFlash for Counted {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = SECTOR;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Never> {
        self.mem[from as usize..to as usize].fill(0xFF);
        self.erased_sectors += u64::from(to - from) / SECTOR as u64;
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Never> {
        for (at, b) in self.mem[offset as usize..].iter_mut().zip(bytes) {
            *at &= b;
        }
        self.programmed += bytes.len() as u64;
        Ok(())
    }
}

pub fn run(entries: u64, bytes: usize) -> String {
    let flash = Counted { mem: vec![0xFF; 2 * BANK as usize], programmed: 0, erased_sectors: 0 };
    let mut store: FlashStore<Counted, 8, 256> = FlashStore::open(flash, 0, BANK).expect("open");
    let payload = vec![7u8; bytes];
    for index in 1..=entries {
        store.append(index, Zxid::new(1, index as u32), &payload).expect("append");
        if index % SNAPSHOT_EVERY == 0 {
            store.snapshot(index, Zxid::new(1, index as u32), &[1u8; SNAPSHOT_BYTES], false).expect("snapshot");
        }
    }
    let checkpoints = store.checkpoints;
    let flash = store.into_flash();
    let per_entry = flash.programmed as f64 / entries as f64;
    let erases = flash.erased_sectors as f64 * 1000.0 / entries as f64;
    println!("| entry payload (B) | entries | snapshot every | bank | bytes programmed per entry | sectors erased per 1000 entries | checkpoints |");
    println!("|---:|---:|---:|---|---:|---:|---:|");
    println!("| {bytes} | {entries} | {SNAPSHOT_EVERY} | 4 × {} KiB sectors | {per_entry:.1} | {erases:.2} | {checkpoints} |", SECTOR / 1024);
    format!("\"flash\":{{\"payload_bytes\":{bytes},\"bytes_per_entry\":{per_entry:.1},\"sectors_erased_per_1000_entries\":{erases:.2}}}")
}
