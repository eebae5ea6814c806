//! A store for NOR flash on boards: `no_std`, no allocator, over the `embedded-storage`
//! traits (a word is written once between erases; erasing sets a sector to 0xFF).
//!
//! The region is two banks of whole sectors. The active bank holds a checkpoint (the whole
//! state: hard state, snapshot, entries after it), closed by a commit record, then a log of
//! writes in the same format as the file store's, one record each. When the log reaches the
//! bank's end, the store erases the other bank, writes a checkpoint of the current state
//! there (copying records flash to flash), commits it, and erases the old bank. Power may go
//! at any single write or erase:
//!
//! - a record's body is written before its head, so a record whose head reads right is
//!   whole; a head cut short, or erased, ends the log, and the next record goes after the
//!   last programmed byte (never over a programmed word);
//! - a checkpoint counts only once its commit record is written; until then the old bank
//!   is untouched and stays the active one.
//!
//! Every record is checksummed; a bad one with data after it is [`FlashError::Corrupt`].
//! Memory: the plan of runs (`RUNS` of them) and a few small buffers.
//!
//! Why not `sequential-storage`: its queue pops from the front only and its map keeps one
//! value per key; the history needs truncation from the back and snapshots that retire a
//! prefix, in the order of the writes, and its 8.x API is async. Its approach (erase-to-0xFF
//! states, write-once words, garbage collection by copying) is the same one used here.
use embedded_storage::nor_flash::NorFlash;
use zaxos::persist::{Durable, LoadError, Loader, Persist};
use zaxos::storage::{HardState, Storage};
use zaxos::Zxid;

use crate::plan::{Plan, Run};
use crate::record::{checksum, parse_head, Record, HEAD_BYTES};

/// Why the flash store failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashError<E> {
    /// The flash driver failed.
    Flash(E),
    /// The state does not fit in a bank even right after a checkpoint: take a snapshot.
    Full,
    /// A record at this offset fails its checksum or does not parse, with data after it.
    Corrupt {
        /// Byte offset in the flash.
        offset: u32,
    },
    /// A record larger than a bank, or an entry larger than the load buffer.
    TooLarge,
    /// More runs of entries than the plan holds: truncations piled up (a checkpoint
    /// makes them one).
    TooManyRuns,
    /// The region is not two banks of whole sectors.
    Layout,
}

const BEGIN: u8 = 11;
const COMMIT: u8 = 12;
const SNAPSHOT_WITH_DATA: u8 = 13;
/// Bytes buffered per flash write.
const STAGE_BYTES: usize = 64;
/// Bytes of a body decoded from its front (every kind's fixed fields and a hard state).
const PREFIX_BYTES: usize = 64;

type Runs<const N: usize> = heapless::Vec<Run, N>;

/// The store over `flash`, holding at most `RUNS` runs of entries in its plan and loading
/// entries of at most `ENTRY_BYTES` stored bytes.
pub struct FlashStore<F: NorFlash, const RUNS: usize = 8, const ENTRY_BYTES: usize = 256> {
    flash: F,
    base: u32,
    bank_bytes: u32,
    active: u32,
    generation: u32,
    /// Where the next record goes (absolute).
    head: u32,
    plan: Plan<Runs<RUNS>>,
    /// Checkpoints written (each erases a bank).
    pub checkpoints: u32,
}

fn align(n: u32, to: usize) -> u32 {
    let to = to as u32;
    n.div_ceil(to) * to
}

/// What scanning a bank found.
struct Bank<const RUNS: usize> {
    generation: u32,
    committed: bool,
    plan: Plan<Runs<RUNS>>,
    head: u32,
    /// Nothing whole in it: blank, or a first record cut short.
    empty: bool,
    /// Its log ends in a record cut short (garbage the next write must not follow).
    torn: bool,
}

