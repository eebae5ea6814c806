//! One harness, three engines: zaxos, raft-rs 0.7.0 and OmniPaxos 0.2.4, each driven in memory,
//! single-threaded and deterministically (apart from raft-rs's own election jitter, which it draws
//! from the thread's random generator).
//!
//! A cluster is a set of nodes and one in-memory network. The harness moves time in *rounds*: every
//! message queued is delivered (or dropped, if its link is down), the client tops up its proposals,
//! then every live node runs its host loop once as its documentation says (persist, send, apply).
//! Logical time (`tick`) advances separately, so the same schedule drives every engine.

pub mod cluster;
pub mod engines;
pub mod scenario;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use cluster::{Applied, Cluster, Links, Params};
