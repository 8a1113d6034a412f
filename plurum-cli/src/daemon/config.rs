//! The daemon's settings: the top-level `[daemon]` table of `config.toml`
//! with the profile's `[profiles.<name>.daemon]` merged on top, plus
//! runtime changes made through `POST /config` (kept in the daemon's state
//! so they survive restarts).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Everything the daemon can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct DaemonConfig {
    /// Minutes between heartbeats.
    pub(crate) heartbeat_interval_minutes: f64,
    /// Seconds between pressure updates.
    pub(crate) tick_seconds: f64,
    pub(crate) drives: DrivesConfig,
    pub(crate) wake: WakeConfig,
    pub(crate) api: ApiConfig,
    pub(crate) pulse: PulseConfig,
    pub(crate) mutator: MutatorConfig,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval_minutes: 30.0,
            tick_seconds: 15.0,
            drives: DrivesConfig::default(),
            wake: WakeConfig::default(),
            api: ApiConfig::default(),
            pulse: PulseConfig::default(),
            mutator: MutatorConfig::default(),
        }
    }
}

/// Drive weights, rates and the wake threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct DrivesConfig {
    /// Wake the agent when the weighted pressures add up to this.
    pub(crate) trigger_threshold: f64,
    /// No drive's pressure goes above this.
    pub(crate) max_pressure: f64,
    pub(crate) inbox: InboxDrive,
    pub(crate) outcomes: RateDrive,
    pub(crate) heartbeat: RateDrive,
    pub(crate) session: SessionDrive,
}

impl Default for DrivesConfig {
    fn default() -> Self {
        Self {
            trigger_threshold: 5.0,
            max_pressure: 10.0,
            inbox: InboxDrive::default(),
            outcomes: RateDrive {
                weight: 0.8,
                rate: 0.01,
            },
            heartbeat: RateDrive { weight: 0.5, rate: 0.1 },
            session: SessionDrive::default(),
        }
    }
}

/// The `inbox` drive: events push it up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct InboxDrive {
    pub(crate) weight: f64,
    /// Added per contribution to one of your sessions.
    pub(crate) contribution: f64,
    /// Added per session opened in your domains or tools.
    pub(crate) session_match: f64,
}

impl Default for InboxDrive {
    fn default() -> Self {
        Self {
            weight: 1.0,
            contribution: 2.0,
            session_match: 0.5,
        }
    }
}

/// A drive that builds up with time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct RateDrive {
    pub(crate) weight: f64,
    /// Pressure added per minute (per unit, see each drive).
    pub(crate) rate: f64,
}

impl Default for RateDrive {
    fn default() -> Self {
        Self {
            weight: 1.0,
            rate: 0.01,
        }
    }
}

/// The `session` drive: the open session sits idle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct SessionDrive {
    pub(crate) weight: f64,
    /// Pressure added per idle minute beyond `idle_minutes`.
    pub(crate) rate: f64,
    /// How long the open session may sit without an entry.
    pub(crate) idle_minutes: f64,
}

impl Default for SessionDrive {
    fn default() -> Self {
        Self {
            weight: 0.6,
            rate: 0.05,
            idle_minutes: 30.0,
        }
    }
}

/// How to wake the agent, and how often at most.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct WakeConfig {
    /// A command to run (program and arguments); gets the message on stdin
    /// and in `PLURUM_WAKE_MESSAGE`.
    pub(crate) command: Vec<String>,
    /// A URL to POST the wake message to (JSON).
    pub(crate) webhook: Option<String>,
    /// The environment variable holding the webhook's bearer token (never
    /// the token itself: config files leak).
    pub(crate) token_env: Option<String>,
    /// How long the command or webhook may take.
    pub(crate) timeout_seconds: f64,
    /// Seconds that must pass between two wake-ups.
    pub(crate) min_trigger_interval: f64,
    /// At most this many wake-ups in any hour (sliding window).
    pub(crate) max_turns_per_hour: f64,
    /// Whether the wake command sees the daemon's `PLURUM_API_KEY` (off:
    /// the command gets the environment without it; the agent's own
    /// `plurum` calls find the key in the profile's store).
    pub(crate) pass_api_key: bool,
}

impl Default for WakeConfig {
    fn default() -> Self {
        Self {
            command: Vec::new(),
            webhook: None,
            token_env: None,
            timeout_seconds: 60.0,
            min_trigger_interval: 1800.0,
            max_turns_per_hour: 10.0,
            pass_api_key: false,
        }
    }
}

/// Where seed 004's daemon listens, and the default profile's does.
pub(crate) const DEFAULT_ADDR: &str = "127.0.0.1:9720";

