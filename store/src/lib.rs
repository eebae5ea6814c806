//! # zaxos-store
//!
//! Durable stores for [`zaxos`] nodes on std hosts. [`FileStore`] keeps a node's writes in
//! an append-only log of segment files, each record checksummed, and snapshots in files of
//! their own; it implements [`zaxos::Persist`] (the node hands it every write with
//! [`zaxos::Node::persist`]) and [`zaxos::Durable`] (the node restarts from it with
//! [`zaxos::Node::recover`]).
//!
//! ```no_run
//! use zaxos::{Config, Node, storage::VecStorage};
//! use zaxos_store::{DirMedium, FileStore, Limits};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let medium = DirMedium::open(std::path::Path::new("/var/lib/zaxos/1"))?;
//! let mut store = FileStore::open(medium, Limits::default())?;
//! let config = Config::new(1, &[1, 2, 3], &[]).map_err(|e| format!("{e:?}"))?.seed(7);
//! let mut node: Node<VecStorage> = Node::recover(config, VecStorage::new(1 << 20, 1 << 30, 1 << 26), &mut store)
//!     .map_err(|e| format!("{e:?}"))?;
//! // After every batch of inputs:
//! if let Some(seq) = node.persist(&mut store)? {
//!     store.sync()?; // one fdatasync for the whole batch
//!     node.durable(seq);
//! }
//! # Ok(()) }
//! ```
//!
//! Guarantees, all tested (see `tests/`):
//! - what [`FileStore::sync`] returned for is brought back by [`FileStore::open`];
//! - a torn tail (a record cut short, or zeros, at the end of the newest segment) is cut at
//!   open and never read as data; a bad record with data after it, or in an older segment,
//!   is [`StoreError::Corrupt`]; a bad snapshot is [`StoreError::SnapshotCorrupt`];
//! - snapshots are written atomically (temporary file, sync, rename, directory sync);
//!   compaction deletes whole segments behind a durable snapshot;
//! - memory: one read window and a plan of runs (one per stretch of appends between
//!   truncations), never the log itself.
//!
//! Limit: a power loss may persist pages of unsynced data out of order; a hole inside the
//! unsynced tail then reads as corruption (an error, never served), not as a torn tail.
//!
//! Without the default feature `std` the crate is `no_std` with no allocator and holds
//! [`flash::FlashStore`], the store for NOR flash on boards.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

pub mod check;
mod checksum;
#[cfg(feature = "std")]
mod error;
#[cfg(feature = "std")]
pub mod fault;
pub mod flash;
#[cfg(feature = "std")]
mod medium;
mod plan;
// The flash store uses the head format and the record kinds, not the file encoding.
#[cfg_attr(not(feature = "std"), allow(dead_code))]
mod record;
#[cfg(feature = "std")]
mod scan;
#[cfg(feature = "std")]
mod snapshot;
#[cfg(feature = "std")]
mod store;

#[cfg(feature = "std")]
pub use crate::error::StoreError;
#[cfg(feature = "std")]
pub use crate::medium::{DirMedium, Medium};
#[cfg(feature = "std")]
pub use crate::store::{segment_name, FileStore, Limits};
