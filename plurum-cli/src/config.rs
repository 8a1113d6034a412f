//! `config.toml`: settings per profile.
//!
//! ```toml
//! [profiles.default]
//! api_url = "https://api.plurum.ai/api/v1"
//! focus = "PostgreSQL replication for the billing cluster"   # what heartbeat searches for
//! domains = ["infrastructure"]                                # pulse sessions worth pointing out
//! tools = ["postgresql", "docker"]
//!
//! [daemon]                        # plurum daemon, for every profile
//! drives.trigger_threshold = 5.0
//!
//! [profiles.default.daemon]       # this profile only; wins over [daemon]
//! wake.command = ["my-agent", "--wake"]
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
    /// `plurum daemon` settings shared by every profile; a profile's own
    /// `daemon` table is merged on top, key by key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) daemon: Option<toml::Value>,
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

/// A parse error of config.toml on one line: where, and what TOML says.
fn parse_error(path: &Path, text: &str, error: &toml::de::Error) -> anyhow::Error {
    let line = error
        .span()
        .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
    let what = error.message().trim().replace('\n', " ");
    let at = line.map_or_else(|| format!(" ({what})"), |n| format!(" (line {n}: {what})"));
    anyhow::Error::new(
        crate::exit::CliError::new(crate::exit::ERROR, format!("{} is not valid TOML{at}", path.display()))
            .code("config")
            .hint("fix it in an editor: every command reads it"),
    )
}

impl Config {
    /// Reads the file; a missing file is an empty configuration.
    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| parse_error(path, &text, &e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
        }
    }

    /// One profile (empty when not configured), its `daemon` table merged
    /// over the top-level one.
    pub(crate) fn profile(&self, name: &str) -> Profile {
        let mut profile = self.profiles.get(name).cloned().unwrap_or_default();
        if let Some(shared) = &self.daemon {
            let mut table = shared.clone();
            if let Some(own) = profile.other.remove("daemon") {
                merge(&mut table, own);
            }
            profile.other.insert("daemon".into(), table);
        }
        profile
    }
}

/// Deep merge: tables key by key, anything else replaced by `over`.
fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(base), toml::Value::Table(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, over) => *slot = over,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_daemon_table_wins_over_the_shared_one() {
        let config: Config = toml::from_str(
            r#"
            [daemon]
            drives.trigger_threshold = 7.0
            wake.min_trigger_interval = 600
            [profiles.work.daemon.wake]
            min_trigger_interval = 60
            "#,
        )
        .unwrap();
        let work = config.profile("work");
        let daemon = &work.other["daemon"];
        assert_eq!(daemon["drives"]["trigger_threshold"].as_float(), Some(7.0));
        assert_eq!(daemon["wake"]["min_trigger_interval"].as_integer(), Some(60));
        let other = config.profile("other");
        assert_eq!(
            other.other["daemon"]["wake"]["min_trigger_interval"].as_integer(),
            Some(600)
        );
        let plain: Config = toml::from_str("[profiles.a]\nfocus = \"x\"").unwrap();
        assert!(!plain.profile("a").other.contains_key("daemon"));
    }
}