/// The local HTTP API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ApiConfig {
    /// Where to listen: a loopback address only. Seed 004's 127.0.0.1:9720
    /// by default; a profile other than the default gets a free port at its
    /// first start, saved here (so the daemons of several profiles run side
    /// by side, each at a port that stays). Port 0 picks a free one at every
    /// start. The address in use is written to `daemon.addr` in the
    /// profile's state directory, where `plurum inbox`, `daemon status` and
    /// the heartbeat find it.
    pub(crate) addr: String,
    /// Require `Authorization: Bearer <token>` (on by default; `/health`
    /// stays open); the token is in `daemon.token` (0600) in the profile's
    /// state directory, where the CLI's own commands read it.
    pub(crate) auth: bool,
    /// At most this many connections at once; the excess gets a 503 at
    /// once (a local API has few clients).
    pub(crate) max_connections: u32,
    /// Seconds a request's headers have to arrive complete.
    pub(crate) header_timeout_seconds: f64,
    /// Seconds a connection may stay without a byte moving.
    pub(crate) idle_timeout_seconds: f64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            addr: DEFAULT_ADDR.to_owned(),
            auth: true,
            max_connections: 64,
            header_timeout_seconds: 10.0,
            idle_timeout_seconds: 60.0,
        }
    }
}

impl ApiConfig {
    /// The accept loop's limits.
    pub(crate) fn connections(&self) -> plurum_sdk::server::ConnectionLimits {
        let seconds = |s: f64| std::time::Duration::from_secs_f64(s.clamp(0.01, 86_400.0));
        plurum_sdk::server::ConnectionLimits::default()
            .max_connections(self.max_connections.max(1) as usize)
            .header_timeout(seconds(self.header_timeout_seconds))
            .idle_timeout(seconds(self.idle_timeout_seconds))
    }
}

/// The pulse socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct PulseConfig {
    /// Seconds between pings.
    pub(crate) ping_interval_seconds: f64,
}

impl Default for PulseConfig {
    fn default() -> Self {
        Self {
            ping_interval_seconds: 20.0,
        }
    }
}

/// What `POST /config` may change, and within which bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct MutatorConfig {
    pub(crate) enabled: bool,
    pub(crate) allowed_fields: Vec<String>,
    /// `field = [min, max]`.
    pub(crate) guardrails: BTreeMap<String, [f64; 2]>,
}

