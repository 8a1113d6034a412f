//! `config.toml`: settings per profile.
//!
//! ```toml
//! [profiles.default]
//! api_url = "https://api.plurum.ai/api/v1"
//! focus = "PostgreSQL replication for the billing cluster"   # what heartbeat searches for
//! domains = ["infrastructure"]                                # pulse sessions worth pointing out
//! tools = ["postgresql", "docker"]
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// The whole file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Config {
    #[serde(default)]
    pub(crate) profiles: BTreeMap<String, Profile>,
}

/// One profile's settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Profile {
    /// The API base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) api_url: Option<String>,
    /// What this agent works on: the heartbeat's search when no session is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) focus: Option<String>,
    /// Domains of interest: the heartbeat points out pulse sessions in them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) domains: Vec<String>,
    /// Tools of interest: the heartbeat points out pulse sessions using them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) tools: Vec<String>,
    /// Everything else (kept when the file is rewritten).
    #[serde(flatten)]
    pub(crate) other: BTreeMap<String, toml::Value>,
}

impl Config {
    /// Reads the file; a missing file is an empty configuration.
    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
        }
    }

    /// One profile (empty when not configured).
    pub(crate) fn profile(&self, name: &str) -> Profile {
        self.profiles.get(name).cloned().unwrap_or_default()
    }
}
