//! The three engines behind [`crate::Cluster`].

#[cfg(feature = "peers")]
pub mod omnipaxos;
#[cfg(feature = "peers")]
pub mod raft_rs;
pub mod zaxos;

#[cfg(feature = "peers")]
pub use self::omnipaxos::Omni;
#[cfg(feature = "peers")]
pub use self::raft_rs::RaftRs;
pub use self::zaxos::{Zaxos, ZaxosBytes};
