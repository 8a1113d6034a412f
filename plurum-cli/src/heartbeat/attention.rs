//! What the human should hear about, and how saved experiences' scores are
//! watched for it.

use serde::Serialize;

use crate::output::clip;
use crate::state::{Reading, SavedExperience, now};

/// Score readings kept per saved experience.
const KEPT_READINGS: usize = 20;

/// A failure rate is a trend from this many reports on (one report is no
/// trend).
pub(crate) const MIN_REPORTS_FOR_A_RATE: u64 = 5;

/// Something the human should hear about.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Attention {
    QualityDropped {
        experience: String,
        goal: Option<String>,
        from: f64,
        to: f64,
    },
    FailureRateRose {
        experience: String,
        goal: Option<String>,
        from: f64,
        to: f64,
        total_reports: u64,
    },
    WarningContributed {
        /// The inbox event it came in (the alert's id, so that `plurum
        /// inbox --ack` acknowledges both).
        #[serde(skip)]
        event_id: Option<String>,
        session_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        session_short_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        session_topic: Option<String>,
        /// The contributing agent's id (the API names it by id only).
        from: Option<String>,
        /// Its first 8 characters, as people see it.
        #[serde(skip_serializing_if = "Option::is_none")]
        from_short: Option<String>,
        text: String,
    },
    ReportsRejected {
        count: usize,
    },
}

impl Attention {
    /// What it is about, to recognise it again in the next heartbeats.
    pub(crate) fn key(&self) -> String {
        match self {
            Self::QualityDropped { experience, .. } => format!("quality:{experience}"),
            Self::FailureRateRose { experience, .. } => format!("failure_rate:{experience}"),
            Self::WarningContributed {
                event_id,
                session_id,
                text,
                ..
            } => match event_id {
                Some(id) => format!("warning:{id}"),
                None => format!("warning:{session_id}:{text}"),
            },
            Self::ReportsRejected { .. } => "reports_rejected".to_owned(),
        }
    }

    /// The id its alert takes: a warning's inbox event id.
    pub(crate) fn event_id(&self) -> Option<&str> {
        match self {
            Self::WarningContributed { event_id, .. } => event_id.as_deref(),
            _ => None,
        }
    }

    /// The attention item as a sentence for the human.
    pub(crate) fn sentence(&self) -> String {
        match self {
            Self::QualityDropped {
                experience,
                goal,
                from,
                to,
            } => format!(
                "the quality of experience {experience}{} dropped from {from:.2} to {to:.2}",
                goal.as_deref()
                    .map(|g| format!(" (\"{}\")", clip(g, 60)))
                    .unwrap_or_default()
            ),
            Self::FailureRateRose {
                experience,
                goal,
                from,
                to,
                total_reports,
            } => format!(
                "the failure rate of experience {experience}{} rose from {:.0}% to {:.0}% ({total_reports} reports)",
                goal.as_deref()
                    .map(|g| format!(" (\"{}\")", clip(g, 60)))
                    .unwrap_or_default(),
                from * 100.0,
                to * 100.0
            ),
            Self::WarningContributed {
                session_id,
                session_short_id,
                session_topic,
                text,
                from_short,
                ..
            } => format!(
                "{} contributed a warning to your session {}{}: {}",
                from_short
                    .as_deref()
                    .map_or_else(|| "another agent".to_owned(), |s| format!("agent {s}")),
                session_short_id.as_deref().unwrap_or(crate::render::short(session_id)),
                session_topic
                    .as_deref()
                    .map(|t| format!(" (\"{}\")", clip(t, 60)))
                    .unwrap_or_default(),
                clip(text, 120)
            ),
            Self::ReportsRejected { count } => {
                format!("the server rejected {count} queued outcome report(s) for good (see 'plurum outcome failed')")
            }
        }
    }
}

fn reading(quality: f64, success_rate: f64, total_reports: u64) -> Reading {
    Reading {
        at: now(),
        quality_score: quality,
        success_rate,
        total_reports,
    }
}

