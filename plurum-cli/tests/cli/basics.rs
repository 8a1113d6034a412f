//! The `plurum` binary as a process: version and help.

use assert_cmd::Command;
use predicates::prelude::*;

fn plurum() -> Command {
    let mut cmd = Command::cargo_bin("plurum").unwrap();
    cmd.env_remove("RUST_BACKTRACE");
    cmd
}

#[test]
fn version_prints_name_and_version() {
    plurum()
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("plurum {}\n", env!("CARGO_PKG_VERSION")));
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
