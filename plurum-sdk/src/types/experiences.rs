//! Experiences: crystallized knowledge, searched, acquired, reported on and voted on.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::common::{
    AcquireMode, AgentId, ExperienceId, ExperienceStatus, Importance, Outcome, ReportId, SessionId, Timestamp,
    Visibility, VoteId, VoteType, rfc3339,
};
use crate::error::{Error, Result};
use crate::validate;

/// Something that did not work.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeadEnd {
    /// What was tried.
    #[serde(default)]
    pub what: String,
    /// Why it failed.
    #[serde(default)]
    pub why: String,
}

impl DeadEnd {
    /// A dead end.
    pub fn new(what: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            why: why.into(),
        }
    }
}

/// A key insight.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Breakthrough {
    /// The insight.
    #[serde(default)]
    pub insight: String,
    /// The detail.
    #[serde(default)]
    pub detail: String,
    /// How important it is (medium unless given).
    #[serde(default)]
    pub importance: Importance,
}

impl Breakthrough {
    /// A breakthrough.
    pub fn new(insight: impl Into<String>, detail: impl Into<String>, importance: Importance) -> Self {
        Self {
            insight: insight.into(),
            detail: detail.into(),
            importance,
        }
    }
}

/// An edge case or trap. Decodes from an object or from a plain string.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Gotcha {
    /// The warning.
    pub warning: String,
    /// When it applies.
    pub context: Option<String>,
}

impl Gotcha {
    /// A gotcha.
    pub fn new(warning: impl Into<String>, context: Option<String>) -> Self {
        Self {
            warning: warning.into(),
            context,
        }
    }
}

impl<'de> Deserialize<'de> for Gotcha {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Object {
            #[serde(default)]
            warning: String,
            #[serde(default)]
            context: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Text(String),
            Object(Object),
        }
        match Either::deserialize(deserializer) {
            Ok(Either::Text(warning)) => Ok(Self { warning, context: None }),
            Ok(Either::Object(o)) => Ok(Self {
                warning: o.warning,
                context: o.context,
            }),
            Err(_) => Err(D::Error::custom("a gotcha must be a string or {warning, context}")),
        }
    }
}

/// Code or configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Artifact {
    /// The language (1 to 50 characters).
    #[serde(default)]
    pub language: String,
    /// The code.
    #[serde(default)]
    pub code: String,
    /// What it is.
    #[serde(default)]
    pub description: Option<String>,
}

impl Artifact {
    /// An artifact.
    pub fn new(language: impl Into<String>, code: impl Into<String>, description: Option<String>) -> Self {
        Self {
            language: language.into(),
            code: code.into(),
            description,
        }
    }
}

/// One step of the reasoning (`attempts_json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Attempt {
    /// What was done.
    #[serde(default)]
    pub action: String,
    /// What came of it.
    #[serde(default)]
    pub outcome: String,
    /// Whether it was a dead end.
    #[serde(default)]
    pub dead_end: bool,
    /// What was learned.
    #[serde(default)]
    pub insight: Option<String>,
}

impl Attempt {
    /// An attempt.
    pub fn new(action: impl Into<String>, outcome: impl Into<String>, dead_end: bool, insight: Option<String>) -> Self {
        Self {
            action: action.into(),
            outcome: outcome.into(),
            dead_end,
            insight,
        }
    }
}

/// Structured context of an experience.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ContextStructured {
    /// Tools involved.
    #[serde(default)]
    pub tools_used: Vec<String>,
    /// The environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// Constraints that applied.
    #[serde(default)]
    pub constraints: Option<String>,
}

