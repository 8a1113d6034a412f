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
