//! Warnings of one kind, rate-limited: a few are logged per window,
//! whatever their text (a server that sends error frames in a loop, with a
//! counter in each, must not fill the disk with logs); the rest are counted
//! and the count is logged once, when the window ends or the connection
//! does.

use std::time::{Duration, Instant};

/// How many warnings of one kind are logged per window.
const BURST: u32 = 5;
/// The window.
const WINDOW: Duration = Duration::from_secs(10);

/// Rate-limits the warnings of one kind.
#[derive(Debug, Default)]
pub(crate) struct Repeats {
    since: Option<Instant>,
    shown: u32,
    suppressed: u64,
}

impl Repeats {
    /// Whether a warning of this kind should be logged now: at most
    /// [`BURST`] per [`WINDOW`]; the rest are counted, and the count is
    /// logged when a new window starts.
    pub(crate) fn admit(&mut self) -> bool {
        let now = Instant::now();
        let same_window = self.since.is_some_and(|since| now.duration_since(since) < WINDOW);
        if same_window {
            if self.shown >= BURST {
                self.suppressed += 1;
                return false;
            }
            self.shown += 1;
            return true;
        }
        self.flush();
        self.since = Some(now);
        self.shown = 1;
        true
    }

    /// Logs how many warnings went unlogged, if any did.
    pub(crate) fn flush(&mut self) {
        if self.suppressed > 0 {
            tracing::warn!(
                suppressed = self.suppressed,
                "{} more pulse server error(s) not logged (at most {BURST} per {} s)",
                self.suppressed,
                WINDOW.as_secs()
            );
            self.suppressed = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_per_window_are_logged_whatever_the_text_the_rest_counted() {
        let mut repeats = Repeats::default();
        let logged = (0..10_000).filter(|_| repeats.admit()).count();
        assert_eq!(logged, BURST as usize);
        assert_eq!(repeats.suppressed, 10_000 - u64::from(BURST));
        repeats.since = Some(Instant::now() - WINDOW);
        assert!(repeats.admit(), "a new window logs again");
        assert_eq!(repeats.suppressed, 0, "and the count was reported first");
    }
}
