//! # zaxos-wasm
//!
//! The zaxos kernel for JS hosts, through wasm-bindgen:
//!
//! - [`JsNode`] (`Node` in JS): one ZAB node. The host supplies the network and
//!   the storage; inputs are `tick`, `step`, `propose`, `durable`, `compact`,
//!   outputs are drained as plain JS objects.
//! - `Simulation` (feature `sim`): a whole seeded cluster under faults, with
//!   the simulator's invariant checks, for JS tests and pages.
//! - `Tree` (feature `tree`): ZooKeeper's znode tree as the replicated state
//!   machine, with encoders of the entries to propose.
//!
//! Every error reaches JS as an `Error` with a stable `code` property; nothing
//! that comes from JS is trusted or unwrapped.
#![no_std]

extern crate alloc;

mod config;
mod errors;
mod js;
mod node;
#[cfg(feature = "sim")]
mod sim;
#[cfg(feature = "tree")]
mod tree;

pub use node::JsNode;
#[cfg(feature = "sim")]
pub use sim::JsSimulation;
#[cfg(feature = "tree")]
pub use tree::JsTree;