impl Default for MutatorConfig {
    fn default() -> Self {
        let guardrails: BTreeMap<String, [f64; 2]> = [
            ("drives.trigger_threshold", [0.5, 100.0]),
            ("drives.max_pressure", [1.0, 100.0]),
            ("drives.inbox.weight", [0.05, 3.0]),
            ("drives.inbox.contribution", [0.0, 10.0]),
            ("drives.inbox.session_match", [0.0, 10.0]),
            ("drives.outcomes.weight", [0.05, 3.0]),
            ("drives.outcomes.rate", [0.0, 1.0]),
            ("drives.heartbeat.weight", [0.05, 3.0]),
            ("drives.heartbeat.rate", [0.0, 1.0]),
            ("drives.session.weight", [0.05, 3.0]),
            ("drives.session.rate", [0.0, 1.0]),
            ("drives.session.idle_minutes", [1.0, 1440.0]),
            ("heartbeat_interval_minutes", [1.0, 1440.0]),
            ("wake.min_trigger_interval", [60.0, 86_400.0]),
            ("wake.max_turns_per_hour", [1.0, 30.0]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Self {
            enabled: true,
            allowed_fields: guardrails.keys().cloned().collect(),
            guardrails,
        }
    }
}

impl DaemonConfig {
    /// The configuration of a profile: its `daemon` table, then the
    /// runtime overrides on top.
    ///
    /// # Errors
    /// A usage error (exit 2) naming the setting that is wrong.
    pub(crate) fn load(table: Option<&toml::Value>, overrides: &BTreeMap<String, Value>) -> anyhow::Result<Self> {
        Self::load_checked(table, overrides).map_err(|e| {
            crate::exit::CliError::new(crate::exit::USAGE, format!("{e:#}"))
                .hint("fix the [daemon] table of config.toml (see 'plurum daemon --help')")
                .into()
        })
    }

    fn load_checked(table: Option<&toml::Value>, overrides: &BTreeMap<String, Value>) -> anyhow::Result<Self> {
        let base: Self = match table {
            Some(table) => table
                .clone()
                .try_into()
                .map_err(|e| anyhow::anyhow!("the [daemon] table of config.toml is not valid: {e}"))?,
            None => Self::default(),
        };
        base.validate()?;
        let mut value = serde_json::to_value(&base)?;
        for (key, new) in overrides {
            if let Some(slot) = pointer_mut(&mut value, key) {
                *slot = new.clone();
            }
        }
        let config: Self = serde_json::from_value(value)?;
        config.validate()?;
        Ok(config)
    }

    /// Every number is finite and not negative; the intervals are positive.
    fn validate(&self) -> anyhow::Result<()> {
        let d = &self.drives;
        let w = &self.wake;
        let numbers = [
            ("heartbeat_interval_minutes", self.heartbeat_interval_minutes, true),
            ("tick_seconds", self.tick_seconds, true),
            ("drives.trigger_threshold", d.trigger_threshold, false),
            ("drives.max_pressure", d.max_pressure, false),
            ("drives.inbox.weight", d.inbox.weight, false),
            ("drives.inbox.contribution", d.inbox.contribution, false),
            ("drives.inbox.session_match", d.inbox.session_match, false),
            ("drives.outcomes.weight", d.outcomes.weight, false),
            ("drives.outcomes.rate", d.outcomes.rate, false),
            ("drives.heartbeat.weight", d.heartbeat.weight, false),
            ("drives.heartbeat.rate", d.heartbeat.rate, false),
            ("drives.session.weight", d.session.weight, false),
            ("drives.session.rate", d.session.rate, false),
            ("drives.session.idle_minutes", d.session.idle_minutes, false),
            ("wake.timeout_seconds", w.timeout_seconds, true),
            ("wake.min_trigger_interval", w.min_trigger_interval, false),
            ("wake.max_turns_per_hour", w.max_turns_per_hour, false),
            ("pulse.ping_interval_seconds", self.pulse.ping_interval_seconds, true),
            ("api.header_timeout_seconds", self.api.header_timeout_seconds, true),
            ("api.idle_timeout_seconds", self.api.idle_timeout_seconds, true),
        ];
        anyhow::ensure!(
            self.api.max_connections > 0,
            "daemon setting 'api.max_connections' must be 1 or more (got 0)"
        );
        for (key, value, positive) in numbers {
            anyhow::ensure!(
                value.is_finite() && value >= 0.0 && (!positive || value > 0.0),
                "daemon setting '{key}' must be a finite number {} (got {value})",
                if positive { "above 0" } else { "of 0 or more" }
            );
        }
        for (key, [min, max]) in &self.mutator.guardrails {
            anyhow::ensure!(
                min.is_finite() && max.is_finite() && min <= max,
                "mutator.guardrails.\"{key}\" must be [min, max] with min <= max (got [{min}, {max}])"
            );
        }
        Ok(())
    }

    /// The value at a dotted key, e.g. `drives.trigger_threshold`.
    pub(crate) fn get(&self, key: &str) -> Option<Value> {
        let value = serde_json::to_value(self).ok()?;
        value.pointer(&format!("/{}", key.replace('.', "/"))).cloned()
    }
}

fn pointer_mut<'a>(value: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    value.pointer_mut(&format!("/{}", key.replace('.', "/")))
}

/// Why a change was refused.
#[derive(Debug, PartialEq)]
pub(crate) enum Refusal {
    /// Not in `mutator.allowed_fields` (or a `mutator.*` field).
    NotAllowed(String),
    /// Not a number.
    Invalid(String),
    /// Outside `mutator.guardrails`.
    OutsideGuardrails {
        key: String,
        min: f64,
        max: f64,
        value: f64,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAllowed(key) => write!(f, "'{key}' may not be changed (not in mutator.allowed_fields)"),
            Self::Invalid(key) => write!(f, "'{key}' needs a number"),
            Self::OutsideGuardrails { key, min, max, value } => {
                write!(f, "{value} is outside the guardrails of '{key}' ({min} to {max})")
            }
        }
    }
}

/// A runtime override the file no longer allows: key, value, why.
pub(crate) type Dropped = (String, Value, String);

/// Splits runtime overrides into those the file's configuration (`base`)
/// still allows and those it does not: `mutator.enabled = false` refuses
/// all; otherwise each must be an allowed field within the guardrails.
pub(crate) fn admissible(
    base: &DaemonConfig,
    overrides: BTreeMap<String, Value>,
) -> (BTreeMap<String, Value>, Vec<Dropped>) {
    let mut kept = BTreeMap::new();
    let mut dropped = Vec::new();
    for (key, value) in overrides {
        if !base.mutator.enabled {
            dropped.push((key, value, "mutator.enabled is false in config.toml".to_owned()));
            continue;
        }
        let mut one = serde_json::Map::new();
        one.insert(key.clone(), value.clone());
        match check_changes(base, &one) {
            Ok(_) => {
                kept.insert(key, value);
            }
            Err(refusal) => dropped.push((key, value, refusal.to_string())),
        }
    }
    (kept, dropped)
}

