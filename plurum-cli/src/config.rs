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
    /// What is wrong in the file without making it unreadable: unknown keys
    /// (with the nearest known one) and values of the wrong type (ignored).
    #[serde(skip)]
    pub(crate) warnings: Vec<String>,
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

/// The type of a setting's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    Text,
    Url,
    List,
    Number,
    Bool,
}

impl Kind {
    /// How the type reads in messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Text => "a string",
            Self::Url => "an http:// or https:// URL",
            Self::List => "a list of strings",
            Self::Number => "a number",
            Self::Bool => "true or false",
        }
    }

    fn matches(self, value: &toml::Value) -> bool {
        match self {
            Self::Text | Self::Url => value.is_str(),
            Self::List => value
                .as_array()
                .is_some_and(|items| items.iter().all(toml::Value::is_str)),
            Self::Number => value.is_float() || value.is_integer(),
            Self::Bool => value.is_bool(),
        }
    }
}

/// How a TOML value's type reads in messages.
fn type_of(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) | toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "a list",
        toml::Value::Table(_) => "a table",
    }
}

/// A setting the CLI reads.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Setting {
    /// The key, as `plurum config` takes it (`focus`, `daemon.drives.trigger_threshold`).
    pub(crate) key: String,
    pub(crate) kind: Kind,
    /// What it does.
    pub(crate) about: &'static str,
}

/// The profile's own keys.
const PROFILE_KEYS: [(&str, Kind, &str); 4] = [
    (
        "api_url",
        Kind::Url,
        "the API base URL (PLURUM_API_URL and --api-url win)",
    ),
    (
        "focus",
        Kind::Text,
        "what the heartbeat searches for when no session is current",
    ),
    (
        "domains",
        Kind::List,
        "pulse sessions in these domains are pointed out; their events wait until acknowledged",
    ),
    ("tools", Kind::List, "the same, for sessions using these tools"),
];

/// What the daemon's settings do (see `plurum daemon --help`).
fn daemon_about(key: &str) -> &'static str {
    match key {
        "heartbeat_interval_minutes" => "minutes between the daemon's heartbeats",
        "tick_seconds" => "seconds between pressure updates",
        "drives.trigger_threshold" => "wake the agent when the weighted pressures add up to this",
        "drives.max_pressure" => "no drive's pressure goes above this",
        "drives.inbox.contribution" => "inbox pressure added per contribution to your session",
        "drives.inbox.session_match" => "inbox pressure added per session opened in your domains or tools",
        "drives.session.idle_minutes" => "how long the current session may sit without an entry",
        "wake.command" => "the command that wakes the agent (program and arguments; the message on stdin)",
        "wake.webhook" => "a URL to POST the wake message to",
        "wake.token_env" => "the environment variable holding the webhook's bearer token",
        "wake.timeout_seconds" => "how long the wake command or webhook may take",
        "wake.min_trigger_interval" => "seconds that must pass between two wake-ups",
        "wake.max_turns_per_hour" => "at most this many wake-ups in any hour",
        "wake.pass_api_key" => "whether the wake command sees PLURUM_API_KEY",
        "api.addr" => {
            "where the daemon's local API listens (loopback only; another profile than the default gets a free port at its first start, saved here; port 0 picks one every start)"
        }
        "api.auth" => "require the bearer token in daemon.token on the local API",
        "pulse.ping_interval_seconds" => "seconds between pings on the pulse socket",
        "mutator.enabled" => "whether POST /config may change settings at runtime",
        "mutator.allowed_fields" => "the settings POST /config may change",
        k if k.ends_with(".weight") => "how much this drive counts toward the threshold",
        k if k.ends_with(".rate") => "pressure this drive gains per minute",
        _ => "a daemon setting (see 'plurum daemon --help')",
    }
}

/// Every setting the CLI reads: the profile's keys and the daemon's.
pub(crate) fn catalog() -> Vec<Setting> {
    let mut settings: Vec<Setting> = PROFILE_KEYS
        .iter()
        .map(|(key, kind, about)| Setting {
            key: (*key).to_owned(),
            kind: *kind,
            about,
        })
        .collect();
    let defaults = serde_json::to_value(crate::daemon::config::DaemonConfig::default()).unwrap_or_default();
    let mut leaves = Vec::new();
    daemon_leaves(&defaults, String::new(), &mut leaves);
    for (key, kind) in leaves {
        settings.push(Setting {
            about: daemon_about(&key),
            key: format!("daemon.{key}"),
            kind,
        });
    }
    settings
}

fn daemon_leaves(value: &serde_json::Value, prefix: String, out: &mut Vec<(String, Kind)>) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        }
    };
    if let serde_json::Value::Object(map) = value {
        for (key, inner) in map {
            let path = join(key);
            // A map of its own (field = [min, max]): edited in the file.
            if path == "mutator.guardrails" {
                continue;
            }
            match inner {
                serde_json::Value::Object(_) => daemon_leaves(inner, path, out),
                serde_json::Value::Number(_) => out.push((path, Kind::Number)),
                serde_json::Value::Bool(_) => out.push((path, Kind::Bool)),
                serde_json::Value::Array(_) => out.push((path, Kind::List)),
                serde_json::Value::String(_) | serde_json::Value::Null => out.push((path, Kind::Text)),
            }
        }
    }
}

