//! `plurum config get|set|unset|list|path`: every setting the CLI reads,
//! checked before it is written. The file keeps its comments and layout
//! (edited with toml_edit, written atomically).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::config::{Config, Kind, Setting, catalog, nearest};
use crate::context::Options;
use crate::exit::{self, CliError};
use crate::output::{Output, table};
use crate::paths::{self, Paths};

/// `plurum config` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Where the files are: config.toml, credentials.toml, the profile's state.
    #[command(after_help = "Examples:\n  plurum config path\n  $EDITOR \"$(plurum config path --jq .config_file)\"")]
    Path,
    /// Every setting, its value for this profile and where the value comes from.
    #[command(after_help = "Examples:\n  plurum config list\n  plurum --profile work config list --json")]
    List,
    /// One setting's value for this profile.
    #[command(after_help = "Examples:\n  plurum config get focus\n  plurum config get daemon.drives.trigger_threshold")]
    Get {
        /// The setting (see 'plurum config list').
        #[arg(add = clap_complete::ArgValueCandidates::new(crate::commands::completions::config_key_candidates))]
        key: String,
    },
    /// Change a setting for this profile (checked first).
    #[command(after_help = "Examples:
  plurum config set focus \"PostgreSQL replication for the billing cluster\"
  plurum config set domains infrastructure databases
  plurum config set tools postgresql,pgbouncer
  plurum config set daemon.drives.trigger_threshold 7
  plurum config set daemon.wake.command my-agent --wake
  plurum config set --shared daemon.wake.max_turns_per_hour 4

Lists take several values or one comma-separated value. Daemon settings go to
the profile's [profiles.NAME.daemon] table, or with --shared to the [daemon]
table every profile shares; a running daemon reads them on SIGHUP or restart.")]
    Set {
        /// The setting (see 'plurum config list').
        #[arg(add = clap_complete::ArgValueCandidates::new(crate::commands::completions::config_key_candidates))]
        key: String,
        /// The value (several for a list).
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        values: Vec<String>,
        /// For a daemon setting: write it to the [daemon] table every profile shares.
        #[arg(long)]
        shared: bool,
    },
    /// Remove a setting from this profile (it goes back to its default).
    #[command(
        after_help = "Examples:\n  plurum config unset focus\n  plurum config unset --shared daemon.wake.command"
    )]
    Unset {
        /// The setting (see 'plurum config list').
        #[arg(add = clap_complete::ArgValueCandidates::new(crate::commands::completions::config_key_candidates))]
        key: String,
        /// For a daemon setting: remove it from the shared [daemon] table.
        #[arg(long)]
        shared: bool,
    },
}

/// Global flags that take no value, and those that take one.
const FLAGS: &[&str] = &[
    "--json",
    "-q",
    "--quiet",
    "-v",
    "-vv",
    "-vvv",
    "--verbose",
    "--no-color",
    "--allow-insecure-http",
];
const FLAGS_WITH_VALUE: &[&str] = &["--jq", "--profile", "--api-url", "--api-key-file"];