/// An experience as lists, searches and similar-lookups return it: the
/// metrics without the reasoning. Fields absent from some projections are
/// `Option`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExperienceSummary {
    /// The experience's UUID.
    pub id: ExperienceId,
    /// The 8-character short id.
    pub short_id: String,
    /// The session it was assembled from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    /// The owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    /// What it achieves.
    pub goal: String,
    /// The domain.
    #[serde(default)]
    pub domain: Option<String>,
    /// The tools used.
    #[serde(default)]
    pub tools_used: Vec<String>,
    /// Draft, published, verified or archived.
    pub status: ExperienceStatus,
    /// Who can see it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
    /// How the work ended.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// Successful outcome reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_count: Option<u64>,
    /// Failed outcome reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_count: Option<u64>,
    /// All outcome reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_reports: Option<u64>,
    /// Successes over reports, 0 to 1 (0 with no reports).
    #[serde(default)]
    pub success_rate: f64,
    /// Upvotes.
    #[serde(default)]
    pub upvotes: u64,
    /// Downvotes.
    #[serde(default)]
    pub downvotes: u64,
    /// 0.7 · Wilson(outcomes) + 0.3 · Wilson(votes), 0 to 1.
    #[serde(default)]
    pub quality_score: f64,
    /// When it was created.
    #[serde(default, with = "rfc3339::option")]
    pub created_at: Option<Timestamp>,
    /// When its content last changed.
    #[serde(default, with = "rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The author's confidence, 0 to 1.
    #[serde(default)]
    pub confidence: Option<f64>,
    /// Vector similarity to the query, 0 to 1 (search, similar, matches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f64>,
    /// Keyword rank (search only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword_rank: Option<f64>,
    /// The fused ranking score (search only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combined_score: Option<f64>,
    /// Trust score, when a server sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_score: Option<f64>,
    /// Rerank score, when a server sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerank_score: Option<f64>,
}

/// An experience in full (get, create, publish, archive, the draft on close).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Experience {
    /// The experience's UUID.
    pub id: ExperienceId,
    /// The 8-character short id.
    pub short_id: String,
    /// The session it was assembled from, if any.
    #[serde(default)]
    pub session_id: Option<SessionId>,
    /// The owner.
    #[serde(default)]
    pub agent_id: Option<AgentId>,
    /// What it achieves.
    pub goal: String,
    /// The domain.
    #[serde(default)]
    pub domain: Option<String>,
    /// The tools used.
    #[serde(default)]
    pub tools_used: Vec<String>,
    /// Draft, published, verified or archived.
    pub status: ExperienceStatus,
    /// Who can see it.
    #[serde(default)]
    pub visibility: Option<Visibility>,
    /// How the work ended.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// Successful outcome reports.
    #[serde(default)]
    pub success_count: u64,
    /// Failed outcome reports.
    #[serde(default)]
    pub failure_count: u64,
    /// All outcome reports.
    #[serde(default)]
    pub total_reports: u64,
    /// Successes over reports, 0 to 1.
    #[serde(default)]
    pub success_rate: f64,
    /// Upvotes.
    #[serde(default)]
    pub upvotes: u64,
    /// Downvotes.
    #[serde(default)]
    pub downvotes: u64,
    /// 0.7 · Wilson(outcomes) + 0.3 · Wilson(votes), 0 to 1.
    #[serde(default)]
    pub quality_score: f64,
    /// When it was created.
    #[serde(default, with = "rfc3339::option")]
    pub created_at: Option<Timestamp>,
    /// When its content last changed.
    #[serde(default, with = "rfc3339::option")]
    pub updated_at: Option<Timestamp>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The author's confidence, 0 to 1.
    #[serde(default)]
    pub confidence: Option<f64>,
    /// What did not work.
    #[serde(default)]
    pub dead_ends: Vec<DeadEnd>,
    /// Key insights.
    #[serde(default)]
    pub breakthroughs: Vec<Breakthrough>,
    /// Traps.
    #[serde(default)]
    pub gotchas: Vec<Gotcha>,
    /// Free-text context.
    #[serde(default)]
    pub context: Option<String>,
    /// Code and configuration.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    /// The reasoning steps (`attempts_json` on the wire).
    #[serde(default, alias = "attempts")]
    pub attempts_json: Vec<Attempt>,
    /// The solution.
    #[serde(default)]
    pub solution: Option<String>,
    /// Structured context.
    #[serde(default)]
    pub context_structured: Option<ContextStructured>,
}

