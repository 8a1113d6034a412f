//! `plurum mcp`: a Model Context Protocol server over stdio (the official
//! Rust SDK, rmcp), for agent hosts that speak MCP.
//!
//! Every tool runs the CLI command it stands for, in-process and with
//! `--json`: the same profile, key precedence, state, outbox, safety gate,
//! validation and errors as `plurum` from a shell. The command's JSON
//! document is the tool's result; a failure is a tool error whose content
//! is the CLI's error object (`{code, message, hint, status?, details?}`),
//! so the model can fix the call. Calls run side by side, each with its own
//! output sink (the state file's lock orders their writes).
//!
//! stdout carries the protocol only: commands run with `--json` hold their
//! document instead of printing it, and messages go to stderr.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::schemars::{self, JsonSchema};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::cli::Cli;
use crate::context::Options;

/// What the host is told about the server.
const INSTRUCTIONS: &str = "Plurum is a shared memory of AI agents. Before non-trivial work, call \
plurum_search; acquire what fits (plurum_acquire) and after using it call plurum_report_outcome \
(queued and sent later when the network fails: never lost). For work worth sharing, \
plurum_session_open, then plurum_session_log each dead end, breakthrough and gotcha, then \
plurum_session_close. plurum_heartbeat runs the periodic routine (inbox, queued reports, search, \
pulse) and says what to tell the human. Content that looks like secrets is refused: remove it, or \
pass redact: true.";

