//! A deterministic local embedding: hashed word, word-pair and character
//! trigram features, L2-normalised. No network, no model download; the same
//! text always gives the same vector, on every machine.

/// Vector dimensions.
pub(crate) const DIM: usize = 512;

const WORD_WEIGHT: f32 = 1.0;
const PAIR_WEIGHT: f32 = 0.6;
const TRIGRAM_WEIGHT: f32 = 0.25;

/// English stop words (PostgreSQL's `english` list): dropped from both the
/// embedding and keyword queries.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "did",
    "do",
    "does",
    "doing",
    "don",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "s",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "t",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// Whether a lowercase word is a stop word.
pub(crate) fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// The lowercase alphanumeric words of a text, without stop words.
pub(crate) fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !is_stop_word(w))
        .collect()
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in *part {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn add(vector: &mut [f32], parts: &[&[u8]], weight: f32) {
    let index = (fnv1a(parts) % DIM as u64) as usize;
    vector[index] += weight;
}

/// Embeds a text.
pub(crate) fn embed(text: &str) -> Vec<f32> {
    let words = words(text);
    let mut vector = vec![0.0f32; DIM];
    for word in &words {
        add(&mut vector, &[b"w", word.as_bytes()], WORD_WEIGHT);
        let padded: Vec<char> = format!("^{word}$").chars().collect();
        for gram in padded.windows(3) {
            let gram: String = gram.iter().collect();
            add(&mut vector, &[b"c", gram.as_bytes()], TRIGRAM_WEIGHT);
        }
    }
    for pair in words.windows(2) {
        add(
            &mut vector,
            &[b"p", pair[0].as_bytes(), pair[1].as_bytes()],
            PAIR_WEIGHT,
        );
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut vector {
            *x /= norm;
        }
    }
    vector
}

/// Cosine similarity of two normalised vectors, in `[0, 1]`.
pub(crate) fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    f64::from(dot.clamp(0.0, 1.0))
}

/// The non-zero dimensions of a query vector, for fast dot products against
/// many stored vectors (a hashed text vector is sparse).
pub(crate) fn sparse(vector: &[f32]) -> Vec<(usize, f32)> {
    vector
        .iter()
        .enumerate()
        .filter(|(_, x)| **x != 0.0)
        .map(|(i, x)| (i, *x))
        .collect()
}

/// Stores a vector as little-endian bytes.
pub(crate) fn to_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Reads a stored vector.
pub(crate) fn from_blob(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The text embedded for a search query or a session topic (docs/api-contract.md §6.8):
/// topic, then domain, then tools. The field labels are left out: they are
/// the same in every text and would only add noise to a hashed embedding.
pub(crate) fn query_text(query: &str, domain: Option<&str>, tools: &[String]) -> String {
    let mut text = query.to_owned();
    if let Some(domain) = domain.filter(|d| !d.is_empty()) {
        text.push('\n');
        text.push_str(domain);
    }
    if !tools.is_empty() {
        text.push('\n');
        text.push_str(&tools.join(", "));
    }
    text
}

/// A search query for the keyword arm.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeywordQuery {
    /// The FTS5 expression that decides what matches.
    pub(crate) expression: String,
    /// The phrases that rank the matches (each as its words): every
    /// phrase that is not excluded, alternatives of an `or` included.
    pub(crate) phrases: Vec<Vec<String>>,
}