/// `plurum config set KEY VALUE… --json`: the values take anything (a
/// command's arguments, a value starting with a dash), so global flags
/// after them would be stored as values. Known flags after the first value
/// are moved where clap reads them as flags; `--` makes what follows values
/// whatever it looks like (`config set daemon.wake.command my-agent --
/// --wake`). Said once per machine (it used to store the flags).
pub(crate) fn flags_after_values(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let text: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    // The subcommand: the first word that is not a global flag or its value.
    let mut position = 1;
    while position < text.len() {
        let arg = text[position].as_str();
        if FLAGS_WITH_VALUE.contains(&arg) {
            position += 2;
        } else if arg.starts_with('-') {
            position += 1;
        } else {
            break;
        }
    }
    if text.get(position).map(String::as_str) != Some("config")
        || text.get(position + 1).map(String::as_str) != Some("set")
    {
        return args;
    }
    // KEY, then the values: the first value is always one.
    let first_value = position + 3;
    if text.len() <= first_value {
        return args;
    }
    let mut moved_global: Vec<std::ffi::OsString> = Vec::new();
    let mut moved_local: Vec<std::ffi::OsString> = Vec::new();
    let mut kept: Vec<std::ffi::OsString> = args[..=first_value].to_vec();
    let mut index = first_value + 1;
    while index < args.len() {
        let arg = text[index].as_str();
        if arg == "--" {
            kept.extend(args[index + 1..].iter().cloned());
            break;
        }
        if FLAGS.contains(&arg) || arg.starts_with("--jq=") {
            moved_global.push(args[index].clone());
        } else if arg == "--shared" {
            moved_local.push(args[index].clone());
        } else if FLAGS_WITH_VALUE.contains(&arg) && index + 1 < args.len() {
            moved_global.extend([args[index].clone(), args[index + 1].clone()]);
            index += 1;
        } else {
            kept.push(args[index].clone());
        }
        index += 1;
    }
    if moved_global.is_empty() && moved_local.is_empty() && !text[first_value..].iter().any(|a| a == "--") {
        return args;
    }
    if !moved_global.is_empty() {
        crate::output::say_once(
            "config-set-flags",
            "flags after the values of 'plurum config set' are flags now (they used to be stored as values); put -- before a value that starts with --",
        );
    }
    // The global flags before `config`, `--shared` right after `set`.
    let mut out: Vec<std::ffi::OsString> = kept[..position].to_vec();
    out.extend(moved_global);
    out.extend(kept[position..position + 2].iter().cloned());
    out.extend(moved_local);
    out.extend(kept[position + 2..].iter().cloned());
    out
}

/// Where a value comes from.
fn profile_name(options: &Options) -> String {
    if options.profile.is_empty() {
        "default".to_owned()
    } else {
        options.profile.clone()
    }
}

pub(crate) fn run(command: Command, options: &Options) -> anyhow::Result<u8> {
    let out = options.output();
    let paths = Paths::resolve()?;
    let profile = profile_name(options);
    let file = paths.config_file();
    match command {
        Command::Path => {
            let value = json!({
                "config_file": file,
                "exists": file.exists(),
                "credentials_file": paths.credentials_file(),
                "state_dir": paths.profile_state_dir(&profile),
                "profile": profile,
            });
            out.emit(&value, || file.display().to_string())?;
        }
        Command::List => {
            let config = Config::load(&file)?;
            let rows: Vec<Value> = catalog()
                .iter()
                .map(|setting| {
                    let (value, source) = effective(&config, &profile, setting);
                    json!({
                        "key": setting.key,
                        "value": value,
                        "source": source,
                        "type": setting.kind,
                        "about": setting.about,
                    })
                })
                .collect();
            let value = json!({
                "profile": profile,
                "config_file": file,
                "settings": rows,
                "warnings": config.warnings,
            });
            out.emit(&value, || {
                // The table fits the terminal (or 100 columns): a long value
                // is cut, 'plurum config get KEY' shows it whole.
                let key_width = rows
                    .iter()
                    .map(|r| r["key"].as_str().unwrap_or_default().len())
                    .max()
                    .unwrap_or(3);
                let from_width = rows
                    .iter()
                    .map(|r| r["source"].as_str().unwrap_or_default().len())
                    .max()
                    .unwrap_or(4);
                let value_width = crate::output::table_width()
                    .saturating_sub(key_width + from_width + 4)
                    .max(8);
                let lines: Vec<Vec<String>> = rows
                    .iter()
                    .map(|row| {
                        vec![
                            row["key"].as_str().unwrap_or_default().to_owned(),
                            crate::output::cut(&shown(&row["value"]), value_width),
                            row["source"].as_str().unwrap_or_default().to_owned(),
                        ]
                    })
                    .collect();
                let mut text = table(&["KEY", "VALUE", "FROM"], &lines);
                for warning in &config.warnings {
                    text.push_str(&format!("\nwarning: {warning}"));
                }
                text
            })?;
        }
        Command::Get { key } => {
            let setting = find(&key)?;
            let config = Config::load(&file)?;
            warn(&out, &config);
            let (value, source) = effective(&config, &profile, &setting);
            let document = json!({"key": setting.key, "value": value, "source": source, "profile": profile});
            out.emit(&document, || shown(&value))?;
        }
        Command::Set { key, values, shared } => {
            let setting = find(&key)?;
            check_shared(&setting, shared)?;
            let value = parse(&setting, &values)?;
            let config = Config::load(&file)?;
            warn(&out, &config);
            check(&setting, &value, &config, &profile, shared)?;
            let (previous, _) = effective(&config, &profile, &setting);
            edit(&file, |doc| set(doc, &location(&setting, &profile, shared), &value))?;
            let document = json!({
                "key": setting.key,
                "value": value,
                "previous": previous,
                "profile": profile,
                "shared": shared,
                "config_file": file,
            });
            out.emit(&document, || {
                format!(
                    "{} = {} ({} in {})",
                    setting.key,
                    shown(&value),
                    if shared {
                        "every profile".to_owned()
                    } else {
                        format!("profile '{profile}'")
                    },
                    file.display()
                )
            })?;
            daemon_note(&out, &setting, &paths, &profile);
        }
        Command::Unset { key, shared } => {
            let setting = find(&key)?;
            check_shared(&setting, shared)?;
            let mut removed = false;
            if file.exists() {
                edit(&file, |doc| {
                    removed = unset(doc, &location(&setting, &profile, shared));
                    Ok(())
                })?;
            }
            let config = Config::load(&file)?;
            let (value, source) = effective(&config, &profile, &setting);
            let document = json!({
                "key": setting.key,
                "removed": removed,
                "value": value,
                "source": source,
                "profile": profile,
            });
            out.emit(&document, || {
                if removed {
                    format!("Removed {}; now {} ({source}).", setting.key, shown(&value))
                } else {
                    format!("{} was not set; it is {} ({source}).", setting.key, shown(&value))
                }
            })?;
            if removed {
                daemon_note(&out, &setting, &paths, &profile);
            }
        }
    }
    Ok(exit::OK)
}

