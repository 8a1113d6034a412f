//! The experience vectors in memory, as an inverted index: for every
//! dimension, the experiences with a non-zero weight there. A query touches
//! only its own non-zero dimensions, so scoring 10,000 experiences costs a
//! few hundred thousand additions into one small array.

use std::collections::HashMap;

use super::embed::DIM;

/// What search needs to know of an experience besides its vector.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Meta {
    /// Public, published or verified, and not quarantined.
    pub(crate) searchable: bool,
    pub(crate) quality: f64,
    pub(crate) domain: Option<String>,
}

#[derive(Debug)]
struct Doc {
    seq: i64,
    meta: Meta,
    vector: Vec<(u16, f32)>,
}

/// The index.
#[derive(Debug)]
pub(crate) struct VectorIndex {
    docs: Vec<Doc>,
    slots: HashMap<i64, usize>,
    postings: Vec<Vec<(u32, f32)>>,
}

impl Default for VectorIndex {
    fn default() -> Self {
        Self {
            docs: Vec::new(),
            slots: HashMap::new(),
            postings: vec![Vec::new(); DIM],
        }
    }
}

impl VectorIndex {
    /// Adds an experience, or updates its metadata if it is known (vectors never change).
    pub(crate) fn upsert(&mut self, seq: i64, meta: Meta, dense: &[f32]) {
        if let Some(slot) = self.slots.get(&seq) {
            self.docs[*slot].meta = meta;
            return;
        }
        let slot = self.docs.len();
        let vector: Vec<(u16, f32)> = dense
            .iter()
            .enumerate()
            .filter(|(i, x)| **x != 0.0 && *i < DIM)
            .map(|(i, x)| (i as u16, *x))
            .collect();
        for (dim, weight) in &vector {
            self.postings[*dim as usize].push((slot as u32, *weight));
        }
        self.docs.push(Doc { seq, meta, vector });
        self.slots.insert(seq, slot);
    }

    /// The metadata of an experience.
    pub(crate) fn meta(&self, seq: i64) -> Option<&Meta> {
        self.slots.get(&seq).map(|slot| &self.docs[*slot].meta)
    }

    /// The sparse vector of an experience, as `(dimension, weight)`.
    pub(crate) fn sparse(&self, seq: i64) -> Option<Vec<(usize, f32)>> {
        self.slots
            .get(&seq)
            .map(|slot| self.docs[*slot].vector.iter().map(|(d, w)| (*d as usize, *w)).collect())
    }

    /// The cosine of a sparse query with one experience, in `[0, 1]`.
    pub(crate) fn similarity(&self, seq: i64, query: &[(usize, f32)]) -> Option<f64> {
        let doc = &self.docs[*self.slots.get(&seq)?];
        let mut dot = 0.0f32;
        let (mut i, mut j) = (0, 0);
        while i < query.len() && j < doc.vector.len() {
            let (qd, qw) = query[i];
            let (dd, dw) = doc.vector[j];
            match qd.cmp(&(dd as usize)) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    dot += qw * dw;
                    i += 1;
                    j += 1;
                }
            }
        }
        Some(f64::from(dot.clamp(0.0, 1.0)))
    }

    /// The `k` nearest experiences to a sparse query (sorted by dimension)
    /// among those `keep` accepts, as `(seq, cosine)`, best first.
    pub(crate) fn nearest(
        &self,
        query: &[(usize, f32)],
        keep: impl Fn(i64, &Meta) -> bool,
        k: usize,
    ) -> Vec<(i64, f64)> {
        let mut scores = vec![0.0f32; self.docs.len()];
        for (dim, weight) in query {
            if let Some(posting) = self.postings.get(*dim) {
                for (slot, w) in posting {
                    scores[*slot as usize] += weight * w;
                }
            }
        }
        let mut scored: Vec<(i64, f64)> = self
            .docs
            .iter()
            .zip(scores)
            .filter(|(doc, _)| keep(doc.seq, &doc.meta))
            .map(|(doc, score)| (doc.seq, f64::from(score.clamp(0.0, 1.0))))
            .collect();
        let order = |a: &(i64, f64), b: &(i64, f64)| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0));
        if scored.len() > k && k > 0 {
            scored.select_nth_unstable_by(k - 1, order);
        }
        scored.truncate(k);
        scored.sort_by(order);
        scored
    }
}

#[cfg(test)]
mod tests {
    use super::super::embed::{cosine, embed, sparse};
    use super::*;

    fn meta() -> Meta {
        Meta {
            searchable: true,
            quality: 0.0,
            domain: None,
        }
    }

    #[test]
    fn scores_like_the_dense_cosine() {
        let texts = [
            "postgres streaming replication",
            "redis cluster failover",
            "postgres logical replication",
        ];
        let mut index = VectorIndex::default();
        for (i, text) in texts.iter().enumerate() {
            index.upsert(i as i64, meta(), &embed(text));
        }
        let query = embed("replication for postgres");
        let nearest = index.nearest(&sparse(&query), |_, _| true, 3);
        assert_eq!(nearest.len(), 3);
        assert_eq!(nearest[2].0, 1, "redis is farthest");
        for (seq, score) in &nearest {
            let dense = cosine(&query, &embed(texts[*seq as usize]));
            assert!((score - dense).abs() < 1e-5, "{score} vs {dense}");
            assert!((index.similarity(*seq, &sparse(&query)).unwrap() - dense).abs() < 1e-5);
        }
        // Filters and metadata updates.
        index.upsert(
            0,
            Meta {
                searchable: false,
                ..meta()
            },
            &[],
        );
        let nearest = index.nearest(&sparse(&query), |_, m| m.searchable, 3);
        assert!(nearest.iter().all(|(seq, _)| *seq != 0));
        assert!(!index.meta(0).unwrap().searchable);
    }
}
