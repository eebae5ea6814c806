//! The three engines behind [`crate::Cluster`].

pub mod omnipaxos;
pub mod raft_rs;
pub mod zaxos;

pub use self::omnipaxos::Omni;
pub use self::raft_rs::RaftRs;
pub use self::zaxos::Zaxos;
