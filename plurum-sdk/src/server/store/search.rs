//! Search: the hybrid ranking over the keyword index and the vectors
//! (fused by [`crate::server::rank`]), and similar experiences.

use rusqlite::params;

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
    /// Hybrid search (CONTRACT §6.8): a vector arm and a keyword arm of
    /// `3 · limit` candidates each, fused by reciprocal rank (k = 60,
    /// 0.5/0.5). Returns `(experience, similarity, keyword_rank, combined)`,
    /// best first.
    pub(crate) fn search(
        &self,
        query_vector: &[f32],
        fts: Option<&str>,
        eligibility: &Eligibility,
        limit: usize,
    ) -> rusqlite::Result<Vec<(Experience, f64, f64, f64)>> {
        let candidates = limit.saturating_mul(3).max(1);
        let query = embed::sparse(query_vector);
        // Keyword arm: the best keyword matches, then only the eligible ones.
        let mut keyword_hits: Vec<(i64, f64)> = Vec::new();
        if let Some(fts) = fts {
            let conn = self.conn();
            let mut stmt = conn.prepare(
                "SELECT rowid, -rank FROM experience_fts WHERE experience_fts MATCH ?1 ORDER BY rank LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![fts, (candidates * 8).max(200) as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?))
            });
            match rows {
                Ok(rows) => keyword_hits = rows.collect::<rusqlite::Result<_>>()?,
                Err(error) => tracing::debug!(%error, "keyword arm skipped"),
            }
        }
        let (by_vector, by_keyword) = {
            let index = self.index.read().unwrap_or_else(|e| e.into_inner());
            let by_vector = index.nearest(&query, |_, meta| eligibility.accepts(meta), candidates);
            let by_keyword: Vec<(i64, f64, f64)> = keyword_hits
                .into_iter()
                .filter(|(seq, _)| index.meta(*seq).is_some_and(|m| eligibility.accepts(m)))
                .filter_map(|(seq, rank)| Some((seq, rank, index.similarity(seq, &query)?)))
                .take(candidates)
                .collect();
            (by_vector, by_keyword)
        };
        let ranked = crate::server::rank::fuse(&by_vector, &by_keyword, limit);
        let seqs: Vec<i64> = ranked.iter().map(|f| f.seq).collect();
        let mut rows = Self::experiences_by_seq(&self.conn(), &seqs)?;
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
            let index = self.index.read().unwrap_or_else(|e| e.into_inner());
            let Some(source_vector) = index.sparse(source.seq) else {
                return Ok(Vec::new());
            };
            let all = Eligibility::default();
            let mut scored = index.nearest(
                &source_vector,
                |seq, meta| seq != source.seq && all.accepts(meta),
                limit,
            );
            scored.retain(|(_, similarity)| *similarity >= threshold);
            scored
        };
        let seqs: Vec<i64> = scored.iter().map(|(seq, _)| *seq).collect();
        let mut rows = Self::experiences_by_seq(&self.conn(), &seqs)?;
        Ok(scored
            .into_iter()
            .filter_map(|(seq, similarity)| rows.remove(&seq).map(|e| (e, similarity)))
            .collect())
    }
}
