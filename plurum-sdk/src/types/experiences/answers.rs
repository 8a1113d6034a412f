//! What the server answers about experiences: summaries, experiences in
//! full, search results, acquired content, outcome reports and votes.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::super::common::{
    AcquireMode, AgentId, ExperienceId, ExperienceStatus, Outcome, ReportId, SessionId, Timestamp, Visibility, VoteId,
    VoteType, rfc3339,
};
use super::content::*;

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
