//! Reciprocal rank fusion (docs/api-contract.md §6.8): the vector arm's ranking and the
//! keyword arm's, each worth half, `1 / (k + rank)` with `k = 60`. Pure:
//! no SQLite, no vectors, just the two rankings.

use std::collections::HashMap;

/// The fusion constant.
pub(crate) const K: f64 = 60.0;
/// Each arm's weight.
const WEIGHT: f64 = 0.5;

/// One candidate after fusion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fused {
    /// The experience's row number.
    pub(crate) seq: i64,
    /// Its cosine similarity to the query.
    pub(crate) similarity: f64,
    /// Its keyword score (0 when only the vector arm found it).
    pub(crate) keyword: f64,
    /// The fused score.
    pub(crate) score: f64,
}

/// Fuses a vector ranking `(seq, similarity)` and a keyword ranking
/// `(seq, keyword score, similarity)`, each best first. The best `limit`,
/// best first; ties go to the more similar, then the newer (higher seq).
pub(crate) fn fuse(by_vector: &[(i64, f64)], by_keyword: &[(i64, f64, f64)], limit: usize) -> Vec<Fused> {
    let mut fused: HashMap<i64, Fused> = HashMap::new();
    let contribution = |rank: usize| WEIGHT / (K + rank as f64 + 1.0);
    for (rank, (seq, similarity)) in by_vector.iter().enumerate() {
        let entry = fused.entry(*seq).or_insert(Fused {
            seq: *seq,
            similarity: *similarity,
            keyword: 0.0,
            score: 0.0,
        });
        entry.score += contribution(rank);
    }
    for (rank, (seq, keyword, similarity)) in by_keyword.iter().enumerate() {
        let entry = fused.entry(*seq).or_insert(Fused {
            seq: *seq,
            similarity: *similarity,
            keyword: 0.0,
            score: 0.0,
        });
        entry.keyword = *keyword;
        entry.score += contribution(rank);
    }
    let mut ranked: Vec<Fused> = fused.into_values().collect();
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.similarity.total_cmp(&a.similarity))
            .then(b.seq.cmp(&a.seq))
    });
    ranked.truncate(limit);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_by_both_arms_beats_found_by_one() {
        let vector = [(1, 0.9), (2, 0.8), (3, 0.7)];
        let keyword = [(3, 12.0, 0.7), (4, 9.0, 0.1)];
        let fused = fuse(&vector, &keyword, 10);
        assert_eq!(fused[0].seq, 3, "{fused:?}");
        let both = WEIGHT / (K + 3.0) + WEIGHT / (K + 1.0);
        assert!((fused[0].score - both).abs() < 1e-12);
        assert_eq!(fused[0].keyword, 12.0);
        // Then the vector arm's first; then its second and the keyword arm's
        // first tie on score (both rank 1 of one arm), and the more similar wins.
        assert_eq!(fused.iter().map(|f| f.seq).collect::<Vec<_>>(), [3, 1, 2, 4]);
        assert_eq!(fused[3].keyword, 9.0);
        assert_eq!(fused[1].keyword, 0.0, "found by the vector arm only");
    }

    #[test]
    fn the_limit_and_the_ties() {
        assert!(fuse(&[], &[], 5).is_empty());
        let tied = fuse(&[(7, 0.5)], &[(9, 1.0, 0.5)], 5);
        assert_eq!(tied.iter().map(|f| f.seq).collect::<Vec<_>>(), [9, 7], "newer first");
        let many: Vec<(i64, f64)> = (0..100).map(|n| (n, 1.0 - n as f64 / 100.0)).collect();
        let top = fuse(&many, &[], 3);
        assert_eq!(top.iter().map(|f| f.seq).collect::<Vec<_>>(), [0, 1, 2]);
    }
}