impl<F: NorFlash, const RUNS: usize, const ENTRY_BYTES: usize> FlashStore<F, RUNS, ENTRY_BYTES> {
    const HEAD_AREA: u32 = (HEAD_BYTES.div_ceil(F::WRITE_SIZE) * F::WRITE_SIZE) as u32;
    const STAGE_FITS: () = assert!(STAGE_BYTES % F::WRITE_SIZE == 0 && F::READ_SIZE <= 4 && 4 % F::READ_SIZE == 0 && RUNS >= 2);

    /// Opens the store on the region `[base, base + 2 * bank_bytes)`: finds the active bank,
    /// reads its records once, and starts a fresh checkpoint when the region is blank.
    pub fn open(flash: F, base: u32, bank_bytes: u32) -> Result<Self, FlashError<F::Error>> {
        #[allow(clippy::let_unit_value)]
        let () = Self::STAGE_FITS;
        let erase = F::ERASE_SIZE as u32;
        if bank_bytes == 0 || bank_bytes % erase != 0 || base % erase != 0 || (base as usize).saturating_add(2 * bank_bytes as usize) > flash.capacity() {
            return Err(FlashError::Layout);
        }
        let mut store = FlashStore { flash, base, bank_bytes, active: base, generation: 0, head: base, plan: Plan::default(), checkpoints: 0 };
        let banks = [store.scan(base)?, store.scan(base + bank_bytes)?];
        let chosen = (0..2).filter(|&i| banks[i].committed).max_by_key(|&i| banks[i].generation);
        match chosen {
            Some(i) => {
                let [a, b] = banks;
                let bank = if i == 0 { a } else { b };
                store.active = base + i as u32 * bank_bytes;
                store.generation = bank.generation;
                store.head = bank.head;
                store.plan = bank.plan;
                let torn = bank.torn;
                // A torn record may lie between the last run and the next write: runs are
                // read record after record, so the next entry starts a run of its own.
                if let Some(run) = store.plan.runs.last_mut() {
                    run.sealed = true;
                }
                if store.plan.overflow {
                    return Err(FlashError::TooManyRuns);
                }
                if torn {
                    // Records must follow one another: copy the state to the other bank
                    // rather than write after the garbage.
                    store.checkpoint(None)?;
                }
                if let Some(gap) = store.plan.first_gap() {
                    // Entries past a gap whose covering snapshot a power loss cut off.
                    store.truncate_after(gap - 1)?;
                }
            }
            None => {
                // Only a blank region, or a first checkpoint cut short, holds no commit:
                // nothing was ever durable there. Anything else is damage.
                let first_start = |bank: &Bank<RUNS>| bank.empty || (bank.generation == 1 && !bank.committed);
                if !banks.iter().all(first_start) {
                    return Err(FlashError::Corrupt { offset: base });
                }
                store.active = base + bank_bytes;
                store.checkpoint(None)?;
            }
        }
        Ok(store)
    }

    /// Gives the flash back.
    pub fn into_flash(self) -> F {
        self.flash
    }

    fn read(&mut self, at: u32, out: &mut [u8]) -> Result<(), FlashError<F::Error>> {
        self.flash.read(at, out).map_err(FlashError::Flash)
    }

    /// The first offset from `from` after which the bank holds only 0xFF.
    fn clean_from(&mut self, from: u32, end: u32) -> Result<u32, FlashError<F::Error>> {
        let mut clean = from;
        let mut at = from;
        let mut chunk = [0u8; STAGE_BYTES];
        while at < end {
            let n = (end - at).min(STAGE_BYTES as u32) as usize;
            self.read(at, &mut chunk[..n])?;
            if let Some(last) = chunk[..n].iter().rposition(|&b| b != 0xFF) {
                clean = at + last as u32 + 1;
            }
            at += n as u32;
        }
        Ok(clean)
    }

