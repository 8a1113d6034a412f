//! The audit log of configuration changes: JSON Lines, each line chained to
//! the previous one by a SHA-256 hash, so an edited or removed line shows.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const GENESIS: &str = "genesis";

/// The log's file name, in the profile's state directory.
pub(crate) const FILE: &str = "daemon-audit.jsonl";

/// An append-only, hash-chained log.
#[derive(Debug)]
pub(crate) struct AuditLog {
    path: PathBuf,
    last_hash: String,
}

fn hash(prev: &str, entry: &Value) -> String {
    let digest = Sha256::digest(format!("{prev}\n{entry}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl AuditLog {
    /// Opens the log, recovering the chain from its last line.
    pub(crate) fn open(path: PathBuf) -> anyhow::Result<Self> {
        let last_hash = match std::fs::read_to_string(&path) {
            Ok(text) => text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .and_then(|l| serde_json::from_str::<Value>(l).ok())
                .and_then(|v| v.get("hash").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| GENESIS.to_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => GENESIS.to_owned(),
            Err(e) => return Err(e).with_context(|| format!("could not read {}", path.display())),
        };
        Ok(Self { path, last_hash })
    }

    /// Appends one entry (fsynced).
    pub(crate) fn append(&mut self, entry: Value) -> anyhow::Result<()> {
        let entry = json!({"entry": entry, "prev_hash": self.last_hash});
        let hash = hash(&self.last_hash, &entry);
        let mut line = entry;
        line["hash"] = Value::String(hash.clone());
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&self.path)
            .with_context(|| format!("could not open {}", self.path.display()))?;
        writeln!(file, "{line}").and_then(|()| file.sync_all())?;
        self.last_hash = hash;
        Ok(())
    }
}

/// The entries of a log (lines that do not parse are skipped; `verify` reports them).
pub(crate) fn entries(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("could not read {}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|mut v| v.get_mut("entry").map(Value::take))
        .collect())
}

/// Checks a log's chain; the number of entries, or where it breaks.
pub(crate) fn verify(path: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut prev = GENESIS.to_owned();
    let mut count = 0;
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let mut value: Value = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        let recorded = value
            .as_object_mut()
            .and_then(|o| o.remove("hash"))
            .and_then(|h| h.as_str().map(str::to_owned))
            .ok_or_else(|| format!("line {}: no hash", n + 1))?;
        if value.get("prev_hash").and_then(Value::as_str) != Some(prev.as_str()) || hash(&prev, &value) != recorded {
            return Err(format!("line {}: the chain is broken", n + 1));
        }
        prev = recorded;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_holds_and_tampering_shows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut log = AuditLog::open(path.clone()).unwrap();
        log.append(json!({"key": "drives.trigger_threshold", "old": 5.0, "new": 6.5}))
            .unwrap();
        log.append(json!({"key": "wake.max_turns_per_hour", "old": 10, "new": 4}))
            .unwrap();
        // Reopening continues the chain.
        let mut log = AuditLog::open(path.clone()).unwrap();
        log.append(json!({"key": "drives.inbox.weight", "old": 1.0, "new": 1.5}))
            .unwrap();
        assert_eq!(verify(&path), Ok(3));
        let text = std::fs::read_to_string(&path).unwrap().replace("6.5", "9.5");
        std::fs::write(&path, text).unwrap();
        assert_eq!(verify(&path), Err("line 1: the chain is broken".to_owned()));
    }
}
