//! A node restarted from NOR flash, with no allocator: a one-voter cluster whose host persists
//! every write into `zaxos_store::flash::FlashStore` over a flash region, and that loses power
//! again and again. After each loss the node starts over with `Node::restart_from` on an empty
//! storage, from the flash alone, and must come back with everything it had applied (the same
//! count and hash once it has re-applied up to where it was), then go on.
//!
//! The flash here is RAM that behaves as NOR flash (erase to 0xFF by sector, a word programmed
//! once between erases; a second programming is an error): what the store does to it is what
//! it would do to a board's flash controller through `embedded-storage`.
use core::fmt;

use embedded_storage::nor_flash::{ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash};
use zaxos::{Apply, Config, Zxid};
use zaxos_store::flash::FlashStore;

use crate::Fnv;

/// Flash sector, and a bank of two of them (the store uses two banks).
pub const FLASH_SECTOR: usize = 1024;
const FLASH_BANK: u32 = 2 * FLASH_SECTOR as u32;
const FLASH_BYTES: usize = 2 * FLASH_BANK as usize;
/// Power losses in a run, and entries applied between two.
pub const FLASH_RESTARTS: u32 = 6;
const ENTRIES_PER_LIFE: u32 = 40;
/// Entries between two snapshots (the history holds `LOG_ENTRIES`).
const SNAPSHOT_EVERY: u32 = 8;
/// Ticks a life may take before the run counts as stuck.
const TICKS_MAX: u32 = 4_000;
/// Snapshot: the membership, then count (4) and hash (8).
const STATE_LEN: usize = 12;

/// The cluster's node type, so that the image holds one copy of the kernel's code.
type FlashNode = crate::ZaxNode;

/// Something the NOR rules forbid (the store never does it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RamFlashError {
    /// Outside the region, or not aligned to a word or a sector.
    OutOfBounds,
    /// A word programmed twice without an erase.
    NotErased,
}

impl NorFlashError for RamFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            RamFlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            RamFlashError::NotErased => NorFlashErrorKind::Other,
        }
    }
}

/// RAM that behaves as NOR flash.
pub struct RamFlash {
    bytes: [u8; FLASH_BYTES],
    /// Bytes programmed and sectors erased so far.
    pub programmed: u32,
    pub erased: u32,
}

impl ErrorType for RamFlash {
    type Error = RamFlashError;
}

impl ReadNorFlash for RamFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), RamFlashError> {
        let from = offset as usize;
        let bytes = self.bytes.get(from..from + out.len()).ok_or(RamFlashError::OutOfBounds)?;
        out.copy_from_slice(bytes);
        Ok(())
    }

    fn capacity(&self) -> usize {
        FLASH_BYTES
    }
}

impl NorFlash for RamFlash {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = FLASH_SECTOR;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), RamFlashError> {
        let (from, to) = (from as usize, to as usize);
        if from % FLASH_SECTOR != 0 || to % FLASH_SECTOR != 0 {
            return Err(RamFlashError::OutOfBounds);
        }
        self.bytes.get_mut(from..to).ok_or(RamFlashError::OutOfBounds)?.fill(0xFF);
        self.erased += ((to - from) / FLASH_SECTOR) as u32;
        Ok(())
    }

    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), RamFlashError> {
        let from = offset as usize;
        if from % 4 != 0 || data.len() % 4 != 0 {
            return Err(RamFlashError::OutOfBounds);
        }
        let target = self.bytes.get_mut(from..from + data.len()).ok_or(RamFlashError::OutOfBounds)?;
        if target.iter().any(|&b| b != 0xFF) {
            return Err(RamFlashError::NotErased);
        }
        target.copy_from_slice(data);
        self.programmed += data.len() as u32;
        Ok(())
    }
}

const IDLE: FlashNode = FlashNode::idle(crate::Store::new());

/// The run's state, placed by the caller (a `static` on a board).
pub struct FlashRun {
    node: FlashNode,
    flash: RamFlash,
}

/// What a passing flash run reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlashOutcome {
    /// Power losses the node came back from.
    pub restarts: u32,
    /// Entries applied in the end.
    pub applied: u32,
    /// Hash over every applied `(zxid, payload)`.
    pub hash: u64,
    /// Flash bytes programmed and sectors erased.
    pub programmed: u32,
    pub erased: u32,
}

/// The state machine: how many entries, and a hash over them.
#[derive(Clone, Copy, PartialEq, Eq)]
struct State {
    count: u32,
    hash: u64,
}