/// Writes one setting of `profile` to config.toml (comments and layout
/// kept), as `plurum config set` would.
pub(crate) fn save(paths: &Paths, profile: &str, key: &str, value: Value) -> anyhow::Result<()> {
    let setting = find(key)?;
    edit(&paths.config_file(), |doc| {
        set(doc, &location(&setting, profile, false), &value)
    })
}

/// What is wrong in the file but does not stop anything.
fn warn(out: &Output, config: &Config) {
    for warning in &config.warnings {
        out.warn(warning);
    }
}

/// A value as people read it: strings bare, lists comma-separated, `-` for none.
fn shown(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::Array(items) if items.is_empty() => "-".to_owned(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// The setting a key names; an unknown key is a usage error naming the nearest.
fn find(key: &str) -> anyhow::Result<Setting> {
    let all = catalog();
    if let Some(found) = all.iter().find(|s| s.key == key) {
        return Ok(found.clone());
    }
    let near = nearest(key, all.iter().map(|s| s.key.as_str()));
    let mut error = CliError::new(exit::USAGE, format!("no setting is called '{key}'"));
    error = match near {
        Some(near) => error.hint(format!("did you mean '{near}'? ('plurum config list' shows them all)")),
        None => error.hint("'plurum config list' shows every setting"),
    };
    Err(error.into())
}

fn check_shared(setting: &Setting, shared: bool) -> anyhow::Result<()> {
    if shared && !setting.key.starts_with("daemon.") {
        return Err(CliError::new(
            exit::USAGE,
            format!(
                "--shared is for daemon settings; '{}' belongs to a profile",
                setting.key
            ),
        )
        .into());
    }
    Ok(())
}

/// The path of tables and the key a setting is written at.
fn location(setting: &Setting, profile: &str, shared: bool) -> Vec<String> {
    let mut path: Vec<String> = if shared {
        Vec::new()
    } else {
        vec!["profiles".to_owned(), profile.to_owned()]
    };
    path.extend(setting.key.split('.').map(str::to_owned));
    path
}

/// The value in effect for a profile, and where it comes from: `profile`,
/// `shared` (the [daemon] table), or `default`.
fn effective(config: &Config, profile: &str, setting: &Setting) -> (Value, &'static str) {
    let own = config.profiles.get(profile);
    if let Some(daemon_key) = setting.key.strip_prefix("daemon.") {
        let lookup = |table: Option<&toml::Value>| table.and_then(|t| leaf(t, daemon_key)).map(to_json);
        if let Some(value) = lookup(own.and_then(|p| p.other.get("daemon"))) {
            return (value, "profile");
        }
        if let Some(value) = lookup(config.daemon.as_ref()) {
            return (value, "shared");
        }
        let defaults = crate::daemon::config::DaemonConfig::default();
        return (defaults.get(daemon_key).unwrap_or(Value::Null), "default");
    }
    let value = own.map(|p| match setting.key.as_str() {
        "api_url" => json!(p.api_url),
        "focus" => json!(p.focus),
        "domains" if !p.domains.is_empty() => json!(p.domains),
        "tools" if !p.tools.is_empty() => json!(p.tools),
        _ => Value::Null,
    });
    match value {
        Some(value) if !value.is_null() => (value, "profile"),
        _ => match setting.key.as_str() {
            "api_url" => (json!(plurum_sdk::DEFAULT_BASE_URL), "default"),
            "domains" | "tools" => (json!([]), "default"),
            _ => (Value::Null, "default"),
        },
    }
}

fn leaf<'a>(table: &'a toml::Value, dotted: &str) -> Option<&'a toml::Value> {
    dotted.split('.').try_fold(table, |value, key| value.get(key))
}

