//! ZooKeeper 3.8's data model — znodes, sessions, one-shot watches, multi — as a deterministic
//! state machine that a replication kernel applies committed entries to.
//!
//! The host proposes [`Entry`]s (encoded with [`Entry::encode`]) through the kernel and, for
//! every committed one, calls [`Tree::apply`] with the kernel's zxid. Reads ([`Tree::get_data`],
//! [`Tree::exists`], [`Tree::get_children`]) are local and consume no zxid. Every answer is the
//! one a ZooKeeper 3.8 server gives; the differential traces under `tests/traces/` check it.
//!
//! ```
//! use zaxos_tree::{CreateMode, Entry, Op, Reply, Tree};
//!
//! let mut tree = Tree::default();
//! let open = tree.apply(1, &Entry::new(0, 1_000, Op::CreateSession { timeout_ms: 10_000 }).encode());
//! let Ok(Reply::Session { id: session, .. }) = open.outcome else { panic!() };
//! let create = Op::Create { path: "/app".into(), data: b"v1".to_vec(), mode: CreateMode::Persistent };
//! let r = tree.apply(2, &Entry::new(session, 1_001, create).encode());
//! assert!(r.outcome.is_ok());
//! let (data, stat) = tree.get_data(session, "/app", false).unwrap();
//! assert_eq!((data, stat.czxid, stat.version), (&b"v1"[..], 2, 0));
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod error;
mod javaset;
mod op;
mod path;
mod tree;
mod watch;

#[cfg(feature = "cli")]
pub mod replay;
#[cfg(feature = "sim")]
pub mod sim;

pub use error::{Counters, Error};
pub use op::{CreateMode, Entry, MultiOp, Op, ENTRY_FORMAT};
pub use path::validate_path;
pub use tree::{ApplyResult, Config, Failure, OpResult, Reply, Stat, Tree, SNAPSHOT_FORMAT};
pub use watch::{EventType, WatchEvent};