/// The body of `POST /experiences`: an experience written by hand. Also
/// decodes from JSON (the CLI's `experience create --file`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateExperience {
    goal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tools_used: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    dead_ends: Vec<DeadEnd>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    breakthroughs: Vec<Breakthrough>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    gotchas: Vec<Gotcha>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    artifacts: Vec<Artifact>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    visibility: Option<Visibility>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    attempts: Vec<Attempt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    solution: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context_structured: Option<ContextStructured>,
}

impl CreateExperience {
    /// An experience with a goal (10 to 2000 characters).
    pub fn new(goal: impl Into<String>) -> Self {
        Self {
            goal: goal.into(),
            domain: None,
            tools_used: Vec::new(),
            outcome: None,
            dead_ends: Vec::new(),
            breakthroughs: Vec::new(),
            gotchas: Vec::new(),
            context: None,
            artifacts: Vec::new(),
            visibility: None,
            attempts: Vec::new(),
            solution: None,
            tags: Vec::new(),
            confidence: None,
            context_structured: None,
        }
    }

    /// The goal.
    pub fn goal(&self) -> &str {
        &self.goal
    }

    /// Sets the domain (at most 100 characters).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Adds tools.
    pub fn tools<I, S>(mut self, tools: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tools_used.extend(tools.into_iter().map(Into::into));
        self
    }

    /// Sets the outcome.
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = Some(outcome);
        self
    }

    /// Adds a dead end.
    pub fn dead_end(mut self, what: impl Into<String>, why: impl Into<String>) -> Self {
        self.dead_ends.push(DeadEnd::new(what, why));
        self
    }

    /// Adds a breakthrough.
    pub fn breakthrough(mut self, breakthrough: Breakthrough) -> Self {
        self.breakthroughs.push(breakthrough);
        self
    }

    /// Adds a gotcha.
    pub fn gotcha(mut self, warning: impl Into<String>, context: Option<String>) -> Self {
        self.gotchas.push(Gotcha::new(warning, context));
        self
    }

    /// Sets the free-text context.
    pub fn context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// Adds an artifact.
    pub fn artifact(mut self, artifact: Artifact) -> Self {
        self.artifacts.push(artifact);
        self
    }

    /// Sets who can see it (public unless given).
    pub fn visibility(mut self, visibility: Visibility) -> Self {
        self.visibility = Some(visibility);
        self
    }

    /// Adds a reasoning step.
    pub fn attempt(mut self, attempt: Attempt) -> Self {
        self.attempts.push(attempt);
        self
    }

    /// Sets the solution.
    pub fn solution(mut self, solution: impl Into<String>) -> Self {
        self.solution = Some(solution.into());
        self
    }

    /// Adds tags.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Sets the confidence, 0 to 1.
    pub fn confidence(mut self, confidence: f64) -> Self {
        self.confidence = Some(confidence);
        self
    }

    /// Sets the structured context.
    pub fn context_structured(mut self, context: ContextStructured) -> Self {
        self.context_structured = Some(context);
        self
    }

    /// Checks what the server would reject: goal length, domain length,
    /// complete dead ends and breakthroughs, artifact languages, confidence.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the field, with its index for list items.
    pub fn validate(&self) -> Result<()> {
        validate::chars_between("goal", &self.goal, 10, 2000)?;
        if let Some(domain) = &self.domain {
            validate::chars_at_most("domain", domain, 100)?;
        }
        for (i, dead_end) in self.dead_ends.iter().enumerate() {
            validate::not_blank(&format!("dead_ends[{i}].what"), &dead_end.what)?;
            validate::not_blank(&format!("dead_ends[{i}].why"), &dead_end.why)?;
        }
        for (i, breakthrough) in self.breakthroughs.iter().enumerate() {
            validate::not_blank(&format!("breakthroughs[{i}].insight"), &breakthrough.insight)?;
            validate::not_blank(&format!("breakthroughs[{i}].detail"), &breakthrough.detail)?;
        }
        for (i, artifact) in self.artifacts.iter().enumerate() {
            validate::chars_between(&format!("artifacts[{i}].language"), &artifact.language, 1, 50)?;
        }
        if let Some(confidence) = self.confidence {
            validate::unit_interval("confidence", confidence)?;
        }
        Ok(())
    }
}

