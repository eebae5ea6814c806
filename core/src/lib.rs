//! # zaxos
//!
//! ZooKeeper's atomic broadcast (ZAB) as Multi-Paxos, as a `#![no_std]`,
//! sans-IO state machine: ticks, received bytes, proposals and "durable up to
//! here" reports go in; messages, storage writes, committed entries and events
//! come out. The same inputs give the same outputs on every target.
//!
//! The host loop, run to the first commits of a 3-node cluster, with a follower crashing
//! and restarting from what it made durable:
//!
//! ```
//! # #[cfg(feature = "alloc")] fn main() {
//! use zaxos::{Apply, Config, MemoryStore, Node, storage::HeaplessStorage};
//!
//! type Storage = HeaplessStorage<64, 4096>;
//! let ids = [1u16, 2, 3];
//! let config = |id: u16, seed: u64| Config::new(id, &ids, &[]).unwrap().seed(seed);
//! let mut stores = vec![MemoryStore::new(); 3]; // a file store (zaxos-store) on a real host
//! let mut nodes: Vec<Node<Storage>> = ids.iter().map(|&id| Node::new(config(id, 7), Storage::new()).unwrap()).collect();
//! let mut wire: Vec<(u16, Vec<u8>)> = Vec::new();
//! let mut buf = [0u8; 1400];
//! let mut applied = vec![Vec::new(); 3];
//! for tick in 0..300 {
//!     if tick == 150 {
//!         // A follower crashes; it restarts from its store in one call.
//!         let i = nodes.iter().position(|n| !n.is_established_leader()).unwrap();
//!         nodes[i] = Node::recover(config(ids[i], 8), Storage::new(), &mut stores[i]).unwrap();
//!         applied[i].clear(); // its state machine starts over too
//!     }
//!     for (i, node) in nodes.iter_mut().enumerate() {
//!         node.tick();
//!         if node.is_established_leader() && node.last_zxid().counter < 3 {
//!             node.propose(b"hello").unwrap();
//!         }
//!         // 1. persist every write (the node lends the bytes), sync once, report durable.
//!         if let Some(seq) = node.persist(&mut stores[i]).unwrap() { node.durable(seq); }
//!         // 2. send.
//!         while let Some(t) = node.poll_transmit(&mut buf) { wire.push((t.to, buf[..t.len].to_vec())); }
//!         // 3. apply what is committed.
//!         while let Some(Apply::Entry { zxid, .. }) = node.poll_commit() { applied[i].push(zxid); }
//!     }
//!     // 4. deliver.
//!     for (to, bytes) in wire.drain(..) {
//!         let _ = nodes[usize::from(to) - 1].step(&bytes);
//!     }
//! }
//! assert!(applied.iter().all(|log| log.len() == 3 && *log == applied[0]));
//! # }
//! # #[cfg(not(feature = "alloc"))] fn main() {}
//! ```
//!
//! Rules of the loop: make every write durable in order before reporting it with
//! [`Node::durable`] (the node acknowledges nothing before that): [`Node::persist`] hands
//! every pending write to a [`Persist`] store and returns the sequence number to report once
//! the store has synced (or drain [`Write`]s one by one with [`Node::poll_write`], reading
//! their bytes from [`Node::storage`] before the next input). Restart with
//! [`Node::recover`] from a [`Durable`] store. What to persist for each write, and how it
//! comes back, is the contract in [`persist`]. Give `poll_transmit` a buffer of at least
//! `message_bytes_max` bytes.
//!
//! Membership changes at run time with [`Node::change_membership`] (a membership entry that
//! takes effect when committed; see [`membership`]); the membership is kept in the history and
//! the snapshot, so a host persists nothing beyond its writes.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod config;
mod core;
pub mod error;
pub mod limits;
pub mod membership;
mod node;
pub mod persist;
pub mod quorum;
mod role;
#[cfg(feature = "sim")]
pub mod sim;
pub mod storage;
pub mod stored;
pub mod wire;
mod zxid;

pub use crate::config::{Config, ConfigError};
#[cfg(feature = "sim")]
pub use crate::config::Bugs;
pub use crate::core::{Event, Role, Write, WriteKind};
pub use crate::membership::{Membership, MembershipChange, MembershipError};
pub use crate::error::{CompactError, Counters, ProposeError, ReadError, StepError, TransferError};
pub use crate::node::{Apply, Commits, Node, Proposed, ProposedBatch, ReadKind, Transmit};
pub use crate::persist::{Durable, LoadError, Loader, Persist, RecoverError};
#[cfg(feature = "alloc")]
pub use crate::persist::MemoryStore;
pub use crate::zxid::Zxid;

/// A node's id in the cluster. 0 means "nobody" and is never a member.
pub type NodeId = u16;
