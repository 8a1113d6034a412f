//! Search: the hybrid ranking over the keyword index and the vectors
//! (fused by [`crate::server::rank`]), and similar experiences.

use super::{Experience, Store};
use crate::server::embed;
use crate::server::vectors::Meta;

/// Which experiences a search or similar-lookup may return.
#[derive(Debug, Clone, Default)]
pub(crate) struct Eligibility {
    pub(crate) min_quality: f64,
    pub(crate) domain: Option<String>,
}

impl Eligibility {
    fn accepts(&self, meta: &Meta) -> bool {
        meta.searchable
            && meta.quality >= self.min_quality
            && self.domain.as_ref().is_none_or(|d| meta.domain.as_ref() == Some(d))
    }
}

impl Store {
    /// Hybrid search (docs/api-contract.md §6.8): a vector arm and a keyword arm of
    /// `3 · limit` candidates each, fused by reciprocal rank (k = 60,
    /// 0.5/0.5). Returns `(experience, similarity, keyword_rank, combined)`,
    /// best first.
    ///
    /// FTS5 says which experiences match the keywords (on a read
    /// connection); the in-memory indexes rank them and scan the vectors;
    /// only the results' rows are read back.
    pub(crate) fn search(
        &self,
        query_vector: &[f32],
        keywords: Option<&embed::KeywordQuery>,
        eligibility: &Eligibility,
        limit: usize,
    ) -> rusqlite::Result<Vec<(Experience, f64, f64, f64)>> {
        let candidates = limit.saturating_mul(3).max(1);
        let query = embed::sparse(query_vector);
        let mut matches: Vec<i64> = Vec::new();
        if let Some(keywords) = keywords {
            let conn = self.reader();
            let mut stmt = conn.prepare_cached("SELECT rowid FROM experience_fts WHERE experience_fts MATCH ?1")?;
            let rows = stmt
                .query_map([&keywords.expression], |r| r.get::<_, i64>(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>());
            match rows {
                Ok(rows) => matches = rows,
                Err(error) => tracing::debug!(%error, "keyword arm skipped"),
            }
        }
        let (by_vector, by_keyword) = {
            let index = self.indexes();
            let by_vector = index
                .vectors
                .nearest(&query, |_, meta| eligibility.accepts(meta), candidates);
            let mut by_keyword: Vec<(i64, f64, f64)> = Vec::new();
            if let Some(keywords) = keywords {
                let prepared = index.keywords.prepare(&keywords.phrases);
                let mut ranked: Vec<(i64, f64)> = matches
                    .into_iter()
                    .filter_map(|seq| {
                        let slot = index.vectors.slot(seq)?;
                        if !eligibility.accepts(index.vectors.meta_at(slot)) {
                            return None;
                        }
                        Some((seq, index.keywords.score(slot, &prepared)?))
                    })
                    .collect();
                // Best first; among equals, the older (as FTS5 lists them).
                let order = |a: &(i64, f64), b: &(i64, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
                if ranked.len() > candidates {
                    ranked.select_nth_unstable_by(candidates - 1, order);
                    ranked.truncate(candidates);
                }
                ranked.sort_by(order);
                // The cosine only for the candidates kept.
                by_keyword = ranked
                    .into_iter()
                    .filter_map(|(seq, rank)| Some((seq, rank, index.vectors.similarity(seq, &query)?)))
                    .collect();
            }
            (by_vector, by_keyword)
        };
        let ranked = crate::server::rank::fuse(&by_vector, &by_keyword, limit);
        let seqs: Vec<i64> = ranked.iter().map(|f| f.seq).collect();
        let mut rows = Self::experiences_by_seq(&self.reader(), &seqs)?;
        Ok(ranked
            .into_iter()
            .filter_map(|f| rows.remove(&f.seq).map(|e| (e, f.similarity, f.keyword, f.score)))
            .collect())
    }

    /// Experiences similar to `source` (similarity ≥ `threshold`), nearest first.
    pub(crate) fn similar(
        &self,
        source: &Experience,
        threshold: f64,
        limit: usize,
    ) -> rusqlite::Result<Vec<(Experience, f64)>> {
        let scored: Vec<(i64, f64)> = {
            let index = self.indexes();
            let Some(source_vector) = index.vectors.sparse(source.seq) else {
                return Ok(Vec::new());
            };
            let all = Eligibility::default();
            let mut scored = index.vectors.nearest(
                &source_vector,
                |seq, meta| seq != source.seq && all.accepts(meta),
                limit,
            );
            scored.retain(|(_, similarity)| *similarity >= threshold);
            scored
        };
        let seqs: Vec<i64> = scored.iter().map(|(seq, _)| *seq).collect();
        let mut rows = Self::experiences_by_seq(&self.reader(), &seqs)?;
        Ok(scored
            .into_iter()
            .filter_map(|(seq, similarity)| rows.remove(&seq).map(|e| (e, similarity)))
            .collect())
    }
}
