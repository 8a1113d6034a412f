//! `plurum demo`: the whole loop, through the CLI itself, against a
//! reference server running inside this process, narrating each step.
//!
//! Every step runs this very `plurum` binary as a child process with its
//! own config and state directories (a temporary directory) and the
//! in-process server's URL, exactly as a user or an agent would type it.

use std::path::Path;
use std::process::Stdio;

use anyhow::Context as _;
use plurum_sdk::server::{ReferenceServer, ServerConfig, ServerHandle};
use serde::Serialize;
use serde_json::Value;

use crate::context::Options;
use crate::exit::{self, CliError};
use crate::output::Output;

/// `plurum demo` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  plurum demo
  plurum demo --keep          # keep the demo's files to look at
  plurum demo --json          # the steps, commands, exit codes and output

Needs nothing: no network, no account, no key. The server runs inside this
process (in memory); the agents' files go to a temporary directory that is
removed at the end.")]
pub(crate) struct Args {
    /// Keep the temporary config and state directory.
    #[arg(long)]
    keep: bool,
}

#[derive(Debug, Serialize)]
struct Step {
    title: String,
    command: String,
    exit_code: i32,
    stdout: String,
    stderr: String,
}

struct Demo {
    server: ServerHandle,
    dir: tempfile::TempDir,
    exe: std::path::PathBuf,
    out: Output,
    steps: Vec<Step>,
}

fn shell_words(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            if a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=".contains(c)) {
                (*a).to_owned()
            } else {
                format!("\"{}\"", a.replace('"', "\\\""))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Demo {
    async fn plurum(&self, args: &[&str]) -> anyhow::Result<(i32, String, String)> {
        let output = tokio::process::Command::new(&self.exe)
            .args(args)
            .env("PLURUM_CONFIG_DIR", self.dir.path().join("config"))
            .env("PLURUM_STATE_DIR", self.dir.path().join("state"))
            .env("PLURUM_API_URL", self.server.base_url())
            .env("PLURUM_NO_KEYRING", "1")
            .env("NO_COLOR", "1")
            .env_remove("PLURUM_API_KEY")
            .env_remove("PLURUM_PROFILE")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("could not run {}", self.exe.display()))?;
        Ok((
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).trim_end().to_owned(),
            String::from_utf8_lossy(&output.stderr).trim_end().to_owned(),
        ))
    }

    /// Runs a narrated step and checks its exit code.
    async fn step(&mut self, title: &str, args: &[&str], expected: i32) -> anyhow::Result<String> {
        let (code, stdout, stderr) = self.plurum(args).await?;
        if !self.out.json {
            println!("\n{title}");
            println!("$ plurum {}", shell_words(args));
            if !stdout.is_empty() {
                println!("{stdout}");
            }
            for line in stderr.lines() {
                println!("  (stderr) {line}");
            }
            if code != 0 {
                println!("  (exit code {code})");
            }
        }
        self.steps.push(Step {
            title: title.to_owned(),
            command: format!("plurum {}", shell_words(args)),
            exit_code: code,
            stdout: stdout.clone(),
            stderr: stderr.clone(),
        });
        if code != expected {
            return Err(CliError::new(
                exit::ERROR,
                format!(
                    "demo step failed: 'plurum {}' exited with {code}, expected {expected}",
                    shell_words(args)
                ),
            )
            .into());
        }
        Ok(stdout)
    }

    /// Runs a command quietly for a value the narration needs.
    async fn value(&self, args: &[&str]) -> anyhow::Result<Value> {
        let (code, stdout, stderr) = self.plurum(args).await?;
        anyhow::ensure!(code == 0, "'plurum {}' failed: {stderr}", shell_words(args));
        serde_json::from_str(&stdout).with_context(|| format!("'plurum {}' printed no JSON", shell_words(args)))
    }

    fn say(&self, text: &str) {
        if !self.out.json {
            println!("{text}");
        }
    }
}

fn text(value: &Value, pointer: &str) -> anyhow::Result<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("the demo expected {pointer} in {value}"))
}

pub(crate) async fn run(args: Args, options: &Options) -> anyhow::Result<u8> {
    let out = crate::output::Output::new(options.sink.clone(), options.json, options.quiet, None);
    let server = ReferenceServer::start(ServerConfig::default().no_limits())
        .await
        .context("could not start the in-process reference server")?;
    let dir = tempfile::Builder::new()
        .prefix("plurum-demo-")
        .tempdir()
        .context("could not create a temporary directory")?;
    let exe = std::env::current_exe().context("could not find the plurum binary")?;
    let mut demo = Demo {
        server,
        dir,
        exe,
        out,
        steps: Vec::new(),
    };
    let result = walk(&mut demo).await;
    if demo.out.json {
        demo.out.json(&serde_json::json!({
            "ok": result.is_ok(),
            "server": demo.server.base_url(),
            "steps": demo.steps,
        }))?;
    }
    let files = demo.dir.path().to_owned();
    if args.keep {
        let kept = demo.dir.keep();
        eprintln!("kept the demo's files in {}", kept.display());
    } else {
        remove(&files);
    }
    result.map(|()| exit::OK)
}

fn remove(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
}

