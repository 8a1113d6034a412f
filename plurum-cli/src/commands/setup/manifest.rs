//! What `plurum setup` changed, kept so that `setup --undo` removes
//! exactly that: `setup.json` in the profile's state directory (0600), one
//! record per change, in the order made; a file setup edited has a backup
//! of what it held before (`setup-backups/`, 0600) and the SHA-256 of what
//! setup left in it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest as _;

/// The manifest's file name in the profile's state directory.
pub(crate) const FILE: &str = "setup.json";

/// One change setup made.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Change {
    /// A host's configuration file with our server entry in it (Codex's
    /// config.toml, Cursor's mcp.json).
    HostFile {
        host: String,
        path: PathBuf,
        /// The server's name in the file.
        entry: String,
        /// What the file held before (absent: setup created it).
        backup: Option<PathBuf>,
        /// SHA-256 of what setup wrote.
        after_sha256: String,
    },
    /// A server added through `claude mcp add-json`.
    Claude {
        name: String,
        scope: String,
        /// The entry it replaced, put back on undo.
        previous: Option<Value>,
    },
    /// Lines in the user's crontab between two marker comments.
    Crontab {
        begin: String,
        end: String,
        /// Whether the user had a crontab before (`crontab -l` exit 0).
        had_crontab: bool,
    },
    /// A systemd user unit file, enabled.
    Unit {
        path: PathBuf,
        /// The unit enabled with `systemctl --user enable --now` (absent for
        /// a file that is only used by another unit, e.g. a timer's service).
        enabled: Option<String>,
        backup: Option<PathBuf>,
        after_sha256: String,
    },
}

/// The manifest.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) version: u32,
    pub(crate) profile: String,
    pub(crate) changes: Vec<Change>,
}

pub(crate) fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

/// Reads the manifest (none yet: empty).
pub(crate) fn load(state_dir: &Path, profile: &str) -> anyhow::Result<Manifest> {
    let path = path(state_dir);
    match crate::files::read_regular_string(&path, crate::files::MAX_STATE) {
        Ok(text) => serde_json::from_str(&text).with_context(|| format!("{} is not setup's manifest", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest {
            version: 1,
            profile: profile.to_owned(),
            changes: Vec::new(),
        }),
        Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
    }
}

/// Adds a change to the manifest on disk at once (a later failure keeps
/// what was done undoable).
pub(crate) fn record(state_dir: &Path, profile: &str, change: Change) -> anyhow::Result<()> {
    let mut manifest = load(state_dir, profile)?;
    manifest.version = 1;
    manifest.changes.push(change);
    save(state_dir, &manifest)
}

pub(crate) fn save(state_dir: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    crate::paths::create_private_dir(state_dir)?;
    let text = serde_json::to_string_pretty(manifest)?;
    crate::paths::write_atomic(&path(state_dir), text.as_bytes())
}

/// Keeps a copy of `bytes` (a file before setup changed it) in the state
/// directory's `setup-backups/` (0600).
pub(crate) fn backup(state_dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let dir = state_dir.join("setup-backups");
    crate::paths::create_private_dir(&dir)?;
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let path = dir.join(format!("{stamp}-{name}"));
    crate::paths::write_atomic(&path, bytes)?;
    Ok(path)
}

/// SHA-256 of `bytes`, in hex.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
