//! Outcome codes: ZooKeeper's `KeeperException.Code`s that the tree can answer, and the tree's own
//! rejections of bad input.

use core::fmt;
use serde::{Deserialize, Serialize};

/// Why an operation did not succeed. The first group are ZooKeeper's own codes and are answered
/// exactly where ZooKeeper 3.8 answers them; the second group are this crate's rejections of input
/// that a ZooKeeper server would never see in a committed transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Error {
    /// In a failed multi: this operation was valid but is rolled back (ZooKeeper's code 0 in an
    /// `ErrorResult`).
    RolledBack,
    /// In a failed multi: this operation was not tried because an earlier one failed (-2).
    RuntimeInconsistency,
    /// Invalid path or argument (-8).
    BadArguments,
    /// The node (or, for create, its parent) does not exist (-101).
    NoNode,
    /// The expected version does not match (-103).
    BadVersion,
    /// Ephemeral nodes may not have children (-108).
    NoChildrenForEphemerals,
    /// The node already exists (-110).
    NodeExists,
    /// The node has children (-111).
    NotEmpty,
    /// The session is unknown: never opened, closed or expired (-112).
    SessionExpired,
    /// Data longer than [`crate::Config::data_bytes_max`]. Not a ZooKeeper code (a ZooKeeper
    /// server drops the connection instead).
    DataTooLarge,
    /// The entry's bytes do not decode as an [`crate::Entry`] of a known format version.
    Malformed,
    /// The zxid is not above the last applied one.
    StaleZxid,
}

impl Error {
    /// ZooKeeper's numeric code, where the error is one of ZooKeeper's.
    pub fn zookeeper_code(self) -> Option<i32> {
        Some(match self {
            Error::RolledBack => 0,
            Error::RuntimeInconsistency => -2,
            Error::BadArguments => -8,
            Error::NoNode => -101,
            Error::BadVersion => -103,
            Error::NoChildrenForEphemerals => -108,
            Error::NodeExists => -110,
            Error::NotEmpty => -111,
            Error::SessionExpired => -112,
            Error::DataTooLarge | Error::Malformed | Error::StaleZxid => return None,
        })
    }

    /// The name used in the JSON-lines schema (ZooKeeper's exception name without `Exception`).
    pub fn name(self) -> &'static str {
        match self {
            Error::RolledBack => "RolledBack",
            Error::RuntimeInconsistency => "RuntimeInconsistency",
            Error::BadArguments => "BadArguments",
            Error::NoNode => "NoNode",
            Error::BadVersion => "BadVersion",
            Error::NoChildrenForEphemerals => "NoChildrenForEphemerals",
            Error::NodeExists => "NodeExists",
            Error::NotEmpty => "NotEmpty",
            Error::SessionExpired => "SessionExpired",
            Error::DataTooLarge => "DataTooLarge",
            Error::Malformed => "Malformed",
            Error::StaleZxid => "StaleZxid",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// Bad input seen so far, by kind. Every rejected entry or request is counted once here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Entries whose bytes did not decode.
    pub malformed: u64,
    /// Entries with a zxid not above the last applied one.
    pub zxid_stale: u64,
    /// Requests answered `BadArguments` (ZooKeeper's path rules).
    pub path_invalid: u64,
    /// Create / set_data with data over the configured limit.
    pub data_too_large: u64,
    /// Requests naming a session that is not open.
    pub session_unknown: u64,
}
