//! Repeated identical warnings, rate-limited: a few are logged, the rest
//! are counted and reported in one line (a server that sends error frames
//! in a loop must not fill the disk with logs).

use std::time::{Duration, Instant};

/// How many identical warnings are logged per window.
const BURST: u32 = 5;
/// The window.
const WINDOW: Duration = Duration::from_secs(60);

/// Logs a warning unless it repeats the previous one too often.
#[derive(Debug, Default)]
pub(crate) struct Repeats {
    last: Option<String>,
    since: Option<Instant>,
    shown: u32,
    suppressed: u64,
}

impl Repeats {
    /// Whether `message` should be logged now. Beyond [`BURST`] identical
    /// ones in a window, repeats are only counted; when a different message
    /// (or a new window) comes, the count of the previous one is logged first.
    pub(crate) fn admit(&mut self, message: &str) -> bool {
        let now = Instant::now();
        let same_window = self.since.is_some_and(|since| now.duration_since(since) < WINDOW);
        if self.last.as_deref() == Some(message) && same_window {
            if self.shown >= BURST {
                self.suppressed += 1;
                return false;
            }
            self.shown += 1;
            return true;
        }
        self.flush();
        self.last = Some(message.to_owned());
        self.since = Some(now);
        self.shown = 1;
        true
    }

    /// Logs how often the last warning repeated unlogged, if it did.
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
    fn a_few_repeats_are_logged_the_rest_counted() {
        let mut repeats = Repeats::default();
        let logged = (0..10_000).filter(|_| repeats.admit("flood")).count();
        assert_eq!(logged, BURST as usize);
        assert_eq!(repeats.suppressed, 10_000 - u64::from(BURST));
        assert!(repeats.admit("something else"), "a different message is logged");
        assert_eq!(repeats.suppressed, 0, "and the count was reported first");
        repeats.since = Some(Instant::now() - WINDOW);
        assert!(repeats.admit("something else"), "after the window, once more");
    }
}
