//! What is sent about experiences: a new experience, a search, a list
//! query, an outcome report, a vote, an acquire.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::super::common::{AcquireMode, ExperienceStatus, Outcome, Visibility, VoteType};
use super::content::*;
use crate::error::{Error, Result};
use crate::validate;

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
