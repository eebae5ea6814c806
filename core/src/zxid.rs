//! The ZAB transaction id: `(epoch, counter)`, ordered lexicographically.
//!
//! In Paxos words the epoch is the ballot of a leader and the counter the slot
//! it proposes into. The packed form `epoch << 32 | counter` orders the same way.

/// A transaction id. `Zxid::ZERO` precedes every real proposal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Zxid {
    /// The epoch (ballot) of the leader that proposed it.
    pub epoch: u32,
    /// The proposal number within that epoch, starting at 1.
    pub counter: u32,
}

impl Zxid {
    /// The zxid of the empty history.
    pub const ZERO: Zxid = Zxid { epoch: 0, counter: 0 };

    /// A zxid from its parts.
    pub const fn new(epoch: u32, counter: u32) -> Self {
        Zxid { epoch, counter }
    }

    /// The packed 64-bit form used by ZooKeeper: `epoch << 32 | counter`.
    pub const fn as_u64(self) -> u64 {
        (self.epoch as u64) << 32 | self.counter as u64
    }

    /// The inverse of [`Zxid::as_u64`].
    pub const fn from_u64(packed: u64) -> Self {
        Zxid { epoch: (packed >> 32) as u32, counter: packed as u32 }
    }

    /// Whether `self` may follow `prev` in a history sent by the leader of `epoch`: a leader
    /// numbers its proposals 1, 2, 3, … in its own epoch, so the next entry is either the
    /// next counter of the same epoch or the first of a later one, never past `epoch`.
    /// (ZooKeeper refuses the same since ZOOKEEPER-4925.)
    #[inline]
    pub(crate) const fn follows(self, prev: Zxid, epoch: u32) -> bool {
        if self.epoch > epoch {
            return false;
        }
        if self.epoch == prev.epoch {
            prev.counter != u32::MAX && self.counter == prev.counter + 1
        } else {
            self.epoch > prev.epoch && self.counter == 1
        }
    }
}

impl core::fmt::Display for Zxid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}:{}", self.epoch, self.counter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_epoch_then_counter_and_matches_packed_form() {
        let a = Zxid::new(1, u32::MAX);
        let b = Zxid::new(2, 0);
        assert!(a < b);
        assert!(a.as_u64() < b.as_u64());
        assert!(Zxid::ZERO < Zxid::new(0, 1));
        assert_eq!(Zxid::from_u64(b.as_u64()), b);
        assert_eq!(Zxid::new(3, 7).as_u64(), (3u64 << 32) | 7);
    }
}
