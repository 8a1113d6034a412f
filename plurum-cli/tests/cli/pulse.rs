//! `plurum pulse watch` as a process: JSON Lines of events, reconnect
//! notices on stderr, Ctrl-C exits 130 after closing the socket.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::common::World;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);

pub(crate) struct Watch {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

fn lines(reader: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Watch {
    pub(crate) fn start(world: &World, profile: &str, json: bool) -> Self {
        let mut command = world.process();
        command.args(["--profile", profile, "pulse", "watch", "--ping-interval", "0.3"]);
        if json {
            command.arg("--json");
        }
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        let watch = Self { child, stdout, stderr };
        watch.expect_stderr("connected to the pulse as");
        watch
    }

    pub(crate) fn expect_stderr(&self, needle: &str) -> String {
        loop {
            let line = self
                .stderr
                .recv_timeout(WAIT)
                .unwrap_or_else(|_| panic!("no stderr line with {needle:?}"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    pub(crate) fn next_line(&self) -> String {
        self.stdout.recv_timeout(WAIT).expect("an event line in time")
    }

    pub(crate) fn interrupt(self) -> (i32, Vec<String>) {
        let (code, _, stderr) = self.interrupt_all();
        (code, stderr)
    }

    /// Ctrl-C; the exit code and what was left on stdout and stderr.
    pub(crate) fn interrupt_all(mut self) -> (i32, Vec<String>, Vec<String>) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        // The pipes close with the process: read them to the end.
        let stdout: Vec<String> = self.stdout.iter().collect();
        let stderr: Vec<String> = self.stderr.iter().collect();
        (exit.code().unwrap_or(-1), stdout, stderr)
    }
}

#[test]
fn watch_prints_json_lines_survives_drops_and_exits_130_on_ctrl_c() {
    let world = World::new();
    world.register("watcher", "watcher");
    world.register("actor", "actor");
    let watch = Watch::start(&world, "watcher", true);

    world.json(&[
        "--profile",
        "actor",
        "session",
        "open",
        "Deploy FastAPI to ECS",
        "--domain",
        "deployment",
    ]);
    let line: Value = serde_json::from_str(&watch.next_line()).unwrap();
    assert_eq!(line["event_type"], "session_opened");
    assert_eq!(line["event_data"]["topic"], "Deploy FastAPI to ECS");
    assert_eq!(line["event_data"]["domain"], "deployment");
    assert!(line["created_at"].is_string());
    assert_eq!(line["source"], "pulse");
    assert_eq!(line["session_short_id"], line["event_data"]["short_id"]);

    // The socket drops; what happens meanwhile still arrives, once.
    world.faults().drop_sockets();
    watch.expect_stderr("reconnecting");
    world.json(&[
        "--profile",
        "actor",
        "session",
        "log",
        "note",
        "the task definition needs a port mapping",
    ]);
    let closed = world.json(&["--profile", "actor", "session", "close", "--outcome", "success"]);
    watch.expect_stderr("pulse: connected");
    let line: Value = serde_json::from_str(&watch.next_line()).unwrap();
    assert_eq!(line["event_type"], "session_closed");
    assert_eq!(line["event_data"]["session_id"], closed["session"]["id"]);
    assert_eq!(line["session_short_id"], closed["session"]["short_id"]);
    // Nothing doubled: the next line is the next event.
    world.json(&["--profile", "actor", "session", "open", "Pin the base image digest"]);
    let line: Value = serde_json::from_str(&watch.next_line()).unwrap();
    assert_eq!(line["event_data"]["topic"], "Pin the base image digest");

    let (code, stdout, stderr) = watch.interrupt_all();
    assert_eq!(code, 130, "exit {code}; stderr {stderr:?}");
    assert!(
        stderr.iter().any(|l| l.contains("interrupted; closed the connection")),
        "{stderr:?}"
    );
    // Every outcome is JSON: the stream ends with an error line.
    let last: Value = serde_json::from_str(stdout.last().expect("a last line")).unwrap();
    assert_eq!(last["error"]["code"], "interrupted");
}

#[test]
fn watch_prints_one_line_per_event_for_people() {
    let world = World::new();
    world.register("watcher", "watcher");
    world.register("actor", "actor");
    let opened = world.json(&["--profile", "watcher", "session", "open", "Keep the build cache warm"]);
    let short = opened["session"]["short_id"].as_str().unwrap().to_owned();
    let watch = Watch::start(&world, "watcher", false);
    world.json(&[
        "--profile",
        "actor",
        "session",
        "contribute",
        &short,
        "Key it on Cargo.lock",
        "--type",
        "warning",
    ]);
    let line = watch.next_line();
    let actor = world.json(&["--profile", "actor", "whoami"])["id"].as_str().unwrap()[..8].to_owned();
    assert!(
        line.starts_with(&format!("warning from agent {actor} on your session")),
        "{line}"
    );
    assert!(line.ends_with("Key it on Cargo.lock"), "{line}");
    let (code, _) = watch.interrupt();
    assert_eq!(code, 130);
}

#[test]
fn watch_with_a_rejected_key_exits_4() {
    let world = World::new();
    let output = world
        .plurum()
        .env("PLURUM_API_KEY", crate::common::SENTINEL)
        .args(["pulse", "watch"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the pulse rejected the API key"), "{stderr}");
    assert!(!stderr.contains("SENTINEL"));
}
