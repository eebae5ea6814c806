//! # zaxos
//!
//! ZooKeeper's atomic broadcast (ZAB) as Multi-Paxos, as a `#![no_std]`,
//! sans-IO state machine: ticks, received bytes, proposals and "durable up to
//! here" reports go in; messages, storage writes, committed entries and events
//! come out. The same inputs give the same outputs on every target.
//!
//! The host loop, run to the first commits of a 3-node cluster:
//!
//! ```
//! use zaxos::{Apply, Config, Node, storage::HeaplessStorage};
//!
//! type Store = HeaplessStorage<64, 4096>;
//! let ids = [1u16, 2, 3];
//! let mut nodes: Vec<Node<Store>> = ids
//!     .iter()
//!     .map(|&id| Node::new(Config::new(id, &ids, &[]).unwrap().seed(7), Store::new()).unwrap())
//!     .collect();
//! let mut wire: Vec<(u16, Vec<u8>)> = Vec::new();
//! let mut buf = [0u8; 1400];
//! let mut applied = vec![Vec::new(); 3];
//! for _tick in 0..200 {
//!     for (i, node) in nodes.iter_mut().enumerate() {
//!         node.tick();
//!         if node.is_established_leader() && node.last_zxid().counter < 3 {
//!             node.propose(b"hello").unwrap();
//!         }
//!         // 1. persist, then report durable (here: at once).
//!         while let Some(write) = node.poll_write() { node.durable(write.seq); }
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
//! ```
//!
//! Rules of the loop: make every [`Write`] durable in order before reporting it
//! with [`Node::durable`] (the node acknowledges nothing before that); give
//! `poll_transmit` a buffer of at least `message_bytes_max` bytes; drain writes
//! after each input, before the storage changes again.
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
pub use crate::zxid::Zxid;

/// A node's id in the cluster. 0 means "nobody" and is never a member.
pub type NodeId = u16;