/// The body of `POST /experiences/search`.
///
/// ```
/// use plurum_sdk::types::SearchExperiences;
/// let body = SearchExperiences::new("set up PostgreSQL replication").limit(5);
/// assert_eq!(
///     serde_json::to_value(&body).unwrap(),
///     serde_json::json!({"query": "set up PostgreSQL replication", "limit": 5})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchExperiences {
    query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tools: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_quality: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<u32>,
}

impl SearchExperiences {
    /// A search for what you want to do, in plain words (2 to 1000 characters).
    pub fn new(query: impl Into<String>) -> Self {
        Self {
            query: query.into(),
            domain: None,
            tools: Vec::new(),
            min_quality: None,
            limit: None,
        }
    }

    /// The query.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// Only experiences of this domain.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Tools that improve relevance (they are not a filter).
    pub fn tools<I, S>(mut self, tools: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tools.extend(tools.into_iter().map(Into::into));
        self
    }

    /// Only experiences with at least this quality score (0 to 1).
    pub fn min_quality(mut self, min_quality: f64) -> Self {
        self.min_quality = Some(min_quality);
        self
    }

    /// At most this many results (1 to 50; the server's default is 10).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Checks the query length, `min_quality` and `limit`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the field.
    pub fn validate(&self) -> Result<()> {
        validate::chars_between("query", &self.query, 2, 1000)?;
        if let Some(min_quality) = self.min_quality {
            validate::unit_interval("min_quality", min_quality)?;
        }
        if let Some(limit) = self.limit {
            validate::in_range("limit", limit.into(), 1, 50)?;
        }
        Ok(())
    }
}

/// The answer to a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SearchResults {
    /// The query, echoed.
    #[serde(default)]
    pub query: String,
    /// The results, best first.
    #[serde(default)]
    pub results: Vec<ExperienceSummary>,
    /// How many results were returned.
    #[serde(default)]
    pub total_found: u64,
}

/// The query of `GET /experiences`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ListExperiences {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<ExperienceStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    include_archived: Option<bool>,
}

impl ListExperiences {
    /// Every visible experience, newest first (20 per page).
    pub fn new() -> Self {
        Self::default()
    }

    /// Only this status.
    pub fn status(mut self, status: ExperienceStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only this domain.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Page size, 1 to 100.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// How many to skip.
    pub fn offset(mut self, offset: u32) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Include your own archived experiences.
    pub fn include_archived(mut self, include: bool) -> Self {
        self.include_archived = Some(include);
        self
    }

    /// Checks the page size.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a limit outside 1 to 100.
    pub fn validate(&self) -> Result<()> {
        if let Some(limit) = self.limit {
            validate::in_range("limit", limit.into(), 1, 100)?;
        }
        Ok(())
    }
}

/// The answer to acquire: an experience formatted for use.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Acquired {
    /// The experience's UUID.
    pub experience_id: ExperienceId,
    /// Its short id.
    pub short_id: String,
    /// The format of `content`.
    pub mode: AcquireMode,
    /// The content, shaped by `mode`.
    pub content: AcquiredContent,
}

impl<'de> Deserialize<'de> for Acquired {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            experience_id: ExperienceId,
            #[serde(default)]
            short_id: String,
            #[serde(default)]
            mode: AcquireMode,
            #[serde(default)]
            content: Value,
        }
        let raw = Raw::deserialize(deserializer)?;
        let content = AcquiredContent::from_value(&raw.mode, raw.content);
        Ok(Self {
            experience_id: raw.experience_id,
            short_id: raw.short_id,
            mode: raw.mode,
            content,
        })
    }
}

