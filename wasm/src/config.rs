//! A node's configuration and its durable state, read from plain JS objects.

use alloc::vec::Vec;

use wasm_bindgen::JsValue;
use zaxos::persist::{Durable, LoadError, Loader};
use zaxos::storage::{HardState, Storage, StorageError, VecStorage};
use zaxos::{Config, NodeId, Zxid};

use crate::errors;
use crate::js::{array_of, bad_argument, bytes_of, get, only_keys, u64_of, uint, uint_or, zxid_of};

const KEYS: &[&str] = &[
    "id",
    "voters",
    "observers",
    "clusterId",
    "seed",
    "electionTimeoutTicks",
    "heartbeatTicks",
    "messageBytesMax",
    "inflightEntriesMax",
    "entriesMax",
    "bytesMax",
    "snapshotBytesMax",
];

/// How much storage a node may hold.
#[derive(Clone, Copy)]
pub(crate) struct Capacity {
    pub(crate) entries_max: usize,
    pub(crate) bytes_max: usize,
    pub(crate) snapshot_bytes_max: usize,
}

impl Capacity {
    pub(crate) fn storage(self) -> VecStorage {
        VecStorage::new(self.entries_max, self.bytes_max, self.snapshot_bytes_max)
    }
}

fn ids(value: &JsValue, what: &str) -> Result<Vec<NodeId>, JsValue> {
    if value.is_undefined() {
        return Ok(Vec::new());
    }
    let array = array_of(value, what)?;
    array.iter().map(|id| uint(&id, u64::from(NodeId::MAX), what).map(|id| id as NodeId)).collect()
}

/// A node's configuration from a `NodeConfig` object (see the TypeScript declarations).
pub(crate) fn parse(object: &JsValue) -> Result<(Config, Capacity), JsValue> {
    only_keys(object, KEYS, "config")?;
    let field = |key: &str| get(object, key, "config");
    let id = uint(&field("id")?, u64::from(NodeId::MAX), "config.id")? as NodeId;
    let voters = field("voters")?;
    if voters.is_undefined() {
        return Err(bad_argument("config.voters", "an array of node ids"));
    }
    let voters = ids(&voters, "config.voters")?;
    let observers = ids(&field("observers")?, "config.observers")?;
    let mut config = Config::new(id, &voters, &observers).map_err(errors::config)?;
    config.cluster_id = uint_or(&field("clusterId")?, 0, u64::from(u32::MAX), "config.clusterId")? as u32;
    let seed = field("seed")?;
    config.seed = if seed.is_undefined() { 0 } else { u64_of(&seed, "config.seed")? };
    let u32_max = u64::from(u32::MAX);
    config.election_timeout_ticks =
        uint_or(&field("electionTimeoutTicks")?, u64::from(config.election_timeout_ticks), u32_max, "config.electionTimeoutTicks")? as u32;
    config.heartbeat_ticks = uint_or(&field("heartbeatTicks")?, u64::from(config.heartbeat_ticks), u32_max, "config.heartbeatTicks")? as u32;
    config.message_bytes_max = uint_or(&field("messageBytesMax")?, config.message_bytes_max as u64, 1 << 24, "config.messageBytesMax")? as usize;
    config.inflight_entries_max =
        uint_or(&field("inflightEntriesMax")?, u64::from(config.inflight_entries_max), u32_max, "config.inflightEntriesMax")? as u32;
    config.validate().map_err(errors::config)?;
    let capacity = Capacity {
        entries_max: uint_or(&field("entriesMax")?, 65_536, u32_max, "config.entriesMax")? as usize,
        // Refused above what the storage can hold (rather than capped without a word).
        bytes_max: uint_or(&field("bytesMax")?, 16 << 20, VecStorage::BYTES_MAX as u64, "config.bytesMax")? as usize,
        snapshot_bytes_max: uint_or(&field("snapshotBytesMax")?, 16 << 20, u32_max, "config.snapshotBytesMax")? as usize,
    };
    Ok((config, capacity))
}