/// The known key nearest to `key`, when one is close enough to be a typo.
pub(crate) fn nearest<'a>(key: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(key, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

fn unknown(key: &str, nearest: Option<&str>) -> String {
    match nearest {
        Some(near) => format!("config.toml: unknown key '{key}' (did you mean '{near}'?); ignored"),
        None => format!("config.toml: unknown key '{key}'; ignored"),
    }
}

/// Reads a table leniently: what is known and well typed is kept, the rest
/// becomes warnings.
fn read_config(table: toml::Table) -> Config {
    let mut config = Config::default();
    let catalog = catalog();
    for (key, value) in table {
        match (key.as_str(), value) {
            ("profiles", toml::Value::Table(profiles)) => {
                for (name, profile) in profiles {
                    match profile {
                        toml::Value::Table(profile) => {
                            let read = read_profile(&name, profile, &catalog, &mut config.warnings);
                            config.profiles.insert(name, read);
                        }
                        other => config.warnings.push(format!(
                            "config.toml: profiles.{name} must be a table (got {}); ignored",
                            type_of(&other)
                        )),
                    }
                }
            }
            ("daemon", toml::Value::Table(daemon)) => {
                check_daemon(&daemon, "daemon", &catalog, &mut config.warnings);
                config.daemon = Some(toml::Value::Table(daemon));
            }
            (known @ ("profiles" | "daemon"), other) => config.warnings.push(format!(
                "config.toml: {known} must be a table (got {}); ignored",
                type_of(&other)
            )),
            (other, _) => config
                .warnings
                .push(unknown(other, nearest(other, ["profiles", "daemon"]))),
        }
    }
    config
}

fn read_profile(name: &str, table: toml::Table, catalog: &[Setting], warnings: &mut Vec<String>) -> Profile {
    let mut profile = Profile::default();
    let strings = |value: toml::Value| -> Vec<String> {
        value
            .as_array()
            .map(|items| items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    for (key, value) in table {
        let full = format!("profiles.{name}.{key}");
        let known = PROFILE_KEYS.iter().find(|(k, _, _)| *k == key);
        match (key.as_str(), known) {
            ("daemon", _) => match value {
                toml::Value::Table(daemon) => {
                    check_daemon(&daemon, &format!("profiles.{name}.daemon"), catalog, warnings);
                    profile.other.insert(key, toml::Value::Table(daemon));
                }
                other => warnings.push(format!(
                    "config.toml: {full} must be a table (got {}); ignored",
                    type_of(&other)
                )),
            },
            (_, Some((_, kind, _))) if !kind.matches(&value) => warnings.push(format!(
                "config.toml: {full} must be {} (got {}); ignored",
                kind.describe(),
                type_of(&value)
            )),
            ("api_url", _) => profile.api_url = value.as_str().map(str::to_owned),
            ("focus", _) => profile.focus = value.as_str().map(str::to_owned),
            ("domains", _) => profile.domains = strings(value),
            ("tools", _) => profile.tools = strings(value),
            (other, _) => {
                let names = PROFILE_KEYS.iter().map(|(k, _, _)| *k).chain(["daemon"]);
                let near = nearest(other, names).map(|n| format!("profiles.{name}.{n}"));
                warnings.push(unknown(&full, near.as_deref()));
                profile.other.insert(key, value);
            }
        }
    }
    profile
}

/// Warns about unknown daemon keys and wrong types (the daemon itself
/// refuses to start on a wrong type; other commands go on).
fn check_daemon(table: &toml::Table, at: &str, catalog: &[Setting], warnings: &mut Vec<String>) {
    let mut leaves = Vec::new();
    toml_leaves(table, String::new(), &mut leaves);
    let known: Vec<&str> = catalog.iter().filter_map(|s| s.key.strip_prefix("daemon.")).collect();
    for (path, value) in leaves {
        if path.starts_with("mutator.guardrails") {
            continue;
        }
        match catalog
            .iter()
            .find(|s| s.key.strip_prefix("daemon.") == Some(path.as_str()))
        {
            Some(setting) if !setting.kind.matches(value) => warnings.push(format!(
                "config.toml: {at}.{path} must be {} (got {}); the daemon will not start until it is fixed",
                setting.kind.describe(),
                type_of(value)
            )),
            Some(_) => {}
            None => {
                let near = nearest(&path, known.iter().copied()).map(|n| format!("{at}.{n}"));
                warnings.push(unknown(&format!("{at}.{path}"), near.as_deref()));
            }
        }
    }
}

fn toml_leaves<'a>(table: &'a toml::Table, prefix: String, out: &mut Vec<(String, &'a toml::Value)>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) if path != "mutator.guardrails" => toml_leaves(inner, path, out),
            _ => out.push((path, value)),
        }
    }
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
        match crate::files::read_regular_string(path, crate::files::MAX_CONFIG) {
            Ok(text) => {
                let table: toml::Table = toml::from_str(&text).map_err(|e| parse_error(path, &text, &e))?;
                Ok(read_config(table))
            }
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