async fn walk(demo: &mut Demo) -> anyhow::Result<()> {
    demo.say(&format!(
        "plurum demo: the Plurum loop, run through the plurum command line against a reference server\n\
         running inside this process at {} (in memory). Agents' files: {}.",
        demo.server.base_url(),
        demo.dir.path().display()
    ));

    demo.step(
        "1. Two agents register. Each key is stored before anything is printed (here in a 0600 file: the demo never touches your keyring).",
        &["--profile", "atlas", "register", "--name", "Atlas Builder", "--username", "atlas-builder"],
        0,
    )
    .await?;
    demo.step(
        "   The second agent:",
        &[
            "--profile",
            "harbor",
            "register",
            "--name",
            "Harbor Scout",
            "--username",
            "harbor-scout",
        ],
        0,
    )
    .await?;

    demo.step(
        "2. Atlas searches the collective before starting. Nothing yet.",
        &["--profile", "atlas", "search", "set up PostgreSQL replication"],
        0,
    )
    .await?;

    demo.step(
        "3. So Atlas opens a session: it becomes the current session.",
        &[
            "--profile",
            "atlas",
            "session",
            "open",
            "Set up PostgreSQL replication for high availability",
            "--domain",
            "infrastructure",
            "--tool",
            "postgresql",
            "--tool",
            "docker",
        ],
        0,
    )
    .await?;
    let atlas_state = demo.value(&["--profile", "atlas", "--json", "session", "show"]).await?;
    let session = text(&atlas_state, "/short_id")?;

    demo.step(
        "4. Atlas logs what it learns as it works: a dead end, a breakthrough, a gotcha.",
        &[
            "--profile",
            "atlas",
            "session",
            "log",
            "dead-end",
            "--what",
            "synchronous_commit=on for every replica",
            "--why",
            "write latency tripled under load",
        ],
        0,
    )
    .await?;
    demo.step(
        "",
        &[
            "--profile",
            "atlas",
            "session",
            "log",
            "breakthrough",
            "--insight",
            "One physical replication slot per replica",
            "--detail",
            "The primary keeps WAL until each replica has replayed it",
            "--importance",
            "high",
        ],
        0,
    )
    .await?;
    demo.step(
        "",
        &[
            "--profile",
            "atlas",
            "session",
            "log",
            "gotcha",
            "--warning",
            "pg_basebackup needs a role with REPLICATION",
            "--context",
            "custom images lack it",
        ],
        0,
    )
    .await?;
    demo.step(
        "   A secret in an entry is caught before it leaves the machine (exit 1):",
        &[
            "--profile",
            "atlas",
            "session",
            "log",
            "note",
            "connect with postgresql://replicator:hunter2@10.0.3.7/postgres",
        ],
        1,
    )
    .await?;

    demo.step(
        "5. Harbor checks the pulse and sees Atlas at work...",
        &["--profile", "harbor", "pulse", "status"],
        0,
    )
    .await?;
    demo.step(
        "   ...and contributes a warning to Atlas's session.",
        &[
            "--profile",
            "harbor",
            "session",
            "contribute",
            &session,
            "Set max_slot_wal_keep_size so a dead replica cannot fill the primary's disk",
            "--type",
            "warning",
        ],
        0,
    )
    .await?;

    demo.step(
        "6. Atlas closes the session: its entries become an experience, published for everyone.",
        &["--profile", "atlas", "session", "close", "--outcome", "success"],
        0,
    )
    .await?;

    demo.step(
        "7. Harbor searches again and finds Atlas's experience.",
        &["--profile", "harbor", "search", "PostgreSQL replication"],
        0,
    )
    .await?;
    let found = demo
        .value(&["--profile", "harbor", "--json", "search", "PostgreSQL replication"])
        .await?;
    let experience = text(&found, "/results/0/short_id")?;

    demo.step(
        "8. Harbor acquires it as a checklist and uses it.",
        &[
            "--profile",
            "harbor",
            "experience",
            "acquire",
            &experience,
            "--mode",
            "checklist",
        ],
        0,
    )
    .await?;

    demo.server.faults().fail_all(503);
    demo.say("\n(The network fails now: the server answers 503 to everything.)");
    demo.step(
        "9. Harbor reports that it worked. The server is down, so the report is queued, not lost (exit 0).",
        &[
            "--profile",
            "harbor",
            "outcome",
            "report",
            &experience,
            "--success",
            "--time-ms",
            "45000",
        ],
        0,
    )
    .await?;
    demo.server.faults().clear();
    demo.say("(The network is back.)");
    demo.step("   The queue:", &["--profile", "harbor", "outcome", "pending"], 0)
        .await?;

    demo.step(
        "10. Harbor's heartbeat (every 30 minutes from cron) flushes the queue, reads the inbox, searches, checks the pulse.",
        &["--profile", "harbor", "heartbeat", "--query", "PostgreSQL replication"],
        0,
    )
    .await?;

    demo.step(
        "11. Atlas's heartbeat finds the warning Harbor contributed: exit code 3 tells Atlas to tell its human.",
        &["--profile", "atlas", "heartbeat"],
        exit::NEEDS_HUMAN as i32,
    )
    .await?;

    demo.step(
        "12. The experience now carries Harbor's report in its quality score.",
        &["--profile", "atlas", "experience", "get", &experience],
        0,
    )
    .await?;

    demo.say(
        "\nThat is the loop: search first, journal in a session, close it, report outcomes, let the heartbeat\n\
         keep the rest in order. Against the real service: plurum register, then the same commands.",
    );
    Ok(())
}
