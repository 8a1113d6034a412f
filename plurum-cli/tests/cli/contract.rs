//! The `--json` contract, walked over the whole command tree: every leaf
//! command runs once to success and at least once to a forced failure, each
//! with `--json`. stdout must be exactly one JSON document (JSON Lines for
//! the two streams), a failure carries `error.code`, `error.message` and
//! `error.hint`, and the exit code is the one the same run has without
//! `--json`. A new command without a row in the table fails the test.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::daemon::Daemon;
use crate::common::{SENTINEL, World};
use crate::contract_table::table;
use crate::json_doc::JsonDoc;
use crate::pulse::Watch;

/// One run of a leaf command.
pub(super) struct Run {
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    stdin: Option<String>,
    exit: i32,
    /// The `error.code` of a failure (None: a success).
    code: Option<&'static str>,
    /// Remember a string of the document under a name, for later rows.
    capture: Option<(&'static str, &'static str)>,
    /// The reference server answers every request with this status.
    fault: Option<u16>,
    /// Fails only because of --json, or changes what a second run would
    /// see: no run without --json to compare.
    json_only: bool,
    /// The docs/json.md heading of the document (default: the leaf).
    doc: Option<&'static str>,
}

pub(super) fn ok(args: &[&str]) -> Run {
    Run {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        env: Vec::new(),
        stdin: None,
        exit: 0,
        code: None,
        capture: None,
        fault: None,
        json_only: false,
        doc: None,
    }
}

pub(super) fn fails(args: &[&str], exit: i32, code: &'static str) -> Run {
    Run {
        exit,
        code: Some(code),
        ..ok(args)
    }
}

impl Run {
    pub(super) fn env(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.env.push((name, value.into()));
        self
    }

    pub(super) fn stdin(mut self, text: impl Into<String>) -> Self {
        self.stdin = Some(text.into());
        self
    }

    pub(super) fn capture(mut self, name: &'static str, pointer: &'static str) -> Self {
        self.capture = Some((name, pointer));
        self
    }

    pub(super) fn exit(mut self, exit: i32) -> Self {
        self.exit = exit;
        self
    }

    pub(super) fn doc(mut self, heading: &'static str) -> Self {
        self.doc = Some(heading);
        self
    }

    pub(super) fn json_only(mut self) -> Self {
        self.json_only = true;
        self
    }

    pub(super) fn fault(mut self, status: u16) -> Self {
        self.fault = Some(status);
        self
    }

    /// With the key replaced by one the server rejects.
    pub(super) fn bad_key(self) -> Self {
        self.env("PLURUM_API_KEY", SENTINEL)
    }
}

/// What one run printed.
struct Outcome {
    exit: i32,
    stdout: String,
    stderr: String,
}

