//! What can go wrong with a store: one enum, every variant says where.
use std::fmt;
use std::io;

/// Why a store operation failed.
#[derive(Debug)]
pub enum StoreError {
    /// The medium failed (including a full disk: `io::ErrorKind::StorageFull`).
    Io {
        /// What was being done.
        what: &'static str,
        /// The error from the medium.
        source: io::Error,
    },
    /// A record inside the log fails its checksum or does not parse: corruption, not a torn
    /// tail (something valid follows it, or it is not in the last segment).
    Corrupt {
        /// File name.
        file: String,
        /// Byte offset of the record.
        offset: u64,
    },
    /// The snapshot file the log names is missing or fails its checksum.
    SnapshotCorrupt {
        /// File name.
        file: String,
    },
    /// The segments on the medium do not form one log (one is missing, or the oldest does
    /// not start with a header).
    Gap {
        /// What is missing.
        what: &'static str,
    },
    /// A record larger than `record_bytes_max`.
    RecordTooLarge {
        /// Its size.
        bytes: u64,
    },
}

impl StoreError {
    pub(crate) fn io(what: &'static str) -> impl FnOnce(io::Error) -> StoreError {
        move |source| StoreError::Io { what, source }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io { what, source } => write!(f, "{what}: {source}"),
            StoreError::Corrupt { file, offset } => write!(f, "corrupt record in {file} at byte {offset}"),
            StoreError::SnapshotCorrupt { file } => write!(f, "snapshot {file} missing or corrupt"),
            StoreError::Gap { what } => write!(f, "log incomplete: {what}"),
            StoreError::RecordTooLarge { bytes } => write!(f, "record of {bytes} bytes over the limit"),
        }
    }
}

impl std::error::Error for StoreError {}
