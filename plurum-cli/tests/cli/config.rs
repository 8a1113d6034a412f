//! `plurum config`: every setting the CLI reads, checked on `set`, written
//! without losing the file's comments; a file with mistakes warns and never
//! stops unrelated commands.

use serde_json::{Value, json};

use crate::common::World;

fn config_file(world: &World) -> std::path::PathBuf {
    world.config_dir().join("config.toml")
}

fn usage_error(world: &World, args: &[&str]) -> Value {
    let output = world.plurum().arg("--json").args(args).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn set_get_unset_list_and_path() {
    let world = World::new();
    std::fs::create_dir_all(world.config_dir()).unwrap();
    std::fs::write(
        config_file(&world),
        "# my settings, keep this comment\n[profiles.default]\nfocus = \"old\" # and this one\n",
    )
    .unwrap();

    let set = world.json(&["config", "set", "focus", "PostgreSQL", "replication", "lag"]);
    assert_eq!(set["value"], "PostgreSQL replication lag");
    assert_eq!(set["previous"], "old");
    assert_eq!(
        world.json(&["config", "get", "focus"])["value"],
        "PostgreSQL replication lag"
    );
    world.json(&["config", "set", "domains", "infrastructure,databases"]);
    world.json(&["config", "set", "tools", "postgresql", "pgbouncer"]);
    world.json(&["config", "set", "daemon.drives.trigger_threshold", "7.5"]);
    world.json(&["config", "set", "--shared", "daemon.wake.max_turns_per_hour", "4"]);
    world.json(&["config", "set", "daemon.wake.command", "my-agent", "--wake"]);
    let text = std::fs::read_to_string(config_file(&world)).unwrap();
    assert!(text.contains("# my settings, keep this comment"), "{text}");
    assert!(
        text.contains("[daemon.wake]") && text.contains("max_turns_per_hour = 4"),
        "{text}"
    );

    let list = world.json(&["config", "list"]);
    let row = |key: &str| {
        list["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == key)
            .unwrap_or_else(|| panic!("{key} not listed"))
            .clone()
    };
    assert_eq!(
        row("domains")["value"],
        serde_json::json!(["infrastructure", "databases"])
    );
    assert_eq!(row("tools")["value"], serde_json::json!(["postgresql", "pgbouncer"]));
    assert_eq!(row("daemon.drives.trigger_threshold")["value"], 7.5);
    assert_eq!(row("daemon.drives.trigger_threshold")["source"], "profile");
    assert_eq!(row("daemon.wake.max_turns_per_hour")["source"], "shared");
    assert_eq!(
        row("daemon.wake.command")["value"],
        serde_json::json!(["my-agent", "--wake"])
    );
    assert_eq!(row("daemon.drives.max_pressure")["source"], "default");
    assert_eq!(row("api_url")["source"], "default");
    // The daemon reads what was written.
    let daemon = world.json(&["daemon", "config"]);
    assert_eq!(daemon["config"]["drives"]["trigger_threshold"], 7.5);
    assert_eq!(daemon["config"]["wake"]["max_turns_per_hour"], 4.0);

    let unset = world.json(&["config", "unset", "focus"]);
    assert_eq!(unset["removed"], true);
    assert_eq!(world.json(&["config", "get", "focus"])["source"], "default");
    let again = world.json(&["config", "unset", "focus"]);
    assert_eq!(again["removed"], false);

    let path = world.json(&["config", "path"]);
    assert_eq!(path["config_file"], config_file(&world).to_str().unwrap());
    assert_eq!(path["exists"], true);
    // Another profile has its own settings.
    world.json(&["--profile", "work", "config", "set", "focus", "Kafka consumers"]);
    assert_eq!(world.json(&["config", "get", "focus"])["value"], Value::Null);
    assert_eq!(
        world.json(&["--profile", "work", "config", "get", "focus"])["value"],
        "Kafka consumers"
    );
}

#[test]
fn set_checks_the_value_before_writing() {
    let world = World::new();
    world.json(&["config", "set", "focus", "something to search for"]);
    let before = std::fs::read_to_string(config_file(&world)).unwrap();
    let cases: [(&[&str], &str); 8] = [
        (&["config", "set", "focs", "x"], "did you mean 'focus'"),
        (&["config", "set", "focus", "x"], "focus"),
        (&["config", "set", "api_url", "ftp://example.com"], "http"),
        (
            &["config", "set", "daemon.drives.trigger_threshold", "-3"],
            "trigger_threshold",
        ),
        (
            &["config", "set", "daemon.drives.trigger_threshold", "lots"],
            "not a number",
        ),
        (&["config", "set", "daemon.api.addr", "0.0.0.0:9720"], "loopback"),
        (&["config", "set", "daemon.api.auth", "maybe"], "true or false"),
        (&["config", "set", "--shared", "focus", "abc"], "--shared"),
    ];
    for (args, needle) in cases {
        let error = usage_error(&world, args);
        let text = format!("{} {}", error["error"]["message"], error["error"]["hint"]);
        assert!(text.contains(needle), "{args:?}: {text}");
    }
    assert_eq!(
        std::fs::read_to_string(config_file(&world)).unwrap(),
        before,
        "nothing written"
    );
    let error = usage_error(&world, &["config", "get", "daemon.drives.trigger_treshold"]);
    assert!(
        error["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("daemon.drives.trigger_threshold"),
        "{error}"
    );
}

#[test]
fn mistakes_in_the_file_warn_by_name_and_stop_nothing_else() {
    let world = World::new();
    world.register("default", "tolerant");
    std::fs::write(
        config_file(&world),
        "[profiles.default]\n\
         domians = [\"infrastructure\"]\n\
         tools = \"postgresql\"\n\
         focus = \"PostgreSQL replication\"\n\
         [profiles.default.daemon.drives]\n\
         trigger_treshold = 7\n\
         [daemon.wake]\n\
         max_turns_per_hour = \"many\"\n",
    )
    .unwrap();
    let output = world.plurum().args(["--json", "whoami"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8(output.stderr).unwrap();
    for expected in [
        "unknown key 'profiles.default.domians' (did you mean 'profiles.default.domains'?)",
        "profiles.default.tools must be a list of strings (got a string)",
        "did you mean 'profiles.default.daemon.drives.trigger_threshold'?",
        "daemon.wake.max_turns_per_hour must be a number (got a string)",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in:\n{stderr}");
    }
    // What is right is still used.
    assert_eq!(
        world.json(&["config", "get", "focus"])["value"],
        "PostgreSQL replication"
    );
    let list = world.json(&["config", "list"]);
    assert_eq!(list["warnings"].as_array().unwrap().len(), 4, "{list}");
    // The daemon, which would read the wrong type, refuses with the key named.
    let daemon = world.plurum().args(["--json", "daemon", "config"]).output().unwrap();
    assert_eq!(daemon.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&daemon.stdout).contains("max_turns_per_hour"));
}

#[test]
fn the_heartbeat_help_names_the_keys_that_steer_it_and_uses_them() {
    let world = World::new();
    let help = world.plurum().args(["heartbeat", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for key in ["focus", "domains", "tools", "plurum config set"] {
        assert!(help.contains(key), "heartbeat --help does not name {key}");
    }
    world.register("default", "focused");
    world.json(&["config", "set", "focus", "replication lag"]);
    let beat = world.json(&["heartbeat"]);
    assert_eq!(beat["search"]["source"], "profile_focus");
    assert_eq!(beat["search"]["query"], "replication lag");
    assert_eq!(beat["steps"]["search"], "ok");
}

/// Global flags after the values of `config set` are flags, not values; a
/// value that starts with `--` comes after `--`. The change is said once.
#[test]
fn flags_after_the_values_of_config_set_are_flags() {
    let world = World::new();
    let output = world
        .plurum()
        .args(["config", "set", "domains", "infrastructure,databases", "--jq", ".value"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        r#"["infrastructure","databases"]"#
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("are flags now"));
    let stored = world.json(&["config", "get", "domains"]);
    assert_eq!(stored["value"], json!(["infrastructure", "databases"]));
    // The second time, no warning.
    let again = world
        .plurum()
        .args(["config", "set", "tools", "postgresql", "--json"])
        .output()
        .unwrap();
    let document: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(document["value"], json!(["postgresql"]));
    assert!(!String::from_utf8_lossy(&again.stderr).contains("are flags now"));
    // A value that starts with `--`, after `--`.
    world.json(&["config", "set", "daemon.wake.command", "my-agent", "--", "--wake"]);
    let command = world.json(&["config", "get", "daemon.wake.command"]);
    assert_eq!(command["value"], json!(["my-agent", "--wake"]));
    // An error with --json after the value is one JSON document.
    let refused = world
        .plurum()
        .args(["config", "set", "tools", "", "--json"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let error: Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(error["error"]["code"], "usage");
    assert_eq!(
        world.json(&["config", "get", "tools"])["value"],
        json!(["postgresql"]),
        "nothing was written"
    );
}

#[test]
fn config_list_fits_the_width_it_is_given() {
    let world = World::new();
    for (columns, width) in [(None, 100), (Some("60"), 60), (Some("200"), 200)] {
        let mut command = world.plurum();
        command.env_remove("COLUMNS");
        if let Some(columns) = columns {
            command.env("COLUMNS", columns);
        }
        let output = command.args(["config", "list"]).output().unwrap();
        let text = String::from_utf8(output.stdout).unwrap();
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest <= width, "{widest} > {width} columns:\n{text}");
        // A long value is cut where it must be, and whole in JSON and get.
        let line = text
            .lines()
            .find(|l| l.starts_with("daemon.mutator.allowed_fields"))
            .unwrap();
        assert!(line.contains('…') || width >= 200, "{line}");
    }
    let whole = world.json(&["config", "get", "daemon.mutator.allowed_fields"]);
    assert!(whole["value"].as_array().unwrap().len() > 5, "{whole}");
}
