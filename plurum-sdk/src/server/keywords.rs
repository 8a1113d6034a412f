//! The keyword arm's ranking, in memory.
//!
//! SQLite's FTS5 decides which experiences match a query (phrases, `OR`,
//! `-word`, stemming), which costs a fraction of a millisecond even at
//! 100,000 experiences. Ranking the matches with FTS5's `bm25()` costs a few
//! microseconds per match (it reads each row's sizes and positions), which
//! made it most of a search's time. This index holds what BM25 needs of
//! every experience (its length in tokens and the weighted frequency of
//! each stemmed term) and computes FTS5's own formula: `k1 = 1.2`,
//! `b = 0.75`, `idf = ln((N - n + 0.5) / (n + 0.5))` (at least 1e-6), the
//! column weights of [`WEIGHTS`], the length over all columns. Terms are
//! stemmed with the Snowball English stemmer, where FTS5 uses the original
//! Porter one: they agree on common words, and where they do not, only the
//! order of experiences that match anyway changes. A phrase of several
//! words counts as often as its rarest word (FTS5 counts its exact
//! occurrences).

use std::collections::HashMap;

use rust_stemmers::{Algorithm, Stemmer};

use super::embed::is_stop_word;

/// The weights of the keyword columns: goal, tags, domain, solution,
/// context (as the FTS5 table's `bm25(...)` rank had them).
pub(crate) const WEIGHTS: [f32; 5] = [1.0, 1.0, 0.4, 0.4, 0.2];
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// What the ranking knows of one experience.
#[derive(Debug)]
struct Doc {
    /// Tokens in all columns (stop words included, as FTS5 counts them).
    tokens: u32,
    /// `(term, weighted frequency)`, by term.
    terms: Box<[(u32, f32)]>,
}

/// The index.
pub(crate) struct KeywordIndex {
    stemmer: Stemmer,
    dictionary: HashMap<Box<str>, u32>,
    /// Each word seen, to its term: stemming once per distinct word keeps
    /// start-up and inserts cheap.
    words: HashMap<Box<str>, u32>,
    /// Experiences holding each term.
    holders: Vec<u32>,
    /// By slot (the vector index's).
    docs: Vec<Doc>,
    total_tokens: u64,
}

impl std::fmt::Debug for KeywordIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeywordIndex")
            .field("terms", &self.dictionary.len())
            .field("docs", &self.docs.len())
            .finish_non_exhaustive()
    }
}

impl Default for KeywordIndex {
    fn default() -> Self {
        Self {
            stemmer: Stemmer::create(Algorithm::English),
            dictionary: HashMap::new(),
            words: HashMap::new(),
            holders: Vec::new(),
            docs: Vec::new(),
            total_tokens: 0,
        }
    }
}

/// A query's phrases, looked up once: for each, its terms (None: a term no
/// experience holds) and its idf.
#[derive(Debug)]
pub(crate) struct Prepared {
    phrases: Vec<(Vec<Option<u32>>, f64)>,
    average_tokens: f64,
}

/// FTS5's `unicode61` tokens: runs of letters and digits, lowercased.
fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