fn to_json(value: &toml::Value) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The value given on the command line, as its setting's type.
fn parse(setting: &Setting, values: &[String]) -> anyhow::Result<Value> {
    let one = || -> anyhow::Result<&str> {
        match values {
            [single] => Ok(single.as_str()),
            _ => Err(CliError::new(
                exit::USAGE,
                format!("{} takes one value (got {})", setting.key, values.len()),
            )
            .hint("quote a value with spaces")
            .into()),
        }
    };
    let bad = |why: String| -> anyhow::Error { CliError::new(exit::USAGE, format!("{}: {why}", setting.key)).into() };
    Ok(match setting.kind {
        // Free text: the words, as the shell split them, joined again.
        Kind::Text if setting.key != "daemon.api.addr" => json!(values.join(" ")),
        Kind::Text | Kind::Url => json!(one()?.trim()),
        Kind::List => {
            let items: Vec<String> = values
                .iter()
                .flat_map(|v| {
                    // One comma-separated value, or several; a command's
                    // arguments are taken as given.
                    if setting.key == "daemon.wake.command" || values.len() > 1 {
                        vec![v.clone()]
                    } else {
                        v.split(',').map(|p| p.trim().to_owned()).collect()
                    }
                })
                .filter(|v| !v.is_empty())
                .collect();
            if items.is_empty() {
                return Err(bad("give at least one value (unset it to clear it)".to_owned()));
            }
            json!(items)
        }
        Kind::Number => {
            let text = one()?;
            let number: f64 = text
                .trim()
                .parse()
                .map_err(|_| bad(format!("'{text}' is not a number")))?;
            if !number.is_finite() {
                return Err(bad(format!("'{text}' is not a finite number")));
            }
            json!(number)
        }
        Kind::Bool => match one()?.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => json!(true),
            "false" | "no" | "off" | "0" => json!(false),
            other => return Err(bad(format!("'{other}' is not true or false"))),
        },
    })
}

