//! The wake-up limits: a cooldown between wake-ups and a sliding hourly
//! cap, counted over the trigger history kept in `daemon.json` (so a
//! restart resets neither).

use time::OffsetDateTime;

use super::core::Core;

/// Refused by the wake-up limits; seconds until allowed.
#[derive(Debug)]
pub(crate) struct Limited {
    pub(crate) reason: String,
    pub(crate) retry_after: u64,
}

impl Core {
    /// Whether a wake-up is allowed now (cooldown, then the hourly window).
    pub(crate) fn can_trigger(&self, now: OffsetDateTime) -> Result<(), Limited> {
        let now = now.unix_timestamp();
        let cooldown = self.config.wake.min_trigger_interval.max(0.0) as i64;
        if let Some(last) = self.triggers.iter().max()
            && now - last < cooldown
        {
            return Err(Limited {
                reason: format!(
                    "the last wake-up was {} s ago; wake.min_trigger_interval is {cooldown} s",
                    now - last
                ),
                retry_after: (cooldown - (now - last)).max(1) as u64,
            });
        }
        let mut recent: Vec<i64> = self.triggers.iter().copied().filter(|t| now - t < 3600).collect();
        recent.sort_unstable();
        let cap = self.config.wake.max_turns_per_hour.max(0.0) as usize;
        if recent.len() >= cap {
            let oldest = recent.first().copied().unwrap_or(now);
            return Err(Limited {
                reason: format!(
                    "{} wake-ups in the last hour; wake.max_turns_per_hour is {cap}",
                    recent.len()
                ),
                retry_after: (3600 - (now - oldest)).max(1) as u64,
            });
        }
        Ok(())
    }

    /// Records a wake-up (before it is attempted: attempts count toward the limits).
    pub(crate) fn record_trigger(&mut self, now: OffsetDateTime) {
        let now = now.unix_timestamp();
        self.triggers.retain(|t| now - t < 86_400);
        self.triggers.push(now);
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use crate::daemon::core::tests::{at, core};

    #[test]
    fn the_limits_are_a_cooldown_and_a_sliding_hour_and_they_persist() {
        let dir = tempfile::tempdir().unwrap();
        let mut core = core(
            dir.path(),
            "[wake]\nmin_trigger_interval = 600\nmax_turns_per_hour = 3\n",
        );
        let t0 = at("2026-11-22T10:00:00Z");
        assert!(core.can_trigger(t0).is_ok());
        core.record_trigger(t0);
        let early = core.can_trigger(t0 + Duration::seconds(100)).unwrap_err();
        assert_eq!(early.retry_after, 500);
        core.record_trigger(t0 + Duration::seconds(600));
        core.record_trigger(t0 + Duration::seconds(1200));
        // Cooldown over, but three in the last hour.
        let capped = core.can_trigger(t0 + Duration::seconds(1800)).unwrap_err();
        assert!(
            capped.reason.contains("3 wake-ups in the last hour"),
            "{}",
            capped.reason
        );
        assert_eq!(capped.retry_after, 1800);
        // The window slides: an hour after the first, one slot frees up.
        assert!(core.can_trigger(t0 + Duration::seconds(3600)).is_ok());

        core.drives.get_mut("inbox").unwrap().pressure = 4.5;
        core.persist().unwrap();
        let restarted = self::core(
            dir.path(),
            "[wake]\nmin_trigger_interval = 600\nmax_turns_per_hour = 3\n",
        );
        assert!(restarted.can_trigger(t0 + Duration::seconds(1800)).is_err());
        assert!((restarted.drives["inbox"].pressure - 4.5).abs() < 1e-9);
    }
}
