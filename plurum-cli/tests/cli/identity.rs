//! Identity is never lost: a working key is not overwritten by a second
//! `register`, a replaced one is backed up, and a session that stops being
//! current stays reachable.

use serde_json::Value;

use crate::common::{SENTINEL, World, mode};

fn stdout_json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn register_never_overwrites_a_working_key_without_force_and_backs_it_up() {
    let world = World::new();
    let first = world.register("default", "first-agent");
    let first_key = world.stored_key("default");

    // A second register on the same profile: refused, nothing changed.
    let output = world
        .plurum()
        .args(["--json", "register", "--name", "Second", "--username", "second-agent"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let refused = stdout_json(&output);
    assert_eq!(refused["error"]["code"], "identity_exists");
    assert!(
        refused["error"]["message"].as_str().unwrap().contains("first-agent"),
        "{refused}"
    );
    assert!(refused["error"]["hint"].as_str().unwrap().contains("--profile"));
    assert_eq!(world.stored_key("default"), first_key);
    let available = world
        .block_on(world.client("default").agents().check_username("second-agent"))
        .unwrap();
    assert!(available.available, "nothing was registered");

    // --force: the old key goes to a private backup first.
    let forced = world.json(&["register", "--name", "Second", "--username", "second-agent", "--force"]);
    let backup = std::path::PathBuf::from(forced["old_key_backup"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(&backup).unwrap().trim(), first_key);
    assert_eq!(mode(&backup), 0o600);
    assert_eq!(mode(backup.parent().unwrap()), 0o700);
    assert_ne!(world.stored_key("default"), first_key);
    assert_eq!(world.json(&["whoami"])["username"], "second-agent");
    // The first agent is still reachable with the backed-up key.
    let back = world
        .plurum()
        .args(["--api-key-file", backup.to_str().unwrap(), "--json", "whoami"])
        .output()
        .unwrap();
    assert_eq!(stdout_json(&back)["id"], first["id"]);

    // A stored key the server rejects is replaced without --force (and
    // still backed up).
    let credentials = world.config_dir().join("credentials.toml");
    let text = std::fs::read_to_string(&credentials).unwrap();
    let current = world.stored_key("default");
    std::fs::write(&credentials, text.replace(&current, SENTINEL)).unwrap();
    let replaced = world.json(&["register", "--name", "Third", "--username", "third-agent"]);
    let backup = replaced["old_key_backup"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(backup).unwrap().trim(), SENTINEL);

    // A key that cannot be checked now (server down) is not replaced.
    let output = world
        .plurum()
        .args(["--api-url", "http://127.0.0.1:9/api/v1", "--json"])
        .args(["register", "--name", "Fourth", "--username", "fourth-agent"])
        .output()
        .unwrap();
    assert_ne!(output.status.code(), Some(0));
    assert_eq!(world.json(&["whoami"])["username"], "third-agent");
}

#[test]
fn a_session_that_stops_being_current_can_be_used_again() {
    let world = World::new();
    world.register("default", "juggler");
    world.register("other", "other-agent");
    let first = world.json(&["session", "open", "Rotate the TLS certificates"]);
    let first_short = first["session"]["short_id"].as_str().unwrap().to_owned();
    let second = world
        .plurum()
        .args(["--json", "session", "open", "Upgrade the load balancer"])
        .output()
        .unwrap();
    assert!(second.status.success());
    let warning = String::from_utf8_lossy(&second.stderr);
    assert!(
        warning.contains(&format!("session {first_short}")) && warning.contains("still open on the server"),
        "{warning}"
    );
    assert!(
        warning.contains(&format!("plurum session use {first_short}")),
        "{warning}"
    );
    let second_short = stdout_json(&second)["session"]["short_id"].as_str().unwrap().to_owned();

    // Both are open and listed as mine.
    let open = world.json(&["session", "list", "--mine", "--status", "open"]);
    let listed: Vec<&str> = open["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["short_id"].as_str().unwrap())
        .collect();
    assert!(
        listed.contains(&first_short.as_str()) && listed.contains(&second_short.as_str()),
        "{open}"
    );

    // Back to the first: logs go there.
    let used = world.json(&["session", "use", &first_short]);
    assert_eq!(used["session"]["short_id"], first_short.as_str());
    assert_eq!(used["previous"]["short_id"], second_short.as_str());
    let logged = world.json(&["session", "log", "note", "renewed the wildcard certificate"]);
    assert_eq!(logged["session_short_id"], first_short.as_str());

    // Someone else's session, a closed one, or a bad id cannot be used.
    let theirs = world.json(&["--profile", "other", "session", "open", "Someone else's work"]);
    let theirs = theirs["session"]["short_id"].as_str().unwrap();
    world.plurum().args(["session", "use", theirs]).assert().code(2);
    world.json(&["session", "close", &second_short, "--outcome", "success"]);
    world.plurum().args(["session", "use", &second_short]).assert().code(2);
    world.plurum().args(["session", "use", "not-an-id"]).assert().code(2);
    assert_eq!(
        world.state("default")["currentSession"]["short_id"],
        first_short.as_str()
    );
}