    /// Streams the body at `at` of `len` bytes through its checksum; returns its front.
    fn check_body(&mut self, at: u32, len: u32, crc: u32) -> Result<Option<[u8; PREFIX_BYTES]>, FlashError<F::Error>> {
        let mut prefix = [0xFFu8; PREFIX_BYTES];
        let mut hasher = crate::checksum::Hasher::new();
        let mut chunk = [0u8; STAGE_BYTES];
        let mut done = 0u32;
        while done < len {
            let n = (len - done).min(STAGE_BYTES as u32) as usize;
            self.read(at + done, &mut chunk[..n])?;
            hasher.update(&chunk[..n]);
            if let Some(room) = prefix.get_mut(done as usize..) {
                let k = room.len().min(n);
                room[..k].copy_from_slice(&chunk[..k]);
            }
            done += n as u32;
        }
        Ok((hasher.finalize() == crc).then_some(prefix))
    }

    /// Reads every record of the bank at `start`.
    fn scan(&mut self, start: u32) -> Result<Bank<RUNS>, FlashError<F::Error>> {
        let end = start + self.bank_bytes;
        let mut bank = Bank { generation: 0, committed: false, plan: Plan::default(), head: start, empty: false, torn: false };
        let mut at = start;
        loop {
            let mut head = [0u8; HEAD_BYTES];
            if at + Self::HEAD_AREA > end {
                bank.head = end;
                break;
            }
            self.read(at, &mut head)?;
            let parsed = parse_head(&head).filter(|&(len, _)| len > 0 && at + Self::HEAD_AREA + len <= end);
            let Some((len, crc)) = parsed else {
                // An erased head ends the log; so does one cut short by a power loss, whose
                // body (written first) is all that follows it. A record after it is damage.
                let clean = self.clean_from(at, end)?;
                if self.valid_head_within(at + F::WRITE_SIZE as u32, clean)? {
                    return self.damaged(bank, at);
                }
                bank.head = align(clean.max(at), F::WRITE_SIZE);
                bank.torn = clean > at;
                bank.empty = at == start;
                break;
            };
            let body_at = at + Self::HEAD_AREA;
            let Some(prefix) = self.check_body(body_at, len, crc)? else { return self.damaged(bank, at) };
            let Some(record) = decode(&prefix, len) else { return self.damaged(bank, at) };
            match (record, at == start) {
                (Decoded::Begin(generation), true) => bank.generation = generation,
                (_, true) | (Decoded::Begin(_), false) => return self.damaged(bank, at),
                (Decoded::Commit(generation), false) if generation == bank.generation => bank.committed = true,
                (Decoded::Commit(_), false) => return self.damaged(bank, at),
                (Decoded::Record(record), false) => bank.plan.apply(0, u64::from(at), &record, false),
            }
            at = body_at + align(len, F::WRITE_SIZE);
        }
        Ok(bank)
    }

    /// Whether a record head that reads right starts at an aligned offset in `[from, to)`.
    fn valid_head_within(&mut self, from: u32, to: u32) -> Result<bool, FlashError<F::Error>> {
        let mut at = align(from, F::WRITE_SIZE);
        let mut head = [0u8; HEAD_BYTES];
        while at + HEAD_BYTES as u32 <= to {
            self.read(at, &mut head)?;
            if parse_head(&head).is_some() {
                return Ok(true);
            }
            at += F::WRITE_SIZE as u32;
        }
        Ok(false)
    }

    /// A bad record with whole records after it: damage in a bank that began as ours; a
    /// bank whose first record is gone is one whose erase was cut short, and is ignored.
    fn damaged(&mut self, mut bank: Bank<RUNS>, at: u32) -> Result<Bank<RUNS>, FlashError<F::Error>> {
        if bank.generation != 0 {
            return Err(FlashError::Corrupt { offset: at });
        }
        bank.head = at;
        Ok(bank)
    }

