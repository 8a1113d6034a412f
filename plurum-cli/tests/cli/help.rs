//! Walks the whole command tree: every `--help` shows an example and never
//! a key, whatever the environment holds.

use std::process::Command;

const SENTINEL: &str = "plrm_live_SENTINELsentinelSENTINELsentinelSENTINEL123";

fn help(path: &[String]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_plurum"))
        .args(path)
        .arg("--help")
        .env("PLURUM_API_KEY", SENTINEL)
        .env("PLURUM_API_URL", "http://127.0.0.1:9/api/v1")
        .env("PLURUM_PROFILE", "sentinel-profile")
        .env("PLURUM_ALLOW_INSECURE_HTTP", "1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert!(output.status.success(), "{path:?} --help failed");
    String::from_utf8(output.stdout).unwrap()
}

/// The subcommands listed under "Commands:".
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .filter(|name| name != "help")
        .collect()
}

#[test]
fn every_command_has_an_example_and_no_key_in_its_help() {
    let mut queue: Vec<Vec<String>> = vec![Vec::new()];
    let mut seen = 0;
    while let Some(path) = queue.pop() {
        let text = help(&path);
        seen += 1;
        assert!(!text.contains("SENTINEL"), "{path:?} --help shows the key:\n{text}");
        assert!(
            !text.contains("sentinel-profile"),
            "{path:?} --help shows env values:\n{text}"
        );
        assert!(text.contains("Examples:"), "{path:?} --help has no example:\n{text}");
        // Globals set from the environment never look required.
        let usage = text.lines().find(|l| l.starts_with("Usage:")).unwrap_or_default();
        for global in ["--api-url", "--profile", "--allow-insecure-http"] {
            assert!(!usage.contains(global), "{path:?}: {usage}");
        }
        if !path.is_empty() {
            assert!(
                text.contains("Global options:"),
                "{path:?} --help has no global options heading"
            );
        }
        for name in subcommands(&text) {
            let mut next = path.clone();
            next.push(name);
            queue.push(next);
        }
    }
    assert!(seen > 35, "walked only {seen} commands");
}

/// A usage error names what is wrong in `message` (what is missing, the
/// values a closed set takes, the subcommands), its hint names the command
/// (never a `<command>` placeholder), and people see it on stderr even
/// under `--json`.
#[test]
fn usage_errors_say_what_to_fix() {
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_plurum"))
            .arg("--json")
            .args(args)
            .env("PLURUM_API_URL", "http://127.0.0.1:9/api/v1")
            .env("PLURUM_NO_KEYRING", "1")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let error = document["error"].clone();
        assert_eq!(error["code"], "usage", "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        let message = error["message"].as_str().unwrap().to_owned();
        assert!(
            stderr.contains(&message),
            "{args:?}: stderr {stderr:?} lacks {message:?}"
        );
        let hint = error["hint"].as_str().unwrap().to_owned();
        assert!(!hint.contains("<command>"), "{args:?}: {hint}");
        (message, hint)
    };
    let (message, hint) = run(&["session", "open"]);
    assert!(message.contains("<TOPIC>"), "{message}");
    assert_eq!(hint, "see 'plurum session open --help'");
    let (message, _) = run(&["experience", "create"]);
    assert!(message.contains("--goal"), "{message}");
    let (message, hint) = run(&["session", "log"]);
    assert!(message.contains("dead-end") && message.contains("note"), "{message}");
    assert_eq!(hint, "see 'plurum session log --help'");
    let (message, _) = run(&["session", "close", "--outcome", "maybe"]);
    assert!(
        message.contains("possible values") && message.contains("success"),
        "{message}"
    );
    let (message, hint) = run(&["search", "pooling", "--limit", "900"]);
    assert!(message.contains("900"), "{message}");
    assert_eq!(hint, "see 'plurum search --help'");
    let (_, hint) = run(&["no-such-command"]);
    assert_eq!(hint, "see 'plurum --help'");
}
