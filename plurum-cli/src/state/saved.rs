//! `savedExperiences`: the experiences the agent relies on (and the
//! heartbeat's suggestions), with their score history.

use serde::{Deserialize, Serialize};
use time::serde::rfc3339;

use super::{Ts, now};

/// One score reading of a saved experience.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Reading {
    #[serde(with = "rfc3339")]
    pub(crate) at: Ts,
    pub(crate) quality_score: f64,
    pub(crate) success_rate: f64,
    pub(crate) total_reports: u64,
}

/// Why an experience is in `savedExperiences`. Only those the agent relied
/// on (acquired, reported on, saved explicitly) make the heartbeat tell the
/// human when their scores fall; search hits are kept as suggestions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SavedReason {
    /// A search hit of the heartbeat.
    #[default]
    Suggested,
    /// Acquired with `plurum experience acquire`.
    Acquired,
    /// Reported on with `plurum outcome report`.
    Reported,
    /// Saved with `plurum experience save` (or listed by hand, as the seed
    /// documents write it: a bare short id).
    Saved,
}

impl SavedReason {
    /// Whether the agent relies on it.
    pub(crate) fn relied_on(self) -> bool {
        self != Self::Suggested
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Suggested => "suggested",
            Self::Acquired => "acquired",
            Self::Reported => "reported",
            Self::Saved => "saved",
        }
    }
}

/// A saved experience and how its scores moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SavedExperience {
    pub(crate) short_id: String,
    /// Its UUID, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    /// Why it is here.
    #[serde(default)]
    pub(crate) reason: SavedReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) goal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) quality_score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) success_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) total_reports: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339::option")]
    pub(crate) saved_at: Option<Ts>,
    /// Earlier readings, oldest first (bounded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) history: Vec<Reading>,
    /// Reports this agent delivered that no reading has accounted for yet:
    /// a change they alone explain is the agent's own doing, never news
    /// for its human.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) own_reports_unread: u64,
    /// Fields a newer plurum wrote, kept as they are when this one rewrites the entry.
    #[serde(flatten)]
    pub(crate) other: serde_json::Map<String, serde_json::Value>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl SavedExperience {
    /// A new entry.
    pub(crate) fn new(short_id: impl Into<String>, reason: SavedReason) -> Self {
        Self {
            other: Default::default(),
            short_id: short_id.into(),
            id: None,
            reason,
            goal: None,
            quality_score: None,
            success_rate: None,
            total_reports: None,
            saved_at: Some(now()),
            history: Vec::new(),
            own_reports_unread: 0,
        }
    }

    /// Whether `given` (a short id or a UUID) names it.
    pub(crate) fn named(&self, given: &str) -> bool {
        let given = given.trim();
        self.short_id.eq_ignore_ascii_case(given) || self.id.as_deref().is_some_and(|id| id.eq_ignore_ascii_case(given))
    }

    /// Relies on it for `reason` (an explicit save stays; nothing goes back
    /// to a suggestion).
    pub(crate) fn rely(&mut self, reason: SavedReason) {
        if self.reason != SavedReason::Saved && reason != SavedReason::Suggested {
            self.reason = reason;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::parse;

    #[test]
    fn why_an_experience_is_saved_survives_and_only_grows() {
        // The seed's bare short ids were saved by hand; our own entries
        // without a reason were search hits.
        let (state, bad) =
            parse(r#"{"savedExperiences": ["Ab3xKp9z", {"short_id": "cdf0e8a3", "quality_score": 0.5}]}"#).unwrap();
        assert!(bad.is_empty());
        assert_eq!(state.saved_experiences[0].reason, SavedReason::Saved);
        assert_eq!(state.saved_experiences[1].reason, SavedReason::Suggested);
        let mut state = state;
        state.rely_on(
            "cdf0e8a3",
            None,
            Some("e6fbd266-218d-472f-8598-672ba81575b2"),
            SavedReason::Acquired,
        );
        assert_eq!(state.saved_experiences[1].reason, SavedReason::Acquired);
        state.rely_on(
            "e6fbd266-218d-472f-8598-672ba81575b2",
            None,
            None,
            SavedReason::Reported,
        );
        assert_eq!(state.saved_experiences.len(), 2, "named by its UUID, the same entry");
        assert_eq!(state.saved_experiences[1].reason, SavedReason::Reported);
        state.rely_on("Ab3xKp9z", None, None, SavedReason::Acquired);
        assert_eq!(
            state.saved_experiences[0].reason,
            SavedReason::Saved,
            "an explicit save stays"
        );
        let text = serde_json::to_string(&state).unwrap();
        let (again, _) = parse(&text).unwrap();
        assert_eq!(again.saved_experiences, state.saved_experiences);
    }
}