    /// Writes one record, body first: `pieces` back to back make the body.
    fn write_record(&mut self, pieces: &[&[u8]]) -> Result<u32, FlashError<F::Error>> {
        let len: u32 = pieces.iter().map(|p| p.len() as u32).sum();
        let at = self.head;
        let end = self.active + self.bank_bytes;
        let size = Self::HEAD_AREA + align(len, F::WRITE_SIZE);
        if size > end.saturating_sub(at) {
            return Err(FlashError::Full);
        }
        let mut stage = [0xFFu8; STAGE_BYTES];
        let (mut filled, mut out) = (0usize, at + Self::HEAD_AREA);
        let mut hasher = crate::checksum::Hasher::new();
        for piece in pieces {
            hasher.update(piece);
            let mut rest: &[u8] = piece;
            while !rest.is_empty() {
                let k = rest.len().min(STAGE_BYTES - filled);
                stage[filled..filled + k].copy_from_slice(&rest[..k]);
                (filled, rest) = (filled + k, &rest[k..]);
                if filled == STAGE_BYTES {
                    self.flash.write(out, &stage).map_err(FlashError::Flash)?;
                    (out, filled, stage) = (out + STAGE_BYTES as u32, 0, [0xFF; STAGE_BYTES]);
                }
            }
        }
        if filled > 0 {
            let padded = align(filled as u32, F::WRITE_SIZE) as usize;
            self.flash.write(out, &stage[..padded]).map_err(FlashError::Flash)?;
        }
        let mut head = [0xFFu8; STAGE_BYTES];
        head[..4].copy_from_slice(&len.to_le_bytes());
        head[4..8].copy_from_slice(&hasher.finalize().to_le_bytes());
        let head_crc = checksum(&head[..8]);
        head[8..12].copy_from_slice(&head_crc.to_le_bytes());
        self.flash.write(at, &head[..Self::HEAD_AREA as usize]).map_err(FlashError::Flash)?;
        self.head = at + size;
        Ok(at)
    }

    /// Writes a log record, checkpointing into the other bank first when it does not fit.
    fn log(&mut self, pieces: &[&[u8]], record: &Record<'_>) -> Result<(), FlashError<F::Error>> {
        if self.plan.runs.len() + 1 >= RUNS {
            // One more run might not fit the plan: a checkpoint makes the history one run.
            self.checkpoint(None)?;
        }
        let at = match self.write_record(pieces) {
            Err(FlashError::Full) => {
                self.checkpoint(None)?;
                self.write_record(pieces)?
            }
            other => other?,
        };
        self.plan.apply(0, u64::from(at), record, false);
        Ok(())
    }

    /// Copies the current state, or the state with `snapshot` taken, into the other bank,
    /// commits it there and erases this one.
    fn checkpoint(&mut self, snapshot: Option<(u64, Zxid, &[u8])>) -> Result<(), FlashError<F::Error>> {
        let old = core::mem::take(&mut self.plan);
        let old_bank = self.active;
        let target = if old_bank == self.base { self.base + self.bank_bytes } else { self.base };
        self.flash.erase(target, target + self.bank_bytes).map_err(FlashError::Flash)?;
        self.active = target;
        self.head = target;
        let generation = self.generation.wrapping_add(1);
        self.write_record(&[&[BEGIN], &generation.to_le_bytes()])?;
        let mut hard = [0u8; PREFIX_BYTES];
        let hard_len = postcard::to_slice(&old.hard, &mut hard).map_err(|_| FlashError::TooLarge)?.len();
        self.write_record(&[&[HARD_KIND], &hard[..hard_len]])?;
        self.plan.hard = old.hard;
        let snapshot_point = match snapshot {
            Some((index, zxid, data)) => {
                let at = self.write_record(&[&[SNAPSHOT_WITH_DATA], &index.to_le_bytes(), &zxid.as_u64().to_le_bytes(), &[1], data])?;
                Some((at, index, zxid))
            }
            None if old.snapshot_index > 0 => {
                let at = self.copy_record(old.snapshot_offset as u32)?;
                Some((at, old.snapshot_index, old.snapshot_zxid))
            }
            None => None,
        };
        if let Some((at, index, zxid)) = snapshot_point {
            self.plan.apply(0, u64::from(at), &Record::Snapshot { index, zxid, replaces_history: true }, false);
        }
        for run in old.runs.iter() {
            self.copy_run(run)?;
        }
        if self.plan.last_index < old.last_index && snapshot.is_none() {
            return Err(FlashError::Corrupt { offset: old_bank });
        }
        self.write_record(&[&[COMMIT], &generation.to_le_bytes()])?;
        self.generation = generation;
        self.checkpoints += 1;
        // The old bank is retired: erased so it can never be taken for the newest again.
        self.flash.erase(old_bank, old_bank + self.bank_bytes).map_err(FlashError::Flash)
    }