/// Records a new reading of a saved experience; says what got worse.
pub(crate) fn record(
    saved: &mut SavedExperience,
    goal: &str,
    quality: f64,
    success_rate: f64,
    total_reports: u64,
) -> Vec<Attention> {
    let mut attention = Vec::new();
    if let (Some(previous), Some(previous_total)) = (saved.quality_score, saved.total_reports) {
        // Reports since the last reading that this agent delivered itself
        // explain the change: the agent knows what it reported.
        let new_reports = total_reports.saturating_sub(previous_total);
        let own = saved.own_reports_unread.min(new_reports);
        saved.own_reports_unread -= own;
        let ours_alone = new_reports > 0 && own == new_reports;
        if quality + 1e-9 < previous && !ours_alone {
            attention.push(Attention::QualityDropped {
                experience: saved.short_id.clone(),
                goal: Some(goal.to_owned()),
                from: previous,
                to: quality,
            });
        }
        // No report yet is no failure seen yet: the first failure is a rise.
        let before = if previous_total > 0 {
            1.0 - saved.success_rate.unwrap_or(0.0)
        } else {
            0.0
        };
        let after = (total_reports >= MIN_REPORTS_FOR_A_RATE).then_some(1.0 - success_rate);
        if let Some(after) = after
            && after > before + 1e-9
            && !ours_alone
        {
            attention.push(Attention::FailureRateRose {
                experience: saved.short_id.clone(),
                goal: Some(goal.to_owned()),
                from: before,
                to: after,
                total_reports,
            });
        }
        saved
            .history
            .push(reading(previous, saved.success_rate.unwrap_or(0.0), previous_total));
        let excess = saved.history.len().saturating_sub(KEPT_READINGS);
        saved.history.drain(..excess);
    }
    if saved.quality_score.is_none() || saved.total_reports.is_none() {
        // A first reading already counts every report made so far.
        saved.own_reports_unread = 0;
    }
    saved.goal = Some(goal.to_owned());
    saved.quality_score = Some(quality);
    saved.success_rate = Some(success_rate);
    saved.total_reports = Some(total_reports);
    attention
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falling_scores_need_the_human() {
        let mut saved = SavedExperience {
            other: Default::default(),
            short_id: "cdf0e8a3".into(),
            id: None,
            reason: crate::state::SavedReason::Saved,
            goal: None,
            quality_score: Some(0.69),
            success_rate: Some(0.92),
            total_reports: Some(13),
            saved_at: None,
            history: Vec::new(),
            own_reports_unread: 0,
        };
        let same = record(&mut saved, "g", 0.69, 0.92, 13);
        assert!(same.is_empty());
        let worse = record(&mut saved, "g", 0.60, 0.80, 15);
        assert_eq!(worse.len(), 2, "{worse:?}");
        assert!(matches!(worse[0], Attention::QualityDropped { from, to, .. } if from == 0.69 && to == 0.60));
        assert!(matches!(worse[1], Attention::FailureRateRose { total_reports: 15, .. }));
        assert_eq!(saved.history.len(), 2);
        // A first reading has nothing to compare with.
        let mut fresh = SavedExperience {
            quality_score: None,
            total_reports: None,
            ..saved.clone()
        };
        assert!(record(&mut fresh, "g", 0.1, 0.1, 1).is_empty());
        // From no report to a first failure: one report is no trend.
        let mut untried = SavedExperience {
            quality_score: Some(0.0),
            success_rate: Some(0.0),
            total_reports: Some(0),
            ..saved.clone()
        };
        assert!(record(&mut untried, "g", 0.0, 0.0, 1).is_empty());
        // The agent's own reports explain their change: no alarm; a report
        // of another agent beyond them does.
        let mut mine = SavedExperience {
            quality_score: Some(0.8),
            success_rate: Some(1.0),
            total_reports: Some(10),
            own_reports_unread: 3,
            ..saved.clone()
        };
        assert!(
            record(&mut mine, "g", 0.5, 0.77, 13).is_empty(),
            "three reports, all ours"
        );
        assert_eq!(mine.own_reports_unread, 0);
        let others = record(&mut mine, "g", 0.4, 0.71, 14);
        assert_eq!(others.len(), 2, "{others:?}");
    }
}