/// Checks a set of changes against the mutator; all or nothing. Returns
/// `(key, old, new)` for each.
pub(crate) fn check_changes(
    config: &DaemonConfig,
    changes: &serde_json::Map<String, Value>,
) -> Result<Vec<(String, Value, Value)>, Refusal> {
    let mut checked = Vec::new();
    for (key, new) in changes {
        if key.starts_with("mutator.") || !config.mutator.allowed_fields.contains(key) {
            return Err(Refusal::NotAllowed(key.clone()));
        }
        let Some(old) = config.get(key) else {
            return Err(Refusal::NotAllowed(key.clone()));
        };
        let Some(number) = new.as_f64().filter(|n| n.is_finite()) else {
            return Err(Refusal::Invalid(key.clone()));
        };
        if let Some([min, max]) = config.mutator.guardrails.get(key)
            && (number < *min || number > *max)
        {
            return Err(Refusal::OutsideGuardrails {
                key: key.clone(),
                min: *min,
                max: *max,
                value: number,
            });
        }
        checked.push((key.clone(), old, Value::from(number)));
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_table_and_the_overrides_combine() {
        let table: toml::Value = toml::from_str(
            "heartbeat_interval_minutes = 10\n[drives]\ntrigger_threshold = 3.0\n[wake]\ncommand = [\"/bin/true\"]\n",
        )
        .unwrap();
        let mut overrides = BTreeMap::new();
        overrides.insert("drives.trigger_threshold".to_owned(), json!(4.5));
        let config = DaemonConfig::load(Some(&table), &overrides).unwrap();
        assert_eq!(config.drives.trigger_threshold, 4.5);
        assert_eq!(config.heartbeat_interval_minutes, 10.0);
        assert_eq!(config.wake.command, ["/bin/true"]);
        assert_eq!(config.wake.min_trigger_interval, 1800.0);
        assert_eq!(config.get("drives.inbox.weight"), Some(json!(1.0)));
        let bad: toml::Value = toml::from_str("[drives]\ntrigger_threshold = \"high\"\n").unwrap();
        assert!(DaemonConfig::load(Some(&bad), &BTreeMap::new()).is_err());
    }

    #[test]
    fn changes_are_limited_to_allowed_fields_within_guardrails() {
        let config = DaemonConfig::default();
        let ok = json!({"drives.trigger_threshold": 6.5, "wake.max_turns_per_hour": 4});
        let checked = check_changes(&config, ok.as_object().unwrap()).unwrap();
        assert_eq!(checked[0], ("drives.trigger_threshold".into(), json!(5.0), json!(6.5)));
        for (body, expected) in [
            (json!({"mutator.enabled": false}), "not in mutator.allowed_fields"),
            (json!({"api.addr": "0.0.0.0:1"}), "not in mutator.allowed_fields"),
            (json!({"drives.trigger_threshold": "7"}), "needs a number"),
            (json!({"wake.max_turns_per_hour": 100}), "outside the guardrails"),
            (json!({"wake.min_trigger_interval": 1}), "outside the guardrails"),
        ] {
            let refusal = check_changes(&config, body.as_object().unwrap()).unwrap_err();
            assert!(refusal.to_string().contains(expected), "{body}: {refusal}");
        }
    }

    #[test]
    fn overrides_the_current_file_no_longer_allows_are_dropped() {
        let mut overrides = BTreeMap::new();
        overrides.insert("drives.trigger_threshold".to_owned(), json!(0.6));
        overrides.insert("wake.max_turns_per_hour".to_owned(), json!(20));
        let stricter: toml::Value = toml::from_str(
            "[mutator]\nguardrails = { \"drives.trigger_threshold\" = [3.0, 50.0], \"wake.max_turns_per_hour\" = [1.0, 30.0] }\nallowed_fields = [\"drives.trigger_threshold\", \"wake.max_turns_per_hour\"]\n",
        )
        .unwrap();
        let base = DaemonConfig::load(Some(&stricter), &BTreeMap::new()).unwrap();
        let (kept, dropped) = admissible(&base, overrides.clone());
        assert_eq!(kept.keys().collect::<Vec<_>>(), ["wake.max_turns_per_hour"]);
        assert_eq!(dropped.len(), 1);
        assert!(dropped[0].2.contains("outside the guardrails"), "{:?}", dropped[0]);
        let disabled: toml::Value = toml::from_str("[mutator]\nenabled = false\n").unwrap();
        let base = DaemonConfig::load(Some(&disabled), &BTreeMap::new()).unwrap();
        let (kept, dropped) = admissible(&base, overrides);
        assert!(kept.is_empty());
        assert_eq!(dropped.len(), 2);
    }

    #[test]
    fn numbers_that_would_break_the_clock_are_refused() {
        for bad in [
            "tick_seconds = nan",
            "tick_seconds = 0.0",
            "[wake]\ntimeout_seconds = inf",
            "[drives]\ntrigger_threshold = -1.0",
        ] {
            let table: toml::Value = toml::from_str(bad).unwrap();
            let error = DaemonConfig::load(Some(&table), &BTreeMap::new()).unwrap_err();
            assert!(error.to_string().contains("must be a finite number"), "{bad}: {error}");
        }
    }
}
