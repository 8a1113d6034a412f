//! Repeated identical warnings, rate-limited: the first is logged, the
//! repeats are counted and reported in one line (a server that sends error
//! frames in a loop must not fill the disk with logs).

use std::time::{Duration, Instant};

/// How long identical warnings are folded into one count.
const WINDOW: Duration = Duration::from_secs(60);

/// Logs a warning unless it repeats the previous one within a minute.
#[derive(Debug, Default)]
pub(crate) struct Repeats {
    last: Option<String>,
    since: Option<Instant>,
    suppressed: u64,
}

impl Repeats {
    /// Whether `message` should be logged now; a repeat within the window
    /// is only counted. When a different message (or the end of the window)
    /// comes, the count of the previous one is logged first.
    pub(crate) fn admit(&mut self, message: &str) -> bool {
        let now = Instant::now();
        let fresh = self.since.is_none_or(|since| now.duration_since(since) >= WINDOW);
        if self.last.as_deref() == Some(message) && !fresh {
            self.suppressed += 1;
            return false;
        }
        self.flush();
        self.last = Some(message.to_owned());
        self.since = Some(now);
        true
    }

    /// Logs how often the last warning repeated, if it did.
    pub(crate) fn flush(&mut self) {
        if self.suppressed > 0 {
            tracing::warn!(
                repeated = self.suppressed,
                "the previous pulse warning repeated {} more time(s)",
                self.suppressed
            );
            self.suppressed = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_counted_not_logged() {
        let mut repeats = Repeats::default();
        assert!(repeats.admit("flood"));
        for _ in 0..10_000 {
            assert!(!repeats.admit("flood"));
        }
        assert_eq!(repeats.suppressed, 10_000);
        assert!(repeats.admit("something else"), "a different message is logged");
        assert_eq!(repeats.suppressed, 0, "and the count was reported first");
        repeats.since = Some(Instant::now() - WINDOW);
        assert!(repeats.admit("something else"), "after the window, once more");
    }
}
