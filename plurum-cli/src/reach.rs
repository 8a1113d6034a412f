//! "Down since T": a refused connection, remembered briefly.
//!
//! A write that is queued when the server cannot be reached (an outcome
//! report) does not need three attempts with backoff to learn that nothing
//! listens: the first refused connection queues it (the CLI's clients for
//! such writes do not retry a refusal, see [`crate::context::Ctx::queueing`]).
//! The refusal is remembered in the profile's state folder for [`REMEMBER`],
//! so the next writes in that window are queued without knocking again; any
//! answer from the server forgets it. Timeouts and names that do not resolve
//! are not refusals: they keep their own limits and are not remembered.
//!
//! The file is a hint, not state: it is written without a lock (the last
//! writer wins) and a file that does not parse counts as absent.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::serde::rfc3339;

/// How long a refusal is remembered.
pub(crate) const REMEMBER: Duration = Duration::from_secs(30);

/// The remembered refusal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Down {
    /// The API URL that refused.
    pub(crate) url: String,
    /// The first refusal of this outage.
    #[serde(with = "rfc3339")]
    pub(crate) since: OffsetDateTime,
    /// The latest refusal.
    #[serde(with = "rfc3339")]
    pub(crate) last: OffsetDateTime,
}

impl Down {
    /// Says when and how recently the server refused, for a queued write.
    pub(crate) fn reason(&self) -> String {
        let ago = (OffsetDateTime::now_utc() - self.last).whole_seconds().max(0);
        format!(
            "the server at {} refused connections {ago}s ago (down since {}); queued without trying again yet",
            self.url,
            crate::state::rfc3339_text(self.since)
        )
    }
}

/// The profile's memory of refusals, for one API URL.
#[derive(Debug, Clone)]
pub(crate) struct Reach {
    path: PathBuf,
    url: String,
}

impl Reach {
    pub(crate) fn new(state_dir: PathBuf, url: &str) -> Self {
        Self {
            path: state_dir.join("server-down.json"),
            url: url.to_owned(),
        }
    }

    /// The refusal remembered for this URL, if it is recent.
    pub(crate) fn down(&self) -> Option<Down> {
        let bytes = std::fs::read(&self.path).ok()?;
        let down: Down = serde_json::from_slice(&bytes).ok()?;
        let age = OffsetDateTime::now_utc() - down.last;
        (down.url == self.url && age >= time::Duration::ZERO && age < REMEMBER).then_some(down)
    }

    /// Remembers a refusal (keeping the outage's start) or forgets it after
    /// any answer from the server; other failures change nothing.
    pub(crate) fn note<T>(&self, result: &Result<T, plurum_sdk::Error>) -> Option<Down> {
        match result {
            Err(e) if e.is_refused() => Some(self.refused()),
            Err(e) if e.status().is_some() => {
                self.forget();
                None
            }
            Ok(_) => {
                self.forget();
                None
            }
            Err(_) => None,
        }
    }

    /// Remembers a refusal now.
    pub(crate) fn refused(&self) -> Down {
        let now = OffsetDateTime::now_utc();
        let since = self.down().map_or(now, |d| d.since);
        let down = Down {
            url: self.url.clone(),
            since,
            last: now,
        };
        if let Some(dir) = self.path.parent()
            && crate::paths::create_private_dir(dir).is_ok()
            && let Ok(bytes) = serde_json::to_vec(&down)
        {
            let temp = self.path.with_extension(format!("{}.tmp", std::process::id()));
            if std::fs::write(&temp, bytes).is_ok() && std::fs::rename(&temp, &self.path).is_err() {
                let _ = std::fs::remove_file(&temp);
            }
        }
        down
    }

    /// Forgets a refusal (the server answered).
    pub(crate) fn forget(&self) {
        if self.path.exists() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_remembered_briefly_for_its_url_and_keeps_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let reach = Reach::new(dir.path().to_owned(), "http://127.0.0.1:9/api/v1");
        assert!(reach.down().is_none());
        let first = reach.refused();
        let again = reach.refused();
        assert_eq!(again.since, first.since, "the outage's start is kept");
        assert!(reach.down().is_some());
        // Another URL (another server) is not down.
        assert!(
            Reach::new(dir.path().to_owned(), "http://127.0.0.1:10/api/v1")
                .down()
                .is_none()
        );
        // An old refusal is forgotten.
        let old = Down {
            last: OffsetDateTime::now_utc() - REMEMBER - time::Duration::seconds(1),
            ..first
        };
        std::fs::write(dir.path().join("server-down.json"), serde_json::to_vec(&old).unwrap()).unwrap();
        assert!(reach.down().is_none());
        // A file that does not parse counts as absent.
        std::fs::write(dir.path().join("server-down.json"), b"{not json").unwrap();
        assert!(reach.down().is_none());
        reach.refused();
        reach.forget();
        assert!(reach.down().is_none());
    }
}