    /// Copies the record at `from` as it is into this bank; returns where it went.
    fn copy_record(&mut self, from: u32) -> Result<u32, FlashError<F::Error>> {
        let mut head = [0u8; HEAD_BYTES];
        self.read(from, &mut head)?;
        let (len, crc) = parse_head(&head).ok_or(FlashError::Corrupt { offset: from })?;
        let body_from = from + Self::HEAD_AREA;
        if self.check_body(body_from, len, crc)?.is_none() {
            return Err(FlashError::Corrupt { offset: from });
        }
        let at = self.head;
        let size = Self::HEAD_AREA + align(len, F::WRITE_SIZE);
        if size > (self.active + self.bank_bytes).saturating_sub(at) {
            return Err(FlashError::Full);
        }
        let mut done = 0u32;
        while done < len {
            let n = (len - done).min(STAGE_BYTES as u32);
            let mut chunk = [0xFFu8; STAGE_BYTES];
            self.read(body_from + done, &mut chunk[..n as usize])?;
            let padded = align(n, F::WRITE_SIZE) as usize;
            self.flash.write(at + Self::HEAD_AREA + done, &chunk[..padded]).map_err(FlashError::Flash)?;
            done += n;
        }
        let mut head_area = [0xFFu8; STAGE_BYTES];
        head_area[..HEAD_BYTES].copy_from_slice(&head);
        self.flash.write(at, &head_area[..Self::HEAD_AREA as usize]).map_err(FlashError::Flash)?;
        self.head = at + size;
        Ok(at)
    }

    /// Copies the entries of `run` that the plan keeps.
    fn copy_run(&mut self, run: &Run) -> Result<(), FlashError<F::Error>> {
        let mut at = run.offset as u32;
        while self.plan.last_index < run.last {
            let (len, index) = self.entry_at(at)?;
            if let Some(index) = index.filter(|&i| i >= run.first && i <= run.last && i > self.plan.snapshot_index) {
                let to = self.copy_record(at)?;
                let zxid = Zxid::ZERO; // the plan does not look at it
                self.plan.apply(0, u64::from(to), &Record::Entry { index, zxid, stored: &[] }, false);
            }
            at += Self::HEAD_AREA + align(len, F::WRITE_SIZE);
        }
        Ok(())
    }

    /// The body length of the record at `at`, and its position if it is an entry.
    fn entry_at(&mut self, at: u32) -> Result<(u32, Option<u64>), FlashError<F::Error>> {
        let bank_end = if at >= self.base + self.bank_bytes { self.base + 2 * self.bank_bytes } else { self.base + self.bank_bytes };
        if at + Self::HEAD_AREA + 9 > bank_end {
            return Err(FlashError::Corrupt { offset: at });
        }
        let mut head = [0u8; HEAD_BYTES];
        self.read(at, &mut head)?;
        let (len, _) = parse_head(&head).ok_or(FlashError::Corrupt { offset: at })?;
        let mut front = [0u8; 9];
        self.read(at + Self::HEAD_AREA, &mut front)?;
        let index = (front[0] == ENTRY_KIND).then(|| u64::from_le_bytes([front[1], front[2], front[3], front[4], front[5], front[6], front[7], front[8]]));
        Ok((len, index))
    }
}