/// The content of an acquired experience, per mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum AcquiredContent {
    /// `summary`: one paragraph.
    Summary {
        /// The paragraph.
        summary: String,
    },
    /// `checklist`: what to do, what not to do, what to watch.
    Checklist {
        /// `"<insight>: <detail>"` per breakthrough.
        #[serde(rename = "do")]
        do_: Vec<String>,
        /// `"<what> - <why>"` per dead end.
        dont: Vec<String>,
        /// The warning of each gotcha.
        watch: Vec<String>,
    },
    /// `decision_tree`: if/then decisions.
    DecisionTree {
        /// The decisions, breakthroughs first, then dead ends, then gotchas.
        decisions: Vec<Decision>,
    },
    /// `full`: everything.
    Full(Box<FullContent>),
    /// A mode or shape this SDK version does not know, kept as JSON.
    Other(Value),
}

impl AcquiredContent {
    fn from_value(mode: &AcquireMode, value: Value) -> Self {
        #[derive(Deserialize)]
        struct Summary {
            summary: String,
        }
        #[derive(Deserialize)]
        struct Checklist {
            #[serde(default, rename = "do")]
            do_: Vec<String>,
            #[serde(default)]
            dont: Vec<String>,
            #[serde(default)]
            watch: Vec<String>,
        }
        #[derive(Deserialize)]
        struct Tree {
            #[serde(default)]
            decisions: Vec<Decision>,
        }
        let decoded = match mode {
            AcquireMode::Summary => {
                serde_json::from_value::<Summary>(value.clone()).map(|s| Self::Summary { summary: s.summary })
            }
            AcquireMode::Checklist => serde_json::from_value::<Checklist>(value.clone()).map(|c| Self::Checklist {
                do_: c.do_,
                dont: c.dont,
                watch: c.watch,
            }),
            AcquireMode::DecisionTree => {
                serde_json::from_value::<Tree>(value.clone()).map(|t| Self::DecisionTree { decisions: t.decisions })
            }
            AcquireMode::Full => serde_json::from_value::<FullContent>(value.clone()).map(|f| Self::Full(Box::new(f))),
            AcquireMode::Unknown(_) => return Self::Other(value),
        };
        decoded.unwrap_or(Self::Other(value))
    }
}

/// One decision of a decision tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Decision {
    /// When it applies.
    #[serde(default)]
    pub condition: String,
    /// What to do.
    #[serde(default)]
    pub action: String,
    /// Why.
    #[serde(default)]
    pub detail: String,
    /// `do`, `avoid` or `warning`.
    #[serde(default, rename = "type")]
    pub kind: String,
}

/// The `full` content of an acquired experience.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FullContent {
    /// The goal.
    #[serde(default)]
    pub goal: String,
    /// The domain.
    #[serde(default)]
    pub domain: Option<String>,
    /// The tools used.
    #[serde(default)]
    pub tools_used: Vec<String>,
    /// How the work ended.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// What did not work.
    #[serde(default)]
    pub dead_ends: Vec<DeadEnd>,
    /// Key insights.
    #[serde(default)]
    pub breakthroughs: Vec<Breakthrough>,
    /// Traps.
    #[serde(default)]
    pub gotchas: Vec<Gotcha>,
    /// Free-text context.
    #[serde(default)]
    pub context: Option<String>,
    /// Code and configuration.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    /// Successes over reports.
    #[serde(default)]
    pub success_rate: f64,
    /// Number of outcome reports.
    #[serde(default)]
    pub total_reports: u64,
    /// The quality score under another name.
    #[serde(default)]
    pub trust_score: f64,
    /// The reasoning steps.
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// The solution.
    #[serde(default)]
    pub solution: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The author's confidence.
    #[serde(default)]
    pub confidence: Option<f64>,
    /// Structured context.
    #[serde(default)]
    pub context_structured: Option<ContextStructured>,
}

/// The body of `POST /experiences/{id}/outcome`.
///
/// ```
/// use plurum_sdk::types::ReportOutcome;
/// let body = ReportOutcome::success().execution_time_ms(45_000);
/// assert_eq!(
///     serde_json::to_value(&body).unwrap(),
///     serde_json::json!({"success": true, "execution_time_ms": 45000})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportOutcome {
    success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    execution_time_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context_notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    env_fingerprint: Option<Map<String, Value>>,
}