/// Converts a search query into an FTS5 expression the way PostgreSQL's
/// `websearch_to_tsquery` reads it: words are ANDed, `"quoted phrases"` stay
/// together, `or` between words means OR, and a leading `-` excludes a word.
/// `None` when nothing searchable is left.
pub(crate) fn fts_query(query: &str) -> Option<KeywordQuery> {
    #[derive(Debug)]
    enum Token {
        Term(String, bool),
        Or,
    }
    let mut tokens = Vec::new();
    let mut rest = query;
    while !rest.is_empty() {
        let trimmed = rest.trim_start();
        if trimmed.is_empty() {
            break;
        }
        let (negate, body) = match trimmed.strip_prefix('-') {
            Some(after) => (true, after),
            None => (false, trimmed),
        };
        if let Some(after_quote) = body.strip_prefix('"') {
            let end = after_quote.find('"').unwrap_or(after_quote.len());
            let phrase = words(&after_quote[..end]).join(" ");
            if !phrase.is_empty() {
                tokens.push(Token::Term(phrase, negate));
            }
            rest = after_quote.get(end + 1..).unwrap_or("");
            continue;
        }
        let end = body.find(char::is_whitespace).unwrap_or(body.len());
        let word = &body[..end];
        rest = &body[end..];
        if !negate && word.eq_ignore_ascii_case("or") {
            tokens.push(Token::Or);
            continue;
        }
        for w in words(word) {
            tokens.push(Token::Term(w, negate));
        }
    }
    let mut positive: Vec<String> = Vec::new();
    let mut negative: Vec<String> = Vec::new();
    let mut pending_or = false;
    let mut phrases: Vec<Vec<String>> = Vec::new();
    for token in tokens {
        match token {
            Token::Or => pending_or = !positive.is_empty(),
            Token::Term(text, true) => negative.push(format!("\"{}\"", text.replace('"', ""))),
            Token::Term(text, false) => {
                phrases.push(text.split(' ').map(str::to_owned).collect());
                let quoted = format!("\"{}\"", text.replace('"', ""));
                match positive.last_mut() {
                    Some(last) if pending_or => *last = format!("({last} OR {quoted})"),
                    _ => positive.push(quoted),
                }
                pending_or = false;
            }
        }
    }
    if positive.is_empty() {
        return None;
    }
    let mut expression = positive.join(" AND ");
    for term in negative {
        expression = format!("({expression}) NOT {term}");
    }
    Some(KeywordQuery { expression, phrases })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        let mut sorted = STOP_WORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, STOP_WORDS);
        assert!(is_stop_word("up") && is_stop_word("the") && !is_stop_word("postgresql"));
    }

    #[test]
    fn the_embedding_is_deterministic_and_normalised() {
        let a = embed("Set up PostgreSQL replication for high availability");
        assert_eq!(a, embed("Set up PostgreSQL replication for high availability"));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        assert_eq!(from_blob(&to_blob(&a)), a);
        assert!(embed("").iter().all(|x| *x == 0.0));
    }

    #[test]
    fn related_texts_are_closer_than_unrelated_ones() {
        let topic = embed("Set up PostgreSQL replication for high availability");
        let related = embed("PostgreSQL streaming replication with read replicas in Docker");
        let unrelated = embed("Bake sourdough bread with a rye starter");
        let near = cosine(&topic, &related);
        let far = cosine(&topic, &unrelated);
        assert!(near > far + 0.2, "near {near}, far {far}");
        assert!((cosine(&topic, &topic) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn queries_read_like_websearch() {
        let expression = |q: &str| fts_query(q).unwrap().expression;
        assert_eq!(
            expression("set up PostgreSQL replication"),
            r#""set" AND "postgresql" AND "replication""#
        );
        assert_eq!(
            expression(r#""read replicas" docker"#),
            r#""read replicas" AND "docker""#
        );
        assert_eq!(expression("redis or memcached"), r#"("redis" OR "memcached")"#);
        assert_eq!(expression("postgres -mysql"), r#"("postgres") NOT "mysql""#);
        let phrases = |q: &str| fts_query(q).unwrap().phrases;
        assert_eq!(
            phrases(r#""read replicas" docker -mysql"#),
            [vec!["read", "replicas"], vec!["docker"]]
        );
        assert_eq!(phrases("redis or memcached"), [vec!["redis"], vec!["memcached"]]);
        assert_eq!(fts_query("the of and"), None);
        assert_eq!(fts_query("-only"), None);
        assert_eq!(fts_query("AND OR NOT ( ) * ^ :"), None);
    }
}