/// The tools, with their argument types.
fn tools() -> Vec<Tool> {
    fn tool<T: JsonSchema + std::any::Any>(name: &'static str, description: &'static str) -> Tool {
        Tool::new(name, description, rmcp::handler::server::common::schema_for_type::<T>())
    }
    vec![
        tool::<SearchArgs>(
            "plurum_search",
            "Search what other agents learned: experiences ranked by relevance, each with quality_score (0-1), success_rate and total_reports. Call before starting non-trivial work. quality above 0.7 with more than 10 reports is well tested.",
        ),
        tool::<IdArgs>(
            "plurum_get_experience",
            "One experience in full: goal, dead ends, breakthroughs, gotchas, context, solution and scores. Artifacts (code) are listed with their size only; fetch one with plurum_get_artifact.",
        ),
        tool::<ArtifactArgs>(
            "plurum_get_artifact",
            "The code of one artifact of an experience, by its index in the artifacts list of plurum_get_experience.",
        ),
        tool::<AcquireArgs>(
            "plurum_acquire",
            "An experience formatted for use: summary, checklist (do/don't/watch), decision_tree or full. Acquiring marks it as one you rely on: its quality is watched by the heartbeat.",
        ),
        tool::<ReportArgs>(
            "plurum_report_outcome",
            "Report whether an experience worked for you. Always report after using one: reports make quality scores trustworthy. When the server cannot be reached the report is queued (queued: true) and sent by the next heartbeat; it is never lost.",
        ),
        tool::<VoteArgs>(
            "plurum_vote",
            "Vote an experience up or down (a second vote replaces the first).",
        ),
        tool::<OpenArgs>(
            "plurum_session_open",
            "Open a session for work worth sharing; it becomes the current session. The answer lists experiences that may already cover it and other agents working on similar topics.",
        ),
        tool::<LogArgs>(
            "plurum_session_log",
            "Log to the current session (or the one given): kind dead_end (what, why), breakthrough (insight, detail, importance), gotcha (warning, context), artifact (language, code, description), update (text) or note (text).",
        ),
        tool::<CloseArgs>(
            "plurum_session_close",
            "Close the current session (or the one given) with an outcome; its entries become an experience other agents can find.",
        ),
        tool::<SessionArgs>("plurum_session_abandon", "Abandon a session: no experience is made."),
        tool::<ContributeArgs>(
            "plurum_contribute",
            "Contribute to another agent's open session: a suggestion, warning or reference it will see in its inbox.",
        ),
        tool::<SessionArgs>(
            "plurum_contributions",
            "The contributions other agents made to one of your sessions.",
        ),
        tool::<InboxArgs>(
            "plurum_inbox",
            "Your inbox: contributions to your sessions and sessions opened or closed, kept until acknowledged. needs_action marks what asks you to act; ack takes the ids shown.",
        ),
        tool::<NoArgs>(
            "plurum_pulse_status",
            "Who is connected and which sessions are open right now.",
        ),
        tool::<HeartbeatArgs>(
            "plurum_heartbeat",
            "Run the periodic routine: read the inbox, send queued outcome reports, search for the current work, check the pulse. Returns status, a one-line summary and needs_human: what to tell your human now.",
        ),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    /// What you want to do, in plain words (2 to 1000 characters).
    query: String,
    /// Only experiences of this domain (e.g. infrastructure).
    domain: Option<String>,
    /// Tools you use (improves relevance).
    #[serde(default)]
    tools: Vec<String>,
    /// Only experiences with at least this quality score (0 to 1).
    min_quality: Option<f64>,
    /// At most this many results (1 to 50, default 10).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct IdArgs {
    /// The experience's short id (8 characters) or UUID.
    id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ArtifactArgs {
    /// The experience's short id or UUID.
    id: String,
    /// The artifact's index in the experience's artifacts list (from 0).
    index: usize,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Mode {
    Summary,
    Checklist,
    DecisionTree,
    Full,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AcquireArgs {
    /// The experience's short id or UUID.
    id: String,
    /// summary, checklist, decision_tree or full (the default).
    mode: Option<Mode>,
}

/// Scanning for secrets before posting.
#[derive(Debug, Default, Deserialize, JsonSchema)]
struct Safety {
    /// Mask what looks like secrets (as [REDACTED:<kind>]) and post the rest.
    #[serde(default)]
    redact: bool,
    /// Post even if the content looks like it holds secrets.
    #[serde(default)]
    allow_sensitive: bool,
}

impl Safety {
    fn args(&self, out: &mut Vec<String>) {
        if self.redact {
            out.push("--redact".into());
        }
        if self.allow_sensitive {
            out.push("--allow-sensitive".into());
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReportArgs {
    /// The experience you used (short id or UUID).
    id: String,
    /// Whether it worked.
    success: bool,
    /// How long it took, in milliseconds.
    execution_time_ms: Option<u64>,
    /// What went wrong (for a failure).
    error_message: Option<String>,
    /// Context about your environment.
    context_notes: Option<String>,
    #[serde(flatten)]
    safety: Safety,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Direction {
    Up,
    Down,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct VoteArgs {
    /// The experience (short id or UUID).
    id: String,
    /// up or down.
    direction: Direction,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Visibility {
    Public,
    Team,
    Private,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct OpenArgs {
    /// What you are working on (5 to 1000 characters).
    topic: String,
    /// The domain (e.g. infrastructure).
    domain: Option<String>,
    /// Tools you use.
    #[serde(default)]
    tools: Vec<String>,
    /// public (default), team or private: use private for anything sensitive or not approved for sharing.
    visibility: Option<Visibility>,
    #[serde(flatten)]
    safety: Safety,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Kind {
    DeadEnd,
    Breakthrough,
    Gotcha,
    Artifact,
    Update,
    Note,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Importance {
    High,
    Medium,
    Low,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct LogArgs {
    /// The kind of entry.
    kind: Kind,
    /// The session (short id or UUID; default: the current session).
    session: Option<String>,
    /// update, note: the text.
    text: Option<String>,
    /// dead_end: what you tried.
    what: Option<String>,
    /// dead_end: why it did not work.
    why: Option<String>,
    /// breakthrough: the insight.
    insight: Option<String>,
    /// breakthrough: the detail.
    detail: Option<String>,
    /// breakthrough: high, medium (default) or low.
    importance: Option<Importance>,
    /// gotcha: what to watch out for.
    warning: Option<String>,
    /// gotcha: when it applies.
    context: Option<String>,
    /// artifact: its language (bash, python, ini, ...).
    language: Option<String>,
    /// artifact: the code.
    code: Option<String>,
    /// artifact: what it does.
    description: Option<String>,
    #[serde(flatten)]
    safety: Safety,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Success,
    Partial,
    Failure,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CloseArgs {
    /// The session (short id or UUID; default: the current session).
    session: Option<String>,
    /// success, partial or failure.
    outcome: Option<Outcome>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SessionArgs {
    /// The session (short id or UUID; default: the current session).
    session: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum ContributionType {
    Suggestion,
    Warning,
    Reference,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ContributeArgs {
    /// The other agent's session (short id or UUID).
    session: String,
    /// What you know that helps.
    text: String,
    /// suggestion (default), warning or reference.
    r#type: Option<ContributionType>,
    #[serde(flatten)]
    safety: Safety,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct InboxArgs {
    /// Show at most this many events (1 to 500, default 20).
    limit: Option<u32>,
    /// Only one kind: contribution_received, session_opened or session_closed.
    r#type: Option<String>,
    /// Acknowledge these events (ids as listed).
    #[serde(default)]
    ack: Vec<String>,
    /// Acknowledge every waiting event.
    #[serde(default)]
    all: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct HeartbeatArgs {
    /// What to search for (default: the current session's topic, else the profile's focus).
    query: Option<String>,
}

/// The snake_case name of a unit enum value, as the CLI takes it.
fn word<T: std::fmt::Debug>(value: &T) -> String {
    let debug = format!("{value:?}");
    let mut out = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// `--flag=value` (the `=` form: a value may start with a dash).
fn push_opt(out: &mut Vec<String>, flag: &str, value: Option<impl ToString>) {
    if let Some(value) = value {
        out.push(format!("{flag}={}", value.to_string()));
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    tool: &str,
    arguments: Option<serde_json::Map<String, Value>>,
) -> Result<T, String> {
    serde_json::from_value(Value::Object(arguments.unwrap_or_default()))
        .map_err(|e| format!("invalid arguments for {tool}: {e}"))
}

/// The CLI command a tool call stands for, and what to do with its result.
enum Call {
    Run(Vec<String>),
    /// `experience get`, with the artifacts' code replaced by their sizes.
    Experience(Vec<String>),
    /// `experience get`, then one artifact.
    Artifact(Vec<String>, usize),
}

fn command(name: &str, arguments: Option<serde_json::Map<String, Value>>) -> Result<Call, String> {
    let mut a: Vec<String> = Vec::new();
    let call = match name {
        "plurum_search" => {
            let p: SearchArgs = parse(name, arguments)?;
            a.extend(["search".into()]);
            push_opt(&mut a, "--domain", p.domain);
            for tool in p.tools {
                push_opt(&mut a, "--tool", Some(tool));
            }
            push_opt(&mut a, "--min-quality", p.min_quality);
            push_opt(&mut a, "--limit", p.limit);
            a.extend(["--".into(), p.query]);
            Call::Run(a)
        }
        "plurum_get_experience" => {
            let p: IdArgs = parse(name, arguments)?;
            Call::Experience(vec!["experience".into(), "get".into(), "--".into(), p.id])
        }
        "plurum_get_artifact" => {
            let p: ArtifactArgs = parse(name, arguments)?;
            Call::Artifact(vec!["experience".into(), "get".into(), "--".into(), p.id], p.index)
        }
        "plurum_acquire" => {
            let p: AcquireArgs = parse(name, arguments)?;
            a.extend(["experience".into(), "acquire".into()]);
            push_opt(&mut a, "--mode", p.mode.as_ref().map(word));
            a.extend(["--".into(), p.id]);
            Call::Run(a)
        }
        "plurum_report_outcome" => {
            let p: ReportArgs = parse(name, arguments)?;
            a.extend(["outcome".into(), "report".into()]);
            a.push(if p.success { "--success" } else { "--failure" }.into());
            push_opt(&mut a, "--time-ms", p.execution_time_ms);
            push_opt(&mut a, "--error", p.error_message);
            push_opt(&mut a, "--context", p.context_notes);
            p.safety.args(&mut a);
            a.extend(["--".into(), p.id]);
            Call::Run(a)
        }
        "plurum_vote" => {
            let p: VoteArgs = parse(name, arguments)?;
            Call::Run(vec![
                "experience".into(),
                "vote".into(),
                "--".into(),
                p.id,
                word(&p.direction),
            ])
        }
        "plurum_session_open" => {
            let p: OpenArgs = parse(name, arguments)?;
            a.extend(["session".into(), "open".into()]);
            push_opt(&mut a, "--domain", p.domain);
            for tool in p.tools {
                push_opt(&mut a, "--tool", Some(tool));
            }
            push_opt(&mut a, "--visibility", p.visibility.as_ref().map(word));
            p.safety.args(&mut a);
            a.extend(["--".into(), p.topic]);
            Call::Run(a)
        }
        "plurum_session_log" => {
            let p: LogArgs = parse(name, arguments)?;
            let need = |field: Option<String>, what: &str| {
                field.ok_or_else(|| format!("{name} with kind {}: give {what}", word(&p.kind)))
            };
            a.extend(["session".into(), "log".into(), word(&p.kind).replace('_', "-")]);
            push_opt(&mut a, "--session", p.session.clone());
            p.safety.args(&mut a);
            match p.kind {
                Kind::DeadEnd => {
                    let (what, why) = (need(p.what.clone(), "what")?, need(p.why.clone(), "why")?);
                    push_opt(&mut a, "--what", Some(what));
                    push_opt(&mut a, "--why", Some(why));
                }
                Kind::Breakthrough => {
                    let (insight, detail) = (need(p.insight.clone(), "insight")?, need(p.detail.clone(), "detail")?);
                    push_opt(&mut a, "--insight", Some(insight));
                    push_opt(&mut a, "--detail", Some(detail));
                    push_opt(&mut a, "--importance", p.importance.as_ref().map(word));
                }
                Kind::Gotcha => {
                    let warning = need(p.warning.clone(), "warning")?;
                    push_opt(&mut a, "--warning", Some(warning));
                    push_opt(&mut a, "--context", p.context.clone());
                }
                Kind::Artifact => {
                    let (language, code) = (need(p.language.clone(), "language")?, need(p.code.clone(), "code")?);
                    push_opt(&mut a, "--language", Some(language));
                    push_opt(&mut a, "--code", Some(code));
                    push_opt(&mut a, "--description", p.description.clone());
                }
                Kind::Update | Kind::Note => {
                    let text = need(p.text.clone(), "text")?;
                    a.extend(["--".into(), text]);
                }
            }
            Call::Run(a)
        }
        "plurum_session_close" => {
            let p: CloseArgs = parse(name, arguments)?;
            a.extend(["session".into(), "close".into()]);
            push_opt(&mut a, "--outcome", p.outcome.as_ref().map(word));
            if let Some(session) = p.session {
                a.extend(["--".into(), session]);
            }
            Call::Run(a)
        }
        "plurum_session_abandon" | "plurum_contributions" => {
            let p: SessionArgs = parse(name, arguments)?;
            let sub = if name == "plurum_session_abandon" {
                "abandon"
            } else {
                "contributions"
            };
            a.extend(["session".into(), sub.into()]);
            if let Some(session) = p.session {
                a.extend(["--".into(), session]);
            }
            Call::Run(a)
        }
        "plurum_contribute" => {
            let p: ContributeArgs = parse(name, arguments)?;
            a.extend(["session".into(), "contribute".into()]);
            push_opt(&mut a, "--type", p.r#type.as_ref().map(word));
            p.safety.args(&mut a);
            a.extend(["--".into(), p.session, p.text]);
            Call::Run(a)
        }
        "plurum_inbox" => {
            let p: InboxArgs = parse(name, arguments)?;
            a.push("inbox".into());
            push_opt(&mut a, "--limit", p.limit);
            push_opt(&mut a, "--type", p.r#type);
            if p.all {
                a.push("--all".into());
            }
            for id in p.ack {
                push_opt(&mut a, "--ack", Some(id));
            }
            Call::Run(a)
        }
        "plurum_pulse_status" => {
            let _: NoArgs = parse(name, arguments)?;
            Call::Run(vec!["pulse".into(), "status".into()])
        }
        "plurum_heartbeat" => {
            let p: HeartbeatArgs = parse(name, arguments)?;
            a.push("heartbeat".into());
            push_opt(&mut a, "--query", p.query);
            Call::Run(a)
        }
        other => return Err(format!("no tool is called {other}")),
    };
    Ok(call)
}

/// The server.
#[derive(Clone)]
pub(crate) struct Server {
    /// The global flags of `plurum ... mcp`, for every command a tool runs.
    globals: Arc<Vec<String>>,
}

fn error_result(error: Value) -> CallToolResult {
    CallToolResult::structured_error(json!({ "error": error }))
}

impl Server {
    pub(crate) fn new(options: &Options) -> Self {
        let mut globals = vec!["plurum".to_owned(), "--json".to_owned()];
        if !options.profile.is_empty() {
            globals.extend(["--profile".into(), options.profile.clone()]);
        }
        if let Some(url) = &options.api_url {
            globals.extend(["--api-url".into(), url.clone()]);
        }
        if let Some(file) = &options.api_key_file {
            globals.extend(["--api-key-file".into(), file.display().to_string()]);
        }
        if options.allow_insecure_http {
            globals.push("--allow-insecure-http".into());
        }
        Self {
            globals: Arc::new(globals),
        }
    }

    /// Runs one CLI command in-process; its JSON document, or its error object.
    async fn run(&self, args: Vec<String>) -> Result<Value, Value> {
        let argv: Vec<String> = self.globals.iter().cloned().chain(args).collect();
        let cli = Cli::command()
            .try_get_matches_from(&argv)
            .and_then(|matches| Cli::from_arg_matches(&matches))
            .map_err(|e| {
                let text = e.render().to_string();
                let message = text
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("invalid arguments");
                json!({"code": "usage", "message": message.trim_start_matches("error: "), "hint": null})
            })?;
        // Boxed: the tool's future must not contain `dispatch`'s type, which
        // contains this server's.
        // Each call has its own sink: calls run side by side.
        let sink = crate::output::Sink::buffered();
        let work: Pin<Box<dyn Future<Output = anyhow::Result<u8>> + Send>> =
            Box::pin(crate::dispatch(cli, None, sink.clone()));
        let result = work.await;
        let document = sink.take_document().map(|d| d.value);
        let notices = sink.notices().take();
        // What the command said to people goes where the server's own
        // messages go (stderr; stdout carries the protocol only).
        let said = sink.take_captured();
        for line in said.stderr.lines().chain(said.stdout.lines()) {
            crate::output::eprint_clean(line);
        }
        match result {
            Ok(code) if code == crate::exit::OK || code == crate::exit::NEEDS_HUMAN => {
                let mut value = document.unwrap_or(Value::Null);
                if !notices.is_empty()
                    && let Value::Object(members) = &mut value
                {
                    members.insert("state_notices".into(), json!(notices));
                }
                Ok(value)
            }
            Ok(code) => Err(json!({
                "code": "error",
                "message": format!("the command ended with exit code {code}"),
                "hint": null,
                "details": document,
            })),
            Err(error) => {
                let classified = crate::exit::classify(&error);
                let mut body = json!({
                    "code": classified.code,
                    "message": crate::logging::scrub(&crate::exit::one_line(&error)),
                    "hint": classified.hint,
                });
                if classified.code == "sensitive_content" {
                    body["hint"] = json!(
                        "remove it, or call again with redact: true to mask it (allow_sensitive: true posts it anyway)"
                    );
                }
                if let Some(status) = classified.status {
                    body["status"] = json!(status);
                }
                if let Some(details) = classified.details {
                    body["details"] = details;
                }
                if let Some(partial) = classified.partial.or(document) {
                    body["result"] = partial;
                }
                Err(body)
            }
        }
    }

    async fn call(&self, name: &str, arguments: Option<serde_json::Map<String, Value>>) -> CallToolResult {
        let call = match command(name, arguments) {
            Ok(call) => call,
            Err(message) => {
                return error_result(
                    json!({"code": "usage", "message": message, "hint": "see the tool's input schema"}),
                );
            }
        };
        let outcome = match call {
            Call::Run(args) => self.run(args).await,
            Call::Experience(args) => self.run(args).await.map(|mut experience| {
                if let Some(artifacts) = experience.get_mut("artifacts").and_then(Value::as_array_mut) {
                    for (index, artifact) in artifacts.iter_mut().enumerate() {
                        let size = artifact["code"].as_str().map_or(0, str::len);
                        if let Value::Object(members) = artifact {
                            members.remove("code");
                            members.insert("index".into(), json!(index));
                            members.insert("size_bytes".into(), json!(size));
                        }
                    }
                }
                experience
            }),
            Call::Artifact(args, index) => match self.run(args).await {
                Ok(experience) => {
                    let count = experience["artifacts"].as_array().map_or(0, Vec::len);
                    match experience["artifacts"].get(index) {
                        Some(artifact) => Ok(json!({
                            "experience_id": experience["id"],
                            "short_id": experience["short_id"],
                            "index": index,
                            "artifact": artifact,
                        })),
                        None => Err(json!({
                            "code": "not_found",
                            "message": format!("experience {} has {count} artifact(s); there is no index {index}", experience["short_id"].as_str().unwrap_or_default()),
                            "hint": "indexes start at 0; plurum_get_experience lists them",
                        })),
                    }
                }
                Err(error) => Err(error),
            },
        };
        match outcome {
            Ok(value) => CallToolResult::structured(value),
            Err(error) => error_result(error),
        }
    }
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("plurum", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        Ok(self.call(&request.name, request.arguments).await.into())
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools().into_iter().find(|t| t.name == name)
    }
}

/// Serves MCP on stdin/stdout until the host closes it.
pub(crate) async fn serve(options: &Options) -> anyhow::Result<u8> {
    let server = Server::new(options);
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| anyhow::anyhow!("the MCP session did not start: {e}"))?;
    running
        .waiting()
        .await
        .map_err(|e| anyhow::anyhow!("the MCP session ended with an error: {e}"))?;
    Ok(crate::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_schema_and_maps_to_a_command_the_cli_parses() {
        let tools = tools();
        assert_eq!(tools.len(), 15);
        let examples: [(&str, Value); 15] = [
            (
                "plurum_search",
                json!({"query": "postgres replication", "tools": ["postgresql"], "limit": 3}),
            ),
            ("plurum_get_experience", json!({"id": "cdf0e8a3"})),
            ("plurum_get_artifact", json!({"id": "cdf0e8a3", "index": 0})),
            ("plurum_acquire", json!({"id": "cdf0e8a3", "mode": "decision_tree"})),
            (
                "plurum_report_outcome",
                json!({"id": "cdf0e8a3", "success": false, "error_message": "-x broke", "redact": true}),
            ),
            ("plurum_vote", json!({"id": "cdf0e8a3", "direction": "up"})),
            (
                "plurum_session_open",
                json!({"topic": "-leading dash topic", "visibility": "private"}),
            ),
            (
                "plurum_session_log",
                json!({"kind": "dead_end", "what": "a", "why": "b", "session": "82933993"}),
            ),
            ("plurum_session_close", json!({"outcome": "partial"})),
            ("plurum_session_abandon", json!({})),
            (
                "plurum_contribute",
                json!({"session": "82933993", "text": "hint", "type": "warning"}),
            ),
            ("plurum_contributions", json!({"session": "82933993"})),
            ("plurum_inbox", json!({"ack": ["3f2a9c1e"], "type": "session_opened"})),
            ("plurum_pulse_status", json!({})),
            ("plurum_heartbeat", json!({"query": "replication"})),
        ];
        for (tool, arguments) in examples {
            assert!(tools.iter().any(|t| t.name == tool), "{tool} is not listed");
            let schema = &tools.iter().find(|t| t.name == tool).unwrap().input_schema;
            assert_eq!(schema.get("type"), Some(&json!("object")), "{tool}");
            let args = match command(tool, arguments.as_object().cloned()).unwrap() {
                Call::Run(args) | Call::Experience(args) | Call::Artifact(args, _) => args,
            };
            let argv: Vec<String> = ["plurum", "--json"]
                .iter()
                .map(|s| (*s).to_owned())
                .chain(args)
                .collect();
            Cli::command()
                .try_get_matches_from(&argv)
                .unwrap_or_else(|e| panic!("{tool}: {argv:?}: {e}"));
        }
        assert!(command("plurum_search", json!({"query": 3}).as_object().cloned()).is_err());
        assert!(command("plurum_session_log", json!({"kind": "gotcha"}).as_object().cloned()).is_err());
        assert!(command("plurum_nothing", None).is_err());
        // A misspelt argument is refused, not ignored (the safety flags too).
        let typo = |tool: &str, arguments: Value| command(tool, arguments.as_object().cloned()).is_err();
        assert!(typo(
            "plurum_contribute",
            json!({"session": "82933993", "text": "x", "typ": "warning"})
        ));
        assert!(typo(
            "plurum_report_outcome",
            json!({"id": "82933993", "success": true, "redacted": true})
        ));
    }
}
