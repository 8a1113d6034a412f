//! The `plurum` binary as a process: version and help.

use assert_cmd::Command;
use predicates::prelude::*;

fn plurum() -> Command {
    let mut cmd = Command::cargo_bin("plurum").unwrap();
    cmd.env_remove("RUST_BACKTRACE");
    cmd
}

#[test]
fn version_names_the_version_commit_target_and_tls_provider() {
    let output = plurum().arg("--version").output().unwrap();
    assert!(output.status.success());
    let line = String::from_utf8(output.stdout).unwrap();
    let prefix = format!("plurum {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(line.starts_with(&prefix), "{line}");
    assert!(
        line.trim_end().ends_with(')') && line.contains(", rustls with "),
        "{line}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&plurum().args(["--version", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(json["name"], "plurum");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    let target = json["target"].as_str().unwrap();
    assert!(
        target.contains(std::env::consts::ARCH) && line.contains(target),
        "{json}"
    );
    assert!(["ring", "aws-lc-rs"].contains(&json["tls_provider"].as_str().unwrap()));
    // In a git checkout the build knows its commit (CI and releases set
    // PLURUM_BUILD_COMMIT); an unpacked crate may not.
    let in_checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .any(|dir| dir.join(".git").exists());
    if in_checkout {
        let commit = json["commit"].as_str().expect("a commit");
        assert!(
            commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit()),
            "{commit}"
        );
    }
    let picked = plurum().args(["--version", "--jq", ".tls_provider"]).output().unwrap();
    assert_eq!(String::from_utf8(picked.stdout).unwrap().trim(), json["tls_provider"]);
}

#[test]
fn help_describes_the_tool_with_an_example() {
    plurum()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("The Plurum agent companion"))
        .stdout(predicate::str::contains("Examples:"));
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    plurum()
        .arg("--no-such-flag")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--no-such-flag"));
}

#[test]
fn without_a_home_the_error_names_both_directory_variables() {
    for vars in [&[][..], &[("PLURUM_CONFIG_DIR", "/tmp/plurum-config-only")]] {
        let mut cmd = plurum();
        for name in [
            "HOME",
            "PLURUM_CONFIG_DIR",
            "PLURUM_STATE_DIR",
            "XDG_CONFIG_HOME",
            "XDG_STATE_HOME",
        ] {
            cmd.env_remove(name);
        }
        for (name, value) in vars {
            cmd.env(name, value);
        }
        cmd.args(["--profile", "nobody", "outcome", "pending"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("PLURUM_CONFIG_DIR"))
            .stderr(predicate::str::contains("PLURUM_STATE_DIR"));
    }
}
