//! The repository's documents against the packages: files each crate ships
//! a copy of are equal to the repository's, and what the README shows is
//! what the binary does. (These tests live here, in a crate that is never
//! published, because the root files are not part of either package.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Each pair: the file a package ships (the source) and the repository's copy.
const COPIES: &[(&str, &str)] = &[
    ("plurum-cli/SKILL.md", "SKILL.md"),
    ("plurum-cli/docs/json.md", "docs/json.md"),
    ("LICENSE-MIT", "plurum-cli/LICENSE-MIT"),
    ("LICENSE-MIT", "plurum-sdk/LICENSE-MIT"),
    ("LICENSE-APACHE", "plurum-cli/LICENSE-APACHE"),
    ("LICENSE-APACHE", "plurum-sdk/LICENSE-APACHE"),
    ("LICENSE-MIT", "python/LICENSE-MIT"),
    ("LICENSE-APACHE", "python/LICENSE-APACHE"),
];

#[test]
fn copies_shipped_by_the_packages_equal_the_repository_files() {
    let mut differ = Vec::new();
    for (source, copy) in COPIES {
        if read(source) != read(copy) {
            differ.push(format!("cp {source} {copy}"));
        }
    }
    assert!(
        differ.is_empty(),
        "copies out of date; bring them back with:\n{}",
        differ.join("\n")
    );
}

#[test]
fn both_packages_declare_the_licenses_they_ship() {
    for krate in ["plurum-sdk", "plurum-cli"] {
        let manifest: toml::Table = toml::from_str(&read(&format!("{krate}/Cargo.toml"))).unwrap();
        let package = manifest["package"].as_table().unwrap();
        assert_eq!(
            package["license"].as_table().map(|t| t.contains_key("workspace")),
            Some(true),
            "{krate} takes the workspace's license"
        );
        for file in ["LICENSE-MIT", "LICENSE-APACHE"] {
            assert!(root().join(krate).join(file).is_file(), "{krate}/{file}");
        }
    }
    let workspace: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
    assert_eq!(
        workspace["workspace"]["package"]["license"].as_str(),
        Some("MIT OR Apache-2.0")
    );
    assert!(read("LICENSE-APACHE").contains("Apache License\n                        Version 2.0"));
    assert!(read("LICENSE-MIT").starts_with("Copyright (c)"));
}

/// Flattens a TOML table into `prefix.key` leaves.
fn leaves(prefix: &str, table: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (key, value) in table {
        let name = format!("{prefix}.{key}");
        match value {
            toml::Value::Table(inner) => leaves(&name, inner, out),
            other => out.push((name, other.clone())),
        }
    }
}

/// The daemon guide's settings block shows the defaults the binary uses
/// (the wake command aside, which has none).
#[test]
fn the_daemon_guide_shows_the_daemons_defaults() {
    let readme = read("docs/daemon.md");
    let start = readme
        .find("[profiles.default.daemon]\n")
        .expect("docs/daemon.md shows the daemon's settings");
    let block = &readme[start..start + readme[start..].find("```").unwrap()];
    let file: toml::Table = toml::from_str(block).unwrap();
    let daemon = file["profiles"]["default"]["daemon"].as_table().unwrap();
    let mut shown = Vec::new();
    leaves("daemon", daemon, &mut shown);

    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(plurum_tests::plurum_binary())
        .args(["config", "list", "--json"])
        .env("PLURUM_CONFIG_DIR", dir.path().join("config"))
        .env("PLURUM_STATE_DIR", dir.path().join("state"))
        .env_remove("PLURUM_PROFILE")
        .env_remove("PLURUM_API_URL")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let defaults: Vec<(&str, &Value)> = listed["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["key"].as_str().unwrap(), &s["value"]))
        .collect();

    assert!(shown.len() >= 20, "the block lost its settings: {shown:?}");
    for (key, value) in &shown {
        if key == "daemon.wake.command" {
            continue;
        }
        let (_, default) = defaults
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("docs/daemon.md shows {key}, which plurum does not know"));
        let same = match value {
            toml::Value::Integer(n) => default.as_f64() == Some(*n as f64),
            toml::Value::Float(n) => default.as_f64() == Some(*n),
            toml::Value::Boolean(b) => default.as_bool() == Some(*b),
            toml::Value::String(s) => default.as_str() == Some(s),
            other => panic!("{key}: unexpected {other:?}"),
        };
        assert!(
            same,
            "docs/daemon.md says {key} = {value}, plurum's default is {default}"
        );
    }
}

/// How many reports a flush sends at once is one number: the code's
/// constant, and what the guide and the heartbeat benchmark say.
#[test]
fn the_flush_concurrency_is_one_number() {
    let code = read("plurum-cli/src/outbox.rs");
    let declared = code
        .lines()
        .find_map(|l| l.trim().strip_prefix("pub(crate) const FLUSH_CONCURRENCY: usize = "))
        .and_then(|rest| rest.trim_end_matches(';').parse::<usize>().ok())
        .expect("FLUSH_CONCURRENCY in outbox.rs");
    assert!(
        read("docs/cli.md").contains(&format!("{declared} at a time")),
        "docs/cli.md does not say {declared} at a time"
    );
    assert!(
        read("benches/heartbeat.sh").contains(&format!("CONCURRENCY={declared}\n")),
        "benches/heartbeat.sh does not use {declared}"
    );
    let changelog = read("CHANGELOG.md");
    for other in [8, 16, 64] {
        assert!(
            !changelog.contains(&format!("{other} at a time")),
            "CHANGELOG.md says {other} at a time"
        );
    }
}

/// docs/state.md's table of versions ends at the version the code writes.
#[test]
fn the_state_versions_are_listed_up_to_the_current_one() {
    let code = read("plurum-cli/src/state/mod.rs");
    let current: u32 = code
        .lines()
        .find_map(|l| l.trim().strip_prefix("pub(crate) const SCHEMA_VERSION: u32 = "))
        .and_then(|rest| rest.trim_end_matches(';').parse().ok())
        .expect("SCHEMA_VERSION in state/mod.rs");
    let doc = read("docs/state.md");
    let listed: Vec<u32> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(
        listed,
        (1..=current).collect::<Vec<_>>(),
        "docs/state.md lists {listed:?}"
    );
}