impl State {
    fn apply(&mut self, zxid: Zxid, payload: &[u8]) {
        let mut fnv = Fnv(self.hash);
        fnv.write(&zxid.as_u64().to_le_bytes());
        fnv.write(payload);
        self.hash = fnv.0;
        self.count += 1;
    }

    fn encode(&self) -> [u8; STATE_LEN] {
        let mut out = [0u8; STATE_LEN];
        out[..4].copy_from_slice(&self.count.to_le_bytes());
        out[4..].copy_from_slice(&self.hash.to_le_bytes());
        out
    }

    fn decode(data: &[u8]) -> Option<State> {
        let count = u32::from_le_bytes(data.get(..4)?.try_into().ok()?);
        let hash = u64::from_le_bytes(data.get(4..12)?.try_into().ok()?);
        Some(State { count, hash })
    }
}

impl FlashRun {
    /// Initialises a run in place, without building it on the stack.
    ///
    /// # Safety
    /// `this` must be valid for writes and suitably aligned; whatever it held is overwritten
    /// without being dropped.
    pub unsafe fn init(this: *mut FlashRun) {
        use core::ptr::addr_of_mut;
        // SAFETY: the caller hands over writable, aligned memory; every field is written once.
        unsafe {
            addr_of_mut!((*this).node).write(IDLE);
            addr_of_mut!((*this).flash.bytes).write_bytes(0xFF, 1);
            addr_of_mut!((*this).flash.programmed).write(0);
            addr_of_mut!((*this).flash.erased).write(0);
        }
    }

    /// Runs the lives of the node, one line each to `out`.
    pub fn run(&mut self, out: &mut dyn fmt::Write) -> Result<FlashOutcome, &'static str> {
        let config = Config::new(1, &[1], &[]).map_err(|_| "configuration refused")?;
        let mut before_loss = State { count: 0, hash: Fnv::NEW.0 };
        for life in 0..=FLASH_RESTARTS {
            // A power loss: the node and its memory are gone; the flash stays.
            self.node = IDLE;
            let mut store = FlashStore::<_, 4, 64>::open(&mut self.flash, 0, FLASH_BANK).map_err(|_| "flash store did not open")?;
            self.node.restart_from(config.clone().seed(u64::from(life) + 1), &mut store).map_err(|_| "restart from flash refused")?;
            let state = live(&mut self.node, &mut store, before_loss, ENTRIES_PER_LIFE)?;
            let _ = writeln!(out, "flash life {life}: restored and re-applied {} entries, now {} applied", before_loss.count, state.count);
            before_loss = state;
        }
        Ok(FlashOutcome { restarts: FLASH_RESTARTS, applied: before_loss.count, hash: before_loss.hash, programmed: self.flash.programmed, erased: self.flash.erased })
    }
}

/// One life: re-applies up to `before` (checking it is the same), then applies `more` entries.
fn live<F: NorFlash>(node: &mut FlashNode, store: &mut FlashStore<F, 4, 64>, before: State, more: u32) -> Result<State, &'static str> {
    let mut state = State { count: 0, hash: Fnv::NEW.0 };
    let mut checked = before.count == 0;
    for _ in 0..TICKS_MAX {
        node.tick();
        if node.is_established_leader() && state.count >= before.count && node.last_zxid() == node.commit_zxid() {
            let payload = (state.count + 1).to_le_bytes();
            node.propose(&payload).map_err(|_| "proposal refused")?;
        }
        // Flash writes are durable once the store returns.
        if let Some(seq) = node.persist(store).map_err(|_| "flash write failed")? {
            node.durable(seq);
        }
        let mut snapshot_at = None;
        while let Some(apply) = node.poll_commit() {
            match apply {
                Apply::Entry { zxid, payload, .. } => {
                    state.apply(zxid, payload);
                    if state.count % SNAPSHOT_EVERY == 0 {
                        snapshot_at = Some((zxid, state));
                    }
                }
                Apply::Snapshot { data, .. } => state = State::decode(data).ok_or("snapshot is not a state")?,
                Apply::Membership { .. } => {}
            }
            if !checked && state.count >= before.count {
                if state.count != before.count || state.hash != before.hash {
                    return Err("restored state differs from the one before the power loss");
                }
                checked = true;
            }
        }
        if let Some((zxid, at)) = snapshot_at {
            node.compact(zxid, &at.encode()).map_err(|_| "compaction refused")?;
        }
        if checked && state.count >= before.count + more {
            return Ok(state);
        }
    }
    Err("the node made no progress")
}
