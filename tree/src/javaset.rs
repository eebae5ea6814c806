//! The iteration order of Java's `HashSet<String>`, which ZooKeeper exposes.
//!
//! ZooKeeper keeps a znode's children, and a session's ephemerals, in `java.util.HashSet`s and
//! answers `getChildren` (and deletes a closed session's ephemerals) in that set's iteration
//! order. That order is deterministic: entries are grouped by bucket
//! (`spread(String.hashCode()) & (capacity - 1)`) and, inside a bucket, kept in insertion order
//! (a resize splits buckets without reordering them). The capacity only grows. This module keeps
//! the names in a `BTreeMap` with an insertion sequence and the capacity, and reproduces the
//! order on demand. Tree bins (8 or more names colliding in one bucket of a table of at least 64)
//! are not modelled; their order differs only for such collisions.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Capacity of `new HashSet<String>(8)`, as `DataNode.addChild` creates it.
pub(crate) const CHILDREN_CAPACITY_INITIAL: u32 = 8;
/// Capacity of `new HashSet<String>()`, as `DataTree` creates a session's ephemeral set.
pub(crate) const EPHEMERALS_CAPACITY_INITIAL: u32 = 16;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JavaSet {
    /// Name -> insertion sequence number.
    items: BTreeMap<String, u64>,
    seq_next: u64,
    /// Current table capacity; 0 until the first insertion allocates the table.
    capacity: u32,
    capacity_initial: u32,
}

/// `String.hashCode()` over UTF-16 code units, then `HashMap.hash`'s spread.
pub(crate) fn java_hash(s: &str) -> u32 {
    let mut h: i32 = 0;
    for unit in s.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    let h = h as u32;
    h ^ (h >> 16)
}

impl JavaSet {
    pub(crate) fn new(capacity_initial: u32) -> Self {
        debug_assert!(capacity_initial.is_power_of_two());
        JavaSet { items: BTreeMap::new(), seq_next: 0, capacity: 0, capacity_initial }
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.items.contains_key(name)
    }

    pub(crate) fn insert(&mut self, name: &str) -> bool {
        if self.items.contains_key(name) {
            return false;
        }
        if self.capacity == 0 {
            self.capacity = self.capacity_initial;
        }
        self.items.insert(String::from(name), self.seq_next);
        self.seq_next += 1;
        // HashMap resizes when ++size > threshold, threshold = capacity * 0.75.
        if self.items.len() as u64 > u64::from(self.capacity) * 3 / 4 {
            self.capacity = self.capacity.saturating_mul(2);
        }
        true
    }

    pub(crate) fn remove(&mut self, name: &str) -> bool {
        self.items.remove(name).is_some()
    }

    /// Java's iteration order of this set.
    pub(crate) fn java_order(&self) -> Vec<&str> {
        let mask = self.capacity.max(1) - 1;
        let mut v: Vec<(u32, u64, &str)> =
            self.items.iter().map(|(k, seq)| (java_hash(k) & mask, *seq, k.as_str())).collect();
        v.sort_unstable();
        v.into_iter().map(|(_, _, k)| k).collect()
    }

    /// Iteration order of `set.clone()`: `HashMap.clone` re-inserts the entries, in this set's
    /// order, into a table sized `tableSizeFor((int)(size / 0.75f + 1))`.
    pub(crate) fn clone_order(&self) -> Vec<&str> {
        let size = self.items.len() as u64;
        let wanted = size * 4 / 3 + 1; // (int)(s / 0.75f + 1.0f); 4s/3 is never within f32 error of an integer boundary here
        let capacity = wanted.max(1).next_power_of_two();
        let mask = (capacity - 1) as u32;
        let mut v: Vec<(u32, usize, &str)> = self
            .java_order()
            .into_iter()
            .enumerate()
            .map(|(i, k)| (java_hash(k) & mask, i, k))
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, _, k)| k).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_string_hash_matches_java() {
        // Values of "...".hashCode() in Java.
        assert_eq!(java_hash(""), 0);
        let h = |s: &str| {
            let mut h: i32 = 0;
            for u in s.encode_utf16() {
                h = h.wrapping_mul(31).wrapping_add(i32::from(u));
            }
            h
        };
        assert_eq!(h("a"), 97);
        assert_eq!(h("ab"), 97 * 31 + 98);
        assert_eq!(h("hello"), 99_162_322);
    }

    #[test]
    fn order_is_bucket_then_insertion() {
        let mut s = JavaSet::new(CHILDREN_CAPACITY_INITIAL);
        s.insert("quota");
        s.insert("config");
        // ZooKeeper 3.8 answers getChildren("/zookeeper") with [config, quota].
        assert_eq!(s.java_order(), ["config", "quota"]);
    }

    #[test]
    fn grows_after_three_quarters() {
        let mut s = JavaSet::new(8);
        for i in 0..7 {
            s.insert(&alloc::format!("n{i}"));
        }
        assert_eq!(s.capacity, 16);
        assert!(s.remove("n3"));
        assert_eq!(s.capacity, 16, "a HashMap never shrinks");
        assert_eq!(s.len(), 6);
    }
}