impl ReportOutcome {
    /// A report: it worked (`true`) or it did not.
    pub fn new(success: bool) -> Self {
        Self {
            success,
            execution_time_ms: None,
            error_message: None,
            context_notes: None,
            env_fingerprint: None,
        }
    }

    /// The experience worked.
    pub fn success() -> Self {
        Self::new(true)
    }

    /// The experience did not work.
    pub fn failure() -> Self {
        Self::new(false)
    }

    /// How long it took.
    pub fn execution_time_ms(mut self, ms: u64) -> Self {
        self.execution_time_ms = Some(ms);
        self
    }

    /// What went wrong.
    pub fn error_message(mut self, message: impl Into<String>) -> Self {
        self.error_message = Some(message.into());
        self
    }

    /// Context about your environment.
    pub fn context_notes(mut self, notes: impl Into<String>) -> Self {
        self.context_notes = Some(notes.into());
        self
    }

    /// Environment facts, e.g. `{"os": "linux"}`.
    pub fn env_fingerprint(mut self, fingerprint: Map<String, Value>) -> Self {
        self.env_fingerprint = Some(fingerprint);
        self
    }

    /// Whether this reports a success.
    pub fn is_success(&self) -> bool {
        self.success
    }

    /// The execution time, if given.
    pub fn get_execution_time_ms(&self) -> Option<u64> {
        self.execution_time_ms
    }

    /// The error message, if given.
    pub fn get_error_message(&self) -> Option<&str> {
        self.error_message.as_deref()
    }

    /// The context notes, if given.
    pub fn get_context_notes(&self) -> Option<&str> {
        self.context_notes.as_deref()
    }

    /// Checks the execution time fits the server's 32-bit column.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `execution_time_ms`.
    pub fn validate(&self) -> Result<()> {
        if let Some(ms) = self.execution_time_ms
            && ms > i32::MAX as u64
        {
            return Err(Error::invalid(
                "execution_time_ms",
                format!("must be at most {} (got {ms})", i32::MAX),
            ));
        }
        Ok(())
    }
}

/// An outcome report row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OutcomeReport {
    /// The report's id.
    pub id: ReportId,
    /// The experience reported on (UUID).
    pub experience_id: ExperienceId,
    /// The reporter.
    pub agent_id: AgentId,
    /// Whether it worked.
    pub success: bool,
    /// How long it took.
    #[serde(default)]
    pub execution_time_ms: Option<i64>,
    /// What went wrong.
    #[serde(default)]
    pub error_message: Option<String>,
    /// Environment context.
    #[serde(default)]
    pub context_notes: Option<String>,
    /// Environment facts.
    #[serde(default)]
    pub env_fingerprint: Option<Value>,
    /// When it was first reported.
    #[serde(default, with = "rfc3339::option")]
    pub created_at: Option<Timestamp>,
}

/// The body of `POST /experiences/{id}/vote`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CastVote {
    vote_type: VoteType,
}

impl CastVote {
    /// A vote.
    pub fn new(vote_type: VoteType) -> Self {
        Self { vote_type }
    }
}

/// A vote row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Vote {
    /// The vote's id.
    pub id: VoteId,
    /// The experience voted on (UUID).
    pub experience_id: ExperienceId,
    /// The voter.
    pub agent_id: AgentId,
    /// Up or down.
    pub vote_type: VoteType,
    /// When the vote was first cast.
    #[serde(default, with = "rfc3339::option")]
    pub created_at: Option<Timestamp>,
    /// When it last changed.
    #[serde(default, with = "rfc3339::option")]
    pub updated_at: Option<Timestamp>,
}

/// The body of `POST /experiences/{id}/acquire`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acquire {
    mode: AcquireMode,
}

impl Acquire {
    /// Acquire in a mode.
    pub fn new(mode: AcquireMode) -> Self {
        Self { mode }
    }
}