/// Checks a new value the way the command that reads it would.
fn check(setting: &Setting, value: &Value, config: &Config, profile: &str, shared: bool) -> anyhow::Result<()> {
    let usage = |why: String| -> anyhow::Error { CliError::new(exit::USAGE, format!("{}: {why}", setting.key)).into() };
    match setting.key.as_str() {
        "api_url" => {
            let text = value.as_str().unwrap_or_default();
            let url = reqwest::Url::parse(text).map_err(|e| usage(format!("'{text}' is not a URL ({e})")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(usage(format!("'{text}' is not an http:// or https:// URL")));
            }
        }
        "focus" => {
            plurum_sdk::types::SearchExperiences::new(value.as_str().unwrap_or_default())
                .validate()
                .map_err(|e| usage(e.to_string()))?;
        }
        "domains" | "tools" => {
            for item in value.as_array().into_iter().flatten() {
                let text = item.as_str().unwrap_or_default();
                if text.chars().count() > 100 {
                    return Err(usage(format!("'{text}' is longer than 100 characters")));
                }
            }
        }
        key => {
            let daemon_key = key.strip_prefix("daemon.").unwrap_or(key);
            if daemon_key == "api.addr" {
                let text = value.as_str().unwrap_or_default();
                let addr: std::net::SocketAddr = text.parse().map_err(|_| {
                    usage(format!(
                        "'{text}' is not HOST:PORT (e.g. 127.0.0.1:9720, or 127.0.0.1:0)"
                    ))
                })?;
                if !addr.ip().is_loopback() {
                    return Err(usage(format!("'{text}' is not a loopback address")));
                }
            }
            // The daemon's own check, on the table it would read.
            let mut merged = if shared {
                config.daemon.clone()
            } else {
                config.profile(profile).other.get("daemon").cloned()
            }
            .unwrap_or_else(|| toml::Value::Table(toml::Table::new()));
            let new: toml::Value = toml::Value::try_from(value).context("could not convert the value")?;
            put(&mut merged, daemon_key, new);
            crate::daemon::config::DaemonConfig::load(Some(&merged), &Default::default()).map_err(|e| {
                let why = e
                    .chain()
                    .find_map(|c| c.downcast_ref::<CliError>())
                    .map_or_else(|| format!("{e:#}"), |c| c.message.clone());
                CliError::new(exit::USAGE, why).hint("nothing was written")
            })?;
        }
    }
    Ok(())
}

fn put(table: &mut toml::Value, dotted: &str, value: toml::Value) {
    let mut keys: Vec<&str> = dotted.split('.').collect();
    let last = keys.pop().unwrap_or_default();
    let mut at = table;
    for key in keys {
        let toml::Value::Table(current) = at else { return };
        at = current
            .entry(key.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    }
    if let toml::Value::Table(current) = at {
        current.insert(last.to_owned(), value);
    }
}

/// Reads config.toml as a document (comments kept), applies `change`,
/// writes it back atomically.
fn edit(file: &Path, change: impl FnOnce(&mut toml_edit::DocumentMut) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let text = match crate::files::read_regular_string(file, crate::files::MAX_CONFIG) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("could not read {}", file.display())),
    };
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        CliError::new(
            exit::ERROR,
            format!("{} is not valid TOML: {}", file.display(), e.message()),
        )
        .code("config")
        .hint("fix it in an editor first")
    })?;
    change(&mut doc)?;
    paths::write_atomic(file, doc.to_string().as_bytes())
}

fn set(doc: &mut toml_edit::DocumentMut, path: &[String], value: &Value) -> anyhow::Result<()> {
    let (last, tables) = path.split_last().context("a setting has a key")?;
    let mut table = doc.as_table_mut();
    for key in tables {
        if !table.contains_key(key) {
            let mut new = toml_edit::Table::new();
            new.set_implicit(true);
            table.insert(key, toml_edit::Item::Table(new));
        }
        table = table[key.as_str()]
            .as_table_mut()
            .with_context(|| format!("'{key}' in config.toml is not a table"))?;
    }
    table.insert(last, toml_edit::value(edit_value(value)));
    Ok(())
}

fn edit_value(value: &Value) -> toml_edit::Value {
    match value {
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => (f as i64).into(),
            Some(f) => f.into(),
            None => n.to_string().into(),
        },
        Value::Array(items) => {
            let mut array = toml_edit::Array::new();
            for item in items {
                array.push(item.as_str().map_or_else(|| item.to_string(), str::to_owned));
            }
            toml_edit::Value::Array(array)
        }
        Value::String(text) => text.as_str().into(),
        other => other.to_string().into(),
    }
}

fn unset(doc: &mut toml_edit::DocumentMut, path: &[String]) -> bool {
    let Some((last, tables)) = path.split_last() else {
        return false;
    };
    let mut table = doc.as_table_mut();
    for key in tables {
        match table.get_mut(key).and_then(toml_edit::Item::as_table_mut) {
            Some(inner) => table = inner,
            None => return false,
        }
    }
    table.remove(last).is_some()
}

/// After a daemon setting changes: how a running daemon gets it.
fn daemon_note(out: &Output, setting: &Setting, paths: &Paths, profile: &str) {
    if !setting.key.starts_with("daemon.") {
        return;
    }
    let dir: PathBuf = paths.profile_state_dir(profile);
    if let Ok(Some(running)) = crate::daemon::running(&dir) {
        out.note(&format!(
            "the daemon running on {} reads it on SIGHUP or when restarted",
            running.addr
        ));
    }
}