const HARD_KIND: u8 = 2;
const ENTRY_KIND: u8 = 3;
const TRUNCATE_KIND: u8 = 4;

enum Decoded<'a> {
    Begin(u32),
    Commit(u32),
    Record(Record<'a>),
}

/// Decodes a body from its front (`len` bytes in all): what the plan needs of it.
fn decode(prefix: &[u8; PREFIX_BYTES], len: u32) -> Option<Decoded<'_>> {
    let body = prefix.get(..(len as usize).min(PREFIX_BYTES))?;
    let (&kind, rest) = body.split_first()?;
    let u64_at = |at: usize| rest.get(at..at + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
    let u32_only = || (rest.len() == 4).then(|| rest.try_into().ok().map(u32::from_le_bytes)).flatten();
    Some(match kind {
        BEGIN => Decoded::Begin(u32_only()?),
        COMMIT => Decoded::Commit(u32_only()?),
        HARD_KIND if len as usize <= PREFIX_BYTES => Decoded::Record(Record::Hard(postcard::from_bytes(rest).ok()?)),
        ENTRY_KIND => Decoded::Record(Record::Entry { index: u64_at(0)?, zxid: Zxid::from_u64(u64_at(8)?), stored: &[] }),
        TRUNCATE_KIND if len == 9 => Decoded::Record(Record::Truncate { after: u64_at(0)? }),
        SNAPSHOT_WITH_DATA => {
            let replaces_history = match rest.get(16)? {
                0 => false,
                1 => true,
                _ => return None,
            };
            Decoded::Record(Record::Snapshot { index: u64_at(0)?, zxid: Zxid::from_u64(u64_at(8)?), replaces_history })
        }
        _ => return None,
    })
}

impl<F: NorFlash, const RUNS: usize, const ENTRY_BYTES: usize> Persist for FlashStore<F, RUNS, ENTRY_BYTES> {
    type Error = FlashError<F::Error>;

    fn hard_state(&mut self, state: &HardState) -> Result<(), Self::Error> {
        let mut bytes = [0u8; PREFIX_BYTES];
        let len = postcard::to_slice(state, &mut bytes[1..]).map_err(|_| FlashError::TooLarge)?.len();
        bytes[0] = HARD_KIND;
        self.log(&[&bytes[..1 + len]], &Record::Hard(*state))
    }

    fn append(&mut self, index: u64, zxid: Zxid, stored: &[u8]) -> Result<(), Self::Error> {
        if stored.len() > ENTRY_BYTES {
            return Err(FlashError::TooLarge);
        }
        self.log(&[&[ENTRY_KIND], &index.to_le_bytes(), &zxid.as_u64().to_le_bytes(), stored], &Record::Entry { index, zxid, stored })
    }

    fn truncate_after(&mut self, index: u64) -> Result<(), Self::Error> {
        self.log(&[&[TRUNCATE_KIND], &index.to_le_bytes()], &Record::Truncate { after: index })
    }

    fn snapshot(&mut self, index: u64, zxid: Zxid, data: &[u8], replaces_history: bool) -> Result<(), Self::Error> {
        let pieces: [&[u8]; 5] = [&[SNAPSHOT_WITH_DATA], &index.to_le_bytes(), &zxid.as_u64().to_le_bytes(), &[u8::from(replaces_history)], data];
        match self.write_record(&pieces) {
            Ok(at) => {
                self.plan.apply(0, u64::from(at), &Record::Snapshot { index, zxid, replaces_history }, false);
                Ok(())
            }
            // No room: the checkpoint takes the snapshot in place of the entries it covers.
            Err(FlashError::Full) => {
                if replaces_history {
                    self.plan.runs.clear();
                    self.plan.last_index = index;
                }
                self.checkpoint(Some((index, zxid, data)))
            }
            Err(e) => Err(e),
        }
    }
}

impl<F: NorFlash, const RUNS: usize, const ENTRY_BYTES: usize> Durable for FlashStore<F, RUNS, ENTRY_BYTES> {
    type Error = FlashError<F::Error>;

