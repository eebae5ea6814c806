//! Majority arithmetic. Nothing else counts votes or acknowledgements.

use crate::limits::MEMBERS_MAX;

/// Votes a majority of `voters` needs.
pub const fn majority(voters: usize) -> usize {
    voters / 2 + 1
}

/// The highest position that at least a majority of `acked` (one value per voter) has reached.
/// Returns 0 when `acked` is empty.
pub fn agreed_index(acked: &mut heapless::Vec<u64, MEMBERS_MAX>) -> u64 {
    if acked.is_empty() {
        return 0;
    }
    // Insertion sort, descending: at most MEMBERS_MAX values, and far less code than
    // the standard sort on a small board.
    for i in 1..acked.len() {
        let mut j = i;
        while j > 0 && acked[j - 1] < acked[j] {
            acked.swap(j - 1, j);
            j -= 1;
        }
    }
    let need = majority(acked.len());
    acked.get(need - 1).copied().unwrap_or(0)
}

/// Whether `count` of `voters` is a majority.
pub const fn is_majority(count: usize, voters: usize) -> bool {
    count >= majority(voters)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreed(values: &[u64]) -> u64 {
        agreed_index(&mut heapless::Vec::from_slice(values).unwrap())
    }

    #[test]
    fn majority_sizes() {
        assert_eq!([1, 2, 3, 4, 5, 6, 7].map(majority), [1, 2, 2, 3, 3, 4, 4]);
        assert!(is_majority(2, 3) && !is_majority(1, 3) && !is_majority(2, 4));
    }

    #[test]
    fn agreed_index_is_the_majority_th_highest() {
        assert_eq!(agreed(&[]), 0);
        assert_eq!(agreed(&[7]), 7);
        assert_eq!(agreed(&[5, 9, 1]), 5);
        assert_eq!(agreed(&[5, 9, 1, 7]), 5);
        assert_eq!(agreed(&[3, 3, 8, 8, 1]), 3);
        assert_eq!(agreed(&[10, 10, 10, 0, 0]), 10);
    }

    #[test]
    fn agreed_index_exhaustive_for_three_voters() {
        for a in 0..5u64 {
            for b in 0..5u64 {
                for c in 0..5u64 {
                    let got = agreed(&[a, b, c]);
                    let reached = [a, b, c].iter().filter(|v| **v >= got).count();
                    assert!(reached >= 2);
                    let higher = [a, b, c].iter().filter(|v| **v > got).count();
                    assert!(higher < 2, "{a} {b} {c} -> {got}");
                }
            }
        }
    }
}
