//! `daemon.json`: what the daemon keeps across restarts (drive pressures,
//! the trigger history that the rate limits count, runtime configuration
//! changes), written atomically. A file that does not parse is moved aside
//! (the same quarantine as state.json's), never silently dropped.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::core::Core;
use super::drives::Drive;
use crate::paths;

/// The schema of `daemon.json`.
const SCHEMA_VERSION: u32 = 1;

/// What `daemon.json` holds.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Saved {
    #[serde(default)]
    schema_version: u32,
    #[serde(default)]
    pub(super) drives: BTreeMap<String, Drive>,
    /// Unix seconds of each wake-up in the last day.
    #[serde(default)]
    pub(super) triggers: Vec<i64>,
    /// `POST /config` changes, by dotted key.
    #[serde(default)]
    pub(super) config_overrides: BTreeMap<String, Value>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    saved_at: Option<OffsetDateTime>,
}

impl Saved {
    /// Reads `daemon.json` in `dir` (missing: empty; corrupt: moved aside).
    pub(super) fn read(dir: &Path) -> anyhow::Result<Self> {
        let file = dir.join(FILE);
        match crate::files::read_regular_string(&file, crate::files::MAX_STATE) {
            Ok(text) => match serde_json::from_str(&text) {
                Ok(saved) => Ok(saved),
                Err(error) => {
                    let aside = paths::move_aside(&file)?;
                    super::log(&format!(
                        "{} did not parse ({error}); moved it to {}",
                        file.display(),
                        aside.display()
                    ));
                    Ok(Self::default())
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("could not read {}", file.display())),
        }
    }
}

/// The file's name, in the profile's state directory.
pub(crate) const FILE: &str = "daemon.json";

impl Core {
    /// Writes `daemon.json` atomically.
    pub(crate) fn persist(&self) -> anyhow::Result<()> {
        let saved = Saved {
            schema_version: SCHEMA_VERSION,
            drives: self.drives.clone(),
            triggers: self.triggers.clone(),
            config_overrides: self.overrides.clone(),
            saved_at: Some(OffsetDateTime::now_utc()),
        };
        paths::write_atomic(&self.dir.join(FILE), &serde_json::to_vec_pretty(&saved)?)
    }
}

#[cfg(test)]
mod tests {
    use super::FILE;
    use crate::daemon::core::tests::core;

    #[test]
    fn a_corrupt_state_file_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "{ half").unwrap();
        let core = core(dir.path(), "");
        assert_eq!(core.total(), 0.0);
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("daemon.json.corrupt-"));
        assert!(aside);
    }
}