    fn load<S: Storage>(&mut self, loader: &mut Loader<'_, S>) -> Result<(), LoadError<Self::Error>> {
        let plan = self.plan.clone();
        loader.hard_state(plan.hard);
        if plan.snapshot_index > 0 {
            self.load_snapshot(plan.snapshot_offset as u32, loader)?;
            loader.snapshot_end(plan.snapshot_index, plan.snapshot_zxid)?;
        }
        for run in plan.runs.iter() {
            let mut at = run.offset as u32;
            while loader.next_index() <= run.last {
                at = self.load_entry(at, run, loader)?;
            }
        }
        Ok(())
    }
}

impl<F: NorFlash, const RUNS: usize, const ENTRY_BYTES: usize> FlashStore<F, RUNS, ENTRY_BYTES> {
    fn load_snapshot<S: Storage>(&mut self, at: u32, loader: &mut Loader<'_, S>) -> Result<(), LoadError<FlashError<F::Error>>> {
        let mut head = [0u8; HEAD_BYTES];
        self.read(at, &mut head).map_err(LoadError::Store)?;
        let (len, crc) = parse_head(&head).ok_or(LoadError::Store(FlashError::Corrupt { offset: at }))?;
        // kind, index, zxid, replaces: then the data.
        let data_at = at + Self::HEAD_AREA + 18;
        let data_len = len.checked_sub(18).ok_or(LoadError::Store(FlashError::Corrupt { offset: at }))?;
        if self.check_body(at + Self::HEAD_AREA, len, crc).map_err(LoadError::Store)?.is_none() {
            return Err(LoadError::Store(FlashError::Corrupt { offset: at }));
        }
        let mut chunk = [0u8; STAGE_BYTES];
        let mut done = 0u32;
        while done < data_len {
            let n = (data_len - done).min(STAGE_BYTES as u32) as usize;
            self.read(data_at + done, &mut chunk[..n]).map_err(LoadError::Store)?;
            loader.snapshot_chunk(done, &chunk[..n])?;
            done += n as u32;
        }
        Ok(())
    }

    /// Hands the entry at `at` to the loader if `run` keeps it; returns the next record's offset.
    fn load_entry<S: Storage>(&mut self, at: u32, run: &Run, loader: &mut Loader<'_, S>) -> Result<u32, LoadError<FlashError<F::Error>>> {
        let corrupt = || LoadError::Store(FlashError::Corrupt { offset: at });
        let (len, index) = self.entry_at(at).map_err(LoadError::Store)?;
        let next = at + Self::HEAD_AREA + align(len, F::WRITE_SIZE);
        let Some(index) = index.filter(|&i| i >= loader.next_index() && i <= run.last) else { return Ok(next) };
        let stored_len = (len as usize).checked_sub(17).ok_or_else(corrupt)?;
        if stored_len > ENTRY_BYTES {
            return Err(LoadError::Store(FlashError::TooLarge));
        }
        let mut head = [0u8; HEAD_BYTES];
        self.read(at, &mut head).map_err(LoadError::Store)?;
        let (_, crc) = parse_head(&head).ok_or_else(corrupt)?;
        let mut front = [0u8; 17];
        self.read(at + Self::HEAD_AREA, &mut front).map_err(LoadError::Store)?;
        let mut stored = [0u8; ENTRY_BYTES];
        self.read(at + Self::HEAD_AREA + 17, &mut stored[..stored_len]).map_err(LoadError::Store)?;
        let mut hasher = crate::checksum::Hasher::new();
        hasher.update(&front);
        hasher.update(&stored[..stored_len]);
        if hasher.finalize() != crc {
            return Err(corrupt());
        }
        let zxid = Zxid::from_u64(u64::from_le_bytes([front[9], front[10], front[11], front[12], front[13], front[14], front[15], front[16]]));
        loader.entry(index, zxid, &stored[..stored_len])?;
        Ok(next)
    }
}
