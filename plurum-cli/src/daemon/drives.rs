//! Drive pressure: how it builds up, how it is weighed, how feedback
//! decays it. Pure arithmetic, no clock and no I/O.
//!
//! * `inbox`: each new contribution to your sessions adds
//!   `drives.inbox.contribution` (2.0), each session opened in your domains
//!   or tools adds `drives.inbox.session_match` (0.5).
//! * `outcomes`: each minute adds `rate` × Σ(1 + age in hours) over the
//!   queued reports: the older a report, the harder it pushes.
//! * `heartbeat`: each minute past the heartbeat interval since
//!   `lastPlurumCheck` adds `rate`.
//! * `session`: each minute the open session sits without an entry beyond
//!   `idle_minutes` adds `rate`.
//!
//! Every drive is capped at `drives.max_pressure`. Weighted pressure is
//! pressure × weight; the agent is woken when their sum reaches
//! `drives.trigger_threshold`. Feedback decays a drive as seed 004 (docs/seeds.md) says:
//! success × 0.5, partial × 0.75, failure unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::DrivesConfig;

/// The drives, in display order.
pub(crate) const DRIVES: [&str; 4] = ["inbox", "outcomes", "heartbeat", "session"];

/// One drive's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Drive {
    pub(crate) pressure: f64,
    /// When feedback last addressed it (unix seconds).
    pub(crate) last_addressed: Option<i64>,
}

/// What the clock-driven drives need to know.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Inputs {
    /// Age in hours of each queued outcome report.
    pub(crate) report_ages_hours: Vec<f64>,
    /// Minutes past the heartbeat interval since the last check (0 if not overdue).
    pub(crate) heartbeat_overdue_minutes: f64,
    /// Minutes the open session has gone without an entry (`None`: no open session).
    pub(crate) session_idle_minutes: Option<f64>,
}

/// A drive's weight.
pub(crate) fn weight(config: &DrivesConfig, drive: &str) -> f64 {
    match drive {
        "inbox" => config.inbox.weight,
        "outcomes" => config.outcomes.weight,
        "heartbeat" => config.heartbeat.weight,
        "session" => config.session.weight,
        _ => 0.0,
    }
}

/// What `minutes` of time add to each clock-driven drive.
pub(crate) fn increments(config: &DrivesConfig, inputs: &Inputs, minutes: f64) -> BTreeMap<&'static str, f64> {
    let minutes = minutes.max(0.0);
    let mut out = BTreeMap::new();
    let age_load: f64 = inputs.report_ages_hours.iter().map(|age| 1.0 + age.max(0.0)).sum();
    out.insert("outcomes", config.outcomes.rate * minutes * age_load);
    let overdue = if inputs.heartbeat_overdue_minutes > 0.0 {
        config.heartbeat.rate * minutes.min(inputs.heartbeat_overdue_minutes)
    } else {
        0.0
    };
    out.insert("heartbeat", overdue);
    let idle = match inputs.session_idle_minutes {
        Some(idle) if idle > config.session.idle_minutes => {
            config.session.rate * minutes.min(idle - config.session.idle_minutes)
        }
        _ => 0.0,
    };
    out.insert("session", idle);
    out
}

/// Adds to a drive, capped.
pub(crate) fn push(drive: &mut Drive, amount: f64, max: f64) {
    drive.pressure = (drive.pressure + amount.max(0.0)).clamp(0.0, max);
}

/// The factor feedback multiplies a drive's pressure by: success 0.5,
/// partial 0.75, failure 1.0 (unchanged); `None` for anything else.
pub(crate) fn decay_factor(outcome: &str) -> Option<f64> {
    match outcome {
        "success" => Some(0.5),
        "partial" => Some(0.75),
        "failure" => Some(1.0),
        _ => None,
    }
}

/// Weighted pressures, highest first.
pub(crate) fn ranked(config: &DrivesConfig, drives: &BTreeMap<String, Drive>) -> Vec<(String, f64)> {
    let mut ranked: Vec<(String, f64)> = DRIVES
        .iter()
        .map(|name| {
            let pressure = drives.get(*name).map_or(0.0, |d| d.pressure);
            ((*name).to_owned(), pressure * weight(config, name))
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked
}

/// The sum of weighted pressures.
pub(crate) fn total(config: &DrivesConfig, drives: &BTreeMap<String, Drive>) -> f64 {
    ranked(config, drives).iter().map(|(_, w)| w).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn time_builds_pressure_per_configured_rates() {
        let config = DrivesConfig::default();
        let inputs = Inputs {
            report_ages_hours: vec![0.0, 2.0],
            heartbeat_overdue_minutes: 5.0,
            session_idle_minutes: Some(40.0),
        };
        let add = increments(&config, &inputs, 10.0);
        // outcomes: 0.01/min × 10 min × ((1 + 0) + (1 + 2))
        assert!(close(add["outcomes"], 0.4));
        // heartbeat: only the 5 overdue minutes count, at 0.1/min
        assert!(close(add["heartbeat"], 0.5));
        // session: 40 idle minutes, 30 allowed: 10 minutes at 0.05/min
        assert!(close(add["session"], 0.5));
        let calm = increments(&config, &Inputs::default(), 10.0);
        assert!(calm.values().all(|v| *v == 0.0));
    }

    #[test]
    fn pressure_is_capped() {
        let mut drive = Drive::default();
        push(&mut drive, 7.0, 10.0);
        push(&mut drive, 7.0, 10.0);
        assert!(close(drive.pressure, 10.0));
        push(&mut drive, -3.0, 10.0);
        assert!(close(drive.pressure, 10.0), "pushes never lower pressure");
    }

    #[test]
    fn feedback_decays_exactly_as_the_seed_says() {
        assert_eq!(decay_factor("success"), Some(0.5));
        assert_eq!(decay_factor("partial"), Some(0.75));
        assert_eq!(decay_factor("failure"), Some(1.0));
        assert_eq!(decay_factor("blocked"), None);
        let before = 6.23;
        assert!(close(before * decay_factor("success").unwrap(), 3.115));
    }

    #[test]
    fn weights_rank_and_sum() {
        let config = DrivesConfig::default();
        let mut drives = BTreeMap::new();
        drives.insert(
            "inbox".to_owned(),
            Drive {
                pressure: 2.0,
                last_addressed: None,
            },
        );
        drives.insert(
            "outcomes".to_owned(),
            Drive {
                pressure: 5.0,
                last_addressed: None,
            },
        );
        drives.insert(
            "heartbeat".to_owned(),
            Drive {
                pressure: 1.0,
                last_addressed: None,
            },
        );
        let ranked = ranked(&config, &drives);
        assert_eq!(ranked[0].0, "outcomes");
        assert!(close(ranked[0].1, 4.0));
        assert!(close(total(&config, &drives), 2.0 + 4.0 + 0.5));
    }
}