/// `{ acceptedEpoch, promisedLeader, currentEpoch, incarnation?, commitFloor? }`.
pub(crate) fn hard_state(value: &JsValue) -> Result<HardState, JsValue> {
    const WHAT: &str = "durable.hardState";
    let epoch = |key| uint(&get(value, key, WHAT)?, u64::from(u32::MAX), WHAT).map(|e| e as u32);
    Ok(HardState {
        accepted_epoch: epoch("acceptedEpoch")?,
        promised_leader: uint(&get(value, "promisedLeader", WHAT)?, u64::from(NodeId::MAX), WHAT)? as NodeId,
        current_epoch: epoch("currentEpoch")?,
        incarnation: match get(value, "incarnation", WHAT)? {
            v if v.is_undefined() => 0,
            v => uint(&v, u64::from(u32::MAX), WHAT)? as u32,
        },
        commit_floor: match get(value, "commitFloor", WHAT)? {
            v if v.is_undefined() => Zxid::ZERO,
            v => zxid_of(&v, "durable.hardState.commitFloor")?,
        },
    })
}

/// Storage rebuilt from what the host made durable: `{ hardState, snapshot, entries }`
/// (every part optional), checked so the kernel starts from a consistent history. It goes
/// through the kernel's loader, as a restart from any other store does.
pub(crate) fn storage(durable: &JsValue, capacity: Capacity) -> Result<VecStorage, JsValue> {
    let mut storage = capacity.storage();
    if durable.is_undefined() || durable.is_null() {
        return Ok(storage);
    }
    only_keys(durable, &["hardState", "snapshot", "entries"], "durable")?;
    zaxos::persist::load(&mut storage, &mut JsDurable { durable, capacity }).map_err(|e| match e {
        LoadError::Store(e) => e,
        LoadError::Storage(e) => errors::storage(e),
        LoadError::OutOfOrder { .. } | LoadError::NotEmpty => bad_argument("durable", "a history in order"),
    })?;
    Ok(storage)
}

/// A JS `Durable` object as a store the kernel loads from.
struct JsDurable<'a> {
    durable: &'a JsValue,
    capacity: Capacity,
}

impl Durable for JsDurable<'_> {
    type Error = JsValue;

    fn load<S: Storage>(&mut self, loader: &mut Loader<'_, S>) -> Result<(), LoadError<JsValue>> {
        let (durable, capacity) = (self.durable, self.capacity);
        let hard = get(durable, "hardState", "durable").map_err(LoadError::Store)?;
        if !hard.is_undefined() {
            loader.hard_state(hard_state(&hard).map_err(LoadError::Store)?);
        }
        let snapshot = get(durable, "snapshot", "durable").map_err(LoadError::Store)?;
        let mut last_zxid = Zxid::ZERO;
        if !snapshot.is_undefined() && !snapshot.is_null() {
            const WHAT: &str = "durable.snapshot";
            let field = |key| get(&snapshot, key, WHAT).map_err(LoadError::Store);
            let index = uint(&field("index")?, (1u64 << 53) - 1, "durable.snapshot.index").map_err(LoadError::Store)?;
            let zxid = zxid_of(&field("zxid")?, "durable.snapshot.zxid").map_err(LoadError::Store)?;
            let (data, len) = bytes_of(&field("data")?, capacity.snapshot_bytes_max, "durable.snapshot.data").map_err(LoadError::Store)?;
            if len > data.len() {
                return Err(LoadError::Storage(StorageError::SnapshotTooLarge));
            }
            if index > 0 {
                loader.snapshot_chunk(0, &data)?;
                loader.snapshot_end(index, zxid)?;
                last_zxid = zxid;
            }
        }
        let entries = get(durable, "entries", "durable").map_err(LoadError::Store)?;
        if !entries.is_undefined() {
            for entry in array_of(&entries, "durable.entries").map_err(LoadError::Store)?.iter() {
                let field = |key| get(&entry, key, "durable.entries[i]").map_err(LoadError::Store);
                let zxid: Zxid = zxid_of(&field("zxid")?, "durable.entries[i].zxid").map_err(LoadError::Store)?;
                if zxid <= last_zxid {
                    return Err(LoadError::Store(bad_argument("durable.entries[i].zxid", "greater than the zxid before it")));
                }
                let (payload, len) = bytes_of(&field("payload")?, capacity.bytes_max, "durable.entries[i].payload").map_err(LoadError::Store)?;
                if len > payload.len() {
                    return Err(LoadError::Storage(StorageError::Full));
                }
                loader.entry(loader.next_index(), zxid, &payload)?;
                last_zxid = zxid;
            }
        }
        Ok(())
    }
}