fn execute(world: &World, run: &Run, json: bool, extra_env: &[(&str, String)]) -> Outcome {
    if let Some(status) = run.fault {
        world.faults().fail_all(status);
    }
    let mut command = world.plurum();
    if json {
        command.arg("--json");
    }
    command.args(&run.args);
    for (name, value) in run
        .env
        .iter()
        .map(|(n, v)| (*n, v))
        .chain(extra_env.iter().map(|(n, v)| (*n, v)))
    {
        command.env(name, value);
    }
    if let Some(stdin) = &run.stdin {
        command.write_stdin(stdin.clone());
    }
    let output = command.output().unwrap();
    world.faults().clear();
    Outcome {
        exit: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Asserts the contract for one run; returns the document.
fn check(world: &World, leaf: &str, run: &Run, extra_env: &[(&str, String)]) -> Value {
    let seen = execute(world, run, true, extra_env);
    let context = format!(
        "plurum --json {:?} ({leaf})\nexit {}\nstdout: {}\nstderr: {}",
        run.args, seen.exit, seen.stdout, seen.stderr
    );
    assert_eq!(seen.exit, run.exit, "unexpected exit code\n{context}");
    // serde_json refuses trailing content: this is "exactly one document".
    let document: Value = serde_json::from_str(&seen.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e})\n{context}"));
    assert!(!seen.stderr.contains("SENTINEL"), "the key leaked\n{context}");
    match run.code {
        None => assert!(document.get("error").is_none(), "a success printed an error\n{context}"),
        Some(code) => {
            let error = &document["error"];
            assert_eq!(error["code"], code, "wrong error code\n{context}");
            assert!(
                error["message"].as_str().is_some_and(|m| !m.is_empty()),
                "no message\n{context}"
            );
            assert!(
                error.get("hint").is_some_and(|h| h.is_null() || h.is_string()),
                "no hint member\n{context}"
            );
            if let Some(status) = error.get("status") {
                assert!(status.is_u64(), "status is not a number\n{context}");
            }
            if run.json_only {
                return document;
            }
            // The same run for people: the same exit code, the error on
            // stderr, no JSON.
            let human = execute(world, run, false, extra_env);
            assert_eq!(human.exit, run.exit, "the exit code differs without --json\n{context}");
            assert!(
                !human.stdout.contains("\"error\""),
                "JSON on stdout without --json: {}",
                human.stdout
            );
            assert!(
                human.stderr.contains("error: ") || human.stderr.contains("warning: ") || !human.stdout.is_empty(),
                "nothing says what went wrong without --json\n{context}\nhuman stderr: {}",
                human.stderr
            );
        }
    }
    document
}

/// Every leaf of the command tree, from the help pages.
fn leaves() -> BTreeSet<String> {
    fn walk(path: Vec<String>, out: &mut BTreeSet<String>) {
        let help = Command::new(env!("CARGO_BIN_EXE_plurum"))
            .args(&path)
            .arg("--help")
            .output()
            .unwrap();
        let text = String::from_utf8(help.stdout).unwrap();
        let subcommands: Vec<String> = text
            .lines()
            .skip_while(|line| !line.starts_with("Commands:"))
            .skip(1)
            .take_while(|line| !line.trim().is_empty())
            .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
            .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
            .filter(|name| name != "help")
            .collect();
        if subcommands.is_empty() {
            out.insert(path.join(" "));
        }
        for name in subcommands {
            let mut next = path.clone();
            next.push(name);
            walk(next, out);
        }
    }
    let mut out = BTreeSet::new();
    walk(Vec::new(), &mut out);
    out
}

/// Names captured from earlier documents, substituted for `{name}` in args.
#[derive(Default)]
struct Captured(RefCell<BTreeMap<&'static str, String>>);

impl Captured {
    fn set(&self, name: &'static str, value: impl Into<String>) {
        self.0.borrow_mut().insert(name, value.into());
    }

    fn fill(&self, run: &Run) -> Run {
        let names = self.0.borrow();
        let fill = |text: &str| {
            let mut text = text.to_owned();
            for (name, value) in names.iter() {
                text = text.replace(&format!("{{{name}}}"), value);
            }
            assert!(!text.contains('{') || text.starts_with('{'), "unfilled {text}");
            text
        };
        Run {
            args: run.args.iter().map(|a| fill(a)).collect(),
            env: run.env.clone(),
            stdin: run.stdin.as_deref().map(fill),
            exit: run.exit,
            code: run.code,
            capture: run.capture,
            fault: run.fault,
            json_only: run.json_only,
            doc: run.doc,
        }
    }
}

/// A config dir whose config.toml does not parse: commands that read it fail.
fn broken_config(world: &World) -> Vec<(&'static str, String)> {
    let dir = world.dir.path().join("broken-config");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "this is [not toml").unwrap();
    vec![("PLURUM_CONFIG_DIR", dir.display().to_string())]
}

#[test]
fn every_command_prints_one_json_document_for_success_and_for_failure() {
    let world = World::new();
    world.register("default", "walker");
    world.register("helper", "helper");
    let captured = Captured::default();
    captured.set("key", world.stored_key("default"));
    let helper_session = world.json(&[
        "--profile",
        "helper",
        "session",
        "open",
        "Tune pgbouncer pools",
        "--domain",
        "infrastructure",
    ]);
    captured.set(
        "helper_session",
        helper_session["session"]["short_id"].as_str().unwrap(),
    );
    let helper_experience = world.json(&[
        "--profile",
        "helper",
        "experience",
        "create",
        "--goal",
        "Run pgBouncer in transaction mode",
        "--domain",
        "infrastructure",
        "--gotcha",
        "prepared statements break in transaction mode",
        "--outcome",
        "success",
        "--publish",
    ]);
    captured.set("helper_experience", helper_experience["short_id"].as_str().unwrap());
    let spare = world.json(&["session", "open", "A detour that went nowhere"]);
    captured.set("spare_session", spare["session"]["short_id"].as_str().unwrap());
    // A profile whose state file cannot be read: local commands fail on it.
    std::fs::create_dir_all(world.state_file("corrupt")).unwrap();
    let broken = broken_config(&world);
    // A profile with a queued report the server will reject for good.
    std::fs::create_dir_all(world.state_dir().join("flusher")).unwrap();
    std::fs::write(
        world.state_file("flusher"),
        r#"{"schemaVersion": 2, "pendingOutcomeReports": [{"id": "0f0f0f0f-1111-4222-8333-444455556666",
            "identifier": "deadbeef", "success": true, "attempts": 1}]}"#,
    )
    .unwrap();
    let walker_key = world.stored_key("default");
    let plugin_file = world.dir.path().join("plurum.json");
    std::fs::write(&plugin_file, serde_json::json!({"api_key": walker_key}).to_string()).unwrap();
    captured.set("plugin_file", plugin_file.to_str().unwrap());
    captured.set("man_dir", world.dir.path().join("man").to_str().unwrap());

    // (leaf, runs): the first run of each leaf is its success, unless the
    // leaf refuses --json (completions).
    let table = table(&broken[0].1, &walker_key);
    // The streams and the daemon's own subcommand run below.
    let streams = ["pulse watch", "serve", "daemon status"];

    let mut covered: BTreeSet<String> = BTreeSet::new();
    // (docs/json.md heading, document) of every run, for the doc check.
    let mut documents: Vec<(String, Value)> = Vec::new();
    for (leaf, runs) in &table {
        let mut succeeded = false;
        let mut failed = false;
        for run in runs {
            let run = captured.fill(run);
            let document = check(&world, leaf, &run, &[]);
            if let Some((name, pointer)) = run.capture {
                let value = document
                    .pointer(pointer)
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("{leaf}: no {pointer} in {document}"));
                captured.set(name, value);
            }
            succeeded |= run.code.is_none();
            failed |= run.code.is_some();
            documents.push((run.doc.unwrap_or(leaf).to_owned(), document));
        }
        assert!(failed, "{leaf}: no failure run");
        assert!(
            succeeded || *leaf == "completions" || *leaf == "daemon status",
            "{leaf}: no success run"
        );
        covered.insert((*leaf).to_owned());
    }

    // daemon status succeeds while a daemon runs.
    let daemon = Daemon::start(&world, "helper");
    let status = check(
        &world,
        "daemon status",
        &ok(&["--profile", "helper", "daemon", "status"]),
        &[],
    );
    documents.push(("daemon status".to_owned(), status));
    daemon.stop();
    let unit = check(&world, "daemon", &ok(&["daemon", "--print-systemd"]), &[]);
    documents.push(("daemon --print-systemd".to_owned(), unit));
    // `plurum --version --json`: the build, for bug reports.
    let version = check(&world, "--version", &ok(&["--version"]), &[]);
    documents.push(("--version".to_owned(), version));

    // serve: the first line is a JSON document; a bad address is one error.
    let mut serve = world
        .process()
        .args(["--json", "serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let started: Value = serde_json::from_str(&first).unwrap();
    assert!(started["base_url"].as_str().unwrap().starts_with("http://127.0.0.1:"));
    documents.push(("serve".to_owned(), started));
    serve.kill().unwrap();
    serve.wait().unwrap();
    check(
        &world,
        "serve",
        &fails(&["serve", "--addr", "nowhere"], 2, "usage"),
        &[],
    );

    // pulse watch: JSON Lines, ending with an error line on Ctrl-C.
    let watch = Watch::start(&world, "helper", true);
    world.json(&["session", "open", "Watch me work"]);
    let event: Value = serde_json::from_str(&watch.next_line()).unwrap();
    assert_eq!(event["event_type"], "session_opened");
    let (code, rest, _) = watch.interrupt_all();
    assert_eq!(code, 130);
    for line in &rest {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    let last: Value = serde_json::from_str(rest.last().expect("an error line on Ctrl-C")).unwrap();
    assert_eq!(last["error"]["code"], "interrupted");
    check(
        &world,
        "pulse watch",
        &fails(&["pulse", "watch"], 4, "unauthorized").bad_key(),
        &[],
    );
    covered.extend(streams.iter().map(|s| (*s).to_owned()));

    check_against_the_doc(&documents, &event);

    let all = leaves();
    let missing: Vec<&String> = all.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "commands without a row in the contract table: {missing:?}"
    );
    let stale: Vec<&String> = covered.difference(&all).collect();
    assert!(stale.is_empty(), "rows for commands that no longer exist: {stale:?}");
}

/// Holds every document to docs/json.md: the documented fields are there
/// with their types, every top-level member is documented, every table and
/// every shape field was seen at least once.
fn check_against_the_doc(documents: &[(String, Value)], event: &Value) {
    let doc = JsonDoc::load();
    let mut seen = BTreeSet::new();
    let mut used_tables = BTreeSet::new();
    let mut problems = document_problems(&doc, documents, &mut seen, &mut used_tables);
    if let Err(problem) = doc.check_type(event, "Event", "pulse watch", &mut seen) {
        problems.push(problem);
    }
    for heading in doc.commands.keys().chain(doc.typed.keys()) {
        // What a write prints when it waits in the journal: held to the doc
        // by journal.rs, which checks that it printed every one.
        if heading.ends_with(" (queued)") {
            continue;
        }
        if !used_tables.contains(heading) {
            problems.push(format!(
                "docs/json.md documents `plurum {heading}`, which no run printed"
            ));
        }
    }
    for (shape, fields) in &doc.shapes {
        for field in fields {
            if !seen.contains(&(shape.clone(), field.name.clone())) {
                problems.push(format!("docs/json.md field {shape}.{} was never seen", field.name));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "docs/json.md and the output disagree:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_command_answers_a_usage_error_with_a_json_document() {
    let world = World::new();
    for leaf in leaves() {
        let mut args: Vec<&str> = leaf.split(' ').collect();
        args.push("--no-such-flag");
        let run = fails(&args, 2, "usage");
        let document = check(&world, &leaf, &run, &[]);
        assert!(
            document["error"]["message"]
                .as_str()
                .unwrap()
                .contains("--no-such-flag"),
            "{leaf}: {document}"
        );
    }
}

/// Holds some documents to docs/json.md (their fields and types only, not
/// the coverage of the whole doc): for tests of one area whose documents
/// the contract table does not reach (queued writes, say).
pub(super) fn check_documents(documents: &[(String, Value)]) -> BTreeSet<String> {
    let doc = JsonDoc::load();
    let mut used = BTreeSet::new();
    let problems = document_problems(&doc, documents, &mut BTreeSet::new(), &mut used);
    assert!(
        problems.is_empty(),
        "docs/json.md and the output disagree:\n{}",
        problems.join("\n")
    );
    used
}

/// What in `documents` disagrees with the doc; records the shape fields
/// seen and the tables used.
fn document_problems(
    doc: &JsonDoc,
    documents: &[(String, Value)],
    seen: &mut BTreeSet<(String, String)>,
    used_tables: &mut BTreeSet<String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (heading, document) in documents {
        if let Some(error) = document.get("error") {
            let fields = &doc.shapes["Error"];
            if let Err(problem) = doc.check_fields(error, fields, "error", "Error", seen) {
                problems.push(format!("{heading}: {problem}"));
            }
        }
        if let Some(kind) = doc.typed.get(heading) {
            if document.get("error").is_none() {
                used_tables.insert(heading.clone());
                if let Err(problem) = doc.check_type(document, kind, heading, seen) {
                    problems.push(format!("`plurum {heading}`: {problem}"));
                }
            }
            continue;
        }
        if doc.untabled.contains(heading) {
            used_tables.insert(heading.clone());
            continue; // documented in prose: the body is the server's
        }
        let Some(fields) = doc.commands.get(heading) else {
            if document.get("error").is_none() {
                problems.push(format!("docs/json.md has no table for `plurum {heading}`"));
            }
            continue;
        };
        let documented: BTreeSet<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        for member in document.as_object().map(|m| m.keys()).into_iter().flatten() {
            if member != "error" && !documented.contains(member.as_str()) {
                problems.push(format!(
                    "`plurum {heading}` prints `{member}`, which docs/json.md does not list"
                ));
            }
        }
        if document.get("error").is_some() {
            continue; // a part-way document: not every field is there
        }
        used_tables.insert(heading.clone());
        if let Err(problem) = doc.check_fields(document, fields, heading, heading, seen) {
            problems.push(format!("`plurum {heading}`: {problem}"));
        }
    }
    problems
}
