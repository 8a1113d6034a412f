//! The quality score: 0.7 · Wilson(outcomes) + 0.3 · Wilson(votes), z = 1.96.

const Z: f64 = 1.96;

/// The Wilson lower bound of `positive` successes out of `total`, at 95 %.
pub(crate) fn wilson(positive: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    let n = total as f64;
    let p = positive as f64 / n;
    let z2 = Z * Z;
    (p + z2 / (2.0 * n) - Z * ((p * (1.0 - p) + z2 / (4.0 * n)) / n).sqrt()) / (1.0 + z2 / n)
}

/// The quality score from outcome counts and votes.
pub(crate) fn quality_score(successes: u64, reports: u64, upvotes: u64, downvotes: u64) -> f64 {
    0.7 * wilson(successes, reports) + 0.3 * wilson(upvotes, upvotes + downvotes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-7
    }

    #[test]
    fn matches_the_contract_reference_values() {
        for (pos, n, w) in [
            (1, 1, 0.206543),
            (3, 3, 0.438494),
            (5, 5, 0.565509),
            (9, 10, 0.595844),
            (12, 13, 0.666855),
            (30, 34, 0.733788),
            (18, 19, 0.753608),
        ] {
            assert!(close(wilson(pos, n), w), "W({pos},{n}) = {}", wilson(pos, n));
        }
        assert!(close(quality_score(1, 1, 0, 0), 0.144580));
        assert!(close(quality_score(0, 0, 1, 0), 0.061963));
        assert!(close(quality_score(3, 3, 2, 0), 0.409657));
        assert!(close(quality_score(12, 13, 18, 1), 0.692881));
        assert_eq!(quality_score(0, 0, 0, 0), 0.0);
    }
}