impl KeywordIndex {
    fn stem<'a>(&self, word: &'a str) -> std::borrow::Cow<'a, str> {
        self.stemmer.stem(word)
    }

    /// Adds the next experience's columns (goal, tags, domain, solution,
    /// context); its slot is the number added before it.
    pub(crate) fn push(&mut self, columns: [&str; 5]) {
        let mut count = 0u32;
        let mut frequencies: HashMap<u32, f32> = HashMap::new();
        for (column, text) in columns.iter().enumerate() {
            for token in tokens(text) {
                count = count.saturating_add(1);
                if is_stop_word(&token) {
                    continue;
                }
                let id = match self.words.get(token.as_str()) {
                    Some(id) => *id,
                    None => {
                        let stem = self.stem(&token).into_owned();
                        let next = u32::try_from(self.dictionary.len()).unwrap_or(u32::MAX);
                        let id = *self.dictionary.entry(stem.into_boxed_str()).or_insert(next);
                        if id as usize == self.holders.len() {
                            self.holders.push(0);
                        }
                        self.words.insert(token.into_boxed_str(), id);
                        id
                    }
                };
                *frequencies.entry(id).or_default() += WEIGHTS[column];
            }
        }
        for id in frequencies.keys() {
            self.holders[*id as usize] += 1;
        }
        let mut terms: Vec<(u32, f32)> = frequencies.into_iter().collect();
        terms.sort_unstable_by_key(|(id, _)| *id);
        self.total_tokens += u64::from(count);
        self.docs.push(Doc {
            tokens: count,
            terms: terms.into_boxed_slice(),
        });
    }

    /// Looks a query's phrases (their words, stop words removed) up once.
    pub(crate) fn prepare(&self, phrases: &[Vec<String>]) -> Prepared {
        let rows = self.docs.len() as f64;
        let phrases = phrases
            .iter()
            .map(|words| {
                let ids: Vec<Option<u32>> = words
                    .iter()
                    .map(|w| self.dictionary.get(self.stem(w).as_ref()).copied())
                    .collect();
                let hits = ids
                    .iter()
                    .map(|id| id.map_or(0, |id| self.holders[id as usize]))
                    .min()
                    .unwrap_or(0);
                let hits = f64::from(hits);
                let idf = ((rows - hits + 0.5) / (hits + 0.5)).ln();
                (ids, if idf <= 0.0 { 1e-6 } else { idf })
            })
            .collect();
        Prepared {
            phrases,
            average_tokens: if rows > 0.0 {
                (self.total_tokens as f64 / rows).max(1.0)
            } else {
                1.0
            },
        }
    }

    /// How many experiences it holds.
    pub(crate) fn len(&self) -> usize {
        self.docs.len()
    }

    /// The BM25 score of the experience in `slot` for a prepared query (higher is
    /// better; FTS5's `bm25()` returns its negative).
    pub(crate) fn score(&self, slot: usize, query: &Prepared) -> Option<f64> {
        let doc = self.docs.get(slot)?;
        let frequency = |id: Option<u32>| -> f64 {
            id.and_then(|id| doc.terms.binary_search_by_key(&id, |(t, _)| *t).ok())
                .map_or(0.0, |at| f64::from(doc.terms[at].1))
        };
        let length = K1 * (1.0 - B + B * f64::from(doc.tokens) / query.average_tokens);
        Some(
            query
                .phrases
                .iter()
                .map(|(ids, idf)| {
                    let f = ids.iter().map(|id| frequency(*id)).fold(f64::INFINITY, f64::min);
                    let f = if f.is_finite() { f } else { 0.0 };
                    idf * (f * (K1 + 1.0)) / (f + length)
                })
                .sum(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same numbers as FTS5's own `bm25()` with the same weights, on
    /// words both stemmers treat alike.
    #[test]
    fn scores_as_fts5_bm25_does() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE f USING fts5(goal, tags, domain, solution, context, tokenize = 'porter unicode61');",
        )
        .unwrap();
        let rows = [
            [
                "Set up PostgreSQL streaming replication",
                "postgresql",
                "infrastructure",
                "",
                "",
            ],
            [
                "Redis cluster failover across regions",
                "redis",
                "infrastructure",
                "use sentinel",
                "",
            ],
            [
                "PostgreSQL logical replication for the billing database",
                "postgresql billing",
                "databases",
                "publication per table",
                "PostgreSQL 16 on a managed host",
            ],
            [
                "Kafka consumer lag under load",
                "kafka",
                "development",
                "",
                "the replication factor was 1",
            ],
            ["Tune nginx rate limits", "nginx", "infrastructure", "", ""],
        ];
        let mut index = KeywordIndex::default();
        for (i, row) in rows.iter().enumerate() {
            conn.execute(
                "INSERT INTO f (rowid, goal, tags, domain, solution, context) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![i as i64 + 1, row[0], row[1], row[2], row[3], row[4]],
            )
            .unwrap();
            index.push(*row);
        }
        for (expression, phrases) in [
            ("\"replication\"", vec![vec!["replication"]]),
            (
                "\"postgresql\" AND \"replication\"",
                vec![vec!["postgresql"], vec!["replication"]],
            ),
            ("(\"redis\" OR \"kafka\")", vec![vec!["redis"], vec!["kafka"]]),
            ("\"infrastructure\"", vec![vec!["infrastructure"]]),
        ] {
            let phrases: Vec<Vec<String>> = phrases
                .into_iter()
                .map(|p| p.into_iter().map(str::to_owned).collect())
                .collect();
            let prepared = index.prepare(&phrases);
            let mut stmt = conn
                .prepare("SELECT rowid, -bm25(f, 1.0, 1.0, 0.4, 0.4, 0.2) FROM f WHERE f MATCH ?1")
                .unwrap();
            let expected: Vec<(i64, f64)> = stmt
                .query_map([expression], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(!expected.is_empty(), "{expression}");
            for (seq, fts5) in expected {
                let ours = index.score(seq as usize - 1, &prepared).unwrap();
                assert!(
                    (ours - fts5).abs() < 1e-4,
                    "{expression} row {seq}: ours {ours}, FTS5 {fts5}"
                );
            }
        }
    }

    #[test]
    fn unknown_terms_and_documents_score_nothing() {
        let mut index = KeywordIndex::default();
        index.push(["Redis failover", "", "", "", ""]);
        let prepared = index.prepare(&[vec!["memcached".to_owned()]]);
        assert_eq!(index.score(0, &prepared), Some(0.0));
        assert_eq!(index.score(1, &prepared), None);
        let both = index.prepare(&[vec!["redis".to_owned(), "failovers".to_owned()]]);
        assert!(index.score(0, &both).unwrap() > 0.0, "a phrase of stemmed words");
        assert_eq!(index.len(), 1);
    }
}
